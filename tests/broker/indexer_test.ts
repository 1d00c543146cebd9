import assert from "node:assert/strict";
import fc from "fast-check";
import { Broker } from "../../lib/broker/broker.ts";
import {
  detectDialect,
  formatIndexSummary,
  indexFile,
  indexLines,
  MAX_RECORDS_IN_FLIGHT,
  MAX_REPORTED_PROBLEMS,
  READ_CHUNK_BYTES,
} from "../../lib/broker/indexer.ts";
import { MAX_PUT_MANY_ITEMS } from "../../lib/protocol/put_many.ts";
import { ErrorCode } from "../../lib/protocol/mod.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import {
  countDownAMomentAgo,
  FakeCluster,
  type FakeServer,
  repairAs,
  withFakeBroker,
  writeAheadOnFirstAndThird,
} from "../helpers/fake_cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { int, str } from "../../lib/record/value.ts";
import { compareVersions, type Version } from "../../lib/record/version.ts";

const SILENT_PROGRESS = { update() {}, finish() {} };

function source(text: string): ReadableStream<Uint8Array> {
  return ReadableStream.from([new TextEncoder().encode(text)]);
}

/**
 * {@link withFakeBroker}, with each server's request log emptied once the broker is open
 * (opening records k, a SET_K): the tests count the requests indexing makes.
 */
function withIndexingBroker<T>(
  serverCount: number,
  k: number,
  body: (opened: { cluster: FakeCluster; broker: Broker }) => Promise<T>,
): Promise<T> {
  return withFakeBroker(serverCount, k, (opened) => {
    for (const server of opened.cluster.servers) server.requests.length = 0;
    return body(opened);
  });
}

/** Makes each server of `cluster` apply a write at once and answer it when `scheduler` says. */
function answerWhenScheduled(cluster: FakeCluster, scheduler: fc.Scheduler): void {
  for (const server of cluster.servers) {
    const apply = server.applyPut.bind(server);
    server.applyPut = (key, value, options) => {
      server.heldWriteAnswer = scheduler.schedule(Promise.resolve(), `${key} answered`);
      return apply(key, value, options);
    };
  }
}

/**
 * Indexes one line `key : N` for each of `keys` (N its line number), as one chunk or a chunk
 * a line, under `scheduler`; resolves to the summary and the lines reported.
 */
async function indexScheduled(
  broker: Broker,
  scheduler: fc.Scheduler,
  keys: readonly string[],
  lineByLine: boolean,
) {
  const lines = keys.map((key, line) => `${key} : ${line}\n`);
  const reports: string[] = [];
  const chunks = (lineByLine ? lines : [lines.join("")]).map((text) =>
    new TextEncoder().encode(text)
  );
  const summary = await scheduler.waitFor(
    indexLines(broker, ReadableStream.from(chunks), {
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    }),
  );
  return { summary, reports };
}

Deno.test("indexFile stores every record of each dialect on exactly k replicas", async () => {
  for (
    const [file, dialect] of [
      ["testdata/compat/assignment-dialect.txt", "assignment"],
      ["testdata/compat/seed-dialect.txt", "python"],
      ["testdata/compat/bare-dialect.txt", "bare"],
    ] as const
  ) {
    await withIndexingBroker(4, 2, async ({ cluster, broker }) => {
      const reports: string[] = [];
      const summary = await indexFile(broker, file, {
        report: (line) => reports.push(line),
        progress: SILENT_PROGRESS,
        duplicateKeys: "last-wins",
      });
      const lines = (await Deno.readTextFile(file)).split("\n").filter((line) => line.trim());
      assert.deepEqual(reports, []);
      assert.equal(summary.indexedCount, lines.length, file);
      assert.equal(summary.failedCount, 0);
      assert.equal(summary.skippedCount, 0);
      assert.equal(summary.dialect, dialect);
      // Each server's records read once: `records` copies a whole trie.
      const stored = cluster.servers.map((server) => server.records);
      for (const line of lines) {
        const { key, value } = parseRecordLine(line, 1, { duplicateKeys: "last-wins" });
        const holders = cluster.holders(key);
        const expected = broker.replicasOf(key).map((index) => cluster.servers[index].address.id);
        assert.deepEqual(holders.sort(), expected.sort(), key);
        for (const index of broker.replicasOf(key)) {
          assert.deepEqual(stored[index].get(key), value);
        }
      }
    });
  }
});

