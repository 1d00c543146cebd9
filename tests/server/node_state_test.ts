/**
 * The node state (lib/server/node_state.ts): when a server starts unrepaired, and how SET_K
 * and MARK_REPAIRED keep k and the flag across restarts, through the Store that owns it.
 */
import assert from "node:assert/strict";
import { Store } from "../../lib/server/store.ts";
import { MarkChangedError, NODE_STATE_FILE, NodeStateKeeper } from "../../lib/server/node_state.ts";
import { int } from "../../lib/record/value.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { nextVersion } from "../helpers/versions.ts";
import { LIST_CHANGE_UNDER_WAY, NO_LIST } from "../../lib/protocol/mod.ts";
import { bytesToHex } from "../../lib/base/bytes.ts";

const quiet = { onWarning: () => {} };

/** The fingerprint of a server list the tests' servers are marked repaired under. */
const LIST = new Uint8Array(16).fill(0xab);
const LIST_HEX = bytesToHex(LIST);

/** A store in `dir` holding one record, recording k = 2 and marked repaired: a trusted server. */
async function trustedStore(dir: string): Promise<Store> {
  const store = await Store.open({ dataDir: dir, ...quiet });
  store.put("a", int(1), { version: nextVersion() });
  await store.nodeState.setK(2, false);
  await store.nodeState.markRepaired(LIST, NO_LIST);
  return store;
}

Deno.test("node state: a memory-only store starts unrepaired with no k; SET_K and MARK_REPAIRED change it", async () => {
  const store = await Store.open();
  assert.deepEqual(store.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
  assert.equal(await store.nodeState.setK(2, false), 2);
  assert.equal(await store.nodeState.setK(3, false), 2, "a different k is kept without replace");
  assert.equal(await store.nodeState.setK(2, false), 2);
  assert.equal(await store.nodeState.setK(3, true), 3, "replace records the new k");
  await store.nodeState.markRepaired(LIST, NO_LIST);
  assert.deepEqual(store.nodeState.state, { unrepaired: false, k: 3, repairedUnder: LIST });
  await store.close();
});

Deno.test("node state: a new data dir is unrepaired until MARK_REPAIRED, which survives a restart with k", async () => {
  await withTempDir(async (dir) => {
    const first = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(first.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    first.put("a", int(1), { version: nextVersion() });
    await first.close();
    // Still unrepaired: holding data now does not mean it was never lost.
    const second = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(second.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    assert.equal(await second.nodeState.setK(2, false), 2);
    await second.nodeState.markRepaired(LIST, NO_LIST);
    await second.close();
    const third = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(third.nodeState.state, { unrepaired: false, k: 2, repairedUnder: LIST });
    await third.close();
  });
});

Deno.test("node state: a data dir emptied of its logs and snapshots starts unrepaired, keeping k", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    await store.compact();
    await store.close();
    emptyDataDir(dir);
    const emptied = await Store.open({ dataDir: dir, ...quiet });
    assert.equal(emptied.recordCount, 0);
    assert.deepEqual(emptied.nodeState.state, { unrepaired: true, k: 2, repairedUnder: NO_LIST });
    await emptied.close();
  });
});

Deno.test("node state: recovery that skips a damaged log stretch sets unrepaired, and it stays set", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open({ dataDir: dir, ...quiet });
    for (let index = 0; index < 10; index++) {
      store.put(`key${index}`, int(index), { version: nextVersion() });
    }
    await store.nodeState.markRepaired(LIST, NO_LIST);
    await store.close();
    const log = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".kvlog"))!;
    const bytes = Deno.readFileSync(`${dir}/${log.name}`);
    // A flipped byte in the middle: one entry's checksum fails, the ones after it are intact.
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    Deno.writeFileSync(`${dir}/${log.name}`, bytes);
    const damaged = await Store.open({ dataDir: dir, ...quiet });
    assert.ok(damaged.recovery.warnings.some((warning) => warning.includes("skipped")));
    assert.equal(damaged.nodeState.state.unrepaired, true);
    await damaged.close();
    // Persisted: the next start, whose log replays as it did, is still unrepaired.
    const again = await Store.open({ dataDir: dir, ...quiet });
    assert.equal(again.nodeState.state.unrepaired, true);
    await again.close();
  });
});

