import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameReader, MAX_RETAINED_READ_BYTES } from "../../lib/protocol/frame_reader.ts";
import { feedFrames, framesOf } from "../helpers/frames.ts";
import { type Frame, FRAME_HEADER_BYTES, FrameTooLargeError } from "../../lib/protocol/mod.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";

/**
 * Feeds `stream` to `reader` in reads of the given sizes; returns copies of every frame and
 * the largest capacity the reader had on the way.
 */
function readAll(reader: FrameReader, stream: Uint8Array, readSizes: number[]) {
  const frames: Array<{ type: number; requestId: number; body: number[] }> = [];
  let at = 0;
  let largestCapacity = reader.capacity;
  for (let turn = 0; at < stream.length; turn++) {
    const space = reader.space();
    largestCapacity = Math.max(largestCapacity, reader.capacity);
    const count = Math.min(space.length, stream.length - at, readSizes[turn % readSizes.length]);
    space.set(stream.subarray(at, at + count));
    reader.filled(count);
    at += count;
    // Copied now: the next space() may overwrite the bodies. Frames are taken by next(),
    // by advance() and its getters (the client's way) and by advance() then frame() (the
    // server's way for all but GETs) in turn: all must cut the same stream.
    for (let way = turn % 3;; way = (way + 1) % 3) {
      if (way === 1) {
        if (!reader.advance()) break;
        const body = [...reader.buffer.subarray(reader.bodyStart, reader.bodyEnd)];
        frames.push({ type: reader.frameType, requestId: reader.frameRequestId, body });
        continue;
      }
      const frame = way === 0 ? reader.next() : reader.advance() ? reader.frame() : undefined;
      if (frame === undefined) break;
      frames.push({ type: frame.type, requestId: frame.requestId, body: [...frame.body] });
    }
  }
  return Object.assign(frames, { largestCapacity });
}

const frameArbitrary = fc.record({
  type: fc.integer({ min: 1, max: 0x82 }),
  requestId: fc.integer({ min: 0, max: 0xffff_ffff }),
  body: fc.uint8Array({ maxLength: 3000 }),
});

