import assert from "node:assert/strict";
import fc from "fast-check";
import { Admission } from "../../lib/client/admission.ts";
import { countedSignal } from "../helpers/abort_signals.ts";
import { runScript } from "../helpers/script.ts";

/** A call the test ends by hand: its promise, and how to settle it. */
function heldCall(): {
  promise: Promise<string>;
  resolve: (value: string) => void;
  reject: (error: Error) => void;
} {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  return { promise, resolve, reject };
}

Deno.test("an admission starts at most its limit of calls, the rest in the order made as earlier ones end", async () => {
  const admission = new Admission(2);
  const held = [heldCall(), heldCall(), heldCall(), heldCall()];
  const started: number[] = [];
  const answers = held.map((call, index) =>
    admission.run(() => {
      started.push(index);
      return call.promise;
    })
  );
  assert.deepEqual(started, [0, 1]);
  assert.equal(admission.running, 2);
  assert.equal(admission.waiting, 2);
  held[1].resolve("b");
  assert.equal(await answers[1], "b");
  assert.deepEqual(started, [0, 1, 2]);
  held[0].resolve("a");
  held[2].resolve("c");
  held[3].resolve("d");
  assert.deepEqual(await Promise.all(answers), ["a", "b", "c", "d"]);
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.equal(admission.running, 0);
  assert.equal(admission.waiting, 0);
});

Deno.test("a call that rejects or throws frees its place and hands the caller its error", async () => {
  const admission = new Admission(1);
  const failing = heldCall();
  const first = admission.run(() => failing.promise);
  const second = admission.run((): Promise<string> => {
    throw new Error("thrown");
  });
  const third = admission.run(() => Promise.resolve("third"));
  failing.reject(new Error("rejected"));
  await assert.rejects(first, /rejected/);
  await assert.rejects(second, /thrown/);
  assert.equal(await third, "third");
  assert.equal(admission.running, 0);
});

Deno.test("an ended call's place goes to the oldest waiting call, never to one made after it ended", async () => {
  const admission = new Admission(1);
  const held = heldCall();
  const order: string[] = [];
  const first = admission.run(() => held.promise);
  const waiting = admission.run(() => (order.push("waiting"), Promise.resolve("")));
  held.resolve("first");
  await first;
  const later = admission.run(() => (order.push("later"), Promise.resolve("")));
  await Promise.all([waiting, later]);
  assert.deepEqual(order, ["waiting", "later"]);
});

Deno.test("an admission's limit is a whole number from 1", () => {
  for (const limit of [0, -1, 1.5, NaN]) {
    assert.throws(() => new Admission(limit), RangeError);
  }
});

/** The rejection `abort.error` makes: which call, and whether it was under way. */
function abortOf(signal: AbortSignal, name: string) {
  return {
    signal,
    error: (underWay: boolean) => new Error(`${name} aborted, under way: ${underWay}`),
  };
}

Deno.test("an already aborted signal rejects without making the call or taking a place", async () => {
  const admission = new Admission(1);
  let made = false;
  const call = admission.run(
    () => (made = true, Promise.resolve("made")),
    abortOf(AbortSignal.abort(), "c"),
  );
  assert.equal(admission.running, 0);
  await assert.rejects(call, /^Error: c aborted, under way: false$/);
  assert.equal(made, false);
});

Deno.test("a call aborted while waiting leaves the queue unmade; the next waiting call takes the place", async () => {
  const admission = new Admission(1);
  const held = heldCall();
  const controller = new AbortController();
  const started: string[] = [];
  const first = admission.run(() => held.promise);
  const aborted = admission.run(
    () => (started.push("aborted"), Promise.resolve("")),
    abortOf(controller.signal, "waiting"),
  );
  const next = admission.run(() => (started.push("next"), Promise.resolve("next")));
  assert.equal(admission.waiting, 2);
  controller.abort();
  await assert.rejects(aborted, /^Error: waiting aborted, under way: false$/);
  assert.equal(admission.waiting, 1);
  held.resolve("first");
  assert.deepEqual([await first, await next], ["first", "next"]);
  assert.deepEqual(started, ["next"]);
  assert.deepEqual([admission.running, admission.waiting], [0, 0]);
});

/**
 * A script (run with V8's --expose-gc) whose admission of one place is held by a first call;
 * a call holding 1 MiB waits behind it, between two others, and its signal aborts. It prints
 * whether garbage collection freed the MiB while the first call still held the place (a few
 * tries, each a turn of the event loop after the last, so that the WeakRef no longer keeps
 * it), the calls waiting then, and the order the other calls started in once the place freed.
 */
const ABANDONED_WAITER_SCRIPT = `
import { Admission } from "${new URL("../../lib/client/admission.ts", import.meta.url)}";
const GC_TRIES = 10;
const admission = new Admission(1);
const held = Promise.withResolvers();
const started = [];
const queued = (n) => admission.run(() => (started.push(n), Promise.resolve(n)));
const first = admission.run(() => held.promise);
const controller = new AbortController();
const before = queued(1);
const abort = { signal: controller.signal, error: () => new Error("aborted") };
// In a function of its own, so that only the waiting call's closure reaches the MiB; its
// rejection is let go once told (an error's stack keeps the functions it was made under).
function waitHolding() {
  const mib = new Uint8Array(1024 * 1024);
  const call = admission.run(() => (started.push("aborted"), Promise.resolve(mib.length)), abort);
  const told = call.catch((error) => console.log("the waiting call:", error.message));
  return { told, freed: new WeakRef(mib) };
}
const { told, freed } = waitHolding();
const after = [queued(2), queued(3)];
console.log("waiting before the abort:", admission.waiting);
controller.abort();
await told;
let tries = 0;
while (freed.deref() !== undefined && tries < GC_TRIES) {
  tries++;
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
}
console.log(freed.deref() === undefined ? "freed while the place was held" : "still held");
console.log("waiting after the abort:", admission.waiting);
held.resolve(0);
await Promise.all([first, before, ...after]);
console.log("started:", started.join(" "));
`;

