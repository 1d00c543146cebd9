/**
 * Decodes and checks frames (see docs/protocol.md): {@link decodeRequest} for a
 * server, {@link decodeResponse} and the OK body decoders for a client. Every
 * malformed input is a DecodeError (a LimitExceededError for a broken limit), never
 * another exception, so a server can answer it and carry on.
 *
 * @example
 * ```ts
 * import { decodeRequest } from "./messages.ts";
 * const request = decodeRequest({ type: 0x02, requestId: 1, body: new Uint8Array(0) });
 * request.type; // "ping"
 * ```
 * @module
 */
import { MAX_KEY_BYTES, MAX_KEYS_LIMIT, MAX_PATH_SEGMENTS } from "../limits.ts";
import { checkEncodedKey, checkKey, type KeysOptions } from "../record/key.ts";
import { ByteReader, bytesToHex, DecodeError, LimitExceededError, readU32 } from "../base/bytes.ts";
import { readUtf8 } from "../base/utf8.ts";
import { checkPath, type PathMiss } from "../record/query_path.ts";
import type { Value } from "../record/value.ts";
import { readValue } from "../record/value_codec.ts";
import { oneLine } from "../record/key.ts";
import { parseVersion, readVersion, type Version, VERSION_BYTES } from "../record/version.ts";
import { PARTITION_COUNT } from "../record/partition.ts";
import {
  DELETE_FLAG_AGED,
  DELETE_FLAG_PURGE,
  type EncodedRead,
  ErrorCode,
  type Frame,
  HELLO_CHALLENGE_BYTES,
  type HelloAnswer,
  HelloForm,
  type HelloResult,
  isNoList,
  LIST_FINGERPRINT_BYTES,
  LIST_FLAG_VALUES,
  MAX_AUTH_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_LIST_PARTITIONS_LIMIT,
  MAX_RECORDED_K,
  MAX_SHOWN_MESSAGE_CHARACTERS,
  MessageType,
  MissReason,
  type NodeState,
  PARTITION_BITMAP_BYTES,
  type PartitionDigests,
  type PartitionEntry,
  type PartitionListing,
  type PutManyRefusal,
  type ReadResult,
  type Request,
  type Response,
  SERVER_ID_BYTES,
  type ServerStats,
  SET_K_FLAG_REPLACE,
  STATE_FLAG_UNREPAIRED,
  STATS_FLAG_READ_ONLY,
  WRITE_FLAG_REPAIR,
} from "./mod.ts";
import { PUT_FLAG_IF_ABSENT, PUT_FLAGS, readPutManyItems } from "./put_many.ts";

/**
 * Throws unless `options` is a valid KEYS request: prefix without `.` and at
 * most MAX_KEY_BYTES, limit within 1 to {@link MAX_KEYS_LIMIT}, after a
 * valid key when given.
 *
 * @example
 * ```ts
 * checkKeysOptions({ prefix: "person", limit: 100 }); // ok
 * ```
 */
export function checkKeysOptions(options: KeysOptions): void {
  const prefix = options.prefix ?? "";
  if (prefix.length > 0) checkKey(prefix, "prefix");
  if (!Number.isSafeInteger(options.limit) || options.limit < 1) {
    throw new DecodeError(`KEYS limit ${options.limit} must be a whole number of at least 1`);
  }
  if (options.limit > MAX_KEYS_LIMIT) {
    throw new LimitExceededError(
      `KEYS limit ${options.limit} is over the limit of ${MAX_KEYS_LIMIT}`,
    );
  }
  if (options.after !== undefined) checkKey(options.after, "after key");
}

function finish<T>(reader: ByteReader, result: T, what: string): T {
  if (reader.remaining !== 0) {
    throw new DecodeError(`${reader.remaining} unexpected bytes after the ${what} body`);
  }
  return result;
}

