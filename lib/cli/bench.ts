/**
 * `kv bench`: a load generator in the manner of redis-benchmark and YCSB. It
 * loads records into a cluster, runs one of YCSB's core workloads A–F through
 * the client library, and reports throughput and latency percentiles per
 * operation. The engine is lib/bench/runner.ts; see {@link benchCommand}'s help
 * text for every flag.
 *
 * @example
 * ```sh
 * kv bench -s serverFile.txt -k 2 --workload C --pipeline 32 --ops 100000
 * ```
 * @module
 */
import { KvError, KvNoServerReachableError, KvUnavailableError } from "../client/errors.ts";
import { checkedReplicas, noServerReachable } from "./open_broker.ts";
import { repairCommandLine } from "./shell_command.ts";
import { ClusterKError } from "../broker/cluster_k.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from "../broker/server_pool.ts";
import { MAX_SEED, randomSeed } from "../gen/prng.ts";
import { ProgressBar } from "../base/progress.ts";
import { writeLine } from "../base/stdout.ts";
import {
  BenchInterruptedError,
  type BenchOptions,
  type BenchReport,
  DEFAULT_OPERATIONS,
  DEFAULT_RECORDS,
  deleteBenchRecords,
  type OperationReport,
  runBench,
  VALUE_READINGS,
  type ValueReading,
} from "../bench/runner.ts";
import {
  BENCH_KEY_PREFIX,
  type Distribution,
  type Workload,
  WORKLOAD_MIX,
  WORKLOADS,
} from "../bench/workload.ts";
import { fileOrNumberFlag, intFlag, parseFlags, secondsFlag } from "./args.ts";
import {
  credentialsRefusedError,
  SECURITY_FLAGS,
  SECURITY_HELP,
  securityPaths,
  withAuthFileSource,
} from "./security_flags.ts";
import { REPEATED_SIGNAL_GRACE_MS } from "./stop_signals.ts";
import type { Subcommand } from "./subcommand.ts";
import { SIGNAL_EXIT_CODES, UnavailableError, UserError } from "./user_error.ts";
import { counted } from "../base/plural.ts";
import { MAX_LINE_BYTES } from "../limits.ts";
import { oneLine } from "../record/key.ts";

/** Most records `-n` loads. */
export const MAX_BENCH_RECORDS = 10_000_000;

/** Most operations `--ops` runs. */
export const MAX_BENCH_OPERATIONS = 1_000_000_000;

/** Longest `--duration`, in seconds: a day. */
export const MAX_DURATION_SECONDS = 86_400;

/** Most `--clients`, each with its own connection to every server. */
export const MAX_CLIENTS = 1024;

/** Most operations in flight per client (`--pipeline`). */
export const MAX_PIPELINE = 4096;

/**
 * Largest `--size` of a record's string, in bytes: the load sends each record as the line
 * `"bench-person9999999" : { "data" : "…" }`, which must fit the longest line the parser
 * takes (MAX_LINE_BYTES, 1 MiB) with its 39 bytes of key and punctuation; 64 are kept. At
 * a whole 1 MiB the loader skipped every line and kv bench ended with an internal error.
 */
export const MAX_RECORD_SIZE = MAX_LINE_BYTES - 64;

/** Highest `--rate`, in operations per second. */
export const MAX_RATE = 10_000_000;

const DISTRIBUTIONS: readonly Distribution[] = ["zipfian", "uniform"];

