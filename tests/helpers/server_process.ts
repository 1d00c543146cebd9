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
import { processState } from "./attacks.ts";
import { DEFAULT_DEADLINE_MS, waitFor, withDeadline } from "./wait.ts";

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

/**
 * SIGSTOPs `server` and waits until the kernel has stopped it: kill returns before the
 * signal lands, and what the server does in between (a stamp written, a request answered)
 * would follow what the test does next. SIGCONT resumes it.
 *
 * @example
 * ```ts ignore
 * await freeze(server);
 * server.signal("SIGCONT");
 * ```
 */
export async function freeze(server: ServerProcess): Promise<void> {
  server.signal("SIGSTOP");
  const pid = server.pid;
  if (pid === undefined) throw new Error(`kv server ${server.id} does not run`);
  await waitFor(async () => await processState(pid) === "T", {
    what: `the kernel to stop kv server ${server.id}`,
  });
}
