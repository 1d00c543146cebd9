import assert from "node:assert/strict";
import {
  Broker,
  type Change,
  type KeysAnswer,
  MAX_READ_REPAIRS_IN_FLIGHT,
  MAX_WRITE_ATTEMPTS,
  type RepairRequest,
} from "../../lib/broker/broker.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { compareVersions, formatVersion } from "../../lib/record/version.ts";
import { int, object, str } from "../../lib/record/value.ts";
import {
  countDownAMomentAgo,
  FakeCluster,
  repairAs,
  withFakeBroker,
  writeAheadOnFirstAndThird,
} from "../helpers/fake_cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { withoutVersion } from "../helpers/versions.ts";

const PERSON = object([["name", str("Mary")], ["age", int(22)], [
  "address",
  object([["street", str("Main")]]),
]]);

function replicaIds(broker: Broker, key: string): string[] {
  return broker.replicasOf(key).map((index) => broker.pool.servers[index].id);
}

Deno.test("put stores a record on exactly its k replicas; get and query read it", async () => {
  await withFakeBroker(4, 2, async ({ cluster, broker }) => {
    assert.deepEqual(withoutVersion(await broker.put("person1", PERSON)), {
      kind: "done",
      existed: true,
    });
    assert.deepEqual(cluster.holders("person1").sort(), replicaIds(broker, "person1").sort());
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: PERSON });
    assert.deepEqual(withoutVersion(await broker.query(["person1", "address", "street"])), {
      kind: "found",
      value: str("Main"),
    });
    assert.deepEqual(withoutVersion(await broker.query(["person1", "nope"])), {
      kind: "not-found",
      miss: { reason: "no-field", segment: 1 },
    });
    assert.deepEqual(withoutVersion(await broker.get("person9")), { kind: "not-found" });
  });
});

Deno.test("a QUERY that finds nothing says why as the replica of the newest version answered: no record, a field missing (with the nearest), a leaf in the way", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    assert.deepEqual(withoutVersion(await broker.query(["person1", "address", "stret"])), {
      kind: "not-found",
      miss: { reason: "no-field", segment: 2, closest: "street" },
    });
    assert.deepEqual(withoutVersion(await broker.query(["person1", "age", "x"])), {
      kind: "not-found",
      miss: { reason: "not-object", segment: 2, value: int(22) },
    });
    assert.deepEqual(await broker.query(["person9", "age"]), { kind: "not-found" });
    // A newer write that reached one replica only, its address a string: the read answers
    // from that version, and says why from that replica's answer, not the older one's.
    const [first, second] = broker.replicasOf("person1");
    const newer = { ms: Date.now() + 60_000, counter: 0, broker: 9 };
    const moved = object([["address", str("Oslo")]]);
    cluster.servers[second].applyPut("person1", moved, { version: newer });
    assert.deepEqual(
      cluster.servers[first].trie.queryMiss(["person1", "address", "x"]),
      { reason: "no-field", segment: 2 },
      "the older replica would say the address lacks the field",
    );
    assert.deepEqual(await broker.query(["person1", "address", "x"]), {
      kind: "not-found",
      version: newer,
      miss: { reason: "not-object", segment: 2, value: str("Oslo") },
    });
    assert.equal((await broker.delete("person1")).kind, "done");
    assert.deepEqual(withoutVersion(await broker.query(["person1", "address"])), {
      kind: "not-found",
    });
  });
});

Deno.test("reads go to the key's replicas only", async () => {
  await withFakeBroker(5, 2, async ({ cluster, broker }) => {
    await broker.get("person1");
    const replicas = replicaIds(broker, "person1");
    for (const server of cluster.servers) {
      const asked = server.requests.includes("GET");
      assert.equal(asked, replicas.includes(server.address.id), server.address.id);
    }
  });
});

Deno.test("with k-1 replicas crashed or hung, answers are exactly as with all up", async () => {
  for (const failure of ["crashed", "hung"] as const) {
    await withFakeBroker(3, 3, async ({ cluster, broker }) => {
      await broker.put("person1", PERSON);
      const before = [await broker.get("person1"), await broker.get("person9")];
      const [first, second] = broker.replicasOf("person1");
      cluster.servers[first].state = failure;
      cluster.servers[second].state = failure;
      const after = [await broker.get("person1"), await broker.get("person9")];
      assert.deepEqual(after, before, failure);
      assert.deepEqual(withoutVersion(await broker.query(["person1", "age"])), {
        kind: "found",
        value: int(22),
      });
      assert.equal(broker.pool.upCount, 1, "failed servers are marked down");
    });
  }
});

Deno.test("with k-1 servers crashed, hung or restarted empty (unrepaired), GET and KEYS answer as with all up, without a warning", async () => {
  const mixes = [["restarted", "restarted"], ["crashed", "restarted"], ["hung", "restarted"]];
  for (const mix of mixes) {
    await withFakeBroker(5, 3, async ({ cluster, broker }) => {
      const keys = Array.from({ length: 20 }, (_, i) => `person${i}`);
      for (const key of keys) await broker.put(key, int(1));
      const answers = async () => {
        const gets = [];
        for (const key of [...keys, "missing"]) {
          const lookup = await broker.get(key);
          gets.push({
            key,
            kind: lookup.kind,
            warning: lookup.kind === "error" ? lookup.error : lookup.warning,
          });
        }
        return { gets, keys: await broker.keys("person", 100) };
      };
      const before = await answers();
      assert.deepEqual(before.gets.filter((get) => get.warning !== undefined), []);
      assert.equal(before.keys.warning, undefined);
      assert.equal(before.keys.keys.length, keys.length);
      broker.preferenceList(partitionOf("person1")).slice(0, 2).forEach((index, at) => {
        if (mix[at] === "restarted") cluster.servers[index].restart();
        else cluster.servers[index].state = mix[at] as "crashed" | "hung";
      });
      assert.deepEqual(await answers(), before, mix.join(", "));
    });
  }
});