const HELP = `Usage: kv bench -s serverFile [-k replicas] [--workload A..F] [flags]

Loads records into the cluster, runs one of YCSB's core workloads through the
client library (the path applications use), and reports throughput and latency
percentiles (p50, p95, p99, p99.9, max) per operation, with errors, warnings
and reads of missing records counted.

It writes records of its own: ${BENCH_KEY_PREFIX}0..${BENCH_KEY_PREFIX}<N-1> (-n), and
workloads D and E insert ${BENCH_KEY_PREFIX}<N>… after them; no other key, so
never kv gen's person0…. They stay in the cluster after the run (the next run
overwrites them) unless --clean-up deletes them.

Workloads (YCSB's core set):
${WORKLOADS.map((letter) => `  ${letter}  ${WORKLOAD_MIX[letter].summary}`).join("\n")}

Flags:
  -s, --servers FILE     the cluster's server file (required)
  -k, --replicas N       replication factor; refused when the servers record
                         another (default: the k they record; on a new
                         cluster 1)
      --workload W       A to F (default A)
      --distribution D   zipfian (constant 0.99, hot keys scrambled over the key
                         space) or uniform (default zipfian); workload D reads
                         the newest most
  -n, --records N        records to load and draw keys from, 1..${MAX_BENCH_RECORDS}
                         (default ${DEFAULT_RECORDS})
      --size BYTES       each record one string of BYTES, 1..${MAX_RECORD_SIZE}
                         (default: records of kv gen -d 3 -l 8 -m 6's shape)
      --ops N            operations to run, 1..${MAX_BENCH_OPERATIONS} (default ${DEFAULT_OPERATIONS})
      --duration S       run for S seconds (or 5m, 1h) instead of a number of
                         operations, 1..${MAX_DURATION_SECONDS}
      --warmup N         first run N operations the same way, neither timed nor
                         counted, 0..${MAX_BENCH_OPERATIONS} (default 0): kv's client
                         (and server) compile their read path over the first
                         tens of thousands of operations, which a short run
                         would measure
      --clients N        independent clients, each with its own connections,
                         1..${MAX_CLIENTS} (default 1)
      --pipeline N       operations in flight per client, 1..${MAX_PIPELINE}
                         (default 1)
      --values V         how reads take values: objects, made into plain
                         JavaScript as Kv.get answers them (what an application
                         uses), or bytes, left encoded as Kv.getBytes answers
                         them (as redis-benchmark, which never parses what it
                         reads) (default objects)
      --rate R           open loop: R operations per second in all, 1..${MAX_RATE};
                         latency measured from each operation's intended send
                         time (as wrk2 does); without it the loop is closed and
                         latency runs from the worker's previous answer, i.e.
                         its send
      --seed N           seed for records and operations, 0..${MAX_SEED}
                         (default random)
      --no-load          use the records an earlier kv bench loaded
                         (${BENCH_KEY_PREFIX}0..${BENCH_KEY_PREFIX}<N-1>)
      --clean-up         after the report, delete the bench's records
                         (${BENCH_KEY_PREFIX}<digits>, this run's and earlier
                         runs'; no other key); without it they stay
      --timeout-ms MS    connect and request timeout per server, 1..${MAX_TIMEOUT_MS}
                         (default ${DEFAULT_TIMEOUT_MS})
      --json             print one JSON object instead of the table
${SECURITY_HELP}
  -h, --help             show this help

A progress line is drawn on stderr when it is a terminal ('kv bench: loading'
while the records load, 'kv bench: warming up' during the warm-up).
Ctrl-C (or SIGTERM: 'timeout 60 kv bench ...') stops the run and reports what it
measured until then, marked interrupted ('"interrupted": true' with --json);
before the measured run (connecting, loading, warming up) nothing has been
measured and one line says so. Another, a second or more later, quits at once
without a report.
Exit codes: 0 done (even with errors counted); 2 usage error; 3 no server
reachable, fewer than k up at the start, or records that could not be loaded;
130 stopped with Ctrl-C, 143 by SIGTERM, as a shell reports them, with or
without a partial report.`;

/** The `kv bench` subcommand. */
export const benchCommand: Subcommand = {
  name: "bench",
  help: HELP,
  run: runBenchCommand,
};

