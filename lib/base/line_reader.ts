/**
 * Streams the lines of a UTF-8 byte stream of any size, holding at most one
 * line (plus the chunk being read) in memory. Lines end at `\n`; one `\r`
 * before it is dropped (CRLF files); a last line without `\n` is still a line;
 * a UTF-8 byte order mark at the start of the stream is skipped.
 *
 * A line that cannot be read — longer than the limit, or not valid UTF-8 — is
 * yielded as a {@link BadLine} with an `error` instead of `text`, and reading
 * goes on with the next line: one bad line never hides the rest of a file. The
 * caller decides whether to skip it or stop. Errors of the source stream itself
 * (an I/O failure) are thrown.
 *
 * @example
 * ```ts ignore
 * import { readLines } from "./line_reader.ts";
 * using file = await Deno.open("data.txt");
 * for await (const line of readLines(file.readable)) {
 *   if (line.error !== undefined) console.error(`data.txt:${line.lineNumber}: ${line.error}`);
 *   else console.log(line.text);
 * }
 * ```
 * @module
 */
import { MAX_LINE_BYTES } from "../limits.ts";
import { invariant } from "./invariant.ts";
import { firstInvalidUtf8 } from "./utf8.ts";

/** A line that was read: its text without the line ending. */
export interface TextLine {
  /** 1-based line number. */
  readonly lineNumber: number;
  /** The decoded line, without `\n` and without a `\r` before it. */
  readonly text: string;
  /** The line's size in bytes, without `\n` and without a `\r` before it. */
  readonly byteLength: number;
  /** Absent on a good line; lets callers narrow with `line.error !== undefined`. */
  readonly error?: undefined;
}

/** A line that could not be read; reading goes on after it. */
export interface BadLine {
  /** 1-based line number. */
  readonly lineNumber: number;
  /** Why, in one line without the position: e.g. `byte 0xff is not UTF-8`. */
  readonly error: string;
  /**
   * For a line that is not UTF-8, the 1-based column (in code points) of the character that
   * is not; absent for a line over the limit, which is wrong as a whole.
   */
  readonly column?: number;
  /** The line's size in bytes, without `\n` and without a `\r` before it. */
  readonly byteLength: number;
  /** Absent on a bad line. */
  readonly text?: undefined;
}

/** What {@link readLines} yields for each line. */
export type ReadLine = TextLine | BadLine;

/** A line not yet decoded: its bytes, for callers that parse bytes (the indexer). */
export interface RawLine {
  /** 1-based line number. */
  readonly lineNumber: number;
  /**
   * The line's bytes without `\n`, a `\r` before it, or a leading byte order mark:
   * a view into the source's chunk (or a copy, for a line that spans chunks). Not
   * checked to be UTF-8: that is the caller's to do, with {@link decodeRawLine}.
   */
  readonly bytes: Uint8Array;
  /** The line's size in bytes, without `\n` and without a `\r` before it. */
  readonly byteLength: number;
  /** Absent on a line within the limit. */
  readonly error?: undefined;
}

/** What {@link readRawLineBatches} yields for each line: its bytes, or why it is unreadable. */
export type ReadRawLine = RawLine | BadLine;

/**
 * A line went on past {@link ReadLinesOptions.maxSkippedLineBytes}: the input is not
 * lines of text (`/dev/zero`, a binary file), so reading stops instead of skipping
 * an over-long line forever.
 *
 * @example
 * ```ts
 * const zeros = ReadableStream.from([new Uint8Array(100)]);
 * try {
 *   for await (const _ of readLines(zeros, { maxLineBytes: 10, maxSkippedLineBytes: 64 })) {
 *     // never reached: the 100 bytes hold no line ending
 *   }
 * } catch (error) {
 *   error instanceof EndlessLineError; // true
 *   (error as EndlessLineError).message; // "line 1 has no end within 64 bytes; this is not a file of text lines"
 * }
 * ```
 */
export class EndlessLineError extends Error {
  /** 1-based number of the line. */
  readonly lineNumber: number;

  /** The error for line `lineNumber`, which went on past `maxSkippedLineBytes`. */
  constructor(lineNumber: number, maxSkippedLineBytes: number) {
    super(
      `line ${lineNumber} has no end within ${maxSkippedLineBytes} bytes; ` +
        "this is not a file of text lines",
    );
    this.name = "EndlessLineError";
    this.lineNumber = lineNumber;
  }
}

