/**
 * A bounded cache of GET answers: the wire encoding of whole records, as
 * `RecordArena.encodeNode` writes them, keyed by the offset of the record's block in the
 * arena. A repeated GET of a record is then one copy of bytes instead of a walk of its
 * field nodes (which was about 38 % of a server's CPU per GET at 32 in flight).
 *
 * Why keying by block offset is safe: a block's bytes never change while it is live —
 * an overwrite writes a new block at a new offset and a delete leaves the key without
 * one, and the old block's bytes stay garbage, never reused, until a compaction. Only a
 * compaction moves blocks (and so lets a new block take an old one's offset), so the
 * arena clears the cache when it compacts. (`RecordArena.abandon` gives back only the
 * latest block, never owned by a key, so never answered.) Field names inside a cached
 * answer cannot change either: a live block holds a reference to each name id it uses.
 *
 * Which answers are kept: an answer is offered at every GET that missed, and kept at the
 * second offer of its block within a while (a table of recently offered blocks, one
 * slot per hash, says which), so that a store far larger than the cache, most of whose
 * GETs miss, does not copy every answer into it. Keeping every offer cost such a server
 * about 0.5 µs a GET (100 000 records read uniformly at 32 in flight).
 *
 * Layout: the answers are appended to one ring of bytes, made with its index at the first
 * answer kept (a server that answers no GET holds neither); an index of four-way sets
 * maps a block offset to its answer's position in the stream of bytes ever appended. An
 * answer is intact while no later answer has been written over it: its position is
 * within the ring's size of the stream's end. A new answer evicts the oldest of its
 * set's; answers longer than {@link MAX_CACHED_ANSWER_BYTES} are not kept, so one large
 * record cannot flush the ring.
 *
 * @example
 * ```ts
 * import { AnswerCache } from "./answer_cache.ts";
 * import { ByteWriter } from "../base/bytes.ts";
 * const cache = new AnswerCache();
 * cache.offer(64, new Uint8Array([2, 6]), 0, 2); // the answer of the block at 64: noted
 * cache.offer(64, new Uint8Array([2, 6]), 0, 2); // offered again: kept
 * const writer = new ByteWriter();
 * cache.copyInto(64, writer); // true: writer holds 2 6
 * cache.copyInto(96, writer); // false: nothing kept for that block
 * ```
 * @module
 */
import { type ByteWriter, copyBytes } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";

/**
 * Bytes of answers a record trie keeps, at most: 1 MiB holds some 3 000 answers of the
 * `kv gen -d 3 -l 8 -m 6` shape (343 bytes each).
 */
export const ANSWER_CACHE_BYTES = 1024 * 1024;

/** Longest answer kept: a larger record is encoded for every GET. */
export const MAX_CACHED_ANSWER_BYTES = 4096;

/** Index slots (a power of two): 4 096 answers at most, 64 KiB of index. */
export const ANSWER_CACHE_SLOTS = 4096;

/**
 * Slots a block offset may take (its set's). Blocks in a set fuller than that evict one
 * another and are encoded again: of 1 000 blocks of 250–450 bytes (simulated, three
 * draws), 5–28 fell in sets of more than four, 72–76 in sets of more than two.
 */
const WAYS = 4;

/** Bits of a block offset's hash that pick its set. */
const SET_BITS = Math.log2(ANSWER_CACHE_SLOTS / WAYS);

/**
 * Past this stream position the cache starts over: positions are doubles, exact only up
 * to 2^53, which answers written at 1 GB/s would reach in about a hundred days.
 */
const MAX_STREAM_POSITION = 2 ** 52;

/** Slots (a power of two) of the table of blocks offered once: 16 KiB. */
const OFFERED_SLOTS = 4096;

/** Bits of a block offset's hash that pick its slot in that table. */
const OFFERED_BITS = Math.log2(OFFERED_SLOTS);

/** Options for the {@link AnswerCache} constructor. */
export interface AnswerCacheOptions {
  /** Size of the ring of answers in bytes (0: keep none). Default {@link ANSWER_CACHE_BYTES}. */
  bytes?: number;
}

/**
 * Encoded answers by block offset; see the module doc.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "../base/bytes.ts";
 * import { int } from "../record/value.ts";
 * import { RecordArena } from "./arena.ts";
 * import { FieldNames } from "./names.ts";
 * const arena = new RecordArena(new FieldNames(), () => {});
 * const block = arena.write(int(3));
 * const cache = new AnswerCache({ bytes: 64 * 1024 });
 * const writer = new ByteWriter();
 * if (!cache.copyInto(block, writer)) {
 *   const start = writer.length;
 *   arena.encodeNode(block, arena.rootNode(block), writer);
 *   cache.offer(block, writer.room(0), start, writer.length);
 * }
 * ```
 */
export class AnswerCache {
  #capacity: number;
  /** The ring and the index are made when the first answer is kept. */
  #ring: Uint8Array | undefined;
  /** Each slot's block offset plus one; 0 for an empty slot. */
  #blocks = new Uint32Array(0);
  /** Each slot's answer: its position in the stream of bytes ever appended to the ring. */
  #starts = new Float64Array(0);
  #lengths = new Uint32Array(0);
  /** Bytes ever appended to the ring (with the tails skipped to keep answers whole). */
  #written = 0;
  /** Blocks offered once (offset plus one) by hash, made at the first offer. */
  #offered = new Uint32Array(0);

