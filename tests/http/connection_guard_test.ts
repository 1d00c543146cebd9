// kv http's connection guard (lib/http/connection_guard.ts), end to end over real sockets:
// Deno.serve alone waits for a request's headers for ever, so a client sending them a byte
// at a time held its connection for good (slowloris).
import assert from "node:assert/strict";
import {
  HAS_PRLIMIT,
  lowerDescriptorLimit,
  outputOf,
  socketInodes,
} from "../helpers/descriptors.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { runKv } from "../helpers/run_kv.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { serverTlsFlags, tlsTest } from "../helpers/tls_certs.ts";
import { ConnectionGuard } from "../../lib/http/connection_guard.ts";
import { closeQuietly } from "../../lib/base/disconnect.ts";

/** Longest a slow client below keeps sending: far past the deadlines under test. */
const SLOW_CLIENT_MAX_MS = 60_000;
/** --header-timeout-ms of the test of HTTPS, whose handshakes are under it. */
const TLS_HEADER_DEADLINE_MS = 3000;
/** Pause between a slow client's bytes. */
const SLOW_BYTE_INTERVAL_MS = 100;

/** A large answer read slowly below: more than the kernel's buffers hold. */
const SLOW_READ_BYTES = 20_000_000;
/** Bytes the slow reader reads each {@link SLOW_READ_INTERVAL_MS}: about 3 s for them all. */
const SLOW_READ_CHUNK_BYTES = 64 * 1024;
/** Pause between the slow reader's reads. */
const SLOW_READ_INTERVAL_MS = 10;
/**
 * The guard's header deadline for the slow reader, shorter than its 3 s. The guard sees
 * progress as the kernel takes bytes, which on loopback it does in bursts: writes waited
 * 0.25 s at the reader's pace, 0.9 s at a quarter of it. With 1 s, a reader slowed by a
 * loaded machine's late timers was cut after 8.5 MB (load 17-27); it now also catches up.
 */
const SLOW_READ_DEADLINE_MS = 2000;

/**
 * Pause between checks that read another process's /proc through commands (sh, readlink,
 * cat: ../helpers/descriptors.ts): at waitFor's default 10 ms such a wait spent its time
 * starting them, for a condition seconds away (a header deadline, descriptors to fill).
 */
const PROC_POLL_INTERVAL_MS = 100;

const encoder = new TextEncoder();

/**
 * A raw TCP connection to `http` (a kv http, or a guard of the test's own at that URL), with
 * everything it receives gathered until it closes.
 */
async function rawConnection(http: { readonly url: string }) {
  const { hostname, port } = new URL(http.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let received = "";
  let isClosed = false;
  const decoder = new TextDecoder();
  const closed = (async () => {
    const buffer = new Uint8Array(4096);
    try {
      for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
        received += decoder.decode(buffer.subarray(0, count), { stream: true });
      }
    } catch {
      // A reset is a close too.
    }
    isClosed = true;
  })();
  return {
    conn,
    closed,
    get received() {
      return received;
    },
    get isClosed() {
      return isClosed;
    },
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch {
        // The server closed it already.
      }
    },
  };
}

/** `/metrics`' count of connections the guard closed for `why`. */
async function closedCount(http: HttpProcess, why: string): Promise<number> {
  const text = await (await fetch(`${http.url}metrics`)).text();
  const name = `kv_http_connections_closed_total{reason="${why}"} `;
  const line = text.split("\n").find((candidate) => candidate.startsWith(name));
  assert.ok(line !== undefined, text);
  return Number(line.slice(name.length));
}

