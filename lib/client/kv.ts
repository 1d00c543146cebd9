/**
 * The client library: {@link connect} opens a {@link Kv}, a handle on a kv
 * cluster with Deno-KV-shaped answers. It sits on the broker's replication
 * (lib/broker/broker.ts), so an application gets the same guarantees as the
 * REPL: reads answered while up to k−1 servers are down, writes refused before
 * changing anything when a replica is unreachable.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt", replicas: 2 });
 * await kv.put("person1", { name: "Mary", age: 22 });
 * const entry = await kv.get("person1"); // { key: "person1", value: { name: "Mary", age: 22 }, version: "0193813bcc0000000000002a" }
 * ```
 * @module
 */
import { type Broker, WRITE_RULES, type WriteRule } from "../broker/broker.ts";
import { type Credentials, CredentialsError, resolveCredentials } from "../protocol/credentials.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from "../broker/server_pool.ts";
import {
  readServerList,
  resolveServers,
  type ServerAddress,
  serverAddress,
  ServerFileError,
  ServerLookupError,
} from "../broker/server_list.ts";
import { DecodeError } from "../base/bytes.ts";
import { shellFlag } from "../base/shell_word.ts";
import { ByteSlab } from "../base/byte_slab.ts";
import type { LogFunction } from "../base/logger.ts";
import { abortedError, inProgramWords, KvInputError, KvUnavailableError } from "./errors.ts";
import {
  checkName,
  decodePlainValue,
  type Float,
  type FloatReading,
  fromValue,
  type KvStorable,
  type KvValue,
  toValue,
} from "./values.ts";
import type { Value } from "../record/value.ts";
import { checkFilePath, checkOptions, describeArgument } from "./arguments.ts";
import { checkInteger, checkKeysPage, KvCore, LIST_PAGE_SIZE, parsePath } from "./core.ts";
import { Admission } from "./admission.ts";

export { MAX_TIMEOUT_MS } from "../broker/server_pool.ts";

export { LIST_PAGE_SIZE, MAX_KEYS_PAGE } from "./core.ts";

/**
 * Most calls (`get`, `getBytes`, `query`, `put`, `delete`, `keys`, and the reads of `list`) one
 * {@link Kv} has under way in the cluster at once: later calls wait in the library, in the
 * order they were made, and start as earlier ones end, their request timeout starting when they
 * are sent. So `await Promise.all(rows.map((row) => kv.put(row.key, row)))` over 100 000 rows
 * works, as it does with ioredis; started all at once, their state made the client collect
 * garbage for seconds, the servers' answers went unread past the timeout, and the puts failed
 * as if the servers were down (lib/client/admission.ts). As many as a connection carries at
 * once, and as `kv bench --pipeline` allows a client.
 *
 * @example
 * ```ts
 * import { connect, MAX_CALLS_IN_FLIGHT } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * const rows = Array.from({ length: 3 * MAX_CALLS_IN_FLIGHT }, (_, id) => ({ id }));
 * await Promise.all(rows.map((row) => kv.put(`row${row.id}`, row))); // 4096 under way at a time
 * ```
 */
export const MAX_CALLS_IN_FLIGHT = 4096;

/**
 * One server as {@link ConnectOptions.servers} takes it.
 *
 * @example
 * ```ts
 * const server: ServerEndpoint = { hostname: "127.0.0.1", port: 8000 };
 * ```
 */
export interface ServerEndpoint {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port, 1–65535. */
  port: number;
}

/**
 * Options for {@link connect}.
 *
 * @example
 * ```ts
 * const options: ConnectOptions = { servers: [{ hostname: "127.0.0.1", port: 8000 }] };
 * ```
 */
export interface ConnectOptions {
  /**
   * The servers: the path of a server file (`IP PORT` or `HOST:PORT` per line,
   * as `kv broker -s` reads) or a list of endpoints. Every client of one cluster
   * must be given the same servers (in any order): placement depends on them.
   */
  servers: string | readonly ServerEndpoint[];
  /**
   * Replication factor k, 1 to the number of servers. Default: the k the servers record;
   * on a new cluster (every server reachable, none recording one) 1, then recorded; a
   * KvInputError while no reachable server records one and some are unreachable (they may),
   * and a KvNoServerReachableError while none is reachable at all.
   * A k other than the one the servers record is a KvInputError: changing it is
   * `kv repair -k N`. Servers that all lost their data (memory-only, restarted) look new,
   * and the default then silently replaces the k they forgot: give it for such a cluster.
   */
  replicas?: number;
  /** Connect and request timeout per server, in ms, 1 to {@link MAX_TIMEOUT_MS}; default 1000. */
  timeoutMs?: number;
  /**
   * Which servers writes go to: `"sloppy"` (default), the first k reachable servers of
   * the key's preference list, so writes go on with up to k − 1 servers down;
   * `"strict"`, the key's own k servers only, refused when one is down.
   */
  writes?: "sloppy" | "strict";
  /** How floats read back (see {@link FloatReading}); default `"number"`. */
  floats?: FloatReading;
  /**
   * Auth file for servers that require authentication (`kv server --auth-file`): its
   * first secret answers their challenge. Default none. A bad file throws a KvInputError.
   */
  authFile?: string;
  /**
   * PEM file of the CA that signed the servers' TLS certificates: connect with TLS and
   * verify them (and their host names). Default plain TCP. A bad file throws a
   * KvInputError, and so does, when no server could be used, a CA that signed none of the
   * certificates of the servers reached, a certificate expired or for another name, or a
   * server without TLS.
   */
  tlsCa?: string;
  /**
   * Receives each line the connection has to tell, as `kv broker` logs them, with its level:
   * `"warn"` for trouble (a server down or not trusted, writes refused, servers recording
   * another k, a background repair held or failed), `"info"` for news (a server back up or
   * trusted again, the cluster's k it now follows after `kv repair -k` changed it, the
   * default k it fixed on a new cluster, what its background repair did). Default: none,
   * silent. A throw of its own is reported as uncaught (`reportError`: it ends the program
   * unless globalThis's "error" event is handled), never passed on.
   *
   * @example
   * ```ts
   * await using kv = await connect({
   *   servers: "serverFile.txt",
   *   log: (line, level) => console.error(`my app ${level}: ${line}`),
   * });
   * ```
   */
  log?: LogFunction;
}

