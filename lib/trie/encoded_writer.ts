/**
 * The record arena's writer fed by a value's wire bytes (`RecordTrie.putEncoded`, the
 * server's PUT): it stores the encoding of lib/record/value_codec.ts without making a
 * Value on the way. A first pass validates the bytes — with the codec's own checks,
 * so that it accepts exactly what `decodeValue` accepts — and measures the block; a
 * second writes it through a {@link BlockBuilder}. Its twin for decoded values is
 * `value_writer.ts`.
 *
 * @example
 * ```ts
 * import { EncodedWriter } from "./encoded_writer.ts";
 * import { BlockBuilder } from "./block.ts";
 * import { FieldNames } from "./names.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int, object } from "../record/value.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const writer = new EncodedWriter(builder);
 * const source = encodeValue(object([["age", int(3)]]));
 * const size = writer.measure(source, 0, source.length); // 24: the header and two nodes
 * const bytes = new Uint8Array(size);
 * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes);
 * writer.write(root, source, 0, source.length);
 * builder.finish();
 * ```
 * @module
 */
import { ByteReader, DecodeError } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { isWellFormedUtf8 } from "../base/utf8.ts";
import {
  checkObjectDepth,
  checkValueEnd,
  readFieldNameLength,
  readFloat,
  readInt,
  unknownTag,
  ValueTag,
} from "../record/value_codec.ts";
import {
  type BlockBuilder,
  blockBytes,
  indexBytes,
  intDataBytes,
  LINEAR_SCAN_MAX_FIELDS,
  NODE_BYTES,
  stringDataBytes,
} from "./block.ts";

/**
 * Measures and writes the block of an encoded value. Malformed or invalid bytes
 * (unknown tag, truncation, trailing bytes, invalid UTF-8, an empty, dotted, over-long
 * or duplicate field name, an unsafe int, a non-finite float, nesting deeper than
 * MAX_NESTING_DEPTH) are a DecodeError, a record too large a LimitExceededError.
 *
 * @example
 * ```ts
 * import { BlockBuilder } from "./block.ts";
 * import { FieldNames } from "./names.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int, object } from "../record/value.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const writer = new EncodedWriter(builder);
 * const source = encodeValue(object([["age", int(3)]]));
 * const size = writer.measure(source, 0, source.length);
 * const bytes = new Uint8Array(size);
 * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes);
 * writer.write(root, source, 0, source.length);
 * builder.finish();
 * ```
 */
export class EncodedWriter {
  #builder: BlockBuilder;
  #nodes = 0;
  #dataBytes = 0;
  /**
   * The field count of each object of the encoded value, in the order both passes meet
   * them: the encoding has no counts, the write pass needs them to place sibling nodes.
   */
  #objectFieldCounts = new Uint32Array(64);
  #objectCount = 0;
  #objectCursor = 0;

  /**
   * A writer filling the blocks `builder` lays out.
   *
   * @param builder lays out the blocks this writer fills.
   */
  constructor(builder: BlockBuilder) {
    this.#builder = builder;
  }

  /** Field nodes of the value measured last, its own node included. */
  get nodes(): number {
    return this.#nodes;
  }

