/**
 * Protocol version 4's requests for replication, over real sockets: HELLO's node state,
 * SET_K, MARK_REPAIRED and DELETE's purge flag, against in-process servers and a
 * `kv server` process that restarts on its data dir.
 */
import assert from "node:assert/strict";
import { ServerError } from "../../lib/protocol/client.ts";
import {
  ErrorCode,
  MessageType,
  PARTITION_BITMAP_BYTES,
  type PartitionEntry,
  TOMBSTONE_PURGE_AGE_MS,
} from "../../lib/protocol/mod.ts";
import { decodePartitionDigestsBody, decodeResponse } from "../../lib/protocol/messages.ts";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { compareKeys } from "../../lib/base/utf8.ts";
import { PARTITION_COUNT, partitionOf } from "../../lib/record/partition.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { type ModelEntry, referenceDigests } from "../helpers/digests.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { Store } from "../../lib/server/store.ts";
import { int, str } from "../../lib/record/value.ts";
import { RawConnection, startServer } from "../helpers/in_process_server.ts";
import { connectClient } from "../helpers/client.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { at, nextVersion } from "../helpers/versions.ts";
import { LIST_CHANGE_UNDER_WAY, NO_LIST } from "../../lib/protocol/mod.ts";

/** The fingerprint of a server list the servers here are marked repaired under. */
const LIST = new Uint8Array(16).fill(7);

Deno.test("HELLO tells the node state; SET_K and MARK_REPAIRED change it for this client and the next connection", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  try {
    assert.deepEqual(client.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    assert.equal(await client.setK(2), 2);
    assert.equal(await client.setK(3), 2, "another k is kept, and the caller sees which");
    assert.deepEqual(client.state, { unrepaired: true, k: 2, repairedUnder: NO_LIST });
    await client.markRepaired(LIST, client.state.repairedUnder);
    assert.deepEqual(client.state, { unrepaired: false, k: 2, repairedUnder: LIST });
    const other = await connectClient(address);
    assert.deepEqual(other.state, { unrepaired: false, k: 2, repairedUnder: LIST });
    assert.equal(await other.setK(3, { replace: true }), 3);
    await other.close();
    const third = await connectClient(address);
    assert.deepEqual(third.state, { unrepaired: false, k: 3, repairedUnder: LIST });
    await third.close();
  } finally {
    await client.close();
    await stop();
  }
});

Deno.test("MARK_REPAIRED is a compare-and-set: expecting another mark than the server holds it is refused MARK_CHANGED with the mark held, changing nothing and closing nothing; ff…ff is applied whatever the mark; the mark held already is an OK", async () => {
  const { address, stop } = await startServer();
  // `repair` read the server unrepaired before `change` re-marked it (S27's F1).
  const repair = await connectClient(address);
  const change = await connectClient(address);
  const newList = new Uint8Array(16).fill(9);
  try {
    await change.markRepaired(LIST_CHANGE_UNDER_WAY, change.state.repairedUnder);
    assert.deepEqual(
      repair.state.repairedUnder,
      NO_LIST,
      "an unrepaired server's mark closes nothing",
    );
    const refused = await repair.markRepaired(LIST, NO_LIST).then(() => undefined, (e) => e);
    assert.ok(refused instanceof ServerError, String(refused));
    assert.equal(refused.code, ErrorCode.MARK_CHANGED);
    assert.equal(refused.message, `MARK_CHANGED: ${"f".repeat(32)}`);
    assert.equal(typeof await repair.ping(), "number", "the refusal closes no connection");
    const look = await connectClient(address);
    assert.deepEqual(look.state.repairedUnder, LIST_CHANGE_UNDER_WAY, "nothing changed");
    await look.close();
    // The change's end, expecting its own ff…ff: applied.
    await change.markRepaired(newList, LIST_CHANGE_UNDER_WAY);
    const late = await connectClient(address);
    // Already the mark asked: an OK that changes nothing, whatever was expected.
    await late.markRepaired(newList, NO_LIST);
    // ff…ff takes trust away: applied whatever was expected.
    await late.markRepaired(LIST_CHANGE_UNDER_WAY, NO_LIST);
    assert.deepEqual(late.state.repairedUnder, LIST_CHANGE_UNDER_WAY);
    await late.close();
  } finally {
    await repair.close();
    await change.close();
    await stop();
  }
});

