/**
 * The run record: what a data dir keeps about the last run of a server on it, so that a
 * start can tell, without the operator, two ways a dir may have lost writes the server
 * acknowledged that leave no sign in the logs themselves:
 *
 * - **a power loss or kernel crash** under `--fsync interval` or `never`: the page cache
 *   held acknowledged writes not yet on disk, and the cut may fall at an entry boundary;
 * - **a copy**: the files were put back from a backup, or copied or moved from elsewhere,
 *   and may be older than what the server acknowledged.
 *
 * ## What is recorded
 *
 * One line in the lock file (dir_lock.ts, which also stamps the time of each of its
 * writes), written in place and fsynced: JSON, a space, and the CRC-32C of the JSON in
 * hex — `{"format":1,"run":"open","boot":"at:…","fsync":"interval","dir":"…","files":{…}}`.
 *
 * - `run`: `"open"` from the start until a clean stop, then `"clean"`, written only once
 *   every write is fsynced and the log closed.
 * - `boot`: which boot of the machine's kernel the run was in, told each way the process
 *   could ({@link currentBoot}).
 * - `fsync`: the run's `--fsync`.
 * - `port`, `address`: the TCP port the run served the dir on, once it listened, and the
 *   address it listened on as the listen resolved its `-a` (absent for `-p 0`, and in
 *   records of a kv before them).
 * - `alive`: when the run was last alive, in ms by its clock: stamped at start, every
 *   {@link aliveStampInterval} while it runs and takes writes, and at a clean stop (absent
 *   in records of a kv before it). See _The last-alive stamp_ below.
 * - `dir`, `files`: the identity ({@link identityOf}) of the data dir and of each of the
 *   files recovery reads (the newest snapshot and the logs from its generation on), full
 *   (with size, modification and change time) for all but the newest log, which an open
 *   run goes on writing; in a clean record the newest log's full identity too, and
 *   `node-state.json`'s, since nothing changes them after a clean stop. An open record is
 *   rewritten whenever a compaction replaces the files, before the old ones are deleted.
 *
 * ## The judgement at start ({@link judgeLastRun})
 *
 * Before recovery touches anything, the start reads the record the last run left and
 * finds the server unrepaired when:
 *
 * 1. the record cannot be read (a torn write, another program's bytes), or there is none
 *    though the dir holds a log or a snapshot and the lock file is not one a kv from before
 *    run records left (its pid alone): LOCK was left out of a copy or a restore, or a start
 *    stopped before it recorded its run;
 * 2. the data dir's identity differs (a copy, a restore into a new dir, a move to another
 *    file system), or the last run served it on another port or address than this start's
 *    (two servers' dirs swapped by mistake: each would answer for the other's keys). The
 *    address is compared only when both runs listened on one address: a wildcard
 *    (`0.0.0.0`, `::`) listens on every address of the machine, so it names none that
 *    brokers reach the server by, and a move to or from one is not judged;
 * 3. the lock file was written by another program after kv last wrote it (its change time
 *    is later than the time kv stamped in it: a copy put over it);
 * 4. a file differs — after a clean stop: a data file added, missing, or changed in any
 *    part of its full identity; after a run that did not stop cleanly (it went on writing
 *    the newest log): a recorded file still there with another inode or creation time, a
 *    recorded snapshot or log but the newest changed in any part of its full identity, or
 *    none of them left;
 * 5. the run did not stop cleanly, its `--fsync` was `interval` or `never`, and the boot is
 *    not known to be the same: the kernel went down with the run's page cache, and with
 *    it what the run acknowledged but had not yet fsynced.
 *
 * A process that dies (kill -9, a crash) while the kernel runs on loses nothing of the
 * page cache: its record says open, in the same boot, and the start trusts the dir as
 * before (and fsyncs what it recovered before it records its own run).
 *
 * ## Why these identities
 *
 * A file's inode number, creation time (statx's birth time) and change time (ctime) are
 * set by the file system, and no copying tool can set them: `cp -a`, `rsync -a` and `tar`
 * carry contents, modes and modification times. A copied or restored dir or file has new
 * ones: a dir or file made anew has another inode and creation time (an inode number alone
 * may be reused just after a delete; with the creation time it is not the same), and a
 * file written over in place (`cp` onto an existing name keeps its inode) a later change
 * time. What keeps all of them is a copy below the file system (a block-level image, a
 * volume, file-system or VM snapshot rolled back): it cannot be told from the dir as it
 * was, and `kv server --mark-unrepaired` stays for it.
 *
 * ## The last-alive stamp ({@link judgeDowntime})
 *
 * A server out of the cluster longer than its tombstone grace (`kv server
 * --tombstone-grace`) may hold records whose deletes the other replicas took, and have
 * purged the tombstones of since: served again, such a record is the newest version any
 * replica holds, and reads and `kv repair` spread it (deleted data comes back). So a start
 * on a dir holding data (a log or a snapshot) refuses when the last run's `alive` stamp is
 * older than the grace less {@link downtimeMargin}, unless the operator says the dir is the
 * only copy of its keys (`--keep-stale-data`), or the recorded k is 1 (no other replica
 * holds them: wiping would lose them, so it starts, with a warning). The stamp is in the
 * run record, not the pid field's time beside it: every acquire rewrites that one, so a
 * refused start would make the next one look fresh; a refused start writes no record.
 *
 * The stamp is at most one interval older than the run's last moment (a crash between two
 * stamps), so the downtime it tells is at least the true one: the refusal errs early, never
 * late. Not judged: a record without a stamp (a kv before it: refusing those would refuse
 * every upgrade; the first run of this kv stamps it), and a stamp ahead of the clock (the
 * clock stepped back, or the last run's ran ahead: how long the dir was away cannot be
 * told), which warns.
 *
 * A dir holding data whose LOCK holds no readable record (left out of a copy or a restore,
 * deleted, emptied, or torn; it starts unrepaired by the rules above) is judged alike by
 * when its logs and snapshots were last written ({@link lastWritten}), the newest
 * modification time: a server writes them only while alive, and `cp -a`, `rsync -a` and
 * `tar` keep those times, so the downtime they tell is at least the true one, as a stamp's.
 * It errs early for a server that took no write for as long before its LOCK was lost (the
 * refusal says so, and `--keep-stale-data` starts it), and it cannot see a copy that reset
 * the times (a plain `cp`, `rsync` without `-t`: the files look written at the copy), which
 * starts as before; the node state is left out, as a start rewrites it. Not judged: a LOCK
 * holding an older kv's pid alone (an upgrade).
 *
 * A running server can be out as long without a start to judge it, so it judges itself:
 * "alive" means taking writes (a store refusing them, its disk full, misses deletes as a
 * stopped one does, so it is not stamped), and each stamp first measures the time since the
 * last moment the store was alive ({@link timeAway}): by the wall clock and by the time the
 * kernel counted — the uptime, which counts a suspend, where it may be read (Linux,
 * `--allow-sys=osUptime`), else `performance.now()`, which does not ({@link aliveClockOf})
 * — the smaller counting: NTP stepping the wall clock forward is no time away, a process
 * stopped (SIGSTOP, a frozen container) or a machine suspended advances both. Past
 * {@link runningDowntimeLimit} — what a start allows, but at least
 * {@link MIN_RUNNING_DOWNTIME_MS}, so that an event loop held by a loaded machine never
 * counts — the store stamps nothing more (no clean record either) and refuses writes, and
 * the server stops, so the next start refuses the dir; k = 1 and `--keep-stale-data` serve
 * on with a warning, as they start. What it cannot see: a pause its kernel does not count
 * (a VM paused by its host, a container checkpointed and restored: their clocks are stopped
 * with them, and only the wall clock, once set right, jumps), a suspend when the uptime may
 * not be read, and requests it finds waiting when it resumes, which may be answered before
 * its tick.
 *
 * @example
 * ```ts
 * import { decodeRunRecord, encodeRunRecord, judgeLastRun } from "./run_record.ts";
 * const line = encodeRunRecord({ run: "open", boot: "id:1", fsync: "interval", dir: "5.0", files: {} });
 * const now = { boot: "id:2", dir: "5.0", lockWrittenByOther: false, lockOfOlderKv: false, files: {} };
 * judgeLastRun(decodeRunRecord(line), now);
 * // "the last run on it (--fsync interval) did not stop cleanly and the machine has restarted since: …"
 * ```
 * @module
 */
