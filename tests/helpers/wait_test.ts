// The deadline helpers every test waits with: they must fail, naming what they waited for.
import assert from "node:assert/strict";
import { DeadlineError, outputWithin, waitFor, withDeadline } from "./wait.ts";

Deno.test("withDeadline passes a settled promise's value or error through", async () => {
  assert.equal(await withDeadline(Promise.resolve(7), { what: "seven" }), 7);
  await assert.rejects(
    withDeadline(Promise.reject(new RangeError("no")), { what: "x" }),
    RangeError,
  );
});

Deno.test("withDeadline rejects a promise that never settles, naming it, after onTimeout", async () => {
  let cleanedUp = false;
  await assert.rejects(
    withDeadline(new Promise(() => {}), {
      what: "the answer to GET person1",
      timeoutMs: 20,
      onTimeout: () => cleanedUp = true,
    }),
    (error: unknown) => {
      assert.ok(error instanceof DeadlineError);
      assert.equal(error.message, "timed out after 20 ms waiting for the answer to GET person1");
      return true;
    },
  );
  assert.ok(cleanedUp);
});

Deno.test("waitFor returns once a sync or async condition holds", async () => {
  let checks = 0;
  await waitFor(() => ++checks === 3, { what: "three checks", intervalMs: 1 });
  assert.equal(checks, 3);
  await waitFor(() => Promise.resolve(++checks === 5), { what: "five checks", intervalMs: 1 });
  assert.equal(checks, 5);
});

Deno.test("waitFor throws a DeadlineError for a condition that never holds, or never answers", async () => {
  await assert.rejects(
    waitFor(() => false, { what: "server 2 to be up", timeoutMs: 30 }),
    /timed out after 30 ms waiting for server 2 to be up/,
  );
  await assert.rejects(
    waitFor(() => new Promise<boolean>(() => {}), { what: "a silent check", timeoutMs: 30 }),
    DeadlineError,
  );
});

Deno.test("outputWithin kills a child that outlasts its deadline", async () => {
  const child = new Deno.Command("sleep", { args: ["60"], stdout: "piped", stderr: "piped" })
    .spawn();
  await assert.rejects(outputWithin(child, { what: "sleep 60", timeoutMs: 50 }), DeadlineError);
  assert.equal((await child.status).signal, "SIGKILL");
});
