// The cluster remembers its k: every client that opens a broker (kv broker, the one-shot
// commands, kv http, kv bench, the library's connect) refuses another, and uses it when
// given none. Real `kv server` processes.
import assert from "node:assert/strict";
import { KvInputError } from "../../mod.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { recordedKs } from "../helpers/client.ts";
import { runKv } from "../helpers/run_kv.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { waitFor } from "../helpers/wait.ts";

const REFUSAL = (command: string, asked: number) =>
  new RegExp(
    `^kv ${command}: asked for k=${asked}, but the cluster records k=2 \\(k=2: [^)]+\\); ` +
      `leave k out to use it, or change it with kv repair -s \\S+ -k ${asked}\\n$`,
  );

Deno.test("the first broker records its k; every client refuses another in one line, exit 2, and uses it without -k", async () => {
  // Three servers: enough for -k 3 to be refused for the recorded k, not for their count.
  await using cluster = await KvCluster.start(3);
  assert.deepEqual(await recordedKs(cluster.servers), [0, 0, 0]);
  const put = await runKv(
    withBrokerTimeout(["put", "-s", cluster.serverFile, "-k", "2", "person1: 1"]),
  );
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 2]);

  const broker = await runKv(withBrokerTimeout(["broker", "-s", cluster.serverFile, "-k", "3"]), {
    stdin: "",
  });
  assert.equal(broker.code, 2);
  assert.match(broker.stderr, REFUSAL("broker", 3));
  const get = await runKv(
    withBrokerTimeout(["get", "-s", cluster.serverFile, "-k", "1", "person1"]),
  );
  assert.equal(get.code, 2);
  assert.match(get.stderr, REFUSAL("get", 1));
  assert.equal(get.stdout, "");
  const http = await runKv(
    withBrokerTimeout(["http", "-s", cluster.serverFile, "-k", "1", "--listen", "127.0.0.1:0"]),
  );
  assert.equal(http.code, 2);
  assert.match(http.stderr, REFUSAL("http", 1));
  const bench = await runKv(
    withBrokerTimeout(["bench", "-s", cluster.serverFile, "-k", "3", "--ops", "10"]),
  );
  assert.equal(bench.code, 2);
  assert.match(bench.stderr, REFUSAL("bench", 3));
  // The library's own words: its option is replicas, and its repair names its server file.
  await assert.rejects(
    () => cluster.connect({ replicas: 1 }),
    (error: unknown) =>
      error instanceof KvInputError &&
      error.message ===
        `asked for replicas=1, but the cluster records k=2 (k=2: ${
          cluster.servers.map((server) => server.id).join(", ")
        }); leave replicas out to use it, or change it with kv repair -s ${cluster.serverFile} -k 1`,
  );

  // Without -k, each uses the recorded k: the record is on its 2 servers and found.
  const found = await runKv(
    withBrokerTimeout(["get", "-s", cluster.serverFile, "--json", "person1"]),
  );
  assert.equal(found.code, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout).value, 1);
  await using kv = await cluster.connect();
  assert.equal((await kv.get("person1")).value, 1);
  const session = await runKv(withBrokerTimeout(["broker", "-s", cluster.serverFile, "--json"]), {
    stdin: "SERVERS\n",
  });
  assert.equal(session.code, 0, session.stderr);
  const { servers } = JSON.parse(session.stdout) as { servers: { records: number }[] };
  assert.equal(servers.reduce((sum, server) => sum + server.records, 0), 2);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 2], "nothing changed the recorded k");
});

Deno.test("a server that comes back recording no k is given the cluster's", async () => {
  await using cluster = await KvCluster.start(3);
  const put = await runKv(
    withBrokerTimeout(["put", "-s", cluster.serverFile, "-k", "2", "person1: 1"]),
  );
  assert.equal(put.code, 0, put.stderr);
  // Memory-only: the restart forgets k (and its records).
  await cluster.servers[0].restart();
  assert.deepEqual(await recordedKs(cluster.servers), [0, 2, 2]);
  const get = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, "person1"]));
  assert.equal(get.code, 0, get.stderr);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 2]);
});

