import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../../lib/base/bytes.ts";
import { MAX_KEY_BYTES, MAX_NESTING_DEPTH } from "../../lib/limits.ts";
import { encodedJsonText, EncodedJsonWriter } from "../../lib/record/encoded_json.ts";
import { type Field, int, object, str, toJsonText, type Value } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { anyText } from "../helpers/text_arbitrary.ts";

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
  const text = anyText({ maxLength: 12 });
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

Deno.test("EncodedJsonWriter.text appends any text's UTF-8, as TextEncoder makes it", () => {
  const unit = fc.constantFrom("a", '"', "é", "€", "😀", "\ud800", "\udc00");
  fc.assert(
    fc.property(fc.array(fc.string({ unit, maxLength: 30 }), { maxLength: 5 }), (texts) => {
      const json = new EncodedJsonWriter();
      for (const text of texts) json.text(text);
      // Each text on its own: halves of a surrogate pair in two texts stay lone surrogates.
      const expected = texts.flatMap((text) => [...new TextEncoder().encode(text)]);
      assert.deepEqual(json.bytes(), Uint8Array.from(expected));
    }),
  );
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

/** What decoding `bytes` gives: its JSON text, or the class and message of its error. */
function reference(bytes: Uint8Array): string {
  try {
    return toJsonText(decodeValue(bytes));
  } catch (error) {
    return errorText(error);
  }
}

function errorText(error: unknown): string {
  assert.ok(error instanceof DecodeError, String(error));
  return `${error.name}: ${error.message}`;
}

/** Bytes a hostile server would try: tags, lengths, `.`, `"`, `\`, DEL, bad UTF-8 leads. */
const HOSTILE_BYTES = [
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x06,
  0x1f,
  0x22,
  0x2e,
  0x5c,
  0x7f,
  0x80,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xe0,
  0xed,
  0xf0,
  0xf4,
  0xf5,
  0xff,
];

/** An edit of an encoding: a byte replaced, inserted or deleted, or the bytes cut short. */
const edit = fc.tuple(
  fc.constantFrom("replace", "insert", "delete", "cut"),
  fc.nat(),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...HOSTILE_BYTES)),
);

function applyEdits(bytes: Uint8Array, edits: [string, number, number][]): Uint8Array {
  const edited = [...bytes];
  for (const [kind, position, byte] of edits) {
    const at = position % (edited.length + 1);
    if (kind === "replace") edited[at] = byte;
    else if (kind === "insert") edited.splice(at, 0, byte);
    else if (kind === "delete") edited.splice(at, 1);
    else edited.length = at;
  }
  return Uint8Array.from(edited);
}

Deno.test("one EncodedJsonWriter, reused across refusals, writes decodeValue's JSON bytes or its error (class and message) for edited encodings and hostile bytes", () => {
  const json = new EncodedJsonWriter();
  const encoder = new TextEncoder();
  json.text("[");
  const input = fc.oneof(
    fc.tuple(fc.oneof(valueArbitrary(6), wideValueArbitrary()), fc.array(edit, { maxLength: 3 }))
      .map(([value, edits]) => applyEdits(encodeValue(value), edits)),
    fc.array(fc.constantFrom(...HOSTILE_BYTES, 0x61, 0x62, 0xc3, 0xa9), { maxLength: 40 })
      .map((bytes) => Uint8Array.from(bytes)),
  );
  fc.assert(
    fc.property(input, (bytes) => {
      const before = json.length;
      const expected = reference(bytes);
      try {
        json.value(bytes);
      } catch (error) {
        assert.equal(errorText(error), expected);
        assert.equal(json.length, before, "a refused value leaves nothing behind");
        return;
      }
      assert.deepEqual(json.bytes().subarray(before), encoder.encode(expected));
      if (json.length > 64 * 1024) json.reset();
    }),
    { numRuns: 3000 },
  );
});

Deno.test("EncodedJsonWriter and decodeValue agree on every truncation of an encoding", () => {
  fc.assert(
    fc.property(fc.oneof(valueArbitrary(6), wideValueArbitrary()), (value) => {
      const bytes = encodeValue(value);
      for (let length = 0; length <= bytes.length; length++) {
        const cut = bytes.subarray(0, length);
        assert.equal(outcomeWithClass(cut), reference(cut));
      }
    }),
    { numRuns: 50 },
  );
});

function outcomeWithClass(bytes: Uint8Array): string {
  try {
    return encodedJsonText(bytes);
  } catch (error) {
    return errorText(error);
  }
}

