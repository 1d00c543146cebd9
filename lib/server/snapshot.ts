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
 * A snapshot is written from a {@link FrozenView} of the store's trie
 * ({@link writeFrozenSnapshot}) a slice at a time — each slice at most
 * {@link SNAPSHOT_SLICE_MS} of work, then the event loop runs — and handed to a worker
 * that writes `<path>.tmp` (a file write in Deno blocks its thread, for 100 ms or more
 * while the kernel flushes dirty pages), fsyncs it, renames it to `<path>` and fsyncs
 * the directory, so a file under its final name is always complete. The entry count is known before the first entry (the
 * keys at the freeze), so the header is written first and the checksum computed as the
 * bytes go out. Reading one that is damaged in any way — wrong magic,
 * unknown version, cut short, bytes past the trailer, a checksum mismatch —
 * throws a {@link SnapshotFormatError}: unlike a log tail, a snapshot has no
 * prefix worth keeping, and guessing would silently lose records.
 *
 * @example
 * ```ts
 * import { BASE_VERSION } from "../record/version.ts";
 * import { decodeValue } from "../record/value_codec.ts";
 * import { readSnapshot, writeSnapshot } from "./snapshot.ts";
 * import { int } from "../record/value.ts";
 * const path = "/tmp/kv/snapshot-0000000002.kvsnap";
 * await writeSnapshot(path, 2, [{ key: "age", value: int(22), version: BASE_VERSION }]);
 * await readSnapshot(path, (key, value) => {
 *   console.log(key, value === undefined ? "a tombstone" : decodeValue(value));
 * });
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { ByteReader, ByteWriter, DecodeError, readU32 } from "../base/bytes.ts";
import { crc32c } from "../base/crc32.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import { FileChunkReader, MAX_LOG_VALUE_BYTES } from "./storage_log.ts";
import { writeValue } from "../record/value_codec.ts";
import type { Value } from "../record/value.ts";
import type { FrozenView } from "../trie/mod.ts";
import type { FromSnapshotWorker, ToSnapshotWorker } from "./snapshot_worker.ts";
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

/** Size of the trailer: the CRC-32C of everything before it. */
export const SNAPSHOT_TRAILER_BYTES = 4;

/**
 * Bytes gathered before they are handed to the writing worker: large enough for few
 * messages and system calls, small enough that copying them out is far inside a slice.
 */
export const SNAPSHOT_WRITE_CHUNK_BYTES = 256 * 1024;

/**
 * Longest stretch of snapshot work between two turns of the event loop, in ms. A
 * snapshot must never stop the server answering for more than 50 ms. Short slices
 * with a pause between them ({@link SNAPSHOT_PAUSE_MS}) also keep the server from
 * looking CPU-bound to the scheduler, which on a busy machine answers a process that
 * sleeps often sooner: measured with tests/measure/snapshot_pauses.ts at load 12 on 2
 * cores, p99 PING 5–10 ms with 2 ms slices and 3 ms pauses, 19–34 ms with 5 ms and 2 ms,
 * for a snapshot of 1 000 000 records taking 10–15 s instead of 3–4 s.
 */
export const SNAPSHOT_SLICE_MS = 2;

/** Pause after a slice that wrote nothing, in ms; see {@link SNAPSHOT_SLICE_MS}. */
export const SNAPSHOT_PAUSE_MS = 3;

/**
 * A snapshot that is damaged or is not a kv snapshot of a version this code reads. The
 * server will not start on it (`kv server` reports it in one line and exits 2): the
 * data directory needs a person's look, not a silent fresh start.
 *
 * @example
 * ```ts
 * try {
 *   await readSnapshot("deno.json", () => {});
 * } catch (error) {
 *   (error as SnapshotFormatError).message;
 *   // "snapshot deno.json is damaged or not a kv snapshot: wrong magic bytes at byte 0;
 *   // restore the file or move the data dir aside"
 * }
 * ```
 */
export class SnapshotFormatError extends Error {
  /** An error saying what in the snapshot is wrong. */
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
 * One entry as {@link SnapshotWriter.add} takes it: the trie's EntryCursor (what a
 * frozen view hands over) has this shape, so entries go from the trie's arrays to the
 * file without a Value or a version object made.
 */
export interface SnapshotEntrySource {
  /** The key's UTF-8 bytes are `key[0, keyLength)`. */
  readonly key: Uint8Array;
  /** Length of the key in bytes. */
  readonly keyLength: number;
  /** A tombstone, without a value. */
  readonly tombstone: boolean;
  /** Appends the 12 bytes of the version (lib/record/version.ts). */
  writeVersion(writer: ByteWriter): void;
  /** Appends the record's value in the wire encoding. */
  writeValue(writer: ByteWriter): void;
}

/** Options for {@link writeFrozenSnapshot}. */
export interface FrozenSnapshotOptions {
  /** Stops the writing (the temporary file is removed) with the signal's reason; default never. */
  signal?: AbortSignal;
  /**
   * Called once every entry is written, before the file is renamed into place; what it
   * throws stops the writing as an abort does. Default: nothing.
   */
  beforeFinish?: () => void;
}

/**
 * One snapshot file being written: the header first (the entry count is known up
 * front), then entries encoded here and handed a chunk at a time to a worker
 * (./snapshot_worker.ts) that keeps the checksum and writes them, then the trailer,
 * fsync and rename. The file's writes never run on the caller's event loop: in Deno a
 * file write blocks its thread, for 100 ms or more while the kernel flushes dirty pages.
 * Not safe for concurrent calls: its owner awaits each.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "../trie/mod.ts";
 * import { int } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("person1", int(22));
 * const writer = await SnapshotWriter.create("/tmp/kv/snapshot-0000000003.kvsnap", 3, 1);
 * const cursor = trie.entryCursor();
 * if (cursor.next()) writer.add(cursor);
 * const byteLength = await writer.finish();
 * ```
 */
