// New servers checked on their own (kv servers) before they join a cluster that holds data
// are not taken for a new cluster of their own: once listed with the old servers, their
// NOT FOUND does not count until a repair, and reads still find every record. Servers a
// writing client used on their own are a cluster of their own, marked repaired under their
// own server list: listed beside another cluster's servers they are not trusted (nor are
// that cluster's, marked under theirs) until kv repair over the new list marks them, so
// reads never answer a NOT FOUND without a warning meanwhile. Real `kv server` processes.
import assert from "node:assert/strict";
import { BrokerProcess, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { type KvRun, runKv } from "../helpers/run_kv.ts";
import { waitFor } from "../helpers/wait.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { otherListAdvice, REPAIRED_UNDER_OTHER_LIST } from "../../lib/broker/commands.ts";
import { BACKGROUND_HOLD_REASON } from "../../lib/broker/background_repair.ts";
import { WRITE_UNDER_OTHER_LIST } from "../../lib/broker/broker.ts";

const RECORDS = 16;

/** The keys {@link loadRecords} stores. */
const KEYS = Array.from({ length: RECORDS }, (_, i) => `person${i}`);

/** Stores {@link KEYS} (key i holds i) through `kv broker -k K` (default 1) over `cluster`. */
async function loadRecords(cluster: KvCluster, k = 1): Promise<void> {
  const load = await runKv(
    withBrokerTimeout(["broker", "-s", cluster.serverFile, "-k", `${k}`]),
    { stdin: KEYS.map((key, i) => `PUT ${key}: ${i}\n`).join("") },
  );
  assert.equal(load.code, 0, load.stderr);
}

/**
 * A writing client (`kv broker -k 1`, the cluster's k) over `cluster` alone: it takes its
 * servers for a new cluster's, records k and marks them repaired.
 */
async function useAlone(cluster: KvCluster): Promise<void> {
  const used = await runKv(withBrokerTimeout(["broker", "-s", cluster.serverFile, "-k", "1"]), {
    stdin: "",
  });
  assert.equal(used.code, 0, used.stderr);
}

/** `GET` of each of {@link KEYS} through `kv broker --json` over `serverFile`, then `more` lines. */
async function readKeys(
  serverFile: string,
  more = "",
): Promise<{ run: KvRun; answers: Record<string, unknown>[] }> {
  const run = await runKv(withBrokerTimeout(["broker", "-s", serverFile, "--json"]), {
    stdin: KEYS.map((key) => `GET ${key}\n`).join("") + more,
  });
  return { run, answers: run.stdout.trim().split("\n").map((line) => JSON.parse(line)) };
}

Deno.test("new servers a read-only command checked on their own are not trusted once they join a cluster holding data: every record is still found", async () => {
  await using old = await KvCluster.start(1);
  await using added = await KvCluster.start(1);
  await loadRecords(old);

  const check = await runKv(withBrokerTimeout(["servers", "-s", added.serverFile]));
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /not yet repaired/, "a new server is unrepaired until a repair");

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    // With k = 1, about half the keys are placed on the added server alone: the read walks
    // on past it (unrepaired) to the old server.
    const { run: read, answers } = await readKeys(both);
    // Exit 3: the answers of keys placed on the unrepaired added server carry a warning.
    assert.equal(read.code, 3, read.stderr);
    assert.deepEqual(
      answers.map((answer) => answer.found ? answer.value : answer),
      KEYS.map((_, i) => i),
      "every record found, none a NOT FOUND from the added server",
    );
    // kv servers names the command that repairs it: over this list, with the k recorded (the
    // read gave it the cluster's).
    const status = await runKv(withBrokerTimeout(["servers", "-s", both]));
    assert.match(
      status.stdout.split("\n")[1],
      new RegExp(` k=1  not yet repaired \\(run kv repair -s ${both}\\)$`),
    );
  });
});