Deno.test("with k servers down: found records are returned with a warning that a newer version may exist, doubtful NOT FOUND warns", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    const [first, second] = broker.replicasOf("person1");
    const third = [0, 1, 2].find((index) => index !== first && index !== second)!;
    cluster.servers[first].state = "crashed";
    cluster.servers[third].state = "crashed";
    const found = await broker.get("person1");
    assert(found.kind === "found");
    assert.deepEqual(found.value, PERSON);
    assert.match(found.warning ?? "", /did not answer.*a newer version may exist/);
    // person1's other replica answers NOT FOUND for a field, but k servers are down.
    const lookup = await broker.query(["person1", "missing"]);
    assert.equal(lookup.kind, "not-found");
    assert.match((lookup as { warning: string }).warning, /did not answer.*may exist/);
    cluster.servers[second].state = "crashed";
    const none = await broker.get("person1");
    assert.equal(none.kind, "not-found");
    assert.match((none as { warning: string }).warning, /no replica of 'person1' answered/);
  });
});

Deno.test("with the strict write rule, delete refuses when a replica is down and changes nothing", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2, writes: "strict" });
  try {
    await broker.put("person3", PERSON);
    const [first, second] = broker.replicasOf("person3");
    cluster.servers[second].state = "hung";
    const change = await broker.delete("person3");
    assert.equal(change.kind, "error");
    assert.match(
      (change as { error: string }).error,
      /cannot delete 'person3'.*nothing was changed/,
    );
    assert(cluster.servers[first].records.has("person3"), "the reachable replica keeps it");
    assert(!cluster.servers[first].requests.includes("DELETE"));
  } finally {
    broker.close();
  }
});

Deno.test("a delete with a replica down is stored on k servers, and reads answer NOT FOUND", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person3", PERSON);
    const [, second] = broker.replicasOf("person3");
    cluster.servers[second].state = "hung";
    assert.deepEqual(withoutVersion(await broker.delete("person3")), {
      kind: "done",
      existed: true,
    });
    // The tombstone is on the first replica and on the third server, a hint for the second.
    assert.deepEqual(cluster.holders("person3"), [
      cluster.servers[second].address.id,
    ]);
    assert.equal(broker.hintCount, 1);
    assert.deepEqual(withoutVersion(await broker.get("person3")), { kind: "not-found" });
  });
});

Deno.test("writes refuse before changing anything when fewer than k servers are reachable", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person3", PERSON);
    const [first, second] = broker.replicasOf("person3");
    const third = [0, 1, 2].find((index) => index !== first && index !== second)!;
    cluster.servers[second].state = "crashed";
    cluster.servers[third].state = "hung";
    for (const change of [await broker.delete("person3"), await broker.put("person3", int(1))]) {
      assert.equal(change.kind, "error");
      assert.match(
        (change as { error: string }).error,
        /only 1 of the 2 replicas it needs reachable.*nothing was changed/,
      );
    }
    assert(!cluster.servers[first].requests.includes("DELETE"));
    const puts = cluster.servers[first].requests.filter((kind) => kind === "PUT");
    assert.equal(puts.length, 1, "only the PUT made before the failures reached it");
    assert.equal(broker.hintCount, 0);
  });
});

Deno.test("a write that finds every server counted down a moment ago (a request timed out, as when the broker stalled) waits for their reconnects and is stored", async () => {
  await withFakeBroker(2, 2, async ({ cluster, broker }) => {
    await countDownAMomentAgo(cluster, broker, [0, 1]);
    assert(broker.pool.isReconnecting(0) && broker.pool.isReconnecting(1));
    assert.deepEqual(withoutVersion(await broker.put("person1", PERSON)), {
      kind: "done",
      existed: true,
    });
    assert.equal(cluster.holders("person1").length, 2);
  });
});

Deno.test("delete removes exactly the key from every replica", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person3", PERSON);
    await broker.put("person30", PERSON);
    assert.deepEqual(withoutVersion(await broker.delete("person3")), {
      kind: "done",
      existed: true,
    });
    assert.deepEqual(cluster.holders("person3"), []);
    assert.equal(cluster.holders("person30").length, 2);
    assert.deepEqual(withoutVersion(await broker.delete("person3")), {
      kind: "done",
      existed: false,
    });
  });
});

Deno.test("with the strict write rule, put refuses when a replica is down and writes nothing", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2, writes: "strict" });
  try {
    cluster.servers[broker.replicasOf("person5")[1]].state = "crashed";
    const change = await broker.put("person5", PERSON);
    assert.equal(change.kind, "error");
    assert.match((change as { error: string }).error, /cannot put 'person5'/);
    assert.deepEqual(cluster.holders("person5"), []);
    assert.equal(broker.hintCount, 0);
  } finally {
    broker.close();
  }
});

