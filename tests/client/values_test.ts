import assert from "node:assert/strict";
import fc from "fast-check";
import { Float, fromValue, toValue } from "../../lib/client/values.ts";
import { KvInputError } from "../../lib/client/errors.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { valueArbitrary } from "../helpers/value_arbitrary.ts";

/** Fields sorted by name at every level: JavaScript objects list integer-like names first. */
function sortedFields(value: Value): Value {
  if (value.kind !== "object") return value;
  const fields = value.fields.map(([name, field]) => [name, sortedFields(field)] as const);
  return object([...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

Deno.test("toValue(fromValue(v, tagged)) gives back every value, kinds and all", () => {
  fc.assert(fc.property(valueArbitrary(), (value) => {
    assert.deepEqual(sortedFields(toValue(fromValue(value, "tagged"))), sortedFields(value));
  }));
});

Deno.test("a safe integer writes as an int, other numbers and Floats as floats", () => {
  assert.deepEqual(toValue(2), int(2));
  assert.deepEqual(toValue(1.5), float(1.5));
  assert.deepEqual(toValue(new Float(2)), float(2));
  assert.deepEqual(toValue(2 ** 60), float(2 ** 60));
  assert.deepEqual(toValue("2"), str("2"));
  assert.deepEqual(
    toValue({ a: { b: 1 } }),
    object([["a", object([["b", int(1)]])]]),
  );
});

Deno.test("floats read as numbers by default and as Floats when tagged", () => {
  const value = object([["i", int(2)], ["f", float(2)]]);
  assert.deepEqual(fromValue(value, "number"), { i: 2, f: 2 });
  const tagged = fromValue(value, "tagged") as Record<string, unknown>;
  assert.equal(tagged.i, 2);
  assert.ok(tagged.f instanceof Float && tagged.f.value === 2);
});

Deno.test("values kv cannot store are a KvInputError that says where", () => {
  const cases: [unknown, RegExp][] = [
    [null, /value is null/],
    [true, /value is a boolean/],
    [[1], /value is an array/],
    [{ a: { b: NaN } }, /value\.a\.b is NaN/],
    [{ a: Infinity }, /value\.a is Infinity/],
    [{ "a.b": 1 }, /field name 'a\.b' contains '\.'/],
    [{ "": 1 }, /empty field name/],
    [10n, /value is a bigint/],
    [new Date(0), /value is a Date/],
    ["\ud800", /not well-formed/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => toValue(input), (error: unknown) => {
      assert.ok(error instanceof KvInputError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => new Float(NaN), KvInputError);
});

Deno.test("nesting deeper than the limit is refused, not a stack overflow", () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 100; i++) deep = { inner: deep };
  assert.throws(() => toValue(deep), /nests deeper than 64 levels/);
});
