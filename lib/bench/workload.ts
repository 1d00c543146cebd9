/**
 * YCSB's core workloads for `kv bench`: which operation comes next and which
 * key it touches. Workloads A–F mix reads, updates, inserts, scans and
 * read-modify-writes in YCSB's proportions; keys are drawn uniformly or from a
 * scrambled zipfian distribution (constant 0.99, as YCSB), and workload D reads
 * the latest inserted records most. Deterministic for a seed.
 *
 * @example
 * ```ts
 * import { OperationPicker } from "./workload.ts";
 * const picker = new OperationPicker({ workload: "A", distribution: "zipfian", recordCount: 1000, seed: 1 });
 * const next = picker.next(); // { kind: "read", index: 17 } — then key `bench-person17`
 * ```
 * @module
 */
import { Sfc32 } from "../gen/prng.ts";
import { invariant } from "../base/invariant.ts";
import { FNV_OFFSET_BASIS, FNV_PRIME } from "../base/fnv.ts";

/** The zipfian constant of YCSB's request distribution. */
export const ZIPFIAN_CONSTANT = 0.99;

/** Longest scan of workload E, in records (YCSB draws its scan length uniformly from 1 to this). */
export const MAX_SCAN_LENGTH = 10;

/** The workload letters. */
export const WORKLOADS = ["A", "B", "C", "D", "E", "F"] as const;

/** One of YCSB's core workloads. */
export type Workload = typeof WORKLOADS[number];

/** How keys are drawn. */
export type Distribution = "zipfian" | "uniform";

/** The kinds of operation, as reported. */
export const OPERATION_KINDS = ["read", "update", "insert", "scan", "read-modify-write"] as const;

/** One kind of operation. */
export type OperationKind = typeof OPERATION_KINDS[number];

/** Each workload's mix: the share of each operation kind, summing to 1, and a one-line summary. */
export const WORKLOAD_MIX: Readonly<
  Record<Workload, { summary: string; mix: Partial<Record<OperationKind, number>> }>
> = {
  A: { summary: "update heavy: 50% read, 50% update", mix: { read: 0.5, update: 0.5 } },
  B: { summary: "read mostly: 95% read, 5% update", mix: { read: 0.95, update: 0.05 } },
  C: { summary: "read only: 100% read", mix: { read: 1 } },
  D: {
    summary: "read latest: 95% read (newest most), 5% insert",
    mix: { read: 0.95, insert: 0.05 },
  },
  E: { summary: "short scans: 95% scan by prefix, 5% insert", mix: { scan: 0.95, insert: 0.05 } },
  F: {
    summary: "read-modify-write: 50% read, 50% read-modify-write",
    mix: { read: 0.5, "read-modify-write": 0.5 },
  },
};

/**
 * What every key the bench writes or reads starts with: a namespace of its own, apart from
 * `kv gen`'s `person0`, `person1`… (the README's quick start and `kv demo` load those), so
 * that a bench never overwrites a user's records. A run leaves its records; the next run
 * overwrites them, and `--clean-up` deletes them.
 */
export const BENCH_KEY_PREFIX = "bench-person";

/**
 * The key of record `index`: {@link BENCH_KEY_PREFIX} and the index, as `kv gen` names its
 * records in its own namespace, so loaded and inserted records look alike.
 *
 * @example
 * ```ts
 * recordKey(7); // "bench-person7"
 * ```
 */
export function recordKey(index: number): string {
  return `${BENCH_KEY_PREFIX}${index}`;
}

/** Exactly the keys {@link recordKey} makes: the prefix and an index without leading zeros. */
const BENCH_KEY = new RegExp(`^${BENCH_KEY_PREFIX}(?:0|[1-9][0-9]*)$`);

/**
 * Whether `key` is one {@link recordKey} makes: a user's `bench-personal-notes` shares the
 * prefix but is not the bench's, and `--clean-up` must leave it.
 *
 * @example
 * ```ts
 * isBenchKey("bench-person7"); // true
 * isBenchKey("bench-person-config"); // false
 * ```
 */
