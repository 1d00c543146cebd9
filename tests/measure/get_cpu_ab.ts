/**
 * CPU per GET of two versions of kv, in alternating rounds (issue 13's GET bars, measured
 * while the machine is shared): each round starts, for each version in turn (the order
 * flipped every round), a `kv server` of that version holding `records` records of the
 * `kv gen -d 3 -l 8 -m 6` shape (under kv gen's keys and `kv bench`'s, so that versions from
 * before and after 624bf37 both read them), warms it with WARMUP_OPERATIONS GETs from a `kv bench`
 * of its own, then runs that version's `kv bench --workload C --distribution uniform
 * --values bytes` for one row of the GET bars, and gives the server's CPU per GET (user
 * and system from /proc, over the measured bench's warm-up and operations together) and
 * `kv bench`'s own (its report's `cpuSeconds`, the measured operations only). CPU time,
 * unlike throughput, hardly moves with what else the machine runs, so two versions can be
 * compared on a loaded machine; alternating spreads the rest of the noise over both.
 *
 * A version is a git commit of this repository (checked out with `git archive` into a
 * temporary directory) or `.`, this checkout. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/get_cpu_ab.ts BEFORE AFTER [p32|one|c50] [rounds] [operations] [records]
 * deno run -A tests/measure/get_cpu_ab.ts main . p32 4 200000
 * ```
 *
 * `records` (default 1000) is how many records the server holds and the bench reads: more
 * than the server's answer cache holds (about 3 000 of this shape) measures GETs it misses.
 * @module
 */
import { denoRunArgs, type KvInvocation, ServerProcess } from "../../lib/cli/server_process.ts";
import { BENCH_KEY_PREFIX } from "../../lib/bench/workload.ts";
import { cpuMicros, makeWorkload, runKvChecked } from "./workload.ts";

const DEFAULT_RECORDS = 1000;

/** GETs each bench runs first, uncounted, and the server's warm-up bench runs alone. */
const WARMUP_OPERATIONS = 30_000;

/** `kv bench`'s flags for each row of the GET bars. */
const ROWS: Record<string, string[]> = {
  p32: ["--pipeline", "32"],
  one: [],
  c50: ["--clients", "50"],
};

/** What kv bench and the broker that loads the records need. */
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-run"];

interface Version {
  readonly name: string;
  readonly kv: KvInvocation;
  /** The version's own ServerProcess: each version reads its own server's listening line. */
  readonly serverProcess: typeof ServerProcess;
  readonly server: number[];
  readonly bench: number[];
}

/** `.` as this checkout; anything else as a commit, archived into `directory`. */
async function checkout(ref: string, directory: string): Promise<string> {
  const root = new URL("../../", import.meta.url).pathname;
  if (ref === ".") return `${root}main.ts`;
  const target = `${directory}/${ref.replaceAll("/", "_")}`;
  await Deno.mkdir(target);
  const archive = await new Deno.Command("sh", {
    args: ["-c", `git -C '${root}' archive '${ref}' | tar -x -C '${target}'`],
    stderr: "piped",
  }).output();
  if (!archive.success) throw new Error(new TextDecoder().decode(archive.stderr));
  return `${target}/main.ts`;
}

/** `kv bench` of `kv` against `serverFile`: its report. */
async function bench(
  kv: KvInvocation,
  serverFile: string,
  row: string[],
  operations: number,
  warmup: number,
): Promise<{ cpuSeconds: number; operations: number; throughput: number; notFound: number }> {
  const output = await new Deno.Command(kv.command, {
    args: [
      ...kv.args,
      ...["bench", "-s", serverFile, "--workload", "C", "--distribution", "uniform"],
      ...["-n", String(records), "--no-load", "--seed", "1", "--json", "--timeout-ms", "10000"],
      ...["--ops", String(operations), "--warmup", String(warmup), "--values", "bytes", ...row],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`kv bench: ${new TextDecoder().decode(output.stderr)}`);
  const report = JSON.parse(new TextDecoder().decode(output.stdout));
  // A NOT FOUND is a cheaper GET than the bars are about: the server holds no such key.
  if (report.notFound !== 0) throw new Error(`kv bench found no record ${report.notFound} times`);
  return report;
}

/** One measurement of `version`: a fresh server, loaded and warmed, and one bench. */
async function measure(
  version: Version,
  dataPaths: readonly string[],
  row: string[],
  operations: number,
) {
  const server = await version.serverProcess.start({ kv: version.kv });
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(serverFile, `${server.id}\n`);
    for (const dataPath of dataPaths) {
      await runKvChecked([
        ...["broker", "-s", serverFile, "-k", "1", "-i", dataPath, "--index-only"],
        ...["--timeout-ms", "10000"],
      ], version.kv); // its own broker: the two may speak different protocol versions
    }
    await bench(version.kv, serverFile, row, WARMUP_OPERATIONS, 0);
    const before = (await cpuMicros(server.pid!))!;
    const report = await bench(version.kv, serverFile, row, operations, WARMUP_OPERATIONS);
    const server_ = ((await cpuMicros(server.pid!))! - before) / (operations + WARMUP_OPERATIONS);
    const bench_ = report.cpuSeconds * 1e6 / report.operations;
    version.server.push(server_);
    version.bench.push(bench_);
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
    console.log(
      `${version.name}: server ${server_.toFixed(2)} µs/GET, kv bench ${bench_.toFixed(2)} ` +
        `µs/GET (${Math.round(report.throughput)} GETs/s, load ${load})`,
    );
  } finally {
    await server.stop();
    await Deno.remove(serverFile);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

const [
  before,
  after,
  rowName = "p32",
  rounds = "4",
  operations = "200000",
  recordsArg = String(DEFAULT_RECORDS),
] = Deno.args;
const records = Number(recordsArg);
if (before === undefined || after === undefined || ROWS[rowName] === undefined) {
  throw new Error(
    "usage: get_cpu_ab.ts BEFORE AFTER [p32|one|c50] [rounds] [operations] [records]",
  );
}
const directory = await Deno.makeTempDir({ prefix: "kv-get-cpu-ab-" });
// Both key namespaces: `kv bench --no-load` reads bench-person<i> since 624bf37, and
// person<i> before, and either version may be older.
const workloads = [await makeWorkload(records), await makeWorkload(records, BENCH_KEY_PREFIX)];
const dataPaths = workloads.map((workload) => workload.dataPath);
try {
  const versions: Version[] = [];
  for (const ref of [before, after]) {
    const main = await checkout(ref, directory);
    const kv = { command: Deno.execPath(), args: denoRunArgs(main, PERMISSIONS) };
    // Its listening line changed at stop 27 (`kv server: listening on`), so an older server is
    // started by the older helper that reads it.
    const module = new URL("lib/cli/server_process.ts", `file://${main}`).href;
    const { ServerProcess: serverProcess } = await import(module);
    versions.push({ name: ref, kv, serverProcess, server: [], bench: [] });
  }
  for (let round = 0; round < Number(rounds); round++) {
    for (const version of round % 2 === 0 ? versions : [...versions].reverse()) {
      await measure(version, dataPaths, ROWS[rowName], Number(operations));
    }
  }
  for (const version of versions) {
    console.log(
      `${version.name} medians: server ${median(version.server).toFixed(2)} µs/GET, ` +
        `kv bench ${median(version.bench).toFixed(2)} µs/GET`,
    );
  }
} finally {
  for (const workload of workloads) await workload.remove();
  await Deno.remove(directory, { recursive: true });
}
