import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, DecodeError } from "../../lib/base/bytes.ts";
import { checkName, decodePlainValue, Float, fromValue, toValue } from "../../lib/client/values.ts";
import { KvInputError } from "../../lib/client/errors.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import {
  decodeValue,
  encodeValue,
  OBJECT_END,
  ValueTag,
  writeValue,
} from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";

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
  // -0 is a safe integer: the int 0, as the README says; a Float keeps its sign.
  assert.equal(toValue(-0).kind, "int");
  const negativeZero = toValue(new Float(-0));
  assert.ok(negativeZero.kind === "float" && Object.is(negativeZero.value, -0));
  assert.deepEqual(toValue("2"), str("2"));
  assert.deepEqual(
    toValue({ a: { b: 1 } }),
    object([["a", object([["b", int(1)]])]]),
  );
});

Deno.test("a value kv cannot store is refused with what to store instead", () => {
  class Session {
    user = "mary";
  }
  const cases: [unknown, string][] = [
    [
      { born: new Date(0) },
      "value.born is a Date; kv stores strings, numbers, Floats and plain " +
      "objects: store its toISOString(), a string in time order, or getTime(), a number",
    ],
    [
      { admin: true },
      "value.admin is a boolean (true); kv stores strings, numbers, Floats and " +
      "plain objects: store 1 or 0, or a string",
    ],
    [
      { nick: null },
      "value.nick is null; kv stores strings, numbers, Floats and plain objects: " +
      "leave the field out for none",
    ],
    [
      null,
      "value is null; kv stores strings, numbers, Floats and plain objects: to remove a " +
      "record, delete it",
    ],
    [
      undefined,
      "value is undefined; kv stores strings, numbers, Floats and plain objects: to " +
      "remove a record, delete it",
    ],
    [
      { tags: ["a"] },
      "value.tags is an array; kv stores strings, numbers, Floats and plain " +
      "objects: kv has no lists; store an object with a field per item, or its JSON as a string",
    ],
    [
      { tags: new Set(["a"]) },
      "value.tags is a Set; kv stores strings, numbers, Floats and " +
      "plain objects: kv has no lists; store an object with a field per item, or its JSON as a " +
      "string",
    ],
    [
      { id: 10n },
      "value.id is a bigint (10); kv stores strings, numbers, Floats and plain " +
      "objects: store it as a string, or as a number within Number.MAX_SAFE_INTEGER",
    ],
    [
      { seen: new Map() },
      "value.seen is a Map; kv stores strings, numbers, Floats and plain " +
      "objects: store Object.fromEntries(map), if its keys are strings",
    ],
    [
      new Session(),
      "value is a Session; kv stores strings, numbers, Floats and plain objects: " +
      "store a plain object of its fields ({ ...it })",
    ],
    [
      // A function by its name, never its source (a method's whole body was in the message).
      { greet: () => "hi" },
      "value.greet is a function (greet); kv stores strings, numbers, Floats and plain objects",
    ],
    [
      { greet: [() => "hi"][0] },
      "value.greet is a function; kv stores strings, numbers, Floats and plain objects",
    ],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => toValue(input), { name: "KvInputError", message });
  }
});

Deno.test("a key or field name holding '.' is refused with what to do instead", () => {
  assert.throws(() => checkName("user:mary@example.com", "key"), {
    name: "KvInputError",
    message: "key 'user:mary@example.com' contains '.' (it separates query paths); put " +
      "another character in its place, such as ':'",
  });
  assert.throws(() => toValue({ "v1.2": 1 }), {
    name: "KvInputError",
    message: "field name 'v1.2' contains '.' (it separates query paths); put another " +
      "character in its place, such as ':'",
  });
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
    [undefined, /^value is undefined;/],
    [{ a: undefined, b: null }, /^value\.b is null;/],
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
  // From JavaScript, anything: even an object String() cannot print is described, not a TypeError.
  assert.throws(() => new Float(Object.create(null)), {
    name: "KvInputError",
    message: "a Float must be a finite number, got an object",
  });
  assert.throws(() => new Float("2" as never), {
    name: "KvInputError",
    message: 'a Float must be a finite number, got a string ("2")',
  });
});

/** Field names that test the edges of plain objects and JSON: integer-like, the prototype's. */
const EDGE_NAMES = ["__proto__", "constructor", "10", "0", "a", "b"];

/**
 * Plain objects of what kv stores and JSON keeps exactly (strings, numbers but -0, which JSON
 * writes as 0), any field of which may hold undefined; from null-prototype objects too.
 */
function objectHoldingUndefined(): fc.Arbitrary<Record<string, unknown>> {
  const scalar = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  );
  const { object } = fc.letrec<{ object: Record<string, unknown> }>((tie) => ({
    object: fc.dictionary(
      fc.oneof(keyArbitrary(), fc.constantFrom(...EDGE_NAMES)),
      fc.option(fc.oneof({ depthSize: "small", maxDepth: 3 }, scalar, tie("object")), {
        nil: undefined,
        freq: 3,
      }),
      { maxKeys: 6 },
    ),
  }));
  return object;
}

Deno.test("a field holding undefined is left out as JSON.stringify leaves it out: toValue(o) is toValue(JSON.parse(JSON.stringify(o)))", () => {
  fc.assert(
    fc.property(objectHoldingUndefined(), (input) => {
      assert.deepEqual(toValue(input), toValue(JSON.parse(JSON.stringify(input))));
    }),
    { numRuns: 2000 },
  );
  assert.deepEqual(
    toValue({ name: "Mary", nick: undefined, address: { zip: undefined, street: "Main" } }),
    object([["name", str("Mary")], ["address", object([["street", str("Main")]])]]),
  );
  assert.deepEqual(toValue({ only: undefined }), object([]));
});

