import assert from "node:assert/strict";
import {
  readSnapshot,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
  SNAPSHOT_WRITE_CHUNK_BYTES,
  type SnapshotEntry,
  SnapshotFormatError,
  writeFrozenSnapshot,
  writeSnapshot,
} from "../../lib/server/snapshot.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { Store } from "../../lib/server/store.ts";
import { recordKey, recordValue } from "../fixtures/gen_records.ts";
import type { ServerClient } from "../../lib/protocol/client.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { nextTurn, waitFor } from "../helpers/wait.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { BASE_VERSION } from "../../lib/record/version.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { at } from "../helpers/versions.ts";

const records: SnapshotEntry[] = [
  { key: "a", value: int(-5), version: BASE_VERSION },
  { key: "deleted", value: undefined, version: { ms: 1_700_000_000_000, counter: 3, broker: 9 } },
  {
    key: "person1",
    value: object([["age", int(22)], ["address", object([["street", str("Main")]])]]),
    version: { ms: 2 ** 48 - 1, counter: 0xffff, broker: 2 ** 32 - 1 },
  },
  { key: "ünïcødé", value: float(2.5), version: { ms: 1, counter: 0, broker: 0 } },
];

async function readAll(path: string) {
  const read: SnapshotEntry[] = [];
  const info = await readSnapshot(path, (key, value, version) => {
    read.push({ key, value: value === undefined ? undefined : decodeValue(value), version });
  });
  return { info, read };
}

