/**
 * One persistent, pipelined connection from a broker to one `kv server`.
 *
 * Every request gets a fresh id and joins a queue of requests in flight; the
 * server answers in order, so the oldest request is always the next answered.
 * Requests made in the same turn of the event loop are coalesced into one write: a
 * batch of 1000 `put`s started without awaiting costs one write and one round trip.
 *
 * Failures are typed so the broker can tell them apart:
 * - {@link ServerError}: the server answered ERROR (bad request, limit); the
 *   connection is fine.
 * - {@link ConnectionError}: the connection failed or was closed; every request
 *   in flight rejects with it and the client is unusable (reconnect).
 * - {@link RequestTimeoutError} (a ConnectionError): a request got no answer in
 *   time: the request timeout passed since it was sent with nothing read from the
 *   server meanwhile (a server still answering earlier requests is alive), and
 *   answers that came while this process was not running were read first. Since
 *   answers come in order, a silent server would stall every later request too, so
 *   the connection is closed: a hung server looks like a dead one, and the broker
 *   reconnects.
 *
 * @example
 * ```ts
 * import { ServerClient } from "./client.ts";
 * import { str, type Value } from "../record/value.ts";
 * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * await client.put("person1", str("Mary"), { version }); // { kind: "stored" }
 * await client.get("person1"); // { value: { kind: "string", value: "Mary" }, version }
 * client.close();
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import { describeError } from "../base/describe_error.ts";
import { oneLine } from "../record/key.ts";
import { withoutOsDetail } from "../base/fs_error.ts";
import { hostPort } from "../base/host_port.ts";
import { checkKey, type KeysOptions } from "../record/key.ts";
import type { Value } from "../record/value.ts";
import { DecodeError } from "../base/bytes.ts";
import { ByteSlab } from "../base/byte_slab.ts";
import { AUTH_HMAC_SHA256, type AuthKeys } from "./auth.ts";
import type { Credentials } from "./credentials.ts";
import {
  AUTH_NONE,
  CONNECTION_REQUEST_ID,
  type DeleteResult,
  type EncodedRead,
  ErrorCode,
  errorCodeName,
  HELLO_CHALLENGE_BYTES,
  type HelloAnswer,
  type HelloResult,
  isNoList,
  LIST_FINGERPRINT_BYTES,
  LIST_PARTITIONS_BUDGET_BYTES,
  type ListPartitionsOptions,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_RECORDED_K,
  MAX_REQUEST_ID,
  MessageType,
  NO_LIST,
  type NodeState,
  PARTITION_BITMAP_BYTES,
  type PartitionDigests,
  type PartitionListing,
  PROTOCOL_VERSION,
  type PutManyRefusal,
  type PutResult,
  type ReadResult,
  type Response,
  SERVER_ID_BYTES,
  type ServerStats,
  type WriteOptions,
} from "./mod.ts";
import { FrameReader } from "./frame_reader.ts";
import { OPENING_BYTES, type Stranger, strangerOf } from "./stranger.ts";
import { FrameWriter } from "./frame_writer.ts";
import {
  checkKeysOptions,
  checkListLimit,
  decodeEmptyBody,
  decodeHelloBody,
  decodeKeysBody,
  decodeListPartitionsBody,
  decodePartitionDigestsBody,
  decodePutManyBody,
  decodeResponse,
  decodeSetKBody,
  decodeStatsBody,
  decodeVersionBody,
  DIGEST_ROW_BYTES,
  splitValueBody,
  splitValueBodyAt,
} from "./messages.ts";
import { checkPath } from "../record/query_path.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  MAX_KEY_BYTES,
  MAX_PATH_SEGMENTS,
} from "../limits.ts";
import type { PutManyItems } from "./put_many.ts";
import { utf8Length } from "../base/utf8.ts";
import { decodeValue, encodeValue } from "../record/value_codec.ts";
import { VERSION_BYTES } from "../record/version.ts";
import { PARTITION_COUNT } from "../record/partition.ts";

/** How long `connect` waits for TCP and HELLO, unless told otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

/** How long a request waits for its answer, unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1000;

/**
 * Turns of the event loop a connection lets pass, once its oldest request is past its
 * deadline, before it closes as "got no answer": answers that came while this process was
 * not looking (stopped, a VM paused, starved of CPU, busy) are read first. Deno's runtime
 * (Tokio) learns which sockets became readable only when it polls them: whenever it has
 * nothing else to run, and at least once every 61 turns while it is kept busy (its event
 * interval); its due timers run before the reads of the same turn. A busy Deno process
 * stopped while an answer came reads it on the 59th turn after it resumes
 * (tests/protocol/client_stall_test.ts); the check comes after 64, on a timer's turn,
 * once the promise jobs of those reads ran.
 */
export const STALL_RECHECK_TURNS = 64;

/** Most requests in flight on one connection; more wait for room. */
export const DEFAULT_MAX_IN_FLIGHT = 4096;

/**
 * After this long without a request the client sends a PING, so that a server's
 * idle timeout (30 s by default) never closes a healthy, quiet connection.
 */
export const DEFAULT_KEEP_ALIVE_MS = 10_000;

/** The largest ERROR body: a u16 code and a message of at most MAX_ERROR_MESSAGE_BYTES. */
const MAX_ERROR_ANSWER_BYTES = 2 + 4 + MAX_ERROR_MESSAGE_BYTES;

/**
 * The largest OK to HELLO, the welcome or the challenge: version and form, then frame
 * limit, idle timeout, server id, state flags, recorded k and fingerprint, or the challenge.
 */
const MAX_HELLO_ANSWER_BYTES = 2 + 1 +
  Math.max(4 + 4 + SERVER_ID_BYTES + 1 + 1 + LIST_FINGERPRINT_BYTES, HELLO_CHALLENGE_BYTES);

/** The OK to SET_K: the recorded k, a u8. */
const SET_K_ANSWER_BYTES = 1;

/** The OK to PARTITION_DIGESTS: a u32 count, then a row per partition. */
const DIGESTS_ANSWER_BYTES = 4 + PARTITION_COUNT * DIGEST_ROW_BYTES;

/** A LIST_PARTITIONS entry without its value: key, version, kind, value length. */
const MAX_LIST_ENTRY_BYTES = 4 + MAX_KEY_BYTES + VERSION_BYTES + 1 + 4;

/** The OK to STATS: three i64 and a u32. */
const STATS_ANSWER_BYTES = 8 + 8 + 8 + 4 + 1;

/** One key of a KEYS answer at most: its u32 length and MAX_KEY_BYTES. */
const MAX_KEYS_ANSWER_ITEM_BYTES = 4 + MAX_KEY_BYTES;

/** One refusal of a PUT_MANY answer at most: index, code, message length and message. */
const MAX_PUT_MANY_REFUSAL_BYTES = 4 + 2 + 4 + MAX_ERROR_MESSAGE_BYTES;

/**
 * Requests held while earlier ones await their answers go out anyway once they fill
 * this many bytes (see `ServerClient.#mayWrite`).
 */
const HELD_REQUEST_BYTES = 64 * 1024;

/** Numbers noted per answer taken from a read: type, request id, body start and end. */
const SPAN_FIELDS = 4;

/**
 * Numbers of answer notes kept for the next read (1024 answers' worth); a read of more
 * tiny answers than that grows them, and they are let go after it.
 */
const RETAINED_ANSWER_SPANS = 1024 * SPAN_FIELDS;

/**
 * Bytes of each slab answers are copied into (see {@link ANSWER_SLAB}): a new array buffer
 * per this many bytes of answers instead of one per read. A buffer of its own per read
 * cost a client reading one GET at a time more than the copy, mostly in V8's handling of
 * the many small array buffers it then had to allocate and collect.
 */
const ANSWER_SLAB_BYTES = 64 * 1024;

/** A read's answers larger than this get an array buffer of their own, not a slab's room. */
const MAX_SLAB_COPY_BYTES = ANSWER_SLAB_BYTES / 4;

/**
 * Where connections copy the answers of their reads out of their read buffers, which the
 * next read reuses: the room left in one slab, shared by every connection of the process
 * so that the bytes just written stay in the CPU's cache (a slab per connection spread
 * fifty connections' copies over 3 MiB, and the copies cost more than one buffer per read
 * had), and a new slab once it is full.
 */
const ANSWER_SLAB = new ByteSlab(ANSWER_SLAB_BYTES);

/** A write buffer grown past this is dropped after use rather than kept. */
const RETAINED_WRITE_BUFFER_BYTES = 1024 * 1024;

/**
 * Answered requests the queue of those in flight keeps at its head before it is cut down
 * (once they are also more than half of it): shifting the array per answer would be
 * O(queue) each, and cutting it for a few would copy it too often.
 */
const PENDING_COMPACT_AFTER = 1024;

