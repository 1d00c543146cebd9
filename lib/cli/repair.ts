/**
 * `kv repair`: brings every key of a cluster to its newest version on its first k
 * servers, moves hints home, removes copies from servers the list no longer places
 * them on and purges confirmed tombstones (the engine is lib/broker/repair.ts), then
 * reports what it did. `-k N` changes the k the servers record first; `--dry-run`
 * changes nothing and exits 1 when anything is out of place, for scripts and monitoring.
 *
 * @example
 * ```sh
 * kv repair -s serverFile.txt            # after adding, removing or replacing a server
 * kv repair -s serverFile.txt --dry-run --json
 * ```
 * @module
 */
import { Placement } from "../broker/placement.ts";
import { repairCluster, type RepairReport } from "../broker/repair.ts";
import { MAX_SERVERS, readServerList, ServerFileError } from "../broker/server_list.ts";
import { DEFAULT_TIMEOUT_MS, lineLead, MAX_TIMEOUT_MS, ServerPool } from "../broker/server_pool.ts";
import { ProgressBar } from "../base/progress.ts";
import { writeLine } from "../base/stdout.ts";
import { counted, listed } from "../base/plural.ts";
import { fileOrNumberFlag, intFlag, parseFlags } from "./args.ts";
import { serverFile, SERVERS_FLAG_HELP, withServerFileSource } from "./oneshot.ts";
import { repairCommandLine } from "./shell_command.ts";
import { type ListChange, listChangeNotice } from "./list_change_notice.ts";
import { serverFileFailure, serverListedTwice } from "./open_broker.ts";
import { ksByCount, recordedKs } from "../broker/cluster_k.ts";
import { listFingerprint, sameList } from "../broker/list_fingerprint.ts";
import {
  clientCredentials,
  credentialsRefusedError,
  SECURITY_FLAGS,
  SECURITY_HELP,
} from "./security_flags.ts";
import type { Subcommand } from "./subcommand.ts";
import {
  SIGNAL_EXIT_CODES,
  STOPPED_WORDS,
  type StopSignal,
  USAGE_EXIT_CODE,
  UserError,
} from "./user_error.ts";
import { type StopWatch, watchStopSignals } from "./stop_signals.ts";

/** Exit code: the cluster is in order. */
export const EXIT_IN_ORDER = 0;
/**
 * Exit code: something could not be repaired, or a list or k change was refused (a server
 * down at the start: a mistyped line cannot be told from one), or (`--dry-run`) something
 * is out of place.
 */
export const EXIT_NOT_IN_ORDER = 1;

/** kv repair's flags as parsed. */
type RepairFlags = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

