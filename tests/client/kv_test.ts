import assert from "node:assert/strict";
import fc from "fast-check";
import {
  connect,
  Float,
  type KvEntry,
  KvInputError,
  KvNoServerReachableError,
  KvUnavailableError,
  LIST_PAGE_SIZE,
  MAX_CALLS_IN_FLIGHT,
} from "../../mod.ts";
import { fromValue } from "../../lib/client/values.ts";
import { GET_BYTES_BLOCK_BYTES, MAX_BLOCK_VALUE_BYTES } from "../../lib/client/kv.ts";
import { CredentialsRefusedError } from "../../lib/broker/server_pool.ts";
import { BROKER_TIMEOUT_MS, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { outputWithin, waitFor, withDeadline } from "../helpers/wait.ts";
import { newAuthFile, runKv } from "../helpers/run_kv.ts";
import { tlsTest } from "../helpers/tls_certs.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";

/** A version's text form: 24 hex digits (lib/record/version.ts). */
const VERSION_TEXT = /^[0-9a-f]{24}$/;

/** Asserts `call` rejects with a `kind` whose message matches `message`; that message. */
async function rejectsWith(
  call: () => Promise<unknown>,
  kind: typeof KvInputError | typeof KvUnavailableError,
  message: RegExp,
): Promise<string> {
  let text = "";
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof kind, `${error}`);
    text = (error as Error).message;
    assert.match(text, message);
    return true;
  });
  return text;
}

Deno.test("a query path is taken exactly as given: a key's spaces are not trimmed away", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await connect({
    servers: [cluster.servers[0].address],
    timeoutMs: BROKER_TIMEOUT_MS,
  });
  await kv.put(" lead", { n: 1 });
  await kv.put("lead", { n: 2 });
  assert.equal((await kv.query(" lead.n")).value, 1);
  assert.equal((await kv.query([" lead", "n"])).value, 1);
  assert.equal((await kv.query("lead.n")).value, 2);
});

