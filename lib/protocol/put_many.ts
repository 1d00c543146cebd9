/**
 * The items of a PUT_MANY request: many PUTs in one frame, which a bulk load
 * sends instead of one frame per record. One frame for up to 65 536 records
 * (the broker sends a few hundred at a time) spares both ends a request object,
 * a response frame and a pending entry per record, which were most of a bulk
 * load's cost beside parsing and storing. The item layout and the rules of the
 * answer are the "PUT_MANY" section of [docs/protocol.md](../../docs/protocol.md).
 *
 * @example
 * ```ts
 * import { PutManyItems, readPutManyItems } from "./put_many.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int } from "../record/value.ts";
 * const items = new PutManyItems();
 * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
 * const bounds = readPutManyItems(items.bytes(), 0, items.itemCount);
 * bounds.keyStart(0); // 5: after the flags byte and the key length
 * ```
 * @module
 */
import { ByteWriter, checkCountFits, DecodeError, LimitExceededError } from "../base/bytes.ts";
import { type Version, VERSION_BYTES, writeVersion } from "../record/version.ts";
import { WRITE_FLAG_REPAIR } from "./mod.ts";

/** Most items one PUT_MANY may carry. */
export const MAX_PUT_MANY_ITEMS = 65_536;

/** Bytes an item takes besides its key and value: flags, key length, version, value length. */
export const PUT_MANY_ITEM_OVERHEAD_BYTES: number = 9 + VERSION_BYTES;

/** PUT flag bit, of a PUT and of a PUT_MANY item: refuse to store when the key exists. */
export const PUT_FLAG_IF_ABSENT = 0x01;

/** Every flag bit a PUT or a PUT_MANY item may set. */
export const PUT_FLAGS = PUT_FLAG_IF_ABSENT | WRITE_FLAG_REPAIR;

/**
 * Builds the item list of one PUT_MANY. Reuse it with {@link PutManyItems.reset}.
 *
 * @example
 * ```ts
 * import { encodeValue } from "../record/value_codec.ts";
 * import { str } from "../record/value.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 * const frames = new FrameWriter();
 * const encoded = encodeValue(str("Mary"));
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * const items = new PutManyItems();
 * items.add("person1", encoded, version);
 * frames.putMany(1, items.itemCount, items.bytes());
 * items.reset();
 * ```
 */
export class PutManyItems {
  readonly #out: ByteWriter;
  readonly #version = new Uint8Array(VERSION_BYTES);
  #itemCount = 0;

  /**
   * An empty batch, its buffer growing as items are added.
   *
   * @param capacity initial buffer size in bytes; default 64 KiB.
   */
  constructor(capacity: number = 64 * 1024) {
    this.#out = new ByteWriter(capacity);
  }

  /** Items added since the last reset. */
  get itemCount(): number {
    return this.#itemCount;
  }

  /** Bytes of the items added since the last reset. */
  get byteLength(): number {
    return this.#out.length;
  }

  /**
   * Appends a PUT of `key` with `encodedValue` (copied) at `version`; `overwrite`
   * defaults to true and `repair` to false. Throws a RangeError past
   * {@link MAX_PUT_MANY_ITEMS} or for an invalid version. The key and value are not
   * checked here: the server refuses a bad item alone.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int, str } from "../record/value.ts";
   * const version = { ms: Date.now(), counter: 0, broker: 1 };
   * const items = new PutManyItems();
   * items.add("a", encodeValue(int(1)), version);
   * items.add("b", encodeValue(str("x")), version, { overwrite: false });
   * items.itemCount; // 2
   * ```
   */
  add(
    key: string,
    encodedValue: Uint8Array,
    version: Version,
    options?: { overwrite?: boolean; repair?: boolean },
  ): void {
    if (this.#itemCount >= MAX_PUT_MANY_ITEMS) {
      throw new RangeError(`a PUT_MANY holds at most ${MAX_PUT_MANY_ITEMS} items`);
    }
    writeVersion(this.#version, 0, version);
    // No default object for `options`: this runs for every replica of every record.
    this.#out.u8(
      (options?.overwrite === false ? PUT_FLAG_IF_ABSENT : 0) |
        (options?.repair === true ? WRITE_FLAG_REPAIR : 0),
    );
    this.#out.string(key);
    this.#out.raw(this.#version);
    this.#out.u32(encodedValue.length);
    this.#out.raw(encodedValue);
    this.#itemCount++;
  }

  /**
   * The items as one view, valid until the next add or reset.
   *
   * @example
   * ```ts
   * import { FrameWriter } from "./frame_writer.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const items = new PutManyItems();
   * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
   * const frames = new FrameWriter();
   * frames.putMany(12, items.itemCount, items.bytes());
   * ```
   */
  bytes(): Uint8Array {
    return this.#out.bytes();
  }

  /**
   * Forgets every item, keeping the buffer.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const items = new PutManyItems();
   * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
   * items.reset();
   * items.itemCount; // 0: ready for the next batch
   * ```
   */
  reset(): void {
    this.#out.reset();
    this.#itemCount = 0;
  }
}

