import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, DecodeError, LimitExceededError } from "../../lib/base/bytes.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "../../lib/limits.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { compareKeys } from "../../lib/base/utf8.ts";
import {
  type Field,
  float,
  getField,
  int,
  object,
  str,
  type Value,
} from "../../lib/record/value.ts";
import {
  decodeValue,
  encodeValue,
  OBJECT_END,
  ValueTag,
  writeValue,
} from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { seededRandom } from "./fixture.ts";
import { MAX_SEED } from "../../lib/gen/prng.ts";
import { VERSION_BYTES, writeVersion } from "../../lib/record/version.ts";
import type { PathMiss } from "../../lib/record/query_path.ts";

const encoder = new TextEncoder();

/** Each key's UTF-8 bytes as a string of char codes 0..255, whose plain order is byte order. */
const byteStrings = new Map<string, string>();

function byteString(text: string): string {
  let bytes = byteStrings.get(text);
  if (bytes === undefined) {
    bytes = String.fromCharCode(...encoder.encode(text));
    byteStrings.set(text, bytes);
  }
  return bytes;
}

/**
 * The reference order, computed independently of compareKeys: raw UTF-8 bytes, compared
 * as strings of one char per byte (the oracle sorts every key often: a byte loop per
 * comparison was most of this file's time).
 */
