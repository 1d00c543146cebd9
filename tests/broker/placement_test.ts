import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_SHARED_PLACEMENTS, Placement } from "../../lib/broker/placement.ts";
import { PARTITION_COUNT, partitionOf } from "../../lib/record/partition.ts";

const serverIdsArbitrary = fc.uniqueArray(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `${ip}:${port}`),
  { minLength: 1, maxLength: 12, selector: (id) => id },
);

Deno.test("replicas are exactly k distinct servers, for every k", () => {
  fc.assert(fc.property(serverIdsArbitrary, fc.string(), (ids, key) => {
    const placement = new Placement(ids);
    for (let k = 1; k <= ids.length; k++) {
      const replicas = placement.replicas(key, k);
      assert.equal(replicas.length, k);
      assert.equal(new Set(replicas).size, k);
      for (const index of replicas) assert(index >= 0 && index < ids.length);
      // A smaller k is a prefix of a larger one: reads try replicas best first.
      assert.deepEqual(placement.replicas(key, 1), replicas.slice(0, 1));
      const into = new Uint32Array(k).fill(99);
      placement.replicasInto(key, into);
      assert.deepEqual(Array.from(into), replicas);
    }
    assert.throws(() => placement.replicas(key, 0), RangeError);
    assert.throws(() => placement.replicas(key, ids.length + 1), RangeError);
  }));
});

Deno.test("a preference list ranks every server once, and a key's replicas are its first k", () => {
  fc.assert(fc.property(
    serverIdsArbitrary,
    fc.string(),
    fc.integer({ min: 0, max: PARTITION_COUNT - 1 }),
    (ids, key, partition) => {
      const placement = new Placement(ids);
      const list = Array.from(placement.preferenceList(partition));
      assert.deepEqual([...list].sort((a, b) => a - b), ids.map((_, index) => index));
      const keyList = Array.from(placement.preferenceList(partitionOf(key)));
      assert.deepEqual(placement.replicas(key, ids.length), keyList);
    },
  ));
  const placement = new Placement(["a:1"]);
  assert.throws(() => placement.preferenceList(-1), RangeError);
  assert.throws(() => placement.preferenceList(PARTITION_COUNT), RangeError);
  assert.throws(() => placement.preferenceList(0.5), RangeError);
});

Deno.test("preference lists ignore the order of the server list", () => {
  fc.assert(fc.property(
    serverIdsArbitrary,
    fc.integer({ min: 0, max: PARTITION_COUNT - 1 }),
    (ids, partition) => {
      const reversed = [...ids].reverse();
      const once = Array.from(new Placement(ids).preferenceList(partition), (i) => ids[i]);
      const fromReversed = Array.from(
        new Placement(reversed).preferenceList(partition),
        (i) => reversed[i],
      );
      assert.deepEqual(fromReversed, once);
    },
  ));
});

Deno.test("every server is first in about as many preference lists as any other", () => {
  const ids = Array.from({ length: 8 }, (_, i) => `127.0.0.1:${8000 + i}`);
  const placement = new Placement(ids);
  const firsts = new Array(ids.length).fill(0);
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    firsts[placement.preferenceList(partition)[0]]++;
  }
  const expected = PARTITION_COUNT / ids.length;
  for (const count of firsts) {
    assert(Math.abs(count - expected) / expected < 0.15, `unbalanced: ${firsts.join(", ")}`);
  }
});

Deno.test("placement is deterministic and ignores the order of the server list", () => {
  fc.assert(fc.property(serverIdsArbitrary, fc.string(), (ids, key) => {
    const k = Math.min(2, ids.length);
    const once = new Placement(ids).replicas(key, k).map((i) => ids[i]);
    const again = new Placement(ids).replicas(key, k).map((i) => ids[i]);
    const reversed = [...ids].reverse();
    const fromReversed = new Placement(reversed).replicas(key, k).map((i) => reversed[i]);
    assert.deepEqual(again, once);
    assert.deepEqual(fromReversed, once);
  }));
});

Deno.test("placement balances keys across servers within 10%", () => {
  const ids = Array.from({ length: 8 }, (_, i) => `127.0.0.1:${8000 + i}`);
  const placement = new Placement(ids);
  const keyCount = 40_000;
  const k = 2;
  const counts = new Array(ids.length).fill(0);
  for (let i = 0; i < keyCount; i++) {
    for (const index of placement.replicas(`person${i}`, k)) counts[index]++;
  }
  const expected = (keyCount * k) / ids.length;
  for (const count of counts) {
    assert(Math.abs(count - expected) / expected < 0.1, `unbalanced: ${counts.join(", ")}`);
  }
});

Deno.test("adding or removing a server moves only keys whose top-k includes it", () => {
  fc.assert(fc.property(
    serverIdsArbitrary.filter((ids) => ids.length >= 2),
    fc.array(fc.string(), { minLength: 1, maxLength: 50 }),
    fc.integer({ min: 1, max: 3 }),
    (ids, keys, requestedK) => {
      const removed = ids[ids.length - 1];
      const smaller = ids.slice(0, -1);
      const k = Math.min(requestedK, smaller.length);
      const before = new Placement(ids);
      const after = new Placement(smaller);
      for (const key of keys) {
        const oldSet = before.replicas(key, k).map((i) => ids[i]);
        const newSet = after.replicas(key, k).map((i) => smaller[i]);
        if (!oldSet.includes(removed)) {
          assert.deepEqual(newSet, oldSet, "a key not on the removed server moved");
        } else {
          // Only the removed server is replaced: the survivors keep their rank order.
          assert.deepEqual(newSet.slice(0, k - 1), oldSet.filter((id) => id !== removed));
        }
      }
    },
  ));
});

Deno.test("Placement.of shares one placement per server list, ranking as a new one does", () => {
  const ids = ["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"];
  const shared = Placement.of(ids);
  assert.equal(Placement.of([...ids]), shared);
  // Indexes name positions in the list: another order is another placement.
  assert.notEqual(Placement.of([...ids].reverse()), shared);
  const fresh = new Placement(ids);
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    assert.deepEqual(shared.preferenceList(partition), fresh.preferenceList(partition));
  }
  assert.throws(() => Placement.of(["a:1", "a:1"]), RangeError);
});

Deno.test("Placement.of keeps at most MAX_SHARED_PLACEMENTS lists, letting the oldest go", () => {
  const lists = Array.from(
    { length: MAX_SHARED_PLACEMENTS + 1 },
    (_, index) => [`10.0.0.${index}:8000`, `10.0.1.${index}:8000`],
  );
  const first = Placement.of(lists[0]);
  for (const list of lists.slice(1)) Placement.of(list);
  assert.notEqual(Placement.of(lists[0]), first);
  assert.equal(Placement.of(lists.at(-1)!), Placement.of(lists.at(-1)!));
});
