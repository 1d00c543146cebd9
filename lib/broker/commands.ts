/**
 * The broker's command language: parsing a line into a {@link Command},
 * running it against a {@link Broker}, and printing the {@link Answer} as
 * human text or as one line of JSON.
 *
 * Commands (the command word is case-insensitive, keys are not):
 *
 * | command                  | does                                                         |
 * |--------------------------|--------------------------------------------------------------|
 * | `GET key`                | the record stored under `key`                                |
 * | `QUERY key.field.field`  | one value inside a record                                    |
 * | `DELETE key`             | removes the record from all its replicas (or refuses)        |
 * | `PUT <record line>`      | stores a record, any dialect, on all replicas (or refuses)   |
 * | `KEYS [prefix [limit [after]]]` | keys starting with `prefix` and sorting after `after`, in byte order (default 100) |
 * | `SERVERS`                | each server: up or down, records, PING latency, its k        |
 * | `HELP [command]`         | the command list, or one command with an example             |
 * | `EXIT` (or `QUIT`)       | ends the session; with arguments it is an error, not an end  |
 *
 * JSON answers (`--json`): exactly one object per command on one line. Every
 * answer has `op`; any answer may carry `warning`; any failure is
 * `{"op":…,"error":"…"}` (plus `key` when there is one).
 *
 * - GET: `{"op":"GET","key":"person1","found":true,"value":{…},"version":"0192…"}` or
 *   `{…,"found":false}`; `version` is the record's version as 24 hex digits, which sort
 *   in version order (lib/record/version.ts)
 * - QUERY: `{"op":"QUERY","key":"person1.age","found":true,"value":22,"version":"0192…"}`; one
 *   that found nothing says why in `"missing"` (unless no replica answered): `{"reason":"no-record"}`,
 *   `{"reason":"no-field","path":"person1.address.stret","closest":"street"}` (the path to the
 *   first field missing; `closest` only when a field is a typo away) or
 *   `{"reason":"not-object","path":"person1.age","value":22}` (the leaf the path ran into)
 * - DELETE: `{"op":"DELETE","key":"person3","deleted":true,"version":"0192…"}` (false:
 *   there was no such record; the tombstone is stored either way)
 * - PUT: `{"op":"PUT","key":"person1","stored":true,"version":"0192…"}`
 * - KEYS: `{"op":"KEYS","prefix":"person","limit":100,"keys":["person1"],"more":false}`;
 *   when more match, `"more":true` and `"next"`: the last key listed, the `after` of the
 *   next page (`KEYS person 100 person99`); a listing that started after a key says so in
 *   `"after"`
 * - SERVERS: `{"op":"SERVERS","servers":[{"server":"127.0.0.1:8000","up":true,"records":12,"latencyMs":0.2,"repaired":true,"readOnly":false,"hints":0,"k":2},{"server":"127.0.0.1:8001","up":false,"error":"…","hints":3}]}`;
 *   `"advice"` when the text advises something (`"run kv repair -s s.txt to repair …"`, or
 *   the servers' k problem with the commands that settle it)
 * - HELP: `{"op":"HELP","commands":[{"word":"GET","usage":"GET key","summary":"…","example":"GET person1"},…]}`
 *   (`HELP GET`: the one command)
 * - EXIT: `{"op":"EXIT"}`
 * - a PUT every server refused as over its frame limit adds `"refused":true`:
 *   `{"op":"PUT","key":"big","error":"cannot put 'big': …","refused":true}`
 * - unknown command: `{"op":"foo","error":"unknown command 'foo'; …"}` (`op` as typed; a
 *   command of kv's is named in capitals however typed); an unreadable
 *   input line (too long, not UTF-8): `{"op":"INVALID","error":"…"}`
 * - in a piped session every error adds `"line"`, the input line it answers (from 1):
 *   `{"op":"FOO","error":"unknown command 'FOO'; …","line":3}`
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { formatAnswer, parseCommand, runCommand } from "./commands.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const command = parseCommand("GET person1");
 * if (command) console.log(formatAnswer(await runCommand(broker, command), { json: true }));
 * ```
 * @module
 */
import { counted, wasOrWere } from "../base/plural.ts";
import { invariant } from "../base/invariant.ts";
import { type Broker, type EncodedLookup, LATENCY_DIGITS, type ServerReport } from "./broker.ts";
import { kProblem, someNamed } from "./cluster_k.ts";
import { beingRemarked } from "./server_pool.ts";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import { missedPath, type PathMiss, QueryPathError, splitQueryPath } from "../record/query_path.ts";
import {
  endsInsideRecord,
  parseKeyPath,
  parseRecordLine,
  RecordParseError,
} from "../record/parse.ts";
import { type Dialect, formatName, formatValue } from "../record/format.ts";
import { toJsonText, type Value } from "../record/value.ts";
import { decodeValue } from "../record/value_codec.ts";
import { EncodedJsonWriter } from "../record/encoded_json.ts";
import { DecodeError, UTF8_CACHE_MAX_BYTES, Utf8Cache } from "../base/bytes.ts";
import { formatVersion } from "../record/version.ts";
import { HELP_COLUMNS, wrapWords } from "../base/wrap_words.ts";
import { closestWord } from "../base/edit_distance.ts";
import { keyProblem, listedKey, oneLine, readListedKey } from "../record/key.ts";
import {
  CharClass,
  charClass,
  DOT,
  indexOfBlank,
  isBlank,
  LOWER_E,
  SPACE,
  trimBlanks,
  trimBlanksEnd,
} from "../record/grammar.ts";

/** KEYS lists this many keys unless told otherwise. */
export const DEFAULT_KEYS_LIMIT = 100;

/**
 * What SERVERS says of a server repaired under another server list (or k) than the
 * broker's — one listed beside another cluster's servers, or before a list change — before
 * what makes it trusted: a repair over the list in use (see `notes`).
 */
export const REPAIRED_UNDER_OTHER_LIST = "repaired under another server list or k";

/**
 * What to do about servers {@link REPAIRED_UNDER_OTHER_LIST}, `repair` being the client's
 * `kv repair` command over its own server file. A client cannot tell from the marks whether
 * its list is the new one being rolled out (the repair over it is the change) or a stale
 * one (that repair would revert the change, and at k = 1 lose the records on the servers
 * its list leaves out: S27's F3), so both are named, as the background repair's hold does.
 *
 * @example
 * ```ts
 * otherListAdvice("kv repair -s servers.txt");
 * // "if this client's server list is the new one being rolled out, run kv repair -s
 * // servers.txt; otherwise give this client the cluster's server file"
 * ```
 */
export function otherListAdvice(repair: string): string {
  return `if this client's server list is the new one being rolled out, run ${repair}; ` +
    "otherwise give this client the cluster's server file";
}

/**
 * What a SERVERS row says of a server a `kv repair` is re-marking (changing the list or k,
 * or refilling a server): no list's mark vouches for it until that repair ends.
 */
const BEING_REMARKED_NOTE = "being re-marked by a kv repair (not trusted until it ends; " +
  "if it was stopped, run kv repair -s FILE with the cluster's server list)";

/** The repair command SERVERS' advice names when not told the client's ({@link FormatOptions}). */
export const DEFAULT_REPAIR_COMMAND = "kv repair -s FILE";

/** One parsed command. */
export type Command =
  | { readonly op: "GET"; readonly key: string }
  | { readonly op: "QUERY"; readonly path: readonly string[] }
  | { readonly op: "DELETE"; readonly key: string }
  | { readonly op: "PUT"; readonly key: string; readonly value: Value }
  | {
    readonly op: "KEYS";
    readonly prefix: string;
    readonly limit: number;
    /** List keys sorting after this one ("": from the first). */
    readonly after: string;
  }
  | { readonly op: "SERVERS" }
  | { readonly op: "HELP"; readonly topic?: string }
  | { readonly op: "EXIT" };

