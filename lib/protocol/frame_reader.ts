/**
 * Reads the frames of one connection (see docs/protocol.md) through one reusable
 * buffer: a socket read lands in the buffer's free space, complete frames are
 * handed out as views into it, and the start of an unfinished frame is moved to
 * the front before the next read. No memory is allocated per read or per frame,
 * which matters to a server taking a bulk load of large PUT_MANY frames: copying
 * each frame that straddled two reads into a fresh array left tens of megabytes
 * for the garbage collector, and in the RSS until it ran. The buffer grows by
 * doubling, and only when it is full of a frame still arriving: a header alone
 * that announces a big frame reserves nothing (so a client cannot make the server
 * reserve memory it never sends). It never grows past one frame of the largest
 * allowed size, and once empty goes back to its initial size when it has grown
 * past {@link MAX_RETAINED_READ_BYTES}. Grown for a frame of known size, the buffer is a
 * resizable ArrayBuffer reserved for exactly that frame: it grows in place, and V8 gives
 * its pages straight back to the system when it is collected, where freed malloc'd
 * buffers would stay in the process's RSS. An `onGrow` hook is asked before every
 * growth, so a server can refuse memory past its budget before it is taken.
 *
 * Each frame's body is valid until the next call to {@link FrameReader.space}:
 * handle it, or copy what must be kept, before reading again.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * const reader = new FrameReader({ maxFrameBytes: 1024 });
 * const count = await conn.read(reader.space());
 * if (count !== null) reader.filled(count);
 * for (let frame = reader.next(); frame; frame = reader.next()) console.log(frame.type);
 * ```
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "../limits.ts";
import { invariant } from "../base/invariant.ts";
import { type Frame, FRAME_HEADER_BYTES, FrameTooLargeError } from "./mod.ts";

/** Capacity a reader starts with when none is given: a batch of small requests in one read. */
export const DEFAULT_READ_BUFFER_BYTES = 64 * 1024;

/**
 * Largest capacity kept once the buffer is empty: a bulk load's frames (a few hundred
 * KiB) reuse their buffer instead of growing one per frame, while a rare huge frame's
 * memory is given back.
 */
export const MAX_RETAINED_READ_BYTES = 1024 * 1024;

/**
 * Free space below which {@link FrameReader.space} makes room before a read (half the
 * initial capacity for a smaller buffer, so that it is not outgrown at once).
 */
const MIN_READ_SPACE_BYTES = 4 * 1024;

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame body accepted; default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number;
  /** Initial buffer capacity in bytes; default {@link DEFAULT_READ_BUFFER_BYTES}. */
  initialBytes?: number;
  /**
   * Called with the capacity the buffer is about to grow to, before it grows; throwing
   * stops the growth (and {@link FrameReader.space} throws that error). Default: none.
   */
  onGrow?: (capacity: number) => void;
}

/**
 * Cuts a connection's byte stream into frames inside one reusable buffer. After an
 * error (a body over `maxFrameBytes`, found from the header alone) it keeps throwing
 * it: the stream cannot be resynchronised.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * const frames = new FrameWriter();
 * frames.ping(1);
 * const bytes = frames.bytes();
 * const reader = new FrameReader();
 * reader.space().set(bytes);
 * reader.filled(bytes.length);
 * reader.next(); // the first frame, or undefined until it is complete
 * ```
 */
export class FrameReader {
  #maxFrameBytes: number;
  readonly #initialBytes: number;
  readonly #retainedBytes: number;
  readonly #minReadSpace: number;
  #buffer: Uint8Array<ArrayBuffer>;
  #view: DataView;
  /** Bytes not yet returned as frames lie in [#start, #end). */
  #start = 0;
  #end = 0;
  /** Bytes the frame at #start needs in all, once its header is known; 0 before. */
  #needed = 0;
  #error: FrameTooLargeError | undefined;
  /** The frame {@link FrameReader.advance} took last: its header and where its body lies. */
  #frameType = 0;
  #frameRequestId = 0;
  #bodyStart = 0;
  #bodyEnd = 0;
  readonly #onGrow: ((capacity: number) => void) | undefined;

