// A ServerClient copies the answers of each read into a 64 KiB slab shared with later
// answers (lib/protocol/client.ts, #deliver), and hands out views into it: getEncoded's
// value bytes are one. A slab must never be written over while a view into it may be
// held. These tests keep every answer while many more fill slab after slab, then check
// each one.
import assert from "node:assert/strict";
import type { EncodedRead } from "../../lib/protocol/mod.ts";
import { int, object, str, type Value } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { connectClient } from "../helpers/client.ts";
import { at } from "../helpers/versions.ts";

/** Values of a few hundred bytes to a few KiB: each read's answers fit in a slab. */
function valueOf(n: number): Value {
  return object([["n", int(n)], ["pad", str("x".repeat((n * 389) % 4000))]]);
}

Deno.test("answers kept from one read at a time, and from small batches, stay as they were while later answers fill slab after slab", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  try {
    const keys = Array.from({ length: 200 }, (_, n) => `person${n}`);
    await Promise.all(keys.map((key, n) => client.put(key, valueOf(n), at())));
    const kept: { n: number; read: EncodedRead }[] = [];
    // About 400 KiB of answers in all: several slabs, each replaced while views into it are
    // held here.
    for (let round = 0; round < 2; round++) {
      for (const [n, key] of keys.entries()) kept.push({ n, read: await client.getEncoded(key) });
      // Batches of four: answers that arrive together share a slab.
      for (let first = 0; first < keys.length; first += 4) {
        const batch = keys.slice(first, first + 4);
        const reads = await Promise.all(batch.map((key) => client.getEncoded(key)));
        reads.forEach((read, offset) => kept.push({ n: first + offset, read }));
      }
    }
    for (const { n, read } of kept) {
      assert.deepEqual(read.encoded, encodeValue(valueOf(n)), `the kept answer for person${n}`);
    }
  } finally {
    await client.close();
    await stop();
  }
});

/**
 * The server's `maxFrameBytes` in the frame-limit test, which the client learns in HELLO:
 * 16 times the slab, so a value just under it is far past what a slab takes (a quarter
 * of one), as one under the default 16 MiB is; a 16 MiB value cost 3 CPU-s to build,
 * send twice and compare.
 */
const FRAME_LIMIT = 1024 * 1024;

/** Whether `a` and `b` hold the same bytes (assert.deepEqual is slow on large arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

Deno.test("a value a few bytes under the frame limit is answered whole beside small answers of the same reads, and each stays as it was", async () => {
  const { address, stop } = await startServer({ maxFrameBytes: FRAME_LIMIT });
  const client = await connectClient(address);
  try {
    assert.equal(client.maxFrameBytes, FRAME_LIMIT);
    // The PUT's body holds the key, a version and the value: the value's encoding is a tag
    // and a varint length ahead of the characters. Leave room for those, no more.
    const huge = str("h".repeat(FRAME_LIMIT - 64));
    await client.put("huge", huge, at());
    await client.put("small", valueOf(7), at());
    const reads = await Promise.all([
      client.getEncoded("small"),
      client.getEncoded("huge"),
      client.getEncoded("small"),
      client.getEncoded("huge"),
    ]);
    // Later answers, small ones into the slab, after the huge ones were taken.
    for (let n = 0; n < 50; n++) await client.getEncoded("small");
    const hugeEncoded = encodeValue(huge);
    assert.deepEqual(reads[0].encoded, encodeValue(valueOf(7)));
    assert.ok(reads[1].encoded !== undefined && reads[3].encoded !== undefined);
    assert.ok(sameBytes(reads[1].encoded, hugeEncoded), "the first huge answer");
    assert.deepEqual(reads[2].encoded, encodeValue(valueOf(7)));
    assert.ok(sameBytes(reads[3].encoded, hugeEncoded), "the second huge answer");
  } finally {
    await client.close();
    await stop();
  }
});
