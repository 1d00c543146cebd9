/**
 * ServerPool.send: every attempt is settled once, never inside `send`, on every path
 * (an answer, an ERROR answer, a malformed answer, a timeout, a connection closed under
 * the request and sent again on a fresh one, a caller's mistake, a server down), and
 * only the server's own failures mark it down. Real sockets: a scripted server speaks
 * the protocol, answering each request as the test says.
 */
import assert from "node:assert/strict";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { ErrorCode, type Frame, MessageType, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";
import type { EncodedRead } from "../../lib/protocol/mod.ts";
import { serverAddress } from "../../lib/broker/server_list.ts";
import {
  type CallOutcome,
  type Connector,
  connectServerClient,
  CredentialsRefusedError,
  type PoolRequest,
  RECONNECT_ON_DEMAND_MS,
  ServerPool,
  settleFrom,
} from "../../lib/broker/server_pool.ts";
import {
  ConnectionError,
  RequestTimeoutError,
  ServerClient,
  ServerError,
} from "../../lib/protocol/client.ts";
import { feedFrames } from "../helpers/frames.ts";
import { listenLoopback } from "../helpers/fixtures.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

/** How the scripted server answers a request other than HELLO. */
type Answer = "not-found" | "error" | "malformed" | "close" | "silent";

/**
 * A server on 127.0.0.1 that answers HELLO and PING, and each other request as `script` says,
 * given the number of the connection (1 for the first accepted).
 */
function scriptedServer(script: (connection: number, frame: Frame) => Answer) {
  const listener = listenLoopback(serve);
  async function serve(conn: Deno.TcpConn, connection: number): Promise<void> {
    const reader = new FrameReader();
    const buffer = new Uint8Array(4096);
    try {
      for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
        const frames = new FrameWriter();
        for (const frame of feedFrames(reader, buffer.subarray(0, count))) {
          if (frame.type === MessageType.HELLO) {
            frames.okHello(frame.requestId, {
              version: PROTOCOL_VERSION,
              maxFrameBytes: 64 * 1024,
              idleTimeoutMs: 60_000,
              serverId: "0123456789abcdef",
              state: { unrepaired: false, k: 0, repairedUnder: new Uint8Array(16).fill(7) },
            });
            continue;
          }
          if (frame.type === MessageType.PING) {
            frames.ok(frame.requestId);
            continue;
          }
          const answer = script(connection, frame);
          if (answer === "close") {
            conn.close();
            return;
          }
          if (answer === "not-found") frames.notFound(frame.requestId);
          if (answer === "error") frames.error(frame.requestId, ErrorCode.INTERNAL, "disk on fire");
          // An OK to a GET is a version and a value: two bytes are neither.
          if (answer === "malformed") {
            frames.frame(MessageType.OK, frame.requestId, new Uint8Array(2));
          }
        }
        if (frames.length > 0) await conn.write(frames.bytes());
      }
    } catch {
      // The client hung up, or the test closed the connection.
    }
  }
  return { server: serverAddress("127.0.0.1", listener.port), stop: () => listener.stop() };
}

/** A port nothing listens on (it was just freed). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Outcomes handed over by {@link sendOnce}: all, inside `send`, and with a wrong tag. */
interface Outcomes {
  count: number;
  insideSend: number;
  wrongTag: number;
}

function noOutcomes(): Outcomes {
  return { count: 0, insideSend: 0, wrongTag: 0 };
}

/** Asserts that `outcomes` are `count` outcomes, each handed over after send returned. */
function assertOutcomes(outcomes: Outcomes, count: number): void {
  assert.deepEqual(outcomes, { count, insideSend: 0, wrongTag: 0 });
}

/**
 * Sends `request` to server `index` of `pool` and resolves with its first outcome;
 * `outcomes` counts every outcome handed over, and those handed over inside `send`.
 */
function sendOnce<T>(
  pool: ServerPool,
  index: number,
  request: PoolRequest<T>,
  outcomes: Outcomes,
): Promise<CallOutcome<T>> {
  const { promise, resolve } = Promise.withResolvers<CallOutcome<T>>();
  let inSend = true;
  // Noted rather than asserted here: what onOutcome throws would not reach the test.
  pool.send(index, request, (outcome, tag) => {
    outcomes.count++;
    if (inSend) outcomes.insideSend++;
    if (tag !== 7) outcomes.wrongTag++;
    resolve(outcome);
  }, 7);
  inSend = false;
  return withDeadline(promise, { what: "the request's outcome" });
}

const read: PoolRequest<EncodedRead> = (connection, settle) =>
  connection.getEncodedTo("person1", settle);

