// A server file line giving an HTTP server's address (kv http's port, say) is the user's
// mistake, as credentials every server refuses are: with no server usable, one line naming
// the line, exit 2 — not a server to start and retry (exit 3); among servers that answer,
// the line is named as no kv server, not as down. So is any other server whose first bytes no
// kv server sends (lib/protocol/stranger.ts), named by them where they are a common one's;
// a kv server that sent nothing yet, or a first byte of 0, is never judged so. A kv server of
// another protocol version (an older or newer kv, ERROR UNSUPPORTED_VERSION) is refused alike:
// restarting it cannot mend the mismatch, upgrading the older of the two does.
import assert from "node:assert/strict";
import { BROKER_TIMEOUT_MS, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { startServerProcess } from "../helpers/server_process.ts";
import { serverTlsFlags, tlsTest } from "../helpers/tls_certs.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { CLIENT_COMMANDS, newAuthFile, runKv } from "../helpers/run_kv.ts";
import { closedPorts, listenLoopback, withTempDir } from "../helpers/fixtures.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import {
  ErrorCode,
  type ErrorCodeNumber,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_SHOWN_MESSAGE_CHARACTERS,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";
import { connect, KvInputError } from "../../mod.ts";
import { CredentialsRefusedError } from "../../lib/broker/server_pool.ts";
import { writeAll } from "../../lib/base/bytes.ts";

Deno.test("a server file naming kv http's port is one line naming its file:line:col, exit 2, for kv get, put, keys, servers, broker, repair, bench and http", async () => {
  await using served = await HttpProcess.onCluster(1, ["-k", "1"]);
  const web = new URL(served.http.url).host;
  await withTempDir(async (dir) => {
    const file = `${dir}/web.txt`;
    await Deno.writeTextFile(file, `# kv http's port by mistake\n${web}\n`);
    for (const [command, ...args] of CLIENT_COMMANDS) {
      const run = await runKv(withBrokerTimeout([command, "-s", file, ...args]), { stdin: "" });
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      assert.equal(
        run.stderr,
        `kv ${command}: ${file}:2:1: ${web} is no kv server (it answered in HTTP; kv http's ` +
          "port?); list the kv servers' own addresses in the server file\n",
      );
      assert.equal(run.stdout, "");
    }
  });
});

Deno.test("a server file naming kv http's port among kv servers that answer names that line as no kv server, not as down, and kv servers exits 0", async () => {
  await using served = await HttpProcess.onCluster(1, ["-k", "1"]);
  const web = new URL(served.http.url).host;
  const kvServer = served.cluster.servers[0].address;
  await withTempDir(async (dir) => {
    const file = `${dir}/mixed.txt`;
    await Deno.writeTextFile(file, `${kvServer.hostname} ${kvServer.port}\n${web}\n`);
    const run = await runKv(withBrokerTimeout(["servers", "-s", file]), { stdin: "" });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.match(lines[0], /^127\.0\.0\.1:\d+ +up /);
    assert.equal(
      lines[1],
      `${web}  REFUSED  is no kv server (it answered in HTTP; kv http's port?); list the kv ` +
        "servers' own addresses in the server file",
    );
  });
});

/**
 * How a stranger at a kv address behaves: `bytes`, written as soon as it accepts the
 * connection (`"greets"`, as SSH and SMTP servers do) or once the client's HELLO came
 * (`"answers"`), then the connection held open or closed.
 */
interface Banner {
  readonly bytes: Uint8Array;
  readonly when: "greets" | "answers";
  readonly then: "holds" | "closes";
}

/** Runs `body` with the port of a listener that behaves as `banner` says on each connection. */
async function withStranger(banner: Banner, body: (port: number) => Promise<void>) {
  const listener = listenLoopback(async (conn) => {
    try {
      if (banner.when === "answers") await conn.read(new Uint8Array(4096));
      await conn.write(banner.bytes);
      if (banner.then === "closes") conn.close();
    } catch {
      // The client hung up first.
    }
  });
  try {
    await body(listener.port);
  } finally {
    await listener.stop();
  }
}

const text = (line: string) => new TextEncoder().encode(line);

Deno.test("a server file line where Redis, SSH, an SMTP server, a MySQL-like server or any first byte kv never sends answers is one line naming its file:line:col as no kv server and what answers, exit 2: not a server down", async () => {
  const strangers: [Banner, string][] = [
    // Redis in protected mode, to a client from another host, then hanging up. (Redis itself
    // skips a HELLO as an empty inline command, its first byte 0, and answers nothing.)
    [
      {
        bytes: text("-DENIED Redis is running in protected mode because protected mode\r\n"),
        when: "greets",
        then: "closes",
      },
      'it answered like a Redis server: "-DENIED Redis is running in protected mo…"',
    ],
    // A Redis proxy's answer to the HELLO, quoting what it took for a command.
    [
      { bytes: text("-ERR unknown command '\0\0\0\x07\x01'\r\n"), when: "answers", then: "holds" },
      'it answered like a Redis server: "-ERR unknown command \'\\u0000\\u0000\\u0000…"',
    ],
    [
      { bytes: text("SSH-2.0-OpenSSH_9.6\r\n"), when: "greets", then: "holds" },
      'it answered like an SSH server: "SSH-2.0-OpenSSH_9.6"',
    ],
    [
      { bytes: text("220 mail.example.com ESMTP\r\n"), when: "greets", then: "holds" },
      'it answered like an SMTP or FTP server: "220 mail.example.com ESMTP"',
    ],
    [
      // MySQL's greeting: a 3-byte little-endian length, a sequence number, protocol 10.
      {
        bytes: Uint8Array.of(0x4a, 0, 0, 0, 0x0a, 0x38, 0x2e, 0x30, 0x2e, 0x33),
        when: "greets",
        then: "holds",
      },
      "it answered the bytes 4a 00 00 00 0a 38 2e 30 …, which no kv server sends first",
    ],
    // Fewer bytes than a frame header, the connection held: judged once HELLO times out.
    [
      { bytes: text("+OK\r\n"), when: "answers", then: "holds" },
      'it answered "+OK", which no kv server sends first',
    ],
  ];
  await withTempDir(async (dir) => {
    for (const [banner, reason] of strangers) {
      await withStranger(banner, async (port) => {
        const file = `${dir}/servers.txt`;
        await Deno.writeTextFile(file, `# the wrong port\n127.0.0.1 ${port}\n`);
        const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
        assert.deepEqual([run.code, run.stdout, run.stderr], [
          2,
          "",
          `kv get: ${file}:2:1: 127.0.0.1:${port} is no kv server (${reason}); list the kv ` +
          "servers' own addresses in the server file\n",
        ]);
      });
    }
  });
});

/**
 * The line of `kv get` for a TLS server at `file:line` (`host:port`), reached without TLS: kv's
 * own and any other send the same alert, so it names the line and both fixes.
 */
function speaksTlsLine(where: string, server: string): string {
  return `kv get: ${where}: ${server} speaks TLS (it answered a plain HELLO with a TLS alert); ` +
    "if it is a kv server with TLS (kv server --tls-cert), give --tls-ca the CA certificate " +
    "that signed the servers' certificates; if not, list the kv servers' own addresses in the " +
    "server file\n";
}

Deno.test("a TLS alert that leaves the connection open is a TLS server too, exit 2, as one that hangs up after it is: one line naming its file:line:col, not a server down", async () => {
  const alert = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32);
  await withTempDir(async (dir) => {
    for (const then of ["holds", "closes"] as const) {
      await withStranger({ bytes: alert, when: "answers", then }, async (port) => {
        const file = `${dir}/servers.txt`;
        await Deno.writeTextFile(file, `# the wrong port\n127.0.0.1 ${port}\n`);
        const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
        assert.deepEqual([run.code, run.stdout, run.stderr], [
          2,
          "",
          speaksTlsLine(`${file}:2:1`, `127.0.0.1:${port}`),
        ]);
      });
    }
  });
});