/** HTTP/2's connection preface and an empty SETTINGS frame: what a client opens with. */
const H2_OPENING = new Uint8Array([
  ...encoder.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
]);
/** An HTTP/2 PING frame (8 bytes of payload, stream 0), which the server acknowledges. */
const H2_PING = new Uint8Array([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);

/**
 * Speaks HTTP/2 on `conn`: `opening` (by default without a request), then only a PING every
 * {@link SLOW_BYTE_INTERVAL_MS} until `closed` or {@link SLOW_CLIENT_MAX_MS}; the PINGs sent.
 */
async function pingOnly(
  conn: Deno.Conn,
  closed: () => boolean,
  opening: Uint8Array = H2_OPENING,
): Promise<number> {
  await conn.write(opening);
  const started = performance.now();
  let pings = 0;
  while (!closed() && performance.now() - started < SLOW_CLIENT_MAX_MS) {
    await new Promise((resolve) => setTimeout(resolve, SLOW_BYTE_INTERVAL_MS));
    if (await conn.write(H2_PING).then(() => true, () => false)) pings++;
  }
  return pings;
}

function request(path: string): Uint8Array {
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
}

/**
 * Whether a new connection to `http` is answered 200 for `/healthz`: false when it is
 * closed first, as one past a bound or with no descriptor left is.
 */
async function newConnectionServed(http: HttpProcess): Promise<boolean> {
  using next = await rawConnection(http);
  await next.conn.write(request("/healthz")).catch(() => {});
  await waitFor(() => next.isClosed || next.received.includes("\r\n\r\n"), {
    what: "an answer's head, or the connection closed",
  });
  return next.received.startsWith("HTTP/1.1 200");
}

Deno.test("kv http closes a connection whose request headers do not all arrive within --header-timeout-ms, and an idle one; a request longer than that in the handler is answered, and a megabyte passes both ways", async () => {
  await using served = await HttpProcess.onCluster(1, [
    "--header-timeout-ms",
    "1000",
    "--timeout-ms",
    "3000",
  ]);
  const { cluster, http } = served;
  // A byte at a time, never the blank line that ends the headers.
  using slow = await rawConnection(http);
  const header = encoder.encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  let sent = 0;
  const sender = (async () => {
    const started = performance.now();
    let failed = false;
    while (!slow.isClosed && !failed && performance.now() - started < SLOW_CLIENT_MAX_MS) {
      // The header's value goes on with 'a's: never the blank line that ends the headers.
      const byte = sent < header.length ? header.subarray(sent, sent + 1) : encoder.encode("a");
      await slow.conn.write(byte).catch(() => failed = true);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, SLOW_BYTE_INTERVAL_MS));
    }
  })();
  using idle = await rawConnection(http);
  await withDeadline(Promise.all([slow.closed, idle.closed]), {
    what: "kv http to close a slow client's connection and an idle one",
  });
  await sender;
  assert.equal(slow.received, "", `closed with no answer after ${sent} bytes`);
  assert.equal(idle.received, "");
  assert.ok(await closedCount(http, "header_timeout") >= 2);
  // Bodies of many relay buffers pass whole, both ways.
  const big = JSON.stringify("x".repeat(1_000_000));
  const put = await fetch(`${http.url}v1/records/big`, {
    method: "PUT",
    body: big,
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(put.status, 200, await put.text());
  const read = await (await fetch(`${http.url}v1/records/big`)).json();
  assert.equal(JSON.stringify(read.value), big);

  // A hung server keeps the request in the handler for --timeout-ms, past the deadline:
  // answered all the same (nothing vouches for absence: 503), then closed once idle.
  cluster.servers[0].signal("SIGSTOP");
  try {
    using busy = await rawConnection(http);
    await busy.conn.write(request("/v1/records/a"));
    await withDeadline(busy.closed, { what: "the answer, then the idle connection closed" });
    assert.match(busy.received, /^HTTP\/1\.1 503 [^]*"warning":"no replica of 'a' answered/);
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
  // The timed-out server is reconnected a moment after SIGCONT.
  await waitFor(async () => {
    const health = await fetch(`${http.url}healthz`);
    await health.body?.cancel();
    return health.status === 200;
  }, { what: "kv http to serve again once the server is resumed" });
});

Deno.test("kv http at --max-connections N closes the connection waiting longest for a request to make room for a new one, so connections that send nothing (no token needed) never lock clients out", async () => {
  await using served = await HttpProcess.onCluster(1, ["--max-connections", "2"]);
  const { http } = served;
  using first = await rawConnection(http);
  using second = await rawConnection(http);
  // Each answered once, so both are open and counted before the third arrives, then idle.
  for (const open of [first, second]) {
    await open.conn.write(request("/healthz"));
    await waitFor(() => open.received.includes('"healthy":true'), { what: "an answer" });
  }
  // Refused as it arrived, the third found the two idle ones holding every slot: anyone who
  // can connect held them so, reconnecting at each header deadline, with no token.
  using third = await rawConnection(http);
  await third.conn.write(request("/healthz"));
  await waitFor(() => third.isClosed || third.received.includes('"healthy":true'), {
    what: "the third connection answered, or closed",
  });
  assert.match(third.received, /^HTTP\/1\.1 200/);
  await withDeadline(first.closed, { what: "the connection idle longest closed to make room" });
  assert.equal(second.isClosed, false);
  // (A scrape makes room for itself too.)
  await waitFor(async () => await closedCount(http, "over_limit").catch(() => 0) >= 1, {
    what: "/metrics to count the connection closed for the bound",
  });
  // SIGTERM ends it, the idle connection still open notwithstanding.
  assert.equal(await http.stop(), 0);
  await withDeadline(second.closed, { what: "the open connection closed at shutdown" });
});

Deno.test("the connection guard at maxConnections closes a new connection as it arrives when every open one has a request in the handler, and serves again once one ends", async () => {
  const { promise: held, resolve: release } = Promise.withResolvers<void>();
  let arrived = 0;
  const closures: string[] = [];
  const server = await ConnectionGuard.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxConnections: 2,
    onClosed: (why) => closures.push(why),
  }, async () => {
    arrived++;
    await held;
    return new Response("served");
  });
  try {
    const guard = { url: `http://127.0.0.1:${server.addr.port}/` };
    using first = await rawConnection(guard);
    using second = await rawConnection(guard);
    for (const open of [first, second]) await open.conn.write(request("/"));
    await waitFor(() => arrived === 2, { what: "both requests in the handler" });
    // No connection waits for a request: none is closed for the newcomer, which is.
    using third = await rawConnection(guard);
    await withDeadline(third.closed, { what: "the connection past the bound to be closed" });
    assert.equal(third.received, "");
    assert.deepEqual(closures, ["over_limit"]);
    release();
    for (const open of [first, second]) {
      await waitFor(() => open.received.endsWith("served"), { what: "the held request answered" });
    }
    assert.equal(first.isClosed || second.isClosed, false);
  } finally {
    release();
    await server.shutdown();
  }
});

tlsTest(
  "kv http's connection guard serves HTTPS over HTTP/1.1 and HTTP/2, and closes a connection that never starts its TLS handshake, and one of HTTP/2 PINGs only",
  async (certs) => {
    // The handshake is under the deadline: kv http's first took 100 ms where later ones took
    // 10 (node:tls warming up), and over 1 s, the deadline once, at a load of 30.
    const deadline = String(TLS_HEADER_DEADLINE_MS);
    const flags = [...serverTlsFlags(certs), "--header-timeout-ms", deadline];
    await using served = await HttpProcess.onCluster(1, flags);
    const { http } = served;
    const caCerts = [await Deno.readTextFile(certs.caPem)];
    // The guard ends TLS and relays the plain bytes: HTTP/2, negotiated by ALPN, too.
    for (const versions of [{ http1: true, http2: false }, { http1: false, http2: true }]) {
      using client = Deno.createHttpClient({ caCerts, ...versions });
      const response = await fetch(`${http.url}healthz`, { client });
      assert.equal(response.status, 200, JSON.stringify(versions));
      assert.equal((await response.json()).healthy, true);
    }
    using silent = await rawConnection(http);
    await withDeadline(silent.closed, { what: "a connection with no handshake to be closed" });
    // HTTP/2 over TLS with PINGs only, never a request, is closed at the deadline too.
    const { hostname, port } = new URL(http.url);
    using pinger = await Deno.connectTls({
      hostname,
      port: Number(port),
      caCerts,
      alpnProtocols: ["h2"],
    });
    assert.equal((await pinger.handshake()).alpnProtocol, "h2");
    let closed = false;
    const draining = (async () => {
      const buffer = new Uint8Array(4096);
      while (await pinger.read(buffer).catch(() => null) !== null);
      closed = true;
    })();
    const pings = pingOnly(pinger, () => closed);
    await withDeadline(draining, {
      what: "kv http to close an HTTP/2 connection that only PINGs",
    });
    assert.ok(await pings >= 1, "closed before any PING: the test proves nothing");
  },
);

tlsTest(
  "kv http serving HTTPS answers a plain HTTP request with a 400 that says to use https://, not with a TLS alert no HTTP client can show",
  async (certs) => {
    await using served = await HttpProcess.onCluster(1, serverTlsFlags(certs));
    const { http } = served;
    assert.match(http.url, /^https:/);
    // curl http:// at an HTTPS port said 'Received HTTP/0.9 when not allowed', a browser
    // ERR_INVALID_HTTP_RESPONSE: the 7 bytes of a TLS alert.
    using plain = await rawConnection(http);
    await plain.conn.write(request("/healthz"));
    await withDeadline(plain.closed, { what: "the plain HTTP connection answered and closed" });
    const [head, body] = plain.received.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(head, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(head, /\r\nconnection: close\r\n/i);
    // The headers every answer of kv http carries.
    assert.match(head, /\r\nx-content-type-options: nosniff\r\n/i);
    assert.match(head, /\r\nx-frame-options: DENY\r\n/i);
    const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
    assert.equal(Number(length), encoder.encode(body).length);
    assert.deepEqual(JSON.parse(body), {
      error: "this port speaks HTTPS (kv http --tls-cert): use https://, not http://",
    });
    // Bytes that are neither TLS nor HTTP still get the TLS alert, as before.
    using other = await rawConnection(http);
    await other.conn.write(encoder.encode("\x01\x02\x03"));
    await withDeadline(other.closed, { what: "the connection of no protocol closed" });
    assert.deepEqual(encoder.encode(other.received), Uint8Array.of(0x15, 3, 3, 0, 2, 2, 0x32));
  },
);

Deno.test("kv http closes an HTTP/2 connection that only PINGs, never a request, at --header-timeout-ms (h2c)", async () => {
  await using served = await HttpProcess.onCluster(1, ["--header-timeout-ms", "1000"]);
  const { http } = served;
  // Each PING draws an acknowledgement: bytes delivered, which once restarted the deadline.
  using pinger = await rawConnection(http);
  const pings = pingOnly(pinger.conn, () => pinger.isClosed);
  await withDeadline(pinger.closed, { what: "kv http to close a connection that only PINGs" });
  assert.ok(await pings >= 1, "closed before any PING: the test proves nothing");
  // The server's SETTINGS and acknowledgements came: it spoke HTTP/2 to it.
  assert.ok(pinger.received.length > 0);
  assert.ok(await closedCount(http, "header_timeout") >= 1);
});

/**
 * Reads from `conn` {@link SLOW_READ_CHUNK_BYTES} every {@link SLOW_READ_INTERVAL_MS} (in as
 * many reads as it takes: one over TLS returns a record, 16 KiB at most) until it closes,
 * more than {@link SLOW_READ_BYTES} came, or {@link SLOW_CLIENT_MAX_MS}; the bytes read.
 */
async function readSlowly(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(SLOW_READ_CHUNK_BYTES);
  let received = 0;
  const started = performance.now();
  while (received <= SLOW_READ_BYTES && performance.now() - started < SLOW_CLIENT_MAX_MS) {
    // Behind after a late timer (a loaded machine's are), it catches up: its pace is the
    // rate of a chunk each interval, not the timers'.
    const intervals = Math.floor((performance.now() - started) / SLOW_READ_INTERVAL_MS);
    const due = SLOW_READ_CHUNK_BYTES * (intervals + 1);
    while (received < due && received <= SLOW_READ_BYTES) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) return received;
      received += count;
    }
    await new Promise((resolve) => setTimeout(resolve, SLOW_READ_INTERVAL_MS));
  }
  return received;
}

