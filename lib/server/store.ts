/**
 * The Store: a kv server's records in a {@link RecordTrie}, made durable by an
 * append-only log and periodic snapshots in a data directory.
 *
 * ## Durability
 *
 * Every effective mutation (a put that stored, a delete that removed) is
 * appended to an in-memory buffer; {@link Store.commit} writes everything
 * buffered with one `write` system call and the server acknowledges only after
 * it resolves. Once `write` returns, the bytes are in the OS page cache, which
 * survives the death of the process — even `kill -9` loses no acknowledged
 * write. Surviving power loss or a kernel crash also needs `fsync`, which the
 * `fsync` policy controls:
 *
 * - `"always"`: every commit fsyncs before it resolves. Nothing acknowledged is
 *   ever lost; each commit costs a disk flush (batching many puts per commit
 *   amortizes it).
 * - `"interval"` (default): a timer fsyncs every `fsyncIntervalMs` (1 s) when
 *   something was written since, as Redis's `appendfsync everysec`. A power
 *   loss can lose up to about one interval of acknowledged writes.
 * - `"never"`: the OS flushes when it likes (typically within 30 s on Linux).
 *
 * ## Data directory
 *
 * | file                        | what                                                        |
 * |-----------------------------|-------------------------------------------------------------|
 * | `LOCK`                      | flock held while a store is open (see dir_lock.ts), and the |
 * |                             | run record: how the last run began or ended (run_record.ts) |
 * | `log-GGGGGGGGGG.kvlog`      | storage log of generation G (format: storage_log.ts)        |
 * | `snapshot-GGGGGGGGGG.kvsnap`| all records as of the start of log G (format: snapshot.ts)  |
 * | `*.tmp`                     | a file being written; leftovers of a crash are deleted      |
 *
 * Generations are 10-digit, zero-padded decimals, so names sort numerically.
 * Recovery loads the newest snapshot S (none: an empty store and S = 1), then
 * replays logs S, S+1, … in order, which must all exist; the last log stays
 * open for appending. A torn or corrupt log tail is truncated with a warning
 * (see storage_log.ts); a damaged snapshot, a missing log, a foreign file or a
 * log's or snapshot's name on a symbolic link or a directory stops `open` with an
 * error instead, because guessing would lose records.
 *
 * ## Compaction
 *
 * When the current log exceeds `max(compactionMinLogBytes, compactionSnapshotRatio ×
 * last snapshot size)`, the store, with current log N:
 *
 * 1. creates log N+1 (header written to a temp file, fsync, rename, fsync dir);
 * 2. in one synchronous step, between two commits, directs all new mutations to
 *    log N+1 and freezes the trie ({@link RecordTrie.freeze}): the frozen view is
 *    exactly the state logs ≤ N produce — then flushes, fsyncs and closes log N;
 * 3. writes `snapshot-(N+1)` from the view (temp file, fsync, rename, fsync dir), a
 *    slice of at most SNAPSHOT_SLICE_MS at a time, serving requests between slices;
 * 4. deletes logs and snapshots older than N+1.
 *
 * A crash before step 3's rename leaves the old snapshot and every log after
 * it, so recovery replays logs up to N+1 as if no compaction had started; after
 * the rename recovery starts from snapshot N+1 and deletes what step 4 did not.
 * Restart time stays proportional to the data, not to the write history.
 *
 * Writes made during step 3 are neither lost nor applied twice: they change the trie
 * and go to log N+1 only, and the view reads every key as it was at the freeze — the
 * trie copies a key's old state before its first change ahead of the view's cursor
 * (see lib/trie/frozen.ts, which states and asserts the invariant). So snapshot N+1
 * plus log N+1 replays to exactly the records the server holds. Commits wait for the
 * fsync of log N once per compaction; closing the store abandons a snapshot under way
 * (the logs it would replace are all still there).
 *
 * ## Errors
 *
 * If a log write or fsync fails (disk full, read-only or immutable directory, an I/O
 * error), the store stops accepting mutations — every later change and commit is refused
 * with that error, reads go on — and says so once (`onWritableChange`). It retries after
 * {@link DISK_RETRY_INTERVAL_MS}, doubling the wait up to {@link DISK_RETRY_BACKOFF_CAP_MS}:
 * after a failed write, by appending again what the log could not write (any part that
 * was written is cut off first) and fsyncing; after a failed fsync — when what reached
 * the disk is unknown, since the kernel may have dropped the pages — by compacting: a new
 * log and a snapshot of everything in memory, fsynced. Once the try is durable the store
 * accepts writes again and says so once; memory then equals disk. The batch that met the
 * failure was refused to its client but had changed memory, and the retry stores it: its
 * outcome is unknown to the client, as after a timeout. Nothing refused later changes
 * anything. A data dir whose name no longer names the dir the store holds (deleted, moved
 * or replaced: {@link DataDirLostError}) is refused alike, until the dir is back. A store
 * that refused writes (or whose process was stopped, or machine suspended) longer than the
 * tombstone grace allows fails for good instead ({@link StaleDataDirError}, told to
 * `onStale`): it missed deletes the other replicas may have purged since (run_record.ts,
 * _The last-alive stamp_).
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 * import { int, type Value } from "../record/value.ts";
 * const store = await Store.open({ dataDir: "/tmp/kv-data", fsync: "interval" });
 * store.put("counter", int(1));
 * await store.commit(); // now survives kill -9
 * await store.close();
 * ```
 * @module
 */
import { checkEncodedKey, type KeysOptions } from "../record/key.ts";
import type { Value } from "../record/value.ts";
import type { PathMiss } from "../record/query_path.ts";
import { invariant } from "../base/invariant.ts";
import { ByteWriter } from "../base/bytes.ts";
import { DirLock } from "./dir_lock.ts";
import { readSnapshot, SNAPSHOT_FORMAT_VERSION, writeFrozenSnapshot } from "./snapshot.ts";
import {
  checkLogEntrySize,
  DATA_DIR_MODE,
  LOG_FORMAT_VERSION,
  LOG_HEADER_BYTES,
  type LogEntry,
  StorageLog,
} from "./storage_log.ts";
import {
  type EntryCursor,
  type FrozenView,
  type PutOptions,
  RecordTrie,
  type TombstoneOptions,
} from "../trie/mod.ts";
import type { PartitionDigestTable } from "../trie/partition_digests.ts";
import { readUtf8 } from "../base/utf8.ts";
import { writeValue } from "../record/value_codec.ts";
import { BASE_VERSION, compareVersions, readVersion, type Version } from "../record/version.ts";
import { NODE_STATE_FILE, NodeStateKeeper } from "./node_state.ts";
import {
  type AliveClock,
  type AliveReading,
  aliveStampInterval,
  changedUnderRun,
  currentBoot,
  decodeRunRecord,
  describeDowntime,
  encodeRunRecord,
  identityOf,
  judgeDowntime,
  judgeLastRun,
  lastWritten,
  runningDowntimeLimit,
  type RunRecord,
  type RunState,
  sizeOfIdentity,
  systemAliveClock,
  timeAway,
} from "./run_record.ts";
import { describeFsError, isFsError, withoutOsDetail } from "../base/fs_error.ts";

/** When a commit's writes are forced to stable storage; see the module docs. */
export type FsyncPolicy = "always" | "interval" | "never";

/** The fsync policy unless told otherwise. */
export const DEFAULT_FSYNC_POLICY: FsyncPolicy = "interval";

/** Period of the `"interval"` fsync timer unless told otherwise, in milliseconds. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1000;

/** Longest accepted fsync interval (one hour): longer risks far more than "interval" suggests. */
export const MAX_FSYNC_INTERVAL_MS = 60 * 60 * 1000;

/** A log smaller than this is never compacted unless told otherwise (64 MiB). */
export const DEFAULT_COMPACTION_MIN_LOG_BYTES = 64 * 1024 * 1024;

/** Compact when the log exceeds this multiple of the last snapshot's size, unless told otherwise. */
export const DEFAULT_COMPACTION_SNAPSHOT_RATIO = 2;

/** Largest compactionSnapshotRatio taken: past it a log is, in effect, never compacted. */
const MAX_COMPACTION_SNAPSHOT_RATIO = 1_000_000;

/** Wait after a failed compaction (say, a full disk) before trying again. */
export const COMPACTION_RETRY_DELAY_MS = 10_000;

/**
 * First wait, in ms, before a store that could not write its data dir tries again: soon,
 * since a full disk is often freed within seconds.
 */
export const DISK_RETRY_INTERVAL_MS = 250;

/**
 * Longest wait between two tries of a failed data dir, in ms: the wait doubles after each
 * failed try up to this, so a disk that stays full costs a try every few seconds.
 */
export const DISK_RETRY_BACKOFF_CAP_MS = 8_000;

/** Largest generation: it is a u32 in file headers. At one compaction a second, 136 years. */
export const MAX_GENERATION = 0xffff_ffff;

/**
 * How long a tombstone is kept unless told otherwise: 24 hours, as Cassandra's
 * `gc_grace_seconds`. A replica that missed a delete must receive it (or be
 * repaired) within this time, or an older copy it holds may come back.
 */
export const DEFAULT_TOMBSTONE_GRACE_MS = 24 * 60 * 60 * 1000;

/** Longest tombstone grace accepted: ten years. */
export const MAX_TOMBSTONE_GRACE_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/**
 * Most time between two purges of expired tombstones (one hour): a tombstone is
 * removed between its grace and its grace plus this (or plus the grace, when shorter).
 */
