import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteReader, bytesToHex, ByteWriter, DecodeError } from "../../lib/base/bytes.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "../../lib/limits.ts";
import { float, int, object, str, type Value, valueEquals } from "../../lib/record/value.ts";
import {
  decodeValue,
  encodeValue,
  readValue,
  ValueTag,
  writeValue,
} from "../../lib/record/value_codec.ts";
import { valueArbitrary } from "../helpers/value_arbitrary.ts";

/** `depth` objects, each the only field of the one around it. */
function nested(depth: number): Value {
  let value: Value = object([["leaf", int(1)]]);
  for (let level = 1; level < depth; level++) value = object([["a", value]]);
  return value;
}

Deno.test("decodeValue(encodeValue(v)) equals v for any value, kinds included", () => {
  fc.assert(
    fc.property(valueArbitrary(), (value) => {
      const decoded = decodeValue(encodeValue(value));
      assert.ok(valueEquals(decoded, value), JSON.stringify(value));
    }),
    { numRuns: 500 },
  );
});

Deno.test("encodeValue matches the documented example and keeps int and float apart", () => {
  assert.equal(bytesToHex(encodeValue(object([["age", int(22)]]))), "04036167650216" + "00");
  assert.equal(bytesToHex(encodeValue(int(300))), "02ac02");
  assert.equal(bytesToHex(encodeValue(int(-5))), "0505");
  assert.equal(bytesToHex(encodeValue(str("\ufeffx"))), "0104efbbbf78");
  assert.deepEqual(
    decodeValue(encodeValue(str("\ufeffx"))),
    str("\ufeffx"),
    "a leading BOM is kept",
  );
  assert.equal(decodeValue(encodeValue(float(2))).kind, "float");
  assert.equal(decodeValue(encodeValue(int(2))).kind, "int");
  assert.equal(decodeValue(encodeValue(str("2.05"))).kind, "string");
});

Deno.test("readValue reads values back to back from one stream", () => {
  const writer = new ByteWriter();
  writeValue(writer, str("a"));
  writeValue(writer, int(-5));
  const reader = new ByteReader(writer.bytes());
  assert.deepEqual(readValue(reader), str("a"));
  assert.deepEqual(readValue(reader), int(-5));
  assert.equal(reader.remaining, 0);
});

Deno.test("objects nested exactly to the limit decode; one level deeper is a DecodeError", () => {
  assert.ok(
    valueEquals(decodeValue(encodeValue(nested(MAX_NESTING_DEPTH))), nested(MAX_NESTING_DEPTH)),
  );
  assert.throws(
    () => decodeValue(encodeValue(nested(MAX_NESTING_DEPTH + 1))),
    /deeper than the limit/,
  );
});

Deno.test("hostile nesting a million levels deep is a DecodeError, not a stack overflow", () => {
  const level = [ValueTag.object, 1, 0x61];
  const bytes = new Uint8Array(level.length * 1_000_000);
  for (let index = 0; index < bytes.length; index += level.length) bytes.set(level, index);
  assert.throws(() => decodeValue(bytes), DecodeError);
});

Deno.test("decodeValue throws DecodeError for every malformed input", () => {
  const field = (name: string) => {
    const writer = new ByteWriter();
    writer.u8(ValueTag.object);
    writer.varintString(name);
    writeValue(writer, int(1));
    writer.u8(0);
    return writer.bytes().slice();
  };
  const duplicate = new ByteWriter();
  duplicate.u8(ValueTag.object);
  duplicate.varintString("a");
  writeValue(duplicate, int(1));
  duplicate.varintString("a");
  writeValue(duplicate, int(2));
  duplicate.u8(0);
  const infinity = new ByteWriter();
  infinity.u8(ValueTag.float);
  infinity.f64(Infinity);
  const nan = new ByteWriter();
  nan.u8(ValueTag.float);
  nan.f64(NaN);
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array(0), /truncated value tag/],
    [new Uint8Array([0x09]), /unknown value tag 0x09/],
    [new Uint8Array([ValueTag.string, 4, 0x61]), /truncated string value/],
    [new Uint8Array([ValueTag.string, 1, 0xff]), /not valid UTF-8/],
    [new Uint8Array([ValueTag.int, 0x80]), /truncated int value/],
    [new Uint8Array([ValueTag.int, 0x80, 0x00]), /not in its shortest form/],
    // 2^53, one past the largest safe integer.
    [
      new Uint8Array([ValueTag.int, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]),
      /safe integer/,
    ],
    [new Uint8Array([ValueTag.int, ...Array(8).fill(0xff), 1]), /longer than 8 bytes/],
    [new Uint8Array([ValueTag.negativeInt, 0]), /magnitude 0/],
    [new Uint8Array([ValueTag.float, 0]), /truncated float value/],
    [infinity.bytes(), /not finite/],
    [nan.bytes(), /not finite/],
    [new Uint8Array([ValueTag.object, 1, 0x61, ValueTag.int, 1]), /truncated field name length/],
    [field("a.b"), /contains '\.'/],
    [field("x".repeat(MAX_KEY_BYTES + 1)), /over the limit/],
    [duplicate.bytes(), /duplicate field name 'a'/],
    [new Uint8Array([...encodeValue(int(1)), 0]), /1 unexpected bytes/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeValue(bytes), (error: unknown) => {
      assert.ok(error instanceof DecodeError, `${bytesToHex(bytes)}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.ok(
    valueEquals(
      decodeValue(field("x".repeat(MAX_KEY_BYTES))),
      object([["x".repeat(MAX_KEY_BYTES), int(1)]]),
    ),
  );
  assert.deepEqual(
    decodeValue(new Uint8Array([ValueTag.int, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])),
    int(Number.MAX_SAFE_INTEGER),
  );
});

Deno.test("decodeValue on random bytes returns a value or throws DecodeError, nothing else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decodeValue(bytes);
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodeValue on corrupted encodings throws only DecodeError", () => {
  fc.assert(
    fc.property(
      valueArbitrary(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (value, flips) => {
        const bytes = encodeValue(value);
        for (const [position, byte] of flips) bytes[position % bytes.length] = byte;
        try {
          decodeValue(bytes);
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
      },
    ),
    { numRuns: 1000 },
  );
});
