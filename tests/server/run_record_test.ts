// The run record (lib/server/run_record.ts): its line, the judgement of the last run, and
// a store's start on a data dir whose last run died in a process (tests/fixtures/
// store_writer.ts, killed), stopped cleanly, was moved or copied. The boot a start is in
// is given through Store.open's `boot`, as after a restart of the machine.
import assert from "node:assert/strict";
import { crc32c } from "../../lib/base/crc32.ts";
import { NO_LIST } from "../../lib/protocol/mod.ts";
import {
  DirLock,
  LOCK_FILE_NAME,
  MAX_RECORD_CHARS,
  PID_FIELD_BYTES,
} from "../../lib/server/dir_lock.ts";
import {
  aliveClockOf,
  aliveStampInterval,
  changedUnderRun,
  decodeRunRecord,
  describeDowntime,
  downtimeMargin,
  encodeRunRecord,
  judgeDowntime,
  judgeLastRun,
  lastWritten,
  MIN_RUNNING_DOWNTIME_MS,
  runningDowntimeLimit,
  type RunNow,
  type RunRecord,
  sameBoot,
  timeAway,
} from "../../lib/server/run_record.ts";
import { describeReadOnly, StaleDataDirError, Store } from "../../lib/server/store.ts";
import { int, str } from "../../lib/record/value.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

const writerScript = new URL("../fixtures/store_writer.ts", import.meta.url).pathname;

/** A record of an open run in boot `id:a` under `--fsync interval`, of one log. */
const OPEN: RunRecord = {
  run: "open",
  boot: "id:a",
  fsync: "interval",
  dir: "10.7",
  files: { "log-0000000001.kvlog": "11.8" },
};

/** What a start finds that matches {@link OPEN}, in the same boot. */
const NOW: RunNow = {
  boot: "id:a",
  dir: "10.7",
  lockWrittenByOther: false,
  lockOfOlderKv: false,
  files: { "log-0000000001.kvlog": "11.8.500.1000.1000", "node-state.json": "12.9.80.900.900" },
};

/** The record a clean stop of the run {@link NOW} finds would write. */
const CLEAN: RunRecord = { ...OPEN, run: "clean", files: NOW.files };

Deno.test("run record: a line reads back as written; a torn or foreign line is unreadable; one of too many files keeps the newest that fit", () => {
  const line = encodeRunRecord(OPEN);
  assert.deepEqual(decodeRunRecord(line), OPEN);
  // The port served on is kept when told; a record of a kv before ports has none.
  assert.deepEqual(decodeRunRecord(encodeRunRecord({ ...OPEN, port: 8000 })), {
    ...OPEN,
    port: 8000,
  });
  assert.equal(decodeRunRecord(encodeRunRecord({ ...OPEN, port: 0 })), "unreadable");
  // So is the address it listened on; a record of a kv before addresses has none.
  const addressed = { ...OPEN, port: 8000, address: "::1" };
  assert.deepEqual(decodeRunRecord(encodeRunRecord(addressed)), addressed);
  assert.equal(decodeRunRecord(encodeRunRecord({ ...OPEN, address: "" })), "unreadable");
  assert.equal(decodeRunRecord(line.replace('"open"', '"oqen"')), "unreadable");
  assert.equal(decodeRunRecord(line.slice(0, -1)), "unreadable");
  assert.equal(decodeRunRecord("12345"), "unreadable");
  const many = Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`log-${String(i + 1).padStart(10, "0")}.kvlog`, "1.2"]),
  );
  const kept = decodeRunRecord(encodeRunRecord({ ...OPEN, files: many }));
  assert.ok(kept !== "unreadable");
  const names = Object.keys(kept.files);
  assert.ok(names.length > 1 && names.length < 40);
  assert.ok(names.includes("log-0000000040.kvlog"), "the newest log is kept");
  assert.ok(encodeRunRecord({ ...OPEN, files: many }).length <= MAX_RECORD_CHARS);
});

Deno.test("run record: a clean stop with more files than fit in full keeps the oldest by their short identity, and the next start trusts it; a file so kept is still compared by inode", () => {
  const full = (inode: number) => `${inode}.1796254388264.67108864.1796254388416.1796254388000`;
  const files: Record<string, string> = {
    "node-state.json": full(1),
    "snapshot-0000000009.kvsnap": full(2),
  };
  for (let i = 0; i < 12; i++) files[`log-${String(9 + i).padStart(10, "0")}.kvlog`] = full(10 + i);
  const boot = "id:72dcd930-7c76-463e-87a6-b027aee94ec5 at:1796203964193";
  const clean: RunRecord = { run: "clean", boot, fsync: "interval", dir: "3.4", files };
  const line = encodeRunRecord(clean);
  assert.ok(line.length <= MAX_RECORD_CHARS);
  const kept = decodeRunRecord(line);
  assert.ok(kept !== "unreadable");
  assert.deepEqual(Object.keys(kept.files).sort(), Object.keys(files).sort(), "every file named");
  assert.equal(kept.files["log-0000000020.kvlog"], files["log-0000000020.kvlog"], "newest in full");
  assert.equal(kept.files["log-0000000009.kvlog"], "10.1796254388264", "oldest by inode");
  const now: RunNow = { ...NOW, boot, dir: "3.4", files };
  assert.equal(judgeLastRun(kept, now), undefined, "nothing appeared: trusted");
  const replaced = { ...files, "log-0000000009.kvlog": full(99) };
  assert.match(judgeLastRun(kept, { ...now, files: replaced }) ?? "trusted", /changed since/);
});

Deno.test("run record: two boots are the same only when both are told a common way and agree (boot ids equal when both have one, else boot instants within 2 s)", () => {
  assert.equal(sameBoot("id:a", "id:a"), true);
  assert.equal(sameBoot("id:a", "id:b"), false);
  assert.equal(sameBoot("at:100000", "at:101999"), true);
  assert.equal(sameBoot("at:100000", "at:103000"), false);
  assert.equal(sameBoot("id:a", "at:100000"), false);
  assert.equal(sameBoot(null, "id:a"), false);
  assert.equal(sameBoot("id:a", undefined), false);
  // A run under deno run -A tells both; a start under the tasks' permissions the instant.
  assert.equal(sameBoot("id:a at:100000", "at:101000"), true);
  assert.equal(sameBoot("at:100000", "id:a at:101000"), true);
  assert.equal(sameBoot("id:a at:100000", "at:200000"), false);
  assert.equal(sameBoot("id:a at:100000", "id:b at:100000"), false, "the boot ids decide");
  assert.equal(sameBoot("id:a at:100000", "id:a at:900000"), true, "the boot ids decide");
});

