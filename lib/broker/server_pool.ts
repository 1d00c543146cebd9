/**
 * The broker's connections: one persistent connection per server, each server
 * either up (a live connection) or down (no connection, reconnecting in the
 * background with exponential backoff). A request that fails for any reason
 * but an answer from the server itself — a refused or dropped connection, a
 * request timeout on a hung server — marks that server down, so later requests
 * skip it at once instead of waiting for another timeout; a server that comes
 * back is used again as soon as a reconnect succeeds.
 *
 * @example
 * ```ts
 * import { ServerPool } from "./server_pool.ts";
 * import { parseServerList } from "./server_list.ts";
 * const pool = new ServerPool(parseServerList("127.0.0.1 8000", "servers.txt"));
 * await pool.start();
 * const outcome = await pool.call(0, (connection) => connection.getEncoded("person1"));
 * pool.close();
 * ```
 * @module
 */
import { type Credentials, type TlsRefusal, tlsRefusal } from "../protocol/credentials.ts";
import { describeError } from "../base/describe_error.ts";
import type { LogFunction } from "../base/logger.ts";
import { type KeysOptions } from "../record/key.ts";
import { invariant } from "../base/invariant.ts";
import {
  ConnectionError,
  notKvServer,
  RequestTimeoutError,
  ServerClient,
  ServerError,
  type Settle,
  spokenVersions,
} from "../protocol/client.ts";
import {
  type DeleteResult,
  type EncodedRead,
  ErrorCode,
  LIST_CHANGE_UNDER_WAY,
  type ListPartitionsOptions,
  type NodeState,
  type PartitionDigests,
  type PartitionListing,
  PROTOCOL_VERSION,
  type PutManyRefusal,
  type PutResult,
  type ServerStats,
  type WriteOptions,
} from "../protocol/mod.ts";
import type { PutManyItems } from "../protocol/put_many.ts";
import type { ServerAddress } from "./server_list.ts";
import { listFingerprint, sameList } from "./list_fingerprint.ts";
import type { Value } from "../record/value.ts";

/** First delay before reconnecting to a server that went down, in ms. */
export const RECONNECT_INITIAL_DELAY_MS = 100;

/**
 * Longest delay between reconnect attempts to a server that is down, in ms: the delay
 * doubles from {@link RECONNECT_INITIAL_DELAY_MS} up to this. So a client, even an idle
 * one, uses a restarted server again at most this long (plus one connect) after it
 * answers again — what a rolling restart waits for between servers (README, Failures).
 * Kept low because it is cheap: one attempt at a time per server, a refused connect is
 * one SYN answered by a reset, and a hung server's attempt lasts the connect timeout.
 */
export const RECONNECT_MAX_DELAY_MS = 1_000;

/**
 * Longest delay between reconnect attempts to a server that is running but refused this
 * client (its credentials, TLS, or its connection limit: BUSY), in ms. Asking again soon
 * cannot help until someone changes something, and each attempt costs the server a
 * handshake and, for a refusal, a line in its log.
 */
export const RECONNECT_REFUSED_MAX_DELAY_MS = 5_000;

/**
 * Least time between the starts of two reconnect attempts to a server that is down, in ms,
 * when reads and writes want it ({@link ServerPool.isReachable} asked and it was not):
 * a busy client tries it again this soon rather than at the end of its backoff, so it
 * uses a restarted server again within about this long of it answering. At most one
 * attempt runs at a time, so a server that stays down costs a busy client one refused
 * connect per this long, and a hung one one connection per connect timeout.
 */
export const RECONNECT_ON_DEMAND_MS = 100;

/**
 * Longest a write that finds fewer than k servers reachable waits for the first reconnect
 * of servers whose connections were just lost ({@link ServerPool.awaitReconnects}), in ms:
 * a broker that stalled itself past its timeout, or a blip that cut every connection at
 * once, should not fail what it is given while the reconnects are under way. A hung
 * server's reconnect ends when its HELLO times out (`--timeout-ms`): sooner than this when
 * that is under 2 s. So a write refused because a server hung takes up to `--timeout-ms`
 * (the request that found it silent) plus the lesser of the two; writes made during the
 * reconnect wait out its rest.
 */
export const RECONNECT_WAIT_MS = 2_000;

/** Default connect and request timeout, in ms (`--timeout-ms`). */
export const DEFAULT_TIMEOUT_MS = 1_000;

/**
 * Longest connect and request timeout accepted, in ms: ten minutes. `kv broker
 * --timeout-ms`, the one-shot commands, `kv http` and the client library all bound by it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * // Servers so far away that a request may take minutes: the longest timeout there is.
 * const pool = new ServerPool([serverAddress("127.0.0.1", 8000)], { timeoutMs: MAX_TIMEOUT_MS });
 * ```
 */
export const MAX_TIMEOUT_MS = 600_000;

/** Requests one connection may have outstanding; the indexer's window stays below it. */
export const MAX_IN_FLIGHT_PER_SERVER = 16_384;

/**
 * What the broker needs from a connection to one server; `ServerClient`
 * provides it, and tests substitute in-memory fakes.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const server = serverAddress("127.0.0.1", 8000);
 * const connection: ServerConnection = await connectServerClient(server, 1000);
 * await connection.getEncoded("person1");
 * ```
 */
export interface ServerConnection {
  /** Whether the connection can still carry requests. */
  readonly isOpen: boolean;
  /** Why the connection closed, once it has. */
  readonly closeReason: Error | undefined;
  /** The server's identity from HELLO: equal ids mean one server behind two addresses. */
  readonly serverId: string;
  /** Largest frame body the server accepts, from its HELLO. */
  readonly maxFrameBytes: number;
  /** Whether the server asked for a proof of a secret in HELLO (it has an auth file). */
  readonly challenged: boolean;
  /**
   * The server's state from its HELLO (unrepaired, recorded k, the list it was repaired
   * under), updated by setK and markRepaired.
   */
  readonly state: NodeState;
  /**
   * Whether the server refuses writes (READ_ONLY), as this connection's last answer that
   * tells said (a write's, or a STATS's); undefined until one did. See
   * `ServerClient.refusesWrites`.
   */
  readonly refusesWrites: boolean | undefined;
  /** Asks the server to record k (see SET_K); resolves with the k it records afterwards. */
  setK(k: number, options?: { replace?: boolean }): Promise<number>;
  /**
   * Clears the server's unrepaired flag and records the fingerprint of the server list
   * the repair was made under, durably, while its mark is still `expected` (see
   * MARK_REPAIRED: a compare-and-set).
   */
  markRepaired(list: Uint8Array, expected: Uint8Array): Promise<void>;
  /** Every partition's entry count and digest (see PARTITION_DIGESTS). */
  partitionDigests(): Promise<PartitionDigests>;
  /** One page of the entries of the partitions set in bitmap `wanted` (see LIST_PARTITIONS). */
  listPartitions(wanted: Uint8Array, options: ListPartitionsOptions): Promise<PartitionListing>;
  /** Stores `value` under `key` at `options.version` when newer than what the key holds. */
  put(key: string, value: Value, options: WriteOptions): Promise<PutResult>;
  /** Like `put`, with the value already encoded by `encodeValue` (encoded once for k replicas). */
  putEncoded(key: string, encodedValue: Uint8Array, options: WriteOptions): Promise<PutResult>;
  /**
   * Stores every item of `items` in one request (read during the call only) and
   * resolves with the items refused; rejects when the batch as a whole failed.
   */
  putMany(items: PutManyItems): Promise<PutManyRefusal[]>;
  /**
   * The value stored under `key` as the server encoded it (not yet checked), with the
   * version the key holds (a tombstone's, when deleted): reads ask k replicas and
   * decode only the answer they use, the newest.
   */
  getEncoded(key: string): Promise<EncodedRead>;
  /**
   * Like `getEncoded`, handing the read to `settle` (called once, never before this
   * returns, and it must not throw) rather than a promise: what a read asks each replica.
   */
  getEncodedTo(key: string, settle: Settle<EncodedRead>): void;
  /** The value at `path` (key, then field names) as the server encoded it, and the version its key holds. */
  queryEncoded(path: string[]): Promise<EncodedRead>;
  /** Like `queryEncoded`, handing the read to `settle` as `getEncodedTo` does. */
  queryEncodedTo(path: string[], settle: Settle<EncodedRead>): void;
  /** Leaves a tombstone for `key` at `options.version` when newer than what the key holds. */
  delete(key: string, options: WriteOptions): Promise<DeleteResult>;
  /** Keys in byte order, see {@link KeysOptions}. */
  keys(options: KeysOptions): Promise<string[]>;
  /** The server's counters. */
  stats(): Promise<ServerStats>;
  /** Round trip time in ms. */
  ping(): Promise<number>;
  /** Closes the connection; outstanding requests fail. */
  close(): void | Promise<void>;
}

