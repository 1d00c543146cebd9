/**
 * Replica placement by rendezvous (highest-random-weight) hashing of partitions:
 * every key belongs to one of `PARTITION_COUNT` partitions (lib/record/partition.ts),
 * every server gets a score for a partition,
 * `score = mix(hash(partition) ⊕ hash(server id))`, and the partition's
 * **preference list** is every server ranked by score, best first. A key's k
 * replicas are the first k of its partition's list. The scores depend only on the
 * partition and the server's identity (the `ip:port` its name resolved to, see
 * server_list.ts), never on the order or spelling of the server file, so any broker
 * recomputes the same lists from the server list alone. Adding or removing a server
 * moves only the partitions whose first k include that server.
 *
 * Each partition's list is computed the first time it is asked for, into one table
 * (`PARTITION_COUNT × servers` entries of 2 bytes: 32 KiB for 4 servers), and kept with
 * a view of its row: placing a record then costs a hash of its key and an array lookup,
 * with nothing allocated, and a broker starts without ranking 4096 partitions it may
 * never read (that took tens of milliseconds of its start-up). Equal scores (one chance
 * in 2^32 per pair) are broken by comparing server ids, again independent of the file
 * order.
 *
 * {@link Placement.of} hands out one placement per server list per process: every
 * broker of a process that serves many clients (`kv bench --clients 50` opens fifty
 * `Kv`s, each with its broker) then ranks each partition once and reads one table that
 * stays in the CPU's cache, where fifty tables each ranked their own partitions and
 * spread a GET's placement over fifty times the memory.
 *
 * @example
 * ```ts
 * import { Placement } from "./placement.ts";
 * const placement = new Placement(["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"]);
 * placement.replicas("person1", 2); // e.g. [2, 0]: indexes into the id list, best first
 * ```
 * @module
 */
import { hashKey, mix32, PARTITION_COUNT, partitionOf } from "../record/partition.ts";
import { MAX_SERVERS } from "./server_list.ts";

/**
 * Server lists whose placement {@link Placement.of} keeps for the process; past this the
 * oldest is let go (its brokers keep it as long as they live).
 */
export const MAX_SHARED_PLACEMENTS = 16;

/** Makes server hashes differ from key hashes of the same text. */
const SERVER_SALT = 0x9e37_79b9;

/** Makes partition hashes differ from server hashes of small numbers. */
const PARTITION_SALT = 0x85eb_ca6b;

/**
 * The rendezvous score of server `serverHash` for partition `partitionHash`: two
 * rounds of mixing so that the scores of one partition on different servers are
 * independent.
 */
function score(partitionHash: number, serverHash: number): number {
  return mix32(mix32(partitionHash ^ serverHash) + serverHash);
}

/**
 * Rendezvous placement of partitions over a fixed list of distinct server ids.
 *
 * @example
 * ```ts
 * const placement = new Placement(["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"]);
 * placement.replicas("person1", 2); // [1, 2]: 127.0.0.1:8001, then 127.0.0.1:8002
 * // The same servers in another order: the same two hold person1, at their new indexes.
 * new Placement(["127.0.0.1:8002", "127.0.0.1:8000", "127.0.0.1:8001"])
 *   .replicas("person1", 2); // [2, 0]: 127.0.0.1:8001, then 127.0.0.1:8002
 * ```
 */
export class Placement {
  readonly #ids: readonly string[];
  /** Each server's hash, salted (see {@link score}). */
  readonly #serverHashes: Int32Array;
  /** `#byText[t]`: the server whose id is t-th in text order. */
  readonly #byText: Uint16Array;
  /** `#tieBreaker[index]`: larger for a smaller id; server `#byText[count - 1 - t]` has t. */
  readonly #tieBreaker: Uint16Array;
  /**
   * Row `p` (entries `p × servers` to `(p + 1) × servers`) is partition p's preference
   * list once ranked: indexes into the id list, best first.
   */
  readonly #table: Uint16Array;
  /** Partition p's row of the table once ranked, else undefined. */
  readonly #rows: (Uint16Array | undefined)[];
  /** Scratch for ranking one row. */
  readonly #ranks: Float64Array;

