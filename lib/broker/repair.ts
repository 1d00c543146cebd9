/**
 * The repair engine, behind `kv repair` and a running broker's background repair: it
 * brings every key to its newest version on its home servers (the first k of its
 * partition's preference list), moves hints home, removes copies from servers the list
 * no longer places them on, and purges tombstones confirmed on every replica.
 *
 * 1. **Digests.** Every server sends its partition digests (PARTITION_DIGESTS, O(partitions)
 *    on the server); a partition whose home servers agree and whose other servers hold
 *    nothing is in order and is not listed (repair_digests.ts) — unless
 *    {@link RepairOptions.listTombstones} is set and every home server counts tombstones
 *    there, so that those old enough are purged.
 * 2. **Listings.** The differing partitions (and those holding tombstones) are listed,
 *    with versions and values, from every server holding entries there and every home
 *    server of them (one holding nothing there too), one page per server at a time, merged by key (repair_listing.ts): memory is
 *    {@link LISTING_PAGE_ENTRIES} entries a server. A page is read again once it is old, and
 *    a page's copies are not written once the reads behind them are older than
 *    `MAX_REPAIR_READ_AGE_MS`: see the protocol's `TOMBSTONE_PURGE_AGE_MS`.
 * 3. **Plans and writes.** Each key's plan (repair_plan.ts) is carried out step by step —
 *    copy home, then remove elsewhere, then purge a confirmed tombstone (an aged purge:
 *    each server judges the tombstone's age by its own clock) — each step only
 *    once the last succeeded everywhere (repair_writes.ts). The writes of one page of
 *    keys run while the next page is listed, one page of writes at a time.
 * 4. **MARK_REPAIRED** on each server not trusted (unrepaired, or repaired under another
 *    server list or k) once every server answered and every partition it may hold writes
 *    of (it is among the first min(n, 2k − 1) of the list: home, or a hint's place) is in
 *    order, with the fingerprint of this list and k (list_fingerprint.ts): brokers with
 *    another list do not trust it. The mark is a compare-and-set against the mark this run
 *    read before the server's digests: a server another repair re-marked meanwhile (a list
 *    change's first step) is left unmarked, so no run vouches for a server under a view
 *    older than another's mark.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { Placement } from "./placement.ts";
 * import { repairCluster } from "./repair.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const placement = new Placement(servers.map((server) => server.identity));
 * const report = await repairCluster(pool, { k: 2, placement });
 * report.inOrder; // true when every key is where it belongs
 * ```
 * @module
 */
import { PARTITION_COUNT, partitionOf } from "../record/partition.ts";
import type { Version } from "../record/version.ts";
import { utf8Length } from "../base/utf8.ts";
import { VERSION_BYTES } from "../record/version.ts";
import { MAX_TIMEOUT_MS } from "./server_pool.ts";
import { PartitionSet } from "./partition_set.ts";
import { compareDigests, type DigestComparison } from "./repair_digests.ts";
import {
  ErrorCode,
  LIST_CHANGE_UNDER_WAY,
  MAX_LIST_PARTITIONS_LIMIT,
  MAX_REPAIR_READ_AGE_MS,
  MAX_WRITE_LAG_MS,
  type PartitionDigests,
  TOMBSTONE_PURGE_AGE_MS,
} from "../protocol/mod.ts";
import { type ListedCopy, type ListedKey, MergedListing } from "./repair_listing.ts";
import { type KeyPlan, outOfPlace, planKey } from "./repair_plan.ts";
import {
  type CopyWrite,
  type Purge,
  purgeCopies,
  type RepairPool,
  writeCopies,
  type WriteOutcome,
} from "./repair_writes.ts";
import { invariant } from "../base/invariant.ts";
import { mayHoldWrites } from "./quorum.ts";
import { listFingerprint, sameList } from "./list_fingerprint.ts";
import { ServerError } from "../protocol/client.ts";
import { bytesToHex } from "../base/bytes.ts";

/**
 * Entries one LIST_PARTITIONS page asks for: the protocol's most. The repair holds one
 * page per server listed, and the writes of one page of keys at a time; a server stops a
 * page at its byte budget (1 MiB, `LIST_PARTITIONS_BUDGET_BYTES`) before this many entries
 * when their values are large, so memory is about 1 MiB a server listed.
 */