Deno.test("a call aborted while waiting lets go of its closure at once, before a place frees, and the calls around it start in order", async () => {
  const { ok, output } = await runScript(ABANDONED_WAITER_SCRIPT, [], {
    what: "the abandoned waiter script to end",
    timeoutMs: 30_000,
    v8Flags: ["--expose-gc"],
  });
  assert.ok(ok, output);
  assert.equal(
    output,
    "waiting before the abort: 4\nthe waiting call: aborted\nfreed while the place was held\n" +
      "waiting after the abort: 3\nstarted: 1 2 3\n",
  );
});

Deno.test("calls aborted while waiting, in any order and any number, leave the queue and the rest start in the order made", () => {
  const admission = new Admission(1);
  const held = heldCall();
  const first = admission.run(() => held.promise);
  const started: number[] = [];
  const controllers = Array.from({ length: 8 }, () => new AbortController());
  const calls = controllers.map((controller, n) =>
    admission.run(
      () => (started.push(n), Promise.resolve(String(n))),
      abortOf(controller.signal, `call ${n}`),
    )
  );
  return (async () => {
    for (const n of [3, 0, 7, 5]) controllers[n].abort();
    assert.equal(admission.waiting, 4);
    held.resolve("first");
    const outcomes = await Promise.allSettled([first, ...calls]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status === "fulfilled"), [
      true,
      false,
      true,
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
    assert.deepEqual(started, [1, 2, 4, 6]);
    assert.deepEqual([admission.running, admission.waiting], [0, 0]);
  })();
});

Deno.test("a call aborted under way rejects at once, its answer dropped, and keeps its place until it ends", async () => {
  const admission = new Admission(1);
  const held = heldCall();
  const controller = new AbortController();
  const aborted = admission.run(() => held.promise, abortOf(controller.signal, "sent"));
  let nextStarted = false;
  const next = admission.run(() => (nextStarted = true, Promise.resolve("next")));
  controller.abort();
  await assert.rejects(aborted, /^Error: sent aborted, under way: true$/);
  // Its requests are still out: the place is not handed on before they end.
  assert.deepEqual([admission.running, admission.waiting, nextStarted], [1, 1, false]);
  held.resolve("late answer");
  assert.equal(await next, "next");
  assert.equal(admission.running, 0);
});

Deno.test("calls on one long-lived signal add one listener to it, however many, and leave none once settled, however they end", async () => {
  const controller = new AbortController();
  const { signal, live } = countedSignal(controller);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.constantFrom("resolve", "reject", "throw"), { minLength: 1, maxLength: 40 }),
      async (limit, endings) => {
        const admission = new Admission(limit);
        const held = endings.map(() => heldCall());
        const calls = endings.map((ending, index) =>
          admission.run(() => {
            if (ending === "throw") throw new Error("thrown");
            return held[index].promise;
          }, abortOf(signal, `call ${index}`))
        );
        // One for them all: EventTarget's add and remove scan its listeners, so one a call
        // made n calls on a signal cost O(n²) (100 000 puts: 90 s, against 0.9 without).
        assert.equal(live(), 1, "one listener for the calls not yet settled");
        endings.forEach((ending, index) => {
          if (ending === "resolve") held[index].resolve("answer");
          if (ending === "reject") held[index].reject(new Error("rejected"));
        });
        await Promise.allSettled(calls);
        assert.equal(live(), 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("calls on one signal that aborts mid-way leave no listener: those under way, waiting, and made after", async () => {
  const controller = new AbortController();
  const { signal, live } = countedSignal(controller);
  const admission = new Admission(2);
  const held = Array.from({ length: 5 }, () => heldCall());
  const calls = held.map((call, index) =>
    admission.run(() => call.promise, abortOf(signal, `${index}`))
  );
  controller.abort();
  const after = admission.run(() => Promise.resolve("never"), abortOf(signal, "after"));
  const outcomes = await Promise.allSettled([...calls, after]);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status === "rejected" && String(outcome.reason)),
    [
      "Error: 0 aborted, under way: true",
      "Error: 1 aborted, under way: true",
      "Error: 2 aborted, under way: false",
      "Error: 3 aborted, under way: false",
      "Error: 4 aborted, under way: false",
      "Error: after aborted, under way: false",
    ],
  );
  assert.equal(live(), 0);
  for (const call of held) call.resolve("late");
  await Promise.all(held.map((call) => call.promise));
});

Deno.test("an abort whose error cannot be made rejects its call with that throw, and every other call on the signal still rejects with its own", async () => {
  const controller = new AbortController();
  const admission = new Admission(1);
  const held = heldCall();
  const broken = {
    signal: controller.signal,
    error: (): never => {
      throw new TypeError("cannot name the call");
    },
  };
  const calls = [
    admission.run(() => held.promise, broken),
    admission.run(() => Promise.resolve(""), abortOf(controller.signal, "waiting")),
    admission.run(() => Promise.resolve(""), broken),
    admission.run(() => Promise.resolve(""), abortOf(controller.signal, "last")),
  ];
  controller.abort();
  const outcomes = await Promise.allSettled(calls);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status === "rejected" && String(outcome.reason)),
    [
      "TypeError: cannot name the call",
      "Error: waiting aborted, under way: false",
      "TypeError: cannot name the call",
      "Error: last aborted, under way: false",
    ],
  );
  held.resolve("late");
});
