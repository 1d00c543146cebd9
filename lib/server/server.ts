/**
 * The network layer of `kv server`: accepts TCP connections, decodes request
 * frames ({@link ../protocol/messages.ts}), runs them against a {@link Store} and writes
 * the answers.
 *
 * Per connection the loop is: read a chunk, decode every complete frame in it,
 * run them in order, `await store.commit()` once for the whole batch (so no
 * answer is sent before its write is durable) unless the batch only read and the
 * store has nothing on its way to disk ({@link Store.settled}), then send all the
 * answers in one write. A pipelined batch of 1000 PUTs thus costs a few reads, as
 * many commits and as many writes, not 1000 of each; a lone GET costs one read,
 * one write and two awaits, as a bare echo server's request does.
 *
 * Faults stay inside their connection: a malformed or oversized frame gets an
 * ERROR and closes that connection only; an exception while handling one
 * request becomes an ERROR INTERNAL answer; nothing a client sends can stop the
 * accept loop.
 *
 * @example
 * ```ts
 * import { KvServer } from "./server.ts";
 * import { Store } from "./store.ts";
 * const server = new KvServer({ store: await Store.open(), port: 0 });
 * server.listen();
 * console.log(server.addr.port);
 * await server.close();
 * ```
 * @module
 */
import { describeError } from "../base/describe_error.ts";
import { closeQuietly, isDisconnect } from "../base/disconnect.ts";
import { bytesToHex, DecodeError, writeAll } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { collectGarbageSoon } from "../base/memory.ts";
import { DEFAULT_READ_BUFFER_BYTES, FrameReader } from "../protocol/frame_reader.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../limits.ts";
import { Logger, SILENT_LOGGER } from "../base/logger.ts";
import { AUTH_HMAC_SHA256, type AuthKeys, MAC_BYTES, newChallenge } from "../protocol/auth.ts";
import type { TlsServerContext } from "../protocol/tls_server.ts";
import { TlsDescriptorError } from "../protocol/tls_errors.ts";
import {
  AUTH_NONE,
  CONNECTION_REQUEST_ID,
  ErrorCode,
  type ErrorCodeNumber,
  type Frame,
  FrameTooLargeError,
  type HelloResult,
  MAX_AUTH_BYTES,
  MAX_WRITE_LAG_MS,
  MessageType,
  PROTOCOL_VERSION,
  type PutManyRefusal,
  type Request,
  SERVER_ID_BYTES,
  TOMBSTONE_PURGE_AGE_MS,
} from "../protocol/mod.ts";
import {
  decodeRequest,
  GET_KEY_START,
  isWellFormedGetBody,
  readItemKey,
} from "../protocol/messages.ts";
import { FrameWriter } from "../protocol/frame_writer.ts";
import { LimitExceededError } from "../base/bytes.ts";
import { describeDiskFailure, describeReadOnly, type Store, StoreFailedError } from "./store.ts";
import { isFsError } from "../base/fs_error.ts";
import { MarkChangedError } from "./node_state.ts";
import { PARTITION_COUNT } from "../record/partition.ts";
import { listedKey } from "../record/key.ts";

const textEncoder = new TextEncoder();

/** The requests that change the store. */
const WRITE_TYPES: ReadonlySet<number> = new Set([
  MessageType.PUT,
  MessageType.PUT_MANY,
  MessageType.DELETE,
]);

/** The requests that change the node state, answered once the change is on disk. */
const NODE_STATE_TYPES: ReadonlySet<number> = new Set([
  MessageType.SET_K,
  MessageType.MARK_REPAIRED,
]);
import {
  compareVersions,
  formatVersion,
  newerVersion,
  readVersion,
  readVersionMs,
  type Version,
} from "../record/version.ts";
import { counted } from "../base/plural.ts";
import { utf8Length } from "../base/utf8.ts";

/**
 * `now` (ms, this server's clock) as the version a STALE answer carries for a write stamped
 * too far behind it ({@link MAX_WRITE_LAG_MS}): counter 0 and broker id 0, which no broker's
 * clock takes as its own (HybridClock draws a nonzero one).
 *
 * @example
 * ```ts
 * clockVersion(1_800_000_000_000); // { ms: 1800000000000, counter: 0, broker: 0 }
 * ```
 */