Deno.test("the connection guard sends an answer larger than the socket buffers whole to a client that reads it slower than the header deadline", async () => {
  // In process: the answer must outgrow the kernel's buffers (7 MB were held on loopback),
  // past which bytes relayed are the answer's only sign of progress.
  const answer = "x".repeat(SLOW_READ_BYTES);
  const server = await ConnectionGuard.serve(
    { hostname: "127.0.0.1", port: 0, headerTimeoutMs: SLOW_READ_DEADLINE_MS },
    () => new Response(answer),
  );
  try {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(request("/"));
    const received = await readSlowly(conn);
    assert.ok(received > SLOW_READ_BYTES, `${received} bytes, then closed`);
  } finally {
    await server.shutdown();
  }
});

tlsTest(
  "the connection guard ends TLS itself: a large request body arrives whole, and a large answer read slowly",
  async (certs) => {
    // Both ways past the guard's and the kernel's buffers, where TLS must wait for the
    // reader (node:tls's 'drain', and pausing the socket while the relay writes).
    const answer = "x".repeat(SLOW_READ_BYTES);
    const server = await ConnectionGuard.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        headerTimeoutMs: SLOW_READ_DEADLINE_MS,
        cert: await Deno.readTextFile(certs.serverPem),
        key: await Deno.readTextFile(certs.serverKey),
      },
      async (request) =>
        request.method === "PUT"
          ? new Response(`${(await request.arrayBuffer()).byteLength}`)
          : new Response(answer),
    );
    try {
      const caCerts = [await Deno.readTextFile(certs.caPem)];
      using client = Deno.createHttpClient({ caCerts });
      const put = await fetch(`https://localhost:${server.addr.port}/`, {
        method: "PUT",
        body: new Uint8Array(SLOW_READ_BYTES),
        client,
      });
      assert.equal(await put.text(), String(SLOW_READ_BYTES));
      using conn = await Deno.connectTls({
        hostname: "localhost",
        port: server.addr.port,
        caCerts,
      });
      await conn.write(request("/"));
      const received = await readSlowly(conn);
      assert.ok(received > SLOW_READ_BYTES, `${received} bytes, then closed`);
    } finally {
      await server.shutdown();
    }
  },
);

