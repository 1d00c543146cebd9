/**
 * A running broker's repairs in the background, with the engine of `kv repair`
 * (repair.ts): a server whose HELLO says it is unrepaired (memory-only and restarted,
 * a new or emptied data dir, a damaged log stretch skipped) gets the partitions it may
 * hold writes of (those it is among the first min(n, 2k − 1) servers of: home, or a
 * hint's place) repaired — refilled from the other replicas, hints it lost moved home
 * from their other copies — then is marked repaired — and the
 * partitions the broker hands over as hints (`BrokerOptions.onRepairNeeded`: copies
 * written beyond the first k while a home server was down) are repaired once that
 * server is back, which moves the copies home.
 *
 * **A repair runs only while every reachable server marked repaired is marked under the
 * broker's own list and k** (ServerPool.distrustedFor: none "other list"). A reachable
 * server repaired under another list or k means the broker's list is not (yet) the
 * cluster's: it was given a new file before `kv repair -s` ran over it, or kept an old one
 * after. Repairing then would copy data to this list's homes and remove it from the
 * cluster's — clients on the cluster's list would answer a plain NOT FOUND for every key
 * moved — so no repair runs (nothing copied, removed, purged or marked), requests stay
 * queued, and the hold is logged once with what to do; once no reachable server is marked
 * under another list (`kv repair -s` over this list ran, and the pool re-read their state)
 * the queued repairs run. Only `kv repair -s FILE`, run by the operator, moves data to a
 * new list's homes. A server that held the repairs back and went down holds them still
 * until it is seen again (its last mark stands; `kv repair -s` marking it ff…ff closes the
 * broker's connections, and a repair during the reconnect would move copies off a server
 * being re-marked). Servers down that were never seen so marked cannot be judged: a repair
 * meanwhile removes nothing on their behalf (repair.ts) but may move copies among the
 * reachable ones.
 *
 * The hold is judged before a run starts; a run already in flight when `kv repair -s`
 * begins is not stopped, but it cannot mark a server under this broker's (then old) list:
 * its MARK_REPAIRED expects the mark it read before the run (unrepaired), and the change
 * first marks every server not under its list `ff…ff`, unrepaired ones too, so the mark is
 * refused (MARK_CHANGED), the run ends not in order with a line saying so, and the next one
 * is held. Without that, the broker trusted the server under the old list while the change
 * moved its copies away, and answered those keys a plain NOT FOUND (S27's F1).
 *
 * One repair runs at a time. Requests that arrive meanwhile are merged into one set of
 * partitions (a 512-byte bitmap, whatever the number of requests), repaired next. A
 * repair that leaves something undone (a server down again) is tried again after a
 * delay doubling from {@link RETRY_INITIAL_DELAY_MS} to {@link RETRY_MAX_DELAY_MS}, and
 * the servers are looked at for one that came back unrepaired every
 * {@link WATCH_INTERVAL_MS}.
 * Each repair that copied, removed or purged something, or the first of a run of failures,
 * is logged.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { BackgroundRepair } from "./background_repair.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const background = new BackgroundRepair(broker.pool, {
 *   placement: broker,
 *   log: (line, level) => console.error(`${level}: ${line}`),
 * });
 * background.request({ server: 1, partitions: [17, 90], reason: "hint" });
 * await background.settled();
 * background.close();
 * ```
 * @module
 */
import { wasOrWere } from "../base/plural.ts";
import { invariant } from "../base/invariant.ts";
import type { LogFunction } from "../base/logger.ts";
import { PARTITION_COUNT } from "../record/partition.ts";
import { PartitionSet } from "./partition_set.ts";
import { mayHoldWrites } from "./quorum.ts";
import { type PreferenceLists, repairCluster, type RepairReport } from "./repair.ts";
import {
  beingRemarked,
  kChangeRepairMarks,
  markedUnderOldKs,
  type ServerPool,
} from "./server_pool.ts";

/**
 * How often the servers are looked at for one that came back unrepaired, in ms. Looking
 * also notices a connection the server closed (a restart) without waiting for a request.
 */
