/**
 * The binary encoding of a {@link Value}, shared by the wire protocol and the
 * storage files: a one-byte tag (`01` string, `02` int ≥ 0, `05` int < 0, `03`
 * float, `04` object) and a body, with varint lengths and ints. The byte-level
 * specification, with examples, is the "Values" section of
 * [docs/protocol.md](../../docs/protocol.md). Decoding checks everything a hostile
 * peer could get wrong, up to {@link MAX_NESTING_DEPTH}; each fault is a
 * {@link DecodeError}.
 *
 * @example
 * ```ts
 * import { encodeValue, decodeValue } from "./value_codec.ts";
 * import { int } from "./value.ts";
 * decodeValue(encodeValue(int(22))); // { kind: "int", value: 22 }
 * ```
 * @module
 */
import {
  ByteReader,
  ByteWriter,
  DecodeError,
  LimitExceededError,
  Utf8Cache,
} from "../base/bytes.ts";
import { MAX_NESTING_DEPTH } from "../limits.ts";
import type { Field, Value } from "./value.ts";
import { checkKey, checkKeyBytes } from "./key.ts";

/** Tag byte of each value kind (ints take one of two, by sign). */
export const ValueTag = {
  string: 0x01,
  int: 0x02,
  float: 0x03,
  object: 0x04,
  negativeInt: 0x05,
} as const;

/** The byte that ends an object: a field name length of 0. */
export const OBJECT_END = 0x00;

/**
 * Appends the encoding of `value` to `writer`.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * import { str } from "./value.ts";
 * const writer = new ByteWriter();
 * writeValue(writer, str("Main"));
 * ```
 */
export function writeValue(writer: ByteWriter, value: Value): void {
  switch (value.kind) {
    case "string":
      writer.u8(ValueTag.string);
      writer.varintString(value.value);
      return;
    case "int":
      writeInt(writer, value.value);
      return;
    case "float":
      writer.u8(ValueTag.float);
      writer.f64(value.value);
      return;
    case "object":
      writer.u8(ValueTag.object);
      for (const [name, fieldValue] of value.fields) {
        writer.varintString(name);
        writeValue(writer, fieldValue);
      }
      writer.u8(OBJECT_END);
      return;
  }
}

/**
 * Appends an int's tag and varint; `value` is a safe integer (`-0` is 0).
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * const writer = new ByteWriter();
 * writeInt(writer, -5); // 05 05
 * ```
 */
export function writeInt(writer: ByteWriter, value: number): void {
  if (value >= 0) {
    writer.u8(ValueTag.int);
    writer.varint(value);
  } else {
    writer.u8(ValueTag.negativeInt);
    writer.varint(-value);
  }
}

/**
 * Encodes `value` into a new byte array.
 *
 * @example
 * ```ts
 * import { int } from "./value.ts";
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
 * import { ByteReader } from "../base/bytes.ts";
 * import { str } from "./value.ts";
 * readValue(new ByteReader(encodeValue(str("x")))); // { kind: "string", value: "x" }
 * ```
 */
export function readValue(reader: ByteReader, depth = 1): Value {
  const tag = reader.u8("value tag");
  switch (tag) {
    case ValueTag.string:
      return { kind: "string", value: reader.varintString("string value") };
    case ValueTag.int:
    case ValueTag.negativeInt:
      return { kind: "int", value: readInt(reader, tag) };
    case ValueTag.float:
      return { kind: "float", value: readFloat(reader) };
    case ValueTag.object:
      return readObject(reader, depth);
    default:
      return unknownTag(tag);
  }
}

/** Field names decoded lately: records repeat a few names many times over. */
const fieldNames = new Utf8Cache();

function readObject(reader: ByteReader, depth: number): Value {
  checkObjectDepth(depth);
  const fields: Field[] = [];
  const names = new FieldNameCheck();
  while (true) {
    const length = readFieldNameLength(reader);
    if (length === 0) return { kind: "object", fields };
    const name = reader.cachedUtf8(fieldNames, length, "field name");
    names.add(name);
    fields.push([name, readValue(reader, depth + 1)]);
  }
}

/*
 * The checks of an encoded value, each made here once: for the decoders below and for
 * the trie's writer fed by wire bytes (lib/trie/encoded_writer.ts), which stores a value
 * without decoding it, so that both accept exactly the same bytes.
 */