/**
 * HTTP/2's opening with SETTINGS_INITIAL_WINDOW_SIZE 0, and a HEADERS frame (stream 1,
 * END_STREAM and END_HEADERS) asking `GET /` in HPACK (:method GET, :scheme http, :path /
 * from the static table, a literal :authority): the server may send the answer's headers
 * but no byte of its body.
 */
function h2GetWithNoWindow(): Uint8Array {
  const authority = encoder.encode("127.0.0.1");
  const block = [0x82, 0x86, 0x84, 0x41, authority.length, ...authority];
  return new Uint8Array([
    ...encoder.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ...[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0],
    ...[0, 0, block.length, 1, 5, 0, 0, 0, 1, ...block],
  ]);
}

Deno.test("the connection guard closes an HTTP/2 connection that grants no window for its answer's body and only PINGs", async () => {
  // The body owed, never sent, made each PING's acknowledgement count as its progress: held
  // past 10 s at a 1 s deadline for an answer of 19 kB.
  const answer = { keys: Array.from({ length: 2000 }, (_, i) => `key${i}`) };
  const server = await ConnectionGuard.serve(
    { hostname: "127.0.0.1", port: 0, headerTimeoutMs: 1000 },
    () => Response.json(answer),
  );
  try {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    let closed = false;
    const draining = (async () => {
      const buffer = new Uint8Array(4096);
      while (await conn.read(buffer).catch(() => null) !== null);
      closed = true;
    })();
    const pings = pingOnly(conn, () => closed, h2GetWithNoWindow());
    await withDeadline(draining, { what: "the guard to close a connection that only PINGs" });
    assert.ok(await pings >= 1, "closed before any PING: the test proves nothing");
  } finally {
    await server.shutdown();
  }
});

