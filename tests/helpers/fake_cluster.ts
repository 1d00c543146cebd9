/**
 * In-memory stand-ins for `kv server`s, for broker tests that need no
 * processes: each {@link FakeServer} holds records in a RecordTrie (versions,
 * tombstones and last write wins, as a real server's store) and can be made
 * to crash (refuse connections, fail requests with a ConnectionError) or hang
 * (requests fail with a RequestTimeoutError, as a real client reports a
 * silent server). {@link fakeConnector} plugs them into a `ServerPool`.
 *
 * @example
 * ```ts
 * const cluster = new FakeCluster(3);
 * const broker = await cluster.openBroker({ k: 2 });
 * cluster.servers[0].state = "crashed";
 * ```
 * @module
 */
import { type KeysOptions } from "../../lib/record/key.ts";
import {
  ConnectionError,
  RequestTimeoutError,
  ServerError,
  type Settle,
} from "../../lib/protocol/client.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../lib/limits.ts";
import { utf8Length } from "../../lib/base/utf8.ts";
import {
  type DeleteResult,
  type EncodedRead,
  ErrorCode,
  FRAME_HEADER_BYTES,
  LIST_CHANGE_UNDER_WAY,
  type ListPartitionsOptions,
  NO_LIST,
  type NodeState,
  type PartitionDigests,
  type PartitionListing,
  type PutManyRefusal,
  type PutResult,
  type ServerStats,
  TOMBSTONE_PURGE_AGE_MS,
  type WriteOptions,
} from "../../lib/protocol/mod.ts";
import { decodeListPartitionsBody, readItemKey } from "../../lib/protocol/messages.ts";
import { type PutManyItems, readPutManyItems } from "../../lib/protocol/put_many.ts";
import { type ServerAddress, serverAddress } from "../../lib/broker/server_list.ts";
import { type Connector, type ServerConnection, settleFrom } from "../../lib/broker/server_pool.ts";
import { Broker, type BrokerOptions } from "../../lib/broker/broker.ts";
import { listFingerprint, sameList } from "../../lib/broker/list_fingerprint.ts";
import { bytesToHex } from "../../lib/base/bytes.ts";
import { repairCluster, type RepairReport } from "../../lib/broker/repair.ts";
import type { Value } from "../../lib/record/value.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import {
  compareVersions,
  formatVersion,
  readVersion,
  type Version,
  VERSION_BYTES,
} from "../../lib/record/version.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";

/**
 * A fake server's node state: a real one's, where a repaired one whose `repairedUnder` is
 * left out counts as repaired under its own cluster's list (the {@link FakeCluster}'s
 * servers, with the k it records, or 1 when it records none), as a repair by a broker over
 * that list would have marked it.
 */
export type FakeNodeState = Omit<NodeState, "repairedUnder"> & {
  readonly repairedUnder?: Uint8Array;
};

/** How a fake server behaves. */
export type FakeState = "up" | "crashed" | "hung";