/**
 * Opens a connection to `server`, failing after `timeoutMs`, or once `signal` aborts (the
 * pool closed while the attempt was under way).
 */
export type Connector = (
  server: ServerAddress,
  timeoutMs: number,
  credentials?: Credentials,
  signal?: AbortSignal,
) => Promise<ServerConnection>;

/**
 * Connects with {@link ServerClient}: `timeoutMs` bounds both the connect
 * (with its HELLO) and every request.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const connection = await connectServerClient(serverAddress("127.0.0.1", 8000), 1000);
 * ```
 */
export const connectServerClient: Connector = async (
  server,
  timeoutMs,
  credentials,
  signal,
): Promise<ServerConnection> => {
  const client = await ServerClient.connect(
    { hostname: server.hostname, port: server.port },
    {
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
      maxInFlight: MAX_IN_FLIGHT_PER_SERVER,
      credentials,
      signal,
    },
  );
  return client;
};

/** Options for {@link ServerPool}. */
export interface ServerPoolOptions {
  /** Connect and request timeout in ms; default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** How to open a connection; default {@link connectServerClient}. */
  connect?: Connector;
  /**
   * Told when a server goes down (`warn`), comes back (`info`), is not used or asked for no
   * secret (`warn`); default: nothing.
   */
  log?: LogFunction;
  /** Secret and TLS CA for every connection (resolveCredentials); default none. */
  credentials?: Credentials;
}

/** One server's state as {@link ServerPool.status} reports it. */
export interface ServerState {
  /** The server. */
  readonly server: ServerAddress;
  /** Whether it is reachable now. */
  readonly up: boolean;
  /** Why the server is down (the last failure), when it is. */
  readonly error?: string;
}

/** The result of {@link ServerPool.call}: the answer, or why there is none. */
export type CallOutcome<T> =
  | {
    readonly ok: true;
    readonly value: T;
    /** The connection the request went on (a fresh one when the first closed under it). */
    readonly connection: ServerConnection;
    /**
     * Whether the server could be trusted when the request was sent: its connection's
     * HELLO (or this broker's MARK_REPAIRED on it, or a {@link ServerPool.recheck}) said
     * repaired under this pool's list ({@link ServerPool.trusts}). Judged at send time on
     * the connection used, never when the answer is looked at: a server marked repaired
     * while its answer was on the way may have answered before it was refilled, and a
     * restarted server is a new connection with a HELLO of its own. A connection's flag
     * only goes from unrepaired to repaired, so a server repaired at send time still was
     * when it answered (a k changed by `kv repair -k` meanwhile ends the trust of later
     * requests only: the answer was given under the placement it was sent for).
     */
    readonly repaired: boolean;
  }
  | {
    readonly ok: false;
    readonly unreachable: boolean;
    readonly error: string;
    /**
     * The server's error code when it refused the request (a `ServerError`: its ERROR
     * answer, or the client's refusal of a request the server would refuse, as a PUT over
     * its frame limit); undefined for any other failure.
     */
    readonly code?: number;
  };

/**
 * A request {@link ServerPool.send} makes on a connection: it settles `settle` with the
 * answer or the failure, once and never before it returns (as `getEncodedTo` does); a
 * request that throws fails as one that rejected.
 */
export type PoolRequest<T> = (connection: ServerConnection, settle: Settle<T>) => void;

/**
 * Settles `settle` with what the promise `request(connection)` settles with (or what
 * `request` threw), for requests that answer with a promise.
 *
 * @example
 * ```ts ignore
 * pool.send(0, (connection, settle) => settleFrom((c) => c.ping(), connection, settle), log);
 * ```
 */
export function settleFrom<T>(
  request: (connection: ServerConnection) => Promise<T>,
  connection: ServerConnection,
  settle: Settle<T>,
): void {
  let answer: Promise<T>;
  try {
    answer = request(connection);
  } catch (error) {
    answer = Promise.reject(error);
  }
  answer.then((value) => settle.resolve(value), (error) => settle.reject(error));
}

/**
 * One attempt of {@link ServerPool.send} on a connection, and what settles it: the
 * outcome is made from the answer here, or the pool's `failed` judges the failure. One
 * object per request, where a promise's resolving functions and reactions were several.
 */
class Attempt<T> implements Settle<T> {
  constructor(
    readonly index: number,
    readonly connection: ServerConnection,
    readonly request: PoolRequest<T>,
    readonly attempt: number,
    readonly onOutcome: (outcome: CallOutcome<T>, tag: number) => void,
    readonly tag: number,
    /** Whether the server could be trusted when the request was sent (CallOutcome). */
    readonly repaired: boolean,
    /** The pool's judgement of a failure. */
    readonly failed: (sent: Attempt<T>, error: unknown) => void,
  ) {}

  resolve(value: T): void {
    const { connection, repaired } = this;
    this.onOutcome({ ok: true, value, connection, repaired }, this.tag);
  }

  reject(error: unknown): void {
    this.failed(this, error);
  }
}

interface Slot {
  connection: ServerConnection | undefined;
  lastError: string | undefined;
  reconnectDelayMs: number;
  reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  connecting: boolean;
  /** Index of another slot that reached the very same server; this one is never used. */
  twinOf: number | undefined;
  /**
   * The connection closed without a request timing out (the server's idle timeout, a
   * restart, a repair's change of its mark) and no reconnect has failed since: the next
   * request tries one at once, or waits for the one under way.
   */
  closedQuietly: boolean;
  /**
   * The server was up until its connection was lost (closed, or a request timed out) and
   * no attempt to reconnect has ended since: the first one is due or under way.
   */
  lost: boolean;
  /** The connection attempt under way, which callers share. */
  attempt: Promise<void> | undefined;
  /** When the last connection attempt started (performance.now()); -Infinity before any. */
  attemptedAt: number;
  /**
   * The pool logged that the server is down and has not yet logged it back up. A
   * connection closed quietly is logged down only once its reconnect fails: a server that
   * closed it on purpose (a repair changing its mark, its idle timeout) and takes the
   * reconnect was never down.
   */
  reportedDown: boolean;
  /** Why its last connection attempt failed for this client's credentials, if it did. */
  refusal: CredentialsRefusal | undefined;
  /** The pool logged that the server asked for no secret (once a pool: it is the same server). */
  saidOpen: boolean;
  /**
   * The server's BUSY refusal when its last connection attempt met its connection limit
   * (`kv server --max-connections`): running, but with no room for this client.
   */
  busy: string | undefined;
  /**
   * The connection {@link ServerPool.recheck} found the server trusted on after its own
   * HELLO said otherwise: a mark made since (a repair under this pool's k) covers every
   * request sent on it from then on.
   */
  vouched: ServerConnection | undefined;
  /** A STATS of {@link ServerPool.askWrites} is outstanding. */
  askingWrites: boolean;
}

/**
 * A server that is running but cannot be used with this client's credentials (or TLS
 * settings), or a kv server of another protocol version (an older or newer kv), or an address
 * where no kv server answers but another server (a web server, SSH, Redis:
 * lib/protocol/stranger.ts), so that reconnecting cannot help: the client, the server's
 * certificate, kv on one side, or the server file must change.
 *
 * @example
 * ```ts
 * const refusal: CredentialsRefusal = {
 *   kind: "ca",
 *   reason: "invalid peer certificate: UnknownIssuer",
 * };
 * ```
 */
export interface CredentialsRefusal {
  /**
   * `"auth-required"`: the server requires a secret and this client gave none (HELLO's
   * AUTH_REQUIRED). `"auth-failed"`: the server's auth file lacks the client's secret
   * (AUTH_FAILED). The others are TLS's refusals ({@link TlsRefusal}): `"ca"`, a
   * certificate no CA this client was given signed; `"certificate"`, one refused for
   * itself (expired, or not for the name used); `"not-tls"`, a server without TLS;
   * `"tls-needed"`, a TLS server this client reached without TLS. `"not-kv"`: another
   * server answered (an HTTP server, `kv http`'s port say; SSH, Redis: bytes no kv server
   * sends first, lib/protocol/stranger.ts), a wrong line of the server file. `"version"`: a
   * kv server speaking another protocol version refused this client's HELLO
   * (UNSUPPORTED_VERSION): the older of the two must be upgraded.
   */
  readonly kind: "auth-required" | "auth-failed" | "not-kv" | "version" | TlsRefusal["kind"];
  /** The refusal in the server's or TLS's words ("AUTH_FAILED: …", "invalid peer certificate: UnknownIssuer"). */
  readonly reason: string;
}