import { crc32c } from "../base/crc32.ts";
import { invariant } from "../base/invariant.ts";
import { MAX_RECORD_CHARS } from "./dir_lock.ts";
import { NODE_STATE_FILE } from "./node_state.ts";
import { hostPort } from "../base/host_port.ts";
import { counted } from "../base/plural.ts";
import { MAX_WRITE_LAG_MS } from "../protocol/mod.ts";

/** The run record's format number, written as its `format` field. */
export const RUN_RECORD_FORMAT = 1;

/** Where Linux tells the boot id: a random UUID the kernel makes at each boot. */
export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";

/**
 * Most difference, in ms, between two computations of the boot's instant (the clock now
 * less the uptime) still taken for one boot: the uptime is told in whole seconds, so two
 * computations in one boot differ by up to a second, and a leap second adds one. A
 * reboot moves it by at least the time the old boot ran before the server started.
 */
export const BOOT_TIME_TOLERANCE_MS = 2_000;

/** Whether a run ended cleanly (`"clean"`) or was still running when it was recorded. */
export type RunState = "open" | "clean";

/** What the lock file records of a run; see the module docs. */
export interface RunRecord {
  /** `"open"` while running, `"clean"` once stopped cleanly. */
  readonly run: RunState;
  /** The boot the run was in ({@link currentBoot}); null when it could not be told. */
  readonly boot: string | null;
  /** The run's fsync policy: `always`, `interval` or `never`. */
  readonly fsync: string;
  /** Identity of the data dir ({@link identityOf}). */
  readonly dir: string;
  /** Identity of each file, by name: short for an open run, full for a clean one. */
  readonly files: Readonly<Record<string, string>>;
  /** The TCP port the run served the dir on; absent when it was not told (`-p 0`). */
  readonly port?: number;
  /**
   * The address the run listened on (`-a` as the listen resolved it: `127.0.0.1`, `::1`,
   * `0.0.0.0`); absent with {@link port}, or in a record of a kv before addresses.
   */
  readonly address?: string;
  /**
   * When the run was last alive, in ms since the epoch by its clock (see the module docs);
   * absent in a record of a kv before the stamp.
   */
  readonly alive?: number;
}

