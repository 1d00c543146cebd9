/**
 * A latency histogram of fixed size, in the manner of HdrHistogram: values in
 * microseconds fall into log-linear buckets (each power of two split into
 * {@link SUB_BUCKETS} equal parts), so any percentile is within 1/128 of the
 * true value, recording costs a few instructions, and memory stays a few
 * kilobytes however many values are recorded. The maximum is kept exactly.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./histogram.ts";
 * const histogram = new LatencyHistogram();
 * histogram.record(0.25); // ms
 * histogram.percentile(99); // ≈ 0.25
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";

/** Linear buckets per power of two: the relative precision is 1/SUB_BUCKETS. */
export const SUB_BUCKETS = 128;

/** log2 of {@link SUB_BUCKETS}. */
const SUB_BUCKET_BITS = 7;

/** Largest value bucketed, in µs (71 minutes); longer latencies count in the top bucket. */
const MAX_BUCKETED_MICROS = 0xffff_ffff;

/** Powers of two above the linear range, up to {@link MAX_BUCKETED_MICROS}. */
const MAGNITUDES = 32 - SUB_BUCKET_BITS;

/** Microseconds per millisecond: values are recorded in ms and bucketed in µs. */
const MICROSECONDS_PER_MS = 1000;

/** The bucket of a value in whole microseconds. */
function bucketOf(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const magnitude = 31 - Math.clz32(micros) - SUB_BUCKET_BITS + 1;
  // A shift, not a division by 2 ** magnitude: micros is a u32, and the power was a call
  // into libm for every operation a bench records.
  const sub = (micros >>> magnitude) - SUB_BUCKETS / 2;
  return SUB_BUCKETS + (magnitude - 1) * (SUB_BUCKETS / 2) + sub;
}

/** The largest microsecond value in `bucket`. */
function bucketTop(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const magnitude = Math.floor((bucket - SUB_BUCKETS) / (SUB_BUCKETS / 2)) + 1;
  const sub = (bucket - SUB_BUCKETS) % (SUB_BUCKETS / 2) + SUB_BUCKETS / 2;
  return (sub + 1) * 2 ** magnitude - 1;
}

/**
 * Latencies in milliseconds, with percentiles.
 *
 * @example
 * ```ts
 * const histogram = new LatencyHistogram();
 * for (const ms of [1, 2, 3]) histogram.record(ms);
 * histogram.count; // 3
 * ```
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(SUB_BUCKETS + MAGNITUDES * (SUB_BUCKETS / 2));
  #count = 0;
  #maxMs = 0;
  #sumMs = 0;

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** The largest value recorded, exactly; 0 when empty. */
  get maxMs(): number {
    return this.#maxMs;
  }

  /** The mean; 0 when empty. */
  get meanMs(): number {
    return this.#count === 0 ? 0 : this.#sumMs / this.#count;
  }

  /**
   * Records one latency in milliseconds (≥ 0; a clock step backwards counts as 0).
   *
   * @example
   * ```ts
   * const histogram = new LatencyHistogram();
   * histogram.record(2.5);
   * histogram.maxMs; // 2.5
   * ```
   */
  record(ms: number): void {
    const value = Math.max(0, ms);
    const micros = Math.min(Math.round(value * MICROSECONDS_PER_MS), MAX_BUCKETED_MICROS);
    const bucket = bucketOf(micros);
    this.#counts[bucket]++;
    this.#count++;
    this.#sumMs += value;
    if (value > this.#maxMs) this.#maxMs = value;
  }

  /**
   * The value at `percent` (0 < percent ≤ 100) in ms: the top of the bucket
   * holding that rank, never above the maximum; 0 when empty.
   *
   * @example
   * ```ts
   * const histogram = new LatencyHistogram();
   * for (const ms of [0.2, 0.3, 0.4, 5]) histogram.record(ms);
   * histogram.percentile(50); // 0.303: the top of 0.3's bucket
   * histogram.percentile(99); // 5, the maximum
   * ```
   */
  percentile(percent: number): number {
    invariant(percent > 0 && percent <= 100, "a percentile is in (0, 100]");
    if (this.#count === 0) return 0;
    const rank = Math.ceil((percent / 100) * this.#count);
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= rank) return Math.min(bucketTop(bucket) / MICROSECONDS_PER_MS, this.#maxMs);
    }
    return this.#maxMs;
  }
}
