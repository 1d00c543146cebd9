/**
 * A `Deno.Conn` as a Node stream, for a test's own `node:tls` client (`tls.connect({ socket })`)
 * that must write past what the TLS session does, or stop reading on purpose.
 *
 * @example
 * ```ts
 * import tls from "node:tls";
 * import { connTransport } from "./conn_transport.ts";
 * const tcp = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * const socket = tls.connect({ socket: connTransport(tcp), servername: "localhost" });
 * ```
 * @module
 */
import { Duplex } from "node:stream";

/** Bytes asked of the connection per read. */
const READ_BYTES = 16 * 1024;

/**
 * `tcp` as a Duplex: its reads pushed while `reads()` says so (default always), writes
 * written whole.
 *
 * @example
 * ```ts
 * const tcp = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * let reading = true;
 * const transport = connTransport(tcp, () => reading); // reading = false stops its reads
 * ```
 */
export function connTransport(tcp: Deno.Conn, reads: () => boolean = () => true): Duplex {
  return new Duplex({
    read() {
      if (!reads()) return;
      const buffer = new Uint8Array(READ_BYTES);
      tcp.read(buffer).then(
        (count) => this.push(count === null ? null : buffer.subarray(0, count)),
        (error) => this.destroy(error),
      );
    },
    write(chunk, _encoding, callback) {
      tcp.write(chunk).then(() => callback(), callback);
    },
  });
}
