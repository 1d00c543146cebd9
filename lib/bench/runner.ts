/**
 * The engine of `kv bench`: loads records into a cluster, runs one of YCSB's
 * core workloads against it through the client library (`lib/client/kv.ts`,
 * the path applications use), and reports throughput and latency percentiles
 * per operation, with errors and warnings counted.
 *
 * A warm-up (`warmup` operations, default none) may run first, the same way, and is
 * neither timed nor counted: a JIT-compiled client (and server) reads its first tens
 * of thousands of GETs at half its steady speed or less while V8 compiles the read
 * path, which a short run would otherwise measure.
 *
 * Closed loop (the default): each of `clients × pipeline` workers sends its
 * next operation when the previous one is answered, and latency runs from
 * that answer (one clock reading ends an operation and starts the next). A
 * slow answer then delays the requests behind it, which are never measured as
 * late: tails are understated (coordinated omission). Open loop
 * (`rate`): operation i is due at start + i / rate, whatever happened before,
 * and its latency runs from that intended time, as wrk2 measures, so queueing
 * behind a slow answer is counted.
 *
 * A `signal` stops a bench early. During the measured run the workers take no more
 * operations, the ones in flight end (each bounded by the request timeout), and the report
 * is of what was measured, marked `interrupted`, as wrk and redis-benchmark report on Ctrl-C.
 * Before it (connecting, loading, warming up) nothing has been measured: runBench rejects
 * with a {@link BenchInterruptedError}.
 *
 * @example
 * ```ts
 * import { runBench } from "./runner.ts";
 * const report = await runBench({ servers: "serverFile.txt", replicas: 2, workload: "C", operations: 1000 });
 * console.log(report.throughput);
 * ```
 * @module
 */
import { brokerOf, connect, type Kv, type KvBytesEntry, type KvEntry } from "../client/kv.ts";
import { KvError, KvUnavailableError } from "../client/errors.ts";
import { fromValue, type KvValue } from "../client/values.ts";
import { indexLines } from "../broker/indexer.ts";
import { generateChunks } from "../gen/generator.ts";
import { SAMPLE_KEYS } from "../gen/keyfile.ts";
import { Sfc32 } from "../gen/prng.ts";
import { parseRecordLine } from "../record/parse.ts";
import { invariant } from "../base/invariant.ts";
import { counted } from "../base/plural.ts";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import { LatencyHistogram } from "./histogram.ts";
import {
  BENCH_KEY_PREFIX,
  type Distribution,
  isBenchKey,
  type Operation,
  OPERATION_KINDS,
  type OperationKind,
  OperationPicker,
  recordKey,
  type Workload,
  WORKLOAD_MIX,
} from "./workload.ts";

/** Records loaded by default. */
export const DEFAULT_RECORDS = 1000;

/** Operations run by default (when no duration is given). */
export const DEFAULT_OPERATIONS = 10_000;

/** Distinct values written by updates and inserts, cycled: enough variety, bounded memory. */
export const VALUE_POOL_SIZE = 1000;

/**
 * Most bytes of `--size` strings the value pool holds: fewer than {@link VALUE_POOL_SIZE}
 * values past 16 KB each (16 at 1 MiB). A thousand 1 MiB strings were made as one text of
 * 1 GB, over V8's longest string: kv bench --size 1048576 ended with an internal error
 * (RangeError: string too long) after 45 s of CPU, and any size past 512 KB did.
 */
export const VALUE_POOL_MAX_BYTES = 16 * 1024 * 1024;

/** The `kv gen` shape of the records: `-d 3 -l 8 -m 6`, as the README's measurements. */
export const GEN_SHAPE = { maxNesting: 3, maxStringLength: 8, maxKeysPerValue: 6 } as const;

/**
 * How reads take the values they read: `"objects"`, as `Kv.get` answers them (plain
 * JavaScript, what an application uses), or `"bytes"`, as `Kv.getBytes` does (the
 * value's encoding, never decoded: as redis-benchmark, which does not parse what it reads).
 */
export type ValueReading = "objects" | "bytes";

