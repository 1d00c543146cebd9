import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, LimitExceededError } from "../../lib/base/bytes.ts";
import {
  MAX_PUT_MANY_ITEMS,
  PUT_MANY_ITEM_OVERHEAD_BYTES,
  PutManyItems,
  readPutManyItems,
} from "../../lib/protocol/put_many.ts";
import { readUtf8 } from "../../lib/base/utf8.ts";
import { int } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { nextVersion } from "../helpers/versions.ts";

const itemArbitrary = fc.record({
  key: keyArbitrary(),
  value: valueArbitrary(3),
  overwrite: fc.boolean(),
});

Deno.test("items added to PutManyItems are found again, in order, by readPutManyItems", () => {
  fc.assert(
    fc.property(fc.array(itemArbitrary, { minLength: 1, maxLength: 20 }), (added) => {
      const items = new PutManyItems(16);
      for (const { key, value, overwrite } of added) {
        items.add(key, encodeValue(value), nextVersion(), { overwrite });
      }
      assert.equal(items.itemCount, added.length);
      const body = items.bytes();
      assert.equal(body.length, items.byteLength);
      const bounds = readPutManyItems(body, 0, added.length);
      assert.equal(bounds.itemCount, added.length);
      added.forEach(({ key, value, overwrite }, index) => {
        const keyStart = bounds.keyStart(index);
        const keyEnd = bounds.keyEnd(index);
        assert.equal(readUtf8(body, keyStart, keyEnd - keyStart), key);
        assert.deepEqual(
          body.subarray(bounds.valueStart(index), bounds.valueEnd(index)),
          encodeValue(value),
        );
        assert.equal(bounds.ifAbsent(index), !overwrite);
      });
    }),
    { numRuns: 200 },
  );
});

Deno.test("readPutManyItems reads items after a prefix and resets forget earlier items", () => {
  const items = new PutManyItems();
  items.add("gone", encodeValue(int(1)), nextVersion());
  items.reset();
  assert.equal(items.itemCount, 0);
  assert.equal(items.byteLength, 0);
  items.add("k", encodeValue(int(7)), nextVersion());
  const body = new Uint8Array([0xaa, 0xbb, ...items.bytes()]);
  const bounds = readPutManyItems(body, 2, 1);
  assert.equal(bounds.keyStart(0), 2 + 5);
  assert.equal(bounds.keyEnd(0), 2 + 6);
  assert.deepEqual(body.subarray(bounds.valueStart(0), bounds.valueEnd(0)), encodeValue(int(7)));
});

Deno.test("readPutManyItems refuses a malformed list whole with DecodeError", () => {
  const one = new PutManyItems();
  one.add("k", encodeValue(int(1)), nextVersion());
  const valid = [...one.bytes()];
  const cases: Array<[number[], number, RegExp]> = [
    [valid, 0, /no items/],
    [valid, 2, /item count 2 exceeds the bytes/],
    [[...valid, 0], 1, /1 unexpected bytes after the PUT_MANY items/],
    [[0x04, ...valid.slice(1)], 1, /unknown PUT flags 0x04 in PUT_MANY item 0/],
    [[0, 0, 0, 0, 0xff, ...valid.slice(5)], 1, /key of 255 bytes is truncated/],
    // After flags, key length, key "k" and the 12 version bytes: the value length.
    [[...valid.slice(0, 18), 0, 0, 0, 9, ...valid.slice(22)], 1, /value of 9 bytes/],
    [[...valid, ...valid.slice(0, 20)], 2, /item 1 is truncated/],
  ];
  for (const [bytes, count, pattern] of cases) {
    assert.throws(() => readPutManyItems(Uint8Array.from(bytes), 0, count), (error: unknown) => {
      assert.ok(error instanceof DecodeError, `${pattern}: ${error}`);
      assert.match(error.message, pattern);
      return true;
    });
  }
});

Deno.test("readPutManyItems refuses more than MAX_PUT_MANY_ITEMS as a limit, and PutManyItems never builds one", () => {
  const body = new Uint8Array((MAX_PUT_MANY_ITEMS + 1) * PUT_MANY_ITEM_OVERHEAD_BYTES);
  assert.throws(() => readPutManyItems(body, 0, MAX_PUT_MANY_ITEMS + 1), LimitExceededError);
  const items = new PutManyItems();
  const value = encodeValue(int(0));
  for (let index = 0; index < MAX_PUT_MANY_ITEMS; index++) items.add("k", value, nextVersion());
  assert.throws(() => items.add("k", value, nextVersion()), RangeError);
  assert.equal(readPutManyItems(items.bytes(), 0, items.itemCount).itemCount, MAX_PUT_MANY_ITEMS);
});

Deno.test("random and corrupted item lists either read within the body or throw DecodeError", () => {
  fc.assert(
    fc.property(
      fc.array(itemArbitrary, { minLength: 1, maxLength: 5 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 0, max: 8 }),
      (added, flips, cut, count) => {
        const items = new PutManyItems();
        for (const { key, value, overwrite } of added) {
          items.add(key, encodeValue(value), nextVersion(), { overwrite });
        }
        const body = items.bytes().slice(0, items.byteLength - (cut % 4));
        for (const [at, byte] of flips) body[at % body.length] = byte;
        try {
          const bounds = readPutManyItems(body, 0, count);
          let previousEnd = 0;
          for (let index = 0; index < bounds.itemCount; index++) {
            assert.ok(bounds.keyStart(index) >= previousEnd + 5);
            assert.ok(bounds.keyStart(index) <= bounds.keyEnd(index));
            assert.equal(bounds.versionStart(index), bounds.keyEnd(index));
            assert.equal(bounds.valueStart(index), bounds.keyEnd(index) + 12 + 4);
            assert.ok(bounds.valueStart(index) <= bounds.valueEnd(index));
            previousEnd = bounds.valueEnd(index);
          }
          assert.equal(previousEnd, body.length);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
        }
      },
    ),
    { numRuns: 500 },
  );
});
