// markEmptyClusterRepaired over in-memory fake servers (tests/helpers/fake_cluster.ts):
// when a cluster counts as empty, and that only the process found empty is marked.
import assert from "node:assert/strict";
import { FakeCluster } from "../helpers/fake_cluster.ts";
import { ServerPool } from "../../lib/broker/server_pool.ts";
import { markEmptyClusterRepaired } from "../../lib/broker/empty_cluster.ts";
import { int } from "../../lib/record/value.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("a cluster holding tombstones and no record is not empty: a server that restarted and lost a delete stays unrepaired", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2 });
  const pool = new ServerPool(cluster.addresses, { connect: cluster.connect });
  try {
    const [first, second] = broker.preferenceList(partitionOf("person1"));
    assert.equal((await broker.delete("person1")).kind, "done");
    assert.notEqual(cluster.servers[second].trie.versionOf("person1"), undefined);
    // The first replica loses the delete; a write stamped before it by a lagging clock
    // must still meet it, so the first cannot be vouched for while the second holds it.
    cluster.servers[first].restart();
    await pool.start();
    pool.trustUnder(2);
    assert.deepEqual(await markEmptyClusterRepaired(pool), []);
    assert.equal(cluster.servers[first].nodeState.unrepaired, true);
  } finally {
    pool.close();
    broker.close();
  }
});

Deno.test("a server that restarts after it was found empty is not marked repaired: the process marked is the one found empty", async () => {
  const cluster = new FakeCluster(3);
  const writer = await cluster.openBroker({ k: 2 });
  const [first, second, third] = writer.preferenceList(partitionOf("person1"));
  const answered = new Set<number>();
  // Once every server has told its (empty) contents, a write lands on the first two
  // replicas and the first restarts empty, losing it, before any server is marked.
  const pool = new ServerPool(cluster.addresses, {
    connect: async (address, timeoutMs, credentials) => {
      const connection = await cluster.connect(address, timeoutMs, credentials);
      const index = cluster.addresses.findIndex((candidate) => candidate.id === address.id);
      const digests = connection.partitionDigests.bind(connection);
      connection.partitionDigests = async () => {
        const table = await digests();
        answered.add(index);
        if (index !== third) return table;
        await waitFor(() => answered.size === 3, { what: "every server to tell its contents" });
        assert.equal((await writer.put("person1", int(1))).kind, "done");
        cluster.servers[first].restart();
        return table;
      };
      return connection;
    },
  });
  try {
    cluster.servers[first].restart();
    await pool.start();
    pool.trustUnder(2);
    assert.deepEqual(await markEmptyClusterRepaired(pool), []);
    assert.equal(cluster.servers[first].nodeState.unrepaired, true);
    // The write is on the second replica alone: with it down, a read cannot vouch for
    // a NOT FOUND.
    cluster.servers[second].state = "crashed";
    const answer = await writer.get("person1");
    assert.ok(answer.kind === "not-found", JSON.stringify(answer));
    assert.match(answer.warning ?? "no warning", /the record may exist/);
  } finally {
    pool.close();
    writer.close();
  }
});
