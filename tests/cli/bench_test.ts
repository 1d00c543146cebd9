import assert from "node:assert/strict";
import type { BenchReport } from "../../lib/bench/runner.ts";
import {
  BENCH_KEY_PREFIX,
  OPERATION_KINDS,
  WORKLOAD_MIX,
  WORKLOADS,
} from "../../lib/bench/workload.ts";
import { MAX_KEYS_LIMIT } from "../../lib/limits.ts";
import { JSON_SIGNIFICANT_DIGITS, MAX_RECORD_SIZE } from "../../lib/cli/bench.ts";
import { assertRefusedInOneLine, type RefusalCase, refusalOf } from "../helpers/refusals.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { closedPorts, withTempDir } from "../helpers/fixtures.ts";
import { newAuthFile, runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin, TEST_KV } from "../helpers/server_process.ts";
import { outputWithin, waitFor } from "../helpers/wait.ts";
import { connectClient } from "../helpers/client.ts";

/**
 * Runs `kv bench --json` with `args` (and the tests' --timeout-ms unless they set one: a
 * live server stalled past the 1 s default would count as errors) and returns its report.
 */
async function bench(args: string[]): Promise<BenchReport> {
  const run = await runKv(withBrokerTimeout(["bench", "--json", ...args]));
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  // No float noise: each fractional figure has at most JSON_SIGNIFICANT_DIGITS.
  for (const figure of numbersIn(report)) {
    assert.equal(figure, Number(figure.toPrecision(JSON_SIGNIFICANT_DIGITS)), run.stdout);
  }
  return report;
}

/** Every number in `value`, however deep. */
function numbersIn(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.values(value).flatMap(numbersIn);
}

/** Checks that a report's numbers add up: operations counted are operations done. */
function assertConsistent(report: BenchReport): void {
  const kinds = Object.keys(report.byOperation);
  assert(
    kinds.every((kind) => (OPERATION_KINDS as readonly string[]).includes(kind)),
    kinds.join(),
  );
  const figures = Object.values(report.byOperation);
  const sum = (pick: (f: (typeof figures)[number]) => number) =>
    figures.reduce((total, f) => total + pick(f), 0);
  assert.equal(sum((f) => f.count), report.operations);
  assert.equal(sum((f) => f.errors), report.errors);
  assert.equal(sum((f) => f.warnings), report.warnings);
  assert.equal(sum((f) => f.notFound), report.notFound);
  assert(Number.isFinite(report.cpuSeconds) && report.cpuSeconds >= 0, `${report.cpuSeconds}`);
  for (const f of figures) {
    assert(f.p50Ms <= f.p95Ms && f.p95Ms <= f.p99Ms && f.p99Ms <= f.p999Ms, JSON.stringify(f));
    assert(f.p999Ms <= f.maxMs && f.meanMs <= f.maxMs, JSON.stringify(f));
  }
}

Deno.test("kv bench runs every workload on a real cluster and counts every operation", async () => {
  await using cluster = await KvCluster.start(3);
  const common = ["-s", cluster.serverFile, "-k", "2", "-n", "50", "--seed", "7"];
  for (const workload of WORKLOADS) {
    const report = await bench([
      ...common,
      ...["--workload", workload, "--ops", "300", "--clients", "2", "--pipeline", "4"],
    ]);
    assert.equal(report.workload, workload);
    assert.equal(report.operations, 300, workload);
    assert.equal(report.interrupted, false, workload);
    assertConsistent(report);
    // Every kind that ran is in the workload's mix; on a healthy cluster nothing fails.
    const mix = Object.keys(WORKLOAD_MIX[workload].mix);
    assert(Object.keys(report.byOperation).every((kind) => mix.includes(kind)), workload);
    assert.deepEqual([report.errors, report.warnings, report.notFound], [0, 0, 0], workload);
    assert.equal(report.loop, "closed");
  }
});

