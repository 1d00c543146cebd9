/**
 * The listings of several servers merged by key: each server lists the partitions a
 * repair wants in ascending key byte order, one page at a time (LIST_PARTITIONS, paged
 * by `after`), and {@link MergedListing.next} hands out the keys every listing has
 * gone past, each with the copy every server holds. Memory is one page per server.
 *
 * A server whose listing fails stops there: the keys up to the last one it listed are
 * still known for it, the later ones are not ({@link MergedListing.covered}), so the
 * repair goes on with the other servers without taking that server's silence for
 * "holds nothing".
 *
 * What a page says a server lacks ages: a repair copy written long after the read that
 * found its server lacking the version could land after a delete reached that server and
 * an aged purge removed its tombstone, and bring the record back. So each listing's page
 * is fetched again, from the last key handed out, once it is older than
 * {@link MergedListingOptions.refreshMs} (a listing that ended, too: its last page says
 * the server holds nothing further), and {@link MergedListing.oldestRead} tells when the
 * oldest read behind the keys just handed out was sent, for the repair to drop writes
 * relying on one older than `MAX_REPAIR_READ_AGE_MS`.
 *
 * @example
 * ```ts
 * import type { PageFetcher } from "./repair_listing.ts";
 * import { MergedListing } from "./repair_listing.ts";
 * declare const fetchPage: PageFetcher; // as PageFetcher's example makes it
 * const listing = new MergedListing([0, 2], (server, after) => fetchPage(server, after));
 * for (let keys = await listing.next(); keys.length > 0; keys = await listing.next()) {
 *   for (const { key, copies } of keys) console.log(key, copies.length);
 * }
 * ```
 * @module
 */
import { compareKeys } from "../base/utf8.ts";
import { describeError } from "../base/describe_error.ts";
import type { PartitionEntry, PartitionListing } from "../protocol/mod.ts";
import { listedKey } from "../record/key.ts";
import type { Version } from "../record/version.ts";
import { MAX_REPAIR_READ_AGE_MS } from "../protocol/mod.ts";

/**
 * Fetches server `server`'s next page after key `after` ("" for the first); rejects on failure.
 *
 * @example
 * ```ts
 * import { ServerClient } from "../protocol/client.ts";
 * const clients = await Promise.all(
 *   [8000, 8001].map((port) => ServerClient.connect({ hostname: "127.0.0.1", port })),
 * );
 * const wanted = new Uint8Array(512).fill(0xff); // every partition
 * const fetchPage: PageFetcher = (server, after) =>
 *   clients[server].listPartitions(wanted, { after: after || undefined, limit: 1000 });
 * ```
 */
export type PageFetcher = (server: number, after: string) => Promise<PartitionListing>;

/** One server's copy of a listed key: the server and what it listed (a plan's `KeyCopy`). */
export interface ListedCopy {
  /** The server: an index into the server list. */
  readonly server: number;
  /** The version of the key's newest write on that server. */
  readonly version: Version;
  /** Whether that write was a delete. */
  readonly tombstone: boolean;
  /** The record's value as the server encoded it, when values were listed. */
  readonly encoded?: Uint8Array;
  /** The key. */
  readonly key: string;
}

/** A key with the copy of every server that listed it. */
export interface ListedKey {
  /** The key. */
  readonly key: string;
  /** Every server's copy, at most one a server. */
  readonly copies: readonly ListedCopy[];
}

interface Cursor {
  readonly server: number;
  entries: readonly PartitionEntry[];
  position: number;
  /** The last key listed so far ("" before the first page). */
  after: string;
  more: boolean;
  failure: string | undefined;
  /** When the current page's fetch was sent, by {@link MergedListingOptions.clock}. */
  readAt: number;
}

/** Options of a {@link MergedListing}. */
export interface MergedListingOptions {
  /**
   * A page (or the end of a listing) older than this, in ms, is fetched again before keys
   * are handed out; default half of `MAX_REPAIR_READ_AGE_MS`.
   */
  readonly refreshMs?: number;
  /** A monotonic clock in ms; default `performance.now`. */
  readonly clock?: () => number;
}

/**
 * The merged listings of several servers; see the module documentation.
 *
 * @example
 * ```ts
 * declare const fetchPage: PageFetcher; // as PageFetcher's example makes it
 * const listing = new MergedListing([0, 1], fetchPage);
 * const keys = await listing.next(); // [{ key: "a", copies: [{ server: 0, key: "a", version, … }, …] }, …]
 * ```
 */
export class MergedListing {
  readonly #cursors: Cursor[];
  readonly #byServer = new Map<number, Cursor>();
  readonly #fetchPage: PageFetcher;
  readonly #refreshMs: number;
  readonly #clock: () => number;
  /** The last key handed out ("" before the first). */
  #handedOut = "";