Deno.test("connect's log gets the k a connection follows once kv repair -k changed it, and the refusal of one given replicas; a log that is not a function is a KvInputError", async () => {
  await using cluster = await KvCluster.start(3);
  const servers = cluster.servers.map((server) => server.address);
  const lines: string[] = [];
  await using kv = await connect({
    servers,
    replicas: 1,
    timeoutMs: BROKER_TIMEOUT_MS,
    log: (line) => lines.push(line),
  });
  await using silent = await connect({ servers, timeoutMs: BROKER_TIMEOUT_MS });
  await using follower = await connect({
    servers,
    timeoutMs: BROKER_TIMEOUT_MS,
    log: (line) => lines.push(`follower: ${line}`),
  });
  const repair = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(repair.code, 0, repair.stderr);
  await follower.put("a", 1);
  await silent.put("b", 1);
  await assert.rejects(kv.put("c", 1), /this broker was given k=1/);
  assert.ok(
    lines.includes(
      "follower: the servers now record k=2 (kv repair -k changed it): this broker now " +
        "writes and reads with k=2, not 1",
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((line) =>
      line.startsWith(
        "the servers now record k=2 (kv repair -k changed it), but this broker was given k=1",
      )
    ),
    lines.join("\n"),
  );
  await rejectsWith(
    // deno-lint-ignore no-explicit-any
    () => connect({ servers, log: "stderr" as any }),
    KvInputError,
    /^log must be a function, got a string \("stderr"\)$/,
  );
});

Deno.test("replicas other than the cluster's k is refused in the library's words, naming kv repair over its servers: the server file quoted for a shell, -s FILE for a list of endpoints", async () => {
  await using cluster = await KvCluster.start(2);
  (await cluster.connect({ replicas: 2 })).close();
  const recorded = `k=2: ${cluster.servers.map((server) => server.id).join(", ")}`;
  const refusal = (repair: string) =>
    `asked for replicas=1, but the cluster records k=2 (${recorded}); leave replicas out ` +
    `to use it, or change it with ${repair} -k 1`;
  await withTempDir(async (dir) => {
    const file = `${dir}/my servers.txt`;
    await Deno.copyFile(cluster.serverFile, file);
    await rejectsWith(
      () => connect({ servers: file, replicas: 1, timeoutMs: BROKER_TIMEOUT_MS }),
      KvInputError,
      new RegExp(`^${RegExp.escape(refusal(`kv repair -s '${file}'`))}$`),
    );
  });
  const servers = cluster.servers.map((server) => server.address);
  await rejectsWith(
    () => connect({ servers, replicas: 1, timeoutMs: BROKER_TIMEOUT_MS }),
    KvInputError,
    new RegExp(`^${RegExp.escape(refusal("kv repair -s FILE"))}$`),
  );
});

Deno.test("get, query, put, delete and servers against real servers", async () => {
  await using cluster = await KvCluster.start(3);
  await using kv = await connect({
    servers: cluster.servers.map((server) => server.address),
    replicas: 2,
    timeoutMs: BROKER_TIMEOUT_MS,
  });
  assert.deepEqual(await kv.get("person1"), { key: "person1", value: null, version: null });
  const first = await kv.put("person1", { name: "Mary", address: { street: "Main" } });
  assert.equal(first.key, "person1");
  assert.match(first.version, VERSION_TEXT);
  assert.deepEqual(await kv.get("person1"), {
    key: "person1",
    value: { name: "Mary", address: { street: "Main" } },
    version: first.version,
  });
  assert.deepEqual(await kv.query(["person1", "address", "street"]), {
    key: "person1",
    path: ["person1", "address", "street"],
    value: "Main",
    version: first.version,
  });
  const second = await kv.put("person1", { name: "Ann", address: { street: "Main" } });
  assert.ok(second.version > first.version, `${second.version} after ${first.version}`);
  assert.equal((await kv.get("person1")).version, second.version);
  assert.equal((await kv.query("person1.address")).version, second.version);
  assert.equal((await kv.query("person1.age")).value, null);
  // A query that finds nothing says why, typed: the caller tells a typo from no record.
  assert.deepEqual(await kv.query("person1.adress.street"), {
    key: "person1",
    path: ["person1", "adress", "street"],
    value: null,
    version: null,
    missing: { reason: "no-field", path: ["person1", "adress"], closest: "address" },
  });
  const leaf = await kv.query("person1.name.first");
  assert.deepEqual(leaf.missing, { reason: "not-object", path: ["person1", "name"], value: "Ann" });
  assert.deepEqual((await kv.query("person9.name")).missing, { reason: "no-record" });
  const deleted = await kv.delete("person1");
  assert.deepEqual((await kv.query("person1.name")).missing, { reason: "no-record" });
  assert.ok(deleted.version > second.version, `${deleted.version} after ${second.version}`);
  assert.deepEqual(deleted, { key: "person1", deleted: true, version: deleted.version });
  const again = await kv.delete("person1");
  assert.ok(again.version > deleted.version, `${again.version} after ${deleted.version}`);
  assert.deepEqual(again, { key: "person1", deleted: false, version: again.version });
  const servers = await kv.servers();
  assert.deepEqual(servers.map((server) => server.up), [true, true, true]);
  // A fresh cluster is marked repaired by its first broker, and no write missed a server.
  // ...and records the k it was given on every server.
  assert.deepEqual(servers.map((server) => [server.repaired, server.hints, server.k]), [
    [true, 0, 2],
    [true, 0, 2],
    [true, 0, 2],
  ]);
  assert.deepEqual(servers.map((server) => server.server), cluster.servers.map((s) => s.id));
});

Deno.test("replicas is the k a connection follows: the one given, the one the servers record, or the 1 a first connect without it recorded", async () => {
  await using cluster = await KvCluster.start(2);
  const servers = cluster.servers.map((server) => server.address);
  await using given = await connect({ servers, replicas: 2, timeoutMs: BROKER_TIMEOUT_MS });
  await using learned = await connect({ servers, timeoutMs: BROKER_TIMEOUT_MS });
  assert.deepEqual([given.replicas, learned.replicas], [2, 2]);
  await using fresh = await KvCluster.start(1);
  await using first = await connect({ servers: fresh.serverFile, timeoutMs: BROKER_TIMEOUT_MS });
  assert.equal(first.replicas, 1);
});

Deno.test("ints and floats keep their kind with floats: tagged", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ floats: "tagged" });
  await kv.put("n", { int: 2, float: new Float(2), fraction: 1.5 });
  const { value } = await kv.get("n");
  const { int, float, fraction } = value as Record<string, unknown>;
  assert.equal(int, 2);
  assert.ok(float instanceof Float && float.value === 2, `${float}`);
  assert.ok(fraction instanceof Float && fraction.value === 1.5, `${fraction}`);
  // A query that ran into a float says so with the float read as the others are.
  assert.deepEqual((await kv.query("n.float.x")).missing, {
    reason: "not-object",
    path: ["n", "float"],
    value: new Float(2),
  });
});

