/**
 * The indexer's fast path for record lines: parses a line's bytes straight into the
 * wire encoding (lib/record/value_codec.ts), with no decoding to a string, no substrings and
 * no Values — about three times faster than {@link parseRecordLineInto} on `kv gen`
 * output.
 *
 * It reads the grammar of lib/record/parse.ts, but only the plainest lines: pure ASCII,
 * no escapes in quoted strings, objects of at most {@link MAX_FAST_OBJECT_FIELDS}
 * fields. For any other line — and for any line with a mistake — it returns undefined
 * without a word, and the caller parses the line with parse.ts, which handles
 * everything and words every error. So this module never decides that a line is bad;
 * a property test holds it to producing exactly what parse.ts produces for every
 * line it accepts, and to accepting no line parse.ts refuses.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * const writer = new ByteWriter();
 * const line = new TextEncoder().encode(`"person0" : { "age" : 22 }`);
 * parseAsciiRecordInto(line, writer); // "person0", and the value's encoding in writer
 * ```
 * @module
 */
import {
  type ByteWriter,
  copyBytes,
  grownBuffer,
  MAX_VARINT_BYTES,
  varintLength,
  writeVarint,
} from "../base/bytes.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "../limits.ts";
import {
  BACKSLASH,
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
  PLUS,
  SEMICOLON,
  SINGLE_QUOTE,
  SPACE,
  TAB,
  UPPER_E,
} from "./grammar.ts";
import { OBJECT_END, ValueTag } from "./value_codec.ts";

/** Objects with more fields go to the general parser (its duplicate check scales). */
export const MAX_FAST_OBJECT_FIELDS = 64;

/** Names of all open objects at once: each of the nested objects at its field limit. */
const MAX_OPEN_NAMES = MAX_NESTING_DEPTH * MAX_FAST_OBJECT_FIELDS;

/** Capacity the encoding buffer starts with; it doubles as lines need. */
const INITIAL_ENCODING_BYTES = 4096;

/**
 * Floats of at most this many digits, with no exponent, are computed here: the digits
 * as an integer below 2^53 divided by an exact power of ten is one correctly rounded
 * operation, so it equals `Number(text)`. Longer ones are left to `Number`.
 */
const MAX_FAST_FLOAT_DIGITS = 15;

/** 10^0 … 10^15, all exact doubles. */
const POWERS_OF_TEN = Array.from({ length: MAX_FAST_FLOAT_DIGITS + 1 }, (_, n) => 10 ** n);

/** Thrown inside the parser to leave for the general one; never escapes this module. */
const NOT_FAST = Symbol("not for the fast path");

/**
 * Parses one record line (its bytes, without the line ending) into `writer`: appends
 * the value's wire encoding and returns the key. Returns undefined, leaving `writer`
 * unchanged, for a line the general parser must read.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * import { decodeValue } from "./value_codec.ts";
 * const writer = new ByteWriter();
 * const encode = (text: string) => new TextEncoder().encode(text);
 * parseAsciiRecordInto(encode(`"person0" : { "age" : 22 }`), writer); // "person0"
 * decodeValue(writer.bytes()); // { kind: "object", fields: [["age", { kind: "int", value: 22 }]] }
 * parseAsciiRecordInto(encode(`"café" : 1`), writer); // undefined: not ASCII, for parse.ts
 * writer.length; // 8, as before the refused line
 * ```
 */
export function parseAsciiRecordInto(line: Uint8Array, writer: ByteWriter): string | undefined {
  const key = sharedParser.parse(line);
  if (key !== undefined) writer.raw(sharedParser.encoded);
  return key;
}

/**
 * The fast path as a reusable parser that encodes into a buffer of its own: a bulk
 * load parses every line with one, making nothing per line but the key string.
 *
 * @example
 * ```ts
 * const parser = new AsciiRecordParser();
 * const key = parser.parse(new TextEncoder().encode(`person1: { age: 22 }`));
 * parser.encoded; // the value's wire encoding, valid until the next parse
 * ```
 */
export class AsciiRecordParser {
  #bytes: Uint8Array = new Uint8Array(0);
  #at = 0;
  /** Bounds of the last name or quoted string read (fields, not a tuple: no garbage). */
  #tokenStart = 0;
  #tokenEnd = 0;
  /** Start and end of each name of each open object, for the duplicate check. */
  // Typed stacks with explicit depths rather than arrays emptied per line: an array cut
  // back by setting its length gives up its storage, so every line allocated it anew.
  readonly #nameStarts = new Int32Array(MAX_OPEN_NAMES);
  readonly #nameEnds = new Int32Array(MAX_OPEN_NAMES);
  #nameCount = 0;
  /** Per open object: where its names start in #nameStarts. */
  readonly #openNames = new Int32Array(MAX_NESTING_DEPTH);
  #openCount = 0;
  #out = new Uint8Array(INITIAL_ENCODING_BYTES);
  #outView = new DataView(this.#out.buffer);
  #outLength = 0;

