import { MAX_KEYS_LIMIT } from "../../lib/limits.ts";
import assert from "node:assert/strict";
import { NODE_STATE_FILE } from "../../lib/server/node_state.ts";
import { DirLock } from "../../lib/server/dir_lock.ts";
import { DecodeError, LimitExceededError } from "../../lib/base/bytes.ts";
import { writeSnapshot } from "../../lib/server/snapshot.ts";
import { DATA_DIR_MODE, DATA_FILE_MODE, StorageLog } from "../../lib/server/storage_log.ts";
import {
  dataDirInUse,
  DataDirLostError,
  Store,
  StoreCorruptError,
  StoreFailedError,
  StoreLockedError,
  type StoreOptions,
} from "../../lib/server/store.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { BASE_VERSION } from "../../lib/record/version.ts";
import { recordKey, recordValue } from "../fixtures/gen_records.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import {
  DeadlineError,
  DEFAULT_DEADLINE_MS,
  outputWithin,
  waitFor,
  withDeadline,
} from "../helpers/wait.ts";

const writerScript = new URL("../fixtures/store_writer.ts", import.meta.url).pathname;

const person1 = object([
  ["name", str("Mary")],
  ["address", object([["street", str("Main")], ["number", int(12)]])],
]);

/** The data dir's files but the node state file, which tests/server/node_state_test.ts covers. */
async function fileNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name !== NODE_STATE_FILE) names.push(entry.name);
  }
  return names.sort();
}

/** Every key of a store starting with `prefix`, in order, a page of MAX_KEYS_LIMIT at a time. */
function allKeys(store: Store, prefix = ""): string[] {
  const keys: string[] = [];
  for (;;) {
    const page = store.keys({ prefix, limit: MAX_KEYS_LIMIT, after: keys.at(-1) });
    keys.push(...page);
    if (page.length < MAX_KEYS_LIMIT) return keys;
  }
}

/** Every record of a store, in key order. */
function contents(store: Store): [string, Value | undefined][] {
  return allKeys(store).map((key) => [key, store.get(key)]);
}

const quiet: StoreOptions = { onWarning: (message) => assert.fail(`unexpected: ${message}`) };

Deno.test("store: memory-only put, get, query, delete, keys and overwrite rules", async () => {
  const store = await Store.open();
  assert.equal(store.dataDir, undefined);
  assert.deepEqual(store.recovery, {
    recordCount: 0,
    tombstoneCount: 0,
    recoveryMs: 0,
    truncatedBytes: 0,
    warnings: [],
  });
  assert.equal(store.put("person1", person1), true);
  assert.equal(store.put("person10", int(10)), true);
  assert.equal(store.put("person1", int(0), { overwrite: false }), false);
  assert.deepEqual(store.get("person1"), person1);
  assert.deepEqual(store.query(["person1", "address", "street"]), str("Main"));
  assert.deepEqual(store.keys({ prefix: "person", limit: 10 }), ["person1", "person10"]);
  assert.equal(store.recordCount, 2);
  assert.ok(store.memoryBytes > 0);
  const deleted = { version: { ms: 5, counter: 0, broker: 1 }, ifNewer: true };
  assert.equal(store.delete("person10", deleted), true);
  assert.equal(store.delete("person10", deleted), false, "an equal version is stale");
  assert.equal(store.get("person10"), undefined);
  assert.equal(store.recordCount, 1);
  assert.equal(store.tombstoneCount, 1);
  assert.deepEqual(store.versionOf("person10"), deleted.version);
  await store.commit();
  await store.compact();
  await store.close();
  assert.throws(() => store.put("x", int(1)), /closed/);
});

Deno.test("store: a reopened store has every committed mutation", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: `${dir}/data` });
    assert.equal(store.dataDir, `${dir}/data`);
    store.put("person1", person1);
    store.put("person2", float(1.5));
    store.put("person3", str("gone soon"));
    store.put("person2", int(7));
    store.delete("person3");
    assert.equal(store.put("person1", int(0), { overwrite: false }), false);
    await store.commit();
    await store.close();

    const reopened = await Store.open({ ...quiet, dataDir: `${dir}/data` });
    assert.deepEqual(contents(reopened), [["person1", person1], ["person2", int(7)]]);
    assert.equal(reopened.recovery.recordCount, 2);
    assert.equal(reopened.recovery.truncatedBytes, 0);
    assert.deepEqual(reopened.recovery.warnings, []);
    assert.deepEqual(reopened.query(["person1", "address", "number"]), int(12));
    await reopened.close();
  });
});

