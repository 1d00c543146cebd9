import assert from "node:assert/strict";
import { brokerCommand } from "../../lib/cli/broker.ts";
import { UnavailableError } from "../../lib/cli/user_error.ts";
import { assertRefusedInOneLine } from "../helpers/refusals.ts";
import { BROKER_TIMEOUT_MS, BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { outputWithin, waitFor, withDeadline } from "../helpers/wait.ts";
import { connectClient } from "../helpers/client.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { closedPorts } from "../helpers/fixtures.ts";
import { runKv } from "../helpers/run_kv.ts";
import { int } from "../../lib/record/value.ts";
import type { Version } from "../../lib/record/version.ts";

/** For the brokers started through bash rather than BrokerProcess. */
const BROKER_TIMEOUT_FLAGS = ["--timeout-ms", `${BROKER_TIMEOUT_MS}`];

async function tempFile(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, text);
  return path;
}

/** Checks that `kv broker <args>`, run in process, refuses with one line matching `message`. */
async function rejectsWith(args: string[], message: RegExp): Promise<void> {
  await assertRefusedInOneLine([[["broker", ...args], message]]);
}

Deno.test("kv broker refuses bad flags with one line", async () => {
  const servers = await tempFile("127.0.0.1 8000\n127.0.0.1 8001\n");
  try {
    await rejectsWith([], /-s serverFile is required/);
    await rejectsWith(["-s", servers, "-k", "3"], /-k 3 needs at least 3 servers, but .* lists 2/);
    await rejectsWith(["-s", servers, "-k", "0"], /-k must be a whole number from 1 to/);
    await rejectsWith(["-s", servers, "--timeout-ms", "0"], /--timeout-ms must be a whole number/);
    await rejectsWith(["-s", servers, "--dialect", "yaml"], /--dialect must be one of/);
    await rejectsWith(["-s", servers, "--duplicate-keys", "x"], /--duplicate-keys must be/);
    await rejectsWith(["-s", servers, "--index-only"], /--index-only needs -i/);
    await rejectsWith(["-s", servers, "-i", "/nonexistent/data.txt"], /cannot read/);
    await rejectsWith(["-s", servers, "--bogus"], /unknown option '--bogus'/);
  } finally {
    await Deno.remove(servers);
  }
});

Deno.test("kv broker reports a bad server file line as file:line:col", async () => {
  const servers = await tempFile("127.0.0.1 8000\nlocalhost\n");
  try {
    await rejectsWith(
      ["-s", servers],
      new RegExp(
        `^kv broker: ${servers}:2:1: expected 'HOST PORT' or 'HOST:PORT', found 'localhost'$`,
      ),
    );
  } finally {
    await Deno.remove(servers);
  }
});

Deno.test("kv broker -i refuses before writing when fewer than k servers answer: exit 3, naming them", async () => {
  await using cluster = await KvCluster.start(1);
  const [closed] = closedPorts(1);
  const servers = await tempFile(
    `${await Deno.readTextFile(cluster.serverFile)}127.0.0.1:${closed}\n`,
  );
  try {
    for (const [input, name] of [["testdata/compat/bare-dialect.txt", ".*"], ["-", "stdin"]]) {
      await assert.rejects(
        () => brokerCommand.run(["-s", servers, "-k", "2", "-i", input, ...BROKER_TIMEOUT_FLAGS]),
        (error: unknown) => {
          // Not a mistake: the same command succeeds once the server is back.
          assert(error instanceof UnavailableError, String(error));
          assert.match(
            error.message,
            new RegExp(
              `^kv broker: only 1 of 2 servers are reachable, fewer than k=2 \\(127\\.0\\.0\\.1:` +
                `${closed}: cannot connect[^)]*\\); nothing from ${name} was indexed; start them`,
            ),
          );
          return true;
        },
      );
    }
    // Nothing was written: the one server up holds no record (a warning: it is unrepaired).
    const run = await runKv(["keys", "-s", servers, ...BROKER_TIMEOUT_FLAGS]);
    assert.equal(run.stdout, "", run.stderr);
    assert.match(run.stderr, /^NO KEYS$/m);
  } finally {
    await Deno.remove(servers);
  }
});

