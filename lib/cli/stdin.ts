/**
 * Standard input for the commands that read it (`kv broker`'s piped commands and
 * `-i -`, `kv demo`'s piped commands), with a failure to read it a user's mistake:
 * `kv broker < somedir` is one line, `kv broker: cannot read standard input: it is a
 * directory`, exit 2, not an internal error with a stack trace. And its end, for the
 * processes that stop when whoever started them does (`kv server --stop-on-stdin-close`,
 * the clean-up `kv demo` starts).
 *
 * @example
 * ```ts
 * import { readStdin } from "./stdin.ts";
 * for await (const chunk of readStdin("broker")) console.log(chunk.length);
 * ```
 * @module
 */
import { describeFsError, isFsError } from "../base/fs_error.ts";
import { UserError } from "./user_error.ts";

/**
 * Standard input's bytes; a read that fails (stdin a directory, a device that errs)
 * errors the stream with a {@link UserError} led by `kv <command>`.
 *
 * @example
 * ```ts
 * import { readRawLineBatches } from "../base/line_reader.ts";
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
    if (!isFsError(error)) throw error;
    throw new UserError(`kv ${command}: cannot read standard input: ${describeFsError(error)}`);
  }
}

/**
 * Resolves once standard input ends, what is read before ignored: a pipe's end comes when
 * every process holding its other end has closed it or died, even by SIGKILL. Resolves
 * why, for a log line: `stdin closed`, or `stdin failed (…)` when a read fails, which ends
 * it as surely.
 *
 * @example
 * ```ts ignore
 * const why = await untilStdinCloses(); // "stdin closed", once the parent died
 * ```
 */
export async function untilStdinCloses(): Promise<string> {
  try {
    // Each chunk is dropped: only the end matters.
    for await (const _chunk of Deno.stdin.readable);
    return "stdin closed";
  } catch (error) {
    if (!isFsError(error)) throw error;
    return `stdin failed (${describeFsError(error)})`;
  }
}

/**
 * Refuses, as `kv <command>: <flag> …`, a standard input whose end does not mean that a
 * supervisor ended: /dev/null or a file ends at once (a background job's stdin in a
 * script is /dev/null), and a terminal's read stops a background job (SIGTTIN) for good.
 * Only a pipe or a socket ends when the last process holding its other end does.
 *
 * @example
 * ```ts ignore
 * await checkStdinEndsWithSupervisor("server", "--stop-on-stdin-close"); // throws under `< /dev/null`
 * ```
 */
export async function checkStdinEndsWithSupervisor(command: string, flag: string): Promise<void> {
  const what = await stdinKind();
  if (what === undefined) return;
  throw new UserError(
    `kv ${command}: ${flag} needs stdin to be a pipe a supervisor holds open; stdin is ${what}`,
  );
}

/** What standard input is when it is no pipe or socket, for {@link checkStdinEndsWithSupervisor}. */
async function stdinKind(): Promise<string | undefined> {
  if (Deno.stdin.isTerminal()) {
    return "a terminal, whose read stops a background job (SIGTTIN)";
  }
  // node:fs's fstat of fd 0 needs no permission; Deno's stat of /dev/stdin needs --allow-all.
  // Imported here, not at start: importing node:fs cost every kv server and broker about
  // 10 ms of CPU (README, Tests), and only --stop-on-stdin-close needs it.
  const { fstatSync } = await import("node:fs");
  const info = fstatSync(STDIN_FD);
  if (info.isFIFO() || info.isSocket()) return undefined;
  if (info.isFile()) return "a file, which ends at once";
  if (info.isDirectory()) return "a directory";
  return "a device such as /dev/null, which ends at once";
}

/** Standard input's file descriptor. */
const STDIN_FD = 0;
