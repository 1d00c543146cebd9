/**
 * Partition digests: for each of the {@link PARTITION_COUNT} partitions, how many entries
 * (records and tombstones) the trie holds there, how many of those are tombstones, and the
 * XOR of a 64-bit hash of each entry's (key bytes, version, kind). Two replicas holding the same entries of a partition
 * have equal digests, so repair compares 4096 numbers instead of every key. A version
 * names one write, so the value need not be hashed.
 *
 * The table is kept up to date on every change (XOR is its own inverse: an entry leaving
 * is XORed out as it was XORed in), so asking for it costs O(partitions): four
 * Uint32Arrays of 4096, 64 KiB in all whatever the record count, nothing per record. The
 * tombstone counts let repair find partitions whose replicas agree but still hold
 * tombstones to purge, without listing every partition.
 *
 * ## The entry hash, exactly
 *
 * Over the bytes `key ‖ version ‖ kind` — the key's UTF-8, the 12 version bytes
 * (lib/record/version.ts), then one byte, 1 for a record and 0 for a tombstone:
 *
 * - `low` = mix32(FNV-1a-32 of those bytes from the offset basis `0x811c9dc5`);
 * - `high` = mix32(FNV-1a-32 of those bytes from the offset basis `0x9e3779b9`);
 * - the hash is the u64 `high << 32 | low`.
 *
 * FNV-1a-32 is `h = (h ^ byte) × 0x01000193 mod 2^32` per byte and mix32 is MurmurHash3's
 * finaliser (lib/record/partition.ts). The key's own FNV-1a-32 from `0x811c9dc5`, mixed,
 * names its partition (top 12 bits), so one pass over the key serves both.
 *
 * @example
 * ```ts
 * import { PartitionDigestTable } from "./partition_digests.ts";
 * const table = new PartitionDigestTable();
 * const key = new TextEncoder().encode("person1");
 * table.toggle(key, key.length, 0, 0, 0, 1); // a record at the base version comes in
 * table.toggle(key, key.length, 0, 0, 0, 1); // …and leaves: everything is 0 again
 * ```
 * @module
 */
import { mix32, PARTITION_BITS, PARTITION_COUNT } from "../record/partition.ts";
import { FNV_OFFSET_BASIS, FNV_PRIME } from "../base/fnv.ts";

/** FNV-1a-32's offset basis: the low word's start, and the partition hash's. */
export const DIGEST_LOW_BASIS: number = FNV_OFFSET_BASIS;

/** The high word's offset basis (2^32 / φ), so the two words are independent hashes. */
export const DIGEST_HIGH_BASIS = 0x9e37_79b9;

/** The kind byte hashed for a record. */
export const DIGEST_KIND_RECORD = 1;

/** The kind byte hashed for a tombstone. */
export const DIGEST_KIND_TOMBSTONE = 0;

/**
 * One FNV-1a-32 step per byte of the big-endian u32 `word`, from `h`.
 */
