import assert from "node:assert/strict";
import fc from "fast-check";
import { type EntryCursor, RecordTrie } from "../../lib/trie/mod.ts";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { int, str } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { compareKeys } from "../../lib/base/utf8.ts";
import { readVersion, type Version } from "../../lib/record/version.ts";

/** One key's state as a snapshot keeps it: version, and the encoded value or "tombstone". */
type State = [key: string, ms: number, value: string];

function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? "tombstone" : Array.from(bytes, (b) => b.toString(16)).join(" ");
}

/** The entry a frozen view hands over, as a snapshot would hold it. */
function stateOfEntry(entry: EntryCursor): State {
  const versionBytes = new ByteWriter();
  entry.writeVersion(versionBytes);
  const ms = readVersion(versionBytes.bytes(), 0).ms;
  const key = new TextDecoder().decode(entry.key.subarray(0, entry.keyLength));
  if (entry.tombstone) return [key, ms, "tombstone"];
  const value = new ByteWriter();
  entry.writeValue(value);
  return [key, ms, hex(value.bytes())];
}

/** Every key of `trie` now, in key order, as a snapshot would hold it. */
function stateOf(trie: RecordTrie): State[] {
  return [...trie.versionedEntries()].map(({ key, value, version }) => [
    key,
    version.ms,
    hex(value === undefined ? undefined : encodeValue(value)),
  ]);
}

// Keys from a small alphabet, including characters past U+FFFF, so that writes often
// fall on both sides of the cursor and key order (UTF-8 bytes) differs from UTF-16's.
const keyArbitrary = fc.array(fc.constantFrom("a", "b", "ab", "\uffff", "😀", "z"), {
  minLength: 1,
  maxLength: 3,
}).map((parts) => parts.join(""));

type Operation =
  | { kind: "put"; key: string; n: number }
  | { kind: "tombstone"; key: string }
  | { kind: "delete"; key: string }
  | { kind: "read"; count: number };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), key: keyArbitrary, n: fc.nat(1000) }),
  fc.record({ kind: fc.constant("tombstone" as const), key: keyArbitrary }),
  fc.record({ kind: fc.constant("delete" as const), key: keyArbitrary }),
  fc.record({ kind: fc.constant("read" as const), count: fc.integer({ min: 0, max: 4 }) }),
);

let clock = 1;
const nextVersion = (): Version => ({ ms: clock++, counter: 0, broker: 1 });

function apply(trie: RecordTrie, operation: Operation): void {
  if (operation.kind === "put") {
    trie.put(operation.key, operation.n % 2 ? int(operation.n) : str(`v${operation.n}`), {
      version: nextVersion(),
    });
  } else if (operation.kind === "tombstone") {
    trie.tombstone(operation.key, { version: nextVersion() });
  } else if (operation.kind === "delete") {
    trie.delete(operation.key);
  }
}

Deno.test("frozen view: reads exactly the keys at the freeze, in key order, whatever is written, tombstoned or removed between its slices", () => {
  fc.assert(
    fc.property(
      fc.array(operationArbitrary, { maxLength: 30 }),
      fc.array(operationArbitrary, { maxLength: 60 }),
      (before, during) => {
        const trie = new RecordTrie();
        for (const operation of before) apply(trie, operation);
        const frozen = stateOf(trie);
        const view = trie.freeze();
        assert.equal(view.entryCount, frozen.length);
        const read: State[] = [];
        const visit = (entry: EntryCursor) => read.push(stateOfEntry(entry));
        const slice = (count: number) => {
          let left = count;
          if (!view.done) view.read(visit, () => left-- > 0);
        };
        for (const operation of during) {
          if (operation.kind === "read") slice(operation.count);
          else apply(trie, operation);
        }
        while (!view.done) slice(3);
        view.close();
        assert.deepEqual(read, frozen);
        assert.deepEqual(
          read.map(([key]) => key),
          read.map(([key]) => key).sort(compareKeys),
        );
        trie.freeze().close(); // the view let go of the trie
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("frozen view: purged tombstones ahead of the walk are still read, from copies made only for keys ahead of it", () => {
  const trie = new RecordTrie();
  for (let i = 0; i < 100; i++) {
    trie.tombstone(`k${String(i).padStart(3, "0")}`, { version: { ms: i, counter: 0, broker: 1 } });
  }
  trie.put("k050", int(1), { version: { ms: 500, counter: 0, broker: 1 } });
  const frozen = stateOf(trie);
  const view = trie.freeze();
  const read: State[] = [];
  let left = 10;
  view.read((entry) => read.push(stateOfEntry(entry)), () => left-- > 0);
  assert.equal(trie.purgeTombstones(1000), 99);
  trie.put("k099", str("new"), { version: { ms: 600, counter: 0, broker: 1 } });
  // k010..k099 are ahead: the 89 tombstones among them were purged (k099 then written again).
  assert.equal(view.copyCount, 89);
  while (!view.done) {
    view.read((entry) => read.push(stateOfEntry(entry)), () => true);
  }
  assert.deepEqual(read, frozen);
  trie.put("k000", int(3)); // behind the walk, which has ended: nothing more is copied
  assert.equal(view.copyCount, 89);
  view.close();
  assert.throws(() => view.read(() => {}, () => true), /closed or finished/);
});
