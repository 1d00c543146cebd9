/**
 * The network layer of `kv server`: accepts TCP connections, decodes request
 * frames ({@link ./protocol.ts}), runs them against a {@link Store} and writes
 * the answers.
 *
 * Per connection the loop is: read a chunk, decode every complete frame in it,
 * run them in order, `await store.commit()` once for the whole batch (so no
 * answer is sent before its write is durable), then send all the answers in one
 * write. A pipelined batch of 1000 PUTs thus costs a few reads, as many commits
 * and as many writes, not 1000 of each.
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
import { DecodeError } from "../base/bytes.ts";
import { FrameReader } from "../protocol/frame_reader.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../limits.ts";
import { Logger, SILENT_LOGGER } from "../base/logger.ts";
import {
  AUTH_NONE,
  CONNECTION_REQUEST_ID,
  ErrorCode,
  type ErrorCodeNumber,
  type Frame,
  FrameTooLargeError,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type PutManyRefusal,
  type Request,
  SERVER_ID_BYTES,
} from "../protocol/mod.ts";
import { decodeRequest, readItemKey } from "../protocol/messages.ts";
import { FrameWriter } from "../protocol/frame_writer.ts";
import { LimitExceededError } from "../base/bytes.ts";
import type { Store } from "./store.ts";

/** PUT options, made once rather than per item of a PUT_MANY. */
const OVERWRITE = { overwrite: true } as const;
const IF_ABSENT = { overwrite: false } as const;

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
  /** Where connection events (debug) and failures (error) go; default: silent. */
  logger?: Logger;
}

type Phase = "reading" | "processing" | "committing" | "writing";

/** One client connection's state, shared between its loop, the idle timer and `close`. */
interface Connection {
  readonly conn: Deno.TcpConn;
  readonly peer: string;
  phase: Phase;
  lastActivityAt: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
  /** A last ERROR is being sent; whoever sends it closes the socket afterwards. */
  farewell: boolean;
}