/**
 * Reads the varint after an int's tag (`ValueTag.int` or `ValueTag.negativeInt`) and
 * returns the int; a negative zero is a DecodeError, so every int has one encoding.
 *
 * @example
 * ```ts
 * import { ByteReader } from "../base/bytes.ts";
 * readInt(new ByteReader(Uint8Array.of(5)), ValueTag.negativeInt); // -5
 * ```
 */
export function readInt(reader: ByteReader, tag: number): number {
  const magnitude = reader.varint("int value");
  if (tag === ValueTag.int) return magnitude;
  if (magnitude === 0) throw new DecodeError("negative int with magnitude 0");
  return -magnitude;
}

/**
 * Reads the 8 bytes after a float's tag; an infinity or NaN is a DecodeError.
 *
 * @example
 * ```ts
 * import { ByteReader, ByteWriter } from "../base/bytes.ts";
 * const writer = new ByteWriter();
 * writer.f64(1.5);
 * readFloat(new ByteReader(writer.bytes())); // 1.5
 * ```
 */
export function readFloat(reader: ByteReader): number {
  const value = reader.f64("float value");
  if (!Number.isFinite(value)) throw new DecodeError(`float value ${value} is not finite`);
  return value;
}

/**
 * Reads the length of an object's next field name: 0 is the end of the object, and
 * one over MAX_KEY_BYTES is a LimitExceededError before its bytes are read.
 *
 * @example
 * ```ts
 * import { ByteReader } from "../base/bytes.ts";
 * readFieldNameLength(new ByteReader(Uint8Array.of(3))); // 3
 * ```
 */
export function readFieldNameLength(reader: ByteReader): number {
  const length = reader.varint("field name length");
  checkKeyBytes(length, "field name");
  return length;
}

/**
 * Throws a LimitExceededError when an object at nesting level `depth` (1 for a
 * record's value) is deeper than MAX_NESTING_DEPTH.
 *
 * @example
 * ```ts
 * import { MAX_NESTING_DEPTH } from "../limits.ts";
 * checkObjectDepth(MAX_NESTING_DEPTH + 1); // throws
 * ```
 */
export function checkObjectDepth(depth: number): void {
  if (depth > MAX_NESTING_DEPTH) {
    throw new LimitExceededError(`value nests deeper than the limit of ${MAX_NESTING_DEPTH}`);
  }
}

/**
 * Throws the DecodeError for a tag byte that starts no value.
 *
 * @example
 * ```ts
 * unknownTag(9); // throws: unknown value tag 0x09
 * ```
 */
export function unknownTag(tag: number): never {
  throw new DecodeError(`unknown value tag 0x${tag.toString(16).padStart(2, "0")}`);
}

/**
 * Throws the DecodeError for a field name met twice in one object.
 *
 * @example
 * ```ts
 * duplicateFieldName("age"); // throws: duplicate field name 'age'
 * ```
 */
export function duplicateFieldName(name: string): never {
  throw new DecodeError(`duplicate field name '${name}'`);
}

/**
 * Throws a DecodeError unless the value just read ended its bytes: `remaining` is what
 * is left after it.
 *
 * @example
 * ```ts
 * checkValueEnd(0); // fine
 * ```
 */
export function checkValueEnd(remaining: number): void {
  if (remaining !== 0) throw new DecodeError(`${remaining} unexpected bytes after the value`);
}

/**
 * Fields of one object checked for repeats by a scan before a Set takes over (a Set
 * costs more to make); encoded_json.ts's writer checks the same way.
 */
export const NAME_SCAN_LIMIT = 16;

/** The field names of one object being decoded: each must be new and contain no `.`. */
class FieldNameCheck {
  readonly #names: string[] = [];
  #set: Set<string> | undefined;

  /** Adds `name`; a DecodeError when it is not a valid name (`checkKey`) or came before in this object. */
  add(name: string): void {
    checkKey(name, "field name");
    const seen = this.#set === undefined ? this.#names.includes(name) : this.#set.has(name);
    if (seen) duplicateFieldName(name);
    if (this.#set !== undefined) {
      this.#set.add(name);
      return;
    }
    this.#names.push(name);
    if (this.#names.length > NAME_SCAN_LIMIT) this.#set = new Set(this.#names);
  }
}

/**
 * Decodes exactly one value from `bytes`; trailing bytes are a DecodeError.
 *
 * @example
 * ```ts
 * import { float } from "./value.ts";
 * decodeValue(encodeValue(float(1.75))); // { kind: "float", value: 1.75 }
 * ```
 */
export function decodeValue(bytes: Uint8Array): Value {
  const reader = new ByteReader(bytes);
  const value = readValue(reader);
  checkValueEnd(reader.remaining);
  return value;
}
