import assert from "node:assert/strict";
import { counted, listed, wasOrWere } from "../../lib/base/plural.ts";

Deno.test("counted says one thing in the singular, and none or many in the plural", () => {
  assert.deepEqual([0, 1, 2, 21].map((count) => counted(count, "record")), [
    "0 records",
    "1 record",
    "2 records",
    "21 records",
  ]);
});

Deno.test("wasOrWere agrees with one thing in the singular, and none or many in the plural", () => {
  assert.deepEqual([0, 1, 2].map(wasOrWere), ["were", "was", "were"]);
});

Deno.test("listed names one item alone, two with 'and', more with commas and 'and' before the last", () => {
  assert.deepEqual([["a"], ["a", "b"], ["a", "b", "c"]].map(listed), [
    "a",
    "a and b",
    "a, b and c",
  ]);
});
