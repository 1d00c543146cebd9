/**
 * fast-check arbitraries for kv values, keys and versions, shared by the codec, protocol,
 * trie, storage and client tests.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(valueArbitrary(), (value) => roundTrips(value)));
 * ```
 * @module
 */
import fc from "fast-check";
import { type Field, float, int, str, type Value } from "../../lib/record/value.ts";
import {
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  type Version,
} from "../../lib/record/version.ts";

/** Valid keys and field names: non-empty, no '.', short. */
export function keyArbitrary(): fc.Arbitrary<string> {
  return fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
    .filter((key) => !key.includes(".") && new TextEncoder().encode(key).length <= 1024);
}

/** Any valid value, objects nested at most `maxDepth` deep. */
export function valueArbitrary(maxDepth = 4): fc.Arbitrary<Value> {
  const scalar: fc.Arbitrary<Value> = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 20 }).map(str),
    fc.maxSafeInteger().map(int),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(float),
  );
  const { value } = fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth },
      scalar,
      fc.uniqueArray(fc.tuple(keyArbitrary(), tie("value")), {
        maxLength: 5,
        selector: ([name]) => name,
      }).map((fields): Value => ({ kind: "object", fields: fields as Field[] })),
    ),
  }));
  return value;
}

/**
 * Any valid version, each field over its whole range. Copied into a plain object: fast-check
 * may make records without a prototype, which a strict deepEqual tells from a decoded one.
 */
export function versionArbitrary(): fc.Arbitrary<Version> {
  return fc.record({
    ms: fc.integer({ min: 0, max: MAX_VERSION_MS }),
    counter: fc.integer({ min: 0, max: MAX_VERSION_COUNTER }),
    broker: fc.integer({ min: 0, max: MAX_VERSION_BROKER }),
  }).map((version) => ({ ...version }));
}
