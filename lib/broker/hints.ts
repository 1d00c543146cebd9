/**
 * Hints, in Dynamo's terms: a write that found one of its key's home servers (the
 * first k of the partition's preference list) unreachable was stored further down
 * the list instead, and the copy must move home once that server is back. The broker
 * remembers only (home server, partition) — not keys or values: the repair engine
 * compares the partition's replicas and moves whatever differs. The set is bounded
 * ({@link MAX_HINTS}): past it a hint is dropped, and `kv repair` (which compares every
 * partition) moves that copy home instead.
 *
 * @example
 * ```ts
 * import { HintSet } from "./hints.ts";
 * const hints = new HintSet();
 * hints.add(0, 17); // true: server 0 must receive partition 17's hinted copies
 * hints.take(0); // [17], and server 0 has no hints left
 * ```
 * @module
 */
import { PARTITION_COUNT } from "../record/partition.ts";

/**
 * Most (home server, partition) pairs a broker remembers: 64 Ki numbers, about 4 MiB
 * at most in a Set. Sixteen servers' worth of every partition: beyond that, so much is
 * out of place that a full `kv repair` is the cheaper way home anyway.
 */
export const MAX_HINTS = 65_536;

/** A bounded set of (home server index, partition) pairs awaiting handoff. */
export class HintSet {
  /** `server × PARTITION_COUNT + partition` for each pair. */
  readonly #pairs = new Set<number>();
  /** Pairs dropped because the set was full, since the broker started. */
  #droppedCount = 0;

  /** How many pairs are held. */
  get size(): number {
    return this.#pairs.size;
  }

  /** How many pairs were dropped because the set was full. */
  get droppedCount(): number {
    return this.#droppedCount;
  }

  /**
   * Remembers that `server` must receive `partition`'s hinted copies. Returns false
   * when the set is full and the pair was new: it is dropped (and counted).
   *
   * @example
   * ```ts
   * new HintSet().add(2, 4095); // true
   * ```
   */
  add(server: number, partition: number): boolean {
    if (!(Number.isInteger(server) && server >= 0)) throw new RangeError(`bad server ${server}`);
    if (!(Number.isInteger(partition) && partition >= 0 && partition < PARTITION_COUNT)) {
      throw new RangeError(`bad partition ${partition}`);
    }
    const pair = server * PARTITION_COUNT + partition;
    if (this.#pairs.has(pair)) return true;
    if (this.#pairs.size >= MAX_HINTS) {
      this.#droppedCount++;
      return false;
    }
    this.#pairs.add(pair);
    return true;
  }

  /** Whether any pair names `server`. */
  has(server: number): boolean {
    for (const pair of this.#pairs) if (Math.floor(pair / PARTITION_COUNT) === server) return true;
    return false;
  }

  /**
   * Removes every pair of `server` and returns their partitions in ascending order
   * (empty when there were none).
   *
   * @example
   * ```ts
   * const hints = new HintSet();
   * hints.add(1, 9);
   * hints.add(1, 3);
   * hints.take(1); // [3, 9]
   * ```
   */
  take(server: number): number[] {
    const partitions: number[] = [];
    for (const pair of this.#pairs) {
      if (Math.floor(pair / PARTITION_COUNT) !== server) continue;
      partitions.push(pair % PARTITION_COUNT);
      this.#pairs.delete(pair);
    }
    return partitions.sort((a, b) => a - b);
  }
}