Deno.test("new servers a writing client used on their own are a cluster of their own (k recorded, marked repaired); joined through kv repair over both lists, every record is found without a warning", async () => {
  await using old = await KvCluster.start(1);
  await using added = await KvCluster.start(1);
  await loadRecords(old);

  // A writing client over the added server alone, with the cluster's k: it takes it for a new
  // cluster's, records k and marks it repaired — what kv servers then shows.
  await useAlone(added);
  const check = await runKv(withBrokerTimeout(["servers", "-s", added.serverFile]));
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, / k=1\n$/);
  assert.doesNotMatch(check.stdout, /not yet repaired/);

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    const { run: read, answers } = await readKeys(both);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(answers.map((answer) => answer.value), KEYS.map((_, i) => i));
  });
});

Deno.test("servers a writing client used on their own, listed beside another cluster's before any repair: no read of the other cluster's keys is a NOT FOUND without a warning, kv servers says both were repaired under another list, and after kv repair -s over the new list every read answers exactly", async () => {
  await using clusterB = await KvCluster.start(2);
  await using serversA = await KvCluster.start(1);
  // Cluster B holds the records; A, used alone by a writing client, is a cluster of its own
  // (k recorded, marked repaired under its own list) holding none of them.
  await loadRecords(clusterB);
  await useAlone(serversA);

  await KvCluster.withJoinedServerFile([clusterB, serversA], async (both) => {
    const status = await runKv(withBrokerTimeout(["servers", "-s", both]));
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trim().split("\n");
    assert.equal(lines.length, 3, status.stdout);
    // Each says what makes it trusted: a repair over this very list if it is the new one,
    // else the cluster's server file (a repair over a stale list would revert a change).
    const advice = `${REPAIRED_UNDER_OTHER_LIST} (not trusted: ` +
      `${otherListAdvice(`kv repair -s ${both}`)})`;
    for (const line of lines) assert.ok(line.endsWith(advice), line);
    const json = await runKv(withBrokerTimeout(["servers", "-s", both, "--json"]));
    const reports = JSON.parse(json.stdout).servers;
    assert.deepEqual(
      reports.map((
        report: Record<string, unknown>,
      ) => [report.repaired, report.repairedUnderOtherList]),
      [[false, true], [false, true], [false, true]],
    );

    // With k = 1 about a third of the keys are placed on A alone, which never held them:
    // trusted, its NOT FOUND was the answer. Now the read walks past it.
    const { run: before, answers } = await readKeys(both);
    assert.equal(answers.length, RECORDS, before.stdout + before.stderr);
    for (const [i, answer] of answers.entries()) {
      assert.ok(
        answer.found || answer.warning !== undefined,
        `${KEYS[i]}: ${JSON.stringify(answer)}`,
      );
    }
    assert.deepEqual(
      answers.map((answer) => answer.found ? answer.value : answer),
      KEYS.map((_, i) => i),
      "every record found: the read walked past A to B",
    );

    // A dry run tells they are not repaired under this list: the check before a change.
    const dryRun = await runKv(withBrokerTimeout(["repair", "-s", both, "--dry-run"]));
    assert.equal(dryRun.code, 1, dryRun.stdout + dryRun.stderr);
    assert.match(dryRun.stdout, /not repaired under this server list and k: /);
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    const after = await runKv(withBrokerTimeout(["servers", "-s", both]));
    assert.doesNotMatch(after.stdout, /repaired under another|not yet repaired/, after.stdout);
    const { run: read, answers: exact } = await readKeys(both, "GET nobody\n");
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(exact.slice(0, RECORDS).map((answer) => answer.value), KEYS.map((_, i) => i));
    assert.ok(exact.every((answer) => answer.warning === undefined), read.stdout);
    assert.equal(exact[RECORDS].found, false, "a key nobody wrote: a NOT FOUND, now exact");
  });
});

Deno.test("a broker given a server list that adds servers, before kv repair, moves and removes nothing in the background: it logs that its list is not the cluster's, and clients on the old list still read every record", async () => {
  await using old = await KvCluster.start(3);
  await using added = await KvCluster.start(2);
  await loadRecords(old, 2);

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    await using broker = BrokerProcess.start(["-s", both, "--json"]);
    // Its first look at the servers (at start) finds the old three marked under their list.
    const held = await broker.stderrMatching(/background repair held: [^\n]*\n/);
    const line = held.split("\n").find((text) => text.includes("background repair held"));
    for (const server of old.servers) assert.ok(line?.includes(server.id), line);
    assert.ok(line?.endsWith(BACKGROUND_HOLD_REASON), line);
    // About 70% of the keys are placed on an added server by the new list: had they been
    // moved, the old list's reads would answer a plain NOT FOUND for them.
    const { run: read, answers } = await readKeys(old.serverFile);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(answers.map((answer) => answer.value), KEYS.map((_, i) => i));
    const { stderr } = await broker.finish();
    assert.doesNotMatch(stderr, /background repair \(/, "no background repair ran");
  });
});

