import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { connectAndReset } from "../helpers/attacks.ts";
import { withDeadline } from "../helpers/wait.ts";

/**
 * Connections reset by their client before kv http's guard accepts them: with a pause of
 * 100 ms after each failed accept, 100 of them kept a GET waiting 10 s.
 */
const RESETS = 300;

/** Half the pauses those resets cost: a guard that still pauses misses it. */
const ANSWER_DEADLINE_MS = 15_000;

Deno.test("kv http's guard drops connections reset before it accepts them at once, not pausing for each: the next request is answered", async () => {
  // The guard is on by default, on loopback too.
  await using served = await HttpProcess.onCluster(1);
  const port = Number(new URL(served.http.url).port);
  for (let i = 0; i < RESETS; i++) await connectAndReset(port);
  const health = await withDeadline(fetch(`${served.http.url}healthz`), {
    what: `the answer to a GET sent after ${RESETS} reset connections`,
    timeoutMs: ANSWER_DEADLINE_MS,
  });
  await health.body?.cancel();
  assert.equal(health.status, 200);
});
