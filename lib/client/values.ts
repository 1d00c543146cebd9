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
 *   `Object.keys` order, a field holding `undefined` left out as
 *   `JSON.stringify` leaves it out. Anything else — `undefined` as the value
 *   itself, `null`, booleans, arrays, bigints, `NaN`, `Infinity`, class
 *   instances — is a `KvInputError`, as are field names that are empty or hold
 *   `.`, and nesting deeper than 64 levels.
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
import { ByteReader, Utf8Cache } from "../base/bytes.ts";
import { MAX_NESTING_DEPTH } from "../limits.ts";
import { checkKey, keyProblem } from "../record/key.ts";
import { type Field, float, int, object, str, type Value } from "../record/value.ts";
import {
  checkObjectDepth,
  checkValueEnd,
  duplicateFieldName,
  NAME_SCAN_LIMIT,
  readFieldNameLength,
  readFloat,
  readInt,
  unknownTag,
  ValueTag,
} from "../record/value_codec.ts";
import { KvInputError } from "./errors.ts";
import { describeArgument } from "./arguments.ts";

/**
 * A float that stays a float even when its value is whole: `new Float(2)` is
 * stored as `2.0`, where the plain number `2` would be an int.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
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
      const got = typeof value === "number" ? value : describeArgument(value);
      throw new KvInputError(`a Float must be a finite number, got ${got}`);
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
   * The number as text, as `String(number)` writes it (`2`, `1.75`), so a template literal or
   * `String()` shows it: without it they used Object's own and showed `[object Object]`
   * (`valueOf` serves `+` and arithmetic, not text).
   *
   * @example
   * ```ts
   * `height: ${new Float(1.75)}`; // "height: 1.75"
   * ```
   */
  toString(): string {
    return String(this.value);
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
 * What `Kv.put` takes of a program's own type `T`: `T` itself where kv can store it, its
 * parts kv cannot store replaced by `never`, so that the compiler refuses what the runtime
 * ({@link toValue}) refuses. A `KvValue` is `KvObject`s of index signatures, which TypeScript
 * gives an object type declared with `type` but not one declared with `interface`; this takes
 * either: strings, numbers (literal types and enums too) and {@link Float}s as they are; an
 * object type field by field, `readonly` and optional fields as declared, and a field that may
 * be `undefined` (`age?: number`, `age: number | undefined`) as the runtime takes it: left out
 * when it holds `undefined`, as `JSON.stringify` leaves it out; booleans, `null`, `undefined`
 * as the value itself, bigints, symbols, arrays, functions, JavaScript's own objects (`Date`,
 * `Map`, `Set`, `RegExp`, typed arrays, promises: never whole, so the compiler names the
 * field; an `Error` by its `cause`) and `unknown` are `never`; so are the methods of a
 * program's own types. Symbol-keyed
 * members are ignored,
 * as the runtime ignores them. What only the runtime checks: field names (empty or holding
 * `.`), nesting past 64 levels, `NaN` and `Infinity`, lone surrogates, cycles, and instances
 * of a program's own classes with data fields only, which TypeScript cannot tell from a plain
 * object's type.
 *
 * @example
 * ```ts
 * interface Person { name: string; age?: number; nick: string | undefined }
 * const ok: KvStorable<Person> = { name: "Mary", age: undefined, nick: undefined };
 * interface Flagged { name: string; admin: boolean }
 * // KvStorable<Flagged> is { name: string; admin: never }: kv.put refuses a Flagged.
 * ```
 */
export type KvStorable<T> = T extends string | number | Float ? T
  : T extends readonly unknown[] | ((...args: never[]) => unknown) ? never
  // JavaScript's own objects, never whole: mapped member by member, as an object type of the
  // program's own is, a Date field's refusal listed its 44 methods and blamed
  // `createdAt.toString`, where it now reads "Type 'Date' is not assignable to type 'never'".
  // Not Error: its type is all data (name, message), which an interface of the program's own
  // shares (a chat message's); an Error is refused by its `cause`, unknown, all the same.
  : T extends
    | Date
    | RegExp
    | ReadonlyMap<unknown, unknown>
    | ReadonlySet<unknown>
    | ArrayBuffer
    | ArrayBufferView
    | PromiseLike<unknown> ? never
  : T extends object ? {
      // A field's `undefined` kept beside the rest of its type, which the value itself may
      // not be: KvStorable<undefined> is never.
      [K in keyof T]: K extends symbol ? T[K]
        : KvStorable<Exclude<T[K], undefined>> | Extract<T[K], undefined>;
    }
  : never;