/** Every {@link ValueReading}, the default first. */
export const VALUE_READINGS: readonly ValueReading[] = ["objects", "bytes"];

/**
 * Operations a worker may see fail in a row before it pauses {@link FAILURE_PAUSE_MS} after
 * each further failure. Fewer in a row are each followed by one turn of the event loop only.
 */
export const FAILURES_BEFORE_PAUSE = 8;

/**
 * How long a worker pauses after a failed operation once {@link FAILURES_BEFORE_PAUSE} have
 * failed in a row, until one succeeds, in ms. With every server down an operation fails at
 * once, without I/O: unpaused, a worker ran 100 000 failing operations a second and more,
 * all through promise jobs, which starved the event loop of its turns (Ctrl-C and SIGTERM
 * were never handled). Paused, it tries at most 100 a second; the pause is not counted in
 * the next operation's latency in a closed loop.
 */
export const FAILURE_PAUSE_MS = 10;

/** Characters of a `--size` record's string. */
const SIZE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Options for {@link runBench}. */
export interface BenchOptions {
  /** The server file, or endpoints, as {@link connect} takes them. */
  servers: Parameters<typeof connect>[0]["servers"];
  /** Replication factor; default the cluster's (see `ConnectOptions.replicas`). */
  replicas?: number;
  /** Which workload; default `"A"`. */
  workload?: Workload;
  /** How keys are drawn; default `"zipfian"`. */
  distribution?: Distribution;
  /** Records loaded (and drawn from); default {@link DEFAULT_RECORDS}. */
  records?: number;
  /** Each record one string field of this many bytes; default: `kv gen`'s shape ({@link GEN_SHAPE}). */
  size?: number;
  /** Operations to run; default {@link DEFAULT_OPERATIONS} unless `durationMs` is set. */
  operations?: number;
  /** Run for this long instead of a number of operations; default: a number of operations. */
  durationMs?: number;
  /**
   * Operations run first, the same way as the measured ones (workload, clients,
   * pipeline, rate), and neither timed nor counted; default 0.
   */
  warmup?: number;
  /** Independent clients, each with its own connections; default 1. */
  clients?: number;
  /** Operations in flight per client; default 1. */
  pipeline?: number;
  /**
   * How reads take values (reads and read-modify-write's reads; scans list with
   * `Kv.list`, which makes objects); default `"objects"`.
   */
  values?: ValueReading;
  /** Open loop at this many operations per second in all; default: closed loop. */
  rate?: number;
  /** PRNG seed for records and operations; default 1. */
  seed?: number;
  /**
   * Skip loading: use the records an earlier bench loaded (indexes 0..records−1 of
   * {@link BENCH_KEY_PREFIX} must exist). Default false.
   */
  noLoad?: boolean;
  /** Connect and request timeout per server, in ms; the library's default otherwise. */
  timeoutMs?: number;
  /** Auth file for servers that require authentication, as {@link connect} takes it; default none. */
  authFile?: string;
  /** CA of the servers' TLS certificates, as {@link connect} takes it; default plain TCP. */
  tlsCa?: string;
  /** Progress: called with operations done (or ms elapsed, with `durationMs`); default nothing. */
  progress?: { update(done: number): void; finish(): void };
  /** The load's progress: called with records handed to the load so far; default nothing. */
  loadProgress?: { update(done: number): void; finish(): void };
  /** The warm-up's progress: called with warm-up operations done; default nothing. */
  warmupProgress?: { update(done: number): void; finish(): void };
  /**
   * Receives a line for the user: that the bench fixed the default k on servers that
   * recorded none (`Broker.notice`), that servers are down or ask for no secret though
   * the bench has one, or about a record that could not be loaded; default stderr.
   */
  report?: (message: string) => void;
  /**
   * Stops the bench: a measured run ends early and reports what it measured, marked
   * `interrupted`; earlier, runBench rejects with a {@link BenchInterruptedError}. Default none.
   */
  signal?: AbortSignal;
}

/** Where a bench was when its signal stopped it before the measured run began. */
export type BenchPhase = "connecting" | "loading" | "warming up";

