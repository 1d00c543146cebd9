// A kv server answers a well-formed GET where it lies in its connection's read buffer
// (lib/server/server.ts #dispatch, isWellFormedGetBody), everything else through
// decodeRequest. These tests send streams of GETs — good ones, keys at the limit, every kind
// of malformed body — with PUTs that grow the read buffer past what it keeps and shrink it
// again, cut at random byte positions, over a real socket, and check every answer against
// a model built on decodeRequest: the slow path the fast one must agree with.
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_KEY_BYTES } from "../../lib/limits.ts";
import { LimitExceededError } from "../../lib/base/bytes.ts";
import { ErrorCode, FRAME_HEADER_BYTES, MessageType } from "../../lib/protocol/mod.ts";
import { decodeRequest, decodeResponse, decodeValueBody } from "../../lib/protocol/messages.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MAX_RETAINED_READ_BYTES } from "../../lib/protocol/frame_reader.ts";
import { int, str, type Value, valueEquals } from "../../lib/record/value.ts";
import { RawConnection, startServer } from "../helpers/in_process_server.ts";
import { waitFor } from "../helpers/wait.ts";
import { at } from "../helpers/versions.ts";

/**
 * The idle timeout of the test of a client that never reads: the test must see the server
 * stuck writing to it, and serve another client, before it is closed: it failed at a
 * load of 17-27 with 1 s (the shared SHORT_TIMEOUT_MS).
 */
const STUCK_IDLE_TIMEOUT_MS = 3_000;

const LONGEST_KEY = "k".repeat(MAX_KEY_BYTES);

/** Keys the streams read and write: short, multi-byte, and at the length limit. */
const KEYS = ["a", "person1", "Ωmega", LONGEST_KEY];

/** A value bigger than a read buffer is kept: its PUT grows the buffer, which then shrinks. */
const BIG_VALUE_BYTES = MAX_RETAINED_READ_BYTES + 64 * 1024;

/** One request of a stream. */
type Item =
  | { kind: "get"; key: string }
  | { kind: "rawGet"; body: number[] }
  | { kind: "put"; key: string; value: number; big: boolean }
  | { kind: "ping" };

const utf8 = new TextEncoder();

/** A GET body: u32 key length, then the key's UTF-8. */
function getBody(keyBytes: Uint8Array, declared = keyBytes.length): number[] {
  return [
    declared >>> 24,
    (declared >>> 16) & 0xff,
    (declared >>> 8) & 0xff,
    declared & 0xff,
    ...keyBytes,
  ];
}

/** GET bodies the server must refuse, and ones it must answer, built byte by byte. */
const rawGetArbitrary: fc.Arbitrary<number[]> = fc.oneof(
  // Well-formed, but not made by FrameWriter: the fast path sees the same bytes.
  fc.constantFrom(...KEYS).map((key) => getBody(utf8.encode(key))),
  // A key one byte over the limit.
  fc.constant(getBody(utf8.encode(LONGEST_KEY + "k"))),
  // The empty key; a length prefix that disagrees with the body either way.
  fc.constant(getBody(new Uint8Array(0))),
  fc.integer({ min: 0, max: 8 }).map((declared) => getBody(utf8.encode("abcd"), declared)),
  // Invalid UTF-8; a body shorter than its length prefix.
  fc.constant(getBody(new Uint8Array([0x61, 0xff, 0x62]))),
  fc.constant(getBody(new Uint8Array([0xc3]))),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }),
  // Anything at all.
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }),
);

const itemArbitrary: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("get" as const),
      key: fc.constantFrom(...KEYS, "missing"),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("rawGet" as const), body: rawGetArbitrary }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      key: fc.constantFrom(...KEYS),
      value: fc.integer({ min: 0, max: 1000 }),
      big: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "ping" as const }) },
);

function valueOf(item: Extract<Item, { kind: "put" }>): Value {
  return item.big ? str(`${item.value}:`.padEnd(BIG_VALUE_BYTES, "v")) : int(item.value);
}

/** The frames of `items`, request ids 1, 2, …, and where each frame ends in the stream. */
function encode(items: readonly Item[]): { bytes: Uint8Array; ends: number[] } {
  const parts: Uint8Array[] = [];
  const ends: number[] = [];
  let length = 0;
  items.forEach((item, index) => {
    const requestId = index + 1;
    let frame: Uint8Array;
    if (item.kind === "rawGet") {
      frame = new Uint8Array(FRAME_HEADER_BYTES + item.body.length);
      const view = new DataView(frame.buffer);
      view.setUint32(0, item.body.length);
      view.setUint8(4, MessageType.GET);
      view.setUint32(5, requestId);
      frame.set(item.body, FRAME_HEADER_BYTES);
    } else {
      const frames = new FrameWriter();
      if (item.kind === "get") frames.get(requestId, item.key);
      else if (item.kind === "put") frames.put(requestId, item.key, valueOf(item), at());
      else frames.ping(requestId);
      frame = frames.bytes().slice();
    }
    parts.push(frame);
    length += frame.length;
    ends.push(length);
  });
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return { bytes, ends };
}