export function clockVersion(now: number): Version {
  return { ms: Math.floor(now), counter: 0, broker: 0 };
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

/** `d` ms as whole days ("1 day", "3 days"), for the far-version log line. */
function describeDays(ms: number): string {
  return counted(Math.round(ms / MS_PER_DAY), "day");
}

/** `d` ms, at least a minute, in the largest unit that keeps it a whole number or more. */
function describeLag(ms: number): string {
  const [unit, size] = ms >= MS_PER_DAY
    ? ["day", MS_PER_DAY]
    : ms >= MS_PER_HOUR
    ? ["hour", MS_PER_HOUR]
    : ["minute", MS_PER_MINUTE];
  return counted(Math.floor(ms / size), unit);
}

/** PUT_MANY item options, made once rather than per item: every write applies only when newer. */
const OVERWRITE = { overwrite: true, ifNewer: true } as const;
const IF_ABSENT = { overwrite: false, ifNewer: true } as const;

/** Address the server binds unless told otherwise: loopback only. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** Port the server binds unless told otherwise (the original project's first server). */
export const DEFAULT_PORT = 8000;

/** Most simultaneous client connections unless told otherwise; more are refused with BUSY. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** A connection silent (or stalled mid-frame) this long is closed, unless told otherwise. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * Once the answers to one batch reach this size they are committed and sent
 * before more frames are run, so a burst of GETs for large values cannot grow
 * one connection's output buffer without bound.
 */
const MAX_PENDING_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A connection that has not completed HELLO this long after it opened is closed: a
 * stranger gets no time to hold a slot.
 */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;

/**
 * Largest frame body a connection may announce before its HELLO succeeds: the largest
 * HELLO (u16 version, u8 scheme, string auth data). Only HELLO and PING are served then,
 * so a stranger announcing more is closed before its body is read: otherwise strangers,
 * who need no secret, could hold the whole --max-buffered-bytes in partial frames and get
 * authenticated clients' large writes closed with BUSY.
 */
export const MAX_STRANGER_FRAME_BYTES: number = 2 + 1 + 4 + MAX_AUTH_BYTES;

/**
 * Memory all connections together may hold in read buffers and pending answers, unless
 * told otherwise (256 MiB); a connection that would take more is closed with BUSY.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

/**
 * An answer buffer grown past this (by a large batch of answers) is dropped once sent,
 * rather than kept for the connection's life.
 */
const RETAINED_RESPONSE_BYTES = 1024 * 1024;

/**
 * A connection's batch of answers — the frames answering one read's requests and their
 * ids — in a buffer kept from batch to batch, unless it grew past
 * {@link RETAINED_RESPONSE_BYTES}. Synchronous, as the connection loop's own steps are: a
 * request costs no promise more.
 */
class AnswerBatch {
  /** The answers, in request order. */
  responses = new FrameWriter();
  /** The ids of the requests answered, for the commit's wait (Connection.batchWrites). */
  requestIds: number[] = [];
  /** Bytes of answer buffers let go since the last read, for the connection's budget. */
  #droppedBytes = 0;

  /** Empties the batch for the next requests; returns it. */
  begin(): AnswerBatch {
    this.responses.reset();
    // A new list rather than a length of 0 stored, which is a call into V8's runtime (and
    // made even for a list already empty: the loop begins a batch once more after each
    // read's last); a new empty array is not.
    if (this.requestIds.length > 0) this.requestIds = [];
    return this;
  }

  /** After the answers were written: a buffer grown past the bound is let go, and counted. */
  written(): void {
    if (this.responses.length <= RETAINED_RESPONSE_BYTES) return;
    this.#droppedBytes += this.responses.length;
    this.responses = new FrameWriter();
  }

  /** The bytes let go since the last call. */
  takeDroppedBytes(): number {
    const dropped = this.#droppedBytes;
    this.#droppedBytes = 0;
    return dropped;
  }
}

/**
 * What a connection may hold whatever the budget: its initial read buffer and a batch
 * of small answers.
 */
const BASE_CONNECTION_BYTES = 2 * DEFAULT_READ_BUFFER_BYTES;

/**
 * Once connections together have given back this much of the budget (closing, or their
 * buffers shrinking) a garbage collection is asked for, so that a quiet server's RSS
 * comes back down. Counted across connections: 300 that each give back just under the
 * threshold (a 1 MiB frame each) add up to far more than it.
 */
const RELEASE_COLLECT_BYTES = 1024 * 1024;

/** At shutdown, answers a client has not read after this long are dropped with it. */
export const SHUTDOWN_WRITE_GRACE_MS = 1_000;

/**
 * How far ahead of this server's clock a stored write's version may be before the server
 * logs it, in ms: a day — far past any skew between machines kept by NTP (milliseconds) or
 * left without it (about a second a day), and so a sign of a writer's wrong clock. The
 * server stores it all the same: refusing would make a key that holds such a version
 * unwritable wherever a replica lost it, and repair copies carry versions as they are
 * (README, Versions).
 */
export const FAR_VERSION_AHEAD_MS = 24 * 60 * 60 * 1000;

/** Least time between two far-version log lines, in ms; those between are counted. */
const FAR_VERSION_LOG_INTERVAL_MS = 60_000;

/** How far behind this server's clock a write's version may be: see the protocol's constant. */
export { MAX_WRITE_LAG_MS };

/** Failed HELLOs are logged at most once per peer address per this long. */
const AUTH_FAILURE_LOG_INTERVAL_MS = 1_000;

/** Most peer addresses whose last logged failure is remembered. */
const MAX_TRACKED_FAILING_PEERS = 4096;

/** How long a last ERROR frame (BUSY, TOO_LARGE, IDLE_TIMEOUT) may take to send before closing. */
const FINAL_ERROR_WRITE_TIMEOUT_MS = 1000;

/** Pause after a failed accept (e.g. out of file descriptors) before trying again. */
const ACCEPT_RETRY_DELAY_MS = 100;

/** Options of a {@link KvServer}. */
export interface KvServerOptions {
  /** The records to serve; the server closes it on {@link KvServer.close}. */
  store: Store;
  /** Address to bind; default {@link DEFAULT_HOSTNAME}. */
  hostname?: string;
  /** Port to bind, 0 for any free one; default {@link DEFAULT_PORT}. */
  port?: number;
  /** Most simultaneous connections; default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Largest request frame body; default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number;
  /** Milliseconds of silence (or a stalled frame) before a connection is closed; default {@link DEFAULT_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
  /** Milliseconds a connection may take to complete HELLO; default {@link DEFAULT_HELLO_TIMEOUT_MS}. */
  helloTimeoutMs?: number;
  /**
   * Bytes all connections together may hold in read buffers and pending answers;
   * default {@link DEFAULT_MAX_BUFFERED_BYTES}.
   */
  maxBufferedBytes?: number;
  /**
   * The secrets a client must prove it knows in HELLO; default none: any client that
   * sends HELLO is served.
   */
  auth?: AuthKeys;
  /**
   * Serve TLS with this certificate chain and key; default plain TCP. Made by the caller,
   * importing lib/protocol/tls_server.ts only then: it loads `node:tls` (about 20 ms of a
   * start).
   */
  tls?: TlsServerContext;
  /** Where connection events (debug) and failures (error) go; default: silent. */
  logger?: Logger;
}

type Phase = "reading" | "processing" | "committing" | "writing";

/**
 * A client's connection as the server uses it: the TCP connection, or TLS over it (which
 * tells whether its handshake completed).
 */
type ClientStream = Pick<Deno.Conn, "read" | "write" | "close"> & { handshakeDone?: boolean };

/** One client connection's state, shared between its loop, the idle timer and `close`. */
interface Connection {
  readonly conn: ClientStream;
  readonly peer: string;
  /** The peer's address without its port, whose failures are logged together. */
  readonly peerHost: string;
  phase: Phase;
  lastActivityAt: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  helloTimer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
  /** A last ERROR is being sent; whoever sends it closes the socket afterwards. */
  farewell: boolean;
  /** HELLO succeeded (with an auth file: the client proved it knows a secret). */
  greeted: boolean;
  /** The challenge sent in answer to the first HELLO, until the client answers it. */
  challenge: Uint8Array | undefined;
  /** The last answer sent refused the connection: close it once that answer is out. */
  refused: boolean;
  /** Bytes of the shared budget this connection holds now. */
  bufferedBytes: number;
  /** The batch being run changed something (PUT, PUT_MANY, DELETE). */
  batchWrites: boolean;
}

/**
 * A kv server: listens, serves every connection, and shuts down gracefully.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 * const store = await Store.open(); // memory only
 * const server = new KvServer({ store, port: 0, idleTimeoutMs: 5000 });
 * const { port } = server.listen();
 * ```
 */
export class KvServer {
  readonly #store: Store;
  readonly #hostname: string;
  readonly #port: number;
  readonly #maxConnections: number;
  readonly #maxFrameBytes: number;
  readonly #idleTimeoutMs: number;
  readonly #helloTimeoutMs: number;
  readonly #maxBufferedBytes: number;
  readonly #maxUngreeted: number;
  readonly #auth: AuthKeys | undefined;
  readonly #tls: TlsServerContext | undefined;
  /** Random per process, told in HELLO, so a broker can tell two addresses of one server. */
  readonly #serverId: string = bytesToHex(crypto.getRandomValues(new Uint8Array(SERVER_ID_BYTES)));
  readonly #logger: Logger;
  #listener: Deno.TcpListener | undefined;
  #startedAt = 0;
  #closing = false;
  #closePromise: Promise<void> | undefined;
  readonly #connections = new Set<Connection>();
  /** Connections that have not completed HELLO, oldest first. */
  readonly #ungreeted = new Set<Connection>();
  /** Bytes all connections hold now, the sum of their `bufferedBytes`. */
  #bufferedBytes = 0;
  /** Budget bytes given back since the last garbage collection was asked for. */
  #releasedBytes = 0;
  /** Per peer address: when its last failure was logged, and how many since went unlogged. */
  readonly #failuresLogged = new Map<string, { at: number; unlogged: number }>();
  /** When a far-ahead version was last logged, and how many were stored since. */
  readonly #farVersions = { loggedAt: -Infinity, unlogged: 0 };
  /** When a write stamped too far behind was last logged, and how many were met since. */
  readonly #laggingWrites = { loggedAt: -Infinity, unlogged: 0 };
  /** When a connection refused at --max-connections was last logged, and how many since. */
  readonly #fullRefusals = { loggedAt: -Infinity, unlogged: 0 };
  /** When a failed accept was last logged, and how many failed since. */
  readonly #acceptFailures = { loggedAt: -Infinity, unlogged: 0 };
  readonly #connectionLoops = new Set<Promise<void>>();
  readonly #farewells = new Set<Promise<void>>();
  #acceptLoop: Promise<void> | undefined;

  /**
   * A server over `options.store`, not yet listening: {@link KvServer.listen} starts it.
   *
   * @param options see {@link KvServerOptions}.
   */
  constructor(options: KvServerOptions) {
    this.#store = options.store;
    this.#hostname = options.hostname ?? DEFAULT_HOSTNAME;
    this.#port = options.port ?? DEFAULT_PORT;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    // Strangers may hold half the slots at most, so they can never lock clients out.
    this.#maxUngreeted = Math.max(1, Math.floor(this.#maxConnections / 2));
    this.#auth = options.auth;
    this.#tls = options.tls;
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  /**
   * Binds the port and starts accepting; returns the bound address (the real
   * port when 0 was asked). Throws Deno's error (e.g. `Deno.errors.AddrInUse`)
   * when the address cannot be bound.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const server = new KvServer({ store: await Store.open(), port: 0 });
   * const { hostname, port } = server.listen();
   * ```
   */
  listen(): Deno.NetAddr {
    if (this.#listener) throw new Error("the server is already listening");
    const address = { hostname: this.#hostname, port: this.#port, transport: "tcp" } as const;
    // Plain TCP even for TLS, which each connection runs itself (TlsServerContext): a
    // `Deno.listenTls` connection closed before its handshake stays open, so the HELLO
    // deadline and --max-connections bounded nothing against connections that send no byte.
    this.#listener = Deno.listen(address);
    this.#startedAt = performance.now();
    this.#acceptLoop = this.#accept(this.#listener);
    return this.addr;
  }

  /** The bound address; only after {@link KvServer.listen}. */
  get addr(): Deno.NetAddr {
    if (!this.#listener) throw new Error("the server is not listening");
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Client connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Bytes all connections hold now in read buffers and pending answers. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /**
   * Shuts down gracefully: stops accepting, lets every connection finish the
   * batch it is running (answers included), closes idle connections, commits
   * and closes the store. Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const server = new KvServer({ store: await Store.open(), port: 0 });
   * server.listen();
   * Deno.addSignalListener("SIGTERM", () => server.close());
   * ```
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#shutDown();
    return this.#closePromise;
  }

  async #shutDown(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener?.close();
    } catch {
      // Already closed: the accept loop ended on its own.
    }
    await this.#acceptLoop;
    for (const connection of this.#connections) {
      // A connection waiting for its next request has nothing in flight; one that is
      // running a batch closes itself once its answers are written.
      if (connection.phase === "reading") closeConnection(connection);
    }
    // A client that never reads its answers cannot hold the shutdown: after a grace its
    // connection is closed and what it did not read is dropped.
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      graceTimer = setTimeout(() => {
        for (const connection of this.#connections) closeConnection(connection);
        resolve();
      }, SHUTDOWN_WRITE_GRACE_MS);
    });
    await Promise.race([
      Promise.all([...this.#connectionLoops, ...this.#farewells]),
      grace,
    ]);
    clearTimeout(graceTimer);
    await Promise.all([...this.#connectionLoops, ...this.#farewells]);
    try {
      await this.#store.commit();
      await this.#store.close();
    } catch {
      // A store that cannot write refused every change since (and said so through its
      // onWritableChange): nothing acknowledged is lost.
      await this.#store.close().catch(() => {});
    }
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    while (!this.#closing) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) return;
        if (isDisconnect(error)) {
          // Reset before it was accepted (Deno's accept then cannot name the peer:
          // NotConnected): that one is gone, the next may be waiting. The pause below, taken
          // for it, let a peer resetting 10 connections a second hold every client out.
          this.#logger.debug(`a connection left before it was accepted: ${describeError(error)}`);
          continue;
        }
        // Out of file descriptors it fails on every retry, as long as clients hold them.
        const since = this.#throttled(this.#acceptFailures, performance.now());
        if (since !== undefined) {
          this.#logger.warn(`accept failed: ${describeError(error)}${since}; retrying`);
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_DELAY_MS));
        continue;
      }
      const peer = describeAddr(tcp.remoteAddr);
      // Answers go out whole in one write: Nagle would hold a small one for the last's ACK.
      tcp.setNoDelay(true);
      // TLS reads the first byte itself, under the HELLO deadline, whose close closes `tcp`;
      // one past --max-connections is sent BUSY over TLS, once its handshake is done.
      const conn = this.#tls?.serve(tcp, { writeThrough: true }) ?? tcp;
      if (!this.#closing) this.#makeRoomForStranger();
      if (this.#closing) {
        closeQuietly(conn);
      } else if (this.#connections.size >= this.#maxConnections) {
        this.#noteFull(peer);
        const frames = new FrameWriter();
        frames.error(
          CONNECTION_REQUEST_ID,
          ErrorCode.BUSY,
          `too many connections (limit ${this.#maxConnections}); try again later`,
        );
        this.#trackFarewell(sendAndClose(conn, frames.bytes()));
      } else {
        this.#startConnection(conn, peer, tcp.remoteAddr.hostname);
      }
    }
  }

  /**
   * A new connection is a stranger until its HELLO: when strangers already hold their half
   * of the slots, or every slot is taken and some are strangers', the oldest stranger
   * makes room. A client completes HELLO in one round trip, so it loses its slot only if
   * half the slots' worth of strangers arrive during it.
   */
  #makeRoomForStranger(): void {
    const full = this.#connections.size >= this.#maxConnections;
    if (!full && this.#ungreeted.size < this.#maxUngreeted) return;
    const oldest = this.#ungreeted.values().next().value;
    if (oldest === undefined) return;
    this.#logger.debug(`closing ${oldest.peer}: no HELLO yet and its slot is needed`);
    this.#dismiss(oldest, ErrorCode.BUSY, "too many connections without HELLO; closing the oldest");
    // Its slot is free now, though its loop ends a moment later.
    this.#connections.delete(oldest);
  }

  /**
   * Closes `connection` with a last ERROR when its side of the stream is between frames,
   * else at once.
   */
  #dismiss(connection: Connection, code: ErrorCodeNumber, message: string): void {
    if (connection.closed) return;
    this.#forget(connection);
    if (connection.phase === "reading") {
      const frames = new FrameWriter();
      frames.error(CONNECTION_REQUEST_ID, code, message);
      connection.closed = true;
      connection.farewell = true;
      this.#trackFarewell(sendAndClose(connection.conn, frames.bytes()));
    } else {
      closeConnection(connection);
    }
  }

  /** Takes `connection` out of the stranger count and gives back its share of the budget. */
  #forget(connection: Connection): void {
    this.#ungreeted.delete(connection);
    clearTimeout(connection.helloTimer);
    this.#charge(connection, 0, connection.bufferedBytes);
  }

  /**
   * Sets what `connection` holds of the shared budget to `bytes`. Of the bytes given
   * back, only `freedBytes` — buffers dropped, not a batch's answers sent from a buffer
   * that is kept — count toward the next garbage collection (RELEASE_COLLECT_BYTES):
   * counting every batch's answers asked for a full collection every second under a
   * steady stream of GETs, a tenth of a loaded server's time.
   */
  #charge(connection: Connection, bytes: number, freedBytes: number): void {
    invariant(freedBytes >= 0, "freed bytes are counted, never negative");
    this.#bufferedBytes -= connection.bufferedBytes - bytes;
    connection.bufferedBytes = bytes;
    invariant(this.#bufferedBytes >= 0, "the budget never goes negative");
    if (freedBytes === 0) return;
    this.#releasedBytes += freedBytes;
    if (this.#releasedBytes < RELEASE_COLLECT_BYTES) return;
    this.#releasedBytes = 0;
    collectGarbageSoon();
  }

  /**
   * Charges `connection` for its read buffer and pending answers; false (and the
   * connection closed with BUSY) when that would take the server past its budget.
   */
  #withinBudget(connection: Connection, bytes: number): boolean {
    const others = this.#bufferedBytes - connection.bufferedBytes;
    // A connection's base buffers are always granted (--max-connections bounds them), so
    // attackers holding the budget can never get a well-behaved client closed.
    if (bytes <= BASE_CONNECTION_BYTES || others + bytes <= this.#maxBufferedBytes) {
      this.#charge(connection, bytes, 0);
      return true;
    }
    this.#logger.warn(
      `closing ${connection.peer}: it would hold ${bytes} bytes, past the server's ` +
        `--max-buffered-bytes ${this.#maxBufferedBytes} (${others} held by others)`,
    );
    this.#charge(connection, 0, connection.bufferedBytes);
    this.#dismiss(
      connection,
      ErrorCode.BUSY,
      `the server's memory for connections is used up (--max-buffered-bytes ` +
        `${this.#maxBufferedBytes}); try again later`,
    );
    return false;
  }

  #trackFarewell(farewell: Promise<void>): void {
    this.#farewells.add(farewell);
    farewell.finally(() => this.#farewells.delete(farewell));
  }

  #startConnection(conn: ClientStream, peer: string, peerHost: string): void {
    const connection: Connection = {
      conn,
      peer,
      peerHost,
      phase: "reading",
      lastActivityAt: performance.now(),
      idleTimer: undefined,
      helloTimer: undefined,
      closed: false,
      farewell: false,
      greeted: false,
      challenge: undefined,
      refused: false,
      bufferedBytes: 0,
      batchWrites: false,
    };
    this.#connections.add(connection);
    this.#ungreeted.add(connection);
    this.#logger.debug(`connection from ${peer} (${this.#connections.size} open)`);
    // Until the welcome only this deadline applies, not the idle timeout (#handshake).
    connection.helloTimer = setTimeout(() => {
      if (connection.greeted || connection.closed) return;
      this.#logger.debug(`closing ${peer}: no HELLO within ${this.#helloTimeoutMs} ms`);
      this.#dismiss(
        connection,
        ErrorCode.IDLE_TIMEOUT,
        `no HELLO within ${this.#helloTimeoutMs} ms; closing`,
      );
    }, this.#helloTimeoutMs);
    const loop = this.#serve(connection)
      .catch((error) => {
        // A TLS handshake that fails (a plain-TCP client, an unknown CA) fails a read, and
        // so does a corrupt record after it, which no certificate or CA would mend.
        if (isTlsFailure(error)) {
          const stage = connection.conn.handshakeDone
            ? "TLS failed after the handshake"
            : "TLS handshake failed";
          this.#logFailure(connection, `${stage}: ${describeError(error)}`);
        } else if (error instanceof TlsDescriptorError) {
          // Out of descriptors, every TLS connection fails so while clients hold them.
          const since = this.#throttled(this.#acceptFailures, performance.now());
          if (since !== undefined) {
            this.#logger.warn(`TLS for ${peer} failed: ${describeError(error)}${since}`);
          }
        } else {
          this.#logger.error(`connection ${peer} failed: ${describeError(error)}`);
        }
      })
      .finally(() => {
        this.#forget(connection);
        clearTimeout(connection.idleTimer);
        if (!connection.farewell) closeConnection(connection);
        this.#connections.delete(connection);
        this.#connectionLoops.delete(loop);
        this.#logger.debug(`connection from ${peer} closed (${this.#connections.size} open)`);
      });
    this.#connectionLoops.add(loop);
  }

  #armIdleTimer(connection: Connection, delayMs: number): void {
    connection.idleTimer = setTimeout(() => {
      if (connection.closed) return;
      const idleMs = performance.now() - connection.lastActivityAt;
      // A slow commit is the server's own delay, not the client's silence.
      if (connection.phase === "committing" || idleMs < this.#idleTimeoutMs) {
        this.#armIdleTimer(connection, this.#idleTimeoutMs - idleMs);
        return;
      }
      this.#logger.debug(`closing ${connection.peer}: idle for ${Math.round(idleMs)} ms`);
      this.#dismiss(
        connection,
        ErrorCode.IDLE_TIMEOUT,
        `no complete request for ${this.#idleTimeoutMs} ms; closing`,
      );
    }, Math.max(0, delayMs));
  }

  /**
   * The reader of a connection's requests. Frames are views into its one buffer: each is
   * handled (and what is kept, copied) before the next read reuses it.
   */
  #requestReader(connection: Connection): FrameReader {
    return new FrameReader({
      // Raised to --max-frame-bytes once HELLO succeeds (#handshake).
      maxFrameBytes: Math.min(MAX_STRANGER_FRAME_BYTES, this.#maxFrameBytes),
      // Memory past the budget is refused before it is taken.
      onGrow: (capacity) => {
        if (!this.#withinBudget(connection, capacity)) throw new BudgetExceededError();
      },
    });
  }

  /**
   * Room in `reader` for the connection's next read, once the memory the last batch held
   * is charged anew; undefined when the budget refuses the room (the connection has been
   * dismissed). Of that batch's memory, only buffers dropped — the reader shrunk back,
   * `droppedBytes` of answer buffers too big to keep — went back to the system.
   */
  #readSpace(
    connection: Connection,
    reader: FrameReader,
    droppedBytes: number,
  ): Uint8Array | undefined {
    const capacityBefore = reader.capacity;
    let space: Uint8Array;
    try {
      space = reader.space();
    } catch (error) {
      if (error instanceof BudgetExceededError) return undefined;
      throw error;
    }
    const shrunkBytes = Math.max(0, capacityBefore - reader.capacity);
    this.#charge(connection, reader.capacity, shrunkBytes + droppedBytes);
    return space;
  }

  /**
   * Answers the frames in `reader` into `responses`, noting their ids in `requestIds`,
   * until the batch's answers fill MAX_PENDING_RESPONSE_BYTES, the connection is refused,
   * or a request must wait: then its wait is returned, for the caller to await before
   * calling again. A malformed frame throws its DecodeError.
   */
  #dispatchFrames(
    connection: Connection,
    reader: FrameReader,
    responses: FrameWriter,
    requestIds: number[],
  ): Promise<void> | undefined {
    while (
      responses.length < MAX_PENDING_RESPONSE_BYTES && !connection.refused && reader.advance()
    ) {
      requestIds.push(reader.frameRequestId);
      const waiting = this.#dispatch(connection, reader, responses);
      if (waiting !== undefined) return waiting;
    }
    return undefined;
  }

  async #serve(connection: Connection): Promise<void> {
    const { conn } = connection;
    const reader = this.#requestReader(connection);
    const batch = new AnswerBatch();
    while (!this.#closing && !connection.closed) {
      connection.phase = "reading";
      const space = this.#readSpace(connection, reader, batch.takeDroppedBytes());
      if (space === undefined) return;
      let count: number | null;
      try {
        count = await conn.read(space);
      } catch (error) {
        if (isDisconnect(error)) return;
        throw error;
      }
      if (count === null || connection.closed) return;
      connection.lastActivityAt = performance.now();
      connection.phase = "processing";
      reader.filled(count);
      let framingError: DecodeError | undefined;
      while (true) {
        const { responses, requestIds } = batch.begin();
        try {
          let waiting: Promise<void> | undefined;
          while ((waiting = this.#dispatchFrames(connection, reader, responses, requestIds))) {
            await waiting;
          }
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
          framingError = error;
        }
        if (requestIds.length > 0) {
          if (!this.#withinBudget(connection, reader.capacity + responses.length)) return;
          // A batch that read only, with nothing on its way to disk, has nothing to wait for.
          if (connection.batchWrites || !this.#store.settled) {
            await this.#commit(connection, responses, requestIds);
          }
          connection.phase = "writing";
          const answers = responses.bytes();
          // One write nearly always takes a batch's answers: awaited here, not in a helper,
          // since every async call is a promise and a resumption more per request.
          let written: number;
          try {
            written = await conn.write(answers);
          } catch (error) {
            // The peer left or we closed it (idle timeout): its answers have nowhere to go.
            if (isDisconnect(error)) return;
            throw error;
          }
          if (written < answers.length) await writeUnlessGone(conn, answers.subarray(written));
          batch.written();
        }
        if (connection.refused) return;
        if (framingError || requestIds.length === 0 || connection.closed) break;
      }
      if (framingError) {
        await this.#rejectStream(connection, framingError);
        return;
      }
    }
  }

  /** Makes the batch durable; a failed commit fails the whole batch. */
  async #commit(
    connection: Connection,
    responses: FrameWriter,
    requestIds: readonly number[],
  ): Promise<void> {
    connection.phase = "committing";
    try {
      await this.#store.commit();
    } catch (error) {
      // A batch of reads alone stands. One that changed something is refused whole, its
      // reads too: what of it reached the disk is unknown, and a read after a write in the
      // batch may have seen the write that was not saved. The store logs its failure
      // (onWritableChange), once.
      if (connection.batchWrites) {
        const reason = isFsError(error) ? describeReadOnly(error as Error) : describeError(error);
        const message = `the change was not saved: ${reason}`;
        responses.reset();
        for (const requestId of requestIds) {
          responses.error(requestId, ErrorCode.READ_ONLY, message);
        }
      }
    }
    connection.batchWrites = false;
    // The commit's time was the server's own, not the client's silence.
    connection.lastActivityAt = performance.now();
  }

  /**
   * Answers an unreadable stream with one last ERROR and closes the connection — or, for
   * an HTTP request (`curl` at a kv server's port, where kv http was meant), with one line
   * saying so, which the HTTP client shows.
   */
  async #rejectStream(connection: Connection, error: DecodeError): Promise<void> {
    const tooLarge = error instanceof FrameTooLargeError;
    this.#logger.debug(`closing ${connection.peer}: ${error.message}`);
    if (tooLarge && !connection.greeted && HTTP_REQUEST_STARTS.has(error.bodyBytes)) {
      connection.closed = true;
      await sendAndClose(connection.conn, NOT_HTTP_ANSWER);
      return;
    }
    const frames = new FrameWriter();
    frames.error(
      tooLarge ? error.requestId : CONNECTION_REQUEST_ID,
      tooLarge ? ErrorCode.TOO_LARGE : ErrorCode.BAD_REQUEST,
      error.message,
    );
    connection.closed = true;
    await sendAndClose(connection.conn, frames.bytes());
  }

  /**
   * Runs the frame `reader` took and appends its answer. A promise only for the frames
   * that wait (HELLO, SET_K, MARK_REPAIRED), so that the others cost no promise. A
   * well-formed GET, most requests, is answered where it lies in the read buffer.
   */
  #dispatch(
    connection: Connection,
    reader: FrameReader,
    responses: FrameWriter,
  ): Promise<void> | undefined {
    const type = reader.frameType;
    if (connection.greeted && type === MessageType.GET) {
      const { buffer, bodyStart, bodyEnd } = reader;
      if (isWellFormedGetBody(buffer, bodyStart, bodyEnd)) {
        this.#getFromBytes(
          reader.frameRequestId,
          buffer,
          bodyStart + GET_KEY_START,
          bodyEnd,
          responses,
        );
        return undefined;
      }
    }
    const frame = reader.frame();
    if (!connection.greeted || type === MessageType.HELLO) {
      return this.#handshake(connection, reader, frame, responses);
    }
    if (NODE_STATE_TYPES.has(type)) return this.#handleNodeState(connection, frame, responses);
    // A write the store refused (say, READ_ONLY) changed nothing to save.
    if (this.#handle(frame, responses) && WRITE_TYPES.has(type)) connection.batchWrites = true;
    return undefined;
  }

  /** The request `frame` holds; if it does not decode, refused in `responses` and undefined. */
  #decodeOrRefuse(frame: Frame, responses: FrameWriter): Request | undefined {
    try {
      return decodeRequest(frame);
    } catch (error) {
      this.#refuse(frame.requestId, "decoding a request", error, responses);
      return undefined;
    }
  }

  /** Runs one request but a well-formed GET and appends its answer; never throws. Says whether it ran. */
  #handle(frame: Frame, responses: FrameWriter): boolean {
    const request = this.#decodeOrRefuse(frame, responses);
    if (request === undefined) return false;
    try {
      this.#run(request, responses);
      return true;
    } catch (error) {
      this.#refuse(request.requestId, request.type, error, responses);
      return false;
    }
  }

  /**
   * Answers a well-formed GET (see isWellFormedGetBody) from its key's bytes
   * `bytes[keyStart, keyEnd)`, straight from the trie: no key string, request object or
   * version object is made, and the key is walked once. Never throws.
   */
  #getFromBytes(
    requestId: number,
    bytes: Uint8Array,
    keyStart: number,
    keyEnd: number,
    responses: FrameWriter,
  ): void {
    try {
      responses.okOrNotFoundRead(
        requestId,
        (out) => this.#store.getEncodedAt(bytes, keyStart, keyEnd, out),
      );
    } catch (error) {
      this.#refuse(requestId, "get", error, responses);
    }
  }

  /**
   * Answers SET_K or MARK_REPAIRED: at once, without a promise, a SET_K that changes
   * nothing (NodeStateKeeper.kAtOnce: a broker asks it before each write) or a request
   * that does not decode; else once the new state is durable. Never throws.
   */
  #handleNodeState(
    connection: Connection,
    frame: Frame,
    responses: FrameWriter,
  ): Promise<void> | undefined {
    const request = this.#decodeOrRefuse(frame, responses);
    if (request === undefined) return undefined;
    if (request.type === "setK") {
      const recorded = this.#store.nodeState.kAtOnce(request.k, request.replace);
      if (recorded !== undefined) {
        responses.okSetK(request.requestId, recorded);
        return undefined;
      }
    }
    return this.#changeNodeState(connection, request, responses);
  }

  /**
   * Runs SET_K or MARK_REPAIRED (sent on `connection`) and appends its answer once the new
   * state is durable; never throws.
   */
  async #changeNodeState(
    connection: Connection,
    request: Request,
    responses: FrameWriter,
  ): Promise<void> {
    const keeper = this.#store.nodeState;
    try {
      if (request.type === "setK") {
        const recorded = await keeper.setK(request.k, request.replace);
        return responses.okSetK(request.requestId, recorded);
      }
      invariant(request.type === "markRepaired", "only node state requests come here");
      if (await keeper.markRepaired(request.list, request.expected)) this.#closeOthers(connection);
      return responses.ok(request.requestId);
    } catch (error) {
      this.#refuse(request.requestId, request.type, error, responses);
    }
  }

  /**
   * Closes every connection but `kept`, once a MARK_REPAIRED on it replaced the mark of
   * another server list: a client reads a server's mark in its connection's HELLO, once, so
   * one still on that list would go on trusting this server's NOT FOUND on the connection
   * it holds while the repair removes the copies its list places here (a plain NOT FOUND
   * of a key the repair moved: README, "The cluster's k"). Before the repair gets its
   * answer, no connection greeted before the mark changed is answered again: each client
   * reconnects (a request the close cut off is sent once more) and reads the new mark. One
   * not yet greeted is kept: its HELLO is answered from now on, with the new mark (the
   * answer and the greeting are one step, #handshake).
   */
  #closeOthers(kept: Connection): void {
    let closed = 0;
    for (const connection of this.#connections) {
      if (connection === kept || connection.closed || !connection.greeted) continue;
      closeConnection(connection);
      closed++;
    }
    if (closed > 0) {
      this.#logger.debug(`closed ${closed} connections: the repaired mark changed lists`);
    }
  }

  /** Answers `requestId`, a `type` request that threw `error`, with its {@link #refusalOf}. */
  #refuse(requestId: number, type: string, error: unknown, responses: FrameWriter): void {
    const refusal = this.#refusalOf(type, error);
    responses.error(requestId, refusal.code, refusal.message);
  }

  /**
   * The error code and message answering a request that threw `error`. Only the errors
   * thrown on purpose about a request carry a code the client can act on: a
   * LimitExceededError (LIMIT) and any other DecodeError (BAD_REQUEST), which the
   * decoder, the key check, the codec, the trie and the log throw for what the request
   * asked; a MARK_REPAIRED whose compare-and-set failed (MARK_CHANGED, the mark held); and a
   * store that cannot write its data dir (READ_ONLY). Anything else — a TypeError from a
   * bug — is the server's own failure: INTERNAL, logged with its stack, and never blamed on
   * the client; a failed disk (the node state file not written) is READ_ONLY, as a write
   * the log refused, in one line saying what to do, since its stack says nothing.
   */
  #refusalOf(type: string, error: unknown): { code: ErrorCodeNumber; message: string } {
    if (error instanceof StoreFailedError) {
      return { code: ErrorCode.READ_ONLY, message: error.message };
    }
    if (error instanceof MarkChangedError) {
      return { code: ErrorCode.MARK_CHANGED, message: error.message };
    }
    if (isFsError(error)) {
      // The node state file not written (SET_K, MARK_REPAIRED): READ_ONLY like a write the
      // log refused, with what to do — the client must not retry elsewhere as for INTERNAL.
      const message = `${type} failed on the server: ${describeDiskFailure(error as Error)}`;
      this.#logger.error(message);
      return { code: ErrorCode.READ_ONLY, message };
    }
    if (error instanceof LimitExceededError) {
      return { code: ErrorCode.LIMIT, message: error.message };
    }
    if (error instanceof DecodeError) {
      return { code: ErrorCode.BAD_REQUEST, message: error.message };
    }
    const detail = error instanceof Error && error.stack ? error.stack : describeError(error);
    this.#logger.error(`${type} failed: ${detail}`);
    return { code: ErrorCode.INTERNAL, message: `${type} failed on the server` };
  }

  /**
   * Stores every item of a PUT_MANY in order, each on its own as a PUT would be, and
   * answers with the refused ones.
   */
  #putMany(request: Extract<Request, { type: "putMany" }>, responses: FrameWriter): void {
    const { body, items } = request;
    const refusals: PutManyRefusal[] = [];
    const now = Date.now();
    for (let index = 0; index < items.itemCount; index++) {
      const keyStart = items.keyStart(index);
      const keyEnd = items.keyEnd(index);
      try {
        const options = items.ifAbsent(index) ? IF_ABSENT : OVERWRITE;
        const versionAt = items.versionStart(index);
        if (!items.repair(index) && readVersionMs(body, versionAt) < now - MAX_WRITE_LAG_MS) {
          const key = readItemKey(body, keyStart, keyEnd);
          const version = readVersion(body, versionAt);
          const behind = this.#tooFarBehind(key, version, now)!;
          refusals.push({ index, code: ErrorCode.STALE, message: formatVersion(behind) });
          continue;
        }
        const stored = this.#store.putEncodedAt(
          body,
          keyStart,
          keyEnd,
          versionAt,
          items.valueStart(index),
          items.valueEnd(index),
          options,
        );
        if (stored && !items.repair(index)) {
          const ms = readVersionMs(body, versionAt);
          if (ms > now + FAR_VERSION_AHEAD_MS) {
            this.#noteFarVersion(ms, now, readItemKey(body, keyStart, keyEnd));
          }
        }
        if (!stored) {
          const key = readItemKey(body, keyStart, keyEnd);
          const held = this.#staleAgainst(key, readVersion(body, versionAt));
          if (held === undefined) {
            refusals.push({ index, code: ErrorCode.EXISTS, message: `key '${key}' exists` });
          } else if (!items.repair(index)) {
            // A STALE item's message is the version held, in its text form (docs/protocol.md).
            refusals.push({ index, code: ErrorCode.STALE, message: formatVersion(held) });
          }
        }
      } catch (error) {
        const refusal = this.#refusalOf("PUT_MANY", error);
        if (refusal.code === ErrorCode.INTERNAL || refusal.code === ErrorCode.READ_ONLY) {
          // The server's own failure (its store closed or broken) would fail every item
          // alike: answer once, logged once, rather than once per item.
          return responses.error(
            request.requestId,
            refusal.code,
            `PUT_MANY failed on the server at item ${index}` +
              (refusal.code === ErrorCode.READ_ONLY
                ? `: ${refusal.message}`
                : "; the items before it may be stored"),
          );
        }
        refusals.push({ index, ...refusal });
      }
    }
    responses.okPutMany(request.requestId, refusals);
  }

  /**
   * Answers HELLO, and any frame on a connection that has not completed HELLO: there
   * only HELLO and PING are served; anything else, and a refused HELLO, is answered with
   * an ERROR, logged, and closes the connection.
   */
  async #handshake(
    connection: Connection,
    reader: FrameReader,
    frame: Frame,
    responses: FrameWriter,
  ): Promise<void> {
    const refuse = (code: ErrorCodeNumber, message: string) => {
      this.#logFailure(connection, message);
      responses.error(frame.requestId, code, message);
      connection.refused = true;
    };
    if (frame.type === MessageType.PING) return responses.ok(frame.requestId);
    if (frame.type !== MessageType.HELLO) {
      return refuse(
        ErrorCode.AUTH_REQUIRED,
        `request type 0x${frame.type.toString(16).padStart(2, "0")} before HELLO; ` +
          "send HELLO first",
      );
    }
    let hello: Request;
    try {
      hello = decodeRequest(frame);
    } catch (error) {
      return refuse(ErrorCode.BAD_REQUEST, `unreadable HELLO: ${describeError(error)}`);
    }
    if (hello.type !== "hello") throw new Error("a HELLO frame decodes to a HELLO");
    const id = hello.requestId;
    if (this.#helloVersionRefusal(hello.version, responses, id)) {
      connection.refused = true;
      return this.#logFailure(connection, `HELLO for protocol version ${hello.version}`);
    }
    const refusal = await this.#authRefusal(connection, hello.authScheme, hello.auth);
    if (refusal !== undefined) return refuse(refusal.code, refusal.message);
    if (connection.challenge !== undefined) {
      // Only what answering needs: a client that has proved nothing learns no id or state.
      return responses.okHelloChallenge(id, {
        version: hello.version,
        challenge: connection.challenge,
      });
    }
    if (!connection.greeted) {
      connection.greeted = true;
      reader.maxFrameBytes = this.#maxFrameBytes;
      this.#ungreeted.delete(connection);
      clearTimeout(connection.helloTimer);
      // The idle timeout starts with the welcome: a stranger closed after --idle-timeout-ms
      // (below the HELLO deadline), its ERROR naming it, would learn the setting.
      this.#armIdleTimer(connection, this.#idleTimeoutMs);
    }
    responses.okHello(id, this.#helloResult(hello.version));
  }

  /**
   * Why this HELLO's authentication fails, or undefined when it passes or asks for the
   * challenge (then left in `connection.challenge`).
   */
  async #authRefusal(
    connection: Connection,
    scheme: number,
    auth: Uint8Array,
  ): Promise<{ code: ErrorCodeNumber; message: string } | undefined> {
    if (scheme !== AUTH_NONE && scheme !== AUTH_HMAC_SHA256) {
      return {
        code: ErrorCode.UNSUPPORTED_AUTH,
        message: `auth scheme ${scheme} is not supported; use ${AUTH_NONE} (none) or ` +
          `${AUTH_HMAC_SHA256} (HMAC-SHA-256)`,
      };
    }
    if (this.#auth === undefined) {
      // No auth file: nothing to prove, and nothing a client sends is checked.
      if (auth.length === 0) return undefined;
      return { code: ErrorCode.AUTH_FAILED, message: "this server expects no auth data" };
    }
    if (scheme === AUTH_NONE) {
      return {
        code: ErrorCode.AUTH_REQUIRED,
        message: "this server requires authentication; give the client --auth-file",
      };
    }
    const challenge = connection.challenge;
    if (challenge === undefined) {
      if (auth.length > 0) {
        return { code: ErrorCode.AUTH_FAILED, message: "an answer to no challenge" };
      }
      connection.challenge = newChallenge();
      return undefined;
    }
    connection.challenge = undefined;
    if (auth.length !== MAC_BYTES) {
      // Not a wrong secret but no answer (a second HELLO without one) or a malformed one.
      return {
        code: ErrorCode.AUTH_FAILED,
        message: `the answer to the challenge is ${auth.length} bytes, not the ${MAC_BYTES} ` +
          "of HMAC-SHA-256",
      };
    }
    if (await this.#auth.verify(challenge, auth)) return undefined;
    return {
      code: ErrorCode.AUTH_FAILED,
      message: "authentication failed: the client's secret is not in this server's auth file",
    };
  }

  /** Answers an unsupported protocol version with an ERROR, and says whether it did. */
  #helloVersionRefusal(version: number, responses: FrameWriter, id: number): boolean {
    // Only this version: an older peer would write without versions, which replicas cannot order.
    if (version === PROTOCOL_VERSION) return false;
    responses.error(
      id,
      ErrorCode.UNSUPPORTED_VERSION,
      `protocol version ${version} is not supported; this server speaks ` +
        `version ${PROTOCOL_VERSION} only: upgrade the older of the two`,
    );
    return true;
  }

  #helloResult(version: number): HelloResult {
    return {
      version,
      maxFrameBytes: this.#maxFrameBytes,
      idleTimeoutMs: this.#idleTimeoutMs,
      serverId: this.#serverId,
      state: this.#store.nodeState.state,
    };
  }

  /** Logs a refused connection, at most once a second per peer address. */
  #logFailure(connection: Connection, reason: string): void {
    const now = performance.now();
    const last = this.#failuresLogged.get(connection.peerHost);
    if (last !== undefined && now - last.at < AUTH_FAILURE_LOG_INTERVAL_MS) {
      last.unlogged++;
      return;
    }
    if (this.#failuresLogged.size >= MAX_TRACKED_FAILING_PEERS) this.#failuresLogged.clear();
    const unlogged = last?.unlogged ? ` (and ${last.unlogged} more since the last report)` : "";
    this.#failuresLogged.set(connection.peerHost, { at: now, unlogged: 0 });
    this.#logger.warn(`refused ${connection.peer}: ${reason}${unlogged}`);
  }

  /**
   * Logs the refusal of a connection from `peer` at --max-connections, at most once per
   * {@link FAR_VERSION_LOG_INTERVAL_MS} (counting those between): the clients it turns
   * away see BUSY and say so, but an operator looking at the server must see it too.
   */
  #noteFull(peer: string): void {
    const since = this.#throttled(this.#fullRefusals, performance.now());
    if (since === undefined) return;
    this.#logger.warn(
      `refused ${peer} (BUSY): all ${this.#maxConnections} connections of --max-connections ` +
        `are open${since}; raise --max-connections, or end the clients holding them`,
    );
  }

  /**
   * Logs a write stored at a version `ms` more than {@link FAR_VERSION_AHEAD_MS} ahead of
   * `now` (this server's clock), at most once per {@link FAR_VERSION_LOG_INTERVAL_MS};
   * repair copies are never passed here: they carry the versions others made.
   */
  #noteFarVersion(ms: number, now: number, key: string): void {
    if (ms <= now + FAR_VERSION_AHEAD_MS) return;
    const since = this.#throttled(this.#farVersions, now);
    if (since === undefined) return;
    this.#logger.warn(
      // Quoted as kv keys lists it: a client's newline or escape sequence would forge a line
      // or reach the terminal of whoever reads the log.
      `stored '${listedKey(key)}' at a version ${describeDays(ms - now)} ahead of this server's ` +
        `clock${since}: a writer's clock is wrong, or the key held a version that far ahead ` +
        "already (a later write is stamped after it)",
    );
  }

  /**
   * The STALE answer's version for a write of `key` at `version` (not a repair copy)
   * stamped more than {@link MAX_WRITE_LAG_MS} behind `now`, this server's clock: the
   * newer of `now` as a version ({@link clockVersion}) and what the key holds; logged at
   * most once per {@link FAR_VERSION_LOG_INTERVAL_MS}, as far versions are. Undefined when
   * the version is recent enough: the write goes on (and the key is not looked up: this
   * runs for every write).
   */
  #tooFarBehind(key: string, version: Version, now: number): Version | undefined {
    if (version.ms >= now - MAX_WRITE_LAG_MS) return undefined;
    const held = this.#store.versionOf(key);
    const since = this.#throttled(this.#laggingWrites, now);
    if (since !== undefined) {
      this.#logger.warn(
        `answered a write of '${listedKey(key)}' stamped ${describeLag(now - version.ms)} ` +
          `behind this server's clock with STALE at the clock's time${since}, so that the ` +
          "writer stamps it again after it: a writer's clock (or this server's) is wrong; " +
          "keep every machine on NTP",
      );
    }
    const clock = clockVersion(now);
    return held === undefined ? clock : newerVersion(held, clock);
  }

  /**
   * `""` or `" (and N more since the last report)"` when a line of the kind `state` counts
   * may be logged at `now` (once per {@link FAR_VERSION_LOG_INTERVAL_MS}); else undefined,
   * and the line is counted.
   */
  #throttled(state: { loggedAt: number; unlogged: number }, now: number): string | undefined {
    if (now - state.loggedAt < FAR_VERSION_LOG_INTERVAL_MS) {
      state.unlogged++;
      return undefined;
    }
    const since = state.unlogged > 0 ? ` (and ${state.unlogged} more since the last report)` : "";
    state.loggedAt = now;
    state.unlogged = 0;
    return since;
  }

  /** The version `key` holds when it is newer than or equal to `version`: why a write was refused. */
  #staleAgainst(key: string, version: Version): Version | undefined {
    const held = this.#store.versionOf(key);
    return held !== undefined && compareVersions(held, version) >= 0 ? held : undefined;
  }

  /**
   * Answers a PUT: OK stored, EXISTS for an overwrite-refused key, or STALE with the newer
   * or equal version held (a repair copy is acknowledged and ignored instead).
   */
  #put(request: Extract<Request, { type: "put" }>, responses: FrameWriter): void {
    const { key, version, requestId: id } = request;
    const options = { overwrite: request.overwrite, version, ifNewer: true };
    const behind = request.repair ? undefined : this.#tooFarBehind(key, version, Date.now());
    if (behind !== undefined) return responses.stale(id, behind);
    if (this.#store.putEncoded(key, request.encodedValue, options)) {
      if (!request.repair) this.#noteFarVersion(version.ms, Date.now(), key);
      return responses.ok(id);
    }
    const held = this.#staleAgainst(key, version);
    if (held === undefined) return responses.error(id, ErrorCode.EXISTS, `key '${key}' exists`);
    // A repair copy older than what is held is acknowledged and ignored.
    return request.repair ? responses.ok(id) : responses.stale(id, held);
  }

  /**
   * Answers a DELETE without the purge flag with what it replaced (a tombstone is left
   * either way): OK with the record's version, NOT_FOUND with the tombstone's or, when the
   * key held nothing, empty; or STALE with the newer or equal version held. The version
   * lets a broker tell which replica's answer is newest: a replica that missed an earlier
   * delete still holds an older record (docs/protocol.md, DELETE).
   */
  #delete(request: Extract<Request, { type: "delete" }>, responses: FrameWriter): void {
    const { key, version, requestId: id } = request;
    const behind = request.repair ? undefined : this.#tooFarBehind(key, version, Date.now());
    if (behind !== undefined) return responses.stale(id, behind);
    const existed = this.#store.has(key);
    const replaced = this.#store.versionOf(key);
    if (this.#store.delete(key, { version, ifNewer: true })) {
      if (!request.repair) this.#noteFarVersion(version.ms, Date.now(), key);
      if (!existed) return responses.notFound(id, replaced);
      invariant(replaced !== undefined, "a record has a version");
      return responses.okVersion(id, replaced);
    }
    const held = this.#store.versionOf(key);
    invariant(held !== undefined, "a refused delete met a version");
    return request.repair ? responses.ok(id) : responses.stale(id, held);
  }

  /**
   * Answers a DELETE with the purge flag: OK purged, NOT_FOUND nothing held, or STALE. An
   * aged purge removes only a tombstone whose version's time is at least
   * {@link TOMBSTONE_PURGE_AGE_MS} behind this server's clock, and answers anything else
   * STALE with the version held: the age is judged here, never by the repairing host's
   * clock, so a repair run from a machine whose clock is ahead cannot purge a fresh delete
   * that a repair copy still in flight would then undo (docs/protocol.md, DELETE).
   */
  #purge(request: Extract<Request, { type: "delete" }>, responses: FrameWriter): void {
    const id = request.requestId;
    if (request.aged) {
      const held = this.#store.versionOf(request.key);
      if (held === undefined) return responses.notFound(id);
      const young = held.ms > Date.now() - TOMBSTONE_PURGE_AGE_MS;
      if (young || this.#store.has(request.key)) return responses.stale(id, held);
    }
    const result = this.#store.purge(request.key, request.version);
    if (result.kind === "purged") return responses.ok(id);
    if (result.kind === "absent") return responses.notFound(id);
    // A repair copy meeting a newer write is acknowledged and ignored, as for any write.
    return request.repair ? responses.ok(id) : responses.stale(id, result.version);
  }

  /** Runs a decoded request of the kinds #handle runs and appends its answer; may throw. */
  #run(request: Request, responses: FrameWriter): void {
    const store = this.#store;
    const id = request.requestId;
    switch (request.type) {
      case "hello":
        throw new Error("HELLO is answered by #handshake, never here");
      case "ping":
        return responses.ok(id);
      case "put":
        return this.#put(request, responses);
      case "putMany":
        return this.#putMany(request, responses);
      case "get":
        throw new Error("GET is answered from its key's bytes by #getFromBytes, never here");
      // Answered straight from the trie's bytes: no value object is built and re-encoded.
      case "query": {
        const { path } = request;
        const version = store.versionOf(path[0]);
        if (version === undefined) return responses.notFound(id);
        if (responses.okIfFound(id, version, (out) => store.queryInto(path, out))) return;
        // A miss, answered with why from the same record: a tombstone's has none.
        return responses.notFound(id, version, store.queryMiss(path));
      }
      case "delete":
        return request.purge ? this.#purge(request, responses) : this.#delete(request, responses);
      case "keys":
        return responses.okKeys(
          id,
          store.keys({ prefix: request.prefix, limit: request.limit, after: request.after }),
        );
      case "partitionDigests":
        return responses.okPartitionDigests(id, store.partitionDigests, PARTITION_COUNT);
      case "listPartitions": {
        const after = request.after === undefined ? undefined : textEncoder.encode(request.after);
        return responses.okListPartitions(id, store.entryCursor(after), request);
      }
      case "setK":
      case "markRepaired":
        throw new Error("node state requests are answered by #handleNodeState, never here");
      case "stats":
        return responses.okStats(id, {
          recordCount: store.recordCount,
          memoryBytes: store.memoryBytes,
          uptimeMs: Math.round(performance.now() - this.#startedAt),
          connectionCount: this.#connections.size,
          readOnly: !store.writable,
        });
    }
  }
}