export function isBenchKey(key: string): boolean {
  return BENCH_KEY.test(key);
}

/**
 * Zipfian ranks 0..n−1 (rank 0 most frequent) by the method of Gray et al.,
 * "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as
 * YCSB does; `n` may grow (inserts), updating ζ(n) incrementally.
 *
 * @example
 * ```ts
 * import { Sfc32 } from "../gen/prng.ts";
 * const zipf = new Zipfian(1000, ZIPFIAN_CONSTANT);
 * zipf.next(new Sfc32(1)); // most often 0, then 1, …
 * ```
 */
export class Zipfian {
  readonly #theta: number;
  readonly #alpha: number;
  readonly #zeta2: number;
  #count = 0;
  #zetaN = 0;
  #eta = 0;

  /**
   * Ranks 0..count−1 with skew theta.
   *
   * @param count ranks to draw from, ≥ 1.
   * @param theta the skew, 0 < theta < 1 ({@link ZIPFIAN_CONSTANT} for YCSB's).
   */
  constructor(count: number, theta: number) {
    invariant(theta > 0 && theta < 1, "the zipfian constant is between 0 and 1");
    this.#theta = theta;
    this.#alpha = 1 / (1 - theta);
    this.#zeta2 = 1 + 0.5 ** theta;
    this.grow(count);
  }

  /** Ranks drawn from. */
  get count(): number {
    return this.#count;
  }

