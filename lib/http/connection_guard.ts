/**
 * Deadlines and a bound that `Deno.serve` lacks. `Deno.serve` waits for a request's
 * headers for ever (Deno 2.9 has no header or idle timeout): a client that sends its
 * headers a byte a minute, or opens a connection and sends nothing, holds it for good, and
 * enough such clients every file descriptor (slowloris). {@link ConnectionGuard} accepts
 * the connections itself, closes each that carries no request in the handler and has had
 * no byte of an answer's body delivered for `headerTimeoutMs` (bytes an HTTP/2 client draws
 * without a request, such as PING acknowledgements, do not count), refuses connections past
 * `maxConnections`, and relays the rest, byte for byte (TLS still encrypted), to a
 * `Deno.serve` of its own on loopback, which tells the guard when a request's headers are
 * complete (its handler is called for the relay's connection, known by its port). The
 * relay costs about as much CPU as `Deno.serve` itself (README, `kv http`).
 *
 * @example
 * ```ts
 * import { ConnectionGuard } from "./connection_guard.ts";
 * const server = ConnectionGuard.serve(
 *   { hostname: "127.0.0.1", port: 8080 },
 *   () => new Response("hello"),
 * );
 * await server.shutdown();
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";

/**
 * Longest wait by default, in ms, for a request's complete headers after a connection
 * opens or its previous answer was delivered: also how long an idle connection is kept.
 */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/**
 * Connections served at once by default; more are closed as they arrive. Each costs three
 * file descriptors (the client's, and both ends of the relay on loopback) and two
 * {@link RELAY_BUFFER_BYTES} buffers: 128 MiB for 4096.
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
 * Why the guard closed a connection: `header_timeout`, no request within the deadline (slow
 * headers or handshake, or idle); `over_limit`, more than `maxConnections` open.
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
  /** The certificate's private key (PEM). */
  key?: string;
  /** See {@link DEFAULT_HEADER_TIMEOUT_MS}; default that. */
  headerTimeoutMs?: number;
  /** See {@link DEFAULT_MAX_CONNECTIONS}; default that. */
  maxConnections?: number;
  /** Told of each connection the guard closes, and why; default nobody. */
  onClosed?: (why: GuardClosure) => void;
}

/** One client's connection and its relay to the inner server. */
interface Relay {
  readonly client: Deno.Conn;
  readonly upstream: Deno.TcpConn;
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
  closed: boolean;
}

/**
 * An HTTP server with a header deadline and a bound on connections, over `Deno.serve`.
 *
 * @example
 * ```ts
 * const server = ConnectionGuard.serve({ hostname: "127.0.0.1", port: 0 }, handler);
 * console.log(server.addr.port);
 * ```
 */
export class ConnectionGuard {
  readonly #listener: Deno.Listener;
  readonly #inner: Deno.HttpServer<Deno.NetAddr>;
  readonly #headerTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #onClosed: (why: GuardClosure) => void;
  /** Open relays by the local port of their upstream connection, as the inner server sees it. */
  readonly #relays = new Map<number, Relay>();
  /**
   * Connections accepted and not yet closed: counted at accept, before their relay opens
   * (an await), so that connections arriving together cannot pass the bound.
   */
  #connections = 0;
  readonly #accepting: Promise<void>;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #stopping = false;

