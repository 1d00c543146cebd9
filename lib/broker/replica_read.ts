/**
 * One read's walk down a key's preference list (the rule and its proof are in
 * lib/broker/quorum.ts): ask the first k reachable servers at once, then further ones
 * until k trustworthy servers answered or the list ends, and collect what came back
 * and why the others do not count. The broker's GET and QUERY answer from the result
 * ({@link ReplicaReplies}).
 *
 * A read is one object driven by its answers' callbacks, not an async function
 * awaiting each answer in turn: a broker makes one per GET, and the awaits, the
 * function's saved state and the arrays grown one answer at a time were most of what a
 * GET allocated; the lists of errors are made only for a read that meets one. Answers
 * are still counted in the order their servers were asked, round by round, so the
 * replies (and the warnings written from them) do not depend on which server answered
 * first.
 *
 * @example
 * ```ts
 * import { partitionOf } from "../record/partition.ts";
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { Placement } from "./placement.ts";
 * import { askReplicas } from "./replica_read.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const placement = new Placement(servers.map((server) => server.identity));
 * const list = placement.preferenceList(partitionOf("person1"));
 * const answered = await askReplicas(
 *   pool,
 *   "person1",
 *   list,
 *   2,
 *   (connection, settle) => connection.getEncodedTo("person1", settle),
 *   (replies) => replies.answered.length,
 * );
 * ```
 * @module
 */
import type { EncodedRead } from "../protocol/mod.ts";
import { frontLength, PreferenceWalk } from "./quorum.ts";
import type { CallOutcome, PoolRequest, ServerPool } from "./server_pool.ts";

/** One server's answer to a read, with its server's position in the preference list. */
export interface ReplicaAnswer {
  /** The server's position in the preference list. */
  readonly position: number;
  /** What the server answered. */
  readonly read: EncodedRead;
}

/** What the replicas a read asked sent back ({@link askReplicas}). */
export interface ReplicaReplies {
  /** Each answer, in the order the servers were asked. */
  readonly answered: readonly ReplicaAnswer[];
  /** How many answers can be trusted (`CallOutcome`'s `repaired`, judged at send time). */
  readonly trustedCount: number;
  /** How many of those came from the first k positions of the list (the home servers). */
  readonly trustedAtHome: number;
  /** How many of those came from the first min(n, 2k − 1) positions (see readIsConclusive). */
  readonly trustedInFront: number;
  /** How many servers could not be reached. */
  readonly unreachable: number;
  /** The errors of servers that answered with one. */
  readonly refused: readonly string[];
  /** Why each server passed over, unreachable, refused or distrusted does not count. */
  readonly reasons: readonly string[];
}

/**
 * What a read makes of its replies, given its `key` and preference `list` again: one such
 * function can serve every read (the broker's does), where a closure would be made per read.
 */
export type ReplicaFinish<T> = (replies: ReplicaReplies, key: string, list: Uint16Array) => T;

/**
 * Sends `request` (a read of `key`) to the first `k` reachable servers of `list`, its
 * preference list (server indexes of `pool`, best first), then to further ones until k
 * trustworthy servers answered or the list ended, and resolves with what `finish` makes
 * of the replies, given `key` and `list` again (rejects with what it throws): a caller
 * can pass one function for every read rather than a closure for each.
 *
 * @example
 * ```ts
 * import type { EncodedRead } from "../protocol/mod.ts";
 * import { partitionOf } from "../record/partition.ts";
 * import type { PoolRequest } from "./server_pool.ts";
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { Placement } from "./placement.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const placement = new Placement(servers.map((server) => server.identity));
 * const key = "person1";
 * const list = placement.preferenceList(partitionOf(key));
 * const read: PoolRequest<EncodedRead> = (c, settle) => c.getEncodedTo(key, settle);
 * const replies = await askReplicas(pool, key, list, 2, read, (r) => r);
 * replies.trustedCount; // 2 when both home servers answered and are repaired
 * ```
 */
export function askReplicas<T>(
  pool: ServerPool,
  key: string,
  list: Uint16Array,
  k: number,
  request: PoolRequest<EncodedRead>,
  finish: ReplicaFinish<T>,
): Promise<T> {
  // No executor closure: it and its context would be made per read, to pass on two functions.
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  new ReplicaRead(pool, key, list, k, request, finish, resolve, reject).start();
  return promise;
}

/** The errors of a read that met none: shared, so that such a read makes no array. */
const NO_ERRORS: readonly string[] = Object.freeze([]);

