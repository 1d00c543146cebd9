/**
 * A TCP proxy in front of one server that relays each connection both ways until the
 * client sends a request of a given message type, and holds that request and every byte
 * after it until {@link HoldingProxy.release}: a run that reaches that step with that
 * server waits there, at a step the test names, for as long as the test looks. Polling
 * for a step instead races the run, which may finish between two polls on a loaded
 * machine.
 *
 * @example
 * ```ts ignore
 * await using proxy = HoldingProxy.start(
 *   { hostname: "127.0.0.1", port: 8001 },
 *   MessageType.MARK_REPAIRED,
 * );
 * // list `127.0.0.1 ${proxy.port}` in the server file; a repair stops at its first mark
 * proxy.release();
 * ```
 * @module
 */
import { writeAll } from "../../lib/base/bytes.ts";
import { FRAME_HEADER_BYTES } from "../../lib/protocol/mod.ts";
import { listenLoopback, type LoopbackListener } from "./fixtures.ts";

/** Bytes one read of either side takes at most. */
const CHUNK_BYTES = 64 * 1024;

/** A proxy holding each connection after its first exchange; see the module docs. */
export class HoldingProxy implements AsyncDisposable {
  readonly #listener: LoopbackListener;
  readonly #released = Promise.withResolvers<void>();
  readonly #held = Promise.withResolvers<void>();
  readonly #upstreams: Deno.TcpConn[] = [];
  readonly #pipes: Promise<void>[] = [];

  private constructor(target: Deno.ConnectOptions, heldType: number) {
    this.#listener = listenLoopback((client) => {
      this.#pipes.push(this.#serve(client, target, heldType).catch(() => {}));
    });
  }

  /**
   * Listens on a free loopback port, forwarding to `target` and holding each connection
   * from its first request of message type `heldType` (`MessageType` of the protocol).
   */
  static start(target: Deno.ConnectOptions, heldType: number): HoldingProxy {
    return new HoldingProxy(target, heldType);
  }

  /** The loopback port it listens on. */
  get port(): number {
    return this.#listener.port;
  }

  /**
   * Resolves once a connection holds its first request of the held type: the run waits at
   * the step the test named (await it with a deadline).
   */
  get held(): Promise<void> {
    return this.#held.promise;
  }

  /** Lets every connection's held bytes, and all later ones, through. */
  release(): void {
    this.#released.resolve();
  }

  /**
   * Relays `client` to `target` both ways; the client's bytes wait for {@link release}
   * from its first frame of `heldType` on. A side that ends closes the other.
   */
  async #serve(client: Deno.TcpConn, target: Deno.ConnectOptions, heldType: number): Promise<void> {
    const upstream = await Deno.connect(target);
    this.#upstreams.push(upstream);
    const toClient = relay(upstream, client, () => {});
    const heldFrom = heldFrameOffset(heldType);
    const toServer = relay(client, upstream, async (chunk) => {
      const at = heldFrom(chunk);
      if (at === undefined) return;
      await writeAll(upstream, chunk.subarray(0, at));
      this.#held.resolve();
      await this.#released.promise;
      return at;
    });
    await Promise.race([toClient, toServer]).catch(() => {});
    closeQuietly(client);
    closeQuietly(upstream);
    await Promise.allSettled([toClient, toServer]);
  }

  /** Stops listening, closes every connection both ways, and waits for the relays. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
    await this.#listener.stop();
    for (const upstream of this.#upstreams) closeQuietly(upstream);
    await Promise.all(this.#pipes);
  }
}

/**
 * Copies `from` to `to` until `from` ends. `beforeWrite` sees each chunk first and may
 * write a head of it itself: it returns how many bytes it wrote (none when it returns
 * nothing), and the rest is written after it.
 */
async function relay(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  beforeWrite: (chunk: Uint8Array) => Promise<number | undefined> | void,
): Promise<void> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  for (;;) {
    const count = await from.read(buffer);
    if (count === null) return;
    const chunk = buffer.subarray(0, count);
    const written = (await beforeWrite(chunk)) ?? 0;
    await writeAll(to, chunk.subarray(written));
  }
}

/**
 * A reader of one direction's frames, chunk by chunk, that tells where in a chunk the first
 * frame of `heldType` starts — once; undefined for every other chunk, before and after. A
 * header split over two chunks gives 0: the server, with part of a header, waits as well.
 */
function heldFrameOffset(heldType: number): (chunk: Uint8Array) => number | undefined {
  let header: number[] = [];
  let bodyLeft = 0;
  let found = false;
  return (chunk) => {
    if (found) return undefined;
    for (let at = 0; at < chunk.length;) {
      if (bodyLeft > 0) {
        const skipped = Math.min(bodyLeft, chunk.length - at);
        bodyLeft -= skipped;
        at += skipped;
        continue;
      }
      header.push(chunk[at++]);
      if (header.length < FRAME_HEADER_BYTES) continue;
      if (header[4] === heldType) {
        found = true;
        return Math.max(0, at - FRAME_HEADER_BYTES);
      }
      bodyLeft = new DataView(Uint8Array.from(header).buffer).getUint32(0);
      header = [];
    }
    return undefined;
  };
}

/** Closes `conn` unless it is closed already. */
function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed by the other relay's end.
  }
}
