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

/** Exit code for every user mistake, as documented in the README. */
export const USAGE_EXIT_CODE = 2;

/** A mistake the user can fix; its message is one line saying what, where, and what to do. */
export class UserError extends Error {
  /**
   * @param message one line: what was wrong, where (file:line:col), what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
