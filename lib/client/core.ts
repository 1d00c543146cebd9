/**
 * The library's core: kv's operations with their checks and typed errors, on
 * kv's typed values ({@link Value}). `Kv` (kv.ts) wraps it to speak plain
 * JavaScript; the HTTP layer uses it directly, so a record goes from the wire
 * to JSON text without being converted twice.
 *
 * Like `kv broker`, a connection repairs in the background while it is open
 * (lib/broker/background_repair.ts): servers that say at HELLO they may lack writes
 * are refilled, and copies written beyond a key's home servers while one was down
 * move home once it is back. Closing cuts a repair short; what it did stands.
 *
 * @example
 * ```ts
 * import { serverAddress } from "../broker/server_list.ts";
 * import { decodeValue } from "../record/value_codec.ts";
 * import { KvCore } from "./core.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const core = await KvCore.open(servers, { k: 2 });
 * const entry = await core.getDecoded("person1", decodeValue); // { key, value: Value | null, version, warning? }
 * ```
 * @module
 */
import { BackgroundRepair } from "../broker/background_repair.ts";
import { Broker, type BrokerOptions, type EncodedLookup } from "../broker/broker.ts";
import { DecodeError } from "../base/bytes.ts";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import {
  BARE_REPAIR,
  ClusterKError,
  ClusterKUnknownError,
  namedServers,
} from "../broker/cluster_k.ts";
import type { ServerAddress } from "../broker/server_list.ts";
import { CredentialsRefusedError, listedTwice, startLines } from "../broker/server_pool.ts";
import { isTimeoutReason } from "../protocol/client.ts";
import { missedPath, QueryPathError, splitQueryPath } from "../record/query_path.ts";
import type { Value } from "../record/value.ts";
import { decodeValue } from "../record/value_codec.ts";
import { encodedJsonText } from "../record/encoded_json.ts";
import { formatVersion } from "../record/version.ts";
import {
  type KvError,
  KvInputError,
  KvNoServerReachableError,
  KvUnavailableError,
} from "./errors.ts";
import type {
  KvDeleteResult,
  KvKeysPage,
  KvListOptions,
  KvPutResult,
  KvServerStatus,
} from "./kv.ts";
import { checkName } from "./values.ts";
import { describeArgument } from "./arguments.ts";

/**
 * Most keys one `Kv.keys` page may ask for: 10 000, the servers' own KEYS limit (its type says
 * `number`, so `deno doc` shows no value).
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * const { keys } = await kv.keys({ prefix: "person", limit: MAX_KEYS_PAGE }); // 10 000 at most
 * ```
 */
export const MAX_KEYS_PAGE: number = MAX_KEYS_LIMIT;

/**
 * Keys one page of `Kv.list` fetches (and then reads) at a time, and `Kv.keys`'s default.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * const { keys } = await kv.keys({ prefix: "person" }); // LIST_PAGE_SIZE keys at most
 * ```
 */
export const LIST_PAGE_SIZE = 100;

/**
 * A record or sub-value as kv's typed value, or as what a decoder made of its bytes
 * ({@link KvCore.getDecoded}); `value` is null when absent.
 */
export interface ValueEntry<T = Value> {
  /** The record key. */
  key: string;
  /** The value, or null when there is no such record or field. */
  value: T | null;
  /**
   * The version of the record read (the newest among the replicas) in its text form
   * ({@link formatVersion}); null when there is no such record or field.
   */
  version: string | null;
  /**
   * Set when the answer is not guaranteed: a null value may hide a record, and a value
   * found may have a newer version on servers that could not be counted. A read that
   * learned nothing of the key (none of its replicas answered) is no entry but a
   * KvUnavailableError.
   */
  warning?: string;
}

/**
 * An answer to GET or QUERY with the value as JSON text (kv's int/float rule:
 * `toJsonText`), made straight from the replica's wire bytes: what `kv http` sends.
 */
export interface JsonEntry {
  /** The record key. */
  key: string;
  /** The value as JSON text, or null when there is no such record or field. */
  json: string | null;
  /** As {@link ValueEntry.version}. */
  version: string | null;
  /**
   * Set when the answer is not guaranteed: a null value may hide a record, and a value
   * found may have a newer version on servers that could not be counted. Unlike
   * {@link ValueEntry}'s, a read none of the key's replicas answered is an entry too, with
   * this warning (`kv http` answers it 503).
   */
  warning?: string;
}

