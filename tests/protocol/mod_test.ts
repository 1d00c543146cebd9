import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, DecodeError } from "../../lib/base/bytes.ts";
import { MAX_KEY_BYTES, MAX_PATH_BYTES } from "../../lib/limits.ts";
import {
  decodeEmptyBody,
  decodeHelloBody,
  decodeKeysBody,
  decodePutManyBody,
  decodeRequest,
  decodeResponse,
  decodeStatsBody,
  decodeValueBody,
  ErrorCode,
  errorCodeName,
  type Frame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTooLargeError,
  FrameWriter,
  LimitExceededError,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_KEYS_LIMIT,
  MAX_PATH_SEGMENTS,
  MessageType,
  PROTOCOL_VERSION,
  readItemKey,
} from "../../lib/protocol/mod.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import { int, object, str, valueEquals } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function decodeAll(bytes: Uint8Array, maxFrameBytes?: number): Frame[] {
  return new FrameDecoder({ maxFrameBytes }).feed(bytes);
}

function onlyFrame(frames: FrameWriter): Frame {
  const decoded = decodeAll(frames.bytes());
  assert.equal(decoded.length, 1);
  return decoded[0];
}

function frameOf(type: number, body: number[] | Uint8Array, requestId = 1): Frame {
  return { type, requestId, body: Uint8Array.from(body) };
}

