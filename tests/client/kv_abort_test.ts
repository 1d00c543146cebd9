// A call's `signal` (KvCallOptions), end to end with server processes: aborted before it is
// sent (already, or while it waits its turn behind MAX_CALLS_IN_FLIGHT calls on a SIGSTOPped
// server) it sends nothing; aborted under way it rejects at once and a write goes on in the
// cluster, as a later read tells; its listener leaves a long-lived signal as it settles.
import assert from "node:assert/strict";
import { type Kv, KvAbortedError, KvInputError, MAX_CALLS_IN_FLIGHT } from "../../mod.ts";
import { brokerOf } from "../../lib/client/kv.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { countedSignal } from "../helpers/abort_signals.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

/** Long enough that only an abort or SIGCONT can settle a call on a SIGSTOPped server. */
const HELD_TIMEOUT_MS = 600_000;

/** What `call` rejected with, as `name: message (underWay)` for a KvAbortedError. */
async function abortedWith(call: Promise<unknown>, what: string): Promise<string> {
  const error = await withDeadline(
    call.then(() => assert.fail(`${what} was answered`), (error: unknown) => error),
    { what },
  );
  assert.ok(error instanceof KvAbortedError, `${what}: ${error}`);
  return `${error.message} (underWay: ${error.underWay})`;
}

/** Every call that reaches the cluster, each given `signal`. */
function everyCall(kv: Kv, signal: AbortSignal): Record<string, Promise<unknown>> {
  return {
    get: kv.get("kept", { signal }),
    getBytes: kv.getBytes("kept", { signal }),
    query: kv.query(["kept", "a"], { signal }),
    put: kv.put("kept", { a: 2 }, { signal }),
    delete: kv.delete("kept", { signal }),
    keys: kv.keys({ prefix: "ke", signal }),
    list: (async () => {
      for await (const _ of kv.list({ prefix: "ke", signal })) assert.fail("listed an entry");
    })(),
  };
}

Deno.test("every call given an already aborted signal rejects with a KvAbortedError naming it and its key, its reason as cause; a put and a delete change nothing", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  await kv.put("kept", { a: 1 });
  const reason = new Error("the user left");
  const calls = everyCall(kv, AbortSignal.abort(reason));
  const outcomes: string[] = [];
  for (const [name, call] of Object.entries(calls)) {
    outcomes.push(await abortedWith(call, name));
    await call.catch((error) => assert.equal(error.cause, reason));
  }
  const aborted =
    "was aborted (the user left) before it was sent: nothing was sent (underWay: false)";
  assert.deepEqual(outcomes, [
    `get of 'kept' ${aborted}`,
    `get of 'kept' ${aborted}`,
    `query of 'kept.a' ${aborted}`,
    `put of 'kept' ${aborted}`,
    `delete of 'kept' ${aborted}`,
    `keys (prefix 'ke') ${aborted}`,
    `list (prefix 'ke'), its page after the start, ${aborted}`,
  ]);
  assert.deepEqual((await kv.get("kept")).value, { a: 1 });
});

Deno.test("AbortSignal.timeout ends a put waiting its turn behind MAX_CALLS_IN_FLIGHT calls on a SIGSTOPped server: a timeout naming it and its key, never sent", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ timeoutMs: HELD_TIMEOUT_MS });
  cluster.servers[0].signal("SIGSTOP");
  try {
    const held = Array.from({ length: MAX_CALLS_IN_FLIGHT }, (_, n) => kv.get(`held${n}`));
    const late = kv.put("late", 1, { signal: AbortSignal.timeout(1) });
    assert.equal(
      await abortedWith(late, "the waiting put"),
      "put of 'late' timed out (its signal's deadline passed) before it was sent: nothing was " +
        "sent (underWay: false)",
    );
    await late.catch((error) => assert.equal(error.cause.name, "TimeoutError"));
    cluster.servers[0].signal("SIGCONT");
    await withDeadline(Promise.all(held), { what: "the held reads once the server resumed" });
    assert.equal((await kv.get("late")).value, null);
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
});

Deno.test("calls aborted under way (their server SIGSTOPped) reject at once, a write saying it may still be applied; the put and delete go on, as a later read tells", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ timeoutMs: HELD_TIMEOUT_MS });
  await kv.put("kept", { a: 1 });
  await kv.put("gone", 1);
  // The protocol client under the pool's connection (lib/protocol/client.ts) counts its requests.
  const connection = brokerOf(kv).pool.connection(0) as unknown as { inFlight: number };
  cluster.servers[0].signal("SIGSTOP");
  try {
    const controller = new AbortController();
    const { signal } = controller;
    const calls = {
      get: kv.get("kept", { signal }),
      put: kv.put("kept", { a: 2 }, { signal }),
      delete: kv.delete("gone", { signal }),
    };
    // Sent: the three requests are out on the connection (to the stopped server).
    await waitFor(() => connection.inFlight >= 3, { what: "the three requests sent" });
    controller.abort();
    const outcomes: string[] = [];
    for (const [name, call] of Object.entries(calls)) outcomes.push(await abortedWith(call, name));
    const maybe = "was aborted (The signal has been aborted) while under way: it may still be " +
      "applied on some or all of its replicas, or none; a later read tells (underWay: true)";
    assert.deepEqual(outcomes, [
      "get of 'kept' was aborted (The signal has been aborted) while under way: its answer is " +
      "dropped (underWay: true)",
      `put of 'kept' ${maybe}`,
      `delete of 'gone' ${maybe}`,
    ]);
    cluster.servers[0].signal("SIGCONT");
    await waitFor(async () =>
      (await kv.get("kept")).value?.toString() !== undefined &&
      JSON.stringify((await kv.get("kept")).value) === '{"a":2}' &&
      (await kv.get("gone")).value === null, { what: "the aborted put and delete applied" });
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
});