Deno.test("node state: an unreadable state file starts unrepaired with no k, with a warning, and is rewritten", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    await store.close();
    Deno.writeTextFileSync(`${dir}/${NODE_STATE_FILE}`, "{not json");
    const warnings: string[] = [];
    const reopened = await Store.open({ dataDir: dir, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(reopened.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    assert.ok(warnings.some((warning) => warning.includes(NODE_STATE_FILE)), warnings.join("\n"));
    await reopened.close();
    const text = Deno.readTextFileSync(`${dir}/${NODE_STATE_FILE}`);
    assert.deepEqual(JSON.parse(text), {
      format: 2,
      k: 0,
      unrepaired: true,
      repairedUnder: "0".repeat(32),
    });
    // A state file far larger than any kv writes is unreadable too (and read no further),
    // though it holds valid JSON after the padding.
    const trusted = JSON.stringify({ format: 2, k: 2, unrepaired: false, repairedUnder: LIST_HEX });
    Deno.writeTextFileSync(`${dir}/${NODE_STATE_FILE}`, " ".repeat(1024 * 1024) + trusted);
    const large = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(large.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
    await large.close();
  });
});

Deno.test("node state: concurrent changes apply in the order asked, each durable when it resolves", async () => {
  await withTempDir(async (dir) => {
    const keeper = await NodeStateKeeper.open(dir, { emptyAtStart: true, lostData: false });
    const results = await Promise.all([
      keeper.setK(2, false),
      keeper.setK(3, false),
      keeper.markRepaired(LIST, NO_LIST),
      keeper.setK(4, true),
    ]);
    // false: the server was unrepaired, so no mark of another list was replaced.
    assert.deepEqual(results, [2, 2, false, 4]);
    const text = Deno.readTextFileSync(`${dir}/${NODE_STATE_FILE}`);
    assert.deepEqual(JSON.parse(text), {
      format: 2,
      k: 4,
      unrepaired: false,
      repairedUnder: LIST_HEX,
    });
    assert.equal(Deno.readDirSync(dir).some((entry) => entry.name.endsWith(".tmp")), false);
  });
});

Deno.test("node state: kAtOnce answers a SET_K that changes nothing as setK would, and none while an earlier change is on its way to disk", async () => {
  await withTempDir(async (dir) => {
    const keeper = await NodeStateKeeper.open(dir, { emptyAtStart: true, lostData: false });
    assert.equal(keeper.kAtOnce(2, false), undefined, "no k recorded: SET_K records one");
    assert.equal(await keeper.setK(2, false), 2);
    assert.equal(keeper.kAtOnce(2, false), 2);
    assert.equal(keeper.kAtOnce(3, false), 2, "a different k is kept without replace");
    assert.equal(keeper.kAtOnce(3, true), undefined, "replace changes the k");
    assert.equal(keeper.kAtOnce(2, true), 2);
    // A change of the k not yet durable: the old k is still the state, and answering it at
    // once would answer before the change a SET_K asked after it.
    const raised = keeper.setK(3, true);
    assert.equal(keeper.state.k, 2);
    assert.equal(keeper.kAtOnce(2, false), undefined);
    assert.equal(await raised, 3);
    assert.equal(keeper.kAtOnce(2, false), 3);
    // Any change queued, even one that leaves the k alone, holds it back too.
    const marked = keeper.markRepaired(LIST, NO_LIST);
    assert.equal(keeper.kAtOnce(3, false), undefined);
    await marked;
    assert.equal(keeper.kAtOnce(3, false), 3);
  });
});

Deno.test("node state: a start that cannot make its node state unrepaired changes nothing in the data dir (no torn tail cut, no first log made), so the next start still finds the loss", async () => {
  const cases: [string, (dir: string) => void][] = [
    ["emptied", emptyDataDir],
    ["torn tail", (dir) => {
      const log = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".kvlog"))!;
      // Bytes that are not an intact entry, at the end: what recovery cuts off.
      Deno.writeFileSync(`${dir}/${log.name}`, new Uint8Array(16).fill(0xab), { append: true });
    }],
  ];
  for (const [name, damage] of cases) {
    await withTempDir(async (dir) => {
      const store = await trustedStore(dir);
      await store.close();
      damage(dir);
      // The start dies where the node state is written (here: its temporary file cannot be
      // replaced): recovery must not have erased the signs of the loss before that.
      const logs = () =>
        [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".kvlog"))
          .map((entry) => [entry.name, Deno.statSync(`${dir}/${entry.name}`).size]);
      const damaged = logs();
      Deno.mkdirSync(`${dir}/${NODE_STATE_FILE}.tmp/blocked`, { recursive: true });
      await assert.rejects(
        () => Store.open({ dataDir: dir, ...quiet }),
        (error: unknown) =>
          error instanceof Error && error.message.includes(`${NODE_STATE_FILE}.tmp`),
        "the start dies writing the node state",
      );
      assert.deepEqual(logs(), damaged, name);
      Deno.removeSync(`${dir}/${NODE_STATE_FILE}.tmp`, { recursive: true });
      const restarted = await Store.open({ dataDir: dir, ...quiet });
      assert.deepEqual(restarted.nodeState.state, {
        unrepaired: true,
        k: 2,
        repairedUnder: NO_LIST,
      }, name);
      await restarted.close();
    });
  }
});

