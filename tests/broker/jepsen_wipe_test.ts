/**
 * The Jepsen-style run on loopback (tests/helpers/jepsen.ts) whose nemesis, besides
 * killing and hanging servers, restarts one with its data dir emptied and at once kills
 * the other replica of its keys, so that for a while only the server that lost them can
 * answer; the brokers' clocks are skewed where libfaketime is installed. A file of its own,
 * so that the suite runs it beside the run that keeps the data (tests/broker/jepsen_test.ts).
 * Replay a failing seed with `KV_JEPSEN_SEED=<seed>`; `KV_JEPSEN_PHASE_MS` sets how long the
 * faults last (default 5 s).
 */
import { onLoopback, runJepsen, SKEWED_CLOCKS_NAME } from "../helpers/jepsen.ts";

Deno.test(`jepsen (${SKEWED_CLOCKS_NAME}): with restarts that lose a server's data too (and the other replica of its keys killed at once), every read is explained, and after kv repair all replicas are identical and every key reads its last acknowledged write (NOT FOUND once deleted)`, async () => {
  await runJepsen({
    start: onLoopback,
    faults: ["kill", "hang", "wipe"],
    repair: true,
    skewedClocks: true,
  });
});
