/**
 * The append-only storage log: every effective PUT and DELETE a kv server
 * accepts, in order, each entry with its own length and CRC-32C, so a replay
 * can tell a complete entry from one a crash cut short.
 *
 * ## On-disk format (version 2); all integers big-endian
 *
 * File header, {@link LOG_HEADER_BYTES} = 16 bytes:
 *
 * | offset | size | field                                                        |
 * |--------|------|--------------------------------------------------------------|
 * | 0      | 8    | magic `4B 56 4C 4F 47 0D 0A 1A` (`"KVLOG\r\n\x1a"`)          |
 * | 8      | 2    | format version, u16 = {@link LOG_FORMAT_VERSION}             |
 * | 10     | 2    | flags, u16 = 0 (reserved)                                    |
 * | 12     | 4    | generation, u32 (the same number as in the file name)        |
 *
 * Then entries, back to back, to the end of the file:
 *
 * | offset | size | field                                                        |
 * |--------|------|--------------------------------------------------------------|
 * | 0      | 4    | CRC-32C of bytes `[4, 8 + N)`: the length field and the body |
 * | 4      | 4    | body length N, u32                                           |
 * | 8      | 1    | kind: `0x01` PUT, `0x02` DELETE, `0x03` PURGE                |
 * | 9      | 4    | key length K, u32, at most MAX_KEY_BYTES                     |
 * | 13     | K    | key, UTF-8                                                   |
 * | 13 + K | 12   | the write's version (lib/record/version.ts)                  |
 * | 25 + K | rest | PUT only: the value as encoded by value_codec (N − 17 − K bytes) |
 *
 * A DELETE (a tombstone) has no value: its body is exactly `17 + K` bytes. A PURGE (DELETE's
 * purge flag: the key's record or tombstone removed entirely, when not newer than the
 * version) is laid out as a DELETE; it came with protocol version 4, within format 2, so a
 * kv from before it would skip one as a damaged entry. An entry is at most
 * {@link MAX_LOG_ENTRY_BYTES}: room for a value as large as the biggest default
 * protocol frame plus the longest key.
 *
 * Format version 1, written before versions existed, is read too: its entries have no
 * version field (a PUT's record takes the base version; a DELETE removed the key). The
 * store rewrites a data dir holding one as soon as it has read it.
 *
 * ## Recovery rules
 *
 * - The header is written to a temporary file, fsynced and renamed into place
 *   ({@link StorageLog.create}), so a crash never leaves a log with a partial
 *   header. A file that is too short for a header, has the wrong magic or an
 *   unknown version is therefore *not a kv log we wrote*: opening it throws a
 *   {@link LogFormatError} rather than truncating a file we do not understand.
 * - After the header, an entry that is incomplete (a torn write), has a length
 *   out of range, a checksum mismatch or a body that does not decode is
 *   damaged, and so is one whose value the store refuses (the store validates
 *   values; this module decodes them only to find where a damaged entry ends).
 *   Replay resumes where the damaged entry's own bytes say it ends: its length,
 *   when its checksum vouches for it or an intact entry follows there, or the end
 *   of its body decoded by its structure (kind, key, version, a value whose
 *   encoding says where it ends), when an intact entry follows there (a damaged
 *   length). An entry that starts as one (a header that makes sense) but neither
 *   its length nor its body ends within the file was cut short by a crash: the
 *   tail, whatever its bytes hold. Never is an entry looked for inside it: a value
 *   may hold any bytes, a whole entry's too, and a write torn after such bytes
 *   replayed them as entries (a key never written, a version years ahead, a
 *   tombstone of a key written). Only when the bytes do not tell (a header that
 *   makes no sense, a body that does not decode) does replay look byte by byte
 *   for the next intact entry (one whose header makes sense — a length that fits
 *   the file and its kind, a key within its limit — and whose CRC-32C matches: a
 *   false match has odds of 2^-32), checksumming only where the header makes
 *   sense: a value's bytes rarely do, so the search costs little more than
 *   reading them; there alone can bit rot inside a value that holds an entry's
 *   bytes still bring them back. Either way:
 *   - none follows: the damage is the tail a crash tore. The file is truncated
 *     there with a warning, as Redis's `aof-load-truncated` does, rather than
 *     refusing to start;
 *   - one follows: the damage is in the middle (a bad disk block, not a crash).
 *     Only the damaged bytes are skipped, with a warning; every intact entry
 *     after them is replayed and the file is left as it is, so no entry that
 *     can still be read is ever lost.
 *
 * @example
 * ```ts
 * import { BASE_VERSION } from "../record/version.ts";
 * import { StorageLog } from "./storage_log.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int } from "../record/value.ts";
 * const log = await StorageLog.create("/tmp/kv/log-00000001.kvlog", 1);
 * log.appendPut("age", encodeValue(int(22)), BASE_VERSION);
 * await log.flush();
 * await log.close();
 * const { replay } = await StorageLog.open("/tmp/kv/log-00000001.kvlog", console.log);
 * replay.entryCount; // 1
 * ```
 * @module
 */
import { dirname } from "node:path";
import { invariant } from "../base/invariant.ts";
import {
  ByteReader,
  ByteWriter,
  DecodeError,
  LimitExceededError,
  readU32,
  writeAll,
} from "../base/bytes.ts";
import { DEFAULT_MAX_FRAME_BYTES, MAX_KEY_BYTES } from "../limits.ts";
import { crc32c } from "../base/crc32.ts";
import { utf8Length } from "../base/utf8.ts";
import { readValue } from "../record/value_codec.ts";
import {
  BASE_VERSION,
  readVersion,
  type Version,
  VERSION_BYTES,
  writeVersion,
} from "../record/version.ts";

