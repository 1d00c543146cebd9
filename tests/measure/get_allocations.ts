/**
 * Where the client's JavaScript heap goes per GET (issue 13's GET path): one `kv server`
 * holding 1000 records of the `kv gen -d 3 -l 8 -m 6` shape, read in this process by
 * `kv bench`'s engine (`runBench`, `--workload C --distribution uniform --values bytes`)
 * one at a time, 32 in flight on one connection, and over 50 connections, each after a
 * warm-up, under V8's sampling heap profiler (through `node:inspector`). For each load
 * it prints the bytes allocated per GET in all and by the function that allocated them
 * (after V8's inlining, so a function's figure includes what it inlined; `subarray`
 * counts every `Uint8Array` view made). Every byte allocated is a byte V8's young
 * generation must later sweep. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/get_allocations.ts [gets]   # default 100000 per load
 * ```
 * @module
 */
import { Session } from "node:inspector";
import { type BenchOptions, runBench } from "../../lib/bench/runner.ts";
import { makeWorkload, startLoadedServer } from "./workload.ts";
import { BENCH_KEY_PREFIX } from "../../lib/bench/workload.ts";

const RECORDS = 1000;
const DEFAULT_GETS = 100_000;

/** GETs run before sampling, so that V8 has compiled the read path as it runs warm. */
const WARMUP_OPERATIONS = 30_000;

/** Bytes between two samples: small enough that a few hundred bytes a GET are seen often. */
const SAMPLING_INTERVAL_BYTES = 256;

/** Each request's timeout, as tests/measure/query_path.ts gives kv bench. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Functions listed per load. */
const TOP_FUNCTIONS = 12;

const LOADS: readonly { name: string; options: Partial<BenchOptions> }[] = [
  { name: "one at a time", options: {} },
  { name: "32 in flight, one connection", options: { pipeline: 32 } },
  { name: "50 connections", options: { clients: 50 } },
];

/** One node of a sampling heap profile (the DevTools protocol's SamplingHeapProfileNode). */
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Sends `method` to the inspector and resolves with its result. */
function post<T>(session: Session, method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => error ? reject(error) : resolve(result as T))
  );
}

/** Bytes allocated per function (name, file and line) in `node` and below. */
function bytesByFunction(node: ProfileNode, into = new Map<string, number>()): Map<string, number> {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || "(anonymous)"} ${url.split("/").at(-1)}:${lineNumber + 1}`;
  into.set(name, (into.get(name) ?? 0) + node.selfSize);
  for (const child of node.children) bytesByFunction(child, into);
  return into;
}

const gets = Number(Deno.args[0] ?? DEFAULT_GETS);
const workload = await makeWorkload(RECORDS, BENCH_KEY_PREFIX);
const loaded = await startLoadedServer(workload);
const session = new Session();
session.connect();
try {
  await post(session, "HeapProfiler.enable");
  for (const { name, options } of LOADS) {
    const bench = (operations: number) =>
      runBench({
        servers: [{ hostname: "127.0.0.1", port: loaded.server.port }],
        replicas: 1,
        workload: "C",
        distribution: "uniform",
        records: RECORDS,
        values: "bytes",
        noLoad: true,
        // Generous: the profiler slows fifty clients past the default second.
        timeoutMs: REQUEST_TIMEOUT_MS,
        operations,
        ...options,
      });
    await bench(WARMUP_OPERATIONS);
    await post(session, "HeapProfiler.startSampling", {
      samplingInterval: SAMPLING_INTERVAL_BYTES,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const report = await bench(gets);
    const { profile } = await post<{ profile: { head: ProfileNode } }>(
      session,
      "HeapProfiler.stopSampling",
    );
    if (report.errors !== 0 || report.notFound !== 0) {
      throw new Error(`kv bench failed ${report.errors} GETs, found no record ${report.notFound}`);
    }
    const byFunction = [...bytesByFunction(profile.head)].sort((a, b) => b[1] - a[1]);
    const total = byFunction.reduce((sum, [, bytes]) => sum + bytes, 0);
    console.log(`${name}: ${(total / gets).toFixed(0)} bytes of JavaScript heap per GET`);
    for (const [where, bytes] of byFunction.slice(0, TOP_FUNCTIONS)) {
      console.log(`  ${(bytes / gets).toFixed(0).padStart(5)} ${where}`);
    }
  }
} finally {
  session.disconnect();
  await loaded.stop();
  await workload.remove();
}