/** Where a server listens. */
export interface ServerAddress {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** Options of {@link ServerClient.connect}. */
export interface ClientOptions {
  /** Milliseconds for TCP connect plus HELLO; default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a request may wait for its answer with nothing read from the server
   * meanwhile (see {@link RequestTimeoutError}); default {@link DEFAULT_REQUEST_TIMEOUT_MS}.
   */
  requestTimeoutMs?: number;
  /** Most requests in flight; default {@link DEFAULT_MAX_IN_FLIGHT}. */
  maxInFlight?: number;
  /**
   * Idle milliseconds before a keep-alive PING, 0 for none; default
   * {@link DEFAULT_KEEP_ALIVE_MS}, and never more than a third of the server's idle timeout.
   */
  keepAliveMs?: number;
  /**
   * A secret to authenticate with and a CA to verify the server's TLS certificate by
   * (see credentials.ts); default none: plain TCP, no authentication.
   */
  credentials?: Credentials;
  /**
   * Ends {@link ServerClient.connect} when aborted (its connect or HELLO still under way),
   * which then rejects with a ConnectionError: a caller that no longer wants the connection
   * (a pool closing while a hung server's HELLO waits) is not held for the connect
   * timeout. Default none.
   */
  signal?: AbortSignal;
}

/**
 * The connection to a server failed or was closed; the client is unusable.
 *
 * @example
 * ```ts ignore
 * try {
 *   await ServerClient.connect({ hostname: "127.0.0.1", port: 1 }); // nothing listens there
 * } catch (error) {
 *   error instanceof ConnectionError; // true
 *   // message: "cannot connect to 127.0.0.1:1: Connection refused"
 * }
 * ```
 */
export class ConnectionError extends Error {
  /** The error for a failed or closed connection, `options.cause` the failure beneath. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * How a connection says the time its client allowed ran out: `timed out after N ms` while
 * connecting, `got no answer within N ms` to a request (HELLO included).
 */
const TIMED_OUT_REASON = /timed out after \d+ ms|got no answer within \d+ ms/;

/**
 * Whether `reason`, a server's down reason as a connection words it, is the client's time
 * running out: the server may well be running, only slower than the timeout allows, so the
 * advice is a longer timeout (or a restart if it hung), not to start it.
 *
 * @example
 * ```ts
 * isTimeoutReason("cannot connect to 127.0.0.1:8000: timed out after 1000 ms"); // true
 * isTimeoutReason("cannot connect to 127.0.0.1:8000: connection refused"); // false
 * ```
 */
export function isTimeoutReason(reason: string): boolean {
  return TIMED_OUT_REASON.test(reason);
}

/**
 * A request got no answer in time; the connection was closed because of it.
 *
 * @example
 * ```ts ignore
 * const client = await ServerClient.connect(address, { requestTimeoutMs: 1000 });
 * // ... the server hangs (SIGSTOP) ...
 * try {
 *   await client.get("person1");
 * } catch (error) {
 *   error instanceof RequestTimeoutError; // true, and a ConnectionError: reconnect
 *   // message: "request to 127.0.0.1:8000 got no answer within 1000 ms; connection closed"
 *   client.isOpen; // false
 * }
 * ```
 */
export class RequestTimeoutError extends ConnectionError {
  /** The error for a request that got no answer in time. */
  constructor(message: string) {
    super(message);
    this.name = "RequestTimeoutError";
  }
}

/**
 * The server answered ERROR; the connection stays usable.
 *
 * @example
 * ```ts
 * import { ErrorCode } from "./mod.ts";
 * const error = new ServerError(ErrorCode.LIMIT, "KEYS limit 20000 is over the limit of 10000");
 * error.message; // "LIMIT: KEYS limit 20000 is over the limit of 10000"
 * error.codeName; // "LIMIT"
 * ```
 */
export class ServerError extends Error {
  /** The {@link ErrorCode} number. */
  readonly code: number;

  /** The error for an ERROR answer of `code`, its message led by the code's name. */
  constructor(code: number, message: string) {
    super(`${errorCodeName(code)}: ${message}`);
    this.name = "ServerError";
    this.code = code;
  }

  /** The code's name, e.g. `"LIMIT"`. */
  get codeName(): string {
    return errorCodeName(this.code);
  }
}

/**
 * What settles one request: `resolve` with its result, or `reject` with why it has none;
 * exactly one of them is called, once. Neither may throw: what one throws is reported as
 * an uncaught error (`reportError`), never as the request's or the connection's failure.
 * A promise's resolving functions (`Promise.withResolvers`) are one;
 * {@link ServerClient.getEncodedTo} takes any other, to be called back with no promise
 * between.
 *
 * @example
 * ```ts
 * import type { EncodedRead } from "./mod.ts";
 * const settle: Settle<EncodedRead> = {
 *   resolve: (read) => console.log(read.version),
 *   reject: (error) => console.error(error),
 * };
 * ```
 */
export interface Settle<T> {
  /** Called with the answer. */
  resolve(result: T): void;
  /** Called with why there is none. */
  reject(error: unknown): void;
}

/**
 * A request sent and not yet answered: settled once, by its answer (through `decode`) or
 * by the connection's failure.
 */
interface Pending {
  readonly requestId: number;
  /** The largest answer the request can have; a longer one is a broken server. */
  readonly maxAnswerBytes: number;
  readonly deadline: number;
  /** Turns the answer into the request's result; what it throws rejects the request. */
  readonly decoder: AnswerDecoder;
  readonly settle: Settle<unknown>;
}

/** How a request's answer becomes its result. */
interface AnswerDecoder {
  /** The result of a response; what it throws rejects the request. */
  decode(response: Response): unknown;
  /**
   * The result of an OK answer whose body is `bytes[start, end)`, read in place (the
   * same as `decode` would make of it); when absent, `decode` reads OK answers too. For
   * the answers a broker takes most of, a GET's, with no response object between.
   */
  decodeOk?(bytes: Uint8Array, start: number, end: number): unknown;
}

/**
 * Writes one request frame with the id given: a closure over what the request carries,
 * or, for a GET (a broker sends k per read), a function made once that takes the key as
 * `subject` (empty for the others), so no closure is made per request.
 */
type Encoder = (frames: FrameWriter, requestId: number, subject: string) => void;

/** Writes a GET of the key `subject`. */
const encodeGet: Encoder = (frames, requestId, key) => frames.get(requestId, key);

/** The decoder of a request whose caller reads the response itself. */
const AS_RESPONSE: AnswerDecoder = { decode: (response: Response): Response => response };

/** The decoder of a GET: the value still encoded. */
const ENCODED_GET: AnswerDecoder = { decode: encodedGet, decodeOk: splitValueBodyAt };

/**
 * The decoders of a QUERY, by its path's segment count: the value still encoded, or why the
 * record lacks the path, whose segment must lie within the path asked (a server naming one
 * past it would have the REPL tell of a field the user never typed). Made once, so a QUERY
 * allocates no decoder.
 */
const ENCODED_QUERIES: readonly AnswerDecoder[] = Array.from(
  { length: MAX_PATH_SEGMENTS + 1 },
  (_, segments): AnswerDecoder => ({
    decode: (response) => encodedQuery(response, segments),
    decodeOk: splitValueBodyAt,
  }),
);

/**
 * A pipelined connection to one server. Create with {@link ServerClient.connect}.
 *
 * @example
 * ```ts
 * import { int } from "../record/value.ts";
 * const records = [["person1", int(22)], ["person2", int(23)]] as const;
 * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * await Promise.all(records.map(([key, value]) => client.put(key, value, { version })));
 * client.close();
 * ```
 */
export class ServerClient {
  /** The server this client talks to. */
  readonly address: ServerAddress;
  /** Resolves when the connection closes, for whatever reason; never rejects. */
  readonly closed: Promise<void>;

  readonly #conn: Deno.Conn;
  #requestTimeoutMs: number;
  readonly #maxInFlight: number;
  #maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  #serverId = "";
  #state: NodeState = { unrepaired: true, k: 0, repairedUnder: NO_LIST };
  #challenged = false;
  /** What this connection's answers last said of the server taking writes: see refusesWrites. */
  #refusesWrites: boolean | undefined;
  #closeReason: ConnectionError | undefined;
  #resolveClosed!: () => void;
  #nextRequestId = 1;
  #pending: Pending[] = [];
  #pendingHead = 0;
  /** Requests waiting for a free slot, each called when one is handed over (or on failure). */
  #roomWaiters: Array<() => void> = [];
  /** Slots freed for woken waiters that have not yet taken them. */
  #slotsHandedOver = 0;
  #timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  /** A check past the deadline waits out STALL_RECHECK_TURNS turns (see #recheckLater). */
  #rechecking = false;
  /**
   * When bytes from the server were last read (performance.now()): a server still
   * answering earlier requests is alive, so the oldest request's deadline counts from
   * here when that is later than its send (see #checkTimeout).
   */
  #lastHeardAt = -Infinity;
  #keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  #lastRequestAt = performance.now();
  #outgoing = new FrameWriter();
  #spare = new FrameWriter();
  #flushing = false;
  /** Requests in `#outgoing`, not yet handed to a write. */
  #queued = 0;
  /** The answers of one read, SPAN_FIELDS numbers each (see #takeAnswers); reused. */
  #answerSpans: number[] = [];
  /**
   * The first bytes the server sent, up to OPENING_BYTES, kept while they may be a
   * stranger's (lib/protocol/stranger.ts): no longer once the first is 0, as every kv
   * server's is, so a connection that spoke kv copies them once.
   */
  #opening: Uint8Array = new Uint8Array(0);