function byteOrder(a: string, b: string): number {
  const x = byteString(a);
  const y = byteString(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const KEY_PIECES = ["p", "e", "rson", "3", "0", "x", "é", "😀", "\uffff", "a", "person3"];
const NAMES = ["name", "age", "street", "n", "na", "nam", "é", "😀", "level", "x", "names"];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function randomKey(next: () => number): string {
  let key = "";
  const pieces = 1 + Math.floor(next() * 4);
  for (let i = 0; i < pieces; i++) key += pick(next, KEY_PIECES);
  return key;
}

function randomString(next: () => number): string {
  const alphabet = ["a", "b", "Z", "0", "é", "€", "😀", "\0", " "];
  let text = "";
  const length = Math.floor(next() * 9);
  for (let i = 0; i < length; i++) text += pick(next, alphabet);
  return text;
}

function randomValue(next: () => number, depth: number): Value {
  const choice = next();
  if (choice < 0.35 && depth < 4) {
    const count = Math.floor(next() * 5);
    const names = [...NAMES].sort(() => next() - 0.5).slice(0, count);
    // Sometimes a one-off name, so names get interned and released again.
    if (next() < 0.1) names.push(`f${Math.floor(next() * 1e6)}`);
    return object(names.map((name): Field => [name, randomValue(next, depth + 1)]));
  }
  if (choice < 0.55) return str(randomString(next));
  if (choice < 0.7) return int(Math.floor((next() - 0.5) * 200));
  if (choice < 0.75) return int(Math.floor((next() - 0.5) * 2 ** 53));
  if (choice < 0.9) return float(Math.round(next() * 1000) / 100);
  return float(Math.floor(next() * 5));
}

/**
 * The oracle's keys kept in byte order as they come and go, so that a page of keys is a
 * binary search and a walk, not a sort of every key per KEYS (which was most of this
 * file's time).
 */
class SortedKeys {
  readonly #keys: string[] = [];

  add(key: string): void {
    this.#keys.splice(this.#lowerBound(byteString(key)), 0, key);
  }

  remove(key: string): void {
    const at = this.#lowerBound(byteString(key));
    assert.equal(this.#keys[at], key);
    this.#keys.splice(at, 1);
  }

  /** The first `limit` keys that start with `prefix` and come after `after`, in byte order. */
  page(prefix: string, after: string | undefined, limit: number): string[] {
    let at = this.#lowerBound(byteString(prefix));
    if (after !== undefined) {
      at = Math.max(at, this.#lowerBound(byteString(after)));
      if (this.#keys[at] === after) at++;
    }
    const page: string[] = [];
    for (; at < this.#keys.length && page.length < limit; at++) {
      if (!this.#keys[at].startsWith(prefix)) break;
      page.push(this.#keys[at]);
    }
    return page;
  }

  /** The index of the first key whose bytes are not below `bytes`. */
  #lowerBound(bytes: string): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (byteString(this.#keys[middle]) < bytes) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Runs `operationCount` random operations against the trie and a Map oracle. */
function runAgainstOracle(seed: number, operationCount: number): void {
  const next = seededRandom(seed);
  const trie = new RecordTrie({ initialNodeCapacity: 4 });
  const oracle = new Map<string, Value>();
  const sorted = new SortedKeys();
  for (let step = 0; step < operationCount; step++) {
    const operation = next();
    const key = randomKey(next);
    if (operation < 0.35) {
      const value = randomValue(next, 0);
      const overwrite = next() < 0.7;
      const expected = overwrite || !oracle.has(key);
      assert.equal(trie.put(key, value, { overwrite }), expected, `put ${key}`);
      if (expected && !oracle.has(key)) sorted.add(key);
      if (expected) oracle.set(key, value);
    } else if (operation < 0.55) {
      if (oracle.has(key)) sorted.remove(key);
      assert.equal(trie.delete(key), oracle.delete(key), `delete ${key}`);
    } else if (operation < 0.7) {
      assert.deepEqual(trie.get(key), oracle.get(key), `get ${key}`);
    } else if (operation < 0.85) {
      const path = [key];
      const depth = Math.floor(next() * 4);
      for (let i = 0; i < depth; i++) path.push(pick(next, NAMES));
      let expected: Value | undefined = oracle.get(key);
      for (let i = 1; i < path.length && expected !== undefined; i++) {
        expected = getField(expected, path[i]);
      }
      assert.deepEqual(trie.query(path), expected, `query ${path.join(".")}`);
    } else {
      const points = [...randomKey(next)];
      const prefix = next() < 0.3 ? "" : points.slice(0, 1 + Math.floor(next() * 3)).join("");
      const after = next() < 0.5 ? undefined : randomKey(next);
      const limit = Math.floor(next() * 12);
      const expected = sorted.page(prefix, after, limit);
      assert.deepEqual(trie.keys({ prefix, limit, after }), expected, `keys ${prefix} ${after}`);
    }
    assert.equal(trie.recordCount, oracle.size);
    if (step % 1000 === 999) {
      trie.checkInvariants();
      const expected = [...oracle.entries()].sort(([a], [b]) => byteOrder(a, b));
      assert.deepEqual([...trie.entries()], expected);
    }
  }
  trie.checkInvariants();
}

Deno.test("RecordTrie matches a Map oracle over 3 × 20 000 random operations", () => {
  for (const seed of [1, 2, 3]) runAgainstOracle(seed, 20_000);
});

Deno.test("RecordTrie matches a Map oracle for fast-check operation sequences", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MAX_SEED }),
      fc.integer({ min: 1, max: 400 }),
      (seed, count) => {
        runAgainstOracle(seed, count);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("property: getEncodedAt writes the key's version and then its value's encoding, as versionOf and get see them", () => {
  const keys = ["k", "k1", "k10", "é", "person1"];
  const ints = fc.constantFrom(
    0,
    -0,
    127,
    128,
    -128,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    -(2 ** 31) - 1,
  );
  const value = fc.oneof(
    valueArbitrary(3),
    ints.map(int),
    fc.tuple(keyArbitrary(), ints).map(
      ([name, n]) => object([[name, int(n)], ["s", str("x".repeat(n & 0xff))]]),
    ),
  );
  const operation = fc.record({
    kind: fc.constantFrom("put", "tombstone", "delete"),
    key: fc.constantFrom(...keys),
    value,
    ms: fc.nat(50),
  });
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
      const trie = new RecordTrie();
      for (const { kind, key, value, ms } of operations) {
        const version = { ms, counter: 0, broker: 1 };
        if (kind === "put") trie.put(key, value, { version, ifNewer: true });
        else if (kind === "tombstone") trie.tombstone(key, { version, ifNewer: true });
        else trie.delete(key);
        // Asked with the key inside a larger buffer, after bytes already written.
        for (const asked of [...keys, "person", "zz"]) {
          const source = encoder.encode(`..${asked}.`);
          const writer = new ByteWriter();
          writer.u8(7);
          const found = trie.getEncodedAt(source, 2, source.length - 1, writer);
          const expected = new ByteWriter();
          expected.u8(7);
          const held = trie.versionOf(asked);
          if (held !== undefined) {
            const bytes = new Uint8Array(VERSION_BYTES);
            writeVersion(bytes, 0, held);
            expected.raw(bytes);
          }
          const stored = trie.get(asked);
          if (stored !== undefined) expected.raw(encodeValue(stored));
          assert.equal(found, stored !== undefined, asked);
          assert.deepEqual(writer.bytes(), expected.bytes(), asked);
        }
      }
      trie.checkInvariants();
    }),
    { numRuns: 300 },
  );
});

Deno.test("compareKeys orders like UTF-8 bytes", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
      assert.equal(Math.sign(compareKeys(a, b)), Math.sign(byteOrder(a, b)));
    }),
  );
  assert(compareKeys("\uffff", "😀") < 0);
  assert(compareKeys("a", "ab") < 0);
  assert.equal(compareKeys("é", "é"), 0);
});

Deno.test("delete is exact: deleting person3 keeps person30 and person3x", () => {
  const trie = new RecordTrie();
  for (const key of ["person3", "person30", "person3x", "person"]) trie.put(key, str(key));
  assert.equal(trie.delete("person3"), true);
  assert.equal(trie.delete("person3"), false);
  assert.equal(trie.delete("person30x"), false);
  assert.equal(trie.get("person3"), undefined);
  assert.deepEqual(trie.get("person30"), str("person30"));
  assert.deepEqual(trie.get("person3x"), str("person3x"));
  assert.deepEqual(trie.get("person"), str("person"));
  assert.deepEqual(trie.keys({ limit: 10 }), ["person", "person30", "person3x"]);
  assert.equal(trie.recordCount, 3);
  trie.checkInvariants();
});

Deno.test("query returns sub-values and undefined for scalars and missing fields", () => {
  const trie = new RecordTrie();
  const address = object([["street", str("Main")], ["number", int(5)]]);
  trie.put("person1", object([["age", int(22)], ["address", address]]));
  trie.put("scalar", int(7));
  assert.deepEqual(trie.query(["person1", "address", "street"]), str("Main"));
  assert.deepEqual(trie.query(["person1", "address"]), address);
  assert.deepEqual(trie.query(["person1"]), trie.get("person1"));
  assert.equal(trie.query(["person1", "age", "x"]), undefined);
  assert.equal(trie.query(["person1", "address", "city"]), undefined);
  assert.equal(trie.query(["person1", "neverSeenName"]), undefined);
  assert.equal(trie.query(["scalar", "age"]), undefined);
  assert.equal(trie.query(["person2", "age"]), undefined);
});

Deno.test("queryMiss names the first segment a path cannot take: a field the object lacks (with the nearest name) or a scalar it runs into", () => {
  const trie = new RecordTrie();
  const address = object([["street", str("Main")], ["number", int(5)], ["Zip", str("0150")]]);
  trie.put("person1", object([["age", int(22)], ["address", address], ["wide", wideObject()]]));
  trie.put("scalar", float(1.5));
  trie.put("short", object([["y", int(1)], ["Z", int(2)]]));
  trie.tombstone("gone", { version: { ms: 1, counter: 0, broker: 1 } });
  const cases: [string[], PathMiss | undefined][] = [
    [["person1", "address", "stret"], { reason: "no-field", segment: 2, closest: "street" }],
    [["person1", "adress", "street"], { reason: "no-field", segment: 1, closest: "address" }],
    [["person1", "address", "zip"], { reason: "no-field", segment: 2, closest: "Zip" }],
    [["person1", "address", "city"], { reason: "no-field", segment: 2 }],
    [["person1", "neverSeenName"], { reason: "no-field", segment: 1 }],
    [["person1", "wide", "field0100x"], { reason: "no-field", segment: 2, closest: "field0100" }],
    [["person1", "age", "x"], { reason: "not-object", segment: 2, value: int(22) }],
    [["person1", "address", "street", "a", "b"], {
      reason: "not-object",
      segment: 3,
      value: str("Main"),
    }],
    [["scalar", "x"], { reason: "not-object", segment: 1, value: float(1.5) }],
    // A one-letter name is one edit from any other: only its other case is suggested.
    [["short", "x"], { reason: "no-field", segment: 1 }],
    [["short", "z"], { reason: "no-field", segment: 1, closest: "Z" }],
    [["gone", "x"], undefined],
    [["nobody", "x"], undefined],
  ];
  for (const [path, miss] of cases) {
    assert.equal(trie.query(path), undefined, path.join("."));
    assert.deepEqual(trie.queryMiss(path), miss, path.join("."));
  }
  assert.throws(() => trie.queryMiss(["person1", "age"]), /holds a value/);
});

/** An object wide enough for the arena's field index (`INDEXED_OBJECT`). */
function wideObject(): Value {
  return object(
    Array.from({ length: 300 }, (_, i) => [`field${String(i).padStart(4, "0")}`, int(i)]),
  );
}

Deno.test("field order is preserved and int stays distinct from float", () => {
  const trie = new RecordTrie();
  const value = object([
    ["zeta", int(2)],
    ["alpha", float(2)],
    ["mid", object([["b", float(-0)], ["a", int(-2147483648)]])],
    ["wide", int(Number.MAX_SAFE_INTEGER)],
    ["negativeWide", int(-(2 ** 31) - 1)],
    ["empty", object([])],
  ]);
  trie.put("k", value);
  const read = trie.get("k")!;
  assert.deepEqual(read, value);
  assert.deepEqual(trie.query(["k", "zeta"]), int(2));
  assert.deepEqual(trie.query(["k", "alpha"]), float(2));
  assert(Object.is((trie.query(["k", "mid", "b"]) as { value: number }).value, -0));
});

Deno.test("strings round-trip: empty, unicode, NUL, and around the 4-byte inline size", () => {
  const texts = [
    "",
    "a",
    "abcd",
    "abcde",
    "€a",
    "€ab",
    "😀",
    "😀a",
    "\0",
    "\0\0\0\0\0",
    "ü".repeat(40),
  ];
  const trie = new RecordTrie();
  texts.forEach((text, i) => trie.put(`k${i}`, object([["s", str(text)]])));
  texts.forEach((text, i) => assert.deepEqual(trie.query([`k${i}`, "s"]), str(text)));
  trie.put("long", str("x".repeat(100_000)));
  assert.deepEqual(trie.get("long"), str("x".repeat(100_000)));
});

Deno.test("unicode record keys and field names round-trip", () => {
  const trie = new RecordTrie();
  trie.put("ключ😀", object([["имя", str("v")], ["名前", int(1)]]));
  assert.deepEqual(trie.get("ключ😀"), object([["имя", str("v")], ["名前", int(1)]]));
  assert.deepEqual(trie.keys({ prefix: "клю", limit: 5 }), ["ключ😀"]);
});

Deno.test("put with overwrite false refuses an existing key and changes nothing", () => {
  const trie = new RecordTrie();
  assert.equal(trie.put("k", int(1), { overwrite: false }), true);
  assert.equal(trie.put("k", int(2), { overwrite: false }), false);
  assert.deepEqual(trie.get("k"), int(1));
  assert.equal(trie.put("k", int(3)), true);
  assert.deepEqual(trie.get("k"), int(3));
  assert.equal(trie.recordCount, 1);
});

Deno.test("invalid keys and values throw and leave the trie unchanged", () => {
  const trie = new RecordTrie();
  trie.put("keep", object([["a", int(1)]]));
  const deep = (levels: number): Value =>
    levels === 1 ? object([]) : object([["n", deep(levels - 1)]]);
  trie.put("deepest", deep(MAX_NESTING_DEPTH));
  trie.put("k".repeat(MAX_KEY_BYTES), int(1));
  const before = [...trie.entries()];
  const stats = trie.memoryStats();
  assert.throws(() => trie.put("", int(1)), DecodeError);
  assert.throws(() => trie.put("a.b", int(1)), DecodeError);
  assert.throws(() => trie.put("k".repeat(MAX_KEY_BYTES + 1), int(1)), LimitExceededError);
  assert.throws(() => trie.put("é".repeat(MAX_KEY_BYTES / 2 + 1), int(1)), LimitExceededError);
  assert.throws(() => trie.put("\ud800", int(1)), DecodeError);
  assert.throws(() => trie.put("x", deep(MAX_NESTING_DEPTH + 1)), RangeError);
  assert.throws(() => trie.put("x", { kind: "int", value: 1.5 }), RangeError);
  assert.throws(() => trie.put("x", { kind: "float", value: NaN }), RangeError);
  assert.throws(() => trie.put("x", str("\udc00")), TypeError);
  assert.throws(() => trie.put("x", object([["a.b", int(1)]])), DecodeError);
  assert.throws(() => trie.put("x", object([["", int(1)]])), DecodeError);
  assert.throws(() => trie.put("x", { kind: "bool" } as unknown as Value), TypeError);
  // A duplicate name is only found while names are interned: the interning is undone.
  const duplicate = object([["fresh1", object([["fresh2", int(1)]])], ["fresh1", int(2)]]);
  assert.throws(() => trie.put("x", duplicate), RangeError);
  assert.throws(() => trie.put("keep", duplicate, { overwrite: false }), RangeError);
  assert.throws(() => trie.get("a.b"), DecodeError);
  assert.throws(() => trie.delete(""), DecodeError);
  assert.throws(() => trie.query([]), DecodeError);
  assert.throws(() => trie.keys({ limit: -1 }), RangeError);
  assert.throws(() => trie.keys({ limit: 1, prefix: "\ud83d" }), TypeError);
  assert.deepEqual([...trie.entries()], before);
  assert.equal(trie.memoryStats().distinctFieldNames, stats.distinctFieldNames);
  assert.equal(trie.memoryStats().arenaUsedBytes, stats.arenaUsedBytes);
  trie.checkInvariants();
});

Deno.test("keys pages through every key with after, in byte order", () => {
  const trie = new RecordTrie();
  const all: string[] = [];
  for (let i = 0; i < 500; i++) {
    const key = `person${i}${i % 7 === 0 ? "é" : ""}`;
    all.push(key);
    trie.put(key, int(i));
  }
  all.sort(byteOrder);
  const paged: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = trie.keys({ prefix: "person", limit: 37, after });
    if (page.length === 0) break;
    paged.push(...page);
    after = page[page.length - 1];
  }
  assert.deepEqual(paged, all);
  assert.deepEqual(trie.keys({ prefix: "person4", limit: 3 }), [
    "person4",
    "person40",
    "person400",
  ]);
  assert.deepEqual(trie.keys({ prefix: "persons", limit: 3 }), []);
  assert.deepEqual(trie.keys({ limit: 2, after: "person98" }), ["person98é", "person99"]);
  assert.deepEqual(trie.keys({ limit: 2, after: "person99" }), []);
  assert.deepEqual(trie.keys({ prefix: "person9", limit: 2, after: "a" }), ["person9", "person90"]);
  assert.deepEqual(trie.keys({ prefix: "person9", limit: 2, after: "q" }), []);
  assert.deepEqual(trie.keys({ limit: 0 }), []);
});