/** A connection's read buffer would take the server past its buffer budget. */
class BudgetExceededError extends Error {
  constructor() {
    super("the server's buffer budget is used up");
    this.name = "BudgetExceededError";
  }
}

/** Writes all of `bytes` unless the connection is gone first, which is no error here. */
async function writeUnlessGone(conn: ClientStream, bytes: Uint8Array): Promise<void> {
  try {
    await writeAll(conn, bytes);
  } catch (error) {
    // The peer left or we closed it (idle timeout): its answers have nowhere to go.
    if (!isDisconnect(error)) throw error;
  }
}

/**
 * The first four bytes of an HTTP request (`GET `, `PUT `, `POST`, `HEAD`) read as a frame
 * header's body length: each over the largest --max-frame-bytes (1 GiB), so such a stream
 * always fails as a frame too large, before anything is run.
 */
const HTTP_REQUEST_STARTS: ReadonlySet<number> = new Set(
  ["GET ", "PUT ", "POST", "HEAD"].map((method) =>
    new DataView(new TextEncoder().encode(method).buffer).getUint32(0)
  ),
);

/** What an HTTP request at a kv server's port is told. */
const NOT_HTTP_LINE =
  "this is a kv server, not HTTP: use kv http (http://127.0.0.1:8080/ by default)";