/** First eight bytes of every log file: "KVLOG", then CR LF and ^Z to expose text-mode mangling. */
export const LOG_MAGIC: Uint8Array = Uint8Array.of(0x4b, 0x56, 0x4c, 0x4f, 0x47, 0x0d, 0x0a, 0x1a);

/** The log format version this module writes. */
export const LOG_FORMAT_VERSION = 2;

/** The oldest log format version this module reads (1: entries without versions). */
export const OLDEST_LOG_FORMAT_VERSION = 1;

/** Size of the file header: magic, version, flags, generation. */
export const LOG_HEADER_BYTES = 16;

/** Bytes of an entry besides its key and value: CRC, length, kind, key length, version. */
export const LOG_ENTRY_OVERHEAD_BYTES: number = 13 + VERSION_BYTES;

/** Largest encoded value one PUT entry holds: the default protocol frame limit (16 MiB). */
export const MAX_LOG_VALUE_BYTES: number = DEFAULT_MAX_FRAME_BYTES;

/** Largest whole entry; anything longer found during a replay is corruption. */
export const MAX_LOG_ENTRY_BYTES: number = LOG_ENTRY_OVERHEAD_BYTES + MAX_KEY_BYTES +
  MAX_LOG_VALUE_BYTES;

/** Size of each read while replaying a log or loading a snapshot (grows for a larger entry). */
export const READ_CHUNK_BYTES = 1024 * 1024;

/** Kind byte of each log entry. */
export const LogEntryKind = { put: 0x01, delete: 0x02, purge: 0x03 } as const;

/** Byte offsets inside an entry. */
const LENGTH_OFFSET = 4;

/** Most characters of a key that a refusal quotes: a key may be a kilobyte long. */
const MAX_QUOTED_KEY_CHARS = 64;
const BODY_OFFSET = 8;
/** Kind byte plus key length: the smallest possible body (format 1; format 2 adds a version). */
const MIN_BODY_BYTES = 5;
const MAX_BODY_BYTES = MAX_LOG_ENTRY_BYTES - BODY_OFFSET;

/**
 * One mutation read back from a log. A PUT's value stays in its wire encoding, a view
 * into the replay's read buffer that is valid only during the `onEntry` call: the store
 * stores it from those bytes (validating them) without building a Value. A PUT of a
 * format 1 log has the base version; a DELETE of one has none (it removed the key).
 */
export type LogEntry =
  | {
    readonly kind: "put";
    readonly key: string;
    readonly encodedValue: Uint8Array;
    readonly version: Version;
  }
  | { readonly kind: "delete"; readonly key: string; readonly version: Version | undefined }
  | { readonly kind: "purge"; readonly key: string; readonly version: Version };

/** What a replay found. */
export interface LogReplay {
  /** The generation recorded in the file header. */
  generation: number;
  /** The format version in the file header. */
  formatVersion: number;
  /** Intact entries replayed. */
  entryCount: number;
  /** File length after any truncation: where the next entry will be written. */
  byteLength: number;
  /** Bytes cut off the end because they were torn or corrupt; 0 for a clean log. */
  truncatedBytes: number;
  /** Damaged bytes in the middle of the log, skipped (and left in the file). */
  skippedBytes: number;
  /**
   * The bytes cut off are one write that the file's end cut short, and nothing else damaged:
   * an entry (its header, or its body by its own structure) running past the end of the
   * file. What a process killed while writing leaves (SIGKILL stops a large write() between
   * pages; the write never returned), or a full disk's partial write whose cut failed — and
   * what a power loss leaves of a write the page cache held (see the store).
   */
  cutWrite: boolean;
  /** What was cut off or skipped and why, for the operator; absent for a clean log. */
  warning?: string;
}

/**
 * A file that is not a kv storage log of a version this code reads; it is left untouched
 * (a torn or corrupt tail of a real log is no such error: it is cut off on open).
 *
 * @example
 * ```ts
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello, not a log\n");
 * try {
 *   await StorageLog.open(path, () => {});
 * } catch (error) {
 *   (error as LogFormatError).message; // "/tmp/… is not a kv storage log (wrong magic bytes);
 *   // left untouched: move it out of the data directory if it does not belong there"
 * }
 * ```
 */
export class LogFormatError extends Error {
  /** An error saying why the file is no log this code reads. */
  constructor(message: string) {
    super(message);
    this.name = "LogFormatError";
  }
}

/**
 * Throws a LimitExceededError unless a PUT of `key` with a value of
 * `valueByteLength` encoded bytes fits in one log entry. Callers check before mutating anything,
 * so a refused put changes neither memory nor disk.
 *
 * @example
 * ```ts
 * checkLogEntrySize("person1", 120); // fine
 * checkLogEntrySize("person1", 64 * 1024 * 1024); // throws LimitExceededError
 * ```
 */
export function checkLogEntrySize(key: string, valueByteLength: number): void {
  if (valueByteLength > MAX_LOG_VALUE_BYTES) {
    throw new LimitExceededError(
      `value of '${
        key.slice(0, MAX_QUOTED_KEY_CHARS)
      }' is ${valueByteLength} bytes encoded, over the storage ` +
        `limit of ${MAX_LOG_VALUE_BYTES}`,
    );
  }
  // The entry format bounds the key's length only: keys reach the log checked already.
  // UTF-8 needs at most 3 bytes per UTF-16 code unit: only long keys need counting.
  if (key.length * 3 > MAX_KEY_BYTES && utf8Length(key) > MAX_KEY_BYTES) {
    throw new LimitExceededError(
      `key '${key.slice(0, MAX_QUOTED_KEY_CHARS)}…' is over the limit of ${MAX_KEY_BYTES} bytes`,
    );
  }
}

