/**
 * The record arena: where the record trie keeps each record's value as a sub-trie of
 * field nodes, packed into one contiguous block per record inside a single byte arena.
 *
 * Block layout (little-endian):
 * - header, 8 bytes: the block's byte length (u32) and its owner, the record-key trie
 *   node that points at it (i32; 0 while being written, −1 once the block is garbage);
 * - field nodes, 8 bytes each: the value node of the record itself first (name id 0),
 *   then every object's fields as one contiguous run of sibling nodes in insertion
 *   order, the last one flagged. A node is a word `last(1) | kind(4) | nameId(27)` and a
 *   32-bit payload: an int32, a string of up to 4 UTF-8 bytes, or the block-relative
 *   offset of the first child node (objects; 0 for `{}`) or of out-of-line data;
 * - data: strings longer than 4 bytes (LEB128 byte length, then UTF-8), 8-byte
 *   floats (also ints beyond int32), and the field index of each object of more than
 *   16 fields (positions sorted by name id), so that no lookup walks a wide object.
 *
 * Offsets inside a block are relative to the block, so compaction moves blocks with a
 * plain copy. Deleted and overwritten blocks are garbage until more than half of the
 * arena is garbage; then live blocks slide down in place (amortized O(1) per byte freed).
 *
 * @example
 * ```ts
 * import { RecordArena } from "./arena.ts";
 * import { FieldNames } from "./names.ts";
 * import { int, object } from "../record/value.ts";
 * const names = new FieldNames();
 * const arena = new RecordArena(names, () => {});
 * const offset = arena.write(object([["age", int(3)]]));
 * arena.read(offset); // { kind: "object", fields: [["age", { kind: "int", value: 3 }]] }
 * ```
 * @module
 */
import assert from "node:assert/strict";
import {
  type ByteWriter,
  DecodeError,
  LimitExceededError,
  readVarint,
  varintLength,
  writeVarint,
} from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "../limits.ts";
import type { FieldNames } from "./names.ts";
import { resized } from "./radix.ts";
import { isWellFormedUtf8, readUtf8, utf8Length, writeUtf8 } from "../base/utf8.ts";
import type { Field, Value } from "../record/value.ts";
import { OBJECT_END, ValueTag, writeInt } from "../record/value_codec.ts";
import { checkKey } from "../record/key.ts";

/** Largest encoded record block: a bound far above any frame the protocol accepts. */
export const MAX_RECORD_BLOCK_BYTES = 256 * 1024 * 1024;

/** Largest arena: block offsets are u32 and 0xFFFFFFFF means "no value" in the key trie. */
export const MAX_ARENA_BYTES = 0xffff_fff0;

/** Arena garbage below this many bytes is never worth a compaction pass. */
const MIN_GARBAGE_TO_COMPACT = 64 * 1024;

/** Arena capacity the arena starts with and never shrinks below. */
const MIN_ARENA_BYTES = 64 * 1024;

const HEADER_BYTES = 8;
const NODE_BYTES = 8;
/** Block-relative offset of the record's own value node. */
const ROOT_NODE = HEADER_BYTES;

/** Owner field of a block being written, before the key trie points at it (node 0 is the root). */
const UNOWNED = 0;
/** Owner field of a deleted or overwritten block. */
const DEAD = -1;

const LAST_SIBLING = 0x8000_0000;
const KIND_SHIFT = 27;
const KIND_MASK = 0xf;
const NAME_MASK = (1 << KIND_SHIFT) - 1;

const OBJECT = 0;
const INT = 1;
const WIDE_INT = 2;
const FLOAT = 3;
const STRING = 4;
/** Kinds INLINE_STRING + n hold a string of n ≤ MAX_INLINE_STRING_BYTES UTF-8 bytes in the payload. */
const INLINE_STRING = 5;
const MAX_INLINE_STRING_BYTES = 4;
/**
 * An object of more than LINEAR_SCAN_MAX_FIELDS fields: its payload is the offset of a
 * field index in the data area — u32 first child offset, u32 field count, then each
 * field's position among its siblings (u32), sorted by name id — so that a lookup by
 * name is a binary search, not a walk of every field.
 */
const INDEXED_OBJECT = 10;
/** Bytes of a field index besides its positions: first child offset and count. */
const INDEX_HEADER_BYTES = 8;
/** Bytes per field in a field index. */
const INDEX_ENTRY_BYTES = 4;
/** Sort keys pack name id × POSITION_RANGE + position: positions stay below it. */
const POSITION_RANGE = 2 ** 26;

/**
 * Objects with more fields than this get a field index (see INDEXED_OBJECT), which also
 * finds duplicate names; smaller ones are scanned, for lookups and duplicates alike.
 */
const LINEAR_SCAN_MAX_FIELDS = 16;

/** Strings up to this many bytes are copied into the arena by hand. */
const MANUAL_COPY_MAX_BYTES = 64;

const NO_INPUT = new Uint8Array(0);

