/**
 * The JSON of an encoded value written as UTF-8 bytes straight from the value's own
 * bytes: strings and field names are copied (escaped where JSON needs it), never
 * decoded into JavaScript strings and encoded again. The broker's `--json` answers and
 * the HTTP API's bodies are mostly this text, so this is the hot half of a piped GET.
 * Checks exactly what `decodeValue` checks, with its messages.
 *
 * @example
 * ```ts
 * import { EncodedJsonWriter } from "./encoded_json.ts";
 * import { encodeValue } from "./value_codec.ts";
 * import { int, object } from "./value.ts";
 * const json = new EncodedJsonWriter();
 * json.value(encodeValue(object([["age", int(3)]])));
 * new TextDecoder().decode(json.bytes()); // '{"age":3}'
 * ```
 * @module
 */
import { ByteReader, DecodeError, grownBuffer } from "../base/bytes.ts";
import { isWellFormedUtf8 } from "../base/utf8.ts";
import { invariant } from "../base/invariant.ts";
import { checkEncodedName } from "./key.ts";
import { BACKSLASH, DOUBLE_QUOTE } from "./grammar.ts";
import { MAX_NESTING_DEPTH } from "../limits.ts";
import { floatJsonText, MAX_NUMBER_JSON_BYTES, writeNumberJson } from "./value.ts";
import {
  checkObjectDepth,
  checkValueEnd,
  duplicateFieldName,
  NAME_SCAN_LIMIT,
  readFieldNameLength,
  readFloat,
  readInt,
  unknownTag,
  ValueTag,
} from "./value_codec.ts";

/** Bytes a fresh writer holds before it first grows. */
const INITIAL_CAPACITY = 4096;

/** A writer grown past this by one huge value starts small again on `reset`. */
const MAX_RETAINED_CAPACITY = 1024 * 1024;

/** The most bytes one source byte becomes in JSON: a control character as `\u00XX`. */
const MAX_ESCAPED_BYTES = 6;

/** `u`, of `\u00XX`. */
const UNICODE_ESCAPE = 0x75;

/**
 * How JSON writes each byte of a string (as `JSON.stringify` does): 0 copied as it is,
 * else the letter after a backslash (`\n`), or `u` for `\u00XX`. Bytes of 0x80 and up are
 * parts of multi-byte characters, copied once the string is known to be valid UTF-8.
 */
const ESCAPES: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(UNICODE_ESCAPE, 0, 0x20);
  const short = { "\b": "b", "\t": "t", "\n": "n", "\f": "f", "\r": "r", '"': '"', "\\": "\\" };
  for (const [char, letter] of Object.entries(short)) {
    table[char.charCodeAt(0)] = letter.charCodeAt(0);
  }
  return table;
})();

const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");

/**
 * 1 for the bytes a field name is usually made of, which JSON copies as they are and a
 * name may hold: printable ASCII but `"`, `\\` and `.`. A name of only these is checked
 * and copied in one pass; any other byte sends it the long way ({@link checkEncodedName}).
 */
const PLAIN_NAME_BYTES: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(1, 0x20, 0x80);
  for (const char of ['"', "\\", "."]) table[char.charCodeAt(0)] = 0;
  return table;
})();

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Appends JSON text as UTF-8 bytes: encoded values ({@link EncodedJsonWriter.value}) and
 * the text around them ({@link EncodedJsonWriter.text}). Reused across answers: `reset`
 * empties it, `bytes` is a view valid until the next write.
 *
 * @example
 * ```ts
 * import { encodeValue } from "./value_codec.ts";
 * import { str } from "./value.ts";
 * const encoded = encodeValue(str("Main"));
 * const json = new EncodedJsonWriter();
 * json.text('{"value":');
 * json.value(encoded);
 * json.text("}");
 * ```
 */
export class EncodedJsonWriter {
  #buffer = new Uint8Array(INITIAL_CAPACITY);
  #length = 0;
  /**
   * Where each field name of the objects being written starts and ends in the source, as
   * pairs up to `#nameCount` (a typed stack: an array pushed to and cut back for every
   * object cost more). An object keeps at most NAME_SCAN_LIMIT + 1 names here before a
   * Set takes over, so the stack is bounded by the nesting limit.
   */
  readonly #names = new Uint32Array(2 * (NAME_SCAN_LIMIT + 1) * MAX_NESTING_DEPTH);
  #nameCount = 0;

  /** Bytes written since the last reset. */
  get length(): number {
    return this.#length;
  }

  /**
   * What was written since the last reset: a view, valid until the next write or reset.
   *
   * @example
   * ```ts
   * import { encodeValue } from "./value_codec.ts";
   * import { int, object } from "./value.ts";
   * const json = new EncodedJsonWriter();
   * json.text('{"value":');
   * json.value(encodeValue(object([["age", int(22)]])));
   * json.text("}");
   * new TextDecoder().decode(json.bytes()); // '{"value":{"age":22}}'
   * ```
   */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /**
   * Forgets what was written.
   *
   * @example
   * ```ts
   * const json = new EncodedJsonWriter();
   * json.text("null");
   * json.reset();
   * json.length; // 0, ready for the next answer
   * ```
   */
  reset(): void {
    this.#length = 0;
    if (this.#buffer.length > MAX_RETAINED_CAPACITY) {
      this.#buffer = new Uint8Array(INITIAL_CAPACITY);
    }
  }

