/**
 * The `kv` command line: picks the subcommand, prints help and version, and
 * turns every user mistake into one line on stderr with exit code 2.
 *
 * @example
 * ```ts
 * import { runCli } from "./run.ts";
 * Deno.exit(await runCli(["gen", "--help"]));
 * ```
 * @module
 */
import denoConfig from "../../deno.json" with { type: "json" };
import { StdoutError, writeLine } from "../base/stdout.ts";
import { closestWord } from "../base/edit_distance.ts";
import { shellWord } from "../base/shell_word.ts";
import { oneLine } from "../record/key.ts";
import type { Subcommand } from "./subcommand.ts";
import {
  UNAVAILABLE_EXIT_CODE,
  UnavailableError,
  USAGE_EXIT_CODE,
  UserError,
} from "./user_error.ts";

/** kv's version, from deno.json. */
export const VERSION: string = denoConfig.version;

/** A subcommand as `kv --help` lists it; its module loads only when it runs. */
interface SubcommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Subcommand>;
}

// Loaded on demand, each by importLate: `kv gen` need not parse the server's and broker's
// modules, which cost about 20 ms of every run's start.
const SUBCOMMANDS: readonly SubcommandEntry[] = [
  {
    name: "gen",
    summary: "generate random test records (like createData.py)",
    load: async () => (await importLate<typeof import("./gen.ts")>("gen")).genCommand,
  },
  {
    name: "server",
    summary: "run a kv server (records in memory, durable with --data-dir)",
    load: async () => (await importLate<typeof import("./server.ts")>("server")).serverCommand,
  },
  {
    name: "broker",
    summary: "index records on k replicas and answer queries (like kvBroker.py)",
    load: async () => (await importLate<typeof import("./broker.ts")>("broker")).brokerCommand,
  },
  {
    name: "repair",
    summary: "bring each key's k servers to its newest version (after list changes)",
    load: async () => (await importLate<typeof import("./repair.ts")>("repair")).repairCommand,
  },
  oneShot("get", "print one record (exit 1 when not found)"),
  oneShot("query", "print one value inside a record, KEY.FIELD..."),
  oneShot("put", "store one record line on all its replicas"),
  oneShot("delete", "delete one record from all its replicas"),
  oneShot("keys", "list keys starting with a prefix"),
  oneShot("servers", "show each server: up or down, records, latency, its k"),
  {
    name: "http",
    summary: "serve an HTTP API, Prometheus metrics and a web console",
    load: async () => (await importLate<typeof import("./http.ts")>("http")).httpCommand,
  },
  {
    name: "secret",
    summary: "make a new shared secret for --auth-file (kv secret -o kv.auth)",
    load: async () => (await importLate<typeof import("./secret.ts")>("secret")).secretCommand,
  },
  {
    name: "bench",
    summary: "load a cluster, run a YCSB workload, report throughput and latency",
    load: async () => (await importLate<typeof import("./bench.ts")>("bench")).benchCommand,
  },
  {
    name: "demo",
    summary: "start a local cluster of 4 servers with sample data and open the REPL",
    load: async () => (await importLate<typeof import("./demo.ts")>("demo")).demoCommand,
  },
];

/**
 * Imports `module`.ts of this folder, for `kv name`, by a specifier Deno cannot read ahead.
 * An import of a string literal, even one that never runs, makes Deno read and prepare that
 * module's whole graph when kv starts: every start read all of lib/ (135 modules, 1.7 MB) for
 * the one command it runs, 6 to 8 ms of CPU (README, Tests). A module imported late needs
 * `--allow-read`, which every way of running kv grants; without it, a {@link UserError}.
 */
function importLate<Module>(module: string, name = module): Promise<Module> {
  const url = new URL(`./${module}.ts`, import.meta.url);
  // Deno's own refusal would be an uncaught TypeError with its advice: one line instead.
  if (url.protocol === "file:" && !canRead(url)) {
    throw new UserError(
      `kv ${name}: Deno does not let kv read its modules (no --allow-read for it); run kv ` +
        "with --allow-read, as 'deno install' of kv does",
    );
  }
  return import(url.href);
}

/** Whether Deno lets this process read `url` (no prompt: kv never asks). */
function canRead(url: URL): boolean {
  return Deno.permissions.querySync({ name: "read", path: url }).state === "granted";
}

