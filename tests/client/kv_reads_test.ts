// Kv.get and Kv.getBytes on the read path of this stop: a connection copies answers into a
// 64 KiB slab shared by later answers (lib/protocol/client.ts), getBytes copies short
// values into 8 KiB blocks they share (lib/client/kv.ts), and a GET's entry is made as its
// read ends (KvCore.getDecoded). End to end, with server processes: what a caller
// keeps stays as it was however many reads come after, whatever the value's size, and the
// two reads agree on every key, a server hung or not.
import assert from "node:assert/strict";
import type { KvValue } from "../../mod.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { withDeadline } from "../helpers/wait.ts";

/**
 * Sizes of string values around the client's thresholds: well inside a slab, around the
 * largest value getBytes copies into a shared block (4 KiB), around the largest copy a
 * slab takes (16 KiB), over a whole slab (64 KiB), and megabytes.
 */
const VALUE_BYTES = [
  ...[0, 1, 100, 4 * 1024 - 40, 4 * 1024 + 40],
  ...[16 * 1024 - 40, 16 * 1024 + 40, 64 * 1024 + 1, 1024 * 1024],
];

function valueOf(n: number): KvValue {
  const bytes = VALUE_BYTES[n % VALUE_BYTES.length];
  return n % 3 === 0 ? { n, text: `${n}:`.padEnd(bytes, "x") } : `${n}:`.padEnd(bytes, "y");
}

Deno.test("what get and getBytes answered stays as it was through later reads of every size, one at a time and many at once", async () => {
  await using cluster = await KvCluster.start(2);
  await using kv = await cluster.connect({ replicas: 2 });
  const keys = Array.from({ length: 3 * VALUE_BYTES.length }, (_, n) => `key${n}`);
  for (const [n, key] of keys.entries()) await kv.put(key, valueOf(n));
  const kept: { n: number; value: KvValue | null; bytes: Uint8Array }[] = [];
  // One at a time: each answer a read of its own, so slabs fill and are replaced while
  // earlier answers are still held.
  for (let round = 0; round < 3; round++) {
    for (const [n, key] of keys.entries()) {
      const entry = await kv.get(key);
      const encoded = await kv.getBytes(key);
      assert.ok(encoded.value !== null, key);
      kept.push({ n, value: entry.value, bytes: encoded.value });
    }
  }
  // Many at once: answers of one read share a slab.
  const entries = await Promise.all(keys.map((key) => kv.get(key)));
  const encoded = await Promise.all(keys.map((key) => kv.getBytes(key)));
  keys.forEach((_, n) => kept.push({ n, value: entries[n].value, bytes: encoded[n].value! }));
  // Reads after all of them, over the same connections.
  await Promise.all(keys.toReversed().map((key) => kv.getBytes(key)));
  for (const { n, value, bytes } of kept) {
    assert.deepEqual(value, valueOf(n), `get of key${n}`);
    assert.deepEqual(kv.decode(bytes), valueOf(n), `getBytes of key${n}`);
  }
});

Deno.test("a getBytes value whose buffer is transferred away takes no other read with it: later reads, and values of other blocks, stay whole", async () => {
  await using cluster = await KvCluster.start(2);
  await using kv = await cluster.connect({ replicas: 2 });
  const keys = Array.from({ length: 40 }, (_, n) => `key${n}`);
  // Values of about 1 KiB: a block holds a few, so the 40 fill several.
  const valueOfKey = (n: number) => `${n}:`.padEnd(1000, "z");
  await Promise.all(keys.map((key, n) => kv.put(key, valueOfKey(n))));
  const first = await Promise.all(keys.map((key) => kv.getBytes(key)));
  const moved = first[0].value!;
  (moved.buffer as ArrayBuffer).transfer();
  const survivors = first.filter((entry) => entry.value!.buffer !== moved.buffer);
  assert.ok(survivors.length > 0, "some values lie in other blocks");
  for (const entry of survivors) {
    assert.deepEqual(kv.decode(entry.value!), valueOfKey(Number(entry.key.slice(3))));
  }
  // Reads under way and after: the library's own buffers were not the one transferred.
  const [again, objects] = await Promise.all([
    Promise.all(keys.map((key) => kv.getBytes(key))),
    Promise.all(keys.map((key) => kv.get(key))),
  ]);
  keys.forEach((key, n) => {
    assert.deepEqual(kv.decode(again[n].value!), valueOfKey(n), `getBytes ${key}`);
    assert.deepEqual(objects[n].value, valueOfKey(n), `get ${key}`);
  });
});

/** A read's answer, or the error it rejected with, for comparison. */
async function outcome<T>(read: Promise<T>): Promise<{ answer: T } | { error: string }> {
  try {
    return { answer: await read };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

Deno.test("get and getBytes agree on found, not found, version, warning and error for every key, with one or both of k = 2 servers hung", async () => {
  await using cluster = await KvCluster.start(2);
  await using kv = await cluster.connect({ replicas: 2 });
  const keys = Array.from({ length: 30 }, (_, n) => `person${n}`);
  // Half the keys written, some of those deleted: found, tombstone and never written.
  for (let n = 0; n < keys.length; n += 2) await kv.put(keys[n], { n });
  for (let n = 0; n < keys.length; n += 6) await kv.delete(keys[n]);
  /** Compares the two reads of every key; says how many answers carried a warning or failed. */
  const compare = async (what: string): Promise<number> => {
    let unsure = 0;
    for (const key of keys) {
      const entry = await withDeadline(outcome(kv.get(key)), { what: `get ${key} (${what})` });
      const bytes = await withDeadline(outcome(kv.getBytes(key)), {
        what: `getBytes ${key} (${what})`,
      });
      const decoded = "answer" in bytes
        ? {
          answer: {
            ...bytes.answer,
            value: bytes.answer.value === null ? null : kv.decode(bytes.answer.value),
          },
        }
        : bytes;
      assert.deepEqual(decoded, entry, `${key} (${what})`);
      if (!("answer" in entry) || entry.answer.warning !== undefined) unsure++;
    }
    return unsure;
  };
  assert.equal(await compare("both servers up"), 0);
  // With k = n = 2 every acknowledged write is on both: one answer is conclusive, so the
  // reads stay sure, whether the hung server is still being asked (a timeout each) or
  // already known to be down.
  cluster.servers[0].signal("SIGSTOP");
  assert.equal(await compare("one server hung"), 0);
  assert.deepEqual((await kv.servers()).map((status) => status.up), [false, true]);
  assert.equal(await compare("one server known to be hung"), 0);
  // With both hung nothing is sure: warnings or errors, the same from both reads once the
  // broker knows (a read that finds a server hung says so in its own warning: one pass first).
  cluster.servers[1].signal("SIGSTOP");
  for (const key of keys) await withDeadline(outcome(kv.get(key)), { what: `get ${key}` });
  assert.equal(await compare("both servers hung"), keys.length);
  cluster.servers[0].signal("SIGCONT");
  cluster.servers[1].signal("SIGCONT");
});