tlsTest(
  "a TLS server reached without TLS, kv's own or one that is no kv server (Deno.listenTls), is one line naming its file:line:col and both fixes, exit 2, through kv get and the library",
  async (certs, dir) => {
    await using kvServer = await startServerProcess(serverTlsFlags(certs));
    const tls = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(certs.serverPem),
      key: await Deno.readTextFile(certs.serverKey),
    });
    // It answers the plain HELLO with rustls' alert and holds the connection open, as an
    // HTTPS server may.
    const accepted: Deno.TlsConn[] = [];
    const serving = (async () => {
      for await (const conn of tls) {
        accepted.push(conn);
        conn.handshake().catch(() => {});
      }
    })();
    try {
      for (const port of [kvServer.port, tls.addr.port]) {
        const file = `${dir}/servers.txt`;
        await Deno.writeTextFile(file, `# a TLS port\n127.0.0.1 ${port}\n`);
        const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
        assert.deepEqual([run.code, run.stdout, run.stderr], [
          2,
          "",
          speaksTlsLine(`${file}:2:1`, `127.0.0.1:${port}`),
        ]);
        const given = await connect({ servers: file, timeoutMs: BROKER_TIMEOUT_MS })
          .then(() => assert.fail("connected to a TLS server without TLS"), (error) => error);
        assert.ok(given instanceof KvInputError, String(given));
        assert.equal(
          given.message,
          `${file}:2:1: 127.0.0.1:${port} speaks TLS (it answered a plain HELLO with a TLS ` +
            "alert); if it is a kv server with TLS (kv server --tls-cert), give the client the " +
            "CA certificate that signed its certificate; if not, list the kv servers' own " +
            "addresses in the server file (connect's tlsCa, or servers)",
        );
        assert.ok(given.cause instanceof CredentialsRefusedError);
        assert.equal(given.cause.refusal.kind, "tls-needed");
      }
    } finally {
      tls.close();
      await serving.catch(() => {});
      for (const conn of accepted) conn.close();
    }
  },
);

