/**
 * The one check of a record key and a field name as UTF-8 bytes: non-empty (keys),
 * at most MAX_KEY_BYTES bytes (keys), valid UTF-8, without `.`. Every layer that
 * receives encoded keys — the trie, the store, the protocol decoder — calls these, so
 * the rule cannot drift between them.
 *
 * @example
 * ```ts
 * import { checkEncodedKey } from "./key.ts";
 * checkEncodedKey(new TextEncoder().encode("person1"), 0, 7); // fine
 * ```
 * @module
 */
import { DecodeError, LimitExceededError } from "../base/bytes.ts";
import { isWellFormedUtf8, readUtf8 } from "../base/utf8.ts";
import { MAX_KEY_BYTES } from "../limits.ts";

/** `.` separates path segments, so it never occurs in a key or a name. */
const DOT_BYTE = 0x2e;

/**
 * Checks a record key given as UTF-8, `source[start, end)`: non-empty, at most
 * MAX_KEY_BYTES bytes (else a LimitExceededError), valid UTF-8 and without `.` (else a
 * DecodeError). `what` names it in messages; default "record key".
 *
 * @example
 * ```ts
 * checkEncodedKey(new TextEncoder().encode("person1"), 0, 7); // fine
 * ```
 */
export function checkEncodedKey(
  source: Uint8Array,
  start: number,
  end: number,
  what = "record key",
): void {
  checkRange(source, start, end, what);
  const length = end - start;
  if (length === 0) throw new DecodeError(`empty ${what}`);
  if (length > MAX_KEY_BYTES) {
    throw new LimitExceededError(`${what} is ${length} bytes, over the limit of ${MAX_KEY_BYTES}`);
  }
  checkEncodedName(source, start, length, what);
}

const textEncoder = new TextEncoder();

/**
 * Checks a record key given as a string, by the same rule as {@link checkEncodedKey}
 * on its UTF-8 bytes: non-empty, at most MAX_KEY_BYTES bytes (else a
 * LimitExceededError), without `.` (else a DecodeError). `what` names it in messages;
 * default "key".
 *
 * @example
 * ```ts
 * checkKey("person1"); // fine
 * checkKey("a.b"); // throws DecodeError: key 'a.b' contains '.'
 * ```
 */
export function checkKey(key: string, what = "key"): void {
  const bytes = textEncoder.encode(key);
  checkEncodedKey(bytes, 0, bytes.length, what);
}

/**
 * Throws a RangeError (a caller's mistake) unless `[start, end)` lies within `source`.
 *
 * @example
 * ```ts
 * checkRange(new Uint8Array(4), 1, 3, "value"); // fine
 * ```
 */
export function checkRange(source: Uint8Array, start: number, end: number, what: string): void {
  if (!(Number.isInteger(start) && start >= 0 && start <= end && end <= source.length)) {
    throw new RangeError(`${what} bytes [${start}, ${end}) are not within ${source.length} bytes`);
  }
}

/**
 * Checks the encoded field name (or record key, as `what` says) of `length` bytes at
 * `at` as value_codec.ts decodes names: valid UTF-8, without `.`. Throws DecodeError.
 *
 * @example
 * ```ts
 * checkEncodedName(new TextEncoder().encode("a.b"), 0, 3); // throws: contains '.'
 * ```
 */
export function checkEncodedName(
  source: Uint8Array,
  at: number,
  length: number,
  what = "field name",
): void {
  // One pass for the usual ASCII name; the UTF-8 rules only for one with other bytes.
  // `.` (0x2E) never occurs inside a multi-byte UTF-8 sequence, so a byte scan finds it.
  let dotted = false;
  let ascii = true;
  for (let i = at; i < at + length; i++) {
    const byte = source[i];
    if (byte === DOT_BYTE) dotted = true;
    else if (byte >= 0x80) ascii = false;
  }
  if (!ascii && !isWellFormedUtf8(source, at, at + length)) {
    throw new DecodeError(`${what} is not valid UTF-8`);
  }
  if (dotted) throw new DecodeError(`${what} '${readUtf8(source, at, length)}' contains '.'`);
}