function fnvWord(h: number, word: number): number {
  h = Math.imul(h ^ (word >>> 24), FNV_PRIME);
  h = Math.imul(h ^ ((word >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((word >>> 8) & 0xff), FNV_PRIME);
  return Math.imul(h ^ (word & 0xff), FNV_PRIME);
}

/**
 * Entry counts and digests of every partition, kept as entries come and go.
 *
 * @example
 * ```ts
 * const table = new PartitionDigestTable();
 * table.count(0); // 0
 * ```
 */
export class PartitionDigestTable {
  readonly #counts = new Uint32Array(PARTITION_COUNT);
  readonly #tombstones = new Uint32Array(PARTITION_COUNT);
  readonly #high = new Uint32Array(PARTITION_COUNT);
  readonly #low = new Uint32Array(PARTITION_COUNT);

  /** Bytes held: fixed, whatever the number of entries. */
  get memoryBytes(): number {
    return this.#counts.byteLength + this.#tombstones.byteLength + this.#high.byteLength +
      this.#low.byteLength;
  }

  /**
   * XORs the entry (the key `key[0, keyLength)`, the version whose three big-endian
   * words are `w0 w1 w2`, `kind`) into its partition's digest, and counts it in
   * (`delta` +1) or out (−1), among the partition's tombstones too when `kind` is
   * {@link DIGEST_KIND_TOMBSTONE}. No allocation: this runs for every write.
   *
   * @example
   * ```ts
   * const key = new TextEncoder().encode("person1");
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD); // person1 stored, base version
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD, -1); // and gone again
   * table.equals(new PartitionDigestTable()); // true: every count and digest is back to 0
   * ```
   */
  toggle(
    key: Uint8Array,
    keyLength: number,
    w0: number,
    w1: number,
    w2: number,
    kind: number,
    delta: 1 | -1 = 1,
  ): void {
    let low = DIGEST_LOW_BASIS;
    let high = DIGEST_HIGH_BASIS;
    for (let i = 0; i < keyLength; i++) {
      const byte = key[i];
      low = Math.imul(low ^ byte, FNV_PRIME);
      high = Math.imul(high ^ byte, FNV_PRIME);
    }
    // The key's own hash names the partition, as partitionOfBytes computes it.
    const partition = mix32(low) >>> (32 - PARTITION_BITS);
    low = fnvWord(fnvWord(fnvWord(low, w0), w1), w2);
    high = fnvWord(fnvWord(fnvWord(high, w0), w1), w2);
    low = Math.imul(low ^ kind, FNV_PRIME);
    high = Math.imul(high ^ kind, FNV_PRIME);
    this.#low[partition] ^= mix32(low);
    this.#high[partition] ^= mix32(high);
    this.#counts[partition] += delta;
    if (kind === DIGEST_KIND_TOMBSTONE) this.#tombstones[partition] += delta;
  }

  /**
   * Whether `other` holds the same counts, tombstone counts and digests in every partition.
   *
   * @example
   * ```ts
   * const key = new TextEncoder().encode("person1");
   * const a = new PartitionDigestTable();
   * const b = new PartitionDigestTable();
   * a.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD);
   * b.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_TOMBSTONE);
   * a.equals(b); // false: one holds the record, the other a tombstone of it
   * ```
   */
  equals(other: PartitionDigestTable): boolean {
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      if (
        this.#counts[partition] !== other.count(partition) ||
        this.#tombstones[partition] !== other.tombstones(partition) ||
        this.#high[partition] !== other.high(partition) ||
        this.#low[partition] !== other.low(partition)
      ) return false;
    }
    return true;
  }

  /**
   * Entries (records and tombstones) in `partition`.
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const key = new TextEncoder().encode("person1");
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD);
   * table.count(partitionOf("person1")); // 1
   * ```
   */
  count(partition: number): number {
    return this.#counts[partition];
  }

  /**
   * Tombstones in `partition` (counted among its {@link count} too).
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const key = new TextEncoder().encode("person1");
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_TOMBSTONE);
   * table.tombstones(partitionOf("person1")); // 1, and count(partition) is 1 too
   * ```
   */
  tombstones(partition: number): number {
    return this.#tombstones[partition];
  }

  /**
   * The high 32 bits of `partition`'s digest.
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const key = new TextEncoder().encode("person1");
   * const partition = partitionOf("person1"); // 2340
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD); // a record at the base version
   * table.high(partition); // 1636996719
   * ```
   */
  high(partition: number): number {
    return this.#high[partition];
  }

  /**
   * The low 32 bits of `partition`'s digest.
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const key = new TextEncoder().encode("person1");
   * const partition = partitionOf("person1"); // 2340
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD); // a record at the base version
   * table.low(partition); // 2869601088
   * ```
   */
  low(partition: number): number {
    return this.#low[partition];
  }

  /**
   * `partition`'s digest as a u64.
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const key = new TextEncoder().encode("person1");
   * const partition = partitionOf("person1"); // 2340
   * const table = new PartitionDigestTable();
   * table.toggle(key, key.length, 0, 0, 0, DIGEST_KIND_RECORD); // a record at the base version
   * table.digest(partition); // 7030847374633902912n: high << 32 | low
   * ```
   */
  digest(partition: number): bigint {
    return (BigInt(this.#high[partition]) << 32n) | BigInt(this.#low[partition]);
  }
}