/** What a start finds now, to judge the last run's record against. */
export interface RunNow {
  /** This boot ({@link currentBoot}); undefined when it cannot be told. */
  readonly boot: string | undefined;
  /** Identity of the data dir. */
  readonly dir: string;
  /** The lock file, which holds the record, was written by another program since (dir_lock.ts). */
  readonly lockWrittenByOther: boolean;
  /**
   * The lock file held a pid alone, as a kv from before run records leaves it (dir_lock.ts):
   * such a dir has no record to judge. A lock file missing or empty, or holding this kv's
   * pid field without a record, was left by no run that finished its start.
   */
  readonly lockOfOlderKv: boolean;
  /** Full identity of each file the record may name, by name (see {@link identityOf}). */
  readonly files: Readonly<Record<string, string>>;
  /** The TCP port this start serves the dir on; undefined when not told (`-p 0`). */
  readonly port?: number;
  /** The address this start listens on ({@link RunRecord.address}); undefined when not told. */
  readonly address?: string;
}

/**
 * The boot of the machine's kernel this process runs in, told each way this process may:
 * `id:` and the kernel's boot id when it may read {@link BOOT_ID_PATH} (Deno lets only
 * `--allow-all` read /proc), `at:` and the instant the machine booted, in ms, from the clock
 * and the uptime when it may read the uptime (`--allow-sys=osUptime`, which `kv server`
 * runs with), both separated by a space when it may do both; undefined when nothing tells.
 * Both are kept so that a start under other permissions than the last run (`deno run -A`,
 * then the task's) still has a way in common with it ({@link sameBoot}).
 *
 * @example
 * ```ts
 * await currentBoot(); // "at:1796203963577", or "id:72dc… at:1796203963577" under -A
 * ```
 */
export async function currentBoot(): Promise<string | undefined> {
  const ways: string[] = [];
  // Each permission is queried first: Deno would otherwise ask for it at a terminal.
  if (Deno.permissions.querySync({ name: "read", path: BOOT_ID_PATH }).state === "granted") {
    try {
      const id = (await Deno.readTextFile(BOOT_ID_PATH)).trim();
      if (/^[0-9a-f-]{36}$/.test(id)) ways.push(`id:${id}`);
    } catch {
      // Not Linux, or not --allow-all (--allow-read is not enough for /proc): the uptime tells.
    }
  }
  if (Deno.permissions.querySync({ name: "sys", kind: "osUptime" }).state === "granted") {
    ways.push(`at:${Date.now() - Deno.osUptime() * 1000}`);
  }
  return ways.length === 0 ? undefined : ways.join(" ");
}

/**
 * Whether boots `a` and `b` ({@link currentBoot}) are known to be the same: by the boot id
 * when both tell one, else by the boot instant when both tell one (within
 * {@link BOOT_TIME_TOLERANCE_MS}). Unknown, or told in no way common to both (a run with
 * /proc and without the uptime, one without /proc), is not known to be the same.
 *
 * @example
 * ```ts
 * sameBoot("at:1000", "at:2500"); // true
 * sameBoot("id:x at:1000", "at:1500"); // true: the instants agree
 * sameBoot("id:x", undefined); // false
 * ```
 */
export function sameBoot(a: string | null | undefined, b: string | null | undefined): boolean {
  return compareBoots(a, b) === "same";
}

/**
 * How boots `a` and `b` compare ({@link sameBoot}): `"unknown"` when either is unknown or
 * they have no way of telling in common.
 */
function compareBoots(
  a: string | null | undefined,
  b: string | null | undefined,
): "same" | "other" | "unknown" {
  if (a == null || b == null) return "unknown";
  const [ways, others] = [bootWays(a), bootWays(b)];
  if (ways.id !== undefined && others.id !== undefined) {
    return ways.id === others.id ? "same" : "other";
  }
  if (ways.at === undefined || others.at === undefined) return "unknown";
  return Math.abs(ways.at - others.at) <= BOOT_TIME_TOLERANCE_MS ? "same" : "other";
}

/** The ways a boot ({@link currentBoot}) is told in: its boot id, its boot instant. */
function bootWays(boot: string): { id?: string; at?: number } {
  const ways: { id?: string; at?: number } = {};
  for (const way of boot.split(" ")) {
    if (way.startsWith("id:")) ways.id = way.slice(3);
    else if (way.startsWith("at:") && Number.isFinite(Number(way.slice(3)))) {
      ways.at = Number(way.slice(3));
    }
  }
  return ways;
}

/**
 * A file's or directory's identity from its `stat`: the inode number and creation time
 * (0 where the file system keeps none), which only the file system gives (see the module
 * docs); `full` adds the size, modification time and change time (ctime, which no program
 * sets back: a copy written over the file in place changes it), for files nobody should
 * have changed.
 *
 * @example
 * ```ts
 * identityOf(await Deno.stat("data"), false); // "2171881.1796240579305"
 * ```
 */
export function identityOf(info: Deno.FileInfo, full: boolean): string {
  const short = `${info.ino ?? 0}.${info.birthtime?.getTime() ?? 0}`;
  if (!full) return short;
  return `${short}.${info.size}.${info.mtime?.getTime() ?? 0}.${info.ctime?.getTime() ?? 0}`;
}

/**
 * The size in bytes a full identity ({@link identityOf}) records; undefined for a short one,
 * which records none.
 *
 * @example
 * ```ts
 * sizeOfIdentity("5.1.44.9.9"); // 44
 * sizeOfIdentity("5.1"); // undefined
 * ```
 */
export function sizeOfIdentity(identity: string): number | undefined {
  const size = identity.split(".")[2];
  return size === undefined ? undefined : Number(size);
}

/** The short identity within a full one (see {@link identityOf}). */
function shortOf(identity: string): string {
  return identity.split(".").slice(0, 2).join(".");
}