/**
 * Where each item of a PUT_MANY body lies: offsets into the body, one typed-array
 * entry per item, so that reading a batch makes no object per item.
 *
 * @example
 * ```ts
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int } from "../record/value.ts";
 * const items = new PutManyItems();
 * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
 * const body = items.bytes();
 * const bounds = readPutManyItems(body, 0, items.itemCount);
 * const value = body.subarray(bounds.valueStart(0), bounds.valueEnd(0));
 * ```
 */
export interface PutManyBounds {
  /** Items in the batch. */
  readonly itemCount: number;
  /** Whether item `index` asks to refuse an existing key. */
  ifAbsent(index: number): boolean;
  /** Whether item `index` is a repair copy (acknowledged when stale). */
  repair(index: number): boolean;
  /** Offset of item `index`'s key bytes. */
  keyStart(index: number): number;
  /** Offset just past item `index`'s key bytes, where its version starts. */
  keyEnd(index: number): number;
  /** Offset of item `index`'s 12 version bytes (lib/record/version.ts). */
  versionStart(index: number): number;
  /** Offset of item `index`'s value. */
  valueStart(index: number): number;
  /** Offset just past item `index`'s value. */
  valueEnd(index: number): number;
}

/**
 * Checks the framing of `itemCount` items in `body` from `start` to its end (1 to
 * {@link MAX_PUT_MANY_ITEMS} items, known flags, every length within the body, no
 * bytes left over) and returns where each item lies. Keys and values themselves are
 * checked by whoever stores them. Throws a DecodeError (LimitExceededError for too
 * many items) before anything is applied: a batch is refused whole or read whole.
 *
 * @example
 * ```ts
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int } from "../record/value.ts";
 * const items = new PutManyItems();
 * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
 * const body = items.bytes();
 * const bounds = readPutManyItems(body, 0, items.itemCount);
 * for (let index = 0; index < bounds.itemCount; index++) bounds.valueStart(index);
 * ```
 */
export function readPutManyItems(
  body: Uint8Array,
  start: number,
  itemCount: number,
): PutManyBounds {
  if (itemCount === 0) throw new DecodeError("PUT_MANY with no items");
  if (itemCount > MAX_PUT_MANY_ITEMS) {
    throw new LimitExceededError(
      `PUT_MANY has ${itemCount} items, over the limit of ${MAX_PUT_MANY_ITEMS}`,
    );
  }
  // Each item takes at least its fixed overhead.
  checkCountFits(
    itemCount,
    PUT_MANY_ITEM_OVERHEAD_BYTES,
    body.length - start,
    "PUT_MANY item count",
  );
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  // Per item: the flags offset and the value offset and end; the key lies between.
  const offsets = new Uint32Array(itemCount * 3);
  let at = start;
  for (let index = 0; index < itemCount; index++) {
    if (body.length - at < PUT_MANY_ITEM_OVERHEAD_BYTES) {
      throw new DecodeError(`PUT_MANY item ${index} is truncated`);
    }
    const flags = body[at];
    if ((flags & ~PUT_FLAGS) !== 0) {
      throw new DecodeError(
        `unknown PUT flags 0x${flags.toString(16).padStart(2, "0")} in PUT_MANY item ${index}`,
      );
    }
    const keyBytes = view.getUint32(at + 1);
    if (keyBytes > body.length - at - PUT_MANY_ITEM_OVERHEAD_BYTES) {
      throw new DecodeError(`PUT_MANY item ${index}: key of ${keyBytes} bytes is truncated`);
    }
    const valueStart = at + PUT_MANY_ITEM_OVERHEAD_BYTES + keyBytes;
    const valueBytes = view.getUint32(valueStart - 4);
    if (valueBytes > body.length - valueStart) {
      throw new DecodeError(`PUT_MANY item ${index}: value of ${valueBytes} bytes is truncated`);
    }
    offsets[index * 3] = at;
    offsets[index * 3 + 1] = valueStart;
    offsets[index * 3 + 2] = valueStart + valueBytes;
    at = valueStart + valueBytes;
  }
  if (at !== body.length) {
    throw new DecodeError(`${body.length - at} unexpected bytes after the PUT_MANY items`);
  }
  return {
    itemCount,
    ifAbsent: (index) => (body[offsets[index * 3]] & PUT_FLAG_IF_ABSENT) !== 0,
    repair: (index) => (body[offsets[index * 3]] & WRITE_FLAG_REPAIR) !== 0,
    keyStart: (index) => offsets[index * 3] + 5,
    keyEnd: (index) => offsets[index * 3 + 1] - 4 - VERSION_BYTES,
    versionStart: (index) => offsets[index * 3 + 1] - 4 - VERSION_BYTES,
    valueStart: (index) => offsets[index * 3 + 1],
    valueEnd: (index) => offsets[index * 3 + 2],
  };
}
