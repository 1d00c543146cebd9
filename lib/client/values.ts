/**
 * Plain JavaScript values in and out of kv's typed values.
 *
 * kv stores strings, ints, floats and objects, and keeps an int apart from a
 * float (`2` is not `2.0`). JavaScript has one number type, so the library
 * follows one rule:
 *
 * - **Writing**: a string is a string; a number that is a safe integer
 *   (`Number.isSafeInteger`) is an int; any other finite number is a float; a
 *   {@link Float} is always a float (`new Float(2)` stores `2.0`); a plain
 *   object is an object with its own enumerable string keys in
 *   `Object.keys` order. Anything else — `null`, booleans, arrays, bigints,
 *   `NaN`, `Infinity`, class instances — is a `KvInputError`, as are field
 *   names that are empty or hold `.`, and nesting deeper than 64 levels.
 * - **Reading**: with `floats: "number"` (the default) ints and floats both
 *   come back as numbers, so a float with a whole value (`2.0`) reads as `2`
 *   and writing it back would store an int. With `floats: "tagged"` every
 *   float comes back as a {@link Float}, so a read-modify-write keeps every
 *   kind exactly.
 *
 * Objects read back as plain objects; JavaScript itself lists integer-like
 * field names (`"10"`) before the others, whatever order kv stored them in.
 *
 * @example
 * ```ts
 * import { Float, fromValue, toValue } from "./values.ts";
 * const value = toValue({ age: 22, height: 1.75, weight: new Float(70) });
 * fromValue(value, "tagged"); // { age: 22, height: Float(1.75), weight: Float(70) }
 * ```
 * @module
 */
import { MAX_NESTING_DEPTH } from "../limits.ts";
import { keyProblem } from "../record/key.ts";
import { type Field, float, int, object, str, type Value } from "../record/value.ts";
import { KvInputError } from "./errors.ts";

/**
 * A float that stays a float even when its value is whole: `new Float(2)` is
 * stored as `2.0`, where the plain number `2` would be an int.
 *
 * @example
 * ```ts
 * await kv.put("person1", { height: new Float(2) });
 * ```
 */
export class Float {
  /** The number; always finite. */
  readonly value: number;

  /**
   * Wraps a number.
   *
   * @param value a finite number; anything else throws a KvInputError.
   */
  constructor(value: number) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new KvInputError(`a Float must be a finite number, got ${String(value)}`);
    }
    this.value = value;
  }

  /**
   * The number, so `+float` and arithmetic work.
   *
   * @example
   * ```ts
   * const height = new Float(2);
   * +height + 1; // 3
   * ```
   */
  valueOf(): number {
    return this.value;
  }

  /**
   * JSON keeps the number; a float with a whole value loses its `.0` there.
   *
   * @example
   * ```ts
   * JSON.stringify({ height: new Float(2) }); // '{"height":2}'
   * ```
   */
  toJSON(): number {
    return this.value;
  }
}

/**
 * A value kv stores, as plain JavaScript: a string, a number (int or float by
 * the rule in this module's documentation), a {@link Float}, or an object of
 * such values.
 *
 * @example
 * ```ts
 * const person: KvValue = { name: "Mary", age: 22, address: { street: "Main" } };
 * ```
 */
export type KvValue = string | number | Float | KvObject;

/**
 * An object value: field names (non-empty, without `.`) to values.
 *
 * @example
 * ```ts
 * const address: KvObject = { street: "Main", number: 3 };
 * ```
 */
export interface KvObject {
  /** A field: its name (non-empty, without `.`) and its value. */
  [name: string]: KvValue;
}

/**
 * How floats read back: `"number"` (default) as plain numbers, `"tagged"` as
 * {@link Float}s so they can be told from ints.
 *
 * @example
 * ```ts
 * const kv = await connect({ servers: "serverFile.txt", floats: "tagged" });
 * ```
 */
export type FloatReading = "number" | "tagged";

/**
 * Checks a record key or field name: a non-empty string of well-formed
 * Unicode, at most MAX_KEY_BYTES UTF-8 bytes, without `.` (the one rule, keyProblem
 * of lib/record/key.ts). Throws a KvInputError naming `what`.
 *
 * @example
 * ```ts
 * checkName("person1", "key"); // fine
 * checkName("a.b", "key"); // throws KvInputError
 * ```
 */
export function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== "string") {
    throw new KvInputError(`a ${what} must be a string, got ${describe(name)}`);
  }
  // keyProblem counts a lone surrogate as U+FFFD; stored as UTF-8 it would not read back.
  if (!name.isWellFormed()) throw new KvInputError(`a ${what} must be well-formed Unicode`);
  const problem = keyProblem(name, what);
  if (problem !== undefined) throw new KvInputError(problem);
}

/**
 * A plain JavaScript value as kv's typed value, by the rule in this module's
 * documentation. Throws a KvInputError saying where (`value.address.zip`) a
 * part cannot be stored.
 *
 * @example
 * ```ts
 * toValue({ age: 22 }); // { kind: "object", fields: [["age", { kind: "int", value: 22 }]] }
 * ```
 */
export function toValue(input: unknown): Value {
  return convert(input, "value", 0);
}

function convert(input: unknown, where: string, depth: number): Value {
  if (typeof input === "string") {
    if (!input.isWellFormed()) throw new KvInputError(`${where} is not well-formed Unicode`);
    return str(input);
  }
  if (typeof input === "number") {
    if (!Number.isFinite(input)) {
      throw new KvInputError(`${where} is ${input}; kv stores finite numbers only`);
    }
    return Number.isSafeInteger(input) ? int(input) : float(input);
  }
  if (input instanceof Float) return float(input.value);
  if (!isPlainObject(input)) {
    throw new KvInputError(
      `${where} is ${describe(input)}; kv stores strings, numbers, Floats and plain objects`,
    );
  }
  if (depth === MAX_NESTING_DEPTH) {
    throw new KvInputError(`${where} nests deeper than ${MAX_NESTING_DEPTH} levels`);
  }
  const fields: Field[] = [];
  for (const [name, member] of Object.entries(input)) {
    checkName(name, "field name");
    fields.push([name, convert(member, `${where}.${name}`, depth + 1)]);
  }
  return object(fields);
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (typeof input !== "object" || input === null) return false;
  const prototype = Object.getPrototypeOf(input);
  return prototype === Object.prototype || prototype === null;
}

function describe(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  if (typeof input === "object") return `a ${input.constructor?.name ?? "object"}`;
  return `a ${typeof input} (${String(input)})`;
}

/**
 * kv's typed value as plain JavaScript; `floats` says how floats come back.
 *
 * @example
 * ```ts
 * fromValue(float(2), "tagged"); // Float { value: 2 }
 * fromValue(float(2), "number"); // 2
 * ```
 */
export function fromValue(value: Value, floats: FloatReading): KvValue {
  switch (value.kind) {
    case "string":
    case "int":
      return value.value;
    case "float":
      return floats === "tagged" ? new Float(value.value) : value.value;
    case "object": {
      // Assigned one by one (fromEntries over a mapped array cost a third of a read in
      // `kv bench`); `__proto__` is defined as an own property, never the prototype.
      const object: KvObject = {};
      for (const [name, field] of value.fields) {
        const member = fromValue(field, floats);
        if (name === PROTO) {
          Object.defineProperty(object, name, {
            value: member,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else object[name] = member;
      }
      return object;
    }
  }
}

/** The one field name that plain assignment would not store as an own property. */
const PROTO = "__proto__";
