/**
 * Parses one record line, `KEY : VALUE`, in any dialect the tools for this job
 * write: the assignment's (`"person0" : { "age" : 22 ; "height" : 1.75 }`), the
 * original Python implementation's (`'person0':{'weight': '2.05', 'level': {}}`)
 * and bare words (`person1: { key0: { height : 45.8; profession : kshd } }`).
 *
 * One grammar covers all three, so no dialect switch is needed:
 *
 * ```text
 * line   = ws key ws ":" value ws [CR]
 * key    = quoted | bare                     (non-empty, no ".", ≤ MAX_KEY_BYTES)
 * value  = ws ( object | quoted | bare )
 * object = "{" ws "}"
 *        | "{" ws member ( ws sep ws member )* [ ws sep ] ws "}"
 * member = key ws ":" value
 * sep    = ";" | ","
 * quoted = '"' … '"' | "'" … "'"             (escapes \\ \" \' \n \r \t \0 \xHH \uXXXX)
 * bare   = a run of characters other than quotes, braces, ":", ";", "," and control
 *          characters, with surrounding whitespace trimmed
 * ws     = space | tab
 * ```
 *
 * A quoted value is always a string (`'2.05'` stays the string "2.05"). A bare
 * value is an int when it matches `-?digits`, a float when it matches
 * `-?digits.digits([eE][+-]?digits)?` or `-?digits[eE][+-]?digits`, and a string
 * otherwise (`kshd`, `1.2.3`, `-`). Ints must be safe integers and floats
 * finite, else the line is an error; `-0` as an int reads as 0, `-0.0` as a float
 * keeps its sign.
 *
 * Decisions worth knowing:
 * - A bare token may hold inner spaces: `a: New York` is the string "New York";
 *   so `"a" : 1 2` is the string "1 2", not an error.
 * - One trailing separator before `}` is accepted (`{ a: 1; }`), as hand-written
 *   files often have one; `{ ; }` and `;;` are errors.
 * - A repeated name inside one object is an error by default; the
 *   `duplicateKeys: "last-wins"` option reads it as Python's dict does (the last
 *   value, at the first one's position) for files from tools that write
 *   duplicates (testdata/compat/bare-dialect.txt has some).
 * - Control characters (other than tab) are errors outside quoted strings and
 *   taken literally inside them. One trailing CR (a CRLF file) is ignored.
 * - A character above U+FFFF is escaped as JSON escapes it, a surrogate pair
 *   (`\uD83D\uDE00`); half a pair alone, escaped or raw, is an error: stored as UTF-8
 *   it would become U+FFFD, and keys differing only there would be one key.
 * - Columns are 1-based and count Unicode code points.
 *
 * The parser makes one pass over the characters with an explicit stack, so deep
 * input fails cleanly at {@link MAX_NESTING_DEPTH} instead of overflowing the
 * call stack.
 *
 * @example
 * ```ts
 * import { parseRecordLine } from "./parse.ts";
 * const { key, value } = parseRecordLine(`"person0" : { "name" : "Mary" ; "age" : 22 }`);
 * ```
 * @module
 */
import type { ByteWriter } from "../base/bytes.ts";
import { describeCharacter, keyProblem, oneLine } from "./key.ts";
import { MAX_LINE_BYTES, MAX_NESTING_DEPTH } from "../limits.ts";
import { type Field, float, int, object, str, type Value } from "./value.ts";
import {
  BACKSLASH,
  CARRIAGE_RETURN,
  CharClass,
  charClass,
  CLOSE_BRACE,
  COLON,
  COMMA,
  DIGIT_NINE,
  DIGIT_ZERO,
  DOT,
  DOUBLE_QUOTE,
  isDigit,
  LOWER_E,
  MINUS,
  NumberClass,
  OPEN_BRACE,
  OPEN_BRACKET,
  openObjects,
  PLUS,
  SEMICOLON,
  SINGLE_QUOTE,
  SPACE,
  TAB,
  UPPER_E,
} from "./grammar.ts";
import { isHighSurrogate, isLowSurrogate, utf8Length } from "../base/utf8.ts";
import { OBJECT_END, ValueTag, writeInt } from "./value_codec.ts";