Deno.test("no client guesses k while servers that may record one are down: a read-only command records none, a writing one is refused naming them, -k is recorded", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  const s = ["-s", cluster.serverFile];
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "person1: 1"]));
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 2]);
  const [wiped, down1, down2] = cluster.servers;
  await down1.stop();
  await down2.stop();
  await wiped.stop();
  await Deno.remove(wiped.dataDir!, { recursive: true });
  await wiped.restart();
  const upNow = async () => (await recordedKs([wiped]))[0];
  assert.equal(await upNow(), 0, "the wiped server records no k");

  // Read-only commands run (kv servers shows who is down) and record nothing.
  const servers = await runKv(withBrokerTimeout(["servers", ...s, "--json"]));
  assert.equal(servers.code, 0, servers.stderr);
  const shown = JSON.parse(servers.stdout).servers.map((server: { up: boolean }) => server.up);
  assert.deepEqual(shown, [true, false, false]);
  const get = await runKv(withBrokerTimeout(["get", ...s, "person1"]));
  assert.equal(get.code, 3, "the wiped server's NOT FOUND is unsure");
  assert.equal(await upNow(), 0, "a read-only command fixed no k");

  // A client that may write is refused in one line naming the unreachable servers.
  const unknown = new RegExp(
    "cannot tell the cluster's k: the reachable servers record none, and 2 of its 3 servers " +
      `are unreachable \\(${down1.id}: [^;]+; ${down2.id}: [^)]+\\); give its k \\(-k, replicas\\) ` +
      "if you know it, or start them",
  );
  for (const args of [["put", "person2: 2"], ["delete", "person1"], ["broker"]]) {
    const run = await runKv(withBrokerTimeout([...args, ...s]), { stdin: "" });
    assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^kv ${args[0]}: ${unknown.source}\\n$`));
  }
  await assert.rejects(
    () => cluster.connect(),
    (error: unknown) => error instanceof KvInputError && unknown.test(error.message),
  );
  const repair = await runKv(withBrokerTimeout(["repair", ...s]));
  assert.equal(repair.code, 2, repair.stderr);
  assert.match(
    repair.stderr,
    /^kv repair: no reachable server of \S+ records the cluster's k, and 2 of its 3 did not answer \(they may\); start them, or give it with -k N if you know it\n$/,
  );
  assert.equal(await upNow(), 0, "a refused client fixed no k");

  // Back up, the cluster agrees on k=2: the wiped server is given it.
  await down1.restart();
  await down2.restart();
  const found = await runKv(withBrokerTimeout(["get", ...s, "--json", "person1"]));
  assert.equal(found.code, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout).value, 1);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 2]);
});

/**
 * Asserts that a `kv put -k 1 person2: 2` made with servers down stored it: exit 3 with the
 * warning that it landed beyond its key's first server (k = 1), the one reads look at,
 * when that server is down; or, when that server is the wiped one (which the random ports
 * decide), that it cannot vouch for every earlier write: the down one may hold a later one.
 */
function assertStoredWithK1(put: { code: number; stdout: string; stderr: string }): void {
  assert.equal(put.stdout, "STORED: person2\n", put.stderr);
  assert.equal(put.code, 3, put.stderr);
  assert.match(
    put.stderr,
    /^WARNING: (stored on \S+, beyond the first server of the key's list, where reads look \(\S+ is down .*: once it answers again|no replica of 'person2' answered that can be trusted \((?=.*is down)(?=.*may have lost writes).*\); a write they hold may carry a later version than this one)/,
  );
}

Deno.test("a k given while servers are down is the caller's statement: recorded, and a server back recording another makes every client refuse until kv repair -k settles it", async () => {
  await using cluster = await KvCluster.start(2, { durable: true });
  const s = ["-s", cluster.serverFile];
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "person1: 1"]));
  assert.equal(put.code, 0, put.stderr);
  const [wiped, down] = cluster.servers;
  await down.stop();
  await wiped.stop();
  await Deno.remove(wiped.dataDir!, { recursive: true });
  await wiped.restart();
  const guessed = await runKv(withBrokerTimeout(["put", ...s, "-k", "1", "person2: 2"]));
  assertStoredWithK1(guessed);
  await down.restart();
  assert.deepEqual(await recordedKs(cluster.servers), [1, 2]);
  const refused = await runKv(withBrokerTimeout(["get", ...s, "person1"]));
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    // The exact commands, with this client's server file: the k of the most servers first.
    new RegExp(
      "^kv get: the servers record different replication factors \\(k=1: [^;]+; k=2: [^)]+\\); " +
        `settle one with kv repair -s ${cluster.serverFile} -k 1 or kv repair -s ` +
        `${cluster.serverFile} -k 2\n$`,
    ),
  );
  const repair = await runKv(withBrokerTimeout(["repair", ...s, "-k", "2"]));
  assert.equal(repair.code, 0, repair.stderr);
  assert.deepEqual(await recordedKs(cluster.servers), [2, 2]);
  const found = await runKv(withBrokerTimeout(["get", ...s, "--json", "person2"]));
  assert.equal(found.code, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout).value, 2);
});

Deno.test("during a k conflict kv servers still shows every server, the k each records, and what to do", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  const s = ["-s", cluster.serverFile];
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "person1: 1"]));
  assert.equal(put.code, 0, put.stderr);
  const [wiped, ...others] = cluster.servers;
  for (const server of cluster.servers) await server.stop();
  await Deno.remove(wiped.dataDir!, { recursive: true });
  await wiped.restart();
  const guessed = await runKv(withBrokerTimeout(["put", ...s, "-k", "1", "person2: 2"]));
  assertStoredWithK1(guessed);
  for (const server of others) await server.restart();
  assert.deepEqual(await recordedKs(cluster.servers), [1, 2, 2]);

  const shown = await runKv(withBrokerTimeout(["servers", ...s]));
  assert.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3, shown.stdout);
  cluster.servers.forEach((server, index) => {
    assert.match(
      lines[index],
      new RegExp(
        `^${server.address.hostname}:${server.address.port} +up .* k=${index === 0 ? 1 : 2}\\b`,
      ),
    );
  });
  assert.match(
    shown.stderr,
    new RegExp(
      "^the servers record different replication factors \\(k=1: [^;]+; k=2: [^)]+\\); settle " +
        `one with kv repair -s ${cluster.serverFile} -k 2 or kv repair -s ${cluster.serverFile} ` +
        "-k 1\n$",
    ),
  );
  const json = await runKv(withBrokerTimeout(["servers", ...s, "--json"]));
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).servers.map((report: { k: number }) => report.k), [
    1,
    2,
    2,
  ]);
  assert.deepEqual(await recordedKs(cluster.servers), [1, 2, 2], "kv servers took no side");
});

Deno.test("a writing client that fixes the default k says so, since a cluster whose memory-only servers all restarted looks new: -k, or a recorded k, is silent", async () => {
  await using cluster = await KvCluster.start(2);
  const s = ["-s", cluster.serverFile];
  const NOTICE =
    /^kv put: no server records a k, so k=1 \(the default\) is now the cluster's, recorded on all 2 servers; if they lost a cluster's data \(memory-only servers restarted\), its k was lost with it: set it with kv repair -s \S+ -k N\n$/;
  const first = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "person1: 1"]));
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr, "", "-k is the caller's statement");
  const again = await runKv(withBrokerTimeout(["put", ...s, "person2: 2"]));
  assert.equal(again.stderr, "", "the recorded k is no guess");

  for (const server of cluster.servers) await server.restart();
  assert.deepEqual(await recordedKs(cluster.servers), [0, 0]);
  const guessed = await runKv(withBrokerTimeout(["put", ...s, "person3: 3"]));
  assert.equal(guessed.code, 0, guessed.stderr);
  assert.match(guessed.stderr, NOTICE);
  assert.deepEqual(await recordedKs(cluster.servers), [1, 1]);

  for (const server of cluster.servers) await server.restart();
  const broker = await runKv(withBrokerTimeout(["broker", ...s]), { stdin: "" });
  assert.equal(broker.code, 0, broker.stderr);
  assert.match(broker.stderr, new RegExp(NOTICE.source.replace("kv put", "kv broker")));

  for (const server of cluster.servers) await server.restart();
  await using http = await HttpProcess.start(s);
  const said = http.stderr.filter((line) => line.includes("no server records a k"));
  assert.deepEqual(said, [guessed.stderr.replace("kv put", "kv http").trimEnd()]);
});

Deno.test("kv servers records no k and is never refused for k against the servers listed: a new server shows no k over it alone, even after kv servers over the full list", async () => {
  await using cluster = await KvCluster.start(3);
  const [first, second, fresh] = cluster.servers;
  const file = async (servers: readonly (typeof first)[]) => {
    const path = await Deno.makeTempFile({ suffix: ".txt" });
    await Deno.writeTextFile(
      path,
      servers.map((server) => `${server.address.hostname} ${server.port}\n`).join(""),
    );
    return path;
  };
  const [pair, all, alone, one] = await Promise.all(
    [[first, second], cluster.servers, [fresh], [first]].map(file),
  );
  try {
    const put = await runKv(withBrokerTimeout(["put", "-s", pair, "-k", "2", "person1: 1"]));
    assert.equal(put.code, 0, put.stderr);
    const beside = await runKv(withBrokerTimeout(["servers", "-s", all]));
    assert.equal(beside.code, 0, beside.stderr);
    assert.match(beside.stdout.split("\n")[2], /\bno k\b/, beside.stdout);
    assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 0], "kv servers recorded no k");
    const checked = await runKv(withBrokerTimeout(["servers", "-s", alone]));
    assert.equal(checked.code, 0, checked.stderr);
    // No k anywhere: the repair that marks it must be told the cluster's.
    assert.match(
      checked.stdout,
      new RegExp(
        `^\\S+ +up +0 records +\\S+ ms +no k +not yet repaired \\(run kv repair -s ${alone} -k N\\)\n$`,
      ),
    );

    // One line of the cluster's left out: kv servers shows it, a reader says what to do.
    const TOO_FEW =
      "the servers record k=2, but the server list has 1 server: list every server of the " +
      "cluster, or lower k over the full list with kv repair -k N";
    const shown = await runKv(withBrokerTimeout(["servers", "-s", one]));
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^\S+ .*\bk=2\b[^\n]*\n$/);
    assert.equal(shown.stderr, `${TOO_FEW}\n`);
    const get = await runKv(withBrokerTimeout(["get", "-s", one, "person1"]));
    assert.equal(get.code, 2);
    assert.equal(get.stderr, `kv get: ${TOO_FEW}\n`);
    assert.deepEqual(await recordedKs(cluster.servers), [2, 2, 0], "nothing recorded a k");
  } finally {
    await Promise.all([pair, all, alone, one].map((path) => Deno.remove(path)));
  }
});

/** `kv http`'s answer to `path` (under its base URL) as JSON, with its status. */
async function httpJson(
  http: HttpProcess,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${http.url}${path}`, init);
  return { status: response.status, body: await response.json() };
}