  private constructor(conn: Deno.Conn, address: ServerAddress, options: ClientOptions) {
    this.#conn = conn;
    this.address = address;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#readLoop();
  }

  /** Pings every `keepAliveMs` of silence; 0 for never. */
  #startKeepAlive(keepAliveMs: number): void {
    if (keepAliveMs <= 0) return;
    const timer = setInterval(() => this.#keepAlive(keepAliveMs), keepAliveMs);
    // The open connection, not this timer, decides whether the process stays alive.
    Deno.unrefTimer(timer);
    this.#keepAliveTimer = timer;
  }

  /**
   * Connects and says HELLO. Rejects with a ConnectionError when the server
   * cannot be reached, does not answer in time, or refuses the connection (BUSY).
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * ```
   */
  static async connect(address: ServerAddress, options: ClientOptions = {}): Promise<ServerClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const credentials = options.credentials ?? {};
    const signal = options.signal;
    const conn = await openConnection(address, credentials, connectTimeoutMs, signal);
    // The client batches its own writes (#mayWrite); the kernel's Nagle would only add
    // a system call per request and, waiting on a delayed ACK, stalls. TLS connections
    // have no Nagle switch of their own in Deno.
    try {
      (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
    } catch {
      // Some systems refuse it on a connection the peer already reset; HELLO, next,
      // then fails with a ConnectionError, and Nagle only ever cost speed.
    }
    // HELLO runs under the connect timeout; later requests use the request timeout.
    const client = new ServerClient(conn, address, {
      ...options,
      requestTimeoutMs: connectTimeoutMs,
    });
    const abandon = () => client.close();
    signal?.addEventListener("abort", abandon, { once: true });
    try {
      signal?.throwIfAborted();
      const hello = await client.#hello(credentials.auth);
      // Answers are held up to this size: a rogue or spoofed server must not choose any u32.
      if (hello.maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
        throw new DecodeError(
          `its HELLO announces frames of up to ${hello.maxFrameBytes} bytes, more than any ` +
            `kv server takes (${MAX_FRAME_BYTES_LIMIT})`,
        );
      }
      client.#maxFrameBytes = hello.maxFrameBytes;
      client.#serverId = hello.serverId;
      client.#state = hello.state;
      // A ping can come up to two periods after the last request, so a period of a
      // third of the server's idle timeout keeps a quiet connection open.
      const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
      client.#startKeepAlive(
        keepAliveMs === 0 ? 0 : Math.min(keepAliveMs, Math.floor(hello.idleTimeoutMs / 3)),
      );
    } catch (error) {
      client.close();
      throw client.#connectFailure(error, credentials, connectTimeoutMs);
    } finally {
      signal?.removeEventListener("abort", abandon);
    }
    client.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // The timer was armed for HELLO's longer deadline; later requests arm their own.
    clearTimeout(client.#timeoutTimer);
    client.#timeoutTimer = undefined;
    return client;
  }

  /**
   * The error for a connection attempt that failed with `error` after TCP (or TLS) was up:
   * a {@link NotKvServerError} when the server's first bytes were no kv server's, else why,
   * with a hint where one helps.
   */
  #connectFailure(
    error: unknown,
    credentials: Credentials,
    connectTimeoutMs: number,
  ): ConnectionError {
    const where = hostPort(this.address.hostname, this.address.port);
    // Judged whatever ended the attempt: the frame those bytes announced (1.2 GB for "HTTP"),
    // the hang-up after them, or a HELLO unanswered after a few bytes that start no frame.
    const stranger = strangerOf(this.#opening);
    if (stranger?.kind === "tls") {
      // A TLS server answering the plain bytes of a HELLO: kv's own, to be reached with TLS, or
      // another at a wrong address, which send the same alert: a refusal of TLS's
      // (credentials.ts, "tls-needed"), whose advice names both fixes (server_pool.ts).
      return new ConnectionError(`cannot connect to ${where}: ${stranger.reason}`, {
        cause: error,
      });
    }
    if (stranger !== undefined) return new NotKvServerError(where, stranger, { cause: error });
    // A hang-up without a byte: a kv server stopping (it closes what it accepts then), a TCP
    // proxy whose server is down (HAProxy, docker-proxy and ssh -L accept, then hang up), or a
    // TLS server that sends no alert (node:tls; kv's own sends one, judged above). Say all
    // three: the TLS one alone misled. One that never answers is hung or slow; one that closed
    // with an ERROR of its own (BUSY at its connection limit), or after any answer (HELLO's
    // challenge), spoke kv.
    const hint = error instanceof ConnectionError && !(error instanceof RequestTimeoutError) &&
        !(error.cause instanceof ServerError) && credentials.tlsCaCerts === undefined &&
        this.#lastHeardAt === -Infinity
      ? ` before answering HELLO (${HANG_UP_CAUSES})`
      : "";
    // A HELLO unanswered is a server that took the connection and then said nothing (hung,
    // or slower than the timeout): "request … got no answer" read as a failure to connect.
    const reason = error instanceof RequestTimeoutError
      ? `it took the connection, but HELLO got no answer within ${connectTimeoutMs} ms`
      : osReason(error);
    return new ConnectionError(`cannot connect to ${where}: ${reason}${hint}`, { cause: error });
  }

  /**
   * Says HELLO; when the server challenges, answers with `auth`'s first secret. Its id and
   * state come in the welcome, which a server requiring authentication sends only after
   * the right answer. Rejects with a ServerError when the server refuses.
   */
  async #hello(auth: AuthKeys | undefined): Promise<HelloResult> {
    const scheme = auth === undefined ? AUTH_NONE : AUTH_HMAC_SHA256;
    const first = await this.#helloAnswer(scheme, new Uint8Array(0));
    if (!("challenge" in first)) return first;
    this.#challenged = true;
    if (auth === undefined) {
      throw new ServerError(ErrorCode.AUTH_REQUIRED, "the server requires an auth file");
    }
    const second = await this.#helloAnswer(AUTH_HMAC_SHA256, await auth.answer(first.challenge));
    if ("challenge" in second) throw new DecodeError("a second challenge in HELLO");
    return second;
  }

