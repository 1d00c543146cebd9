/**
 * The kv wire protocol: length-prefixed binary frames over one TCP connection,
 * spoken between a broker (or any client) and a `kv server`.
 *
 * ## Frames
 *
 * Every message, in both directions, is one frame: a fixed 9-byte header and
 * then a body. All integers are big-endian.
 *
 * | offset | size | field        | meaning                                                  |
 * |--------|------|--------------|----------------------------------------------------------|
 * | 0      | 4    | body length  | u32, bytes after the header (0 is allowed)               |
 * | 4      | 1    | message type | u8, see the table below                                  |
 * | 5      | 4    | request id   | u32 chosen by the client, echoed in the response         |
 * | 9      | …    | body         | depends on the message type                              |
 *
 * A request body is at most `maxFrameBytes` long (16 MiB by default, the server's
 * `--max-frame-bytes`; HELLO tells the client the server's value). The server
 * rejects a longer frame as soon as it has read the header, before buffering
 * the body, answers with an ERROR `TOO_LARGE` and closes the connection. A
 * response is not bound by that limit (10 000 keys of KEYS, or the refusals of
 * a PUT_MANY, can outgrow a small one): a client reads answers of any length.
 *
 * Strings are a u32 byte length followed by that many UTF-8 bytes (written
 * `string` below). Values use the typed binary encoding of
 * [value_codec.ts](./value_codec.ts) (written `value`): a tag byte — `01`
 * string, `02` int ≥ 0, `05` int < 0, `03` float, `04` object — then varint
 * lengths and ints (unsigned LEB128), a big-endian binary64 for floats, and
 * for objects each field as a varint name length, the name and its value,
 * ended by a `00` byte.
 *
 * Keys are non-empty, contain no `.` and are at most 1024 UTF-8 bytes. A query
 * path has 1 to 65 segments (a key and up to 64 field names, the nesting
 * limit), each a valid key, and joined with dots is at most 4096 bytes.
 *
 * ## Requests (client → server)
 *
 * | type | name   | body                                                                       |
 * |------|--------|----------------------------------------------------------------------------|
 * | `01` | HELLO  | u16 protocol version (1 or 2), u8 auth scheme (0 = none), string auth data (empty) |
 * | `02` | PING   | empty                                                                      |
 * | `03` | PUT    | u8 flags, string key, value (the rest of the body). Flag bit 0 set = refuse if the key exists (the other bits must be 0) |
 * | `04` | GET    | string key                                                                 |
 * | `05` | QUERY  | u8 segment count, then that many strings (`person1.address.street` is 3)   |
 * | `06` | DELETE | string key                                                                 |
 * | `07` | KEYS   | string prefix (may be empty), u32 limit (1 to 10 000), string after (empty = from the start) |
 * | `08` | STATS  | empty                                                                      |
 * | `09` | PUT_MANY | u32 item count (1 to 65 536), then the items: each a PUT body with its value length made explicit — u8 flags, string key, u32 value length, value |
 *
 * HELLO is optional today but a client should send it first: it checks the
 * protocol version, learns the server's frame limit, idle timeout and identity,
 * and is where authentication will go (a new auth scheme number with its data).
 *
 * Versions: 1 is everything here but PUT_MANY, which version 2 added. A server
 * accepts a HELLO asking for any version from 1 to its own and answers with the
 * version asked for; asked for a newer one it answers UNSUPPORTED_VERSION. So a
 * client that needs PUT_MANY asks for 2 and learns when it connects whether the
 * server has it, instead of meeting BAD_REQUEST in the middle of a bulk load.
 *
 * PUT_MANY is many PUTs in one frame, for bulk loads (item layout in
 * [put_many.ts](./put_many.ts)). A malformed item list (a length past the end,
 * unknown flags, trailing bytes, no items) is refused whole with ERROR
 * BAD_REQUEST, and more than 65 536 items with ERROR LIMIT, nothing applied.
 * Otherwise every item is applied in order, each on its own as a PUT would be:
 * an item refused (bad key, bad or empty value, EXISTS, a limit) does not stop
 * the items after it, and the OK lists the refused ones. A key given twice is
 * written twice, in order: the later value wins, or, flagged to refuse an
 * existing key, gets EXISTS. Should the server itself fail (its store broken),
 * it stops at that item and answers ERROR INTERNAL: the items before it may be
 * stored. The batch is made durable, and answered, as one.
 *
 * KEYS lists keys that start with `prefix` in ascending byte order, strictly
 * after `after`, at most `limit` of them; to page through all keys, repeat with
 * `after` set to the last key received until fewer than `limit` come back.
 *
 * ## Responses (server → client)
 *
 * | type | name      | body                                                            |
 * |------|-----------|-----------------------------------------------------------------|
 * | `80` | OK        | depends on the request, see below                               |
 * | `81` | NOT_FOUND | empty: GET, QUERY or DELETE found nothing                       |
 * | `82` | ERROR     | u16 error code, string message (at most 4096 bytes)             |
 *
 * The body of OK per request: HELLO: u16 protocol version, u32 max frame body
 * bytes, u32 idle timeout in ms (a client pings more often than that to keep a
 * quiet connection open), 8-byte server id (random per server process: two
 * addresses answering with one id are one server). GET and QUERY: the value.
 * KEYS: u32 count, then that many strings. PUT_MANY: u32 count of refused items,
 * then for each, in item order, u32 item index (from 0), u16 error code and
 * string message (cut to 4096 bytes as ERROR's) — an empty list when every item
 * was stored. STATS: i64 record count, i64 memory
 * bytes, i64 uptime in ms, u32 open connections. PING, PUT, DELETE: empty.
 *
 * | code | name                | meaning                                                    |
 * |------|---------------------|------------------------------------------------------------|
 * | 1    | BAD_REQUEST         | malformed body, unknown message type                       |
 * | 2    | TOO_LARGE           | frame body over the limit (the connection is closed)       |
 * | 3    | LIMIT               | a key, path, nesting or KEYS limit exceeded                |
 * | 4    | EXISTS              | PUT refused: the key exists and the refuse flag was set    |
 * | 5    | INTERNAL            | the server failed; the request may or may not have applied |
 * | 6    | UNSUPPORTED_VERSION | HELLO asked for a protocol version the server lacks        |
 * | 7    | UNSUPPORTED_AUTH    | HELLO asked for an auth scheme the server lacks            |
 * | 8    | BUSY                | too many connections (the connection is closed)            |
 * | 9    | IDLE_TIMEOUT        | nothing received for too long (the connection is closed)   |
 *
 * ## Pipelining and ordering
 *
 * A client may send many requests without waiting for answers; the server
 * answers every request exactly once, in the order the requests arrived, each
 * response carrying its request's id. Writing a whole batch of PUT frames with
 * one `write` therefore costs one round trip: the server reads them together,
 * makes them durable with one commit, and answers them with one write.
 *
 * Request id 0 is reserved: clients use 1 to 2^32 − 1, and the server sends id 0
 * only in an ERROR about the connection itself (BUSY, IDLE_TIMEOUT, TOO_LARGE
 * before any id was read), right before it closes the connection. A framing
 * error (an oversized length) closes the connection; a well-framed request
 * with a bad body gets an ERROR and the connection carries on.
 *
 * ## Examples
 *
 * GET `person1` with request id 1 (11-byte body):
 *
 * ```text
 * 0000000b 04 00000001   00000007 706572736f6e31
 * ```
 *
 * PUT `k` = `"v"`, refusing to overwrite, request id 2 (9-byte body):
 *
 * ```text
 * 00000009 03 00000002   01 00000001 6b 01 01 76
 * ```
 *
 * PUT `person1` = `{ "age" : 22 }`, request id 3 (20-byte body):
 *
 * ```text
 * 00000014 03 00000003   00 00000007 706572736f6e31 04 03 616765 02 16 00
 * ```
 *
 * OK to request 1 with the int 22 (2-byte body):
 *
 * ```text
 * 00000002 80 00000001   02 16
 * ```
 *
 * PUT_MANY, request id 4, of `a` = 1 and `b` = `"x"`, the second refusing to
 * overwrite (29-byte body: the item count, then two items of 12 and 13 bytes):
 *
 * ```text
 * 0000001d 09 00000004   00000002
 *                        00 00000001 61 00000002 02 01
 *                        01 00000001 62 00000003 01 01 78
 * ```
 *
 * OK to request 4 when `b` existed: item 1 refused with EXISTS and the message
 * `key 'b' exists` (28-byte body):
 *
 * ```text
 * 0000001c 80 00000004   00000001   00000001 0004 0000000e 6b65792027622720657869737473
 * ```
 *
 * ERROR EXISTS to request 2 with the message `exists` (12-byte body):
 *
 * ```text
 * 0000000c 82 00000002   0004 00000006 657869737473
 * ```
 *
 * @example
 * ```ts
 * import { FrameDecoder, FrameWriter, decodeRequest } from "./mod.ts";
 * import { str } from "../record/value.ts";
 * const frames = new FrameWriter();
 * frames.put(1, "person1", str("Mary"));
 * frames.get(2, "person1");
 * const decoder = new FrameDecoder();
 * decoder.push(frames.bytes());
 * for (let frame = decoder.next(); frame; frame = decoder.next()) decodeRequest(frame);
 * ```
 * @module
 */
