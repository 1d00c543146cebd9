/**
 * How long `deno task test` would take on 2 idle cores for a number of parts and of parts at
 * once, from each test's CPU and wall measured one test after another (README, Tests):
 *
 * ```sh
 * deno run -A tests/measure/test_files.ts --tests --each > tests.txt   # on a quiet machine
 * deno run -A tests/measure/suite_schedule.ts tests.txt [--phase-ms 15000] [--vary 0.4]
 * ```
 *
 * The files are dealt to parts as tests/suite/parts.ts deals them (its weights, or the measured
 * walls with `--measured-weights`), and the parts run as `deno test --parallel` runs them: in
 * order, a part starting as soon as one of the parts at once ends. A test is its CPU, then a wait
 * (its wall beyond its CPU: timeouts, fsyncs, children it waits for); the tests computing share
 * the 2 cores equally, each using at most one core, or more when its children computed side by
 * side. A part first costs {@link PART_START_CPU_S}. `--phase-ms` lengthens each Jepsen run as
 * `KV_JEPSEN_PHASE_MS` would (`.ci/run`: 15 000), its CPU in proportion. `--vary F` gives the
 * mean of {@link DRAWS} runs in which each file takes between 1 − F and 1 + F times what was
 * measured (drawn at random, a fixed seed), its weight unchanged: how much a schedule loses to
 * weights that are off. A model, not a
 * measurement: it leaves out contention (page faults and cache misses cost more with more at
 * once), and it predicted 101.6 s for the 108.6 s that nine parts, three at once, took on the
 * quiet machine. Its use is comparing schedules on one set of tests, which a machine shared with
 * other work cannot.
 * @module
 */

import {
  DEFAULT_SECONDS,
  JEPSEN_FILES,
  partsOf,
  secondsInSuite,
  testFiles,
} from "../suite/parts.ts";
import { DEFAULT_FAULT_PHASE_MS } from "../helpers/jepsen.ts";
import { Sfc32 } from "../../lib/gen/prng.ts";

/** Cores of the machine the bar is set on (issue 8). */
const CORES = 2;
/** A part's isolate and its modules' loading, in CPU-s (README, Tests). */
const PART_START_CPU_S = 0.3;
const PART_COUNTS = [9, 10, 15, 20, 25];
const PARTS_AT_ONCE = [3, 4, 5, 6];
/** How many draws `--vary` averages. */
const DRAWS = 12;
/** Below this, a test counts as having finished its CPU or its wait. */
const EPSILON = 1e-9;

/** One test as `test_files.ts --tests` printed it. */
interface MeasuredTest {
  readonly file: string;
  readonly cpu: number;
  readonly wall: number;
}

/** What is left of one test in the model: CPU to spend, at most `maxCores` at once, then a wait. */
interface Step {
  cpu: number;
  readonly maxCores: number;
  wait: number;
}