export const LISTING_PAGE_ENTRIES: number = MAX_LIST_PARTITIONS_LIMIT;

invariant(
  MAX_REPAIR_READ_AGE_MS + MAX_TIMEOUT_MS + MAX_WRITE_LAG_MS < TOMBSTONE_PURGE_AGE_MS,
  "a repair write reaches its server before a tombstone it was read without is purged",
);

/**
 * Where keys are placed: the broker's `Placement`.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Placement } from "./placement.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const placement: PreferenceLists = new Placement(servers.map((server) => server.identity));
 * ```
 */
export interface PreferenceLists {
  /** Every server ranked for `partition`, best first (indexes into the server list). */
  preferenceList(partition: number): ArrayLike<number>;
}

/** Options of {@link repairCluster}. */
export interface RepairOptions {
  /** The replication factor: a key's home is the first k of its preference list. */
  readonly k: number;
  /** The preference list of every partition. */
  readonly placement: PreferenceLists;
  /** Change nothing, only count what would be done. Default false. */
  readonly dryRun?: boolean;
  /** Repair these partitions only (hints handed over). Default all. */
  readonly partitions?: PartitionSet;
  /**
   * List partitions found in order whose home servers all count tombstones there, when
   * every server answered, so that tombstones older than {@link TOMBSTONE_PURGE_AGE_MS}
   * are purged. Each run lists them until purged, so `kv repair` sets it and the
   * background repair does not. Default false: only differing partitions are listed.
   */
  readonly listTombstones?: boolean;
  /**
   * Whether server `index` is not trusted under this list (`ServerPool.trusted` false:
   * unrepaired, or repaired under another list or k), so it is marked once in order.
   * Default: none is.
   */
  readonly unrepaired?: (index: number) => boolean;
  /**
   * This run may change the cluster's server list or k (`kv repair`): before it reads any
   * data it marks {@link LIST_CHANGE_UNDER_WAY} every server not marked under its own list
   * and k — unrepaired ones too, not only those marked under another list. Default false
   * (a broker's background repair, which runs only while no reachable server is marked
   * under another list, and re-marks only such a server: one that became so since).
   */
  readonly listChange?: boolean;
  /** Called after each page of keys with the progress so far. Default: nothing. */
  readonly onProgress?: (progress: RepairProgress) => void;
  /**
   * The wall clock in ms, to choose the tombstones old enough to ask the servers to purge
   * (each judges the age again by its own clock, and keeps a younger one). Default `Date.now`.
   */
  readonly now?: () => number;
  /**
   * A monotonic clock in ms, for the age of the reads a copy relies on: copies of a page of
   * keys read more than `MAX_REPAIR_READ_AGE_MS` before they would be written (the repair
   * was stopped or stalled) are not written. Default `performance.now`.
   */
  readonly clock?: () => number;
}

/** How far a repair has come. */
export interface RepairProgress {
  /** Keys checked so far (by digest or by listing). */
  readonly keysChecked: number;
  /** Keys to check in all: those in order plus the most any server holds in the others. */
  readonly keysTotal: number;
}

/** What a repair did (or, dry, would do). */
export interface RepairCounts {
  /** Keys checked: those of partitions found in order by digest, and every key listed. */
  keysChecked: number;
  /** Copies of a newest version written to home servers that lacked it. */
  copiesWritten: number;
  /** Copies removed from servers that are not the key's home. */
  copiesRemoved: number;
  /** Tombstones purged from home servers, confirmed on every one of them. */
  tombstonesPurged: number;
  /** Bytes of keys, versions and values written by the copies. */
  bytesMoved: number;
}

/** A server the repair could not finish on, and how much was left undone because of it. */
export interface ServerFailure {
  /** The server, as the server file names it. */
  readonly server: string;
  /** Keys whose repair it stopped: a write it refused or failed, or a listing it broke off. */
  readonly keys: number;
  /** Partitions that could not be checked at all because it did not answer. */
  readonly partitions: number;
  /** The first failure's reason. */
  readonly error: string;
}

