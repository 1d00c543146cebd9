/**
 * The record arena: where the record trie keeps each record's value as a sub-trie of
 * field nodes, packed into one contiguous block per record (laid out as `block.ts`
 * describes) inside a single byte arena. The arena appends blocks, reads them, and
 * frees them; its two writers fill a block from a decoded Value (`value_writer.ts`) or
 * from wire bytes (`encoded_writer.ts`).
 *
 * Deleted and overwritten blocks are garbage until more than half of the arena is
 * garbage; then live blocks slide down in place (amortized O(1) per byte freed): their
 * offsets are block-relative, so a plain copy moves them.
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
import {
  type ByteWriter,
  copyBytes,
  LimitExceededError,
  MAX_VARINT_BYTES,
  readVarint,
  varintLength,
  writeF64,
  writeVarint,
} from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { readUtf8 } from "../base/utf8.ts";
import type { Field, Value } from "../record/value.ts";
import { OBJECT_END, ValueTag } from "../record/value_codec.ts";
import {
  BlockBuilder,
  DEAD,
  FLOAT,
  HEADER_BYTES,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEXED_OBJECT,
  INLINE_STRING,
  INT,
  KIND_MASK,
  KIND_SHIFT,
  LAST_SIBLING,
  MAX_INLINE_STRING_BYTES,
  NAME_MASK,
  NODE_BYTES,
  OBJECT,
  ROOT_NODE,
  STRING,
  UNOWNED,
  WIDE_INT,
} from "./block.ts";
import { AnswerCache } from "./answer_cache.ts";
import { EncodedWriter } from "./encoded_writer.ts";
import type { FieldNames } from "./names.ts";
import { resized } from "./radix.ts";
import { ValueWriter } from "./value_writer.ts";

/** Largest arena: block offsets are u32 and 0xFFFFFFFF means "no value" in the key trie. */
export const MAX_ARENA_BYTES = 0xffff_fff0;

/** Arena garbage below this many bytes is never worth a compaction pass. */
const MIN_GARBAGE_TO_COMPACT = 64 * 1024;

/**
 * Most room an answer's encoding takes on the bound of RecordArena.#encodedBound; past
 * it, the encoding is measured first.
 */
const MAX_GUESSED_ROOM_BYTES = 64 * 1024;

/** Where a scalar is written to count its bytes: a tag, then at most 8 bytes. */
const SCALAR_SCRATCH = new Uint8Array(1 + MAX_VARINT_BYTES);

/** Writes an int's tag and varint (`value` a safe integer) at `out[at]`; returns the offset after them. */
function writeIntAt(out: Uint8Array, at: number, value: number): number {
  out[at] = value >= 0 ? ValueTag.int : ValueTag.negativeInt;
  return writeVarint(out, at + 1, Math.abs(value));
}

/** Arena capacity the arena starts with and never shrinks below. */
const MIN_ARENA_BYTES = 64 * 1024;

