import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { FieldNames } from "../../lib/trie/names.ts";

/** What `writeName` appends for name `id`. */
function written(names: FieldNames, id: number): Uint8Array {
  const writer = new ByteWriter();
  names.writeName(id, writer);
  return writer.bytes();
}

/** A field name in the value encoding: a varint byte length, then its UTF-8. */
function encodedName(name: string): Uint8Array {
  const writer = new ByteWriter();
  writer.varintString(name);
  return writer.bytes();
}

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

Deno.test("acquireUtf8, release, the wire forms and the longest of them agree with a model of reference-counted names", () => {
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 300 }), (operations) => {
      const names = new FieldNames();
      const held: Array<{ name: string; id: number }> = [];
      const idOf = new Map<string, number>();
      let longest = 0;
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
          assert.deepEqual(written(names, id), encodedName(name));
          const wire = new Uint8Array(names.wireLength(id) + 1);
          assert.equal(names.copyWire(id, wire, 1), wire.length);
          assert.deepEqual(wire.subarray(1), encodedName(name));
          longest = Math.max(longest, wire.length - 1);
        } else if (held.length > 0) {
          const [{ name, id }] = held.splice(operation.release % held.length, 1);
          names.release(id);
          if (!held.some((other) => other.name === name)) {
            idOf.delete(name);
            assert.equal(names.find(name), -1, `'${name}' is gone with its last use`);
          }
        }
        assert.equal(names.count, idOf.size);
        assert.equal(names.longestWire, longest, "the longest wire form ever added");
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

Deno.test("names' wire forms survive the compaction of released ones, and new names go after them", () => {
  const names = new FieldNames();
  const long = (n: number) => `${"n".repeat(100)}${n}`;
  // 2000 names of about 100 bytes: released, all but every tenth, they are far more than
  // the garbage a compaction waits for.
  const ids = Array.from({ length: 2000 }, (_, n) => names.acquire(long(n)));
  ids.forEach((id, n) => n % 10 !== 0 && names.release(id));
  for (let n = 0; n < ids.length; n += 10) {
    assert.deepEqual(written(names, ids[n]), encodedName(long(n)));
  }
  const later = names.acquire("é later");
  assert.deepEqual(written(names, later), encodedName("é later"));
  names.checkInvariants();
});