/** Removes every log and snapshot from `dir`, as an operator emptying a data dir does. */
function emptyDataDir(dir: string): void {
  for (const entry of Deno.readDirSync(dir)) {
    if (/\.(kvlog|kvsnap)$/.test(entry.name)) Deno.removeSync(`${dir}/${entry.name}`);
  }
}

Deno.test("node state: a start of a trusted server that recovers an intact data dir leaves node-state.json untouched (so a full disk still starts it)", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    await store.close();
    // Every write of the file replaces it by a new one (temporary file, rename).
    const before = Deno.statSync(`${dir}/${NODE_STATE_FILE}`).ino;
    const restarted = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(restarted.nodeState.state, { unrepaired: false, k: 2, repairedUnder: LIST });
    await restarted.close();
    assert.equal(Deno.statSync(`${dir}/${NODE_STATE_FILE}`).ino, before);
  });
});

Deno.test("node state: once recovery said it will change the data dir, a start that dies before finishing leaves the server unrepaired", async () => {
  await withTempDir(async (dir) => {
    const trusted = await NodeStateKeeper.open(dir, { emptyAtStart: false, lostData: false });
    await trusted.setK(2, false);
    await trusted.markRepaired(LIST, NO_LIST);
    const recovery = await NodeStateKeeper.beginRecovery(dir);
    await recovery.beforeChange();
    // The start dies here: finish is never called. The next start found nothing lost.
    const next = await NodeStateKeeper.open(dir, { emptyAtStart: false, lostData: false });
    assert.deepEqual(next.state, { unrepaired: true, k: 2, repairedUnder: NO_LIST });
  });
});

