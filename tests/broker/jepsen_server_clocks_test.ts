/**
 * The Jepsen-style run (tests/helpers/jepsen.ts) with the servers' clocks wrong too, not
 * only the brokers': one server 5 minutes ahead, one right, one 5 minutes behind, one 90 s
 * ahead (libfaketime), under brokers 40 s ahead, right and 40 s behind. A server takes no
 * write stamped more than a minute behind its clock: it answers STALE at its clock's time
 * and the broker stamps the write again after it (README, "Versions"), so here most writes
 * meet a server that restamps them, and the versions of a key follow the fastest clock among
 * its servers — while the nemesis kills, hangs and wipes servers and runs `kv repair` across
 * a restart. Last write wins in real time whatever the clocks say, so the same
 * checks hold. No run had a server's clock wrong. Ignored where libfaketime is not
 * installed, saying so. Replay a failing seed with `KV_JEPSEN_SEED=<seed>`.
 */
import { CLOCKS_CAN_SKEW, runJepsen, SERVER_COUNT } from "../helpers/jepsen.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { faketimeInvocation } from "../helpers/faketime.ts";

/** Each server's clock offset (libfaketime's `FAKETIME`), undefined for a right one. */
const SERVER_SKEWS: readonly (string | undefined)[] = ["+5m", undefined, "-5m", "+90s"];

const NAME =
  "jepsen: servers' clocks 5 min ahead, right, 5 min behind and 90 s ahead, brokers' 40 s ahead, right and 40 s behind, under kill -9, SIGSTOP, wipes and kv repair across a restart: every read is explained, and after kv repair all replicas are identical and every key reads its last acknowledged write (NOT FOUND once deleted)";

Deno.test({
  name: CLOCKS_CAN_SKEW ? NAME : `${NAME} (ignored: libfaketime is not installed)`,
  ignore: !CLOCKS_CAN_SKEW,
  async fn() {
    await runJepsen({
      start: () =>
        KvCluster.start(SERVER_COUNT, {
          durable: true,
          server: (index) => {
            const skew = SERVER_SKEWS[index];
            return { kv: skew === undefined ? TEST_KV : faketimeInvocation(TEST_KV, skew) };
          },
        }),
      faults: ["kill", "hang", "wipe", "repair"],
      repair: true,
      skewedClocks: true,
    });
  },
});