/**
 * One record or sub-value, shaped like Deno KV's entries. `T` is the value's type as the
 * reader declared it ({@link Kv.get}`<T>`), `KvValue` by default: unchecked, as Deno KV's is.
 *
 * @example
 * ```ts
 * const entry: KvEntry = { key: "person1", value: null, version: null }; // not found
 * interface Person { name: string; age?: number }
 * const found: KvEntry<Person> = {
 *   key: "person1",
 *   value: { name: "Mary" },
 *   version: "0193813bcc0000000000002a",
 * };
 * ```
 */
export interface KvEntry<T = KvValue> {
  /** The record key. */
  key: string;
  /** The value, or `null` when there is no such record (or field). */
  value: T | null;
  /**
   * The version of the record read (the newest among its replicas): 24 hex digits, a
   * fixed-width text that sorts in version order like Deno KV's `versionstamp`, so a
   * later write of the key has a greater version. `null` when there is no such record
   * (or field), as Deno KV's is.
   */
  version: string | null;
  /**
   * Set when the answer is not guaranteed (too many servers down or not yet repaired): a
   * `null` value may hide a record, a value found may have a newer version. A read that
   * none of the key's replicas answered is no entry: {@link Kv.get} throws a
   * KvUnavailableError.
   */
  warning?: string;
}

/**
 * One record from {@link Kv.list}: a {@link KvEntry} of a record that exists, so its `value`
 * and `version` are never `null` (a record deleted while listing is skipped), as Deno KV's list
 * entries are; `T` as {@link KvEntry}'s. As a `KvEntry`, every listed value read `T | null`, and
 * each caller wrote `value!` or `value?.name` for a `null` that never comes.
 *
 * @example
 * ```ts
 * interface Person { name: string }
 * const listed: KvListEntry<Person> = {
 *   key: "person1",
 *   value: { name: "Mary" },
 *   version: "0193813bcc0000000000002a",
 * };
 * listed.value.name; // "Mary": no `?.`
 * ```
 */
export interface KvListEntry<T = KvValue> extends KvEntry<T> {
  /** The record's value. */
  value: T;
  /** The version of the record read, as {@link KvEntry.version}. */
  version: string;
}

/**
 * The answer to {@link Kv.getBytes}: a {@link KvEntry} whose value is still in kv's
 * binary encoding (lib/record/value_codec.ts, what the servers store and send).
 *
 * @example
 * ```ts
 * const entry: KvBytesEntry = { key: "person1", value: null, version: null }; // not found
 * ```
 */
export interface KvBytesEntry {
  /** The record key. */
  key: string;
  /**
   * The value's encoding, copied out of the connection's buffer, not yet read or
   * checked: {@link Kv.decode} makes it the value {@link Kv.get} answers. `null` when
   * there is no such record. A value of up to 4 KiB shares an 8 KiB block with other
   * values (as Node's pooled `Buffer`s do: `value.byteOffset` need not be 0, and a value
   * kept keeps its block alive); a longer one has an array buffer of its own. Copy it
   * (`value.slice()`) before transferring its buffer, which would empty the other values
   * of its block, never the library's own.
   */
  value: Uint8Array | null;
  /** As {@link KvEntry.version}. */
  version: string | null;
  /** As {@link KvEntry.warning}. */
  warning?: string;
}

/**
 * The answer to {@link Kv.query}: a {@link KvEntry} with the path walked; `T` as
 * {@link KvEntry}'s.
 *
 * @example
 * ```ts
 * const answer: KvQueryEntry = {
 *   key: "person1",
 *   path: ["person1", "age"],
 *   value: 22,
 *   version: "0193813bcc0000000000002a",
 * };
 * ```
 */
export interface KvQueryEntry<T = KvValue> extends KvEntry<T> {
  /** The record key, then the field names. */
  path: string[];
  /**
   * When `value` is `null`: why, from the replica answer the read reports (the newest
   * version), so that a caller tells a mistyped field from a missing record; unset when
   * found. See {@link KvQueryMissing}.
   */
  missing?: KvQueryMissing;
}

/**
 * Why {@link Kv.query} found no value: no record under the key (`no-record`: none, or
 * deleted; with a `warning`, the servers that answered cannot vouch for it); no field
 * named by `path`'s last name in the object at the names before it (`no-field`, with
 * `closest`, that object's field nearest the name, when one is a typo or a letter case
 * away); or the path ran into a string or number, `value`, at `path` (`not-object`).
 *
 * @example
 * ```ts
 * // { "name" : "Mary" ; "address" : { "street" : "Main" } } under person1:
 * const typo: KvQueryMissing = {
 *   reason: "no-field",
 *   path: ["person1", "address", "stret"], // kv.query("person1.address.stret.number")
 *   closest: "street",
 * };
 * const scalar: KvQueryMissing = {
 *   reason: "not-object",
 *   path: ["person1", "name"], // kv.query("person1.name.first")
 *   value: "Mary",
 * };
 * ```
 */
export type KvQueryMissing =
  | { readonly reason: "no-record" }
  | { readonly reason: "no-field"; readonly path: string[]; readonly closest?: string }
  | {
    readonly reason: "not-object";
    readonly path: string[];
    readonly value: string | number | Float;
  };

/**
 * The answer to {@link Kv.put}.
 *
 * @example
 * ```ts
 * const result: KvPutResult = { key: "person1", version: "0193813bcc0000010000002a" };
 * ```
 */
export interface KvPutResult {
  /** The key stored. */
  key: string;
  /**
   * The version written on every replica, as {@link KvEntry.version}: 24 hex digits
   * that sort in version order like Deno KV's `versionstamp`.
   */
  version: string;
  /**
   * Set when servers that stored it are marked repaired under another server list or k
   * than this client's: clients on that list may not see the write until `kv repair -s`
   * over the cluster's list (README, "kv repair"); or when it was stored beyond the first
   * 2k − 1 servers of its key's list (k or more of them down or refusing it): once they
   * answer again, reads may miss it until hinted handoff or `kv repair` moves it home
   * (README, "Where a key lives"); or when the servers that answered cannot vouch for
   * every write made before it (k or more down or not yet repaired, as
   * {@link KvEntry.warning}): one of them may hold a write with a later version (its
   * writer's clock ahead), which wins over this one once they answer. The write is
   * stored all the same.
   */
  warning?: string;
}

