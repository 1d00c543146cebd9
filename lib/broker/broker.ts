/**
 * The broker's core: replicated, fault-tolerant operations over a list of
 * servers. Every key lives on k servers chosen by rendezvous hashing
 * ({@link Placement}); the broker keeps one connection per server
 * ({@link ServerPool}) and answers each operation from the key's replicas only.
 *
 * The guarantees, and how they are kept:
 *
 * - Every write (PUT, DELETE) carries a version from the broker's hybrid
 *   logical clock ({@link HybridClock}); each server applies a write only when
 *   its version is newer than what the key holds, and a DELETE leaves a
 *   tombstone, so replicas that receive the same writes in any order, or twice,
 *   end up identical: the newest write wins everywhere.
 * - Reads (GET, QUERY) ask all of the key's replicas that are up at once and,
 *   once every one has answered or failed, answer the newest version among
 *   them: a tombstone newer than a record is NOT FOUND, and the clock observes
 *   that version so this broker's next write is newer still. With fewer than
 *   k servers down the answer is exact and carries no warning. When no replica
 *   answered, or some replica did not answer while k or more servers are down
 *   (beyond what k replicas can mask), the NOT FOUND carries a warning.
 * - Writes and deletes first check that every replica of the key is up and
 *   answers a PING, and refuse before changing anything when one is not. A
 *   server holding a newer or equal version answers STALE with it: the clock
 *   moves past that version and the write is sent again, at most
 *   {@link MAX_WRITE_ATTEMPTS} times, so a write that starts after another was
 *   acknowledged wins even when two brokers stamp the same millisecond. A
 *   replica that fails between the check and the write leaves the operation
 *   partly applied; the error then says so, and repeating it once the servers
 *   are back finishes it.
 * - Read repair: when the replicas asked answer different versions (or some
 *   hold nothing), the broker copies the newest version — record or tombstone,
 *   re-read from the replica that holds it — to the stale replicas in the
 *   background, after answering, flagged _repair_ so that it never replaces
 *   anything newer. At most {@link MAX_READ_REPAIRS_IN_FLIGHT} run at once; a
 *   read that finds the limit reached (or its key already being repaired)
 *   answers without starting another.
 * - KEYS asks every server and merges the answers; with k or more servers not
 *   answering some keys may be missing, and the answer carries a warning.
 *
 * Placement depends on the server list: a broker given a different list looks
 * for keys on different servers, and nothing moves records between servers.
 * After changing the list, re-index the data with `-i`.
 *
 * @example
 * ```ts
 * import { Broker } from "./broker.ts";
 * import { readServerList } from "./server_list.ts";
 * const broker = await Broker.open(await readServerList("servers.txt"), { k: 2 });
 * const answer = await broker.get("person1");
 * if (answer.kind === "found") console.log(answer.value);
 * broker.close();
 * ```
 * @module
 */
import type { Credentials } from "../protocol/credentials.ts";
import assert from "node:assert/strict";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import { Placement } from "./placement.ts";
import type { ServerAddress } from "./server_list.ts";
import {
  type CallOutcome,
  type Connector,
  type ServerConnection,
  ServerPool,
} from "./server_pool.ts";
import { compareKeys } from "../base/utf8.ts";
import type { Value } from "../record/value.ts";
import { decodeValue } from "../record/value_codec.ts";
import { DecodeError } from "../base/bytes.ts";
import { compareVersions, newerVersion, type Version } from "../record/version.ts";
import type { DeleteResult, EncodedRead, PutResult } from "../protocol/mod.ts";
import { HybridClock } from "./clock.ts";

/**
 * Most times one PUT or DELETE is sent with a fresh version after a replica answered
 * STALE (another broker wrote the key with a newer or equal version meanwhile). Each
 * attempt moves the clock past every version seen, so a second attempt only meets a
 * write that was made after the first; more than a few means a key written nonstop.
 */
export const MAX_WRITE_ATTEMPTS = 5;

/**
 * Most read repairs in flight at once. Each holds a few requests on the connections the
 * reads share; past this, a read that finds stale replicas leaves them for a later read
 * (or `kv repair`) rather than let repairs crowd out answers after a mass failure.
 */
export const MAX_READ_REPAIRS_IN_FLIGHT = 64;

