/**
 * What removes `kv demo`'s directory when the demo cannot: killed by SIGKILL (or the OOM
 * killer), it runs no code of its own, and its servers, in sessions of their own, stop once
 * their stdin ends (`kv server --stop-on-stdin-close`) but leave their data. So the demo
 * starts one more process of itself at once, `kv demo --clean-up DIR`, in a session of its
 * own too, with a pipe on stdin that only the demo holds: once it ends, the clean-up waits
 * for the servers to stop (each holds the lock on its data directory, lib/server/dir_lock.ts,
 * until it exits; a frozen one is sent SIGCONT so that it can), then removes the directory.
 * After a normal exit the demo has removed it already, and the clean-up finds nothing to do.
 *
 * @example
 * ```ts ignore
 * import { startCleanUp } from "./demo_cleanup.ts";
 * const directory = await Deno.makeTempDir({ prefix: "kv-demo-" });
 * startCleanUp(directory); // removes it once this process ends, however it ends
 * ```
 * @module
 */
import { DirLock } from "../server/dir_lock.ts";
import { selfInvocation } from "./server_process.ts";
import { untilStdinCloses } from "./stdin.ts";
import { UserError } from "./user_error.ts";

/**
 * How long the clean-up waits for the servers to stop before it removes their directory
 * anyway, in ms: a server stops in well under a second; one that has not by then is stuck.
 */
export const CLEAN_UP_WAIT_MS = 10_000;

/** How often the clean-up checks whether the servers have stopped, in ms. */
export const CLEAN_UP_POLL_MS = 50;

/** How the names of the demo's directories begin; the clean-up removes no other. */
export const DEMO_DIRECTORY_PREFIX = "kv-demo-";

/** The file in the demo's directory that holds the records it indexes. */
export const DEMO_DATASET_FILE = "dataToIndex.txt";

/** How the demo names its servers' data directories in its own: `server1`, `server2`, … */
export const DEMO_SERVER_DIRECTORY_PREFIX = "server";

/** A name of a server's data directory in the demo's (see {@link DEMO_SERVER_DIRECTORY_PREFIX}). */
const SERVER_DIRECTORY_NAME = new RegExp(`^${DEMO_SERVER_DIRECTORY_PREFIX}[1-9][0-9]*$`);

/** The `kv demo` flag that runs the clean-up instead of a demo. */
export const CLEAN_UP_FLAG = "--clean-up";

/** What the clean-up's `deno run` needs: to read and remove the directory, and send SIGCONT. */
const CLEAN_UP_PERMISSIONS = ["--allow-read", "--allow-write", "--allow-run"] as const;

/**
 * Starts `kv demo --clean-up directory` (see the module's comment); its stdin's other end
 * stays open in this process until it exits.
 *
 * @example
 * ```ts ignore
 * startCleanUp("/tmp/kv-demo-1a2b3c");
 * ```
 */
export function startCleanUp(directory: string): void {
  const kv = selfInvocation(CLEAN_UP_PERMISSIONS);
  const child = new Deno.Command(kv.command, {
    args: [...kv.args, "demo", CLEAN_UP_FLAG, directory],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
    // No Ctrl-C or hang-up of the terminal's reaches it: only its stdin's end.
    detached: true,
  }).spawn();
  // It outlives this process by design: nothing here waits for it.
  child.unref();
}

/**
 * The clean-up itself: waits for stdin to end, then for the servers with data in
 * `directory` to stop (at most {@link CLEAN_UP_WAIT_MS}), and removes `directory`.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await cleanUpAfterDemo("/tmp/kv-demo-1a2b3c"));
 * ```
 */
export async function cleanUpAfterDemo(directory: string): Promise<number> {
  await untilStdinCloses();
  const dataDirs = await serverDirectories(directory);
  const deadline = Date.now() + CLEAN_UP_WAIT_MS;
  for (const dataDir of dataDirs) await untilUnlocked(dataDir, deadline);
  try {
    await Deno.remove(directory, { recursive: true });
  } catch (error) {
    // The demo removed it itself: it ended normally.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return 0;
}

/**
 * The servers' data directories in `directory`; none when it is gone. Anything else than
 * what the demo makes (a symbolic link, even as `directory` itself, or another name) is a
 * UserError that leaves it all as it is: the name alone does not prove the demo made it
 * (`--clean-up ~/src/kv-demo-app`), and a link's target is not the demo's to lock or remove.
 */
async function serverDirectories(directory: string): Promise<string[]> {
  const refuse = (why: string) =>
    new UserError(
      `kv demo: ${CLEAN_UP_FLAG} leaves ${directory} as it is: ${why}, which kv demo never makes`,
    );
  try {
    if ((await Deno.lstat(directory)).isSymlink) throw refuse("it is a symbolic link");
    const found: string[] = [];
    for await (const entry of Deno.readDir(directory)) {
      if (entry.isDirectory && SERVER_DIRECTORY_NAME.test(entry.name)) {
        found.push(`${directory}/${entry.name}`);
      } else if (!(entry.isFile && entry.name === DEMO_DATASET_FILE)) {
        throw refuse(`it holds ${entry.name}`);
      }
    }
    return found;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * Resolves once no process holds the lock on `dataDir` (or it is gone), or at `deadline`.
 * The holder, once found, is sent SIGCONT: a server frozen with `\demo hang` would
 * otherwise never see its stdin end.
 */
async function untilUnlocked(dataDir: string, deadline: number): Promise<void> {
  let resumed = false;
  while (Date.now() < deadline) {
    let lock: DirLock | undefined;
    try {
      lock = await DirLock.tryAcquire(dataDir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    if (lock !== undefined) return lock.release();
    if (!resumed) resumed = await resume(dataDir);
    await new Promise((resolve) => setTimeout(resolve, CLEAN_UP_POLL_MS));
  }
}

/** Sends SIGCONT to the process that wrote its pid in `dataDir`'s lock; whether it could. */
async function resume(dataDir: string): Promise<boolean> {
  const pid = await DirLock.holderPid(dataDir);
  if (pid === undefined) return false;
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (error) {
    // Gone already, between the lock's check and now: nothing to resume.
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}
