// End to end: the broker's fault-tolerance invariants with real `kv server`
// processes, crashed with SIGKILL and hung with SIGSTOP.
import assert from "node:assert/strict";
import {
  BROKER_TIMEOUT_MS,
  BrokerProcess,
  KvCluster,
  withBrokerTimeout,
} from "../helpers/kv_processes.ts";
import { Broker, type Change } from "../../lib/broker/broker.ts";
import { HybridClock } from "../../lib/broker/clock.ts";
import { readServerList } from "../../lib/broker/server_list.ts";
import { runKv } from "../helpers/run_kv.ts";
import { ServerClient } from "../../lib/protocol/client.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { int, object, str } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { formatVersion, parseVersion, type Version } from "../../lib/record/version.ts";
import { waitFor } from "../helpers/wait.ts";
import { fifo } from "../helpers/fixtures.ts";
import { connectClient } from "../helpers/client.ts";
import { withoutVersion } from "../helpers/versions.ts";

const RECORD_COUNT = 40;

/** How far ahead of the others a broker's clock runs where a test needs one wrong (ms). */
const CLOCK_AHEAD_MS = 40_000;

function recordLine(i: number): string {
  return `"person${i}" : { "name" : "N${i}" ; "age" : ${i} ; "address" : { "street" : "Main" ; "number" : ${i} } }`;
}

/** A temporary data file of RECORD_COUNT records, removed when the test's scope ends. */
async function dataFile(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  const lines = Array.from({ length: RECORD_COUNT }, (_, i) => recordLine(i));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path) };
}

/** A temporary directory, removed with its contents when the test's scope ends. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir();
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The ids of the k servers that hold `key`, best first, as every broker computes them. */
function replicaIds(cluster: KvCluster, key: string, k: number): string[] {
  const ids = cluster.servers.map((server) => server.id);
  return new Placement(ids).replicas(key, k).map((index) => ids[index]);
}

/** A `kv broker --json` over `cluster` with replication `k`, indexing `data` when given. */
function jsonBroker(cluster: KvCluster, k: number, data?: string): BrokerProcess {
  const index = data === undefined ? [] : ["-i", data];
  return BrokerProcess.start([
    "-s",
    cluster.serverFile,
    ...index,
    "-k",
    String(k),
    "--json",
  ]);
}

const QUERIES = [
  ...Array.from({ length: RECORD_COUNT }, (_, i) => `GET person${i}`),
  "GET person99",
  "QUERY person5.address.street",
  "QUERY person5.address.zip",
  "QUERY person77.age",
];

async function askAll(broker: BrokerProcess): Promise<unknown[]> {
  const answers = [];
  for (const query of QUERIES) answers.push(await broker.ask(query));
  return answers;
}

/** Asks SERVERS until the broker reports `id` up (its reconnect backoff runs its course). */
async function waitUntilUp(broker: BrokerProcess, id: string): Promise<void> {
  await waitFor(async () => {
    const { servers } = await broker.ask("SERVERS") as {
      servers: { server: string; up: boolean }[];
    };
    return servers.find((report) => report.server === id)?.up === true;
  }, { what: `the broker to report ${id} up`, intervalMs: 50 });
}

Deno.test("a broker listing servers as localhost finds every record indexed as 127.0.0.1", async () => {
  await using cluster = await KvCluster.start(4);
  await using data = await dataFile();
  await using indexer = jsonBroker(cluster, 2, data.path);
  assert.equal((await indexer.finish()).code, 0);
  const aliases = cluster.servers.map((server) => `localhost:${server.port}`);
  // Placement by the text as written would put some of these keys elsewhere.
  const written = new Placement(aliases);
  const keys = Array.from({ length: RECORD_COUNT }, (_, i) => `person${i}`);
  const writtenIds = (key: string) => written.replicas(key, 2).map((i) => cluster.servers[i].id);
  assert(keys.some((key) => replicaIds(cluster, key, 2).join() !== writtenIds(key).join()));
  await using dir = await tempDir();
  const aliasFile = `${dir.path}/servers.txt`;
  await Deno.writeTextFile(aliasFile, aliases.join("\n") + "\n");
  await using broker = BrokerProcess.start(["-s", aliasFile, "-k", "2", "--json"]);
  for (let i = 0; i < RECORD_COUNT; i++) {
    const answer = await broker.ask(`GET person${i}`);
    assert.equal(answer.found, true, `person${i}: ${JSON.stringify(answer)}`);
  }
});