Deno.test("getBytes's bytes decode to what get answers, for any record, either float reading", async () => {
  await using cluster = await KvCluster.start(2);
  const options = { servers: cluster.serverFile, replicas: 2, timeoutMs: BROKER_TIMEOUT_MS };
  await using tagged = await connect({ ...options, floats: "tagged" });
  await using numbers = await connect({ ...options, floats: "number" });
  await fc.assert(
    fc.asyncProperty(keyArbitrary(), valueArbitrary(), async (key, value) => {
      // Tagged floats store every value with its kinds, so each read below sees all of them.
      await tagged.put(key, fromValue(value, "tagged"));
      for (const kv of [tagged, numbers]) {
        const [entry, bytes] = await Promise.all([kv.get(key), kv.getBytes(key)]);
        assert.ok(bytes.value instanceof Uint8Array);
        // A short value shares a block with other values, never the connection's copy of
        // its read; a longer one has an array buffer of its own.
        const short = bytes.value.byteLength <= MAX_BLOCK_VALUE_BYTES;
        const own = short ? GET_BYTES_BLOCK_BYTES : bytes.value.byteLength;
        assert.equal(bytes.value.buffer.byteLength, own);
        assert.deepEqual({ ...bytes, value: kv.decode(bytes.value) }, entry);
      }
    }),
    { numRuns: 60 },
  );
  assert.deepEqual(await tagged.getBytes("nobody"), { key: "nobody", value: null, version: null });
  await rejectsWith(() => tagged.getBytes("a.b"), KvInputError, /key 'a\.b' contains '\.'/);
  assert.throws(() => tagged.decode(new Uint8Array([0xff])), KvInputError);
  assert.throws(() => tagged.decode("text" as never), KvInputError);
});

Deno.test("list pages by itself through more records than one page", async () => {
  await using cluster = await KvCluster.start(3);
  await using kv = await cluster.connect({ replicas: 2 });
  const count = LIST_PAGE_SIZE * 2 + 7;
  const keys = Array.from({ length: count }, (_, i) => `k${String(i).padStart(4, "0")}`);
  await Promise.all(keys.map((key, i) => kv.put(key, { i })));
  await kv.put("other", 1);
  const listed: KvEntry[] = [];
  for await (const entry of kv.list({ prefix: "k" })) listed.push(entry);
  assert.deepEqual(listed.map((entry) => entry.key), keys);
  assert.deepEqual(listed.map((entry) => (entry.value as { i: number }).i), keys.map((_, i) => i));
  const limited: string[] = [];
  for await (const entry of kv.list({ prefix: "k", limit: 3, after: "k0100" })) {
    limited.push(entry.key);
  }
  assert.deepEqual(limited, ["k0101", "k0102", "k0103"]);
  const page = await kv.keys({ prefix: "k", limit: 2, after: keys.at(-2) });
  assert.deepEqual(page, { keys: [keys.at(-1)], more: false });
});