async function runBenchCommand(args: string[]): Promise<number> {
  const { values } = parseBenchFlags(args);
  const options = benchOptions(values);
  const replicas = await checkedReplicas("bench", options.servers as string, values.replicas);
  const progress = options.durationMs === undefined
    ? new ProgressBar({ label: "kv bench", total: options.operations ?? DEFAULT_OPERATIONS })
    : secondsProgress(options.durationMs);
  // The load and the warm-up can take long too: each its own line, so that neither is
  // mistaken for the measured run.
  const loadProgress = options.noLoad
    ? undefined
    : new ProgressBar({ label: "kv bench: loading", total: options.records });
  const warmupProgress = new ProgressBar({ label: "kv bench: warming up", total: options.warmup });
  const stop = stopOnSignals([loadProgress, warmupProgress, progress]);
  try {
    const report = await runBench({
      ...options,
      replicas,
      progress,
      loadProgress,
      warmupProgress,
      // A record that could not be loaded: its line goes above the progress, not through it.
      report: (message) => {
        loadProgress?.finish();
        console.error(`kv bench: ${message}`);
      },
      signal: stop.signal,
    });
    const stoppedBy = stop.stoppedBy() ?? "SIGINT";
    writeLine(
      values.json
        ? JSON.stringify(report, roundedFigure)
        : formatReport(report, STOPPED_BY[stoppedBy]),
    );
    if (values["clean-up"]) await cleanUp(options);
    // A partial report is not a finished run: a script can tell them apart, as a shell
    // tells a command stopped by a signal.
    return report.interrupted ? SIGNAL_EXIT_CODES[stoppedBy] : 0;
  } catch (error) {
    if (error instanceof BenchInterruptedError) {
      console.error(`kv bench: ${error.message}`);
      return SIGNAL_EXIT_CODES[stop.stoppedBy() ?? "SIGINT"];
    }
    if (error instanceof KvNoServerReachableError) {
      throw noServerReachable("bench", options.servers as string, error.unreachable);
    }
    if (!(error instanceof KvError)) throw error;
    // A k refusal names the exact repair command: this server file, these credentials.
    if (error.cause instanceof ClusterKError) {
      const repair = repairCommandLine(options.servers as string, values);
      throw new UserError(`kv bench: ${error.cause.withRepair(repair)}`);
    }
    const refused = credentialsRefusedError("bench", error, values);
    if (refused !== undefined) throw refused;
    // Too few servers up to load or measure: the cluster's failure, as a one-shot's ERROR.
    if (error instanceof KvUnavailableError) {
      throw new UnavailableError(`kv bench: ${error.message}`);
    }
    throw new UserError(`kv bench: ${withAuthFileSource(error.message, values)}`);
  } finally {
    stop.dispose();
  }
}

/**
 * `--clean-up`, once the report is out: deletes every record under the bench's prefix and
 * says how many on stderr. A failure is one line (exit 2) after the report, which stands.
 */
async function cleanUp(options: BenchOptions): Promise<void> {
  const deleted = await deleteBenchRecords(options).catch((error) => {
    if (!(error instanceof KvError)) throw error;
    throw new UserError(
      `kv bench: --clean-up could not delete every ${BENCH_KEY_PREFIX}<digits> record: ` +
        `${error.message}; once every server is up, kv bench --no-load --ops 1 --clean-up ` +
        "deletes the rest",
    );
  });
  console.error(
    `kv bench: --clean-up deleted ${counted(deleted, "record")} (${BENCH_KEY_PREFIX}<digits>)`,
  );
}

/** What a stop that waits long says: a server holds the last operations (or the load's writes). */
const SLOW_STOP_HINT = "interrupted; waiting for the operations in flight (each up to " +
  "--timeout-ms) before reporting; Ctrl-C again quits without a report";

/**
 * Significant digits of a fractional figure in `--json`: a time from the clock divided
 * (`"loadSeconds":0.06194947300000001`) carries float noise, and the latencies are within
 * 1/128 of the truth anyway. Whole numbers (counts, the seed) are left as they are.
 */
export const JSON_SIGNIFICANT_DIGITS = 6;

/** `JSON.stringify`'s replacer for the report: each fractional figure rounded. */
function roundedFigure(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isInteger(value)
    ? Number(value.toPrecision(JSON_SIGNIFICANT_DIGITS))
    : value;
}

/** The signals that stop a bench early, and how its report names each. */
const STOPPED_BY = { SIGINT: "Ctrl-C", SIGTERM: "SIGTERM" } as const;

type StopSignal = keyof typeof STOPPED_BY;

/**
 * Ctrl-C's handling, and SIGTERM's (`timeout 60 kv bench …` sends it). The first stops the
 * bench, which then reports what it measured (the operations in flight finish first, each
 * within the request timeout; when that takes {@link REPEATED_SIGNAL_GRACE_MS}, a line says
 * what it waits for). Another, once {@link REPEATED_SIGNAL_GRACE_MS} have passed, quits at
 * once with the progress lines erased and no report: for a server that holds the last
 * operations up to a long --timeout-ms. A repeat within the grace is the same stop
 * (`deno task` passes a Ctrl-C on as well). Once one has come, `dispose` leaves the
 * listeners in place: a repeat between the report and the exit would otherwise end the
 * process with the signal's default action.
 */
