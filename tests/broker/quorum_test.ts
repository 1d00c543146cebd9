// Sloppy quorums: the proof of lib/broker/quorum.ts checked against every failure pattern
// fast-check finds; then, end to end, hints and distrust of unrepaired servers, with real
// `kv server` processes (memory-only: a restart loses everything and says so).
import assert from "node:assert/strict";
import fc from "fast-check";
import { mayHoldWrites, PreferenceWalk, readIsConclusive } from "../../lib/broker/quorum.ts";
import { Broker, type RepairRequest } from "../../lib/broker/broker.ts";
import { HybridClock } from "../../lib/broker/clock.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { readServerList } from "../../lib/broker/server_list.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { int, str } from "../../lib/record/value.ts";
import { BROKER_TIMEOUT_MS, BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { connectClient } from "../helpers/client.ts";
import { waitFor } from "../helpers/wait.ts";
import { runKv } from "../helpers/run_kv.ts";
import { withoutVersion } from "../helpers/versions.ts";

/** n servers, k, and two sets of at most k − 1 servers down: at a write and at a read. */
const failures = fc.integer({ min: 1, max: 9 }).chain((n) =>
  fc.integer({ min: 1, max: n }).chain((k) =>
    fc.tuple(
      fc.constant(n),
      fc.constant(k),
      fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: k - 1 }),
      fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: k - 1 }),
    )
  )
);

/** The positions of the first k servers a walk of a list of n hands out with `down` down. */
function firstReachable(n: number, k: number, down: readonly number[]): number[] {
  const list = Uint16Array.from({ length: n }, (_, i) => i);
  return new PreferenceWalk(list, (index) => !down.includes(index)).take(k);
}

Deno.test("with at most k-1 down at the write and at the read, the read meets the write and is conclusive", () => {
  fc.assert(fc.property(failures, ([n, k, downAtWrite, downAtRead]) => {
    const written = firstReachable(n, k, downAtWrite);
    // Fewer than k reachable (n < 2k - 1): the write is refused, nothing to see.
    if (written.length < k) return;
    const read = firstReachable(n, k, downAtRead);
    assert(written.some((position) => read.includes(position)), "the sets meet");
    assert(readIsConclusive(read, n, k));
  }));
});

Deno.test("readIsConclusive is exact: a conclusive read meets every write made with at most k-1 down, another misses one", () => {
  fc.assert(fc.property(
    failures,
    fc.uniqueArray(fc.integer({ min: 0, max: 8 }), { maxLength: 9 }),
    ([n, k, downAtWrite], answered) => {
      const trusted = answered.filter((position) => position < n);
      if (readIsConclusive(trusted, n, k)) {
        const written = firstReachable(n, k, downAtWrite);
        if (written.length === k) assert(written.some((position) => trusted.includes(position)));
        return;
      }
      // A write the read misses: k servers of the front it did not hear from, the rest of
      // the front (at most k - 1) down when it was made.
      const front = Array.from({ length: Math.min(n, 2 * k - 1) }, (_, position) => position);
      const missed = front.filter((position) => !trusted.includes(position)).slice(0, k);
      assert.equal(missed.length, k);
      const down = front.filter((position) => !missed.includes(position));
      assert(down.length <= k - 1);
      const written = firstReachable(n, k, down);
      assert.deepEqual(written, missed);
      assert(!written.some((position) => trusted.includes(position)));
    },
  ));
});

const RECORD_COUNT = 60;

/** A moment the brokers' clocks are pinned to, so that their order is the test's. */
const PINNED_MS = 1_800_000_000_000;

/** Every server of `cluster` ranked for `key`'s partition, by id, best first. */
function preferenceIds(cluster: KvCluster, key: string): string[] {
  const ids = cluster.servers.map((server) => server.id);
  return Array.from(new Placement(ids).preferenceList(partitionOf(key)), (index) => ids[index]);
}

/** Whether server `id` holds a record (not a tombstone) for `key`. */
async function holds(cluster: KvCluster, id: string, key: string): Promise<boolean> {
  const client = await connectClient(cluster.byId(id).address);
  try {
    return (await client.getEncoded(key)).encoded !== undefined;
  } finally {
    await client.close();
  }
}

