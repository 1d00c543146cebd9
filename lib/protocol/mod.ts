/**
 * The kv wire protocol's constants and types: length-prefixed binary frames over one
 * TCP connection between a broker (or any client) and a `kv server`. The
 * specification, byte by byte with hex examples of every request and answer, is
 * [docs/protocol.md](../../docs/protocol.md); this folder implements it:
 * frame_writer.ts writes frames, frame_reader.ts cuts a stream into frames,
 * messages.ts decodes and checks them, put_many.ts lays out PUT_MANY items and
 * client.ts is a pipelined client.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * import { decodeRequest } from "./messages.ts";
 * import { FrameReader } from "./frame_reader.ts";
 * import { str } from "../record/value.ts";
 * const frames = new FrameWriter();
 * frames.put(1, "person1", str("Mary"), { version: { ms: Date.now(), counter: 0, broker: 1 } });
 * const reader = new FrameReader();
 * reader.space().set(frames.bytes());
 * reader.filled(frames.length);
 * decodeRequest(reader.next()!); // { type: "put", key: "person1", ... }
 * ```
 * @module
 */
import { DecodeError } from "../base/bytes.ts";
import type { Value } from "../record/value.ts";
import type { Version } from "../record/version.ts";
import type { PathMiss } from "../record/query_path.ts";
import type { ByteWriter } from "../base/bytes.ts";
import type { PutManyBounds } from "./put_many.ts";

/**
 * The protocol version this module speaks, and the only one: 2 added PUT_MANY, 3 put a
 * version on every write and answer, 4 added the server's state in HELLO (unrepaired,
 * the cluster's k), SET_K, MARK_REPAIRED, DELETE's purge flag and the partition digests
 * and listings that repair compares, 5 the fingerprint of the server list a server was
 * marked repaired under (MARK_REPAIRED's body, HELLO's state), 6 DELETE's aged flag (a
 * tombstone purge the server judges by its own clock), 7 MARK_REPAIRED's expected mark
 * (a compare-and-set: a repair that read a server before another repair re-marked it
 * does not vouch for it) and ERROR MARK_CHANGED, 8 HELLO's answer form: a server that
 * requires authentication answers the first HELLO with only the version and its challenge,
 * and tells its id and state once the client has proved it knows a secret, 9 why a QUERY's
 * record lacks the path, in its NOT_FOUND (the first segment it cannot take, and the field
 * missing there or the leaf in the way), 10 what a DELETE replaced, in its answer (OK the
 * record's version, NOT_FOUND the tombstone's), so that a broker tells which replica's
 * answer is newest, 11 STATS's flags byte (whether the server refuses writes: its data dir
 * cannot be written). A server refuses a HELLO for any other version,
 * and a client a server that does not answer with this one: an older broker would neither
 * know which servers lost data nor keep the cluster's k, nor tell a server repaired for
 * another cluster's list from one repaired for its own, a version 8 client would refuse
 * a NOT_FOUND carrying the miss, a version 9 one a DELETE's OK carrying a version, and a
 * version 10 one a STATS answer carrying its flags.
 */
export const PROTOCOL_VERSION = 11;

/** STATS answer flag bit: the server refuses writes (its data dir cannot be written). */
export const STATS_FLAG_READ_ONLY = 0x01;

/** PUT and DELETE flag bit (and PUT_MANY item flag): a repair copy, acknowledged when stale. */
export const WRITE_FLAG_REPAIR = 0x02;

/** DELETE flag bit: purge, removing the key's record or tombstone entirely when not newer. */
export const DELETE_FLAG_PURGE = 0x04;

/**
 * DELETE flag bit, with {@link DELETE_FLAG_PURGE} only: an aged tombstone purge — the server
 * removes only a tombstone it judges old enough by its own clock
 * ({@link TOMBSTONE_PURGE_AGE_MS}), and answers STALE, changing nothing, otherwise.
 */
export const DELETE_FLAG_AGED = 0x08;

