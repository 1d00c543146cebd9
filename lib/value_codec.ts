/**
 * The binary encoding of a {@link Value}, shared by the wire protocol and the
 * storage log. Every value is a one-byte tag followed by its body; all numbers
 * are big-endian:
 *
 * | tag    | kind   | body                                                                 |
 * |--------|--------|----------------------------------------------------------------------|
 * | `0x01` | string | u32 byte length, then that many UTF-8 bytes                          |
 * | `0x02` | int    | i64, two's complement (kv keeps ints within ±(2^53 − 1))             |
 * | `0x03` | float  | IEEE 754 binary64 (finite only)                                      |
 * | `0x04` | object | u32 field count, then per field: u32 name length, UTF-8 name, value  |
 *
 * Example: `{ "age" : 22 }` encodes as
 * `04 00000001 00000003 616765 02 0000000000000016`.
 *
 * Decoding checks everything a hostile peer could get wrong: truncation,
 * unknown tags, invalid UTF-8, empty or dotted or over-long field names,
 * duplicate names, non-finite floats and nesting deeper than
 * {@link MAX_NESTING_DEPTH}; each is a {@link DecodeError}.
 *
 * @example
 * ```ts
 * import { encodeValue, decodeValue } from "./value_codec.ts";
 * import { int } from "./value.ts";
 * decodeValue(encodeValue(int(22))); // { kind: "int", value: 22 }
 * ```
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./bytes.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "./limits.ts";
import type { Field, Value } from "./value.ts";

/** Tag byte of each value kind. */
export const ValueTag = {
  string: 0x01,
  int: 0x02,
  float: 0x03,
  object: 0x04,
} as const;

/**
 * Appends the encoding of `value` to `writer`.
 *
 * @example
 * ```ts
 * const writer = new ByteWriter();
 * writeValue(writer, str("Main"));
 * ```
 */
export function writeValue(writer: ByteWriter, value: Value): void {
  switch (value.kind) {
    case "string":
      writer.u8(ValueTag.string);
      writer.string(value.value);
      return;
    case "int":
      writer.u8(ValueTag.int);
      writer.i64(value.value);
      return;
    case "float":
      writer.u8(ValueTag.float);
      writer.f64(value.value);
      return;
    case "object":
      writer.u8(ValueTag.object);
      writer.u32(value.fields.length);
      for (const [name, fieldValue] of value.fields) {
        writer.string(name);
        writeValue(writer, fieldValue);
      }
      return;
  }
}

/**
 * Encodes `value` into a new byte array.
 *
 * @example
 * ```ts
 * encodeValue(int(22)); // Uint8Array [2, 0, 0, 0, 0, 0, 0, 0, 22]
 * ```
 */
export function encodeValue(value: Value): Uint8Array {
  scratch.reset();
  writeValue(scratch, value);
  const bytes = scratch.bytes().slice();
  // Keep the scratch buffer for the next call unless one huge value grew it.
  if (bytes.length > MAX_RETAINED_SCRATCH_BYTES) scratch = new ByteWriter();
  return bytes;
}

/** A scratch writer larger than this is dropped after use rather than kept. */
const MAX_RETAINED_SCRATCH_BYTES = 1024 * 1024;

/** Reused by {@link encodeValue}, which runs to completion before anyone else can use it. */
let scratch = new ByteWriter();

/**
 * Reads one value from `reader`. `depth` is the nesting level of the value
 * being read (1 for a record's value); recursion stops at MAX_NESTING_DEPTH, so
 * hostile input cannot overflow the stack.
 *
 * @example
 * ```ts
 * readValue(new ByteReader(encodeValue(str("x")))); // { kind: "string", value: "x" }
 * ```
 */
export function readValue(reader: ByteReader, depth = 1): Value {
  const tag = reader.u8("value tag");
  switch (tag) {
    case ValueTag.string:
      return { kind: "string", value: reader.string("string value") };
    case ValueTag.int:
      return { kind: "int", value: reader.i64("int value") };
    case ValueTag.float: {
      const value = reader.f64("float value");
      if (!Number.isFinite(value)) throw new DecodeError(`float value ${value} is not finite`);
      return { kind: "float", value };
    }
    case ValueTag.object:
      return readObject(reader, depth);
    default:
      throw new DecodeError(`unknown value tag 0x${tag.toString(16).padStart(2, "0")}`);
  }
}

function readObject(reader: ByteReader, depth: number): Value {
  if (depth > MAX_NESTING_DEPTH) {
    throw new DecodeError(`value nests deeper than the limit of ${MAX_NESTING_DEPTH}`);
  }
  const fieldCount = reader.u32("field count");
  // Each field takes at least 4 (name length) + 1 (name) + 1 (tag) bytes, so a
  // count larger than that bound is a lie and must not drive an allocation.
  if (fieldCount * 6 > reader.remaining) {
    throw new DecodeError(`field count ${fieldCount} exceeds the bytes left`);
  }
  const fields: Field[] = new Array(fieldCount);
  const seenNames = new Set<string>();
  for (let index = 0; index < fieldCount; index++) {
    const name = reader.string("field name", MAX_KEY_BYTES);
    if (name.length === 0) throw new DecodeError("empty field name");
    if (name.includes(".")) throw new DecodeError(`field name '${name}' contains '.'`);
    if (seenNames.has(name)) throw new DecodeError(`duplicate field name '${name}'`);
    seenNames.add(name);
    fields[index] = [name, readValue(reader, depth + 1)];
  }
  return { kind: "object", fields };
}

/**
 * Decodes exactly one value from `bytes`; trailing bytes are a DecodeError.
 *
 * @example
 * ```ts
 * decodeValue(encodeValue(float(1.75))); // { kind: "float", value: 1.75 }
 * ```
 */
export function decodeValue(bytes: Uint8Array): Value {
  const reader = new ByteReader(bytes);
  const value = readValue(reader);
  if (reader.remaining !== 0) {
    throw new DecodeError(`${reader.remaining} unexpected bytes after the value`);
  }
  return value;
}
