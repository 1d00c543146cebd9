/**
 * The one check of a record key and a field name: non-empty, at most MAX_KEY_BYTES
 * UTF-8 bytes, valid UTF-8, without `.`. {@link checkKey} checks a string,
 * {@link checkEncodedKey} and {@link checkEncodedName} UTF-8 bytes. Every layer calls
 * these — the parser, the printer, the trie, the protocol, the broker's commands — so
 * the rule cannot drift between them; a layer with its own error type (a parse error
 * with a column) wraps their message.
 *
 * @example
 * ```ts
 * import { checkEncodedKey } from "./key.ts";
 * checkEncodedKey(new TextEncoder().encode("person1"), 0, 7); // fine
 * ```
 * @module
 */
import { DecodeError, LimitExceededError } from "../base/bytes.ts";
import { isWellFormedUtf8, readUtf8, utf8Length } from "../base/utf8.ts";
import { invariant } from "../base/invariant.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import { DELETE, DOT, SINGLE_QUOTE } from "./grammar.ts";

/**
 * Checks a record key given as UTF-8, `source[start, end)`: non-empty, at most
 * MAX_KEY_BYTES bytes (else a LimitExceededError), valid UTF-8 and without `.` (else a
 * DecodeError). `what` names it in messages; default "record key".
 *
 * @example
 * ```ts
 * checkEncodedKey(new TextEncoder().encode("person1"), 0, 7); // fine
 * ```
 */
export function checkEncodedKey(
  source: Uint8Array,
  start: number,
  end: number,
  what = "record key",
): void {
  checkRange(source, start, end, what);
  const length = end - start;
  if (length === 0) throw new DecodeError(`empty ${what}`);
  checkKeyBytes(length, what);
  checkEncodedName(source, start, length, what);
}

/**
 * Throws a LimitExceededError when a key or field name of `length` UTF-8 bytes is over
 * MAX_KEY_BYTES: for a decoder, before it reads the bytes. `what` names it in messages.
 *
 * @example
 * ```ts
 * checkKeyBytes(1025, "field name"); // throws: field name is 1025 bytes, over the limit of 1024
 * ```
 */
export function checkKeyBytes(length: number, what: string): void {
  if (length > MAX_KEY_BYTES) throw new LimitExceededError(overLimitMessage(what, length));
}

/**
 * What a listing of keys asks for: the trie's `keys`, a store's, a KEYS request's.
 *
 * @example
 * ```ts
 * const page: KeysOptions = { prefix: "person", limit: 100, after: "person42" };
 * ```
 */
export interface KeysOptions {
  /** Only keys starting with this (no `.`); default "" (every key). */
  prefix?: string;
  /**
   * Most keys to return, up to MAX_KEYS_LIMIT (a KEYS request asks for at least 1; the
   * trie also takes 0).
   */
  limit: number;
  /** Only keys strictly after this one, in UTF-8 byte order, for paging; default: from the start. */
  after?: string;
}

/**
 * Keys of at most this many UTF-16 units cannot exceed MAX_KEY_BYTES (a unit takes at
 * most 3 UTF-8 bytes), so their bytes are not counted.
 */
const KEY_UNITS_SURELY_WITHIN_LIMIT = Math.floor(MAX_KEY_BYTES / 3);

/**
 * Checks a record key or field name given as a string, by the rule
 * {@link checkEncodedKey} applies to its UTF-8 bytes: non-empty and without `.` (else a
 * DecodeError), at most MAX_KEY_BYTES UTF-8 bytes (else a LimitExceededError; a lone
 * surrogate counts as the 3 bytes of the U+FFFD it encodes to). Whether a lone
 * surrogate is allowed at all is the caller's business: the record text format can
 * write one, UTF-8 storage cannot. `what` names it in messages; default "key".
 *
 * @example
 * ```ts
 * checkKey("person1"); // fine
 * checkKey("a.b"); // throws DecodeError: key 'a.b' contains '.' (it separates query paths)
 * ```
 */