const FLAGS = {
  servers: { type: "string", short: "s" },
  replicas: { type: "string", short: "k" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  "timeout-ms": { type: "string" },
  ...SECURITY_FLAGS,
} as const;

const HELP = `Usage: kv repair [-s serverFile] [-k N] [--dry-run] [--json] [flags]

Brings every key to its newest version on its first k servers of the list, moves
hints home, removes copies from servers the list no longer places them on (only
once the proper replicas hold the newest version) and purges tombstones
confirmed on every replica. Replicas that already agree are compared by digest,
not copied. After adding, removing or replacing a server: edit the server file,
run this.

Flags:
${SERVERS_FLAG_HELP}
  -k, --replicas N       make N the cluster's replication factor, 1..${MAX_SERVERS}
                         and at most the servers listed (every server records
                         it), then repair; default: the k the servers record
      --dry-run          change nothing; print what a repair would do
      --json             print the report as one JSON object on one line
      --timeout-ms MS    connect and request timeout per server, 1..${MAX_TIMEOUT_MS}
                         (default ${DEFAULT_TIMEOUT_MS})
${SECURITY_HELP}
  -h, --help             show this help

Exit codes:
  ${EXIT_IN_ORDER}  the cluster is in order
  ${EXIT_NOT_IN_ORDER}  something could not be repaired (the servers and keys are named on
     stderr), or a change of the server list or k was refused, nothing
     changed, as a server did not answer at the start; with --dry-run,
     a server is down (a run that would be refused says so first) or
     something is out of place
  ${USAGE_EXIT_CODE}  a user error: bad flags or files, credentials the servers refuse
     (one line on stderr)`;

/**
 * `kv repair`, for lib/cli/run.ts's table.
 *
 * @example
 * ```ts
 * const code = await repairCommand.run(["-s", "serverFile.txt", "--dry-run"]);
 * ```
 */
export const repairCommand: Subcommand = {
  name: "repair",
  help: HELP,
  run: runRepair,
};

async function runRepair(args: string[]): Promise<number> {
  const { values } = parseFlags("repair", args, FLAGS, { meantFlag: fileOrNumberFlag("-s") });
  const { path, servers, requestedK, timeoutMs } = await repairTarget(values);
  const credentials = await clientCredentials("repair", values);
  const pool = new ServerPool(servers, { timeoutMs, credentials });
  const json = values.json ?? false;
  const dryRun = values["dry-run"] ?? false;
  const progress: ProgressHolder = {};
  let interruption: StopWatch | undefined;
  try {
    await pool.start();
    if (!answeredAtStart(pool, values, path, requestedK)) return EXIT_NOT_IN_ORDER;
    // Said as every other client says it: `kv repair --dry-run` is the monitoring check.
    for (const line of pool.openServerWarnings()) console.error(`kv repair: ${line}`);
    const k = clusterK(pool, requestedK, path);
    // A k change is rerun with its -k: a server it missed still records the old k, and a
    // rerun without one would be refused (different k) or repair under the old one.
    const again = repairCommandLine(path, values) +
      (requestedK === undefined ? "" : ` -k ${requestedK}`);
    interruption = watchInterruption(progress, dryRun, again);
    const previous = recordedKs(pool);
    const refusal = downBeforeChange(pool, k, path, again, dryRun);
    // A dry run says so and goes on counting: the server down fails it (exit 1) anyway.
    if (refusal !== undefined) console.error(`kv repair: ${refusal.message}`);
    if (refusal !== undefined && !dryRun) {
      // A monitor reading --json learns of the refusal from the report, as of any run.
      const said = { refused: refusal, kChange: null, listChange: null, stopped: null };
      if (json) printReport(NOTHING_DONE, k, json, again, said);
      return EXIT_NOT_IN_ORDER;
    }
    const notice = refusal === undefined ? listChangeNotice(pool, k, path, { dryRun }) : undefined;
    if (!dryRun) {
      const kFailures = await recordK(pool, k, requestedK !== undefined);
      if (kFailures.length > 0) {
        const message = await kNotRecorded(pool, k, previous, kFailures, again);
        console.error(`kv repair: ${message}`);
        const stopped = { servers: kFailures.map((failure) => failure.server), message };
        if (json) printStopped(k, false, stopped);
        return EXIT_NOT_IN_ORDER;
      }
    }
    const change = kChange(previous, k, dryRun);
    if (change !== undefined) console.error(`kv repair: ${change.message}`);
    if (notice !== undefined) console.error(`kv repair: ${notice.message}`);
    const said = {
      refused: refusal ?? null,
      kChange: change ?? null,
      listChange: notice ?? null,
      stopped: null,
    };
    const report = await repairPass(pool, k, dryRun, progress);
    printReport(report, k, json, again, said);
    printGoneAdvice(report, pool, path, again);
    return report.inOrder ? EXIT_IN_ORDER : EXIT_NOT_IN_ORDER;
  } finally {
    interruption?.dispose();
    pool.close();
  }
}

/** The repair's progress bar, once its first progress drew one. */
interface ProgressHolder {
  bar?: ProgressBar;
}

/** The signals that stop a run part way, each saying so (before them, a run changed nothing). */
const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM"];

/**
 * Ends the run on Ctrl-C or SIGTERM with one line and the signal's exit code: it died
 * without a word, the progress bar left on the screen, the cluster part repaired (a list
 * or k change leaves servers trusted under no list) and no word of what to run. Exiting
 * at once is what being killed did, which loses nothing (README, kv repair): each step
 * runs only when the one before succeeded everywhere, and `again` finishes the work.
 */
function watchInterruption(progress: ProgressHolder, dryRun: boolean, again: string): StopWatch {
  return watchStopSignals(STOP_SIGNALS, (signal) => {
    progress.bar?.finish();
    const left = dryRun
      ? "a dry run, nothing changed"
      : "the cluster may not be in order until a repair runs to its end; run it again: " + again;
    console.error(`kv repair: ${STOPPED_WORDS[signal]} part way: ${left}`);
    Deno.exit(SIGNAL_EXIT_CODES[signal]);
  });
}

/**
 * Whether the servers of `path` let the run go on once `pool` started: throws the
 * UserError of credentials they all refused or a server listed twice, and says (on stderr,
 * and in a --json report) when no server answered.
 */
function answeredAtStart(
  pool: ServerPool,
  values: RepairFlags,
  path: string,
  requestedK: number | undefined,
): boolean {
  const refused = credentialsRefusedError("repair", pool.credentialsRefused(), values);
  if (refused !== undefined) throw refused;
  const twins = pool.twins();
  if (twins.length > 0) throw serverListedTwice("repair", path, twins);
  if (pool.upCount > 0) return true;
  const reasons = pool.servers.map((_, index) => pool.downReason(index)).join("; ");
  const message = `no server of ${path} answered (${reasons})`;
  console.error(`kv repair: ${message}`);
  // No server told a k: the one asked for, if any.
  const stopped = { servers: pool.servers.map((server) => server.id), message };
  if (values.json ?? false) printStopped(requestedK ?? null, values["dry-run"] ?? false, stopped);
  return false;
}

/** The repair itself, under `k`, once its servers are checked and told what it changes. */
function repairPass(
  pool: ServerPool,
  k: number,
  dryRun: boolean,
  progress: ProgressHolder,
): Promise<RepairReport> {
  // Servers repaired under another list or k than this one's are repaired and marked anew.
  pool.trustUnder(k);
  return withProgress(progress, (onProgress) =>
    repairCluster(pool, {
      k,
      placement: new Placement(pool.servers.map((server) => server.identity)),
      dryRun,
      listTombstones: true,
      listChange: true,
      unrepaired: (index) => pool.trusted(index) === false,
      onProgress,
    }));
}

/**
 * What the flags ask the repair of, checked before anything connects: the server file
 * (`path`) and its servers, the k requested (-k; undefined when not given) and the
 * timeout. A UserError names the first flag or file that is wrong.
 */
async function repairTarget(values: RepairFlags) {
  const path = serverFile(values.servers);
  const servers = await readServerList(path).catch((error) => {
    if (!(error instanceof ServerFileError)) throw error;
    throw serverFileFailure(
      error,
      `kv repair: ${withServerFileSource(error.message, values.servers)}`,
    );
  });
  const requestedK = values.replicas === undefined
    ? undefined
    : intFlag("repair", "-k", values.replicas, { min: 1, max: MAX_SERVERS });
  if (requestedK !== undefined && requestedK > servers.length) {
    throw new UserError(
      `kv repair: -k ${requestedK} needs at least ${requestedK} servers, but ${path} lists ` +
        `${servers.length}`,
    );
  }
  const timeoutMs = intFlag("repair", "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  return { path, servers, requestedK, timeoutMs };
}

/**
 * The k to repair with: `requested` (-k), else the one the servers that answered
 * record; a UserError when none records one or they disagree.
 */
function clusterK(pool: ServerPool, requested: number | undefined, path: string): number {
  if (requested !== undefined) return requested;
  const recorded = recordedKs(pool);
  if (recorded.size === 0) {
    // Servers that did not answer may record one: saying "yet" would send the user to guess.
    const down = pool.servers.length - pool.upCount;
    throw new UserError(
      down === 0
        ? `kv repair: no server of ${path} records the cluster's k yet; give it with -k N`
        : `kv repair: no reachable server of ${path} records the cluster's k, and ${down} ` +
          `of its ${pool.servers.length} did not answer (they may); start them, or give it ` +
          "with -k N if you know it",
    );
  }
  if (recorded.size > 1) {
    const which = [...recorded].map(([k, ids]) => `k ${k} on ${ids.join(", ")}`).join("; ");
    const choices = ksByCount(recorded).map((k) => `-k ${k}`).join(" or ");
    throw new UserError(
      `kv repair: the servers of ${path} record different k (${which}); give the one to keep ` +
        `with ${choices}`,
    );
  }
  const [k] = recorded.keys();
  if (k > pool.servers.length) {
    throw new UserError(
      `kv repair: the servers record k ${k}, but ${path} lists ${pool.servers.length}; add ` +
        "servers, or change k with -k N",
    );
  }
  return k;
}

/**
 * A change refused before anything changed ({@link downBeforeChange}), as the --json
 * report's `refused` carries it.
 */
interface ChangeRefusal {
  /** The servers of the list that did not answer at the start (or turned the run away). */
  readonly down: readonly string[];
  /** The line said on stderr, without its `kv repair: `. */
  readonly message: string;
}

/**
 * A run stopped before it read any data, as the --json report's `stopped` carries it: no
 * server answered, or a server could not record k ({@link kNotRecorded}).
 */
interface RunStopped {
  /** Every server of the list (none answered), or those that could not record k. */
  readonly servers: readonly string[];
  /** The line said on stderr, without its `kv repair: `. */
  readonly message: string;
}

/**
 * What a run says on stderr before its first step, carried by the --json report too, so a
 * monitor tells a refused change from a server found down, sees a list change, and a run
 * stopped before its first step: null when not said.
 */
interface SaidBefore {
  readonly refused: ChangeRefusal | null;
  readonly kChange: KChange | null;
  readonly listChange: ListChange | null;
  readonly stopped: RunStopped | null;
}

/** The report of a run refused or stopped before it read anything: nothing done, not in order. */
const NOTHING_DONE: RepairReport = {
  keysChecked: 0,
  copiesWritten: 0,
  copiesRemoved: 0,
  tombstonesPurged: 0,
  bytesMoved: 0,
  dryRun: false,
  seconds: 0,
  partitionsListed: 0,
  keysOutOfPlace: 0,
  markedRepaired: [],
  stillUnrepaired: [],
  failures: [],
  inOrder: false,
};

/**
 * Why this run must change nothing, with its line, else undefined: it would change the server
 * list or k the servers are repaired under — a server that answered records another k, or
 * is marked repaired under another list or k — and a server of the list did not answer at
 * the start. Such a run re-marks every server (and records the new k) before it reads any
 * data, and marks them under the new list only if every server answers to its end: run
 * with one down, it ends with exit 1 and every server untrusted, so every read warns until
 * a rerun. Refused before anything changed, the cluster goes on under its old list and k.
 * A server marked `ff…ff` (a change stopped half way) is trusted by no client already, so
 * it alone refuses nothing: the rerun repairs what it can, as a run that changes nothing
 * does. A server that goes down after this check still leaves the servers re-marked: that
 * run exits 1 and names the command to rerun. A dry run (`dryRun`) is told the same, as what
 * a run would meet: the dry run first the README advises must not pass over it.
 */
function downBeforeChange(
  pool: ServerPool,
  k: number,
  path: string,
  again: string,
  dryRun: boolean,
): ChangeRefusal | undefined {
  const indexes = pool.servers.map((_, index) => index);
  const down = indexes.filter((index) => !pool.isUp(index));
  if (down.length === 0) return undefined;
  const list = listFingerprint(pool.servers.map((server) => server.identity), k);
  const changes = indexes.some((index) => {
    const state = pool.state(index);
    if (state === undefined) return false;
    return (state.k !== 0 && state.k !== k) ||
      (!state.unrepaired && !sameList(state.repairedUnder, list) && !pool.markedChanging(index));
  });
  if (!changes) return undefined;
  const [outcome, run] = dryRun
    ? ["dry run: a run would be refused, changing nothing", "a run would change"]
    : ["nothing was changed", "this run changes"];
  // A server that turned this client away (credentials, TLS, kv version, no kv server, BUSY) is
  // running: starting it is no cure, and its own words (the pool's) say what is.
  const stopped = down.filter((index) => pool.refusal(index) === undefined && !pool.isBusy(index));
  const turnedAway = down.length - stopped.length;
  const mend = turnedAway === 0
    ? ""
    : ` Once ${turnedAway === 1 ? "that is" : "those are"} mended, run ${again}` +
      (stopped.length === 0 ? "" : ".");
  const stoppedAdvice = stopped.length === 0 ? "" : downAdvice(
    stopped.map((index) => pool.servers[index].id),
    turnedAway > 0,
    path,
    again,
  );
  const message = `${outcome}: ${down.map((index) => downNamed(pool, index)).join("; ")}, ` +
    `and ${run} the server list or k the servers are repaired under, which it ` +
    `starts only once every server of ${path} answers (stopped half way, it would leave ` +
    `every server untrusted until run again).${mend}${stoppedAdvice}`;
  return { down: down.map((index) => pool.servers[index].id), message };
}

/**
 * Server `index`, not up, as {@link ServerPool.downMessage} names it, led by its
 * `file:line:col` when that line may be the fix (no kv server answers there, or a TLS server
 * does) or names a kv server of another version (lineLead), as every other client names it
 * (CredentialsRefusedError).
 */
function downNamed(pool: ServerPool, index: number): string {
  return `${lineLead(pool.refusal(index), pool.servers[index].where)}${pool.downMessage(index)}`;
}

/**
 * What to do about servers `ids` that did not answer a change's start (a mistyped line, a
 * server stopped or gone for good), after a sentence: named when other servers were named
 * too (`named`), which turned the client away.
 */
function downAdvice(ids: readonly string[], named: boolean, path: string, again: string): string {
  const one = ids.length === 1;
  const which = one ? "its line is" : "their lines are";
  const lead = named ? ` As for ${ids.join(", ")}: if` : " If";
  return `${lead} ${which} mistyped, correct ${one ? "it" : "them"}; if ${
    one ? "it is" : "they are"
  } stopped, start ${one ? "it" : "them"}; then run ${again}. If ${
    one ? "it is" : "they are"
  } gone for good, delete ${one ? "its line" : "their lines"} from ${path} and run the ` +
    `same: the other replicas of ${one ? "its" : "their"} keys are the source (with k = 1 a ` +
    "lost server's records are lost with it)";
}

/** A server that could not record the repair's k: why, and whether it went down. */
interface KFailure {
  /** The server's id. */
  readonly server: string;
  readonly line: string;
  /** Its connection failed (it went down under the repair), rather than its answer. */
  readonly down: boolean;
}

/** A change of the k the servers record, as the --json report's `kChange` carries it. */
interface KChange {
  /** The ks the servers recorded before the run (more than one: a `-k` cut off), ascending. */
  readonly from: readonly number[];
  /** The k they record now (a dry run's: would record). */
  readonly to: number;
  /** The line said on stderr, without its `kv repair: `. */
  readonly message: string;
}

/**
 * The change of the cluster's k this run makes (`-k N` where the servers, `previous`,
 * record another), with the line saying what that does to the copies, else undefined: a
 * mistyped `-k 1` removes every key's other copies, and the report's counts alone did not
 * say why.
 */
function kChange(previous: Map<number, string[]>, k: number, dryRun: boolean): KChange | undefined {
  const from = [...previous.keys()].filter((old) => old !== 0 && old !== k).sort((a, b) => a - b);
  if (from.length === 0) return undefined;
  const effect = from.every((old) => old > k)
    ? `each key keeps ${k === 1 ? "1 copy" : `${k} copies`}, its others are removed`
    : `each key is held by ${counted(k, "server")}`;
  const message = `${dryRun ? "would change" : "changed"} the cluster's k from ${
    from.join(" and ")
  } to ${k}: ${effect}`;
  return { from, to: k, message };
}

/**
 * Records `k` on every server that is up: replacing what they record when `replace` (-k
 * given), else only on servers recording none (servers new to the cluster). Resolves
 * with one {@link KFailure} for each server that could not record it.
 */
async function recordK(pool: ServerPool, k: number, replace: boolean): Promise<KFailure[]> {
  const outcomes = await Promise.all(pool.servers.map((server, index) => {
    const state = pool.state(index);
    if (state === undefined || (!replace && state.k !== 0)) return undefined;
    return pool.call(index, (connection) => connection.setK(k, { replace })).then((outcome) => {
      if (!outcome.ok) {
        const line = `${server.id}: could not record k ${k}: ${outcome.error}`;
        return { server: server.id, line, down: outcome.unreachable };
      }
      if (outcome.value !== k) {
        const line = `${server.id} keeps k ${outcome.value}, not ${k}`;
        return { server: server.id, line, down: false };
      }
      return undefined;
    });
  }));
  return outcomes.filter((failure) => failure !== undefined);
}

/**
 * The one line printed when some server could not record `k` (`failures`, from
 * {@link recordK}) and the repair stops before reading any data. A k change (the servers
 * agreed on one other k, `previous`) is undone on the servers it reached, so clients go on
 * under the old k rather than being refused for different ks until a rerun; the line says
 * whether that worked, and names the command (`again`) to run once the cause is fixed.
 */
async function kNotRecorded(
  pool: ServerPool,
  k: number,
  previous: ReadonlyMap<number, readonly string[]>,
  failures: readonly KFailure[],
  again: string,
): Promise<string> {
  const [old] = previous.keys();
  const undo = previous.size === 1 && old !== 0 && old !== k;
  const reached = pool.servers.flatMap((_, index) => pool.state(index)?.k === k ? [index] : []);
  const undone = undo ? await recordKOn(pool, reached, old) : [];
  const outcome = !undo
    ? ""
    : undone.length === 0
    ? `; the servers that had recorded it were put back to k ${old}, so clients go on under it`
    : `; putting k ${old} back failed too (${undone.join("; ")}): clients are refused until ` +
      "the rerun";
  const which = failures.length === 1 ? "that server" : "those servers";
  const lines = failures.map((failure) => failure.line).join("; ");
  // A server that went down between its HELLO and its SET_K has no disk to free: it was
  // told "(a full disk: free space)" all the same.
  const fix = failures.every((failure) => failure.down)
    ? `Once ${which} ${failures.length === 1 ? "answers" : "answer"} again,`
    : failures.some((failure) => failure.down)
    ? `Start those down again and fix the others (a full disk: free space), then`
    : `Fix ${which} (a full disk: free space), then`;
  return `${lines}; nothing was repaired${outcome}. ${fix} run ${again}`;
}

/** Records `k`, replacing any other, on the servers `indexes`; resolves with the failures. */
async function recordKOn(pool: ServerPool, indexes: number[], k: number): Promise<string[]> {
  const outcomes = await Promise.all(indexes.map(async (index) => {
    const outcome = await pool.call(index, (connection) => connection.setK(k, { replace: true }));
    return outcome.ok ? undefined : `${pool.servers[index].id}: ${outcome.error}`;
  }));
  return outcomes.filter((line) => line !== undefined);
}

/** Runs `repair` with a progress line on stderr when it is a terminal. */
async function withProgress(
  progress: ProgressHolder,
  repair: (onProgress: (progress: { keysChecked: number; keysTotal: number }) => void) => Promise<
    RepairReport
  >,
): Promise<RepairReport> {
  try {
    return await repair(({ keysChecked, keysTotal }) => {
      progress.bar ??= new ProgressBar({ label: "kv repair: keys checked", total: keysTotal });
      progress.bar.update(keysChecked);
    });
  } finally {
    progress.bar?.finish();
  }
}

/**
 * Prints the --json report of a run (a `dryRun` or not) `stopped` before it read anything,
 * under `k` (null: no server told one and none was asked for): every count 0, as a refused
 * run's.
 */
function printStopped(k: number | null, dryRun: boolean, stopped: RunStopped): void {
  const said = { refused: null, kChange: null, listChange: null, stopped };
  writeLine(JSON.stringify({ ...NOTHING_DONE, dryRun, k, ...said }));
}

/**
 * Prints the report: one JSON line, with what was `said` before the run, or the counts one
 * a line (what was said is on stderr already); failures go to stderr, and why a server is
 * left unmarked with the command (`again`) that marks it once they are fixed.
 */
function printReport(
  report: RepairReport,
  k: number,
  json: boolean,
  again: string,
  said: SaidBefore,
): void {
  if (json) {
    writeLine(JSON.stringify({ ...report, k, seconds: round(report.seconds), ...said }));
  } else {
    const rows: [string, string][] = [
      ["keys checked", `${report.keysChecked}`],
      ["copies written", `${report.copiesWritten}`],
      ["copies removed", `${report.copiesRemoved}`],
      ["tombstones purged", `${report.tombstonesPurged}`],
      ["bytes moved", `${report.bytesMoved}`],
      ["seconds", round(report.seconds).toFixed(2)],
    ];
    const width = Math.max(...rows.map(([name]) => name.length));
    for (const [name, value] of rows) writeLine(`${name.padEnd(width)}  ${value}`);
    writeLine(verdict(report));
  }
  for (const failure of report.failures) {
    const partitions = failure.partitions > 0
      ? `, ${counted(failure.partitions, "partition")} not checked`
      : "";
    console.error(
      `kv repair: ${failure.server}: ${counted(failure.keys, "key")} not repaired${partitions} ` +
        `(${failure.error})`,
    );
  }
  // A server is marked only by a repair every server answered (lib/broker/repair.ts).
  const unmarked = report.stillUnrepaired;
  if (unmarked.length === 0) return;
  const one = unmarked.length === 1;
  const advice = report.failures.length === 0 || report.dryRun
    ? ""
    : `: ${one ? "it is" : "they are"} marked only once every server answers; fix the ${
      report.failures.length === 1 ? "one" : "ones"
    } above, then run ${again}`;
  console.error(
    `kv repair: ${listed(unmarked)} ${one ? "is" : "are"} still not marked repaired under ` +
      `this server list and k${advice}`,
  );
}

/**
 * After a run that found servers down: what to do when one will not come back (its
 * machine lost). "Fix the one above" cannot be done then, and README's replacement by a
 * list with both servers needs the old one up; its line deleted, its keys' other
 * replicas are the source. Not for a server that turned the run away (credentials, TLS,
 * another kv version, no kv server, BUSY): it is running, and its failure line says what
 * will mend it.
 */
function printGoneAdvice(report: RepairReport, pool: ServerPool, path: string, again: string) {
  const down = report.failures.map((failure) => failure.server).filter((id) => {
    const index = pool.servers.findIndex((server) => server.id === id);
    return !pool.isUp(index) && pool.refusal(index) === undefined && !pool.isBusy(index);
  });
  if (down.length === 0) return;
  const one = down.length === 1;
  console.error(
    `kv repair: if ${listed(down)} ${one ? "is" : "are"} gone for good, delete ${
      one ? "its line" : "their lines"
    } from ${path} and run ${again}: the other replicas of ${
      one ? "its" : "their"
    } keys are the source (with k = 1 a lost server's records are lost with it); if ${
      one ? "its line is" : "their lines are"
    } mistyped, correct ${one ? "it" : "them"} and run the same`,
  );
}

/** The last line of the human report: what state the cluster is in. */
function verdict(report: RepairReport): string {
  const marked = report.markedRepaired.length > 0
    ? `; marked repaired: ${report.markedRepaired.join(", ")}`
    : "";
  if (report.dryRun) {
    return report.inOrder
      ? "dry run: the cluster is in order"
      : `dry run, nothing changed: ${counted(report.keysOutOfPlace, "key")} out of place` +
        (report.stillUnrepaired.length > 0
          ? `, not repaired under this server list and k: ${report.stillUnrepaired.join(", ")}`
          : "") +
        // A server down is why a dry run found nothing out of place on it: "0 keys" alone read
        // as a cluster in order, beside exit 1.
        (report.failures.length > 0 ? `; ${counted(report.failures.length, "server")} failed` : "");
  }
  return report.inOrder
    ? `the cluster is in order${marked}`
    : `the cluster is not in order: ${counted(report.failures.length, "server")} failed${marked}`;
}

/** Seconds to hundredths. */
function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}