Deno.test("store: refused puts and stale deletes write nothing to the log", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    store.put("k", int(1), { version: { ms: 10, counter: 0, broker: 1 } });
    await store.commit();
    const logBytes = store.storageStats.logBytes;
    assert.equal(store.put("k", int(2), { overwrite: false }), false);
    assert.equal(
      store.delete("k", { version: { ms: 9, counter: 0, broker: 1 }, ifNewer: true }),
      false,
    );
    await store.commit();
    assert.equal(store.storageStats.logBytes, logBytes);
    store.delete("k");
    await store.commit();
    assert.ok(store.storageStats.logBytes > logBytes);
    await store.close();
  });
});

Deno.test("store: putEncoded stores and logs the given bytes without a Value", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    const value = object([["age", int(22)], ["name", str("Mary")]]);
    assert.equal(store.putEncoded("k", encodeValue(value)), true);
    assert.equal(store.putEncoded("k", encodeValue(int(2)), { overwrite: false }), false);
    assert.deepEqual(store.get("k"), value);
    assert.throws(() => store.putEncoded("bad", new Uint8Array([0x09])), DecodeError);
    assert.equal(store.get("bad"), undefined);
    await store.close();
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(reopened.get("k"), value);
    assert.equal(reopened.recordCount, 1);
    await reopened.close();
  });
});

Deno.test("store: putEncodedAt stores from a frame's bytes, logging the record in a durable store", async () => {
  await withTempDir(async (dir) => {
    const value = object([["age", int(22)]]);
    const frame = new Uint8Array([0xee, ...new TextEncoder().encode("k"), ...encodeValue(value)]);
    for (const dataDir of [undefined, dir]) {
      const store = await Store.open({ ...quiet, dataDir });
      assert.equal(store.putEncodedAt(frame, 1, 2, -1, 2, frame.length), true);
      assert.equal(
        store.putEncodedAt(frame, 1, 2, -1, 2, frame.length, { overwrite: false }),
        false,
      );
      assert.throws(() => store.putEncodedAt(frame, 0, 2, -1, 2, frame.length), /not valid UTF-8/);
      assert.deepEqual(store.get("k"), value);
      assert.equal(store.recordCount, 1);
      await store.close();
    }
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(reopened.get("k"), value);
    assert.equal(reopened.recordCount, 1);
    await reopened.close();
  });
});

Deno.test("store: a value too large to log is refused and changes nothing", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    const huge = str("x".repeat(16 * 1024 * 1024));
    assert.throws(() => store.put("big", huge), LimitExceededError);
    assert.equal(store.get("big"), undefined);
    assert.equal(store.memoryBytes < 16 * 1024 * 1024, true);
    await store.close();
  });
});

Deno.test("store: mutations are not in the log until commit, then all of them are", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    const before = store.storageStats.logBytes;
    for (let index = 0; index < 100; index++) store.put(recordKey(index), recordValue(index));
    assert.equal(store.storageStats.logBytes, before);
    const commits = [store.commit(), store.commit(), store.commit()];
    await Promise.all(commits);
    assert.ok(store.storageStats.logBytes > before);
    await store.close();
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.equal(reopened.recordCount, 100);
    await reopened.close();
  });
});

Deno.test("store: every fsync policy stores and recovers", async () => {
  for (const fsync of ["always", "interval", "never"] as const) {
    await withTempDir(async (dir) => {
      const store = await Store.open({ ...quiet, dataDir: dir, fsync, fsyncIntervalMs: 1 });
      for (let batch = 0; batch < 5; batch++) {
        store.put(`k${batch}`, int(batch));
        await store.commit();
      }
      await store.close();
      const reopened = await Store.open({ ...quiet, dataDir: dir, fsync });
      assert.equal(reopened.recordCount, 5, fsync);
      await reopened.close();
    });
  }
});

Deno.test("store: an invalid fsync policy is refused", async () => {
  await assert.rejects(
    Store.open({ fsync: "sometimes" as unknown as "always" }),
    /fsync must be always, interval or never/,
  );
});

Deno.test("store: a new data dir is its owner's only (0700), and so is every file in it (0600): logs, snapshots, LOCK, node state", async () => {
  await withTempDir(async (parent) => {
    const dir = `${parent}/data/one`;
    const store = await Store.open({ ...quiet, dataDir: dir });
    for (let index = 0; index < 20; index++) store.put(recordKey(index), recordValue(index));
    await store.commit();
    await store.compact();
    store.put(recordKey(20), recordValue(20));
    await store.commit();
    await store.close();
    for (const path of [dir, `${parent}/data`]) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, DATA_DIR_MODE, path);
    }
    const modes = new Map<string, number>();
    for await (const entry of Deno.readDir(dir)) {
      modes.set(entry.name, (await Deno.stat(`${dir}/${entry.name}`)).mode! & 0o777);
    }
    const names = [...modes.keys()];
    for (const kind of [/^log-/, /^snapshot-/, /^LOCK$/, new RegExp(`^${NODE_STATE_FILE}$`)]) {
      assert(names.some((name) => kind.test(name)), `${kind} in ${names.join()}`);
    }
    assert.deepEqual([...modes].filter(([, mode]) => mode !== DATA_FILE_MODE), []);
  });
});