/** Reads a string of at most MAX_KEY_BYTES; a longer one is a LimitExceededError. */
function readBoundedString(reader: ByteReader, body: Uint8Array, what: string): string {
  if (reader.remaining >= 4) {
    const length = readU32(body, reader.offset);
    if (length > MAX_KEY_BYTES) {
      throw new LimitExceededError(
        `${what} is ${length} bytes, over the limit of ${MAX_KEY_BYTES}`,
      );
    }
  }
  return reader.string(what, MAX_KEY_BYTES);
}

/** Reads a key: a bounded string that {@link checkKey} accepts. */
function readKey(reader: ByteReader, body: Uint8Array): string {
  const key = readBoundedString(reader, body, "key");
  checkKey(key);
  return key;
}

/** Reads the 12 bytes of a version. */
function readVersionField(reader: ByteReader): Version {
  return readVersion(reader.raw(VERSION_BYTES, "version"), 0);
}

/** Reads a write's flags byte, refusing bits outside `allowed`. */
function readFlags(reader: ByteReader, allowed: number, what: string): number {
  const flags = reader.u8(`${what} flags`);
  if ((flags & ~allowed) !== 0) {
    throw new DecodeError(`unknown ${what} flags 0x${flags.toString(16).padStart(2, "0")}`);
  }
  return flags;
}

/** Where a GET body's key begins: after its u32 byte length. */
export const GET_KEY_START = 4;

/**
 * Whether {@link decodeRequest} accepts the body `bytes[start, end)` (by default all of
 * `bytes`) as a GET's, judged on its bytes where they lie (a server's read buffer) without
 * making a view or the key a string: a u32 length matching the rest of the body, then the
 * key, 1 to MAX_KEY_BYTES bytes of valid UTF-8 without `.`. The key's UTF-8 is then
 * `bytes[start + GET_KEY_START, end)`; for any other body, decodeRequest says what is
 * wrong. A server answers GETs from the key's bytes this way.
 *
 * @example
 * ```ts
 * const key = new TextEncoder().encode("person1");
 * const body = new Uint8Array(GET_KEY_START + key.length);
 * new DataView(body.buffer).setUint32(0, key.length);
 * body.set(key, GET_KEY_START);
 * isWellFormedGetBody(body); // true
 * isWellFormedGetBody(body.subarray(0, 6)); // false: the length says 7 bytes, 2 follow
 * isWellFormedGetBody(body, 0, 6); // false, judged in place
 * ```
 */
export function isWellFormedGetBody(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): boolean {
  const keyStart = start + GET_KEY_START;
  const keyBytes = end - keyStart;
  if (keyBytes < 1 || keyBytes > MAX_KEY_BYTES || readU32(bytes, start) !== keyBytes) return false;
  try {
    checkEncodedKey(bytes, keyStart, end, "key");
    return true;
  } catch (error) {
    if (error instanceof DecodeError) return false;
    throw error;
  }
}

/**
 * Decodes and validates a request frame. Throws {@link LimitExceededError} for
 * a broken limit and DecodeError for anything else malformed, including a
 * response type or an unknown type.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * const frames = new FrameWriter();
 * frames.get(1, "person1");
 * const bytes = frames.bytes();
 * const frame = { type: bytes[4], requestId: 1, body: bytes.subarray(9) };
 * const request = decodeRequest(frame);
 * if (request.type === "get") console.log(request.key); // "person1"
 * ```
 */
