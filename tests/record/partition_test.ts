import assert from "node:assert/strict";
import fc from "fast-check";
import {
  hashKey,
  hashKeyBytes,
  mix32,
  PARTITION_COUNT,
  partitionOf,
  partitionOfBytes,
} from "../../lib/record/partition.ts";

const encoder = new TextEncoder();

Deno.test("hashKey hashes UTF-8 bytes: equal for equal text, lone surrogates as U+FFFD", () => {
  assert.equal(hashKey("person1"), hashKey("person" + "1"));
  assert.notEqual(hashKey("person1"), hashKey("person2"));
  assert.equal(hashKey("a\ud800b"), hashKey("a\ufffdb"));
  assert.notEqual(hashKey("é"), hashKey("e"));
  assert.equal(mix32(0), 0);
});

Deno.test("a server hashing key bytes agrees with a broker hashing the key text", () => {
  fc.assert(fc.property(fc.string({ unit: "grapheme" }), (key) => {
    const bytes = encoder.encode(key);
    assert.equal(hashKeyBytes(bytes), hashKey(key));
    assert.equal(partitionOfBytes(bytes), partitionOf(key));
    const framed = new Uint8Array([7, ...bytes, 9]);
    assert.equal(partitionOfBytes(framed, 1, bytes.length + 1), partitionOf(key));
  }));
});

Deno.test("partitions are in range and spread keys within 25% of even", () => {
  const counts = new Uint32Array(PARTITION_COUNT);
  const keyCount = PARTITION_COUNT * 64;
  for (let i = 0; i < keyCount; i++) {
    const partition = partitionOf(`person${i}`);
    assert(partition >= 0 && partition < PARTITION_COUNT);
    counts[partition]++;
  }
  // 64 keys a partition on average: a binomial spread stays well inside ±25 of 64 for
  // all but a handful of partitions; a broken hash piles them into few.
  const far = counts.filter((count) => Math.abs(count - 64) > 32).length;
  assert(far <= 8, `${far} partitions hold fewer than 32 or more than 96 keys`);
});