/** Where an encoded float's 8 bytes are copied to be read: no DataView per record. */
const FLOAT_BYTES = new Uint8Array(8);
const FLOAT_VIEW = new DataView(FLOAT_BYTES.buffer);

/** The big-endian binary64 at `source[at, at + 8)`. */
function readFloat64(source: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) FLOAT_BYTES[i] = source[at + i];
  return FLOAT_VIEW.getFloat64(0);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Encodes, decodes, queries and frees record blocks; see the module doc for the layout.
 *
 * @example
 * ```ts
 * const arena = new RecordArena(new FieldNames(), (owner, offset) => trie.setValue(owner, offset));
 * ```
 */
export class RecordArena {
  #names: FieldNames;
  #onMove: (owner: number, offset: number) => void;
  #bytes = new Uint8Array(MIN_ARENA_BYTES);
  #view = new DataView(this.#bytes.buffer);
  #end = 0;
  #garbage = 0;
  /** `#stamps[id] === #stamp` marks a name already seen in the object being written. */
  #stamps = new Uint32Array(64);
  #stamp = 0;
  /** Name ids acquired by the write in progress, released again if it fails. */
  #acquired = new Int32Array(64);
  #acquiredCount = 0;
  #slotCursor = 0;
  #dataCursor = 0;
  #measuredNodes = 0;
  #measuredDataBytes = 0;
  /** The encoded value being stored by {@link RecordArena.writeEncoded}, and where it is read. */
  #in: Uint8Array = NO_INPUT;
  #inEnd = 0;
  #at = 0;
  /**
   * The field count of each object of the encoded value, in the order both passes meet
   * them: the encoding has no counts, the write pass needs them to place sibling nodes.
   */
  #objectFieldCounts = new Uint32Array(64);
  #objectCount = 0;
  #objectCursor = 0;

  /**
   * @param names interns the field names of written records.
   * @param onMove told the new offset of each live block that compaction moves.
   */
  constructor(names: FieldNames, onMove: (owner: number, offset: number) => void) {
    this.#names = names;
    this.#onMove = onMove;
  }

  /** Bytes held by the arena (its capacity) and its bookkeeping arrays. */
  get memoryBytes(): number {
    return this.#bytes.byteLength + this.#stamps.byteLength;
  }

  /** Arena bytes in use, garbage included. */
  get usedBytes(): number {
    return this.#end;
  }

  /** Arena bytes held by deleted or overwritten blocks, awaiting compaction. */
  get garbageBytes(): number {
    return this.#garbage;
  }

  /**
   * Validates `value` (kinds, field names, nesting, sizes) without changing anything and
   * returns the size of its block. Throws a TypeError or RangeError on invalid input.
   */
  measure(value: Value): number {
    this.#measuredNodes = 1;
    this.#measuredDataBytes = 0;
    this.#measureValue(value, 1);
    return this.#measuredBlockBytes();
  }

