/**
 * One line saying what went wrong, for logs and error messages that wrap a cause.
 *
 * @example
 * ```ts
 * import { describeError } from "./describe_error.ts";
 * describeError(new Error("disk full")); // "disk full"
 * describeError("odd throw"); // "odd throw"
 * ```
 * @module
 */

/**
 * The message of `error` when it is an Error, else its string form (anything may be
 * thrown).
 *
 * @example
 * ```ts
 * describeError(new RangeError("bad")); // "bad"
 * ```
 */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
