import assert from "node:assert/strict";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { connectAndReset } from "../helpers/attacks.ts";
import { withDeadline } from "../helpers/wait.ts";

/**
 * Connections reset by their client before the server accepts them: with a pause of 100 ms
 * after each failed accept, they held the accept loop for 30 s.
 */
const RESETS = 300;

/** Half the pauses those resets cost: a server that still pauses misses it. */
const HELLO_DEADLINE_MS = 15_000;

Deno.test("connections reset before the server accepts them are dropped at once, not paused for, and are no warning: the next client is answered", async () => {
  await using server = await startServerProcess();
  for (let i = 0; i < RESETS; i++) await connectAndReset(server.port);
  const conn = await Deno.connect(server.address);
  try {
    const hello = new FrameWriter();
    hello.hello(1);
    await conn.write(hello.bytes());
    const answered = await withDeadline(conn.read(new Uint8Array(1024)), {
      what: `the answer to a HELLO sent after ${RESETS} reset connections`,
      timeoutMs: HELLO_DEADLINE_MS,
    });
    assert(answered !== null && answered > 0);
  } finally {
    conn.close();
  }
  // `accept failed: Transport endpoint is not connected`, for a client that merely left.
  assert.deepEqual(server.stderrLines.filter((line) => / warn: /.test(line)), []);
  assert.equal((await stopWithin(server)).code, 0);
});
