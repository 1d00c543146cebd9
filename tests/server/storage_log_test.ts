import assert from "node:assert/strict";
import { ByteWriter, LimitExceededError } from "../../lib/base/bytes.ts";
import fc from "fast-check";
import {
  LOG_HEADER_BYTES,
  type LogEntry,
  LogFormatError,
  MAX_LOG_VALUE_BYTES,
  StorageLog,
} from "../../lib/server/storage_log.ts";
import { decodeValue, encodeValue, OBJECT_END, ValueTag } from "../../lib/record/value_codec.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { BASE_VERSION, type Version } from "../../lib/record/version.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { valueArbitrary, versionArbitrary } from "../helpers/value_arbitrary.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess } from "../helpers/server_process.ts";

/** A mutation as the tests write and compare it: PUT values as Values. */
type Mutation =
  | { readonly kind: "put"; readonly key: string; readonly value: Value; readonly version: Version }
  | { readonly kind: "delete"; readonly key: string; readonly version: Version };

/** A replayed entry as a Mutation (its value decoded while its bytes are still valid). */
function mutationOf(entry: LogEntry): Mutation {
  if (entry.kind === "put") {
    return {
      kind: "put",
      key: entry.key,
      value: decodeValue(entry.encodedValue),
      version: entry.version,
    };
  }
  assert.ok(entry.version !== undefined, "a log of the current format has versions on deletes");
  return { kind: "delete", key: entry.key, version: entry.version };
}

const V1: Version = { ms: 1_733_000_000_000, counter: 0, broker: 1 };
const V2: Version = { ms: 1_733_000_000_000, counter: 1, broker: 0xffff_ffff };

const sampleEntries: Mutation[] = [
  {
    kind: "put",
    key: "person1",
    value: object([["age", int(22)], ["name", str("Mary")]]),
    version: V1,
  },
  { kind: "put", key: "ünïcødé", value: float(1.75), version: BASE_VERSION },
  { kind: "delete", key: "person1", version: V2 },
  {
    kind: "put",
    key: "person2",
    value: object([["address", object([["street", str("Main")]])]]),
    version: V2,
  },
];

function append(log: StorageLog, entries: readonly Mutation[]): void {
  for (const entry of entries) {
    if (entry.kind === "put") log.appendPut(entry.key, encodeValue(entry.value), entry.version);
    else log.appendDelete(entry.key, entry.version);
  }
}

async function replayAll(path: string) {
  const entries: Mutation[] = [];
  const { log, replay } = await StorageLog.open(path, (entry) => entries.push(mutationOf(entry)));
  return { log, replay, entries };
}

/** Writes `entries` to a fresh log and returns its path and each entry's end offset. */
async function writeLog(dir: string, entries: readonly Mutation[]) {
  const path = `${dir}/log-00000001.kvlog`;
  const log = await StorageLog.create(path, 1);
  const ends: number[] = [];
  for (const entry of entries) {
    append(log, [entry]);
    await log.flush();
    ends.push(log.byteLength);
  }
  await log.close();
  return { path, ends };
}

Deno.test("storage log: appended entries replay in order, and appending continues after", async () => {
  await withTempDir(async (dir) => {
    const { path } = await writeLog(dir, sampleEntries);
    const first = await replayAll(path);
    assert.deepEqual(first.entries, sampleEntries);
    assert.equal(first.replay.entryCount, sampleEntries.length);
    assert.equal(first.replay.generation, 1);
    assert.equal(first.replay.truncatedBytes, 0);
    assert.equal(first.replay.warning, undefined);
    first.log.appendDelete("ünïcødé", V1);
    await first.log.close();
    const second = await replayAll(path);
    assert.deepEqual(second.entries, [
      ...sampleEntries,
      { kind: "delete", key: "ünïcødé", version: V1 },
    ]);
    await second.log.close();
  });
});

