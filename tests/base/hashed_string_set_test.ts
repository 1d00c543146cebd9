import assert from "node:assert/strict";
import fc from "fast-check";
import { HashedStringSet } from "../../lib/base/hashed_string_set.ts";
import { hashKey } from "../../lib/record/partition.ts";

/** Hashes that collide a lot (few distinct values, high bits set), so runs form and wrap around. */
function poorHash(key: string): number {
  return (key.length * 0x9e3779b1) | 0;
}

Deno.test("HashedStringSet answers as a Set does over any adds and deletes, with hashes that collide or not", () => {
  fc.assert(
    fc.property(
      // Keys of a small pool (31 strings of a and b), so that deletes find what adds put.
      fc.array(
        fc.tuple(fc.boolean(), fc.string({ unit: fc.constantFrom("a", "b"), maxLength: 4 })),
        { maxLength: 200 },
      ),
      fc.boolean(),
      (steps, poor) => {
        const hash = poor ? poorHash : hashKey;
        const set = new HashedStringSet(4);
        const model = new Set<string>();
        for (const [add, key] of steps) {
          if (add && !set.has(key, hash(key))) {
            set.add(key, hash(key));
            model.add(key);
          } else if (!add && set.has(key, hash(key))) {
            set.delete(key, hash(key));
            model.delete(key);
          }
          assert.equal(set.size, model.size);
        }
        for (const [, key] of steps) assert.equal(set.has(key, hash(key)), model.has(key), key);
      },
    ),
  );
});

Deno.test("HashedStringSet refuses a slot count that is not a power of two", () => {
  assert.throws(() => new HashedStringSet(6), /slots are a power of two/);
});
