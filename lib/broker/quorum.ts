/**
 * Sloppy quorums over a preference list (lib/broker/placement.ts): which servers a
 * write goes to and a read asks, and when a read's NOT FOUND can be trusted.
 *
 * **The rule.** A partition's preference list L ranks all n servers; its first k are
 * the partition's home servers. A write goes to the first k servers of L that are
 * reachable and is acknowledged only once k servers stored it; with fewer than k
 * reachable it is refused before anything changes. A read asks the first k reachable
 * servers of L and walks further down L until k *trustworthy* servers answered (an
 * unrepaired server — one that may have lost acknowledged writes — answers, but does
 * not count) or L ends; it answers the newest version among all answers.
 *
 * **Why a read sees every acknowledged write.** Let F be the first f = min(n, 2k − 1)
 * servers of L.
 *
 * 1. A write acknowledged without a warning is stored on a set S of k servers inside
 *    F: the broker checks that S ⊆ F, and warns otherwise (Broker#beyondFront; a write
 *    placed under a larger k, which `kv repair -k` lowered while it ran, holds more
 *    than k copies, and needs k of them inside F). A write
 *    made while at most k − 1 servers were unreachable, and none failed under it, always
 *    is. S is then the first k reachable of L; let s be the position of S's last member.
 *    Every server before s that is not in S was skipped as unreachable, so
 *    s + 1 ≤ k + (k − 1) = 2k − 1, and s < n: S ⊆ F. A server that failed under the
 *    write (a refusal: its frame limit, a full disk; a restart) is skipped as well, so
 *    with k − 1 unreachable one such failure can take S beyond F: hence the check.
 * 2. Conversely, for such writes any k-subset of F can be S (make the other f − k ≤
 *    k − 1 servers of F unreachable). So a set T of servers meets *every* possible S
 *    exactly when |T ∩ F| ≥ f − k + 1: then F \ T has at most k − 1 servers and
 *    cannot contain all k of S; and with fewer, F \ T can.
 * 3. A read made while at most k − 1 servers are unreachable or unrepaired finds k
 *    trustworthy servers T, the first k such of L; by the argument of (1) they lie in
 *    F, so |T ∩ F| = k ≥ f − k + 1 (as f ≤ 2k − 1). By (2), T meets S: some server
 *    that answered stored the write and, being trustworthy (it never lost an
 *    acknowledged write), still holds it or something newer. The read answers the
 *    newest version it saw, so it is at least that write's: **every read sees every
 *    acknowledged write**, whichever servers failed in between.
 * 4. A read that did not get f − k + 1 trustworthy answers from F cannot rule out a
 *    write held only by the servers it missed ({@link readIsConclusive}): its answer
 *    carries a warning, a NOT FOUND that the record may exist, a record found that a
 *    newer version may. Trust is judged when a request is sent: a server marked
 *    repaired while its answer was on the way may have answered before it was refilled.
 * 5. **Last write wins in real time.** Two writes meet the same way: let W₂ begin
 *    after W₁ was acknowledged, with at most k − 1 servers unreachable or unrepaired.
 *    When the k servers that stored W₂ are trustworthy (judged at send time) and lie
 *    in F, they are a conclusive set and by (2) meet W₁'s in a trustworthy server,
 *    which holds W₁'s version or a newer one; if W₂'s is not newer it answers STALE
 *    with it. Otherwise (one was unrepaired, or beyond F) the broker reads the key as
 *    in (3), which sees W₁'s version or a newer one. Either way, when W₂'s version is
 *    not the newer, the broker moves its clock past the one it met and writes W₂
 *    again (a bounded number of times), so the acknowledged W₂ is newer than W₁ on
 *    every server that stored it, whatever the brokers' clocks say. Read repair and
 *    handoff copies keep their versions and never replace anything newer.
 *
 * A server that lost writes is trusted again only once a repair, reading the other
 * servers after it restarted, brought in order every partition whose F holds it and
 * marked it repaired (repair.ts): each write of such a partition it lost is then held by
 * the partition's home servers, k servers of F that every T meets as it meets S in (3).
 * For the repair to see such a write, the write's other copies must have landed before
 * the process holding it died. This part is a heuristic, not proven: a write is
 * acknowledged only when, once all k answered, no server that stored it is seen to have
 * restarted — its connection still open, or a reconnect reaching the same process
 * (Broker#writeK; the indexer's RecordGroup writes again on any closed connection) — which
 * assumes the broker sees a killed process's connection close before it handles the last
 * copy's answer.
 *
 * Copies stored on servers beyond the first k (because a home server was unreachable)
 * are hints: the broker records (home, partition) and hands the partition to the
 * repair engine when the home server is back, so copies move home and the "at most k
 * − 1 unreachable" bound applies afresh to each failure rather than adding up.
 *
 * @example
 * ```ts
 * import { partitionOf } from "../record/partition.ts";
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { PreferenceWalk } from "./quorum.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const list = broker.preferenceList(partitionOf("person1"));
 * const walk = new PreferenceWalk(list, (index) => broker.pool.isUp(index));
 * walk.take(2); // positions in the list of the first two servers up
 * ```
 * @module
 */