Deno.test("entries refuses to continue after the trie changed", () => {
  const trie = new RecordTrie();
  trie.put("a", int(1));
  trie.put("b", int(2));
  const iterator = trie.entries();
  iterator.next();
  trie.put("c", int(3));
  assert.throws(() => iterator.next(), /changed/);
});

Deno.test("memory stays bounded when the same 1000 records are put and deleted 100 times", () => {
  const trie = new RecordTrie();
  const next = seededRandom(7);
  const values = Array.from({ length: 1000 }, () => randomValue(next, 0));
  let maxAfterFirstRound = 0;
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 1000; i++) trie.put(`record${i}`, values[i]);
    for (let i = 0; i < 1000; i++) trie.put(`record${i}`, values[(i + round) % 1000]);
    for (let i = 0; i < 1000; i++) assert(trie.delete(`record${i}`));
    if (round === 0) maxAfterFirstRound = trie.memoryBytes;
    assert(trie.memoryBytes <= maxAfterFirstRound * 2, `round ${round}: ${trie.memoryBytes}`);
  }
  assert.equal(trie.recordCount, 0);
  const stats = trie.memoryStats();
  assert.equal(stats.keyNodes, 1);
  assert.equal(stats.distinctFieldNames, 0);
  trie.checkInvariants();
});