/**
 * Holds, reads, frees and compacts record blocks; see the module doc.
 *
 * @example
 * ```ts
 * import { FieldNames } from "./names.ts";
 * import { ByteRadixTrie } from "./radix.ts";
 * const trie = new ByteRadixTrie();
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
  #builder: BlockBuilder;
  #values: ValueWriter;
  #encoded: EncodedWriter;
  #answers: AnswerCache;

  /**
   * An empty arena.
   *
   * @param names interns the field names of written records.
   * @param onMove told the new offset of each live block that compaction moves.
   * @param answerCacheBytes the most bytes of answers {@link RecordArena.encodeRecord}
   *   keeps (`answer_cache.ts`); default ANSWER_CACHE_BYTES.
   */
  constructor(
    names: FieldNames,
    onMove: (owner: number, offset: number) => void,
    answerCacheBytes?: number,
  ) {
    this.#names = names;
    this.#onMove = onMove;
    this.#answers = new AnswerCache({ bytes: answerCacheBytes });
    this.#builder = new BlockBuilder(names);
    this.#values = new ValueWriter(this.#builder);
    this.#encoded = new EncodedWriter(this.#builder);
  }

  /** Bytes held by the arena (its capacity), its bookkeeping arrays and its kept answers. */
  get memoryBytes(): number {
    return this.#bytes.byteLength + this.#values.memoryBytes + this.#answers.memoryBytes;
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
   * Appends the block for `value` (owner unset) and returns its offset. Throws, leaving
   * the arena and the names unchanged, on invalid input (see {@link ValueWriter}).
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["age", int(3)]]));
   * arena.read(offset); // { kind: "object", fields: [["age", { kind: "int", value: 3 }]] }
   * ```
   */
  write(value: Value): number {
    const size = this.#values.measure(value);
    const root = this.#begin(size, this.#values.nodes);
    try {
      this.#values.write(root, value);
    } catch (error) {
      this.#builder.abort();
      throw error;
    }
    return this.#finish(size);
  }

  /**
   * Like {@link RecordArena.write} for a value in its wire encoding (lib/record/value_codec.ts):
   * `source[start, end)` must hold exactly one value, and no Value is made on the way.
   * Throws, changing nothing, a DecodeError when it is malformed or invalid and a
   * LimitExceededError when the record is too large (see {@link EncodedWriter}).
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const arena = new RecordArena(new FieldNames(), () => {});
   * arena.read(arena.writeEncoded(encodeValue(int(7)))); // { kind: "int", value: 7 }
   * ```
   */
  writeEncoded(source: Uint8Array, start = 0, end: number = source.length): number {
    const size = this.#encoded.measure(source, start, end);
    const root = this.#begin(size, this.#encoded.nodes);
    try {
      this.#encoded.write(root, source, start, end);
    } catch (error) {
      this.#builder.abort();
      throw error;
    }
    return this.#finish(size);
  }

  /** Makes room for a block of `size` bytes and `nodes` nodes and begins it; its root node. */
  #begin(size: number, nodes: number): number {
    this.#reserve(size);
    return this.#builder.begin(this.#bytes, this.#view, this.#end, size, nodes);
  }

  /** Ends the block begun last, of `size` bytes, and returns its offset. */
  #finish(size: number): number {
    this.#builder.finish();
    const block = this.#end;
    this.#end += size;
    return block;
  }

  /**
   * Records which key-trie node owns the block at `offset`.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(int(7));
   * arena.setOwner(offset, 5); // key node 5 holds it: a compaction tells onMove(5, newOffset)
   * ```
   */
  setOwner(offset: number, owner: number): void {
    invariant(owner > 0, "owners are non-root key nodes");
    this.#view.setInt32(offset + 4, owner, true);
  }

  /**
   * Decodes the whole record at `offset`.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * arena.read(arena.write(str("Mary"))); // { kind: "string", value: "Mary" }
   * ```
   */
  read(offset: number): Value {
    return this.#readNode(offset, offset + ROOT_NODE);
  }

  /**
   * The absolute position of the record's own value node, the start of a query walk.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["name", str("Mary")], ["address", object([["city", str("Oslo")]])]]));
   * arena.readNode(offset, arena.rootNode(offset)); // the whole record, as read(offset) gives it
   * ```
   */
  rootNode(offset: number): number {
    return offset + ROOT_NODE;
  }

  /**
   * The node of field `nameId` of the object at node `node` of the block at `offset`, or
   * −1 when that node is a scalar or has no such field. Scans a small object's fields and
   * binary-searches a wide one's field index: O(log fields) at worst.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["name", str("Mary")], ["address", object([["city", str("Oslo")]])]]));
   * const address = arena.childNode(offset, arena.rootNode(offset), names.find("address"));
   * const city = arena.childNode(offset, address, names.find("city"));
   * arena.readNode(offset, city); // { kind: "string", value: "Oslo" }
   * arena.childNode(offset, arena.rootNode(offset), names.find("city")); // -1: no such field there
   * ```
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

  /**
   * Whether node `node` is an object (`{}` included), not a scalar.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["age", int(22)]]));
   * arena.isObjectNode(arena.rootNode(offset)); // true
   * arena.isObjectNode(arena.childNode(offset, arena.rootNode(offset), names.find("age"))); // false
   * ```
   */
  isObjectNode(node: number): boolean {
    const kind = (this.#view.getUint32(node, true) >>> KIND_SHIFT) & KIND_MASK;
    return kind === OBJECT || kind === INDEXED_OBJECT;
  }

  /**
   * The names of the fields of the object at node `node` of the block at `offset`, in
   * the record's order; none for `{}` or a scalar. O(fields): for a query's miss, which
   * names a field the object has instead, not for reads.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["age", int(22)], ["name", int(0)]]));
   * arena.fieldNames(offset, arena.rootNode(offset)); // ["age", "name"]
   * ```
   */
  fieldNames(offset: number, node: number): string[] {
    const view = this.#view;
    const first = this.#firstField(offset, node);
    const fields: string[] = [];
    if (first === 0) return fields;
    for (let child = offset + first;; child += NODE_BYTES) {
      const word = view.getUint32(child, true);
      fields.push(this.#names.name(word & NAME_MASK));
      if ((word & LAST_SIBLING) !== 0) return fields;
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

  /**
   * Decodes the value at node `node` of the block at `offset`.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["name", str("Mary")], ["address", object([["city", str("Oslo")]])]]));
   * const address = arena.childNode(offset, arena.rootNode(offset), names.find("address"));
   * arena.readNode(offset, address); // { kind: "object", fields: [["city", { kind: "string", value: "Oslo" }]] }
   * ```
   */
  readNode(offset: number, node: number): Value {
    return this.#readNode(offset, node);
  }

  /**
   * Appends the value at node `node` of the block at `offset` to `writer` in the wire
   * encoding (`lib/record/value_codec.ts`), straight from the arena: the same bytes as
   * `writeValue(writer, readNode(offset, node))` without building the value, so a GET
   * answer costs no objects and no UTF-8 decoding and re-encoding of its strings.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { ByteWriter } from "../base/bytes.ts";
   * import { decodeValue } from "../record/value_codec.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["name", str("Mary")], ["address", object([["city", str("Oslo")]])]]));
   * const address = arena.childNode(offset, arena.rootNode(offset), names.find("address"));
   * const writer = new ByteWriter();
   * arena.encodeNode(offset, address, writer);
   * decodeValue(writer.bytes()); // { kind: "object", fields: [["city", { kind: "string", value: "Oslo" }]] }
   * ```
   */
  encodeNode(offset: number, node: number, writer: ByteWriter): void {
    // Room made once for the whole answer, then written with plain stores: making room
    // and counting it field by field was a fifth of a GET's encoding.
    const room = this.#encodedBound(offset, node);
    const out = writer.room(room);
    const start = writer.length;
    const end = this.#encodeAt(offset, node, out, start);
    invariant(end - start <= room, "an answer fits the room its bound made");
    writer.advance(end - start);
  }

  /**
   * Appends the whole record at `offset` to `writer` as {@link encodeNode} does, from
   * the answers kept (`answer_cache.ts`) when one is kept for it, else encoding it and
   * offering its answer to be kept: what a GET answers.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { ByteWriter } from "../base/bytes.ts";
   * import { decodeValue } from "../record/value_codec.ts";
   * import { int, object } from "../record/value.ts";
   * const arena = new RecordArena(new FieldNames(), () => {});
   * const offset = arena.write(object([["age", int(3)]]));
   * const writer = new ByteWriter();
   * arena.encodeRecord(offset, writer); // encoded, and offered
   * arena.encodeRecord(offset, writer); // encoded, and kept: offered again
   * arena.encodeRecord(offset, writer); // copied from what was kept
   * decodeValue(writer.bytes().subarray(0, writer.length / 3)); // { kind: "object", ... }
   * ```
   */
  encodeRecord(offset: number, writer: ByteWriter): void {
    if (this.#answers.copyInto(offset, writer)) return;
    const start = writer.length;
    this.encodeNode(offset, offset + ROOT_NODE, writer);
    this.#answers.offer(offset, writer.room(0), start, writer.length);
  }

  /**
   * At least as many bytes as {@link encodeNode} writes for node `node` of the block at
   * `offset`. Every node of the block takes its 8 bytes and, but the root, a name, and
   * no node's encoding outgrows its 8 bytes and its out-of-line data but by that name:
   * so the block's bytes plus a longest name per node bound it. When that bound is
   * large (long names somewhere in the store, a large record), the encoding is measured
   * exactly instead, rather than making megabytes of room for a few kilobytes.
   */
  #encodedBound(offset: number, node: number): number {
    const blockBytes = this.#view.getUint32(offset, true);
    const nodes = (blockBytes - HEADER_BYTES) / NODE_BYTES;
    const bound = blockBytes + Math.ceil(nodes) * this.#names.longestWire;
    return bound <= MAX_GUESSED_ROOM_BYTES ? bound : this.#encodedLength(offset, node);
  }

  /** The bytes {@link encodeNode} writes for node `node` of the block at `offset`, counted. */
  #encodedLength(offset: number, node: number): number {
    const view = this.#view;
    const kind = (view.getUint32(node, true) >>> KIND_SHIFT) & KIND_MASK;
    if (kind === STRING) {
      const from = offset + view.getUint32(node + 4, true);
      const length = readVarint(this.#bytes, from, this.#bytes.length, "stored string length");
      return 1 + varintLength(length) + length;
    }
    // Any other scalar is at most a tag and 8 bytes: written into scratch room to count it.
    if (kind !== OBJECT && kind !== INDEXED_OBJECT) {
      return this.#encodeAt(offset, node, SCALAR_SCRATCH, 0);
    }
    let length = 2; // the object's tag and its end
    const first = this.#firstField(offset, node);
    if (first === 0) return length;
    for (let child = offset + first;; child += NODE_BYTES) {
      const childWord = view.getUint32(child, true);
      length += this.#names.wireLength(childWord & NAME_MASK) +
        this.#encodedLength(offset, child);
      if ((childWord & LAST_SIBLING) !== 0) return length;
    }
  }

  /**
   * Writes node `node` of the block at `offset` into `out` at `at`, which has room for it
   * ({@link RecordArena.#encodedBound}); returns the offset just past it. Scalars, most
   * of a record, are written in the loop rather than by a recursive call, which V8 does
   * not inline; strings are copied as the arena keeps them, as the wire does: a LEB128
   * length, then the UTF-8.
   */
  #encodeAt(offset: number, node: number, out: Uint8Array, at: number): number {
    const view = this.#view;
    const word = view.getUint32(node, true);
    const kind = (word >>> KIND_SHIFT) & KIND_MASK;
    if (kind === OBJECT || kind === INDEXED_OBJECT) {
      out[at++] = ValueTag.object;
      const first = this.#firstField(offset, node);
      if (first !== 0) {
        const names = this.#names;
        for (let child = offset + first;; child += NODE_BYTES) {
          const childWord = view.getUint32(child, true);
          at = names.copyWire(childWord & NAME_MASK, out, at);
          const childKind = (childWord >>> KIND_SHIFT) & KIND_MASK;
          if (childKind === OBJECT || childKind === INDEXED_OBJECT) {
            at = this.#encodeAt(offset, child, out, at);
          } else if (childKind === INT) {
            at = writeIntAt(out, at, view.getInt32(child + 4, true));
          } else if (childKind >= INLINE_STRING) {
            at = this.#inlineStringAt(child, childKind, out, at);
          } else if (childKind === STRING) {
            at = this.#stringAt(offset + view.getUint32(child + 4, true), out, at);
          } else {
            at = this.#numberAt(offset, child, childKind, out, at);
          }
          if ((childWord & LAST_SIBLING) !== 0) break;
        }
      }
      out[at] = OBJECT_END;
      return at + 1;
    }
    if (kind === INT) return writeIntAt(out, at, view.getInt32(node + 4, true));
    if (kind >= INLINE_STRING) return this.#inlineStringAt(node, kind, out, at);
    if (kind === STRING) return this.#stringAt(offset + view.getUint32(node + 4, true), out, at);
    return this.#numberAt(offset, node, kind, out, at);
  }

  /** Writes the string kept in node `node`'s payload (its kind says its length) at `out[at]`. */
  #inlineStringAt(node: number, kind: number, out: Uint8Array, at: number): number {
    const length = kind - INLINE_STRING;
    invariant(length <= MAX_INLINE_STRING_BYTES, "node kinds are valid");
    const bytes = this.#bytes;
    out[at] = ValueTag.string;
    out[at + 1] = length;
    for (let i = 0; i < length; i++) out[at + 2 + i] = bytes[node + 4 + i];
    return at + 2 + length;
  }

  /** Writes the string kept at arena offset `from` (length, then UTF-8, as the wire) at `out[at]`. */
  #stringAt(from: number, out: Uint8Array, at: number): number {
    const bytes = this.#bytes;
    const length = readVarint(bytes, from, bytes.length, "stored string length");
    out[at] = ValueTag.string;
    return copyBytes(out, at + 1, bytes, from, from + varintLength(length) + length);
  }

  /** Writes the float or the int beyond int32 (kind `kind`) of node `node` at `out[at]`. */
  #numberAt(offset: number, node: number, kind: number, out: Uint8Array, at: number): number {
    const view = this.#view;
    const value = view.getFloat64(offset + view.getUint32(node + 4, true), true);
    if (kind === WIDE_INT) return writeIntAt(out, at, value);
    invariant(kind === FLOAT, "node kinds are valid");
    out[at] = ValueTag.float;
    return writeF64(out, at + 1, value);
  }

  /**
   * Frees the block at `offset`: its names are released and its bytes become garbage.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["zip", int(1)]]));
   * arena.release(offset); // the record was deleted
   * names.find("zip"); // -1: no record uses the name any more
   * arena.garbageBytes; // the block's bytes, until a compaction reclaims them
   * ```
   */
  release(offset: number): void {
    const blockBytes = this.#view.getUint32(offset, true);
    invariant(this.#view.getInt32(offset + 4, true) !== DEAD, "a block is released once");
    this.#releaseNames(offset, offset + ROOT_NODE);
    this.#view.setInt32(offset + 4, DEAD, true);
    this.#garbage += blockBytes;
    if (this.#garbage >= MIN_GARBAGE_TO_COMPACT && this.#garbage * 2 > this.#end) this.#compact();
  }

  /**
   * Undoes the latest {@link write}, whose block no key points at: names and bytes are freed.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * const offset = arena.write(object([["zip", int(1)]]));
   * arena.abandon(offset); // the key could not take it after all
   * names.find("zip"); // -1, and the arena ends where it did before the write
   * ```
   */
  abandon(offset: number): void {
    const blockBytes = this.#view.getUint32(offset, true);
    invariant(
      offset + blockBytes === this.#end && this.#view.getInt32(offset + 4, true) === UNOWNED,
      "only the latest, unowned block can be abandoned",
    );
    this.#releaseNames(offset, offset + ROOT_NODE);
    this.#end = offset;
  }

  /**
   * Checks that blocks tile the arena and garbage adds up. For tests.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * import { int, object, str } from "../record/value.ts";
   * const names = new FieldNames();
   * const arena = new RecordArena(names, () => {});
   * arena.setOwner(arena.write(int(7)), 1);
   * arena.checkInvariants(1); // returns: one live block, and the blocks tile the arena
   * ```
   */
  checkInvariants(liveOwners: number): void {
    let garbage = 0;
    let owners = 0;
    let position = 0;
    while (position < this.#end) {
      const blockBytes = this.#view.getUint32(position, true);
      invariant(blockBytes >= HEADER_BYTES + NODE_BYTES, `a block at ${position} is too small`);
      if (this.#view.getInt32(position + 4, true) === DEAD) garbage += blockBytes;
      else owners++;
      position += blockBytes;
    }
    invariant(position === this.#end, `the blocks end at ${position}, the arena at ${this.#end}`);
    invariant(garbage === this.#garbage, `garbage ${garbage}, counted ${this.#garbage}`);
    invariant(owners === liveOwners, `blocks owned ${owners}, live owners ${liveOwners}`);
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
    // Blocks move, and a new block may then take a kept answer's offset.
    this.#answers.clear();
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
