/**
 * Fixtures many tests share: a temporary directory removed afterwards (or a temporary
 * home for a kv process's state), loopback ports nothing listens on, and the compat
 * keyFile's key specs and data files' lines.
 *
 * @example
 * ```ts
 * await withTempDir(async (dir) => await Deno.writeTextFile(`${dir}/a.txt`, "a"));
 * console.log(COMPAT_KEYS.length);
 * ```
 * @module
 */
import { type KeySpec, parseKeyFile } from "../../lib/gen/keyfile.ts";
import { isBlankLine } from "../../lib/record/parse.ts";
import { outputWithin } from "./wait.ts";

/** Runs `body` with a fresh temporary directory and removes it afterwards, pass or fail. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kv_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `body` with `env` naming a fresh temporary directory, `dir`, as the home of a kv
 * process's state (XDG_STATE_HOME and HOME: the REPL's history file lives there), so that a
 * test never touches the user's; removed afterwards, pass or fail.
 */
export function withStateHome(
  body: (env: Record<string, string>, dir: string) => Promise<void>,
): Promise<void> {
  return withTempDir((dir) => body({ XDG_STATE_HOME: dir, HOME: dir }, dir));
}

/**
 * Makes `path` a sparse regular file (mode 600) of `bytes` zero bytes, which takes no disk:
 * a file past any bound kv reads whole with (kv refuses devices such as /dev/zero, which are
 * not regular files, before reading them). Returns `path`.
 */
export async function sparseFile(path: string, bytes: number): Promise<string> {
  using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  await file.truncate(bytes);
  return path;
}

/**
 * Makes a FIFO (named pipe) at `path` with `mkfifo`, mode 600, that no one writes: opening it
 * to read blocks until someone does. Returns `path`.
 */
export async function fifo(path: string): Promise<string> {
  const command = new Deno.Command("mkfifo", { args: ["-m", "600", path], stderr: "piped" });
  const { success, stderr } = await outputWithin(command.spawn(), { what: "mkfifo" });
  if (!success) throw new Error(`mkfifo ${path}: ${new TextDecoder().decode(stderr)}`);
  return path;
}

/**
 * Loopback ports {@link closedPorts} draws from: below Linux's ephemeral range (32768 and up
 * by default), which every test's `port: 0` listener takes its port from, so no other test
 * running beside can be handed one of them after it is released (an ephemeral port freed
 * here was once bound at once by a parallel test's kv http, and read as "no kv server").
 */
const CLOSED_PORT_RANGE = { first: 20_000, last: 32_767 } as const;

/** Draws of {@link closedPorts} at most, each a port tried: a bound on its loop. */
const MAX_CLOSED_PORT_DRAWS = 1_000;

/**
 * `count` distinct loopback ports nothing listens on, from {@link CLOSED_PORT_RANGE}: each
 * drawn at random and bound to prove it free, then released once all are found.
 */
export function closedPorts(count: number): number[] {
  const listeners: Deno.Listener[] = [];
  const span = CLOSED_PORT_RANGE.last - CLOSED_PORT_RANGE.first + 1;
  try {
    for (let draw = 0; draw < MAX_CLOSED_PORT_DRAWS && listeners.length < count; draw++) {
      const port = CLOSED_PORT_RANGE.first + Math.floor(Math.random() * span);
      try {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      }
    }
    if (listeners.length < count) throw new Error(`no ${count} free ports below 32768`);
    return listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  } finally {
    for (const listener of listeners) listener.close();
  }
}

/**
 * Whether something accepts connections on `port` of 127.0.0.1: false only when the
 * connection is refused, so that another failure is not taken for a closed port.
 */
export async function isListening(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return false;
    throw error;
  }
}

/** A listener on 127.0.0.1 serving each connection it accepts; see {@link listenLoopback}. */
export interface LoopbackListener {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening, closes every connection accepted, and waits for the accept loop to end. */
  stop(): Promise<void>;
}

/**
 * Listens on a free loopback port and hands each connection accepted to `serve`, with
 * its number (1 for the first): the socket side of the tests' fake servers, which
 * `serve` scripts.
 */
export function listenLoopback(
  serve: (conn: Deno.TcpConn, connection: number) => void,
): LoopbackListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.TcpConn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      serve(conn, conns.length);
    }
  })();
  return {
    port: listener.addr.port,
    async stop() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting.catch(() => {});
    },
  };
}

/** testdata/compat/: the original project's files (keyFile, server file, data in each dialect). */
const COMPAT_DIRECTORY = new URL("../../testdata/compat/", import.meta.url);

/** Path of testdata/compat/keyFile.txt, the keyFile of the original project. */
export const COMPAT_KEY_FILE = new URL("keyFile.txt", COMPAT_DIRECTORY).pathname;

/** The key specs of testdata/compat/keyFile.txt. */
export const COMPAT_KEYS: readonly KeySpec[] = parseKeyFile(
  Deno.readTextFileSync(COMPAT_KEY_FILE),
  "keyFile.txt",
);

/** The record lines of the file `fileName` of testdata/compat/, blank lines left out. */
export function compatLines(fileName: string): string[] {
  const text = Deno.readTextFileSync(new URL(fileName, COMPAT_DIRECTORY));
  return text.split("\n").filter((line) => !isBlankLine(line));
}
