/**
 * Speed of the record trie's operations on a trie of 1 000 000 records of the
 * `kv gen -d 3 -l 8 -m 6` shape (built once, lazily, by the first benchmark that runs):
 *
 * ```sh
 * deno bench tests/trie_bench.ts
 * ```
 * @module
 */
import { RecordTrie } from "../../lib/trie/mod.ts";
import type { Value } from "../../lib/record/value.ts";
import { generateRecordValue, seededRandom } from "./fixture.ts";

const RECORD_COUNT = 1_000_000;
/** Distinct values the benchmarks put, reused round-robin so generating them is not measured. */
const VALUE_POOL_SIZE = 1024;

const next = seededRandom(99);
const values: Value[] = Array.from({ length: VALUE_POOL_SIZE }, () => generateRecordValue(next));
let built: RecordTrie | undefined;
let counter = 0;

function trie(): RecordTrie {
  if (built !== undefined) return built;
  built = new RecordTrie({ initialNodeCapacity: RECORD_COUNT * 2 });
  const generate = seededRandom(1);
  for (let i = 0; i < RECORD_COUNT; i++) built.put(`person${i}`, generateRecordValue(generate));
  return built;
}

function randomKey(): string {
  return `person${Math.floor(next() * RECORD_COUNT)}`;
}

Deno.bench("put a new record (trie of 1M)", { group: "put" }, () => {
  trie().put(`new${counter++}`, values[counter % VALUE_POOL_SIZE]);
});

Deno.bench("put overwriting a record (trie of 1M)", { group: "put" }, () => {
  trie().put(randomKey(), values[counter++ % VALUE_POOL_SIZE]);
});

Deno.bench("get a record (trie of 1M)", { group: "read" }, () => {
  trie().get(randomKey());
});

Deno.bench("query a field two levels down (trie of 1M)", { group: "read" }, () => {
  trie().query([randomKey(), "name", "age"]);
});

Deno.bench("get a missing record (trie of 1M)", { group: "read" }, () => {
  trie().get(`absent${counter++}`);
});

Deno.bench("delete a record and put it back (trie of 1M)", { group: "delete" }, () => {
  const key = randomKey();
  const t = trie();
  const value = t.get(key);
  t.delete(key);
  if (value !== undefined) t.put(key, value);
});

Deno.bench("keys: 100 with a prefix (trie of 1M)", { group: "keys" }, () => {
  trie().keys({ prefix: `person${Math.floor(next() * 100)}`, limit: 100 });
});

Deno.bench("keys: 100 resuming after a key (trie of 1M)", { group: "keys" }, () => {
  trie().keys({ limit: 100, after: randomKey() });
});
