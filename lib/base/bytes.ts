/**
 * Growable big-endian byte writer and bounds-checked byte reader: the two
 * primitives under the value codec, the wire protocol and the storage log.
 * A reader never reads past its end: every overrun is a {@link DecodeError},
 * so random bytes can never crash a decoder built on it.
 *
 * @example
 * ```ts
 * const writer = new ByteWriter();
 * writer.u32(7);
 * writer.string("hi");
 * const reader = new ByteReader(writer.bytes());
 * reader.u32(); // 7
 * reader.string(); // "hi"
 * ```
 * @module
 */
import { FNV_OFFSET_BASIS, FNV_PRIME } from "./fnv.ts";

/** Initial capacity of a {@link ByteWriter}, in bytes, unless told otherwise. */
export const DEFAULT_WRITER_CAPACITY = 256;

/**
 * Malformed or truncated input found by a decoder: the input's fault, never a bug (a
 * server answers it with BAD_REQUEST).
 *
 * @example
 * ```ts
 * try {
 *   new ByteReader(new Uint8Array(2)).u32("frame length");
 * } catch (error) {
 *   error instanceof DecodeError; // true
 *   (error as Error).message; // "truncated frame length at byte 0: needs 4 bytes, 2 left"
 * }
 * ```
 */
export class DecodeError extends Error {
  /** An error saying what in the input is malformed, and where. */
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/**
 * Input that is well formed but breaks one of kv's limits (too long a key, too deep a
 * value or path): the server answers it with ERROR LIMIT rather than BAD_REQUEST.
 *
 * @example
 * ```ts
 * const error = new LimitExceededError("KEYS limit 20000 is over the limit of 10000");
 * error instanceof DecodeError; // true: code that catches bad input catches this too
 * error.name; // "LimitExceededError"
 * ```
 */
export class LimitExceededError extends DecodeError {
  /** An error saying which limit the input breaks, and by how much. */
  constructor(message: string) {
    super(message);
    this.name = "LimitExceededError";
  }
}

const textEncoder = new TextEncoder();

const TWO_POW_32 = 2 ** 32;

/** A safe integer's high 32-bit half lies in [-2^21, 2^21). */
const SAFE_HIGH_HALF_LIMIT = 2 ** 21;

/** Byte runs up to this long are copied by hand: cheaper than a subarray and `set`. */
const MANUAL_COPY_MAX_BYTES = 32;

/** Strings up to this many UTF-16 units are tried as ASCII before TextEncoder is called. */
const ASCII_FAST_PATH_MAX_LENGTH = 64;

/** Byte runs up to this long are decoded as ASCII by hand: TextDecoder's call costs more. */
const ASCII_DECODE_MAX_BYTES = 16;

/** Smallest buffer a ByteWriter starts with, even when asked for less: room for a few fields. */
const MIN_WRITER_CAPACITY = 16;
// ignoreBOM keeps a leading U+FEFF in a string: it is data, not a byte order mark.
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Appends big-endian numbers and length-prefixed strings to a buffer that doubles as it fills.
 *
 * @example
 * ```ts
 * const writer = new ByteWriter();
 * writer.u16(0x0102);
 * writer.string("hé"); // a u32 length, 3, then the UTF-8 bytes
 * writer.varint(300); // 2 bytes: 0xac 0x02
 * writer.length; // 11
 * writer.bytes(); // Uint8Array [1, 2, 0, 0, 0, 3, 104, 195, 169, 172, 2]
 * ```
 */
export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  /**
   * An empty writer whose buffer starts at `capacity` bytes and grows as written to.
   *
   * @param capacity initial size in bytes; default {@link DEFAULT_WRITER_CAPACITY}.
   */
  constructor(capacity: number = DEFAULT_WRITER_CAPACITY) {
    this.#buffer = new Uint8Array(Math.max(MIN_WRITER_CAPACITY, capacity));
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** Makes room for `extra` more bytes. */
  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    this.#buffer = grownBuffer(this.#buffer, this.#length, needed);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /**
   * Appends one byte.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u8(0xff);
   * writer.bytes(); // Uint8Array [255]
   * ```
   */
  u8(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  /**
   * Appends an unsigned 16-bit big-endian integer.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u16(0x0102);
   * writer.bytes(); // Uint8Array [1, 2]
   * ```
   */
  u16(value: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.#length, value);
    this.#length += 2;
  }

  /**
   * Appends an unsigned 32-bit big-endian integer.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u32(1);
   * writer.bytes(); // Uint8Array [0, 0, 0, 1]
   * ```
   */
  u32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
  }

