import assert from "node:assert/strict";
import fc from "fast-check";
import { MergedListing } from "../../lib/broker/repair_listing.ts";
import type { PartitionEntry } from "../../lib/protocol/mod.ts";
import { compareKeys } from "../../lib/base/utf8.ts";

const VERSION = { ms: 1, counter: 0, broker: 1 };

/** Servers' sorted key sets, a page size per server, and the page after which each fails (if any). */
const listingsArbitrary = fc.integer({ min: 1, max: 4 }).chain((serverCount) =>
  fc.record({
    keys: fc.array(
      // Keys are never empty: "" is the listing's "from the start".
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 30 })
        .map((keys) => keys.sort(compareKeys)),
      { minLength: serverCount, maxLength: serverCount },
    ),
    pageSizes: fc.array(fc.integer({ min: 1, max: 7 }), {
      minLength: serverCount,
      maxLength: serverCount,
    }),
    failAfterPages: fc.array(fc.option(fc.nat(5), { nil: undefined }), {
      minLength: serverCount,
      maxLength: serverCount,
    }),
  })
);

Deno.test("merged listing: every key once, in order, with the copy of every server that listed it", async () => {
  await fc.assert(
    fc.asyncProperty(listingsArbitrary, async ({ keys, pageSizes, failAfterPages }) => {
      const pagesServed = keys.map(() => 0);
      const listing = new MergedListing(keys.map((_, server) => server), (server, after) => {
        if (failAfterPages[server] !== undefined && pagesServed[server] >= failAfterPages[server]) {
          return Promise.reject(new Error(`server ${server} is down`));
        }
        pagesServed[server]++;
        const rest = keys[server].filter((key) => after === "" || compareKeys(key, after) > 0);
        const entries: PartitionEntry[] = rest.slice(0, pageSizes[server]).map((key) => ({
          key,
          version: VERSION,
          tombstone: false,
        }));
        return Promise.resolve({ entries, more: rest.length > pageSizes[server] });
      });
      const seen: string[] = [];
      for (let batch = await listing.next(); batch.length > 0; batch = await listing.next()) {
        for (const { key, copies } of batch) {
          if (seen.length > 0) assert(compareKeys(seen[seen.length - 1], key) < 0, "ascending");
          seen.push(key);
          const holders = copies.map((copy) => copy.server);
          assert.equal(new Set(holders).size, holders.length, "one copy a server");
          // Every server that covered the key and holds it shows its copy, and only those.
          keys.forEach((serverKeys, server) => {
            if (!listing.covered(server, key)) return;
            assert.equal(holders.includes(server), serverKeys.includes(key), `${server} ${key}`);
          });
        }
      }
      // Every key of a server whose listing never failed was handed out.
      keys.forEach((serverKeys, server) => {
        if (listing.failures().has(server)) return;
        for (const key of serverKeys) assert(seen.includes(key), `missing ${key} of ${server}`);
      });
    }),
  );
});

Deno.test("merged listing: a listing that goes backwards counts as failed, its keys quoted as kv keys lists them", async () => {
  let calls = 0;
  // Keys a server listed reach a report line: an escape sequence or a newline in one is shown.
  const [first, back] = ["b\x1b[31m", "a\nforged"];
  const listing = new MergedListing([0], () => {
    calls++;
    const entries = [{ key: calls === 1 ? first : back, version: VERSION, tombstone: false }];
    return Promise.resolve({ entries, more: true });
  });
  assert.deepEqual((await listing.next()).map((listed) => listed.key), [first]);
  assert.deepEqual(await listing.next(), []);
  assert.equal(
    listing.failures().get(0),
    String.raw`listing after '."b\u001b[31m"' went back to '."a\nforged"'`,
  );
  assert.equal(listing.covered(0, first), true);
  assert.equal(listing.covered(0, "c"), false);
});

Deno.test("merged listing: a page or an ended listing older than the refresh age is read again from the last key handed out, so a write since shows; oldestRead tells when the oldest read in use was sent", async () => {
  const MINUTE = 60_000;
  let now = 0;
  const held: string[][] = [["a", "b", "c", "d"], []];
  const fetches: [number, string][] = [];
  const listing = new MergedListing([0, 1], (server, after) => {
    fetches.push([server, after]);
    // Server 0 answers each page 3 minutes after it was asked: a slow or stopped repair.
    if (server === 0) now += 3 * MINUTE;
    const rest = held[server].filter((key) => after === "" || compareKeys(key, after) > 0);
    const entries = rest.slice(0, 1).map((key) => ({ key, version: VERSION, tombstone: false }));
    return Promise.resolve({ entries, more: rest.length > 1 });
  }, { refreshMs: 4 * MINUTE, clock: () => now });
  const handedOut: [string, number[]][] = [];
  const oldest: number[] = [];
  for (let batch = await listing.next(); batch.length > 0; batch = await listing.next()) {
    for (const { key, copies } of batch) handedOut.push([key, copies.map((copy) => copy.server)]);
    oldest.push(now - listing.oldestRead());
    // A write reaches server 1 (which listed nothing) once the first key was handed out.
    if (handedOut.length === 1) held[1] = ["c"];
  }
  assert.deepEqual(handedOut, [["a", [0]], ["b", [0]], ["c", [0, 1]], ["d", [0]]]);
  assert.ok(fetches.some(([server, after]) => server === 1 && after !== ""), "server 1 re-read");
  for (const age of oldest) assert.ok(age <= 4 * MINUTE + 3 * MINUTE, `read ${age} ms before`);
});