/** The k each server reports in `kv http`'s /v1/servers. */
async function shownKs(http: HttpProcess): Promise<number[]> {
  const { body } = await httpJson(http, "v1/servers");
  return (body.servers as { k: number }[]).map((server) => server.k);
}

Deno.test("a running kv http given no k follows a k kv repair -k changes, and logs it: writes go to the new k's servers, /v1/servers shows it, and reads are trusted again once the repair marked the servers", async () => {
  await using cluster = await KvCluster.start(4);
  const s = ["-s", cluster.serverFile];
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", "person0: 0"]));
  assert.equal(put.code, 0, put.stderr);
  await using http = await HttpProcess.start(s);
  const repair = await runKv(withBrokerTimeout(["repair", ...s, "-k", "3"]));
  assert.equal(repair.code, 0, repair.stderr);
  assert.deepEqual(await shownKs(http), [3, 3, 3, 3], "each server's k as it records it now");
  await waitFor(
    () =>
      http.stderr.includes(
        "kv http: the servers now record k=3 (kv repair -k changed it): this broker now " +
          "writes and reads with k=3, not 2",
      ),
    { what: "kv http to log the k it now follows" },
  );

  for (let i = 1; i <= 20; i++) {
    const stored = await fetch(`${http.url}v1/records/n${i}`, {
      method: "PUT",
      body: "1",
      headers: { "Content-Type": "application/json" },
    });
    const text = await stored.text();
    assert.equal(stored.status, 200, text);
  }
  const { body } = await httpJson(http, "v1/records/n1?replicas=true");
  assert.equal((body.replicas as unknown[]).length, 3);
  assert.equal(body.agree, true, JSON.stringify(body));
  const check = await runKv(withBrokerTimeout(["repair", ...s, "--dry-run"]));
  assert.equal(check.code, 0, `every key written on its 3 servers: ${check.stdout}`);
  // The repair marked the servers under k=3 after kv http adopted it: it reads the marks
  // again, and answers without a warning.
  await waitFor(async () => {
    const read = await httpJson(http, "v1/records/n2");
    return read.status === 200 && read.body.value === 1 && read.body.warning === undefined;
  }, { what: "kv http to trust the servers the repair marked under k=3" });
  const health = await httpJson(http, "healthz");
  assert.equal(health.body.replicas, 3);
  assert.equal(health.body.unrepaired, 0);
});