/**
 * The record's line: JSON, a space, the CRC-32C of the JSON in 8 hex digits. When more
 * files than fit are named (compactions that kept failing leave a log each), the oldest
 * are kept by their short identity, then, if that is not enough, left out: the newest are
 * enough to tell, and a file left out of a clean record would be judged to have appeared.
 *
 * @example
 * ```ts
 * encodeRunRecord({ run: "clean", boot: null, fsync: "always", dir: "1.0", files: {} });
 * ```
 */
export function encodeRunRecord(record: RunRecord): string {
  const json = JSON.stringify({ format: RUN_RECORD_FORMAT, ...record });
  const line = `${json} ${checksum(json)}`;
  if (line.length <= MAX_RECORD_CHARS) return line;
  const names = Object.keys(record.files).sort();
  const full = names.find((name) => record.files[name] !== shortOf(record.files[name]));
  const files = full !== undefined
    ? { ...record.files, [full]: shortOf(record.files[full]) }
    : Object.fromEntries(names.slice(1).map((name) => [name, record.files[name]]));
  return encodeRunRecord({ ...record, files });
}

/**
 * The record in `line`, or `"unreadable"` when it is not one this kv wrote whole.
 *
 * @example
 * ```ts
 * decodeRunRecord("garbage"); // "unreadable"
 * ```
 */
export function decodeRunRecord(line: string): RunRecord | "unreadable" {
  const space = line.lastIndexOf(" ");
  const json = line.slice(0, space);
  if (space < 0 || line.slice(space + 1) !== checksum(json)) return "unreadable";
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json);
  } catch {
    return "unreadable";
  }
  const { format, run, boot, fsync, dir, files, port, address, alive } = parsed;
  const isText = (value: unknown) => typeof value === "string";
  if (
    format !== RUN_RECORD_FORMAT || (run !== "open" && run !== "clean") ||
    !(boot === null || isText(boot)) || !isText(fsync) || !isText(dir) ||
    typeof files !== "object" || files === null || !Object.values(files).every(isText) ||
    !(port === undefined || (Number.isInteger(port) && port as number > 0)) ||
    !(address === undefined || (isText(address) && address !== "")) ||
    !(alive === undefined || (Number.isSafeInteger(alive) && alive as number >= 0))
  ) {
    return "unreadable";
  }
  return {
    run,
    boot: boot as string | null,
    fsync: fsync as string,
    dir: dir as string,
    files: files as Record<string, string>,
    // A record of a kv before ports were recorded has none: nothing to compare.
    ...(port === undefined ? {} : { port: port as number }),
    ...(address === undefined ? {} : { address: address as string }),
    // A record of a kv before the stamp has none: its downtime is not judged.
    ...(alive === undefined ? {} : { alive: alive as number }),
  };
}

function checksum(json: string): string {
  return crc32c(new TextEncoder().encode(json)).toString(16).padStart(8, "0");
}

/**
 * Why the data dir may lack writes the server acknowledged, judging the record `last` (the
 * last run's; undefined when there is none) against what the start finds `now`; undefined
 * when nothing says so. See the module docs for the rules; the reason is a clause for the
 * line the server logs.
 *
 * @example
 * ```ts
 * const none = { boot: undefined, dir: "1.0", lockWrittenByOther: false, lockOfOlderKv: false };
 * judgeLastRun(undefined, { ...none, files: {} }); // undefined: a new dir
 * judgeLastRun(undefined, { ...none, files: { "log-0000000001.kvlog": "5.1.44.9.9" } }); // "its LOCK file holds no run record, …"
 * ```
 */
export function judgeLastRun(
  last: RunRecord | "unreadable" | undefined,
  now: RunNow,
): string | undefined {
  if (last === undefined) {
    if (now.lockOfOlderKv || !holdsData(now.files)) return undefined;
    return "its LOCK file holds no run record, yet the dir holds data (LOCK was left out of a " +
      "copy or restore, or emptied; or a start on it stopped before recording its run), so " +
      "the data dir may be older than what the server acknowledged";
  }
  if (last === "unreadable") {
    return "the run record in its LOCK file is unreadable (torn by a crash, or not written " +
      "by kv), so nothing tells whether the last run lost writes";
  }
  if (shortOf(last.dir) !== shortOf(now.dir)) {
    return "the data dir is not the directory the last run used (another inode or creation " +
      "time: a copy, a restore, or a move to another file system), so it may be older than " +
      "what the server acknowledged";
  }
  const elsewhere = servedElsewhere(last, now);
  if (elsewhere !== undefined) {
    // The server list places keys by address: a dir served on another port or address than
    // its own answers for another server's keys (two dirs swapped between servers by mistake).
    return `the data dir was last served on ${elsewhere.was}, not ${elsewhere.now} (another ` +
      "server's data dir, swapped by mistake? if so, stop and give each server its own; " +
      "if the server moved on purpose, the repair of the new server list refills it), so " +
      "it may not hold what this server acknowledged";
  }
  if (now.lockWrittenByOther) {
    return "its LOCK file was written by another program after the last run wrote it " +
      "(its change time is later: a copy put over the data dir's files, or a chmod or chown " +
      "of them, which no kv server can tell from one), so the data dir may be older than " +
      "what the server acknowledged";
  }
  const changed = last.run === "clean"
    ? changedSinceClean(last, now)
    : replacedSinceOpen(last, now);
  if (changed !== undefined) {
    return `${changed} since the last run (a copy or a restore, or a chmod or chown of it, ` +
      "which no kv server can tell from one), so the data dir may be older than what the " +
      "server acknowledged";
  }
  if (last.run === "clean" || last.fsync === "always" || sameBoot(last.boot, now.boot)) {
    return undefined;
  }
  const restarted = compareBoots(last.boot, now.boot) === "unknown"
    ? "nothing tells whether the machine restarted since (no boot id: see kv server --help)"
    : "the machine has restarted since";
  return `the last run on it (--fsync ${last.fsync}) did not stop cleanly and ${restarted}: ` +
    "a power loss or kernel crash takes what it acknowledged but had not yet fsynced";
}