Deno.test("FrameReader yields every frame intact however the stream is cut into reads, by next(), advance() or frame()", () => {
  fc.assert(
    fc.property(
      fc.array(frameArbitrary, { maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: FRAME_HEADER_BYTES, max: 4096 }),
      (frames, readSizes, initialBytes) => {
        const writer = new FrameWriter();
        for (const { type, requestId, body } of frames) writer.frame(type, requestId, body);
        const reader = new FrameReader({ maxFrameBytes: 4096, initialBytes });
        const read = readAll(reader, writer.bytes(), readSizes);
        assert.deepEqual([...read], frames.map((frame) => ({ ...frame, body: [...frame.body] })));
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("FrameReader grows for a frame larger than its buffer, never past one, and shrinks after a huge one", () => {
  const maxFrameBytes = 100_000;
  const reader = new FrameReader({ maxFrameBytes, initialBytes: 64 });
  const writer = new FrameWriter();
  writer.frame(3, 7, new Uint8Array(maxFrameBytes).fill(5));
  writer.frame(4, 8, Uint8Array.of(1, 2));
  const read = readAll(reader, writer.bytes(), [1000]);
  assert.deepEqual(read.map((frame) => [frame.type, frame.requestId, frame.body.length]), [
    [3, 7, maxFrameBytes],
    [4, 8, 2],
  ]);
  assert.ok(read[0].body.every((byte) => byte === 5));
  assert.ok(read.largestCapacity >= FRAME_HEADER_BYTES + maxFrameBytes);
  assert.ok(read.largestCapacity <= FRAME_HEADER_BYTES + maxFrameBytes + 4096);
  // A frame of a bulk load's size keeps its buffer for the next one.
  reader.space();
  assert.equal(reader.capacity, read.largestCapacity);
  // A frame past MAX_RETAINED_READ_BYTES gives its memory back once handled.
  const huge = new FrameReader({ maxFrameBytes: 2 * MAX_RETAINED_READ_BYTES, initialBytes: 64 });
  const hugeFrame = new FrameWriter();
  hugeFrame.frame(3, 9, new Uint8Array(MAX_RETAINED_READ_BYTES + 1));
  const hugeRead = readAll(huge, hugeFrame.bytes(), [100_000]);
  assert.equal(hugeRead.length, 1);
  assert.ok(hugeRead.largestCapacity > MAX_RETAINED_READ_BYTES);
  huge.space();
  assert.equal(huge.capacity, 64);
});

Deno.test("a header announcing a big frame reserves nothing until its bytes arrive", () => {
  const reader = new FrameReader({ maxFrameBytes: 16 * 1024 * 1024, initialBytes: 8192 });
  const header = new FrameWriter();
  header.frame(3, 1, new Uint8Array(16 * 1024 * 1024));
  const stream = header.bytes();
  // The header and a few bytes: the buffer stays as it was.
  reader.space().set(stream.subarray(0, 100));
  reader.filled(100);
  assert.equal(reader.next(), undefined);
  reader.space();
  assert.equal(reader.capacity, 8192);
  // Growth follows the bytes received, doubling as the buffer fills.
  let at = 100;
  while (at < 100_000) {
    const space = reader.space();
    const count = Math.min(space.length, 100_000 - at);
    space.set(stream.subarray(at, at + count));
    reader.filled(count);
    at += count;
  }
  assert.ok(reader.capacity < 4 * 100_000, `${reader.capacity}`);
});

Deno.test("FrameReader reuses its buffer: a steady stream of small frames never grows it", () => {
  const reader = new FrameReader({ initialBytes: 8192 });
  const writer = new FrameWriter();
  for (let index = 0; index < 5000; index++) writer.frame(2, index, new Uint8Array(index % 50));
  const read = readAll(reader, writer.bytes(), [1500, 700, 4000]);
  assert.equal(read.length, 5000);
  assert.equal(reader.capacity, 8192);
});

Deno.test("FrameReader refuses an oversized frame from its header alone, then stays failed", () => {
  const reader = new FrameReader({ maxFrameBytes: 100 });
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, 101);
  header[4] = 3;
  new DataView(header.buffer).setUint32(5, 42);
  reader.space().set(header);
  reader.filled(header.length);
  assert.throws(
    () => reader.next(),
    (error: unknown) => error instanceof FrameTooLargeError && error.requestId === 42,
  );
  assert.throws(() => reader.next(), FrameTooLargeError);
  assert.throws(() => reader.filled(reader.space().length + 1), RangeError);
});

// A connection's reads can be one byte each, and the client and the server read through
// FrameReader. The framer it replaced copied its queue of chunks over and over: 200 KB in
// 1-byte reads took 9 s. Linear work takes a blink, so this test finishes well inside any
// test deadline only if the reading path is linear.
Deno.test("FrameReader takes a 200 KB stream in 1-byte reads, frames intact", () => {
  const big = new FrameWriter();
  big.frame(0x80, 1, Uint8Array.from({ length: 200_000 }, (_, index) => index % 251));
  const small = new FrameWriter();
  for (let index = 0; index < 20_000; index++) small.frame(0x80, index + 1, Uint8Array.of(index));
  for (const writer of [big, small]) {
    const stream = writer.bytes();
    assert.ok(stream.length >= 200_000);
    const reader = new FrameReader();
    const frames: Frame[] = [];
    for (let at = 0; at < stream.length; at++) {
      // Before each read the reader offers room: a read never has to wait for it.
      assert.ok(reader.space().length > 0, "the reader always offers room");
      frames.push(...feedFrames(reader, stream.subarray(at, at + 1)));
    }
    assert.equal(frames.length, writer.frameCount);
    assert.deepEqual(frames, framesOf(stream));
    assert.equal(reader.bufferedBytes, 0);
  }
});
