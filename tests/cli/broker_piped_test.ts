/**
 * kv broker's piped commands end to end, against real servers, with input that arrives
 * in chunks of many windows' lines (the broker takes them a window at a time) and keys
 * that are read and then written within one window: each answer is the one running the
 * commands one at a time gives.
 */
import assert from "node:assert/strict";
import { PIPELINE_WINDOW } from "../../lib/broker/pipeline.ts";
import { BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { withoutVersion } from "../helpers/versions.ts";

/** Keys the script spreads its commands over: few, so that they meet within a window. */
const KEYS = 5;

Deno.test("piped GETs, PUTs and DELETEs of a few keys, many windows' lines in one chunk: every answer is what one command at a time gives", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  // Each key is read, then written, then read again, over and over, the commands of the
  // keys interleaved: a write must wait for the reads of its key before it (they answer
  // the old value) and a read for the write before it (it answers the new one).
  const lines: string[] = [];
  const expected: unknown[] = [];
  const model = new Map<string, number>();
  const lineCount = 6 * PIPELINE_WINDOW;
  for (let i = 0; lines.length < lineCount; i++) {
    const key = `k${i % KEYS}`;
    const held = model.get(key);
    lines.push(`GET ${key}`);
    expected.push(
      held === undefined
        ? { op: "GET", key, found: false }
        : { op: "GET", key, found: true, value: { n: held } },
    );
    if (i % 7 === 3) {
      lines.push(`DELETE ${key}`);
      expected.push({ op: "DELETE", key, deleted: held !== undefined });
      model.delete(key);
    } else {
      lines.push(`PUT ${key}: { "n": ${i} }`);
      expected.push({ op: "PUT", key, stored: true });
      model.set(key, i);
    }
  }
  // One write: the broker reads it in chunks far larger than a window's lines.
  await broker.sendBytes(new TextEncoder().encode(lines.join("\n") + "\n"));
  const { code, stdout, stderr } = await broker.finish();
  assert.equal(code, 0, stderr);
  const answers = stdout.trimEnd().split("\n").map((line) => withoutVersion(JSON.parse(line)));
  assert.equal(answers.length, expected.length);
  answers.forEach((answer, n) => assert.deepEqual(answer, expected[n], `line ${n + 1}`));
});

Deno.test("a piped session exits 0 when every command was answered (NOT FOUND too), 2 after a mistake, 3 after an ERROR from the cluster, and says so on stderr", async () => {
  // Servers with the smallest frame limit, so that a PUT can be refused as over it.
  await using cluster = await KvCluster.start(2, {
    server: () => ({ args: ["--max-frame-bytes", "65536"] }),
  });
  const run = async (script: string[]) => {
    await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2"]);
    await broker.send(script.join("\n"));
    return await broker.finish();
  };
  const counted = /^kv broker warn: of \d+ commands?, .*; exit \d/m;

  const answered = await run(["PUT a: 1", "GET a", "GET nope", "DELETE nope", "KEYS zz"]);
  assert.equal(answered.code, 0, answered.stderr);
  assert.doesNotMatch(answered.stderr, counted);

  const big = `PUT big: { s: "${"x".repeat(70_000)}" }`;
  const mistakes = await run(["PUT b: { x: 1; x: 2 }", "GET a", big, "NOPE", "GET b"]);
  assert.equal(mistakes.code, 2, mistakes.stderr);
  assert.equal(mistakes.stdout.split("\n").length, 5, "every command ran");
  assert.match(
    mistakes.stderr,
    /^kv broker warn: of 5 commands, 3 were mistakes \(their answers on stdout say why\); exit 2 /m,
  );

  // With one of two servers down and k=2, a PUT cannot reach k servers; a GET still answers.
  await cluster.servers[1].kill();
  const failed = await run(["PUT c: 1", "GET a"]);
  assert.equal(failed.code, 3, failed.stderr);
  assert.match(failed.stdout, /^ERROR: .*\na : 1$/);
  assert.match(
    failed.stderr,
    /^kv broker warn: of 2 commands, 1 the cluster could not answer for sure \(its answer on stdout says why\); exit 3 /m,
  );
  // A mistake outweighs a failure: it is the script's to fix.
  const both = await run(["PUT c: 1", "NOPE"]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(
    both.stderr,
    /of 2 commands, 1 was a mistake and 1 the cluster could not answer for sure \(their answers/,
  );
});

Deno.test("a piped --json answer to an unknown command names it as typed in op, as its message quotes it; kv's commands in capitals however typed", async () => {
  await using cluster = await KvCluster.start(1);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "1", "--json"]);
  await broker.send("person1\nget person1");
  const { code, stdout, stderr } = await broker.finish();
  assert.equal(code, 2, stderr);
  assert.deepEqual(stdout.trimEnd().split("\n").map((line) => JSON.parse(line)), [
    {
      op: "person1",
      error: "unknown command 'person1'; to read a record type GET <key>",
      line: 1,
    },
    { op: "GET", key: "person1", found: false },
  ]);
});

Deno.test("a QUERY of a key and a field apart, QUERY person1 name, is NOT FOUND with the path joined by '.' to type (S35 F10)", async () => {
  await using cluster = await KvCluster.start(1);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "1"]);
  await broker.send(
    ['PUT person1: { "name" : "Ada" }', "QUERY person1 name", "QUERY my key", "GET person1 name"]
      .join("\n"),
  );
  const { code, stdout, stderr } = await broker.finish();
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdout.trimEnd().split("\n"), [
    "STORED: person1",
    // It said only `no record "person1 name"`: true, and no help to one who meant the field.
    `NOT FOUND: no record "person1 name" (a path joins a key and its fields with '.': ` +
    "person1.name)",
    `NOT FOUND: no record "my key" (a path joins a key and its fields with '.': my.key)`,
    // GET reads a key, which may hold spaces: nothing to add.
    `NOT FOUND: "person1 name"`,
  ]);
});

Deno.test("HELP of a command word a typo away, or another store's, names the one meant: HELP gett, HELP SET (S35 F13)", async () => {
  await using cluster = await KvCluster.start(1);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "1"]);
  await broker.send(["HELP gett", "HELP SET", "HELP bogus"].join("\n"));
  const { stdout } = await broker.finish();
  assert.deepEqual(stdout.trimEnd().split("\n"), [
    // It listed every command word, the one meant among them.
    "ERROR: line 1: HELP takes a command word; did you mean HELP GET?",
    "ERROR: line 2: HELP takes a command word; kv's for SET is PUT: HELP PUT",
    "ERROR: line 3: HELP takes one of GET, QUERY, DELETE, PUT, KEYS, SERVERS, HELP, EXIT",
  ]);
});