/** A k = 2 broker over `cluster`, and the list it appends each repair it asks for (onRepairNeeded) to. */
async function openRecordingBroker(
  cluster: KvCluster,
): Promise<{ broker: Broker; requests: RepairRequest[] }> {
  const requests: RepairRequest[] = [];
  const broker = await Broker.open(await readServerList(cluster.serverFile), {
    k: 2,
    timeoutMs: BROKER_TIMEOUT_MS,
    onRepairNeeded: (request) => requests.push(request),
  });
  return { broker, requests };
}

Deno.test("a PUT with a home server down is stored on the next server; the hint is handed off when it is back", async () => {
  await using cluster = await KvCluster.start(4);
  const { broker, requests } = await openRecordingBroker(cluster);
  try {
    const [home, other, next] = preferenceIds(cluster, "person1");
    await cluster.byId(home).kill();
    assert.equal((await broker.put("person1", int(1))).kind, "done");
    assert.deepEqual(
      [await holds(cluster, other, "person1"), await holds(cluster, next, "person1")],
      [true, true],
    );
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: int(1) });
    assert.equal(broker.hintCount, 1);
    assert.equal(requests.length, 0, "nothing is handed off while the home server is down");
    await cluster.byId(home).restart();
    const homeIndex = broker.pool.servers.findIndex((server) => server.id === home);
    await broker.pool.reconnectNow(homeIndex);
    await waitFor(() => requests.length > 0, { what: "the hint to be handed off" });
    assert.equal(requests.length, 1);
    assert.equal(requests[0].server, homeIndex);
    assert.equal(requests[0].reason, "hint");
    assert(requests[0].partitions.has(partitionOf("person1")));
    assert.equal(requests[0].partitions.size, 1);
    assert.equal(broker.hintCount, 0);
  } finally {
    broker.close();
  }
});

/** A frame limit a 100 000-byte record is over, and every other write of the test is within. */
const SMALL_FRAME_BYTES = 65_536;

Deno.test("a write whose copies land beyond the first 2k-1 servers (a home refusing it, another down) is acknowledged with a warning that says what to run", async () => {
  // The first server refuses records over its small frame limit; the others take them.
  await using cluster = await KvCluster.start(4, {
    server: (index) => ({ args: index === 0 ? ["--max-frame-bytes", `${SMALL_FRAME_BYTES}`] : [] }),
  });
  const refusing = cluster.servers[0].id;
  // A key headed by the refusing server; its second server goes down (k - 1 = 1 down).
  const key = Array.from({ length: 100 }, (_, i) => `person${i}`)
    .find((candidate) => preferenceIds(cluster, candidate)[0] === refusing)!;
  const [, down, third, fourth] = preferenceIds(cluster, key);
  const { broker, requests } = await openRecordingBroker(cluster);
  try {
    await cluster.byId(down).kill();
    // Within the front (the refusing server and the third): no warning.
    const small = await broker.put(key, int(1));
    assert.equal(small.kind, "done");
    assert.equal(small.kind === "done" ? small.warning : "not done", undefined);
    // Refused by the first, the second down: the copies land on the third and fourth, the
    // fourth beyond the first 3, where reads look once the first two answer again.
    const big = await broker.put(key, str("x".repeat(100_000)));
    assert.equal(big.kind, "done");
    const warning = big.kind === "done" ? big.warning ?? "" : "";
    assert.match(warning, new RegExp(`^stored on ${fourth}, beyond the first 3 servers`));
    assert.match(warning, new RegExp(`${refusing}: TOO_LARGE`));
    assert.match(warning, new RegExp(`${down} is down`));
    assert.match(warning, /this broker moves it there once they can store it/);
    assert.deepEqual([await holds(cluster, third, key), await holds(cluster, fourth, key)], [
      true,
      true,
    ]);
    // The refusing home server, up, gets its hint handed off at once, as the down one will.
    const refusingIndex = broker.pool.servers.findIndex((server) => server.id === refusing);
    await waitFor(() => requests.some((request) => request.server === refusingIndex), {
      what: "the refusing home server's hint to be handed off",
    });
    assert(requests.every((request) => request.partitions.has(partitionOf(key))));
  } finally {
    broker.close();
  }
  // A one-shot put keeps no hints: it exits 3 and says to run kv repair.
  const run = await runKv(["put", `${key}: "${"y".repeat(100_000)}"`, "-s", cluster.serverFile]);
  assert.equal(run.code, 3, run.stderr);
  assert.equal(run.stdout, `STORED: ${key}\n`);
  assert.match(run.stderr, /^WARNING: stored on .*, beyond the first 3 servers /);
  // The exact repair, over this client's server file.
  assert(
    run.stderr.endsWith(`; run kv repair -s ${cluster.serverFile} once they can store it\n`),
    run.stderr,
  );
});

