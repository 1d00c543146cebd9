/**
 * The server's side of TLS over a TCP connection the caller accepted itself, for `kv server`
 * (lib/server/server.ts) and kv http's connection guard (lib/http/connection_guard.ts): its
 * plain bytes, read and written as a `Deno.Conn`'s are. `Deno.listenTls` cannot serve either:
 * a connection it accepted and closed before its handshake stays open (Deno 2.9.6; its peer
 * still had it 150 s later), so a server's deadlines and connection bound closed nothing and
 * idle connections that never sent a byte took every file descriptor; and `Deno.serve` ends
 * TLS only on a TCP port of its own. `node:tls` runs the handshake over the caller's
 * connection, which closes when told.
 *
 * It imports `node:tls` and `node:stream`, about 20 ms of CPU at a start (README, Tests):
 * import it only when serving TLS, with `await import(...)`.
 *
 * @example
 * ```ts
 * import { TlsServerContext } from "./tls_server.ts";
 * const cert = await Deno.readTextFile("cert.pem");
 * const key = await Deno.readTextFile("key.pem");
 * const context = new TlsServerContext(cert, key);
 * const listener = Deno.listen({ port: 8443 });
 * const stream = context.serve(await listener.accept());
 * const count = await stream.read(new Uint8Array(1024)); // the client's first plain bytes
 * stream.close();
 * ```
 * @module
 */
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { Duplex } from "node:stream";

/**
 * Bytes read from the connection at a time: what the guard relays per read, so that a TLS
 * connection costs about the memory of a plain one.
 */
const READ_BYTES = 16 * 1024;

/** The first byte of a TLS client's first record: a handshake (its ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * A fatal `decode_error` alert in a TLS 1.2 record (type 0x15, version 3.3, two bytes):
 * what a TLS server answers bytes that are no TLS with, as `Deno.listenTls` (rustls) did.
 * kv's plain-TCP client tells a TLS server by it (lib/protocol/client.ts, `isTlsAlert`);
 * `node:tls` itself hangs up without a byte.
 */
const NOT_TLS_ALERT = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32);

/**
 * Longest a close waits for its `close_notify` to reach the connection before closing it
 * anyway: a peer that reads nothing cannot hold the connection open by it.
 */
const CLOSE_NOTIFY_TIMEOUT_MS = 1000;

/** Options of a {@link TlsServerContext}. */
export interface TlsServerContextOptions {
  /** Protocols offered by ALPN, preferred first; default none (kv's own protocol needs none). */
  alpnProtocols?: readonly string[];
}

/** Options of one session, {@link TlsServerContext.serve}. */
export interface TlsStreamOptions {
  /**
   * Told how many encrypted bytes the connection took each time: the client's progress,
   * which a `write` resolved ahead of (without `writeThrough`); default nothing.
   */
  sent?: (count: number) => void;
  /**
   * `write` resolves once the connection took the bytes, encrypted, as a plain `Deno.Conn`'s
   * does, rather than once `node:tls` took them (a megabyte or more ahead of a client that
   * reads slowly); default false. kv server counts an answer against its memory budget until
   * its write resolves, and closes a connection right after a last answer: both need it.
   */
  writeThrough?: boolean;
}

/**
 * A certificate chain and key to serve TLS with, and the ALPN protocols offered; each
 * accepted connection becomes a {@link TlsServerStream} by {@link TlsServerContext.serve}.
 *
 * @example
 * ```ts
 * const context = new TlsServerContext(
 *   await Deno.readTextFile("cert.pem"),
 *   await Deno.readTextFile("key.pem"),
 *   { alpnProtocols: ["h2", "http/1.1"] },
 * );
 * ```
 */
export class TlsServerContext {
  readonly #secureContext: SecureContext;
  readonly #alpnProtocols: string[] | undefined;

