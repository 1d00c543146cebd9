import assert from "node:assert/strict";
import fc from "fast-check";
import { Logger } from "../../lib/base/logger.ts";
import { AUTH_HMAC_SHA256, AuthKeys } from "../../lib/protocol/auth.ts";
import { ConnectionError, ServerClient } from "../../lib/protocol/client.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { decodeHelloBody, decodeResponse } from "../../lib/protocol/messages.ts";
import {
  AUTH_NONE,
  CONNECTION_REQUEST_ID,
  ErrorCode,
  type Frame,
  type HelloResult,
  MessageType,
  NO_LIST,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";
import { int, str } from "../../lib/record/value.ts";
import { RawConnection, SHORT_TIMEOUT_MS, startServer } from "../helpers/in_process_server.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { at } from "../helpers/versions.ts";
import { connectClient } from "../helpers/client.ts";

const SECRET = new Uint8Array(32).fill(7);
const OTHER_SECRET = new Uint8Array(32).fill(9);

function secured(
  extra: { helloTimeoutMs?: number; maxConnections?: number; maxBufferedBytes?: number } = {},
) {
  const lines: string[] = [];
  const logger = new Logger({
    level: "warn",
    name: "kv server",
    write: (line) => lines.push(line),
  });
  return AuthKeys.fromSecrets([SECRET]).then(async (auth) => ({
    lines,
    ...await startServer({ auth, logger, ...extra }),
  }));
}

/** Bytes of HELLO's welcome body (docs/protocol.md): version, form, limits, id, state. */
const WELCOME_BODY_BYTES = 2 + 1 + 4 + 4 + 8 + 1 + 1 + 16;

/** Bytes of HELLO's challenge body (docs/protocol.md): version, form, challenge. */
const CHALLENGE_BODY_BYTES = 2 + 1 + 32;

/** The challenge an OK to HELLO carries; fails unless it is HELLO's challenge. */
function challengeOf(frame: Frame | undefined): Uint8Array {
  assert.ok(frame?.type === MessageType.OK, "an OK to HELLO");
  const answer = decodeHelloBody(frame.body);
  assert.ok("challenge" in answer, "HELLO's challenge");
  return answer.challenge;
}

/** The server's id and state an OK to HELLO carries; fails unless it is HELLO's welcome. */
function welcomeOf(frame: Frame | undefined): HelloResult {
  assert.ok(frame?.type === MessageType.OK, "an OK to HELLO");
  const answer = decodeHelloBody(frame.body);
  assert.ok(!("challenge" in answer), "HELLO's welcome");
  return answer;
}

function errorOf(frame: Frame | undefined): { code: number; requestId: number } {
  assert.ok(frame !== undefined && frame.type === MessageType.ERROR, "an ERROR frame");
  return {
    code: new DataView(frame.body.buffer, frame.body.byteOffset).getUint16(0),
    requestId: frame.requestId,
  };
}

Deno.test("a client with a secret of the server's auth file is served", async () => {
  const { address, stop } = await secured();
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const client = await connectClient(address, { credentials: { auth } });
  await client.put("person1", int(5), at());
  assert.deepEqual((await client.get("person1")).value, int(5));
  await client.close();
  await stop();
});

Deno.test("a stranger without the secret can neither read nor write, and is logged", async () => {
  const { address, store, lines, stop } = await secured();
  await assert.rejects(connectClient(address), (error: Error) => {
    assert.ok(error instanceof ConnectionError);
    assert.match(error.message, /AUTH_REQUIRED: this server requires authentication/);
    return true;
  });
  // Raw frames skipping HELLO fare no better: the first request closes the connection.
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.put(1, "stolen", int(1), at());
  frames.get(2, "person1");
  await raw.write(frames.bytes());
  const answers = await raw.readUntilEnd();
  assert.deepEqual(answers.map(errorOf), [{ code: ErrorCode.AUTH_REQUIRED, requestId: 1 }]);
  assert.equal(store.recordCount, 0);
  assert.ok(lines.some((line) => /refused 127\.0\.0\.1:\d+: this server requires/.test(line)));
  raw.close();
  await stop();
});

Deno.test("a client with a wrong secret is refused with AUTH_FAILED, logged once a second at most", async () => {
  const { address, lines, stop } = await secured();
  const wrong = await AuthKeys.fromSecrets([OTHER_SECRET]);
  const startedAt = performance.now();
  const attempts = 20;
  for (let attempt = 0; attempt < attempts; attempt++) {
    await assert.rejects(
      connectClient(address, { credentials: { auth: wrong } }),
      /AUTH_FAILED: authentication failed/,
    );
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const logged = lines.filter((line) => line.includes("authentication failed"));
  // One line for the first failure, then at most one per second that passed.
  assert.ok(
    logged.length >= 1 && logged.length <= 1 + Math.ceil(seconds),
    `${logged.length} lines`,
  );
  assert.match(logged[0], /^kv server warn: refused 127\.0\.0\.1:\d+: authentication failed/);
  await stop();
});

Deno.test("a stranger's HELLO gets only the version and a challenge; the right answer gets the id and state, a wrong one AUTH_FAILED", async () => {
  const { address, store, stop } = await secured();
  // A state worth hiding: k recorded, repaired under a list whose fingerprint is 16 × 07.
  const list = new Uint8Array(16).fill(7);
  await store.nodeState.setK(2, false);
  await store.nodeState.markRepaired(list, NO_LIST);
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const known = await connectClient(address, { credentials: { auth } });
  const hello = new FrameWriter();
  hello.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
  for (const secret of [SECRET, OTHER_SECRET]) {
    const raw = await RawConnection.open(address, { hello: false });
    await raw.write(hello.bytes());
    // The challenge, as docs/protocol.md lays it out: u16 version, form 01, 32 bytes. No
    // id, flags, k or fingerprint, which would tell a stranger cluster membership and state.
    const challenged = await raw.readFrame();
    assert.ok(challenged?.type === MessageType.OK && challenged.requestId === 1);
    assert.equal(challenged.body.length, CHALLENGE_BODY_BYTES);
    assert.deepEqual(challenged.body.subarray(0, 3), Uint8Array.of(0, PROTOCOL_VERSION, 0x01));
    const frames = new FrameWriter();
    const answer = await (await AuthKeys.fromSecrets([secret])).answer(challengeOf(challenged));
    frames.hello(2, PROTOCOL_VERSION, AUTH_HMAC_SHA256, answer);
    await raw.write(frames.bytes());
    if (secret === OTHER_SECRET) {
      assert.deepEqual((await raw.readUntilEnd()).map(errorOf), [
        { code: ErrorCode.AUTH_FAILED, requestId: 2 },
      ]);
    } else {
      // The welcome: form 00, then everything the plain OK of a server without auth has.
      const welcome = await raw.readFrame();
      assert.ok(welcome?.type === MessageType.OK && welcome.requestId === 2);
      assert.equal(welcome.body.length, WELCOME_BODY_BYTES);
      assert.deepEqual(welcome.body.subarray(0, 3), Uint8Array.of(0, PROTOCOL_VERSION, 0x00));
      assert.deepEqual(welcomeOf(welcome), {
        version: PROTOCOL_VERSION,
        maxFrameBytes: 16 * 1024 * 1024,
        idleTimeoutMs: 30_000,
        serverId: known.serverId,
        state: { unrepaired: false, k: 2, repairedUnder: list },
      });
    }
    raw.close();
  }
  await known.close();
  await stop();
});

Deno.test("between the challenge and the right answer a connection is still a stranger: any request but PING refused, the frame limit kept, a HELLO without the answer AUTH_FAILED", async () => {
  const { address, store, stop } = await secured();
  await store.put("secret", int(42));
  const challenged = (then: (frames: FrameWriter) => void) => {
    const frames = new FrameWriter();
    frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
    then(frames);
    return frames.bytes();
  };
  const oversized = new Uint8Array(9);
  new DataView(oversized.buffer).setUint32(0, 5000);
  oversized[4] = MessageType.PING;
  new DataView(oversized.buffer).setUint32(5, 2);
  // What follows the challenge, and the refusal it gets (code, message).
  const cases: [string, Uint8Array, number, RegExp][] = [
    [
      "a GET",
      challenged((frames) => frames.get(2, "secret")),
      ErrorCode.AUTH_REQUIRED,
      /^request type 0x04 before HELLO/,
    ],
    [
      "a STATS",
      challenged((frames) => frames.stats(2)),
      ErrorCode.AUTH_REQUIRED,
      /^request type 0x08 before HELLO/,
    ],
    [
      "a HELLO with no answer",
      challenged((frames) => frames.hello(2, PROTOCOL_VERSION, AUTH_HMAC_SHA256)),
      ErrorCode.AUTH_FAILED,
      /^the answer to the challenge is 0 bytes, not the 32 of HMAC-SHA-256$/,
    ],
    [
      "a HELLO with scheme 0",
      challenged((frames) => frames.hello(2, PROTOCOL_VERSION)),
      ErrorCode.AUTH_REQUIRED,
      /^this server requires authentication/,
    ],
    // The limit of a stranger's frames (4103 bytes) holds until the welcome.
    [
      "a frame of 5000 bytes",
      Uint8Array.of(...challenged(() => {}), ...oversized),
      ErrorCode.TOO_LARGE,
      /^frame body of 5000 bytes is over the limit of 4103$/,
    ],
  ];
  for (const [what, bytes, code, message] of cases) {
    const raw = await RawConnection.open(address, { hello: false });
    await raw.write(bytes);
    const [challenge, refusal, ...rest] = await raw.readUntilEnd();
    challengeOf(challenge);
    const error = decodeResponse(refusal);
    assert.ok(error.type === "error", what);
    assert.deepEqual([error.requestId, error.code], [2, code], what);
    assert.match(error.message, message, what);
    assert.deepEqual(rest, [], `${what}: the server hangs up`);
    raw.close();
  }
  // PING is served meanwhile, and the answer still admits.
  const raw = await RawConnection.open(address, { hello: false });
  await raw.write(challenged((frames) => frames.ping(2)));
  const challenge = challengeOf(await raw.readFrame());
  assert.equal((await raw.readFrame())?.type, MessageType.OK, "PING");
  const frames = new FrameWriter();
  const answer = await (await AuthKeys.fromSecrets([SECRET])).answer(challenge);
  frames.hello(3, PROTOCOL_VERSION, AUTH_HMAC_SHA256, answer);
  frames.get(4, "secret");
  await raw.write(frames.bytes());
  welcomeOf(await raw.readFrame());
  assert.equal((await raw.readFrame())?.type, MessageType.OK, "the GET, once welcomed");
  raw.close();
  await stop();
});

Deno.test("a HELLO on a welcomed connection is answered as a first one: challenged again and served meanwhile, welcomed again after the right answer, closed after a wrong one", async () => {
  const { address, store, stop } = await secured();
  await store.put("secret", int(42));
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  const challengeAgain = async (id: number) => {
    frames.reset();
    frames.hello(id, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
    frames.get(id + 1, "secret");
    await raw.write(frames.bytes());
    const challenge = challengeOf(await raw.readFrame());
    assert.equal((await raw.readFrame())?.type, MessageType.OK, "the GET");
    return challenge;
  };
  const answer = async (id: number, mac: Uint8Array) => {
    frames.reset();
    frames.hello(id, PROTOCOL_VERSION, AUTH_HMAC_SHA256, mac);
    await raw.write(frames.bytes());
  };
  frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
  await raw.write(frames.bytes());
  await answer(2, await auth.answer(challengeOf(await raw.readFrame())));
  welcomeOf(await raw.readFrame());
  // Welcomed: a new HELLO gets a new challenge, and requests are served while it is open.
  await answer(5, await auth.answer(await challengeAgain(3)));
  welcomeOf(await raw.readFrame());
  await challengeAgain(6);
  await answer(8, new Uint8Array(32));
  assert.deepEqual((await raw.readUntilEnd()).map(errorOf), [
    { code: ErrorCode.AUTH_FAILED, requestId: 8 },
  ]);
  raw.close();
  await stop();
});

Deno.test("a stranger is closed at the HELLO deadline, not the shorter idle timeout, even after a challenge, so it never learns the idle timeout", async () => {
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const { address, stop } = await startServer({
    auth,
    idleTimeoutMs: SHORT_TIMEOUT_MS / 2,
    helloTimeoutMs: SHORT_TIMEOUT_MS,
  });
  for (const challenged of [false, true]) {
    const raw = await RawConnection.open(address, { hello: false });
    const frames = new FrameWriter();
    if (challenged) frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
    frames.ping(2);
    await raw.write(frames.bytes());
    const answers = await raw.readUntilEnd();
    if (challenged) challengeOf(answers.shift());
    assert.equal(answers.shift()?.type, MessageType.OK, "PING");
    const [closing, ...rest] = answers;
    assert.deepEqual(decodeResponse(closing), {
      type: "error",
      requestId: CONNECTION_REQUEST_ID,
      code: ErrorCode.IDLE_TIMEOUT,
      message: `no HELLO within ${SHORT_TIMEOUT_MS} ms; closing`,
    });
    assert.deepEqual(rest, []);
    raw.close();
  }
  // Once welcomed, the idle timeout applies.
  const client = await connectClient(address, { credentials: { auth }, keepAliveMs: 0 });
  await withDeadline(client.closed, { what: "the idle timeout to close the client" });
  assert.match(
    client.closeReason!.message,
    new RegExp(`IDLE_TIMEOUT: no complete request for ${SHORT_TIMEOUT_MS / 2} ms`),
  );
  await stop();
});

Deno.test("a HELLO for protocol version 7 to a server with an auth file is refused, both versions named, before any challenge", async () => {
  const { address, stop } = await secured();
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.hello(1, 7, AUTH_HMAC_SHA256);
  await raw.write(frames.bytes());
  const answers = await raw.readUntilEnd();
  assert.deepEqual(answers.map(errorOf), [{ code: ErrorCode.UNSUPPORTED_VERSION, requestId: 1 }]);
  assert.match(
    new TextDecoder().decode(answers[0].body.subarray(6)),
    new RegExp(
      `^protocol version 7 is not supported; this server speaks version ${PROTOCOL_VERSION} only`,
    ),
  );
  raw.close();
  await stop();
});

Deno.test("a server accepts any secret of its auth file, so secrets can be rotated", async () => {
  const auth = await AuthKeys.fromSecrets([SECRET, OTHER_SECRET]);
  const { address, stop } = await startServer({ auth });
  for (const secret of [SECRET, OTHER_SECRET]) {
    const credentials = { auth: await AuthKeys.fromSecrets([secret]) };
    const client = await connectClient(address, { credentials });
    assert.equal(typeof await client.ping(), "number");
    await client.close();
  }
  await stop();
});

Deno.test("the challenge is fresh per connection: an answer replayed elsewhere is refused", async () => {
  const { address, stop } = await secured();
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const first = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
  await first.write(frames.bytes());
  const answer = await auth.answer(challengeOf(await first.readFrame()));
  const second = await RawConnection.open(address, { hello: false });
  frames.reset();
  frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256);
  frames.hello(2, PROTOCOL_VERSION, AUTH_HMAC_SHA256, answer);
  await second.write(frames.bytes());
  const [challenged, refused, ...rest] = await second.readUntilEnd();
  challengeOf(challenged);
  assert.deepEqual(errorOf(refused), { code: ErrorCode.AUTH_FAILED, requestId: 2 });
  assert.deepEqual(rest, []);
  first.close();
  second.close();
  await stop();
});

Deno.test("HELLO without auth data to a server without an auth file is served, any auth data refused", async () => {
  const { address, store, stop } = await startServer();
  for (const scheme of [AUTH_NONE, AUTH_HMAC_SHA256]) {
    const raw = await RawConnection.open(address, { hello: false });
    const frames = new FrameWriter();
    frames.hello(1, PROTOCOL_VERSION, scheme);
    frames.ping(2);
    await raw.write(frames.bytes());
    // One answer, the welcome (form 0), with the server's state: no challenge to answer.
    const hello = await raw.readFrame();
    assert.ok(hello?.type === MessageType.OK);
    assert.equal(hello.body.length, WELCOME_BODY_BYTES);
    assert.equal(hello.body[2], 0x00);
    assert.deepEqual(welcomeOf(hello).state, store.nodeState.state);
    assert.equal((await raw.readFrame())?.type, MessageType.OK);
    raw.close();
  }
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.hello(1, PROTOCOL_VERSION, AUTH_HMAC_SHA256, new Uint8Array(32));
  await raw.write(frames.bytes());
  assert.deepEqual((await raw.readUntilEnd()).map(errorOf), [
    { code: ErrorCode.AUTH_FAILED, requestId: 1 },
  ]);
  raw.close();
  await stop();
});

Deno.test("a connection without HELLO is closed after the hello timeout with IDLE_TIMEOUT", async () => {
  const { address, server, stop } = await startServer({ helloTimeoutMs: SHORT_TIMEOUT_MS });
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.ping(1);
  await raw.write(frames.bytes());
  const answers = await raw.readUntilEnd();
  assert.equal(answers[0].type, MessageType.OK, "PING is served before HELLO");
  assert.deepEqual(errorOf(answers[1]), {
    code: ErrorCode.IDLE_TIMEOUT,
    requestId: CONNECTION_REQUEST_ID,
  });
  await waitFor(() => server.connectionCount === 0, { what: "the connection to go" });
  raw.close();
  await stop();
});

Deno.test("strangers hold at most half the slots and never cause BUSY for an authenticated client", async () => {
  const maxConnections = 8;
  const { address, server, stop } = await secured({ maxConnections });
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const clients: ServerClient[] = [];
  const strangers: RawConnection[] = [];
  for (let round = 0; round < 3; round++) {
    // More idle strangers than there are slots...
    for (let index = 0; index < maxConnections + 2; index++) {
      strangers.push(await RawConnection.open(address, { hello: false }));
    }
    await waitFor(() => server.connectionCount <= maxConnections, { what: "strangers evicted" });
    // ...and yet an authenticated client gets in.
    clients.push(await connectClient(address, { credentials: { auth } }));
  }
  for (const client of clients) assert.equal(typeof await client.ping(), "number");
  assert.ok(server.connectionCount <= maxConnections);
  for (const stranger of strangers) stranger.close();
  await Promise.all(clients.map((client) => client.close()));
  await stop();
});

Deno.test("a stranger announcing a frame larger than a HELLO is closed before its body, so strangers cannot take the memory budget", async () => {
  const maxBufferedBytes = 2 * 1024 * 1024;
  const { address, server, stop } = await secured({ maxBufferedBytes });
  // Before, each of these would have held a megabyte of the server's budget for the
  // hello timeout, and together closed the authenticated client's write below with BUSY.
  for (let index = 0; index < 4; index++) {
    const raw = await RawConnection.open(address, { hello: false });
    const header = new Uint8Array(9);
    new DataView(header.buffer).setUint32(0, 1024 * 1024);
    header[4] = MessageType.HELLO;
    new DataView(header.buffer).setUint32(5, 1);
    await raw.write(header);
    assert.deepEqual(errorOf(await raw.readFrame()), { code: ErrorCode.TOO_LARGE, requestId: 1 });
    assert.equal(await raw.readFrame(), undefined, "the stranger is closed");
    raw.close();
  }
  assert.ok(server.bufferedBytes <= maxBufferedBytes / 2, `${server.bufferedBytes} bytes held`);
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const client = await connectClient(address, { credentials: { auth } });
  const large = str("x".repeat(1024 * 1024));
  await client.put("large", large, at());
  assert.deepEqual((await client.get("large")).value, large);
  await client.close();
  await stop();
});

Deno.test("a HELLO and a large request sent together are both served: the frame limit rises with HELLO", async () => {
  const { address, stop } = await startServer();
  const raw = await RawConnection.open(address, { hello: false });
  const frames = new FrameWriter();
  frames.hello(1, PROTOCOL_VERSION);
  frames.put(2, "large", str("x".repeat(256 * 1024)), at());
  await raw.write(frames.bytes());
  assert.equal((await raw.readFrame())?.type, MessageType.OK, "HELLO");
  assert.equal((await raw.readFrame())?.type, MessageType.OK, "the PUT");
  raw.close();
  await stop();
});

Deno.test("fuzz: no HELLO a stranger makes up gets a request served, and the server carries on", async () => {
  const { address, store, stop } = await secured();
  await store.put("secret", int(42));
  const helloBody = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.record({
      version: fc.integer({ min: 0, max: 0xffff }),
      scheme: fc.integer({ min: 0, max: 255 }),
      auth: fc.uint8Array({ maxLength: 64 }),
    }).map(({ version, scheme, auth }) => {
      const frames = new FrameWriter();
      frames.hello(1, version, scheme, auth);
      return frames.bytes().slice(9);
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(helloBody, { minLength: 1, maxLength: 3 }), async (bodies) => {
      const raw = await RawConnection.open(address, { hello: false });
      const frames = new FrameWriter();
      bodies.forEach((body, index) => frames.frame(MessageType.HELLO, index + 1, body));
      frames.get(100, "secret");
      await raw.write(frames.bytes());
      const answers = await raw.readUntilEnd();
      raw.close();
      // Every answer but the last is a challenge; the last refuses and the server hangs up.
      const last = answers.at(-1);
      assert.ok(last?.type === MessageType.ERROR, "the connection ends with an ERROR");
      for (const answer of answers.slice(0, -1)) challengeOf(answer);
      assert.ok(
        answers.every((answer) => answer.requestId !== 100 || answer.type === MessageType.ERROR),
      );
    }),
    { numRuns: 100 },
  );
  const auth = await AuthKeys.fromSecrets([SECRET]);
  const client = await connectClient(address, { credentials: { auth } });
  assert.deepEqual((await client.get("secret")).value, int(42));
  await client.close();
  await stop();
});
