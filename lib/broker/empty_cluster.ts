/**
 * A new cluster is in order: servers that start empty (memory-only, or a new data dir)
 * say they are _unrepaired_ — they cannot tell a first start from a restart that lost
 * data — and a broker does not trust their NOT FOUND until they are repaired. When every
 * server of the list is reachable and holds no entry (no record, and no tombstone: a
 * delete's version orders the writes after it), there is nothing any of them can
 * have lost that another could give back, so a broker opening on such a cluster marks
 * them repaired at once (MARK_REPAIRED, under the pool's list: `ServerPool.trustUnder`)
 * instead of distrusting a new cluster until its first repair. With any server unreachable, or any record anywhere, it leaves them to
 * the repair engine.
 *
 * Empty servers are a new cluster only when nothing else is: a broker opening marks them
 * only when it fixes their k (lib/broker/cluster_k.ts: a client that may write, none of
 * the servers recording a k). A server list naming only new servers is also what an
 * operator checks (`kv servers`) before adding them to a cluster that holds data; marked
 * repaired then, they would answer that cluster's reads with a NOT FOUND counted as
 * trustworthy — no warning — for every key placed on them, until a repair. The writing
 * client cannot tell them apart either: servers it marks are a cluster of their own,
 * marked under their own list, so a broker over a list joining them to another does not
 * trust them until `kv repair` over the new list marks them (README, The cluster's k).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { markEmptyClusterRepaired } from "./empty_cluster.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * await markEmptyClusterRepaired(pool); // the servers it marked, e.g. ["127.0.0.1:8000"]
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import type { ServerPool } from "./server_pool.ts";

/**
 * Marks every server `pool` does not trust (unrepaired, or repaired under another list)
 * repaired, under the pool's list ({@link ServerPool.trustUnder}, called first), when all its servers are up and hold
 * no entry — no record and no tombstone; returns the ids of the servers marked (empty
 * when it did nothing, or a server failed or restarted meanwhile: they stay unrepaired
 * for the repair engine).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * await markEmptyClusterRepaired(pool); // [] when some server holds records
 * ```
 */
export async function markEmptyClusterRepaired(pool: ServerPool): Promise<string[]> {
  const indexes = pool.servers.map((_, index) => index);
  if (!indexes.every((index) => pool.isUp(index))) return [];
  const list = pool.listFingerprint;
  invariant(list !== undefined, "servers are marked under the list the pool trusts");
  // Untrusted ones: unrepaired, or repaired under another list (empty, they lack nothing).
  const unrepaired = indexes.filter((index) => pool.trusted(index) === false);
  if (unrepaired.length === 0) return [];
  // Tombstones count: a delete is an acknowledged write too, and a write made after it
  // must be stamped after it, which a server that lost it cannot tell. The id of each
  // process that answered is kept, as the repair engine keeps it.
  const tables = await Promise.all(
    indexes.map((index) =>
      pool.call(index, async (connection) => {
        // The mark read before the count: MARK_REPAIRED expects it (a compare-and-set).
        const mark = connection.state.repairedUnder;
        const { counts } = await connection.partitionDigests();
        const entries = counts.reduce((sum, count) => sum + count, 0);
        return { entries, id: connection.serverId, mark };
      })
    ),
  );
  const found: { id: string; mark: Uint8Array }[] = [];
  for (const outcome of tables) {
    if (!outcome.ok || outcome.value.entries !== 0) return [];
    found.push(outcome.value);
  }
  // Only the process found empty: one restarted since may have lost writes it took
  // meanwhile, and its HELLO says unrepaired again for the repair engine.
  const marked = await Promise.all(
    unrepaired.map((index) =>
      pool.call(
        index,
        (connection) =>
          connection.serverId === found[index].id
            ? connection.markRepaired(list, found[index].mark)
            : Promise.reject(new Error("restarted since it was found empty; not marked repaired")),
      )
    ),
  );
  return unrepaired.filter((_, at) => marked[at].ok).map((index) => pool.servers[index].id);
}