  /** Sends one HELLO and decodes its OK, refusing one that names another protocol version. */
  async #helloAnswer(scheme: number, auth: Uint8Array): Promise<HelloAnswer> {
    const answer = decodeHelloBody(
      expectOk(
        await this.#request(
          (frames, id) => frames.hello(id, PROTOCOL_VERSION, scheme, auth),
          MAX_HELLO_ANSWER_BYTES,
        ),
      ),
    );
    if (answer.version !== PROTOCOL_VERSION) {
      throw new DecodeError(
        `the server answered HELLO with protocol version ${answer.version}; this client ` +
          `speaks version ${PROTOCOL_VERSION} only`,
      );
    }
    return answer;
  }

  /** Whether the connection is usable. */
  get isOpen(): boolean {
    return this.#closeReason === undefined;
  }

  /** Why the connection closed, once it has. */
  get closeReason(): ConnectionError | undefined {
    return this.#closeReason;
  }

  /** Requests sent (or about to be) and not yet answered. */
  get inFlight(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** The server's identity (from HELLO): equal ids mean one server behind two addresses. */
  get serverId(): string {
    return this.#serverId;
  }

  /** The largest frame body the server accepts (from HELLO). */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /**
   * The server's state from its HELLO (a reconnect reads it again), updated by this
   * client's own {@link setK} and {@link markRepaired}: whether the server may be
   * missing acknowledged writes, and the k it records (0 = none).
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * if (client.state.unrepaired) console.log("its NOT_FOUND proves nothing yet");
   * ```
   */
  get state(): NodeState {
    return this.#state;
  }

  /**
   * Whether the server asked this client, in HELLO, to prove that it knows a secret: false
   * for a server run without `--auth-file`, which serves anyone who reaches it.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * if (!client.challenged) console.log("this server serves anyone who connects");
   * ```
   */
  get challenged(): boolean {
    return this.#challenged;
  }

  /**
   * Whether the server refuses writes (READ_ONLY: its data dir cannot be written, or it was
   * out of the cluster too long), as the last answer on this connection that tells said:
   * true after a PUT, DELETE or PUT_MANY answered READ_ONLY; false after a PUT answered OK
   * or EXISTS, a DELETE (not a purge) answered OK or NOT_FOUND, or a PUT_MANY that stored
   * an item, each an answer only a store taking writes gives; a STATS's flag after a STATS.
   * Undefined until one of those was answered. Nothing else tells: a server answers a write
   * far behind its clock STALE, and an aged purge, without asking its store. Asks nothing:
   * for a gauge read without a round trip (`kv http`'s `/metrics`, lib/broker/server_pool.ts).
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * client.refusesWrites; // undefined: nothing told yet
   * await client.stats();
   * client.refusesWrites; // false, unless its disk is full
   * ```
   */
  get refusesWrites(): boolean | undefined {
    return this.#refusesWrites;
  }

  /**
   * Learns from `response`, a PUT's or a DELETE's, whether the server takes writes
   * ({@link refusesWrites}), and returns it. Of a purge's (`purge`), only a READ_ONLY tells.
   */
  #heardWrite(response: Response, purge = false): Response {
    if (response.type === "error" && response.code === ErrorCode.READ_ONLY) {
      this.#refusesWrites = true;
    } else if (!purge && storeTook(response)) {
      this.#refusesWrites = false;
    }
    return response;
  }

  /**
   * Asks the server to record the cluster's replication factor `k` (1–255) and resolves
   * with the k it records afterwards: `k` when none was recorded, the same was, or
   * `replace` is set; otherwise the different one it keeps (the caller compares).
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const recorded = await client.setK(2); // 2, or the k another broker recorded first
   * ```
   */
  async setK(k: number, options: { replace?: boolean } = {}): Promise<number> {
    if (!Number.isInteger(k) || k < 1 || k > MAX_RECORDED_K) {
      throw new RangeError(`k must be a whole number from 1 to ${MAX_RECORDED_K}: ${k}`);
    }
    const replace = options.replace === true;
    const response = await this.#request(
      (frames, id) => frames.setK(id, k, replace),
      SET_K_ANSWER_BYTES,
    );
    const recorded = decodeSetKBody(expectOk(response));
    this.#state = { ...this.#state, k: recorded };
    return recorded;
  }

  /**
   * Every partition's entry count and digest on the server: equal between two replicas
   * exactly when they hold the same entries (keys, versions, records or tombstones) there.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const { counts, digests } = await client.partitionDigests();
   * ```
   */
  async partitionDigests(): Promise<PartitionDigests> {
    const response = await this.#request(
      (frames, id) => frames.partitionDigests(id),
      DIGESTS_ANSWER_BYTES,
    );
    return decodePartitionDigestsBody(expectOk(response));
  }

  /**
   * The entries (records and tombstones, with versions, and values when asked) of the
   * partitions whose bits are set in `wanted` (512 bytes: partition p is bit `p & 7` of
   * byte `p >> 3`), in ascending key order after `options.after`, at most
   * `options.limit`. `more` says the server stopped early: ask again after the last key.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const wanted = new Uint8Array(512);
   * wanted[0] = 1; // partition 0
   * const { entries, more } = await client.listPartitions(wanted, { limit: 1000 });
   * ```
   */
  async listPartitions(
    wanted: Uint8Array,
    options: ListPartitionsOptions,
  ): Promise<PartitionListing> {
    if (wanted.length !== PARTITION_BITMAP_BYTES) {
      throw new RangeError(`wanted must be ${PARTITION_BITMAP_BYTES} bytes, not ${wanted.length}`);
    }
    checkArgument(checkListLimit, options.limit);
    if (options.after !== undefined) checkArgument(checkKey, options.after);
    // One entry may start below the budget and carry a value as large as a frame.
    const bound = 4 + LIST_PARTITIONS_BUDGET_BYTES + MAX_LIST_ENTRY_BYTES + this.#maxFrameBytes + 1;
    const response = await this.#request(
      (frames, id) => frames.listPartitions(id, wanted, options),
      bound,
    );
    return decodeListPartitionsBody(expectOk(response), options.values === true);
  }

  /**
   * Tells the server it has been repaired under the server list whose fingerprint is
   * `list` (lib/broker/list_fingerprint.ts): it holds every write that list places on
   * it, so its NOT_FOUND counts again for brokers with that list. Clears the unrepaired
   * flag and records `list`, durably — only while the server's mark is still `expected`,
   * the one the caller read before its repair read any data (`NO_LIST`: unrepaired), or
   * is `list` already; otherwise it rejects with a ServerError of code `MARK_CHANGED`
   * (another repair re-marked the server meanwhile). `LIST_CHANGE_UNDER_WAY` is applied
   * whatever the mark.
   *
   * @example
   * ```ts
   * import { listFingerprint } from "../broker/list_fingerprint.ts";
   * import { serverAddress } from "../broker/server_list.ts";
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const fingerprint = listFingerprint([serverAddress("127.0.0.1", 8000).identity], 1);
   * await client.markRepaired(fingerprint, client.state.repairedUnder);
   * client.state.unrepaired; // false
   * ```
   */
  async markRepaired(list: Uint8Array, expected: Uint8Array): Promise<void> {
    if (list.length !== LIST_FINGERPRINT_BYTES || isNoList(list)) {
      throw new RangeError(
        `a server list fingerprint is ${LIST_FINGERPRINT_BYTES} bytes, not all zero`,
      );
    }
    if (expected.length !== LIST_FINGERPRINT_BYTES) {
      throw new RangeError(`an expected mark is ${LIST_FINGERPRINT_BYTES} bytes`);
    }
    const copy = list.slice();
    const expectedCopy = expected.slice();
    const response = await this.#request((frames, id) =>
      frames.markRepaired(id, copy, expectedCopy)
    );
    decodeEmptyBody(expectOk(response));
    this.#state = { unrepaired: false, k: this.#state.k, repairedUnder: copy };
  }

  /**
   * Stores `value` under `key` at `options.version`. The server applies it only when
   * that is newer than the version the key holds; otherwise the result is `stale`
   * with the version held (or `stored` for a repair copy, which is simply ignored).
   * With `overwrite: false` an existing record is left alone and the result is
   * `exists`.
   *
   * @example
   * ```ts
   * import { str } from "../record/value.ts";
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const version = { ms: Date.now(), counter: 0, broker: 1 };
   * await client.put("person1", str("Mary"), { version }); // { kind: "stored" }
   * ```
   */
  put(key: string, value: Value, options: WriteOptions): Promise<PutResult> {
    return this.putEncoded(key, encodeValue(value), options);
  }

  /**
   * Like {@link ServerClient.put} with a value already encoded by
   * `encodeValue`, so a broker replicating to k servers encodes it once. The
   * bytes are not validated here; the server refuses malformed ones.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { str } from "../record/value.ts";
   * const clients = await Promise.all(
   *   [8000, 8001].map((port) => ServerClient.connect({ hostname: "127.0.0.1", port })),
   * );
   * const bytes = encodeValue(str("Mary"));
   * const version = { ms: Date.now(), counter: 0, broker: 1 };
   * await Promise.all(clients.map((client) => client.putEncoded("person1", bytes, { version })));
   * ```
   */
  putEncoded(key: string, encodedValue: Uint8Array, options: WriteOptions): Promise<PutResult> {
    // Not async: a caller may send many. Mistakes still reject rather than throw.
    const invalid = this.#checkPut(key, encodedValue);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#request((frames, id) => frames.putEncoded(id, key, encodedValue, options))
      .then((response) => putResult(this.#heardWrite(response)));
  }

  /**
   * Sends every item of `items` in one PUT_MANY frame and resolves with the items the
   * server refused (an empty array when all were stored); a bulk load sends these
   * instead of one PUT per record. `items` is only read during the call (copied when
   * the request has to wait for a free slot), so the caller may reuse it at once.
   * Rejects with a RangeError when the batch is empty, a ServerError TOO_LARGE (as a
   * PUT would) when it is over the server's frame limit, and a ConnectionError or
   * ServerError when the batch as a whole failed.
   *
   * @example
   * ```ts
   * import { PutManyItems } from "./put_many.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const items = new PutManyItems();
   * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
   * const refused = await client.putMany(items); // []
   * ```
   */
  putMany(items: PutManyItems): Promise<PutManyRefusal[]> {
    const itemCount = items.itemCount;
    if (itemCount === 0) return Promise.reject(new RangeError("PUT_MANY needs at least one item"));
    const bodyBytes = 4 + items.byteLength;
    if (bodyBytes > this.#maxFrameBytes) {
      // As for a PUT: refused here, as the server would, without sending it.
      return Promise.reject(
        new ServerError(
          ErrorCode.TOO_LARGE,
          `PUT_MANY of ${itemCount} items needs ${bodyBytes} bytes, ` +
            `over the server's limit of ${this.#maxFrameBytes}`,
        ),
      );
    }
    // Waiting keeps the bytes past this call, and the caller may reuse them: copy.
    const itemBytes = this.#mustWait() ? items.bytes().slice() : items.bytes();
    const maxAnswerBytes = 4 + itemCount * MAX_PUT_MANY_REFUSAL_BYTES;
    return this.#request((frames, id) => frames.putMany(id, itemCount, itemBytes), maxAnswerBytes)
      .then((response) => {
        // Refused whole by a store refusing writes; an item stored says it takes them.
        if (response.type === "error" && response.code === ErrorCode.READ_ONLY) {
          this.#refusesWrites = true;
        }
        const refusals = checkRefusals(decodePutManyBody(expectOk(response)), itemCount);
        if (refusals.length < itemCount) this.#refusesWrites = false;
        return refusals;
      });
  }

  /** Why a PUT of `key` with `encodedValue` cannot be sent, or undefined when it can. */
  #checkPut(key: string, encodedValue: Uint8Array): Error | undefined {
    const mistake = argumentMistake(checkKey, key);
    if (mistake !== undefined) return mistake;
    const bodyBytes = 1 + 4 + utf8Length(key) + VERSION_BYTES + encodedValue.length;
    if (bodyBytes <= this.#maxFrameBytes) return undefined;
    return new ServerError(
      ErrorCode.TOO_LARGE,
      `PUT of '${key}' needs ${bodyBytes} bytes, over the server's limit of ${this.#maxFrameBytes}`,
    );
  }

  /**
   * The value stored under `key` with its version; for NOT_FOUND, no value and the
   * version of the key's tombstone, if the server holds one.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const { value, version } = await client.get("person1");
   * ```
   */
  async get(key: string): Promise<ReadResult> {
    return decodeRead(await this.getEncoded(key));
  }

  /**
   * Like {@link ServerClient.get}, but the value as the server encoded it
   * (`lib/record/value_codec.ts`), not yet decoded or checked: a broker asking k
   * replicas decodes only the answer it uses, the one of the newest version.
   *
   * @example
   * ```ts
   * import { decodeValue } from "../record/value_codec.ts";
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const { encoded, version } = await client.getEncoded("person1");
   * if (encoded !== undefined) decodeValue(encoded);
   * ```
   */
  getEncoded(key: string): Promise<EncodedRead> {
    // Not async: the answer settles the one promise a GET makes (see #ask).
    const settle = Promise.withResolvers<EncodedRead>();
    this.getEncodedTo(key, settle);
    return settle.promise;
  }

  /**
   * Like {@link ServerClient.getEncoded}, handing the read (or why there is none) to
   * `settle` instead of a promise: a broker reading k replicas per GET makes no promise,
   * reaction and closures per replica. `settle` is called once, never before this returns
   * (a caller's mistake too is handed over later); its answer is handed over as it is
   * read, and `settle` must not throw.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * client.getEncodedTo("person1", {
   *   resolve: ({ encoded, version }) => console.log(encoded?.length, version),
   *   reject: (error) => console.error(error),
   * });
   * ```
   */
  getEncodedTo(key: string, settle: Settle<EncodedRead>): void {
    const mistake = argumentMistake(checkKey, key);
    if (mistake !== undefined) return queueMicrotask(() => settle.reject(mistake));
    // A value is at most a frame's worth, after the record's version.
    const bound = this.#maxFrameBytes + VERSION_BYTES;
    this.#askTo(encodeGet, bound, ENCODED_GET, key, settle as Settle<unknown>);
  }

  /**
   * The value at `path` (a key, then field names) with the record's version; for
   * NOT_FOUND, no value and the version of what the key holds (its tombstone, or a
   * record without that path), if anything, and for a record without the path `miss`:
   * the first segment it cannot take, and why.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * await client.query(["person1", "address", "street"]);
   * ```
   */
  async query(path: readonly string[]): Promise<ReadResult> {
    return decodeRead(await this.queryEncoded(path));
  }

  /**
   * Like {@link ServerClient.query}, but the value as the server encoded it, not
   * yet decoded or checked.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * await client.queryEncoded(["person1", "age"]); // { encoded: Uint8Array [2, 22], version }
   * ```
   */
  queryEncoded(path: readonly string[]): Promise<EncodedRead> {
    // Not async, as getEncoded.
    const settle = Promise.withResolvers<EncodedRead>();
    this.queryEncodedTo(path, settle);
    return settle.promise;
  }

  /**
   * Like {@link ServerClient.queryEncoded}, handing the read to `settle` as
   * {@link ServerClient.getEncodedTo} does.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * client.queryEncodedTo(["person1", "age"], { resolve: console.log, reject: console.error });
   * ```
   */
  queryEncodedTo(path: readonly string[], settle: Settle<EncodedRead>): void {
    const mistake = argumentMistake(checkPath, path);
    if (mistake !== undefined) return queueMicrotask(() => settle.reject(mistake));
    const bound = this.#maxFrameBytes + VERSION_BYTES;
    const encode: Encoder = (frames, id) => frames.query(id, path);
    this.#askTo(encode, bound, ENCODED_QUERIES[path.length], "", settle as Settle<unknown>);
  }

  /**
   * Deletes `key` at `options.version`, leaving a tombstone: `deleted`, with whether a
   * record was there and the version it `replaced` (the record's, or the tombstone's when
   * none was; unset when the key held nothing), or `stale` with the newer or equal
   * version the key holds (a repair copy is `deleted` then, replacing nothing, and
   * ignored). With `purge`, removes the key's record or tombstone entirely: `existed`
   * says whether it held anything.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const version = { ms: Date.now(), counter: 0, broker: 1 };
   * await client.delete("person1", { version }); // { kind: "deleted", existed: true, replaced: … }
   * await client.delete("person1", { version, purge: true }); // nothing left of it
   * ```
   */
  async delete(key: string, options: WriteOptions): Promise<DeleteResult> {
    checkArgument(checkKey, key);
    const response = await this.#request((frames, id) => frames.delete(id, key, options));
    const purge = options.purge === true;
    this.#heardWrite(response, purge);
    return purge ? purgeResult(response) : deleteResult(response, options);
  }

  /**
   * Up to `limit` keys starting with `prefix`, in ascending order, after `after`.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * await client.keys({ prefix: "person", limit: 100 }); // ["person0", "person1", …]
   * ```
   */
  async keys(options: KeysOptions): Promise<string[]> {
    checkArgument(checkKeysOptions, options);
    const response = await this.#request(
      (frames, id) => frames.keys(id, options),
      4 + options.limit * MAX_KEYS_ANSWER_ITEM_BYTES,
    );
    return decodeKeysBody(expectOk(response));
  }

  /**
   * The server's statistics.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * (await client.stats()).recordCount;
   * ```
   */
  async stats(): Promise<ServerStats> {
    const response = await this.#request((frames, id) => frames.stats(id), STATS_ANSWER_BYTES);
    const stats = decodeStatsBody(expectOk(response));
    this.#refusesWrites = stats.readOnly;
    return stats;
  }

  /**
   * Sends PING and resolves to the round-trip time in milliseconds.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * const ms = await client.ping();
   * ```
   */
  async ping(): Promise<number> {
    const start = performance.now();
    const response = await this.#request((frames, id) => frames.ping(id));
    decodeEmptyBody(expectOk(response));
    return performance.now() - start;
  }

  /**
   * Closes the connection; requests in flight reject with a ConnectionError.
   *
   * @example
   * ```ts
   * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
   * client.close();
   * await client.closed;
   * ```
   */
  close(): Promise<void> {
    this.#fail(new ConnectionError(`connection to ${this.#where()} was closed by the client`));
    return this.closed;
  }

  #where(): string {
    return `${this.address.hostname}:${this.address.port}`;
  }

  /**
   * Queues one request frame (written by `encode`) and resolves with its response, which
   * may have at most `maxAnswerBytes` (besides an ERROR's).
   */
  #request(encode: Encoder, maxAnswerBytes = 0): Promise<Response> {
    return this.#ask(encode, maxAnswerBytes, AS_RESPONSE, "");
  }

  /**
   * Like {@link ServerClient.#request}, resolving with what `decode` makes of the response
   * (rejecting with what it throws): the answer settles the caller's promise itself, with
   * no async function between them.
   */
  #ask<T>(
    encode: Encoder,
    maxAnswerBytes: number,
    decoder: AnswerDecoder,
    subject: string,
  ): Promise<T> {
    // No executor closure: one object fewer per request than `new Promise(executor)`.
    const settle = Promise.withResolvers<T>();
    this.#askTo(encode, maxAnswerBytes, decoder, subject, settle as Settle<unknown>);
    return settle.promise;
  }

  /**
   * Like {@link ServerClient.#ask}, settling `settle` with the result; an encoder's
   * refusal (a caller's mistake) is handed over after this returns.
   */
  #askTo(
    encode: Encoder,
    maxAnswerBytes: number,
    decoder: AnswerDecoder,
    subject: string,
    settle: Settle<unknown>,
  ): void {
    const bound = Math.max(maxAnswerBytes, MAX_ERROR_ANSWER_BYTES);
    try {
      this.#submit(encode, subject, bound, decoder, settle);
    } catch (error) {
      queueMicrotask(() => settle.reject(error));
    }
  }

  /**
   * Sends one request frame (written by `encode`) as soon as a slot is free; settles it
   * with what `decode` makes of its response or with the connection's failure, or rejects
   * it with what `encode` threw when the request had to wait (else that is thrown here).
   */
  #submit(
    encode: Encoder,
    subject: string,
    maxAnswerBytes: number,
    decoder: AnswerDecoder,
    settle: Settle<unknown>,
  ): void {
    if (this.#mustWait()) {
      this.#roomWaiters.push(() => {
        // Woken with a slot handed over: take it, so later arrivals cannot take it first.
        this.#slotsHandedOver--;
        // Woken by the read loop, which an encoder's refusal of a caller's mistake (an
        // invalid version, a PUT with a purge flag; thrown before writing a byte) would
        // fail, and the connection with it: the mistake fails this request alone, and
        // the slot it did not take goes to the next waiter.
        try {
          this.#enqueue(encode, subject, maxAnswerBytes, decoder, settle);
        } catch (error) {
          rejectRequest(settle, error);
          this.#handOverSlot();
        }
      });
      return;
    }
    this.#enqueue(encode, subject, maxAnswerBytes, decoder, settle);
  }

  /** Whether a request submitted now has to wait for a slot rather than go out at once. */
  #mustWait(): boolean {
    const full = this.inFlight + this.#slotsHandedOver >= this.#maxInFlight;
    return this.isOpen && (full || this.#roomWaiters.length > 0);
  }

  /** Writes one request frame into the outgoing batch and waits for its answer. */
  #enqueue(
    encode: Encoder,
    subject: string,
    maxAnswerBytes: number,
    decoder: AnswerDecoder,
    settle: Settle<unknown>,
  ): void {
    const closeReason = this.#closeReason;
    if (closeReason) {
      // Woken waiters (see #submit) are settled here, later than their call; a request
      // submitted on a closed connection is handed its failure after its call returns.
      queueMicrotask(() => settle.reject(closeReason));
      return;
    }
    const requestId = this.#nextRequestId;
    this.#nextRequestId = requestId === MAX_REQUEST_ID ? 1 : requestId + 1;
    // One clock reading per batch of requests written together: their deadlines
    // may be early by at most the batch's time in the buffer, never late. A request
    // held behind unanswered ones (see #mayWrite) reads the clock itself: its batch
    // may gather for most of a request timeout, which would leave it almost none.
    const held = this.#awaitingAnswers > 0;
    if (this.#outgoing.length === 0 || held) this.#lastRequestAt = performance.now();
    encode(this.#outgoing, requestId, subject);
    const deadline = this.#lastRequestAt + this.#requestTimeoutMs;
    // An idle connection lets the process end (see #popOldest); one awaiting answers not.
    if (this.inFlight === 0) this.#conn.ref();
    this.#pending.push({ requestId, maxAnswerBytes, deadline, decoder, settle });
    this.#queued++;
    if (this.#timeoutTimer === undefined && !this.#rechecking) {
      this.#armTimeout(this.#requestTimeoutMs);
    }
    if (this.#mayWrite()) this.#startFlush(!held && this.#queued === 1);
  }

  /**
   * Whether the queued requests may be written now. Like Nagle's algorithm, one level
   * up: while requests already written wait for their answers, new ones gather and go
   * out together when answers arrive ({@link ServerClient.#readLoop}), or once they
   * fill HELD_REQUEST_BYTES. Requests that arrive one event at a time (HTTP requests,
   * each its own turn of the event loop) then share one `send` per server instead of
   * one each, which cost the server a `read` and a `write` each too. A lone request
   * on an idle connection goes at the end of the turn that made it
   * ({@link ServerClient.#startFlush}); a held one waits at most for the answers ahead
   * of it, which the server sends in order before its answer anyway.
   */
  #mayWrite(): boolean {
    return this.#outgoing.length > 0 &&
      (this.#awaitingAnswers === 0 || this.#outgoing.length >= HELD_REQUEST_BYTES);
  }

  /** Requests written (or being written) whose answers have not come yet. */
  get #awaitingAnswers(): number {
    return this.inFlight - this.#queued;
  }

  /**
   * Writes the queued requests once this turn of the event loop has run its promise
   * jobs (`setImmediate`, 2–3 µs a turn in Deno, where `setTimeout(0)` takes about 2 ms),
   * not at the next microtask: the answers just read, or the event that made a request,
   * lead to further requests a few promise jobs later — a read's other replicas, the next
   * piped command — and those go out in the same write instead of each waiting for a
   * write of its own. Every write wakes the server and costs both processes a system
   * call, which is most of a request's CPU on a broker spreading reads over servers.
   * Every connection of the process due to write in a turn shares one `setImmediate`
   * ({@link ServerClient.#flushDue}): fifty connections each reading one GET (as
   * `kv bench --clients 50` does) made fifty immediates a turn.
   *
   * A `lone` request — the first queued on a connection with no answer outstanding — goes
   * at the next microtask instead: requests made before that microtask runs still join
   * it, and those made later are held behind it ({@link ServerClient.#mayWrite}), so
   * waiting for the end of the turn would gather nothing more and only add the
   * immediate's cost to every round trip of a client that asks one thing at a time.
   */
  #startFlush(lone = false): void {
    if (this.#flushing) return;
    this.#flushing = true;
    if (lone) queueMicrotask(this.#flushLone);
    else if (ServerClient.#due.push(this) === 1) setImmediate(ServerClient.#flushDue);
  }

  /** {@link ServerClient.#flush} for a microtask: made once, not per request. */
  #flushLone = (): void => {
    // #flush settles every failure itself: its promise never rejects.
    this.#flush();
  };

  /** Connections of the process whose writes wait for the end of this turn, in order. */
  static #due: ServerClient[] = [];

  /** Starts the writes of every connection due (see {@link ServerClient.#startFlush}). */
  static #flushDue = (): void => {
    const due = ServerClient.#due;
    ServerClient.#due = [];
    // #flush settles every failure itself: its promise never rejects.
    for (const client of due) client.#flush();
  };

  /**
   * Writes the queued requests, then, while a write was under way, what
   * {@link ServerClient.#mayWrite} lets go: the first write goes because it was asked for.
   */
  async #flush(): Promise<void> {
    try {
      for (let go = true; go && this.isOpen && this.#outgoing.length > 0; go = this.#mayWrite()) {
        const batch = this.#outgoing;
        this.#outgoing = this.#spare;
        this.#queued = 0;
        // Written here rather than by a helper: one async function and promise fewer per
        // write, which one GET at a time is per GET.
        const bytes = batch.bytes();
        let written = await this.#conn.write(bytes);
        while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
        // Judged before the reset, which empties it: a batch this large grew the buffer.
        const grown = batch.length > RETAINED_WRITE_BUFFER_BYTES;
        batch.reset();
        this.#spare = grown ? new FrameWriter() : batch;
      }
    } catch (error) {
      this.#fail(
        new ConnectionError(`write to ${this.#where()} failed: ${osReason(error)}`, {
          cause: error,
        }),
      );
    } finally {
      this.#flushing = false;
    }
  }

  /** Checks the oldest request's deadline in `delayMs` (see #checkTimeout). */
  #armTimeout(delayMs: number): void {
    this.#timeoutTimer = setTimeout(() => this.#checkTimeout(true), Math.max(0, delayMs));
    // While requests await answers the connection's read keeps the process alive; once
    // none do, this timer, left armed for the last one's deadline, must not.
    Deno.unrefTimer(this.#timeoutTimer);
  }

  /**
   * Closes the connection when the server has sent nothing for the request timeout
   * while the oldest request waited: its deadline is the request timeout after the
   * later of its send and the last bytes read, so a request queued in the server behind
   * earlier ones is not blamed for the server's work on them while their answers come.
   * Past the deadline, when `mayRecheck`, it checks once more after STALL_RECHECK_TURNS
   * turns of the event loop, in which answers that came while this process was not looking
   * are read: a timeout means the server did not answer, not that this process did not look.
   */
  #checkTimeout(mayRecheck: boolean): void {
    this.#timeoutTimer = undefined;
    if (this.inFlight === 0 || !this.isOpen) return;
    const oldest = this.#pending[this.#pendingHead];
    const deadline = Math.max(oldest.deadline, this.#lastHeardAt + this.#requestTimeoutMs);
    const now = performance.now();
    if (now < deadline) {
      this.#armTimeout(deadline - now);
      return;
    }
    if (mayRecheck) {
      this.#recheckLater();
      return;
    }
    const error = new RequestTimeoutError(
      `request to ${this.#where()} got no answer within ${this.#requestTimeoutMs} ms; ` +
        "connection closed",
    );
    this.#fail(error);
  }

  /**
   * Checks the deadline once more after STALL_RECHECK_TURNS turns of the event loop (one
   * `setImmediate` a turn, a few µs each), on a timer's turn after them.
   */
  #recheckLater(): void {
    this.#rechecking = true;
    let turns = 0;
    const turn = () => {
      if (this.isOpen && ++turns < STALL_RECHECK_TURNS) {
        setImmediate(turn);
        return;
      }
      this.#rechecking = false;
      if (this.isOpen) this.#timeoutTimer = setTimeout(() => this.#checkTimeout(false), 0);
    };
    setImmediate(turn);
  }

  #keepAlive(keepAliveMs: number): void {
    if (!this.isOpen || this.inFlight > 0) return;
    if (performance.now() - this.#lastRequestAt < keepAliveMs) return;
    // A failed ping closes the connection, which `closed` reports; nothing else to do.
    this.ping().catch(() => {});
  }

  async #readLoop(): Promise<void> {
    const reader = new FrameReader({ maxFrameBytes: MAX_ERROR_ANSWER_BYTES });
    try {
      for (;;) {
        const count = await this.#conn.read(reader.space());
        if (count === null) break;
        this.#lastHeardAt = performance.now();
        reader.filled(count);
        // A first byte other than 0 starts no frame, so the reader's bytes are still the
        // connection's first ones, none taken as an answer.
        if (this.#opening.length < OPENING_BYTES && this.#opening[0] !== 0) {
          this.#opening = reader.buffered.slice(0, OPENING_BYTES);
        }
        this.#takeAnswers(reader);
        // Answers arrived: the requests held meanwhile go out (see #mayWrite).
        if (this.#outgoing.length > 0) this.#startFlush();
      }
      this.#fail(new ConnectionError(`server ${this.#where()} closed the connection`));
    } catch (error) {
      // What a stranger sent (an HTTP server's "HTTP" reads as a frame of 1.2 GB) is named
      // by connect, which judges the connection's first bytes (#connectFailure).
      const reason = error instanceof DecodeError
        ? `protocol error: ${error.message}`
        : osReason(error);
      this.#fail(
        new ConnectionError(`connection to ${this.#where()} failed: ${reason}`, { cause: error }),
      );
    }
  }

  /**
   * Hands each complete answer in `reader` to its request. Their bodies lie in the
   * reader's buffer, which the next read reuses, and requests keep them (a GET's value
   * bytes, a response decoded later): the answers of one read are copied out together
   * into the process's current slab (ANSWER_SLAB), one array buffer per ANSWER_SLAB_BYTES of answers
   * rather than one per read or per answer (a read's answers over MAX_SLAB_COPY_BYTES get
   * a buffer of their own). A body kept keeps its slab alive: at most ANSWER_SLAB_BYTES,
   * or the answers of its read. Each answer's type, request id and body bounds are noted
   * in `#answerSpans` first, with no object made per answer.
   */
  #takeAnswers(reader: FrameReader): void {
    const spans = this.#answerSpans;
    let count = 0;
    try {
      for (;;) {
        // Each answer is held to what its request can produce (answers come in order).
        reader.maxFrameBytes = this.#answerLimit(count);
        if (!reader.advance()) break;
        const at = count * SPAN_FIELDS;
        spans[at] = reader.frameType;
        spans[at + 1] = reader.frameRequestId;
        spans[at + 2] = reader.bodyStart;
        spans[at + 3] = reader.bodyEnd;
        count++;
      }
    } finally {
      if (spans.length > RETAINED_ANSWER_SPANS) this.#answerSpans = [];
      // A broken frame fails the connection, but only after the answers before it.
      this.#deliver(reader.buffer, spans, count);
    }
  }

  /**
   * Hands the `count` answers noted in `spans`, bodies in `buffer` (the reader's), to
   * their requests (see #takeAnswers).
   */
  #deliver(buffer: Uint8Array, spans: readonly number[], count: number): void {
    if (count === 0) return;
    // The bodies lie one after the other in the reader's buffer, headers between them.
    const first = spans[2];
    const end = spans[(count - 1) * SPAN_FIELDS + 3];
    const size = end - first;
    let copy: Uint8Array;
    let base: number;
    if (size > MAX_SLAB_COPY_BYTES) {
      copy = buffer.slice(first, end);
      base = 0;
    } else {
      base = ANSWER_SLAB.copy(buffer, first, end);
      copy = ANSWER_SLAB.bytes;
    }
    // Where the bodies now lie in `copy`, from where they lay in `buffer`.
    const shift = base - first;
    for (let at = 0; at < count * SPAN_FIELDS; at += SPAN_FIELDS) {
      this.#onFrame(spans[at], spans[at + 1], copy, spans[at + 2] + shift, spans[at + 3] + shift);
    }
  }

  /**
   * The largest body the answer after the next `ahead` answers may have: its request's
   * bound, or an ERROR's.
   */
  #answerLimit(ahead: number): number {
    if (ahead >= this.inFlight) return MAX_ERROR_ANSWER_BYTES;
    return this.#pending[this.#pendingHead + ahead].maxAnswerBytes;
  }

  /**
   * Settles the oldest request with the answer of type `type` to `requestId`, its body
   * `bytes[start, end)`. Any answer but an OK is decoded here, so that a malformed one
   * fails the connection; an OK's body is the request's to read.
   */
  #onFrame(type: number, requestId: number, bytes: Uint8Array, start: number, end: number): void {
    let response: Response | undefined;
    if (type !== MessageType.OK) {
      response = decodeResponse({ type, requestId, body: bytes.subarray(start, end) });
      if (requestId === CONNECTION_REQUEST_ID && response.type === "error") {
        const name = errorCodeName(response.code);
        // The server's own ERROR as the cause: it spoke kv (connect gives no TLS hint).
        this.#fail(
          new ConnectionError(
            `server ${this.#where()} closed the connection: ${name}: ${response.message}`,
            { cause: new ServerError(response.code, response.message) },
          ),
        );
        return;
      }
    }
    if (this.inFlight === 0) {
      throw new DecodeError(`answer to request ${requestId}, which was never sent`);
    }
    const oldest = this.#pending[this.#pendingHead];
    if (oldest.requestId !== requestId) {
      throw new DecodeError(
        `answer to request ${requestId} while ${oldest.requestId} is the oldest`,
      );
    }
    this.#popOldest();
    if (response === undefined) answerOk(oldest, requestId, bytes, start, end);
    else answer(oldest, response);
  }

  #popOldest(): void {
    this.#pendingHead++;
    if (this.#pendingHead === this.#pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
      // Nothing awaits this connection: its read no longer keeps the process alive, so a
      // program that never closes its client still ends, as with Deno KV's handle. A
      // request made later refs it again (#enqueue) before anything can wait on it.
      this.#conn.unref();
    } else if (
      this.#pendingHead > PENDING_COMPACT_AFTER && this.#pendingHead * 2 > this.#pending.length
    ) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
    this.#handOverSlot();
  }

  /** Wakes the oldest request waiting for a slot, if any, and hands it the slot just freed. */
  #handOverSlot(): void {
    // Asked first: shift() is a builtin call even on an empty list, and this runs per answer.
    if (this.#roomWaiters.length === 0) return;
    const wake = this.#roomWaiters.shift()!;
    this.#slotsHandedOver++;
    wake();
  }

  #fail(error: ConnectionError): void {
    if (this.#closeReason) return;
    this.#closeReason = error;
    clearTimeout(this.#timeoutTimer);
    clearInterval(this.#keepAliveTimer);
    const pending = this.#pending.slice(this.#pendingHead);
    this.#pending = [];
    this.#pendingHead = 0;
    for (const request of pending) rejectRequest(request.settle, error);
    for (const wake of this.#roomWaiters.splice(0)) {
      this.#slotsHandedOver++;
      wake();
    }
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by a failed read: nothing left to release.
    }
    this.#resolveClosed();
  }
}