export const MAX_TOMBSTONE_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** Options for {@link Store.open}. */
export interface StoreOptions {
  /** Directory for the lock, logs and snapshots, created if missing. Absent: memory only. */
  dataDir?: string;
  /** When to fsync; default {@link DEFAULT_FSYNC_POLICY}. */
  fsync?: FsyncPolicy;
  /** Period of the `"interval"` fsync timer; default {@link DEFAULT_FSYNC_INTERVAL_MS}. */
  fsyncIntervalMs?: number;
  /** Compact no log smaller than this; default {@link DEFAULT_COMPACTION_MIN_LOG_BYTES}. */
  compactionMinLogBytes?: number;
  /**
   * Compact when the log exceeds this many times the last snapshot's size (and
   * `compactionMinLogBytes`); default {@link DEFAULT_COMPACTION_SNAPSHOT_RATIO}.
   */
  compactionSnapshotRatio?: number;
  /**
   * Keep a tombstone this long after its version's time, then purge it; default
   * {@link DEFAULT_TOMBSTONE_GRACE_MS}.
   */
  tombstoneGraceMs?: number;
  /**
   * Start unrepaired whatever the data dir's node state says (the dir may lack writes the
   * server acknowledged: a restored backup or snapshot), persisted until a repair marks it
   * repaired; default false. Ignored without `dataDir`: memory only is always unrepaired.
   */
  markUnrepaired?: boolean;
  /**
   * Start on a data dir whose last run was last alive longer ago than the tombstone grace
   * allows (run_record.ts), which is otherwise refused with a {@link StaleDataDirError}:
   * for a dir that is the only copy of its keys (k = 1, every replica lost). Its records
   * deleted meanwhile, whose tombstones the other replicas purged, come back. A running
   * store found out as long serves on too, with a warning ({@link onStale}). Default false.
   */
  keepStaleData?: boolean;
  /**
   * The TCP port the server will serve this dir on (its `-p`): a start on another port than
   * the one the last run's record keeps is unrepaired (run_record.ts); 0 or absent: not told
   * (`-p 0`), not judged. The record keeps a port once {@link Store.servesOn} says it.
   */
  port?: number;
  /**
   * The address the server will listen on, as a listen resolved its `-a` (`127.0.0.1`):
   * with {@link port}, a start on another address than the last run's is unrepaired too,
   * unless either is a wildcard (run_record.ts); absent: not judged.
   */
  address?: string;
  /**
   * Tells which boot of the machine's kernel this is, for the run record (run_record.ts):
   * default {@link currentBoot}. Tests give their own to play a restart of the machine.
   */
  boot?: () => Promise<string | undefined>;
  /**
   * The clocks a running store measures its time away by (run_record.ts, `timeAway`), and
   * whose wall clock its start judges the last run's stamp by: default
   * {@link systemAliveClock}, the uptime where it may be read. Tests give their own to play
   * a machine suspended, which stops `performance.now()` but not the uptime.
   */
  aliveClock?: AliveClock;
  /**
   * Called with problems found while running that do not stop the store (a
   * failed compaction, to be retried). Default: print to stderr.
   */
  onWarning?: (message: string) => void;
  /**
   * Told once when the data dir stops taking writes, with the error (the store then
   * refuses every change, and retries), and once, with undefined, when a retry made it
   * writable again. Default: print to stderr.
   */
  onWritableChange?: (failure: Error | undefined) => void;
  /**
   * Told once when the running store finds its data dir was out of the cluster longer than
   * the grace allows (run_record.ts, `runningDowntimeLimit`: its process stopped or frozen,
   * or its disk refusing writes, that long), with the error saying so: from then on it
   * refuses every change and stamps nothing, not even at close, so the next start refuses
   * the dir; a server stops. Not with {@link keepStaleData} or a recorded k = 1: those serve
   * on, with a warning. Default: print to stderr.
   */
  onStale?: (error: StaleDataDirError) => void;
}

/** What {@link Store.open} found and did while recovering. */
export interface RecoveryInfo {
  /** Records in the store once open. */
  recordCount: number;
  /** Tombstones in the store once open. */
  tombstoneCount: number;
  /** Time spent opening, in milliseconds. */
  recoveryMs: number;
  /** Bytes cut off torn or corrupt log tails. */
  truncatedBytes: number;
  /** What recovery repaired or cleaned up, one sentence each, for the operator. */
  warnings: string[];
  /**
   * Why the data dir may lack writes the server acknowledged, as the last run's record
   * tells (a power loss, a copy: see run_record.ts), a clause for the operator; the store
   * then starts unrepaired. Undefined when nothing says so.
   */
  suspectedLoss?: string;
}

/** What {@link Store.purge} did: removed the key, found nothing, or met a newer version. */
export type PurgeResult =
  | { readonly kind: "purged" }
  | { readonly kind: "absent" }
  | { readonly kind: "stale"; readonly version: Version };

/** Where a store's files stand, for STATS and tests. */
export interface StorageStats {
  /** Generation of the log being appended to; 0 in memory. */
  generation: number;
  /** Size of that log, unflushed entries excluded. */
  logBytes: number;
  /** Size of the newest snapshot; 0 if none. */
  snapshotBytes: number;
  /** Compactions completed since open. */
  compactionCount: number;
}

/**
 * The store could not write its log (disk full, read-only or immutable directory, an I/O
 * error): it refuses every change from then on; what it holds can still be read. The
 * server answers such a write READ_ONLY, with {@link describeReadOnly}'s words.
 *
 * @example
 * ```ts
 * const error = new StoreFailedError(new Error("No space left on device (os error 28)"));
 * error.message;
 * // "the server cannot write its data dir (No space left on device): it refuses writes and
 * // serves reads until it can; fix its disk and it resumes by itself"
 * ```
 */
export class StoreFailedError extends Error {
  /**
   * The error for a store that failed to write, `cause` the write's or fsync's error.
   *
   * @param cause the error of the failed write or fsync.
   */
  constructor(cause: Error) {
    super(describeReadOnly(cause), { cause });
    this.name = "StoreFailedError";
  }
}

/**
 * What a client is told when a server's data dir cannot be written (`failure`, the disk's
 * error): the server is up but read-only, and what its operator does about it — a client
 * retrying or waiting for it to come back would wait for nothing. A store out of the
 * cluster too long ({@link StaleDataDirError}) refuses writes for good, and says why.
 *
 * @example
 * ```ts
 * describeReadOnly(Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }));
 * // "the server cannot write its data dir (No space left on device): it refuses writes and
 * // serves reads until it can; free space on its disk and it resumes by itself"
 * ```
 */
export function describeReadOnly(failure: Error): string {
  // Not a disk to fix: no retry ends this one (a server stops on it).
  if (failure instanceof StaleDataDirError) {
    return `the server refuses every write: ${failure.message}`;
  }
  return `the server cannot write its data dir (${diskReason(failure)}): it refuses writes ` +
    `and serves reads until it can; ${diskRemedy(failure)} and it resumes by itself`;
}

/**
 * A failed write of the data dir other than the log's (the node state file), in a few
 * words with what to do.
 *
 * @example
 * ```ts
 * describeDiskFailure(Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }));
 * // "cannot write its data dir (No space left on device); free space on its disk"
 * ```
 */
export function describeDiskFailure(failure: Error): string {
  return `cannot write its data dir (${diskReason(failure)}); ${diskRemedy(failure)}`;
}

/**
 * The data dir's name no longer names the directory the store holds: it was deleted, moved
 * or replaced while the store ran. The store refuses writes until it does again: its log is
 * still open in the held dir, but a compaction makes and removes files by the dir's name,
 * and in another dir of that name (a new server's, a backup put back) it removed that dir's
 * logs for its own.
 *
 * @example
 * ```ts
 * new DataDirLostError("data dir d was deleted, moved or replaced while this server held it");
 * ```
 */
export class DataDirLostError extends Error {
  /** An error saying what became of the data dir. */
  constructor(message: string) {
    super(message);
    this.name = "DataDirLostError";
  }
}

function diskReason(failure: Error): string {
  return withoutOsDetail(failure.message.split("\n")[0]);
}

/** What the operator does about a disk error, by its errno. */
function diskRemedy(failure: Error): string {
  if (failure instanceof DataDirLostError) {
    return "put the dir back under its name (deleted: restart the server)";
  }
  const code = (failure as { code?: unknown }).code;
  if (code === "ENOSPC" || code === "EDQUOT") return "free space on its disk";
  if (code === "EROFS") return "remount its file system read-write";
  return "fix its disk";
}

/**
 * The data dir was out of the cluster longer than the tombstone grace allows (its last
 * run's last-alive stamp is older: run_record.ts), so {@link Store.open} refuses it before
 * recovery changes anything: its records deleted meanwhile, whose tombstones the other
 * replicas may have purged, would come back. The message names the dir, how long ago it was
 * last alive, the grace, and what to do; {@link StoreOptions.keepStaleData} overrides it.
 * Also the failure of a running store that found itself out as long
 * ({@link StoreOptions.onStale}).
 *
 * @example
 * ```ts
 * new StaleDataDirError("data dir d was last alive 2 days ago, longer than …");
 * ```
 */