Deno.test("run record: no record is judged by what the lock file held — an older kv's pid alone, or a dir holding no data, is trusted; a LOCK missing or emptied beside data is not", () => {
  assert.equal(judgeLastRun(undefined, { ...NOW, lockOfOlderKv: true }), undefined);
  const noData = { "node-state.json": NOW.files["node-state.json"] };
  assert.equal(judgeLastRun(undefined, { ...NOW, files: noData }), undefined, "a new dir");
  assert.equal(judgeLastRun(undefined, { ...NOW, files: {} }), undefined, "a new dir");
  assert.match(
    judgeLastRun(undefined, NOW) ?? "trusted",
    /^its LOCK file holds no run record, yet the dir holds data \(LOCK was left out of a copy or restore/,
  );
  const snapshotOnly = { "snapshot-0000000002.kvsnap": "14.1.9.9.9" };
  assert.match(judgeLastRun(undefined, { ...NOW, files: snapshotOnly }) ?? "trusted", /no run/);
});

Deno.test("run record: the last run is judged lossless when it stopped cleanly, or died in the same boot, or ran --fsync always", () => {
  assert.equal(
    judgeLastRun(undefined, { ...NOW, lockOfOlderKv: true }),
    undefined,
    "no record: an older kv's",
  );
  assert.equal(judgeLastRun(OPEN, NOW), undefined, "killed, the machine up");
  assert.equal(judgeLastRun(CLEAN, { ...NOW, boot: "id:b" }), undefined, "clean, then a reboot");
  assert.equal(judgeLastRun({ ...OPEN, fsync: "always" }, { ...NOW, boot: "id:b" }), undefined);
  // A killed run that compacted since its record may leave a newer log beside the recorded.
  const newer = { ...NOW.files, "log-0000000002.kvlog": "13.10.16.1100.1100" };
  assert.equal(judgeLastRun(OPEN, { ...NOW, files: newer }), undefined);
});

Deno.test("run record: the last run is judged to have maybe lost acknowledged writes after a power loss, a copy or a torn record, saying which", () => {
  const judged = (last: RunRecord | "unreadable", now: Partial<RunNow>) =>
    judgeLastRun(last, { ...NOW, ...now }) ?? "trusted";
  assert.match(judged("unreadable", {}), /^the run record in its LOCK file is unreadable/);
  assert.match(
    judged(OPEN, { boot: "id:b" }),
    /^the last run on it \(--fsync interval\) did not stop cleanly and the machine has restarted since: /,
  );
  assert.match(
    judged({ ...OPEN, fsync: "never" }, { boot: undefined }),
    /^the last run on it \(--fsync never\) did not stop cleanly and nothing tells whether the machine restarted since/,
  );
  assert.match(
    judged(OPEN, { boot: "at:100000" }),
    /did not stop cleanly and nothing tells whether the machine restarted since/,
    "a boot id then an instant alone: no way in common, not a restart",
  );
  assert.match(
    judged(CLEAN, { dir: "10.8" }),
    /^the data dir is not the directory the last run used/,
  );
  assert.match(
    judged(CLEAN, { lockWrittenByOther: true }),
    /^its LOCK file was written by another program .*: a copy put over the data dir's files, or a chmod or chown of them, which no kv server can tell from one\)/,
  );
  // Served on another port than its last run: another server's dir, swapped by mistake.
  assert.match(
    judged({ ...CLEAN, port: 8001 }, { port: 8000 }),
    /^the data dir was last served on port 8001, not 8000 \(another server's data dir, swapped by mistake\?/,
  );
  assert.equal(judged({ ...CLEAN, port: 8000 }, { port: 8000 }), "trusted");
  assert.equal(judged(CLEAN, { port: 8000 }), "trusted", "a record without a port");
  assert.equal(judged({ ...CLEAN, port: 8001 }, {}), "trusted", "a start on -p 0");
  // On another address of the machine, the same port: two servers' dirs swapped too.
  const on = (address: string, port = 8000) => ({ port, address });
  assert.match(
    judged({ ...CLEAN, ...on("127.0.0.2") }, on("127.0.0.1")),
    /^the data dir was last served on 127\.0\.0\.2:8000, not 127\.0\.0\.1:8000 \(another server's data dir, swapped by mistake\?/,
  );
  assert.match(
    judged({ ...CLEAN, ...on("::1", 8001) }, on("127.0.0.1")),
    /^the data dir was last served on \[::1\]:8001, not 127\.0\.0\.1:8000 \(/,
  );
  assert.match(
    judged({ ...CLEAN, ...on("0.0.0.0", 8001) }, on("127.0.0.1")),
    /^the data dir was last served on port 8001, not 8000 \(/,
    "a wildcard names no address: the ports alone",
  );
  assert.equal(judged({ ...CLEAN, ...on("127.0.0.1") }, on("127.0.0.1")), "trusted");
  for (const wildcard of ["0.0.0.0", "::"]) {
    assert.equal(judged({ ...CLEAN, ...on(wildcard) }, on("127.0.0.1")), "trusted", wildcard);
    assert.equal(judged({ ...CLEAN, ...on("127.0.0.1") }, on(wildcard)), "trusted", wildcard);
  }
  assert.equal(
    judged({ ...CLEAN, port: 8000 }, on("127.0.0.1")),
    "trusted",
    "a record of a kv before addresses",
  );
  const files = NOW.files;
  const changed = { ...files, "log-0000000001.kvlog": "11.8.400.1000.1000" };
  assert.match(
    judged(CLEAN, { files: changed }),
    /^log-0000000001\.kvlog changed since the last run \(a copy or a restore, or a chmod or chown of it, which no kv server can tell from one\)/,
  );
  const touched = { ...files, "node-state.json": "12.9.80.900.1900" };
  assert.match(judged(CLEAN, { files: touched }), /^node-state\.json changed since/);
  const added = { ...files, "snapshot-0000000002.kvsnap": "14.1.9.9.9" };
  assert.match(judged(CLEAN, { files: added }), /^snapshot-0000000002\.kvsnap appeared since/);
  assert.match(
    judged(CLEAN, { files: { "node-state.json": files["node-state.json"] } }),
    /went missing/,
  );
  const replaced = { ...files, "log-0000000001.kvlog": "11.9.500.1000.1000" };
  assert.match(judged(OPEN, { files: replaced }), /^log-0000000001\.kvlog was replaced since/);
  // After a kill, a snapshot (or a log but the newest) is compared in full: done with.
  const openSnapshot: RunRecord = {
    ...OPEN,
    files: { "snapshot-0000000002.kvsnap": "20.3.100.500.500", "log-0000000002.kvlog": "21.4" },
  };
  const nowSnapshot = {
    "snapshot-0000000002.kvsnap": "20.3.100.500.500",
    "log-0000000002.kvlog": "21.4.900.2000.2000",
  };
  assert.equal(judged(openSnapshot, { files: nowSnapshot }), "trusted", "the newest log grew");
  assert.match(
    judged(openSnapshot, {
      files: { ...nowSnapshot, "snapshot-0000000002.kvsnap": "20.3.100.500.1500" },
    }),
    /^snapshot-0000000002\.kvsnap changed since the last run/,
  );
  const gone = { "log-0000000002.kvlog": "13.10.16.1100.1100" };
  assert.match(judged(OPEN, { files: gone }), /^none of the files it used is left since/);
});

/** The run record in `dir`'s lock file. */
async function recordIn(dir: string): Promise<RunRecord> {
  const bytes = await Deno.readFile(`${dir}/${LOCK_FILE_NAME}`);
  const record = decodeRunRecord(
    new TextDecoder().decode(bytes.subarray(PID_FIELD_BYTES)).trimEnd(),
  );
  assert.ok(record !== "unreadable");
  return record;
}

/**
 * Runs store_writer.ts on `dir` with `options` (and the permission to tell its boot) until
 * it acknowledged `batches` batches in storage generation `generation` or a later one, then
 * kills it (SIGKILL), as a crash of the process.
 */
async function killedWriter(
  dir: string,
  options: Record<string, unknown>,
  batches: number,
  generation = 1,
  permissions = ["--allow-read", "--allow-write", "--allow-sys=osUptime"],
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      writerScript,
      JSON.stringify({ dataDir: dir, batchSize: 20, ...options }),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const enough = (line: string) => {
      const acked = /^acked (\d+) (\d+)$/.exec(line);
      return acked !== null && Number(acked[1]) >= batches && Number(acked[2]) >= generation;
    };
    while (!text.split("\n").some(enough)) {
      const { value, done } = await withDeadline(reader.read(), { what: "store_writer.ts's acks" });
      assert.ok(!done, `store_writer.ts ended early: ${text}`);
      text += value;
    }
    child.kill("SIGKILL");
    await reader.cancel();
  } finally {
    await child.stdin.close().catch(() => {/* gone with the kill */});
    await withDeadline(child.status, { what: "store_writer.ts to exit" });
  }
}

/** Opens `dir` in `boot` and returns why it may have lost writes (undefined: it may not). */
async function suspicionAt(dir: string, boot: string): Promise<string | undefined> {
  const store = await Store.open({ dataDir: dir, boot: () => Promise.resolve(boot) });
  try {
    // Suspected, it is unrepaired (and stays so until a repair, whatever later starts find).
    if (store.recovery.suspectedLoss !== undefined) assert.ok(store.nodeState.state.unrepaired);
    return store.recovery.suspectedLoss;
  } finally {
    await store.close();
  }
}

/** Opens a new store in `dir` in boot `boot`, marks it repaired, and closes it. */
async function repairedDir(dir: string, boot: string): Promise<void> {
  const store = await Store.open({ dataDir: dir, boot: () => Promise.resolve(boot) });
  store.put("seed", int(1));
  await store.commit();
  await store.nodeState.markRepaired(new Uint8Array(16).fill(7), NO_LIST);
  await store.close();
}

for (const fsync of ["interval", "never", "always"] as const) {
  Deno.test(`store: a process killed under --fsync ${fsync} is trusted in the same boot, ${fsync === "always" ? "and after a restart of the machine" : "not after a restart of the machine"}; a clean stop after either`, async () => {
    await withTempDir(async (dir) => {
      await repairedDir(dir, "at:0");
      await killedWriter(dir, { fsync, batchCount: 1000 }, 3);
      const { boot } = await recordIn(dir);
      assert.match(boot ?? "none", /^at:\d+$/, "the writer told its boot by the uptime");
      assert.equal(await suspicionAt(dir, boot!), undefined, "the same boot");
      await killedWriter(dir, { fsync, batchCount: 1000 }, 3);
      // Another boot: the machine booted an hour earlier than this one, by its uptime.
      const rebooted = await suspicionAt(dir, `at:${Number(boot!.slice(3)) - 3_600_000}`);
      if (fsync === "always") assert.equal(rebooted, undefined);
      else {assert.match(
          rebooted ?? "trusted",
          /did not stop cleanly and the machine has restarted/,
        );}
      // The last open was closed cleanly: judged trusted in any boot (the mark stays).
      assert.equal(await suspicionAt(dir, "id:yet-another"), undefined);
    });
  });
}

Deno.test("store: a run killed after several compactions is trusted in the same boot: the record follows the files each compaction makes", async () => {
  await withTempDir(async (dir) => {
    await repairedDir(dir, "at:0");
    // Generation 4 begins only once the compaction to 3 is done: one compaction at a time.
    await killedWriter(dir, { batchCount: 100_000, compactionMinLogBytes: 4096 }, 1, 4);
    const record = await recordIn(dir);
    assert.ok(
      Object.keys(record.files).some((name) => name.startsWith("snapshot-")),
      `it compacted: ${JSON.stringify(record.files)}`,
    );
    assert.equal(await suspicionAt(dir, record.boot!), undefined);
  });
});

Deno.test("store: a data dir renamed within its file system stays trusted; a copy of it (cp -a) starts unrepaired", async () => {
  await withTempDir(async (root) => {
    await repairedDir(`${root}/a`, "id:x");
    await Deno.rename(`${root}/a`, `${root}/b`);
    assert.equal(await suspicionAt(`${root}/b`, "id:x"), undefined);
    const copy = await new Deno.Command("cp", { args: ["-a", `${root}/b`, `${root}/c`] }).output();
    assert.equal(copy.code, 0);
    assert.match(
      (await suspicionAt(`${root}/c`, "id:x")) ?? "trusted",
      /^the data dir is not the directory the last run used/,
    );
    assert.equal(await suspicionAt(`${root}/b`, "id:x"), undefined, "the original is as it was");
  });
});

Deno.test("store: a process killed under deno run -A (its boot told by the boot id and the uptime) is trusted by a start in the same boot told by the uptime alone, as under the tasks' permissions", async () => {
  await withTempDir(async (dir) => {
    await repairedDir(dir, "at:0");
    await killedWriter(dir, { batchCount: 1000 }, 3, 1, ["--allow-all"]);
    const { boot } = await recordIn(dir);
    const parts = /^id:[0-9a-f-]{36} (at:\d+)$/.exec(boot ?? "none");
    assert.ok(parts, `under -A both ways are recorded: ${boot}`);
    assert.equal(await suspicionAt(dir, parts[1]), undefined, "the same boot, by its instant");
  });
});

Deno.test("store: a data dir copied or restored without its LOCK file, or with LOCK emptied, starts unrepaired; a LOCK holding an older kv's pid alone is judged by nothing, as before", async () => {
  await withTempDir(async (root) => {
    await repairedDir(`${root}/a`, "id:x");
    const lockless = /^its LOCK file holds no run record, yet the dir holds data/;
    const copy = await new Deno.Command("cp", { args: ["-a", `${root}/a`, `${root}/b`] }).output();
    assert.equal(copy.code, 0);
    await Deno.remove(`${root}/b/${LOCK_FILE_NAME}`);
    assert.match((await suspicionAt(`${root}/b`, "id:x")) ?? "trusted", lockless);
    // Copied the same way into the dir itself, over its files, with LOCK emptied.
    await Deno.writeFile(`${root}/a/${LOCK_FILE_NAME}`, new Uint8Array(0));
    assert.match((await suspicionAt(`${root}/a`, "id:x")) ?? "trusted", lockless);
    await repairedDir(`${root}/c`, "id:x");
    await Deno.writeTextFile(`${root}/c/${LOCK_FILE_NAME}`, "12345\n");
    assert.equal(await suspicionAt(`${root}/c`, "id:x"), undefined, "an older kv's dir");
  });
});

Deno.test("store: after a kill, a snapshot written over in place (a copy put back, LOCK left out) starts unrepaired, though its inode is the same", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/d`;
    await repairedDir(dir, "at:0");
    await killedWriter(dir, { batchCount: 100_000, compactionMinLogBytes: 4096 }, 1, 3);
    const record = await recordIn(dir);
    const snapshot = Object.keys(record.files).find((name) => name.startsWith("snapshot-"));
    assert.ok(snapshot, `it compacted: ${JSON.stringify(record.files)}`);
    assert.equal(record.run, "open", "killed: the record is the open run's");
    const copy = `${root}/${snapshot}`;
    const saved = await new Deno.Command("cp", { args: ["-a", `${dir}/${snapshot}`, copy] })
      .output();
    assert.equal(saved.code, 0);
    // Change times are read in whole seconds: the copy is put back in a later one.
    const changedAt = (await Deno.stat(`${dir}/${snapshot}`)).ctime!.getTime();
    await waitFor(() => Date.now() >= changedAt + 1000, { what: "the next second" });
    const restored = await new Deno.Command("cp", { args: ["-a", copy, `${dir}/${snapshot}`] })
      .output();
    assert.equal(restored.code, 0);
    assert.match(
      (await suspicionAt(dir, record.boot!)) ?? "trusted",
      new RegExp(`^${snapshot.replace(".", "\\.")} changed since the last run`),
    );
  });
});

for (const withLock of [true, false]) {
  Deno.test(`store: a backup put back over a running store's files (as tar --unlink-first or rsync do: new files at the old names${withLock ? ", LOCK among them" : ", LOCK left out"}) is not recorded as a clean stop, and the next start is unrepaired`, async () => {
    await withTempDir(async (root) => {
      const dir = `${root}/d`;
      await repairedDir(dir, "id:x");
      const backup = `${root}/backup`;
      const copy = await new Deno.Command("cp", { args: ["-a", dir, backup] }).output();
      assert.equal(copy.code, 0);
      const warnings: string[] = [];
      const store = await Store.open({
        dataDir: dir,
        boot: () => Promise.resolve("id:x"),
        onWarning: (message) => warnings.push(message),
      });
      store.put("acknowledged after the backup", int(2));
      await store.commit();
      for await (const entry of Deno.readDir(backup)) {
        if (entry.name === LOCK_FILE_NAME && !withLock) continue;
        await Deno.copyFile(`${backup}/${entry.name}`, `${dir}/${entry.name}.restoring`);
        await Deno.rename(`${dir}/${entry.name}.restoring`, `${dir}/${entry.name}`);
      }
      // The running store takes the LOCK put there as its own (dir_lock.ts's keepFile).
      if (withLock) {
        await waitFor(
          () => warnings.some((line) => line.includes("LOCK was deleted or replaced")),
          {
            what: "the store to write LOCK anew",
          },
        );
      }
      await store.close();
      assert.match(
        warnings.at(-1) ?? "",
        /^not recorded as a clean stop: log-0000000001\.kvlog was replaced while this server ran/,
      );
      assert.match(
        (await suspicionAt(dir, "id:x")) ?? "trusted",
        /^log-0000000001\.kvlog was replaced since the last run/,
      );
    });
  });
}

Deno.test("run record: changedUnderRun finds a file of the open record replaced or the dir replaced, and nothing in a dir that only grew", () => {
  const open = {
    run: "open",
    boot: null,
    fsync: "always",
    dir: "5.0",
    files: { "log-1": "7.1" },
  } as const;
  assert.equal(
    changedUnderRun(open, { dir: "5.0", files: { "log-1": "7.1.10.3.3", "log-2": "8.1.0.3.3" } }),
    undefined,
  );
  assert.equal(
    changedUnderRun(open, { dir: "5.0", files: { "log-1": "9.2.10.3.3" } }),
    "log-1 was replaced",
  );
  assert.equal(
    changedUnderRun(open, { dir: "6.0", files: { "log-1": "7.1.10.3.3" } }),
    "the data dir was replaced or moved",
  );
});

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A record line of `json` with the checksum kv would write for it: readable but for fields. */
function lineOf(json: Record<string, unknown>): string {
  const text = JSON.stringify(json);
  return `${text} ${crc32c(new TextEncoder().encode(text)).toString(16).padStart(8, "0")}`;
}

Deno.test("run record: the last-alive stamp reads back as written; a stamp that is no whole number of ms is unreadable, none is a kv before it", () => {
  const stamped: RunRecord = { ...OPEN, alive: 1_796_313_320_427 };
  assert.deepEqual(decodeRunRecord(encodeRunRecord(stamped)), stamped);
  assert.deepEqual(decodeRunRecord(encodeRunRecord(OPEN)), OPEN, "no stamp: none read");
  assert.deepEqual(decodeRunRecord(lineOf({ format: 1, ...stamped })), stamped);
  for (const alive of [-1, 1.5, "1796313320427", null]) {
    assert.equal(decodeRunRecord(lineOf({ format: 1, ...OPEN, alive })), "unreadable", `${alive}`);
  }
});

Deno.test("run record: a dir holding data is judged stale once its stamp is older than the grace less the margin (a minute, a quarter of a short grace); k = 1 starts it; no data, no stamp, no record, or a stamp just ahead are not judged; one far ahead is", () => {
  const last: RunRecord = { ...OPEN, alive: 10 * DAY_MS };
  const now = {
    nowMs: 10 * DAY_MS + HOUR_MS,
    graceMs: DAY_MS,
    holdsData: true,
    k: 2,
    lockOfOlderKv: false,
    writtenMs: undefined,
  };
  const at = (ms: number, more = {}) => judgeDowntime(last, { ...now, nowMs: ms, ...more });
  assert.equal(downtimeMargin(DAY_MS), 60_000, "the write lag a server takes");
  assert.equal(downtimeMargin(2_000), 500, "a quarter of a short grace");
  assert.equal(judgeDowntime(last, now), undefined, "down an hour of a day's grace");
  const limit = last.alive! + DAY_MS - 60_000;
  assert.equal(at(limit), undefined, "the grace less the margin, to the ms");
  assert.deepEqual(at(limit + 1), { verdict: "stale", downMs: DAY_MS - 59_999 });
  assert.deepEqual(at(limit + 1, { k: 0 }), { verdict: "stale", downMs: DAY_MS - 59_999 });
  assert.deepEqual(at(limit + 1, { k: 1 }), { verdict: "only copy", downMs: DAY_MS - 59_999 });
  assert.equal(at(limit + 1, { holdsData: false }), undefined, "nothing to bring back");
  const short = { graceMs: 2_000 };
  assert.equal(at(last.alive! + 1_500, short), undefined);
  assert.deepEqual(at(last.alive! + 1_501, short), { verdict: "stale", downMs: 1_501 });
  const later = now.nowMs + 3 * DAY_MS;
  assert.equal(judgeDowntime({ ...OPEN }, { ...now, nowMs: later }), undefined, "a kv before");
  // No record and no file telling when it was written (below: judged by the files).
  assert.equal(judgeDowntime(undefined, { ...now, nowMs: later }), undefined);
  assert.equal(judgeDowntime("unreadable", { ...now, nowMs: later }), undefined);
  assert.equal(at(last.alive! - 60_000), undefined, "a minute ahead: a clock step");
  assert.deepEqual(at(last.alive! - DAY_MS), { verdict: "ahead", aheadMs: DAY_MS });
  assert.equal(aliveStampInterval(DAY_MS), 600_000);
  assert.equal(aliveStampInterval(2_000), 500);
});

Deno.test("run record: a dir holding data with no readable run record (LOCK lost, emptied or torn) is judged by when its logs and snapshots were last written, as by a stamp; a dir whose LOCK is an older kv's (its pid alone) or whose record has a stamp is not", () => {
  const written = 10 * DAY_MS;
  const now = {
    nowMs: written + HOUR_MS,
    graceMs: DAY_MS,
    holdsData: true,
    k: 2,
    lockOfOlderKv: false,
    writtenMs: written,
  };
  const limit = written + DAY_MS - 60_000;
  for (const last of [undefined, "unreadable"] as const) {
    const at = (ms: number, more = {}) => judgeDowntime(last, { ...now, nowMs: ms, ...more });
    assert.equal(at(now.nowMs), undefined, "written an hour ago");
    assert.equal(at(limit), undefined, "the grace less the margin, to the ms");
    const downMs = DAY_MS - 59_999;
    assert.deepEqual(at(limit + 1), { verdict: "stale", downMs, byFiles: true });
    assert.deepEqual(at(limit + 1, { k: 1 }), { verdict: "only copy", downMs, byFiles: true });
    assert.equal(at(limit + 1, { holdsData: false }), undefined, "nothing to bring back");
    assert.equal(at(limit + 1, { lockOfOlderKv: true }), undefined, "an upgrade");
    assert.equal(at(limit + 1, { writtenMs: undefined }), undefined, "no time kept");
    assert.equal(at(written - 60_000), undefined, "a minute ahead: a clock step");
    assert.deepEqual(at(written - DAY_MS), { verdict: "ahead", aheadMs: DAY_MS, byFiles: true });
  }
  // A stamp tells better than the files: an idle server's are old.
  const stamped: RunRecord = { ...OPEN, alive: written + DAY_MS };
  assert.equal(judgeDowntime(stamped, { ...now, nowMs: limit + 1 }), undefined);
  assert.equal(judgeDowntime({ ...OPEN }, { ...now, nowMs: limit + 1 }), undefined, "a kv before");
});

Deno.test("run record: lastWritten is the newest modification time of the logs and snapshots, not the node state's (a start rewrites it), and none when none is kept", () => {
  const files = {
    "snapshot-0000000002.kvsnap": "5.1.300.7000.7000",
    "log-0000000002.kvlog": "6.1.44.9000.9500",
    "node-state.json": "7.1.80.9900.9900",
  };
  assert.equal(lastWritten(files), 9_000);
  assert.equal(lastWritten({ "node-state.json": "7.1.80.9900.9900" }), undefined);
  assert.equal(lastWritten({ "log-0000000002.kvlog": "6.1.44.0.0" }), undefined);
  assert.equal(lastWritten({ "log-0000000002.kvlog": "6.1" }), undefined, "a short identity");
});

Deno.test("run record: what a start says of a dir judged by its files' age names it, says LOCK holds no readable record, how long ago they were written, the grace, the danger, what to do, and that an idle server's files are as old", () => {
  const options = { dir: "/srv/kv", graceMs: DAY_MS, kept: false };
  const stale = { verdict: "stale", downMs: 2 * DAY_MS, byFiles: true } as const;
  assert.equal(
    describeDowntime(stale, options),
    "data dir /srv/kv holds no readable run record in LOCK (left out of a copy or a restore, " +
      "deleted, or torn), and its logs and snapshots were last written 2 days ago, longer " +
      "than its tombstone grace allows (--tombstone-grace 24 hours, less 60 seconds): the " +
      "other replicas may have purged the tombstones of deletes it missed, and served again " +
      "it would bring those records back (and kv repair would spread them); move the dir " +
      "aside or empty it and start again (it starts unrepaired, and kv repair refills it from " +
      "the other replicas), or, only when no other replica holds its keys (k = 1, or every " +
      "replica lost), start with --keep-stale-data; files this old are also those of a " +
      "server that ran until just now and took no write for as long: if this one did, and " +
      "only its LOCK was lost, --keep-stale-data starts it as it is",
  );
  assert.match(
    describeDowntime(stale, { ...options, kept: true }),
    /^data dir \/srv\/kv holds no readable run record in LOCK .*, and its logs and snapshots were last written 2 days ago, .*: started with its data, as --keep-stale-data asks; records deleted meanwhile whose tombstones the other replicas purged come back$/,
  );
  assert.match(
    describeDowntime({ verdict: "ahead", aheadMs: 2 * DAY_MS, byFiles: true }, options),
    /^data dir \/srv\/kv holds no readable run record in LOCK, and its newest log or snapshot was written 2 days ahead of this server's clock .*cannot be told: if longer than the grace \(--tombstone-grace 24 hours\), stop/,
  );
});

Deno.test("run record: what a start says of a stale dir names the dir, how long ago it was alive, the grace, the danger and what to do", () => {
  const options = { dir: "/srv/kv", graceMs: DAY_MS, kept: false };
  const stale = { verdict: "stale", downMs: 2 * DAY_MS + HOUR_MS } as const;
  assert.equal(
    describeDowntime(stale, options),
    "data dir /srv/kv was last alive 2 days ago, longer than its tombstone grace allows " +
      "(--tombstone-grace 24 hours, less 60 seconds): the other replicas may have purged the " +
      "tombstones of deletes it missed, and served again it would bring those records back " +
      "(and kv repair would spread them); move the dir aside or empty it and start again (it " +
      "starts unrepaired, and kv repair refills it from the other replicas), or, only when no " +
      "other replica holds its keys (k = 1, or every replica lost), start with " +
      "--keep-stale-data",
  );
  assert.match(
    describeDowntime(stale, { ...options, kept: true }),
    /^data dir \/srv\/kv was last alive 2 days ago, .*: started with its data, as --keep-stale-data asks; records deleted meanwhile whose tombstones the other replicas purged come back$/,
  );
  assert.match(
    describeDowntime({ verdict: "only copy", downMs: 3 * HOUR_MS }, { ...options, graceMs: 2_000 }),
    /^data dir \/srv\/kv was last alive 3 hours ago, longer than its tombstone grace allows \(--tombstone-grace 2 seconds, less 500 ms\): started with its data, as the cluster's k recorded in it is 1 /,
  );
  assert.match(
    describeDowntime({ verdict: "ahead", aheadMs: 2 * DAY_MS }, options),
    /^data dir \/srv\/kv's last-alive stamp \(in LOCK\) is 2 days ahead of this server's clock .*cannot be told: if longer than the grace \(--tombstone-grace 24 hours\), stop/,
  );
});

Deno.test("run record: a running server is allowed what a start allows, but never less than a minute, and says it was out while it ran: stopped, or serving on when kept", () => {
  assert.equal(runningDowntimeLimit(DAY_MS), DAY_MS - 60_000);
  assert.equal(runningDowntimeLimit(2_000), MIN_RUNNING_DOWNTIME_MS);
  const options = { dir: "/srv/kv", graceMs: 2_000, kept: false, running: true };
  const out = "data dir /srv/kv was out of the cluster for 2 minutes while this server ran (its " +
    "process stopped or frozen, its machine suspended, or its disk refusing writes), longer than " +
    "its tombstone grace allows (--tombstone-grace 2 seconds, less 500 ms)";
  const stale = { verdict: "stale", downMs: 2 * 60_000 } as const;
  assert.equal(
    describeDowntime(stale, options),
    `${out}: the other replicas may have purged the tombstones of deletes it missed, and ` +
      "serving on it would bring those records back (and kv repair would spread them); stopped " +
      "without stamping the dir alive, so its next start is refused too: move the dir aside or " +
      "empty it and start again (it starts unrepaired, and kv repair refills it from the other " +
      "replicas), or, only when no other replica holds its keys (k = 1, or every replica lost), " +
      "start with --keep-stale-data",
  );
  assert.ok(
    describeDowntime(stale, { ...options, kept: true })
      .startsWith(`${out}: serving on with its data, as --keep-stale-data asks; `),
  );
  assert.ok(
    describeDowntime({ ...stale, verdict: "only copy" }, options)
      .startsWith(`${out}: serving on with its data, as the cluster's k recorded in it is 1 `),
  );
  // A write met before the server has stopped: no disk to fix, no retry to wait for.
  assert.equal(
    describeReadOnly(new StaleDataDirError(out)),
    `the server refuses every write: ${out}`,
  );
});

Deno.test("run record: a running server's time away is the smaller of the wall clock's gap and the kernel's elapsed time: the uptime, which counts a suspend, where it may be read, else the monotonic clock, which does not; a wall-clock step alone is no time away", () => {
  // Each clock as a variable the test moves: what a process stopped, a machine suspended and
  // NTP each do to them.
  const clocks = { wall: 1_000_000, mono: 5_000.25, uptime: 300 };
  const sources = {
    wallMs: () => clocks.wall,
    monoMs: () => clocks.mono,
    uptimeSeconds: () => clocks.uptime,
  };
  const withUptime = aliveClockOf(sources);
  const withoutUptime = aliveClockOf({ ...sources, uptimeSeconds: undefined });
  assert.deepEqual(withUptime.read(), { wallMs: 1_000_000, elapsedMs: 300_000 });
  assert.deepEqual(withoutUptime.read(), { wallMs: 1_000_000, elapsedMs: 5_000.25 });
  const away = (move: (c: typeof clocks) => void) => {
    const since = [withUptime.read(), withoutUptime.read()];
    move(clocks);
    return [timeAway(since[0], withUptime.read()), timeAway(since[1], withoutUptime.read())];
  };
  // SIGSTOP for 2 minutes: every clock runs on.
  assert.deepEqual(
    away((c) => [c.wall += 120_000, c.mono += 120_000, c.uptime += 120]),
    [120_000, 120_000],
  );
  // Suspended 2 minutes: the wall clock is set on from the RTC at resume, the uptime counts
  // the sleep, the monotonic clock does not. Only a server reading the uptime sees it.
  assert.deepEqual(away((c) => [c.wall += 120_000, c.uptime += 120]), [120_000, 0]);
  // NTP steps the wall clock 2 minutes on while a second passes: a second either way.
  assert.deepEqual(
    away((c) => [c.wall += 121_000, c.mono += 1_000, c.uptime += 1]),
    [1_000, 1_000],
  );
});

/**
 * An {@link AliveClock} a test moves: the real clocks, the wall clock and the uptime (whole
 * seconds, as Linux tells it; none when `uptime` is false) moved on by {@link suspend}, the
 * monotonic clock never, as in a suspend of the machine.
 */
function suspendableClock(uptime: boolean) {
  let sleptMs = 0;
  const clock = aliveClockOf({
    wallMs: () => Date.now() + sleptMs,
    monoMs: () => performance.now(),
    uptimeSeconds: uptime ? () => Math.ceil((performance.now() + sleptMs) / 1_000) : undefined,
  });
  return { clock, suspend: (ms: number) => sleptMs += ms };
}

for (const uptime of [true, false]) {
  Deno.test(`store: a running store whose machine was suspended 2 minutes (past its 2 s grace and the minute) ${uptime ? "stops when it may read the uptime: onStale, writes refused, no stamp after it, no clean record, and the next start refused" : "is not seen without the uptime (the monotonic clock stops in a suspend): it stamps on"}`, async () => {
    await withTempDir(async (dir) => {
      const grace = 2_000;
      const { clock, suspend } = suspendableClock(uptime);
      const stale: StaleDataDirError[] = [];
      const options = { dataDir: dir, tombstoneGraceMs: grace, aliveClock: clock };
      const store = await Store.open({ ...options, onStale: (error) => stale.push(error) });
      try {
        store.put("kept", int(1));
        await store.commit();
        const suspendedAt = clock.read().wallMs;
        suspend(2 * 60_000);
        if (uptime) await stoppedBySuspend(store, dir, stale, suspendedAt);
        else {
          await waitFor(async () => (await recordIn(dir)).alive! >= suspendedAt + 2 * 60_000, {
            what: "the store to stamp its LOCK after the suspend",
          });
          assert.deepEqual(stale, []);
        }
      } finally {
        // A stale store's close flushes nothing: it rejects with its failure.
        await store.close().catch((error) => assert.ok(uptime && error === stale[0], error));
      }
      assert.equal((await recordIn(dir)).run, uptime ? "open" : "clean");
      if (uptime) await assert.rejects(() => Store.open(options), StaleDataDirError);
    });
  });
}

/**
 * Checks that `store` (of the data dir `dir`), suspended at `suspendedAt` by its wall clock,
 * found it was away: told `stale`, refuses writes, and stamped nothing after it.
 */
async function stoppedBySuspend(
  store: Store,
  dir: string,
  stale: readonly StaleDataDirError[],
  suspendedAt: number,
): Promise<void> {
  await waitFor(() => stale.length > 0, { what: "the store to find it was suspended" });
  assert.match(
    stale[0].message,
    /^data dir .* was out of the cluster for 2 minutes while this server ran \(its process stopped or frozen, its machine suspended, or its disk refusing writes\)/,
  );
  assert.throws(
    () => store.put("refused", int(2)),
    /^StoreFailedError: the server refuses every write: data dir /,
  );
  assert.ok((await recordIn(dir)).alive! <= suspendedAt, "no stamp after the suspend");
}

/** Rewrites the last-alive stamp of the run record in `dir`'s LOCK to `alive`. */
async function stampAt(dir: string, alive: number): Promise<void> {
  const record = await recordIn(dir);
  const lock = await DirLock.tryAcquire(dir);
  assert.ok(lock !== undefined, `${dir} is not held`);
  try {
    await lock.writeRecord(encodeRunRecord({ ...record, alive }));
  } finally {
    lock.release();
  }
}

Deno.test("store: a dir stamped alive longer ago than the grace is refused before anything changes, again at the next start; keepStaleData opens it with a warning and stamps it anew", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ dataDir: dir, fsync: "always" });
    const before = Date.now();
    store.put("kept", int(1));
    await store.commit();
    await store.close();
    assert.ok((await recordIn(dir)).alive! >= before, "the clean stop stamps its moment");
    const longAgo = Date.now() - 2 * DAY_MS;
    await stampAt(dir, longAgo);
    const files = async () => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    const listed = await files();
    for (const attempt of ["first", "second"]) {
      await assert.rejects(
        () => Store.open({ dataDir: dir, onWarning: () => {} }),
        (error: Error) =>
          error instanceof StaleDataDirError &&
          error.message.startsWith(`data dir ${dir} was last alive 2 days ago, longer than`),
        `${attempt} start`,
      );
      assert.equal((await recordIn(dir)).alive, longAgo, `${attempt}: the stamp is untouched`);
      assert.deepEqual(await files(), listed);
    }
    const kept = await Store.open({ dataDir: dir, keepStaleData: true });
    try {
      assert.deepEqual(kept.get("kept"), int(1));
      assert.equal(kept.recovery.warnings.length, 1);
      assert.match(kept.recovery.warnings[0], /as --keep-stale-data asks/);
      assert.ok((await recordIn(dir)).alive! > longAgo, "this run stamped it at its start");
    } finally {
      await kept.close();
    }
  });
});