Deno.test("a put with a replica down is stored on the next server of the list, a hint handed off when it is back", async () => {
  const requests: RepairRequest[] = [];
  const cluster = new FakeCluster(4);
  const broker = await cluster.openBroker({
    k: 2,
    onRepairNeeded: (request) => requests.push(request),
  });
  try {
    const list = Array.from(broker.preferenceList(partitionOf("person5")));
    cluster.servers[list[1]].state = "crashed";
    assert.equal((await broker.put("person5", PERSON)).kind, "done");
    const ids = (indexes: number[]) => indexes.map((index) => cluster.servers[index].address.id);
    assert.deepEqual(cluster.holders("person5").sort(), ids([list[0], list[2]]).sort());
    assert.equal(broker.hintCount, 1);
    const down = (await broker.servers())[list[1]];
    assert.deepEqual([down.up, down.hints], [false, 1], "SERVERS shows the hint waiting");
    assert.deepEqual(withoutVersion(await broker.get("person5")), { kind: "found", value: PERSON });
    assert.equal(requests.length, 0, "nothing is handed off while the server is down");
    cluster.servers[list[1]].state = "up";
    await waitFor(() => requests.length > 0, { what: "the hint to be handed off" });
    assert.equal(requests.length, 1);
    assert.equal(requests[0].server, list[1]);
    assert.equal(requests[0].reason, "hint");
    assert.equal(requests[0].partitions.size, 1);
    assert(requests[0].partitions.has(partitionOf("person5")));
    assert.equal(broker.hintCount, 0);
  } finally {
    broker.close();
  }
});

Deno.test("a write refused by a server mid-way is reported as partial", async () => {
  await withFakeBroker(2, 2, async ({ cluster, broker }) => {
    cluster.servers[1].failWrites = "disk full";
    const change = await broker.put("person5", PERSON);
    assert.equal(change.kind, "error");
    assert.match((change as { error: string }).error, /reached only 1 of 2 replicas.*disk full/);
    assert.equal(broker.pool.upCount, 2, "a server's own error does not mark it down");
  });
});

Deno.test("a server that comes back is used again without restarting", async () => {
  await withFakeBroker(2, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    cluster.servers[0].state = "crashed";
    assert.equal((await broker.delete("person1")).kind, "error");
    assert.equal(broker.pool.isUp(0), false);
    cluster.servers[0].state = "up";
    await waitFor(() => broker.pool.isUp(0), { what: "server 0 to be up again" });
    assert.deepEqual(withoutVersion(await broker.delete("person1")), {
      kind: "done",
      existed: true,
    });
    assert.deepEqual(cluster.holders("person1"), []);
  });
});

Deno.test("keys merges every server's answer, deduplicated, in byte order", async () => {
  await withFakeBroker(4, 2, async ({ cluster, broker }) => {
    const keys = ["b", "a", "é", "ab", "aa", "z", "😀", "\uffff"];
    for (const key of keys) await broker.put(key, int(1));
    await broker.put("other", int(1));
    const all = await broker.keys("", 100);
    assert.deepEqual(all.keys, ["a", "aa", "ab", "b", "other", "z", "é", "\uffff", "😀"]);
    assert.equal(all.more, false);
    const some = await broker.keys("a", 2);
    assert.deepEqual(some, { keys: ["a", "aa"], more: true });
    const exact = await broker.keys("a", 3);
    assert.deepEqual(exact, { keys: ["a", "aa", "ab"], more: false });
    const nextPage = await broker.keys("a", 2, "aa");
    assert.deepEqual(nextPage, { keys: ["ab"], more: false });
    cluster.servers[0].state = "crashed";
    cluster.servers[1].state = "crashed";
    const partial = await broker.keys("", 100);
    assert.match(partial.warning!, /2 of 4 servers did not answer/);
  });
});

Deno.test("keys warns when the servers that did not answer and those not yet repaired are k or more: an unrepaired server's answer may lack keys it held", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    const [first, second] = broker.replicasOf("person1");
    // The first replica restarted empty (unrepaired); the second is down: no server that
    // answers can vouch that person1 is gone.
    cluster.servers[first].trie.delete("person1");
    cluster.servers[first].nodeState = { unrepaired: true, k: 2 };
    cluster.servers[second].state = "crashed";
    const answer = await broker.keys("", 100);
    assert.deepEqual(answer.keys, []);
    assert.match(answer.warning!, /2 of 3 servers did not answer or may have lost writes/);
    assert.match(answer.warning!, /not yet repaired/);
  });
});

Deno.test("servers reports up servers with records, latency (two decimals) and repair state, down ones with why", async () => {
  await withFakeBroker(2, 1, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    cluster.servers[1].state = "crashed";
    const reports = await broker.servers();
    const holder = broker.replicasOf("person1")[0];
    assert.deepEqual(reports[0], {
      server: "127.0.0.1:9000",
      up: true,
      records: holder === 0 ? 1 : 0,
      latencyMs: 0.12,
      repaired: true,
      repairedUnderOtherList: false,
      beingRemarked: false,
      readOnly: false,
      hints: 0,
      k: 1,
    });
    assert.deepEqual(reports[1], {
      server: "127.0.0.1:9001",
      up: false,
      error: "cannot connect to 127.0.0.1:9001",
      hints: 0,
    });
  });
});