Deno.test("kv bench --no-load, --size, --rate and --duration report consistently", async () => {
  await using cluster = await KvCluster.start(2);
  const common = ["-s", cluster.serverFile, "-n", "20", "--seed", "3"];
  const sized = await bench([...common, "--size", "100", "--workload", "C", "--ops", "40"]);
  assert.equal(sized.recordShape, "100 bytes");
  assert.notEqual(sized.loadSeconds, null);
  const open = await bench([
    ...common,
    ...[
      "--no-load",
      "--workload",
      "B",
      "--ops",
      "40",
      "--rate",
      "2000",
      "--distribution",
      "uniform",
    ],
  ]);
  assert.deepEqual([open.loop, open.rate, open.loadSeconds, open.operations], [
    "open",
    2000,
    null,
    40,
  ]);
  assert.equal(open.notFound, 0, "the records loaded before are there");
  assertConsistent(open);
  // The largest --size loads: its record lines fit the parser's longest.
  const largest = await bench([
    ...["-s", cluster.serverFile, "-n", "2", "--ops", "4", "--seed", "3"],
    ...["--size", String(MAX_RECORD_SIZE)],
  ]);
  assert.equal(largest.recordShape, `${MAX_RECORD_SIZE} bytes`);
  assertConsistent(largest);
  const timed = await bench([...common, "--no-load", "--workload", "C", "--duration", "1"]);
  assert(timed.operations > 0);
  assertConsistent(timed);
  assert.equal(timed.values, "objects", "reads make objects unless told");
});

Deno.test("kv bench --warmup runs its operations first and counts only --ops", async () => {
  await using cluster = await KvCluster.start(1);
  const common = ["-s", cluster.serverFile, "-n", "20", "--seed", "9", "--workload", "C"];
  const report = await bench([...common, "--warmup", "50", "--ops", "30", "--pipeline", "4"]);
  assert.deepEqual([report.warmup, report.operations], [50, 30]);
  assertConsistent(report);
  assert.deepEqual([report.errors, report.warnings, report.notFound], [0, 0, 0]);
  assert.equal(
    (await bench([...common, "--no-load", "--ops", "10"])).warmup,
    0,
    "none unless told",
  );
  const run = await runKv(
    withBrokerTimeout(["bench", ...common, "--no-load", "--ops", "10", "--warmup", "5"]),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^5 warm-up operations first, not counted$/m);
  assert.match(run.stdout, /^10 operations in /m);
});

Deno.test("kv bench --warmup with --duration and --rate: the duration counts from the end of the warm-up, and only the measured operations are counted", async () => {
  await using cluster = await KvCluster.start(1);
  const common = ["-s", cluster.serverFile, "-n", "20", "--seed", "3", "--workload", "A"];
  // At 1000 a second the warm-up lasts 1.5 s at least, longer than the measured second: a
  // duration counted from the warm-up's start would leave no measured operation, and
  // warm-up operations counted would be more than the 1000 a second's schedule holds.
  const rate = ["--rate", "1000", "--warmup", "1500", "--duration", "1"];
  const report = await bench([...common, ...rate]);
  assert.equal(report.warmup, 1500);
  assert(report.operations > 0 && report.operations <= 1000, `${report.operations} operations`);
  assertConsistent(report);
  assert.equal(report.errors, 0);
});

Deno.test("kv bench --warmup's operations do run: the records its inserts add are on the server, beyond those the measured inserts add", async () => {
  await using cluster = await KvCluster.start(1);
  const args = ["-s", cluster.serverFile, "-n", "20", "--seed", "3", "--workload", "D"];
  // Workload D inserts 5 % of its operations: some 20 of a warm-up of 400.
  const report = await bench([...args, "--warmup", "400", "--ops", "100"]);
  assertConsistent(report);
  const inserted = report.byOperation.insert?.count ?? 0;
  const client = await connectClient(cluster.servers[0].address);
  try {
    const { recordCount } = await client.stats();
    assert(recordCount > 20 + inserted, `${recordCount} records, ${inserted} measured inserts`);
  } finally {
    await client.close();
  }
});

