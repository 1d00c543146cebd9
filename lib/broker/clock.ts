/**
 * The broker's hybrid logical clock (Kulkarni et al., 2014): it stamps every
 * write with a {@link Version} that is wall-clock milliseconds and a counter,
 * never behind any version the broker has seen, plus the broker's random id
 * to break ties between brokers.
 *
 * - {@link HybridClock.next} returns a version newer than every version it
 *   returned or observed before: `ms` is the wall clock unless that is behind
 *   the last version, and then the counter orders writes within one `ms`. A
 *   counter that would pass 0xFFFF moves to the next millisecond instead.
 * - {@link HybridClock.observe} takes in a version seen in an answer (a read,
 *   or a server's STALE answer to a write), so a broker whose clock lags still
 *   orders its next writes after what it has read.
 *
 * @example
 * ```ts
 * import { HybridClock } from "./clock.ts";
 * const clock = new HybridClock();
 * const first = clock.next();
 * clock.observe({ ms: first.ms + 60_000, counter: 5, broker: 1 });
 * clock.next(); // ms first.ms + 60_000, counter 6: after what it saw
 * ```
 * @module
 */
import {
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  type Version,
} from "../record/version.ts";
import { invariant } from "../base/invariant.ts";

/** Options for {@link HybridClock}. */
export interface HybridClockOptions {
  /** This broker's id, 0..2³²−1; default a random one (crypto.getRandomValues). */
  broker?: number;
  /** The wall clock in milliseconds; default `Date.now`. Tests pin it. */
  now?: () => number;
}

/**
 * Makes versions for one broker; see the module documentation.
 *
 * @example
 * ```ts
 * const clock = new HybridClock({ broker: 1, now: () => 1000 });
 * clock.next(); // { ms: 1000, counter: 0, broker: 1 }
 * clock.next(); // { ms: 1000, counter: 1, broker: 1 }
 * ```
 */
export class HybridClock {
  readonly #broker: number;
  readonly #now: () => number;
  #ms = 0;
  /** The counter of the last version made or seen; −1 before any in `#ms`. */
  #counter = -1;

  /** @param options see {@link HybridClockOptions}. */
  constructor(options: HybridClockOptions = {}) {
    const broker = options.broker ?? crypto.getRandomValues(new Uint32Array(1))[0];
    if (!Number.isInteger(broker) || broker < 0 || broker > MAX_VERSION_BROKER) {
      throw new RangeError(`broker id must be an integer 0..${MAX_VERSION_BROKER}: ${broker}`);
    }
    this.#broker = broker;
    this.#now = options.now ?? Date.now;
  }

  /** This broker's id, the last field of every version it makes. */
  get broker(): number {
    return this.#broker;
  }

  /**
   * A version newer than every version made or observed before.
   *
   * @example
   * ```ts
   * const a = clock.next();
   * compareVersions(clock.next(), a); // > 0
   * ```
   */
  next(): Version {
    const wall = Math.floor(this.#now());
    if (wall > this.#ms) {
      this.#ms = Math.min(wall, MAX_VERSION_MS);
      this.#counter = 0;
    } else if (this.#counter < MAX_VERSION_COUNTER) {
      this.#counter++;
    } else {
      this.#ms++;
      this.#counter = 0;
    }
    invariant(this.#ms <= MAX_VERSION_MS, "the clock stays within the u48 of a version");
    return { ms: this.#ms, counter: this.#counter, broker: this.#broker };
  }

  /**
   * Takes in a version seen in an answer: every later {@link next} is newer than it,
   * whichever broker made it.
   *
   * @example
   * ```ts
   * clock.observe({ ms: Date.now() + 5000, counter: 0, broker: 9 });
   * ```
   */
  observe(version: Version): void {
    if (
      version.ms > this.#ms || (version.ms === this.#ms && version.counter > this.#counter)
    ) {
      this.#ms = version.ms;
      this.#counter = version.counter;
    }
  }
}
