/**
 * Indexing speed against Redis, side by side in one run (the broker issue's
 * bar): `kv broker -k 2 --index-only` loading N records of the `kv gen -d 3
 * -l 8 -m 6` shape into 4 local `kv server` processes, against two Redis
 * instances each loaded with the same records as JSON strings by its own
 * `redis-cli --pipe`, both pipes running at once. Both are whole-process wall
 * times; building the RESP file for Redis is not timed. Needs redis-server and
 * redis-cli on the PATH. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/index_speed.ts [records]   # default 100000
 * ```
 * @module
 */
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { pipeIntoRedis, startRedis } from "./redis.ts";
import { makeWorkload, runKvChecked, timeMs } from "./workload.ts";

const DEFAULT_RECORDS = 100_000;
const KV_SERVERS = 4;
const REPLICAS = 2;

const recordCount = Number(Deno.args[0] ?? DEFAULT_RECORDS);
const workload = await makeWorkload(recordCount);
try {
  const redisInstances = await Promise.all(Array.from({ length: REPLICAS }, () => startRedis()));
  const redisMs = await timeMs(() =>
    Promise.all(redisInstances.map((redis) => pipeIntoRedis(redis.port, workload.respPath)))
  );
  await Promise.all(redisInstances.map((redis) => redis.stop()));

  const servers = await Promise.all(
    Array.from({ length: KV_SERVERS }, () => ServerProcess.start({ kv: TEST_KV })),
  );
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(serverFile, servers.map((server) => `${server.id}\n`).join(""));
  const kvMs = await timeMs(() =>
    runKvChecked([
      "broker",
      ...["-s", serverFile, "-i", workload.dataPath, "-k", String(REPLICAS), "--index-only"],
    ])
  );
  await Promise.all(servers.map((server) => server.stop()));
  await Deno.remove(serverFile);

  const megabytes = (workload.dataBytes / 1e6).toFixed(1);
  console.log(`records:   ${recordCount} (${megabytes} MB in kv gen's dialect)`);
  console.log(
    `redis:     ${(redisMs / 1000).toFixed(2)} s  ` +
      `(${REPLICAS} instances, redis-cli --pipe each, JSON strings)`,
  );
  console.log(
    `kv:        ${(kvMs / 1000).toFixed(2)} s  ` +
      `(kv broker -k ${REPLICAS} --index-only, ${KV_SERVERS} kv servers)`,
  );
  console.log(`kv/redis:  ${(kvMs / redisMs).toFixed(2)}x`);
} finally {
  await workload.remove();
}
