import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText, codePointUnit } from "./text_arbitrary.ts";

Deno.test("codePointUnit knows every code point but the surrogates as its own, and nothing else", () => {
  // The edges of the two ranges it covers, then what it must refuse.
  for (const codePoint of [0, 0xd7ff, 0xe000, 0x10ffff]) {
    const text = String.fromCodePoint(codePoint);
    assert.equal(codePointUnit.canShrinkWithoutContext(text), true, text);
  }
  for (const foreign of ["\ud800", "\udfff", "ab", "", "\u{1F600}x"]) {
    assert.equal(codePointUnit.canShrinkWithoutContext(foreign), false, JSON.stringify(foreign));
  }
});

Deno.test("anyText generates well-formed text of the asked lengths, astral characters included", () => {
  const texts = fc.sample(anyText({ minLength: 1, maxLength: 8 }), { seed: 7, numRuns: 2000 });
  for (const text of texts) {
    assert(text.isWellFormed(), JSON.stringify(text));
    const length = [...text].length;
    assert(length >= 1 && length <= 8, JSON.stringify(text));
  }
  assert(texts.some((text) => /[\u{10000}-\u{10ffff}]/u.test(text)), "astral characters");
});
