import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../../lib/base/bytes.ts";
import { MAX_NESTING_DEPTH } from "../../lib/limits.ts";
import { encodedJsonText, EncodedJsonWriter } from "../../lib/record/encoded_json.ts";
import { type Field, int, object, str, toJsonText, type Value } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";

/** What `decode` gives for `bytes`: its result, or the message of the DecodeError it throws. */
function outcome<T>(decode: (bytes: Uint8Array) => T, bytes: Uint8Array): T | string {
  try {
    return decode(bytes);
  } catch (error) {
    assert.ok(error instanceof DecodeError, String(error));
    return `DecodeError: ${error.message}`;
  }
}

const asJson = (bytes: Uint8Array) => toJsonText(decodeValue(bytes));

/** `depth` objects, each the only field of the one around it. */
function nested(depth: number): Value {
  let value: Value = object([["leaf", int(1)]]);
  for (let level = 1; level < depth; level++) value = object([["a", value]]);
  return value;
}

/** Objects of up to 40 fields (past the writer's 16-name scan), strings of any code points. */
function wideValueArbitrary(): fc.Arbitrary<Value> {
  const text = fc.string({ unit: "binary", maxLength: 12 });
  const name = fc.oneof(keyArbitrary(), text.filter((n) => n.length > 0 && !n.includes(".")));
  const field = fc.tuple(name, fc.oneof(text.map(str), valueArbitrary(2)));
  return fc.uniqueArray(field, { maxLength: 40, selector: ([n]) => n })
    .map((fields): Value => object(fields as Field[]));
}

Deno.test("encodedJsonText(encodeValue(v)) is toJsonText(v) for any value", () => {
  fc.assert(
    fc.property(fc.oneof(valueArbitrary(), wideValueArbitrary()), (value) => {
      assert.equal(encodedJsonText(encodeValue(value)), toJsonText(value));
    }),
  );
});

Deno.test("encodedJsonText accepts and refuses exactly what decodeValue does, with its message", () => {
  fc.assert(
    fc.property(
      fc.oneof(valueArbitrary(), wideValueArbitrary()),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      (value, flips) => {
        const bytes = encodeValue(value);
        for (const [position, byte] of flips) bytes[position % bytes.length] = byte;
        assert.equal(outcome(encodedJsonText, bytes), outcome(asJson, bytes));
      },
    ),
    { numRuns: 2000 },
  );
  const deep = encodeValue(nested(MAX_NESTING_DEPTH + 1));
  assert.equal(outcome(encodedJsonText, deep), outcome(asJson, deep));
});

Deno.test("encodedJsonText refuses a repeated field name among the first 16 and past them", () => {
  for (const count of [3, 16, 17, 30]) {
    const fields: Field[] = Array.from({ length: count }, (_, i) => [`f${i}`, int(i)]);
    fields.push([`f${count - 1}`, int(0)]);
    const bytes = encodeValue(object(fields));
    assert.equal(
      outcome(encodedJsonText, bytes),
      `DecodeError: duplicate field name 'f${count - 1}'`,
    );
    assert.equal(outcome(asJson, bytes), `DecodeError: duplicate field name 'f${count - 1}'`);
  }
});

Deno.test("EncodedJsonWriter escapes as JSON.stringify does and keeps text around values", () => {
  const json = new EncodedJsonWriter();
  const tricky = '"\\\b\f\n\r\t\x00\x1f\x7f é 😀';
  json.text('{"value":');
  json.value(encodeValue(object([[tricky, str(tricky)]])));
  json.text("}");
  const text = new TextDecoder().decode(json.bytes());
  assert.equal(text, `{"value":{${JSON.stringify(tricky)}:${JSON.stringify(tricky)}}}`);
  assert.deepEqual(JSON.parse(text), { value: { [tricky]: tricky } });
});

Deno.test("EncodedJsonWriter takes back what a refused value wrote, keeping what came before", () => {
  const json = new EncodedJsonWriter();
  json.text("[");
  const bad = encodeValue(object([["a", str("x")], ["b", str("y")]]));
  bad[bad.length - 2] = 0xff; // the last string's byte: invalid UTF-8
  assert.throws(() => json.value(bad), /string value is not valid UTF-8/);
  json.value(encodeValue(int(7)));
  assert.equal(new TextDecoder().decode(json.bytes()), "[7");
  json.reset();
  assert.equal(json.length, 0);
});