/**
 * {@link NOT_HTTP_LINE} as an HTTP/1.0 answer: a bare line is refused by HTTP clients
 * (curl: "Received HTTP/0.9 when not allowed"), an answer's body is shown.
 */
const NOT_HTTP_ANSWER: Uint8Array = (() => {
  const body = `${NOT_HTTP_LINE}\n`;
  return new TextEncoder().encode(
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${utf8Length(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
})();

/** Sends a last frame (best effort, bounded in time) and closes the connection. */
async function sendAndClose(conn: ClientStream, bytes: Uint8Array): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      writeUnlessGone(conn, bytes),
      new Promise((resolve) => timer = setTimeout(resolve, FINAL_ERROR_WRITE_TIMEOUT_MS)),
    ]);
  } catch {
    // Best effort: the peer may already be gone.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeConnection(connection: Connection): void {
  connection.closed = true;
  closeQuietly(connection.conn);
}

/**
 * Whether a connection's read failed in TLS, not on the network: bytes that are no TLS
 * (InvalidData, lib/protocol/tls_server.ts) or a handshake node:tls refused (its errors'
 * codes are `ERR_SSL_…`: a client that does not trust the certificate, a bad record).
 */
function isTlsFailure(error: unknown): boolean {
  if (error instanceof Deno.errors.InvalidData) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_SSL_");
}

function describeAddr(addr: Deno.NetAddr): string {
  return `${addr.hostname}:${addr.port}`;
}