/**
 * The answer to {@link Kv.delete}.
 *
 * @example
 * ```ts
 * const result: KvDeleteResult = {
 *   key: "person1",
 *   deleted: true,
 *   version: "0193813bcc0500000000000a",
 * };
 * ```
 */
export interface KvDeleteResult {
  /** The key removed. */
  key: string;
  /**
   * Whether there was such a record: the newest version the deletion replaced on the
   * servers that answered was a record's, not an earlier deletion's tombstone (a replica
   * that missed that deletion still holds the older record; README, after the broker's
   * commands).
   */
  deleted: boolean;
  /**
   * The version of the tombstone written on every replica, as {@link KvEntry.version}:
   * a write that sorts after it replaces it.
   */
  version: string;
  /**
   * Set when the servers that answered cannot vouch for every write made before it (too
   * many down or not yet repaired, as {@link KvEntry.warning}): when `deleted` is false
   * the record may have existed, and either way one of them may hold a write with a later
   * version, which wins over the deletion once they answer; when `deleted` is false because
   * a server's answer was lost with its connection (sent again, the deletion found itself
   * stored there); or when the tombstone was
   * stored beyond the first 2k − 1 servers of its key's list, as
   * {@link KvPutResult.warning} says. The tombstone is written all the same.
   */
  warning?: string;
}

/**
 * Options every call of a {@link Kv} that reaches the cluster takes: `get`, `getBytes`,
 * `query`, `put`, `delete`, and `keys` and `list` in {@link KvListOptions}.
 *
 * @example
 * ```ts
 * const options: KvCallOptions = { signal: AbortSignal.timeout(500) };
 * ```
 */
export interface KvCallOptions {
  /**
   * Gives up on the call when it aborts, as `fetch`'s `signal` does; default none (the call
   * ends with its answer, or fails once its servers' requests time out, `connect`'s
   * `timeoutMs`). `AbortSignal.timeout(ms)` is a deadline for the whole call, its wait for
   * its turn ({@link MAX_CALLS_IN_FLIGHT}) included. The call rejects with a
   * {@link KvAbortedError} naming it and its key, whose `cause` is the signal's reason:
   *
   * - already aborted, or aborted while the call waits its turn: nothing is sent, nothing
   *   changed (`underWay` false);
   * - aborted while under way: the call rejects at once and its answers, when they come, are
   *   dropped (`underWay` true); a `put` or `delete` may still be applied on some or all of
   *   its replicas, or none, as a write that timed out may: a later read tells. Its requests
   *   keep their place among the calls under way until the servers answer or `timeoutMs`
   *   passes (kv's protocol has no way to call a request back).
   *
   * The call's listener on the signal is removed as the call settles, so one long-lived
   * signal (a request's, a shutdown's) serves any number of calls. A caller's mistake (a bad
   * key, path, prefix or limit) is a {@link KvInputError} whatever the signal, aborted
   * already or not: it is checked before the signal is looked at.
   *
   * @example
   * ```ts
   * import { KvAbortedError } from "./errors.ts";
   * await using kv = await connect({ servers: "serverFile.txt" });
   * try {
   *   await kv.put("person1", { age: 22 }, { signal: AbortSignal.timeout(200) });
   * } catch (error) {
   *   if (!(error instanceof KvAbortedError)) throw error;
   *   // "put of 'person1' timed out (its signal's deadline passed) while under way: …"
   *   if (error.underWay) console.log("may be stored: read it to know");
   * }
   * ```
   */
  signal?: AbortSignal;
}

/**
 * What {@link Kv.keys} and {@link Kv.list} select, and their `signal` ({@link KvCallOptions}).
 *
 * @example
 * ```ts
 * const selector: KvListOptions = { prefix: "person", limit: 10, after: "person1" };
 * ```
 */
export interface KvListOptions extends KvCallOptions {
  /** Only keys starting with this; default `""` (all keys). */
  prefix?: string;
  /**
   * Most keys: for {@link Kv.keys} one page, 1 to 10 000, default 100; for
   * {@link Kv.list} in all, default unlimited.
   */
  limit?: number;
  /** Only keys after this one in byte order (a page's last key); default from the start. */
  after?: string;
}

/**
 * One page of keys from {@link Kv.keys}.
 *
 * @example
 * ```ts
 * const page: KvKeysPage = { keys: ["person1", "person2"], more: true };
 * ```
 */
export interface KvKeysPage {
  /** Keys in byte order. */
  keys: string[];
  /** Whether more keys match: ask again with `after` set to the last key. */
  more: boolean;
  /**
   * Set when k or more servers did not answer or are not yet repaired: keys held only by
   * them may be missing.
   */
  warning?: string;
}

/**
 * One server's state from {@link Kv.servers}.
 *
 * @example
 * ```ts
 * const status: KvServerStatus = {
 *   server: "127.0.0.1:8000",
 *   up: true,
 *   records: 12,
 *   latencyMs: 0.2,
 *   repaired: true,
 *   repairedUnderOtherList: false,
 *   beingRemarked: false,
 *   readOnly: false,
 *   hints: 0,
 * };
 * ```
 */
