/**
 * A count and its noun, singular for one, and the verb that agrees with it: what a message
 * says of a number of things.
 *
 * @example
 * ```ts
 * import { counted, wasOrWere } from "./plural.ts";
 * `${counted(1, "record")} ${wasOrWere(1)} skipped`; // "1 record was skipped"
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
 * "was" when `count` is 1, else "were": the verb of a sentence about `count` things.
 *
 * @example
 * ```ts
 * `${counted(2, "server")} ${wasOrWere(2)} down`; // "2 servers were down"
 * ```
 */
export function wasOrWere(count: number): "was" | "were" {
  return count === 1 ? "was" : "were";
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
