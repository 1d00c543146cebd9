// A running kv broker repairs in the background (lib/broker/background_repair.ts), with real
// servers and a real broker process: a memory-only server that restarts empty is refilled from
// the other replicas and marked repaired, with no command asking for it.
import assert from "node:assert/strict";
import { BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { homes, serverContents } from "../helpers/server_contents.ts";
import { connectClient } from "../helpers/client.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("a running broker refills a memory-only server that restarted empty, and marks it repaired", async () => {
  await using cluster = await KvCluster.start(3);
  const data = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    const lines = Array.from({ length: 120 }, (_, i) => `person${i}: { "age" : ${i} }\n`);
    await Deno.writeTextFile(data, lines.join(""));
    await using broker = BrokerProcess.start([
      "-s",
      cluster.serverFile,
      "-k",
      "2",
      "-i",
      data,
      "--json",
    ]);
    // Commands are answered once the file is indexed.
    assert.deepEqual((await broker.ask("GET person1")).value, { age: 1 });

    const restarted = cluster.servers[1];
    await restarted.restart();
    const homeOf = await homes(cluster.serverFile, 2);
    const expected = Array.from({ length: 120 }, (_, i) => `person${i}`)
      .filter((key) => homeOf(key).includes(restarted.id));
    await waitFor(async () => {
      const held = await serverContents(restarted.address);
      return expected.every((key) => held.has(key));
    }, { what: `the broker to refill ${restarted.id}`, intervalMs: 100 });
    await waitFor(async () => {
      const client = await connectClient(restarted.address);
      const { unrepaired } = client.state;
      await client.close();
      return !unrepaired;
    }, { what: `the broker to mark ${restarted.id} repaired`, intervalMs: 100 });
    const held = await serverContents(restarted.address);
    assert.deepEqual([...held.keys()].sort(), expected.sort(), "its keys and no others");
    // SERVERS asks every server over the connections the repair used: its answer comes after
    // MARK_REPAIRED's, so once it is printed the broker has logged the repair.
    await broker.ask("SERVERS");
    const { code, stderr } = await broker.finish();
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      new RegExp(
        `background repair \\(.*${restarted.id} is unrepaired.*\\) .*marked repaired: .*${restarted.id}`,
      ),
    );
  } finally {
    await Deno.remove(data);
  }
});