  /** The size of the block just measured; a RangeError when it is over the limit. */
  #measuredBlockBytes(): number {
    const blockBytes = HEADER_BYTES + this.#measuredNodes * NODE_BYTES + this.#measuredDataBytes;
    if (blockBytes > MAX_RECORD_BLOCK_BYTES) {
      throw new LimitExceededError(
        `record too large: ${blockBytes} > ${MAX_RECORD_BLOCK_BYTES} bytes`,
      );
    }
    return blockBytes;
  }

  /**
   * Appends a block of `blockBytes` (as just measured, owner unset), writes its root
   * node from `value`, or when it is undefined from the encoded input at `encodedStart`,
   * and returns its offset. Should writing throw, the names it acquired are released
   * and the arena is as before. (No callback: a closure per record was garbage per record.)
   */
  #appendBlock(blockBytes: number, value: Value | undefined, encodedStart: number): number {
    this.#reserve(blockBytes);
    const block = this.#end;
    this.#view.setUint32(block, blockBytes, true);
    this.#view.setInt32(block + 4, UNOWNED, true);
    this.#slotCursor = block + ROOT_NODE + NODE_BYTES;
    this.#dataCursor = block + HEADER_BYTES + this.#measuredNodes * NODE_BYTES;
    this.#acquiredCount = 0;
    try {
      this.#view.setUint32(block + ROOT_NODE, LAST_SIBLING, true);
      if (value !== undefined) this.#writeValue(block, block + ROOT_NODE, value);
      else {
        this.#at = encodedStart;
        this.#objectCursor = 0;
        this.#writeEncodedValue(block, block + ROOT_NODE);
      }
    } catch (error) {
      for (let i = 0; i < this.#acquiredCount; i++) this.#names.release(this.#acquired[i]);
      throw error;
    } finally {
      this.#acquiredCount = 0;
    }
    invariant(
      this.#slotCursor === block + HEADER_BYTES + this.#measuredNodes * NODE_BYTES &&
        this.#dataCursor === block + blockBytes,
      "a block is written exactly as measured",
    );
    this.#end += blockBytes;
    return block;
  }

  /**
   * Appends the block for `value` (owner unset) and returns its offset. Throws, leaving
   * the arena and the names unchanged, on invalid input such as a duplicate field name.
   */
  write(value: Value): number {
    return this.#appendBlock(this.measure(value), value, 0);
  }

  /**
   * Like {@link RecordArena.write} for a value in its wire encoding (lib/record/value_codec.ts):
   * `source[start, end)` must hold exactly one value, and no Value is made on the way.
   * Throws a DecodeError when it is malformed or invalid (unknown tag, truncation,
   * trailing bytes, invalid UTF-8, an empty, dotted, over-long or duplicate field name,
   * an unsafe int, a non-finite float, nesting deeper than MAX_NESTING_DEPTH) and a
   * RangeError when the record is too large; either way nothing changes.
   */
  writeEncoded(source: Uint8Array, start = 0, end: number = source.length): number {
    try {
      return this.#writeEncoded(source, start, end);
    } finally {
      // Do not keep the caller's buffer (often a whole network chunk) alive.
      this.#in = NO_INPUT;
    }
  }

  #writeEncoded(source: Uint8Array, start: number, end: number): number {
    this.#in = source;
    this.#inEnd = end;
    this.#at = start;
    this.#measuredNodes = 1;
    this.#measuredDataBytes = 0;
    this.#objectCount = 0;
    this.#measureEncoded(1);
    if (this.#at !== end) {
      throw new DecodeError(`${end - this.#at} unexpected bytes after the value`);
    }
    return this.#appendBlock(this.#measuredBlockBytes(), undefined, start);
  }

  /** Records which key-trie node owns the block at `offset`. */
  setOwner(offset: number, owner: number): void {
    invariant(owner > 0, "owners are non-root key nodes");
    this.#view.setInt32(offset + 4, owner, true);
  }

  /** Decodes the whole record at `offset`. */
  read(offset: number): Value {
    return this.#readNode(offset, offset + ROOT_NODE);
  }

  /** The absolute position of the record's own value node, the start of a query walk. */
  rootNode(offset: number): number {
    return offset + ROOT_NODE;
  }

  /**
   * The node of field `nameId` of the object at node `node` of the block at `offset`, or
   * −1 when that node is a scalar or has no such field. Scans a small object's fields and
   * binary-searches a wide one's field index: O(log fields) at worst.
   */
  childNode(offset: number, node: number, nameId: number): number {
    const view = this.#view;
    const kind = (view.getUint32(node, true) >>> KIND_SHIFT) & KIND_MASK;
    if (kind === INDEXED_OBJECT) {
      const index = offset + view.getUint32(node + 4, true);
      const first = offset + view.getUint32(index, true);
      let low = 0;
      let high = view.getUint32(index + 4, true) - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const position = view.getUint32(
          index + INDEX_HEADER_BYTES + middle * INDEX_ENTRY_BYTES,
          true,
        );
        const child = first + position * NODE_BYTES;
        const id = view.getUint32(child, true) & NAME_MASK;
        if (id === nameId) return child;
        if (id < nameId) low = middle + 1;
        else high = middle - 1;
      }
      return -1;
    }
    if (kind !== OBJECT) return -1;
    const first = view.getUint32(node + 4, true);
    if (first === 0) return -1;
    for (let child = offset + first;; child += NODE_BYTES) {
      const childWord = view.getUint32(child, true);
      if ((childWord & NAME_MASK) === nameId) return child;
      if ((childWord & LAST_SIBLING) !== 0) return -1;
    }
  }

  /** Block-relative offset of the first field of the object node `node`, 0 for `{}` or a scalar. */
  #firstField(block: number, node: number): number {
    const view = this.#view;
    const kind = (view.getUint32(node, true) >>> KIND_SHIFT) & KIND_MASK;
    if (kind === OBJECT) return view.getUint32(node + 4, true);
    if (kind === INDEXED_OBJECT) {
      return view.getUint32(block + view.getUint32(node + 4, true), true);
    }
    return 0;
  }

  /** Bytes of the field index an object of `fieldCount` fields needs (0 below the threshold). */
  #indexBytes(fieldCount: number): number {
    return fieldCount > LINEAR_SCAN_MAX_FIELDS
      ? INDEX_HEADER_BYTES + fieldCount * INDEX_ENTRY_BYTES
      : 0;
  }

  /**
   * Writes the field index of the object at `node`, whose `count` fields start at node
   * `first`, and makes `node` an INDEXED_OBJECT. Throws a DecodeError, naming it, when a
   * field name repeats: sorting finds that too.
   */
  #writeFieldIndex(block: number, node: number, first: number, count: number): void {
    const view = this.#view;
    const keys = new Float64Array(count);
    for (let position = 0; position < count; position++) {
      const id = view.getUint32(first + position * NODE_BYTES, true) & NAME_MASK;
      keys[position] = id * POSITION_RANGE + position;
    }
    keys.sort();
    const index = this.#dataCursor;
    view.setUint32(index, first - block, true);
    view.setUint32(index + 4, count, true);
    let previousId = -1;
    for (let entry = 0; entry < count; entry++) {
      const id = Math.floor(keys[entry] / POSITION_RANGE);
      if (id === previousId) this.#duplicate(id);
      previousId = id;
      view.setUint32(
        index + INDEX_HEADER_BYTES + entry * INDEX_ENTRY_BYTES,
        keys[entry] - id * POSITION_RANGE,
        true,
      );
    }
    this.#dataCursor += INDEX_HEADER_BYTES + count * INDEX_ENTRY_BYTES;
    const word = view.getUint32(node, true);
    view.setUint32(node, (word | (INDEXED_OBJECT << KIND_SHIFT)) >>> 0, true);
    view.setUint32(node + 4, index - block, true);
  }

  /** Decodes the value at node `node` of the block at `offset`. */
  readNode(offset: number, node: number): Value {
    return this.#readNode(offset, node);
  }

  /**
   * Appends the value at node `node` of the block at `offset` to `writer` in the wire
   * encoding (`lib/record/value_codec.ts`), straight from the arena: the same bytes as
   * `writeValue(writer, readNode(offset, node))` without building the value, so a GET
   * answer costs no objects and no UTF-8 decoding and re-encoding of its strings.
   */
  encodeNode(offset: number, node: number, writer: ByteWriter): void {
    const view = this.#view;
    const word = view.getUint32(node, true);
    const kind = (word >>> KIND_SHIFT) & KIND_MASK;
    switch (kind) {
      case OBJECT:
      case INDEXED_OBJECT: {
        writer.u8(ValueTag.object);
        const first = this.#firstField(offset, node);
        if (first !== 0) {
          for (let child = offset + first;; child += NODE_BYTES) {
            const childWord = view.getUint32(child, true);
            writer.varintString(this.#names.name(childWord & NAME_MASK));
            this.encodeNode(offset, child, writer);
            if ((childWord & LAST_SIBLING) !== 0) break;
          }
        }
        writer.u8(OBJECT_END);
        return;
      }
      case INT:
        writeInt(writer, view.getInt32(node + 4, true));
        return;
      case WIDE_INT:
        writeInt(writer, view.getFloat64(offset + view.getUint32(node + 4, true), true));
        return;
      case FLOAT:
        writer.u8(ValueTag.float);
        writer.f64(view.getFloat64(offset + view.getUint32(node + 4, true), true));
        return;
      case STRING: {
        // The arena keeps a string as the wire does: a LEB128 length, then its UTF-8.
        const at = offset + view.getUint32(node + 4, true);
        let end = at;
        let length = 0;
        for (let shift = 0;; shift += 7) {
          const byte = this.#bytes[end++];
          length += (byte & 0x7f) * 2 ** shift;
          if (byte < 0x80) break;
        }
        writer.u8(ValueTag.string);
        writer.copy(this.#bytes, at, end + length);
        return;
      }
      default: {
        const length = kind - INLINE_STRING;
        invariant(length >= 0 && length <= MAX_INLINE_STRING_BYTES, "node kinds are valid");
        writer.u8(ValueTag.string);
        writer.u8(length);
        writer.copy(this.#bytes, node + 4, node + 4 + length);
      }
    }
  }

  /** Frees the block at `offset`: its names are released and its bytes become garbage. */
  release(offset: number): void {
    const blockBytes = this.#view.getUint32(offset, true);
    invariant(this.#view.getInt32(offset + 4, true) !== DEAD, "a block is released once");
    this.#releaseNames(offset, offset + ROOT_NODE);
    this.#view.setInt32(offset + 4, DEAD, true);
    this.#garbage += blockBytes;
    if (this.#garbage >= MIN_GARBAGE_TO_COMPACT && this.#garbage * 2 > this.#end) this.#compact();
  }

  /** Undoes the latest {@link write}, whose block no key points at: names and bytes are freed. */
  abandon(offset: number): void {
    const blockBytes = this.#view.getUint32(offset, true);
    invariant(
      offset + blockBytes === this.#end && this.#view.getInt32(offset + 4, true) === UNOWNED,
      "only the latest, unowned block can be abandoned",
    );
    this.#releaseNames(offset, offset + ROOT_NODE);
    this.#end = offset;
  }

  /** Checks that blocks tile the arena and garbage adds up. For tests. */
  checkInvariants(liveOwners: number): void {
    let garbage = 0;
    let owners = 0;
    let position = 0;
    while (position < this.#end) {
      const blockBytes = this.#view.getUint32(position, true);
      assert(blockBytes >= HEADER_BYTES + NODE_BYTES);
      if (this.#view.getInt32(position + 4, true) === DEAD) garbage += blockBytes;
      else owners++;
      position += blockBytes;
    }
    assert.equal(position, this.#end);
    assert.equal(garbage, this.#garbage);
    assert.equal(owners, liveOwners);
  }

  #measureValue(value: Value, depth: number): void {
    if (value === null || typeof value !== "object") throw new TypeError("not a Value");
    switch (value.kind) {
      case "string": {
        if (typeof value.value !== "string") throw new TypeError("string value is not a string");
        if (!value.value.isWellFormed()) throw new TypeError("string value has a lone surrogate");
        const length = utf8Length(value.value);
        if (length > MAX_INLINE_STRING_BYTES) {
          this.#measuredDataBytes += varintLength(length) + length;
        }
        this.#checkSize();
        return;
      }
      case "int":
        if (!Number.isSafeInteger(value.value)) throw new RangeError("int is not a safe integer");
        if (value.value < INT32_MIN || value.value > INT32_MAX) this.#measuredDataBytes += 8;
        return;
      case "float":
        if (typeof value.value !== "number" || !Number.isFinite(value.value)) {
          throw new RangeError("float is not a finite number");
        }
        this.#measuredDataBytes += 8;
        return;
      case "object": {
        if (depth > MAX_NESTING_DEPTH) {
          throw new RangeError(`value nested deeper than ${MAX_NESTING_DEPTH} levels`);
        }
        const fields = value.fields;
        if (!Array.isArray(fields)) throw new TypeError("object fields are not an array");
        this.#measuredNodes += fields.length;
        this.#measuredDataBytes += this.#indexBytes(fields.length);
        this.#checkSize();
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i];
          if (!Array.isArray(field) || field.length !== 2) throw new TypeError("malformed field");
          checkStoredName(field[0], "field name");
          this.#measureValue(field[1], depth + 1);
        }
        return;
      }
      default:
        throw new TypeError(`unknown value kind: ${(value as { kind: unknown }).kind}`);
    }
  }

  /**
   * Validates the encoded value at the read position and counts its nodes and data
   * bytes, leaving the position just past it. `depth` is its nesting level, 1 for the
   * record's value.
   */
  #measureEncoded(depth: number): void {
    const tag = this.#readByte("value tag");
    switch (tag) {
      case ValueTag.string: {
        const length = this.#readVarint("string length");
        // Its UTF-8 is checked as it is copied, in the write pass.
        this.#skip(length, "string value");
        if (length > MAX_INLINE_STRING_BYTES) {
          this.#measuredDataBytes += varintLength(length) + length;
          this.#checkSize();
        }
        return;
      }
      case ValueTag.int:
      case ValueTag.negativeInt: {
        const magnitude = this.#readVarint("int value");
        if (tag === ValueTag.negativeInt && magnitude === 0) {
          throw new DecodeError("negative int with magnitude 0");
        }
        const value = tag === ValueTag.int ? magnitude : -magnitude;
        if (value < INT32_MIN || value > INT32_MAX) this.#measuredDataBytes += 8;
        return;
      }
      case ValueTag.float: {
        const at = this.#skip(8, "float value");
        // Read from the exponent bits, all ones only for infinities and NaN: no double made.
        if ((this.#in[at] & 0x7f) === 0x7f && (this.#in[at + 1] & 0xf0) === 0xf0) {
          throw new DecodeError(`float value ${readFloat64(this.#in, at)} is not finite`);
        }
        this.#measuredDataBytes += 8;
        return;
      }
      case ValueTag.object: {
        if (depth > MAX_NESTING_DEPTH) {
          throw new LimitExceededError(
            `value nests deeper than the limit of ${MAX_NESTING_DEPTH}`,
          );
        }
        const ordinal = this.#objectCount++;
        let fieldCount = 0;
        while (true) {
          const nameLength = this.#readVarint("field name length");
          if (nameLength === 0) break;
          if (nameLength > MAX_KEY_BYTES) {
            throw new LimitExceededError(
              `field name is ${nameLength} bytes, over the limit of ${MAX_KEY_BYTES}`,
            );
          }
          // Its bytes are checked when it is interned, in the write pass.
          this.#skip(nameLength, "field name");
          this.#measureEncoded(depth + 1);
          fieldCount++;
          this.#measuredNodes++;
          this.#checkSize();
        }
        this.#measuredDataBytes += this.#indexBytes(fieldCount);
        this.#checkSize();
        if (ordinal >= this.#objectFieldCounts.length) {
          const grown = new Uint32Array(this.#objectFieldCounts.length * 2);
          grown.set(this.#objectFieldCounts);
          this.#objectFieldCounts = grown;
        }
        this.#objectFieldCounts[ordinal] = fieldCount;
        return;
      }
      default:
        throw new DecodeError(`unknown value tag 0x${tag.toString(16).padStart(2, "0")}`);
    }
  }

  /**
   * Fills node `node` (its name and last flag already set) with the encoded value at
   * the read position, which {@link RecordArena.#measureEncoded} validated.
   */
  #writeEncodedValue(block: number, node: number): void {
    const word = this.#view.getUint32(node, true);
    const tag = this.#in[this.#at++];
    switch (tag) {
      case ValueTag.string:
        return this.#writeEncodedString(block, node, word);
      case ValueTag.int:
      case ValueTag.negativeInt:
        return this.#writeEncodedInt(block, node, word, tag === ValueTag.negativeInt);
      case ValueTag.float:
        return this.#writeEncodedFloat(block, node, word);
      default:
        invariant(tag === ValueTag.object, "measured values have known tags");
        return this.#writeEncodedObject(block, node);
    }
  }

  /** {@link RecordArena.#writeEncodedValue} for a string: inline when short, else in the data. */
  #writeEncodedString(block: number, node: number, word: number): void {
    const view = this.#view;
    const bytes = this.#bytes;
    const source = this.#in;
    const length = this.#readVarint("string length");
    const at = this.#at;
    this.#at += length;
    if (length <= MAX_INLINE_STRING_BYTES) {
      view.setUint32(node + 4, 0, true);
      let high = 0;
      for (let i = 0; i < length; i++) high |= bytes[node + 4 + i] = source[at + i];
      if (high >= 0x80) checkUtf8String(source, at, length);
      view.setUint32(node, word | ((INLINE_STRING + length) << KIND_SHIFT), true);
      return;
    }
    view.setUint32(node, word | (STRING << KIND_SHIFT), true);
    view.setUint32(node + 4, this.#dataCursor - block, true);
    const dataAt = writeVarint(bytes, this.#dataCursor, length);
    if (copyBytes(source, at, bytes, dataAt, length) >= 0x80) {
      checkUtf8String(source, at, length);
    }
    this.#dataCursor = dataAt + length;
  }

  /** {@link RecordArena.#writeEncodedValue} for an int: in the node when 32 bits hold it. */
  #writeEncodedInt(block: number, node: number, word: number, negative: boolean): void {
    const view = this.#view;
    const magnitude = this.#readVarint("int value");
    const value = negative ? -magnitude : magnitude;
    if (value >= INT32_MIN && value <= INT32_MAX) {
      view.setUint32(node, word | (INT << KIND_SHIFT), true);
      view.setInt32(node + 4, value, true);
    } else {
      view.setUint32(node, word | (WIDE_INT << KIND_SHIFT), true);
      this.#writeFloat(block, node, value);
    }
  }

  /** {@link RecordArena.#writeEncodedValue} for a float: its 8 bytes go in the data. */
  #writeEncodedFloat(block: number, node: number, word: number): void {
    const bytes = this.#bytes;
    const source = this.#in;
    this.#view.setUint32(node, word | (FLOAT << KIND_SHIFT), true);
    this.#view.setUint32(node + 4, this.#dataCursor - block, true);
    // The wire's big-endian bytes, reversed into the arena's little-endian order.
    for (let i = 0; i < 8; i++) bytes[this.#dataCursor + i] = source[this.#at + 7 - i];
    this.#dataCursor += 8;
    this.#at += 8;
  }

  /**
   * {@link RecordArena.#writeEncodedValue} for an object: its fields' nodes, side by
   * side in the slots, each filled in turn, then an index when there are many.
   */
  #writeEncodedObject(block: number, node: number): void {
    const view = this.#view;
    const source = this.#in;
    const fieldCount = this.#objectFieldCounts[this.#objectCursor++];
    // Kind OBJECT is 0: the word is already right.
    if (fieldCount === 0) {
      view.setUint32(node + 4, 0, true);
      this.#at++; // the end marker
      return;
    }
    const first = this.#slotCursor;
    this.#slotCursor += fieldCount * NODE_BYTES;
    view.setUint32(node + 4, first - block, true);
    for (let index = 0; index < fieldCount; index++) {
      const nameLength = this.#readVarint("field name length");
      const id = this.#names.acquireUtf8(source, this.#at, nameLength);
      this.#noteAcquired(id);
      this.#at += nameLength;
      const child = first + index * NODE_BYTES;
      if (fieldCount <= LINEAR_SCAN_MAX_FIELDS) this.#refuseRepeat(first, child, id);
      const last = index === fieldCount - 1 ? LAST_SIBLING : 0;
      view.setUint32(child, (last | id) >>> 0, true);
      this.#writeEncodedValue(block, child);
    }
    if (fieldCount > LINEAR_SCAN_MAX_FIELDS) {
      this.#writeFieldIndex(block, node, first, fieldCount);
    }
    this.#at++; // the end marker
  }

  /**
   * Remembers a name id taken by the write in progress, to release should it fail. A
   * typed array with a count, not an array emptied per record: an array cut back by
   * setting its length gives up its storage, so every record allocated it anew.
   */
  #noteAcquired(id: number): void {
    if (this.#acquiredCount === this.#acquired.length) {
      const grown = new Int32Array(this.#acquired.length * 2);
      grown.set(this.#acquired);
      this.#acquired = grown;
    }
    this.#acquired[this.#acquiredCount++] = id;
  }

  /** Reads one byte of the encoded input. */
  #readByte(what: string): number {
    this.#skip(1, what);
    return this.#in[this.#at - 1];
  }

  /** Moves the read position past `count` bytes and returns where they start. */
  #skip(count: number, what: string): number {
    const at = this.#at;
    if (count > this.#inEnd - at) {
      throw new DecodeError(
        `truncated ${what} at byte ${at}: needs ${count} bytes, ${this.#inEnd - at} left`,
      );
    }
    this.#at = at + count;
    return at;
  }

  /** Reads the varint at the cursor (see readVarint) and moves past it. */
  #readVarint(what: string): number {
    const value = readVarint(this.#in, this.#at, this.#inEnd, what);
    this.#at += value < 0x80 ? 1 : varintLength(value);
    return value;
  }

  /** Throws when a sibling node in `[first, node)` already has name `id`. */
  #refuseRepeat(first: number, node: number, id: number): void {
    for (let sibling = first; sibling < node; sibling += NODE_BYTES) {
      if ((this.#view.getUint32(sibling, true) & NAME_MASK) === id) this.#duplicate(id);
    }
  }

  #duplicate(id: number): never {
    throw new DecodeError(`duplicate field name '${this.#names.name(id)}'`);
  }

  /** Fails early on huge inputs instead of after walking all of them. */
  #checkSize(): void {
    if (this.#measuredNodes * NODE_BYTES + this.#measuredDataBytes > MAX_RECORD_BLOCK_BYTES) {
      throw new LimitExceededError(`record too large: over ${MAX_RECORD_BLOCK_BYTES} bytes`);
    }
  }

  /** Fills node `node` (its name and last flag already set) with `value`. */
  #writeValue(block: number, node: number, value: Value): void {
    const view = this.#view;
    const word = view.getUint32(node, true);
    switch (value.kind) {
      case "string": {
        const text = value.value;
        const length = utf8Length(text);
        if (length <= MAX_INLINE_STRING_BYTES) {
          view.setUint32(node + 4, 0, true);
          writeUtf8(text, this.#bytes, node + 4);
          view.setUint32(node, word | ((INLINE_STRING + length) << KIND_SHIFT), true);
          return;
        }
        view.setUint32(node, word | (STRING << KIND_SHIFT), true);
        view.setUint32(node + 4, this.#dataCursor - block, true);
        const at = writeVarint(this.#bytes, this.#dataCursor, length);
        this.#dataCursor = writeUtf8(text, this.#bytes, at);
        return;
      }
      case "int":
        if (value.value >= INT32_MIN && value.value <= INT32_MAX) {
          view.setUint32(node, word | (INT << KIND_SHIFT), true);
          view.setInt32(node + 4, value.value, true);
        } else {
          view.setUint32(node, word | (WIDE_INT << KIND_SHIFT), true);
          this.#writeFloat(block, node, value.value);
        }
        return;
      case "float":
        view.setUint32(node, word | (FLOAT << KIND_SHIFT), true);
        this.#writeFloat(block, node, value.value);
        return;
      case "object": {
        const fields = value.fields;
        // Kind OBJECT is 0: the word is already right.
        if (fields.length === 0) {
          view.setUint32(node + 4, 0, true);
          return;
        }
        const first = this.#slotCursor;
        this.#slotCursor += fields.length * NODE_BYTES;
        view.setUint32(node + 4, first - block, true);
        this.#nameFields(first, fields);
        for (let i = 0; i < fields.length; i++) {
          this.#writeValue(block, first + i * NODE_BYTES, fields[i][1]);
        }
        if (fields.length > LINEAR_SCAN_MAX_FIELDS) {
          this.#writeFieldIndex(block, node, first, fields.length);
        }
        return;
      }
    }
  }

  /** Interns the names of one object's fields into their nodes, refusing duplicates. */
  #nameFields(first: number, fields: readonly Field[]): void {
    this.#stamp++;
    if (this.#stamp === 0xffff_ffff) {
      this.#stamps.fill(0);
      this.#stamp = 1;
    }
    for (let i = 0; i < fields.length; i++) {
      const id = this.#names.acquire(fields[i][0]);
      this.#noteAcquired(id);
      if (id >= this.#stamps.length) {
        const stamps = new Uint32Array(Math.max(id + 1, this.#stamps.length * 2));
        stamps.set(this.#stamps);
        this.#stamps = stamps;
      }
      if (this.#stamps[id] === this.#stamp) {
        throw new RangeError(`duplicate field name: ${JSON.stringify(fields[i][0])}`);
      }
      this.#stamps[id] = this.#stamp;
      const last = i === fields.length - 1 ? LAST_SIBLING : 0;
      this.#view.setUint32(first + i * NODE_BYTES, (last | id) >>> 0, true);
    }
  }

  #writeFloat(block: number, node: number, value: number): void {
    this.#view.setUint32(node + 4, this.#dataCursor - block, true);
    this.#view.setFloat64(this.#dataCursor, value, true);
    this.#dataCursor += 8;
  }

  #readNode(block: number, node: number): Value {
    const view = this.#view;
    const word = view.getUint32(node, true);
    const kind = (word >>> KIND_SHIFT) & KIND_MASK;
    switch (kind) {
      case OBJECT:
      case INDEXED_OBJECT: {
        const first = this.#firstField(block, node);
        const fields: Field[] = [];
        if (first === 0) return { kind: "object", fields };
        for (let child = block + first;; child += NODE_BYTES) {
          const childWord = view.getUint32(child, true);
          fields.push([this.#names.name(childWord & NAME_MASK), this.#readNode(block, child)]);
          if ((childWord & LAST_SIBLING) !== 0) return { kind: "object", fields };
        }
      }
      case INT:
        return { kind: "int", value: view.getInt32(node + 4, true) };
      case WIDE_INT:
        return {
          kind: "int",
          value: view.getFloat64(block + view.getUint32(node + 4, true), true),
        };
      case FLOAT:
        return {
          kind: "float",
          value: view.getFloat64(block + view.getUint32(node + 4, true), true),
        };
      case STRING: {
        const at = block + view.getUint32(node + 4, true);
        const length = readVarint(this.#bytes, at, this.#bytes.length, "stored string length");
        return { kind: "string", value: readUtf8(this.#bytes, at + varintLength(length), length) };
      }
      default: {
        const length = kind - INLINE_STRING;
        invariant(length >= 0 && length <= MAX_INLINE_STRING_BYTES, "node kinds are valid");
        return { kind: "string", value: readUtf8(this.#bytes, node + 4, length) };
      }
    }
  }

  #releaseNames(block: number, node: number): void {
    const view = this.#view;
    const first = this.#firstField(block, node);
    if (first === 0) return;
    for (let child = block + first;; child += NODE_BYTES) {
      const word = view.getUint32(child, true);
      this.#names.release(word & NAME_MASK);
      this.#releaseNames(block, child);
      if ((word & LAST_SIBLING) !== 0) return;
    }
  }

  #reserve(bytes: number): void {
    const needed = this.#end + bytes;
    if (needed <= this.#bytes.length) return;
    if (needed > MAX_ARENA_BYTES) throw new LimitExceededError("record arena is full");
    this.#resize(Math.min(MAX_ARENA_BYTES, Math.max(needed, this.#bytes.length * 2)));
  }

  #resize(capacity: number): void {
    invariant(capacity >= this.#end, "a resize keeps every block");
    this.#bytes = new Uint8Array(resized(this.#bytes, capacity));
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Slides live blocks down over garbage, in place, and shrinks a mostly empty arena. */
  #compact(): void {
    let target = 0;
    let position = 0;
    while (position < this.#end) {
      const blockBytes = this.#view.getUint32(position, true);
      const owner = this.#view.getInt32(position + 4, true);
      if (owner !== DEAD) {
        invariant(owner !== UNOWNED, "compaction meets only owned or dead blocks");
        if (position !== target) {
          this.#bytes.copyWithin(target, position, position + blockBytes);
          this.#onMove(owner, target);
        }
        target += blockBytes;
      }
      position += blockBytes;
    }
    this.#end = target;
    this.#garbage = 0;
    if (this.#bytes.length > 4 * Math.max(MIN_ARENA_BYTES, this.#end)) {
      this.#resize(Math.max(MIN_ARENA_BYTES, 2 * this.#end));
    }
  }
}

/**
 * Checks a record key or field name given as a string before it is stored: the one key
 * rule (`checkKey`), and well-formed UTF-16, since the trie stores UTF-8 and a lone
 * surrogate would come back as U+FFFD. Throws a DecodeError (LimitExceededError for
 * the length).
 *
 * @example
 * ```ts
 * checkStoredName("person1", "record key"); // fine
 * ```
 */
export function checkStoredName(name: string, what: string): void {
  checkKey(name, what);
  checkWellFormed(name, what);
}

/**
 * Throws a DecodeError when `name` has a lone surrogate, which UTF-8 cannot hold.
 *
 * @example
 * ```ts
 * checkWellFormed("\ud800", "field name"); // throws
 * ```
 */
export function checkWellFormed(name: string, what: string): void {
  if (!name.isWellFormed()) throw new DecodeError(`${what} has a lone surrogate, not valid UTF-8`);
}

/**
 * Copies `length` bytes, short runs by hand (cheaper than a subarray and `set`), and
 * returns the bitwise or of the bytes: 0x80 or more when any is not ASCII.
 */
function copyBytes(
  source: Uint8Array,
  from: number,
  target: Uint8Array,
  to: number,
  length: number,
): number {
  let high = 0;
  if (length > MANUAL_COPY_MAX_BYTES) {
    target.set(source.subarray(from, from + length), to);
    for (let i = from; i < from + length; i++) high |= source[i];
    return high;
  }
  for (let i = 0; i < length; i++) high |= target[to + i] = source[from + i];
  return high;
}

/** Throws unless the string value `source[at, at + length)` is well-formed UTF-8. */
function checkUtf8String(source: Uint8Array, at: number, length: number): void {
  if (!isWellFormedUtf8(source, at, at + length)) {
    throw new DecodeError("string value is not valid UTF-8");
  }
}
