/**
 * "Did you mean": how far a mistyped word is from each word it may have meant, for the
 * REPL's command words and the command line's subcommands and flags.
 *
 * @example
 * ```ts
 * import { closestWord, editDistance } from "./edit_distance.ts";
 * editDistance("GTE", "GET"); // 1: two neighbours swapped
 * closestWord("gett", ["gen", "get", "query"]); // "get"
 * ```
 * @module
 */

/**
 * What {@link editDistance} answers for words whose lengths differ by more than
 * {@link MAX_COUNTED_EDITS}: too far apart to count, and too far to be a typo.
 */
const MAX_COUNTED_EDITS = 2;

/**
 * Edit distance counting an insertion, deletion, substitution or swap of two neighbours as
 * one edit (optimal string alignment); words whose lengths differ by more than 2 answer 3,
 * uncounted.
 *
 * @example
 * ```ts
 * editDistance("server", "sever"); // 1
 * editDistance("repiar", "repair"); // 1
 * editDistance("a", "abcdef"); // 3: not counted
 * ```
 */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_COUNTED_EDITS) return MAX_COUNTED_EDITS + 1;
  const rows = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}

/**
 * The candidate `typed` most likely meant, compared without regard to case: the nearest
 * within `maxEdits` edits ({@link editDistance}; the first listed of equals), else
 * undefined. Differing in case only is 0 edits, so `GET` finds `get`.
 *
 * @example
 * ```ts
 * closestWord("sever", ["server", "servers"]); // "server"
 * closestWord("frobnicate", ["server", "servers"]); // undefined
 * closestWord("--dryrun", ["--dry-run", "--json"], 1); // "--dry-run"
 * ```
 */
export function closestWord(
  typed: string,
  candidates: readonly string[],
  maxEdits = 1,
): string | undefined {
  let best: string | undefined;
  let bestEdits = maxEdits + 1;
  const lowered = typed.toLowerCase();
  for (const candidate of candidates) {
    const edits = editDistance(lowered, candidate.toLowerCase());
    if (edits < bestEdits) [best, bestEdits] = [candidate, edits];
  }
  return best;
}
