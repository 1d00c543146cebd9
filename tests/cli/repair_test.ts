// kv repair end to end, with real servers: server lists that change, a memory-only server
// restarted, writes that reached one replica of two, tombstones, dry runs and errors. Each
// test reads the servers directly (tests/helpers/server_contents.ts) to check every copy.
import assert from "node:assert/strict";
import { BrokerProcess, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { newAuthFile, runKv } from "../helpers/run_kv.ts";
import { homes, serverContents } from "../helpers/server_contents.ts";
import { connectClient, recordedKs, withClient } from "../helpers/client.ts";
import type { ServerClient } from "../../lib/protocol/client.ts";
import type { ServerProcess } from "../../lib/cli/server_process.ts";
import { DEFAULT_DEADLINE_MS, outputWithin, waitFor, withDeadline } from "../helpers/wait.ts";
import { startServerProcess, TEST_KV } from "../helpers/server_process.ts";
import { formatVersion } from "../../lib/record/version.ts";
import { int, str, toJsonText } from "../../lib/record/value.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { assertRefusedInOneLine, type RefusalCase, refusalOf } from "../helpers/refusals.ts";
import { faketimeEnv, hasFaketime } from "../helpers/faketime.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import {
  closedPorts,
  listenLoopback,
  type LoopbackListener,
  withTempDir,
} from "../helpers/fixtures.ts";
import { LIST_CHANGE_UNDER_WAY, MessageType } from "../../lib/protocol/mod.ts";
import { HoldingProxy } from "../helpers/holding_proxy.ts";
import type { ListChange } from "../../lib/cli/list_change_notice.ts";

/** A server file listing `servers`, removed at the end of the test by `using`. */
async function serverFile(servers: readonly ServerProcess[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, servers.map((server) => `127.0.0.1 ${server.port}\n`).join(""));
  return path;
}

/**
 * Stores `person0` … `person{count-1}` (value: `{ "age": i }`) with k replicas through a broker
 * (exit 0 asserted), then runs `commands` (one a line, default none) in the same session and
 * returns their JSON answers: one process where an {@link ask} after it would start another.
 */
async function index(
  file: string,
  k: number,
  count: number,
  commands: string[] = [],
): Promise<Record<string, unknown>[]> {
  const data = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    const lines = Array.from({ length: count }, (_, i) => `person${i}: { "age" : ${i} }\n`);
    await Deno.writeTextFile(data, lines.join(""));
    const run = await runKv(
      withBrokerTimeout(["broker", "-s", file, "-k", `${k}`, "-i", data, "--json"]),
      { stdin: commands.map((command) => command + "\n").join("") },
    );
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  } finally {
    await Deno.remove(data);
  }
}

/**
 * {@link index}es `count` records at `k` into the servers of `file`, then repairs them once
 * (exit 0 asserted): every server marked repaired under this list and k, as in a cluster in
 * service, so that what a test changes next is the one change its repair meets. Resolves
 * to that repair.
 */
async function indexSettled(file: string, k: number, count: number) {
  await index(file, k, count);
  const settled = await repair(["-s", file]);
  assert.equal(settled.code, 0, settled.stderr);
  return settled;
}

/**
 * Runs broker commands (one a line) through `file` and returns the JSON answers; exit 0
 * asserted, or 0 or 3 (answers with warnings) when `warnings`.
 */
async function ask(
  file: string,
  k: number,
  commands: string[],
  warnings = false,
): Promise<Record<string, unknown>[]> {
  const run = await runKv(withBrokerTimeout(["broker", "-s", file, "-k", `${k}`, "--json"]), {
    stdin: commands.join("\n") + "\n",
  });
  assert.ok(run.code === 0 || (warnings && run.code === 3), run.stderr);
  return run.stdout.trim().split("\n").map((line) => JSON.parse(line));
}

/** `kv repair <args> --json`: its exit code, parsed report and stderr. */
async function repair(args: string[]): Promise<{
  code: number;
  report: Record<string, unknown>;
  stderr: string;
}> {
  const run = await runKv(withBrokerTimeout(["repair", ...args, "--json"]));
  assert.notEqual(run.stdout.trim(), "", `no report; stderr: ${run.stderr}`);
  return { code: run.code, report: JSON.parse(run.stdout), stderr: run.stderr };
}

/** Each key held by any of `servers`, with the ids of the servers holding it. */
async function holders(servers: readonly ServerProcess[]) {
  const byKey = new Map<
    string,
    { server: string; version: string; tombstone: boolean; value: string | undefined }[]
  >();
  for (const server of servers) {
    for (const [key, entry] of await serverContents(server.address)) {
      const copies = byKey.get(key) ?? [];
      copies.push({
        server: server.id,
        version: formatVersion(entry.version),
        tombstone: entry.tombstone,
        value: entry.encoded === undefined ? undefined : toJsonText(decodeValue(entry.encoded)),
      });
      byKey.set(key, copies);
    }
  }
  return byKey;
}

