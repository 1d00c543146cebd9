import assert from "node:assert/strict";
import { ServerClient } from "../../lib/client.ts";
import { int, str } from "../../lib/value.ts";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess } from "../helpers/server_process.ts";

Deno.test("kv server prints a parseable listening line and serves requests", async () => {
  const server = await startServerProcess();
  assert.match(
    server.stderrLines.at(-1)!,
    /^kv server listening on 127\.0\.0\.1:\d+ \(memory only, 0 records, recovered in \d+ ms\)$/,
  );
  assert.notEqual(server.address.port, 0);
  const client = await ServerClient.connect(server.address);
  assert.equal(await client.put("k", str("v")), "ok");
  assert.deepEqual(await client.get("k"), str("v"));
  await client.close();
  const exit = await server.stop("SIGTERM");
  assert.equal(exit.code, 0);
});

Deno.test("kv server exits 0 on SIGINT and keeps records in --data-dir across restarts", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const first = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    assert.match(first.stderrLines.at(-1)!, new RegExp(`\\(data: ${dataDir}, 0 records, `));
    const client = await ServerClient.connect(first.address);
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => client.put(`k${index}`, int(index))),
    );
    await client.close();
    assert.equal((await first.stop("SIGINT")).code, 0);
    const second = await startServerProcess(["--data-dir", dataDir]);
    assert.match(second.stderrLines.at(-1)!, /, 10 records, recovered in \d+ ms\)$/);
    const again = await ServerClient.connect(second.address);
    assert.deepEqual(await again.get("k7"), int(7));
    await again.close();
    assert.equal((await second.stop()).code, 0);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("kv server treats a SIGINT repeated at once (deno task and the shell both pass it) as one", async () => {
  const server = await startServerProcess();
  server.signal("SIGINT");
  const exit = await server.stop("SIGINT");
  assert.equal(exit.code, 0, exit.stderr);
  assert.doesNotMatch(exit.stderr, /again during shutdown/);
});

Deno.test("kv server on a port in use prints one line and exits 2", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { code, stderr } = await runKv(["server", "-p", String(listener.addr.port)]);
    assert.equal(code, 2);
    assert.equal(
      stderr,
      `kv server: cannot listen on 127.0.0.1:${listener.addr.port}: address already in use; pick another -p\n`,
    );
  } finally {
    listener.close();
  }
});

Deno.test("kv server on a data dir locked by another server prints one line and exits 2", async () => {
  const dataDir = await Deno.makeTempDir();
  const holder = await startServerProcess(["--data-dir", dataDir]);
  try {
    const { code, stderr } = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
    assert.equal(code, 2);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.match(stderr, /^kv server: data dir .* is in use by another kv server/);
  } finally {
    assert.equal((await holder.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("kv server refuses bad flags with one line and exit 2", async () => {
  for (
    const [args, pattern] of [
      [["-p", "70000"], /-p must be a whole number from 0 to 65535/],
      [
        ["--fsync", "sometimes", "--data-dir", "x"],
        /--fsync must be one of always, interval, never/,
      ],
      [["--fsync", "always"], /--fsync needs --data-dir/],
      [["--log-level", "loud"], /--log-level must be one of error, warn, info, debug/],
      [["--max-frame-bytes", "10"], /--max-frame-bytes must be a whole number/],
      [["--bogus"], /unknown option '--bogus'/],
    ] as const
  ) {
    const { code, stderr } = await runKv(["server", ...args]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, pattern);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  }
});

Deno.test("kv server refuses a data dir it cannot use with one line and exit 2, touching nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.mkdir(`${dir}/foreign-log`);
    await Deno.writeTextFile(`${dir}/foreign-log/log-0000000001.kvlog`, "hi\n");
    await Deno.mkdir(`${dir}/bad-snapshot`);
    await Deno.writeTextFile(`${dir}/bad-snapshot/snapshot-0000000001.kvsnap`, "garbage\n");
    for (
      const [dataDir, pattern] of [
        ["file", /--data-dir .*file exists but is not a directory/],
        ["foreign-log", /is not a kv storage log.*left untouched/],
        ["bad-snapshot", /is damaged or not a kv snapshot/],
      ] as const
    ) {
      const { code, stderr } = await runKv([
        "server",
        "-p",
        "0",
        "--data-dir",
        `${dir}/${dataDir}`,
      ]);
      assert.equal(code, 2, stderr);
      assert.match(stderr, pattern);
      assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    }
    assert.equal(await Deno.readTextFile(`${dir}/foreign-log/log-0000000001.kvlog`), "hi\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv server --help documents every flag with its default", async () => {
  const { code, stdout } = await runKv(["server", "--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--address",
      "--port",
      "--data-dir",
      "--fsync",
      "--max-connections",
      "--max-frame-bytes",
      "--idle-timeout-ms",
      "--log-level",
    ]
  ) {
    assert.ok(stdout.includes(flag), flag);
  }
  assert.match(stdout, /default 127\.0\.0\.1/);
  assert.match(stdout, /default 8000/);
  assert.match(stdout, /default interval/);
  assert.match(stdout, /default 1024/);
  assert.match(stdout, /default 16777216/);
  assert.match(stdout, /default 30000/);
  assert.match(stdout, /default info/);
});

Deno.test("kv server logs connections only at debug level", async () => {
  const server = await startServerProcess(["--log-level", "debug"]);
  const client = await ServerClient.connect(server.address);
  await client.ping();
  await client.close();
  const exit = await server.stop();
  assert.equal(exit.code, 0);
  assert.match(exit.stderr, /kv server debug: connection from 127\.0\.0\.1:\d+/);
  const quiet = await startServerProcess();
  const other = await ServerClient.connect(quiet.address);
  await other.ping();
  await other.close();
  const quietExit = await quiet.stop();
  assert.doesNotMatch(quietExit.stderr, /connection/);
});
