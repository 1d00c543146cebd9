// A version far ahead of the wall clock — written by a broker or client with a wrong clock,
// here straight to real `kv server` processes — neither drags a broker's clock along nor
// crashes it: reads answer it, a write of its key is ordered after it, other writes keep
// today's time, and a key holding the newest version there can be refuses writes in an
// error answer.
import assert from "node:assert/strict";
import { Broker } from "../../lib/broker/broker.ts";
import { MAX_CLOCK_AHEAD_MS } from "../../lib/broker/clock.ts";
import { readServerList } from "../../lib/broker/server_list.ts";
import { int, str } from "../../lib/record/value.ts";
import {
  compareVersions,
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  type Version,
} from "../../lib/record/version.ts";
import { connectClient } from "../helpers/client.ts";
import { BROKER_TIMEOUT_MS, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";

/** Far ahead: a few ms before the end of the u48 (the year 10889). */
const FAR: Version = { ms: MAX_VERSION_MS - 5, counter: 0, broker: 99 };
/** The newest version there can be. */
const LAST: Version = {
  ms: MAX_VERSION_MS,
  counter: MAX_VERSION_COUNTER,
  broker: MAX_VERSION_BROKER,
};

/** Whether `version` is no further ahead of now than the clock's bound. */
function today(version: Version): boolean {
  return version.ms <= Date.now() + MAX_CLOCK_AHEAD_MS;
}

Deno.test("a far-future version is read, written after, and leaves the broker's clock at today's time; the newest possible one refuses writes without a crash", async () => {
  await using cluster = await KvCluster.start(2);
  // Opened first: it marks the new cluster's servers repaired, so their answers count.
  const broker = await Broker.open(await readServerList(cluster.serverFile), {
    k: 2,
    timeoutMs: BROKER_TIMEOUT_MS,
  });
  try {
    for (const server of cluster.servers) {
      const client = await connectClient(server.address);
      try {
        assert.equal(
          (await client.put("far", str("wrong clock"), { version: FAR })).kind,
          "stored",
        );
        assert.equal((await client.put("last", str("end"), { version: LAST })).kind, "stored");
      } finally {
        await client.close();
      }
    }
    const read = await broker.get("far");
    assert.deepEqual(read, { kind: "found", value: str("wrong clock"), version: FAR });
    const other = await broker.put("other", int(1));
    assert.ok(other.kind === "done" && today(other.version), JSON.stringify(other));

    const rewritten = await broker.put("far", str("right"));
    assert.ok(rewritten.kind === "done", JSON.stringify(rewritten));
    assert.ok(compareVersions(rewritten.version, FAR) > 0, "ordered after the far version");
    assert.deepEqual(await broker.get("far"), {
      kind: "found",
      value: str("right"),
      version: rewritten.version,
    });
    const deleted = await broker.delete("far");
    assert.ok(deleted.kind === "done" && compareVersions(deleted.version, rewritten.version) > 0);
    assert.equal((await broker.get("far")).kind, "not-found");

    assert.equal((await broker.get("last")).kind, "found");
    const refused = await broker.put("last", str("after the end"));
    assert.equal(refused.kind, "error");
    assert.match(
      refused.kind === "error" ? refused.error : "",
      /^cannot put 'last': it holds version ffffffffffffffffffffffff, the newest there can be/,
    );
    assert.deepEqual(await broker.get("last"), { kind: "found", value: str("end"), version: LAST });

    const later = await broker.put("other", int(2));
    assert.ok(later.kind === "done" && today(later.version), JSON.stringify(later));
    assert.ok(other.kind === "done" && compareVersions(later.version, other.version) > 0);
  } finally {
    broker.close();
  }
});

Deno.test("two lines of one key indexed over a far version: the later line stands on every replica, each under its own version", async () => {
  await using cluster = await KvCluster.start(2);
  const s = ["-s", cluster.serverFile];
  // Records k=2 and marks the new cluster's servers repaired, so their answers count.
  const first = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "seed: 0"]));
  assert.equal(first.code, 0, first.stderr);
  for (const server of cluster.servers) {
    const client = await connectClient(server.address);
    try {
      assert.equal((await client.put("far", str("wrong clock"), { version: FAR })).kind, "stored");
    } finally {
      await client.close();
    }
  }
  // Both lines go in one batch, both are refused as STALE and written again after FAR:
  // the same version for both made the second a copy of the first, reported indexed.
  const data = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(data, "far: 1\nfar: 2\n");
    const index = await runKv(withBrokerTimeout(["broker", ...s, "-i", data, "--index-only"]));
    assert.equal(index.code, 0, index.stderr);
    assert.match(index.stderr, /indexed 2 records \(0 failed\)/);
  } finally {
    await Deno.remove(data);
  }
  const held = await Promise.all(cluster.servers.map(async (server) => {
    const client = await connectClient(server.address);
    try {
      return await client.get("far");
    } finally {
      await client.close();
    }
  }));
  for (const read of held) {
    assert.deepEqual(read.value, int(2), "the later line stands");
    assert.ok(read.version !== undefined && compareVersions(read.version, FAR) > 0);
  }
  assert.deepEqual(held[0].version, held[1].version, "one version on both replicas");
});
