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
 * - Reads (GET, QUERY) ask the first k reachable servers of the key's preference
 *   list at once, and further servers down the list until k trustworthy ones
 *   answered (an unrepaired server, which may have lost writes, answers but does
 *   not count) or the list ends; then they answer the newest version among all
 *   answers: a tombstone newer than a record is NOT FOUND, and the clock observes
 *   that version so this broker's next write is newer still. With at most k − 1
 *   servers unreachable or unrepaired the answer is exact and carries no warning;
 *   one the trustworthy answers cannot vouch for (a NOT FOUND that may hide a
 *   record, a record that may have a newer version) carries a warning.
 * - Writes (PUT, DELETE) go to the first k *reachable* servers of the key's
 *   preference list (a sloppy quorum, lib/broker/quorum.ts, which holds the proof
 *   that reads see every acknowledged write): each server is first asked the k it
 *   records (as a PING would be; one recording another k than the broker's has the
 *   broker follow a k `kv repair -k` changed, or refuse the write), and with fewer
 *   than k answering the write is refused before anything changes. A server that fails under the write is replaced by the next one of
 *   the list; the write is acknowledged once k stored it. A copy stored beyond the
 *   first k is a hint ({@link HintSet}): when its home server is back the broker
 *   hands the partition to the repair engine ({@link Broker.requestRepair}). With
 *   the `strict` write rule, writes go to the first k only and are refused when
 *   one of them is down. A server holding a newer or equal version answers STALE
 *   with it: the clock moves past that version and the write is sent again, at
 *   most {@link MAX_WRITE_ATTEMPTS} times, so a write that starts after another
 *   was acknowledged wins even when two brokers stamp the same millisecond.
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
 * for keys on different servers; `kv repair` moves the records.
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
import { wasOrWere } from "../base/plural.ts";
import { invariant } from "../base/invariant.ts";
import type { LogFunction } from "../base/logger.ts";
import { MAX_KEYS_LIMIT } from "../limits.ts";
import { Placement } from "./placement.ts";
import type { ServerAddress } from "./server_list.ts";
import {
  beingRemarked,
  type Connector,
  kChangeRepairMarks,
  markedUnderOldKs,
  type PoolRequest,
  type ServerConnection,
  ServerPool,
} from "./server_pool.ts";
import { compareKeys } from "../base/utf8.ts";
import type { PathMiss } from "../record/query_path.ts";
import type { Value } from "../record/value.ts";
import { decodeValue } from "../record/value_codec.ts";
import { DecodeError } from "../base/bytes.ts";
import { compareVersions, formatVersion, newerVersion, type Version } from "../record/version.ts";
import {
  type DeleteResult,
  type EncodedRead,
  ErrorCode,
  MAX_REPAIR_READ_AGE_MS,
  type PutResult,
} from "../protocol/mod.ts";
import { HybridClock } from "./clock.ts";
import { hashKey, partitionOf, partitionOfHash } from "../record/partition.ts";
import { HintSet } from "./hints.ts";
import {
  agreeOnK,
  BARE_REPAIR,
  defaultKNotice,
  kProblem,
  ksByCount,
  recordedKs,
  recordK,
  settleCommands,
  unrecordedOn,
} from "./cluster_k.ts";
import { markEmptyClusterRepaired } from "./empty_cluster.ts";
import type { PartitionSet } from "./partition_set.ts";
import { conclusiveCount, frontLength, PreferenceWalk, readIsConclusive } from "./quorum.ts";
import {
  askReplicas,
  type ReplicaAnswer,
  type ReplicaFinish,
  type ReplicaReplies,
} from "./replica_read.ts";

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

/**
 * A write's warning when servers that stored it are marked repaired under another server
 * list or k, after their names (see Broker's write path): what it means and what to do.
 */
export const WRITE_UNDER_OTHER_LIST: string = "repaired under another server list or k than this " +
  "client's: clients on that list may not see this write until kv repair -s FILE runs with " +
  "the cluster's server list (give this client that file), and if this client's clock is " +
  "ahead of theirs that repair may let it override a write they made since";

/**
 * How often a running broker asks each server the k it records (SET_K of the k it last
 * told, which changes nothing on a server recording one), in ms: `kv repair -k N` changes
 * it under running brokers, which learn it within about this long even without writing
 * (a write asks its servers first, README "The cluster's k"). The marks of servers
 * repaired under another server list or k are read again as often (ServerPool.recheck).
 */
export const K_CHECK_INTERVAL_MS = 1_000;

/**
 * Which servers a write goes to: `sloppy`, the first k reachable of the key's
 * preference list (writes go on while up to k − 1 servers are down); `strict`, the
 * key's first k only, refused when one of them is down (the original project's rule).
 */
export type WriteRule = "sloppy" | "strict";

/** The write rules, for flag parsers: {@link WriteRule}. */
export const WRITE_RULES: readonly WriteRule[] = ["sloppy", "strict"];

/** Why the broker asks the repair engine to look at a server's partitions. */
export type RepairReason = "hint";

/**
 * Partitions of one server that the repair engine should bring up to date: for a
 * hint, copies written elsewhere while `server` was unreachable must move home.
 */
export interface RepairRequest {
  /** Index into `pool.servers` of the server the partitions belong on. */
  readonly server: number;
  /** The partitions. */
  readonly partitions: PartitionSet;
  /** Why the partitions need repair. */
  readonly reason: RepairReason;
}

/** Options for {@link Broker.open} and the {@link Broker} constructor. */
export interface BrokerOptions {
  /**
   * Replication factor: servers per record, 1 ≤ k ≤ servers. Default: the k the servers
   * record, else 1 for a new cluster (lib/broker/cluster_k.ts); {@link Broker.open}
   * refuses a k the servers do not record with a ClusterKError, and no k while unreachable
   * servers may record one (a ClusterKUnknownError) unless `readOnly`.
   */
  k?: number;
  /**
   * The broker only reads records (the one-shot `kv get`, `query`, `keys`, `servers`):
   * it never fixes the cluster's k, only gives the recorded one to servers that lost it
   * (lib/broker/cluster_k.ts); default false.
   */
  readOnly?: boolean;
  /**
   * The broker only shows the servers' state (`kv servers`): as `readOnly`, but it records
   * nothing on them, not even a k the others record, and neither servers recording
   * different ks (a ClusterKConflictError for any other client) nor a recorded k above
   * the servers listed refuse it, so the operator can see each one's k (SERVERS says what
   * is wrong). It uses the recorded k (at most the servers listed), else the requested k,
   * else `DEFAULT_K`. Default false.
   */
  statusOnly?: boolean;
  /** Which servers writes go to, see {@link WriteRule}; default `sloppy`. */
  writes?: WriteRule;
  /**
   * Receives every {@link RepairRequest} (the repair engine); default: none, and hinted
   * partitions wait for `kv repair`.
   */
  onRepairNeeded?: (request: RepairRequest) => void;
  /** Connect and request timeout in ms; default `DEFAULT_TIMEOUT_MS` (1000). */
  timeoutMs?: number;
  /** How to open a connection; default `connectServerClient`. */
  connect?: Connector;
  /**
   * Told of the cluster's events, each with its level (`warn` for a server down or not
   * trusted, writes refused; `info` for one back up or trusted again, a k followed):
   * servers down and back, marks, k changes; default: nothing.
   */
  log?: LogFunction;
  /**
   * The `kv repair` command over this client's server list and credentials
   * (`kv repair -s servers.txt`), which refusals and log lines advising a repair name;
   * default `kv repair` (`BARE_REPAIR`), the server file left to the reader.
   */
  repairCommand?: string;
  /** Secret and TLS CA for every connection (resolveCredentials); default none. */
  credentials?: Credentials;
  /** The clock that stamps writes; default a new one with a random broker id. */
  clock?: HybridClock;
}

/** The answer to GET or QUERY. */
export type Lookup =
  | {
    readonly kind: "found";
    readonly value: Value;
    readonly version: Version;
    /** Set when a newer version may exist on servers the read could not count. */
    readonly warning?: string;
  }
  | NoRecord;

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
    /** Set when a newer version may exist on servers the read could not count. */
    readonly warning?: string;
  }
  | NoRecord;

/** A {@link Lookup} or {@link EncodedLookup} that found nothing, or failed. */
export type NoRecord =
  | {
    readonly kind: "not-found";
    /** The version of the newest tombstone (or record without the path) seen, if any. */
    readonly version?: Version;
    /**
     * A QUERY's: set when the newest version seen is a record without the path, saying
     * why (the first segment it cannot take: a field missing there, or a leaf in the way),
     * as the replica holding that version answered. Unset for a GET, a tombstone, or no
     * version at all: no record.
     */
    readonly miss?: PathMiss;
    /** Set when the record may exist on servers the read could not count. */
    readonly warning?: string;
    /**
     * Set (with `warning`) when the read learned nothing about the key: none of its k
     * replicas answered, or none that can be trusted, and no server further down its list
     * held a record or tombstone of it. Such a NOT FOUND is no answer, and the library
     * throws it as a KvUnavailableError (lib/client/core.ts); a partial answer (a replica
     * that answered, a copy found elsewhere) is not marked.
     */
    readonly unanswered?: true;
  }
  | { readonly kind: "error"; readonly error: string };

/**
 * The answer to PUT or DELETE: done at `version` on every replica, or an error;
 * `refused` when every server asked refused the request itself (a record over their
 * frame limit), so that repeating it cannot succeed, and nothing was changed.
 */
export type Change =
  | {
    readonly kind: "done";
    readonly existed: boolean;
    readonly version: Version;
    /**
     * Set when the servers that answered cannot vouch for every write acknowledged before
     * this one (as a read's NOT FOUND): one of them may carry a later version and win over
     * this one, and a DELETE that found no record may have deleted one all the same. Also
     * set when the write was stored beyond its key's front or on servers marked under
     * another server list or k.
     */
    readonly warning?: string;
    /**
     * The servers (indexes into the pool) that stored it while marked repaired under another
     * server list or k than this broker's, which the warning names; unset when none. A load
     * (lib/broker/indexer.ts) counts its records by them rather than repeat each warning.
     */
    readonly unseenOn?: readonly UnseenOn[];
  }
  | { readonly kind: "error"; readonly error: string; readonly refused?: boolean };

/**
 * A server that stored a write while marked repaired under another server list or k than the
 * broker's, and why, judged when the write's answer was made (Broker#unseenElsewhere): a
 * repair's mark closes the server's connections, so by the time a load counts the answer the
 * server may be reconnecting, its mark unknown.
 *
 * @example
 * ```ts
 * const unseen: UnseenOn = { index: 0, cause: "k", oldK: 2 };
 * ```
 */