/**
 * A bench stopped by its signal before the measured run began: nothing was measured.
 *
 * @example
 * ```ts
 * const signal = AbortSignal.timeout(60_000); // or an AbortController's, aborted on Ctrl-C
 * try {
 *   await runBench({ servers: "serverFile.txt", signal });
 * } catch (error) {
 *   if (error instanceof BenchInterruptedError) console.error(`stopped while ${error.phase}`);
 * }
 * ```
 */
export class BenchInterruptedError extends Error {
  /**
   * The error for a bench its signal stopped during `phase`.
   *
   * @param phase what the bench was doing when it was stopped.
   */
  constructor(readonly phase: BenchPhase) {
    super(`interrupted while ${phase}; nothing was measured`);
    this.name = "BenchInterruptedError";
  }
}

/** One operation kind's figures. */
export interface OperationReport {
  /** Operations done, including those that failed. */
  count: number;
  /**
   * Operations that failed (a replica unreachable, a write refused, a read no server
   * answered).
   */
  errors: number;
  /**
   * The first failed operation's error message, which says what the errors were (a
   * replica down, a write refused); null when none failed.
   */
  firstError: string | null;
  /** Answers that carried a warning (too many servers down to be sure). */
  warnings: number;
  /** Reads of a record that was not there (by the answer of a server at least). */
  notFound: number;
  /** Operations per second over the run. */
  throughput: number;
  /** Mean latency of the operations that succeeded, in ms. */
  meanMs: number;
  /** Median latency, in ms. */
  p50Ms: number;
  /** 95th percentile latency, in ms. */
  p95Ms: number;
  /** 99th percentile latency, in ms. */
  p99Ms: number;
  /** 99.9th percentile latency, in ms. */
  p999Ms: number;
  /** Largest latency, in ms (exact). */
  maxMs: number;
}

/** What {@link runBench} measured. */
export interface BenchReport {
  /** The workload run. */
  workload: Workload;
  /** Its mix in words. */
  summary: string;
  /** How keys were drawn. */
  distribution: Distribution;
  /** Records loaded (or assumed, with `noLoad`). */
  records: number;
  /** `"kv gen -d 3 -l 8 -m 6"` or `"N bytes"`. */
  recordShape: string;
  /** Independent clients. */
  clients: number;
  /** Operations in flight per client. */
  pipeline: number;
  /** How reads took the values: made into objects (`Kv.get`) or left as bytes (`Kv.getBytes`). */
  values: ValueReading;
  /** Closed: latency from each send. Open: from the intended send time at `rate`. */
  loop: "closed" | "open";
  /** Operations per second asked for (open loop), or null. */
  rate: number | null;
  /** The seed used. */
  seed: number;
  /** Seconds the load took, or null with `noLoad`. */
  loadSeconds: number | null;
  /** Operations run before the measured ones, neither timed nor counted. */
  warmup: number;
  /** Seconds the operations took. */
  seconds: number;
  /**
   * CPU seconds (user and system) this process used while the operations ran, loading
   * not included: near `seconds` means the client itself was the limit, not the cluster.
   */
  cpuSeconds: number;
  /** Operations done; the sum of every operation kind's count. */
  operations: number;
  /** Operations per second over the run. */
  throughput: number;
  /** Operations that failed, all kinds. */
  errors: number;
  /** Answers that carried a warning, all kinds. */
  warnings: number;
  /** Reads of a record that was not there, all kinds. */
  notFound: number;
  /**
   * Stopped by the signal before its operations or duration were done: the figures are of
   * the operations run until then (and those in flight then, which were let finish).
   */
  interrupted: boolean;
  /** Figures per operation kind that ran. */
  byOperation: Partial<Record<OperationKind, OperationReport>>;
}

/** An operation kind's counters while running. */
class OperationStats {
  count = 0;
  errors = 0;
  firstError: string | null = null;
  warnings = 0;
  notFound = 0;
  readonly latency = new LatencyHistogram();