/**
 * An HTTP/2 client of the guard at `port` that asks {@link h2GetWithNoWindow}, reads nothing
 * more, and tells when the answer's HEADERS frame (type 1, stream 1) came: its body, granted
 * no window, is owed for good.
 */
async function stalledH2Get(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let bytes = new Uint8Array(0);
  let isClosed = false;
  const closed = (async () => {
    const buffer = new Uint8Array(4096);
    for (let count = await conn.read(buffer).catch(() => null); count !== null;) {
      bytes = new Uint8Array([...bytes, ...buffer.subarray(0, count)]);
      count = await conn.read(buffer).catch(() => null);
    }
    isClosed = true;
  })();
  await conn.write(h2GetWithNoWindow());
  const answered = () => {
    // Server frames follow no preface: 9-byte headers, u24 length, type, flags, u31 stream.
    for (
      let at = 0;
      at + 9 <= bytes.length;
      at += 9 + ((bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2])
    ) {
      if (bytes[at + 3] === 1 && new DataView(bytes.buffer, at + 5, 4).getUint32(0) === 1) {
        return true;
      }
    }
    return false;
  };
  return {
    closed,
    answered,
    get isClosed() {
      return isClosed;
    },
    [Symbol.dispose]() {
      closeQuietly(conn);
    },
  };
}