export function decodeRequest(frame: Frame): Request {
  const reader = new ByteReader(frame.body);
  const requestId = frame.requestId;
  switch (frame.type) {
    case MessageType.HELLO:
      return decodeHello(reader, requestId);
    case MessageType.PING:
      return finish(reader, { type: "ping", requestId }, "PING");
    case MessageType.PUT:
      return decodePut(reader, frame.body, requestId);
    case MessageType.GET:
      return finish(reader, { type: "get", requestId, key: readKey(reader, frame.body) }, "GET");
    case MessageType.QUERY:
      return decodeQuery(reader, frame.body, requestId);
    case MessageType.DELETE:
      return decodeDelete(reader, frame.body, requestId);
    case MessageType.KEYS:
      return decodeKeys(reader, frame.body, requestId);
    case MessageType.STATS:
      return finish(reader, { type: "stats", requestId }, "STATS");
    case MessageType.PUT_MANY: {
      const itemCount = reader.u32("item count");
      const items = readPutManyItems(frame.body, reader.offset, itemCount);
      return { type: "putMany", requestId, body: frame.body, items };
    }
    case MessageType.SET_K:
      return decodeSetK(reader, requestId);
    case MessageType.MARK_REPAIRED:
      return decodeMarkRepaired(reader, requestId);
    case MessageType.PARTITION_DIGESTS:
      return finish(reader, { type: "partitionDigests", requestId }, "PARTITION_DIGESTS");
    case MessageType.LIST_PARTITIONS:
      return decodeListPartitions(reader, frame.body, requestId);
    default:
      throw new DecodeError(`unknown request type 0x${frame.type.toString(16).padStart(2, "0")}`);
  }
}

/** The request of one `type`, as {@link decodeRequest} returns it. */
type RequestOf<T extends Request["type"]> = Extract<Request, { type: T }>;

function decodeHello(reader: ByteReader, requestId: number): RequestOf<"hello"> {
  const version = reader.u16("protocol version");
  const authScheme = reader.u8("auth scheme");
  const authBytes = reader.u32("auth length");
  if (authBytes > MAX_AUTH_BYTES) {
    throw new LimitExceededError(
      `auth data is ${authBytes} bytes, over the limit of ${MAX_AUTH_BYTES}`,
    );
  }
  const auth = reader.raw(authBytes, "auth data");
  return finish(reader, { type: "hello", requestId, version, authScheme, auth }, "HELLO");
}

function decodePut(reader: ByteReader, body: Uint8Array, requestId: number): RequestOf<"put"> {
  const flags = readFlags(reader, PUT_FLAGS, "PUT");
  const key = readKey(reader, body);
  const version = readVersionField(reader);
  // The value is the rest of the body; whoever stores it validates it.
  const encodedValue = reader.raw(reader.remaining, "value");
  const overwrite = (flags & PUT_FLAG_IF_ABSENT) === 0;
  const repair = (flags & WRITE_FLAG_REPAIR) !== 0;
  return { type: "put", requestId, key, version, encodedValue, overwrite, repair };
}

function decodeQuery(
  reader: ByteReader,
  body: Uint8Array,
  requestId: number,
): RequestOf<"query"> {
  const segmentCount = reader.u8("segment count");
  if (segmentCount === 0) throw new DecodeError("empty query path");
  if (segmentCount > MAX_PATH_SEGMENTS) {
    throw new LimitExceededError(
      `query path has ${segmentCount} segments, over the limit of ${MAX_PATH_SEGMENTS}`,
    );
  }
  const path: string[] = [];
  for (let index = 0; index < segmentCount; index++) {
    path.push(readBoundedString(reader, body, "path segment"));
  }
  checkPath(path);
  return finish(reader, { type: "query", requestId, path }, "QUERY");
}

function decodeDelete(
  reader: ByteReader,
  body: Uint8Array,
  requestId: number,
): RequestOf<"delete"> {
  const flags = readFlags(
    reader,
    WRITE_FLAG_REPAIR | DELETE_FLAG_PURGE | DELETE_FLAG_AGED,
    "DELETE",
  );
  const key = readKey(reader, body);
  const version = readVersionField(reader);
  const repair = (flags & WRITE_FLAG_REPAIR) !== 0;
  const purge = (flags & DELETE_FLAG_PURGE) !== 0;
  const aged = (flags & DELETE_FLAG_AGED) !== 0;
  if (aged && !purge) throw new DecodeError("DELETE's aged flag needs its purge flag");
  return finish(
    reader,
    { type: "delete", requestId, key, version, repair, purge, aged },
    "DELETE",
  );
}

