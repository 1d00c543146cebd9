/**
 * ServerClient's writes at the end of a turn, which every connection of the process due
 * to write shares (one `setImmediate` a turn): a connection that closes or fails while
 * due must not hold up, or take down, the others.
 */
import assert from "node:assert/strict";
import { ConnectionError, type ServerClient } from "../../lib/protocol/client.ts";
import { int } from "../../lib/record/value.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { connectClient } from "../helpers/client.ts";
import { withDeadline } from "../helpers/wait.ts";
import { at } from "../helpers/versions.ts";

/** Connections opened for the tests below. */
const CONNECTIONS = 50;

Deno.test("fifty connections due to write in one turn each send their requests, turn after turn", async () => {
  const { address, stop } = await startServer();
  const clients: ServerClient[] = [];
  try {
    for (let n = 0; n < CONNECTIONS; n++) clients.push(await connectClient(address));
    await clients[0].put("k", int(1), at());
    for (let round = 0; round < 3; round++) {
      const reads = clients.map((client) => client.getEncoded("k"));
      const answers = await withDeadline(Promise.all(reads), { what: `round ${round}'s reads` });
      for (const answer of answers) assert.notEqual(answer.encoded, undefined);
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await stop();
  }
});

Deno.test("connections closed while due to write fail their own requests only; the others due in the same turn send theirs, and later turns still write", async () => {
  const { address, stop } = await startServer();
  const clients: ServerClient[] = [];
  try {
    for (let n = 0; n < CONNECTIONS; n++) clients.push(await connectClient(address));
    // In one turn: every connection queues a read, and every third is closed before its
    // turn's write (the first, a middle one and the last among them).
    const reads = clients.map((client) => client.getEncoded("k"));
    const closed = clients.filter((_, n) => n % 3 === 0);
    for (const client of closed) client.close();
    const settled = await withDeadline(Promise.allSettled(reads), { what: "every read" });
    for (const [n, read] of settled.entries()) {
      if (n % 3 === 0) {
        assert.ok(read.status === "rejected" && read.reason instanceof ConnectionError, `${n}`);
      } else {
        assert.ok(read.status === "fulfilled" && read.value.encoded === undefined, `${n}`);
      }
    }
    const open = clients.filter((_, n) => n % 3 !== 0);
    const again = Promise.all(open.map((client) => client.ping()));
    await withDeadline(again, { what: "the next turn's writes" });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await stop();
  }
});
