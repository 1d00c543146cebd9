/**
 * The typed values kv stores: strings, integers, floats and objects of named
 * values. Every other module (the record-line parser, the binary codec, the
 * trie, the broker's printers) speaks this one representation, so a value keeps
 * its type through every round trip: `"2.05"` stays a string, `2.0` stays a
 * float and `2` stays an int.
 *
 * @example
 * ```ts
 * import { int, object, str } from "./value.ts";
 * const person = object([["name", str("Mary")], ["age", int(22)]]);
 * ```
 * @module
 */

/** A string value: any sequence of Unicode characters. */
export interface StringValue {
  readonly kind: "string";
  readonly value: string;
}

/** An integer value, always a safe integer (|n| ≤ 2^53 − 1). */
export interface IntValue {
  readonly kind: "int";
  readonly value: number;
}

/** A floating point value; always finite. */
export interface FloatValue {
  readonly kind: "float";
  readonly value: number;
}

/** One named member of an object: field names are non-empty and hold no `.`. */
export type Field = readonly [name: string, value: Value];

/**
 * An object: named values in the order they were written. Field names are
 * unique within one object.
 */
export interface ObjectValue {
  readonly kind: "object";
  readonly fields: readonly Field[];
}

/** Any value kv stores. */
export type Value = StringValue | IntValue | FloatValue | ObjectValue;

/** A scalar is any value that is not an object. */
export type ScalarValue = StringValue | IntValue | FloatValue;

/**
 * Makes a string value.
 *
 * @example
 * ```ts
 * str("Mary"); // { kind: "string", value: "Mary" }
 * ```
 */
export function str(value: string): StringValue {
  return { kind: "string", value };
}

/**
 * Makes an int value. Throws a RangeError unless `value` is a safe integer.
 *
 * @example
 * ```ts
 * int(22); // { kind: "int", value: 22 }
 * ```
 */
export function int(value: number): IntValue {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return { kind: "int", value };
}

/**
 * Makes a float value. Throws a RangeError unless `value` is finite.
 *
 * @example
 * ```ts
 * float(1.75); // { kind: "float", value: 1.75 }
 * ```
 */
export function float(value: number): FloatValue {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return { kind: "float", value };
}

/**
 * Makes an object value from its fields, in order.
 *
 * @example
 * ```ts
 * object([["street", str("Main")]]);
 * ```
 */
export function object(fields: readonly Field[]): ObjectValue {
  return { kind: "object", fields };
}

/**
 * Deep structural equality, including kinds and field order: `int(2)` is not
 * equal to `float(2)`.
 *
 * @example
 * ```ts
 * valueEquals(int(2), int(2)); // true
 * valueEquals(int(2), float(2)); // false
 * ```
 */
export function valueEquals(a: Value, b: Value): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== "object") return a.value === (b as ScalarValue).value;
  const otherFields = (b as ObjectValue).fields;
  if (a.fields.length !== otherFields.length) return false;
  for (let i = 0; i < a.fields.length; i++) {
    const [nameA, valueA] = a.fields[i];
    const [nameB, valueB] = otherFields[i];
    if (nameA !== nameB || !valueEquals(valueA, valueB)) return false;
  }
  return true;
}

/**
 * Looks up a field of an object by name; `undefined` when absent or when
 * `value` is not an object.
 *
 * @example
 * ```ts
 * getField(object([["age", int(3)]]), "age"); // { kind: "int", value: 3 }
 * ```
 */
export function getField(value: Value, name: string): Value | undefined {
  if (value.kind !== "object") return undefined;
  for (const [fieldName, fieldValue] of value.fields) {
    if (fieldName === name) return fieldValue;
  }
  return undefined;
}

/**
 * A value as JSON text, for `--json` output and for loading Redis in benchmarks. Ints
 * become JSON numbers; floats keep a decimal point or an exponent (`2.0`, `1e+21`) so a
 * reader can tell them from ints; objects keep their field order — built as text,
 * since a JavaScript object would move names like `"10"` to the front.
 *
 * @example
 * ```ts
 * toJsonText(object([["age", int(3)], ["height", float(2)]])); // '{"age":3,"height":2.0}'
 * ```
 */
export function toJsonText(value: Value): string {
  switch (value.kind) {
    case "string":
      return JSON.stringify(value.value);
    case "int":
      return String(value.value);
    case "float":
      return floatJsonText(value.value);
    case "object":
      return `{${
        value.fields.map(([name, field]) => `${JSON.stringify(name)}:${toJsonText(field)}`)
          .join(",")
      }}`;
  }
}

/** JavaScript writes whole numbers below this in plain digits, from it on with an exponent. */
const WHOLE_WITHOUT_EXPONENT = 1e21;

/**
 * The shortest JSON number text for a finite float, with a `.` or an exponent.
 *
 * @example
 * ```ts
 * floatJsonText(2); // "2.0"
 * ```
 */
export function floatJsonText(value: number): string {
  const text = Object.is(value, -0) ? "-0" : String(value);
  // JavaScript writes every fraction with a `.` or an exponent, and whole numbers from
  // 1e21 up with an exponent: only smaller whole numbers need the `.0`.
  return Number.isInteger(value) && Math.abs(value) < WHOLE_WITHOUT_EXPONENT ? `${text}.0` : text;
}
