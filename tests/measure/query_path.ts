/**
 * The query path against Redis, side by side in one run (issue 13's GET
 * bars): GETs of 1000 records of the `kv gen -d 3 -l 8 -m 6` shape from one
 * `kv server`, driven by `kv bench --workload C --distribution uniform`,
 * beside `redis-benchmark` GETs of the same records stored as JSON strings in
 * one redis-server, for three shapes of load: one request at a time, 32 in
 * flight on one connection, and 50 connections. Each pair runs back to back
 * and the table gives both throughputs, their ratio, the kv server's CPU time
 * per GET (user and system, from /proc) and the machine's load.
 * Needs redis-server, redis-cli and redis-benchmark on the PATH. A
 * measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/query_path.ts [scale] [objects|bytes] [free|split|same]
 * ```
 *
 * `scale` multiplies the operation counts (default 1); `objects` (default) or `bytes` is
 * `kv bench --values`: whether its reads make each value's objects, as an application's
 * `kv.get` does, or leave it encoded, as redis-benchmark never parses what it reads.
 * The table also gives `kv bench`'s own CPU per GET (its report's `cpuSeconds`). Each kv
 * row starts with `--warmup` WARMUP_OPERATIONS GETs that are not counted: V8 compiles the
 * client's and the server's read path over the first tens of thousands of GETs, which
 * ran at half the steady speed or less, and a 20 000-GET row measured mostly that;
 * redis-benchmark, compiled ahead, has nothing to warm. The server's CPU per GET is taken
 * over the whole `kv bench` process, so it spreads the server's CPU over the warm-up's
 * GETs and the measured ones together.
 * @module
 */
import { TEST_KV } from "../helpers/server_process.ts";
import { type Pinned, pinnedCommand, pinProcess, placementOf } from "./placement.ts";
import { startKvBesideRedis } from "./redis.ts";
import { BENCH_KEY_PREFIX } from "../../lib/bench/workload.ts";
import { cpuMicros } from "./workload.ts";

const RECORDS = 1000;

/** GETs each kv row runs first, uncounted (`kv bench --warmup`), before its measured ones. */
const WARMUP_OPERATIONS = 30_000;

interface Shape {
  readonly name: string;
  readonly redis: string[];
  readonly kv: string[];
  readonly redisOps: number;
  readonly kvOps: number;
}

const SHAPES: readonly Shape[] = [
  { name: "one at a time", redis: ["-c", "1"], kv: [], redisOps: 20_000, kvOps: 20_000 },
  {
    name: "32 in flight, one connection",
    redis: ["-c", "1", "-P", "32"],
    kv: ["--pipeline", "32"],
    redisOps: 300_000,
    kvOps: 100_000,
  },
  {
    name: "50 connections",
    redis: ["-c", "50"],
    kv: ["--clients", "50"],
    redisOps: 100_000,
    kvOps: 100_000,
  },
];

/** The standard output of `command args`, run on the clients' CPU of `pinned`. */
async function output(command: string, args: string[]): Promise<string> {
  const [program, programArgs] = pinnedCommand(command, args, pinned.client);
  const result = await new Deno.Command(program, {
    args: programArgs,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return text;
}

/** GETs per second from redis-benchmark's CSV line. */
async function redisGets(port: number, shape: Shape, scale: number): Promise<number> {
  const csv = await output("redis-benchmark", [
    ...["-p", String(port), "-n", String(shape.redisOps * scale), "-r", String(RECORDS), "--csv"],
    ...shape.redis,
    ...["GET", `${BENCH_KEY_PREFIX}__rand_int__`],
  ]);
  const row = csv.trim().split("\n").at(-1)!.split(",");
  return Number(JSON.parse(row[1]));
}

/** GETs per second, and its own CPU µs per GET, from `kv bench --json`. */
async function kvGets(
  serverFile: string,
  shape: Shape,
  scale: number,
): Promise<{ rate: number; cpuPerGet: number }> {
  const json = await output(TEST_KV.command, [
    ...TEST_KV.args,
    ...["bench", "-s", serverFile, "--workload", "C", "--distribution", "uniform"],
    ...["-n", String(RECORDS), "--no-load", "--seed", "1", "--json", "--timeout-ms", "10000"],
    ...["--ops", String(shape.kvOps * scale), "--warmup", String(WARMUP_OPERATIONS)],
    ...["--values", values, ...shape.kv],
  ]);
  const report = JSON.parse(json);
  if (report.errors !== 0 || report.notFound !== 0) throw new Error(`kv bench: ${json}`);
  return { rate: report.throughput, cpuPerGet: report.cpuSeconds * 1e6 / report.operations };
}

const scale = Number(Deno.args[0] ?? 1);
const values = Deno.args[1] ?? "objects";
if (values !== "objects" && values !== "bytes") throw new Error(`objects or bytes, not ${values}`);
const pinned: Pinned & { name: string } = placementOf(Deno.args[2] ?? "free");
const sides = await startKvBesideRedis(RECORDS, BENCH_KEY_PREFIX);
const { loaded: { server, serverFile }, redis } = sides;
try {
  await pinProcess(server.pid!, pinned.server);
  await pinProcess(redis.pid, pinned.server);
  console.log(
    `kv bench --values ${values} --warmup ${WARMUP_OPERATIONS}, placement ${pinned.name}`,
  );
  console.log(
    "| load | kv GETs/s | Redis GETs/s | kv/Redis | kv server CPU µs/GET | kv bench CPU µs/GET " +
      "| load (1 min) |",
  );
  console.log(
    "| ---- | --------- | ------------ | -------- | -------------------- | ------------------- " +
      "| ------------ |",
  );
  for (const shape of SHAPES) {
    const redisRate = await redisGets(redis.port, shape, scale);
    const cpuBefore = (await cpuMicros(server.pid!))!;
    const kv = await kvGets(serverFile, shape, scale);
    const gets = shape.kvOps * scale + WARMUP_OPERATIONS;
    const cpuPerGet = ((await cpuMicros(server.pid!))! - cpuBefore) / gets;
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
    console.log(
      `| ${shape.name} | ${Math.round(kv.rate)} | ${Math.round(redisRate)} | ` +
        `${(kv.rate / redisRate).toFixed(2)}x | ${cpuPerGet.toFixed(1)} | ` +
        `${kv.cpuPerGet.toFixed(1)} | ${load} |`,
    );
  }
} finally {
  await sides.stop();
}
