import assert from "node:assert/strict";
import {
  MAX_KEY_BYTES,
  MAX_KEYS_LIMIT,
  MAX_PATH_BYTES,
  MAX_PATH_SEGMENTS,
} from "../../lib/limits.ts";
import fc from "fast-check";
import {
  ByteReader,
  bytesToHex,
  ByteWriter,
  DecodeError,
  LimitExceededError,
} from "../../lib/base/bytes.ts";
import {
  decodeEmptyBody,
  decodeHelloBody,
  decodeKeysBody,
  decodeListPartitionsBody,
  decodePartitionDigestsBody,
  decodePutManyBody,
  decodeRequest,
  decodeResponse,
  decodeSetKBody,
  decodeStatsBody,
  decodeValueBody,
  decodeVersionBody,
  DIGEST_ROW_BYTES,
  GET_KEY_START,
  isWellFormedGetBody,
  readItemKey,
  splitValueBody,
  splitValueBodyAt,
} from "../../lib/protocol/messages.ts";
import {
  ErrorCode,
  errorCodeName,
  type Frame,
  FRAME_HEADER_BYTES,
  HelloForm,
  LIST_CHANGE_UNDER_WAY,
  LIST_FINGERPRINT_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_SHOWN_MESSAGE_CHARACTERS,
  MessageType,
  NO_LIST,
  PARTITION_BITMAP_BYTES,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";
import { listFingerprint } from "../../lib/broker/list_fingerprint.ts";
import { AUTH_HMAC_SHA256, AuthKeys, parseAuthFile } from "../../lib/protocol/auth.ts";
import { RecordTrie } from "../../lib/trie/mod.ts";
import { PARTITION_COUNT, partitionOf } from "../../lib/record/partition.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { type PutManyBounds, PutManyItems } from "../../lib/protocol/put_many.ts";
import { float, int, object, str, valueEquals } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import type { PathMiss } from "../../lib/record/query_path.ts";
import { feedFrames, framesOf } from "../helpers/frames.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { at, nextVersion } from "../helpers/versions.ts";
import {
  formatVersion,
  readVersion,
  type Version,
  VERSION_BYTES,
  writeVersion,
} from "../../lib/record/version.ts";

function onlyFrame(frames: FrameWriter): Frame {
  const decoded = framesOf(frames.bytes());
  assert.equal(decoded.length, 1);
  return decoded[0];
}

function frameOf(type: number, body: number[] | Uint8Array, requestId = 1): Frame {
  return { type, requestId, body: Uint8Array.from(body) };
}

/** Every hex block of docs/protocol.md, in order, whitespace removed. */
async function documentedHex(): Promise<string[]> {
  const doc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  return [...doc.matchAll(/```text\n([0-9a-f\s]*)```/g)].map((match) =>
    match[1].replace(/\s/g, "")
  );
}

/**
 * The examples' versions (docs/protocol.md, Versions): V1 < V2 < V3, V1 and V2 in one
 * millisecond; V4, DELETE's, after V3.
 */
const V1: Version = { ms: 1_733_040_000_000, counter: 0, broker: 42 };
const V2: Version = { ms: 1_733_040_000_000, counter: 1, broker: 42 };
const V3: Version = { ms: 1_733_040_000_005, counter: 0, broker: 7 };
const V4: Version = { ms: 1_733_040_000_010, counter: 0, broker: 7 };

/** The examples of docs/protocol.md, Values, in order. */
const DOCUMENTED_VALUES = [
  str("Mary"),
  int(300),
  int(-5),
  float(1.5),
  object([["age", int(22)]]),
  object([["name", str("Ann")], ["address", object([["city", str("Oslo")]])]]),
];

/** The record the examples store under `person1`. */
const RECORD = object([["age", int(22)]]);
/** The documented STATS answer's numbers. */
const STATS = { recordCount: 2, memoryBytes: 4096, uptimeMs: 60_000, connectionCount: 1 };

/** The examples of QUERY's NOT_FOUND: `person1.agee` and `person1.age.x` of RECORD. */
const TYPO: PathMiss = { reason: "no-field", segment: 1, closest: "age" };
const LEAF: PathMiss = { reason: "not-object", segment: 2, value: int(22) };

/** The example server's HELLO answer, but its state. */
const HELLO = {
  version: PROTOCOL_VERSION,
  maxFrameBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 30_000,
  serverId: "9f3a0c5e12b47d68",
};

/** The secret of docs/protocol.md's authentication example: the bytes 0 to 31. */
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);

/** The challenge of that example: 32 bytes of 0xaa. */
const CHALLENGE = new Uint8Array(32).fill(0xaa);

/** The fingerprint of the example list of docs/protocol.md, with k = 2. */
const LIST = listFingerprint(["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"], 2);

