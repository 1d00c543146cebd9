/**
 * Runs `kv server` as a real child process on an ephemeral port, for tests of
 * the server CLI and of the broker against real servers: starts it, waits for
 * its listening line, and stops it with a signal.
 *
 * @example
 * ```ts
 * const server = await startServerProcess(["--data-dir", dir]);
 * const client = await ServerClient.connect(server.address);
 * const { code } = await server.stop(); // SIGTERM, then waits: code 0
 * ```
 * @module
 */
import type { ServerAddress } from "../../lib/client.ts";
import { MAIN_PATH } from "./run_kv.ts";

/** The listening line `kv server` prints on stderr once ready: host and port. */
export const LISTENING_LINE = /^kv server listening on (?:\[(.+)\]|([^\s:]+)):(\d+) \(/;

/** How long {@link startServerProcess} waits for the listening line by default. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;

/** A running `kv server` process. */
export interface ServerProcess {
  /** Where it listens (the real port, read from its listening line). */
  readonly address: ServerAddress;
  /** The process, e.g. to kill it with SIGKILL. */
  readonly child: Deno.ChildProcess;
  /** Every stderr line so far, listening line included (it keeps filling while running). */
  readonly stderrLines: string[];
  /** Sends `signal` (default SIGTERM) and resolves once the process exited. */
  stop(signal?: Deno.Signal): Promise<ServerExit>;
  /** Resolves when the process exits by itself or after `stop`. */
  readonly exited: Promise<ServerExit>;
}

/** How a server process ended. */
export interface ServerExit {
  code: number;
  signal: Deno.Signal | null;
  stderr: string;
}

/** Options of {@link startServerProcess}. */
export interface StartServerOptions {
  /** Milliseconds to wait for the listening line; default {@link DEFAULT_START_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Spawns `kv server` with `args`; stderr is piped, stdout ignored. */
export function spawnServer(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-write", MAIN_PATH, "server", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/**
 * Starts `kv server -p 0 <args>` and resolves once it prints its listening
 * line. Rejects (after killing it) if it exits or stays silent too long; the
 * error carries its stderr.
 */
export async function startServerProcess(
  args: string[] = [],
  options: StartServerOptions = {},
): Promise<ServerProcess> {
  const child = spawnServer(["-p", "0", ...args]);
  const stderrLines: string[] = [];
  let resolveListening!: (address: ServerAddress) => void;
  const listening = new Promise<ServerAddress>((resolve) => resolveListening = resolve);
  const drained = (async () => {
    const lines = child.stderr.pipeThrough(new TextDecoderStream());
    let pending = "";
    for await (const text of lines) {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        stderrLines.push(line);
        const match = LISTENING_LINE.exec(line);
        if (match) resolveListening({ hostname: match[1] ?? match[2], port: Number(match[3]) });
      }
    }
    if (pending) stderrLines.push(pending);
  })();
  const exited = (async (): Promise<ServerExit> => {
    const status = await child.status;
    await drained;
    return { code: status.code, signal: status.signal, stderr: stderrLines.join("\n") };
  })();
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    listening,
    exited,
    new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs)),
  ]);
  clearTimeout(timer);
  if (outcome === "timeout" || "code" in outcome) {
    if (outcome === "timeout") child.kill("SIGKILL");
    const { stderr } = await exited;
    const why = outcome === "timeout" ? `no listening line within ${timeoutMs} ms` : "it exited";
    throw new Error(`kv server did not start: ${why}; stderr:\n${stderr}`);
  }
  return {
    address: outcome,
    child,
    stderrLines,
    exited,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited: `exited` has its status.
      }
      return await exited;
    },
  };
}
