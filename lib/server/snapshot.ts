/**
 * Snapshots: every record of a store at one moment, written once and never
 * modified, so that a restart loads the snapshot and replays only the log
 * written since, instead of every mutation ever made.
 *
 * ## On-disk format (version 2); all integers big-endian
 *
 * Header, {@link SNAPSHOT_HEADER_BYTES} = 24 bytes:
 *
 * | offset | size | field                                                      |
 * |--------|------|------------------------------------------------------------|
 * | 0      | 8    | magic `4B 56 53 4E 50 0D 0A 1A` (`"KVSNP\r\n\x1a"`)        |
 * | 8      | 2    | format version, u16 = {@link SNAPSHOT_FORMAT_VERSION}      |
 * | 10     | 2    | flags, u16 = 0 (reserved)                                  |
 * | 12     | 4    | generation, u32 (the same number as in the file name)      |
 * | 16     | 8    | entry count R, i64                                         |
 *
 * Then R entries — records and tombstones — back to back, in key order:
 *
 * | size | field                                                                    |
 * |------|--------------------------------------------------------------------------|
 * | 4    | key length K, u32, at most MAX_KEY_BYTES                                 |
 * | K    | key, UTF-8                                                               |
 * | 12   | the version of the key's newest write (lib/record/version.ts)            |
 * | 4    | value length V, u32, at most MAX_LOG_VALUE_BYTES; `FF FF FF FF` for a    |
 * |      | tombstone, which has no value bytes                                      |
 * | V    | the value as encoded by value_codec                                      |
 *
 * Format version 1, written before versions existed, is read too: its entries are
 * records without the version field, and take the base version.
 *
 * Then a 4-byte trailer: the CRC-32C of every byte before it.
 *
 * A snapshot is encoded in memory ({@link encodeSnapshot}), then written to
 * `<path>.tmp`, fsynced, renamed to `<path>` and the directory fsynced
 * ({@link writeSnapshot}), so a file under its final name is
 * always complete. Reading one that is damaged in any way — wrong magic,
 * unknown version, cut short, bytes past the trailer, a checksum mismatch —
 * throws a {@link SnapshotFormatError}: unlike a log tail, a snapshot has no
 * prefix worth keeping, and guessing would silently lose records.
 *
 * @example
 * ```ts
 * import { encodeSnapshot, readSnapshot, writeSnapshot } from "./snapshot.ts";
 * import { int } from "../record/value.ts";
 * const path = "/tmp/kv/snapshot-0000000002.kvsnap";
 * await writeSnapshot(path, encodeSnapshot(2, [["age", int(22)]]));
 * await readSnapshot(path, (key, value) => console.log(key, decodeValue(value)));
 * ```
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "../base/bytes.ts";
import { crc32c } from "../base/crc32.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import {
  dirname,
  FileChunkReader,
  MAX_LOG_VALUE_BYTES,
  syncDirectory,
  writeAll,
} from "./storage_log.ts";
import { writeValue } from "../record/value_codec.ts";
import type { Value } from "../record/value.ts";
import {
  BASE_VERSION,
  readVersion,
  type Version,
  VERSION_BYTES,
  writeVersion,
} from "../record/version.ts";

/** First eight bytes of every snapshot: "KVSNP", then CR LF and ^Z to expose text-mode mangling. */
export const SNAPSHOT_MAGIC: Uint8Array = Uint8Array.of(
  0x4b,
  0x56,
  0x53,
  0x4e,
  0x50,
  0x0d,
  0x0a,
  0x1a,
);

/** The snapshot format version this module writes. */
export const SNAPSHOT_FORMAT_VERSION = 2;

/** The oldest snapshot format version this module reads (1: records without versions). */
export const OLDEST_SNAPSHOT_FORMAT_VERSION = 1;

/** The value length that marks a tombstone entry. */
const TOMBSTONE_LENGTH = 0xffff_ffff;

/** Size of the header: magic, version, flags, generation, record count. */
export const SNAPSHOT_HEADER_BYTES = 24;

/** Where the entry count sits in the header. */
const RECORD_COUNT_OFFSET = 16;

/** Size of the trailer: the CRC-32C of everything before it. */
export const SNAPSHOT_TRAILER_BYTES = 4;

/**
 * Bytes encoded before each write while saving a snapshot: large enough for
 * few system calls, small enough that the server's event loop gets a turn
 * between chunks.
 */
export const SNAPSHOT_WRITE_CHUNK_BYTES = 1024 * 1024;

/** A snapshot that is damaged or is not a kv snapshot of a version this code reads. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotFormatError";
  }
}

/** What a snapshot held. */
export interface SnapshotInfo {
  /** The generation recorded in the header. */
  generation: number;
  /** The format version in the header. */
  formatVersion: number;
  /** Entries read: records and tombstones. */
  entryCount: number;
  /** Size of the file in bytes. */
  byteLength: number;
}