Deno.test("interned field names are released when no record uses them", () => {
  const trie = new RecordTrie();
  for (let i = 0; i < 2000; i++) trie.put("k", object([[`field${i}`, int(i)]]));
  assert.equal(trie.memoryStats().distinctFieldNames, 1);
  assert.deepEqual(trie.get("k"), object([["field1999", int(1999)]]));
  trie.delete("k");
  assert.equal(trie.memoryStats().distinctFieldNames, 0);
  trie.checkInvariants();
});

Deno.test("putEncoded stores exactly what decodeValue reads from the same bytes", () => {
  fc.assert(
    fc.property(keyArbitrary(), valueArbitrary(), (key, value) => {
      const trie = new RecordTrie();
      assert.equal(trie.putEncoded(key, encodeValue(value)), true);
      assert.deepEqual(trie.get(key), value);
      assert.equal(trie.putEncoded(key, encodeValue(int(1)), { overwrite: false }), false);
      assert.deepEqual(trie.get(key), value);
      trie.checkInvariants();
    }),
  );
});

/** `key` (UTF-8) and `value` (encoded) side by side after `padding` bytes, and where each lies. */
function keyAndValueBytes(key: Uint8Array, value: Uint8Array, padding: number) {
  const bytes = new Uint8Array(padding + key.length + value.length + padding);
  bytes.set(key, padding);
  bytes.set(value, padding + key.length);
  const keyEnd = padding + key.length;
  return { bytes, keyStart: padding, keyEnd, valueEnd: keyEnd + value.length };
}

