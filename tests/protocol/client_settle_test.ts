/**
 * ServerClient's callback requests (`getEncodedTo`, `queryEncodedTo`): what settles them
 * runs inside the connection's read loop, and a throw there is its caller's bug, never
 * the server's failure.
 */
import assert from "node:assert/strict";
import { ConnectionError, type Settle } from "../../lib/protocol/client.ts";
import type { EncodedRead } from "../../lib/protocol/mod.ts";
import { int } from "../../lib/record/value.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { connectClient } from "../helpers/client.ts";
import { withDeadline } from "../helpers/wait.ts";
import { at } from "../helpers/versions.ts";

/**
 * Catches the next error reported as uncaught (`reportError`, an exception thrown by a
 * callback) instead of letting it end the test; `stop` removes the listener.
 */
function catchUncaught(): { error: Promise<unknown>; stop(): void } {
  const { promise, resolve } = Promise.withResolvers<unknown>();
  const listener = (event: Event) => {
    event.preventDefault();
    resolve((event as ErrorEvent).error);
  };
  addEventListener("error", listener);
  return { error: promise, stop: () => removeEventListener("error", listener) };
}

/** A settle whose `which` side throws `bug`, as a broker's read code with a bug would. */
function throwingSettle(which: "resolve" | "reject", bug: Error): Settle<EncodedRead> {
  return {
    resolve: () => {
      if (which === "resolve") throw bug;
    },
    reject: () => {
      if (which === "reject") throw bug;
    },
  };
}

Deno.test("a settle that throws on its answer is reported as a bug, not as the server's failure: the connection stays open and the requests around it are answered", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  await client.put("b", int(2), at());
  const uncaught = catchUncaught();
  try {
    const bug = new TypeError("a bug in the caller's read code");
    // One read of the connection brings all three answers: the throw comes between two.
    const before = client.getEncoded("b");
    client.getEncodedTo("a", throwingSettle("resolve", bug));
    const after = client.getEncoded("b");
    const reads = withDeadline(Promise.all([before, after]), { what: "the reads around it" });
    assert.deepEqual((await reads).map((read) => read.encoded !== undefined), [true, true]);
    assert.equal(await withDeadline(uncaught.error, { what: "the bug to be reported" }), bug);
    assert.equal(client.isOpen, true, `closed: ${client.closeReason?.message}`);
    assert.equal((await client.getEncoded("b")).encoded !== undefined, true);
  } finally {
    uncaught.stop();
    await client.close();
    await stop();
  }
});

Deno.test("a settle that throws on the connection's failure is reported as a bug, and every other request on it still fails", async () => {
  const { address, stop } = await startServer();
  const client = await connectClient(address);
  const uncaught = catchUncaught();
  try {
    const bug = new TypeError("a bug in the caller's failure handling");
    const before = client.getEncoded("a");
    client.getEncodedTo("a", throwingSettle("reject", bug));
    const after = client.getEncoded("a");
    // Closing fails the three requests, which have not been answered yet.
    const closed = client.close();
    await assert.rejects(withDeadline(before, { what: "the first read to fail" }), ConnectionError);
    await assert.rejects(withDeadline(after, { what: "the last read to fail" }), ConnectionError);
    assert.equal(await withDeadline(uncaught.error, { what: "the bug to be reported" }), bug);
    await withDeadline(closed, { what: "the client to close" });
  } finally {
    uncaught.stop();
    await stop();
  }
});