export interface KvServerStatus {
  /** The server's `host:port`. */
  server: string;
  /** Whether it answered. */
  up: boolean;
  /** Records it holds, when up. */
  records?: number;
  /** PING round trip in ms (two decimals), when up. */
  latencyMs?: number;
  /** Why it is down, when down. */
  error?: string;
  /**
   * Set (when down) if it is running but refused this client's credentials (`authFile`),
   * or had a certificate no `tlsCa` CA signed, or an expired one (or one for another
   * name), or spoke no TLS to a `tlsCa` client, or TLS to a client without `tlsCa`, or is
   * a kv server of another protocol version (an older or newer kv), or is no kv server (it
   * answered in HTTP, or as SSH or Redis: a wrong address in `servers`): fix the credentials,
   * the certificate or the address, or upgrade the older kv; restarting the server as it is
   * will not help.
   */
  refused?: true;
  /**
   * Set (when down) if it is running but turned this client away with BUSY: at its
   * `--max-connections` (or memory budget); it needs room, not restarting.
   */
  busy?: true;
  /**
   * When up: false while it may lack writes it once acknowledged (restarted memory-only,
   * a new or emptied data dir), until repair marks it repaired, or while
   * `repairedUnderOtherList`.
   */
  repaired?: boolean;
  /**
   * When up: true if it was marked repaired under another server list (or k) than this
   * client's — listed beside another cluster's servers, or before a list change — so it
   * may lack every write this list places on it and is not trusted until `kv repair -s
   * FILE` over this client's list marks it.
   */
  repairedUnderOtherList?: boolean;
  /**
   * When up: true while a `kv repair` that changes the server list or k, or refills this
   * server, has marked it as being re-marked and not yet under its list (under way, or
   * stopped before its end: then run `kv repair -s FILE` with the cluster's server list).
   */
  beingRemarked?: boolean;
  /**
   * When up: true while it refuses every write with READ_ONLY — its data dir cannot be
   * written (disk full, read-only or failing), or it was out of the cluster too long — and
   * serves reads. A full disk ends by itself once space is freed; writes whose replicas
   * include it fail (k = 1) or are stored elsewhere with a warning meanwhile.
   */
  readOnly?: boolean;
  /**
   * When up: the cluster's k as this server records it, 0 when it records none (see
   * README, "The cluster's k"): during a k conflict, which servers record which.
   */
  k?: number;
  /** Partitions whose hinted copies, written elsewhere while it was down, wait to move to it. */
  hints: number;
}

/**
 * Bytes of each block {@link Kv.getBytes} copies values into: a caller keeping a value
 * keeps at most this much memory alive for it (Node's `Buffer` pool is as large).
 */
export const GET_BYTES_BLOCK_BYTES = 8 * 1024;

/** Values longer than this get an array buffer of their own from {@link Kv.getBytes}. */
export const MAX_BLOCK_VALUE_BYTES = GET_BYTES_BLOCK_BYTES / 2;

/**
 * Where {@link Kv.getBytes} copies short values: blocks of their own, never the slab the
 * connections copy answers into, so that a caller transferring a value's buffer empties
 * only other values of its block, never an answer the library still reads.
 */
const GET_BYTES_BLOCKS = new ByteSlab(GET_BYTES_BLOCK_BYTES);

/**
 * A found value's bytes copied out of the connection's copy of its read, which the
 * answers of that read share and a kept value would keep alive whole. A short value goes
 * into a block shared with other values (GET_BYTES_BLOCKS) rather than an array buffer
 * of its own: an array buffer per value was about a third of `kv bench --values bytes`'s
 * CPU at 32 GETs in flight (V8 allocates, zeroes and later frees each).
 */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const size = bytes.length;
  if (size > MAX_BLOCK_VALUE_BYTES) return bytes.slice();
  const at = GET_BYTES_BLOCKS.copy(bytes, 0, size);
  return GET_BYTES_BLOCKS.bytes.subarray(at, at + size);
}

/** `key` (or a query's path) quoted in an aborted call's message, as kv's refusals quote it. */
function quoted(key: unknown): string {
  return typeof key === "string" ? `'${key}'` : describeArgument(key);
}

/** Whether `path` is an array of strings, a key path a query's message may join. */
function isStrings(path: unknown): path is readonly string[] {
  return Array.isArray(path) && path.every((part) => typeof part === "string");
}

/** ` (prefix 'person')` for an aborted `keys` or `list` call's message, or "" for none. */
function prefixed(prefix: unknown): string {
  return prefix === undefined || prefix === "" ? "" : ` (prefix ${quoted(prefix)})`;
}

/** Throws a KvInputError unless `signal` is an AbortSignal or absent. */
function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return;
  throw new KvInputError(`signal must be an AbortSignal, got ${describeArgument(signal)}`);
}

/** The options {@link Kv.keys} and {@link Kv.list} take: another is a misspelling. */
const LIST_OPTIONS: readonly (keyof KvListOptions)[] = ["prefix", "limit", "after", "signal"];

/** The options the other calls take ({@link KvCallOptions}): another is a misspelling. */
const CALL_OPTIONS: readonly (keyof KvCallOptions)[] = ["signal"];

/** The options {@link connect} takes: another is a misspelling, which would take a default. */
const CONNECT_OPTIONS: readonly (keyof ConnectOptions)[] = [
  "servers",
  "replicas",
  "timeoutMs",
  "writes",
  "floats",
  "authFile",
  "tlsCa",
  "log",
];

/** Each Kv's core, for {@link coreOf}: kept out of the class's public surface. */
const CORES = new WeakMap<Kv, KvCore>();

/** Makes a Kv with its private constructor; set by the class's static block. */
let makeKv: (core: KvCore, floats: FloatReading) => Kv;

/**
 * A handle on a kv cluster; make one with {@link connect}. Reads and writes
 * go to each key's k replicas. Every method throws a KvInputError for the
 * caller's mistake and a KvUnavailableError when the cluster cannot answer; every call
 * that reaches the cluster takes a `signal` ({@link KvCallOptions}), and one that aborts it
 * rejects with a KvAbortedError.
 *
 * @example
 * ```ts
 * await using kv = await connect({ servers: "serverFile.txt", replicas: 2 });
 * for await (const entry of kv.list({ prefix: "person" })) console.log(entry.key, entry.value);
 * ```
 */
export class Kv implements AsyncDisposable {
  readonly #core: KvCore;
  /** Calls under way, at most MAX_CALLS_IN_FLIGHT; later ones wait their turn. */
  readonly #admission = new Admission(MAX_CALLS_IN_FLIGHT);
  /** A value's bytes as plain JavaScript, floats read as connect() was told. */
  readonly #decode: (bytes: Uint8Array) => KvValue;
  /** A scalar a query ran into ({@link KvQueryMissing}), read as #decode reads one. */
  readonly #leaf: (value: Value) => string | number | Float;

  static {
    // connectWithRepairCommand's way to the private constructor; the class's public
    // surface has none.
    makeKv = (core, floats) => new Kv(core, floats);
  }

  /** Use {@link connect}. */
  private constructor(core: KvCore, floats: FloatReading) {
    this.#core = core;
    this.#decode = (bytes) => decodePlainValue(bytes, floats);
    this.#leaf = (value) => fromValue(value, floats) as string | number | Float;
    CORES.set(this, core);
  }

