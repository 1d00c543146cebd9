import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { VersionColumn } from "../../lib/trie/versions.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { int, str } from "../../lib/record/value.ts";
import {
  BASE_VERSION,
  compareVersions,
  type Version,
  VERSION_BYTES,
  writeVersion,
} from "../../lib/record/version.ts";
import { versionArbitrary } from "../helpers/value_arbitrary.ts";

Deno.test("version column: keeps, compares and reads back any version, from objects or bytes", () => {
  fc.assert(fc.property(versionArbitrary(), versionArbitrary(), fc.nat(5000), (a, b, node) => {
    const column = new VersionColumn();
    assert.equal(column.compare(node, BASE_VERSION), 0, "unset nodes hold the base version");
    column.set(node, a);
    assert.deepEqual(column.get(node), a);
    assert.equal(column.ms(node), a.ms);
    assert.equal(Math.sign(column.compare(node, b)), Math.sign(compareVersions(a, b)));
    const bytes = new Uint8Array(VERSION_BYTES + 3);
    writeVersion(bytes, 3, b);
    assert.equal(Math.sign(column.compareBytes(node, bytes, 3)), Math.sign(compareVersions(a, b)));
    column.setBytes(node + 1, bytes, 3);
    assert.deepEqual(column.get(node + 1), b);
  }));
});

Deno.test("record trie: tombstones are keys with versions that no read, count or listing shows", () => {
  const trie = new RecordTrie();
  const v = (ms: number): Version => ({ ms, counter: 0, broker: 1 });
  trie.put("person3", str("x"), { version: v(1) });
  trie.put("person30", int(30), { version: v(1) });
  assert.equal(trie.tombstone("person3", { version: v(2), ifNewer: true }), true);
  assert.equal(trie.tombstone("person3", { version: v(2), ifNewer: true }), false);
  assert.equal(trie.tombstone("person300", { version: v(3) }), true);
  trie.checkInvariants();
  assert.equal(trie.get("person3"), undefined);
  assert.equal(trie.query(["person3"]), undefined);
  assert.deepEqual(trie.keys({ prefix: "person", limit: 10 }), ["person30"]);
  assert.deepEqual([...trie.entries()].map(([key]) => key), ["person30"]);
  assert.deepEqual(
    [...trie.versionedEntries()].map(({ key, value, version }) => [key, value, version.ms]),
    [["person3", undefined, 2], ["person30", int(30), 1], ["person300", undefined, 3]],
  );
  assert.equal(trie.recordCount, 1);
  assert.equal(trie.tombstoneCount, 2);
  assert.deepEqual(trie.versionOf("person3"), v(2));
  assert.equal(trie.put("person3", str("y"), { version: v(2), ifNewer: true }), false);
  assert.equal(trie.put("person3", str("y"), { version: v(4), ifNewer: true }), true);
  assert.equal(
    trie.put("person300", str("z"), { overwrite: false }),
    true,
    "a tombstone is absent",
  );
  assert.equal(trie.tombstoneCount, 0);
  trie.tombstone("person30", { version: v(5) });
  assert.equal(trie.purgeTombstones(5), 0, "only tombstones older than the bound");
  assert.equal(trie.purgeTombstones(6), 1);
  assert.equal(trie.versionOf("person30"), undefined);
  assert.deepEqual(trie.keys({ prefix: "person", limit: 10 }), ["person3", "person300"]);
  trie.checkInvariants();
});

Deno.test("property: writeInto appends the very bytes writeVersion writes; a node never set writes the base version", () => {
  fc.assert(
    fc.property(versionArbitrary(), fc.nat({ max: 5000 }), (version, node) => {
      const column = new VersionColumn();
      column.set(node, version);
      const writer = new ByteWriter();
      column.writeInto(node, writer);
      column.writeInto(node + 100_000, writer);
      const expected = new Uint8Array(2 * VERSION_BYTES);
      writeVersion(expected, 0, version);
      writeVersion(expected, VERSION_BYTES, BASE_VERSION);
      assert.deepEqual(writer.bytes(), expected);
    }),
  );
});
