/**
 * Hints, in Dynamo's terms: a write that found one of its key's home servers (the
 * first k of the partition's preference list) unreachable was stored further down
 * the list instead, and the copy must move home once that server is back. The broker
 * remembers only (home server, partition) — not keys or values: the repair engine
 * compares the partition's copies and moves whatever differs.
 *
 * The set is bounded by construction: one {@link PartitionSet} bitmap (512 bytes) per
 * server with hints, so at most `MAX_SERVERS` × 512 bytes (512 KiB) however many
 * writes were hinted, and no hint is ever dropped.
 *
 * @example
 * ```ts
 * import { HintSet } from "./hints.ts";
 * const hints = new HintSet();
 * hints.add(0, 17); // server 0 must receive partition 17's hinted copies
 * hints.take(0)?.has(17); // true, and server 0 has no hints left
 * ```
 * @module
 */
import { PartitionSet } from "./partition_set.ts";

/**
 * The (home server index, partition) pairs awaiting handoff.
 *
 * @example
 * ```ts
 * const hints = new HintSet();
 * hints.add(0, 17);
 * hints.add(0, 17); // a pair is held once
 * hints.add(2, 5);
 * hints.size; // 2
 * hints.take(0)?.has(17); // true, and server 0 has no hints left
 * hints.size; // 1
 * ```
 */
export class HintSet {
  readonly #byServer = new Map<number, PartitionSet>();

  /** How many (server, partition) pairs are held. */
  get size(): number {
    let size = 0;
    for (const partitions of this.#byServer.values()) size += partitions.size;
    return size;
  }

  /**
   * How many partitions wait to be handed to `server`.
   *
   * @example
   * ```ts
   * const hints = new HintSet();
   * hints.add(3, 17);
   * hints.countFor(3); // 1
   * ```
   */
  countFor(server: number): number {
    return this.#byServer.get(server)?.size ?? 0;
  }

  /**
   * Remembers that `server` must receive `partition`'s hinted copies (once, however
   * often it is added).
   *
   * @example
   * ```ts
   * new HintSet().add(2, 4095);
   * ```
   */
  add(server: number, partition: number): void {
    if (!(Number.isInteger(server) && server >= 0)) throw new RangeError(`bad server ${server}`);
    let partitions = this.#byServer.get(server);
    if (partitions === undefined) {
      partitions = new PartitionSet();
      this.#byServer.set(server, partitions);
    }
    partitions.add(partition);
  }

  /**
   * Removes and returns the partitions hinted for `server`, or undefined when there are
   * none.
   *
   * @example
   * ```ts
   * const hints = new HintSet();
   * hints.add(1, 9);
   * hints.take(1)?.size; // 1
   * hints.take(1); // undefined
   * ```
   */
  take(server: number): PartitionSet | undefined {
    const partitions = this.#byServer.get(server);
    this.#byServer.delete(server);
    return partitions;
  }
}