Deno.test("a caller's mistake is a KvInputError, before anything is sent", async () => {
  await using cluster = await KvCluster.start(2);
  await rejectsWith(() => connect({ servers: "/nonexistent" }), KvInputError, /cannot read/);
  await rejectsWith(
    () => connect({ servers: cluster.serverFile, replicas: 3 }),
    KvInputError,
    /^replicas 3 needs at least 3 servers \(each key's k copies are on k different servers\), but servers lists 2$/,
  );
  await rejectsWith(
    () => connect({ servers: [{ hostname: "127.0.0.1", port: 70000 }] }),
    KvInputError,
    /port must be a whole number/,
  );
  const { port } = cluster.servers[0];
  await rejectsWith(
    () =>
      connect({
        servers: [{ hostname: "127.0.0.1", port }, { hostname: "localhost", port }],
      }),
    KvInputError,
    /servers\[1\]: localhost:\d+ is the same server as 127\.0\.0\.1:\d+ \(servers\[0\]\)/,
  );
  const kv = await cluster.connect();
  await rejectsWith(() => kv.get("a.b"), KvInputError, /key 'a\.b' contains '\.'/);
  await rejectsWith(() => kv.get(""), KvInputError, /empty key/);
  await rejectsWith(
    () => kv.get("x".repeat(1025)),
    KvInputError,
    /key is 1025 bytes, over the limit of 1024/,
  );
  await rejectsWith(() => kv.put("a", [1] as never), KvInputError, /value is an array/);
  await rejectsWith(() => kv.query("a..b"), KvInputError, /empty segment/);
  await rejectsWith(() => kv.keys({ limit: 0 }), KvInputError, /limit must be/);
  kv.close();
  await rejectsWith(() => kv.get("a"), KvInputError, /closed/);
});

Deno.test("a JavaScript caller's wrong argument types are a KvInputError saying what was expected, never a TypeError", async () => {
  await using cluster = await KvCluster.start(1);
  const untyped = connect as (options?: unknown) => ReturnType<typeof connect>;
  const connectCases: [unknown, RegExp][] = [
    [undefined, /^connect takes an options object \(\{ servers, replicas, .* \}\), got undefined$/],
    [null, /^connect takes an options object .*, got null$/],
    [cluster.serverFile, /^connect takes an options object .*, got a string \(".*"\)$/],
    [{}, /^servers must be a server file's path or a non-empty list, got undefined$/],
    [{ servers: "" }, /^servers must be .*, got a string \(""\)$/],
    [
      { servers: ["127.0.0.1:8000"] },
      /^servers\[0\] must be an object \(\{ hostname, port \}\), got a string \("127\.0\.0\.1:8000"\): give \{ hostname: "127\.0\.0\.1", port: 8000 \}$/,
    ],
    [
      { servers: [{ hostname: "127.0.0.1", port: 8000 }, "redis://[::1]:8001"] },
      /^servers\[1\] must be .*, got a string \("redis:\/\/\[::1\]:8001"\): give \{ hostname: "::1", port: 8001 \}$/,
    ],
    [
      { servers: [{ hostname: "[::1]", port: 1 }] },
      /^servers\[0\]\.hostname is '\[::1\]': give an IPv6 address without brackets \('::1'\)$/,
    ],
    [
      { servers: cluster.serverFile, replica: 1 },
      /^connect has no option 'replica'; its options are servers, replicas,/,
    ],
    [
      { servers: cluster.serverFile, replicas: "1" },
      /^replicas must be a whole number from 1 to 1, got a string \("1"\)$/,
    ],
    [
      { servers: cluster.serverFile, timeoutMs: null },
      /^timeoutMs must be a whole number .*, got null$/,
    ],
    [
      { servers: cluster.serverFile, authFile: 5 },
      /^authFile must be a file's path, got a number \(5\)$/,
    ],
    [{ servers: cluster.serverFile, tlsCa: {} }, /^tlsCa must be a file's path, got an object$/],
  ];
  for (const [options, message] of connectCases) {
    await rejectsWith(() => untyped(options), KvInputError, message);
  }
  await using kv = await cluster.connect();
  const loose = kv as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  await rejectsWith(
    () => loose.keys(null),
    KvInputError,
    /^keys takes an options object \(\{ prefix, limit, after, signal \}\), got null$/,
  );
  await rejectsWith(() => loose.keys("p"), KvInputError, /^keys takes an options object/);
  await rejectsWith(() => loose.keys({ prefx: "p" }), KvInputError, /^keys has no option 'prefx'/);
  await rejectsWith(
    () => kv.list(null as never).next(),
    KvInputError,
    /^list takes an options object/,
  );
  await rejectsWith(() => loose.keys({ after: 5 }), KvInputError, /^an after key must be a string/);
  // Whatever a caller passes, a rejection is a KvInputError: never a TypeError from inside.
  const calls: ((a: unknown, b: unknown) => Promise<unknown>)[] = [
    (a) => loose.get(a),
    (a) => loose.getBytes(a),
    (a) => loose.query(a),
    (a) => loose.delete(a),
    (a, b) => loose.put(a, b),
    // The options every call takes ({ signal }), whatever they are.
    (a, b) => loose.get(a, b),
    (a, b) => loose.getBytes(a, b),
    (a, b) => loose.query(a, b),
    (a, b) => loose.delete(a, b),
    (a) => loose.put("person1", 1, a),
    (a) => loose.keys(a),
    (a) => kv.list(a as never).next(),
    (a) => Promise.resolve().then(() => loose.decode(a)),
  ];
  for (const call of calls) {
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.anything(), async (a, b) => {
        try {
          await call(a, b);
        } catch (error) {
          assert.ok(error instanceof KvInputError, `${error}`);
        }
      }),
      { numRuns: 100 },
    );
  }
});

Deno.test("close() settles every call in flight with the closed connection's KvInputError, not an answer or an outage", async () => {
  await using cluster = await KvCluster.start(2);
  // A long timeout: only close() can settle calls that wait on the hung server.
  const kv = await connect({ servers: cluster.serverFile, replicas: 2, timeoutMs: 600_000 });
  await kv.put("person1", 1);
  cluster.servers[1].signal("SIGSTOP");
  try {
    const calls: Record<string, Promise<unknown>> = {
      get: kv.get("person1"),
      getBytes: kv.getBytes("person1"),
      query: kv.query("person1.age"),
      put: kv.put("person2", 2),
      delete: kv.delete("person1"),
      keys: kv.keys(),
      servers: kv.servers(),
    };
    kv.close();
    const settled = await withDeadline(Promise.allSettled(Object.values(calls)), {
      what: "the calls in flight to settle after close()",
    });
    const outcomes = Object.keys(calls).map((name, index) => {
      const outcome = settled[index];
      const reason = outcome.status === "rejected" ? outcome.reason : undefined;
      return `${name}: ${
        reason instanceof KvInputError ? reason.message : JSON.stringify(outcome)
      }`;
    });
    const closed = "this kv connection was closed before the call finished " +
      "(a write may or may not have been applied)";
    assert.deepEqual(outcomes, Object.keys(calls).map((name) => `${name}: ${closed}`));
  } finally {
    cluster.servers[1].signal("SIGCONT");
  }
});

Deno.test("calls past MAX_CALLS_IN_FLIGHT wait in the library, unsent: close() rejects them as never sent, those under way as maybe applied", async () => {
  await using cluster = await KvCluster.start(1);
  const kv = await connect({ servers: cluster.serverFile, timeoutMs: BROKER_TIMEOUT_MS });
  const beyond = 3;
  const puts = Array.from(
    { length: MAX_CALLS_IN_FLIGHT + beyond },
    (_, index) => kv.put(`row${index}`, index),
  );
  // In the same turn: no answer can have come, so every call is under way or waiting.
  kv.close();
  const settled = await withDeadline(Promise.allSettled(puts), {
    what: "the puts to settle after close()",
  });
  const reasons = settled.map((outcome) =>
    outcome.status === "rejected" && outcome.reason instanceof KvInputError
      ? outcome.reason.message
      : JSON.stringify(outcome)
  );
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  assert.deepEqual(
    counts,
    new Map([
      [
        "this kv connection was closed before the call finished (a write may or may not " +
        "have been applied)",
        MAX_CALLS_IN_FLIGHT,
      ],
      ["this kv connection is closed", beyond],
    ]),
  );
  assert.equal(reasons.at(-1), "this kv connection is closed");
});

Deno.test("a call waiting its turn past MAX_CALLS_IN_FLIGHT asks with its arguments as they were when it was made", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await connect({ servers: cluster.serverFile, timeoutMs: BROKER_TIMEOUT_MS });
  await kv.put("person1", { name: "Mary" });
  await kv.put("robot1", { name: "R2" });
  const fillers = Array.from({ length: MAX_CALLS_IN_FLIGHT }, () => kv.get("nobody"));
  // A caller reusing its objects for the next call, as paging does.
  const selector = { prefix: "person" };
  const path = ["person1", "name"];
  const page = kv.keys(selector);
  const name = kv.query(path);
  const mary = { name: "Mary" };
  const put = kv.put("person2", mary);
  selector.prefix = "robot";
  path[0] = "robot1";
  mary.name = "changed";
  const [listed, named] = await Promise.all([page, name, put, ...fillers]);
  assert.deepEqual(listed.keys, ["person1"]);
  assert.equal(named.value, "Mary");
  assert.deepEqual((await kv.get("person2")).value, { name: "Mary" });
});

