/**
 * Where the test suite's CPU goes (issue 8's 40 s bar; README, Tests). Two modes:
 *
 * ```sh
 * deno run -A tests/measure/test_files.ts [FILE…]   # each test file alone, one after another
 * deno run -A tests/measure/test_files.ts --suite   # the whole suite once, as deno task test runs it
 * ```
 *
 * Per file (default: every `*_test.ts` under tests/), `deno test --no-check -A FILE` runs alone
 * and the table gives its wall time, its CPU (user + system, the `kv` processes it starts included)
 * and its minor page faults, heaviest first, with the totals and the machine's load before and
 * after. The CPU is the growth of this process's children's counters in `/proc/self/stat`
 * (`cutime`, `cstime`, `cminflt`): a child's are added there once it is waited for, and `deno
 * test` waits for the processes its tests start — a tmux server, which detaches, is not counted.
 *
 * `--tests [FILE…]` runs `deno test --no-check -A` once over FILE… (default: the parts of
 * tests/suite/, one after another, so each part's isolate is paid once as in the suite;
 * `--tests --each`: every test file, each in an isolate of its own) and gives every test's CPU —
 * the `deno test` process's own and its waited-for children's, from its `/proc/PID/stat` read as
 * each test's result line arrives, so a test's share includes any wait for its children to exit —
 * and wall, heaviest first, each under its file: the file `deno test` says it is running, or,
 * within a part, the file that calls `Deno.test` (from a `--junit-path` report; the terminal and
 * full-disk tests are declared in tests/helpers/). Then each file's sums, as the lines of
 * tests/suite/parts.ts's `SECONDS_IN_SUITE` (its wall, one test after another: run `--each` on a
 * quiet machine to refresh them).
 *
 * `--suite` runs `deno test --parallel --no-check -A` over the parts of tests/suite/, as `deno task
 * test` does, once (`DENO_JOBS` passes through, `PARTS_AT_ONCE` by default as in the task), gives
 * when each part's first and last result came (the parts' timeline: which ended last), and
 * splits its CPU in two by sampling the `deno test` process's own `/proc/PID/stat` until it
 * exits: the process itself (each part's isolate: setup, in-process tests, the client side of
 * end-to-end tests) and its children (the `kv` processes, tmux, openssl, ip). A measurement
 * script, not a test: on a machine shared with other work, compare CPU, not wall, between runs
 * made close together.
 * @module
 */

import { PART_COUNT, PARTS_AT_ONCE, TEST_V8_FLAGS } from "../suite/parts.ts";

const TESTS_DIR = new URL("..", import.meta.url).pathname;
const REPO = new URL("../..", import.meta.url).pathname;
/** `sysconf(_SC_CLK_TCK)` on Linux: the unit of the times in `/proc/.../stat`. */
const CLOCK_TICKS_PER_SECOND = 100;
/** How often `--suite` samples the `deno test` process's counters, in ms. */
const SAMPLE_INTERVAL_MS = 200;

/** CPU seconds and minor page faults, of a process itself or of its waited-for children. */
interface Usage {
  readonly user: number;
  readonly system: number;
  readonly faults: number;
}

/** A process's own counters and its waited-for children's, from `/proc/<pid>/stat`. */
function readStat(pid: number | "self"): { self: Usage; children: Usage } | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // After the command name: minflt is field 10 of stat, cminflt 11, utime 14, stime 15,
  // cutime 16, cstime 17 — indexes 7, 8, 11, 12, 13 and 14 here.
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ").map(Number);
  const seconds = (ticks: number) => ticks / CLOCK_TICKS_PER_SECOND;
  return {
    self: { user: seconds(fields[11]), system: seconds(fields[12]), faults: fields[7] },
    children: { user: seconds(fields[13]), system: seconds(fields[14]), faults: fields[8] },
  };
}

function childrenUsage(): Usage {
  const stat = readStat("self");
  if (stat === undefined) throw new Error("/proc/self/stat is unreadable: Linux only");
  return stat.children;
}

function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

/** Every `*_test.ts` under tests/, sorted, as paths relative to the repository. */
async function allTestFiles(dir = TESTS_DIR): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) found.push(...await allTestFiles(`${path}/`));
    else if (entry.name.endsWith("_test.ts")) found.push(path.slice(REPO.length));
  }
  return found.sort();
}

interface FileRun {
  readonly file: string;
  readonly ok: boolean;
  readonly wall: number;
  readonly usage: Usage;
}

async function runFile(file: string): Promise<FileRun> {
  const before = childrenUsage();
  const start = performance.now();
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", `--v8-flags=${TEST_V8_FLAGS}`, "-A", file],
    cwd: REPO,
    stdout: "null",
    stderr: "null",
  }).output();
  const wall = (performance.now() - start) / 1000;
  const after = childrenUsage();
  return {
    file,
    ok: success,
    wall,
    usage: {
      user: after.user - before.user,
      system: after.system - before.system,
      faults: after.faults - before.faults,
    },
  };
}

