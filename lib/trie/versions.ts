/**
 * The version column of the record trie: the {@link Version} of each key's newest
 * write, 12 bytes per key node in one Uint32Array (three words a node: the u64
 * hybrid clock split in a high and a low word, then the broker id), indexed by the
 * key node as the radix trie's own columns are. Terminal node indices are stable
 * for a key's whole life (radix.ts), so a version never moves.
 *
 * @example
 * ```ts
 * import { VersionColumn } from "./versions.ts";
 * const column = new VersionColumn();
 * column.set(5, { ms: 1000, counter: 2, broker: 7 });
 * column.get(5); // { ms: 1000, counter: 2, broker: 7 }
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { type ByteWriter, readU32 } from "../base/bytes.ts";
import { isValidVersion, type Version } from "../record/version.ts";
import { resized } from "./radix.ts";

/** Words per node: clock high (ms >> 16), clock low (ms & 0xFFFF, counter), broker. */
const WORDS = 3;

/** Nodes the column holds before its first growth. */
const INITIAL_NODES = 1024;

/** 2¹⁶: the counter's share of the u64 clock. */
const COUNTER_RANGE = 0x1_0000;

/**
 * Versions by key node; a node never given one reads as all zero (the base version).
 *
 * @example
 * ```ts
 * import { BASE_VERSION } from "../record/version.ts";
 * const column = new VersionColumn();
 * column.compare(3, BASE_VERSION); // 0
 * ```
 */
export class VersionColumn {
  #words = new Uint32Array(INITIAL_NODES * WORDS);

  /** Bytes held (capacity). */
  get memoryBytes(): number {
    return this.#words.byteLength;
  }

  /**
   * Sets node `node`'s version.
   *
   * @example
   * ```ts
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.get(5); // { ms: 1000, counter: 2, broker: 7 }
   * ```
   */
  set(node: number, version: Version): void {
    invariant(isValidVersion(version), "versions are validated before they are stored");
    this.#reserve(node);
    const at = node * WORDS;
    this.#words[at] = Math.floor(version.ms / COUNTER_RANGE);
    this.#words[at + 1] = ((version.ms % COUNTER_RANGE) * COUNTER_RANGE + version.counter) >>> 0;
    this.#words[at + 2] = version.broker;
  }

  /**
   * Sets node `node`'s version from the 12 bytes of one at `source[offset]` (record/version.ts).
   *
   * @example
   * ```ts
   * import { VERSION_BYTES, writeVersion } from "../record/version.ts";
   * const bytes = new Uint8Array(VERSION_BYTES);
   * writeVersion(bytes, 0, { ms: 1000, counter: 3, broker: 7 });
   * const column = new VersionColumn();
   * column.setBytes(6, bytes, 0);
   * column.get(6); // { ms: 1000, counter: 3, broker: 7 }
   * ```
   */
  setBytes(node: number, source: Uint8Array, offset: number): void {
    this.#reserve(node);
    const at = node * WORDS;
    this.#words[at] = readU32(source, offset);
    this.#words[at + 1] = readU32(source, offset + 4);
    this.#words[at + 2] = readU32(source, offset + 8);
  }

  /**
   * Node `node`'s version.
   *
   * @example
   * ```ts
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.get(5); // { ms: 1000, counter: 2, broker: 7 }
   * column.get(6); // { ms: 0, counter: 0, broker: 0 }: never set, the base version
   * ```
   */
  get(node: number): Version {
    const at = node * WORDS;
    if (at >= this.#words.length) return { ms: 0, counter: 0, broker: 0 };
    const low = this.#words[at + 1];
    return {
      ms: this.#words[at] * COUNTER_RANGE + (low >>> 16),
      counter: low & 0xffff,
      broker: this.#words[at + 2],
    };
  }

  /**
   * Word `index` (0–2) of node `node`'s version: the big-endian u32s of its 12 bytes,
   * read without making a Version (the partition digests hash them on every write).
   *
   * @example
   * ```ts
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.word(5, 0); // 0: ms >> 16
   * column.word(5, 1); // 65536002: (ms & 0xffff) << 16 | counter
   * column.word(5, 2); // 7: the broker
   * ```
   */
  word(node: number, index: number): number {
    const at = node * WORDS + index;
    return at < this.#words.length ? this.#words[at] : 0;
  }

  /**
   * Appends node `node`'s version to `writer` as its 12 bytes (record/version.ts), straight
   * from the column's words: what a read's answer carries, without making a Version.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { readVersion } from "../record/version.ts";
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * const writer = new ByteWriter();
   * column.writeInto(5, writer);
   * readVersion(writer.bytes(), 0); // { ms: 1000, counter: 2, broker: 7 }
   * ```
   */
  writeInto(node: number, writer: ByteWriter): void {
    for (let index = 0; index < WORDS; index++) writer.u32(this.word(node, index));
  }

  /**
   * The `ms` of node `node`'s version: when, by its writer's clock, the write was made.
   *
   * @example
   * ```ts
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.ms(5); // 1000
   * ```
   */
  ms(node: number): number {
    const at = node * WORDS;
    if (at >= this.#words.length) return 0;
    return this.#words[at] * COUNTER_RANGE + (this.#words[at + 1] >>> 16);
  }

  /**
   * Negative, 0 or positive as node `node`'s version is older than, equal to or newer
   * than `version`.
   *
   * @example
   * ```ts
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.compare(5, { ms: 1000, counter: 3, broker: 0 }) < 0; // true: an older version
   * ```
   */
  compare(node: number, version: Version): number {
    const at = node * WORDS;
    if (at >= this.#words.length) return version.ms || version.counter || version.broker ? -1 : 0;
    const high = Math.floor(version.ms / COUNTER_RANGE);
    const low = (version.ms % COUNTER_RANGE) * COUNTER_RANGE + version.counter;
    return (this.#words[at] - high) || (this.#words[at + 1] - low) ||
      (this.#words[at + 2] - version.broker);
  }

  /**
   * {@link compare} against the 12 bytes of a version at `source[offset]`.
   *
   * @example
   * ```ts
   * import { VERSION_BYTES, writeVersion } from "../record/version.ts";
   * const bytes = new Uint8Array(VERSION_BYTES);
   * writeVersion(bytes, 0, { ms: 1000, counter: 3, broker: 7 });
   * const column = new VersionColumn();
   * column.set(5, { ms: 1000, counter: 2, broker: 7 });
   * column.compareBytes(5, bytes, 0); // < 0: node 5 holds the older version
   * ```
   */
  compareBytes(node: number, source: Uint8Array, offset: number): number {
    const at = node * WORDS;
    const high = readU32(source, offset);
    const low = readU32(source, offset + 4);
    const broker = readU32(source, offset + 8);
    if (at >= this.#words.length) return high || low || broker ? -1 : 0;
    return (this.#words[at] - high) || (this.#words[at + 1] - low) ||
      (this.#words[at + 2] - broker);
  }

  #reserve(node: number): void {
    const needed = (node + 1) * WORDS;
    if (needed <= this.#words.length) return;
    const capacity = Math.max(needed, this.#words.length * 2);
    this.#words = new Uint32Array(resized(this.#words, capacity));
  }
}