Deno.test("the library's connect to an SSH server's address is a KvInputError naming it no kv server and what answers", async () => {
  const banner: Banner = { bytes: text("SSH-2.0-OpenSSH_9.6\r\n"), when: "greets", then: "holds" };
  await withStranger(banner, async (port) => {
    const given = await connect({ servers: [{ hostname: "127.0.0.1", port }] })
      .then(() => assert.fail("connected to an SSH server"), (error: unknown) => error);
    assert.ok(given instanceof KvInputError, String(given));
    assert.equal(
      given.message,
      `127.0.0.1:${port} is no kv server (it answered like an SSH server: ` +
        `"SSH-2.0-OpenSSH_9.6"); list the kv servers' own addresses in the server file ` +
        "(connect's servers)",
    );
    assert.ok(given.cause instanceof CredentialsRefusedError);
    assert.equal(given.cause.refusal.kind, "not-kv");
  });
});

/**
 * A server's words carrying what a terminal acts on: colour, a carriage return and a newline
 * forging a second `kv get:` line, a bidi override reversing what follows.
 */
const FORGING = "evil\x1b[31m red\r\nkv get: forged line\u202e";
/** {@link FORGING} as every client shows it: the same characters, escaped as text. */
const FORGING_SHOWN = String.raw`evil\u001b[31m red\u000d\u000akv get: forged line\u202e`;
/** What no line a client prints may hold: a control (C0, DEL, C1), a bidi override or isolate. */
const UNSHOWABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** A listener answering every HELLO with ERROR `code` saying `message`, then hanging up. */
function answersError(code: ErrorCodeNumber, message: string): Banner {
  const frames = new FrameWriter();
  frames.error(1, code, message);
  return { bytes: frames.bytes(), when: "answers", then: "closes" };
}