/** One fake server: its records and its state. */
export class FakeServer {
  /** What the server holds: records and tombstones with their versions (a restart replaces it). */
  trie = new RecordTrie();
  state: FakeState = "up";
  /** Requests received, by kind, for tests that check who was asked. */
  readonly requests: string[] = [];
  /** When set, PUT, PUT_MANY and DELETE answer ERROR INTERNAL with this message. */
  failWrites: string | undefined;
  /**
   * Writes of a key this holds for are refused, with {@link FakeServer.refusalCode}'s code:
   * a PUT_MANY's items on their own (the rest stored), a PUT whole.
   */
  refuseKey: ((key: string) => boolean) | undefined;
  /** The code a refused key's write is answered with; default BAD_REQUEST. */
  refusalCode: (key: string) => number = () => ErrorCode.BAD_REQUEST;
  /**
   * When set, the next write is applied and its connection then closed before the answer,
   * as a server closing its connections on purpose (a mark replaced) may: the pool sends it
   * again on a new connection to the same process.
   */
  closeAfterNextWrite = false;
  /** When set, the server crashes on receiving a PUT_MANY, which then fails. */
  crashOnPutMany = false;
  /** The frame limit its HELLO would announce. */
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  /**
   * The node state its HELLO would tell: trusted under its cluster's list, no k recorded,
   * unless a test says otherwise.
   */
  nodeState: FakeNodeState = { unrepaired: false, k: 0 };
  /** While set, a GET waits for it before answering (see {@link FakeServer.hold}). */
  heldGets: Promise<void> | undefined;
  /** While set, a PUT or PUT_MANY waits for it before it is applied. */
  heldPuts: Promise<void> | undefined;
  /** When set, the next PUT, PUT_MANY or DELETE is applied, then its answer waits for it. */
  heldWriteAnswer: Promise<void> | undefined;
  /** While set, a KEYS lists the keys held, then its answer waits for it. */
  heldKeys: Promise<void> | undefined;
  /** How many times the server restarted: connections opened before are closed. */
  generation = 0;
  /** The node state each earlier process (by generation) last told, as its connections keep it. */
  readonly #pastNodeStates = new Map<number, FakeNodeState>();

  /**
   * @param address where it listens.
   * @param listedWith the identities of its cluster's servers, whose list it counts as
   * repaired under when its node state names none.
   */
  constructor(
    readonly address: ServerAddress,
    readonly listedWith: readonly string[] = [address.identity],
  ) {}

  /**
   * Makes GETs (`"gets"`), PUTs and PUT_MANYs (`"puts"`), the answer of the next PUT,
   * PUT_MANY or DELETE, once applied (`"next write answer"`: later writes, such as a
   * repair's, are not held), or KEYS' answers (`"keys"`) wait from now until the
   * returned function is called: a slow server or network, on the test's cue.
   */
  hold(kind: "gets" | "puts" | "next write answer" | "keys"): () => void {
    let release = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    if (kind === "gets") this.heldGets = gate;
    else if (kind === "puts") this.heldPuts = gate;
    else if (kind === "next write answer") this.heldWriteAnswer = gate;
    else this.heldKeys = gate;
    return release;
  }

  /**
   * Restarts the server empty, as a memory-only `kv server` does: everything it held is
   * lost, its HELLO says unrepaired (k kept, as a broker sets it again at once), and every
   * connection to the old process is closed (a request held on one then fails, as it would on a
   * real connection reset); the new one has a new server id. The old
   * connections keep telling the node state the old process had, as a real
   * connection keeps its HELLO's.
   */
  restart(): void {
    this.#pastNodeStates.set(this.generation, this.nodeState);
    this.trie = new RecordTrie();
    this.nodeState = { unrepaired: true, k: this.nodeState.k, repairedUnder: NO_LIST };
    this.generation++;
  }

  /** The node state a connection opened at `generation` tells: the process's of then. */
  nodeStateOf(generation: number): NodeState {
    const state = this.#pastNodeStates.get(generation) ?? this.nodeState;
    const repairedUnder = state.unrepaired
      ? NO_LIST
      : state.repairedUnder ?? listFingerprint(this.listedWith, state.k === 0 ? 1 : state.k);
    return { unrepaired: state.unrepaired, k: state.k, repairedUnder };
  }

  /** The records held (tombstones left out), a copy. */
  get records(): Map<string, Value> {
    return new Map(this.trie.entries());
  }

  /** Applies a versioned PUT as a server does: newer only; a stale repair copy is ignored. */
  applyPut(key: string, value: Value, options: WriteOptions): PutResult {
    if (options.overwrite === false && this.trie.has(key)) return { kind: "exists" };
    if (this.trie.put(key, value, { version: options.version, ifNewer: true })) {
      return { kind: "stored" };
    }
    if (options.repair === true) return { kind: "stored" };
    return { kind: "stale", version: this.trie.versionOf(key)! };
  }
}