  /**
   * The record stored under `key`; `value` is `null` when there is none — or, with a
   * `warning`, when the servers that answered cannot vouch for that (k or more down or
   * unrepaired): the record may exist. When none of the key's k replicas answered (or none
   * that can be trusted) and no other server held a copy, the read learned nothing and
   * throws a KvUnavailableError naming each replica and why, as a write in the same outage
   * does: an outage never reads as "not found".
   *
   * `T` is the type the caller says the value has, `KvValue` by default: an unchecked cast, as
   * Deno KV's `get<T>` is. Nothing checks the stored value has that shape (another program
   * may have written the key), and a {@link Float} field reads back as a plain number unless
   * connect() was given `floats: "tagged"`.
   *
   * `options.signal` gives up on the read when it aborts: a KvAbortedError
   * ({@link KvCallOptions.signal}).
   *
   * @example
   * ```ts
   * import { KvUnavailableError } from "./errors.ts";
   * await using kv = await connect({ servers: "serverFile.txt" });
   * try {
   *   const { value, warning } = await kv.get("person1");
   *   if (value === null && warning !== undefined) console.log("may exist:", warning);
   * } catch (error) {
   *   if (!(error instanceof KvUnavailableError)) throw error;
   *   console.log("no replica answered, retry later:", error.message);
   * }
   * interface Person { name: string; age?: number }
   * const { value: person } = await kv.get<Person>("person1"); // Person | null, unchecked
   * // At most 500 ms, its wait for its turn included; then a KvAbortedError naming it.
   * await kv.get("person1", { signal: AbortSignal.timeout(500) });
   * ```
   */
  get<T = KvValue>(key: string, options?: KvCallOptions): Promise<NoInfer<KvEntry<T>>> {
    // NoInfer: `T` is the type argument or KvValue, never inferred from where the answer goes
    // (`const read: KvEntry | KvBytesEntry = await kv.get(key)` made it KvValue | Uint8Array),
    // so a read without one types as reads did before they took one; so query, list, decode.
    // The core's promise itself: no async wrapper and its extra promise per read.
    const decode = this.#decode as (bytes: Uint8Array) => T;
    const read = () => this.#core.getDecoded(key, decode);
    const check = () => checkName(key, "key");
    return this.#run(read, "get", options, () => `get of ${quoted(key)}`, { check });
  }

  /**
   * Like {@link Kv.get}, with the value left in its encoded bytes: for a caller that
   * passes values on, stores them, or reads only some of them, and so need not pay for
   * making every value's objects (most of a read's work in the client);
   * {@link Kv.decode} makes them the value `get` answers, when wanted. A read no replica
   * answered throws a KvUnavailableError, as `get`'s does; `options.signal` as `get`'s.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const entry = await kv.getBytes("person1");
   * if (entry.value !== null) kv.decode(entry.value); // { name: "Mary", age: 22 }
   * ```
   */
  getBytes(key: string, options?: KvCallOptions): Promise<KvBytesEntry> {
    const read = () => this.#core.getDecoded(key, copyBytes);
    const check = () => checkName(key, "key");
    return this.#run(read, "getBytes", options, () => `get of ${quoted(key)}`, { check });
  }

  /**
   * The value `bytes` ({@link KvBytesEntry.value}) encode, as {@link Kv.get} answers it
   * (floats read as connect() was told; `T` the caller's type for it, unchecked, as `get`'s).
   * Bytes that are not a value's encoding are a KvInputError: {@link Kv.getBytes} hands over
   * what the server sent unchecked.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const { value } = await kv.getBytes("person1");
   * const person = value === null ? null : kv.decode<{ name: string }>(value);
   * ```
   */
  decode<T = KvValue>(bytes: Uint8Array): NoInfer<T> {
    if (!(bytes instanceof Uint8Array)) {
      throw new KvInputError("decode takes a Uint8Array, a value's bytes from getBytes");
    }
    try {
      return this.#decode(bytes) as T;
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      throw new KvInputError(`these bytes are not a kv value's encoding: ${error.message}`);
    }
  }

  /**
   * The value at a path inside a record: `"person1.address.street"` or
   * `["person1", "address", "street"]`; `value` is `null` when absent, with a `warning`
   * and a KvUnavailableError as {@link Kv.get}'s; `T` the caller's type for it, unchecked, as
   * `get`'s; `options.signal` as `get`'s.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const { value } = await kv.query("person1.address.street");
   * const { value: street } = await kv.query<string>("person1.address.street");
   * ```
   */
  query<T = KvValue>(
    path: string | readonly string[],
    options?: KvCallOptions,
  ): Promise<NoInfer<KvQueryEntry<T>>> {
    const decode = this.#decode as (bytes: Uint8Array) => T;
    // Read now, as put's value is: a call that waits its turn must not see the caller's
    // later changes to its array.
    const asked = typeof path === "string" || !Array.isArray(path) ? path : [...path];
    const read = () => this.#core.queryDecoded(asked, decode, this.#leaf);
    // Joined only when all strings: join() of a part without a prototype throws.
    const named = () => `query of ${quoted(isStrings(asked) ? asked.join(".") : asked)}`;
    return this.#run(read, "query", options, named, { check: () => parsePath(asked) });
  }

