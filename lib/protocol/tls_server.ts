/**
 * The server's side of TLS over a TCP connection the caller accepted itself, for `kv server`
 * (lib/server/server.ts) and kv http's connection guard (lib/http/connection_guard.ts): its
 * plain bytes, read and written as a `Deno.Conn`'s are. `Deno.listenTls` cannot serve either:
 * a connection it accepted and closed before its handshake stays open (Deno 2.9.6; its peer
 * still had it 150 s later), so a server's deadlines and connection bound closed nothing and
 * idle connections that never sent a byte took every file descriptor; and `Deno.serve` ends
 * TLS only on a TCP port of its own. `node:tls` runs the handshake over the caller's
 * connection, which closes when told: once its first bytes came (and started a TLS record),
 * over a `node:net` socket opened on a duplicate of its descriptor, where `node:tls` encrypts
 * and writes natively rather than through a JavaScript `Duplex` (some 40% less CPU a GET;
 * README, TLS). A TLS connection holds two descriptors from then on.
 *
 * It imports `node:tls` and `node:net`, about 20 ms of CPU at a start (README, Tests):
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
import { writeAll } from "../base/bytes.ts";
import { closeQuietly } from "../base/disconnect.ts";
import { TlsDescriptorError, TlsUnsupportedError } from "./tls_errors.ts";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { Socket } from "node:net";
import process from "node:process";
import { Buffer } from "node:buffer";

/**
 * Most bytes of the first read, the only one made from the connection itself (node:tls makes
 * the rest): a TLS record's most, so that a whole ClientHello usually comes in it.
 */
const FIRST_READ_BYTES = 16 * 1024 + 5;

/**
 * Plain bytes a session holds unread before it stops reading its connection (a TLS record's
 * most): the peer then waits on TCP, as over a plain connection, where `node:tls` read on
 * while its socket was paused. Below it, no stop and restart per chunk, which a server that
 * reads at once would pay on every request.
 */
const UNREAD_BYTES_LIMIT = 16 * 1024;

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
  /**
   * Sent instead of {@link NOT_TLS_ALERT} to a client whose first bytes start an HTTP/1
   * request (`GET /…`: a plain HTTP client at an HTTPS port), which then closes: an answer it
   * can show, where the alert's seven bytes are no HTTP (curl: `Received HTTP/0.9 when not
   * allowed`); default none, the alert.
   */
  plainHttpAnswer?: Uint8Array;
}

/** The start of an HTTP/1 request: a method in capitals, then a space (`GET /`). */
const HTTP_REQUEST_START = /^[A-Z]{3,10} /;

/** Bytes of a first read looked at for {@link HTTP_REQUEST_START}: the longest method, a space. */
const HTTP_METHOD_BYTES = 11;

/** Whether `bytes`, a client's first, start an HTTP/1 request. */
function startsHttpRequest(bytes: Uint8Array): boolean {
  return HTTP_REQUEST_START.test(String.fromCharCode(...bytes.subarray(0, HTTP_METHOD_BYTES)));
}

/** Options of one session, {@link TlsServerContext.serve}. */
export interface TlsStreamOptions {
  /**
   * Told of each write's plain byte count once the connection took them, encrypted (the
   * native socket counts none of the encrypted ones): the client's progress, which a `write`
   * resolved ahead of (without `writeThrough`); default nothing.
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
  readonly #plainHttpAnswer: Uint8Array | undefined;

  /**
   * Checks `cert` and `key` (PEM): throws, as `Deno.listenTls` does, for bad ones; and a
   * {@link TlsUnsupportedError} on a Deno whose `node:net` this module cannot run over.
   */
  constructor(cert: string, key: string, options: TlsServerContextOptions = {}) {
    tcpWrap();
    this.#secureContext = createSecureContext({ cert, key });
    this.#alpnProtocols = options.alpnProtocols === undefined
      ? undefined
      : [...options.alpnProtocols];
    this.#plainHttpAnswer = options.plainHttpAnswer?.slice();
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
    }, { ...options, plainHttpAnswer: this.#plainHttpAnswer });
  }
}

