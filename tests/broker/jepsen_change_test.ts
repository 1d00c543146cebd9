/**
 * The Jepsen-style run (tests/helpers/jepsen.ts) whose nemesis changes what placement
 * rests on under load: `kv repair -k N` (N from 1 to 3) and `kv repair -s` alternating
 * between the cluster's five servers and a list without the fifth, each SIGKILLed part
 * way one time in three (the next one finishes the work), besides killing and hanging
 * servers. The three brokers follow the servers' k (no `-k`), and sit on both lists: two
 * on the four-server file, one on the five. A file of its own, so that the suite runs it
 * beside the other Jepsen runs. Its first run found a broker dying of an invariant when
 * k was lowered under one of its writes (tests/broker/cluster_k_test.ts).
 * Replay a failing seed with `KV_JEPSEN_SEED=<seed>`; `KV_JEPSEN_PHASE_MS` sets how long
 * the faults last (default 5 s).
 *
 * The clocks agree: a write through a broker on a list the cluster has left is
 * acknowledged with a warning, and may win over a later one once a repair moves it when
 * its broker's clock is ahead (README, "kv repair"), which the checker would count as a
 * stale read. No wipes either: with k = 1 a wiped server's records are gone (README, "The
 * guarantee": every server that stored a write lost it).
 */
import { LIST_CHANGE_SERVER_COUNT, runJepsen } from "../helpers/jepsen.ts";
import { KvCluster } from "../helpers/kv_processes.ts";

Deno.test("jepsen: kv repair -k 1..3 and server-list changes (five servers and four, brokers on both lists) under load, some SIGKILLed part way, with kill -9 and SIGSTOP of one server at a time: every read is explained, and after kv repair over the cluster's list all replicas are identical and every key reads its last acknowledged write (NOT FOUND once deleted)", async () => {
  await runJepsen({
    start: () => KvCluster.start(LIST_CHANGE_SERVER_COUNT, { durable: true }),
    faults: ["k", "list", "kill", "hang"],
    repair: true,
  });
});
