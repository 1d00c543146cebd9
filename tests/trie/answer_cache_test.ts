import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "../../lib/base/bytes.ts";
import {
  ANSWER_CACHE_BYTES,
  AnswerCache,
  MAX_CACHED_ANSWER_BYTES,
} from "../../lib/trie/answer_cache.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { int, object, str } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { VERSION_BYTES, writeVersion } from "../../lib/record/version.ts";
import { valueArbitrary } from "../helpers/value_arbitrary.ts";

const encoder = new TextEncoder();

/** What the cache hands out for `block`, or undefined when it keeps nothing for it. */
function kept(cache: AnswerCache, block: number): Uint8Array | undefined {
  const writer = new ByteWriter();
  writer.u8(9); // an answer is appended after what the writer holds
  if (!cache.copyInto(block, writer)) {
    assert.equal(writer.length, 1, "a miss writes nothing");
    return undefined;
  }
  assert.equal(writer.bytes()[0], 9);
  return writer.bytes().slice(1);
}

Deno.test("property: an answer cache, offered answers as the arena offers them (after a miss), hands out for a block only the bytes offered for it last, since it was last cleared", () => {
  const operation = fc.oneof(
    fc.record({
      kind: fc.constant("offer" as const),
      block: fc.nat(40),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    }),
    fc.record({ kind: fc.constant("clear" as const) }),
  );
  let hits = 0;
  fc.assert(
    fc.property(
      fc.array(operation, { maxLength: 80, size: "max" }),
      fc.constantFrom(0, 1200, 4096),
      (
        operations,
        ringBytes,
      ) => {
        const cache = new AnswerCache({ bytes: ringBytes });
        const model = new Map<number, Uint8Array>();
        for (const operation of operations) {
          if (operation.kind === "offer") {
            if (kept(cache, operation.block) === undefined) {
              // Offered from the middle of a larger buffer, as from an answer writer.
              const source = new Uint8Array([1, ...operation.bytes, 2]);
              cache.offer(operation.block, source, 1, source.length - 1);
              model.set(operation.block, operation.bytes);
            }
          } else {
            cache.clear();
            model.clear();
          }
          for (let block = 0; block <= 40; block++) {
            const answer = kept(cache, block);
            if (answer === undefined) continue;
            hits++;
            assert.deepEqual(answer, model.get(block), `block ${block}`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
  assert(hits > 0, "some answers were kept");
});

Deno.test("an answer cache keeps an answer offered twice, not once, and none too long or when it has no room", () => {
  const cache = new AnswerCache({ bytes: 64 * 1024 });
  assert.equal(cache.memoryBytes, 0, "nothing is made before the first offer");
  const answer = (block: number) => new Uint8Array(343).fill(block & 0xff);
  const blocks = Array.from({ length: 100 }, (_, i) => i * 344);
  for (const block of blocks) cache.offer(block, answer(block), 0, 343);
  assert(blocks.every((block) => kept(cache, block) === undefined), "offered once: none kept");
  assert(cache.memoryBytes < 64 * 1024, "no ring is made before an answer is kept");
  for (const block of blocks) cache.offer(block, answer(block), 0, 343);
  assert(cache.memoryBytes >= 64 * 1024);
  let hits = 0;
  for (const block of blocks) {
    const held = kept(cache, block);
    if (held !== undefined) {
      hits++;
      assert.deepEqual(held, answer(block));
    }
  }
  // 100 blocks in 4 096 slots of offers and 1 024 four-way sets: collisions are rare.
  assert(hits >= 95, `${hits} of 100 kept`);
  cache.clear();
  assert(blocks.every((block) => kept(cache, block) === undefined), "cleared: none kept");
  const long = new Uint8Array(MAX_CACHED_ANSWER_BYTES + 1);
  cache.offer(1, long, 0, long.length);
  cache.offer(1, long, 0, long.length);
  assert.equal(kept(cache, 1), undefined);
  const none = new AnswerCache({ bytes: 0 });
  none.offer(1, new Uint8Array(3), 0, 3);
  none.offer(1, new Uint8Array(3), 0, 3);
  assert.equal(kept(none, 1), undefined);
  assert.equal(none.memoryBytes, 0);
});

/** A key's state in the model: its record's encoding (none for a tombstone) and its version. */
interface Held {
  readonly encoded?: Uint8Array;
  readonly ms: number;
}

/** What a GET of `key` answers by the model: the version's bytes and the value's encoding. */
function modelAnswer(model: Map<string, Held>, key: string) {
  const held = model.get(key);
  if (held === undefined) return { found: false, bytes: new Uint8Array(0) };
  const version = new Uint8Array(VERSION_BYTES);
  writeVersion(version, 0, { ms: held.ms, counter: 0, broker: 1 });
  if (held.encoded === undefined) return { found: false, bytes: version };
  const bytes = new Uint8Array(VERSION_BYTES + held.encoded.length);
  bytes.set(version);
  bytes.set(held.encoded, VERSION_BYTES);
  return { found: true, bytes };
}

/** What the trie's GET of `key` answers. */
function trieAnswer(trie: RecordTrie, key: string) {
  const source = encoder.encode(key);
  const writer = new ByteWriter();
  const found = trie.getEncodedAt(source, 0, source.length, writer);
  return { found, bytes: writer.bytes().slice() };
}

Deno.test("property: a GET after any history of PUTs, DELETEs, purges and compactions answers what a model says, its answers kept or not", () => {
  const keys = ["a", "b", "c", "big1", "big2"];
  // Large records are not kept, but each overwrite of one leaves enough garbage behind
  // to make the arena compact every few writes, moving the kept records' blocks.
  const big = fc.nat(3).map((n) => object([["fill", str(String(n).repeat(40_000))]]));
  const small = fc.oneof(valueArbitrary(3), fc.integer().map(int));
  const operation = fc.record({
    kind: fc.constantFrom("put", "put", "get", "get", "tombstone", "delete", "purge"),
    key: fc.constantFrom(...keys),
    // Versions mostly newer than the last write's, now and then not (then refused).
    jitter: fc.nat(6),
    small,
    big,
  });
  let compactions = 0;
  let cachedRuns = 0;
  fc.assert(
    fc.property(
      fc.array(operation, { maxLength: 60, size: "max" }),
      fc.constantFrom(2048, 1 << 20),
      (
        operations,
        answerCacheBytes,
      ) => {
        const trie = new RecordTrie({ answerCacheBytes });
        const model = new Map<string, Held>();
        for (const [index, { kind, key, jitter, small, big }] of operations.entries()) {
          const ms = index * 4 + jitter;
          const version = { ms, counter: 0, broker: 1 };
          const garbage = trie.memoryStats().arenaGarbageBytes;
          if (kind === "put") {
            const value = key.startsWith("big") ? big : small;
            if (trie.put(key, value, { version, ifNewer: true })) {
              model.set(key, { encoded: encodeValue(value), ms });
            }
          } else if (kind === "tombstone") {
            if (trie.tombstone(key, { version, ifNewer: true })) model.set(key, { ms });
          } else if (kind === "delete") {
            trie.delete(key);
            model.delete(key);
          } else if (kind === "purge") {
            trie.purgeTombstones(ms);
            for (const [held, { encoded, ms: heldMs }] of model) {
              if (encoded === undefined && heldMs < ms) model.delete(held);
            }
          }
          if (trie.memoryStats().arenaGarbageBytes < garbage) compactions++;
          // Every key read twice: a miss that keeps the answer, then (mostly) a hit.
          for (const asked of [...keys, ...keys]) {
            assert.deepEqual(trieAnswer(trie, asked), modelAnswer(model, asked), asked);
          }
        }
        if (trie.memoryBytes > new RecordTrie().memoryBytes + answerCacheBytes) cachedRuns++;
        trie.checkInvariants();
      },
    ),
    { numRuns: 100 },
  );
  assert(compactions > 0, "some histories compacted the arena");
  assert(cachedRuns > 0, "some histories kept answers");
});

Deno.test("a record whose block a compaction moves to the offset of a deleted record's kept answer is answered as itself", () => {
  const trie = new RecordTrie();
  const first = object([["name", str("first record")]]);
  const second = object([["name", str("other record")]]); // the same size
  trie.put("a", first);
  const before = trie.memoryBytes;
  for (let read = 0; read < 3; read++) {
    assert.deepEqual(trieAnswer(trie, "a").bytes.subarray(VERSION_BYTES), encodeValue(first));
  }
  assert(trie.memoryBytes >= before + ANSWER_CACHE_BYTES, "a's answer was kept");
  trie.delete("a"); // the answer kept for a's block outlives it
  trie.put("b", second);
  // Garbage past half the arena and 64 KiB: the arena compacts, and b's block slides
  // down to offset 0, where a's was.
  trie.put("filler", str("x".repeat(100_000)));
  trie.delete("filler");
  assert.equal(trie.memoryStats().arenaGarbageBytes, 0, "the arena compacted");
  assert.deepEqual(trieAnswer(trie, "b").bytes.subarray(VERSION_BYTES), encodeValue(second));
  trie.checkInvariants();
});