Deno.test("indexFile reads a file of many chunks whole: every record, those across a chunk's end too", async () => {
  await withIndexingBroker(2, 2, async ({ cluster, broker }) => {
    const path = await Deno.makeTempFile({ suffix: ".txt" });
    try {
      // Lines of many lengths, over twice as many chunks as the reader's buffers.
      const values: string[] = [];
      let bytes = 0;
      while (bytes < 8 * READ_CHUNK_BYTES) {
        const value = `${values.length}-${"abcdefgh".repeat(values.length % 97)}`;
        values.push(value);
        bytes += value.length + 16;
      }
      await Deno.writeTextFile(path, values.map((value, i) => `k${i}: "${value}"\n`).join(""));
      const summary = await indexFile(broker, path, { progress: SILENT_PROGRESS });
      assert.deepEqual([summary.indexedCount, summary.skippedCount], [values.length, 0]);
      for (const server of cluster.servers) {
        const records = server.records;
        assert.equal(records.size, values.length);
        values.forEach((value, i) => assert.deepEqual(records.get(`k${i}`), str(value)));
      }
    } finally {
      await Deno.remove(path);
    }
  });
});

Deno.test("a line that is not UTF-8 is reported at file:line:col of the character that is not, skipped and counted", async () => {
  await withIndexingBroker(2, 2, async ({ broker }) => {
    const reports: string[] = [];
    // Latin-1's 'é' (0xe9) after a UTF-8 'é': the bad character is column 6.
    const bytes = Uint8Array.of(
      ...new TextEncoder().encode('a: 1\n\u00e9: "\u00e9'),
      0xe9,
      ...new TextEncoder().encode('"\nc: 2\n'),
    );
    const summary = await indexLines(broker, ReadableStream.from([bytes]), {
      fileName: "data.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(summary.indexedCount, 2);
    assert.equal(summary.skippedCount, 1);
    assert.deepEqual(reports, ["data.txt:2:6: byte 0xe9 is not UTF-8; line skipped"]);
  });
});

Deno.test("bad lines are reported with file:line:col, skipped and counted", async () => {
  await withIndexingBroker(2, 2, async ({ broker }) => {
    const reports: string[] = [];
    const text = `"a" : 1\n\n"b" { }\n"c" : { "x" : 2 }\n'd':{'e': \n`;
    const summary = await indexLines(broker, source(text), {
      fileName: "data.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(summary.indexedCount, 2);
    assert.equal(summary.skippedCount, 2);
    assert.equal(reports.length, 2);
    assert.match(reports[0], /^data\.txt:3:5: expected ':' after the key.*; line skipped$/);
    assert.match(reports[1], /^data\.txt:5:\d+: /);
    assert.deepEqual((await broker.keys("", 10)).keys, ["a", "c"]);
  });
});

Deno.test("a record pretty-printed over several lines is skipped whole: its last field's line is not stored as a record of that name", async () => {
  await withIndexingBroker(2, 2, async ({ broker }) => {
    await broker.put("age", str("precious"));
    const reports: string[] = [];
    const text = [
      `"person1": {`,
      `  "name": "Mary",`,
      `  "address": { "city": "Oslo",`,
      `    "zip": "0150" },`,
      // On its own a record line: it was stored as the record age.
      `  "age": 22`,
      `}`,
      `person2: { a: 1 }`,
      // A line cut short, then records at the start of their lines: those are read.
      `x: { "a": 1`,
      `person3: 3`,
      // Indented, but after a whole record: a record line like any other.
      `  person4: 4`,
    ].join("\n");
    const summary = await indexLines(broker, source(text), {
      fileName: "data.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.deepEqual([summary.indexedCount, summary.skippedCount], [3, 7]);
    assert.deepEqual(reports, [
      "data.txt:1:13: expected a key or '}', found end of line; line skipped, and the indented " +
      "lines that go on with it: kv reads one record a line (join each record's lines, e.g. jq -c)",
      "data.txt:8:12: expected ';', ',' or '}' after the value, found end of line; line " +
      "skipped, and the indented lines that go on with it: kv reads one record a line (join " +
      "each record's lines, e.g. jq -c)",
    ]);
    assert.deepEqual((await broker.keys("", 10)).keys, ["age", "person2", "person3", "person4"]);
    const age = await broker.get("age");
    assert(age.kind === "found");
    assert.deepEqual(age.value, str("precious"), "the record named age is as it was");
  });
});

Deno.test("records indented alike after a line cut short are read: only lines indented deeper than it go on with it", async () => {
  await withIndexingBroker(2, 2, async ({ broker }) => {
    const reports: string[] = [];
    // A file whose every record line is indented (two spaces), one of them cut short.
    const text = [`  a: 1`, `  b: { "x": 1`, `  c: 2`, `  d: { "y": 3 }`].join("\n");
    const summary = await indexLines(broker, source(text), {
      fileName: "data.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.deepEqual([summary.indexedCount, summary.skippedCount], [3, 1]);
    assert.deepEqual((await broker.keys("", 10)).keys, ["a", "c", "d"]);
    assert.equal(reports.length, 1);
  });
});

Deno.test("a repeated field name skips the line unless duplicateKeys is last-wins", async () => {
  await withIndexingBroker(1, 1, async ({ broker }) => {
    const text = `a: { x : 1; x : 2 }\nb: 3\n`;
    const reports: string[] = [];
    const strict = await indexLines(broker, source(text), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(strict.skippedCount, 1);
    assert.deepEqual(reports, [
      "d.txt:1:13: duplicate key 'x' in one object; line skipped " +
      "(--duplicate-keys last-wins keeps the last value)",
    ]);
    const lenient = await indexLines(broker, source(text), {
      progress: SILENT_PROGRESS,
      duplicateKeys: "last-wins",
    });
    assert.equal(lenient.indexedCount, 2);
    assert.deepEqual(withoutVersion(await broker.query(["a", "x"])), {
      kind: "found",
      value: { kind: "int", value: 2 },
    });
  });
});

Deno.test("with a server down, records go to the next servers of their lists, leaving hints", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    cluster.servers[0].state = "crashed";
    await broker.pool.call(0, (connection) => connection.ping());
    const keys = Array.from({ length: 30 }, (_, i) => `person${i}`);
    const { summary, reports } = await indexKeys(broker, keys);
    assert.deepEqual(reports, []);
    assert.equal(summary.indexedCount, keys.length);
    const onDown = keys.filter((key) => broker.replicasOf(key).includes(0));
    assert(onDown.length > 0 && onDown.length < keys.length);
    const others = [cluster.servers[1].address.id, cluster.servers[2].address.id];
    for (const key of onDown) assert.deepEqual(cluster.holders(key).sort(), others.sort(), key);
    const hinted = new Set(onDown.map((key) => partitionOf(key)));
    assert.equal(broker.hintCount, hinted.size);
  });
});

Deno.test("with k of the first 2k-1 servers of a record's list down, it is stored beyond them and the load warns of it, as a PUT does", async () => {
  await withIndexingBroker(4, 2, async ({ cluster, broker }) => {
    for (const index of [0, 1]) {
      cluster.servers[index].state = "crashed";
      await broker.pool.call(index, (connection) => connection.ping());
    }
    const keys = Array.from({ length: 40 }, (_, i) => `person${i}`);
    const reports: string[] = [];
    const summary = await indexLines(broker, source(keys.map((key) => `${key}: 1\n`).join("")), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(summary.indexedCount, keys.length);
    // F, where reads look, is the first min(4, 2k-1) = 3 servers: with both down servers
    // in it only one server of F is up, and the record's second copy lands on the fourth.
    const beyond = keys.filter((key) => {
      const front = [...broker.preferenceList(partitionOf(key)).slice(0, 3)];
      return front.includes(0) && front.includes(1);
    });
    assert(beyond.length > 0 && beyond.length < keys.length);
    for (const key of beyond) assert.equal(cluster.holders(key).length, 2, key);
    assert.equal(summary.unseenElsewhereCount, beyond.length);
    assert.deepEqual(reports.length, 1, reports.join("\n"));
    assert.match(
      reports[0],
      new RegExp(
        `^${beyond.length} records of d\\.txt were stored with a warning; the first: ` +
          "stored on \\S+, beyond the first 3 servers of the key's list, where reads look",
      ),
    );
  });
});

Deno.test("with the strict write rule, records whose replica is down are reported and not counted", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2, writes: "strict" });
  try {
    cluster.servers[0].state = "crashed";
    await broker.pool.call(0, (connection) => connection.ping());
    const keys = Array.from({ length: 30 }, (_, i) => `person${i}`);
    const { summary, reports } = await indexKeys(broker, keys);
    const onDown = keys.filter((key) => broker.replicasOf(key).includes(0));
    assert(onDown.length > 0 && onDown.length < keys.length);
    assert.equal(summary.failedCount, onDown.length);
    assert.equal(summary.indexedCount, keys.length - onDown.length);
    assert.match(
      reports[0],
      /not indexed: one of its k=2 own servers is down \(--writes strict; down: /,
    );
    for (const key of onDown) assert.deepEqual(cluster.holders(key), [], "nothing written");
    assert.equal(broker.hintCount, 0);
  } finally {
    broker.close();
  }
});

Deno.test("with fewer than k servers up, every record is reported and none is written", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    for (const index of [0, 1]) {
      cluster.servers[index].state = "crashed";
      await broker.pool.call(index, (connection) => connection.ping());
    }
    const keys = Array.from({ length: 10 }, (_, i) => `person${i}`);
    const { summary, reports } = await indexKeys(broker, keys);
    assert.equal(summary.failedCount, keys.length);
    assert.match(reports[0], /not indexed: fewer than k=2 servers are up \(down: /);
    for (const key of keys) assert.deepEqual(cluster.holders(key), []);
  });
});

Deno.test("a load whose servers were all counted down a moment ago (a request timed out, as when the broker stalled) waits for their reconnects and stores every record", async () => {
  await withIndexingBroker(2, 2, async ({ cluster, broker }) => {
    await countDownAMomentAgo(cluster, broker, [0, 1]);
    assert(broker.pool.isReconnecting(0) && broker.pool.isReconnecting(1));
    const keys = Array.from({ length: 10 }, (_, i) => `person${i}`);
    const { summary, reports } = await indexKeys(broker, keys);
    assert.deepEqual(reports, []);
    assert.equal(summary.indexedCount, keys.length);
    for (const key of keys) assert.equal(cluster.holders(key).length, 2, key);
  });
});

Deno.test("a record a server holds a newer version of is written again, and its value wins", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    const later: Version = { ms: Date.now() + 60_000, counter: 0, broker: 7 };
    const [first] = broker.replicasOf("person1");
    cluster.servers[first].applyPut("person1", int(99), { version: later });
    const keys = Array.from({ length: 10 }, (_, i) => `person${i}`);
    const { summary, reports } = await indexKeys(broker, keys);
    assert.deepEqual(reports, []);
    assert.equal(summary.indexedCount, keys.length);
    const read = await broker.get("person1");
    assert.deepEqual(withoutVersion(read), { kind: "found", value: int(1) });
    assert(compareVersions((read as { version: Version }).version, later) > 0);
    for (const index of broker.replicasOf("person1")) {
      assert.deepEqual(cluster.servers[index].records.get("person1"), int(1));
    }
  });
});

