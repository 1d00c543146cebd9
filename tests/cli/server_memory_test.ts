import assert from "node:assert/strict";
import { int } from "../../lib/record/value.ts";
import { badRequest, openAttackers, rssBytes, stalledFrame } from "../helpers/attacks.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { waitFor } from "../helpers/wait.ts";
import { connectClient } from "../helpers/client.ts";
import { at } from "../helpers/versions.ts";

const MIB = 1024 * 1024;

/** How far above its RSS before an attack a server may stay once the attack ended. */
const RSS_SLACK_BYTES = 32 * MIB;

/**
 * How long RSS may take to come back once the attackers closed. The server asks for a
 * collection within a second of getting the buffers back; left to itself V8 returned the
 * 300 attackers' pages only after about 30 s (its idle memory reducer), which this
 * deadline tells apart even on a loaded machine.
 */
const RSS_RETURN_DEADLINE_MS = 15_000;

/** The server's budget in these tests: small, so that the attacks overrun it fast. */
const BUDGET_BYTES = 32 * MIB;

Deno.test("the buffer budget holds under both attacks, a client is still served, and RSS comes back", async () => {
  await using server = await startServerProcess([
    "--max-buffered-bytes",
    String(BUDGET_BYTES),
    "--max-frame-bytes",
    String(8 * MIB),
  ]);
  const pid = server.pid!;
  // The client's timeouts are not the subject: on a loaded machine a GET during the attack
  // may take longer than the library's 1 s default.
  const client = await connectClient(server.address);
  await client.put("kept", int(1), at());
  const attacks = [
    // Answered (a bad request is an ERROR), then idle: the buffers are given back at once.
    // 300, as the security issue measured: each gives back just under 1 MiB, which only
    // adds up to a garbage collection when counted across connections.
    { count: 300, payload: badRequest(MIB), stalled: false },
    // Stalled mid-frame: each holds its frame until the budget is used up.
    { count: 40, payload: stalledFrame(8 * MIB), stalled: true },
  ];
  for (const { count, payload, stalled } of attacks) {
    const before = await rssBytes(pid);
    const attackers = await openAttackers(server.address, count, payload);
    if (stalled) {
      // The budget holds: the server closes every attacker it cannot afford.
      const affordable = Math.floor(BUDGET_BYTES / (payload.length / 2));
      await waitFor(() => count - attackers.closedByServer() <= affordable, {
        what: `all but ${affordable} stalled attackers to be closed by the server`,
      });
    }
    assert.deepEqual((await client.get("kept")).value, int(1));
    attackers.close();
    await waitFor(async () => await rssBytes(pid) <= before + RSS_SLACK_BYTES, {
      what: `the server's RSS to come back within 32 MiB of ${before} bytes`,
      timeoutMs: RSS_RETURN_DEADLINE_MS,
    });
  }
  await client.close();
  assert.equal((await stopWithin(server)).code, 0);
});