Deno.test("a server's ERROR message carrying escape sequences, a newline or a bidi override is shown escaped as text in one line: kv get (exit 2 as before), kv servers (exit 0), the library's error message; a long one is cut with '…'", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/servers.txt`;
    const authFile = await newAuthFile(dir, "kv.auth");
    await withStranger(answersError(ErrorCode.AUTH_FAILED, FORGING), async (port) => {
      await Deno.writeTextFile(file, `127.0.0.1 ${port}\n`);
      const run = await runKv(
        withBrokerTimeout(["get", "-s", file, "--auth-file", authFile, "a"]),
        { stdin: "" },
      );
      assert.deepEqual([run.code, run.stdout, run.stderr], [
        2,
        "",
        `kv get: 127.0.0.1:${port} refused the secret in ${authFile} (AUTH_FAILED: ` +
        `${FORGING_SHOWN}); give --auth-file a file holding one of the servers' secrets\n`,
      ]);
    });
    await withStranger(answersError(ErrorCode.BUSY, FORGING), async (port) => {
      await Deno.writeTextFile(file, `127.0.0.1 ${port}\n`);
      const run = await runKv(withBrokerTimeout(["servers", "-s", file]), { stdin: "" });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "");
      assert.ok(run.stdout.endsWith("\n"), run.stdout);
      const line = run.stdout.slice(0, -1);
      assert.doesNotMatch(line, UNSHOWABLE);
      assert.ok(line.includes(`(BUSY: ${FORGING_SHOWN})`), line);
    });
    // The whole ERROR a server may send, escape sequences past the first words: shown cut.
    const long = FORGING + "\x1b[2J".repeat(MAX_ERROR_MESSAGE_BYTES / 4 - FORGING.length);
    await withStranger(answersError(ErrorCode.INTERNAL, long), async (port) => {
      const given = await connect({ servers: [{ hostname: "127.0.0.1", port }] })
        .then(() => assert.fail("connected to a server answering ERROR"), (error: Error) => error);
      assert.doesNotMatch(given.message, UNSHOWABLE);
      const shown = /INTERNAL: (.*?)\); start it/.exec(given.message)?.[1];
      assert.ok(shown !== undefined, given.message);
      assert.ok(shown.startsWith(`${FORGING_SHOWN}\\u001b[2J`), shown);
      assert.ok(shown.endsWith("…"), shown);
      assert.ok(shown.length <= MAX_SHOWN_MESSAGE_CHARACTERS, `${shown.length} characters`);
    });
  });
});

Deno.test("a kv server that is merely slow or stopped is never taken for a stranger: stopped, or its answer's first bytes sent and the rest held, it is down (exit 3); its answers sent a byte at a time are served", async () => {
  await using cluster = await KvCluster.start(1);
  const kvPort = cluster.servers[0].port;
  // The first 4 bytes of a welcome (its body length, 37), then nothing.
  const halfAnswer: Banner = { bytes: Uint8Array.of(0, 0, 0, 37), when: "answers", then: "holds" };
  await withStranger(halfAnswer, async (port) => {
    const file = `${cluster.serverFile}.half`;
    await Deno.writeTextFile(file, `127.0.0.1 ${port}\n`);
    const run = await runKv(["get", "-s", file, "a", "--timeout-ms", "300"], { stdin: "" });
    await Deno.remove(file);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /HELLO got no answer within 300 ms/);
    assert.doesNotMatch(run.stderr, /no kv server/);
  });
  cluster.servers[0].signal("SIGSTOP");
  try {
    const run = await runKv(["get", "-s", cluster.serverFile, "a", "--timeout-ms", "300"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /HELLO got no answer within 300 ms/);
    assert.doesNotMatch(run.stderr, /no kv server/);
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
  const trickle = listenLoopback((conn) => relayByteByByte(conn, kvPort));
  try {
    const file = `${cluster.serverFile}.trickle`;
    await Deno.writeTextFile(file, `127.0.0.1 ${trickle.port}\n`);
    const put = await runKv(withBrokerTimeout(["put", "-s", file, "-k", "1", "a: 1"]));
    assert.equal(put.code, 0, put.stderr);
    const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
    await Deno.remove(file);
    assert.deepEqual([run.code, run.stdout], [0, "a : 1\n"], run.stderr);
  } finally {
    await trickle.stop();
  }
});

Deno.test("a kv server behind a TCP proxy that is down is never taken for a stranger: the proxy hanging up is a server down (exit 3) hinted as such", async () => {
  const [closed] = closedPorts(1);
  const proxy = listenLoopback((conn) => relayByteByByte(conn, closed));
  try {
    await withTempDir(async (dir) => {
      const file = `${dir}/servers.txt`;
      await Deno.writeTextFile(file, `127.0.0.1 ${proxy.port}\n`);
      const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /^ERROR: the one server in .* is not reachable \(/);
      assert.match(
        run.stderr,
        /closed the connection before answering HELLO \(a kv server stopping, a proxy whose server is down, or a TLS server: reach a TLS server with --tls-ca\)\); start it/,
      );
      assert.doesNotMatch(run.stderr, /no kv server|speaks TLS/);
    });
  } finally {
    await proxy.stop();
  }
});

