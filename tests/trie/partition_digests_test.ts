/**
 * The partition digests a RecordTrie keeps on every change equal, after any sequence of
 * puts (all three write paths), tombstones, deletes and tombstone purges, the table that
 * the documented definition (lib/trie/partition_digests.ts, docs/protocol.md) gives for
 * the entries it holds — computed here by a separate, plain implementation with BigInt.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";
import { int } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { type Version, writeVersion } from "../../lib/record/version.ts";
import { versionArbitrary } from "../helpers/value_arbitrary.ts";
import { assertTableIs, type ModelEntry, referenceDigests } from "../helpers/digests.ts";

/** Asserts that `trie`'s table is the reference table of `model`. */
function assertDigestsOf(trie: RecordTrie, model: ReadonlyMap<string, ModelEntry>): void {
  assertTableIs(trie.partitionDigests, referenceDigests(model));
}

const keyArbitrary = fc.constantFrom(
  "a",
  "b",
  "person1",
  "person10",
  "é",
  "person1x",
  "k".repeat(40),
);
const operationArbitrary = fc.oneof(
  fc.record({ kind: fc.constant("put"), key: keyArbitrary, version: versionArbitrary() }),
  fc.record({ kind: fc.constant("putEncoded"), key: keyArbitrary, version: versionArbitrary() }),
  fc.record({ kind: fc.constant("putEncodedAt"), key: keyArbitrary, version: versionArbitrary() }),
  fc.record({ kind: fc.constant("tombstone"), key: keyArbitrary, version: versionArbitrary() }),
  fc.record({ kind: fc.constant("delete"), key: keyArbitrary }),
  fc.record({
    kind: fc.constant("purgeTombstones"),
    beforeMs: fc.integer({ min: 0, max: 2 ** 48 }),
  }),
);

Deno.test("partition digests: after any writes, tombstones, deletes and purges they equal the documented table of what the trie holds", () => {
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 60 }), fc.boolean(), (ops, ifNewer) => {
      const trie = new RecordTrie();
      const model = new Map<string, ModelEntry>();
      const newer = (key: string, version: Version) => {
        const held = model.get(key);
        if (!ifNewer || held === undefined) return true;
        const a = held.version;
        return a.ms !== version.ms
          ? version.ms > a.ms
          : a.counter !== version.counter
          ? version.counter > a.counter
          : version.broker > a.broker;
      };
      for (const op of ops) {
        if (op.kind === "delete") {
          trie.delete(op.key);
          model.delete(op.key);
        } else if (op.kind === "purgeTombstones") {
          trie.purgeTombstones(op.beforeMs);
          for (const [key, entry] of model) {
            if (entry.tombstone && entry.version.ms < op.beforeMs) model.delete(key);
          }
        } else if (op.kind === "tombstone") {
          const applied = newer(op.key, op.version);
          assert.equal(trie.tombstone(op.key, { version: op.version, ifNewer }), applied);
          if (applied) model.set(op.key, { version: op.version, tombstone: true });
        } else {
          const applied = newer(op.key, op.version);
          const options = { version: op.version, ifNewer };
          const encoded = encodeValue(int(7));
          let stored: boolean;
          if (op.kind === "put") stored = trie.put(op.key, int(7), options);
          else if (op.kind === "putEncoded") stored = trie.putEncoded(op.key, encoded, options);
          else {
            const key = new TextEncoder().encode(op.key);
            const source = new Uint8Array(key.length + 12 + encoded.length);
            source.set(key);
            writeVersion(source, key.length, op.version);
            source.set(encoded, key.length + 12);
            stored = trie.putEncodedAt(
              source,
              0,
              key.length,
              key.length,
              key.length + 12,
              source.length,
              { ifNewer },
            );
          }
          assert.equal(stored, applied);
          if (applied) model.set(op.key, { version: op.version, tombstone: false });
        }
      }
      assertDigestsOf(trie, model);
      trie.checkInvariants();
    }),
    { numRuns: 300 },
  );
});

Deno.test("partition digests: an empty trie's table is all zero, and it costs 64 KiB whatever the records", () => {
  const trie = new RecordTrie();
  assertDigestsOf(trie, new Map());
  const before = trie.memoryBytes;
  for (let index = 0; index < 2000; index++) trie.put(`key${index}`, int(index));
  assert.equal(PARTITION_COUNT * 16, 64 * 1024);
  // Nothing per record: the trie grew, but not by the table.
  const withTable = trie.memoryBytes;
  assert.ok(withTable > before);
  assert.equal(trie.partitionDigests.memoryBytes, 64 * 1024);
});
