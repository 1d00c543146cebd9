// agreeOnK's rules over in-memory fake servers (tests/helpers/fake_cluster.ts): the recorded
// k is used and restored; a k no reachable server records is fixed only by a writing
// client, and only when every server is reachable or the caller gave it; a read-only
// client records none. tests/cli/cluster_k_test.ts runs the same with real processes.
import assert from "node:assert/strict";
import { FakeCluster } from "../helpers/fake_cluster.ts";
import { overridden } from "../helpers/overridden.ts";
import { type Connector, ServerPool } from "../../lib/broker/server_pool.ts";
import {
  agreeOnK,
  ClusterKError,
  ClusterKUnknownError,
  DEFAULT_K,
  MAX_NAMED_SERVERS,
  namedServers,
  recordK,
  someNamed,
} from "../../lib/broker/cluster_k.ts";
import { int } from "../../lib/record/value.ts";
import { listFingerprint } from "../../lib/broker/list_fingerprint.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { waitFor } from "../helpers/wait.ts";

/** `cluster` with the servers at `down` crashed and each server recording `ks[i]`. */
function cluster(ks: number[], down: number[]): FakeCluster {
  const fake = new FakeCluster(ks.length);
  fake.servers.forEach((server, index) => {
    server.nodeState = { unrepaired: false, k: ks[index] };
    if (down.includes(index)) server.state = "crashed";
  });
  return fake;
}

/** agreeOnK over a started pool of `fake`: its answer, or the error it threw. */
async function agree(
  fake: FakeCluster,
  requested: number | undefined,
  readOnly: boolean,
): Promise<number | Error> {
  const pool = new ServerPool(fake.addresses, { connect: fake.connect });
  try {
    await pool.start();
    return await agreeOnK(pool, requested, { readOnly }).catch((error: Error) => error);
  } finally {
    pool.close();
  }
}

function recorded(fake: FakeCluster): number[] {
  return fake.servers.map((server) => server.nodeState.k);
}

Deno.test("a new cluster, every server reachable: a writing client fixes the requested k or DEFAULT_K on all, a read-only one records none", async () => {
  for (const readOnly of [false, true]) {
    const defaulted = cluster([0, 0, 0], []);
    assert.equal(await agree(defaulted, undefined, readOnly), DEFAULT_K);
    assert.deepEqual(recorded(defaulted), readOnly ? [0, 0, 0] : [1, 1, 1]);
    const requested = cluster([0, 0, 0], []);
    assert.equal(await agree(requested, 2, readOnly), 2);
    assert.deepEqual(recorded(requested), readOnly ? [0, 0, 0] : [2, 2, 2]);
  }
});