Deno.test("the cluster unable to answer is a KvUnavailableError, or a warning", async () => {
  await using cluster = await KvCluster.start(2);
  await using kv = await cluster.connect({ replicas: 2 });
  await kv.put("person1", 1);
  await cluster.servers[1].kill();
  await rejectsWith(() => kv.put("person2", 2), KvUnavailableError, /nothing was changed/);
  await rejectsWith(
    () => kv.delete("person1"),
    KvUnavailableError,
    /only 1 of the 2 replicas it needs reachable/,
  );
  assert.equal((await kv.get("person1")).value, 1);
  await cluster.servers[0].kill();
  // No replica answers: a KvUnavailableError, never a null value (read twice: the first
  // read found the server down, the second knew).
  for (let read = 0; read < 2; read++) {
    await rejectsWith(() => kv.get("person2"), KvUnavailableError, /no replica of 'person2'/);
    await rejectsWith(() => kv.getBytes("person2"), KvUnavailableError, /no replica/);
  }
  // Nor is an empty key page none of them answered an answer (it read as "no keys").
  await rejectsWith(() => kv.keys(), KvUnavailableError, /^cannot list keys: .*did not answer/);
  await rejectsWith(
    async () => {
      for await (const _ of kv.list()) break;
    },
    KvUnavailableError,
    /did not answer/,
  );
});

