/**
 * A store's partition digests stay right through everything that changes what it holds:
 * PUTs, PUT_MANY items (straight from the frame), deletes, purges, repair copies (older
 * versions, ignored), compactions and restarts (snapshot load and log replay). After any
 * sequence they equal the documented table recomputed from a full scan of the store and
 * from a model of what it should hold.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { Store } from "../../lib/server/store.ts";
import { int } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import {
  compareVersions,
  readVersion,
  type Version,
  writeVersion,
} from "../../lib/record/version.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import {
  assertTableIs,
  type ModelEntry,
  type ReferenceDigests,
  referenceDigests,
} from "../helpers/digests.ts";

/** The documented table of what a full scan of `store` finds. */
function scannedDigests(store: Store): ReferenceDigests {
  const held = new Map<string, ModelEntry>();
  const cursor = store.entryCursor();
  const version = new ByteWriter();
  while (cursor.next()) {
    const key = new TextDecoder().decode(cursor.key.subarray(0, cursor.keyLength));
    version.reset();
    cursor.writeVersion(version);
    held.set(key, { version: readVersion(version.bytes(), 0), tombstone: cursor.tombstone });
  }
  return referenceDigests(held);
}

function assertDigests(store: Store, expected: ReferenceDigests): void {
  assertTableIs(store.partitionDigests, expected);
}

const keyArbitrary = fc.constantFrom("a", "b", "person1", "person10", "é", "z".repeat(30));
const msArbitrary = fc.integer({ min: 1, max: 50 });
const operationArbitrary = fc.oneof(
  fc.record({ kind: fc.constant("put"), key: keyArbitrary, ms: msArbitrary }),
  fc.record({ kind: fc.constant("putMany"), key: keyArbitrary, ms: msArbitrary }),
  fc.record({ kind: fc.constant("delete"), key: keyArbitrary, ms: msArbitrary }),
  fc.record({ kind: fc.constant("purge"), key: keyArbitrary, ms: msArbitrary }),
  fc.record({ kind: fc.constant("compact") }),
  fc.record({ kind: fc.constant("restart") }),
);

Deno.test("partition digests equal a full scan's after any writes, PUT_MANY items, deletes, purges, repair copies, compactions and restarts", async () => {
  await withTempDir(async (root) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operationArbitrary, { maxLength: 30 }), async (ops) => {
        const dir = `${root}/run${run++}`;
        const model = new Map<string, ModelEntry>();
        let store = await Store.open({ dataDir: dir, onWarning: () => {} });
        try {
          for (const op of ops) {
            if (op.kind === "compact") {
              await store.compact();
              continue;
            }
            if (op.kind === "restart") {
              await store.close();
              store = await Store.open({ dataDir: dir, onWarning: () => {} });
              continue;
            }
            // A version per operation: the same ms twice is an older or equal (repair) copy.
            const version: Version = { ms: op.ms, counter: 0, broker: op.key.length };
            const held = model.get(op.key);
            const newer = held === undefined || compareVersions(version, held.version) > 0;
            if (op.kind === "purge") {
              const result = store.purge(op.key, version);
              if (held !== undefined && compareVersions(held.version, version) <= 0) {
                assert.equal(result.kind, "purged");
                model.delete(op.key);
              } else assert.notEqual(result.kind, "purged");
            } else if (op.kind === "delete") {
              assert.equal(store.delete(op.key, { version, ifNewer: true }), newer);
              if (newer) model.set(op.key, { version, tombstone: true });
            } else {
              assert.equal(storeOne(store, op.kind, op.key, version), newer);
              if (newer) model.set(op.key, { version, tombstone: false });
            }
          }
          await store.commit();
          assertDigests(store, referenceDigests(model));
          assertDigests(store, scannedDigests(store));
          await store.close();
          // And once more from the disk alone.
          store = await Store.open({ dataDir: dir, onWarning: () => {} });
          assertDigests(store, referenceDigests(model));
        } finally {
          await store.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

/** Stores `key` = 7 at `version` as a PUT does, or as a PUT_MANY item straight from its frame. */
function storeOne(store: Store, kind: "put" | "putMany", key: string, version: Version): boolean {
  if (kind === "put") return store.put(key, int(7), { version, ifNewer: true });
  const keyBytes = new TextEncoder().encode(key);
  const encoded = encodeValue(int(7));
  const source = new Uint8Array(3 + keyBytes.length + 12 + encoded.length);
  source.set(keyBytes, 3);
  writeVersion(source, 3 + keyBytes.length, version);
  source.set(encoded, 3 + keyBytes.length + 12);
  const keyEnd = 3 + keyBytes.length;
  return store.putEncodedAt(source, 3, keyEnd, keyEnd, keyEnd + 12, source.length, {
    overwrite: true,
    ifNewer: true,
  });
}

Deno.test("partition digests of a memory-only store follow PUT_MANY items stored straight from the frame", async () => {
  const store = await Store.open();
  const model = new Map<string, ModelEntry>();
  for (let index = 0; index < 500; index++) {
    const key = `key${index % 300}`;
    const version = { ms: index + 1, counter: 0, broker: 1 };
    storeOne(store, "putMany", key, version);
    model.set(key, { version, tombstone: false });
  }
  assertDigests(store, referenceDigests(model));
  await store.close();
});