export function checkKey(key: string, what = "key"): void {
  const problem = keyProblem(key, what);
  if (problem === undefined) return;
  // Only the length is a limit; an empty or dotted key is malformed.
  const malformed = key.length === 0 || key.indexOf(".") !== -1;
  throw malformed ? new DecodeError(problem) : new LimitExceededError(problem);
}

/**
 * What is wrong with `key` by the rule of {@link checkKey}, or undefined when nothing
 * is: for a caller with errors of its own (a parse error with a column), which need
 * no exception made and caught on the way.
 *
 * @example
 * ```ts
 * keyProblem("person1"); // undefined
 * keyProblem(""); // "empty key"
 * ```
 */
export function keyProblem(key: string, what = "key"): string | undefined {
  if (key.length === 0) return `empty ${what}`;
  if (key.indexOf(".") !== -1) return dottedMessage(what, key);
  if (key.length > KEY_UNITS_SURELY_WITHIN_LIMIT) {
    const length = utf8Length(key);
    if (length > MAX_KEY_BYTES) return overLimitMessage(what, length);
  }
  return undefined;
}

function dottedMessage(what: string, key: string): string {
  return `${what} '${oneLine(key)}' contains '.' (it separates query paths)`;
}

/**
 * The characters a terminal or a page would not show as themselves, as the body of a
 * RegExp character class (flag `u`): controls (`\p{Cc}`: C0, DEL, C1 — a newline splits a
 * line, an escape sequence reaches the terminal, a tab or CR hides), format characters
 * (`\p{Cf}`: the zero-width space U+200B and the soft hyphen show as nothing, a bidi
 * override such as U+202E or isolate such as U+2066 reverses what follows), the line and
 * paragraph separators U+2028 and U+2029, which some terminals break lines at, the rest of
 * Unicode's default ignorable characters (`\p{DI}`: a combining grapheme joiner U+034F, a
 * variation selector U+FE0F, a Hangul filler U+3164, drawn as nothing or a blank), and the
 * spaces other than U+0020 (`\p{Zs}` but it: a no-break space U+00A0 is drawn as a space).
 * Keys differing only by them looked identical (`victim` and `victim` followed by U+200B, or
 * U+034F). The web console's `HIDDEN_IN_TEXT` (lib/http/console/console.js) quotes keys
 * holding the same characters.
 */
const HIDDEN_CHARACTERS =
  "\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{DI}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000";

/** The characters {@link oneLine} escapes, all of them. */
const ESCAPED = new RegExp(`[${HIDDEN_CHARACTERS}]`, "gu");
/** Whether one character is among them. */
const ESCAPED_ONE = new RegExp(`^[${HIDDEN_CHARACTERS}]$`, "u");

/** What ends a cut line: one character, so a bound of 1 still has room for it. */
const ELLIPSIS = "…";

/** Options of {@link oneLine}. */
export interface OneLineOptions {
  /**
   * The most characters (UTF-16 code units) the line may have, the escapes and the "…"
   * of a cut included; at least 1. A longer line is cut between characters, never inside
   * an escape or a surrogate pair, and ends with "…". Default: no bound.
   */
  readonly maxCharacters?: number;
}

/**
 * `text` (a key, a server's words, any text a message quotes) with the characters a terminal
 * would not show as themselves ({@link HIDDEN_CHARACTERS}) escaped `\uXXXX`, so that it stays
 * one line, sends the terminal nothing, and shows each key apart from any other; cut with "…"
 * to `options.maxCharacters`. The one implementation for every text shown that a user typed
 * or another process sent: a server's ERROR message (messages.ts), a stranger's first line
 * (stranger.ts), a user mistake's line. A line it gave back is given back unchanged: it holds no such
 * character, and fits the same bound.
 *
 * @example
 * ```ts
 * oneLine("a\nb"); // "a\\u000ab"
 * oneLine("victim\u200b"); // "victim\\u200b"
 * oneLine("\u202eevil", { maxCharacters: 8 }); // "\\u202ee…"
 * ```
 */