/**
 * Reads a file sequentially through one reusable buffer, so replaying a log
 * or loading a snapshot needs memory for one chunk (or the largest entry),
 * not for the whole file. Shared by the log and the snapshot reader.
 *
 * @example
 * ```ts
 * const file = await Deno.open("/tmp/kv/snapshot-00000002.kvsnap");
 * const reader = new FileChunkReader(file);
 * if (await reader.fill(4)) reader.consume(4);
 * ```
 */
export class FileChunkReader {
  readonly #file: Deno.FsFile;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #fileOffset: number;
  #endOfFile = false;

  /**
   * A reader of `file` holding nothing yet.
   *
   * @param file an open file, read from its current position
   * @param startOffset the file offset of that position (for {@link offset}); default 0
   */
  constructor(file: Deno.FsFile, startOffset = 0) {
    this.#file = file;
    this.#buffer = new Uint8Array(READ_CHUNK_BYTES);
    this.#fileOffset = startOffset;
  }

  /** The buffer holding the unconsumed bytes, which start at {@link start}. */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  /** Index in {@link buffer} of the first unconsumed byte. */
  get start(): number {
    return this.#start;
  }

  /** Unconsumed bytes in the buffer. */
  get available(): number {
    return this.#end - this.#start;
  }

  /** File offset of the first unconsumed byte. */
  get offset(): number {
    return this.#fileOffset;
  }

  /**
   * Marks `count` buffered bytes as used.
   *
   * @example
   * ```ts
   * const file = await Deno.open("/tmp/kv/log-0000000001.kvlog");
   * const reader = new FileChunkReader(file);
   * if (await reader.fill(LOG_HEADER_BYTES)) reader.consume(LOG_HEADER_BYTES);
   * reader.offset; // 16: the first entry starts here
   * file.close();
   * ```
   */
  consume(count: number): void {
    invariant(count <= this.available, "consumed more than was buffered");
    this.#start += count;
    this.#fileOffset += count;
  }

