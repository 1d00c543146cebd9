/**
 * A broker that was itself not running (stopped, starved of CPU) for longer than its
 * `--timeout-ms` reads the answers that came meanwhile before it judges a server silent
 * (lib/protocol/client.ts, STALL_RECHECK_TURNS): healthy servers are not counted down for
 * its own stall. A server that is itself stopped still is (tests/broker/fault_test.ts).
 */
import assert from "node:assert/strict";
import { BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { connectClient } from "../helpers/client.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("a kv broker stopped (SIGSTOP) mid-load for twice its --timeout-ms, then resumed, counts no server down and fails no record", async () => {
  const RECORDS = 40_000;
  const TIMEOUT_MS = 2_000;
  // The stall itself, the subject of the test: every request in flight when it began is
  // past its deadline when it ends, and the servers answered them all meanwhile.
  const STOPPED_MS = 2 * TIMEOUT_MS;
  await using cluster = await KvCluster.start(2);
  const input = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    const lines = Array.from({ length: RECORDS }, (_, i) => `k${i} : { "n" : ${i} }\n`);
    await Deno.writeTextFile(input, lines.join(""));
    await using loader = BrokerProcess.start(
      ["-s", cluster.serverFile, "-k", "2", "-i", input, "--index-only"].concat(
        ["--timeout-ms", `${TIMEOUT_MS}`],
      ),
    );
    const client = await connectClient(cluster.servers[0].address);
    try {
      await waitFor(async () => (await client.stats()).recordCount > 0, {
        what: "the load under way",
      });
      loader.signal("SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, STOPPED_MS));
      const stored = (await client.stats()).recordCount;
      assert(stored < RECORDS, `the load was over before the stall (${stored} records stored)`);
    } finally {
      loader.signal("SIGCONT");
      await client.close();
    }
    const loaded = await loader.finish();
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stderr, new RegExp(`indexed ${RECORDS} records \\(0 failed\\)`));
    assert.doesNotMatch(loaded.stderr, /is down/);
  } finally {
    await Deno.remove(input);
  }
});
