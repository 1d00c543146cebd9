import assert from "node:assert/strict";
import tls from "node:tls";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { openAttackers } from "../helpers/attacks.ts";
import { connTransport } from "../helpers/conn_transport.ts";
import { HAS_PRLIMIT, lowerDescriptorLimit } from "../helpers/descriptors.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { HAS_OPENSSL, makeTestCerts, serverTlsFlags, tlsTest } from "../helpers/tls_certs.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

/** kv server's HELLO deadline (DEFAULT_HELLO_TIMEOUT_MS): no flag sets it. */
const HELLO_TIMEOUT_MS = 5_000;

/**
 * How long past the HELLO deadline the idle connections may take to be seen closed: the
 * deadline's timers, a loaded machine's scheduling and the test's polling.
 */
const CLOSE_MARGIN_MS = 15_000;

/**
 * A file descriptor limit low enough that a few dozen TLS connections reach it: each takes
 * two once its first bytes came (README, TLS), besides the twenty or so of the process.
 */
const LOW_FD_LIMIT = 100;

/** What a TLS server answers bytes that are no TLS: a fatal decode_error alert record. */
const NOT_TLS_ALERT = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];

tlsTest(
  "a TLS server closes TCP connections that never start a handshake by the HELLO deadline, so idle strangers past --max-connections lock no client out",
  async (certs, dir) => {
    await using server = await startServerProcess([
      ...serverTlsFlags(certs),
      "--max-connections",
      "8",
    ]);
    // Three times --max-connections, sending nothing. With Deno.listenTls each stayed open
    // at the client for good: the server's close before a handshake left the TCP socket,
    // and with enough of them its file descriptors, held.
    const idle = 24;
    const attackers = await openAttackers(server.address, idle, new Uint8Array(0));
    try {
      await waitFor(() => attackers.closedByServer() === idle, {
        what: `the server to close all ${idle} idle connections (seen as their end)`,
        timeoutMs: HELLO_TIMEOUT_MS + CLOSE_MARGIN_MS,
      });
    } finally {
      attackers.close();
    }
    await Deno.writeTextFile(`${dir}/servers`, `localhost ${server.port}\n`);
    const tls = ["-s", `${dir}/servers`, "--tls-ca", certs.caPem, "--timeout-ms", "20000"];
    assert.equal((await runKv(["put", ...tls, "p: 1"])).code, 0);
    const got = await runKv(["get", ...tls, "p"]);
    assert.deepEqual([got.code, got.stdout], [0, "p : 1\n"]);
    assert.equal((await stopWithin(server)).code, 0);
  },
);

tlsTest(
  "a TCP connect and close to a TLS server is a disconnect (debug), not an error line; a plain HELLO gets the TLS alert and a warning",
  async (certs) => {
    await using server = await startServerProcess([
      ...serverTlsFlags(certs),
      "--log-level",
      "debug",
    ]);
    const closedLines = () =>
      server.stderrLines.filter((line) => / debug: connection from \S+ closed /.test(line));
    const connects = 5;
    for (let i = 0; i < connects; i++) {
      (await Deno.connect(server.address)).close();
    }
    await waitFor(() => closedLines().length === connects, {
      what: `the server to log the end of ${connects} connections`,
    });
    // A port scan or a load balancer's TCP check wrote `connection … failed: unexpected end
    // of file` at `error`, once per connection.
    assert.deepEqual(server.stderrLines.filter((line) => / error: /.test(line)), []);

    // A plain kv client's HELLO: its first byte, 0x00, starts no TLS record.
    const conn = await Deno.connect(server.address);
    await conn.write(new Uint8Array([0, 0, 0, 7, 1, 0, 0, 0, 1, 0, 7, 0, 0, 0, 0, 0]));
    const answer: number[] = [];
    const buffer = new Uint8Array(64);
    const readAll = async () => {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        answer.push(...buffer.subarray(0, n));
      }
    };
    await withDeadline(readAll(), { what: "the server's answer to a plain HELLO" });
    conn.close();
    assert.deepEqual(answer, NOT_TLS_ALERT);
    await waitFor(() => closedLines().length === connects + 1, {
      what: "the server to log the end of the plain client's connection",
    });
    // A refusal, as a wrong secret is: `warn`, at most once a second per address.
    assert.deepEqual(server.stderrLines.filter((line) => / warn: /.test(line)), [
      `kv server warn: refused ${describePeer(conn)}: TLS handshake failed: the client does ` +
      "not speak TLS (its first byte is 0x00, not a TLS handshake's 0x16)",
    ]);
    assert.deepEqual(server.stderrLines.filter((line) => / error: /.test(line)), []);
    assert.equal((await stopWithin(server)).code, 0);
  },
);

