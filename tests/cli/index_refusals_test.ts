// `kv broker -i` against real servers of which one refuses the records: its disk is full
// (READ_ONLY) or its frame limit is smaller than they are. A plain PUT stores each such
// record on the next server of its list; so must the load (README, "Where a key lives;
// writes that survive a down server").
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { serverContents } from "../helpers/server_contents.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { connectClient } from "../helpers/client.ts";
import { at } from "../helpers/versions.ts";
import { str } from "../../lib/record/value.ts";
import { ServerError } from "../../lib/protocol/client.ts";
import { ErrorCode } from "../../lib/protocol/mod.ts";

/** Indexes `lines` into `cluster` with k=2 and returns the run. */
async function indexInto(cluster: KvCluster, lines: string[]) {
  const data = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(data, lines.join(""));
    return await runKv(
      withBrokerTimeout([
        "broker",
        "-s",
        cluster.serverFile,
        "-k",
        "2",
        "-i",
        data,
        "--index-only",
      ]),
    );
  } finally {
    await Deno.remove(data);
  }
}

/** How many of `cluster`'s servers hold each of `keys`, and which server holds none. */
async function copiesOf(cluster: KvCluster, keys: string[]) {
  const held = await Promise.all(cluster.servers.map((server) => serverContents(server.address)));
  return {
    counts: keys.map((key) => held.filter((contents) => contents.has(key)).length),
    onFirst: keys.filter((key) => held[0].has(key)),
  };
}

tmpfsTest({
  name:
    "kv broker -i stores on the next server the records a server with a full disk refuses (READ_ONLY)",
  short: "kv broker -i past a full disk",
  megabytes: 1,
}, async (mount) => {
  await using cluster = await KvCluster.start(3, {
    server: (index) => ({ args: index === 0 ? ["--data-dir", `${mount}/data`] : [] }),
  });
  // Fill the disk, then the server's log: it answers READ_ONLY from its first failed write.
  using ballast = await Deno.open(`${mount}/ballast`, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  for (let written = 0;; written++) {
    assert(written <= 32, "the 1 MiB disk never filled");
    try {
      await ballast.write(chunk);
    } catch (error) {
      if (!(error instanceof Error && /space/i.test(error.message))) throw error;
      break;
    }
  }
  const client = await connectClient(cluster.servers[0].address);
  try {
    for (let n = 0;; n++) {
      assert(n < 1000, "the server never became read-only");
      try {
        await client.put(`fill${n}`, str("v".repeat(16 * 1024)), at());
      } catch (error) {
        if (!(error instanceof ServerError) || error.code !== ErrorCode.READ_ONLY) throw error;
        break;
      }
    }
  } finally {
    await client.close();
  }
  const keys = Array.from({ length: 30 }, (_, i) => `s${i}`);
  const run = await indexInto(cluster, keys.map((key, i) => `${key}: {v: ${i}}\n`));
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /indexed 30 records \(0 failed\)/);
  const { counts, onFirst } = await copiesOf(cluster, keys);
  assert.deepEqual(counts, keys.map(() => 2), "every record on k=2 servers");
  assert.deepEqual(onFirst, [], "none on the full disk");
});

Deno.test("kv broker -i stores on the next server the records over one server's frame limit", async () => {
  await using cluster = await KvCluster.start(3, {
    server: (index) => ({ args: index === 0 ? ["--max-frame-bytes", "65536"] : [] }),
  });
  const keys = Array.from({ length: 12 }, (_, i) => `big${i}`);
  const run = await indexInto(cluster, keys.map((key) => `${key}: ${"x".repeat(70_000)}\n`));
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /indexed 12 records \(0 failed\)/);
  const { counts, onFirst } = await copiesOf(cluster, keys);
  assert.deepEqual(counts, keys.map(() => 2), "every record on k=2 servers");
  assert.deepEqual(onFirst, [], "none on the server with the small frame limit");
});