/**
 * Whether a data dir whose files are `files` (by name, as {@link RunNow.files}) holds data:
 * a log or a snapshot, anything but the node state.
 *
 * @example
 * ```ts
 * holdsData({ "node-state.json": "5.1.2.3.4" }); // false
 * holdsData({ "log-0000000001.kvlog": "5.1.44.9.9" }); // true
 * ```
 */
export function holdsData(files: Readonly<Record<string, string>>): boolean {
  return Object.keys(files).some((name) => name !== NODE_STATE_FILE);
}

/** Addresses that listen on every address of the machine: they name no one address. */
const WILDCARD_ADDRESSES: readonly string[] = ["0.0.0.0", "::"];

/**
 * Where the last run served the dir and where this start serves it, in words, when they
 * differ; else undefined (or when either run was not told its port). Ports alone
 * (`port 8001`, `8000`) unless both runs listened on one address, not a wildcard, and
 * those differ (`127.0.0.2:8000`, `127.0.0.1:8000`): two servers of one machine on one port
 * and different addresses.
 */
function servedElsewhere(last: RunRecord, now: RunNow): { was: string; now: string } | undefined {
  if (last.port === undefined || now.port === undefined) return undefined;
  const [was, is] = [last.address, now.address];
  const addressed = was !== undefined && is !== undefined &&
    !WILDCARD_ADDRESSES.includes(was) && !WILDCARD_ADDRESSES.includes(is);
  if (addressed && was !== is) {
    return { was: hostPort(was, last.port), now: hostPort(is, now.port) };
  }
  if (last.port === now.port) return undefined;
  return { was: `port ${last.port}`, now: `${now.port}` };
}

/**
 * What changed under a running server in its data dir, in words, judged as a start in the
 * same boot would judge `open` (the run's last open record) if the server died now; else
 * undefined. A server checks it before it records a clean stop: files a copy or a restore
 * put over the dir while it ran (it went on writing the ones it has open) must not be
 * recorded as the ones it stopped cleanly with, or the next start would trust them.
 *
 * @example
 * ```ts
 * const open = { run: "open", boot: null, fsync: "always", dir: "5.0", files: { "log-1": "7.1" } } as const;
 * changedUnderRun(open, { dir: "5.0", files: { "log-1": "9.2.10.3.3" } }); // "log-1 was replaced"
 * ```
 */
export function changedUnderRun(
  open: RunRecord,
  now: { readonly dir: string; readonly files: Readonly<Record<string, string>> },
): string | undefined {
  invariant(open.run === "open", "a running server judges its open record");
  if (shortOf(open.dir) !== shortOf(now.dir)) return "the data dir was replaced or moved";
  return replacedSinceOpen(open, {
    ...now,
    boot: undefined,
    lockWrittenByOther: false,
    lockOfOlderKv: false,
  });
}

/**
 * The first file added, missing or changed since a clean stop, in words; else undefined. A
 * file the record keeps by its short identity (one of too many, see encodeRunRecord) is
 * compared by that.
 */
function changedSinceClean(last: RunRecord, now: RunNow): string | undefined {
  const names = new Set([...Object.keys(last.files), ...Object.keys(now.files)]);
  for (const name of [...names].sort()) {
    const [was, is] = [last.files[name], now.files[name]];
    if (was === is) continue;
    if (was !== undefined && is !== undefined && was === shortOf(was) && was === shortOf(is)) {
      continue;
    }
    if (was === undefined) return `${name} appeared`;
    return is === undefined ? `${name} went missing` : `${name} changed`;
  }
  return undefined;
}

/**
 * The first recorded file still there but replaced or changed since a run that did not stop
 * cleanly, or that none is left; else undefined. The run went on writing its newest log,
 * recorded by its short identity (inode and creation time); the others it recorded in
 * full, as they were done with (a snapshot, a log before the newest).
 */
function replacedSinceOpen(last: RunRecord, now: RunNow): string | undefined {
  const recorded = Object.keys(last.files).sort();
  const left = recorded.filter((name) => now.files[name] !== undefined);
  if (recorded.length > 0 && left.length === 0) return "none of the files it used is left";
  for (const name of left) {
    const [was, is] = [last.files[name], now.files[name]];
    if (shortOf(is) !== shortOf(was)) return `${name} was replaced`;
    if (was !== shortOf(was) && is !== was) return `${name} changed`;
  }
  return undefined;
}

/**
 * Longest time between two last-alive stamps of a running server, in ms (10 minutes): a
 * crash leaves a stamp at most this old, so a refusal after one comes at most this early
 * (a clean stop stamps its own moment). One 1 KB write of LOCK in place, fsynced, per
 * interval — 144 a day — is nothing a server notices.
 */
export const MAX_ALIVE_STAMP_INTERVAL_MS = 10 * 60_000;

/**
 * The most of a tombstone grace the stamp interval and the margin each take, as a divisor:
 * a quarter. A short grace (seconds, as tests use) is stamped and judged as closely.
 */