export type UnseenOn =
  /** Being re-marked by a kv repair (one changing the server list or k, or refilling it). */
  | { readonly index: number; readonly cause: "changing" }
  /** Marked under another set of servers. */
  | { readonly index: number; readonly cause: "list" }
  /** Marked under this list with `oldK`, the k before kv repair -k changed it. */
  | { readonly index: number; readonly cause: "k"; readonly oldK: number };

/** The answer to KEYS. */
export interface KeysAnswer {
  /** Matching keys in byte order, at most the requested limit. */
  readonly keys: string[];
  /** Whether more keys match than were listed. */
  readonly more: boolean;
  /** Set when k or more servers did not answer or are not yet repaired: keys may be missing. */
  readonly warning?: string;
  /**
   * Set, with the warning, when the page is empty and no server that can be trusted answered:
   * it learned nothing, as a GET none of whose replicas answered (`unanswered` there).
   */
  readonly unanswered?: true;
}

/**
 * Decimals a PING latency keeps: a hundredth of a millisecond is finer than one PING can
 * tell, and every reader (SERVERS, GET /v1/servers, the library) then shows the same figure.
 */
export const LATENCY_DIGITS = 2;

function roundLatency(latencyMs: number): number {
  const scale = 10 ** LATENCY_DIGITS;
  return Math.round(latencyMs * scale) / scale;
}

/** One server's line in the SERVERS answer. */
export type ServerReport =
  | {
    readonly server: string;
    readonly up: true;
    readonly records: number;
    /** PING's round trip in ms, to {@link LATENCY_DIGITS} decimals. */
    readonly latencyMs: number;
    /**
     * False while the server may lack writes it once acknowledged (not yet repaired), was
     * repaired under another server list (see `repairedUnderOtherList`), or is being
     * re-marked by a `kv repair` (see `beingRemarked`).
     */
    readonly repaired: boolean;
    /**
     * True when the server was marked repaired under another server list (or k) than this
     * broker's: it may lack every write this list places on it, so it is not trusted until
     * `kv repair -s FILE` over this list marks it.
     */
    readonly repairedUnderOtherList: boolean;
    /**
     * True when a `kv repair` that changes the server list or k, or refills a server that
     * may have lost writes, has marked it as being re-marked (`LIST_CHANGE_UNDER_WAY`) and
     * not yet marked it under its list: under way, or stopped before its end.
     */
    readonly beingRemarked: boolean;
    /**
     * True when the server refuses every write (its STATS says so: its data dir cannot be
     * written, or it was out of the cluster too long); it serves reads.
     */
    readonly readOnly: boolean;
    /** The cluster's k as this server records it; 0 when it records none. */
    readonly k: number;
    /** Partitions whose hinted copies wait to move to this server. */
    readonly hints: number;
  }
  | {
    readonly server: string;
    readonly up: false;
    readonly error: string;
    /**
     * Set when the server is running but refused this client's credentials (or this client
     * its TLS certificate): the credentials need fixing, not the server restarting.
     */
    readonly refused?: true;
    /**
     * Set when the server is running but turned this client away with BUSY (at its
     * `--max-connections` or memory budget): it needs room, not restarting.
     */
    readonly busy?: true;
    /** Partitions whose hinted copies wait to move to this server. */
    readonly hints: number;
  };

/**
 * Replicated operations over a fixed list of servers.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { int } from "../record/value.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * await broker.put("person1", int(22)); // { kind: "done", existed: true }
 * await broker.query(["person1"]); // { kind: "found", value: { kind: "int", value: 22 } }
 * broker.close();
 * ```
 */
export class Broker {
  readonly #pool: ServerPool;
  readonly #placement: Placement;
  #k: number;
  /** Adopts a k that every reachable server comes to record (opened without a k). */
  readonly #followsK: boolean;
  /** Why writes are refused while the servers record another k than #k, if they are. */
  #kRefusal: string | undefined;
  /** The check of the servers' k under way, which callers share. */
  #kCheck: Promise<void> | undefined;
  readonly #kTimer: ReturnType<typeof setInterval>;
  /** Each tick of #kTimer also asks the servers whether they take writes (watchWrites). */
  #watchesWrites = false;
  readonly #clock: HybridClock;
  readonly #writes: WriteRule;
  readonly #onRepairNeeded: (request: RepairRequest) => void;
  /** Whether hints go to a repair engine ({@link BrokerOptions.onRepairNeeded} given). */
  readonly #handsOffHints: boolean;
  readonly #log: LogFunction;
  /** The repair command refusals and logs name (BrokerOptions.repairCommand). */
  readonly #repairCommand: string;
  readonly #readOnly: boolean;
  /** Only shows the servers' state (`kv servers`): records nothing on them, ever. */
  readonly #statusOnly: boolean;
  #notice: string | undefined;
  /** Lines already logged about servers recording another k: each is logged once. */
  readonly #kConflicts = new Set<string>();
  /** Why each server was last logged untrusted for its mark (#sayMarks), by index. */
  readonly #saidMarks = new Map<number, "other list" | "changing">();
  /** The read repairs in flight, by key: at most MAX_READ_REPAIRS_IN_FLIGHT. */
  readonly #repairs = new Map<string, Promise<void>>();
  /** Read repairs started since the broker opened (for metrics). */
  #readRepairsStarted = 0;
  /** (home server, partition) pairs whose copies were written elsewhere. */
  readonly #hints = new HintSet();
  #closed = false;