export function oneLine(text: string, options: OneLineOptions = {}): string {
  const { maxCharacters = Infinity } = options;
  invariant(maxCharacters >= ELLIPSIS.length, `maxCharacters ${maxCharacters} is under 1`);
  const escaped = text.replace(ESCAPED, unicodeEscape);
  return escaped.length <= maxCharacters ? escaped : cut(text, maxCharacters);
}

/** `text` escaped as {@link oneLine} does, up to `maxCharacters` with the "…" that ends it. */
function cut(text: string, maxCharacters: number): string {
  const room = maxCharacters - ELLIPSIS.length;
  let shown = "";
  // Character by character: no escape and no surrogate pair is cut in two.
  for (const character of text) {
    const piece = ESCAPED_ONE.test(character) ? unicodeEscape(character) : character;
    if (shown.length + piece.length > room) break;
    shown += piece;
  }
  return shown + ELLIPSIS;
}

/**
 * One character of a user's text named for a message: a control character or one
 * {@link oneLine} escapes (drawn as nothing or as another, or breaking the line) by its code
 * point, any other in quotes. The record parser's "found …" and the key file's "contains …"
 * name characters alike through it.
 *
 * @example
 * ```ts
 * describeCharacter("\0"); // "control character U+0000"
 * describeCharacter("\u00a0"); // "invisible character U+00A0"
 * describeCharacter("'"); // `"'"`
 * describeCharacter("é"); // "'é'"
 * ```
 */
export function describeCharacter(character: string): string {
  const codePoint = character.codePointAt(0)!;
  const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
  if (codePoint < 0x20 || codePoint === DELETE) return `control character U+${hex}`;
  if (ESCAPED_ONE.test(character)) return `invisible character U+${hex}`;
  return codePoint === SINGLE_QUOTE ? `"'"` : `'${character}'`;
}

/** A character as `\uXXXX`, or as its surrogate pair's two when past U+FFFF. */
function unicodeEscape(character: string): string {
  let escaped = "";
  for (let i = 0; i < character.length; i++) {
    escaped += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
  }
  return escaped;
}

function overLimitMessage(what: string, length: number): string {
  return `${what} is ${length} bytes, over the limit of ${MAX_KEY_BYTES}`;
}

/**
 * Throws a RangeError (a caller's mistake) unless `[start, end)` lies within `source`.
 *
 * @example
 * ```ts
 * checkRange(new Uint8Array(4), 1, 3, "value"); // fine
 * ```
 */
export function checkRange(source: Uint8Array, start: number, end: number, what: string): void {
  if (!(Number.isInteger(start) && start >= 0 && start <= end && end <= source.length)) {
    throw new RangeError(`${what} bytes [${start}, ${end}) are not within ${source.length} bytes`);
  }
}

/**
 * Checks the encoded field name (or record key, as `what` says) of `length` bytes at
 * `at` as value_codec.ts decodes names: valid UTF-8, without `.`. Throws DecodeError.
 *
 * @example
 * ```ts
 * checkEncodedName(new TextEncoder().encode("a.b"), 0, 3); // throws: contains '.'
 * ```
 */
export function checkEncodedName(
  source: Uint8Array,
  at: number,
  length: number,
  what = "field name",
): void {
  // One pass for the usual ASCII name; the UTF-8 rules only for one with other bytes.
  // `.` (0x2E) never occurs inside a multi-byte UTF-8 sequence, so a byte scan finds it.
  let hasDot = false;
  let ascii = true;
  for (let i = at; i < at + length; i++) {
    const byte = source[i];
    if (byte === DOT) hasDot = true;
    else if (byte >= 0x80) ascii = false;
  }
  if (!ascii && !isWellFormedUtf8(source, at, at + length)) {
    throw new DecodeError(`${what} is not valid UTF-8`);
  }
  if (hasDot) throw new DecodeError(dottedMessage(what, readUtf8(source, at, length)));
}