Deno.test("kv repair after servers are added and removed: every key on exactly its k servers, GETs right through the new list, deleted keys gone", async () => {
  await using cluster = await KvCluster.start(6);
  const [removed, ...kept] = cluster.servers.slice(0, 4);
  const added = cluster.servers.slice(4);
  const oldFile = await serverFile(cluster.servers.slice(0, 4));
  const newFile = await serverFile([...kept, ...added]);
  try {
    const deleted = Array.from({ length: 20 }, (_, i) => `person${i * 10}`);
    const answers = await index(oldFile, 2, 200, deleted.map((key) => `DELETE ${key}`));
    assert.equal(answers.length, deleted.length);
    assert(answers.every((answer) => answer.deleted === true), JSON.stringify(answers));

    const { code, report, stderr } = await repair(["-s", newFile]);
    assert.equal(code, 0, stderr);
    assert(Number(report.copiesWritten) > 0, "keys moved to the added servers");
    assert(Number(report.copiesRemoved) > 0, "copies left on servers no longer home removed");

    const homeOf = await homes(newFile, 2);
    const held = await holders([...kept, ...added]);
    for (let i = 0; i < 200; i++) {
      const key = `person${i}`;
      const copies = held.get(key) ?? [];
      const servers = copies.map((copy) => copy.server).sort();
      if (deleted.includes(key)) {
        assert(copies.every((copy) => copy.tombstone), `${key} was deleted: no record left`);
        for (const server of servers) assert(homeOf(key).includes(server), `${key} off home`);
        continue;
      }
      assert.deepEqual(servers, homeOf(key), `${key} is on exactly its 2 home servers`);
      assert.equal(new Set(copies.map((copy) => copy.version)).size, 1, `${key}: one version`);
      assert(copies.every((copy) => !copy.tombstone && copy.value === `{"age":${i}}`), key);
    }
    const gets = await ask(newFile, 2, Array.from({ length: 200 }, (_, i) => `GET person${i}`));
    gets.forEach((answer, i) => {
      assert.equal(answer.warning, undefined, JSON.stringify(answer));
      if (deleted.includes(`person${i}`)) assert.equal(answer.found, false, `person${i}`);
      else assert.deepEqual(answer.value, { age: i }, `person${i}`);
    });
    const check = await repair(["-s", newFile, "--dry-run"]);
    assert.equal(check.code, 0, JSON.stringify(check.report));
    assert.equal(removed.running, true, "a server taken off the list is left alone");
  } finally {
    await Deno.remove(oldFile);
    await Deno.remove(newFile);
  }
});

Deno.test("kv repair refills a memory-only server that restarted empty and marks it repaired; --dry-run checks before and after", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 150);
  // Fresh memory-only servers start unrepaired: settle them first, so only the restart counts.
  assert.equal((await repair(["-s", cluster.serverFile])).code, 0);
  const restarted = cluster.servers[1];
  await restarted.restart();
  const homeOf = await homes(cluster.serverFile, 2);
  const expected = Array.from({ length: 150 }, (_, i) => `person${i}`)
    .filter((key) => homeOf(key).includes(restarted.id));

  const before = await holders(cluster.servers);
  const dry = await repair(["-s", cluster.serverFile, "--dry-run"]);
  assert.equal(dry.code, 1, "out of place");
  assert.equal(dry.report.keysOutOfPlace, expected.length);
  assert.equal(dry.report.copiesWritten, expected.length, "what a repair would write");
  assert.deepEqual(dry.report.stillUnrepaired, [restarted.id]);
  assert.deepEqual(await holders(cluster.servers), before, "a dry run changes nothing");

  const { code, report, stderr } = await repair(["-s", cluster.serverFile]);
  assert.equal(code, 0, stderr);
  assert.equal(report.copiesWritten, expected.length);
  assert.deepEqual(report.markedRepaired, [restarted.id]);
  const refilled = await serverContents(restarted.address);
  assert.deepEqual([...refilled.keys()].sort(), expected.sort());
  const client = await connectClient(restarted.address);
  assert.equal(client.state.unrepaired, false, "its HELLO now says repaired");
  await client.close();
  assert.equal((await repair(["-s", cluster.serverFile, "--dry-run"])).code, 0);
});

Deno.test("kv repair --dry-run's human verdict counts in the singular too: 1 key out of place", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 1);
  assert.equal((await repair(["-s", cluster.serverFile])).code, 0);
  // Restarted memory-only, one home of person0 lost it.
  const home = cluster.byId((await homes(cluster.serverFile, 2))("person0")[0]);
  await home.restart();
  const run = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "--dry-run"]));
  assert.equal(run.code, 1, run.stderr);
  assert.match(
    run.stdout,
    new RegExp(
      `^dry run, nothing changed: 1 key out of place, not repaired under this server list and k: ` +
        `${RegExp.escape(home.id)}\n$`,
      "m",
    ),
  );
});

Deno.test("kv repair --dry-run's human verdict names a server down, not just 0 keys out of place", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 5);
  assert.equal((await repair(["-s", cluster.serverFile])).code, 0);
  await cluster.servers[2].kill();
  const run = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "--dry-run"]));
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stdout, /^dry run, nothing changed: 0 keys out of place; 1 server failed\n$/m);
  assert.match(
    run.stderr,
    new RegExp(`${RegExp.escape(cluster.servers[2].id)}: 0 keys not repaired`),
  );
});

Deno.test("a write that reached one replica of two converges after kv repair", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 50);
  const homeOf = await homes(cluster.serverFile, 2);
  const byId = (id: string) => cluster.byId(id);
  const version = { ms: Date.now() + 1000, counter: 0, broker: 7 };
  // A PUT cut off after its first replica, and a DELETE after its second.
  const putHome = byId(homeOf("person7")[0]);
  const deleteHome = byId(homeOf("person8")[1]);
  const putClient = await connectClient(putHome.address);
  const deleteClient = await connectClient(deleteHome.address);
  try {
    await putClient.put("person7", str("new"), { version });
    await deleteClient.delete("person8", { version });
  } finally {
    await putClient.close();
    await deleteClient.close();
  }
  const { code, report, stderr } = await repair(["-s", cluster.serverFile]);
  assert.equal(code, 0, stderr);
  assert.equal(report.copiesWritten, 2);
  const held = await holders(cluster.servers);
  const newest = formatVersion(version);
  for (const key of ["person7", "person8"]) {
    const copies = held.get(key)!;
    assert.deepEqual(copies.map((copy) => copy.server).sort(), homeOf(key));
    assert(copies.every((copy) => copy.version === newest), `${key} at the newest everywhere`);
  }
  assert(held.get("person8")!.every((copy) => copy.tombstone));
  const [put, deleted] = await ask(cluster.serverFile, 2, ["GET person7", "GET person8"]);
  assert.equal(put.value, "new");
  assert.equal(deleted.found, false);
});