Deno.test("store: compaction triggers by size, keeps every record and removes old files", async () => {
  await withTempDir(async (dir) => {
    const options = { ...quiet, dataDir: dir, compactionMinLogBytes: 4096 };
    const store = await Store.open(options);
    for (let batch = 0; batch < 20; batch++) {
      for (let index = batch * 10; index < batch * 10 + 10; index++) {
        store.put(recordKey(index), recordValue(index));
      }
      store.delete(recordKey(batch * 10));
      await store.commit();
    }
    const expected = contents(store);
    // Closing abandons a snapshot under way: let the first one the log's size started end.
    await waitFor(() => store.storageStats.compactionCount > 0, {
      what: "a compaction started by the log's size",
    });
    await store.close();
    const generation = store.storageStats.generation;
    const names = await fileNames(dir);
    const padded = String(generation).padStart(10, "0");
    assert.deepEqual(
      names.filter((name) => name !== "LOCK"),
      [`log-${padded}.kvlog`, `snapshot-${padded}.kvsnap`].filter((name) => names.includes(name)),
    );
    assert.ok(names.includes(`log-${padded}.kvlog`));

    const reopened = await Store.open(options);
    assert.deepEqual(contents(reopened), expected);
    assert.equal(reopened.recordCount, 180);
    await reopened.close();
  });
});

Deno.test("store: writes made during a compaction survive it", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    for (let index = 0; index < 500; index++) store.put(recordKey(index), recordValue(index));
    await store.commit();
    let compacted = false;
    const compaction = store.compact().then(() => compacted = true);
    // Batches keep coming, each awaited as a server would, so some land in every phase.
    let next = 500;
    const deadline = performance.now() + DEFAULT_DEADLINE_MS;
    while (!compacted) {
      if (performance.now() > deadline) {
        throw new DeadlineError("the compaction to finish", DEFAULT_DEADLINE_MS);
      }
      for (let index = next; index < next + 5; index++) {
        store.put(recordKey(index), recordValue(index));
      }
      store.delete(recordKey(next - 500));
      next += 5;
      await store.commit();
    }
    await compaction;
    assert.ok(next > 505, "batches were written while compacting");
    assert.equal(store.storageStats.generation, 2);
    assert.ok(store.storageStats.snapshotBytes > 0);
    const expected = contents(store);
    await store.close();
    assert.deepEqual(
      (await fileNames(dir)).filter((name) => name !== "LOCK"),
      ["log-0000000002.kvlog", "snapshot-0000000002.kvsnap"],
    );
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(contents(reopened), expected);
    assert.equal(reopened.recordCount, 500 + (next - 500) * 4 / 5);
    await reopened.close();
  });
});

/**
 * Builds the data dir a crash would leave between two compaction steps: records 0..9
 * in log 1 (the old state), records 10..14 in log 2 (written after the switch).
 */
async function craftCompactionCrash(
  dir: string,
  step: "new log created" | "snapshot half written" | "snapshot renamed",
): Promise<void> {
  const store = await Store.open({ ...quiet, dataDir: dir });
  for (let index = 0; index < 10; index++) store.put(recordKey(index), recordValue(index));
  store.put("doomed", int(1));
  store.delete("doomed");
  await store.close();
  const log2 = await StorageLog.create(`${dir}/log-0000000002.kvlog`, 2);
  if (step === "new log created") {
    await Deno.writeFile(`${dir}/log-0000000003.kvlog.tmp`, new Uint8Array(5));
    await log2.close();
    return;
  }
  for (let index = 10; index < 15; index++) {
    log2.appendPut(recordKey(index), encodeValue(recordValue(index)), BASE_VERSION);
  }
  await log2.close();
  const entries = Array.from(
    { length: 10 },
    (_, index) => ({ key: recordKey(index), value: recordValue(index), version: BASE_VERSION }),
  );
  const snapshotPath = `${dir}/snapshot-0000000002.kvsnap`;
  await writeSnapshot(snapshotPath, 2, entries);
  if (step === "snapshot renamed") return;
  // Half written: the complete file's first half, under the temporary name only.
  const bytes = await Deno.readFile(snapshotPath);
  await Deno.remove(snapshotPath);
  await Deno.writeFile(`${snapshotPath}.tmp`, bytes.subarray(0, bytes.length >> 1));
}