class FakeConnection implements ServerConnection {
  /** Fake servers have no auth file. */
  readonly challenged = false;
  /** A fake's store never fails, and it answers READ_ONLY only when a test says so. */
  readonly refusesWrites = undefined;
  #closed = false;
  #closeReason: Error | undefined;
  /** The server's generation when this connection opened: a restart closes it. */
  readonly #generation: number;

  constructor(readonly server: FakeServer) {
    this.#generation = server.generation;
  }

  get isOpen(): boolean {
    return !this.#closed && !this.#lost;
  }

  /** The server crashed or restarted since the connection opened. */
  get #lost(): boolean {
    return this.server.state === "crashed" || this.server.generation !== this.#generation;
  }

  get closeReason(): Error | undefined {
    if (this.#closeReason !== undefined) return this.#closeReason;
    return this.#lost
      ? new ConnectionError(`${this.server.address.id}: connection reset`)
      : undefined;
  }

  get serverId(): string {
    const id = this.server.address.id;
    return this.#generation === 0 ? id : `${id}#${this.#generation}`;
  }

  get maxFrameBytes(): number {
    return this.server.maxFrameBytes;
  }

  get state(): NodeState {
    return this.server.nodeStateOf(this.#generation);
  }

  /** Records k as a server does: when none is, it is the same, or `replace` is set. */
  async setK(k: number, options: { replace?: boolean } = {}): Promise<number> {
    await this.#check("SET_K");
    const held = this.server.nodeState;
    if (held.k === 0 || held.k === k || options.replace === true) {
      // What it was repaired under stays, as a real server's does (left out: its list's).
      this.server.nodeState = { ...held, k };
    }
    return this.server.nodeState.k;
  }

  /** Marks as a server does: a compare-and-set against `expected`, but for ff…ff. */
  async markRepaired(list: Uint8Array, expected: Uint8Array): Promise<void> {
    await this.#check("MARK_REPAIRED");
    const held = this.state.repairedUnder;
    const unconditional = sameList(list, LIST_CHANGE_UNDER_WAY) || sameList(held, list);
    if (!unconditional && !sameList(held, expected)) {
      throw new ServerError(ErrorCode.MARK_CHANGED, bytesToHex(held));
    }
    this.server.nodeState = { unrepaired: false, k: this.server.nodeState.k, repairedUnder: list };
  }

  /** The digests the fake's trie keeps, as a server answers them. */
  async partitionDigests(): Promise<PartitionDigests> {
    await this.#check("PARTITION_DIGESTS");
    const table = this.server.trie.partitionDigests;
    const counts = new Uint32Array(PARTITION_COUNT);
    const tombstones = new Uint32Array(PARTITION_COUNT);
    const digests = new BigUint64Array(PARTITION_COUNT);
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      counts[partition] = table.count(partition);
      tombstones[partition] = table.tombstones(partition);
      digests[partition] = table.digest(partition);
    }
    return { counts, tombstones, digests };
  }

  /** A listing as a server answers it: encoded from the trie by the server's encoder, decoded. */
  async listPartitions(
    wanted: Uint8Array,
    options: ListPartitionsOptions,
  ): Promise<PartitionListing> {
    await this.#check("LIST_PARTITIONS");
    const after = options.after === undefined ? undefined : new TextEncoder().encode(options.after);
    const values = options.values === true;
    const frames = new FrameWriter();
    frames.okListPartitions(0, this.server.trie.entryCursor(after), {
      wanted,
      limit: options.limit,
      values,
    });
    return decodeListPartitionsBody(frames.bytes().subarray(FRAME_HEADER_BYTES), values);
  }

  /** Fails a request held while the server restarted or crashed: its connection is gone. */
  #failIfLost(): void {
    if (this.#lost) throw new ConnectionError(`${this.server.address.id}: connection reset`);
  }

  #check(kind: string): Promise<void> {
    this.server.requests.push(kind);
    if (this.#closed || this.#lost) {
      return Promise.reject(new ConnectionError(`${this.server.address.id}: connection reset`));
    }
    if (this.server.state === "hung") {
      this.#closed = true;
      this.#closeReason = new RequestTimeoutError(`${this.server.address.id}: no answer`);
      return Promise.reject(this.#closeReason);
    }
    return Promise.resolve();
  }

  async put(key: string, value: Value, options: WriteOptions): Promise<PutResult> {
    // As the real client: a PUT over the server's frame limit is refused without sending it.
    const bodyBytes = 1 + 4 + utf8Length(key) + VERSION_BYTES + encodeValue(value).length;
    if (bodyBytes > this.server.maxFrameBytes) {
      throw new ServerError(
        ErrorCode.TOO_LARGE,
        `PUT of '${key}' needs ${bodyBytes} bytes, over the server's limit of ` +
          this.server.maxFrameBytes,
      );
    }
    await this.#check("PUT");
    await this.server.heldPuts;
    this.#failIfLost();
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    if (this.server.refuseKey?.(key)) {
      throw new ServerError(this.server.refusalCode(key), `fake refuses '${key}'`);
    }
    return this.#answerWrite(this.server.applyPut(key, value, options));
  }

  /** `result`, once a held write answer is let go; lost with the connection meanwhile. */
  async #answerWrite<T>(result: T): Promise<T> {
    const held = this.server.heldWriteAnswer;
    this.server.heldWriteAnswer = undefined;
    await held;
    this.#failIfLost();
    if (this.server.closeAfterNextWrite) {
      this.server.closeAfterNextWrite = false;
      this.#closed = true;
      this.#closeReason = new ConnectionError(`${this.server.address.id}: connection closed`);
      throw this.#closeReason;
    }
    return result;
  }

  putEncoded(key: string, encodedValue: Uint8Array, options: WriteOptions) {
    return this.put(key, decodeValue(encodedValue), options);
  }

  /** Stores each item as `putEncoded` would; a refused item is listed, as a real server does. */
  async putMany(items: PutManyItems) {
    const body = items.bytes().slice();
    const bounds = readPutManyItems(body, 0, items.itemCount);
    if (4 + body.length > this.server.maxFrameBytes) {
      throw new Error(`fake: a frame of ${4 + body.length} bytes was sent past the limit`);
    }
    if (this.server.crashOnPutMany) this.server.state = "crashed";
    await this.#check("PUT_MANY");
    await this.server.heldPuts;
    this.#failIfLost();
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    const refusals: PutManyRefusal[] = [];
    for (let index = 0; index < bounds.itemCount; index++) {
      const key = readItemKey(body, bounds.keyStart(index), bounds.keyEnd(index));
      const value = decodeValue(body.subarray(bounds.valueStart(index), bounds.valueEnd(index)));
      if (this.server.refuseKey?.(key)) {
        const code = this.server.refusalCode(key);
        refusals.push({ index, code, message: `fake refuses '${key}'` });
        continue;
      }
      const result = this.server.applyPut(key, value, {
        version: readVersion(body, bounds.versionStart(index)),
        overwrite: !bounds.ifAbsent(index),
        repair: bounds.repair(index),
      });
      if (result.kind === "exists") {
        refusals.push({ index, code: ErrorCode.EXISTS, message: `key '${key}' exists` });
      } else if (result.kind === "stale") {
        const message = formatVersion(result.version);
        refusals.push({ index, code: ErrorCode.STALE, message, version: result.version });
      }
    }
    return this.#answerWrite(refusals);
  }

  async getEncoded(key: string): Promise<EncodedRead> {
    await this.#check("GET");
    await this.server.heldGets;
    this.#failIfLost();
    const value = this.server.trie.get(key);
    return {
      encoded: value === undefined ? undefined : encodeValue(value),
      version: this.server.trie.versionOf(key),
    };
  }

  getEncodedTo(key: string, settle: Settle<EncodedRead>): void {
    settleFrom(() => this.getEncoded(key), this, settle);
  }

  queryEncodedTo(path: readonly string[], settle: Settle<EncodedRead>): void {
    settleFrom(() => this.queryEncoded(path), this, settle);
  }

  async queryEncoded(path: readonly string[]): Promise<EncodedRead> {
    await this.#check("QUERY");
    const trie = this.server.trie;
    const value = trie.query(path);
    const version = trie.versionOf(path[0]);
    if (value !== undefined) return { encoded: encodeValue(value), version };
    // As a real server's NOT_FOUND: why, when the key holds a record without the path.
    const miss = trie.queryMiss(path);
    return miss === undefined
      ? { encoded: undefined, version }
      : { encoded: undefined, version, miss };
  }

  async delete(key: string, options: WriteOptions): Promise<DeleteResult> {
    await this.#check("DELETE");
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    if (options.purge === true) return this.#purge(key, options);
    return this.#answerWrite(this.#tombstone(key, options));
  }

  /**
   * A delete as a server applies it: a tombstone, newer only, answering the version it
   * replaced; a stale repair copy ignored.
   */
  #tombstone(key: string, options: WriteOptions): DeleteResult {
    const trie = this.server.trie;
    const existed = trie.has(key);
    const replaced = trie.versionOf(key);
    if (trie.tombstone(key, { version: options.version, ifNewer: true })) {
      return replaced === undefined
        ? { kind: "deleted", existed }
        : { kind: "deleted", existed, replaced };
    }
    if (options.repair === true) return { kind: "deleted", existed: false };
    return { kind: "stale", version: trie.versionOf(key)! };
  }

  /**
   * A purge as a server does it: nothing left when what the key holds is not newer; an aged
   * one only of a tombstone TOMBSTONE_PURGE_AGE_MS old by the clock (STALE otherwise).
   */
  #purge(key: string, options: WriteOptions): DeleteResult {
    const trie = this.server.trie;
    const held = trie.versionOf(key);
    if (held === undefined) return { kind: "deleted", existed: false };
    if (options.aged === true && (trie.has(key) || held.ms > Date.now() - TOMBSTONE_PURGE_AGE_MS)) {
      return { kind: "stale", version: held };
    }
    if (compareVersions(held, options.version) > 0) {
      return options.repair === true
        ? { kind: "deleted", existed: false }
        : { kind: "stale", version: held };
    }
    trie.delete(key);
    return { kind: "deleted", existed: true };
  }

  async keys(options: KeysOptions) {
    await this.#check("KEYS");
    const keys = this.server.trie.keys({
      prefix: options.prefix ?? "",
      limit: options.limit,
      after: options.after,
    });
    await this.server.heldKeys;
    this.#failIfLost();
    return keys;
  }

  async stats(): Promise<ServerStats> {
    await this.#check("STATS");
    return {
      recordCount: this.server.trie.recordCount,
      memoryBytes: 0,
      uptimeMs: 0,
      connectionCount: 1,
      readOnly: false,
    };
  }

  async ping() {
    await this.#check("PING");
    // As a real round trip measures: far more decimals than anyone can use.
    return 0.123456789;
  }

  close() {
    this.#closed = true;
    this.#closeReason ??= new ConnectionError("closed by the client");
  }
}