/**
 * Settles `settle` with `result`. Settles run inside the read loop (and `#fail`), where
 * what one throws would fail the connection, blame its server and fail every request on
 * it: a throw is its caller's bug, reported as an uncaught error (`reportError`), as a
 * promise reaction's throw would be, and the connection carries on.
 */
function resolveRequest(settle: Settle<unknown>, result: unknown): void {
  try {
    settle.resolve(result);
  } catch (bug) {
    reportError(bug);
  }
}

/** Settles `settle` with the failure `error`, as {@link resolveRequest} does with a result. */
function rejectRequest(settle: Settle<unknown>, error: unknown): void {
  try {
    settle.reject(error);
  } catch (bug) {
    reportError(bug);
  }
}

/** Settles `request` with what its decoder makes of `response`, or with what that threw. */
function answer(request: Pending, response: Response): void {
  let result: unknown;
  try {
    result = request.decoder.decode(response);
  } catch (error) {
    rejectRequest(request.settle, error);
    return;
  }
  resolveRequest(request.settle, result);
}

/**
 * Settles `request`, answered OK with the body `bytes[start, end)`, with what its decoder
 * reads there in place (or with what that threw); a decoder that reads responses only
 * gets the OK response.
 */
function answerOk(
  request: Pending,
  requestId: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): void {
  const decodeOk = request.decoder.decodeOk;
  if (decodeOk === undefined) {
    answer(request, { type: "ok", requestId, body: bytes.subarray(start, end) });
    return;
  }
  let result: unknown;
  try {
    result = decodeOk(bytes, start, end);
  } catch (error) {
    rejectRequest(request.settle, error);
    return;
  }
  resolveRequest(request.settle, result);
}

