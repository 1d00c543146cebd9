/**
 * libfaketime (Debian's `faketime` package), which runs a child process with its clock
 * moved: for tests of clocks that disagree across machines. Tests that need it are ignored,
 * or run with clocks that agree, where it is not installed; `.ci/run` installs it.
 *
 * @example
 * ```ts
 * import { faketimeEnv, hasFaketime } from "./faketime.ts";
 * const env = hasFaketime() ? faketimeEnv("+40s") : {};
 * ```
 * @module
 */
import type { KvInvocation } from "../../lib/cli/server_process.ts";

/**
 * The library, preloaded into a child process to move its clock: the multi-threaded build
 * (what the `faketime` wrapper's `-m` preloads), since Deno runs threads from its start.
 * Under the other one a `deno eval` in a loaded suite run once died of SIGSEGV (exit 139)
 * before printing anything, a crash of the kind libfaketime's issue tracker reports for
 * multi-threaded runtimes; it was not reproduced in 300 runs since, so the switch is a
 * precaution, not a proven cure.
 */
export const FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/**
 * Whether {@link FAKETIME_LIBRARY} is installed here.
 *
 * @example
 * ```ts
 * hasFaketime(); // true once `apt-get install faketime` ran
 * ```
 */
export function hasFaketime(): boolean {
  try {
    return Deno.statSync(FAKETIME_LIBRARY).isFile;
  } catch {
    return false;
  }
}

/**
 * The environment that runs a child process with its clock moved by `offset`, as
 * libfaketime's `FAKETIME` takes it (`+40s`, `-2d`).
 *
 * @example
 * ```ts
 * faketimeEnv("+2d"); // { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: "+2d" }
 * ```
 */
export function faketimeEnv(offset: string): Record<string, string> {
  return { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: offset };
}

/**
 * `kv` run with its clock moved by `offset` (libfaketime's `FAKETIME`, as
 * {@link faketimeEnv}): `env` sets the variables and runs `kv`'s own invocation, for a
 * process a helper spawns with an environment of its own choosing (`kv server` under
 * ServerProcess, which sets only `NO_COLOR`).
 *
 * @example
 * ```ts
 * import { TEST_KV } from "./server_process.ts";
 * const ahead = faketimeInvocation(TEST_KV, "+5m"); // { command: "env", args: [...] }
 * ```
 */
export function faketimeInvocation(kv: KvInvocation, offset: string): KvInvocation {
  const env = Object.entries(faketimeEnv(offset)).map(([name, value]) => `${name}=${value}`);
  return { command: "env", args: [...env, kv.command, ...kv.args] };
}