/** One parsed record: its key and its value. */
export interface RecordLine {
  /** The record key: non-empty, without `.`, at most MAX_KEY_BYTES UTF-8 bytes. */
  readonly key: string;
  /** The record's value: an object or a scalar. */
  readonly value: Value;
}

/**
 * A record line that does not follow the grammar. The message is
 * `${line}:${column}: ${reason}`, so callers can prefix a file name:
 * `${fileName}:${error.message}`.
 *
 * @example
 * ```ts
 * try {
 *   parseRecordLine(`"a" { }`, 7);
 * } catch (error) {
 *   if (error instanceof RecordParseError) console.error(`data.txt:${error.message}`);
 *   // data.txt:7:5: expected ':' after the key, found '{'
 * }
 * ```
 */
export class RecordParseError extends Error {
  /** 1-based line number, as given to {@link parseRecordLine}. */
  readonly line: number;
  /** 1-based column, in Unicode code points. */
  readonly column: number;
  /** What was expected and what was found, without the position. */
  readonly reason: string;
  /**
   * The field name an object repeats, when that is the error: the one a caller's option
   * (`duplicateKeys: "last-wins"`, `kv broker --duplicate-keys`) could accept; else undefined.
   */
  readonly duplicateKey: string | undefined;

  /**
   * The error at `line`:`column`, its message `line:column: reason`.
   *
   * @param line 1-based line number.
   * @param column 1-based column in code points.
   * @param reason what was expected and what was found.
   * @param duplicateKey the repeated field name, when that is the error.
   */
  constructor(line: number, column: number, reason: string, duplicateKey?: string) {
    super(`${line}:${column}: ${reason}`);
    this.name = "RecordParseError";
    this.line = line;
    this.column = column;
    this.reason = reason;
    this.duplicateKey = duplicateKey;
  }
}

/** Options for {@link parseRecordLine}. */
export interface ParseRecordLineOptions {
  /**
   * What a name repeated inside one object does: `"error"` rejects the line;
   * `"last-wins"` keeps the last value at the position of the first, as Python's
   * dict and `JSON.parse` do. Defaults to `"error"`.
   */
  readonly duplicateKeys?: "error" | "last-wins";
}

/**
 * Parses one record line. Throws a {@link RecordParseError} when the line does
 * not follow the grammar in this module's documentation or breaks a limit
 * (MAX_LINE_BYTES, MAX_KEY_BYTES, MAX_NESTING_DEPTH). Callers skip blank lines
 * with {@link isBlankLine} first: a blank line is an error here.
 *
 * @param text the line, without its `\n` (a trailing `\r` is ignored).
 * @param lineNumber the line's number in its file, for error messages; default 1.
 * @param options see {@link ParseRecordLineOptions}.
 *
 * @example
 * ```ts
 * import { getField } from "./value.ts";
 * const record = parseRecordLine(`'person0':{'weight': '2.05', 'level': {}}`, 1);
 * record.key; // "person0"
 * getField(record.value, "weight"); // { kind: "string", value: "2.05" }
 * ```
 */
export function parseRecordLine(
  text: string,
  lineNumber: number = 1,
  options: ParseRecordLineOptions = {},
): RecordLine {
  const builder = new ValueTreeBuilder(options.duplicateKeys ?? "error");
  const key = parseWith(text, lineNumber, builder);
  return { key, value: builder.result() };
}

/**
 * Parses one record line like {@link parseRecordLine}, but appends the value
 * to `writer` in its wire encoding (lib/record/value_codec.ts) instead of making a
 * Value, and returns the key: the fast path for indexing, where the value is
 * only passed on. A repeated name inside one object is an error. On a
 * {@link RecordParseError} the writer holds a partial value: reset it.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * const writer = new ByteWriter();
 * parseRecordLineInto(`"person0" : { "age" : 22 }`, 1, writer); // "person0"
 * writer.bytes(); // the same bytes as encodeValue(object([["age", int(22)]]))
 * ```
 */
export function parseRecordLineInto(text: string, lineNumber: number, writer: ByteWriter): string {
  return parseWith(text, lineNumber, new EncodingBuilder(writer));
}

