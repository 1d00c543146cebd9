/**
 * A count and its noun, singular for one: what a message says of a number of things.
 *
 * @example
 * ```ts
 * import { counted } from "./plural.ts";
 * counted(1, "record"); // "1 record"
 * ```
 * @module
 */

/**
 * `count` then `noun`, with an `s` unless `count` is 1: `1 record`, `0 records`, `20 records`.
 *
 * @example
 * ```ts
 * counted(20, "server"); // "20 servers"
 * ```
 */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * `items` as a sentence names them: `a`, `a and b`, `a, b and c`.
 *
 * @example
 * ```ts
 * listed(["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"]);
 * // "127.0.0.1:8000, 127.0.0.1:8001 and 127.0.0.1:8002"
 * ```
 */
export function listed(items: readonly string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
