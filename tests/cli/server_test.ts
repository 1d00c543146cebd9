import assert from "node:assert/strict";
import { MAX_KEY_BYTES, MAX_KEYS_LIMIT, MAX_PATH_SEGMENTS } from "../../lib/limits.ts";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { decodeResponse } from "../../lib/protocol/messages.ts";
import { ErrorCode, MessageType, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { int, object, str } from "../../lib/record/value.ts";
import { RawConnection } from "../helpers/in_process_server.ts";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { connectClient } from "../helpers/client.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { kvArgs } from "../helpers/tmux.ts";
import { readLines } from "../../lib/base/line_reader.ts";
import { LISTENING_LINE } from "../../lib/cli/server_process.ts";
import { at } from "../helpers/versions.ts";
import { assertRefusedInOneLine, refusalOf } from "../helpers/refusals.ts";
import { withTempDir } from "../helpers/fixtures.ts";

Deno.test("kv server prints a parseable listening line and serves requests", async () => {
  await using server = await startServerProcess();
  assert.match(
    server.stderrLines.at(-1)!,
    /^kv server: listening on 127\.0\.0\.1:\d+ \(memory only, 0 records, recovered in \d+ ms, plain TCP, no auth\)$/,
  );
  assert.notEqual(server.address.port, 0);
  const client = await connectClient(server.address);
  assert.deepEqual(await client.put("k", str("v"), at()), { kind: "stored" });
  assert.deepEqual((await client.get("k")).value, str("v"));
  await client.close();
  const exit = await stopWithin(server, "SIGTERM");
  assert.equal(exit.code, 0);
});

Deno.test("kv server exits 0 on SIGINT and keeps records in --data-dir across restarts", async () => {
  await withTempDir(async (dataDir) => {
    await using first = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    assert.match(first.stderrLines.at(-1)!, new RegExp(`\\(data: ${dataDir}, 0 records, `));
    const client = await connectClient(first.address);
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => client.put(`k${index}`, int(index), at())),
    );
    await client.close();
    assert.equal((await stopWithin(first, "SIGINT")).code, 0);
    await using second = await startServerProcess(["--data-dir", dataDir]);
    assert.match(
      second.stderrLines.at(-1)!,
      /, 10 records, recovered in \d+ ms, plain TCP, no auth\)$/,
    );
    const again = await connectClient(second.address);
    assert.deepEqual((await again.get("k7")).value, int(7));
    await again.close();
    assert.equal((await stopWithin(second)).code, 0);
  });
});

