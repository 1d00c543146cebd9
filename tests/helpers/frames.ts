/**
 * Feeding bytes to a {@link FrameReader} by hand, for tests that get their bytes in
 * chunks rather than from a socket the reader reads itself.
 *
 * @example
 * ```ts
 * const reader = new FrameReader();
 * const frames = feedFrames(reader, chunk); // every frame completed by `chunk`, copied
 * ```
 * @module
 */
import type { Frame } from "../../lib/protocol/mod.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";

/**
 * Copies `chunk` into `reader` and returns every frame it completes, each body copied
 * (the reader reuses its buffer). Throws what the reader throws.
 */
export function feedFrames(reader: FrameReader, chunk: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  do {
    const space = reader.space();
    const count = Math.min(space.length, chunk.length - at);
    space.set(chunk.subarray(at, at + count));
    reader.filled(count);
    at += count;
    for (let frame = reader.next(); frame; frame = reader.next()) {
      frames.push({ ...frame, body: frame.body.slice() });
    }
  } while (at < chunk.length);
  return frames;
}

/** Every frame in `bytes`, with bodies of at most `maxFrameBytes` (default: any u32). */
export function framesOf(bytes: Uint8Array, maxFrameBytes = 0xffff_ffff): Frame[] {
  return feedFrames(new FrameReader({ maxFrameBytes }), bytes);
}
