/**
 * Reads the frames of one connection (see lib/protocol.ts) through one reusable
 * buffer: a socket read lands in the buffer's free space, complete frames are
 * handed out as views into it, and the start of an unfinished frame is moved to
 * the front before the next read. No memory is allocated per read or per frame,
 * which matters to a server taking a bulk load of large PUT_MANY frames: copying
 * each frame that straddled two reads into a fresh array left tens of megabytes
 * for the garbage collector, and in the RSS until it ran. The buffer grows, up to
 * one frame of the largest allowed size, only for a frame that needs it.
 *
 * Each frame's body is valid until the next call to {@link FrameReader.space}:
 * handle it, or copy what must be kept, before reading again.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * const reader = new FrameReader({ maxFrameBytes: 1024 });
 * const count = await conn.read(reader.space());
 * if (count !== null) reader.filled(count);
 * for (let frame = reader.next(); frame; frame = reader.next()) handle(frame);
 * ```
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.ts";
import { type Frame, FRAME_HEADER_BYTES, FrameTooLargeError } from "./protocol.ts";

/** Capacity a reader starts with when none is given: a batch of small requests in one read. */
export const DEFAULT_READ_BUFFER_BYTES = 64 * 1024;

/** Free space below which {@link FrameReader.space} makes room before a read. */
const MIN_READ_SPACE_BYTES = 4 * 1024;

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame body accepted; default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number;
  /** Initial buffer capacity in bytes; default {@link DEFAULT_READ_BUFFER_BYTES}. */
  initialBytes?: number;
}

/**
 * Cuts a connection's byte stream into frames inside one reusable buffer. After an
 * error (a body over `maxFrameBytes`, found from the header alone) it keeps throwing
 * it: the stream cannot be resynchronised.
 *
 * @example
 * ```ts
 * const reader = new FrameReader();
 * reader.space().set(bytes);
 * reader.filled(bytes.length);
 * reader.next(); // the first frame, or undefined until it is complete
 * ```
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #buffer: Uint8Array;
  #view: DataView;
  /** Bytes not yet returned as frames lie in [#start, #end). */
  #start = 0;
  #end = 0;
  /** Bytes the frame at #start needs in all, once its header is known; 0 before. */
  #needed = 0;
  #error: FrameTooLargeError | undefined;

  /** @param options see {@link FrameReaderOptions}. */
  constructor(options: FrameReaderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const initialBytes = options.initialBytes ?? DEFAULT_READ_BUFFER_BYTES;
    if (!Number.isSafeInteger(initialBytes) || initialBytes < FRAME_HEADER_BYTES) {
      throw new RangeError(`initialBytes must be at least ${FRAME_HEADER_BYTES}: ${initialBytes}`);
    }
    this.#buffer = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Bytes received but not yet returned as frames (the start of a frame, mid-stream). */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /** The buffer's capacity, for tests and memory accounting. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /**
   * The free space to read into next, made room for first: the unfinished frame is
   * moved to the front, and the buffer grows when that frame is bigger than it.
   * Invalidates the bodies of frames returned before.
   */
  space(): Uint8Array {
    const pending = this.#end - this.#start;
    const wanted = Math.max(this.#needed, pending + MIN_READ_SPACE_BYTES);
    if (this.#buffer.length - this.#end < MIN_READ_SPACE_BYTES || this.#needed > 0) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#start = 0;
        this.#end = pending;
      }
      if (this.#buffer.length < wanted) this.#grow(wanted);
    }
    return this.#buffer.subarray(this.#end);
  }

  /** Records that `count` bytes were read into the space {@link FrameReader.space} gave. */
  filled(count: number): void {
    if (!(Number.isSafeInteger(count) && count >= 0 && this.#end + count <= this.#buffer.length)) {
      throw new RangeError(`filled ${count} bytes, more than the space given`);
    }
    this.#end += count;
  }

  /**
   * The next complete frame, its body a view into the buffer, or undefined until more
   * bytes arrive. Throws a FrameTooLargeError for a header announcing a body over the
   * limit, before the body is read.
   */
  next(): Frame | undefined {
    if (this.#error) throw this.#error;
    const available = this.#end - this.#start;
    if (available < FRAME_HEADER_BYTES) return undefined;
    const at = this.#start;
    const bodyBytes = this.#view.getUint32(at);
    if (bodyBytes > this.#maxFrameBytes) {
      this.#error = new FrameTooLargeError(
        bodyBytes,
        this.#maxFrameBytes,
        this.#view.getUint32(at + 5),
      );
      this.#start = this.#end = 0;
      throw this.#error;
    }
    if (available < FRAME_HEADER_BYTES + bodyBytes) {
      this.#needed = FRAME_HEADER_BYTES + bodyBytes;
      return undefined;
    }
    this.#needed = 0;
    const bodyStart = at + FRAME_HEADER_BYTES;
    this.#start = bodyStart + bodyBytes;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return {
      type: this.#buffer[at + 4],
      requestId: this.#view.getUint32(at + 5),
      body: this.#buffer.subarray(bodyStart, bodyStart + bodyBytes),
    };
  }

  #grow(wanted: number): void {
    let capacity = this.#buffer.length * 2;
    while (capacity < wanted) capacity *= 2;
    // Never more than one largest frame and a read's worth of room behind it.
    capacity = Math.min(capacity, FRAME_HEADER_BYTES + this.#maxFrameBytes + MIN_READ_SPACE_BYTES);
    const grown = new Uint8Array(Math.max(capacity, wanted));
    grown.set(this.#buffer.subarray(0, this.#end));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}
