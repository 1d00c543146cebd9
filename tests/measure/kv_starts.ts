/**
 * What a `kv` process's start costs, in CPU (README, Tests: issue 8's 40 s bar). Each
 * variant runs ROUNDS times (default 20), the variants taking turns so that a change in the
 * machine's load reaches all alike; a run's CPU is the growth of this process's waited-for
 * children's counters in `/proc/self/stat` (user + system, in clock ticks of 10 ms, so only
 * a mean over many runs is precise). On a machine shared with other work compare these
 * means, never wall.
 *
 * ```sh
 * deno run -A tests/measure/kv_starts.ts [ROUNDS] [MAIN]
 * ```
 *
 * MAIN (default this checkout's main.ts) may be another checkout's, to compare two trees.
 *
 * The variants: an empty module (the floor of any `deno run`), `kv --version` (main.ts and
 * lib/cli/run.ts), `--help` of several commands (their modules loaded, nothing run), and
 * `kv server -p 0` until it logs its listening line, then SIGTERM and its exit.
 * @module
 */
import { denoRunArgs } from "../../lib/cli/server_process.ts";

/** `sysconf(_SC_CLK_TCK)` on Linux: the unit of the times in `/proc/self/stat`. */
const CLOCK_TICKS_PER_SECOND = 100;
const DEFAULT_ROUNDS = 20;
/** The most rounds: each costs about a second of CPU. */
const MAX_ROUNDS = 200;
/** How long one run may take before it counts as hung, in ms. */
const RUN_DEADLINE_MS = 30_000;

/** This process's waited-for children's CPU so far, in seconds (cutime + cstime). */
function childrenCpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ").map(Number);
  return (fields[13] + fields[14]) / CLOCK_TICKS_PER_SECOND;
}

/** Runs `deno <args>` to its end, its output discarded. */
async function runToEnd(args: string[]): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_DEADLINE_MS);
  try {
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `kv server -p 0`, waits for its first log line (it listens), stops it with SIGTERM. */
async function serverUntilListening(): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...denoRunArgs(MAIN), "server", "-p", "0"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_DEADLINE_MS);
  try {
    const reader = child.stderr.getReader();
    for (let text = ""; !text.includes("\n");) {
      const { value, done } = await reader.read();
      if (done) throw new Error("kv server ended before it listened");
      text += new TextDecoder().decode(value);
    }
    child.kill("SIGTERM");
    while (!(await reader.read()).done);
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

const rounds = Number(Deno.args[0] ?? DEFAULT_ROUNDS);
const MAIN = Deno.args[1] ?? new URL("../../main.ts", import.meta.url).pathname;
if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) {
  console.error(
    `usage: deno run -A tests/measure/kv_starts.ts [ROUNDS, 1 to ${MAX_ROUNDS}] [MAIN]`,
  );
  Deno.exit(2);
}
const empty = await Deno.makeTempFile({ suffix: ".ts" });
const kv = (...args: string[]) => ["run", "-A", MAIN, ...args];
const variants: [string, () => Promise<void>][] = [
  ["deno run of an empty module", () => runToEnd(["run", empty])],
  ["kv --version", () => runToEnd(kv("--version"))],
  ["kv server --help", () => runToEnd(kv("server", "--help"))],
  ["kv server -p 0, until it listens, then SIGTERM", serverUntilListening],
  ["kv get --help", () => runToEnd(kv("get", "--help"))],
  ["kv broker --help", () => runToEnd(kv("broker", "--help"))],
  ["kv http --help", () => runToEnd(kv("http", "--help"))],
  ["kv bench --help", () => runToEnd(kv("bench", "--help"))],
];
const loadBefore = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const cpu = variants.map(() => 0);
try {
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, run]] of variants.entries()) {
      const before = childrenCpuSeconds();
      await run();
      cpu[index] += childrenCpuSeconds() - before;
    }
  }
} finally {
  await Deno.remove(empty);
}
const loadAfter = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`${MAIN}: mean CPU ms of ${rounds} runs each (user + system)`);
console.log(`load ${loadBefore} -> ${loadAfter}`);
for (const [index, [name]] of variants.entries()) {
  console.log(`${(cpu[index] / rounds * 1000).toFixed(1).padStart(7)}  ${name}`);
}