/** The kinds of refusal said in fixed words: all but a version's, which names both versions. */
type FixedRefusalKind = Exclude<CredentialsRefusal["kind"], "version">;

/** What the client (or the server's auth file) needs for each kind of refusal. */
const REFUSAL_ADVICE: Readonly<Record<FixedRefusalKind, string>> = {
  "auth-required": "give the client an auth file holding one of its secrets",
  "auth-failed": "the client's secret (its auth file's first line) must be in the server's " +
    "auth file",
  "ca": "give the client the CA certificate that signed it",
  "certificate": "give it a valid certificate for the name the server file gives it " +
    "(kv server --tls-cert)",
  "not-tls": "connect to it without TLS, or give the server a certificate (kv server " +
    "--tls-cert)",
  // kv's own TLS server and any other answer a plain HELLO with the same alert: both fixes.
  "tls-needed": "if it is a kv server with TLS (kv server --tls-cert), give the client the CA " +
    "certificate that signed its certificate; if not, list the kv servers' own addresses in " +
    "the server file",
  "not-kv": "list the kv servers' own addresses in the server file",
};

/**
 * Whether the fix for a refusal of `kind` may be the server file's line: an address where no
 * kv server answers (`"not-kv"`), or a TLS server met without TLS (`"tls-needed"`), which may be
 * kv's own or any other.
 */
function refusalMayBeLine(kind: CredentialsRefusal["kind"]): boolean {
  return kind === "not-kv" || kind === "tls-needed";
}

/**
 * Whether the line about a refusal of `kind` names the server file's line: where that line
 * may be the fix ({@link refusalMayBeLine}), and for a kv server of another version
 * (`"version"`), which the line picks out among the file's servers: the one left out of an
 * upgrade, or an older kv left on a port the file names.
 */
function refusalNamesLine(kind: CredentialsRefusal["kind"]): boolean {
  return refusalMayBeLine(kind) || kind === "version";
}

/**
 * `where` (the server file's `file:line:col` of a server) and ": ", to lead the line about a
 * server that `refusal` turned away when that line may be the fix (an address where no kv
 * server answers, or a TLS server met without TLS) or names the server of another kv version
 * to upgrade; "" otherwise, or without a server file.
 *
 * @example
 * ```ts
 * lineLead({ kind: "tls-needed", reason: "…" }, "servers.txt:2:1"); // "servers.txt:2:1: "
 * lineLead({ kind: "auth-failed", reason: "…" }, "servers.txt:2:1"); // "": the auth file's fault
 * ```
 */
export function lineLead(
  refusal: CredentialsRefusal | undefined,
  where: string | undefined,
): string {
  return refusal !== undefined && refusalNamesLine(refusal.kind) && where !== undefined
    ? `${where}: `
    : "";
}

/** What each kind of refusal says happened, after the server's id. */
const REFUSAL_WHAT: Readonly<Record<FixedRefusalKind, string>> = {
  "auth-required": "refused this client's credentials",
  "auth-failed": "refused this client's credentials",
  "ca": "has a TLS certificate no CA this client was given signed",
  "certificate": "has a TLS certificate this client cannot accept",
  "not-tls": "does not speak TLS",
  "tls-needed": "speaks TLS",
  "not-kv": "is no kv server",
};

/**
 * The line for a server that asked a client holding a secret for none
 * ({@link ServerPool.openServerWarnings}, and the pool's log): what it means and what to do,
 * `server 127.0.0.1:8001 asked for no secret though this client has an auth file: …`.
 */
function openServerText(server: ServerAddress): string {
  return `server ${server.id} asked for no secret though this client has an auth file: it ` +
    "runs without --auth-file and serves anyone who reaches it; restart it with --auth-file " +
    "and the other servers' secrets";
}

/**
 * `refusal` after a server's id: what happened, that the server runs, and what is needed,
 * in words for the CLI and the library alike.
 *
 * @example
 * ```ts ignore
 * `127.0.0.1:8000 ${refusalText({ kind: "auth-failed", reason: "AUTH_FAILED: …" })}`;
 * // "127.0.0.1:8000 refused this client's credentials (AUTH_FAILED: …); the server is
 * // running: the client's secret (its auth file's first line) must be in the server's auth file"
 * ```
 */
function refusalText(refusal: CredentialsRefusal): string {
  if (refusal.kind === "version") return versionRefusalText(refusal.reason);
  const what = REFUSAL_WHAT[refusal.kind];
  // A web server at a kv server's address is no kv server running, and a TLS server may be
  // none either: the advice says what to fix.
  const running = refusalMayBeLine(refusal.kind) ? "" : "the server is running: ";
  return `${what} (${refusal.reason}); ${running}${REFUSAL_ADVICE[refusal.kind]}`;
}

/**
 * A kv server's refusal of this client's protocol version after the server's id, `reason`
 * its UNSUPPORTED_VERSION in its words: the versions of both, and which is the older to
 * upgrade when its words name its versions (any kv's so far do: spokenVersions). Restarting
 * cannot mend it, so it says the server runs.
 *
 * @example
 * ```ts ignore
 * versionRefusalText("UNSUPPORTED_VERSION: protocol version 9 is not supported; this server " +
 *   "speaks version 8 only: upgrade the older of the two");
 * // "speaks kv protocol version 9, not this client's 10 (UNSUPPORTED_VERSION: …); the server
 * // is running: upgrade the older of the two, here the server's kv"
 * ```
 */
function versionRefusalText(reason: string): string {
  const spoken = spokenVersions(reason);
  // A server speaking this client's version accepts its HELLO: such words are not understood.
  if (
    spoken === undefined ||
    (spoken.lowest <= PROTOCOL_VERSION && PROTOCOL_VERSION <= spoken.highest)
  ) {
    return `speaks another kv protocol version than this client's ${PROTOCOL_VERSION} ` +
      `(${reason}); the server is running: upgrade the older of the two`;
  }
  const versions = spoken.lowest === spoken.highest
    ? `version ${spoken.lowest}`
    : `versions ${spoken.lowest} to ${spoken.highest}`;
  const older = spoken.highest < PROTOCOL_VERSION ? "the server's kv" : "this client's kv";
  return `speaks kv protocol ${versions}, not this client's ${PROTOCOL_VERSION} (${reason}); ` +
    `the server is running: upgrade the older of the two, here ${older}`;
}

/**
 * No server could be used and at least one refused this client's credentials (an auth
 * file it lacks or does not hold the secret of), or had a certificate no CA the client was
 * given signed, or one expired or for another name, or spoke no TLS, or was a kv server of
 * another protocol version, or was no kv server (it answered in HTTP, or as another server):
 * reconnecting cannot help, the client must be given other credentials (or the server another
 * certificate, the older side a newer kv, or the server file another address).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const refused = pool.credentialsRefused();
 * if (refused !== undefined) console.error(refused.message);
 * // "127.0.0.1:8000 refused this client's credentials (AUTH_FAILED: authentication failed: …); …"
 * ```
 */
export class CredentialsRefusedError extends Error {
  /** The server that refused, as `host:port`. */
  readonly server: string;
  /** What was refused, and why. */
  readonly refusal: CredentialsRefusal;
  /** Where the server file lists the server (`servers.txt:3:1`), if it was read from one. */
  readonly where: string | undefined;

  /**
   * The error for `server` refusing the client's credentials.
   *
   * @param server the refusing server's id (`host:port`).
   * @param refusal what was refused, and why.
   * @param where where the server file lists it (`servers.txt:3:1`), if it was read from one:
   * the message leads with it when the line may be the fix, or names the server of another
   * kv version ({@link lineLead}).
   */
  constructor(server: string, refusal: CredentialsRefusal, where?: string) {
    super(`${lineLead(refusal, where)}${server} ${refusalText(refusal)}`);
    this.name = "CredentialsRefusedError";
    this.server = server;
    this.refusal = refusal;
    this.where = where;
  }
}

/**
 * The server's BUSY refusal (`BUSY: too many connections (limit 1); try again later`) when
 * a failed connection attempt met one: its ERROR closing the connection, the cause of the
 * cause of the attempt's ConnectionError (ServerClient.connect).
 */