/** Throws unless `k` is a replication factor a server records: 1 to {@link MAX_RECORDED_K}. */
function checkRecordedK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_RECORDED_K) {
    throw new DecodeError(`k ${k} must be a whole number from 1 to ${MAX_RECORDED_K}`);
  }
}

function decodeSetK(reader: ByteReader, requestId: number): RequestOf<"setK"> {
  const flags = readFlags(reader, SET_K_FLAG_REPLACE, "SET_K");
  const k = reader.u8("k");
  checkRecordedK(k);
  const replace = (flags & SET_K_FLAG_REPLACE) !== 0;
  return finish(reader, { type: "setK", requestId, k, replace }, "SET_K");
}

function decodeMarkRepaired(reader: ByteReader, requestId: number): RequestOf<"markRepaired"> {
  const list = reader.raw(LIST_FINGERPRINT_BYTES, "server list fingerprint").slice();
  // All zeros is what an unrepaired server tells: a repair under it would trust nobody.
  if (isNoList(list)) throw new DecodeError("MARK_REPAIRED's server list fingerprint is zero");
  // Any 16 bytes: all zeros expects an unrepaired server.
  const expected = reader.raw(LIST_FINGERPRINT_BYTES, "expected mark").slice();
  return finish(reader, { type: "markRepaired", requestId, list, expected }, "MARK_REPAIRED");
}

/**
 * Throws unless `limit` is a LIST_PARTITIONS limit: 1 to {@link MAX_LIST_PARTITIONS_LIMIT}.
 * A limit that is not a whole number of at least 1 is a {@link DecodeError}; one over
 * the maximum a {@link LimitExceededError}. The server checks each request with it, and
 * the client before sending one.
 *
 * @example
 * ```ts
 * checkListLimit(1000); // returns: a valid limit
 * // 0 throws a DecodeError, "LIST_PARTITIONS limit 0 must be a whole number of at least 1";
 * // 10_001 a LimitExceededError, "LIST_PARTITIONS limit 10001 is over the limit of 10000"
 * ```
 */
export function checkListLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new DecodeError(`LIST_PARTITIONS limit ${limit} must be a whole number of at least 1`);
  }
  if (limit > MAX_LIST_PARTITIONS_LIMIT) {
    throw new LimitExceededError(
      `LIST_PARTITIONS limit ${limit} is over the limit of ${MAX_LIST_PARTITIONS_LIMIT}`,
    );
  }
}

function decodeListPartitions(
  reader: ByteReader,
  body: Uint8Array,
  requestId: number,
): RequestOf<"listPartitions"> {
  const flags = readFlags(reader, LIST_FLAG_VALUES, "LIST_PARTITIONS");
  const limit = reader.u32("LIST_PARTITIONS limit");
  checkListLimit(limit);
  const afterText = readBoundedString(reader, body, "after key");
  if (afterText.length > 0) checkKey(afterText, "after key");
  const wanted = reader.raw(PARTITION_BITMAP_BYTES, "partition bitmap");
  return finish(reader, {
    type: "listPartitions",
    requestId,
    values: (flags & LIST_FLAG_VALUES) !== 0,
    limit,
    after: afterText.length === 0 ? undefined : afterText,
    wanted,
  }, "LIST_PARTITIONS");
}

/**
 * Bytes of each partition's row in PARTITION_DIGESTS' answer: u32 entries, u32 tombstones,
 * u64 digest.
 *
 * @example
 * ```ts
 * const answerBytes = 4 + 4096 * DIGEST_ROW_BYTES;
 * ```
 */
export const DIGEST_ROW_BYTES = 16;

/**
 * Decodes the OK to PARTITION_DIGESTS: every partition's entry count, tombstone count and
 * digest. A tombstone count above its partition's entry count is refused.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to PARTITION_DIGESTS
 * decodePartitionDigestsBody(response.body).digests[0]; // 0n for an empty partition
 * ```
 */
