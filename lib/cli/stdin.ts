/**
 * Standard input for the commands that read it (`kv broker`'s piped commands and
 * `-i -`, `kv demo`'s piped commands), with a failure to read it a user's mistake:
 * `kv broker < somedir` is one line, `kv broker: cannot read standard input: it is a
 * directory`, exit 2, not an internal error with a stack trace.
 *
 * @example
 * ```ts
 * import { readStdin } from "./stdin.ts";
 * for await (const chunk of readStdin("broker")) console.log(chunk.length);
 * ```
 * @module
 */
import { describeFsError } from "../base/fs_error.ts";
import { UserError } from "./user_error.ts";

/**
 * Standard input's bytes; a read that fails (stdin a directory, a device that errs)
 * errors the stream with a {@link UserError} led by `kv <command>`.
 *
 * @example
 * ```ts
 * const lines = readRawLineBatches(readStdin("broker"));
 * ```
 */
export function readStdin(command: string): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunksOfStdin(command));
}

async function* chunksOfStdin(command: string): AsyncGenerator<Uint8Array> {
  try {
    yield* Deno.stdin.readable;
  } catch (error) {
    // Only the operating system's refusals are the user's to fix; anything else is a bug.
    if (!isOsError(error)) throw error;
    throw new UserError(`kv ${command}: cannot read standard input: ${describeFsError(error)}`);
  }
}

/**
 * Whether `error` is one of Deno's errors for a failed system call: a `Deno.errors.*`, or
 * one that carries only the errno's name (EIO from a terminal that went away).
 */
function isOsError(error: unknown): boolean {
  if (Object.values(Deno.errors).some((kind) => error instanceof kind)) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code);
}
