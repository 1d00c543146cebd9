/**
 * Store throughput and recovery time, 100k records shaped like `kv gen -d 3 -l 8 -m 6`:
 * `deno bench --allow-read --allow-write tests/store_bench.ts`.
 * @module
 */
import { Store } from "../../lib/server/store.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import type { Value } from "../../lib/record/value.ts";
import { recordKey, recordValue } from "../fixtures/gen_records.ts";

const RECORD_COUNT = 100_000;
const BATCH_SIZE = 1000;

const keys: string[] = [];
const values: Value[] = [];
const encodedValues: Uint8Array[] = [];
for (let index = 0; index < RECORD_COUNT; index++) {
  keys.push(recordKey(index));
  values.push(recordValue(index));
  encodedValues.push(encodeValue(values[index]));
}

/** Puts every record in batches, committing each batch as a server acknowledges a request. */
async function load(store: Store): Promise<void> {
  for (let first = 0; first < RECORD_COUNT; first += BATCH_SIZE) {
    for (let index = first; index < first + BATCH_SIZE; index++) {
      store.putEncoded(keys[index], encodedValues[index]);
    }
    await store.commit();
  }
}

Deno.bench("put+commit 100k records, memory only", { group: "load", baseline: true }, async () => {
  await load(await Store.open());
});

for (const fsync of ["never", "interval", "always"] as const) {
  Deno.bench(`put+commit 100k records, data dir, fsync ${fsync}`, { group: "load" }, async (b) => {
    const dir = await Deno.makeTempDir();
    b.start();
    const store = await Store.open({ dataDir: dir, fsync });
    await load(store);
    await store.close();
    b.end();
    await Deno.remove(dir, { recursive: true });
  });
}

const logDir = await Deno.makeTempDir();
const snapshotDir = await Deno.makeTempDir();
for (const dir of [logDir, snapshotDir]) {
  const store = await Store.open({ dataDir: dir, fsync: "never" });
  await load(store);
  if (dir === snapshotDir) await store.compact();
  await store.close();
}

Deno.bench("recover 100k records from the log", { group: "recover", baseline: true }, async () => {
  const store = await Store.open({ dataDir: logDir });
  if (store.recordCount !== RECORD_COUNT) throw new Error("lost records");
  await store.close();
});

Deno.bench("recover 100k records from a snapshot", { group: "recover" }, async () => {
  const store = await Store.open({ dataDir: snapshotDir });
  if (store.recordCount !== RECORD_COUNT) throw new Error("lost records");
  await store.close();
});

Deno.bench("compact 100k records", { group: "compact" }, async () => {
  const store = await Store.open({ dataDir: snapshotDir });
  await store.compact();
  await store.close();
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(logDir, { recursive: true });
  Deno.removeSync(snapshotDir, { recursive: true });
});
