import assert from "node:assert/strict";
import fc from "fast-check";
import { readUtf8, utf8Length, writeUtf8 } from "../lib/trie_utf8.ts";

const encoder = new TextEncoder();

Deno.test("utf8Length, writeUtf8 and readUtf8 agree with the platform codec", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (text) => {
      const expected = encoder.encode(text);
      assert.equal(utf8Length(text), expected.length);
      const buffer = new Uint8Array(expected.length + 2);
      assert.equal(writeUtf8(text, buffer, 1), expected.length + 1);
      assert.deepEqual(buffer.subarray(1, expected.length + 1), expected);
      assert.equal(readUtf8(buffer, 1, expected.length), text);
    }),
    { numRuns: 500 },
  );
});