function parseWith(text: string, lineNumber: number, builder: ValueBuilder): string {
  const end = text.length > 0 && text.charCodeAt(text.length - 1) === CARRIAGE_RETURN
    ? text.length - 1
    : text.length;
  const parser = new RecordLineParser(text, end, lineNumber, builder);
  // Short lines cannot be over the limit: a UTF-16 unit takes at most 3 UTF-8 bytes.
  if (text.length > MAX_LINE_BYTES / 3 && utf8Length(text) > MAX_LINE_BYTES) {
    parser.fail(0, `line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES)`);
  }
  parser.refuseLoneSurrogates();
  return parser.parseLine();
}

/**
 * Parses a key or a dotted path of keys as commands take them, with the record
 * grammar's key rules: each segment is quoted (`"person 1"`, with the same
 * escapes) or bare (ending at '.'), non-empty, without '.', at most
 * MAX_KEY_BYTES; segments are joined by '.'. Throws a {@link RecordParseError}
 * (line 1) whose column points into `text`.
 *
 * @example
 * ```ts
 * parseKeyPath(`"person1".address.street`); // ["person1", "address", "street"]
 * parseKeyPath("'person 1'"); // ["person 1"]
 * ```
 */
export function parseKeyPath(text: string): string[] {
  const parser = new RecordLineParser(text, text.length, 1, NO_VALUES);
  parser.refuseLoneSurrogates();
  return parser.parsePath();
}

/** The builder for a parser that reads keys only. */
const NO_VALUES: ValueBuilder = {
  string: unreachable,
  int: unreachable,
  float: unreachable,
  beginObject: unreachable,
  field: unreachable,
  endObject: unreachable,
};

function unreachable(): never {
  throw new Error("parseKeyPath reads no values");
}

/**
 * Whether `text` is empty or holds only spaces, tabs and carriage returns —
 * a line callers skip rather than parse.
 *
 * @example
 * ```ts
 * isBlankLine(" \t\r"); // true
 * isBlankLine("a: 1"); // false
 * ```
 */
export function isBlankLine(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (!inBlankLine(text.charCodeAt(index))) return false;
  }
  return true;
}

/**
 * {@link isBlankLine} for a line's UTF-8 bytes: for the indexer, which reads lines as bytes.
 *
 * @example
 * ```ts
 * isBlankLineBytes(new TextEncoder().encode(" \t\r")); // true
 * ```
 */
export function isBlankLineBytes(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) {
    if (!inBlankLine(bytes[index])) return false;
  }
  return true;
}

/** Whether a blank line may hold character `code`: a space, a tab or a carriage return. */
function inBlankLine(code: number): boolean {
  return code === SPACE || code === TAB || code === CARRIAGE_RETURN;
}

/**
 * Whether `text` matches the number grammar, so that written bare it would
 * read as an int or a float (or be refused as out of range) rather than as a
 * string. Printers quote such strings.
 *
 * @example
 * ```ts
 * looksLikeNumber("-12"); // true
 * looksLikeNumber("1e999"); // true (and out of range when parsed)
 * looksLikeNumber("1.2.3"); // false
 * ```
 */
export function looksLikeNumber(text: string): boolean {
  return classifyNumber(text, 0, text.length) !== NumberClass.notANumber;
}

/** The escapes quoted strings support, for error messages. */
/** `\uXXXX`: six characters. */
const UNICODE_ESCAPE_LENGTH = 6;

const ESCAPES = `\\\\ \\" \\' \\n \\r \\t \\0 \\xHH or \\uXXXX`;

/**
 * Objects with more fields than this find duplicate names through a Map rather
 * than a linear scan, which is faster for the few fields records usually have.
 */
const LINEAR_DUPLICATE_SCAN_MAX_FIELDS = 12;

/** Matches `text[start, end)` against the number grammar, without backtracking. */
function classifyNumber(text: string, start: number, end: number): NumberClass {
  let index = start;
  if (index < end && text.charCodeAt(index) === MINUS) index++;
  const integerStart = index;
  while (index < end && isDigit(text.charCodeAt(index))) index++;
  if (index === integerStart) return NumberClass.notANumber;
  if (index === end) return NumberClass.int;
  if (text.charCodeAt(index) === DOT) {
    index++;
    const fractionStart = index;
    while (index < end && isDigit(text.charCodeAt(index))) index++;
    if (index === fractionStart) return NumberClass.notANumber;
    if (index === end) return NumberClass.float;
  }
  const exponentMark = text.charCodeAt(index);
  if (exponentMark !== LOWER_E && exponentMark !== UPPER_E) return NumberClass.notANumber;
  index++;
  if (index < end) {
    const sign = text.charCodeAt(index);
    if (sign === PLUS || sign === MINUS) index++;
  }
  const exponentStart = index;
  while (index < end && isDigit(text.charCodeAt(index))) index++;
  return index > exponentStart && index === end ? NumberClass.float : NumberClass.notANumber;
}

