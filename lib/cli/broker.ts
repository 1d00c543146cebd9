/**
 * `kv broker`: connects to the servers of a server file, optionally indexes a
 * data file into them with replication factor k, then answers GET, QUERY,
 * DELETE, PUT, KEYS and SERVERS commands from standard input (a REPL on a
 * terminal). See {@link brokerCommand}'s help text for every flag.
 *
 * @example
 * ```sh
 * kv broker -s serverFile.txt -i dataToIndex.txt -k 2
 * ```
 * @module
 */
import { shellWord } from "../base/shell_word.ts";
import { type Broker, WRITE_RULES, type WriteRule } from "../broker/broker.ts";
import { BackgroundRepair } from "../broker/background_repair.ts";
import { namedServers } from "../broker/cluster_k.ts";
import {
  noServerReachable,
  openBroker,
  replicasFlag,
  serverFileFailure,
  serverListedTwice,
  START_SERVERS_ADVICE,
  unreachableServers,
} from "./open_broker.ts";
import { formatIndexSummary, indexFile, indexLines } from "../broker/indexer.ts";
import { readRawLineBatches } from "../base/line_reader.ts";
import type { Dialect } from "../record/format.ts";
import { LogSink, runInteractive, runSession, type SessionSummary } from "../broker/repl.ts";
import { PIPELINE_WINDOW } from "../broker/pipeline.ts";
import { readServerList, type ServerAddress, ServerFileError } from "../broker/server_list.ts";
import type { TerminalOutput } from "../base/line_editor.ts";
import { openHistory } from "./history.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, startLines } from "../broker/server_pool.ts";
import { choiceFlag, intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { EndlessLineError } from "../base/line_reader.ts";
import { clientCredentials, SECURITY_FLAGS, SECURITY_HELP } from "./security_flags.ts";
import type { Credentials } from "../protocol/credentials.ts";
import {
  SIGNAL_EXIT_CODES,
  type StopSignal,
  UnavailableError,
  USAGE_EXIT_CODE,
  UserError,
} from "./user_error.ts";
import { describeFsError, isFsError } from "../base/fs_error.ts";
import { isDumbTerminal } from "../base/terminal.ts";
import { EXIT_UNAVAILABLE } from "./oneshot.ts";
import { repairCommandLine } from "./shell_command.ts";
import { readStdin } from "./stdin.ts";
import { watchStopSignals } from "./stop_signals.ts";
import { counted } from "../base/plural.ts";
import { Logger } from "../base/logger.ts";

/** Exit code of `--index-only` when some records could not be stored on all k replicas. */
export const INDEX_FAILED_EXIT_CODE = 1;

const DIALECTS: readonly Dialect[] = ["assignment", "python", "bare"];

/** The `-i` value that means standard input. */
const STDIN_PATH = "-";

/** What messages call standard input. */
const STDIN_NAME = "stdin";

/** The `-i` input as messages name it: its path, or `stdin` for {@link STDIN_PATH}. */
function inputName(dataPath: string): string {
  return dataPath === STDIN_PATH ? STDIN_NAME : dataPath;
}

const HELP = `Usage: kv broker -s serverFile [-i dataFile] [-k replicas] [flags]

Connects to the servers listed in serverFile, indexes dataFile into them (each
record on k servers), then answers commands from standard input: a REPL with
history and tab completion on a terminal, one answer per line otherwise.

Flags:
  -s, --servers FILE     servers, one per line: 'IP PORT' or 'HOST:PORT'
                         ([::1]:8000); blank lines and # comments are ignored
                         (required)
  -i, --index FILE       record lines to index first (any dialect), from a file
                         or a pipe such as <(kv gen -o - ...), or '-' for
                         standard input (then no commands are read: it exits as
                         --index-only does); bad lines are reported on stderr
                         and skipped; without -i the broker serves what the
                         servers already hold
  -k, --replicas N       replication factor, 1 to the number of servers; refused
                         when the servers record another (default: the k they
                         record; on a new cluster 1, which is then recorded)
      --timeout-ms MS    connect and request timeout per server, 1..${MAX_TIMEOUT_MS};
                         past it the server counts as down and is reconnected in
                         the background (default ${DEFAULT_TIMEOUT_MS})
      --writes RULE      'sloppy' (default): a write goes to the first k
                         reachable servers of its key's preference list, so
                         writes go on with up to k-1 servers down; 'strict':
                         only to the key's own k servers, refused when one of
                         them is down
      --duplicate-keys MODE
                         a field name repeated in one object of a dataFile line:
                         'error' skips the line (default), 'last-wins' keeps the
                         last value like Python dicts; a PUT naming one twice is
                         refused
      --json             answer each command with one JSON object on one line
      --dialect NAME     print records as assignment, python or bare (default:
                         the dialect of the indexed file's first record, else
                         assignment)
      --index-only       index dataFile and exit without reading commands; exit
                         code 0 when every record was stored, ${INDEX_FAILED_EXIT_CODE} when some
                         were not, 2 when lines were skipped
      --log-timestamps   start every log line on stderr with the time, ISO 8601
                         in UTC (default off)
${SECURITY_HELP}
  -h, --help             show this help

Commands: GET key | QUERY key.field.field | DELETE key | PUT <record line> |
          KEYS [prefix [limit [after]]] | SERVERS | HELP [command] |
          EXIT (or QUIT) (case-insensitive; HELP GET shows one command with
          an example)

In the REPL: Tab completes, Up/Down and Ctrl-R search history, Ctrl-C cancels
the command running (or clears the line; on an empty line twice in a row it
leaves, as Ctrl-D does). History is kept in $XDG_STATE_HOME/kv/history (or
~/.local/state/kv/history); KV_HISTORY=off keeps it for the session only.

Each record lives on the first k servers of its key's preference list, which
rendezvous hashing computes from the server list. With up to k-1 servers down
(crashed or hung) every GET and QUERY answers as with all servers up, and DELETE
and PUT go to the next servers of the list (--writes sloppy); beyond that the
broker keeps serving, marks answers it cannot guarantee with a warning, and
refuses writes, changing nothing.

Exit codes: 0 success (the REPL, unless a signal ends it); 1 internal error, or
records of dataFile not stored; 2 usage or input error: bad flags, lines of
dataFile skipped, or a piped command line that is a mistake (no command,
malformed, a PUT over the servers' limit); ${EXIT_UNAVAILABLE} the cluster could not answer: no
server reachable at the start, fewer than k with -i, or a piped command the
cluster answered with ERROR or WARNING (NOT FOUND is no failure); 130 or 143
stopped by SIGINT or SIGTERM (while indexing, or the REPL by kill). Piped
commands all run, whatever those before them answered; the exit code and one
line on stderr tell a script that some failed, as sqlite3's do.`;

/** The `kv broker` subcommand. */
export const brokerCommand: Subcommand = {
  name: "broker",
  help: HELP,
  run: runBroker,
};

/** What the flags ask for, checked. */
interface BrokerSettings {
  readonly serverFile: string;
  readonly servers: readonly ServerAddress[];
  /** The `-k` flag, when given: else the cluster's k. */
  readonly k: number | undefined;
  readonly writes: WriteRule;
  readonly timeoutMs: number;
  /** The `--dialect` flag, when given. */
  readonly dialect: Dialect | undefined;
  readonly duplicateKeys: "error" | "last-wins";
  /** The `-i` file, `-` for stdin, when given. */
  readonly dataPath: string | undefined;
  readonly indexOnly: boolean;
  readonly json: boolean;
  /** From `--auth-file` (or KV_AUTH_FILE) and `--tls-ca`. */
  readonly credentials: Credentials;
  /** `--auth-file` and `--tls-ca` as typed, to name the files in a refusal. */
  readonly securityFlags: { readonly "auth-file"?: string; readonly "tls-ca"?: string };
  /** `--log-timestamps`: the time first on every log line. */
  readonly logTimestamps: boolean;
}

/**
 * Whether the broker exits once its `-i` file is indexed, reading no commands: told so
 * (`--index-only`), or `-i -`, whose records came on stdin, which then has no commands.
 */
function exitsAfterIndexing(settings: BrokerSettings): boolean {
  return settings.indexOnly || settings.dataPath === STDIN_PATH;
}

async function runBroker(args: string[]): Promise<number> {
  const settings = await parseSettings(args);
  const logSink = new LogSink();
  // Lines go through the sink: the REPL draws them above its prompt.
  const logger = new Logger({
    name: "kv broker",
    write: (line) => logSink.print(line),
    timestamps: settings.logTimestamps,
  });
  // Lines logged while connecting wait for the checks: a refusal is one line on its own.
  const held: string[] = [];
  const release = logSink.redirect((line) => held.push(line));
  let background: BackgroundRepair | undefined;
  const broker = await openBroker("broker", settings.serverFile, settings.servers, {
    k: settings.k,
    repairCommand: repairCommandLine(settings.serverFile, settings.securityFlags),
    writes: settings.writes,
    timeoutMs: settings.timeoutMs,
    log: logger.print,
    credentials: settings.credentials,
    // Hinted partitions go to the background repair, which moves their copies home — unless
    // the broker exits once the file is indexed, before that repair would run: its warnings
    // then name the kv repair to run instead.
    onRepairNeeded: exitsAfterIndexing(settings)
      ? undefined
      : (request) => background?.request(request),
  }, settings.securityFlags);
  try {
    try {
      checkCluster(broker, settings, logger);
    } finally {
      release();
    }
    for (const line of held) logSink.print(line);
    // Paused while a file is indexed: its replicas differ until its writes land.
    background = new BackgroundRepair(broker.pool, {
      placement: broker,
      log: logger.print,
      paused: settings.dataPath !== undefined,
    });
    if (settings.dataPath === undefined) {
      return await serveCommands(broker, settings, settings.dialect ?? "assignment", {
        logSink,
        logger,
      });
    }
    const { exitCode, dialect, stopped } = await indexData(
      broker,
      settings,
      settings.dataPath,
      logger,
    );
    if (exitsAfterIndexing(settings) || stopped) return exitCode;
    background.resume();
    const outputDialect = settings.dialect ?? dialect ?? "assignment";
    return await serveCommands(broker, settings, outputDialect, { logSink, logger }, exitCode);
  } finally {
    // Read repairs still running finish first (each request is bounded by the timeout); a
    // background repair is cut short: what it did stands, and it starts over next time.
    background?.close();
    await broker.repairsSettled();
    broker.close();
  }
}

/**
 * `kv broker serverFile.txt`: the server file's -s left out; with -s given, a file of
 * records' -i (`kv broker -s servers.txt data.txt`).
 */
function meantFile(argument: string, args: readonly string[]): string {
  const flag = args.some((arg) => /^(-s|--servers)/.test(arg)) ? "-i" : "-s";
  return `${flag} ${shellWord(argument)}`;
}

async function parseSettings(args: string[]): Promise<BrokerSettings> {
  const { values } = parseFlags("broker", args, {
    servers: { type: "string", short: "s" },
    index: { type: "string", short: "i" },
    replicas: { type: "string", short: "k" },
    "timeout-ms": { type: "string" },
    writes: { type: "string" },
    json: { type: "boolean" },
    dialect: { type: "string" },
    "index-only": { type: "boolean" },
    "duplicate-keys": { type: "string" },
    "log-timestamps": { type: "boolean" },
    ...SECURITY_FLAGS,
  }, { meantFlag: meantFile });
  const serverFile = values.servers;
  if (serverFile === undefined) {
    throw new UserError("kv broker: -s serverFile is required (see 'kv broker --help')");
  }
  const servers = await readServerList(serverFile).catch((error) => {
    throw error instanceof ServerFileError
      ? serverFileFailure(error, `kv broker: ${error.message}`)
      : error;
  });
  const k = replicasFlag("broker", values.replicas, servers.length, serverFile);
  const timeoutMs = intFlag("broker", "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  const dialect = values.dialect;
  if (dialect !== undefined && !DIALECTS.includes(dialect as Dialect)) {
    throw new UserError(
      `kv broker: --dialect must be one of ${DIALECTS.join(", ")}, got '${dialect}'`,
    );
  }
  const duplicateKeys = values["duplicate-keys"] ?? "error";
  if (duplicateKeys !== "error" && duplicateKeys !== "last-wins") {
    throw new UserError(
      `kv broker: --duplicate-keys must be 'error' or 'last-wins', got '${duplicateKeys}'`,
    );
  }
  const dataPath = values.index;
  const indexOnly = values["index-only"] ?? false;
  if (indexOnly && dataPath === undefined) {
    throw new UserError("kv broker: --index-only needs -i dataFile");
  }
  if (dataPath !== undefined && dataPath !== STDIN_PATH) await checkReadable(dataPath);
  return {
    serverFile,
    servers,
    k,
    writes: choiceFlag("broker", "--writes", values.writes, WRITE_RULES, "sloppy"),
    timeoutMs,
    dialect: dialect as Dialect | undefined,
    duplicateKeys,
    dataPath,
    indexOnly,
    json: values.json ?? false,
    credentials: await clientCredentials("broker", values),
    securityFlags: { "auth-file": values["auth-file"], "tls-ca": values["tls-ca"] },
    logTimestamps: values["log-timestamps"] ?? false,
  };
}

/**
 * Refuses a server file that names one server twice (a UserError), or whose servers are
 * all unreachable (nothing could be answered), or fewer than k with `-i` (nothing could be
 * stored): an UnavailableError, exit 3, as the one-shot commands' `ERROR`. Reports each
 * unreachable server.
 */
function checkCluster(broker: Broker, settings: BrokerSettings, logger: Logger): void {
  const twins = broker.pool.twins();
  if (twins.length > 0) {
    throw serverListedTwice("broker", settings.serverFile, twins);
  }
  const down = broker.pool.status().filter((state) => !state.up);
  const upCount = settings.servers.length - down.length;
  if (upCount === 0) {
    throw noServerReachable("broker", settings.serverFile, unreachableServers(broker.pool));
  }
  if (upCount < broker.k && settings.dataPath !== undefined) {
    throw new UnavailableError(
      `kv broker: only ${upCount} of ${settings.servers.length} servers are reachable, fewer than ` +
        `k=${broker.k} (${namedServers(unreachableServers(broker.pool))}); nothing from ${
          inputName(settings.dataPath)
        } was indexed; ${START_SERVERS_ADVICE}`,
    );
  }
  for (const line of startLines(broker.pool, broker.k)) logger.warn(line);
}

/** What `-i -` says when standard input is a terminal. */
const TYPED_RECORDS_HINT = "reading records from the terminal, one per line; Ctrl-D ends them";

/**
 * Signals that stop kv broker's indexing, or its REPL, cleanly (each exits with its
 * SIGNAL_EXIT_CODES).
 */
const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM"];

/** Indexes the `-i` data; resolves the exit code `--index-only` ends with and the data's dialect. */
async function indexData(
  broker: Broker,
  settings: BrokerSettings,
  dataPath: string,
  logger: Logger,
): Promise<{ exitCode: number; dialect: Dialect | undefined; stopped: boolean }> {
  const { duplicateKeys } = settings;
  // SIGINT or SIGTERM while indexing: stop reading, wait a little for the writes in
  // flight, print the summary, and exit as a shell reports the signal.
  const stop = watchStopSignals(STOP_SIGNALS);
  let summary;
  try {
    // Each skipped line (a mistake of the user's) or record not stored: a warning line.
    const options = { duplicateKeys, signal: stop.signal, report: logger.warn.bind(logger) };
    // Records typed at a terminal: without a word the broker looks hung.
    if (dataPath === STDIN_PATH && Deno.stdin.isTerminal()) logger.info(TYPED_RECORDS_HINT);
    summary = dataPath === STDIN_PATH
      ? await indexLines(broker, readStdin("broker"), { fileName: STDIN_NAME, ...options })
      : await indexFile(broker, dataPath, options);
  } catch (error) {
    const name = inputName(dataPath);
    if (error instanceof EndlessLineError) {
      throw new UserError(`kv broker: ${name}: ${error.message}`);
    }
    // A read that failed half-way (EIO from a failing disk or a file of /proc): the file's
    // fault, not kv's. What was read before it was sent, and may be stored.
    if (!isFsError(error)) throw error;
    throw new UserError(
      `kv broker: cannot read ${name}: ${describeFsError(error)}; the records before the ` +
        "failed read may be stored",
    );
  } finally {
    stop.dispose();
  }
  logger.info(formatIndexSummary(summary));
  const stoppedBy = stop.stoppedBy();
  if (stoppedBy !== undefined) {
    return { exitCode: SIGNAL_EXIT_CODES[stoppedBy], dialect: undefined, stopped: true };
  }
  const exitCode = summary.failedCount > 0
    ? INDEX_FAILED_EXIT_CODE
    : summary.skippedCount > 0
    ? USAGE_EXIT_CODE
    : 0;
  return { exitCode, dialect: summary.dialect, stopped: false };
}

/**
 * Answers commands from stdin: the REPL when a person types them (stdin a
 * terminal, and a terminal to draw it on), else one answer per line. Resolves to
 * the exit code: 0 for the REPL; for a script, `indexExitCode` (what `--index-only`
 * would have exited with) when not 0, else {@link sessionExitCode}'s.
 */
async function serveCommands(
  broker: Broker,
  settings: BrokerSettings,
  dialect: Dialect,
  log: { logSink: LogSink; logger: Logger },
  indexExitCode = 0,
): Promise<number> {
  const { logSink, logger } = log;
  const warn = logger.warn.bind(logger);
  const repair = repairCommandLine(settings.serverFile, settings.securityFlags);
  const options = { json: settings.json, dialect, repairCommand: repair };
  // Answers are coloured only for a person reading stdout.
  const color = !settings.json && colorAnswers();
  const terminal = replTerminal(settings.json);
  if (Deno.stdin.isTerminal() && terminal !== undefined) {
    // SIGTERM (or a SIGINT sent by kill: Ctrl-C is a key in raw mode) ends the REPL as
    // Ctrl-D does, the terminal restored and the line ended, then exits 143 (130) itself:
    // killed by the signal, kv would leave the terminal raw, and the shell would print
    // `Terminated` after the prompt left on the screen.
    const stop = watchStopSignals(STOP_SIGNALS);
    try {
      await runInteractive(broker, {
        ...options,
        color,
        terminal,
        logSink,
        log: logger.print,
        history: await openHistory(warn),
        signal: stop.signal,
      });
    } finally {
      stop.dispose();
    }
    const stoppedBy = stop.stoppedBy();
    return stoppedBy === undefined ? 0 : SIGNAL_EXIT_CODES[stoppedBy];
  }
  // Batches of a window's lines: each line's objects are made as the pipeline takes it.
  const lines = readRawLineBatches(readStdin("broker"), { maxBatchLines: PIPELINE_WINDOW });
  const summary = await runSession(broker, lines, { ...options, color });
  const sessionCode = sessionExitCode("broker", summary, warn);
  return indexExitCode !== 0 ? indexExitCode : sessionCode;
}

/**
 * The exit code of a piped session, so that a script can tell whether every command
 * succeeded, as `sqlite3` and `psql -v ON_ERROR_STOP=1` do; each command still runs
 * (like `sqlite3` without `-bail`): {@link USAGE_EXIT_CODE} when a line was a mistake
 * (the same line would fail again: fix it), else {@link EXIT_UNAVAILABLE} (as the one-shot
 * commands) when the cluster answered a command with an error or a warning, else 0.
 * A `NOT FOUND` is an answer, not a failure. When some failed, `log` gets one line
 * counting them.
 *
 * @example
 * ```ts
 * sessionExitCode("broker", { commands: 3, mistakes: 1, failures: 0 }, console.error); // 2
 * ```
 */
export function sessionExitCode(
  command: string,
  summary: SessionSummary,
  log: (message: string) => void,
): number {
  const { commands, mistakes, failures } = summary;
  if (mistakes + failures === 0) return 0;
  const counts = [
    ...(mistakes > 0 ? [`${mistakes} ${mistakes === 1 ? "was a mistake" : "were mistakes"}`] : []),
    ...(failures > 0 ? [`${failures} the cluster could not answer for sure`] : []),
  ];
  const code = mistakes > 0 ? USAGE_EXIT_CODE : EXIT_UNAVAILABLE;
  const why = mistakes + failures === 1
    ? "its answer on stdout says why"
    : "their answers on stdout say why";
  log(
    `of ${counted(commands, "command")}, ${counts.join(" and ")} ` +
      `(${why}); exit ${code} (see 'kv ${command} --help')`,
  );
  return code;
}

/**
 * Where the REPL draws its prompt: stdout when a person reads it, else stderr
 * when that is a terminal (`kv broker … | tee f` or `--json`: stdout carries
 * answers only, never escape codes); undefined when neither is a terminal.
 *
 * @example
 * ```ts
 * // `kv broker --json | jq .` in a terminal: answers go down the pipe, the prompt to stderr.
 * const terminal = replTerminal(true); // Deno.stderr there; undefined when stderr is no terminal
 * if (terminal === undefined) console.log("no terminal: read commands line by line");
 * ```
 */
export function replTerminal(json: boolean): TerminalOutput | undefined {
  // A dumb terminal (Emacs' shell, TERM=dumb) shows escape codes as text: lines, as piped.
  if (isDumbTerminal()) return undefined;
  if (!json && Deno.stdout.isTerminal()) return Deno.stdout;
  return Deno.stderr.isTerminal() ? Deno.stderr : undefined;
}

/**
 * Whether answers on stdout are painted: for a person reading a terminal that draws colours,
 * unless NO_COLOR is set.
 *
 * @example
 * ```ts
 * const color = colorAnswers(); // false under NO_COLOR=1, TERM=dumb, or stdout piped
 * ```
 */
export function colorAnswers(): boolean {
  return Deno.stdout.isTerminal() && !Deno.noColor && !isDumbTerminal();
}

async function checkReadable(path: string): Promise<void> {
  try {
    // A regular file, or a pipe or device to stream from (`-i <(kv gen -o - …)`).
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      throw new UserError(`kv broker: ${path} is a directory; -i takes a file of record lines`);
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`kv broker: cannot read ${path}: ${describeFsError(error)}`);
  }
}