/** A set of fake servers on made-up ports. */
export class FakeCluster {
  readonly servers: FakeServer[];

  constructor(serverCount: number) {
    this.servers = Array.from(
      { length: serverCount },
      (_, i) => serverAddress("127.0.0.1", 9000 + i),
    ).map((address, _, addresses) =>
      new FakeServer(address, addresses.map((each) => each.identity))
    );
  }

  /** The servers' addresses, for `Broker.open`. */
  get addresses(): ServerAddress[] {
    return this.servers.map((server) => server.address);
  }

  /** Connects to the fake server with the same id; fails while it is crashed or hung. */
  readonly connect: Connector = (address) => {
    const server = this.servers.find((candidate) => candidate.address.id === address.id);
    if (server === undefined || server.state !== "up") {
      return Promise.reject(new ConnectionError(`cannot connect to ${address.id}`));
    }
    return Promise.resolve(new FakeConnection(server));
  };

  /** A broker over these servers, connecting through {@link FakeCluster.connect}. */
  openBroker(options: Omit<BrokerOptions, "connect">): Promise<Broker> {
    return Broker.open(this.addresses, { ...options, connect: this.connect });
  }

  /** The fake servers that hold `key`. */
  holders(key: string): string[] {
    return this.servers.filter((server) => server.trie.has(key)).map((s) => s.address.id);
  }
}

