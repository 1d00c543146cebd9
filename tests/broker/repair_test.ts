// The repair engine over in-memory fake servers (tests/helpers/fake_cluster.ts): what the
// real-process tests of tests/cli/repair_test.ts cannot arrange at a chosen instant.
import assert from "node:assert/strict";
import { FakeCluster, repairAs } from "../helpers/fake_cluster.ts";
import { overridden } from "../helpers/overridden.ts";
import { ServerPool } from "../../lib/broker/server_pool.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { repairCluster } from "../../lib/broker/repair.ts";
import type { RepairConnection, RepairPool } from "../../lib/broker/repair_writes.ts";
import { int } from "../../lib/record/value.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { BACKGROUND_HOLD_REASON, BackgroundRepair } from "../../lib/broker/background_repair.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { listFingerprint } from "../../lib/broker/list_fingerprint.ts";
import { LIST_CHANGE_UNDER_WAY, NO_LIST } from "../../lib/protocol/mod.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { PartitionSet } from "../../lib/broker/partition_set.ts";

/** Runs `body` with a pool over `serverCount` fake servers and their placement, then closes the pool. */
async function withFakePool(
  serverCount: number,
  body: (fake: { cluster: FakeCluster; pool: ServerPool; placement: Placement }) => Promise<void>,
): Promise<void> {
  const cluster = new FakeCluster(serverCount);
  const pool = new ServerPool(cluster.addresses, { connect: cluster.connect });
  await pool.start();
  try {
    await body({
      cluster,
      pool,
      placement: new Placement(pool.servers.map((server) => server.identity)),
    });
  } finally {
    pool.close();
  }
}

/** `pool` as a repair uses it, each connection to server `index` seen as `view` makes it. */
function poolSeenThrough(
  pool: ServerPool,
  view: (connection: RepairConnection, index: number) => RepairConnection,
): RepairPool {
  return {
    servers: pool.servers,
    call: (index, request) => pool.call(index, (connection) => request(view(connection, index))),
  };
}

Deno.test("repair copies a record to the home server lacking it and removes the copy elsewhere", async () => {
  await withFakePool(3, async ({ cluster, pool, placement }) => {
    const list = placement.preferenceList(partitionOf("person1"));
    const version = { ms: 5, counter: 0, broker: 1 };
    cluster.servers[list[0]].trie.put("person1", int(1), { version });
    cluster.servers[list[2]].trie.put("person1", int(1), { version });
    const report = await repairCluster(pool, { k: 2, placement });
    assert.equal(report.inOrder, true, JSON.stringify(report));
    assert.deepEqual([report.copiesWritten, report.copiesRemoved], [1, 1]);
    assert.deepEqual(
      cluster.holders("person1").sort(),
      [list[0], list[1]].map((index) => pool.servers[index].id).sort(),
    );
  });
});

Deno.test("a repair stalled between listing and writing (its listings answered 9 minutes before the copies would go) writes none, reports the keys, and a rerun copies them", async () => {
  await withFakePool(3, async ({ cluster, pool, placement }) => {
    const list = placement.preferenceList(partitionOf("person1"));
    cluster.servers[list[0]].trie.put("person1", int(1), {
      version: { ms: 5, counter: 0, broker: 1 },
    });
    // Each listing page answers 9 minutes after it was asked (a SIGSTOP, a stalled machine),
    // by the repair's monotonic clock.
    let now = 0;
    const stalling = poolSeenThrough(
      pool,
      (connection) =>
        overridden(connection, {
          listPartitions: async (...args) => {
            const page = await connection.listPartitions(...args);
            now += 9 * 60_000;
            return page;
          },
        }),
    );
    const stalled = await repairCluster(stalling, { k: 2, placement, clock: () => now });
    assert.equal(stalled.inOrder, false);
    assert.equal(stalled.copiesWritten, 0);
    assert.deepEqual(cluster.holders("person1"), [pool.servers[list[0]].id]);
    assert.deepEqual(stalled.failures.map((failure) => [failure.server, failure.keys]), [
      [pool.servers[list[1]].id, 1],
    ]);
    assert.match(
      stalled.failures[0].error,
      /^not copied: the repair was stopped or stalled \d+ s between listing the servers and writing \(more than 8 min\), and a copy that old could bring back a record deleted since; run the repair again$/,
    );
    const again = await repairCluster(pool, { k: 2, placement });
    assert.equal(again.inOrder, true, JSON.stringify(again));
    assert.equal(again.copiesWritten, 1);
  });
});

