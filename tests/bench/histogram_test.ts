import assert from "node:assert/strict";
import fc from "fast-check";
import { LatencyHistogram, SUB_BUCKETS } from "../../lib/bench/histogram.ts";

/** The exact value at `percent` of sorted `values`, by the nearest-rank method. */
function exactPercentile(sorted: number[], percent: number): number {
  return sorted[Math.ceil((percent / 100) * sorted.length) - 1];
}

Deno.test("property: every percentile is within the histogram's precision of the exact one", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 60_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
      fc.constantFrom(50, 95, 99, 99.9, 100),
      (values, percent) => {
        const histogram = new LatencyHistogram();
        for (const value of values) histogram.record(value);
        const sorted = values.toSorted((a, b) => a - b);
        const exact = exactPercentile(sorted, percent);
        const found = histogram.percentile(percent);
        // One microsecond of rounding, plus the bucket's relative width.
        const slack = 0.001 + (2 * exact) / SUB_BUCKETS;
        assert(Math.abs(found - exact) <= slack, `${found} vs ${exact}`);
        assert.equal(histogram.count, values.length);
        assert.equal(histogram.maxMs, sorted.at(-1));
      },
    ),
  );
});

Deno.test("an empty histogram reports zeros; a huge latency lands in the top bucket, max kept", () => {
  const histogram = new LatencyHistogram();
  assert.deepEqual([histogram.percentile(99), histogram.maxMs, histogram.meanMs], [0, 0, 0]);
  histogram.record(1e9);
  assert.equal(histogram.maxMs, 1e9);
  assert(histogram.percentile(50) <= 1e9);
});