/** Options for {@link Broker.open}. */
export interface BrokerOptions {
  /** Replication factor: servers per record, 1 ≤ k ≤ servers. */
  k: number;
  /** Connect and request timeout in ms; default `DEFAULT_TIMEOUT_MS` (1000). */
  timeoutMs?: number;
  /** How to open a connection; default `connectServerClient`. */
  connect?: Connector;
  /** Receives a line when a server goes down or comes back; default: nothing. */
  log?: (message: string) => void;
  /** Secret and TLS CA for every connection (resolveCredentials); default none. */
  credentials?: Credentials;
  /** The clock that stamps writes; default a new one with a random broker id. */
  clock?: HybridClock;
}

/** The answer to GET or QUERY. */
export type Lookup =
  | { readonly kind: "found"; readonly value: Value; readonly version: Version }
  | {
    readonly kind: "not-found";
    /** The version of the newest tombstone (or record without the path) seen, if any. */
    readonly version?: Version;
    readonly warning?: string;
  }
  | { readonly kind: "error"; readonly error: string };

/**
 * The answer to GET or QUERY with the value of the newest version among the replicas
 * as its replica encoded it (`lib/record/value_codec.ts`), not yet decoded or checked:
 * a caller that prints JSON writes it straight from these bytes.
 */
export type EncodedLookup =
  | {
    readonly kind: "found";
    readonly encoded: Uint8Array;
    readonly version: Version;
    readonly server: string;
  }
  | {
    readonly kind: "not-found";
    /** The version of the newest tombstone (or record without the path) seen, if any. */
    readonly version?: Version;
    readonly warning?: string;
  }
  | { readonly kind: "error"; readonly error: string };

/** The answer to PUT or DELETE: done at `version` on every replica, or an error. */
export type Change =
  | { readonly kind: "done"; readonly existed: boolean; readonly version: Version }
  | { readonly kind: "error"; readonly error: string };

/** The answer to KEYS. */
export interface KeysAnswer {
  /** Matching keys in byte order, at most the requested limit. */
  readonly keys: string[];
  /** Whether more keys match than were listed. */
  readonly more: boolean;
  /** Set when servers did not answer and keys may be missing. */
  readonly warning?: string;
}

/** One server's line in the SERVERS answer. */
export type ServerReport =
  | {
    readonly server: string;
    readonly up: true;
    readonly records: number;
    readonly latencyMs: number;
  }
  | { readonly server: string; readonly up: false; readonly error: string };

/**
 * Replicated operations over a fixed list of servers.
 *
 * @example
 * ```ts
 * const broker = await Broker.open(servers, { k: 2 });
 * await broker.put("person1", int(22)); // { kind: "done", existed: true }
 * await broker.query(["person1"]); // { kind: "found", value: { kind: "int", value: 22 } }
 * broker.close();
 * ```
 */
export class Broker {
  readonly #pool: ServerPool;
  readonly #placement: Placement;
  readonly #k: number;
  readonly #clock: HybridClock;
  /** The read repairs in flight, by key: at most MAX_READ_REPAIRS_IN_FLIGHT. */
  readonly #repairs = new Map<string, Promise<void>>();

  /**
   * Wraps a started pool. Most callers want {@link Broker.open}.
   *
   * @param pool connections to the servers.
   * @param k replication factor, 1 ≤ k ≤ servers.
   * @param clock stamps writes; default a new clock with a random broker id.
   */
  constructor(pool: ServerPool, k: number, clock: HybridClock = new HybridClock()) {
    assert(Number.isInteger(k) && k >= 1 && k <= pool.servers.length, `bad k ${k}`);
    this.#pool = pool;
    this.#k = k;
    this.#clock = clock;
    this.#placement = new Placement(pool.servers.map((server) => server.identity));
  }

  /**
   * Connects to `servers` (waiting at most about one timeout) and returns a
   * broker; servers that could not be reached are retried in the background.
   *
   * @example
   * ```ts
   * const broker = await Broker.open(servers, { k: 2, timeoutMs: 500 });
   * ```
   */
  static async open(servers: readonly ServerAddress[], options: BrokerOptions): Promise<Broker> {
    const pool = new ServerPool(servers, {
      timeoutMs: options.timeoutMs,
      connect: options.connect,
      log: options.log,
      credentials: options.credentials,
    });
    await pool.start();
    return new Broker(pool, options.k, options.clock);
  }