Deno.test("putEncodedAt stores from a key's and a value's bytes exactly what putEncoded stores", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(keyArbitrary(), valueArbitrary(), fc.nat(8), (key, value, padding) => {
      const at = keyAndValueBytes(encoder.encode(key), encodeValue(value), padding);
      const trie = new RecordTrie();
      assert.equal(
        trie.putEncodedAt(at.bytes, at.keyStart, at.keyEnd, -1, at.keyEnd, at.valueEnd),
        true,
      );
      assert.deepEqual(trie.get(key), value);
      const again = trie.putEncodedAt(
        at.bytes,
        at.keyStart,
        at.keyEnd,
        -1,
        at.keyEnd,
        at.valueEnd,
        {
          overwrite: false,
        },
      );
      assert.equal(again, false);
      assert.equal(trie.recordCount, 1);
      trie.checkInvariants();
    }),
  );
});

Deno.test("putEncodedAt refuses an empty, dotted, over-long or non-UTF-8 key and changes nothing", () => {
  const value = encodeValue(int(1));
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array(0), /empty record key/],
    [new TextEncoder().encode("a.b"), /record key 'a\.b' contains '\.'/],
    [new Uint8Array(MAX_KEY_BYTES + 1).fill(0x61), /over the limit of 1024/],
    [Uint8Array.of(0x61, 0xc3), /record key is not valid UTF-8/],
  ];
  for (const [key, message] of cases) {
    const trie = new RecordTrie();
    const at = keyAndValueBytes(key, value, 2);
    assert.throws(
      () => trie.putEncodedAt(at.bytes, at.keyStart, at.keyEnd, -1, at.keyEnd, at.valueEnd),
      (error: unknown) => error instanceof DecodeError && message.test(error.message),
    );
    assert.equal(trie.recordCount, 0);
    trie.checkInvariants();
  }
  const withRecord = new RecordTrie();
  withRecord.put("kept", object([["name", str("x")]]));
  const dotted = keyAndValueBytes(
    new TextEncoder().encode("a.b"),
    encodeValue(object([["age", int(1)]])),
    0,
  );
  assert.throws(
    () =>
      withRecord.putEncodedAt(dotted.bytes, 0, dotted.keyEnd, -1, dotted.keyEnd, dotted.valueEnd),
    (error: unknown) => error instanceof DecodeError && /contains '\.'/.test(error.message),
  );
  assert.deepEqual(withRecord.get("kept"), object([["name", str("x")]]));
  assert.equal(withRecord.memoryStats().distinctFieldNames, 1);
  withRecord.checkInvariants();
  // Bounds outside the source are the caller's mistake, not the data's.
  assert.throws(
    () => withRecord.putEncodedAt(dotted.bytes, 2, 1, -1, 1, dotted.valueEnd),
    RangeError,
  );
  assert.throws(() => withRecord.putEncodedAt(dotted.bytes, 0, 1, -1, 1, 999), RangeError);
  const long = keyAndValueBytes(new Uint8Array(MAX_KEY_BYTES + 1).fill(0x61), value, 0);
  assert.throws(
    () => new RecordTrie().putEncodedAt(long.bytes, 0, long.keyEnd, -1, long.keyEnd, long.valueEnd),
    LimitExceededError,
  );
});

