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

/**
 * Whether `hostname` reaches this machine only: 127.0.0.0/8, ::1 or localhost. Anything
 * else (0.0.0.0 and :: included) may be reached from the network, so a listener there asks for
 * credentials (or `--insecure`). A URL's host gives IPv6 in brackets, `[::1]`: that counts too.
 *
 * @example
 * ```ts
 * isLoopback("127.0.0.1"); // true
 * isLoopback("::1"); // true
 * isLoopback("[::1]"); // true, as a URL writes it
 * isLoopback("0.0.0.0"); // false: every interface, the network's too
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
