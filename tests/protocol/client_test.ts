import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  MAX_KEY_BYTES,
  MAX_KEYS_LIMIT,
  MAX_NESTING_DEPTH,
} from "../../lib/limits.ts";
import {
  ConnectionError,
  RequestTimeoutError,
  ServerClient,
  ServerError,
  type SpokenVersions,
  spokenVersions,
} from "../../lib/protocol/client.ts";
import {
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  type PutManyRefusal,
} from "../../lib/protocol/mod.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { AuthKeys } from "../../lib/protocol/auth.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import { Store, StoreFailedError } from "../../lib/server/store.ts";
import { int, object, str, type Value } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import {
  instrumentedStore,
  KEEP_ALIVE_IDLE_TIMEOUT_MS,
  outlastIdleTimeout,
  SHORT_TIMEOUT_MS,
  startServer,
} from "../helpers/in_process_server.ts";
import { nextTurn, waitFor, withDeadline } from "../helpers/wait.ts";
import { feedFrames } from "../helpers/frames.ts";
import { listenLoopback } from "../helpers/fixtures.ts";
import { overridden } from "../helpers/overridden.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { connectClient } from "../helpers/client.ts";
import { at, nextVersion } from "../helpers/versions.ts";

/**
 * A listener that accepts and then answers with `respond` (or never), to fake a broken server.
 * While a promise `respond` returns is pending, it reads nothing more, as a stalled server.
 */
function fakeServer(respond?: (conn: Deno.TcpConn, frameCount: number) => void | Promise<void>) {
  const listener = listenLoopback(async (conn) => {
    const reader = new FrameReader();
    const buffer = new Uint8Array(4096);
    let frameCount = 0;
    try {
      for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
        frameCount += feedFrames(reader, buffer.subarray(0, count)).length;
        await respond?.(conn, frameCount);
      }
    } catch {
      // The client hung up.
    }
  });
  return {
    address: { hostname: "127.0.0.1", port: listener.port },
    stop: () => listener.stop(),
  };
}

/** Appends the OK to HELLO (request 1) of a fake server taking frames of `maxFrameBytes`. */
function okHello(frames: FrameWriter, maxFrameBytes: number): void {
  frames.okHello(1, {
    version: PROTOCOL_VERSION,
    maxFrameBytes,
    idleTimeoutMs: 30_000,
    serverId: "0123456789abcdef",
    state: { unrepaired: false, k: 0, repairedUnder: new Uint8Array(16).fill(7) },
  });
}

/** Answers the first frame (HELLO) with OK, then stays silent. */
function helloThenSilence(conn: Deno.TcpConn, frameCount: number): void {
  if (frameCount !== 1) return;
  const frames = new FrameWriter();
  okHello(frames, 1024);
  conn.write(frames.bytes()).catch(() => {});
}

Deno.test("client runs every request type against a server", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  assert.equal(client.isOpen, true);
  assert.equal(client.maxFrameBytes, 16 * 1024 * 1024);
  const person: Value = object([["age", int(22)], ["name", str("Mary")]]);
  const written = at();
  assert.deepEqual(await client.put("person1", person, written), { kind: "stored" });
  assert.deepEqual(await client.put("person1", int(0), at({ overwrite: false })), {
    kind: "exists",
  });
  assert.deepEqual(await client.put("person1", int(0), written), {
    kind: "stale",
    version: written.version,
  });
  assert.deepEqual(await client.put("person1", int(0), { ...written, repair: true }), {
    kind: "stored",
  });
  assert.deepEqual(await client.putEncoded("person2", encodeValue(int(2)), at()), {
    kind: "stored",
  });
  assert.deepEqual(await client.get("person1"), { value: person, version: written.version });
  assert.deepEqual(await client.get("nobody"), { value: undefined, version: undefined });
  assert.deepEqual(await client.query(["person1", "age"]), {
    value: int(22),
    version: written.version,
  });
  assert.deepEqual(await client.query(["person1", "height"]), {
    value: undefined,
    version: written.version,
    miss: { reason: "no-field", segment: 1 },
  });
  assert.deepEqual(await client.query(["person1", "nmae"]), {
    value: undefined,
    version: written.version,
    miss: { reason: "no-field", segment: 1, closest: "name" },
  });
  assert.deepEqual(await client.query(["person1", "age", "years"]), {
    value: undefined,
    version: written.version,
    miss: { reason: "not-object", segment: 2, value: int(22) },
  });
  assert.deepEqual(await client.keys({ prefix: "person", limit: 1 }), ["person1"]);
  assert.deepEqual(await client.keys({ limit: 5, after: "person1" }), ["person2"]);
  // A DELETE names what it replaced: the record's version, then the tombstone's.
  const stored = (await client.get("person2")).version;
  const deleted = at();
  assert.deepEqual(await client.delete("person2", deleted), {
    kind: "deleted",
    existed: true,
    replaced: stored,
  });
  assert.deepEqual(await client.delete("person2", at()), {
    kind: "deleted",
    existed: false,
    replaced: deleted.version,
  });
  assert.deepEqual(await client.delete("never", at()), { kind: "deleted", existed: false });
  assert.deepEqual(await client.delete("never", { ...deleted, repair: true }), {
    kind: "deleted",
    existed: false,
  }, "a stale repair copy replaced nothing");
  assert.deepEqual(await client.delete("person2", deleted), {
    kind: "stale",
    version: (await client.get("person2")).version,
  });
  assert.deepEqual(await client.get("person2"), {
    value: undefined,
    version: (await client.get("person2")).version,
  });
  const stats = await client.stats();
  assert.equal(stats.recordCount, 1);
  assert.equal(stats.connectionCount, 1);
  assert.ok(await client.ping() >= 0);
  await client.close();
  assert.equal(client.isOpen, false);
  await assert.rejects(client.ping(), ConnectionError);
  await stop();
});