/** What a PUT's response means: stored, refused because the key exists, stale, or an error. */
function putResult(response: Response): PutResult {
  if (response.type === "error" && response.code === ErrorCode.EXISTS) return { kind: "exists" };
  if (response.type === "stale") return { kind: "stale", version: response.version };
  decodeEmptyBody(expectOk(response));
  return { kind: "stored" };
}

/**
 * What a DELETE's response means: the version it replaced (OK a record's, NOT_FOUND a
 * tombstone's or none), stale, or an error. An empty OK is a stale repair copy ignored.
 */
function deleteResult(response: Response, options: WriteOptions): DeleteResult {
  if (response.type === "stale") return { kind: "stale", version: response.version };
  if (response.type === "not_found") {
    if (response.miss !== undefined) throw new DecodeError("a DELETE's NOT_FOUND carries a miss");
    const replaced = response.version;
    return replaced === undefined
      ? { kind: "deleted", existed: false }
      : { kind: "deleted", existed: false, replaced };
  }
  const body = expectOk(response);
  if (body.length === 0 && options.repair === true) return { kind: "deleted", existed: false };
  return { kind: "deleted", existed: true, replaced: decodeVersionBody(body) };
}

/** What a purge's response means: whether something was removed, stale, or an error. */
function purgeResult(response: Response): DeleteResult {
  if (response.type === "stale") return { kind: "stale", version: response.version };
  if (response.type === "not_found") {
    if (response.version !== undefined) throw new DecodeError("a purge's NOT_FOUND has a body");
    return { kind: "deleted", existed: false };
  }
  decodeEmptyBody(expectOk(response));
  return { kind: "deleted", existed: true };
}

