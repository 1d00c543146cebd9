/**
 * kill -9 against a model: a real `kv server --data-dir` takes puts and deletes through the
 * library while fast-check picks when it is killed (SIGKILL), under which `--fsync`, with
 * values large enough that it writes a snapshot every megabyte or two
 * (`--compact-log-mib 1`), so kills land in snapshots too. After each kill the server is
 * restarted on its dir and everything it holds (records and tombstones, read by
 * LIST_PARTITIONS) is checked against what the clients were told: every acknowledged put
 * is there with its value and version, every acknowledged delete a tombstone of its
 * version, and nothing else but the one write per key still in flight at the kill; and the
 * start after a kill is trusted, warning of nothing but a crash's leftovers. Then the one
 * moment of a compaction such kills found a start distrusting: just after its snapshot's
 * rename.
 *
 * `KV_CRASH_RUNS` and `KV_CRASH_ROUNDS` (default 3 and 4) run the property longer.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { connect, type Kv } from "../../mod.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { formatVersion } from "../../lib/record/version.ts";
import { startServerProcess } from "../helpers/server_process.ts";
import { serverContents } from "../helpers/server_contents.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { CAN_MOUNT, mountSmallTmpfs, unmount } from "../helpers/tmpfs.ts";
import { StorageLog } from "../../lib/server/storage_log.ts";
import { type SnapshotEntry, writeSnapshot } from "../../lib/server/snapshot.ts";

/** Writers, each the only one writing its keys: one write in flight per key. */
const WRITERS = 4;
const KEYS_PER_WRITER = 6;

/** A key's state: absent, deleted at a version, or a value at a version. */
type KeyState =
  | { readonly kind: "absent" }
  | { readonly kind: "deleted"; readonly version: string }
  | { readonly kind: "value"; readonly version: string; readonly value: string };

/** A write sent: its state once applied (a version only once acknowledged). */
type Write =
  | { readonly kind: "deleted"; readonly version?: string }
  | { readonly kind: "value"; readonly version?: string; readonly value: string };

interface KeyModel {
  /** What the key held when last read back (absent at first). */
  known: KeyState;
  /** The last acknowledged write since then. */
  acked?: Write;
  /**
   * The writes since then whose outcome is unknown: the one in flight at the kill, and those
   * a full disk refused (refused, the batch that met the failure had changed memory, and a
   * retry may store it).
   */
  unknown: Write[];
}

const ABSENT: KeyState = { kind: "absent" };

/** A writer's pause after a refused write: a full disk refuses at once, over and over. */
const REFUSED_PAUSE_MS = 10;

/** What a restart after a kill may warn of: a crash's leftovers, no acknowledged write. */
const CRASH_LEFTOVER = new RegExp(
  "recovery: (removed \\S+\\.tmp, left unfinished by a crash|log \\S+: dropped the last \\d+ " +
    "bytes after offset \\d+ \\(an entry (header )?cut short\\); a write torn by a crash, or corruption)$",
);

function keyName(writer: number, index: number): string {
  return `w${writer}k${index}`;
}

/**
 * One kill: `afterMs` after the writes start, or after the server starts writing a snapshot
 * (its temporary file made); under which fsync; how large the large values.
 */
interface Round {
  kill: "after" | "in snapshot";
  afterMs: number;
  fsync: "always" | "interval" | "never";
  bigValueBytes: number;
}

const roundArbitrary: fc.Arbitrary<Round> = fc.oneof(
  fc.record({
    kill: fc.constant("after" as const),
    afterMs: fc.integer({ min: 50, max: 1000 }),
    fsync: fc.constantFrom("always" as const, "interval" as const, "never" as const),
    bigValueBytes: fc.integer({ min: 20_000, max: 120_000 }),
  }),
  fc.record({
    kill: fc.constant("in snapshot" as const),
    afterMs: fc.integer({ min: 0, max: 5 }),
    fsync: fc.constantFrom("always" as const, "interval" as const, "never" as const),
    bigValueBytes: fc.integer({ min: 20_000, max: 120_000 }),
  }),
);

/** Resolves once a snapshot's temporary file is made in `dir` (`watcher` watches it). */
async function snapshotStarted(watcher: Deno.FsWatcher): Promise<void> {
  for await (const event of watcher) {
    if (event.kind === "create" && event.paths.some((path) => path.endsWith(".kvsnap.tmp"))) {
      return;
    }
  }
}