Deno.test("a bad name or string met while a record is written releases the names taken before it", () => {
  const trie = new RecordTrie();
  trie.put("before", object([["name", str("kept")], ["age", int(1)]]));
  const names = trie.memoryStats().distinctFieldNames;
  const object_ = (fields: number[][]) => [ValueTag.object, ...fields.flat(), OBJECT_END];
  const name = (text: string) => [text.length, ...new TextEncoder().encode(text)];
  const badName = [2, 0x61, 0xff];
  const badString = [ValueTag.string, 2, 0xc3, 0x28];
  const cases: Array<[number[], RegExp]> = [
    [
      object_([[...name("name"), ValueTag.int, 1], [...name("new"), ValueTag.int, 2], [
        ...badName,
        ValueTag.int,
        3,
      ]]),
      /field name is not valid UTF-8/,
    ],
    [object_([[...name("age"), ValueTag.int, 1], [...name("fresh"), ...badString]]), /UTF-8/],
    [object_([[...name("name"), ValueTag.int, 1], [...name("a.b"), ValueTag.int, 2]]), /'a\.b'/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => trie.putEncoded("k", Uint8Array.from(bytes)), message);
    assert.equal(trie.recordCount, 1);
    assert.equal(trie.memoryStats().distinctFieldNames, names);
    trie.checkInvariants();
  }
  assert.deepEqual(trie.get("before"), object([["name", str("kept")], ["age", int(1)]]));
});