/** A one-shot command of lib/cli/oneshot.ts. */
function oneShot(name: string, summary: string): SubcommandEntry {
  return {
    name,
    summary,
    load: async () => {
      const { ONE_SHOT_COMMANDS } = await importLate<typeof import("./oneshot.ts")>(
        "oneshot",
        name,
      );
      const command = ONE_SHOT_COMMANDS.find((candidate) => candidate.name === name);
      if (command === undefined) throw new Error(`oneshot.ts has no '${name}'`);
      return command;
    },
  };
}

/**
 * The text of `kv --help`: the commands, each with its summary, and the exit codes.
 *
 * @example
 * ```ts
 * console.log(topLevelHelp()); // what `kv --help` prints
 * ```
 */
export function topLevelHelp(): string {
  const width = Math.max(...SUBCOMMANDS.map((command) => command.name.length));
  const lines = SUBCOMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    "kv — a distributed, fault-tolerant key-value store",
    "",
    "Usage: kv <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Flags:",
    "  -h, --help     show this help (kv help <command>: a command's flags)",
    "  -V, --version  print the version",
    "",
    "Exit codes: 0 success; 2 a mistake (one line on stderr); 1 a bug, or: not found",
    "(get, query, delete), records not stored (broker -i), not all repaired (repair);",
    "3 the cluster could not answer (get, query, put, delete, keys; no server",
    "reachable for broker, http, bench), or a piped broker's command failed; 130,",
    "143 stopped by SIGINT, SIGTERM. Each command's --help says which it exits with.",
  ].join("\n");
}

/**
 * Runs `kv` with `args` (without the program name) and resolves to the exit
 * code. Never throws: user mistakes print one line, other failures print the
 * error with a note that it is a bug.
 *
 * @example
 * ```ts
 * const code = await runCli(["--version"]); // prints "kv 0.1.0", resolves to 0
 * ```
 */
export async function runCli(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (error) {
    // Output that cannot be written (a full disk behind a redirect) is one line too.
    if (error instanceof StdoutError) return stdoutFailed("kv", error);
    throw error;
  }
}

/**
 * The subcommand `kv name` runs, its module loaded, or undefined when kv has none of that
 * name: what {@link runCli} dispatches to, so that a test can read a command's `help` or
 * the `UserError` its `run` throws for a flag without starting a process for each.
 *
 * @example
 * ```ts
 * const server = await loadSubcommand("server");
 * console.log(server?.help); // the text of kv server --help
 * ```
 */
export async function loadSubcommand(name: string): Promise<Subcommand | undefined> {
  return await SUBCOMMANDS.find((candidate) => candidate.name === name)?.load();
}

async function dispatch(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  // `kv help put`, as git and cargo read it: kv put --help (`kv help help`: this list).
  if (first === "help" && rest.length > 0 && !TOP_LEVEL_HELP.includes(rest[0])) {
    return await helpOf(rest);
  }
  if (first === undefined || TOP_LEVEL_HELP.includes(first)) {
    writeLine(topLevelHelp());
    return first === undefined ? USAGE_EXIT_CODE : 0;
  }
  if (first === "-V" || first === "--version") {
    writeLine(`kv ${VERSION}`);
    return 0;
  }
  const reordered = commandFirst(args);
  if (reordered !== undefined) {
    console.error(oneLine(`kv: flags go after the command: ${reordered}`));
    return USAGE_EXIT_CODE;
  }
  const command = await subcommandNamed("kv", first);
  if (command === undefined) return USAGE_EXIT_CODE;
  try {
    // Past '--' every argument is an operand: `kv get -- -h` reads the key -h.
    const end = rest.indexOf("--");
    const flags = end === -1 ? rest : rest.slice(0, end);
    if (!flags.includes("-h") && !flags.includes("--help")) return await command.run(rest);
    writeLine(command.help);
    return 0;
  } catch (error) {
    if (error instanceof UserError) {
      console.error(error.message);
      return USAGE_EXIT_CODE;
    }
    if (error instanceof UnavailableError) {
      console.error(error.message);
      return UNAVAILABLE_EXIT_CODE;
    }
    // Output that cannot be written (a full disk behind a redirect) is the command's one line.
    if (error instanceof StdoutError) return stdoutFailed(`kv ${command.name}`, error);
    console.error(`kv ${command.name}: internal error (please report it):`, error);
    return 1;
  }
}

