import assert from "node:assert/strict";
import fc from "fast-check";
import { compareDigests } from "../../lib/broker/repair_digests.ts";
import { PartitionSet } from "../../lib/broker/partition_set.ts";
import type { PartitionDigests } from "../../lib/protocol/mod.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";

/** What one server holds in one partition, from a few possibilities so that equal ones happen. */
const cellArbitrary = fc.constantFrom(
  { count: 0, tombstones: 0, digest: 0n },
  { count: 1, tombstones: 0, digest: 7n },
  { count: 1, tombstones: 1, digest: 8n },
  { count: 1, tombstones: 0, digest: 9n },
  { count: 2, tombstones: 1, digest: 7n },
);

/** A few partitions' cells on 1–5 servers, each partition's home, and who answered. */
const clusterArbitrary = fc.integer({ min: 1, max: 5 }).chain((serverCount) =>
  fc.record({
    partitions: fc.uniqueArray(fc.nat(PARTITION_COUNT - 1), { minLength: 1, maxLength: 8 }),
    cells: fc.array(fc.array(cellArbitrary, { minLength: 8, maxLength: 8 }), {
      minLength: serverCount,
      maxLength: serverCount,
    }),
    homes: fc.array(
      fc.shuffledSubarray([...Array(serverCount).keys()], { minLength: 1 }),
      { minLength: 8, maxLength: 8 },
    ),
    answered: fc.array(fc.boolean(), { minLength: serverCount, maxLength: serverCount }),
    listTombstones: fc.boolean(),
  })
);

Deno.test("digests: a partition is listed exactly when the servers that answered show it out of place, or (asked, every server answering) it is in order with tombstones on every home server", () => {
  fc.assert(
    fc.property(clusterArbitrary, ({ partitions, cells, homes, answered, listTombstones }) => {
      const tables: (PartitionDigests | undefined)[] = cells.map((row, server) => {
        if (!answered[server]) return undefined;
        const counts = new Uint32Array(PARTITION_COUNT);
        const tombstones = new Uint32Array(PARTITION_COUNT);
        const digests = new BigUint64Array(PARTITION_COUNT);
        partitions.forEach((partition, slot) => {
          counts[partition] = row[slot].count;
          tombstones[partition] = row[slot].tombstones;
          digests[partition] = row[slot].digest;
        });
        return { counts, tombstones, digests };
      });
      const slotOf = new Map(partitions.map((partition, slot) => [partition, slot]));
      const result = compareDigests(
        tables,
        (partition) => homes[slotOf.get(partition)!],
        { partitions: new PartitionSet(partitions), listTombstones },
      );
      let inOrderEntries = 0;
      partitions.forEach((partition, slot) => {
        const home = homes[slot];
        const answering = home.filter((server) => answered[server]);
        const same = answering.every((server) =>
          cells[server][slot].count === cells[answering[0]][slot].count &&
          cells[server][slot].digest === cells[answering[0]][slot].digest
        );
        const elsewhere = cells.some((row, server) =>
          answered[server] && !home.includes(server) && row[slot].count > 0
        );
        const listed = answering.length > 0 && (!same || elsewhere);
        const tombstoned = listTombstones && answered.every(Boolean) && !listed &&
          home.every((server) => cells[server][slot].tombstones > 0);
        assert.equal(result.differing.has(partition), listed, `partition ${partition} listed`);
        assert.equal(
          result.tombstoned.has(partition),
          tombstoned,
          `partition ${partition} tombstoned`,
        );
        assert.equal(result.unchecked.has(partition), answering.length < home.length);
        if (answering.length > 0 && !listed && !tombstoned) {
          inOrderEntries += cells[answering[0]][slot].count;
        }
      });
      assert.equal(result.entriesInOrder, inOrderEntries);
    }),
  );
});