Deno.test("a field holding undefined is left out name and all: a name kv refuses is not checked", () => {
  assert.deepEqual(toValue({ "a.b": undefined, "": undefined, "\ud800": undefined }), object([]));
  assert.throws(() => toValue({ "a.b": 1 }), /field name 'a\.b' contains '\.'/);
});

Deno.test("nesting deeper than the limit is refused, not a stack overflow", () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 100; i++) deep = { inner: deep };
  assert.throws(() => toValue(deep), /nests deeper than 64 levels/);
});

Deno.test("a cyclic value is refused naming the cycle, not 64 levels of its path; one object twice, no cycle, is stored", () => {
  const self: Record<string, unknown> = { a: 1 };
  self.self = self;
  assert.throws(() => toValue(self), {
    name: "KvInputError",
    message: "value.self refers back to value; kv stores no cycles (a value is a tree)",
  });
  const inner: Record<string, unknown> = {};
  const outer = { top: { inner } };
  inner.up = outer.top;
  assert.throws(() => toValue(outer), {
    message: "value.top.inner.up refers back to value.top; kv stores no cycles (a value is a tree)",
  });
  const shared = { n: 1 };
  assert.equal(toValue({ x: shared, y: shared }).kind, "object");
});

/** A read value in a form deepEqual compares exactly: key order, Floats, -0 and prototypes. */
function snapshot(value: unknown): unknown {
  if (value instanceof Float) return ["Float", Object.is(value.value, -0) ? "-0" : value.value];
  if (typeof value === "number") return ["number", Object.is(value, -0) ? "-0" : value];
  if (typeof value === "string") return ["string", value];
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  const object = value as Record<string, unknown>;
  return [
    "object",
    Reflect.ownKeys(object).map((name) => [name, snapshot(object[name as string])]),
  ];
}

/** What reading `bytes` one way gives: the value's snapshot, or the error's class and message. */
function outcome(read: () => unknown): unknown {
  try {
    return { value: snapshot(read()) };
  } catch (error) {
    assert.ok(error instanceof Error, String(error));
    return { error: error.constructor.name, message: error.message };
  }
}

function sameAsOldPath(bytes: Uint8Array): void {
  for (const floats of ["number", "tagged"] as const) {
    assert.deepEqual(
      outcome(() => decodePlainValue(bytes, floats)),
      outcome(() => fromValue(decodeValue(bytes), floats)),
    );
  }
}

/** Names that test the edges of plain objects: the prototype's names, integer-like names. */
const TRICKY_NAMES = ["__proto__", "constructor", "toString", "10", "0", "a", "b", "héllo", "a.b"];

/**
 * Encodings a hostile or buggy server could send: objects whose names repeat, hold `.`
 * or are empty, more fields than NAME_SCAN_LIMIT, bad tags, and bytes cut or left over.
 */
function looseEncoding(): fc.Arbitrary<Uint8Array> {
  const { value } = fc.letrec<{ value: (writer: ByteWriter) => void }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth: 4 },
      valueArbitrary(1).map((scalar) => (writer: ByteWriter) => writeValue(writer, scalar)),
      fc.integer({ min: 0, max: 255 }).map((tag) => (writer: ByteWriter) => writer.u8(tag)),
      fc.array(fc.tuple(fc.constantFrom(...TRICKY_NAMES, "", "x"), tie("value")), {
        maxLength: 24,
      }).map((fields) => (writer: ByteWriter) => {
        writer.u8(ValueTag.object);
        for (const [name, write] of fields) {
          writer.varintString(name);
          if (name !== "") write(writer);
        }
        writer.u8(OBJECT_END);
      }),
    ),
  }));
  return fc.tuple(value, fc.nat(), fc.uint8Array({ maxLength: 2 })).map(([write, cut, tail]) => {
    const writer = new ByteWriter();
    write(writer);
    const bytes = writer.bytes();
    return Uint8Array.from([...bytes.subarray(0, bytes.length - (cut % 3)), ...tail]);
  });
}

Deno.test("decodePlainValue is fromValue(decodeValue(bytes)) on every valid value", () => {
  fc.assert(fc.property(valueArbitrary(), (value) => sameAsOldPath(encodeValue(value))));
});

Deno.test("decodePlainValue throws decodeValue's error, or reads the same, on loose bytes", () => {
  fc.assert(fc.property(looseEncoding(), sameAsOldPath), { numRuns: 3000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), sameAsOldPath), { numRuns: 2000 });
});

Deno.test("decodePlainValue keeps __proto__ an own field and the prototype Object's", () => {
  const bytes = encodeValue(object([["__proto__", object([["polluted", int(1)]])], ["a", int(2)]]));
  const value = decodePlainValue(bytes, "number") as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__", "a"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, "__proto__")?.value, { polluted: 1 });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("decodePlainValue recovers after an error: the next read is whole", () => {
  const broken = encodeValue(object([["a", object([["b", int(1)], ["c", int(2)]])]])).slice(0, -3);
  assert.throws(() => decodePlainValue(broken, "number"), DecodeError);
  const good = encodeValue(object([["a", int(1)], ["b", int(2)]]));
  assert.deepEqual(decodePlainValue(good, "number"), { a: 1, b: 2 });
});

Deno.test("decodePlainValue reads wide objects and their repeats as decodeValue does", () => {
  const fields = Array.from({ length: 40 }, (_, i) => [`field${i}`, int(i)] as const);
  sameAsOldPath(encodeValue(object(fields)));
  const writer = new ByteWriter();
  writeValue(writer, object([...fields, ["field3", int(0)]]));
  assert.throws(() => decodePlainValue(writer.bytes(), "number"), /duplicate field name 'field3'/);
  sameAsOldPath(writer.bytes());
});