Deno.test("kv repair purges an old tombstone once on every replica, keeps a young one, and removes stale copies elsewhere", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 1);
  const homeOf = await homes(cluster.serverFile, 2);
  const elsewhere = (key: string) => cluster.servers.find((s) => !homeOf(key).includes(s.id))!;
  const old = { ms: Date.now() - 3_600_000, counter: 0, broker: 7 };
  const older = { ms: old.ms - 1000, counter: 0, broker: 7 };
  const young = { ms: Date.now(), counter: 0, broker: 7 };
  const write = (server: ServerProcess, act: (client: ServerClient) => Promise<unknown>) =>
    withClient(server.address, act);
  // "old": a tombstone on one home server, an older record on a server off its home. Old
  // versions go in as repair copies: a write stamped an hour behind a server's clock is
  // answered STALE, to be stamped again (MAX_WRITE_LAG_MS).
  await write(
    cluster.byId(homeOf("old")[0]),
    (c) => c.delete("old", { version: old, repair: true }),
  );
  await write(elsewhere("old"), (c) => c.put("old", int(1), { version: older, repair: true }));
  // "young": a tombstone on one home server only.
  await write(cluster.byId(homeOf("young")[1]), (c) => c.delete("young", { version: young }));

  const { code, report, stderr } = await repair(["-s", cluster.serverFile]);
  assert.equal(code, 0, stderr);
  assert.equal(report.tombstonesPurged, 2, "old's tombstone, from both home servers");
  assert.equal(report.copiesRemoved, 1, "old's stale record off its home");
  const held = await holders(cluster.servers);
  assert.equal(held.get("old"), undefined, "nothing left of old anywhere");
  const youngCopies = held.get("young")!;
  assert.deepEqual(youngCopies.map((copy) => copy.server).sort(), homeOf("young"));
  assert(youngCopies.every((copy) => copy.tombstone), "young's tombstone is kept, on both");
});

Deno.test({
  name: hasFaketime()
    ? "kv repair run from a machine 2 days ahead purges no tombstone the servers' own clocks say is seconds old: it lists it, they keep it"
    : "kv repair 2 days ahead (ignored: libfaketime is not installed)",
  ignore: !hasFaketime(),
  fn: async () => {
    await using cluster = await KvCluster.start(3);
    // Stored and deleted in one piped session: two one-shots would test nothing more here.
    const [put, deleted] = await ask(cluster.serverFile, 2, ["PUT gone: 1", "DELETE gone"]);
    assert.equal(put.stored, true, JSON.stringify(put));
    assert.equal(deleted.deleted, true, JSON.stringify(deleted));
    const ahead = await runKv(
      withBrokerTimeout(["repair", "-s", cluster.serverFile, "--json"]),
      { env: faketimeEnv("+2d") },
    );
    assert.equal(ahead.code, 0, ahead.stderr);
    const report = JSON.parse(ahead.stdout);
    assert.equal(report.partitionsListed, 1, "its clock calls the tombstone old: it is listed");
    assert.equal(report.tombstonesPurged, 0, "the servers' clocks call it young: kept");
    const copies = (await holders(cluster.servers)).get("gone")!;
    assert.equal(copies.length, 2);
    assert.ok(copies.every((copy) => copy.tombstone), "the tombstone is on both homes");
  },
});

Deno.test("kv repair purges an old tombstone held alike on every home replica (a partition in order); --dry-run counts it and still exits 0; a second run finds nothing", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 20);
  // Settle the fresh memory-only servers first, so only the tombstone is left to do.
  assert.equal((await repair(["-s", cluster.serverFile])).code, 0);
  const homeOf = await homes(cluster.serverFile, 2);
  // A key deleted an hour ago, the delete reaching both home servers: their digests agree.
  // Repair copies, as a write stamped an hour behind a server's clock is stamped again.
  const old = { ms: Date.now() - 3_600_000, counter: 0, broker: 7 };
  for (const id of homeOf("gone")) {
    const client = await connectClient(cluster.byId(id).address);
    try {
      await client.delete("gone", { version: old, repair: true });
    } finally {
      await client.close();
    }
  }
  const before = await holders(cluster.servers);
  const held = before.get("gone")!;
  assert.deepEqual(held.map((copy) => copy.server).sort(), homeOf("gone"));
  assert(held.every((copy) => copy.tombstone && copy.version === formatVersion(old)));

  const dry = await repair(["-s", cluster.serverFile, "--dry-run"]);
  assert.equal(dry.code, 0, "a tombstone is not disorder");
  assert.equal(dry.report.keysOutOfPlace, 0);
  assert.equal(dry.report.partitionsListed, 1, "the partition holding the tombstone");
  assert.equal(dry.report.tombstonesPurged, 2, "what a repair would purge");
  assert.deepEqual(await holders(cluster.servers), before, "a dry run changes nothing");

  const { code, report, stderr } = await repair(["-s", cluster.serverFile]);
  assert.equal(code, 0, stderr);
  assert.equal(report.partitionsListed, 1);
  assert.equal(report.copiesWritten, 0);
  assert.equal(report.tombstonesPurged, 2, "from both home servers");
  assert.equal((await holders(cluster.servers)).get("gone"), undefined, "purged everywhere");

  const again = await repair(["-s", cluster.serverFile]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.partitionsListed, 0, "nothing holds a tombstone now");
  assert.equal(again.report.tombstonesPurged, 0);
  assert.equal(again.report.copiesWritten, 0);
});

Deno.test("kv repair -k 3 records the new k on every server and puts every key on 3, saying it changed k; -k 1 says it removes copies, first in a dry run", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 40);
  const { code, report, stderr } = await repair(["-s", cluster.serverFile, "-k", "3"]);
  assert.equal(code, 0, stderr);
  const said = "changed the cluster's k from 2 to 3: each key is held by 3 servers";
  assert.equal(stderr, `kv repair: ${said}\n`);
  assert.equal(report.k, 3);
  assert.deepEqual(report.kChange, { from: [2], to: 3, message: said }, "--json: data and line");
  assert.equal(report.copiesWritten, 40);
  for (const server of cluster.servers) {
    assert.equal((await serverContents(server.address)).size, 40, server.id);
    const client = await connectClient(server.address);
    assert.equal(client.state.k, 3);
    await client.close();
  }
  const again = await repair(["-s", cluster.serverFile, "--dry-run"]);
  assert.equal(again.code, 0);
  assert.equal(again.report.k, 3, "without -k, the k the servers record");
  // Nothing changes k here, so nothing says it does.
  assert.equal(again.stderr, "");
  assert.equal(again.report.kChange, null);
  const lowering = "the cluster's k from 3 to 1: each key keeps 1 copy, its others are removed";
  const dry = await repair(["-s", cluster.serverFile, "-k", "1", "--dry-run"]);
  assert.ok(dry.stderr.startsWith(`kv repair: would change ${lowering}\n`), dry.stderr);
  assert.deepEqual(dry.report.kChange, { from: [3], to: 1, message: `would change ${lowering}` });
  const lowered = await repair(["-s", cluster.serverFile, "-k", "1"]);
  assert.deepEqual([lowered.code, lowered.stderr], [0, `kv repair: changed ${lowering}\n`]);
});