Deno.test("a repair that read a server unrepaired does not mark it once another repair re-marked it meanwhile (a list change's ff…ff): it says why, and the mark stays", async () => {
  await withFakePool(2, async ({ cluster, pool, placement }) => {
    cluster.servers[1].nodeState = { unrepaired: true, k: 2, repairedUnder: NO_LIST };
    // Right after this repair read server 1's digests, a list change marks it ff…ff.
    const racing = poolSeenThrough(
      pool,
      (connection, index) =>
        index !== 1 ? connection : overridden(connection, {
          partitionDigests: async () => {
            const digests = await connection.partitionDigests();
            const { k } = cluster.servers[1].nodeState;
            cluster.servers[1].nodeState = {
              unrepaired: false,
              k,
              repairedUnder: LIST_CHANGE_UNDER_WAY,
            };
            return digests;
          },
        }),
    );
    const report = await repairCluster(racing, {
      k: 2,
      placement,
      unrepaired: (index) => index === 1,
    });
    assert.equal(report.inOrder, false);
    assert.deepEqual(report.markedRepaired, []);
    assert.deepEqual(report.stillUnrepaired, [pool.servers[1].id]);
    assert.deepEqual(report.failures.map((failure) => failure.server), [pool.servers[1].id]);
    assert.equal(
      report.failures[0].error,
      `${pool.servers[1].id}: not marked repaired: another repair re-marked it while this one ` +
        "ran (a kv repair under way marks it under its list at its end), so what this one " +
        "read no longer vouches for it",
    );
    assert.deepEqual(cluster.servers[1].nodeState.repairedUnder, LIST_CHANGE_UNDER_WAY);
  });
});

Deno.test("repair marks an unrepaired server repaired only if it is still the process it read", async () => {
  await withFakePool(2, async ({ pool, placement }) => {
    // Server 1 restarts (a new process id) after its digests were read, just before it
    // would be marked: the new process may have lost everything, so it stays unrepaired.
    let restarted = false;
    const restarting = poolSeenThrough(
      pool,
      (connection, index) =>
        index !== 1 ? connection : overridden(connection, {
          get serverId() {
            return `${connection.serverId}${restarted ? "-again" : ""}`;
          },
        }),
    );
    const report = await repairCluster(restarting, {
      k: 2,
      placement,
      unrepaired: (index) => {
        if (index === 1) restarted = true;
        return true;
      },
    });
    assert.deepEqual(report.markedRepaired, [pool.servers[0].id]);
    assert.deepEqual(report.stillUnrepaired, [pool.servers[1].id]);
    assert.equal(report.inOrder, false);
    assert.match(report.failures[0].error, /restarted during the repair/);
  });
});