Deno.test("a chunk's records leave as one PUT_MANY per server", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    const text = Array.from({ length: 100 }, (_, i) => `k${i}: ${i}\n`).join("");
    const summary = await indexLines(broker, source(text), { progress: SILENT_PROGRESS });
    assert.equal(summary.indexedCount, 100);
    for (const server of cluster.servers) assert.deepEqual(server.requests, ["PUT_MANY"]);
    const stored = cluster.servers.reduce((sum, server) => sum + server.records.size, 0);
    assert.equal(stored, 200);
  });
});

/**
 * Indexes `keys` as `"key" : value` lines (value default `1`); returns the summary and the
 * keys reported failed.
 */
async function indexKeys(broker: Broker, keys: string[], value = "1") {
  const text = keys.map((key) => `"${key}" : ${value}\n`).join("");
  const reports: string[] = [];
  const summary = await indexLines(broker, source(text), {
    fileName: "d.txt",
    report: (line) => reports.push(line),
    progress: SILENT_PROGRESS,
  });
  const failedKeys = reports.map((report) => {
    const match = /^d\.txt:\d+: record '([^']+)' not indexed: (.*)$/.exec(report);
    assert.ok(match, report);
    return match[1];
  });
  return { summary, reports, failedKeys };
}

Deno.test("each item a replica refuses fails exactly its own record, with the server's reason", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    // Every other key, so that a batch's refusals and successes interleave.
    cluster.servers[1].refuseKey = (key) => Number(key.slice("person".length)) % 2 === 1;
    const keys = Array.from({ length: 40 }, (_, i) => `person${i}`);
    const { summary, reports, failedKeys } = await indexKeys(broker, keys);
    const refused = keys.filter((key, i) => i % 2 === 1 && broker.replicasOf(key).includes(1));
    assert(refused.length > 0);
    assert.deepEqual(failedKeys.sort(), refused.sort());
    assert.equal(summary.failedCount, refused.length);
    assert.equal(summary.indexedCount, keys.length - refused.length);
    for (const report of reports) assert.match(report, /: BAD_REQUEST: fake refuses 'person\d+'$/);
    for (const key of keys.filter((key) => !refused.includes(key))) {
      const expected = broker.replicasOf(key).map((index) => cluster.servers[index].address.id);
      assert.deepEqual(cluster.holders(key).sort(), expected.sort(), key);
    }
  });
});