/**
 * A key as a listing of keys prints it, one a line (`kv keys`, the REPL's `KEYS`): the key
 * itself, unless printed as it is it could not be told for sure — it holds a character a
 * terminal would not show as itself ({@link HIDDEN_CHARACTERS}: a control, a format
 * character such as a zero-width space or a bidi override, a line or paragraph separator) or
 * U+FFFD (the stand-in for bytes that are not UTF-8, see {@link readListedKey}). Such a key
 * is printed as `.` and then a JSON string: no key holds `.`, so no such line is a key
 * itself, and {@link readListedKey} reads it back. The string's only escapes are `\"`,
 * `\\`, `\n`, `\r`, `\t` and `\uXXXX` (a surrogate pair's two for a character past
 * U+FFFF), which the record grammar reads too.
 *
 * @example
 * ```ts
 * listedKey("person 1"); // "person 1"
 * listedKey("a\nb"); // '."a\\nb"'
 * listedKey("victim\u200b"); // '."victim\\u200b"'
 * ```
 */
export function listedKey(key: string): string {
  if (!UNLISTABLE.test(key)) return key;
  return `."${
    key.replace(LISTED_ESCAPED, (character) => SHORT_ESCAPES[character] ?? unicodeEscape(character))
  }"`;
}

/** The characters that make {@link listedKey} print a key as a JSON string. */
const UNLISTABLE = new RegExp(`[${HIDDEN_CHARACTERS}\\ufffd]`, "u");
/** The characters escaped inside that string. */
const LISTED_ESCAPED = new RegExp(`["\\\\${HIDDEN_CHARACTERS}\\ufffd]`, "gu");
/** The two-character escapes JSON and the record grammar share. */
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * What an argument naming a key (or starting a path) holds, as the one-shot commands read
 * it: the key and how many characters of `text` spell it. `text` is taken character for
 * character, but for the form {@link listedKey} prints: `."…"`, `.` then a JSON string,
 * which no key can be; the key ends where the string does. Throws a DecodeError for a
 * `."` that is no JSON string, one spelling half of a surrogate pair, and for U+FFFD
 * written raw: bytes that are not UTF-8 reach a program as U+FFFD, so which key was meant
 * cannot be told (`."\ufffd"` spells U+FFFD itself).
 *
 * @example
 * ```ts
 * readListedKey("person 1"); // ["person 1", 8]
 * readListedKey('."a\\nb".name'); // ["a\nb", 7]
 * ```
 */
export function readListedKey(text: string): [key: string, length: number] {
  const replaced = text.indexOf("\ufffd");
  if (replaced !== -1) {
    throw new DecodeError(
      `U+FFFD (�) at column ${[...text.slice(0, replaced)].length + 1} may stand for bytes ` +
        `that are not UTF-8; write a key holding it as ."…\\ufffd…" (kv keys lists it so)`,
    );
  }
  if (!text.startsWith('."')) return [text, text.length];
  const end = jsonStringEnd(text, 1);
  let key: unknown;
  try {
    key = end === -1 ? undefined : JSON.parse(text.slice(1, end));
  } catch {
    key = undefined;
  }
  if (typeof key !== "string") {
    throw new DecodeError(
      `'${oneLine(text)}' starts with ." but is no JSON string after the '.', ` +
        `as kv keys lists a key: ."a\\nb"`,
    );
  }
  if (!key.isWellFormed()) {
    throw new DecodeError(`'${oneLine(text)}' spells half of a surrogate pair, which no key holds`);
  }
  return [key, end];
}

/** Where the JSON string starting at `text[start]` (a `"`) ends: past its closing quote, or -1. */
function jsonStringEnd(text: string, start: number): number {
  for (let at = start + 1; at < text.length; at++) {
    if (text[at] === "\\") at++;
    else if (text[at] === '"') return at + 1;
  }
  return -1;
}