export class SnapshotWriter {
  readonly #worker: Worker;
  readonly #entryCount: number;
  #buffer = new ByteWriter(SNAPSHOT_WRITE_CHUNK_BYTES + 64 * 1024);
  #added = 0;
  #finished = false;

  private constructor(worker: Worker, generation: number, entryCount: number) {
    this.#worker = worker;
    this.#entryCount = entryCount;
    const header = this.#buffer;
    header.raw(SNAPSHOT_MAGIC);
    header.u16(SNAPSHOT_FORMAT_VERSION);
    header.u16(0);
    header.u32(generation);
    header.i64(entryCount);
  }

  /**
   * Starts the snapshot `path` (as `path + ".tmp"`) of generation `generation`, which
   * will hold exactly `entryCount` entries.
   *
   * @example
   * ```ts
   * // Generation 3, holding no entry: finish writes the header and trailer alone.
   * const writer = await SnapshotWriter.create("/tmp/kv/snapshot-0000000003.kvsnap", 3, 0);
   * await writer.finish(); // /tmp/kv/snapshot-0000000003.kvsnap is in place
   * ```
   */
  static async create(
    path: string,
    generation: number,
    entryCount: number,
  ): Promise<SnapshotWriter> {
    invariant(
      Number.isSafeInteger(entryCount) && entryCount >= 0,
      "a snapshot's entry count is a whole number",
    );
    const worker = new Worker(new URL("./snapshot_worker.ts", import.meta.url), {
      type: "module",
    });
    const writer = new SnapshotWriter(worker, generation, entryCount);
    try {
      await writer.#ask({ type: "open", path });
    } catch (error) {
      worker.terminate();
      throw error;
    }
    return writer;
  }