Deno.test("store: a backup restored without its LOCK is judged by when its logs and snapshots were last written: by cp -a (times kept) of files written 2 days ago it is refused before anything changes, again at the next start and with its LOCK torn, and keepStaleData opens it; by plain cp (times reset) it starts, unrepaired, not judged", async () => {
  await withTempDir(async (root) => {
    const source = `${root}/source`;
    const store = await Store.open({ dataDir: source });
    store.put("kept", int(1));
    await store.commit();
    await store.compact();
    store.put("more", int(2));
    await store.commit();
    await store.close();
    // Written 2 days ago, as a server that stopped then would have left them.
    const longAgo = new Date(Date.now() - 2 * DAY_MS);
    for await (const entry of Deno.readDir(source)) {
      if (/\.(kvlog|kvsnap)$/.test(entry.name)) {
        await Deno.utime(`${source}/${entry.name}`, longAgo, longAgo);
      }
    }
    const restored = async (name: string, cpFlag: string) => {
      const copy = await new Deno.Command("cp", { args: [cpFlag, source, `${root}/${name}`] })
        .output();
      assert.equal(copy.code, 0, new TextDecoder().decode(copy.stderr));
      await Deno.remove(`${root}/${name}/${LOCK_FILE_NAME}`);
      return `${root}/${name}`;
    };
    const kept = await restored("kept", "-a");
    const stamps = async () => {
      const entries = await Array.fromAsync(Deno.readDir(kept));
      const names = entries.map((entry) => entry.name).filter((name) => name !== LOCK_FILE_NAME);
      return await Promise.all(
        names.sort().map(async (name) => `${name} ${(await Deno.stat(`${kept}/${name}`)).mtime}`),
      );
    };
    const listed = await stamps();
    const refusal = `data dir ${kept} holds no readable run record in LOCK (left out of a copy ` +
      "or a restore, deleted, or torn), and its logs and snapshots were last written 2 days ago";
    for (const attempt of ["first", "second", "torn"]) {
      if (attempt === "torn") {
        // The pid field the refused starts left, then a record cut short.
        const lock = await Deno.readFile(`${kept}/${LOCK_FILE_NAME}`);
        const torn = new TextEncoder().encode('{"format":1,"run":"op');
        await Deno.writeFile(
          `${kept}/${LOCK_FILE_NAME}`,
          new Uint8Array([
            ...lock.subarray(0, PID_FIELD_BYTES),
            ...torn,
          ]),
        );
      }
      await assert.rejects(
        () => Store.open({ dataDir: kept, onWarning: () => {} }),
        (error: Error) => error instanceof StaleDataDirError && error.message.startsWith(refusal),
        `${attempt} start`,
      );
      assert.deepEqual(await stamps(), listed, `${attempt}: nothing changed`);
    }
    const opened = await Store.open({ dataDir: kept, keepStaleData: true });
    try {
      assert.deepEqual([opened.get("kept"), opened.get("more")], [int(1), int(2)]);
      assert.match(opened.recovery.warnings.join("\n"), /as --keep-stale-data asks/);
      assert.match(opened.recovery.suspectedLoss ?? "trusted", /^the run record in its LOCK/);
    } finally {
      await opened.close();
    }
    const plain = await Store.open({ dataDir: await restored("plain", "-r") });
    try {
      assert.match(plain.recovery.suspectedLoss ?? "trusted", /^its LOCK file holds no run record/);
      assert.deepEqual(plain.recovery.warnings, []);
    } finally {
      await plain.close();
    }
  });
});

