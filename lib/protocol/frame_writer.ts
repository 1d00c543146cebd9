/**
 * Writes frames (see docs/protocol.md): {@link FrameWriter} appends requests and
 * answers to one growing buffer, so that many go out in one write.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * const frames = new FrameWriter();
 * frames.get(1, "person1");
 * frames.bytes(); // 0000000b 04 00000001 00000007 706572736f6e31
 * ```
 * @module
 */
import { type KeysOptions } from "../record/key.ts";
import type { PathMiss } from "../record/query_path.ts";
import { MAX_PATH_SEGMENTS } from "../limits.ts";
import { ByteWriter, hexToBytes } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import type { Value } from "../record/value.ts";
import { writeValue } from "../record/value_codec.ts";
import { type Version, VERSION_BYTES, writeVersion } from "../record/version.ts";
import {
  AUTH_NONE,
  DELETE_FLAG_AGED,
  DELETE_FLAG_PURGE,
  type ErrorCodeNumber,
  FRAME_HEADER_BYTES,
  HELLO_CHALLENGE_BYTES,
  type HelloChallenge,
  HelloForm,
  type HelloResult,
  isNoList,
  LIST_FINGERPRINT_BYTES,
  LIST_FLAG_VALUES,
  LIST_PARTITIONS_BUDGET_BYTES,
  type ListingCursor,
  type ListPartitionsOptions,
  MAX_ERROR_MESSAGE_BYTES,
  MessageType,
  MissReason,
  PARTITION_BITMAP_BYTES,
  type PartitionDigestSource,
  PROTOCOL_VERSION,
  type PutManyRefusal,
  SERVER_ID_BYTES,
  type ServerStats,
  SET_K_FLAG_REPLACE,
  STATE_FLAG_UNREPAIRED,
  STATS_FLAG_READ_ONLY,
  WRITE_FLAG_REPAIR,
  type WriteOptions,
} from "./mod.ts";
import { MAX_PUT_MANY_ITEMS, PUT_FLAG_IF_ABSENT } from "./put_many.ts";

const textEncoder = new TextEncoder();

/** Where a frame's type byte is, after its u32 body length. */
const FRAME_TYPE_OFFSET = 4;

/**
 * Appends frames to one growing buffer, so that many messages go out in one
 * write. Encoders do not validate keys (see `checkKey` in lib/record/key.ts): a
 * server must refuse bad ones anyway, and a client checks before it writes.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * const frames = new FrameWriter();
 * frames.get(1, "person1");
 * frames.ping(2);
 * await conn.write(frames.bytes());
 * ```
 */
export class FrameWriter {
  readonly #out: ByteWriter;
  readonly #version = new Uint8Array(VERSION_BYTES);
  #frameCount = 0;

  /**
   * A writer of no frames yet, its buffer `capacity` bytes to start, growing as frames are written.
   *
   * @param capacity initial buffer size in bytes.
   */
  constructor(capacity?: number) {
    this.#out = new ByteWriter(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#out.length;
  }

  /** Frames written so far. */
  get frameCount(): number {
    return this.#frameCount;
  }

  /**
   * The frames written so far, as one view (valid until the next write or reset).
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.ping(2);
   * frames.bytes(); // Uint8Array [0, 0, 0, 0, 2, 0, 0, 0, 2]: docs/protocol.md's PING
   * ```
   */
  bytes(): Uint8Array {
    return this.#out.bytes();
  }

  /**
   * Forgets everything written, keeping the buffer.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.get(1, "person1");
   * frames.reset();
   * frames.length; // 0, and frameCount 0: the buffer is kept for the next batch
   * ```
   */
  reset(): void {
    this.#out.reset();
    this.#frameCount = 0;
  }