export function decodePartitionDigestsBody(body: Uint8Array): PartitionDigests {
  const reader = new ByteReader(body);
  const count = reader.u32("partition count");
  if (count !== PARTITION_COUNT) {
    throw new DecodeError(`${count} partitions, not the ${PARTITION_COUNT} kv has`);
  }
  if (reader.remaining !== count * DIGEST_ROW_BYTES) {
    throw new DecodeError(`${reader.remaining} bytes for ${count} partition digests`);
  }
  const view = new DataView(body.buffer, body.byteOffset + reader.offset, reader.remaining);
  const counts = new Uint32Array(count);
  const tombstones = new Uint32Array(count);
  const digests = new BigUint64Array(count);
  for (let partition = 0; partition < count; partition++) {
    const row = partition * DIGEST_ROW_BYTES;
    counts[partition] = view.getUint32(row);
    tombstones[partition] = view.getUint32(row + 4);
    if (tombstones[partition] > counts[partition]) {
      throw new DecodeError(
        `partition ${partition}: ${tombstones[partition]} tombstones among ` +
          `${counts[partition]} entries`,
      );
    }
    digests[partition] = view.getBigUint64(row + 8);
  }
  return { counts, tombstones, digests };
}

/** Bytes of a LIST_PARTITIONS entry besides its key: key length, version, kind. */
const MIN_LIST_ENTRY_BYTES = 4 + VERSION_BYTES + 1;

/**
 * Decodes the OK to LIST_PARTITIONS: the entries and whether more follow. `values` says
 * whether they were asked for (then each record carries its encoded value, a copy).
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to LIST_PARTITIONS
 * decodeListPartitionsBody(response.body, false); // { entries: [...], more: false }
 * ```
 */
export function decodeListPartitionsBody(body: Uint8Array, values: boolean): PartitionListing {
  const reader = new ByteReader(body);
  const count = reader.count("entry count", MIN_LIST_ENTRY_BYTES);
  const entries: PartitionEntry[] = [];
  for (let index = 0; index < count; index++) {
    const key = readKey(reader, body);
    const version = readVersionField(reader);
    const kind = reader.u8("entry kind");
    if (kind > 1) throw new DecodeError(`unknown entry kind ${kind}`);
    if (kind === 0 || !values) {
      entries.push({ key, version, tombstone: kind === 0 });
      continue;
    }
    const length = reader.u32("value length");
    const encoded = reader.raw(length, "value").slice();
    entries.push({ key, version, tombstone: false, encoded });
  }
  const more = reader.u8("more");
  if (more > 1) throw new DecodeError(`'more' is ${more}, not 0 or 1`);
  return finish(reader, { entries, more: more === 1 }, "OK");
}

/**
 * Decodes the OK to SET_K: the k the server records after the request.
 *
 * @example
 * ```ts
 * decodeSetKBody(Uint8Array.of(2)); // 2
 * ```
 */
export function decodeSetKBody(body: Uint8Array): number {
  const reader = new ByteReader(body);
  const k = reader.u8("recorded k");
  checkRecordedK(k);
  return finish(reader, k, "OK");
}

function decodeKeys(reader: ByteReader, body: Uint8Array, requestId: number): RequestOf<"keys"> {
  const prefix = readBoundedString(reader, body, "prefix");
  const limit = reader.u32("KEYS limit");
  const afterText = readBoundedString(reader, body, "after key");
  const after = afterText.length === 0 ? undefined : afterText;
  checkKeysOptions({ prefix, limit, after });
  return finish(reader, { type: "keys", requestId, prefix, limit, after }, "KEYS");
}

/**
 * Decodes a response frame; the OK body stays raw, for the decoder matching
 * the request (`decodeValueBody`, `decodeKeysBody`, …).
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const frame: Frame; // read from a server
 * const response = decodeResponse(frame);
 * if (response.type === "ok") decodeValueBody(response.body);
 * ```
 */