Deno.test("storage log: a new log replays as empty", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log-00000007.kvlog`;
    await (await StorageLog.create(path, 7)).close();
    const { log, replay, entries } = await replayAll(path);
    assert.deepEqual(entries, []);
    assert.deepEqual(replay, {
      generation: 7,
      formatVersion: 2,
      entryCount: 0,
      byteLength: LOG_HEADER_BYTES,
      truncatedBytes: 0,
      skippedBytes: 0,
      cutWrite: false,
    });
    await log.close();
    await assert.rejects(StorageLog.create(path, 7), /already exists/);
  });
});

Deno.test("storage log: a tail torn at every byte of the last entry is truncated with a warning, and told a write cut short", async () => {
  await withTempDir(async (dir) => {
    const { path, ends } = await writeLog(dir, sampleEntries);
    const whole = await Deno.readFile(path);
    const lastStart = ends[ends.length - 2];
    const tornPath = `${dir}/torn.kvlog`;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      await Deno.writeFile(tornPath, whole.subarray(0, cut));
      const { log, replay, entries } = await replayAll(tornPath);
      await log.close();
      assert.deepEqual(entries, sampleEntries.slice(0, -1), `cut at ${cut}`);
      assert.equal(replay.truncatedBytes, cut - lastStart);
      assert.equal(replay.byteLength, lastStart);
      assert.match(replay.warning ?? "", /dropped the last \d+ bytes .*cut short/);
      assert.ok(replay.cutWrite, `cut at ${cut}: a write the file's end cut short`);
      assert.equal((await Deno.stat(tornPath)).size, lastStart, "file truncated");
    }
  });
});

Deno.test("storage log: after truncating a torn tail, new entries replay after the intact prefix", async () => {
  await withTempDir(async (dir) => {
    const { path, ends } = await writeLog(dir, sampleEntries);
    await Deno.truncate(path, ends[ends.length - 1] - 3);
    const torn = await replayAll(path);
    torn.log.appendPut("fresh", encodeValue(int(1)), V2);
    await torn.log.close();
    const { log, replay, entries } = await replayAll(path);
    await log.close();
    assert.equal(replay.truncatedBytes, 0);
    assert.deepEqual(entries, [
      ...sampleEntries.slice(0, -1),
      { kind: "put", key: "fresh", value: int(1), version: V2 },
    ]);
  });
});

Deno.test("storage log: a corrupted byte anywhere in the last entry truncates that entry, told damage, not a write cut short", async () => {
  await withTempDir(async (dir) => {
    const { path, ends } = await writeLog(dir, sampleEntries);
    const whole = await Deno.readFile(path);
    const lastStart = ends[ends.length - 2];
    const corruptPath = `${dir}/corrupt.kvlog`;
    for (let index = lastStart; index < whole.length; index++) {
      const corrupt = whole.slice();
      corrupt[index] ^= 0x20;
      await Deno.writeFile(corruptPath, corrupt);
      const { log, replay, entries } = await replayAll(corruptPath);
      await log.close();
      assert.deepEqual(entries, sampleEntries.slice(0, -1), `corrupt byte ${index}`);
      assert.equal(replay.truncatedBytes, whole.length - lastStart);
      assert.ok(replay.warning);
      assert.ok(!replay.cutWrite, `corrupt byte ${index}: damage, no write cut short`);
    }
  });
});

Deno.test("storage log: damage in the middle skips only the damaged entry and keeps the file", async () => {
  await withTempDir(async (dir) => {
    const { path, ends } = await writeLog(dir, sampleEntries);
    const whole = await Deno.readFile(path);
    const damagedPath = `${dir}/damaged.kvlog`;
    // Every byte of every entry but the last: only that entry may be lost.
    for (let entry = 0; entry < sampleEntries.length - 1; entry++) {
      const entryStart = entry === 0 ? LOG_HEADER_BYTES : ends[entry - 1];
      for (let index = entryStart; index < ends[entry]; index++) {
        const damaged = whole.slice();
        damaged[index] ^= 0x20;
        await Deno.writeFile(damagedPath, damaged);
        const { log, replay, entries } = await replayAll(damagedPath);
        await log.close();
        const expected = sampleEntries.filter((_, position) => position !== entry);
        assert.deepEqual(entries, expected, `damaged byte ${index} of entry ${entry}`);
        assert.equal(replay.truncatedBytes, 0);
        assert.equal(replay.skippedBytes, ends[entry] - entryStart);
        assert.match(replay.warning ?? "", /skipped \d+ damaged bytes at offset \d+/);
        assert.deepEqual(await Deno.readFile(damagedPath), damaged, "the file is left as it was");
      }
    }
  });
});