/**
 * Indexes 16 keys with k = 2 over three fake servers, the third failing as `fail` makes
 * it, under each write rule: sloppy writes its batches to the next server, every record
 * indexed; strict reports each record of the failed server's, with `strictReport`, and
 * indexes the rest. `up` is whether the failure leaves the server up (`why` says why).
 */
async function indexPastFailingServer(
  fail: (server: FakeServer) => void,
  { up, why, strictReport }: { up: boolean; why: string; strictReport: RegExp },
): Promise<void> {
  for (const writes of ["sloppy", "strict"] as const) {
    const cluster = new FakeCluster(3);
    const broker = await cluster.openBroker({ k: 2, writes });
    try {
      fail(cluster.servers[2]);
      // Few enough that every failure is reported (MAX_REPORTED_PROBLEMS).
      const keys = Array.from({ length: 16 }, (_, i) => `person${i}`);
      const { summary, reports, failedKeys } = await indexKeys(broker, keys);
      const onFailed = keys.filter((key) => broker.replicasOf(key).includes(2));
      assert(onFailed.length > 0 && onFailed.length < keys.length);
      assert.equal(broker.pool.isUp(2), up, why);
      if (writes === "strict") {
        assert.deepEqual(failedKeys.sort(), onFailed.sort());
        assert.equal(summary.indexedCount, keys.length - onFailed.length);
        for (const report of reports) assert.match(report, strictReport);
        continue;
      }
      assert.deepEqual(reports, []);
      assert.equal(summary.indexedCount, keys.length);
      const others = [cluster.servers[0].address.id, cluster.servers[1].address.id].sort();
      for (const key of onFailed) assert.deepEqual(cluster.holders(key).sort(), others, key);
    } finally {
      broker.close();
    }
  }
}