/**
 * Receives a value as the parser reads it, depth first: `beginObject`, then per
 * field `field(name)` and its value, then `endObject`. One builder makes Values,
 * the other writes the wire encoding.
 */
interface ValueBuilder {
  string(value: string): void;
  int(value: number): void;
  float(value: number): void;
  beginObject(): void;
  /** Starts a field of the innermost open object; false when the name repeats and that is an error. */
  field(name: string): boolean;
  endObject(): void;
}

/** One object being built: its fields so far and where its next value goes. */
interface OpenObject {
  readonly fields: Field[];
  /** Index of each name, built once the object outgrows the linear scan. */
  indexByName: Map<string, number> | undefined;
  pendingName: string;
  /** Where the pending field's value goes: an earlier field's index (last-wins), or -1 to append. */
  replaceIndex: number;
}

/** The index of the field named `name`, or -1: a scan while the object is small, else `index`. */
function indexOfName(
  name: string,
  fields: readonly Field[],
  index: Map<string, number> | undefined,
): number {
  if (index !== undefined) return index.get(name) ?? -1;
  for (let position = 0; position < fields.length; position++) {
    if (fields[position][0] === name) return position;
  }
  return -1;
}

/** Builds a {@link Value}; a repeated name is an error or, with last-wins, replaces the first. */
class ValueTreeBuilder implements ValueBuilder {
  readonly #duplicateKeys: "error" | "last-wins";
  readonly #stack: OpenObject[] = [];
  #result: Value | undefined;

  constructor(duplicateKeys: "error" | "last-wins") {
    this.#duplicateKeys = duplicateKeys;
  }

  result(): Value {
    if (this.#result === undefined) throw new Error("invariant broken: no value was parsed");
    return this.#result;
  }

  string(value: string): void {
    this.#attach(str(value));
  }

  int(value: number): void {
    this.#attach(int(value));
  }

  float(value: number): void {
    this.#attach(float(value));
  }

  beginObject(): void {
    this.#stack.push({ fields: [], indexByName: undefined, pendingName: "", replaceIndex: -1 });
  }

  field(name: string): boolean {
    const open = this.#stack[this.#stack.length - 1];
    const duplicateIndex = indexOfName(name, open.fields, open.indexByName);
    if (duplicateIndex !== -1 && this.#duplicateKeys === "error") return false;
    open.pendingName = name;
    open.replaceIndex = duplicateIndex;
    return true;
  }

  endObject(): void {
    const open = this.#stack.pop();
    // A plain check, not node:assert: this runs once per object on the hot path.
    if (open === undefined) throw new Error("invariant broken: closing an object that is not open");
    this.#attach(object(open.fields));
  }

  #attach(value: Value): void {
    const open = this.#stack[this.#stack.length - 1];
    if (open === undefined) {
      this.#result = value;
      return;
    }
    const fields = open.fields;
    if (open.replaceIndex !== -1) {
      fields[open.replaceIndex] = [open.pendingName, value];
      return;
    }
    fields.push([open.pendingName, value]);
    if (open.indexByName !== undefined) {
      open.indexByName.set(open.pendingName, fields.length - 1);
    } else if (fields.length > LINEAR_DUPLICATE_SCAN_MAX_FIELDS) {
      open.indexByName = new Map(fields.map(([fieldName], index) => [fieldName, index]));
    }
  }
}

/** One object being encoded: its names so far, to refuse a repeat. */
interface OpenEncodedObject {
  readonly names: string[];
  /** Set of the names, built once the object outgrows the linear scan. */
  nameSet: Set<string> | undefined;
}

/** Appends the wire encoding (lib/record/value_codec.ts) to a writer; a repeated name is an error. */
class EncodingBuilder implements ValueBuilder {
  readonly #writer: ByteWriter;
  readonly #stack: OpenEncodedObject[] = [];