export function decodeResponse(frame: Frame): Response {
  const requestId = frame.requestId;
  switch (frame.type) {
    case MessageType.OK:
      return { type: "ok", requestId, body: frame.body };
    case MessageType.NOT_FOUND: {
      const reader = new ByteReader(frame.body);
      const version = reader.remaining === 0 ? undefined : readVersionField(reader);
      if (reader.remaining === 0) return { type: "not_found", requestId, version };
      const miss = readMiss(reader);
      return finish(reader, { type: "not_found", requestId, version, miss }, "NOT_FOUND");
    }
    case MessageType.STALE: {
      const reader = new ByteReader(frame.body);
      const version = readVersionField(reader);
      return finish(reader, { type: "stale", requestId, version }, "STALE");
    }
    case MessageType.ERROR: {
      const reader = new ByteReader(frame.body);
      const code = reader.u16("error code");
      const message = readErrorMessage(reader);
      return finish(reader, { type: "error", requestId, code, message }, "ERROR");
    }
    default:
      throw new DecodeError(`unknown response type 0x${frame.type.toString(16).padStart(2, "0")}`);
  }
}

/**
 * Reads an ERROR's message (or a PUT_MANY refusal's) as it may be shown: one line whose
 * characters a terminal would not show as themselves are escaped, cut with "…" to
 * MAX_SHOWN_MESSAGE_CHARACTERS. The server's words go on into errors, warnings and log
 * lines a user's terminal prints: a broken or rogue server's escape sequence or newline
 * must not reach it (a forged second `kv get:` line, colours, a cursor moved). Done here,
 * where every client and the broker decode ERROR, so no place that prints it can forget.
 */
function readErrorMessage(reader: ByteReader): string {
  const words = reader.string("error message", MAX_ERROR_MESSAGE_BYTES);
  return oneLine(words, { maxCharacters: MAX_SHOWN_MESSAGE_CHARACTERS });
}

/** Reads why a record lacks a QUERY's path, after its NOT_FOUND's version (docs/protocol.md). */
function readMiss(reader: ByteReader): PathMiss {
  const segment = reader.u8("miss segment");
  if (segment < 1 || segment >= MAX_PATH_SEGMENTS) {
    throw new DecodeError(`miss at segment ${segment}, not 1 to ${MAX_PATH_SEGMENTS - 1}`);
  }
  const reason = reader.u8("miss reason");
  if (reason === MissReason.NO_FIELD) {
    const closest = reader.string("nearest field", MAX_KEY_BYTES);
    if (closest === "") return { reason: "no-field", segment };
    checkKey(closest, "nearest field");
    return { reason: "no-field", segment, closest };
  }
  if (reason !== MissReason.NOT_OBJECT) throw new DecodeError(`unknown miss reason ${reason}`);
  const value = readValue(reader);
  if (value.kind === "object") throw new DecodeError("an object where the path met a leaf");
  return { reason: "not-object", segment, value };
}

/**
 * Checks that an OK body is empty (PING, PUT, a purge).
 *
 * @example
 * ```ts
 * decodeEmptyBody(new Uint8Array(0));
 * ```
 */
export function decodeEmptyBody(body: Uint8Array): void {
  if (body.length !== 0) throw new DecodeError(`${body.length} unexpected bytes after the OK body`);
}

/**
 * Reads an OK body that is one version: the record a DELETE replaced.
 *
 * @example
 * ```ts
 * decodeVersionBody(new Uint8Array(12)); // { ms: 0, counter: 0, broker: 0 }
 * ```
 */
export function decodeVersionBody(body: Uint8Array): Version {
  const reader = new ByteReader(body);
  return finish(reader, readVersionField(reader), "OK");
}

/**
 * Splits an OK to GET or QUERY into the record's version and the value's bytes, which
 * are not decoded or checked here (see {@link decodeValueBody}).
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to GET
 * splitValueBody(response.body); // { version: { ms: …, counter: 0, broker: 7 }, encoded: Uint8Array [2, 22] }
 * ```
 */
