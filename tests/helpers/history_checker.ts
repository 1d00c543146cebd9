/**
 * The checker of the randomised fault tests (tests/broker/jepsen_*test.ts), in the Jepsen
 * style: pure functions over a recorded history of GET, PUT and DELETE calls, each with
 * the time it started and ended, and over what every server holds once repaired.
 *
 * ## What a read may return
 *
 * Every PUT writes a value no other PUT writes, so a value read names its write. A write
 * W to key k is *overwritten before* a read R of k when some acknowledged write A to k
 * (A ≠ W) began after W ended and ended before R began: A then wins over W whatever the
 * clocks say (issue 9: a write that begins after another was acknowledged must win).
 * A read R that answered (its outcome `ok`) may return:
 *
 * - a value v: only that of a PUT of v to k that began before R ended, and that is not
 *   overwritten before R — else "a value no write made" or "a stale value";
 * - a value v with a warning: that of a PUT of v to k that began before R ended,
 *   overwritten or not (the broker admits a newer version may exist);
 * - NOT FOUND with a warning: always (the broker admits it could not be sure);
 * - NOT FOUND without a warning: only the effect of a DELETE of k (begun before R ended,
 *   not overwritten before R) or of nothing ever written (then no acknowledged write to
 *   k may have ended before R began).
 *
 * A DELETE acknowledged without a warning that answered NOT FOUND (it found no record)
 * is held to the same rule as such a read over its own interval, the DELETE itself left
 * out: an answer without a warning is exact (README, "The guarantee"), and a DELETE that
 * cannot vouch that the key held nothing says so. One that answered DELETED is held to a
 * found value's rule, for any value: some PUT of k began before it ended and is not
 * overwritten before it began — else "DELETED, though …" (a replica that missed an
 * earlier delete, still holding the record, made it answer so until S34 F4's fix).
 *
 * A write that failed (refused, or its outcome unknown) may still have been applied by
 * some replica and spread by repair, at any time after it began: it may explain a read,
 * and it overwrites nothing. That is the weakest honest reading of a failure; a broker
 * that refuses "before anything changes" is not given credit for it.
 *
 * @example
 * ```ts
 * import { checkHistory } from "./history_checker.ts";
 * const violations = checkHistory([
 *   { client: 0, op: "put", key: "k", value: 1, start: 0, end: 1, outcome: "ok" },
 *   { client: 1, op: "get", key: "k", start: 2, end: 3, outcome: "ok", found: false },
 * ]);
 * violations[0].reason; // "NOT FOUND without a warning, though ..."
 * ```
 * @module
 */

/** One call of the history: who made it, what, when, and what it answered. */
export interface HistoryEntry {
  /** Which client (broker) made the call. */
  readonly client: number;
  /** The command. */
  readonly op: "get" | "put" | "delete";
  /** The key. */
  readonly key: string;
  /** PUT: the value written, unique to this PUT; GET: the value read, when found. */
  readonly value?: number;
  /** When the call began (ms, one monotonic clock for all clients). */
  readonly start: number;
  /** When its answer came (or it was given up). */
  readonly end: number;
  /** `ok`: acknowledged (a GET: answered); `failed`: refused, an error, or no answer. */
  readonly outcome: "ok" | "failed";
  /** GET: a record was found; DELETE: it answered that it deleted one (else NOT FOUND). */
  readonly found?: boolean;
  /** GET: the answer carried a warning. */
  readonly warning?: boolean;
}

/** A read the history cannot explain, and why. */
export interface Violation {
  /** The offending read (or DELETE that answered NOT FOUND). */
  readonly read: HistoryEntry;
  /** What is wrong with it, in one sentence. */
  readonly reason: string;
}

/** Whether acknowledged write `by` overwrites `write` before `read` began. */
function overwrites(by: HistoryEntry, write: HistoryEntry, read: HistoryEntry): boolean {
  return by !== write && by.outcome === "ok" && by.op !== "get" && write.end < by.start &&
    by.end < read.start;
}

/** The acknowledged write of `writes` that overwrites `write` before `read`, if any. */
function overwriter(
  writes: readonly HistoryEntry[],
  write: HistoryEntry,
  read: HistoryEntry,
): HistoryEntry | undefined {
  return writes.find((other) => overwrites(other, write, read));
}

function describe(entry: HistoryEntry): string {
  const what = entry.op === "put" ? `PUT ${entry.key}=${entry.value}` : `DELETE ${entry.key}`;
  return `${what} by client ${entry.client} [${entry.start}, ${entry.end}] (${entry.outcome})`;
}

/** Why `read` (answered, found `read.value`) cannot be explained, or undefined. */
function foundProblem(read: HistoryEntry, writes: readonly HistoryEntry[]): string | undefined {
  const put = writes.find((write) => write.op === "put" && write.value === read.value);
  if (put === undefined || put.start >= read.end) {
    return `a value no write made (${read.value}) was read`;
  }
  const newer = read.warning === true ? undefined : overwriter(writes, put, read);
  if (newer === undefined) return undefined;
  return `a stale value: ${describe(put)} was overwritten by ${
    describe(newer)
  } before the read began`;
}