Deno.test("a batch of 1000 puts in one tick is answered in order over one connection", async () => {
  let commitCount = 0;
  const store = await Store.open();
  const { address, stop } = await startServer({
    store: instrumentedStore(store, {
      commit: () => (commitCount++, Promise.resolve()),
      // Never settled: every batch, a PING's too, then commits (a settled store lets a
      // batch that wrote nothing skip it), so commits count the batches.
      settled: false,
    }),
  });
  const client = await connectClient(address);
  commitCount = 0;
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, index) => client.put(`key${index}`, int(index), at())),
  );
  assert.ok(results.every((result) => result.kind === "stored"));
  assert.ok(commitCount <= 10, `${commitCount} commits: the batch was not coalesced`);
  const values = await Promise.all(
    Array.from({ length: 1000 }, (_, index) => client.get(`key${index}`)),
  );
  values.forEach((answer, index) => assert.deepEqual(answer.value, int(index)));
  await client.close();
  await stop();
});

Deno.test("client keeps at most maxInFlight requests in flight and queues the rest", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address, { maxInFlight: 4 });
  const puts = Array.from({ length: 100 }, (_, index) => client.put(`k${index}`, int(index), at()));
  assert.equal(client.inFlight, 4);
  assert.equal((await Promise.all(puts)).length, 100);
  assert.equal(client.inFlight, 0);
  assert.equal((await client.stats()).recordCount, 100);
  await client.close();
  await stop();
});

Deno.test("a request that waited for a slot and cannot be encoded (a caller's mistake) fails alone; the connection carries on", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address, { maxInFlight: 1 });
  const first = client.ping();
  // No slot is free: these wait, and are encoded only when the PING's answer frees one.
  const mistakes: Promise<unknown>[] = [
    client.put("k", int(1), at({ purge: true })),
    client.delete("k", at({ overwrite: false })),
  ];
  const after = client.put("k", int(2), at());
  for (const mistake of mistakes) {
    await assert.rejects(withDeadline(mistake, { what: "a mistaken request to fail" }), RangeError);
  }
  await withDeadline(Promise.all([first, after]), { what: "the requests around it" });
  assert.equal(client.isOpen, true);
  assert.deepEqual((await client.get("k")).value, int(2));
  await client.close();
  await stop();
});

Deno.test("requests made on an idle connection in one run of code share the lone request's write", async () => {
  const SENT = 3;
  const framesPerRead: number[] = [];
  let seen = 0;
  const allArrived = Promise.withResolvers<void>();
  const fake = fakeServer((connection, frameCount) => {
    framesPerRead.push(frameCount - seen);
    seen = frameCount;
    if (frameCount === 1) helloThenSilence(connection, frameCount);
    if (frameCount === 1 + SENT) allArrived.resolve();
  });
  const client = await connectClient(fake.address);
  for (let index = 0; index < SENT; index++) client.ping().catch(() => {});
  await withDeadline(allArrived.promise, { what: "the PINGs at the fake server" });
  assert.deepEqual(framesPerRead, [1, SENT], "HELLO alone, then the PINGs in one read");
  await client.close();
  await fake.stop();
});

Deno.test("requests made one turn apart while an earlier one awaits its answer are held, then all sent", async () => {
  const HELD = 9;
  let conn: Deno.TcpConn | undefined;
  let framesSeen = 0;
  let answeredUpTo = 1;
  const firstArrived = Promise.withResolvers<void>();
  const fake = fakeServer((connection, frameCount) => {
    conn = connection;
    framesSeen = frameCount;
    if (frameCount === 1) helloThenSilence(connection, frameCount);
    else if (frameCount === 2) firstArrived.resolve();
    // Once the first PING is answered, every later one is answered as it comes.
    if (answeredUpTo < 2) return;
    const frames = new FrameWriter();
    for (; answeredUpTo < frameCount; answeredUpTo++) frames.ok(answeredUpTo + 1);
    connection.write(frames.bytes()).catch(() => {});
  });
  const client = await connectClient(fake.address);
  const first = client.ping();
  await withDeadline(firstArrived.promise, { what: "the first PING at the fake server" });
  const held: Promise<number>[] = [];
  for (let index = 0; index < HELD; index++) {
    held.push(client.ping());
    await nextTurn();
  }
  // A request written at once would have reached the fake server (in this process) by
  // the turn after; a few more turns, so that its absence means it was held.
  for (let turn = 0; turn < 5; turn++) await nextTurn();
  assert.equal(framesSeen, 2, "a request went out while the first awaited its answer");
  const answer = new FrameWriter();
  answer.ok(2);
  answeredUpTo = 2;
  await conn!.write(answer.bytes());
  await withDeadline(Promise.all([first, ...held]), { what: "the answers to the held PINGs" });
  assert.equal(framesSeen, 2 + HELD);
  await client.close();
  await fake.stop();
});

Deno.test("a request held behind a slow answer still gets its whole request timeout, counted from when it was made", async () => {
  // Every answer but the late one comes at least half of it before its deadline, and the
  // late one half of it less LATE_MS: room for a test process stalled on a loaded machine.
  const TIMEOUT_MS = 4000;
  // The fake server answers the second held PING this long after the first one's deadline.
  const LATE_MS = 200;
  let conn: Deno.TcpConn | undefined;
  let framesSeen = 0;
  let firstHeldAt = 0;
  const fake = fakeServer((connection, frameCount) => {
    conn = connection;
    framesSeen = frameCount;
    helloThenSilence(connection, frameCount);
    if (frameCount !== 4) return;
    // The two held PINGs arrived: the first is answered at once, the second only after
    // the first one's deadline, well before its own.
    const first = new FrameWriter();
    first.ok(3);
    connection.write(first.bytes()).catch(() => {});
    setTimeout(() => {
      const second = new FrameWriter();
      second.ok(4);
      connection.write(second.bytes()).catch(() => {});
    }, firstHeldAt + TIMEOUT_MS + LATE_MS - performance.now());
  });
  const client = await ServerClient.connect(fake.address, { requestTimeoutMs: TIMEOUT_MS });
  const slow = client.ping();
  await waitFor(() => framesSeen === 2, { what: "the first PING at the fake server" });
  firstHeldAt = performance.now();
  const firstHeld = client.ping();
  await waitFor(() => performance.now() >= firstHeldAt + TIMEOUT_MS / 2, {
    what: "half a request timeout to pass",
  });
  assert.equal(framesSeen, 2, "the second PING was held while the first awaited its answer");
  const secondHeld = client.ping();
  const answer = new FrameWriter();
  answer.ok(2);
  await conn!.write(answer.bytes());
  await withDeadline(Promise.all([slow, firstHeld, secondHeld]), {
    what: "the answers to the three PINGs",
  });
  await client.close();
  await fake.stop();
});

