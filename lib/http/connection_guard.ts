/**
 * Deadlines and a bound that `Deno.serve` lacks. `Deno.serve` waits for a request's
 * headers for ever (Deno 2.9 has no header or idle timeout): a client that sends its
 * headers a byte a minute, or opens a connection and sends nothing, holds it for good, and
 * enough such clients every file descriptor (slowloris). {@link ConnectionGuard} accepts
 * the connections itself, closes each that carries no request in the handler and has had
 * no byte of an answer's body delivered for `headerTimeoutMs` (bytes an HTTP/2 client draws
 * without a request, such as PING acknowledgements, do not count), keeps at most
 * `maxConnections` open (closing one with no request in the handler to make room), ends TLS
 * itself (lib/protocol/tls_server.ts), and relays the plain bytes to a `Deno.serve` that
 * serves that connection alone, on a Unix domain socket, whose handler
 * tells the guard when a request's headers are complete; freed, it serves a later one. The
 * sockets are in a directory only this user can enter (0700), so no other user's program
 * can reach a server without the guard's deadlines, as any could one on a loopback port.
 * The relay costs about as much CPU as `Deno.serve` itself (README, `kv http`).
 *
 * @example
 * ```ts
 * import { ConnectionGuard } from "./connection_guard.ts";
 * const server = await ConnectionGuard.serve(
 *   { hostname: "127.0.0.1", port: 8080 },
 *   () => new Response("hello"),
 * );
 * await server.shutdown();
 * ```
 * @module
 */
import { describeError } from "../base/describe_error.ts";
import { closeQuietly, isDisconnect } from "../base/disconnect.ts";
import { describeFsError, isFsError } from "../base/fs_error.ts";
import { invariant } from "../base/invariant.ts";
import type { TlsServerContext } from "../protocol/tls_server.ts";
import { SocketDir } from "./socket_dir.ts";

/** Protocols offered by ALPN, as `Deno.serve` offers them: HTTP/2 first. */
const ALPN_PROTOCOLS = ["h2", "http/1.1"];

/**
 * The answer to a plain HTTP request at the port of a guard serving HTTPS, which then closes
 * the connection: the TLS alert others get is no HTTP, and HTTP clients showed it as a
 * broken answer (`Received HTTP/0.9 when not allowed`). An error as the API's are.
 */