/**
 * `args` led by a flag that is not kv's own (nor a typo of one), with a command's name
 * after it, as `kv -s servers.txt get x` (git's own flags go there): the command
 * line with the command first, as the user meant it; undefined for any other.
 */
function commandFirst(args: string[]): string | undefined {
  if (!args[0].startsWith("-") || meantFlag(args[0]) !== undefined) return undefined;
  const end = args.includes("--") ? args.indexOf("--") : args.length;
  const at = args.slice(0, end).findIndex((arg) => SUBCOMMANDS.some(({ name }) => name === arg));
  if (at === -1) return undefined;
  const words = [args[at], ...args.slice(0, at), ...args.slice(at + 1)];
  return `kv ${words.map(shellWord).join(" ")}`;
}

/** The words that ask for kv's own help: `kv --help`, `kv help`, `kv help --help`. */
const TOP_LEVEL_HELP: readonly string[] = ["-h", "--help", "help"];

/** `kv help NAME`: the subcommand's --help, or one line and exit 2 for no such command. */
async function helpOf(args: string[]): Promise<number> {
  if (args.length > 1) {
    console.error(`kv help: expected one command, got ${args.length}: usage kv help COMMAND`);
    return USAGE_EXIT_CODE;
  }
  const command = await subcommandNamed("kv help", args[0]);
  if (command === undefined) return USAGE_EXIT_CODE;
  writeLine(command.help);
  return 0;
}

/** The flags `kv` itself takes, short and long, for "did you mean" after a mistyped one. */
const TOP_LEVEL_FLAGS: readonly (readonly [string, string])[] = [
  ["-h", "--help"],
  ["-V", "--version"],
];

/**
 * The subcommand `name`, loaded; or undefined after one line on stderr, led by `who`: a
 * module Deno does not let kv read, or no such command — with the one likely meant when a
 * typo or the case is all that differs (`kv gett`, `kv GET`, the REPL's spelling).
 */
async function subcommandNamed(who: string, name: string): Promise<Subcommand | undefined> {
  let command: Subcommand | undefined;
  try {
    command = await loadSubcommand(name);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    console.error(error.message);
    return undefined;
  }
  if (command !== undefined) return command;
  const meant = name.startsWith("-") ? meantFlag(name) : closestWord(
    name,
    SUBCOMMANDS.map((entry) => entry.name),
  );
  const shown = name.length > MAX_QUOTED_NAME_CHARACTERS
    ? `${name.slice(0, MAX_QUOTED_NAME_CHARACTERS)}…`
    : name;
  // Not the list of commands, which made the line 157 columns: kv --help has it.
  if (name.startsWith("-")) {
    console.error(oneLine(
      `${who}: unknown flag '${shown}'; ` +
        (meant === undefined ? "kv --help lists the flags" : `did you mean kv ${meant}?`),
    ));
  } else {
    console.error(oneLine(
      meant === undefined
        ? `${who}: unknown command '${shown}'; kv --help lists the commands`
        : `${who}: unknown command '${shown}'; did you mean kv ${meant}? (kv --help lists all)`,
    ));
  }
  return undefined;
}

/**
 * The top-level flag `typed` may mean, long: a short one differing in case only (`-v`:
 * -V), or a long one a typo away (`--verison`): any other short one is one edit from each.
 */
function meantFlag(typed: string): string | undefined {
  const short = !typed.startsWith("--");
  const names = TOP_LEVEL_FLAGS.map(([shortName, longName]) => short ? shortName : longName);
  const meant = closestWord(typed, names, short ? 0 : 1);
  return TOP_LEVEL_FLAGS.find((flag) => flag.includes(meant ?? ""))?.[1];
}

/** Longest command name an error repeats, so that its line fits 80 columns. */
const MAX_QUOTED_NAME_CHARACTERS = 20;

/**
 * The exit code after standard output failed. Its reader gone (`kv keys | head -1`) means
 * nobody wants more, as `kv broker` and `kv gen` take it: the command ends quietly, 0.
 * Any other failure (a full disk behind a redirect) is one line led by `who`, and 2.
 */
function stdoutFailed(who: string, error: StdoutError): number {
  if (error.readerGone) return 0;
  console.error(`${who}: ${error.message}`);
  return USAGE_EXIT_CODE;
}