/**
 * How floats read back: `"number"` (default) as plain numbers, `"tagged"` as
 * {@link Float}s so they can be told from ints.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
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
    throw new KvInputError(
      `${article(what)} ${what} must be a string, got ${describeArgument(name)}`,
    );
  }
  // keyProblem counts a lone surrogate as U+FFFD; stored as UTF-8 it would not read back.
  if (!name.isWellFormed()) {
    throw new KvInputError(`${article(what)} ${what} must be well-formed Unicode`);
  }
  const problem = keyProblem(name, what);
  if (problem === undefined) return;
  // keyProblem names an empty name first, then a dot: an application's keys hold dots often
  // (an e-mail address, a file name), and the refusal alone did not say what to do.
  const dotted = name.includes(".") ? "; put another character in its place, such as ':'" : "";
  throw new KvInputError(`${problem}${dotted}`);
}

/** "a" or "an" before `noun` ("an after key"). */
function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? "an" : "a";
}

/** What kv stores, in a program's words: the JavaScript values {@link toValue} takes. */
const STORED_KINDS = "strings, numbers, Floats and plain objects";

/**
 * A plain JavaScript value as kv's typed value, by the rule in this module's
 * documentation. A field holding `undefined` is left out, name and all, as
 * `JSON.stringify` leaves it out (kv has no `undefined`; stored, it reads back absent);
 * `undefined` as the value itself is refused, as every other value kv cannot store.
 * Throws a KvInputError saying where (`value.address.zip`) a part cannot be stored, and
 * what kv stores: `kinds`, in the words of where the value came from (kv http's JSON has
 * no Float class); default the library's.
 *
 * @example
 * ```ts
 * toValue({ age: 22 }); // { kind: "object", fields: [["age", { kind: "int", value: 22 }]] }
 * toValue({ name: "Mary", nick: undefined }); // the same as toValue({ name: "Mary" })
 * ```
 */
export function toValue(input: unknown, kinds: string = STORED_KINDS): Value {
  return convert(input, "value", 0, input, kinds);
}

/** {@link toValue} of `input`, found at `where` and nesting level `depth` within `root`. */
function convert(
  input: unknown,
  where: string,
  depth: number,
  root: unknown,
  kinds: string,
): Value {
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
      `${where} is ${describeArgument(input)}; kv stores ${kinds}${storingAdvice(input, where)}`,
    );
  }
  if (depth === MAX_NESTING_DEPTH) {
    throw new KvInputError(
      cycleAlong(root, where) ?? `${where} nests deeper than ${MAX_NESTING_DEPTH} levels`,
    );
  }
  const fields: Field[] = [];
  for (const [name, member] of Object.entries(input)) {
    // Absent, as JSON.stringify leaves it out: `{ ...form, nick: form.nick || undefined }` and
    // TypeScript's `nick?: string` hold undefined for "no nick". Its name is not stored, so
    // not checked either.
    if (member === undefined) continue;
    checkName(name, "field name");
    fields.push([name, convert(member, `${where}.${name}`, depth + 1, root, kinds)]);
  }
  return object(fields);
}

/**
 * What to store instead of `input`, a value kv cannot store found at `where` (`value` for the
 * value itself; a field holding `undefined` never comes here), as `: …`; "" when there is no
 * one answer (a function, a symbol). The refusal alone (`value.born is a Date; kv stores
 * strings, …`) left every caller to work out the same conversions.
 */
function storingAdvice(input: unknown, where: string): string {
  if (input === undefined || (input === null && where === "value")) {
    return ": to remove a record, delete it";
  }
  if (input === null) return ": leave the field out for none";
  if (typeof input === "boolean") return ": store 1 or 0, or a string";
  if (typeof input === "bigint") {
    return ": store it as a string, or as a number within Number.MAX_SAFE_INTEGER";
  }
  if (Array.isArray(input) || input instanceof Set) {
    return ": kv has no lists; store an object with a field per item, or its JSON as a string";
  }
  if (input instanceof Date) {
    return ": store its toISOString(), a string in time order, or getTime(), a number";
  }
  if (input instanceof Map) return ": store Object.fromEntries(map), if its keys are strings";
  if (typeof input === "object") return ": store a plain object of its fields ({ ...it })";
  return "";
}

/**
 * `value.a.b refers back to value.a; …` when the objects along `where` (`value`, then field
 * names, none holding '.') within `root` meet one twice: a cycle, found only once it is as deep
 * as MAX_NESTING_DEPTH (no cost to a value that is not), which would otherwise be named as
 * `value.self.self…` 64 times over.
 */
