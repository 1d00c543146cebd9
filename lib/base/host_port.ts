/**
 * How kv names a network address in its messages, server files and logs: `host:port`,
 * with brackets around an IPv6 host so that the port stays readable.
 *
 * @example
 * ```ts
 * import { hostPort } from "./host_port.ts";
 * hostPort("::1", 8000); // "[::1]:8000"
 * ```
 * @module
 */

/**
 * `host:port`, with brackets around an IPv6 host (one holding a `:`).
 *
 * @example
 * ```ts
 * hostPort("127.0.0.1", 8000); // "127.0.0.1:8000"
 * hostPort("::1", 8000); // "[::1]:8000"
 * ```
 */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
