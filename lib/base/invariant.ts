/**
 * A cheap invariant check for hot paths (the trie, the indexer). `node:assert` is fine for
 * tests and cold paths, but in Deno its polyfill costs more than the operation it guards.
 * Messages are constant strings so that a passing check allocates nothing.
 *
 * @example
 * ```ts
 * import { invariant } from "./invariant.ts";
 * invariant(1 + 1 === 2, "arithmetic works");
 * ```
 * @module
 */

/**
 * Throws an Error naming a broken invariant (a bug in kv, never bad input) when
 * `condition` is false.
 *
 * @example
 * ```ts
 * const index = [3, 1, 2].indexOf(1);
 * invariant(index >= 0, "1 is in the list");
 * ```
 */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`);
}