export function splitValueBody(body: Uint8Array): EncodedRead & { encoded: Uint8Array } {
  return splitValueBodyAt(body, 0, body.length);
}

/**
 * {@link splitValueBody} of the body `bytes[start, end)`, read in place: the value is a
 * view of `bytes`. A broker reads k of these per GET, straight from a read's answers.
 *
 * @example
 * ```ts
 * declare const answers: Uint8Array; // a read buffer holding an answer to GET at byte 0
 * splitValueBodyAt(answers, 9, 23); // the version in bytes 9-20, the value a view of 21-22
 * ```
 */
export function splitValueBodyAt(
  bytes: Uint8Array,
  start: number,
  end: number,
): EncodedRead & { encoded: Uint8Array } {
  if (end - start < VERSION_BYTES) {
    throw new DecodeError(
      `truncated version at byte 0: needs ${VERSION_BYTES} bytes, ${end - start} left`,
    );
  }
  const version = readVersion(bytes, start);
  return { version, encoded: bytes.subarray(start + VERSION_BYTES, end) };
}

/**
 * Decodes the record's version and the value in an OK to GET or QUERY.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to GET
 * decodeValueBody(response.body); // { version: { ms: …, counter: 0, broker: 7 }, value: { kind: "int", value: 22 } }
 * ```
 */
export function decodeValueBody(body: Uint8Array): ReadResult & { value: Value } {
  const { version, encoded } = splitValueBody(body);
  const reader = new ByteReader(encoded);
  return finish(reader, { version, value: readValue(reader) }, "OK");
}

/** Bytes of a KEYS entry with the shortest key: its u32 length and one byte. */
const MIN_KEY_ENTRY_BYTES = 5;

/**
 * Decodes the keys in an OK to KEYS.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to KEYS
 * decodeKeysBody(response.body); // ["person1", "person2"]
 * ```
 */
export function decodeKeysBody(body: Uint8Array): string[] {
  const reader = new ByteReader(body);
  const count = reader.count("key count", MIN_KEY_ENTRY_BYTES);
  const keys: string[] = [];
  for (let index = 0; index < count; index++) keys.push(readKey(reader, body));
  return finish(reader, keys, "OK");
}

/** Bytes of a PUT_MANY refusal with an empty message: item index, code, message length. */
const MIN_REFUSAL_BYTES = 10;

/**
 * Decodes the OK to PUT_MANY: the refused items, in item order.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to PUT_MANY
 * decodePutManyBody(response.body); // [] when every item was stored
 * ```
 */
export function decodePutManyBody(body: Uint8Array): PutManyRefusal[] {
  const reader = new ByteReader(body);
  const count = reader.count("refusal count", MIN_REFUSAL_BYTES);
  const refusals: PutManyRefusal[] = [];
  for (let position = 0; position < count; position++) {
    const index = reader.u32("item index");
    const code = reader.u16("error code");
    const message = readErrorMessage(reader);
    // A STALE item's message is the version the server holds, in its text form: hex digits,
    // which readErrorMessage leaves as they are (parseVersion refuses anything else).
    if (code === ErrorCode.STALE) {
      refusals.push({ index, code, message, version: parseVersion(message) });
    } else refusals.push({ index, code, message });
  }
  return finish(reader, refusals, "OK");
}

/**
 * Reads and checks the key of a PUT_MANY item, `body[start, end)`, as a PUT's key is
 * checked: valid UTF-8, non-empty, no `.`, at most MAX_KEY_BYTES bytes.
 *
 * @example
 * ```ts
 * import { PutManyItems, readPutManyItems } from "./put_many.ts";
 * import { encodeValue } from "../record/value_codec.ts";
 * import { int } from "../record/value.ts";
 * const items = new PutManyItems();
 * items.add("person1", encodeValue(int(22)), { ms: Date.now(), counter: 0, broker: 1 });
 * const body = items.bytes();
 * const bounds = readPutManyItems(body, 0, items.itemCount);
 * readItemKey(body, bounds.keyStart(0), bounds.keyEnd(0)); // "person1"
 * ```
 */