/**
 * Why a QUERY found no value, as the newest replica answered: the key holds no record
 * (`no-record`: none, or deleted); the object at the path's first `path.length − 1`
 * segments has no field named by the last (`no-field`, with `closest`, its field nearest
 * that name, when one is a typo away); or the path ran into a scalar, `value`, at `path`
 * (`not-object`). Paths are dotted, as QUERY's key.
 *
 * @example
 * ```ts
 * const typo: Missing = { reason: "no-field", path: "person1.address.stret", closest: "street" };
 * ```
 */
export type Missing =
  | { reason: "no-record" }
  | { reason: "no-field"; path: string; closest?: string }
  | { reason: "not-object"; path: string; value: Value };

/**
 * The answer to one command; its fields are exactly the JSON output's (values still
 * typed). A value found may also be held as a server encoded it, `encoded`, printed
 * as `value` without being decoded first (how {@link runCommand} answers GET and QUERY).
 */
export type Answer =
  | {
    op: "GET" | "QUERY";
    key: string;
    found: true;
    value: Value;
    /** The record's version in its text form (lib/record/version.ts): sorts as versions do. */
    version: string;
    warning?: string;
  }
  | {
    op: "GET" | "QUERY";
    key: string;
    found: true;
    encoded: Uint8Array;
    /** As for `value` answers. */
    version: string;
    warning?: string;
  }
  | {
    op: "GET" | "QUERY";
    key: string;
    found: false;
    /** A QUERY's: why it found no value, when a replica's answer said (see {@link Missing}). */
    missing?: Missing;
    warning?: string;
  }
  | { op: "DELETE"; key: string; deleted: boolean; version: string; warning?: string }
  | { op: "PUT"; key: string; stored: true; version: string; warning?: string }
  | {
    op: "KEYS";
    prefix: string;
    limit: number;
    /** The key the listing started after, when one was given. */
    after?: string;
    keys: string[];
    more: boolean;
    /** When `more`: the last key listed, where the next page starts after. */
    next?: string;
    warning?: string;
  }
  | {
    op: "SERVERS";
    servers: ServerReport[];
    /**
     * Set as `--json` prints the answer, when the human text advises something:
     * {@link serversAdvice}, with the client's repair command.
     */
    advice?: string;
  }
  | { op: "HELP"; commands: readonly CommandHelp[] }
  | { op: "EXIT" }
  | {
    op: string;
    key?: string;
    error: string;
    /** Set on a PUT every server refused as over its frame limit: repeating it cannot help. */
    refused?: true;
    /**
     * In a piped session, the input line (from 1, blank lines and comments counted) the
     * error answers: human text prints it `ERROR: line 3: …`, as `file:line:col` names a
     * mistake in a file.
     */
    line?: number;
  };

/** One command's help: HELP lists the usage and summary, `HELP word` adds the example. */
export interface CommandHelp {
  /** The command word, upper-case. */
  readonly word: string;
  /** The command word and its arguments, e.g. `GET key`. */
  readonly usage: string;
  /** What it does, in one line. */
  readonly summary: string;
  /** A line to type, e.g. `GET person1`. */
  readonly example: string;
}

/** What HELP lists, one entry per command word (QUIT is EXIT's other name). */
export const COMMAND_HELP: readonly CommandHelp[] = [
  {
    word: "GET",
    usage: "GET key",
    summary: "print the record stored under key",
    example: "GET person1",
  },
  {
    word: "QUERY",
    usage: "QUERY key.field.field",
    summary: "print one value inside a record",
    example: "QUERY person1.address.street",
  },
  {
    word: "DELETE",
    usage: "DELETE key",
    summary: "delete the record from all its replicas",
    example: "DELETE person1",
  },
  {
    word: "PUT",
    usage: "PUT <record line>",
    summary: "store a record given in any dialect",
    example: "PUT person1: { name: Mary; age: 22 }",
  },
  {
    word: "KEYS",
    usage: "KEYS [prefix [limit [after]]]",
    summary: `list keys starting with prefix (default ${DEFAULT_KEYS_LIMIT}, at most ` +
      `${MAX_KEYS_LIMIT}), after the key 'after' (the last one of the page before)`,
    example: "KEYS person 10",
  },
  {
    word: "SERVERS",
    usage: "SERVERS",
    summary: "show each server: up or down, records, latency, its k",
    example: "SERVERS",
  },
  {
    word: "HELP",
    usage: "HELP [command]",
    summary: "show this list, or one command with an example",
    example: "HELP KEYS",
  },
  {
    word: "EXIT",
    usage: "EXIT (or QUIT)",
    summary: "leave (end of input, Ctrl-D, and Ctrl-C twice at an empty prompt do too)",
    example: "EXIT",
  },
];

/** The command words, for completion and hints (QUIT, EXIT's other name, is not offered). */
export const COMMAND_WORDS: readonly string[] = COMMAND_HELP.map((help) => help.word);

/** EXIT's other name. */
const QUIT = "QUIT";

/**
 * A line that is not a valid command; `op` is the command word, upper-cased.
 *
 * @example
 * ```ts
 * try {
 *   parseCommand("GET a.b");
 * } catch (error) {
 *   if (error instanceof CommandError) console.log(error.op, error.message); // GET a key cannot…
 * }
 * ```
 */
export class CommandError extends Error {
  /** The command word as typed, upper-cased (`"INVALID"` for an unreadable line). */
  readonly op: string;
  /** The key the command named, when it got that far. */
  readonly key: string | undefined;
  /**
   * Where in the line the mistake is, from 1, in code points, when the message says so:
   * it then starts `column N: ` (a PUT's record).
   */
  readonly column: number | undefined;

  /**
   * Makes the error for one input line.
   *
   * @param op the command word.
   * @param message what is wrong and what to type instead.
   * @param key the key, when known.
   * @param column where in the line the mistake is, when the message starts `column N: `.
   */
  constructor(op: string, message: string, key?: string, column?: number) {
    super(message);
    invariant(
      column === undefined || message.startsWith(columnPrefix(column)),
      "a column the message gives",
    );
    this.name = "CommandError";
    this.op = op;
    this.key = key;
    this.column = column;
  }

  /**
   * This error with its column given as `column` instead: the same mistake, counted from
   * elsewhere (the REPL counts a command typed over several lines from the line it is on).
   *
   * @example
   * ```ts
   * new CommandError("PUT", "column 20: expected ':'", undefined, 20).at(3).message;
   * // "column 3: expected ':'"
   * ```
   */
  at(column: number): CommandError {
    invariant(this.column !== undefined, "an error at a column");
    const rest = this.message.slice(columnPrefix(this.column).length);
    return new CommandError(this.op, columnPrefix(column) + rest, this.key, column);
  }
}

/** How a {@link CommandError}'s message starts when it gives a column. */
function columnPrefix(column: number): string {
  return `column ${column}: `;
}

/**
 * Parses one input line. Returns undefined for a blank line or a `#` comment;
 * throws a {@link CommandError} for anything that is not a valid command.
 *
 * @example
 * ```ts
 * parseCommand("query person1.address.street");
 * // { op: "QUERY", path: ["person1", "address", "street"] }
 * ```
 */