/**
 * Runs `body` with a broker of replication factor `k` over `serverCount` fresh fake
 * servers, closes the broker, and resolves with what `body` did.
 *
 * @example
 * ```ts ignore
 * await withFakeBroker(3, 2, async ({ cluster, broker }) => {
 *   cluster.servers[0].state = "crashed";
 *   await broker.put("person1", int(1));
 * });
 * ```
 */
export async function withFakeBroker<T>(
  serverCount: number,
  k: number,
  body: (opened: { cluster: FakeCluster; broker: Broker }) => Promise<T>,
): Promise<T> {
  const cluster = new FakeCluster(serverCount);
  const broker = await cluster.openBroker({ k });
  try {
    return await body({ cluster, broker });
  } finally {
    broker.close();
  }
}

/**
 * One repair pass run as `broker` would run it in the background: over its pool and
 * placement, refilling the servers its connections say are unrepaired.
 *
 * @example
 * ```ts ignore
 * const report = await repairAs(repairer);
 * report.markedRepaired; // the servers this pass marked repaired
 * ```
 */
export function repairAs(broker: Broker): Promise<RepairReport> {
  return repairCluster(broker.pool, {
    k: broker.k,
    placement: broker,
    unrepaired: (index) => broker.pool.trusted(index) === false,
  });
}