export class StaleDataDirError extends Error {
  /** An error saying how long ago the data dir was last alive, and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "StaleDataDirError";
  }
}

/**
 * Another process (or another Store in this one) holds the data directory: two servers
 * appending to one log would corrupt it.
 *
 * @example
 * ```ts
 * const dataDir = await Deno.makeTempDir();
 * const store = await Store.open({ dataDir });
 * try {
 *   await Store.open({ dataDir });
 * } catch (error) {
 *   (error as StoreLockedError).message; // "data dir /tmp/… is in use by another kv server
 *   // (pid 4242); stop it or give this server its own --data-dir"
 * }
 * await store.close();
 * ```
 */
export class StoreLockedError extends Error {
  /** An error saying which data directory is in use, and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "StoreLockedError";
  }
}

/**
 * The {@link StoreLockedError} for `dir`, naming the pid its holder wrote. A lock file whose
 * record says its run stopped cleanly, and whose holder is no kv server starting (the record
 * still the last run's), names a server that let the lock go: the holder is another program
 * (a backup script's `flock`), and the pid, of a process gone or reused, sent the operator to
 * stop the wrong one.
 */
async function lockedError(dir: string): Promise<StoreLockedError> {
  const pid = await DirLock.holderPid(dir);
  const record = await DirLock.lockRecord(dir);
  const last = record === undefined ? undefined : decodeRunRecord(record);
  if (typeof last === "object" && last.run === "clean" && !await DirLock.holderStarting(dir)) {
    return new StoreLockedError(
      `data dir ${dir} is locked by a process other than a kv server (the last kv server on ` +
        `it${pid === undefined ? "" : `, pid ${pid},`} stopped cleanly and let it go); stop ` +
        `that process (fuser -v ${dir} ${dir}/LOCK names it) or give this server its own ` +
        `--data-dir`,
    );
  }
  return new StoreLockedError(
    `data dir ${dir} is in use by another kv server` + (pid === undefined ? "" : ` (pid ${pid})`) +
      `; stop it or give this server its own --data-dir`,
  );
}

/**
 * The {@link StoreLockedError} {@link Store.open} would throw for `dir`, found without
 * opening it, making it or writing anything in it; undefined when no process holds it
 * (see `DirLock.isHeld`). For a start refused before it opens its store (its port taken),
 * whose refusal this one says better when both hold: a second server given the same flags.
 *
 * @example
 * ```ts
 * const dataDir = await Deno.makeTempDir();
 * const store = await Store.open({ dataDir });
 * (await dataDirInUse(dataDir))?.message; // "data dir /tmp/… is in use by another kv server (pid …); …"
 * await store.close();
 * await dataDirInUse(dataDir); // undefined
 * ```
 */
export async function dataDirInUse(dir: string): Promise<StoreLockedError | undefined> {
  return await DirLock.isHeld(dir) ? await lockedError(dir) : undefined;
}

/**
 * The data directory is inconsistent in a way recovery cannot repair without losing
 * records, so the store does not open rather than serve part of its data.
 *
 * @example
 * ```ts ignore
 * // data/ holds snapshot-0000000003.kvsnap, log-0000000003.kvlog and log-0000000005.kvlog.
 * try {
 *   await Store.open({ dataDir: "data" });
 * } catch (error) {
 *   (error as StoreCorruptError).message; // "data dir data is missing log-0000000004.kvlog:
 *   // the records it held are lost; restore the file or move the data dir aside"
 * }
 * ```
 */
export class StoreCorruptError extends Error {
  /** An error saying what in the data directory is inconsistent. */
  constructor(message: string) {
    super(message);
    this.name = "StoreCorruptError";
  }
}

const LOG_NAME = /^log-(\d{10})\.kvlog$/;
const SNAPSHOT_NAME = /^snapshot-(\d{10})\.kvsnap$/;
const TEMPORARY_NAME = /^(log|snapshot)-\d{10}\.(kvlog|kvsnap)\.tmp$/;

function logName(generation: number): string {
  return `log-${String(generation).padStart(10, "0")}.kvlog`;
}

function snapshotName(generation: number): string {
  return `snapshot-${String(generation).padStart(10, "0")}.kvsnap`;
}

/** The files of a data directory, by generation. */
interface DirListing {
  logs: number[];
  snapshots: number[];
  /**
   * Temporary files' names, to remove; a symbolic link's too (the link goes, not what it
   * names): left, the next file of that name was written through it.
   */
  temporaries: string[];
  /**
   * A log's, snapshot's or temporary file's name on something other than a file (a
   * temporary's: other than a link), with what it is: recovery refuses it rather than skip
   * records it may hold (see {@link refuseNotFiles}).
   */
  notFiles: { name: string; kind: string }[];
}

async function listDataDir(dir: string): Promise<DirListing> {
  const listing: DirListing = { logs: [], snapshots: [], temporaries: [], notFiles: [] };
  for await (const entry of Deno.readDir(dir)) {
    const { name } = entry;
    if (TEMPORARY_NAME.test(name)) {
      if (entry.isFile || entry.isSymlink) listing.temporaries.push(name);
      else listing.notFiles.push({ name, kind: kindOf(entry) });
      continue;
    }
    const log = LOG_NAME.exec(name);
    const snapshot = SNAPSHOT_NAME.exec(name);
    if (!entry.isFile) {
      if (log || snapshot) listing.notFiles.push({ name, kind: kindOf(entry) });
    } else if (log) listing.logs.push(Number(log[1]));
    else if (snapshot) listing.snapshots.push(Number(snapshot[1]));
  }
  listing.logs.sort((a, b) => a - b);
  listing.snapshots.sort((a, b) => a - b);
  return listing;
}

/** What a directory entry that is not a file is, for a person. */
function kindOf(entry: Deno.DirEntry): string {
  if (entry.isSymlink) return "a symbolic link";
  if (entry.isDirectory) return "a directory";
  return "a special file";
}

/**
 * Throws a {@link StoreCorruptError} naming the first log's, snapshot's or temporary
 * file's name in `listing` on something other than a file. Skipped, its records were lost
 * without a word: a log moved to another disk and linked back (a full disk's quick fix)
 * left a trusted server serving the logs before it, appending to an older one. Followed,
 * it would be written through: kv renames, removes and fsyncs its files in the data dir
 * itself.
 */
function refuseNotFiles(dir: string, listing: DirListing): void {
  const [first] = listing.notFiles;
  if (first === undefined) return;
  throw new StoreCorruptError(
    `${dir}/${first.name} is ${first.kind}, not a file: kv reads and writes its logs and ` +
      `snapshots only as files in the data dir itself; put the file in its place and start again`,
  );
}

/**
 * Throws when `logs` (generations of `dir` from `first` on, ascending) skip one: the records
 * the missing log held are lost, and replaying past the gap would apply later writes without them.
 */
function refuseMissingLogs(dir: string, logs: readonly number[], first: number): void {
  logs.forEach((generation, index) => {
    if (generation !== first + index) {
      throw new StoreCorruptError(
        `data dir ${dir} is missing ${logName(first + index)}: the records it held ` +
          `are lost; restore the file or move the data dir aside`,
      );
    }
  });
}

/** A log or snapshot whose header says `said`, not the generation `named` in its name. */
function generationMismatch(path: string, said: number, named: number): StoreCorruptError {
  return new StoreCorruptError(
    `${path} says it is generation ${said}, not ${named}: renamed, or damaged; restore the ` +
      `file or move the data dir aside`,
  );
}

/**
 * The identity (run_record.ts) of each file recovery reads in `dir` — the newest snapshot
 * and the logs from its generation on — by name, full (size, modification and change time
 * too) but for the newest log, which a running server goes on writing; `full` adds
 * node-state.json and the newest log's full identity, what a clean stop records.
 */
async function fileIdentities(dir: string, full: boolean): Promise<Record<string, string>> {
  const listing = await listDataDir(dir);
  const newest = listing.snapshots.at(-1) ?? 0;
  const logs = listing.logs.filter((generation) => generation >= newest).map(logName);
  const names = [
    ...listing.snapshots.filter((generation) => generation === newest).map(snapshotName),
    ...logs,
  ];
  const identities: Record<string, string> = {};
  for (const name of full ? [...names, NODE_STATE_FILE] : names) {
    try {
      identities[name] = identityOf(
        await Deno.stat(`${dir}/${name}`),
        full || name !== logs.at(-1),
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return identities;
}

/**
 * Whether a data dir whose files are `files` (full identities, {@link fileIdentities}) may
 * hold a record or a tombstone: a snapshot, or a log longer than its header. A dir a server
 * started on and never wrote holds one log of its header alone, nothing a stale start could
 * bring back: refused as stale, it was to be emptied into the same state.
 */
function holdsEntries(files: Readonly<Record<string, string>>): boolean {
  return Object.entries(files).some(([name, identity]) => {
    if (!LOG_NAME.test(name)) return name !== NODE_STATE_FILE;
    // A short identity records no size: take it for one holding entries.
    return (sizeOfIdentity(identity) ?? Infinity) > LOG_HEADER_BYTES;
  });
}

/** The largest TCP port, for {@link StoreOptions.port}. */
const MAX_TCP_PORT = 65_535;

/** Throws a RangeError naming `name` unless `value` is a number from 0 to `max`. */
function checkInRange(name: string, value: number, max: number): void {
  if (!Number.isFinite(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be a number 0..${max}: ${value}`);
  }
}

/**
 * Records in memory, durable in a data directory when one is given. All
 * methods but {@link commit} and {@link close} are synchronous; mutations are
 * durable once a later `commit()` resolves.
 *
 * @example
 * ```ts
 * import { int, object } from "../record/value.ts";
 * const store = await Store.open(); // memory only
 * store.put("person1", object([["age", int(22)]]));
 * store.query(["person1", "age"]); // { kind: "int", value: 22 }
 * ```
 */
export class Store {
  readonly #trie = new RecordTrie();
  readonly #dataDir: string | undefined;
  readonly #fsync: FsyncPolicy;
  /** The port this start is judged by (StoreOptions.port); undefined when not told. */
  readonly #startPort: number | undefined;
  /** The address this start is judged by (StoreOptions.address); undefined when not told. */
  readonly #startAddress: string | undefined;
  /**
   * The port the run record keeps: the last run's until {@link Store.servesOn} tells this
   * run's, so that a start refused its port records no port it never served on.
   */
  #port: number | undefined;
  /** The address the run record keeps, with {@link #port}. */
  #address: string | undefined;
  readonly #compactionMinLogBytes: number;
  readonly #compactionSnapshotRatio: number;
  readonly #onWarning: (message: string) => void;
  readonly #onWritableChange: (failure: Error | undefined) => void;
  readonly #onStale: (error: StaleDataDirError) => void;
  /** Encodes values given to `put` for the log; reused to spare allocations. */
  readonly #scratch = new ByteWriter(4096);
  #recovery: RecoveryInfo = {
    recordCount: 0,
    tombstoneCount: 0,
    recoveryMs: 0,
    truncatedBytes: 0,
    warnings: [],
  };
  readonly #tombstoneGraceMs: number;
  #purgeTimer: ReturnType<typeof setInterval> | undefined;
  /** True when recovery read files of an older format: open rewrites them at once. */
  #upgrade = false;
  #lock: DirLock | undefined;
  #log: StorageLog | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Flushes run one after another on this chain; it never rejects. */
  #commitTail: Promise<void> = Promise.resolve();
  /** Tasks on the commit chain not yet settled (see {@link Store.settled}). */
  #chainTasks = 0;
  /** True when bytes were written but not yet fsynced (the "interval" timer's cue). */
  #unsynced = false;
  #syncing: Promise<void> | undefined;
  #compaction: Promise<void> | undefined;
  #compactionRetryAt = 0;
  #compactionCount = 0;
  #snapshotBytes = 0;
  #failure: Error | undefined;
  /**
   * The failure may have lost bytes the log had taken (a failed fsync, a log that could
   * not be closed): the retry must rewrite everything, not append.
   */
  #failureNeedsRewrite = false;
  /** The next try of a failed data dir; see {@link DISK_RETRY_INTERVAL_MS}. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Unrepaired flag and recorded k; see node_state.ts. */
  #nodeState: NodeStateKeeper = NodeStateKeeper.memory();
  /** The data dir held no log and no snapshot when opened. */
  #emptyAtStart = false;
  /** Recovery dropped or skipped damaged log bytes, or found a log missing. */
  #lostData = false;
  /** The boot this run is in, for its run record (see run_record.ts). */
  #boot: string | undefined;
  /** True once this run's record is written: compactions and close keep it true to the files. */
  #recording = false;
  /** The open run record this store last wrote: the files it writes to (see #recordRun). */
  #openRecord: RunRecord | undefined;
  /** Run records are written one after another on this chain; it never rejects. */
  #recordTail: Promise<void> = Promise.resolve();
  /** Restamps the open record's `alive` (see run_record.ts); cleared by close. */
  #aliveTimer: ReturnType<typeof setInterval> | undefined;
  /** A failed stamp was warned of, and none has succeeded since. */
  #warnedStampFailed = false;
  /** The clocks {@link #aliveAt} is read on ({@link StoreOptions.aliveClock}). */
  readonly #aliveClock: AliveClock;
  /**
   * The last moment the store was known alive — its process running, taking writes — by
   * the wall clock, the `alive` its run records keep, and by the kernel's elapsed time.
   */
  #aliveAt: AliveReading = { wallMs: 0, elapsedMs: 0 };
  /** {@link StoreOptions.keepStaleData}: a dir out too long serves on, with a warning. */
  readonly #keepStaleData: boolean;
  /** Aborted by close: a snapshot under way stops at its next slice. */
  readonly #closing = new AbortController();

  private constructor(options: StoreOptions) {
    this.#dataDir = options.dataDir;
    this.#fsync = options.fsync ?? DEFAULT_FSYNC_POLICY;
    if (!["always", "interval", "never"].includes(this.#fsync)) {
      throw new RangeError(`fsync must be always, interval or never: ${this.#fsync}`);
    }
    checkInRange("port", options.port ?? 0, MAX_TCP_PORT);
    this.#startPort = options.port === 0 ? undefined : options.port;
    this.#startAddress = this.#startPort === undefined ? undefined : options.address;
    this.#compactionMinLogBytes = options.compactionMinLogBytes ?? DEFAULT_COMPACTION_MIN_LOG_BYTES;
    this.#compactionSnapshotRatio = options.compactionSnapshotRatio ??
      DEFAULT_COMPACTION_SNAPSHOT_RATIO;
    checkInRange("compactionMinLogBytes", this.#compactionMinLogBytes, Number.MAX_SAFE_INTEGER);
    checkInRange(
      "compactionSnapshotRatio",
      this.#compactionSnapshotRatio,
      MAX_COMPACTION_SNAPSHOT_RATIO,
    );
    this.#onWarning = options.onWarning ??
      ((message) => console.error(`kv store warning: ${message}`));
    this.#onWritableChange = options.onWritableChange ??
      ((failure) => console.error(`kv store: ${describeWritable(failure)}`));
    this.#onStale = options.onStale ?? ((error) => console.error(`kv store: ${error.message}`));
    this.#keepStaleData = options.keepStaleData ?? false;
    this.#aliveClock = options.aliveClock ?? systemAliveClock();
    this.#tombstoneGraceMs = options.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS;
    checkInRange("tombstoneGraceMs", this.#tombstoneGraceMs, MAX_TOMBSTONE_GRACE_MS);
  }

  /**
   * Opens a store. With `dataDir`: creates the directory if needed, locks it
   * (throwing {@link StoreLockedError} if another store holds it), recovers the
   * records from the newest snapshot and the logs after it, and starts the
   * fsync timer. Without: an empty store in memory that never touches disk.
   *
   * @example
   * ```ts
   * const store = await Store.open({ dataDir: "data", fsync: "always" });
   * console.log(store.recovery.recordCount, store.recovery.warnings);
   * ```
   */
  static async open(options: StoreOptions = {}): Promise<Store> {
    const store = new Store(options);
    const dir = options.dataDir;
    if (dir === undefined) {
      store.#startPurgeTimer();
      return store;
    }
    const fsyncIntervalMs = options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
    checkInRange("fsyncIntervalMs", fsyncIntervalMs, MAX_FSYNC_INTERVAL_MS);
    const startedAt = performance.now();
    const lock = await store.#lockDir(dir);
    store.#lock = lock;
    try {
      await store.#openDir(dir, lock, options);
    } catch (error) {
      await store.#log?.close().catch(() => {/* the recovery error is the one to report */});
      lock.release();
      throw error;
    }
    store.#recovery.recordCount = store.#trie.recordCount;
    store.#recovery.tombstoneCount = store.#trie.tombstoneCount;
    store.#recovery.recoveryMs = performance.now() - startedAt;
    if (store.#fsync === "interval") {
      const timer = setInterval(() => store.#syncIfWritten(), fsyncIntervalMs);
      // A pending fsync must never keep a finished server alive; close() does the last one.
      Deno.unrefTimer(timer);
      store.#timer = timer;
    }
    store.#startPurgeTimer();
    store.#startAliveTimer();
    store.#maybeCompact();
    return store;
  }

  /**
   * Creates `dir` if needed and locks it; throws {@link StoreLockedError}, naming the
   * holder's pid, if another store holds it.
   */
  async #lockDir(dir: string): Promise<DirLock> {
    // Its owner's only: the files hold every record (see DATA_DIR_MODE).
    await Deno.mkdir(dir, { recursive: true, mode: DATA_DIR_MODE });
    const lock = await DirLock.tryAcquire(dir, {
      onWarning: this.#onWarning,
      onDirLost: (message) => this.#fail(new DataDirLostError(message), "append"),
    });
    if (lock === undefined) throw await lockedError(dir);
    return lock;
  }

  /**
   * Recovers the store from `dir`, which `lock` holds: judges how the last run ended,
   * recovers the records (rewriting a data dir of the old format) and the node state, and
   * records this run. On a throw, the caller closes the log and releases the lock.
   */
  async #openDir(dir: string, lock: DirLock, options: StoreOptions): Promise<void> {
    // Judged before recovery changes anything: the files as the last run left them.
    this.#boot = await (options.boot ?? currentBoot)();
    const last = lock.record === undefined ? undefined : decodeRunRecord(lock.record);
    const files = await fileIdentities(dir, true);
    const suspectedLoss = await this.#judgeLastRun(dir, lock, last, files);
    this.#recovery.suspectedLoss = suspectedLoss;
    // Unrepaired on disk before recovery erases a sign of a loss (see there).
    const nodeState = await NodeStateKeeper.beginRecovery(dir, this.#onWarning, () => {
      try {
        this.#checkDirHeld();
      } catch (error) {
        throw new StoreFailedError(error as Error);
      }
    });
    // Refused before recovery changes anything, and before this run stamps its record: the
    // next start must find the same stamp.
    this.#judgeDowntime(dir, lock, last, files, nodeState.k);
    // A run that died while the machine ran on (or under --fsync always) left on disk every
    // write it acknowledged: one its end cut short was never acknowledged.
    const diedLossless = typeof last === "object" && last.run === "open" &&
      suspectedLoss === undefined;
    await this.#recover(dir, nodeState.beforeChange, diedLossless);
    if (this.#upgrade) {
      await nodeState.beforeChange();
      // Never append entries of the new format to a file of the old one: rewrite now.
      await this.compact();
      this.#recovery.warnings.push(
        "rewrote the data dir in the current format (records written before versions " +
          "have the base version, older than any new write)",
      );
    }
    this.#nodeState = await nodeState.finish({
      emptyAtStart: this.#emptyAtStart,
      lostData: this.#lostData,
      markedUnrepaired: options.markUnrepaired ?? false,
      lostSinceLastRun: suspectedLoss !== undefined,
    });
    // What earlier runs left in the page cache reaches the disk before this run's record
    // says it is there (a run under --fsync always is trusted after a power loss).
    await this.#log?.sync();
    this.#aliveAt = this.#aliveClock.read();
    // Only once the state says unrepaired may the record that told so be replaced.
    await this.#recordRun("open");
  }

  /** Loads the records of snapshot `generation` of `dir` into the trie. */
  async #loadSnapshot(dir: string, generation: number): Promise<void> {
    const path = `${dir}/${snapshotName(generation)}`;
    const info = await readSnapshot(path, (key, value, version) => {
      if (value === undefined) this.#trie.tombstone(key, { version });
      else this.#trie.putEncoded(key, value, { version });
    });
    if (info.formatVersion !== SNAPSHOT_FORMAT_VERSION) this.#upgrade = true;
    if (info.generation !== generation) {
      throw generationMismatch(path, info.generation, generation);
    }
    this.#snapshotBytes = info.byteLength;
  }

  /**
   * Recovers the records of `dir`, awaiting `beforeChange` before changing a log.
   * `diedLossless`: the last run died without losing an acknowledged write (run_record.ts),
   * so a write its newest log's end cut short (SIGKILL stops a large write between pages)
   * is no loss: the write never returned, and nothing in it was acknowledged.
   */
  async #recover(
    dir: string,
    beforeChange: () => Promise<void>,
    diedLossless: boolean,
  ): Promise<void> {
    const warnings = this.#recovery.warnings;
    const listing = await listDataDir(dir);
    refuseNotFiles(dir, listing);
    for (const name of listing.temporaries) {
      await Deno.remove(`${dir}/${name}`);
      warnings.push(`removed ${name}, left unfinished by a crash`);
    }
    this.#emptyAtStart = listing.logs.length === 0 && listing.snapshots.length === 0;
    const snapshotGeneration = listing.snapshots.at(-1) ?? 0;
    if (snapshotGeneration > 0) await this.#loadSnapshot(dir, snapshotGeneration);
    const firstGeneration = Math.max(snapshotGeneration, 1);
    const logs = listing.logs.filter((generation) => generation >= firstGeneration);
    refuseMissingLogs(dir, logs, firstGeneration);
    // Only effective writes were logged, in the order they were applied: replay them as they come.
    const apply = (entry: LogEntry) => {
      if (entry.kind === "put") {
        this.#trie.putEncoded(entry.key, entry.encodedValue, { version: entry.version });
      } else if (entry.kind === "purge") {
        this.#purgeInTrie(entry.key, entry.version);
      } else if (entry.version !== undefined) {
        this.#trie.tombstone(entry.key, { version: entry.version });
      } else {
        // A log of the format before tombstones: its deletes removed the key.
        this.#trie.delete(entry.key);
      }
    };
    for (const generation of logs) {
      const path = `${dir}/${logName(generation)}`;
      const { log, replay } = await StorageLog.open(path, apply, beforeChange);
      if (replay.generation !== generation) {
        await log.close();
        throw generationMismatch(log.path, replay.generation, generation);
      }
      this.#recovery.truncatedBytes += replay.truncatedBytes;
      // Damaged bytes may have held acknowledged writes: the server must be repaired.
      const cutUnacknowledged = diedLossless && replay.cutWrite && generation === logs.at(-1);
      if (replay.truncatedBytes > 0 && !cutUnacknowledged) this.#lostData = true;
      if (replay.skippedBytes > 0) this.#lostData = true;
      if (replay.formatVersion !== LOG_FORMAT_VERSION) this.#upgrade = true;
      if (replay.warning !== undefined) warnings.push(replay.warning);
      if (generation === logs.at(-1)) this.#log = log;
      else await log.close();
    }
    if (this.#log === undefined) {
      if (snapshotGeneration > 0) {
        warnings.push(`${logName(firstGeneration)} was missing; started it empty`);
        this.#lostData = true;
      }
      await beforeChange();
      this.#log = await StorageLog.create(`${dir}/${logName(firstGeneration)}`, firstGeneration);
    }
    await this.#removeObsolete(dir, snapshotGeneration, listing);
  }