  report(seconds: number): OperationReport {
    const latency = this.latency;
    return {
      count: this.count,
      errors: this.errors,
      firstError: this.firstError,
      warnings: this.warnings,
      notFound: this.notFound,
      throughput: this.count / seconds,
      meanMs: latency.meanMs,
      p50Ms: latency.percentile(50),
      p95Ms: latency.percentile(95),
      p99Ms: latency.percentile(99),
      p999Ms: latency.percentile(99.9),
      maxMs: latency.maxMs,
    };
  }
}

/**
 * The record lines to load, in `kv gen`'s dialect, as a byte stream; `made` is told how
 * many records it has made so far (read as the load takes them).
 */
function recordStream(
  records: number,
  size: number | undefined,
  seed: number,
  made: (done: number) => void = () => {},
): ReadableStream<Uint8Array> {
  if (size === undefined) {
    const chunks = generateChunks({
      keys: SAMPLE_KEYS,
      recordCount: records,
      seed,
      keyPrefix: BENCH_KEY_PREFIX,
      ...GEN_SHAPE,
    });
    return ReadableStream.from((function* () {
      for (const chunk of chunks) {
        made(chunk.recordsDone);
        yield chunk.bytes.slice();
      }
    })());
  }
  const random = new Sfc32(seed);
  const encoder = new TextEncoder();
  return ReadableStream.from((function* () {
    for (let index = 0; index < records; index++) {
      made(index + 1);
      yield encoder.encode(`"${recordKey(index)}" : { "data" : "${sizedString(size, random)}" }\n`);
    }
  })());
}

function sizedString(size: number, random: Sfc32): string {
  let text = "";
  for (let i = 0; i < size; i++) text += SIZE_ALPHABET[random.nextBelow(SIZE_ALPHABET.length)];
  return text;
}

/** Values for updates and inserts: records of the same shape as those loaded. */
async function valuePool(size: number | undefined, seed: number): Promise<KvValue[]> {
  const count = size === undefined
    ? VALUE_POOL_SIZE
    : Math.max(1, Math.min(VALUE_POOL_SIZE, Math.floor(VALUE_POOL_MAX_BYTES / size)));
  const text = await new Response(recordStream(count, size, (seed ^ 0x5eed) >>> 0)).text();
  return text.trimEnd().split("\n").map((line) => fromValue(parseRecordLine(line).value, "tagged"));
}

/**
 * The one-line summary of a workload.
 *
 * @example
 * ```ts ignore
 * workloadSummary("C"); // "read only: 100% read"
 * ```
 */
function workloadSummary(workload: Workload): string {
  return WORKLOAD_MIX[workload].summary;
}

/**
 * Loads the records (unless `noLoad`), runs the workload, and reports.
 *
 * @example
 * ```ts
 * const report = await runBench({ servers: "serverFile.txt", workload: "B", durationMs: 10_000 });
 * ```
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const settings = settingsOf(options);
  const { workload, records, pipeline, seed, warmup } = settings;
  const signal = options.signal;
  const clients: Kv[] = [];
  try {
    await connectClients(options, settings.clients, clients);
    // A default k just fixed may replace one the servers forgot (lib/broker/cluster_k.ts).
    const notice = brokerOf(clients[0]).notice;
    if (notice !== undefined) (options.report ?? console.error)(notice);
    await checkServersUp(clients[0], options.report ?? console.error);
    throwIfStopped(signal, "connecting");
    const loadSeconds = options.noLoad ? null : await loadRecords(clients[0], records, options);
    const picker = new OperationPicker({
      workload,
      distribution: settings.distribution,
      recordCount: records,
      seed,
    });
    // A read-only workload writes nothing: no pool to make (about 0.4 s of start-up).
    const pool = WORKLOAD_MIX[workload].mix.read === 1 ? [] : await valuePool(options.size, seed);
    const runOf = (
      count: number | undefined,
      durationMs: number | undefined,
      progress: BenchOptions["progress"],
    ) =>
      new Run({
        picker,
        values: pool,
        operations: count,
        durationMs,
        rate: options.rate,
        bytes: settings.values === "bytes",
        progress,
        signal,
      });
    // The warm-up draws from the same picker: the measured run goes on where it stopped.
    if (warmup > 0) await runOf(warmup, undefined, options.warmupProgress).start(clients, pipeline);
    throwIfStopped(signal, "warming up");
    const operations = options.durationMs === undefined
      ? options.operations ?? DEFAULT_OPERATIONS
      : undefined;
    const run = runOf(operations, options.durationMs, options.progress);
    // Imported here, not at start: node:process cost every kv bench start (and
    // kv bench --help) about 12 ms of CPU for this one reading (README, Tests).
    const { cpuUsage } = await import("node:process");
    const cpuBefore = cpuUsage();
    const seconds = await run.start(clients, pipeline);
    const cpu = cpuUsage(cpuBefore);
    return {
      ...settings,
      loadSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1_000_000,
      interrupted: run.interrupted,
      ...tally(run, seconds),
    };
  } finally {
    for (const client of clients) client.close();
  }
}

/** What a bench of `options` runs, its defaults applied: the report's first part. */
function settingsOf(options: BenchOptions): Pick<
  BenchReport,
  | "workload"
  | "summary"
  | "distribution"
  | "records"
  | "recordShape"
  | "clients"
  | "pipeline"
  | "values"
  | "loop"
  | "rate"
  | "seed"
  | "warmup"
