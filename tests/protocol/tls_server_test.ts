import assert from "node:assert/strict";
import { TlsServerContext, type TlsServerStream } from "../../lib/protocol/tls_server.ts";
import { type TestCerts, tlsTest } from "../helpers/tls_certs.ts";
import { nextTurn, withDeadline } from "../helpers/wait.ts";

/** What a TLS server answers bytes that are no TLS: a fatal decode_error alert record. */
const NOT_TLS_ALERT = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];

/**
 * A listener whose connections are served TLS with `certs` (writeThrough, as kv server
 * does), each stream handed to `serve` with the count of plain bytes whose encryption its
 * connection took so far.
 */
async function withTlsServer(
  certs: TestCerts,
  serve: (stream: TlsServerStream, sentBytes: () => number) => Promise<void>,
  test: (port: number) => Promise<void>,
): Promise<void> {
  const context = new TlsServerContext(
    await Deno.readTextFile(certs.serverPem),
    await Deno.readTextFile(certs.serverKey),
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      let sent = 0;
      const stream = context.serve(conn, { writeThrough: true, sent: (count) => sent += count });
      served.push(serve(stream, () => sent));
    }
  })();
  try {
    await test(listener.addr.port);
  } finally {
    listener.close();
    await accepting;
    await withDeadline(Promise.all(served), { what: "the server's sessions to end" });
  }
}

/** Every byte `conn` receives until its end, or the error that ended it. */
async function readToEnd(conn: Deno.Conn): Promise<{ bytes: number[]; error?: string }> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
      bytes.push(...buffer.subarray(0, count));
    }
    return { bytes };
  } catch (error) {
    return { bytes, error: (error as Error).name };
  }
}

/** A TLS client of `port` on localhost that trusts `certs`' CA. */
async function connectTrusting(certs: TestCerts, port: number): Promise<Deno.TlsConn> {
  return await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [await Deno.readTextFile(certs.caPem)],
  });
}

tlsTest(
  "a first byte that starts no TLS record is answered with a TLS alert and the hang-up, and the session's read fails with InvalidData",
  async (certs) => {
    let failure: unknown;
    const serve = async (stream: TlsServerStream) => {
      await stream.read(new Uint8Array(100)).catch((error) => failure = error);
      stream.close();
    };
    await withTlsServer(certs, serve, async (port) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      // A kv HELLO frame's first bytes: its length.
      await conn.write(new Uint8Array([0, 0, 0, 7, 1, 0, 0, 0, 1, 0, 7]));
      const answer = await withDeadline(readToEnd(conn), { what: "the server's answer" });
      conn.close();
      assert.deepEqual(answer, { bytes: NOT_TLS_ALERT });
    });
    assert(failure instanceof Deno.errors.InvalidData, String(failure));
    assert.match(failure.message, /^the client does not speak TLS \(its first byte is 0x00,/);
  },
);

tlsTest(
  "a session closed before its client sent a byte closes the TCP connection, and a client that leaves before its handshake ends the read as a disconnect (null)",
  async (certs) => {
    const reads: (number | null | string)[] = [];
    const serve = async (stream: TlsServerStream) => {
      // The first client sends nothing: closed as a server's deadline would close it.
      if (reads.length === 0) {
        reads.push("closed unread");
        stream.close();
        return;
      }
      reads.push(await stream.read(new Uint8Array(100)).catch((error) => String(error)));
      stream.close();
    };
    await withTlsServer(certs, serve, async (port) => {
      const idle = await Deno.connect({ hostname: "127.0.0.1", port });
      // Deno.listenTls kept such a connection open for good (its peer still had it 150 s on).
      const ended = await withDeadline(readToEnd(idle), { what: "the idle connection's end" });
      idle.close();
      assert.deepEqual(ended, { bytes: [] });
      const leaving = await Deno.connect({ hostname: "127.0.0.1", port });
      // Half a ClientHello's record header, then gone.
      await leaving.write(new Uint8Array([0x16, 0x03, 0x01]));
      leaving.close();
    });
    assert.deepEqual(reads, ["closed unread", null]);
  },
);