/** What `server` holds for `key`: its version as text ("none") and whether a value. */
async function heldBy(cluster: KvCluster, id: string, key: string): Promise<string> {
  const client = await connectClient(cluster.byId(id).address);
  try {
    const read = await client.getEncoded(key);
    const version = read.version === undefined ? "none" : formatVersion(read.version);
    return `${version} ${read.encoded === undefined ? "no value" : "value"}`;
  } finally {
    await client.close();
  }
}

Deno.test("a read repairs replicas left different by a PUT and a DELETE that reached one of two", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = jsonBroker(cluster, 2);
  const put = await broker.ask("PUT person1: { age : 1 }");
  assert.equal((await broker.ask("PUT person2: { age : 2 }")).stored, true);
  // What a write cut off after its first replica leaves: a newer version there only.
  const newer: Version = { ...parseVersion(String(put.version)), ms: Date.now() + 60_000 };
  const [put1First, put1Second] = replicaIds(cluster, "person1", 2);
  const [put2First, put2Second] = replicaIds(cluster, "person2", 2);
  const first1 = await connectClient(cluster.byId(put1First).address);
  const first2 = await connectClient(cluster.byId(put2First).address);
  try {
    assert.equal(
      (await first1.putEncoded("person1", encodeValue(int(5)), { version: newer })).kind,
      "stored",
    );
    assert.equal((await first2.delete("person2", { version: newer })).kind, "deleted");
  } finally {
    await first1.close();
    await first2.close();
  }
  assert.notEqual(
    await heldBy(cluster, put1Second, "person1"),
    await heldBy(cluster, put1First, "person1"),
  );
  const got = await broker.ask("GET person1");
  assert.deepEqual(got, {
    op: "GET",
    key: "person1",
    found: true,
    value: 5,
    version: formatVersion(newer),
  });
  assert.deepEqual(await broker.ask("GET person2"), { op: "GET", key: "person2", found: false });
  const expected1 = `${formatVersion(newer)} value`;
  const expected2 = `${formatVersion(newer)} no value`;
  await waitFor(async () =>
    await heldBy(cluster, put1Second, "person1") === expected1 &&
    await heldBy(cluster, put2Second, "person2") === expected2, {
    what: "read repair to bring the second replicas to the newest versions",
    intervalMs: 50,
  });
  assert.equal(await heldBy(cluster, put1First, "person1"), expected1);
  assert.equal(await heldBy(cluster, put2First, "person2"), expected2);
});

Deno.test("a QUERY of a field the newest version dropped is NOT FOUND, though an older replica still holds it, and the read repairs that replica", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = jsonBroker(cluster, 2);
  const put = await broker.ask("PUT person1: { age : 1 ; address : { street : Main } }");
  // A newer version without those fields reaches one replica only, as a write cut off would.
  const newer: Version = { ...parseVersion(String(put.version)), ms: Date.now() + 60_000 };
  const [newerOn, olderOn] = replicaIds(cluster, "person1", 2);
  const client = await connectClient(cluster.byId(newerOn).address);
  try {
    const value = encodeValue(object([["name", str("Ann")]]));
    assert.equal((await client.putEncoded("person1", value, { version: newer })).kind, "stored");
  } finally {
    await client.close();
  }
  assert.equal(await heldBy(cluster, olderOn, "person1"), `${put.version} value`);
  // Said why from the newer version, which lacks the fields: not from the older, which has them.
  for (
    const [path, missed] of [["person1.age", "person1.age"], [
      "person1.address.street",
      "person1.address",
    ]]
  ) {
    assert.deepEqual(await broker.ask(`QUERY ${path}`), {
      op: "QUERY",
      key: path,
      found: false,
      missing: { reason: "no-field", path: missed },
    });
  }
  assert.deepEqual(await broker.ask("QUERY person1.name"), {
    op: "QUERY",
    key: "person1.name",
    found: true,
    value: "Ann",
    version: formatVersion(newer),
  });
  await waitFor(
    async () => await heldBy(cluster, olderOn, "person1") === `${formatVersion(newer)} value`,
    { what: "read repair to bring the older replica to the newest version", intervalMs: 50 },
  );
});

