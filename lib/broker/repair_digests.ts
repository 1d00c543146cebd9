/**
 * The first step of a repair, pure: from every server's partition digests
 * (PARTITION_DIGESTS: per partition, its entry count and the XOR of a hash of each
 * entry's key, version and kind), which partitions are in order and which must be
 * listed. A partition is in order when its home servers (the first k of its
 * preference list) hold identical digests and every other server holds nothing there;
 * equal (key, version, kind) sets mean equal contents, so replicas that agree are never
 * listed, let alone copied.
 *
 * @example
 * ```ts
 * import { compareDigests } from "./repair_digests.ts";
 * import { PARTITION_COUNT } from "../record/partition.ts";
 * const table = { counts: new Uint32Array(PARTITION_COUNT), digests: new BigUint64Array(PARTITION_COUNT) };
 * const empty = { counts: new Uint32Array(PARTITION_COUNT), digests: new BigUint64Array(PARTITION_COUNT) };
 * table.counts[5] = 1;
 * table.digests[5] = 42n;
 * const result = compareDigests([table, empty], () => [0, 1]);
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
  /** Partitions with a home server that did not answer: they cannot be found in order. */
  readonly unchecked: PartitionSet;
  /** Entries of the partitions found in order, checked by their digests alone. */
  readonly entriesInOrder: number;
  /** Most entries any server holds in the differing partitions: what listing them checks at least. */
  readonly entriesToList: number;
}

/**
 * Compares the digest tables of every server (undefined for one that did not answer)
 * over `partitions` (default all), `home(p)` giving partition p's home servers.
 *
 * @example
 * ```ts
 * const { differing, unchecked } = compareDigests(tables, (p) => placement.preferenceList(p).subarray(0, k));
 * ```
 */
export function compareDigests(
  tables: readonly (PartitionDigests | undefined)[],
  home: (partition: number) => ArrayLike<number>,
  partitions: PartitionSet = PartitionSet.all(),
): DigestComparison {
  const differing = new PartitionSet();
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
    if (inOrder) {
      entriesInOrder += count;
    } else {
      differing.add(partition);
      entriesToList += most;
    }
  }
  return { differing, unchecked, entriesInOrder, entriesToList };
}