function row(cells: readonly string[]): string {
  const [cpu, wall, user, system, faults, name] = cells;
  return `${cpu.padStart(7)} ${wall.padStart(7)} ${user.padStart(7)} ${system.padStart(7)} ` +
    `${faults.padStart(9)}  ${name}`;
}

async function measureFiles(files: string[]): Promise<void> {
  const loadBefore = loadAverage();
  const runs: FileRun[] = [];
  for (const file of files) runs.push(await runFile(file));
  const loadAfter = loadAverage();
  runs.sort((a, b) => b.usage.user + b.usage.system - (a.usage.user + a.usage.system));
  console.log(row(["CPU s", "wall s", "user s", "sys s", "faults", "file"]));
  const total = { wall: 0, user: 0, system: 0, faults: 0 };
  for (const { file, ok, wall, usage } of runs) {
    total.wall += wall;
    total.user += usage.user;
    total.system += usage.system;
    total.faults += usage.faults;
    console.log(row([
      (usage.user + usage.system).toFixed(2),
      wall.toFixed(2),
      usage.user.toFixed(2),
      usage.system.toFixed(2),
      String(usage.faults),
      ok ? file : `${file} (FAILED)`,
    ]));
  }
  console.log(row([
    (total.user + total.system).toFixed(1),
    total.wall.toFixed(1),
    total.user.toFixed(1),
    total.system.toFixed(1),
    String(total.faults),
    `${runs.length} files; load ${loadBefore} -> ${loadAfter}`,
  ]));
}

async function measureSuite(): Promise<void> {
  const loadBefore = loadAverage();
  const before = childrenUsage();
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["test", "--parallel", "--no-check", `--v8-flags=${TEST_V8_FLAGS}`, "-A"],
      ...Array.from({ length: PART_COUNT }, (_, i) => `tests/suite/part_${i + 1}.ts`),
    ],
    cwd: REPO,
    env: { NO_COLOR: "1", DENO_JOBS: Deno.env.get("DENO_JOBS") ?? String(PARTS_AT_ONCE) },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = partTimeline(child.stdout, start);
  let last = readStat(child.pid);
  const sampler = setInterval(() => last = readStat(child.pid) ?? last, SAMPLE_INTERVAL_MS);
  const status = await child.status;
  clearInterval(sampler);
  const wall = (performance.now() - start) / 1000;
  const after = childrenUsage();
  const { summary, parts, failures } = await output;
  if (failures.length > 0) console.log(failures.join("\n"));
  const user = after.user - before.user;
  const system = after.system - before.system;
  console.log(`deno test --parallel, ${PART_COUNT} parts: ${summary} (exit ${status.code})`);
  console.log(
    `wall ${wall.toFixed(1)} s, CPU ${(user + system).toFixed(1)} s ` +
      `(user ${user.toFixed(1)}, system ${system.toFixed(1)}), ` +
      `${after.faults - before.faults} minor page faults; load ${loadBefore} -> ${loadAverage()}`,
  );
  for (const [part, { first, last, tests }] of [...parts].sort((a, b) => a[1].first - b[1].first)) {
    console.log(
      `  ${part}: ${tests} tests, results from ${first.toFixed(1)} s to ${last.toFixed(1)} s`,
    );
  }
  if (last === undefined) return;
  // The last sample misses at most SAMPLE_INTERVAL_MS of the end.
  const own = last.self.user + last.self.system;
  const theirs = last.children.user + last.children.system;
  console.log(
    `the deno test process itself ${own.toFixed(1)} CPU-s, ` +
      `its children (kv processes, tmux, …) ${theirs.toFixed(1)} CPU-s`,
  );
}

/** What `--suite` reads from `deno test`'s report. */
interface SuiteReport {
  /** Its last line: `ok | N passed | …`. */
  summary: string;
  /** When each part's first and last result came, in s from the start, and how many. */
  parts: Map<string, { first: number; last: number; tests: number }>;
  /** Its ERRORS and FAILURES sections, when a test failed. */
  failures: string[];
}

async function partTimeline(
  stdout: ReadableStream<Uint8Array>,
  start: number,
): Promise<SuiteReport> {
  const parts = new Map<string, { first: number; last: number; tests: number }>();
  const failures: string[] = [];
  let pending = "";
  let summary = "";
  for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    const now = (performance.now() - start) / 1000;
    for (const line of lines) {
      if (line.trim() !== "") summary = line;
      if (failures.length > 0 || line.trim() === "ERRORS") failures.push(line);
      const part = /^\.\/tests\/suite\/(part_\d+)\.ts => .* \.\.\. (ok|FAILED|ignored)/.exec(line);
      if (part === null) continue;
      const seen = parts.get(part[1]) ?? { first: now, last: now, tests: 0 };
      seen.last = now;
      seen.tests++;
      parts.set(part[1], seen);
    }
  }
  return { summary: pending.trim() === "" ? summary : pending, parts, failures };
}