Deno.test("every hex example of docs/protocol.md is what the encoders write", async () => {
  const written: string[] = [formatVersion(V1)];
  written.push(...DOCUMENTED_VALUES.map((value) => bytesToHex(encodeValue(value))));
  const frames = new FrameWriter();
  const frame = (write: (frames: FrameWriter) => void) => {
    frames.reset();
    write(frames);
    written.push(bytesToHex(frames.bytes()));
  };
  frame((w) => w.hello(1, PROTOCOL_VERSION));
  frame((w) => w.okHello(1, { ...HELLO, state: { unrepaired: false, k: 2, repairedUnder: LIST } }));
  frame((w) =>
    w.okHello(1, { ...HELLO, state: { unrepaired: true, k: 0, repairedUnder: NO_LIST } })
  );
  const answer = await (await AuthKeys.fromSecrets([SECRET])).answer(CHALLENGE);
  const repaired = { unrepaired: false, k: 2, repairedUnder: LIST };
  frame((w) => w.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256));
  frame((w) => w.okHelloChallenge(1, { version: PROTOCOL_VERSION, challenge: CHALLENGE }));
  frame((w) => w.hello(2, PROTOCOL_VERSION, AUTH_HMAC_SHA256, answer));
  frame((w) => w.okHello(2, { ...HELLO, state: repaired }));
  frame((w) => w.ping(2));
  frame((w) => w.ok(2));
  frame((w) => w.put(3, "person1", RECORD, { version: V1 }));
  frame((w) => w.ok(3));
  frame((w) => w.put(4, "k", str("v"), { version: V2, overwrite: false }));
  frame((w) => w.error(4, ErrorCode.EXISTS, "key 'k' exists"));
  frame((w) => w.put(14, "person1", int(0), { version: V1 }));
  frame((w) => w.stale(14, V3));
  frame((w) => w.put(15, "person1", int(0), { version: V1, repair: true }));
  frame((w) => w.get(5, "person1"));
  frame((w) => w.okValue(5, V3, RECORD));
  frame((w) => w.get(6, "nobody"));
  frame((w) => w.notFound(6));
  frame((w) => w.notFound(6, V2));
  frame((w) => w.query(7, ["person1", "age"]));
  frame((w) => w.okValue(7, V3, int(22)));
  frame((w) => w.query(23, ["person1", "agee"]));
  frame((w) => w.notFound(23, V3, TYPO));
  frame((w) => w.query(24, ["person1", "age", "x"]));
  frame((w) => w.notFound(24, V3, LEAF));
  frame((w) => w.delete(8, "person1", { version: V4 }));
  frame((w) => w.okVersion(8, V3));
  frame((w) => w.delete(25, "nobody", { version: V3 }));
  frame((w) => w.notFound(25, V2));
  frame((w) => w.delete(16, "person1", { version: V3, purge: true }));
  frame((w) => w.ok(16));
  frame((w) => w.delete(17, "person1", { version: V3, purge: true, aged: true }));
  frame((w) => w.ok(17));
  frame((w) => w.keys(9, { prefix: "person", limit: 2 }));
  frame((w) => w.okKeys(9, ["person1", "person2"]));
  frame((w) => w.keys(10, { prefix: "person", limit: 2, after: "person2" }));
  frame((w) => w.stats(11));
  frame((w) => w.okStats(11, { ...STATS, readOnly: false }));
  frame((w) => w.okStats(11, { ...STATS, readOnly: true }));
  const items = new PutManyItems();
  items.add("a", encodeValue(int(1)), V1);
  items.add("b", encodeValue(str("x")), V2, { overwrite: false });
  frame((w) => w.putMany(12, items.itemCount, items.bytes()));
  frame((w) => w.okPutMany(12, [{ index: 1, code: ErrorCode.EXISTS, message: "key 'b' exists" }]));
  frame((w) => w.okPutMany(12, [{ index: 0, code: ErrorCode.STALE, message: formatVersion(V3) }]));
  frame((w) => w.setK(17, 2, false));
  frame((w) => w.okSetK(17, 2));
  frame((w) => w.setK(18, 3, false));
  frame((w) => w.okSetK(18, 2));
  frame((w) => w.markRepaired(19, LIST, LIST_CHANGE_UNDER_WAY));
  frame((w) => w.ok(19));
  frame((w) => w.markRepaired(22, LIST, NO_LIST));
  frame((w) => w.error(22, ErrorCode.MARK_CHANGED, "f".repeat(32)));
  frame((w) => w.partitionDigests(20));
  const wanted = new Uint8Array(PARTITION_BITMAP_BYTES);
  wanted[partitionOf("person1") >> 3] |= 1 << (partitionOf("person1") & 7);
  frame((w) => w.listPartitions(21, wanted, { limit: 100, values: true }));
  const holding = new RecordTrie();
  holding.put("person1", RECORD, { version: V3 });
  frame((w) => w.okListPartitions(21, holding.entryCursor(), { wanted, limit: 100, values: true }));
  frame((w) => w.error(13, ErrorCode.BAD_REQUEST, "empty key"));
  frame((w) => w.error(0, ErrorCode.BUSY, "too many connections"));
  assert.deepEqual(await documentedHex(), written);
});

/** The bytes a documented hex example spells. */
function bytesOfHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

/** The one frame a documented example holds, cut by the real FrameReader. */
function documentedFrame(text: string): Frame {
  const bytes = bytesOfHex(text);
  const frames = framesOf(bytes);
  assert.equal(frames.length, 1, text);
  assert.equal(frames[0].body.length + FRAME_HEADER_BYTES, bytes.length, "no bytes left over");
  return frames[0];
}

/** The request a documented example holds, decoded, with its value decoded too (PUT). */
function documentedRequest(text: string): Record<string, unknown> {
  const request = decodeRequest(documentedFrame(text));
  if (request.type !== "put") return request;
  const { encodedValue, ...rest } = request;
  return { ...rest, value: decodeValue(encodedValue) };
}

/** The answer a documented example holds; an OK's body decoded by `body`. */
function documentedAnswer(text: string, body?: (bytes: Uint8Array) => unknown): unknown {
  const answer = decodeResponse(documentedFrame(text));
  if (answer.type !== "ok") return answer;
  return { type: "ok", requestId: answer.requestId, body: (body ?? decodeEmptyBody)(answer.body) };
}