Deno.test("kv bench writes only keys under bench-person, leaving a user's person records as they were; --clean-up deletes its own and no other, not even a user's key that shares its prefix", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  // kv gen's, the quick start's and kv demo's keys, which an earlier bench overwrote.
  const mary = { name: "Mary", age: 22 };
  // A user's keys are a user's even when they start like the bench's own.
  const userKeys = [
    "bench-person-config",
    "bench-person007",
    "bench-personal-notes",
    "person0",
    "person1",
    "person20",
  ];
  for (const key of userKeys) await kv.put(key, mary);
  const keysNow = async () => (await kv.keys({ limit: MAX_KEYS_LIMIT })).keys;
  // Workload D inserts past the 20 loaded: person20 would be its first insert's key.
  const args = ["-s", cluster.serverFile, "-n", "20", "--seed", "5", "--workload", "D"];
  const report = await bench([...args, "--ops", "200"]);
  const inserted = report.byOperation.insert?.count ?? 0;
  assert(inserted > 0, "workload D inserted");
  for (const key of userKeys) assert.deepEqual((await kv.get(key)).value, mary, key);
  const written = (await keysNow()).filter((key) => !userKeys.includes(key));
  assert(written.every((key) => key.startsWith(BENCH_KEY_PREFIX)), written.join());
  assert.equal(written.length, 20 + inserted, "the records stay after the run");
  const cleanUp = await runKv(
    withBrokerTimeout([
      "bench",
      ...args,
      "--no-load",
      "--workload",
      "C",
      "--ops",
      "1",
      "--clean-up",
    ]),
  );
  assert.equal(cleanUp.code, 0, cleanUp.stderr);
  assert.match(cleanUp.stderr, new RegExp(`--clean-up deleted ${written.length} records`));
  assert.deepEqual(await keysNow(), userKeys);
});

Deno.test("kv bench --values bytes reads every record as bytes and says so", async () => {
  await using cluster = await KvCluster.start(2);
  const common = ["-s", cluster.serverFile, "-k", "2", "-n", "20", "--seed", "5"];
  for (const workload of ["C", "F"]) {
    const report = await bench([
      ...common,
      ...["--workload", workload, "--ops", "200", "--pipeline", "4", "--values", "bytes"],
    ]);
    assert.equal(report.values, "bytes");
    assert.equal(report.operations, 200);
    assertConsistent(report);
    assert.deepEqual([report.errors, report.warnings, report.notFound], [0, 0, 0], workload);
  }
  const run = await runKv(
    withBrokerTimeout([...["bench", ...common, "--no-load", "--ops", "10"], "--values", "bytes"]),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^values read as bytes, never decoded/m);
});

Deno.test("kv bench prints a table with every operation kind that ran", async () => {
  await using cluster = await KvCluster.start(1);
  const run = await runKv(
    withBrokerTimeout([
      "bench",
      "-s",
      cluster.serverFile,
      "-n",
      "10",
      "--ops",
      "30",
      "--workload",
      "F",
    ]),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^kv bench: workload F \(read-modify-write/);
  assert.match(run.stdout, /closed loop/);
  assert.match(run.stdout, /^values read as plain objects \(Kv\.get\)$/m);
  assert.match(run.stdout, /^30 operations in /m);
  assert.match(
    run.stdout,
    /^kv bench's own CPU: [\d.]+ s \(user and system; [\d.]+ µs per operation\)$/m,
  );
  assert.match(run.stdout, /^read +\d+/m);
  assert.match(run.stdout, /^read-modify-write +\d+/m);
});

Deno.test("kv bench refuses bad flags with one line and exit 2", async () => {
  const cases: RefusalCase[] = ([
    [[], /^kv bench: -s serverFile is required/],
    [["-s", "x", "--workload", "G"], /^kv bench: --workload must be one of A to F, got 'G'/],
    [["-s", "x", "--ops", "5", "--duration", "1"], /^kv bench: give --ops or --duration, not both/],
    [["-s", "x", "--pipeline", "0"], /^kv bench: --pipeline must be a whole number from 1/],
    [["-s", "x", "--values", "json"], /^kv bench: --values must be objects or bytes, got 'json'/],
    [
      ["-s", "x", "--distribution", "normal"],
      /^kv bench: --distribution must be zipfian or uniform/,
    ],
    [["-s", "/nonexistent/servers.txt"], /^kv bench: .*servers\.txt/],
    // The original project's server file lists 4 servers: refused before connecting.
    [
      ["-s", new URL("../../serverFile.txt", import.meta.url).pathname, "-k", "5"],
      /^kv bench: -k 5 needs at least 5 servers, but \S*serverFile\.txt lists 4$/m,
    ],
  ] as const).map(([args, pattern]) => [["bench", ...args], pattern]);
  // In process: a UserError is the one line kv prints before it exits 2 (lib/cli/run.ts), as
  // the real process below shows for one case; a process a case was 8 kv bench starts.
  await assertRefusedInOneLine(cases);
  const [args] = cases[1];
  const run = await runKv([...args]);
  assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `${await refusalOf(args)}\n`]);
});

