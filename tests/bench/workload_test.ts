import assert from "node:assert/strict";
import fc from "fast-check";
import { Sfc32 } from "../../lib/gen/prng.ts";
import {
  MAX_SCAN_LENGTH,
  type Operation,
  OperationPicker,
  WORKLOAD_MIX,
  WORKLOADS,
  Zipfian,
  ZIPFIAN_CONSTANT,
} from "../../lib/bench/workload.ts";

const workload = fc.constantFrom(...WORKLOADS);
const distribution = fc.constantFrom("zipfian" as const, "uniform" as const);

Deno.test("property: operations are of the workload's kinds and touch records that exist", () => {
  fc.assert(
    fc.property(
      workload,
      distribution,
      fc.integer({ min: 1, max: 500 }),
      fc.nat(2 ** 32 - 1),
      (letter, keys, recordCount, seed) => {
        const picker = new OperationPicker({
          workload: letter,
          distribution: keys,
          recordCount,
          seed,
        });
        const kinds = Object.keys(WORKLOAD_MIX[letter].mix);
        let inserted = recordCount;
        for (let i = 0; i < 200; i++) {
          const operation = picker.next();
          assert(kinds.includes(operation.kind), `${letter}: ${operation.kind}`);
          if (operation.kind === "insert") {
            assert.equal(operation.index, inserted++, "inserts take new indexes in order");
            picker.acknowledge(operation.index);
          } else {
            assert(
              operation.index >= 0 && operation.index < picker.recordCount,
              `${operation.index}`,
            );
          }
          if (operation.kind === "scan") {
            assert(operation.scanLength! >= 1 && operation.scanLength! <= MAX_SCAN_LENGTH);
          }
        }
      },
    ),
  );
});

Deno.test("the same seed gives the same operations", () => {
  const draw = () => {
    const picker = new OperationPicker({
      workload: "E",
      distribution: "zipfian",
      recordCount: 100,
      seed: 9,
    });
    return Array.from({ length: 100 }, () => picker.next());
  };
  assert.deepEqual(draw(), draw());
});

Deno.test("reads never pick an insert not yet acknowledged, nor one past a gap", () => {
  const picker = new OperationPicker({
    workload: "D",
    distribution: "zipfian",
    recordCount: 5,
    seed: 1,
  });
  const inserts: Operation[] = [];
  while (inserts.length < 3) {
    const operation = picker.next();
    if (operation.kind === "insert") inserts.push(operation);
  }
  assert.deepEqual(inserts.map((operation) => operation.index), [5, 6, 7]);
  picker.acknowledge(6);
  assert.equal(picker.recordCount, 5, "6 is done but 5 is not");
  picker.acknowledge(5);
  assert.equal(picker.recordCount, 7);
  picker.acknowledge(7);
  assert.equal(picker.recordCount, 8);
});

Deno.test("zipfian ranks stay in range and the lowest ranks are the most frequent", () => {
  const zipfian = new Zipfian(1000, ZIPFIAN_CONSTANT);
  const random = new Sfc32(5);
  const counts = new Array(1000).fill(0);
  for (let i = 0; i < 50_000; i++) {
    const rank = zipfian.next(random);
    assert(rank >= 0 && rank < 1000);
    counts[rank]++;
  }
  assert(
    counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500],
    `${counts.slice(0, 3)}`,
  );
  zipfian.grow(2000);
  for (let i = 0; i < 1000; i++) assert(zipfian.next(random) < 2000);
});