export function readItemKey(body: Uint8Array, start: number, end: number): string {
  checkEncodedKey(body, start, end, "key");
  return readUtf8(body, start, end - start);
}

/**
 * Decodes the statistics in an OK to STATS.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to STATS
 * decodeStatsBody(response.body).recordCount;
 * ```
 */
export function decodeStatsBody(body: Uint8Array): ServerStats {
  const reader = new ByteReader(body);
  const stats = {
    recordCount: reader.i64("record count"),
    memoryBytes: reader.i64("memory bytes"),
    uptimeMs: reader.i64("uptime"),
    connectionCount: reader.u32("connection count"),
    readOnly: statsFlags(reader.u8("stats flags")),
  };
  return finish(reader, stats, "OK");
}

/** Whether STATS's `flags` say read-only; a bit no version defines is refused. */
function statsFlags(flags: number): boolean {
  if ((flags & ~STATS_FLAG_READ_ONLY) !== 0) {
    throw new DecodeError(`unknown stats flags 0x${flags.toString(16).padStart(2, "0")}`);
  }
  return flags === STATS_FLAG_READ_ONLY;
}

/**
 * Decodes an OK to HELLO: the welcome (a {@link HelloResult}: the server's limits, id and
 * state) or, from a server requiring authentication, the challenge (a
 * `HelloChallenge`: the version and the challenge only), told apart by the form byte
 * after the version; `"challenge" in answer` says which it is.
 *
 * @example
 * ```ts
 * import type { Frame } from "./mod.ts";
 * declare const response: Frame; // a server's answer to HELLO
 * const answer = decodeHelloBody(response.body);
 * if ("challenge" in answer) answer.challenge; // 32 bytes to answer (auth.ts)
 * else answer.state; // { unrepaired: false, k: 2, repairedUnder: Uint8Array(16) [...] }
 * ```
 */
export function decodeHelloBody(body: Uint8Array): HelloAnswer {
  const reader = new ByteReader(body);
  const version = reader.u16("protocol version");
  const form = reader.u8("answer form");
  if (form === HelloForm.CHALLENGE) {
    const challenge = reader.raw(HELLO_CHALLENGE_BYTES, "challenge").slice();
    return finish(reader, { version, challenge }, "OK");
  }
  if (form !== HelloForm.WELCOME) {
    throw new DecodeError(`unknown HELLO answer form 0x${form.toString(16).padStart(2, "0")}`);
  }
  const hello: HelloResult = {
    version,
    maxFrameBytes: reader.u32("max frame"),
    idleTimeoutMs: reader.u32("idle timeout"),
    serverId: bytesToHex(reader.raw(SERVER_ID_BYTES, "server id")),
    state: readNodeState(reader),
  };
  return finish(reader, hello, "OK");
}

/**
 * Reads HELLO's state flags, recorded k and the list it was repaired under; unknown flag
 * bits, and a list that contradicts the flag, are a protocol error.
 */
function readNodeState(reader: ByteReader): NodeState {
  const flags = reader.u8("state flags");
  if ((flags & ~STATE_FLAG_UNREPAIRED) !== 0) {
    throw new DecodeError(`unknown state flags 0x${flags.toString(16).padStart(2, "0")}`);
  }
  const unrepaired = (flags & STATE_FLAG_UNREPAIRED) !== 0;
  const k = reader.u8("recorded k");
  const repairedUnder = reader.raw(LIST_FINGERPRINT_BYTES, "repaired-under fingerprint").slice();
  if (unrepaired !== isNoList(repairedUnder)) {
    throw new DecodeError(
      unrepaired
        ? "an unrepaired server's HELLO names a server list it was repaired under"
        : "a repaired server's HELLO names no server list it was repaired under",
    );
  }
  return { unrepaired, k, repairedUnder };
}