Deno.test("with k-1 servers down, one crashed and one hung, answers are unchanged", async () => {
  await using cluster = await KvCluster.start(4);
  await using data = await dataFile();
  await using broker = jsonBroker(cluster, 3, data.path);
  const hung = cluster.servers[1];
  try {
    const before = await askAll(broker);
    assert.deepEqual(withoutVersion(before[0] as object), {
      op: "GET",
      key: "person0",
      found: true,
      value: { name: "N0", age: 0, address: { street: "Main", number: 0 } },
    });
    await cluster.servers[0].kill();
    hung.signal("SIGSTOP");
    assert.deepEqual(await askAll(broker), before);
    const { servers } = await broker.ask("SERVERS") as { servers: { up: boolean }[] };
    assert.deepEqual(servers.map((report) => report.up), [false, false, true, true]);
  } finally {
    hung.signal("SIGCONT");
  }
  const { code, stderr } = await broker.finish();
  assert.equal(code, 0, stderr);
});

Deno.test("a hung server never hangs the broker, and is used again once it resumes", async () => {
  await using cluster = await KvCluster.start(3);
  await using data = await dataFile();
  await using broker = jsonBroker(cluster, 2, data.path);
  const hungId = replicaIds(cluster, "person7", 2)[0];
  const hung = cluster.byId(hungId);
  try {
    await broker.ask("GET person0");
    hung.signal("SIGSTOP");
    assert.equal((await broker.ask("GET person7")).found, true);
    // The delete goes to person7's other replica and the third server.
    assert.deepEqual(withoutVersion(await broker.ask("DELETE person7")), {
      op: "DELETE",
      key: "person7",
      deleted: true,
    });
    hung.signal("SIGCONT");
    await waitUntilUp(broker, hungId);
    // The resumed server still holds the record; the other replica's tombstone is newer.
    assert.deepEqual(withoutVersion(await broker.ask("GET person7")), {
      op: "GET",
      key: "person7",
      found: false,
    });
    assert.deepEqual(withoutVersion(await broker.ask("DELETE person7")), {
      op: "DELETE",
      key: "person7",
      deleted: false,
    });
  } finally {
    hung.signal("SIGCONT");
  }
});

Deno.test("with k servers down the broker keeps serving and warns when it cannot be sure", async () => {
  await using cluster = await KvCluster.start(3);
  await using data = await dataFile();
  await using indexer = jsonBroker(cluster, 2, data.path);
  assert.equal((await indexer.finish()).code, 0);
  const survivor = cluster.servers[2];
  await cluster.servers[0].kill();
  await cluster.servers[1].kill();
  const keys = Array.from({ length: RECORD_COUNT }, (_, i) => `person${i}`);
  const onSurvivor = keys.find((key) => replicaIds(cluster, key, 2).includes(survivor.id))!;
  const lost = keys.find((key) => !replicaIds(cluster, key, 2).includes(survivor.id))!;
  await using broker = jsonBroker(cluster, 2);
  const found = await broker.ask(`GET ${onSurvivor}`);
  assert.equal(found.found, true);
  // Its other replica is down: a newer version may be held there alone.
  assert.match(String(found.warning), /a newer version may exist/);
  const missing = await broker.ask(`GET ${lost}`);
  assert.equal(missing.found, false);
  // Its replicas are down: the survivor's NOT FOUND cannot vouch for it.
  assert.match(String(missing.warning), new RegExp(`no replica of '${lost}' answered`));
  const absent = await broker.ask("GET person99");
  assert.equal(absent.found, false);
  assert.equal(typeof absent.warning, "string");
  const keysAnswer = await broker.ask("KEYS person");
  assert.match(String(keysAnswer.warning), /2 of 3 servers did not answer/);
  const { code, stderr } = await broker.finish();
  // Answers carrying warnings: a piped session exits 3, as kv get would.
  assert.equal(code, 3);
  assert.match(stderr, /only 1 of 3 servers are reachable \(k=2\)/);
  await using human = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2"]);
  await human.send(`GET ${lost}`);
  assert.equal(await human.readLine(), `NOT FOUND: ${lost}`);
  assert.match(await human.readLine(), /^WARNING: no replica of/);
  await human.finish();
});

