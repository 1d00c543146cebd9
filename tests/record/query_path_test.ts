import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import {
  MAX_KEY_BYTES,
  MAX_NESTING_DEPTH,
  MAX_PATH_BYTES,
  MAX_PATH_SEGMENTS,
} from "../../lib/limits.ts";
import { missedPath, QueryPathError, splitQueryPath } from "../../lib/record/query_path.ts";
import { int } from "../../lib/record/value.ts";

function assertPathError(text: string, message: string): void {
  assert.throws(
    () => splitQueryPath(text),
    (error: unknown) => error instanceof QueryPathError && error.message === message,
    `expected QueryPathError '${message}'`,
  );
}

Deno.test("splitQueryPath splits a dotted path into its segments", () => {
  assert.deepEqual(splitQueryPath("person1.address.street"), ["person1", "address", "street"]);
  assert.deepEqual(splitQueryPath("person0"), ["person0"]);
  assert.deepEqual(splitQueryPath("Zürich.😀"), ["Zürich", "😀"]);
  assert.deepEqual(splitQueryPath("my key.a b"), ["my key", "a b"]);
});

Deno.test("splitQueryPath keeps the whole path exactly as written, spaces included", () => {
  assert.deepEqual(splitQueryPath(" lead.age "), [" lead", "age "]);
  assert.deepEqual(splitQueryPath(" .a"), [" ", "a"]);
  assert.throws(() => splitQueryPath(""), QueryPathError);
  assert.throws(() => splitQueryPath(" lead..b"), /^QueryPathError: empty segment at column 7/);
});

Deno.test("empty paths and empty segments are errors naming the column", () => {
  assertPathError("", "empty query path: expected a key");
  assertPathError("a..b", "empty segment at column 3 in 'a..b'");
  assertPathError("person1.address.", "empty segment at column 17 in 'person1.address.'");
  assertPathError(".a", "empty segment at column 1 in '.a'");
  assertPathError("é😀..b", "empty segment at column 4 in 'é😀..b'");
});

Deno.test("a path may have MAX_NESTING_DEPTH + 1 segments and no more", () => {
  assert.equal(MAX_PATH_SEGMENTS, MAX_NESTING_DEPTH + 1);
  const longest = Array.from({ length: MAX_PATH_SEGMENTS }, (_, index) => `s${index}`);
  assert.deepEqual(splitQueryPath(longest.join(".")), longest);
  const tooMany = [...longest, "x"].join(".");
  assertPathError(
    tooMany,
    `query path has ${MAX_PATH_SEGMENTS + 1} segments; the limit is ${MAX_PATH_SEGMENTS} ` +
      `(MAX_NESTING_DEPTH + 1) in '${tooMany.slice(0, 80)}…'`,
  );
});

Deno.test("segments may be MAX_KEY_BYTES bytes and the path MAX_PATH_BYTES bytes", () => {
  const longestSegment = "é".repeat(MAX_KEY_BYTES / 2);
  assert.deepEqual(splitQueryPath(`a.${longestSegment}`), ["a", longestSegment]);
  const tooLongSegment = `${longestSegment}x`;
  assertPathError(
    `a.${tooLongSegment}`,
    `segment at column 3 is ${MAX_KEY_BYTES + 1} bytes, over the limit of ${MAX_KEY_BYTES} ` +
      `in 'a.${tooLongSegment.slice(0, 78)}…'`,
  );
  const segment = "k".repeat(1000);
  const longestPath = [segment, segment, segment, segment, "k".repeat(MAX_PATH_BYTES - 4004)];
  assert.equal(longestPath.join(".").length, MAX_PATH_BYTES);
  assert.deepEqual(splitQueryPath(longestPath.join(".")), longestPath);
  assertPathError(
    `${longestPath.join(".")}k`,
    `query path is ${MAX_PATH_BYTES + 1} bytes; the limit is ${MAX_PATH_BYTES} (MAX_PATH_BYTES)`,
  );
});

Deno.test("splitQueryPath gives back the segments it was built from", () => {
  const segment = anyText({ minLength: 1, maxLength: 10 }).filter((text) => !text.includes("."));
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segments) => {
      assert.deepEqual(splitQueryPath(segments.join(".")), segments);
    }),
  );
});

Deno.test("missedPath ends at the name a no-field miss lacks, or at the leaf a not-object miss met", () => {
  const path = ["person1", "address", "stret", "number"];
  assert.deepEqual(missedPath(path, { reason: "no-field", segment: 2, closest: "street" }), [
    "person1",
    "address",
    "stret",
  ]);
  assert.deepEqual(missedPath(path, { reason: "no-field", segment: 1 }), ["person1", "address"]);
  assert.deepEqual(missedPath(path, { reason: "not-object", segment: 1, value: int(1) }), [
    "person1",
  ]);
  assert.deepEqual(missedPath(path, { reason: "not-object", segment: 3, value: int(1) }), [
    "person1",
    "address",
    "stret",
  ]);
});