/**
 * How far behind a server's clock a write's version may be, in ms: a minute, as far
 * as a broker's clock takes in a version ahead of it (MAX_CLOCK_AHEAD_MS). A write (not
 * a repair copy) stamped further behind is answered STALE with this server's clock
 * (its time as a version), and the writer stamps it again after that. A tombstone is
 * purged the grace after its version's time: a writer whose clock lagged by d would
 * otherwise shorten the grace of every delete it makes by d (by all of it once d passes
 * the grace), and a delete would come back from a replica down far less than the grace
 * (README, Tombstones). So every version a server takes from a writer is at most this
 * far behind its own clock when it takes it, and the grace it keeps a tombstone is at
 * least the grace less this.
 */
export const MAX_WRITE_LAG_MS = 60_000;

/**
 * Youngest tombstone a server purges on an aged purge ({@link DELETE_FLAG_AGED}, how
 * `kv repair` removes tombstones every replica holds), by its own clock: 20 minutes since
 * the tombstone's version time, and since the server last stored a tombstone in the key's
 * partition by a repair copy (or since it started). Judged by the server, never by the
 * repairing host, whose clock may run ahead. With a write's version at most
 * {@link MAX_WRITE_LAG_MS} (1 min) behind the server's clock when stored, a server has held
 * every tombstone it purges this way for at least 19 minutes: longer than a repair copy
 * or read repair may take from the read that found the server lacking the tombstone to
 * the write's arrival ({@link MAX_REPAIR_READ_AGE_MS} plus one request timeout, at most
 * 10 min), so such a copy of an older version meets the tombstone and is ignored.
 */
export const TOMBSTONE_PURGE_AGE_MS = 20 * 60 * 1000;

/**
 * Oldest read a repair write may rely on, in ms of the copier's monotonic clock from
 * sending the read that found its target lacking the version to sending the write: 8
 * minutes. A copier stopped longer between the two (SIGSTOP, a stall) drops the write,
 * for a later read to redo. With a request timeout of at most 10 minutes this keeps read
 * and write within 18 minutes, under the 19 a server holds a tombstone before an aged
 * purge ({@link TOMBSTONE_PURGE_AGE_MS}), with a minute for the clocks' rates.
 */
export const MAX_REPAIR_READ_AGE_MS = 8 * 60 * 1000;

/** HELLO state flag bit: the server may be missing writes it once acknowledged. */
export const STATE_FLAG_UNREPAIRED = 0x01;

/**
 * Bytes of a server-list fingerprint (MARK_REPAIRED's body, HELLO's state): what a
 * broker's placement depends on, hashed (lib/broker/list_fingerprint.ts). The server
 * only keeps and returns it.
 */
export const LIST_FINGERPRINT_BYTES = 16;

/**
 * The fingerprint of no list: what HELLO carries for a server that is unrepaired. No
 * broker's list hashes to it (MARK_REPAIRED refuses it), so it is trusted by none.
 */
export const NO_LIST: Uint8Array = new Uint8Array(LIST_FINGERPRINT_BYTES);

/**
 * The mark `kv repair` gives a server before it moves any copy, when the server is not
 * marked under the repair's own list (lib/broker/repair.ts): a fingerprint no list has (a
 * SHA-256 prefix of all ones, but for negligible odds), so that no client trusts the
 * server's NOT FOUND — neither one still on the old list, whose copies there the repair may
 * remove, nor one on the new list before the repair has filled it — until the repair marks
 * it under its list at the end. It only takes trust away, so a server applies it whatever
 * its mark (MARK_REPAIRED's compare-and-set guards only the marks that grant trust).
 *
 * @example
 * ```ts
 * LIST_CHANGE_UNDER_WAY.every((byte) => byte === 0xff); // true
 * ```
 */
export const LIST_CHANGE_UNDER_WAY: Uint8Array = new Uint8Array(LIST_FINGERPRINT_BYTES).fill(0xff);

/**
 * Whether `fingerprint` is {@link NO_LIST} (all zeros).
 *
 * @example
 * ```ts
 * isNoList(new Uint8Array(16)); // true
 * ```
 */
export function isNoList(fingerprint: Uint8Array): boolean {
  return fingerprint.every((byte) => byte === 0);
}

/** SET_K flag bit: replace a different k already recorded (only `kv repair -k` sets it). */
export const SET_K_FLAG_REPLACE = 0x01;

/** Largest replication factor a server records (k is a u8; 0 means none recorded). */
export const MAX_RECORDED_K = 255;

/** LIST_PARTITIONS flag bit: send each record's value with its entry. */
export const LIST_FLAG_VALUES = 0x01;

