/**
 * FNV-1a, 32-bit (Fowler, Noll, Vo): per byte, `h = (h ^ byte) × FNV_PRIME mod 2^32`, from
 * {@link FNV_OFFSET_BASIS}. kv hashes with it where a fast, allocation-free hash of a few
 * bytes is wanted — a key's partition, the partition digests, the short-string cache, the
 * bench's key scrambling — each in its own loop, fused with the work around it (an ASCII
 * check, UTF-8 encoding on the fly), so what they share is these two constants.
 *
 * @example
 * ```ts
 * import { FNV_OFFSET_BASIS, FNV_PRIME } from "./fnv.ts";
 * let h = FNV_OFFSET_BASIS;
 * for (const byte of new TextEncoder().encode("a")) h = Math.imul(h ^ byte, FNV_PRIME);
 * h >>> 0; // 0xe40c292c, FNV-1a-32 of "a"
 * ```
 * @module
 */

/** FNV-1a-32's offset basis: the hash of no bytes. */
export const FNV_OFFSET_BASIS = 0x811c_9dc5;

/** FNV-1a-32's prime, 2^24 + 2^8 + 0x93: each byte is XORed in, then multiplied by it. */
export const FNV_PRIME = 0x0100_0193;
