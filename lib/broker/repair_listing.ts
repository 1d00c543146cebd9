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
 * @example
 * ```ts
 * import { MergedListing } from "./repair_listing.ts";
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
import type { Version } from "../record/version.ts";

/**
 * Fetches server `server`'s next page after key `after` ("" for the first); rejects on failure.
 *
 * @example
 * ```ts
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
}

/**
 * The merged listings of several servers; see the module documentation.
 *
 * @example
 * ```ts
 * const listing = new MergedListing([0, 1], fetchPage);
 * const keys = await listing.next(); // [{ key: "a", copies: [{ server: 0, key: "a", version, … }, …] }, …]
 * ```
 */
export class MergedListing {
  readonly #cursors: Cursor[];
  readonly #byServer = new Map<number, Cursor>();
  readonly #fetchPage: PageFetcher;

  /**
   * @param servers the servers to list (indexes into the server list), each once.
   * @param fetchPage fetches one page of one server.
   */
  constructor(servers: readonly number[], fetchPage: PageFetcher) {
    this.#fetchPage = fetchPage;
    this.#cursors = servers.map((server) => ({
      server,
      entries: [],
      position: 0,
      after: "",
      more: true,
      failure: undefined,
    }));
    for (const cursor of this.#cursors) this.#byServer.set(cursor.server, cursor);
  }

  /**
   * The next keys, in ascending key order, each with every copy the listings hold; an
   * empty array once every listing has ended or failed.
   *
   * @example
   * ```ts
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
      if (taken.length > 0) return group(taken);
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

  /** Fetches `cursor`'s next page when it has used up its last one and more remain. */
  async #refill(cursor: Cursor): Promise<void> {
    if (cursor.failure !== undefined || !cursor.more) return;
    if (cursor.position < cursor.entries.length) return;
    try {
      const page = await this.#fetchPage(cursor.server, cursor.after);
      const entries = page.entries;
      if (entries.length === 0 && page.more) {
        throw new Error(`listing after '${cursor.after}' returned nothing yet said more follow`);
      }
      const first = entries[0];
      if (first !== undefined && cursor.after !== "" && compareKeys(first.key, cursor.after) <= 0) {
        throw new Error(`listing after '${cursor.after}' went back to '${first.key}'`);
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
