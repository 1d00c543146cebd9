/**
 * Server memory against Redis, side by side in one run (the server issue's bar): one
 * memory-only `kv server` loaded with N records of the `kv gen -d 3 -l 8 -m 6` shape by
 * `kv broker -k 1 --index-only`, against one Redis loaded with the same records as JSON
 * strings by `redis-cli --pipe`. Reports the growth of the kv server's RSS and of Redis's
 * `used_memory` (and, for fairness, Redis's RSS). Needs redis-server and redis-cli on the
 * PATH. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/server_memory.ts [records]   # default 100000
 * ```
 * @module
 */
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { pipeIntoRedis, redisInfo, startRedis } from "./redis.ts";
import { rssBytes } from "../helpers/attacks.ts";
import { makeWorkload, runKvChecked } from "./workload.ts";

const DEFAULT_RECORDS = 100_000;

/** How long to let a process settle (GC, freed pages) before reading its memory. */
const SETTLE_MS = 2_000;

const recordCount = Number(Deno.args[0] ?? DEFAULT_RECORDS);
const workload = await makeWorkload(recordCount);

function perRecord(bytes: number): string {
  return `${(bytes / recordCount).toFixed(0).padStart(5)} B/record`;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

try {
  const redis = await startRedis();
  const redisUsedBefore = await redisInfo(redis.port, "used_memory");
  const redisRssBefore = await rssBytes(redis.pid);
  await pipeIntoRedis(redis.port, workload.respPath);
  await settle();
  const redisUsed = (await redisInfo(redis.port, "used_memory")) - redisUsedBefore;
  const redisRss = (await rssBytes(redis.pid)) - redisRssBefore;
  await redis.stop();

  const server = await ServerProcess.start({ kv: TEST_KV });
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(serverFile, `${server.id}\n`);
  const kvRssBefore = await rssBytes(server.pid!);
  await runKvChecked([
    "broker",
    ...["-s", serverFile, "-i", workload.dataPath, "-k", "1", "--index-only"],
    // A loaded machine can stall a server past the default 1 s; the figure is memory, not speed.
    ...["--timeout-ms", "30000"],
  ]);
  await settle();
  const kvRss = (await rssBytes(server.pid!)) - kvRssBefore;
  await server.stop();
  await Deno.remove(serverFile);

  console.log(`records:              ${recordCount}`);
  console.log(`redis used_memory:    ${perRecord(redisUsed)}  (JSON strings)`);
  console.log(`redis RSS:            ${perRecord(redisRss)}`);
  console.log(`kv server RSS:        ${perRecord(kvRss)}`);
  console.log(`kv RSS / redis used:  ${(kvRss / redisUsed).toFixed(2)}x`);
} finally {
  await workload.remove();
}