Deno.test("a write through a client on a stale server list, to servers repaired under the cluster's new list, is stored with a warning (exit 3) saying clients on that list may not see it until kv repair, which then moves it", async () => {
  await using old = await KvCluster.start(3);
  await using added = await KvCluster.start(2);
  await loadRecords(old, 2);

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    // Every server is now marked under the new list; a client on the old one writes. Of
    // ten keys, some are placed by the two lists on different servers.
    const keys = Array.from({ length: 10 }, (_, i) => `late${i}`);
    for (const key of keys) {
      const put = await runKv(withBrokerTimeout(["put", "-s", old.serverFile, `${key}: 1`]));
      assert.equal(put.code, 3, put.stdout + put.stderr);
      assert.equal(put.stdout, `STORED: ${key}\n`);
      assert.ok(put.stderr.includes(WRITE_UNDER_OTHER_LIST), put.stderr);
    }
    // The warning's advice: kv repair over the cluster's list moves every write home.
    const again = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const read = await runKv(withBrokerTimeout(["broker", "-s", both, "--json"]), {
      stdin: keys.map((key) => `GET ${key}\n`).join(""),
    });
    assert.equal(read.code, 0, read.stderr);
    const answers = read.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(answers.map((answer) => answer.value), keys.map(() => 1));
  });
});

Deno.test("during a k conflict kv servers says repaired under another list only of the server whose mark does not match the list with its own k, names no repair a row (one without -k is refused), and its last line names the kv repair -s FILE -k of each k", async () => {
  await using cluster = await KvCluster.start(3);
  const used = await runKv(withBrokerTimeout(["broker", "-s", cluster.serverFile, "-k", "2"]), {
    stdin: "",
  });
  assert.equal(used.code, 0, used.stderr);
  // A k change over a list of the first server alone: it records k=1 and is marked under
  // that one-server list; the others record k=2, marked under the full list.
  const [changed] = cluster.servers;
  const onlyFirst = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(onlyFirst, `${changed.address.hostname} ${changed.port}\n`);
    const repair = await runKv(withBrokerTimeout(["repair", "-s", onlyFirst, "-k", "1"]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  } finally {
    await Deno.remove(onlyFirst);
  }
  const status = await runKv(withBrokerTimeout(["servers", "-s", cluster.serverFile]));
  assert.equal(status.code, 0, status.stderr);
  const lines = (status.stdout + status.stderr).trim().split("\n");
  assert.equal(lines.length, 4, status.stdout);
  for (const line of lines.slice(0, 3)) {
    const other = line.startsWith(changed.id);
    assert.equal(line.includes(`${REPAIRED_UNDER_OTHER_LIST} (not trusted)`), other, line);
    assert.doesNotMatch(line, /not yet repaired|kv repair/);
  }
  // The k of two servers first, then the one of the server changed alone.
  const repair = `kv repair -s ${cluster.serverFile}`;
  assert.ok(lines[3].endsWith(`settle one with ${repair} -k 2 or ${repair} -k 1`), lines[3]);
  // --json advises the same: the last line, the one instruction.
  const json = await runKv(withBrokerTimeout(["servers", "-s", cluster.serverFile, "--json"]));
  assert.equal(JSON.parse(json.stdout).advice, lines[3]);
});

Deno.test("--json, a piped broker's SERVERS and GET /v1/servers carry the advice kv servers' text gives: the exact repair command, naming the servers that need it", async () => {
  await using old = await KvCluster.start(1);
  await using added = await KvCluster.start(1);
  await loadRecords(old);
  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = `kv repair -s ${both}`;
    // The added server is not yet repaired; the old one was marked under its own list.
    const expected = `run ${repair} to repair ${added.servers[0].id}; ${old.servers[0].id} ` +
      `was ${REPAIRED_UNDER_OTHER_LIST}: ${otherListAdvice(repair)}`;
    const text = await runKv(withBrokerTimeout(["servers", "-s", both]));
    assert.match(text.stdout, new RegExp(`not yet repaired \\(run ${repair}\\)`));
    const json = await runKv(withBrokerTimeout(["servers", "-s", both, "--json"]));
    assert.equal(JSON.parse(json.stdout).advice, expected, json.stderr);
    const piped = await runKv(withBrokerTimeout(["broker", "-s", both, "--json"]), {
      stdin: "SERVERS\n",
    });
    assert.equal(JSON.parse(piped.stdout).advice, expected, piped.stderr);
    {
      await using http = await HttpProcess.start(["-s", both]);
      const answer = await (await fetch(`${http.url}v1/servers`)).json();
      assert.equal(answer.advice, expected);
    }
    const repaired = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    const after = await runKv(withBrokerTimeout(["servers", "-s", both, "--json"]));
    assert.equal(JSON.parse(after.stdout).advice, undefined, "nothing left to advise");
  });
});