/** What a GET's or QUERY's response means, the value still encoded. */
function encodedRead(response: Response): EncodedRead {
  if (response.type !== "not_found") return splitValueBody(expectOk(response));
  const { version, miss } = response;
  return miss === undefined
    ? { encoded: undefined, version }
    : { encoded: undefined, version, miss };
}

/** {@link encodedRead} for a QUERY of a path of `segments`, which its miss must lie within. */
function encodedQuery(response: Response, segments: number): EncodedRead {
  const read = encodedRead(response);
  if (read.miss !== undefined && read.miss.segment >= segments) {
    throw new DecodeError(`miss at segment ${read.miss.segment} of a path of ${segments}`);
  }
  return read;
}

/** {@link encodedRead} for a GET, whose NOT_FOUND never says why a path is missing. */
function encodedGet(response: Response): EncodedRead {
  if (response.type === "not_found" && response.miss !== undefined) {
    throw new DecodeError("a GET's NOT_FOUND carries a query path's miss");
  }
  return encodedRead(response);
}

/** An encoded read with its value decoded (a DecodeError when it is malformed). */
function decodeRead(read: EncodedRead): ReadResult {
  const value = read.encoded === undefined ? undefined : decodeValue(read.encoded);
  const { version, miss } = read;
  return miss === undefined ? { value, version } : { value, version, miss };
}