const PLAIN_HTTP_ANSWER: Uint8Array = (() => {
  const body = JSON.stringify({
    error: "this port speaks HTTPS (kv http --tls-cert): use https://, not http://",
  });
  return new TextEncoder().encode(
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n" +
      "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nX-Frame-Options: DENY\r\n" +
      "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n" +
      "Connection: close\r\n" +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
})();

/**
 * A new {@link SocketDir}, or an Error that says in one line why there can be none and what
 * to do: kv run without --allow-write, a TMPDIR that does not exist or is not this user's.
 */
function madeSocketDir(): SocketDir {
  try {
    return SocketDir.make();
  } catch (error) {
    if (!isFsError(error)) throw error;
    const reason = describeFsError(error);
    // Deno's refusal says what to do already; for the system's, the directory is the fix.
    const advice = error instanceof Deno.errors.NotCapable
      ? ""
      : "; set TMPDIR to a directory of this user's";
    throw new Error(
      `the connection guard cannot make a directory for its sockets in the temporary ` +
        `directory ($TMPDIR, else /tmp): ${reason}${advice}`,
    );
  }
}

/**
 * Longest wait by default, in ms, for a request's complete headers after a connection
 * opens or its previous answer was delivered: also how long an idle connection is kept.
 */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/**
 * Connections served at once by default; past it one with no request in the handler makes
 * room for a new one (ConnectionGuard's #makeRoom), which is closed when there is none. Each
 * costs four file descriptors (the client's, both ends of the relay, and its server's listening
 * socket) and about 90 kB with its inner server and two {@link RELAY_BUFFER_BYTES} buffers
 * (1000 held open took 87 MB more): some 350 MB for 4096.
 */
export const DEFAULT_MAX_CONNECTIONS = 4096;
/** Pause after a failed accept (no file descriptor left): retrying at once would spin. */
const ACCEPT_RETRY_MS = 100;
/**
 * Bytes relayed per read, each way: a request or answer of the usual size in one, and small
 * enough that the connections an attacker can open cost little memory while they wait.
 */
export const RELAY_BUFFER_BYTES = 16 * 1024;
/**
 * Slowest rate, in bytes a second, at which an answer's body counts as delivered: bytes
 * relayed count as its progress only for the deadline plus its size at this rate. An
 * HTTP/2 client that grants no flow-control window (or resets the stream) is sent none of
 * the body, and the acknowledgements of its PINGs, relayed in its place, held the connection
 * for as long as the body's bytes would have lasted, 17 at a time. 128 kbit/s.
 */
export const MIN_ANSWER_BYTES_PER_SECOND = 16 * 1024;
/**
 * Longest pause between two looks for connections past the deadline, in ms; a deadline
 * shorter than four of them is looked at four times a deadline. One timer for every
 * connection, not one re-armed per request, which cost a quarter of the relay's CPU.
 */
const MAX_SWEEP_INTERVAL_MS = 1000;
/**
 * Longest wait, in ms, for an inner server to end its side of a closed connection (it
 * finishes a request still in the handler first) before it serves the next connection;
 * past it the server is shut down instead, and another started when one is needed.
 */
const INNER_RELEASE_MS = 1000;

/**
 * Why the guard closed a connection: `header_timeout`, no request within the deadline (slow
 * headers or handshake, or idle); `over_limit`, `maxConnections` open: one with no
 * request in the handler, to make room for a new one, or the new one when there is none.
 */
export type GuardClosure = "header_timeout" | "over_limit";

/** Where and how {@link ConnectionGuard.serve} listens. */
export interface GuardOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port to listen on; 0 for any free one. */
  port: number;
  /** TLS certificate chain (PEM), with `key`: serve HTTPS. Default plain HTTP. */
  cert?: string;
  /** The certificate's private key (PEM), with `cert`; default none (plain HTTP). */
  key?: string;
  /** See {@link DEFAULT_HEADER_TIMEOUT_MS}; default that. */
  headerTimeoutMs?: number;
  /** See {@link DEFAULT_MAX_CONNECTIONS}; default that. */
  maxConnections?: number;
  /** Told of each connection the guard closes, and why; default nobody. */
  onClosed?: (why: GuardClosure) => void;
}

/** What the guard reads a client's bytes from and writes them to: its connection, or TLS over it. */
type ClientStream = Pick<Deno.Conn, "read" | "write" | "closeWrite" | "close">;

/** What the guard tells a handler of a request's connection, as `Deno.serve` does. */
export interface GuardRequestInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
}

/** What answers each request the guard lets through. */
type Handler = (request: Request, info: GuardRequestInfo) => Response | Promise<Response>;

/**
 * A `Deno.serve` on a Unix domain socket that serves one connection at a time, so that its
 * handler knows whose requests it is given; kept for the next once that one ended.
 */
interface InnerServer {
  readonly server: Deno.HttpServer;
  readonly path: string;
  /** The connection it serves now; undefined while it waits for one. */
  relay: Relay | undefined;
  /** When it was last freed (or started): one unused for the header deadline is shut down. */
  idleSince: number;
}

