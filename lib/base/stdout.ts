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

const encoder = new TextEncoder();

/** Standard output could not be written. */
export class StdoutError extends Error {
  /** Whether the reader went away (a closed pipe, as `kv … | head -1` makes). */
  readonly readerGone: boolean;

  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
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