Deno.test("SET_K with k 0 or unknown flags is BAD_REQUEST, and the connection carries on", async () => {
  const { address, stop } = await startServer();
  const raw = await RawConnection.open(address);
  try {
    const frames = new FrameWriter();
    frames.frame(MessageType.SET_K, 2, Uint8Array.of(0, 0));
    frames.frame(MessageType.SET_K, 3, Uint8Array.of(0x80, 2));
    frames.frame(MessageType.MARK_REPAIRED, 4, Uint8Array.of(1));
    frames.setK(5, 2, false);
    await raw.write(frames.bytes());
    for (const id of [2, 3, 4]) {
      const answer = await raw.readFrame();
      assert.equal(answer?.type, MessageType.ERROR, `request ${id}`);
      assert.equal(answer?.requestId, id);
    }
    const ok = await raw.readFrame();
    assert.deepEqual([ok?.type, ok?.requestId, [...ok!.body]], [MessageType.OK, 5, [2]]);
  } finally {
    raw.close();
    await stop();
  }
});

Deno.test("DELETE purge removes a record or a tombstone entirely; NOT_FOUND when nothing is held; STALE against a newer version", async () => {
  const { address, stop, store } = await startServer();
  const client = await connectClient(address);
  try {
    const written = at();
    await client.put("a", int(1), written);
    // Older than the record: refused with the version held, the record stays.
    const older = { ms: written.version.ms - 1, counter: 0, broker: 1 };
    assert.deepEqual(await client.delete("a", { version: older, purge: true }), {
      kind: "stale",
      version: written.version,
    });
    assert.deepEqual(await client.delete("a", { version: older, purge: true, repair: true }), {
      kind: "deleted",
      existed: true,
    }, "a stale repair purge is acknowledged");
    assert.equal(store.has("a"), true);
    // Equal version: removed, version and all.
    assert.deepEqual(await client.delete("a", { ...written, purge: true }), {
      kind: "deleted",
      existed: true,
    });
    assert.equal(store.versionOf("a"), undefined);
    assert.deepEqual(await client.delete("a", { version: nextVersion(), purge: true }), {
      kind: "deleted",
      existed: false,
    });
    // A tombstone goes the same way, and an older write may then store the key again.
    const deleted = at();
    await client.delete("b", deleted);
    assert.equal(store.tombstoneCount, 1);
    assert.deepEqual(await client.delete("b", { version: nextVersion(), purge: true }), {
      kind: "deleted",
      existed: true,
    });
    assert.equal(store.tombstoneCount, 0);
    assert.equal(store.versionOf("b"), undefined);
  } finally {
    await client.close();
    await stop();
  }
});

Deno.test("an aged DELETE purge removes only a tombstone 20 minutes old by the server's clock: a younger one, a record and a newer version are STALE and kept, nothing held NOT_FOUND; aged without purge is BAD_REQUEST", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  try {
    const now = Date.now();
    const old = { ms: now - TOMBSTONE_PURGE_AGE_MS - 60_000, counter: 0, broker: 7 };
    // Seconds old by the server's clock, though a repair host an hour ahead would call it old.
    const young = { ms: now - 5_000, counter: 0, broker: 7 };
    const aged = (version: typeof old) => ({ version, purge: true, aged: true });
    await client.delete("gone", { version: old, repair: true });
    await client.delete("fresh", { version: young });
    await client.put("live", int(1), { version: old, repair: true });
    const ahead = { ms: now + 3_600_000, counter: 0, broker: 7 };
    assert.deepEqual(await client.delete("fresh", aged(ahead)), { kind: "stale", version: young });
    assert.deepEqual(await client.delete("live", aged(ahead)), { kind: "stale", version: old });
    const older = { ...old, ms: old.ms - 1 };
    assert.deepEqual(await client.delete("gone", aged(older)), { kind: "stale", version: old });
    assert.deepEqual(await client.delete("gone", aged(ahead)), { kind: "deleted", existed: true });
    assert.deepEqual(await client.delete("gone", aged(ahead)), { kind: "deleted", existed: false });
    assert.deepEqual(
      (await client.getEncoded("fresh")).version,
      young,
      "the young tombstone stays",
    );
    assert.deepEqual((await client.get("live")).value, int(1), "the record stays");
    assert.equal((await client.getEncoded("gone")).version, undefined, "nothing left of gone");
  } finally {
    await client.close();
  }
  const raw = await RawConnection.open(address);
  try {
    const frames = new FrameWriter();
    frames.delete(2, "gone", at({ aged: true }));
    await raw.write(frames.bytes());
    const answer = decodeResponse((await raw.readFrame())!);
    assert.equal(answer.type === "error" ? answer.code : answer.type, ErrorCode.BAD_REQUEST);
  } finally {
    raw.close();
    await stop();
  }
});