  /**
   * An empty cache of at most `options.bytes`, its tables made on first use.
   *
   * @param options see {@link AnswerCacheOptions}.
   */
  constructor(options: AnswerCacheOptions = {}) {
    this.#capacity = options.bytes ?? ANSWER_CACHE_BYTES;
    invariant(Number.isSafeInteger(this.#capacity) && this.#capacity >= 0, "a size in bytes");
  }

  /** Bytes held: the ring and the tables, once made. */
  get memoryBytes(): number {
    return this.#blocks.byteLength + this.#starts.byteLength + this.#lengths.byteLength +
      this.#offered.byteLength + (this.#ring?.byteLength ?? 0);
  }

  /**
   * Appends the answer kept for the block at `block` to `writer` and returns true;
   * false, writing nothing, when none is kept.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int } from "../record/value.ts";
   * import { RecordArena } from "./arena.ts";
   * import { FieldNames } from "./names.ts";
   * const arena = new RecordArena(new FieldNames(), () => {});
   * const block = arena.write(int(3));
   * const cache = new AnswerCache();
   * const writer = new ByteWriter();
   * if (!cache.copyInto(block, writer)) arena.encodeNode(block, arena.rootNode(block), writer);
   * ```
   */
  copyInto(block: number, writer: ByteWriter): boolean {
    const slot = this.#find(block);
    if (slot < 0) return false;
    const length = this.#lengths[slot];
    const from = this.#starts[slot] % this.#capacity;
    const out = writer.room(length);
    copyBytes(out, writer.length, this.#ring!, from, from + length);
    writer.advance(length);
    return true;
  }

  /**
   * Offers `source[start, end)` as the answer of the block at `block`, which is kept
   * when the block was offered recently (see the module doc) and the answer is no
   * longer than {@link MAX_CACHED_ANSWER_BYTES} nor than a quarter of the ring.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int } from "../record/value.ts";
   * import { RecordArena } from "./arena.ts";
   * import { FieldNames } from "./names.ts";
   * const arena = new RecordArena(new FieldNames(), () => {});
   * const block = arena.write(int(3));
   * const cache = new AnswerCache();
   * const writer = new ByteWriter();
   * const start = writer.length;
   * arena.encodeNode(block, arena.rootNode(block), writer);
   * cache.offer(block, writer.room(0), start, writer.length);
   * ```
   */
  offer(block: number, source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (length > MAX_CACHED_ANSWER_BYTES || length * 4 > this.#capacity) return;
    if (!this.#offeredBefore(block)) return;
    if (this.#written > MAX_STREAM_POSITION) {
      this.clear();
      this.#written = 0;
    }
    if (this.#ring === undefined) {
      this.#ring = new Uint8Array(this.#capacity);
      this.#blocks = new Uint32Array(ANSWER_CACHE_SLOTS);
      this.#starts = new Float64Array(ANSWER_CACHE_SLOTS);
      this.#lengths = new Uint32Array(ANSWER_CACHE_SLOTS);
    }
    let at = this.#written % this.#capacity;
    if (at + length > this.#capacity) {
      // An answer is kept in one piece: the ring's tail is skipped.
      this.#written += this.#capacity - at;
      at = 0;
    }
    const slot = this.#victim(block);
    this.#blocks[slot] = block + 1;
    this.#starts[slot] = this.#written;
    this.#lengths[slot] = length;
    copyBytes(this.#ring, at, source, start, end);
    this.#written += length;
  }

  /**
   * Drops every answer: blocks have moved.
   *
   * @example
   * ```ts
   * const cache = new AnswerCache();
   * cache.clear(); // a compaction slid the blocks down
   * ```
   */
  clear(): void {
    this.#blocks.fill(0);
    this.#offered.fill(0);
  }

  /** Whether the block at `block` was offered recently; notes it when not. */
  #offeredBefore(block: number): boolean {
    if (this.#offered.length === 0) this.#offered = new Uint32Array(OFFERED_SLOTS);
    const slot = Math.imul(block, 0x9e37_79b1) >>> (32 - OFFERED_BITS);
    if (this.#offered[slot] === block + 1) return true;
    this.#offered[slot] = block + 1;
    return false;
  }

  /** The slot holding an intact answer of the block at `block`, or −1. */
  #find(block: number): number {
    if (this.#ring === undefined) return -1;
    const first = setOf(block) * WAYS;
    const key = block + 1;
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.#blocks[slot] === key && this.#intact(slot)) return slot;
    }
    return -1;
  }

  /** The slot a new answer of the block at `block` takes: its own, a free one, or the oldest. */
  #victim(block: number): number {
    const first = setOf(block) * WAYS;
    const key = block + 1;
    let oldest = first;
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.#blocks[slot] === key || !this.#intact(slot)) return slot;
      if (this.#starts[slot] < this.#starts[oldest]) oldest = slot;
    }
    return oldest;
  }

  /** Whether the slot holds an answer no later one has been written over. */
  #intact(slot: number): boolean {
    return this.#blocks[slot] !== 0 && this.#starts[slot] >= this.#written - this.#capacity;
  }
}

/** The set of the block at `block`: a multiplicative hash, since offsets share low bits. */
function setOf(block: number): number {
  return Math.imul(block, 0x9e37_79b1) >>> (32 - SET_BITS);
}