function readTests(path: string): MeasuredTest[] {
  const tests: MeasuredTest[] = [];
  for (const line of Deno.readTextFileSync(path).split("\n")) {
    const match = /^\s*([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+(tests\/\S+\.ts): /.exec(line);
    if (match !== null) tests.push({ cpu: +match[1], wall: +match[2], file: match[3] });
  }
  if (tests.length === 0) throw new Error(`${path}: no test lines of test_files.ts --tests`);
  return tests;
}

/** Each Jepsen test's wall grown by the longer phase, and its CPU in proportion. */
function withPhase(tests: readonly MeasuredTest[], phaseMs: number): MeasuredTest[] {
  const longer = (phaseMs - DEFAULT_FAULT_PHASE_MS) / 1000;
  return tests.map((test) => {
    if (!JEPSEN_FILES.includes(test.file)) return test;
    const wall = test.wall + longer;
    return { ...test, wall, cpu: test.cpu * wall / test.wall };
  });
}

/** The steps of one part: its start, then its files' tests in order. */
function partSteps(files: readonly string[], byFile: Map<string, MeasuredTest[]>): Step[] {
  const steps: Step[] = [{ cpu: PART_START_CPU_S, maxCores: 1, wait: 0 }];
  for (const file of files) {
    for (const { cpu, wall } of byFile.get(file) ?? []) {
      steps.push({ cpu, maxCores: Math.max(1, cpu / Math.max(wall, 0.01)), wait: wall - cpu });
    }
  }
  return steps;
}

/** Each computing part's share of the cores: equal, none above its step's `maxCores`. */
function shares(computing: readonly Step[][]): Map<Step[], number> {
  const result = new Map<Step[], number>();
  let free = CORES;
  const byNeed = [...computing].sort((a, b) => a[0].maxCores - b[0].maxCores);
  byNeed.forEach((part, i) => {
    const share = Math.min(part[0].maxCores, free / (byNeed.length - i));
    result.set(part, share);
    free -= share;
  });
  return result;
}

/** Seconds until the last part ends, `atOnce` parts running at a time. */
function simulate(parts: Step[][], atOnce: number): number {
  const queue = [...parts];
  const running: Step[][] = [];
  let now = 0;
  while (queue.length > 0 || running.length > 0) {
    while (running.length < atOnce && queue.length > 0) running.push(queue.shift()!);
    const rates = shares(running.filter((part) => part[0].cpu > EPSILON));
    let step = Infinity;
    for (const part of running) {
      const [head] = part;
      step = Math.min(step, head.cpu > EPSILON ? head.cpu / rates.get(part)! : head.wait);
    }
    step = Math.max(step, EPSILON);
    now += step;
    for (const part of running) {
      const [head] = part;
      if (head.cpu > EPSILON) head.cpu -= rates.get(part)! * step;
      else head.wait -= step;
      if (head.cpu <= EPSILON && head.wait <= EPSILON) part.shift();
    }
    for (let i = running.length - 1; i >= 0; i--) if (running[i].length === 0) running.splice(i, 1);
  }
  return now;
}

/** `tests` with each file's CPU and wall scaled by a factor drawn from 1 ± `vary`. */
function varied(tests: readonly MeasuredTest[], vary: number, random: Sfc32): MeasuredTest[] {
  const factors = new Map<string, number>();
  return tests.map((test) => {
    if (!factors.has(test.file)) {
      factors.set(test.file, 1 - vary + 2 * vary * random.nextUint32() / 2 ** 32);
    }
    const factor = factors.get(test.file)!;
    return { ...test, cpu: test.cpu * factor, wall: test.wall * factor };
  });
}

/** The modelled wall of `count` parts, `atOnce` at a time: one run, or the mean of the draws. */
function modelled(
  tests: readonly MeasuredTest[],
  weights: Record<string, number>,
  count: number,
  atOnce: number,
  vary: number,
): number {
  const parts = partsOf(testFiles(), count, weights);
  const random = new Sfc32(1);
  const draws = vary === 0
    ? [tests]
    : Array.from({ length: DRAWS }, () => varied(tests, vary, random));
  const walls = draws.map((drawn) => {
    const byFile = new Map<string, MeasuredTest[]>();
    for (const test of drawn) byFile.set(test.file, [...byFile.get(test.file) ?? [], test]);
    return simulate(parts.map((files) => partSteps(files, byFile)), atOnce);
  });
  return walls.reduce((sum, wall) => sum + wall, 0) / walls.length;
}

function flag(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at < 0 ? undefined : Deno.args[at + 1];
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined || path.startsWith("--")) {
    throw new Error("give the output of test_files.ts --tests --each");
  }
  const phaseMs = Number(flag("--phase-ms") ?? DEFAULT_FAULT_PHASE_MS);
  const tests = withPhase(readTests(path), phaseMs);
  const vary = Number(flag("--vary") ?? 0);
  if (!(vary >= 0 && vary < 1)) throw new Error(`--vary ${vary}: give a fraction from 0 to 1`);
  const weights = secondsInSuite(phaseMs);
  if (Deno.args.includes("--measured-weights")) {
    for (const file of Object.keys(weights)) delete weights[file];
    for (const test of tests) weights[test.file] = (weights[test.file] ?? 0) + test.wall;
  }
  const cpu = tests.reduce((sum, test) => sum + test.cpu, 0);
  console.log(
    `${tests.length} tests, ${cpu.toFixed(1)} CPU-s: at least ${(cpu / CORES).toFixed(1)} s on ` +
      `${CORES} cores; Jepsen phase ${phaseMs} ms; unlisted files weigh ${DEFAULT_SECONDS} s`,
  );
  console.log(["at once", ...PART_COUNTS.map((count) => `${count} parts`)].join("\t"));
  for (const atOnce of PARTS_AT_ONCE) {
    const walls = PART_COUNTS.map((count) => modelled(tests, weights, count, atOnce, vary));
    console.log([atOnce, ...walls.map((wall) => `${wall.toFixed(1)} s`)].join("\t"));
  }
}
