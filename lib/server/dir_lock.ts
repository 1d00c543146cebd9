/**
 * An exclusive lock on a data directory, so two kv servers never write one
 * log. It is two `flock`s, taken in this order: one on the directory itself,
 * one on the file `LOCK` inside it. The kernel drops them when the holder's
 * files are closed or its process dies, even by `kill -9`, so a crash never
 * leaves a stale lock that needs manual cleanup. The file itself stays.
 *
 * The directory's lock is the one that cannot be lost: `LOCK` can be deleted
 * under a running server (operators and cleanup scripts delete "stale" lock
 * files), and a lock on a deleted file locks a file no one can open any more
 * — a new `LOCK` is a new file, free to lock, and a second server appended to
 * the first one's log. The directory is the same inode for as long as it is
 * the data dir. `LOCK`'s lock is kept for a kv from before, which locks that
 * file alone. The holder also checks every {@link LOCK_CHECK_INTERVAL_MS}
 * that `LOCK` is still its file, and writes it anew when it is not
 * ({@link DirLock.keepFile}): the pid in it names the holder to a refused
 * start, and the run record in it keeps its meaning for the next one.
 *
 * Its content has two parts, rewritten in place, never truncated, so that
 * rewriting the first cannot lose the second, and a start on a full disk can
 * still write them (the bytes are allocated once):
 *
 * - bytes 0..{@link PID_FIELD_BYTES}: the holder's pid (for messages) and the
 *   time of the write, then {@link STARTING_MARK} until the holder writes its own
 *   run record (the record after it is still the last run's), space-padded,
 *   rewritten with every write of the file;
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
import { describeFsError, isFsError } from "../base/fs_error.ts";
import { DATA_FILE_MODE } from "./storage_log.ts";
import { writeAll } from "../base/bytes.ts";

/** Name of the lock file inside a data directory. */
export const LOCK_FILE_NAME = "LOCK";

/**
 * Bytes of the lock file's pid field: the pid, a space, the time of the write in ms since
 * the epoch, spaces, a newline (a pid has at most 7 digits, the time 13).
 */
export const PID_FIELD_BYTES = 32;

/**
 * The word after the time in the pid field while its holder has written no run record yet
 * (a start recovering): the record that follows is the last run's, and a `clean` one there
 * says nothing of the holder. Without it (a stop's record, written with the pid field) a
 * `clean` record under a held lock says the holder is no kv server.
 */
export const STARTING_MARK = "starting";

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
 * How often a holder checks that `LOCK` is still its file ({@link DirLock.keepFile}), in
 * ms: four `stat` calls, nothing written unless it is not. A refused start names no pid
 * until then.
 */
export const LOCK_CHECK_INTERVAL_MS = 1_000;

/** What {@link DirLock.tryAcquire} takes; every field is optional. */
export interface DirLockOptions {
  /**
   * Told, in one line, when the holder finds `LOCK` deleted or replaced and writes it anew,
   * or cannot (then once until it can). Default: printed on stderr after `kv warning: `.
   */
  onWarning?: (message: string) => void;
  /**
   * Told, in one line, when the holder finds the dir's name no longer names the dir it
   * locked (deleted, moved or replaced), once until it does again. Default: `onWarning`.
   */
  onDirLost?: (message: string) => void;
}

/**
 * The data directory's `LOCK` is something kv cannot use as its lock file (a directory,
 * a pipe); the message names it and what to do.
 *
 * @example
 * ```ts
 * await Deno.mkdir("/tmp/kv/LOCK");
 * await DirLock.tryAcquire("/tmp/kv");
 * // throws LockFileError: "/tmp/kv/LOCK should be kv's lock file but is a directory; …"
 * ```
 */
export class LockFileError extends Error {
  /** What is wrong with it, as `is a directory`. */
  readonly problem: string;

  /** The error for the lock file at `path`, which `problem` says is no file kv can lock. */
  constructor(path: string, problem: string) {
    super(
      `${path} should be kv's lock file but ${problem}; remove it (kv makes the file itself) ` +
        `and start again`,
    );
    this.name = "LockFileError";
    this.problem = problem;
  }
}