/** A snapshot encoded in memory, ready for {@link writeSnapshot}. */
export interface EncodedSnapshot {
  /** The generation in the header. */
  readonly generation: number;
  /** Entries it holds: records and tombstones. */
  readonly entryCount: number;
  /** The file's bytes, header to trailer, in pieces of about {@link SNAPSHOT_WRITE_CHUNK_BYTES}. */
  readonly chunks: readonly Uint8Array[];
}

/** One entry of a snapshot: a record, or a tombstone when `value` is undefined. */
export interface SnapshotEntry {
  /** The record key. */
  readonly key: string;
  /** The record's value; undefined for a tombstone. */
  readonly value: Value | undefined;
  /** The version of the key's newest write. */
  readonly version: Version;
}

/**
 * Encodes `entries` as snapshot `generation`, consuming the iterable before
 * returning. The Store calls this with the trie's live iterator at the moment
 * it switches logs, so the snapshot is exactly the state the old logs built;
 * encoding eagerly means the trie may change again as soon as this returns.
 * Memory: the encoded snapshot, which is smaller than the records' values as
 * JS objects.
 *
 * @example
 * ```ts
 * const snapshot = encodeSnapshot(3, [{ key: "n", value: int(1), version: BASE_VERSION }]);
 * snapshot.entryCount; // 1
 * ```
 */
export function encodeSnapshot(
  generation: number,
  entries: Iterable<SnapshotEntry>,
): EncodedSnapshot {
  const chunks: Uint8Array[] = [];
  const newChunk = () => new ByteWriter(SNAPSHOT_WRITE_CHUNK_BYTES + 64 * 1024);
  let chunk = newChunk();
  chunk.raw(SNAPSHOT_MAGIC);
  chunk.u16(SNAPSHOT_FORMAT_VERSION);
  chunk.u16(0);
  chunk.u32(generation);
  chunk.i64(0); // entry count, patched below once known
  let entryCount = 0;
  const versionBytes = new Uint8Array(VERSION_BYTES);
  for (const { key, value, version } of entries) {
    chunk.string(key);
    writeVersion(versionBytes, 0, version);
    chunk.raw(versionBytes);
    if (value === undefined) {
      chunk.u32(TOMBSTONE_LENGTH);
    } else {
      const lengthAt = chunk.length;
      chunk.u32(0);
      writeValue(chunk, value);
      chunk.patchU32(lengthAt, chunk.length - lengthAt - 4);
    }
    entryCount++;
    if (chunk.length >= SNAPSHOT_WRITE_CHUNK_BYTES) {
      chunks.push(chunk.bytes());
      chunk = newChunk();
    }
  }
  chunks.push(chunk.bytes());
  const first = chunks[0];
  new DataView(first.buffer, first.byteOffset, first.byteLength).setBigInt64(
    RECORD_COUNT_OFFSET,
    BigInt(entryCount),
  );
  let crc = 0;
  for (const bytes of chunks) crc = crc32c(bytes, crc);
  const trailer = new ByteWriter(SNAPSHOT_TRAILER_BYTES);
  trailer.u32(crc);
  chunks.push(trailer.bytes());
  return { generation, entryCount, chunks };
}

/**
 * Writes `snapshot` as the file `path`: to `path + ".tmp"` chunk by chunk
 * (the event loop runs between chunks), fsync, rename over `path`, fsync the
 * directory. A crash at any point leaves either no file under `path` or the
 * complete one. Returns the file's size in bytes.
 *
 * @example
 * ```ts
 * const byteLength = await writeSnapshot(
 *   "/tmp/kv/snapshot-0000000003.kvsnap",
 *   encodeSnapshot(3, [{ key: "n", value: int(1), version: BASE_VERSION }]),
 * );
 * ```
 */
export async function writeSnapshot(path: string, snapshot: EncodedSnapshot): Promise<number> {
  const temporaryPath = `${path}.tmp`;
  const file = await Deno.open(temporaryPath, { write: true, create: true, truncate: true });
  let byteLength = 0;
  try {
    for (const bytes of snapshot.chunks) {
      await writeAll(file, bytes);
      byteLength += bytes.length;
    }
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temporaryPath).catch(() => {/* the write error is the one to report */});
    throw error;
  }
  file.close();
  await Deno.rename(temporaryPath, path);
  await syncDirectory(dirname(path));
  return byteLength;
}

