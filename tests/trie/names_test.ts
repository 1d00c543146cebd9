import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldNames } from "../../lib/trie/names.ts";

const encoder = new TextEncoder();

/** Many short names, so that some share a slot of the name cache and evict each other. */
const nameArbitrary = fc.oneof(
  fc.integer({ min: 0, max: 999 }).map((n) => `f${n}`),
  fc.constantFrom("name", "age", "height", "weight", "é", "a", "x".repeat(40)),
);

type Operation = { acquire: string; at: number } | { release: number };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ acquire: nameArbitrary, at: fc.nat(4) }),
  fc.record({ release: fc.nat() }),
);

Deno.test("acquireUtf8 and release agree with a model of reference-counted names", () => {
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 300 }), (operations) => {
      const names = new FieldNames();
      const held: Array<{ name: string; id: number }> = [];
      const idOf = new Map<string, number>();
      for (const operation of operations) {
        if ("acquire" in operation) {
          const { acquire: name, at } = operation;
          const bytes = new Uint8Array([...Array(at).fill(0x2d), ...encoder.encode(name)]);
          const id = names.acquireUtf8(bytes, at, bytes.length - at);
          const known = idOf.get(name);
          if (known !== undefined) assert.equal(id, known, `'${name}' keeps its id while in use`);
          idOf.set(name, id);
          held.push({ name, id });
          assert.equal(names.name(id), name);
        } else if (held.length > 0) {
          const [{ name, id }] = held.splice(operation.release % held.length, 1);
          names.release(id);
          if (!held.some((other) => other.name === name)) {
            idOf.delete(name);
            assert.equal(names.find(name), -1, `'${name}' is gone with its last use`);
          }
        }
        assert.equal(names.count, idOf.size);
      }
      names.checkInvariants();
    }),
    { numRuns: 300 },
  );
});

Deno.test("a name released and acquired again is found, not served stale from the cache", () => {
  const names = new FieldNames();
  const bytes = encoder.encode("street");
  const first = names.acquireUtf8(bytes, 0, bytes.length);
  names.release(first);
  const other = names.acquire("other");
  const again = names.acquireUtf8(bytes, 0, bytes.length);
  assert.equal(names.name(again), "street");
  assert.notEqual(again, other);
  assert.equal(names.find("street"), again);
  names.checkInvariants();
});