/** Options for {@link readLines}. */
export interface ReadLinesOptions {
  /**
   * Longest line accepted, in bytes without the line ending; longer lines are
   * yielded as a {@link BadLine} and not kept in memory. Defaults to
   * MAX_LINE_BYTES (1 MiB).
   */
  readonly maxLineBytes?: number;
  /**
   * Most bytes of one line read through, kept or not: past them there is no line ending
   * in sight (`/dev/zero`, a binary file) and reading stops with an
   * {@link EndlessLineError}. Default: no bound (an over-long line is skipped to its end).
   */
  readonly maxSkippedLineBytes?: number;
  /**
   * Most lines in one batch of {@link readLineBatches} and {@link readRawLineBatches}:
   * a chunk completing more lines yields them in several batches, each made only when
   * the one before has been taken. A consumer that holds a batch while it works through
   * it (a pipeline that plans a window of commands at a time) then keeps few lines'
   * objects alive at once: a whole 64 KiB chunk of short lines (some 4 700 `GET key`
   * lines) lived long enough for V8 to move them out of its young generation, which
   * then had to copy them and collect them again. Default: no bound (every line a chunk
   * completes, in one batch).
   */
  readonly maxBatchLines?: number;
}

/**
 * Yields every line of `source` in order, good or bad; see the module
 * documentation for the rules. Breaking out of the loop cancels `source`.
 *
 * @param source the bytes, e.g. `(await Deno.open(path)).readable`.
 * @param options see {@link ReadLinesOptions}.
 *
 * @example
 * ```ts
 * const source = ReadableStream.from([new TextEncoder().encode("a\r\nb")]);
 * for await (const line of readLines(source)) console.log(line.lineNumber, line.text);
 * // 1 a
 * // 2 b
 * ```
 */
export async function* readLines(
  source: ReadableStream<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<ReadLine, void, undefined> {
  for await (const batch of readLineBatches(source, options)) yield* batch;
}

/**
 * Like {@link readLines}, but yields the lines in batches: every line that a
 * chunk of `source` completes, in one array (never empty; split in arrays of at
 * most {@link ReadLinesOptions.maxBatchLines} when that is given). A caller that
 * handles a whole batch without awaiting pays one await per chunk instead of
 * one per line, and lets work it starts per line (writes to a socket) coalesce.
 *
 * @example
 * ```ts
 * const source = ReadableStream.from([new TextEncoder().encode("a\nb\nc")]);
 * for await (const batch of readLineBatches(source)) console.log(batch.length);
 * // 2, then 1
 * ```
 */
export async function* readLineBatches(
  source: ReadableStream<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<ReadLine[], void, undefined> {
  for await (const batch of readRawLineBatches(source, options)) {
    yield batch.map((line) => line.error === undefined ? decodeRawLine(line) : line);
  }
}

/**
 * Like {@link readLineBatches}, but the lines stay bytes: no decoding, no strings.
 * A line over the limit is still a {@link BadLine}; a line that is not UTF-8 is not
 * found here but by {@link decodeRawLine}. The source must not reuse its chunks'
 * memory (file and network streams do not), since lines are views into them.
 *
 * @example
 * ```ts
 * const source = ReadableStream.from([new TextEncoder().encode("a\nb\n")]);
 * for await (const batch of readRawLineBatches(source)) console.log(batch.length); // 2
 * ```
 */
export async function* readRawLineBatches(
  source: ReadableStream<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<ReadRawLine[], void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 0) {
    throw new RangeError(`maxLineBytes must be a whole number ≥ 0, got ${maxLineBytes}`);
  }
  const maxBatchLines = options.maxBatchLines ?? Number.POSITIVE_INFINITY;
  if (
    maxBatchLines !== Number.POSITIVE_INFINITY &&
    !(Number.isSafeInteger(maxBatchLines) && maxBatchLines >= 1)
  ) {
    throw new RangeError(`maxBatchLines must be a whole number ≥ 1, got ${maxBatchLines}`);
  }
  const builder = new LineBuilder(
    maxLineBytes,
    options.maxSkippedLineBytes ?? Number.POSITIVE_INFINITY,
  );
  const reader = source.getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      let batch: ReadRawLine[] = [];
      let lineStart = 0;
      for (let newline = chunk.indexOf(NEWLINE); newline !== -1;) {
        batch.push(builder.finishRaw(chunk, lineStart, newline));
        lineStart = newline + 1;
        newline = chunk.indexOf(NEWLINE, lineStart);
        if (batch.length >= maxBatchLines && newline !== -1) {
          yield batch;
          batch = [];
        }
      }
      builder.append(chunk, lineStart, chunk.length);
      if (batch.length > 0) yield batch;
    }
    if (builder.hasPartialLine()) yield [builder.finishRaw(EMPTY, 0, 0)];
    finished = true;
  } finally {
    if (!finished) await reader.cancel();
    reader.releaseLock();
  }
}

const rawLineDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes a {@link RawLine} as {@link readLines} would have: its text, or a
 * {@link BadLine} saying where it stops being UTF-8.
 *
 * @example
 * ```ts
 * decodeRawLine({ lineNumber: 1, byteLength: 2, bytes: new Uint8Array([0x68, 0x69]) }).text; // "hi"
 * ```
 */