Deno.test("a broker started on a new server list before kv repair trusts its servers once kv repair -s over that list has marked them: no restart needed, its background repair resumes and reads answer exactly", async () => {
  await using old = await KvCluster.start(3);
  await using added = await KvCluster.start(2);
  await loadRecords(old, 2);

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    await using broker = BrokerProcess.start(["-s", both, "--json"]);
    await broker.stderrMatching(/background repair held: /);
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    // The broker re-reads the marks of servers it found marked under another list.
    await broker.stderrMatching(/background repair resumed: /);
    // The added two, unrepaired in their HELLO, its background repair then marks itself.
    await waitFor(async () => {
      const { servers } = await broker.ask("SERVERS") as { servers: { repaired: boolean }[] };
      return servers.every((server) => server.repaired);
    }, { what: "SERVERS to show every server repaired" });
    for (const [i, key] of KEYS.entries()) {
      const answer = await broker.ask(`GET ${key}`);
      assert.deepEqual([answer.value, answer.warning], [i, undefined], JSON.stringify(answer));
    }
    assert.deepEqual(await broker.ask("GET nobody"), { op: "GET", key: "nobody", found: false });
  });
});

Deno.test("kv http started on a new server list before kv repair answers /healthz 503, and 200 once kv repair -s over that list has marked the servers, without a restart", async () => {
  await using old = await KvCluster.start(3);
  await using added = await KvCluster.start(2);
  await loadRecords(old, 2);

  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const http = await HttpProcess.start(["-s", both]);
    try {
      const health = async () => {
        const response = await fetch(`${http.url}healthz`);
        await response.body?.cancel();
        return response.status;
      };
      assert.equal(await health(), 503, "every server untrusted: k or more");
      const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      await waitFor(async () => await health() === 200, { what: "/healthz to answer 200" });
    } finally {
      await http.stop();
    }
  });
});

Deno.test("a running kv http logs, once a server, that a kv repair -s over another list left it untrusting them and what to do, and that it trusts them again once a repair over its own list marked them", async () => {
  await using old = await KvCluster.start(2);
  await using added = await KvCluster.start(1);
  await loadRecords(old, 2);
  const http = await HttpProcess.start(["-s", old.serverFile]);
  try {
    await KvCluster.withJoinedServerFile([old, added], async (both) => {
      const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    });
    const untrusted = (id: string) =>
      `kv http warn: server ${id} was repaired under another server list or k than this broker's ` +
      "and is not trusted: if the cluster's list changed, restart this broker with the new " +
      `file; if this broker's file is the new one, run kv repair -s ${old.serverFile}`;
    for (const { id } of old.servers) {
      await waitFor(() => http.stderr.includes(untrusted(id)), { what: `kv http to log ${id}` });
    }
    const back = await runKv(withBrokerTimeout(["repair", "-s", old.serverFile]));
    assert.equal(back.code, 0, back.stdout + back.stderr);
    for (const { id } of old.servers) {
      const line = `kv http: server ${id} is trusted again`;
      await waitFor(() => http.stderr.includes(line), { what: `kv http to log ${line}` });
      assert.equal(http.stderr.filter((logged) => logged === untrusted(id)).length, 1);
    }
  } finally {
    await http.stop();
  }
});