  /**
   * Stores `value` under `key` on k servers (see {@link ConnectOptions.writes}),
   * replacing any record; when fewer than k are reachable nothing is changed and a
   * KvUnavailableError says which are not. A record over the servers' frame limit
   * (`kv server --max-frame-bytes`) changes nothing and is a KvInputError.
   *
   * `value` is a `KvValue`, or a value of the program's own type that kv can store, an
   * `interface` too ({@link KvStorable}): the compiler refuses a type with parts kv cannot
   * store (a boolean field, an array, a method), as the runtime would. A field holding
   * `undefined` (`nick?: string`, `nick: string | undefined`) is left out, as `JSON.stringify`
   * leaves it out, and reads back absent; `undefined` as the value itself is refused.
   *
   * `options.signal` gives up on the write when it aborts, with a KvAbortedError: before it
   * was sent nothing changed; under way it may still be applied on some or all of its
   * replicas, or none, as a write that timed out may, and a later read tells
   * ({@link KvCallOptions.signal}).
   *
   * @example
   * ```ts
   * import { Float } from "./values.ts";
   * await using kv = await connect({ servers: "serverFile.txt" });
   * await kv.put("person1", { name: "Mary", height: new Float(2) });
   * interface Person { name: string; age?: number }
   * const john: Person = { name: "John" };
   * await kv.put("person2", john);
   * await kv.put("person3", { name: "Ann", age: undefined }); // stored as { name: "Ann" }
   * // Given up after 500 ms, a KvAbortedError; if it was under way, it may still be stored.
   * await kv.put("person4", { name: "Bo" }, { signal: AbortSignal.timeout(500) });
   * ```
   */
  async put<T>(
    key: string,
    value: T & NoInfer<KvValue | KvStorable<T>>,
    options?: KvCallOptions,
  ): Promise<KvPutResult> {
    // `T` is inferred from `value` alone (NoInfer): inferred from the union too, a KvValue
    // argument's was `string`. KvValue stays beside KvStorable<T> for a caller's own generic
    // `V extends KvValue`, which TypeScript cannot check against the deferred KvStorable<V>.
    checkName(key, "key");
    // Converted now, not once admitted: the caller may change its object after the call.
    const stored = toValue(value);
    const write = () => this.#core.put(key, stored);
    return await this.#run(write, "put", options, () => `put of ${quoted(key)}`, { write: true });
  }

  /**
   * Removes `key` (a tombstone on k servers, see {@link ConnectOptions.writes}), or,
   * when fewer than k are reachable, changes nothing and throws a KvUnavailableError.
   * `options.signal` as {@link Kv.put}'s: aborted under way, the deletion may still be
   * applied on some or all of its replicas, or none.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const { deleted } = await kv.delete("person1");
   * ```
   */
  async delete(key: string, options?: KvCallOptions): Promise<KvDeleteResult> {
    const write = () => this.#core.delete(key);
    const named = () => `delete of ${quoted(key)}`;
    const check = () => checkName(key, "key");
    return await this.#run(write, "delete", options, named, { write: true, check });
  }

  /**
   * One page of keys in byte order; page on with `after` set to the last key.
   * `options.signal` as {@link Kv.get}'s.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const page = await kv.keys({ prefix: "person", limit: 10 });
   * const next = await kv.keys({ prefix: "person", limit: 10, after: page.keys.at(-1) });
   * const quick = await kv.keys({ prefix: "person", signal: AbortSignal.timeout(500) });
   * ```
   */
  async keys(options: KvListOptions = {}): Promise<KvKeysPage> {
    checkOptions(options, "keys", LIST_OPTIONS, { required: false });
    // Read now, as put's value is: a call that waits its turn must not see the caller's
    // later changes (`options.after = page.keys.at(-1)` for the next page).
    const { prefix, limit, after, signal } = options;
    const page = () => this.#core.keys({ prefix, limit, after });
    const check = () => checkKeysPage({ prefix, limit, after });
    return await this.#run(page, "keys", { signal }, () => `keys${prefixed(prefix)}`, { check });
  }

  /**
   * `call` through the admission, with `options`' signal ({@link KvCallOptions.signal}) when
   * given, which rejects with a KvAbortedError naming the call (`named()`, made only then),
   * as a `write` or a read. With options, `check` (the call's arguments) runs first, then the
   * options are checked: what either throws is the rejection, before any signal is looked at
   * (without options `call` checks its arguments itself, the one check on a read's hot path).
   */
  #run<T>(
    call: () => Promise<T>,
    method: string,
    options: KvCallOptions | undefined,
    named: () => string,
    { write = false, check }: { write?: boolean; check?: () => void } = {},
  ): Promise<T> {
    if (options === undefined) return this.#admission.run(call);
    try {
      check?.();
      checkOptions(options, method, CALL_OPTIONS, { required: false });
      checkSignal(options.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal } = options;
    if (signal === undefined) return this.#admission.run(call);
    const error = (underWay: boolean) => abortedError(named(), signal.reason, { underWay, write });
    return this.#admission.run(call, { signal, error });
  }

  /**
   * Every record whose key matches, in key order, fetched a page at a time.
   * A record deleted while listing is skipped. A page the cluster could only
   * list in part (k or more servers down) throws a KvUnavailableError rather
   * than silently skip keys; {@link Kv.keys} returns such a page with a warning. So
   * does a listed key whose read cannot vouch that it is gone (a `null` with a warning,
   * servers having gone down since the page), or that no replica answered.
   *
   * `T` is the caller's type for every value listed, unchecked, as {@link Kv.get}'s; a listed
   * entry's `value` and `version` are never `null` ({@link KvListEntry}).
   *
   * `options.signal` covers the whole listing: once it aborts, the page or reads under way
   * and the next entry asked for reject with a KvAbortedError ({@link KvCallOptions.signal}).
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * for await (const { key, value } of kv.list({ prefix: "person", limit: 50 })) {
   *   console.log(key, value);
   * }
   * for await (const { value } of kv.list<{ name: string }>({ prefix: "person" })) {
   *   console.log(value.name);
   * }
   * ```
   */
  async *list<T = KvValue>(options: KvListOptions = {}): AsyncGenerator<NoInfer<KvListEntry<T>>> {
    checkOptions(options, "list", LIST_OPTIONS, { required: false });
    let remaining = options.limit ?? Infinity;
    if (remaining !== Infinity) checkInteger(remaining, "limit", 1, Number.MAX_SAFE_INTEGER);
    checkSignal(options.signal);
    // The caller's mistakes now, not as its first page's answer (an aborted signal's).
    checkKeysPage({ prefix: options.prefix, after: options.after });
    const { prefix, signal } = options;
    const listing = `list${prefixed(prefix)}`;
    let after = options.after;
    while (remaining > 0) {
      const limit = Math.min(LIST_PAGE_SIZE, remaining);
      const page = await this.#run(
        () => this.#core.keys({ prefix, limit, after }),
        "list",
        { signal },
        () => `${listing}, its page after ${after === undefined ? "the start" : quoted(after)},`,
      );
      if (page.warning !== undefined) throw new KvUnavailableError(page.warning);
      const entries = await Promise.all(page.keys.map((key) =>
        this.#run(
          () => this.#core.getDecoded(key, this.#decode as (bytes: Uint8Array) => T),
          "list",
          { signal },
          () => `${listing}, its get of ${quoted(key)},`,
        )
      ));
      for (const entry of entries) {
        // A caller that aborted between two entries gets no more.
        if (signal?.aborted) {
          throw abortedError(listing, signal.reason, { underWay: true, write: false });
        }
        if (entry.value === null && entry.warning !== undefined) {
          throw new KvUnavailableError(entry.warning);
        }
        if (entry.value === null) continue;
        remaining--;
        // Found: a value and its version (a read's entry has both or neither).
        yield entry as KvListEntry<T>;
      }
      if (!page.more || page.keys.length === 0) return;
      after = page.keys[page.keys.length - 1];
    }
  }

  /**
   * The replication factor k this connection reads and writes with: the `replicas` given, or
   * the k the servers record, or 1 when `connect` found a new cluster and recorded it (the one
   * way to see, without a `log`, that a first connect left one copy of each record); then
   * the k the servers record once `kv repair -k` changed it, which the connection follows.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * if (kv.replicas < 2) console.error(`kv keeps one copy of each record (k=${kv.replicas})`);
   * ```
   */
  get replicas(): number {
    return this.#core.broker.k;
  }

  /**
   * Each server: up with its record count and PING latency, or down and why.
   *
   * @example
   * ```ts
   * await using kv = await connect({ servers: "serverFile.txt" });
   * const down = (await kv.servers()).filter((server) => !server.up);
   * ```
   */
  async servers(): Promise<KvServerStatus[]> {
    return await this.#core.servers();
  }

  /**
   * Closes every connection; later calls throw a KvInputError, and so do the calls in
   * flight, at once (a write's may or may not have been applied), and those still waiting
   * their turn ({@link MAX_CALLS_IN_FLIGHT}), which were never sent: `this kv connection is
   * closed`. Closing twice is harmless.
   * An open Kv does not keep the program running by itself: only its calls in flight do,
   * so a script that never closes it still ends once its last call is answered, as with
   * Deno KV's handle (its idle connections and retries of down servers hold nothing).
   *
   * @example
   * ```ts
   * const kv = await connect({ servers: "serverFile.txt" });
   * kv.close();
   * ```
   */
  close(): void {
    this.#core.close();
  }

  /**
   * Closes, for `await using`: the connection ends with the scope that opened it.
   *
   * @example
   * ```ts
   * {
   *   await using kv = await connect({ servers: "serverFile.txt" });
   *   await kv.put("person1", { age: 22 });
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * The core under a {@link Kv}: the same operations on kv's typed values, for
 * kv's own layers above the library (the HTTP server writes values as JSON
 * without converting them twice, and reads the pool for its metrics); not part
 * of the public surface (mod.ts).
 *
 * @example
 * ```ts
 * import { decodeValue } from "../record/value_codec.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * const entry = await coreOf(kv).getDecoded("person1", decodeValue); // value: a typed Value or null
 * ```
 */