Deno.test("snapshot: records and tombstones are read back in order with their versions and generation", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/snapshot-00000004.kvsnap`;
    const byteLength = await writeSnapshot(path, 4, records);
    assert.equal(byteLength, (await Deno.stat(path)).size);
    const { info, read } = await readAll(path);
    assert.deepEqual(read, records);
    assert.deepEqual(info, { generation: 4, formatVersion: 2, entryCount: 4, byteLength });
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), [
      "snapshot-00000004.kvsnap",
    ]);
  });
});

Deno.test("snapshot: an empty snapshot holds only header and trailer", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    assert.equal(
      await writeSnapshot(path, 1, []),
      SNAPSHOT_HEADER_BYTES + SNAPSHOT_TRAILER_BYTES,
    );
    const { info, read } = await readAll(path);
    assert.deepEqual(read, []);
    assert.equal(info.entryCount, 0);
  });
});

Deno.test("snapshot: a snapshot larger than one write chunk round-trips", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    const many: SnapshotEntry[] = Array.from({ length: 5000 }, (_, index) => ({
      key: `key${String(index).padStart(5, "0")}`,
      value: str("x".repeat(index % 700)),
      version: { ms: index, counter: 0, broker: 1 },
    }));
    const byteLength = await writeSnapshot(path, 9, many);
    assert.ok(byteLength > SNAPSHOT_WRITE_CHUNK_BYTES);
    const { read } = await readAll(path);
    assert.deepEqual(read, many);
  });
});

Deno.test("snapshot: writing replaces an existing file of the same name atomically", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    await writeSnapshot(path, 1, records);
    await writeSnapshot(path, 2, records.slice(0, 1));
    const { info, read } = await readAll(path);
    assert.equal(info.generation, 2);
    assert.deepEqual(read, records.slice(0, 1));
  });
});

Deno.test("snapshot: every truncation and every corrupted byte is refused", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    await writeSnapshot(path, 1, records);
    const whole = await Deno.readFile(path);
    const damagedPath = `${dir}/damaged.kvsnap`;
    const damaged: Uint8Array[] = [];
    for (let length = 0; length < whole.length; length++) damaged.push(whole.subarray(0, length));
    for (let index = 0; index < whole.length; index++) {
      const corrupt = whole.slice();
      corrupt[index] ^= 0x01;
      damaged.push(corrupt);
    }
    const extended = new Uint8Array(whole.length + 1);
    extended.set(whole);
    damaged.push(extended);
    for (const bytes of damaged) {
      await Deno.writeFile(damagedPath, bytes);
      await assert.rejects(
        readSnapshot(damagedPath, () => {}),
        (error) => error instanceof SnapshotFormatError && error.message.includes(damagedPath),
      );
    }
  });
});

Deno.test("snapshot: one written from a frozen trie holds the trie as it was at the freeze, though writes change it between slices", async () => {
  await withTempDir(async (dir) => {
    const trie = new RecordTrie();
    const version = (ms: number) => ({ ms, counter: 0, broker: 1 });
    for (let index = 0; index < 30_000; index++) {
      trie.put(`k${index}`, object([["n", int(index)], ["s", str("x".repeat(index % 50))]]), {
        version: version(index),
      });
    }
    trie.tombstone("k7", { version: version(40_000) });
    const expected = [...trie.versionedEntries()];
    const view = trie.freeze();
    const path = `${dir}/s.kvsnap`;
    const written = writeFrozenSnapshot(path, 3, view);
    // Writes on every turn of the event loop until the snapshot is done: overwrites,
    // deletes, new keys and purges, on both sides of the view's cursor.
    let writesDuringWalk = 0;
    let step = 0;
    let done = false;
    written.finally(() => done = true);
    while (!done) {
      await nextTurn();
      if (view.done) continue;
      const key = `k${(step * 7919) % 30_000}`;
      trie.put(key, int(-step), { version: version(50_000 + step) });
      trie.tombstone(`k${(step * 104_729) % 30_000}`, { version: version(50_000 + step) });
      trie.put(`new${step}`, int(step), { version: version(50_000 + step) });
      trie.purgeTombstones(Number.MAX_SAFE_INTEGER);
      if (view.readCount > 0) writesDuringWalk++;
      step++;
    }
    const byteLength = await written;
    view.close();
    assert.ok(writesDuringWalk > 2, `writes between slices: ${writesDuringWalk}`);
    const { info, read } = await readAll(path);
    assert.deepEqual(info, { generation: 3, formatVersion: 2, entryCount: 30_000, byteLength });
    assert.deepEqual(read, expected);
  });
});

Deno.test("snapshot: an aborted snapshot leaves no file behind", async () => {
  await withTempDir(async (dir) => {
    const trie = new RecordTrie();
    for (let index = 0; index < 50_000; index++) trie.put(`k${index}`, str("value"));
    const view = trie.freeze();
    const controller = new AbortController();
    const written = writeFrozenSnapshot(`${dir}/s.kvsnap`, 1, view, {
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    await assert.rejects(written, /stop/);
    view.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

/**
 * Small records of the server process test: enough keys on both sides of the walk's
 * cursor for the writes during the snapshot to land ahead of it and behind it.
 */
const SMALL_RECORDS = 5_000;
/** Small records read in flight at once when checking what a restarted server holds. */
const READ_BATCH = 500;
/**
 * The server's `--compact-log-mib`: over the log the small records make (under 1 MiB), so
 * the server compacts only once the client's big records pass it, while the client writes.
 */
const COMPACT_LOG_MIB = 2;
/**
 * The big (1 MiB) records the client writes to pass {@link COMPACT_LOG_MIB}: they also make
 * the snapshot long enough (several MiB written and fsynced by a worker, in slices) for
 * writes to land while it is under way. Until --compact-log-mib, 70 of them had to pass the
 * fixed 64 MiB: 12 CPU-s of the suite's slowest test.
 */
const BIG_RECORDS = 3;

/** Checks that `client` reads `expected` (key, value or undefined), `batch` GETs in flight. */
async function assertHolds(
  client: ServerClient,
  expected: [string, Value | undefined][],
  batch: number,
): Promise<void> {
  for (let start = 0; start < expected.length; start += batch) {
    const slice = expected.slice(start, start + batch);
    const answers = await Promise.all(slice.map(([key]) => client.get(key)));
    slice.forEach(([key, value], index) => assert.deepEqual(answers[index].value, value, key));
  }
}

/** Whether a snapshot is being written in `dir` (its temporary file exists). */
function snapshotUnderWay(dir: string): boolean {
  return [...Deno.readDirSync(dir)].some((entry) => entry.name.endsWith(".kvsnap.tmp"));
}

Deno.test("snapshot: a server process keeps serving writes while it writes a snapshot, and after a restart holds every acknowledged write exactly", async () => {
  await withTempDir(async (dir) => {
    // A data dir whose log holds the small records, under --compact-log-mib and with no
    // snapshot: the small records give the walk many keys on both sides of its cursor.
    const seed = await Store.open({ dataDir: dir, compactionMinLogBytes: 2 ** 40 });
    for (let index = 0; index < SMALL_RECORDS; index++) {
      seed.put(recordKey(index), recordValue(index));
    }
    await seed.commit();
    await seed.close();
    const expected = new Map<string, Value | undefined>();
    for (let index = 0; index < SMALL_RECORDS; index++) {
      expected.set(recordKey(index), recordValue(index));
    }

    await using server = await startServerProcess([
      "--data-dir",
      dir,
      "--compact-log-mib",
      String(COMPACT_LOG_MIB),
    ]);
    const client = await connectClient(server.address);
    assert.ok(!Deno.readDirSync(dir).some((entry) => entry.name.includes(".kvsnap")));
    // The big records take the log past --compact-log-mib: the server compacts.
    const big = str("b".repeat(1024 * 1024));
    for (let index = 0; index < BIG_RECORDS; index++) {
      await client.put(`big${index}`, big, at());
      expected.set(`big${index}`, big);
    }
    let duringSnapshot = 0;
    let step = 0;
    await waitFor(async () => {
      const under = snapshotUnderWay(dir);
      // Overwrites, deletes and new keys, spread over the key space.
      const key = step % 3 === 2 ? `new${step}` : recordKey((step * 7919) % SMALL_RECORDS);
      if (step % 5 === 4) {
        await client.delete(key, at());
        expected.set(key, undefined);
      } else {
        await client.put(key, int(step), at());
        expected.set(key, int(step));
      }
      if (under && snapshotUnderWay(dir)) duringSnapshot++;
      step++;
      return !snapshotUnderWay(dir) &&
        Deno.readDirSync(dir).some((entry) => entry.name.endsWith(".kvsnap"));
    }, { what: "the compaction's snapshot", intervalMs: 0 });
    await client.close();
    assert.ok(duringSnapshot > 0, "writes were acknowledged while the snapshot was written");

    // The restart recovers from the new snapshot and the log written beside it.
    await stopWithin(server);
    await server.restart();
    const reader = await connectClient(server.address);
    const stored = [...expected].filter(([, value]) => value !== undefined).length;
    assert.equal((await reader.stats()).recordCount, stored);
    await assertHolds(reader, [...expected], READ_BATCH);
    await reader.close();
  });
});