export const WATCH_INTERVAL_MS = 500;

/**
 * Why a broker's background repair is held, after the servers named: its list is not the
 * cluster's, and what to do (README, "kv repair").
 */
export const BACKGROUND_HOLD_REASON: string = "repaired under another server list or k than this " +
  "broker's, so its list is not the cluster's: nothing is repaired in the background (no " +
  "copy moved or removed) until kv repair -s FILE runs with this broker's list, if it is " +
  "the new one; else give this broker the cluster's server file";

/** First delay before a repair that left something undone is tried again, in ms. */
export const RETRY_INITIAL_DELAY_MS = 1_000;

/** Longest delay between tries of a repair that keeps failing, in ms. */
export const RETRY_MAX_DELAY_MS = 60_000;

/** Partitions of one server to repair, and why (the broker's hinted handoff makes them). */
export interface BackgroundRequest {
  /** The server the partitions belong on: an index into the server list. */
  readonly server: number;
  /** The partitions. */
  readonly partitions: Iterable<number>;
  /** Why, for the log: `"hint"`. */
  readonly reason: string;
}

/** Options of {@link BackgroundRepair}. */
export interface BackgroundRepairOptions {
  /** Where keys are placed (the broker's placement). */
  readonly placement: PreferenceLists;
  /**
   * Told of each repair worth telling (`info`; `warn` when it failed) and of a hold
   * (`warn`) and its end (`info`); default: nothing.
   */
  readonly log?: LogFunction;
  /**
   * Start paused: requests are queued but no repair runs until {@link BackgroundRepair.resume}
   * (a broker indexing a file, whose replicas differ while its writes are in flight).
   * Default false.
   */
  readonly paused?: boolean;
}

/**
 * Background repairs over one pool; see the module documentation.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const background = new BackgroundRepair(broker.pool, { placement: broker });
 * background.close();
 * ```
 */
export class BackgroundRepair {
  readonly #pool: ServerPool;
  readonly #options: BackgroundRepairOptions;
  readonly #log: LogFunction;
  #pending = new PartitionSet();
  #reasons = new Set<string>();
  /** Servers queued or being repaired for saying they are unrepaired. */
  readonly #unrepairedQueued = new Set<number>();
  #running: Promise<void> | undefined;
  #settledWaiters: (() => void)[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #watchTimer: ReturnType<typeof setInterval>;
  #retryDelayMs = RETRY_INITIAL_DELAY_MS;
  #failing = false;
  #closed = false;
  #paused: boolean;
  /** The servers marked under another list that hold the repairs back, while they do. */
  #heldBy: readonly number[] = [];

