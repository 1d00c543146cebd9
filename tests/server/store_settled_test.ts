// Store.settled is what lets a server answer a batch that only read without awaiting a
// commit (lib/server/server.ts). These tests hold it to its promise against a model:
// whenever it says true, a crash at that instant (the data dir's files as they are now,
// page cache included, as after kill -9) loses nothing that memory shows.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Store } from "../../lib/server/store.ts";
import { int, type Value, valueEquals } from "../../lib/record/value.ts";
import { type FsyncPolicy } from "../../lib/server/store.ts";
import { nextTurn, withDeadline } from "../helpers/wait.ts";

const KEYS = ["a", "b", "c", "d"];

type Step =
  | { kind: "put"; key: string; value: number }
  | { kind: "delete"; key: string }
  | { kind: "commit" }
  | { kind: "turn" }
  | { kind: "microtasks"; count: number }
  | { kind: "settle" };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    key: fc.constantFrom(...KEYS),
    value: fc.integer({ min: 0, max: 1_000_000 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom(...KEYS) }),
  fc.constant({ kind: "commit" as const }),
  fc.constant({ kind: "turn" as const }),
  fc.record({ kind: fc.constant("microtasks" as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.constant({ kind: "settle" as const }),
);

/**
 * What a store opened on a copy of `dataDir`'s files, taken now, holds under each key:
 * the state a kill -9 at this instant would leave. Copied synchronously, so nothing of
 * this process's store runs during the copy.
 */
async function stateAfterCrash(dataDir: string): Promise<Map<string, Value | undefined>> {
  const copy = Deno.makeTempDirSync({ prefix: "kv-settled-crash-" });
  for (const entry of Deno.readDirSync(dataDir)) {
    // The lock belongs to the live store; the copy takes its own.
    if (entry.isFile && entry.name !== "LOCK") {
      Deno.copyFileSync(`${dataDir}/${entry.name}`, `${copy}/${entry.name}`);
    }
  }
  const recovered = await Store.open({ dataDir: copy, onWarning: () => {} });
  try {
    return new Map(KEYS.map((key) => [key, recovered.get(key)]));
  } finally {
    await recovered.close();
    await Deno.remove(copy, { recursive: true });
  }
}

async function checkSettledMeansDurable(fsync: FsyncPolicy, steps: Step[]): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "kv-settled-" });
  const store = await Store.open({ dataDir, fsync, onWarning: () => {} });
  const model = new Map<string, number | undefined>();
  const commits: Promise<void>[] = [];
  try {
    // A fresh store has nothing on its way to disk.
    assert.equal(store.settled, true);
    for (const step of steps) {
      if (step.kind === "put") {
        store.put(step.key, int(step.value));
        model.set(step.key, step.value);
        // A change just made is in memory only: never settled.
        assert.equal(store.settled, false, "settled right after a put");
      } else if (step.kind === "delete") {
        store.delete(step.key);
        model.set(step.key, undefined);
        assert.equal(store.settled, false, "settled right after a delete");
      } else if (step.kind === "commit") {
        commits.push(store.commit());
      } else if (step.kind === "microtasks") {
        // A commit part way through its first steps: its bytes taken out of the buffer,
        // their write not yet done.
        for (let turn = 0; turn < step.count; turn++) await Promise.resolve();
      } else if (step.kind === "turn") {
        // One macrotask: lets a commit's file write progress part way, or finish.
        await nextTurn();
      } else {
        commits.push(store.commit());
        await withDeadline(Promise.all(commits.splice(0)), { what: "the commits made so far" });
        assert.equal(store.settled, true, "a commit after every change awaited, yet not settled");
      }
      if (!store.settled) continue;
      const crashed = await stateAfterCrash(dataDir);
      for (const key of KEYS) {
        const expected = model.get(key);
        const found = crashed.get(key);
        assert.ok(
          expected === undefined ? found === undefined : found !== undefined &&
            valueEquals(found, int(expected)),
          `settled, but a crash now leaves ${key} = ${JSON.stringify(found)}, ` +
            `memory shows ${expected}`,
        );
      }
    }
  } finally {
    await Promise.allSettled(commits);
    await store.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

for (const fsync of ["always", "interval", "never"] as const) {
  Deno.test(`Store.settled (--fsync ${fsync}): whenever true, a crash loses nothing memory shows`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 1, maxLength: 30 }),
        (steps) => checkSettledMeansDurable(fsync, steps),
      ),
      { numRuns: 40 },
    );
  });
}

Deno.test("Store.settled is false while a commit is under way, with nothing left buffered", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kv-settled-" });
  const store = await Store.open({ dataDir, fsync: "always" });
  try {
    store.put("k", int(1));
    const commit = store.commit();
    let done = false;
    const finished = commit.then(() => done = true);
    // Sampled at each of the first microtasks (the commit takes the buffered bytes in one
    // of them, and its write has not ended yet),
    for (let turn = 0; turn < 16 && !done; turn++) {
      assert.equal(store.settled, false, `settled after ${turn} microtasks`);
      await Promise.resolve();
    }
    // then at every turn of the event loop until the commit resolves: the bytes leave the
    // buffer when their write starts, but are not on disk until it and the fsync end.
    while (!done) {
      assert.equal(store.settled, false, "settled before the commit resolved");
      await nextTurn();
    }
    await withDeadline(finished, { what: "the commit" });
    assert.equal(store.settled, true);
  } finally {
    await store.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
