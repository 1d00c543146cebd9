/**
 * A server fed random and mutated frames (docs/protocol.md's rules for bad input): valid
 * requests of every type with fields mutated, bodies cut short or grown, every opcode with a
 * garbage body, lengths that mis-frame the stream, and a header over the frame limit, mixed
 * with valid requests, on connections that said HELLO and on strangers'. The server must
 * answer each frame it reads, in order, with a documented answer (never INTERNAL, nothing
 * logged as its own failure), close the connection only where the spec says (a refused
 * HELLO, a request before HELLO, an oversized header), serve other connections throughout,
 * and keep every record written before — in memory and, reopened, on disk. Once in process
 * (its error log watched) and once against a `kv server` process restarted on its data dir.
 * @module
 */
import { withDeadline } from "../helpers/wait.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { decodeResponse } from "../../lib/protocol/messages.ts";
import {
  CONNECTION_REQUEST_ID,
  ErrorCode,
  MessageType,
  NO_LIST,
  PROTOCOL_VERSION,
  type Response,
} from "../../lib/protocol/mod.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import { PARTITION_COUNT } from "../../lib/record/partition.ts";
import { int, str, type Value, valueEquals } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { Logger } from "../../lib/base/logger.ts";
import { MAX_KEYS_LIMIT } from "../../lib/limits.ts";
import { Store } from "../../lib/server/store.ts";
import { MAX_STRANGER_FRAME_BYTES } from "../../lib/server/server.ts";
import { RawConnection, startServer } from "../helpers/in_process_server.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { at, nextVersion } from "../helpers/versions.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";

/** The server's frame limit here: small, so that bodies near and over it are cheap to send. */
const MAX_FRAME_BYTES = 8192;
/** Frame header bytes: u32 body length, u8 type, u32 request id. */
const HEADER_BYTES = 9;
/** Records written before the garbage, which no run may change. */
const KEPT_RECORDS = 20;
/** Runs of the property: each a connection with up to MAX_FRAMES frames. */
const RUNS = 150;
const MAX_FRAMES = 8;
/** Runs against a `kv server` process, whose every answer crosses to another process. */
const PROCESS_RUNS = 60;
/** The least `kv server --max-frame-bytes` takes. */
const PROCESS_MAX_FRAME_BYTES = 65_536;
/** Frames a stranger's run opens with that are HELLO or PING (then mutated as any). */
const STRANGER_OPENING_FRAMES = 3;
/** Error codes that answer a refused HELLO, after which the server closes (docs/protocol.md). */
const HELLO_REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.BAD_REQUEST,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.UNSUPPORTED_AUTH,
  ErrorCode.AUTH_FAILED,
]);
/** Error codes a greeted connection's request may get for what it asked; it carries on. */
const REQUEST_REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.BAD_REQUEST,
  ErrorCode.LIMIT,
  ErrorCode.EXISTS,
  ErrorCode.MARK_CHANGED,
]);

/** One valid request of each type, as a whole frame, with `requestId` and a fuzz key. */
function validFrame(kind: number, requestId: number, key: string, value: Value): Uint8Array {
  const frames = new FrameWriter();
  const wanted = new Uint8Array(PARTITION_COUNT / 8).fill(0xff);
  switch (kind) {
    case 0:
      frames.hello(requestId, PROTOCOL_VERSION);
      break;
    case 1:
      frames.ping(requestId);
      break;
    case 2:
      frames.put(requestId, key, value, at({ overwrite: requestId % 2 === 0 }));
      break;
    case 3:
      frames.get(requestId, key);
      break;
    case 4:
      frames.query(requestId, [key, key]);
      break;
    case 5:
      frames.delete(requestId, key, at({ purge: requestId % 3 === 0, aged: requestId % 5 === 0 }));
      break;
    case 6:
      frames.keys(requestId, { prefix: key.slice(0, 1), limit: 5, after: key });
      break;
    case 7:
      frames.stats(requestId);
      break;
    case 8: {
      const items = new PutManyItems();
      items.add(key, encodeValue(value), nextVersion());
      items.add(`${key}2`, encodeValue(int(requestId)), nextVersion(), { overwrite: false });
      frames.putMany(requestId, items.itemCount, items.bytes());
      break;
    }
    case 9:
      frames.setK(requestId, 1 + requestId % 3, requestId % 2 === 0);
      break;
    case 10:
      frames.markRepaired(requestId, new Uint8Array(16).fill(requestId & 0xff), NO_LIST);
      break;
    case 11:
      frames.partitionDigests(requestId);
      break;
    default:
      frames.listPartitions(requestId, wanted, { limit: 3, after: key, values: true });
  }
  return frames.bytes().slice();
}