Deno.test("a batch a server refuses whole (its disk full) is written to the next servers, as a PUT's write would be; strict reports it", async () => {
  await indexPastFailingServer((server) => server.failWrites = "disk full", {
    up: true,
    why: "a server's own error does not mark it down",
    strictReport: /disk full$/,
  });
});

Deno.test("an item a server refuses for its own limits (LIMIT) is written to the next server; a BAD_REQUEST one fails", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    // Odd keys refused as over a limit of the server's, multiples of 4 as unreadable.
    const refused = (key: string) => Number(key.slice("person".length)) % 2 === 1;
    cluster.servers[1].refuseKey = (key) => refused(key) || Number(key.slice(6)) % 4 === 0;
    cluster.servers[1].refusalCode = (key) =>
      refused(key) ? ErrorCode.LIMIT : ErrorCode.BAD_REQUEST;
    const keys = Array.from({ length: 40 }, (_, i) => `person${i}`);
    const { summary, reports, failedKeys } = await indexKeys(broker, keys);
    const onOne = keys.filter((key) => broker.replicasOf(key).includes(1));
    const unreadable = onOne.filter((key) => !refused(key) && Number(key.slice(6)) % 4 === 0);
    assert(unreadable.length > 0 && onOne.some(refused));
    assert.deepEqual(failedKeys.sort(), unreadable.sort());
    for (const report of reports) assert.match(report, /: BAD_REQUEST: fake refuses 'person\d+'$/);
    assert.equal(summary.indexedCount, keys.length - unreadable.length);
    const others = [cluster.servers[0].address.id, cluster.servers[2].address.id].sort();
    for (const key of onOne.filter(refused)) {
      assert.deepEqual(cluster.holders(key).sort(), others, key);
    }
  });
});

Deno.test("a batch lost with its server is written again to the next servers; strict reports it", async () => {
  await indexPastFailingServer((server) => server.crashOnPutMany = true, {
    up: false,
    why: "a lost connection is down",
    strictReport: /connection reset$/,
  });
});

Deno.test("a key's earlier line, written again after its batch was lost with a server, does not win over the later line", async () => {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    const [first, second, third] = broker.preferenceList(partitionOf("x"));
    const releaseSecond = cluster.servers[second].hold("puts");
    let lines!: ReadableStreamDefaultController<Uint8Array>;
    const reports: string[] = [];
    const indexing = indexLines(broker, new ReadableStream({ start: (c) => void (lines = c) }), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    lines.enqueue(new TextEncoder().encode("x : 1\n"));
    await waitFor(
      () =>
        cluster.servers[first].trie.has("x") &&
        cluster.servers[second].requests.includes("PUT_MANY"),
      { what: "line 1 on the first server, its batch held at the second" },
    );
    // The second server's connection is lost; line 2 comes while line 1 is in flight.
    cluster.servers[second].state = "crashed";
    lines.enqueue(new TextEncoder().encode("x : 2\n"));
    // Line 1's batch fails now, and line 1 is written again (to the first and third): line
    // 2, which waited for it, goes there after it and must stand.
    releaseSecond();
    lines.close();
    const summary = await indexing;
    assert.deepEqual([summary.indexedCount, reports], [2, []]);
    assert.deepEqual(withoutVersion(await broker.get("x")), { kind: "found", value: int(2) });
    for (const index of [first, third]) {
      assert.deepEqual(cluster.servers[index].trie.get("x"), int(2));
    }
  });
});

