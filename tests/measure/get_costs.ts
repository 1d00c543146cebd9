/**
 * Where a GET's CPU goes (issue 13's "profile first"): one `kv server` holding 1000
 * records of the `kv gen -d 3 -l 8 -m 6` shape and `kv bench --workload C` reading them,
 * for the three loads of the GET bars (one at a time, 32 in flight on one connection, 50
 * connections), each process sampled by `perf record` once warmed up. For each process it
 * prints its CPU per GET and how that splits between the kernel (system calls, the
 * loopback's delivery, wake-ups), Deno's runtime (V8's builtins and garbage collector,
 * deno_core, tokio: the `deno` binary), libc (mostly malloc) and kv's own JavaScript
 * (V8's compiled code, named by `--perf-basic-prof`), and kv's costliest functions.
 *
 * `perf` samples only while a process runs, where V8's `--cpu-prof` samples its thread
 * whether it runs or not: a socket write there counts the time the writer spent preempted
 * by the process it woke, which made `op_write` look like a fifth of the client's CPU.
 * Needs `perf` on the PATH (and permission to use it). A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/get_costs.ts [objects|bytes] [scale]
 * ```
 * @module
 */
import { TEST_KV } from "../helpers/server_process.ts";
import { cpuMicros, makeWorkload, startLoadedServer } from "./workload.ts";
import { BENCH_KEY_PREFIX } from "../../lib/bench/workload.ts";

const RECORDS = 1000;

/** GETs run first and not sampled, so that both processes have compiled their read path. */
const WARMUP_OPERATIONS = 30_000;

/** Samples a second per process: enough for a stable split, little enough to stay out of the way. */
const SAMPLE_HZ = 2999;

/** How long `perf record` may take to start the command it samples, and how often to look. */
const CHILD_DEADLINE_MS = 10_000;
const CHILD_POLL_MS = 10;

/** kv functions listed per process. */
const TOP_FUNCTIONS = 8;

interface Row {
  readonly name: string;
  readonly bench: string[];
  readonly operations: number;
}

const ROWS: readonly Row[] = [
  { name: "one at a time", bench: [], operations: 20_000 },
  { name: "32 in flight, one connection", bench: ["--pipeline", "32"], operations: 200_000 },
  { name: "50 connections", bench: ["--clients", "50"], operations: 100_000 },
];

/** A profile's share per part of the process and per kv function, in percent of its samples. */
interface Split {
  kernel: number;
  runtime: number;
  libc: number;
  javascript: number;
  functions: [string, number][];
}

/** Waits for `child` and answers its stdout; throws unless it succeeded. */
async function stdoutOf(child: Deno.ChildProcess, what: string): Promise<string> {
  const result = await child.output();
  if (!result.success) throw new Error(`${what}: ${new TextDecoder().decode(result.stderr)}`);
  return new TextDecoder().decode(result.stdout);
}

/** Runs `command` to its end and answers its stdout; throws unless it succeeds. */
function run(command: string, args: string[]): Promise<string> {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).spawn();
  return stdoutOf(child, `${command} ${args.join(" ")}`);
}

/** The pid of the first child of process `pid`, once it has one (Linux's /proc). */
async function firstChild(pid: number): Promise<number> {
  const deadline = performance.now() + CHILD_DEADLINE_MS;
  while (performance.now() < deadline) {
    const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    if (children.trim() !== "") return Number(children.trim().split(" ")[0]);
    await new Promise((resolve) => setTimeout(resolve, CHILD_POLL_MS));
  }
  throw new Error(`process ${pid} started no child within ${CHILD_DEADLINE_MS} ms`);
}

/** Removes the symbol map `--perf-basic-prof` made for process `pid`, once read. */
async function removePerfMap(pid: number): Promise<void> {
  await Deno.remove(`/tmp/perf-${pid}.map`).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * This checkout's kv with V8 naming its compiled functions for perf (in
 * /tmp/perf-PID.map): `deno run --v8-flags=--perf-basic-prof …`.
 */
const PROFILED_KV = {
  command: TEST_KV.command,
  args: [TEST_KV.args[0], "--v8-flags=--perf-basic-prof", ...TEST_KV.args.slice(1)],
};

/** The `kv bench` arguments of `row`: `operations` GETs after `warmup` unsampled ones. */
function benchArgs(serverFile: string, row: Row, operations: number, warmup: number): string[] {
  return [
    ...["bench", "-s", serverFile, "--workload", "C", "--distribution", "uniform"],
    ...["-n", String(RECORDS), "--no-load", "--seed", "1", "--json", "--timeout-ms", "10000"],
    ...["--ops", String(operations), "--warmup", String(warmup), "--values", values],
    ...row.bench,
  ];
}