  /**
   * Starts watching `pool` (already started) for unrepaired servers.
   *
   * @param pool the broker's connections.
   * @param options placement and log (the k is the pool's, `ServerPool.k`); see {@link BackgroundRepairOptions}.
   */
  constructor(pool: ServerPool, options: BackgroundRepairOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#paused = options.paused ?? false;
    this.#watchTimer = setInterval(() => this.#queueUnrepaired(), WATCH_INTERVAL_MS);
    // The broker's own work, not this watch, decides whether the process lives on.
    Deno.unrefTimer(this.#watchTimer);
    this.#queueUnrepaired();
  }

  /**
   * Queues `request`'s partitions for the next repair.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * import { Broker } from "./broker.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * const background = new BackgroundRepair(broker.pool, { placement: broker });
   * background.request({ server: 0, partitions: [5], reason: "hint" });
   * ```
   */
  request(request: BackgroundRequest): void {
    if (this.#closed) return;
    for (const partition of request.partitions) this.#pending.add(partition);
    this.#reasons.add(`${request.reason} for ${this.#pool.servers[request.server].id}`);
    this.#start();
  }

  /**
   * Lets repairs run, after starting paused.
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * import { Broker } from "./broker.ts";
   * import { indexFile } from "./indexer.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * const background = new BackgroundRepair(broker.pool, { placement: broker, paused: true });
   * await indexFile(broker, "data.txt");
   * background.resume();
   * ```
   */
  resume(): void {
    this.#paused = false;
    this.#start();
  }

  /**
   * Resolves once no repair runs and none is queued, or what is queued is held back by
   * servers marked under another list (a retry may still be scheduled).
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * import { Broker } from "./broker.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * const background = new BackgroundRepair(broker.pool, { placement: broker });
   * await background.settled();
   * ```
   */
  settled(): Promise<void> {
    if (this.#running === undefined && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /**
   * Stops: no new repair starts (one running ends with the pool's connections).
   *
   * @example
   * ```ts
   * import { serverAddress } from "./server_list.ts";
   * import { Broker } from "./broker.ts";
   * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
   * const broker = await Broker.open(servers, { k: 2 });
   * const background = new BackgroundRepair(broker.pool, { placement: broker });
   * background.close();
   * broker.close(); // ends a repair still running
   * ```
   */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchTimer);
    this.#notifySettled();
  }

  /**
   * The k the pool judges servers under (its broker's, which follows a k changed by
   * `kv repair -k`): a repair places keys and marks servers under it, so a mark is one
   * the broker trusts.
   */
  get #k(): number {
    const k = this.#pool.k;
    invariant(k !== undefined, "the pool judges servers under a k before repairs start");
    return k;
  }

  /** Queues the partitions each server that says it is unrepaired may hold writes of. */
  #queueUnrepaired(): void {
    this.#pool.servers.forEach((server, index) => {
      // isUp notices a connection closed under the pool, which then reconnects: a restarted
      // server says in its new HELLO that it is unrepaired.
      if (!this.#pool.isUp(index)) return;
      // Unrepaired only: one repaired under another server list is walked past, never
      // repaired here (see the module docs).
      if (this.#pool.state(index)?.unrepaired !== true || this.#unrepairedQueued.has(index)) return;
      this.#unrepairedQueued.add(index);
      for (let partition = 0; partition < PARTITION_COUNT; partition++) {
        // Every partition it may hold writes of, as a home or a hint: the repair marks it
        // repaired only once they are all in order (lib/broker/repair.ts).
        const list = this.#options.placement.preferenceList(partition);
        if (mayHoldWrites(list, this.#k, index)) this.#pending.add(partition);
      }
      this.#reasons.add(`${server.id} is unrepaired`);
    });
    this.#start();
  }

  /** Starts the next repair unless one runs, nothing is queued, or a retry is awaited. */
  #start(): void {
    if (this.#closed || this.#paused) return;
    if (this.#running !== undefined || this.#retryTimer !== undefined) return;
    if (this.#pending.size === 0 || this.#holdsBack()) {
      this.#notifySettled();
      return;
    }
    const partitions = this.#pending;
    const reasons = [...this.#reasons];
    const unrepairedQueued = [...this.#unrepairedQueued];
    this.#pending = new PartitionSet();
    this.#reasons = new Set();
    this.#running = this.#repair(partitions, reasons).then((report) => {
      this.#running = undefined;
      // Whatever the outcome, an unrepaired server is looked at again at the next watch.
      for (const server of unrepairedQueued) this.#unrepairedQueued.delete(server);
      if (report !== undefined && !report.inOrder) this.#retryLater(partitions, reasons);
      else this.#retryDelayMs = RETRY_INITIAL_DELAY_MS;
      this.#start();
    });
  }

  /**
   * Whether servers marked repaired under another server list or k hold every repair back
   * (see the module docs); logs when the hold starts, and when it ends. A server that held
   * it and is down now holds it still: its last known mark stands until it is seen again
   * (`kv repair -s` marking it ff…ff closes the broker's connections, and the hold must
   * outlast the reconnect).
   */
  #holdsBack(): boolean {
    const pool = this.#pool;
    const others = pool.servers.flatMap((_, index) =>
      pool.distrustedFor(index) === "other list" ||
        this.#heldBy.includes(index) && !pool.isUp(index)
        ? [index]
        : []
    );
    if (others.length > 0 && this.#heldBy.length === 0) {
      this.#log(`background repair held: ${holdReasons(pool, others)}`, "warn");
    } else if (others.length === 0 && this.#heldBy.length > 0) {
      this.#log(
        "background repair resumed: no server is repaired under another server list or k now",
        "info",
      );
    }
    this.#heldBy = others;
    return others.length > 0;
  }

  /** Runs one repair of `partitions`; resolves undefined once closed meanwhile. */
  async #repair(
    partitions: PartitionSet,
    reasons: readonly string[],
  ): Promise<RepairReport | undefined> {
    const report = await repairCluster(this.#pool, {
      k: this.#k,
      placement: this.#options.placement,
      partitions,
      unrepaired: (index) => this.#pool.state(index)?.unrepaired === true,
    });
    if (this.#closed) return undefined;
    this.#report(report, partitions.size, reasons.join(", "));
    return report;
  }

  #report(report: RepairReport, partitionCount: number, reasons: string): void {
    // A server found in order and only marked repaired (every fresh memory-only server, at
    // the first broker's start) is not worth a line above the REPL's prompt.
    const changed = report.copiesWritten + report.copiesRemoved + report.tombstonesPurged > 0;
    const failed = !report.inOrder;
    if (!changed && !(failed && !this.#failing)) {
      this.#failing = failed;
      return;
    }
    this.#failing = failed;
    const marked = report.markedRepaired.length > 0
      ? `; marked repaired: ${report.markedRepaired.join(", ")}`
      : "";
    const failures = report.failures
      .map((failure) => `${failure.server}: ${failure.keys} keys (${failure.error})`)
      .join("; ");
    this.#log(
      `background repair (${reasons}) of ${partitionCount} partitions: ` +
        `${report.keysChecked} keys checked, ${report.copiesWritten} copies written, ` +
        `${report.copiesRemoved} removed, ${report.tombstonesPurged} tombstones purged, ` +
        `${report.seconds.toFixed(2)} s${marked}` +
        (failed ? `; not in order, tried again later: ${failures || "unrepaired servers"}` : ""),
      failed ? "warn" : "info",
    );
  }