const REQUEST_KINDS = 13;

/** A mutation of a valid frame's bytes (header included). */
type Mutation =
  | { kind: "none" }
  | { kind: "flip"; flips: [number, number][] }
  | { kind: "cut"; keep: number }
  | { kind: "grow"; extra: Uint8Array }
  | { kind: "retype"; type: number }
  | { kind: "garbage"; type: number; body: Uint8Array }
  | { kind: "misframe"; delta: number };

/** Mutations of frames for a server whose frame limit is `maxFrameBytes`. */
const mutationArbitrary = (maxFrameBytes: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    // Valid requests among the bad ones: as often as all the mutations of bodies together.
    { arbitrary: fc.constant({ kind: "none" as const }), weight: 3 },
    fc.record({
      kind: fc.constant("flip" as const),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
    fc.record({ kind: fc.constant("cut" as const), keep: fc.nat() }),
    fc.record({ kind: fc.constant("grow" as const), extra: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ kind: fc.constant("retype" as const), type: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant("garbage" as const),
      type: fc.oneof(fc.integer({ min: 0, max: 0x0e }), fc.integer({ min: 0, max: 255 })),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // About the stranger's limit, and the greeted one's.
        fc.uint8Array({
          minLength: MAX_STRANGER_FRAME_BYTES - 4,
          maxLength: MAX_STRANGER_FRAME_BYTES,
        }),
        fc.uint8Array({ minLength: maxFrameBytes - 8, maxLength: maxFrameBytes }),
      ),
    }),
    fc.record({ kind: fc.constant("misframe" as const), delta: fc.integer({ min: -12, max: 12 }) }),
  );

/** `frame` with `mutation` applied; the body length is kept true unless mis-framing. */
function mutate(frame: Uint8Array, mutation: Mutation): Uint8Array {
  const body = frame.subarray(HEADER_BYTES);
  const withBody = (type: number, newBody: Uint8Array) => {
    const out = new Uint8Array(HEADER_BYTES + newBody.length);
    out.set(frame.subarray(0, HEADER_BYTES));
    new DataView(out.buffer).setUint32(0, newBody.length);
    out[4] = type;
    out.set(newBody, HEADER_BYTES);
    return out;
  };
  switch (mutation.kind) {
    case "none":
      return frame;
    case "flip": {
      const out = frame.slice();
      // Only body bytes: a flipped header is "misframe" or "retype".
      for (const [at, byte] of mutation.flips) {
        if (body.length > 0) out[HEADER_BYTES + at % body.length] = byte;
      }
      return out;
    }
    case "cut":
      return withBody(frame[4], body.subarray(0, mutation.keep % (body.length + 1)));
    case "grow":
      return withBody(frame[4], Uint8Array.of(...body, ...mutation.extra));
    case "retype":
      return withBody(mutation.type, body);
    case "garbage":
      return withBody(mutation.type, mutation.body);
    case "misframe": {
      const out = frame.slice();
      const length = Math.max(0, body.length + mutation.delta);
      new DataView(out.buffer).setUint32(0, length);
      return out;
    }
  }
}

/**
 * Headers announcing more than a limit (the server reads no body after them): over the
 * stranger's limit only, or over every limit.
 */
const oversizedArbitrary = (maxFrameBytes: number) =>
  fc.constantFrom(
    MAX_STRANGER_FRAME_BYTES + 1,
    maxFrameBytes + 1,
    2 ** 31,
    0xffff_ffff,
  );

/**
 * Checks the server's `answers` to the request `stream` sent on a connection `greeted` or
 * not, walking it as docs/protocol.md says a server reads it: one answer per whole frame, in
 * order, with its id; before a HELLO succeeds, frames up to the stranger's limit, PING
 * answered, any other type but HELLO AUTH_REQUIRED and the end; a refused HELLO the end; a
 * header over the limit TOO_LARGE and the end; a frame cut short by the stream's end no
 * answer. Never INTERNAL; a greeted connection's refusals only those of the request.
 */
function checkAnswers(
  stream: Uint8Array,
  received: readonly Response[],
  greeted: boolean,
  maxFrameBytes: number,
): void {
  const shown = () =>
    JSON.stringify(received.map((a) => [a.type, a.requestId, "code" in a && a.code]));
  // A machine loaded enough to hold the connection past its timeout (a stranger has 5 s to
  // say HELLO) has the server end it, as the spec says: the frames after go unanswered.
  const end = received.at(-1);
  const timedOut = end?.type === "error" && end.code === ErrorCode.IDLE_TIMEOUT &&
    end.requestId === CONNECTION_REQUEST_ID;
  const answers = timedOut ? received.slice(0, -1) : received;
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const last = (index: number, what: string) =>
    assert.equal(answers.length, index + 1, `${what} ends the connection: ${shown()}`);
  let index = 0;
  for (let at = 0; at + HEADER_BYTES <= stream.length; at += HEADER_BYTES + view.getUint32(at)) {
    const length = view.getUint32(at);
    const type = stream[at + 4];
    const requestId = view.getUint32(at + 5);
    const answer = answers[index];
    if (answer === undefined && timedOut) return;
    const limit = greeted ? maxFrameBytes : MAX_STRANGER_FRAME_BYTES;
    if (length > limit) {
      assert.ok(answer?.type === "error" && answer.code === ErrorCode.TOO_LARGE, shown());
      assert.equal(answer.requestId, requestId, shown());
      return last(index, "an oversized header");
    }
    if (at + HEADER_BYTES + length > stream.length) break;
    assert.ok(answer, `frame ${index} (type ${type}) got no answer: ${shown()}`);
    assert.equal(answer.requestId, requestId, shown());
    assert.ok(
      answer.type !== "error" || answer.code !== ErrorCode.INTERNAL,
      `client garbage got INTERNAL: ${answer.type === "error" && answer.message}`,
    );
    if (type === MessageType.HELLO && answer.type === "error") {
      assert.ok(HELLO_REFUSALS.has(answer.code), `${answer.code} ${answer.message}`);
      return last(index, "a refused HELLO");
    }
    if (type === MessageType.HELLO) greeted = true;
    else if (!greeted && type !== MessageType.PING) {
      assert.ok(answer.type === "error" && answer.code === ErrorCode.AUTH_REQUIRED, shown());
      return last(index, "a request before HELLO");
    } else if (answer.type === "error") {
      assert.ok(REQUEST_REFUSALS.has(answer.code), `${answer.code} ${answer.message}`);
    }
    index++;
  }
  assert.equal(answers.length, index, shown());
}

/** Every record `store` holds, by key. */
function recordsOf(store: Store): Map<string, Value | undefined> {
  const records = new Map<string, Value | undefined>();
  for (const key of store.keys({ prefix: "", limit: MAX_KEYS_LIMIT })) {
    records.set(key, store.get(key));
  }
  return records;
}

/**
 * Sends the server at `address` (frame limit `maxFrameBytes`) `runs` connections of random
 * and mutated frames, checking each connection's answers ({@link checkAnswers}), then that a
 * fresh connection reads the record kept0 as written; `afterRun` checks more after each.
 */
async function feedBadFrames(
  address: { hostname: string; port: number },
  maxFrameBytes: number,
  runs: number,
  afterRun: () => void,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: REQUEST_KINDS - 1 }),
          keyArbitrary(),
          valueArbitrary(2),
          mutationArbitrary(maxFrameBytes),
        ),
        { minLength: 1, maxLength: MAX_FRAMES },
      ),
      fc.option(oversizedArbitrary(maxFrameBytes), { freq: 5 }),
      // Three runs in four on a connection that said HELLO; the rest as a stranger.
      fc.integer({ min: 0, max: 3 }).map((draw) => draw > 0),
      async (requests, oversized, greet) => {
        const parts = requests.map(([kind, key, value, mutation], index) => {
          // A stranger's first frames are mostly what it may send: PING and HELLO.
          const asked = !greet && index < STRANGER_OPENING_FRAMES ? kind % 2 : kind;
          return mutate(validFrame(asked, index + 1, `f${key}`, value), mutation);
        });
        if (oversized !== null) {
          const header = new Uint8Array(HEADER_BYTES);
          new DataView(header.buffer).setUint32(0, oversized);
          header[4] = MessageType.PUT;
          new DataView(header.buffer).setUint32(5, 0xabcd);
          parts.push(header);
        }
        const stream = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
        parts.reduce((at, part) => (stream.set(part, at), at + part.length), 0);
        const raw = await RawConnection.open(address, { hello: greet });
        try {
          const exchange = async () => {
            await raw.write(stream);
            await raw.closeWrite();
            return await raw.readUntilEnd();
          };
          const frames = await withDeadline(exchange(), {
            what: "the server's answers and its end of the connection",
            onTimeout: () => raw.close(),
          });
          const answers = frames.map(decodeResponse);
          checkAnswers(stream, answers, greet, maxFrameBytes);
        } finally {
          raw.close();
        }
        afterRun();
        // Other connections are served: a fresh one reads a kept record.
        const fresh = await connectClient(address);
        try {
          assert.deepEqual((await fresh.get("kept0")).value, str("value 0"));
        } finally {
          await fresh.close();
        }
      },
    ),
    // No shrinking: each attempt is a connection (a process's, in one test), and shrinking a
    // failure on a loaded machine could outlast any deadline; the failing case is reported.
    { numRuns: runs, endOnFailure: true },
  );
}