/** What the slow path makes of a GET body: the key, or the error code it is refused with. */
function expectedGet(body: Uint8Array, requestId: number): { key: string } | { code: number } {
  try {
    const request = decodeRequest({ type: MessageType.GET, requestId, body });
    assert.ok(request.type === "get");
    return { key: request.key };
  } catch (error) {
    return { code: error instanceof LimitExceededError ? ErrorCode.LIMIT : ErrorCode.BAD_REQUEST };
  }
}

/** Checks the answers to `items` on `raw` against a model of the store, in order. */
async function checkAnswers(
  raw: RawConnection,
  items: readonly Item[],
  model: Map<string, Value>,
  upTo: number,
  from: number,
): Promise<void> {
  for (let index = from; index < upTo; index++) {
    const item = items[index];
    const requestId = index + 1;
    const frame = await raw.readFrame();
    assert.ok(frame, `the connection ended before answer ${requestId}`);
    const answer = decodeResponse(frame);
    assert.equal(answer.requestId, requestId, JSON.stringify(item));
    if (item.kind === "put") {
      assert.equal(answer.type, "ok", JSON.stringify(answer));
      model.set(item.key, valueOf(item));
      continue;
    }
    if (item.kind === "ping") {
      assert.equal(answer.type, "ok");
      continue;
    }
    const body = item.kind === "get"
      ? new Uint8Array(getBody(utf8.encode(item.key)))
      : new Uint8Array(item.body);
    const expected = expectedGet(body, requestId);
    if ("code" in expected) {
      assert.ok(answer.type === "error", `${JSON.stringify(item)}: ${JSON.stringify(answer)}`);
      assert.equal(answer.code, expected.code, answer.message);
      continue;
    }
    const stored = model.get(expected.key);
    if (stored === undefined) {
      assert.equal(answer.type, "not_found", JSON.stringify(answer));
    } else {
      assert.ok(answer.type === "ok", JSON.stringify(answer));
      assert.ok(valueEquals(decodeValueBody(answer.body).value, stored), expected.key);
    }
  }
}

Deno.test("GETs cut at any byte, malformed ones among them, keys at the limit, a read buffer that grows and shrinks: every answer is the slow path's", async () => {
  const { address, stop } = await startServer();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(itemArbitrary, { minLength: 1, maxLength: 40 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        async (items, cutFractions) => {
          const { bytes, ends } = encode(items);
          const cuts = [...new Set(cutFractions.map((f) => Math.floor(f * bytes.length)))]
            .filter((cut) => cut > 0 && cut < bytes.length)
            .sort((a, b) => a - b);
          const raw = await RawConnection.open(address);
          const model = new Map<string, Value>();
          // What the server held before: each run starts from its own keys' state.
          for (const key of KEYS) {
            const probe = new FrameWriter();
            probe.get(0, key);
            await raw.write(probe.bytes());
            const answer = decodeResponse((await raw.readFrame())!);
            if (answer.type === "ok") model.set(key, decodeValueBody(answer.body).value);
          }
          try {
            let answered = 0;
            let sent = 0;
            for (const cut of [...cuts, bytes.length]) {
              // One write per piece; the answers to the frames it completes are awaited
              // before the next, so the server has read the piece (and a frame it cut) first.
              await raw.write(bytes.subarray(sent, cut));
              sent = cut;
              const complete = ends.filter((end) => end <= cut).length;
              await checkAnswers(raw, items, model, complete, answered);
              answered = complete;
            }
            assert.equal(answered, items.length);
          } finally {
            raw.close();
          }
        },
      ),
      {
        numRuns: 30,
        // Always once: a big PUT cut in its middle among GETs, good and bad, so the buffer
        // grows past what it keeps and shrinks back whatever the random runs draw (one
        // in ten of them has a big PUT).
        examples: [[
          [
            { kind: "get", key: LONGEST_KEY },
            { kind: "put", key: "a", value: 1, big: true },
            { kind: "rawGet", body: [0, 0, 0, 9, 0x61] },
            { kind: "get", key: "a" },
            { kind: "put", key: "a", value: 2, big: false },
            { kind: "get", key: "a" },
          ],
          [0.3, 0.6, 0.999],
        ]],
      },
    );
  } finally {
    await stop();
  }
});