  /**
   * Appends `text` as UTF-8: the JSON around values, already escaped by the caller.
   *
   * @example
   * ```ts
   * const json = new EncodedJsonWriter();
   * json.text('{"found":false}');
   * new TextDecoder().decode(json.bytes()); // '{"found":false}'
   * ```
   */
  text(text: string): void {
    this.#reserve(text.length * 3);
    const buffer = this.#buffer;
    let out = this.#length;
    // Copied by hand while ASCII: the text around an answer's value is short, and a view
    // for encodeInto to write into cost more than copying it.
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (unit >= 0x80) {
        out += utf8Encoder.encodeInto(text.slice(i), buffer.subarray(out)).written;
        break;
      }
      buffer[out++] = unit;
    }
    this.#length = out;
  }

  /**
   * Appends UTF-8 bytes as they are: JSON text made once (an answer's fixed parts).
   *
   * @example
   * ```ts
   * const json = new EncodedJsonWriter();
   * json.raw(new TextEncoder().encode('{"op":"GET"}'));
   * ```
   */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * Appends `text` as a JSON string, exactly as `JSON.stringify(text)` writes it.
   *
   * @example
   * ```ts
   * const json = new EncodedJsonWriter();
   * json.string('say "hi"');
   * new TextDecoder().decode(json.bytes()); // '"say \\"hi\\""'
   * ```
   */
  string(text: string): void {
    this.#reserve(text.length + 2);
    const buffer = this.#buffer;
    let out = this.#length;
    buffer[out++] = DOUBLE_QUOTE;
    // Copied by hand while nothing needs escaping, as nearly every key is.
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (unit >= 0x80 || ESCAPES[unit] !== 0) return this.text(JSON.stringify(text));
      buffer[out++] = unit;
    }
    buffer[out++] = DOUBLE_QUOTE;
    this.#length = out;
  }

  /**
   * Appends the JSON of the one value `source` holds; anything `decodeValue` refuses is
   * its DecodeError (or LimitExceededError), and then what this call wrote is undone.
   *
   * @example
   * ```ts
   * import { encodeValue } from "./value_codec.ts";
   * import { int, object } from "./value.ts";
   * const json = new EncodedJsonWriter();
   * json.value(encodeValue(object([["age", int(22)]])));
   * new TextDecoder().decode(json.bytes()); // '{"age":22}'
   * ```
   */
  value(source: Uint8Array): void {
    const start = this.#length;
    const names = this.#nameCount;
    try {
      const reader = new ByteReader(source);
      this.#value(reader, source, 1);
      checkValueEnd(reader.remaining);
    } catch (error) {
      this.#length = start;
      this.#nameCount = names;
      throw error;
    }
  }

  #value(reader: ByteReader, source: Uint8Array, depth: number): void {
    const tag = reader.u8("value tag");
    switch (tag) {
      case ValueTag.string: {
        const length = reader.varint("string value length");
        const at = reader.skip(length, "string value");
        this.#string(source, at, length, "string value");
        return;
      }
      case ValueTag.int:
      case ValueTag.negativeInt:
        return this.#number(readInt(reader, tag), false);
      case ValueTag.float:
        return this.#number(readFloat(reader), true);
      case ValueTag.object:
        return this.#object(reader, source, depth);
      default:
        return unknownTag(tag);
    }
  }

  #object(reader: ByteReader, source: Uint8Array, depth: number): void {
    checkObjectDepth(depth);
    const firstName = this.#nameCount;
    let seen: Set<string> | undefined;
    this.#byte(0x7b); // {
    for (let count = 0;; count++) {
      const length = readFieldNameLength(reader);
      if (length === 0) break;
      const at = reader.skip(length, "field name");
      // Written before it is found to repeat: a refused value's bytes are taken back (value).
      this.#member(source, at, length, count > 0);
      if (count === NAME_SCAN_LIMIT) seen = this.#nameSet(source, firstName);
      if (seen === undefined) this.#checkNewName(source, at, length, firstName);
      else {
        const name = utf8Decoder.decode(source.subarray(at, at + length));
        if (seen.has(name)) duplicateFieldName(name);
        seen.add(name);
      }
      this.#value(reader, source, depth + 1);
    }
    this.#nameCount = firstName;
    this.#byte(0x7d); // }
  }

  /**
   * Writes a member's start, `"name":` (after a `,` unless it is the first), with the name
   * checked as `decodeValue` checks names: valid UTF-8 without `.` (a DecodeError).
   */
  #member(source: Uint8Array, at: number, length: number, comma: boolean): void {
    const end = at + length;
    this.#reserve(length + 4);
    const buffer = this.#buffer;
    let out = this.#length;
    if (comma) buffer[out++] = 0x2c; // ,
    buffer[out++] = DOUBLE_QUOTE;
    for (let i = at; i < end; i++) {
      const byte = source[i];
      if (PLAIN_NAME_BYTES[byte] === 0) return this.#unusualMember(source, at, length, comma);
      buffer[out++] = byte;
    }
    buffer[out++] = DOUBLE_QUOTE;
    buffer[out++] = 0x3a; // :
    this.#length = out;
  }

  /** {@link EncodedJsonWriter.#member} for a name with bytes JSON escapes, non-ASCII or `.`. */
  #unusualMember(source: Uint8Array, at: number, length: number, comma: boolean): void {
    checkEncodedName(source, at, length);
    if (comma) this.#byte(0x2c); // ,
    this.#string(source, at, length, "field name");
    this.#byte(0x3a); // :
  }

  /** Throws for a name equal to one of this object's earlier ones (from `firstName` on). */
  #checkNewName(source: Uint8Array, at: number, length: number, firstName: number): void {
    const names = this.#names;
    const count = this.#nameCount;
    for (let i = firstName; i < count; i += 2) {
      if (names[i + 1] - names[i] === length && sameBytes(source, names[i], at, length)) {
        duplicateFieldName(utf8Decoder.decode(source.subarray(at, at + length)));
      }
    }
    invariant(count + 2 <= names.length, "an object's scanned names fit the stack");
    names[count] = at;
    names[count + 1] = at + length;
    this.#nameCount = count + 2;
  }

  /** The names met so far in an object that has many, as a Set for the rest of it. */
  #nameSet(source: Uint8Array, firstName: number): Set<string> {
    const set = new Set<string>();
    const names = this.#names;
    for (let i = firstName; i < this.#nameCount; i += 2) {
      set.add(utf8Decoder.decode(source.subarray(names[i], names[i + 1])));
    }
    return set;
  }

  /** Writes `source[at, at + length)` as a JSON string; invalid UTF-8 is a DecodeError. */
  #string(source: Uint8Array, at: number, length: number, what: string): void {
    // Room for the string copied as it is; an escape makes room for itself and the rest.
    // Reserving 6 bytes a byte up front grew the buffer past MAX_RETAINED_CAPACITY for any
    // string over 170 KiB, to be dropped by the next reset and allocated again.
    const end = at + length;
    this.#reserve(length + 2);
    let buffer = this.#buffer;
    let out = this.#length;
    let high = 0;
    buffer[out++] = DOUBLE_QUOTE;
    for (let i = at; i < end; i++) {
      const byte = source[i];
      high |= byte;
      const escape = ESCAPES[byte];
      if (escape === 0) {
        buffer[out++] = byte;
        continue;
      }
      // This escape, the bytes after it and the closing quote.
      const room = MAX_ESCAPED_BYTES + (end - i - 1) + 1;
      if (out + room > buffer.length) {
        this.#length = out;
        this.#reserve(room);
        buffer = this.#buffer;
      }
      buffer[out++] = BACKSLASH;
      buffer[out++] = escape;
      if (escape === UNICODE_ESCAPE) {
        buffer[out++] = 0x30;
        buffer[out++] = 0x30;
        buffer[out++] = HEX_DIGITS[byte >> 4];
        buffer[out++] = HEX_DIGITS[byte & 0xf];
      }
    }
    if (high >= 0x80 && !isWellFormedUtf8(source, at, end)) {
      throw new DecodeError(`${what} is not valid UTF-8`);
    }
    buffer[out++] = DOUBLE_QUOTE;
    this.#length = out;
  }

  /** Appends a number's JSON text, written in place when {@link writeNumberJson} can. */
  #number(value: number, isFloat: boolean): void {
    this.#reserve(MAX_NUMBER_JSON_BYTES);
    const end = writeNumberJson(value, isFloat, this.#buffer, this.#length);
    if (end !== -1) this.#length = end;
    else this.#ascii(isFloat ? floatJsonText(value) : String(value));
  }

  /** Appends ASCII `text` (a number's digits). */
  #ascii(text: string): void {
    this.#reserve(text.length);
    const buffer = this.#buffer;
    let out = this.#length;
    for (let i = 0; i < text.length; i++) buffer[out++] = text.charCodeAt(i);
    this.#length = out;
  }

  #byte(byte: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = byte;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed > this.#buffer.length) {
      this.#buffer = grownBuffer(this.#buffer, this.#length, needed);
    }
  }
}

function sameBytes(source: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (source[a + i] !== source[b + i]) return false;
  return true;
}

/**
 * The JSON text of one encoded value, exactly `toJsonText(decodeValue(bytes))` without
 * building the value. Checks what `decodeValue` checks.
 *
 * @example
 * ```ts
 * import { encodeValue } from "./value_codec.ts";
 * import { int, object } from "./value.ts";
 * encodedJsonText(encodeValue(object([["age", int(3)]]))); // '{"age":3}'
 * ```
 */
export function encodedJsonText(bytes: Uint8Array): string {
  scratch.reset();
  scratch.value(bytes);
  return utf8Decoder.decode(scratch.bytes());
}

/** Reused by {@link encodedJsonText}, which runs to completion before anyone else can use it. */
const scratch = new EncodedJsonWriter();