Deno.test("the last line of each key wins, in whatever order the servers' answers to the load and its retries come", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 8 }),
      fc.subarray(["a", "b", "c"]),
      fc.boolean(),
      async (scheduler, keys, ahead, lineByLine) => {
        await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
          // Another broker, its clock ahead, wrote these keys: their lines are refused as
          // STALE and written again, stamped afresh after that version.
          const later: Version = { ms: Date.now() + 60_000, counter: 0, broker: 7 };
          for (const key of ahead) {
            for (const server of cluster.servers) server.applyPut(key, int(-1), { version: later });
          }
          // Each write is applied as it comes; its answer comes when the scheduler says.
          answerWhenScheduled(cluster, scheduler);
          const { summary, reports } = await indexScheduled(broker, scheduler, keys, lineByLine);
          assert.deepEqual([summary.indexedCount, reports], [keys.length, []]);
          for (const key of new Set(keys)) {
            const read = await scheduler.waitFor(broker.get(key));
            assert.deepEqual(withoutVersion(read), {
              kind: "found",
              value: int(keys.lastIndexOf(key)),
            }, key);
          }
        });
      },
    ),
  );
});

Deno.test("the last line of each key wins while a refused line is written again to the next server", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 2 }),
      fc.subarray(["a", "b", "c"]),
      fc.constantFrom("items", "batch"),
      fc.constantFrom(ErrorCode.READ_ONLY, ErrorCode.LIMIT),
      fc.boolean(),
      async (scheduler, keys, refuser, refusedKeys, how, code, lineByLine) => {
        await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
          // One server refuses some keys' items, or every write whole (its disk full).
          const server = cluster.servers[refuser];
          if (how === "items") {
            server.refuseKey = (key) => refusedKeys.includes(key);
            server.refusalCode = () => code;
          } else server.failWrites = "disk full";
          // Each write is applied as it comes; its answer comes when the scheduler says, so
          // a later line of a key arrives while its earlier line's rewrite is in flight.
          answerWhenScheduled(cluster, scheduler);
          const { summary, reports } = await indexScheduled(broker, scheduler, keys, lineByLine);
          assert.deepEqual([summary.indexedCount, reports], [keys.length, []]);
          for (const key of new Set(keys)) {
            const last = int(keys.lastIndexOf(key));
            const read = await scheduler.waitFor(broker.get(key));
            assert.deepEqual(withoutVersion(read), { kind: "found", value: last }, key);
            // Every copy is the last line's: none of an earlier line stands anywhere.
            for (const each of cluster.servers) {
              const held = each.trie.get(key);
              if (held !== undefined) assert.deepEqual(held, last, key);
            }
          }
        });
      },
    ),
  );
});