Deno.test("store: closing abandons a snapshot under way, leaving the logs it would replace", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    for (let index = 0; index < 10_000; index++) store.put(recordKey(index), recordValue(index));
    await store.commit();
    const expected = contents(store);
    const compaction = store.compact();
    await store.close();
    await assert.rejects(compaction, /the store closed/);
    assert.equal(store.storageStats.compactionCount, 0);
    assert.deepEqual((await fileNames(dir)).filter((name) => name.endsWith(".tmp")), []);
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(contents(reopened), expected);
    await reopened.close();
  });
});

Deno.test("store: recovery is correct after a crash between any two compaction steps", async () => {
  const steps = ["new log created", "snapshot half written", "snapshot renamed"] as const;
  for (const step of steps) {
    await withTempDir(async (dir) => {
      await craftCompactionCrash(dir, step);
      const store = await Store.open({ dataDir: dir, onWarning: assert.fail });
      const recordCount = step === "new log created" ? 10 : 15;
      assert.equal(store.recordCount, recordCount, step);
      for (let index = 0; index < recordCount; index++) {
        assert.deepEqual(store.get(recordKey(index)), recordValue(index), step);
      }
      assert.equal(store.get("doomed"), undefined);
      assert.equal(store.storageStats.generation, 2, step);
      if (step !== "snapshot renamed") assert.match(store.recovery.warnings.join(), /\.tmp/, step);
      await store.close();
      const names = (await fileNames(dir)).filter((name) => name !== "LOCK");
      if (step === "snapshot renamed") {
        assert.deepEqual(names, ["log-0000000002.kvlog", "snapshot-0000000002.kvsnap"]);
      } else {
        assert.deepEqual(names, ["log-0000000001.kvlog", "log-0000000002.kvlog"]);
      }
    });
  }
});

Deno.test("store: a torn log tail is truncated with a warning and the rest recovered", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    store.put("a", int(1));
    store.put("b", int(2));
    await store.close();
    const logPath = `${dir}/log-0000000001.kvlog`;
    await Deno.truncate(logPath, (await Deno.stat(logPath)).size - 3);
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(contents(reopened), [["a", int(1)]]);
    assert.ok(reopened.recovery.truncatedBytes > 0);
    assert.match(reopened.recovery.warnings.join(), /dropped the last/);
    reopened.put("c", int(3));
    await reopened.close();
    const again = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(contents(again), [["a", int(1)], ["c", int(3)]]);
    assert.equal(again.recovery.truncatedBytes, 0);
    await again.close();
  });
});

Deno.test("store: a logged value the trie refuses is skipped like damage, and the rest recovered", async () => {
  await withTempDir(async (dir) => {
    await (await Store.open({ ...quiet, dataDir: dir })).close();
    // Entries with sound checksums; the middle one's value is not a valid encoding.
    const log = await StorageLog.open(`${dir}/log-0000000001.kvlog`, () => {});
    log.log.appendPut("a", encodeValue(int(1)), BASE_VERSION);
    log.log.appendPut("bad", Uint8Array.of(0x09), BASE_VERSION);
    log.log.appendPut("b", encodeValue(int(2)), BASE_VERSION);
    await log.log.close();
    const reopened = await Store.open({ ...quiet, dataDir: dir });
    assert.deepEqual(contents(reopened), [["a", int(1)], ["b", int(2)]]);
    assert.match(
      reopened.recovery.warnings.join(),
      /skipped \d+ damaged bytes .*undecodable entry/,
    );
    await reopened.close();
  });
});

Deno.test("store: a missing log or a foreign file stops open, and the lock is released", async () => {
  await withTempDir(async (dir) => {
    await craftCompactionCrash(dir, "new log created");
    await Deno.remove(`${dir}/log-0000000001.kvlog`);
    await assert.rejects(Store.open({ dataDir: dir }), StoreCorruptError);
    await Deno.writeFile(`${dir}/log-0000000001.kvlog`, new TextEncoder().encode("hello"));
    await assert.rejects(Store.open({ dataDir: dir }), /not a kv storage log/);
    assert.equal(await Deno.readTextFile(`${dir}/log-0000000001.kvlog`), "hello");
    await Deno.remove(`${dir}/log-0000000001.kvlog`);
    await Deno.remove(`${dir}/log-0000000002.kvlog`);
    const store = await Store.open({ dataDir: dir });
    assert.equal(store.recordCount, 0);
    await store.close();
  });
});