Deno.test("the connection guard at maxConnections makes room for a new connection by closing the one whose answer made no progress longest (an HTTP/2 client granting no window), so such connections cannot lock clients out either", async () => {
  // 19 kB owed for good to each: refused room for that, the new connection was closed, and
  // connections asking a public file (no token) this way held every place for the deadline.
  const answer = { keys: Array.from({ length: 2000 }, (_, i) => `key${i}`) };
  const server = await ConnectionGuard.serve(
    { hostname: "127.0.0.1", port: 0, maxConnections: 2, headerTimeoutMs: 60_000 },
    () => Response.json(answer),
  );
  try {
    const { port } = server.addr;
    using first = await stalledH2Get(port);
    await waitFor(first.answered, { what: "the first answer's headers, its body owed" });
    using second = await stalledH2Get(port);
    await waitFor(second.answered, { what: "the second answer's headers, its body owed" });
    using third = await rawConnection({ url: `http://127.0.0.1:${port}/` });
    await third.conn.write(request("/"));
    await waitFor(() => third.isClosed || third.received.includes("\r\n\r\n"), {
      what: "the third connection answered, or closed",
    });
    assert.match(third.received, /^HTTP\/1\.1 200/);
    await withDeadline(first.closed, { what: "the connection stalled longest closed for room" });
    assert.equal(second.isClosed, false);
  } finally {
    await server.shutdown();
  }
});

/** A file descriptor limit low enough that a few dozen connections to the guard reach it. */
const LOW_FD_LIMIT = 200;

/**
 * Lowers the running `http`'s file descriptor limit, takes every descriptor with idle
 * connections, closes them, and waits for `http` to serve again.
 */
async function outlivesRunningOutOfDescriptors(http: HttpProcess): Promise<void> {
  await lowerDescriptorLimit(http.pid, LOW_FD_LIMIT);
  // Each connection costs the guard four descriptors (README): these take them all.
  const connections = [];
  for (let index = 0; index < LOW_FD_LIMIT; index++) {
    connections.push(await rawConnection(http));
  }
  await waitFor(async () => (await socketInodes(http.pid)).size >= LOW_FD_LIMIT - 40, {
    what: "kv http's descriptors to run out",
    intervalMs: PROC_POLL_INTERVAL_MS,
  });
  for (const connection of connections) connection[Symbol.dispose]();
  await waitFor(() => newConnectionServed(http), {
    what: "kv http to serve again once the descriptors were given back",
  });
}

Deno.test({
  name: HAS_PRLIMIT
    ? "kv http's guard outlives running out of file descriptors: once the connections that took them close, it serves again"
    : "guard out of file descriptors (ignored: prlimit is not installed)",
  ignore: !HAS_PRLIMIT,
  fn: async () => {
    // An inner server whose accept failed had ended the process with an uncaught rejection.
    await using served = await HttpProcess.onCluster(1, ["--header-timeout-ms", "10000"]);
    await outlivesRunningOutOfDescriptors(served.http);
  },
});

Deno.test({
  name: HAS_PRLIMIT
    ? "kv http with --tokens-file runs the guard on loopback too: a local program without a token cannot end it by taking every file descriptor"
    : "tokens guard out of file descriptors (ignored: prlimit is not installed)",
  ignore: !HAS_PRLIMIT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const tokens = `${dir}/tokens`;
      await Deno.writeTextFile(tokens, "0123456789abcdef0123\n", { mode: 0o600 });
      // Without the guard, Deno.serve's accept failed with an error nothing could catch.
      await using served = await HttpProcess.onCluster(1, ["--tokens-file", tokens]);
      await outlivesRunningOutOfDescriptors(served.http);
    });
  },
});