  constructor(writer: ByteWriter) {
    this.#writer = writer;
  }

  string(value: string): void {
    this.#writer.u8(ValueTag.string);
    this.#writer.varintString(value);
  }

  int(value: number): void {
    writeInt(this.#writer, value);
  }

  float(value: number): void {
    this.#writer.u8(ValueTag.float);
    this.#writer.f64(value);
  }

  beginObject(): void {
    this.#writer.u8(ValueTag.object);
    this.#stack.push({ names: [], nameSet: undefined });
  }

  field(name: string): boolean {
    const open = this.#stack[this.#stack.length - 1];
    const names = open.names;
    if (open.nameSet !== undefined) {
      if (open.nameSet.has(name)) return false;
      open.nameSet.add(name);
    } else {
      for (let index = 0; index < names.length; index++) if (names[index] === name) return false;
      if (names.length === LINEAR_DUPLICATE_SCAN_MAX_FIELDS) {
        open.nameSet = new Set([...names, name]);
      }
    }
    names.push(name);
    this.#writer.varintString(name);
    return true;
  }

  endObject(): void {
    if (this.#stack.pop() === undefined) {
      throw new Error("invariant broken: closing an object that is not open");
    }
    this.#writer.u8(OBJECT_END);
  }
}

class RecordLineParser {
  readonly #text: string;
  /** Offset just past the last character to parse (before a trailing CR). */
  readonly #end: number;
  readonly #lineNumber: number;
  readonly #builder: ValueBuilder;
  #offset = 0;
  /**
   * Offset of the next backslash at or after the last search, or `#end` when
   * none: quoted strings without escapes are sliced whole, and caching this
   * keeps a line with many strings from being rescanned for each.
   */
  #nextBackslash = -1;

  constructor(text: string, end: number, lineNumber: number, builder: ValueBuilder) {
    this.#text = text;
    this.#end = end;
    this.#lineNumber = lineNumber;
    this.#builder = builder;
  }

  /**
   * Fails at the first lone surrogate of the text: text decoded from UTF-8 holds none, but a
   * library caller's string may (V8 answers isWellFormed at once for a Latin-1 string).
   */
  refuseLoneSurrogates(): void {
    const text = this.#text;
    if (text.isWellFormed()) return;
    for (let offset = 0; offset < text.length; offset++) {
      const code = text.charCodeAt(offset);
      if (isHighSurrogate(code) && isLowSurrogate(text.charCodeAt(offset + 1))) offset++;
      else if (isHighSurrogate(code) || isLowSurrogate(code)) {
        const hex = code.toString(16).toUpperCase();
        this.fail(offset, `lone surrogate U+${hex}: a record line is Unicode text`);
      }
    }
  }