> {
  const workload = options.workload ?? "A";
  const settings = {
    workload,
    summary: workloadSummary(workload),
    distribution: options.distribution ?? "zipfian",
    records: options.records ?? DEFAULT_RECORDS,
    recordShape: options.size === undefined ? "kv gen -d 3 -l 8 -m 6" : `${options.size} bytes`,
    clients: options.clients ?? 1,
    pipeline: options.pipeline ?? 1,
    values: options.values ?? "objects",
    loop: options.rate === undefined ? "closed" as const : "open" as const,
    rate: options.rate ?? null,
    seed: options.seed ?? 1,
    warmup: options.warmup ?? 0,
  };
  invariant(
    settings.records >= 1 && settings.clients >= 1 && settings.pipeline >= 1 &&
      settings.warmup >= 0,
    "bench options are checked",
  );
  return settings;
}

/** Throws a {@link BenchInterruptedError} for `phase` when `signal` has stopped the bench. */
function throwIfStopped(signal: AbortSignal | undefined, phase: BenchPhase): void {
  if (signal?.aborted) throw new BenchInterruptedError(phase);
}

/**
 * Opens `count` clients of the cluster `options` names into `clients`, floats tagged so
 * that a value read back keeps its kind; those opened before a failure are in `clients`
 * for the caller to close.
 */
async function connectClients(options: BenchOptions, count: number, clients: Kv[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    throwIfStopped(options.signal, "connecting");
    clients.push(await connect(connectOptionsOf(options)));
  }
}

/** What a bench connects to, and how: the part of its options {@link connect} takes. */
export type BenchCluster = Pick<
  BenchOptions,
  "servers" | "replicas" | "timeoutMs" | "authFile" | "tlsCa"
>;

function connectOptionsOf(cluster: BenchCluster) {
  return {
    servers: cluster.servers,
    replicas: cluster.replicas,
    timeoutMs: cluster.timeoutMs,
    authFile: cluster.authFile,
    tlsCa: cluster.tlsCa,
    floats: "tagged" as const,
  };
}

/** Deletes {@link deleteBenchRecords} keeps in flight at once. */
export const CLEAN_UP_DELETES_IN_FLIGHT = 64;

/**
 * Deletes every record whose key {@link recordKey} makes (what this bench and earlier ones
 * loaded and inserted; another key that merely starts with {@link BENCH_KEY_PREFIX}, such as
 * `bench-personal-notes`, is a user's and stays), a page of keys at a time, {@link CLEAN_UP_DELETES_IN_FLIGHT} deletes in flight; resolves with how many it
 * deleted. A page listed with a warning (k or more servers down) throws a
 * KvUnavailableError rather than report a clean-up it could not be sure of.
 *
 * @example
 * ```ts
 * const deleted = await deleteBenchRecords({ servers: "serverFile.txt" });
 * console.error(`deleted ${deleted} records`);
 * ```
 */