  /**
   * A reader holding no bytes yet, its buffer `options.initialBytes` long to start.
   *
   * @param options see {@link FrameReaderOptions}.
   */
  constructor(options: FrameReaderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const initialBytes = options.initialBytes ?? DEFAULT_READ_BUFFER_BYTES;
    if (!Number.isSafeInteger(initialBytes) || initialBytes < FRAME_HEADER_BYTES) {
      throw new RangeError(`initialBytes must be at least ${FRAME_HEADER_BYTES}: ${initialBytes}`);
    }
    this.#initialBytes = initialBytes;
    this.#retainedBytes = Math.max(initialBytes, MAX_RETAINED_READ_BYTES);
    this.#minReadSpace = Math.min(MIN_READ_SPACE_BYTES, Math.floor(initialBytes / 2));
    this.#onGrow = options.onGrow;
    this.#buffer = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** The largest frame body accepted now. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /**
   * Changes the largest frame body accepted from the next call to
   * {@link FrameReader.next} on: a client holds each answer to what its request can
   * produce.
   */
  set maxFrameBytes(bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`maxFrameBytes must be a whole number of bytes: ${bytes}`);
    }
    this.#maxFrameBytes = bytes;
  }

  /** Bytes received but not yet returned as frames (the start of a frame, mid-stream). */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * The {@link FrameReader.bufferedBytes} themselves: a view into the buffer, valid until
   * the next {@link FrameReader.space}. For telling what a peer that hung up mid-frame sent.
   */
  get buffered(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** The buffer's capacity, for tests and memory accounting. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /**
   * The free space to read into next, made room for first: an unfinished frame is
   * moved to the front, and a buffer full of one still arriving doubles. Invalidates
   * the bodies of frames returned before.
   *
   * @example
   * ```ts
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
   * const reader = new FrameReader();
   * const count = await conn.read(reader.space()); // read straight into the reader's buffer
   * if (count !== null) reader.filled(count);
   * ```
   */
  space(): Uint8Array {
    const pending = this.#end - this.#start;
    if (pending === 0 && this.#buffer.length > this.#retainedBytes) {
      // A frame bigger than a bulk load's has been handled: give its memory back.
      this.#buffer = new Uint8Array(this.#initialBytes);
      this.#view = new DataView(this.#buffer.buffer);
      this.#start = this.#end = 0;
    }
    if (this.#buffer.length - this.#end < this.#minReadSpace) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#start = 0;
        this.#end = pending;
      }
      // Still short of room: grow, but only as far as the frame arriving needs.
      const room = this.#buffer.length - this.#end;
      const frameFits = this.#needed > 0 && this.#needed <= this.#buffer.length;
      if (room < this.#minReadSpace && !frameFits) this.#grow(pending);
    }
    // An empty buffer (every frame taken, the usual case between requests) is read into
    // whole: no view is made per read.
    return this.#end === 0 ? this.#buffer : this.#buffer.subarray(this.#end);
  }

  /**
   * Records that `count` bytes were read into the space {@link FrameReader.space} gave.
   *
   * @example
   * ```ts
   * const reader = new FrameReader();
   * reader.space().set([0, 0, 0, 0, 0x02, 0, 0, 0, 1]); // PING, request id 1
   * reader.filled(9);
   * reader.next(); // { type: 2, requestId: 1, body: Uint8Array [] }
   * ```
   */
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
   *
   * @example
   * ```ts
   * const reader = new FrameReader();
   * reader.space().set([0, 0, 0, 1, 0x80]); // part of an OK's header
   * reader.filled(5);
   * reader.next(); // undefined: the rest has not arrived
   * ```
   */
  next(): Frame | undefined {
    return this.advance() ? this.frame() : undefined;
  }

  /**
   * The frame {@link FrameReader.advance} took, as {@link FrameReader.next} returns it:
   * an object and a view of its body, made on each call. For a reader that handles most
   * frames from the getters and makes the object only for the rest.
   *
   * @example
   * ```ts
   * import { MessageType } from "./mod.ts";
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
   * const reader = new FrameReader();
   * const count = await conn.read(reader.space());
   * if (count !== null) reader.filled(count);
   * while (reader.advance()) if (reader.frameType !== MessageType.GET) console.log(reader.frame());
   * ```
   */
  frame(): Frame {
    return {
      type: this.#frameType,
      requestId: this.#frameRequestId,
      body: this.#buffer.subarray(this.#bodyStart, this.#bodyEnd),
    };
  }

  /**
   * Like {@link FrameReader.next}, without making a frame: true when a complete frame
   * was taken, whose type, request id and body (`buffer[bodyStart, bodyEnd)`) the
   * getters give until the next call. For a client taking many small answers from one
   * read, which would otherwise make an object and a view of each.
   *
   * @example
   * ```ts
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
   * const reader = new FrameReader();
   * const count = await conn.read(reader.space());
   * if (count !== null) reader.filled(count);
   * while (reader.advance()) console.log(reader.frameType, reader.buffer.subarray(reader.bodyStart, reader.bodyEnd));
   * ```
   */
  advance(): boolean {
    if (this.#error) throw this.#error;
    const available = this.#end - this.#start;
    if (available < FRAME_HEADER_BYTES) return false;
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
      return false;
    }
    this.#needed = 0;
    const bodyStart = at + FRAME_HEADER_BYTES;
    this.#start = bodyStart + bodyBytes;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    this.#frameType = this.#buffer[at + 4];
    this.#frameRequestId = this.#view.getUint32(at + 5);
    this.#bodyStart = bodyStart;
    this.#bodyEnd = bodyStart + bodyBytes;
    return true;
  }

  /** The buffer the frame {@link FrameReader.advance} took lies in; valid until {@link FrameReader.space}. */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  /** The message type of the frame {@link FrameReader.advance} took. */
  get frameType(): number {
    return this.#frameType;
  }

  /** The request id of the frame {@link FrameReader.advance} took. */
  get frameRequestId(): number {
    return this.#frameRequestId;
  }

  /** Where in {@link FrameReader.buffer} the body of the frame {@link FrameReader.advance} took starts. */
  get bodyStart(): number {
    return this.#bodyStart;
  }

  /** Where in {@link FrameReader.buffer} the body of the frame {@link FrameReader.advance} took ends. */
  get bodyEnd(): number {
    return this.#bodyEnd;
  }

  /** Doubles the buffer (holding `pending` bytes at its front), within the frame's needs. */
  #grow(pending: number): void {
    let capacity = Math.max(this.#buffer.length * 2, pending + this.#minReadSpace);
    if (this.#needed > 0) capacity = Math.min(capacity, Math.max(this.#needed, pending + 1));
    // Never more than one largest frame and a read's worth of room behind it.
    capacity = Math.min(capacity, FRAME_HEADER_BYTES + this.#maxFrameBytes + MIN_READ_SPACE_BYTES);
    invariant(capacity > pending, "growing makes room");
    this.#onGrow?.(capacity);
    const current = this.#buffer.buffer;
    if (current.resizable && capacity <= current.maxByteLength) {
      // Reserved for this frame already: grow in place, nothing copied.
      current.resize(capacity);
      return;
    }
    let grown: Uint8Array<ArrayBuffer>;
    if (this.#needed > 0) {
      // A frame of known size: reserve exactly it, committed as it arrives, and given back
      // to the system whole (malloc would keep a freed buffer's pages in the RSS).
      const frameBytes = Math.max(capacity, this.#needed);
      grown = new Uint8Array(new ArrayBuffer(capacity, { maxByteLength: frameBytes }));
    } else {
      grown = new Uint8Array(capacity);
    }
    grown.set(this.#buffer.subarray(0, this.#end));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}