Deno.test("a running kv http given -k refuses writes once kv repair -k records another k, logs why, and /v1/servers shows what each server records", async () => {
  await using cluster = await KvCluster.start(4);
  const s = ["-s", cluster.serverFile];
  await using http = await HttpProcess.start([...s, "-k", "2"]);
  const repair = await runKv(withBrokerTimeout(["repair", ...s, "-k", "3"]));
  assert.equal(repair.code, 0, repair.stderr);
  assert.deepEqual(await shownKs(http), [3, 3, 3, 3]);
  const refused = await fetch(`${http.url}v1/records/n1`, {
    method: "PUT",
    body: "1",
    headers: { "Content-Type": "application/json" },
  });
  const text = await refused.text();
  assert.ok(refused.status >= 400, `${refused.status} ${text}`);
  assert.match(
    text,
    /the servers now record k=3 \(kv repair -k changed it\), but this broker was given k=2 \(-k, replicas\): writes are refused; start it again without -k to follow the cluster's k/,
  );
  const found = await runKv(withBrokerTimeout(["get", ...s, "n1"]));
  assert.equal(found.code, 1, "nothing was stored");
  assert.ok(
    http.stderr.includes(
      "kv http warn: the servers now record k=3 (kv repair -k changed it), but this broker was " +
        "given k=2 (-k, replicas): writes are refused; start it again without -k to follow " +
        "the cluster's k",
    ),
    `kv http logs the refusal: ${http.stderr.join("\n")}`,
  );
});
