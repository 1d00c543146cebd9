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

const encoder = new TextEncoder();

/** Standard output could not be written. */
export class StdoutError extends Error {
  /** Whether the reader went away (a closed pipe, as `kv … | head -1` makes). */
  readonly readerGone: boolean;

  constructor(cause: unknown) {
    const reason = describeError(cause);
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
  let bytes = encoder.encode(text + "\n");
  try {
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch (error) {
    throw new StdoutError(error);
  }
}

/** Bytes a {@link LineBuffer} holds before it writes them out on its own. */
export const LINE_BUFFER_BYTES = 64 * 1024;

/**
 * Lines gathered for standard output and written in large pieces: one system call for
 * many answers instead of one each. Lines reach stdout on {@link LineBuffer.flush}, once
 * {@link LINE_BUFFER_BYTES} are held, or on the next turn of the event loop after
 * {@link LineBuffer.flushSoon} — after the answers already on their way have been added.
 *
 * @example
 * ```ts
 * const output = new LineBuffer();
 * output.writeLine("STORED: person1");
 * output.flush();
 * ```
 */
export class LineBuffer {
  #lines: string[] = [];
  #length = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #error: unknown;
  readonly #writeLine: (text: string) => void;

  /**
   * A buffer in front of `write`.
   *
   * @param write writes one piece of text and its newline; default {@link writeLine}.
   */
  constructor(write: (text: string) => void = writeLine) {
    this.#writeLine = write;
  }

  /** Adds `text` and a newline; writes everything held once that reaches {@link LINE_BUFFER_BYTES}. */
  writeLine(text: string): void {
    this.#throwPending();
    this.#lines.push(text);
    // UTF-16 units: an estimate of the bytes, which is all a flush threshold needs.
    this.#length += text.length + 1;
    if (this.#length >= LINE_BUFFER_BYTES) this.flush();
  }

  /**
   * Writes what is held on the next turn of the event loop. A failure then is thrown by
   * the next {@link LineBuffer.writeLine} or {@link LineBuffer.flush}.
   */
  flushSoon(): void {
    if (this.#timer !== undefined || this.#lines.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        this.flush();
      } catch (error) {
        this.#error = error;
      }
    }, 0);
  }

  /** Writes every line held now; throws a {@link StdoutError} when that fails. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#throwPending();
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n");
    this.#lines = [];
    this.#length = 0;
    this.#writeLine(text);
  }

  #throwPending(): void {
    if (this.#error === undefined) return;
    const error = this.#error;
    this.#error = undefined;
    throw error;
  }
}
