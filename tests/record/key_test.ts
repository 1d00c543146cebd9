import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import { DecodeError } from "../../lib/base/bytes.ts";
import { keyProblem, listedKey, readListedKey } from "../../lib/record/key.ts";
import { parseKeyPath } from "../../lib/record/parse.ts";

Deno.test("listedKey prints a key as it is unless it holds a control character, a format character, a line or paragraph separator, another default ignorable character, a space other than U+0020, or U+FFFD", () => {
  const cases: [string, string][] = [
    ["person 1", "person 1"],
    [" lead", " lead"],
    ['"q"', '"q"'],
    [String.raw`"cr\r"`, String.raw`"cr\r"`],
    ["cr\r", String.raw`."cr\r"`],
    ["tab\t", String.raw`."tab\t"`],
    ["nl\nx", String.raw`."nl\nx"`],
    ['q"\\\0', String.raw`."q\"\\\u0000"`],
    ["\b\f\x1b\x7f\x85", String.raw`."\u0008\u000c\u001b\u007f\u0085"`],
    ["k\ufffd", String.raw`."k\ufffd"`],
    // Invisible, or reordering what follows: each would pass for another key.
    ["victim\u200b", String.raw`."victim\u200b"`],
    ["vic\u202etim", String.raw`."vic\u202etim"`],
    ["soft\u00adhyphen\ufeff", String.raw`."soft\u00adhyphen\ufeff"`],
    ["a\u2028b\u2029", String.raw`."a\u2028b\u2029"`],
    ["tag\u{e0041}", String.raw`."tag\udb40\udc41"`],
    // Ignorable though no format character (a combining grapheme joiner, a variation selector,
    // a Hangul filler), or a space other than U+0020: each drawn as "victim" or "vic tim".
    ["victim\u034f", String.raw`."victim\u034f"`],
    ["victim\ufe0f", String.raw`."victim\ufe0f"`],
    ["victim\u3164", String.raw`."victim\u3164"`],
    ["vic\u00a0tim\u2007", String.raw`."vic\u00a0tim\u2007"`],
    ["café 😀", "café 😀"],
  ];
  for (const [key, listed] of cases) assert.equal(listedKey(key), listed, JSON.stringify(key));
});

Deno.test('readListedKey takes an argument as it is, or the key its ."…" form spells', () => {
  assert.deepEqual(readListedKey(" lead"), [" lead", 5]);
  assert.deepEqual(readListedKey('"q"'), ['"q"', 3]);
  assert.deepEqual(readListedKey(String.raw`."a\nb".name`), ["a\nb", 7]);
  // JSON's own escapes too, \b and \f and pairs, though listedKey writes none of them.
  assert.deepEqual(readListedKey(String.raw`."\b\f\ud83d\ude00"`)[0], "\b\f😀");
  for (const text of ['."abc', '."a\\"', '."\\x41"', '."\\ud800"', "k\ufffd", '."k\ufffd"']) {
    assert.throws(() => readListedKey(text), DecodeError, text);
  }
});

Deno.test("every key's listed line is one line with no control character, and reads back as the key", () => {
  const unit = fc.oneof(
    fc.constantFrom(
      ..."\0\t\n\r\x1b\x7f\x85\ufffd\u200b\u202e\u2028\u034f\ufe0f\u00a0\"\\' .:",
      "\u{e0041}",
    ),
    anyText({ minLength: 1, maxLength: 1 }),
  );
  const key = fc.string({ unit, minLength: 1, maxLength: 12 }).filter((text) =>
    keyProblem(text) === undefined
  );
  fc.assert(
    fc.property(key, (key) => {
      const listed = listedKey(key);
      assert.doesNotMatch(listed, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{DI}\u00a0\ufffd]/u);
      assert.deepEqual(readListedKey(listed), [key, listed.length]);
      // A line printed otherwise is no key itself, so given back it reaches no other key.
      if (listed !== key) assert.notEqual(keyProblem(listed), undefined);
      // The REPL reads the JSON string as a quoted key, the same key.
      if (listed !== key) assert.deepEqual(parseKeyPath(listed.slice(1)), [key]);
    }),
    { numRuns: 2000 },
  );
});