function cycleAlong(root: unknown, where: string): string | undefined {
  let node = root;
  let path = "value";
  const seen = new Map<unknown, string>([[root, path]]);
  for (const name of where.split(".").slice(1)) {
    node = (node as Record<string, unknown>)[name];
    path = `${path}.${name}`;
    const earlier = seen.get(node);
    if (earlier !== undefined) {
      return `${path} refers back to ${earlier}; kv stores no cycles (a value is a tree)`;
    }
    seen.set(node, path);
  }
  return undefined;
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (typeof input !== "object" || input === null) return false;
  const prototype = Object.getPrototypeOf(input);
  return prototype === Object.prototype || prototype === null;
}

/**
 * kv's typed value as plain JavaScript; `floats` says how floats come back.
 *
 * @example
 * ```ts
 * import { float } from "../record/value.ts";
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
      for (const [name, field] of value.fields) setField(object, name, fromValue(field, floats));
      return object;
    }
  }
}

/** The one field name that plain assignment would not store as an own property. */
const PROTO = "__proto__";

/** Sets `object[name]` as an own property, also when `name` is `__proto__`. */
function setField(object: KvObject, name: string, member: KvValue): void {
  if (name === PROTO) {
    Object.defineProperty(object, name, {
      value: member,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else object[name] = member;
}

/**
 * A value's binary encoding (lib/record/value_codec.ts: what a server answers) straight
 * to plain JavaScript: exactly `fromValue(decodeValue(bytes), floats)`, the same value or
 * the same DecodeError (its checks are value_codec's, made in the same order), without
 * making the typed {@link Value} on the way — a third less work a record read, which is
 * most of what a client spends on a GET.
 *
 * @example
 * ```ts
 * import { float, object } from "../record/value.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * decodePlainValue(encodeValue(object([["height", float(2)]])), "tagged"); // { height: Float(2) }
 * ```
 */
export function decodePlainValue(bytes: Uint8Array, floats: FloatReading): KvValue {
  const reader = new ByteReader(bytes);
  const value = (floats === "tagged" ? TAGGED_READER : NUMBER_READER).value(reader, 1);
  checkValueEnd(reader.remaining);
  return value;
}

/** Field names decoded lately, as value_codec.ts keeps its own: see Utf8Cache. */
const plainFieldNames = new Utf8Cache();

/**
 * The recursive reader of {@link decodePlainValue}: value_codec.ts's readValue with
 * plain JavaScript for its values. The names of the objects being read share one stack,
 * so checking an object's names for repeats allocates nothing (up to NAME_SCAN_LIMIT).
 */
class PlainValueReader {
  readonly #tagged: boolean;
  readonly #names: string[] = [];

  constructor(floats: FloatReading) {
    this.#tagged = floats === "tagged";
  }

  /** The value at `reader`, at nesting level `depth` (1 for a record's value). */
  value(reader: ByteReader, depth: number): KvValue {
    const tag = reader.u8("value tag");
    switch (tag) {
      case ValueTag.string:
        return reader.varintString("string value");
      case ValueTag.int:
      case ValueTag.negativeInt:
        return readInt(reader, tag);
      case ValueTag.float: {
        const value = readFloat(reader);
        return this.#tagged ? new Float(value) : value;
      }
      case ValueTag.object:
        return this.#object(reader, depth);
      default:
        return unknownTag(tag);
    }
  }

  #object(reader: ByteReader, depth: number): KvObject {
    checkObjectDepth(depth);
    const object: KvObject = {};
    const names = this.#names;
    const base = names.length;
    // Past NAME_SCAN_LIMIT names a Set finds repeats, as value_codec's FieldNameCheck.
    let many: Set<string> | undefined;
    try {
      for (let length = readFieldNameLength(reader); length !== 0;) {
        const name = reader.cachedUtf8(plainFieldNames, length, "field name");
        checkKey(name, "field name");
        if (many === undefined) {
          for (let at = base; at < names.length; at++) {
            if (names[at] === name) duplicateFieldName(name);
          }
          names.push(name);
          if (names.length - base > NAME_SCAN_LIMIT) many = new Set(names.slice(base));
        } else {
          if (many.has(name)) duplicateFieldName(name);
          many.add(name);
        }
        setField(object, name, this.value(reader, depth + 1));
        length = readFieldNameLength(reader);
      }
    } finally {
      // Also when a DecodeError unwinds: the stack is shared by every later read.
      names.length = base;
    }
    return object;
  }
}

const TAGGED_READER = new PlainValueReader("tagged");
const NUMBER_READER = new PlainValueReader("number");