/**
 * Why a query found no value, from the replica answer the read reports (the newest
 * version): the key holds no record (`no-record`: none, or deleted); the object at
 * `path` minus its last name has no field of that name (`no-field`, with `closest`, its
 * field nearest that name, when one is a typo or a letter case away); or the path ran
 * into a scalar, `value` (made by the caller's reader), at `path` (`not-object`). `path`
 * is the query's path up to there.
 *
 * @example
 * ```ts
 * const typo: QueryMissing<string> = {
 *   reason: "no-field",
 *   path: ["person1", "address", "stret"],
 *   closest: "street",
 * };
 * ```
 */
export type QueryMissing<L = Value> =
  | { readonly reason: "no-record" }
  | { readonly reason: "no-field"; readonly path: string[]; readonly closest?: string }
  | { readonly reason: "not-object"; readonly path: string[]; readonly value: L };

/**
 * One replica's copy of a record, from {@link KvCore.replicas}: a record with its
 * version, a tombstone (deleted, with the delete's version), nothing at all, or no
 * answer. Versions are in their text form ({@link formatVersion}).
 */
export type ReplicaCopy =
  | {
    readonly server: string;
    readonly state: "found";
    readonly value: Value;
    readonly version: string;
  }
  | { readonly server: string; readonly state: "deleted"; readonly version: string }
  | { readonly server: string; readonly state: "missing" }
  | { readonly server: string; readonly state: "unreachable"; readonly error: string };

/**
 * Whether the replicas that answered hold the same thing: the same version (a version
 * names one write, so equal versions are equal contents), or all nothing; true when one
 * answered, false when none did (nothing was seen to agree).
 *
 * @example
 * ```ts
 * replicasAgree([{ server: "a", state: "missing" }, { server: "b", state: "missing" }]); // true
 * replicasAgree([{ server: "a", state: "unreachable", error: "down" }]); // false
 * ```
 */
export function replicasAgree(copies: readonly ReplicaCopy[]): boolean {
  const versions = copies.filter((copy) => copy.state !== "unreachable").map((copy) =>
    "version" in copy ? copy.version : null
  );
  return versions.length > 0 && versions.every((version) => version === versions[0]);
}

/** Options of {@link KvCore.open}: the broker's, and where its servers were read from. */
export interface KvCoreOptions extends BrokerOptions {
  /**
   * The server file `servers` were read from, if any: a list naming one server twice is
   * refused naming it (as kv's own commands do); default none, "the server list".
   */
  readonly serverFile?: string;
}

/**
 * Replicated operations with the library's checks; see the module documentation. A
 * caller's mistake is a KvInputError, a cluster that cannot answer a KvUnavailableError.
 *
 * @example
 * ```ts ignore
 * import { readServerList } from "../broker/server_list.ts";
 * import { int, object, str } from "../record/value.ts";
 * const core = await KvCore.open(await readServerList("serverFile.txt"), { k: 2 });
 * try {
 *   await core.put("person1", object([["name", str("Mary")], ["age", int(22)]]));
 *   (await core.queryDecoded("person1.age", decodeValue)).value; // { kind: "int", value: 22 }
 *   (await core.getJson("person1")).json; // '{"name":"Mary","age":22}'
 *   await core.replicas("person1"); // [{ server: "127.0.0.1:8000", state: "found", … }, …]
 * } finally {
 *   core.close();
 * }
 * ```
 */
export class KvCore {
  readonly #broker: Broker;
  readonly #background: BackgroundRepair;
  #closed = false;

  private constructor(broker: Broker, background: BackgroundRepair) {
    this.#broker = broker;
    this.#background = background;
  }