import { ByteReader, ByteWriter, DecodeError, LimitExceededError } from "../base/bytes.ts";
import {
  MAX_PUT_MANY_ITEMS,
  PUT_FLAG_IF_ABSENT,
  type PutManyBounds,
  readPutManyItems,
} from "./put_many.ts";

export { LimitExceededError } from "../base/bytes.ts";
export { PUT_FLAG_IF_ABSENT } from "./put_many.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_KEY_BYTES,
  MAX_NESTING_DEPTH,
  MAX_PATH_BYTES,
} from "../limits.ts";
import { readUtf8, utf8Length } from "../base/utf8.ts";
import { checkEncodedKey } from "../record/key.ts";
import type { Value } from "../record/value.ts";
import { readValue, writeValue } from "../record/value_codec.ts";

/** The newest protocol version this module speaks (2 added PUT_MANY). */
export const PROTOCOL_VERSION = 2;

/** The oldest protocol version a server still accepts in HELLO. */
export const MIN_PROTOCOL_VERSION = 1;

/** Bytes in every frame header: u32 body length, u8 type, u32 request id. */
export const FRAME_HEADER_BYTES = 9;

/** Most keys one KEYS request may ask for: 10 000 keys of ≤ 1 KiB fit in a 16 MiB frame. */
export const MAX_KEYS_LIMIT = 10_000;

