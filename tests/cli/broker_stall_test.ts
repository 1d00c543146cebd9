/**
 * A broker that was itself not running (stopped, starved of CPU) past its `--timeout-ms`
 * reads the answers that came meanwhile before it judges a server silent
 * (lib/protocol/client.ts, STALL_RECHECK_TURNS): healthy servers are not counted down for
 * its own stall. A server that is itself stopped still is (tests/broker/fault_test.ts).
 */
import assert from "node:assert/strict";
import { BROKER_TIMEOUT_MS, BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { connectClient } from "../helpers/client.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * Bytes received and not yet read by established TCP sockets over 127.0.0.1 whose local
 * port (`side` "local": a server's end) or remote port ("remote": a client's end to that
 * server) is `port`, from the kernel's table (/proc/net/tcp).
 */
async function unreadBytes(port: number, side: "local" | "remote"): Promise<number> {
  // Read by `cat`: Deno lets only --allow-all read /proc, and the suite runs without it.
  const table = await new Deno.Command("cat", { args: ["/proc/net/tcp"] }).output();
  const rows = new TextDecoder().decode(table.stdout).trim().split("\n").slice(1);
  let unread = 0;
  for (const row of rows) {
    const [, local, remote, state, queues] = row.trim().split(/\s+/);
    const address = side === "local" ? local : remote;
    const ESTABLISHED = "01";
    if (state !== ESTABLISHED || parseInt(address.split(":")[1], 16) !== port) continue;
    unread += parseInt(queues.split(":")[1], 16);
  }
  return unread;
}

Deno.test("a kv broker stopped (SIGSTOP) past its --timeout-ms while its servers answered it, then resumed, counts no server down and fails no record", async () => {
  const RECORDS = 1000;
  await using cluster = await KvCluster.start(2);
  const ports = cluster.servers.map((server) => server.port);
  await using loader = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "-i", "-"]);
  const clients = await Promise.all(cluster.servers.map((server) => connectClient(server.address)));
  const stored = async () =>
    await Promise.all(clients.map(async (c) => (await c.stats()).recordCount));
  try {
    // The first record stored and answered on both servers: the broker waits on nothing.
    await loader.send("first : 0");
    await waitFor(async () => (await stored()).every((count) => count === 1), {
      what: "the broker to load its first record",
    });
    for (const port of ports) {
      await waitFor(async () => await unreadBytes(port, "remote") === 0, {
        what: `the broker to read the answers of the server on port ${port}`,
      });
    }
    // The servers stopped, the broker's batches wait in their sockets, unanswered.
    for (const server of cluster.servers) server.signal("SIGSTOP");
    let sentBy = 0;
    try {
      const lines = Array.from({ length: RECORDS }, (_, i) => `k${i} : ${i}\n`).join("");
      await loader.sendBytes(new TextEncoder().encode(lines));
      for (const port of ports) {
        await waitFor(async () => await unreadBytes(port, "local") > 0, {
          what: `the broker's batch in the socket of the server on port ${port}`,
        });
      }
      sentBy = performance.now();
      loader.signal("SIGSTOP");
    } finally {
      for (const server of cluster.servers) server.signal("SIGCONT");
    }
    try {
      // The servers store the batches and answer into the stopped broker's sockets.
      await waitFor(async () => (await stored()).every((count) => count === RECORDS + 1), {
        what: "the servers to store the batches",
      });
      for (const port of ports) {
        await waitFor(async () => await unreadBytes(port, "remote") > 0, {
          what: `the answer of the server on port ${port} in the broker's socket`,
        });
      }
      // The stall itself, the subject: the broker resumes past every deadline of its batches.
      const stall = sentBy + BROKER_TIMEOUT_MS - performance.now();
      await new Promise((resolve) => setTimeout(resolve, stall));
    } finally {
      loader.signal("SIGCONT");
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  const loaded = await loader.finish();
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stderr, new RegExp(`indexed ${RECORDS + 1} records \\(0 failed\\)`));
  assert.doesNotMatch(loaded.stderr, /is down/);
});
