/**
 * What `kv repair` does to one key, decided from what each server's listing showed —
 * pure, so that a property test can check it against a model of the servers.
 *
 * A key's **home** is the first k servers of its partition's preference list. In order
 * means: every home server holds the newest version of the key (record or tombstone),
 * and no other server holds anything for it. A plan has three steps, each carried out
 * only when the one before succeeded on every server it names, so that an interruption
 * at any point loses nothing and brings nothing back:
 *
 * 1. **copy** the newest version (its value or tombstone, its own version, flagged
 *    _repair_ so a server holding something newer keeps it) to every home server that
 *    answered and holds an older version or nothing;
 * 2. **remove** (DELETE purge at the newest version) the copies on servers off the home
 *    — hints whose home server is back, copies on servers the list no longer places the
 *    key on — once every home server answered and (step 1) holds the newest: a broker on
 *    an old list reading those copies keeps answering right until this last step;
 * 3. **purge** a newest tombstone from the home servers once every server of the list
 *    answered (none can hold an older record that would come back) and the tombstone is
 *    older than the caller's cutoff (no read repair or repair copy made before the
 *    delete can still be in flight).
 *
 * @example
 * ```ts
 * import { planKey } from "./repair_plan.ts";
 * const v1 = { ms: 1, counter: 0, broker: 1 };
 * const v2 = { ms: 2, counter: 0, broker: 1 };
 * const plan = planKey({
 *   copies: [{ server: 0, version: v2, tombstone: false }, { server: 2, version: v1, tombstone: false }],
 *   home: [0, 1],
 *   answered: () => true,
 *   everyServerAnswered: true,
 * });
 * plan.copyTo; // [1]
 * plan.removeFrom; // [2]
 * ```
 * @module
 */
import { compareVersions, type Version } from "../record/version.ts";
import { invariant } from "../base/invariant.ts";

/** One server's copy of a key, as its listing showed it. */
export interface KeyCopy {
  /** The server holding it: an index into the server list. */
  readonly server: number;
  /** The version of the write it is. */
  readonly version: Version;
  /** Whether it is a tombstone (a delete) rather than a record. */
  readonly tombstone: boolean;
}

/** What {@link planKey} decides from; `C` is the caller's copy type (it may carry more). */
export interface KeyPlanInput<C extends KeyCopy = KeyCopy> {
  /** Every copy the listings showed, at most one per server. */
  readonly copies: readonly C[];
  /** The key's home: the first k servers of its partition's preference list. */
  readonly home: readonly number[];
  /** Whether server `server`'s listing covered the key (a server that failed before it did not). */
  readonly answered: (server: number) => boolean;
  /** Whether every server of the list answered for the key: the condition of step 3. */
  readonly everyServerAnswered: boolean;
  /**
   * Tombstones older than this may be purged (step 3); default none: tombstones are left
   * to the servers' grace period.
   */
  readonly purgeTombstonesBefore?: Version;
}

/** The three steps for one key; see the module documentation. */
export interface KeyPlan<C extends KeyCopy = KeyCopy> {
  /** The newest copy: what every home server must hold. Its server is where its value comes from. */
  readonly newest: C;
  /** Step 1: home servers to write the newest version to. */
  readonly copyTo: readonly number[];
  /** Step 2: servers off the home to purge the key from, at the newest version. */
  readonly removeFrom: readonly number[];
  /** Step 3: home servers to purge the newest tombstone from. */
  readonly purgeFrom: readonly number[];
  /** Whether every home server answered: only then can the plan put the key in order. */
  readonly complete: boolean;
}

/** No servers: shared by the plans of keys in order (the most common), so they allocate no list. */
const NONE: readonly number[] = Object.freeze([]);

/**
 * The plan for one key; `input.copies` must not be empty (a key no server holds needs
 * nothing). Runs once per key a repair lists, so it loops rather than allocate closures.
 *
 * @example
 * ```ts
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * planKey({ copies: [{ server: 1, version, tombstone: false }], home: [1], answered: () => true,
 *   everyServerAnswered: true }).copyTo; // []: in order
 * ```
 */
export function planKey<C extends KeyCopy>(input: KeyPlanInput<C>): KeyPlan<C> {
  const { copies, home, answered } = input;
  invariant(copies.length > 0, "a key to plan has at least one copy");
  let newest = copies[0];
  for (let i = 1; i < copies.length; i++) {
    if (compareVersions(copies[i].version, newest.version) > 0) newest = copies[i];
  }
  let copyTo = NONE;
  let complete = true;
  for (const server of home) {
    if (!answered(server)) {
      complete = false;
      continue;
    }
    const held = copyOn(copies, server);
    if (held !== undefined && compareVersions(held.version, newest.version) >= 0) continue;
    copyTo = copyTo === NONE ? [server] : [...copyTo, server];
  }
  let removeFrom = NONE;
  if (complete) {
    for (const copy of copies) {
      if (home.includes(copy.server)) continue;
      removeFrom = removeFrom === NONE ? [copy.server] : [...removeFrom, copy.server];
    }
  }
  const cutoff = input.purgeTombstonesBefore;
  const purgeable = complete && newest.tombstone && input.everyServerAnswered &&
    cutoff !== undefined && compareVersions(newest.version, cutoff) < 0;
  return { newest, copyTo, removeFrom, purgeFrom: purgeable ? home : NONE, complete };
}

/** The copy `copies` hold on `server`, if any. */
function copyOn<C extends KeyCopy>(copies: readonly C[], server: number): C | undefined {
  for (const copy of copies) if (copy.server === server) return copy;
  return undefined;
}

/**
 * Whether a plan changes where the key is kept (a copy or a removal): what `--dry-run`
 * calls out of place. Purging a tombstone is housekeeping, not disorder.
 *
 * @example
 * ```ts
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * const plan = planKey({
 *   copies: [{ server: 1, version, tombstone: false }],
 *   home: [1],
 *   answered: () => true,
 *   everyServerAnswered: true,
 * });
 * outOfPlace(plan); // false when every home server holds the newest and no other server anything
 * ```
 */
export function outOfPlace(plan: KeyPlan): boolean {
  return plan.copyTo.length > 0 || plan.removeFrom.length > 0;
}
