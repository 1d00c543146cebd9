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
 *   orders its next writes after what it has read — unless the version is more
 *   than {@link MAX_CLOCK_AHEAD_MS} ahead of the wall clock. As hybrid logical
 *   clocks bound the offset they accept, such a version (a broker or client
 *   with a wrong clock made it) is not taken in: one version near the end of
 *   the u48 would otherwise drag the clock there for good, and the next write
 *   would find no version left. So the clock is never more than the bound
 *   ahead of the wall clock (plus a millisecond per 65 536 versions made in
 *   one), whatever it observes.
 * - {@link HybridClock.after} stamps a write that met a version (STALE): after
 *   the clock and that version, so a write of the key is still ordered after
 *   it even when it lies beyond the bound; only that write's version goes
 *   there, not the clock. Beyond the bound it is also after every version it
 *   made there before: two writes of one key that met the same far version get
 *   different versions, as two {@link HybridClock.next} do (the same one for
 *   both would let replicas hold different values under one version, which no
 *   read or repair can tell apart).
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
  compareVersions,
  isValidVersion,
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  type Version,
} from "../record/version.ts";
import { invariant } from "../base/invariant.ts";

/**
 * How far ahead of the wall clock an observed version may take the clock, in ms: a
 * minute. Machines kept by NTP agree within milliseconds, and one left without it
 * drifts about a second a day; a version further ahead comes from a wrong clock
 * (or a hostile client), and adopting it would stamp every later write of this
 * broker that far ahead. Ordering does not depend on it: a write of a key that
 * holds such a version is still stamped after it ({@link HybridClock.after}).
 */
export const MAX_CLOCK_AHEAD_MS = 60_000;

/** A random broker id, 1..2³²−1. */
function randomBrokerId(): number {
  const id = new Uint32Array(1);
  while (id[0] === 0) crypto.getRandomValues(id);
  return id[0];
}

/** Options for {@link HybridClock}. */
export interface HybridClockOptions {
  /**
   * This broker's id, 0..2³²−1; default a random one (crypto.getRandomValues), never 0:
   * a server's STALE answer to a write stamped too far behind its clock carries its clock
   * with broker id 0 (lib/server/server.ts, clockVersion), which must not pass for a
   * version this broker made.
   */
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
  /** The newest version {@link HybridClock.after} made beyond the bound, if any. */
  #beyond: Version | undefined;

  /**
   * A clock for one broker id (`options.broker`, else a random one), reading `options.now`.
   *
   * @param options see {@link HybridClockOptions}.
   */
  constructor(options: HybridClockOptions = {}) {
    const broker = options.broker ?? randomBrokerId();
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
   * import { compareVersions } from "../record/version.ts";
   * const clock = new HybridClock();
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
   * whichever broker made it — unless it is more than {@link MAX_CLOCK_AHEAD_MS} ahead
   * of the wall clock (or not a valid version): then the clock ignores it, and the
   * answer is false. Never throws.
   *
   * @example
   * ```ts
   * const clock = new HybridClock();
   * clock.observe({ ms: Date.now() + 5000, counter: 0, broker: 9 }); // true
   * clock.observe({ ms: 2 ** 48 - 1, counter: 0, broker: 9 }); // false: far ahead
   * ```
   */
  observe(version: Version): boolean {
    if (!isValidVersion(version)) return false;
    if (version.ms > Math.floor(this.#now()) + MAX_CLOCK_AHEAD_MS) return false;
    if (!this.covers(version)) {
      this.#ms = version.ms;
      this.#counter = version.counter;
    }
    return true;
  }

  /**
   * The version for a write that met `held` (a server holds it for the key): newer than
   * `held` and than every version made or observed before. When `held` is one the clock
   * takes in ({@link observe}), the clock's {@link next}; beyond the bound, the version
   * just after `held` and after every version made beyond the bound before, with this
   * broker's id, leaving the clock where it is (once those reach the end of the u48,
   * just after `held`). Undefined when `held` is the newest version there can be (or
   * not valid): nothing can be stamped after it.
   *
   * @example
   * ```ts
   * const clock = new HybridClock({ broker: 1, now: () => 1000 });
   * clock.after({ ms: 1500, counter: 3, broker: 2 }); // { ms: 1500, counter: 4, broker: 1 }
   * clock.after({ ms: 2 ** 40, counter: 3, broker: 2 }); // { ms: 2 ** 40, counter: 4, broker: 1 }
   * clock.after({ ms: 2 ** 40, counter: 3, broker: 2 }); // { ms: 2 ** 40, counter: 5, broker: 1 }
   * clock.next(); // { ms: 1500, counter: 5, broker: 1 }: the far version was not adopted
   * ```
   */
  after(held: Version): Version | undefined {
    if (this.observe(held)) return this.next();
    if (!isValidVersion(held)) return undefined;
    const beyond = this.#beyond;
    const made =
      (beyond !== undefined && compareVersions(beyond, held) > 0
        ? this.#successor(beyond)
        : undefined) ?? this.#successor(held);
    if (made !== undefined && (beyond === undefined || compareVersions(made, beyond) > 0)) {
      this.#beyond = made;
    }
    return made;
  }

  /** The first version after `version`'s ms and counter, with this broker's id; none past the end. */
  #successor(version: Version): Version | undefined {
    if (version.counter < MAX_VERSION_COUNTER) {
      return { ms: version.ms, counter: version.counter + 1, broker: this.#broker };
    }
    if (version.ms < MAX_VERSION_MS) {
      return { ms: version.ms + 1, counter: 0, broker: this.#broker };
    }
    return undefined;
  }

  /**
   * Whether the clock is at or past `version` (its ms and counter; the broker id aside):
   * true of every version it made with {@link next}, false of one {@link after} made
   * beyond it.
   *
   * @example
   * ```ts
   * const clock = new HybridClock();
   * const made = clock.next();
   * clock.covers(made); // true
   * ```
   */
  covers(version: Version): boolean {
    return version.ms < this.#ms || (version.ms === this.#ms && version.counter <= this.#counter);
  }
}
