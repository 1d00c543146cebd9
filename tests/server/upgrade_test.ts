/**
 * A data dir written by kv before versions (testdata/datadir-v2, made by main at 43bc0b3:
 * a snapshot and a log, with overwrites and deletes) opens under the current formats,
 * losing nothing, and is rewritten in them at once. It has no node state file (that came with
 * protocol version 4): it held the writes it acknowledged, but nothing says under which
 * server list, so it starts unrepaired — trusted by no broker until a repair under its list
 * marks it — with no k recorded (lib/server/node_state.ts).
 */
import assert from "node:assert/strict";
import { Store } from "../../lib/server/store.ts";
import { LOG_FORMAT_VERSION } from "../../lib/server/storage_log.ts";
import { SNAPSHOT_FORMAT_VERSION } from "../../lib/server/snapshot.ts";
import { float, int, object, str } from "../../lib/record/value.ts";
import { BASE_VERSION } from "../../lib/record/version.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { NO_LIST } from "../../lib/protocol/mod.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";

const OLD_DATA_DIR = new URL("../../testdata/datadir-v2/", import.meta.url).pathname;

/** What the old server answered for each key (testdata/datadir-v2/README.md). */
const EXPECTED = new Map([
  ["person1", object([["name", str("Mary")], ["age", int(23)]])],
  ["person2", object([["name", str("Johnny")]])],
  ["person3", undefined],
  ["person30", undefined],
  ["person4", object([["big", int(12345678901)], ["unicode", str("héllo wörld, long string")]])],
  ["person5", undefined],
  ["person6", object([["tag", str("after snapshot")]])],
]);

async function copyOldDataDir(target: string): Promise<void> {
  for await (const entry of Deno.readDir(OLD_DATA_DIR)) {
    if (entry.name.endsWith(".kvlog") || entry.name.endsWith(".kvsnap")) {
      await Deno.copyFile(`${OLD_DATA_DIR}${entry.name}`, `${target}/${entry.name}`);
    }
  }
}

/** The format version in a log's or snapshot's header (bytes 8–9, big-endian). */
async function formatOf(path: string): Promise<number> {
  const bytes = await Deno.readFile(path);
  return (bytes[8] << 8) | bytes[9];
}

function checkRecords(store: Store): void {
  for (const [key, value] of EXPECTED) {
    assert.deepEqual(store.get(key), value, key);
    if (value !== undefined) assert.deepEqual(store.versionOf(key), BASE_VERSION, key);
  }
  assert.equal(store.recordCount, 4);
  assert.deepEqual(store.keys({ limit: 100 }), ["person1", "person2", "person4", "person6"]);
}

Deno.test("upgrade: a data dir of the format before versions opens with every record at the base version, and is rewritten", async () => {
  await withTempDir(async (dir) => {
    await copyOldDataDir(dir);
    assert.equal(await formatOf(`${dir}/log-0000000002.kvlog`), 1);
    assert.equal(await formatOf(`${dir}/snapshot-0000000002.kvsnap`), 1);
    const store = await Store.open({ dataDir: dir, onWarning: () => {} });
    checkRecords(store);
    assert.deepEqual(store.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    assert.ok(store.recovery.warnings.some((warning) => warning.includes("current format")));
    assert.equal(store.get("unused"), undefined);
    // Any new write is newer than the base version, whatever the records held.
    const version = { ms: 1, counter: 0, broker: 1 };
    assert.equal(store.put("person1", float(1.5), { version, ifNewer: true }), true);
    await store.close();
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(names, [
      "LOCK",
      "log-0000000003.kvlog",
      "node-state.json",
      "snapshot-0000000003.kvsnap",
    ]);
    assert.equal(await formatOf(`${dir}/log-0000000003.kvlog`), LOG_FORMAT_VERSION);
    assert.equal(await formatOf(`${dir}/snapshot-0000000003.kvsnap`), SNAPSHOT_FORMAT_VERSION);
    const reopened = await Store.open({ dataDir: dir, onWarning: () => {} });
    assert.deepEqual(reopened.recovery.warnings, []);
    assert.deepEqual(reopened.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    assert.deepEqual(reopened.get("person1"), float(1.5));
    assert.deepEqual(reopened.versionOf("person1"), version);
    EXPECTED.delete("person1");
    for (const [key, value] of EXPECTED) assert.deepEqual(reopened.get(key), value, key);
    await reopened.close();
  });
});

Deno.test("upgrade: a kv server process started on the old data dir serves every record at the base version", async () => {
  await withTempDir(async (dir) => {
    await copyOldDataDir(dir);
    const server = await startServerProcess(["--data-dir", dir]);
    const client = await connectClient(server.address);
    try {
      assert.deepEqual(client.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
      for (const [key, value] of EXPECTED) {
        const read = await client.get(key);
        assert.deepEqual(read.value, value, key);
        assert.deepEqual(read.version, value === undefined ? undefined : BASE_VERSION, key);
      }
      assert.deepEqual(await client.keys({ limit: 100 }), [
        "person1",
        "person2",
        "person4",
        "person6",
      ]);
    } finally {
      await client.close();
      assert.equal((await stopWithin(server)).code, 0);
    }
    assert.equal(await formatOf(`${dir}/snapshot-0000000003.kvsnap`), SNAPSHOT_FORMAT_VERSION);
  });
});
