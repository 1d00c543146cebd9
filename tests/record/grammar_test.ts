import assert from "node:assert/strict";
import { openObjects } from "../../lib/record/grammar.ts";

Deno.test("openObjects counts braces outside quoted strings, either quote, escapes skipped", () => {
  const open = (text: string) => openObjects(new TextEncoder().encode(text));
  assert.equal(open(`a: { b: { c: 1 }`), 1);
  assert.equal(open(`a: { b: "}\\"}" }`), 0);
  assert.equal(open(`'a{': { 'b\\'{': 1 }`), 0);
  assert.equal(open(`  }`), -1);
});