Deno.test("a purge is durable: a kv server process restarted on its data dir does not bring the key back, and keeps k and the repaired flag", async () => {
  await withTempDir(async (dir) => {
    let server = await startServerProcess(["--data-dir", dir]);
    let client = await connectClient(server.address);
    try {
      assert.deepEqual(
        client.state,
        { unrepaired: true, k: 0, repairedUnder: NO_LIST },
        "a new data dir",
      );
      const kept = at();
      await client.put("kept", int(1), kept);
      const purged = at();
      await client.put("purged", int(2), purged);
      const gone = at();
      await client.delete("tombstoned", gone);
      await client.delete("purged", { ...purged, purge: true });
      await client.delete("tombstoned", { ...gone, purge: true });
      assert.equal(await client.setK(2), 2);
      await client.markRepaired(LIST, client.state.repairedUnder);
    } finally {
      await client.close();
      assert.equal((await stopWithin(server)).code, 0);
    }
    server = await startServerProcess(["--data-dir", dir]);
    client = await connectClient(server.address);
    try {
      assert.deepEqual(client.state, { unrepaired: false, k: 2, repairedUnder: LIST });
      assert.equal((await client.get("kept")).value?.kind, "int");
      assert.deepEqual(await client.get("purged"), { value: undefined, version: undefined });
      assert.deepEqual(await client.get("tombstoned"), { value: undefined, version: undefined });
    } finally {
      await client.close();
      assert.equal((await stopWithin(server)).code, 0);
    }
  });
});

Deno.test("a purge replayed from the log after a snapshot leaves nothing; the snapshot simply lacks a purged key", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ dataDir: dir, onWarning: () => {} });
    const a = nextVersion();
    store.put("a", int(1), { version: a });
    store.put("b", int(2), { version: nextVersion() });
    assert.deepEqual(store.purge("a", a), { kind: "purged" });
    await store.compact();
    const b = store.versionOf("b")!;
    assert.deepEqual(store.purge("b", b), { kind: "purged" });
    await store.close();
    const reopened = await Store.open({ dataDir: dir, onWarning: () => {} });
    assert.equal(reopened.versionOf("a"), undefined);
    assert.equal(reopened.versionOf("b"), undefined);
    assert.equal(reopened.recordCount + reopened.tombstoneCount, 0);
    await reopened.close();
  });
});

Deno.test("a purge to a server that cannot write is refused with READ_ONLY, like any write", async () => {
  const store = await Store.open();
  const { address, stop } = await startServer({ store });
  const client = await connectClient(address);
  try {
    await client.put("a", int(1), at());
    await store.close();
    await assert.rejects(
      client.delete("a", { version: nextVersion(), purge: true }),
      (error) => error instanceof ServerError && error.code !== ErrorCode.BAD_REQUEST,
    );
  } finally {
    await client.close();
    await stop();
  }
});

/** A bitmap wanting exactly `partitions`. */
function bitmapOf(partitions: Iterable<number>): Uint8Array {
  const wanted = new Uint8Array(PARTITION_BITMAP_BYTES);
  for (const partition of partitions) wanted[partition >> 3] |= 1 << (partition & 7);
  return wanted;
}

Deno.test("PARTITION_DIGESTS answers every partition's entry count, tombstone count and digest, as the store keeps them", async () => {
  const { address, stop, store } = await startServer();
  const client = await connectClient(address);
  try {
    const model = new Map<string, ModelEntry>();
    for (let index = 0; index < 200; index++) {
      const written = at();
      await client.put(`key${index}`, int(index), written);
      model.set(`key${index}`, { version: written.version, tombstone: false });
    }
    const deleted = at();
    await client.delete("key7", deleted);
    model.set("key7", { version: deleted.version, tombstone: true });
    const held = model.get("key8")!.version;
    await client.delete("key8", { version: held, purge: true });
    model.delete("key8");
    const { counts, tombstones, digests } = await client.partitionDigests();
    const expected = referenceDigests(model);
    assert.deepEqual([...counts], expected.counts);
    assert.deepEqual([...tombstones], expected.tombstones);
    assert.equal(tombstones.reduce((sum, count) => sum + count, 0), 1);
    assert.deepEqual([...digests], expected.digests);
    assert.equal(counts.reduce((sum, count) => sum + count, 0), 199);
    assert.equal(digests[0], store.partitionDigests.digest(0));
  } finally {
    await client.close();
    await stop();
  }
});

