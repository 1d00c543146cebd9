import assert from "node:assert/strict";
import { ByteRadixTrie, NO_VALUE, RadixCursor } from "../../lib/trie/radix.ts";

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

Deno.test("ByteRadixTrie keeps exact keys, order and invariants through churn and compaction", () => {
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const trie = new ByteRadixTrie({ initialNodeCapacity: 1 });
  const oracle = new Map<string, number>();
  const keyOf = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));
  for (let step = 0; step < 30_000; step++) {
    // Long keys over a two-letter alphabet: deep splits, merges and label garbage.
    let text = "";
    const length = 1 + Math.floor(next() * 40);
    for (let i = 0; i < length; i++) text += next() < 0.5 ? "a" : "b";
    const key = keyOf(text);
    if (next() < 0.55) {
      const node = trie.insert(key, key.length);
      trie.setValue(node, step);
      oracle.set(text, step);
    } else {
      const expected = oracle.get(text) ?? NO_VALUE;
      assert.equal(trie.remove(key, key.length), expected);
      oracle.delete(text);
    }
    if (step % 5000 === 0) trie.checkInvariants();
  }
  trie.checkInvariants();
  assert.equal(trie.terminalCount, oracle.size);
  const expected = [...oracle.keys()].map(keyOf).sort(compareBytes);
  const cursor = new RadixCursor(trie, new Uint8Array(0));
  const walked: Uint8Array[] = [];
  while (cursor.next()) walked.push(cursor.key.slice(0, cursor.keyLength));
  assert.deepEqual(walked, expected);
  for (const key of expected) assert.equal(trie.remove(key, key.length) !== NO_VALUE, true);
  assert.equal(trie.nodeCount, 1);
  assert.equal(trie.garbageBytes <= 16 * 1024, true);
  trie.checkInvariants();
});