export function coreOf(kv: Kv): KvCore {
  const core = CORES.get(kv);
  if (core === undefined) throw new Error("a Kv made without connect()");
  return core;
}

/**
 * The broker under a {@link Kv}, for kv's own layers above the library (kv
 * bench's server counters); not part of the public surface (mod.ts).
 *
 * @example
 * ```ts
 * await using kv = await connect({ servers: "serverFile.txt" });
 * const upCount = brokerOf(kv).pool.upCount;
 * ```
 */
export function brokerOf(kv: Kv): Broker {
  return coreOf(kv).broker;
}

/**
 * Connects to a kv cluster: reads the server list, opens a connection to each
 * server (waiting at most about one timeout; servers not reached are retried
 * in the background), and returns a {@link Kv}. Throws a KvInputError for a bad
 * option, an unreadable server file, a host name that does not exist (a KvUnavailableError
 * when the resolver could not look it up now, EAI_AGAIN), one server listed twice, or
 * credentials refused by
 * every server reached when none could be used (an `authFile` they refuse, a `tlsCa` that
 * signed none of their certificates, a certificate expired or for another name, a server
 * without TLS, an address where another server answers, an HTTP server such as kv http's,
 * SSH or Redis; its `cause` is
 * the pool's CredentialsRefusedError); a
 * KvNoServerReachableError (a KvUnavailableError) when no `replicas` was given and no
 * server is reachable, naming each and why.
 *
 * @example
 * ```ts
 * await using kv = await connect({
 *   servers: [{ hostname: "127.0.0.1", port: 8000 }, { hostname: "127.0.0.1", port: 8001 }],
 *   replicas: 2,
 * });
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Kv> {
  return await connectWithRepairCommand(options);
}

/**
 * {@link connect} for kv's own commands over the library (`kv http`), not part of the
 * public surface (mod.ts; it was `Kv.open`, a static every application's types showed):
 * `repairCommand` is the `kv repair` command, with their server file and credentials, that
 * the connection's refusals and log lines name (default {@link repairCommandOf}'s, over
 * `options`' servers file and credentials).
 *
 * @example
 * ```ts
 * const repair = "kv repair -s servers.txt";
 * await using kv = await connectWithRepairCommand({ servers: "servers.txt" }, repair);
 * ```
 */
export async function connectWithRepairCommand(
  options: ConnectOptions,
  repairCommand?: string,
): Promise<Kv> {
  const { servers, k, writes, timeoutMs, floats, credentials, log } = await checkConnectOptions(
    options,
  );
  const core = await KvCore.open(servers, {
    k,
    writes,
    timeoutMs,
    credentials,
    log,
    repairCommand: repairCommand ?? repairCommandOf(options),
    serverFile: typeof options.servers === "string" ? options.servers : undefined,
  });
  return makeKv(core, floats);
}

/**
 * The `kv repair` command over `options`' servers and credentials, ready to paste into a
 * shell, which a connection's refusals and log lines name (a k other than the cluster's:
 * `… or change it with kv repair -s servers.txt -k 1`): `-s` the server file, or `-s FILE`
 * for a list of endpoints, which has none; `--auth-file` and `--tls-ca` when given.
 * `options` are checked already.
 *
 * @example
 * ```ts
 * repairCommandOf({ servers: "my servers.txt", authFile: "kv.auth" });
 * // "kv repair -s 'my servers.txt' --auth-file kv.auth"
 * repairCommandOf({ servers: [{ hostname: "127.0.0.1", port: 8000 }] }); // "kv repair -s FILE"
 * ```
 */