  #begin(type: number, requestId: number): number {
    const start = this.#out.length;
    this.#out.u32(0);
    this.#out.u8(type);
    this.#out.u32(requestId);
    return start;
  }

  #end(start: number): void {
    this.#out.patchU32(start, this.#out.length - start - FRAME_HEADER_BYTES);
    this.#frameCount++;
  }

  /**
   * Appends a frame with an already-encoded body.
   *
   * @example
   * ```ts
   * import { MessageType } from "./mod.ts";
   * const frames = new FrameWriter();
   * frames.frame(MessageType.PING, 1, new Uint8Array(0));
   * frames.bytes(); // 00000000 02 00000001: length 0, PING, request 1
   * ```
   */
  frame(type: number, requestId: number, body: Uint8Array): void {
    const start = this.#begin(type, requestId);
    this.#out.raw(body);
    this.#end(start);
  }

  /**
   * Appends HELLO, by default without authentication.
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.hello(1);
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "hello", requestId: 1, version: 8, authScheme: 0, auth: Uint8Array [] }
   * ```
   */
  hello(
    requestId: number,
    version: number = PROTOCOL_VERSION,
    authScheme: number = AUTH_NONE,
    auth: Uint8Array = new Uint8Array(0),
  ): void {
    const start = this.#begin(MessageType.HELLO, requestId);
    this.#out.u16(version);
    this.#out.u8(authScheme);
    this.#out.u32(auth.length);
    this.#out.raw(auth);
    this.#end(start);
  }

  /**
   * Appends PING.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.ping(1);
   * frames.ping(2); // two requests in one write
   * frames.frameCount; // 2
   * ```
   */
  ping(requestId: number): void {
    this.#end(this.#begin(MessageType.PING, requestId));
  }

  /**
   * Appends PUT at `options.version`; see {@link WriteOptions} for the flags.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * import { decodeRequest } from "./messages.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.put(1, "person1", int(22), { version });
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "put", requestId: 1, key: "person1", version, encodedValue: Uint8Array [2, 22],
   * //   overwrite: true, repair: false }
   * ```
   */
  put(requestId: number, key: string, value: Value, options: WriteOptions): void {
    if (options.purge === true) throw new RangeError("a PUT has no purge flag");
    const start = this.#writeHeader(MessageType.PUT, requestId, key, options);
    writeValue(this.#out, value);
    this.#end(start);
  }

  /**
   * Appends PUT with a value already encoded by `encodeValue`; see {@link WriteOptions}.
   *
   * @example
   * ```ts
   * import { encodeValue } from "../record/value_codec.ts";
   * import { str } from "../record/value.ts";
   * import { decodeRequest } from "./messages.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.putEncoded(1, "person1", encodeValue(str("Mary")), { version, overwrite: false });
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "put", requestId: 1, key: "person1", version, encodedValue: Uint8Array [1, 4, 77, 97, 114, 121],
   * //   overwrite: false, repair: false }
   * ```
   */
  putEncoded(
    requestId: number,
    key: string,
    encodedValue: Uint8Array,
    options: WriteOptions,
  ): void {
    if (options.purge === true) throw new RangeError("a PUT has no purge flag");
    const start = this.#writeHeader(MessageType.PUT, requestId, key, options);
    this.#out.raw(encodedValue);
    this.#end(start);
  }

  /** Begins a PUT or DELETE frame: flags, key, version. Returns where the frame starts. */
  #writeHeader(type: number, requestId: number, key: string, options: WriteOptions): number {
    writeVersion(this.#version, 0, options.version);
    const start = this.#begin(type, requestId);
    this.#out.u8(
      (options.overwrite === false ? PUT_FLAG_IF_ABSENT : 0) |
        (options.repair === true ? WRITE_FLAG_REPAIR : 0) |
        (options.purge === true ? DELETE_FLAG_PURGE : 0) |
        (options.aged === true ? DELETE_FLAG_AGED : 0),
    );
    this.#out.string(key);
    this.#out.raw(this.#version);
    return start;
  }

  /**
   * Appends PUT_MANY carrying `itemCount` (at least one) items, laid out as lib/protocol/put_many.ts says.
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * import { PutManyItems } from "./put_many.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const items = new PutManyItems();
   * items.add("person1", encodeValue(int(22)), { ms: 1700000000000, counter: 0, broker: 1 });
   * items.add("person2", encodeValue(int(30)), { ms: 1700000000000, counter: 1, broker: 1 });
   * const frames = new FrameWriter();
   * frames.putMany(1, items.itemCount, items.bytes());
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) }).type; // "putMany"
   * ```
   */
  putMany(requestId: number, itemCount: number, itemBytes: Uint8Array): void {
    if (!(itemCount >= 1 && itemCount <= MAX_PUT_MANY_ITEMS)) {
      throw new RangeError(`a PUT_MANY holds 1 to ${MAX_PUT_MANY_ITEMS} items, not ${itemCount}`);
    }
    const start = this.#begin(MessageType.PUT_MANY, requestId);
    this.#out.u32(itemCount);
    this.#out.raw(itemBytes);
    this.#end(start);
  }

  /**
   * Appends GET of `key`.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.get(5, "person1");
   * frames.length; // 20: the 9-byte header, then the key as a u32 length and 7 bytes
   * ```
   */
  get(requestId: number, key: string): void {
    const start = this.#begin(MessageType.GET, requestId);
    this.#out.string(key);
    this.#end(start);
  }

  /**
   * Appends QUERY.
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.query(1, ["person1", "age"]);
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "query", requestId: 1, path: ["person1", "age"] }
   * ```
   */
  query(requestId: number, path: readonly string[]): void {
    const start = this.#begin(MessageType.QUERY, requestId);
    this.#out.u8(path.length);
    for (const segment of path) this.#out.string(segment);
    this.#end(start);
  }

  /**
   * Appends DELETE at `options.version` (`overwrite` does not apply).
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.delete(1, "person1", { version });
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "delete", requestId: 1, key: "person1", version, repair: false, purge: false, aged: false }
   * ```
   */
  delete(requestId: number, key: string, options: WriteOptions): void {
    if (options.overwrite === false) throw new RangeError("a DELETE has no overwrite flag");
    this.#end(this.#writeHeader(MessageType.DELETE, requestId, key, options));
  }

  /**
   * Appends KEYS.
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.keys(1, { prefix: "person", limit: 100 });
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "keys", requestId: 1, prefix: "person", limit: 100, after: undefined }
   * ```
   */
  keys(requestId: number, options: KeysOptions): void {
    const start = this.#begin(MessageType.KEYS, requestId);
    this.#out.string(options.prefix ?? "");
    this.#out.u32(options.limit);
    this.#out.string(options.after ?? "");
    this.#end(start);
  }

  /**
   * Appends STATS.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.stats(6);
   * frames.bytes(); // 00000000 08 00000006: no body
   * ```
   */
  stats(requestId: number): void {
    this.#end(this.#begin(MessageType.STATS, requestId));
  }

  /**
   * Appends SET_K asking the server to record `k` (replacing a different one when `replace`).
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.setK(1, 2, false);
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "setK", requestId: 1, k: 2, replace: false }
   * ```
   */
  setK(requestId: number, k: number, replace: boolean): void {
    const start = this.#begin(MessageType.SET_K, requestId);
    this.#out.u8(replace ? SET_K_FLAG_REPLACE : 0);
    this.#out.u8(k);
    this.#end(start);
  }

  /**
   * Appends MARK_REPAIRED, made under the server list whose fingerprint is `list`, to be
   * applied only while the server's mark is `expected` (all zeros: unrepaired).
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.markRepaired(8, new Uint8Array(16).fill(0xab), new Uint8Array(16));
   * frames.bytes(); // 00000020 0b 00000008 abab…ab 0000…00: the two 16-byte fingerprints
   * ```
   */
  markRepaired(requestId: number, list: Uint8Array, expected: Uint8Array): void {
    invariant(
      list.length === LIST_FINGERPRINT_BYTES && !isNoList(list),
      "a repair is made under a list's fingerprint",
    );
    invariant(expected.length === LIST_FINGERPRINT_BYTES, "an expected mark is a fingerprint");
    const start = this.#begin(MessageType.MARK_REPAIRED, requestId);
    this.#out.raw(list);
    this.#out.raw(expected);
    this.#end(start);
  }

  /**
   * Appends PARTITION_DIGESTS.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.partitionDigests(9);
   * frames.bytes(); // 00000000 0c 00000009: no body
   * ```
   */
  partitionDigests(requestId: number): void {
    this.#end(this.#begin(MessageType.PARTITION_DIGESTS, requestId));
  }

  /**
   * Appends LIST_PARTITIONS for the partitions whose bits are set in `wanted`
   * ({@link PARTITION_BITMAP_BYTES} bytes).
   *
   * @example
   * ```ts
   * import { decodeRequest } from "./messages.ts";
   * import { PARTITION_BITMAP_BYTES } from "./mod.ts";
   * const wanted = new Uint8Array(PARTITION_BITMAP_BYTES);
   * wanted[0] = 0b1; // partition 0 only
   * const frames = new FrameWriter();
   * frames.listPartitions(1, wanted, { limit: 1000 });
   * const bytes = frames.bytes();
   * decodeRequest({ type: bytes[4], requestId: 1, body: bytes.subarray(9) });
   * // { type: "listPartitions", requestId: 1, values: false, limit: 1000, after: undefined, wanted }
   * ```
   */
  listPartitions(requestId: number, wanted: Uint8Array, options: ListPartitionsOptions): void {
    if (wanted.length !== PARTITION_BITMAP_BYTES) {
      throw new RangeError(
        `the partition bitmap is ${PARTITION_BITMAP_BYTES} bytes, not ${wanted.length}`,
      );
    }
    const start = this.#begin(MessageType.LIST_PARTITIONS, requestId);
    this.#out.u8(options.values === true ? LIST_FLAG_VALUES : 0);
    this.#out.u32(options.limit);
    this.#out.string(options.after ?? "");
    this.#out.raw(wanted);
    this.#end(start);
  }

  /**
   * Appends OK answering PARTITION_DIGESTS from `source`, for `partitionCount` partitions.
   *
   * @example
   * ```ts
   * import { decodePartitionDigestsBody } from "./messages.ts";
   * import { PARTITION_COUNT } from "../record/partition.ts";
   * // One record in partition 0, whose digest is 0x00000001_00000002; every other partition empty.
   * const source = {
   *   count: (partition: number) => partition === 0 ? 1 : 0,
   *   tombstones: () => 0,
   *   high: (partition: number) => partition === 0 ? 1 : 0,
   *   low: (partition: number) => partition === 0 ? 2 : 0,
   * };
   * const frames = new FrameWriter();
   * frames.okPartitionDigests(9, source, PARTITION_COUNT);
   * const digests = decodePartitionDigestsBody(frames.bytes().subarray(9));
   * digests.counts[0]; // 1
   * digests.digests[0]; // 4294967298n
   * ```
   */
  okPartitionDigests(
    requestId: number,
    source: PartitionDigestSource,
    partitionCount: number,
  ): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u32(partitionCount);
    for (let partition = 0; partition < partitionCount; partition++) {
      this.#out.u32(source.count(partition));
      this.#out.u32(source.tombstones(partition));
      this.#out.u32(source.high(partition));
      this.#out.u32(source.low(partition));
    }
    this.#end(start);
  }

  /**
   * Appends OK answering LIST_PARTITIONS, straight from `cursor` (already placed after
   * the request's `after`): the entries of the partitions set in `request.wanted`, until
   * `request.limit` or {@link LIST_PARTITIONS_BUDGET_BYTES}, then whether more remain.
   * Keys are not kept by partition, so it walks every key from `after` and skips those of
   * other partitions: O(keys walked).
   *
   * @example
   * ```ts ignore
   * // On the server, answering a LIST_PARTITIONS request from its store:
   * const after = request.after === undefined ? undefined : new TextEncoder().encode(request.after);
   * frames.okListPartitions(request.requestId, store.entryCursor(after), request);
   * ```
   */
  okListPartitions(
    requestId: number,
    cursor: ListingCursor,
    request: { readonly wanted: Uint8Array; readonly limit: number; readonly values: boolean },
  ): void {
    const { wanted, limit, values } = request;
    const out = this.#out;
    const start = this.#begin(MessageType.OK, requestId);
    const countAt = out.length;
    out.u32(0);
    const entriesStart = out.length;
    let count = 0;
    let more = false;
    while (cursor.next()) {
      const partition = cursor.partition;
      if ((wanted[partition >> 3] & (1 << (partition & 7))) === 0) continue;
      if (count === limit || out.length - entriesStart >= LIST_PARTITIONS_BUDGET_BYTES) {
        more = true;
        break;
      }
      out.u32(cursor.keyLength);
      out.raw(cursor.key.subarray(0, cursor.keyLength));
      cursor.writeVersion(out);
      const tombstone = cursor.tombstone;
      out.u8(tombstone ? 0 : 1);
      if (values && !tombstone) {
        const lengthAt = out.length;
        out.u32(0);
        cursor.writeValue(out);
        out.patchU32(lengthAt, out.length - lengthAt - 4);
      }
      count++;
    }
    out.patchU32(countAt, count);
    out.u8(more ? 1 : 0);
    this.#end(start);
  }

  /**
   * Appends OK answering SET_K: the k the server records.
   *
   * @example
   * ```ts
   * import { decodeSetKBody } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.okSetK(7, 2);
   * decodeSetKBody(frames.bytes().subarray(9)); // 2
   * ```
   */
  okSetK(requestId: number, k: number): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u8(k);
    this.#end(start);
  }

  /**
   * Appends an empty OK (PING, PUT, a purge).
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.ok(2);
   * frames.bytes(); // 00000000 80 00000002: OK, no body
   * ```
   */
  ok(requestId: number): void {
    this.#end(this.#begin(MessageType.OK, requestId));
  }

  /**
   * Appends OK carrying only a version: the record a DELETE replaced by its tombstone.
   *
   * @example
   * ```ts
   * const frames = new FrameWriter();
   * frames.okVersion(8, { ms: 1733040000005, counter: 0, broker: 7 });
   * frames.bytes(); // 0000000c 80 00000008 0193813bcc05 0000 00000007
   * ```
   */
  okVersion(requestId: number, version: Version): void {
    writeVersion(this.#version, 0, version);
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.raw(this.#version);
    this.#end(start);
  }

  /**
   * Appends OK carrying the version of the record and a value (GET, QUERY).
   *
   * @example
   * ```ts
   * import { decodeValueBody } from "./messages.ts";
   * import { int } from "../record/value.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.okValue(3, version, int(22));
   * decodeValueBody(frames.bytes().subarray(9)); // { version, value: { kind: "int", value: 22 } }
   * ```
   */
  okValue(requestId: number, version: Version, value: Value): void {
    writeVersion(this.#version, 0, version);
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.raw(this.#version);
    writeValue(this.#out, value);
    this.#end(start);
  }

  /**
   * Appends OK carrying a value that `encode` writes in the value encoding (a QUERY
   * straight from the store) and returns true; when `encode` returns false, appends
   * nothing (what it wrote is dropped) and returns false, for the caller to answer
   * NOT_FOUND with why ({@link FrameWriter.notFound}).
   *
   * @example
   * ```ts
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.okIfFound(3, version, () => false); // false: the path holds no value
   * frames.bytes().length; // 0
   * ```
   */
  okIfFound(
    requestId: number,
    version: Version,
    encode: (out: ByteWriter) => boolean,
  ): boolean {
    writeVersion(this.#version, 0, version);
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.raw(this.#version);
    if (encode(this.#out)) {
      this.#end(start);
      return true;
    }
    this.#out.truncate(start);
    return false;
  }

  /**
   * Appends the answer to a GET that `read` writes straight from the store: `read`
   * appends the key's version (12 bytes) when the key is held, then its value when it
   * holds one, and returns whether it wrote a value. OK carrying both when it did, else
   * NOT_FOUND carrying the version (a tombstone's) or nothing (the key was never
   * written). When `read` throws, nothing of the frame is left.
   *
   * @example
   * ```ts
   * import { decodeResponse } from "./messages.ts";
   * import { VERSION_BYTES, writeVersion } from "../record/version.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const tombstone = new Uint8Array(VERSION_BYTES);
   * writeVersion(tombstone, 0, version);
   * const frames = new FrameWriter();
   * frames.okOrNotFoundRead(3, (out) => {
   *   out.raw(tombstone); // the key holds a tombstone: its version, no value
   *   return false;
   * });
   * const bytes = frames.bytes();
   * decodeResponse({ type: bytes[4], requestId: 3, body: bytes.subarray(9) });
   * // { type: "not_found", requestId: 3, version }
   * ```
   */
  okOrNotFoundRead(requestId: number, read: (out: ByteWriter) => boolean): void {
    const start = this.#begin(MessageType.OK, requestId);
    const bodyStart = this.#out.length;
    let found: boolean;
    try {
      found = read(this.#out);
    } catch (error) {
      this.#out.truncate(start);
      throw error;
    }
    if (!found) {
      const written = this.#out.length - bodyStart;
      invariant(
        written === 0 || written === VERSION_BYTES,
        "a read without a value wrote a version or nothing",
      );
      this.#out.patchU8(start + FRAME_TYPE_OFFSET, MessageType.NOT_FOUND);
    }
    this.#end(start);
  }

  /**
   * Appends OK carrying keys (KEYS).
   *
   * @example
   * ```ts
   * import { decodeKeysBody } from "./messages.ts";
   * const frames = new FrameWriter();
   * frames.okKeys(5, ["person1", "person2"]);
   * decodeKeysBody(frames.bytes().subarray(9)); // ["person1", "person2"]
   * ```
   */
  okKeys(requestId: number, keys: readonly string[]): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u32(keys.length);
    for (const key of keys) this.#out.string(key);
    this.#end(start);
  }

  /**
   * Appends OK answering PUT_MANY: the refused items, in item order.
   *
   * @example
   * ```ts
   * import { decodePutManyBody } from "./messages.ts";
   * import { ErrorCode } from "./mod.ts";
   * const frames = new FrameWriter();
   * frames.okPutMany(11, [{ index: 2, code: ErrorCode.LIMIT, message: "too deep" }]);
   * decodePutManyBody(frames.bytes().subarray(9)); // [{ index: 2, code: 3, message: "too deep" }]
   * ```
   */
  okPutMany(requestId: number, refusals: readonly PutManyRefusal[]): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u32(refusals.length);
    for (const refusal of refusals) {
      this.#out.u32(refusal.index);
      this.#out.u16(refusal.code);
      this.#out.raw(errorMessageBytes(refusal.message));
    }
    this.#end(start);
  }

  /**
   * Appends OK carrying statistics (STATS).
   *
   * @example
   * ```ts
   * import { decodeStatsBody } from "./messages.ts";
   * const stats = {
   *   recordCount: 2,
   *   memoryBytes: 1024,
   *   uptimeMs: 5000,
   *   connectionCount: 1,
   *   readOnly: false,
   * };
   * const frames = new FrameWriter();
   * frames.okStats(6, stats);
   * decodeStatsBody(frames.bytes().subarray(9)); // the same stats
   * ```
   */
  okStats(requestId: number, stats: ServerStats): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.i64(stats.recordCount);
    this.#out.i64(stats.memoryBytes);
    this.#out.i64(stats.uptimeMs);
    this.#out.u32(stats.connectionCount);
    this.#out.u8(stats.readOnly ? STATS_FLAG_READ_ONLY : 0);
    this.#end(start);
  }

  /**
   * Appends HELLO's welcome: the OK that admits the client, with the server's limits, id
   * and state.
   *
   * @example
   * ```ts ignore
   * // On the server, admitting a client (no auth file, or the right answer to its challenge):
   * frames.okHello(request.requestId, {
   *   version: PROTOCOL_VERSION,
   *   maxFrameBytes,
   *   idleTimeoutMs,
   *   serverId, // 16 hex digits
   *   state: { unrepaired: false, k: 2, repairedUnder: fingerprint },
   * });
   * ```
   */
  okHello(requestId: number, hello: HelloResult): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u16(hello.version);
    this.#out.u8(HelloForm.WELCOME);
    this.#out.u32(hello.maxFrameBytes);
    this.#out.u32(hello.idleTimeoutMs);
    this.#out.raw(serverIdBytes(hello.serverId));
    this.#out.u8(hello.state.unrepaired ? STATE_FLAG_UNREPAIRED : 0);
    this.#out.u8(hello.state.k);
    invariant(
      hello.state.repairedUnder.length === LIST_FINGERPRINT_BYTES &&
        hello.state.unrepaired === isNoList(hello.state.repairedUnder),
      "a server is repaired under a list exactly when it is not unrepaired",
    );
    this.#out.raw(hello.state.repairedUnder);
    this.#end(start);
  }

  /**
   * Appends HELLO's challenge: the OK to a client that must still prove it knows a secret,
   * carrying the version and the challenge and nothing about the server.
   *
   * @example
   * ```ts
   * import { newChallenge } from "./auth.ts";
   * const frames = new FrameWriter();
   * frames.okHelloChallenge(1, { version: 8, challenge: newChallenge() });
   * frames.bytes().length; // 9 + 2 + 1 + 32
   * ```
   */
  okHelloChallenge(requestId: number, hello: HelloChallenge): void {
    invariant(
      hello.challenge.length === HELLO_CHALLENGE_BYTES,
      `a challenge has ${HELLO_CHALLENGE_BYTES} bytes`,
    );
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u16(hello.version);
    this.#out.u8(HelloForm.CHALLENGE);
    this.#out.raw(hello.challenge);
    this.#end(start);
  }

  /**
   * Appends NOT_FOUND, with the version the key holds (a tombstone's) when it holds one;
   * for a QUERY path that the record at `version` lacks, with `miss`, why.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const frames = new FrameWriter();
   * frames.notFound(3);
   * frames.bytes(); // 00000000 81 00000003: NOT_FOUND, no version: the key was never written
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * frames.notFound(4, version, { reason: "not-object", segment: 2, value: int(22) });
   * ```
   */
  notFound(requestId: number, version?: Version, miss?: PathMiss): void {
    invariant(miss === undefined || version !== undefined, "a miss is in a record's version");
    if (version !== undefined) writeVersion(this.#version, 0, version);
    const start = this.#begin(MessageType.NOT_FOUND, requestId);
    if (version !== undefined) this.#out.raw(this.#version);
    if (miss !== undefined) this.#miss(miss);
    this.#end(start);
  }

  /** Writes why a record lacks a QUERY's path (docs/protocol.md, QUERY). */
  #miss(miss: PathMiss): void {
    const out = this.#out;
    invariant(miss.segment >= 1 && miss.segment < MAX_PATH_SEGMENTS, "a miss is past the key");
    out.u8(miss.segment);
    if (miss.reason === "no-field") {
      out.u8(MissReason.NO_FIELD);
      out.string(miss.closest ?? "");
      return;
    }
    invariant(miss.value.kind !== "object", "a path runs into a leaf, never an object");
    out.u8(MissReason.NOT_OBJECT);
    writeValue(out, miss.value);
  }

  /**
   * Appends STALE: a write refused because the key holds `version`, newer or equal.
   *
   * @example
   * ```ts
   * import { decodeResponse } from "./messages.ts";
   * const version = { ms: 1700000000000, counter: 0, broker: 1 };
   * const frames = new FrameWriter();
   * frames.stale(2, version);
   * const bytes = frames.bytes();
   * decodeResponse({ type: bytes[4], requestId: 2, body: bytes.subarray(9) });
   * // { type: "stale", requestId: 2, version }
   * ```
   */
  stale(requestId: number, version: Version): void {
    writeVersion(this.#version, 0, version);
    const start = this.#begin(MessageType.STALE, requestId);
    this.#out.raw(this.#version);
    this.#end(start);
  }

  /**
   * Appends ERROR; a message over {@link MAX_ERROR_MESSAGE_BYTES} is cut to fit.
   *
   * @example
   * ```ts
   * import { decodeResponse } from "./messages.ts";
   * import { ErrorCode } from "./mod.ts";
   * const frames = new FrameWriter();
   * frames.error(2, ErrorCode.LIMIT, "key too long");
   * const bytes = frames.bytes();
   * decodeResponse({ type: bytes[4], requestId: 2, body: bytes.subarray(9) });
   * // { type: "error", requestId: 2, code: 3, message: "key too long" }
   * ```
   */
  error(requestId: number, code: ErrorCodeNumber, message: string): void {
    const start = this.#begin(MessageType.ERROR, requestId);
    this.#out.u16(code);
    this.#out.raw(errorMessageBytes(message));
    this.#end(start);
  }
}

/** `message` as a protocol string, cut to {@link MAX_ERROR_MESSAGE_BYTES} at a character boundary. */
function errorMessageBytes(message: string): Uint8Array {
  let text = textEncoder.encode(message);
  if (text.length > MAX_ERROR_MESSAGE_BYTES) {
    // UTF-8 continuation bytes are 10xxxxxx.
    let end = MAX_ERROR_MESSAGE_BYTES;
    while ((text[end] & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const bytes = new Uint8Array(4 + text.length);
  new DataView(bytes.buffer).setUint32(0, text.length);
  bytes.set(text, 4);
  return bytes;
}

/** The bytes of a server id written as {@link SERVER_ID_BYTES} × 2 hex digits. */
function serverIdBytes(hex: string): Uint8Array {
  if (hex.length !== SERVER_ID_BYTES * 2) {
    throw new RangeError(`server id must be ${SERVER_ID_BYTES * 2} hex digits: ${hex}`);
  }
  return hexToBytes(hex);
}