Deno.test("calls on one long-lived signal leave no listener on it once settled: answered, refused or failed, round after round", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const { signal, live } = countedSignal(new AbortController());
  const rounds = 3;
  const callsPerRound = 500;
  for (let round = 0; round < rounds; round++) {
    const calls: Promise<unknown>[] = [];
    for (let n = 0; n < callsPerRound; n++) {
      calls.push(kv.put(`row${n}`, { round, n }, { signal }));
      calls.push(kv.get(`row${n}`, { signal }));
      calls.push(kv.query(`row${n}.n`, { signal }));
    }
    calls.push(kv.get("not.a.key", { signal })); // a KvInputError, inside the admitted call
    calls.push(kv.keys({ prefix: "row", signal }));
    calls.push(Array.fromAsync(kv.list({ prefix: "row", limit: 150, signal })));
    assert.ok(live() > 0, "the calls under way listen");
    const settled = await withDeadline(Promise.allSettled(calls), { what: `round ${round}` });
    const refused = settled.filter((outcome) => outcome.status === "rejected");
    assert.deepEqual(refused.map((outcome) => outcome.reason instanceof KvInputError), [true]);
    assert.equal(live(), 0, `listeners left after round ${round}`);
  }
});

Deno.test("a signal that is no AbortSignal, or a misspelled option, is a KvInputError", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const notSignal = { signal: "soon" } as unknown as { signal: AbortSignal };
  await assert.rejects(kv.get("k", notSignal), /^KvInputError: signal must be an AbortSignal, got/);
  await assert.rejects(kv.put("k", 1, notSignal), KvInputError);
  await assert.rejects(kv.keys(notSignal), KvInputError);
  const misspelled = { signl: AbortSignal.abort() } as never;
  await assert.rejects(
    kv.delete("k", misspelled),
    /delete has no option 'signl'; its options are signal/,
  );
});

Deno.test("a list whose signal aborts between two entries yields no more: the next rejects with a KvAbortedError naming the listing", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  await Promise.all(["row1", "row2", "row3"].map((key) => kv.put(key, key)));
  const controller = new AbortController();
  const listing = kv.list({ prefix: "row", signal: controller.signal });
  assert.equal((await listing.next()).value?.key, "row1");
  controller.abort(new Error("enough"));
  assert.equal(
    await abortedWith(listing.next(), "the next entry"),
    "list (prefix 'row') was aborted (enough) while under way: its answer is dropped " +
      "(underWay: true)",
  );
});

Deno.test("a signal whose reason cannot be made text (an object without a prototype) still rejects the call with a KvAbortedError, before it is sent and under way", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const reason = Object.create(null);
  const before = kv.get("k", { signal: AbortSignal.abort(reason) });
  const controller = new AbortController();
  const underWay = kv.get("k", { signal: controller.signal });
  controller.abort(reason);
  const unshown = "was aborted (a reason that cannot be shown as text)";
  assert.equal(
    await abortedWith(before, "the get before it was sent"),
    `get of 'k' ${unshown} before it was sent: nothing was sent (underWay: false)`,
  );
  assert.equal(
    await abortedWith(underWay, "the get under way"),
    `get of 'k' ${unshown} while under way: its answer is dropped (underWay: true)`,
  );
  await before.catch((error) => assert.equal(error.cause, reason));
});

Deno.test("a caller's mistake with an aborted signal is a KvInputError, not a KvAbortedError, for every call: get, getBytes, query, put, delete, keys, list", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const signal = AbortSignal.abort(new Error("the user left"));
  const calls: Record<string, Promise<unknown>> = {
    get: kv.get("a.b", { signal }),
    getBytes: kv.getBytes("", { signal }),
    query: kv.query(["kept", 5] as unknown as string[], { signal }),
    put: kv.put("a.b", 1, { signal }),
    delete: kv.delete("a.b", { signal }),
    keys: kv.keys({ prefix: "a.b", signal }),
    keysLimit: kv.keys({ limit: 0, signal }),
    list: Array.fromAsync(kv.list({ after: "a.b", signal })),
  };
  const refused: Record<string, string> = {};
  for (const [name, call] of Object.entries(calls)) {
    const error = await call.then(() => assert.fail(`${name} was answered`), (error) => error);
    assert.ok(error instanceof KvInputError, `${name}: ${error}`);
    refused[name] = error.message;
  }
  const dotted = (what: string) =>
    `${what} 'a.b' contains '.' (it separates query paths); put another character in its ` +
    "place, such as ':'";
  assert.deepEqual(refused, {
    get: dotted("key"),
    getBytes: "empty key",
    query: "a field name must be a string, got a number (5)",
    put: dotted("key"),
    delete: dotted("key"),
    keys: dotted("prefix"),
    keysLimit: "limit must be a whole number from 1 to 10000, got 0",
    list: dotted("after key"),
  });
});

Deno.test("a query of a path that is no strings is a KvInputError with its signal aborted or not, and leaves the other calls on its signal to reject with a KvAbortedError", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ timeoutMs: HELD_TIMEOUT_MS });
  cluster.servers[0].signal("SIGSTOP");
  try {
    const controller = new AbortController();
    const { signal } = controller;
    const path = [Object.create(null)] as unknown as string[];
    const notString = /^KvInputError: a key must be a string, got /;
    await assert.rejects(kv.query(path, { signal: AbortSignal.abort() }), notString);
    const held = kv.query(path, { signal });
    const read = kv.get("k", { signal });
    controller.abort();
    await assert.rejects(held, notString);
    assert.match(await abortedWith(read, "the get"), /^get of 'k' was aborted/);
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
});