/**
 * A kv server refusing this client's protocol version in `words` (after `protocol version N is
 * not supported; `), as every kv answers a HELLO for a version it does not speak: ERROR
 * UNSUPPORTED_VERSION, then it hangs up.
 */
function otherVersion(words: string): Banner {
  const frames = new FrameWriter();
  frames.error(
    1,
    ErrorCode.UNSUPPORTED_VERSION,
    `protocol version ${PROTOCOL_VERSION} is not supported; ${words}`,
  );
  return { bytes: frames.bytes(), when: "answers", then: "closes" };
}

/** The words of a kv server speaking protocol version `version` alone (any kv since 3). */
const speaksOnly = (version: number) =>
  `this server speaks version ${version} only: upgrade the older of the two`;

/** How a kv server that refused this client's version is named: what it speaks, which to upgrade. */
interface VersionJudged {
  /** After `speaks`: `kv protocol version 8, not this client's 9`. */
  readonly speaks: string;
  /** The older of the two, when the server's words tell: `the server's kv`. */
  readonly older?: string;
}

/** The line about `server`, a kv server that refused this client's version in `words`. */
function otherVersionLine(server: string, words: string, judged: VersionJudged): string {
  const older = judged.older === undefined ? "" : `, here ${judged.older}`;
  return `${server} speaks ${judged.speaks} (UNSUPPORTED_VERSION: protocol version ` +
    `${PROTOCOL_VERSION} is not supported; ${words}); the server is running: upgrade the older ` +
    `of the two${older}`;
}

/** How a kv server speaking `version` alone is named. */
const speaksVersion = (version: number): VersionJudged => ({
  speaks: `kv protocol version ${version}, not this client's ${PROTOCOL_VERSION}`,
  older: version < PROTOCOL_VERSION ? "the server's kv" : "this client's kv",
});

Deno.test("a kv server of another protocol version, older or newer, is one line naming its file:line:col, both versions and which kv to upgrade, exit 2, for kv get, put, keys, servers, broker, repair, bench and http: not a server down", async () => {
  const older = PROTOCOL_VERSION - 1;
  await withTempDir(async (dir) => {
    const file = `${dir}/servers.txt`;
    await withStranger(otherVersion(speaksOnly(older)), async (port) => {
      await Deno.writeTextFile(file, `# not upgraded yet\n127.0.0.1 ${port}\n`);
      const line = otherVersionLine(`127.0.0.1:${port}`, speaksOnly(older), speaksVersion(older));
      for (const [command, ...args] of CLIENT_COMMANDS) {
        const run = await runKv(withBrokerTimeout([command, "-s", file, ...args]), {
          stdin: "",
        });
        assert.deepEqual(
          [run.code, run.stdout, run.stderr],
          [2, "", `kv ${command}: ${file}:2:1: ${line}\n`],
          command,
        );
      }
    });
    // A newer kv, kv 1 and 2 in their own words, and words no kv used: each judged the same.
    const others: [string, VersionJudged][] = [
      [speaksOnly(PROTOCOL_VERSION + 1), speaksVersion(PROTOCOL_VERSION + 1)],
      ["this server speaks 1 to 2", {
        speaks: `kv protocol versions 1 to 2, not this client's ${PROTOCOL_VERSION}`,
        older: "the server's kv",
      }],
      ["this server speaks 1", speaksVersion(1)],
      ["ask again later", {
        speaks: `another kv protocol version than this client's ${PROTOCOL_VERSION}`,
      }],
    ];
    for (const [words, judged] of others) {
      await withStranger(otherVersion(words), async (port) => {
        await Deno.writeTextFile(file, `127.0.0.1 ${port}\n`);
        const run = await runKv(withBrokerTimeout(["get", "-s", file, "a"]), { stdin: "" });
        assert.deepEqual([run.code, run.stdout, run.stderr], [
          2,
          "",
          `kv get: ${file}:1:1: ${otherVersionLine(`127.0.0.1:${port}`, words, judged)}\n`,
        ]);
      });
    }
  });
});