function stopOnSignals(
  progressLines: readonly ({ finish(): void } | undefined)[],
): { signal: AbortSignal; stoppedBy(): StopSignal | undefined; dispose(): void } {
  const stop = new AbortController();
  let first: { signal: StopSignal; atMs: number } | undefined;
  let slowStop: ReturnType<typeof setTimeout> | undefined;
  const say = (message: string) => {
    for (const line of progressLines) line?.finish();
    console.error(`kv bench: ${message}`);
  };
  const handlers = (Object.keys(STOPPED_BY) as StopSignal[]).map((signal) => {
    const handler = () => {
      if (first === undefined) {
        first = { signal, atMs: performance.now() };
        stop.abort();
        slowStop = setTimeout(() => say(SLOW_STOP_HINT), REPEATED_SIGNAL_GRACE_MS);
        return;
      }
      if (performance.now() - first.atMs < REPEATED_SIGNAL_GRACE_MS) return;
      say("interrupted again; nothing is reported");
      Deno.exit(SIGNAL_EXIT_CODES[first.signal]);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return {
    signal: stop.signal,
    stoppedBy: () => first?.signal,
    dispose: () => {
      clearTimeout(slowStop);
      if (first !== undefined) return;
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    },
  };
}

function parseBenchFlags(args: string[]) {
  return parseFlags("bench", args, {
    servers: { type: "string", short: "s" },
    replicas: { type: "string", short: "k" },
    workload: { type: "string" },
    distribution: { type: "string" },
    records: { type: "string", short: "n" },
    size: { type: "string" },
    ops: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    clients: { type: "string" },
    pipeline: { type: "string" },
    values: { type: "string" },
    rate: { type: "string" },
    seed: { type: "string" },
    "no-load": { type: "boolean" },
    "clean-up": { type: "boolean" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
    ...SECURITY_FLAGS,
  }, { meantFlag: fileOrNumberFlag("-s") });
}

/** What the flags ask of the bench, checked: a UserError names the first flag that is wrong. */
function benchOptions(values: ReturnType<typeof parseBenchFlags>["values"]): BenchOptions {
  if (values.servers === undefined) {
    throw new UserError("kv bench: -s serverFile is required (see 'kv bench --help')");
  }
  const workload = (values.workload ?? "A").toUpperCase() as Workload;
  if (!WORKLOADS.includes(workload)) {
    throw new UserError(`kv bench: --workload must be one of A to F, got '${values.workload}'`);
  }
  const distribution = (values.distribution ?? "zipfian") as Distribution;
  if (!DISTRIBUTIONS.includes(distribution)) {
    throw new UserError(
      `kv bench: --distribution must be zipfian or uniform, got '${values.distribution}'`,
    );
  }
  const valueReading = (values.values ?? "objects") as ValueReading;
  if (!VALUE_READINGS.includes(valueReading)) {
    throw new UserError(`kv bench: --values must be objects or bytes, got '${values.values}'`);
  }
  const { authFile, tlsCa } = securityPaths("bench", values);
  if (values.ops !== undefined && values.duration !== undefined) {
    throw new UserError("kv bench: give --ops or --duration, not both");
  }
  const int = (flag: string, text: string | undefined, max: number, fallback?: number) =>
    intFlag("bench", flag, text, { min: 1, max, fallback });
  const durationSeconds = secondsFlag("bench", "--duration", values.duration, {
    min: 1,
    max: MAX_DURATION_SECONDS,
  });
  const operations = int("--ops", values.ops, MAX_BENCH_OPERATIONS, DEFAULT_OPERATIONS);
  const seed = intFlag("bench", "--seed", values.seed, {
    min: 0,
    max: MAX_SEED,
    fallback: randomSeed(),
  });
  return {
    servers: values.servers,
    workload,
    distribution,
    records: int("-n", values.records, MAX_BENCH_RECORDS, DEFAULT_RECORDS),
    size: values.size === undefined ? undefined : int("--size", values.size, MAX_RECORD_SIZE),
    operations: durationSeconds === undefined ? operations : undefined,
    durationMs: durationSeconds === undefined ? undefined : durationSeconds * MS_PER_SECOND,
    warmup: intFlag("bench", "--warmup", values.warmup, {
      min: 0,
      max: MAX_BENCH_OPERATIONS,
      fallback: 0,
    }),
    clients: int("--clients", values.clients, MAX_CLIENTS, 1),
    pipeline: int("--pipeline", values.pipeline, MAX_PIPELINE, 1),
    values: valueReading,
    rate: values.rate === undefined ? undefined : int("--rate", values.rate, MAX_RATE),
    seed,
    noLoad: values["no-load"] ?? false,
    timeoutMs: values["timeout-ms"] === undefined
      ? undefined
      : int("--timeout-ms", values["timeout-ms"], MAX_TIMEOUT_MS),
    authFile,
    tlsCa,
  };
}

/**
 * The progress of a `--duration` run, which the runner reports in milliseconds run, drawn
 * in whole seconds (`kv bench (seconds) [###…]  20% 12/60`), not as `12285.356125/60000`.
 */
function secondsProgress(durationMs: number): { update(doneMs: number): void; finish(): void } {
  const bar = new ProgressBar({ label: "kv bench (seconds)", total: durationMs / MS_PER_SECOND });
  return {
    update: (doneMs) => bar.update(Math.floor(doneMs / MS_PER_SECOND)),
    finish: () => bar.finish(),
  };
}

const MS_PER_SECOND = 1000;

/** Milliseconds with three decimals, right-aligned in `width`. */
function ms(value: number, width: number): string {
  return value.toFixed(3).padStart(width);
}

/**
 * The human report: what ran, then one line per operation kind.
 *
 * @example
 * ```ts ignore
 * console.log(formatReport(report));
 * ```
 *
 * @param stoppedBy what stopped an interrupted run, as its line names it: `Ctrl-C` (the
 *   default) or `SIGTERM`.
 */
function formatReport(report: BenchReport, stoppedBy = "Ctrl-C"): string {
  const loop = report.loop === "closed"
    ? "closed loop: latency from each send, so answers queued behind a slow one are not " +
      "counted late (use --rate for open-loop latency)"
    : `open loop at ${report.rate} ops/s: latency from each operation's intended send time`;
  const lines = [
    `kv bench: workload ${report.workload} (${report.summary}), ${report.distribution} keys, ` +
    `${report.records} records (${report.recordShape}), seed ${report.seed}`,
    `${counted(report.clients, "client")} × pipeline ${report.pipeline}; ` +
    loop,
    report.values === "objects"
      ? "values read as plain objects (Kv.get)"
      : "values read as bytes, never decoded (Kv.getBytes; --values objects makes objects)",
  ];
  if (report.loadSeconds !== null) {
    lines.push(`loaded ${report.records} records in ${report.loadSeconds.toFixed(2)} s`);
  }
  if (report.warmup > 0) lines.push(`${report.warmup} warm-up operations first, not counted`);
  if (report.interrupted) {
    lines.push(
      `interrupted (${stoppedBy}): the figures are of the operations run until then, not of ` +
        "the whole --ops or --duration",
    );
  }
  lines.push(
    `${report.operations} operations in ${report.seconds.toFixed(2)} s: ` +
      `${Math.round(report.throughput)} ops/s; ${report.errors} errors, ` +
      `${report.warnings} warnings, ${report.notFound} not found`,
    `kv bench's own CPU: ${report.cpuSeconds.toFixed(2)} s (user and system; ` +
      `${(report.cpuSeconds * 1e6 / Math.max(1, report.operations)).toFixed(1)} µs per operation)`,
    "",
    "operation              count     ops/s     mean      p50      p95      p99    p99.9      max (ms)",
  );
  for (const [kind, figures] of Object.entries(report.byOperation)) {
    lines.push(operationLine(kind, figures));
  }
  // What the errors were: a count alone sent the user looking (a replica down, a refusal).
  for (const [kind, figures] of Object.entries(report.byOperation)) {
    if (figures.firstError === null) continue;
    const first = oneLine(figures.firstError, { maxCharacters: MAX_SHOWN_ERROR_CHARACTERS });
    lines.push(`${kind}: the first of ${figures.errors} errors: ${first}`);
  }
  return lines.join("\n");
}

/** Most characters of an operation's first error the table's notes show. */
const MAX_SHOWN_ERROR_CHARACTERS = 300;

function operationLine(kind: string, figures: OperationReport): string {
  // Latencies are of the operations that succeeded: with none, there are none to show
  // (they showed as 0.000 ms, the fastest operations of the run).
  const latencies = figures.errors === figures.count
    ? Array(6).fill("-".padStart(9)).join("")
    : ms(figures.meanMs, 9) + ms(figures.p50Ms, 9) + ms(figures.p95Ms, 9) +
      ms(figures.p99Ms, 9) + ms(figures.p999Ms, 9) + ms(figures.maxMs, 9);
  return kind.padEnd(18) + String(figures.count).padStart(10) +
    String(Math.round(figures.throughput)).padStart(10) + latencies +
    (figures.errors > 0 ? `  ${figures.errors} errors` : "");
}