/**
 * Walks a preference list in order, handing out the positions of servers not yet
 * handed out that are up now: the servers a write goes to, or a read asks, next.
 *
 * @example
 * ```ts
 * const walk = new PreferenceWalk(new Uint16Array([2, 0, 1]), (index) => index !== 0);
 * walk.take(2); // [0, 2]: servers 2 and 1; server 0, at position 1, is down
 * walk.take(1); // []: the list is exhausted
 * ```
 */
export class PreferenceWalk {
  readonly #list: Uint16Array;
  readonly #isUp: (index: number) => boolean;
  #next = 0;
  /**
   * Positions {@link PreferenceWalk.take} passed over as down; made on the first (most
   * walks pass over none). Not the positions it handed out whose server failed since:
   * those failures are their requests' own to report.
   */
  #passedOver: number[] | undefined;

  /**
   * A walk down `list` from its first server.
   *
   * @param list the preference list: server indexes, best first.
   * @param isUp whether a server is reachable now (asked as the walk reaches it).
   */
  constructor(list: Uint16Array, isUp: (index: number) => boolean) {
    this.#list = list;
    this.#isUp = isUp;
  }

  /**
   * Positions, in list order, of up to `count` more servers that are up.
   *
   * @example
   * ```ts
   * const walk = new PreferenceWalk(new Uint16Array([0, 1, 2]), () => true);
   * walk.take(1); // [0]
   * walk.take(1); // [1]: never a position handed out before
   * ```
   */
  take(count: number): number[] {
    const list = this.#list;
    // Sized for the most it can hold, then cut: an array grown one push at a time reserves
    // room for 17 (this runs once per read).
    const positions: number[] = new Array(Math.max(0, Math.min(count, list.length - this.#next)));
    let taken = 0;
    while (taken < count && this.#next < list.length) {
      const position = this.#next++;
      if (this.#isUp(list[position])) positions[taken++] = position;
      else (this.#passedOver ??= []).push(position);
    }
    // Only when it shrinks: storing an array's length is a call into V8's runtime even
    // when it does not change (about 0.14 µs), and most walks take all they were sized for.
    if (taken < positions.length) positions.length = taken;
    return positions;
  }

  /** Positions passed over so far because their server was down, whose server is still down. */
  get skipped(): number[] {
    return this.#passedOver?.filter((position) => !this.#isUp(this.#list[position])) ?? [];
  }
}

/**
 * How many trustworthy answers from the first min(n, 2k − 1) servers of a preference
 * list a NOT FOUND needs to be conclusive: min(n, 2k − 1) − k + 1 (see the module's
 * proof, step 2). `k` when n ≥ 2k − 1; 1 when n = k.
 *
 * @example
 * ```ts
 * conclusiveCount(4, 2); // 2
 * conclusiveCount(3, 3); // 1
 * ```
 */
export function conclusiveCount(serverCount: number, k: number): number {
  return frontLength(serverCount, k) - k + 1;
}

/**
 * How many positions at the front of a preference list can hold a write made with at
 * most k − 1 servers unreachable: min(n, 2k − 1).
 *
 * @example
 * ```ts
 * frontLength(4, 2); // 3
 * ```
 */
export function frontLength(serverCount: number, k: number): number {
  return Math.min(serverCount, 2 * k - 1);
}

/**
 * Whether `server` is among the first min(n, 2k − 1) servers of the preference list
 * `list` (n = its length): where a write acknowledged with at most k − 1 servers
 * unreachable may have been stored, as a home copy or a hint (step 1). A server that
 * lost its data is trusted again only once every such partition is in order.
 *
 * @example
 * ```ts
 * mayHoldWrites(new Uint16Array([2, 0, 1, 3]), 2, 1); // true: position 2 of 4, k = 2
 * mayHoldWrites(new Uint16Array([2, 0, 1, 3]), 2, 3); // false: beyond the first 3
 * ```
 */
export function mayHoldWrites(list: ArrayLike<number>, k: number, server: number): boolean {
  const front = frontLength(list.length, k);
  for (let rank = 0; rank < front; rank++) if (list[rank] === server) return true;
  return false;
}

/**
 * Whether a read whose trustworthy answers came from `positions` (in its preference
 * list) rules out every acknowledged write it did not see.
 *
 * @example
 * ```ts
 * readIsConclusive([0, 1], 4, 2); // true
 * readIsConclusive([1, 3], 4, 2); // false: only position 1 is among the first 3
 * ```
 */
export function readIsConclusive(
  positions: readonly number[],
  serverCount: number,
  k: number,
): boolean {
  const front = frontLength(serverCount, k);
  let inFront = 0;
  for (const position of positions) if (position < front) inFront++;
  return inFront >= conclusiveCount(serverCount, k);
}