  /** Parses the line, handing the value to the builder; returns the key. */
  parseLine(): string {
    this.#skipWhitespace();
    if (this.#offset === this.#end) {
      this.fail(this.#offset, "expected a record key, found end of line");
    }
    const key = this.#parseKey("expected a record key");
    this.#expectColon();
    this.#parseValue();
    this.#skipWhitespace();
    if (this.#offset !== this.#end) {
      this.fail(this.#offset, `expected end of line after the value, found ${this.#found()}`);
    }
    return key;
  }

  /**
   * Parses the text as a key or a dotted path of keys: each segment quoted or
   * bare (a bare one ends at '.'), checked as a key; returns the segments.
   */
  parsePath(): string[] {
    const segments: string[] = [];
    this.#skipWhitespace();
    for (;;) {
      const start = this.#offset;
      const code = start < this.#end ? this.#text.charCodeAt(start) : -1;
      let segment: string;
      if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
        segment = this.#parseQuoted();
      } else {
        const tokenEnd = this.#scanBareSegment();
        if (tokenEnd === start) {
          const empty = this.#offset === this.#end || this.#text.charCodeAt(this.#offset) === DOT;
          this.fail(start, empty ? "empty segment" : `expected a key, found ${this.#found()}`);
        }
        segment = this.#text.slice(start, tokenEnd);
      }
      this.#checkKey(segment, start);
      segments.push(segment);
      this.#skipWhitespace();
      if (this.#offset === this.#end) return segments;
      if (this.#text.charCodeAt(this.#offset) !== DOT) {
        this.fail(this.#offset, `expected '.' or the end, found ${this.#found()}`);
      }
      this.#offset++;
      this.#skipWhitespace();
    }
  }

  /** Like #scanBareToken, but a '.' ends the token too: it separates path segments. */
  #scanBareSegment(): number {
    const text = this.#text;
    let offset = this.#offset;
    let tokenEnd = offset;
    while (offset < this.#end) {
      const code = text.charCodeAt(offset);
      const characterClass = charClass(code);
      if (characterClass === CharClass.delimiter || code === DOT) break;
      offset++;
      if (characterClass === CharClass.plain) tokenEnd = offset;
    }
    this.#offset = offset;
    return tokenEnd;
  }

  fail(offset: number, reason: string, duplicateKey?: string): never {
    let column = 1;
    for (let index = 0; index < offset && index < this.#text.length; index++) {
      const code = this.#text.charCodeAt(index);
      if (
        !(isLowSurrogate(code) && index > 0 && isHighSurrogate(this.#text.charCodeAt(index - 1)))
      ) {
        column++;
      }
    }
    throw new RecordParseError(this.#lineNumber, column, reason, duplicateKey);
  }

  /** Describes the character at the current offset for an error message. */
  #found(): string {
    if (this.#offset >= this.#end) return "end of line";
    return describeCharacter(String.fromCodePoint(this.#text.codePointAt(this.#offset)!));
  }

  #skipWhitespace(): void {
    const text = this.#text;
    let offset = this.#offset;
    while (offset < this.#end) {
      const code = text.charCodeAt(offset);
      if (code !== SPACE && code !== TAB) break;
      offset++;
    }
    this.#offset = offset;
  }

  #expectColon(): void {
    this.#skipWhitespace();
    if (this.#offset >= this.#end || this.#text.charCodeAt(this.#offset) !== COLON) {
      this.fail(this.#offset, `expected ':' after the key, found ${this.#found()}`);
    }
    this.#offset++;
  }

  /**
   * Reads a key at the current offset (whitespace already skipped) and checks
   * it; `expected` words the error when no key is there.
   */
  #parseKey(expected: string): string {
    const start = this.#offset;
    const code = this.#offset < this.#end ? this.#text.charCodeAt(this.#offset) : -1;
    let key: string;
    if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
      key = this.#parseQuoted();
    } else {
      const tokenEnd = this.#scanBareToken();
      if (tokenEnd === start) this.fail(start, `${expected}, found ${this.#found()}`);
      key = this.#text.slice(start, tokenEnd);
    }
    this.#checkKey(key, start);
    return key;
  }

  #checkKey(key: string, offset: number): void {
    const problem = keyProblem(key);
    if (problem !== undefined) this.fail(offset, problem);
  }

  /**
   * Advances over a bare token — plain characters and inner whitespace — and
   * returns the offset just past its last non-whitespace character. The
   * current offset is left at the delimiter (or end) that stopped the token.
   */
  #scanBareToken(): number {
    const text = this.#text;
    const end = this.#end;
    let offset = this.#offset;
    let tokenEnd = offset;
    while (offset < end) {
      const characterClass = charClass(text.charCodeAt(offset));
      if (characterClass === CharClass.delimiter) break;
      offset++;
      if (characterClass === CharClass.plain) tokenEnd = offset;
    }
    this.#offset = offset;
    return tokenEnd;
  }

  /** Reads a quoted string; the current offset is at its opening quote. */
  #parseQuoted(): string {
    const text = this.#text;
    const start = this.#offset;
    const quote = text.charCodeAt(start);
    const contentStart = start + 1;
    const close = text.indexOf(quote === DOUBLE_QUOTE ? '"' : "'", contentStart);
    if (this.#nextBackslash < contentStart) {
      const backslash = text.indexOf("\\", contentStart);
      this.#nextBackslash = backslash === -1 || backslash >= this.#end ? this.#end : backslash;
    }
    if (close !== -1 && close < this.#end && close < this.#nextBackslash) {
      this.#offset = close + 1;
      return text.slice(contentStart, close);
    }
    return this.#parseQuotedWithEscapes(start, quote);
  }

  #parseQuotedWithEscapes(start: number, quote: number): string {
    const text = this.#text;
    let result = "";
    let runStart = start + 1;
    let offset = runStart;
    while (true) {
      if (offset >= this.#end) {
        const quoteText = quote === DOUBLE_QUOTE ? `'"'` : `"'"`;
        this.fail(start, `unterminated string: expected a closing ${quoteText}, found end of line`);
      }
      const code = text.charCodeAt(offset);
      if (code === quote) break;
      if (code !== BACKSLASH) {
        offset++;
        continue;
      }
      result += text.slice(runStart, offset);
      const [decoded, escapeLength] = this.#decodeEscape(offset);
      result += decoded;
      offset += escapeLength;
      runStart = offset;
    }
    result += text.slice(runStart, offset);
    this.#offset = offset + 1;
    this.#nextBackslash = -1;
    return result;
  }

