/**
 * `kv demo`: a whole kv cluster on this machine in one command, for a first
 * look. It generates a small dataset (as `kv gen` does), starts four `kv
 * server` child processes on free ports with their data in a temporary
 * directory, indexes the dataset with k=2, and opens the broker's REPL. In the
 * REPL, `\demo kill 2`, `\demo hang 2` and `\demo start 2` crash, freeze and
 * bring back a server, so that `SERVERS` shows it down while GET and QUERY
 * still answer. On exit it stops its servers and removes the directory.
 *
 * @example
 * ```sh
 * deno task demo
 * ```
 * @module
 */
import { Broker } from "../broker/broker.ts";
import { CommandError } from "../broker/commands.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from "../broker/server_pool.ts";
import { generateChunks } from "../gen/generator.ts";
import { formatIndexSummary, indexFile } from "../broker/indexer.ts";
import { SAMPLE_KEYS } from "../gen/keyfile.ts";
import { readLineBatches } from "../base/line_reader.ts";
import { parseRecordLine } from "../record/parse.ts";
import type { Value } from "../record/value.ts";
import { MAX_SEED, randomSeed } from "../gen/prng.ts";
import { LogSink, runInteractive, runSession } from "../broker/repl.ts";
import { colorAnswers, replTerminal, sessionExitCode } from "./broker.ts";
import { watchStopSignals } from "./stop_signals.ts";
import { openHistory } from "./history.ts";
import { readStdin } from "./stdin.ts";
import { serverAddress } from "../broker/server_list.ts";
import { ServerProcess, ServerStartError } from "./server_process.ts";
import {
  CLEAN_UP_FLAG,
  cleanUpAfterDemo,
  DEMO_DATASET_FILE,
  DEMO_DIRECTORY_PREFIX,
  DEMO_SERVER_DIRECTORY_PREFIX,
  startCleanUp,
} from "./demo_cleanup.ts";
import { writeLine } from "../base/stdout.ts";
import { CLEAR_LINE } from "../base/progress.ts";
import { closestWord } from "../base/edit_distance.ts";
import { fileOrNumberFlag, intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import {
  INTERRUPTED_EXIT_CODE,
  SIGNAL_EXIT_CODES,
  STOPPED_WORDS,
  type StopSignal,
  UserError,
} from "./user_error.ts";
import { describeFsError } from "../base/fs_error.ts";
import { counted } from "../base/plural.ts";
import { Logger } from "../base/logger.ts";

/** Servers the demo starts unless `--servers` says otherwise. */
export const DEFAULT_DEMO_SERVERS = 4;

/** Most servers `--servers` accepts: each is a process of its own on this machine. */
export const MAX_DEMO_SERVERS = 9;

/** Replication factor unless `-k` says otherwise. */
export const DEFAULT_DEMO_REPLICAS = 2;

/** Records generated unless `-n` says otherwise. */
export const DEFAULT_DEMO_RECORDS = 1_000;

/** Most records `-n` accepts: the demo is for looking around, not for load. */
export const MAX_DEMO_RECORDS = 1_000_000;

/** How long `\demo start` waits for the broker to reconnect to the restarted server, in ms. */
export const DEMO_RECONNECT_WAIT_MS = 5_000;

/** The demo's record shape: `kv gen -d 2 -l 8 -m 5` over the original's key file. */
const DEMO_SHAPE = { maxNesting: 2, maxStringLength: 8, maxKeysPerValue: 5 } as const;

const HELP = `Usage: kv demo [-n RECORDS] [--servers N] [-k REPLICAS] [--seed N]
               [--timeout-ms MS]

Starts a kv cluster on this machine for a first look: generates RECORDS random
records, starts N 'kv server' processes on free ports (data in a temporary
directory), indexes the records with replication factor REPLICAS, and opens
the broker's REPL (see 'kv broker --help' for its commands). On exit (EXIT,
Ctrl-D or Ctrl-C twice) it stops the servers and removes the directory; killed
(SIGKILL), its servers stop on their own and a process it started at once
removes the directory.

Flags:
  -n, --lines RECORDS  records to generate, 0..${MAX_DEMO_RECORDS} (default ${DEFAULT_DEMO_RECORDS})
      --servers N      servers to start, 1..${MAX_DEMO_SERVERS} (default ${DEFAULT_DEMO_SERVERS})
  -k, --replicas N     replication factor, 1..N (default ${DEFAULT_DEMO_REPLICAS}, or N when
                       smaller)
      --seed N         seed for the records, 0..${MAX_SEED} (default: random)
      --timeout-ms MS  the broker's connect and request timeout per server,
                       1..${MAX_TIMEOUT_MS}; a server hung with \\demo hang is counted
                       down after it (default ${DEFAULT_TIMEOUT_MS})
      --clean-up DIR   not a demo: the process kv demo starts to remove its
                       directory DIR should it be killed (SIGKILL); waits for
                       stdin to end, then for DIR's servers to stop, removes
                       DIR (only one named ${DEMO_DIRECTORY_PREFIX}... holding only
                       what kv demo makes) and exits 0
  -h, --help           show this help

Demo commands in the REPL (server numbers as SERVERS lists them, from 1):
${metaHelpLines().map((line) => `  ${line}`).join("\n")}

Needs permission to start processes: 'deno task demo' grants it; the compiled
kv (deno task compile) does not, so run the demo from a checkout.

Exit codes: 0 success, 1 internal error, 2 usage error, 130 interrupted while
loading, 143 or 129 stopped by SIGTERM or SIGHUP; with commands piped in, as
'kv broker' piped: 2 when a line was a mistake (a \\demo line too), 3 when the
cluster answered one with ERROR or WARNING.`;

function metaHelpLines(): string[] {
  return [
    "\\demo           list the servers and these commands",
    "\\demo kill N    crash server N (SIGKILL)",
    "\\demo hang N    freeze server N (SIGSTOP): requests to it time out",
    "\\demo stop N    shut server N down cleanly (SIGTERM)",
    "\\demo start N   start server N again on its port and data, or unfreeze it",
  ];
}

/** The `kv demo` subcommand. */
export const demoCommand: Subcommand = {
  name: "demo",
  help: HELP,
  run: runDemo,
};

interface DemoSettings {
  recordCount: number;
  serverCount: number;
  k: number;
  seed: number;
  timeoutMs: number;
  /** `--clean-up DIR`: run the clean-up of lib/cli/demo_cleanup.ts, not a demo. */
  cleanUp: string | undefined;
}

function parseSettings(args: string[]): DemoSettings {
  const { values } = parseFlags("demo", args, {
    lines: { type: "string", short: "n" },
    servers: { type: "string" },
    replicas: { type: "string", short: "k" },
    seed: { type: "string" },
    "timeout-ms": { type: "string" },
    "clean-up": { type: "string" },
  }, { meantFlag: fileOrNumberFlag(undefined, "-n") });
  const cleanUp = values["clean-up"];
  if (cleanUp !== undefined) checkCleanUp(cleanUp, Object.keys(values).length);
  const recordCount = intFlag("demo", "-n", values.lines, {
    min: 0,
    max: MAX_DEMO_RECORDS,
    fallback: DEFAULT_DEMO_RECORDS,
  });
  const serverCount = intFlag("demo", "--servers", values.servers, {
    min: 1,
    max: MAX_DEMO_SERVERS,
    fallback: DEFAULT_DEMO_SERVERS,
  });
  const k = intFlag("demo", "-k", values.replicas, {
    min: 1,
    max: serverCount,
    fallback: Math.min(DEFAULT_DEMO_REPLICAS, serverCount),
  });
  const seed = values.seed === undefined
    ? randomSeed()
    : intFlag("demo", "--seed", values.seed, { min: 0, max: MAX_SEED });
  const timeoutMs = intFlag("demo", "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  return { recordCount, serverCount, k, seed, timeoutMs, cleanUp };
}

/**
 * Refuses `--clean-up DIR` with other flags, or a DIR the demo did not make: the clean-up
 * removes it whole.
 */
function checkCleanUp(directory: string, flagCount: number): void {
  if (flagCount > 1) throw new UserError(`kv demo: ${CLEAN_UP_FLAG} takes no other flags`);
  const name = directory.slice(directory.lastIndexOf("/") + 1);
  if (!name.startsWith(DEMO_DIRECTORY_PREFIX)) {
    throw new UserError(
      `kv demo: ${CLEAN_UP_FLAG} removes only a directory kv demo made, named ` +
        `${DEMO_DIRECTORY_PREFIX}…; got '${directory}'`,
    );
  }
}

/** The demo's log lines: printed above the REPL's prompt while it runs. */
const logSink = new LogSink();

/** Set once a signal stops the demo: from then on it prints its one last line only. */
let silenced = false;

/** A logger putting the demo's name and the level on its lines, as kv broker's (README "Logs"). */
function demoLogger(write: (line: string) => void): Logger {
  return new Logger({ name: "kv demo", write });
}

/** The demo's log until a signal stops it (see {@link sayStopped} for its last line). */
const logger = demoLogger((line) => {
  if (!silenced) logSink.print(line);
});

/** The demo's own news: what it starts, loads and stops. */
function log(message: string): void {
  logger.info(message);
}

/** Something the demo's user may need to act on. */
function warn(message: string): void {
  logger.warn(message);
}

/** The verbs of `\demo VERB N`, aliases last. */
const DEMO_VERBS: readonly string[] = ["kill", "hang", "stop", "start", "shutdown", "restart"];

/** What Tab completes after `\`: the verbs but their aliases. */
const META_COMPLETIONS = DEMO_VERBS.slice(0, 4).map((verb) => `\\demo ${verb} `);

/** The signals that stop the demo, its servers and its directory. */
const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

async function runDemo(args: string[]): Promise<number> {
  const settings = parseSettings(args);
  if (settings.cleanUp !== undefined) return await cleanUpAfterDemo(settings.cleanUp);
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    throw new UserError(
      "kv demo: needs permission to start its servers as processes; run 'deno task demo' " +
        "from a checkout of kv",
    );
  }
  const directory = await makeDataDirectory();
  // Removes the directory should this process be killed (SIGKILL) before it can.
  startCleanUp(directory);
  const cluster = new DemoCluster(directory);
  // Until the REPL owns the terminal (which reads Ctrl-C as a key), Ctrl-C is a SIGINT to
  // this process alone: the servers run in their own session. It stops the load, the
  // servers and the demo with one line, and nothing after it is printed. In the REPL a
  // signal ends it as it ends kv broker's (the line typed kept, raw mode left), and the
  // demo then stops as after EXIT, with that one line.
  let handlerExits = false;
  const stop = watchStopSignals(STOP_SIGNALS, (signal) => {
    silenced = true;
    if (cluster.replEndsOnStop) return;
    handlerExits = true;
    if (Deno.stdin.isTerminal()) Deno.stdin.setRaw(false);
    // On a terminal, the line is cleared first: the load's progress bar may be on it.
    const fresh = Deno.stderr.isTerminal() ? CLEAR_LINE : "";
    sayStopped(cluster, signal, fresh).finally(() => Deno.exit(SIGNAL_EXIT_CODES[signal]));
  });
  try {
    const code = await runCluster(cluster, settings, stop.signal);
    const stoppedBy = stop.stoppedBy();
    if (stoppedBy === undefined) {
      return await shutDownSaying(cluster, logger) ? code : EXIT_LEFT_BEHIND;
    }
    // Ended in the REPL, whose line stays on the screen: the stop line goes after it.
    if (!handlerExits) await sayStopped(cluster, stoppedBy, "");
    return SIGNAL_EXIT_CODES[stoppedBy];
  } catch (error) {
    if (error instanceof ServerStartError) throw new UserError(`kv demo: ${error.message}`);
    throw error;
  } finally {
    // Said above when it failed, or else the error that ended the demo is the one to tell
    // (the clean-up process started above removes what is left once the servers stop).
    await cluster.shutDown().catch(() => {});
    stop.dispose();
  }
}

/**
 * Exit code of a demo that ended normally but could not stop every server and remove its
 * directory (its last line says so, at error): not the session's code, which would hide it.
 */
const EXIT_LEFT_BEHIND = 1;

/**
 * Stops the servers and removes the directory, and logs so on `log`, led by `how` when a
 * signal stopped the demo: news, or an error when servers or the directory may be left
 * behind. Resolves whether all went.
 */
async function shutDownSaying(cluster: DemoCluster, log: Logger, how?: string): Promise<boolean> {
  const lead = how === undefined ? "" : `${how}; `;
  try {
    log.info(`${lead}${await cluster.shutDown()}`);
    return true;
  } catch (error) {
    log.error(`${lead}could not stop every server and remove ${cluster.directory}: ${error}`);
    return false;
  }
}

/**
 * {@link shutDownSaying} after `signal` stopped the demo, on a logger of its own (the demo's
 * log is silenced by then), led by `fresh` (what clears the terminal's line, when it may
 * hold a progress bar).
 */
async function sayStopped(cluster: DemoCluster, signal: StopSignal, fresh: string): Promise<void> {
  const last = demoLogger((line) => console.error(`${fresh}${line}`));
  await shutDownSaying(cluster, last, STOPPED_WORDS[signal]);
}

/**
 * Generates the records, starts the servers, indexes the records (until
 * `stop` aborts) and runs the REPL (until EXIT, or `stop` aborts); resolves to the exit
 * code (a piped session's, see `sessionExitCode`).
 */
async function runCluster(
  cluster: DemoCluster,
  settings: DemoSettings,
  stop: AbortSignal,
): Promise<number> {
  const dataPath = `${cluster.directory}/${DEMO_DATASET_FILE}`;
  const example = await writeDataset(dataPath, settings);
  await cluster.start(settings.serverCount);
  const ports = cluster.servers.map((server) => server.port).join(", ");
  // "4 servers on 127.0.0.1 ports 1, 2, 3, 4", "1 server on 127.0.0.1 port 1"
  const where = settings.serverCount === 1
    ? `1 server on 127.0.0.1 port ${ports}`
    : `${settings.serverCount} servers on 127.0.0.1 ports ${ports}`;
  log(`indexing ${counted(settings.recordCount, "record")} into ${where} (Ctrl-C stops)`);
  const broker = await Broker.open(cluster.addresses(), {
    k: settings.k,
    timeoutMs: settings.timeoutMs,
    log: logger.print,
  });
  cluster.broker = broker;
  const summary = await whileProgressShows(() =>
    indexFile(broker, dataPath, { report: warn, signal: stop })
  );
  if (cluster.stopping) return INTERRUPTED_EXIT_CODE;
  log(formatIndexSummary(summary));
  const terminal = replTerminal(false);
  const interactive = Deno.stdin.isTerminal() && terminal !== undefined;
  // Piped, stdout carries the answers only, as a piped kv broker's: the greeting is a log line.
  const greet = interactive ? writeLine : (line: string) => console.error(line);
  greet(
    `kv demo: ${where}, ` +
      `${
        counted(summary.indexedCount, "record")
      } with k=${settings.k}; data in ${cluster.directory}`,
  );
  greet(hintLine(example));
  const sessionOptions = {
    dialect: summary.dialect ?? "assignment",
    metaCommand: (line: string) => cluster.command(line),
  };
  if (interactive) {
    cluster.replEndsOnStop = true;
    await runInteractive(broker, {
      signal: stop,
      ...sessionOptions,
      color: colorAnswers(),
      terminal,
      logSink,
      log: logger.print,
      metaCompletions: META_COMPLETIONS,
      history: await openHistory(warn),
    });
    return 0;
  }
  const session = await runSession(broker, readLineBatches(readStdin("demo")), sessionOptions);
  return sessionExitCode("demo", session, warn);
}

/**
 * Runs `work` (a load that draws a progress bar on stderr) with the demo's log
 * lines on lines of their own: the bar is erased first, and redrawn after.
 */
async function whileProgressShows<T>(work: () => Promise<T>): Promise<T> {
  const onTerminal = Deno.stderr.isTerminal();
  const restore = logSink.redirect((line) => console.error(onTerminal ? CLEAR_LINE + line : line));
  try {
    return await work();
  } finally {
    restore();
  }
}

/** A record of the dataset for the hints: its key, and a path to a field it holds. */
interface Example {
  readonly key: string;
  readonly path: readonly string[];
}

/** The hint line: commands that answer with data from this very dataset. */
function hintLine(example: Example | undefined): string {
  const reads = example === undefined
    ? "KEYS, PUT person1: { name: Mary }, GET person1"
    : `GET ${example.key}, QUERY ${example.path.join(".")}`;
  return `Try ${reads}, SERVERS, then \\demo kill 1 and ask again; \\demo lists more, EXIT quits.`;
}

/**
 * The first record of `text` (record lines) that has a field, with the path
 * to its first field, followed down while that field is a non-empty object.
 */
function findExample(text: string): Example | undefined {
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const { key, value } = parseRecordLine(line);
    const path = [key];
    let inner: Value = value;
    while (inner.kind === "object" && inner.fields.length > 0) {
      const [name, field] = inner.fields[0];
      path.push(name);
      inner = field;
    }
    if (path.length > 1) return { key, path };
  }
  return undefined;
}

