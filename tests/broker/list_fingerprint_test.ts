/**
 * The server-list fingerprint (lib/broker/list_fingerprint.ts): equal exactly when placement
 * is, and as docs/protocol.md shows it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { canonicalList, listFingerprint, sameList } from "../../lib/broker/list_fingerprint.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { bytesToHex } from "../../lib/base/bytes.ts";
import { isNoList, LIST_FINGERPRINT_BYTES } from "../../lib/protocol/mod.ts";

/** A set of 1 to 6 distinct `ip:port` identities. */
function identitiesArbitrary(): fc.Arbitrary<string[]> {
  return fc.uniqueArray(
    fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 8000, max: 8004 }))
      .map(([host, port]) => `127.0.0.${host}:${port}`),
    { minLength: 1, maxLength: 6 },
  );
}

Deno.test("the fingerprint is equal exactly when the canonical lists are: the same identities, in any order, and the same k", () => {
  fc.assert(
    fc.property(
      identitiesArbitrary(),
      identitiesArbitrary(),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer(),
      (a, b, ka, kb, seed) => {
        const shuffled = [...a].sort((x, y) => (hash(x, seed) - hash(y, seed)) || (x < y ? -1 : 1));
        assert.ok(sameList(listFingerprint(a, ka), listFingerprint(shuffled, ka)), "order");
        const fa = listFingerprint(a, ka);
        const fb = listFingerprint(b, kb);
        assert.equal(fa.length, LIST_FINGERPRINT_BYTES);
        assert.ok(!isNoList(fa));
        assert.equal(sameList(fa, fb), canonicalList(a, ka) === canonicalList(b, kb));
        assert.equal(
          sameList(fa, fb),
          new Set(a).size === new Set([...a, ...b]).size &&
            a.length === b.length && ka === kb,
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("lists with one fingerprint place every key alike (placement depends on the identities alone, not their order)", () => {
  fc.assert(
    fc.property(
      identitiesArbitrary(),
      fc.string(),
      fc.integer({ min: 1, max: 3 }),
      (ids, key, k) => {
        const reversed = [...ids].reverse();
        assert.ok(sameList(listFingerprint(ids, k), listFingerprint(reversed, k)));
        const replicas = (list: string[]) =>
          new Placement(list).replicas(key, Math.min(k, list.length)).map((index) => list[index]);
        assert.deepEqual(replicas(reversed), replicas(ids));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("the fingerprint docs/protocol.md shows is the example list's, with k = 2", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const shown = doc.match(/^fingerprint: ([0-9a-f]{32})$/m);
  assert.ok(shown !== null, "the doc shows a fingerprint line");
  const ids = ["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"];
  assert.equal(bytesToHex(listFingerprint(ids, 2)), shown[1]);
  assert.ok(doc.includes(JSON.stringify(canonicalList(ids, 2)).slice(1, -1)), "the text hashed");
});

/** A deterministic shuffle key for `text` under `seed`. */
function hash(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x9e37_79b1);
  return h;
}