Deno.test("LIST_PARTITIONS pages through the wanted partitions' records and tombstones in key order, with values only when asked", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  try {
    const keys = Array.from({ length: 300 }, (_, index) => `key${index}`);
    for (const key of keys) await client.put(key, int(key.length), at());
    for (const key of keys.slice(0, 40)) await client.delete(key, at());
    const wantedPartitions = new Set(keys.slice(0, 120).map(partitionOf));
    const expected = keys
      .filter((key) => wantedPartitions.has(partitionOf(key)))
      .sort(compareKeys);
    const wanted = bitmapOf(wantedPartitions);
    for (const values of [false, true]) {
      const listed: PartitionEntry[] = [];
      let after: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const answer = await client.listPartitions(wanted, { limit: 7, after, values });
        listed.push(...answer.entries);
        assert.ok(answer.entries.length <= 7);
        if (!answer.more) break;
        after = answer.entries.at(-1)!.key;
      }
      assert.deepEqual(listed.map((entry) => entry.key), expected);
      for (const entry of listed) {
        const deleted = keys.indexOf(entry.key) < 40;
        assert.equal(entry.tombstone, deleted, entry.key);
        assert.deepEqual(entry.version, (await client.get(entry.key)).version ?? entry.version);
        if (!values || deleted) assert.equal(entry.encoded, undefined);
        else assert.deepEqual(entry.encoded, encodeValue(int(entry.key.length)));
      }
    }
    // Nothing wanted, nothing listed.
    assert.deepEqual(
      await client.listPartitions(new Uint8Array(PARTITION_BITMAP_BYTES), { limit: 10 }),
      { entries: [], more: false },
    );
  } finally {
    await client.close();
    await stop();
  }
});

Deno.test("LIST_PARTITIONS stops at its byte budget with more set, one entry at least, and paging still reaches every key", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  try {
    const big = str("x".repeat(400 * 1024));
    const keys = Array.from({ length: 8 }, (_, index) => `big${index}`).sort(compareKeys);
    for (const key of keys) await client.put(key, big, at());
    const wanted = bitmapOf(keys.map(partitionOf));
    const first = await client.listPartitions(wanted, { limit: 100, values: true });
    assert.equal(first.more, true);
    assert.ok(first.entries.length >= 1 && first.entries.length < keys.length);
    const listed = [...first.entries];
    let answer = first;
    while (answer.more) {
      answer = await client.listPartitions(wanted, {
        limit: 100,
        values: true,
        after: listed.at(-1)!.key,
      });
      listed.push(...answer.entries);
    }
    assert.deepEqual(listed.map((entry) => entry.key), keys);
    assert.ok(listed.every((entry) => entry.encoded?.length === encodeValue(big).length));
  } finally {
    await client.close();
    await stop();
  }
});

Deno.test("LIST_PARTITIONS refuses a limit out of range, a bad after key and a short bitmap; the client refuses them before sending", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  const raw = await RawConnection.open(address);
  try {
    const wanted = new Uint8Array(PARTITION_BITMAP_BYTES);
    await assert.rejects(client.listPartitions(wanted, { limit: 0 }), RangeError);
    await assert.rejects(client.listPartitions(wanted, { limit: 10_001 }), RangeError);
    await assert.rejects(client.listPartitions(new Uint8Array(10), { limit: 1 }), RangeError);
    await assert.rejects(client.listPartitions(wanted, { limit: 1, after: "a.b" }), RangeError);
    const body = (flags: number, limit: number, after: string, bitmapBytes: number) => {
      const writer = new ByteWriter();
      writer.u8(flags);
      writer.u32(limit);
      writer.string(after);
      writer.raw(new Uint8Array(bitmapBytes));
      return writer.bytes().slice();
    };
    const frames = new FrameWriter();
    frames.frame(MessageType.LIST_PARTITIONS, 2, body(0, 0, "", PARTITION_BITMAP_BYTES));
    frames.frame(MessageType.LIST_PARTITIONS, 3, body(0, 10_001, "", PARTITION_BITMAP_BYTES));
    frames.frame(MessageType.LIST_PARTITIONS, 4, body(0, 5, "", 100));
    frames.frame(MessageType.LIST_PARTITIONS, 5, body(0x02, 5, "", PARTITION_BITMAP_BYTES));
    frames.frame(MessageType.LIST_PARTITIONS, 6, body(0, 5, "a.b", PARTITION_BITMAP_BYTES));
    frames.partitionDigests(7);
    await raw.write(frames.bytes());
    const codes = [];
    for (let id = 2; id <= 6; id++) {
      const answer = decodeResponse((await raw.readFrame())!);
      assert.equal(answer.requestId, id);
      codes.push(answer.type === "error" ? answer.code : answer.type);
    }
    assert.deepEqual(codes, [
      ErrorCode.BAD_REQUEST,
      ErrorCode.LIMIT,
      ErrorCode.BAD_REQUEST,
      ErrorCode.BAD_REQUEST,
      ErrorCode.BAD_REQUEST,
    ]);
    const digests = (await raw.readFrame())!;
    assert.deepEqual([digests.type, digests.requestId], [MessageType.OK, 7]);
    assert.equal(decodePartitionDigestsBody(digests.body).counts.length, PARTITION_COUNT);
  } finally {
    raw.close();
    await client.close();
    await stop();
  }
});