  /**
   * Connects; a server list naming one server twice, credentials refused by every
   * server reached (or another server's address among them, kv http's, SSH's, or a kv server
   * of another protocol version) when none could be used, or no
   * k given while no reachable server records one and some are unreachable (the cluster's
   * k cannot be learned, and a guess would outlive the outage: lib/broker/cluster_k.ts), is
   * a KvInputError; no k given while no server at all is reachable, a
   * KvNoServerReachableError.
   *
   * @example
   * ```ts
   * import { serverAddress } from "../broker/server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const core = await KvCore.open(servers, { k: 2, timeoutMs: 1000 });
   * ```
   */
  static async open(servers: ServerAddress[], options: KvCoreOptions): Promise<KvCore> {
    let broker: Broker;
    // The background repair needs the broker's pool, so it starts after the broker.
    const handoff: { to?: BackgroundRepair } = {};
    try {
      broker = await Broker.open(servers, {
        ...options,
        // Hinted partitions go to the background repair, which moves their copies home.
        onRepairNeeded: (request) => handoff.to?.request(request),
      });
    } catch (error) {
      if (error instanceof ClusterKUnknownError && error.unreachable.length === error.servers) {
        throw noServerReachable(error.unreachable);
      }
      if (error instanceof ClusterKError) {
        // In the library's words: its option is `replicas`, and the repair its own command.
        const message = error.withRepair(options.repairCommand ?? BARE_REPAIR, "replicas");
        throw new KvInputError(message, { cause: error });
      }
      if (error instanceof CredentialsRefusedError) {
        // The option to change; none where the server's certificate is at fault, or kv's
        // version on one side.
        const { kind } = error.refusal;
        const option = kind === "certificate" || kind === "version"
          ? ""
          : kind === "not-kv"
          ? " (connect's servers)"
          : kind === "tls-needed"
          ? " (connect's tlsCa, or servers)"
          : kind === "ca" || kind === "not-tls"
          ? " (connect's tlsCa)"
          : " (connect's authFile)";
        throw new KvInputError(`${error.message}${option}`, { cause: error });
      }
      throw error;
    }
    const twins = broker.pool.twins();
    if (twins.length > 0) {
      broker.close();
      throw new KvInputError(listedTwice(options.serverFile, twins));
    }
    // As kv broker logs them at start: a log that first heard of a server down since the
    // connect when it came "back up" could not tell an application it was down.
    if (options.log !== undefined) {
      for (const line of startLines(broker.pool, broker.k)) options.log(line, "warn");
    }
    handoff.to = new BackgroundRepair(broker.pool, {
      placement: broker,
      log: options.log,
    });
    return new KvCore(broker, handoff.to);
  }

  /** The broker, for metrics and health (its pool's state). */
  get broker(): Broker {
    return this.#broker;
  }

  /**
   * The record under `key`, its value made by `decode` from the answering replica's
   * bytes (`decodeValue` for kv's typed Value, `decodePlainValue` for the library's
   * plain objects). A DecodeError from `decode` is that server's fault: a
   * KvUnavailableError naming it; so is a read none of the key's replicas answered (or
   * none that can be trusted) when no other server held a copy: a KvUnavailableError
   * naming each and why, not a null value.
   *
   * @example
   * ```ts ignore
   * await core.getDecoded("person1", decodeValue); // { key: "person1", value: { kind: "int", value: 22 }, version: "0193…" }
   * await core.getDecoded("nobody", decodeValue); // { key: "nobody", value: null, version: null }
   * ```
   */
  getDecoded<T>(key: string, decode: (bytes: Uint8Array) => T): Promise<ValueEntry<T>> {
    // Not async: the read's end makes the entry and settles the one promise a GET makes.
    let broker: Broker;
    try {
      checkName(key, "key");
      broker = this.#open();
    } catch (error) {
      return Promise.reject(error);
    }
    return broker.getEncodedAs(key, (lookup) => {
      this.#stillOpen();
      return entry(key, lookup, decode);
    });
  }

  /**
   * Like {@link KvCore.getDecoded}, with the value as JSON text made from the wire bytes;
   * a read none of the key's replicas answered is an entry with a warning (see
   * {@link JsonEntry.warning}), not a KvUnavailableError.
   *
   * @example
   * ```ts ignore
   * (await core.getJson("person1")).json; // '{"name":"Mary","age":22}'
   * (await core.getJson("nobody")).json; // undefined: no such record
   * ```
   */
  async getJson(key: string): Promise<JsonEntry> {
    checkName(key, "key");
    const lookup = await this.#open().getEncoded(key);
    this.#stillOpen();
    return jsonEntry(key, lookup);
  }

  /**
   * Like {@link KvCore.queryDecoded}, with the value as JSON text made from the wire bytes.
   *
   * @example
   * ```ts ignore
   * await core.queryJson("person1.address");
   * // { key: "person1", json: '{"city":"Oslo"}', version: "0193…", path: ["person1", "address"] }
   * ```
   */
  async queryJson(
    path: string | readonly string[],
  ): Promise<JsonEntry & { path: string[]; missing?: QueryMissing }> {
    const segments = parsePath(path);
    const lookup = await this.#open().queryEncoded(segments);
    this.#stillOpen();
    const found = { ...jsonEntry(segments[0], lookup), path: segments };
    return withMissing(found, lookup, segments, sameValue);
  }