Deno.test("DELETE and PUT with a replica down are stored on k servers; everything acknowledged survives kill -9", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  await using data = await dataFile();
  await using broker = jsonBroker(cluster, 2, data.path);
  const victim = cluster.byId(replicaIds(cluster, "person7", 2)[1]);
  assert.deepEqual(withoutVersion(await broker.ask("DELETE person3")), {
    op: "DELETE",
    key: "person3",
    deleted: true,
  });
  assert.equal((await broker.ask("GET person30")).found, true, "DELETE person3 is exact");
  assert.deepEqual(withoutVersion(await broker.ask(`PUT "person40" : { "age" : 40 }`)), {
    op: "PUT",
    key: "person40",
    stored: true,
  });
  await victim.kill();
  assert.deepEqual(withoutVersion(await broker.ask("DELETE person7")), {
    op: "DELETE",
    key: "person7",
    deleted: true,
  });
  assert.equal((await broker.ask("GET person7")).found, false);
  assert.deepEqual(withoutVersion(await broker.ask("DELETE person8")), {
    op: "DELETE",
    key: "person8",
    deleted: true,
  });
  const put = await broker.ask(`PUT "person7" : 7`);
  assert.equal(put.stored, true, JSON.stringify(put));
  const expectedPerson7 = await broker.ask("GET person7");
  assert.equal(expectedPerson7.value, 7);
  assert.equal((await broker.finish()).code, 0);
  for (const server of cluster.servers) await server.kill();
  await Promise.all(cluster.servers.map((server) => server.restart()));
  await using fresh = jsonBroker(cluster, 2);
  for (let i = 0; i <= RECORD_COUNT; i++) {
    const answer = await fresh.ask(`GET person${i}`);
    assert.equal(answer.found, i !== 3 && i !== 8, `person${i}`);
    assert.equal(answer.warning, undefined);
  }
  assert.deepEqual(await fresh.ask("GET person7"), expectedPerson7);
  const { keys } = await fresh.ask("KEYS person 1000") as { keys: string[] };
  assert.equal(keys.length, RECORD_COUNT - 1);
  assert(!keys.includes("person3") && !keys.includes("person8"));
});

/** A library broker over `serverFile` (k = 2) whose clock runs `aheadMs` ahead of this machine's. */
async function brokerAhead(serverFile: string, aheadMs: number): Promise<Broker> {
  return await Broker.open(await readServerList(serverFile), {
    k: 2,
    timeoutMs: BROKER_TIMEOUT_MS,
    clock: new HybridClock({ now: () => Date.now() + aheadMs }),
  });
}

Deno.test("a PUT made while both replicas of its key are down or wiped warns, rightly: an earlier write stamped later by a broker whose clock is ahead wins once they answer and kv repair ran", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  const key = cluster.keyOnFirstTwo();
  const [wiped, down] = cluster.servers;
  const ahead = await brokerAhead(cluster.serverFile, CLOCK_AHEAD_MS);
  try {
    assert.deepEqual(withoutVersion(await ahead.put(key, int(1))), { kind: "done", existed: true });
  } finally {
    ahead.close();
  }
  await wiped.kill();
  await Deno.remove(wiped.dataDir!, { recursive: true });
  await wiped.restart();
  await down.kill();
  // Stored on the wiped server (unrepaired) and the third: neither saw the earlier write.
  const behind = await brokerAhead(cluster.serverFile, 0);
  let later: Change;
  try {
    later = await behind.put(key, int(2));
  } finally {
    behind.close();
  }
  assert(later.kind === "done", JSON.stringify(later));
  assert.match(
    later.warning ?? "no warning",
    new RegExp(
      `^no replica of '${key}' answered that can be trusted \\((?=.*${down.id} is down)(?=.*${wiped.id} may have lost writes).*\\); ` +
        "a write they hold may carry a later version than this one \\(its writer's clock ahead " +
        "of this broker's\\) and win over it once they answer$",
    ),
  );
  await down.restart();
  const repaired = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile]));
  assert.equal(repaired.code, 0, repaired.stderr);
  const read = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, key]));
  assert.deepEqual([read.code, read.stdout], [0, `${key} : 1\n`], read.stderr);
});