/**
 * Reads person1, held only by the third server of its list (as after the first lost it in
 * a restart) with the first unrepaired, while the GET to the server at `heldPosition` of
 * the list is held; the first is marked repaired before that answer is let go. The first
 * server's NOT FOUND was sent while it was unrepaired, so the read must not trust it and
 * must walk on to the third server.
 */
async function readWhileMarkedRepaired(heldPosition: 0 | 1): Promise<void> {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const [first, second, third] = broker.preferenceList(partitionOf("person1"));
    const held = heldPosition === 0 ? first : second;
    cluster.servers[third].trie.put("person1", PERSON, {
      version: { ms: 1, counter: 0, broker: 1 },
    });
    cluster.servers[first].nodeState = { unrepaired: true, k: 2 };
    const answerHeld = cluster.servers[held].hold("gets");
    const reading = broker.get("person1");
    await waitFor(() => cluster.servers[held].requests.includes("GET"), {
      what: "the read to reach the held server",
    });
    await broker.pool.call(
      first,
      (connection) => connection.markRepaired(list(broker), connection.state.repairedUnder),
    );
    assert.equal(broker.pool.state(first)?.unrepaired, false);
    answerHeld();
    assert.deepEqual(withoutVersion(await reading), { kind: "found", value: PERSON });
  });
}

Deno.test("a server marked repaired while its answer was on the way is not trusted for that answer", async () => {
  // The first server answered NOT FOUND while unrepaired; it is repaired before the read
  // looks at that answer (the second's is held), which proves nothing all the same.
  await readWhileMarkedRepaired(1);
});

Deno.test("a GET sent while the server was unrepaired whose answer arrives after MARK_REPAIRED on the same connection is not trusted", async () => {
  // The first server's own NOT FOUND is still on the way when it is marked repaired.
  await readWhileMarkedRepaired(0);
});

Deno.test("a read resent on a fresh connection after the server restarted under it judges trust on that connection: the new process's NOT FOUND, told unrepaired, is not trusted though the old connection's HELLO said repaired", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const [first, , third] = broker.preferenceList(partitionOf("person1"));
    // Written while the second server was down: stored on the first and the third.
    const version = { ms: 1, counter: 0, broker: 1 };
    cluster.servers[first].trie.put("person1", PERSON, { version });
    cluster.servers[third].trie.put("person1", PERSON, { version });
    cluster.servers[third].state = "crashed";
    assert.equal(broker.pool.state(first)?.unrepaired, false);
    const answerFirst = cluster.servers[first].hold("gets");
    const reading = broker.get("person1");
    await waitFor(() => cluster.servers[first].requests.includes("GET"), {
      what: "the read to reach the first server",
    });
    // The first server restarts empty with the GET in flight: its connection closes, the
    // pool sends the GET again on a fresh one, whose HELLO says unrepaired, and the new
    // process answers NOT FOUND.
    cluster.servers[first].restart();
    answerFirst();
    const answer = await reading;
    assert.equal(cluster.servers[first].requests.filter((kind) => kind === "GET").length, 2);
    assert.equal(answer.kind, "not-found");
    const warning = (answer as { warning?: string }).warning ?? "";
    const id = broker.pool.servers[first].id;
    assert(warning.includes(`${id} may have lost writes and is not yet repaired`), warning);
    assert.match(warning, /the record may exist$/);
  });
});

/**
 * A write of person1 made after another broker's write of it was acknowledged on the
 * first and third servers of its list (the second was down), the first then losing it:
 * - `"unrepaired"`: the first restarted empty before the write; its HELLO says so.
 * - `"repaired in flight"`: the same, and a repair refills the first and marks it
 *   repaired after it stored the new write, while its answer is on the way: an answer
 *   made before the refill proves nothing about what the server held.
 * - `"restarted in flight"`: the first, repaired, restarts empty under the write, which
 *   is sent again on a fresh connection whose HELLO says unrepaired: trust is judged on
 *   the connection used, not the first.
 *
 * Either way the first two servers, where the new write lands, both lacked the
 * acknowledged write when they took it, and only the third held it. The new write must
 * still win (README, "Where a key lives", step 4 of the guarantee): stamped after the
 * acknowledged version, and standing after a repair.
 */
async function writeOverLostCopy(how: LostCopy, verb: "put" | "delete"): Promise<void> {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const { acknowledged, first, second } = writeAheadOnFirstAndThird(
      cluster,
      broker,
      "person1",
      int(1),
    );
    const server = cluster.servers[first];
    if (how !== "restarted in flight") server.restart();
    const answerFirst = server.hold("next write answer");
    const writing = verb === "put" ? broker.put("person1", PERSON) : broker.delete("person1");
    await waitFor(() => server.requests.includes(verb.toUpperCase()), {
      what: `the ${verb} to reach the first server`,
    });
    if (how === "restarted in flight") server.restart();
    if (how === "repaired in flight") {
      const report = await repairAs(broker);
      assert.deepEqual(report.markedRepaired, [server.address.id]);
      assert.deepEqual(server.trie.versionOf("person1"), acknowledged, "refilled");
    }
    answerFirst();
    const change = await writing;
    assert(change.kind === "done", JSON.stringify(change));
    assert(
      compareVersions(change.version, acknowledged) > 0,
      `${verb} stamped ${formatVersion(change.version)}, not after the acknowledged ` +
        formatVersion(acknowledged),
    );
    const later = verb === "put" ? { kind: "found", value: PERSON } : { kind: "not-found" };
    assert.deepEqual(withoutVersion(await broker.get("person1")), later, "before a repair");
    await repairAs(broker);
    assert.deepEqual(withoutVersion(await broker.get("person1")), later, "after a repair");
    const homes = verb === "put" ? [first, second].map((i) => cluster.servers[i].address.id) : [];
    assert.deepEqual(cluster.holders("person1").sort(), homes.sort());
  });
}

