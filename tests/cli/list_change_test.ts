// Loads and brokers meeting a change of the cluster's server list or k (kv repair -s, kv repair
// -k) while they run: a load onto servers marked under another list says so, a load across a k
// change loses nothing and ends readable under the new k. Real `kv server` processes, small data.
import assert from "node:assert/strict";
import {
  BROKER_TIMEOUT_MS,
  BrokerProcess,
  KvCluster,
  withBrokerTimeout,
} from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { serverContents } from "../helpers/server_contents.ts";
import { waitFor } from "../helpers/wait.ts";
import { HoldingProxy } from "../helpers/holding_proxy.ts";
import { connectClient } from "../helpers/client.ts";
import { ConnectionError } from "../../lib/protocol/client.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { otherListAdvice, REPAIRED_UNDER_OTHER_LIST } from "../../lib/broker/commands.ts";
import type { ServerReport } from "../../lib/broker/broker.ts";
import { listFingerprint, sameList } from "../../lib/broker/list_fingerprint.ts";
import { LIST_CHANGE_UNDER_WAY as CHANGING, MessageType } from "../../lib/protocol/mod.ts";
import { repairCluster, type RepairReport } from "../../lib/broker/repair.ts";
import { ServerPool } from "../../lib/broker/server_pool.ts";
import { readServerList } from "../../lib/broker/server_list.ts";
import { Placement } from "../../lib/broker/placement.ts";

/**
 * What `kv repair -s file` does once its start-up checks pass (lib/cli/repair.ts), in this
 * process, k = 1: a list change run over servers one of which is down. The command refuses
 * such a change when the server is down at its start, so only a server lost after its
 * check leaves the servers re-marked half way, as this does.
 */
async function changeWithServerLost(file: string): Promise<RepairReport> {
  const servers = await readServerList(file);
  const pool = new ServerPool(servers, { timeoutMs: BROKER_TIMEOUT_MS });
  try {
    await pool.start();
    pool.trustUnder(1);
    return await repairCluster(pool, {
      k: 1,
      placement: new Placement(servers.map((server) => server.identity)),
      listTombstones: true,
      listChange: true,
      unrepaired: (index) => pool.trusted(index) === false,
    });
  } finally {
    pool.close();
  }
}

/** `count` record lines, `person<i>: <i>`, and their keys. */
function recordLines(count: number, prefix = "person"): { text: string; keys: string[] } {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  return { text: keys.map((key, i) => `${key}: ${i}\n`).join(""), keys };
}

/** GETs `keys` through one `kv broker --json` over `serverFile`; returns each answer. */
async function getAll(
  serverFile: string,
  keys: readonly string[],
): Promise<{ code: number; stderr: string; answers: Record<string, unknown>[] }> {
  const run = await runKv(withBrokerTimeout(["broker", "-s", serverFile, "--json"]), {
    stdin: keys.map((key) => `GET ${key}\n`).join(""),
  });
  const answers = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  return { code: run.code, stderr: run.stderr, answers };
}

Deno.test("kv broker -i onto servers kv repair -s re-marked under the cluster's new list stores every record and ends with one WARNING line counting them and saying to run kv repair -s with the cluster's list, as kv put warns", async () => {
  await using old = await KvCluster.start(2);
  await using added = await KvCluster.start(1);
  const put = await runKv(withBrokerTimeout(["put", "-s", old.serverFile, "-k", "1", "a: 1"]));
  assert.equal(put.code, 0, put.stderr);
  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    await withTempDir(async (dir) => {
      const { text, keys } = recordLines(12);
      await Deno.writeTextFile(`${dir}/data.txt`, text);
      // A broker still on the old list loads a file: every server is marked under the new one.
      const load = await runKv(
        withBrokerTimeout([
          "broker",
          "-s",
          old.serverFile,
          "-i",
          `${dir}/data.txt`,
          "--index-only",
        ]),
      );
      assert.equal(load.code, 0, load.stderr);
      const warnings = load.stderr.split("\n").filter((line) => line.includes(" records of "));
      assert.equal(warnings.length, 1, load.stderr);
      const warned = new RegExp(
        `^kv broker warn: 12 records of ${dir}/data.txt were stored on (.+), which were ` +
          `repaired under another server list or k than this broker's: clients on that list ` +
          `may not see them until kv repair -s FILE runs with the cluster's server list ` +
          `\\(give this broker that file\\)$`,
      ).exec(warnings[0]);
      assert.ok(warned, warnings[0]);
      // The records are on the old servers (k=1), each of them marked under the new list.
      const oldIds = old.servers.map((server) => server.id);
      for (const id of warned[1].split(", ")) assert.ok(oldIds.includes(id), warnings[0]);
      assert.match(
        load.stderr,
        /indexed 12 records \(0 failed\).*; 12 stored with a warning \(above\)/,
      );
      // What it says to do: a repair over the cluster's list places them where its clients read.
      const again = await runKv(withBrokerTimeout(["repair", "-s", both]));
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const read = await getAll(both, keys);
      assert.equal(read.code, 0, read.stderr);
      assert.deepEqual(read.answers.map((answer) => answer.value), keys.map((_, i) => i));
    });
  });
});