function busyOf(error: unknown): string | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ServerError) {
      return cause.code === ErrorCode.BUSY ? cause.message : undefined;
    }
  }
  return undefined;
}

/**
 * Why a server that turned this client away with `busy` (its BUSY refusal) is not used,
 * and what to do, after its id and `is`.
 *
 * @example
 * ```ts ignore
 * busyText("BUSY: too many connections (limit 1); try again later");
 * // "running, but turned this client away (BUSY: …): it is at its connection limit …"
 * ```
 */
function busyText(busy: string): string {
  return `running, but turned this client away (${busy}): it is at its connection limit ` +
    "(kv server --max-connections) or memory budget (--max-buffered-bytes); raise it, or " +
    "end some of its clients";
}

/**
 * Why a failed connection attempt failed for the client's credentials or TLS, for a kv
 * server of another protocol version, or for another server than a kv server at the
 * address, if it did.
 */
function refusalOf(error: unknown): CredentialsRefusal | undefined {
  const stranger = notKvServer(error);
  if (stranger !== undefined) return { kind: "not-kv", reason: stranger.reason };
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof ServerError && cause.code === ErrorCode.AUTH_REQUIRED) {
    return { kind: "auth-required", reason: cause.message };
  }
  if (cause instanceof ServerError && cause.code === ErrorCode.AUTH_FAILED) {
    return { kind: "auth-failed", reason: cause.message };
  }
  // An older or newer kv server: it runs, and no reconnect changes either side's version.
  if (cause instanceof ServerError && cause.code === ErrorCode.UNSUPPORTED_VERSION) {
    return { kind: "version", reason: cause.message };
  }
  return tlsRefusal(error);
}

/**
 * Connections to a fixed list of servers, with failure detection and reconnection.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers, { timeoutMs: 200 });
 * await pool.start();
 * pool.upCount; // servers reachable now
 * pool.close();
 * ```
 */
export class ServerPool {
  readonly #servers: readonly ServerAddress[];
  readonly #slots: Slot[];
  readonly #timeoutMs: number;
  readonly #connect: Connector;
  readonly #log: LogFunction;
  readonly #credentials: Credentials;
  /** The fingerprint servers must be repaired under to be trusted; none until {@link trustUnder}. */
  #list: Uint8Array | undefined;
  /**
   * After {@link trustUnderRecordedK}: this list's fingerprint for each k a server records,
   * made when first needed; undefined otherwise.
   */
  #listByRecordedK: Map<number, Uint8Array> | undefined;
  /** This list's fingerprint for each k {@link markedUnderOldK} compared a mark with. */
  readonly #markFingerprints = new Map<number, Uint8Array>();
  /** The k of {@link trustUnder}; undefined until then. */
  #k: number | undefined;
  #closed = false;
  /** Set once {@link start}'s attempts have all ended. */
  #started = false;
  /** Aborted by {@link close}: ends the connection attempts under way. */
  readonly #closing = new AbortController();
  #changeWaiters: (() => void)[] = [];