Deno.test("store: a dir stamped alive longer ago than the grace that was never written (one log of its header alone) opens, as it has nothing to bring back; one holding only a tombstone is refused", async () => {
  await withTempDir(async (dir) => {
    await (await Store.open({ dataDir: dir, fsync: "always" })).close();
    await stampAt(dir, Date.now() - 2 * DAY_MS);
    const empty = await Store.open({ dataDir: dir, onWarning: () => {} });
    try {
      assert.deepEqual(empty.recovery.warnings, []);
      empty.delete("gone");
      await empty.commit();
    } finally {
      await empty.close();
    }
    await stampAt(dir, Date.now() - 2 * DAY_MS);
    await assert.rejects(
      () => Store.open({ dataDir: dir, onWarning: () => {} }),
      StaleDataDirError,
    );
  });
});

Deno.test("store: a running store restamps its record's alive while it runs (the interval is aliveStampInterval's, tested above), and a stamp ahead of the clock opens with a warning", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ dataDir: dir, tombstoneGraceMs: 2_000 });
    try {
      // A dir holding nothing is not judged (no stamp could bring anything back).
      store.put("kept", int(1));
      await store.commit();
      const first = (await recordIn(dir)).alive!;
      // Read while the store may be writing it in place: a torn read is read again.
      const advanced = async () => {
        const line = (await Deno.readTextFile(`${dir}/${LOCK_FILE_NAME}`)).slice(PID_FIELD_BYTES);
        const record = decodeRunRecord(line.trimEnd());
        return record !== "unreadable" && record.run === "open" && record.alive! > first;
      };
      await waitFor(advanced, { what: "the stamp to advance" });
    } finally {
      await store.close();
    }
    await stampAt(dir, Date.now() + 2 * DAY_MS);
    const ahead = await Store.open({ dataDir: dir });
    try {
      assert.match(
        ahead.recovery.warnings.join("\n"),
        /is (47 hours|2 days) ahead of this server's clock/,
      );
    } finally {
      await ahead.close();
    }
  });
});