  /**
   * A placement over `serverIds`; each partition is ranked when first asked for.
   *
   * @param serverIds distinct server identities (resolved `ip:port`), at most
   * `MAX_SERVERS`; results are indexes into this list.
   */
  constructor(serverIds: readonly string[]) {
    if (serverIds.length === 0) throw new RangeError("placement needs at least one server");
    if (serverIds.length > MAX_SERVERS) {
      throw new RangeError(`placement takes at most ${MAX_SERVERS} servers`);
    }
    if (new Set(serverIds).size !== serverIds.length) {
      throw new RangeError("server ids must be distinct");
    }
    const ids = [...serverIds];
    const count = ids.length;
    this.#ids = ids;
    this.#serverHashes = Int32Array.from(ids, (id) => hashKey(id) ^ SERVER_SALT);
    this.#byText = Uint16Array.from(
      ids.map((_, index) => index).sort((a, b) => ids[a] < ids[b] ? -1 : 1),
    );
    this.#tieBreaker = new Uint16Array(count);
    this.#byText.forEach((index, position) => this.#tieBreaker[index] = count - 1 - position);
    this.#table = new Uint16Array(PARTITION_COUNT * count);
    this.#rows = new Array(PARTITION_COUNT).fill(undefined);
    this.#ranks = new Float64Array(count);
  }

  /**
   * The placement of `serverIds`, shared by every caller in the process that passes the
   * same ids in the same order (its answers are indexes into the list, so the order
   * matters): rankings are a pure function of the ids, so sharing changes no answer,
   * only how often each partition is ranked. At most {@link MAX_SHARED_PLACEMENTS} lists
   * are kept; throws as the constructor does.
   *
   * @example
   * ```ts
   * Placement.of(["a:1", "b:2"]) === Placement.of(["a:1", "b:2"]); // true
   * ```
   */
  static of(serverIds: readonly string[]): Placement {
    const name = JSON.stringify(serverIds);
    const kept = SHARED.get(name);
    if (kept !== undefined) return kept;
    const placement = new Placement(serverIds);
    if (SHARED.size >= MAX_SHARED_PLACEMENTS) SHARED.delete(SHARED.keys().next().value!);
    SHARED.set(name, placement);
    return placement;
  }

  /** Number of servers. */
  get serverCount(): number {
    return this.#ids.length;
  }

  /**
   * Every server ranked for `partition`, best first: the order writes and reads walk
   * when a better-placed server is unreachable. A view of the table, the same view on
   * every call: do not modify.
   *
   * @example
   * ```ts
   * new Placement(["a:1", "b:2"]).preferenceList(7).length; // 2
   * ```
   */
  preferenceList(partition: number): Uint16Array {
    // Out of range (or not a whole number) finds no row, and is checked only then.
    return this.#rows[partition] ?? this.#rank(partition);
  }

  /**
   * The `k` distinct servers that hold `key`, best first: the first k of its
   * partition's preference list. `1 ≤ k ≤ serverCount`.
   *
   * @example
   * ```ts
   * new Placement(["a:1", "b:2"]).replicas("person1", 2).length; // 2
   * ```
   */
  replicas(key: string, k: number): number[] {
    const chosen = new Uint32Array(k);
    this.replicasInto(key, chosen);
    return Array.from(chosen);
  }

  /**
   * Like {@link Placement.replicas}, writing the `out.length` servers into `out`: for
   * the indexer, which places every record and need not allocate an array for each.
   *
   * @example
   * ```ts
   * const out = new Uint32Array(2);
   * new Placement(["a:1", "b:2", "c:3"]).replicasInto("person1", out); // out holds 2 indexes
   * ```
   */
  replicasInto(key: string, out: Uint32Array): void {
    const k = out.length;
    // A plain check rather than node:assert, whose message is built on every call: this
    // runs once per record.
    if (!(k >= 1 && k <= this.#ids.length)) throw new RangeError(`bad replication factor ${k}`);
    const list = this.preferenceList(partitionOf(key));
    for (let rank = 0; rank < k; rank++) out[rank] = list[rank];
  }

  /**
   * Ranks every server for `partition` into its row of the table and keeps the row's
   * view. Each server's rank is sorted as one number, `score × MAX_SERVERS +
   * tie-breaker`, exact in a double (below 2^42) and sorted natively: the tie-breaker
   * ranks ids in reverse text order, so an equal score puts the smaller id first.
   */
  #rank(partition: number): Uint16Array {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < PARTITION_COUNT)) {
      throw new RangeError(`bad partition ${partition}`);
    }
    const count = this.#ids.length;
    const ranks = this.#ranks;
    const partitionHash = mix32(partition ^ PARTITION_SALT);
    for (let index = 0; index < count; index++) {
      ranks[index] = score(partitionHash, this.#serverHashes[index]) * MAX_SERVERS +
        this.#tieBreaker[index];
    }
    ranks.sort();
    const start = partition * count;
    for (let rank = 0; rank < count; rank++) {
      const tie = ranks[count - 1 - rank] % MAX_SERVERS;
      this.#table[start + rank] = this.#byText[count - 1 - tie];
    }
    const row = this.#table.subarray(start, start + count);
    this.#rows[partition] = row;
    return row;
  }
}

/** The placements {@link Placement.of} hands out, by their server ids as JSON, oldest first. */
const SHARED = new Map<string, Placement>();
