/**
 * The error for a user's mistake: a bad flag, an unreadable or malformed input
 * file, a port already in use. The CLI prints its message as one line and exits
 * with {@link USAGE_EXIT_CODE}, never with a stack trace.
 *
 * @example
 * ```ts
 * throw new UserError("keyFile.txt:3:6: unknown type 'bool'; use int, float or string");
 * ```
 * @module
 */
import { oneLine } from "../record/key.ts";

/** Exit code for every user mistake, as documented in the README. */
export const USAGE_EXIT_CODE = 2;

/**
 * Exit code when the cluster could not answer (too few servers reachable, or a command
 * answered `ERROR` or with a `WARNING`): not the user's mistake, and the same command may
 * succeed once the servers are back.
 */
export const UNAVAILABLE_EXIT_CODE = 3;

/** Exit code after Ctrl-C (SIGINT) stopped a command, as a shell reports it: 128 + 2. */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Exit code after each signal that stops a command cleanly, as a shell reports a process the
 * signal ended: 128 + its number. kv exits with it itself, having cleaned up.
 */
export const SIGNAL_EXIT_CODES = {
  SIGHUP: 129,
  SIGINT: INTERRUPTED_EXIT_CODE,
  SIGTERM: 143,
} as const;

/** A signal that stops a command cleanly (see {@link SIGNAL_EXIT_CODES}). */
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** How a command's last line says which signal stopped it: `kv gen: interrupted; …`. */
export const STOPPED_WORDS: Readonly<Record<StopSignal, string>> = {
  SIGHUP: "hung up (SIGHUP)",
  SIGINT: "interrupted",
  SIGTERM: "terminated (SIGTERM)",
};

/**
 * A mistake the user can fix; its message is one line saying what, where, and what to do,
 * prefixed with the command (`kv gen: …`). The CLI's runner prints the message alone and
 * returns {@link USAGE_EXIT_CODE}; any other error is an internal one.
 *
 * @example
 * ```ts
 * const error = new UserError("kv gen: keyFile.txt:2:7: unknown type 'bool'; expected int, float or string");
 * error.message; // printed as is on stderr, and kv exits with 2
 * error instanceof UserError; // true: how the runner tells it from a bug
 * ```
 */
export class UserError extends Error {
  /**
   * The error for a user's mistake, told in `message` alone (no stack trace). What it quotes
   * of the user's input (a flag's value, a line of a file) is shown with its newlines, escape
   * sequences and other hidden characters escaped (`oneLine`), so that it stays one line and
   * sends the terminal nothing.
   *
   * @param message one line: what was wrong, where (file:line:col), what to do.
   */
  constructor(message: string) {
    super(oneLine(message));
    this.name = "UserError";
  }
}

/**
 * The cluster could not be used at all (no server reachable), where that ends a command
 * that cannot start without it (`kv broker`, `kv http`): not a mistake, so the CLI's runner
 * prints its message, one line, and returns {@link UNAVAILABLE_EXIT_CODE}; the same command
 * may succeed once the servers are back.
 *
 * @example
 * ```ts
 * throw new UnavailableError("kv broker: none of the 2 servers in s.txt is reachable (…); …");
 * ```
 */
export class UnavailableError extends Error {
  /**
   * The error for a cluster that could not be used, told in `message` alone.
   *
   * @param message one line: what could not be reached (each server, and why) and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "UnavailableError";
  }
}