Deno.test("servers down and none reachable recording k: a writing client without k is refused naming them, with k it records it; a read-only one reads with it and records nothing", async () => {
  const fake = cluster([0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5]);
  const refused = await agree(fake, undefined, false);
  assert.ok(refused instanceof ClusterKUnknownError, String(refused));
  assert.equal(refused.unreachable.length, 5);
  assert.equal(refused.servers, 6);
  const named = fake.servers.slice(1, 1 + MAX_NAMED_SERVERS).map((server) => server.address.id);
  assert.match(
    refused.message,
    new RegExp(
      "^cannot tell the cluster's k: the reachable servers record none, and 5 of its 6 " +
        `servers are unreachable \\(${named.map((id) => `${id}: [^;]+`).join("; ")}; and 2 ` +
        "more\\); give its k \\(-k, replicas\\) if you know it, or start them$",
    ),
  );
  assert.equal(await agree(fake, undefined, true), DEFAULT_K);
  assert.equal(await agree(fake, 3, true), 3);
  assert.deepEqual(recorded(fake), [0, 0, 0, 0, 0, 0], "nothing recorded so far");
  assert.equal(await agree(fake, 2, false), 2);
  assert.deepEqual(recorded(fake), [2, 0, 0, 0, 0, 0]);

  const allDown = cluster([0, 0], [0, 1]);
  const none = await agree(allDown, undefined, false);
  assert.ok(none instanceof ClusterKUnknownError);
  assert.match(none.message, /^cannot tell the cluster's k: none of its 2 servers is reachable/);
});

Deno.test("a k recorded on a reachable server is used and restored to reachable servers recording none, by any client, whoever is down", async () => {
  for (const readOnly of [false, true]) {
    const fake = cluster([2, 0, 0], [2]);
    assert.equal(await agree(fake, undefined, readOnly), 2);
    assert.deepEqual(recorded(fake), [2, 2, 0]);
    const other = await agree(fake, 1, readOnly);
    assert.ok(other instanceof ClusterKError && !(other instanceof ClusterKUnknownError));
    assert.match(other.message, /^asked for k=1, but the cluster records k=2/);
  }
  const split = await agree(cluster([2, 1, 0], []), undefined, true);
  assert.ok(split instanceof ClusterKError);
  assert.match(split.message, /^the servers record different replication factors/);
});

Deno.test("recordK with restoreOnly (a read-only broker's watch) gives a k only where the reachable servers record it already, and takes no side when they record different ks", async () => {
  const fresh = cluster([0, 0, 0], [2]);
  const pool = new ServerPool(fresh.addresses, { connect: fresh.connect });
  try {
    await pool.start();
    assert.deepEqual(await recordK(pool, 1, { restoreOnly: true }), []);
    assert.deepEqual(recorded(fresh), [0, 0, 0], "no k fixed");
  } finally {
    pool.close();
  }
  for (const [ks, after] of [[[2, 0, 2], [2, 2, 2]], [[2, 0, 1], [2, 0, 1]]]) {
    const known = cluster(ks, []);
    const knownPool = new ServerPool(known.addresses, { connect: known.connect });
    try {
      await knownPool.start();
      assert.deepEqual(await recordK(knownPool, 2, { restoreOnly: true }), []);
      assert.deepEqual(recorded(known), after, "restored only where all agree");
    } finally {
      knownPool.close();
    }
  }
});

/**
 * `fake.connect`, but SET_K to server `index` goes through `around[index]`, which sends it
 * (`send`) when it likes: a slow link to that server, on the test's cue.
 */
function setKThrough(
  fake: FakeCluster,
  around: Record<number, (send: () => Promise<number>) => Promise<number>>,
): Connector {
  return async (address, timeoutMs, credentials) => {
    const connection = await fake.connect(address, timeoutMs, credentials);
    const index = fake.servers.findIndex((server) => server.address.id === address.id);
    const through = around[index];
    if (through === undefined) return connection;
    return overridden(connection, {
      setK: (k, options) => through(() => connection.setK(k, options)),
    });
  };
}

Deno.test("two writing clients fixing different ks on a new cluster at once leave it recording one: the one refused records nothing, whatever order their SET_Ks reach the servers in", async () => {
  const fake = cluster([0, 0], []);
  // Each client's SET_K reaches one server after the other client's: server 0 takes the
  // first client's first; server 1 the second's (or the first's once the second is done).
  const firstAtZero = Promise.withResolvers<void>();
  const secondDone = Promise.withResolvers<void>();
  const first = new ServerPool(fake.addresses, {
    connect: setKThrough(fake, {
      0: (send) => send().finally(() => firstAtZero.resolve()),
      1: (send) => secondDone.promise.then(send),
    }),
  });
  const second = new ServerPool(fake.addresses, {
    connect: setKThrough(fake, { 0: (send) => firstAtZero.promise.then(send) }),
  });
  try {
    await Promise.all([first.start(), second.start()]);
    const agreed = await Promise.allSettled([
      agreeOnK(first, 1),
      agreeOnK(second, 2).finally(() => secondDone.resolve()),
    ]);
    assert.deepEqual(recorded(fake), [1, 1], "one k on every server");
    assert.deepEqual(agreed[0], { status: "fulfilled", value: 1 });
    assert.ok(agreed[1].status === "rejected" && agreed[1].reason instanceof ClusterKError);
    assert.match(agreed[1].reason.message, /another broker recorded a different k meanwhile/);
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("a running broker follows a k that kv repair -k records on every server: the write that meets it lands on the new k's servers; one given its k refuses writes, as do servers recording different ks", async () => {
  const fake = cluster([2, 2, 2, 2], []);
  const following = await fake.openBroker({});
  const given = await fake.openBroker({ k: 2 });
  const holders = (key: string) => fake.servers.filter((server) => server.records.has(key));
  try {
    // What kv repair -k 3 does first: SET_K with replace, on every server.
    for (const server of fake.servers) server.nodeState = { ...server.nodeState, k: 3 };
    const put = await following.put("person1", int(1));
    assert.equal(put.kind, "done", JSON.stringify(put));
    assert.equal(following.k, 3);
    assert.equal(holders("person1").length, 3);
    const refused = await given.put("person2", int(2));
    assert.equal(refused.kind, "error");
    assert.match(
      refused.kind === "error" ? refused.error : "",
      /^cannot put 'person2': the servers now record k=3 \(kv repair -k changed it\), but this broker was given k=2 \(-k, replicas\): writes are refused; start it again without -k to follow the cluster's k; nothing was changed$/,
    );
    assert.equal(given.k, 2);
    assert.equal(holders("person2").length, 0, "nothing was stored");

    // A change cut off half way: no k to follow, writes refused until the servers agree.
    // A key placed on server 0, the one left behind, so the write asks it.
    const key = Array.from({ length: 100 }, (_, i) => `person${i + 3}`)
      .find((candidate) => following.replicasOf(candidate).includes(0))!;
    fake.servers[0].nodeState = { ...fake.servers[0].nodeState, k: 2 };
    const halfWay = await following.put(key, int(3));
    assert.match(
      halfWay.kind === "error" ? halfWay.error : "",
      /the servers record different replication factors \(k=2: [^;]+; k=3: [^)]+\); settle one with kv repair -k 3 or kv repair -k 2; nothing was changed$/,
    );
    fake.servers[0].nodeState = { ...fake.servers[0].nodeState, k: 3 };
    assert.equal((await following.put(key, int(3))).kind, "done");
    assert.equal(holders(key).length, 3);
  } finally {
    following.close();
    given.close();
  }
});

Deno.test("a write during a k change, stored on servers still marked under the old k, is warned with what a k change needs (the repair that changed k marks them; else kv repair -s), not told to give the client another server list", async () => {
  const fake = cluster([2, 2, 2, 2], []);
  const identities = fake.addresses.map((address) => address.identity);
  for (const server of fake.servers) {
    server.nodeState = { unrepaired: false, k: 2, repairedUnder: listFingerprint(identities, 2) };
  }
  const broker = await fake.openBroker({});
  try {
    // kv repair -k 3's first step; its marks under k=3 come at its end.
    for (const server of fake.servers) server.nodeState = { ...server.nodeState, k: 3 };
    const put = await broker.put("person1", int(1));
    assert.equal(put.kind, "done", JSON.stringify(put));
    const warning = put.kind === "done" ? put.warning ?? "" : "";
    assert.match(
      warning,
      /^stored on [^,]+, [^,]+, [^,]+, which were marked repaired under k=2, not k=3, the k the servers record now \(kv repair -k changed it\): this write is placed under k=3, but until a repair marks them under it, reads through them carry warnings; the kv repair -k that changed k marks them at its end \(if it was stopped, run kv repair -s FILE\)$/,
    );
    assert.doesNotMatch(warning, /another server list/);
  } finally {
    broker.close();
  }
});

Deno.test("a write in flight while kv repair -k lowers k, stored on its old k's first servers, is acknowledged without a warning once the broker follows the new k (it threw 'a copy beyond the front went past a server of the front' and a kv broker died of it)", async () => {
  const fake = cluster([2, 2, 2, 2], []);
  const broker = await fake.openBroker({});
  try {
    const key = "person1";
    const [first, second] = broker.preferenceList(partitionOf(key));
    // The write lands on both of its k=2 servers; the second's answer waits.
    const release = fake.servers[second].hold("next write answer");
    const put = broker.put(key, int(1));
    await waitFor(() => fake.servers[second].records.has(key), { what: "the second copy stored" });
    // What kv repair -k 1 does first: SET_K with replace, on every server; the broker
    // follows it at its next k check.
    for (const server of fake.servers) server.nodeState = { ...server.nodeState, k: 1 };
    await waitFor(() => broker.k === 1, { what: "the broker to follow k=1" });
    release();
    const done = await put;
    assert.equal(done.kind, "done", JSON.stringify(done));
    assert.equal(done.kind === "done" ? done.warning : "", undefined, "its k=1 home holds it");
    assert.deepEqual(
      fake.holders(key).sort(),
      [first, second].map((i) => fake.servers[i].address.id).sort(),
    );
  } finally {
    broker.close();
  }
});

Deno.test("someNamed names MAX_NAMED_SERVERS and counts the rest; namedServers so names servers and why", () => {
  assert.equal(MAX_NAMED_SERVERS, 3);
  assert.equal(someNamed(["a", "b", "c"]), "a, b, c");
  assert.equal(someNamed(["a", "b", "c", "d", "e"]), "a, b, c and 2 more");
  assert.equal(someNamed(["a: x", "b: y", "c: z", "d: w"], "; "), "a: x; b: y; c: z; and 1 more");
  const down = ["a", "b", "c", "d"].map((server) => ({ server, error: "cannot connect" }));
  assert.equal(
    namedServers(down),
    "a: cannot connect; b: cannot connect; c: cannot connect; and 1 more",
  );
});