Deno.test("repair lists a partition in order for its old tombstones only when asked (kv repair), never otherwise (background repair)", async () => {
  await withFakePool(3, async ({ cluster, pool, placement }) => {
    const list = placement.preferenceList(partitionOf("gone"));
    const old = { ms: 5, counter: 0, broker: 1 };
    for (const index of [list[0], list[1]]) {
      cluster.servers[index].trie.tombstone("gone", { version: old });
    }
    const now = () => 3_600_000;
    const tombstones = () =>
      cluster.servers.reduce(
        (sum, server) => sum + server.trie.partitionDigests.tombstones(partitionOf("gone")),
        0,
      );
    const unasked = await repairCluster(pool, { k: 2, placement, now });
    assert.equal(unasked.inOrder, true, JSON.stringify(unasked));
    assert.deepEqual([unasked.partitionsListed, unasked.tombstonesPurged], [0, 0]);
    assert.equal(tombstones(), 2, "the tombstone waits for the servers' grace");
    const asked = await repairCluster(pool, { k: 2, placement, now, listTombstones: true });
    assert.equal(asked.inOrder, true, JSON.stringify(asked));
    assert.deepEqual([asked.partitionsListed, asked.tombstonesPurged], [1, 2]);
    assert.equal(tombstones(), 0, "purged from both home servers");
  });
});

Deno.test("a restarted server is marked repaired only once the partitions it may have held hints of are in order too, not only those it is home to", async () => {
  const cluster = new FakeCluster(3);
  const writer = await cluster.openBroker({ k: 2 });
  const id = (index: number) => cluster.servers[index].address.id;
  let reader: Broker | undefined;
  let background: BackgroundRepair | undefined;
  try {
    const [first, second, third] = writer.preferenceList(partitionOf("person1"));
    // The second home server is down: the write lands on the first and, as a hint, on the
    // third (the writer runs no background repair, so the hint stays there).
    cluster.servers[second].state = "crashed";
    assert.equal((await writer.put("person1", int(1))).kind, "done");
    assert.deepEqual(cluster.holders("person1").sort(), [id(first), id(third)].sort());
    // The second comes back; the third restarts empty, losing the hint, and is repaired.
    cluster.servers[second].state = "up";
    cluster.servers[third].restart();
    reader = await cluster.openBroker({ k: 2 });
    background = new BackgroundRepair(reader.pool, { placement: reader });
    // A repair that fails is retried, backing off up to a minute: settling is not bounded.
    await withDeadline(background.settled(), { what: "the background repair to settle" });
    assert.equal(cluster.servers[third].nodeState.unrepaired, false, "marked repaired");
    // One server down: the two that answer, both trusted, must hold the write between them.
    cluster.servers[first].state = "crashed";
    assert.deepEqual(withoutVersion(await reader.get("person1")), {
      kind: "found",
      value: int(1),
    });
  } finally {
    background?.close();
    reader?.close();
    writer.close();
  }
});

/**
 * Writes person1 through `broker` (k=2), then makes its first home a server repaired for
 * another list (restarted empty, as a server of another cluster) and its second one that kept
 * its data but says it is unrepaired (a damaged log), and waits until the broker judges the
 * first "other list". A repair would then copy person1 to the first, its home, and mark the
 * second.
 */
async function otherListAndUnrepaired(
  cluster: FakeCluster,
  broker: Broker,
): Promise<{ first: number; second: number; otherList: Uint8Array }> {
  assert.equal((await broker.put("person1", int(1))).kind, "done");
  const [first, second] = broker.preferenceList(partitionOf("person1"));
  const otherList = new Uint8Array(16).fill(9);
  cluster.servers[first].restart();
  cluster.servers[first].nodeState = { unrepaired: false, k: 2, repairedUnder: otherList };
  cluster.servers[second].nodeState = { unrepaired: true, k: 2 };
  await broker.get("person1");
  await waitFor(() => broker.pool.distrustedFor(first) === "other list", {
    what: "the broker to reconnect to the first",
  });
  return { first, second, otherList };
}