Deno.test("connect with no server reachable and no replicas is a KvNoServerReachableError naming each: the cluster's k cannot be learned, and a guess of 1 would outlive the outage; servers that only ran out of timeoutMs are advised a longer one, not to be started", async () => {
  await using cluster = await KvCluster.start(2, { durable: true });
  // The cluster records k = 2, then every server hangs: none answers HELLO.
  await (await connect({ servers: cluster.serverFile, replicas: 2 }))[Symbol.asyncDispose]();
  for (const server of cluster.servers) server.signal("SIGSTOP");
  try {
    const ports = cluster.servers.map((server) => server.port);
    const refusal = await connect({ servers: cluster.serverFile, timeoutMs: 200 }).then(
      () => assert.fail("connected with no server reachable"),
      (error: unknown) => error,
    );
    assert(refusal instanceof KvNoServerReachableError, String(refusal));
    assert.match(
      refusal.message,
      new RegExp(
        `^none of the 2 servers is reachable \\(127\\.0\\.0\\.1:${ports[0]}: .*; ` +
          `127\\.0\\.0\\.1:${ports[1]}: .*\\); raise timeoutMs if they are busy, or restart ` +
          "them if hung, and retry, or pass replicas \\(the cluster's k\\) to connect now",
      ),
    );
    assert(refusal instanceof KvUnavailableError, "the same call succeeds once one is back");
    assert.deepEqual(
      refusal.unreachable.map(({ server }) => server),
      ports.map((port) => `127.0.0.1:${port}`),
    );
    // Given k, it connects, and reaches the servers once they are back: against live servers
    // the tests' generous timeout, not the 200 ms meant for hung ones (a server just resumed on
    // a loaded machine answered the PUT below too late for it).
    await using kv = await cluster.connect({ replicas: 2 });
    for (const server of cluster.servers) server.signal("SIGCONT");
    await waitFor(async () => (await kv.servers()).every((server) => server.up), {
      what: "both servers back",
    });
    await kv.put("person1", 1);
    assert.equal((await kv.get("person1")).value, 1);
  } finally {
    for (const server of cluster.servers) server.signal("SIGCONT");
  }
});

Deno.test("a server address where an HTTP server answers (kv http's port, say) is a KvInputError naming its line as no kv server, not a down server nor a 1.2 GB frame", async () => {
  await using web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("a web page"),
  );
  const server = `127.0.0.1:${web.addr.port}`;
  const wrong = `${server} is no kv server (it answered in HTTP; kv http's port?); list the kv ` +
    "servers' own addresses in the server file (connect's servers)";
  // Reconnecting cannot mend a wrong address: the caller's mistake, as refused credentials are.
  const given = await connect({ servers: [{ hostname: "127.0.0.1", port: web.addr.port }] })
    .then(() => assert.fail("connected to an HTTP server"), (error: unknown) => error);
  assert(given instanceof KvInputError, String(given));
  assert.equal(given.message, wrong);
  assert(given.cause instanceof CredentialsRefusedError);
  assert.equal(given.cause.refusal.kind, "not-kv");
  await withTempDir(async (dir) => {
    const servers = `${dir}/servers.txt`;
    await Deno.writeTextFile(servers, `# the web port by mistake\n  ${server}\n`);
    const read = await connect({ servers })
      .then(() => assert.fail("connected to an HTTP server"), (error: unknown) => error);
    assert(read instanceof KvInputError, String(read));
    assert.equal(read.message, `${servers}:2:3: ${wrong}`);
  });
});

Deno.test("connect to servers that refuse the connection (none running) advises starting them", async () => {
  await withTempDir(async (dir) => {
    // A port just closed: nothing listens there, so the kernel refuses at once.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const servers = `${dir}/servers.txt`;
    await Deno.writeTextFile(servers, `127.0.0.1 ${port}\n`);
    const refusal = await connect({ servers, timeoutMs: 2000 }).then(
      () => assert.fail("connected with no server running"),
      (error: unknown) => error,
    );
    assert(refusal instanceof KvNoServerReachableError, String(refusal));
    assert.match(
      refusal.message,
      new RegExp(
        `^the one server is not reachable \\(127\\.0\\.0\\.1:${port}: .*\\); start it \\(or ` +
          "check authFile and tlsCa\\) and retry, or pass replicas",
      ),
    );
  });
});