Deno.test("node state: MARK_REPAIRED expecting another mark than the one held changes nothing, on disk either, and says which mark is held; ff…ff is applied whatever was expected", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    const path = `${dir}/${NODE_STATE_FILE}`;
    const before = Deno.readTextFileSync(path);
    // A repair that read the server unrepaired, marking it after another repair marked it.
    await assert.rejects(
      store.nodeState.markRepaired(new Uint8Array(16).fill(9), NO_LIST),
      (error: Error) => error instanceof MarkChangedError && error.message === LIST_HEX,
    );
    assert.deepEqual(store.nodeState.state, { unrepaired: false, k: 2, repairedUnder: LIST });
    assert.equal(Deno.readTextFileSync(path), before);
    // The same list again, whatever expected: nothing to change, no other list's mark replaced.
    assert.equal(await store.nodeState.markRepaired(LIST, NO_LIST), false);
    assert.equal(
      await store.nodeState.markRepaired(LIST_CHANGE_UNDER_WAY, NO_LIST),
      true,
      "ff…ff replaced the list's mark",
    );
    assert.deepEqual(store.nodeState.state.repairedUnder, LIST_CHANGE_UNDER_WAY);
    await store.close();
  });
});

Deno.test("node state: MARK_REPAIRED under another list replaces the one recorded, durably", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    const other = new Uint8Array(16).fill(9);
    await store.nodeState.markRepaired(other, LIST);
    await store.close();
    const reopened = await Store.open({ dataDir: dir, ...quiet });
    assert.deepEqual(reopened.nodeState.state, { unrepaired: false, k: 2, repairedUnder: other });
    await reopened.close();
  });
});

Deno.test("node state upgrade: a format-1 state file (no server list) reads as unrepaired under any list, its k kept, and is rewritten in format 2", async () => {
  for (const unrepaired of [false, true]) {
    await withTempDir(async (dir) => {
      const store = await trustedStore(dir);
      await store.close();
      // What a kv of protocol version 4 wrote: repaired (or not), with no list.
      Deno.writeTextFileSync(
        `${dir}/${NODE_STATE_FILE}`,
        JSON.stringify({ format: 1, k: 2, unrepaired }) + "\n",
      );
      const warnings: string[] = [];
      const upgraded = await Store.open({ dataDir: dir, onWarning: (w) => warnings.push(w) });
      assert.deepEqual(upgraded.nodeState.state, {
        unrepaired: true,
        k: 2,
        repairedUnder: NO_LIST,
      });
      assert.deepEqual(upgraded.get("a"), int(1), "its data is kept");
      assert.deepEqual(warnings.filter((w) => w.includes(NODE_STATE_FILE)), [], "not unreadable");
      await upgraded.close();
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${dir}/${NODE_STATE_FILE}`)), {
        format: 2,
        k: 2,
        unrepaired: true,
        repairedUnder: "0".repeat(32),
      });
      // Once a repair marks it under a list, it is trusted under that one.
      const again = await Store.open({ dataDir: dir, ...quiet });
      await again.nodeState.markRepaired(LIST, NO_LIST);
      await again.close();
      const marked = await Store.open({ dataDir: dir, ...quiet });
      assert.deepEqual(marked.nodeState.state, { unrepaired: false, k: 2, repairedUnder: LIST });
      await marked.close();
    });
  }
});

Deno.test("node state: a format-2 file whose list contradicts its flag is unreadable: unrepaired, with a warning", async () => {
  await withTempDir(async (dir) => {
    const store = await trustedStore(dir);
    await store.close();
    for (
      const bad of [
        { format: 2, k: 2, unrepaired: false, repairedUnder: "0".repeat(32) },
        { format: 2, k: 2, unrepaired: true, repairedUnder: LIST_HEX },
        { format: 2, k: 2, unrepaired: false, repairedUnder: LIST_HEX.toUpperCase() },
        { format: 2, k: 2, unrepaired: false },
      ]
    ) {
      Deno.writeTextFileSync(`${dir}/${NODE_STATE_FILE}`, JSON.stringify(bad));
      const warnings: string[] = [];
      const opened = await Store.open({ dataDir: dir, onWarning: (w) => warnings.push(w) });
      assert.deepEqual(opened.nodeState.state, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
      assert.ok(warnings.some((w) => w.includes(NODE_STATE_FILE)), JSON.stringify(bad));
      await opened.close();
    }
  });
});