/**
 * A new directory for the demo's data, in `$TMPDIR` (else /tmp, as Deno makes it); one it
 * cannot make there is a UserError naming the directory and TMPDIR.
 */
async function makeDataDirectory(): Promise<string> {
  try {
    return await Deno.makeTempDir({ prefix: DEMO_DIRECTORY_PREFIX });
  } catch (error) {
    const permission = Deno.permissions.querySync({ name: "env", variable: "TMPDIR" });
    const parent = (permission.state === "granted" ? Deno.env.get("TMPDIR") : undefined) ??
      "the temporary directory";
    throw new UserError(
      `kv demo: cannot make its data directory in ${parent}: ${describeFsError(error)}; ` +
        "point TMPDIR at a directory it may write to",
    );
  }
}

/** Writes the demo's records to `path`; resolves a record to name in the hints. */
async function writeDataset(path: string, settings: DemoSettings): Promise<Example | undefined> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const options = {
    keys: SAMPLE_KEYS,
    recordCount: settings.recordCount,
    seed: settings.seed,
    ...DEMO_SHAPE,
  };
  const decoder = new TextDecoder();
  let example: Example | undefined;
  for (const chunk of generateChunks(options)) {
    // Only chunks up to the first record with a field are read, and only their whole lines.
    if (example === undefined) {
      const text = decoder.decode(chunk.bytes);
      example = findExample(text.slice(0, text.lastIndexOf("\n") + 1));
    }
    let rest = chunk.bytes;
    while (rest.length > 0) rest = rest.subarray(await file.write(rest));
  }
  return example;
}