  /**
   * Reads until at least `minimum` bytes are buffered. Returns false when the
   * file ends first (what is there stays available). `minimum` must be
   * bounded by the caller: the buffer grows to hold it.
   *
   * @example
   * ```ts
   * const file = await Deno.open("/tmp/kv/log-0000000001.kvlog");
   * const reader = new FileChunkReader(file);
   * await reader.fill(LOG_HEADER_BYTES); // true: the file holds a whole header
   * reader.buffer.subarray(reader.start, reader.start + LOG_MAGIC.length); // the magic bytes
   * file.close();
   * ```
   */
  async fill(minimum: number): Promise<boolean> {
    if (this.available >= minimum) return true;
    if (this.#start + minimum > this.#buffer.length) {
      // Slide the unconsumed bytes to the front, growing the buffer if even that is too small.
      if (minimum > this.#buffer.length) {
        const grown = new Uint8Array(Math.max(minimum, this.#buffer.length * 2));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (!this.#endOfFile && this.available < minimum) {
      const count = await this.#file.read(this.#buffer.subarray(this.#end));
      if (count === null) this.#endOfFile = true;
      else this.#end += count;
    }
    return this.available >= minimum;
  }
}

/**
 * One log file open for appending. Appends go to an in-memory buffer;
 * {@link flush} writes everything buffered with one write, so a commit costs
 * one system call however many entries it carries. Not safe for concurrent
 * flushes: the owner (the Store) serializes them.
 *
 * @example
 * ```ts
 * const log = await StorageLog.create("/tmp/kv/log-00000001.kvlog", 1);
 * log.appendDelete("person1", { ms: Date.now(), counter: 0, broker: 1 });
 * await log.flush();
 * await log.sync();
 * await log.close();
 * ```
 */
export class StorageLog {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  readonly #generation: number;
  #byteLength: number;
  /** Entries appended since the last flush; swapped with the spare while a flush writes. */
  #pending = new ByteWriter(64 * 1024);
  #spare = new ByteWriter(64 * 1024);
  #flushing = false;
  /**
   * The last flush failed, perhaps after writing part of its bytes past {@link byteLength},
   * and cutting them off failed too: the next one cuts them off before writing again.
   */
  #torn = false;
  #closed = false;
  /** Where an entry's version is encoded before it is appended. */
  readonly #versionBytes = new Uint8Array(VERSION_BYTES);

  private constructor(file: Deno.FsFile, path: string, generation: number, byteLength: number) {
    this.#file = file;
    this.#path = path;
    this.#generation = generation;
    this.#byteLength = byteLength;
  }

  /**
   * Creates a new, empty log at `path`. The header goes to `path + ".tmp"`,
   * which is fsynced and renamed into place, and the directory is fsynced, so
   * after a crash the log either does not exist or has its whole header.
   * Throws if `path` already exists.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.byteLength; // 16: the header alone
   * await log.close();
   * ```
   */
  static async create(path: string, generation: number): Promise<StorageLog> {
    invariant(
      Number.isInteger(generation) && generation >= 1 && generation <= 0xffffffff,
      "a log generation is a whole number from 1 to 0xffffffff",
    );
    const header = new ByteWriter(LOG_HEADER_BYTES);
    header.raw(LOG_MAGIC);
    header.u16(LOG_FORMAT_VERSION);
    header.u16(0);
    header.u32(generation);
    const temporary = await AtomicFile.open(path);
    try {
      await writeAll(temporary.file, header.bytes());
      if (await pathExists(path)) throw new Error(`cannot create log ${path}: it already exists`);
      await temporary.commit();
    } catch (error) {
      await temporary.abandon();
      throw error;
    }
    const file = await Deno.open(path, { read: true, write: true });
    await file.seek(LOG_HEADER_BYTES, Deno.SeekMode.Start);
    return new StorageLog(file, path, generation, LOG_HEADER_BYTES);
  }

  /**
   * Opens an existing log, calls `onEntry` for every intact entry in order,
   * truncates a torn or corrupt tail (see the module docs), after awaiting
   * `beforeCut` (by default nothing), and returns the log ready to append after
   * the last intact entry.
   * Throws {@link LogFormatError} when the header is not ours.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const path = `${await Deno.makeTempDir()}/log-0000000001.kvlog`;
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const created = await StorageLog.create(path, 1);
   * created.appendPut("person1", encodeValue(int(22)), version);
   * await created.close();
   * const kinds: string[] = [];
   * const { log, replay } = await StorageLog.open(path, (entry) => kinds.push(entry.kind));
   * kinds; // ["put"]
   * replay.truncatedBytes; // 0: the log was intact
   * await log.close();
   * ```
   */
  static async open(
    path: string,
    onEntry: (entry: LogEntry) => void,
    beforeCut: () => Promise<void> = () => Promise.resolve(),
  ): Promise<{ log: StorageLog; replay: LogReplay }> {
    const file = await Deno.open(path, { read: true, write: true });
    try {
      const fileLength = (await file.stat()).size;
      const reader = new FileChunkReader(file);
      const { generation, formatVersion } = await readHeader(reader, path);
      const { entryCount, problem, skipped, intactLength, cutWrite } = await replayEntries(
        reader,
        fileLength,
        formatVersion,
        onEntry,
      );
      const byteLength = intactLength;
      const truncatedBytes = fileLength - byteLength;
      const skippedBytes = skipped.reduce((sum, region) => sum + region.byteCount, 0);
      const replay: LogReplay = {
        generation,
        formatVersion,
        entryCount,
        byteLength,
        truncatedBytes,
        skippedBytes,
        cutWrite,
      };
      const warnings = skipped.map((region) =>
        `log ${path}: skipped ${region.byteCount} damaged bytes at offset ${region.offset} ` +
        `(${region.problem}); the entries after them were replayed`
      );
      if (truncatedBytes > 0) {
        warnings.push(
          `log ${path}: dropped the last ${truncatedBytes} bytes after offset ` +
            `${byteLength} (${problem}); a write torn by a crash, or corruption`,
        );
        await beforeCut();
        await file.truncate(byteLength);
        await file.sync();
      }
      if (warnings.length > 0) replay.warning = warnings.join("; ");
      await file.seek(byteLength, Deno.SeekMode.Start);
      return { log: new StorageLog(file, path, generation, byteLength), replay };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Where the log lives. */
  get path(): string {
    return this.#path;
  }

  /** The generation in the header. */
  get generation(): number {
    return this.#generation;
  }

  /** Bytes written to the file so far (header included), not counting what is buffered. */
  get byteLength(): number {
    return this.#byteLength;
  }

  /** Bytes appended but not yet flushed. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /**
   * Buffers a PUT of `key` at `version` whose value is already encoded by value_codec.
   * Throws a LimitExceededError (buffering nothing) when the entry would be too large.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.appendPut("person1", encodeValue(int(22)), { ms: 1700000000000, counter: 0, broker: 1 });
   * log.pendingBytes; // the entry, buffered until flush
   * await log.close(); // flushes and fsyncs it
   * ```
   */
  appendPut(key: string, encodedValue: Uint8Array, version: Version): void {
    checkLogEntrySize(key, encodedValue.length);
    const start = this.#beginEntry(LogEntryKind.put, key, version);
    this.#pending.raw(encodedValue);
    this.#sealEntry(start);
  }

  /**
   * Buffers a DELETE (a tombstone) of `key` at `version`. Throws a LimitExceededError
   * (buffering nothing) when the key is too long.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.appendDelete("person1", { ms: 1700000000000, counter: 0, broker: 1 });
   * await log.close(); // the tombstone is on disk: a replay forgets person1's older writes
   * ```
   */
  appendDelete(key: string, version: Version): void {
    checkLogEntrySize(key, 0);
    this.#sealEntry(this.#beginEntry(LogEntryKind.delete, key, version));
  }

  /**
   * Buffers a PURGE of `key` up to `version`: its record or tombstone removed entirely.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * // The tombstone of person1 at this version is past its grace period: forget the key.
   * log.appendPurge("person1", { ms: 1700000000000, counter: 0, broker: 1 });
   * await log.close();
   * ```
   */
  appendPurge(key: string, version: Version): void {
    checkLogEntrySize(key, 0);
    this.#sealEntry(this.#beginEntry(LogEntryKind.purge, key, version));
  }

  #beginEntry(kind: number, key: string, version: Version): number {
    invariant(!this.#closed, "append to a closed log");
    writeVersion(this.#versionBytes, 0, version);
    const start = this.#pending.length;
    this.#pending.u32(0); // CRC, patched by #sealEntry
    this.#pending.u32(0); // body length, patched by #sealEntry
    this.#pending.u8(kind);
    this.#pending.string(key);
    this.#pending.raw(this.#versionBytes);
    return start;
  }

  #sealEntry(start: number): void {
    const bodyLength = this.#pending.length - start - BODY_OFFSET;
    invariant(
      bodyLength >= MIN_BODY_BYTES && bodyLength <= MAX_BODY_BYTES,
      "a log entry's body is within its bounds",
    );
    this.#pending.patchU32(start + LENGTH_OFFSET, bodyLength);
    const crc = crc32c(this.#pending.bytes().subarray(start + LENGTH_OFFSET));
    this.#pending.patchU32(start, crc);
  }

  /**
   * Writes everything appended so far with one write (repeated only if the
   * OS writes part of it). Appends made while it runs wait for the next flush.
   * When it fails (a full disk) nothing is lost from the buffer, and whatever part was
   * written is cut off at once — ftruncate needs no free space — so no torn tail stays
   * on disk to look like a crash at the next start. Should that cut fail too, the next
   * flush makes it first; either way a retry after the disk recovers leaves the file
   * exactly as if the first had succeeded.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.appendDelete("person1", { ms: 1700000000000, counter: 0, broker: 1 });
   * log.pendingBytes; // the entry's bytes, in memory
   * await log.flush(); // one write: pendingBytes is 0, byteLength counts them
   * await log.close();
   * ```
   */
  async flush(): Promise<void> {
    invariant(!this.#flushing, "concurrent flushes of one log");
    if (this.#pending.length === 0) return;
    const outgoing = this.#pending;
    const incoming = this.#spare;
    this.#pending = incoming;
    this.#flushing = true;
    try {
      if (this.#torn) {
        await this.#file.truncate(this.#byteLength);
        await this.#file.seek(this.#byteLength, Deno.SeekMode.Start);
        this.#torn = false;
      }
      await writeAll(this.#file, outgoing.bytes());
      this.#byteLength += outgoing.length;
      outgoing.reset();
      this.#spare = outgoing;
    } catch (error) {
      // Keep every byte, in order: those that failed, then those appended since.
      outgoing.raw(incoming.bytes());
      incoming.reset();
      this.#pending = outgoing;
      this.#spare = incoming;
      this.#torn = !await this.#cutBack();
      throw error;
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Cuts the file back to {@link byteLength}, its last whole entry, and moves the write
   * position there; false when that fails too (an I/O error), for the next flush to retry.
   */
  async #cutBack(): Promise<boolean> {
    try {
      await this.#file.truncate(this.#byteLength);
      await this.#file.seek(this.#byteLength, Deno.SeekMode.Start);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Forces flushed bytes to stable storage (fdatasync): they survive power loss.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.appendDelete("person1", { ms: 1700000000000, counter: 0, broker: 1 });
   * await log.flush(); // in the OS's cache: survives a crash of kv, not of the machine
   * await log.sync(); // on the disk: survives a power loss too
   * await log.close();
   * ```
   */
  async sync(): Promise<void> {
    await this.#file.syncData();
  }

  /**
   * Flushes, fsyncs and closes the file; later calls do nothing.
   *
   * @example
   * ```ts
   * const log = await StorageLog.create(`${await Deno.makeTempDir()}/log-0000000001.kvlog`, 1);
   * log.appendDelete("person1", { ms: 1700000000000, counter: 0, broker: 1 });
   * await log.close(); // the tombstone written and fsynced; appending now fails an invariant
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
      await this.sync();
    } finally {
      this.#closed = true;
      this.#file.close();
    }
  }
}

async function readHeader(
  reader: FileChunkReader,
  path: string,
): Promise<{ generation: number; formatVersion: number }> {
  if (!await reader.fill(LOG_HEADER_BYTES)) {
    throw new LogFormatError(
      `${path} is not a kv storage log: ${reader.available} bytes, shorter than the ` +
        `${LOG_HEADER_BYTES}-byte header; left untouched: move it out of the data directory ` +
        `if it does not belong there`,
    );
  }
  const header = reader.buffer.subarray(reader.start, reader.start + LOG_HEADER_BYTES);
  for (let index = 0; index < LOG_MAGIC.length; index++) {
    if (header[index] !== LOG_MAGIC[index]) {
      throw new LogFormatError(
        `${path} is not a kv storage log (wrong magic bytes); left untouched: move it out of ` +
          `the data directory if it does not belong there`,
      );
    }
  }
  const headerReader = new ByteReader(header, LOG_MAGIC.length);
  const formatVersion = headerReader.u16();
  if (formatVersion < OLDEST_LOG_FORMAT_VERSION || formatVersion > LOG_FORMAT_VERSION) {
    throw new LogFormatError(
      `${path} has log format version ${formatVersion}; this kv reads versions ` +
        `${OLDEST_LOG_FORMAT_VERSION} to ${LOG_FORMAT_VERSION}`,
    );
  }
  headerReader.u16();
  const generation = headerReader.u32();
  reader.consume(LOG_HEADER_BYTES);
  return { generation, formatVersion };
}

/** Damaged bytes in the middle of a log, skipped by a replay. */
interface SkippedRegion {
  readonly offset: number;
  readonly byteCount: number;
  readonly problem: string;
}

/**
 * Replays entries to the end of the file. A damaged entry followed by an intact
 * one is skipped (recorded in `skipped`); one followed by none is the torn tail,
 * which `problem` describes and which starts at `intactLength` (the file length
 * for a log without one); `cutWrite` when it is one write the file's end cut short.
 */
async function replayEntries(
  reader: FileChunkReader,
  fileLength: number,
  formatVersion: number,
  onEntry: (entry: LogEntry) => void,
): Promise<{
  entryCount: number;
  problem: string;
  skipped: SkippedRegion[];
  intactLength: number;
  cutWrite: boolean;
}> {
  let entryCount = 0;
  const skipped: SkippedRegion[] = [];
  while (true) {
    const read = await readEntry(reader, formatVersion);
    if (read.kind === "end") {
      return { entryCount, problem: "", skipped, intactLength: reader.offset, cutWrite: false };
    }
    let problem: string;
    /** Where the damaged entry ends, when its checksum vouches for its length. */
    let checkedEnd: number | undefined;
    if (read.kind === "entry") {
      try {
        onEntry(read.entry);
        reader.consume(read.byteCount);
        entryCount++;
        continue;
      } catch (error) {
        // A value the store cannot take (it checks what this module does not decode)
        // is damage like any other.
        if (!(error instanceof DecodeError)) throw error;
        problem = `an undecodable entry: ${error.message}`;
        checkedEnd = reader.offset + read.byteCount;
      }
    } else {
      problem = read.problem;
      if (read.byteCount !== undefined) checkedEnd = reader.offset + read.byteCount;
    }
    const offset = reader.offset;
    const resume = await resumeAfterDamage(reader, fileLength, formatVersion, checkedEnd);
    if (typeof resume !== "number") {
      const damagedBefore = skipped.length;
      const tail = tornTail(skipped, offset, problem);
      const cutWrite = resume === "cut" && skipped.length === damagedBefore;
      return { entryCount, ...tail, skipped, cutWrite };
    }
    skipped.push({ offset, byteCount: resume - offset, problem });
  }
}

/**
 * The torn tail that starts with the damage at `offset`: together with the damaged regions
 * just before it in `skipped` (removed from it), which no intact entry follows either.
 */
function tornTail(
  skipped: SkippedRegion[],
  offset: number,
  problem: string,
): { intactLength: number; problem: string } {
  let tail = { intactLength: offset, problem };
  for (let last = skipped.at(-1); last !== undefined; last = skipped.at(-1)) {
    if (last.offset + last.byteCount !== tail.intactLength) break;
    skipped.pop();
    tail = { intactLength: last.offset, problem: last.problem };
  }
  return tail;
}

/**
 * Moves the reader, at a damaged entry, to where replay resumes and returns that offset, or
 * `"cut"` when the entry is a write the file's end cut short (the tail), or undefined when
 * the damage is the tail otherwise. An entry's own bytes say where it ends, when they
 * can: its checksum, when only its decoding failed (`checkedEnd`); else its length field,
 * when an intact entry follows where it says, or its body, decoded by its structure (a
 * damaged length). Only when none can is the file searched byte by byte for the next intact
 * entry ({@link findNextEntry}) — never inside an entry a crash cut short: the bytes after
 * its header are its value's, which may hold anything, a whole entry's bytes too (a key
 * never written, a version years ahead, a tombstone of a key written), and a write torn
 * there replayed them as entries.
 */
async function resumeAfterDamage(
  reader: FileChunkReader,
  fileLength: number,
  formatVersion: number,
  checkedEnd: number | undefined,
): Promise<number | "cut" | undefined> {
  const end = checkedEnd ?? await endOfDamagedEntry(reader, fileLength, formatVersion);
  if (end === "torn") return "cut";
  if (end === fileLength) return undefined;
  if (end === undefined) return await findNextEntry(reader, fileLength, formatVersion);
  // Buffered already: read to tell where it ends.
  reader.consume(end - reader.offset);
  return end;
}

/**
 * Where the damaged entry at the reader's position ends (the file offset after it) as its
 * bytes tell, without consuming anything: the end its length field gives when that is the
 * file's or an intact entry starts there, else the end of its body as decoded by its
 * structure when that is the file's or an intact entry starts there; `"torn"` when it
 * starts as an entry ({@link headerLooksLikeEntry}) and neither its length nor its body ends
 * within the file — a write a crash cut short; undefined when its bytes do not tell.
 */
async function endOfDamagedEntry(
  reader: FileChunkReader,
  fileLength: number,
  formatVersion: number,
): Promise<number | "torn" | undefined> {
  const offset = reader.offset;
  // No damage but a cut leaves a file ending inside an entry's header: every entry is longer.
  if (!await reader.fill(BODY_OFFSET)) return "torn";
  const bodyLength = readU32(reader.buffer, reader.start + LENGTH_OFFSET);
  const claimedEnd = offset + BODY_OFFSET + bodyLength;
  const inRange = bodyLength >= MIN_BODY_BYTES && bodyLength <= MAX_BODY_BYTES;
  if (!await reader.fill(BODY_OFFSET + MIN_BODY_BYTES)) {
    return inRange && claimedEnd > fileLength ? "torn" : undefined;
  }
  const endsWell = async (end: number) =>
    end === fileLength || await intactEntryAt(reader, end - offset, formatVersion);
  // Whatever else is damaged (its kind byte, its key), a length an intact entry follows.
  if (inRange && claimedEnd <= fileLength && await endsWell(claimedEnd)) return claimedEnd;
  // Whatever its length field says (damaged), a body that ends where an intact entry follows.
  const bodyEnd = await endOfBody(reader, fileLength, formatVersion);
  if (bodyEnd !== undefined) return await endsWell(bodyEnd) ? bodyEnd : undefined;
  const cutShort = claimedEnd > fileLength &&
    headerLooksLikeEntry(reader.buffer, reader.start, formatVersion);
  return cutShort ? "torn" : undefined;
}

/** Bytes of a damaged entry first read to decode its body; more as the body needs them. */
const FIRST_BODY_READ_BYTES = 64 * 1024;

/**
 * The file offset where the body of the entry at the reader's position ends, decoded by its
 * own structure ({@link skipBody}), reading only as far as it needs (a whole entry's most
 * for every damaged entry cost a log with many of them a copy of 16 MiB each); undefined
 * when it does not decode within the file. Consumes nothing.
 */
async function endOfBody(
  reader: FileChunkReader,
  fileLength: number,
  formatVersion: number,
): Promise<number | undefined> {
  const offset = reader.offset;
  const most = Math.min(fileLength - offset, BODY_OFFSET + MAX_BODY_BYTES);
  let wanted = Math.min(most, FIRST_BODY_READ_BYTES);
  while (true) {
    await reader.fill(wanted);
    const start = reader.start;
    const body = new ByteReader(reader.buffer, start + BODY_OFFSET, start + reader.available);
    try {
      skipBody(body, formatVersion);
      return offset + (body.offset - start);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      // ByteReader says "truncated …" when the bytes ran out, whatever it was reading.
      if (!error.message.startsWith("truncated ") || reader.available >= most) return undefined;
      wanted = Math.min(most, reader.available * 2);
    }
  }
}

/**
 * Whether an intact entry starts `distance` bytes past the reader's position, without
 * consuming anything (the bytes up to its end stay buffered).
 */
async function intactEntryAt(
  reader: FileChunkReader,
  distance: number,
  formatVersion: number,
): Promise<boolean> {
  if (!await reader.fill(distance + BODY_OFFSET + MIN_BODY_BYTES)) return false;
  if (!headerLooksLikeEntry(reader.buffer, reader.start + distance, formatVersion)) return false;
  const bodyLength = readU32(reader.buffer, reader.start + distance + LENGTH_OFFSET);
  // fill() may move the bytes to a new buffer: read them after it.
  if (!await reader.fill(distance + BODY_OFFSET + bodyLength)) return false;
  const at = reader.start + distance;
  const entry = reader.buffer.subarray(at + LENGTH_OFFSET, at + BODY_OFFSET + bodyLength);
  return crc32c(entry) === readU32(reader.buffer, at);
}

type EntryRead =
  | { readonly kind: "entry"; readonly entry: LogEntry; readonly byteCount: number }
  | {
    readonly kind: "damaged";
    readonly problem: string;
    /** The entry's length, when its checksum vouches for it (only its decoding failed). */
    readonly byteCount?: number;
  }
  | { readonly kind: "end" };

/** Reads the entry (of a log of `formatVersion`) at the reader's position without consuming it. */
async function readEntry(reader: FileChunkReader, formatVersion: number): Promise<EntryRead> {
  if (!await reader.fill(BODY_OFFSET)) {
    return reader.available === 0
      ? { kind: "end" }
      : { kind: "damaged", problem: "an entry header cut short" };
  }
  const header = new DataView(reader.buffer.buffer, reader.buffer.byteOffset + reader.start);
  const expectedCrc = header.getUint32(0);
  const bodyLength = header.getUint32(LENGTH_OFFSET);
  if (bodyLength < MIN_BODY_BYTES || bodyLength > MAX_BODY_BYTES) {
    return { kind: "damaged", problem: `an entry length of ${bodyLength}, out of range` };
  }
  if (!await reader.fill(BODY_OFFSET + bodyLength)) {
    return { kind: "damaged", problem: "an entry cut short" };
  }
  // fill() may have moved the bytes to a new buffer.
  const entryStart = reader.start;
  const entryEnd = entryStart + BODY_OFFSET + bodyLength;
  const entryBytes = reader.buffer;
  if (crc32c(entryBytes.subarray(entryStart + LENGTH_OFFSET, entryEnd)) !== expectedCrc) {
    return { kind: "damaged", problem: "a checksum mismatch" };
  }
  try {
    const entry = decodeBody(
      new ByteReader(entryBytes, entryStart + BODY_OFFSET, entryEnd),
      formatVersion,
    );
    return { kind: "entry", entry, byteCount: BODY_OFFSET + bodyLength };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    return {
      kind: "damaged",
      problem: `an undecodable entry: ${error.message}`,
      byteCount: BODY_OFFSET + bodyLength,
    };
  }
}

/**
 * Moves the reader byte by byte past damage to the next intact entry and returns its
 * offset, or undefined (reader at the end) when none follows. Only positions that look
 * like an entry's start ({@link looksLikeEntry}) are checksummed, which a value's bytes
 * rarely do: checking every length in range that fits in the file, a checksum of up to
 * 16 MiB at one position in a few hundred of a value of floats, took a start many minutes
 * on a torn tail.
 */
async function findNextEntry(
  reader: FileChunkReader,
  fileLength: number,
  formatVersion: number,
): Promise<number | undefined> {
  while (true) {
    reader.consume(1);
    if (!await reader.fill(BODY_OFFSET + MIN_BODY_BYTES)) {
      reader.consume(reader.available);
      return undefined;
    }
    if (!looksLikeEntry(reader, fileLength, formatVersion)) continue;
    if ((await readEntry(reader, formatVersion)).kind === "entry") return reader.offset;
  }
}

/**
 * Whether the reader's next bytes (at least an entry's header and smallest body) could
 * start an entry that ends within the file: a length in range, a known kind, a key within
 * its limit, and a length that fits the kind (a DELETE's or PURGE's body is exactly its key
 * and version; a PUT's has a value after them). What passes is checksummed.
 */
function looksLikeEntry(reader: FileChunkReader, fileLength: number, formatVersion: number) {
  const bodyLength = readU32(reader.buffer, reader.start + LENGTH_OFFSET);
  return reader.offset + BODY_OFFSET + bodyLength <= fileLength &&
    headerLooksLikeEntry(reader.buffer, reader.start, formatVersion);
}

/**
 * Whether `bytes[at, at + 13)` could start an entry of a log of `formatVersion`, wherever
 * it ends: a length in range, a known kind, a key within its limit, and a length that fits
 * the kind (see {@link looksLikeEntry}).
 */
function headerLooksLikeEntry(bytes: Uint8Array, at: number, formatVersion: number): boolean {
  const bodyLength = readU32(bytes, at + LENGTH_OFFSET);
  if (bodyLength < MIN_BODY_BYTES || bodyLength > MAX_BODY_BYTES) return false;
  const kind = bytes[at + BODY_OFFSET];
  const keyLength = readU32(bytes, at + BODY_OFFSET + 1);
  if (keyLength > MAX_KEY_BYTES) return false;
  const keyAndVersion = MIN_BODY_BYTES + keyLength +
    (formatVersion === OLDEST_LOG_FORMAT_VERSION ? 0 : VERSION_BYTES);
  if (kind === LogEntryKind.put) return bodyLength > keyAndVersion;
  if (kind === LogEntryKind.delete || kind === LogEntryKind.purge) {
    return bodyLength === keyAndVersion;
  }
  return false;
}

function decodeBody(body: ByteReader, formatVersion: number): LogEntry {
  const kind = body.u8("entry kind");
  const key = body.string("key", MAX_KEY_BYTES);
  const version = formatVersion === OLDEST_LOG_FORMAT_VERSION
    ? undefined
    : readVersion(body.raw(VERSION_BYTES, "version"), 0);
  if (kind === LogEntryKind.delete || kind === LogEntryKind.purge) {
    if (body.remaining !== 0) throw new DecodeError(`${body.remaining} bytes after a DELETE key`);
    if (kind === LogEntryKind.delete) return { kind: "delete", key, version };
    if (version === undefined) throw new DecodeError("a PURGE in a log without versions");
    return { kind: "purge", key, version };
  }
  if (kind !== LogEntryKind.put) {
    throw new DecodeError(`unknown entry kind 0x${kind.toString(16).padStart(2, "0")}`);
  }
  // The value is the rest of the body; the store validates it as it stores it.
  const encodedValue = body.raw(body.remaining, "value");
  return { kind: "put", key, encodedValue, version: version ?? BASE_VERSION };
}

/**
 * Reads past an entry's body by its own structure — kind, key, version, and a PUT's value
 * as value_codec encodes it, which says where it ends — whatever the length field says;
 * a DecodeError when the bytes run out first (an entry cut short: no encoding of an entry
 * is the prefix of another's) or are no entry's body.
 */
function skipBody(body: ByteReader, formatVersion: number): void {
  const kind = body.u8("entry kind");
  body.string("key", MAX_KEY_BYTES);
  if (formatVersion !== OLDEST_LOG_FORMAT_VERSION) body.raw(VERSION_BYTES, "version");
  if (kind === LogEntryKind.put) readValue(body);
  else if (kind !== LogEntryKind.delete && kind !== LogEntryKind.purge) {
    throw new DecodeError(`unknown entry kind 0x${kind.toString(16).padStart(2, "0")}`);
  }
}

/**
 * The mode a data dir is made with: its owner's only. Its files hold every record, and a
 * directory others can enter would let any local user read them (PostgreSQL refuses to
 * start on such a dir, etcd makes it 0700).
 *
 * @example
 * ```ts
 * await Deno.mkdir("/tmp/kv", { recursive: true, mode: DATA_DIR_MODE });
 * ```
 */
export const DATA_DIR_MODE = 0o700;

/**
 * The mode every file of a data dir is created with (logs, snapshots, node-state.json,
 * LOCK, and their temporary files): its owner's only, as {@link DATA_DIR_MODE}.
 *
 * @example
 * ```ts
 * await Deno.open("/tmp/kv/a.tmp", { write: true, create: true, mode: DATA_FILE_MODE });
 * ```
 */
export const DATA_FILE_MODE = 0o600;

/**
 * A data dir file written whole or not at all: its bytes go to `path.tmp` (owner-only,
 * {@link DATA_FILE_MODE}), which {@link AtomicFile.commit} fsyncs and renames to `path`,
 * fsyncing the directory; after a crash `path` is either the old file (or none) or the
 * new one whole. {@link AtomicFile.abandon} removes the temporary file.
 *
 * @example
 * ```ts
 * import { writeAll } from "../base/bytes.ts";
 * const state = await AtomicFile.open("/tmp/kv/node-state.json");
 * try {
 *   await writeAll(state.file, new TextEncoder().encode("{}\n"));
 * } catch (error) {
 *   await state.abandon();
 *   throw error;
 * }
 * await state.commit();
 * ```
 */
export class AtomicFile {
  /** Whether the temporary file was closed (by a commit, which may fail after). */
  #closed = false;

  private constructor(
    /** The final path. */
    readonly path: string,
    /** The temporary file, open for writing. */
    readonly file: Deno.FsFile,
  ) {}

  /**
   * Creates (or truncates) `path.tmp` for writing.
   *
   * @example
   * ```ts
   * const snapshot = await AtomicFile.open("/tmp/kv/snapshot-0000000002.kvsnap");
   * ```
   */
  static async open(path: string): Promise<AtomicFile> {
    const file = await Deno.open(`${path}.tmp`, {
      write: true,
      create: true,
      truncate: true,
      mode: DATA_FILE_MODE,
    });
    return new AtomicFile(path, file);
  }

  /**
   * Fsyncs and closes the temporary file, renames it to the final path and fsyncs the
   * directory, which makes the rename durable.
   *
   * @example
   * ```ts
   * const file = await AtomicFile.open("/tmp/kv/a");
   * await file.commit(); // /tmp/kv/a now exists, empty
   * ```
   */
  async commit(): Promise<void> {
    try {
      await this.file.sync();
    } finally {
      this.#closed = true;
      this.file.close();
    }
    await Deno.rename(`${this.path}.tmp`, this.path);
    await syncDirectory(dirname(this.path));
  }

  /**
   * Closes and removes the temporary file, quietly: the error that made the caller give up
   * is the one to report (a full disk is no crash, and leaves nothing for the next start).
   *
   * @example
   * ```ts
   * const file = await AtomicFile.open("/tmp/kv/a");
   * await file.abandon(); // no /tmp/kv/a.tmp left
   * ```
   */
  async abandon(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.file.close();
    }
    await Deno.remove(`${this.path}.tmp`).catch(
      () => {/* the caller's error is the one to report */},
    );
  }
}

/** Fsyncs a directory, making the creation, rename or removal of its entries durable. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await Deno.open(path, { read: true });
  try {
    await directory.sync();
  } finally {
    directory.close();
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