/** Writes through `kv` until `stop` says so; what was acknowledged lands in `model`. */
async function write(
  kv: Kv,
  writer: number,
  model: Map<string, KeyModel>,
  bigValueBytes: number,
  seed: number,
  stopped: () => boolean,
): Promise<number> {
  let random = seed >>> 0;
  const next = () => (random = (Math.imul(random, 1_103_515_245) + 12_345) >>> 0);
  let acks = 0;
  while (!stopped()) {
    const key = keyName(writer, next() % KEYS_PER_WRITER);
    const entry = model.get(key)!;
    const roll = next() % 10;
    const write: Write = roll < 3 ? { kind: "deleted" } : {
      kind: "value",
      value: `${key}#${next()}#${"x".repeat(roll < 6 ? 10 : bigValueBytes)}`,
    };
    try {
      if (write.kind === "deleted") {
        entry.acked = { kind: "deleted", version: (await kv.delete(key)).version };
      } else {
        entry.acked = { ...write, version: (await kv.put(key, write.value)).version };
      }
      // Older than this one, no write before it can win over it.
      entry.unknown = [];
      acks++;
    } catch {
      // Killed, or refused by a full disk: this write's fate is unknown.
      entry.unknown.push(write);
      if (!stopped()) await new Promise((resolve) => setTimeout(resolve, REFUSED_PAUSE_MS));
    }
  }
  return acks;
}

function describe(state: KeyState | Write | undefined): string {
  return JSON.stringify(
    state,
    (key, value) =>
      key === "value" && typeof value === "string" && value.length > 40
        ? `${value.slice(0, 40)}…(${value.length})`
        : value,
  );
}

/** Whether `held` is what `write` leaves (any version newer than `after` when unacknowledged). */
function isOutcome(held: KeyState, write: Write, after: string | undefined): boolean {
  if (held.kind !== write.kind) return false;
  if (write.version !== undefined && held.version !== write.version) return false;
  if (after !== undefined && held.version <= after) return false;
  return write.kind === "deleted" || (held.kind === "value" && held.value === write.value);
}

function check(key: string, entry: KeyModel, held: KeyState): void {
  const base = entry.acked ?? entry.known;
  const baseVersion = base.kind === "absent" ? undefined : base.version;
  const matchesBase = base.kind === "absent"
    ? held.kind === "absent"
    : isOutcome(held, base as Write, undefined);
  const matchesUnknown = entry.unknown.some((write) => isOutcome(held, write, baseVersion));
  assert.ok(
    matchesBase || matchesUnknown,
    `${key}: held ${describe(held)}; acknowledged ${describe(base)}, unknown ` +
      entry.unknown.map(describe).join(", "),
  );
}

/**
 * A kill -9 while the machine stays up loses nothing: a start after one warns of nothing
 * but a crash's leftovers — a snapshot's or a log's temporary file, and the batch the kill
 * cut short mid-write (SIGKILL tears a large write() between pages), which no client was
 * told of.
 */
function assertStartedWithoutLoss(stderrLines: readonly string[]): void {
  const warnings = stderrLines.filter((line) =>
    line.includes("warn") && !CRASH_LEFTOVER.test(line)
  );
  assert.deepEqual(warnings, []);
}

/**
 * Checks what the server at `address` holds against `model` ({@link check}, and no key never
 * written), then makes it what the model knows.
 */
async function checkHeld(
  address: { hostname: string; port: number },
  model: Map<string, KeyModel>,
): Promise<void> {
  const held = await heldStates(address);
  for (const [key, entry] of model) {
    const state = held.get(key) ?? ABSENT;
    check(key, entry, state);
    held.delete(key);
    entry.known = state;
    entry.acked = undefined;
    entry.unknown = [];
  }
  assert.deepEqual([...held.keys()], [], "keys never written");
}

/** A model of the keys of {@link WRITERS} writers, none written yet. */
function newModel(): Map<string, KeyModel> {
  const model = new Map<string, KeyModel>();
  for (let writer = 0; writer < WRITERS; writer++) {
    for (let index = 0; index < KEYS_PER_WRITER; index++) {
      model.set(keyName(writer, index), { known: ABSENT, unknown: [] });
    }
  }
  return model;
}