/** Most segments in a QUERY path: the key plus one field name per nesting level. */
export const MAX_PATH_SEGMENTS = MAX_NESTING_DEPTH + 1;

/** Longest ERROR message, in UTF-8 bytes; longer messages are cut when encoded. */
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/** Longest HELLO auth data, in bytes. */
export const MAX_AUTH_BYTES = 4096;

/** The request id the server uses for errors about the whole connection. */
export const CONNECTION_REQUEST_ID = 0;

/** Largest request id (ids are u32). */
export const MAX_REQUEST_ID = 0xffff_ffff;

/** HELLO auth scheme meaning "no authentication", the only one protocol version 1 knows. */
export const AUTH_NONE = 0;

/** The message type byte of every frame. */
export const MessageType = {
  HELLO: 0x01,
  PING: 0x02,
  PUT: 0x03,
  GET: 0x04,
  QUERY: 0x05,
  DELETE: 0x06,
  KEYS: 0x07,
  STATS: 0x08,
  PUT_MANY: 0x09,
  OK: 0x80,
  NOT_FOUND: 0x81,
  ERROR: 0x82,
} as const;

/** The code carried by an ERROR response. */
export const ErrorCode = {
  BAD_REQUEST: 1,
  TOO_LARGE: 2,
  LIMIT: 3,
  EXISTS: 4,
  INTERNAL: 5,
  UNSUPPORTED_VERSION: 6,
  UNSUPPORTED_AUTH: 7,
  BUSY: 8,
  IDLE_TIMEOUT: 9,
} as const;

/** One of the {@link ErrorCode} numbers. */
export type ErrorCodeNumber = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The name of an error code (`"EXISTS"`), or `"UNKNOWN(n)"` for a number this
 * version does not know.
 *
 * @example
 * ```ts
 * errorCodeName(ErrorCode.EXISTS); // "EXISTS"
 * ```
 */
export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name;
  return `UNKNOWN(${code})`;
}

/** A frame header announcing a body over the limit; found before the body is buffered. */
export class FrameTooLargeError extends DecodeError {
  /** The body length the header announced. */
  readonly bodyBytes: number;
  /** The request id from the same header, so the ERROR can name it. */
  readonly requestId: number;

  constructor(bodyBytes: number, maxFrameBytes: number, requestId: number) {
    super(`frame body of ${bodyBytes} bytes is over the limit of ${maxFrameBytes}`);
    this.name = "FrameTooLargeError";
    this.bodyBytes = bodyBytes;
    this.requestId = requestId;
  }
}

/** One complete frame: its type, request id and body bytes. */
export interface Frame {
  /** The message type byte ({@link MessageType}). */
  readonly type: number;
  /** The request id from the header. */
  readonly requestId: number;
  /** The body; may be a view into a chunk that was pushed to the decoder. */
  readonly body: Uint8Array;
}

