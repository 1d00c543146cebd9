/**
 * Helpers for tests that run a {@link KvServer} inside the test process: start
 * one on an ephemeral port over a memory-only store, talk raw frames to it
 * (every read bounded by a deadline, see ./wait.ts), and wait for one idle
 * timeout to pass on the server's own clock.
 *
 * @example
 * ```ts
 * const { server, address, stop } = await startServer({ idleTimeoutMs: 200 });
 * const raw = await RawConnection.open(address);
 * raw.write(frames.bytes());
 * await raw.readFrame();
 * await stop();
 * ```
 * @module
 */
import { ErrorCode, type Frame } from "../../lib/protocol/mod.ts";
import { decodeResponse } from "../../lib/protocol/messages.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { feedFrames } from "./frames.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MessageType, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";
import { KvServer, type KvServerOptions } from "../../lib/server/server.ts";
import { Store } from "../../lib/server/store.ts";
import type { ServerAddress } from "../../lib/protocol/client.ts";
import { withDeadline } from "./wait.ts";
import { overridden } from "./overridden.ts";

/** A running in-process server. */
export interface StartedServer {
  server: KvServer;
  store: Store;
  address: ServerAddress;
  /** Closes the server (and its store). */
  stop(): Promise<void>;
}

/** Starts a server on 127.0.0.1, port 0, over `options.store` or a fresh memory store. */
export async function startServer(
  options: Partial<KvServerOptions> = {},
): Promise<StartedServer> {
  const store = options.store ?? await Store.open();
  const server = new KvServer({ ...options, store, hostname: "127.0.0.1", port: 0 });
  const { hostname, port } = server.listen();
  return { server, store, address: { hostname, port }, stop: () => server.close() };
}

/** The members of a Store a test can put its own in place of ({@link instrumentedStore}). */
export type StoreOverrides = Partial<Pick<Store, "commit" | "close" | "settled">>;

/**
 * `store` with `overrides` in place of its own members, the rest its own: a store whose
 * commits a test watches, delays or fails, or whose close it sees.
 *
 * @example
 * ```ts
 * let commits = 0;
 * const store = instrumentedStore(await Store.open(), {
 *   commit: () => (commits++, Promise.resolve()),
 * });
 * ```
 */
export function instrumentedStore(store: Store, overrides: StoreOverrides): Store {
  return overridden(store, overrides);
}

/**
 * The idle timeout for tests that a keep-alive must beat. Clients ping after a
 * third of it of silence, so at worst two thirds in: a ping may then be late by
 * a whole second (a loaded machine's timers are) before the server would close.
 */
export const KEEP_ALIVE_IDLE_TIMEOUT_MS = 3_000;

/**
 * The idle or hello timeout for tests that wait for the server to close a silent
 * connection. The server's timers start at accept, and what the test sends at once (a
 * HELLO, a PING, half a frame) must be read before they fire: 100-150 ms could be missed
 * by a test process descheduled or collecting garbage on a loaded machine. The test
 * waits it out once.
 */
export const SHORT_TIMEOUT_MS = 1_000;

/**
 * Opens a connection to `address` that stays silent, and resolves once the
 * server has closed it for idleness: at least one idle timeout has then passed
 * on the server's clock since the call. Tests of keep-alive wait with this for
 * a period of silence, instead of sleeping for a guess at it.
 *
 * @example
 * ```ts
 * const { address, stop } = await startServer({ idleTimeoutMs: 1500 });
 * await outlastIdleTimeout(address); // 1.5 s or more have passed for the server
 * await stop();
 * ```
 */
export async function outlastIdleTimeout(address: ServerAddress): Promise<void> {
  const silent = await RawConnection.open(address);
  try {
    const farewell = await silent.readFrame();
    const answer = farewell && decodeResponse(farewell);
    if (answer?.type !== "error" || answer.code !== ErrorCode.IDLE_TIMEOUT) {
      throw new Error(`a silent connection got ${JSON.stringify(answer)}, not IDLE_TIMEOUT`);
    }
    if (await silent.readFrame() !== undefined) throw new Error("IDLE_TIMEOUT did not close it");
  } finally {
    silent.close();
  }
}

/** A bare TCP connection that writes bytes and reads whole frames, for protocol-level tests. */
export class RawConnection {
  readonly #conn: Deno.TcpConn;
  readonly #reader = new FrameReader({ maxFrameBytes: 0xffff_ffff });
  readonly #frames: Frame[] = [];
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /**
   * Connects to `address` and, unless `hello` is false, completes a HELLO (request id 0,
   * no authentication) first, as the server requires before any other request.
   */
  static async open(
    address: ServerAddress,
    { hello = true }: { hello?: boolean } = {},
  ): Promise<RawConnection> {
    const raw = new RawConnection(await Deno.connect(address));
    if (!hello) return raw;
    const frames = new FrameWriter();
    frames.hello(0, PROTOCOL_VERSION);
    await raw.write(frames.bytes());
    const answer = await raw.readFrame();
    if (answer?.type !== MessageType.OK || answer.requestId !== 0) {
      raw.close();
      throw new Error(`HELLO was not answered with OK: ${JSON.stringify(answer)}`);
    }
    return raw;
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  /**
   * The next frame, or `undefined` once the server closed the connection;
   * closes the connection and throws when nothing comes within the deadline.
   */
  async readFrame(): Promise<Frame | undefined> {
    const buffer = new Uint8Array(64 * 1024);
    while (this.#frames.length === 0 && !this.#ended) {
      let count: number | null;
      try {
        count = await withDeadline(this.#conn.read(buffer), {
          what: "a frame from the server",
          onTimeout: () => this.close(),
        });
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        count = null;
      }
      if (count === null) this.#ended = true;
      else this.#frames.push(...feedFrames(this.#reader, buffer.subarray(0, count)));
    }
    return this.#frames.shift();
  }

  /** Every frame until the server closes the connection. */
  async readUntilEnd(): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (let frame = await this.readFrame(); frame; frame = await this.readFrame()) {
      frames.push(frame);
    }
    return frames;
  }

  /** Ends our writing half: the server reads the end of the stream and closes once done. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /** Closes our side. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