tlsTest(
  "with writeThrough a write resolves only once its bytes, encrypted, left for the connection",
  async (certs) => {
    const answer = new Uint8Array(1000);
    let sentByWrite = -1;
    const serve = async (stream: TlsServerStream, sentBytes: () => number) => {
      // The first plain byte comes after the handshake: what was sent so far is its part.
      await stream.read(new Uint8Array(100));
      const before = sentBytes();
      await stream.write(answer);
      sentByWrite = sentBytes() - before;
      stream.close();
    };
    await withTlsServer(certs, serve, async (port) => {
      const conn = await connectTrusting(certs, port);
      await conn.write(new Uint8Array([1]));
      await withDeadline(readToEnd(conn), { what: "the server's answer" });
      conn.close();
    });
    // Without it, the write resolved as node:tls took the bytes: none had left yet.
    assert(sentByWrite >= answer.length, `${sentByWrite} bytes sent when the write resolved`);
  },
);

tlsTest(
  "a close after the handshake sends every byte written, then close_notify: the client reads them all and a clean end",
  async (certs) => {
    const answer = new Uint8Array(100).fill(0x41);
    const serve = async (stream: TlsServerStream) => {
      await stream.read(new Uint8Array(100));
      // Not awaited: the close itself must let it out.
      stream.write(answer).catch(() => {});
      stream.close();
    };
    await withTlsServer(certs, serve, async (port) => {
      const conn = await connectTrusting(certs, port);
      await conn.write(new Uint8Array([1]));
      const got = await withDeadline(readToEnd(conn), { what: "the server's answer" });
      conn.close();
      // Closed at once (node:tls's destroy), the client got none of them, then UnexpectedEof;
      // Deno.listenTls's close sent close_notify, which kv's client takes for a clean end.
      assert.deepEqual(got, { bytes: [...answer] });
    });
  },
);

/**
 * `conn` with a count of the bytes read from it: what the session took from the network,
 * held in memory until its plain bytes are read.
 */
function countingReads(conn: Deno.Conn): { conn: Deno.Conn; taken: () => number } {
  let taken = 0;
  const counted = Object.create(conn) as Deno.Conn;
  counted.read = async (buffer) => {
    const count = await conn.read(buffer);
    taken += count ?? 0;
    return count;
  };
  for (const name of ["write", "close", "closeWrite"] as const) {
    Object.defineProperty(counted, name, { value: conn[name].bind(conn) });
  }
  return { conn: counted, taken: () => taken };
}

tlsTest(
  "a session whose plain bytes are not read takes no more from its connection: a client sending to a server that reads nothing waits on TCP, as over a plain connection",
  async (certs) => {
    const context = new TlsServerContext(
      await Deno.readTextFile(certs.serverPem),
      await Deno.readTextFile(certs.serverKey),
    );
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await connectTrusting(certs, listener.addr.port);
    const server = countingReads(await listener.accept());
    const stream = context.serve(server.conn);
    try {
      await client.write(new Uint8Array([1]));
      // The first plain byte, after the handshake; nothing is read after it.
      assert.equal(await withDeadline(stream.read(new Uint8Array(1)), { what: "a byte" }), 1);
      // Up to 64 MiB, until a write stays pending for 50 turns of the event loop (the
      // sockets' buffers full): before, node:tls read all of it into memory.
      const chunk = new Uint8Array(1024 * 1024);
      let written = 0;
      while (written < 64 * chunk.length) {
        let done = false;
        const write = client.write(chunk).then((count) => (done = true, count));
        // The pending one fails as the client closes below.
        write.catch(() => {});
        for (let turn = 0; turn < 50 && !done; turn++) await nextTurn();
        if (!done) break;
        written += await write;
      }
      assert(written < 64 * chunk.length, "every write went through: the server took all");
      // What the session read of the connection itself: its first bytes (a record at most);
      // node:tls reads the rest natively, stopped as `written` shows.
      assert(server.taken() <= 64 * 1024, `the session took ${server.taken()} bytes`);
    } finally {
      stream.close();
      client.close();
    }
  },
);

tlsTest(
  "a client that ended its writing is still answered: the session reads its bytes, then its end, and writes after it",
  async (certs) => {
    const answer = new Uint8Array(100).fill(0x42);
    let read: (number | null)[] = [];
    const serve = async (stream: TlsServerStream) => {
      const buffer = new Uint8Array(100);
      read = [await stream.read(buffer), await stream.read(buffer)];
      await stream.write(answer);
      stream.close();
    };
    await withTlsServer(certs, serve, async (port) => {
      const conn = await connectTrusting(certs, port);
      await conn.write(new Uint8Array([1, 2, 3]));
      await conn.closeWrite();
      const got = await withDeadline(readToEnd(conn), { what: "the server's answer" });
      conn.close();
      // node:net's sockets end their writing with the peer's by default: the answer failed.
      assert.deepEqual(got, { bytes: [...answer] });
    });
    assert.deepEqual(read, [3, null]);
  },
);
