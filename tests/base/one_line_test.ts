import assert from "node:assert/strict";
import fc from "fast-check";
import { oneLine } from "../../lib/base/one_line.ts";

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