/**
 * Why `deletion` (acknowledged without a warning, answered DELETED) cannot be explained,
 * or undefined: it found a record, so some PUT not overwritten before it may have made it.
 */
function deletedProblem(
  deletion: HistoryEntry,
  writes: readonly HistoryEntry[],
): string | undefined {
  const explained = writes.some((write) =>
    write.op === "put" && write.start < deletion.end &&
    overwriter(writes, write, deletion) === undefined
  );
  if (explained) return undefined;
  const deleted = writes.find((write) =>
    write.op === "delete" && write.outcome === "ok" && write.end < deletion.start
  );
  const why = deleted === undefined
    ? "no PUT of the key began before it ended"
    : `every PUT of the key was overwritten before it began (by ${describe(deleted)}, say)`;
  return `DELETED, though ${why}`;
}

/**
 * Why `read` (answered NOT FOUND without a warning) cannot be explained, or undefined;
 * `what` names it in the reason.
 */
function notFoundProblem(
  read: HistoryEntry,
  writes: readonly HistoryEntry[],
  what = "the read",
): string | undefined {
  const explained = writes.some((write) =>
    write.op === "delete" && write.start < read.end && overwriter(writes, write, read) === undefined
  );
  if (explained) return undefined;
  const acknowledged = writes.find((write) => write.outcome === "ok" && write.end < read.start);
  if (acknowledged === undefined) return undefined;
  const newest =
    writes.find((write) =>
      write.op === "put" && write.outcome === "ok" && write.end < read.start &&
      overwriter(writes, write, read) === undefined
    ) ?? acknowledged;
  return `NOT FOUND without a warning, though ${describe(newest)} was acknowledged before ` +
    `${what} began and no delete can explain it`;
}

/**
 * Every read of `history` that no order of its writes allowed by the rules above explains.
 * Empty when the history is correct.
 *
 * @example
 * ```ts
 * checkHistory([]); // []
 * ```
 */
export function checkHistory(history: readonly HistoryEntry[]): Violation[] {
  const writesByKey = new Map<string, HistoryEntry[]>();
  for (const entry of history) {
    if (entry.op === "get") continue;
    const writes = writesByKey.get(entry.key) ?? [];
    writes.push(entry);
    writesByKey.set(entry.key, writes);
  }
  const violations: Violation[] = [];
  for (const read of history) {
    if (read.op === "delete" && read.outcome === "ok") {
      const others = (writesByKey.get(read.key) ?? []).filter((write) => write !== read);
      const problem = read.found === true
        ? deletedProblem(read, others)
        : read.found === false
        ? notFoundProblem(read, others, "the DELETE")
        : undefined;
      if (problem !== undefined) violations.push({ read, reason: `DELETE answered ${problem}` });
    }
    if (read.op !== "get" || read.outcome !== "ok") continue;
    const writes = writesByKey.get(read.key) ?? [];
    const problem = read.found === true
      ? foundProblem(read, writes)
      : read.warning === true
      ? undefined
      : notFoundProblem(read, writes);
    if (problem !== undefined) violations.push({ read, reason: problem });
  }
  return violations;
}

/** What one server holds under a key: the version of its newest write, and its kind. */
export interface HeldEntry {
  /** The version, in its text form (24 hex digits). */
  readonly version: string;
  /** A tombstone, not a record. */
  readonly tombstone: boolean;
}

/**
 * Where the replicas of a repaired cluster disagree: for every key any server holds, its
 * home servers (`homes(key)`, the first k of its preference list) must hold the same
 * entry (or all nothing), and no other server may hold it. One sentence per problem.
 *
 * @example
 * ```ts
 * checkReplicas([new Map(), new Map()], () => [0, 1]); // []
 * ```
 */
export function checkReplicas(
  held: readonly ReadonlyMap<string, HeldEntry>[],
  homes: (key: string) => readonly number[],
): string[] {
  const keys = new Set<string>();
  for (const server of held) for (const key of server.keys()) keys.add(key);
  const problems: string[] = [];
  for (const key of [...keys].sort()) {
    const home = homes(key);
    const entries = home.map((server) => held[server].get(key));
    const first = entries[0];
    const same = entries.every((entry) =>
      entry?.version === first?.version && entry?.tombstone === first?.tombstone
    );
    if (!same) {
      const shown = entries.map((entry, index) =>
        `server ${home[index]}: ${
          entry === undefined
            ? "nothing"
            : `${entry.tombstone ? "tombstone" : "record"} ${entry.version}`
        }`
      );
      problems.push(`key ${key}: its replicas differ (${shown.join(", ")})`);
    }
    held.forEach((server, index) => {
      if (!home.includes(index) && server.has(key)) {
        problems.push(
          `key ${key}: server ${index} holds a copy though it is not a home of the key`,
        );
      }
    });
  }
  return problems;
}