export const GRACE_DIVISOR = 4;

/**
 * How far ahead of the clock a last-alive stamp may be before the start warns that it
 * cannot tell the downtime, in ms: the steps NTP makes to a clock are far smaller.
 */
export const ALIVE_AHEAD_TOLERANCE_MS = 60_000;

/**
 * How often a running server stamps its run record's `alive`, for `graceMs`, its
 * `--tombstone-grace`: {@link MAX_ALIVE_STAMP_INTERVAL_MS}, or a quarter of a shorter grace.
 *
 * @example
 * ```ts
 * aliveStampInterval(86_400_000); // 600000
 * aliveStampInterval(2_000); // 500
 * ```
 */
export function aliveStampInterval(graceMs: number): number {
  return Math.min(MAX_ALIVE_STAMP_INTERVAL_MS, graceMs / GRACE_DIVISOR);
}

/**
 * What the downtime judgement takes off the grace, in ms: a server takes a write stamped up
 * to `MAX_WRITE_LAG_MS` (a minute) behind its clock, so the others may purge a tombstone
 * that much before the grace after its delete has run out; a quarter of a grace shorter
 * than four of those.
 *
 * @example
 * ```ts
 * downtimeMargin(86_400_000); // 60000
 * downtimeMargin(2_000); // 500
 * ```
 */
export function downtimeMargin(graceMs: number): number {
  return Math.min(MAX_WRITE_LAG_MS, graceMs / GRACE_DIVISOR);
}

/** What a start finds now, to judge the last run's last-alive stamp against. */
export interface DowntimeNow {
  /** This start's clock, in ms since the epoch. */
  readonly nowMs: number;
  /** This start's tombstone grace (`--tombstone-grace`), in ms. */
  readonly graceMs: number;
  /** The data dir holds a log or a snapshot: something a stale dir would bring back. */
  readonly holdsData: boolean;
  /** The cluster's k recorded in the dir (node_state.ts); 0 when none is. */
  readonly k: number;
  /** The lock file held an older kv's pid alone ({@link RunNow.lockOfOlderKv}). */
  readonly lockOfOlderKv: boolean;
  /**
   * When the dir's logs and snapshots were last written ({@link lastWritten}), in ms since
   * the epoch; undefined when none tells.
   */
  readonly writtenMs: number | undefined;
}

/**
 * A verdict of {@link judgeDowntime}: `stale`, out longer than the grace allows (refused
 * unless the operator keeps it); `only copy`, as long but the recorded k is 1 (started, with
 * a warning); `ahead`, a stamp ahead of the clock (started, with a warning). `byFiles`: told
 * by when the files were last written, the dir having no run record to tell.
 */
export type Downtime =
  & (
    | { readonly verdict: "stale" | "only copy"; readonly downMs: number }
    | { readonly verdict: "ahead"; readonly aheadMs: number }
  )
  & { readonly byFiles?: true };

/**
 * How long the data dir was out of the cluster, judged by the last run's `alive` stamp, or,
 * when LOCK holds no readable record, by when its logs and snapshots were last written (see
 * the module docs): undefined when that is within the grace less {@link downtimeMargin}, or
 * when nothing is judged (no data; a record without a stamp or an older kv's pid alone; no
 * time written).
 *
 * @example
 * ```ts
 * const last = { run: "clean", boot: null, fsync: "always", dir: "1.0", files: {}, alive: 0 } as const;
 * const now = { nowMs: 2 * 86_400_000, graceMs: 86_400_000, holdsData: true, k: 2, lockOfOlderKv: false, writtenMs: 0 };
 * judgeDowntime(last, now); // { verdict: "stale", downMs: 172800000 }
 * judgeDowntime(last, { ...now, k: 1 }); // { verdict: "only copy", downMs: 172800000 }
 * judgeDowntime(last, { ...now, nowMs: 3_600_000 }); // undefined
 * judgeDowntime(undefined, now); // { verdict: "stale", downMs: 172800000, byFiles: true }
 * ```
 */
export function judgeDowntime(
  last: RunRecord | "unreadable" | undefined,
  now: DowntimeNow,
): Downtime | undefined {
  if (!now.holdsData) return undefined;
  const byFiles = last === undefined || last === "unreadable";
  const since = byFiles ? (now.lockOfOlderKv ? undefined : now.writtenMs) : last.alive;
  if (since === undefined) return undefined;
  const told = byFiles ? { byFiles } as const : {};
  const downMs = now.nowMs - since;
  if (-downMs > ALIVE_AHEAD_TOLERANCE_MS) return { verdict: "ahead", aheadMs: -downMs, ...told };
  if (downMs <= now.graceMs - downtimeMargin(now.graceMs)) return undefined;
  return { verdict: now.k === 1 ? "only copy" : "stale", downMs, ...told };
}

/**
 * When the logs and snapshots among `files` (full identities by name, as
 * {@link RunNow.files}) were last written: the newest modification time, in ms since the
 * epoch; undefined when none has one (a short identity, a file system keeping none). Not
 * the node state's: it holds no record, and a start rewrites it.
 *
 * @example
 * ```ts
 * lastWritten({ "log-0000000002.kvlog": "5.1.44.9000.9000", "node-state.json": "6.1.80.9900.9900" }); // 9000
 * ```
 */