export function parseCommand(line: string): Command | undefined {
  const trimmed = trimBlanks(line);
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const { typed, word, rest } = splitCommand(trimmed);
  // Where `rest` starts in `line` (after the leading space and the word), for PUT's columns.
  const restOffset = trimBlanksEnd(line).length - rest.length;
  switch (word) {
    case "GET":
    case "DELETE":
      return { op: word, key: parseKey(word, rest) };
    case "QUERY":
      return { op: "QUERY", path: parsePath(rest) };
    case "PUT":
      return parsePut(rest, restOffset);
    case "KEYS":
      return parseKeys(rest);
    case "HELP":
      return parseHelp(rest);
    case "SERVERS":
    case "EXIT":
    case QUIT:
      if (rest !== "") {
        throw new CommandError(word, `${typed} takes no arguments (type ${typed} alone)`);
      }
      return { op: word === QUIT ? "EXIT" : word };
    default:
      // As typed, as its message quotes it: upper-cased it read as a command of kv's.
      throw new CommandError(typed, unknownCommandMessage(typed, rest));
  }
}

/**
 * `trimmed`, a command line without blanks around it: its word as typed, upper-cased, and
 * the rest. Blanks are the record grammar's, spaces and tabs: other space characters are
 * part of a key (a PUT's record writes such a key bare).
 */
function splitCommand(trimmed: string): { typed: string; word: string; rest: string } {
  const wordEnd = indexOfBlank(trimmed);
  const typed = wordEnd === -1 ? trimmed : trimmed.slice(0, wordEnd);
  const rest = wordEnd === -1 ? "" : trimBlanks(trimmed.slice(wordEnd));
  return { typed, word: typed.toUpperCase(), rest };
}

/**
 * Whether `line` is a `PUT` whose record ends with an object still open, by the record
 * grammar: it reads well up to its end, where it needs more (`PUT person1: {`, or
 * `PUT person1: { "name": "Mary",`). Such a line is the start of a record typed or pasted
 * over several lines (`jq .`'s output), which the REPL reads on into one command rather
 * than run. A quoted string left open does not go on (no quoted string spans lines, in
 * JSON or in a record line: a newline in one is written `\n`), nor does any line with a
 * mistake before its end: both are answered at once.
 *
 * @example
 * ```ts
 * putEndsInsideRecord("PUT person1: {"); // true
 * putEndsInsideRecord(`PUT person1: { "name": "Mary",`); // true
 * putEndsInsideRecord(`PUT person1: { "name": "Ma`); // false: a string left open
 * putEndsInsideRecord("PUT person1: { age: 22 }"); // false: whole
 * putEndsInsideRecord("GET person1"); // false
 * ```
 */
export function putEndsInsideRecord(line: string): boolean {
  const { word, rest } = splitCommand(trimBlanks(line));
  if (word !== "PUT") return false;
  try {
    parseRecordLine(rest);
    return false;
  } catch (error) {
    if (!(error instanceof RecordParseError)) throw error;
    return endsInsideRecord(rest, error);
  }
}

/**
 * The key of a line that is exactly `GET key` (the word in any case, one space, a bare
 * key of printable ASCII without `.` or the grammar's delimiters, at most
 * {@link UTF8_CACHE_MAX_BYTES} bytes), read from the line's UTF-8 bytes: the line
 * nearly every piped command is. {@link parseCommand} reads such a line as
 * `{ op: "GET", key }` with this very key; for any other line this returns undefined and
 * the caller decodes the line and parses it. Keys met again are the same string
 * ({@link Utf8Cache}), so none is made for them.
 *
 * @example
 * ```ts
 * parseGetLine(new TextEncoder().encode("GET person1")); // "person1"
 * parseGetLine(new TextEncoder().encode("GET 'person 1'")); // undefined: parseCommand reads it
 * ```
 */
export function parseGetLine(bytes: Uint8Array): string | undefined {
  const length = bytes.length;
  if (
    length < GET_PREFIX_BYTES + 1 || length > GET_PREFIX_BYTES + UTF8_CACHE_MAX_BYTES ||
    (bytes[0] | LOWER_CASE_BIT) !== LOWER_G || (bytes[1] | LOWER_CASE_BIT) !== LOWER_E ||
    (bytes[2] | LOWER_CASE_BIT) !== LOWER_T || bytes[3] !== SPACE
  ) {
    return undefined;
  }
  for (let at = GET_PREFIX_BYTES; at < length; at++) {
    if (PLAIN_KEY_BYTES[bytes[at]] === 0) return undefined;
  }
  return getKeys.decode(bytes, GET_PREFIX_BYTES, length);
}

/** `GET `: the bytes before the key in a line {@link parseGetLine} reads. */
const GET_PREFIX_BYTES = 4;
/** Set in an ASCII letter's code makes it lower-case (`G` 0x47 → `g` 0x67). */
const LOWER_CASE_BIT = 0x20;
const LOWER_G = 0x67;
const LOWER_T = 0x74;

/**
 * 1 for the bytes a key {@link parseGetLine} reads may hold: printable ASCII that is
 * plain in a bare key (lib/record/grammar.ts) — no space, quote, brace, `:`, `;`, `,` —
 * and not `.`, which separates a path. A key of only these reads as itself.
 */
const PLAIN_KEY_BYTES: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let code = 0x21; code < 0x7f; code++) {
    table[code] = charClass(code) === CharClass.plain && code !== DOT ? 1 : 0;
  }
  return table;
})();

/**
 * Slots of the cache of keys {@link parseGetLine} made: four times a Utf8Cache's usual
 * 1024, so that a thousand keys read over and over mostly keep a slot of their own
 * (at 1024 most share one and keep evicting each other, each time making a new string).
 */
const GET_KEY_CACHE_SLOTS = 4096;

/** The keys {@link parseGetLine} made lately, so that a key read again is no new string. */
const getKeys = new Utf8Cache(GET_KEY_CACHE_SLOTS);

/**
 * Longest command word an error message repeats; a pasted record is cut short, so that
 * each message below fits {@link HELP_COLUMNS} with `ERROR: ` before it.
 */
const MAX_QUOTED_WORD_CHARACTERS = 20;

/**
 * Other stores' command words (Redis, memcached, SQL) and kv's command for each: `SET`
 * is one edit from GET, and "did you mean GET?" sent a redis-cli user the wrong way.
 */
const OTHER_STORES_WORDS: Readonly<Record<string, string>> = {
  SET: "PUT",
  HSET: "PUT",
  MSET: "PUT",
  INSERT: "PUT",
  UPDATE: "PUT",
  DEL: "DELETE",
  UNLINK: "DELETE",
  REMOVE: "DELETE",
  HGET: "QUERY",
  SCAN: "KEYS",
  LIST: "KEYS",
};

function unknownCommandMessage(typed: string, rest: string): string {
  const word = typed.toUpperCase();
  const shown = typed.length > MAX_QUOTED_WORD_CHARACTERS
    ? `${typed.slice(0, MAX_QUOTED_WORD_CHARACTERS)}…`
    : typed;
  const kvWord = OTHER_STORES_WORDS[word];
  if (kvWord !== undefined) {
    return `unknown command '${shown}'; kv's is ${kvWord} (HELP ${kvWord} shows an example)`;
  }
  const close = closestWord(word, COMMAND_WORDS);
  if (close !== undefined) {
    return `unknown command '${shown}'; did you mean ${close}? (HELP lists all)`;
  }
  if (rest === "" && !word.includes(".")) {
    return `unknown command '${shown}'; to read a record type GET <key>`;
  }
  // Not the list of commands, which with the word would pass HELP_COLUMNS: HELP prints it.
  return `unknown command '${shown}' (HELP lists all)`;
}

