/**
 * The errors of kv's TLS server (lib/protocol/tls_server.ts) that callers tell apart, in a
 * module of their own: telling them apart must not load `node:tls`, which a server serving
 * plain TCP never needs (about 20 ms of its start).
 *
 * @example
 * ```ts
 * import { TlsDescriptorError } from "./tls_errors.ts";
 * const error: unknown = new TlsDescriptorError(24);
 * if (error instanceof TlsDescriptorError) console.log("out of file descriptors, most likely");
 * ```
 * @module
 */

/**
 * This Deno's `node:net` cannot open a TCP handle from a connection, which kv's TLS needs
 * (Deno 2.9.6 can): run kv with Deno 2.9.6.
 *
 * @example
 * ```ts
 * new TlsUnsupportedError().message; // "this Deno (…) cannot run node:tls over an accepted connection …"
 * ```
 */
export class TlsUnsupportedError extends Error {
  constructor() {
    super(
      `this Deno (${Deno.version.deno}) cannot run node:tls over an accepted connection ` +
        "(its node:net has no TCP handle opened from a connection's resource); run kv with " +
        "Deno 2.9.6, the version it is built and tested with",
    );
    this.name = "TlsUnsupportedError";
  }
}

/**
 * A second descriptor of a connection could not be had for its TLS (out of file
 * descriptors, most likely): the connection is closed; a server logs it as it logs a failed
 * accept, at most once a minute, since a client holding descriptors makes every connection
 * fail so.
 *
 * @example
 * ```ts
 * new TlsDescriptorError(24).message; // "cannot open a second descriptor … (error 24; …)"
 * ```
 */
export class TlsDescriptorError extends Error {
  /**
   * The error for a descriptor that could not be opened, `code` saying why.
   *
   * @param code the native handle's error code.
   */
  constructor(readonly code: number) {
    super(
      `cannot open a second descriptor of the connection for TLS (error ${code}; out of ` +
        "file descriptors?)",
    );
    this.name = "TlsDescriptorError";
  }
}
