/**
 * Whether a socket error means the peer went away (or the socket was closed under the
 * operation), not that something is wrong with this program: a reset, an abort, a broken
 * pipe, or an accept whose connection was reset before it was taken (Deno's accept then
 * fails with NotConnected, since it cannot name the peer). Callers drop such a connection
 * quietly and go on; an accept loop must not pause for one, or a peer resetting connections
 * holds every other client out.
 *
 * @example
 * ```ts
 * import { isDisconnect } from "./disconnect.ts";
 * isDisconnect(new Deno.errors.ConnectionReset("Connection reset by peer")); // true
 * isDisconnect(new Error("Too many open files (os error 24)")); // false
 * ```
 * @module
 */

/**
 * Whether `error` says the peer left or the socket was closed; see the module docs.
 *
 * @example
 * ```ts
 * isDisconnect(new Deno.errors.BrokenPipe("Broken pipe (os error 32)")); // true
 * ```
 */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected;
}

/**
 * Closes `closable`, ignoring that it was closed already (the peer left, or another path
 * closed it first): for the paths that end a connection whatever its state.
 *
 * @example
 * ```ts
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * closeQuietly(listener);
 * closeQuietly(listener); // no BadResource
 * ```
 */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed: nothing left to release.
  }
}