function parseHelp(rest: string): Command {
  if (rest === "") return { op: "HELP" };
  const topic = rest.toUpperCase() === QUIT ? "EXIT" : rest.toUpperCase();
  if (!COMMAND_WORDS.includes(topic)) {
    // The word meant, as an unknown command names it (`HELP gett` listed every word).
    const kvWord = OTHER_STORES_WORDS[topic];
    if (kvWord !== undefined) {
      throw new CommandError(
        "HELP",
        `HELP takes a command word; kv's for ${topic} is ${kvWord}: HELP ${kvWord}`,
      );
    }
    const close = closestWord(topic, COMMAND_WORDS);
    if (close !== undefined) {
      throw new CommandError("HELP", `HELP takes a command word; did you mean HELP ${close}?`);
    }
    // Without the word typed, which is on the line above it: with it the list passed
    // HELP_COLUMNS (95 columns for HELP BOGUS).
    throw new CommandError("HELP", `HELP takes one of ${COMMAND_WORDS.join(", ")}`);
  }
  return { op: "HELP", topic };
}

/** Longest argument an error message repeats; a pasted key is cut short. */
const MAX_QUOTED_ARGUMENT_CHARACTERS = 40;

/**
 * Reads a key or a dotted path from `rest` as the record grammar reads keys
 * (quoted or bare, the same escapes), so a key is written the same way in
 * every command and in a record line — or one whose key is in the `."…"` form KEYS
 * lists a key holding a control character in, read as the one-shot commands read it
 * (readListedKey), so that what KEYS printed can be typed back. Errors give the column
 * in `rest`.
 */
function readKeyPath(op: string, rest: string): string[] {
  try {
    return rest.startsWith(LISTED_KEY_START) ? listedKeyPath(rest) : parseKeyPath(rest);
  } catch (error) {
    if (error instanceof DecodeError) throw new CommandError(op, oneLine(error.message));
    if (!(error instanceof RecordParseError)) throw error;
    const shown = rest.length > MAX_QUOTED_ARGUMENT_CHARACTERS
      ? `${rest.slice(0, MAX_QUOTED_ARGUMENT_CHARACTERS)}…`
      : rest;
    throw new CommandError(op, `${error.reason} at column ${error.column} in '${shown}'`);
  }
}

/** How a key in the form listedKey prints starts: `.`, which no key holds, then a JSON string. */
const LISTED_KEY_START = '."';

/**
 * A path whose key is in the `."…"` form (`."a\nb".name`): the key as readListedKey reads
 * it, then any fields after a '.' as the record grammar reads them. Throws readListedKey's
 * DecodeError, or a RecordParseError whose column points into `text`.
 */
function listedKeyPath(text: string): string[] {
  const [key, length] = readListedKey(text);
  if (length === text.length) return [key];
  const column = [...text.slice(0, length)].length + 1;
  if (text[length] !== ".") {
    throw new RecordParseError(1, column, "expected '.' or the end after the key");
  }
  try {
    return [key, ...parseKeyPath(text.slice(length + 1))];
  } catch (error) {
    if (!(error instanceof RecordParseError)) throw error;
    throw new RecordParseError(1, column + error.column, error.reason);
  }
}

function parseKey(op: "GET" | "DELETE", rest: string): string {
  if (rest === "") throw new CommandError(op, `${op} needs a key, e.g. ${op} person1`);
  if (!rest.startsWith(LISTED_KEY_START) && /^[^"']*\./.test(rest)) {
    throw new CommandError(
      op,
      `a key cannot contain '.'${op === "GET" ? queryHint(rest) : ""}`,
      rest,
    );
  }
  const segments = readKeyPath(op, rest);
  // Only a quoted first segment gets here with a dot after it: `"a".b`, `."a\nb".c`.
  const problem = keyProblem(segments.join("."));
  if (problem !== undefined) throw new CommandError(op, problem, rest);
  return segments[0];
}

/**
 * The advice for a GET of a dotted `text`: QUERY it — when QUERY reads it, so that the
 * advice never names a command that fails (`GET .a` gets none).
 */
function queryHint(text: string): string {
  try {
    parsePath(text);
  } catch (error) {
    if (error instanceof CommandError) return "";
    throw error;
  }
  return `; to read a field use QUERY ${text}`;
}

function parsePath(rest: string): string[] {
  if (rest === "") throw new CommandError("QUERY", "QUERY needs a path, e.g. QUERY person1.age");
  const segments = readKeyPath("QUERY", rest);
  // A `."…"` key may spell any text; the grammar's segments hold no '.' and are not empty.
  const problem = keyProblem(segments[0]);
  if (problem !== undefined) throw new CommandError("QUERY", problem);
  try {
    // The segments hold no '.': joined, the path's own limits (segments, bytes) apply, to
    // the segments exactly (a key of spaces or a newline is one).
    splitQueryPath(segments.join("."));
  } catch (error) {
    if (error instanceof QueryPathError) throw new CommandError("QUERY", error.message);
    throw error;
  }
  return segments;
}

/**
 * What a PUT naming a field twice is told: a record stored keeps each name once, and
 * `--duplicate-keys last-wins` reads `-i` lines only (README: "a PUT naming one twice is
 * always refused"), so the hint is to write the record again.
 */
const DUPLICATE_KEY_ADVICE =
  "; name each field once (--duplicate-keys applies to -i lines, not PUT)";

/**
 * What a PUT whose record ends inside an object is told: a `}` left out, or a record pasted
 * as several lines (`jq .`'s output), which runs as several commands, the first ending there.
 */
export const ONE_LINE_ADVICE =
  "; close the object with '}' (a record is one line: jq -c joins one written over several)";

function parsePut(rest: string, restColumn: number): Command {
  if (rest === "") {
    throw new CommandError("PUT", `PUT needs a record line, e.g. PUT person1: { "age" : 22 }`);
  }
  try {
    const { key, value } = parseRecordLine(rest);
    return { op: "PUT", key, value };
  } catch (error) {
    if (!(error instanceof RecordParseError)) throw error;
    // As an -i line's message points at --duplicate-keys, a PUT's says what to do instead.
    const advice = error.duplicateKey !== undefined
      ? DUPLICATE_KEY_ADVICE
      : endsInsideRecord(rest, error)
      ? ONE_LINE_ADVICE
      : "";
    const column = restColumn + error.column;
    throw new CommandError("PUT", columnPrefix(column) + error.reason + advice, undefined, column);
  }
}

/**
 * Where each word of `text` starts and ends. A quoted span ('…' or "…", backslash
 * escaping the next character) belongs to its word whatever it holds, so a quoted key
 * with spaces or digits is one word.
 */
function wordSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let at = 0;
  while (at < text.length) {
    while (at < text.length && isBlank(text.charCodeAt(at))) at++;
    if (at === text.length) break;
    const start = at;
    while (at < text.length && !isBlank(text.charCodeAt(at))) {
      const quote = text[at++];
      if (quote !== '"' && quote !== "'") continue;
      while (at < text.length && text[at] !== quote) at += text[at] === "\\" ? 2 : 1;
      at++;
    }
    at = Math.min(at, text.length);
    spans.push([start, at]);
  }
  return spans;
}

/** A KEYS argument that is one key: "" for none (or an empty quoted one, '' or ""). */
function readKeyArgument(text: string, what: string): string {
  if (text === "" || text === "''" || text === '""') return "";
  const segments = readKeyPath("KEYS", text);
  // A dotted argument reads as a path; the one key check says why it is no key.
  const problem = keyProblem(segments.join("."), what);
  if (problem !== undefined) throw new CommandError("KEYS", problem);
  return segments[0];
}