/** Bytes of LIST_PARTITIONS' bitmap of wanted partitions: one bit for each of 4096. */
export const PARTITION_BITMAP_BYTES = 512;

/** Most entries one LIST_PARTITIONS answers. */
export const MAX_LIST_PARTITIONS_LIMIT = 10_000;

/**
 * A LIST_PARTITIONS answer stops (with `more`) before an entry that would start past this
 * many bytes (1 MiB), so one page stays small whatever the limit; it always holds at least
 * one entry, so paging moves on even past a value larger than this.
 */
export const LIST_PARTITIONS_BUDGET_BYTES = 1024 * 1024;

/** Bytes in every frame header: u32 body length, u8 type, u32 request id. */
export const FRAME_HEADER_BYTES = 9;

/** Longest ERROR message, in UTF-8 bytes; longer messages are cut when encoded. */
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/**
 * Longest ERROR message as decoded, in characters: a server's words are shown one line, each
 * character a terminal would not show as itself escaped (`\u001b`, six characters for one
 * byte), then cut here with "…". A kv server's own message quoting a key of MAX_KEY_BYTES
 * printable bytes fits whole; 4096 bytes of escape sequences do not reach a user's screen
 * as 24 KiB.
 */
export const MAX_SHOWN_MESSAGE_CHARACTERS = 2048;

/** Longest HELLO auth data, in bytes. */
export const MAX_AUTH_BYTES = 4096;

/** The request id the server uses for errors about the whole connection. */
export const CONNECTION_REQUEST_ID = 0;

/** Largest request id (ids are u32). */
export const MAX_REQUEST_ID = 0xffff_ffff;

/** HELLO auth scheme meaning "no authentication", the only one protocol version 1 knows. */
export const AUTH_NONE = 0;

/**
 * Why a QUERY's NOT_FOUND says the record lacks the path, its byte after the segment
 * (docs/protocol.md, QUERY; since version 9).
 */
export const MissReason = {
  /** The object reached has no such field; its nearest field's name follows. */
  NO_FIELD: 1,
  /** The path reached a leaf; the leaf's value follows. */
  NOT_OBJECT: 2,
} as const;

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
  SET_K: 0x0a,
  MARK_REPAIRED: 0x0b,
  PARTITION_DIGESTS: 0x0c,
  LIST_PARTITIONS: 0x0d,
  OK: 0x80,
  NOT_FOUND: 0x81,
  ERROR: 0x82,
  STALE: 0x83,
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
  AUTH_REQUIRED: 10,
  AUTH_FAILED: 11,
  READ_ONLY: 12,
  STALE: 13,
  /**
   * MARK_REPAIRED refused: the server's mark is not the one the request expected (another
   * repair re-marked it since the sender read it); the message is the mark it holds, in hex.
   */
  MARK_CHANGED: 14,
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

/**
 * A frame header announcing a body over the limit; found before the body is buffered,
 * so a peer cannot make the reader hold more than the limit.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * const reader = new FrameReader({ maxFrameBytes: 1024 });
 * // A header: body length 1 MiB (u32), message type 1, request id 7 (u32).
 * const header = new Uint8Array([0x00, 0x10, 0x00, 0x00, 0x01, 0, 0, 0, 7]);
 * reader.space().set(header);
 * reader.filled(header.length);
 * try {
 *   reader.next();
 * } catch (error) {
 *   (error as FrameTooLargeError).message; // "frame body of 1048576 bytes is over the limit of 1024"
 *   (error as FrameTooLargeError).requestId; // 7: the ERROR answer names the request
 * }
 * ```
 */
export class FrameTooLargeError extends DecodeError {
  /** The body length the header announced. */
  readonly bodyBytes: number;
  /** The request id from the same header, so the ERROR can name it. */
  readonly requestId: number;