Deno.test("every hex example of docs/protocol.md decodes, with the real decoders, to what its text says", async () => {
  const examples = await documentedHex();
  const next = () => examples.shift()!;
  assert.deepEqual(readVersion(bytesOfHex(next()), 0), V1);
  for (const value of DOCUMENTED_VALUES) {
    assert(valueEquals(decodeValue(bytesOfHex(next())), value));
  }
  const ok = (requestId: number, body?: unknown) => ({ type: "ok", requestId, body });
  const notFound = (requestId: number, version?: Version) => ({
    type: "not_found",
    requestId,
    version,
  });
  const error = (requestId: number, code: number, message: string) => ({
    type: "error",
    requestId,
    code,
    message,
  });
  const auth = new Uint8Array();
  assert.deepEqual(documentedRequest(next()), {
    type: "hello",
    requestId: 1,
    version: PROTOCOL_VERSION,
    authScheme: 0,
    auth,
  });
  const repaired = { unrepaired: false, k: 2, repairedUnder: LIST };
  assert.deepEqual(documentedAnswer(next(), decodeHelloBody), ok(1, { ...HELLO, state: repaired }));
  const unrepaired = { unrepaired: true, k: 0, repairedUnder: NO_LIST };
  assert.deepEqual(
    documentedAnswer(next(), decodeHelloBody),
    ok(1, { ...HELLO, state: unrepaired }),
  );
  // Authentication: the answer is the HMAC the text describes, computed here from its words.
  const key = await crypto.subtle.importKey(
    "raw",
    SECRET,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signed = Uint8Array.of(
    ...new TextEncoder().encode("kv hello hmac-sha256 v1\0"),
    ...CHALLENGE,
  );
  const answer = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  const hmac = { type: "hello", version: PROTOCOL_VERSION, authScheme: AUTH_HMAC_SHA256 };
  assert.deepEqual(documentedRequest(next()), { ...hmac, requestId: 1, auth: new Uint8Array() });
  // The challenge: the version and the challenge, nothing about the server.
  assert.deepEqual(
    documentedAnswer(next(), decodeHelloBody),
    ok(1, { version: PROTOCOL_VERSION, challenge: CHALLENGE }),
  );
  assert.deepEqual(documentedRequest(next()), { ...hmac, requestId: 2, auth: answer });
  assert.deepEqual(documentedAnswer(next(), decodeHelloBody), ok(2, { ...HELLO, state: repaired }));
  const server = await AuthKeys.fromSecrets(parseAuthFile(`${bytesToHex(SECRET)}\n`, "kv.auth"));
  assert.equal(
    await server.verify(CHALLENGE, answer),
    true,
    "a server with that secret accepts it",
  );
  assert.deepEqual(documentedRequest(next()), { type: "ping", requestId: 2 });
  assert.deepEqual(documentedAnswer(next()), ok(2));
  const put = { type: "put", key: "person1", overwrite: true, repair: false };
  assert.deepEqual(documentedRequest(next()), {
    ...put,
    requestId: 3,
    version: V1,
    value: RECORD,
  });
  assert.deepEqual(documentedAnswer(next()), ok(3));
  assert.deepEqual(documentedRequest(next()), {
    ...put,
    requestId: 4,
    key: "k",
    version: V2,
    overwrite: false,
    value: str("v"),
  });
  assert.deepEqual(documentedAnswer(next()), error(4, ErrorCode.EXISTS, "key 'k' exists"));
  assert.deepEqual(documentedRequest(next()), {
    ...put,
    requestId: 14,
    version: V1,
    value: int(0),
  });
  assert.deepEqual(documentedAnswer(next()), { type: "stale", requestId: 14, version: V3 });
  assert.deepEqual(documentedRequest(next()), {
    ...put,
    requestId: 15,
    version: V1,
    repair: true,
    value: int(0),
  });
  assert.deepEqual(documentedRequest(next()), { type: "get", requestId: 5, key: "person1" });
  assert.deepEqual(
    documentedAnswer(next(), decodeValueBody),
    ok(5, { value: RECORD, version: V3 }),
  );
  assert.deepEqual(documentedRequest(next()), { type: "get", requestId: 6, key: "nobody" });
  assert.deepEqual(documentedAnswer(next()), notFound(6));
  assert.deepEqual(documentedAnswer(next()), notFound(6, V2));
  assert.deepEqual(documentedRequest(next()), {
    type: "query",
    requestId: 7,
    path: ["person1", "age"],
  });
  assert.deepEqual(
    documentedAnswer(next(), decodeValueBody),
    ok(7, { value: int(22), version: V3 }),
  );
  const query = { type: "query", requestId: 23, path: ["person1", "agee"] };
  assert.deepEqual(documentedRequest(next()), query);
  assert.deepEqual(documentedAnswer(next()), { ...notFound(23, V3), miss: TYPO });
  assert.deepEqual(documentedRequest(next()), {
    ...query,
    requestId: 24,
    path: ["person1", "age", "x"],
  });
  assert.deepEqual(documentedAnswer(next()), { ...notFound(24, V3), miss: LEAF });
  const del = { type: "delete", key: "person1", version: V3, repair: false, aged: false };
  assert.deepEqual(documentedRequest(next()), { ...del, requestId: 8, version: V4, purge: false });
  assert.deepEqual(documentedAnswer(next(), decodeVersionBody), ok(8, V3));
  assert.deepEqual(documentedRequest(next()), {
    ...del,
    requestId: 25,
    key: "nobody",
    purge: false,
  });
  assert.deepEqual(documentedAnswer(next()), notFound(25, V2));
  assert.deepEqual(documentedRequest(next()), { ...del, requestId: 16, purge: true });
  assert.deepEqual(documentedAnswer(next()), ok(16));
  assert.deepEqual(documentedRequest(next()), {
    ...del,
    requestId: 17,
    purge: true,
    aged: true,
  });
  assert.deepEqual(documentedAnswer(next()), ok(17));
  const keys = { type: "keys", prefix: "person", limit: 2 };
  assert.deepEqual(documentedRequest(next()), { ...keys, requestId: 9, after: undefined });
  assert.deepEqual(documentedAnswer(next(), decodeKeysBody), ok(9, ["person1", "person2"]));
  assert.deepEqual(documentedRequest(next()), { ...keys, requestId: 10, after: "person2" });
  assert.deepEqual(documentedRequest(next()), { type: "stats", requestId: 11 });
  assert.deepEqual(
    documentedAnswer(next(), decodeStatsBody),
    ok(11, { ...STATS, readOnly: false }),
  );
  // Since version 11: the flags byte says a server refuses writes.
  assert.deepEqual(documentedAnswer(next(), decodeStatsBody), ok(11, { ...STATS, readOnly: true }));
  const putMany = documentedRequest(next());
  assert.equal(putMany.type, "putMany");
  assert.equal(putMany.requestId, 12);
  const body = putMany.body as Uint8Array;
  const items = putMany.items as PutManyBounds;
  const item = (index: number) => ({
    key: readItemKey(body, items.keyStart(index), items.keyEnd(index)),
    version: readVersion(body, items.versionStart(index)),
    value: decodeValue(body.subarray(items.valueStart(index), items.valueEnd(index))),
    ifAbsent: items.ifAbsent(index),
    repair: items.repair(index),
  });
  assert.deepEqual([item(0), item(1)], [
    { key: "a", version: V1, value: int(1), ifAbsent: false, repair: false },
    { key: "b", version: V2, value: str("x"), ifAbsent: true, repair: false },
  ]);
  assert.equal(items.itemCount, 2);
  assert.deepEqual(
    documentedAnswer(next(), decodePutManyBody),
    ok(12, [{ index: 1, code: ErrorCode.EXISTS, message: "key 'b' exists" }]),
  );
  assert.deepEqual(
    documentedAnswer(next(), decodePutManyBody),
    ok(12, [{ index: 0, code: ErrorCode.STALE, message: formatVersion(V3), version: V3 }]),
  );
  assert.deepEqual(formatVersion(V3), "0193813bcc05000000000007");
  const setK = { type: "setK", replace: false };
  assert.deepEqual(documentedRequest(next()), { ...setK, requestId: 17, k: 2 });
  assert.deepEqual(documentedAnswer(next(), decodeSetKBody), ok(17, 2));
  assert.deepEqual(documentedRequest(next()), { ...setK, requestId: 18, k: 3 });
  assert.deepEqual(documentedAnswer(next(), decodeSetKBody), ok(18, 2));
  const mark = { type: "markRepaired", list: LIST };
  assert.deepEqual(documentedRequest(next()), {
    ...mark,
    requestId: 19,
    expected: LIST_CHANGE_UNDER_WAY,
  });
  assert.deepEqual(documentedAnswer(next()), ok(19));
  assert.deepEqual(documentedRequest(next()), { ...mark, requestId: 22, expected: NO_LIST });
  assert.deepEqual(
    documentedAnswer(next()),
    error(22, ErrorCode.MARK_CHANGED, "ffffffffffffffffffffffffffffffff"),
  );
  assert.deepEqual(documentedRequest(next()), { type: "partitionDigests", requestId: 20 });
  const wanted = new Uint8Array(PARTITION_BITMAP_BYTES);
  wanted[292] = 0x10;
  assert.deepEqual(documentedRequest(next()), {
    type: "listPartitions",
    requestId: 21,
    values: true,
    limit: 100,
    after: undefined,
    wanted,
  });
  const listing = documentedAnswer(next(), (bytes) => decodeListPartitionsBody(bytes, true));
  const entry = { key: "person1", version: V3, tombstone: false, encoded: encodeValue(RECORD) };
  assert.deepEqual(listing, ok(21, { entries: [entry], more: false }));
  assert.deepEqual(documentedAnswer(next()), error(13, ErrorCode.BAD_REQUEST, "empty key"));
  assert.deepEqual(documentedAnswer(next()), error(0, ErrorCode.BUSY, "too many connections"));
  assert.deepEqual(examples, [], "every example is decoded");
});

/** FNV-1a-32 of `bytes` from `basis`, then MurmurHash3's fmix32: as docs/protocol.md says. */
function documentedHash(bytes: Uint8Array, basis: number): number {
  let h = basis;
  for (const byte of bytes) h = Math.imul(h ^ byte, 0x0100_0193);
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

Deno.test("docs/protocol.md's PARTITION_DIGESTS row, computed as its text says, is what a server answers", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const rows = [
    ...doc.matchAll(/^partition (\d+): ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{16})$/gm),
  ].map(([, partition, count, tombstones, digest]) => [
    Number(partition),
    parseInt(count, 16),
    parseInt(tombstones, 16),
    BigInt(`0x${digest}`),
  ]);
  // The example server holds person1 at V3, a record: one entry, in its partition.
  const key = new TextEncoder().encode("person1");
  const partition = documentedHash(key, 0x811c_9dc5) >>> 20;
  assert.equal(partition, partitionOf("person1"));
  const version = new Uint8Array(VERSION_BYTES);
  writeVersion(version, 0, V3);
  const entry = Uint8Array.of(...key, ...version, 1);
  const digest = (BigInt(documentedHash(entry, 0x9e37_79b9)) << 32n) |
    BigInt(documentedHash(entry, 0x811c_9dc5));
  assert.deepEqual(rows, [[partition, 1, 0, digest]], "the doc's one row, as its text computes it");
  const trie = new RecordTrie();
  trie.put("person1", RECORD, { version: V3 });
  const frames = new FrameWriter();
  frames.okPartitionDigests(20, trie.partitionDigests, PARTITION_COUNT);
  const [answer] = framesOf(frames.bytes());
  assert.equal(answer.body.length, 65_540, "the doc's size of the OK");
  const served = decodePartitionDigestsBody(answer.body);
  assert.deepEqual(
    [served.counts[partition], served.tombstones[partition], served.digests[partition]],
    [1, 0, digest],
  );
  assert.equal(served.counts.reduce((sum, count) => sum + count, 0), 1, "every other row is empty");
  assert(served.digests.every((value, index) => index === partition || value === 0n));
});

