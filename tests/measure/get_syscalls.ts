/**
 * System calls per GET, kv beside Redis (issue 13's GET path): one `kv server` holding
 * 1000 records of the `kv gen -d 3 -l 8 -m 6` shape read by `kv bench --workload C`, and
 * one redis-server holding the same records as JSON strings read by `redis-benchmark`,
 * for the three loads of the GET bars (one at a time, 32 in flight on one connection, 50
 * connections). Each of the four processes runs under `strace -c -f` (the servers
 * attached for the run, the clients from their start), and the table gives each one's
 * calls per GET of the system calls a GET makes: socket reads and writes, epoll and
 * futex (thread wake-ups), and all others together.
 *
 * Counts, not times: strace slows every call, so only how many calls a GET costs is
 * measured, which the machine's load does not change much. The clients' counts include
 * their start (kv bench's reading of its modules is most of "other"), spread over the
 * run's GETs, warm-up included. Needs strace, redis-server and redis-benchmark on the
 * PATH. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/get_syscalls.ts [scale]
 * ```
 * @module
 */
import { TEST_KV } from "../helpers/server_process.ts";
import { startKvBesideRedis } from "./redis.ts";
import { BENCH_KEY_PREFIX } from "../../lib/bench/workload.ts";

const RECORDS = 1000;

/** GETs kv bench runs before its counted ones; strace counts them too (per GET below). */
const WARMUP_OPERATIONS = 10_000;

/** The system calls shown in a column of their own; the rest are summed as "other". */
const CALLS = ["read", "recvfrom", "write", "sendto", "epoll_wait", "epoll_ctl", "futex"];

/** How long strace may take to attach to a running server before the client starts. */
const ATTACH_MS = 1_000;

interface Shape {
  readonly name: string;
  readonly redis: string[];
  readonly kv: string[];
  readonly operations: number;
}

const SHAPES: readonly Shape[] = [
  { name: "one at a time", redis: ["-c", "1"], kv: [], operations: 20_000 },
  {
    name: "32 in flight, one connection",
    redis: ["-c", "1", "-P", "32"],
    kv: ["--pipeline", "32"],
    operations: 100_000,
  },
  { name: "50 connections", redis: ["-c", "50"], kv: ["--clients", "50"], operations: 50_000 },
];

/** Calls per system call name from a `strace -c` summary. */
function parseSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    // The last line sums the others.
    if (fields.length < 5 || !/^\d+(\.\d+)?$/.test(fields[0]) || fields.at(-1) === "total") {
      continue;
    }
    calls.set(fields.at(-1)!, Number(fields[3]));
  }
  return calls;
}

/** One table row: calls per GET of each of CALLS, then the others together. */
function row(process: string, shape: string, calls: Map<string, number>, gets: number): string {
  // At 32 in flight a socket call is about 0.031 per GET; under 0.01, the start's share.
  const perGet = (count: number) => {
    const calls = count / gets;
    if (count === 0) return "0";
    return calls < 0.01 ? "<0.01" : calls.toFixed(calls < 0.1 ? 3 : 2);
  };
  const other = [...calls].filter(([name]) => !CALLS.includes(name))
    .reduce((sum, [, count]) => sum + count, 0);
  const shown = CALLS.map((name) => perGet(calls.get(name) ?? 0));
  return `| ${shape} | ${process} | ${shown.join(" | ")} | ${perGet(other)} |`;
}

/** Runs `command` to its end under `strace -c -f` and answers the summary's counts. */
async function traced(summaryPath: string, command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command("strace", {
    args: ["-c", "-f", "-o", summaryPath, command, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return stdout;
}

/**
 * Counts the system calls of the server `pid` while `client` runs, and the client's own
 * (`client` runs it under strace into its summary path); answers both summaries.
 */
async function countBoth(
  pid: number,
  directory: string,
  client: (summaryPath: string) => Promise<unknown>,
): Promise<{ server: Map<string, number>; client: Map<string, number> }> {
  const serverPath = `${directory}/server.txt`;
  const clientPath = `${directory}/client.txt`;
  const attached = new Deno.Command("strace", {
    args: ["-c", "-f", "-o", serverPath, "-p", String(pid)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, ATTACH_MS));
  try {
    await client(clientPath);
  } finally {
    attached.kill("SIGINT");
    await attached.status;
  }
  return {
    server: parseSummary(await Deno.readTextFile(serverPath)),
    client: parseSummary(await Deno.readTextFile(clientPath)),
  };
}

const scale = Number(Deno.args[0] ?? 1);
const sides = await startKvBesideRedis(RECORDS, BENCH_KEY_PREFIX);
const { loaded: { server, serverFile }, redis } = sides;
const directory = await Deno.makeTempDir({ prefix: "kv-get-syscalls-" });
try {
  console.log(
    `system calls per GET (strace -c -f); kv bench --values bytes, ` +
      `its ${WARMUP_OPERATIONS} warm-up GETs counted in`,
  );
  console.log(`| shape | process | ${CALLS.join(" | ")} | other |`);
  console.log(`| ---- | ------- | ${CALLS.map(() => "---").join(" | ")} | --- |`);
  for (const shape of SHAPES) {
    const operations = shape.operations * scale;
    const kv = await countBoth(
      server.pid!,
      directory,
      (summaryPath) =>
        traced(summaryPath, TEST_KV.command, [
          ...TEST_KV.args,
          ...["bench", "-s", serverFile, "--workload", "C", "--distribution", "uniform"],
          ...["-n", String(RECORDS), "--no-load", "--seed", "1", "--json", "--timeout-ms", "10000"],
          ...["--ops", String(operations), "--warmup", String(WARMUP_OPERATIONS)],
          ...["--values", "bytes", ...shape.kv],
        ]),
    );
    const kvGets = operations + WARMUP_OPERATIONS;
    console.log(row("kv server", shape.name, kv.server, kvGets));
    console.log(row("kv bench", shape.name, kv.client, kvGets));
    const redisCounts = await countBoth(
      redis.pid,
      directory,
      (summaryPath) =>
        traced(summaryPath, "redis-benchmark", [
          ...["-p", String(redis.port), "-n", String(operations), "-r", String(RECORDS), "--csv"],
          ...shape.redis,
          ...["GET", `${BENCH_KEY_PREFIX}__rand_int__`],
        ]),
    );
    console.log(row("redis-server", shape.name, redisCounts.server, operations));
    console.log(row("redis-benchmark", shape.name, redisCounts.client, operations));
  }
} finally {
  await sides.stop();
  await Deno.remove(directory, { recursive: true });
}