  /** The error for request `requestId`'s frame announcing `bodyBytes`, over `maxFrameBytes`. */
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
    /** The write's version. */
    readonly version: Version;
    /**
     * The value's bytes as received (a view into the frame), not yet decoded: the
     * store validates them as it stores them, with no Value made on the way.
     */
    readonly encodedValue: Uint8Array;
    readonly overwrite: boolean;
    /** A repair copy: when stale it is acknowledged (OK), not answered STALE. */
    readonly repair: boolean;
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
  | {
    readonly type: "delete";
    readonly requestId: number;
    readonly key: string;
    /** The delete's version, kept in the tombstone. */
    readonly version: Version;
    /** A repair copy: when stale it is acknowledged (OK), not answered STALE. */
    readonly repair: boolean;
    /** Purge: remove the key's record or tombstone entirely, leaving nothing. */
    readonly purge: boolean;
    /** With purge: remove only a tombstone old enough by the server's clock. */
    readonly aged: boolean;
  }
  | {
    readonly type: "keys";
    readonly requestId: number;
    readonly prefix: string;
    readonly limit: number;
    readonly after: string | undefined;
  }
  | { readonly type: "stats"; readonly requestId: number }
  | {
    readonly type: "setK";
    readonly requestId: number;
    /** The replication factor asked, 1 to {@link MAX_RECORDED_K}. */
    readonly k: number;
    /** Replace a different k already recorded. */
    readonly replace: boolean;
  }
  | {
    readonly type: "markRepaired";
    readonly requestId: number;
    /** The fingerprint of the server list the repair was made under; never {@link NO_LIST}. */
    readonly list: Uint8Array;
    /**
     * The mark the sender read before its repair read any data ({@link NO_LIST}: unrepaired):
     * the server applies `list` only while its mark is still this one (or is `list`
     * already), except {@link LIST_CHANGE_UNDER_WAY}, which it applies whatever the mark.
     */
    readonly expected: Uint8Array;
  }
  | { readonly type: "partitionDigests"; readonly requestId: number }
  | {
    readonly type: "listPartitions";
    readonly requestId: number;
    /** Send records' values. */
    readonly values: boolean;
    /** Most entries, 1 to {@link MAX_LIST_PARTITIONS_LIMIT}. */
    readonly limit: number;
    /** Only keys strictly after this one; undefined from the start. */
    readonly after: string | undefined;
    /** {@link PARTITION_BITMAP_BYTES} bytes: partition p is wanted when bit `p & 7` of byte `p >> 3` is set (a view into the frame). */
    readonly wanted: Uint8Array;
  };

/** A decoded response, as the client sees it; OK bodies are decoded per request type. */
export type Response =
  | { readonly type: "ok"; readonly requestId: number; readonly body: Uint8Array }
  | {
    readonly type: "not_found";
    readonly requestId: number;
    /** The version of the key's tombstone (or of its record, for a QUERY path it lacks). */
    readonly version: Version | undefined;
    /** For a QUERY path the record lacks: why (the key holds a record; unset otherwise). */
    readonly miss?: PathMiss;
  }
  | { readonly type: "stale"; readonly requestId: number; readonly version: Version }
  | {
    readonly type: "error";
    readonly requestId: number;
    readonly code: number;
    /** The server's words, shown safe to print: see {@link MAX_SHOWN_MESSAGE_CHARACTERS}. */
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
  /** What was wrong, shown safe to print as an ERROR's message is. */
  readonly message: string;
  /** For {@link ErrorCode.STALE}: the newer or equal version the server holds. */
  readonly version?: Version;
}

/** How a versioned write (PUT, DELETE, a PUT_MANY item) is sent. */
export interface WriteOptions {
  /** The write's version, from the broker's clock (or a repaired copy's own). */
  readonly version: Version;
  /** A repair copy: acknowledged, not answered STALE, when the server holds newer. Default false. */
  readonly repair?: boolean;
  /** PUT only: false refuses to replace a record the key holds (EXISTS). Default true. */
  readonly overwrite?: boolean;
  /**
   * DELETE only: purge — remove the key's record or tombstone entirely when the version
   * it holds is not newer than `version` (`deleted` with `existed` false when it held
   * nothing). Default false: leave a tombstone.
   */
  readonly purge?: boolean;
  /**
   * DELETE with `purge` only: remove only a tombstone the server judges old enough by its
   * own clock ({@link TOMBSTONE_PURGE_AGE_MS}); anything else is answered `stale`,
   * unchanged. Default false.
   */
  readonly aged?: boolean;
}

/** What a server answered a PUT: stored (or a stale repair ignored), refused, or stale. */
export type PutResult =
  | { readonly kind: "stored" }
  | { readonly kind: "exists" }
  | { readonly kind: "stale"; readonly version: Version };

/**
 * What a server answered a DELETE: applied (a record was there or not), or stale. An
 * applied DELETE without the purge flag names the version it `replaced`: the record's
 * when `existed`, the tombstone's when not; unset when the key held nothing (or a stale
 * repair copy was ignored), and for a purge.
 */
export type DeleteResult =
  | { readonly kind: "deleted"; readonly existed: boolean; readonly replaced?: Version }
  | { readonly kind: "stale"; readonly version: Version };

/** A GET's or QUERY's answer with the value's bytes not yet decoded; see {@link ReadResult}. */
export interface EncodedRead {
  /** The value as the server encoded it (lib/record/value_codec.ts); undefined for NOT_FOUND. */
  readonly encoded: Uint8Array | undefined;
  /** The version of the key's newest write on that server; undefined when it has none. */
  readonly version: Version | undefined;
  /** A QUERY's NOT_FOUND from a record that lacks the path: why; unset otherwise. */
  readonly miss?: PathMiss;
}

/**
 * What a server answered a GET or QUERY: the value with its record's version; or no
 * value with the version of the tombstone (or record) the key holds; or neither when
 * the server never saw the key.
 */
export interface ReadResult {
  /** The value found; undefined for NOT_FOUND. */
  readonly value: Value | undefined;
  /** The version of the key's newest write on that server; undefined when it has none. */
  readonly version: Version | undefined;
  /** As {@link EncodedRead.miss}. */
  readonly miss?: PathMiss;
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
  /**
   * The server refuses every write (ERROR READ_ONLY: its data dir cannot be written, or it
   * was out of the cluster too long) and serves reads.
   */
  readOnly: boolean;
}

/**
 * A server's state, from its HELLO: whether it may be missing acknowledged writes, the
 * replication factor recorded on it, and the server list it was marked repaired under.
 *
 * @example
 * ```ts
 * const state: NodeState = { unrepaired: true, k: 2, repairedUnder: NO_LIST };
 * ```
 */
export interface NodeState {
  /**
   * The server may be missing writes it once acknowledged: it runs memory-only and
   * (re)started, its data dir was new or empty at start, or recovery skipped a damaged
   * log stretch. Its NOT_FOUND proves nothing until MARK_REPAIRED clears this.
   */
  readonly unrepaired: boolean;
  /** The cluster's replication factor recorded on the server; 0 when none is recorded. */
  readonly k: number;
  /**
   * The fingerprint ({@link LIST_FINGERPRINT_BYTES} bytes) of the server list its last
   * MARK_REPAIRED was made under: it holds every write placed on it by that list, and a
   * broker with another list must not take its NOT_FOUND as proof. {@link NO_LIST}
   * exactly while `unrepaired`.
   */
  readonly repairedUnder: Uint8Array;
}

/**
 * Every partition's entry count (records and tombstones), tombstone count and digest, as
 * PARTITION_DIGESTS answers: two replicas holding the same entries of a partition have
 * equal ones.
 *
 * @example
 * ```ts
 * import { ServerClient } from "./client.ts";
 * const client = await ServerClient.connect({ hostname: "127.0.0.1", port: 8000 });
 * const digests = await client.partitionDigests();
 * digests.counts[0]; // entries in partition 0
 * ```
 */
export interface PartitionDigests {
  /** Entries per partition; length 4096 (PARTITION_COUNT of lib/record/partition.ts). */
  readonly counts: Uint32Array;
  /** Tombstones per partition (counted in `counts` too); length 4096. */
  readonly tombstones: Uint32Array;
  /** The digest of each partition (XOR of its entries' 64-bit hashes); length 4096. */
  readonly digests: BigUint64Array;
}

/**
 * What a server's digest table offers the encoder of PARTITION_DIGESTS' answer: per
 * partition its count, its tombstone count and the two 32-bit halves of its digest.
 *
 * @example
 * ```ts
 * const source: PartitionDigestSource = {
 *   count: () => 0,
 *   tombstones: () => 0,
 *   high: () => 0,
 *   low: () => 0,
 * };
 * ```
 */
export interface PartitionDigestSource {
  /** Entries in `partition`. */
  count(partition: number): number;
  /** Tombstones in `partition`. */
  tombstones(partition: number): number;
  /** The high 32 bits of `partition`'s digest. */
  high(partition: number): number;
  /** The low 32 bits of `partition`'s digest. */
  low(partition: number): number;
}

/**
 * What the encoder of LIST_PARTITIONS' answer reads a server's entries through: a cursor
 * over every key in ascending byte order from where the listing starts (a store's
 * `entryCursor` is one), with no object made per entry.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "../trie/mod.ts";
 * const store = new RecordTrie();
 * const cursor: ListingCursor = store.entryCursor();
 * ```
 */
export interface ListingCursor {
  /** Moves to the next entry; false at the end. */
  next(): boolean;
  /** The entry's key bytes are `key[0, keyLength)`. */
  readonly key: Uint8Array;
  /** Length of the entry's key in bytes. */
  readonly keyLength: number;
  /** The entry's partition. */
  readonly partition: number;
  /** The entry is a tombstone. */
  readonly tombstone: boolean;
  /** Appends the 12 bytes of the entry's version (lib/record/version.ts). */
  writeVersion(writer: ByteWriter): void;
  /** Appends the record's value in the wire encoding. */
  writeValue(writer: ByteWriter): void;
}

/**
 * One entry of a LIST_PARTITIONS answer: a key with the version of its newest write,
 * a record or a tombstone.
 *
 * @example
 * ```ts
 * import { BASE_VERSION } from "../record/version.ts";
 * const entry: PartitionEntry = { key: "person1", version: BASE_VERSION, tombstone: true };
 * ```
 */
export interface PartitionEntry {
  /** The key. */
  readonly key: string;
  /** The version of the key's newest write on that server. */
  readonly version: Version;
  /** The key holds a tombstone (deleted at `version`), not a record. */
  readonly tombstone: boolean;
  /** The record's value, encoded (lib/record/value_codec.ts): only for a record when values were asked. */
  readonly encoded?: Uint8Array;
}

/** How a LIST_PARTITIONS is asked: where to start, how many, whether with values. */
export interface ListPartitionsOptions {
  /** Only keys strictly after this one; default from the start. */
  readonly after?: string;
  /** Most entries, 1 to {@link MAX_LIST_PARTITIONS_LIMIT}. */
  readonly limit: number;
  /** Send each record's value; default false. */
  readonly values?: boolean;
}

/** A LIST_PARTITIONS answer: entries in ascending key order, and whether more may follow. */
export interface PartitionListing {
  /** The entries, in ascending byte order of their keys. */
  readonly entries: PartitionEntry[];
  /** The server stopped at the limit or its byte budget: ask again after the last key. */
  readonly more: boolean;
}

/**
 * What HELLO's welcome reports: the OK that admits the client (to any HELLO on a server
 * without an auth file, to the right answer to its challenge on one with).
 */
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
  /** The server's state: unrepaired, and the k it records. */
  state: NodeState;
}

