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
import { DIGIT_ZERO, DOT, MINUS } from "./grammar.ts";

/** A string value: any sequence of Unicode characters. */
export interface StringValue {
  /** Tells a string from the other kinds. */
  readonly kind: "string";
  /** The string. */
  readonly value: string;
}

/** An integer value, always a safe integer (|n| ≤ 2^53 − 1). */
export interface IntValue {
  /** Tells an integer from the other kinds. */
  readonly kind: "int";
  /** The integer. */
  readonly value: number;
}

/** A floating point value; always finite. */
export interface FloatValue {
  /** Tells a float from the other kinds. */
  readonly kind: "float";
  /** The float. */
  readonly value: number;
}

/** One named member of an object: field names are non-empty and hold no `.`. */
export type Field = readonly [name: string, value: Value];

/**
 * An object: named values in the order they were written. Field names are
 * unique within one object.
 */
export interface ObjectValue {
  /** Tells an object from the other kinds. */
  readonly kind: "object";
  /** The fields, in the order they were written. */
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

/** Bytes {@link writeNumberJson} may write at most: a sign, 16 digits and `.0`, with room to spare. */
export const MAX_NUMBER_JSON_BYTES = 20;

/** Most decimals a float may have for {@link writeNumberJson} to write it itself. */
const SHORT_FLOAT_DECIMALS = 6;

/**
 * Floats of at most {@link SHORT_FLOAT_DECIMALS} decimals are written by
 * {@link writeNumberJson} only below this magnitude: then the digits times 10^6 stay
 * exact (below 2^53), and a double's spacing (at most 2^-23) stays far below 10^-6, so
 * the digits found are the only ones that read back as the float.
 */
const SHORT_FLOAT_LIMIT = 1e9;

const POWERS_OF_TEN: readonly number[] = Array.from(
  { length: SHORT_FLOAT_DECIMALS + 1 },
  (_, power) => 10 ** power,
);

/**
 * Writes the JSON text of a number as ASCII into `out` from `at` (which has room for
 * {@link MAX_NUMBER_JSON_BYTES}) and returns where it ends, or -1, having written
 * nothing, for a number it leaves to `String` (an int past 2^53, which no value holds) or
 * {@link floatJsonText}. A safe int is written exactly as `String(value)`. A float is written when it is whole below 2^53 or has at
 * most 6 decimals below 1e9 — nearly every float a record holds — exactly as
 * {@link floatJsonText} would write it, without making a string: the shortest decimal
 * that reads back as the float is then its few decimals, found by scaling by 10, 100, …
 *
 * @example
 * ```ts
 * const out = new Uint8Array(MAX_NUMBER_JSON_BYTES);
 * new TextDecoder().decode(out.subarray(0, writeNumberJson(1.65, true, out, 0))); // "1.65"
 * writeNumberJson(2, true, out, 0); // 3: "2.0"
 * writeNumberJson(0.1 + 0.2, true, out, 0); // -1: floatJsonText's "0.30000000000000004"
 * ```
 */
export function writeNumberJson(
  value: number,
  isFloat: boolean,
  out: Uint8Array,
  at: number,
): number {
  if (Number.isInteger(value)) {
    if (!(Math.abs(value) <= Number.MAX_SAFE_INTEGER) || Object.is(value, -0)) return -1;
    const end = writeDigits(value, 0, out, at);
    if (!isFloat) return end;
    out[end] = DOT;
    out[end + 1] = DIGIT_ZERO;
    return end + 2;
  }
  if (!(Math.abs(value) < SHORT_FLOAT_LIMIT)) return -1;
  for (let decimals = 1; decimals <= SHORT_FLOAT_DECIMALS; decimals++) {
    const scale = POWERS_OF_TEN[decimals];
    const digits = Math.round(value * scale);
    // Both exact, so the division rounds as reading the decimal text would.
    if (digits / scale === value) return writeDigits(digits, decimals, out, at);
  }
  return -1;
}

/**
 * Writes the safe integer `digits` with a decimal point `decimals` digits from its end
 * (none for 0), with at least one digit before the point; returns where it ends.
 */
function writeDigits(digits: number, decimals: number, out: Uint8Array, at: number): number {
  let magnitude = Math.abs(digits);
  if (digits < 0) out[at++] = MINUS;
  let count = 1;
  for (let rest = Math.floor(magnitude / 10); rest > 0; rest = Math.floor(rest / 10)) count++;
  if (count <= decimals) count = decimals + 1;
  const end = at + count + (decimals > 0 ? 1 : 0);
  let position = end;
  for (let written = 0; written < count; written++) {
    if (written === decimals && decimals > 0) out[--position] = DOT;
    const next = Math.floor(magnitude / 10);
    out[--position] = DIGIT_ZERO + (magnitude - next * 10);
    magnitude = next;
  }
  return end;
}
