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

/**
 * {@link closestWord} with one edit allowed, in time linear in the words' lengths: for a
 * caller comparing one word with many long ones (a field name with every field of an
 * object, on a server), where {@link editDistance}'s table would cost the product of
 * their lengths for each.
 *
 * @example
 * ```ts
 * closestWithinOneEdit("stret", ["name", "street"]); // "street"
 * closestWithinOneEdit("AGE", ["name", "age"]); // "age": case is no edit
 * closestWithinOneEdit("city", ["name", "age"]); // undefined
 * ```
 */
export function closestWithinOneEdit(
  typed: string,
  candidates: readonly string[],
): string | undefined {
  const lowered = typed.toLowerCase();
  let best: string | undefined;
  for (const candidate of candidates) {
    const edits = editsUpToOne(lowered, candidate.toLowerCase());
    if (edits === 0) return candidate;
    if (edits === 1) best ??= candidate;
  }
  return best;
}

/** {@link editDistance} of `a` and `b` when it is 0 or 1, else 2: one pass, no table. */
function editsUpToOne(a: string, b: string): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  if (long.length - short.length > 1) return 2;
  let start = 0;
  while (start < short.length && long[start] === short[start]) start++;
  if (start === long.length) return 0;
  if (long.length > short.length) return sameFrom(long, start + 1, short, start) ? 1 : 2;
  if (sameFrom(long, start + 1, short, start + 1)) return 1;
  const swapped = long[start] === short[start + 1] && long[start + 1] === short[start];
  return swapped && sameFrom(long, start + 2, short, start + 2) ? 1 : 2;
}

/** Whether `a` from `atA` and `b` from `atB` hold the same code units to their ends. */
function sameFrom(a: string, atA: number, b: string, atB: number): boolean {
  if (a.length - atA !== b.length - atB) return false;
  for (let i = 0; atA + i < a.length; i++) if (a[atA + i] !== b[atB + i]) return false;
  return true;
}