Deno.test("requests queued behind earlier ones on a server that keeps answering are not timed out, though their answers come past the request timeout after they were sent", async () => {
  const TIMEOUT_MS = 1000;
  // Each answer comes this long after the one before: well within the timeout, while
  // the last comes twice the timeout after the requests were sent.
  const GAP_MS = TIMEOUT_MS / 2;
  const PINGS = 5;
  const fake = fakeServer(async (connection, frameCount) => {
    helloThenSilence(connection, frameCount);
    if (frameCount !== 1 + PINGS) return;
    for (let ping = 0; ping < PINGS; ping++) {
      await new Promise((resolve) => setTimeout(resolve, GAP_MS));
      const answer = new FrameWriter();
      answer.ok(2 + ping);
      await connection.write(answer.bytes());
    }
  });
  const client = await ServerClient.connect(fake.address, { requestTimeoutMs: TIMEOUT_MS });
  const pings = Array.from({ length: PINGS }, () => client.ping());
  await withDeadline(Promise.all(pings), { what: "the answers to the PINGs" });
  assert.equal(client.isOpen, true);
  await client.close();
  await fake.stop();
});

Deno.test("requests held while an earlier one awaits its answer go out without it once they gather 64 KiB", async () => {
  let framesSeen = 0;
  const fake = fakeServer((connection, frameCount) => {
    framesSeen = frameCount;
    if (frameCount !== 1) return;
    const frames = new FrameWriter();
    okHello(frames, 1024 * 1024);
    connection.write(frames.bytes()).catch(() => {});
  });
  const client = await connectClient(fake.address);
  const unanswered = client.ping();
  await waitFor(() => framesSeen === 2, { what: "the first PING at the fake server" });
  const held = client.ping();
  const items = new PutManyItems();
  items.add("big", encodeValue(str("x".repeat(64 * 1024))), nextVersion());
  const big = client.putMany(items);
  await waitFor(() => framesSeen === 4, {
    what: "the held PING and the 64 KiB PUT_MANY at the fake server, which never answers",
  });
  await client.close();
  for (const request of [unanswered, held, big] as Promise<unknown>[]) {
    await assert.rejects(withDeadline(request, { what: "a request to fail" }), /by the client/);
  }
  await fake.stop();
});

/**
 * A fake server for a write that stalls: it answers HELLO, then reads the first request
 * and nothing more until `resume` (a PUT_MANY of STALLED_WRITE_BYTES cannot be written
 * meanwhile); then it reads on and answers each request numbered in `answerOnArrival`.
 */
function stallingServer(answerOnArrival: readonly number[] = []) {
  let conn: Deno.TcpConn | undefined;
  let framesSeen = 0;
  const stalled = Promise.withResolvers<void>();
  let stalling = false;
  const fake = fakeServer((connection, frameCount) => {
    conn = connection;
    const frames = new FrameWriter();
    if (frameCount === 1) okHello(frames, DEFAULT_MAX_FRAME_BYTES);
    for (let id = framesSeen + 1; id <= frameCount; id++) {
      if (answerOnArrival.includes(id)) frames.ok(id);
    }
    framesSeen = frameCount;
    if (frames.length > 0) connection.write(frames.bytes()).catch(() => {});
    if (frameCount !== 2) return;
    stalling = true;
    return stalled.promise;
  });
  return {
    ...fake,
    /** The server's side of the connection. */
    get conn(): Deno.TcpConn {
      assert.ok(conn !== undefined, "a client connected");
      return conn;
    },
    get framesSeen(): number {
      return framesSeen;
    },
    /** Whether it has stopped reading, after the first request. */
    get stalling(): boolean {
      return stalling;
    },
    resume: () => stalled.resolve(),
  };
}

/**
 * A PUT_MANY this large (under the frame limit) is past the kernel's socket buffers (4 MiB
 * to send; the receiver's grow only as it reads): its write lasts until the server reads.
 */
const STALLED_WRITE_BYTES = 12 * 1024 * 1024;

/**
 * Sends a PUT_MANY of STALLED_WRITE_BYTES and waits for a turn: its write is then under
 * way. Resolves with the PUT_MANY's answer still to come (wrapped, not awaited).
 */
async function startStalledWrite(
  client: ServerClient,
): Promise<{ answer: Promise<PutManyRefusal[]> }> {
  const items = new PutManyItems();
  items.add("big", encodeValue(str("x".repeat(STALLED_WRITE_BYTES))), nextVersion());
  const answer = client.putMany(items);
  // Past 64 KiB, it is written at once, before the next turn.
  await nextTurn();
  return { answer };
}

Deno.test("a request held while a long write is under way goes out after it, also when every answer arrived meanwhile", async () => {
  const fake = stallingServer([4]);
  const client = await connectClient(fake.address);
  const first = client.ping();
  await waitFor(() => fake.stalling, { what: "the first PING at the fake server" });
  const big = (await startStalledWrite(client)).answer;
  const held = client.ping();
  // Both requests written are answered while their write is under way (were the
  // kernel's buffers larger, the held PING would go out on these answers instead).
  const answers = new FrameWriter();
  answers.ok(2);
  answers.okPutMany(3, []);
  await fake.conn.write(answers.bytes());
  assert.deepEqual(
    await withDeadline(Promise.all([first, big]).then(([, refusals]) => refusals), {
      what: "the answers to the PING and the PUT_MANY",
    }),
    [],
  );
  assert.equal(fake.framesSeen, 2, "the fake server read nothing more meanwhile");
  fake.resume();
  await withDeadline(held, { what: "the answer to the PING held during the write" });
  assert.equal(fake.framesSeen, 4);
  await client.close();
  await fake.stop();
});

Deno.test("closing the client while a write is stalled rejects the requests written and held as closed by the client", async () => {
  const fake = stallingServer();
  const client = await connectClient(fake.address);
  const first = client.ping();
  await waitFor(() => fake.stalling, { what: "the first PING at the fake server" });
  const big = (await startStalledWrite(client)).answer;
  const held = client.ping();
  await client.close();
  for (const request of [first, big, held] as Promise<unknown>[]) {
    await assert.rejects(withDeadline(request, { what: "a request to fail" }), /by the client/);
  }
  assert.match(client.closeReason!.message, /closed by the client/);
  fake.resume();
  await fake.stop();
});