Deno.test("a record over every server's frame limit is the caller's mistake, and changes nothing", async () => {
  const limit = 65_536;
  await using cluster = await KvCluster.start(3, {
    server: () => ({ args: ["--max-frame-bytes", String(limit)] }),
  });
  await using kv = await cluster.connect({ replicas: 2 });
  await kv.put("big", "small for now");
  // Not "repeat it when the servers are back": every server is up and would refuse it again.
  // The sloppy write tries each of the 3 in turn; their one refusal is said once, naming
  // them (it was the same TOO_LARGE sentence 3 times).
  const refusal = await rejectsWith(
    () => kv.put("big", "x".repeat(limit)),
    KvInputError,
    new RegExp(
      `^cannot put 'big': [^;]*: TOO_LARGE: PUT of 'big' needs \\d+ bytes, over the server's ` +
        `limit of ${limit}; make the record smaller or start the servers with a larger ` +
        "--max-frame-bytes; nothing was changed$",
    ),
  );
  const named = refusal.slice("cannot put 'big': ".length).split(": TOO_LARGE")[0];
  assert.deepEqual(named.split(", ").sort(), cluster.servers.map(({ id }) => id).sort());
  assert.equal((await kv.get("big")).value, "small for now");
  assert.ok((await kv.servers()).every((server) => server.up));
});

Deno.test("a server refusing the credentials others accept is reported as refusing them, not as down", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const otherFile = await newAuthFile(dir, "other.auth");
    await using cluster = await KvCluster.start(2, {
      server: (index) => ({ args: ["--auth-file", index === 0 ? authFile : otherFile] }),
    });
    await using kv = await connect({
      servers: cluster.serverFile,
      replicas: 2,
      writes: "strict",
      authFile,
      timeoutMs: BROKER_TIMEOUT_MS,
    });
    const refusing = cluster.servers[1].id;
    const refusal = new RegExp(
      `${refusing.replaceAll(".", "\\.")} refused this client's credentials \\(AUTH_FAILED: ` +
        "[^)]*\\); the server is running: the client's secret \\(its auth file's first line\\) " +
        "must be in the server's auth file",
    );
    const [, down] = await kv.servers();
    assert.deepEqual([down.up, down.refused], [false, true]);
    assert.match(`${down.server} ${down.error}`, refusal);
    await assert.rejects(() => kv.put("a", 1), (error: unknown) => {
      assert.ok(error instanceof KvUnavailableError, `${error}`);
      assert.match(error.message, refusal);
      assert.doesNotMatch(error.message, /is down/);
      return true;
    });
  });
});