Deno.test({
  name: HAS_PRLIMIT
    ? "kv http runs the guard on loopback by default: a local program cannot end it by taking every file descriptor"
    : "loopback guard out of file descriptors (ignored: prlimit is not installed)",
  ignore: !HAS_PRLIMIT,
  fn: async () => {
    // Without the guard, Deno.serve's accept failed with an error nothing could catch in time,
    // and a handled one only stopped it listening.
    await using served = await HttpProcess.onCluster(1);
    await outlivesRunningOutOfDescriptors(served.http);
  },
});

Deno.test({
  name: HAS_PRLIMIT
    ? "kv http --header-timeout-ms 0 (no guard) that runs out of file descriptors stops in one line, exit 1, not with an uncaught error"
    : "unguarded out of file descriptors (ignored: prlimit is not installed)",
  ignore: !HAS_PRLIMIT,
  fn: async () => {
    await using served = await HttpProcess.onCluster(1, ["--header-timeout-ms", "0"]);
    const { http } = served;
    await lowerDescriptorLimit(http.pid, LOW_FD_LIMIT);
    const connections = [];
    try {
      // Deno.serve's accept fails once they took every descriptor, and its listener with it.
      for (let index = 0; index < LOW_FD_LIMIT; index++) {
        connections.push(await rawConnection(http));
      }
    } catch (error) {
      // Refused once the listener is gone; reset when it died while taking this one, or not
      // connected when that reset came before Deno asked the socket for its peer's address
      // (seen twice in five runs of the file at a load of 7 to 10).
      assert.ok(
        error instanceof Deno.errors.ConnectionRefused ||
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.NotConnected,
        String(error),
      );
    } finally {
      for (const connection of connections) connection[Symbol.dispose]();
    }
    await waitFor(() => http.stderr.some((line) => line.includes("stopped listening")), {
      what: "kv http to say it stopped listening",
    });
    assert.equal(await http.stop(), 1);
    assert.deepEqual(http.stderr.filter((line) => /error/.test(line)), [
      "kv http error: stopped listening: Error: Too many open files (os error 24); without the " +
      "connection guard (--header-timeout-ms 0) its accept fails for good once no file " +
      "descriptor is left",
    ]);
  },
});

/**
 * A file of `/proc/PID/`, by `cat`: Deno lets only --allow-all read another process's (the
 * suite grants less).
 */
function procFile(pid: number, name: string): Promise<string> {
  return outputOf("cat", [`/proc/${pid}/${name}`]);
}

/** Ports of the TCP sockets (IPv4 and IPv6) that process `pid` listens on. */
async function tcpListeningPorts(pid: number): Promise<number[]> {
  const inodes = await socketInodes(pid);
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const lines = (await procFile(pid, `net/${table}`)).trim().split("\n");
    for (const line of lines.slice(1)) {
      // sl local_address rem_address st ... inode: state 0A is LISTEN.
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && inodes.has(fields[9])) {
        ports.push(parseInt(fields[1].split(":")[1], 16));
      }
    }
  }
  return ports;
}

/** Paths the Unix domain sockets that process `pid` listens on were bound to. */
async function unixListeningPaths(pid: number): Promise<string[]> {
  const inodes = await socketInodes(pid);
  const lines = (await procFile(pid, "net/unix")).trim().split("\n");
  const paths: string[] = [];
  for (const line of lines.slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path: flag 00010000 is a listening socket.
    const [, , , flags, , , inode, path] = line.trim().split(/\s+/);
    if (inodes.has(inode) && (parseInt(flags, 16) & 0x10000) !== 0 && path !== undefined) {
      paths.push(path);
    }
  }
  return paths;
}