  private constructor(
    listener: Deno.Listener,
    handler: (request: Request) => Response | Promise<Response>,
    options: GuardOptions,
  ) {
    this.#listener = listener;
    this.#headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#onClosed = options.onClosed ?? (() => {});
    invariant(this.#headerTimeoutMs > 0 && this.#maxConnections > 0, "positive limits");
    const { cert, key } = options;
    const tls = cert !== undefined && key !== undefined ? { cert, key } : {};
    this.#inner = Deno.serve(
      { hostname: "127.0.0.1", port: 0, ...tls, onListen: () => {} },
      (request, info) => this.#handle(request, info.remoteAddr.port, handler),
    );
    this.#accepting = this.#acceptLoop();
    const sweepMs = Math.min(MAX_SWEEP_INTERVAL_MS, Math.ceil(this.#headerTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), sweepMs);
  }

  /**
   * Listens on `options`' address and answers each request with `handler`; throws as
   * `Deno.listen` (or `Deno.serve`, for a bad certificate) does when it cannot listen.
   * With TLS the guard relays the encrypted bytes and the inner server ends TLS: a
   * `Deno.listenTls` connection closed before its handshake stays open (Deno 2.9.6; its
   * peer still had it 3 s later), so the guard could not close one that never starts it.
   *
   * @example
   * ```ts
   * const server = ConnectionGuard.serve({ hostname: "127.0.0.1", port: 0 }, handler);
   * ```
   */
  static serve(
    options: GuardOptions,
    handler: (request: Request) => Response | Promise<Response>,
  ): ConnectionGuard {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    try {
      return new ConnectionGuard(listener, handler, options);
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
   * then closes every connection.
   *
   * @example
   * ```ts
   * await server.shutdown();
   * ```
   */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    this.#listener.close();
    await this.#accepting;
    await this.#inner.shutdown();
    clearInterval(this.#sweeper);
    for (const relay of [...this.#relays.values()]) this.#close(relay);
  }

  async #handle(
    request: Request,
    port: number,
    handler: (request: Request) => Response | Promise<Response>,
  ): Promise<Response> {
    const relay = this.#relays.get(port);
    // The inner server listens on loopback, where another local program could reach it
    // past the guard; only the guard's own connections are served.
    if (relay === undefined) return new Response(null, { status: 421 });
    relay.requests++;
    try {
      const response = await handler(request);
      // HEAD's body is never sent, so it is owed nothing.
      if (response.body === null || request.method === "HEAD") return response;
      // Read whole to know its length (the handler's answers are in memory already).
      const body = new Uint8Array(await response.arrayBuffer());
      relay.owed += body.length;
      relay.deliverBy = Math.max(relay.deliverBy, performance.now() + this.#headerTimeoutMs) +
        body.length * 1000 / MIN_ANSWER_BYTES_PER_SECOND;
      const { status, statusText, headers } = response;
      return new Response(body, { status, statusText, headers });
    } finally {
      relay.requests--;
      relay.lastProgress = performance.now();
    }
  }

  async #acceptLoop(): Promise<void> {
    const innerPort = this.#inner.addr.port;
    while (!this.#stopping) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, most likely: those open are still served.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#connections >= this.#maxConnections) {
        client.close();
        this.#onClosed("over_limit");
        continue;
      }
      this.#connections++;
      this.#open(client, innerPort).catch(() => {
        // The inner server is gone (shutting down): nothing to relay to.
        this.#connections--;
        client.close();
      });
    }
  }

  async #open(client: Deno.Conn, innerPort: number): Promise<void> {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
    const relay: Relay = {
      client,
      upstream,
      requests: 0,
      owed: 0,
      lastProgress: performance.now(),
      deliverBy: 0,
      closed: false,
    };
    // Registered before any byte is relayed, so before the inner server can see a request.
    this.#relays.set(upstream.localAddr.port, relay);
    await Promise.all([this.#pump(relay, client, upstream), this.#pump(relay, upstream, client)]);
    this.#close(relay);
  }

  /** Copies `from` to `to` until `from` ends, then ends `to`'s writing; a failure closes both. */
  async #pump(relay: Relay, from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(RELAY_BUFFER_BYTES);
    const toClient = to === relay.client;
    try {
      for (let count = await from.read(buffer); count !== null; count = await from.read(buffer)) {
        for (let written = 0; written < count;) {
          written += await to.write(buffer.subarray(written, count));
        }
        // Counted against what answers owe, so that bytes the client draws without a
        // request (a PING's acknowledgement) extend the deadline no further than answers do.
        if (toClient && relay.owed > 0 && performance.now() < relay.deliverBy) {
          relay.owed = Math.max(0, relay.owed - count);
          relay.lastProgress = performance.now();
        }
      }
      await to.closeWrite();
    } catch {
      // Either side went away: nothing more can be relayed.
      this.#close(relay);
    }
  }

  /** Closes each connection with no request in the handler and no progress for the deadline. */
  #sweep(): void {
    const now = performance.now();
    for (const relay of this.#relays.values()) {
      if (relay.requests === 0 && now - relay.lastProgress >= this.#headerTimeoutMs) {
        this.#close(relay);
        this.#onClosed("header_timeout");
      }
    }
  }

  #close(relay: Relay): void {
    if (relay.closed) return;
    relay.closed = true;
    this.#connections--;
    this.#relays.delete(relay.upstream.localAddr.port);
    for (const conn of [relay.client, relay.upstream]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}