/** Waits until the pool has answered a PING on server `index`: outcomes due by then are in. */
async function roundTrip(pool: ServerPool, index: number): Promise<void> {
  await withDeadline(pool.call(index, (connection) => connection.ping()), { what: "a ping" });
}

Deno.test("ServerPool.send settles an answer, an ERROR answer, a malformed answer and a caller's mistake once each, after send returns; none marks the server down", async () => {
  const answers: Answer[] = ["not-found", "error", "malformed"];
  let next = 0;
  const fake = scriptedServer(() => answers[next++]);
  const pool = new ServerPool([fake.server], { timeoutMs: 10_000 });
  const downs: string[] = [];
  try {
    await pool.start();
    const outcomes = noOutcomes();
    const found = await sendOnce(pool, 0, read, outcomes);
    assert.ok(found.ok);
    assert.equal(found.value.encoded, undefined);
    const refused = await sendOnce(pool, 0, read, outcomes);
    assert.ok(!refused.ok && !refused.unreachable);
    assert.match(refused.error, /disk on fire/);
    const malformed = await sendOnce(pool, 0, read, outcomes);
    assert.ok(!malformed.ok && !malformed.unreachable, JSON.stringify(malformed));
    const badKey = await sendOnce(pool, 0, (c, settle) => c.getEncodedTo("", settle), outcomes);
    assert.ok(!badKey.ok && !badKey.unreachable, JSON.stringify(badKey));
    const badPath = await sendOnce(pool, 0, (c, settle) => c.queryEncodedTo([], settle), outcomes);
    assert.ok(!badPath.ok && !badPath.unreachable, JSON.stringify(badPath));
    const thrown = await sendOnce(pool, 0, () => {
      throw new RangeError("a request that throws");
    }, outcomes);
    assert.ok(!thrown.ok && !thrown.unreachable);
    assert.match(thrown.error, /a request that throws/);
    await roundTrip(pool, 0);
    assertOutcomes(outcomes, 6);
    assert.equal(pool.isUp(0), true, pool.downReason(0));
    assert.deepEqual(downs, []);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("ServerPool.send sends a request once more on a fresh connection when the first closed under it, and settles it once", async () => {
  // The first connection hangs up on the GET; the second answers it.
  const fake = scriptedServer((connection) => connection === 1 ? "close" : "not-found");
  const pool = new ServerPool([fake.server], { timeoutMs: 10_000 });
  try {
    await pool.start();
    const first = pool.connection(0);
    const outcomes = noOutcomes();
    const outcome = await sendOnce(pool, 0, read, outcomes);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.notEqual(outcome.connection, first, "answered on the fresh connection");
    await roundTrip(pool, 0);
    assertOutcomes(outcomes, 1);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("a server whose connection closed under a request stays reachable while the pool reconnects, and the next request waits for the reconnect; one that timed out does not", async () => {
  const fake = scriptedServer(() => "not-found");
  const pool = new ServerPool([fake.server], { timeoutMs: 10_000 });
  try {
    await pool.start();
    // A server closing its connections on purpose (a repair changed its mark) is no outage:
    // writes walking the list must not skip it while it reconnects.
    pool.fail(0, pool.connection(0)!, new ConnectionError("server closed the connection"));
    assert.equal(pool.isUp(0), false);
    assert.equal(pool.isReachable(0), true);
    const outcomes = noOutcomes();
    const outcome = await sendOnce(pool, 0, read, outcomes);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(pool.isUp(0), true);
    // A timeout says the server may hang: the next requests skip it until it is back.
    pool.fail(0, pool.connection(0)!, new RequestTimeoutError("no answer in 10000 ms"));
    assert.equal(pool.isReachable(0), false);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("ServerPool.send settles every request of a batch once when the connection closes under all of them and again under their second attempt", async () => {
  // Every connection hangs up on the first request it reads: each request's second
  // attempt fails too, and is then the outcome.
  const fake = scriptedServer(() => "close");
  const pool = new ServerPool([fake.server], { timeoutMs: 10_000 });
  try {
    await pool.start();
    const outcomes = noOutcomes();
    const all = await Promise.all(
      Array.from({ length: 20 }, () => sendOnce(pool, 0, read, outcomes)),
    );
    for (const outcome of all) assert.ok(!outcome.ok && outcome.unreachable);
    assertOutcomes(outcomes, 20);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("ServerPool.send settles a request that times out once, without sending it again, and marks the server down", async () => {
  let sent = 0;
  const fake = scriptedServer(() => (sent++, "silent"));
  // Long enough for a loaded machine to connect within it (connects share the timeout).
  const pool = new ServerPool([fake.server], { timeoutMs: 2_000 });
  try {
    await pool.start();
    const up = (async () => {
      while (!pool.isUp(0)) await pool.changed();
    })();
    await withDeadline(up, { what: "the pool to connect" });
    const outcomes = noOutcomes();
    const outcome = await sendOnce(pool, 0, read, outcomes);
    assert.ok(!outcome.ok && outcome.unreachable);
    assert.match(outcome.error, /no answer within 2000 ms/);
    assert.equal(pool.isUp(0), false);
    assert.equal(sent, 1, "a request that timed out was sent again");
    // A later request finds the server down; the timed-out one is not settled again.
    const down = await sendOnce(pool, 0, read, outcomes);
    assert.ok(!down.ok && down.unreachable);
    assertOutcomes(outcomes, 2);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("ServerPool.send settles a request to a server that is down once, after send returns", async () => {
  const pool = new ServerPool([serverAddress("127.0.0.1", closedPort())], { timeoutMs: 2_000 });
  try {
    await pool.start();
    const outcomes = noOutcomes();
    const outcome = await sendOnce(pool, 0, read, outcomes);
    assert.ok(!outcome.ok && outcome.unreachable);
    assert.match(outcome.error, /is down/);
    assertOutcomes(outcomes, 1);
  } finally {
    pool.close();
  }
});

Deno.test("a bug in what ServerPool.send hands an answer to is reported as one, and neither marks the server down nor fails the requests beside it", async () => {
  const fake = scriptedServer(() => "not-found");
  const logged: string[] = [];
  const pool = new ServerPool([fake.server], {
    timeoutMs: 10_000,
    log: (line) => logged.push(line),
  });
  const uncaught = Promise.withResolvers<unknown>();
  const listener = (event: Event) => {
    event.preventDefault();
    uncaught.resolve((event as ErrorEvent).error);
  };
  addEventListener("error", listener);
  try {
    await pool.start();
    const bug = new TypeError("a bug in the read's count");
    const beside = pool.call(0, (connection) => connection.getEncoded("a"));
    pool.send(0, read, () => {
      throw bug;
    });
    const after = pool.call(0, (connection) => connection.getEncoded("b"));
    for (const outcome of await withDeadline(Promise.all([beside, after]), { what: "reads" })) {
      assert.ok(outcome.ok, JSON.stringify(outcome));
    }
    assert.equal(await withDeadline(uncaught.promise, { what: "the bug to be reported" }), bug);
    assert.equal(pool.isUp(0), true, pool.downReason(0));
    assert.deepEqual(logged, []);
  } finally {
    removeEventListener("error", listener);
    pool.close();
    await fake.stop();
  }
});

Deno.test("settleFrom settles with what a promise request resolves, rejects or throws", async () => {
  const fake = scriptedServer(() => "not-found");
  const pool = new ServerPool([fake.server], { timeoutMs: 10_000 });
  try {
    await pool.start();
    const outcomes = noOutcomes();
    const pinged = await sendOnce(
      pool,
      0,
      (c, settle) => settleFrom((connection) => connection.ping(), c, settle),
      outcomes,
    );
    assert.ok(pinged.ok);
    const thrown = await sendOnce(pool, 0, (c, settle) =>
      settleFrom(
        () => {
          throw new RangeError("thrown before a promise");
        },
        c,
        settle,
      ), outcomes);
    assert.ok(!thrown.ok && !thrown.unreachable);
    await roundTrip(pool, 0);
    assertOutcomes(outcomes, 2);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("credentialsRefused names a server that refused the credentials, only while no server is usable", async () => {
  const refusing = serverAddress("127.0.0.1", closedPort());
  const closed = serverAddress("127.0.0.1", closedPort());
  const refusal = new ServerError(ErrorCode.AUTH_FAILED, "authentication failed");
  // As ServerClient.connect fails when the server answers HELLO with an ERROR.
  const connect: Connector = (server, timeoutMs, credentials) =>
    server === refusing
      ? Promise.reject(
        new ConnectionError(`cannot connect to ${server.id}: ${refusal.message}`, {
          cause: refusal,
        }),
      )
      : connectServerClient(server, timeoutMs, credentials);
  const alone = new ServerPool([closed, refusing], { connect, timeoutMs: 2_000 });
  try {
    await alone.start();
    const refused = alone.credentialsRefused();
    assert.ok(refused instanceof CredentialsRefusedError);
    assert.deepEqual([refused.server, refused.refusal], [refusing.id, {
      kind: "auth-failed",
      reason: refusal.message,
    }]);
    assert.equal(
      refused.message,
      `${refusing.id} refused this client's credentials (AUTH_FAILED: authentication failed); ` +
        "the server is running: the client's secret (its auth file's first line) must be in " +
        "the server's auth file",
    );
    assert.equal(alone.downMessage(1), refused.message, "a refusal is not reported as down");
  } finally {
    alone.close();
  }
  const up = scriptedServer(() => "not-found");
  const mixed = new ServerPool([refusing, up.server], { connect, timeoutMs: 2_000 });
  try {
    await mixed.start();
    assert.equal(mixed.credentialsRefused(), undefined, "a server is usable");
  } finally {
    mixed.close();
    await up.stop();
  }
  const unreachable = new ServerPool([closed], { connect, timeoutMs: 2_000 });
  try {
    await unreachable.start();
    assert.equal(unreachable.credentialsRefused(), undefined, "down is not refused");
  } finally {
    unreachable.close();
  }
});

Deno.test("closing a ServerPool with a request in flight settles it without logging its server down", async () => {
  const held = Promise.withResolvers<void>();
  const fake = scriptedServer(() => (held.resolve(), "silent"));
  const logged: string[] = [];
  const pool = new ServerPool([fake.server], {
    timeoutMs: 10_000,
    log: (line) => logged.push(line),
  });
  try {
    await pool.start();
    const outcomes = noOutcomes();
    const pending = sendOnce(pool, 0, read, outcomes);
    await withDeadline(held.promise, { what: "the server to hold the request" });
    pool.close();
    const outcome = await pending;
    assert.ok(!outcome.ok, JSON.stringify(outcome));
    assertOutcomes(outcomes, 1);
    // The client closed the connection: the server did not go down.
    assert.deepEqual(logged.filter((line) => line.includes("is down")), []);
  } finally {
    pool.close();
    await fake.stop();
  }
});

Deno.test("a read or write that finds a server down tries it again at once when no attempt started within RECONNECT_ON_DEMAND_MS, rather than at the end of its backoff", async () => {
  let attempts = 0;
  let lastAttemptAt = performance.now();
  const refused: Connector = (server) => {
    attempts++;
    lastAttemptAt = performance.now();
    return Promise.reject(new ConnectionError(`cannot connect to ${server.id}: refused`));
  };
  const pool = new ServerPool([serverAddress("127.0.0.1", closedPort())], { connect: refused });
  try {
    await pool.start();
    // Asked about once its last attempt is old enough, the server is tried again within the
    // call: synchronously, so no backoff timer can be what made the attempt.
    await waitFor(() => {
      if (performance.now() - lastAttemptAt < RECONNECT_ON_DEMAND_MS) return false;
      const before = attempts;
      assert.equal(pool.isReachable(0), false);
      return attempts === before + 1;
    }, { what: "an attempt made by asking whether the server is reachable" });
    // Asked again at once, it is not tried again: one attempt per RECONNECT_ON_DEMAND_MS.
    const after = attempts;
    pool.isReachable(0);
    assert.equal(attempts, after);
  } finally {
    pool.close();
  }
});

Deno.test("ServerPool.askWrites has one STATS outstanding per server: a server that does not answer (hung) is asked once however often askWrites runs, one that answered (an ERROR here, which tells nothing) is asked again", async () => {
  // Two pools of one server each: the scripted servers share an id, so one pool would
  // take them for one server under two addresses.
  const stats = [0, 0];
  const servers = [0, 1].map((which) =>
    scriptedServer((_, frame): Answer => {
      if (frame.type !== MessageType.STATS) return "not-found";
      stats[which]++;
      return which === 0 ? "silent" : "error";
    })
  );
  const [hung, answering] = servers.map((fake) =>
    new ServerPool([fake.server], { timeoutMs: 10_000 })
  );
  /** The requests `pool`'s connection has sent (or is about to) and not seen answered. */
  const inFlight = (pool: ServerPool) => (pool.connection(0) as ServerClient).inFlight;
  try {
    await Promise.all([hung.start(), answering.start()]);
    // Three ticks' worth in one run of code: each server is asked once.
    for (let tick = 0; tick < 3; tick++) [hung, answering].forEach((pool) => pool.askWrites());
    assert.deepEqual([inFlight(hung), inFlight(answering)], [1, 1]);
    await waitFor(() => stats[0] === 1, { what: "the hung server to be asked" });
    // Answered (its PING after it answered too, in order): asked anew.
    await roundTrip(answering, 0);
    answering.askWrites();
    await roundTrip(answering, 0);
    assert.equal(stats[1], 2);
    assert.equal(answering.refusesWrites(0), false, "an ERROR tells nothing");
    assert.equal(answering.isUp(0), true, "an ERROR answer is no fault");
    // Still owing its answer: not asked again.
    hung.askWrites();
    assert.equal(inFlight(hung), 1);
    assert.equal(stats[0], 1);
  } finally {
    [hung, answering].forEach((pool) => pool.close());
    await Promise.all(servers.map((fake) => fake.stop()));
  }
});
