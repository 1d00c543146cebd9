/**
 * Last write wins in the store: versioned puts and tombstones, applied in any order and
 * any number of times, leave every replica the same; tombstones hide records, survive
 * restarts and snapshots, and are purged after the grace.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Store } from "../../lib/server/store.ts";
import { int, str, type Value } from "../../lib/record/value.ts";
import { compareVersions, type Version } from "../../lib/record/version.ts";
import { valueArbitrary } from "../helpers/value_arbitrary.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { waitFor } from "../helpers/wait.ts";

const quiet = { onWarning: () => {} };

/** One write as a broker sends it: a PUT (with a value) or a DELETE (without). */
interface Write {
  readonly key: string;
  readonly value: Value | undefined;
  readonly version: Version;
}

function apply(store: Store, write: Write): boolean {
  const options = { version: write.version, ifNewer: true };
  return write.value === undefined
    ? store.delete(write.key, options)
    : store.put(write.key, write.value, options);
}

/** What a key holds by the model: the write with the newest version, if any. */
function newest(writes: readonly Write[], key: string): Write | undefined {
  let found: Write | undefined;
  for (const write of writes) {
    if (write.key !== key) continue;
    if (found === undefined || compareVersions(write.version, found.version) > 0) found = write;
  }
  return found;
}

const KEYS = ["a", "b", "person1", "person10"];

/** Writes with distinct versions (as brokers make them), some sharing a millisecond. */
const writesArbitrary: fc.Arbitrary<Write[]> = fc.uniqueArray(
  fc.record({
    key: fc.constantFrom(...KEYS),
    value: fc.option(valueArbitrary(2), { nil: undefined, freq: 3 }),
    version: fc.record({
      ms: fc.integer({ min: 0, max: 3 }),
      counter: fc.integer({ min: 0, max: 3 }),
      broker: fc.integer({ min: 1, max: 3 }),
    }).map((version) => ({ ...version })),
  }).map((write) => ({ ...write })),
  { maxLength: 12, selector: (write) => JSON.stringify(write.version) },
);

/** Each write at least once, in any order: a replica's view of the same history. */
function deliveries(writes: Write[]): fc.Arbitrary<Write[]> {
  return fc.shuffledSubarray(writes)
    .map((again) => [...writes, ...again])
    .chain((all) => fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }));
}

function checkAgainstModel(store: Store, writes: readonly Write[]): void {
  let records = 0;
  let tombstones = 0;
  for (const key of KEYS) {
    const expected = newest(writes, key);
    assert.deepEqual(store.get(key), expected?.value, `value of ${key}`);
    assert.deepEqual(store.versionOf(key), expected?.version, `version of ${key}`);
    if (expected === undefined) continue;
    if (expected.value === undefined) tombstones++;
    else records++;
  }
  assert.equal(store.recordCount, records);
  assert.equal(store.tombstoneCount, tombstones);
  const listed = KEYS.filter((key) => newest(writes, key)?.value !== undefined).sort();
  assert.deepEqual(store.keys({ limit: 100 }), listed);
}

Deno.test("store: versioned writes applied in any order, any number of times, give the model's state", async () => {
  await fc.assert(
    fc.asyncProperty(
      writesArbitrary.chain((writes) =>
        fc.tuple(fc.constant(writes), deliveries(writes), deliveries(writes))
      ),
      async ([writes, first, second]) => {
        const replicas = [await Store.open(quiet), await Store.open(quiet)];
        [first, second].forEach((order, index) => {
          for (const write of order) apply(replicas[index], write);
        });
        for (const replica of replicas) {
          checkAgainstModel(replica, writes);
          await replica.close();
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("store: a durable store replays versions and tombstones from its log and its snapshot", async () => {
  let run = 0;
  await withTempDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(writesArbitrary, fc.boolean(), async (writes, compact) => {
        const dataDir = `${dir}/${++run}`;
        const store = await Store.open({ ...quiet, dataDir });
        for (const write of writes) apply(store, write);
        await store.commit();
        if (compact) await store.compact();
        await store.close();
        const reopened = await Store.open({ ...quiet, dataDir });
        checkAgainstModel(reopened, writes);
        await reopened.close();
      }),
      { numRuns: 40 },
    );
  });
});

Deno.test("store: a tombstone hides the record from get, query, keys and counts, and refuses older writes", async () => {
  const store = await Store.open(quiet);
  const v = (ms: number) => ({ ms, counter: 0, broker: 1 });
  store.put("person1", str("x"), { version: v(10), ifNewer: true });
  store.put("person10", int(1), { version: v(10), ifNewer: true });
  assert.equal(store.delete("person1", { version: v(20), ifNewer: true }), true);
  assert.equal(store.get("person1"), undefined);
  assert.equal(store.query(["person1"]), undefined);
  assert.deepEqual(store.keys({ prefix: "person", limit: 10 }), ["person10"]);
  assert.equal(store.recordCount, 1);
  assert.equal(store.put("person1", str("late"), { version: v(15), ifNewer: true }), false);
  assert.equal(store.get("person1"), undefined, "an older write does not bring it back");
  assert.equal(store.put("person1", str("new"), { version: v(30), ifNewer: true }), true);
  assert.deepEqual(store.get("person1"), str("new"));
  assert.equal(store.tombstoneCount, 0);
  assert.equal(store.delete("never", { version: v(5), ifNewer: true }), true);
  assert.equal(store.put("never", int(1), { version: v(4), ifNewer: true }), false);
  await store.close();
});

Deno.test("store: tombstones are purged after the grace, by their version's time", async () => {
  await withTempDir(async (dir) => {
    const grace = 60_000;
    const store = await Store.open({ ...quiet, dataDir: dir, tombstoneGraceMs: grace });
    const now = Date.now();
    store.delete("old", { version: { ms: now - grace - 1, counter: 0, broker: 1 } });
    store.delete("young", { version: { ms: now, counter: 0, broker: 1 } });
    store.put("live", int(1), { version: { ms: now - 10 * grace, counter: 0, broker: 1 } });
    assert.equal(store.purgeTombstones(now), 1);
    assert.equal(store.versionOf("old"), undefined);
    assert.deepEqual(store.versionOf("young"), { ms: now, counter: 0, broker: 1 });
    assert.deepEqual(store.get("live"), int(1), "records never expire");
    await store.commit();
    await store.compact();
    await store.close();
    const reopened = await Store.open({ ...quiet, dataDir: dir, tombstoneGraceMs: grace });
    assert.equal(reopened.tombstoneCount, 1, "the snapshot keeps the young tombstone only");
    assert.equal(reopened.purgeTombstones(now + grace + 1), 1);
    await reopened.close();
  });
});

Deno.test("store: the purge timer removes expired tombstones on its own", async () => {
  const store = await Store.open({ ...quiet, tombstoneGraceMs: 20 });
  store.delete("k", { version: { ms: Date.now(), counter: 0, broker: 1 } });
  await waitFor(() => store.tombstoneCount === 0, { what: "the tombstone to be purged" });
  assert.equal(store.versionOf("k"), undefined);
  await store.close();
});