Deno.test("a memory-only server restarted empty, then its key's other home down: never a plain NOT FOUND, and KEYS warns that keys are missing", async () => {
  await using cluster = await KvCluster.start(4);
  const lines = Array.from({ length: RECORD_COUNT }, (_, i) => `"person${i}" : ${i}\n`);
  await using indexer = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "-i", "-"]);
  await indexer.send(lines.join(""));
  assert.equal((await indexer.finish()).code, 0);
  const [lost, down] = cluster.servers;
  const keys = Array.from({ length: RECORD_COUNT }, (_, i) => `person${i}`);
  const homes = (key: string) => preferenceIds(cluster, key).slice(0, 2);
  const onBoth = keys.filter((key) => homes(key).includes(lost.id) && homes(key).includes(down.id));
  const onLostOnly = keys.filter((key) =>
    homes(key).includes(lost.id) && !homes(key).includes(down.id)
  );
  assert(onBoth.length > 0 && onLostOnly.length > 0, "the data covers both cases");
  await lost.restart();
  await down.kill();
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "--json"]);
  for (const key of onBoth) {
    const answer = await broker.ask(`GET ${key}`);
    assert.equal(answer.found, false, key);
    assert.match(String(answer.warning), /may have lost writes and is not yet repaired/, key);
  }
  // Its other home answers: the record is found, though the restarted server lost it.
  for (const key of onLostOnly) assert.equal((await broker.ask(`GET ${key}`)).found, true, key);
  // KEYS does not take the restarted server's listing as complete either: the keys it
  // lost are missing, and the answer says so.
  const listing = await broker.ask(`KEYS person ${RECORD_COUNT}`) as {
    keys: string[];
    warning?: string;
  };
  assert.deepEqual(listing.keys, keys.filter((key) => !onBoth.includes(key)).sort());
  assert.match(listing.warning ?? "", /^2 of 4 servers did not answer or may have lost writes/);
  assert.match(
    listing.warning ?? "",
    new RegExp(`${lost.id} may have lost writes and is not yet repaired`),
  );
  // Answers carrying warnings: a piped session exits 3, as kv get would.
  assert.equal((await broker.finish()).code, 3);
});

Deno.test("with every server up and none unrepaired, a key never written is a plain NOT FOUND", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  assert.deepEqual(await broker.ask("GET person1"), { op: "GET", key: "person1", found: false });
  assert.equal((await broker.ask("PUT person2: 2")).stored, true);
  assert.deepEqual(await broker.ask("GET person3"), { op: "GET", key: "person3", found: false });
  assert.equal((await broker.finish()).code, 0);
});

Deno.test("kv broker moves a hinted copy home once its server is back, and removes the extra copy", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  assert.deepEqual(await broker.ask("GET person1"), { op: "GET", key: "person1", found: false });
  const [home, other, next] = preferenceIds(cluster, "person1");
  await cluster.byId(home).kill();
  assert.equal((await broker.ask("PUT person1: 1")).stored, true);
  assert.deepEqual(
    [await holds(cluster, other, "person1"), await holds(cluster, next, "person1")],
    [true, true],
  );
  // A data dir keeps what it held: the server comes back trusted, and only the hint moves.
  await cluster.byId(home).restart();
  const client = await connectClient(cluster.byId(home).address);
  try {
    assert.equal(client.state.unrepaired, false, "the home server kept its data dir");
  } finally {
    await client.close();
  }
  await waitFor(
    async () => await holds(cluster, home, "person1") && !(await holds(cluster, next, "person1")),
    { what: "the hinted copy to move home and leave the third server", intervalMs: 50 },
  );
  assert.equal(await holds(cluster, other, "person1"), true);
  assert.equal((await broker.ask("GET person1")).value, 1);
  assert.equal((await broker.finish()).code, 0);
});

