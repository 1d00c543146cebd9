/**
 * A new cluster is in order: servers that start empty (memory-only, or a new data dir)
 * say they are _unrepaired_ — they cannot tell a first start from a restart that lost
 * data — and a broker does not trust their NOT FOUND until they are repaired. When every
 * server of the list is reachable and holds no record, there is nothing any of them can
 * have lost that another could give back, so a broker opening on such a cluster marks
 * them repaired at once (MARK_REPAIRED) instead of distrusting a new cluster until its
 * first repair. With any server unreachable, or any record anywhere, it leaves them to
 * the repair engine.
 *
 * @example
 * ```ts
 * import { markEmptyClusterRepaired } from "./empty_cluster.ts";
 * await markEmptyClusterRepaired(pool); // the servers it marked, e.g. ["127.0.0.1:8000"]
 * ```
 * @module
 */
import type { ServerPool } from "./server_pool.ts";

/**
 * Marks every unrepaired server of `pool` repaired when all its servers are up and hold
 * no record; returns the ids of the servers marked (empty when it did nothing, or a
 * server failed meanwhile: they stay unrepaired for the repair engine).
 *
 * @example
 * ```ts
 * await markEmptyClusterRepaired(pool); // [] when some server holds records
 * ```
 */
export async function markEmptyClusterRepaired(pool: ServerPool): Promise<string[]> {
  const indexes = pool.servers.map((_, index) => index);
  if (!indexes.every((index) => pool.isUp(index))) return [];
  const unrepaired = indexes.filter((index) => pool.state(index)?.unrepaired === true);
  if (unrepaired.length === 0) return [];
  const counts = await Promise.all(
    indexes.map((index) => pool.call(index, (connection) => connection.stats())),
  );
  if (!counts.every((outcome) => outcome.ok && outcome.value.recordCount === 0)) return [];
  const marked = await Promise.all(
    unrepaired.map((index) => pool.call(index, (connection) => connection.markRepaired())),
  );
  return unrepaired.filter((_, at) => marked[at].ok).map((index) => pool.servers[index].id);
}