/**
 * Problems of `answers` (broker JSON answers to GETs of person0…, `deleted` of them deleted
 * first, person{i} holding age i): a live key answered a NOT FOUND without a warning, or a
 * value not its own; a deleted key answered a record.
 */
function wrongAnswers(answers: readonly Record<string, unknown>[], deleted: number): string[] {
  return answers.flatMap((answer, i) => {
    const found = answer.value !== undefined;
    if (i < deleted) return found ? [`person${i} deleted but found`] : [];
    if (found) {
      return JSON.stringify(answer.value) === `{"age":${i}}` ? [] : [`person${i}: ${answer.value}`];
    }
    return answer.warning === undefined ? [`person${i}: NOT FOUND without a warning`] : [];
  });
}

Deno.test("kv repair -k 3 killed (SIGKILL) once every server records k=3: brokers meanwhile answer no live key a plain NOT FOUND, and kv repair -k 3 run again finishes with nothing lost or brought back", async () => {
  await using cluster = await KvCluster.start(4);
  const count = 300;
  const deleted = 20;
  const keys = Array.from({ length: count }, (_, i) => `person${i}`);
  const gets = keys.map((key) => `GET ${key}`);
  await index(cluster.serverFile, 2, count, keys.slice(0, deleted).map((key) => `DELETE ${key}`));
  // A broker running across the change follows it (no -k).
  await using running = BrokerProcess.start(["-s", cluster.serverFile, "--json"]);
  assert.equal((await running.ask("GET person30")).value?.toString(), { age: 30 }.toString());

  const child = new Deno.Command(TEST_KV.command, {
    args: [
      ...TEST_KV.args,
      ...withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "3"]),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // SET_K comes before any data is read: once all record 3, the repair is under way.
    await waitFor(async () => (await recordedKs(cluster.servers)).every((k) => k === 3), {
      what: "every server to record k=3",
    });
  } finally {
    child.kill("SIGKILL");
  }
  const killed = await withDeadline(child.status, { what: "the killed kv repair to exit" });
  assert.equal(killed.signal, "SIGKILL", "the repair was killed before it finished");

  // Meanwhile: a broker that ran across the change, and one started after it.
  await running.sendBytes(new TextEncoder().encode(gets.join("\n") + "\n"));
  const during = [];
  for (const _ of gets) during.push(JSON.parse(await running.readLine()));
  assert.deepEqual(wrongAnswers(during, deleted), []);
  assert.deepEqual(wrongAnswers(await ask(cluster.serverFile, 3, gets, true), deleted), []);

  const again = await repair(["-s", cluster.serverFile, "-k", "3"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.inOrder, true);
  const homeOf = await homes(cluster.serverFile, 3);
  const held = await holders(cluster.servers);
  for (const [i, key] of keys.entries()) {
    const copies = held.get(key) ?? [];
    assert.deepEqual(copies.map((copy) => copy.server).sort(), homeOf(key), key);
    const expected = i < deleted ? undefined : `{"age":${i}}`;
    for (const copy of copies) assert.equal(copy.value, expected, key);
  }
  const after = await ask(cluster.serverFile, 3, gets);
  assert.deepEqual(wrongAnswers(after, deleted), []);
  assert.ok(after.every((answer) => answer.warning === undefined), JSON.stringify(after));
});

Deno.test("kv repair with a server down exits 1 naming it, what was left undone, and the command that marks a server left unrepaired once it is back", async () => {
  await using cluster = await KvCluster.start(3);
  await index(cluster.serverFile, 2, 30);
  const [emptied, , down] = cluster.servers;
  // Memory-only, restarted empty: unrepaired, which a repair reaching every server marks.
  await emptied.restart();
  await down.kill();
  const { code, report, stderr } = await repair(["-s", cluster.serverFile, "--timeout-ms", "3000"]);
  assert.equal(code, 1);
  const failures = report.failures as { server: string; partitions: number }[];
  assert.deepEqual(failures.map((failure) => failure.server), [down.id]);
  assert(failures[0].partitions > 0);
  assert.match(
    stderr,
    new RegExp(`${down.id}: \\d+ keys not repaired, \\d+ partitions not checked`),
  );
  assert.ok(
    stderr.includes(
      `kv repair: ${emptied.id} is still not marked repaired under this server list and k: it is ` +
        `marked only once every server answers; fix the one above, then run kv repair -s ` +
        `${cluster.serverFile}\n`,
    ),
    stderr,
  );
  // A server that will not come back cannot be fixed: its line is what to change.
  assert.ok(
    stderr.endsWith(
      `kv repair: if ${down.id} is gone for good, delete its line from ${cluster.serverFile} ` +
        `and run kv repair -s ${cluster.serverFile}: the other replicas of its keys are the ` +
        "source (with k = 1 a lost server's records are lost with it); if its line is " +
        "mistyped, correct it and run the same\n",
    ),
    stderr,
  );
  await Deno.writeTextFile(
    cluster.serverFile,
    cluster.servers.filter((server) => server !== down).map((server) => `${server.id}\n`).join(""),
  );
  const without = await repair(["-s", cluster.serverFile]);
  assert.equal(without.code, 0, without.stderr);
  assert.deepEqual(without.report.stillUnrepaired, []);
  assert.ok((without.report.markedRepaired as string[]).includes(emptied.id), without.stderr);
});

/**
 * The one line `kv repair` prints when it refuses a list or k change because the servers
 * `down` (ids) did not answer, as a pattern: `file` is the server file, `again` the command.
 */
function refusedChange(
  down: readonly string[],
  file: string,
  again: string,
  { dryRun = false } = {},
): RegExp {
  const one = down.length === 1;
  const [its, it, is] = one ? ["its", "it", "it is"] : ["their", "them", "they are"];
  const downs = down.map((id) => `${RegExp.escape(id)} is down \\([^\\n;]*\\)`).join("; ");
  const [outcome, run] = dryRun
    ? ["dry run: a run would be refused, changing nothing", "a run would change"]
    : ["nothing was changed", "this run changes"];
  const [where, rerun] = [RegExp.escape(file), RegExp.escape(again)];
  return new RegExp(
    `^kv repair: ${outcome}: ${downs}, and ${run} the server list or k ` +
      "the servers are repaired under, which it starts only once every server of " +
      `${where} answers \\(stopped half way, it would leave every server untrusted until ` +
      `run again\\)\\. If ${its} ${one ? "line is" : "lines are"} mistyped, correct ${it}; if ` +
      `${is} stopped, start ${it}; then run ${rerun}\\. If ${is} gone for good, delete ` +
      `${its} ${one ? "line" : "lines"} from ${where} and run the same: the other ` +
      `replicas of ${its} keys are the source \\(with k = 1 a lost server's records are lost ` +
      "with it\\)\\n" + (dryRun ? "" : "$"),
  );
}

/** Writes the servers `ids` (`host:port`), one a line, into a new temporary server file. */
async function listFile(ids: readonly string[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, ids.map((id) => `${id}\n`).join(""));
  return path;
}

Deno.test("kv repair over a new list with mistyped ports changes nothing, exit 1, one line saying what to do (its dry run says a run would be refused); the clients on the old list read on without a warning, and the corrected list repairs", async () => {
  await using cluster = await KvCluster.start(3);
  await using added = await KvCluster.start(1);
  const count = 30;
  await indexSettled(cluster.serverFile, 2, count);
  // Two lines mistyped: both named in the one line.
  const typos = closedPorts(2).map((port) => `127.0.0.1:${port}`);
  const ids = cluster.servers.map((server) => server.id);
  const mistyped = await listFile([...ids, ...typos]);
  const corrected = await listFile([...ids, added.servers[0].id]);
  try {
    // The dry run first, as README advises: it says a run would be refused, and exits 1.
    const dry = await repair(["-s", mistyped, "--dry-run"]);
    assert.equal(dry.code, 1, dry.stderr);
    assert.equal(dry.report.dryRun, true);
    assert.match(
      dry.stderr,
      refusedChange(typos, mistyped, `kv repair -s ${mistyped}`, { dryRun: true }),
    );
    const refused = await runKv(withBrokerTimeout(["repair", "-s", mistyped]));
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stdout, "");
    assert.match(
      refused.stderr,
      refusedChange(typos, mistyped, `kv repair -s ${mistyped}`),
    );
    // Every server still marked under the old list: its clients trust them (exit 0, no warning).
    const gets = Array.from({ length: count }, (_, i) => `GET person${i}`);
    const answers = await ask(cluster.serverFile, 2, gets);
    assert.deepEqual(wrongAnswers(answers, 0), []);
    assert.ok(answers.every((answer) => answer.warning === undefined), JSON.stringify(answers));
    const fixed = await repair(["-s", corrected]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(wrongAnswers(await ask(corrected, 2, gets), 0), []);
  } finally {
    await Deno.remove(mistyped);
    await Deno.remove(corrected);
  }
});

Deno.test("kv repair over another list than the servers were repaired under says so before it moves anything, naming what changes: the new list's run its added server, an old file's run the servers it takes out; a run over their own list says nothing", async () => {
  await using cluster = await KvCluster.start(4);
  await using added = await KvCluster.start(1);
  await indexSettled(cluster.serverFile, 2, 30);
  const old = cluster.serverFile;
  const ids = cluster.servers.map((server) => server.id);
  const newcomer = added.servers[0].id;
  const grown = await listFile([...ids, newcomer]);
  try {
    const addition = await repair(["-s", grown]);
    assert.equal(addition.code, 0, addition.stderr);
    const named = `${grown} changes the server list: ${ids.slice(0, -1).join(", ")} and ` +
      `${ids.at(-1)} were last repaired under another server list than ${grown}'s 5 servers ` +
      `(k 2); ${newcomer} is new (no k recorded). ${moves(grown, false)}`;
    assert.equal(firstLine(addition.stderr), `kv repair: ${named}`);
    // --json says it as data: the servers marked under the old list, the one new.
    assert.deepEqual(addition.report.listChange, {
      kind: "list",
      servers: ids,
      fromK: [],
      added: [newcomer],
      leavesOut: false,
      message: named,
    });
    const same = await repair(["-s", grown]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stderr, "", "a repair over the servers' own list says nothing");
    // The old file by mistake (a cron job not updated): said in its dry run and its run.
    const takenOut = (dryRun: boolean) =>
      `${old} changes the server list: every server of ${old} was last ` +
      `repaired under another server list than ${old}'s 4 servers (k 2), which also lists ` +
      `servers ${old} does not: ${
        dryRun ? "a run would take" : "this run takes"
      } them out of the ` +
      `cluster and ${dryRun ? "would read" : "reads"} nothing from them (their keys' other ` +
      `replicas are the source). ${moves(old, dryRun)}`;
    const dry = await repair(["-s", old, "--dry-run"]);
    assert.equal(dry.code, 1, dry.stderr);
    assert.equal(firstLine(dry.stderr), `kv repair: ${takenOut(true)}`);
    const reverted = await repair(["-s", old]);
    assert.equal(reverted.code, 0, reverted.stderr);
    assert.equal(firstLine(reverted.stderr), `kv repair: ${takenOut(false)}`);
    // The old list held a server this file leaves out: `leavesOut`, though no mark names it.
    assert.deepEqual(reverted.report.listChange, {
      kind: "list",
      servers: ids,
      fromK: [],
      added: [],
      leavesOut: true,
      message: takenOut(false),
    });
    assert(Number(reverted.report.copiesWritten) > 0, "it moved keys back to the old homes");
  } finally {
    await Deno.remove(grown);
  }
});

Deno.test("kv repair over servers that record a k their marks predate (a kv repair -k stopped after its SET_K) says it places every key under the new k before it does", async () => {
  await using cluster = await KvCluster.start(3);
  await indexSettled(cluster.serverFile, 2, 30);
  for (const server of cluster.servers) {
    assert.equal(
      await withClient(server.address, (client) => client.setK(3, { replace: true })),
      3,
    );
  }
  const { code, stderr, report } = await repair(["-s", cluster.serverFile]);
  assert.equal(code, 0, stderr);
  const said = `every server of ${cluster.serverFile} was last repaired under k 2, not 3: ` +
    "this run places every key on 3 servers and marks them under k 3";
  assert.equal(firstLine(stderr), `kv repair: ${said}`);
  assert.deepEqual(report.listChange, {
    kind: "k",
    servers: cluster.servers.map((server) => server.id),
    fromK: [2],
    added: [],
    leavesOut: false,
    message: said,
  });
});

/** What a list-change line says the run (a dry run when `dryRun`) does. */
function moves(file: string, dryRun: boolean): string {
  return `${
    dryRun ? "A run would move" : "This run moves"
  } every key to its homes among ${file}'s ` +
    `servers, and clients given another server file ${
      dryRun ? "would stop" : "stop"
    } trusting these (they warn and read past them). ` +
    `If ${file} is not the cluster's server list now (an old file by mistake: a cron job, a ` +
    "script not updated), run kv repair -s with the cluster's file after this: it moves the " +
    "keys back";
}

/** The first line of `text`, without its newline. */
function firstLine(text: string): string {
  return text.split("\n")[0];
}

Deno.test("kv repair over a new list whose added server refuses the credentials changes nothing, and says to mend that and rerun, not to start a server that is running", async () => {
  await using cluster = await KvCluster.start(2);
  const dir = await Deno.makeTempDir();
  try {
    await using guarded = await startServerProcess([
      "--auth-file",
      await newAuthFile(dir, "kv.auth"),
    ]);
    await indexSettled(cluster.serverFile, 1, 10);
    const file = await listFile([...cluster.servers.map((server) => server.id), guarded.id]);
    const refused = await runKv(withBrokerTimeout(["repair", "-s", file]));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `^kv repair: nothing was changed: ${guarded.id} refused this client's credentials`,
      ),
    );
    assert.match(
      refused.stderr,
      new RegExp(`\\. Once that is mended, run kv repair -s ${file}\\n$`),
    );
    assert.doesNotMatch(refused.stderr, /start it|gone for good/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv repair -k 3 with a server down changes nothing (every server keeps k 2 and its mark), exit 1; run once the server is back (restarted empty), it marks every server and nothing is lost", async () => {
  await using cluster = await KvCluster.start(4);
  const count = 30;
  await indexSettled(cluster.serverFile, 2, count);
  const down = cluster.servers[3];
  await down.kill();
  const first = await runKv(
    withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "3", "--timeout-ms", "3000"]),
  );
  assert.equal(first.code, 1, first.stderr);
  // The rerun keeps its -k: without it the repair would run under the old k.
  const rerun = `kv repair -s ${cluster.serverFile} -k 3`;
  assert.match(first.stderr, refusedChange([down.id], cluster.serverFile, rerun));
  assert.deepEqual(await recordedKs(cluster.servers.slice(0, 3)), [2, 2, 2]);
  const gets = Array.from({ length: count }, (_, i) => `GET person${i}`);
  const before = await ask(cluster.serverFile, 2, gets, true);
  assert.deepEqual(wrongAnswers(before, 0), []);
  assert.ok(
    before.every((answer) => !`${answer.warning}`.includes("another server list or k")),
    JSON.stringify(before),
  );
  await down.restart();
  const again = await repair(["-s", cluster.serverFile, "-k", "3"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.inOrder, true);
  assert.equal((again.report.markedRepaired as string[]).length, cluster.servers.length);
  const answers = await ask(cluster.serverFile, 3, gets);
  assert.deepEqual(wrongAnswers(answers, 0), []);
  assert.ok(answers.every((answer) => answer.warning === undefined), JSON.stringify(answers));
});