/**
 * HELLO's challenge: the OK a server requiring authentication sends a client that has
 * proved nothing yet. It tells only what answering needs — the version and the challenge —
 * so that a stranger learns no id or state (which would tell it cluster membership).
 *
 * @example
 * ```ts
 * const challenged: HelloChallenge = { version: 8, challenge: new Uint8Array(32) };
 * ```
 */
export interface HelloChallenge {
  /** The protocol version the server will speak. */
  version: number;
  /** {@link HELLO_CHALLENGE_BYTES} random bytes: answer them in a second HELLO (auth.ts). */
  challenge: Uint8Array;
}

/** Either OK to HELLO; `"challenge" in answer` tells them apart (the wire's form byte). */
export type HelloAnswer = HelloResult | HelloChallenge;

/**
 * The byte after the version in HELLO's OK, saying which of the two bodies follows
 * (since protocol version 8): an explicit tag rather than the body's length, so that a
 * client never has to guess, and a later version can grow either body.
 */
export const HelloForm = {
  /** The server admits the client: frame limit, idle timeout, id and state follow. */
  WELCOME: 0,
  /** The server requires authentication: the challenge follows, nothing else. */
  CHALLENGE: 1,
} as const;

/** Bytes of the server id in HELLO's OK. */
export const SERVER_ID_BYTES = 8;

/** Bytes of the challenge in HELLO's challenge. */
export const HELLO_CHALLENGE_BYTES = 32;