function parseKeys(rest: string): Command {
  // The first word that is a whole number is the limit: the prefix is before it, `after`
  // behind it (quote a prefix or key that is a number).
  const spans = wordSpans(rest);
  const limitSpan = spans.find(([start, end]) => /^\d+$/.test(rest.slice(start, end)));
  const limitText = limitSpan === undefined ? undefined : rest.slice(limitSpan[0], limitSpan[1]);
  const prefixText = limitSpan === undefined ? rest : trimBlanksEnd(rest.slice(0, limitSpan[0]));
  const afterText = limitSpan === undefined ? "" : trimBlanks(rest.slice(limitSpan[1]));
  const prefix = readKeyArgument(prefixText, "a key prefix");
  const after = readKeyArgument(afterText, "the key to list after");
  let limit = DEFAULT_KEYS_LIMIT;
  if (limitText !== undefined) {
    limit = Number(limitText);
    if (!(limit >= 1 && limit <= MAX_KEYS_LIMIT)) {
      throw new CommandError(
        "KEYS",
        `the limit must be a whole number from 1 to ${MAX_KEYS_LIMIT}, got '${limitText}'`,
      );
    }
  }
  return { op: "KEYS", prefix, limit, after };
}

/**
 * Runs `command` against `broker`. Never throws for a server's failure: that
 * is an answer with `error` (or a `warning`).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * await runCommand(broker, { op: "GET", key: "person9" }); // { op: "GET", key: "person9", found: false }
 * ```
 */
export function runCommand(broker: Broker, command: Command): Promise<Answer> {
  // A read's answer is made as the read ends, with no promise of its own: nearly every
  // piped command is one.
  if (command.op === "GET") {
    return broker.getEncodedAs(command.key, (lookup) => lookupAnswer("GET", command.key, lookup));
  }
  if (command.op === "QUERY") {
    const { path } = command;
    const key = path.join(".");
    return broker.queryEncodedAs(path, (lookup) => lookupAnswer("QUERY", key, lookup, path));
  }
  return runOtherCommand(broker, command);
}

/** The answer to a GET or QUERY of `key` (the path joined by `.` for QUERY, and `path`). */
function lookupAnswer(
  op: "GET" | "QUERY",
  key: string,
  lookup: EncodedLookup,
  path?: readonly string[],
): Answer {
  if (lookup.kind === "found") {
    const version = formatVersion(lookup.version);
    const found = { op, key, found: true, encoded: lookup.encoded, version } as const;
    return lookup.warning === undefined ? found : { ...found, warning: lookup.warning };
  }
  if (lookup.kind === "error") return { op, key, error: lookup.error };
  // A read that learned nothing of the key cannot say what is missing.
  const missing = path === undefined || lookup.unanswered
    ? undefined
    : missingOf(path, lookup.miss);
  const why = missing === undefined ? {} : { missing };
  return lookup.warning === undefined
    ? { op, key, found: false, ...why }
    : { op, key, found: false, ...why, warning: lookup.warning };
}

/** What a QUERY of `path` that found nothing misses, from its replica's `miss` (none: no record). */
function missingOf(path: readonly string[], miss: PathMiss | undefined): Missing {
  if (miss === undefined) return { reason: "no-record" };
  const missed = missedPath(path, miss).join(".");
  if (miss.reason === "not-object") {
    return { reason: "not-object", path: missed, value: miss.value };
  }
  return miss.closest === undefined
    ? { reason: "no-field", path: missed }
    : { reason: "no-field", path: missed, closest: miss.closest };
}

/** {@link runCommand} for every command but GET and QUERY. */
async function runOtherCommand(
  broker: Broker,
  command: Exclude<Command, { op: "GET" | "QUERY" }>,
): Promise<Answer> {
  switch (command.op) {
    case "DELETE": {
      const change = await broker.delete(command.key);
      if (change.kind === "error") return { op: "DELETE", key: command.key, error: change.error };
      const version = formatVersion(change.version);
      const deleted = { op: "DELETE", key: command.key, deleted: change.existed, version } as const;
      return change.warning === undefined ? deleted : { ...deleted, warning: change.warning };
    }
    case "PUT": {
      const change = await broker.put(command.key, command.value);
      if (change.kind === "error") {
        const { error, refused } = change;
        return { op: "PUT", key: command.key, error, ...(refused ? { refused: true } : {}) };
      }
      const stored = {
        op: "PUT",
        key: command.key,
        stored: true,
        version: formatVersion(change.version),
      } as const;
      return change.warning === undefined ? stored : { ...stored, warning: change.warning };
    }
    case "KEYS": {
      // An empty page nobody vouched for shows as its warning, as it always has here.
      const { unanswered: _, ...answer } = await broker.keys(
        command.prefix,
        command.limit,
        command.after,
      );
      const { prefix, limit, after } = command;
      const next = answer.more ? answer.keys.at(-1) : undefined;
      return {
        op: "KEYS",
        prefix,
        limit,
        ...(after === "" ? {} : { after }),
        ...answer,
        ...(next === undefined ? {} : { next }),
      };
    }
    case "SERVERS":
      return { op: "SERVERS", servers: await broker.servers() };
    case "HELP": {
      const topic = command.topic;
      return {
        op: "HELP",
        commands: topic === undefined
          ? COMMAND_HELP
          : COMMAND_HELP.filter((help) => help.word === topic),
      };
    }
    case "EXIT":
      return { op: "EXIT" };
  }
}

/**
 * Whether `answer` ends the session: EXIT's own answer, never an error about it.
 *
 * @example
 * ```ts
 * endsSession({ op: "EXIT" }); // true
 * endsSession({ op: "EXIT", error: "EXIT takes no arguments" }); // false
 * ```
 */
export function endsSession(answer: Answer): boolean {
  return answer.op === "EXIT" && !("error" in answer);
}

/**
 * The answer for a line that failed to parse.
 *
 * @example
 * ```ts
 * errorAnswer(new CommandError("FOO", "unknown command 'FOO'")); // { op: "FOO", error: "…" }
 * ```
 */
export function errorAnswer(error: CommandError): Answer {
  return error.key === undefined
    ? { op: error.op, error: error.message }
    : { op: error.op, key: error.key, error: error.message };
}

/** How {@link formatAnswer} prints. */
export interface FormatOptions {
  /** One JSON object per answer instead of human text; default false. */
  json?: boolean;
  /** Dialect of printed values in human text; default `"assignment"`. */
  dialect?: Dialect;
  /** ANSI colours in human text; default false. */
  color?: boolean;
  /**
   * The command a KEYS answer with more keys names for its next page, from the page's
   * prefix and limit and the last key listed; default {@link keysNextPageCommand}.
   */
  keysNextPage?: (prefix: string, limit: number, after: string) => string;
  /**
   * The `kv repair` command over the client's own server list (and credentials) that
   * SERVERS' advice names, e.g. `kv repair -s servers.txt`; default
   * {@link DEFAULT_REPAIR_COMMAND}.
   */
  repairCommand?: string;
}

/**
 * The REPL's command for the next page of keys: `KEYS prefix limit after`, each key
 * quoted when KEYS would not read it back bare.
 *
 * @example
 * ```ts
 * keysNextPageCommand("person", 100, "person99"); // "KEYS person 100 person99"
 * ```
 */
export function keysNextPageCommand(prefix: string, limit: number, after: string): string {
  return `KEYS ${keyArgument(prefix)} ${limit} ${keyArgument(after)}`;
}

const ANSI = { bold: 1, red: 31, green: 32, yellow: 33, cyan: 36, dim: 2 } as const;