/** How a write's first server lacks a write it acknowledged (see {@link writeOverLostCopy}). */
type LostCopy = "unrepaired" | "repaired in flight" | "restarted in flight";

for (const how of ["unrepaired", "repaired in flight", "restarted in flight"] as const) {
  for (const verb of ["put", "delete"] as const) {
    Deno.test(`a ${verb} whose first server lost an acknowledged write (${how}) does not count that server as vouching for the key: it reads on, finds the newer version and is stamped after it`, async () => {
      await writeOverLostCopy(how, verb);
    });
  }
}

Deno.test("KEYS does not count a listing made while its server was unrepaired, though a repair marked it repaired before the answer arrived: with the other replica down it warns", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    const [first, second] = broker.replicasOf("person1");
    cluster.servers[first].restart();
    // Both replicas list what they hold at once; their answers are held.
    const answers = [first, second].map((index) => cluster.servers[index].hold("keys"));
    const listing = broker.keys("", 100);
    const reached = () =>
      [first, second].every((i) => cluster.servers[i].requests.includes("KEYS"));
    await waitFor(reached, { what: "KEYS to reach both replicas" });
    // The first is refilled and marked repaired with its empty listing on the way; then
    // the second goes down before answering.
    const report = await repairAs(broker);
    assert.deepEqual(report.markedRepaired, [cluster.servers[first].address.id]);
    cluster.servers[second].state = "crashed";
    for (const answer of answers) answer();
    assertKeysWarnLost(await listing, broker.pool.servers[first].id);
  });
});

Deno.test("KEYS resent on a fresh connection after its server restarted under it judges trust on that connection: the new process's empty listing, told unrepaired, does not count", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    const [first, second] = broker.replicasOf("person1");
    cluster.servers[second].state = "crashed";
    const answerFirst = cluster.servers[first].hold("keys");
    const listing = broker.keys("", 100);
    await waitFor(() => cluster.servers[first].requests.includes("KEYS"), {
      what: "KEYS to reach the first replica",
    });
    cluster.servers[first].restart();
    answerFirst();
    assertKeysWarnLost(await listing, broker.pool.servers[first].id);
    assert.equal(cluster.servers[first].requests.filter((kind) => kind === "KEYS").length, 2);
  });
});

/** A listing that lacks person1 and says why: `unrepaired` may have lost it, the other is down. */
function assertKeysWarnLost(answer: KeysAnswer, unrepaired: string): void {
  assert.deepEqual(answer.keys, []);
  const warning = answer.warning ?? "";
  assert.match(warning, /^2 of 3 servers did not answer or may have lost writes/);
  assert(warning.includes(`${unrepaired} may have lost writes and is not yet repaired`), warning);
}

Deno.test("a write whose replica restarted before the write was acknowledged is stored elsewhere: a repair that read the other replica before the write landed there cannot leave it unseen", async () => {
  const cluster = new FakeCluster(3);
  const writer = await cluster.openBroker({ k: 2 });
  const repairer = await cluster.openBroker({ k: 2 });
  try {
    const [first, second] = writer.preferenceList(partitionOf("person1"));
    const applySecond = cluster.servers[second].hold("puts");
    const writing = writer.put("person1", PERSON);
    await waitFor(() => cluster.servers[second].requests.includes("PUT"), {
      what: "the write to reach the second replica",
    });
    // The first replica stored the write, then restarted empty; a repair reads every
    // server before the write lands on the second, finds nothing to copy, and marks the
    // new process repaired.
    await waitFor(() => cluster.servers[first].trie.has("person1"), {
      what: "the first replica to store the write",
    });
    cluster.servers[first].restart();
    const report = await repairAs(repairer);
    assert.deepEqual(report.markedRepaired, [cluster.servers[first].address.id]);
    applySecond();
    assert.equal((await writing).kind, "done");
    // With the second replica down, the repaired first one and the next server must
    // still hold the acknowledged write between them.
    cluster.servers[second].state = "crashed";
    assert.deepEqual(withoutVersion(await repairer.get("person1")), {
      kind: "found",
      value: PERSON,
    });
  } finally {
    writer.close();
    repairer.close();
  }
});