/** Percent of `perf.data`'s samples per shared object and per kv function. */
async function split(dataPath: string): Promise<Split> {
  const report = (sort: string) =>
    run("perf", [
      ...["report", "-i", dataPath, "--stdio", "--no-children", "-g", "none", "--sort", sort],
    ]);
  const rows = (text: string) =>
    text.split("\n").flatMap((line) => {
      const match = /^\s*([\d.]+)%\s+(.*\S)\s*$/.exec(line);
      return match ? [[match[2], Number(match[1])] as [string, number]] : [];
    });
  const result: Split = { kernel: 0, runtime: 0, libc: 0, javascript: 0, functions: [] };
  for (const [object, percent] of rows(await report("dso"))) {
    if (object.startsWith("[kernel")) result.kernel += percent;
    else if (object.startsWith("[JIT]")) result.javascript += percent;
    else if (object.startsWith("libc")) result.libc += percent;
    else result.runtime += percent;
  }
  result.functions = rows(await report("sym"))
    .filter(([symbol]) => symbol.includes("JS:") && symbol.includes("/lib/"))
    .slice(0, TOP_FUNCTIONS)
    .map(([symbol, percent]) => {
      const [, name, path] = /JS:\S?'?(\S+) \S*\/(lib\/\S+?):\d+:\d+/.exec(symbol) ?? [];
      return [name === undefined ? symbol : `${name} (${path})`, percent];
    });
  return result;
}

/** One line per part, with the µs of `cpuPerGet` each stands for. */
function describe(process: string, cpuPerGet: number, profile: Split): string {
  const part = (name: string, percent: number) =>
    `${name} ${percent.toFixed(0)}% (${(cpuPerGet * percent / 100).toFixed(1)} µs)`;
  const functions = profile.functions.map(([name, percent]) => `${name} ${percent.toFixed(1)}%`);
  return [
    `  ${process}: ${cpuPerGet.toFixed(1)} µs of CPU per GET: ` +
    [
      part("kernel", profile.kernel),
      part("Deno runtime", profile.runtime),
      part("libc", profile.libc),
      part("kv's JavaScript", profile.javascript),
    ].join(", "),
    `    kv's costliest functions: ${functions.join(", ")}`,
  ].join("\n");
}

const values = Deno.args[0] ?? "bytes";
if (values !== "objects" && values !== "bytes") throw new Error(`objects or bytes, not ${values}`);
const scale = Number(Deno.args[1] ?? 1);
const workload = await makeWorkload(RECORDS, BENCH_KEY_PREFIX);
const loaded = await startLoadedServer(workload, PROFILED_KV);
const { server, serverFile } = loaded;
const directory = await Deno.makeTempDir({ prefix: "kv-get-costs-" });
try {
  console.log(
    `kv bench --values ${values}; perf at ${SAMPLE_HZ} Hz after ${WARMUP_OPERATIONS} GETs`,
  );
  for (const row of ROWS) {
    const operations = row.operations * scale;
    // The server warms up in a bench of its own; the measured bench warms up again
    // itself, sampled from when its warm-up took this long.
    const startedAt = performance.now();
    await run(TEST_KV.command, [
      ...TEST_KV.args,
      ...benchArgs(serverFile, row, WARMUP_OPERATIONS, 0),
    ]);
    const warmupMs = Math.ceil(performance.now() - startedAt);
    const serverData = `${directory}/server.data`;
    const clientData = `${directory}/client.data`;
    const serverPerf = new Deno.Command("perf", {
      args: ["record", "-F", String(SAMPLE_HZ), "-o", serverData, "-p", String(server.pid)],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const cpuBefore = (await cpuMicros(server.pid!))!;
    const perf = new Deno.Command("perf", {
      args: [
        ...["record", "-F", String(SAMPLE_HZ), "-D", String(warmupMs), "-o", clientData, "--"],
        PROFILED_KV.command,
        ...PROFILED_KV.args,
        ...benchArgs(serverFile, row, operations, WARMUP_OPERATIONS),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const benchPid = await firstChild(perf.pid);
    const json = await stdoutOf(perf, "perf record kv bench");
    const serverCpu = (await cpuMicros(server.pid!))! - cpuBefore;
    serverPerf.kill("SIGINT");
    await serverPerf.status;
    const report = JSON.parse(json);
    const gets = operations + WARMUP_OPERATIONS;
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
    console.log(`${row.name}: ${Math.round(report.throughput)} GETs/s, load ${load}`);
    console.log(describe("server", serverCpu / gets, await split(serverData)));
    console.log(
      describe("kv bench", report.cpuSeconds * 1e6 / report.operations, await split(clientData)),
    );
    await removePerfMap(benchPid);
  }
} finally {
  const pid = loaded.server.pid;
  await loaded.stop();
  if (pid !== undefined) await removePerfMap(pid);
  await workload.remove();
  await Deno.remove(directory, { recursive: true });
}
