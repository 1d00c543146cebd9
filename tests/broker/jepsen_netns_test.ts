/**
 * The Jepsen-style run (tests/helpers/jepsen.ts) with real network partitions: each
 * server runs in a network namespace of its own on its own address, linked to the
 * brokers' by a veth pair (tests/helpers/netns.ts), and the nemesis takes a server's link
 * down and up again, besides killing, hanging and wiping servers. It needs root and
 * `ip netns`; elsewhere it is ignored, with why in its name. A file of its own, so the
 * suite runs it beside the loopback runs (tests/broker/jepsen_test.ts and
 * jepsen_wipe_test.ts).
 */
import { runJepsen, SERVER_COUNT } from "../helpers/jepsen.ts";
import { NETNS_UNAVAILABLE, NetnsCluster } from "../helpers/netns.ts";

const NETNS_NAME =
  "jepsen: servers in network namespaces on their own addresses, partitioned one at a time by taking their veth link down and up (and killed, hung, wiped): every read is explained, and after kv repair all replicas are identical and every key reads its last acknowledged write (NOT FOUND once deleted)";

Deno.test({
  name: NETNS_UNAVAILABLE === undefined
    ? NETNS_NAME
    : `${NETNS_NAME} (ignored: ${NETNS_UNAVAILABLE})`,
  ignore: NETNS_UNAVAILABLE !== undefined,
  async fn() {
    await runJepsen({
      start: () => NetnsCluster.start(SERVER_COUNT, { durable: true }),
      faults: ["partition", "kill", "hang", "wipe"],
      repair: true,
    });
  },
});