/** Asserts that `opening` rejects with a StoreCorruptError saying `message`, exactly. */
async function assertCorrupt(opening: Promise<Store>, message: string): Promise<void> {
  await assert.rejects(opening, (error: Error) => {
    assert.ok(error instanceof StoreCorruptError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("store: a temporary file's name on a symbolic link is removed at start, never written through; on a directory it stops open", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ ...quiet, dataDir: dir });
    store.put("k", int(1));
    await store.close();
    await withTempDir(async (elsewhere) => {
      const target = `${elsewhere}/precious`;
      await Deno.writeTextFile(target, "keep me");
      // The name the next compaction writes its log's header to: it truncated the target.
      await Deno.symlink(target, `${dir}/log-0000000002.kvlog.tmp`);
      const reopened = await Store.open({ dataDir: dir, onWarning: () => {} });
      assert.ok(reopened.recovery.warnings.includes(
        "removed log-0000000002.kvlog.tmp, left unfinished by a crash",
      ));
      await reopened.compact();
      await reopened.close();
      assert.equal(await Deno.readTextFile(target), "keep me");
      await Deno.mkdir(`${dir}/snapshot-0000000003.kvsnap.tmp`);
      await assertCorrupt(
        Store.open({ dataDir: dir }),
        `${dir}/snapshot-0000000003.kvsnap.tmp is a directory, not a file: kv reads and writes ` +
          `its logs and snapshots only as files in the data dir itself; put the file in its ` +
          `place and start again`,
      );
    });
  });
});

Deno.test("store: a log or snapshot whose header names another generation than its name stops open, saying what to do", async () => {
  await withTempDir(async (dir) => {
    await craftCompactionCrash(dir, "new log created");
    await Deno.remove(`${dir}/log-0000000002.kvlog`);
    (await StorageLog.create(`${dir}/log-0000000002.kvlog`, 3)).close();
    await assertCorrupt(
      Store.open({ dataDir: dir }),
      `${dir}/log-0000000002.kvlog says it is generation 3, not 2: renamed, or damaged; ` +
        `restore the file or move the data dir aside`,
    );
    await Deno.remove(`${dir}/log-0000000002.kvlog`);
    await writeSnapshot(`${dir}/snapshot-0000000002.kvsnap`, 1, []);
    await assertCorrupt(
      Store.open({ dataDir: dir }),
      `${dir}/snapshot-0000000002.kvsnap says it is generation 1, not 2: renamed, or damaged; ` +
        `restore the file or move the data dir aside`,
    );
  });
});

Deno.test("store: a log or snapshot that is a symbolic link or a directory stops open, naming it, and changes nothing", async () => {
  await withTempDir(async (dir) => {
    // Records 0..9 in log 1, 10..14 in log 2: a log moved to another disk and linked back
    // (a full disk's quick fix) was skipped, and open served records 0..9 alone, trusted.
    await craftCompactionCrash(dir, "snapshot half written");
    await withTempDir(async (elsewhere) => {
      await Deno.rename(`${dir}/log-0000000002.kvlog`, `${elsewhere}/log-0000000002.kvlog`);
      await Deno.symlink(`${elsewhere}/log-0000000002.kvlog`, `${dir}/log-0000000002.kvlog`);
      const before = await fileNames(dir);
      await assertCorrupt(
        Store.open({ dataDir: dir }),
        `${dir}/log-0000000002.kvlog is a symbolic link, not a file: kv reads and writes its ` +
          `logs and snapshots only as files in the data dir itself; put the file in its place ` +
          `and start again`,
      );
      assert.deepEqual(await fileNames(dir), before);
      // A directory by a data file's name: refused alike (open crashed with a stack trace).
      await Deno.remove(`${dir}/log-0000000002.kvlog`);
      await Deno.mkdir(`${dir}/snapshot-0000000003.kvsnap`);
      await assertCorrupt(
        Store.open({ dataDir: dir }),
        `${dir}/snapshot-0000000003.kvsnap is a directory, not a file: kv reads and writes its ` +
          `logs and snapshots only as files in the data dir itself; put the file in its place ` +
          `and start again`,
      );
      // The file itself put back: every record.
      await Deno.remove(`${dir}/snapshot-0000000003.kvsnap`);
      await Deno.rename(`${elsewhere}/log-0000000002.kvlog`, `${dir}/log-0000000002.kvlog`);
      const store = await Store.open({ dataDir: dir, onWarning: () => {} });
      assert.equal(store.recordCount, 15);
      await store.close();
    });
  });
});

/**
 * A child process running store_writer.ts, with its stdout as lines; every read and the
 * exit are bounded by the tests' deadline, and `await using` kills it if it still runs.
 */