tmpfsTest({
  name:
    "store: a store refusing writes (its disk full) stamps nothing while it does, so a start after it refused them longer than the grace is refused, though its process ran all along",
  short: "store: no alive stamp while refusing writes",
  megabytes: 2,
}, async (mount) => {
  const dir = `${mount}/data`;
  const grace = 2_000;
  const store = await Store.open({
    dataDir: dir,
    tombstoneGraceMs: grace,
    onWarning: () => {},
    onWritableChange: () => {},
  });
  try {
    store.put("kept", int(1));
    await store.commit();
    await assert.rejects(
      Deno.writeFile(`${mount}/ballast`, new Uint8Array(4 * 1024 * 1024)),
      /No space left on device/,
    );
    // Its DELETEs are refused too from here (READ_ONLY): the others' tombstones it misses.
    store.put("refused", str("v".repeat(64 * 1024)));
    await assert.rejects(store.commit(), /No space left on device/);
    const failedAt = Date.now();
    await waitFor(() => Date.now() - failedAt > grace, {
      what: "the grace to pass while the store refuses writes",
    });
    // LOCK is rewritten in place, in a block it has: a full disk did not stop a stamp.
    assert.ok((await recordIn(dir)).alive! <= failedAt, "no stamp while refusing writes");
  } finally {
    await assert.rejects(store.close(), /No space left on device/);
  }
  await Deno.remove(`${mount}/ballast`);
  await assert.rejects(
    () => Store.open({ dataDir: dir, tombstoneGraceMs: grace, onWarning: () => {} }),
    StaleDataDirError,
  );
});