async function heldStates(address: { hostname: string; port: number }) {
  const held = new Map<string, KeyState>();
  for (const [key, entry] of await serverContents(address)) {
    const version = formatVersion(entry.version);
    if (entry.tombstone) held.set(key, { kind: "deleted", version });
    else {
      const value = decodeValue(entry.encoded!);
      assert.ok(value.kind === "string", `${key} holds a string`);
      held.set(key, { kind: "value", version, value: value.value });
    }
  }
  return held;
}

Deno.test("kv server killed (SIGKILL) at random moments while it takes writes and writes snapshots: every acknowledged put and delete is there with its version, and nothing never written", async () => {
  const runs = Number(Deno.env.get("KV_CRASH_RUNS") ?? "3");
  const rounds = Number(Deno.env.get("KV_CRASH_ROUNDS") ?? "4");
  await fc.assert(
    fc.asyncProperty(
      fc.array(roundArbitrary, { minLength: rounds, maxLength: rounds })
        .filter((plan) => plan.some((round) => round.kill === "in snapshot")),
      fc.integer(),
      async (plan, seed) => {
        await withTempDir(async (dir) => {
          const model = newModel();
          let port = 0;
          let acknowledged = 0;
          for (const [number, round] of plan.entries()) {
            const server = await startServerProcess([
              "--data-dir",
              dir,
              "--fsync",
              round.fsync,
              "--compact-log-mib",
              "1",
              ...(port === 0 ? [] : ["-p", String(port)]),
            ]);
            port = server.port;
            try {
              assertStartedWithoutLoss(server.stderrLines);
              using watcher = Deno.watchFs(dir);
              const kv = await connect({ servers: [server.address], replicas: 1, timeoutMs: 3000 });
              let stop = false;
              const writers = Array.from(
                { length: WRITERS },
                (_, writer) =>
                  write(kv, writer, model, round.bigValueBytes, seed + writer + number, () => stop),
              );
              if (round.kill === "in snapshot") {
                await withDeadline(snapshotStarted(watcher), { what: "a snapshot to start" });
              }
              await new Promise((resolve) => setTimeout(resolve, round.afterMs));
              await server.kill();
              stop = true;
              const acks = await withDeadline(Promise.all(writers), {
                what: "the writers to stop",
              });
              acknowledged += acks.reduce((sum, count) => sum + count, 0);
              kv.close();
              await server.restart();
              assertStartedWithoutLoss(server.stderrLines);
              await checkHeld(server.address, model);
            } finally {
              await server.kill();
            }
          }
          assert.ok(acknowledged > 0, "the writes were acknowledged");
        });
      },
    ),
    { numRuns: runs, endOnFailure: true },
  );
});

/**
 * Writes `dir`/snapshot-`generation` as a compaction would from `log` (every write it holds,
 * as it leaves each key), the log left as it was.
 */
