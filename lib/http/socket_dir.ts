/**
 * The private directory (0700, `kv-http-…` in the temporary directory) of `kv http`'s inner
 * servers' Unix sockets (lib/http/connection_guard.ts), and the removal of those a `kv http`
 * killed by SIGKILL (or a crash) left behind, which no code of its own could remove.
 *
 * Each directory's owner holds an `flock` on the file {@link SOCKET_DIR_LOCK} inside it for
 * as long as it lives: the kernel drops it when the owner's process dies, however it dies, so
 * a lock another process can take proves the owner gone — where a pid written down would not
 * (pids are reused). A new directory's lock file is made under another name and renamed to
 * {@link SOCKET_DIR_LOCK} once locked, so no one ever finds it unlocked while its owner lives.
 * A directory without that file (being made, or left by a `kv http` older than this rule)
 * proves nothing and is left as it is.
 *
 * @example
 * ```ts
 * import { SocketDir } from "./socket_dir.ts";
 * const dir = SocketDir.make(); // and stale ones of this user removed
 * const socketPath = `${dir.path}/0`;
 * dir.remove();
 * ```
 * @module
 */
import { dirname } from "node:path";

/** How the names of the sockets' directories begin; no other is ever removed. */
export const SOCKET_DIR_PREFIX = "kv-http-";

/** The file in a sockets' directory whose lock its owner holds while it lives. */
export const SOCKET_DIR_LOCK = "LOCK";

/** The lock file's name until it is locked (a socket's name is base 36: never either). */
const UNLOCKED_NAME = "LOCK.new";

/**
 * A sockets' directory this process owns, locked ({@link SOCKET_DIR_LOCK}) until
 * {@link SocketDir.remove} or the process's end.
 *
 * @example
 * ```ts
 * const dir = SocketDir.make();
 * Deno.listen({ transport: "unix", path: `${dir.path}/0` }).close();
 * dir.remove();
 * ```
 */
export class SocketDir {
  /** Its path, in the temporary directory. */
  readonly path: string;
  readonly #lock: Deno.FsFile;
  #removed = false;

  private constructor(path: string, lock: Deno.FsFile) {
    this.path = path;
    this.#lock = lock;
  }

  /**
   * Makes a new directory (0700: only this user, who could as well read the process's
   * memory, can reach the sockets in it), locks it, then removes every sockets' directory
   * beside it that {@link removeStaleSocketDirs} proves dead.
   *
   * @example
   * ```ts
   * const dir = SocketDir.make();
   * ```
   */
  static make(): SocketDir {
    const path = Deno.makeTempDirSync({ prefix: SOCKET_DIR_PREFIX });
    let lock: Deno.FsFile | undefined;
    try {
      lock = Deno.openSync(`${path}/${UNLOCKED_NAME}`, { write: true, createNew: true });
      // Never waits: no one else has this new file open.
      lock.lockSync(true);
      Deno.renameSync(`${path}/${UNLOCKED_NAME}`, `${path}/${SOCKET_DIR_LOCK}`);
    } catch (error) {
      lock?.close();
      Deno.removeSync(path, { recursive: true });
      throw error;
    }
    const dir = new SocketDir(path, lock);
    removeStaleSocketDirs(dirname(path), path);
    return dir;
  }

  /**
   * Removes it and everything in it, then lets its lock go; a second call does nothing.
   *
   * @example
   * ```ts
   * const dir = SocketDir.make();
   * dir.remove();
   * ```
   */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    try {
      Deno.removeSync(this.path, { recursive: true });
    } catch {
      // Removed already (by hand), or the process ends anyway: nothing to keep.
    }
    this.#lock.close();
  }
}

/**
 * Removes each directory in `parent` named {@link SOCKET_DIR_PREFIX}… but `except`, owned
 * by the user `except` belongs to, whose {@link SOCKET_DIR_LOCK} this process can lock (its
 * owner is dead); returns the paths removed. Anything else — a live owner's, another user's,
 * a symbolic link, one without the lock file — is left, and an error on one skips it: a
 * sweep never fails the start of the `kv http` that runs it.
 *
 * @example
 * ```ts
 * removeStaleSocketDirs("/tmp", "/tmp/kv-http-a1b2c3"); // ["/tmp/kv-http-9z8y7x"]
 * ```
 */
export function removeStaleSocketDirs(parent: string, except: string): string[] {
  const removed: string[] = [];
  try {
    const user = Deno.lstatSync(except).uid;
    for (const entry of Deno.readDirSync(parent)) {
      const path = `${parent}/${entry.name}`;
      if (!entry.name.startsWith(SOCKET_DIR_PREFIX) || path === except) continue;
      if (removeIfDead(path, user)) removed.push(path);
    }
  } catch {
    // A temporary directory this user may write to but not list: the rest stays.
  }
  return removed;
}

/** Removes `path`, when it is a directory of `user`'s whose lock is free; whether it did. */
function removeIfDead(path: string, user: number | null): boolean {
  let lock: Deno.FsFile | undefined;
  try {
    const info = Deno.lstatSync(path);
    if (!info.isDirectory || info.uid !== user) return false;
    // Never created here: a directory without it is being made, or proves nothing.
    lock = Deno.openSync(`${path}/${SOCKET_DIR_LOCK}`, { read: true });
    if (!lock.tryLockSync(true)) return false;
    // Held while removing, so another sweeper meanwhile finds it taken, then gone.
    Deno.removeSync(path, { recursive: true });
    return true;
  } catch {
    // Gone meanwhile (another sweeper), not this user's to enter, no lock file: left alone.
    return false;
  } finally {
    lock?.close();
  }
}