/** One client's connection and its relay to an inner server of its own. */
interface Relay {
  /** The client's connection, or TLS over it (set once, as the relay is made). */
  client: ClientStream;
  /** The client's address, for the handler. */
  readonly peer: GuardRequestInfo;
  /** The guard's connection to its inner server, once made. */
  upstream: Deno.Conn | undefined;
  /** Set once the inner server took longer than {@link INNER_RELEASE_MS} to end its side. */
  releaseTimer: ReturnType<typeof setTimeout> | undefined;
  /** The inner server did not end its side in time: it serves no other connection. */
  abandoned: boolean;
  /** Requests of this connection in the handler now. */
  requests: number;
  /**
   * Bytes of answers' bodies that left the handler and are not yet matched by bytes relayed
   * to the client: while some are owed, bytes relayed to the client are an answer's progress.
   */
  owed: number;
  /**
   * When the connection opened, a request left the handler, or bytes owed were relayed to
   * the client. Never bytes alone: an HTTP/2 client draws bytes without a request (each
   * PING's acknowledgement), and held its connection past the deadline with them.
   */
  lastProgress: number;
  /**
   * Until when bytes owed and relayed count as progress: the deadline after the last answer
   * left the handler, plus the time of the answers' bodies at {@link MIN_ANSWER_BYTES_PER_SECOND}.
   */
  deliverBy: number;
  /**
   * Settles once the inner server's side has all been relayed to the client (or either side
   * went away), set once the relay is connected: shutdown waits for it before closing.
   */
  answered: Promise<void> | undefined;
  closed: boolean;
}

/**
 * An HTTP server with a header deadline and a bound on connections, over `Deno.serve`.
 *
 * @example
 * ```ts
 * const handler = () => new Response("hello");
 * const server = await ConnectionGuard.serve({ hostname: "127.0.0.1", port: 0 }, handler);
 * console.log(server.addr.port);
 * ```
 */
export class ConnectionGuard {
  readonly #listener: Deno.Listener;
  readonly #handler: Handler;
  /** With TLS, the certificate and key the guard ends it with. */
  readonly #tls: TlsServerContext | undefined;
  /** The directory (0700) of the inner servers' sockets, removed at shutdown or exit. */
  readonly #socketDir: SocketDir;
  readonly #removeSocketDir = () => this.#socketDir.remove();
  /** Inner servers' sockets made so far, which names the next. */
  #socketsMade = 0;
  readonly #headerTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #onClosed: (why: GuardClosure) => void;
  readonly #relays = new Set<Relay>();
  /** Inner servers not yet finished: shutdown waits for their requests in the handler. */
  readonly #innerServers = new Set<InnerServer>();
  /** Inner servers waiting for a connection, the last freed last (taken first). */
  readonly #idleInnerServers: InnerServer[] = [];
  /**
   * Connections accepted and not yet closed: counted at accept, before their relay opens
   * (an await), so that connections arriving together cannot pass the bound.
   */
  #connections = 0;
  readonly #accepting: Promise<void>;
  /** Each open relay's {@link ConnectionGuard.#open}, which shutdown waits for. */
  readonly #relaying = new Set<Promise<void>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #stopping = false;