export function lastWritten(files: Readonly<Record<string, string>>): number | undefined {
  const times = Object.entries(files)
    .filter(([name]) => name !== NODE_STATE_FILE)
    .map(([, identity]) => Number(identity.split(".")[3] ?? 0))
    .filter((time) => time > 0);
  return times.length === 0 ? undefined : Math.max(...times);
}

/**
 * The shortest time out of the cluster a running server judges ({@link runningDowntimeLimit}),
 * in ms (a minute): a gap between two of its alive ticks this long is a process stopped or
 * frozen (SIGSTOP, a paused container), a machine suspended, or a disk refusing writes,
 * never an event loop held
 * by a loaded machine (a tick comes seconds late at worst). A grace short enough for a
 * shorter limit (seconds, as tests use) is judged by this one while running, by its own at
 * start.
 */
export const MIN_RUNNING_DOWNTIME_MS = 60_000;

/**
 * How long a running server may go without being alive (its process running, its store
 * taking writes) before it stops ({@link describeDowntime} `running`), for `graceMs`, its
 * `--tombstone-grace`: what a start allows, the grace less {@link downtimeMargin}, but at
 * least {@link MIN_RUNNING_DOWNTIME_MS}.
 *
 * @example
 * ```ts
 * runningDowntimeLimit(86_400_000); // 86340000
 * runningDowntimeLimit(2_000); // 60000
 * ```
 */
export function runningDowntimeLimit(graceMs: number): number {
  return Math.max(graceMs - downtimeMargin(graceMs), MIN_RUNNING_DOWNTIME_MS);
}

/**
 * A reading of the clocks a running server measures its time away by ({@link timeAway}):
 * the wall clock, which its stamps are in and a start judges them by, and a clock of the
 * time the machine's kernel counted, which no one sets ({@link AliveClock}).
 */
export interface AliveReading {
  /** The wall clock, in ms since the epoch (`Date.now()`). */
  readonly wallMs: number;
  /** The kernel's elapsed time, in ms from an origin of its own: see {@link aliveClockOf}. */
  readonly elapsedMs: number;
}

/** Where a running server reads its {@link AliveReading}s ({@link systemAliveClock}). */
export interface AliveClock {
  /** Both clocks, now. */
  read(): AliveReading;
}

/** What an {@link AliveClock} reads: each clock as a function, for tests to give their own. */
export interface AliveClockSources {
  /** The wall clock, in ms since the epoch. */
  readonly wallMs: () => number;
  /** A monotonic clock in ms that does not count a suspend (`performance.now()`). */
  readonly monoMs: () => number;
  /**
   * The machine's uptime in whole seconds, counting the time it was suspended and set by
   * no one (Linux `sysinfo`, `Deno.osUptime()`); undefined when it may not be read.
   */
  readonly uptimeSeconds?: () => number;
}

/**
 * The {@link AliveClock} over `sources`: its elapsed time is the uptime when it may be
 * read, else the monotonic clock. The uptime is Linux's `CLOCK_BOOTTIME` (the monotonic
 * clock plus every suspend), rounded up to the second: a machine suspended (a laptop's lid
 * shut, a VM suspended by its guest) stops the monotonic clock but not it, and a wall-clock
 * step moves neither. Its whole seconds are nothing against the minute a running server
 * judges at least ({@link MIN_RUNNING_DOWNTIME_MS}).
 *
 * @example
 * ```ts
 * const clock = aliveClockOf({ wallMs: () => 5_000, monoMs: () => 10, uptimeSeconds: () => 7 });
 * clock.read(); // { wallMs: 5000, elapsedMs: 7000 }
 * ```
 */
export function aliveClockOf(sources: AliveClockSources): AliveClock {
  const { wallMs, monoMs, uptimeSeconds } = sources;
  if (uptimeSeconds === undefined) {
    return { read: () => ({ wallMs: wallMs(), elapsedMs: monoMs() }) };
  }
  return { read: () => ({ wallMs: wallMs(), elapsedMs: uptimeSeconds() * 1_000 }) };
}

/**
 * This machine's {@link AliveClock}: the uptime, on Linux, when this process may read it
 * (`--allow-sys=osUptime`, which `kv server` runs with), else `performance.now()`. Not the
 * uptime elsewhere: Deno tells it there as the wall clock less the boot's time, which a
 * wall-clock step may move. Chosen once: a store measures every gap on one clock.
 *
 * @example
 * ```ts
 * systemAliveClock().read(); // { wallMs: 1796203963577, elapsedMs: 27136000 }
 * ```
 */
export function systemAliveClock(): AliveClock {
  const uptime = Deno.build.os === "linux" &&
    // Queried first: Deno would otherwise ask for it at a terminal.
    Deno.permissions.querySync({ name: "sys", kind: "osUptime" }).state === "granted";
  return aliveClockOf({
    wallMs: () => Date.now(),
    monoMs: () => performance.now(),
    uptimeSeconds: uptime ? () => Deno.osUptime() : undefined,
  });
}

/**
 * How long a running server was away between the readings `since` and `now`
 * ({@link AliveClock}), in ms: the smaller of the wall clock's gap and the elapsed time's.
 * The elapsed time keeps a wall-clock step (NTP) from counting as time away; the wall
 * clock keeps the verdict one its next start agrees with, as a start judges the stamp by
 * the wall clock alone (in a suspend the kernel moves both on by the time slept).
 *
 * @example
 * ```ts
 * timeAway({ wallMs: 0, elapsedMs: 0 }, { wallMs: 120_000, elapsedMs: 120_000 }); // 120000: stopped, or suspended
 * timeAway({ wallMs: 0, elapsedMs: 0 }, { wallMs: 120_000, elapsedMs: 500 }); // 500: the wall clock stepped
 * ```
 */