Deno.test("a write whose replica's connection closed after it stored the write, its process still the same, is acknowledged: only a restart loses the copy", async () => {
  // Two servers, k = 2: no third server could take the copy's place.
  await withFakeBroker(2, 2, async ({ cluster, broker }) => {
    const [first, second] = broker.preferenceList(partitionOf("person1"));
    const applySecond = cluster.servers[second].hold("puts");
    const writing = broker.put("person1", PERSON);
    await waitFor(() => cluster.servers[first].trie.has("person1"), {
      what: "the first replica to store the write",
    });
    // The connection closes for a reason other than the process dying (a server closing
    // it, an idle timeout): the process that stored the write still holds it.
    broker.pool.connection(first)!.close();
    applySecond();
    assert.equal((await writing).kind, "done");
    assert.deepEqual(cluster.holders("person1").sort(), cluster.addresses.map((a) => a.id).sort());
  });
});

Deno.test("a write to k trusted servers in the list's front reads nothing first: no probe with all up, nor with k - 1 down", async () => {
  await withFakeBroker(5, 3, async ({ cluster, broker }) => {
    const reads = () =>
      cluster.servers.flatMap((server) => server.requests).filter((r) => r === "GET");
    assert.equal((await broker.put("person1", PERSON)).kind, "done");
    assert.equal((await broker.delete("person1")).kind, "done");
    const [first, second] = broker.preferenceList(partitionOf("person1"));
    cluster.servers[first].state = "crashed";
    cluster.servers[second].state = "crashed";
    assert.equal((await broker.put("person1", PERSON)).kind, "done");
    assert.deepEqual(reads(), []);
  });
});

Deno.test("reads answer the newest version among the replicas: a newer record, or a newer tombstone as NOT FOUND", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    await broker.put("person1", PERSON);
    const [first, second] = broker.replicasOf("person1");
    const future = { ms: Date.now() + 60_000, counter: 0, broker: 9 };
    // One replica alone holds a newer write, as after a write cut off half way.
    cluster.servers[second].trie.put("person1", int(7), { version: future, ifNewer: true });
    assert.deepEqual(await broker.get("person1"), {
      kind: "found",
      value: int(7),
      version: future,
    });
    const later = { ...future, counter: 1 };
    cluster.servers[first].trie.tombstone("person1", { version: later, ifNewer: true });
    assert.deepEqual(await broker.get("person1"), { kind: "not-found", version: later });
    assert.deepEqual(await broker.query(["person1", "age"]), {
      kind: "not-found",
      version: later,
    });
    // The broker observed `later`: its next write is newer, whatever its wall clock says.
    const put = await broker.put("person1", PERSON);
    assert.ok(put.kind === "done" && compareVersions(put.version, later) > 0);
    assert.deepEqual(withoutVersion(await broker.get("person1")), {
      kind: "found",
      value: PERSON,
    });
  });
});

Deno.test("a write meeting a newer version (STALE) moves the clock past it and wins; a key written nonstop gives up after MAX_WRITE_ATTEMPTS", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const [first] = broker.replicasOf("person1");
    // Another broker, whose clock runs a minute ahead, wrote person1 on one replica.
    const ahead = { ms: Date.now() + 60_000, counter: 0, broker: 9 };
    cluster.servers[first].trie.put("person1", int(1), { version: ahead, ifNewer: true });
    const change = await broker.put("person1", PERSON);
    assert.ok(change.kind === "done" && compareVersions(change.version, ahead) > 0);
    for (const index of broker.replicasOf("person1")) {
      assert.deepEqual(cluster.servers[index].trie.get("person1"), PERSON);
    }
    const deleted = await broker.delete("person1");
    assert.ok(deleted.kind === "done" && deleted.existed);
    assert.deepEqual(cluster.holders("person1"), []);
    // A replica that always holds something newer: the write gives up, saying why.
    const server = cluster.servers[first];
    const put = server.applyPut.bind(server);
    let attempts = 0;
    server.applyPut = (key, value, options) => {
      attempts++;
      const newer = { ...options.version, counter: options.version.counter + 1 };
      server.trie.put(key, int(0), { version: newer, ifNewer: true });
      return put(key, value, options);
    };
    const refused = await broker.put("person1", PERSON);
    assert.equal(refused.kind, "error");
    assert.match((refused as { error: string }).error, /newer write on every one of 5 attempts/);
    assert.equal(attempts, MAX_WRITE_ATTEMPTS);
  });
});

Deno.test("read repair copies the newest version to a stale replica, at most MAX_READ_REPAIRS_IN_FLIGHT at once", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const keys = Array.from({ length: 2 * MAX_READ_REPAIRS_IN_FLIGHT }, (_, i) => `person${i}`);
    for (const key of keys) assert.equal((await broker.put(key, int(1))).kind, "done");
    const newer = broker.clock.next();
    for (const key of keys) {
      const [first] = broker.replicasOf(key);
      cluster.servers[first].applyPut(key, int(5), { version: newer });
    }
    const answers = await Promise.all(keys.map((key) => broker.get(key)));
    const inFlight = broker.repairsInFlight;
    for (const answer of answers) {
      assert.deepEqual(answer, { kind: "found", value: int(5), version: newer });
    }
    assert(inFlight >= 1 && inFlight <= MAX_READ_REPAIRS_IN_FLIGHT, `${inFlight} in flight`);
    await broker.repairsSettled();
    assert.equal(broker.repairsInFlight, 0);
    const repaired = keys.filter((key) => {
      const [first, second] = broker.replicasOf(key);
      const held = cluster.servers[second].trie.versionOf(key);
      return held !== undefined &&
        compareVersions(held, cluster.servers[first].trie.versionOf(key)!) === 0;
    });
    assert(repaired.length >= inFlight, `${repaired.length} repaired, ${inFlight} started`);
    // Keys whose repair the limit skipped are repaired by their next read.
    for (const key of keys) await broker.get(key);
    await broker.repairsSettled();
    for (const key of keys) {
      const [first, second] = broker.replicasOf(key);
      assert.deepEqual(
        cluster.servers[second].trie.versionOf(key),
        cluster.servers[first].trie.versionOf(key),
        key,
      );
    }
  });
});