tlsTest(
  "a tlsCa that signed no server's certificate is a KvInputError naming tlsCa, as are an expired certificate, a server without TLS and a TLS server reached without tlsCa; one server's certificate of another CA is reported as such",
  async (certs) => {
    const signed = ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey];
    const unsigned = ["--tls-cert", certs.otherServerPem, "--tls-key", certs.serverKey];
    await using cluster = await KvCluster.start(2, {
      server: (index) => ({ args: index === 0 ? signed : unsigned }),
    });
    const options = { servers: cluster.serverFile, timeoutMs: BROKER_TIMEOUT_MS };
    const first = { servers: [cluster.servers[0].address], timeoutMs: BROKER_TIMEOUT_MS };
    await assert.rejects(() => connect({ ...first, tlsCa: certs.otherCaPem }), (error) => {
      assert.ok(error instanceof KvInputError, `${error}`);
      assert.ok(error.cause instanceof CredentialsRefusedError, `${error.cause}`);
      assert.match(
        error.message,
        /^127\.0\.0\.1:\d+ has a TLS certificate no CA this client was given signed \(invalid peer certificate: UnknownIssuer\); the server is running: give the client the CA certificate that signed it \(connect's tlsCa\)$/,
      );
      return true;
    });
    const expired = ["--tls-cert", certs.expiredPem, "--tls-key", certs.serverKey];
    await using others = await KvCluster.start(2, {
      server: (index) => ({ args: index === 0 ? expired : [] }),
    });
    const refusals = [
      /^127\.0\.0\.1:\d+ has a TLS certificate this client cannot accept \(invalid peer certificate: Expired\); the server is running: give it a valid certificate for the name the server file gives it \(kv server --tls-cert\)$/,
      /^127\.0\.0\.1:\d+ does not speak TLS \(received corrupt message of type InvalidContentType\); the server is running: connect to it without TLS, or give the server a certificate \(kv server --tls-cert\) \(connect's tlsCa\)$/,
    ];
    // The other way round: a client without tlsCa reaching a TLS server.
    await assert.rejects(() => connect(first), (error) => {
      assert.ok(error instanceof KvInputError, `${error}`);
      assert.match(
        error.message,
        /^127\.0\.0\.1:\d+ speaks TLS \(it answered a plain HELLO with a TLS alert\); if it is a kv server with TLS \(kv server --tls-cert\), give the client the CA certificate that signed its certificate; if not, list the kv servers' own addresses in the server file \(connect's tlsCa, or servers\)$/,
      );
      return true;
    });
    for (const [index, refusal] of refusals.entries()) {
      const alone = { servers: [others.servers[index].address], timeoutMs: BROKER_TIMEOUT_MS };
      await assert.rejects(() => connect({ ...alone, tlsCa: certs.caPem }), (error) => {
        assert.ok(error instanceof KvInputError, `${error}`);
        assert.ok(error.cause instanceof CredentialsRefusedError, `${error.cause}`);
        assert.match(error.message, refusal);
        return true;
      });
    }
    await using kv = await connect({ ...options, replicas: 2, tlsCa: certs.caPem });
    const [up, refused] = await kv.servers();
    assert.equal(up.up, true);
    assert.deepEqual([refused.up, refused.refused], [false, true]);
    assert.match(refused.error!, /^has a TLS certificate no CA this client was given signed/);
    await assert.rejects(() => kv.put("a", 1), (error: unknown) => {
      assert.ok(error instanceof KvUnavailableError, `${error}`);
      assert.match(error.message, /\d+ has a TLS certificate no CA this client was given signed/);
      return true;
    });
  },
);

Deno.test("connect throws a KvInputError when every server refuses its credentials, and the cause says which", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const wrongFile = await newAuthFile(dir, "wrong.auth");
    await using cluster = await KvCluster.start(2, {
      server: () => ({ args: ["--auth-file", authFile] }),
    });
    for (const credentials of [{}, { authFile: wrongFile }]) {
      await assert.rejects(
        () =>
          connect({ servers: cluster.serverFile, timeoutMs: BROKER_TIMEOUT_MS, ...credentials }),
        (error: unknown) => {
          assert.ok(error instanceof KvInputError, `${error}`);
          assert.ok(error.cause instanceof CredentialsRefusedError, `${error.cause}`);
          assert.match(
            error.message,
            /^127\.0\.0\.1:\d+ refused this client's credentials \(AUTH_(REQUIRED|FAILED): .*\); the server is running: .* \(connect's authFile\)$/,
          );
          return true;
        },
      );
    }
    await using kv = await connect({
      servers: cluster.serverFile,
      authFile,
      timeoutMs: BROKER_TIMEOUT_MS,
    });
    assert.ok((await kv.servers()).every((server) => server.up));
  });
});

Deno.test("a program run without --allow-read or --allow-net is told to run itself with it, not kv: the server file's error, the auth file's and a server's", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/serverFile.txt`, "127.0.0.1 1\n");
    const mod = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);
    await Deno.writeTextFile(
      `${dir}/program.ts`,
      `import { connect } from ${mod};
for (const options of [
  { servers: "serverFile.txt" },
  { servers: [{ hostname: "127.0.0.1", port: 1 }], replicas: 1, authFile: "kv.auth" },
]) {
  try {
    await connect(options);
  } catch (error) {
    console.log(\`\${(error as Error).name}: \${(error as Error).message}\`);
  }
}
`,
    );
    const run = async (permission: string) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", permission, "program.ts"],
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const ran = await outputWithin(child, { what: "the program to exit" });
      assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));
      return new TextDecoder().decode(ran.stdout).trimEnd().split("\n");
    };
    assert.deepEqual(await run("--allow-net"), [
      "KvInputError: serverFile.txt: cannot read the server file: Deno does not let this " +
      "program read it (no --allow-read for it); run your program with --allow-read",
      "KvInputError: kv.auth: cannot read the auth file: Deno does not let this program read " +
      "it (no --allow-read for it); run your program with --allow-read",
    ]);
    assert.equal(
      (await run("--allow-read"))[0],
      "KvInputError: serverFile.txt:1:1: Deno does not let this program connect to 127.0.0.1:1 " +
        "(no --allow-net for it); run your program with --allow-net",
    );
  });
});