/**
 * Prints an answer: one JSON line, or human text (one or more lines, without
 * a trailing newline; empty for EXIT).
 *
 * @example
 * ```ts
 * formatAnswer({ op: "GET", key: "person9", found: false }); // "NOT FOUND: person9"
 * ```
 */
export function formatAnswer(answer: Answer, options: FormatOptions = {}): string {
  return printedAnswer(answer, options).text;
}

/** An answer as {@link printedAnswer} formats it. */
export interface PrintedAnswer {
  /** The answer the text is of: the one formatted, or the error printed in its place. */
  readonly answer: Answer;
  /** What {@link formatAnswer} returns for the answer formatted. */
  readonly text: string;
}

/**
 * Formats `answer` as {@link formatAnswer} does and says which answer the text is of: a
 * value a server encoded wrongly is found out only as it prints, and is printed as an error
 * answer (without the warning the answer carried), whose stream and exit code are then an
 * error's, not a found record's.
 *
 * @example
 * ```ts
 * const malformed = new Uint8Array([0x09]); // no value starts with tag 0x09
 * const version = "0193813bcc0000000000002a";
 * const printed = printedAnswer({ op: "GET", key: "p", found: true, encoded: malformed, version });
 * printed.text; // "ERROR: a replica sent a malformed value: unknown value tag 0x09"
 * "error" in printed.answer; // true
 * ```
 */
export function printedAnswer(answer: Answer, options: FormatOptions = {}): PrintedAnswer {
  if (!options.json) return withMalformedValueAsError(answer, humanText, options);
  const printed = withMalformedValueAsError(withAdvice(answer, options), jsonBytes, JSON_OPTIONS);
  return { answer: printed.answer, text: utf8Decoder.decode(printed.text) };
}

/**
 * The JSON line {@link formatAnswer} prints with `json: true`, as UTF-8 bytes (without
 * the newline): a view, valid until the next call. Printing these bytes rather than the
 * text saves decoding each answer into a string and encoding it again for stdout.
 *
 * @example
 * ```ts
 * import { LineBuffer } from "../base/stdout.ts";
 * const output = new LineBuffer();
 * output.writeLineBytes(formatAnswerJson({ op: "GET", key: "person9", found: false }));
 * ```
 *
 * @param options `repairCommand`, which SERVERS' `"advice"` names (as the human text's).
 */
export function formatAnswerJson(
  answer: Answer,
  options: Pick<FormatOptions, "repairCommand"> = {},
): Uint8Array {
  return withMalformedValueAsError(withAdvice(answer, options), jsonBytes, JSON_OPTIONS).text;
}

/** `answer` with SERVERS' advice ({@link serversAdvice}) when it has any. */
function withAdvice(answer: Answer, options: Pick<FormatOptions, "repairCommand">): Answer {
  if (answer.op !== "SERVERS" || !("servers" in answer)) return answer;
  const repair = options.repairCommand ?? DEFAULT_REPAIR_COMMAND;
  const advice = serversAdvice(answer.servers, repair);
  return advice === undefined ? answer : { ...answer, advice };
}

/** What {@link formatAnswerJson} formats with. */
const JSON_OPTIONS: FormatOptions = Object.freeze({ json: true });

/** The JSON line of `answer` as bytes in {@link jsonScratch}. */
function jsonBytes(answer: Answer): Uint8Array {
  jsonScratch.reset();
  writeJson(answer, jsonScratch);
  return jsonScratch.bytes();
}

/**
 * Formats `answer` with `format(answer, options)`; a value a server encoded wrongly is
 * formatted as an error answer, which is returned with its text.
 */
function withMalformedValueAsError<T>(
  answer: Answer,
  format: (answer: Answer, options: FormatOptions) => T,
  options: FormatOptions,
): { answer: Answer; text: T } {
  try {
    return { answer, text: format(answer, options) };
  } catch (error) {
    // Only an encoded value is checked as it prints: a server that sent a bad one is an error.
    if (!(error instanceof DecodeError && "encoded" in answer)) throw error;
    const reason = `a replica sent a malformed value: ${error.message}`;
    const printed: Answer = { op: answer.op, key: answer.key, error: reason };
    return { answer: printed, text: format(printed, options) };
  }
}

/** Reused by {@link formatAnswerJson}, which runs to completion before anyone else can use it. */
const jsonScratch = new EncodedJsonWriter();

const utf8Decoder = new TextDecoder();

function humanText(answer: Answer, options: FormatOptions): string {
  const paint = (style: keyof typeof ANSI, text: string) =>
    options.color ? `\x1b[${ANSI[style]}m${text}\x1b[0m` : text;
  const nextPage = options.keysNextPage ?? keysNextPageCommand;
  const repair = options.repairCommand ?? DEFAULT_REPAIR_COMMAND;
  const lines = humanLines(answer, options.dialect ?? "assignment", paint, nextPage, repair);
  if ("warning" in answer && answer.warning !== undefined) {
    lines.push(paint("yellow", `WARNING: ${oneLine(answer.warning)}`));
  }
  return lines.join("\n");
}

type Paint = (style: keyof typeof ANSI, text: string) => string;

/**
 * `key` (or a field name) written so that every command reads it back as that key, KEYS'
 * arguments too: as the answers write it (formatName, the bare dialect's rule), and quoted
 * when it starts like a number, which KEYS would read as its limit.
 *
 * @example
 * ```ts
 * keyArgument("person1"); // "person1"
 * keyArgument("café"); // "café"
 * keyArgument("a:b"); // "\"a:b\""
 * keyArgument("7up"); // "\"7up\""
 * ```
 */
export function keyArgument(key: string): string {
  if (!/^[0-9+\-]/.test(key)) return formatName(key);
  return `"${oneLine(key.replace(/[\\"]/g, "\\$&"))}"`;
}

/**
 * What NO KEYS adds for a prefix holding a glob's `*` or `?` (`KEYS person*`, as redis-cli
 * takes a pattern): kv's is a prefix, whose `*` is a character like any other.
 */
function patternNote(prefix: string): string {
  if (prefix === "*") return " (a prefix, not a pattern: give none to list every key)";
  const glob = /[*?]/.exec(prefix)?.[0];
  return glob === undefined ? "" : ` (a prefix, not a pattern: '${glob}' is taken as it is)`;
}

/** A leaf a QUERY ran into is shown cut to this many characters: it may be a long text. */
const MAX_SHOWN_LEAF_CHARACTERS = 40;

/**
 * What a QUERY of `key` (its names formatted, dotted) misses, in words: `no record
 * person9`, `person1.address has no field stret (did you mean street?)`, `person1.age is
 * 22, not an object`.
 */
function missingText(missing: Missing, key: string, dialect: Dialect): string {
  const names = key.split(".");
  if (missing.reason === "no-record") return `no record ${names[0]}`;
  const depth = missing.path.split(".").length;
  if (missing.reason === "not-object") {
    const shown = formatValue(missing.value, dialect);
    const cut = shown.length <= MAX_SHOWN_LEAF_CHARACTERS
      ? shown
      : `${shown.slice(0, MAX_SHOWN_LEAF_CHARACTERS - 1)}…`;
    return `${names.slice(0, depth).join(".")} is ${oneLine(cut)}, not an object`;
  }
  const hint = missing.closest === undefined
    ? ""
    : ` (did you mean ${formatName(missing.closest)}?)`;
  return `${names.slice(0, depth - 1).join(".")} has no field ${names[depth - 1]}${hint}`;
}

/**
 * For a QUERY of a key with spaces and no '.' that found no record, ` (… a.b)`: most
 * likely a key and its field typed apart (`QUERY person1 name`), which read as the one key
 * "person1 name"; a whole record is what GET reads. Else "".
 */