/**
 * person1 held by the first and third servers of its list at an old version, the first
 * then restarted empty (unrepaired), the third `crashed` or not, and deleted (or, with
 * `put`, written): the write's own servers (the first, untrusted, and the second) hold
 * nothing, so its read decides.
 */
async function deleteOverLostCopy(thirdCrashed: boolean, put = false): Promise<Change> {
  return await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const [first, second, third] = broker.preferenceList(partitionOf("person1"));
    for (const index of [first, third]) {
      cluster.servers[index].applyPut("person1", PERSON, {
        version: { ms: 1, counter: 0, broker: 9 },
      });
    }
    cluster.servers[first].restart();
    if (thirdCrashed) cluster.servers[third].state = "crashed";
    const change = put ? await broker.put("person1", int(2)) : await broker.delete("person1");
    const request = put ? "PUT" : "DELETE";
    assert(cluster.servers[second].requests.includes(request), "written to the second");
    return change;
  });
}

Deno.test("a DELETE whose own servers held nothing but whose read vouches for a record on another server says it existed", async () => {
  const change = await deleteOverLostCopy(false);
  assert.deepEqual(withoutVersion(change), { kind: "done", existed: true });
});

Deno.test("a DELETE whose own servers held nothing and whose read cannot vouch there was no record warns that it may have existed", async () => {
  const change = await deleteOverLostCopy(true);
  assert(change.kind === "done", JSON.stringify(change));
  assert.equal(change.existed, false);
  assert.match(
    change.warning ?? "no warning",
    /^2 of the first 3 servers for 'person1' did not answer or cannot be trusted \((?=.*may have lost writes)(?=.*is down).*\); the record may have existed; it is deleted all the same, unless they hold a write of it with a later version than this deletion \(its writer's clock ahead of this broker's\), which wins over it once they answer$/,
  );
});

Deno.test("a PUT whose own servers and read cannot vouch for every earlier write warns that one stamped later may win over it", async () => {
  const change = await deleteOverLostCopy(true, true);
  assert(change.kind === "done", JSON.stringify(change));
  assert.match(
    change.warning ?? "no warning",
    /^2 of the first 3 servers for 'person1' did not answer or cannot be trusted \((?=.*may have lost writes)(?=.*is down).*\); a write they hold may carry a later version than this one \(its writer's clock ahead of this broker's\) and win over it once they answer$/,
  );
});

Deno.test("a PUT whose read vouches for every earlier write carries no warning", async () => {
  const change = await deleteOverLostCopy(false, true);
  assert.deepEqual(withoutVersion(change), { kind: "done", existed: true });
});

Deno.test("a write whose read reached every server of the key's list hides no later version: a PUT carries no warning, a DELETE that found nothing only that the record may have existed", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    // Every server restarted (unrepaired): none vouches, but each answers what it holds.
    for (const server of cluster.servers) server.restart();
    const put = await broker.put("person1", int(2));
    assert.deepEqual(withoutVersion(put), { kind: "done", existed: true });
    const deleted = await broker.delete("person2");
    assert(deleted.kind === "done", JSON.stringify(deleted));
    assert.match(
      deleted.warning ?? "no warning",
      /^no replica of 'person2' answered that can be trusted \(.*\); the record may have existed; it is deleted all the same$/,
    );
  });
});

/**
 * person1 stored, then deleted while the servers of `closing` (positions in its list) close
 * their connection after applying the DELETE and before answering: the pool sends it again.
 */
async function deleteOverClosingConnections(closing: readonly number[]): Promise<Change> {
  return await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    assert.equal((await broker.put("person1", PERSON)).kind, "done");
    const list = broker.preferenceList(partitionOf("person1"));
    for (const position of closing) cluster.servers[list[position]].closeAfterNextWrite = true;
    const deleted = await broker.delete("person1");
    for (const index of list.subarray(0, 2)) {
      const sent = cluster.servers[index].requests.filter((request) => request === "DELETE");
      assert.equal(sent.length, closing.includes(list.indexOf(index)) ? 2 : 1, "not rewritten");
    }
    return deleted;
  });
}

Deno.test("a DELETE whose every answer was lost with its connection, sent again, finds itself stored: not written again, and it says the record may have existed, not that there was none", async () => {
  const deleted = await deleteOverClosingConnections([0, 1]);
  assert(deleted.kind === "done", JSON.stringify(deleted));
  assert.equal(deleted.existed, false);
  assert.equal(
    deleted.warning,
    "a server's answer to the deletion of 'person1' was lost with its connection, and sent " +
      "again the deletion found itself stored there: the record may have existed; it is " +
      "deleted all the same",
  );
});

Deno.test("a DELETE one of whose answers was lost with its connection says the record existed when the other server's answer does", async () => {
  const deleted = await deleteOverClosingConnections([0]);
  assert.deepEqual(withoutVersion(deleted), { kind: "done", existed: true });
});