Deno.test("requests held while an earlier one awaits its answer reject when the connection fails: the server hangs up, the client closes, the request times out", async () => {
  const cases: [RegExp, number, (client: ServerClient, conn: Deno.TcpConn) => void][] = [
    [/closed the connection/, 30_000, (_, conn) => conn.close()],
    [/closed by the client/, 30_000, (client) => client.close()],
    // Nothing to do: the fake server never answers, and 200 ms pass.
    [/no answer within 200 ms/, 200, () => {}],
  ];
  for (const [why, requestTimeoutMs, fail] of cases) {
    let conn: Deno.TcpConn | undefined;
    let framesSeen = 0;
    const fake = fakeServer((connection, frameCount) => {
      conn = connection;
      framesSeen = frameCount;
      helloThenSilence(connection, frameCount);
    });
    const client = await ServerClient.connect(fake.address, { requestTimeoutMs });
    const written = client.ping();
    await waitFor(() => framesSeen === 2, { what: "the first PING at the fake server" });
    const held: Promise<unknown>[] = [client.ping(), client.get("a"), client.stats()];
    fail(client, conn!);
    for (const request of [written, ...held]) {
      await assert.rejects(
        withDeadline(request, { what: `a request to fail (${why})` }),
        (error: unknown) => error instanceof ConnectionError && why.test(error.message),
      );
    }
    await withDeadline(client.closed, { what: "the client to close" });
    assert.equal(framesSeen, 2, `the held requests were never sent (${why})`);
    await fake.stop();
  }
});

Deno.test("ERROR answers reject with ServerError and leave the connection open", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  let tooDeep: Value = int(1);
  for (let level = 0; level <= MAX_NESTING_DEPTH; level++) tooDeep = object([["a", tooDeep]]);
  await assert.rejects(client.put("deep", tooDeep, at()), (error: unknown) => {
    assert.ok(error instanceof ServerError);
    assert.equal(error.code, ErrorCode.LIMIT);
    assert.equal(error.codeName, "LIMIT");
    return true;
  });
  await assert.rejects(client.putEncoded("bad", Uint8Array.from([9]), at()), /BAD_REQUEST/);
  assert.equal(client.isOpen, true);
  assert.deepEqual(await client.put("fine", int(1), at()), { kind: "stored" });
  await client.close();
  await stop();
});

/**
 * A memory store whose writes throw as a full disk's would (the server answers READ_ONLY, its
 * STATS says it refuses writes) while `failing.now` is set, and a server over it.
 */
async function serverOverFailingStore(failing: { now: boolean }) {
  const memory = await Store.open();
  const refuse = () => {
    if (failing.now) throw new StoreFailedError(new Error("ENOSPC: no space left on device"));
  };
  const store = overridden(memory, {
    get writable() {
      return !failing.now && memory.writable;
    },
    putEncoded: (...args: Parameters<Store["putEncoded"]>) => {
      refuse();
      return memory.putEncoded(...args);
    },
    putEncodedAt: (...args: Parameters<Store["putEncodedAt"]>) => {
      refuse();
      return memory.putEncodedAt(...args);
    },
    delete: (...args: Parameters<Store["delete"]>) => (refuse(), memory.delete(...args)),
    purge: (...args: Parameters<Store["purge"]>) => (refuse(), memory.purge(...args)),
  });
  return await startServer({ store });
}

Deno.test("a client keeps what its answers last said of the server taking writes: READ_ONLY to a PUT, DELETE or PUT_MANY says it refuses them; PUT EXISTS, DELETE NOT_FOUND and a PUT_MANY storing an item say it takes them; a STATS says which; a STALE, an aged purge's NOT_FOUND and a PUT_MANY whose items were all STALE, answered before the store is asked, tell nothing", async () => {
  const failing = { now: false };
  const { address, stop } = await serverOverFailingStore(failing);
  const client = await connectClient(address);
  const other = await connectClient(address);
  const farBehind = () => ({ version: { ms: Date.now() - 10 * 60_000, counter: 0, broker: 1 } });
  const allStale = new PutManyItems();
  allStale.add("late", encodeValue(int(1)), farBehind().version);
  const oneStored = new PutManyItems();
  oneStored.add("batch", encodeValue(int(1)), nextVersion());
  try {
    await other.put("held", int(1), at());
    assert.equal(other.refusesWrites, false, "a PUT stored");
    assert.equal(client.refusesWrites, undefined, "another connection's answer tells this none");
    // Answered before the store is asked, so they tell nothing, whatever it would say.
    const tellNothing = async (expected: boolean | undefined) => {
      assert.equal((await client.put("held", int(2), farBehind())).kind, "stale");
      assert.equal(client.refusesWrites, expected, "a PUT far behind the clock: STALE");
      const aged = { ...farBehind(), purge: true, aged: true };
      assert.deepEqual(await client.delete("never", aged), { kind: "deleted", existed: false });
      assert.equal(client.refusesWrites, expected, "an aged purge of nothing: NOT_FOUND");
      assert.deepEqual((await client.putMany(allStale)).map((refusal) => refusal.code), [
        ErrorCode.STALE,
      ]);
      assert.equal(client.refusesWrites, expected, "a PUT_MANY whose items were all STALE");
    };
    await tellNothing(undefined);
    assert.deepEqual(await client.put("held", int(2), at({ overwrite: false })), {
      kind: "exists",
    });
    assert.equal(client.refusesWrites, false, "a PUT answered EXISTS: the store was asked");

    failing.now = true;
    await assert.rejects(client.put("held", int(3), at()), /READ_ONLY/);
    assert.equal(client.refusesWrites, true, "a PUT answered READ_ONLY");
    await tellNothing(true);
    failing.now = false;
    assert.deepEqual(await client.delete("never", at()), { kind: "deleted", existed: false });
    assert.equal(client.refusesWrites, false, "a DELETE answered NOT_FOUND");
    failing.now = true;
    await assert.rejects(client.delete("held", at()), /READ_ONLY/);
    assert.equal(client.refusesWrites, true, "a DELETE answered READ_ONLY");
    failing.now = false;
    assert.deepEqual(await client.putMany(oneStored), []);
    assert.equal(client.refusesWrites, false, "a PUT_MANY that stored an item");
    failing.now = true;
    await assert.rejects(client.putMany(oneStored), /READ_ONLY/);
    assert.equal(client.refusesWrites, true, "a PUT_MANY answered READ_ONLY");
    failing.now = false;
    assert.equal((await client.stats()).readOnly, false);
    assert.equal(client.refusesWrites, false, "a STATS taking writes");
    failing.now = true;
    assert.equal((await client.stats()).readOnly, true);
    assert.equal(client.refusesWrites, true, "a STATS refusing them");
  } finally {
    await client.close();
    await other.close();
    await stop();
  }
});