  /** Checks `cert` and `key` (PEM): throws, as `Deno.listenTls` does, for bad ones. */
  constructor(cert: string, key: string, options: TlsServerContextOptions = {}) {
    this.#secureContext = createSecureContext({ cert, key });
    this.#alpnProtocols = options.alpnProtocols === undefined
      ? undefined
      : [...options.alpnProtocols];
  }

  /**
   * A TLS server's session over `conn`, just accepted: the handshake runs as the client's
   * bytes come.
   *
   * @example
   * ```ts
   * const context = new TlsServerContext(
   *   await Deno.readTextFile("cert.pem"),
   *   await Deno.readTextFile("key.pem"),
   * );
   * const stream = context.serve(await Deno.listen({ port: 8443 }).accept());
   * ```
   */
  serve(conn: Deno.Conn, options: TlsStreamOptions = {}): TlsServerStream {
    return new TlsServerStream(conn, {
      isServer: true,
      secureContext: this.#secureContext,
      ALPNProtocols: this.#alpnProtocols,
    }, options);
  }
}

/**
 * `conn` as the `Duplex` that `node:tls` reads the encrypted bytes from and writes them to;
 * `sent` is told of each write's bytes as `conn` takes them. Each read from `conn` first
 * awaits `wanted`: node:tls asks for more as fast as the peer sends, its socket paused or
 * not, so without it a peer sending to a server that reads nothing had all of it held in
 * memory (400 MiB in 8 s), where a plain connection stops at the kernel's buffers. Its first
 * bytes must start a TLS record: any other first byte is answered with
 * {@link NOT_TLS_ALERT}, `notTls` is told why (node:tls, seeing the duplex fail, says only
 * that it closed), and the duplex closes.
 */