/** A decoded request, as the server sees it. */
export type Request =
  | {
    readonly type: "hello";
    readonly requestId: number;
    readonly version: number;
    readonly authScheme: number;
    readonly auth: Uint8Array;
  }
  | { readonly type: "ping"; readonly requestId: number }
  | {
    readonly type: "put";
    readonly requestId: number;
    readonly key: string;
    /**
     * The value's bytes as received (a view into the frame), not yet decoded: the
     * store validates them as it stores them, with no Value made on the way.
     */
    readonly encodedValue: Uint8Array;
    readonly overwrite: boolean;
  }
  | {
    readonly type: "putMany";
    readonly requestId: number;
    /** The frame body; the items lie where `items` says. */
    readonly body: Uint8Array;
    /** Where each item's parts lie in `body`, checked: every length is within it. */
    readonly items: PutManyBounds;
  }
  | { readonly type: "get"; readonly requestId: number; readonly key: string }
  | { readonly type: "query"; readonly requestId: number; readonly path: string[] }
  | { readonly type: "delete"; readonly requestId: number; readonly key: string }
  | {
    readonly type: "keys";
    readonly requestId: number;
    readonly prefix: string;
    readonly limit: number;
    readonly after: string | undefined;
  }
  | { readonly type: "stats"; readonly requestId: number };

/** A decoded response, as the client sees it; OK bodies are decoded per request type. */
export type Response =
  | { readonly type: "ok"; readonly requestId: number; readonly body: Uint8Array }
  | { readonly type: "not_found"; readonly requestId: number }
  | {
    readonly type: "error";
    readonly requestId: number;
    readonly code: number;
    readonly message: string;
  };

/**
 * One item of a PUT_MANY that the server did not store, and why.
 *
 * @example
 * ```ts
 * const refusal: PutManyRefusal = { index: 1, code: ErrorCode.EXISTS, message: "key 'b' exists" };
 * ```
 */
export interface PutManyRefusal {
  /** The item's position in its batch, from 0. */
  readonly index: number;
  /** The {@link ErrorCode} a PUT of the item alone would have got. */
  readonly code: number;
  /** What was wrong. */
  readonly message: string;
}

/** What KEYS asks for. */
export interface KeysOptions {
  /** Only keys starting with this; default "" (all keys). */
  prefix?: string;
  /** Most keys to return, 1 to {@link MAX_KEYS_LIMIT}. */
  limit: number;
  /** Only keys after this one (exclusive), for paging; default: from the start. */
  after?: string;
}

/** What STATS reports. */
export interface ServerStats {
  /** Records stored. */
  recordCount: number;
  /** Approximate bytes the records take in memory. */
  memoryBytes: number;
  /** Milliseconds since the server started listening. */
  uptimeMs: number;
  /** Open client connections, this one included. */
  connectionCount: number;
}

/** What HELLO's OK reports. */
export interface HelloResult {
  /** The protocol version the server will speak. */
  version: number;
  /** The largest frame body the server accepts. */
  maxFrameBytes: number;
  /** How long the server lets a connection sit silent before closing it, in ms. */
  idleTimeoutMs: number;
  /**
   * 16 hex digits, random per server process: two addresses with the same id are one
   * server (a broker must not put two replicas there).
   */
  serverId: string;
}

/** Bytes of the server id in HELLO's OK. */
export const SERVER_ID_BYTES = 8;

const textEncoder = new TextEncoder();

/**
 * Throws unless `key` is a valid record key or path segment: non-empty, no
 * `.`, at most {@link MAX_KEY_BYTES} UTF-8 bytes.
 *
 * @example
 * ```ts
 * checkKey("person1"); // ok
 * checkKey("a.b"); // throws DecodeError
 * ```
 */
export function checkKey(key: string, what = "key"): void {
  if (key.length === 0) throw new DecodeError(`empty ${what}`);
  if (key.includes(".")) throw new DecodeError(`${what} '${key}' contains '.'`);
  const bytes = utf8Length(key);
  if (bytes > MAX_KEY_BYTES) {
    throw new LimitExceededError(`${what} is ${bytes} bytes, over the limit of ${MAX_KEY_BYTES}`);
  }
}

/**
 * Throws unless `path` is a valid query path: 1 to {@link MAX_PATH_SEGMENTS}
 * valid segments, at most {@link MAX_PATH_BYTES} when joined with dots.
 *
 * @example
 * ```ts
 * checkPath(["person1", "address", "street"]); // ok
 * ```
 */