/** One test's share of a `--tests` run. */
interface TestRun {
  readonly name: string;
  /** The test file `deno test` said it was running, when not a part of tests/suite/. */
  readonly module: string | undefined;
  readonly self: number;
  readonly children: number;
  readonly wall: number;
}

/** Each test name of a `--junit-path` report with the file that declared it, in order. */
function junitFiles(xml: string): [string, string][] {
  const unescape = (text: string) =>
    text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'").replace(/&amp;/g, "&");
  return [...xml.matchAll(/<testcase name="([^"]*)" classname="([^"]*)"/g)]
    .map(([, name, file]) => [unescape(name), unescape(file).replace(/^\.\//, "")]);
}

async function measureTests(files: string[]): Promise<void> {
  const loadBefore = loadAverage();
  const junit = await Deno.makeTempFile({ suffix: ".xml" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--no-check",
      `--v8-flags=${TEST_V8_FLAGS}`,
      "-A",
      `--junit-path=${junit}`,
      ...files,
    ],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const runs: TestRun[] = [];
  const cpu = (usage: Usage) => usage.user + usage.system;
  let last = readStat(child.pid);
  let lastAt = performance.now();
  let pending = "";
  let module: string | undefined;
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const running = /^running \d+ tests? from \.\/(.*)$/.exec(line);
      if (running !== null) module = running[1].startsWith("tests/suite/") ? undefined : running[1];
      const result = /^(.*) \.\.\. (ok|FAILED|ignored) \(/.exec(line);
      if (result === null) continue;
      const now = readStat(child.pid);
      if (now === undefined || last === undefined) continue;
      runs.push({
        name: result[2] === "ok" ? result[1] : `${result[1]} (${result[2]})`,
        module,
        self: cpu(now.self) - cpu(last.self),
        children: cpu(now.children) - cpu(last.children),
        wall: (performance.now() - lastAt) / 1000,
      });
      last = now;
      lastAt = performance.now();
    }
  }
  const status = await child.status;
  const declared = junitFiles(await Deno.readTextFile(junit));
  await Deno.remove(junit);
  const fileOf = (name: string) => {
    const index = declared.findIndex(([declaredName]) => name.startsWith(declaredName));
    return index < 0 ? "?" : declared.splice(index, 1)[0][1];
  };
  const named = runs.map((run) => ({ ...run, file: fileOf(run.name) }))
    .map((run) => ({ ...run, file: run.module ?? run.file }));
  named.sort((a, b) => b.self + b.children - (a.self + a.children));
  console.log(
    `${"CPU s".padStart(6)} ${"self".padStart(6)} ${"child".padStart(6)} ` +
      `${"wall s".padStart(7)}  file: test`,
  );
  for (const run of named) {
    console.log(
      `${(run.self + run.children).toFixed(2).padStart(6)} ${run.self.toFixed(2).padStart(6)} ` +
        `${run.children.toFixed(2).padStart(6)} ${run.wall.toFixed(2).padStart(7)}  ` +
        `${run.file}: ${run.name}`,
    );
  }
  const total = (pick: (run: TestRun) => number) =>
    named.reduce((sum, run) => sum + pick(run), 0).toFixed(1);
  console.log(
    `${named.length} tests (exit ${status.code}): CPU ${total((r) => r.self + r.children)} s ` +
      `(self ${total((r) => r.self)}, children ${total((r) => r.children)}), ` +
      `wall ${total((r) => r.wall)} s; load ${loadBefore} -> ${loadAverage()}`,
  );
  printFileSums(named);
}

/** Each file's CPU and wall summed over its tests, heaviest wall first, as parts.ts lists them. */
function printFileSums(runs: readonly (TestRun & { file: string })[]): void {
  const sums = new Map<string, { cpu: number; wall: number; tests: number }>();
  for (const run of runs) {
    const sum = sums.get(run.file) ?? { cpu: 0, wall: 0, tests: 0 };
    sum.cpu += run.self + run.children;
    sum.wall += run.wall;
    sum.tests++;
    sums.set(run.file, sum);
  }
  console.log("\nper file: wall s (one test after another), CPU s, tests");
  for (const [file, { cpu, wall, tests }] of [...sums].sort((a, b) => b[1].wall - a[1].wall)) {
    console.log(`  "${file}": ${wall.toFixed(1)}, // ${cpu.toFixed(1)} CPU-s, ${tests} tests`);
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--suite") await measureSuite();
  else if (Deno.args[0] === "--tests") {
    const parts = Array.from({ length: PART_COUNT }, (_, i) => `tests/suite/part_${i + 1}.ts`);
    if (Deno.args[1] === "--each") await measureTests(await allTestFiles());
    else await measureTests(Deno.args.length > 1 ? Deno.args.slice(1) : parts);
  } else await measureFiles(Deno.args.length > 0 ? [...Deno.args] : await allTestFiles());
}