/** `--timeout-ms` of a repair held at a step until killed: longer than any wait of a test. */
const HELD_REPAIR_TIMEOUT_MS = 120_000;

/** Two clusters and a broker on the first's file, from {@link startOldListBroker}. */
interface OldListBroker extends AsyncDisposable {
  /** Two servers holding {@link recordLines}(40), loaded at k=1. */
  readonly old: KvCluster;
  /** Two empty servers, for the new list. */
  readonly added: KvCluster;
  /** The keys of the records `old` holds. */
  readonly keys: string[];
  /** A broker on `old`'s server file (--json) that has already answered a GET. */
  readonly broker: BrokerProcess;
}

/**
 * A broker still on the old server file when a repair moves keys to a new list: its
 * connections are opened, and the servers' marks read, before the repair.
 */
async function startOldListBroker(): Promise<OldListBroker> {
  await using started = new AsyncDisposableStack();
  const old = started.use(await KvCluster.start(2));
  const added = started.use(await KvCluster.start(2));
  const { text, keys } = recordLines(40);
  const load = await runKv(
    withBrokerTimeout(["broker", "-s", old.serverFile, "-k", "1", "-i", "-", "--index-only"]),
    { stdin: text },
  );
  assert.equal(load.code, 0, load.stderr);
  const broker = started.use(BrokerProcess.start(["-s", old.serverFile, "--json"]));
  assert.equal((await broker.ask("GET person0")).value, 0);
  const owned = started.move();
  return { old, added, keys, broker, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** The keys of `keys` that `broker` (--json) answers a plain NOT FOUND: no value, no warning. */
async function plainNotFounds(broker: BrokerProcess, keys: readonly string[]): Promise<string[]> {
  await broker.sendBytes(new TextEncoder().encode(keys.map((key) => `GET ${key}\n`).join("")));
  const plain: string[] = [];
  for (const key of keys) {
    const answer = JSON.parse(await broker.readLine());
    if (answer.value === undefined && answer.warning === undefined) plain.push(key);
  }
  return plain;
}

/** The fingerprint each server of `cluster` is marked repaired under, read in a HELLO of its own. */
async function marks(cluster: KvCluster): Promise<Uint8Array[]> {
  return await Promise.all(cluster.servers.map(async (server) => {
    const client = await connectClient(server.address);
    const mark = client.state.repairedUnder;
    await client.close();
    return mark;
  }));
}

/** On how many servers of `cluster` `key` is stored, asked on a connection of its own to each. */
async function storedOn(cluster: KvCluster, key: string): Promise<number> {
  const held = await Promise.all(cluster.servers.map(async (server) => {
    const client = await connectClient(server.address);
    try {
      return (await client.get(key)).value !== undefined;
    } catch (error) {
      // Closed by a repair's mark of the server (lib/server/server.ts): not known there yet.
      if (error instanceof ConnectionError) return false;
      throw error;
    } finally {
      await client.close();
    }
  }));
  return held.filter(Boolean).length;
}

/** How many of `keys` each server of `cluster` holds (records or tombstones). */
async function heldPerServer(cluster: KvCluster, keys: readonly string[]): Promise<number[]> {
  return await Promise.all(cluster.servers.map(async (server) => {
    const held = await serverContents(server.address);
    return keys.filter((key) => held.has(key)).length;
  }));
}

Deno.test("kv broker -i loading records while kv repair -k 3 runs under it: no record fails or is lost, every one reads back with k=3 without a warning, and a second repair places each on 3 servers", async () => {
  await using cluster = await KvCluster.start(3);
  const { text, keys } = recordLines(240);
  const lines = text.split(/(?<=\n)/);
  const third = lines.length / 3;
  const fix = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(fix.code, 0, fix.stdout + fix.stderr);
  // Records from stdin: the load runs for as long as this test keeps stdin open.
  await using load = BrokerProcess.start(["-s", cluster.serverFile, "-i", "-", "--index-only"]);
  /** Sends lines `from` to `to` and waits until the last one's record is on a server. */
  const sendStored = async (from: number, to: number) => {
    await load.sendBytes(new TextEncoder().encode(lines.slice(from, to).join("")));
    const last = keys[to - 1];
    // A connection of its own each time: the repair's marks close the servers' others.
    await waitFor(async () => (await storedOn(cluster, last)) > 0, { what: `${last} stored` });
  };
  await sendStored(0, third);
  // The second third goes a few records at a time while the k change runs.
  let repairDone = false;
  const repair = runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "3"]))
    .finally(() => repairDone = true);
  let sent = third;
  for (; sent < 2 * third && !repairDone; sent += 4) await sendStored(sent, sent + 4);
  const changed = await repair;
  assert.equal(changed.code, 0, changed.stdout + changed.stderr);
  // It learns the new k within a second (K_CHECK_INTERVAL_MS); the rest goes under it.
  await load.stderrMatching(/this broker now writes and reads with k=3, not 2\n/);
  await load.sendBytes(new TextEncoder().encode(lines.slice(sent).join("")));
  const { code, stderr } = await load.finish();
  assert.equal(code, 0, stderr);
  assert.match(stderr, /indexed 240 records \(0 failed\)/);
  // Servers back recording the new k were followed, not reported as a conflict to settle.
  assert.doesNotMatch(stderr, /settle one with/);
  // Records stored while the repair re-marked the servers are counted as such, never told
  // to take another server list: the list did not change.
  for (const line of stderr.split("\n").filter((text) => text.includes("WARNING"))) {
    assert.match(line, /being re-marked by a kv repair \(one that changes the server list or k,/);
  }
  // The last third, sent once the broker followed the change, is placed under k=3 at once.
  assert.deepEqual(await heldPerServer(cluster, keys.slice(2 * third)), [80, 80, 80]);

  // Read with the k the servers record now: every record, its value, no warning.
  const read = await getAll(cluster.serverFile, keys);
  assert.equal(read.code, 0, read.stderr);
  assert.deepEqual(read.answers.map((answer) => answer.value), keys.map((_, i) => i));
  assert.ok(read.answers.every((answer) => answer.warning === undefined), read.stderr);
  // Records stored under k=2 just before the broker learned k=3 are the next repair's to place.
  const again = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile]));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual(await heldPerServer(cluster, keys), [240, 240, 240]);
});