  /**
   * Validates the one value `source[start, end)` must hold, changing nothing, and
   * returns the size of its block; see the class doc for what it throws.
   *
   * @example
   * ```ts
   * import { BlockBuilder } from "./block.ts";
   * import { FieldNames } from "./names.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const writer = new EncodedWriter(new BlockBuilder(new FieldNames()));
   * const source = encodeValue(int(3));
   * writer.measure(source, 0, source.length); // 16: the header and the one node
   * ```
   */
  measure(source: Uint8Array, start: number, end: number): number {
    this.#nodes = 1;
    this.#dataBytes = 0;
    this.#objectCount = 0;
    const reader = new ByteReader(source, start, end);
    this.#measureValue(reader, 1);
    checkValueEnd(reader.remaining);
    return blockBytes(this.#nodes, this.#dataBytes);
  }

  /**
   * Fills the `root` node of a block begun as {@link EncodedWriter.measure} sized it,
   * from the same bytes. Checks what measuring left for later: the UTF-8 of strings
   * (as they are copied) and of field names, dots and repeats (as they are interned).
   *
   * @example
   * ```ts
   * import { BlockBuilder } from "./block.ts";
   * import { FieldNames } from "./names.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { str } from "../record/value.ts";
   * const builder = new BlockBuilder(new FieldNames());
   * const writer = new EncodedWriter(builder);
   * const source = encodeValue(str("Mary"));
   * const size = writer.measure(source, 0, source.length);
   * const bytes = new Uint8Array(size);
   * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes);
   * writer.write(root, source, 0, source.length);
   * builder.finish();
   * ```
   */
  write(root: number, source: Uint8Array, start: number, end: number): void {
    this.#objectCursor = 0;
    this.#writeValue(new ByteReader(source, start, end), source, root);
  }

  /**
   * Validates the encoded value at the reader and counts its nodes and data bytes.
   * `depth` is its nesting level, 1 for the record's value.
   */
  #measureValue(reader: ByteReader, depth: number): void {
    const tag = reader.u8("value tag");
    switch (tag) {
      case ValueTag.string: {
        const length = reader.varint("string value length");
        // Its UTF-8 is checked as it is copied, in the write pass.
        reader.skip(length, "string value");
        this.#dataBytes += stringDataBytes(length);
        blockBytes(this.#nodes, this.#dataBytes);
        return;
      }
      case ValueTag.int:
      case ValueTag.negativeInt:
        this.#dataBytes += intDataBytes(readInt(reader, tag));
        return;
      case ValueTag.float:
        readFloat(reader);
        this.#dataBytes += 8;
        return;
      case ValueTag.object:
        return this.#measureObject(reader, depth);
      default:
        return unknownTag(tag);
    }
  }

  #measureObject(reader: ByteReader, depth: number): void {
    checkObjectDepth(depth);
    const ordinal = this.#objectCount++;
    let fieldCount = 0;
    while (true) {
      const length = readFieldNameLength(reader);
      if (length === 0) break;
      // Its bytes are checked when it is interned, in the write pass.
      reader.skip(length, "field name");
      this.#measureValue(reader, depth + 1);
      fieldCount++;
      this.#nodes++;
      blockBytes(this.#nodes, this.#dataBytes);
    }
    this.#dataBytes += indexBytes(fieldCount);
    blockBytes(this.#nodes, this.#dataBytes);
    if (ordinal >= this.#objectFieldCounts.length) {
      const grown = new Uint32Array(this.#objectFieldCounts.length * 2);
      grown.set(this.#objectFieldCounts);
      this.#objectFieldCounts = grown;
    }
    this.#objectFieldCounts[ordinal] = fieldCount;
  }

  /**
   * Fills node `node` (its name and last flag already set) with the encoded value at
   * the reader, which {@link EncodedWriter.measure} validated.
   */
  #writeValue(reader: ByteReader, source: Uint8Array, node: number): void {
    const tag = reader.u8();
    switch (tag) {
      case ValueTag.string: {
        const length = reader.varint();
        const at = reader.skip(length);
        if (this.#builder.stringUtf8(node, source, at, length) >= 0x80) {
          checkUtf8String(source, at, length);
        }
        return;
      }
      case ValueTag.int:
      case ValueTag.negativeInt:
        return this.#builder.int(node, readInt(reader, tag));
      case ValueTag.float:
        return this.#builder.float(node, reader.f64());
      default:
        invariant(tag === ValueTag.object, "measured values have known tags");
        return this.#writeObject(reader, source, node);
    }
  }

  /** Writes an object's fields' nodes, side by side in their slots, each filled in turn. */
  #writeObject(reader: ByteReader, source: Uint8Array, node: number): void {
    const builder = this.#builder;
    const fieldCount = this.#objectFieldCounts[this.#objectCursor++];
    const first = builder.object(node, fieldCount);
    for (let index = 0; index < fieldCount; index++) {
      const length = reader.varint();
      const id = builder.acquireUtf8(source, reader.skip(length), length);
      const child = first + index * NODE_BYTES;
      if (fieldCount <= LINEAR_SCAN_MAX_FIELDS) builder.refuseRepeat(first, child, id);
      builder.name(child, id, index === fieldCount - 1);
      this.#writeValue(reader, source, child);
    }
    builder.endObject(node, first, fieldCount);
    reader.skip(1); // the end marker
  }
}

/** Throws unless the string value `source[at, at + length)` is well-formed UTF-8. */
function checkUtf8String(source: Uint8Array, at: number, length: number): void {
  if (!isWellFormedUtf8(source, at, at + length)) {
    throw new DecodeError("string value is not valid UTF-8");
  }
}