export function checkPath(path: readonly string[]): void {
  if (path.length === 0) throw new DecodeError("empty query path");
  if (path.length > MAX_PATH_SEGMENTS) {
    throw new LimitExceededError(
      `query path has ${path.length} segments, over the limit of ${MAX_PATH_SEGMENTS}`,
    );
  }
  let bytes = path.length - 1;
  for (const segment of path) {
    checkKey(segment, "path segment");
    bytes += utf8Length(segment);
  }
  if (bytes > MAX_PATH_BYTES) {
    throw new LimitExceededError(
      `query path is ${bytes} bytes, over the limit of ${MAX_PATH_BYTES}`,
    );
  }
}

/**
 * Throws unless `options` is a valid KEYS request: prefix without `.` and at
 * most {@link MAX_KEY_BYTES}, limit within 1 to {@link MAX_KEYS_LIMIT}, after a
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

/**
 * Appends frames to one growing buffer, so that many messages go out in one
 * write. Encoders do not validate keys; see {@link checkKey}.
 *
 * @example
 * ```ts
 * const frames = new FrameWriter();
 * frames.get(1, "person1");
 * frames.ping(2);
 * await conn.write(frames.bytes());
 * ```
 */
export class FrameWriter {
  readonly #out: ByteWriter;
  #frameCount = 0;

  /** @param capacity initial buffer size in bytes. */
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

  /** The frames written so far, as one view (valid until the next write or reset). */
  bytes(): Uint8Array {
    return this.#out.bytes();
  }

  /** Forgets everything written, keeping the buffer. */
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

  /** Appends a frame with an already-encoded body. */
  frame(type: number, requestId: number, body: Uint8Array): void {
    const start = this.#begin(type, requestId);
    this.#out.raw(body);
    this.#end(start);
  }

  /** Appends HELLO. */
  hello(requestId: number, version: number = PROTOCOL_VERSION): void {
    const start = this.#begin(MessageType.HELLO, requestId);
    this.#out.u16(version);
    this.#out.u8(AUTH_NONE);
    this.#out.u32(0);
    this.#end(start);
  }

  /** Appends PING. */
  ping(requestId: number): void {
    this.#end(this.#begin(MessageType.PING, requestId));
  }

  /** Appends PUT; `overwrite` defaults to true. */
  put(requestId: number, key: string, value: Value, options: { overwrite?: boolean } = {}): void {
    const start = this.#begin(MessageType.PUT, requestId);
    this.#out.u8(options.overwrite === false ? PUT_FLAG_IF_ABSENT : 0);
    this.#out.string(key);
    writeValue(this.#out, value);
    this.#end(start);
  }

  /** Appends PUT with a value already encoded by `encodeValue`; `overwrite` defaults to true. */
  putEncoded(
    requestId: number,
    key: string,
    encodedValue: Uint8Array,
    options: { overwrite?: boolean } = {},
  ): void {
    const start = this.#begin(MessageType.PUT, requestId);
    this.#out.u8(options.overwrite === false ? PUT_FLAG_IF_ABSENT : 0);
    this.#out.string(key);
    this.#out.raw(encodedValue);
    this.#end(start);
  }

  /** Appends PUT_MANY carrying `itemCount` (at least one) items, laid out as lib/protocol/put_many.ts says. */
  putMany(requestId: number, itemCount: number, itemBytes: Uint8Array): void {
    if (!(itemCount >= 1 && itemCount <= MAX_PUT_MANY_ITEMS)) {
      throw new RangeError(`a PUT_MANY holds 1 to ${MAX_PUT_MANY_ITEMS} items, not ${itemCount}`);
    }
    const start = this.#begin(MessageType.PUT_MANY, requestId);
    this.#out.u32(itemCount);
    this.#out.raw(itemBytes);
    this.#end(start);
  }

  /** Appends GET. */
  get(requestId: number, key: string): void {
    const start = this.#begin(MessageType.GET, requestId);
    this.#out.string(key);
    this.#end(start);
  }

  /** Appends QUERY. */
  query(requestId: number, path: readonly string[]): void {
    const start = this.#begin(MessageType.QUERY, requestId);
    this.#out.u8(path.length);
    for (const segment of path) this.#out.string(segment);
    this.#end(start);
  }

  /** Appends DELETE. */
  delete(requestId: number, key: string): void {
    const start = this.#begin(MessageType.DELETE, requestId);
    this.#out.string(key);
    this.#end(start);
  }

  /** Appends KEYS. */
  keys(requestId: number, options: KeysOptions): void {
    const start = this.#begin(MessageType.KEYS, requestId);
    this.#out.string(options.prefix ?? "");
    this.#out.u32(options.limit);
    this.#out.string(options.after ?? "");
    this.#end(start);
  }

  /** Appends STATS. */
  stats(requestId: number): void {
    this.#end(this.#begin(MessageType.STATS, requestId));
  }

  /** Appends an empty OK (PING, PUT, DELETE). */
  ok(requestId: number): void {
    this.#end(this.#begin(MessageType.OK, requestId));
  }

  /** Appends OK carrying a value (GET, QUERY). */
  okValue(requestId: number, value: Value): void {
    const start = this.#begin(MessageType.OK, requestId);
    writeValue(this.#out, value);
    this.#end(start);
  }

  /** Appends OK carrying keys (KEYS). */
  okKeys(requestId: number, keys: readonly string[]): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u32(keys.length);
    for (const key of keys) this.#out.string(key);
    this.#end(start);
  }

  /** Appends OK answering PUT_MANY: the refused items, in item order. */
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

  /** Appends OK carrying statistics (STATS). */
  okStats(requestId: number, stats: ServerStats): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.i64(stats.recordCount);
    this.#out.i64(stats.memoryBytes);
    this.#out.i64(stats.uptimeMs);
    this.#out.u32(stats.connectionCount);
    this.#end(start);
  }