Deno.test("a broker's background repair is held while a reachable server is repaired under another list: it copies, removes and marks nothing, not even an unrepaired server; kv repair under its list marks both", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2 });
  const logged: string[] = [];
  let background: BackgroundRepair | undefined;
  try {
    const { first, second, otherList } = await otherListAndUnrepaired(cluster, broker);
    const before = cluster.servers.map((server) => server.records);
    background = new BackgroundRepair(broker.pool, {
      placement: broker,
      log: (line) => logged.push(line),
    });
    await withDeadline(background.settled(), { what: "the background repair to settle" });
    assert.deepEqual(cluster.servers.map((server) => server.records), before, "nothing moved");
    assert.equal(broker.pool.trusted(second), false, "the unrepaired one is not marked");
    assert.deepEqual(cluster.servers[first].nodeState.repairedUnder, otherList, "not marked");
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.equal(
      logged[0],
      `background repair held: ${broker.pool.servers[first].id} was ${BACKGROUND_HOLD_REASON}`,
    );
    // kv repair (every server not trusted under its list) marks both.
    const report = await repairAs(broker);
    assert.ok(report.inOrder, JSON.stringify(report));
    for (const index of [first, second]) {
      assert.deepEqual(cluster.servers[index].nodeState.repairedUnder, broker.pool.listFingerprint);
    }
    assert.ok(cluster.servers[first].trie.has("person1"));
  } finally {
    background?.close();
    broker.close();
  }
});

Deno.test("a background repair held by a server marked under another list stays held while that server is down and once it comes back being re-marked: nothing copied, removed or marked meanwhile", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2 });
  const logged: string[] = [];
  let background: BackgroundRepair | undefined;
  try {
    const { first, second } = await otherListAndUnrepaired(cluster, broker);
    const before = cluster.servers.map((server) => server.records);
    background = new BackgroundRepair(broker.pool, {
      placement: broker,
      log: (line) => logged.push(line),
    });
    await withDeadline(background.settled(), { what: "the background repair to settle held" });
    // The first goes down (as kv repair -s marking it ff…ff closes the broker's connections):
    // its last known mark still says the broker's list is not the cluster's.
    cluster.servers[first].state = "crashed";
    await waitFor(() => !broker.pool.isUp(first), { what: "the pool to see the first down" });
    const partitions = [partitionOf("person1")];
    background.request({ server: second, partitions, reason: "hint" });
    await withDeadline(background.settled(), { what: "the background repair to settle" });
    assert.deepEqual(cluster.servers.map((server) => server.records), before, "nothing moved");
    assert.equal(cluster.servers[second].nodeState.unrepaired, true, "the second not marked");
    // It comes back marked as being re-marked: held still.
    cluster.servers[first].nodeState = {
      unrepaired: false,
      k: 2,
      repairedUnder: LIST_CHANGE_UNDER_WAY,
    };
    cluster.servers[first].state = "up";
    await waitFor(() => broker.pool.markedChanging(first), { what: "the first seen again" });
    background.request({ server: second, partitions, reason: "hint" });
    await withDeadline(background.settled(), { what: "the background repair to settle again" });
    assert.deepEqual(cluster.servers.map((server) => server.records), before, "nothing moved");
    assert.equal(cluster.servers[second].nodeState.unrepaired, true, "the second not marked");
    assert.deepEqual(logged, [
      `background repair held: ${broker.pool.servers[first].id} was ${BACKGROUND_HOLD_REASON}`,
    ]);
  } finally {
    background?.close();
    broker.close();
  }
});