export function timeAway(since: AliveReading, now: AliveReading): number {
  return Math.min(now.wallMs - since.wallMs, now.elapsedMs - since.elapsedMs);
}

/**
 * What a stale dir's server must do, said at the end of a refusal: empty the dir, or keep
 * it only when it holds its keys' only copy.
 */
const STALE_DIR_REMEDY = "move the dir aside or empty it and start again (it starts " +
  "unrepaired, and kv repair refills it from the other replicas), or, only when no other " +
  "replica holds its keys (k = 1, or every replica lost), start with --keep-stale-data";

/**
 * What a start says of `downtime` ({@link judgeDowntime}) of the data dir `dir` under the
 * grace `graceMs`: the reason it refuses a `stale` one (unless `kept`, `--keep-stale-data`),
 * or the warning it starts with; one line, naming what to do. `running`: said by a running
 * server that found itself out as long (its process stopped or frozen, its machine
 * suspended, or its disk refusing writes), which stops rather than refuses, or serves on.
 *
 * @example
 * ```ts
 * describeDowntime({ verdict: "stale", downMs: 172_800_000 }, { dir: "data", graceMs: 86_400_000, kept: false });
 * // "data dir data was last alive 2 days ago, longer than its tombstone grace allows (--tombstone-grace 24 hours, less 60 seconds): …"
 * ```
 */
export function describeDowntime(
  downtime: Downtime,
  { dir, graceMs, kept, running = false }: {
    dir: string;
    graceMs: number;
    kept: boolean;
    running?: boolean;
  },
): string {
  invariant(!(running && downtime.byFiles), "a running server judges by its own clocks");
  const grace = `--tombstone-grace ${describeSpan(graceMs)}`;
  if (downtime.verdict === "ahead") {
    const ahead = `${describeSpan(downtime.aheadMs)} ahead of this server's clock`;
    const what = downtime.byFiles
      ? `data dir ${dir} holds no readable run record in LOCK, and its newest log or ` +
        `snapshot was written ${ahead} (the clock was set back, or the files came from a ` +
        "machine whose clock ran ahead)"
      : `data dir ${dir}'s last-alive stamp (in LOCK) is ${ahead} (the clock was set back, ` +
        "or the last run's ran ahead)";
    return `${what}, so how long it was out of the cluster cannot be told: if longer than ` +
      `the grace (${grace}), stop this server, empty the dir and start again (see ` +
      "--keep-stale-data in kv server --help)";
  }
  const away = `${describeAway(downtime, dir, running)}, longer than its tombstone grace ` +
    `allows (${grace}, less ${describeSpan(downtimeMargin(graceMs))})`;
  const goesOn = running ? "serving on with its data" : "started with its data";
  if (downtime.verdict === "only copy") {
    return `${away}: ${goesOn}, as the cluster's k recorded in it is 1 (no other ` +
      "replica holds its keys); a delete of one of them another server took while it was " +
      "down (a sloppy quorum) and has purged since comes back";
  }
  if (kept) {
    return `${away}: ${goesOn}, as --keep-stale-data asks; records deleted ` +
      "meanwhile whose tombstones the other replicas purged come back";
  }
  const served = running
    ? "serving on it would bring those records back (and kv repair would spread them); " +
      "stopped without stamping the dir alive, so its next start is refused too: "
    : "served again it would bring those records back (and kv repair would spread them); ";
  const refusal = `${away}: the other replicas may have purged the tombstones of deletes ` +
    `it missed, and ${served}${STALE_DIR_REMEDY}`;
  return downtime.byFiles ? `${refusal}; ${IDLE_DIR_REMEDY}` : refusal;
}

/**
 * What a refusal by the files' age adds: an idle server's files are as old though it was
 * never away, and only the operator knows whether this one was.
 */
const IDLE_DIR_REMEDY = "files this old are also those of a server that ran until just now " +
  "and took no write for as long: if this one did, and only its LOCK was lost, " +
  "--keep-stale-data starts it as it is";

/**
 * How long `downtime` ({@link describeDowntime}) kept the data dir `dir` away, and how that
 * is known, in words: by the stamp, by the files' age, or found by a running server.
 */
function describeAway(
  downtime: Downtime & { readonly downMs: number },
  dir: string,
  running: boolean,
): string {
  const span = describeSpan(downtime.downMs);
  if (running) {
    return `data dir ${dir} was out of the cluster for ${span} while this server ran (its ` +
      "process stopped or frozen, its machine suspended, or its disk refusing writes)";
  }
  if (!downtime.byFiles) return `data dir ${dir} was last alive ${span} ago`;
  return `data dir ${dir} holds no readable run record in LOCK (left out of a copy or a ` +
    `restore, deleted, or torn), and its logs and snapshots were last written ${span} ago`;
}

/** Units {@link describeSpan} tells a span in, largest first, with their ms. */
const SPAN_UNITS: readonly (readonly [string, number])[] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1_000],
];

/**
 * `ms` in the largest unit that keeps it two or more, rounded down, so that rounding takes
 * at most half of it: `2 days`, `47 hours`, `24 hours`, `90 seconds`, `1500 ms`.
 */
function describeSpan(ms: number): string {
  const unit = SPAN_UNITS.find(([, size]) => ms >= 2 * size);
  if (unit === undefined) return `${Math.floor(ms)} ms`;
  return counted(Math.floor(ms / unit[1]), unit[0]);
}