function splitPathHint(path: string, missing: Missing): string {
  const words = path.trim().split(/\s+/);
  if (missing.reason !== "no-record" || path.includes(".") || words.length < 2) return "";
  return ` (a path joins a key and its fields with '.': ${words.map(formatName).join(".")})`;
}

function humanLines(
  answer: Answer,
  dialect: Dialect,
  paint: Paint,
  nextPage: NonNullable<FormatOptions["keysNextPage"]>,
  repair: string,
): string[] {
  if ("error" in answer) {
    const where = answer.line === undefined ? "" : `line ${answer.line}: `;
    return [paint("red", `ERROR: ${where}${oneLine(answer.error)}`)];
  }
  switch (answer.op) {
    case "GET":
    case "QUERY":
      return readLines(answer, dialect, paint);
    case "DELETE": {
      const { key, deleted } = answer as { key: string; deleted: boolean };
      return [
        deleted
          ? paint("green", `DELETED: ${formatName(key)}`)
          : paint("yellow", `NOT FOUND: ${formatName(key)}`),
      ];
    }
    case "PUT":
      return [paint("green", `STORED: ${formatName((answer as { key: string }).key)}`)];
    case "KEYS":
      return keysLines(answer as Extract<Answer, { op: "KEYS" }>, paint, nextPage);
    case "SERVERS":
      return serverLines((answer as Extract<Answer, { op: "SERVERS" }>).servers, paint, repair);
    case "HELP":
      return helpLines((answer as Extract<Answer, { op: "HELP" }>).commands, paint);
    default:
      return [];
  }
}

/** A GET's or QUERY's line: the key and its value, or NOT FOUND and why. */
function readLines(answer: Answer, dialect: Dialect, paint: Paint): string[] {
  // Keys as a command reads them back: `GET "q:1"`, where a bare q:1 does not parse. A
  // QUERY's key is its path joined with '.', which no name holds: each name on its own.
  const raw = (answer as { key: string }).key;
  const key = raw.split(".").map(formatName).join(".");
  if ("value" in answer) {
    return [`${paint("cyan", key)} : ${formatValue(answer.value, dialect)}`];
  }
  if ("encoded" in answer) {
    return [`${paint("cyan", key)} : ${formatValue(decodeValue(answer.encoded), dialect)}`];
  }
  const { missing } = answer as { missing?: Missing };
  const why = missing === undefined
    ? key
    : missingText(missing, key, dialect) + splitPathHint(raw, missing);
  return [paint("yellow", `NOT FOUND: ${why}`)];
}

/** KEYS' lines: the keys, one a line, then NO KEYS when there are none, or the next page. */
function keysLines(
  answer: Extract<Answer, { op: "KEYS" }>,
  paint: Paint,
  nextPage: NonNullable<FormatOptions["keysNextPage"]>,
): string[] {
  const { keys, next, prefix, limit, after } = answer;
  // One a line, for a script to take (`kv keys | …`): as stored, or `."…"` for a key
  // that could not be told for sure so, which the one-shot commands read back.
  const lines = keys.map(listedKey);
  if (keys.length === 0) {
    const since = after === undefined ? "" : ` after '${oneLine(after)}'`;
    // Without a prefix every key matches: none at all is said plainly.
    const start = prefix === "" ? "" : ` start with '${oneLine(prefix)}'`;
    lines.push(paint("yellow", `NO KEYS${start}${since}${patternNote(prefix)}`));
  }
  if (next !== undefined) {
    lines.push(
      paint("dim", `(first ${limit}; more match — next page: ${nextPage(prefix, limit, next)})`),
    );
  }
  return lines;
}

/**
 * One line per server, in columns: address, state, records, latency and the k it records
 * (or the error); then, only when they apply, why it is not trusted and the hints waiting for
 * it; then, when the servers record different ks or a k above the servers listed, the line
 * that says so and what to do (kProblem), the one instruction then: `repair` without `-k`
 * would be refused, so no row names it.
 */
function serverLines(reports: readonly ServerReport[], paint: Paint, repair: string): string[] {
  const { problem, command } = repairAdvice(reports, repair);
  const rows = serverRows(reports, paint, command);
  return [...rows, ...problem === undefined ? [] : [paint("red", problem)]];
}

/** A server as SERVERS' advice reads it: {@link ServerReport}, or the library's status. */
export interface AdvisedServer {
  /** The server's id (`host:port`). */
  readonly server: string;
  /** Whether it answered. */
  readonly up: boolean;
  /** When up: the k it records, 0 for none. */
  readonly k?: number;
  /**
   * When up: false while it is not yet repaired, repaired under another list, or being
   * re-marked by a `kv repair`.
   */
  readonly repaired?: boolean;
  /** When up and not repaired: whether it is repaired under another list or k. */
  readonly repairedUnderOtherList?: boolean;
  /** When up and not repaired: whether a `kv repair` is re-marking it. */
  readonly beingRemarked?: boolean;
}

/**
 * What SERVERS advises over `reports`, given `repair`, the client's `kv repair` command:
 * `problem`, the line saying the servers' ks are in question and the commands that settle
 * them (kProblem), else `command`, what repairs a server that needs it — `repair`, or
 * `repair -k N` while no server records a k (a repair must then be told one).
 */
function repairAdvice(
  reports: readonly AdvisedServer[],
  repair: string,
): { problem?: string; command?: string } {
  const up = reports.flatMap((report) => report.up ? [{ ...report, k: report.k ?? 0 }] : []);
  const problem = kProblem(up, reports.length, repair);
  // With a k problem, no repair helps but its own.
  if (problem !== undefined) return { problem };
  return { command: up.some((report) => report.k !== 0) ? repair : `${repair} -k N` };
}

/**
 * SERVERS' advice over `reports` as one line, as the human text says it (its last line and
 * its rows' notes), for `--json` and the HTTP API: the k problem with the commands that
 * settle it, else the command that repairs the servers up not yet repaired, naming them,
 * and for those repaired under another list or k {@link otherListAdvice}; else undefined.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * serversAdvice(await broker.servers(), "kv repair -s servers.txt");
 * // "run kv repair -s servers.txt to repair 127.0.0.1:8001", or undefined
 * ```
 */
export function serversAdvice(
  reports: readonly AdvisedServer[],
  repair: string,
): string | undefined {
  const { problem, command } = repairAdvice(reports, repair);
  if (problem !== undefined) return problem;
  invariant(command !== undefined, "without a k problem there is a repair command");
  const untrusted = (why: Distrust) =>
    reports.flatMap((report) =>
      report.up && report.repaired === false && distrust(report) === why ? [report.server] : []
    );
  const unrepaired = untrusted("unrepaired");
  const otherList = untrusted("other list");
  const remarked = untrusted("being re-marked");
  const lines = [
    ...unrepaired.length === 0 ? [] : [`run ${command} to repair ${someNamed(unrepaired)}`],
    ...otherList.length === 0 ? [] : [
      `${someNamed(otherList)} ${wasOrWere(otherList.length)} ` +
      `${REPAIRED_UNDER_OTHER_LIST}: ${otherListAdvice(command)}`,
    ],
    ...remarked.length === 0 ? [] : [
      `${someNamed(remarked)} ${remarked.length === 1 ? "is" : "are"} ` +
      beingRemarked(remarked.length),
    ],
  ];
  return lines.length === 0 ? undefined : lines.join("; ");
}

/** Why a server up is not trusted, as SERVERS tells the cases apart. */
type Distrust = "unrepaired" | "other list" | "being re-marked";