/** The outcome of {@link repairCluster}. */
export interface RepairReport extends RepairCounts {
  /** Whether it was a dry run (counts are what would have been done). */
  readonly dryRun: boolean;
  /** Seconds it took. */
  readonly seconds: number;
  /** Partitions listed: those whose copies differed, and those in order holding tombstones. */
  readonly partitionsListed: number;
  /** Keys found out of place: lacking from a home server or held elsewhere. */
  readonly keysOutOfPlace: number;
  /** Unrepaired servers marked repaired (MARK_REPAIRED). */
  readonly markedRepaired: readonly string[];
  /** Unrepaired servers left unrepaired. */
  readonly stillUnrepaired: readonly string[];
  /** Servers the repair could not finish on. */
  readonly failures: readonly ServerFailure[];
  /**
   * Whether the cluster is in order: nothing failed and no server is left unrepaired
   * (and for a dry run, nothing was out of place either).
   */
  readonly inOrder: boolean;
}

/**
 * Repairs the cluster `pool` reaches; see the module documentation. Never throws for a
 * server's failure: it is reported in {@link RepairReport.failures}.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { Placement } from "./placement.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const placement = new Placement(servers.map((server) => server.identity));
 * const report = await repairCluster(pool, { k: 2, placement, dryRun: true });
 * if (!report.inOrder) console.log(`${report.keysOutOfPlace} keys out of place`);
 * ```
 */
export function repairCluster(pool: RepairPool, options: RepairOptions): Promise<RepairReport> {
  const serverCount = pool.servers.length;
  invariant(
    Number.isInteger(options.k) && options.k >= 1 && options.k <= serverCount,
    "k is 1 to the number of servers",
  );
  return new RepairRun(pool, options).run();
}

/** One server's failures while a repair runs. */
interface FailureTally {
  keys: number;
  partitions: number;
  error: string;
}

/** A key with its plan (whose newest copy carries the value). */
interface PlannedKey {
  readonly key: string;
  readonly partition: number;
  readonly plan: KeyPlan<ListedCopy>;
}

/**
 * Why a page's copies were not written: the reads they rely on are older than
 * {@link MAX_REPAIR_READ_AGE_MS}, `age` ms (the repair was stopped or stalled between
 * reading and writing), so a delete may have reached the servers since, and its tombstone
 * been purged: written now, the copies could bring deleted records back.
 */
function staleReadError(age: number): string {
  return `not copied: the repair was stopped or stalled ${Math.round(age / 1000)} s between ` +
    `listing the servers and writing (more than ${MAX_REPAIR_READ_AGE_MS / 60_000} min), and ` +
    "a copy that old could bring back a record deleted since; run the repair again";
}

/**
 * Why a server was not marked repaired when its MARK_REPAIRED failed its compare-and-set:
 * another repair re-marked it after this one read it; `heldHex` is the mark it holds now.
 */
function markChangedText(heldHex: string): string {
  const now = heldHex === bytesToHex(LIST_CHANGE_UNDER_WAY)
    ? "a kv repair under way marks it under its list at its end"
    : /^0+$/.test(heldHex)
    ? "it is unrepaired"
    : "it is marked under another server list or k";
  return `not marked repaired: another repair re-marked it while this one ran (${now}), so ` +
    "what this one read no longer vouches for it";
}

/** Every server answered: for keys listed while no server had failed. */
const answeredAll = (): boolean => true;