Deno.test("--writes strict: DELETE and PUT with a replica down change nothing", async () => {
  await using cluster = await KvCluster.start(3);
  await using data = await dataFile();
  await using indexer = jsonBroker(cluster, 2, data.path);
  assert.equal((await indexer.finish()).code, 0);
  await cluster.byId(replicaIds(cluster, "person7", 2)[1]).kill();
  await using broker = BrokerProcess.start(
    ["-s", cluster.serverFile, "-k", "2", "--writes", "strict", "--json"],
  );
  const expected = await broker.ask("GET person7");
  assert.equal(expected.found, true);
  const deleteRefused = await broker.ask("DELETE person7");
  assert.match(String(deleteRefused.error), /cannot delete 'person7'.*nothing was changed/);
  const putRefused = await broker.ask(`PUT "person7" : 7`);
  assert.match(String(putRefused.error), /cannot put 'person7'.*nothing was changed/);
  assert.deepEqual(await broker.ask("GET person7"), expected);
  const [home] = replicaIds(cluster, "person7", 2);
  assert.equal(await heldBy(cluster, home, "person7"), `${expected.version} value`);
  // The refused writes: a piped session exits 3, as kv put would.
  assert.equal((await broker.finish()).code, 3);
});

Deno.test("a server killed in the middle of indexing: the records that needed it go to the next servers of their lists", async () => {
  await using cluster = await KvCluster.start(3);
  const victim = cluster.servers[0];
  const early = Array.from({ length: 100 }, (_, i) => `early${i}`);
  // Later records: the first ten that need the victim, and the first ten that do not.
  const candidates = Array.from({ length: 200 }, (_, i) => `late${i}`);
  const needVictim = candidates.filter((key) => replicaIds(cluster, key, 2).includes(victim.id));
  const spareVictim = candidates.filter((key) => !replicaIds(cluster, key, 2).includes(victim.id));
  const late = [...needVictim.slice(0, 10), ...spareVictim.slice(0, 10)];
  // The data comes through a named pipe, so the test decides what the broker has read
  // before the kill (as `-i <(…)` would, from a process writing it).
  await using directory = await tempDir();
  const pipe = await fifo(`${directory.path}/data`);
  await using broker = BrokerProcess.start([
    ...["-s", cluster.serverFile, "-i", pipe, "-k", "2", "--index-only"],
  ]);
  // Its stdin is not read (--index-only): closing it now gives the exit to wait for.
  const exit = broker.finish();
  const clients: ServerClient[] = [];
  try {
    for (const server of cluster.servers) clients.push(await connectClient(server.address));
    // Opening a pipe's writing end waits for its reader: fail, not hang, if the broker
    // exits before it opens the pipe.
    const data = await Promise.race([
      Deno.open(pipe, { write: true }),
      exit.then(({ stderr }) => Promise.reject(new Error(`broker exited early: ${stderr}`))),
    ]);
    const write = async (lines: string[]) => {
      const bytes = new TextEncoder().encode(lines.join(""));
      for (let at = 0; at < bytes.length;) at += await data.write(bytes.subarray(at));
    };
    await write(early.map((key) => `"${key}" : 1\n`));
    // Every early record is stored on its 2 replicas before the victim dies. A server
    // counts a batch's records and answers it in one turn of its event loop, before it
    // serves this STATS from another connection: so the broker has the answers too.
    await waitFor(async () => {
      const counts = await Promise.all(
        clients.map(async (client) => (await client.stats()).recordCount),
      );
      return counts.reduce((sum, count) => sum + count, 0) === early.length * 2;
    }, { what: `all ${early.length} early records stored on their 2 replicas`, intervalMs: 20 });
    await victim.kill();
    await write(late.map((key) => `"${key}" : 2\n`));
    data.close();
    const { code, stderr } = await exit;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /indexed 120 records \(0 failed\), skipped 0 lines/);
    // Every record is on the first 2 servers of its list that are still alive.
    const alive = cluster.servers.filter((server) => server !== victim).map((server) => server.id);
    for (const key of [...early, ...late]) {
      const holders = early.includes(key) ? replicaIds(cluster, key, 2) : alive;
      for (const id of holders) {
        if (id === victim.id) continue;
        const client = clients[cluster.servers.findIndex((server) => server.id === id)];
        assert.deepEqual(
          (await client.get(key)).value,
          int(early.includes(key) ? 1 : 2),
          `${key} on ${id}`,
        );
      }
    }
  } finally {
    for (const client of clients) await client.close();
  }
});