Deno.test({
  name: HAS_OPENSSL && HAS_PRLIMIT
    ? "a TLS server out of file descriptors, two a handshaking connection, fails those past them and serves again once they close"
    : "TLS server out of file descriptors (ignored: openssl or prlimit is not installed)",
  ignore: !HAS_OPENSSL || !HAS_PRLIMIT,
  fn: () =>
    withTempDir(async (dir) => {
      const certs = await makeTestCerts(dir);
      await using server = await startServerProcess(serverTlsFlags(certs));
      await lowerDescriptorLimit(server.pid!, LOW_FD_LIMIT);
      const caPem = await Deno.readTextFile(certs.caPem);
      // Each handshake, once the server took its first bytes, asks for a second descriptor
      // (the native socket's): past the limit either the accept or that one fails, and a
      // failure closes the connection (the HELLO deadline closes the others).
      const opened: Deno.TlsConn[] = [];
      const handshakes = Array.from({ length: LOW_FD_LIMIT }, async () => {
        const conn = await Deno.connectTls({
          ...server.address,
          hostname: "localhost",
          caCerts: [caPem],
        });
        opened.push(conn);
        await conn.handshake();
      });
      const ended = await withDeadline(Promise.allSettled(handshakes), {
        what: "every handshake to end, done or refused",
        timeoutMs: HELLO_TIMEOUT_MS + CLOSE_MARGIN_MS,
      });
      const refused = ended.filter((result) => result.status === "rejected").length;
      // Twice as many descriptors as the limit leaves are asked for: some are refused.
      assert.ok(refused > 0 && refused < LOW_FD_LIMIT, `${refused} handshakes refused`);
      for (const conn of opened) conn.close();
      await Deno.writeTextFile(`${dir}/servers`, `localhost ${server.port}\n`);
      const tls = ["-s", `${dir}/servers`, "--tls-ca", certs.caPem, "--timeout-ms", "5000"];
      await waitFor(async () => (await runKv(["put", ...tls, "p: 1"])).code === 0, {
        what: "the server to serve again once the descriptors were given back",
      });
      assert.equal((await stopWithin(server)).code, 0);
    }),
});

tlsTest(
  "a record that does not decrypt after the handshake ends the connection and is logged as TLS failing after the handshake",
  async (certs) => {
    await using server = await startServerProcess([
      ...serverTlsFlags(certs),
      "--log-level",
      "debug",
    ]);
    const tcp = await Deno.connect(server.address);
    // node:tls over the connection, so that bytes can be written past it once it is secure.
    const transport = connTransport(tcp);
    const socket = tls.connect({
      socket: transport,
      ca: await Deno.readTextFile(certs.caPem),
      servername: "localhost",
    });
    socket.on("error", () => {});
    await withDeadline(new Promise((resolve) => socket.once("secureConnect", resolve)), {
      what: "the TLS handshake",
    });
    // A HELLO answered: the server's side of the handshake is done too.
    const hello = new FrameWriter();
    hello.hello(1);
    const answered = new Promise((resolve) => socket.once("data", resolve));
    socket.write(hello.bytes());
    await withDeadline(answered, { what: "the answer to HELLO" });
    // An application-data record whose 32 bytes no key encrypted. The server sent its alert
    // and kept the connection, logging nothing, until the client closed it.
    await tcp.write(new Uint8Array([0x17, 0x03, 0x03, 0x00, 0x20, ...new Uint8Array(32)]));
    const closedLine = new RegExp(` debug: connection from ${describePeer(tcp)} closed `);
    await waitFor(() => server.stderrLines.some((line) => closedLine.test(line)), {
      what: "the server to close the connection",
    });
    const warnings = () => server.stderrLines.filter((line) => / warn: /.test(line));
    await waitFor(() => warnings().length > 0, { what: "the server to log the corrupt record" });
    assert.match(
      warnings()[0],
      new RegExp(`^kv server warn: refused ${describePeer(tcp)}: TLS failed after the handshake: `),
    );
    assert.deepEqual(server.stderrLines.filter((line) => / error: /.test(line)), []);
    socket.destroy();
    tcp.close();
    assert.equal((await stopWithin(server)).code, 0);
  },
);

/** The client's end of `conn` as the server names it in its log. */
function describePeer(conn: Deno.Conn): string {
  const { hostname, port } = conn.localAddr as Deno.NetAddr;
  return `${hostname}:${port}`;
}