  /**
   * Wraps a started pool. Most callers want {@link Broker.open}.
   *
   * @param pool connections to the servers.
   * @param options k (1 ≤ k ≤ servers, required here: {@link Broker.open} agrees on it
   * with the servers), `followsK` (adopt a k every reachable server comes to record, as
   * `kv repair -k` makes them; default false: the k is the caller's, and writes are
   * refused while the servers record another) and the rest of {@link BrokerOptions}; the
   * pool's own options (timeout, connector, credentials) are ignored here.
   */
  constructor(
    pool: ServerPool,
    options: BrokerOptions & { readonly k: number; readonly followsK?: boolean },
  ) {
    const k = options.k;
    invariant(Number.isInteger(k) && k >= 1 && k <= pool.servers.length, `bad k ${k}`);
    this.#pool = pool;
    this.#k = k;
    this.#followsK = options.followsK ?? false;
    this.#clock = options.clock ?? new HybridClock();
    this.#writes = options.writes ?? "sloppy";
    this.#onRepairNeeded = options.onRepairNeeded ?? (() => {});
    this.#handsOffHints = options.onRepairNeeded !== undefined;
    this.#log = options.log ?? (() => {});
    this.#repairCommand = options.repairCommand ?? BARE_REPAIR;
    this.#readOnly = (options.readOnly ?? false) || (options.statusOnly ?? false);
    this.#statusOnly = options.statusOnly ?? false;
    this.#placement = Placement.of(pool.servers.map((server) => server.identity));
    // A status check shows each server's mark against the k it records: in a k conflict
    // the one k it reads with would show every server of the other ks as repaired under
    // another list, and tell each to run a repair that would be refused.
    if (options.statusOnly ?? false) pool.trustUnderRecordedK();
    else pool.trustUnder(k);
    this.#watchServers();
    this.#kTimer = setInterval(() => this.#tick(), K_CHECK_INTERVAL_MS);
    // The broker's own work, not this check, decides whether the process lives on.
    Deno.unrefTimer(this.#kTimer);
  }

  /**
   * Connects to `servers` (waiting at most about one timeout), agrees on k with them
   * (lib/broker/cluster_k.ts: a ClusterKError when they record another k), marks a new
   * cluster's servers repaired when it fixes their k (lib/broker/empty_cluster.ts; not
   * `readOnly`) and returns a broker;
   * servers that could not be reached are retried in the background. When none could be
   * used and one refused the credentials, a CredentialsRefusedError: retrying cannot help.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
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
    let k: number;
    let fixedDefault = false;
    try {
      const refused = pool.credentialsRefused();
      if (refused !== undefined) throw refused;
      // Only a client that fixes the k of a new cluster takes its empty servers for a new
      // cluster's (empty_cluster.ts): a reader cannot tell them from new servers about to
      // join a cluster that holds data, where their NOT FOUND must not count until repaired.
      const readOnly = (options.readOnly ?? false) || (options.statusOnly ?? false);
      const fixesK = !readOnly && recordedKs(pool).size === 0;
      k = await agreeOnK(pool, options.k, { readOnly, statusOnly: options.statusOnly });
      pool.trustUnder(k);
      if (fixesK) await markEmptyClusterRepaired(pool);
      // agreeOnK fixes no k over a list reaching one server twice, which callers refuse.
      fixedDefault = fixesK && options.k === undefined && pool.twins().length === 0;
    } catch (error) {
      pool.close();
      throw error;
    }
    // A k asked for is the caller's statement, which a change of the cluster's contradicts.
    const broker = new Broker(pool, { ...options, k, followsK: options.k === undefined });
    if (fixedDefault) {
      const unrecorded = unrecordedOn(pool, k);
      broker.#notice = defaultKNotice(pool.servers.length, unrecorded, broker.#repairCommand);
      // A new cluster's k is news; one some servers could not record is trouble.
      broker.#log(broker.#notice, unrecorded.length === 0 ? "info" : "warn");
    }
    return broker;
  }

  /**
   * What opening the broker has to tell its user, once (a one-shot command prints it; the
   * log got it): set when it fixed `DEFAULT_K` on servers that recorded no k
   * (lib/broker/cluster_k.ts, `defaultKNotice`), else undefined.
   */
  get notice(): string | undefined {
    return this.#notice;
  }

  /** Which servers writes go to. */
  get writes(): WriteRule {
    return this.#writes;
  }

  /** How many (home server, partition) hints wait for their server to come back. */
  get hintCount(): number {
    return this.#hints.size;
  }

  /**
   * Hands `request` to the repair engine ({@link BrokerOptions.onRepairNeeded}): the one
   * way the broker asks for partitions to be repaired.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * import { PartitionSet } from "./partition_set.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * broker.requestRepair({ server: 0, partitions: new PartitionSet([17]), reason: "hint" });
   * ```
   */
  requestRepair(request: RepairRequest): void {
    invariant(request.server >= 0 && request.server < this.#pool.servers.length, "bad server");
    this.#onRepairNeeded(request);
  }

  /** The clock that stamps this broker's writes (the indexer stamps records with it). */
  get clock(): HybridClock {
    return this.#clock;
  }

  /**
   * The replication factor: the one agreed at open, or the one every reachable server
   * records since `kv repair -k` changed it, when the broker follows it.
   */
  get k(): number {
    return this.#k;
  }

  /**
   * Why writes are refused while the servers record another k than this broker's (it was
   * given its k, or cannot use theirs, or they record different ones), else undefined.
   */
  get kRefusal(): string | undefined {
    return this.#kRefusal;
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
   * import { serverAddress } from "./server_list.ts";
   * import { partitionOf } from "../record/partition.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * broker.preferenceList(partitionOf("person1")).slice(0, broker.k); // its replicas
   * ```
   */
  preferenceList(partition: number): Uint16Array {
    return this.#placement.preferenceList(partition);
  }

  /**
   * Indexes (into `pool.servers`) of the k servers that hold `key`, in the order reads try them.
   *
   * @example
   * ```ts ignore
   * const replicas = broker.replicasOf("person1"); // e.g. [2, 0] with k = 2
   * broker.pool.servers[replicas[0]].id; // the server a read of person1 asks first
   * ```
   */
  replicasOf(key: string): number[] {
    return this.#placement.replicas(key, this.#k);
  }

  /**
   * Like {@link Broker.replicasOf}, into `out` (of length k): no array per call.
   *
   * @example
   * ```ts ignore
   * const out = new Uint32Array(broker.k);
   * for (const key of keys) {
   *   broker.replicasInto(key, out); // out[0..k) are the key's replicas, best first
   * }
   * ```
   */
  replicasInto(key: string, out: Uint32Array): void {
    // A plain check rather than node:assert: this runs once per record.
    if (out.length !== this.#k) throw new RangeError(`${out.length} slots for ${this.#k} replicas`);
    this.#placement.replicasInto(key, out);
  }

  /**
   * The record stored under `key`.
   *
   * @example
   * ```ts ignore
   * const lookup = await broker.get("person1");
   * if (lookup.kind === "found") lookup.value; // { kind: "int", value: 22 }, plus its version
   * else if (lookup.kind === "not-found") lookup.warning; // set when a down replica may hold it
   * else lookup.error; // no replica could answer
   * ```
   */
  async get(key: string): Promise<Lookup> {
    return decodeLookup(await this.getEncoded(key));
  }

  /**
   * Like {@link Broker.get}, with the value as the answering replica encoded it.
   *
   * @example
   * ```ts ignore
   * const lookup = await broker.getEncoded("person1");
   * if (lookup.kind === "found") encodedJsonText(lookup.encoded); // "22", no Value made
   * ```
   */
  getEncoded(key: string): Promise<EncodedLookup> {
    return this.#lookup(
      key,
      (connection, settle) => connection.getEncodedTo(key, settle),
      this.#answerRead,
    );
  }

  /**
   * Like {@link Broker.getEncoded}, resolving with what `shape` makes of the lookup
   * (rejecting with what it throws) as the read ends: for a caller that would otherwise
   * await the lookup only to make its own answer of it, one promise and one turn of the
   * microtask queue fewer per read.
   *
   * @example
   * ```ts ignore
   * const found = await broker.getEncodedAs("person1", (lookup) => lookup.kind === "found");
   * ```
   */
  getEncodedAs<T>(key: string, shape: (lookup: EncodedLookup) => T): Promise<T> {
    return this.#lookup(
      key,
      (connection, settle) => connection.getEncodedTo(key, settle),
      (replies, key, list) => shape(this.#answerRead(replies, key, list)),
    );
  }

  /**
   * The value at `path`: the record key, then field names (`["person1", "age"]`).
   *
   * @example
   * ```ts ignore
   * const lookup = await broker.query(["person1", "address", "street"]);
   * if (lookup.kind === "found") lookup.value; // { kind: "string", value: "Main" }
   * ```
   */
  async query(path: readonly string[]): Promise<Lookup> {
    return decodeLookup(await this.queryEncoded(path));
  }

  /**
   * Like {@link Broker.query}, with the value as the answering replica encoded it.
   *
   * @example
   * ```ts ignore
   * const lookup = await broker.queryEncoded(["person1", "address", "city"]);
   * if (lookup.kind === "found") lookup.server; // the replica whose bytes these are
   * ```
   */
  queryEncoded(path: readonly string[]): Promise<EncodedLookup> {
    return this.queryEncodedAs(path, sameLookup);
  }

  /**
   * Like {@link Broker.queryEncoded}, resolving with what `shape` makes of the lookup, as
   * {@link Broker.getEncodedAs}.
   *
   * @example
   * ```ts ignore
   * const city = await broker.queryEncodedAs(["person1", "city"], (lookup) => lookup.kind);
   * ```
   */
  queryEncodedAs<T>(path: readonly string[], shape: (lookup: EncodedLookup) => T): Promise<T> {
    invariant(path.length >= 1, "a query path starts with a key");
    const segments = [...path];
    return this.#lookup(
      path[0],
      (connection, settle) => connection.queryEncodedTo(segments, settle),
      (replies, key, list) => shape(this.#answerRead(replies, key, list)),
    );
  }

  /**
   * Deletes `key` (a tombstone) on k servers, or on none when fewer are reachable.
   *
   * @example
   * ```ts ignore
   * const change = await broker.delete("person1");
   * if (change.kind === "done") change.existed; // false when there was no such record
   * if (change.kind === "done") change.warning; // set when a down replica may have held it
   * else change.error; // fewer than k servers reachable: nothing was deleted
   * ```
   */
  delete(key: string): Promise<Change> {
    return this.#change(
      key,
      "delete",
      (connection, version) => connection.delete(key, { version }),
    );
  }

  /**
   * Stores `value` under `key` on k servers (replacing it), or on none.
   *
   * @example
   * ```ts ignore
   * const change = await broker.put("person1", object([["age", int(22)]]));
   * if (change.kind === "done") change.version; // the write's version, on every replica
   * else change.error; // fewer than k servers reachable: nothing was stored
   * ```
   */
  put(key: string, value: Value): Promise<Change> {
    return this.#change(
      key,
      "put",
      (connection, version) => connection.put(key, value, { version }),
    );
  }