function spawnWriter(options: Record<string, unknown>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", writerScript, JSON.stringify(options)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let ackedBatches = 0;
  let generation = 0;
  /** Reads lines until `until` accepts one; false if stdout ended first. */
  const readUntil = async (until: (line: string) => boolean): Promise<boolean> => {
    while (true) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const acked = /^acked (\d+) (\d+)$/.exec(line);
        if (acked) {
          ackedBatches = Math.max(ackedBatches, Number(acked[1]));
          generation = Math.max(generation, Number(acked[2]));
        }
        if (until(line)) return true;
        continue;
      }
      const { value, done } = await withDeadline(reader.read(), {
        what: "a line from store_writer.ts",
        onTimeout: () => child.kill("SIGKILL"),
      });
      if (done) return false;
      buffered += value;
    }
  };
  /** Its exit status, killing it (SIGKILL) past the deadline. */
  const exited = () =>
    withDeadline(child.status, {
      what: "store_writer.ts to exit",
      onTimeout: () => child.kill("SIGKILL"),
    });
  return {
    child,
    readUntil,
    exited,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch (error) {
        // Deno refuses to signal a child that has exited: nothing to end then.
        if (!(error instanceof TypeError)) throw error;
      }
      await child.stdin.close().catch(() => {/* closed by the test, or the process is gone */});
      await readUntil(() => false).catch(() => false);
      await exited().catch(() => {/* the test has failed already; only the clean-up matters */});
    },
    get ackedBatches() {
      return ackedBatches;
    },
    /** The storage generation at the last acknowledgement: above 1 once it compacted. */
    get generation() {
      return generation;
    },
  };
}

/** Checks a store recovered after store_writer.ts acknowledged `ackedBatches` batches. */
function checkAcknowledged(store: Store, ackedBatches: number, batchSize: number): void {
  assert.ok(ackedBatches > 0);
  for (let batch = 0; batch < ackedBatches; batch++) {
    for (let offset = 0; offset < batchSize; offset++) {
      const index = batch * batchSize + offset;
      const value = store.get(recordKey(index));
      if (offset === 0 && batch < ackedBatches - 1) {
        assert.equal(value, undefined, `${recordKey(index)} was deleted by an acked batch`);
      } else if (offset > 0) {
        assert.deepEqual(value, recordValue(index), `acked ${recordKey(index)}`);
      }
    }
  }
  const counter = store.get("counter");
  assert.ok(counter?.kind === "int" && counter.value >= ackedBatches - 1);
  // Whatever else survived (unacknowledged writes may) must be intact too.
  for (const key of allKeys(store, "person")) {
    assert.deepEqual(store.get(key), recordValue(Number(key.slice("person".length))), key);
  }
}

async function killAfterAcks(
  options: Record<string, unknown>,
  minimumAcks: number,
  minimumGeneration = 1,
) {
  await using writer = spawnWriter(options);
  const sawAcks = await writer.readUntil((line) =>
    line === "done" ||
    (writer.ackedBatches >= minimumAcks && writer.generation >= minimumGeneration)
  );
  assert.ok(sawAcks, "the writer ended before acknowledging enough");
  writer.child.kill("SIGKILL");
  await writer.readUntil(() => false); // Lines printed before the kill are acknowledgements too.
  assert.equal((await writer.exited()).signal, "SIGKILL");
  return writer.ackedBatches;
}

Deno.test("store: kill -9 mid-load loses no acknowledged write", async () => {
  await withTempDir(async (dir) => {
    const batchSize = 200;
    const options = { dataDir: dir, fsync: "never", batchCount: 2000, batchSize };
    const acked = await killAfterAcks(options, 25);
    const store = await Store.open({ dataDir: dir, onWarning: assert.fail });
    checkAcknowledged(store, acked, batchSize);
    await store.close();
  });
});

Deno.test("store: kill -9 while compacting loses no acknowledged write", async () => {
  for (const minimumAcks of [10, 30, 60]) {
    await withTempDir(async (dir) => {
      const batchSize = 50;
      const options = {
        dataDir: dir,
        fsync: "interval",
        batchCount: 5000,
        batchSize,
        compactionMinLogBytes: 8 * 1024,
        compactionSnapshotRatio: 0.1,
      };
      // Killed once it has compacted at least once, at a varying point after.
      const acked = await killAfterAcks(options, minimumAcks, 2);
      const store = await Store.open({ dataDir: dir, onWarning: assert.fail });
      assert.ok(store.storageStats.generation > 1, "the writer compacted before the kill");
      checkAcknowledged(store, acked, batchSize);
      await store.close();
    });
  }
});

Deno.test("store: a second store on one data dir is refused, in this process and in another", async () => {
  await withTempDir(async (dir) => {
    await using writer = spawnWriter({ dataDir: dir, batchCount: 3, batchSize: 10 });
    assert.ok(await writer.readUntil((line) => line === "done"));
    await assert.rejects(Store.open({ dataDir: dir }), (error) => {
      assert.ok(error instanceof StoreLockedError);
      assert.ok(error.message.includes(dir));
      assert.match(error.message, /another kv server \(pid \d+\)/);
      return true;
    });
    await writer.child.stdin.close();
    assert.ok(!await writer.readUntil(() => false));
    assert.equal((await writer.exited()).code, 0);

    const store = await Store.open({ dataDir: dir });
    checkAcknowledged(store, 3, 10);
    await assert.rejects(Store.open({ dataDir: dir }), StoreLockedError);
    await store.close();
  });
});

