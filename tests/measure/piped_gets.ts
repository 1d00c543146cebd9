/**
 * Piped GETs against redis-cli, side by side in one run (issue 13's first
 * bar): the same file of N `GET personI` lines (keys uniform over the
 * records, seeded) piped into `kv broker -k 2 --json` over 4 local `kv
 * server` processes holding 1000 records, and into `redis-cli` over one Redis
 * holding the same records as JSON strings. Both are whole-process wall times
 * with stdout read and its lines counted; loading the records is not timed.
 * Before the measured runs each side answers WARMUP_GETS piped GETs uncounted, through
 * a process of its own: kv servers are long-running, and V8 compiles their read path
 * over the first tens of thousands of GETs, which on fresh servers cost about half as
 * much server CPU again as the measured GETs, all of it on the two cores the broker
 * shares; redis-server, compiled ahead, has nothing to warm but gets the same run. The
 * measured broker is a fresh process, as every piped run's is.
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
import { cpuMicros, makeWorkload, runKvChecked, timeMs, WORKLOAD_SEED } from "./workload.ts";

const DEFAULT_GETS = 100_000;
const DEFAULT_RECORDS = 1_000;
/** Piped GETs each side answers first, uncounted, from a process of its own (see above). */
const WARMUP_GETS = 30_000;
const KV_SERVERS = 4;
const REPLICAS = 2;
const NEWLINE = 0x0a;

/** What one piped run gave: its stdout's line count and its own CPU time. */
interface PipedRun {
  readonly lines: number;
  /** µs of CPU (user and system), as bash's `time` reports it. */
  readonly cpuMicros: number;
}

/** How bash's `time` prints, so that the last line of stderr is the command's CPU time. */
const TIME_FORMAT = "cpu %U %S";

/**
 * Runs `command args` under bash's `time`, feeding it `inputPath` on stdin, and counts its
 * stdout's lines. Its other stderr lines are passed on.
 */
async function pipeThrough(command: string, args: string[], inputPath: string): Promise<PipedRun> {
  const child = new Deno.Command("bash", {
    args: ["-c", `TIMEFORMAT='${TIME_FORMAT}'; time "$@"`, "bash", command, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const input = await Deno.open(inputPath);
  const feeding = input.readable.pipeTo(child.stdin);
  const stderr = new Response(child.stderr).text();
  let lines = 0;
  // indexOf is a native scan: a byte-by-byte loop here cost this process 0.2 CPU-s over kv's 46 MB
  // of answers (18 ms with indexOf), taken from the two cores the measured processes share.
  for await (const chunk of child.stdout) {
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) lines++;
  }
  await feeding;
  const status = await child.status;
  const errors = (await stderr).trimEnd().split("\n");
  const times = /^cpu ([\d.]+) ([\d.]+)$/.exec(errors.pop() ?? "");
  if (errors.length > 0) console.error(errors.join("\n"));
  if (!status.success || times === null) throw new Error(`${command} exited with ${status.code}`);
  return { lines, cpuMicros: (Number(times[1]) + Number(times[2])) * 1_000_000 };
}

/** `1.23 s`. */
function seconds(micros: number): string {
  return `${(micros / 1_000_000).toFixed(2)} s`;
}

const getCount = Number(Deno.args[0] ?? DEFAULT_GETS);
const recordCount = Number(Deno.args[1] ?? DEFAULT_RECORDS);
/** The machine's load averages, as `uptime` gives them. */
async function loadAverages(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

// Read before and after: other work on the machine moves both sides' times (see the README).
const loadBefore = await loadAverages();
const workload = await makeWorkload(recordCount);
const getsPath = `${workload.dataPath}.gets`;
const random = new Sfc32(WORKLOAD_SEED);
const lines: string[] = [];
for (let i = 0; i < getCount; i++) lines.push(`GET person${random.nextBelow(recordCount)}\n`);
await Deno.writeTextFile(getsPath, lines.join(""));
const warmupPath = `${workload.dataPath}.warmup`;
await Deno.writeTextFile(warmupPath, lines.slice(0, WARMUP_GETS).join(""));
try {
  const redis = await startRedis();
  await pipeIntoRedis(redis.port, workload.respPath);
  await pipeThrough("redis-cli", ["-p", String(redis.port)], warmupPath);
  // Over the measured run only, as the kv servers' is: not the load's or the warm-up's.
  const redisServerBefore = (await cpuMicros(redis.pid))!;
  let redisRun: PipedRun | undefined;
  const redisMs = await timeMs(async () => {
    redisRun = await pipeThrough("redis-cli", ["-p", String(redis.port)], getsPath);
  });
  const redisServerMicros = (await cpuMicros(redis.pid))! - redisServerBefore;
  await redis.stop();

  const servers = await Promise.all(
    Array.from({ length: KV_SERVERS }, () => ServerProcess.start({ kv: TEST_KV })),
  );
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(serverFile, servers.map((server) => `${server.id}\n`).join(""));
  // A generous timeout: on a loaded machine a fresh server can be slow enough to be counted down.
  const brokerArgs = ["broker", "-s", serverFile, "-k", String(REPLICAS), "--timeout-ms", "10000"];
  await runKvChecked([...brokerArgs, "-i", workload.dataPath, "--index-only"]);
  const kvArgs = [...TEST_KV.args, ...brokerArgs, "--json"];
  await pipeThrough(TEST_KV.command, kvArgs, warmupPath);
  const serversMicros = async () => {
    const each = await Promise.all(servers.map((server) => cpuMicros(server.pid!)));
    return each.reduce((sum: number, micros) => sum + micros!, 0);
  };
  const serversBefore = await serversMicros();
  let kvRun: PipedRun | undefined;
  const kvMs = await timeMs(async () => {
    kvRun = await pipeThrough(TEST_KV.command, kvArgs, getsPath);
  });
  const kvServersMicros = await serversMicros() - serversBefore;
  await Promise.all(servers.map((server) => server.stop()));
  await Deno.remove(serverFile);

  if (redisRun?.lines !== getCount || kvRun?.lines !== getCount) {
    throw new Error(
      `expected ${getCount} answers, got ${redisRun?.lines} (redis) and ${kvRun?.lines} (kv)`,
    );
  }
  console.log(
    `gets:       ${getCount} over ${recordCount} records (uniform keys, one file), after ` +
      `${Math.min(WARMUP_GETS, getCount)} uncounted warm-up GETs on each side`,
  );
  console.log(
    `redis-cli:  ${(redisMs / 1000).toFixed(2)} s  (one redis-server; CPU: redis-cli ` +
      `${seconds(redisRun.cpuMicros)}, redis-server ${seconds(redisServerMicros)})`,
  );
  console.log(
    `kv broker:  ${(kvMs / 1000).toFixed(2)} s  ` +
      `(--json -k ${REPLICAS}, ${KV_SERVERS} kv servers, starting the broker included; CPU: ` +
      `broker ${seconds(kvRun.cpuMicros)}, servers ${seconds(kvServersMicros)})`,
  );
  console.log(`redis/kv:   ${(redisMs / kvMs).toFixed(2)}x (kv is this many times redis-cli)`);
  console.log(`load:       ${loadBefore} before, ${await loadAverages()} after (1, 5, 15 min)`);
} finally {
  await Deno.remove(getsPath);
  await Deno.remove(warmupPath);
  await workload.remove();
}
