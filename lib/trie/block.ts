/**
 * The layout of a record block, and {@link BlockBuilder}, which lays one out: what the
 * record arena (`arena.ts`) reads and what both of its writers — from a decoded Value
 * (`value_writer.ts`) and from wire bytes (`encoded_writer.ts`) — write.
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
 * plain copy.
 *
 * @example
 * ```ts
 * import { BlockBuilder, blockBytes } from "./block.ts";
 * import { FieldNames } from "./names.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const size = blockBytes(1, 0); // one node, no data: 16 bytes
 * const bytes = new Uint8Array(size);
 * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, 1);
 * builder.int(root, 42);
 * builder.finish();
 * ```
 * @module
 */
import { LimitExceededError, varintLength, writeVarint } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { writeUtf8 } from "../base/utf8.ts";
import type { FieldNames } from "./names.ts";
import { duplicateFieldName } from "../record/value_codec.ts";

/** Largest encoded record block: a bound far above any frame the protocol accepts. */
export const MAX_RECORD_BLOCK_BYTES = 256 * 1024 * 1024;

/** Bytes of a block's header: its length and its owner. */
export const HEADER_BYTES = 8;
/** Bytes of a field node: its word and its payload. */
export const NODE_BYTES = 8;
/** Block-relative offset of the record's own value node. */
export const ROOT_NODE: number = HEADER_BYTES;

/** Owner field of a block being written, before the key trie points at it (node 0 is the root). */
export const UNOWNED = 0;
/** Owner field of a deleted or overwritten block. */
export const DEAD: number = -1;

/** Flag of the last of an object's field nodes. */
export const LAST_SIBLING = 0x8000_0000;
/** Where a node word keeps its kind, KIND_MASK wide. */
export const KIND_SHIFT = 27;
/** The kind bits of a node word, once shifted down by KIND_SHIFT. */
export const KIND_MASK = 0xf;
/** The name id bits of a node word. */
export const NAME_MASK = (1 << KIND_SHIFT) - 1;

/** Kind of an object node of at most LINEAR_SCAN_MAX_FIELDS fields (0: a fresh node is one). */
export const OBJECT = 0;
/** Kind of an int node whose value fits the payload's int32. */
export const INT = 1;
/** Kind of an int node beyond int32, its value a float64 in the data. */
export const WIDE_INT = 2;
/** Kind of a float node, its value in the data. */
export const FLOAT = 3;
/** Kind of a string node of more than MAX_INLINE_STRING_BYTES, its bytes in the data. */
export const STRING = 4;
/** Kinds INLINE_STRING + n hold a string of n ≤ MAX_INLINE_STRING_BYTES UTF-8 bytes in the payload. */
export const INLINE_STRING = 5;
/** Longest string kept in a node's payload. */
export const MAX_INLINE_STRING_BYTES = 4;
/**
 * An object of more than LINEAR_SCAN_MAX_FIELDS fields: its payload is the offset of a
 * field index in the data area — u32 first child offset, u32 field count, then each
 * field's position among its siblings (u32), sorted by name id — so that a lookup by
 * name is a binary search, not a walk of every field.
 */
export const INDEXED_OBJECT = 10;
/** Bytes of a field index besides its positions: first child offset and count. */
export const INDEX_HEADER_BYTES = 8;
/** Bytes per field in a field index. */
export const INDEX_ENTRY_BYTES = 4;
/** Sort keys pack name id × POSITION_RANGE + position: positions stay below it. */
const POSITION_RANGE = 2 ** 26;

/**
 * Objects with more fields than this get a field index (see INDEXED_OBJECT), which also
 * finds duplicate names; smaller ones are scanned, for lookups and duplicates alike.
 */
export const LINEAR_SCAN_MAX_FIELDS = 16;

/** Smallest int kept in a node's payload. */
export const INT32_MIN: number = -(2 ** 31);
/** Largest int kept in a node's payload. */
export const INT32_MAX = 2 ** 31 - 1;

/** Strings up to this many bytes are copied into the arena by hand. */
const MANUAL_COPY_MAX_BYTES = 64;

/**
 * Bytes of the field index an object of `fieldCount` fields needs (0 below the threshold).
 *
 * @example
 * ```ts
 * indexBytes(3); // 0
 * indexBytes(20); // 88
 * ```
 */
export function indexBytes(fieldCount: number): number {
  return fieldCount > LINEAR_SCAN_MAX_FIELDS
    ? INDEX_HEADER_BYTES + fieldCount * INDEX_ENTRY_BYTES
    : 0;
}

