/**
 * An exclusive lock on a data directory, so two kv servers never write one
 * log. It is an `flock` on the file `LOCK` inside the directory: the kernel
 * drops it when the holder's file is closed or its process dies, even by
 * `kill -9`, so a crash never leaves a stale lock that needs manual cleanup.
 * The file itself stays.
 *
 * Its content has two parts, rewritten in place, never truncated, so that
 * rewriting the first cannot lose the second, and a start on a full disk can
 * still write them (the bytes are allocated once):
 *
 * - bytes 0..{@link PID_FIELD_BYTES}: the holder's pid (for messages) and the
 *   time of the write, space-padded, rewritten with every write of the file;
 * - the rest, up to {@link LOCK_FILE_BYTES}: the run record, a line the
 *   store keeps there (see run_record.ts): how the last run on this
 *   directory began or ended. It lives in LOCK because LOCK is the one file
 *   every start writes already.
 *
 * The time in the first part tells a copy: a program that writes the file
 * (`cp`, `rsync`, `tar` putting back a backup) sets its change time (ctime),
 * which no program can set back, to when it wrote, later than the time kv
 * wrote into it ({@link DirLock.writtenByOther}).
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
import { invariant } from "../base/invariant.ts";
import { DATA_FILE_MODE, writeAll } from "./storage_log.ts";

/** Name of the lock file inside a data directory. */
export const LOCK_FILE_NAME = "LOCK";

/**
 * Bytes of the lock file's pid field: the pid, a space, the time of the write in ms since
 * the epoch, spaces, a newline (a pid has at most 7 digits, the time 13).
 */
export const PID_FIELD_BYTES = 32;

/**
 * How much later than the time kv wrote into the lock file its change time may be, in ms,
 * before the file counts as written by another program: the change time is read in whole
 * seconds, and the write itself may wait a few behind a busy disk.
 */
export const LOCK_WRITE_SLACK_MS = 10_000;

/**
 * Size of a lock file holding a run record: the pid field, then the record's line padded
 * with spaces. Within one file-system block, so writing it never needs a new one.
 */
export const LOCK_FILE_BYTES = 1024;

/** Longest run record line {@link DirLock.writeRecord} takes (the newline excluded). */
export const MAX_RECORD_CHARS = LOCK_FILE_BYTES - PID_FIELD_BYTES - 1;

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
  readonly #record: string | undefined;
  readonly #writtenByOther: boolean;
  readonly #ofOlderKv: boolean;
  #released = false;

  private constructor(
    file: Deno.FsFile,
    dir: string,
    record: string | undefined,
    found: { writtenByOther: boolean; ofOlderKv: boolean },
  ) {
    this.#file = file;
    this.#dir = dir;
    this.#record = record;
    this.#writtenByOther = found.writtenByOther;
    this.#ofOlderKv = found.ofOlderKv;
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
      // Before this process writes it: its change time is the last writer's.
      const changedAt = (await file.stat()).ctime?.getTime();
      const content = await readPrefix(file, LOCK_FILE_BYTES);
      const text = new TextDecoder().decode(content);
      const writtenAt = Number(/^\d+ (\d+) /.exec(text)?.[1]);
      const writtenByOther = changedAt !== undefined && changedAt > writtenAt + LOCK_WRITE_SLACK_MS;
      // What a kv from before run records left: it truncated the file to its pid.
      const ofOlderKv = /^\d+\n$/.test(text);
      // Only the pid field: the run record after it is the last run's, for the store to judge.
      // Found written by another, it keeps kv's last time, and so the sign, until the store
      // has recorded what it judged (writeRecord): a start that dies before that (killed in
      // a long recovery) would otherwise leave the next start a lock kv wrote just now.
      await file.seek(0, Deno.SeekMode.Start);
      await writeAll(
        file,
        new TextEncoder().encode(pidField(writtenByOther ? writtenAt : undefined)),
      );
      return new DirLock(file, dir, recordIn(content), { writtenByOther, ofOlderKv });
    } catch (error) {
      file.close();
      throw error;
    }
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
        const field = await readPrefix(file, PID_FIELD_BYTES);
        const pid = Number.parseInt(new TextDecoder().decode(field), 10);
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

  /**
   * The run record the lock file held when acquired (the last run's), or undefined when it
   * held none: a new directory, or one last locked by a kv from before run records.
   */
  get record(): string | undefined {
    return this.#record;
  }

  /**
   * True when, at acquire, the lock file had been written (changed) more than
   * {@link LOCK_WRITE_SLACK_MS} after kv last wrote into it: another program wrote it since
   * — a copy put over it, or one made anew elsewhere. False when nothing tells (a file
   * written by a kv from before the time in the pid field, or no change time). The acquire
   * leaves the sign in the file until {@link writeRecord}, so that the next acquire finds it
   * too when this holder dies before recording what it made of it.
   */
  get writtenByOther(): boolean {
    return this.#writtenByOther;
  }

  /**
   * True when, at acquire, the lock file held a pid alone, as a kv from before run records
   * leaves it; false when it was missing or empty, or held this kv's pid field (a pid and a
   * time, with a run record or not).
   */
  get ofOlderKv(): boolean {
    return this.#ofOlderKv;
  }

  /**
   * Replaces the run record in the lock file by `line` (at most {@link MAX_RECORD_CHARS},
   * no newline), in place, and resolves once it is on disk (fsync).
   *
   * @example
   * ```ts
   * await lock.writeRecord('{"run":"open"}');
   * ```
   */
  async writeRecord(line: string): Promise<void> {
    invariant(!this.#released, "a released lock writes nothing");
    invariant(
      line.length <= MAX_RECORD_CHARS && !line.includes("\n") && /^[\x20-\x7e]*$/.test(line),
      "a run record is one line of printable ASCII that fits the lock file",
    );
    // The pid field too, with the time of this write: see writtenByOther.
    const content = `${pidField()}${line.padEnd(MAX_RECORD_CHARS)}\n`;
    await this.#file.seek(0, Deno.SeekMode.Start);
    await writeAll(this.#file, new TextEncoder().encode(content));
    await this.#file.sync();
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

/**
 * The pid field: this process's pid and the time of the write, padded (see PID_FIELD_BYTES);
 * `writtenAt` (ms) stands for the time when given.
 */
function pidField(writtenAt = Date.now()): string {
  return `${`${Deno.pid} ${writtenAt}`.padEnd(PID_FIELD_BYTES - 1)}\n`;
}

/** Up to `maxBytes` from the start of `file` (fewer when it is shorter). */
async function readPrefix(file: Deno.FsFile, maxBytes: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(maxBytes);
  let filled = 0;
  while (filled < maxBytes) {
    const count = await file.read(buffer.subarray(filled));
    if (count === null) break;
    filled += count;
  }
  return buffer.subarray(0, filled);
}

/**
 * The run record in a lock file's `content`: what follows the pid field, trailing spaces
 * and newline dropped; undefined when nothing does (an older kv wrote the pid alone).
 */
function recordIn(content: Uint8Array): string | undefined {
  if (content.length <= PID_FIELD_BYTES) return undefined;
  const text = new TextDecoder().decode(content.subarray(PID_FIELD_BYTES)).trimEnd();
  return text === "" ? undefined : text;
}
