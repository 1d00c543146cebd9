import assert from "node:assert/strict";
import fc from "fast-check";
import { wrapWords } from "../../lib/base/wrap_words.ts";

Deno.test("wrapWords breaks at spaces, fills each line, and never cuts a word", () => {
  assert.deepEqual(wrapWords("fewer than k servers could delete it", 20), [
    "fewer than k servers",
    "could delete it",
  ]);
  assert.deepEqual(wrapWords("unbreakable word", 4), ["unbreakable", "word"]);
  assert.deepEqual(wrapWords("", 10), [""]);
});

Deno.test("wrapWords' lines hold the words in order, each line within the width unless one word is wider", () => {
  const word = fc.stringMatching(/^[a-z]{1,12}$/);
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 40 }), (
      words,
      columns,
    ) => {
      const lines = wrapWords(words.join(" "), columns);
      assert.equal(lines.join(" "), words.join(" "));
      for (const [index, line] of lines.entries()) {
        assert(line.length <= columns || !line.includes(" "), line);
        // Filled: the next line's first word would not have fitted on this one.
        const next = lines[index + 1]?.split(" ")[0];
        if (next !== undefined) assert(line.length + 1 + next.length > columns, line);
      }
    }),
  );
});