/**
 * Data bytes a string of `length` UTF-8 bytes takes outside its node (0 when inline).
 *
 * @example
 * ```ts
 * stringDataBytes(4); // 0
 * stringDataBytes(5); // 6
 * ```
 */
export function stringDataBytes(length: number): number {
  return length > MAX_INLINE_STRING_BYTES ? varintLength(length) + length : 0;
}

/**
 * Data bytes an int takes outside its node: 8 beyond int32, else none.
 *
 * @example
 * ```ts
 * intDataBytes(2 ** 40); // 8
 * ```
 */
export function intDataBytes(value: number): number {
  return value < INT32_MIN || value > INT32_MAX ? 8 : 0;
}

/**
 * The size of a block of `nodes` nodes and `dataBytes` of data; a LimitExceededError
 * when it is over MAX_RECORD_BLOCK_BYTES. Measuring calls it as it goes, so a huge
 * input fails early rather than after all of it was walked.
 *
 * @example
 * ```ts
 * blockBytes(2, 8); // 8 + 2 × 8 + 8 = 32
 * ```
 */
export function blockBytes(nodes: number, dataBytes: number): number {
  const bytes = HEADER_BYTES + nodes * NODE_BYTES + dataBytes;
  if (bytes > MAX_RECORD_BLOCK_BYTES) {
    throw new LimitExceededError(`record too large: ${bytes} > ${MAX_RECORD_BLOCK_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Writes one block, node by node, exactly as it was measured: the slots of each
 * object's fields are taken in the order the writer meets objects, out-of-line data
 * is appended behind the nodes. Keeps the name ids it interned so that a write that
 * fails can give them back ({@link BlockBuilder.abort}). The writers validate their
 * input; the builder only asserts what it is given.
 *
 * @example
 * ```ts
 * import { FieldNames } from "./names.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const nodes = 2; // {"age": 3}: the object and its one field
 * const size = blockBytes(nodes, 0);
 * const bytes = new Uint8Array(size);
 * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, nodes);
 * const first = builder.object(root, 1);
 * builder.name(first, builder.acquire("age"), true);
 * builder.int(first, 3);
 * builder.endObject(root, first, 1);
 * builder.finish();
 * ```
 */
export class BlockBuilder {
  #names: FieldNames;
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#bytes.buffer);
  #block = 0;
  #blockBytes = 0;
  #nodes = 0;
  #slotCursor = 0;
  #dataCursor = 0;
  /** Name ids acquired by the write in progress, released again if it fails. */
  #acquired = new Int32Array(64);
  #acquiredCount = 0;

  /**
   * A builder with no block begun.
   *
   * @param names interns the field names of the blocks written.
   */
  constructor(names: FieldNames) {
    this.#names = names;
  }

  /**
   * Starts the block of `size` bytes and `nodes` nodes (as measured) at `block` of
   * `bytes` (`view` over the same buffer), owner unset, and returns its root node,
   * flagged last, to be filled.
   *
   * @example
   * ```ts
   * import { FieldNames } from "./names.ts";
   * const builder = new BlockBuilder(new FieldNames());
   * const size = blockBytes(1, 0); // one node, no data
   * const bytes = new Uint8Array(size);
   * const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, 1);
   * builder.int(root, 42); // the root holds the record's value
   * builder.finish();
   * ```
   */
  begin(bytes: Uint8Array, view: DataView, block: number, size: number, nodes: number): number {
    this.#bytes = bytes;
    this.#view = view;
    this.#block = block;
    this.#blockBytes = size;
    this.#nodes = nodes;
    this.#acquiredCount = 0;
    view.setUint32(block, size, true);
    view.setInt32(block + 4, UNOWNED, true);
    const root = block + ROOT_NODE;
    view.setUint32(root, LAST_SIBLING, true);
    this.#slotCursor = root + NODE_BYTES;
    this.#dataCursor = block + HEADER_BYTES + nodes * NODE_BYTES;
    return root;
  }

  /**
   * Ends the block, asserting that it was written exactly as measured.
   *
   * @example
   * ```ts ignore
   * const root = builder.begin(bytes, view, block, size, nodes);
   * // … fill the root and the nodes under it …
   * builder.finish(); // throws when the nodes or data written differ from the measure
   * ```
   */
  finish(): void {
    invariant(
      this.#slotCursor === this.#block + HEADER_BYTES + this.#nodes * NODE_BYTES &&
        this.#dataCursor === this.#block + this.#blockBytes,
      "a block is written exactly as measured",
    );
    this.#acquiredCount = 0;
  }

  /**
   * Gives back the names the failed write acquired: the names are as before it.
   *
   * @example
   * ```ts ignore
   * // As RecordArena.write does when a value turns out invalid halfway:
   * const root = builder.begin(bytes, view, block, size, nodes);
   * try {
   *   valueWriter.write(root, value);
   * } catch (error) {
   *   builder.abort(); // the names acquired so far are released
   *   throw error;
   * }
   * ```
   */
  abort(): void {
    for (let i = 0; i < this.#acquiredCount; i++) this.#names.release(this.#acquired[i]);
    this.#acquiredCount = 0;
  }

  /**
   * Interns the field name `name` for the write in progress (released by
   * {@link BlockBuilder.abort}) and returns its id.
   *
   * @example
   * ```ts ignore
   * const first = builder.object(root, 1);
   * builder.name(first, builder.acquire("age"), true);
   * builder.int(first, 22);
   * ```
   */
  acquire(name: string): number {
    return this.#noteAcquired(this.#names.acquire(name));
  }

  /**
   * {@link BlockBuilder.acquire} for a name given as UTF-8, `source[at, at + length)`.
   *
   * @example
   * ```ts ignore
   * // A field name straight from the wire bytes: no string unless the name is new.
   * const id = builder.acquireUtf8(source, reader.skip(length), length);
   * builder.name(child, id, last);
   * ```
   */
  acquireUtf8(source: Uint8Array, at: number, length: number): number {
    return this.#noteAcquired(this.#names.acquireUtf8(source, at, length));
  }

  /**
   * Remembers a name id taken by the write in progress, to release should it fail. A
   * typed array with a count, not an array emptied per record: an array cut back by
   * setting its length gives up its storage, so every record allocated it anew.
   */
  #noteAcquired(id: number): number {
    if (this.#acquiredCount === this.#acquired.length) {
      const grown = new Int32Array(this.#acquired.length * 2);
      grown.set(this.#acquired);
      this.#acquired = grown;
    }
    this.#acquired[this.#acquiredCount++] = id;
    return id;
  }

  /**
   * Makes `node` an object of `fieldCount` fields: takes the slots of its field nodes
   * and returns the first (0 for `{}`). Fill each with {@link BlockBuilder.name} and a
   * value, then call {@link BlockBuilder.endObject}.
   *
   * @example
   * ```ts ignore
   * // { "age" : 22 } at the root: one field node, named, then filled.
   * const first = builder.object(root, 1);
   * builder.name(first, builder.acquire("age"), true);
   * builder.int(first, 22);
   * builder.endObject(root, first, 1);
   * ```
   */
  object(node: number, fieldCount: number): number {
    // Kind OBJECT is 0: the word is already right.
    if (fieldCount === 0) {
      this.#view.setUint32(node + 4, 0, true);
      return 0;
    }
    const first = this.#slotCursor;
    this.#slotCursor += fieldCount * NODE_BYTES;
    this.#view.setUint32(node + 4, first - this.#block, true);
    return first;
  }

  /**
   * Ends the object at `node` whose `fieldCount` fields start at `first`: a wide one
   * gets its field index, which refuses a repeated name (a DecodeError).
   *
   * @example
   * ```ts ignore
   * const first = builder.object(node, fields.length);
   * // … name and fill each field node from `first` on …
   * builder.endObject(node, first, fields.length); // a wide object gets its field index here
   * ```
   */
  endObject(node: number, first: number, fieldCount: number): void {
    if (fieldCount > LINEAR_SCAN_MAX_FIELDS) this.#writeFieldIndex(node, first, fieldCount);
  }

  /**
   * Names field node `child`, flagged `last` or not; its value comes next.
   *
   * @example
   * ```ts ignore
   * builder.name(first, builder.acquire("age"), true); // the object's only, so last, field
   * builder.int(first, 22);
   * ```
   */
  name(child: number, id: number, last: boolean): void {
    this.#view.setUint32(child, ((last ? LAST_SIBLING : 0) | id) >>> 0, true);
  }

  /**
   * Throws a DecodeError when a sibling node in `[first, child)` already has name `id`:
   * how a small object finds a repeat (a wide one's index finds it).
   *
   * @example
   * ```ts ignore
   * // `{ a: 1; a: 2 }`: the second field's name is already a sibling's
   * builder.refuseRepeat(first, first + NODE_BYTES, names.acquire("a")); // throws a DecodeError
   * ```
   */
  refuseRepeat(first: number, child: number, id: number): void {
    for (let sibling = first; sibling < child; sibling += NODE_BYTES) {
      if ((this.#view.getUint32(sibling, true) & NAME_MASK) === id) this.#duplicate(id);
    }
  }

  #duplicate(id: number): never {
    return duplicateFieldName(this.#names.name(id));
  }

  /**
   * Fills `node` with the string `text` of `length` UTF-8 bytes.
   *
   * @example
   * ```ts ignore
   * builder.string(node, "Mary", utf8Length("Mary")); // 4 bytes: inline in the node
   * ```
   */
  string(node: number, text: string, length: number): void {
    const view = this.#view;
    const word = view.getUint32(node, true);
    if (length <= MAX_INLINE_STRING_BYTES) {
      view.setUint32(node + 4, 0, true);
      writeUtf8(text, this.#bytes, node + 4);
      view.setUint32(node, word | ((INLINE_STRING + length) << KIND_SHIFT), true);
      return;
    }
    view.setUint32(node, word | (STRING << KIND_SHIFT), true);
    view.setUint32(node + 4, this.#dataCursor - this.#block, true);
    const at = writeVarint(this.#bytes, this.#dataCursor, length);
    this.#dataCursor = writeUtf8(text, this.#bytes, at);
  }

  /**
   * Fills `node` with the string whose UTF-8 is `source[at, at + length)` and returns
   * the bitwise or of its bytes, 0x80 or more when any is not ASCII: the caller, who
   * knows whether they were checked, checks them then.
   *
   * @example
   * ```ts ignore
   * // From the wire encoding: check the bytes as UTF-8 only when some are not ASCII.
   * if (builder.stringUtf8(node, source, at, length) >= 0x80) checkUtf8String(source, at, length);
   * ```
   */
  stringUtf8(node: number, source: Uint8Array, at: number, length: number): number {
    const view = this.#view;
    const bytes = this.#bytes;
    const word = view.getUint32(node, true);
    if (length <= MAX_INLINE_STRING_BYTES) {
      view.setUint32(node + 4, 0, true);
      const high = copyNotingHighBits(source, at, bytes, node + 4, length);
      view.setUint32(node, word | ((INLINE_STRING + length) << KIND_SHIFT), true);
      return high;
    }
    view.setUint32(node, word | (STRING << KIND_SHIFT), true);
    view.setUint32(node + 4, this.#dataCursor - this.#block, true);
    const dataAt = writeVarint(bytes, this.#dataCursor, length);
    this.#dataCursor = dataAt + length;
    return copyNotingHighBits(source, at, bytes, dataAt, length);
  }

  /**
   * Fills `node` with the safe integer `value`: in the node when 32 bits hold it.
   *
   * @example
   * ```ts ignore
   * builder.int(node, 22); // in the node itself
   * builder.int(node, 2 ** 40); // its 8 bytes in the block's data
   * ```
   */
  int(node: number, value: number): void {
    const view = this.#view;
    const word = view.getUint32(node, true);
    if (value >= INT32_MIN && value <= INT32_MAX) {
      view.setUint32(node, word | (INT << KIND_SHIFT), true);
      view.setInt32(node + 4, value, true);
    } else {
      view.setUint32(node, word | (WIDE_INT << KIND_SHIFT), true);
      this.#data64(node, value);
    }
  }

  /**
   * Fills `node` with the finite float `value`, whose 8 bytes go in the data.
   *
   * @example
   * ```ts ignore
   * builder.float(node, 1.75);
   * ```
   */
  float(node: number, value: number): void {
    this.#view.setUint32(node, this.#view.getUint32(node, true) | (FLOAT << KIND_SHIFT), true);
    this.#data64(node, value);
  }

  #data64(node: number, value: number): void {
    this.#view.setUint32(node + 4, this.#dataCursor - this.#block, true);
    this.#view.setFloat64(this.#dataCursor, value, true);
    this.#dataCursor += 8;
  }

  /**
   * Writes the field index of the object at `node`, whose `count` fields start at node
   * `first`, and makes `node` an INDEXED_OBJECT. Throws a DecodeError, naming it, when a
   * field name repeats: sorting finds that too.
   */
  #writeFieldIndex(node: number, first: number, count: number): void {
    const view = this.#view;
    const keys = new Float64Array(count);
    for (let position = 0; position < count; position++) {
      const id = view.getUint32(first + position * NODE_BYTES, true) & NAME_MASK;
      keys[position] = id * POSITION_RANGE + position;
    }
    keys.sort();
    const index = this.#dataCursor;
    view.setUint32(index, first - this.#block, true);
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
    view.setUint32(node + 4, index - this.#block, true);
  }
}

/**
 * Copies `length` bytes, short runs by hand (cheaper than a subarray and `set`), and
 * returns the bitwise or of the bytes: 0x80 or more when any is not ASCII. Base's
 * copyBytes, which returns where the copy ends, serves copies that need no such check.
 */
function copyNotingHighBits(
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
