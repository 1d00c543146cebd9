/**
 * Randomised tests in the Jepsen style (issue 9) on loopback: three `kv broker`
 * processes do GET, PUT and DELETE on a few dozen keys of four durable `kv server`
 * processes (k = 2) while a nemesis kills (SIGKILL), hangs (SIGSTOP, then SIGCONT) and
 * restarts one server at a time, with or without its data; the history is checked, and
 * after `kv repair` every key's replicas must be identical. The machinery is in
 * tests/helpers/jepsen.ts; the run with network partitions is
 * tests/broker/jepsen_netns_test.ts. Replay a failing seed with `KV_JEPSEN_SEED=<seed>`;
 * `KV_JEPSEN_PHASE_MS` sets how long the faults last (default 5 s).
 */
import { onLoopback, runJepsen } from "../helpers/jepsen.ts";

Deno.test("jepsen: 3 brokers under kill -9 and SIGSTOP of one server at a time (data kept): every read is one the history explains, and after kv repair all replicas are identical", async () => {
  await runJepsen({ start: onLoopback, faults: ["kill", "hang"], repair: true });
});

Deno.test("jepsen: with restarts that lose a server's data too (and the other replica of its keys killed at once), every read is explained, and after kv repair all replicas are identical", async () => {
  await runJepsen({ start: onLoopback, faults: ["kill", "hang", "wipe"], repair: true });
});
