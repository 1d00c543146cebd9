import assert from "node:assert/strict";
import {
  encodeSnapshot,
  readSnapshot,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
  SNAPSHOT_WRITE_CHUNK_BYTES,
  type SnapshotEntry,
  SnapshotFormatError,
  writeSnapshot,
} from "../../lib/server/snapshot.ts";
import { float, int, object, str } from "../../lib/record/value.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { BASE_VERSION } from "../../lib/record/version.ts";
import { withTempDir } from "../helpers/fixtures.ts";

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
    const byteLength = await writeSnapshot(path, encodeSnapshot(4, records));
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
      await writeSnapshot(path, encodeSnapshot(1, [])),
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
    const byteLength = await writeSnapshot(path, encodeSnapshot(9, many));
    assert.ok(byteLength > SNAPSHOT_WRITE_CHUNK_BYTES);
    const { read } = await readAll(path);
    assert.deepEqual(read, many);
  });
});

Deno.test("snapshot: writing replaces an existing file of the same name atomically", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    await writeSnapshot(path, encodeSnapshot(1, records));
    await writeSnapshot(path, encodeSnapshot(2, records.slice(0, 1)));
    const { info, read } = await readAll(path);
    assert.equal(info.generation, 2);
    assert.deepEqual(read, records.slice(0, 1));
  });
});

Deno.test("snapshot: every truncation and every corrupted byte is refused", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    await writeSnapshot(path, encodeSnapshot(1, records));
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

Deno.test("snapshot: encoding consumes the records at once, so later changes are not written", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    const live = new Map(records.map((entry) => [entry.key, entry]));
    const encoded = encodeSnapshot(5, live.values());
    live.delete("a");
    live.set("late", { key: "late", value: int(1), version: BASE_VERSION });
    assert.equal(encoded.entryCount, 4);
    await writeSnapshot(path, encoded);
    assert.deepEqual((await readAll(path)).read, records);
  });
});