  /**
   * A pool over `servers`, none connected yet: {@link ServerPool.start} connects.
   *
   * @param servers the servers, in server-file order; indexes into this list
   * name them everywhere else.
   * @param options see {@link ServerPoolOptions}.
   */
  constructor(servers: readonly ServerAddress[], options: ServerPoolOptions = {}) {
    invariant(servers.length > 0, "a pool needs at least one server");
    this.#servers = servers;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    invariant(
      this.#timeoutMs > 0 && this.#timeoutMs <= MAX_TIMEOUT_MS,
      `timeoutMs must be 1..${MAX_TIMEOUT_MS}`,
    );
    this.#connect = options.connect ?? connectServerClient;
    this.#log = options.log ?? (() => {});
    this.#credentials = options.credentials ?? {};
    this.#slots = servers.map(() => ({
      connection: undefined,
      lastError: "not connected yet",
      reconnectDelayMs: RECONNECT_INITIAL_DELAY_MS,
      reconnectTimer: undefined,
      connecting: false,
      twinOf: undefined,
      closedQuietly: false,
      lost: false,
      attempt: undefined,
      attemptedAt: -Infinity,
      reportedDown: false,
      refusal: undefined,
      saidOpen: false,
      busy: undefined,
      vouched: undefined,
      askingWrites: false,
    }));
  }

  /** The servers, in server-file order. */
  get servers(): readonly ServerAddress[] {
    return this.#servers;
  }

  /** The connect and request timeout, in ms. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /**
   * Connects to every server at once and resolves when each attempt has
   * succeeded or failed (at most about one timeout). Servers that failed are
   * retried in the background.
   *
   * @example
   * ```ts ignore
   * const pool = new ServerPool(await readServerList("serverFile.txt"));
   * await pool.start();
   * pool.upCount; // the servers that answered; the others keep being retried
   * ```
   */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((_, index) => this.#attempt(index)));
    this.#started = true;
  }

  /**
   * Whether server `index` currently has a live connection.
   *
   * @example
   * ```ts ignore
   * pool.isUp(0); // true while server 0 has a live connection
   * ```
   */
  isUp(index: number): boolean {
    return this.#liveConnection(index) !== undefined;
  }

  /**
   * Whether a request to server `index` is worth sending now: it is up, or its connection
   * closed quietly (an idle timeout, a restart) and {@link ServerPool.call} reconnects at
   * once. Writes and reads walking a preference list skip the others — and asking about
   * one that is down starts a reconnect now when none started in the last
   * {@link RECONNECT_ON_DEMAND_MS}, so a client busy with reads and writes uses a restarted
   * server again within about that long.
   *
   * @example
   * ```ts ignore
   * const positions = list.filter((index) => pool.isReachable(index)); // worth asking now
   * ```
   */
  isReachable(index: number): boolean {
    if (this.isUp(index)) return true;
    const slot = this.#slots[index];
    if (slot.closedQuietly) return true;
    this.#wanted(index);
    return false;
  }

  /**
   * Starts a reconnect of server `index` at once, for a read or write that found it down
   * ({@link ServerPool.isReachable}), unless one is under way, one started within
   * {@link RECONNECT_ON_DEMAND_MS}, or the server refused this client (asking again soon
   * cannot help: its backoff runs on). A failed attempt leaves its backoff where it was.
   */
  #wanted(index: number): void {
    const slot = this.#slots[index];
    if (this.#closed || slot.attempt !== undefined || slot.twinOf !== undefined) return;
    if (slot.refusal !== undefined || slot.busy !== undefined) return;
    if (performance.now() - slot.attemptedAt < RECONNECT_ON_DEMAND_MS) return;
    if (slot.reconnectTimer !== undefined) clearTimeout(slot.reconnectTimer);
    slot.reconnectTimer = undefined;
    this.#attempt(index);
  }

  /**
   * {@link ServerPool.isReachable} as a function made once, for the walk of every read
   * (a PreferenceWalk's `isUp`).
   *
   * @example
   * ```ts ignore
   * const walk = new PreferenceWalk(list, pool.reachable);
   * ```
   */
  readonly reachable = (index: number): boolean => this.isReachable(index);

  /**
   * Whether server `index` is down but was up until its connection was lost (it closed,
   * or a request timed out) and no attempt to reconnect has failed since: it may well be
   * back in a moment ({@link ServerPool.awaitReconnects}).
   *
   * @example
   * ```ts ignore
   * pool.isReconnecting(1); // true just after a request to server 1 timed out
   * ```
   */
  isReconnecting(index: number): boolean {
    return !this.isUp(index) && this.#slots[index].lost;
  }

  /**
   * Waits for the first reconnect of each of servers `indices` that
   * {@link ServerPool.isReconnecting}, started at once rather than after its backoff, for
   * at most {@link RECONNECT_WAIT_MS}. For a write that found fewer than k servers
   * reachable, which would otherwise fail: they may have been counted down only because
   * this process stalled.
   *
   * @example
   * ```ts ignore
   * await pool.awaitReconnects([0, 1]);
   * pool.isUp(0); // true if server 0 was reconnecting and took the connection
   * ```
   */
  async awaitReconnects(indices: Iterable<number>): Promise<void> {
    const waited = [...new Set(indices)].filter((index) => this.isReconnecting(index));
    if (waited.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => timer = setTimeout(resolve, RECONNECT_WAIT_MS));
    try {
      await Promise.race([Promise.all(waited.map((index) => this.reconnectNow(index))), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One warning ({@link openServerText}) for each server up now that asked this pool for no
   * proof of a secret although it holds one: each runs without `--auth-file` and serves
   * anyone who reaches it, which a client given an auth file cannot have meant (a server
   * started without its flag). Empty for a pool without a secret. Every one-shot client
   * command says them, as a running broker logs them.
   *
   * @example
   * ```ts ignore
   * for (const line of pool.openServerWarnings()) console.error(`kv get: ${line}`);
   * ```
   */
  openServerWarnings(): string[] {
    if (this.#credentials.auth === undefined) return [];
    return this.#servers.flatMap((server, index) =>
      this.#liveConnection(index)?.challenged === false ? [openServerText(server)] : []
    );
  }

  /** How many servers are up now. */
  get upCount(): number {
    let count = 0;
    for (let index = 0; index < this.#slots.length; index++) if (this.isUp(index)) count++;
    return count;
  }

  /**
   * Why server `index` is down (its last failure), or undefined while it is up.
   *
   * @example
   * ```ts ignore
   * pool.downReason(1); // e.g. "cannot connect to 127.0.0.1:8001: Connection refused"
   * ```
   */
  downReason(index: number): string | undefined {
    return this.isUp(index) ? undefined : this.#slots[index].lastError ?? "not connected";
  }

  /**
   * How server `index` refused this client's credentials (or this client its certificate)
   * when it last tried to connect, while it is not up; else undefined.
   *
   * @example
   * ```ts ignore
   * pool.refusal(1); // e.g. { kind: "auth-failed", reason: "AUTH_FAILED: …" }
   * ```
   */
  refusal(index: number): CredentialsRefusal | undefined {
    return this.isUp(index) ? undefined : this.#slots[index].refusal;
  }

  /**
   * Why server `index` cannot be used, after its id: `is down (why)`, or, when it refused
   * this client's credentials, that refusal and what the client needs (a server to fix
   * the client for, not to restart). For every message that names a server not used.
   *
   * @example
   * ```ts ignore
   * pool.downMessage(1); // "127.0.0.1:8001 is down (cannot connect to 127.0.0.1:8001: Connection refused)"
   * ```
   */
  downMessage(index: number): string {
    const id = this.#servers[index].id;
    const refusal = this.refusal(index);
    if (refusal !== undefined) return `${id} ${refusalText(refusal)}`;
    if (this.isBusy(index)) return `${id} is ${this.downReason(index)}`;
    return `${id} is down (${this.downReason(index) ?? "closed"})`;
  }

  /**
   * Whether server `index` is not up because it turned this client away with BUSY when it
   * last tried to connect: running at its connection limit (`kv server --max-connections`)
   * or memory budget. Its {@link downReason} says so and what to do.
   *
   * @example
   * ```ts ignore
   * pool.isBusy(0); // true while server 0 has no room for another connection
   * ```
   */
  isBusy(index: number): boolean {
    return !this.isUp(index) && this.#slots[index].busy !== undefined;
  }

  /**
   * When no server is up and at least one refused this client's credentials in its
   * HELLO (see {@link CredentialsRefusedError}), the first such; else undefined.
   *
   * @example
   * ```ts ignore
   * await pool.start();
   * const refused = pool.credentialsRefused();
   * if (refused !== undefined) throw refused;
   * ```
   */
  credentialsRefused(): CredentialsRefusedError | undefined {
    if (this.upCount > 0) return undefined;
    const index = this.#slots.findIndex((slot) => slot.refusal !== undefined);
    const refusal = this.#slots[index]?.refusal;
    return refusal === undefined
      ? undefined
      : new CredentialsRefusedError(this.#servers[index].id, refusal, this.#servers[index].where);
  }

  /**
   * Lines of the server file found to name a server already listed under another
   * address, as "`a` is the same server as `b`"; empty when every server is distinct
   * (as far as the servers reached so far tell).
   *
   * @example
   * ```ts ignore
   * // serverFile.txt lists "127.0.0.1 8000" and "10.0.0.5 8000": one process, two addresses
   * pool.twins(); // e.g. ["10.0.0.5:8000 is the same server as 127.0.0.1:8000"]
   * ```
   */
  twins(): string[] {
    return this.#slots.flatMap((_, index) => {
      const twin = this.twinOf(index);
      return twin === undefined
        ? []
        : [`${this.#servers[index].id} is the same server as ${this.#servers[twin].id}`];
    });
  }

  /**
   * The index of the server that server `index` was found to be under another address
   * (see {@link ServerPool.twins}), or undefined.
   *
   * @example
   * ```ts ignore
   * pool.twinOf(1); // 0 when lines 1 and 2 of the server file reach one process
   * ```
   */
  twinOf(index: number): number | undefined {
    return this.#slots[index].twinOf;
  }

  /**
   * Whether server `index` refuses writes (READ_ONLY: a full or failing disk), as the last
   * answer on its live connection that tells said ({@link ServerConnection.refusesWrites}):
   * a write's, or a STATS's ({@link askWrites}). False while it is down, and until such an
   * answer came on its connection (a new one after each reconnect). Asks nothing.
   *
   * @example
   * ```ts ignore
   * pool.refusesWrites(0); // true once a write to server 0 was answered READ_ONLY
   * ```
   */
  refusesWrites(index: number): boolean {
    return this.#liveConnection(index)?.refusesWrites === true;
  }

  /** How many servers are up and refuse writes ({@link refusesWrites}); asks nothing. */
  get refusingWritesCount(): number {
    let count = 0;
    for (let index = 0; index < this.#slots.length; index++) {
      if (this.refusesWrites(index)) count++;
    }
    return count;
  }

  /**
   * Asks STATS of every server up that is not being asked already, each answer telling
   * its connection whether the server refuses writes ({@link refusesWrites}): what a
   * server no write reached lately is known by. Never waits: a hung server's question
   * stays outstanding until it times out (`timeoutMs`, which marks it down), and it alone
   * is not asked again meanwhile.
   *
   * @example
   * ```ts ignore
   * pool.askWrites(); // on a timer: refusesWrites is then at most one period and a round trip old
   * ```
   */
  askWrites(): void {
    for (let index = 0; index < this.#slots.length; index++) {
      const slot = this.#slots[index];
      if (slot.askingWrites || !this.isUp(index)) continue;
      slot.askingWrites = true;
      this.call(index, askStats).then(() => slot.askingWrites = false);
    }
  }

  /**
   * Server `index`'s node state from its HELLO (a reconnect reads it again): whether it
   * may be missing acknowledged writes, the k it records and the list it was repaired
   * under; undefined while it is down. Whether this pool trusts it is {@link trusted}.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.state(0)?.unrepaired; // true for a memory-only server not yet repaired
   * ```
   */
  state(index: number): NodeState | undefined {
    return this.#liveConnection(index)?.state;
  }

  /**
   * Judges servers from now on under the placement of `k` replicas over this pool's
   * servers: a server is trusted (its NOT_FOUND proof of absence) only when it is
   * repaired under that list's fingerprint (lib/broker/list_fingerprint.ts). Until this
   * is called no server is trusted. A broker calls it once k is agreed.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.trustUnder(2);
   * pool.trusted(0); // true when server 0 was repaired under this list with k = 2
   * ```
   */
  trustUnder(k: number): void {
    this.#list = listFingerprint(this.#servers.map((server) => server.identity), k);
    this.#listByRecordedK = undefined;
    this.#k = k;
    // A vouch was for the k before: the marks it saw are another list's now.
    for (const slot of this.#slots) slot.vouched = undefined;
  }

  /**
   * The k servers are judged under ({@link trustUnder}), the one a repair over this pool
   * places keys with; undefined before trustUnder.
   */
  get k(): number | undefined {
    return this.#k;
  }

  /**
   * Judges each server from now on under this pool's servers with the k that server
   * records (none recorded: not trusted), for a status check over servers recording
   * different ks (`kv servers` in a k conflict): a server marked under this list with its
   * own k is shown as repaired, and only a real mismatch of the list (or of k with its own
   * mark) as repaired under another list. Never for a broker that reads or writes: its
   * placement has one k. {@link listFingerprint} is then undefined: nothing is marked.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.trustUnderRecordedK();
   * pool.trusted(0); // true when server 0 was repaired under this list with the k it records
   * ```
   */
  trustUnderRecordedK(): void {
    this.#list = undefined;
    this.#listByRecordedK = new Map();
    this.#k = undefined;
    for (const slot of this.#slots) slot.vouched = undefined;
  }

  /** The fingerprint a server in `state` must be repaired under to be trusted, if any. */
  #trustedList(state: NodeState): Uint8Array | undefined {
    if (this.#list !== undefined || this.#listByRecordedK === undefined || state.k < 1) {
      return this.#list;
    }
    let list = this.#listByRecordedK.get(state.k);
    if (list === undefined) {
      list = listFingerprint(this.#servers.map((server) => server.identity), state.k);
      this.#listByRecordedK.set(state.k, list);
    }
    return list;
  }

  /**
   * The k server `index` is marked repaired under with this pool's servers, when its mark
   * is this list's under another k than the pool's ({@link k}): `kv repair -k` changed k
   * since, and its repair marks every server under the new one only at its end. Undefined
   * when the server is down, unrepaired, marked under this pool's list and k, or under
   * another set of servers. Tells a k change from a list change, for what a warning or a
   * log asks the user to do.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.trustUnder(3);
   * pool.markedUnderOldK(0); // 2 while server 0's mark predates kv repair -k 3's
   * ```
   */
  markedUnderOldK(index: number): number | undefined {
    const state = this.state(index);
    if (state === undefined || state.unrepaired) return undefined;
    const identities = this.#servers.map((server) => server.identity);
    for (let k = 1; k <= this.#servers.length; k++) {
      let list = this.#markFingerprints.get(k);
      if (list === undefined) {
        list = listFingerprint(identities, k);
        this.#markFingerprints.set(k, list);
      }
      if (sameList(state.repairedUnder, list)) return k === this.#k ? undefined : k;
    }
    return undefined;
  }

  /**
   * Whether server `index` is marked {@link LIST_CHANGE_UNDER_WAY}: a `kv repair` that
   * changes the server list or k is re-marking it, or was stopped before its end. False
   * while it is down.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.markedChanging(0); // true while kv repair -s new-file runs
   * ```
   */
  markedChanging(index: number): boolean {
    const state = this.state(index);
    return state !== undefined && !state.unrepaired &&
      sameList(state.repairedUnder, LIST_CHANGE_UNDER_WAY);
  }

  /**
   * The fingerprint of the list servers are judged under ({@link trustUnder}): what a
   * repair made over this pool marks them with. Undefined before trustUnder.
   */
  get listFingerprint(): Uint8Array | undefined {
    return this.#list;
  }

  /**
   * Whether a server in `state` can be trusted: repaired, under this pool's list, and
   * recording its k (or none): a server that records another k has had its k changed by
   * `kv repair -k` since it was marked, so its mark does not cover this k's placement.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * const connection = await connectServerClient(servers[0], 1000);
   * pool.trusts(connection.state); // judged when a request goes out on connection
   * ```
   */
  trusts(state: NodeState): boolean {
    if (state.unrepaired) return false;
    const list = this.#trustedList(state);
    // Under one k: a server recording another had it changed by kv repair -k since marked.
    const sameK = this.#k === undefined || state.k === 0 || state.k === this.#k;
    return list !== undefined && sameList(state.repairedUnder, list) && sameK;
  }

  /**
   * Whether server `index` is trusted on `connection` (its live one): {@link trusts} of
   * its state, or vouched for by {@link recheck} while it records this pool's k.
   */
  #trustsOn(index: number, connection: ServerConnection): boolean {
    return this.trusts(connection.state) ||
      (this.#slots[index].vouched === connection && connection.state.k === this.#k);
  }

  /**
   * Whether server `index` is trusted now ({@link trusts} of its state, or vouched for by
   * {@link recheck}); undefined while it is down. What `false` means in full is
   * {@link distrustedFor}.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * if (pool.trusted(0) === false) console.log("its NOT FOUND proves nothing yet");
   * ```
   */
  trusted(index: number): boolean | undefined {
    const connection = this.#liveConnection(index);
    return connection === undefined ? undefined : this.#trustsOn(index, connection);
  }

  /**
   * Why server `index` is not trusted: `"unrepaired"` (it may have lost writes),
   * `"other list"` (repaired under another server list or k, so it may lack writes this
   * list places on it); undefined when it is trusted or down.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.distrustedFor(0); // "other list" for a server repaired for another cluster
   * ```
   */
  distrustedFor(index: number): "unrepaired" | "other list" | undefined {
    if (this.trusted(index) !== false) return undefined;
    return this.state(index)?.unrepaired ? "unrepaired" : "other list";
  }

  /**
   * Reads server `index`'s state again, in the HELLO of a connection of its own (closed
   * at once), and trusts its live connection from then on when that state says it is
   * repaired under this pool's list and k: a connection's own HELLO is read once, so a
   * broker that changed its k ({@link trustUnder}) would otherwise never trust a server
   * the repair that changed k marked under it. Only the process of the live connection
   * (same server id) is vouched for; a failure changes nothing. Resolves whether the
   * server is trusted now.
   *
   * @example
   * ```ts ignore
   * if (pool.distrustedFor(0) === "other list") await pool.recheck(0);
   * ```
   */
  async recheck(index: number): Promise<boolean> {
    const live = this.#liveConnection(index);
    if (live === undefined || this.#trustsOn(index, live)) return live !== undefined;
    const list = this.#list;
    let side: ServerConnection;
    try {
      side = await this.#connect(
        this.#servers[index],
        this.#timeoutMs,
        this.#credentials,
        this.#closing.signal,
      );
    } catch {
      return false;
    }
    try {
      // The mark was made before the side HELLO answered, so it precedes every request
      // sent on the live connection from now on; the list must not have changed meanwhile.
      const same = side.serverId === live.serverId && list === this.#list;
      if (same && this.trusts(side.state) && side.state.k === this.#k) {
        this.#slots[index].vouched = live;
      }
    } finally {
      await side.close();
    }
    return this.trusted(index) === true;
  }

  /**
   * Why an answer of server `index` sent while it was not trusted does not count, as a
   * read's warning says it: it may have lost writes, or it was repaired under another list.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const pool = new ServerPool(servers);
   * await pool.start();
   * pool.untrustedReason(0); // "127.0.0.1:8000 may have lost writes and is not yet repaired"
   * ```
   */
  untrustedReason(index: number): string {
    const id = this.#servers[index].id;
    return this.distrustedFor(index) === "other list"
      ? `${id} was repaired under another server list or k, not yet under this one`
      : `${id} may have lost writes and is not yet repaired`;
  }

  /**
   * Each server's state, in server-file order.
   *
   * @example
   * ```ts ignore
   * pool.status(); // [{ server: "127.0.0.1:8000", up: true }, { server: "127.0.0.1:8001", up: false, error: "…" }]
   * ```
   */
  status(): ServerState[] {
    return this.#servers.map((server, index) => {
      const error = this.downReason(index);
      return error === undefined ? { server, up: true } : { server, up: false, error };
    });
  }

  /**
   * The live connection to server `index`, or undefined when it is down. For
   * callers that issue many requests in one tick (the indexer) and report
   * failures with {@link ServerPool.fail}.
   *
   * @example
   * ```ts ignore
   * const connection = pool.connection(index);
   * if (connection !== undefined) {
   *   connection.putMany(items).catch((error) => pool.fail(index, connection, error));
   * }
   * ```
   */
  connection(index: number): ServerConnection | undefined {
    return this.#liveConnection(index);
  }

  /**
   * Runs `request` on server `index`. A server that is down gives
   * `{ ok: false, unreachable: true }` without waiting; a transport failure or
   * timeout marks the server down and gives the same; an error answered by the
   * server gives `{ ok: false, unreachable: false }`.
   *
   * @example
   * ```ts ignore
   * const outcome = await pool.call(0, (connection) => connection.get("person1"));
   * if (outcome.ok) outcome.value; // the server's answer
   * else if (outcome.unreachable) outcome.error; // down or timed out: try the next replica
   * ```
   */
  call<T>(
    index: number,
    request: (connection: ServerConnection) => Promise<T>,
  ): Promise<CallOutcome<T>> {
    return new Promise((resolve) =>
      this.send(index, (connection, settle) => settleFrom(request, connection, settle), resolve)
    );
  }

  /**
   * Like {@link ServerPool.call}, handing the outcome to `onOutcome`, with `tag` (default
   * 0), instead of settling a promise of its own, and with a `request` that settles what
   * it is given (`getEncodedTo`) rather than returning a promise: for a caller with
   * several requests in flight, as a read asking k replicas, which would otherwise make
   * promises, reactions and closures per request to learn which one answered.
   * `onOutcome` is called once, and never before `send` returns; it must not throw.
   *
   * @example
   * ```ts ignore
   * const onOutcome = (outcome: CallOutcome<EncodedRead>, replica: number) => {
   *   if (outcome.ok) answers[replica] = outcome.value;
   * };
   * const read: PoolRequest<EncodedRead> = (c, settle) => c.getEncodedTo(key, settle);
   * replicas.forEach((index, at) => pool.send(index, read, onOutcome, at));
   * ```
   */
  send<T>(
    index: number,
    request: PoolRequest<T>,
    onOutcome: (outcome: CallOutcome<T>, tag: number) => void,
    tag = 0,
  ): void {
    const connection = this.#liveConnection(index);
    // A connection the server closed while it sat idle (its idle timeout, a restart) is
    // replaced at once: the server is most likely fine. One that timed out is not: a
    // hung server would make every request wait out another connect.
    if (connection === undefined && this.#slots[index].closedQuietly) {
      this.#sendAfterReconnect(index, request, 1, onOutcome, tag);
      return;
    }
    this.#sendOn(index, connection, request, 1, onOutcome, tag);
  }

  /**
   * Attempt `attempt` of {@link ServerPool.send} on `connection` to server `index`
   * (none: the server is down). A connection that closed under the first attempt is
   * replaced and the request sent once more: every request is idempotent.
   */
  #sendOn<T>(
    index: number,
    connection: ServerConnection | undefined,
    request: PoolRequest<T>,
    attempt: number,
    onOutcome: (outcome: CallOutcome<T>, tag: number) => void,
    tag: number,
  ): void {
    if (connection === undefined) {
      const down: CallOutcome<T> = {
        ok: false,
        unreachable: true,
        error: this.downMessage(index),
      };
      queueMicrotask(() => onOutcome(down, tag));
      return;
    }
    // Judged now, at send time, on the connection used (see CallOutcome's `repaired`).
    const repaired = this.#trustsOn(index, connection);
    const failed = this.#failed;
    const sent = new Attempt(index, connection, request, attempt, onOutcome, tag, repaired, failed);
    try {
      request(connection, sent);
    } catch (error) {
      // Settled later, as a rejected promise would be: onOutcome never runs inside send.
      queueMicrotask(() => sent.reject(error));
    }
  }

  /** {@link ServerPool.send}'s attempt `attempt` once server `index` was reconnected. */
  async #sendAfterReconnect<T>(
    index: number,
    request: PoolRequest<T>,
    attempt: number,
    onOutcome: (outcome: CallOutcome<T>, tag: number) => void,
    tag: number,
  ): Promise<void> {
    await this.reconnectNow(index);
    this.#sendOn(index, this.#liveConnection(index), request, attempt, onOutcome, tag);
  }

  /**
   * After `sent` failed with `error`: the server is marked down unless it answered the
   * error itself; a first attempt cut off by a closed connection (not a timeout) is sent
   * once more on a fresh one, else the failure is the outcome. Made once, for every
   * {@link Attempt}.
   */
  readonly #failed = <T>(sent: Attempt<T>, error: unknown): void => {
    const { index, request, attempt, onOutcome, tag } = sent;
    const unreachable = this.fail(index, sent.connection, error);
    if (unreachable && attempt === 1 && !(error instanceof RequestTimeoutError)) {
      this.#sendAfterReconnect(index, request, attempt + 1, onOutcome, tag);
      return;
    }
    const code = error instanceof ServerError ? error.code : undefined;
    onOutcome({ ok: false, unreachable, error: this.#failureText(index, error), code }, tag);
  };

  /**
   * `error` as a read's or write's reason: led by the server's id, unless the message
   * names the server already (a connection's errors do: "request to 127.0.0.1:8000 got
   * no answer …"), which would then read "127.0.0.1:8000: request to 127.0.0.1:8000 …".
   */
  #failureText(index: number, error: unknown): string {
    const id = this.#servers[index].id;
    const message = describeError(error);
    return message.includes(id) ? message : `${id}: ${message}`;
  }

  /**
   * Records that a request on `connection` to server `index` failed with
   * `error`. Unless the server itself answered with an error, the server is
   * marked down (if `connection` is still its current one) and reconnection
   * starts. Returns whether the failure means the server is unreachable.
   *
   * @example
   * ```ts ignore
   * try {
   *   await connection.putMany(items);
   * } catch (error) {
   *   if (pool.fail(index, connection, error)) console.error(`${pool.servers[index].id} is down`);
   * }
   * ```
   */
  fail(index: number, connection: ServerConnection, error: unknown): boolean {
    // Only a failed or timed-out connection says the server is unreachable; a
    // ServerError is the server's own answer and a RangeError is a caller's mistake.
    if (!(error instanceof ConnectionError)) return false;
    const slot = this.#slots[index];
    if (slot.connection === connection) {
      // Closed under a request, as #liveConnection finds one closed between requests.
      slot.closedQuietly = !((connection.closeReason ?? error) instanceof RequestTimeoutError);
      this.#markDown(index, describeError(error));
    }
    return true;
  }

  /**
   * Tries to reconnect to server `index` now instead of at the end of its
   * backoff, for a caller that knows the server was just restarted (the
   * demo). Resolves once the attempt succeeded or failed; a server that is up
   * is left alone.
   *
   * @example
   * ```ts ignore
   * await server.restart(); // the demo restarted server 1
   * await pool.reconnectNow(1);
   * pool.isUp(1); // true, without waiting out the reconnect backoff
   * ```
   */
  async reconnectNow(index: number): Promise<void> {
    const slot = this.#slots[index];
    if (slot.reconnectTimer !== undefined) clearTimeout(slot.reconnectTimer);
    slot.reconnectTimer = undefined;
    slot.reconnectDelayMs = RECONNECT_INITIAL_DELAY_MS;
    await this.#attempt(index);
  }

  /**
   * Resolves at the next change of any server's state (up or down); for tests and tools.
   *
   * @example
   * ```ts ignore
   * while (pool.upCount < pool.servers.length) await pool.changed(); // with a deadline in a test
   * ```
   */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve));
  }

  /**
   * Closes every connection and stops reconnecting.
   *
   * @example
   * ```ts ignore
   * pool.close();
   * pool.upCount; // 0
   * ```
   */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
    for (const slot of this.#slots) {
      if (slot.reconnectTimer !== undefined) clearTimeout(slot.reconnectTimer);
      slot.reconnectTimer = undefined;
      // Detached first: the requests it fails may settle inside close(), and their failure
      // must not read as the server going down (`is down: … closed by the client`).
      const connection = slot.connection;
      slot.connection = undefined;
      connection?.close();
    }
    this.#notify();
  }

  #liveConnection(index: number): ServerConnection | undefined {
    const slot = this.#slots[index];
    const connection = slot.connection;
    if (connection !== undefined && !connection.isOpen) {
      slot.closedQuietly = !(connection.closeReason instanceof RequestTimeoutError);
      this.#markDown(index, "connection closed");
      return undefined;
    }
    return connection;
  }

  #markDown(index: number, reason: string): void {
    const slot = this.#slots[index];
    const connection = slot.connection;
    slot.connection = undefined;
    slot.lastError = reason;
    if (connection !== undefined) {
      slot.lost = true;
      connection.close();
      // Closed quietly, most likely on purpose (a repair changing its mark, an idle
      // timeout) or by a restart: said only once its reconnect fails (#connectSlot).
      if (!slot.closedQuietly) this.#reportDown(index, reason);
      this.#notify();
    }
    this.#scheduleReconnect(index);
  }

  /** Logs that server `index` is down, for `reason`, once until it is logged back up. */
  #reportDown(index: number, reason: string): void {
    const slot = this.#slots[index];
    if (slot.reportedDown) return;
    slot.reportedDown = true;
    this.#log(`server ${this.#servers[index].id} is down: ${reason}`, "warn");
  }

  #scheduleReconnect(index: number): void {
    const slot = this.#slots[index];
    if (this.#closed || slot.reconnectTimer !== undefined || slot.connecting) return;
    if (slot.twinOf !== undefined) return;
    const refused = slot.refusal !== undefined || slot.busy !== undefined;
    const cap = refused ? RECONNECT_REFUSED_MAX_DELAY_MS : RECONNECT_MAX_DELAY_MS;
    const delayMs = Math.min(slot.reconnectDelayMs, cap);
    slot.reconnectDelayMs = Math.min(delayMs * 2, cap);
    slot.reconnectTimer = setTimeout(() => {
      slot.reconnectTimer = undefined;
      this.#attempt(index);
    }, delayMs);
    // Retrying a down server in the background is no reason for the process to stay;
    // a request that waits for a reconnect holds its own timer (awaitReconnects).
    Deno.unrefTimer(slot.reconnectTimer);
  }

  /**
   * Connects to server `index` unless it is up or closed for good; a call while an
   * attempt is under way shares that attempt, so every caller waits for its outcome.
   */
  #attempt(index: number): Promise<void> {
    const slot = this.#slots[index];
    if (slot.attempt !== undefined) return slot.attempt;
    if (this.#closed || slot.connection !== undefined || slot.twinOf !== undefined) {
      return Promise.resolve();
    }
    slot.attemptedAt = performance.now();
    slot.attempt = this.#connectSlot(index).finally(() => slot.attempt = undefined);
    return slot.attempt;
  }

  async #connectSlot(index: number): Promise<void> {
    const slot = this.#slots[index];
    slot.connecting = true;
    // A quiet close stays worth a request while the reconnect is under way (requests wait
    // for it, ServerPool.send): a server that closed its connections on purpose (a repair
    // changed its mark, lib/server/server.ts) is not skipped by the writes meanwhile.
    try {
      const connection = await this.#connect(
        this.#servers[index],
        this.#timeoutMs,
        this.#credentials,
        this.#closing.signal,
      );
      slot.connecting = false;
      slot.lost = false;
      if (this.#closed) {
        connection.close();
        return;
      }
      if (this.#isTwin(index, connection)) return;
      // Back from a failure logged, or from failing since the pool started; not from a
      // quiet close taken again at once, which was never said.
      const wasDown = slot.reportedDown ||
        (slot.lastError !== "not connected yet" && !slot.closedQuietly);
      slot.connection = connection;
      slot.closedQuietly = false;
      slot.reportedDown = false;
      slot.lastError = undefined;
      slot.refusal = undefined;
      slot.busy = undefined;
      slot.reconnectDelayMs = RECONNECT_INITIAL_DELAY_MS;
      if (wasDown) this.#log(`server ${this.#servers[index].id} is back up`, "info");
      if (this.#credentials.auth !== undefined && !connection.challenged && !slot.saidOpen) {
        slot.saidOpen = true;
        this.#log(openServerText(this.#servers[index]), "warn");
      }
      this.#notify();
    } catch (error) {
      const wasLost = slot.lost;
      slot.connecting = false;
      slot.lost = false;
      slot.closedQuietly = false;
      slot.refusal = refusalOf(error);
      slot.busy = busyOf(error);
      slot.lastError = slot.refusal !== undefined
        ? refusalText(slot.refusal)
        : slot.busy !== undefined
        ? busyText(slot.busy)
        : describeError(error);
      // A quiet close whose reconnect failed: the server is down after all (unless the
      // attempt failed because this pool closed).
      if (wasLost && !this.#closed) this.#reportDown(index, slot.lastError);
      this.#scheduleReconnect(index);
    }
  }

  /**
   * Whether server `index`, just connected on `connection`, is a server already up under
   * another line of the list (the same id): then it is closed, and the slot stays down.
   */
  #isTwin(index: number, connection: ServerConnection): boolean {
    const twin = this.#slots.findIndex((other, otherIndex) =>
      otherIndex !== index && other.connection?.isOpen === true &&
      other.connection.serverId === connection.serverId
    );
    if (twin === -1) return false;
    // Two lines of the server file name one process: placing two replicas of a key there
    // would leave it one crash from loss. Stays down; the file must change.
    const slot = this.#slots[index];
    connection.close();
    slot.closedQuietly = false;
    slot.twinOf = twin;
    slot.lastError = `the same server as ${this.#servers[twin].id}, listed twice ` +
      `under two addresses`;
    // Found at the start, it is said by the client's own refusal (listedTwice), in one
    // line; a log line before it would make two.
    if (this.#started) {
      this.#log(`server ${this.#servers[index].id} is ${slot.lastError}; not used`, "warn");
    }
    return true;
  }

  #notify(): void {
    const waiters = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** {@link ServerPool.askWrites}' request: the answer matters only to the connection. */
