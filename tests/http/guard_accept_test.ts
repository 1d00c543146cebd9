import assert from "node:assert/strict";
import net from "node:net";
import { HttpProcess } from "../helpers/http_process.ts";
import { withDeadline } from "../helpers/wait.ts";

/**
 * Connections reset by their client before kv http's guard accepts them: with a pause of
 * 100 ms after each failed accept, 100 of them kept a GET waiting 10 s.
 */
const RESETS = 300;

/** Half the pauses those resets cost: a guard that still pauses misses it. */
const ANSWER_DEADLINE_MS = 15_000;

/** Opens a TCP connection to `port` and resets it (RST) once it is established. */
function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.on("error", () => resolve());
  });
}

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