  /**
   * The value at a dotted path or an array of names, made by `decode` as
   * {@link KvCore.getDecoded} makes a record's; when there is none, `missing` says why
   * (a scalar in the way made by `leaf`), unless the read learned nothing of the key.
   *
   * @example
   * ```ts ignore
   * import { decodeValue } from "../record/value_codec.ts";
   * const age = await core.queryDecoded("person1.age", decodeValue, (leaf) => leaf);
   * age.value; // { kind: "int", value: 22 }
   * ```
   */
  async queryDecoded<T, L>(
    path: string | readonly string[],
    decode: (bytes: Uint8Array) => T,
    leaf: (value: Value) => L,
  ): Promise<ValueEntry<T> & { path: string[]; missing?: QueryMissing<L> }> {
    const segments = parsePath(path);
    const lookup = await this.#open().queryEncoded(segments);
    this.#stillOpen();
    const found = { ...entry(segments[0], lookup, decode, segments), path: segments };
    return withMissing(found, lookup, segments, leaf);
  }

  /**
   * Stores `value` under `key` on k servers, or on none.
   *
   * @example
   * ```ts ignore
   * import { int, object } from "../record/value.ts";
   * await core.put("person1", object([["age", int(22)]])); // on k servers, or a KvError
   * ```
   */
  async put(key: string, value: Value): Promise<KvPutResult> {
    checkName(key, "key");
    const change = await this.#open().put(key, value);
    this.#stillOpen();
    if (change.kind === "error") throw changeError(change);
    const stored = { key, version: formatVersion(change.version) };
    return change.warning === undefined ? stored : { ...stored, warning: change.warning };
  }

  /**
   * Removes `key` on k servers, or on none.
   *
   * @example
   * ```ts ignore
   * await core.delete("person1"); // { key: "person1", deleted: true, version: "0193…" }
   * ```
   */
  async delete(key: string): Promise<KvDeleteResult> {
    checkName(key, "key");
    const change = await this.#open().delete(key);
    this.#stillOpen();
    if (change.kind === "error") throw changeError(change);
    const deleted = { key, deleted: change.existed, version: formatVersion(change.version) };
    return change.warning === undefined ? deleted : { ...deleted, warning: change.warning };
  }

  /**
   * One page of keys.
   *
   * @example
   * ```ts ignore
   * await core.keys({ prefix: "person", limit: 2 }); // { keys: ["person1", "person2"], more: true }
   * // more: true when further keys match; pass after: "person2" for the next page
   * ```
   */
  async keys(options: KvListOptions): Promise<KvKeysPage> {
    checkKeysPage(options);
    const prefix = options.prefix ?? "";
    const after = options.after ?? "";
    const limit = options.limit ?? LIST_PAGE_SIZE;
    const answer = await this.#open().keys(prefix, limit, after);
    this.#stillOpen();
    // An empty page no server vouched for: as a get none of whose replicas answered, an
    // error, not `{ keys: [] }` with a warning, which a caller reading only `keys` took
    // for "no such keys".
    if (answer.unanswered) throw new KvUnavailableError(`cannot list keys: ${answer.warning}`);
    return answer.warning === undefined
      ? { keys: answer.keys, more: answer.more }
      : { keys: answer.keys, more: answer.more, warning: answer.warning };
  }

  /**
   * What each of `key`'s k replicas holds, read from each on its own, in the
   * order reads try them: for an operator checking that they agree.
   *
   * @example
   * ```ts ignore
   * await core.replicas("person1"); // [{ server: "127.0.0.1:8000", state: "found", … }, …]
   * ```
   */
  async replicas(key: string): Promise<ReplicaCopy[]> {
    checkName(key, "key");
    const broker = this.#open();
    const copies = await Promise.all(
      broker.replicasOf(key).map(async (index) => {
        const server = broker.pool.servers[index].id;
        const outcome = await broker.pool.call(index, (connection) => connection.getEncoded(key));
        if (!outcome.ok) return { server, state: "unreachable", error: outcome.error } as const;
        const { encoded, version } = outcome.value;
        if (version === undefined) return { server, state: "missing" } as const;
        const text = formatVersion(version);
        if (encoded === undefined) return { server, state: "deleted", version: text } as const;
        return { server, state: "found", value: decodeValue(encoded), version: text } as const;
      }),
    );
    this.#stillOpen();
    return copies;
  }