function connDuplex(
  conn: Deno.Conn,
  sent: (count: number) => void,
  notTls: (failure: Error) => void,
  wanted: () => Promise<void>,
): Duplex {
  let first = true;
  return new Duplex({
    read() {
      const buffer = new Uint8Array(READ_BYTES);
      wanted().then(() => conn.read(buffer)).then(
        (count) => {
          if (count !== null && first) {
            first = false;
            if (buffer[0] !== TLS_HANDSHAKE_RECORD) {
              notTls(notTlsFailure(buffer[0]));
              // Seven bytes into a new connection's empty send buffer: this cannot wait on
              // the peer.
              writeAll(conn, NOT_TLS_ALERT, () => {}).catch(() => {}).finally(() => this.destroy());
              return;
            }
          }
          this.push(count === null ? null : buffer.subarray(0, count));
        },
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

/** Why a client whose first byte is `firstByte` is refused: it starts no TLS record. */
function notTlsFailure(firstByte: number): Error {
  const hex = firstByte.toString(16).padStart(2, "0");
  return new Deno.errors.InvalidData(
    `the client does not speak TLS (its first byte is 0x${hex}, not a TLS handshake's 0x16)`,
  );
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
 * A TLS server's session over a connection, whose plain bytes are read and written as a
 * connection's: `read` fills a buffer (null at the end, also when the peer left before the
 * handshake ended), `write` resolves once the bytes are taken (see
 * {@link TlsStreamOptions.writeThrough}; it waits while the peer reads slower than it is
 * written to), `close` closes the connection whether or not the handshake began. Made by
 * {@link TlsServerContext.serve}.
 *
 * @example
 * ```ts
 * const context = new TlsServerContext(
 *   await Deno.readTextFile("cert.pem"),
 *   await Deno.readTextFile("key.pem"),
 * );
 * const stream = context.serve(await Deno.listen({ port: 8443 }).accept());
 * await stream.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n"));
 * ```
 */
export class TlsServerStream {
  readonly #socket: TLSSocket;
  readonly #duplex: Duplex;
  readonly #writeThrough: boolean;
  /** Plain bytes received and not yet read; the socket is paused while there are any. */
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  /** The handshake completed: a close then ends the session with `close_notify`. */
  #secure = false;
  /** A close waits for its `close_notify` to go out. */
  #closing = false;
  #failure: unknown;
  #wake: (() => void) | undefined;
  /** Resolves the connection's wait for the plain bytes to be read ({@link connDuplex}). */
  #wantMore: (() => void) | undefined;

  /** Starts the session over `conn`; use {@link TlsServerContext.serve}. */
  constructor(
    conn: Deno.Conn,
    socketOptions: ConstructorParameters<typeof TLSSocket>[1],
    options: TlsStreamOptions,
  ) {
    const notTls = (failure: Error) => this.#failure = failure;
    this.#duplex = connDuplex(conn, options.sent ?? (() => {}), notTls, () => this.#wanted());
    this.#writeThrough = options.writeThrough ?? false;
    const socket = new TLSSocket(this.#duplex, socketOptions);
    this.#socket = socket;
    socket.on("secure", () => this.#secure = true);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      socket.pause();
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
      this.#releaseConnection();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error) => {
      this.#failure ??= error;
      end();
    });
  }

  /**
   * Reads plain bytes into `buffer`: how many, or null once the peer ended; throws if the
   * session failed (a bad handshake, bytes that are no TLS, the connection reset).
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
      if (this.#chunks.length === 0) {
        this.#socket.resume();
        this.#releaseConnection();
      }
    }
    return count;
  }

  /**
   * Sends `bytes`; resolves to their count once taken (see
   * {@link TlsStreamOptions.writeThrough}), rejects with `Deno.errors.BrokenPipe` once the
   * session is closed.
   */
  write(bytes: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("closed"));
    // Without writeThrough, copied: node:tls keeps them past the return, the caller reuses them.
    if (!this.#writeThrough && socket.write(bytes.slice())) return Promise.resolve(bytes.length);
    return new Promise((resolve, reject) => {
      const settle = (closed: boolean) => {
        socket.off("drain", drained);
        socket.off("close", gone);
        if (closed) reject(new Deno.errors.BrokenPipe("closed"));
        else resolve(bytes.length);
      };
      const drained = () => settle(false);
      const gone = () => settle(true);
      socket.on("close", gone);
      if (this.#writeThrough) {
        // Called once the encrypted bytes are written to the connection, so `bytes` need no
        // copy: they are read until then.
        socket.write(bytes, (error) => settle(error !== undefined && error !== null));
      } else {
        socket.on("drain", drained);
      }
    });
  }

  /** Ends the session's writing (TLS close_notify, then the connection's). */
  closeWrite(): Promise<void> {
    this.#socket.end();
    return Promise.resolve();
  }

  /**
   * Closes the session and its connection: at once before the handshake completed; after it,
   * once `close_notify` (what tells the client the end is not an attack's cut) reached the
   * connection, or after {@link CLOSE_NOTIFY_TIMEOUT_MS} if it cannot.
   */
  close(): void {
    const socket = this.#socket;
    if (socket.destroyed || this.#closing) return;
    if (!this.#secure || this.#duplex.writableFinished) {
      socket.destroy();
      return;
    }
    this.#closing = true;
    const timer = setTimeout(() => socket.destroy(), CLOSE_NOTIFY_TIMEOUT_MS);
    // The connection's writing ends (its `final`) after every byte written before it.
    this.#duplex.once("finish", () => socket.destroy());
    socket.once("close", () => clearTimeout(timer));
    if (!socket.writableEnded) socket.end();
  }

  /**
   * Resolves once the plain bytes received were all read (or the session ended): until then
   * nothing more is read from the connection, so a peer sending faster than the server reads
   * waits on its TCP window, as with a plain connection.
   */
  #wanted(): Promise<void> {
    if (this.#chunks.length === 0 || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#wantMore = resolve);
  }

  #releaseConnection(): void {
    const release = this.#wantMore;
    this.#wantMore = undefined;
    release?.();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