/**
 * Runs `body` with a server file listing one running server, then `127.0.0.1` on a port
 * nobody listens on (`closed`): a cluster of two with one down.
 */
async function withOneServerDown(
  body: (servers: string, closed: number) => Promise<void>,
): Promise<void> {
  await using cluster = await KvCluster.start(1);
  await withTempDir(async (dir) => {
    const [closed] = closedPorts(1);
    const servers = `${dir}/servers`;
    await Deno.writeTextFile(
      servers,
      `${await Deno.readTextFile(cluster.serverFile)}127.0.0.1 ${closed}\n`,
    );
    await body(servers, closed);
  });
}

Deno.test("kv bench refuses, with one line and exit 3, a cluster with fewer than k servers up", async () => {
  await withOneServerDown(async (servers, closed) => {
    for (const extra of [[], ["--no-load"]]) {
      // A wide timeout: under load the one server up may take more than the default 1 s,
      // and then reads as a second one down.
      const run = await runKv(
        withBrokerTimeout(["bench", "-s", servers, "-k", "2", "--ops", "5", ...extra]),
      );
      assert.equal(run.code, 3, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`^kv bench: 1 of 2 servers up, fewer than k=2 \\(127\\.0\\.0\\.1:${closed}: `),
      );
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.equal(run.stdout, "");
    }
  });
});