Deno.test("store: a dir whose kv server stopped cleanly, locked again, is refused as in use by a kv server while the holder is a start that has not recorded its run, and as locked by another program once it has", async () => {
  await withTempDir(async (dir) => {
    await (await Store.open({ dataDir: dir })).close();
    // A start holding the lock, recovering: LOCK still holds the clean stop's record.
    const starting = await DirLock.tryAcquire(dir);
    assert.ok(starting !== undefined);
    try {
      assert.match(
        (await dataDirInUse(dir))?.message ?? "free",
        new RegExp(`in use by another kv server \\(pid ${Deno.pid}\\)`),
      );
      // Its run recorded (in this test, another clean record): the mark is gone, and a
      // holder of a clean record's lock is no kv server.
      await starting.writeRecord((await DirLock.lockRecord(dir))!);
      assert.match(
        (await dataDirInUse(dir))?.message ?? "free",
        /is locked by a process other than a kv server .*stopped cleanly and let it go/,
      );
    } finally {
      starting.release();
    }
    assert.equal(await dataDirInUse(dir), undefined);
  });
});

Deno.test("store: the interval fsync timer does not keep a process alive", async () => {
  await withTempDir(async (dir) => {
    const script = `
      import { Store } from ${
      JSON.stringify(new URL("../../lib/server/store.ts", import.meta.url).href)
    };
      const store = await Store.open({ dataDir: ${JSON.stringify(dir)}, fsync: "interval" });
      store.put("k", { kind: "int", value: 1 });
      await store.commit();
      console.log("committed");
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // The timer fires every second: were it holding the process, the deadline would kill it.
    const { code, stdout } = await outputWithin(child, { what: "the process to exit by itself" });
    assert.equal(new TextDecoder().decode(stdout), "committed\n");
    assert.equal(code, 0);
    const store = await Store.open({ dataDir: dir });
    assert.deepEqual(store.get("k"), int(1));
    await store.close();
  });
});

tmpfsTest({
  name:
    "store: a log that cannot be flushed when a compaction closes it fails the store; once the disk has room the store rewrites everything from memory and takes writes again",
  short: "store: recovery by rewrite after a failed log close",
  megabytes: 4,
}, async (mount) => {
  const dir = `${mount}/data`;
  const ballast = `${mount}/ballast`;
  const changes: (Error | undefined)[] = [];
  const store = await Store.open({
    dataDir: dir,
    onWarning: () => {},
    onWritableChange: (failure) => changes.push(failure),
  });
  await Deno.writeFile(ballast, new Uint8Array(3 * 1024 * 1024));
  // More than the disk has left, buffered and not yet committed: closing the log in
  // the compaction must write it, and cannot.
  const value = (index: number) => str(`${index}:`.padEnd(16 * 1024, "v"));
  for (let index = 0; index < 100; index++) store.put(recordKey(index), value(index));
  await assert.rejects(store.compact(), /No space left on device/);
  assert.equal(changes.length, 1);
  assert.match(String(changes[0]), /No space left on device/);
  assert.throws(() => store.put("refused", int(1)), StoreFailedError);

  await Deno.remove(ballast);
  await waitFor(() => changes.length === 2, { what: "the store to take writes again" });
  assert.equal(changes[1], undefined);
  assert.equal(store.storageStats.compactionCount, 1, "it rewrote from memory");
  store.put("after", int(2));
  await store.commit();
  await store.close();

  const reopened = await Store.open({ dataDir: dir, onWarning: assert.fail });
  for (let index = 0; index < 100; index++) {
    assert.deepEqual(reopened.get(recordKey(index)), value(index));
  }
  assert.deepEqual(reopened.get("after"), int(2));
  assert.equal(reopened.get("refused"), undefined);
  assert.equal(reopened.recordCount, 101);
  await reopened.close();
});

Deno.test("store: a data dir moved away under a running store: it refuses writes and touches nothing at the dir's old name, and takes writes again once the dir is back", async () => {
  await withTempDir(async (parent) => {
    const dir = `${parent}/data`;
    const changes: (Error | undefined)[] = [];
    const store = await Store.open({
      dataDir: dir,
      onWarning: () => {},
      onWritableChange: (failure) => changes.push(failure),
    });
    store.put("before", int(1));
    await store.commit();
    // Moved away, and another store started on a new dir of the old name: the running
    // one's compaction made its files there by name, then removed the other's logs, and
    // the other, restarted, served the first one's records for its own.
    await Deno.rename(dir, `${parent}/moved`);
    const other = await Store.open({ dataDir: dir, onWarning: () => {} });
    other.put("other", int(2));
    await other.commit();
    const otherFiles = await fileNames(dir);
    await waitFor(() => changes.length === 1, { what: "the store to see its dir gone" });
    const lost = `data dir ${dir} was deleted, moved or replaced while this server held it`;
    assert.equal(changes[0]?.message, lost);
    assert.throws(() => store.put("refused", int(3)), (error: Error) => {
      assert.ok(error instanceof StoreFailedError);
      assert.equal(
        error.message,
        `the server cannot write its data dir (${lost}): it refuses writes and serves reads ` +
          `until it can; put the dir back under its name (deleted: restart the server) and it ` +
          `resumes by itself`,
      );
      return true;
    });
    await assert.rejects(store.compact(), /was deleted, moved or replaced/);
    assert.deepEqual(await fileNames(dir), otherFiles);
    // Nor the node state: a SET_K or MARK_REPAIRED wrote the other's node-state.json.
    const otherState = await Deno.readTextFile(`${dir}/${NODE_STATE_FILE}`);
    await assert.rejects(store.nodeState.setK(3, true), StoreFailedError);
    assert.equal(await Deno.readTextFile(`${dir}/${NODE_STATE_FILE}`), otherState);
    assert.deepEqual(store.get("before"), int(1), "reads go on");
    await other.close();
    const reopenedOther = await Store.open({ dataDir: dir, onWarning: () => {} });
    assert.deepEqual(reopenedOther.get("other"), int(2));
    assert.equal(reopenedOther.get("before"), undefined);
    await reopenedOther.close();

    // Put back: the store takes writes again, and its compaction works in its own dir.
    await Deno.remove(dir, { recursive: true });
    await Deno.rename(`${parent}/moved`, dir);
    await waitFor(() => changes.length === 2, { what: "the store to take writes again" });
    assert.equal(changes[1], undefined);
    store.put("after", int(4));
    await store.commit();
    await store.compact();
    await store.close();
    const reopened = await Store.open({ dataDir: dir, onWarning: () => {} });
    assert.deepEqual(reopened.get("before"), int(1));
    assert.deepEqual(reopened.get("after"), int(4));
    assert.equal(reopened.get("refused"), undefined);
    await reopened.close();
  });
});

tmpfsTest({
  name:
    "store: a compaction whose snapshot meets a full disk says so in one line with what to do, and leaves the store taking writes",
  short: "store: a compaction on a full disk",
  megabytes: 2,
}, async (mount) => {
  const dir = `${mount}/data`;
  const warnings: string[] = [];
  const store = await Store.open({ dataDir: dir, onWarning: (message) => warnings.push(message) });
  try {
    const value = (index: number) => str(`${index}:`.padEnd(16 * 1024, "v"));
    for (let index = 0; index < 64; index++) store.put(recordKey(index), value(index));
    await store.commit();
    // Room for the new log's header, not for the snapshot of a MiB of records.
    await Deno.writeFile(`${mount}/ballast`, new Uint8Array(640 * 1024));
    await assert.rejects(store.compact(), /No space left on device/);
    assert.deepEqual(warnings, [
      "compaction failed (retrying in 10 s): cannot write its data dir (No space left on " +
      "device); free space on its disk",
    ]);
    store.put("after", int(1));
    await store.commit();
  } finally {
    await store.close();
  }
});

Deno.test("store: a data dir moved away while a snapshot is written: the compaction stops for the move before renaming anything by the dir's name", async () => {
  await withTempDir(async (parent) => {
    const dir = `${parent}/data`;
    const store = await Store.open({
      dataDir: dir,
      onWarning: () => {},
      onWritableChange: () => {},
    });
    for (let index = 0; index < 30_000; index++) store.put(recordKey(index), recordValue(index));
    await store.commit();
    // Its failure is read after the move: caught from the start, it is never unhandled.
    const compaction = store.compact().then(() => undefined, (error: Error) => error);
    await waitFor(
      async () => (await fileNames(dir)).includes("snapshot-0000000002.kvsnap.tmp"),
      { what: "the snapshot to be under way", intervalMs: 0 },
    );
    // The snapshot is renamed by the dir's name: moved away, a rename either failed on a
    // file not found, or, for a snapshot begun at the new dir, put it there.
    await Deno.rename(dir, `${parent}/moved`);
    await Deno.mkdir(dir);
    assert.ok((await compaction) instanceof DataDirLostError);
    assert.deepEqual(await fileNames(dir), []);
    // A store that cannot write closes all the same, its failure told again.
    await assert.rejects(store.close(), DataDirLostError);
    await Deno.remove(dir);
    await Deno.rename(`${parent}/moved`, dir);
    const reopened = await Store.open({ dataDir: dir, onWarning: () => {} });
    assert.equal(reopened.recordCount, 30_000);
    await reopened.close();
  });
});
