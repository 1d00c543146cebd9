/**
 * What real servers hold, read directly (LIST_PARTITIONS over every partition, with
 * values), and where a cluster should hold it: for tests that check replicas key by key
 * rather than through a broker, which would hide a copy on the wrong server.
 *
 * @example
 * ```ts
 * const held = await serverContents({ hostname: "127.0.0.1", port: 8000 });
 * held.get("person1")?.tombstone; // false for a record
 * ```
 * @module
 */
import type { PartitionEntry } from "../../lib/protocol/mod.ts";
import { PartitionSet } from "../../lib/broker/partition_set.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { readServerList } from "../../lib/broker/server_list.ts";
import { partitionOf } from "../../lib/record/partition.ts";
import { connectClient } from "./client.ts";

/** Entries asked per page: the protocol's most. */
const PAGE_ENTRIES = 10_000;

/**
 * Every entry (record or tombstone) the server at `address` holds, by key.
 *
 * @example
 * ```ts
 * const held = await serverContents(server.address);
 * ```
 */
export async function serverContents(
  address: { hostname: string; port: number },
): Promise<Map<string, PartitionEntry>> {
  const client = await connectClient(address);
  try {
    const wanted = PartitionSet.all().bytes();
    const held = new Map<string, PartitionEntry>();
    let after: string | undefined;
    for (;;) {
      const page = await client.listPartitions(wanted, {
        after,
        limit: PAGE_ENTRIES,
        values: true,
      });
      for (const entry of page.entries) held.set(entry.key, entry);
      if (!page.more) return held;
      after = page.entries[page.entries.length - 1].key;
    }
  } finally {
    await client.close();
  }
}

/**
 * A function giving the ids (`host:port`) of a key's k home servers under the server
 * file `serverFile`, as a broker using that file places it.
 *
 * @example
 * ```ts
 * const homeOf = await homes("servers.txt", 2);
 * homeOf("person1"); // ["127.0.0.1:40001", "127.0.0.1:40003"]
 * ```
 */
export async function homes(serverFile: string, k: number): Promise<(key: string) => string[]> {
  const servers = await readServerList(serverFile);
  const placement = new Placement(servers.map((server) => server.identity));
  return (key) => {
    const list = placement.preferenceList(partitionOf(key));
    return Array.from(list.subarray(0, k), (index) => servers[index].id).sort();
  };
}
