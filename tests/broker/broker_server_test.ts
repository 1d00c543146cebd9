// The broker over real servers and real ServerClient connections, in one process.
import assert from "node:assert/strict";
import { NO_LIST } from "../../lib/protocol/mod.ts";
import { Broker } from "../../lib/broker/broker.ts";
import { indexFile } from "../../lib/broker/indexer.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import { serverAddress } from "../../lib/broker/server_list.ts";
import { int } from "../../lib/record/value.ts";
import { KvServer, MAX_WRITE_LAG_MS } from "../../lib/server/server.ts";
import { HybridClock } from "../../lib/broker/clock.ts";
import { Store } from "../../lib/server/store.ts";
import {
  KEEP_ALIVE_IDLE_TIMEOUT_MS,
  outlastIdleTimeout,
  type StartedServer,
  startServer,
} from "../helpers/in_process_server.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_CLIENT_TIMEOUT_MS } from "../helpers/client.ts";
import { withoutVersion } from "../helpers/versions.ts";

async function withCluster(
  serverCount: number,
  k: number,
  run: (broker: Broker, servers: StartedServer[]) => Promise<void>,
  clock?: HybridClock,
) {
  const servers = await Promise.all(Array.from({ length: serverCount }, () => startServer()));
  const broker = await Broker.open(
    servers.map((started) => serverAddress(started.address.hostname, started.address.port)),
    { k, timeoutMs: TEST_CLIENT_TIMEOUT_MS, clock },
  );
  try {
    await run(broker, servers);
  } finally {
    broker.close();
    await Promise.all(servers.map((started) => started.stop()));
  }
}

Deno.test("a broker indexes the original's data file and answers from real servers", async () => {
  await withCluster(4, 2, async (broker) => {
    const file = "testdata/compat/seed-dialect.txt";
    const summary = await indexFile(broker, file, {
      progress: { update() {}, finish() {} },
      report: (line) => assert.fail(line),
    });
    const lines = (await Deno.readTextFile(file)).split("\n").filter((line) => line.trim());
    assert.equal(summary.indexedCount, lines.length);
    for (const line of lines) {
      const { key, value } = parseRecordLine(line);
      assert.deepEqual(withoutVersion(await broker.get(key)), { kind: "found", value });
    }
    const keys = await broker.keys("person", 1000);
    assert.equal(keys.keys.length, lines.length);
    assert.equal(keys.more, false);
    const reports = await broker.servers();
    const total = reports.reduce((sum, report) => sum + (report.up ? report.records : 0), 0);
    assert.equal(total, lines.length * 2);
  });
});

Deno.test("DELETE person3 leaves person30 alone on real servers", async () => {
  await withCluster(3, 2, async (broker) => {
    await broker.put("person3", int(3));
    await broker.put("person30", int(30));
    assert.deepEqual(withoutVersion(await broker.delete("person3")), {
      kind: "done",
      existed: true,
    });
    assert.deepEqual(withoutVersion(await broker.get("person3")), { kind: "not-found" });
    assert.deepEqual(withoutVersion(await broker.get("person30")), {
      kind: "found",
      value: int(30),
    });
  });
});

Deno.test("a broker whose clock lags two days writes at the servers' time: its tombstone outlives a purge pass by the servers' clock, and its indexed records are stamped there too", async () => {
  const twoDays = 2 * 24 * 60 * 60 * 1000;
  const lagging = new HybridClock({ now: () => Date.now() - twoDays });
  await withCluster(2, 2, async (broker, servers) => {
    const before = Date.now();
    assert.equal((await broker.put("person1", int(1))).kind, "done");
    assert.equal((await broker.delete("person1")).kind, "done");
    const file = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(file, '"person2" : 2\n"person3" : 3\n');
      const summary = await indexFile(broker, file, {
        progress: { update() {}, finish() {} },
        report: (line) => assert.fail(line),
      });
      assert.equal(summary.indexedCount, 2);
    } finally {
      await Deno.remove(file);
    }
    for (const { store } of servers) {
      for (const key of ["person1", "person2", "person3"]) {
        assert(store.versionOf(key)!.ms >= before - MAX_WRITE_LAG_MS, key);
      }
      // Stamped two days back, the tombstone was purged at the first pass (README, Tombstones).
      assert.equal(store.purgeTombstones(Date.now()), 0);
      assert.equal(store.tombstoneCount, 1);
    }
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "not-found" });
  }, lagging);
});

Deno.test("a stopped server is marked down; reads still answer from the other replica", async () => {
  await withCluster(2, 2, async (broker, servers) => {
    await broker.put("person1", int(1));
    await servers[0].stop();
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: int(1) });
    assert.deepEqual(withoutVersion(await broker.get("person9")), { kind: "not-found" });
    assert.equal((await broker.delete("person1")).kind, "error");
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: int(1) });
  });
});

Deno.test("a quiet connection outlives the server's idle timeout: the broker keeps it alive", async () => {
  const server = await startServer({ idleTimeoutMs: KEEP_ALIVE_IDLE_TIMEOUT_MS });
  const broker = await Broker.open(
    [serverAddress(server.address.hostname, server.address.port)],
    { k: 1, timeoutMs: TEST_CLIENT_TIMEOUT_MS },
  );
  try {
    await broker.put("person1", int(1));
    const closes: string[] = [];
    broker.pool.changed().then(() => closes.push("state changed"));
    // An idle timeout of silence on the server's clock: the broker's keep-alive pings fill it.
    await outlastIdleTimeout(server.address);
    assert.deepEqual(closes, [], "the connection was never closed");
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: int(1) });
  } finally {
    broker.close();
    await server.stop();
  }
});

Deno.test("a server that restarts while the broker is idle answers the next request without a warning", async () => {
  const first = await startServer();
  const { hostname, port } = first.address;
  const broker = await Broker.open([serverAddress(hostname, port)], {
    k: 1,
    timeoutMs: TEST_CLIENT_TIMEOUT_MS,
  });
  try {
    await broker.put("person1", int(1));
    await first.stop();
    await waitFor(() => !broker.pool.connection(0)?.isOpen, {
      what: "the broker to see the close",
    });
    const store = await Store.open();
    store.put("person1", int(1));
    // It comes back with what it held, as a server with a data dir does: not unrepaired.
    await store.nodeState.markRepaired(broker.pool.listFingerprint!, NO_LIST);
    const second = new KvServer({ store, hostname, port });
    second.listen();
    try {
      assert.deepEqual(withoutVersion(await broker.get("person1")), {
        kind: "found",
        value: int(1),
      });
      assert.deepEqual(withoutVersion(await broker.get("person9")), { kind: "not-found" });
      assert.equal((await broker.delete("person1")).kind, "done");
    } finally {
      await second.close();
    }
  } finally {
    broker.close();
  }
});