/** The state of one {@link askReplicas}: the replies so far, and the round in flight. */
class ReplicaRead<T> implements ReplicaReplies {
  readonly answered: ReplicaAnswer[];
  /** Answers in `answered`, whose array is made for k and cut to this when the read ends. */
  #answeredCount = 0;
  trustedCount = 0;
  trustedAtHome = 0;
  trustedInFront = 0;
  unreachable = 0;
  /** Made for the first error, as most reads meet none. */
  #refused: string[] | undefined;
  #reasons: string[] | undefined;
  readonly #pool: ServerPool;
  readonly #key: string;
  readonly #list: Uint16Array;
  readonly #k: number;
  readonly #front: number;
  readonly #request: PoolRequest<EncodedRead>;
  readonly #finish: ReplicaFinish<T>;
  readonly #resolve: (result: T) => void;
  readonly #reject: (error: unknown) => void;
  readonly #walk: PreferenceWalk;
  /**
   * Positions asked in the round in flight, and their outcomes as they arrive; set by
   * each round before its first request is sent.
   */
  #asked!: number[];
  #outcomes!: (CallOutcome<EncodedRead> | undefined)[];
  /** Outcomes of the round still to arrive. */
  #waiting = 0;

  constructor(
    pool: ServerPool,
    key: string,
    list: Uint16Array,
    k: number,
    request: PoolRequest<EncodedRead>,
    finish: ReplicaFinish<T>,
    resolve: (result: T) => void,
    reject: (error: unknown) => void,
  ) {
    this.#pool = pool;
    this.#key = key;
    // Sized for the k answers most reads get: grown one push at a time it would reserve 17.
    this.answered = new Array(k);
    this.#list = list;
    this.#k = k;
    this.#front = frontLength(list.length, k);
    this.#request = request;
    this.#finish = finish;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#walk = new PreferenceWalk(list, pool.reachable);
  }

  /** Sends the first round. */
  start(): void {
    this.#round(this.#k);
  }

  /**
   * Asks the next `count` reachable servers of the walk, every request of the round
   * sent before any answer is counted; ends the read when the walk has none left.
   */
  #round(count: number): void {
    try {
      const asked = this.#walk.take(count);
      if (asked.length === 0) {
        this.#end();
        return;
      }
      this.#asked = asked;
      this.#outcomes = new Array(asked.length);
      this.#waiting = asked.length;
      for (let slot = 0; slot < asked.length; slot++) {
        this.#pool.send(this.#list[asked[slot]], this.#request, this.#arrived, slot);
      }
    } catch (error) {
      this.#reject(error);
    }
  }

  /**
   * Keeps the outcome of the round's request `slot`; once all are in, counts them in
   * order. Made once per read, for {@link ServerPool.send}.
   */
  readonly #arrived = (outcome: CallOutcome<EncodedRead>, slot: number): void => {
    try {
      this.#outcomes[slot] = outcome;
      if (--this.#waiting > 0) return;
      const asked = this.#asked;
      for (let at = 0; at < asked.length; at++) this.#count(asked[at], this.#outcomes[at]!);
      if (this.trustedCount >= this.#k) this.#end();
      else this.#round(this.#k - this.trustedCount);
    } catch (error) {
      this.#reject(error);
    }
  };

  /** Adds what the server at `position` of the list answered, or why not. */
  #count(position: number, outcome: CallOutcome<EncodedRead>): void {
    if (!outcome.ok) {
      if (outcome.unreachable) this.unreachable++;
      else this.#refuse(outcome.error);
      this.#passOver(outcome.error);
      return;
    }
    this.answered[this.#answeredCount++] = { position, read: outcome.value };
    if (outcome.repaired) {
      this.trustedCount++;
      if (position < this.#k) this.trustedAtHome++;
      if (position < this.#front) this.trustedInFront++;
      return;
    }
    this.#passOver(this.#pool.untrustedReason(this.#list[position]));
  }

  /** The errors of servers that answered with one. */
  get refused(): readonly string[] {
    return this.#refused ?? NO_ERRORS;
  }

  /** Why each server passed over does not count. */
  get reasons(): readonly string[] {
    return this.#reasons ?? NO_ERRORS;
  }

  /** Adds the error of a server that answered with one. */
  #refuse(error: string): void {
    (this.#refused ??= []).push(error);
  }

  /** Adds why a server does not count. */
  #passOver(reason: string): void {
    (this.#reasons ??= []).push(reason);
  }

  /**
   * Puts first the servers the walk passed over as down (those still down now), and
   * settles the read with what `finish` makes of the replies.
   */
  #end(): void {
    try {
      // Cut only when short of k answers: storing the length calls V8's runtime even
      // when it does not change, and most reads get their k.
      if (this.#answeredCount < this.answered.length) this.answered.length = this.#answeredCount;
      const skipped = this.#walk.skipped;
      if (skipped.length > 0) {
        (this.#reasons ??= []).unshift(
          ...skipped.map((position) => this.#pool.downMessage(this.#list[position])),
        );
      }
      this.#resolve(this.#finish(this, this.#key, this.#list));
    } catch (error) {
      this.#reject(error);
    }
  }
}
