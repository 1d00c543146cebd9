/**
 * The server's side of TLS over a connection the caller accepted itself, for kv http's
 * connection guard (lib/http/connection_guard.ts): its plain bytes, read and written as a
 * `Deno.Conn`'s are. `Deno.listenTls` cannot serve it: a connection it accepted and closed
 * before its handshake stays open (Deno 2.9.6; its peer still had it 3 s later), and
 * `Deno.serve` ends TLS only on a TCP port of its own, which any program on the machine can
 * reach. `node:tls` runs the handshake over the caller's connection, which closes when told.
 *
 * @example
 * ```ts
 * import { TlsServerStream, tlsContext } from "./tls_relay.ts";
 * const certPem = await Deno.readTextFile("cert.pem");
 * const keyPem = await Deno.readTextFile("key.pem");
 * const listener = Deno.listen({ port: 8443 });
 * const context = tlsContext(certPem, keyPem);
 * const stream = new TlsServerStream(await listener.accept(), context);
 * const count = await stream.read(new Uint8Array(1024)); // the client's first plain bytes
 * stream.close();
 * ```
 * @module
 */
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { Duplex } from "node:stream";

/** Protocols offered by ALPN, as `Deno.serve` offers them: HTTP/2 first. */
const ALPN_PROTOCOLS = ["h2", "http/1.1"];

/**
 * Bytes read from the connection at a time: what the guard relays per read, so that a TLS
 * connection costs about the memory of a plain one.
 */
const READ_BYTES = 16 * 1024;

/**
 * The certificate chain and key, checked: throws as `Deno.serve` does for a bad certificate.
 *
 * @example
 * ```ts
 * const context = tlsContext(await Deno.readTextFile("cert.pem"), await Deno.readTextFile("key.pem"));
 * ```
 */
export function tlsContext(cert: string, key: string): SecureContext {
  return createSecureContext({ cert, key });
}

/**
 * `conn` as the `Duplex` that `node:tls` reads the encrypted bytes from and writes them to;
 * `sent` is told of each write's bytes as `conn` takes them.
 */
function connDuplex(conn: Deno.Conn, sent: (count: number) => void): Duplex {
  return new Duplex({
    read() {
      const buffer = new Uint8Array(READ_BYTES);
      conn.read(buffer).then(
        (count) => this.push(count === null ? null : buffer.subarray(0, count)),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      writeAll(conn, chunk, sent).then(() => callback(), callback);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), callback);
    },
    destroy(error, callback) {
      closeQuietly(conn);
      callback(error);
    },
  });
}

async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
  sent: (count: number) => void,
): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    const count = await conn.write(bytes.subarray(written));
    sent(count);
    written += count;
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * A TLS server's session over `conn`, whose plain bytes are read and written as a
 * connection's: `read` fills a buffer (null at the end), `write` resolves once the bytes are
 * taken (or waits while the peer reads slower than it is written to), `close` closes `conn`
 * whether or not the handshake began.
 *
 * @example
 * ```ts
 * const cert = await Deno.readTextFile("cert.pem");
 * const key = await Deno.readTextFile("key.pem");
 * const conn = await Deno.listen({ port: 8443 }).accept();
 * const stream = new TlsServerStream(conn, tlsContext(cert, key));
 * await stream.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n"));
 * ```
 */
export class TlsServerStream {
  readonly #socket: TLSSocket;
  /** Plain bytes received and not yet read; the socket is paused while there are any. */
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #failure: unknown;
  #wake: (() => void) | undefined;

  /**
   * Starts the session over `conn` (the handshake as the client's bytes come); `sent` is told
   * how many encrypted bytes `conn` took each time, which is the client's progress: `write`
   * resolves ahead of it, as `node:tls` takes a megabyte or more before it waits.
   */
  constructor(conn: Deno.Conn, context: SecureContext, sent: (count: number) => void = () => {}) {
    const socket = new TLSSocket(connDuplex(conn, sent), {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ALPN_PROTOCOLS,
    });
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      socket.pause();
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error) => {
      this.#failure = error;
      end();
    });
  }

  /**
   * Reads plain bytes into `buffer`: how many, or null once the peer ended; throws if the
   * session failed (a bad handshake, the connection reset).
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0];
    if (chunk === undefined) {
      if (this.#failure !== undefined) throw this.#failure;
      return null;
    }
    const count = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, count));
    if (count < chunk.length) {
      this.#chunks[0] = chunk.subarray(count);
    } else {
      this.#chunks.shift();
      if (this.#chunks.length === 0) this.#socket.resume();
    }
    return count;
  }

  /** Sends `bytes` (copied: the caller may reuse them); resolves to their count once taken. */
  write(bytes: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("closed"));
    if (socket.write(bytes.slice())) return Promise.resolve(bytes.length);
    return new Promise((resolve, reject) => {
      const settle = (closed: boolean) => {
        socket.off("drain", drained);
        socket.off("close", gone);
        if (closed) reject(new Deno.errors.BrokenPipe("closed"));
        else resolve(bytes.length);
      };
      const drained = () => settle(false);
      const gone = () => settle(true);
      socket.on("drain", drained);
      socket.on("close", gone);
    });
  }

  /** Ends the session's writing (TLS close_notify, then the connection's). */
  closeWrite(): Promise<void> {
    this.#socket.end();
    return Promise.resolve();
  }

  /** Closes the session and its connection at once. */
  close(): void {
    this.#socket.destroy();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
