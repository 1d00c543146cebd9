import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteSlab } from "../../lib/base/byte_slab.ts";

const SLAB_BYTES = 64;

Deno.test("every copy a ByteSlab made stays as it was while later copies fill slab after slab", () => {
  const runs = fc.array(fc.uint8Array({ maxLength: SLAB_BYTES }), { maxLength: 60 });
  fc.assert(
    fc.property(runs, (sources) => {
      const slab = new ByteSlab(SLAB_BYTES);
      const views = sources.map((source) => {
        // Copied from the middle of a larger array: only [start, end) is taken.
        const padded = new Uint8Array([9, ...source, 9]);
        const at = slab.copy(padded, 1, padded.length - 1);
        assert.equal(slab.bytes.length, SLAB_BYTES);
        return slab.bytes.subarray(at, at + source.length);
      });
      sources.forEach((source, n) => assert.deepEqual(views[n], source, `copy ${n}`));
    }),
  );
});

Deno.test("a ByteSlab shares a slab between copies until one does not fit, then starts a new one", () => {
  const slab = new ByteSlab(SLAB_BYTES);
  const half = new Uint8Array(SLAB_BYTES / 2).fill(1);
  assert.equal(slab.copy(half, 0, half.length), 0);
  const first = slab.bytes;
  assert.equal(slab.copy(half, 0, half.length), SLAB_BYTES / 2);
  assert.equal(slab.bytes, first);
  assert.equal(slab.copy(half, 0, 1), 0);
  assert.notEqual(slab.bytes, first);
});

Deno.test("a ByteSlab whose buffer was transferred away starts a new slab: copies after it are whole", () => {
  const slab = new ByteSlab(SLAB_BYTES);
  const at = slab.copy(new Uint8Array([1, 2, 3]), 0, 3);
  const kept = slab.bytes.subarray(at, at + 3);
  (kept.buffer as ArrayBuffer).transfer();
  const next = slab.copy(new Uint8Array([4, 5]), 0, 2);
  assert.deepEqual(slab.bytes.subarray(next, next + 2), new Uint8Array([4, 5]));
});

Deno.test("a ByteSlab refuses a copy larger than a slab and a slab size that is not a positive integer", () => {
  const slab = new ByteSlab(SLAB_BYTES);
  assert.throws(
    () => slab.copy(new Uint8Array(SLAB_BYTES + 1), 0, SLAB_BYTES + 1),
    /a copy of 65 bytes does not fit a 64-byte slab/,
  );
  assert.throws(() => new ByteSlab(0), RangeError);
  assert.throws(() => new ByteSlab(1.5), RangeError);
});
