/**
 * Starts `kv server` from this checkout's main.ts as a real child process on
 * an ephemeral port, for tests of the server CLI and of the broker against
 * real servers. A thin layer over lib/cli/server_process.ts whose waits have
 * the tests' deadline (./wait.ts).
 *
 * @example
 * ```ts
 * await using server = await startServerProcess(["--data-dir", dir]);
 * const client = await ServerClient.connect(server.address);
 * const { code } = await stopWithin(server); // SIGTERM, then waits: code 0
 * ```
 * @module
 */
import {
  denoRunArgs,
  type KvInvocation,
  type ServerExit,
  ServerProcess,
} from "../../lib/cli/server_process.ts";
import { MAIN_PATH } from "./run_kv.ts";
import { DEFAULT_DEADLINE_MS, withDeadline } from "./wait.ts";

/** Runs this checkout's main.ts under the deno that runs the tests. */
export const TEST_KV: KvInvocation = { command: Deno.execPath(), args: denoRunArgs(MAIN_PATH) };

/** Starts `kv server -p 0 <args>` and resolves once it listens (or fails past the deadline). */
export function startServerProcess(args: string[] = []): Promise<ServerProcess> {
  return ServerProcess.start({ kv: TEST_KV, args, startTimeoutMs: DEFAULT_DEADLINE_MS });
}

/**
 * Sends `signal` (default SIGTERM) and waits for the exit; past the deadline
 * the server is killed (SIGKILL) and the test fails.
 */
export function stopWithin(
  server: ServerProcess,
  signal: Deno.Signal = "SIGTERM",
): Promise<ServerExit> {
  return withDeadline(server.stop(signal), {
    what: `kv server ${server.id} to exit after ${signal}`,
    onTimeout: () => server.kill(),
  });
}
