import assert from "node:assert/strict";
import fc from "fast-check";
import { PartitionSet } from "../../lib/broker/partition_set.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";

Deno.test("partition set: behaves as a set of partition numbers, in ascending order, as a bitmap", () => {
  fc.assert(fc.property(fc.array(fc.nat(PARTITION_COUNT - 1)), (partitions) => {
    const set = new PartitionSet(partitions);
    const model = new Set(partitions);
    assert.equal(set.size, model.size);
    assert.deepEqual([...set], [...model].sort((a, b) => a - b));
    for (const partition of model) {
      assert.equal((set.bytes()[partition >> 3] >> (partition & 7)) & 1, 1);
    }
  }));
  assert.equal(PartitionSet.all().size, PARTITION_COUNT);
  assert.throws(() => new PartitionSet([PARTITION_COUNT]), RangeError);
});
