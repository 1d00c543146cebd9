/**
 * A bound on the calls one `Kv` has under way in the cluster: past it, calls wait in the
 * library, in the order they were made, and start as earlier ones end.
 *
 * Why: an application importing records writes `await Promise.all(rows.map((row) =>
 * kv.put(row.key, row)))`, as it would with ioredis or node-redis, whose commands queue in the
 * client. Without a bound every one of those calls started at once: a put under way holds
 * about 7 KiB of the broker's state (its replicas' requests, versions, promises), so 20 000 of
 * them kept the client collecting garbage for seconds on end, the servers' answers went unread
 * past the request timeout, the connections were closed as if the servers had hung, and every
 * put failed with `… got no answer within 1000 ms; connection closed …; repeat it when the
 * servers are back` while the servers were up (100 000: all failed, 1.9 GB resident). Waiting
 * here, a call holds only its closure, and its request timeout starts when it is sent; a call
 * its signal aborts while it waits leaves the queue at once, and lets go of its closure (its
 * key, its value) then, not once a place frees.
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
import { invariant } from "../base/invariant.ts";

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
  /**
   * The calls waiting, oldest first, in a list linked both ways: the oldest starts in O(1),
   * and one its signal aborts leaves from where it stands in O(1) (an array would need a
   * search, or keep the aborted call's closure until its turn).
   */
  #oldest: Waiter | undefined;
  #newest: Waiter | undefined;
  #waitingCount = 0;
  /**
   * Each signal's calls not yet settled, behind one listener on it: EventTarget's add and
   * remove scan the signal's listeners, so a listener a call made n calls on one signal cost
   * O(n²) (100 000 puts on one signal: 90 s, against 0.9 s without it).
   */
  #listening = new WeakMap<AbortSignal, Listening>();

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

  /** Calls waiting for one under way to end (those whose signal aborted them have left). */
  get waiting(): number {
    return this.#waitingCount;
  }

  /**
   * `call()`'s promise, `call` made now if fewer than the limit are under way, else once the
   * calls waiting ahead of it have started and one more has ended. A `call` that throws
   * is a rejection, and its place is freed as a settled call's is.
   *
   * With `abort`, its `signal` ends the caller's wait: already aborted, `call` is never made
   * and the promise rejects with `abort.error(false)`; aborted while waiting, the call leaves
   * the queue, never made, the same way; aborted once made, the promise rejects at once with
   * `abort.error(true)` and `call`'s own outcome is dropped, but its place stays taken until
   * that outcome comes (its requests still hold the broker's state). One listener on `signal`
   * serves every call on it, removed as the last of them settles, so a long-lived signal
   * collects none.
   *
   * @example
   * ```ts
   * const admission = new Admission(8);
   * const answer = await admission.run(() => Promise.resolve(42)); // 42
   * const signal = AbortSignal.abort();
   * await admission.run(() => Promise.resolve(1), { signal, error: () => signal.reason })
   *   .catch((error) => error.name); // "AbortError", and the call was never made
   * ```
   */
  run<T>(call: () => Promise<T>, abort?: Abort): Promise<T> {
    if (abort !== undefined) return this.#runAbortable(call, abort);
    // Not async: a call let through at once is its own promise, one promise fewer per call.
    // Calls wait only while the limit is reached: an ending call hands its place straight
    // to the oldest waiting one (#end), so none made later can pass it.
    if (this.#running < this.#limit) return this.#start(call);
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(() => this.#start(call).then(resolve, reject));
    });
  }

  #runAbortable<T>(call: () => Promise<T>, { signal, error }: Abort): Promise<T> {
    // In an executor, an `error` that throws is the rejection, as in onAbort.
    if (signal.aborted) return new Promise<T>((_, reject) => reject(error(false)));
    return new Promise<T>((resolve, reject) => {
      let waiting: Waiter | undefined;
      const onAbort = () => {
        const underWay = waiting === undefined;
        // Waiting: it leaves the queue now, and its closure with it.
        if (waiting !== undefined) this.#remove(waiting);
        waiting = undefined;
        // Never a throw: the calls on this signal share its listener, and one thrown here
        // would leave this call and those after it unsettled.
        let failure: unknown;
        try {
          failure = error(underWay);
        } catch (thrown) {
          failure = thrown;
        }
        reject(failure);
      };
      const settle = (settled: () => void) => {
        unlisten();
        settled();
      };
      const start = () => {
        waiting = undefined;
        this.#start(call).then(
          (answer) => settle(() => resolve(answer)),
          (failure) => settle(() => reject(failure)),
        );
      };
      const unlisten = this.#listen(signal, onAbort);
      if (this.#running < this.#limit) return start();
      waiting = this.#enqueue(start);
    });
  }

  /** Puts `start` at the end of the queue; its node, to {@link Admission.#remove} it by. */
  #enqueue(start: () => void): Waiter {
    const waiter: Waiter = { start, older: this.#newest, newer: undefined };
    if (this.#newest === undefined) this.#oldest = waiter;
    else this.#newest.newer = waiter;
    this.#newest = waiter;
    this.#waitingCount++;
    return waiter;
  }

  /** Takes `waiter` out of the queue, wherever it stands, and lets go of its neighbours. */
  #remove(waiter: Waiter): void {
    const { older, newer } = waiter;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    waiter.older = waiter.newer = undefined;
    this.#waitingCount--;
    invariant(this.#waitingCount >= 0, "an admission's queue lost count of its calls");
  }

  /**
   * Has `onAbort` called once when `signal` aborts, through the one listener its calls share;
   * the function returned stops that, and removes the listener once no call is left on it.
   */
  #listen(signal: AbortSignal, onAbort: () => void): () => void {
    let listening = this.#listening.get(signal);
    if (listening === undefined) {
      const calls = new Set<() => void>();
      const listener = () => {
        // Gone with the event (`once`): calls made after it see the signal aborted.
        this.#listening.delete(signal);
        for (const call of calls) call();
      };
      listening = { calls, listener };
      this.#listening.set(signal, listening);
      signal.addEventListener("abort", listener, { once: true });
    }
    const { calls, listener } = listening;
    calls.add(onAbort);
    const shared = listening;
    return () => {
      calls.delete(onAbort);
      if (calls.size > 0 || this.#listening.get(signal) !== shared) return;
      this.#listening.delete(signal);
      signal.removeEventListener("abort", listener);
    };
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
    const oldest = this.#oldest;
    if (oldest === undefined) return;
    this.#remove(oldest);
    oldest.start();
  };
}

/** A waiting call: its starter, and its neighbours in the queue. */
interface Waiter {
  readonly start: () => void;
  /** The call queued just before it, undefined for the oldest. */
  older: Waiter | undefined;
  /** The call queued just after it, undefined for the newest. */
  newer: Waiter | undefined;
}

/** The calls on one signal ({@link Admission#listen}): each one's abort, and their listener. */
interface Listening {
  readonly calls: Set<() => void>;
  readonly listener: () => void;
}

/**
 * What ends a caller's wait for {@link Admission.run}: `signal`, and the error its promise
 * rejects with, from whether the call had been made (`underWay`).
 */
export interface Abort {
  /** The caller's signal. */
  readonly signal: AbortSignal;
  /** The rejection for an abort before the call was made (`false`) or after (`true`). */
  readonly error: (underWay: boolean) => unknown;
}