  /** Bytes appended but not yet handed to the worker. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  /**
   * Appends one entry: a record or a tombstone.
   *
   * @example
   * ```ts
   * import { RecordTrie } from "../trie/mod.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * const writer = await SnapshotWriter.create("/tmp/kv/snapshot-0000000003.kvsnap", 3, 1);
   * const cursor = trie.entryCursor();
   * while (cursor.next()) writer.add(cursor); // person1, 22, buffered
   * await writer.finish();
   * ```
   */
  add(entry: SnapshotEntrySource): void {
    invariant(this.#added < this.#entryCount, "more snapshot entries than announced");
    const keyLength = entry.keyLength;
    invariant(
      keyLength > 0 && keyLength <= MAX_KEY_BYTES,
      "a snapshot key is 1 to MAX_KEY_BYTES bytes",
    );
    const buffer = this.#buffer;
    buffer.u32(keyLength);
    buffer.raw(entry.key.subarray(0, keyLength));
    entry.writeVersion(buffer);
    if (entry.tombstone) {
      buffer.u32(TOMBSTONE_LENGTH);
    } else {
      const lengthAt = buffer.length;
      buffer.u32(0);
      entry.writeValue(buffer);
      const valueLength = buffer.length - lengthAt - 4;
      invariant(valueLength <= MAX_LOG_VALUE_BYTES, "a snapshot value fits a log entry");
      buffer.patchU32(lengthAt, valueLength);
    }
    this.#added++;
  }

  /**
   * Hands what is buffered to the worker and waits until it is written.
   *
   * @example
   * ```ts ignore
   * // As writeSnapshot does: hand the buffer over in chunks, so memory stays bounded.
   * writer.add(entry);
   * if (writer.bufferedBytes >= SNAPSHOT_WRITE_CHUNK_BYTES) await writer.flush();
   * ```
   */
  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    // A copy travels (transferred, not cloned again); the buffer takes the next entries.
    const bytes = this.#buffer.bytes().slice();
    this.#buffer.reset();
    await this.#ask({ type: "write", bytes }, [bytes.buffer]);
  }

  /**
   * Writes the rest and the trailer, fsyncs, closes, renames the file into place and
   * fsyncs the directory; returns the file's size. Every announced entry must have been
   * added.
   *
   * @example
   * ```ts
   * const writer = await SnapshotWriter.create("/tmp/kv/snapshot-0000000003.kvsnap", 3, 0);
   * const byteLength = await writer.finish(); // the header and trailer, all it holds
   * (await Deno.stat("/tmp/kv/snapshot-0000000003.kvsnap")).size === byteLength; // true
   * ```
   */
  async finish(): Promise<number> {
    invariant(this.#added === this.#entryCount, "fewer snapshot entries than announced");
    await this.flush();
    const byteLength = await this.#ask({ type: "finish" });
    this.#finished = true;
    this.#worker.terminate();
    return byteLength;
  }

  /**
   * Gives up: closes and removes the temporary file, leaving `path` as it was.
   *
   * @example
   * ```ts ignore
   * const writer = await SnapshotWriter.create(path, generation, entries.length);
   * try {
   *   for (const entry of entries) writer.add(entry);
   *   await writer.finish();
   * } catch (error) {
   *   await writer.abort(); // no snapshot-….kvsnap.tmp left behind; the old snapshot stands
   *   throw error;
   * }
   * ```
   */
  async abort(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#ask({ type: "abort" }).catch(() => {/* the first error is the one to report */});
    this.#worker.terminate();
  }

  /** Sends `message` to the worker and resolves with the bytes written so far. */
  #ask(message: ToSnapshotWorker, transfer: Transferable[] = []): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<FromSnapshotWorker>) => {
        const answer = event.data;
        if (answer.ok) resolve(answer.byteLength);
        else reject(Object.assign(new Error(answer.message), { code: answer.code }));
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        reject(new Error(`the snapshot worker failed: ${event.message}`));
      };
      this.#worker.postMessage(message, transfer);
    });
  }
}

/**
 * Writes the snapshot `path` of generation `generation` from `view`, a slice of at most
 * {@link SNAPSHOT_SLICE_MS} at a time with the event loop running between slices, and
 * returns its size. On any error or abort the temporary file is removed; `path` is only
 * ever the complete file. The caller closes `view`.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "../trie/mod.ts";
 * const trie = new RecordTrie();
 * const view = trie.freeze();
 * try {
 *   await writeFrozenSnapshot("/tmp/kv/snapshot-0000000004.kvsnap", 4, view);
 * } finally {
 *   view.close();
 * }
 * ```
 */