Deno.test("client refuses invalid arguments and oversized values without sending them", async () => {
  const { address, stop } = await startServer({ maxFrameBytes: 1024 });
  const client = await connectClient(address);
  await assert.rejects(client.get("a.b"), RangeError);
  await assert.rejects(client.put("k".repeat(MAX_KEY_BYTES + 1), int(1), at()), RangeError);
  await assert.rejects(client.query([]), RangeError);
  await assert.rejects(client.keys({ limit: MAX_KEYS_LIMIT + 1 }), RangeError);
  await assert.rejects(client.put("big", str("x".repeat(2000)), at()), (error: unknown) => {
    assert.ok(error instanceof ServerError && error.code === ErrorCode.TOO_LARGE);
    return true;
  });
  assert.equal(client.isOpen, true);
  assert.deepEqual(await client.put("small", str("x"), at()), { kind: "stored" });
  await client.close();
  await stop();
});

Deno.test("connect fails with ConnectionError when nothing listens, in words without the OS's error number", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    connectClient({ hostname: "127.0.0.1", port }),
    (error: unknown) =>
      error instanceof ConnectionError &&
      error.message === `cannot connect to 127.0.0.1:${port}: Connection refused`,
  );
});

Deno.test("connect's error names an IPv6 server as [::1]:port, as server ids do", async () => {
  const listener = Deno.listen({ hostname: "::1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    connectClient({ hostname: "::1", port }),
    (error: unknown) =>
      error instanceof ConnectionError &&
      error.message === `cannot connect to [::1]:${port}: Connection refused`,
  );
});

Deno.test("connect fails with ConnectionError when the server never answers HELLO, with no hint of TLS: a hung server is not a TLS one", async () => {
  const fake = fakeServer();
  await assert.rejects(
    ServerClient.connect(fake.address, { connectTimeoutMs: 100 }),
    (error: unknown) =>
      error instanceof ConnectionError &&
      /took the connection, but HELLO got no answer within 100 ms/.test(error.message) &&
      !/TLS/.test(error.message),
  );
  await fake.stop();
});

Deno.test("connect refuses a server whose HELLO announces frames larger than any kv server takes: its answers would be held up to that size", async () => {
  const announcing = (maxFrameBytes: number) =>
    fakeServer((conn, frameCount) => {
      if (frameCount !== 1) return;
      const frames = new FrameWriter();
      okHello(frames, maxFrameBytes);
      conn.write(frames.bytes()).catch(() => {});
    });
  const rogue = announcing(0xffff_ffff);
  await assert.rejects(
    ServerClient.connect(rogue.address),
    (error: unknown) =>
      error instanceof ConnectionError &&
      error.message === `cannot connect to 127.0.0.1:${rogue.address.port}: its HELLO announces ` +
          `frames of up to 4294967295 bytes, more than any kv server takes (${MAX_FRAME_BYTES_LIMIT})`,
  );
  await rogue.stop();
  const largest = announcing(MAX_FRAME_BYTES_LIMIT);
  const client = await ServerClient.connect(largest.address);
  assert.equal(client.maxFrameBytes, MAX_FRAME_BYTES_LIMIT);
  await client.close();
  await largest.stop();
});

Deno.test("an authenticating client takes the server's id, state and limits from the welcome that follows its answer, and refuses a second challenge, an unknown form or a welcome of another version; a client without an auth file refuses a challenge", async () => {
  const auth = await AuthKeys.fromSecrets([new Uint8Array(32).fill(7)]);
  const challenge = new Uint8Array(32).fill(0xaa);
  // HELLO's challenge to the first HELLO, `second` to the answer.
  const challenging = (second: (frames: FrameWriter) => void) =>
    fakeServer((conn, frameCount) => {
      const frames = new FrameWriter();
      if (frameCount === 1) frames.okHelloChallenge(1, { version: PROTOCOL_VERSION, challenge });
      else if (frameCount === 2) second(frames);
      else return;
      conn.write(frames.bytes()).catch(() => {});
    });
  const repairedUnder = new Uint8Array(16).fill(3);
  // The welcome to the answer, speaking `version`.
  const welcome = (version: number) => (frames: FrameWriter) =>
    frames.okHello(2, {
      version,
      maxFrameBytes: 2048,
      idleTimeoutMs: 30_000,
      serverId: "fedcba9876543210",
      state: { unrepaired: false, k: 3, repairedUnder },
    });
  const welcoming = challenging(welcome(PROTOCOL_VERSION));
  const client = await ServerClient.connect(welcoming.address, { credentials: { auth } });
  assert.equal(client.serverId, "fedcba9876543210");
  assert.deepEqual(client.state, { unrepaired: false, k: 3, repairedUnder });
  assert.equal(client.maxFrameBytes, 2048);
  await client.close();
  // Without a secret there is nothing to answer with: no second HELLO, whatever would follow.
  await assert.rejects(
    ServerClient.connect(welcoming.address),
    /AUTH_REQUIRED: the server requires an auth file/,
  );
  await welcoming.stop();
  const otherVersion = challenging(welcome(PROTOCOL_VERSION - 1));
  await assert.rejects(
    ServerClient.connect(otherVersion.address, { credentials: { auth } }),
    new RegExp(`answered HELLO with protocol version ${PROTOCOL_VERSION - 1}`),
  );
  await otherVersion.stop();
  const again = challenging((frames) =>
    frames.okHelloChallenge(2, { version: PROTOCOL_VERSION, challenge })
  );
  await assert.rejects(
    ServerClient.connect(again.address, { credentials: { auth } }),
    /a second challenge in HELLO/,
  );
  await again.stop();
  const unknownForm = challenging((frames) =>
    frames.frame(MessageType.OK, 2, Uint8Array.of(0, PROTOCOL_VERSION, 2))
  );
  await assert.rejects(
    ServerClient.connect(unknownForm.address, { credentials: { auth } }),
    /unknown HELLO answer form 0x02/,
  );
  await unknownForm.stop();
});

Deno.test("a server hanging up on HELLO without a byte is hinted to be a kv server stopping, a proxy whose server is down or a TLS server; one hanging up after its challenge is not: it spoke kv", async () => {
  const auth = await AuthKeys.fromSecrets([new Uint8Array(32).fill(7)]);
  const challenge = new Uint8Array(32).fill(0xaa);
  const hangingUp = fakeServer((conn) => conn.close());
  await assert.rejects(
    ServerClient.connect(hangingUp.address, { credentials: { auth } }),
    /closed the connection before answering HELLO \(a kv server stopping, a proxy whose server is down, or a TLS server: reach a TLS server with --tls-ca\)$/,
  );
  await hangingUp.stop();
  const challengingThenHangingUp = fakeServer(async (conn, frameCount) => {
    if (frameCount > 1) return conn.close();
    const frames = new FrameWriter();
    frames.okHelloChallenge(1, { version: PROTOCOL_VERSION, challenge });
    await conn.write(frames.bytes());
  });
  await assert.rejects(
    ServerClient.connect(challengingThenHangingUp.address, { credentials: { auth } }),
    (error: Error) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /closed the connection$/);
      return true;
    },
  );
  await challengingThenHangingUp.stop();
});