Deno.test("a broker still on the old server file, its connections open, answers no key moved by kv repair -s over the new list a plain NOT FOUND", async () => {
  await using clusters = await startOldListBroker();
  const { old, added, keys, broker } = clusters;
  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  });
  // About half the keys moved to the added servers, their old copies removed.
  assert.deepEqual(await plainNotFounds(broker, keys), []);
});

Deno.test("kv repair -s over a new list SIGKILLed once it marked the servers as changing lists: brokers on either list answer no key a plain NOT FOUND, kv servers says they are being re-marked and what to run, and the rerun marks them and loses nothing", async () => {
  await using clusters = await startOldListBroker();
  const { old, added, keys, broker } = clusters;
  // The first added server is listed through a proxy that holds the repair's MARK_REPAIRED
  // there: the run marks the old servers in its first step and waits on that server's mark,
  // so it cannot end between two of the polls below, as it did once on a loaded machine; its
  // timeout, longer than any wait of this test, keeps it waiting until it is killed.
  await using proxy = HoldingProxy.start(added.servers[0].address, MessageType.MARK_REPAIRED);
  const proxied = added.servers.map((server, i) =>
    `127.0.0.1 ${i === 0 ? proxy.port : server.port}\n`
  );
  await withTempDir(async (dir) => {
    const both = `${dir}/servers.txt`;
    await Deno.writeTextFile(both, (await Deno.readTextFile(old.serverFile)) + proxied.join(""));
    const child = new Deno.Command(TEST_KV.command, {
      args: [...TEST_KV.args, "repair", "-s", both, "--timeout-ms", `${HELD_REPAIR_TIMEOUT_MS}`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Its first step, before it reads or moves any copy.
      await waitFor(async () => (await marks(old)).every((mark) => sameList(mark, CHANGING)), {
        what: "the old servers to be marked as changing lists",
      });
    } finally {
      child.kill("SIGKILL");
    }
    assert.equal((await child.status).signal, "SIGKILL", "killed before it finished");
    proxy.release();
    assert.deepEqual(await plainNotFounds(broker, keys), [], "the broker on the old list");
    const onNewList = (await getAll(both, keys)).answers;
    const plainOnNewList = keys.filter((_, i) =>
      onNewList[i].value === undefined && onNewList[i].warning === undefined
    );
    assert.deepEqual(plainOnNewList, [], "a broker on the new list");
    const listed = await runKv(["servers", "-s", both, "--json"]);
    const reports = JSON.parse(listed.stdout).servers.slice(0, old.servers.length);
    assert.deepEqual(
      reports.map((report: ServerReport) => report.up && [report.beingRemarked, report.repaired]),
      old.servers.map(() => [true, false]),
      listed.stdout,
    );
    const text = await runKv(["servers", "-s", both]);
    assert.match(
      text.stdout,
      /being re-marked by a kv repair \(not trusted until it ends; if it was stopped, run kv repair -s FILE with the cluster's server list\)/,
    );
    assert.doesNotMatch(text.stdout, /another server list/);

    const again = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const read = await getAll(both, keys);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(read.answers.map((answer) => answer.value), keys.map((_, i) => i));
  });
});

/**
 * Bytes of the k check's request, which a broker sends every server recording a k every
 * `K_CHECK_INTERVAL_MS` (SET_K, `askRecordedK`: a 9-byte header and 2 bytes); the next check
 * waits for every answer of the last, so one server stopped holds every later check.
 */
const K_CHECK_BYTES = 11;

/** Bytes of PARTITION_DIGESTS: a header, no body. */
const DIGESTS_REQUEST_BYTES = 9;

/**
 * Pause between checks of {@link bytesQueuedAt} where what is awaited stays once it came (a
 * request queued at a stopped server): each check starts a `cat`, and the k check awaited
 * comes once a second.
 */
const QUEUE_POLL_INTERVAL_MS = 100;

/**
 * The bytes waiting unread in the kernel for the server listening on `port` (127.0.0.1), over
 * all its established connections (/proc/net/tcp's receive queues): a server stopped with
 * SIGSTOP reads nothing, so they are the requests that reached it since.
 */
async function bytesQueuedAt(port: number): Promise<number> {
  // Read by cat: Deno reads /proc only with --allow-all, which the suite does not give.
  const cat = await new Deno.Command("cat", { args: ["/proc/net/tcp"], stderr: "inherit" })
    .output();
  assert.ok(cat.success, "cat /proc/net/tcp");
  const table = new TextDecoder().decode(cat.stdout);
  const localPort = port.toString(16).toUpperCase().padStart(4, "0");
  let queued = 0;
  for (const line of table.split("\n").slice(1)) {
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (local === undefined || !local.endsWith(`:${localPort}`) || state !== "01") continue;
    queued += parseInt(queues.split(":")[1], 16);
  }
  return queued;
}

Deno.test("an old-list broker's background repair that read a restored server before kv repair -s over a new list re-marked it cannot mark it under the old list afterwards: it logs why, the server stays marked as changing lists, and the broker answers no key the change moved a plain NOT FOUND", async () => {
  // S0–S2 durable, k=1.
  await using old = await KvCluster.start(3, { durable: true });
  await using added = await KvCluster.start(1);
  const { text, keys } = recordLines(300);
  const load = await runKv(
    withBrokerTimeout(["broker", "-s", old.serverFile, "-k", "1", "-i", "-", "--index-only"]),
    { stdin: text },
  );
  assert.equal(load.code, 0, load.stderr);
  const oldList = listFingerprint(old.servers.map((server) => server.id), 1);
  const [s0, s1, s2] = old.servers;
  // A broker kept on the old file, as the procedure has brokers until the change exits 0;
  // nothing it waits for counts a server down while the test holds it.
  await using broker = BrokerProcess.start([
    "-s",
    old.serverFile,
    "--json",
    "--timeout-ms",
    "600000",
  ]);
  assert.equal((await broker.ask("GET person0")).value, 0);

  // S1 stopped holds the broker's k checks: once one waits there, the broker sends nothing
  // unasked (its keep-alive PING follows 10 s without a request). S2 stopped then, with
  // nothing waiting, shows the next request it is sent.
  s1.signal("SIGSTOP");
  await waitFor(async () => await bytesQueuedAt(s1.port) === K_CHECK_BYTES, {
    what: "a k check of the broker to wait at the stopped S1",
    intervalMs: QUEUE_POLL_INTERVAL_MS,
  });
  await waitFor(async () => {
    s2.signal("SIGSTOP");
    if (await bytesQueuedAt(s2.port) === 0) return true;
    s2.signal("SIGCONT");
    return false;
  }, { what: "S2 stopped with no request waiting" });
  // S0 comes back from a restored backup: unrepaired, its data kept. The broker's background
  // repair starts refilling it: it reads S0's mark, and asks every server for its digests.
  await s0.kill();
  await using restored = await ServerProcess.start({
    kv: TEST_KV,
    port: s0.port,
    dataDir: s0.dataDir,
    args: ["--mark-unrepaired"],
  });
  await waitFor(async () => await bytesQueuedAt(s2.port) === DIGESTS_REQUEST_BYTES, {
    what: "the broker's background repair to ask the stopped S2 for its digests",
    intervalMs: QUEUE_POLL_INTERVAL_MS,
  });
  // The broker stops there, its run in flight; S1 answers into its socket.
  broker.signal("SIGSTOP");
  s1.signal("SIGCONT");

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    // The change runs with S2 down, so that it moves copies off S0 but marks nothing at its
    // end; S2's digests reach the broker from its restart, asked again.
    await s2.kill();
    const change = await changeWithServerLost(both);
    assert.equal(change.inOrder, false, JSON.stringify(change));
    await s2.restart();
    // What each holds, read once: nothing writes to them now (the broker is stopped).
    const [onAdded, onRestored] = await Promise.all(
      [added.servers[0].address, restored.address].map(serverContents),
    );
    const moved = keys.filter((key) =>
      onAdded.get(key)?.tombstone === false && !onRestored.has(key)
    );
    assert.ok(moved.length > 0, "the change moved keys to the added server");

    broker.signal("SIGCONT");
    const markOfS0 = async () => (await marks(old))[0];
    await waitFor(
      async () =>
        sameList(await markOfS0(), oldList) || broker.stderr.includes("background repair ("),
      { what: "the broker's background repair to end: S0 marked, or a line saying why not" },
    );
    const plain = await plainNotFounds(broker, moved);
    assert.ok(!sameList(await markOfS0(), oldList), "S0 is not marked under the old list");
    assert.ok(sameList(await markOfS0(), CHANGING), "S0 stays marked as changing lists");
    assert.deepEqual(plain, [], "the old-list broker answers no moved key a plain NOT FOUND");
    assert.match(
      broker.stderr,
      new RegExp(
        `${restored.id}: not marked repaired: another repair re-marked it while this one ran ` +
          `\\(a kv repair under way marks it under its list at its end\\), so what this one ` +
          "read no longer vouches for it",
      ),
    );
    // The change run again, with every server up, finishes and loses nothing.
    const again = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const read = await getAll(both, keys);
    assert.deepEqual(read.answers.map((answer) => answer.value), keys.map((_, i) => i));
  });
});

Deno.test("after a completed list change, kv servers over the old file does not tell it to run kv repair over the old file alone, which would revert the change: it names both possibilities, in its rows and in --json's advice", async () => {
  await using old = await KvCluster.start(2);
  await using added = await KvCluster.start(1);
  const put = await runKv(withBrokerTimeout(["put", "-s", old.serverFile, "-k", "1", "a: 1"]));
  assert.equal(put.code, 0, put.stderr);
  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const change = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(change.code, 0, change.stdout + change.stderr);
  });
  const repair = `kv repair -s ${old.serverFile}`;
  const status = await runKv(withBrokerTimeout(["servers", "-s", old.serverFile]));
  assert.equal(status.code, 0, status.stderr);
  const rows = status.stdout.trim().split("\n");
  assert.equal(rows.length, 2, status.stdout);
  for (const row of rows) {
    assert.ok(
      row.endsWith(`${REPAIRED_UNDER_OTHER_LIST} (not trusted: ${otherListAdvice(repair)})`),
      row,
    );
  }
  assert.match(otherListAdvice(repair), /otherwise give this client the cluster's server file$/);
  const json = await runKv(withBrokerTimeout(["servers", "-s", old.serverFile, "--json"]));
  assert.equal(
    JSON.parse(json.stdout).advice,
    `${old.servers.map((server) => server.id).join(", ")} were ${REPAIRED_UNDER_OTHER_LIST}: ` +
      otherListAdvice(repair),
  );
});