Deno.test("kv http's connection guard listens on no TCP port but its own: its inner server is on a Unix socket in a directory only its user can enter, removed when it stops", async () => {
  await using served = await HttpProcess.onCluster(1, ["--header-timeout-ms", "10000"]);
  const { cluster, http } = served;
  // A connection answered and kept open: its relay and its inner server are up.
  using open = await rawConnection(http);
  await open.conn.write(request("/healthz"));
  await waitFor(() => open.received.includes('"healthy":true'), { what: "an answer" });
  // Its inner server once listened on a port of 127.0.0.1, which any program could reach.
  assert.deepEqual(await tcpListeningPorts(http.pid), [Number(new URL(http.url).port)]);
  const paths = await unixListeningPaths(http.pid);
  assert.equal(paths.length, 1, `one inner server for the one connection: ${paths}`);
  const dir = paths[0].slice(0, paths[0].lastIndexOf("/"));
  const info = await Deno.stat(dir);
  assert.equal(info.mode! & 0o777, 0o700);
  // This user's, as the file this test wrote is (Deno.uid() would need --allow-sys).
  assert.equal(info.uid, (await Deno.stat(cluster.serverFile)).uid);
  assert.equal(await http.stop(), 0);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("kv http refuses to start, in one line, where its connection guard cannot make a Unix socket (TMPDIR too long for one), and leaves no directory behind", async () => {
  await withTempDir(async (dir) => {
    // A socket's path holds 107 bytes at most (sun_path).
    const long = `${dir}/${"d".repeat(110)}`;
    await Deno.mkdir(long);
    // No server answers there: kv http stops before it would need one.
    const servers = `${dir}/servers.txt`;
    await Deno.writeTextFile(servers, "127.0.0.1 1\n");
    const run = await runKv(
      ["http", "-s", servers, "--listen", "127.0.0.1:0", "--header-timeout-ms", "1000"],
      { env: { TMPDIR: long } },
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /^kv http: cannot listen on 127\.0\.0\.1:0: the connection guard cannot make a Unix socket in \S+ \(.+\); set TMPDIR to a shorter directory of this user's\n$/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(long)), []);
    // A TMPDIR that does not exist: named, with what to do, not a stack trace or os error.
    const missing = await runKv(
      ["http", "-s", servers, "--listen", "127.0.0.1:0", "--header-timeout-ms", "1000"],
      { env: { TMPDIR: `${dir}/missing` } },
    );
    assert.deepEqual([missing.code, missing.stderr], [
      2,
      "kv http: cannot listen on 127.0.0.1:0: the connection guard cannot make a directory for " +
      "its sockets in the temporary directory ($TMPDIR, else /tmp): No such file or directory; " +
      "set TMPDIR to a directory of this user's\n",
    ]);
  });
});

Deno.test("kv http's guard shuts down the inner servers a burst of connections left unused for the header deadline, and serves the next connection with a new one", async () => {
  // Long enough that no connection of the burst falls idle past it before all are counted: at
  // 1 s, a load of 30-40 once let the guard close some first (their inner servers with them).
  await using served = await HttpProcess.onCluster(1, ["--header-timeout-ms", "3000"]);
  const { http } = served;
  // Open together, each served by an inner server of its own, then all closed.
  const burst = await Promise.all(Array.from({ length: 20 }, () => rawConnection(http)));
  for (const { conn } of burst) await conn.write(request("/healthz"));
  await waitFor(() => burst.every(({ received }) => received.includes('"healthy":true')), {
    what: "every answer of the burst",
  });
  assert.ok((await unixListeningPaths(http.pid)).length >= burst.length);
  for (const { conn } of burst) conn.close();
  // Each was a listening socket and about 95 kB for good: 1000 of them after 1000 connections.
  await waitFor(async () => (await unixListeningPaths(http.pid)).length === 0, {
    what: "the unused inner servers to be shut down",
    intervalMs: PROC_POLL_INTERVAL_MS,
  });
  using next = await rawConnection(http);
  await next.conn.write(request("/healthz"));
  await waitFor(() => next.received.includes('"healthy":true'), { what: "the next answer" });
});

Deno.test("the connection guard's shutdown lets a request in the handler finish and its answer reach the client, where it closed the connection as the answer left the handler (kv http on SIGTERM cut the 503s of requests waiting on hung servers)", async () => {
  const { promise: held, resolve: release } = Promise.withResolvers<void>();
  const { promise: arrived, resolve: arrive } = Promise.withResolvers<void>();
  const server = await ConnectionGuard.serve({ hostname: "127.0.0.1", port: 0 }, async () => {
    arrive();
    await held;
    return new Response("answered while stopping", { status: 503 });
  });
  const answer = fetch(`http://127.0.0.1:${server.addr.port}/`);
  await withDeadline(arrived, { what: "the request to reach the handler" });
  const stopped = server.shutdown();
  release();
  const response = await withDeadline(answer, { what: "the answer of the request in flight" });
  assert.deepEqual([response.status, await response.text()], [503, "answered while stopping"]);
  await withDeadline(stopped, { what: "the guard to stop" });
});
