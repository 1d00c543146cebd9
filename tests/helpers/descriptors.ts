/**
 * A running process's file descriptors, for tests that make a server run out of them: lower
 * its limit with `prlimit` (util-linux), see its sockets in `/proc`. Read through commands
 * because Deno grants another process's `/proc` only to --allow-all, which `deno task test`
 * does not give.
 *
 * @example
 * ```ts
 * import { HAS_PRLIMIT, lowerDescriptorLimit, socketInodes } from "./descriptors.ts";
 * if (HAS_PRLIMIT) {
 *   await lowerDescriptorLimit(pid, 200);
 *   console.log((await socketInodes(pid)).size);
 * }
 * ```
 * @module
 */
import assert from "node:assert/strict";

/** Whether `prlimit` (util-linux) is here to lower a running process's file descriptor limit. */
export const HAS_PRLIMIT: boolean = (() => {
  try {
    return new Deno.Command("prlimit", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/**
 * The output of `command` with `args`, which must succeed.
 *
 * @example
 * ```ts
 * const status = await outputOf("cat", ["/proc/1/status"]);
 * ```
 */
export async function outputOf(command: string, args: string[]): Promise<string> {
  const { success, stdout } = await new Deno.Command(command, { args, stderr: "null" }).output();
  assert.ok(success, `${command} ${args.join(" ")} failed`);
  return new TextDecoder().decode(stdout);
}

/**
 * Lowers process `pid`'s file descriptor limit, soft and hard, to `limit`.
 *
 * @example
 * ```ts
 * if (HAS_PRLIMIT) await lowerDescriptorLimit(pid, 200);
 * ```
 */
export async function lowerDescriptorLimit(pid: number, limit: number): Promise<void> {
  await outputOf("prlimit", [`--pid=${pid}`, `--nofile=${limit}:${limit}`]);
}

/**
 * Inodes of the sockets process `pid` holds open. A descriptor may close while they are listed
 * (a burst's relays do): `readlink` then fails for it alone and goes on with the rest, where
 * `find` failed the run. One `readlink` for every descriptor, not one each: a test waiting on
 * hundreds of descriptors checks many times, and started hundreds of processes a check.
 *
 * @example
 * ```ts
 * const open = (await socketInodes(pid)).size;
 * ```
 */
export async function socketInodes(pid: number): Promise<Set<string>> {
  const targets = await outputOf("sh", [
    "-c",
    'readlink /proc/"$1"/fd/* 2>/dev/null; true',
    "sh",
    String(pid),
  ]);
  return new Set(targets.split("\n").map((target) => /^socket:\[(\d+)\]$/.exec(target)?.[1] ?? ""));
}
