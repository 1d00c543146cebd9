/**
 * Piped GETs against redis-cli, side by side in one run (issue 13's first
 * bar): the same file of N `GET personI` lines (keys uniform over the
 * records, seeded) piped into `kv broker -k 2 --json` over 4 local `kv
 * server` processes holding 1000 records, and into `redis-cli` over one Redis
 * holding the same records as JSON strings. Both are whole-process wall times
 * with stdout read and its lines counted; loading the records is not timed.
 * Needs redis-server and redis-cli on the PATH. A measurement script, not a
 * test:
 *
 * ```sh
 * deno run -A tests/measure/piped_gets.ts [gets] [records]   # default 100000 1000
 * ```
 * @module
 */
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { Sfc32 } from "../../lib/gen/prng.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { pipeIntoRedis, startRedis } from "./redis.ts";
import { makeWorkload, runKvChecked, timeMs, WORKLOAD_SEED } from "./workload.ts";

const DEFAULT_GETS = 100_000;
const DEFAULT_RECORDS = 1_000;
const KV_SERVERS = 4;
const REPLICAS = 2;

/** Runs `command args`, feeding it `inputPath` on stdin; resolves to its stdout's line count. */
async function pipeThrough(command: string, args: string[], inputPath: string): Promise<number> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const input = await Deno.open(inputPath);
  const feeding = input.readable.pipeTo(child.stdin);
  let lineCount = 0;
  for await (const chunk of child.stdout) {
    for (const byte of chunk) if (byte === 10) lineCount++;
  }
  await feeding;
  const status = await child.status;
  if (!status.success) throw new Error(`${command} exited with ${status.code}`);
  return lineCount;
}

const getCount = Number(Deno.args[0] ?? DEFAULT_GETS);
const recordCount = Number(Deno.args[1] ?? DEFAULT_RECORDS);
const workload = await makeWorkload(recordCount);
const getsPath = `${workload.dataPath}.gets`;
const random = new Sfc32(WORKLOAD_SEED);
const lines: string[] = [];
for (let i = 0; i < getCount; i++) lines.push(`GET person${random.nextBelow(recordCount)}\n`);
await Deno.writeTextFile(getsPath, lines.join(""));
try {
  const redis = await startRedis();
  await pipeIntoRedis(redis.port, workload.respPath);
  let redisLines = 0;
  const redisMs = await timeMs(async () => {
    redisLines = await pipeThrough("redis-cli", ["-p", String(redis.port)], getsPath);
  });
  await redis.stop();

  const servers = await Promise.all(
    Array.from({ length: KV_SERVERS }, () => ServerProcess.start({ kv: TEST_KV })),
  );
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(serverFile, servers.map((server) => `${server.id}\n`).join(""));
  // A generous timeout: on a loaded machine a fresh server can be slow enough to be counted down.
  const brokerArgs = ["broker", "-s", serverFile, "-k", String(REPLICAS), "--timeout-ms", "10000"];
  await runKvChecked([...brokerArgs, "-i", workload.dataPath, "--index-only"]);
  let kvLines = 0;
  const kvMs = await timeMs(async () => {
    kvLines = await pipeThrough(
      TEST_KV.command,
      [...TEST_KV.args, ...brokerArgs, "--json"],
      getsPath,
    );
  });
  await Promise.all(servers.map((server) => server.stop()));
  await Deno.remove(serverFile);

  if (redisLines !== getCount || kvLines !== getCount) {
    throw new Error(`expected ${getCount} answers, got ${redisLines} (redis) and ${kvLines} (kv)`);
  }
  console.log(`gets:       ${getCount} over ${recordCount} records (uniform keys, one file)`);
  console.log(`redis-cli:  ${(redisMs / 1000).toFixed(2)} s  (one redis-server)`);
  console.log(
    `kv broker:  ${(kvMs / 1000).toFixed(2)} s  ` +
      `(--json -k ${REPLICAS}, ${KV_SERVERS} kv servers, starting the broker included)`,
  );
  console.log(`redis/kv:   ${(redisMs / kvMs).toFixed(2)}x (kv is this many times redis-cli)`);
  console.log(`load:       ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
} finally {
  await Deno.remove(getsPath);
  await workload.remove();
}