Deno.test("a key on every line is written once per round trip, not once per line: the lines a waiting line replaced count with it", async () => {
  await withIndexingBroker(2, 2, async ({ cluster, broker }) => {
    const lines = Array.from({ length: 1000 }, (_, line) => `hot : ${line}\n`).join("");
    const reports: string[] = [];
    const summary = await indexLines(broker, source(lines), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.deepEqual([summary.indexedCount, summary.failedCount, reports], [1000, 0, []]);
    assert.deepEqual(withoutVersion(await broker.get("hot")), { kind: "found", value: int(999) });
    // The first line in the chunk's batch, then the last alone: the 998 between it replaced.
    for (const server of cluster.servers) {
      assert.deepEqual(server.requests.filter((kind) => kind.startsWith("PUT")), [
        "PUT_MANY",
        "PUT",
      ]);
    }
  });
});

Deno.test("a waiting line that fails fails the lines it replaced, said in its one report", async () => {
  await withIndexingBroker(1, 1, async ({ cluster, broker }) => {
    cluster.servers[0].failWrites = "disk full";
    const lines = Array.from({ length: 5 }, (_, line) => `hot : ${line}\n`).join("");
    const reports: string[] = [];
    const summary = await indexLines(broker, source(lines), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.deepEqual([summary.indexedCount, summary.failedCount], [0, 5]);
    assert.equal(reports.length, 2, reports.join("\n"));
    assert.match(reports[0], /^d\.txt:1: record 'hot' not indexed: .*disk full/);
    assert.match(
      reports[1],
      /^d\.txt:5: record 'hot' not indexed: .*disk full.* \(nor the 3 earlier lines of the key it replaced\)$/,
    );
  });
});

Deno.test("a small frame limit splits a chunk's batch; a record over every server's fails alone, as a PUT of it would", async () => {
  await withIndexingBroker(2, 2, async ({ cluster, broker }) => {
    for (const server of cluster.servers) server.maxFrameBytes = 200;
    const keys = Array.from({ length: 50 }, (_, i) => `person${i}`);
    const text = keys.map((key) => `"${key}" : 1\n`).join("") + `"big" : "${"x".repeat(300)}"\n`;
    const reports: string[] = [];
    const summary = await indexLines(broker, source(text), {
      fileName: "d.txt",
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(summary.indexedCount, keys.length);
    assert.equal(summary.failedCount, 1);
    assert.match(
      reports[0],
      /record 'big' not indexed: cannot put 'big': .*over the server's limit of 200.*; make the record smaller/,
    );
    for (const server of cluster.servers) {
      assert.equal(server.records.size, keys.length);
      assert.ok(server.requests.filter((kind) => kind === "PUT_MANY").length > 1);
    }
  });
});

Deno.test("a record over one server's frame limit goes to the next server of its list, as a PUT's does; strict fails it at once", async () => {
  for (const writes of ["sloppy", "strict"] as const) {
    const cluster = new FakeCluster(3);
    const broker = await cluster.openBroker({ k: 2, writes });
    try {
      cluster.servers[2].maxFrameBytes = 200;
      const keys = Array.from({ length: 16 }, (_, i) => `big${i}`);
      const { summary, reports, failedKeys } = await indexKeys(
        broker,
        keys,
        `"${"x".repeat(300)}"`,
      );
      const onSmall = keys.filter((key) => broker.replicasOf(key).includes(2));
      assert(onSmall.length > 0 && onSmall.length < keys.length);
      if (writes === "strict") {
        assert.deepEqual(failedKeys.sort(), onSmall.sort());
        for (const report of reports) assert.match(report, /is over the frame limit of /);
        continue;
      }
      assert.deepEqual(reports, []);
      assert.equal(summary.indexedCount, keys.length);
      const others = [cluster.servers[0].address.id, cluster.servers[1].address.id].sort();
      for (const key of onSmall) assert.deepEqual(cluster.holders(key).sort(), others, key);
    } finally {
      broker.close();
    }
  }
});

Deno.test("more records in one chunk than a PUT_MANY may hold go out in several", async () => {
  await withIndexingBroker(1, 1, async ({ cluster, broker }) => {
    const count = MAX_PUT_MANY_ITEMS + 10;
    const text = Array.from({ length: count }, (_, i) => `k${i}:1\n`).join("");
    const summary = await indexLines(broker, source(text), { progress: SILENT_PROGRESS });
    assert.equal(summary.indexedCount, count);
    assert.equal(cluster.servers[0].records.size, count);
    assert.deepEqual(cluster.servers[0].requests, ["PUT_MANY", "PUT_MANY"]);
  });
});

Deno.test("problem reports stop after MAX_REPORTED_PROBLEMS; counting goes on", async () => {
  await withIndexingBroker(1, 1, async ({ broker }) => {
    const reports: string[] = [];
    const text = "bad line\n".repeat(MAX_REPORTED_PROBLEMS + 5);
    const summary = await indexLines(broker, source(text), {
      report: (line) => reports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(summary.skippedCount, MAX_REPORTED_PROBLEMS + 5);
    assert.equal(reports.length, MAX_REPORTED_PROBLEMS + 1);
    assert.match(reports.at(-1)!, /only counting them/);
  });
});

Deno.test("more records than the in-flight window are all indexed", async () => {
  await withIndexingBroker(2, 2, async ({ cluster, broker }) => {
    const count = MAX_RECORDS_IN_FLIGHT * 2 + 7;
    const text = Array.from({ length: count }, (_, i) => `k${i}: ${i}`).join("\n");
    const summary = await indexLines(broker, source(text), { progress: SILENT_PROGRESS });
    assert.equal(summary.indexedCount, count);
    assert.equal(cluster.servers[0].records.size, count);
    assert.match(
      formatIndexSummary(summary),
      /^indexed \d+ records \(0 failed\), skipped 0 lines, /,
    );
  });
});

Deno.test("detectDialect looks at the first character", () => {
  assert.equal(detectDialect(`'p':{}`), "python");
  assert.equal(detectDialect(`  "p" : {}`), "assignment");
  assert.equal(detectDialect(`p: {}`), "bare");
});

Deno.test("a record whose replica restarted before the other replica stored it is written again: a repair between cannot leave it unseen", async () => {
  const cluster = new FakeCluster(3);
  const broker = await cluster.openBroker({ k: 2 });
  const repairer = await cluster.openBroker({ k: 2 });
  try {
    const [first, second] = broker.preferenceList(partitionOf("person1"));
    const applySecond = cluster.servers[second].hold("puts");
    const indexing = indexKeys(broker, ["person1"]);
    await waitFor(() => cluster.servers[first].trie.has("person1"), {
      what: "the first replica to store the record",
    });
    // The first replica restarts empty; a repair reads every server before the record
    // lands on the second, finds nothing to copy and marks the new process repaired.
    cluster.servers[first].restart();
    const report = await repairAs(repairer);
    assert.deepEqual(report.markedRepaired, [cluster.servers[first].address.id]);
    applySecond();
    const { summary, reports } = await indexing;
    assert.deepEqual([summary.indexedCount, reports], [1, []]);
    // With the second replica down, the servers that answer must hold the record.
    cluster.servers[second].state = "crashed";
    assert.deepEqual(withoutVersion(await repairer.get("person1")), {
      kind: "found",
      value: int(1),
    });
  } finally {
    broker.close();
    repairer.close();
  }
});

/**
 * Indexes person1 after another broker's write of it was acknowledged on the first and
 * third servers of its list, the first having lost it (`how`, as for the broker's PUT in
 * broker_test.ts): the record lands on the first two, which both lack the acknowledged
 * write. A load that starts after a write was acknowledged must still win over it.
 */
async function indexOverLostCopy(how: "unrepaired" | "repaired in flight"): Promise<void> {
  await withIndexingBroker(3, 2, async ({ cluster, broker }) => {
    const { acknowledged, first, second } = writeAheadOnFirstAndThird(
      cluster,
      broker,
      "person1",
      int(7),
    );
    const server = cluster.servers[first];
    server.restart();
    // The broker reconnects before the load, so the record goes to the new process.
    assert((await broker.pool.call(first, (connection) => connection.ping())).ok);
    const answerFirst = server.hold("next write answer");
    const indexing = indexKeys(broker, ["person1"]);
    await waitFor(() => server.requests.includes("PUT_MANY"), {
      what: "the record to reach the first server",
    });
    if (how === "repaired in flight") {
      const report = await repairAs(broker);
      assert.deepEqual(report.markedRepaired, [server.address.id]);
    }
    answerFirst();
    const { summary, reports } = await indexing;
    assert.deepEqual([summary.indexedCount, reports], [1, []]);
    for (const index of [first, second]) {
      const held = cluster.servers[index].trie.versionOf("person1")!;
      const id = cluster.servers[index].address.id;
      assert(
        compareVersions(held, acknowledged) > 0,
        `${id} holds a version before the acknowledged`,
      );
    }
    await repairAs(broker);
    assert.deepEqual(withoutVersion(await broker.get("person1")), { kind: "found", value: int(1) });
  });
}

for (const how of ["unrepaired", "repaired in flight"] as const) {
  Deno.test(`a record stored on a server that lost an acknowledged write (${how}) is written again as a PUT, which reads on and is stamped after that write`, async () => {
    await indexOverLostCopy(how);
  });
}

Deno.test("a load whose broker follows a k kv repair -k changes goes on under the new k: later records land on its servers, none fails; a broker given its k reports the refusal, not servers down", async () => {
  const cluster = new FakeCluster(4);
  const following = await cluster.openBroker({});
  await following.put("seed", int(0));
  const given = await cluster.openBroker({ k: 1 });
  try {
    const stream = () => {
      let lines!: ReadableStreamDefaultController<Uint8Array>;
      return { lines: () => lines, stream: new ReadableStream({ start: (c) => void (lines = c) }) };
    };
    const load = stream();
    const reports: string[] = [];
    const options = { fileName: "d.txt", report: (line: string) => reports.push(line) };
    const indexing = indexLines(following, load.stream, { ...options, progress: SILENT_PROGRESS });
    load.lines().enqueue(new TextEncoder().encode("a : 1\n"));
    await waitFor(() => cluster.holders("a").length === 1, { what: "line 1 stored under k=1" });
    // kv repair -k 2's first step; the broker learns it at its next write (or check).
    for (const server of cluster.servers) server.nodeState = { ...server.nodeState, k: 2 };
    assert.equal((await following.put("b", int(2))).kind, "done");
    assert.equal(following.k, 2);
    load.lines().enqueue(new TextEncoder().encode("c : 3\n"));
    load.lines().close();
    const summary = await indexing;
    assert.deepEqual([summary.indexedCount, summary.failedCount, reports], [2, 0, []]);
    assert.equal(cluster.holders("c").length, 2, "placed under the new k");

    // The broker given k=1 learns the change and refuses: the report says why.
    assert.equal((await given.put("d", int(4))).kind, "error");
    const refusedReports: string[] = [];
    const refused = await indexLines(given, source("e : 5\n"), {
      fileName: "d.txt",
      report: (line) => refusedReports.push(line),
      progress: SILENT_PROGRESS,
    });
    assert.equal(refused.failedCount, 1);
    assert.match(
      refusedReports[0],
      /not indexed: the servers now record k=2 \(kv repair -k changed it\), but this broker was given k=1/,
    );
    assert.doesNotMatch(refusedReports[0], /servers are up/);
  } finally {
    following.close();
    given.close();
  }
});