  /**
   * Draws from 0..`count`−1 from now on (count never shrinks).
   *
   * @example
   * ```ts
   * import { Sfc32 } from "../gen/prng.ts";
   * const zipf = new Zipfian(10, ZIPFIAN_CONSTANT);
   * zipf.grow(20); // ten keys inserted
   * zipf.count; // 20
   * zipf.next(new Sfc32(1)); // a rank in 0..19, small ones most often
   * ```
   */
  grow(count: number): void {
    invariant(Number.isInteger(count) && count >= this.#count && count >= 1, "zipfian grows");
    for (let rank = this.#count + 1; rank <= count; rank++) this.#zetaN += 1 / rank ** this.#theta;
    this.#count = count;
    this.#eta = (1 - (2 / count) ** (1 - this.#theta)) / (1 - this.#zeta2 / this.#zetaN);
  }

  /**
   * One rank.
   *
   * @example
   * ```ts
   * import { Sfc32 } from "../gen/prng.ts";
   * new Zipfian(10, ZIPFIAN_CONSTANT).next(new Sfc32(1)); // a rank in 0..9, 0 most often
   * ```
   */
  next(random: Sfc32): number {
    const u = random.nextFraction();
    const uz = u * this.#zetaN;
    if (uz < 1) return 0;
    if (uz < this.#zeta2) return Math.min(1, this.#count - 1);
    const rank = Math.floor(this.#count * (this.#eta * u - this.#eta + 1) ** this.#alpha);
    return Math.min(rank, this.#count - 1);
  }
}

/** FNV-1a of a number's 32 bits: scrambles zipfian ranks so hot keys are spread over the key space. */
function scramble(rank: number): number {
  let hash = FNV_OFFSET_BASIS;
  for (let shift = 0; shift < 32; shift += 8) {
    hash = Math.imul(hash ^ ((rank >>> shift) & 0xff), FNV_PRIME);
  }
  return hash >>> 0;
}

/** One operation to run: its kind and the index of the record it touches. */
export interface Operation {
  /** What to do. */
  readonly kind: OperationKind;
  /** The record's index (its key is {@link recordKey}); for an insert, the new record's. */
  readonly index: number;
  /** For a scan, the most records it reads. */
  readonly scanLength?: number;
}

/** Options for {@link OperationPicker}. */
export interface PickerOptions {
  /** Which workload. */
  readonly workload: Workload;
  /** How keys are drawn. */
  readonly distribution: Distribution;
  /** Records loaded: indexes 0..recordCount−1 exist; inserts add recordCount, recordCount+1, … */
  readonly recordCount: number;
  /** PRNG seed, 0..2³²−1. */
  readonly seed: number;
}

/**
 * Draws the operations of one workload. Inserts take new indexes in order;
 * reads only ever pick records whose insert has been acknowledged
 * ({@link OperationPicker.acknowledge}), as YCSB does, so a read never asks
 * for a record still being written.
 *
 * @example
 * ```ts
 * const picker = new OperationPicker({ workload: "D", distribution: "zipfian", recordCount: 10, seed: 7 });
 * const operation = picker.next();
 * if (operation.kind === "insert") picker.acknowledge(operation.index);
 * ```
 */
export class OperationPicker {
  readonly #random: Sfc32;
  readonly #distribution: Distribution;
  readonly #kinds: OperationKind[] = [];
  readonly #cumulative: number[] = [];
  readonly #zipfian: Zipfian;
  #nextInsert: number;
  /** Indexes below this exist: loaded, or inserted and acknowledged with all before them. */
  #acknowledged: number;
  readonly #pendingAcks = new Set<number>();
  readonly #latest: boolean;

  /** Starts drawing `options.workload`'s operations over `options.recordCount` records. */
  constructor(options: PickerOptions) {
    invariant(options.recordCount >= 1, "a workload needs at least one record");
    this.#random = new Sfc32(options.seed);
    this.#distribution = options.distribution;
    let total = 0;
    for (const [kind, share] of Object.entries(WORKLOAD_MIX[options.workload].mix)) {
      total += share;
      this.#kinds.push(kind as OperationKind);
      this.#cumulative.push(total);
    }
    invariant(Math.abs(total - 1) < 1e-9, "a workload's shares sum to 1");
    this.#zipfian = new Zipfian(options.recordCount, ZIPFIAN_CONSTANT);
    this.#nextInsert = options.recordCount;
    this.#acknowledged = options.recordCount;
    this.#latest = options.workload === "D";
  }

  /** Records that exist for reads: loaded plus acknowledged inserts. */
  get recordCount(): number {
    return this.#acknowledged;
  }

  /**
   * The next operation.
   *
   * @example
   * ```ts
   * const picker = new OperationPicker({ workload: "C", distribution: "uniform", recordCount: 10, seed: 7 });
   * picker.next(); // { kind: "read", index: 0..9 }: workload C only reads
   * ```
   */
  next(): Operation {
    const kind = this.#pickKind();
    if (kind === "insert") return { kind, index: this.#nextInsert++ };
    const index = this.#pickExisting();
    if (kind !== "scan") return { kind, index };
    return { kind, index, scanLength: 1 + this.#random.nextBelow(MAX_SCAN_LENGTH) };
  }

  /**
   * Records that the insert of `index` finished, so reads may pick it.
   *
   * @example
   * ```ts
   * const picker = new OperationPicker({ workload: "D", distribution: "zipfian", recordCount: 10, seed: 7 });
   * const operation = picker.next();
   * if (operation.kind === "insert") picker.acknowledge(operation.index); // recordCount grows
   * ```
   */
  acknowledge(index: number): void {
    invariant(index >= this.#acknowledged && index < this.#nextInsert, "acknowledged an insert");
    this.#pendingAcks.add(index);
    while (this.#pendingAcks.delete(this.#acknowledged)) this.#acknowledged++;
  }

  #pickKind(): OperationKind {
    const u = this.#random.nextFraction();
    for (let i = 0; i < this.#kinds.length - 1; i++) {
      if (u < this.#cumulative[i]) return this.#kinds[i];
    }
    return this.#kinds[this.#kinds.length - 1];
  }

  #pickExisting(): number {
    const count = this.#acknowledged;
    if (this.#distribution === "uniform") return Math.floor(this.#random.nextFraction() * count);
    if (count > this.#zipfian.count) this.#zipfian.grow(count);
    const rank = this.#zipfian.next(this.#random);
    // Workload D: the newest records are the hottest (YCSB's "latest" distribution).
    if (this.#latest) return count - 1 - rank;
    return scramble(rank) % count;
  }
}
