/**
 * Parses dotted query paths such as `person1.address.street`: the record key
 * followed by the field names to walk down. Segments are taken exactly as
 * written (keys may hold spaces).
 *
 * @example
 * ```ts
 * import { splitQueryPath } from "./query_path.ts";
 * splitQueryPath("person1.address.street"); // ["person1", "address", "street"]
 * ```
 * @module
 */
import { MAX_PATH_BYTES, MAX_PATH_SEGMENTS } from "../limits.ts";
import { DecodeError, LimitExceededError } from "../base/bytes.ts";
import { utf8Length } from "../base/utf8.ts";
import { checkKey, keyProblem } from "./key.ts";
import type { Value } from "./value.ts";

/**
 * Why a record holds no value at a query path: the first segment the path could not take,
 * `segment` (1 or more: segment 0 is the key, whose record exists), and what stopped it.
 * `no-field`: the object the path reached, `path[0..segment)`, has no field
 * `path[segment]`; `closest` is its field nearest that name (one edit or case apart),
 * if any. `not-object`: the path reached a scalar, `value`, at `path[0..segment)`, and
 * could go no further. A QUERY's NOT_FOUND carries it (docs/protocol.md, QUERY).
 *
 * @example
 * ```ts
 * import { int } from "./value.ts";
 * // person1 = { "age" : 22 ; "address" : { "street" : "Main" } }
 * const typo: PathMiss = { reason: "no-field", segment: 2, closest: "street" }; // person1.address.stret
 * const scalar: PathMiss = { reason: "not-object", segment: 2, value: int(22) }; // person1.age.x
 * ```
 */
export type PathMiss =
  | { readonly reason: "no-field"; readonly segment: number; readonly closest?: string }
  | { readonly reason: "not-object"; readonly segment: number; readonly value: Value };

/**
 * The segments of `path` that `miss` speaks of: up to the name the object lacks
 * (`no-field`: its last segment is that name) or up to the leaf in the way (`not-object`).
 * The REPL, the library and `kv http` each tell a miss at this path.
 *
 * @example
 * ```ts
 * import { int } from "./value.ts";
 * missedPath(["person1", "address", "stret", "x"], { reason: "no-field", segment: 2 });
 * // ["person1", "address", "stret"]
 * missedPath(["person1", "age", "x"], { reason: "not-object", segment: 2, value: int(22) });
 * // ["person1", "age"]
 * ```
 */
export function missedPath(path: readonly string[], miss: PathMiss): string[] {
  return path.slice(0, miss.reason === "no-field" ? miss.segment + 1 : miss.segment);
}

/** Paths longer than this many characters are shown shortened in error messages. */
const MAX_QUOTED_PATH_CHARACTERS = 80;

/**
 * A query path that is empty, has an empty segment, or breaks a limit. The
 * message says what and where, e.g. `empty segment at column 3 in 'a..b'`.
 *
 * @example
 * ```ts
 * try {
 *   splitQueryPath("a..b");
 * } catch (error) {
 *   if (error instanceof QueryPathError) console.error(`QUERY: ${error.message}`);
 * }
 * ```
 */
export class QueryPathError extends Error {
  /**
   * An error saying what in the query path is wrong, and where.
   *
   * @param message what is wrong with the path, and where.
   */
  constructor(message: string) {
    super(message);
    this.name = "QueryPathError";
  }
}

/**
 * Splits a dotted path into its segments exactly as written, surrounding whitespace
 * included (a key may start or end with a space). Throws a {@link QueryPathError} when
 * the path is empty, longer than MAX_PATH_BYTES, has more than MAX_PATH_SEGMENTS
 * segments, or has a segment that is not a valid key (see `checkKey`). Columns in
 * messages are 1-based code point positions in the path.
 *
 * @example
 * ```ts
 * splitQueryPath("person9.level.age"); // ["person9", "level", "age"]
 * splitQueryPath(" lead.age"); // [" lead", "age"]
 * ```
 */
export function splitQueryPath(path: string): string[] {
  if (path.length === 0) throw new QueryPathError("empty query path: expected a key");
  const pathBytes = utf8Length(path);
  if (pathBytes > MAX_PATH_BYTES) {
    throw new QueryPathError(
      `query path is ${pathBytes} bytes; the limit is ${MAX_PATH_BYTES} (MAX_PATH_BYTES)`,
    );
  }
  const segments = path.split(".");
  if (segments.length > MAX_PATH_SEGMENTS) {
    throw new QueryPathError(
      `query path has ${segments.length} segments; the limit is ${MAX_PATH_SEGMENTS} ` +
        `(MAX_NESTING_DEPTH + 1) in ${quotePath(path)}`,
    );
  }
  let column = 1;
  for (const segment of segments) {
    const problem = keyProblem(segment, `segment at column ${column}`);
    if (problem !== undefined) throw new QueryPathError(`${problem} in ${quotePath(path)}`);
    column += Array.from(segment).length + 1;
  }
  return segments;
}

/**
 * Throws unless `path`, already split, is a valid query path: 1 to MAX_PATH_SEGMENTS
 * segments, each a valid key (see `checkKey`), at most MAX_PATH_BYTES when joined
 * with dots. A broken limit is a LimitExceededError, anything else a DecodeError.
 *
 * @example
 * ```ts
 * checkPath(["person1", "address", "street"]); // fine
 * checkPath(["person1", ""]); // throws DecodeError: empty path segment
 * ```
 */
export function checkPath(path: readonly string[]): void {
  if (path.length === 0) throw new DecodeError("empty query path");
  if (path.length > MAX_PATH_SEGMENTS) {
    throw new LimitExceededError(
      `query path has ${path.length} segments, over the limit of ${MAX_PATH_SEGMENTS}`,
    );
  }
  let bytes = path.length - 1;
  for (const segment of path) {
    checkKey(segment, "path segment");
    bytes += utf8Length(segment);
  }
  if (bytes > MAX_PATH_BYTES) {
    throw new LimitExceededError(
      `query path is ${bytes} bytes, over the limit of ${MAX_PATH_BYTES}`,
    );
  }
}

function quotePath(path: string): string {
  if (path.length <= MAX_QUOTED_PATH_CHARACTERS) return `'${path}'`;
  return `'${path.slice(0, MAX_QUOTED_PATH_CHARACTERS)}…'`;
}