Deno.test("a background repair held for servers marked under the k before kv repair -k changed it says what a k change needs, not that the broker's list is not the cluster's", async () => {
  const cluster = new FakeCluster(4);
  const identities = cluster.addresses.map((address) => address.identity);
  for (const server of cluster.servers) {
    server.nodeState = { unrepaired: false, k: 2, repairedUnder: listFingerprint(identities, 2) };
  }
  const broker = await cluster.openBroker({});
  const logged: string[] = [];
  let background: BackgroundRepair | undefined;
  try {
    // kv repair -k 3's first step, met by a write: the broker follows it.
    for (const server of cluster.servers) server.nodeState = { ...server.nodeState, k: 3 };
    assert.equal((await broker.put("person1", int(1))).kind, "done");
    assert.equal(broker.k, 3);
    // Work to hold: one server says it is unrepaired.
    cluster.servers[0].nodeState = { unrepaired: true, k: 3 };
    background = new BackgroundRepair(broker.pool, {
      placement: broker,
      log: (line) => logged.push(line),
    });
    await withDeadline(background.settled(), { what: "the background repair to settle" });
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.match(
      logged[0],
      /^background repair held: [^,]+, [^,]+, [^ ]+ were marked repaired under k=2, not k=3, the k the servers record now \(kv repair -k changed it\): nothing is repaired in the background until a repair marks them under it; the kv repair -k that changed k marks them at its end \(if it was stopped, run kv repair -s FILE\)$/,
    );
    assert.doesNotMatch(logged[0], /its list is not the cluster's/);
  } finally {
    background?.close();
    broker.close();
  }
});

Deno.test("a background repair under way when kv repair -k raises k removes no copy from a server the new k made a home: the acknowledged write keeps its k copies", async () => {
  await withFakePool(4, async ({ cluster, pool, placement }) => {
    const identities = pool.servers.map((server) => server.identity);
    for (const server of cluster.servers) {
      server.nodeState = { unrepaired: false, k: 2, repairedUnder: listFingerprint(identities, 2) };
    }
    const key = "person1";
    const partition = partitionOf(key);
    const [first, second, third] = placement.preferenceList(partition);
    // A write acknowledged while the first server was down: on the second and third, its
    // hint handed to the broker's background repair once the first is back.
    const version = { ms: Date.now(), counter: 0, broker: 1 };
    for (const index of [second, third]) {
      cluster.servers[index].trie.put(key, int(1), { version });
    }
    // While that repair's copy to the first server is on its way, kv repair -k 3 runs whole:
    // SET_K 3 on every server, then the repair of the change, which finds the key on its
    // three new homes but the first, copies it there and marks every server under k=3.
    let change: Awaited<ReturnType<typeof repairCluster>> | undefined;
    const changeK = async () => {
      for (const server of cluster.servers) server.nodeState = { ...server.nodeState, k: 3 };
      const changing = new ServerPool(cluster.addresses, { connect: cluster.connect });
      await changing.start();
      try {
        return await repairCluster(changing, {
          k: 3,
          placement,
          listChange: true,
          unrepaired: () => true,
        });
      } finally {
        changing.close();
      }
    };
    const racing = poolSeenThrough(
      pool,
      (connection, index) =>
        index !== first ? connection : overridden(connection, {
          putMany: async (items) => {
            const refusals = await connection.putMany(items);
            change ??= await changeK();
            return refusals;
          },
        }),
    );
    const background = await repairCluster(racing, {
      k: 2,
      placement,
      partitions: new PartitionSet([partition]),
    });
    assert.ok(change !== undefined, "kv repair -k 3 ran under the background repair");
    assert.equal(change.inOrder, true, JSON.stringify(change));
    assert.deepEqual(
      cluster.holders(key).sort(),
      [first, second, third].map((index) => pool.servers[index].id).sort(),
      "the key on its three homes under k=3: " + JSON.stringify(background),
    );
    assert.equal(background.inOrder, false);
    assert.deepEqual(background.failures.map((failure) => failure.server), [
      pool.servers[third].id,
    ]);
    assert.match(
      background.failures[0].error,
      /^not removed: its mark changed while this repair ran \(another repair re-marked it/,
    );
    // What the removal cost: with two of the three homes down (k − 1), a read answered a
    // plain NOT FOUND.
    cluster.servers[first].state = "crashed";
    cluster.servers[second].state = "crashed";
    const reader = await cluster.openBroker({});
    try {
      assert.equal(reader.k, 3);
      assert.deepEqual(withoutVersion(await reader.get(key)), { kind: "found", value: int(1) });
    } finally {
      reader.close();
    }
  });
});