Deno.test("a write whose servers include an unrepaired one still wins over an earlier write it did not meet, whatever the brokers' clocks say", async () => {
  await using cluster = await KvCluster.start(3);
  const servers = await readServerList(cluster.serverFile);
  // The broker that writes first runs an hour ahead of the one that writes second.
  const open = (now: number, id: number) =>
    Broker.open(servers, {
      k: 2,
      timeoutMs: BROKER_TIMEOUT_MS,
      clock: new HybridClock({ broker: id, now: () => now }),
    });
  const [ahead, behind] = [await open(PINNED_MS + 3_600_000, 1), await open(PINNED_MS, 2)];
  try {
    const [first, second, third] = preferenceIds(cluster, "person1");
    const indexOf = (id: string) => ahead.pool.servers.findIndex((server) => server.id === id);
    // The earlier write lands on the first and third servers, the second being down...
    await cluster.byId(second).kill();
    assert.equal((await ahead.put("person1", int(1))).kind, "done");
    // ...which comes back empty and is vouched for (it never held the key), while the
    // first restarts empty and unrepaired: only the third holds the earlier write now.
    await cluster.byId(second).restart();
    // Each broker marks it repaired on its own connection: a connection's state is its
    // HELLO's, and a broker that reconnected before a mark made elsewhere would keep
    // reading it unrepaired (a loaded machine made that happen).
    const markedRepaired = async (broker: Broker) =>
      (await broker.pool.call(
        indexOf(second),
        (connection) =>
          connection.markRepaired(broker.pool.listFingerprint!, connection.state.repairedUnder),
      )).ok;
    for (const broker of [ahead, behind]) {
      await waitFor(() => markedRepaired(broker), { what: `${second} to be marked repaired` });
    }
    await cluster.byId(first).restart();
    // Both brokers have reconnected to both restarted servers and read their HELLOs (a
    // broker still reconnecting would count the second as down, and rightly warn).
    const says = async (broker: Broker, id: string, unrepaired: boolean) => {
      await broker.pool.reconnectNow(indexOf(id));
      return broker.pool.state(indexOf(id))?.unrepaired === unrepaired;
    };
    for (const broker of [ahead, behind]) {
      await waitFor(() => says(broker, first, true), { what: `${first} to say unrepaired` });
      await waitFor(() => says(broker, second, false), { what: `${second} to say repaired` });
    }
    // The later write goes to the first two servers, neither of which holds the earlier
    // one; its broker's clock is an hour behind, yet it must be stamped after it.
    assert.equal((await behind.put("person1", int(2))).kind, "done");
    assert.deepEqual(withoutVersion(await behind.get("person1")), { kind: "found", value: int(2) });
    assert.deepEqual(withoutVersion(await ahead.get("person1")), { kind: "found", value: int(2) });
    assert.equal(await holds(cluster, third, "person1"), true);
  } finally {
    ahead.close();
    behind.close();
  }
});

Deno.test("mayHoldWrites: exactly the first min(n, 2k-1) servers of a list may hold a write made with at most k-1 down", () => {
  fc.assert(fc.property(failures, ([n, k, down]) => {
    const list = Uint16Array.from({ length: n }, (_, i) => i);
    const written = firstReachable(n, k, down);
    if (written.length < k) return;
    for (const position of written) assert(mayHoldWrites(list, k, list[position]));
    const holders = Array.from(list).filter((server) => mayHoldWrites(list, k, server));
    assert.equal(holders.length, Math.min(n, 2 * k - 1));
  }));
});

Deno.test("PreferenceWalk.skipped: the positions it passed over as down and still down, not those it handed out", () => {
  const down = new Set([1, 3]);
  const walk = new PreferenceWalk(new Uint16Array([0, 1, 2, 3, 4]), (index) => !down.has(index));
  assert.deepEqual(walk.take(2), [0, 2]);
  // Server 0 was handed out, then failed: its request reports it, not the walk.
  down.add(0);
  assert.deepEqual(walk.skipped, [1]);
  // Server 1 came back: no longer passed over as down.
  down.delete(1);
  assert.deepEqual(walk.take(2), [4]);
  assert.deepEqual(walk.skipped, [3]);
});