Deno.test("random and mutated frames get documented answers in order, close only where the spec says, and hurt no data or other client", async () => {
  await withTempDir(async (dataDir) => {
    const logged: string[] = [];
    const logger = new Logger({ level: "error", write: (line) => logged.push(line) });
    const store = await Store.open({ dataDir });
    const { address, stop } = await startServer({
      store,
      logger,
      maxFrameBytes: MAX_FRAME_BYTES,
    });
    const keeper = await connectClient(address);
    for (let index = 0; index < KEPT_RECORDS; index++) {
      await keeper.put(`kept${index}`, str(`value ${index}`), at());
    }
    await feedBadFrames(address, MAX_FRAME_BYTES, RUNS, () => {
      assert.deepEqual(logged, [], "the server logged a failure of its own");
    });
    await keeper.close();
    // MARK_REPAIRED garbage may have closed the keeper's connection: read on a new one.
    const reader = await connectClient(address);
    for (let index = 0; index < KEPT_RECORDS; index++) {
      const { value } = await reader.get(`kept${index}`);
      assert.deepEqual(value, str(`value ${index}`), `kept${index}`);
    }
    await reader.close();
    const before = recordsOf(store);
    await stop();
    // What the garbage had stored replays from the log, with nothing cut off as damaged.
    const reopened = await Store.open({ dataDir });
    try {
      assert.equal(reopened.recovery.truncatedBytes, 0);
      assert.deepEqual(reopened.recovery.warnings, []);
      const after = recordsOf(reopened);
      assert.equal(after.size, before.size);
      for (const [key, value] of before) {
        assert.ok(value && valueEquals(after.get(key)!, value), `record ${key} after reopening`);
      }
    } finally {
      await reopened.close();
    }
  });
});