function askStats(connection: ServerConnection): Promise<ServerStats> {
  return connection.stats();
}

/**
 * What a client says, in one line after its name, when `pool.twins()` (`twins`) found its
 * server list naming one server under two addresses: the list names the file it was read
 * from (`serverFile`), where there is one, and "the server list" where the servers were
 * given as addresses (the library's `connect`). Two replicas of a key on one process would
 * leave it one crash from loss, so the list must change.
 *
 * @example
 * ```ts
 * const twins = ["10.0.0.5:8000 is the same server as 127.0.0.1:8000"];
 * listedTwice("servers.txt", twins);
 * // "servers.txt lists one server twice (10.0.0.5:8000 is the same server as 127.0.0.1:8000); keep one line per server"
 * listedTwice(undefined, twins); // "the server list names one server twice (…); keep one entry per server"
 * ```
 */
export function listedTwice(serverFile: string | undefined, twins: readonly string[]): string {
  const which = `(${twins.join("; ")})`;
  return serverFile === undefined
    ? `the server list names one server twice ${which}; keep one entry per server`
    : `${serverFile} lists one server twice ${which}; keep one line per server`;
}

/**
 * What a client tells of `pool`'s servers once it has started ({@link ServerPool.start}):
 * each server it could not reach and why, then, when fewer than `k` answered, that answers
 * will carry warnings. `kv broker` logs them at start, and the library hands them to
 * connect's `log`, which otherwise first heard of a server down since the start when it came
 * "back up".
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const pool = new ServerPool([serverAddress("127.0.0.1", 8000)]);
 * await pool.start();
 * startLines(pool, 1);
 * // ["server 127.0.0.1:8000 is unreachable: cannot connect to 127.0.0.1:8000: Connection refused",
 * //  "only 0 of 1 servers are reachable (k=1); some answers will carry warnings"] with none running
 * pool.close();
 * ```
 */
