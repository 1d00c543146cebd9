/**
 * Partitions: every key belongs to one of {@link PARTITION_COUNT} partitions, the top
 * {@link PARTITION_BITS} bits of its hash. Brokers place whole partitions on servers
 * (every key of a partition has the same replicas), and servers keep a digest per
 * partition, so two replicas compare what they hold one partition at a time.
 *
 * The key hash is 32-bit FNV-1a over the key's UTF-8 bytes, strengthened by
 * MurmurHash3's 32-bit finaliser ({@link mix32}). Brokers hash key strings
 * ({@link hashKey}) and servers key bytes ({@link hashKeyBytes}); the two agree on
 * every valid key, which is what lets a broker and a server name the same partition.
 *
 * @example
 * ```ts
 * import { partitionOf, partitionOfBytes } from "./partition.ts";
 * partitionOf("person1") === partitionOfBytes(new TextEncoder().encode("person1")); // true
 * ```
 * @module
 */
import { FNV_OFFSET_BASIS, FNV_PRIME } from "../base/fnv.ts";

/**
 * Bits of a key's hash that name its partition. 4096 partitions spread keys over up
 * to a few hundred servers within a few percent of even, and a table of one digest
 * per partition (64 KiB with its counts) fits one frame.
 */
export const PARTITION_BITS = 12;

/** How many partitions there are: 2^{@link PARTITION_BITS}. */
export const PARTITION_COUNT = 1 << PARTITION_BITS;

/**
 * MurmurHash3's 32-bit finaliser: a bijection on 32-bit integers in which
 * every input bit flips each output bit with probability about one half.
 *
 * @example
 * ```ts
 * mix32(0); // 0
 * mix32(1) !== mix32(2); // true
 * ```
 */
export function mix32(value: number): number {
  let h = value;
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Hashes `text`'s UTF-8 bytes with FNV-1a (32-bit) and mixes the result with
 * {@link mix32}. Encodes on the fly, so no byte array is allocated per key.
 * Lone surrogates hash as U+FFFD, as TextEncoder would encode them.
 *
 * @example
 * ```ts
 * hashKey("person1") === hashKey("person1"); // true
 * ```
 */
export function hashKey(text: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      h = Math.imul(h ^ code, FNV_PRIME);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else {
        code = 0xfffd;
      }
    } else if (code >= 0xd800 && code <= 0xdfff) {
      code = 0xfffd;
    }
    if (code < 0x800) {
      h = Math.imul(h ^ (0xc0 | (code >> 6)), FNV_PRIME);
    } else if (code < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (code >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (code >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 12) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (code & 0x3f)), FNV_PRIME);
  }
  return mix32(h);
}

/**
 * {@link hashKey} over bytes `bytes[start, end)` already encoded as UTF-8: what a
 * server, which holds keys as bytes, computes. Equal to `hashKey` of the decoded text.
 *
 * @example
 * ```ts
 * hashKeyBytes(new TextEncoder().encode("person1")) === hashKey("person1"); // true
 * ```
 */
export function hashKeyBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return mix32(h);
}

/**
 * The partition of `key`, in [0, {@link PARTITION_COUNT}).
 *
 * @example
 * ```ts
 * partitionOf("person1") < PARTITION_COUNT; // true
 * ```
 */
export function partitionOf(key: string): number {
  return partitionOfHash(hashKey(key));
}

/**
 * The partition of a key whose {@link hashKey} is `hash`: for a caller that needs the
 * hash for something else too (the indexer's keys in flight), so a key is hashed once.
 *
 * @example
 * ```ts
 * partitionOfHash(hashKey("person1")) === partitionOf("person1"); // true
 * ```
 */
export function partitionOfHash(hash: number): number {
  return hash >>> (32 - PARTITION_BITS);
}

/**
 * The partition of the key whose UTF-8 bytes are `bytes[start, end)`; equal to
 * {@link partitionOf} of the decoded key.
 *
 * @example
 * ```ts
 * partitionOfBytes(new TextEncoder().encode("person1")) === partitionOf("person1"); // true
 * ```
 */
export function partitionOfBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return hashKeyBytes(bytes, start, end) >>> (32 - PARTITION_BITS);
}