  /**
   * A listing of `servers` merged in key order, fetching each server's pages as they are used.
   *
   * @param servers the servers to list (indexes into the server list), each once.
   * @param fetchPage fetches one page of one server.
   */
  constructor(
    servers: readonly number[],
    fetchPage: PageFetcher,
    options: MergedListingOptions = {},
  ) {
    this.#fetchPage = fetchPage;
    this.#refreshMs = options.refreshMs ?? MAX_REPAIR_READ_AGE_MS / 2;
    this.#clock = options.clock ?? (() => performance.now());
    this.#cursors = servers.map((server) => ({
      server,
      entries: [],
      position: 0,
      after: "",
      more: true,
      failure: undefined,
      readAt: -Infinity,
    }));
    for (const cursor of this.#cursors) this.#byServer.set(cursor.server, cursor);
  }

  /**
   * The next keys, in ascending key order, each with every copy the listings hold; an
   * empty array once every listing has ended or failed.
   *
   * @example
   * ```ts
   * declare const listing: MergedListing; // as MergedListing's example makes it
   * const keys = await listing.next();
   * ```
   */
  async next(): Promise<ListedKey[]> {
    for (;;) {
      await Promise.all(this.#cursors.map((cursor) => this.#refill(cursor)));
      const frontier = this.#frontier();
      const taken: ListedCopy[] = [];
      for (const cursor of this.#cursors) {
        while (cursor.position < cursor.entries.length) {
          const entry = cursor.entries[cursor.position];
          if (frontier !== undefined && compareKeys(entry.key, frontier) > 0) break;
          const { key, version, tombstone, encoded } = entry;
          taken.push({ server: cursor.server, key, version, tombstone, encoded });
          cursor.position++;
        }
      }
      if (taken.length > 0) {
        const keys = group(taken);
        this.#handedOut = keys[keys.length - 1].key;
        return keys;
      }
      if (frontier === undefined) return [];
      // The listing that set the frontier failed while refilling: go on without it.
    }
  }

  /**
   * Whether server `server`'s listing covered `key`: it is listed here and had not
   * failed before reaching it. A key handed out by {@link MergedListing.next} is covered
   * by every server whose listing did not fail, or failed after it.
   *
   * @example
   * ```ts
   * declare const listing: MergedListing; // as MergedListing's example makes it
   * listing.covered(2, "person1"); // false when server 2's listing failed before person1
   * ```
   */
  covered(server: number, key: string): boolean {
    const cursor = this.#byServer.get(server);
    if (cursor === undefined) return false;
    return cursor.failure === undefined ||
      (cursor.after !== "" && compareKeys(key, cursor.after) <= 0);
  }

  /**
   * Why each listing that failed did, by server.
   *
   * @example
   * ```ts ignore
   * while ((await listing.next()).length > 0) {
   *   // … compare the copies of each key …
   * }
   * listing.failures(); // Map { 1 => "…" }: why server 1's listing broke off, when it did
   * ```
   */
  failures(): Map<number, string> {
    const failures = new Map<number, string>();
    for (const cursor of this.#cursors) {
      if (cursor.failure !== undefined) failures.set(cursor.server, cursor.failure);
    }
    return failures;
  }

  /**
   * When the oldest read behind the keys {@link MergedListing.next} last handed out was
   * sent, by the clock: the earliest fetch of a page still in use by a listing that has
   * not failed (a failed one's server is written nothing past its failure). `Infinity`
   * when there is none.
   *
   * @example
   * ```ts ignore
   * const keys = await listing.next();
   * const readAt = listing.oldestRead(); // performance.now() when the oldest was asked
   * ```
   */
  oldestRead(): number {
    let oldest = Infinity;
    for (const cursor of this.#cursors) {
      if (cursor.failure === undefined) oldest = Math.min(oldest, cursor.readAt);
    }
    return oldest;
  }

  /**
   * Fetches `cursor`'s next page when it has used up its last one and more remain, or
   * again from the last key handed out when its page is older than the refresh age.
   */
  async #refill(cursor: Cursor): Promise<void> {
    if (cursor.failure !== undefined) return;
    if (this.#clock() - cursor.readAt > this.#refreshMs) {
      // What it said of the keys not yet handed out is too old to copy by: ask again.
      cursor.after = this.#handedOut;
      cursor.entries = [];
      cursor.position = 0;
      cursor.more = true;
    }
    if (!cursor.more || cursor.position < cursor.entries.length) return;
    try {
      const readAt = this.#clock();
      const page = await this.#fetchPage(cursor.server, cursor.after);
      cursor.readAt = readAt;
      const entries = page.entries;
      if (entries.length === 0 && page.more) {
        // Keys a server listed, quoted as kv keys lists them: a report line prints this.
        throw new Error(
          `listing after '${listedKey(cursor.after)}' returned nothing yet said more follow`,
        );
      }
      const first = entries[0];
      if (first !== undefined && cursor.after !== "" && compareKeys(first.key, cursor.after) <= 0) {
        throw new Error(
          `listing after '${listedKey(cursor.after)}' went back to '${listedKey(first.key)}'`,
        );
      }
      cursor.entries = entries;
      cursor.position = 0;
      cursor.more = page.more;
      if (entries.length > 0) cursor.after = entries[entries.length - 1].key;
    } catch (error) {
      cursor.failure = describeError(error);
      cursor.entries = [];
      cursor.position = 0;
    }
  }

  /**
   * The last key every unfinished listing has gone past: keys up to it are complete on
   * every server. Undefined when no listing has more to give (all that is left is complete).
   */
  #frontier(): string | undefined {
    let frontier: string | undefined;
    for (const cursor of this.#cursors) {
      if (cursor.failure !== undefined || !cursor.more) continue;
      if (frontier === undefined || compareKeys(cursor.after, frontier) < 0) {
        frontier = cursor.after;
      }
    }
    return frontier;
  }
}

/** The copies grouped by key, in ascending key order. */
function group(copies: ListedCopy[]): ListedKey[] {
  copies.sort((a, b) => compareKeys(a.key, b.key));
  const keys: ListedKey[] = [];
  let current: ListedCopy[] = [];
  for (const copy of copies) {
    if (current.length > 0 && current[0].key !== copy.key) {
      keys.push({ key: current[0].key, copies: current });
      current = [];
    }
    current.push(copy);
  }
  if (current.length > 0) keys.push({ key: current[0].key, copies: current });
  return keys;
}