  /**
   * Each server's state.
   *
   * @example
   * ```ts ignore
   * await core.servers(); // [{ server: "127.0.0.1:8000", up: true, records: 2, latencyMs: 0.12, repaired: true, repairedUnderOtherList: false, beingRemarked: false, readOnly: false, hints: 0, k: 2 }, …]
   * ```
   */
  async servers(): Promise<KvServerStatus[]> {
    const reports = await this.#open().servers();
    this.#stillOpen();
    return reports.map((report) => ({ ...report }));
  }

  /**
   * Closes every connection; later calls, and those in flight, throw a KvInputError.
   *
   * @example
   * ```ts ignore
   * const core = await KvCore.open(servers, { k: 2 });
   * try {
   *   await core.getJson("person1");
   * } finally {
   *   core.close();
   * }
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#background.close();
    this.#broker.close();
  }

  #open(): Broker {
    if (this.#closed) throw new KvInputError("this kv connection is closed");
    return this.#broker;
  }

  /**
   * Throws the closed connection's KvInputError when close() came while a call was in
   * flight: its answer, made of the connections close() cut, would report an outage
   * (a null value that "may exist", servers down, a write refused) that is none.
   */
  #stillOpen(): void {
    if (this.#closed) {
      throw new KvInputError(
        "this kv connection was closed before the call finished (a write may or may not " +
          "have been applied)",
      );
    }
  }
}

/**
 * What `connect` without `replicas` throws when it reached none of the servers: the
 * cluster's k cannot be learned, but the same call succeeds once one is back. Servers
 * that turned the client away (BUSY) are running: the advice is then to retry later (when
 * only some did, to start the others or retry later); those
 * that only took longer than `timeoutMs` may well be running: a longer timeout. Either way,
 * not to start them.
 */
function noServerReachable(
  down: KvNoServerReachableError["unreachable"],
): KvNoServerReachableError {
  const one = down.length === 1;
  const which = one
    ? "the one server is not reachable"
    : `none of the ${down.length} servers is reachable`;
  // Running, but without room for this client: starting it is not the answer.
  const advice = down.every((each) => each.busy === true)
    ? "retry once there is room"
    // One server reached is enough: either remedy will do.
    : down.some((each) => each.busy === true)
    ? "start those not running (or check authFile and tlsCa), or retry once those BUSY have room"
    : down.every((each) => isTimeoutReason(each.error))
    ? `raise timeoutMs if ${one ? "it is" : "they are"} busy, or restart ${
      one ? "it" : "them"
    } if hung, and retry`
    : `start ${one ? "it" : "them"} (or check authFile and tlsCa) and retry`;
  return new KvNoServerReachableError(
    `${which} (${namedServers(down)}); ${advice}, or pass replicas (the cluster's k) to ` +
      "connect now, reconnecting in the background",
    down,
  );
}

/**
 * The JSON answer of `lookup`; a value its server encoded wrongly is a KvUnavailableError
 * naming that server (a bug or a hostile peer, never the caller's mistake), as the
 * broker's own decoding says. A read that learned nothing of the key (`unanswered`) stays
 * an entry with its warning, unlike {@link entry}'s: `kv http`, its caller, answers every
 * NOT FOUND with a warning 503 with that entry (README, "kv http"), never "not found".
 */
function jsonEntry(key: string, lookup: EncodedLookup): JsonEntry {
  if (lookup.kind === "error") throw new KvUnavailableError(lookup.error);
  if (lookup.kind === "found") {
    const json = decodeFound(lookup, encodedJsonText);
    const found = { key, json, version: formatVersion(lookup.version) };
    return lookup.warning === undefined ? found : { ...found, warning: lookup.warning };
  }
  return lookup.warning === undefined
    ? { key, json: null, version: null }
    : { key, json: null, version: null, warning: lookup.warning };
}

/**
 * The answer of `lookup` with its value made by `decode`, blamed as {@link jsonEntry} does;
 * a read that learned nothing of the key (`unanswered`: none of its replicas answered, or
 * none that can be trusted) is a KvUnavailableError, as a write in the same outage is: as
 * an entry its `value: null` read as "not found" to every caller that did not look at the
 * warning. `path` is a query's, for the error's words.
 */
function entry<T>(
  key: string,
  lookup: EncodedLookup,
  decode: (bytes: Uint8Array) => T,
  path?: readonly string[],
): ValueEntry<T> {
  if (lookup.kind === "error") throw new KvUnavailableError(lookup.error);
  if (lookup.kind === "not-found" && lookup.unanswered) {
    const read = path === undefined ? `get '${key}'` : `query '${path.join(".")}'`;
    throw new KvUnavailableError(`cannot ${read}: ${lookup.warning}`);
  }
  if (lookup.kind === "found") {
    const value = decodeFound(lookup, decode);
    const version = formatVersion(lookup.version);
    return lookup.warning === undefined
      ? { key, value, version }
      : { key, value, version, warning: lookup.warning };
  }
  return lookup.warning === undefined
    ? { key, value: null, version: null }
    : { key, value: null, version: null, warning: lookup.warning };
}

