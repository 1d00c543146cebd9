/**
 * Starts `kv server` from this checkout's main.ts as a real child process on
 * an ephemeral port, for tests of the server CLI and of the broker against
 * real servers. A thin layer over lib/cli/server_process.ts.
 *
 * @example
 * ```ts
 * const server = await startServerProcess(["--data-dir", dir]);
 * const client = await ServerClient.connect(server.address);
 * const { code } = await server.stop(); // SIGTERM, then waits: code 0
 * ```
 * @module
 */
import { denoRunArgs, type KvInvocation, ServerProcess } from "../../lib/cli/server_process.ts";
import { MAIN_PATH } from "./run_kv.ts";

/** Runs this checkout's main.ts under the deno that runs the tests. */
export const TEST_KV: KvInvocation = { command: Deno.execPath(), args: denoRunArgs(MAIN_PATH) };

/** Starts `kv server -p 0 <args>` and resolves once it listens. */
export function startServerProcess(args: string[] = []): Promise<ServerProcess> {
  return ServerProcess.start({ kv: TEST_KV, args });
}