  /**
   * Appends a signed 64-bit big-endian integer; `value` must be a safe integer.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.i64(-1);
   * writer.bytes(); // Uint8Array [255, 255, 255, 255, 255, 255, 255, 255]
   * ```
   */
  i64(value: number): void {
    this.#reserve(8);
    // Two 32-bit halves rather than a BigInt: no allocation per int. For a
    // negative value the floor makes the high half its two's complement.
    const high = Math.floor(value / TWO_POW_32);
    this.#view.setInt32(this.#length, high);
    this.#view.setUint32(this.#length + 4, value - high * TWO_POW_32);
    this.#length += 8;
  }

  /**
   * Appends an IEEE 754 double, big-endian.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.f64(1.5);
   * writer.bytes(); // Uint8Array [63, 248, 0, 0, 0, 0, 0, 0]
   * ```
   */
  f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value);
    this.#length += 8;
  }

  /**
   * Appends raw bytes.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.raw(new Uint8Array([1, 2]));
   * writer.bytes(); // Uint8Array [1, 2]
   * ```
   */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * Appends a string as a u32 byte length followed by its UTF-8 bytes.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.string("hé");
   * writer.bytes(); // Uint8Array [0, 0, 0, 3, 104, 195, 169]
   * ```
   */
  string(value: string): void {
    // UTF-8 never needs more than 3 bytes per UTF-16 code unit.
    this.#reserve(4 + value.length * 3);
    const lengthAt = this.#length;
    const buffer = this.#buffer;
    // Short ASCII strings (most keys, names and values) are copied by hand: a
    // call into TextEncoder costs more than the loop.
    let written = 0;
    if (value.length <= ASCII_FAST_PATH_MAX_LENGTH) {
      const start = lengthAt + 4;
      for (; written < value.length; written++) {
        const code = value.charCodeAt(written);
        if (code >= 0x80) break;
        buffer[start + written] = code;
      }
    }
    if (written < value.length) {
      written = textEncoder.encodeInto(value, buffer.subarray(lengthAt + 4)).written;
    }
    this.#view.setUint32(lengthAt, written);
    this.#length += 4 + written;
  }

  /**
   * Appends an unsigned LEB128 varint: seven bits a byte, lowest first, the top bit
   * set on every byte but the last. `value` is a safe integer ≥ 0 (at most 8 bytes).
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.varint(300);
   * writer.bytes(); // Uint8Array [172, 2]: 0x2c with the top bit set, then 2
   * ```
   */
  varint(value: number): void {
    this.#reserve(MAX_VARINT_BYTES);
    this.#length = writeVarint(this.#buffer, this.#length, value);
  }

  /**
   * Appends a string as a varint byte length followed by its UTF-8 bytes.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.varintString("hé");
   * writer.bytes(); // Uint8Array [3, 104, 195, 169]: length 3, then the UTF-8 bytes
   * ```
   */
  varintString(value: string): void {
    this.#reserve(MAX_VARINT_BYTES + value.length * 3);
    const buffer = this.#buffer;
    const start = this.#length;
    // Short ASCII strings, the common case, take one length byte and a hand copy.
    if (value.length < 0x80) {
      let index = 0;
      for (; index < value.length; index++) {
        const code = value.charCodeAt(index);
        if (code >= 0x80) break;
        buffer[start + 1 + index] = code;
      }
      if (index === value.length) {
        buffer[start] = index;
        this.#length = start + 1 + index;
        return;
      }
    }
    // Otherwise encode after room for the longest length, then slide the bytes down.
    const room = start + MAX_VARINT_BYTES;
    const { written } = textEncoder.encodeInto(value, buffer.subarray(room));
    const textAt = writeVarint(buffer, start, written);
    buffer.copyWithin(textAt, room, room + written);
    this.#length = textAt + written;
  }

  /**
   * Forgets the bytes past `length` (≤ the length written), as if they were never written.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u32(0);
   * writer.string("abc");
   * writer.truncate(4); // the string is gone
   * writer.bytes(); // Uint8Array [0, 0, 0, 0]
   * ```
   */
  truncate(length: number): void {
    if (!(length >= 0 && length <= this.#length)) throw new RangeError(`truncate to ${length}`);
    this.#length = length;
  }

  /**
   * Overwrites a u32 at `offset` (for lengths known only after the body is written).
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u32(0); // room for the body's length, not known yet
   * writer.string("abc");
   * writer.patchU32(0, writer.length - 4);
   * writer.bytes(); // Uint8Array [0, 0, 0, 7, 0, 0, 0, 3, 97, 98, 99]
   * ```
   */
  patchU32(offset: number, value: number): void {
    if (offset + 4 > this.#length) throw new RangeError(`patch at ${offset} is past the end`);
    this.#view.setUint32(offset, value);
  }

  /**
   * Overwrites the byte at `offset` (for a tag known only after what follows is written).
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u8(0); // room for a tag
   * writer.u8(7);
   * writer.patchU8(0, 1);
   * writer.bytes(); // Uint8Array [1, 7]
   * ```
   */
  patchU8(offset: number, value: number): void {
    if (offset >= this.#length) throw new RangeError(`patch at ${offset} is past the end`);
    this.#buffer[offset] = value;
  }

  /**
   * Makes room for `count` more bytes and returns the buffer to write them into, from
   * {@link ByteWriter.length} on; {@link ByteWriter.advance} then counts them. For a hot
   * loop writing bytes one by one (an answer copied from the server's arena), where a
   * call and a bounds check per byte would cost more than the copy. The buffer is valid
   * until the next write.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * const buffer = writer.room(2);
   * buffer[writer.length] = 1;
   * buffer[writer.length + 1] = 2;
   * writer.advance(2);
   * writer.bytes(); // Uint8Array [1, 2]
   * ```
   */
  room(count: number): Uint8Array {
    this.#reserve(count);
    return this.#buffer;
  }

  /**
   * Counts `count` bytes written into the buffer {@link ByteWriter.room} returned, which
   * made room for at least that many.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.room(1)[writer.length] = 7;
   * writer.advance(1);
   * writer.length; // 1
   * ```
   */
  advance(count: number): void {
    const length = this.#length + count;
    if (!(count >= 0 && length <= this.#buffer.length)) {
      throw new RangeError(`advance by ${count} past the room made`);
    }
    this.#length = length;
  }

  /**
   * A view of the bytes written so far (shares memory with the writer until it grows or resets).
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.u8(1);
   * writer.bytes().slice(); // a copy that outlives the writer's next write
   * ```
   */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /**
   * Forgets everything written, keeping the capacity for reuse.
   *
   * @example
   * ```ts
   * const writer = new ByteWriter();
   * writer.string("abc");
   * writer.reset();
   * writer.length; // 0
   * ```
   */
  reset(): void {
    this.#length = 0;
  }
}

/**
 * Where {@link ByteReader.f64} copies a double's 8 bytes to read them, and
 * {@link writeF64} makes them: values carry floats, and a DataView made per reader (or
 * over each target) cost more than the copy.
 */
const FLOAT_BYTES = new Uint8Array(8);
const FLOAT_VIEW = new DataView(FLOAT_BYTES.buffer);

/**
 * Reads big-endian numbers and length-prefixed strings, refusing to read past the end:
 * every overrun is a {@link DecodeError} naming what was being read (the `what`
 * argument of each method).
 *
 * @example
 * ```ts
 * const reader = new ByteReader(new Uint8Array([1, 2, 0, 0, 0, 2, 104, 105, 0xac, 0x02]));
 * reader.u16(); // 258
 * reader.string(); // "hi"
 * reader.varint(); // 300
 * reader.remaining; // 0: reader.u8("flags") would now throw a DecodeError,
 * // "truncated flags at byte 10: needs 1 bytes, 0 left"
 * ```
 */
export class ByteReader {
  readonly #bytes: Uint8Array;
  /** Made by the first read of a u16, u32 or i64: most readers read only bytes, varints and f64s. */
  #view: DataView | undefined;
  #offset: number;
  readonly #end: number;

  /** Reads `bytes` from `start` (default 0) to `end` (default its length). */
  constructor(bytes: Uint8Array, start = 0, end: number = bytes.length) {
    this.#bytes = bytes;
    this.#offset = start;
    this.#end = end;
  }

  get #dataView(): DataView {
    const bytes = this.#bytes;
    return this.#view ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Position of the next byte to read. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#end - this.#offset;
  }

  #take(count: number, what: string): number {
    if (count > this.#end - this.#offset) {
      throw new DecodeError(
        `truncated ${what} at byte ${this.#offset}: needs ${count} bytes, ${this.remaining} left`,
      );
    }
    const at = this.#offset;
    this.#offset += count;
    return at;
  }

  /**
   * Reads one byte; `what` names it in the DecodeError when none is left.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([7])).u8(); // 7
   * ```
   */
  u8(what = "byte"): number {
    return this.#bytes[this.#take(1, what)];
  }

  /**
   * Reads an unsigned 16-bit big-endian integer.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([1, 2])).u16(); // 258
   * ```
   */
  u16(what = "u16"): number {
    return this.#dataView.getUint16(this.#take(2, what));
  }

  /**
   * Reads an unsigned 32-bit big-endian integer.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([0, 0, 1, 0])).u32(); // 256
   * ```
   */
  u32(what = "u32"): number {
    return this.#dataView.getUint32(this.#take(4, what));
  }

  /**
   * Reads a u32 count of items that each take at least `minBytesEach` bytes, and checks
   * that the bytes left can hold them (see {@link checkCountFits}) before the caller
   * sizes anything by it.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([0, 0, 0, 2, 1, 2])).count("entry count", 1); // 2
   * // [0, 0, 0, 9, 1, 2] throws a DecodeError, "entry count 9 exceeds the bytes"
   * ```
   */
  count(what: string, minBytesEach: number): number {
    const count = this.u32(what);
    checkCountFits(count, minBytesEach, this.remaining, what);
    return count;
  }

  /**
   * Reads a signed 64-bit big-endian integer; outside the safe integer range is a DecodeError.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255])).i64(); // -1
   * // [127, 255, 255, 255, 255, 255, 255, 255] read as "count" throws a DecodeError,
   * // "count 9223372036854775807 is outside the safe integer range"
   * ```
   */
  i64(what = "i64"): number {
    const at = this.#take(8, what);
    const view = this.#dataView;
    const high = view.getInt32(at);
    const low = view.getUint32(at + 4);
    // Within ±2^21 for the high half the sum is exact; beyond, it is unsafe anyway.
    const value = high * TWO_POW_32 + low;
    if (
      high < -SAFE_HIGH_HALF_LIMIT || high >= SAFE_HIGH_HALF_LIMIT || !Number.isSafeInteger(value)
    ) {
      const exact = view.getBigInt64(at);
      throw new DecodeError(`${what} ${exact} is outside the safe integer range`);
    }
    return value;
  }

  /**
   * Reads an IEEE 754 double, big-endian.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([63, 248, 0, 0, 0, 0, 0, 0])).f64(); // 1.5
   * ```
   */
  f64(what = "f64"): number {
    const at = this.#take(8, what);
    for (let i = 0; i < 8; i++) FLOAT_BYTES[i] = this.#bytes[at + i];
    return FLOAT_VIEW.getFloat64(0);
  }

  /**
   * Reads a varint, as {@link readVarint} checks it.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([172, 2])).varint(); // 300
   * ```
   */
  varint(what = "varint"): number {
    // The common one-byte case inline: this runs for every length and int of a value.
    const at = this.#offset;
    if (at < this.#end && this.#bytes[at] < 0x80) {
      this.#offset = at + 1;
      return this.#bytes[at];
    }
    const value = readVarint(this.#bytes, at, this.#end, what);
    this.#offset += varintLength(value);
    return value;
  }

  /**
   * Reads a varint length and that many UTF-8 bytes, at most `maxBytes` of them.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([3, 104, 195, 169])).varintString(); // "hé"
   * // [5, 104, 105] read with maxBytes 4 throws a DecodeError, "name is 5 bytes, over the
   * // limit of 4", before reading the bytes
   * ```
   */
  varintString(what = "string", maxBytes: number = Number.MAX_SAFE_INTEGER): string {
    const length = this.varint(`${what} length`);
    if (length > maxBytes) {
      throw new DecodeError(`${what} is ${length} bytes, over the limit of ${maxBytes}`);
    }
    return this.utf8(length, what);
  }

  /**
   * Reads `length` bytes of UTF-8, strictly: invalid UTF-8 is a DecodeError.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([104, 105])).utf8(2); // "hi"
   * // [0xff] read as "name" throws a DecodeError, "name is not valid UTF-8"
   * ```
   */
  utf8(length: number, what = "string"): string {
    const at = this.#take(length, what);
    return decodeUtf8(this.#bytes, at, at + length, what);
  }

  /**
   * Reads `length` bytes of UTF-8 as {@link ByteReader.utf8} does, returning the very
   * string an earlier call returned for the same bytes when `cache` still holds it:
   * for names that repeat, such as field names, which JavaScript then finds as
   * property keys without hashing and interning each new copy.
   *
   * @example
   * ```ts
   * const cache = new Utf8Cache();
   * const street = new TextEncoder().encode("street");
   * new ByteReader(street).cachedUtf8(cache, 6); // "street", decoded and cached
   * new ByteReader(street).cachedUtf8(cache, 6); // "street", the cached string: no new copy
   * ```
   */
  cachedUtf8(cache: Utf8Cache, length: number, what = "string"): string {
    const at = this.#take(length, what);
    return cache.decode(this.#bytes, at, at + length) ??
      decodeUtf8(this.#bytes, at, at + length, what);
  }

  /**
   * Moves past `count` bytes, unread, and returns where they start.
   *
   * @example
   * ```ts
   * const reader = new ByteReader(new Uint8Array([1, 2, 3, 4, 5]));
   * reader.skip(2); // 0, where the skipped bytes start
   * reader.offset; // 2
   * ```
   */
  skip(count: number, what = "bytes"): number {
    return this.#take(count, what);
  }

  /**
   * Reads `count` raw bytes (a view, not a copy).
   *
   * @example
   * ```ts
   * const reader = new ByteReader(new Uint8Array([1, 2, 3]));
   * reader.raw(2); // Uint8Array [1, 2], a view of the reader's bytes
   * reader.remaining; // 1
   * ```
   */
  raw(count: number, what = "bytes"): Uint8Array {
    const at = this.#take(count, what);
    return this.#bytes.subarray(at, at + count);
  }

  /**
   * Reads a u32 length and that many UTF-8 bytes, at most `maxBytes` of them.
   *
   * @example
   * ```ts
   * new ByteReader(new Uint8Array([0, 0, 0, 2, 104, 105])).string("key"); // "hi"
   * ```
   */
  string(what = "string", maxBytes: number = Number.MAX_SAFE_INTEGER): string {
    const length = this.u32(`${what} length`);
    if (length > maxBytes) {
      throw new DecodeError(`${what} is ${length} bytes, over the limit of ${maxBytes}`);
    }
    return this.utf8(length, what);
  }
}

/**
 * Throws a DecodeError when `count` items of at least `minBytesEach` bytes each cannot
 * fit in the `remaining` bytes: a count read from the input is a lie then, and checking
 * it first keeps a lie from sizing an allocation. `what` names the count in the error.
 *
 * @example
 * ```ts
 * checkCountFits(3, 5, 15, "key count"); // fine: 3 keys of 5 bytes or more fit in 15
 * // checkCountFits(4, 5, 15, "key count") throws a DecodeError, "key count 4 exceeds the bytes"
 * ```
 */
export function checkCountFits(
  count: number,
  minBytesEach: number,
  remaining: number,
  what: string,
): void {
  if (count * minBytesEach > remaining) throw new DecodeError(`${what} ${count} exceeds the bytes`);
}

/**
 * Copies `source[start, end)` into `target` at `at`, which has room for it, and returns
 * the offset just past the copy. Short runs are copied by hand: for a few bytes a
 * subarray and `set` cost more than the loop.
 *
 * @example
 * ```ts
 * const target = new Uint8Array(4);
 * copyBytes(target, 1, new Uint8Array([7, 8, 9]), 1, 3); // 3; target is [0, 8, 9, 0]
 * ```
 */
export function copyBytes(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  start: number,
  end: number,
): number {
  const count = end - start;
  if (count > MANUAL_COPY_MAX_BYTES) target.set(source.subarray(start, end), at);
  else for (let i = 0; i < count; i++) target[at + i] = source[start + i];
  return at + count;
}

/** Most bytes a varint of a safe integer takes: 8 × 7 = 56 bits ≥ 53. */
export const MAX_VARINT_BYTES = 8;

/**
 * Writes `value` as an IEEE 754 double, big-endian (as {@link ByteWriter.f64} does),
 * into `target` at `offset`, which must have room for its 8 bytes; returns the offset
 * just past it.
 *
 * @example
 * ```ts
 * const target = new Uint8Array(9);
 * writeF64(target, 1, 1.5); // 9: target is [0, 63, 248, 0, 0, 0, 0, 0, 0]
 * ```
 */
export function writeF64(target: Uint8Array, offset: number, value: number): number {
  FLOAT_VIEW.setFloat64(0, value);
  return copyBytes(target, offset, FLOAT_BYTES, 0, FLOAT_BYTES.length);
}

/**
 * Writes `value` (a safe integer ≥ 0) as an unsigned LEB128 varint into `target` at
 * `offset`, which must have room for {@link MAX_VARINT_BYTES}; returns the offset
 * just past it.
 *
 * @example
 * ```ts
 * writeVarint(new Uint8Array(8), 0, 300); // 2: the bytes ac 02
 * ```
 */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  let rest = value;
  let at = offset;
  // Division rather than shifts: JS shifts work on 32 bits and values reach 2^53.
  while (rest >= 0x80) {
    target[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  target[at++] = rest;
  return at;
}

/**
 * Bytes the varint of `value` (a safe integer ≥ 0) takes: 1 below 128, up to
 * {@link MAX_VARINT_BYTES}. Since {@link readVarint} accepts only the shortest form,
 * it is also how far a varint just read extends.
 *
 * @example
 * ```ts
 * varintLength(300); // 2
 * ```
 */
export function varintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

/**
 * Reads the unsigned LEB128 varint at `source[at]`, ending before `end` (see
 * {@link writeVarint}); it takes {@link varintLength} of the value bytes. Truncation,
 * more than {@link MAX_VARINT_BYTES} bytes, a value above `Number.MAX_SAFE_INTEGER`
 * and a needlessly long form (a last byte of 0 after others) are DecodeErrors, so
 * every number has exactly one encoding. `what` names it in messages.
 *
 * @example
 * ```ts
 * readVarint(Uint8Array.of(0xac, 0x02), 0, 2, "length"); // 300
 * ```
 */
export function readVarint(source: Uint8Array, at: number, end: number, what: string): number {
  // The common case: one byte.
  if (at < end && source[at] < 0x80) return source[at];
  let value = 0;
  let scale = 1;
  for (let count = 1, index = at;; count++, index++) {
    if (index >= end) throw new DecodeError(`truncated ${what} at byte ${at}`);
    const byte = source[index];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (byte === 0 && count > 1) throw new DecodeError(`${what} is not in its shortest form`);
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new DecodeError(`${what} is outside the safe integer range`);
      }
      return value;
    }
    if (count === MAX_VARINT_BYTES) {
      throw new DecodeError(`${what} is longer than ${count} bytes`);
    }
    scale *= 0x80;
  }
}

/**
 * A buffer of at least `needed` bytes (`buffer`'s size doubled as often as that takes)
 * holding `buffer`'s first `length` bytes: how a growing writer makes room.
 *
 * @example
 * ```ts
 * grownBuffer(Uint8Array.of(1, 2), 2, 3); // Uint8Array [1, 2, 0, 0]
 * ```
 */
export function grownBuffer(
  buffer: Uint8Array,
  length: number,
  needed: number,
): Uint8Array<ArrayBuffer> {
  let capacity = Math.max(1, buffer.length) * 2;
  while (capacity < needed) capacity *= 2;
  const grown = new Uint8Array(capacity);
  grown.set(buffer.subarray(0, length));
  return grown;
}

/** Slots of a {@link Utf8Cache} unless told otherwise: a power of two. */
export const UTF8_CACHE_SLOTS = 1024;

/** The longest string a {@link Utf8Cache} keeps, in bytes. */
export const UTF8_CACHE_MAX_BYTES = 32;

/**
 * Short ASCII strings decoded lately, each in the slot a hash of its bytes picks (a
 * later string with the same hash takes the slot over). Fixed in size, so it costs the
 * same whatever it is fed.
 *
 * @example
 * ```ts
 * const names = new Utf8Cache();
 * const bytes = new TextEncoder().encode("age");
 * names.decode(bytes, 0, 3) === names.decode(bytes, 0, 3); // true: the same string
 * ```
 */
export class Utf8Cache {
  readonly #slots: (string | undefined)[];

  /**
   * An empty cache of `slots` strings.
   *
   * @param slots how many strings it holds at most, a power of two; default
   *   {@link UTF8_CACHE_SLOTS}.
   */
  constructor(slots: number = UTF8_CACHE_SLOTS) {
    if (!(Number.isInteger(slots) && slots > 0 && (slots & (slots - 1)) === 0)) {
      throw new RangeError(`Utf8Cache slots must be a power of two, got ${slots}`);
    }
    this.#slots = new Array(slots).fill(undefined);
  }

  /**
   * The string of `bytes[start, end)`, the same one as last time for the same bytes
   * when its slot still holds it; undefined, keeping nothing, unless the bytes are at
   * most {@link UTF8_CACHE_MAX_BYTES} of ASCII (the caller decodes those itself).
   *
   * @example
   * ```ts
   * const cache = new Utf8Cache();
   * const bytes = new TextEncoder().encode("age");
   * cache.decode(bytes, 0, 3) === cache.decode(bytes, 0, 3); // true: the one string, kept
   * cache.decode(new TextEncoder().encode("é"), 0, 2); // undefined: not ASCII
   * ```
   */
  decode(bytes: Uint8Array, start: number, end: number): string | undefined {
    if (end - start > UTF8_CACHE_MAX_BYTES) return undefined;
    // FNV-1a over the bytes, checking they are ASCII on the way.
    let hash = FNV_OFFSET_BASIS;
    let high = 0;
    for (let i = start; i < end; i++) {
      const byte = bytes[i];
      high |= byte;
      hash = Math.imul(hash ^ byte, FNV_PRIME);
    }
    if (high >= 0x80) return undefined;
    const slot = hash & (this.#slots.length - 1);
    const cached = this.#slots[slot];
    if (cached !== undefined && cached.length === end - start) {
      let same = true;
      for (let i = 0; i < cached.length && same; i++) {
        same = cached.charCodeAt(i) === bytes[start + i];
      }
      if (same) return cached;
    }
    // ASCII, checked above: decoding cannot fail.
    const text = decodeUtf8(bytes, start, end, "string");
    this.#slots[slot] = text;
    return text;
  }
}

/**
 * Decodes UTF-8 strictly: invalid sequences are a DecodeError, never U+FFFD.
 * Short ASCII strings skip TextDecoder, which dominates the cost of tiny decodes.
 */
function decodeUtf8(bytes: Uint8Array, start: number, end: number, what: string): string {
  if (end - start <= ASCII_DECODE_MAX_BYTES) {
    let ascii = "";
    let index = start;
    for (; index < end; index++) {
      const byte = bytes[index];
      if (byte >= 0x80) break;
      ascii += String.fromCharCode(byte);
    }
    if (index === end) return ascii;
  }
  try {
    return textDecoder.decode(bytes.subarray(start, end));
  } catch {
    throw new DecodeError(`${what} is not valid UTF-8`);
  }
}

/**
 * The big-endian u32 at `source[offset, offset + 4)`; the caller checks the bounds.
 *
 * @example
 * ```ts
 * readU32(Uint8Array.of(0, 0, 1, 2), 0); // 258
 * ```
 */
export function readU32(source: Uint8Array, offset: number): number {
  return ((source[offset] << 24) >>> 0) + (source[offset + 1] << 16) +
    (source[offset + 2] << 8) + source[offset + 3];
}

/**
 * Writes `value` (a u32) big-endian at `target[offset, offset + 4)`; the caller checks the bounds.
 *
 * @example
 * ```ts
 * writeU32(new Uint8Array(4), 0, 258); // the bytes 00 00 01 02
 * ```
 */
export function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

/**
 * `bytes` as lowercase hex, two digits a byte: how server ids and secrets are written.
 *
 * @example
 * ```ts
 * bytesToHex(new Uint8Array([0, 15, 255])); // "000fff"
 * ```
 */
export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The bytes that `hex` (lowercase, two digits a byte, as {@link bytesToHex} writes)
 * stands for; a RangeError for any other text.
 *
 * @example
 * ```ts
 * hexToBytes("000fff"); // Uint8Array [0, 15, 255]
 * ```
 */
export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new RangeError(`not lowercase hex bytes: ${hex}`);
  return Uint8Array.from(
    { length: hex.length / 2 },
    (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16),
  );
}

/**
 * Writes all of `bytes` to `sink` (a file, standard output, a connection), whose `write`
 * may take fewer than it is given: again with the rest until it took them all. A regular
 * file takes them in one write unless the disk fills.
 *
 * @example
 * ```ts
 * const file = await Deno.create("/tmp/kv/bytes");
 * await writeAll(file, new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeAll(
  sink: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await sink.write(bytes.subarray(written));
}

/**
 * The bytes of `chunks` one after another in one array: what a stream or a file read
 * in pieces held.
 *
 * @example
 * ```ts
 * concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
