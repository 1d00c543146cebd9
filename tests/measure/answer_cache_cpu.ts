/**
 * What a server's answer cache (`lib/trie/answer_cache.ts`) costs or saves a GET, in
 * process and in CPU time: two record tries holding the same N records of the
 * `kv gen -d 3 -l 8 -m 6` shape, one keeping no answers, one keeping up to
 * ANSWER_CACHE_BYTES, answer the same 200 000 GETs of records picked uniformly
 * (`RecordTrie.getEncodedAt`, as a server's GET), in alternating rounds. With 1000 records
 * every record's answer is kept; with 100 000 most GETs miss, which shows what a miss adds.
 * A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/answer_cache_cpu.ts [records] [rounds]   # default 100000 8
 * ```
 * @module
 */
import process from "node:process";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { ANSWER_CACHE_BYTES } from "../../lib/trie/answer_cache.ts";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { generateText } from "../../lib/gen/generator.ts";
import { GEN_SHAPE } from "../../lib/bench/runner.ts";
import { SAMPLE_KEYS } from "../../lib/gen/keyfile.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import { Sfc32 } from "../../lib/gen/prng.ts";

const GETS = 200_000;

/** Answer bytes written before the writer is emptied, as a server's batch would be sent. */
const WRITER_BYTES = 512 * 1024;

const records = Number(Deno.args[0] ?? 100_000);
const rounds = Number(Deno.args[1] ?? 8);
const text = generateText({ keys: SAMPLE_KEYS, recordCount: records, seed: 1, ...GEN_SHAPE });
const lines = text.trimEnd().split("\n").map((line) => parseRecordLine(line));
const encoder = new TextEncoder();
const keys = lines.map((line) => encoder.encode(line.key));

function loaded(answerCacheBytes: number): RecordTrie {
  const trie = new RecordTrie({ answerCacheBytes });
  for (const { key, value } of lines) trie.put(key, value);
  return trie;
}

const tries: [string, RecordTrie][] = [
  ["no cache", loaded(0)],
  ["cache", loaded(ANSWER_CACHE_BYTES)],
];
const random = new Sfc32(1);
const order = Array.from({ length: GETS }, () => random.nextBelow(records));
const writer = new ByteWriter(WRITER_BYTES * 2);
const micros: Record<string, number[]> = { "no cache": [], "cache": [] };
for (let round = 0; round < rounds; round++) {
  for (const [name, trie] of round % 2 === 0 ? tries : [...tries].reverse()) {
    const before = process.cpuUsage();
    for (const index of order) {
      const key = keys[index];
      trie.getEncodedAt(key, 0, key.length, writer);
      if (writer.length > WRITER_BYTES) writer.reset();
    }
    const used = process.cpuUsage(before);
    micros[name].push((used.user + used.system) / GETS);
  }
}
console.log(`${records} records, ${GETS} GETs a round, ${rounds} rounds alternating`);
for (const [name, values] of Object.entries(micros)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `${name}: median ${sorted[sorted.length >> 1].toFixed(3)} µs/GET of CPU ` +
      `(${sorted.map((value) => value.toFixed(2)).join(", ")})`,
  );
}