  private constructor(
    listener: Deno.Listener,
    handler: Handler,
    options: GuardOptions,
    tls: TlsServerContext | undefined,
  ) {
    this.#listener = listener;
    this.#handler = handler;
    this.#headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#onClosed = options.onClosed ?? (() => {});
    invariant(this.#headerTimeoutMs > 0 && this.#maxConnections > 0, "positive limits");
    this.#tls = tls;
    // Made 0700, locked while this process lives; the ones killed guards left are removed.
    this.#socketDir = madeSocketDir();
    try {
      // One now, so that a directory no socket can be made in (a path too long for one)
      // fails the start rather than every connection.
      this.#idleInnerServers.push(this.#startInnerServer());
    } catch (error) {
      this.#removeSocketDir();
      const where = `the connection guard cannot make a Unix socket in ${this.#socketDir.path}`;
      // Deno's refusal (an --allow-net naming hosts leaves Unix sockets out): its flag, not
      // another directory, is the fix.
      if (error instanceof Deno.errors.NotCapable) {
        throw new Error(
          `${where}: Deno does not let kv listen on it (no --allow-net for Unix sockets); run ` +
            "kv with --allow-net, as 'deno install' of kv does",
        );
      }
      throw new Error(
        `${where} (${describeError(error)}); set TMPDIR to a shorter directory of this user's`,
      );
    }
    // Removed on any exit; SIGINT and SIGTERM reach shutdown (lib/cli/http.ts).
    globalThis.addEventListener("unload", this.#removeSocketDir);
    this.#accepting = this.#acceptLoop();
    const sweepMs = Math.min(MAX_SWEEP_INTERVAL_MS, Math.ceil(this.#headerTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), sweepMs);
  }

  /**
   * Listens on `options`' address and answers each request with `handler`; throws as
   * `Deno.listen` (or `Deno.serve`, for a bad certificate) does when it cannot listen.
   *
   * @example
   * ```ts
   * const handler = () => new Response("hello");
   * const server = await ConnectionGuard.serve({ hostname: "127.0.0.1", port: 0 }, handler);
   * ```
   */
  static async serve(options: GuardOptions, handler: Handler): Promise<ConnectionGuard> {
    const { cert, key } = options;
    // Imported only by a guard that serves TLS: node:tls, with node:net, cost every
    // `kv http` start (and `kv http --help`) about 20 ms of CPU (README, Tests) though most
    // serve plain HTTP.
    const tls = cert !== undefined && key !== undefined
      ? new (await import("../protocol/tls_server.ts")).TlsServerContext(cert, key, {
        alpnProtocols: ALPN_PROTOCOLS,
        plainHttpAnswer: PLAIN_HTTP_ANSWER,
      })
      : undefined;
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    try {
      return new ConnectionGuard(listener, handler, options, tls);
    } catch (error) {
      listener.close();
      throw error;
    }
  }

  /** The address it listens on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Stops accepting, lets the requests in the handler finish and their answers go out,
   * then closes every connection and removes the inner servers' directory.
   *
   * @example
   * ```ts
   * const server = await ConnectionGuard.serve(
   *   { hostname: "127.0.0.1", port: 0 },
   *   () => new Response("hello"),
   * );
   * await server.shutdown();
   * ```
   */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    this.#listener.close();
    await this.#accepting;
    // One serving a connection finishes its requests in the handler, then closes it; one
    // retired already is told again, which it ignores.
    await Promise.all(
      [...this.#innerServers].map((inner) => inner.server.shutdown().catch(() => {})),
    );
    clearInterval(this.#sweeper);
    // The inner servers wrote their last answers and closed their side: relayed on to the
    // clients before the connections close (closed at once, those answers were cut off:
    // kv http on SIGTERM dropped the 503s of requests waiting on hung servers), each for at
    // most the header deadline, as a connection making no progress is closed while serving.
    await Promise.all([...this.#relays].map((relay) => this.#relayed(relay)));
    for (const relay of [...this.#relays]) this.#close(relay);
    // Each relay's end: its inner server's connection read to its end, its timer cleared.
    await Promise.all(this.#relaying);
    globalThis.removeEventListener("unload", this.#removeSocketDir);
    this.#removeSocketDir();
  }

  async #handle(request: Request, relay: Relay): Promise<Response> {
    relay.requests++;
    try {
      const response = await this.#handler(request, relay.peer);
      // HEAD's body is never sent, so it is owed nothing.
      if (response.body === null || request.method === "HEAD") return response;
      // A streamed answer declares its length (lib/http/answer_budget.ts): read whole, a
      // 90 MB one was held twice, and past the handler's bound on the answers it holds.
      const declared = declaredLength(response.headers);
      if (declared !== undefined) {
        this.#owe(relay, declared);
        return response;
      }
      // Read whole to know its length (the handler's small answers are in memory already).
      const body = new Uint8Array(await response.arrayBuffer());
      this.#owe(relay, body.length);
      const { status, statusText, headers } = response;
      return new Response(body, { status, statusText, headers });
    } finally {
      relay.requests--;
      relay.lastProgress = performance.now();
    }
  }

  /** Counts an answer's body of `bytes` as owed to `relay`'s client, with time to deliver it. */
  #owe(relay: Relay, bytes: number): void {
    relay.owed += bytes;
    relay.deliverBy = Math.max(relay.deliverBy, performance.now() + this.#headerTimeoutMs) +
      bytes * 1000 / MIN_ANSWER_BYTES_PER_SECOND;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping || error instanceof Deno.errors.BadResource) return;
        // Reset before it was taken: that one is gone, the next may be waiting. A pause for
        // it let a peer resetting 10 connections a second hold every client out.
        if (isDisconnect(error)) continue;
        // Out of file descriptors, most likely: those open are still served.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#connections >= this.#maxConnections && !this.#makeRoom()) {
        conn.close();
        this.#onClosed("over_limit");
        continue;
      }
      this.#connections++;
      const relay: Relay = {
        client: conn,
        peer: { remoteAddr: conn.remoteAddr as Deno.NetAddr },
        upstream: undefined,
        releaseTimer: undefined,
        abandoned: false,
        requests: 0,
        owed: 0,
        lastProgress: performance.now(),
        deliverBy: 0,
        answered: undefined,
        closed: false,
      };
      if (this.#tls !== undefined) {
        // Counted as the encrypted bytes reach the connection: node:tls takes the plain ones
        // a megabyte or more ahead of a client that reads slowly, then none for over a second.
        const sent = (count: number) => this.#delivered(relay, count);
        relay.client = this.#tls.serve(conn, { sent });
      }
      this.#relays.add(relay);
      // Out of file descriptors or shutting down: closed, as one past the bound is.
      const relaying = this.#open(relay).catch(() => this.#close(relay));
      this.#relaying.add(relaying);
      relaying.finally(() => this.#relaying.delete(relaying));
    }
  }

  /**
   * At `maxConnections`, closes a connection with no request in the handler to make room for
   * a new one: the one accepted longest ago that waits for a request (idle, or its headers or
   * handshake not all in), else the one whose answer made no progress longest (its client
   * reads none of it: an HTTP/2 client granting no window); false when every connection has a
   * request in the handler. Refusing the new one instead let anyone who can connect, token or
   * not, hold every place with connections that send nothing (or ask a public file and take
   * none of it), and keep them by reconnecting at each header deadline: every client was
   * locked out. Now such connections must arrive faster than a client sends its request.
   */
  #makeRoom(): boolean {
    let stalled: Relay | undefined;
    for (const relay of this.#relays) {
      if (relay.requests > 0) continue;
      if (relay.owed === 0) return this.#closeForRoom(relay);
      if (stalled === undefined || relay.lastProgress < stalled.lastProgress) stalled = relay;
    }
    return stalled !== undefined && this.#closeForRoom(stalled);
  }

  /** Closes `relay` to make room for a new connection; true. */
  #closeForRoom(relay: Relay): boolean {
    this.#close(relay);
    this.#onClosed("over_limit");
    return true;
  }

  /**
   * Connects `relay` to an inner server of its own, relays until either side ends, and
   * frees the server once its side of the connection ended too: a request of this
   * connection read after the next one came would be taken for the next one's.
   */
  async #open(relay: Relay): Promise<void> {
    const inner = this.#idleInnerServers.pop() ?? this.#startInnerServer();
    inner.relay = relay;
    try {
      relay.upstream = await Deno.connect({ transport: "unix", path: inner.path });
    } catch (error) {
      this.#retire(inner);
      throw error;
    }
    const { client, upstream } = relay;
    if (relay.closed) {
      this.#endUpstream(relay);
    } else {
      relay.answered = this.#pump(relay, upstream, client);
      await Promise.all([this.#pump(relay, client, upstream), relay.answered]);
      this.#close(relay);
    }
    // Read to its end: the inner server closes once it has no request of this connection left.
    const buffer = new Uint8Array(RELAY_BUFFER_BYTES);
    while (await upstream.read(buffer).catch(() => null) !== null);
    clearTimeout(relay.releaseTimer);
    closeQuietly(upstream);
    if (relay.abandoned || this.#stopping || !this.#innerServers.has(inner)) {
      return this.#retire(inner);
    }
    inner.relay = undefined;
    inner.idleSince = performance.now();
    this.#idleInnerServers.push(inner);
  }

  /** Settles once `relay`'s answers are relayed to its client, or the header deadline passed. */
  async #relayed(relay: Relay): Promise<void> {
    if (relay.answered === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#headerTimeoutMs);
    });
    await Promise.race([relay.answered, deadline]);
    clearTimeout(timer);
  }

  /** A new inner server, on a socket in the guard's directory. */
  #startInnerServer(): InnerServer {
    const path = `${this.#socketDir.path}/${(this.#socketsMade++).toString(36)}`;
    const inner: InnerServer = {
      path,
      relay: undefined,
      idleSince: performance.now(),
      server: Deno.serve({ path, onListen: () => {} }, (request) => {
        // Only the guard connects, one connection at a time: none is a bug.
        if (inner.relay === undefined) return new Response(null, { status: 421 });
        return this.#handle(request, inner.relay);
      }),
    };
    this.#innerServers.add(inner);
    // Out of file descriptors its accept fails and `finished` rejects: that inner server is
    // gone (its relay ends, and #open retires it), while the process, left unhandled, died.
    inner.server.finished.catch(() => {}).finally(() => this.#innerServers.delete(inner));
    return inner;
  }

  /** Shuts `inner` down for good: its connection did not end in time, or the guard stops. */
  #retire(inner: InnerServer): void {
    inner.relay = undefined;
    inner.server.shutdown().catch(() => {});
  }

  /**
   * Ends the guard's writing to `relay`'s inner server, which then closes its side once its
   * requests are answered; one that takes longer than {@link INNER_RELEASE_MS} is cut off.
   */
  #endUpstream(relay: Relay): void {
    const upstream = relay.upstream;
    if (upstream === undefined || relay.releaseTimer !== undefined) return;
    upstream.closeWrite().catch(() => {});
    relay.releaseTimer = setTimeout(() => {
      relay.abandoned = true;
      closeQuietly(upstream);
    }, INNER_RELEASE_MS);
  }

  /** Copies `from` to `to` until `from` ends, then ends `to`'s writing; a failure closes both. */
  async #pump(relay: Relay, from: ClientStream, to: ClientStream): Promise<void> {
    const buffer = new Uint8Array(RELAY_BUFFER_BYTES);
    // Bytes to a TLS client are counted as they reach its connection.
    const toClient = to === relay.client && this.#tls === undefined;
    try {
      for (let count = await from.read(buffer); count !== null; count = await from.read(buffer)) {
        for (let written = 0; written < count;) {
          written += await to.write(buffer.subarray(written, count));
        }
        if (toClient) this.#delivered(relay, count);
      }
      await to.closeWrite();
    } catch {
      // Either side went away: nothing more can be relayed.
      this.#close(relay);
    }
  }

  /**
   * Counts `count` bytes sent to `relay`'s client against what answers owe, so that bytes the
   * client draws without a request (a PING's acknowledgement) extend the deadline no further
   * than answers do.
   */
  #delivered(relay: Relay, count: number): void {
    if (relay.owed > 0 && performance.now() < relay.deliverBy) {
      relay.owed = Math.max(0, relay.owed - count);
      relay.lastProgress = performance.now();
    }
  }

  /**
   * Closes each connection with no request in the handler and no progress for the deadline,
   * and shuts down each inner server left unused as long: a burst of 1000 connections had
   * left 1000 of them, each a listening socket and about 95 kB, for good.
   */
  #sweep(): void {
    const now = performance.now();
    for (const relay of this.#relays) {
      if (relay.requests === 0 && now - relay.lastProgress >= this.#headerTimeoutMs) {
        this.#close(relay);
        this.#onClosed("header_timeout");
      }
    }
    // The last freed is taken first, so the first are those unused longest.
    const idle = this.#idleInnerServers;
    while (idle.length > 0 && now - idle[0].idleSince >= this.#headerTimeoutMs) {
      this.#retire(idle.shift()!);
    }
  }

  #close(relay: Relay): void {
    if (relay.closed) return;
    relay.closed = true;
    this.#connections--;
    this.#relays.delete(relay);
    closeQuietly(relay.client);
    this.#endUpstream(relay);
  }
}

/** An answer's `Content-Length`, when it declares one (a whole number), else undefined. */
function declaredLength(headers: Headers): number | undefined {
  const text = headers.get("Content-Length");
  return text !== null && /^\d+$/.test(text) ? Number(text) : undefined;
}