/** What this module needs of Deno's native TCP handle (`node:net`'s, from `tcp_wrap`). */
interface TcpHandle {
  /** Takes a duplicate of resource `rid`'s socket; a nonzero error code if it cannot. */
  openFromRid(rid: number): number;
  /** Stops reading the socket: the peer then waits on TCP. */
  readStop(): number;
  /** Reads the socket again. */
  readStart(): number;
}

/** Deno's native TCP handle class and its socket type, which `node:net` sockets are made of. */
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SOCKET: number };
}

/**
 * An internal of Deno's `node:net` (Deno 2.9.6's, the version kv pins): checked when a
 * {@link TlsServerContext} is made, so that a Deno without it refuses to serve TLS in one
 * line at the start rather than fail each connection.
 */
function tcpWrap(): TcpWrap {
  if (foundTcpWrap !== undefined) return foundTcpWrap;
  const binding = (process as unknown as { binding(name: "tcp_wrap"): Partial<TcpWrap> })
    .binding("tcp_wrap");
  if (typeof binding.TCP?.prototype.openFromRid !== "function" || !binding.constants) {
    throw new TlsUnsupportedError();
  }
  foundTcpWrap = binding as TcpWrap;
  return foundTcpWrap;
}

/** {@link tcpWrap}'s finding, once made. */
let foundTcpWrap: TcpWrap | undefined;

/**
 * The key under which a `Deno.Conn` keeps its resource id (Deno 2 hides the id behind an
 * unregistered symbol); undefined until the first connection is served.
 */
let ridKey: symbol | undefined;

/**
 * `conn`'s resource id, which a native TCP handle opens the same socket from; looked up along
 * its prototypes, so that a connection wrapped by `Object.create` has it too.
 */
function resourceId(conn: Deno.Conn): number {
  for (let object: object | null = conn; ridKey === undefined && object !== null;) {
    ridKey = Object.getOwnPropertySymbols(object).find((key) =>
      key.description === "Deno.internal.rid"
    );
    object = Object.getPrototypeOf(object);
  }
  const rid = ridKey === undefined
    ? undefined
    : (conn as unknown as Record<symbol, unknown>)[ridKey];
  if (typeof rid !== "number") throw new TlsUnsupportedError();
  return rid;
}

/**
 * A `node:net` socket over the same TCP socket as `conn` (a duplicate descriptor): `node:tls`
 * runs natively over such a socket, where over a JavaScript `Duplex` each chunk took several
 * promises, stream callbacks and the connection's own ops (37–62 µs of CPU a GET against 22–36
 * natively; README, TLS).
 */
function nativeSocket(conn: Deno.Conn): { socket: Socket; handle: TcpHandle } {
  const wrap = tcpWrap();
  const handle = new wrap.TCP(wrap.constants.SOCKET);
  const code = handle.openFromRid(resourceId(conn));
  if (code !== 0) throw new TlsDescriptorError(code);
  // Half-open, as the connection is: a client that ended its writing is still answered.
  const options = { handle, allowHalfOpen: true };
  return { socket: new Socket(options as ConstructorParameters<typeof Socket>[0]), handle };
}