/** What {@link DirLock}'s constructor keeps of an acquire. */
interface Acquired {
  dirFile: Deno.FsFile;
  file: Deno.FsFile;
  dir: string;
  found: LockContent;
  onWarning: (message: string) => void;
  onDirLost: (message: string) => void;
}

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
  readonly #dirFile: Deno.FsFile;
  /** The lock file this holder has open and locked: a new one once {@link keepFile} wrote it. */
  #file: Deno.FsFile;
  readonly #dir: string;
  readonly #found: LockContent;
  readonly #onWarning: (message: string) => void;
  readonly #onDirLost: (message: string) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  /** What follows the pid field in the lock file, as this holder last wrote (or found) it. */
  #recordPart: Uint8Array;
  /** What followed the pid field when acquired: the last run's record. */
  readonly #foundRecordPart: Uint8Array;
  /** The time the pid field keeps until the first {@link writeRecord}: see writtenByOther. */
  #keptTime: number | undefined;
  /** A {@link writeRecord} is under way on the open file: {@link keepFile} waits its turn. */
  #writing = false;
  /** A warning that LOCK cannot be kept was given, and LOCK has not been kept since. */
  #warnedCannotKeep = false;
  #released = false;

  private constructor(acquired: Acquired) {
    this.#dirFile = acquired.dirFile;
    this.#file = acquired.file;
    this.#dir = acquired.dir;
    this.#found = acquired.found;
    this.#onWarning = acquired.onWarning;
    this.#onDirLost = acquired.onDirLost;
    this.#recordPart = acquired.found.content.slice(PID_FIELD_BYTES);
    this.#foundRecordPart = this.#recordPart;
    this.#keptTime = acquired.found.writtenByOther ? acquired.found.writtenAt : undefined;
    this.#timer = setInterval(() => this.keepFile(), LOCK_CHECK_INTERVAL_MS);
    // Checking never keeps a process alive: release() or the exit ends it.
    Deno.unrefTimer(this.#timer);
  }

  /**
   * Locks `dir` (which must exist) without waiting. Returns undefined when
   * another open file, in this process or another, holds the lock. Throws a
   * {@link LockFileError} when `LOCK` in it is not a file.
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv", { onWarning: console.warn });
   * ```
   */
  static async tryAcquire(dir: string, options: DirLockOptions = {}): Promise<DirLock | undefined> {
    const dirFile = await Deno.open(dir, { read: true });
    let file: Deno.FsFile | undefined;
    let lock: DirLock | undefined;
    try {
      // The directory first: a holder keeps it whatever becomes of LOCK (see the module).
      if (!await dirFile.tryLock(true)) return undefined;
      file = openLockFile(lockPath(dir));
      // A kv from before locks LOCK alone.
      if (!file.tryLockSync(true)) return undefined;
      const found = await readLockContent(file);
      // Only the pid field: the run record after it is the last run's, for the store to judge.
      // Found written by another, it keeps kv's last time, and so the sign, until the store
      // has recorded what it judged (writeRecord): a start that dies before that (killed in
      // a long recovery) would otherwise leave the next start a lock kv wrote just now.
      await file.seek(0, Deno.SeekMode.Start);
      const writtenAt = found.writtenByOther ? found.writtenAt : undefined;
      await writeAll(file, new TextEncoder().encode(pidField(writtenAt, true)));
      const onWarning = options.onWarning ??
        ((message: string) => console.error(`kv warning: ${message}`));
      const onDirLost = options.onDirLost ?? onWarning;
      lock = new DirLock({ dirFile, file, dir, found, onWarning, onDirLost });
      return lock;
    } finally {
      if (lock === undefined) {
        if (file !== undefined) letGo(file);
        letGo(dirFile);
      }
    }
  }

  /**
   * Whether another open file, in this process or another, holds `dir`'s lock: the test
   * {@link tryAcquire} makes, without writing anything or making `LOCK` (each lock is taken
   * and let go at once, so an acquire racing this one may be refused). False when `dir` or
   * its `LOCK` cannot be opened (missing, not a directory): nothing holds them.
   *
   * @example
   * ```ts
   * const dir = await Deno.makeTempDir();
   * const lock = await DirLock.tryAcquire(dir);
   * await DirLock.isHeld(dir); // true
   * lock?.release();
   * await DirLock.isHeld(dir); // false
   * ```
   */
  static async isHeld(dir: string): Promise<boolean> {
    // A kv from before holds LOCK alone: its file is tried too, as tryAcquire does; opened
    // for writing as well (never made, never written), as a pipe at its name would
    // otherwise hold a read-only open.
    const opens = [{ path: dir, write: false }, { path: lockPath(dir), write: true }];
    for (const { path, write } of opens) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write });
      } catch (error) {
        if (isFsError(error)) return false;
        throw error;
      }
      let free: boolean;
      try {
        free = await file.tryLock(true);
      } catch (error) {
        file.close();
        throw error;
      }
      if (!free) {
        file.close();
        return true;
      }
      letGo(file);
    }
    return false;
  }

  /**
   * The pid the current holder wrote into the lock file, for error messages;
   * undefined when unreadable (missing: deleted under its holder, which writes it
   * anew within {@link LOCK_CHECK_INTERVAL_MS}; a directory). Not proof that the
   * process still runs.
   *
   * @example
   * ```ts
   * const pid = await DirLock.holderPid("/tmp/kv"); // 4242
   * ```
   */
  static async holderPid(dir: string): Promise<number | undefined> {
    const content = await lockFileContent(dir);
    if (content === undefined) return undefined;
    const field = content.subarray(0, PID_FIELD_BYTES);
    const pid = Number.parseInt(new TextDecoder().decode(field), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  }

  /**
   * The run record the lock file holds now (run_record.ts), for error messages: the current
   * holder's, or, when the holder wrote none, the last run's; undefined when it holds none
   * or cannot be read.
   *
   * @example
   * ```ts
   * const record = await DirLock.lockRecord("/tmp/kv"); // '{"format":1,"run":"clean",…} 1a2b3c4d'
   * ```
   */
  static async lockRecord(dir: string): Promise<string | undefined> {
    const content = await lockFileContent(dir);
    return content === undefined ? undefined : recordIn(content);
  }

  /**
   * Whether the lock file's holder has written no run record yet ({@link STARTING_MARK}):
   * a kv server starting, the record in the file still the last run's.
   *
   * @example
   * ```ts
   * await DirLock.holderStarting("/tmp/kv"); // false once its server recorded its run
   * ```
   */
  static async holderStarting(dir: string): Promise<boolean> {
    const content = await lockFileContent(dir);
    if (content === undefined) return false;
    const field = new TextDecoder().decode(content.subarray(0, PID_FIELD_BYTES));
    return field.split(/\s+/)[2] === STARTING_MARK;
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
    return recordIn(this.#found.content);
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
    return this.#found.writtenByOther;
  }

  /**
   * True when, at acquire, the lock file held a pid alone, as a kv from before run records
   * leaves it; false when it was missing or empty, or held this kv's pid field (a pid and a
   * time, with a run record or not).
   */
  get ofOlderKv(): boolean {
    return this.#found.ofOlderKv;
  }

  /**
   * Replaces the run record in the lock file by `line` (at most {@link MAX_RECORD_CHARS},
   * no newline), in place, and resolves once it is on disk (fsync). Checks first that
   * `LOCK` is still its file ({@link keepFile}).
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv");
   * await lock?.writeRecord('{"run":"open"}');
   * ```
   */
  async writeRecord(line: string): Promise<void> {
    invariant(!this.#released, "a released lock writes nothing");
    invariant(
      line.length <= MAX_RECORD_CHARS && !line.includes("\n") && /^[\x20-\x7e]*$/.test(line),
      "a run record is one line of printable ASCII that fits the lock file",
    );
    // LOCK deleted since the last check: the record goes to the file at its name, not to
    // the one no start can read (a clean stop within that second used to be judged unrepaired).
    this.keepFile();
    const encoder = new TextEncoder();
    this.#recordPart = encoder.encode(`${line.padEnd(MAX_RECORD_CHARS)}\n`);
    this.#keptTime = undefined;
    // The pid field too, with the time of this write: see writtenByOther.
    const content = concat(encoder.encode(pidField()), this.#recordPart);
    this.#writing = true;
    try {
      await this.#file.seek(0, Deno.SeekMode.Start);
      await writeAll(this.#file, content);
      await this.#file.sync();
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Checks that `LOCK` in the directory is still the file this holder has locked, and when
   * it is not — deleted, or replaced by another — writes it anew, locked, with this
   * process's pid and the run record the old one held, and warns. A holder calls it every
   * {@link LOCK_CHECK_INTERVAL_MS}. Synchronous, so that nothing of it is under way when
   * the lock is released; a 1 KB write, not fsynced: a `LOCK` a power loss takes makes the
   * next start distrust the dir (run_record.ts), never trust it.
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv");
   * await Deno.remove("/tmp/kv/LOCK");
   * lock?.keepFile(); // LOCK is back, holding this pid; onWarning told so
   * ```
   */
  keepFile(): void {
    if (this.#released || this.#writing) return;
    const path = lockPath(this.#dir);
    try {
      // Not a LOCK in whatever now has the dir's name: a server started on it holds that.
      if (!this.namesHeldDir()) {
        return this.#warnCannotKeep(
          `data dir ${this.#dir} was deleted, moved or replaced while this server held it`,
          this.#onDirLost,
        );
      }
      if (!sameFile(infoIfAny(path), this.#file.statSync())) {
        this.#replaceFile(path);
        this.#onWarning(
          `${path} was deleted or replaced while this server held the data dir; wrote it ` +
            `anew (pid ${Deno.pid}, the run record kept). Leave LOCK in place: it is never ` +
            `stale (its lock ends with the process holding it), and deleting it unlocks nothing`,
        );
      }
      this.#warnedCannotKeep = false;
    } catch (error) {
      if (!(error instanceof LockFileError) && !isFsError(error)) throw error;
      const reason = error instanceof LockFileError
        ? `it ${error.problem}; remove it, and this server writes it anew`
        : describeFsError(error);
      this.#warnCannotKeep(
        `${path} was deleted or replaced while this server held the data dir, and cannot ` +
          `be written anew: ${reason}`,
      );
    }
  }

  /**
   * Whether the data dir's name still names the directory this holder locked: false once
   * it was deleted, moved or replaced, when what is made or removed by that name is no
   * longer in the dir this holder's files are in.
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv");
   * await Deno.rename("/tmp/kv", "/tmp/kv-moved");
   * lock?.namesHeldDir(); // false
   * ```
   */
  namesHeldDir(): boolean {
    let found: Deno.FileInfo | undefined;
    try {
      found = infoIfAny(this.#dir);
    } catch (error) {
      // A part of the name is now a file, or links in a loop: no dir at all has the name
      // (a parent moved away and a file made in its place).
      if (
        error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.FilesystemLoop
      ) {
        return false;
      }
      throw error;
    }
    return sameFile(found, this.#dirFile.statSync());
  }

  /**
   * Tells `message` (through `tell`, by default onWarning) unless a warning that LOCK
   * cannot be kept was told since it last was.
   */
  #warnCannotKeep(message: string, tell = this.#onWarning): void {
    if (this.#warnedCannotKeep) return;
    this.#warnedCannotKeep = true;
    tell(message);
  }

  /** Makes `path` this holder's lock file: opened, locked, written; the old one let go. */
  #replaceFile(path: string): void {
    const file = openLockFile(path);
    try {
      if (!file.tryLockSync(true)) {
        throw new LockFileError(path, "is locked by another process");
      }
      const starting = this.#recordPart === this.#foundRecordPart;
      const content = concat(
        new TextEncoder().encode(pidField(this.#keptTime, starting)),
        this.#recordPart,
      );
      file.seekSync(0, Deno.SeekMode.Start);
      for (let written = 0; written < content.length;) {
        written += file.writeSync(content.subarray(written));
      }
      // What a file put in its place held beyond kv's bytes would read as a record.
      file.truncateSync(content.length);
    } catch (error) {
      letGo(file);
      throw error;
    }
    letGo(this.#file);
    this.#file = file;
  }

  /**
   * Releases the lock; later calls do nothing.
   *
   * @example
   * ```ts
   * const lock = await DirLock.tryAcquire("/tmp/kv");
   * lock?.release();
   * await DirLock.tryAcquire("/tmp/kv"); // a DirLock: the directory is free again
   * ```
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    // LOCK's lock before the directory's, the reverse of acquiring them: a contender
    // that gets the directory then finds LOCK free too.
    try {
      letGo(this.#file);
    } finally {
      letGo(this.#dirFile);
    }
  }
}

/** What an acquire found in the lock file, before it wrote its pid field. */
interface LockContent {
  /** Up to {@link LOCK_FILE_BYTES} from its start. */
  content: Uint8Array;
  /** The time kv wrote into it last, as its pid field says (NaN when it says none). */
  writtenAt: number;
  writtenByOther: boolean;
  ofOlderKv: boolean;
}

/** What `file`, a lock file just locked, holds: read before this process writes it. */
async function readLockContent(file: Deno.FsFile): Promise<LockContent> {
  // Before this process writes it: its change time is the last writer's.
  const changedAt = (await file.stat()).ctime?.getTime();
  const content = await readPrefix(file, LOCK_FILE_BYTES);
  const text = new TextDecoder().decode(content);
  const writtenAt = Number(/^\d+ (\d+) /.exec(text)?.[1]);
  const writtenByOther = changedAt !== undefined && changedAt > writtenAt + LOCK_WRITE_SLACK_MS;
  // What a kv from before run records left: it truncated the file to its pid.
  const ofOlderKv = /^\d+\n$/.test(text);
  return { content, writtenAt, writtenByOther, ofOlderKv };
}

/** The path of `dir`'s lock file. */
function lockPath(dir: string): string {
  return `${dir}/${LOCK_FILE_NAME}`;
}

/**
 * Opens (creating) the lock file at `path` for reading and writing; a {@link LockFileError}
 * when something else has its name. Synchronous: {@link DirLock.keepFile} is.
 */
function openLockFile(path: string): Deno.FsFile {
  // Opening follows a symbolic link, and writing LOCK then wrote (and truncated) whatever
  // it named: `ln -s log-0000000001.kvlog LOCK` cut the log to 1 KB. Nor may the open
  // create the file a dangling one names.
  const before = infoIfAny(path, "no links");
  if (before?.isSymlink) throw new LockFileError(path, "is a symbolic link");
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true, mode: DATA_FILE_MODE });
  } catch (error) {
    if (!(error instanceof Deno.errors.IsADirectory)) throw error;
    throw new LockFileError(path, "is a directory");
  }
  try {
    const opened = file.statSync();
    // A link put at the name between the lstat and the open: what was opened is not LOCK.
    if (
      before !== undefined && !sameFile(before, opened) || infoIfAny(path, "no links")?.isSymlink
    ) {
      throw new LockFileError(path, "is a symbolic link");
    }
    // A pipe would block the read of its content for ever.
    if (!opened.isFile) throw new LockFileError(path, "is not a regular file");
  } catch (error) {
    file.close();
    throw error;
  }
  return file;
}

/** Unlocks and closes `file`. Unlock first: close drops the flock only once the runtime lets
 * go of its last reference to the file, and a store reopened at once (seen under load in
 * store_versions_test) must not find its own directory still locked. */
function letGo(file: Deno.FsFile): void {
  try {
    file.unlockSync();
  } finally {
    file.close();
  }
}

/** What `path` is now, or undefined when nothing has that name; a symbolic link is followed
 * unless `follow` is `"no links"`, when what is told is the link itself. */
function infoIfAny(path: string, follow?: "no links"): Deno.FileInfo | undefined {
  try {
    return follow === "no links" ? Deno.lstatSync(path) : Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Whether `found` is the same file as `own` (the file system does not tell: assumed so). */
function sameFile(found: Deno.FileInfo | undefined, own: Deno.FileInfo): boolean {
  return found !== undefined && found.dev === own.dev && found.ino === own.ino;
}

/** `first` then `second`, in one array. */
function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}

/**
 * The pid field: this process's pid and the time of the write, padded (see PID_FIELD_BYTES);
 * `writtenAt` (ms) stands for the time when given; `starting`: {@link STARTING_MARK} after it.
 */
function pidField(writtenAt = Date.now(), starting = false): string {
  const field = `${Deno.pid} ${writtenAt}${starting ? ` ${STARTING_MARK}` : ""}`;
  return `${field.padEnd(PID_FIELD_BYTES - 1)}\n`;
}

/** Up to {@link LOCK_FILE_BYTES} of `dir`'s lock file; undefined when it cannot be read. */
async function lockFileContent(dir: string): Promise<Uint8Array | undefined> {
  try {
    const file = await Deno.open(lockPath(dir), { read: true });
    try {
      return await readPrefix(file, LOCK_FILE_BYTES);
    } finally {
      file.close();
    }
  } catch (error) {
    if (isFsError(error)) return undefined;
    throw error;
  }
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