async function snapshotOfLog(log: string, snapshot: string, generation: number): Promise<void> {
  const held = new Map<string, SnapshotEntry>();
  const replayed = await StorageLog.open(log, (entry) => {
    assert.ok(entry.kind !== "purge" && entry.version !== undefined, "puts and deletes only");
    const value = entry.kind === "put" ? decodeValue(entry.encodedValue) : undefined;
    held.set(entry.key, { key: entry.key, value, version: entry.version });
  });
  assert.equal(replayed.replay.truncatedBytes, 0, "the log was closed whole");
  await replayed.log.close();
  const entries = [...held.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  await writeSnapshot(snapshot, generation, entries);
}

Deno.test("kv server killed after a compaction renamed its snapshot into place, before it recorded the snapshot: the restart is trusted, with every acknowledged write (it found none of its recorded files and started unrepaired)", async () => {
  await withTempDir(async (dir) => {
    const server = await startServerProcess(["--data-dir", dir, "--compact-log-mib", "1"]);
    try {
      const kv = await connect({ servers: [server.address], replicas: 1, timeoutMs: 3000 });
      const big = "x".repeat(400_000);
      try {
        await kv.put("before", "a small write, in log 1");
        // The snapshot's name taken by a directory: the compaction stops right before
        // renaming its snapshot into place, where a kill may land.
        await Deno.mkdir(`${dir}/snapshot-0000000002.kvsnap`);
        for (const key of ["big1", "big2", "big3"]) await kv.put(key, big);
        await waitFor(() => server.stderrLines.some((line) => line.includes("compaction failed")), {
          what: "the compaction to stop at the snapshot's rename",
        });
        await kv.put("after", "a write in log 2");
      } finally {
        kv.close();
      }
      await server.kill();
      // Killed right after the rename, it would have left the snapshot in place.
      await Deno.remove(`${dir}/snapshot-0000000002.kvsnap`);
      await snapshotOfLog(
        `${dir}/log-0000000001.kvlog`,
        `${dir}/snapshot-0000000002.kvsnap`,
        2,
      );
      await server.restart();
      assertStartedWithoutLoss(server.stderrLines);
      const held = await heldStates(server.address);
      assert.deepEqual([...held.keys()].sort(), ["after", "before", "big1", "big2", "big3"]);
    } finally {
      await server.kill();
    }
  });
});

/** A disk that fills: how long after it fills it is freed, then how long after it is writable again the kill comes. */
interface DiskRound {
  fsync: "always" | "interval" | "never";
  bigValueBytes: number;
  freeAfterMs: number;
  killAfterMs: number;
}

/** The tmpfs of the full-disk property, in MiB, and how much of it the ballast takes. */
const DISK_MIB = 8;
const BALLAST_MIB = 5;

Deno.test({
  name: CAN_MOUNT
    ? "kv server on a disk that fills, is freed and is killed (SIGKILL): writes refused READ_ONLY, then taken again by themselves, and after the restart every acknowledged put and delete is there with its version, and nothing never written"
    : "kv server on a disk that fills, then killed (ignored: this machine does not allow mounting a small tmpfs)",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const runs = Number(Deno.env.get("KV_CRASH_RUNS") ?? "3");
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          fsync: fc.constantFrom("always" as const, "interval" as const, "never" as const),
          bigValueBytes: fc.integer({ min: 20_000, max: 120_000 }),
          freeAfterMs: fc.integer({ min: 0, max: 300 }),
          killAfterMs: fc.integer({ min: 0, max: 300 }),
        }),
        fc.integer(),
        async (round: DiskRound, seed) => {
          const mount = mountSmallTmpfs(DISK_MIB)!;
          try {
            await diskFullRound(mount, round, seed);
          } finally {
            unmount(mount);
          }
        },
      ),
      { numRuns: runs, endOnFailure: true },
    );
  },
});

/**
 * Fills `mount` under a server's writes, frees it, kills the server once it takes writes
 * again, restarts it (with room to start) and checks it against the model.
 */
async function diskFullRound(mount: string, round: DiskRound, seed: number): Promise<void> {
  const dir = `${mount}/data`;
  const ballast = `${mount}/ballast`;
  const reserve = `${mount}/reserve`;
  await Deno.writeFile(ballast, new Uint8Array(BALLAST_MIB * 1024 * 1024));
  // Freed before the restart, which may need room to cut a torn tail (README).
  await Deno.writeFile(reserve, new Uint8Array(512 * 1024));
  const server = await startServerProcess([
    "--data-dir",
    dir,
    "--fsync",
    round.fsync,
    "--compact-log-mib",
    "1",
  ]);
  try {
    const model = newModel();
    const kv = await connect({ servers: [server.address], replicas: 1, timeoutMs: 3000 });
    let stop = false;
    const writers = Array.from(
      { length: WRITERS },
      (_, writer) => write(kv, writer, model, round.bigValueBytes, seed + writer, () => stop),
    );
    const said = (text: string) => () => server.stderrLines.some((line) => line.includes(text));
    await waitFor(said("cannot write the data dir (No space left on device)"), {
      what: "the disk to fill",
    });
    await new Promise((resolve) => setTimeout(resolve, round.freeAfterMs));
    await Deno.remove(ballast);
    await waitFor(said("the data dir can be written again; accepting writes"), {
      what: "the server to take writes again",
    });
    await new Promise((resolve) => setTimeout(resolve, round.killAfterMs));
    await server.kill();
    stop = true;
    const acks = await withDeadline(Promise.all(writers), { what: "the writers to stop" });
    kv.close();
    assert.ok(acks.some((count) => count > 0), "the writes were acknowledged");
    await Deno.remove(reserve);
    await server.restart();
    assertStartedWithoutLoss(server.stderrLines);
    await checkHeld(server.address, model);
  } finally {
    await server.kill();
  }
}