Deno.test("kv repair rerun over servers a stopped change left marked as changing lists goes on with a server down, repairing what it can: those servers are trusted by no client already", async () => {
  await using cluster = await KvCluster.start(3);
  await indexSettled(cluster.serverFile, 2, 30);
  // What a change SIGKILLed after its first step leaves: every server marked ff…ff.
  for (const server of cluster.servers) {
    await withClient(
      server.address,
      (client) => client.markRepaired(LIST_CHANGE_UNDER_WAY, client.state.repairedUnder),
    );
  }
  const down = cluster.servers[2];
  await down.kill();
  const { code, report, stderr } = await repair(["-s", cluster.serverFile, "--timeout-ms", "3000"]);
  assert.equal(code, 1, stderr);
  assert.doesNotMatch(stderr, /nothing was changed/);
  assert.deepEqual((report.failures as { server: string }[]).map((each) => each.server), [
    down.id,
  ]);
  assert.match(stderr, new RegExp(`kv repair: if ${down.id} is gone for good, delete its line`));
});

Deno.test("replacing a dead server as README says: kv repair -s with-both is refused, nothing changed, naming the dead server; the list without it and with the new one repairs, exit 0, every key read back without a warning", async () => {
  await using cluster = await KvCluster.start(3);
  await using added = await KvCluster.start(1);
  const count = 30;
  await indexSettled(cluster.serverFile, 2, count);
  const dead = cluster.servers[2];
  await dead.kill();
  const newcomer = added.servers[0].id;
  const withBoth = await listFile([...cluster.servers.map((server) => server.id), newcomer]);
  const alive = cluster.servers.slice(0, 2).map((server) => server.id);
  const replaced = await listFile([...alive, newcomer]);
  try {
    const refused = await runKv(withBrokerTimeout(["repair", "-s", withBoth]));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, refusedChange([dead.id], withBoth, `kv repair -s ${withBoth}`));
    const done = await repair(["-s", replaced]);
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(
      (done.report.markedRepaired as string[]).toSorted(),
      [...alive, newcomer].sort(),
    );
    const gets = Array.from({ length: count }, (_, i) => `GET person${i}`);
    const answers = await ask(replaced, 2, gets);
    assert.deepEqual(wrongAnswers(answers, 0), []);
    assert.ok(answers.every((answer) => answer.warning === undefined), JSON.stringify(answers));
  } finally {
    await Deno.remove(withBoth);
    await Deno.remove(replaced);
  }
});