export function startLines(pool: ServerPool, k: number): string[] {
  const down = pool.status().filter((state) => !state.up);
  const lines = down.map((state) => `server ${state.server.id} is unreachable: ${state.error}`);
  const upCount = pool.servers.length - down.length;
  if (upCount < k) {
    lines.push(
      `only ${upCount} of ${pool.servers.length} servers are reachable (k=${k}); ` +
        "some answers will carry warnings",
    );
  }
  return lines;
}

/**
 * Why servers `indices` of `pool` are not trusted when each is marked under its list with
 * the k before `kv repair -k` changed it ({@link ServerPool.markedUnderOldK}), for a
 * warning or log line after their names; {@link kChangeRepairMarks} says what ends it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * markedUnderOldKs(pool, [0, 1]);
 * // "marked repaired under k=2, not k=3, the k the servers record now (kv repair -k changed it):"
 * ```
 */
export function markedUnderOldKs(pool: ServerPool, indices: readonly number[]): string {
  const old = new Set(indices.map((index) => pool.markedUnderOldK(index)));
  invariant(!old.has(undefined) && pool.k !== undefined, "servers marked under an old k");
  return `marked repaired under k=${[...old].join(", k=")}, not k=${pool.k}, the k the ` +
    "servers record now (kv repair -k changed it):";
}

