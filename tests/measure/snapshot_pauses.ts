/**
 * How long a snapshot stops a server answering (issue 10's bar: no pause over 50 ms, at
 * any size). One `kv server --data-dir` process is loaded with N records of the
 * `kv gen` shape (tests/fixtures/gen_records.ts) by PUT_MANY; then records are
 * overwritten until the log's size starts a compaction, whose snapshot holds all N.
 * While the snapshot is written (its `.tmp` file exists) one connection sends PING
 * after PING and another keeps writing a trickle of records (so the copy-on-write path
 * runs too); the script reports the worst and the percentiles of the PING round trips.
 * A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/snapshot_pauses.ts [records]   # default 1000000
 * ```
 * @module
 */
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import type { ServerClient } from "../../lib/protocol/client.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { connectClient } from "../helpers/client.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { recordKey, recordValue } from "../fixtures/gen_records.ts";

const DEFAULT_RECORDS = 1_000_000;

/** Records per PUT_MANY while loading. */
const BATCH_RECORDS = 2_000;

/** PUT_MANY requests in flight while loading. */
const BATCHES_IN_FLIGHT = 4;

/** Records written per batch of the trickle during the snapshot, and the pause between. */
const TRICKLE_RECORDS = 100;
const TRICKLE_PAUSE_MS = 20;

/** Longest the script waits for a compaction to start or end, in ms. */
const PHASE_TIMEOUT_MS = 30 * 60 * 1000;

const recordCount = Number(Deno.args[0] ?? DEFAULT_RECORDS);
if (!Number.isSafeInteger(recordCount) || recordCount < 1) {
  throw new RangeError(`records must be a whole number of at least 1: ${Deno.args[0]}`);
}

let clock = 1;
/** Encoded values, one per record index modulo their count: encoding is not what is measured. */
const values = Array.from({ length: 1000 }, (_, index) => encodeValue(recordValue(index)));

async function writeRange(client: ServerClient, from: number, to: number): Promise<void> {
  const items = new PutManyItems();
  for (let index = from; index < to; index++) {
    items.add(recordKey(index), values[index % values.length], {
      ms: Date.now(),
      counter: clock++ & 0xffff,
      broker: 1,
    });
  }
  const refused = await client.putMany(items);
  if (refused.length > 0) throw new Error(`${refused.length} records refused`);
}

/** Writes records `[0, count)` again and again, `BATCHES_IN_FLIGHT` batches at a time, until `stop()`. */
async function writeUntil(client: ServerClient, count: number, stop: () => boolean) {
  let next = 0;
  let written = 0;
  const worker = async () => {
    while (!stop()) {
      const from = next;
      next = (next + BATCH_RECORDS) % count;
      await writeRange(client, from, Math.min(from + BATCH_RECORDS, count));
      written += Math.min(BATCH_RECORDS, count - from);
    }
  };
  await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, worker));
  return written;
}

function snapshotInProgress(dir: string): boolean {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name.endsWith(".kvsnap.tmp")) return true;
  }
  return false;
}

async function waitUntil(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

function summary(pings: number[]): string {
  const sorted = pings.toSorted((a, b) => a - b);
  return `p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${
    percentile(sorted, 0.99).toFixed(2)
  } ms, ` +
    `p99.9 ${percentile(sorted, 0.999).toFixed(2)} ms, worst ${sorted.at(-1)!.toFixed(2)} ms ` +
    `(${sorted.length} PINGs)`;
}

/**
 * PINGs one after another on `pinger` while `condition()` holds, with a trickle of
 * writes on `writer`; returns the round trips in ms.
 */
async function pingWhile(
  writer: ServerClient,
  pinger: ServerClient,
  condition: () => boolean,
): Promise<number[]> {
  const pings: number[] = [];
  let writing = true;
  const trickle = (async () => {
    let from = 0;
    while (writing) {
      await writeRange(writer, from, from + TRICKLE_RECORDS);
      from = (from + TRICKLE_RECORDS) % (recordCount - TRICKLE_RECORDS);
      await new Promise((resolve) => setTimeout(resolve, TRICKLE_PAUSE_MS));
    }
  })();
  while (condition()) pings.push(await pinger.ping());
  writing = false;
  await trickle;
  return pings;
}

const dir = await Deno.makeTempDir({ prefix: "kv-snapshot-pauses-" });
const server = await ServerProcess.start({ kv: TEST_KV, dataDir: dir });
try {
  const options = { requestTimeoutMs: 600_000, connectTimeoutMs: 60_000 };
  const writer = await connectClient(server.address, options);
  const pinger = await connectClient(server.address, options);

  const loadStart = performance.now();
  let loaded = 0;
  await writeUntil(writer, recordCount, () => (loaded += BATCH_RECORDS) > recordCount);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  console.log(`loaded ${recordCount} records in ${loadSeconds.toFixed(1)} s`);
  await waitUntil("a compaction of the load to end", () => !snapshotInProgress(dir));

  // Overwrite until the log's size starts a compaction: its snapshot holds every record.
  let started = false;
  const watcher = waitUntil("a compaction to start", () => started = snapshotInProgress(dir));
  const rewritten = await writeUntil(writer, recordCount, () => started);
  await watcher;
  console.log(`rewrote ${rewritten} records until a compaction started`);

  const snapshotStart = performance.now();
  const during = await pingWhile(writer, pinger, () => snapshotInProgress(dir));
  const snapshotSeconds = (performance.now() - snapshotStart) / 1000;
  const stats = await pinger.stats();
  console.log(`records in the snapshot's store: ${stats.recordCount}`);
  console.log(
    `snapshot written in ${snapshotSeconds.toFixed(1)} s (from when its .tmp was seen), ` +
      `${during.length} PINGs during it`,
  );
  console.log(`PING during the snapshot:       ${summary(during)}`);
  // The machine's own noise (other processes, scheduling), for comparison: the same
  // PINGs and trickle of writes for as long, with no snapshot.
  const baselineEnd = performance.now() + snapshotSeconds * 1000;
  const baseline = await pingWhile(writer, pinger, () => performance.now() < baselineEnd);
  if (snapshotInProgress(dir)) throw new Error("a compaction started during the baseline");
  console.log(`PING without a snapshot (base): ${summary(baseline)}`);
  await writer.close();
  await pinger.close();
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
