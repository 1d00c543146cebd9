/**
 * Randomised tests in the Jepsen style (issue 9) on loopback: three `kv broker`
 * processes, their clocks skewed where libfaketime is installed, do GET, PUT and DELETE on
 * a few dozen keys of four durable `kv server` processes (k = 2) while a nemesis kills
 * (SIGKILL), hangs (SIGSTOP, then SIGCONT) and restarts one server at a time, and runs
 * `kv repair` across such a restart; the history is checked, and after `kv repair` every key's
 * replicas must be identical and every key must read what the history allows (its last
 * acknowledged write; NOT FOUND once deleted). The machinery is in tests/helpers/jepsen.ts; the run whose
 * restarts also lose a server's data is tests/broker/jepsen_wipe_test.ts, the run with
 * network partitions tests/broker/jepsen_netns_test.ts: a file each, so that the suite's
 * parts run them side by side (with `.ci/run`'s 15 s fault phase each run takes 20 s or
 * more). Replay a failing seed with `KV_JEPSEN_SEED=<seed>`; `KV_JEPSEN_PHASE_MS` sets how
 * long the faults last (default 5 s).
 */
import { onLoopback, runJepsen, SKEWED_CLOCKS_NAME } from "../helpers/jepsen.ts";

Deno.test(`jepsen: 3 brokers (${SKEWED_CLOCKS_NAME}) under kill -9 and SIGSTOP of one server at a time (data kept), and kv repair across a restart (data kept or emptied): every read is one the history explains, and after kv repair all replicas are identical and every key reads its last acknowledged write (NOT FOUND once deleted)`, async () => {
  await runJepsen({
    start: onLoopback,
    faults: ["kill", "hang", "repair"],
    repair: true,
    skewedClocks: true,
  });
});