Deno.test("kv bench with k servers up and some down runs, and says first that its figures are of those up", async () => {
  await withOneServerDown(async (servers, closed) => {
    const run = await runKv(
      withBrokerTimeout(["bench", "-s", servers, "-k", "1", "-n", "5", "--ops", "5"]),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^kv bench: 1 of 2 servers down \\(127\\.0\\.0\\.1:${closed}: [^\\n]*\\): the figures ` +
          "are of the 1 up\n",
      ),
    );
    assert.match(run.stdout, /^5 operations in /m);
  });
});

Deno.test("kv bench --auth-file (or KV_AUTH_FILE) loads and measures a server that requires auth; without it the bench refuses in one line", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    await using server = await startServerProcess(["--auth-file", authFile]);
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${server.port}\n`);
    const common = ["-s", `${dir}/servers`, "-n", "20", "--seed", "5", "--timeout-ms", "20000"];
    const report = await bench([...common, "--auth-file", authFile, "--ops", "50"]);
    assert.deepEqual([report.operations, report.errors, report.notFound], [50, 0, 0]);
    assertConsistent(report);
    const fromEnv = await runKv(["bench", "--json", ...common, "--no-load", "--ops", "20"], {
      env: { KV_AUTH_FILE: authFile },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(JSON.parse(fromEnv.stdout).notFound, 0, "the records loaded before are there");
    // Without the secret the server serves nothing: the bench says so and measures nothing.
    const stranger = await runKv(["bench", "--json", ...common, "--ops", "20"]);
    assert.equal(stranger.code, 2, stranger.stderr);
    assert.match(stranger.stderr, /^kv bench: 127\.0\.0\.1:\d+ requires authentication and no/);
    assert.equal(stranger.stderr.trim().split("\n").length, 1, stranger.stderr);
    assert.equal(stranger.stdout, "");
    const zero = await runKv(["bench", ...common, "--tls-ca", "/dev/zero"]);
    assert.deepEqual([zero.code, zero.stderr], [
      2,
      "kv bench: /dev/zero: cannot read the certificate file: it is a character device, not a " +
      "regular file\n",
    ]);
    assert.equal((await stopWithin(server)).code, 0);
  });
});

/**
 * Starts `kv bench` with `flags` on a one-server cluster (ten records, workload D's inserts
 * at 200 a second for up to ten minutes), sends `signal` once the measured run is going,
 * and resolves its exit.
 */
async function benchStoppedBy(
  cluster: KvCluster,
  signal: Deno.Signal,
  flags: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { child, output } = await benchPastFirstInsert(
    cluster,
    [...flags, "--duration", "600", "--rate", "200"],
    signal,
  );
  child.kill(signal);
  const { code, stdout, stderr } = await output;
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Starts `kv bench --workload D` over the ten records it loads into `cluster`, with `flags`, and
 * resolves once the measured run has inserted a record, with the child and its output, awaited
 * within a deadline that names `signal`, the one the caller will stop it with.
 */
async function benchPastFirstInsert(
  cluster: KvCluster,
  flags: string[],
  signal: Deno.Signal,
): Promise<{ child: Deno.ChildProcess; output: ReturnType<typeof outputWithin> }> {
  const child = new Deno.Command(TEST_KV.command, {
    args: [
      ...TEST_KV.args,
      ...withBrokerTimeout(["bench", ...flags, "-s", cluster.serverFile, "-n", "10"]),
      ...["--workload", "D", "--seed", "1"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = outputWithin(child, { what: `kv bench to exit after ${signal}` });
  const client = await connectClient(cluster.servers[0].address);
  try {
    // Workload D inserts bench-person10, bench-person11…: a record past the ten loaded means the
    // measured run is going (there is no warm-up).
    await waitFor(async () => (await client.stats()).recordCount > 10, {
      what: "the measured run's first insert",
    });
  } finally {
    await client.close();
  }
  return { child, output };
}

Deno.test("kv bench --json stopped with SIGINT mid-run prints one JSON report of what it measured, interrupted: true, and exits 130", async () => {
  await using cluster = await KvCluster.start(1);
  const { code, stdout, stderr } = await benchStoppedBy(cluster, "SIGINT", ["--json"]);
  assert.equal(code, 130, stderr);
  assert.equal(stdout.trim().split("\n").length, 1, stdout);
  const report: BenchReport = JSON.parse(stdout);
  assert.equal(report.interrupted, true);
  assert(report.operations > 0, stdout);
  assert((report.byOperation.insert?.count ?? 0) > 0, stdout);
  assertConsistent(report);
});

Deno.test("kv bench stopped by SIGTERM (as timeout(1) sends it) reports what it measured, naming SIGTERM, and exits 143", async () => {
  await using cluster = await KvCluster.start(1);
  const { code, stdout, stderr } = await benchStoppedBy(cluster, "SIGTERM");
  assert.equal(code, 143, stderr);
  assert.match(
    stdout,
    /^interrupted \(SIGTERM\): the figures are of the operations run until then/m,
  );
  assert.match(stdout, /^[1-9]\d* operations in [\d.]+ s: /m);
});

Deno.test("kv bench whose servers all died mid-run stops on SIGTERM, reporting the operations that found no server as errors, not as reads that found nothing", async () => {
  await using cluster = await KvCluster.start(1);
  // Closed loop (no --rate) and more operations than it could run in hours: only the
  // signal can end it.
  const { child, output } = await benchPastFirstInsert(
    cluster,
    ["--json", "--ops", "1000000000"],
    "SIGTERM",
  );
  // Every operation from now on fails at once, without waiting on a socket.
  await cluster.servers[0].kill();
  child.kill("SIGTERM");
  const { code, stdout, stderr } = await output;
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 143, new TextDecoder().decode(stderr));
  const report: BenchReport = JSON.parse(text);
  assert.equal(report.interrupted, true);
  assert(report.errors > 0, text);
  // Workload D reads only records it loaded or saw inserted: none is missing, and a read no
  // server answered is an error, not a NOT FOUND with a warning.
  assert.deepEqual([report.notFound, report.warnings], [0, 0], text);
  assertConsistent(report);
});

Deno.test("kv bench says what its errors were: each operation kind's first error, in the table's notes and in --json (S35 F11)", async () => {
  await using cluster = await KvCluster.start(2);
  const flags = ["-s", cluster.serverFile, "-k", "1", "-n", "20", "--distribution", "uniform"];
  // A seed of few digits: bench() holds every number of the report to 6 significant digits.
  flags.push("--seed", "7");
  const load = await runKv(withBrokerTimeout(["bench", ...flags, "--ops", "1"]));
  assert.equal(load.code, 0, load.stderr);
  // k = 1: the reads of the half of the keys the killed server held fail.
  await cluster.servers[1].kill();
  const measure = [...flags, "--no-load", "--workload", "C", "--ops", "40"];
  const run = await runKv(withBrokerTimeout(["bench", ...measure]));
  assert.equal(run.code, 0, run.stderr);
  const errors = /^read +40 .* (\d+) errors$/m.exec(run.stdout);
  assert.ok(errors !== null, run.stdout);
  // It counted them, and said nothing of what they were.
  assert.match(
    run.stdout,
    new RegExp(`^read: the first of ${errors[1]} errors: .*bench-person\\d+.*\\S$`, "m"),
  );
  const report = await bench(measure);
  const read = report.byOperation.read!;
  assert.ok(read.errors > 0, JSON.stringify(read));
  assert.match(read.firstError ?? "", /bench-person\d+/);
});

Deno.test("kv bench shows no latency for an operation kind none of whose operations succeeded, not 0.000 ms (S35 F14)", async () => {
  await using cluster = await KvCluster.start(2);
  const flags = ["-s", cluster.serverFile, "-k", "1", "-n", "1", "--seed", "7"];
  const load = await runKv(withBrokerTimeout(["bench", ...flags, "--ops", "1"]));
  assert.equal(load.code, 0, load.stderr);
  // k = 1: the one record is on one server; killed, every read of it fails.
  const listed = JSON.parse((await runKv(["servers", "-s", cluster.serverFile, "--json"])).stdout);
  const home = listed.servers.findIndex((server: { records: number }) => server.records === 1);
  assert.ok(home >= 0, JSON.stringify(listed));
  await cluster.servers[home].kill();
  const run = await runKv(
    withBrokerTimeout(["bench", ...flags, "--no-load", "--workload", "C", "--ops", "5"]),
  );
  assert.equal(run.code, 0, run.stderr);
  // It showed `read 5 … 0.000 0.000 …`: the fastest reads, for reads that all failed.
  assert.match(run.stdout, /^read +5 +\d+ +- +- +- +- +- +- +5 errors$/m);
});

Deno.test("kv bench --duration takes a unit, 1s or 2m, as kv server's --tombstone-grace does; a bad one says the unit is seconds (S35 F18)", async () => {
  // It refused `--duration 1s` ("must be a whole number from 1 to 86400"), wrk's `-d 10s`.
  const refused = await runKv(["bench", "-s", "x", "--duration", "10x"]);
  assert.deepEqual([refused.code, refused.stdout], [2, ""]);
  assert.equal(
    refused.stderr,
    "kv bench: --duration must be a whole number from 1 to 86400 (seconds), or one with s, m " +
      "or h (90s, 5m, 1h), got '10x'\n",
  );
  await using cluster = await KvCluster.start(1);
  const timed = await bench([
    ...["-s", cluster.serverFile, "-n", "5", "--seed", "3", "--workload", "C"],
    ...["--duration", "1s"],
  ]);
  assert.ok(timed.operations > 0, JSON.stringify(timed));
});
