import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../../lib/base/bytes.ts";
import {
  BASE_VERSION,
  compareVersions,
  formatVersion,
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  newerVersion,
  parseVersion,
  readVersion,
  type Version,
  VERSION_BYTES,
  writeVersion,
} from "../../lib/record/version.ts";

const version: fc.Arbitrary<Version> = fc.record({
  ms: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_VERSION_MS })),
  counter: fc.integer({ min: 0, max: MAX_VERSION_COUNTER }),
  broker: fc.integer({ min: 0, max: MAX_VERSION_BROKER }),
});

function bytesOf(value: Version): Uint8Array {
  const bytes = new Uint8Array(VERSION_BYTES);
  assert.equal(writeVersion(bytes, 0, value), VERSION_BYTES);
  return bytes;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

Deno.test("versions round-trip through bytes and text; the text is the bytes in hex", () => {
  fc.assert(fc.property(version, (value) => {
    const plain = { ...value };
    const hex = [...bytesOf(value)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    assert.equal(formatVersion(value), hex);
    assert.deepEqual(readVersion(bytesOf(value), 0), plain);
    assert.deepEqual(parseVersion(formatVersion(value)), plain);
    assert.equal(formatVersion(value).length, 24);
  }));
});

Deno.test("versions compare as their bytes and as their texts", () => {
  fc.assert(fc.property(version, version, (a, b) => {
    const order = Math.sign(compareVersions(a, b));
    assert.equal(Math.sign(compareBytes(bytesOf(a), bytesOf(b))), order);
    const [x, y] = [formatVersion(a), formatVersion(b)];
    assert.equal(x < y ? -1 : x > y ? 1 : 0, order);
    assert.equal(newerVersion(a, b), order >= 0 ? a : b);
  }));
});

Deno.test("the base version is older than any other and is all zero", () => {
  assert.equal(formatVersion(BASE_VERSION), "0".repeat(24));
  fc.assert(fc.property(version, (value) => {
    assert.ok(compareVersions(BASE_VERSION, value) <= 0);
  }));
});

Deno.test("the byte layout is ms u48, counter u16, broker u32, big-endian", () => {
  const bytes = bytesOf({ ms: 0x0102_0304_0506, counter: 0x0708, broker: 0x090a_0b0c });
  assert.deepEqual([...bytes], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(
    formatVersion({ ms: 1_700_000_000_000, counter: 0, broker: 7 }),
    "018bcfe56800000000000007",
  );
});

Deno.test("bad versions are refused: out of range, truncated, not 24 hex digits", () => {
  assert.throws(() => bytesOf({ ms: -1, counter: 0, broker: 0 }), RangeError);
  assert.throws(() => bytesOf({ ms: 0, counter: 0x10000, broker: 0 }), RangeError);
  assert.throws(() => bytesOf({ ms: 0.5, counter: 0, broker: 0 }), RangeError);
  // formatVersion checks on its own (it no longer goes through writeVersion): never a
  // 13-digit or fractional hex text.
  for (
    const bad of [
      { ms: MAX_VERSION_MS + 1, counter: 0, broker: 0 },
      { ms: 0.5, counter: 0, broker: 0 },
      { ms: 0, counter: MAX_VERSION_COUNTER + 1, broker: 0 },
      { ms: 0, counter: 0, broker: MAX_VERSION_BROKER + 1 },
      { ms: 0, counter: 0, broker: -1 },
    ]
  ) assert.throws(() => formatVersion(bad), RangeError);
  assert.throws(() => readVersion(new Uint8Array(11), 0), DecodeError);
  assert.throws(() => parseVersion("00"), DecodeError);
  assert.throws(() => parseVersion("g".repeat(24)), DecodeError);
});