export function repairCommandOf(options: ConnectOptions): string {
  const { servers, authFile, tlsCa } = options;
  return [
    "kv repair",
    typeof servers === "string" ? shellFlag("-s", "--servers", servers) : "-s FILE",
    ...(authFile === undefined ? [] : [shellFlag("--auth-file", "--auth-file", authFile)]),
    ...(tlsCa === undefined ? [] : [shellFlag("--tls-ca", "--tls-ca", tlsCa)]),
  ].join(" ");
}

interface CheckedOptions {
  servers: ServerAddress[];
  k: number | undefined;
  writes: WriteRule;
  timeoutMs: number;
  floats: FloatReading;
  credentials: Credentials;
  log: LogFunction | undefined;
}

async function checkConnectOptions(options: ConnectOptions): Promise<CheckedOptions> {
  checkOptions(options, "connect", CONNECT_OPTIONS, { required: true });
  checkFilePath(options.authFile, "authFile");
  checkFilePath(options.tlsCa, "tlsCa");
  let credentials: Credentials;
  try {
    credentials = await resolveCredentials({ authFile: options.authFile, tlsCa: options.tlsCa });
  } catch (error) {
    if (error instanceof CredentialsError) throw new KvInputError(inProgramWords(error.message));
    throw error;
  }
  const servers = await serverList(options.servers);
  const k = options.replicas;
  if (Number.isSafeInteger(k) && (k as number) > servers.length) {
    // As the CLI's `-k 5 needs at least 5 servers`: "from 1 to 1, got 2" left the why out.
    throw new KvInputError(
      `replicas ${k} needs at least ${k} servers (each key's k copies are on k different ` +
        `servers), but servers lists ${servers.length}`,
    );
  }
  if (k !== undefined) checkInteger(k, "replicas", 1, servers.length);
  // Only an absent option takes its default: a null is a mistake, as it is for replicas.
  const timeoutMs = options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : options.timeoutMs;
  checkInteger(timeoutMs, "timeoutMs", 1, MAX_TIMEOUT_MS);
  const floats = options.floats === undefined ? "number" : options.floats;
  if (floats !== "number" && floats !== "tagged") {
    throw new KvInputError(`floats must be "number" or "tagged", got ${JSON.stringify(floats)}`);
  }
  const writes = options.writes === undefined ? "sloppy" : options.writes;
  if (!WRITE_RULES.includes(writes)) {
    throw new KvInputError(
      `writes must be ${WRITE_RULES.map((rule) => `"${rule}"`).join(" or ")}, ` +
        `got ${JSON.stringify(writes)}`,
    );
  }
  if (options.log !== undefined && typeof options.log !== "function") {
    throw new KvInputError(`log must be a function, got ${describeArgument(options.log)}`);
  }
  const log = options.log === undefined ? undefined : guardedLog(options.log);
  return { servers, k, writes, timeoutMs, floats, credentials, log };
}

/**
 * The application's `log`, called so that its throw never unwinds through the library: the
 * pool calls it in the middle of changing a server's state (a throw there ended the program
 * with an uncaught rejection from inside the pool, skipping the reconnect of the server it
 * was telling down).
 * The error is reported as uncaught (`reportError`, as a web event listener's throw is):
 * it ends the program, as before, unless the program handles globalThis's "error" event.
 */
function guardedLog(log: LogFunction): LogFunction {
  return (line, level) => {
    try {
      log(line, level);
    } catch (error) {
      reportError(error);
    }
  };
}

/**
 * What connect throws for `error`, from reading or resolving its servers: a host name the
 * resolver could not look up now (ServerLookupError, EAI_AGAIN) is the cluster's
 * unavailability, which a retry may get past; any other ServerFileError the caller's
 * mistake (a name that does not exist, a malformed file); other errors as they are.
 */
function serverListError(error: unknown): unknown {
  if (error instanceof ServerLookupError) return new KvUnavailableError(error.message);
  if (error instanceof ServerFileError) return new KvInputError(inProgramWords(error.message));
  return error;
}

/**
 * For a server given as text, `"127.0.0.1:8000"` (as a server file's line, or a Redis client's
 * URL, is), the object to give instead: `: give { hostname: "127.0.0.1", port: 8000 }`; else "".
 */
function endpointAdvice(endpoint: unknown): string {
  if (typeof endpoint !== "string") return "";
  const parts = /^(?:[a-z]+:\/\/)?\[?([^\]/]+?)\]?:(\d{1,5})\/?$/.exec(endpoint);
  if (parts === null) return "";
  const [, hostname, port] = parts;
  return `: give { hostname: ${JSON.stringify(hostname)}, port: ${Number(port)} }`;
}

async function serverList(servers: ConnectOptions["servers"]): Promise<ServerAddress[]> {
  if (typeof servers === "string" && servers !== "") {
    try {
      return await readServerList(servers);
    } catch (error) {
      throw serverListError(error);
    }
  }
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new KvInputError(
      `servers must be a server file's path or a non-empty list, got ${describeArgument(servers)}`,
    );
  }
  const addresses = servers.map((endpoint: unknown, index) => {
    if (typeof endpoint !== "object" || endpoint === null) {
      throw new KvInputError(
        `servers[${index}] must be an object ({ hostname, port }), got ${
          describeArgument(endpoint)
        }${endpointAdvice(endpoint)}`,
      );
    }
    const { hostname, port } = endpoint as Partial<ServerEndpoint>;
    if (typeof hostname !== "string" || hostname === "") {
      throw new KvInputError(`servers[${index}].hostname must be a non-empty string`);
    }
    if (hostname.startsWith("[") && hostname.endsWith("]")) {
      // A URL's form; Deno.connect takes the address itself.
      throw new KvInputError(
        `servers[${index}].hostname is '${hostname}': give an IPv6 address without brackets ` +
          `('${hostname.slice(1, -1)}')`,
      );
    }
    checkInteger(port, `servers[${index}].port`, 1, 65535);
    return serverAddress(hostname, port as number);
  });
  try {
    return await resolveServers(addresses, (index) => `servers[${index}]`);
  } catch (error) {
    throw serverListError(error);
  }
}
