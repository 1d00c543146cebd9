/**
 * The memory attacks of the security issue, as building blocks for the test that bounds
 * them and the script that measures them: connections that say HELLO and then send a
 * bad request and idle, or most of a large frame and stall; connections reset before they
 * are accepted; and a process's RSS and state, read from /proc.
 *
 * @example
 * ```ts
 * import { openAttackers, rssBytes, stalledFrame } from "./attacks.ts";
 * const attackers = await openAttackers(address, 40, stalledFrame(16 * 1024 * 1024));
 * console.log(await rssBytes(pid));
 * attackers.close();
 * ```
 * @module
 */
import net from "node:net";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MessageType, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";

/**
 * The text of `/proc/PID/NAME` for process `pid`. Read through `cat` because Deno grants
 * /proc only to --allow-all, which `deno task test` does not give.
 */
async function procFile(pid: number, name: string): Promise<string> {
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/${name}`] }).output();
  if (!output.success) throw new Error(`cannot read /proc/${pid}/${name}`);
  return new TextDecoder().decode(output.stdout);
}

/** A process's resident set size in bytes, from /proc/PID/status. */
export async function rssBytes(pid: number): Promise<number> {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(await procFile(pid, "status"));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * A process's state letter from /proc/PID/stat (`T` once a SIGSTOP has landed: `kill`
 * returns before it does).
 */
export async function processState(pid: number): Promise<string> {
  const stat = await procFile(pid, "stat");
  // The command name in parentheses may hold spaces: the state follows its closing one.
  const after = stat.lastIndexOf(")") + 2;
  return stat.slice(after, after + 1);
}

function helloBytes(): Uint8Array {
  const frames = new FrameWriter();
  frames.hello(1, PROTOCOL_VERSION);
  return frames.bytes().slice();
}

function withHello(type: number, bodyBytes: number, sentBodyBytes: number): Uint8Array {
  const hello = helloBytes();
  const bytes = new Uint8Array(hello.length + 9 + sentBodyBytes);
  bytes.set(hello);
  const view = new DataView(bytes.buffer, hello.length);
  view.setUint32(0, bodyBytes);
  bytes[hello.length + 4] = type;
  view.setUint32(5, 2);
  return bytes;
}

/** HELLO, then a whole GET whose key length field claims more than the body holds. */
export function badRequest(bodyBytes: number): Uint8Array {
  const bytes = withHello(MessageType.GET, bodyBytes, bodyBytes);
  new DataView(bytes.buffer).setUint32(bytes.length - bodyBytes, 0xffff_ffff);
  return bytes;
}

/** HELLO, then a PUT frame announcing `bodyBytes`, all sent but the last byte. */
export function stalledFrame(bodyBytes: number): Uint8Array {
  return withHello(MessageType.PUT, bodyBytes, bodyBytes - 1);
}

/** Connections that sent their payload and hold on. */
export interface Attackers {
  readonly conns: readonly Deno.Conn[];
  /** How many the server has closed so far. */
  closedByServer(): number;
  /** Closes every connection. */
  close(): void;
}

/**
 * Opens `count` connections to `address`, each writing `payload` (as far as it can) and
 * then reading (and dropping) whatever comes back until the server closes it.
 */
export async function openAttackers(
  address: { hostname: string; port: number },
  count: number,
  payload: Uint8Array,
): Promise<Attackers> {
  let closed = 0;
  const conns = await Promise.all(Array.from({ length: count }, async () => {
    const conn = await Deno.connect(address);
    try {
      for (let written = 0; written < payload.length;) {
        written += await conn.write(payload.subarray(written));
      }
    } catch {
      // Closed by the server mid-write: it refused this one.
    }
    drain(conn).then(() => closed++);
    return conn;
  }));
  return {
    conns,
    closedByServer: () => closed,
    close: () => {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    },
  };
}

/** Reads `conn` until its stream ends (or fails, or we close it). */
async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (await conn.read(buffer) !== null) {
      // The answers themselves do not matter, only the end of the stream.
    }
  } catch {
    // Reset by the server, or closed by us.
  }
}

/**
 * Opens a TCP connection to `port` on 127.0.0.1 and resets it (RST) once it is established:
 * a server that has not accepted it yet finds its accept failing (Deno: NotConnected).
 *
 * @example
 * ```ts
 * for (let i = 0; i < 300; i++) await connectAndReset(8000);
 * ```
 */
export function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.on("error", () => resolve());
  });
}
