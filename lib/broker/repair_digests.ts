/**
 * The first step of a repair, pure: from every server's partition digests
 * (PARTITION_DIGESTS: per partition, its entry count, its tombstone count and the XOR
 * of a hash of each entry's key, version and kind), which partitions are in order and
 * which must be listed. A partition is in order when its home servers (the first k of
 * its preference list) hold identical digests and every other server holds nothing
 * there; equal (key, version, kind) sets mean equal contents, so replicas that agree are
 * not copied. They are listed only when asked to (`listTombstones`) and they hold
 * tombstones on every home server, so that those old enough are purged.
 *
 * @example
 * ```ts
 * import { compareDigests } from "./repair_digests.ts";
 * import { PARTITION_COUNT } from "../record/partition.ts";
 * const table = () => ({
 *   counts: new Uint32Array(PARTITION_COUNT),
 *   tombstones: new Uint32Array(PARTITION_COUNT),
 *   digests: new BigUint64Array(PARTITION_COUNT),
 * });
 * const full = table();
 * full.counts[5] = 1;
 * full.digests[5] = 42n;
 * const result = compareDigests([full, table()], () => [0, 1]);
 * [...result.differing]; // [5]: server 1 lacks what server 0 holds
 * ```
 * @module
 */
import type { PartitionDigests } from "../protocol/mod.ts";
import { PartitionSet } from "./partition_set.ts";

/** What {@link compareDigests} found. */
export interface DigestComparison {
  /** Partitions whose copies differ among the servers that answered: to be listed. */
  readonly differing: PartitionSet;
  /**
   * Partitions in order whose home servers all hold tombstones, found when
   * `listTombstones` is set and every server answered: to be listed so that tombstones
   * old enough are purged. Disjoint from `differing`.
   */
  readonly tombstoned: PartitionSet;
  /** Partitions with a home server that did not answer: they cannot be found in order. */
  readonly unchecked: PartitionSet;
  /** Entries of the partitions found in order and not listed, checked by their digests alone. */
  readonly entriesInOrder: number;
  /** Most entries any server holds in the partitions to list: what listing them checks at least. */
  readonly entriesToList: number;
}

/** Options of {@link compareDigests}. */
export interface CompareDigestsOptions {
  /** The partitions to compare. Default all. */
  readonly partitions?: PartitionSet;
  /**
   * Find the partitions in order that hold tombstones on every home server
   * ({@link DigestComparison.tombstoned}), when every server answered. Default false.
   */
  readonly listTombstones?: boolean;
}

/**
 * Compares the digest tables of every server (undefined for one that did not answer),
 * `home(p)` giving partition p's home servers.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Placement } from "./placement.ts";
 * import { ServerClient } from "../protocol/client.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const tables = await Promise.all(servers.map(async (server) => {
 *   const client = await ServerClient.connect(server);
 *   return await client.partitionDigests();
 * }));
 * const placement = new Placement(servers.map((server) => server.identity));
 * const k = 2;
 * const { differing, unchecked } = compareDigests(tables, (p) => placement.preferenceList(p).subarray(0, k));
 * ```
 */
export function compareDigests(
  tables: readonly (PartitionDigests | undefined)[],
  home: (partition: number) => ArrayLike<number>,
  options: CompareDigestsOptions = {},
): DigestComparison {
  const partitions = options.partitions ?? PartitionSet.all();
  // Purging needs every server's word that it holds no newer copy, so only then.
  const listTombstones = (options.listTombstones ?? false) &&
    tables.every((table) => table !== undefined);
  const differing = new PartitionSet();
  const tombstoned = new PartitionSet();
  const unchecked = new PartitionSet();
  let entriesInOrder = 0;
  let entriesToList = 0;
  for (const partition of partitions) {
    const homeServers = Array.from(home(partition));
    const answering = homeServers.filter((server) => tables[server] !== undefined);
    if (answering.length < homeServers.length) unchecked.add(partition);
    // With no home server to copy to, listing could change nothing.
    if (answering.length === 0) continue;
    const reference = tables[answering[0]]!;
    const count = reference.counts[partition];
    const digest = reference.digests[partition];
    let inOrder = answering.every((server) =>
      tables[server]!.counts[partition] === count && tables[server]!.digests[partition] === digest
    );
    let most = 0;
    tables.forEach((table, server) => {
      if (table === undefined) return;
      most = Math.max(most, table.counts[partition]);
      if (!homeServers.includes(server) && table.counts[partition] > 0) inOrder = false;
    });
    if (!inOrder) {
      differing.add(partition);
      entriesToList += most;
    } else if (
      listTombstones && answering.every((server) => tables[server]!.tombstones[partition] > 0)
    ) {
      tombstoned.add(partition);
      entriesToList += most;
    } else {
      entriesInOrder += count;
    }
  }
  return { differing, tombstoned, unchecked, entriesInOrder, entriesToList };
}
