import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import { DecodeError } from "../../lib/base/bytes.ts";
import { keyProblem, listedKey, readListedKey } from "../../lib/record/key.ts";
import { parseKeyPath } from "../../lib/record/parse.ts";

Deno.test("listedKey prints a key as it is unless it holds a control character or U+FFFD", () => {
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
    fc.constantFrom(..."\0\t\n\r\x1b\x7f\x85\ufffd\"\\' .:"),
    anyText({ minLength: 1, maxLength: 1 }),
  );
  const key = fc.string({ unit, minLength: 1, maxLength: 12 }).filter((text) =>
    keyProblem(text) === undefined
  );
  fc.assert(
    fc.property(key, (key) => {
      const listed = listedKey(key);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(listed, /[\x00-\x1f\x7f-\x9f\ufffd]/);
      assert.deepEqual(readListedKey(listed), [key, listed.length]);
      // A line printed otherwise is no key itself, so given back it reaches no other key.
      if (listed !== key) assert.notEqual(keyProblem(listed), undefined);
      // The REPL reads the JSON string as a quoted key, the same key.
      if (listed !== key) assert.deepEqual(parseKeyPath(listed.slice(1)), [key]);
    }),
    { numRuns: 2000 },
  );
});