  /** The clock that stamps this broker's writes (the indexer stamps records with it). */
  get clock(): HybridClock {
    return this.#clock;
  }

  /** The replication factor. */
  get k(): number {
    return this.#k;
  }

  /** The connections (for the indexer and for status). */
  get pool(): ServerPool {
    return this.#pool;
  }

  /**
   * Every server (indexes into `pool.servers`) ranked for `partition`, best first: a
   * key of the partition lives on the first k, and writes and reads walk further down
   * when those are unreachable. A view of the placement's table: do not modify.
   *
   * @example
   * ```ts
   * broker.preferenceList(partitionOf("person1")).slice(0, broker.k); // its replicas
   * ```
   */
  preferenceList(partition: number): Uint16Array {
    return this.#placement.preferenceList(partition);
  }

  /** Indexes (into `pool.servers`) of the k servers that hold `key`, in the order reads try them. */
  replicasOf(key: string): number[] {
    return this.#placement.replicas(key, this.#k);
  }

  /** Like {@link Broker.replicasOf}, into `out` (of length k): no array per call. */
  replicasInto(key: string, out: Uint32Array): void {
    // A plain check rather than node:assert: this runs once per record.
    if (out.length !== this.#k) throw new RangeError(`${out.length} slots for ${this.#k} replicas`);
    this.#placement.replicasInto(key, out);
  }

  /** The record stored under `key`. */
  async get(key: string): Promise<Lookup> {
    return decodeLookup(await this.getEncoded(key));
  }

  /** Like {@link Broker.get}, with the value as the answering replica encoded it. */
  getEncoded(key: string): Promise<EncodedLookup> {
    return this.#lookup(key, (connection) => connection.getEncoded(key));
  }

  /** The value at `path`: the record key, then field names (`["person1", "age"]`). */
  async query(path: readonly string[]): Promise<Lookup> {
    return decodeLookup(await this.queryEncoded(path));
  }

  /** Like {@link Broker.query}, with the value as the answering replica encoded it. */
  queryEncoded(path: readonly string[]): Promise<EncodedLookup> {
    assert(path.length >= 1, "a query path starts with a key");
    const segments = [...path];
    return this.#lookup(path[0], (connection) => connection.queryEncoded(segments));
  }

  /** Deletes `key` (a tombstone) on all its replicas, or on none when one is unreachable. */
  delete(key: string): Promise<Change> {
    return this.#change(
      key,
      "delete",
      (connection, version) => connection.delete(key, { version }),
    );
  }