/** Every record the server at `address` holds, by key, read over a connection of its own. */
async function recordsAt(address: { hostname: string; port: number }): Promise<Map<string, Value>> {
  const client = await connectClient(address);
  try {
    const records = new Map<string, Value>();
    for (const key of await client.keys({ prefix: "", limit: MAX_KEYS_LIMIT })) {
      const { value } = await client.get(key);
      assert.ok(value !== undefined, `listed key ${key} has no value`);
      records.set(key, value);
    }
    return records;
  } finally {
    await client.close();
  }
}

Deno.test("a kv server process fed random and mutated frames keeps serving, logs no error of its own, and restarted on its data dir holds every record it held", async () => {
  await withTempDir(async (dataDir) => {
    const args = ["--data-dir", dataDir, "--max-frame-bytes", `${PROCESS_MAX_FRAME_BYTES}`];
    const server = await startServerProcess(args);
    const keeper = await connectClient(server.address);
    for (let index = 0; index < KEPT_RECORDS; index++) {
      await keeper.put(`kept${index}`, str(`value ${index}`), at());
    }
    await keeper.close();
    await feedBadFrames(server.address, PROCESS_MAX_FRAME_BYTES, PROCESS_RUNS, () => {
      assert.ok(server.running, "the server process is still running");
    });
    const before = await recordsAt(server.address);
    const exit = await stopWithin(server);
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(exit.stderr.split("\n").filter((line) => /\berror\b|^\s+at /.test(line)), []);
    const restarted = await startServerProcess(args);
    try {
      assert.deepEqual(await recordsAt(restarted.address), before);
    } finally {
      await stopWithin(restarted);
    }
  });
});
