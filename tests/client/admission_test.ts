import assert from "node:assert/strict";
import { Admission } from "../../lib/client/admission.ts";

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