Deno.test("a request timeout rejects with RequestTimeoutError and closes the connection", async () => {
  const fake = fakeServer(helloThenSilence);
  const client = await ServerClient.connect(fake.address, { requestTimeoutMs: 100 });
  const first = client.get("a");
  const second = client.get("b");
  await assert.rejects(first, RequestTimeoutError);
  await assert.rejects(second, ConnectionError);
  await withDeadline(client.closed, { what: "the client to close" });
  assert.equal(client.isOpen, false);
  assert.ok(client.closeReason instanceof RequestTimeoutError);
  await fake.stop();
});

Deno.test("the server going away rejects every pending request with ConnectionError", async () => {
  const fake = fakeServer(helloThenSilence);
  const client = await connectClient(fake.address, { requestTimeoutMs: 5000 });
  const pending = [client.get("a"), client.put("b", int(1), at()), client.stats()];
  await waitFor(() => client.inFlight === 3, { what: "requests in flight" });
  await fake.stop();
  for (const request of pending) await assert.rejects(request, ConnectionError);
  await withDeadline(client.closed, { what: "the client to close" });
  assert.match(client.closeReason!.message, /closed the connection/);
});

Deno.test("the server's idle timeout closes a quiet client without keep-alive", async () => {
  const { address, stop } = await startServer({ idleTimeoutMs: SHORT_TIMEOUT_MS });
  const client = await connectClient(address, { keepAliveMs: 0 });
  await withDeadline(client.closed, { what: "the server to close the idle client" });
  assert.match(client.closeReason!.message, /IDLE_TIMEOUT/);
  await stop();
});

Deno.test("keep-alive pings hold a quiet connection open past the server's idle timeout", async () => {
  let commitCount = 0;
  const store = await Store.open();
  const { address, stop } = await startServer({
    idleTimeoutMs: KEEP_ALIVE_IDLE_TIMEOUT_MS,
    store: instrumentedStore(store, {
      commit: () => (commitCount++, Promise.resolve()),
      // Never settled: every batch, a PING's too, then commits (a settled store lets a
      // batch that wrote nothing skip it), so commits count the batches.
      settled: false,
    }),
  });
  // The default keep-alive: a third of the idle timeout the server announces.
  const client = await connectClient(address);
  const commitsAtConnect = commitCount;
  await outlastIdleTimeout(address);
  assert.equal(client.isOpen, true);
  // Each keep-alive PING is one batch, so one commit here.
  assert.ok(commitCount > commitsAtConnect, "the client pinged while quiet");
  assert.deepEqual(await client.put("still", int(1), at()), { kind: "stored" });
  await client.close();
  await stop();
});

Deno.test("putMany lets the caller reuse its items at once, also when the batch waits for a slot", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address, { maxInFlight: 1 });
  const items = new PutManyItems();
  const answers: Promise<PutManyRefusal[]>[] = [];
  for (let batch = 0; batch < 5; batch++) {
    for (let index = 0; index < 3; index++) {
      items.add(`k${batch}-${index}`, encodeValue(int(batch * 10 + index)), nextVersion());
    }
    answers.push(client.putMany(items));
    // What the indexer does with its batch: the next one overwrites it.
    items.reset();
    items.add("overwritten", encodeValue(str("x".repeat(40))), nextVersion());
    items.reset();
  }
  assert.deepEqual(await Promise.all(answers), Array(5).fill([]));
  for (let batch = 0; batch < 5; batch++) {
    for (let index = 0; index < 3; index++) {
      assert.deepEqual((await client.get(`k${batch}-${index}`)).value, int(batch * 10 + index));
    }
  }
  assert.equal((await client.get("overwritten")).value, undefined);
  await client.close();
  await stop();
});

Deno.test("putMany stores the good items and lists each refused one with its index, code and reason (a stale one with the version held; a stale repair item not at all)", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  await client.put("taken", int(0), at());
  const newer = at();
  await client.put("newer", int(0), newer);
  const items = new PutManyItems();
  items.add("first", encodeValue(int(1)), nextVersion());
  items.add("taken", encodeValue(int(2)), nextVersion(), { overwrite: false });
  items.add("a.b", encodeValue(int(3)), nextVersion());
  items.add("bad-value", new Uint8Array([0x7f]), nextVersion());
  items.add("last", encodeValue(int(5)), nextVersion());
  items.add("newer", encodeValue(int(6)), newer.version);
  items.add("newer", encodeValue(int(7)), newer.version, { repair: true });
  const refusals = await client.putMany(items);
  assert.deepEqual(
    refusals.map(({ index, code }) => [index, code]),
    [
      [1, ErrorCode.EXISTS],
      [2, ErrorCode.BAD_REQUEST],
      [3, ErrorCode.BAD_REQUEST],
      [5, ErrorCode.STALE],
    ],
  );
  assert.match(refusals[0].message, /taken/);
  assert.match(refusals[1].message, /contains '\.'/);
  assert.match(refusals[2].message, /unknown value tag/);
  assert.deepEqual(refusals[3].version, newer.version, "a stale item carries the version held");
  assert.deepEqual((await client.get("first")).value, int(1));
  assert.deepEqual((await client.get("taken")).value, int(0));
  assert.equal((await client.get("bad-value")).value, undefined);
  assert.deepEqual((await client.get("last")).value, int(5));
  assert.deepEqual((await client.get("newer")).value, int(0), "stale items change nothing");
  await client.close();
  await stop();
});