  /**
   * Parses `line` (without its line ending) and returns its key, its value's encoding
   * then being {@link AsciiRecordParser.encoded}; or undefined for a line the general
   * parser must read.
   *
   * @example
   * ```ts
   * const parser = new AsciiRecordParser();
   * parser.parse(new TextEncoder().encode(`person1: { age: 22 }`)); // "person1"
   * parser.parse(new TextEncoder().encode(`"café" : 1`)); // undefined: not ASCII, for parse.ts
   * ```
   */
  parse(line: Uint8Array): string | undefined {
    this.#bytes = line;
    this.#at = 0;
    this.#outLength = 0;
    this.#nameCount = 0;
    this.#openCount = 0;
    try {
      return this.#line();
    } catch (error) {
      if (error === NOT_FAST) return undefined;
      throw error;
    } finally {
      // Do not keep the caller's line (a view of a whole read chunk) alive.
      this.#bytes = NO_LINE;
    }
  }

  /** The encoding made by the last successful parse; a view, valid until the next parse. */
  get encoded(): Uint8Array {
    return this.#out.subarray(0, this.#outLength);
  }

  #line(): string {
    this.#skipWhitespace();
    this.#name();
    const keyStart = this.#tokenStart;
    const keyEnd = this.#tokenEnd;
    this.#colon();
    this.#value();
    this.#skipWhitespace();
    if (this.#at !== this.#bytes.length) throw NOT_FAST;
    let key = "";
    for (let at = keyStart; at < keyEnd; at++) key += String.fromCharCode(this.#bytes[at]);
    return key;
  }

  /** Makes room for `count` more output bytes. */
  #reserve(count: number): void {
    if (this.#outLength + count <= this.#out.length) return;
    this.#out = grownBuffer(this.#out, this.#outLength, this.#outLength + count);
    this.#outView = new DataView(this.#out.buffer);
  }

  #writeByte(byte: number): void {
    this.#reserve(1);
    this.#out[this.#outLength++] = byte;
  }