/** A scalar a query ran into, as the broker decoded it. */
const sameValue = (value: Value): Value => value;

/**
 * `entry` of a query of `path`, with why it found nothing when `lookup` did not and a
 * replica said (none: no record); as it is when found, or when no replica answered.
 */
function withMissing<E extends object, L>(
  entry: E,
  lookup: EncodedLookup,
  path: string[],
  leaf: (value: Value) => L,
): E & { missing?: QueryMissing<L> } {
  if (lookup.kind !== "not-found" || lookup.unanswered) return entry;
  const miss = lookup.miss;
  if (miss === undefined) return { ...entry, missing: { reason: "no-record" } };
  const missed = missedPath(path, miss);
  if (miss.reason === "not-object") {
    const missing = { reason: "not-object", path: missed, value: leaf(miss.value) } as const;
    return { ...entry, missing };
  }
  const missing = miss.closest === undefined
    ? { reason: "no-field", path: missed } as const
    : { reason: "no-field", path: missed, closest: miss.closest } as const;
  return { ...entry, missing };
}

/** What `decode` makes of a found value's bytes; a DecodeError blames the server that sent them. */
function decodeFound<T>(
  lookup: EncodedLookup & { kind: "found" },
  decode: (bytes: Uint8Array) => T,
): T {
  try {
    return decode(lookup.encoded);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    throw new KvUnavailableError(`${lookup.server} sent a malformed value: ${error.message}`);
  }
}

/**
 * Throws a KvInputError unless `value` is a whole number within [min, max].
 *
 * @example
 * ```ts
 * checkInteger(2, "replicas", 1, 4); // fine
 * ```
 */
export function checkInteger(value: unknown, what: string, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const got = typeof value === "number" ? value : describeArgument(value);
    throw new KvInputError(`${what} must be a whole number from ${min} to ${max}, got ${got}`);
  }
}

/**
 * Throws a KvInputError unless `options`' prefix, after key and limit (each optional) make a
 * page of keys {@link KvCore.keys} can ask for: checked before a call waits its turn, so that
 * the caller's mistake is its answer whatever the timing (an aborted signal's included).
 *
 * @example
 * ```ts
 * checkKeysPage({ prefix: "person", limit: 10 }); // fine
 * checkKeysPage({ after: "a.b" }); // throws KvInputError
 * ```
 */
export function checkKeysPage(options: Pick<KvListOptions, "prefix" | "after" | "limit">): void {
  const prefix = options.prefix ?? "";
  if (prefix !== "") checkName(prefix, "prefix");
  const after = options.after ?? "";
  if (after !== "") checkName(after, "after key");
  checkInteger(options.limit ?? LIST_PAGE_SIZE, "limit", 1, MAX_KEYS_PAGE);
}

/**
 * The segments of a query path, a dotted string or an array of names, each checked as a
 * key's or a field's name; a KvInputError for a malformed path.
 *
 * @example
 * ```ts
 * parsePath("person1.address.street"); // ["person1", "address", "street"]
 * parsePath(["person1", "a.b"]); // throws KvInputError: names hold no '.'
 * ```
 */
export function parsePath(path: string | readonly string[]): string[] {
  if (typeof path !== "string") {
    if (!Array.isArray(path) || path.length === 0) {
      throw new KvInputError("a query path is a dotted string or a non-empty array of names");
    }
    path.forEach((segment, index) => checkName(segment, index === 0 ? "key" : "field name"));
  }
  let segments: string[];
  try {
    // Exactly as given, as a key is: trimmed, " lead.n" would read the record of "lead".
    segments = splitQueryPath(typeof path === "string" ? path : path.join("."));
  } catch (error) {
    if (error instanceof QueryPathError) throw new KvInputError(error.message);
    throw error;
  }
  segments.forEach((segment, index) => checkName(segment, index === 0 ? "key" : "field name"));
  return segments;
}

/**
 * The error for a PUT or DELETE that failed: the caller's when the servers refused the
 * request itself (repeating it cannot help), else the cluster's.
 */
function changeError(change: { error: string; refused?: boolean }): KvError {
  return change.refused ? new KvInputError(change.error) : new KvUnavailableError(change.error);
}
