/**
 * Brokers of one process share one placement per server list (Placement.of), and its
 * preference lists are views of one table: nothing a broker does may change them, or
 * every other broker of the process would place keys elsewhere.
 */
import assert from "node:assert/strict";
import { Placement } from "../../lib/broker/placement.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";
import { int, object } from "../../lib/record/value.ts";
import { FakeCluster } from "../helpers/fake_cluster.ts";

Deno.test("two brokers over one server list share its placement, and reads, writes, KEYS and a server down leave every preference list as ranked", async () => {
  const cluster = new FakeCluster(5);
  const brokers = [await cluster.openBroker({ k: 2 }), await cluster.openBroker({ k: 2 })];
  try {
    for (let partition = 0; partition < PARTITION_COUNT; partition += 97) {
      assert.equal(brokers[0].preferenceList(partition), brokers[1].preferenceList(partition));
    }
    const work = async (round: number) => {
      for (const [n, broker] of brokers.entries()) {
        for (let i = 0; i < 40; i++) {
          const key = `person${(i * 7 + n + round) % 60}`;
          await broker.put(key, object([["n", int(i)]]));
          await broker.get(key);
          await broker.query([key, "n"]);
          if (i % 5 === 0) await broker.delete(key);
        }
        await broker.keys("person", 100);
      }
    };
    await work(0);
    // A server down: reads and writes walk past it to the servers after it.
    cluster.servers[1].state = "crashed";
    await work(1);
    const ids = cluster.addresses.map((address) => address.identity);
    const ranked = new Placement(ids);
    const shared = Placement.of(ids);
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      assert.deepEqual(shared.preferenceList(partition), ranked.preferenceList(partition));
    }
  } finally {
    for (const broker of brokers) broker.close();
  }
});
