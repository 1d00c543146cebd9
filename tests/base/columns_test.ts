import assert from "node:assert/strict";
import { charColumns, fitColumns, textColumns } from "../../lib/base/columns.ts";

Deno.test("charColumns: wide and fullwidth characters and emoji take two columns, marks none, the rest one", () => {
  const columns = (text: string) => [...text].map((c) => charColumns(c.codePointAt(0)!));
  assert.deepEqual(columns("aé~"), [1, 1, 1]);
  assert.deepEqual(columns("你世한あアＡ"), [2, 2, 2, 2, 2, 2], "CJK, Hangul, kana, fullwidth A");
  assert.deepEqual(columns("😀🚀"), [2, 2], "emoji");
  assert.deepEqual(columns("ｱ"), [1], "halfwidth katakana");
  assert.deepEqual(
    columns("\u0301\u200d\ufe0f"),
    [0, 0, 0],
    "a combining accent, ZWJ, a variation selector",
  );
  assert.deepEqual(columns("Ωж→"), [1, 1, 1], "Greek, Cyrillic, an arrow");
});

Deno.test("textColumns sums the columns of each code point, a surrogate pair counted once", () => {
  assert.equal(textColumns(""), 0);
  assert.equal(textColumns("kv> GET 你好"), 12);
  assert.equal(textColumns("e\u0301"), 1);
  assert.equal(textColumns("😀"), 2);
});

Deno.test("fitColumns keeps the longest start that fits: whole characters, wide ones as two columns", () => {
  assert.equal(fitColumns("indexing data.txt", 8), "indexing");
  assert.equal(fitColumns("世界", 3), "世");
  assert.equal(fitColumns("世界", 4), "世界");
  assert.equal(fitColumns("a😀b", 2), "a", "a surrogate pair is one character, never cut in two");
  assert.equal(fitColumns("abc", 0), "");
  assert.equal(fitColumns("abc", -5), "");
});
