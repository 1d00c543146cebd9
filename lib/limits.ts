/**
 * Every limit kv enforces, in one place, so that the parser, the wire protocol,
 * the trie and the servers agree on them. Each is a hard bound: input past it
 * is refused with a clear error, never truncated and never a crash.
 *
 * @example
 * ```ts
 * import { MAX_NESTING_DEPTH } from "./limits.ts";
 * const depth = 40;
 * if (depth > MAX_NESTING_DEPTH) throw new Error("too deep");
 * ```
 * @module
 */

/** Deepest nesting of objects inside a record's value (the value itself is depth 1). */
export const MAX_NESTING_DEPTH = 64;

/** Longest record key or field name, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Most segments in a query path: the record key plus one field name per nesting level. */
export const MAX_PATH_SEGMENTS: number = MAX_NESTING_DEPTH + 1;

/** Longest dotted query path (`person1.address.street`), in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4096;

/**
 * Most keys one listing returns (a KEYS request, a broker's KEYS answer, the trie's
 * `keys`): 10 000 keys of at most 1 KiB fit in a 16 MiB frame. Page with `after` for more.
 */
export const MAX_KEYS_LIMIT = 10_000;

/** Longest record line the parser accepts, in UTF-8 bytes (1 MiB). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Largest protocol frame body by default, in bytes (16 MiB); `--max-frame-bytes` changes it. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Largest `--max-frame-bytes` (1 GiB): a frame is buffered whole in memory. A client refuses a
 * server whose HELLO announces more, which would have it hold answers of any size.
 */
export const MAX_FRAME_BYTES_LIMIT = 1024 * 1024 * 1024;