/** The demo's servers, the commands that crash and revive them, and the cleanup. */
class DemoCluster {
  /** Where the servers keep their data and the records are generated. */
  readonly directory: string;
  readonly servers: ServerProcess[] = [];
  readonly #hung = new Set<number>();
  #shutDown: Promise<string> | undefined;
  /**
   * Starts, restarts and demo commands under way: a shutdown (on a signal, any time)
   * waits for them, so no server it could not see yet is left running.
   */
  readonly #underWay = new Set<Promise<unknown>>();
  /** Set once the REPL runs: a stop signal ends it, and the demo stops after it. */
  replEndsOnStop = false;
  /** Set once connected, so `\demo start` can have it reconnect at once. */
  broker: Broker | undefined;

  constructor(directory: string) {
    this.directory = directory;
  }

  /** Whether {@link shutDown} has begun: nothing more is started or printed. */
  get stopping(): boolean {
    return this.#shutDown !== undefined;
  }

  async start(count: number): Promise<void> {
    for (let index = 0; index < count && this.#shutDown === undefined; index++) {
      const server = await this.#track(
        // In a session of its own, a server gets no Ctrl-C from the terminal: the demo stops
        // it, and should the demo be killed, its stdin's end does.
        ServerProcess.start({
          dataDir: `${this.directory}/${DEMO_SERVER_DIRECTORY_PREFIX}${index + 1}`,
          detached: true,
          stopsWithSupervisor: true,
        }),
      );
      this.servers.push(server);
    }
  }

  /** Runs `work` as under way until it settles (see #underWay). */
  async #track<T>(work: Promise<T>): Promise<T> {
    this.#underWay.add(work);
    try {
      return await work;
    } finally {
      this.#underWay.delete(work);
    }
  }

  addresses() {
    return this.servers.map((server) => serverAddress("127.0.0.1", server.port));
  }

  /** Answers one `\demo …` line with the text to print; a line it cannot run is a CommandError. */
  command(line: string): Promise<string> {
    return this.#track(this.#command(line));
  }

  async #command(line: string): Promise<string> {
    const [word, verb, number, ...extra] = line.split(/\s+/);
    if (word !== "\\demo") throw new CommandError(word, `unknown command '${word}'; try \\demo`);
    if (verb === undefined) return this.#listing();
    const server = this.#serverNamed(verb, number, extra);
    const index = this.servers.indexOf(server);
    const name = `server ${index + 1} (${server.id})`;
    switch (verb.toLowerCase()) {
      case "kill":
        if (!server.running) return `${name} is not running`;
        this.#hung.delete(index);
        await server.kill();
        return `${name} killed (SIGKILL)`;
      case "stop":
      case "shutdown":
        if (!server.running) return `${name} is not running`;
        this.#hung.delete(index);
        await server.stop();
        return `${name} stopped (SIGTERM)`;
      case "hang":
        if (!server.running) return `${name} is not running`;
        server.signal("SIGSTOP");
        this.#hung.add(index);
        return `${name} frozen (SIGSTOP); requests to it now time out`;
      case "start":
      case "restart":
        return await this.#revive(index, name);
      default:
        throw new CommandError(word, `unknown demo command '${verb}'; try \\demo`);
    }
  }

  /**
   * The server `\demo VERB NUMBER` names, checked in the order a person reads the line: the
   * verb (`frob`: unknown), then the number (missing, not one of the servers', or followed
   * by more); each mistake a CommandError saying what to type.
   */
  #serverNamed(verb: string, number: string | undefined, extra: string[]): ServerProcess {
    const fail = (message: string) => new CommandError("\\demo", message);
    if (!DEMO_VERBS.includes(verb.toLowerCase())) {
      const meant = closestWord(verb, DEMO_VERBS);
      throw fail(
        `unknown demo command '${verb}'; ` +
          (meant === undefined ? "try \\demo" : `did you mean \\demo ${meant}? (\\demo lists all)`),
      );
    }
    const range = `1 to ${this.servers.length}`;
    if (number === undefined) throw fail(`say which server, ${range}: \\demo ${verb} 2`);
    const server = /^\d+$/.test(number) ? this.servers[Number(number) - 1] : undefined;
    if (server === undefined) {
      throw fail(`no server '${number}'; they are numbered ${range} (\\demo lists them)`);
    }
    if (extra.length > 0) throw fail(`\\demo ${verb} takes one server number: \\demo ${verb} 2`);
    return server;
  }

  async #revive(index: number, name: string): Promise<string> {
    const server = this.servers[index];
    let done: string;
    if (this.#hung.delete(index)) {
      server.signal("SIGCONT");
      done = `${name} resumed (SIGCONT)`;
    } else if (server.running) {
      return `${name} is already running`;
    } else {
      await server.restart();
      done = `${name} started`;
    }
    return await this.#awaitReconnect(index)
      ? `${done}; the broker is connected to it again`
      : `${done}; the broker will reconnect to it shortly`;
  }

  /** Has the broker reconnect to server `index` now; resolves whether it did in time. */
  async #awaitReconnect(index: number): Promise<boolean> {
    const pool = this.broker?.pool;
    if (pool === undefined) return false;
    const deadline = Date.now() + DEMO_RECONNECT_WAIT_MS;
    await pool.reconnectNow(index);
    while (!pool.isUp(index) && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        pool.changed(),
        new Promise((resolve) => timer = setTimeout(resolve, deadline - Date.now())),
      ]);
      clearTimeout(timer);
    }
    return pool.isUp(index);
  }

  #listing(): string {
    const states = this.servers.map((server, index) => {
      const state = this.#hung.has(index) ? "frozen" : server.running ? "running" : "stopped";
      return `  ${index + 1}  ${server.id}  ${state}  (data: ${server.dataDir})`;
    });
    return [...states, ...metaHelpLines()].join("\n");
  }

  /**
   * Stops every server and removes the directory; resolves what was done, for
   * one line of log. Safe to call more than once.
   */
  shutDown(): Promise<string> {
    this.#shutDown ??= (async () => {
      this.broker?.close();
      // A server being started or restarted right now is stopped too, once it is up.
      const underWay = await Promise.allSettled([...this.#underWay]);
      for (const outcome of underWay) {
        if (outcome.status === "fulfilled" && outcome.value instanceof ServerProcess) {
          if (!this.servers.includes(outcome.value)) this.servers.push(outcome.value);
        }
      }
      await Promise.all(this.servers.map((server) => server.stop()));
      const stopped = `stopped ${counted(this.servers.length, "server")}`;
      return await removeWhole(this.directory)
        ? `${stopped} and removed ${this.directory}`
        : `${stopped}; ${this.directory} was removed already`;
    })();
    return this.#shutDown;
  }
}

/**
 * Removes `directory` and all in it; false when it was gone already (removed under the demo
 * by someone else, a cleaner of /tmp say), which is what removing it wanted. Any other failure
 * (no permission, a mount point inside) is thrown: something is left behind.
 */
async function removeWhole(directory: string): Promise<boolean> {
  try {
    await Deno.remove(directory, { recursive: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
