import assert from "node:assert/strict";
import fc from "fast-check";
import { Admission } from "../../lib/client/admission.ts";
import { countedSignal } from "../helpers/abort_signals.ts";

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
