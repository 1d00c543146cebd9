/**
 * One-shot commands, like `redis-cli GET foo` and `etcdctl get k`: `kv get`,
 * `kv query`, `kv put`, `kv delete`, `kv keys` and `kv servers` each connect,
 * run one broker command, print its answer exactly as the REPL does (shared
 * through lib/broker/commands.ts) and exit with a code a script can test:
 * {@link EXIT_FOUND}, {@link EXIT_NOT_FOUND}, 2 for a user error,
 * {@link EXIT_UNAVAILABLE}.
 *
 * @example
 * ```sh
 * kv get person1 -s serverFile.txt -k 2
 * KV_SERVERS=serverFile.txt kv query person1.address.street --json
 * ```
 * @module
 */
import { type Broker, WRITE_RULES } from "../broker/broker.ts";
import {
  noServerReachable,
  NoServerReachableError,
  openBroker,
  replicasFlag,
  serverFileFailure,
  serverListedTwice,
  unreachableServers,
} from "./open_broker.ts";
import {
  type Answer,
  type Command,
  CommandError,
  DEFAULT_KEYS_LIMIT,
  errorAnswer,
  type Missing,
  ONE_LINE_ADVICE,
  type PrintedAnswer,
  printedAnswer,
} from "../broker/commands.ts";
import { runCommand } from "../broker/commands.ts";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import { readServerList, ServerFileError } from "../broker/server_list.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from "../broker/server_pool.ts";
import { writeLine } from "../base/stdout.ts";
import { keyProblem, listedKey, oneLine, readListedKey } from "../record/key.ts";
import { QueryPathError, splitQueryPath } from "../record/query_path.ts";
import { DecodeError } from "../base/bytes.ts";
import {
  endsInsideRecord,
  parseKeyPath,
  parseRecordLine,
  RecordParseError,
} from "../record/parse.ts";
import { choiceFlag, intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { clientCredentials, SECURITY_FLAGS, SECURITY_HELP } from "./security_flags.ts";
import { UNAVAILABLE_EXIT_CODE, USAGE_EXIT_CODE, UserError } from "./user_error.ts";
import {
  CLUSTER_FLAGS,
  type ClusterFlags,
  repairCommandLine,
  shellFlags,
  shellWord,
} from "./shell_command.ts";
import { invariant } from "../base/invariant.ts";
import { HELP_COLUMNS, wrapWords } from "../base/wrap_words.ts";

/** Exit code: found, stored, deleted, listed. */
export const EXIT_FOUND = 0;
/** Exit code: no such record (GET, QUERY, DELETE). */
export const EXIT_NOT_FOUND = 1;
/** Exit code: the cluster could not answer, or its answer is not guaranteed (a warning). */
export const EXIT_UNAVAILABLE: number = UNAVAILABLE_EXIT_CODE;

/** The environment variable naming the server file when `-s` is not given. */
export const SERVERS_ENV = "KV_SERVERS";
/** The server file used when neither `-s` nor `$KV_SERVERS` is given. */
export const DEFAULT_SERVER_FILE = "serverFile.txt";

/**
 * The `-s` row of `--help` for every command that finds its servers as {@link serverFile}
 * does, so that the one-shot commands, `kv repair` and `kv http` describe it alike.
 *
 * @example
 * ```ts
 * const help = `Flags:\n${SERVERS_FLAG_HELP}\n  -k, --replicas N …`;
 * ```
 */
export const SERVERS_FLAG_HELP =
  `  -s, --servers FILE     the server file (default: $${SERVERS_ENV}, then
                         ./${DEFAULT_SERVER_FILE})`;

/**
 * How KEY, PATH, PREFIX and --after are read, in the --help of the commands taking them
 * (README, One-shot commands).
 */
const KEY_ARGUMENT_HELP =
  `A key is given as it is, character for character: no quotes or escapes are
read and no spaces trimmed (kv get 'my key'; kv get '"q"' reads the key "q"
with its quotes). A key kv keys cannot print as it is (one holding a control
character or U+FFFD) it lists as '.' then a JSON string, ."a\\nb", which no key
can be (none holds '.'); given so, it reads as that key. An argument holding
U+FFFD is refused: bytes that are not UTF-8 reach kv as U+FFFD.
`;

/** Exit 2 of a writing command that cannot tell the cluster's k (see exitCodesHelp). */
const K_UNKNOWN_MISTAKE =
  "servers down while none up records the cluster's k: start them, or give -k";

/** The `--writes` row of the help of `kv put` and `kv delete`, the commands it is for. */
const WRITES_HELP = `      --writes RULE      'sloppy' (default): writes go to the first k reachable
                         servers of the key's preference list; 'strict': to the
                         key's own k servers only, refused when one is down
`;

const FLAGS = {
  servers: { type: "string", short: "s" },
  replicas: { type: "string", short: "k" },
  "timeout-ms": { type: "string" },
  writes: { type: "string" },
  json: { type: "boolean" },
  limit: { type: "string" },
  after: { type: "string" },
  ...SECURITY_FLAGS,
} as const;

/** `kv keys`'s page flags, as typed. */
interface KeysPageFlags {
  readonly limit?: string;
  readonly after?: string;
}

/** What one one-shot command takes and does. */
interface OneShotSpec {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** Positional arguments: exactly this many, or at most when `optional`. */
  readonly arguments: number;
  readonly optional?: boolean;
  /** What exit {@link EXIT_FOUND} means for it: "found", "stored"... */
  readonly done: string;
  /** Whether it can find nothing (exit {@link EXIT_NOT_FOUND}): GET, QUERY, DELETE. */
  readonly canFindNothing?: boolean;
  /**
   * Whether it writes records (put, delete): only a writing command may fix the k of a
   * cluster whose servers record none (lib/broker/cluster_k.ts), and it is refused when
   * unreachable servers may record one and no -k was given.
   */
  readonly writes?: boolean;
  /**
   * Whether it only shows the servers' state (servers): servers recording different ks do
   * not refuse it, since it is how an operator sees them (lib/broker/cluster_k.ts).
   */
  readonly status?: boolean;
  /** A mistake of its own, besides a usage error, that exits {@link USAGE_EXIT_CODE}. */
  readonly mistake?: string;
  /**
   * What exit {@link EXIT_UNAVAILABLE} means for it; absent for `servers`, whose answer
   * reports each server down or up and so is always done.
   */
  readonly unavailable?: string;
  /**
   * What its human answer prints on stdout, its items only, and on stderr, every line about
   * them (printHuman), as its --help says.
   */
  readonly streams: { readonly out: string; readonly err: string };
  /** The broker command for the positional arguments (and `--limit`, `--after` for keys). */
  command(args: string[], page: KeysPageFlags): Command;
}

/**
 * Exit 3 of a command whose answer may carry a warning: a NOT FOUND or a key list that
 * k or more servers down make unsure.
 */
const UNSURE = "the cluster could not answer, or its answer carries a warning";

const SPECS: readonly OneShotSpec[] = [
  {
    name: "get",
    usage: "kv get KEY",
    summary: "print the record stored under KEY",
    arguments: 1,
    done: "found",
    canFindNothing: true,
    unavailable: UNSURE,
    streams: { out: "the record found", err: "NOT FOUND, ERROR and WARNING lines" },
    command: ([key]) => ({ op: "GET", key: keyArgument("get", key) }),
  },
  {
    name: "query",
    usage: "kv query KEY.FIELD...",
    summary: "print one value inside a record",
    arguments: 1,
    done: "found",
    canFindNothing: true,
    unavailable: UNSURE,
    streams: { out: "the value found", err: "NOT FOUND, ERROR and WARNING lines" },
    command: ([path]) => ({ op: "QUERY", path: pathArgument(path) }),
  },
  {
    name: "put",
    usage: "kv put 'RECORD LINE'",
    summary: `store a record on all its replicas: kv put 'person1: { "age" : 22 }'`,
    arguments: 1,
    done: "stored",
    writes: true,
    mistake: "a record over every server's --max-frame-bytes",
    unavailable: "fewer than k servers could store it, or stored but warned: stored beyond " +
      "the first 2k-1 servers of its list (run kv repair), or on servers repaired under " +
      "another server list or k",
    streams: { out: "the STORED line", err: "ERROR and WARNING lines" },
    command: ([line]) => putCommand(line),
  },
  {
    name: "delete",
    usage: "kv delete KEY",
    summary: "delete a record from all its replicas",
    arguments: 1,
    done: "deleted",
    writes: true,
    canFindNothing: true,
    unavailable: "fewer than k servers could delete it, or warned: not found, but it may " +
      "have existed; or the delete stored beyond the first 2k-1 servers of its list",
    streams: { out: "the DELETED line", err: "NOT FOUND, ERROR and WARNING lines" },
    command: ([key]) => ({ op: "DELETE", key: keyArgument("delete", key) }),
  },
  {
    name: "keys",
    usage: "kv keys [PREFIX] [--limit N] [--after KEY]",
    summary: `list keys starting with PREFIX in byte order (default ${DEFAULT_KEYS_LIMIT})`,
    arguments: 1,
    optional: true,
    done: "listed (none may match)",
    unavailable: UNSURE,
    streams: {
      out: "the keys, one a line",
      err: "NO KEYS, the next page's hint, ERROR and WARNING lines",
    },
    command: ([prefix], page) => keysCommand(prefix ?? "", page),
  },
  {
    name: "servers",
    usage: "kv servers",
    summary: "show each server: up or down, records, latency, its k",
    arguments: 0,
    done: "shown (a server down is shown, not an error)",
    status: true,
    streams: { out: "a row a server", err: "the line saying what is wrong with the servers' k" },
    command: () => ({ op: "SERVERS" }),
  },
];

/** The one-shot subcommands, in the order `kv --help` lists them. */
export const ONE_SHOT_COMMANDS: readonly Subcommand[] = SPECS.map((spec) => ({
  name: spec.name,
  help: help(spec),
  run: (args: string[]) => runOneShot(spec, args),
}));

function help(spec: OneShotSpec): string {
  const limitFlag = spec.name === "keys"
    ? `      --limit N          most keys to list, 1..${MAX_KEYS_LIMIT} (default ${DEFAULT_KEYS_LIMIT})\n` +
      "      --after KEY        list keys sorting after KEY: the previous page's last\n"
    : "";
  return `Usage: ${spec.usage}
       [-s serverFile] [-k replicas] [--json] [--timeout-ms MS]

${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}, then exit.
${wrapWords(streamsHelp(spec), HELP_COLUMNS).join("\n")}

Flags:
${SERVERS_FLAG_HELP}
  -k, --replicas N       the cluster's replication factor; refused when the
                         servers record another (default: the k they record; on
                         a new cluster 1, recorded by put and delete only)
      --timeout-ms MS    connect and request timeout per server, 1..${MAX_TIMEOUT_MS}
                         (default ${DEFAULT_TIMEOUT_MS})
${
    spec.writes === true
      ? WRITES_HELP
      : ""
  }      --json             print the answer as one JSON object on one line
${limitFlag}${SECURITY_HELP}
  -h, --help             show this help

${
    spec.name === "put" || spec.name === "servers"
      ? ""
      : KEY_ARGUMENT_HELP
  }An argument that starts with '-' goes after '--': kv get -- -key.

${exitCodesHelp(spec)}`;
}

/** Which of `spec`'s output goes to stdout, and which to stderr (printHuman). */
function streamsHelp(spec: OneShotSpec): string {
  return `Prints the answer as the broker's REPL does: on stdout only ${spec.streams.out}, ` +
    `so that a pipe takes pure data; on stderr ${spec.streams.err} (--json: all on stdout, ` +
    "one JSON line).";
}

/** The exit codes `spec`'s command can end with, each with what it means, one per line. */
function exitCodesHelp(spec: OneShotSpec): string {
  const codes: [number, string][] = [[EXIT_FOUND, spec.done]];
  if (spec.canFindNothing) codes.push([EXIT_NOT_FOUND, "not found"]);
  // A writing command may fix the cluster's k, which servers down may record
  // (lib/broker/cluster_k.ts): it is refused, not guessed.
  const mistakes = [
    ...spec.mistake === undefined ? [] : [spec.mistake],
    ...spec.writes === true ? [K_UNKNOWN_MISTAKE] : [],
  ];
  codes.push([
    USAGE_EXIT_CODE,
    `a user error: bad arguments or files, credentials the servers refuse` +
    `${mistakes.map((mistake) => `, or ${mistake}`).join("")} (one line on stderr)`,
  ]);
  if (spec.unavailable !== undefined) codes.push([EXIT_UNAVAILABLE, spec.unavailable]);
  // Each meaning wrapped under itself, within the 80 columns of every --help.
  const lines = codes.map(([code, meaning]) =>
    `  ${code}  ${wrapWords(meaning, HELP_COLUMNS - 5).join("\n     ")}`
  );
  return `Exit codes:\n${lines.join("\n")}`;
}

/** Longest command {@link splitAdvice} spells out: a longer one is no help to read. */
const MAX_ADVISED_COMMAND_CHARACTERS = 60;

/** What the one argument of each one-shot command is, for {@link splitAdvice}. */
const SPLIT_ARGUMENTS: Readonly<Record<string, string>> = {
  put: "the record line",
  query: "a path with spaces",
  keys: "a prefix with spaces",
};

/**
 * What to type when the shell split the one argument of `spec` at its spaces into
 * `positionals` (`kv put x: 1`, `kv get a b`): `quote the record line, kv put 'x: 1'`, the
 * words quoted as one — but a query's words none of which holds '.' joined by '.' (`kv query
 * person1 name`: kv query person1.name); undefined when the command takes no argument, or
 * none too many were given.
 */
function splitAdvice(spec: OneShotSpec, positionals: string[]): string | undefined {
  if (spec.arguments !== 1 || positionals.length <= 1) return undefined;
  // `kv query person1 name`: a key and its field, not the key "person1 name".
  if (spec.name === "query" && !positionals.some((word) => word.includes("."))) {
    const path = `kv query ${shellWord(positionals.join("."))}`;
    return "a path joins a key and its fields with '.'" +
      (path.length > MAX_ADVISED_COMMAND_CHARACTERS ? "" : `, ${path}`);
  }
  const what = SPLIT_ARGUMENTS[spec.name] ?? "a key with spaces";
  const command = `kv ${spec.name} ${shellWord(positionals.join(" "))}`;
  return `quote ${what}` +
    (command.length > MAX_ADVISED_COMMAND_CHARACTERS ? " as one argument" : `, ${command}`);
}

/**
 * When an argument meant as the operand was read as a short flag with a value attached that
 * it cannot mean (`kv get -key`: -k ey, no number; `kv put '-sk: 1'`: -s, no such file),
 * what happened and what to type; undefined when none was (`-sservers.txt` is a server
 * file given so: the key is what is missing).
 */
function attachedAdvice(spec: OneShotSpec, args: readonly string[]): string | undefined {
  const end = args.includes("--") ? args.indexOf("--") : args.length;
  const attached = args.slice(0, end).find((arg) =>
    arg.length > 2 && ATTACHED_NONSENSE[arg.slice(0, 2)]?.(arg.slice(2)) === true
  );
  if (attached === undefined) return undefined;
  return `'${attached}' reads as ${attached.slice(0, 2)} ${shellWord(attached.slice(2))}; ` +
    `an argument that starts with '-' goes after '--': kv ${spec.name} -- ${shellWord(attached)}`;
}

/** The one-shot commands' short flags, each with whether a value attached to it means nothing. */
const ATTACHED_NONSENSE: Readonly<Record<string, (value: string) => boolean>> = {
  "-k": (value) => !/^\d+$/.test(value),
  "-s": (value) => {
    try {
      Deno.statSync(value);
      return false;
    } catch {
      return true;
    }
  },
};

async function runOneShot(spec: OneShotSpec, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(spec.name, args, FLAGS, { allowPositionals: true });
  const expected = spec.optional ? `at most ${spec.arguments}` : `${spec.arguments}`;
  const countOk = spec.optional
    ? positionals.length <= spec.arguments
    : positionals.length === spec.arguments;
  if (!countOk) {
    const advice = splitAdvice(spec, positionals) ?? attachedAdvice(spec, args) ??
      `usage ${spec.usage}`;
    throw new UserError(
      `kv ${spec.name}: expected ${expected} argument${spec.arguments === 1 ? "" : "s"}, ` +
        `got ${positionals.length}: ${advice} (see 'kv ${spec.name} --help')`,
    );
  }
  for (const flag of ["limit", "after"] as const) {
    if (values[flag] !== undefined && spec.name !== "keys") {
      throw new UserError(`kv ${spec.name}: --${flag} is for kv keys only`);
    }
  }
  // Taken silently, it would read as if it changed something a read does.
  if (values.writes !== undefined && spec.writes !== true) {
    throw new UserError(`kv ${spec.name}: --writes is for kv put and kv delete only`);
  }
  const command = spec.command(positionals, values);
  let broker: Broker;
  try {
    broker = await brokerFromFlags(spec, values);
  } catch (error) {
    // The cluster could not answer, as when too few of its servers are up: an ERROR, not a
    // NOT FOUND a script may take for an answer, nor a user error (the same command succeeds
    // once a server is back).
    if (!(error instanceof NoServerReachableError)) throw error;
    const unreachable = new CommandError(command.op, error.reason, answerKey(command));
    return answered(spec, values, errorAnswer(unreachable), positionals[0]);
  }
  try {
    return answered(spec, values, await runCommand(broker, command), positionals[0]);
  } finally {
    // A read repair the answer started finishes first (bounded by the timeout).
    await broker.repairsSettled();
    broker.close();
  }
}

/** The key runCommand's answer to `command` names, if any: QUERY's path joined by '.'. */
function answerKey(command: Command): string | undefined {
  if (command.op === "QUERY") return command.path.join(".");
  return "key" in command ? command.key : undefined;
}

/**
 * Prints `answer` to `kv <spec.name> argument` as `values` ask and returns its exit code.
 */
function answered(
  spec: OneShotSpec,
  values: ClusterFlags & { readonly json?: boolean },
  answer: Answer,
  argument: string | undefined,
): number {
  // Every server refused the request itself (a record over their frame limit): the
  // same command would fail again, so it is the user's to fix, not the cluster's.
  if ("refused" in answer) throw new UserError(`kv ${spec.name}: ${answer.error}`);
  const repair = repairCommandLine(serverFile(values.servers), values);
  // What prints decides the exit code: a malformed value prints as an error, not as found.
  const printed = printedAnswer(answer, {
    json: values.json,
    keysNextPage: keysNextPage(values),
    repairCommand: repair,
  });
  if (values.json) writeLine(printed.text);
  else printHuman(printed);
  const note = foundNothing(printed.answer) && !values.json && !foundRecord(printed.answer)
    ? quotedKeyNote(spec.name, argument)
    : undefined;
  if (note !== undefined) console.error(note);
  const code = exitCode(printed.answer);
  const listed = code === EXIT_FOUND ||
    (code === EXIT_NOT_FOUND ? spec.canFindNothing === true : spec.unavailable !== undefined);
  invariant(listed, `kv ${spec.name} exits ${code}, which its help does not list`);
  return code;
}

/**
 * The exit code for an answer: a warning or an error means the cluster could
 * not answer for sure; a found, stored, deleted or listed answer is done.
 */
function exitCode(answer: Answer): number {
  if ("error" in answer) return EXIT_UNAVAILABLE;
  if ("warning" in answer && answer.warning !== undefined) return EXIT_UNAVAILABLE;
  return foundNothing(answer) ? EXIT_NOT_FOUND : EXIT_FOUND;
}

/**
 * Whether `answer` is a QUERY that found its record, without the path: its key, quotes and
 * all, is held, so the quotes were no mistake.
 */
function foundRecord(answer: Answer): boolean {
  const { missing } = answer as { missing?: Missing };
  return missing !== undefined && missing.reason !== "no-record";
}

/** Whether `answer` is a GET, QUERY or DELETE that found no record. */
function foundNothing(answer: Answer): boolean {
  return ("found" in answer && !answer.found) || ("deleted" in answer && !answer.deleted);
}

/**
 * Prints `answer` as the REPL does, each line on the stream it belongs to: stdout only the
 * answer's items — the record or value found, each key listed, each server's row, `STORED:`,
 * `DELETED:` — so `kv keys | while read …` or `kv get k > file` takes pure data; stderr every
 * line about the answer rather than of it (`ERROR:`, `NOT FOUND:`, `NO KEYS`, the next page's
 * hint, `WARNING:`, kv servers' k problem), as ls and git put their diagnostics there; the
 * exit code tells a script which happened.
 */
function printHuman({ answer, text }: PrintedAnswer): void {
  const lines = text === "" ? [] : text.split("\n");
  const items = itemLines(answer, lines);
  if (items > 0) writeLine(lines.slice(0, items).join("\n"));
  for (const note of lines.slice(items)) console.error(note);
}

/**
 * How many of formatAnswer's `lines` for `answer`, from the first, are its items (see
 * {@link printHuman}): none for an error or nothing found; a key list's keys and a server
 * report's rows, one a line, before any line about them; else all but the warning's line,
 * which comes last.
 */
function itemLines(answer: Answer, lines: readonly string[]): number {
  if ("error" in answer || foundNothing(answer)) return 0;
  if (answer.op === "KEYS") {
    const { keys } = answer as Extract<Answer, { op: "KEYS" }>;
    invariant(keys.every((key, i) => lines[i] === listedKey(key)), "keys are listed first");
    return keys.length;
  }
  if (answer.op === "SERVERS") {
    const { servers } = answer as Extract<Answer, { op: "SERVERS" }>;
    invariant(servers.every(({ server }, i) => lines[i].startsWith(server)), "a row a server");
    return servers.length;
  }
  const warned = "warning" in answer && answer.warning !== undefined;
  invariant(!warned || lines.at(-1)!.startsWith("WARNING: "), "the warning is the last line");
  return lines.length - (warned ? 1 : 0);
}

/**
 * What to type for the key inside the quotes of `argument`, a key (or path) NOT FOUND that
 * the record grammar reads as another key — `"a b"`, as `STORED: "a b"` and the REPL write it:
 * the one-shot commands take it quotes and all. Undefined for any other argument, or a path
 * with a field that cannot be typed as it is (a control character).
 */
function quotedKeyNote(name: string, argument: string | undefined): string | undefined {
  if (argument === undefined || !/^["']/.test(argument)) return undefined;
  let path: string[];
  try {
    path = parseKeyPath(argument);
  } catch (error) {
    if (error instanceof RecordParseError) return undefined;
    throw error;
  }
  if (name !== "query" && path.length !== 1) return undefined;
  // The key as kv keys lists it (`."a\tb"` for a control character), which reads back.
  const [key, ...fields] = path;
  if (fields.some((field) => listedKey(field) !== field)) return undefined;
  const unquoted = [listedKey(key), ...fields].join(".");
  return `kv ${name}: quotes are part of the key here (an argument is taken as it is); ` +
    `without them: kv ${name} ${shellWord(unquoted)}`;
}

/**
 * The key `kv <name> KEY` names: the argument's characters, or the key its `."…"` form
 * spells (see readListedKey); a one-line UserError says what is wrong with it.
 */
function keyArgument(name: string, text: string): string {
  if (text === "") throw new UserError(`kv ${name}: needs a key, e.g. kv ${name} person1`);
  const [key, length] = listedKeyOf(name, text);
  if (length !== text.length || key.includes(".")) {
    const hint = name === "get" ? queryHint(text) : "";
    throw new UserError(`kv ${name}: a key cannot contain '.'${hint}`);
  }
  const problem = keyProblem(key);
  if (problem !== undefined) throw new UserError(`kv ${name}: ${problem}`);
  return key;
}

/**
 * The advice for a `kv get` of a dotted `text`: kv query it — when kv query reads it, so
 * that the advice never names a command that fails (`kv get .a` gets none).
 */
function queryHint(text: string): string {
  try {
    pathArgument(text);
  } catch (error) {
    if (error instanceof UserError) return "";
    throw error;
  }
  return `; to read a field use kv query ${oneLine(text)}`;
}

/** The path `kv query PATH` names: its key as {@link keyArgument} reads one, then its fields. */
function pathArgument(text: string): string[] {
  if (text === "") throw new UserError("kv query: needs a path, e.g. kv query person1.age");
  // A path as it is reads whole (readListedKey takes all of it); a `."…"` key only so far.
  const [key, length] = listedKeyOf("query", text);
  if (text.startsWith('."')) {
    // Past a `."…"` key, only its fields: `."a\nb".name`.
    if (length !== text.length && text[length] !== ".") {
      throw new UserError(`kv query: expected '.' or the end after the key in '${oneLine(text)}'`);
    }
    const problem = keyProblem(key);
    if (problem !== undefined) throw new UserError(`kv query: ${problem}`);
  }
  try {
    // The key holds no '.', so the fields start at the first one after it.
    return splitQueryPath(key + text.slice(length));
  } catch (error) {
    if (!(error instanceof QueryPathError)) throw error;
    throw new UserError(`kv query: ${oneLine(error.message)}`);
  }
}

/** readListedKey's key of `text`, its DecodeError as the command's one-line UserError. */
function listedKeyOf(name: string, text: string): [string, number] {
  try {
    return readListedKey(text);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    throw new UserError(`kv ${name}: ${error.message}`);
  }
}

function putCommand(line: string): Command {
  const replaced = line.indexOf("\ufffd");
  if (replaced !== -1) {
    // As for a key (readListedKey): bytes that are not UTF-8 would be stored as U+FFFD.
    throw new UserError(
      `kv put: column ${[...line.slice(0, replaced)].length + 1} of the record line: U+FFFD ` +
        "(�) may stand for bytes that are not UTF-8; write it as \\uFFFD in a quoted string",
    );
  }
  try {
    const { key, value } = parseRecordLine(line);
    return { op: "PUT", key, value };
  } catch (error) {
    if (!(error instanceof RecordParseError)) throw error;
    // A PUT has no --duplicate-keys: a record stored keeps each field name once.
    const advice = error.duplicateKey !== undefined
      ? "; name each field once"
      : line.includes("\n")
      ? "; a record is one line: join its lines (jq -c joins a JSON record's)"
      : endsInsideRecord(line, error)
      ? ONE_LINE_ADVICE
      : ` (e.g. kv put 'person1: { "age" : 22 }')`;
    throw new UserError(
      `kv put: column ${error.column} of the record line: ${error.reason}${advice}`,
    );
  }
}

function keysCommand(prefixText: string, page: KeysPageFlags): Command {
  // "" lists every key (or from the first); any other prefix or key follows the key rule.
  const prefix = prefixText === "" ? "" : wholeListedKey(prefixText);
  const after = page.after === undefined || page.after === "" ? "" : wholeListedKey(page.after);
  const problem = (prefix === "" ? undefined : keyProblem(prefix, "prefix")) ??
    (after === "" ? undefined : keyProblem(after, "--after"));
  if (problem !== undefined) throw new UserError(`kv keys: ${problem}`);
  const limit = intFlag("keys", "--limit", page.limit, {
    min: 1,
    max: MAX_KEYS_LIMIT,
    fallback: DEFAULT_KEYS_LIMIT,
  });
  return { op: "KEYS", prefix, limit, after };
}

/** The key of a whole PREFIX or --after argument (readListedKey). */
function wholeListedKey(text: string): string {
  const [key, length] = listedKeyOf("keys", text);
  // Past the key's `."…"`: what follows makes the whole no key (keyProblem says why).
  return length === text.length ? key : text;
}

/**
 * The `kv keys` command for the next page, written to paste into a shell: the flags given
 * that reach the cluster (`-s FILE` …), each key as kv keys lists it (its `."…"` form holds
 * no control character) and each word quoted when a shell would not read it back as is,
 * `--after=KEY` so that a key starting with '-' stays the flag's value, and a prefix
 * starting with '-' after `--`.
 */
function keysNextPage(
  given: ClusterFlags,
): (prefix: string, limit: number, after: string) => string {
  const cluster = shellFlags(given, CLUSTER_FLAGS);
  return (prefix, limit, after) => {
    const flags = [...cluster, `--limit ${limit}`, `--after=${shellWord(listedKey(after))}`].join(
      " ",
    );
    const word = shellWord(listedKey(prefix));
    if (prefix === "") return `kv keys ${flags}`;
    return prefix.startsWith("-") ? `kv keys ${flags} -- ${word}` : `kv keys ${word} ${flags}`;
  };
}

/**
 * The server file a client command reads: the `-s` flag's value, else `$KV_SERVERS`
 * (when set, not empty and kv may read it), else `serverFile.txt` in the working
 * directory, so the one-shot commands, `kv repair` and `kv http` find the cluster alike.
 *
 * @example
 * ```ts
 * serverFile("cluster.txt"); // "cluster.txt": the flag wins
 * serverFile(undefined); // $KV_SERVERS, or "serverFile.txt" when it is unset or empty
 * ```
 */
export function serverFile(flag: string | undefined): string {
  return flag ?? serverFileFromEnv() ?? DEFAULT_SERVER_FILE;
}

/** `$KV_SERVERS`, when set, not empty and kv may read it; else undefined. */
function serverFileFromEnv(): string | undefined {
  const permission = Deno.permissions.querySync({ name: "env", variable: SERVERS_ENV });
  const fromEnv = permission.state === "granted" ? Deno.env.get(SERVERS_ENV) : undefined;
  return fromEnv === "" ? undefined : fromEnv;
}

/**
 * A server file's problem that another file would not mend, so its message says what will
 * and no word of where the path came from follows: a Deno permission kv lacks (`Deno does
 * not let kv connect to … (no --allow-net for it); run kv with --allow-net`, or read the
 * file), or a host name the resolver could not look up now (EAI_AGAIN: retry).
 */
const NOT_THE_FILES_FAULT = /Deno does not let kv |: cannot look up host \S+ now /;

/**
 * `message`, a problem with the server file {@link serverFile} chose for `flag`, followed
 * by where its path came from when the user did not type it: `(named by $KV_SERVERS)` —
 * a stale variable would otherwise read as a file nobody asked for — or, for the default,
 * how to name another. Not for a problem another file would not mend (a Deno permission kv
 * lacks, a host the resolver could not look up now): its message says what to do.
 *
 * @example
 * ```ts
 * // With KV_SERVERS=/old.txt and no -s:
 * withServerFileSource("/old.txt: cannot read the server file: No such file or directory", undefined);
 * // "/old.txt: cannot read the server file: No such file or directory (named by $KV_SERVERS)"
 * ```
 */
export function withServerFileSource(message: string, flag: string | undefined): string {
  if (flag !== undefined || NOT_THE_FILES_FAULT.test(message)) return message;
  const fromEnv = serverFileFromEnv();
  if (!message.startsWith(`${fromEnv ?? DEFAULT_SERVER_FILE}:`)) return message;
  return `${message} (${
    fromEnv === undefined ? `give one with -s or $${SERVERS_ENV}` : `named by $${SERVERS_ENV}`
  })`;
}

async function brokerFromFlags(
  spec: OneShotSpec,
  values: {
    servers?: string;
    replicas?: string;
    "timeout-ms"?: string;
    writes?: string;
    "auth-file"?: string;
    "tls-ca"?: string;
  },
): Promise<Broker> {
  const name = spec.name;
  const path = serverFile(values.servers);
  const servers = await readServerList(path).catch((error) => {
    if (!(error instanceof ServerFileError)) throw error;
    throw serverFileFailure(
      error,
      `kv ${name}: ${withServerFileSource(error.message, values.servers)}`,
    );
  });
  const k = replicasFlag(name, values.replicas, servers.length, path);
  const timeoutMs = intFlag(name, "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  const credentials = await clientCredentials(name, values);
  const writes = choiceFlag(name, "--writes", values.writes, WRITE_RULES, "sloppy");
  const readOnly = spec.writes !== true;
  const statusOnly = spec.status === true;
  const repairCommand = repairCommandLine(path, values);
  const options = { k, writes, readOnly, statusOnly, timeoutMs, credentials, repairCommand };
  const broker = await openBroker(name, path, servers, options, values);
  const twins = broker.pool.twins();
  if (twins.length > 0) {
    broker.close();
    throw serverListedTwice(name, path, twins);
  }
  // A reader opens with every server down (only a writer needs the cluster's k first), but
  // nothing can answer it; `kv servers` shows each server down, which is its answer.
  if (!statusOnly && broker.pool.upCount === 0) {
    broker.close();
    throw noServerReachable(name, path, unreachableServers(broker.pool));
  }
  if (broker.notice !== undefined) console.error(`kv ${name}: ${broker.notice}`);
  for (const line of broker.pool.openServerWarnings()) console.error(`kv ${name}: ${line}`);
  return broker;
}
