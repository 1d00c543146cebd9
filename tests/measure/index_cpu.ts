/**
 * The broker's CPU per indexing run, this checkout against others, alternating in one
 * process: N records of the `kv gen -d 3 -l 8 -m 6` shape indexed with k=2 into 4 local
 * `kv server` processes (this checkout's), by each checkout's own `indexFile` and
 * `Broker` in turn, round after round, each round in the other order than the last. It
 * prints each run's CPU time (user and system, of this process: the servers are other
 * processes) and wall time, then each checkout's median and least. CPU time, not the
 * wall, is the figure for a machine other work shares: load stretches the wall far more
 * than the CPU a run takes. In one process the code is warm: no start-up, and a first
 * round of each, not counted, leaves it compiled.
 * A measurement script, not a test:
 *
 * ```sh
 * mkdir /tmp/kv-base && git archive main | tar -x -C /tmp/kv-base   # or any commit to compare
 * deno run -A tests/measure/index_cpu.ts [records] [rounds] /tmp/kv-base   # default 100000, 8
 * ```
 * @module
 */
import process from "node:process";
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { makeWorkload } from "./workload.ts";

const DEFAULT_RECORDS = 100_000;
const DEFAULT_ROUNDS = 8;
const KV_SERVERS = 4;
const REPLICAS = 2;

/** Generous: a shared machine's load can hold an answer past the broker's default second. */
const REQUEST_TIMEOUT_MS = 10_000;

const SILENT_PROGRESS = { update() {}, finish() {} };

/** One checkout's broker and indexer, loaded from its own files. */
interface Side {
  readonly name: string;
  readonly index: (path: string) => Promise<{ indexedCount: number }>;
  readonly close: () => void;
  readonly cpuMs: number[];
  readonly wallMs: number[];
}

/** Opens a broker of the checkout at `root` (a file URL ending in `/`) on `serverFile`. */
async function openSide(root: URL, serverFile: string): Promise<Side> {
  const { Broker } = await import(new URL("lib/broker/broker.ts", root).href);
  const { readServerList } = await import(new URL("lib/broker/server_list.ts", root).href);
  const { indexFile } = await import(new URL("lib/broker/indexer.ts", root).href);
  const broker = await Broker.open(await readServerList(serverFile), {
    k: REPLICAS,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  return {
    name: root.pathname,
    index: (path) => indexFile(broker, path, { progress: SILENT_PROGRESS }),
    close: () => broker.close(),
    cpuMs: [],
    wallMs: [],
  };
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

const recordCount = Number(Deno.args[0] ?? DEFAULT_RECORDS);
const rounds = Number(Deno.args[1] ?? DEFAULT_ROUNDS);
const roots = [
  new URL("../../", import.meta.url),
  ...Deno.args.slice(2).map((path) => new URL(`file://${Deno.realPathSync(path)}/`)),
];
const workload = await makeWorkload(recordCount);
const servers = await Promise.all(
  Array.from({ length: KV_SERVERS }, () => ServerProcess.start({ kv: TEST_KV })),
);
const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
const sides: Side[] = [];
try {
  await Deno.writeTextFile(serverFile, servers.map((server) => `${server.id}\n`).join(""));
  for (const root of roots) sides.push(await openSide(root, serverFile));
  // Round 0 warms up.
  for (let round = 0; round <= rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      const summary = await side.index(workload.dataPath);
      const wallMs = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      if (summary.indexedCount !== recordCount) {
        throw new Error(`${side.name} indexed ${summary.indexedCount} of ${recordCount}`);
      }
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (round > 0) {
        side.cpuMs.push(cpuMs);
        side.wallMs.push(wallMs);
      }
      console.log(
        `round ${round} ${side.name}: ${cpuMs.toFixed(0)} ms CPU, ` +
          `${wallMs.toFixed(0)} ms wall, load ${Deno.loadavg()[0].toFixed(1)}`,
      );
    }
  }
  for (const side of sides) {
    console.log(
      `${side.name}: CPU median ${median(side.cpuMs).toFixed(0)} ms, least ` +
        `${Math.min(...side.cpuMs).toFixed(0)}; wall median ${median(side.wallMs).toFixed(0)} ms`,
    );
  }
} finally {
  for (const side of sides) side.close();
  await Promise.all(servers.map((server) => server.stop()));
  await Deno.remove(serverFile);
  await workload.remove();
}