/**
 * What ends the distrust of {@link markedUnderOldKs}'s `count` servers: the repair of the
 * change marks every server at its end, and one more repair does if it was stopped.
 *
 * @example
 * ```ts
 * kChangeRepairMarks(2); // "the kv repair -k that changed k marks them at its end (…)"
 * ```
 */
export function kChangeRepairMarks(count: number): string {
  return `the kv repair -k that changed k marks ${count === 1 ? "it" : "them"} at its end ` +
    "(if it was stopped, run kv repair -s FILE)";
}

/**
 * Why `count` servers marked {@link LIST_CHANGE_UNDER_WAY} ({@link ServerPool.markedChanging})
 * are not trusted and what ends it, for a warning or log line after their names and
 * `which was` (or `were`).
 *
 * @example
 * ```ts
 * beingRemarked(2); // "being re-marked by a kv repair (one that changes the server list or k, …"
 * ```
 */
export function beingRemarked(count: number): string {
  const them = count === 1 ? "it" : "them";
  return "being re-marked by a kv repair (one that changes the server list or k, or refills a " +
    "server that may have lost writes; under way, or stopped before its end): until it marks " +
    `${them} under its list, at its end, reads through ` +
    `${them} carry warnings and clients on another list may not see what is stored there; if ` +
    "it was stopped, run kv repair -s FILE with the cluster's server list";
}