  /** Appends a varint; the caller reserved MAX_VARINT_BYTES. */
  #writeVarint(value: number): void {
    // The common one-byte case inline: every short string's length and small int.
    if (value < 0x80) this.#out[this.#outLength++] = value;
    else this.#outLength = writeVarint(this.#out, this.#outLength, value);
  }

  #skipWhitespace(): void {
    const bytes = this.#bytes;
    let at = this.#at;
    while (at < bytes.length && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
    this.#at = at;
  }

  #colon(): void {
    this.#skipWhitespace();
    if (this.#bytes[this.#at] !== COLON) throw NOT_FAST;
    this.#at++;
  }

  /** A key or field name, quoted or bare, checked; its bounds go to #tokenStart/#tokenEnd. */
  #name(): void {
    const bytes = this.#bytes;
    const first = bytes[this.#at];
    if (first === DOUBLE_QUOTE || first === SINGLE_QUOTE) {
      this.#quoted();
    } else {
      this.#tokenStart = this.#at;
      this.#tokenEnd = this.#bareToken();
    }
    const start = this.#tokenStart;
    const end = this.#tokenEnd;
    if (end === start || end - start > MAX_KEY_BYTES) throw NOT_FAST;
    for (let at = start; at < end; at++) {
      const byte = bytes[at];
      if (byte === DOT || byte >= 0x80) throw NOT_FAST;
    }
  }

  /** A quoted string without escapes; its content's bounds go to #tokenStart/#tokenEnd. */
  #quoted(): void {
    const bytes = this.#bytes;
    const quote = bytes[this.#at];
    const start = this.#at + 1;
    let at = start;
    while (at < bytes.length && bytes[at] !== quote) {
      const byte = bytes[at];
      if (byte === BACKSLASH || byte >= 0x80) throw NOT_FAST;
      at++;
    }
    if (at === bytes.length) throw NOT_FAST;
    this.#at = at + 1;
    this.#tokenStart = start;
    this.#tokenEnd = at;
  }

  /**
   * A quoted string without escapes (for a name, also without `.`), scanned, checked
   * and appended as a varint length and its bytes in one pass: the bytes are copied
   * as they are checked, behind one length byte that is widened afterwards in the
   * rare case of 128 bytes or more. Its content's bounds go to #tokenStart/#tokenEnd.
   */
  #quotedInto(isName: boolean): void {
    const bytes = this.#bytes;
    const quote = bytes[this.#at];
    const start = this.#at + 1;
    // The content is at most the rest of the line.
    this.#reserve(MAX_VARINT_BYTES + bytes.length - start);
    const out = this.#out;
    const lengthAt = this.#outLength;
    let to = lengthAt + 1;
    let at = start;
    while (true) {
      if (at === bytes.length) throw NOT_FAST;
      const byte = bytes[at];
      if (QUOTED_STOPS[byte] !== 0) {
        if (byte === quote) break;
        const allowed = byte === DOUBLE_QUOTE || byte === SINGLE_QUOTE || (byte === DOT && !isName);
        if (!allowed) throw NOT_FAST;
      }
      out[to++] = byte;
      at++;
    }
    const length = at - start;
    if (length < 0x80) {
      out[lengthAt] = length;
    } else {
      const lengthBytes = varintLength(length);
      out.copyWithin(lengthAt + lengthBytes, lengthAt + 1, to);
      to += lengthBytes - 1;
      this.#outLength = lengthAt;
      this.#writeVarint(length);
    }
    this.#outLength = to;
    this.#at = at + 1;
    this.#tokenStart = start;
    this.#tokenEnd = at;
  }

  /** Advances over a bare token; returns the end of its last non-whitespace byte. */
  #bareToken(): number {
    const bytes = this.#bytes;
    let at = this.#at;
    let end = at;
    while (at < bytes.length) {
      const byte = bytes[at];
      if (byte >= 0x80) throw NOT_FAST;
      const byteClass = charClass(byte);
      if (byteClass === CharClass.delimiter) break;
      at++;
      if (byteClass === CharClass.plain) end = at;
    }
    this.#at = at;
    return end;
  }

  /** A whole value, objects nested iteratively. */
  #value(): void {
    const bytes = this.#bytes;
    const openNames = this.#openNames;
    while (true) {
      this.#skipWhitespace();
      if (bytes[this.#at] === OPEN_BRACE) {
        if (this.#openCount === MAX_NESTING_DEPTH) throw NOT_FAST;
        this.#at++;
        this.#skipWhitespace();
        this.#writeByte(ValueTag.object);
        if (bytes[this.#at] === CLOSE_BRACE) {
          this.#at++;
          this.#writeByte(OBJECT_END);
        } else {
          openNames[this.#openCount++] = this.#nameCount;
          this.#field(this.#nameCount);
          continue;
        }
      } else {
        this.#scalar();
      }
      // A value is finished: close objects until one needs another field.
      while (this.#openCount > 0) {
        this.#skipWhitespace();
        const byte = bytes[this.#at];
        if (byte === SEMICOLON || byte === COMMA) {
          this.#at++;
          this.#skipWhitespace();
          if (bytes[this.#at] !== CLOSE_BRACE) {
            this.#field(openNames[this.#openCount - 1]);
            break;
          }
        } else if (byte !== CLOSE_BRACE) {
          throw NOT_FAST;
        }
        this.#at++;
        this.#writeByte(OBJECT_END);
        this.#nameCount = openNames[--this.#openCount];
      }
      if (this.#openCount === 0) return;
    }
  }

  /** `name :` of a field of the object whose names start at `namesFrom`. */
  #field(namesFrom: number): void {
    const bytes = this.#bytes;
    const first = bytes[this.#at];
    const quoted = first === DOUBLE_QUOTE || first === SINGLE_QUOTE;
    if (quoted) {
      // Checked and written in one pass; a name too long or empty is the general parser's.
      this.#quotedInto(true);
      const length = this.#tokenEnd - this.#tokenStart;
      if (length === 0 || length > MAX_KEY_BYTES) throw NOT_FAST;
    } else {
      this.#name();
    }
    const start = this.#tokenStart;
    const end = this.#tokenEnd;
    const starts = this.#nameStarts;
    const ends = this.#nameEnds;
    const count = this.#nameCount;
    if (count - namesFrom === MAX_FAST_OBJECT_FIELDS) throw NOT_FAST;
    for (let index = namesFrom; index < count; index++) {
      if (ends[index] - starts[index] !== end - start) continue;
      let same = true;
      for (let offset = 0; offset < end - start && same; offset++) {
        same = bytes[starts[index] + offset] === bytes[start + offset];
      }
      // A repeated name is an error the general parser words.
      if (same) throw NOT_FAST;
    }
    starts[count] = start;
    ends[count] = end;
    this.#nameCount = count + 1;
    if (!quoted) this.#writeBytes(start, end);
    this.#colon();
  }

  /** A scalar: a quoted string, or a bare token typed as int, float or string. */
  #scalar(): void {
    const bytes = this.#bytes;
    const first = bytes[this.#at];
    if (first === DOUBLE_QUOTE || first === SINGLE_QUOTE) {
      this.#writeByte(ValueTag.string);
      this.#quotedInto(false);
      return;
    }
    // A would-be list is an error the general parser words.
    if (first === OPEN_BRACKET) throw NOT_FAST;
    const start = this.#at;
    const end = this.#bareToken();
    if (end === start) throw NOT_FAST;
    const numberClass = classifyNumber(bytes, start, end);
    if (numberClass === NumberClass.notANumber) {
      this.#writeByte(ValueTag.string);
      this.#writeBytes(start, end);
    } else if (numberClass === NumberClass.float) {
      const value = parseFloatBytes(bytes, start, end);
      if (!Number.isFinite(value)) throw NOT_FAST;
      this.#reserve(9);
      this.#out[this.#outLength] = ValueTag.float;
      this.#outView.setFloat64(this.#outLength + 1, value);
      this.#outLength += 9;
    } else {
      const negative = bytes[start] === MINUS;
      let magnitude = 0;
      for (let at = negative ? start + 1 : start; at < end; at++) {
        magnitude = magnitude * 10 + (bytes[at] - DIGIT_ZERO);
      }
      if (!Number.isSafeInteger(magnitude)) throw NOT_FAST;
      this.#reserve(1 + MAX_VARINT_BYTES);
      // As value_codec.ts's writeInt: -0 is the int 0.
      const below = negative && magnitude !== 0;
      this.#out[this.#outLength++] = below ? ValueTag.negativeInt : ValueTag.int;
      this.#writeVarint(magnitude);
    }
  }

  /** Appends `bytes[start, end)` as a varint length and the bytes (a string's body, a name). */
  #writeBytes(start: number, end: number): void {
    const count = end - start;
    this.#reserve(MAX_VARINT_BYTES + count);
    this.#writeVarint(count);
    this.#outLength = copyBytes(this.#out, this.#outLength, this.#bytes, start, end);
  }
}

const NO_LINE = new Uint8Array(0);

/**
 * The bytes at which {@link AsciiRecordParser.#quotedInto} stops to look closer: the
 * quotes, backslash (an escape), `.` (not in a name) and every non-ASCII byte.
 */
const QUOTED_STOPS = new Uint8Array(256);
for (const byte of [DOUBLE_QUOTE, SINGLE_QUOTE, BACKSLASH, DOT]) QUOTED_STOPS[byte] = 1;
QUOTED_STOPS.fill(1, 0x80);

const sharedParser = new AsciiRecordParser();

/**
 * The value of a token classifyNumber calls a float, exactly as `Number` reads it:
 * computed from the digits when there are few enough and no exponent.
 */
function parseFloatBytes(bytes: Uint8Array, start: number, end: number): number {
  const negative = bytes[start] === MINUS;
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = -1;
  for (let at = negative ? start + 1 : start; at < end; at++) {
    const byte = bytes[at];
    if (byte === DOT) {
      fractionDigits = 0;
      continue;
    }
    if (byte < DIGIT_ZERO || byte > DIGIT_NINE || ++digits > MAX_FAST_FLOAT_DIGITS) {
      return slowParseFloat(bytes, start, end);
    }
    mantissa = mantissa * 10 + (byte - DIGIT_ZERO);
    if (fractionDigits >= 0) fractionDigits++;
  }
  const magnitude = mantissa / POWERS_OF_TEN[Math.max(fractionDigits, 0)];
  return negative ? -magnitude : magnitude;
}

function slowParseFloat(bytes: Uint8Array, start: number, end: number): number {
  let text = "";
  for (let at = start; at < end; at++) text += String.fromCharCode(bytes[at]);
  return Number(text);
}

/** parse.ts's number grammar over bytes: `-?d+`, `-?d+.d+([eE][+-]?d+)?`, `-?d+[eE][+-]?d+`. */
function classifyNumber(bytes: Uint8Array, start: number, end: number): NumberClass {
  let at = start;
  if (at < end && bytes[at] === MINUS) at++;
  const integerStart = at;
  while (at < end && isDigit(bytes[at])) at++;
  if (at === integerStart) return NumberClass.notANumber;
  if (at === end) return NumberClass.int;
  if (bytes[at] === DOT) {
    at++;
    const fractionStart = at;
    while (at < end && isDigit(bytes[at])) at++;
    if (at === fractionStart) return NumberClass.notANumber;
    if (at === end) return NumberClass.float;
  }
  if (bytes[at] !== LOWER_E && bytes[at] !== UPPER_E) return NumberClass.notANumber;
  at++;
  if (at < end && (bytes[at] === PLUS || bytes[at] === MINUS)) at++;
  const exponentStart = at;
  while (at < end && isDigit(bytes[at])) at++;
  return at > exponentStart && at === end ? NumberClass.float : NumberClass.notANumber;
}