Deno.test("a kv server of another protocol version among kv servers that answer is named as refusing, not as down, by kv servers (exit 0), the library's servers() and kv repair (never 'gone for good'); alone it is a KvInputError from connect", async () => {
  await using cluster = await KvCluster.start(1);
  const older = PROTOCOL_VERSION - 1;
  await withStranger(otherVersion(speaksOnly(older)), async (port) => {
    const server = `127.0.0.1:${port}`;
    const refusal = otherVersionLine(server, speaksOnly(older), speaksVersion(older))
      .slice(`${server} `.length);
    const kvServer = cluster.servers[0].address;
    const file = `${cluster.serverFile}.mixed`;
    await Deno.writeTextFile(file, `${kvServer.hostname} ${kvServer.port}\n${server}\n`);
    const run = await runKv(withBrokerTimeout(["servers", "-s", file]), { stdin: "" });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.match(lines[0], /^127\.0\.0\.1:\d+ +up /);
    assert.equal(lines[1], `${server}  REFUSED  ${refusal}`);
    {
      await using kv = await connect({
        servers: file,
        replicas: 1,
        timeoutMs: BROKER_TIMEOUT_MS,
      });
      const [, refused] = await kv.servers();
      assert.deepEqual([refused.server, refused.up, refused.refused, refused.error], [
        server,
        false,
        true,
        refusal,
      ]);
    }
    // A running server, to mend as its line says: no advice for one stopped or gone.
    const repair = await runKv(withBrokerTimeout(["repair", "-s", file]));
    assert.equal(repair.code, 1, repair.stderr);
    assert.match(
      repair.stderr,
      new RegExp(
        `^kv repair: ${RegExp.escape(server)}: .* not repaired.*\\(${
          RegExp.escape(`${server} ${refusal}`)
        }\\)$`,
        "m",
      ),
    );
    assert.doesNotMatch(repair.stderr, /gone for good|start it/);
    await Deno.remove(file);
    const given = await connect({ servers: [{ hostname: "127.0.0.1", port }] })
      .then(() => assert.fail("connected to a kv server of another version"), (error) => error);
    assert.ok(given instanceof KvInputError, String(given));
    assert.equal(given.message, `${server} ${refusal}`);
    assert.ok(given.cause instanceof CredentialsRefusedError);
    assert.equal(given.cause.refusal.kind, "version");
  });
});

/** Bytes of each connection's start {@link relayByteByByte} trickles: HELLO's answer and more. */
const TRICKLED_BYTES = 64;

/**
 * Relays `client` to the kv server on `port`: what the client sends goes on as it came; of what
 * the server sends, the first TRICKLED_BYTES are written to the client one byte per write, a
 * turn of the event loop apart, so that a kv answer's first byte, 0, may come alone, and the
 * rest as it comes. When nothing listens on `port`, it hangs up on the client without a byte,
 * as a TCP proxy whose server is down does (HAProxy, docker-proxy, ssh -L).
 */
async function relayByteByByte(client: Deno.TcpConn, port: number): Promise<void> {
  let server: Deno.TcpConn;
  try {
    server = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    client.close();
    return;
  }
  const toServer = client.readable.pipeTo(server.writable).catch(() => {});
  let trickled = 0;
  try {
    for await (const chunk of server.readable) {
      let at = 0;
      for (; at < chunk.length && trickled < TRICKLED_BYTES; at++, trickled++) {
        await client.write(chunk.subarray(at, at + 1));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      if (at < chunk.length) await writeAll(client, chunk.subarray(at));
    }
  } catch {
    // Either side hung up.
  } finally {
    try {
      client.close();
    } catch {
      // Already closed.
    }
    await toServer;
  }
}