/** One repair, from digests to MARK_REPAIRED. */
class RepairRun {
  readonly #pool: RepairPool;
  readonly #options: RepairOptions;
  readonly #dryRun: boolean;
  readonly #homes: (readonly number[] | undefined)[] = [];
  readonly #counts: RepairCounts = {
    keysChecked: 0,
    copiesWritten: 0,
    copiesRemoved: 0,
    tombstonesPurged: 0,
    bytesMoved: 0,
  };
  readonly #failures = new Map<number, FailureTally>();
  /** Partitions with a key the repair could not put in order. */
  readonly #failedPartitions = new PartitionSet();
  readonly #purgeTombstonesBefore: Version;
  readonly #clock: () => number;
  #keysOutOfPlace = 0;
  #partitionsListed = 0;
  #keysTotal = 0;
  #tables: (PartitionDigests | undefined)[] = [];
  /** The id (from HELLO) of the server process each digest table came from. */
  readonly #serverIds: string[] = [];
  /**
   * Each server's mark as read before its digests ({@link NO_LIST}: unrepaired): the one
   * its MARK_REPAIRED expects, so that a mark another repair made since is not overwritten.
   */
  readonly #marksRead: Uint8Array[] = [];

  constructor(pool: RepairPool, options: RepairOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#dryRun = options.dryRun ?? false;
    this.#clock = options.clock ?? (() => performance.now());
    const now = (options.now ?? Date.now)();
    this.#purgeTombstonesBefore = {
      ms: Math.max(0, now - TOMBSTONE_PURGE_AGE_MS),
      counter: 0,
      broker: 0,
    };
  }

  async run(): Promise<RepairReport> {
    const started = performance.now();
    if (!this.#dryRun) await this.#markListChange();
    this.#tables = await this.#digests();
    const comparison = compareDigests(this.#tables, (partition) => this.#home(partition), {
      partitions: this.#options.partitions,
      listTombstones: this.#options.listTombstones,
    });
    this.#noteUnchecked(comparison);
    this.#counts.keysChecked = comparison.entriesInOrder;
    this.#keysTotal = comparison.entriesInOrder + comparison.entriesToList;
    const listed = new PartitionSet(comparison.differing);
    listed.addAll(comparison.tombstoned);
    this.#partitionsListed = listed.size;
    if (listed.size > 0) await this.#repairPartitions(listed);
    const { marked, unrepaired } = await this.#markRepaired();
    const failures = [...this.#failures].map(([server, tally]) => ({
      server: this.#pool.servers[server].id,
      ...tally,
    }));
    const inOrder = failures.length === 0 && unrepaired.length === 0 &&
      !(this.#dryRun && this.#keysOutOfPlace > 0);
    return {
      ...this.#counts,
      dryRun: this.#dryRun,
      seconds: (performance.now() - started) / 1000,
      partitionsListed: this.#partitionsListed,
      keysOutOfPlace: this.#keysOutOfPlace,
      markedRepaired: marked,
      stillUnrepaired: unrepaired,
      failures,
      inOrder,
    };
  }

  /** Partition `partition`'s home: the first k of its preference list, computed once. */
  #home(partition: number): readonly number[] {
    let home = this.#homes[partition];
    if (home === undefined) {
      const list = this.#options.placement.preferenceList(partition);
      home = Array.from({ length: this.#options.k }, (_, rank) => list[rank]);
      this.#homes[partition] = home;
    }
    return home;
  }

  /** Every server's digest table, undefined for a server that did not answer. */
  #digests(): Promise<(PartitionDigests | undefined)[]> {
    return Promise.all(this.#pool.servers.map(async (_, server) => {
      const outcome = await this.#pool.call(server, async (connection) => {
        // Read before the digests: the mark this run's reads start from (see #markRepaired).
        const mark = connection.state.repairedUnder;
        const table = await connection.partitionDigests();
        this.#serverIds[server] = connection.serverId;
        this.#marksRead[server] = mark;
        return table;
      });
      if (outcome.ok) return outcome.value;
      this.#fail(server, outcome.error, 0);
      return undefined;
    }));
  }

  /** Counts, for each server that did not answer, the partitions it left unchecked. */
  #noteUnchecked(comparison: DigestComparison): void {
    for (const partition of comparison.unchecked) {
      this.#failedPartitions.add(partition);
      for (const server of this.#home(partition)) {
        if (this.#tables[server] === undefined) this.#failures.get(server)!.partitions++;
      }
    }
  }

  /** Lists the partitions `partitions` and carries out every key's plan. */
  async #repairPartitions(partitions: PartitionSet): Promise<void> {
    // Every server that answered and holds entries there or is home to one of the
    // partitions is listed, a home holding nothing too: its empty listing is what a copy
    // to it relies on, and is read again as it ages like any other.
    const homes = new Set<number>();
    for (const partition of partitions) {
      for (const server of this.#home(partition)) homes.add(server);
    }
    const listed = this.#pool.servers
      .map((_, server) => server)
      .filter((server) => {
        const table = this.#tables[server];
        if (table === undefined) return false;
        if (homes.has(server)) return true;
        for (const partition of partitions) if (table.counts[partition] > 0) return true;
        return false;
      });
    const wanted = partitions.bytes();
    const listing = new MergedListing(listed, async (server, after) => {
      const outcome = await this.#pool.call(
        server,
        (connection) =>
          connection.listPartitions(wanted, {
            ...(after === "" ? {} : { after }),
            limit: LISTING_PAGE_ENTRIES,
            // Values even when dry: a dry run counts the bytes a repair would move.
            values: true,
          }),
      );
      if (!outcome.ok) throw new Error(outcome.error);
      return outcome.value;
    }, { clock: this.#clock });
    const listedSet = new Set(listed);
    let writing = Promise.resolve();
    const everyDigest = this.#tables.every((table) => table !== undefined);
    for (let keys = await listing.next(); keys.length > 0; keys = await listing.next()) {
      // Listings fail only while pages are fetched: a page with none failed so far is
      // known on every server, and its keys need no check of who answered.
      const clean = everyDigest && listing.failures().size === 0;
      const planned = keys.map((listedKey) =>
        clean ? this.#plan(listedKey, answeredAll, true) : this.#planAfterFailures(
          listedKey,
          listing,
          listedSet,
        )
      );
      // One page of writes at a time, running while the next page is listed: each key
      // is in one page only, so the pages' writes never touch the same key.
      const readAt = listing.oldestRead();
      await writing;
      writing = this.#carryOut(planned, readAt);
      this.#options.onProgress?.({
        keysChecked: this.#counts.keysChecked,
        keysTotal: this.#keysTotal,
      });
    }
    await writing;
    for (const [server, error] of listing.failures()) {
      this.#fail(server, error, 0);
      // What it did not list is unknown: none of the partitions it holds is known in order.
      for (const partition of partitions) {
        if (this.#tables[server]!.counts[partition] > 0) this.#failedPartitions.add(partition);
      }
    }
  }

  /**
   * The plan for one listed key when some server did not answer for all keys: a server
   * answered for this one when its digests came and its listing (if it was listed) had
   * not failed before reaching the key.
   */
  #planAfterFailures(
    listed: ListedKey,
    listing: MergedListing,
    listedSet: Set<number>,
  ): PlannedKey {
    const answered = (server: number) =>
      this.#tables[server] !== undefined &&
      (!listedSet.has(server) || listing.covered(server, listed.key));
    let everyServerAnswered = true;
    for (let server = 0; server < this.#pool.servers.length; server++) {
      if (!answered(server)) everyServerAnswered = false;
    }
    const planned = this.#plan(listed, answered, everyServerAnswered);
    if (!planned.plan.complete) {
      for (const server of this.#home(planned.partition)) {
        if (answered(server)) continue;
        this.#fail(server, listing.failures().get(server) ?? "did not answer", 1);
      }
    }
    return planned;
  }

  /** The plan for one listed key, `answered` telling which servers answered for it. */
  #plan(
    listed: ListedKey,
    answered: (server: number) => boolean,
    everyServerAnswered: boolean,
  ): PlannedKey {
    const partition = partitionOf(listed.key);
    const plan = planKey({
      copies: listed.copies,
      home: this.#home(partition),
      answered,
      everyServerAnswered,
      purgeTombstonesBefore: this.#purgeTombstonesBefore,
    });
    this.#counts.keysChecked++;
    if (outOfPlace(plan)) this.#keysOutOfPlace++;
    if (!plan.complete) this.#failedPartitions.add(partition);
    return { key: listed.key, partition, plan };
  }

  /**
   * Carries out the plans of one page of keys, step by step (or counts them, dry); their
   * listings' oldest read was sent at `readAt` (by the monotonic clock).
   */
  async #carryOut(planned: readonly PlannedKey[], readAt: number): Promise<void> {
    if (this.#dryRun) {
      for (const { key, plan } of planned) {
        this.#counts.copiesWritten += plan.copyTo.length;
        this.#counts.bytesMoved += plan.copyTo.length * copyBytes(key, plan.newest.encoded);
        this.#counts.copiesRemoved += plan.removeFrom.length;
        this.#counts.tombstonesPurged += plan.purgeFrom.length;
      }
      return;
    }
    const copied = await this.#copyStep(planned, readAt);
    const removed = await this.#purgeStep(planned, copied, (plan) => plan.removeFrom, "removed");
    await this.#purgeStep(planned, removed, (plan) => plan.purgeFrom, "purged");
  }

  /**
   * Step 1: the copies home, unless the reads they rely on (sent at `readAt`) are older
   * than {@link MAX_REPAIR_READ_AGE_MS}. Resolves with whether each key's copies all
   * succeeded.
   */
  async #copyStep(planned: readonly PlannedKey[], readAt: number): Promise<boolean[]> {
    const writes: CopyWrite[] = [];
    const owners: number[] = [];
    planned.forEach(({ key, plan }, index) => {
      const { version, tombstone, encoded } = plan.newest;
      for (const server of plan.copyTo) {
        writes.push({ server, key, version, tombstone, encoded });
        owners.push(index);
      }
    });
    const tooOld = () => {
      const age = this.#clock() - readAt;
      return age > MAX_REPAIR_READ_AGE_MS ? staleReadError(age) : undefined;
    };
    const outcomes = writes.length === 0 ? [] : await writeCopies(this.#pool, writes, { tooOld });
    const done = this.#tally(planned, writes, owners, outcomes);
    outcomes.forEach((outcome, position) => {
      if (!outcome.ok) return;
      this.#counts.copiesWritten++;
      this.#counts.bytesMoved += copyBytes(writes[position].key, writes[position].encoded);
    });
    return done;
  }

  /**
   * Step 2 or 3: purges, at the newest version, from the servers `servers(plan)` names,
   * for the keys whose last step succeeded. Resolves with whether each key's purges all
   * succeeded (false for a key whose last step did not).
   */
  async #purgeStep(
    planned: readonly PlannedKey[],
    previous: readonly boolean[],
    servers: (plan: KeyPlan) => readonly number[],
    counted: "removed" | "purged",
  ): Promise<boolean[]> {
    const purges: Purge[] = [];
    const owners: number[] = [];
    planned.forEach(({ key, plan }, index) => {
      if (!previous[index]) return;
      for (const server of servers(plan)) {
        // Tombstones go as aged purges: their servers judge the age by their own clocks.
        purges.push({ server, key, version: plan.newest.version, aged: counted === "purged" });
        owners.push(index);
      }
    });
    // Only on servers still marked as this run read them: see purgeCopies.
    const outcomes = purges.length === 0
      ? []
      : await purgeCopies(this.#pool, purges, this.#marksRead);
    const done = this.#tally(planned, purges, owners, outcomes).map((ok, index) =>
      ok && previous[index]
    );
    for (const outcome of outcomes) {
      if (!outcome.ok || !outcome.changed) continue;
      if (counted === "removed") this.#counts.copiesRemoved++;
      else this.#counts.tombstonesPurged++;
    }
    return done;
  }

  /**
   * Records the failed writes against their servers and keys' partitions; resolves with
   * whether each key's writes (`owners[i]` owns write i) all succeeded.
   */
  #tally(
    planned: readonly PlannedKey[],
    writes: readonly { readonly server: number }[],
    owners: readonly number[],
    outcomes: readonly WriteOutcome[],
  ): boolean[] {
    const done = planned.map(() => true);
    outcomes.forEach((outcome, position) => {
      if (outcome.ok) return;
      const owner = owners[position];
      if (done[owner]) this.#fail(writes[position].server, outcome.error, 1);
      done[owner] = false;
      this.#failedPartitions.add(planned[owner].partition);
    });
    return done;
  }

  /** Counts a failure on `server`: `keys` keys left undone; the first error is kept. */
  #fail(server: number, error: string, keys: number): void {
    const tally = this.#failures.get(server);
    if (tally === undefined) this.#failures.set(server, { keys, partitions: 0, error });
    else tally.keys += keys;
  }

  /**
   * The fingerprint of this run's server list and k: what it marks servers repaired under,
   * so that a broker with another list (another cluster's, or this one's before a server
   * was added) does not trust them.
   */
  #list(): Uint8Array {
    return listFingerprint(this.#pool.servers.map((server) => server.identity), this.#options.k);
  }

  /**
   * Marks {@link LIST_CHANGE_UNDER_WAY} each server marked repaired under another list or k
   * than this run's — and, for a {@link RepairOptions.listChange} run, each unrepaired one
   * too — before any copy moves: a client still on that list trusts the mark it
   * read, and would answer a plain NOT FOUND for a key whose copy this run removes from
   * its old home (measured before this step: 40 keys on 2 servers, k=1, 2 servers added, a
   * broker on the old file kept running across kv repair -s over all 4 answered 19 to 24 of
   * them NOT FOUND without a warning, in three runs). The server closes its other connections as the mark
   * changes (lib/server/server.ts), so that client reads it again before this run goes on.
   * An unrepaired server is trusted by nobody, but an old-list broker's background repair
   * may be refilling it, and would mark it under the old list at its end, while this run
   * moves its copies away (S27's F1: 2 652 plain NOT FOUNDs in one read round): this mark
   * makes that repair's MARK_REPAIRED, which expects the server unrepaired as it read it,
   * fail its compare-and-set. The mark only takes trust away, so the server applies it
   * whatever its mark. A server that does not take it is counted failed: nothing is marked
   * at the end, and whatever kept it from taking the mark (down, its disk full) keeps a
   * removal from it too.
   */
  async #markListChange(): Promise<void> {
    const list = this.#list();
    const unrepairedToo = this.#options.listChange ?? false;
    await Promise.all(this.#pool.servers.map(async (_, index) => {
      const outcome = await this.#pool.call(index, async (connection) => {
        const { unrepaired, repairedUnder } = connection.state;
        if ((unrepaired && !unrepairedToo) || sameList(repairedUnder, list)) return;
        await connection.markRepaired(LIST_CHANGE_UNDER_WAY, repairedUnder);
      });
      if (!outcome.ok) this.#fail(index, outcome.error, 0);
    }));
  }

  /**
   * MARK_REPAIRED on every unrepaired server whose partitions (see {@link #mayHold}) are all in order, when
   * every server answered (a server that did not may hold the only other copy of a write).
   * Each expects the mark this run read before the server's digests (#marksRead): a server
   * re-marked since — by a list change's first step above, or another repair's end — is not
   * marked (MARK_CHANGED), since what this run read no longer vouches for it under that
   * mark's list.
   */
  async #markRepaired(): Promise<{ marked: string[]; unrepaired: string[] }> {
    const marked: string[] = [];
    const unrepaired: string[] = [];
    const isUnrepaired = this.#options.unrepaired ?? (() => false);
    const everyoneAnswered = this.#failures.size === 0;
    const list = this.#list();
    await Promise.all(this.#pool.servers.map(async (server, index) => {
      if (!isUnrepaired(index)) return;
      if (
        this.#dryRun || !everyoneAnswered || !this.#coversHomes(index) ||
        this.#homesFailed(index)
      ) {
        unrepaired.push(server.id);
        return;
      }
      // Only the process the repair read: one restarted since may have lost what it held.
      const outcome = await this.#pool.call(index, async (connection) => {
        if (connection.serverId !== this.#serverIds[index]) {
          throw new Error("restarted during the repair; not marked repaired");
        }
        try {
          await connection.markRepaired(list, this.#marksRead[index]);
        } catch (error) {
          if (!(error instanceof ServerError && error.code === ErrorCode.MARK_CHANGED)) throw error;
          throw new Error(markChangedText(error.message.slice(`${error.codeName}: `.length)));
        }
      });
      if (outcome.ok) {
        marked.push(server.id);
      } else {
        this.#fail(index, outcome.error, 0);
        unrepaired.push(server.id);
      }
    }));
    return { marked, unrepaired };
  }

  /**
   * Whether `server` may hold acknowledged writes of `partition`, as a home copy or a
   * hint ({@link mayHoldWrites}). A server that lost such a hint is trusted again only
   * once the partition is in order (its home servers hold the write), else a read asking
   * it and a home server that missed the write would count two NOT FOUNDs and find nothing.
   */
  #mayHold(server: number, partition: number): boolean {
    return mayHoldWrites(
      this.#options.placement.preferenceList(partition),
      this.#options.k,
      server,
    );
  }

  /** Whether this repair covered every partition server `server` may hold writes of. */
  #coversHomes(server: number): boolean {
    const partitions = this.#options.partitions;
    if (partitions === undefined) return true;
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      if (!partitions.has(partition) && this.#mayHold(server, partition)) return false;
    }
    return true;
  }

  /** Whether a partition server `server` may hold writes of failed to come in order. */
  #homesFailed(server: number): boolean {
    for (const partition of this.#failedPartitions) {
      if (this.#mayHold(server, partition)) return true;
    }
    return false;
  }
}

/** Bytes a copy of `key` moves: the key, its version and its value (none for a tombstone). */
function copyBytes(key: string, encoded: Uint8Array | undefined): number {
  return utf8Length(key) + VERSION_BYTES + (encoded?.length ?? 0);
}