/** The fields of README's `kv repair --json` example line starting `start` (the report), sorted. */
async function readmeReportFields(start = '{"keysChecked"'): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const example = readme.split("\n").find((line) => line.startsWith(start));
  assert(example !== undefined, `README shows a kv repair --json line starting ${start}`);
  return Object.keys(JSON.parse(example)).sort();
}

/**
 * Asserts that `run`'s report is of a run stopped before its first step under `k`: the said
 * line, the `servers` named, nothing done, every field of a run's report.
 */
async function assertStopped(
  run: { report: Record<string, unknown>; stderr: string },
  servers: readonly string[],
  k: number | null,
) {
  const said = firstLine(run.stderr);
  assert.match(said, /^kv repair: /);
  assert.deepEqual(run.report.stopped, { servers, message: said.slice("kv repair: ".length) });
  assert.deepEqual(Object.keys(run.report).sort(), await readmeReportFields());
  assert.equal(run.report.inOrder, false);
  assert.equal(run.report.keysChecked, 0);
  assert.deepEqual(run.report.failures, []);
  assert.equal(run.report.refused, null);
  assert.equal(run.report.k, k);
}

Deno.test("kv repair --json with no server answering prints a report saying so in stopped, exit 1", async () => {
  const down = closedPorts(2).map((port) => `127.0.0.1:${port}`);
  const file = await listFile(down);
  try {
    for (const args of [[], ["--dry-run"], ["-k", "2"]]) {
      const run = await repair(["-s", file, ...args]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        firstLine(run.stderr),
        new RegExp(`^kv repair: no server of ${RegExp.escape(file)} answered \\(`),
      );
      await assertStopped(run, down, args[0] === "-k" ? 2 : null);
      assert.equal(run.report.dryRun, args[0] === "--dry-run");
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("kv repair --json prints one object with every count", async () => {
  await using cluster = await KvCluster.start(2);
  await index(cluster.serverFile, 2, 5);
  const run = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "--json"]));
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]);
  for (
    const name of [
      "keysChecked",
      "copiesWritten",
      "copiesRemoved",
      "tombstonesPurged",
      "bytesMoved",
      "seconds",
      "keysOutOfPlace",
      "partitionsListed",
      "k",
    ]
  ) {
    assert.equal(typeof report[name], "number", name);
  }
  assert.equal(report.keysChecked, 5, "5 keys, each checked once, by digest");
  assert.equal(report.inOrder, true);
  assert.equal(report.dryRun, false);
  assert.deepEqual(report.failures, []);
  // The README's example has exactly these fields.
  assert.deepEqual(await readmeReportFields(), Object.keys(report).sort());
  const human = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile]));
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^keys checked\s+5$/m);
  assert.match(human.stdout, /the cluster is in order/);
});