/**
 * Reads the snapshot `path`, calling `onEntry` for each entry in file order with
 * the record's encoded value (undefined for a tombstone) and version. Throws a
 * {@link SnapshotFormatError} naming the file and the problem if it is damaged; by
 * then `onEntry` may have seen some entries.
 *
 * @example
 * ```ts
 * const trie = new RecordTrie();
 * await readSnapshot("/tmp/kv/snapshot-0000000003.kvsnap", (key, value, version) => {
 *   if (value === undefined) trie.tombstone(key, { version });
 *   else trie.putEncoded(key, value, { version });
 * });
 * ```
 */
export async function readSnapshot(
  path: string,
  onEntry: (key: string, encodedValue: Uint8Array | undefined, version: Version) => void,
): Promise<SnapshotInfo> {
  const file = await Deno.open(path, { read: true });
  try {
    const byteLength = (await file.stat()).size;
    const reader = new FileChunkReader(file);
    const fail = (problem: string): never => {
      throw new SnapshotFormatError(
        `snapshot ${path} is damaged or not a kv snapshot: ${problem} at byte ${reader.offset}`,
      );
    };
    if (!await reader.fill(SNAPSHOT_HEADER_BYTES)) fail("cut short in the header");
    const header = new ByteReader(
      reader.buffer,
      reader.start,
      reader.start + SNAPSHOT_HEADER_BYTES,
    );
    for (const expected of SNAPSHOT_MAGIC) if (header.u8() !== expected) fail("wrong magic bytes");
    const formatVersion = header.u16();
    if (formatVersion < OLDEST_SNAPSHOT_FORMAT_VERSION || formatVersion > SNAPSHOT_FORMAT_VERSION) {
      fail(
        `format version ${formatVersion}, this kv reads versions ` +
          `${OLDEST_SNAPSHOT_FORMAT_VERSION} to ${SNAPSHOT_FORMAT_VERSION}`,
      );
    }
    // Format 1 has no version field: its records take the base version.
    const versionBytes = formatVersion === OLDEST_SNAPSHOT_FORMAT_VERSION ? 0 : VERSION_BYTES;
    header.u16();
    const generation = header.u32();
    let entryCount = 0;
    try {
      entryCount = header.i64();
    } catch {
      fail("an entry count out of range");
    }
    if (entryCount < 0) fail(`a negative entry count ${entryCount}`);
    let crc = crc32c(reader.buffer.subarray(reader.start, reader.start + SNAPSHOT_HEADER_BYTES));
    reader.consume(SNAPSHOT_HEADER_BYTES);
    for (let index = 0; index < entryCount; index++) {
      if (!await reader.fill(4)) fail(`cut short in entry ${index}`);
      const keyLength = readU32(reader, 0);
      if (keyLength > MAX_KEY_BYTES) fail(`a key of ${keyLength} bytes`);
      const lengthAt = 4 + keyLength + versionBytes;
      if (!await reader.fill(lengthAt + 4)) fail(`cut short in entry ${index}`);
      const valueLength = readU32(reader, lengthAt);
      const tombstone = valueLength === TOMBSTONE_LENGTH && versionBytes > 0;
      if (!tombstone && valueLength > MAX_LOG_VALUE_BYTES) fail(`a value of ${valueLength} bytes`);
      const entryLength = lengthAt + 4 + (tombstone ? 0 : valueLength);
      if (!await reader.fill(entryLength)) fail(`cut short in entry ${index}`);
      const start = reader.start;
      const bytes = reader.buffer;
      crc = crc32c(bytes.subarray(start, start + entryLength), crc);
      try {
        const key = new ByteReader(bytes, start, start + 4 + keyLength).string("key");
        const version = versionBytes === 0
          ? BASE_VERSION
          : readVersion(bytes, start + 4 + keyLength);
        // The value is checked by whoever stores it: a DecodeError from onEntry.
        const value = tombstone
          ? undefined
          : bytes.subarray(start + lengthAt + 4, start + entryLength);
        onEntry(key, value, version);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        fail(`entry ${index} does not decode (${error.message})`);
      }
      reader.consume(entryLength);
    }
    if (!await reader.fill(SNAPSHOT_TRAILER_BYTES)) fail("cut short before the checksum");
    if (readU32(reader, 0) !== crc) fail("a checksum mismatch");
    reader.consume(SNAPSHOT_TRAILER_BYTES);
    if (await reader.fill(1)) fail("unexpected bytes after the checksum");
    return { generation, formatVersion, entryCount, byteLength };
  } finally {
    file.close();
  }
}

function readU32(reader: FileChunkReader, at: number): number {
  const bytes = reader.buffer;
  const index = reader.start + at;
  return ((bytes[index] << 24) | (bytes[index + 1] << 16) | (bytes[index + 2] << 8) |
    bytes[index + 3]) >>> 0;
}