Deno.test("kv broker refuses a server file that names one server under two addresses", async () => {
  await using cluster = await KvCluster.start(1);
  const { port } = cluster.servers[0];
  const servers = await tempFile(`127.0.0.1 ${port}\nlocalhost:${port}\n`);
  try {
    await rejectsWith(
      ["-s", servers, "-k", "2"],
      new RegExp(
        `:2:1: localhost:${port} is the same server as 127\\.0\\.0\\.1:${port} \\(.*:1:1\\): ` +
          `both are 127\\.0\\.0\\.1:${port}; list each server once`,
      ),
    );
  } finally {
    await Deno.remove(servers);
  }
});

Deno.test("kv broker ends quietly when its reader closes stdout (| head -1)", async () => {
  await using cluster = await KvCluster.start(1);
  const args = [...TEST_KV.args, "broker", "-s", cluster.serverFile, ...BROKER_TIMEOUT_FLAGS];
  const kv = args.map((arg) => `'${arg}'`);
  const commands = Array.from({ length: 5000 }, (_, i) => `GET person${i}`).join("\n");
  const script = `'${TEST_KV.command}' ${
    kv.join(" ")
  } | head -n 1; echo "exit \${PIPESTATUS[0]}" >&2`;
  const child = new Deno.Command("bash", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The broker may stop reading once head has its line: errors writing are expected, a hang not.
  const writer = child.stdin.getWriter();
  const feed = async () => {
    await writer.write(new TextEncoder().encode(commands + "\n")).catch(() => {});
    await writer.close().catch(() => {});
  };
  await withDeadline(feed(), { what: "bash to take the commands", onTimeout: () => child.kill() });
  const output = await outputWithin(child, { what: "kv broker | head -n 1 to exit" });
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(new TextDecoder().decode(output.stdout), "NOT FOUND: person0\n");
  assert.match(stderr, /exit 0/);
  assert.doesNotMatch(stderr, /internal error|BrokenPipe/);
});

Deno.test("kv broker -i streams from a pipe, as in -i <(kv gen -o -)", async () => {
  await using cluster = await KvCluster.start(1);
  const kv = [...TEST_KV.args].map((arg) => `'${arg}'`).join(" ");
  const gen = `'${TEST_KV.command}' ${kv} gen -k testdata/compat/keyFile.txt -n 300 -o -`;
  const broker = `'${TEST_KV.command}' ${kv} broker -s '${cluster.serverFile}' --index-only ${
    BROKER_TIMEOUT_FLAGS.join(" ")
  }`;
  const child = new Deno.Command("bash", {
    args: ["-c", `${broker} -i <(${gen})`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await outputWithin(child, { what: "kv broker -i <(kv gen …) to exit" });
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.match(stderr, /indexed 300 records \(0 failed\), skipped 0 lines/);
});

Deno.test("kv broker -i - indexes standard input, then exits without reading commands", async () => {
  await using cluster = await KvCluster.start(2);
  await using loader = BrokerProcess.start(["-s", cluster.serverFile, "-i", "-", "-k", "2"]);
  await loader.send(`"person1" : { "age" : 22 }`);
  await loader.send(`"person2" : 7`);
  // Not a command: after `-i -` nothing on stdin is one.
  await loader.send("GET person1");
  const loaded = await loader.finish();
  assert.equal(loaded.code, 2, loaded.stderr);
  assert.equal(loaded.stdout, "");
  assert.match(loaded.stderr, /^kv broker warn: stdin:3:/m);
  assert.match(loaded.stderr, /indexed 2 records \(0 failed\), skipped 1 line/);
  await using reader = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2"]);
  await reader.send("GET person1");
  assert.equal(await reader.readLine(), `person1 : { "age" : 22 }`);
  assert.equal((await reader.finish()).code, 0);
});

// Not the proof of the key order (a line waits for the earlier line of its key): real servers
// answer each connection in order, so this load passes without that wait too. The fast-check
// property in tests/broker/indexer_test.ts, with the answers in every order, fails without it.
Deno.test("kv broker -i: lines refused as STALE and lost with a server hung, then killed, mid-load are written again, and each key reads back its last line", async () => {
  const keyCount = 50;
  const rounds = 20;
  await using cluster = await KvCluster.start(3);
  // Another broker, its clock a minute ahead, wrote the even keys on every server: their
  // lines are refused as STALE and written again, stamped afresh after that version.
  const ahead: Version = { ms: Date.now() + 60_000, counter: 0, broker: 7 };
  for (const server of cluster.servers) {
    const client = await connectClient(server.address);
    try {
      for (let key = 0; key < keyCount; key += 2) {
        assert.equal((await client.put(`k${key}`, int(-1), { version: ahead })).kind, "stored");
      }
    } finally {
      await client.close();
    }
  }
  // Round r writes every key: the last round's value is the one that must stand.
  const lines = (from: number, to: number) =>
    Array.from({ length: (to - from) * keyCount }, (_, i) => {
      const line = from * keyCount + i;
      return `k${line % keyCount} : ${line}\n`;
    }).join("");
  await using loader = BrokerProcess.start(
    ["-s", cluster.serverFile, "-k", "2", "-i", "-", "--timeout-ms", "60000"],
  );
  await loader.sendBytes(new TextEncoder().encode(lines(0, rounds / 2)));
  const [lost] = cluster.servers;
  const client = await connectClient(lost.address);
  try {
    await waitFor(async () => (await client.stats()).recordCount > 0, {
      what: "the load under way",
    });
  } finally {
    await client.close();
  }
  // Hung, its batches wait; killed, they are lost and written again to the other two.
  lost.signal("SIGSTOP");
  await loader.sendBytes(new TextEncoder().encode(lines(rounds / 2, rounds)));
  await lost.kill();
  const loaded = await loader.finish();
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stderr, new RegExp(`indexed ${keyCount * rounds} records \\(0 failed\\)`));
  await using reader = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  for (let key = 0; key < keyCount; key++) {
    const answer = await reader.ask(`GET k${key}`);
    assert.deepEqual(answer.value, (rounds - 1) * keyCount + key, `k${key}`);
  }
});

// End to end: a real `kv broker` process fed a script on stdin, over real servers.

async function runBroker(args: string[], stdin: string) {
  await using broker = BrokerProcess.start(args);
  await broker.send(stdin);
  return await broker.finish();
}

Deno.test("a scripted session through stdin answers every command in order", async () => {
  await using cluster = await KvCluster.start(3);
  const data = await tempFile(
    [
      `"person1" : { "name" : "Mary" ; "age" : 22 ; "address" : { "street" : "Main" } }`,
      `"person3" : { "age" : 3 }`,
      `"person3x" { "age" : 3 }`,
      `"person30" : { "age" : 30 }`,
      "",
    ].join("\n"),
  );
  try {
    const script = [
      "GET person1",
      "get person9",
      "QUERY person1.address.street",
      "QUERY person1.age",
      "GET person1.age",
      "DELETE person3",
      "GET person3",
      "GET person30",
      `PUT person2: { age : 2.5 }`,
      "GET person2",
      "KEYS person",
      "KEYS person 1",
      "FOO",
      "QUERY person1.adress.street",
      "QUERY person1.age.years",
      "QUERY person3.age",
      "EXIT",
      "GET person1",
    ].join("\n");
    const { code, stdout, stderr } = await runBroker(
      ["-s", cluster.serverFile, "-i", data, "-k", "2"],
      script,
    );
    // A line of the -i file was skipped, as --index-only would exit.
    assert.equal(code, 2, stderr);
    assert.deepEqual(stdout.split("\n"), [
      `person1 : { "name" : "Mary" ; "age" : 22 ; "address" : { "street" : "Main" } }`,
      "NOT FOUND: person9",
      `person1.address.street : "Main"`,
      "person1.age : 22",
      "ERROR: line 5: a key cannot contain '.'; to read a field use QUERY person1.age",
      "DELETED: person3",
      "NOT FOUND: person3",
      `person30 : { "age" : 30 }`,
      "STORED: person2",
      `person2 : { "age" : 2.5 }`,
      "person1",
      "person2",
      "person30",
      "person1",
      "(first 1; more match — next page: KEYS person 1 person1)",
      "ERROR: line 13: unknown command 'FOO'; to read a record type GET <key>",
      "NOT FOUND: person1 has no field adress (did you mean address?)",
      "NOT FOUND: person1.age is 22, not an object",
      "NOT FOUND: no record person3",
    ]);
    assert.match(stderr, new RegExp(`${data}:3:12: expected ':' after the key`));
    assert.match(
      stderr,
      /kv broker: indexed 3 records \(0 failed\), skipped 1 line, 0\.0 MB in [\d.]+ s \(\d+ records\/s\)/,
    );
  } finally {
    await Deno.remove(data);
  }
});

Deno.test("--json answers every command kind with exactly one JSON object per line", async () => {
  await using cluster = await KvCluster.start(2);
  const script = [
    `PUT 'person1':{'name': 'Mary', 'age': 22, 'h': 1.5, 'address': {'street': 'Main'}}`,
    "GET person1",
    "GET person9",
    "QUERY person1.address.street",
    "QUERY person1.zip",
    "KEYS per 5",
    "SERVERS",
    "HELP",
    "DELETE person1",
    "DELETE person1",
    "GET a.b",
    "NOPE",
    "",
    "EXIT",
  ].join("\n");
  const { code, stdout } = await runBroker(["-s", cluster.serverFile, "-k", "2", "--json"], script);
  // `GET a.b` and `NOPE` are mistakes.
  assert.equal(code, 2);
  const versioned = stdout.split("\n").map((line) => JSON.parse(line));
  // Every stored, deleted or found record carries its version, 24 hex digits.
  for (const answer of versioned) {
    if (answer.stored || answer.found || answer.deleted !== undefined) {
      assert.match(answer.version, /^[0-9a-f]{24}$/, JSON.stringify(answer));
    }
  }
  const answers = versioned.map(withoutVersion);
  assert.deepEqual(answers[0], { op: "PUT", key: "person1", stored: true });
  assert.deepEqual(answers[1], {
    op: "GET",
    key: "person1",
    found: true,
    value: { name: "Mary", age: 22, h: 1.5, address: { street: "Main" } },
  });
  assert.deepEqual(answers[2], { op: "GET", key: "person9", found: false });
  assert.deepEqual(answers[3], {
    op: "QUERY",
    key: "person1.address.street",
    found: true,
    value: "Main",
  });
  assert.deepEqual(answers[4], {
    op: "QUERY",
    key: "person1.zip",
    found: false,
    missing: { reason: "no-field", path: "person1.zip" },
  });
  assert.deepEqual(answers[5], {
    op: "KEYS",
    prefix: "per",
    limit: 5,
    keys: ["person1"],
    more: false,
  });
  assert.equal(answers[6].op, "SERVERS");
  for (const [i, report] of answers[6].servers.entries()) {
    assert.equal(report.server, cluster.servers[i].id);
    assert.equal(report.up, true);
    assert.equal(report.records, 1);
    assert.equal(typeof report.latencyMs, "number");
  }
  assert.equal(answers[7].op, "HELP");
  assert(answers[7].commands.length >= 8);
  assert.deepEqual(answers[8], { op: "DELETE", key: "person1", deleted: true });
  assert.deepEqual(answers[9], { op: "DELETE", key: "person1", deleted: false });
  assert.deepEqual(answers[10], {
    op: "GET",
    key: "a.b",
    error: "a key cannot contain '.'; to read a field use QUERY a.b",
    line: 11,
  });
  assert.equal(answers[11].op, "NOPE");
  assert.match(answers[11].error, /unknown command 'NOPE'/);
  assert.deepEqual(answers[12], { op: "EXIT" });
  assert.equal(answers.length, 13);
});

Deno.test("piped --json commands cut anywhere, with CRLF, a line not UTF-8 and no last newline: each GET sees the PUT before it", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  // PUTs and GETs of three keys, interleaved: pipelined, each GET waits for its key's PUT.
  const rounds = 200;
  const lines: string[] = [];
  for (let i = 0; i < rounds; i++) {
    lines.push(`PUT k${i % 3}: { "n": ${i}, "s": "é${i}" }`, `GET k${i % 3}`);
  }
  const encoder = new TextEncoder();
  const input = [
    encoder.encode(lines.join("\r\n") + "\r\n"),
    new Uint8Array([0x47, 0x45, 0x54, 0x20, 0xff, 0x0a]), // GET, then a byte UTF-8 never has
    encoder.encode(`GET k${(rounds - 1) % 3}`), // the last line: no newline
  ];
  const bytes = new Uint8Array(input.reduce((sum, part) => sum + part.length, 0));
  input.reduce((at, part) => (bytes.set(part, at), at + part.length), 0);
  // Written in pieces of odd sizes, so that lines and characters are cut across reads.
  for (let at = 0, size = 1; at < bytes.length; at += size, size = size * 7 % 1013 + 1) {
    await broker.sendBytes(bytes.subarray(at, at + size));
  }
  const { code, stdout, stderr } = await broker.finish();
  // The line not UTF-8 is a mistake.
  assert.equal(code, 2, stderr);
  const answers = stdout.split("\n").map((line) => withoutVersion(JSON.parse(line)));
  assert.equal(answers.length, 2 * rounds + 2);
  for (let i = 0; i < rounds; i++) {
    assert.deepEqual(answers[2 * i], { op: "PUT", key: `k${i % 3}`, stored: true });
    assert.deepEqual(answers[2 * i + 1], {
      op: "GET",
      key: `k${i % 3}`,
      found: true,
      value: { n: i, s: `é${i}` },
    });
  }
  assert.deepEqual(answers[2 * rounds], {
    op: "INVALID",
    error: "column 5: byte 0xff is not UTF-8; nothing was run: send UTF-8 " +
      "(iconv -t UTF-8 converts other encodings)",
    line: 2 * rounds + 1,
  });
  assert.deepEqual(answers[2 * rounds + 1], {
    op: "GET",
    key: `k${(rounds - 1) % 3}`,
    found: true,
    value: { n: rounds - 1, s: `é${rounds - 1}` },
  });
});

Deno.test("records print in the indexed file's dialect unless --dialect says otherwise", async () => {
  await using cluster = await KvCluster.start(2);
  const cases: [string, string[], string][] = [
    ["testdata/compat/seed-dialect.txt", [], `person2 : {}`],
    [
      "testdata/compat/bare-dialect.txt",
      [],
      "person3 : { key0: 7663; key1: { address : { profession : sbfl } } }",
    ],
    ["testdata/compat/assignment-dialect.txt", [], `key2 : {}`],
    [
      "testdata/compat/bare-dialect.txt",
      ["--dialect", "python"],
      "person3 : {'key0': 7663, 'key1': {'address': {'profession': 'sbfl'}}}",
    ],
  ];
  for (const [file, flags, expected] of cases) {
    const key = expected.split(" ")[0];
    const { code, stdout, stderr } = await runBroker(
      ["-s", cluster.serverFile, "-i", file, "-k", "2", "--duplicate-keys", "last-wins", ...flags],
      `GET ${key}\n`,
    );
    assert.equal(code, 0, stderr);
    assert.equal(stdout, expected, file);
    assert.match(stderr, /\(0 failed\), skipped 0 lines/);
  }
});

Deno.test("--duplicate-keys last-wins reads -i lines as Python's dict does; a PUT naming a field twice is refused", async () => {
  await using cluster = await KvCluster.start(1);
  const file = await tempFile(`a: { x: 1; x: 2 }\n`);
  try {
    const { code, stdout, stderr } = await runBroker(
      ["-s", cluster.serverFile, "-i", file, "--duplicate-keys", "last-wins"],
      "GET a\nPUT b: { y: 1; y: 2 }\nGET b\n",
    );
    assert.equal(code, 2, stderr);
    assert.equal(
      stdout,
      "a : { x: 2 }\nERROR: line 2: column 16: duplicate key 'y' in one object; name each field once " +
        "(--duplicate-keys applies to -i lines, not PUT)\nNOT FOUND: b",
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("an -i line naming a field twice is skipped in one line that points at --duplicate-keys last-wins", async () => {
  await using cluster = await KvCluster.start(1);
  const file = await tempFile(`b: 1\na: { x: 1; x: 2 }\n`);
  try {
    const run = await runBroker(["-s", cluster.serverFile, "-i", file, "--index-only"], "");
    assert.equal(run.code, 2, run.stderr);
    const where = RegExp.escape(file);
    assert.match(
      run.stderr,
      new RegExp(
        `^kv broker warn: ${where}:2:12: duplicate key 'x' in one object; line skipped ` +
          "\\(--duplicate-keys last-wins keeps the last value\\)$",
        "m",
      ),
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("--index-only exits 0 when all is stored and 2 when lines were skipped", async () => {
  await using cluster = await KvCluster.start(2);
  const good = await tempFile(`a: 1\nb: 2\n`);
  const bad = await tempFile(`a: 1\nnonsense\n`);
  try {
    const clean = await runBroker(
      ["-s", cluster.serverFile, "-i", good, "-k", "2", "--index-only"],
      "",
    );
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, "");
    const skipped = await runBroker([
      "-s",
      cluster.serverFile,
      "-i",
      bad,
      "-k",
      "2",
      "--index-only",
    ], "");
    assert.equal(skipped.code, 2);
    assert.match(skipped.stderr, /skipped 1 line/);
  } finally {
    await Deno.remove(good);
    await Deno.remove(bad);
  }
});

Deno.test("EXIT or QUIT with arguments is an error that ends nothing, in text and --json", async () => {
  await using cluster = await KvCluster.start(2);
  const script = ["EXIT now", "quit please", "PUT a: 1", "GET a", "EXIT"].join("\n");
  const text = await runBroker(["-s", cluster.serverFile, "-k", "2"], script);
  assert.equal(text.code, 2, text.stderr);
  assert.deepEqual(text.stdout.split("\n"), [
    "ERROR: line 1: EXIT takes no arguments (type EXIT alone)",
    "ERROR: line 2: quit takes no arguments (type quit alone)",
    "STORED: a",
    "a : 1",
  ]);
  const json = await runBroker(["-s", cluster.serverFile, "-k", "2", "--json"], script);
  assert.equal(json.code, 2, json.stderr);
  assert.deepEqual(json.stdout.split("\n").map((line) => withoutVersion(JSON.parse(line))), [
    { op: "EXIT", error: "EXIT takes no arguments (type EXIT alone)", line: 1 },
    { op: "QUIT", error: "quit takes no arguments (type quit alone)", line: 2 },
    { op: "PUT", key: "a", stored: true },
    { op: "GET", key: "a", found: true, value: 1 },
    { op: "EXIT" },
  ]);
});

Deno.test("HELP lists QUIT and HELP <command> shows one command with an example, in 80 columns", async () => {
  await using cluster = await KvCluster.start(1);
  const { code, stdout, stderr } = await runBroker(
    ["-s", cluster.serverFile],
    ["HELP", "help keys", "HELP quit", "HELP nope"].join("\n"),
  );
  assert.equal(code, 2, stderr);
  const lines = stdout.split("\n");
  assert(lines.some((line) => /^EXIT \(or QUIT\) +leave/.test(line)), stdout);
  assert(lines.includes("HELP <command> shows one command with an example."), stdout);
  // HELP KEYS: its summary, too long for one line, goes on under itself.
  const keys = lines.indexOf("  example: KEYS person 10");
  const usage = lines.findLastIndex((line, index) => index < keys && line.startsWith("KEYS"));
  assert.match(
    lines.slice(usage, keys).map((line) => line.trim()).join(" "),
    /^KEYS \[prefix \[limit \[after\]\]\] {2}list keys starting with prefix \(default 100, at most 10000\), after the key 'after' \(the last one of the page before\)$/,
  );
  // The error for HELP nope too: it once repeated the word and passed 80 columns (as the REPL
  // shows it: a piped session's errors add their input line, "line 4: ").
  for (const line of lines.map((line) => line.replace(/^ERROR: line \d+: /, "ERROR: "))) {
    assert(line.length <= 80, `${line.length} columns: ${line}`);
  }
  assert(lines.includes("  example: EXIT"), stdout);
  assert.match(lines.at(-1)!, /^ERROR: line 4: HELP takes one of GET, QUERY/);
});

Deno.test("SERVERS lines up its columns, counts '1 record', and rounds latency in --json", async () => {
  await using cluster = await KvCluster.start(2);
  const human = await runBroker(["-s", cluster.serverFile], "PUT a: 1\nSERVERS");
  assert.equal(human.code, 0, human.stderr);
  const rows = human.stdout.split("\n").slice(1);
  assert.equal(rows.length, 2);
  const columns = rows.map((row) =>
    /^(\S+ +)up {4}( *\d+ records?) {2} *\d+\.\d\d ms {2}k=1$/.exec(row)
  );
  assert(columns.every((match) => match !== null), human.stdout);
  assert.equal(new Set(rows.map((row) => row.indexOf(" ms"))).size, 1, "latencies align");
  assert(
    rows.some((row) => / 1 record {2}/.test(row)) || rows.some((row) => / 0 records {2}/.test(row)),
  );
  const json = await runBroker(["-s", cluster.serverFile, "--json"], "SERVERS");
  for (const report of JSON.parse(json.stdout).servers) {
    assert.equal(report.latencyMs, Math.round(report.latencyMs * 100) / 100);
  }
});

Deno.test("quoted keys mean the same in every command, and '[' is refused alike in PUT and -i", async () => {
  await using cluster = await KvCluster.start(1);
  const data = await tempFile(`person1 : { age : 22 }\nk4 : [1]\n"k5" : "[1]"\n`);
  try {
    const script = [
      `GET "person1"`,
      `QUERY "person1".age`,
      `QUERY 'person1'."age"`,
      "PUT k3: [1]",
      "GET k5",
    ].join("\n");
    const { code, stdout, stderr } = await runBroker(
      ["-s", cluster.serverFile, "-i", data],
      script,
    );
    assert.equal(code, 2, stderr);
    // Records print in the indexed file's (bare) dialect, which quotes a string starting with '['.
    assert.deepEqual(stdout.split("\n"), [
      "person1 : { age: 22 }",
      "person1.age : 22",
      "person1.age : 22",
      "ERROR: line 4: column 9: lists are not values in kv; use an object, or quote the text to store " +
      "it as a string",
      `k5 : "[1]"`,
    ]);
    assert.match(stderr, new RegExp(`${data}:2:6: lists are not values in kv`));
  } finally {
    await Deno.remove(data);
  }
});

Deno.test('a key KEYS lists in its ."…" form is typed back as KEYS printed it, in GET, QUERY, DELETE and KEYS', async () => {
  await using cluster = await KvCluster.start(1);
  const script = [
    `PUT "a\\nb": { x : 1 }`,
    "KEYS a",
    `GET ."a\\nb"`,
    `QUERY ."a\\nb".x`,
    `KEYS ."a\\n"`,
    `DELETE ."a\\nb"`,
    `GET ."a\\nb"`,
    "GET .a",
  ].join("\n");
  const { code, stdout, stderr } = await runBroker(["-s", cluster.serverFile], script);
  assert.equal(code, 2, stderr);
  assert.deepEqual(stdout.split("\n"), [
    `STORED: "a\\nb"`,
    `."a\\nb"`,
    `"a\\nb" : { "x" : 1 }`,
    `"a\\nb".x : 1`,
    `."a\\nb"`,
    `DELETED: "a\\nb"`,
    `NOT FOUND: "a\\nb"`,
    // QUERY .a would fail as well: the error advises nothing.
    "ERROR: line 8: a key cannot contain '.'",
  ]);
});

Deno.test("kv broker --index-only whose records went beyond the first 2k-1 servers names the kv repair to run, not itself, which exits", async () => {
  await using cluster = await KvCluster.start(4);
  await cluster.servers[0].stop();
  await cluster.servers[1].stop();
  const data = await tempFile(
    Array.from({ length: 40 }, (_, i) => `person${i}: ${i}\n`).join(""),
  );
  try {
    const { code, stderr } = await runBroker(
      ["-s", cluster.serverFile, "-i", data, "-k", "2", "--index-only"],
      "",
    );
    assert.equal(code, 0, stderr);
    const warning = stderr.split("\n").find((line) => line.includes(" stored with a warning;"));
    assert(warning !== undefined, stderr);
    assert.match(
      warning,
      /^kv broker warn: \d+ records of .* were stored with a warning; the first: stored on /,
    );
    assert(
      warning.endsWith(`; run kv repair -s ${cluster.serverFile} once they can store it`),
      warning,
    );
  } finally {
    await Deno.remove(data);
  }
});

Deno.test("kv broker stopped by SIGINT or SIGTERM while indexing prints its summary and exits 130 or 143", async () => {
  await using cluster = await KvCluster.start(1);
  const client = await connectClient(cluster.servers[0].address);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const before = (await client.stats()).recordCount;
    await using loader = BrokerProcess.start(["-s", cluster.serverFile, "-i", "-"]);
    await loader.send(`"${signal}1" : 1\n"${signal}2" : 2`);
    // Stdin stays open: only the signal can end this load.
    await waitFor(async () => (await client.stats()).recordCount === before + 2, {
      what: "the two records to be stored",
    });
    const stopped = await loader.stop(signal);
    assert.equal(stopped.code, code, stopped.stderr);
    assert.match(
      stopped.stderr,
      /indexed 2 records \(0 failed\), skipped 0 lines, .*; interrupted: the rest of the input was not read, 0 records unconfirmed/,
    );
  }
  await client.close();
});