Deno.test("kv repair --json carries what it says before the run: a refused change (and its dry run's) with the servers down, a list change; null when neither", async () => {
  await using cluster = await KvCluster.start(2);
  await using added = await KvCluster.start(1);
  const settled = await indexSettled(cluster.serverFile, 2, 10);
  assert.equal(settled.report.refused, null);
  assert.equal(settled.report.listChange, null);
  const typo = `127.0.0.1:${closedPorts(1)[0]}`;
  const ids = cluster.servers.map((server) => server.id);
  const mistyped = await listFile([...ids, typo]);
  const grown = await listFile([...ids, added.servers[0].id]);
  try {
    for (const dryRun of [true, false]) {
      const run = await repair(["-s", mistyped, ...(dryRun ? ["--dry-run"] : [])]);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.report.dryRun, dryRun);
      const said = firstLine(run.stderr);
      assert.match(
        said,
        /^kv repair: (nothing was changed|dry run: a run would be refused, changing nothing): /,
      );
      assert.deepEqual(run.report.refused, {
        down: [typo],
        message: said.slice("kv repair: ".length),
      });
      assert.equal(run.report.listChange, null);
      assert.equal(run.report.inOrder, false);
      // The refused run's report has every field of a run's, nothing done.
      assert.deepEqual(Object.keys(run.report).sort(), Object.keys(settled.report).sort());
      if (!dryRun) assert.equal(run.report.keysChecked, 0);
    }
    const change = await repair(["-s", grown]);
    assert.equal(change.code, 0, change.stderr);
    assert.equal(change.report.refused, null);
    // Data a monitor reads without parsing the line, and the line itself.
    const { message, ...fields } = change.report.listChange as ListChange;
    assert.deepEqual(fields, {
      kind: "list",
      servers: ids,
      fromK: [],
      added: [added.servers[0].id],
      leavesOut: false,
    });
    assert.match(message, new RegExp(`^${RegExp.escape(grown)} changes the server list: `));
    const shown = await readmeReportFields('{"kind"');
    assert.deepEqual(Object.keys(change.report.listChange as ListChange).sort(), shown);
    assert.equal(`kv repair: ${message}`, firstLine(change.stderr));
    const rerun = await repair(["-s", grown]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(rerun.report.listChange, null);
  } finally {
    await Deno.remove(mistyped);
    await Deno.remove(grown);
  }
});