Deno.test("thousands of GETs in one write, each answered in order from where it lies", async () => {
  const { address, stop } = await startServer();
  const raw = await RawConnection.open(address);
  const frames = new FrameWriter();
  const count = 5000;
  for (let index = 0; index < 10; index++) frames.put(index + 1, `key${index}`, int(index), at());
  for (let index = 0; index < count; index++) frames.get(100 + index, `key${index % 20}`);
  await raw.write(frames.bytes());
  for (let index = 0; index < 10; index++) {
    assert.equal(decodeResponse((await raw.readFrame())!).type, "ok");
  }
  for (let index = 0; index < count; index++) {
    const answer = decodeResponse((await raw.readFrame())!);
    assert.equal(answer.requestId, 100 + index);
    const stored = index % 20;
    if (stored < 10) {
      assert.ok(answer.type === "ok", JSON.stringify(answer));
      assert.ok(valueEquals(decodeValueBody(answer.body).value, int(stored)));
    } else {
      assert.equal(answer.type, "not_found");
    }
  }
  raw.close();
  await stop();
});

Deno.test("a client that never reads its answers is closed by the idle timeout while the server is stuck writing to it, and others are served meanwhile", async () => {
  const { server, address, stop } = await startServer({ idleTimeoutMs: STUCK_IDLE_TIMEOUT_MS });
  try {
    const big = str("v".repeat(1024 * 1024));
    const frames = new FrameWriter();
    frames.put(1, "big", big, at());
    const writer = await RawConnection.open(address);
    await writer.write(frames.bytes());
    assert.equal(decodeResponse((await writer.readFrame())!).type, "ok");
    writer.close();
    // 64 MiB of answers, far more than the sockets' buffers: the server's write to this
    // connection cannot finish until it reads, which it never does.
    const silent = await RawConnection.open(address);
    frames.reset();
    for (let id = 1; id <= 64; id++) frames.get(id, "big");
    await silent.write(frames.bytes());
    await waitFor(() => server.bufferedBytes > big.value.length, {
      what: "the server to hold answers it cannot send",
    });
    // Another connection is answered while that write waits: opened now, as one opened
    // before could have been idle past the timeout on a loaded machine while this one was.
    const other = await RawConnection.open(address);
    frames.reset();
    frames.get(2, "big");
    await other.write(frames.bytes());
    const answer = decodeResponse((await other.readFrame())!);
    assert.ok(answer.type === "ok" && valueEquals(decodeValueBody(answer.body).value, big));
    other.close();
    // The silent one is closed once idle, its write abandoned, its memory given back.
    await waitFor(() => server.connectionCount === 0, { what: "the silent client to be closed" });
    assert.equal(server.bufferedBytes, 0);
    silent.close();
  } finally {
    await stop();
  }
});

Deno.test("clients that never read their answers hold no more than the buffer budget: those past it are closed, and another client is served", async () => {
  const budget = 8 * 1024 * 1024;
  const { server, address, stop } = await startServer({ maxBufferedBytes: budget });
  const silent: RawConnection[] = [];
  try {
    const big = str("v".repeat(1024 * 1024));
    const frames = new FrameWriter();
    frames.put(1, "big", big, at());
    const other = await RawConnection.open(address);
    await other.write(frames.bytes());
    assert.equal(decodeResponse((await other.readFrame())!).type, "ok");
    // Each asks for 32 MiB of answers, more than the sockets take: each batch of answers
    // (4 MiB at most) then waits in the server, counted in the budget.
    frames.reset();
    for (let id = 1; id <= 32; id++) frames.get(id, "big");
    const count = 10;
    for (let index = 0; index < count; index++) {
      const raw = await RawConnection.open(address);
      silent.push(raw);
      raw.write(frames.bytes()).catch(() => {/* closed by the server: refused */});
    }
    // What the base allowance of each connection may add to the budget.
    const slack = (count + 1) * 128 * 1024;
    await waitFor(() => {
      assert.ok(server.bufferedBytes <= budget + slack, `${server.bufferedBytes} bytes held`);
      // Two batches of 4 MiB cannot both fit in 8 MiB beside anything else.
      return server.connectionCount <= 2 + 1;
    }, { what: "the clients past the budget to be closed" });
    frames.reset();
    frames.get(2, "big");
    await other.write(frames.bytes());
    const answer = decodeResponse((await other.readFrame())!);
    assert.ok(answer.type === "ok" && valueEquals(decodeValueBody(answer.body).value, big));
    other.close();
    for (const raw of silent) raw.close();
    await waitFor(() => server.connectionCount === 0, { what: "every connection to close" });
    assert.equal(server.bufferedBytes, 0);
  } finally {
    for (const raw of silent) raw.close();
    await stop();
  }
});