/** The bytes of one whole log entry of `entry`, as a log file holds it. */
async function entryBytes(dir: string, entry: Mutation): Promise<Uint8Array> {
  const path = `${dir}/entry.kvlog`;
  const log = await StorageLog.create(path, 1);
  append(log, [entry]);
  await log.close();
  const bytes = (await Deno.readFile(path)).subarray(LOG_HEADER_BYTES);
  await Deno.remove(path);
  return bytes;
}

Deno.test("storage log: a write whose value holds the bytes of whole entries, torn by a crash or damaged, is cut off or skipped whole, never replayed as those entries", async () => {
  await withTempDir(async (dir) => {
    // Entries of a key never written, at a version years ahead (it would win every
    // replica's last-write-wins, and repair would copy it everywhere), and a tombstone of
    // a key written: a client that may store a string may store these bytes.
    const far = (counter: number): Version => ({ ms: 0x0200_0000_0000, counter, broker: 0x7f });
    const forged = [
      { kind: "put", key: "forged", value: str("never written"), version: far(0) },
      { kind: "delete", key: "person2", version: far(0) },
    ] satisfies Mutation[];
    let text = "";
    for (const entry of forged) {
      // A version whose entry's bytes (its checksum's too) are all ASCII: a string's.
      let bytes = await entryBytes(dir, entry);
      for (let counter = 1; bytes.some((byte) => byte >= 0x80); counter++) {
        bytes = await entryBytes(dir, { ...entry, version: far(counter) });
      }
      text += new TextDecoder().decode(bytes);
    }
    const torn: Mutation = {
      kind: "put",
      key: "innocent",
      value: str(`${text}${"x".repeat(64)}`),
      version: V2,
    };
    const { path, ends } = await writeLog(dir, [...sampleEntries, torn]);
    const whole = await Deno.readFile(path);
    const tornStart = ends[ends.length - 2];
    const tornPath = `${dir}/torn.kvlog`;
    // Cut anywhere after the forged entries: the write that carried them was torn by a crash.
    for (let cut = whole.length - 64; cut < whole.length; cut++) {
      await Deno.writeFile(tornPath, whole.subarray(0, cut));
      const { log, replay, entries } = await replayAll(tornPath);
      await log.close();
      assert.deepEqual(entries, sampleEntries, `cut at ${cut}`);
      assert.equal(replay.byteLength, tornStart, `cut at ${cut}`);
      assert.equal(replay.skippedBytes, 0);
      assert.match(replay.warning ?? "", /dropped the last \d+ bytes .*cut short/);
    }
    // Damaged in the middle (any one byte flipped, its length's too): skipped whole.
    const after: Mutation = { kind: "delete", key: "ünïcødé", version: V2 };
    await Deno.remove(path);
    const middle = await writeLog(dir, [...sampleEntries, torn, after]);
    const intact = await Deno.readFile(middle.path);
    const damagedPath = `${dir}/damaged.kvlog`;
    for (let index = tornStart; index < middle.ends.at(-2)!; index++) {
      const damaged = intact.slice();
      damaged[index] ^= 0x20;
      await Deno.writeFile(damagedPath, damaged);
      const { log, replay, entries } = await replayAll(damagedPath);
      await log.close();
      assert.deepEqual(entries, [...sampleEntries, after], `damaged byte ${index}`);
      assert.equal(replay.skippedBytes, middle.ends.at(-2)! - tornStart, `damaged byte ${index}`);
    }
  });
});

Deno.test("storage log: a file that is not a kv log is refused and left untouched", async () => {
  await withTempDir(async (dir) => {
    const { path } = await writeLog(dir, sampleEntries);
    const whole = await Deno.readFile(path);
    const cases: [string, Uint8Array, RegExp][] = [
      ["wrong magic", new TextEncoder().encode("person1: not a log at all, just text\n"), /magic/],
      ["empty", new Uint8Array(0), /shorter than/],
      ["short header", whole.subarray(0, LOG_HEADER_BYTES - 1), /shorter than/],
      ["future version", Uint8Array.from(whole, (byte, i) => i === 9 ? 3 : byte), /version 3/],
    ];
    for (const [name, bytes, message] of cases) {
      const foreignPath = `${dir}/${name}.kvlog`;
      await Deno.writeFile(foreignPath, bytes);
      await assert.rejects(StorageLog.open(foreignPath, () => {}), (error) => {
        assert.ok(error instanceof LogFormatError, name);
        assert.match(error.message, message);
        return true;
      });
      assert.deepEqual(await Deno.readFile(foreignPath), bytes, `${name} left untouched`);
    }
  });
});