/** Why a client whose first byte is `firstByte` is refused: it starts no TLS record. */
function notTlsFailure(firstByte: number): Error {
  const hex = firstByte.toString(16).padStart(2, "0");
  return new Deno.errors.InvalidData(
    `the client does not speak TLS (its first byte is 0x${hex}, not a TLS handshake's 0x16)`,
  );
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
  readonly #conn: Deno.Conn;
  readonly #writeThrough: boolean;
  readonly #sent: (count: number) => void;
  readonly #plainHttpAnswer: Uint8Array | undefined;
  /** Settles once the first bytes were read and the session began over them, or did not. */
  readonly #started: Promise<void>;
  #socket: TLSSocket | undefined;
  #handle: TcpHandle | undefined;
  /** Plain bytes received and not yet read. */
  readonly #chunks: Uint8Array[] = [];
  /** Their count: past {@link UNREAD_BYTES_LIMIT} the connection is not read until they are. */
  #unread = 0;
  #paused = false;
  #ended = false;
  /** Closed before the session began: it never begins. */
  #closed = false;
  /** The handshake completed: a close then ends the session with `close_notify`. */
  #secure = false;
  /** A close waits for its `close_notify` to go out. */
  #closing = false;
  #failure: unknown;
  #wake: (() => void) | undefined;

  /** Starts the session over `conn`; use {@link TlsServerContext.serve}. */
  constructor(
    conn: Deno.Conn,
    socketOptions: ConstructorParameters<typeof TLSSocket>[1],
    options: TlsStreamOptions & Pick<TlsServerContextOptions, "plainHttpAnswer">,
  ) {
    this.#conn = conn;
    this.#plainHttpAnswer = options.plainHttpAnswer;
    this.#writeThrough = options.writeThrough ?? false;
    this.#sent = options.sent ?? (() => {});
    this.#started = this.#start(socketOptions).catch((error) => {
      // A read that a close interrupted is no failure: the session was closed.
      if (!this.#closed) this.#failure ??= error;
      closeQuietly(conn);
      this.#end();
    });
  }

  /**
   * Reads the client's first bytes from the connection itself, so that bytes that are no
   * TLS get {@link NOT_TLS_ALERT}, then runs `node:tls` natively over the same socket, given
   * those bytes first.
   */
  async #start(socketOptions: ConstructorParameters<typeof TLSSocket>[1]): Promise<void> {
    const conn = this.#conn;
    const buffer = new Uint8Array(FIRST_READ_BYTES);
    const count = await conn.read(buffer);
    if (this.#closed) return;
    if (count === null) {
      closeQuietly(conn);
      return this.#end();
    }
    if (buffer[0] !== TLS_HANDSHAKE_RECORD) {
      this.#failure = notTlsFailure(buffer[0]);
      const plainHttp = this.#plainHttpAnswer !== undefined &&
        startsHttpRequest(buffer.subarray(0, count));
      // A few hundred bytes into a new connection's empty send buffer: this cannot wait on
      // the peer.
      await writeAll(conn, plainHttp ? this.#plainHttpAnswer! : NOT_TLS_ALERT).catch(() => {});
      closeQuietly(conn);
      return this.#end();
    }
    const { socket: raw, handle } = nativeSocket(conn);
    this.#handle = handle;
    raw.unshift(Buffer.from(buffer.buffer, 0, count));
    const socket = new TLSSocket(raw, socketOptions);
    this.#socket = socket;
    this.#listen(socket);
  }

  /** Keeps `socket`'s plain bytes for `read`, paused while any are unread, and its end. */
  #listen(socket: TLSSocket): void {
    socket.on("secure", () => this.#secure = true);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#unread += chunk.length;
      if (!this.#paused && this.#unread >= UNREAD_BYTES_LIMIT) {
        this.#paused = true;
        socket.pause();
        // Pausing node:tls's socket stops its events, not its reading of the connection.
        this.#handle?.readStop();
      }
      this.#notify();
    });
    socket.on("end", () => this.#end());
    // Both descriptors: the native socket's duplicate and the connection's own.
    socket.on("close", () => {
      closeQuietly(this.#conn);
      this.#end();
    });
    socket.on("error", (error) => {
      this.#failure ??= error;
      this.#end();
    });
    // A failure after the handshake (a record that does not decrypt) comes only as this
    // internal event on a socket no `tls.Server` made (node:tls, as Deno 2.9.6 has it): with
    // no listener the session sent its alert and hung, unlogged, until the peer closed.
    socket.on("_tlsError", (error: Error) => {
      this.#failure ??= error;
      socket.destroy();
    });
  }

  /**
   * Whether the handshake completed: a failure after it (a corrupt record, a fatal alert) is
   * the session's, not a refused handshake's.
   */
  get handshakeDone(): boolean {
    return this.#secure;
  }

  /**
   * Reads plain bytes into `buffer`: how many, or null once the peer ended; throws if the
   * session failed (a bad handshake, bytes that are no TLS, the connection reset).
   *
   * @example
   * ```ts
   * declare const stream: TlsServerStream; // from TlsServerContext.serve
   * const buffer = new Uint8Array(16 * 1024);
   * const count = await stream.read(buffer); // plain bytes the client sent, or null at its end
   * stream.close();
   * ```
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
    }
    this.#unread -= count;
    if (this.#paused && this.#chunks.length === 0 && !this.#ended) {
      this.#paused = false;
      this.#handle?.readStart();
      this.#socket?.resume();
    }
    return count;
  }

  /**
   * Sends `bytes`; resolves to their count once taken (see
   * {@link TlsStreamOptions.writeThrough}), rejects with `Deno.errors.BrokenPipe` once the
   * session is closed.
   *
   * @example
   * ```ts
   * declare const stream: TlsServerStream; // from TlsServerContext.serve
   * await stream.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n")); // 19
   * stream.close();
   * ```
   */
  async write(bytes: Uint8Array): Promise<number> {
    if (this.#socket === undefined) await this.#started;
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) throw new Deno.errors.BrokenPipe("closed");
    // Called once the encrypted bytes are written to the connection.
    const written = (error?: Error | null) => {
      const ok = error === undefined || error === null;
      if (ok) this.#sent(bytes.length);
      return ok;
    };
    if (!this.#writeThrough) {
      // Copied: node:tls keeps them past the return, the caller reuses them.
      if (socket.write(bytes.slice(), written)) return bytes.length;
    }
    return await new Promise((resolve, reject) => {
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
        // `bytes` need no copy: they are read until the callback.
        socket.write(bytes, (error) => settle(!written(error)));
      } else {
        socket.on("drain", drained);
      }
    });
  }

  /**
   * Ends the session's writing (TLS close_notify, then the connection's).
   *
   * @example
   * ```ts
   * declare const stream: TlsServerStream; // from TlsServerContext.serve
   * await stream.write(new TextEncoder().encode("bye\n"));
   * await stream.closeWrite(); // the client reads its end; it may still send
   * ```
   */
  async closeWrite(): Promise<void> {
    if (this.#socket === undefined) await this.#started;
    this.#socket?.end();
  }

  /**
   * Closes the session and its connection: at once before the handshake completed; after it,
   * once `close_notify` (what tells the client the end is not an attack's cut) reached the
   * connection, or after {@link CLOSE_NOTIFY_TIMEOUT_MS} if it cannot.
   *
   * @example
   * ```ts
   * declare const stream: TlsServerStream; // from TlsServerContext.serve
   * stream.close(); // close_notify first, when the handshake completed
   * ```
   */
  close(): void {
    const socket = this.#socket;
    if (socket === undefined) {
      this.#closed = true;
      closeQuietly(this.#conn);
      return this.#end();
    }
    if (socket.destroyed || this.#closing) return;
    if (!this.#secure || socket.writableFinished) {
      socket.destroy();
      return;
    }
    this.#closing = true;
    const timer = setTimeout(() => socket.destroy(), CLOSE_NOTIFY_TIMEOUT_MS);
    // Finished once the connection's writing ended, after every byte written before it.
    socket.once("finish", () => socket.destroy());
    socket.once("close", () => clearTimeout(timer));
    if (!socket.writableEnded) socket.end();
  }

  #end(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
