import assert from "node:assert/strict";
import { partitionOf } from "../../lib/record/partition.ts";
import { withFakeBroker } from "../helpers/fake_cluster.ts";
import { nextTurn, waitFor } from "../helpers/wait.ts";

/**
 * Reads person1 over three fake servers with k = 2, both home servers unrepaired (each
 * answer comes with a reason, and the read walks on to the third), while the GET to
 * the home server at `heldPosition` waits until the other home server has answered.
 * Returns the answer's warning.
 */
async function warningWithHeld(heldPosition: 0 | 1): Promise<string> {
  return await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const homes = broker.preferenceList(partitionOf("person1")).slice(0, 2);
    for (const home of homes) cluster.servers[home].nodeState = { unrepaired: true, k: 2 };
    const held = cluster.servers[homes[heldPosition]];
    const release = held.hold("gets");
    const reading = broker.getEncoded("person1");
    await waitFor(() => held.requests.includes("GET"), { what: "the held GET to be sent" });
    // The other home server's fake answers in promise jobs only: one turn of the event
    // loop lets them all run, so its answer is in before the held one is let go.
    await nextTurn();
    release();
    const answer = await reading;
    assert.equal(answer.kind, "not-found");
    return (answer as { warning?: string }).warning ?? "";
  });
}

Deno.test("a read counts its replicas' answers in the order it asked them, whichever answers first", async () => {
  const inOrder = await warningWithHeld(1);
  const reversed = await warningWithHeld(0);
  assert.equal(reversed, inOrder);
  // The first home server's reason comes first: it was asked first.
  const reasons = /\((.*)\)/.exec(inOrder)?.[1].split("; ") ?? [];
  assert.equal(reasons.length, 2, inOrder);
  assert(
    reasons.every((reason) => reason.endsWith("may have lost writes and is not yet repaired")),
  );
});

Deno.test("a read's warning names each server that was asked and failed once, not again as passed over", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const homes = broker.preferenceList(partitionOf("person1")).slice(0, 2);
    // Up when the read asks them; each answers with a timeout, which marks it down, so
    // the read walks on to the third server and cannot vouch for its NOT FOUND.
    for (const home of homes) cluster.servers[home].state = "hung";
    const answer = await broker.getEncoded("person1");
    assert.equal(answer.kind, "not-found");
    const warning = (answer as { warning?: string }).warning ?? "";
    // One reason per server, each naming it first.
    const reasons = /\((.*)\)/.exec(warning)?.[1].split("; ") ?? [];
    const named = reasons.map((reason) => reason.slice(0, reason.indexOf(":", 10)));
    const ids = Array.from(homes, (home) => cluster.servers[home].address.id);
    assert.deepEqual([...named].sort(), [...ids].sort(), warning);
    // A failure whose message names its server already is not led by the id again.
    for (const id of ids) assert(!warning.includes(`${id}: ${id}`), warning);
  });
});