Deno.test("kv repair's refusal names a line giving an HTTP server's address (kv http's port) by its file:line:col, as the other clients do", async () => {
  await using cluster = await KvCluster.start(2);
  await using served = await HttpProcess.onCluster(1, ["-k", "1"]);
  const web = new URL(served.http.url).host;
  await indexSettled(cluster.serverFile, 2, 10);
  const file = await listFile([...cluster.servers.map((server) => server.id), web]);
  try {
    const refused = await runKv(withBrokerTimeout(["repair", "-s", file]));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `^kv repair: nothing was changed: ${
          RegExp.escape(
            `${file}:3:1: ${web} is no kv server (it answered in HTTP; kv http's port?)`,
          )
        }`,
      ),
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("kv repair user errors: one line, exit 2", async () => {
  await using cluster = await KvCluster.start(2);
  const cases: RefusalCase[] = ([
    [["-s", "/nonexistent/servers.txt"], /kv repair: .*servers\.txt/],
    [["-s", cluster.serverFile, "-k", "0"], /-k must be a whole number from 1/],
    [["-s", cluster.serverFile, "-k", "3"], /-k 3 needs at least 3 servers/],
    [["-s", cluster.serverFile], /no server .* records the cluster's k yet; give it with -k N/],
    [["-s", cluster.serverFile, "--bogus"], /kv repair: .*bogus/],
  ] as const).map(([args, pattern]) => [withBrokerTimeout(["repair", ...args]), pattern]);
  // In process: a UserError is the one line kv prints before it exits 2 (lib/cli/run.ts), as
  // the real process below shows for the case that asks the servers.
  await assertRefusedInOneLine(cases);
  const [args] = cases[3];
  const run = await runKv([...args], { timeoutMs: DEFAULT_DEADLINE_MS });
  assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `${await refusalOf(args)}\n`]);
});

// The cluster's k disagreeing between servers is a user error too: a half-done -k change.
Deno.test("kv repair refuses servers that record different k until -k names one", async () => {
  await using cluster = await KvCluster.start(3);
  const client = await connectClient(cluster.servers[0].address);
  await client.setK(1);
  await client.close();
  const other = await connectClient(cluster.servers[1].address);
  await other.setK(2);
  await other.close();
  const run = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile]));
  assert.equal(run.code, 2);
  // One server each: a tie keeps the server list's order.
  assert.match(
    run.stderr,
    /record different k \(k 1 on .*; k 2 on .*\); give the one to keep with -k 1 or -k 2\n$/,
  );
  const kept = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(kept.code, 0, kept.stderr);
});

/**
 * A relay on a loopback port to `target` that passes one connection's HELLO and its answer,
 * then, at the client's next request, closes that connection and stops listening: a server
 * that went down right after its HELLO, whose reconnect is refused.
 */
function downAfterHello(target: { hostname: string; port: number }): LoopbackListener {
  let stopping: Promise<void> | undefined;
  // Once: by the relay when it cuts, and by the test at its end.
  const stop = () => stopping ??= relay.stop();
  const relay = listenLoopback((conn, connection) => {
    if (connection > 1) return conn.close();
    void relayHello(conn, target).finally(stop);
  });
  return { port: relay.port, stop };
}

/** {@link downAfterHello}'s one connection: `conn`'s bytes to `target` and back, up to HELLO's. */
async function relayHello(conn: Deno.TcpConn, target: { hostname: string; port: number }) {
  const upstream = await Deno.connect(target);
  let answered = false;
  const toClient = (async () => {
    for await (const chunk of upstream.readable) {
      answered = true;
      await conn.write(chunk);
    }
  })().catch(() => {
    // The client's side closed: the relay is going down anyway.
  });
  try {
    for await (const chunk of conn.readable) {
      if (answered) break;
      await upstream.write(chunk);
    }
  } finally {
    try {
      upstream.close();
    } catch {
      // Closed by its reader already.
    }
    await toClient;
  }
}

Deno.test("kv repair -k whose server goes down between its HELLO and the SET_K says to run it again once that server answers, not to free a full disk; --json reports it stopped", async () => {
  await using cluster = await KvCluster.start(2);
  const settled = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(settled.code, 0, settled.stderr);
  const [kept, lost] = cluster.servers;
  const relay = downAfterHello(lost.address);
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(file, `127.0.0.1 ${kept.port}\n127.0.0.1 ${relay.port}\n`);
    const changed = await repair(["-s", file, "-k", "1"]);
    assert.equal(changed.code, 1, changed.stderr);
    await assertStopped(changed, [`127.0.0.1:${relay.port}`], 1);
    assert.match(
      changed.stderr,
      new RegExp(
        `^kv repair: 127\\.0\\.0\\.1:${relay.port}: could not record k 1: .*; nothing was ` +
          "repaired; the servers that had recorded it were put back to k 2, so clients go on " +
          `under it\\. Once that server answers again, run kv repair -s ${file} -k 1\\n$`,
      ),
    );
    assert.deepEqual(await recordedKs([kept]), [2], "put back");
  } finally {
    await relay.stop();
    await Deno.remove(file);
  }
});

Deno.test("kv repair stopped by Ctrl-C or SIGTERM part way says so in one line, with the command that finishes the work, and exits 130 or 143 (S35 F12)", async () => {
  await using cluster = await KvCluster.start(2);
  const put = await runKv(withBrokerTimeout(["put", "a: 1", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(put.code, 0, put.stderr);
  for (
    const [signal, code, words] of [["SIGINT", 130, "interrupted"], [
      "SIGTERM",
      143,
      "terminated \\(SIGTERM\\)",
    ]] as const
  ) {
    // The second server behind a proxy that holds the run's first digests request there: the
    // run is part way, its first step done, and waits (its timeout longer than the test's).
    await using proxy = HoldingProxy.start(
      cluster.servers[1].address,
      MessageType.PARTITION_DIGESTS,
    );
    await withTempDir(async (dir) => {
      const file = `${dir}/servers.txt`;
      const first = cluster.servers[0];
      await Deno.writeTextFile(file, `127.0.0.1 ${first.port}\n127.0.0.1 ${proxy.port}\n`);
      const child = new Deno.Command(TEST_KV.command, {
        args: [...TEST_KV.args, "repair", "-s", file, "--timeout-ms", "600000"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await withDeadline(proxy.held, {
        what: "the repair to ask the proxied server for its digests",
        onTimeout: () => child.kill("SIGKILL"),
      });
      child.kill(signal);
      const output = await outputWithin(child, { what: `kv repair to stop on ${signal}` });
      const stderr = new TextDecoder().decode(output.stderr);
      // It died of the signal, saying nothing: the cluster left part repaired, no advice. (The
      // proxy's address is a server the cluster has not known: the run changes the list, and
      // says so first.)
      assert.equal(output.code, code, stderr);
      assert.match(
        stderr.trimEnd().split("\n").at(-1)!,
        new RegExp(
          `^kv repair: ${words} part way: the cluster may not be in order until a repair ` +
            `runs to its end; run it again: kv repair -s \\S+servers\\.txt$`,
        ),
      );
      proxy.release();
    });
  }
});