Deno.test("storage log: entries appended while a flush is writing go out with the next flush", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log-00000001.kvlog`;
    const log = await StorageLog.create(path, 1);
    append(log, sampleEntries.slice(0, 2));
    const flushing = log.flush();
    append(log, sampleEntries.slice(2));
    await flushing;
    assert.ok(log.pendingBytes > 0);
    const afterFirst = await replayAll(path);
    await afterFirst.log.close();
    assert.deepEqual(afterFirst.entries, sampleEntries.slice(0, 2));
    await log.flush();
    assert.equal(log.pendingBytes, 0);
    await log.close();
    assert.deepEqual((await replayAll(path)).entries, sampleEntries);
  });
});

Deno.test("storage log: an oversized value is refused before anything is buffered", async () => {
  await withTempDir(async (dir) => {
    const log = await StorageLog.create(`${dir}/log-00000001.kvlog`, 1);
    assert.throws(
      () => log.appendPut("big", new Uint8Array(MAX_LOG_VALUE_BYTES + 1), V1),
      LimitExceededError,
    );
    assert.throws(() => log.appendDelete("k".repeat(2000), V1), LimitExceededError);
    assert.equal(log.pendingBytes, 0);
    await log.close();
  });
});

const entryArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.string(), valueArbitrary(), versionArbitrary()).map((
    [key, value, version],
  ): Mutation => ({
    kind: "put",
    key,
    value,
    version,
  })),
  fc.tuple(fc.string(), versionArbitrary()).map(([key, version]): Mutation => ({
    kind: "delete",
    key,
    version,
  })),
);

Deno.test("storage log: any sequence of entries, flushed in any batches, replays exactly", async () => {
  await withTempDir(async (dir) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(entryArbitrary, { maxLength: 5 }), { maxLength: 5 }),
        async (batches) => {
          const path = `${dir}/log-${++run}.kvlog`;
          const log = await StorageLog.create(path, run);
          for (const batch of batches) {
            append(log, batch);
            await log.flush();
          }
          await log.close();
          const replayed = await replayAll(path);
          await replayed.log.close();
          assert.deepEqual(replayed.entries, batches.flat());
        },
      ),
      { numRuns: 60 },
    );
  });
});

tmpfsTest({
  name:
    "storage log: a flush that fails on a full disk cuts off the part it wrote and keeps its bytes; the next one writes them all, as if the first had succeeded",
  short: "storage log: a flush retried after a full disk",
  megabytes: 1,
}, async (mount) => {
  const path = `${mount}/log-0000000001.kvlog`;
  const log = await StorageLog.create(path, 1);
  const ballast = `${mount}/ballast`;
  await Deno.writeFile(ballast, new Uint8Array(512 * 1024));
  const value = (index: number) => encodeValue(str(`${index}:`.padEnd(64 * 1024, "v")));
  for (let index = 0; index < 10; index++) {
    log.appendPut(`k${index}`, value(index), BASE_VERSION);
  }
  await assert.rejects(log.flush(), /No space left on device/);
  // Whatever part was written is cut off at once: no torn tail stays on disk.
  assert.equal((await Deno.stat(path)).size, LOG_HEADER_BYTES);
  assert.equal(log.byteLength, LOG_HEADER_BYTES);
  // Appended while the disk is full: kept after the failed bytes.
  log.appendDelete("k0", BASE_VERSION);
  await Deno.remove(ballast);
  await log.flush();
  await log.close();
  const entries: LogEntry[] = [];
  const { log: reopened, replay } = await StorageLog.open(path, (entry) => {
    entries.push(
      entry.kind === "put" ? { ...entry, encodedValue: entry.encodedValue.slice() } : entry,
    );
  });
  await reopened.close();
  assert.equal(replay.warning, undefined);
  assert.deepEqual(
    entries.map((entry) => [entry.kind, entry.key]),
    [...Array.from({ length: 10 }, (_, index) => ["put", `k${index}`]), ["delete", "k0"]],
  );
  entries.slice(0, 10).forEach((entry, index) => {
    assert.ok(entry.kind === "put");
    assert.deepEqual(entry.encodedValue, value(index));
  });
});

tmpfsTest({
  name:
    "storage log: closed while the disk is full, a log keeps only its whole entries: a reopen finds no torn tail",
  short: "storage log: closed on a full disk",
  megabytes: 1,
}, async (mount) => {
  const path = `${mount}/log-0000000001.kvlog`;
  const log = await StorageLog.create(path, 1);
  log.appendPut("kept", encodeValue(str("stored")), BASE_VERSION);
  await log.flush();
  const durable = log.byteLength;
  await Deno.writeFile(`${mount}/ballast`, new Uint8Array(768 * 1024));
  for (let index = 0; index < 10; index++) {
    log.appendPut(`k${index}`, encodeValue(str("v".repeat(64 * 1024))), BASE_VERSION);
  }
  await assert.rejects(log.close(), /No space left on device/);
  assert.equal((await Deno.stat(path)).size, durable);
  const keys: string[] = [];
  const { log: reopened, replay } = await StorageLog.open(path, (entry) => keys.push(entry.key));
  await reopened.close();
  assert.equal(replay.warning, undefined);
  assert.equal(replay.truncatedBytes, 0);
  assert.deepEqual(keys, ["kept"]);
});

tmpfsTest({
  name:
    "storage log: a log that cannot be created on a full disk leaves no temporary file for a start to take for a crash's",
  short: "storage log: created on a full disk",
  megabytes: 1,
}, async (mount) => {
  await Deno.writeFile(`${mount}/ballast`, new Uint8Array(1024 * 1024)).catch(() => {});
  const path = `${mount}/log-0000000002.kvlog`;
  await assert.rejects(StorageLog.create(path, 2), /No space left on device/);
  assert.deepEqual([...Deno.readDirSync(mount)].map((entry) => entry.name), ["ballast"]);
});

/**
 * The encoding (value_codec) of an object of `fieldCount` floats, built straight into bytes:
 * as many Values would take hundreds of MiB. Its float bytes look like anything, also like
 * entry lengths a replay's search for the next intact entry must check.
 */
function encodedFloatObject(fieldCount: number): Uint8Array {
  const writer = new ByteWriter();
  writer.u8(ValueTag.object);
  let seed = 1;
  for (let index = 0; index < fieldCount; index++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    writer.varintString(`f${index}`);
    writer.u8(ValueTag.float);
    writer.f64(seed * 1e-3);
  }
  writer.u8(OBJECT_END);
  return writer.bytes();
}

Deno.test("storage log: kv server starts on a log whose torn tail is most of an entry of 15 MiB of floats", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log-0000000001.kvlog`;
    const log = await StorageLog.create(path, 1);
    log.appendPut("kept", encodeValue(str("stored")), BASE_VERSION);
    const value = encodedFloatObject(950_000);
    assert.ok(value.length > 15 * 1024 * 1024 && value.length <= MAX_LOG_VALUE_BYTES);
    log.appendPut("big", value, BASE_VERSION);
    await log.close();
    // A crash took the last 4 KiB: the search for an intact entry after the damage checked
    // the lengths its bytes spelled, a checksum over up to 16 MiB at one in every few hundred
    // of them, and the start took many minutes, saying nothing.
    const torn = (await Deno.stat(path)).size - 4096;
    await Deno.truncate(path, torn);
    await using server = await startServerProcess(["--data-dir", dir]);
    assert.ok(
      server.stderrLines.some((line) =>
        /dropped the last \d+ bytes after offset \d+ \(an entry cut short\)/.test(line)
      ),
      server.stderrLines.join("\n"),
    );
    const client = await connectClient(server.address);
    assert.deepEqual((await client.get("kept")).value, str("stored"));
    assert.equal((await client.get("big")).value, undefined);
    await client.close();
  });
});