  /** Appends OK answering HELLO. */
  okHello(requestId: number, hello: HelloResult): void {
    const start = this.#begin(MessageType.OK, requestId);
    this.#out.u16(hello.version);
    this.#out.u32(hello.maxFrameBytes);
    this.#out.u32(hello.idleTimeoutMs);
    this.#out.raw(hexToBytes(hello.serverId));
    this.#end(start);
  }

  /** Appends NOT_FOUND. */
  notFound(requestId: number): void {
    this.#end(this.#begin(MessageType.NOT_FOUND, requestId));
  }

  /** Appends ERROR; a message over {@link MAX_ERROR_MESSAGE_BYTES} is cut to fit. */
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

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest body accepted; default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number;
}

/** Compact the chunk queue once this many consumed chunks sit at its front. */
const CHUNK_QUEUE_COMPACT_AT = 64;

/**
 * Cuts a byte stream into frames. Push chunks as they arrive from a socket and
 * call {@link FrameDecoder.next} until it returns `undefined`. A frame inside
 * one chunk is returned as a view (no copy); one spanning chunks is copied
 * once, so every byte is copied at most once however the stream is split.
 * Pushed chunks are kept by reference: do not reuse their memory.
 *
 * After an error (a body over `maxFrameBytes`, found from the header alone)
 * the decoder keeps throwing it: the stream cannot be resynchronised.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
 * decoder.push(chunk);
 * for (let frame = decoder.next(); frame; frame = decoder.next()) handle(frame);
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #headOffset = 0;
  #buffered = 0;
  #header: { bodyBytes: number; type: number; requestId: number } | undefined;
  #error: DecodeError | undefined;
  /** Holds a header that straddles chunks. */
  readonly #headerBytes = new Uint8Array(FRAME_HEADER_BYTES);

  /** @param options see {@link FrameDecoderOptions}. */
  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered + (this.#header ? FRAME_HEADER_BYTES : 0);
  }

  /** Adds bytes from the stream. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete frame, or `undefined` until more bytes arrive; throws DecodeError. */
  next(): Frame | undefined {
    if (this.#error) throw this.#error;
    if (this.#header === undefined) {
      if (this.#buffered < FRAME_HEADER_BYTES) return undefined;
      const first = this.#chunks[this.#head];
      let header: Uint8Array = this.#headerBytes;
      let at = 0;
      if (first.length - this.#headOffset >= FRAME_HEADER_BYTES) {
        // The usual case, read in place: no copy, no allocation.
        header = first;
        at = this.#headOffset;
        this.#buffered -= FRAME_HEADER_BYTES;
        this.#advance(first, FRAME_HEADER_BYTES);
      } else {
        this.#take(FRAME_HEADER_BYTES, this.#headerBytes);
      }
      const bodyBytes = readU32(header, at);
      const type = header[at + 4];
      const requestId = readU32(header, at + 5);
      if (bodyBytes > this.#maxFrameBytes) {
        this.#error = new FrameTooLargeError(bodyBytes, this.#maxFrameBytes, requestId);
        this.#dropAll();
        throw this.#error;
      }
      this.#header = { bodyBytes, type, requestId };
    }
    const { bodyBytes, type, requestId } = this.#header;
    if (this.#buffered < bodyBytes) return undefined;
    this.#header = undefined;
    return { type, requestId, body: this.#take(bodyBytes) };
  }

  /** Pushes `chunk` and returns every frame now complete. */
  feed(chunk: Uint8Array): Frame[] {
    this.push(chunk);
    const frames: Frame[] = [];
    for (let frame = this.next(); frame; frame = this.next()) frames.push(frame);
    return frames;
  }

  /** Removes `count` buffered bytes (the caller checked they are there). */
  #take(count: number, into?: Uint8Array): Uint8Array {
    if (count === 0) return EMPTY;
    this.#buffered -= count;
    const first = this.#chunks[this.#head];
    if (into === undefined && first.length - this.#headOffset >= count) {
      const view = first.subarray(this.#headOffset, this.#headOffset + count);
      this.#advance(first, count);
      return view;
    }
    const target = into ?? new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[this.#head];
      const available = Math.min(chunk.length - this.#headOffset, count - filled);
      target.set(chunk.subarray(this.#headOffset, this.#headOffset + available), filled);
      filled += available;
      this.#advance(chunk, available);
    }
    return target;
  }

  #advance(chunk: Uint8Array, count: number): void {
    this.#headOffset += count;
    if (this.#headOffset < chunk.length) return;
    this.#chunks[this.#head] = EMPTY;
    this.#head++;
    this.#headOffset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= CHUNK_QUEUE_COMPACT_AT) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  #dropAll(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#headOffset = 0;
    this.#buffered = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** The big-endian u32 at `at`. */
function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
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
    const length = new DataView(body.buffer, body.byteOffset + reader.offset, 4).getUint32(0);
    if (length > MAX_KEY_BYTES) {
      throw new LimitExceededError(
        `${what} is ${length} bytes, over the limit of ${MAX_KEY_BYTES}`,
      );
    }
  }
  return reader.string(what, MAX_KEY_BYTES);
}

function readKey(reader: ByteReader, body: Uint8Array, what = "key"): string {
  const key = readBoundedString(reader, body, what);
  checkKey(key, what);
  return key;
}

/**
 * Decodes and validates a request frame. Throws {@link LimitExceededError} for
 * a broken limit and DecodeError for anything else malformed, including a
 * response type or an unknown type.
 *
 * @example
 * ```ts
 * const request = decodeRequest(frame);
 * if (request.type === "get") store.get(request.key);
 * ```
 */
export function decodeRequest(frame: Frame): Request {
  const reader = new ByteReader(frame.body);
  const requestId = frame.requestId;
  switch (frame.type) {
    case MessageType.HELLO: {
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
    case MessageType.PING:
      return finish(reader, { type: "ping", requestId }, "PING");
    case MessageType.PUT: {
      const flags = reader.u8("PUT flags");
      if ((flags & ~PUT_FLAG_IF_ABSENT) !== 0) {
        throw new DecodeError(`unknown PUT flags 0x${flags.toString(16).padStart(2, "0")}`);
      }
      const key = readKey(reader, frame.body);
      // The value is the rest of the body; whoever stores it validates it.
      const encodedValue = reader.raw(reader.remaining, "value");
      const overwrite = (flags & PUT_FLAG_IF_ABSENT) === 0;
      return { type: "put", requestId, key, encodedValue, overwrite };
    }
    case MessageType.GET:
      return finish(reader, { type: "get", requestId, key: readKey(reader, frame.body) }, "GET");
    case MessageType.QUERY: {
      const segmentCount = reader.u8("segment count");
      if (segmentCount === 0) throw new DecodeError("empty query path");
      if (segmentCount > MAX_PATH_SEGMENTS) {
        throw new LimitExceededError(
          `query path has ${segmentCount} segments, over the limit of ${MAX_PATH_SEGMENTS}`,
        );
      }
      const path: string[] = [];
      for (let index = 0; index < segmentCount; index++) {
        path.push(readBoundedString(reader, frame.body, "path segment"));
      }
      checkPath(path);
      return finish(reader, { type: "query", requestId, path }, "QUERY");
    }
    case MessageType.DELETE:
      return finish(
        reader,
        { type: "delete", requestId, key: readKey(reader, frame.body) },
        "DELETE",
      );
    case MessageType.KEYS: {
      const prefix = readBoundedString(reader, frame.body, "prefix");
      const limit = reader.u32("KEYS limit");
      const afterText = readBoundedString(reader, frame.body, "after key");
      const after = afterText.length === 0 ? undefined : afterText;
      checkKeysOptions({ prefix, limit, after });
      return finish(reader, { type: "keys", requestId, prefix, limit, after }, "KEYS");
    }
    case MessageType.STATS:
      return finish(reader, { type: "stats", requestId }, "STATS");
    case MessageType.PUT_MANY: {
      const itemCount = reader.u32("item count");
      const items = readPutManyItems(frame.body, reader.offset, itemCount);
      return { type: "putMany", requestId, body: frame.body, items };
    }
    default:
      throw new DecodeError(`unknown request type 0x${frame.type.toString(16).padStart(2, "0")}`);
  }
}

/**
 * Decodes a response frame; the OK body stays raw, for the decoder matching
 * the request (`decodeValueBody`, `decodeKeysBody`, …).
 *
 * @example
 * ```ts
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
      return finish(reader, { type: "not_found", requestId }, "NOT_FOUND");
    }
    case MessageType.ERROR: {
      const reader = new ByteReader(frame.body);
      const code = reader.u16("error code");
      const message = reader.string("error message", MAX_ERROR_MESSAGE_BYTES);
      return finish(reader, { type: "error", requestId, code, message }, "ERROR");
    }
    default:
      throw new DecodeError(`unknown response type 0x${frame.type.toString(16).padStart(2, "0")}`);
  }
}

/**
 * Checks that an OK body is empty (PING, PUT, DELETE).
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
 * Decodes the value in an OK to GET or QUERY.
 *
 * @example
 * ```ts
 * decodeValueBody(response.body); // { kind: "int", value: 22 }
 * ```
 */
export function decodeValueBody(body: Uint8Array): Value {
  const reader = new ByteReader(body);
  return finish(reader, readValue(reader), "OK");
}

/**
 * Decodes the keys in an OK to KEYS.
 *
 * @example
 * ```ts
 * decodeKeysBody(response.body); // ["person1", "person2"]
 * ```
 */
export function decodeKeysBody(body: Uint8Array): string[] {
  const reader = new ByteReader(body);
  const count = reader.u32("key count");
  // Each key takes at least 5 bytes, so a larger count is a lie, not an allocation.
  if (count * 5 > reader.remaining) throw new DecodeError(`key count ${count} exceeds the bytes`);
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
 * decodePutManyBody(response.body); // [] when every item was stored
 * ```
 */
export function decodePutManyBody(body: Uint8Array): PutManyRefusal[] {
  const reader = new ByteReader(body);
  const count = reader.u32("refusal count");
  // Each refusal takes some bytes, so a larger count is a lie, not an allocation.
  if (count * MIN_REFUSAL_BYTES > reader.remaining) {
    throw new DecodeError(`refusal count ${count} exceeds the bytes`);
  }
  const refusals: PutManyRefusal[] = [];
  for (let position = 0; position < count; position++) {
    const index = reader.u32("item index");
    const code = reader.u16("error code");
    const message = reader.string("error message", MAX_ERROR_MESSAGE_BYTES);
    refusals.push({ index, code, message });
  }
  return finish(reader, refusals, "OK");
}

/**
 * Reads and checks the key of a PUT_MANY item, `body[start, end)`, as a PUT's key is
 * checked: valid UTF-8, non-empty, no `.`, at most MAX_KEY_BYTES bytes.
 *
 * @example
 * ```ts
 * const key = readItemKey(request.body, items.keyStart(0), items.keyEnd(0));
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
  };
  return finish(reader, stats, "OK");
}

/**
 * Decodes the OK to HELLO.
 *
 * @example
 * ```ts
 * decodeHelloBody(response.body);
 * // { version: 1, maxFrameBytes: 16777216, idleTimeoutMs: 30000, serverId: "9f3a…" }
 * ```
 */
export function decodeHelloBody(body: Uint8Array): HelloResult {
  const reader = new ByteReader(body);
  const hello = {
    version: reader.u16("protocol version"),
    maxFrameBytes: reader.u32("max frame"),
    idleTimeoutMs: reader.u32("idle timeout"),
    serverId: bytesToHex(reader.raw(SERVER_ID_BYTES, "server id")),
  };
  return finish(reader, hello, "OK");
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function hexToBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new RangeError(`server id must be 16 hex digits: ${hex}`);
  return Uint8Array.from(
    { length: SERVER_ID_BYTES },
    (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16),
  );
}