Deno.test("a field name repeats only within its own object: names of nested and sibling objects never count", () => {
  // Up to 41 fields: a repeat at every position 0..40, before and past the 16-name scan.
  for (const count of [1, 2, 15, 16, 17, 41]) {
    const names = Array.from({ length: count }, (_, i) => `f${i}`);
    // Every field's value holds all the names, the later ones of its parent too.
    const inner = object(names.map((name, i): Field => [name, int(i)]));
    const valid = object(names.map((name): Field => [name, inner]));
    assert.equal(outcomeWithClass(encodeValue(valid)), toJsonText(valid));
    for (let repeat = 0; repeat < count; repeat++) {
      const message = `DecodeError: duplicate field name 'f${repeat}'`;
      const inParent = encodeValue(object([...valid.fields, [`f${repeat}`, int(0)]]));
      assert.equal(outcomeWithClass(inParent), message);
      assert.equal(reference(inParent), message);
      const inChild = object([...inner.fields, [`f${repeat}`, int(0)]]);
      const inNested = encodeValue(object([...valid.fields, ["child", inChild]]));
      assert.equal(outcomeWithClass(inNested), message);
      assert.equal(reference(inNested), message);
    }
  }
});

Deno.test("EncodedJsonWriter writes strings past its first buffer and past 1 MiB, names at the length limit and objects at the depth limit", () => {
  const everyAscii = Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(i)).join("");
  const sample = `${everyAscii}é😀\u2028\u2029\uffff`;
  for (const length of [4095, 4096, 5000, 1024 * 1024 + 7]) {
    const text = sample.repeat(Math.ceil(length / sample.length)).slice(0, length);
    const value = object([[sample.replace(".", ""), str(text)], ["again", str(text)]]);
    assert.equal(encodedJsonText(encodeValue(value)), toJsonText(value));
  }
  const longest = object([["n".repeat(MAX_KEY_BYTES), int(1)]]);
  assert.equal(encodedJsonText(encodeValue(longest)), toJsonText(longest));
  const tooLong = encodeValue(object([["n".repeat(MAX_KEY_BYTES + 1), int(1)]]));
  assert.equal(outcomeWithClass(tooLong), reference(tooLong));
  assert.match(outcomeWithClass(tooLong), /^LimitExceededError: /);
  const deepest = nested(MAX_NESTING_DEPTH);
  assert.equal(encodedJsonText(encodeValue(deepest)), toJsonText(deepest));
  const tooDeep = encodeValue(nested(MAX_NESTING_DEPTH + 1));
  assert.match(outcomeWithClass(tooDeep), /^LimitExceededError: /);
});

Deno.test("EncodedJsonWriter grows at any escape of a string, wherever its buffer ends", () => {
  // A fresh writer holds 4 KiB: strings with escapes written just before and across its end.
  const texts = ["\n", "\x01", '"', "\\", "é\n", "\n\x02\n"].flatMap((escaped) =>
    [0, 1, 2, 5].flatMap((plain) => {
      const x = "x".repeat(plain);
      return [escaped + x, x + escaped, x + escaped + x];
    })
  );
  for (let filler = 4096 - 50; filler <= 4096; filler++) {
    for (const text of texts) {
      const json = new EncodedJsonWriter();
      // A string as a value: the writer reserves what it takes, no more (text() reserves 3x).
      json.value(encodeValue(str("x".repeat(filler))));
      json.value(encodeValue(object([[text, str(text)]])));
      const written = new TextDecoder().decode(json.bytes());
      const expected = JSON.stringify(text);
      assert.equal(written, `${JSON.stringify("x".repeat(filler))}{${expected}:${expected}}`);
    }
  }
});

Deno.test("EncodedJsonWriter.string writes exactly JSON.stringify(text), after what came before", () => {
  const json = new EncodedJsonWriter();
  const decoder = new TextDecoder();
  fc.assert(
    fc.property(
      fc.oneof(anyText(), fc.string(), fc.string({ unit: "grapheme-ascii" })),
      (text) => {
        json.reset();
        json.text("[");
        json.string(text);
        json.raw(Uint8Array.of(0x5d)); // ]
        assert.equal(decoder.decode(json.bytes()), `[${JSON.stringify(text)}]`);
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("EncodedJsonWriter checks names at the nesting limit with 16 names at every level, and again after a refused value", () => {
  // 15 names and a 16th holding the next level: the writer's stack of names at its fullest.
  let value: Value = object(Array.from({ length: 17 }, (_, i): Field => [`n${i}`, int(i)]));
  for (let level = 1; level < MAX_NESTING_DEPTH; level++) {
    const fields = Array.from({ length: 15 }, (_, i): Field => [`f${i}`, str("x")]);
    value = object([...fields, ["next", value]]);
  }
  const bytes = encodeValue(value);
  assert.equal(encodedJsonText(bytes), toJsonText(value));
  const repeated = encodeValue(object([["a", int(1)], ["b", int(2)]]));
  repeated[repeated.indexOf(0x62)] = 0x61; // "b" → "a"
  assert.equal(outcome(encodedJsonText, repeated), outcome(asJson, repeated));
  assert.equal(encodedJsonText(bytes), toJsonText(value));
});
