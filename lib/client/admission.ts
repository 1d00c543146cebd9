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
  #waiting: Waiting[] = [];
  #head = 0;
  /** Waiting calls their signal aborted, still in #waiting: skipped, not started, at their turn. */
  #abandoned = new Set<Waiting>();
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

  /** Calls waiting for one under way to end (not those whose signal aborted them since). */
  get waiting(): number {
    return this.#waiting.length - this.#head - this.#abandoned.size;
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
      this.#waiting.push(() => this.#start(call).then(resolve, reject));
    });
  }

  #runAbortable<T>(call: () => Promise<T>, { signal, error }: Abort): Promise<T> {
    // In an executor, an `error` that throws is the rejection, as in onAbort.
    if (signal.aborted) return new Promise<T>((_, reject) => reject(error(false)));
    return new Promise<T>((resolve, reject) => {
      let waiting: Waiting | undefined;
      const onAbort = () => {
        // Waiting: skipped when its turn comes (a search of the queue would be O(waiting)).
        if (waiting !== undefined) this.#abandoned.add(waiting);
        // Never a throw: the calls on this signal share its listener, and one thrown here
        // would leave this call and those after it unsettled.
        let failure: unknown;
        try {
          failure = error(waiting === undefined);
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
      waiting = start;
      this.#waiting.push(waiting);
    });
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

  /** A call ended: the oldest waiting one not abandoned, if any, starts in its place. */
  #end = (): void => {
    this.#running--;
    let start: Waiting | undefined;
    while (start === undefined && this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head];
      this.#head++;
      if (!this.#abandoned.delete(next)) start = next;
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    start?.();
  };
}

/** A waiting call's starter. */
type Waiting = () => void;

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

/**
 * Started calls the queue keeps at its head before it is cut down (once they are also more
 * than half of it), as lib/protocol/client.ts keeps its requests in flight.
 */
const COMPACT_AFTER = 1024;