Deno.test("the module doc's example frames are what FrameWriter writes", () => {
  const frames = new FrameWriter();
  frames.get(1, "person1");
  assert.equal(hex(frames.bytes()), "0000000b0400000001" + "00000007706572736f6e31");
  frames.reset();
  frames.put(2, "k", str("v"), { overwrite: false });
  assert.equal(hex(frames.bytes()), "000000090300000002" + "01000000016b" + "010176");
  frames.reset();
  frames.put(3, "person1", object([["age", int(22)]]));
  assert.equal(
    hex(frames.bytes()),
    "000000140300000003" + "0000000007706572736f6e31" + "04036167650216" + "00",
  );
  frames.reset();
  frames.okValue(1, int(22));
  assert.equal(hex(frames.bytes()), "000000028000000001" + "0216");
  frames.reset();
  frames.error(2, ErrorCode.EXISTS, "exists");
  assert.equal(hex(frames.bytes()), "0000000c8200000002" + "000400000006657869737473");
  frames.reset();
  const items = new PutManyItems();
  items.add("a", encodeValue(int(1)));
  items.add("b", encodeValue(str("x")), { overwrite: false });
  frames.putMany(4, items.itemCount, items.bytes());
  assert.equal(
    hex(frames.bytes()),
    "0000001d0900000004" + "00000002" +
      "00" + "00000001" + "61" + "00000002" + "0201" +
      "01" + "00000001" + "62" + "00000003" + "010178",
  );
  frames.reset();
  frames.okPutMany(4, [{ index: 1, code: ErrorCode.EXISTS, message: "key 'b' exists" }]);
  assert.equal(
    hex(frames.bytes()),
    "0000001c8000000004" + "00000001" + "00000001" + "0004" + "0000000e" +
      "6b65792027622720657869737473",
  );
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
      (id, key, value, overwrite, path, limit) => {
        const frames = new FrameWriter();
        frames.hello(id);
        frames.ping(id);
        frames.put(id, key, value, { overwrite });
        frames.putEncoded(id, key, encodeValue(value), { overwrite });
        frames.get(id, key);
        frames.query(id, path);
        frames.delete(id, key);
        frames.keys(id, { prefix: key, limit, after: key });
        frames.keys(id, { limit });
        frames.stats(id);
        assert.equal(frames.frameCount, 10);
        const requests = decodeAll(frames.bytes()).map(decodeRequest);
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
        ]);
        const [hello, , put, putEncoded, get, query, del, keys, allKeys] = requests;
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
      (value, keys, message) => {
        const stats = { recordCount: 5, memoryBytes: 2 ** 40, uptimeMs: 1234, connectionCount: 7 };
        const frames = new FrameWriter();
        frames.ok(1);
        frames.okValue(2, value);
        frames.okKeys(3, keys);
        frames.okStats(4, stats);
        const hello = {
          version: PROTOCOL_VERSION,
          maxFrameBytes: 1024,
          idleTimeoutMs: 30_000,
          serverId: "0123456789abcdef",
        };
        frames.okHello(5, hello);
        frames.notFound(6);
        frames.error(7, ErrorCode.LIMIT, message);
        const responses = decodeAll(frames.bytes()).map(decodeResponse);
        assert.deepEqual(responses.map((response) => response.requestId), [1, 2, 3, 4, 5, 6, 7]);
        const [ok, okValue, okKeys, okStats, okHello, notFound, error] = responses;
        assert.ok(ok.type === "ok");
        decodeEmptyBody(ok.body);
        assert.ok(okValue.type === "ok" && valueEquals(decodeValueBody(okValue.body), value));
        assert.ok(okKeys.type === "ok");
        assert.deepEqual(decodeKeysBody(okKeys.body), keys);
        assert.ok(okStats.type === "ok");
        assert.deepEqual(decodeStatsBody(okStats.body), stats);
        assert.ok(okHello.type === "ok");
        assert.deepEqual(decodeHelloBody(okHello.body), hello);
        assert.equal(notFound.type, "not_found");
        assert.deepEqual(error, { type: "error", requestId: 7, code: ErrorCode.LIMIT, message });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("FrameDecoder yields the same frames however the stream is chunked", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(keyArbitrary(), valueArbitrary()), { minLength: 1, maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (records, cuts) => {
        const frames = new FrameWriter();
        records.forEach(([key, value], index) => frames.put(index + 1, key, value));
        const stream = frames.bytes();
        const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) =>
          a - b
        );
        const decoder = new FrameDecoder();
        const decoded: Frame[] = [];
        let start = 0;
        for (const point of [...points, stream.length]) {
          decoded.push(...decoder.feed(stream.slice(start, point)));
          start = point;
        }
        assert.equal(decoder.bufferedBytes, 0);
        assert.deepEqual(decoded, decodeAll(stream));
        const requests = decoded.map(decodeRequest);
        requests.forEach((request, index) => {
          assert.ok(request.type === "put");
          assert.equal(request.requestId, index + 1);
          assert.equal(request.key, records[index][0]);
          assert.ok(valueEquals(decodeValue(request.encodedValue), records[index][1]));
        });
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("FrameDecoder reassembles a large frame fed one byte at a time", () => {
  const frames = new FrameWriter();
  frames.put(9, "big", str("x".repeat(200_000)));
  const stream = frames.bytes();
  const decoder = new FrameDecoder();
  for (let index = 0; index < stream.length - 1; index++) {
    decoder.push(stream.subarray(index, index + 1));
    assert.equal(decoder.next(), undefined);
  }
  assert.equal(decoder.bufferedBytes, stream.length - 1);
  decoder.push(stream.subarray(stream.length - 1));
  const request = decodeRequest(decoder.next()!);
  assert.ok(request.type === "put");
  assert.deepEqual(decodeValue(request.encodedValue), str("x".repeat(200_000)));
});

Deno.test("FrameDecoder rejects an oversized frame from its header alone, then stays failed", () => {
  const header = new ByteWriter();
  header.u32(1025);
  header.u8(MessageType.PUT);
  header.u32(42);
  const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
  decoder.push(header.bytes().subarray(0, FRAME_HEADER_BYTES - 1));
  assert.equal(decoder.next(), undefined);
  decoder.push(header.bytes().subarray(FRAME_HEADER_BYTES - 1));
  assert.throws(() => decoder.next(), (error: unknown) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.requestId, 42);
    assert.equal(error.bodyBytes, 1025);
    return true;
  });
  assert.equal(decoder.bufferedBytes, 0);
  decoder.push(new Uint8Array(100));
  assert.throws(() => decoder.next(), FrameTooLargeError);
  const exact = new FrameWriter();
  exact.frame(MessageType.PING, 1, new Uint8Array(1024));
  assert.equal(decodeAll(exact.bytes(), 1024).length, 1);
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
  limit((frames) => frames.put(1, longKey, int(1)), /over the limit of 1024/);
  limit((frames) => frames.delete(1, "é".repeat(513)), /key is 1026 bytes/);
  limit((frames) => frames.query(1, Array(MAX_PATH_SEGMENTS + 1).fill("a")), /66 segments/);
  limit((frames) => frames.query(1, Array(5).fill("p".repeat(1000))), /query path is 5004 bytes/);
  limit((frames) => frames.keys(1, { limit: MAX_KEYS_LIMIT + 1 }), /KEYS limit 10001/);
  const ok = new FrameWriter();
  ok.get(1, "k".repeat(MAX_KEY_BYTES));
  ok.query(2, Array(MAX_PATH_SEGMENTS).fill("a"));
  // Four 1000-byte segments, one of 92 and four dots: exactly MAX_PATH_BYTES.
  ok.query(3, [...Array(4).fill("p".repeat(1000)), "s".repeat(MAX_PATH_BYTES - 4004)]);
  ok.keys(4, { limit: MAX_KEYS_LIMIT });
  assert.equal(decodeAll(ok.bytes()).map(decodeRequest).length, 4);
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
    [frameOf(MessageType.PUT, [0x02, ...keyBytes("a"), ...encodeValue(int(1))]), /PUT flags 0x02/],
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
  assert.throws(() => decodeStatsBody(new Uint8Array(5)), DecodeError);
  assert.throws(() => decodeHelloBody(new Uint8Array(7)), DecodeError);
  assert.throws(() => decodeEmptyBody(new Uint8Array(1)), DecodeError);
  assert.throws(() => decodeValueBody(new Uint8Array([...encodeValue(int(1)), 0])), DecodeError);
});

Deno.test("PUT_MANY round-trips: items through decodeRequest, refusals through decodePutManyBody", () => {
  const items = new PutManyItems();
  items.add("person1", encodeValue(int(22)));
  items.add("person2", encodeValue(str("Mary")), { overwrite: false });
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

Deno.test("random bytes through FrameDecoder and decodeRequest throw only DecodeError", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const decoder = new FrameDecoder({ maxFrameBytes: 4096 });
      try {
        for (const chunk of chunks) {
          for (const frame of decoder.feed(chunk)) {
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
        frames.put(1, key, value);
        frames.query(2, [key, key]);
        frames.keys(3, { prefix: key, limit: 10 });
        const bytes = frames.bytes().slice();
        for (const [position, byte] of flips) {
          const at = position % bytes.length;
          // Keep the length fields intact so the corruption reaches the body decoders.
          if (at % FRAME_HEADER_BYTES >= 4) bytes[at] = byte;
        }
        try {
          decodeAll(bytes).forEach(decodeRequest);
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
      },
    ),
    { numRuns: 1000 },
  );
});
