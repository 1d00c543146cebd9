/**
 * Writing to standard output, where a failure — the reader went away, the disk behind a
 * redirect is full — is a {@link StdoutError} that the command line reports in one line,
 * not a stack trace.
 *
 * @example
 * ```ts
 * import { writeLine } from "./stdout.ts";
 * writeLine("kv 0.1.0");
 * ```
 * @module
 */
import { describeError } from "./describe_error.ts";
import { withoutOsDetail } from "./fs_error.ts";
import { utf8Length } from "./utf8.ts";

const encoder = new TextEncoder();

/**
 * Standard output could not be written. `readerGone` tells a closed pipe (the reader
 * has all it wanted: stop quietly) from a real failure (report it).
 *
 * @example
 * ```ts
 * const error = new StdoutError(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
 * error.message; // "cannot write to standard output: Broken pipe"
 * error.readerGone; // true
 * ```
 */
export class StdoutError extends Error {
  /** Whether the reader went away (a closed pipe, as `kv … | head -1` makes). */
  readonly readerGone: boolean;

  /** The error for a failed write to standard output, `cause` being the write's own error. */
  constructor(cause: unknown) {
    const reason = withoutOsDetail(describeError(cause));
    super(`cannot write to standard output: ${reason}`, { cause });
    this.name = "StdoutError";
    this.readerGone = cause instanceof Deno.errors.BrokenPipe;
  }
}

/**
 * Writes `text` and a newline to standard output, all of it; throws a
 * {@link StdoutError} when that fails.
 *
 * @example
 * ```ts
 * writeLine("NOT FOUND: person9");
 * ```
 */
export function writeLine(text: string): void {
  writeAllToStdout(encoder.encode(text + "\n"));
}

/** Writes all of `bytes` to standard output, as a {@link StdoutError} when that fails. */
function writeAllToStdout(bytes: Uint8Array): void {
  try {
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch (error) {
    throw new StdoutError(error);
  }
}

const NEWLINE = 0x0a;

/** Bytes a {@link LineBuffer} holds before it writes them out on its own. */
export const LINE_BUFFER_BYTES = 64 * 1024;

/**
 * Lines gathered for standard output and written in large pieces: one system call for
 * many answers instead of one each. Lines reach stdout on {@link LineBuffer.flush}, once
 * {@link LINE_BUFFER_BYTES} are held, or on the next turn of the event loop after
 * {@link LineBuffer.flushSoon} — after the answers already on their way have been added.
 * Lines are encoded into one buffer as they come, so a flush is one write of it.
 *
 * @example
 * ```ts
 * const output = new LineBuffer();
 * output.writeLine("STORED: person1");
 * output.flush();
 * ```
 */
export class LineBuffer {
  #buffer = new Uint8Array(LINE_BUFFER_BYTES);
  #length = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #error: unknown;
  readonly #write: (bytes: Uint8Array) => void;

  /**
   * A buffer in front of `write`.
   *
   * @param write writes all of the bytes it is given before it returns (they are a view of
   *   the buffer, which the next line reuses); default: to standard output.
   */
  constructor(write: (bytes: Uint8Array) => void = writeAllToStdout) {
    this.#write = write;
  }

  /**
   * Adds `text` and a newline; writes everything held once that reaches {@link LINE_BUFFER_BYTES}.
   *
   * @example
   * ```ts
   * const out = new LineBuffer();
   * out.writeLine("person1 : 22"); // held
   * out.flush(); // written
   * ```
   */
  writeLine(text: string): void {
    this.#throwPending();
    this.#reserve(text);
    this.#length += encoder.encodeInto(text, this.#buffer.subarray(this.#length)).written;
    this.#buffer[this.#length++] = NEWLINE;
    if (this.#length >= LINE_BUFFER_BYTES) this.flush();
  }

  /**
   * Adds `bytes` (UTF-8 text without its newline, such as an answer written as JSON
   * bytes) and a newline, as {@link LineBuffer.writeLine} adds a string's.
   *
   * @example
   * ```ts
   * const output = new LineBuffer();
   * output.writeLineBytes(new TextEncoder().encode("STORED: person1"));
   * output.flush();
   * ```
   */
  writeLineBytes(bytes: Uint8Array): void {
    this.#throwPending();
    this.#makeRoom(bytes.length + 1);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
    this.#buffer[this.#length++] = NEWLINE;
    if (this.#length >= LINE_BUFFER_BYTES) this.flush();
  }

  /**
   * Writes what is held on the next turn of the event loop. A failure then is thrown by
   * the next {@link LineBuffer.writeLine} or {@link LineBuffer.flush}.
   *
   * @example
   * ```ts
   * const lines: string[] = [];
   * const output = new LineBuffer((bytes) => lines.push(new TextDecoder().decode(bytes)));
   * output.writeLine("STORED: person1");
   * output.flushSoon(); // nothing written yet: more answers may join it this turn
   * output.writeLine("STORED: person2");
   * await new Promise((resolve) => setTimeout(resolve, 0));
   * lines; // ["STORED: person1\nSTORED: person2\n"]: one write for both
   * ```
   */
  flushSoon(): void {
    if (this.#timer !== undefined || this.#length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        this.flush();
      } catch (error) {
        this.#error = error;
      }
    }, 0);
  }

  /**
   * Writes every line held now; throws a {@link StdoutError} when that fails.
   *
   * @example
   * ```ts
   * const written: Uint8Array[] = [];
   * const out = new LineBuffer((bytes) => written.push(bytes.slice()));
   * out.writeLine("a");
   * out.writeLine("b");
   * out.flush(); // one write of "a\nb\n"
   * ```
   */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#throwPending();
    if (this.#length === 0) return;
    const held = this.#buffer.subarray(0, this.#length);
    this.#length = 0;
    // A buffer grown for one huge line goes back to its usual size.
    if (this.#buffer.length > LINE_BUFFER_BYTES) this.#buffer = new Uint8Array(LINE_BUFFER_BYTES);
    this.#write(held);
  }

  /** Makes room for `text` and its newline: after what is held, else in an empty buffer. */
  #reserve(text: string): void {
    // A UTF-16 unit takes at most 3 bytes of UTF-8: when that much fits, nothing to count.
    // Else the exact count, so that a line which fits is not taken for one that does not
    // (that flushed what was held and grew the buffer to 3 bytes a unit for each long line).
    if (this.#length + text.length * 3 + 1 <= this.#buffer.length) return;
    this.#makeRoom(utf8Length(text) + 1);
  }

  /** Makes room for `extra` bytes: after what is held, else in an empty buffer. */
  #makeRoom(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    if (this.#length > 0) this.flush();
    if (extra > this.#buffer.length) this.#buffer = new Uint8Array(extra);
  }

  #throwPending(): void {
    if (this.#error === undefined) return;
    const error = this.#error;
    this.#error = undefined;
    throw error;
  }
}
