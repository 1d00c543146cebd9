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
