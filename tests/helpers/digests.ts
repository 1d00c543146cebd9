/**
 * The partition digest table as docs/protocol.md defines it, computed plainly (BigInt,
 * one entry at a time) from a model of what a server holds, for tests to compare with
 * the table a trie keeps incrementally (lib/trie/partition_digests.ts).
 *
 * @example
 * ```ts
 * const { counts, tombstones, digests } = referenceDigests(new Map([["a", { version, tombstone: false }]]));
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";
import type { PartitionDigestTable } from "../../lib/trie/partition_digests.ts";
import { type Version, writeVersion } from "../../lib/record/version.ts";

/** One FNV-1a-32 pass over `bytes` from `basis`. */
function fnv1a(bytes: Uint8Array, basis: number): number {
  let h = basis;
  for (const byte of bytes) h = Math.imul(h ^ byte, 0x0100_0193) >>> 0;
  return h;
}

/** MurmurHash3's 32-bit finaliser, written out again. */
function finalise(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** An entry of a model: what a server should hold under a key. */
export interface ModelEntry {
  version: Version;
  tombstone: boolean;
}

/**
 * A partition digest table as plain arrays, one element per partition.
 *
 * @example
 * ```ts
 * const table: ReferenceDigests = referenceDigests(new Map());
 * ```
 */
export interface ReferenceDigests {
  /** Entries (records and tombstones) per partition. */
  counts: number[];
  /** Tombstones per partition. */
  tombstones: number[];
  /** The XOR of the entries' 64-bit hashes per partition. */
  digests: bigint[];
}

/**
 * The documented table for `entries`: entry counts, tombstone counts and digests per
 * partition.
 *
 * @example
 * ```ts
 * referenceDigests(new Map()).counts[0]; // 0
 * ```
 */
export function referenceDigests(
  entries: ReadonlyMap<string, ModelEntry>,
): ReferenceDigests {
  const counts = new Array<number>(PARTITION_COUNT).fill(0);
  const tombstones = new Array<number>(PARTITION_COUNT).fill(0);
  const digests = new Array<bigint>(PARTITION_COUNT).fill(0n);
  for (const [key, entry] of entries) {
    const keyBytes = new TextEncoder().encode(key);
    const partition = finalise(fnv1a(keyBytes, 0x811c_9dc5)) >>> 20;
    const bytes = new Uint8Array(keyBytes.length + 13);
    bytes.set(keyBytes);
    writeVersion(bytes, keyBytes.length, entry.version);
    bytes[keyBytes.length + 12] = entry.tombstone ? 0 : 1;
    const low = finalise(fnv1a(bytes, 0x811c_9dc5));
    const high = finalise(fnv1a(bytes, 0x9e37_79b9));
    counts[partition]++;
    if (entry.tombstone) tombstones[partition]++;
    digests[partition] ^= (BigInt(high) << 32n) | BigInt(low);
  }
  return { counts, tombstones, digests };
}

/**
 * Asserts that `table` holds `expected`, partition by partition, naming the first
 * partition and field that differ.
 *
 * @example
 * ```ts
 * assertTableIs(trie.partitionDigests, referenceDigests(model));
 * ```
 */
export function assertTableIs(table: PartitionDigestTable, expected: ReferenceDigests): void {
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    assert.equal(table.count(partition), expected.counts[partition], `count of ${partition}`);
    assert.equal(
      table.tombstones(partition),
      expected.tombstones[partition],
      `tombstones of ${partition}`,
    );
    assert.equal(table.digest(partition), expected.digests[partition], `digest of ${partition}`);
  }
}
