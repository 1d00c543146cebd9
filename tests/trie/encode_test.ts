import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, DecodeError } from "../../lib/base/bytes.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { keyArbitrary, valueArbitrary, versionArbitrary } from "../helpers/value_arbitrary.ts";
import { type Version, VERSION_BYTES, writeVersion } from "../../lib/record/version.ts";

/** What `into` appends to a writer that already holds a byte, and whether it found anything. */
function appended(into: (writer: ByteWriter) => boolean): [boolean, Uint8Array] {
  const writer = new ByteWriter();
  writer.u8(0xee);
  const found = into(writer);
  assert.equal(writer.bytes()[0], 0xee, "what was there stays");
  return [found, writer.bytes().slice(1)];
}

/** Every path into `value` below `key`, the key alone included. */
function pathsOf(key: string, value: Value): string[][] {
  const paths = [[key]];
  if (value.kind !== "object") return paths;
  for (const [name, field] of value.fields) {
    for (const rest of pathsOf(name, field)) paths.push([key, ...rest]);
  }
  return paths;
}

Deno.test("property: getInto and queryInto write exactly encodeValue of get and query", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(keyArbitrary(), valueArbitrary()), {
        selector: ([key]) => key,
        minLength: 1,
        maxLength: 8,
      }),
      (records) => {
        const trie = new RecordTrie();
        for (const [key, value] of records) trie.put(key, value);
        for (const [key, value] of records) {
          assert.deepEqual(appended((w) => trie.getInto(key, w)), [true, encodeValue(value)]);
          for (const path of pathsOf(key, value)) {
            const expected = encodeValue(trie.query(path)!);
            assert.deepEqual(appended((w) => trie.queryInto(path, w)), [true, expected]);
          }
        }
      },
    ),
  );
});

Deno.test("getInto and queryInto write nothing for a missing key, field or deleted record", () => {
  const trie = new RecordTrie();
  trie.put("a", object([["n", int(1)]]));
  trie.put("b", int(2));
  trie.delete("b");
  trie.put("c", int(3));
  trie.tombstone("c", { version: { ms: 2, counter: 0, broker: 1 } });
  const nothing: [boolean, Uint8Array] = [false, new Uint8Array()];
  assert.deepEqual(appended((w) => trie.getInto("missing", w)), nothing);
  assert.deepEqual(appended((w) => trie.getInto("b", w)), nothing);
  assert.deepEqual(appended((w) => trie.getInto("c", w)), nothing);
  assert.deepEqual(appended((w) => trie.queryInto(["c"], w)), nothing);
  assert.deepEqual(appended((w) => trie.queryInto(["a", "zip"], w)), nothing);
  assert.deepEqual(appended((w) => trie.queryInto(["a", "n", "deeper"], w)), nothing);
});

/** `version`'s 12 bytes, followed by `rest`. */
function versionThen(version: Version, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(VERSION_BYTES + rest.length);
  writeVersion(bytes, 0, version);
  bytes.set(rest, VERSION_BYTES);
  return bytes;
}

Deno.test("property: getEncodedAt writes a record's version and value, a tombstone's version, nothing for a missing key", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(keyArbitrary(), valueArbitrary(3), versionArbitrary(), fc.boolean()),
        { selector: ([key]) => key, minLength: 1, maxLength: 8 },
      ),
      keyArbitrary(),
      (entries, missing) => {
        const trie = new RecordTrie();
        for (const [key, value, version, deleted] of entries) {
          if (deleted) trie.tombstone(key, { version });
          else trie.put(key, value, { version });
        }
        for (const [key, value, version, deleted] of entries) {
          // The key sits inside a larger buffer, as it does in a request frame.
          const bytes = encoder.encode(`{${key}}`);
          const expected = deleted
            ? [false, versionThen(version)]
            : [true, versionThen(version, encodeValue(value))];
          assert.deepEqual(
            appended((w) => trie.getEncodedAt(bytes, 1, bytes.length - 1, w)),
            expected,
          );
        }
        if (entries.every(([key]) => key !== missing)) {
          const bytes = encoder.encode(missing);
          const nothing = [false, new Uint8Array(0)];
          assert.deepEqual(appended((w) => trie.getEncodedAt(bytes, 0, bytes.length, w)), nothing);
        }
      },
    ),
  );
});

Deno.test("getEncodedAt refuses bytes that are no key, writing nothing", () => {
  const trie = new RecordTrie();
  trie.put("a", int(1));
  for (const bad of [new Uint8Array(0), new Uint8Array([0x61, 0x2e]), new Uint8Array([0xff])]) {
    const writer = new ByteWriter();
    assert.throws(() => trie.getEncodedAt(bad, 0, bad.length, writer), DecodeError);
    assert.equal(writer.length, 0);
  }
});

Deno.test("getInto writes every int32 edge, its varint lengths and both signs, as encodeValue does", () => {
  const edges = [0, 1, 127, 128, 16383, 16384, -1, -127, -128, -129, 2 ** 31 - 1, -(2 ** 31)];
  // Beyond int32 the arena keeps an int out of line: those are written the other way.
  const wide = [2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  const trie = new RecordTrie();
  const record = object([...edges, ...wide].map((value, i) => [`f${i}`, int(value)]));
  trie.put("k", record);
  assert.deepEqual(appended((w) => trie.getInto("k", w)), [true, encodeValue(record)]);
  for (const value of [...edges, ...wide]) {
    trie.put("k", int(value));
    assert.deepEqual(appended((w) => trie.getInto("k", w)), [true, encodeValue(int(value))]);
  }
});

Deno.test("getInto and queryInto measure an answer whose room long names would make large, and write it as encodeValue does", () => {
  // 100 names of about 1000 bytes: bounding the answer by a longest name per node would
  // make some 100 KB of room, past what encodeNode guesses, so the answer is measured first.
  const name = (i: number) => `${"n".repeat(1000)}${i}`;
  const nested = object([["city", str("Oslo")], ["zip", int(-5)], ["x", float(0.5)]]);
  const record = object(Array.from({ length: 100 }, (_, i): [string, Value] => {
    if (i % 4 === 0) return [name(i), str(`a long string value, ${i}, past the hand-copied run`)];
    if (i % 4 === 1) return [name(i), int(i % 8 === 1 ? 2 ** 40 : -i)];
    if (i % 4 === 2) return [name(i), float(i + 0.25)];
    return [name(i), i % 8 === 3 ? nested : str("ab")];
  }));
  const trie = new RecordTrie();
  trie.put("k", record);
  assert.deepEqual(appended((w) => trie.getInto("k", w)), [true, encodeValue(record)]);
  for (const path of pathsOf("k", record)) {
    const expected = encodeValue(trie.query(path)!);
    assert.deepEqual(appended((w) => trie.queryInto(path, w)), [true, expected]);
  }
});
