import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import { DecodeError } from "../../lib/base/bytes.ts";
import { keyProblem, listedKey, oneLine, readListedKey } from "../../lib/record/key.ts";
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

/**
 * The characters no shown line may hold: C0, DEL, C1, the bidi embeddings and overrides
 * U+202A–U+202E and isolates U+2066–U+2069 (a terminal acts on them, or shows text reversed).
 */
const UNSHOWABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** Text of any characters, the unshowable ones often. */
const awkwardText = fc.string({
  unit: fc.oneof(
    fc.constantFrom("\x1b", "\n", "\r", "\x7f", "\x9b", "\u202e", "\u2066", "a", "é", "😀"),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
  ),
  maxLength: 200,
});

Deno.test("oneLine never gives a control character, a bidi override or isolate, and never more characters than its bound", () => {
  fc.assert(fc.property(awkwardText, fc.integer({ min: 1, max: 300 }), (text, maxCharacters) => {
    const shown = oneLine(text, { maxCharacters });
    assert.doesNotMatch(shown, UNSHOWABLE);
    assert.ok(shown.length <= maxCharacters, `${shown.length} > ${maxCharacters}`);
    // What it gave is given back unchanged: a message shown twice (a broker's, then its
    // client's) is not escaped twice.
    assert.equal(oneLine(shown, { maxCharacters }), shown);
  }));
});

Deno.test("oneLine keeps a line that fits whole, and cuts one that does not with '…' between escapes", () => {
  fc.assert(fc.property(awkwardText, (text) => {
    const whole = oneLine(text);
    assert.doesNotMatch(whole, UNSHOWABLE);
    // A bound of 1 at least: room for the "…".
    if (whole.length < 2) return;
    assert.equal(oneLine(text, { maxCharacters: whole.length }), whole);
    const cut = oneLine(text, { maxCharacters: whole.length - 1 });
    assert.ok(cut.endsWith("…"));
    assert.ok(whole.startsWith(cut.slice(0, -1)), "a cut keeps the start, no escape cut in two");
  }));
  assert.equal(
    oneLine("evil\x1b[31m red\r\nkv get: forged"),
    String.raw`evil\u001b[31m red\u000d\u000akv get: forged`,
  );
  assert.equal(oneLine("\u202eabc", { maxCharacters: 8 }), String.raw`\u202ea…`);
  assert.equal(oneLine("\x1b\x1b", { maxCharacters: 8 }), String.raw`\u001b…`);
  // A surrogate pair is never cut in two.
  assert.equal(oneLine("😀😀", { maxCharacters: 2 }), "…");
  assert.equal(oneLine("😀😀", { maxCharacters: 3 }), "😀…");
});