  /** Decodes the escape whose backslash is at `offset`: the text and the escape's length. */
  #decodeEscape(offset: number): [string, number] {
    if (offset + 1 >= this.#end) {
      this.fail(offset, "expected an escape after '\\', found end of line");
    }
    const letter = this.#text[offset + 1];
    switch (letter) {
      case "\\":
      case '"':
      case "'":
        return [letter, 2];
      case "n":
        return ["\n", 2];
      case "r":
        return ["\r", 2];
      case "t":
        return ["\t", 2];
      case "0":
        return ["\0", 2];
      case "x":
        return [String.fromCharCode(this.#readHex(offset, 2)), 4];
      case "u":
        return this.#decodeUnicodeEscape(offset);
      default: {
        this.#offset = offset + 1;
        this.fail(offset, `expected an escape (${ESCAPES}) after '\\', found ${this.#found()}`);
      }
    }
  }

  /**
   * Decodes the `\uXXXX` at `offset`: a character, or a surrogate pair written as two
   * escapes, as JSON writes a character above U+FFFF. Half a pair alone is refused where
   * it is: as UTF-8 it would be stored as U+FFFD, so `"k\uD800"` and `"k\uDC00"` would
   * be one key.
   */
  #decodeUnicodeEscape(offset: number): [string, number] {
    const code = this.#readHex(offset, 4);
    if (!isHighSurrogate(code) && !isLowSurrogate(code)) return [String.fromCharCode(code), 6];
    const next = offset + UNICODE_ESCAPE_LENGTH;
    if (isHighSurrogate(code) && this.#text.startsWith("\\u", next)) {
      const low = this.#readHex(next, 4);
      if (isLowSurrogate(low)) return [String.fromCharCode(code, low), 2 * UNICODE_ESCAPE_LENGTH];
    }
    const escape = this.#text.slice(offset, next);
    this.fail(
      offset,
      `${escape} is half of a surrogate pair; a character above U+FFFF is a pair such as ` +
        "\\uD83D\\uDE00",
    );
  }

  /** Reads `digitCount` hex digits after the escape letter at `backslashOffset + 1`. */
  #readHex(backslashOffset: number, digitCount: number): number {
    let value = 0;
    const first = backslashOffset + 2;
    for (let index = first; index < first + digitCount; index++) {
      const code = index < this.#end ? this.#text.charCodeAt(index) : -1;
      const digit = hexDigitValue(code);
      if (digit < 0) {
        this.#offset = index;
        const escape = `\\${this.#text[backslashOffset + 1]}`;
        this.fail(
          index,
          `expected ${digitCount} hex digits after '${escape}', found ${this.#found()}`,
        );
      }
      value = value * 16 + digit;
    }
    return value;
  }

