/**
 * An exclusive lock on a data directory, so two kv servers never write one
 * log. It is an `flock` on the file `LOCK` inside the directory: the kernel
 * drops it when the holder's file is closed or its process dies, even by
 * `kill -9`, so a crash never leaves a stale lock that needs manual cleanup.
 * The file itself stays; its content (the holder's pid) is for messages only.
 *
 * `flock` locks belong to an open file, so a second acquire of the same
 * directory fails inside one process too.
 *
 * @example
 * ```ts
 * import { DirLock } from "./dir_lock.ts";
 * const lock = await DirLock.tryAcquire("/tmp/kv");
 * if (lock === undefined) throw new Error("another process uses /tmp/kv");
 * lock.release();
 * ```
 * @module
 */
import { DATA_FILE_MODE } from "./storage_log.ts";

/** Name of the lock file inside a data directory. */
export const LOCK_FILE_NAME = "LOCK";

/** Longest lock file content read back for a message (a pid and a newline fit easily). */
const MAX_LOCK_CONTENT_BYTES = 32;

/**
 * A held lock on a directory; {@link release} it when done, or exit.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const lock = await DirLock.tryAcquire(dir); // a DirLock
 * await DirLock.tryAcquire(dir); // undefined: held, even within this process
 * await DirLock.holderPid(dir); // Deno.pid
 * lock?.release();
 * await DirLock.tryAcquire(dir); // a DirLock again
 * ```
 */
export class DirLock {
  readonly #file: Deno.FsFile;
  readonly #dir: string;
  #released = false;

  private constructor(file: Deno.FsFile, dir: string) {
    this.#file = file;
    this.#dir = dir;
  }

  /**
   * Locks `dir` (which must exist) without waiting. Returns undefined when
   * another open file, in this process or another, holds the lock.
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv");
   * ```
   */
  static async tryAcquire(dir: string): Promise<DirLock | undefined> {
    const file = await Deno.open(`${dir}/${LOCK_FILE_NAME}`, {
      read: true,
      write: true,
      create: true,
      mode: DATA_FILE_MODE,
    });
    try {
      if (!await file.tryLock(true)) {
        file.close();
        return undefined;
      }
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch (error) {
      file.close();
      throw error;
    }
    return new DirLock(file, dir);
  }

  /**
   * The pid the current holder wrote into the lock file, for error messages;
   * undefined when unreadable. Not proof that the process still runs.
   *
   * @example
   * ```ts
   * const pid = await DirLock.holderPid("/tmp/kv"); // 4242
   * ```
   */
  static async holderPid(dir: string): Promise<number | undefined> {
    try {
      const file = await Deno.open(`${dir}/${LOCK_FILE_NAME}`, { read: true });
      try {
        const buffer = new Uint8Array(MAX_LOCK_CONTENT_BYTES);
        const count = await file.read(buffer) ?? 0;
        const pid = Number.parseInt(new TextDecoder().decode(buffer.subarray(0, count)), 10);
        return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
      } finally {
        file.close();
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** The locked directory. */
  get dir(): string {
    return this.#dir;
  }

  /** Releases the lock; later calls do nothing. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    // Unlock first: close drops the flock only once the runtime lets go of its last
    // reference to the file, and a store reopened at once (seen under load in
    // store_versions_test) must not find its own directory still locked.
    try {
      this.#file.unlockSync();
    } finally {
      this.#file.close();
    }
  }
}