/**
 * Makes `broker` count the servers `indices` down a moment ago, as a broker that stalled
 * does: a PING to each times out while it hangs, then it answers again, so each is
 * reconnecting (ServerPool.isReconnecting) when the caller's write or load begins.
 *
 * @example
 * ```ts ignore
 * await countDownAMomentAgo(cluster, broker, [0, 1]);
 * broker.pool.isReconnecting(0); // true
 * ```
 */
export async function countDownAMomentAgo(
  cluster: FakeCluster,
  broker: Broker,
  indices: readonly number[],
): Promise<void> {
  for (const index of indices) {
    cluster.servers[index].state = "hung";
    await broker.pool.call(index, (connection) => connection.ping());
    cluster.servers[index].state = "up";
  }
}

/**
 * Stores `key` = `value` on the first and third servers of its preference list, as a
 * write acknowledged while the second was down, stamped a minute ahead of every broker's
 * clock (by a broker whose clock runs ahead): a later write that misses it must still be
 * stamped after it. Returns its version and the first three servers of the list.
 *
 * @example
 * ```ts ignore
 * const { acknowledged, first } = writeAheadOnFirstAndThird(cluster, broker, "person1", int(1));
 * cluster.servers[first].restart(); // the first loses it: only the third holds it now
 * ```
 */
export function writeAheadOnFirstAndThird(
  cluster: FakeCluster,
  broker: Broker,
  key: string,
  value: Value,
): { acknowledged: Version; first: number; second: number; third: number } {
  const [first, second, third] = broker.preferenceList(partitionOf(key));
  const acknowledged = { ms: Date.now() + 60_000, counter: 0, broker: 9 };
  for (const index of [first, third]) {
    cluster.servers[index].applyPut(key, value, { version: acknowledged });
  }
  return { acknowledged, first, second, third };
}