export async function deleteBenchRecords(cluster: BenchCluster): Promise<number> {
  const client = await connect(connectOptionsOf(cluster));
  try {
    let deleted = 0;
    let after: string | undefined;
    for (;;) {
      const page = await client.keys({ prefix: BENCH_KEY_PREFIX, limit: MAX_KEYS_LIMIT, after });
      if (page.warning !== undefined) throw new KvUnavailableError(page.warning);
      const benchKeys = page.keys.filter(isBenchKey);
      for (let i = 0; i < benchKeys.length; i += CLEAN_UP_DELETES_IN_FLIGHT) {
        const batch = benchKeys.slice(i, i + CLEAN_UP_DELETES_IN_FLIGHT);
        const results = await Promise.all(batch.map((key) => client.delete(key)));
        deleted += results.filter((result) => result.deleted).length;
      }
      if (!page.more || page.keys.length === 0) return deleted;
      after = page.keys[page.keys.length - 1];
    }
  } finally {
    client.close();
  }
}

/**
 * Refuses a cluster with fewer than k servers up (unreachable, or refusing this client's
 * credentials): every write would fail and every read answer NOT FOUND at once, and the
 * figures would measure nothing but the failures. With k or more up and some down, tells
 * `report` so: the figures are then of the servers up (a run with one of four servers hung
 * reported its figures, no error and no warning, and never said so).
 */
async function checkServersUp(client: Kv, report: (message: string) => void): Promise<void> {
  const k = brokerOf(client).k;
  const statuses = await client.servers();
  const down = statuses.filter((status) => !status.up);
  const up = statuses.length - down.length;
  const reasons = down.map((status) => `${status.server}: ${status.error}`).join("; ");
  // A server open to anyone in a cluster this bench was given a secret for: say so, as
  // every other client command does.
  for (const line of brokerOf(client).pool.openServerWarnings()) report(line);
  if (up >= k) {
    if (down.length > 0) {
      report(
        `${down.length} of ${counted(statuses.length, "server")} down (${reasons}): the figures ` +
          `are of the ${up} up`,
      );
    }
    return;
  }
  throw new KvUnavailableError(
    `${up} of ${statuses.length} servers up, fewer than k=${k} (${reasons}); ` +
      "start them (or check --auth-file and --tls-ca) and run again",
  );
}

/**
 * Loads the records through `client` and resolves with the seconds it took; refuses to
 * go on when any could not be stored, since the workload would then read missing records
 * and measure that.
 */
async function loadRecords(client: Kv, records: number, options: BenchOptions): Promise<number> {
  const progress = options.loadProgress ?? NO_PROGRESS;
  const summary = await indexLines(
    brokerOf(client),
    recordStream(records, options.size, options.seed ?? 1, (done) => progress.update(done)),
    {
      fileName: "bench records",
      report: options.report,
      // Drawn by records made, not the indexer's bytes: the generated stream has no size.
      progress: NO_PROGRESS,
      signal: options.signal,
    },
  ).finally(() => progress.finish());
  if (summary.interrupted) throw new BenchInterruptedError("loading");
  invariant(summary.skippedCount === 0, "every generated record line parses");
  if (summary.failedCount > 0) {
    throw new KvUnavailableError(
      `${summary.failedCount} of ${records} records could not be stored on k servers ` +
        "(said above); nothing was measured",
    );
  }
  return summary.seconds;
}

/** The figures of a run that took `seconds`, per operation kind that ran and in all. */
function tally(
  run: Run,
  seconds: number,
): Pick<
  BenchReport,
  "seconds" | "operations" | "throughput" | "errors" | "warnings" | "notFound" | "byOperation"
