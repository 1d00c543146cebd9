/**
 * Measures how much memory the record trie needs per record of the
 * `kv gen -d 3 -l 8 -m 6` shape, against the record's JSON text and, with `--redis`,
 * against Redis holding the same records as JSON strings. A measurement script, not a
 * test:
 *
 * ```sh
 * deno run --allow-all --v8-flags=--expose-gc tests/trie_memory_bench.ts [records] [--redis]
 * ```
 * @module
 */
import { RecordTrie } from "../../lib/trie/mod.ts";
import { toJsonText } from "../../lib/record/value.ts";
import { pipeIntoRedis, redisInfo, startRedis } from "../measure/redis.ts";
import { generateRecordValue, seededRandom } from "./fixture.ts";

const DEFAULT_RECORDS = 100_000;

const encoder = new TextEncoder();

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) gc();
}

function perRecord(bytes: number, records: number): string {
  return `${(bytes / records).toFixed(0).padStart(6)} B/record`;
}

/** The records, generated again from the same seed each time they are needed. */
function* records(
  count: number,
): Generator<[string, string, ReturnType<typeof generateRecordValue>]> {
  const next = seededRandom(2024);
  for (let i = 0; i < count; i++) {
    const value = generateRecordValue(next);
    yield [`person${i}`, toJsonText(value), value];
  }
}

function measureTrie(count: number): void {
  // Generating values makes garbage, and V8 keeps the heap it grew for it committed (about
  // 1.1 KB per record here, trie or not). A first pass that only generates grows the heap
  // to that high-water mark, so the measured pass sees the trie's own growth.
  let warmUpBytes = 0;
  for (const [, json] of records(count)) warmUpBytes += json.length;
  collectGarbage();
  const before = Deno.memoryUsage();
  const trie = new RecordTrie();
  let jsonBytes = 0;
  let keyBytes = 0;
  for (const [key, json, value] of records(count)) {
    jsonBytes += encoder.encode(json).length;
    keyBytes += key.length;
    trie.put(key, value);
  }
  collectGarbage();
  const after = Deno.memoryUsage();
  const stats = trie.memoryStats();
  console.log(`records:                 ${trie.recordCount} (warm-up JSON ${warmUpBytes} B)`);
  console.log(
    `JSON text:               ${perRecord(jsonBytes, count)} (+ key ${keyBytes / count} B)`,
  );
  console.log(`trie memoryBytes:        ${perRecord(stats.memoryBytes, count)} (capacity)`);
  console.log(`trie arena used:         ${perRecord(stats.arenaUsedBytes, count)}`);
  console.log(`key nodes:               ${(stats.keyNodes / count).toFixed(2)} per record`);
  console.log(`RSS growth:              ${perRecord(after.rss - before.rss, count)}`);
  console.log(`heap used growth:        ${perRecord(after.heapUsed - before.heapUsed, count)}`);
  console.log(`external growth:         ${perRecord(after.external - before.external, count)}`);
}

async function measureRedis(count: number): Promise<void> {
  const respPath = await Deno.makeTempFile({ suffix: ".resp" });
  const redis = await startRedis();
  try {
    const resp = await Deno.open(respPath, { write: true });
    const writer = resp.writable.getWriter();
    for (const [key, json] of records(count)) {
      await writer.write(encoder.encode(
        `*3\r\n$3\r\nSET\r\n$${encoder.encode(key).length}\r\n${key}\r\n` +
          `$${encoder.encode(json).length}\r\n${json}\r\n`,
      ));
    }
    await writer.close();
    const before = await redisInfo(redis.port, "used_memory");
    await pipeIntoRedis(redis.port, respPath);
    const after = await redisInfo(redis.port, "used_memory");
    console.log(`redis used_memory growth:${perRecord(after - before, count)}`);
  } finally {
    await redis.stop();
    await Deno.remove(respPath);
  }
}

if (import.meta.main) {
  const count = Number(Deno.args.find((arg) => /^\d+$/.test(arg)) ?? DEFAULT_RECORDS);
  measureTrie(count);
  if (Deno.args.includes("--redis")) await measureRedis(count);
}