  /** Reads a scalar (quoted or bare) at the current offset, whitespace already skipped. */
  #parseScalar(): void {
    const start = this.#offset;
    const code = start < this.#end ? this.#text.charCodeAt(start) : -1;
    if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
      this.#builder.string(this.#parseQuoted());
      return;
    }
    if (code === OPEN_BRACKET) {
      this.fail(
        start,
        "lists are not values in kv; use an object, or quote the text to store it as a string",
      );
    }
    const tokenEnd = this.#scanBareToken();
    if (tokenEnd === start) this.fail(start, `expected a value, found ${this.#found()}`);
    this.#bareValue(start, tokenEnd);
  }

  /** Types the bare token `text[start, tokenEnd)` — int, float or string — and hands it on. */
  #bareValue(start: number, tokenEnd: number): void {
    const text = this.#text;
    const numberClass = classifyNumber(text, start, tokenEnd);
    if (numberClass === NumberClass.notANumber) {
      this.#builder.string(text.slice(start, tokenEnd));
      return;
    }
    if (numberClass === NumberClass.float) {
      const value = Number(text.slice(start, tokenEnd));
      if (!Number.isFinite(value)) {
        this.fail(start, `float out of range: ${text.slice(start, tokenEnd)}`);
      }
      this.#builder.float(value);
      return;
    }
    const negative = text.charCodeAt(start) === MINUS;
    let magnitude = 0;
    for (let index = negative ? start + 1 : start; index < tokenEnd; index++) {
      magnitude = magnitude * 10 + (text.charCodeAt(index) - DIGIT_ZERO);
    }
    // Past 2^53 the running sum may round, but any such sum is already unsafe.
    if (!Number.isSafeInteger(magnitude)) {
      this.fail(
        start,
        `integer out of range: ${text.slice(start, tokenEnd)} (ints are at most 2^53 - 1 in size)`,
      );
    }
    this.#builder.int(negative && magnitude !== 0 ? -magnitude : magnitude);
  }

  /** Reads a whole value — scalar or object of any allowed depth — iteratively. */
  #parseValue(): void {
    const builder = this.#builder;
    let depth = 0;
    while (true) {
      this.#skipWhitespace();
      if (this.#offset < this.#end && this.#text.charCodeAt(this.#offset) === OPEN_BRACE) {
        if (depth === MAX_NESTING_DEPTH) {
          this.fail(
            this.#offset,
            `objects nest deeper than ${MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)`,
          );
        }
        this.#offset++;
        this.#skipWhitespace();
        builder.beginObject();
        if (this.#offset < this.#end && this.#text.charCodeAt(this.#offset) === CLOSE_BRACE) {
          this.#offset++;
          builder.endObject();
        } else {
          depth++;
          this.#parseField("expected a key or '}'");
          continue;
        }
      } else {
        this.#parseScalar();
      }
      // A value is finished: close objects until one needs another field parsed.
      while (depth > 0) {
        this.#skipWhitespace();
        const code = this.#offset < this.#end ? this.#text.charCodeAt(this.#offset) : -1;
        if (code === SEMICOLON || code === COMMA) {
          this.#offset++;
          this.#skipWhitespace();
          if (this.#offset < this.#end && this.#text.charCodeAt(this.#offset) === CLOSE_BRACE) {
            this.#offset++;
            builder.endObject();
            depth--;
            continue;
          }
          this.#parseField("expected a key or '}' after the separator");
          break;
        }
        if (code === CLOSE_BRACE) {
          this.#offset++;
          builder.endObject();
          depth--;
          continue;
        }
        this.fail(
          this.#offset,
          `expected ';', ',' or '}' after the value, found ${this.#found()}`,
        );
      }
      if (depth === 0) return;
    }
  }

  /** Reads `name :` at the current offset and starts that field in the builder. */
  #parseField(expected: string): void {
    const nameOffset = this.#offset;
    const name = this.#parseKey(expected);
    if (!this.#builder.field(name)) {
      this.fail(nameOffset, `duplicate key '${oneLine(name)}' in one object`, name);
    }
    this.#expectColon();
  }
}

function hexDigitValue(code: number): number {
  if (code >= DIGIT_ZERO && code <= DIGIT_NINE) return code - DIGIT_ZERO;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Whether `error`, for the record line `text`, is at its end with an object still open: the
 * first line of a record written over several.
 *
 * @example
 * ```ts
 * import { RecordParseError } from "./parse.ts";
 * endsInsideRecord("x: {", new RecordParseError(1, 5, "expected a key or '}'")); // true
 * ```
 */
export function endsInsideRecord(text: string, error: RecordParseError): boolean {
  const trimmed = text.trimEnd();
  // Columns count code points; one past the text (trailing blanks aside) is its end.
  return error.column > [...trimmed].length &&
    openObjects(new TextEncoder().encode(trimmed)) > 0;
}
