// A read the cluster could not answer, end to end with server processes: when none of a
// key's replicas answers (SIGKILLed) and no other server holds a copy, get, getBytes and
// query reject with the KvUnavailableError a write in the same outage gets, naming each
// replica; a read some server did answer is still an answer, with the warning the README
// documents when the answer cannot be vouched for.
import assert from "node:assert/strict";
import { type Kv, KvUnavailableError } from "../../mod.ts";
import { brokerOf } from "../../lib/client/kv.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import type { ServerProcess } from "../../lib/cli/server_process.ts";

/** The servers of `key`'s preference list, best first (its first k are its replicas). */
function listOf(cluster: KvCluster, kv: Kv, key: string): ServerProcess[] {
  const broker = brokerOf(kv);
  return [...broker.preferenceList(partitionOf(key))].map((index) =>
    cluster.byId(broker.pool.servers[index].id)
  );
}

/** Asserts `read` rejects with a KvUnavailableError whose message matches each of `patterns`. */
async function rejectsUnavailable(read: Promise<unknown>, patterns: RegExp[]): Promise<void> {
  await assert.rejects(read, (error: unknown) => {
    assert.ok(error instanceof KvUnavailableError, `${error}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("with every replica of a key SIGKILLed, get, getBytes and query reject with a KvUnavailableError naming them, as put does, though the third server answers", async () => {
  await using cluster = await KvCluster.start(3);
  await using kv = await cluster.connect({ replicas: 2 });
  await kv.put("x", { a: 1 });
  const [first, second, third] = listOf(cluster, kv, "x");
  await Promise.all([first.kill(), second.kill()]);
  const named = [first, second].map((server) => new RegExp(`${server.id} is down`));
  await rejectsUnavailable(kv.get("x"), [/^cannot get 'x': no replica of 'x' answered/, ...named]);
  await rejectsUnavailable(kv.getBytes("x"), [/^cannot get 'x': /, ...named]);
  await rejectsUnavailable(kv.query("x.a"), [/^cannot query 'x\.a': no replica/, ...named]);
  await rejectsUnavailable(kv.put("x", 2), [/^cannot put 'x'/]);
  // The third server answered all along: the client reads its keys, and is up.
  assert.ok((await kv.servers()).some(({ server, up }) => server === third.id && up));
});

Deno.test("with one of a key's two replicas up, get answers: the record found, and a key never written null with no warning", async () => {
  await using cluster = await KvCluster.start(3);
  await using kv = await cluster.connect({ replicas: 2 });
  await kv.put("x", { a: 1 });
  const [, second] = listOf(cluster, kv, "x");
  await second.kill();
  const found = await kv.get("x");
  assert.deepEqual([found.value, found.warning], [{ a: 1 }, undefined]);
  assert.equal((await kv.query("x.a")).value, 1);
  // A key whose list starts with the same server: its one replica up and the third server
  // vouch for its absence together (2 of the first 3, README "Where a key lives").
  const key = Array.from({ length: 1000 }, (_, n) => `nobody${n}`).find((candidate) => {
    const [home, other] = listOf(cluster, kv, candidate);
    return home !== second && other === second;
  })!;
  assert.deepEqual(await kv.get(key), { key, value: null, version: null });
});

Deno.test("a read some server answered is an answer with a warning, not a KvUnavailableError: a NOT FOUND from one replica while 2 of the first 3 servers of its list are down", async () => {
  await using cluster = await KvCluster.start(4);
  await using kv = await cluster.connect({ replicas: 2 });
  // One replica and the next server of the list down: only one of the first 3 answers.
  const [, replica, next] = listOf(cluster, kv, "nobody");
  await Promise.all([replica.kill(), next.kill()]);
  const partial = await kv.get("nobody");
  assert.equal(partial.value, null);
  assert.match(
    partial.warning ?? "no warning",
    /^2 of the first 3 servers for 'nobody' did not answer .*; the record may exist$/,
  );
});

Deno.test("a copy written beyond both replicas of a key while one was down is read when both are: found, with a warning that a newer version may exist", async () => {
  await using cluster = await KvCluster.start(3);
  await using kv = await cluster.connect({ replicas: 2 });
  const [first, second, third] = listOf(cluster, kv, "h");
  await second.kill();
  // A sloppy write: the first replica and the third server (a hint for the second).
  await kv.put("h", 7);
  await first.kill();
  const entry = await kv.get("h");
  assert.equal(entry.value, 7);
  const warning = entry.warning ?? "no warning";
  assert.match(warning, /^no replica of 'h' answered \(.*\); a newer version may exist$/);
  for (const down of [first, second]) assert.ok(warning.includes(`${down.id} is down`), warning);
  assert.ok((await kv.servers()).some(({ server, up }) => server === third.id && up));
});

Deno.test("with every server SIGKILLed, keys rejects with a KvUnavailableError, not an empty page that reads as no keys; with one server of two answering (k = 1), it is a page with a warning", async () => {
  await using cluster = await KvCluster.start(2);
  await using kv = await cluster.connect({ replicas: 1 });
  // Twenty keys: some on each server, whatever the ports make of their placement.
  await Promise.all(Array.from({ length: 20 }, (_, n) => kv.put(`a${n}`, n)));
  const [first, second] = cluster.servers;
  await first.kill();
  const page = await kv.keys();
  assert.ok(page.keys.length > 0 && page.warning !== undefined, JSON.stringify(page));
  assert.match(page.warning ?? "", new RegExp(`^1 of 2 servers did not answer .*${first.id}`));
  await second.kill();
  await rejectsUnavailable(kv.keys({ prefix: "a" }), [
    /^cannot list keys: 2 of 2 servers did not answer/,
    new RegExp(first.id),
    new RegExp(second.id),
  ]);
});
