import assert from "node:assert/strict";
import { FNV_OFFSET_BASIS, FNV_PRIME } from "../../lib/base/fnv.ts";

/** FNV-1a-32 of `text`'s UTF-8, from the two constants. */
function fnv1a(text: string): number {
  let h = FNV_OFFSET_BASIS;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, FNV_PRIME);
  return h >>> 0;
}

Deno.test("FNV_OFFSET_BASIS and FNV_PRIME give FNV-1a-32's published test vectors", () => {
  // From the reference test suite of Fowler, Noll and Vo (draft-eastlake-fnv, test vectors).
  assert.equal(fnv1a(""), 0x811c9dc5);
  assert.equal(fnv1a("a"), 0xe40c292c);
  assert.equal(fnv1a("foobar"), 0xbf9cf968);
});