  /**
   * Why `dir` may lack acknowledged writes, as the run record `last` that `lock` holds
   * tells (run_record.ts), `files` being the dir's as found.
   */
  async #judgeLastRun(
    dir: string,
    lock: DirLock,
    last: RunRecord | "unreadable" | undefined,
    files: Record<string, string>,
  ): Promise<string | undefined> {
    if (last !== undefined && last !== "unreadable") {
      this.#port = last.port;
      this.#address = last.address;
    }
    return judgeLastRun(last, {
      boot: this.#boot,
      dir: identityOf(await Deno.stat(dir), false),
      lockWrittenByOther: lock.writtenByOther,
      lockOfOlderKv: lock.ofOlderKv,
      files,
      port: this.#startPort,
      address: this.#startAddress,
    });
  }

  /**
   * Throws a {@link StaleDataDirError} when `dir` (its files `files`, the recorded k `k`)
   * was out of the cluster longer than the grace allows, as the last run's record `last`
   * that `lock` holds tells, or, without a readable one, its files' age (run_record.ts),
   * unless {@link StoreOptions.keepStaleData}; a start it lets through on such a dir, or on
   * a time ahead of the clock, warns.
   */
  #judgeDowntime(
    dir: string,
    lock: DirLock,
    last: RunRecord | "unreadable" | undefined,
    files: Record<string, string>,
    k: number,
  ): void {
    const keep = this.#keepStaleData;
    const graceMs = this.#tombstoneGraceMs;
    const now = {
      nowMs: this.#aliveClock.read().wallMs,
      graceMs,
      holdsData: holdsEntries(files),
      k,
      lockOfOlderKv: lock.ofOlderKv,
      writtenMs: lastWritten(files),
    };
    const downtime = judgeDowntime(last, now);
    if (downtime === undefined) return;
    const message = describeDowntime(downtime, { dir, graceMs, kept: keep });
    if (downtime.verdict === "stale" && !keep) throw new StaleDataDirError(message);
    this.#recovery.warnings.push(message);
  }

  /**
   * Writes this run's record (run_record.ts) into the lock file: `"open"` at start and after
   * each compaction and at a new port ({@link Store.servesOn}), `"clean"` at a clean close
   * once every write is on disk. One after another: a compaction's and a new port's may
   * overlap, and two writes of LOCK at once (each a seek, then a write) would tear it.
   */
  #recordRun(run: RunState): Promise<void> {
    const written = this.#recordTail.then(() => this.#writeRunRecord(run));
    this.#recordTail = written.catch(() => {/* its caller was told */});
    return written;
  }

  /** Writes this run's record now (see {@link #recordRun}). */
  async #writeRunRecord(run: RunState): Promise<void> {
    const dir = this.#dataDir;
    invariant(dir !== undefined && this.#lock !== undefined, "a durable store records its runs");
    invariant(this.#aliveAt.wallMs > 0, "a record is written once the run was alive");
    const record: RunRecord = {
      run,
      boot: this.#boot ?? null,
      fsync: this.#fsync,
      dir: identityOf(await Deno.stat(dir), false),
      files: await fileIdentities(dir, run === "clean"),
      ...(this.#port === undefined ? {} : { port: this.#port }),
      ...(this.#address === undefined ? {} : { address: this.#address }),
      // Not the clock now: a compaction's record, or a recovering one's, is no sign that the
      // store took writes, and must not hide a time it was out (see #markAlive).
      alive: this.#aliveAt.wallMs,
    };
    if (run === "open") this.#openRecord = record;
    else {
      invariant(this.#openRecord !== undefined, "a clean stop follows an open record");
      const changed = changedUnderRun(this.#openRecord, record);
      if (changed !== undefined) {
        // The open record stays: the next start finds what changed, as after a crash.
        this.#onWarning(
          `not recorded as a clean stop: ${changed} while this server ran (a copy or a ` +
            `restore put over its data dir), so the next start is unrepaired`,
        );
        return;
      }
    }
    await this.#lock.writeRecord(encodeRunRecord(record));
    this.#recording = true;
  }

  /** Deletes logs and snapshots older than the snapshot `generation`, which replaces them. */
  async #removeObsolete(dir: string, generation: number, listing: DirListing): Promise<void> {
    const obsolete = [
      ...listing.logs.filter((other) => other < generation).map(logName),
      ...listing.snapshots.filter((other) => other < generation).map(snapshotName),
    ];
    for (const name of obsolete) {
      try {
        await Deno.remove(`${dir}/${name}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }

  /** What recovery found; all zero and empty for a memory-only store. */
  get recovery(): RecoveryInfo {
    return this.#recovery;
  }

  /**
   * The server's node state (unrepaired, recorded k), kept in the data dir beside the
   * records; in memory, unrepaired from the start. See node_state.ts.
   */
  get nodeState(): NodeStateKeeper {
    return this.#nodeState;
  }

  /** The data directory; undefined for a memory-only store. */
  get dataDir(): string | undefined {
    return this.#dataDir;
  }

  /**
   * False while the store refuses every change (its data dir cannot be written, or it was
   * out of the cluster too long): STATS tells clients so. Always true in memory.
   */
  get writable(): boolean {
    return this.#failure === undefined;
  }

  /** Number of records (tombstones not counted). */
  get recordCount(): number {
    return this.#trie.recordCount;
  }

  /** Number of tombstones: deleted keys kept for their grace period. */
  get tombstoneCount(): number {
    return this.#trie.tombstoneCount;
  }

  /** Bytes of memory the records and the unflushed log entries take. */
  get memoryBytes(): number {
    return this.#trie.memoryBytes + (this.#log?.pendingBytes ?? 0);
  }

  /** The state of the files; see {@link StorageStats}. */
  get storageStats(): StorageStats {
    return {
      generation: this.#log?.generation ?? 0,
      logBytes: this.#log?.byteLength ?? 0,
      snapshotBytes: this.#snapshotBytes,
      compactionCount: this.#compactionCount,
    };
  }

  /**
   * Stores `value` under `key` with `options.version` (default the base version);
   * false, changing nothing, when the key holds a record and `overwrite` is false,
   * or when `ifNewer` is set and the key holds a newer or equal version (see
   * {@link PutOptions}). With a data dir, an effective put is logged. Throws,
   * changing nothing, a DecodeError on an invalid key, a LimitExceededError on one
   * too large to store or log, and a TypeError or RangeError on a malformed Value (a
   * caller's bug).
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("k", int(1)); // true
   * store.put("k", int(2), { overwrite: false }); // false, still int(1)
   * ```
   */
  put(key: string, value: Value, options: PutOptions = {}): boolean {
    this.#checkWritable();
    const log = this.#log;
    if (log === undefined) return this.#trie.put(key, value, options);
    this.#scratch.reset();
    writeValue(this.#scratch, value);
    const encoded = this.#scratch.bytes();
    checkLogEntrySize(key, encoded.length);
    if (!this.#trie.put(key, value, options)) return false;
    log.appendPut(key, encoded, options.version ?? BASE_VERSION);
    return true;
  }

  /**
   * Like {@link Store.put} for a value in its wire encoding (lib/record/value_codec.ts),
   * as a PUT request carries it: no Value is made, and the same bytes are
   * logged. Throws a DecodeError when `encoded` is not exactly one valid value,
   * and a LimitExceededError as `put` does; nothing changes then.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * const store = await Store.open(); // memory only
   * store.putEncoded("k", encodeValue(int(1))); // true
   * ```
   */
  putEncoded(key: string, encoded: Uint8Array, options: PutOptions = {}): boolean {
    this.#checkWritable();
    const log = this.#log;
    if (log !== undefined) checkLogEntrySize(key, encoded.length);
    if (!this.#trie.putEncoded(key, encoded, options)) return false;
    log?.appendPut(key, encoded, options.version ?? BASE_VERSION);
    return true;
  }

  /**
   * Like {@link Store.putEncoded} for a record whose key, in UTF-8, is
   * `source[keyStart, keyEnd)`, whose version is the 12 bytes at `source[versionAt]`
   * (or `options.version` when `versionAt` is −1) and whose encoded value is `source[valueStart, valueEnd)`: how a server stores the
   * items of a PUT_MANY, straight from the frame. An invalid key is a DecodeError (a
   * LimitExceededError when too long).
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * const store = await Store.open(); // memory only
   * const key = new TextEncoder().encode("k");
   * const bytes = new Uint8Array([...key, ...new Uint8Array(12), ...encodeValue(int(1))]);
   * store.putEncodedAt(bytes, 0, 1, 1, 13, bytes.length); // true
   * ```
   */
  putEncodedAt(
    source: Uint8Array,
    keyStart: number,
    keyEnd: number,
    versionAt: number,
    valueStart: number,
    valueEnd: number,
    options: PutOptions = {},
  ): boolean {
    if (this.#log === undefined) {
      this.#checkWritable();
      return this.#trie.putEncodedAt(
        source,
        keyStart,
        keyEnd,
        versionAt,
        valueStart,
        valueEnd,
        options,
      );
    }
    // The log keeps the key as text: a durable store makes the string and logs as PUT does.
    checkEncodedKey(source, keyStart, keyEnd);
    const key = readUtf8(source, keyStart, keyEnd - keyStart);
    const version = versionAt === -1 ? options.version : readVersion(source, versionAt);
    return this.putEncoded(key, source.subarray(valueStart, valueEnd), { ...options, version });
  }

  /**
   * The value under `key`, or undefined.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * store.get("missing"); // undefined
   * ```
   */
  get(key: string): Value | undefined {
    return this.#trie.get(key);
  }

  /**
   * The value at `path` (record key, then field names); see {@link RecordTrie.query}.
   *
   * @example
   * ```ts
   * import { int, object, str } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", object([["address", object([["street", str("Main")]])]]));
   * store.query(["person1", "address", "street"]); // { kind: "string", value: "Main" }
   * ```
   */
  query(path: readonly string[]): Value | undefined {
    return this.#trie.query(path);
  }

  /**
   * Why `path` holds no value in the record its key holds; undefined when the key holds no
   * record (see {@link RecordTrie.queryMiss}).
   *
   * @example
   * ```ts
   * import { int, object } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", object([["age", int(22)]]));
   * store.queryMiss(["person1", "agee"]); // { reason: "no-field", segment: 1, closest: "age" }
   * ```
   */
  queryMiss(path: readonly string[]): PathMiss | undefined {
    return this.#trie.queryMiss(path);
  }

  /**
   * Appends the version of the key `source[keyStart, keyEnd)` (UTF-8) when it is held,
   * then its value when it holds a record, and says whether it wrote a value: a GET
   * answered from the key's bytes (see {@link RecordTrie.getEncodedAt}).
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", int(22), { version: { ms: 1733040000000, counter: 0, broker: 7 } });
   * const writer = new ByteWriter();
   * const key = new TextEncoder().encode("person1");
   * store.getEncodedAt(key, 0, key.length, writer); // true
   * ```
   */
  getEncodedAt(source: Uint8Array, keyStart: number, keyEnd: number, writer: ByteWriter): boolean {
    return this.#trie.getEncodedAt(source, keyStart, keyEnd, writer);
  }

  /**
   * Appends the value at `path` to `writer` in the wire encoding; false, writing
   * nothing, when there is none (see {@link RecordTrie.queryInto}).
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int, object } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", object([["age", int(22)]]));
   * const writer = new ByteWriter();
   * store.queryInto(["person1", "age"], writer); // true
   * ```
   */
  queryInto(path: readonly string[], writer: ByteWriter): boolean {
    return this.#trie.queryInto(path, writer);
  }

  /**
   * Deletes `key` by storing a tombstone with `options.version` (default the base
   * version), which reads as absent and is purged after the tombstone grace. False,
   * changing and logging nothing, when `ifNewer` is set and the key holds a newer or
   * equal version; see {@link RecordTrie.tombstone}.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * store.delete("person1", { version: { ms: Date.now(), counter: 0, broker: 1 }, ifNewer: true });
   * ```
   */
  delete(key: string, options: TombstoneOptions = { version: BASE_VERSION }): boolean {
    this.#checkWritable();
    if (this.#log !== undefined) checkLogEntrySize(key, 0);
    if (!this.#trie.tombstone(key, options)) return false;
    this.#log?.appendDelete(key, options.version);
    return true;
  }

  /**
   * Each partition's entry count and digest, kept up to date on every change, load and
   * recovery (see lib/trie/partition_digests.ts): what PARTITION_DIGESTS answers.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * store.partitionDigests.count(0); // entries in partition 0
   * ```
   */
  get partitionDigests(): PartitionDigestTable {
    return this.#trie.partitionDigests;
  }

  /**
   * A cursor over every entry (records and tombstones) in key order, strictly after
   * `after` (UTF-8 bytes) when given: what LIST_PARTITIONS reads. Use it at once: the
   * store must not change meanwhile.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * const cursor = store.entryCursor();
   * while (cursor.next()) console.log(cursor.partition);
   * ```
   */
  entryCursor(after?: Uint8Array): EntryCursor {
    return this.#trie.entryCursor(after);
  }

  /**
   * Purges `key` up to `version`: removes its record or tombstone entirely, leaving
   * nothing, when the version it holds is older than or equal to `version` (`purged`);
   * `absent` when it holds nothing, `stale` with the version held when that is newer.
   * With a data dir a purge is logged, so it survives a restart.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", int(22), { version: { ms: 1733040000000, counter: 0, broker: 7 } });
   * store.purge("person1", store.versionOf("person1")!); // { kind: "purged" }
   * ```
   */
  purge(key: string, version: Version): PurgeResult {
    this.#checkWritable();
    if (this.#log !== undefined) checkLogEntrySize(key, 0);
    const held = this.#trie.versionOf(key);
    if (held === undefined) return { kind: "absent" };
    if (compareVersions(held, version) > 0) return { kind: "stale", version: held };
    this.#purgeInTrie(key, version);
    this.#log?.appendPurge(key, version);
    return { kind: "purged" };
  }

  /** Removes `key` from the trie when what it holds is not newer than `version`. */
  #purgeInTrie(key: string, version: Version): void {
    const held = this.#trie.versionOf(key);
    if (held !== undefined && compareVersions(held, version) <= 0) this.#trie.delete(key);
  }

  /**
   * Whether `key` holds a record (a tombstone does not count).
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", int(22), { version: { ms: 1733040000000, counter: 0, broker: 7 } });
   * store.has("person1"); // true
   * ```
   */
  has(key: string): boolean {
    return this.#trie.has(key);
  }

  /**
   * The version of `key`'s newest write (its record's or tombstone's), or undefined.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("person1", int(22), { version: { ms: 1733040000000, counter: 0, broker: 7 } });
   * store.versionOf("person1"); // { ms: 1733040000000, counter: 0, broker: 7 }
   * ```
   */
  versionOf(key: string): Version | undefined {
    return this.#trie.versionOf(key);
  }

  /**
   * Purges the tombstones older than the grace (by their version's time, against
   * `nowMs`, default the wall clock) and returns how many; a timer does this on its
   * own. Purges are not logged: a tombstone a restart brings back from the log is
   * purged again.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * store.purgeTombstones(); // 0
   * ```
   */
  purgeTombstones(nowMs: number = Date.now()): number {
    return this.#trie.purgeTombstones(nowMs - this.#tombstoneGraceMs);
  }

  /**
   * Restamps the open run record's `alive` every {@link aliveStampInterval} of the grace
   * (run_record.ts), so that a start after a long stop can tell how long the dir was out.
   */
  #startAliveTimer(): void {
    if (this.#lock === undefined) return;
    this.#aliveTimer = setInterval(
      () => this.#stampAlive(),
      aliveStampInterval(this.#tombstoneGraceMs),
    );
    // A stamp must never keep a finished server alive; close() records the last one.
    Deno.unrefTimer(this.#aliveTimer);
  }

  /**
   * Rewrites the open record with `alive` now, on the record chain (a compaction's record
   * and the clean stop's are never torn by it), unless the store is not alive now
   * ({@link #markAlive}). Not once the store closes (the clean record is the last). A
   * failure is warned of once until a stamp succeeds: the server serves on, and a start
   * after a long stop judges it by an older stamp, so errs early.
   */
  #stampAlive(): void {
    if (this.#closed || !this.#markAlive()) return;
    const stamped = this.#recordTail.then(async () => {
      const [lock, open] = [this.#lock, this.#openRecord];
      if (this.#closed || lock === undefined || open === undefined) return;
      // Failed since the tick (a lost dir: another may have its name now): no stamp.
      if (this.#failure !== undefined) return;
      const record: RunRecord = { ...open, alive: this.#aliveAt.wallMs };
      await lock.writeRecord(encodeRunRecord(record));
      this.#openRecord = record;
      this.#warnedStampFailed = false;
    });
    this.#recordTail = stamped.catch((error) => {
      if (this.#warnedStampFailed) return;
      this.#warnedStampFailed = true;
      this.#onWarning(
        `could not stamp the data dir's LOCK as alive (${describeFsError(error)}); ` +
          "a start after a long stop judges the dir by the last stamp written",
      );
    });
  }

  /**
   * Moves {@link #aliveAt} to now and returns true when the store is alive now: its
   * process runs (this is called), it takes writes (a store refusing them misses deletes
   * as a stopped one does), and it was not out of the cluster longer than the grace allows
   * since it last was — a gap in its ticks ({@link timeAway}: a process stopped, a machine
   * suspended, never a wall clock stepped forward alone), or a failure that long. Out that
   * long, it stops ({@link #leaveCluster}) and returns false, or, kept (k = 1,
   * keepStaleData), warns and goes on.
   */
  #markAlive(): boolean {
    if (this.#failure instanceof StaleDataDirError) return false;
    const now = this.#aliveClock.read();
    const outMs = timeAway(this.#aliveAt, now);
    if (outMs > runningDowntimeLimit(this.#tombstoneGraceMs) && !this.#leaveCluster(outMs)) {
      return false;
    }
    if (this.#failure !== undefined) return false;
    this.#aliveAt = now;
    return true;
  }

  /**
   * The store was out of the cluster `outMs` while it ran, longer than the grace allows:
   * unless kept (a recorded k = 1, keepStaleData), fails it for good — every change
   * refused, no retry, no stamp, no clean record — tells {@link StoreOptions.onStale} and
   * returns false; kept, warns, restarts the count (a failure goes on unstamped) and
   * returns true.
   */
  #leaveCluster(outMs: number): boolean {
    const dir = this.#dataDir;
    invariant(dir !== undefined, "a durable store judges its time out");
    const k = this.#nodeState.state.k;
    const downtime = { verdict: k === 1 ? "only copy" : "stale", downMs: outMs } as const;
    const message = describeDowntime(downtime, {
      dir,
      graceMs: this.#tombstoneGraceMs,
      kept: this.#keepStaleData,
      running: true,
    });
    if (downtime.verdict === "stale" && !this.#keepStaleData) {
      const stale = new StaleDataDirError(message);
      clearTimeout(this.#retryTimer);
      this.#failure = stale;
      this.#onStale(stale);
      return false;
    }
    this.#onWarning(message);
    this.#aliveAt = this.#aliveClock.read();
    return true;
  }

  #startPurgeTimer(): void {
    const interval = Math.max(
      1,
      Math.min(this.#tombstoneGraceMs, MAX_TOMBSTONE_PURGE_INTERVAL_MS),
    );
    this.#purgeTimer = setInterval(() => {
      if (!this.#closed) this.purgeTombstones();
    }, interval);
    Deno.unrefTimer(this.#purgeTimer);
  }

  /**
   * Keys in order, filtered and paged; see {@link RecordTrie.keys}.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * store.keys({ prefix: "person", limit: 100 });
   * ```
   */
  keys(options: KeysOptions): string[] {
    return this.#trie.keys(options);
  }

  /**
   * Resolves once every mutation made so far is written to the log (one
   * write for everything buffered), and fsynced under the `"always"` policy.
   * Concurrent commits share writes. Resolves at once in memory; rejects if
   * the store has failed or is closed.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const store = await Store.open(); // memory only
   * store.put("k", int(1));
   * await store.commit(); // now acknowledge the put
   * ```
   */
  commit(): Promise<void> {
    if (this.#log === undefined) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error("commit on a closed store"));
    return this.#enqueue(() => this.#flush());
  }

  /**
   * True when {@link commit} would wait for nothing: every mutation made so far is
   * written as far as the fsync policy asks (none is buffered) and no commit is under
   * way. A reader may then answer at once, since what it read is as durable as a
   * commit would make it; a writer still commits. A store without a data dir is always
   * settled.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * if (!store.settled) await store.commit(); // answers read from memory are durable now
   * ```
   */
  get settled(): boolean {
    const log = this.#log;
    return log === undefined || (this.#chainTasks === 0 && log.pendingBytes === 0);
  }

  /**
   * Compacts now, whatever the log's size (or joins a compaction under way),
   * resolving when the snapshot is durable and the files it replaces are gone.
   * Does nothing in memory.
   *
   * @example
   * ```ts
   * const store = await Store.open({ dataDir: await Deno.makeTempDir() });
   * await store.compact();
   * ```
   */
  compact(): Promise<void> {
    if (this.#log === undefined) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error("compact on a closed store"));
    return this.#compaction ?? this.#startCompaction();
  }

  /**
   * Says the server now serves this dir on TCP `port` of `address` (it listens there; the
   * address as the listen resolved it): the run record keeps both, written at once when
   * either is new, and a later start on another port or address is unrepaired
   * (run_record.ts). At once, for a start that dies before its next record (a compaction, a
   * clean stop) would otherwise find the old ones and blame those it served on.
   *
   * @example
   * ```ts
   * const store = await Store.open({ dataDir: "data", port: 8000, address: "127.0.0.1" });
   * await store.servesOn(8000, "127.0.0.1");
   * ```
   */
  async servesOn(port: number, address: string): Promise<void> {
    invariant(Number.isInteger(port) && port > 0 && port <= MAX_TCP_PORT, "a TCP port");
    invariant(address !== "", "an address");
    if (port === this.#port && address === this.#address) return;
    this.#port = port;
    this.#address = address;
    if (this.#recording) await this.#recordRun("open");
  }

  /**
   * Commits, waits for a compaction under way, fsyncs, closes the log, stops
   * the timer and releases the lock. Later calls do nothing.
   *
   * @example
   * ```ts
   * const store = await Store.open(); // memory only
   * await store.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new Error("the store closed"));
    clearTimeout(this.#retryTimer);
    clearInterval(this.#timer);
    clearInterval(this.#purgeTimer);
    clearInterval(this.#aliveTimer);
    const log = this.#log;
    if (log === undefined) return;
    try {
      await this.#compaction?.catch(() => {/* reported through onWarning */});
      await this.#enqueue(() => this.#flush());
      await this.#syncing;
      await this.#log?.close();
      // Out of the cluster too long since the last tick (a freeze, then SIGTERM): no clean
      // record, whose stamp would hide it from the next start.
      if (this.#recording && this.#markAlive()) {
        await this.#markLogAlive();
        await this.#recordRun("clean");
      }
    } finally {
      // After a failure above, still free the file and, above all, the lock, once no stamp
      // is writing it (the chain never rejects).
      await this.#log?.close().catch(() => {/* the first error is the one to report */});
      await this.#recordTail;
      this.#lock?.release();
    }
  }

  /**
   * Sets the newest log's modification time to the moment the store was last alive, before
   * the clean record keeps the files' identities: a dir whose LOCK is lost is judged by its
   * files' age (run_record.ts, {@link lastWritten}), and an idle server's newest log would
   * otherwise tell its last write, however long it ran on since. Still no later than the
   * last moment alive, so that judgement still errs early, never late. Synced, so that a
   * power loss cannot undo it under the record that keeps it. A failure is warned of: the
   * stop goes on, judged by the last write as before.
   */
  async #markLogAlive(): Promise<void> {
    const log = this.#log;
    if (log === undefined) return;
    const alive = new Date(this.#aliveAt.wallMs);
    try {
      using file = await Deno.open(log.path, { write: true });
      await file.utime(alive, alive);
      await file.sync();
    } catch (error) {
      this.#onWarning(
        `could not mark ${log.path} written at the stop (${describeFsError(error)}); a start ` +
          "that finds no run record in LOCK judges the dir by its last write",
      );
    }
  }

  #checkWritable(): void {
    if (this.#closed) throw new Error("the store is closed");
    if (this.#failure !== undefined) throw new StoreFailedError(this.#failure);
  }

  /** Runs `task` after every earlier one on the commit chain; the chain survives failures. */
  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.#chainTasks++;
    const result = this.#commitTail.then(task);
    const settle = () => {
      this.#chainTasks--;
    };
    this.#commitTail = result.then(settle, settle);
    return result;
  }

  async #flush(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const log = this.#log;
    invariant(log !== undefined, "a durable store has a log");
    if (log.pendingBytes === 0) return;
    try {
      await log.flush();
    } catch (error) {
      // The log keeps the bytes and cuts off any part written: a retry appends them.
      throw this.#fail(error, "append");
    }
    try {
      if (this.#fsync === "always") await log.sync();
      else this.#unsynced = true;
    } catch (error) {
      throw this.#fail(error, "rewrite");
    }
    this.#maybeCompact();
  }

  /**
   * Records a storage failure, after which the store refuses mutations until a retry
   * succeeds; returns it to throw. `retry` says how: `"append"` when a write failed (the
   * log kept its bytes), `"rewrite"` when bytes the log had taken may be lost.
   */
  #fail(error: unknown, retry: "append" | "rewrite"): Error {
    if (retry === "rewrite") this.#failureNeedsRewrite = true;
    if (this.#failure === undefined) {
      this.#failure = error instanceof Error ? error : new Error(String(error));
      this.#onWritableChange(this.#failure);
      this.#scheduleRetry(DISK_RETRY_INTERVAL_MS);
    }
    return this.#failure;
  }

  #scheduleRetry(delayMs: number): void {
    if (this.#closed) return;
    this.#retryTimer = setTimeout(() => this.#retry(delayMs), delayMs);
    // A retry must never keep a finished server alive.
    Deno.unrefTimer(this.#retryTimer);
  }

  /**
   * Tries a failed data dir again. After a failed write the log still holds the bytes
   * it could not write: the try is that append, fsynced. After a failed fsync what
   * reached the disk is unknown (the kernel may have dropped the pages, as PostgreSQL
   * learned), so the try is a compaction instead: a new log and a snapshot of everything
   * in memory, fsynced. Only once the try is durable does the store accept writes again:
   * memory then equals disk.
   */
  async #retry(delayMs: number): Promise<void> {
    this.#retryTimer = undefined;
    // Stale for good: a dir back on its disk would only serve what the cluster deleted.
    if (this.#closed || this.#failure instanceof StaleDataDirError) return;
    try {
      this.#checkDirHeld();
      if (this.#failureNeedsRewrite) {
        await this.#compaction?.catch(() => {/* the store's failure is handled here */});
        if (this.#closed) return;
        await this.#startCompaction({ recovering: true });
      } else {
        await this.#enqueue(async () => {
          const log = this.#log;
          invariant(log !== undefined, "a durable store has a log");
          await log.flush();
          await log.sync();
        });
      }
    } catch {
      // Still failing (already said once): try again later.
      this.#scheduleRetry(Math.min(delayMs * 2, DISK_RETRY_BACKOFF_CAP_MS));
      return;
    }
    if (this.#closed || this.#failure instanceof StaleDataDirError) return;
    this.#failure = undefined;
    this.#failureNeedsRewrite = false;
    this.#onWritableChange(undefined);
  }

  /**
   * Throws a {@link DataDirLostError}, failing the store, unless the data dir's name still
   * names the dir it holds: checked before the store makes or removes files by that name
   * (a compaction's, the node state's).
   */
  #checkDirHeld(): void {
    const dir = this.#dataDir;
    invariant(dir !== undefined && this.#lock !== undefined, "a durable store holds its dir");
    if (this.#lock.namesHeldDir()) return;
    const lost = new DataDirLostError(
      `data dir ${dir} was deleted, moved or replaced while this server held it`,
    );
    this.#fail(lost, "append");
    throw lost;
  }

  #syncIfWritten(): void {
    if (!this.#unsynced || this.#syncing !== undefined || this.#log === undefined) return;
    this.#unsynced = false;
    this.#syncing = this.#log.sync()
      .catch((error) => {
        this.#fail(error, "rewrite");
      })
      .finally(() => this.#syncing = undefined);
  }

  #maybeCompact(): void {
    const log = this.#log;
    if (log === undefined || this.#compaction !== undefined || this.#closed) return;
    if (this.#failure !== undefined || performance.now() < this.#compactionRetryAt) return;
    const threshold = Math.max(
      this.#compactionMinLogBytes,
      this.#compactionSnapshotRatio * this.#snapshotBytes,
    );
    if (log.byteLength <= threshold) return;
    this.#startCompaction().catch(() => {/* reported through onWarning */});
  }

  /**
   * Starts a compaction. `recovering`: the store has failed and this is a retry (see
   * {@link #retry}): it runs despite the failure, and its own failure is not reported
   * (the store's was, once).
   */
  #startCompaction({ recovering = false } = {}): Promise<void> {
    invariant(this.#compaction === undefined, "one compaction at a time");
    const compaction = this.#compact(recovering)
      .catch((error) => {
        this.#compactionRetryAt = performance.now() + COMPACTION_RETRY_DELAY_MS;
        // The store's own failure was told once already (onWritableChange).
        if (!this.#closed && !recovering && error !== this.#failure) {
          const reason = isFsError(error) ? describeDiskFailure(error as Error) : String(error);
          this.#onWarning(
            `compaction failed (retrying in ${COMPACTION_RETRY_DELAY_MS / 1000} s): ${reason}`,
          );
        }
        throw error;
      })
      .finally(() => this.#compaction = undefined);
    this.#compaction = compaction;
    return compaction;
  }

  /**
   * The steps listed under "Compaction" in the module docs; `recovering` (a failed
   * store's retry) runs them despite the failure and ignores the old log's errors: the
   * snapshot replaces that log.
   */
  async #compact(recovering: boolean): Promise<void> {
    const dir = this.#dataDir;
    const oldLog = this.#log;
    invariant(dir !== undefined && oldLog !== undefined, "a compaction has a data dir and a log");
    const generation = oldLog.generation + 1;
    if (generation > MAX_GENERATION) throw new RangeError("generation numbers are exhausted");
    this.#checkDirHeld();
    const newLog = await StorageLog.create(`${dir}/${logName(generation)}`, generation);
    let view: FrozenView;
    try {
      view = await this.#enqueue(async () => {
        if (this.#failure !== undefined && !recovering) throw this.#failure;
        // Nothing runs between these two lines: the view is the state logs ≤ N built.
        this.#log = newLog;
        const frozen = this.#trie.freeze();
        await this.#syncing;
        try {
          await oldLog.close();
        } catch (error) {
          if (!recovering) {
            frozen.close();
            throw this.#fail(error, "rewrite");
          }
        }
        return frozen;
      });
    } catch (error) {
      if (this.#log !== newLog) {
        await newLog.close();
        await Deno.remove(newLog.path);
      }
      throw error;
    }
    try {
      // The new log recorded before the snapshot can replace the old files: a kill right
      // after its rename left none the record named where recovery looks, and the next
      // start, finding "none of the files it used is left", was unrepaired for nothing.
      if (this.#recording) await this.#recordRun("open");
      this.#snapshotBytes = await writeFrozenSnapshot(
        `${dir}/${snapshotName(generation)}`,
        generation,
        view,
        {
          signal: this.#closing.signal,
          // Renamed by the dir's name: into another dir, were this one moved away.
          beforeFinish: () => this.#checkDirHeld(),
        },
      );
    } finally {
      view.close();
    }
    // The snapshot took a while: the old files go only from the dir this store holds.
    this.#checkDirHeld();
    // Before the old files go: a record naming only files gone would find none left.
    if (this.#recording) await this.#recordRun("open");
    await this.#removeObsolete(dir, generation, await listDataDir(dir));
    this.#compactionCount++;
  }
}

/**
 * The line that tells an operator a store's data dir stopped or resumed taking writes.
 *
 * @example
 * ```ts
 * describeWritable(undefined); // "the data dir can be written again; accepting writes"
 * ```
 */
export function describeWritable(failure: Error | undefined): string {
  if (failure === undefined) return "the data dir can be written again; accepting writes";
  return `cannot write the data dir (${diskReason(failure)}); refusing writes with ` +
    `READ_ONLY, serving reads, retrying every ${DISK_RETRY_INTERVAL_MS / 1000}–` +
    `${DISK_RETRY_BACKOFF_CAP_MS / 1000} s; ${diskRemedy(failure)}`;
}