Deno.test("putMany refuses an empty batch and one over the server's frame limit before sending, and fails with the connection", async () => {
  const { address, stop } = await startServer({ maxFrameBytes: 64 });
  const client = await connectClient(address);
  const items = new PutManyItems();
  await assert.rejects(client.putMany(items), RangeError);
  items.add("big", encodeValue(str("x".repeat(100))), nextVersion());
  await assert.rejects(
    client.putMany(items),
    (error: unknown) =>
      error instanceof ServerError && error.code === ErrorCode.TOO_LARGE &&
      /over the server's limit of 64/.test(error.message),
  );
  assert.equal(client.isOpen, true);
  items.reset();
  items.add("small", encodeValue(int(1)), nextVersion());
  assert.deepEqual(await client.putMany(items), []);
  client.close();
  await assert.rejects(client.putMany(items), ConnectionError);
  await stop();
});

/** Answers HELLO, then each later request (one per frame) with an OK of `bodyBytes`. */
function oversizedAnswers(bodyBytes: number) {
  return (conn: Deno.TcpConn, frameCount: number) => {
    const frames = new FrameWriter();
    if (frameCount === 1) {
      okHello(frames, 64 * 1024);
    } else {
      frames.frame(MessageType.OK, frameCount, new Uint8Array(bodyBytes));
    }
    conn.write(frames.bytes()).catch(() => {});
  };
}

Deno.test("an answer longer than its request can produce closes the connection", async () => {
  const cases: [number, (client: ServerClient) => Promise<unknown>][] = [
    // PING's OK is empty: anything past an ERROR's size is too much.
    [64 * 1024, (client) => client.ping()],
    // KEYS with limit 1: one key of at most 1024 bytes (or an ERROR of at most 4102).
    [8 * 1024, (client) => client.keys({ prefix: "", limit: 1 })],
    // GET: the record's 12-byte version, then a value of at most the frame limit (64 KiB here).
    [64 * 1024 + 12 + 1, (client) => client.get("person1")],
  ];
  for (const [bodyBytes, ask] of cases) {
    const fake = fakeServer(oversizedAnswers(bodyBytes));
    const client = await connectClient(fake.address);
    await assert.rejects(ask(client), (error: Error) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.match(error.message, /protocol error: frame body of \d+ bytes is over the limit/);
      return true;
    });
    assert.equal(client.isOpen, false);
    await fake.stop();
  }
});

/**
 * After HELLO, answers the first two of three GETs (requests 2 and 3) with `values`, and
 * then sends `broken` (request 4's answer, or a frame in its place) in the same write.
 */
function twoAnswersThenBroken(values: readonly Value[], broken: (frames: FrameWriter) => void) {
  const version = { ms: 1_700_000_000_000, counter: 1, broker: 2 };
  return (conn: Deno.TcpConn, frameCount: number) => {
    const frames = new FrameWriter();
    if (frameCount === 1) okHello(frames, 64 * 1024);
    else if (frameCount === 4) {
      values.forEach((value, at) =>
        frames.okIfFound(2 + at, version, (out) => (out.raw(encodeValue(value)), true))
      );
      broken(frames);
    } else return;
    conn.write(frames.bytes()).catch(() => {});
  };
}

Deno.test("answers that arrive in one read before a broken frame still settle their requests; the rest fail with the connection", async () => {
  const values = [object([["name", str("Mary")]]), int(-(2 ** 31))];
  const cases: [string, (frames: FrameWriter) => void, RegExp][] = [
    // The reader refuses the header before any of the body arrives.
    [
      "too large",
      (frames) => frames.frame(MessageType.OK, 4, new Uint8Array(64 * 1024 + 13)),
      /over the limit/,
    ],
    // The frame is whole, but answers a request that was never the oldest.
    ["out of order", (frames) => frames.notFound(9), /answer to request 9 while 4 is the oldest/],
  ];
  for (const [name, broken, reason] of cases) {
    const fake = fakeServer(twoAnswersThenBroken(values, broken));
    const client = await connectClient(fake.address);
    const reads = ["person1", "person2", "person3"].map((key) => client.get(key));
    assert.deepEqual((await reads[0]).value, values[0], name);
    assert.deepEqual((await reads[1]).value, values[1], name);
    await assert.rejects(reads[2], (error: Error) => {
      assert.ok(error instanceof ConnectionError, `${name}: ${error}`);
      assert.match(error.message, reason, name);
      return true;
    });
    assert.equal(client.isOpen, false, name);
    await fake.stop();
  }
});

Deno.test("a GET answered NOT_FOUND with a query path's miss is refused as a malformed answer", async () => {
  const version = { ms: 1_700_000_000_000, counter: 1, broker: 2 };
  const fake = fakeServer((conn, frameCount) => {
    const frames = new FrameWriter();
    if (frameCount === 1) okHello(frames, 64 * 1024);
    else frames.notFound(frameCount, version, { reason: "no-field", segment: 1 });
    conn.write(frames.bytes()).catch(() => {});
  });
  const client = await connectClient(fake.address);
  await assert.rejects(client.get("person1"), /a GET's NOT_FOUND carries a query path's miss/);
  assert.deepEqual(await client.query(["person1", "x"]), {
    value: undefined,
    version,
    miss: { reason: "no-field", segment: 1 },
  });
  client.close();
  await fake.stop();
});

