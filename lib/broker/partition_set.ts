/**
 * A set of partitions as the bitmap LIST_PARTITIONS takes (docs/protocol.md): partition p
 * is bit `p & 7`, least significant first, of byte `p >> 3`, so the set goes on the wire
 * as it is and costs 512 bytes whatever it holds. The repair engine lists the partitions
 * whose replicas differ with it, and a broker queues hinted partitions in one.
 *
 * @example
 * ```ts
 * import { PartitionSet } from "./partition_set.ts";
 * const set = new PartitionSet();
 * set.add(7);
 * set.has(7); // true
 * set.bytes(); // 512 bytes, byte 0 is 0x80
 * ```
 * @module
 */
import { PARTITION_COUNT } from "../record/partition.ts";
import { PARTITION_BITMAP_BYTES } from "../protocol/mod.ts";

/**
 * A set of partition numbers, 0 to `PARTITION_COUNT` − 1, kept as a bitmap.
 *
 * @example
 * ```ts
 * const set = new PartitionSet([3, 1]);
 * [...set]; // [1, 3]
 * ```
 */
export class PartitionSet {
  readonly #bits = new Uint8Array(PARTITION_BITMAP_BYTES);
  #size = 0;

  /**
   * A set holding `partitions`.
   *
   * @param partitions the partitions the set starts with; default none.
   */
  constructor(partitions: Iterable<number> = []) {
    for (const partition of partitions) this.add(partition);
  }

  /**
   * The set of every partition.
   *
   * @example
   * ```ts
   * PartitionSet.all().size; // 4096
   * ```
   */
  static all(): PartitionSet {
    const set = new PartitionSet();
    set.#bits.fill(0xff);
    set.#size = PARTITION_COUNT;
    return set;
  }

  /** How many partitions the set holds. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds `partition`; a RangeError when it is not a partition number.
   *
   * @example
   * ```ts
   * new PartitionSet().add(4095);
   * ```
   */
  add(partition: number): void {
    checkPartition(partition);
    const mask = 1 << (partition & 7);
    const byte = partition >> 3;
    if ((this.#bits[byte] & mask) !== 0) return;
    this.#bits[byte] |= mask;
    this.#size++;
  }

  /**
   * Adds every partition of `other`.
   *
   * @example
   * ```ts
   * const set = new PartitionSet([1]);
   * set.addAll(new PartitionSet([2])); // set holds 1 and 2
   * ```
   */
  addAll(other: PartitionSet): void {
    for (const partition of other) this.add(partition);
  }

  /**
   * Whether the set holds `partition`.
   *
   * @example
   * ```ts
   * new PartitionSet([3]).has(3); // true
   * ```
   */
  has(partition: number): boolean {
    checkPartition(partition);
    return (this.#bits[partition >> 3] & (1 << (partition & 7))) !== 0;
  }

  /**
   * The bitmap, as LIST_PARTITIONS takes it: a view, valid until the set changes.
   *
   * @example
   * ```ts
   * new PartitionSet([8]).bytes()[1]; // 1
   * ```
   */
  bytes(): Uint8Array {
    return this.#bits;
  }

  /**
   * The partitions, in ascending order.
   *
   * @example
   * ```ts
   * [...new PartitionSet([4095, 8, 17])]; // [8, 17, 4095]
   * ```
   */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let byte = 0; byte < PARTITION_BITMAP_BYTES; byte++) {
      const bits = this.#bits[byte];
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) if ((bits & (1 << bit)) !== 0) yield byte * 8 + bit;
    }
  }
}

function checkPartition(partition: number): void {
  if (!(Number.isInteger(partition) && partition >= 0 && partition < PARTITION_COUNT)) {
    throw new RangeError(`bad partition ${partition}: partitions are 0 to ${PARTITION_COUNT - 1}`);
  }
}