/** The fingerprint of `broker`'s list: what a repair over it marks servers with. */
function list(broker: Broker): Uint8Array {
  const fingerprint = broker.pool.listFingerprint;
  assert(fingerprint !== undefined, "a broker's pool judges trust under its list");
  return fingerprint;
}

Deno.test("a server repaired under another server list is not trusted: its NOT FOUND does not count, SERVERS says why, and a repair under this list marks it trusted", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const [first, second] = broker.preferenceList(partitionOf("person1"));
    assert.equal((await broker.put("person1", PERSON)).kind, "done");
    // The first comes back as a server repaired for another cluster: it holds nothing of
    // this one's, and says it is repaired under another list.
    const otherList = new Uint8Array(16).fill(9);
    cluster.servers[first].restart();
    cluster.servers[first].nodeState = { unrepaired: false, k: 2, repairedUnder: otherList };
    cluster.servers[second].state = "crashed";
    // Trusted, the first and the third would be two NOT FOUNDs that vouch: no warning.
    const read = await broker.get("person1");
    assert.equal(read.kind, "not-found");
    assert.match(read.warning ?? "no warning", /the record may exist/);
    assert.match(read.warning ?? "", /was repaired under another server list or k/);
    assert.equal(broker.pool.distrustedFor(first), "other list");
    const report = (await broker.servers())[first];
    assert.ok(
      report.up && !report.repaired && report.repairedUnderOtherList,
      JSON.stringify(report),
    );
    cluster.servers[second].state = "up";
    await waitFor(() => broker.pool.isUp(second), { what: "the broker to reconnect" });
    const repair = await repairAs(broker);
    assert.ok(
      repair.markedRepaired.includes(cluster.servers[first].address.id),
      JSON.stringify(repair),
    );
    assert.equal(broker.pool.trusted(first), true);
    assert.deepEqual(cluster.servers[first].nodeState.repairedUnder, list(broker));
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: PERSON });
    assert.ok(cluster.servers[first].trie.has("person1"), "the repair copied it there");
  });
});

Deno.test("a write stored beyond the front names exactly the servers of the front it went past: one known down, one that failed when asked its k; never one that stored it", async () => {
  await withFakeBroker(4, 2, async ({ cluster, broker }) => {
    const [first, second, third, fourth] = broker.preferenceList(partitionOf("person1"));
    // The first is known down; the second hangs with its connection still counted up, so
    // the write hands it out and its ask of k fails (a server just killed looks so).
    cluster.servers[first].state = "hung";
    await broker.pool.call(first, (connection) => connection.ping());
    cluster.servers[second].state = "hung";
    const change = await broker.put("person1", PERSON);
    assert(change.kind === "done", JSON.stringify(change));
    const ids = broker.pool.servers.map((server) => server.id);
    const warning = change.warning ?? "no warning";
    const named = /where reads look \((.*)\): once those answer again/.exec(warning)?.[1] ?? "";
    assert.match(warning, new RegExp(`^stored on ${ids[fourth]}, beyond the first 3 servers`));
    const reasons = named.split("; ");
    assert.equal(reasons.length, 2, warning);
    assert(reasons.some((reason) => reason.startsWith(`${ids[first]} is down`)), warning);
    assert(reasons.some((reason) => reason.includes(ids[second])), warning);
    assert(!named.includes(ids[third]) && !named.includes(ids[fourth]), warning);
  });
});

Deno.test({
  name:
    "a DELETE of a key deleted before, with a replica that missed that delete back, answers NOT FOUND: the key's newest version is a tombstone, older records on a lagging replica aside; one that missed a PUT makes no DELETE answer NOT FOUND",
  async fn() {
    await withFakeBroker(3, 2, async ({ cluster, broker }) => {
      await broker.put("person1", PERSON);
      const [first] = broker.replicasOf("person1");
      // The first deletion is stored on the second and third servers while the first is
      // down; back, the first still holds the record, older than their tombstones.
      cluster.servers[first].state = "crashed";
      const deleted = await broker.delete("person1");
      assert.equal(deleted.kind === "done" && deleted.existed, true, JSON.stringify(deleted));
      cluster.servers[first].state = "up";
      await waitFor(() => broker.pool.isUp(first), { what: "the first server back up" });
      // A second deletion: the key's newest version is the first one's tombstone (a GET
      // answers NOT FOUND, without a warning), so the exact answer is NOT FOUND.
      const again = await broker.delete("person1");
      assert.equal(again.kind, "done", JSON.stringify(again));
      assert.equal(again.kind === "done" && again.warning, undefined);
      assert.equal(again.kind === "done" && again.existed, false, "it answered DELETED");
      // The other way round: a replica that missed a PUT holds a tombstone older than the
      // others' record, and the record, newest, is what a DELETE then found.
      cluster.servers[first].state = "crashed";
      assert.equal((await broker.put("person1", PERSON)).kind, "done");
      cluster.servers[first].state = "up";
      await waitFor(() => broker.pool.isUp(first), { what: "the first server back again" });
      const found = await broker.delete("person1");
      assert.equal(found.kind === "done" && found.warning, undefined, JSON.stringify(found));
      assert.equal(found.kind === "done" && found.existed, true, "it answered NOT FOUND");
    });
  },
});