/** Why `report`, a server up and not repaired, is not trusted. */
function distrust(report: AdvisedServer): Distrust {
  if (report.beingRemarked === true) return "being re-marked";
  return report.repairedUnderOtherList === true ? "other list" : "unrepaired";
}

/**
 * {@link serverLines}' row for each server, an unrepaired one's ending with `advice`, the
 * command that repairs it (none: see the last line).
 */
function serverRows(
  reports: readonly ServerReport[],
  paint: Paint,
  advice: string | undefined,
): string[] {
  const column = (texts: string[]) => Math.max(0, ...texts.map((text) => text.length));
  const addressWidth = column(reports.map((report) => report.server));
  const counts = reports.map((report) => report.up ? counted(report.records, "record") : "");
  const latencies = reports.map((report) =>
    report.up ? `${report.latencyMs.toFixed(LATENCY_DIGITS)} ms` : ""
  );
  const countWidth = column(counts);
  const latencyWidth = column(latencies);
  return reports.map((report, index) => {
    const address = report.server.padEnd(addressWidth);
    // The state is padded before painting, so escape codes never shift the columns.
    if (!report.up) {
      // Refused: running, but not with this client's credentials; they need fixing. Busy:
      // running, but with no room for this client; it needs room.
      const state = report.refused ? "REFUSED" : report.busy ? "BUSY" : "DOWN";
      return `${address}  ${paint("red", state)}  ${report.error}${notes(report, advice)}`;
    }
    const k = report.k === 0 ? "no k" : `k=${report.k}`;
    return `${address}  ${paint("green", "up  ")}  ${counts[index].padStart(countWidth)}  ` +
      `${latencies[index].padStart(latencyWidth)}  ${k}${notes(report, advice)}`;
  });
}

/**
 * SERVERS' note on a server up that refuses writes (its STATS says so): its log says why
 * (a full or read-only disk, or out of the cluster too long) and what to do.
 */
export const READ_ONLY_NOTE = "refusing writes (read-only: see its log)";

/**
 * What SERVERS adds after a server's columns: {@link READ_ONLY_NOTE}, "not yet repaired" or
 * "repaired under another server list" (with `advice`, the command that repairs it, when
 * there is one) or "being re-marked by a kv repair", hints waiting.
 */
function notes(report: ServerReport, advice: string | undefined): string {
  let unrepaired = "";
  if (report.up && !report.repaired) {
    const why = distrust(report);
    if (why === "being re-marked") unrepaired = `  ${BEING_REMARKED_NOTE}`;
    else if (why === "other list") {
      unrepaired = `  ${REPAIRED_UNDER_OTHER_LIST} (not trusted${
        advice === undefined ? "" : `: ${otherListAdvice(advice)}`
      })`;
    } else unrepaired = `  not yet repaired${advice === undefined ? "" : ` (run ${advice})`}`;
  }
  const readOnly = report.up && report.readOnly ? `  ${READ_ONLY_NOTE}` : "";
  const hints = report.hints > 0 ? `  ${counted(report.hints, "hinted partition")} waiting` : "";
  return readOnly + unrepaired + hints;
}

/** The command list, or one command's usage, summary and example. */
function helpLines(commands: readonly CommandHelp[], paint: Paint): string[] {
  if (commands.length === 1) {
    const [help] = commands;
    return [...usageLines(help, help.usage.length, paint), `  example: ${help.example}`];
  }
  const width = Math.max(...commands.map((command) => command.usage.length));
  return [
    ...commands.flatMap((command) => usageLines(command, width, paint)),
    "HELP <command> shows one command with an example.",
  ];
}

/** Narrowest column a command's summary is wrapped to, however wide its usage: a few words. */
const MIN_SUMMARY_COLUMNS = 20;

/**
 * A command's usage, padded to `width`, and its summary beside it, wrapped at spaces to
 * {@link HELP_COLUMNS} with its further lines under its first (a 147-column KEYS line
 * wrapped mid-word on an 80-column terminal).
 */
function usageLines(help: CommandHelp, width: number, paint: Paint): string[] {
  const indent = width + 2;
  const room = Math.max(MIN_SUMMARY_COLUMNS, HELP_COLUMNS - indent);
  return wrapWords(help.summary, room).map((text, index) =>
    index === 0
      ? `${paint("bold", help.usage.padEnd(width))}  ${text}`
      : `${" ".repeat(indent)}${text}`
  );
}

/**
 * Writes the answer as one line of JSON, fields in order; a record's value keeps its own
 * order. A value as a server encoded it is written by {@link writeFoundJson}.
 */
function writeJson(answer: Answer, json: EncodedJsonWriter): void {
  if ("encoded" in answer) return writeFoundJson(answer, json);
  let text = "{";
  let first = true;
  for (const [name, field] of Object.entries(answer)) {
    if (field === undefined) continue;
    if (!first) text += ",";
    first = false;
    const member = name === "value"
      ? toJsonText(field as Value)
      : name === "missing"
      ? missingJson(field as Missing)
      : JSON.stringify(field);
    text += `${JSON.stringify(name)}:${member}`;
  }
  json.text(`${text}}`);
}

/**
 * Why a QUERY found nothing as JSON, a leaf's value with its kind kept (`2.0`) as a found
 * value's: a {@link Missing}, whose path is dotted, or the HTTP API's, whose path is a list
 * of segments (lib/http/api.ts).
 *
 * @example
 * ```ts
 * import { float } from "../record/value.ts";
 * missingJson({ reason: "not-object", path: "person1.height", value: float(2) });
 * // '{"reason":"not-object","path":"person1.height","value":2.0}'
 * missingJson({ reason: "not-object", path: ["person1", "height"], value: float(2) });
 * // '{"reason":"not-object","path":["person1","height"],"value":2.0}'
 * ```
 */
export function missingJson(
  missing:
    | { readonly reason: "no-record" | "no-field" }
    | {
      readonly reason: "not-object";
      readonly path: string | readonly string[];
      readonly value: Value;
    },
): string {
  if (missing.reason !== "not-object") return JSON.stringify(missing);
  return `{"reason":"not-object","path":${JSON.stringify(missing.path)},` +
    `"value":${toJsonText(missing.value)}}`;
}

/** A GET or QUERY answer that found a value, as a server encoded it. */
type EncodedFound = Extract<Answer, { encoded: Uint8Array }>;

/**
 * {@link writeJson} for the answer nearly every piped GET gets: its fields in the order
 * `runCommand` makes them, without listing the answer's entries and quoting each name;
 * the fixed parts are bytes made once, the key and version copied in as JSON strings.
 */
function writeFoundJson(answer: EncodedFound, json: EncodedJsonWriter): void {
  json.raw(answer.op === "GET" ? GET_FOUND_START : QUERY_FOUND_START);
  json.string(answer.key);
  json.raw(FOUND_VALUE);
  json.value(answer.encoded);
  json.raw(VERSION_NAME);
  json.string(answer.version);
  if (answer.warning !== undefined) {
    json.raw(WARNING_NAME);
    json.string(answer.warning);
  }
  json.raw(OBJECT_END);
}

const utf8Encoder = new TextEncoder();
const GET_FOUND_START = utf8Encoder.encode('{"op":"GET","key":');
const QUERY_FOUND_START = utf8Encoder.encode('{"op":"QUERY","key":');
const FOUND_VALUE = utf8Encoder.encode(',"found":true,"value":');
const VERSION_NAME = utf8Encoder.encode(',"version":');
const WARNING_NAME = utf8Encoder.encode(',"warning":');
const OBJECT_END = utf8Encoder.encode("}");