/** `refusals` when they name distinct items of a batch of `itemCount` in order; else a DecodeError. */
function checkRefusals(refusals: PutManyRefusal[], itemCount: number): PutManyRefusal[] {
  let previous = -1;
  for (const { index } of refusals) {
    if (index <= previous || index >= itemCount) {
      throw new DecodeError(`PUT_MANY answer refuses item ${index} of ${itemCount} out of order`);
    }
    previous = index;
  }
  return refusals;
}

/**
 * What a server that hung up on a plain HELLO without a byte may be, for a connection error's
 * hint (ServerClient.connect).
 */
const HANG_UP_CAUSES = "a kv server stopping, a proxy whose server is down, or a TLS server: " +
  "reach a TLS server with --tls-ca";

/**
 * A connection attempt reached a server whose first bytes were no kv server's
 * (lib/protocol/stranger.ts): an address that is some other server's (an HTTP server's, an SSH
 * server's, Redis's), which reconnecting cannot mend (lib/broker/server_pool.ts counts it a
 * refusal).
 *
 * @example
 * ```ts ignore
 * try {
 *   await ServerClient.connect({ hostname: "127.0.0.1", port: 22 }); // an SSH server
 * } catch (error) {
 *   if (error instanceof NotKvServerError) console.log(error.stranger.reason);
 *   // 'it answered like an SSH server: "SSH-2.0-OpenSSH_9.6"'
 * }
 * ```
 */
export class NotKvServerError extends ConnectionError {
  /** What answered instead, and a clause saying so. */
  readonly stranger: Stranger;

  /** The error for the server at `where` (`host:port`), which answered as `stranger`. */
  constructor(where: string, stranger: Stranger, options?: ErrorOptions) {
    super(`cannot connect to ${where}: no kv server answers there (${stranger.reason})`, options);
    this.name = "NotKvServerError";
    this.stranger = stranger;
  }
}

/**
 * What answered instead of a kv server when `error` (a failed connection attempt) or one of
 * its causes is a {@link NotKvServerError}; undefined otherwise.
 *
 * @example
 * ```ts ignore
 * await ServerClient.connect({ hostname: "127.0.0.1", port: 8080 })
 *   .catch((error) => notKvServer(error)?.kind); // "http": kv http's port
 * ```
 */
export function notKvServer(error: unknown): Stranger | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof NotKvServerError) return cause.stranger;
  }
  return undefined;
}

/** The largest protocol version HELLO can name (a u16). */
const MAX_PROTOCOL_VERSION = 0xffff;

/** The protocol versions a server speaks, from `lowest` to `highest` (equal: one). */
export interface SpokenVersions {
  /** The oldest version it speaks. */
  readonly lowest: number;
  /** The newest version it speaks. */
  readonly highest: number;
}

/**
 * The protocol versions a server says it speaks in `message`, its ERROR `UNSUPPORTED_VERSION`
 * refusing this client's HELLO, in the words of any kv so far: `this server speaks version 8
 * only: …` (protocol 3 on), `this server speaks 1 to 2` (2), `this server speaks 1` (1), so
 * that a client can name both versions and which side is older; undefined when it names none
 * this client can read (a later wording), or none a HELLO could carry.
 *
 * @example
 * ```ts
 * spokenVersions("protocol version 9 is not supported; this server speaks version 8 only: " +
 *   "upgrade the older of the two"); // { lowest: 8, highest: 8 }
 * spokenVersions("protocol version 9 is not supported; this server speaks 1 to 2");
 * // { lowest: 1, highest: 2 }
 * ```
 */
export function spokenVersions(message: string): SpokenVersions | undefined {
  const match = /this server speaks (?:version )?(\d{1,5})(?: to (\d{1,5}))?\b/.exec(message);
  if (match === null) return undefined;
  const lowest = Number(match[1]);
  const highest = Number(match[2] ?? match[1]);
  return lowest <= highest && highest <= MAX_PROTOCOL_VERSION ? { lowest, highest } : undefined;
}

/**
 * `error` in one line without Deno's "(os error N)": the words ("Connection refused")
 * say it already, and the number means nothing to a user reading a warning. Shown by
 * oneLine: a TLS failure's words quote the server's certificate (the names it is valid for).
 */
function osReason(error: unknown): string {
  return oneLine(withoutOsDetail(describeError(error)));
}

/**
 * Opens TCP, or TLS when `credentials` name a CA (the handshake done, so a certificate
 * the CA did not sign fails here), within `timeoutMs` and until `signal` aborts; a
 * ConnectionError otherwise.
 */
async function openConnection(
  address: ServerAddress,
  credentials: Credentials,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Deno.Conn> {
  const where = hostPort(address.hostname, address.port);
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reason = `timed out after ${timeoutMs} ms`;
  let end: (() => void) | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    end = () => {
      abort.abort();
      reject(new Error(reason));
    };
    timer = setTimeout(end, timeoutMs);
  });
  // The caller's abort ends the attempt as its timeout would.
  const abandon = () => {
    reason = "abandoned by the client";
    end?.();
  };
  if (signal?.aborted) abandon();
  signal?.addEventListener("abort", abandon, { once: true });
  // Only a race listens to it; past the races nobody does.
  timedOut.catch(() => {});
  let conn: Deno.Conn | undefined;
  try {
    if (credentials.tlsCaCerts === undefined) {
      conn = await Deno.connect({ ...address, signal: abort.signal });
      return conn;
    }
    const tls = Deno.connectTls({ ...address, caCerts: [...credentials.tlsCaCerts] });
    // connectTls takes no signal: a late connection is closed when it arrives.
    tls.then((late) => abort.signal.aborted && late.close(), () => {});
    const tlsConn = await Promise.race([tls, timedOut]);
    conn = tlsConn;
    await Promise.race([tlsConn.handshake(), timedOut]);
    return tlsConn;
  } catch (error) {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
    const why = abort.signal.aborted ? reason : osReason(error);
    const tls = credentials.tlsCaCerts === undefined ? "" : "TLS: ";
    throw new ConnectionError(`cannot connect to ${where}: ${tls}${why}`, { cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abandon);
  }
}

/**
 * Whether `response`, a PUT's or a DELETE's (not a purge's), is one only a store taking
 * writes gives: OK, NOT_FOUND (a DELETE of a key holding nothing) or EXISTS (a PUT's
 * overwrite refused). A server checks that its store takes writes before it looks at the
 * key; STALE tells nothing, as a write far behind the server's clock is answered so first.
 */
function storeTook(response: Response): boolean {
  if (response.type === "error") return response.code === ErrorCode.EXISTS;
  return response.type !== "stale";
}

function expectOk(response: Response): Uint8Array {
  if (response.type === "ok") return response.body;
  if (response.type === "error") throw new ServerError(response.code, response.message);
  throw new DecodeError(
    `unexpected ${response.type.toUpperCase()} for request ${response.requestId}`,
  );
}

/** Runs `check(argument)`, throwing its DecodeError as a RangeError: a caller's mistake. */
function checkArgument<T>(check: (argument: T) => void, argument: T): void {
  const mistake = argumentMistake(check, argument);
  if (mistake !== undefined) throw mistake;
}

/**
 * What `check(argument)` throws, its DecodeError as a RangeError (a caller's mistake), or
 * undefined when it passes: for callers that hand the error over rather than throw it.
 */
function argumentMistake<T>(check: (argument: T) => void, argument: T): Error | undefined {
  try {
    check(argument);
    return undefined;
  } catch (error) {
    return error instanceof DecodeError ? new RangeError(error.message) : error as Error;
  }
}
