import assert from "node:assert/strict";
import {
  encodeSnapshot,
  readSnapshot,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
  SNAPSHOT_WRITE_CHUNK_BYTES,
  SnapshotFormatError,
  writeSnapshot,
} from "../../lib/server/snapshot.ts";
import { float, int, object, str, type Value } from "../../lib/record/value.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { withTempDir } from "../helpers/fixtures.ts";

const records: [string, Value][] = [
  ["a", int(-5)],
  ["person1", object([["age", int(22)], ["address", object([["street", str("Main")]])]])],
  ["ünïcødé", float(2.5)],
];

async function readAll(path: string) {
  const read: [string, Value][] = [];
  const info = await readSnapshot(path, (key, value) => read.push([key, decodeValue(value)]));
  return { info, read };
}

Deno.test("snapshot: records written are read back in order with their generation", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/snapshot-00000004.kvsnap`;
    const byteLength = await writeSnapshot(path, encodeSnapshot(4, records));
    assert.equal(byteLength, (await Deno.stat(path)).size);
    const { info, read } = await readAll(path);
    assert.deepEqual(read, records);
    assert.deepEqual(info, { generation: 4, recordCount: 3, byteLength });
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
    assert.equal(info.recordCount, 0);
  });
});

Deno.test("snapshot: a snapshot larger than one write chunk round-trips", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.kvsnap`;
    const many: [string, Value][] = Array.from(
      { length: 5000 },
      (_, index) => [`key${String(index).padStart(5, "0")}`, str("x".repeat(index % 700))],
    );
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
    const live = new Map<string, Value>(records);
    const encoded = encodeSnapshot(5, live.entries());
    live.delete("a");
    live.set("late", int(1));
    assert.equal(encoded.recordCount, 3);
    await writeSnapshot(path, encoded);
    assert.deepEqual((await readAll(path)).read, records);
  });
});