  /** Queues `partitions` again after the retry delay, which doubles each time. */
  #retryLater(partitions: PartitionSet, reasons: readonly string[]): void {
    if (this.#closed) return;
    const delayMs = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delayMs * 2, RETRY_MAX_DELAY_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pending.addAll(partitions);
      for (const reason of reasons) this.#reasons.add(reason);
      this.#start();
    }, delayMs);
    // The broker's own work, not a pending retry, decides whether the process lives on.
    Deno.unrefTimer(this.#retryTimer);
  }

  #notifySettled(): void {
    const waiting = this.#pending.size > 0 && !this.#closed && this.#heldBy.length === 0;
    if (this.#running !== undefined || waiting) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Why servers `others` of `pool`, marked under another list or k, hold the background
 * repair back, with what to do: for those marked under its list with the k before
 * `kv repair -k` changed it, that change's repair; for those a repair changing the list or
 * k is re-marking, its end; for the rest, a list change's.
 */
function holdReasons(pool: ServerPool, others: readonly number[]): string {
  const byK = others.filter((index) => pool.markedUnderOldK(index) !== undefined);
  const changing = others.filter((index) => pool.markedChanging(index));
  const byList = others.filter((index) => !byK.includes(index) && !changing.includes(index));
  const named = (indices: readonly number[]) =>
    `${indices.map((index) => pool.servers[index].id).join(", ")} ` +
    wasOrWere(indices.length);
  const them = byK.length === 1 ? "it" : "them";
  return [
    ...(changing.length === 0 ? [] : [
      `${named(changing)} ${beingRemarked(changing.length)}; nothing is repaired in the ` +
      "background until then",
    ]),
    ...(byList.length === 0 ? [] : [`${named(byList)} ${BACKGROUND_HOLD_REASON}`]),
    ...(byK.length === 0 ? [] : [
      `${named(byK)} ${markedUnderOldKs(pool, byK)} nothing is repaired in the background ` +
      `until a repair marks ${them} under it; ${kChangeRepairMarks(byK.length)}`,
    ]),
  ].join("; ");
}