> {
  const byOperation: Partial<Record<OperationKind, OperationReport>> = {};
  let operations = 0;
  let errors = 0;
  let warnings = 0;
  let notFound = 0;
  for (const kind of OPERATION_KINDS) {
    const stats = run.stats[kind];
    if (stats.count === 0) continue;
    byOperation[kind] = stats.report(seconds);
    operations += stats.count;
    errors += stats.errors;
    warnings += stats.warnings;
    notFound += stats.notFound;
  }
  const throughput = operations / seconds;
  return { seconds, operations, throughput, errors, warnings, notFound, byOperation };
}

const NO_PROGRESS = { update() {}, finish() {} };

/** Resolves after `ms`, or as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** One run of the workload: shared counters and the workers' loop. */
class Run {
  readonly stats = Object.fromEntries(
    OPERATION_KINDS.map((kind) => [kind, new OperationStats()]),
  ) as Record<OperationKind, OperationStats>;
  readonly #picker: OperationPicker;
  readonly #values: KvValue[];
  readonly #operations: number | undefined;
  readonly #durationMs: number | undefined;
  readonly #intervalMs: number | undefined;
  /** Reads take values as bytes (`Kv.getBytes`), not objects. */
  readonly #bytes: boolean;
  readonly #progress: { update(done: number): void; finish(): void } | undefined;
  readonly #signal: AbortSignal | undefined;
  #issued = 0;
  #done = 0;
  #startMs = 0;
  #interrupted = false;
  /** The clock's reading {@link Run.#clock} shares; undefined between hand-overs. */
  #clockMs: number | undefined;
  /** Forgets #clockMs once the operations resumed with it have run; made once. */
  readonly #forgetClock = (): void => {
    this.#clockMs = undefined;
  };

  constructor(options: {
    picker: OperationPicker;
    /** What writes store, cycled; empty for a workload that only reads. */
    values: KvValue[];
    operations: number | undefined;
    durationMs: number | undefined;
    rate: number | undefined;
    bytes: boolean;
    progress: { update(done: number): void; finish(): void } | undefined;
    /** Stops the run: no more operations are taken. */
    signal: AbortSignal | undefined;
  }) {
    this.#picker = options.picker;
    this.#values = options.values;
    this.#operations = options.operations;
    this.#durationMs = options.durationMs;
    this.#intervalMs = options.rate === undefined ? undefined : 1000 / options.rate;
    this.#bytes = options.bytes;
    this.#progress = options.progress;
    this.#signal = options.signal;
  }

  /** Whether the signal ended the run before its operations or duration were done. */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** Runs `pipeline` workers per client until done; resolves to the seconds taken. */
  async start(clients: Kv[], pipeline: number): Promise<number> {
    this.#startMs = performance.now();
    const workers: Promise<void>[] = [];
    for (const client of clients) {
      for (let i = 0; i < pipeline; i++) workers.push(this.#work(client));
    }
    await Promise.all(workers);
    const seconds = (performance.now() - this.#startMs) / 1000;
    this.#progress?.finish();
    return seconds;
  }

  /**
   * The time the next operation is due (ms, performance.now()'s clock), or undefined
   * when the run is over; `now` is that clock read last. Closed loop: now.
   */
  #take(now: number): number | undefined {
    // Judged by its offset from the start, not by `due - start`: (start + offset) - start
    // can round below the offset, which let a run at 2000 a second for 1 s issue 2001.
    const offset = this.#intervalMs === undefined
      ? now - this.#startMs
      : this.#issued * this.#intervalMs;
    if (this.#operations !== undefined && this.#issued >= this.#operations) return undefined;
    if (this.#durationMs !== undefined && offset >= this.#durationMs) return undefined;
    if (this.#durationMs !== undefined && now - this.#startMs >= this.#durationMs) return undefined;
    if (this.#signal?.aborted) {
      this.#interrupted = true;
      return undefined;
    }
    this.#issued++;
    return this.#intervalMs === undefined ? now : this.#startMs + offset;
  }

  /**
   * performance.now(), read once for the operations whose answers the event loop hands
   * over together (the 32 of a pipelined batch resume one after another in one run of
   * promise jobs): the first to resume reads it, and a job queued behind the others
   * forgets it, so a later hand-over reads the clock again. redis-benchmark likewise
   * takes one reading per batch of pipelined replies; a reading per operation, an API
   * call into Deno's runtime, was about 4 % of kv bench's CPU at 32 in flight.
   */
  #clock(): number {
    if (this.#clockMs === undefined) {
      this.#clockMs = performance.now();
      queueMicrotask(this.#forgetClock);
    }
    return this.#clockMs;
  }

  async #work(client: Kv): Promise<void> {
    // The end of one operation is when the next is taken (its clock shared as #clock says).
    let now = performance.now();
    let failuresInARow = 0;
    for (let due = this.#take(now); due !== undefined; due = this.#take(now)) {
      // Open loop: the operation waits until it is due. Closed loop: it is due when taken.
      // Either way its latency counts from `due`.
      if (this.#intervalMs !== undefined) {
        const wait = due - performance.now();
        if (wait > 0) await pause(wait, this.#signal);
        // Stopped while it waited to be due: taken, never sent, so neither run nor counted
        // (a worker could otherwise send it up to clients × pipeline ÷ rate seconds later).
        if (this.#signal?.aborted) {
          this.#interrupted = true;
          return;
        }
      }
      const operation = this.#picker.next();
      const stats = this.stats[operation.kind];
      let failed = false;
      try {
        // A read, most operations, is awaited here rather than through #perform's promise.
        if (operation.kind === "read") {
          countRead(await this.#read(client, recordKey(operation.index)), stats);
        } else await this.#perform(client, operation, stats);
      } catch (error) {
        if (!(error instanceof KvError)) throw error;
        failed = true;
        stats.firstError ??= error.message;
      }
      now = this.#clock();
      if (failed) stats.errors++;
      else stats.latency.record(now - due);
      stats.count++;
      this.#done++;
      if (operation.kind === "insert") this.#picker.acknowledge(operation.index);
      this.#progress?.update(this.#durationMs === undefined ? this.#done : now - this.#startMs);
      failuresInARow = failed ? failuresInARow + 1 : 0;
      if (failed) {
        // A failure may have come without I/O (every server down), and so may the next:
        // without a timer's turn the signal's listener, a macrotask, would never run.
        const pauseMs = failuresInARow >= FAILURES_BEFORE_PAUSE ? FAILURE_PAUSE_MS : 0;
        await pause(pauseMs, this.#signal);
        now = performance.now();
      }
    }
  }

  /** Reads `key` as the run takes values: objects or bytes. */
  #read(client: Kv, key: string): Promise<KvEntry | KvBytesEntry> {
    return this.#bytes ? client.getBytes(key) : client.get(key);
  }

  /** The value a write of `operation` stores, cycling through the pool. */
  #valueFor(operation: Operation): KvValue {
    invariant(this.#values.length > 0, "a workload that writes has a value pool");
    return this.#values[operation.index % this.#values.length];
  }

  async #perform(client: Kv, operation: Operation, stats: OperationStats): Promise<void> {
    const key = recordKey(operation.index);
    switch (operation.kind) {
      case "read":
        countRead(await this.#read(client, key), stats);
        return;
      case "update":
      case "insert":
        await client.put(key, this.#valueFor(operation));
        return;
      case "scan": {
        // A short scan: records whose keys start with this one's, in key order.
        for await (const _ of client.list({ prefix: key, limit: operation.scanLength })) {
          // Each entry is read by list(); nothing more to do with it here.
        }
        return;
      }
      case "read-modify-write": {
        // Read, then write the record back changed (YCSB changes one field; a kv PUT is whole).
        countRead(await this.#read(client, key), stats);
        await client.put(key, this.#valueFor(operation));
        return;
      }
    }
  }
}

/**
 * Counts what a read's answer says: a warning, nothing found. A read none of its key's
 * replicas answered is no answer: the library throws it (a KvUnavailableError), and the
 * read counts as failed.
 */
function countRead(entry: KvEntry | KvBytesEntry, stats: OperationStats): void {
  if (entry.warning !== undefined) stats.warnings++;
  if (entry.value === null) stats.notFound++;
}