Deno.test("a QUERY's NOT_FOUND whose miss lies past the path asked is refused as a malformed answer", async () => {
  const version = { ms: 1_700_000_000_000, counter: 1, broker: 2 };
  // A server that names segment 2 of every path: the path ["person1", "x"] has no segment 2.
  const fake = fakeServer((conn, frameCount) => {
    const frames = new FrameWriter();
    if (frameCount === 1) okHello(frames, 64 * 1024);
    else if (frameCount === 2) frames.notFound(2, version, { reason: "no-field", segment: 2 });
    else frames.notFound(frameCount, version, { reason: "not-object", segment: 2, value: int(22) });
    conn.write(frames.bytes()).catch(() => {});
  });
  const client = await connectClient(fake.address);
  await assert.rejects(client.query(["person1", "x"]), /miss at segment 2 of a path of 2/);
  await assert.rejects(client.query(["person1", "x"]), /miss at segment 2 of a path of 2/);
  // Within the path, the same miss is the answer.
  assert.deepEqual(await client.query(["person1", "age", "x"]), {
    value: undefined,
    version,
    miss: { reason: "not-object", segment: 2, value: int(22) },
  });
  client.close();
  await fake.stop();
});

Deno.test("a value getEncoded answered stays as it was while later answers are read into the same buffer", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  // Values of different sizes, so that answers straddle reads at different places.
  const valueOf = (n: number): Value =>
    object([["n", int(n)], ["pad", str("x".repeat(n * 37 % 3000))]]);
  const keys = Array.from({ length: 300 }, (_, n) => `person${n}`);
  await Promise.all(keys.map((key, n) => client.put(key, valueOf(n), at())));
  const first = await Promise.all(keys.map((key) => client.getEncoded(key)));
  // A second round of answers reuses the client's read buffer.
  const second = await Promise.all(keys.toReversed().map((key) => client.getEncoded(key)));
  keys.forEach((_, n) => {
    assert.deepEqual(first[n].encoded, encodeValue(valueOf(n)), `first read of ${n}`);
    assert.deepEqual(
      second[keys.length - 1 - n].encoded,
      encodeValue(valueOf(n)),
      `second of ${n}`,
    );
  });
  await client.close();
  await stop();
});

Deno.test("values two connections answered stay as they were while both go on reading: they copy answers into one slab", async () => {
  const { address, stop } = await startServer();
  const clients = [await connectClient(address), await connectClient(address)];
  // Small answers, so that each read's are copied into the slab rather than apart.
  const valueOf = (n: number): Value => object([["n", int(n)], ["pad", str("y".repeat(n % 40))]]);
  const keys = Array.from({ length: 400 }, (_, n) => `person${n}`);
  await Promise.all(keys.map((key, n) => clients[n % 2].put(key, valueOf(n), at())));
  // Both connections read at once, round after round, keeping every answer: their
  // answers land in the slab interleaved, later ones after earlier ones.
  const kept: { side: number; n: number; encoded: Uint8Array | undefined }[] = [];
  for (let round = 0; round < 4; round++) {
    await Promise.all(clients.map(async (client, side) => {
      const ns = keys.map((_, n) => n).filter((n) => n % 4 === (round + side) % 4);
      const answers = await Promise.all(ns.map((n) => client.getEncoded(keys[n])));
      answers.forEach((answer, at) => kept.push({ side, n: ns[at], encoded: answer.encoded }));
    }));
  }
  assert.equal(kept.length, 2 * keys.length);
  for (const { side, n, encoded } of kept) {
    assert.deepEqual(encoded, encodeValue(valueOf(n)), `connection ${side}: ${keys[n]}`);
  }
  for (const client of clients) await client.close();
  await stop();
});

Deno.test("thousands of answers arriving in one read each settle their own request, and the connection carries on", async () => {
  const version = { ms: 1_700_000_000_000, counter: 1, broker: 2 };
  // The client notes every answer of a read before handing them over, and lets the notes
  // of a read this big go afterwards: the next read's answers must not be mixed up.
  const rounds = [3000, 10];
  const totals = [1, 1 + rounds[0], 1 + rounds[0] + rounds[1]];
  let answered = 0;
  const fake = fakeServer((conn, frameCount) => {
    if (!totals.includes(frameCount) || frameCount <= answered) return;
    const frames = new FrameWriter();
    for (let id = answered + 1; id <= frameCount; id++) {
      if (id === 1) okHello(frames, 64 * 1024);
      else frames.okIfFound(id, version, (out) => (out.raw(encodeValue(int(id))), true));
    }
    answered = frameCount;
    conn.write(frames.bytes()).catch(() => {});
  });
  const client = await connectClient(fake.address);
  let id = 2;
  for (const count of rounds) {
    const reads = Array.from({ length: count }, (_, n) => client.getEncoded(`person${n}`));
    const answers = await Promise.all(reads);
    answers.forEach((answer, n) => {
      assert.deepEqual(answer.encoded, encodeValue(int(id + n)), `request ${id + n}`);
      assert.deepEqual(answer.version, version);
    });
    id += count;
  }
  assert.equal(client.isOpen, true);
  await client.close();
  await fake.stop();
});

Deno.test("a server at its connection limit refuses with BUSY, and the connect error does not guess at TLS: the server spoke kv", async () => {
  const { address, stop } = await startServer({ maxConnections: 1 });
  const holder = await ServerClient.connect(address);
  try {
    const refused = await ServerClient.connect(address).then(
      () => assert.fail("a second connection was accepted past the limit of 1"),
      (error) => error,
    );
    assert.ok(refused instanceof ConnectionError, String(refused));
    assert.match(refused.message, /BUSY: too many connections \(limit 1\); try again later$/);
    assert.doesNotMatch(refused.message, /TLS/);
  } finally {
    await holder.close();
    await stop();
  }
});

Deno.test("spokenVersions reads the versions a server's UNSUPPORTED_VERSION names in every kv's words so far, and none from words naming no version a HELLO could carry", () => {
  const refused = `protocol version ${PROTOCOL_VERSION} is not supported; `;
  const read: [string, SpokenVersions | undefined][] = [
    ["this server speaks version 8 only: upgrade the older of the two", { lowest: 8, highest: 8 }],
    ["this server speaks 1 to 2", { lowest: 1, highest: 2 }],
    ["this server speaks 1", { lowest: 1, highest: 1 }],
    ["this server speaks version 65535 only", { lowest: 65535, highest: 65535 }],
    // More than a u16, six digits, a range upside down, or no versions at all.
    ["this server speaks version 65536 only", undefined],
    ["this server speaks version 123456 only", undefined],
    ["this server speaks 3 to 2", undefined],
    ["ask again later", undefined],
  ];
  for (const [words, versions] of read) {
    assert.deepEqual(spokenVersions(refused + words), versions, words);
  }
});