/**
 * A kv server: listens, serves every connection, and shuts down gracefully.
 *
 * @example
 * ```ts
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
  /** Random per process, told in HELLO, so a broker can tell two addresses of one server. */
  readonly #serverId: string = Array.from(
    crypto.getRandomValues(new Uint8Array(SERVER_ID_BYTES)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
  readonly #logger: Logger;
  #listener: Deno.TcpListener | undefined;
  #startedAt = 0;
  #closing = false;
  #closePromise: Promise<void> | undefined;
  readonly #connections = new Set<Connection>();
  readonly #connectionLoops = new Set<Promise<void>>();
  readonly #farewells = new Set<Promise<void>>();
  #acceptLoop: Promise<void> | undefined;

  /** @param options see {@link KvServerOptions}. */
  constructor(options: KvServerOptions) {
    this.#store = options.store;
    this.#hostname = options.hostname ?? DEFAULT_HOSTNAME;
    this.#port = options.port ?? DEFAULT_PORT;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  /**
   * Binds the port and starts accepting; returns the bound address (the real
   * port when 0 was asked). Throws Deno's error (e.g. `Deno.errors.AddrInUse`)
   * when the address cannot be bound.
   *
   * @example
   * ```ts
   * const { hostname, port } = server.listen();
   * ```
   */
  listen(): Deno.NetAddr {
    if (this.#listener) throw new Error("the server is already listening");
    this.#listener = Deno.listen({ hostname: this.#hostname, port: this.#port, transport: "tcp" });
    this.#startedAt = performance.now();
    this.#acceptLoop = this.#accept(this.#listener);
    return this.addr;
  }

  /** The bound address; only after {@link KvServer.listen}. */
  get addr(): Deno.NetAddr {
    if (!this.#listener) throw new Error("the server is not listening");
    return this.#listener.addr;
  }

  /** Client connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Shuts down gracefully: stops accepting, lets every connection finish the
   * batch it is running (answers included), closes idle connections, commits
   * and closes the store. Calling it again returns the same promise.
   *
   * @example
   * ```ts
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
    await Promise.all([...this.#connectionLoops, ...this.#farewells]);
    try {
      await this.#store.commit();
    } finally {
      await this.#store.close();
    }
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) return;
        this.#logger.warn(`accept failed: ${describeError(error)}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_DELAY_MS));
        continue;
      }
      const peer = describeAddr(conn.remoteAddr);
      if (this.#closing) {
        closeQuietly(conn);
      } else if (this.#connections.size >= this.#maxConnections) {
        this.#logger.debug(`refused ${peer}: ${this.#maxConnections} connections already open`);
        const frames = new FrameWriter();
        frames.error(
          CONNECTION_REQUEST_ID,
          ErrorCode.BUSY,
          `too many connections (limit ${this.#maxConnections}); try again later`,
        );
        this.#trackFarewell(sendAndClose(conn, frames.bytes()));
      } else {
        this.#startConnection(conn, peer);
      }
    }
  }

  #trackFarewell(farewell: Promise<void>): void {
    this.#farewells.add(farewell);
    farewell.finally(() => this.#farewells.delete(farewell));
  }

  #startConnection(conn: Deno.TcpConn, peer: string): void {
    const connection: Connection = {
      conn,
      peer,
      phase: "reading",
      lastActivityAt: performance.now(),
      idleTimer: undefined,
      closed: false,
      farewell: false,
    };
    this.#connections.add(connection);
    this.#logger.debug(`connection from ${peer} (${this.#connections.size} open)`);
    this.#armIdleTimer(connection, this.#idleTimeoutMs);
    const loop = this.#serve(connection)
      .catch((error) => this.#logger.error(`connection ${peer} failed: ${describeError(error)}`))
      .finally(() => {
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
      if (connection.phase === "reading") {
        // Our side of the stream is between frames, so a last ERROR can still be parsed.
        const frames = new FrameWriter();
        frames.error(
          CONNECTION_REQUEST_ID,
          ErrorCode.IDLE_TIMEOUT,
          `no complete request for ${this.#idleTimeoutMs} ms; closing`,
        );
        connection.closed = true;
        connection.farewell = true;
        this.#trackFarewell(sendAndClose(connection.conn, frames.bytes()));
      } else {
        closeConnection(connection);
      }
    }, Math.max(0, delayMs));
  }

  async #serve(connection: Connection): Promise<void> {
    const { conn } = connection;
    conn.setNoDelay(true);
    // Frames are views into the reader's one buffer: each is handled (and what is kept,
    // copied) before the next read reuses it.
    const reader = new FrameReader({ maxFrameBytes: this.#maxFrameBytes });
    const responses = new FrameWriter();
    const requestIds: number[] = [];
    while (!this.#closing && !connection.closed) {
      connection.phase = "reading";
      const count = await readOrEnd(conn, reader.space());
      if (count === null || connection.closed) return;
      connection.lastActivityAt = performance.now();
      connection.phase = "processing";
      reader.filled(count);
      let framingError: DecodeError | undefined;
      while (true) {
        responses.reset();
        requestIds.length = 0;
        try {
          for (let frame = reader.next(); frame; frame = reader.next()) {
            requestIds.push(frame.requestId);
            this.#handle(frame, responses);
            if (responses.length >= MAX_PENDING_RESPONSE_BYTES) break;
          }
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
          framingError = error;
        }
        if (requestIds.length > 0) await this.#commitAndSend(connection, responses, requestIds);
        if (framingError || requestIds.length === 0 || connection.closed) break;
      }
      if (framingError) {
        await this.#rejectStream(connection, framingError);
        return;
      }
    }
  }

  /** Makes the batch durable, then sends its answers; a failed commit fails the whole batch. */
  async #commitAndSend(
    connection: Connection,
    responses: FrameWriter,
    requestIds: readonly number[],
  ): Promise<void> {
    connection.phase = "committing";
    try {
      await this.#store.commit();
    } catch (error) {
      this.#logger.error(`commit failed: ${describeError(error)}`);
      responses.reset();
      for (const requestId of requestIds) {
        responses.error(requestId, ErrorCode.INTERNAL, "the server could not save the change");
      }
      connection.closed = true;
    }
    connection.phase = "writing";
    connection.lastActivityAt = performance.now();
    await writeAll(connection.conn, responses.bytes());
  }

  /** Answers an unreadable stream with one last ERROR and closes the connection. */
  async #rejectStream(connection: Connection, error: DecodeError): Promise<void> {
    const tooLarge = error instanceof FrameTooLargeError;
    this.#logger.debug(`closing ${connection.peer}: ${error.message}`);
    const frames = new FrameWriter();
    frames.error(
      tooLarge ? error.requestId : CONNECTION_REQUEST_ID,
      tooLarge ? ErrorCode.TOO_LARGE : ErrorCode.BAD_REQUEST,
      error.message,
    );
    connection.closed = true;
    await sendAndClose(connection.conn, frames.bytes());
  }

  /** Runs one request and appends its answer; never throws. */
  #handle(frame: Frame, responses: FrameWriter): void {
    let request: Request;
    try {
      request = decodeRequest(frame);
    } catch (error) {
      const code = error instanceof LimitExceededError
        ? ErrorCode.LIMIT
        : error instanceof DecodeError
        ? ErrorCode.BAD_REQUEST
        : ErrorCode.INTERNAL;
      responses.error(frame.requestId, code, describeError(error));
      return;
    }
    try {
      this.#run(request, responses);
    } catch (error) {
      const refusal = this.#refusalOf(request.type, error);
      responses.error(request.requestId, refusal.code, refusal.message);
    }
  }

  /**
   * The error code and message answering a request that threw `error`. The store throws
   * DecodeError for a malformed value, RangeError for one too large to log and TypeError
   * for an invalid key: the client's request is at fault. Anything else is the server's,
   * and logged.
   */
  #refusalOf(type: string, error: unknown): { code: ErrorCodeNumber; message: string } {
    if (error instanceof LimitExceededError) {
      return { code: ErrorCode.LIMIT, message: error.message };
    }
    if (error instanceof DecodeError) {
      return { code: ErrorCode.BAD_REQUEST, message: error.message };
    }
    if (error instanceof RangeError) return { code: ErrorCode.LIMIT, message: error.message };
    if (error instanceof TypeError) return { code: ErrorCode.BAD_REQUEST, message: error.message };
    this.#logger.error(`${type} failed: ${describeError(error)}`);
    return { code: ErrorCode.INTERNAL, message: `${type} failed on the server` };
  }

  /**
   * Stores every item of a PUT_MANY in order, each on its own as a PUT would be, and
   * answers with the refused ones.
   */
  #putMany(request: Extract<Request, { type: "putMany" }>, responses: FrameWriter): void {
    const { body, items } = request;
    const refusals: PutManyRefusal[] = [];
    for (let index = 0; index < items.itemCount; index++) {
      const keyStart = items.keyStart(index);
      const keyEnd = items.keyEnd(index);
      try {
        const options = items.ifAbsent(index) ? IF_ABSENT : OVERWRITE;
        const stored = this.#store.putEncodedAt(
          body,
          keyStart,
          keyEnd,
          -1,
          items.valueStart(index),
          items.valueEnd(index),
          options,
        );
        if (!stored) {
          const key = readItemKey(body, keyStart, keyEnd);
          refusals.push({ index, code: ErrorCode.EXISTS, message: `key '${key}' exists` });
        }
      } catch (error) {
        const refusal = this.#refusalOf("PUT_MANY", error);
        if (refusal.code === ErrorCode.INTERNAL) {
          // The server's own failure (its store closed or broken) would fail every item
          // alike: answer once, logged once, rather than once per item.
          return responses.error(
            request.requestId,
            ErrorCode.INTERNAL,
            `PUT_MANY failed on the server at item ${index}; the items before it may be stored`,
          );
        }
        refusals.push({ index, ...refusal });
      }
    }
    responses.okPutMany(request.requestId, refusals);
  }

  #run(request: Request, responses: FrameWriter): void {
    const store = this.#store;
    const id = request.requestId;
    switch (request.type) {
      case "hello":
        if (request.version < MIN_PROTOCOL_VERSION || request.version > PROTOCOL_VERSION) {
          return responses.error(
            id,
            ErrorCode.UNSUPPORTED_VERSION,
            `protocol version ${request.version} is not supported; this server speaks ` +
              `${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`,
          );
        }
        if (request.authScheme !== AUTH_NONE || request.auth.length > 0) {
          return responses.error(
            id,
            ErrorCode.UNSUPPORTED_AUTH,
            `auth scheme ${request.authScheme} is not supported; use ${AUTH_NONE} (none)`,
          );
        }
        return responses.okHello(id, {
          version: request.version,
          maxFrameBytes: this.#maxFrameBytes,
          idleTimeoutMs: this.#idleTimeoutMs,
          serverId: this.#serverId,
        });
      case "ping":
        return responses.ok(id);
      case "put": {
        const stored = store.putEncoded(request.key, request.encodedValue, {
          overwrite: request.overwrite,
        });
        if (stored) return responses.ok(id);
        return responses.error(id, ErrorCode.EXISTS, `key '${request.key}' exists`);
      }
      case "putMany":
        return this.#putMany(request, responses);
      case "get": {
        const value = store.get(request.key);
        return value === undefined ? responses.notFound(id) : responses.okValue(id, value);
      }
      case "query": {
        const value = store.query(request.path);
        return value === undefined ? responses.notFound(id) : responses.okValue(id, value);
      }
      case "delete": {
        const existed = store.get(request.key) !== undefined;
        store.delete(request.key);
        return existed ? responses.ok(id) : responses.notFound(id);
      }
      case "keys":
        return responses.okKeys(
          id,
          store.keys({ prefix: request.prefix, limit: request.limit, after: request.after }),
        );
      case "stats":
        return responses.okStats(id, {
          recordCount: store.recordCount,
          memoryBytes: store.memoryBytes,
          uptimeMs: Math.round(performance.now() - this.#startedAt),
          connectionCount: this.#connections.size,
        });
    }
  }
}

/** Reads into `buffer`; `null` at end of stream or when the connection was closed under it. */
async function readOrEnd(conn: Deno.Conn, buffer: Uint8Array): Promise<number | null> {
  try {
    return await conn.read(buffer);
  } catch (error) {
    if (isDisconnect(error)) return null;
    throw error;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  try {
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  } catch (error) {
    // The peer left or we closed it (idle timeout): its answers have nowhere to go.
    if (!isDisconnect(error)) throw error;
  }
}

/** Sends a last frame (best effort, bounded in time) and closes the connection. */
async function sendAndClose(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      writeAll(conn, bytes),
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

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed: nothing left to release.
  }
}

function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected;
}

function describeAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" ? `${addr.hostname}:${addr.port}` : addr.transport;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