Deno.test("every request type round-trips through FrameWriter and decodeRequest", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffff_ffff }),
      keyArbitrary(),
      valueArbitrary(),
      fc.boolean(),
      fc.array(keyArbitrary(), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: MAX_KEYS_LIMIT }),
      fingerprintArbitrary(),
      (id, key, value, overwrite, path, limit, fingerprint) => {
        const frames = new FrameWriter();
        frames.hello(id);
        frames.ping(id);
        frames.put(id, key, value, at({ overwrite }));
        frames.putEncoded(id, key, encodeValue(value), at({ overwrite }));
        frames.get(id, key);
        frames.query(id, path);
        frames.delete(id, key, at());
        frames.keys(id, { prefix: key, limit, after: key });
        frames.keys(id, { limit });
        frames.stats(id);
        frames.delete(id, key, at({ purge: true }));
        frames.setK(id, limit % 255 + 1, overwrite);
        frames.markRepaired(id, fingerprint, NO_LIST);
        assert.equal(frames.frameCount, 13);
        const requests = framesOf(frames.bytes()).map(decodeRequest);
        assert.ok(requests.every((request) => request.requestId === id));
        assert.deepEqual(requests.map((request) => request.type), [
          "hello",
          "ping",
          "put",
          "put",
          "get",
          "query",
          "delete",
          "keys",
          "keys",
          "stats",
          "delete",
          "setK",
          "markRepaired",
        ]);
        const [hello, , put, putEncoded, get, query, del, keys, allKeys, , purge, setK, mark] =
          requests;
        assert.deepEqual(mark, {
          type: "markRepaired",
          requestId: id,
          list: fingerprint,
          expected: NO_LIST,
        });
        assert.ok(del.type === "delete" && !del.purge);
        assert.ok(purge.type === "delete" && purge.purge && purge.key === key);
        assert.deepEqual(setK, {
          type: "setK",
          requestId: id,
          k: limit % 255 + 1,
          replace: overwrite,
        });
        assert.ok(hello.type === "hello" && hello.version === PROTOCOL_VERSION);
        for (const request of [put, putEncoded]) {
          assert.ok(request.type === "put");
          assert.equal(request.key, key);
          assert.equal(request.overwrite, overwrite);
          assert.ok(valueEquals(decodeValue(request.encodedValue), value));
          assert.deepEqual(request.encodedValue, encodeValue(value));
        }
        assert.ok(get.type === "get" && get.key === key);
        assert.ok(query.type === "query");
        assert.deepEqual(query.path, path);
        assert.ok(del.type === "delete" && del.key === key);
        assert.deepEqual(keys, { type: "keys", requestId: id, prefix: key, limit, after: key });
        assert.deepEqual(allKeys, {
          type: "keys",
          requestId: id,
          prefix: "",
          limit,
          after: undefined,
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("every response type round-trips through FrameWriter and decodeResponse", () => {
  fc.assert(
    fc.property(
      valueArbitrary(),
      fc.array(keyArbitrary(), { maxLength: 20 }),
      fc.string({ maxLength: 50 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 255 }),
      fingerprintArbitrary(),
      (value, keys, message, unrepaired, k, fingerprint) => {
        const stats = {
          recordCount: 5,
          memoryBytes: 2 ** 40,
          uptimeMs: 1234,
          connectionCount: 7,
          readOnly: unrepaired, // either flag value, as HELLO's
        };
        const frames = new FrameWriter();
        frames.ok(1);
        frames.okValue(2, nextVersion(), value);
        frames.okKeys(3, keys);
        frames.okStats(4, stats);
        const hello = {
          version: PROTOCOL_VERSION,
          maxFrameBytes: 1024,
          idleTimeoutMs: 30_000,
          serverId: "0123456789abcdef",
          state: { unrepaired, k, repairedUnder: unrepaired ? NO_LIST : fingerprint },
        };
        frames.okHello(5, hello);
        frames.notFound(6);
        frames.error(7, ErrorCode.LIMIT, message);
        // Any 32 bytes make a challenge: two fingerprints.
        const challenged = {
          version: PROTOCOL_VERSION,
          challenge: Uint8Array.of(...fingerprint, ...fingerprint),
        };
        frames.okHelloChallenge(8, challenged);
        const responses = framesOf(frames.bytes()).map(decodeResponse);
        assert.deepEqual(responses.map((r) => r.requestId), [1, 2, 3, 4, 5, 6, 7, 8]);
        const [ok, okValue, okKeys, okStats, okHello, notFound, error, okChallenge] = responses;
        assert.ok(ok.type === "ok");
        decodeEmptyBody(ok.body);
        assert.ok(okValue.type === "ok" && valueEquals(decodeValueBody(okValue.body).value, value));
        assert.ok(okKeys.type === "ok");
        assert.deepEqual(decodeKeysBody(okKeys.body), keys);
        assert.ok(okStats.type === "ok");
        assert.deepEqual(decodeStatsBody(okStats.body), stats);
        assert.ok(okHello.type === "ok");
        assert.deepEqual(decodeHelloBody(okHello.body), hello);
        assert.ok(okChallenge.type === "ok");
        assert.deepEqual(decodeHelloBody(okChallenge.body), challenged);
        assert.equal(notFound.type, "not_found");
        assert.deepEqual(error, { type: "error", requestId: 7, code: ErrorCode.LIMIT, message });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("decodeRequest refuses keys, paths and KEYS limits outside the limits", () => {
  const limit = (encode: (frames: FrameWriter) => void, pattern: RegExp) => {
    const frames = new FrameWriter();
    encode(frames);
    assert.throws(() => decodeRequest(onlyFrame(frames)), (error: unknown) => {
      assert.ok(error instanceof LimitExceededError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  const longKey = "k".repeat(MAX_KEY_BYTES + 1);
  limit((frames) => frames.get(1, longKey), /key is 1025 bytes/);
  limit((frames) => frames.put(1, longKey, int(1), at()), /over the limit of 1024/);
  limit((frames) => frames.delete(1, "é".repeat(513), at()), /key is 1026 bytes/);
  limit((frames) => frames.query(1, Array(MAX_PATH_SEGMENTS + 1).fill("a")), /66 segments/);
  limit((frames) => frames.query(1, Array(5).fill("p".repeat(1000))), /query path is 5004 bytes/);
  limit((frames) => frames.keys(1, { limit: MAX_KEYS_LIMIT + 1 }), /KEYS limit 10001/);
  const ok = new FrameWriter();
  ok.get(1, "k".repeat(MAX_KEY_BYTES));
  ok.query(2, Array(MAX_PATH_SEGMENTS).fill("a"));
  // Four 1000-byte segments, one of 92 and four dots: exactly MAX_PATH_BYTES.
  ok.query(3, [...Array(4).fill("p".repeat(1000)), "s".repeat(MAX_PATH_BYTES - 4004)]);
  ok.keys(4, { limit: MAX_KEYS_LIMIT });
  assert.equal(framesOf(ok.bytes()).map(decodeRequest).length, 4);
});

Deno.test("decodeRequest throws DecodeError for every malformed body", () => {
  const keyBytes = (key: string) => {
    const writer = new ByteWriter();
    writer.string(key);
    return [...writer.bytes()];
  };
  const cases: Array<[Frame, RegExp]> = [
    [frameOf(MessageType.GET, keyBytes("")), /empty key/],
    [frameOf(MessageType.GET, keyBytes("a.b")), /contains '\.'/],
    [frameOf(MessageType.GET, [...keyBytes("a"), 0]), /1 unexpected bytes after the GET body/],
    [frameOf(MessageType.DELETE, [0, 0]), /truncated/],
    [
      frameOf(MessageType.PUT, [
        0x04,
        ...keyBytes("a"),
        ...new Uint8Array(12),
        ...encodeValue(int(1)),
      ]),
      /PUT flags 0x04/,
    ],
    [frameOf(MessageType.PUT, [0, ...keyBytes("a"), 1, 2]), /truncated version/],
    [
      frameOf(MessageType.DELETE, [0x01, ...keyBytes("a"), ...new Uint8Array(12)]),
      /DELETE flags 0x01/,
    ],
    [
      frameOf(MessageType.DELETE, [0, ...keyBytes("a"), ...new Uint8Array(13)]),
      /1 unexpected bytes after the DELETE body/,
    ],
    [frameOf(MessageType.PUT, [0]), /truncated key length/],
    [frameOf(MessageType.QUERY, [0]), /empty query path/],
    [frameOf(MessageType.QUERY, [2, ...keyBytes("a"), ...keyBytes("")]), /empty path segment/],
    [frameOf(MessageType.KEYS, [...keyBytes("a.b"), 0, 0, 0, 1, 0, 0, 0, 0]), /contains '\.'/],
    [frameOf(MessageType.KEYS, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /KEYS limit 0/],
    [frameOf(MessageType.PING, [1]), /unexpected bytes after the PING body/],
    [frameOf(MessageType.STATS, [1]), /unexpected bytes after the STATS body/],
    [frameOf(MessageType.HELLO, [0, 1, 0, 0xff, 0xff, 0xff, 0xff]), /auth data is/],
    [frameOf(MessageType.HELLO, [0, 1]), /truncated auth scheme/],
    [frameOf(0x42, []), /unknown request type 0x42/],
    [frameOf(MessageType.OK, []), /unknown request type 0x80/],
  ];
  for (const [frame, pattern] of cases) {
    assert.throws(() => decodeRequest(frame), (error: unknown) => {
      assert.ok(error instanceof DecodeError, `${pattern}: ${error}`);
      assert.match(error.message, pattern);
      return true;
    });
  }
});

Deno.test("decodeResponse and the OK body decoders throw DecodeError for malformed bodies", () => {
  assert.throws(() => decodeResponse(frameOf(MessageType.GET, [])), /unknown response type 0x04/);
  assert.throws(() => decodeResponse(frameOf(MessageType.ERROR, [0])), DecodeError);
  assert.throws(() => decodeResponse(frameOf(MessageType.NOT_FOUND, [0])), DecodeError);
  assert.throws(() => decodeKeysBody(Uint8Array.from([0xff, 0xff, 0xff, 0xff])), /key count/);
  // One key takes 5 bytes at the least: a count of one with 4 bytes left is a lie.
  assert.throws(() => decodeKeysBody(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0)), /key count 1 exceeds/);
  assert.throws(() => decodeStatsBody(new Uint8Array(5)), DecodeError);
  // Version 10's STATS answer, without the flags byte, and a flag no version defines.
  assert.throws(() => decodeStatsBody(new Uint8Array(28)), /stats flags/);
  assert.throws(
    () => decodeStatsBody(Uint8Array.of(...new Uint8Array(28), 0x02)),
    /unknown stats flags 0x02/,
  );
  assert.throws(() => decodeHelloBody(new Uint8Array(7)), DecodeError);
  assert.throws(() => decodeEmptyBody(new Uint8Array(1)), DecodeError);
  assert.throws(() => decodeValueBody(new Uint8Array([...encodeValue(int(1)), 0])), DecodeError);
  // Version 4's answers: HELLO's state flags, SET_K's k, the digest table, the listing.
  const hello = new Uint8Array(2 + 1 + 4 + 4 + 8 + 2);
  hello[19] = 0x02;
  assert.throws(() => decodeHelloBody(hello), /unknown state flags 0x02/);
  // Version 8's form byte: an unknown form, and a challenge cut short or followed by more.
  assert.throws(() => decodeHelloBody(Uint8Array.of(0, 8, 2)), /unknown HELLO answer form 0x02/);
  const challenge = new Uint8Array(2 + 1 + 32);
  challenge[2] = HelloForm.CHALLENGE;
  assert.throws(() => decodeHelloBody(challenge.subarray(0, 34)), DecodeError);
  assert.throws(() => decodeHelloBody(Uint8Array.of(...challenge, 0)), /1 unexpected bytes/);
  assert.throws(() => decodeSetKBody(Uint8Array.of(0)), DecodeError);
  assert.throws(() => decodeSetKBody(Uint8Array.of(2, 0)), DecodeError);
  assert.throws(() => decodePartitionDigestsBody(Uint8Array.of(0, 0, 0x10, 0)), DecodeError);
  assert.throws(() => decodePartitionDigestsBody(Uint8Array.of(0, 0, 0x0f, 0xff)), /partitions/);
  const digests = new Uint8Array(4 + PARTITION_COUNT * DIGEST_ROW_BYTES);
  const digestView = new DataView(digests.buffer);
  digestView.setUint32(0, PARTITION_COUNT);
  digestView.setUint32(4 + 3 * DIGEST_ROW_BYTES, 1); // partition 3: one entry…
  digestView.setUint32(4 + 3 * DIGEST_ROW_BYTES + 4, 1); // …a tombstone
  assert.equal(decodePartitionDigestsBody(digests).tombstones[3], 1);
  digestView.setUint32(4 + 3 * DIGEST_ROW_BYTES + 4, 2);
  assert.throws(() => decodePartitionDigestsBody(digests), /partition 3: 2 tombstones among 1/);
  assert.throws(() => decodePartitionDigestsBody(digests.subarray(0, digests.length - 1)), /bytes/);
  const entry = [0, 0, 0, 1, 0, 0, 0, 1, 0x6b, ...new Array(12).fill(0)];
  assert.deepEqual(decodeListPartitionsBody(Uint8Array.of(...entry, 1, 0), false), {
    entries: [{ key: "k", version: { ms: 0, counter: 0, broker: 0 }, tombstone: false }],
    more: false,
  });
  assert.throws(() => decodeListPartitionsBody(Uint8Array.of(...entry, 2, 0), false), /kind 2/);
  assert.throws(() => decodeListPartitionsBody(Uint8Array.of(...entry, 0, 2), false), /more/);
  assert.throws(() => decodeListPartitionsBody(Uint8Array.of(...entry, 1, 0), true), DecodeError);
  assert.throws(() => decodeListPartitionsBody(Uint8Array.of(0xff, 0, 0, 0, 0), false), /count/);
});

Deno.test("PUT_MANY round-trips: items through decodeRequest, refusals through decodePutManyBody", () => {
  const items = new PutManyItems();
  items.add("person1", encodeValue(int(22)), nextVersion());
  items.add("person2", encodeValue(str("Mary")), nextVersion(), { overwrite: false });
  const frames = new FrameWriter();
  frames.putMany(9, items.itemCount, items.bytes());
  const request = decodeRequest(onlyFrame(frames));
  assert.ok(request.type === "putMany" && request.requestId === 9);
  const { body, items: bounds } = request;
  assert.equal(bounds.itemCount, 2);
  assert.equal(readItemKey(body, bounds.keyStart(1), bounds.keyEnd(1)), "person2");
  assert.equal(bounds.ifAbsent(1), true);
  assert.deepEqual(
    decodeValue(body.subarray(bounds.valueStart(0), bounds.valueEnd(0))),
    int(22),
  );

  const refusals = [
    { index: 1, code: ErrorCode.EXISTS, message: "key 'person2' exists" },
    { index: 4, code: ErrorCode.LIMIT, message: "é".repeat(MAX_ERROR_MESSAGE_BYTES) },
  ];
  frames.reset();
  frames.okPutMany(9, refusals);
  const response = decodeResponse(onlyFrame(frames));
  assert.ok(response.type === "ok");
  assert.deepEqual(decodePutManyBody(response.body), [
    refusals[0],
    { ...refusals[1], message: "é".repeat(MAX_ERROR_MESSAGE_BYTES / 2) },
  ]);
  frames.reset();
  frames.okPutMany(9, []);
  const allStored = decodeResponse(onlyFrame(frames));
  assert.ok(allStored.type === "ok");
  assert.deepEqual(decodePutManyBody(allStored.body), []);
});

Deno.test("PUT_MANY: a malformed item list, a bad item key or a bad answer is a DecodeError", () => {
  assert.throws(() => decodeRequest(frameOf(MessageType.PUT_MANY, [0, 0, 0, 0])), /no items/);
  assert.throws(() => new FrameWriter().putMany(1, 0, new Uint8Array(0)), RangeError);
  assert.throws(() => decodeRequest(frameOf(MessageType.PUT_MANY, [0, 0])), /truncated/);
  const key = (text: string) => new TextEncoder().encode(text);
  assert.throws(() => readItemKey(key("a.b"), 0, 3), /contains '\.'/);
  assert.throws(() => readItemKey(key(""), 0, 0), /empty key/);
  assert.throws(() => readItemKey(Uint8Array.of(0xc3), 0, 1), /not valid UTF-8/);
  assert.throws(
    () => readItemKey(new Uint8Array(MAX_KEY_BYTES + 1).fill(0x61), 0, MAX_KEY_BYTES + 1),
    LimitExceededError,
  );
  assert.throws(() => decodePutManyBody(Uint8Array.of(0, 0, 0, 9)), /refusal count 9/);
  assert.throws(() => decodePutManyBody(Uint8Array.of(0, 0, 0, 0, 1)), /unexpected bytes/);
});

Deno.test("FrameWriter.error cuts an over-long message at a character boundary", () => {
  const frames = new FrameWriter();
  frames.error(3, ErrorCode.INTERNAL, "é".repeat(MAX_ERROR_MESSAGE_BYTES));
  const response = decodeResponse(onlyFrame(frames));
  assert.ok(response.type === "error");
  assert.equal(response.message, "é".repeat(MAX_ERROR_MESSAGE_BYTES / 2));
  assert.equal(errorCodeName(response.code), "INTERNAL");
  assert.equal(errorCodeName(999), "UNKNOWN(999)");
});

Deno.test("an ERROR's message and a PUT_MANY refusal's decode shown safe: controls and bidi overrides escaped, cut with '…' at MAX_SHOWN_MESSAGE_CHARACTERS", () => {
  const forging = "evil\x1b[31m\r\nkv get: forged\u202e";
  const shown = String.raw`evil\u001b[31m\u000d\u000akv get: forged\u202e`;
  const frames = new FrameWriter();
  frames.error(3, ErrorCode.BUSY, forging);
  frames.error(4, ErrorCode.INTERNAL, "\x1b".repeat(MAX_ERROR_MESSAGE_BYTES));
  frames.okPutMany(5, [{ index: 0, code: ErrorCode.EXISTS, message: forging }]);
  const [error, long, putMany] = framesOf(frames.bytes()).map(decodeResponse);
  assert.deepEqual(error, { type: "error", requestId: 3, code: ErrorCode.BUSY, message: shown });
  assert.ok(long.type === "error");
  // Six characters an escape: as many whole ones as fit before the "…".
  const escapes = Math.floor((MAX_SHOWN_MESSAGE_CHARACTERS - 1) / 6);
  assert.equal(long.message, String.raw`\u001b`.repeat(escapes) + "…");
  assert.ok(putMany.type === "ok");
  assert.deepEqual(decodePutManyBody(putMany.body), [
    { index: 0, code: ErrorCode.EXISTS, message: shown },
  ]);
});

Deno.test("random bytes through FrameReader and decodeRequest throw only DecodeError", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const reader = new FrameReader({ maxFrameBytes: 4096 });
      try {
        for (const chunk of chunks) {
          for (const frame of feedFrames(reader, chunk)) {
            try {
              decodeRequest(frame);
            } catch (error) {
              assert.ok(error instanceof DecodeError, String(error));
            }
          }
        }
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("corrupted request frames decode or throw DecodeError, nothing else", () => {
  fc.assert(
    fc.property(
      keyArbitrary(),
      valueArbitrary(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      }),
      (key, value, flips) => {
        const frames = new FrameWriter();
        frames.put(1, key, value, at());
        frames.query(2, [key, key]);
        frames.keys(3, { prefix: key, limit: 10 });
        const bytes = frames.bytes().slice();
        for (const [position, byte] of flips) {
          const at = position % bytes.length;
          // Keep the length fields intact so the corruption reaches the body decoders.
          if (at % FRAME_HEADER_BYTES >= 4) bytes[at] = byte;
        }
        try {
          framesOf(bytes).forEach(decodeRequest);
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

/** A GET body: the u32 length `declared` (default: the key's own), then the key's bytes. */
function getBody(key: Uint8Array, declared = key.length): Uint8Array {
  const body = new Uint8Array(GET_KEY_START + key.length);
  new DataView(body.buffer).setUint32(0, declared);
  body.set(key, GET_KEY_START);
  return body;
}

/** Key bytes of every kind a GET may carry: valid keys, and the ways a key is refused. */
function getKeyBytesArbitrary(): fc.Arbitrary<Uint8Array> {
  const encoder = new TextEncoder();
  return fc.oneof(
    keyArbitrary().map((key) => encoder.encode(key)),
    fc.uint8Array({ maxLength: 16 }), // any bytes: empty, invalid UTF-8, dots
    fc.constantFrom("a.b", ".", "person1.").map((key) => encoder.encode(key)),
    fc.integer({ min: MAX_KEY_BYTES - 1, max: MAX_KEY_BYTES + 2 })
      .map((length) => new Uint8Array(length).fill(0x61)), // around the length limit
  );
}

Deno.test("property: isWellFormedGetBody is true exactly for the GET bodies decodeRequest accepts, whose key is the body's bytes", () => {
  fc.assert(
    fc.property(
      getKeyBytesArbitrary(),
      fc.oneof(fc.constant(0), fc.integer({ min: -2, max: 2 })),
      (key, lengthError) => {
        const body = getBody(key, Math.max(0, key.length + lengthError));
        let decoded: string | undefined;
        try {
          const request = decodeRequest({ type: MessageType.GET, requestId: 1, body });
          assert.equal(request.type, "get");
          decoded = request.type === "get" ? request.key : undefined;
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
        assert.equal(isWellFormedGetBody(body), decoded !== undefined);
        if (decoded !== undefined) {
          assert.deepEqual(new TextEncoder().encode(decoded), body.subarray(GET_KEY_START));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("property: isWellFormedGetBody judges a body where it lies in a larger buffer as it judges the body alone", () => {
  fc.assert(
    fc.property(
      getKeyBytesArbitrary(),
      fc.integer({ min: -2, max: 2 }),
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      (key, lengthError, before, after) => {
        const body = getBody(key, Math.max(0, key.length + lengthError));
        const buffer = new Uint8Array([...before, ...body, ...after]);
        const end = before.length + body.length;
        assert.equal(isWellFormedGetBody(buffer, before.length, end), isWellFormedGetBody(body));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("isWellFormedGetBody refuses a body shorter than its length, an empty key and a body of a few bytes", () => {
  const key = new TextEncoder().encode("person1");
  assert.equal(isWellFormedGetBody(getBody(key)), true);
  assert.equal(isWellFormedGetBody(getBody(key).subarray(0, 8)), false);
  assert.equal(isWellFormedGetBody(getBody(new Uint8Array(0))), false);
  assert.equal(isWellFormedGetBody(new Uint8Array([0, 0])), false);
});

Deno.test("splitValueBodyAt reads a GET answer's body in place as a ByteReader would, errors too", () => {
  // The reference: the version's 12 bytes through a ByteReader, then the rest as the value.
  const reference = (body: Uint8Array) => {
    const reader = new ByteReader(body);
    const version = readVersion(reader.raw(VERSION_BYTES, "version"), 0);
    return { version, encoded: reader.raw(reader.remaining, "value") };
  };
  const outcome = (read: () => { version: unknown; encoded: Uint8Array }) => {
    try {
      const { version, encoded } = read();
      return { version, encoded: Array.from(encoded) };
    } catch (error) {
      assert(error instanceof DecodeError);
      return { error: error.message };
    }
  };
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 40 }),
    fc.nat(40),
    fc.nat(40),
    (bytes, a, b) => {
      const start = Math.min(a, b, bytes.length);
      const end = Math.min(Math.max(a, b), bytes.length);
      const body = bytes.subarray(start, end);
      const expected = outcome(() => reference(body));
      assert.deepEqual(outcome(() => splitValueBodyAt(bytes, start, end)), expected);
      assert.deepEqual(outcome(() => splitValueBody(body)), expected);
    },
  ));
});

/** A server-list fingerprint MARK_REPAIRED takes: 16 bytes, not all zero. */
function fingerprintArbitrary(): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: LIST_FINGERPRINT_BYTES, maxLength: LIST_FINGERPRINT_BYTES })
    .filter((bytes) => bytes.some((byte) => byte !== 0));
}

Deno.test("MARK_REPAIRED without a fingerprint, or with one of zeros, is refused", () => {
  assert.throws(() => decodeRequest(frameOf(MessageType.MARK_REPAIRED, [])), DecodeError);
  assert.throws(
    () => decodeRequest(frameOf(MessageType.MARK_REPAIRED, new Uint8Array(LIST_FINGERPRINT_BYTES))),
    /fingerprint is zero/,
  );
});

Deno.test("a HELLO whose repaired-under list contradicts its unrepaired flag is a protocol error", () => {
  const hello = (flags: number, fingerprint: Uint8Array) => {
    const body = new ByteWriter();
    body.u16(PROTOCOL_VERSION);
    body.u8(HelloForm.WELCOME);
    body.u32(1024);
    body.u32(30_000);
    body.raw(new Uint8Array(8));
    body.u8(flags);
    body.u8(2);
    body.raw(fingerprint);
    return body.bytes();
  };
  const some = new Uint8Array(LIST_FINGERPRINT_BYTES).fill(7);
  assert.deepEqual(decodeHelloBody(hello(0, some)), {
    version: PROTOCOL_VERSION,
    maxFrameBytes: 1024,
    idleTimeoutMs: 30_000,
    serverId: "0000000000000000",
    state: { unrepaired: false, k: 2, repairedUnder: some },
  });
  assert.throws(() => decodeHelloBody(hello(1, some)), /names a server list/);
  assert.throws(() => decodeHelloBody(hello(0, NO_LIST)), /names no server list/);
});

Deno.test("a QUERY's NOT_FOUND miss round-trips, and a decoder refuses one it cannot trust", () => {
  const misses: PathMiss[] = [
    { reason: "no-field", segment: 1 },
    { reason: "no-field", segment: MAX_PATH_SEGMENTS - 1, closest: "é".repeat(512) },
    { reason: "not-object", segment: 3, value: str("x".repeat(5000)) },
    { reason: "not-object", segment: 1, value: float(-0.5) },
  ];
  const frames = new FrameWriter();
  for (const miss of misses) {
    frames.reset();
    frames.notFound(4, V3, miss);
    assert.deepEqual(decodeResponse(onlyFrame(frames)), {
      type: "not_found",
      requestId: 4,
      version: V3,
      miss,
    });
  }
  const versionBytes = new Uint8Array(VERSION_BYTES);
  writeVersion(versionBytes, 0, V3);
  const notFound = (...tail: number[]) =>
    decodeResponse(frameOf(MessageType.NOT_FOUND, [...versionBytes, ...tail]));
  const refusals: [number[], RegExp][] = [
    [[0, 1, 0, 0, 0, 0], /miss at segment 0/],
    [[MAX_PATH_SEGMENTS, 1, 0, 0, 0, 0], /miss at segment 65/],
    [[1, 3], /unknown miss reason 3/],
    [[1, 1, 0, 0, 0, 1, 0x2e], /nearest field/],
    [[1, 2, 0x04, 0x00], /an object where the path met a leaf/],
    [[1, 2], /truncated/],
    [[1, 1, 0, 0, 0, 0, 9], /unexpected bytes|left over|bytes after/],
  ];
  for (const [tail, pattern] of refusals) {
    assert.throws(() => notFound(...tail), (error) => {
      assert.ok(error instanceof DecodeError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  }
  // The empty nearest name is "none": no closest is decoded.
  assert.deepEqual(notFound(1, 1, 0, 0, 0, 0), {
    type: "not_found",
    requestId: 1,
    version: V3,
    miss: { reason: "no-field", segment: 1 },
  });
});
