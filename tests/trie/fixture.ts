/**
 * Records shaped like `kv gen -d 3 -l 8 -m 6` output, from a seeded generator, for the
 * trie's benchmarks: 0..6 fields per object drawn from the sample keyFile's names, a
 * field holding a nested object with probability ½ down to 3 levels below the record's
 * value, strings of 1..8 alphanumerics, ints 1..100, floats 1.50..2.10.
 *
 * @example
 * ```ts
 * import { generateRecordValue, seededRandom } from "./fixture.ts";
 * const value = generateRecordValue(seededRandom(1));
 * ```
 * @module
 */
import { Sfc32 } from "../../lib/gen/prng.ts";
import { type Field, float, int, object, str, type Value } from "../../lib/record/value.ts";

/** The sample keyFile's names and types. */
const FIELD_TYPES: readonly (readonly [string, "string" | "int" | "float"])[] = [
  ["name", "string"],
  ["age", "int"],
  ["height", "float"],
  ["weight", "float"],
  ["street", "string"],
  ["level", "int"],
  ["hair_color", "string"],
  ["family_members", "int"],
  ["married", "string"],
  ["profession", "string"],
  ["location", "string"],
  ["gender", "string"],
];
const MAX_FIELDS_PER_OBJECT = 6;
const MAX_NESTING_BELOW_RECORD = 3;
const MAX_STRING_LENGTH = 8;
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * kv gen's seeded PRNG (lib/gen/prng.ts) as a function returning numbers in [0, 1).
 *
 * @example
 * ```ts
 * const next = seededRandom(42);
 * next(); // always the same first number for seed 42
 * ```
 */
export function seededRandom(seed: number): () => number {
  const random = new Sfc32(seed);
  return () => random.nextUint32() / 2 ** 32;
}

/**
 * One record's value (always an object) in the `kv gen -d 3 -l 8 -m 6` shape.
 *
 * @example
 * ```ts
 * generateRecordValue(seededRandom(1)).kind; // "object"
 * ```
 */
export function generateRecordValue(next: () => number): Value {
  return generateObject(next, 0);
}

function generateObject(next: () => number, depth: number): Value {
  const count = Math.floor(next() * (MAX_FIELDS_PER_OBJECT + 1));
  const chosen = [...FIELD_TYPES];
  const fields: Field[] = [];
  for (let i = 0; i < count; i++) {
    const [name, type] = chosen.splice(Math.floor(next() * chosen.length), 1)[0];
    if (depth < MAX_NESTING_BELOW_RECORD && next() < 0.5) {
      fields.push([name, generateObject(next, depth + 1)]);
    } else if (type === "string") {
      let text = "";
      const length = 1 + Math.floor(next() * MAX_STRING_LENGTH);
      for (let j = 0; j < length; j++) text += ALPHANUMERIC[Math.floor(next() * 62)];
      fields.push([name, str(text)]);
    } else if (type === "int") {
      fields.push([name, int(1 + Math.floor(next() * 100))]);
    } else {
      fields.push([name, float(Math.round(150 + next() * 60) / 100)]);
    }
  }
  return object(fields);
}