Deno.test("kv server --mark-unrepaired starts a data dir marked repaired unrepaired, k kept, until a repair marks it again", async () => {
  const dataDir = await Deno.makeTempDir();
  const list = new Uint8Array(16).fill(7);
  /** The node state a fresh connection's HELLO tells, and the record k0 the dir holds. */
  const told = async (server: { address: { hostname: string; port: number } }) => {
    const client = await connectClient(server.address);
    try {
      return { ...client.state, k0: (await client.get("k0")).value };
    } finally {
      await client.close();
    }
  };
  try {
    await using first = await startServerProcess(["--data-dir", dataDir]);
    const client = await connectClient(first.address);
    await client.setK(2);
    await client.put("k0", int(0), at());
    await client.markRepaired(list, client.state.repairedUnder);
    await client.close();
    assert.deepEqual(await told(first), {
      unrepaired: false,
      k: 2,
      repairedUnder: list,
      k0: int(0),
    });
    assert.equal((await stopWithin(first)).code, 0);
    // The dir is a backup put back: the operator says so, and the server is not trusted.
    await using restored = await startServerProcess(["--data-dir", dataDir, "--mark-unrepaired"]);
    assert(
      restored.stderrLines.some((line) =>
        line.includes("started unrepaired, as --mark-unrepaired asks")
      ),
    );
    const unrepaired = { unrepaired: true, k: 2, repairedUnder: new Uint8Array(16), k0: int(0) };
    assert.deepEqual(await told(restored), unrepaired);
    assert.equal((await stopWithin(restored)).code, 0);
    // Restarted without the flag it stays unrepaired: the mark is on disk.
    await using again = await startServerProcess(["--data-dir", dataDir]);
    assert.deepEqual(await told(again), unrepaired);
    const repairer = await connectClient(again.address);
    await repairer.markRepaired(list, repairer.state.repairedUnder);
    await repairer.close();
    assert.equal((await stopWithin(again)).code, 0);
    await using repaired = await startServerProcess(["--data-dir", dataDir]);
    assert.deepEqual(await told(repaired), {
      unrepaired: false,
      k: 2,
      repairedUnder: list,
      k0: int(0),
    });
    assert.equal((await stopWithin(repaired)).code, 0);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("kv server --stop-on-stdin-close stops cleanly, as on SIGTERM, once its stdin ends", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const [command, ...args] = kvArgs(
      "server",
      "-p",
      "0",
      "--data-dir",
      dataDir,
      "--fsync",
      "never",
    );
    await using child = new Deno.Command(command, {
      args: [...args, "--stop-on-stdin-close"],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines = readLines(child.stderr)[Symbol.asyncIterator]();
    const nextLine = async () => {
      const line = await withDeadline(lines.next(), { what: "kv server to log" });
      return line.done ? undefined : line.value.text;
    };
    const listening = LISTENING_LINE.exec(await nextLine() ?? "");
    assert(listening, "the listening line");
    const client = await connectClient({ hostname: "127.0.0.1", port: Number(listening[3]) });
    assert.deepEqual(await client.put("k", int(1), at()), { kind: "stored" });
    await client.close();
    // Written to, the server goes on: only the end of its stdin stops it.
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("anything\n"));
    const still = await connectClient({ hostname: "127.0.0.1", port: Number(listening[3]) });
    await still.ping();
    await still.close();
    await writer.close();
    assert.equal(await nextLine(), "kv server: stdin closed: shutting down");
    assert.match(await nextLine() ?? "", /^kv server: stopped \(1 record/);
    assert.equal(await nextLine(), undefined);
    const status = await withDeadline(child.status, { what: "kv server to exit" });
    assert.equal(status.code, 0);
    // With --fsync never the record reached the disk only by the clean shutdown's flush.
    await using again = await startServerProcess(["--data-dir", dataDir]);
    assert.match(again.stderrLines.at(-1)!, /, 1 record, /);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("kv server --stop-on-stdin-close refuses a stdin that is no pipe: /dev/null or a file ends at once", async () => {
  // A background job's stdin in a script is /dev/null: the server would stop as it started.
  const fromNull = await runKv(["server", "-p", "0", "--stop-on-stdin-close"]);
  assert.equal(fromNull.code, 2);
  assert.equal(
    fromNull.stderr,
    "kv server: --stop-on-stdin-close needs stdin to be a pipe a supervisor holds open; " +
      "stdin is a device such as /dev/null, which ends at once\n",
  );
  const file = await Deno.makeTempFile();
  try {
    const [command, ...args] = kvArgs("server", "-p", "0", "--stop-on-stdin-close");
    const fromFile = await withDeadline(
      new Deno.Command("sh", {
        args: ["-c", '"$@" < "$0"', file, command, ...args],
        stdout: "null",
        stderr: "piped",
      }).output(),
      { what: "kv server to refuse its stdin" },
    );
    assert.equal(fromFile.code, 2);
    assert.match(
      new TextDecoder().decode(fromFile.stderr),
      /stdin is a file, which ends at once\n$/,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("kv server treats a SIGINT repeated at once (deno task and the shell both pass it) as one", async () => {
  await using server = await startServerProcess();
  server.signal("SIGINT");
  const exit = await stopWithin(server, "SIGINT");
  assert.equal(exit.code, 0, exit.stderr);
  assert.doesNotMatch(exit.stderr, /again during shutdown/);
});

Deno.test("kv server on a port in use prints one line and exits 2, its --data-dir not made", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const parent = await Deno.makeTempDir();
  try {
    const port = String(listener.addr.port);
    const { code, stderr } = await runKv(["server", "-p", port, "--data-dir", `${parent}/d`]);
    assert.equal(code, 2);
    assert.equal(
      stderr,
      `kv server: cannot listen on 127.0.0.1:${listener.addr.port}: address already in use; pick another -p\n`,
    );
    // The port is checked first: a start refused it leaves no dir (nor a run on another's).
    assert.deepEqual(await Array.fromAsync(Deno.readDir(parent)), []);
  } finally {
    listener.close();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("kv server on a data dir locked by another server prints one line and exits 2", async () => {
  const dataDir = await Deno.makeTempDir();
  await using holder = await startServerProcess(["--data-dir", dataDir]);
  try {
    const { code, stderr } = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
    assert.equal(code, 2);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.match(stderr, /^kv server: data dir .* is in use by another kv server/);
  } finally {
    assert.equal((await stopWithin(holder)).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("kv server given the data dir and the port of a running server names the dir in use and its pid, not the port; a free dir with the port taken is the port's line, the dir left as it was", async () => {
  const dataDir = await Deno.makeTempDir();
  const freeDir = await Deno.makeTempDir();
  await using holder = await startServerProcess(["--data-dir", dataDir]);
  try {
    const port = String(holder.port);
    const twice = await runKv(["server", "-p", port, "--data-dir", dataDir]);
    assert.deepEqual([twice.code, twice.stderr], [
      2,
      `kv server: data dir ${dataDir} is in use by another kv server (pid ${holder.pid}); ` +
      "stop it or give this server its own --data-dir\n",
    ]);
    const portOnly = await runKv(["server", "-p", port, "--data-dir", freeDir]);
    assert.deepEqual([portOnly.code, portOnly.stderr], [
      2,
      `kv server: cannot listen on 127.0.0.1:${port}: address already in use; pick another -p\n`,
    ]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(freeDir)), [], "no LOCK made");
  } finally {
    assert.equal((await stopWithin(holder)).code, 0);
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(freeDir, { recursive: true });
  }
});

// In process, each case: a UserError is the one line kv prints before it exits 2
// (lib/cli/run.ts), as the real process of the first case shows; a process a case was
// eight process starts for checks of text.
Deno.test("kv server refuses bad flags with one line and exit 2", async () => {
  const cases = [
    [["server", "-p", "70000"], /-p must be a whole number from 0 to 65535/],
    [
      ["server", "--fsync", "sometimes", "--data-dir", "x"],
      /--fsync must be one of always, interval, never/,
    ],
    [["server", "--fsync", "always"], /--fsync needs --data-dir/],
    [["server", "--compact-log-mib", "8"], /--compact-log-mib needs --data-dir/],
    [["server", "--mark-unrepaired"], /--mark-unrepaired needs --data-dir/],
    [["server", "--keep-stale-data"], /--keep-stale-data needs --data-dir/],
    [["server", "--log-level", "loud"], /--log-level must be one of error, warn, info, debug/],
    [["server", "--max-frame-bytes", "10"], /--max-frame-bytes must be a whole number/],
    [["server", "--tombstone-grace", "1y"], /--tombstone-grace must be a whole number of seconds/],
    [["server", "--tombstone-grace", "3651d"], /at most 3650 days, got '3651d'/],
    [["server", "--tombstone-grace", "0"], /at least 1 s and at most 3650 days, got '0'/],
    [["server", "--tombstone-grace", "0d"], /at least 1 s and at most 3650 days, got '0d'/],
    [["server", "--bogus"], /unknown option '--bogus'/],
  ] as const;
  await assertRefusedInOneLine(cases);
  const [args] = cases[0];
  const { code, stderr } = await runKv([...args]);
  assert.equal(code, 2, stderr);
  assert.equal(stderr, `${await refusalOf(args)}\n`);
});

Deno.test("kv server refuses a data dir it cannot use with one line and exit 2, touching nothing", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.mkdir(`${dir}/foreign-log`);
    await Deno.writeTextFile(`${dir}/foreign-log/log-0000000001.kvlog`, "hi\n");
    await Deno.mkdir(`${dir}/bad-snapshot`);
    await Deno.writeTextFile(`${dir}/bad-snapshot/snapshot-0000000001.kvsnap`, "garbage\n");
    for (
      const [dataDir, pattern] of [
        ["file", /--data-dir .*file exists but is not a directory/],
        // Under a file: it said "file/data exists but is not a directory", which does not exist.
        [
          "file/data",
          /^kv server: --data-dir \S+file\/data: \S+\/file is a file, not a directory; name a directory$/m,
        ],
        [
          "foreign-log",
          /is not a kv storage log.*left untouched: move it out of the data directory if it does not belong there$/m,
        ],
        [
          "bad-snapshot",
          /is damaged or not a kv snapshot: .*; restore the file or move the data dir aside$/m,
        ],
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
  });
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

Deno.test("kv server --log-timestamps starts every log line with the time in UTC, ISO 8601", async () => {
  const before = Date.now();
  await using server = await startServerProcess(["--log-timestamps", "--log-level", "debug"]);
  const client = await connectClient(server.address);
  await client.ping();
  await client.close();
  const exit = await stopWithin(server);
  assert.equal(exit.code, 0);
  const lines = exit.stderr.trimEnd().split("\n");
  // listening, a connection opened and closed, shutting down, stopped.
  assert.ok(lines.length >= 4, exit.stderr);
  for (const line of lines) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) kv server( debug)?: /.exec(line);
    assert.ok(match, line);
    const time = Date.parse(match[1]);
    assert.ok(time >= before - 1000 && time <= Date.now() + 1000, line);
  }
});

Deno.test("kv server logs connections only at debug level", async () => {
  await using server = await startServerProcess(["--log-level", "debug"]);
  const client = await connectClient(server.address);
  await client.ping();
  await client.close();
  const exit = await stopWithin(server);
  assert.equal(exit.code, 0);
  assert.match(exit.stderr, /kv server debug: connection from 127\.0\.0\.1:\d+/);
  await using quiet = await startServerProcess();
  const other = await connectClient(quiet.address);
  await other.ping();
  await other.close();
  const quietExit = await stopWithin(quiet);
  assert.doesNotMatch(quietExit.stderr, /connection/);
});

/**
 * A connection the server has accepted (answered its HELLO): the server notices closed
 * connections only when it next reads them, so right after a close it may still count
 * them and answer BUSY. Tries again until it does not.
 */
async function openWhenNotBusy(
  address: { hostname: string; port: number },
): Promise<RawConnection> {
  let accepted: RawConnection | undefined;
  await waitFor(async () => {
    const connection = await RawConnection.open(address, { hello: false });
    const frames = new FrameWriter();
    frames.hello(0, PROTOCOL_VERSION);
    await connection.write(frames.bytes());
    const answer = (await connection.readFrame())!;
    if (answer.type === MessageType.OK) {
      accepted = connection;
      return true;
    }
    const refusal = decodeResponse(answer);
    assert.ok(refusal.type === "error" && refusal.code === ErrorCode.BUSY, JSON.stringify(refusal));
    assert.equal(await connection.readFrame(), undefined);
    connection.close();
    return false;
  }, { what: "the server to accept a connection rather than answer BUSY" });
  return accepted!;
}

Deno.test("a kv server process answers every request type and enforces every limit", async () => {
  await using server = await startServerProcess([
    "--max-frame-bytes",
    "65536",
    "--max-connections",
    "2",
    // Long enough that no step of this test on a loaded machine outlasts it (the client
    // pings); the stalled connection at the end waits for it once.
    "--idle-timeout-ms",
    "3000",
  ]);
  try {
    // Every request type (HELLO is the client's connect).
    const client = await connectClient(server.address);
    assert.equal(client.maxFrameBytes, 65536);
    assert.ok(await client.ping() >= 0);
    const person = object([["name", str("Mary")], ["address", object([["street", str("Main")]])]]);
    assert.deepEqual(await client.put("person1", person, at()), { kind: "stored" });
    assert.deepEqual(await client.put("person1", int(1), at(at({ overwrite: false }))), {
      kind: "exists",
    });
    assert.deepEqual(await client.put("person10", int(10), at()), { kind: "stored" });
    assert.deepEqual((await client.get("person1")).value, person);
    assert.deepEqual((await client.query(["person1", "address", "street"])).value, str("Main"));
    assert.equal((await client.query(["person1", "name", "x"])).value, undefined);
    assert.deepEqual(await client.keys({ prefix: "person", limit: 10 }), ["person1", "person10"]);
    const deletion = await client.delete("person1", at());
    assert.equal(deletion.kind === "deleted" && deletion.existed, true);
    assert.equal((await client.get("person1")).value, undefined);
    assert.equal((await client.stats()).recordCount, 1);

    // Limits answered with ERROR, the connection carrying on.
    const limits = await RawConnection.open(server.address);
    const frames = new FrameWriter();
    frames.get(1, "k".repeat(MAX_KEY_BYTES + 1));
    frames.query(2, Array(MAX_PATH_SEGMENTS + 1).fill("a"));
    frames.keys(3, { limit: MAX_KEYS_LIMIT + 1 });
    frames.ping(4);
    await limits.write(frames.bytes());
    for (const id of [1, 2, 3]) {
      const answer = decodeResponse((await limits.readFrame())!);
      assert.ok(answer.type === "error" && answer.code === ErrorCode.LIMIT, `request ${id}`);
    }
    assert.equal(decodeResponse((await limits.readFrame())!).type, "ok");

    // A third connection is one too many: BUSY, then closed.
    const third = await RawConnection.open(server.address, { hello: false });
    const busy = decodeResponse((await third.readFrame())!);
    assert.ok(busy.type === "error" && busy.code === ErrorCode.BUSY);
    assert.equal(await third.readFrame(), undefined);
    limits.close();
    await client.close();

    // An oversized frame: TOO_LARGE, and only that connection closes.
    const large = await openWhenNotBusy(server.address);
    const header = new ByteWriter();
    header.u32(65537);
    header.u8(MessageType.PUT);
    header.u32(9);
    await large.write(header.bytes());
    const tooLarge = decodeResponse((await large.readFrame())!);
    assert.ok(tooLarge.type === "error" && tooLarge.code === ErrorCode.TOO_LARGE);
    assert.equal(await large.readFrame(), undefined);

    // A client stalled mid-frame is closed after the idle timeout.
    const stalled = await openWhenNotBusy(server.address);
    await stalled.write(Uint8Array.of(0, 0, 0));
    const idle = decodeResponse((await stalled.readFrame())!);
    assert.ok(idle.type === "error" && idle.code === ErrorCode.IDLE_TIMEOUT);
    assert.equal(await stalled.readFrame(), undefined);
  } finally {
    assert.equal((await stopWithin(server)).code, 0);
  }
});

Deno.test("kv server stops on SIGTERM though a client never reads its answers", async () => {
  // Without the shutdown's grace for unread answers, this server would wait out its idle
  // timeout (ten minutes here) before exiting: the deadline of stopWithin fails that.
  await using server = await startServerProcess(["--idle-timeout-ms", "600000"]);
  const client = await connectClient(server.address);
  await client.put("big", str("x".repeat(1024 * 1024)), at());
  await client.close();
  const reader = await RawConnection.open(server.address);
  const frames = new FrameWriter();
  // 64 MiB of answers: far more than the socket buffers hold, so the server's write blocks.
  for (let id = 1; id <= 64; id++) frames.get(id, "big");
  await reader.write(frames.bytes());
  const exit = await stopWithin(server);
  assert.equal(exit.code, 0);
  assert.match(server.stderrLines.at(-1)!, /^kv server: stopped \(1 record\)$/);
  reader.close();
});