  /** Stores `value` under `key` on all its replicas (replacing it), or on none. */
  put(key: string, value: Value): Promise<Change> {
    return this.#change(
      key,
      "put",
      (connection, version) => connection.put(key, value, { version }),
    );
  }

  /**
   * Up to `limit` keys starting with `prefix` and sorting after `after` (empty: from the
   * start), merged from every server, in byte order. Paging passes the last key listed.
   */
  async keys(prefix: string, limit: number, after = ""): Promise<KeysAnswer> {
    assert(Number.isInteger(limit) && limit >= 1 && limit <= MAX_KEYS_LIMIT, `bad limit ${limit}`);
    const requested = Math.min(limit + 1, MAX_KEYS_LIMIT);
    const outcomes = await Promise.all(
      this.#pool.servers.map((_, index) =>
        this.#pool.call(index, (connection) =>
          connection.keys(
            after === "" ? { prefix, limit: requested } : { prefix, limit: requested, after },
          ))
      ),
    );
    const merged: string[] = [];
    const failures: string[] = [];
    let someServerFull = false;
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        failures.push(outcome.error);
        continue;
      }
      if (outcome.value.length >= requested) someServerFull = true;
      merged.push(...outcome.value);
    }
    merged.sort(compareKeys);
    const keys: string[] = [];
    for (const key of merged) {
      if (keys.length > 0 && keys[keys.length - 1] === key) continue;
      keys.push(key);
    }
    const more = keys.length > limit || (someServerFull && requested === limit);
    const answer = { keys: keys.slice(0, limit), more };
    if (failures.length < this.#k) return answer;
    return {
      ...answer,
      warning: `${failures.length} of ${this.#pool.servers.length} servers did not answer ` +
        `(${failures.join("; ")}); keys stored only on them are missing`,
    };
  }

  /** Every server's state: up with its record count and PING latency, or down and why. */
  servers(): Promise<ServerReport[]> {
    return Promise.all(this.#pool.servers.map(async (server, index) => {
      const outcome = await this.#pool.call(index, async (connection) => {
        const [latencyMs, stats] = await Promise.all([connection.ping(), connection.stats()]);
        return { latencyMs, records: stats.recordCount };
      });
      if (!outcome.ok) {
        // The pool's reason, when it has one, does not repeat the server's name.
        const error = this.#pool.downReason(index) ?? outcome.error;
        return { server: server.id, up: false, error } as const;
      }
      const { records, latencyMs } = outcome.value;
      return { server: server.id, up: true, records, latencyMs } as const;
    }));
  }

  /** How many read repairs are in flight now. */
  get repairsInFlight(): number {
    return this.#repairs.size;
  }

  /**
   * Resolves when every read repair started so far has finished (or failed: a repair
   * that cannot reach a replica is left for a later read or `kv repair`).
   *
   * @example
   * ```ts
   * await broker.get("person1"); // replicas disagreed: a repair starts
   * await broker.repairsSettled(); // now they agree
   * ```
   */
  async repairsSettled(): Promise<void> {
    while (this.#repairs.size > 0) await Promise.all(this.#repairs.values());
  }

  /** Closes every connection. */
  close(): void {
    this.#pool.close();
  }

  /**
   * Asks every replica of `key` at once and, once each has answered or failed, answers
   * the newest version among the answers: its value, or NOT FOUND when that is a
   * tombstone (or a record without the queried path).
   */
  async #lookup(
    key: string,
    request: (connection: ServerConnection) => Promise<EncodedRead>,
  ): Promise<EncodedLookup> {
    const replicas = this.replicasOf(key);
    const outcomes = await Promise.all(replicas.map((index) => this.#pool.call(index, request)));
    let newest: EncodedRead | undefined;
    let newestServer = "";
    let notFoundCount = 0;
    const unreachable: string[] = [];
    const refused: string[] = [];
    outcomes.forEach((outcome, position) => {
      if (!outcome.ok) {
        (outcome.unreachable ? unreachable : refused).push(outcome.error);
        return;
      }
      const answer = outcome.value;
      if (answer.encoded === undefined) notFoundCount++;
      if (answer.version === undefined) return;
      if (newest?.version === undefined || compareVersions(answer.version, newest.version) > 0) {
        newest = answer;
        newestServer = this.#pool.servers[replicas[position]].id;
      }
    });
    const found: EncodedRead | undefined = newest;
    const version = found?.version;
    if (version !== undefined) this.#clock.observe(version);
    if (version !== undefined) {
      const stale = replicas.filter((_, position) => {
        const outcome = outcomes[position];
        return outcome.ok && (outcome.value.version === undefined ||
          compareVersions(outcome.value.version, version) < 0);
      });
      const source = replicas[
        outcomes.findIndex((outcome) => outcome.ok && outcome.value === found)
      ];
      if (stale.length > 0) this.#startRepair(key, source, stale);
    }
    if (found?.encoded !== undefined && version !== undefined) {
      return { kind: "found", encoded: found.encoded, version, server: newestServer };
    }
    const notFound = this.#notFound(key, notFoundCount, unreachable, refused);
    return version === undefined || notFound.kind !== "not-found"
      ? notFound
      : { ...notFound, version };
  }

  /**
   * Starts copying the newest version of `key`, held by server `source`, to the servers
   * `stale`, unless MAX_READ_REPAIRS_IN_FLIGHT are running or `key` is already being
   * repaired. Never waits: the read that found them answers at once.
   */
  #startRepair(key: string, source: number, stale: number[]): void {
    if (this.#repairs.size >= MAX_READ_REPAIRS_IN_FLIGHT || this.#repairs.has(key)) return;
    const repair = this.#repair(key, source, stale).finally(() => this.#repairs.delete(key));
    this.#repairs.set(key, repair);
  }

  /**
   * Re-reads the whole record (a QUERY saw only a field) or tombstone from `source` and
   * writes it, with its own version and the repair flag, to `stale`: a replica that
   * meanwhile got something newer acknowledges and keeps it, so a repair never undoes a
   * write. Failures are left for a later read: every outcome is a value, none throws.
   */
  async #repair(key: string, source: number, stale: number[]): Promise<void> {
    const read = await this.#pool.call(source, (connection) => connection.getEncoded(key));
    if (!read.ok) return;
    const { encoded, version } = read.value;
    if (version === undefined) return;
    await Promise.all(
      stale.map((index) =>
        this.#pool.call(
          index,
          (connection): Promise<PutResult | DeleteResult> =>
            encoded === undefined
              ? connection.delete(key, { version, repair: true })
              : connection.putEncoded(key, encoded, { version, repair: true }),
        )
      ),
    );
  }

  #notFound(
    key: string,
    notFoundCount: number,
    unreachable: string[],
    refused: string[],
  ): EncodedLookup {
    const failed = [...unreachable, ...refused];
    if (failed.length === 0) return { kind: "not-found" };
    if (notFoundCount === 0 && unreachable.length === 0) {
      return { kind: "error", error: refused.join("; ") };
    }
    if (notFoundCount === 0) {
      return {
        kind: "not-found",
        warning: `no replica of '${key}' answered (${failed.join("; ")}); the record may exist`,
      };
    }
    const downCount = this.#pool.servers.length - this.#pool.upCount;
    if (downCount < this.#k) return { kind: "not-found" };
    return {
      kind: "not-found",
      warning: `${failed.length} of ${this.#k} replicas of '${key}' did not answer ` +
        `(${failed.join("; ")}) and ${downCount} servers are down; the record may exist`,
    };
  }

  async #change(
    key: string,
    verb: "put" | "delete",
    request: (connection: ServerConnection, version: Version) => Promise<PutResult | DeleteResult>,
  ): Promise<Change> {
    const replicas = this.replicasOf(key);
    const pings = await Promise.all(
      replicas.map((index) => this.#pool.call(index, (connection) => connection.ping())),
    );
    const unavailable = pings.filter((outcome) => !outcome.ok).map(describeOutcome);
    if (unavailable.length > 0) {
      return {
        kind: "error",
        error: `cannot ${verb} '${key}': ${unavailable.length} of ${this.#k} replicas ` +
          `unavailable (${unavailable.join("; ")}); nothing was changed`,
      };
    }
    let existed = false;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const version = this.#clock.next();
      const outcomes = await Promise.all(
        replicas.map((index) =>
          this.#pool.call(index, (connection) => request(connection, version))
        ),
      );
      const failures = outcomes.filter((outcome) => !outcome.ok).map(describeOutcome);
      if (failures.length > 0) {
        const appliedCount = outcomes.length - failures.length;
        return {
          kind: "error",
          error: `${verb} of '${key}' reached only ${appliedCount} of ${this.#k} replicas ` +
            `(${failures.join("; ")}); repeat it when the servers are back`,
        };
      }
      let held: Version | undefined;
      for (const outcome of outcomes) {
        if (!outcome.ok) continue;
        const result = outcome.value;
        if (result.kind === "stale") {
          held = held === undefined ? result.version : newerVersion(held, result.version);
        } else if (result.kind === "deleted" && result.existed) existed = true;
      }
      if (held === undefined) return { kind: "done", existed: verb === "put" || existed, version };
      // Another broker wrote the key with a newer or equal version: write again after it.
      this.#clock.observe(held);
    }
    return {
      kind: "error",
      error: `${verb} of '${key}' met a newer write on every one of ${MAX_WRITE_ATTEMPTS} ` +
        `attempts (the key is being written elsewhere); the newest write stands`,
    };
  }
}

function describeOutcome(outcome: CallOutcome<unknown>): string {
  return outcome.ok ? "ok" : outcome.error;
}

/**
 * Decodes a found value; a value its server encoded wrongly is an error answer naming
 * that server (a bug or a hostile peer, never the user's mistake).
 */
function decodeLookup(lookup: EncodedLookup): Lookup {
  if (lookup.kind !== "found") return lookup;
  try {
    return { kind: "found", value: decodeValue(lookup.encoded), version: lookup.version };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    return { kind: "error", error: `${lookup.server} sent a malformed value: ${error.message}` };
  }
}
