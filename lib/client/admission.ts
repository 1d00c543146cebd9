/**
 * A bound on the calls one `Kv` has under way in the cluster: past it, calls wait in the
 * library, in the order they were made, and start as earlier ones end.
 *
 * Why: an application importing records writes `await Promise.all(rows.map((row) =>
 * kv.put(row.id, row)))`, as it would with ioredis or node-redis, whose commands queue in the
 * client. Without a bound every one of those calls started at once: a put under way holds
 * about 7 KiB of the broker's state (its replicas' requests, versions, promises), so 20 000 of
 * them kept the client collecting garbage for seconds on end, the servers' answers went unread
 * past the request timeout, the connections were closed as if the servers had hung, and every
 * put failed with `… got no answer within 1000 ms; connection closed …; repeat it when the
 * servers are back` while the servers were up (100 000: all failed, 1.9 GB resident). Waiting
 * here, a call holds only its closure, and its request timeout starts when it is sent.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 * const admission = new Admission(2);
 * const answers = await Promise.all(
 *   [1, 2, 3].map((n) => admission.run(() => Promise.resolve(n * 10))),
 * ); // [10, 20, 30]; the third started once one of the first two ended
 * ```
 * @module
 */

/**
 * Runs calls with at most `limit` of them under way; the rest wait in order.
 *
 * @example
 * ```ts
 * const admission = new Admission(1);
 * const first = admission.run(() => Promise.resolve("a")); // starts now
 * const second = admission.run(() => Promise.resolve("b")); // starts once `first` settles
 * ```
 */
export class Admission {
  readonly #limit: number;
  #running = 0;
  /** Starters of the calls waiting, oldest at #head: a shift per start would be O(waiting). */
  #waiting: (() => void)[] = [];
  #head = 0;

  /**
   * Makes an admission.
   *
   * @param limit most calls under way at once, at least 1.
   */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`an admission's limit is a whole number from 1, got ${limit}`);
    }
    this.#limit = limit;
  }

  /** Calls under way: started and not yet settled. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for one under way to end. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * `call()`'s promise, `call` made now if fewer than the limit are under way, else once the
   * calls waiting ahead of it have started and one more has ended. A `call` that throws
   * is a rejection, and its place is freed as a settled call's is.
   *
   * @example
   * ```ts
   * const admission = new Admission(8);
   * const answer = await admission.run(() => Promise.resolve(42)); // 42
   * ```
   */
  run<T>(call: () => Promise<T>): Promise<T> {
    // Not async: a call let through at once is its own promise, one promise fewer per call.
    // Calls wait only while the limit is reached: an ending call hands its place straight
    // to the oldest waiting one (#end), so none made later can pass it.
    if (this.#running < this.#limit) return this.#start(call);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => this.#start(call).then(resolve, reject));
    });
  }

  #start<T>(call: () => Promise<T>): Promise<T> {
    this.#running++;
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(this.#end, this.#end);
    return promise;
  }

  /** A call ended: the oldest waiting one, if any, starts in its place. */
  #end = (): void => {
    this.#running--;
    if (this.waiting === 0) return;
    const start = this.#waiting[this.#head];
    this.#head++;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    start();
  };
}

/**
 * Started calls the queue keeps at its head before it is cut down (once they are also more
 * than half of it), as lib/protocol/client.ts keeps its requests in flight.
 */
const COMPACT_AFTER = 1024;