export function decodeRawLine(line: RawLine): ReadLine {
  const { lineNumber, bytes, byteLength } = line;
  try {
    return { lineNumber, byteLength, text: rawLineDecoder.decode(bytes) };
  } catch {
    return { lineNumber, byteLength, ...invalidUtf8(bytes) };
  }
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const EMPTY: Uint8Array = new Uint8Array(0);
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf] as const;

/**
 * Collects the pieces of the line being read across chunks, dropping them once
 * the line is known to be over the limit, and turns a finished line into a
 * {@link ReadLine}.
 */
class LineBuilder {
  readonly #maxLineBytes: number;
  readonly #maxSkippedLineBytes: number;
  #lineNumber = 0;
  /** Copies of the current line's bytes from earlier chunks. */
  #pieces: Uint8Array[] = [];
  #pieceBytes = 0;
  /** Bytes of the current line seen so far, kept or not. */
  #lineBytes = 0;
  /** The current line is over the limit: its bytes are counted, not kept. */
  #overLong = false;
  /** The last byte seen of the current line, to know whether it ended in `\r`. */
  #lastByte = -1;

  constructor(maxLineBytes: number, maxSkippedLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
    this.#maxSkippedLineBytes = maxSkippedLineBytes;
  }

  hasPartialLine(): boolean {
    return this.#lineBytes > 0;
  }

  /** Adds `chunk[start, end)` — part of a line whose `\n` is still to come. */
  append(chunk: Uint8Array, start: number, end: number): void {
    if (end === start) return;
    this.#lineBytes += end - start;
    this.#lastByte = chunk[end - 1];
    // One byte over the limit may still be the `\r` of a CRLF ending.
    if (this.#lineBytes > this.#maxLineBytes + 1) this.#overLong = true;
    if (this.#lineBytes > this.#maxSkippedLineBytes) {
      throw new EndlessLineError(this.#lineNumber + 1, this.#maxSkippedLineBytes);
    }
    if (this.#overLong) {
      this.#pieces = [];
      this.#pieceBytes = 0;
      return;
    }
    // Copied, because a source may reuse its chunk buffers.
    this.#pieces.push(chunk.slice(start, end));
    this.#pieceBytes += end - start;
  }

  /** Ends the current line with `chunk[start, end)` as its last bytes and resets. */
  finishRaw(chunk: Uint8Array, start: number, end: number): ReadRawLine {
    this.#lineNumber++;
    const lineNumber = this.#lineNumber;
    const totalBytes = this.#lineBytes + (end - start);
    const lastByte = end > start ? chunk[end - 1] : this.#lastByte;
    const byteLength = lastByte === CARRIAGE_RETURN ? totalBytes - 1 : totalBytes;
    const overLong = this.#overLong || byteLength > this.#maxLineBytes;
    let bytes: Uint8Array = EMPTY;
    if (!overLong) {
      // One view per line: a line within one chunk is most lines, and its own bytes.
      bytes = this.#pieces.length === 0
        ? chunk.subarray(start, start + byteLength)
        : this.#join(chunk, start, end).subarray(0, byteLength);
    }
    this.#startNextLine();
    if (overLong) {
      return {
        lineNumber,
        byteLength,
        error: this.#overLongMessage(byteLength),
      };
    }
    if (lineNumber === 1 && startsWithByteOrderMark(bytes)) bytes = bytes.subarray(3);
    return { lineNumber, byteLength, bytes };
  }

  #overLongMessage(byteLength: number): string {
    return `line is ${byteLength} bytes; the limit is ${this.#maxLineBytes} bytes`;
  }

  #startNextLine(): void {
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#pieceBytes = 0;
    this.#lineBytes = 0;
    this.#overLong = false;
    this.#lastByte = -1;
  }

  #join(chunk: Uint8Array, start: number, end: number): Uint8Array {
    const joined = new Uint8Array(this.#pieceBytes + (end - start));
    let offset = 0;
    for (const piece of this.#pieces) {
      joined.set(piece, offset);
      offset += piece.length;
    }
    joined.set(chunk.subarray(start, end), offset);
    return joined;
  }
}

function startsWithByteOrderMark(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === BYTE_ORDER_MARK[0] && bytes[1] === BYTE_ORDER_MARK[1] &&
    bytes[2] === BYTE_ORDER_MARK[2];
}

/** Why `bytes`, which failed to decode, are not UTF-8, and the column where they stop being. */
function invalidUtf8(bytes: Uint8Array): { error: string; column: number } {
  const at = firstInvalidUtf8(bytes, 0, bytes.length);
  invariant(at >= 0, "a line a fatal TextDecoder refused is not well-formed UTF-8");
  const column = [...rawLineDecoder.decode(bytes.subarray(0, at))].length + 1;
  return { error: `byte 0x${bytes[at].toString(16).padStart(2, "0")} is not UTF-8`, column };
}