Deno.test("one long-lived trie, its name cache warm, accepts exactly what decodeValue accepts", () => {
  // The cache answers for names seen before, unchecked: mangled names must still be refused.
  const trie = new RecordTrie();
  let stored = 0;
  fc.assert(
    fc.property(
      fc.oneof(mangledEncoding(), valueArbitrary(3).map(encodeValue)),
      fc.nat(20),
      (bytes, slot) => {
        const key = `k${slot}`;
        const before = trie.get(key);
        const decoded = decodedOrUndefined(bytes);
        if (decoded === undefined) {
          assert.throws(() => trie.putEncoded(key, bytes), DecodeError);
          assert.deepEqual(trie.get(key), before);
        } else {
          trie.putEncoded(key, bytes);
          assert.deepEqual(trie.get(key), decoded);
          stored++;
        }
        if (slot === 0) trie.delete(key);
      },
    ),
    { numRuns: 3000 },
  );
  assert.ok(stored > 100);
  trie.checkInvariants();
});

/** What decodeValue makes of `bytes`, or undefined where it throws (only ever a DecodeError). */
function decodedOrUndefined(bytes: Uint8Array): Value | undefined {
  try {
    return decodeValue(bytes);
  } catch (error) {
    assert.ok(error instanceof DecodeError);
    return undefined;
  }
}