export async function writeFrozenSnapshot(
  path: string,
  generation: number,
  view: FrozenView,
  options: FrozenSnapshotOptions = {},
): Promise<number> {
  const writer = await SnapshotWriter.create(path, generation, view.entryCount);
  const add = (entry: SnapshotEntrySource) => writer.add(entry);
  try {
    while (!view.done) {
      options.signal?.throwIfAborted();
      const sliceEnd = performance.now() + SNAPSHOT_SLICE_MS;
      view.read(
        add,
        () => writer.bufferedBytes < SNAPSHOT_WRITE_CHUNK_BYTES && performance.now() < sliceEnd,
      );
      // A write runs off the event loop; with nothing to write, pause anyway.
      if (writer.bufferedBytes >= SNAPSHOT_WRITE_CHUNK_BYTES) await writer.flush();
      else await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_PAUSE_MS));
    }
    options.signal?.throwIfAborted();
    options.beforeFinish?.();
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Writes `entries` as the snapshot `path` of generation `generation` (temporary file,
 * fsync, rename, fsync of the directory) and returns its size: for tools and tests
 * that have the entries at hand; a store writes from a {@link FrozenView}.
 *
 * @example
 * ```ts
 * import { int } from "../record/value.ts";
 * import { BASE_VERSION } from "../record/version.ts";
 * const byteLength = await writeSnapshot(
 *   "/tmp/kv/snapshot-0000000003.kvsnap",
 *   3,
 *   [{ key: "n", value: int(1), version: BASE_VERSION }],
 * );
 * ```
 */
export async function writeSnapshot(
  path: string,
  generation: number,
  entries: readonly SnapshotEntry[],
): Promise<number> {
  const writer = await SnapshotWriter.create(path, generation, entries.length);
  try {
    const versionBytes = new Uint8Array(VERSION_BYTES);
    for (const { key, value, version: entryVersion } of entries) {
      const keyBytes = new TextEncoder().encode(key);
      writeVersion(versionBytes, 0, entryVersion);
      writer.add({
        key: keyBytes,
        keyLength: keyBytes.length,
        tombstone: value === undefined,
        writeVersion: (out) => out.raw(versionBytes),
        writeValue: (out) => writeValue(out, value!),
      });
      if (writer.bufferedBytes >= SNAPSHOT_WRITE_CHUNK_BYTES) await writer.flush();
    }
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Reads the snapshot `path`, calling `onEntry` for each entry in file order with
 * the record's encoded value (undefined for a tombstone) and version. Throws a
 * {@link SnapshotFormatError} naming the file and the problem if it is damaged; by
 * then `onEntry` may have seen some entries.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "../trie/mod.ts";
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
        `snapshot ${path} is damaged or not a kv snapshot: ${problem} at byte ${reader.offset}; ` +
          "restore the file or move the data dir aside",
      );
    };
    const { formatVersion, versionBytes, generation, entryCount } = await readHeader(reader, fail);
    let crc = crc32c(reader.buffer.subarray(reader.start, reader.start + SNAPSHOT_HEADER_BYTES));
    reader.consume(SNAPSHOT_HEADER_BYTES);
    for (let index = 0; index < entryCount; index++) {
      if (!await reader.fill(4)) fail(`cut short in entry ${index}`);
      const keyLength = readU32Of(reader, 0);
      if (keyLength > MAX_KEY_BYTES) fail(`a key of ${keyLength} bytes`);
      const lengthAt = 4 + keyLength + versionBytes;
      if (!await reader.fill(lengthAt + 4)) fail(`cut short in entry ${index}`);
      const valueLength = readU32Of(reader, lengthAt);
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
    await readTrailer(reader, crc, fail);
    return { generation, formatVersion, entryCount, byteLength };
  } finally {
    file.close();
  }
}

/**
 * Checks the header at the start of `reader`, which it leaves unconsumed (the checksum
 * covers it), and returns what it says; `fail` throws the damage it finds.
 */
async function readHeader(reader: FileChunkReader, fail: (problem: string) => never) {
  if (!await reader.fill(SNAPSHOT_HEADER_BYTES)) fail("cut short in the header");
  const header = new ByteReader(reader.buffer, reader.start, reader.start + SNAPSHOT_HEADER_BYTES);
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
  return { formatVersion, versionBytes, generation, entryCount };
}

/** Checks the trailer after the entries: their checksum `crc`, then the end of the file. */
async function readTrailer(
  reader: FileChunkReader,
  crc: number,
  fail: (problem: string) => never,
): Promise<void> {
  if (!await reader.fill(SNAPSHOT_TRAILER_BYTES)) fail("cut short before the checksum");
  if (readU32Of(reader, 0) !== crc) fail("a checksum mismatch");
  reader.consume(SNAPSHOT_TRAILER_BYTES);
  if (await reader.fill(1)) fail("unexpected bytes after the checksum");
}

/** The big-endian u32 `at` bytes into what `reader` holds; the caller filled them. */
function readU32Of(reader: FileChunkReader, at: number): number {
  return readU32(reader.buffer, reader.start + at);
}