  /**
   * Like {@link Broker.put}, with the value already encoded (`encodeValue`).
   *
   * @example
   * ```ts ignore
   * await broker.putEncoded("person1", encodeValue(int(22))); // { kind: "done", existed, version }
   * ```
   */
  putEncoded(key: string, encoded: Uint8Array): Promise<Change> {
    return this.#change(
      key,
      "put",
      (connection, version) => connection.putEncoded(key, encoded, { version }),
    );
  }

  /**
   * Writes again a record this broker stamped `version` (an indexed record whose copy was
   * lost with its server, refused as STALE, or stored on an unrepaired server): as
   * {@link Broker.putEncoded}, but first at its own version, so that a later write of this
   * broker already stored — a later line of the same key — supersedes it, and the answer is
   * done without writing it over that one. Only a newer version of another broker (or of
   * none this broker stamped after `version`) makes it stamp a fresh version, as a PUT does.
   *
   * @example
   * ```ts ignore
   * await broker.putEncodedAgain("person1", encodeValue(int(22)), version);
   * ```
   */
  putEncodedAgain(key: string, encoded: Uint8Array, version: Version): Promise<Change> {
    invariant(version.broker === this.#clock.broker, "a record this broker stamped");
    return this.#change(
      key,
      "put",
      (connection, version) => connection.putEncoded(key, encoded, { version }),
      version,
    );
  }

  /**
   * Chooses the servers a record of `key` is bulk-loaded to, into `out` (of length k):
   * by the write rule, among servers with a live connection now, recording hints for
   * copies placed beyond the first k. Only within the first min(n, 2k − 1) servers of the
   * key's list (lib/broker/quorum.ts's F): a copy beyond them is acknowledged with a
   * warning, which a PUT gives (Broker#beyondFront). Returns false, with nothing recorded,
   * when fewer than k of those are up, when writes are refused ({@link Broker.kRefusal}), or when `out` was
   * sized for a k the broker no longer uses (kv repair -k changed it). For the indexer:
   * no array per record, and `hash`, the key's {@link hashKey} (default: computed here),
   * is the one it keeps the key in flight by.
   *
   * @example
   * ```ts ignore
   * const targets = new Uint32Array(broker.k);
   * if (broker.writeTargetsInto("person1", targets)) {
   *   // store the record on each server in targets
   * } else {
   *   // fewer than k servers up where reads look: write the record as a PUT
   * }
   * ```
   */
  writeTargetsInto(key: string, out: Uint32Array, hash = hashKey(key)): boolean {
    if (out.length !== this.#k || this.#kRefusal !== undefined) return false;
    const partition = partitionOfHash(hash);
    const list = this.#placement.preferenceList(partition);
    let chosen = 0;
    let beyondHome = false;
    const reach = this.#writes === "strict" ? this.#k : frontLength(list.length, this.#k);
    for (let position = 0; position < reach && chosen < this.#k; position++) {
      if (this.#pool.connection(list[position]) === undefined) continue;
      if (position >= this.#k) beyondHome = true;
      out[chosen++] = list[position];
    }
    if (chosen < this.#k) return false;
    if (beyondHome) this.#recordHints(partition, list, out);
    return true;
  }

  /**
   * Up to `limit` keys starting with `prefix` and sorting after `after` (empty: from the
   * start), merged from every server, in byte order. Paging passes the last key listed.
   *
   * @example
   * ```ts ignore
   * let page = await broker.keys("person", 100);
   * while (page.more) page = await broker.keys("person", 100, page.keys.at(-1));
   * // page.warning is set when a server that may hold keys did not answer
   * ```
   */
  async keys(prefix: string, limit: number, after = ""): Promise<KeysAnswer> {
    invariant(
      Number.isInteger(limit) && limit >= 1 && limit <= MAX_KEYS_LIMIT,
      `bad limit ${limit}`,
    );
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
    // A key is on k servers: it can be missing only when all k failed to list it, by not
    // answering or by answering unrepaired (judged when sent, as reads are), having lost it.
    const failures: string[] = [];
    let someServerFull = false;
    let trusted = 0;
    outcomes.forEach((outcome, index) => {
      if (!outcome.ok) return failures.push(outcome.error);
      if (!outcome.repaired) failures.push(this.#pool.untrustedReason(index));
      else trusted++;
      if (outcome.value.length >= requested) someServerFull = true;
      merged.push(...outcome.value);
    });
    merged.sort(compareKeys);
    const keys: string[] = [];
    for (const key of merged) {
      if (keys.length > 0 && keys[keys.length - 1] === key) continue;
      keys.push(key);
    }
    const more = keys.length > limit || (someServerFull && requested === limit);
    const answer = { keys: keys.slice(0, limit), more };
    if (failures.length < this.#k) return answer;
    const warning = `${failures.length} of ${this.#pool.servers.length} servers did not answer ` +
      `or may have lost writes (${failures.join("; ")}); keys stored only on them are missing`;
    // Nothing listed and no server to vouch for it: the page is no "no keys".
    if (keys.length === 0 && trusted === 0) return { ...answer, warning, unanswered: true };
    return { ...answer, warning };
  }

  /**
   * Every server's state: up with its record count, PING latency and whether it is
   * repaired, or down and why; and the hints waiting for it either way.
   *
   * @example
   * ```ts ignore
   * const down = (await broker.servers()).filter((report) => !report.up);
   * // [{ server: "127.0.0.1:8001", up: false, error: "…", hints: 3 }]
   * ```
   */
  servers(): Promise<ServerReport[]> {
    return Promise.all(this.#pool.servers.map(async (server, index) => {
      // The k asked now, not the one its HELLO told: kv repair -k changes it.
      const outcome = await this.#pool.call(index, async (connection) => {
        const [latencyMs, stats, k] = await Promise.all([
          connection.ping(),
          connection.stats(),
          askRecordedK(connection),
        ]);
        return {
          latencyMs: roundLatency(latencyMs),
          records: stats.recordCount,
          readOnly: stats.readOnly,
          k,
        };
      });
      if (!outcome.ok) {
        // The pool's reason, when it has one, does not repeat the server's name.
        const error = this.#pool.downReason(index) ?? outcome.error;
        const hints = this.#hints.countFor(index);
        if (this.#pool.isBusy(index)) {
          return { server: server.id, up: false, error, busy: true, hints } as const;
        }
        if (this.#pool.refusal(index) === undefined) {
          return { server: server.id, up: false, error, hints } as const;
        }
        return { server: server.id, up: false, error, refused: true, hints } as const;
      }
      const { records, latencyMs, readOnly, k } = outcome.value;
      const state = this.#pool.state(index);
      const distrusted = this.#pool.distrustedFor(index);
      const repaired = state !== undefined && distrusted === undefined;
      // A kv repair's mark while it runs is no list at all, so it is told apart.
      const beingRemarked = distrusted === "other list" && this.#pool.markedChanging(index);
      const repairedUnderOtherList = distrusted === "other list" && !beingRemarked;
      const hints = this.#hints.countFor(index);
      return {
        server: server.id,
        up: true,
        records,
        latencyMs,
        repaired,
        repairedUnderOtherList,
        beingRemarked,
        readOnly,
        hints,
        k,
      } as const;
    }));
  }

  /**
   * Has the broker ask every server up STATS now and every {@link K_CHECK_INTERVAL_MS}
   * from now on (`ServerPool.askWrites`), so that `pool.refusesWrites` is at most about
   * that stale (plus one round trip) for a server no write reached since: for `kv http`'s
   * `/metrics`, which reads it without asking (a scrape a hung server held up was the first
   * try's fault). A write answered READ_ONLY tells it at once either way. Other clients do
   * not ask: `servers()` asks STATS itself.
   *
   * @example
   * ```ts ignore
   * broker.watchWrites();
   * broker.pool.refusingWritesCount; // servers up refusing writes, as last heard
   * ```
   */
  watchWrites(): void {
    this.#watchesWrites = true;
    if (!this.#closed) this.#pool.askWrites();
  }

  /** Each K_CHECK_INTERVAL_MS: the servers' k, and whether they take writes (watchWrites). */
  #tick(): void {
    this.#checkK();
    if (this.#watchesWrites && !this.#closed) this.#pool.askWrites();
  }

  /** How many read repairs were started since the broker opened. */
  get readRepairsStarted(): number {
    return this.#readRepairsStarted;
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
   * import { serverAddress } from "./server_list.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * await broker.get("person1"); // replicas disagreed: a repair starts
   * await broker.repairsSettled(); // now they agree
   * ```
   */
  async repairsSettled(): Promise<void> {
    while (this.#repairs.size > 0) await Promise.all(this.#repairs.values());
  }

  /**
   * Closes every connection.
   *
   * @example
   * ```ts ignore
   * const broker = await Broker.open(await readServerList("serverFile.txt"), { k: 2 });
   * try {
   *   await broker.get("person1");
   * } finally {
   *   broker.close();
   * }
   * ```
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#kTimer);
    this.#pool.close();
  }

  /**
   * Asks the first k reachable servers of `key`'s preference list at once, then further
   * ones until k trustworthy servers answered or the list ended (lib/broker/quorum.ts),
   * and answers the newest version among the answers: its value, or NOT FOUND when that
   * is a tombstone (or a record without the queried path). Unless the trustworthy
   * answers rule out every acknowledged write they did not see, the answer, found or
   * not, carries a warning saying why.
   */
  #lookup<T>(
    key: string,
    request: PoolRequest<EncodedRead>,
    finish: ReplicaFinish<T>,
  ): Promise<T> {
    const list = this.#placement.preferenceList(partitionOf(key));
    return askReplicas(this.#pool, key, list, this.#k, request, finish);
  }

  /**
   * {@link Broker#lookup}'s answer from the `replies` of `key`'s servers (`list`): made
   * once, for every read.
   */
  readonly #answerRead = (
    replies: ReplicaReplies,
    key: string,
    list: Uint16Array,
  ): EncodedLookup => {
    const newest = newestAnswer(replies.answered);
    const version = newest?.read.version;
    if (newest !== undefined && version !== undefined) {
      // A version the clock covers changes nothing: asking first spares observe's reading
      // of the wall clock (Date.now, a call into the runtime) on nearly every read.
      if (!this.#clock.covers(version)) this.#clock.observe(version);
      this.#repairHomes(key, list, newest.position, version, replies.answered);
    }
    if (replies.answered.length === 0 && replies.unreachable === 0 && replies.refused.length > 0) {
      return { kind: "error", error: replies.refused.join("; ") };
    }
    const encoded = newest?.read.encoded;
    const warning = this.#vouched(list, replies) ? undefined : this.#doubt(
      key,
      list,
      replies,
      encoded === undefined ? "the record may exist" : "a newer version may exist",
    );
    if (newest !== undefined && version !== undefined && encoded !== undefined) {
      const server = this.#pool.servers[list[newest.position]].id;
      return warning === undefined
        ? { kind: "found", encoded, version, server }
        : { kind: "found", encoded, version, server, warning };
    }
    if (version === undefined && warning !== undefined && replies.trustedAtHome === 0) {
      // #doubt's "no replica of … answered": and no other server had a version either.
      return { kind: "not-found", warning, unanswered: true };
    }
    const doubt = warning === undefined ? {} : { warning };
    // Why a QUERY's record lacks the path, from the answer whose version the read reports.
    const miss = newest?.read.miss;
    const why = miss === undefined ? {} : { miss };
    return { kind: "not-found", ...(version === undefined ? {} : { version }), ...why, ...doubt };
  };

  /**
   * Whether the trustworthy `replies` of a read of a key whose preference list is `list`
   * rule out every acknowledged write they did not see (lib/broker/quorum.ts).
   */
  #vouched(list: Uint16Array, replies: ReplicaReplies): boolean {
    return replies.trustedInFront >= conclusiveCount(list.length, this.#k);
  }

  /**
   * Why a read of `key` cannot vouch that it saw every acknowledged write, ending with
   * what may follow: the record may exist (NOT FOUND), a newer version may (found), or
   * the record may have existed (a DELETE's probe, {@link Broker#probe}).
   */
  #doubt(key: string, list: Uint16Array, replies: ReplicaReplies, consequence: string): string {
    const { answered, reasons } = replies;
    const why = reasons.length === 0 ? "" : ` (${reasons.join("; ")})`;
    if (replies.trustedAtHome === 0) {
      const distrusted = answered.some(({ position }) => position < this.#k);
      return `no replica of '${key}' answered${distrusted ? " that can be trusted" : ""}${why}; ` +
        consequence;
    }
    const front = frontLength(list.length, this.#k);
    const missing = front - replies.trustedInFront;
    return `${missing} of the first ${front} servers for '${key}' did not answer or cannot ` +
      `be trusted${why}; ${consequence}`;
  }

  /**
   * Starts read repair of the home servers (first k of `list`) among those that
   * answered older than `version` (or nothing); the newest is re-read from the server at
   * `source`. Copies beyond the first k are left to hinted handoff and `kv repair`.
   */
  #repairHomes(
    key: string,
    list: Uint16Array,
    source: number,
    version: Version,
    answered: readonly ReplicaAnswer[],
  ): void {
    // Made for the first stale copy: most reads find none.
    let stale: number[] | undefined;
    for (const { position, read } of answered) {
      if (position >= this.#k || position === source) continue;
      if (read.version === undefined || compareVersions(read.version, version) < 0) {
        (stale ??= []).push(list[position]);
      }
    }
    if (stale !== undefined) this.#startRepair(key, list[source], stale);
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
    this.#readRepairsStarted++;
  }

  /**
   * Re-reads the whole record (a QUERY saw only a field) or tombstone from `source`, and
   * `stale` at the same time, and writes it, with its own version and the repair flag, to
   * those still older: a replica that meanwhile got something newer acknowledges and
   * keeps it, so a repair never undoes a write. A write is sent only within
   * MAX_REPAIR_READ_AGE_MS of these reads (a broker stopped or stalled longer drops it):
   * sent later, a delete could have reached the replica since and its tombstone been
   * purged, and the older record would come back (docs/protocol.md, DELETE). Failures are
   * left for a later read: every outcome is a value, none throws.
   */
  async #repair(key: string, source: number, stale: number[]): Promise<void> {
    const readAt = performance.now();
    const [read, ...held] = await Promise.all(
      [source, ...stale].map((index) =>
        this.#pool.call(index, (connection) => connection.getEncoded(key))
      ),
    );
    if (!read.ok) return;
    const { encoded, version } = read.value;
    if (version === undefined) return;
    const behind = stale.filter((_, at) => {
      const answer = held[at];
      return answer.ok &&
        (answer.value.version === undefined || compareVersions(answer.value.version, version) < 0);
    });
    await Promise.all(
      behind.map((index) =>
        this.#pool.call(index, (connection): Promise<PutResult | DeleteResult | undefined> => {
          if (performance.now() - readAt > MAX_REPAIR_READ_AGE_MS) {
            return Promise.resolve(undefined);
          }
          return encoded === undefined
            ? connection.delete(key, { version, repair: true })
            : connection.putEncoded(key, encoded, { version, repair: true });
        })
      ),
    );
  }

  /**
   * Writes `key` with a fresh version on k servers chosen by the write rule, again with
   * a newer version when a server holds a newer or equal one (STALE). With `first`, a
   * version this broker stamped before, the first attempt writes at it
   * ({@link Broker.putEncodedAgain}): a server holding it answers STALE with it (the copy
   * is there), one holding a later version of this broker supersedes the write.
   *
   * Its servers are first asked the k they record ({@link Broker#reachable}): one recording
   * another k than this broker's has the broker check every server's ({@link Broker#checkK})
   * and start over with the k it then follows (`rechecked`), or refuse the write
   * ({@link Broker.kRefusal}); a k raised while the write ran has it written again, at its
   * version, to the new k's servers.
   */
  async #change(
    key: string,
    verb: "put" | "delete",
    request: ChangeRequest,
    first?: Version,
    rechecked = false,
  ): Promise<Change> {
    const refused = await this.#refusedForK(key, verb);
    if (refused !== undefined) return refused;
    const partition = partitionOf(key);
    // Why each server of the key's list that did not store the write did not, as last seen:
    // a warning names those of the front the write went past.
    const missed: Missed = new Map();
    const start = await this.#firstServers(partition, key, verb, missed);
    if (start.kind === "otherK") {
      if (rechecked) return kChangingError(verb, key, this.#k);
      await this.#checkK();
      return this.#change(key, verb, request, first, true);
    }
    if (start.kind === "error") return start;
    return this.#writeAfterNewer(key, verb, request, first, partition, start, missed);
  }

  /**
   * The attempts of {@link Broker#change} from the servers it chose, `start`: writes `key`
   * at `first` or a fresh version, again after each newer or equal version a server holds,
   * up to {@link MAX_WRITE_ATTEMPTS}; a server not storing it is noted in `missed`.
   */
  async #writeAfterNewer(
    key: string,
    verb: "put" | "delete",
    request: ChangeRequest,
    first: Version | undefined,
    partition: number,
    start: { list: Uint16Array; walk: PreferenceWalk; servers: number[] },
    missed: Missed,
  ): Promise<Change> {
    const { list, walk } = start;
    let servers = start.servers;
    // What the write replaced, newest first: a record there makes a DELETE's answer DELETED.
    let prior: Prior | undefined;
    const attempts: Version[] = [];
    let existenceLost = false;
    let probed = false;
    // Why the servers that answered cannot vouch that the key held nothing, once probed.
    let doubt: string | undefined;
    let version = first ?? this.#clock.next();
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      attempts.push(version);
      const written = await this.#writeK(
        walk,
        list,
        servers,
        (connection) => request(connection, version),
        missed,
      );
      servers = written.stored;
      this.#recordHints(partition, list, servers);
      const failed = writeFailure(verb, key, written, this.#k, this.#pool.servers);
      if (failed !== undefined) return failed;
      const met = this.#judgeWrite(written.results, version, first !== undefined, attempts);
      prior = newerPrior(prior, met.prior);
      // A DELETE sent again over a closed connection finds itself stored: what that server
      // held before it is lost with the first answer.
      existenceLost ||= verb === "delete" && met.storedBefore;
      let held = met.held;
      // A later write of this broker stands for this one: it competes with others itself.
      if (met.superseded) {
        return this.#unseenElsewhere({ kind: "done", existed: true, version }, servers);
      }
      if (held === undefined && !probed && !this.#meetsEveryWrite(list, written.trusted)) {
        probed = true;
        const probe = await this.#probe(key, version, verb === "delete" && !prior?.record);
        held = probe.newer;
        doubt = probe.doubt;
        prior = newerPrior(prior, notAttempted(probe.prior, attempts));
        if (held !== undefined && first !== undefined && this.#ownSince(held, version)) {
          held = undefined;
        }
      }
      if (held === undefined) {
        const existed = prior?.record === true;
        if (existenceLost && !existed) doubt ??= deletedUnseen(key);
        // A PUT stored beyond the front is told that reads may miss it, which says more.
        const beyondFront = verb === "put" && this.#storedBeyondFront(list, servers);
        const placed = doneChange(verb, existed, version, beyondFront ? undefined : doubt);
        const beyond = this.#beyondFront(verb, placed, list, servers, missed);
        const done = this.#unseenElsewhere(beyond, servers);
        return this.#placedUnderK(done, servers, () => this.#change(key, verb, request, version));
      }
      // Another broker wrote the key with a newer or equal version: write again after it
      // (just after it, when it is too far ahead for the clock to take in).
      const after = this.#clock.after(held);
      if (after === undefined) return newestVersionError(verb, key, held);
      version = after;
    }
    return writtenElsewhereError(verb, key);
  }

  /**
   * Where a write of `key` (in `partition`) starts: the walk down its preference list
   * (only its first k with strict writes) and the first k servers it reaches
   * ({@link Broker#reachable}); "otherK" when one of them records another k than this
   * broker's; the error naming why when fewer than k answer.
   */
  async #firstServers(
    partition: number,
    key: string,
    verb: "put" | "delete",
    missed: Missed,
  ): Promise<
    | { kind: "chosen"; list: Uint16Array; walk: PreferenceWalk; servers: number[] }
    | { kind: "otherK" }
    | Extract<Change, { kind: "error" }>
  > {
    const list = this.#placement.preferenceList(partition);
    const candidates = this.#writes === "strict" ? list.subarray(0, this.#k) : list;
    // A server passed over is named as it was then: by the warning it may be back.
    const reachable = (index: number) => {
      if (this.#writes === "strict" || this.#pool.isReachable(index)) return true;
      missed.set(index, this.#pool.downMessage(index));
      return false;
    };
    const walkList = () => new PreferenceWalk(candidates, reachable);
    let walk = walkList();
    let chosen = await this.#reachable(walk, list, missed);
    if (chosen.servers.length < this.#k) {
      // Servers whose connections were lost a moment ago (this process stalled past its
      // timeout, a blip) are waited for, boundedly, before the write is refused.
      await this.#pool.awaitReconnects(candidates);
      const taken = chosen.servers;
      if (candidates.some((index) => this.#pool.isUp(index) && !taken.includes(index))) {
        walk = walkList();
        chosen = await this.#reachable(walk, list, missed);
      }
    }
    if (chosen.otherK) return { kind: "otherK" };
    if (chosen.servers.length < this.#k) {
      return {
        kind: "error",
        // Replicas reached, not replicas short: the servers named are every one tried, which
        // with sloppy writes can be more than the replicas short.
        error: `cannot ${verb} '${key}': only ${chosen.servers.length} of the ${this.#k} ` +
          `replicas it needs reachable (${joinReasons(chosen.failures, this.#pool.servers)}); ` +
          "nothing was changed",
      };
    }
    return { kind: "chosen", list, walk, servers: chosen.servers };
  }

  /**
   * The error refusing a write of `key` while the servers record another k than this
   * broker's ({@link Broker.kRefusal}), else undefined. A refusal may be a k change caught
   * half way (kv repair -k records it on one server after another), so the servers are
   * asked again first: they may agree by now.
   */
  async #refusedForK(key: string, verb: "put" | "delete"): Promise<Change | undefined> {
    if (this.#kRefusal !== undefined) await this.#checkK();
    if (this.#kRefusal === undefined) return undefined;
    return {
      kind: "error",
      error: `cannot ${verb} '${key}': ${this.#kRefusal}; nothing was changed`,
    };
  }

  /**
   * `done`, a write acknowledged on `servers`; or, when this broker's k was raised past
   * them while the write ran (kv repair -k), the write `again` at its version, placed on
   * the new k's servers, with `done`'s `existed` and warning.
   */
  async #placedUnderK(
    done: Change,
    servers: readonly number[],
    again: () => Promise<Change>,
  ): Promise<Change> {
    if (servers.length >= this.#k || done.kind !== "done") return done;
    const placed = await again();
    if (placed.kind !== "done") return placed;
    const warning = done.warning ?? placed.warning;
    const unseenOn = [...done.unseenOn ?? [], ...placed.unseenOn ?? []].filter((server, at, all) =>
      all.findIndex((other) => other.index === server.index) === at
    );
    return {
      ...placed,
      existed: done.existed,
      ...(warning === undefined ? {} : { warning }),
      ...(unseenOn.length === 0 ? {} : { unseenOn }),
    };
  }

  /**
   * What a write at `version` met on its servers: the newest version held (STALE) of
   * another broker, or of this one when not `again` ({@link Broker.putEncodedAgain}),
   * whether a later write of this broker's own superseded it (only `again`), the newest
   * version a DELETE replaced (`prior`; its own earlier `attempts` left out: a server that
   * stored one answered it, not what the key held before), and whether a server held
   * `version` itself (`storedBefore`):
   * the write, sent again because the connection it went out on closed before its answer
   * (ServerPool sends such a request once more), had been stored by the first send. That is
   * the write in place, not a newer one to write after: written again, a DELETE's second
   * answers said the record it had deleted did not exist.
   */
  #judgeWrite(
    results: readonly (PutResult | DeleteResult)[],
    version: Version,
    again: boolean,
    attempts: readonly Version[],
  ): { held: Version | undefined; superseded: boolean; prior?: Prior; storedBefore: boolean } {
    let held: Version | undefined;
    let superseded = false;
    let prior: Prior | undefined;
    let storedBefore = false;
    for (const result of results) {
      if (result.kind === "stale") {
        const order = compareVersions(result.version, version);
        if (again && this.#ownSince(result.version, version)) superseded ||= order > 0;
        else if (order === 0) storedBefore = true;
        else held = held === undefined ? result.version : newerVersion(held, result.version);
      } else if (result.kind === "deleted" && result.replaced !== undefined) {
        const replaced = { version: result.replaced, record: result.existed };
        prior = newerPrior(prior, notAttempted(replaced, attempts));
      }
    }
    return { held, superseded, prior, storedBefore };
  }

  /**
   * Whether `held` is `version` or a later version of this broker's own clock: a copy of
   * the write itself, or a write this broker made after it (its clock only moves on, and
   * `held` is not past it).
   */
  #ownSince(held: Version, version: Version): boolean {
    if (held.broker !== this.#clock.broker) return false;
    const order = compareVersions(held, version);
    // A newer version stamped just after one beyond the clock's bound (HybridClock.after)
    // may be older in time than this write: the clock never got there.
    return order === 0 || (order > 0 && this.#clock.covers(held));
  }

  /**
   * Whether a write stored on the trustworthy servers `trusted` met every write
   * acknowledged before it (lib/broker/quorum.ts, step 5): they are a conclusive set, so
   * one of them holds each such write's version or a newer one and would have answered
   * STALE. Not so when a server written to is unrepaired, or beyond the list's front.
   */
  #meetsEveryWrite(list: Uint16Array, trusted: readonly number[]): boolean {
    const positions = trusted.map((index) => list.indexOf(index));
    return readIsConclusive(positions, list.length, this.#k);
  }

  /**
   * What a read of `key` finds (asking down the list until k trustworthy servers
   * answered, as GET) for a write at `version` whose own servers could not vouch for
   * every earlier write: the newer version it must be stamped after, if any; the newest
   * version older than the write and whether it is a record (`prior`), when the servers
   * that answered vouch for that; else why they cannot (the GET rule, {@link Broker#lookup}),
   * as the write's warning: that the record may have existed, for a `deleteFoundNothing`;
   * that a write held by servers it could not ask may win over this one, when some server
   * of the key's list did not answer ({@link unvouchedWrite}). Servers that answered told
   * every version they hold, so when all did, no later one is hidden: a PUT then carries
   * no warning (a lone new server that could not be marked repaired, say).
   */
  #probe(
    key: string,
    version: Version,
    deleteFoundNothing: boolean,
  ): Promise<{ newer: Version | undefined; prior?: Prior; doubt: string | undefined }> {
    return this.#lookup(
      key,
      (connection, settle) => connection.getEncodedTo(key, settle),
      (replies, key, list) => {
        const found = this.#answerRead(replies, key, list);
        const newer = found.kind !== "error" && found.version !== undefined &&
            compareVersions(found.version, version) > 0
          ? found.version
          : undefined;
        const before = newestAnswer(
          replies.answered.filter(({ read }) =>
            read.version !== undefined && compareVersions(read.version, version) < 0
          ),
        );
        const vouched = this.#vouched(list, replies);
        // Only answers that vouch tell what the key held: an unrepaired server may have
        // lost the tombstone that deleted a record it holds.
        const prior = vouched && before?.read.version !== undefined
          ? { version: before.read.version, record: before.read.encoded !== undefined }
          : undefined;
        const hidden = replies.answered.length < list.length;
        if (vouched || (!hidden && !deleteFoundNothing)) {
          return { newer, prior, doubt: undefined };
        }
        const doubt = this.#doubt(key, list, replies, unvouchedWrite(deleteFoundNothing, hidden));
        return { newer, prior, doubt };
      },
    );
  }

  /**
   * The first k servers `walk` reaches that answer when asked the k they record
   * ({@link askRecordedK}, as a PING would; fewer when the list ends), why the others it
   * tried or skipped are unavailable, and whether one answered another k than this
   * broker's: the write must not go there with this k.
   */
  async #reachable(
    walk: PreferenceWalk,
    list: Uint16Array,
    missed: Missed,
  ): Promise<{ servers: number[]; failures: string[]; otherK: boolean }> {
    const servers: number[] = [];
    const failures: string[] = [];
    let otherK = false;
    for (let asked = walk.take(this.#k); asked.length > 0;) {
      const answers = await Promise.all(
        asked.map((position) => this.#pool.call(list[position], askRecordedK)),
      );
      answers.forEach((outcome, at) => {
        if (!outcome.ok) {
          missed.set(list[asked[at]], outcome.error);
          return failures.push(outcome.error);
        }
        servers.push(list[asked[at]]);
        if (outcome.value !== 0 && outcome.value !== this.#k) otherK = true;
      });
      if (otherK) break;
      if (servers.length >= this.#k) break;
      asked = walk.take(this.#k - servers.length);
    }
    for (const position of walk.skipped) {
      failures.push(this.#pool.downMessage(list[position]));
    }
    return { servers, failures, otherK };
  }

  /**
   * Sends `write` to `servers`, replacing each that fails by the next server `walk`
   * reaches, until k stored it or the walk ends; a server that answered STALE counts as
   * stored (it holds something newer, and the caller writes again). A server that
   * restarted after it stored the write, or whose connection closed and that cannot be
   * reached again, counts as failed too (see {@link dropLostCopies}).
   */
  async #writeK(
    walk: PreferenceWalk,
    list: Uint16Array,
    servers: readonly number[],
    write: (connection: ServerConnection) => Promise<PutResult | DeleteResult>,
    missed: Missed,
  ): Promise<WrittenReplicas> {
    const copies: WrittenCopy[] = [];
    const failures: string[] = [];
    let tooLarge = true;
    let diskReadOnly = false;
    for (let targets = [...servers]; targets.length > 0;) {
      const outcomes = await Promise.all(
        targets.map((index) => this.#pool.call(index, write)),
      );
      outcomes.forEach((outcome, at) => {
        if (!outcome.ok) {
          if (outcome.code !== ErrorCode.TOO_LARGE) tooLarge = false;
          if (outcome.code === ErrorCode.READ_ONLY) diskReadOnly = true;
          missed.set(targets[at], outcome.error);
          return failures.push(outcome.error);
        }
        const { value: read, repaired: trusted, connection } = outcome;
        copies.push({ index: targets[at], read, trusted, connection });
      });
      if (copies.length >= this.#k) await dropLostCopies(copies, failures, missed, this.#pool);
      if (copies.length >= this.#k) break;
      targets = walk.take(this.#k - copies.length).map((position) => list[position]);
    }
    return {
      stored: copies.map((copy) => copy.index),
      trusted: copies.filter((copy) => copy.trusted).map((copy) => copy.index),
      results: copies.map((copy) => copy.read),
      failures,
      tooLarge: tooLarge && failures.length > 0,
      diskReadOnly,
    };
  }

  /**
   * Records a hint for each home server of `partition` (first k of `list`) missing from
   * `stored` when a copy went beyond the first k, and hands over at once those of home
   * servers already back.
   */
  #recordHints(partition: number, list: Uint16Array, stored: ArrayLike<number>): void {
    let beyondHome = false;
    for (let i = 0; i < stored.length; i++) {
      if (list.indexOf(stored[i]) >= this.#k) beyondHome = true;
    }
    if (!beyondHome) return;
    for (let position = 0; position < this.#k; position++) {
      const home = list[position];
      if (Array.prototype.includes.call(stored, home)) continue;
      this.#hints.add(home, partition);
      if (this.#pool.isUp(home)) queueMicrotask(() => this.#handOff(home));
    }
  }

  /**
   * `change` with a warning added when a server of `stored` lies beyond the first
   * min(n, 2k − 1) servers of `list`, the front a read counts on (lib/broker/quorum.ts,
   * step 1), and fewer than k lie within it ({@link Broker#storedBeyondFront}): k or more
   * of those were unreachable (passed over) or failed under the write
   * (the record over a frame limit, a full disk, a restart), so once they answer again a
   * read may miss the write, with no warning, until it is moved home. The warning names
   * exactly those, each with why it did not store the write (`missed`). So a write
   * acknowledged without a warning always holds k copies within the front. For a
   * delete, what a read may then find is the record deleted.
   */
  #beyondFront(
    verb: "put" | "delete",
    change: Change,
    list: Uint16Array,
    stored: readonly number[],
    missed: Missed,
  ): Change {
    if (change.kind !== "done" || !this.#storedBeyondFront(list, stored)) return change;
    const front = frontLength(list.length, this.#k);
    const beyond = stored.filter((index) => list.indexOf(index) >= front);
    const pool = this.#pool;
    // Exactly the servers of the front the write went past, each as it failed or was
    // passed over then: every one was (the walk goes down the list in order).
    const why = Array.from(list.subarray(0, front))
      .filter((index) => !stored.includes(index))
      .map((index) => missed.get(index) ?? pool.downMessage(index));
    invariant(why.length > 0, "a copy beyond the front went past a server of the front");
    const ids = beyond.map((index) => pool.servers[index].id).join(", ");
    const mover = this.#handsOffHints
      ? "this broker moves it there once they can store it (kv repair does, if it exits first)"
      : `run ${this.#repairCommand} once they can store it`;
    const [first, those] = front === 1
      ? ["server", "it answers"]
      : [`${front} servers`, "those answer"];
    // A delete's doubt (no replica answered) has named the servers down already.
    const named = why.every((reason) => change.warning?.includes(reason) ?? false)
      ? ""
      : ` (${joinReasons(why, pool.servers)})`;
    const [what, until] = verb === "delete"
      ? ["the deletion was stored", "reads may still find the record deleted until the deletion"]
      : ["stored", "reads may miss this write until it"];
    const warning = `${what} on ${ids}, beyond the first ${first} of the key's list, where ` +
      `reads look${named}: once ${those} again, ${until} is moved home; ${mover}`;
    const warnings = change.warning === undefined ? warning : `${change.warning}; ${warning}`;
    return { ...change, warning: warnings };
  }

  /**
   * Whether a server of `stored` lies beyond the first min(n, 2k − 1) servers of `list`
   * and fewer than k lie within them: a write placed under a larger k, which
   * `kv repair -k` lowered while it ran, holds more than k copies, and k of them within
   * the front are what reads count on (its first k servers, say, one beyond the new front:
   * judged by the copy beyond, it had no server of the front to name and the broker died).
   */
  #storedBeyondFront(list: Uint16Array, stored: readonly number[]): boolean {
    const front = frontLength(list.length, this.#k);
    const within = stored.filter((index) => list.indexOf(index) < front).length;
    return within < stored.length && within < this.#k;
  }

  /**
   * `change` with a warning added when servers that stored it are marked repaired under
   * another server list or k than this broker's: the cluster (or part of it) is on another
   * list, whose clients read this key elsewhere and may not see the write until
   * `kv repair -s` over the cluster's list moves it (README, "kv repair"). Judged on the
   * marks the pool holds now (ServerPool.distrustedFor).
   */
  #unseenElsewhere(change: Change, servers: readonly number[]): Change {
    if (change.kind !== "done") return change;
    const pool = this.#pool;
    const others = servers.filter((index) => pool.distrustedFor(index) === "other list");
    // Marked under this list with the k before kv repair -k changed it: no other list's
    // clients to miss the write, only the change's repair still to mark them.
    const byK = others.filter((index) => pool.markedUnderOldK(index) !== undefined);
    // Marked by a kv repair changing the list or k before it moves copies: it says so.
    const changing = others.filter((index) => pool.markedChanging(index));
    const byList = others.filter((index) => !byK.includes(index) && !changing.includes(index));
    const warnings = [
      ...(change.warning === undefined ? [] : [change.warning]),
      ...(changing.length === 0
        ? []
        : [`${storedOn(pool, changing)} ${beingRemarked(changing.length)}`]),
      ...(byList.length === 0 ? [] : [`${storedOn(pool, byList)} ${WRITE_UNDER_OTHER_LIST}`]),
      ...(byK.length === 0 ? [] : [
        `${storedOn(pool, byK)} ${markedUnderOldKs(pool, byK)} ${
          writeUnderOldK(this.#k, byK.length)
        }`,
      ]),
    ];
    return warnings.length === 0 ? change : {
      ...change,
      warning: warnings.join("; "),
      ...(others.length === 0 ? {} : { unseenOn: others.map((index) => unseenOn(pool, index)) }),
    };
  }

  /**
   * At each change of a server's state: records k on servers that came back recording
   * none (a memory-only server forgets it when restarted; a read-only broker only when
   * the reachable servers recording a k all record k: it never fixes one; a status check
   * never), logs once each server that
   * records another k, and hands the hinted partitions of servers that are up to the
   * repair engine.
   */
  async #watchServers(): Promise<void> {
    // Asked for before each round's work, so a change during it is not missed.
    let change = this.#pool.changed();
    while (!this.#closed) {
      await change;
      change = this.#pool.changed();
      if (this.#closed) return;
      // A server back recording another k than this broker's, as every server is once
      // kv repair -k (whose marks close their connections) changed it, is a change to follow
      // (or refuse) at once, not a conflict to report as one needing a repair.
      if (!this.#statusOnly) this.#settleK();
      this.#sayMarks();
      // A status check records nothing (agreeOnK's statusOnly).
      const kept = this.#statusOnly ? [] : await this.#keepK();
      // Servers that all record one other k are a change this broker followed or refused
      // (#settleK said so and what to do); only servers recording different ks are a
      // conflict for kv repair -k to settle. Told to a broker given -k, that advice
      // would have it undo the change.
      const conflicting = recordedKs(this.#pool).size > 1;
      for (const conflict of conflicting ? kept : []) {
        if (this.#kConflicts.has(conflict)) continue;
        this.#kConflicts.add(conflict);
        const ks = [...new Set([this.#k, ...ksByCount(recordedKs(this.#pool))])];
        this.#log(
          `${conflict}, this broker k=${this.#k}: settle one with ${
            settleCommands(ks, this.#repairCommand)
          }`,
          "warn",
        );
      }
      if (this.#hints.size === 0) continue;
      for (let index = 0; index < this.#pool.servers.length; index++) {
        if (this.#pool.isUp(index)) this.#handOff(index);
      }
    }
  }

  /**
   * Logs each server that this broker stops trusting for its mark — re-marked by a
   * `kv repair` under way (or stopped), or repaired under another server list — once as it
   * happens, and once when it is trusted again: a list change that leaves a running broker
   * on the old file had it walk past every server, warn on every read and fail its health
   * check, its log silent. A server marked under the k before `kv repair -k` changed it is
   * left to the k change's own line.
   */
  #sayMarks(): void {
    const pool = this.#pool;
    for (let index = 0; index < pool.servers.length; index++) {
      const id = pool.servers[index].id;
      const said = this.#saidMarks.get(index);
      if (!pool.isUp(index)) continue;
      const now = pool.distrustedFor(index) !== "other list" ||
          pool.markedUnderOldK(index) !== undefined
        ? undefined
        : pool.markedChanging(index)
        ? "changing"
        : "other list";
      if (now === said) continue;
      if (now === undefined) {
        this.#saidMarks.delete(index);
        if (pool.trusted(index) === true) this.#log(`server ${id} is trusted again`, "info");
        continue;
      }
      this.#saidMarks.set(index, now);
      this.#log(
        now === "changing"
          ? `server ${id} is being re-marked by a kv repair (of another server list or k, or ` +
            "a refill) and is not trusted until that repair ends; if it was stopped, run it again"
          : `server ${id} was repaired under another server list or k than this broker's and ` +
            "is not trusted: if the cluster's list changed, restart this broker with the new " +
            `file; if this broker's file is the new one, run ${this.#repairCommand}`,
        "warn",
      );
    }
  }

  /**
   * Restores this broker's k on servers that came back recording none ({@link recordK}),
   * and returns each server that keeps another. Servers recording different ks are asked
   * again first ({@link Broker#checkK}): `kv repair -k` records its k on every server in
   * one round trip, and a broker that met the servers half way through it (some told
   * already, some not) must not report that as a conflict to settle.
   */
  async #keepK(): Promise<string[]> {
    const restoreOnly = this.#readOnly;
    const kept = await recordK(this.#pool, this.#k, { restoreOnly });
    if (kept.length === 0 || recordedKs(this.#pool).size <= 1) return kept;
    await this.#checkK();
    return await recordK(this.#pool, this.#k, { restoreOnly });
  }

  /**
   * Asks every server that is up and records a k the one it records now (which may have
   * changed under this broker: kv repair -k), then settles this broker's k
   * ({@link Broker#settleK}); then reads again the marks of the servers repaired under
   * another list or k (`ServerPool.recheck`): a connection's HELLO is read once, so
   * without it a `kv repair -s` over this broker's list (or the repair of a k change,
   * which marks anew at its end) would go unnoticed until a reconnect, and this broker
   * would walk past them, warn and hold its background repair for good. So a mark made
   * under this broker's list and k is trusted within {@link K_CHECK_INTERVAL_MS} and one
   * connect. Calls while one runs share it.
   */
  #checkK(): Promise<void> {
    this.#kCheck ??= this.#askK().finally(() => this.#kCheck = undefined);
    return this.#kCheck;
  }

  /** {@link Broker#checkK}'s work. */
  async #askK(): Promise<void> {
    if (this.#closed || this.#statusOnly) return;
    await Promise.all(this.#pool.servers.map((_, index) =>
      // A server recording none is left to #watchServers: asking would record this k.
      (this.#pool.state(index)?.k ?? 0) === 0 ? undefined : this.#pool.call(index, askRecordedK)
    ));
    if (this.#closed) return;
    this.#settleK();
    if (this.#kRefusal !== undefined) return;
    await Promise.all(
      this.#pool.servers.map((_, index) =>
        this.#pool.distrustedFor(index) === "other list" ? this.#pool.recheck(index) : undefined
      ),
    );
    // A recheck that trusts a server again changes no connection, so no pool change says it.
    if (!this.#closed) this.#sayMarks();
  }

  /**
   * Compares the k the reachable servers record with this broker's: when they all record
   * another, a broker that follows the cluster's k adopts it — placing and trusting under
   * it from now on, so servers the change's repair has not yet marked under it are walked
   * past — and any other refuses writes ({@link Broker.kRefusal}), as it refuses them
   * while the servers record different ks.
   */
  #settleK(): void {
    const pool = this.#pool;
    const recorded = pool.servers.map((server, index) => ({
      server: server.id,
      k: pool.state(index)?.k ?? 0,
    }));
    const ks = new Set(recorded.flatMap(({ k }) => k === 0 ? [] : [k]));
    const [only] = ks.size === 1 ? ks : [undefined];
    let refusal = ks.size > 1
      ? kProblem(recorded, pool.servers.length, this.#repairCommand)
      : undefined;
    if (only !== undefined && only !== this.#k) {
      if (this.#followsK && only <= pool.servers.length) {
        this.#log(
          `the servers now record k=${only} (kv repair -k changed it): this broker now ` +
            `writes and reads with k=${only}, not ${this.#k}`,
          "info",
        );
        this.#k = only;
        pool.trustUnder(only);
      } else {
        refusal = this.#followsK
          ? kProblem(recorded, pool.servers.length, this.#repairCommand)
          : `the servers now record k=${only} (kv repair -k changed it), but this broker ` +
            `was given k=${this.#k} (-k, replicas): writes are refused; start it again ` +
            "without -k to follow the cluster's k";
      }
    }
    // A refusal for servers recording different ks is logged by #watchServers, per server.
    if (refusal !== undefined && refusal !== this.#kRefusal && ks.size === 1) {
      this.#log(refusal, "warn");
    }
    this.#kRefusal = refusal;
  }

  /** Hands server `index`'s hinted partitions, if any, to the repair engine. */
  #handOff(index: number): void {
    if (this.#closed) return;
    const partitions = this.#hints.take(index);
    if (partitions !== undefined) this.requestRepair({ server: index, partitions, reason: "hint" });
  }
}

/**
 * The k the server on `connection` records now (0: none), asked without changing it: SET_K
 * of the k it recorded when last heard from, which a server recording one keeps whatever
 * is asked (only `kv repair -k`'s replace changes it); one that recorded none is only
 * PINGed, as asking would record a k.
 */
function askRecordedK(connection: ServerConnection): Promise<number> {
  const known = connection.state.k;
  return known === 0 ? connection.ping().then(() => 0) : connection.setK(known);
}

/**
 * Why server `index`, which stored a write, is distrusted for another server list or k
 * ({@link UnseenOn}), from the marks `pool` holds now.
 */
function unseenOn(pool: ServerPool, index: number): UnseenOn {
  if (pool.markedChanging(index)) return { index, cause: "changing" };
  const oldK = pool.markedUnderOldK(index);
  return oldK === undefined ? { index, cause: "list" } : { index, cause: "k", oldK };
}

/** `stored on A, B, which were` (or `which was`): the start of a write's warning. */
function storedOn(pool: ServerPool, servers: readonly number[]): string {
  const ids = servers.map((index) => pool.servers[index].id).join(", ");
  return `stored on ${ids}, which ${wasOrWere(servers.length)}`;
}

/**
 * The rest of a write's warning when `count` servers that stored it are marked under this
 * server list with the k before `kv repair -k` changed it to `k`: the write is placed
 * right, and what is left is the change's own repair (or one more, if it was stopped).
 */
function writeUnderOldK(k: number, count: number): string {
  const them = count === 1 ? "it" : "them";
  return `this write is placed under k=${k}, but until a repair marks ${them} under it, ` +
    `reads through ${them} carry warnings; ${kChangeRepairMarks(count)}`;
}

/** The lookup itself, for {@link Broker.queryEncoded}. */
function sameLookup(lookup: EncodedLookup): EncodedLookup {
  return lookup;
}

/**
 * Decodes a found value; a value its server encoded wrongly is an error answer naming
 * that server (a bug or a hostile peer, never the user's mistake).
 */
function decodeLookup(lookup: EncodedLookup): Lookup {
  if (lookup.kind !== "found") return lookup;
  try {
    const value = decodeValue(lookup.encoded);
    const doubt = lookup.warning === undefined ? {} : { warning: lookup.warning };
    return { kind: "found", value, version: lookup.version, ...doubt };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    return { kind: "error", error: `${lookup.server} sent a malformed value: ${error.message}` };
  }
}

/** Where a write was stored ({@link Broker#writeK}), and what each server answered. */
interface WrittenReplicas {
  /** The servers that stored it (or answered STALE), as indexes of the pool. */
  readonly stored: number[];
  /** Those of `stored` that could be trusted when it was sent (`CallOutcome`'s `repaired`). */
  readonly trusted: number[];
  /** Each stored server's answer, in the order of `stored`. */
  readonly results: (PutResult | DeleteResult)[];
  /** Why the servers that did not store it failed. */
  readonly failures: string[];
  /** Whether there were failures and every one was a server's refusal of the record's size. */
  readonly tooLarge: boolean;
  /** Whether a server refused it as READ_ONLY: up, but its data dir cannot be written. */
  readonly diskReadOnly: boolean;
}

/** Sends a PUT or DELETE at `version` on `connection`: what {@link Broker#change} writes. */
type ChangeRequest = (
  connection: ServerConnection,
  version: Version,
) => Promise<PutResult | DeleteResult>;

/**
 * Why servers of a key's list (indexes of the pool) did not store a write, as each was last
 * passed over or failed ({@link Broker#change}).
 */
type Missed = Map<number, string>;

/** One server's answer to a write ({@link Broker#writeK}), and the connection it came on. */
interface WrittenCopy {
  /** The server, as an index of the pool. */
  readonly index: number;
  readonly read: PutResult | DeleteResult;
  /** Whether the server could be trusted when the write was sent (`CallOutcome`'s `repaired`). */
  readonly trusted: boolean;
  readonly connection: ServerConnection;
}

/**
 * Removes from `copies` (adding why to `failures`) those whose server process may have
 * died since it stored the write, losing it *before* the write reached the others. A
 * repair that reads the cluster after the server restarted (unrepaired) and marks the
 * new process repaired must then see every write that process's predecessor
 * acknowledged on the other servers; a write whose other copies were still on their way
 * would be missed, and the repaired server's NOT FOUND would count while they are down.
 * So once all k answered, a copy whose connection has closed counts only if the pool,
 * reconnecting as it does for any request, reaches the same process (the server id in
 * its HELLO): a connection closed for another reason (the server's idle timeout, a
 * refusal that closes it) keeps its copy. One that fails the check is replaced by the
 * next server, as a server that failed under the write is.
 *
 * A heuristic, not a proof: it assumes the broker sees a killed process's connection
 * close before it handles the last copy's answer, which the order of events on loopback
 * usually gives but nothing guarantees.
 */
async function dropLostCopies(
  copies: WrittenCopy[],
  failures: string[],
  missed: Missed,
  pool: ServerPool,
): Promise<void> {
  const closed = copies.filter((copy) => !copy.connection.isOpen);
  if (closed.length === 0) return;
  const now = await Promise.all(
    closed.map((copy) =>
      pool.call(copy.index, (connection) => Promise.resolve(connection.serverId))
    ),
  );
  closed.forEach((copy, at) => {
    const outcome = now[at];
    if (outcome.ok && outcome.value === copy.connection.serverId) return;
    const why = `${pool.servers[copy.index].id} ${
      outcome.ok ? "restarted" : "closed its connection"
    } after storing it`;
    failures.push(why);
    missed.set(copy.index, why);
    copies.splice(copies.indexOf(copy), 1);
  });
}

/** A version a write replaced, and whether it was a record's (else a tombstone's). */
interface Prior {
  readonly version: Version;
  readonly record: boolean;
}

/** The newer of two replaced versions, either unset. */
function newerPrior(a: Prior | undefined, b: Prior | undefined): Prior | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return compareVersions(b.version, a.version) > 0 ? b : a;
}

/** `prior` unless it is one of the write's own `attempts`, which replaced nothing of before. */
function notAttempted(prior: Prior | undefined, attempts: readonly Version[]): Prior | undefined {
  if (prior === undefined) return undefined;
  return attempts.some((version) => compareVersions(version, prior.version) === 0)
    ? undefined
    : prior;
}

/** The answer holding the newest version (a record or a tombstone), if any holds one. */
function newestAnswer(answered: readonly ReplicaAnswer[]): ReplicaAnswer | undefined {
  let newest: ReplicaAnswer | undefined;
  for (const answer of answered) {
    const version = answer.read.version;
    if (version === undefined) continue;
    if (newest === undefined || compareVersions(version, newest.read.version!) > 0) {
      newest = answer;
    }
  }
  return newest;
}

/**
 * Why servers did not take a write (`reasons`, each as the pool words it: `HOST:PORT: why`
 * or a sentence naming its server), joined with "; ", those of `servers` that gave the same
 * why said once, naming them in the order they failed: every server refusing a record over
 * the same frame limit repeated the same `TOO_LARGE …` sentence once per server. Two such
 * come out as "127.0.0.1:8000, 127.0.0.1:8001: TOO_LARGE: …".
 */
function joinReasons(
  reasons: readonly string[],
  servers: readonly ServerAddress[],
): string {
  // Each why, in the order first given, with the servers that gave it (none for a reason
  // that names its server within the sentence: said as it is).
  const named = new Map<string, string[]>();
  for (const reason of reasons) {
    const server = servers.find(({ id }) => reason.startsWith(`${id}: `));
    const why = server === undefined ? reason : reason.slice(server.id.length + 2);
    const ids = named.get(why) ?? [];
    if (server !== undefined && !ids.includes(server.id)) ids.push(server.id);
    named.set(why, ids);
  }
  return [...named].map(([why, ids]) => ids.length === 0 ? why : `${ids.join(", ")}: ${why}`)
    .join("; ");
}

/**
 * The error of a write that stored `written` short of `k` replicas: refused by every
 * server as over its frame limit, or short of servers; undefined when k stored it.
 * `servers` are the pool's, which its failures name.
 */
function writeFailure(
  verb: "put" | "delete",
  key: string,
  written: WrittenReplicas,
  k: number,
  servers: readonly ServerAddress[],
): Change | undefined {
  if (written.stored.length === 0 && written.tooLarge) {
    return {
      kind: "error",
      error:
        `cannot ${verb} '${key}': ${joinReasons(written.failures, servers)}; make the record ` +
        "smaller or start the servers with a larger --max-frame-bytes; nothing was changed",
      refused: true,
    };
  }
  if (written.stored.length >= k) return undefined;
  // A READ_ONLY server is up: waiting for it to come back would wait for nothing.
  const advice = written.diskReadOnly
    ? "repeat it once the read-only servers can write their data dirs again"
    : "repeat it when the servers are back";
  return {
    kind: "error",
    error: `${verb} of '${key}' reached only ${written.stored.length} of ${k} ` +
      `replicas (${joinReasons(written.failures, servers)}); ${advice}`,
  };
}

/**
 * A write's answer once k servers stored it at `version`: a PUT's `existed` is always
 * true; a DELETE that found no record carries `doubt`, when set, as its warning.
 */
function doneChange(
  verb: "put" | "delete",
  existed: boolean,
  version: Version,
  doubt: string | undefined,
): Change {
  const change = { kind: "done", existed: verb === "put" || existed, version } as const;
  return doubt === undefined ? change : { ...change, warning: doubt };
}

/**
 * The warning of a DELETE of `key` that found no record where a server's answer was lost
 * with its connection: sent again, the deletion found itself stored there, and whether that
 * server held the record before is not known.
 */
function deletedUnseen(key: string): string {
  return `a server's answer to the deletion of '${key}' was lost with its connection, and ` +
    "sent again the deletion found itself stored there: the record may have existed; it is " +
    "deleted all the same";
}

/**
 * What a write's read that cannot vouch for every earlier write means for it (ending
 * {@link Broker#doubt}'s line): a DELETE that found no record cannot say there was none
 * (`deleteFoundNothing`); and when servers of the key's list did not answer (`hidden`),
 * they may hold a write acknowledged before this one began whose version is later — its
 * writer's clock ahead of this broker's — which every read and repair takes over this one
 * once they answer. Without the warning such a PUT was acknowledged plainly and, once they
 * answered and a repair ran, read back as the earlier write.
 */
function unvouchedWrite(deleteFoundNothing: boolean, hidden: boolean): string {
  const later = "(its writer's clock ahead of this broker's)";
  if (!deleteFoundNothing) {
    return `a write they hold may carry a later version than this one ${later} and win over ` +
      "it once they answer";
  }
  const existed = "the record may have existed; it is deleted all the same";
  if (!hidden) return existed;
  return `${existed}, unless they hold a write of it with a later version than this ` +
    `deletion ${later}, which wins over it once they answer`;
}

/**
 * The error of a write of `key` whose servers recorded another k than the broker's `k`
 * again after it asked every server (kv repair -k changing it under the write).
 */
function kChangingError(verb: "put" | "delete", key: string, k: number): Change {
  return {
    kind: "error",
    error: `cannot ${verb} '${key}': its servers record another k than this broker's k=${k}, ` +
      "checked twice (kv repair -k is changing it); nothing was changed",
  };
}

/**
 * The error of a write of `key` that met a newer write on every one of its
 * {@link MAX_WRITE_ATTEMPTS} attempts.
 */
function writtenElsewhereError(verb: "put" | "delete", key: string): Change {
  return {
    kind: "error",
    error: `${verb} of '${key}' met a newer write on every one of ${MAX_WRITE_ATTEMPTS} ` +
      `attempts (the key is being written elsewhere); the newest write stands`,
  };
}

/** The error of a write meeting `held`, the newest version there can be: none comes after it. */
function newestVersionError(verb: "put" | "delete", key: string, held: Version): Change {
  return {
    kind: "error",
    error: `cannot ${verb} '${key}': it holds version ${formatVersion(held)}, the ` +
      "newest there can be (a broker or client with a wrong clock wrote it); nothing " +
      "can be written after it",
  };
}