/** Bytes near a valid encoding: a valid value with a few bytes changed, cut or added. */
function mangledEncoding(): fc.Arbitrary<Uint8Array> {
  return fc.tuple(
    valueArbitrary(3),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    fc.integer({ min: -3, max: 2 }),
  ).map(([value, edits, lengthChange]) => {
    const bytes = [...encodeValue(value)];
    for (const [position, byte] of edits) bytes[position % bytes.length] = byte;
    if (lengthChange < 0) bytes.length = Math.max(0, bytes.length + lengthChange);
    for (let extra = 0; extra < lengthChange; extra++) bytes.push(0);
    return new Uint8Array(bytes);
  });
}

Deno.test("putEncoded accepts exactly the bytes decodeValue accepts, and a refusal changes nothing", () => {
  fc.assert(
    fc.property(
      fc.oneof(mangledEncoding(), fc.uint8Array({ maxLength: 64 })),
      (bytes) => {
        const trie = new RecordTrie();
        trie.put("before", object([["name", str("kept")]]));
        const decoded = decodedOrUndefined(bytes);
        if (decoded === undefined) {
          assert.throws(() => trie.putEncoded("k", bytes), DecodeError);
          assert.equal(trie.recordCount, 1);
          assert.equal(trie.memoryStats().distinctFieldNames, 1);
        } else {
          assert.equal(trie.putEncoded("k", bytes), true);
          assert.deepEqual(trie.get("k"), decoded);
        }
        trie.checkInvariants();
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("putEncoded refuses duplicate names in small and large objects alike", () => {
  for (const fieldCount of [2, 16, 17, 100]) {
    const writer = new ByteWriter();
    writer.u8(ValueTag.object);
    for (let index = 0; index < fieldCount; index++) {
      writer.varintString(index === fieldCount - 1 ? "f0" : `f${index}`);
      writeValue(writer, int(index));
    }
    writer.u8(OBJECT_END);
    const trie = new RecordTrie();
    assert.throws(() => trie.putEncoded("k", writer.bytes()), /duplicate field name 'f0'/);
    assert.equal(trie.recordCount, 0);
    assert.equal(trie.memoryStats().distinctFieldNames, 0);
    trie.checkInvariants();
  }
});

Deno.test("wide objects keep their field order and answer every field by name", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(keyArbitrary(), { minLength: 17, maxLength: 80 }),
      fc.boolean(),
      (names, encoded) => {
        const wide = object(names.map((name, index): Field => [name, int(index)]));
        const record = object([["wide", wide], ["after", str("x")]]);
        const trie = new RecordTrie();
        if (encoded) trie.putEncoded("k", encodeValue(record));
        else trie.put("k", record);
        assert.deepEqual(trie.get("k"), record);
        names.forEach((name, index) => {
          assert.deepEqual(trie.query(["k", "wide", name]), int(index), name);
        });
        assert.equal(trie.query(["k", "wide", "absent-name"]), undefined);
        assert.deepEqual(trie.query(["k", "after"]), str("x"));
        assert.equal(trie.delete("k"), true);
        assert.equal(trie.memoryStats().distinctFieldNames, 0);
        trie.checkInvariants();
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("a record with a million fields finds any one of them by name", () => {
  const count = 1_000_000;
  const fields: Field[] = Array.from({ length: count }, (_, index) => [`f${index}`, int(index)]);
  const trie = new RecordTrie();
  trie.put("wide", object(fields));
  for (const index of [0, 1, 499_999, count - 1]) {
    assert.deepEqual(trie.query(["wide", `f${index}`]), int(index));
  }
  assert.equal(trie.query(["wide", "g0"]), undefined);
});
