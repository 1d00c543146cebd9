/**
 * How soon a running client uses a restarted server again, and what a rolling restart costs
 * the writes of a running client (README, Failures: "Sooner when reads and writes want it"
 * and "Restarting servers one at a time"), with real `kv server` processes holding data
 * dirs and one library client (k = 2, `timeoutMs` 500):
 *
 * 1. One server killed (SIGKILL), kept down 1, 3 and 6 s and started again, the client busy
 *    with writes or idle: the milliseconds from the server's port listening again to the
 *    client's `servers()` showing it up.
 * 2. `restarts` servers stopped (SIGTERM) and started in turn, the next one
 *    {@link PAUSE_AFTER_LISTEN_MS} after the last listened again (a fixed pause, not "once
 *    the client uses it again": that is what the README's by-the-book procedure adds),
 *    while {@link WRITERS} workers write: writes acknowledged, acknowledged with the
 *    beyond-F warning, and failed.
 *
 * A measurement script, not a test (tests/broker/availability_test.ts checks the by-the-book
 * restart):
 *
 * ```sh
 * deno run -A tests/measure/rolling_restart.ts [restarts]   # default 8
 * ```
 * @module
 */
import type { Kv } from "../../mod.ts";
import type { ServerProcess } from "../../lib/cli/server_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { waitFor } from "../helpers/wait.ts";

const SERVERS = 4;
const REPLICAS = 2;
/** The client's request and connect timeout, as the review that first measured this used. */
const CLIENT_TIMEOUT_MS = 500;
const DOWN_SECONDS = [1, 3, 6] as const;
const DEFAULT_RESTARTS = 8;
/** The pause between one server listening again and the next one's stop. */
const PAUSE_AFTER_LISTEN_MS = 1_000;
/** Write workers of the rolling restart's client. */
const WRITERS = 8;
/** Keys each writer cycles over, so that the servers' stores stay small. */
const KEYS_PER_WRITER = 40;
/** How often the first part asks the client whether it uses the server again. */
const POLL_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What {@link writeUntil} counted. */
interface WriteCounts {
  acknowledged: number;
  warned: number;
  failed: number;
}

/** Writes with `workers` workers until `stopped()` says so, counting the outcomes. */
async function writeUntil(kv: Kv, workers: number, stopped: () => boolean): Promise<WriteCounts> {
  const counts: WriteCounts = { acknowledged: 0, warned: 0, failed: 0 };
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; !stopped(); i++) {
      try {
        const answer = await kv.put(`rolling${worker}-${i % KEYS_PER_WRITER}`, { i, worker });
        counts.acknowledged++;
        if (answer.warning !== undefined) counts.warned++;
      } catch {
        counts.failed++;
      }
    }
  }));
  return counts;
}

/** Kills `server`, keeps it down `downSeconds`, starts it; ms until `kv` uses it again. */
async function backInUse(
  kv: Kv,
  server: ServerProcess,
  downSeconds: number,
  busy: boolean,
): Promise<number> {
  await server.kill();
  let stop = false;
  const writes = busy ? writeUntil(kv, 1, () => stop) : Promise.resolve(undefined);
  try {
    await sleep(downSeconds * 1000);
    await server.restart();
    const listening = performance.now();
    await waitFor(
      async () => (await kv.servers()).some((report) => report.server === server.id && report.up),
      { what: `the client to use ${server.id} again`, intervalMs: POLL_MS },
    );
    return performance.now() - listening;
  } finally {
    stop = true;
    await writes;
  }
}

async function measureReconnects(): Promise<void> {
  await using cluster = await KvCluster.start(SERVERS, { durable: true });
  const kv = await cluster.connect({ replicas: REPLICAS, timeoutMs: CLIENT_TIMEOUT_MS });
  try {
    for (const busy of [true, false]) {
      for (const downSeconds of DOWN_SECONDS) {
        const ms = await backInUse(kv, cluster.servers[0], downSeconds, busy);
        console.log(
          `down ${downSeconds} s, client ${busy ? "busy with writes" : "idle"}: ` +
            `used again ${ms.toFixed(0)} ms after the port listened`,
        );
      }
    }
  } finally {
    await kv.close();
  }
}

async function measureRollingRestart(restarts: number): Promise<void> {
  await using cluster = await KvCluster.start(SERVERS, { durable: true });
  const kv = await cluster.connect({ replicas: REPLICAS, timeoutMs: CLIENT_TIMEOUT_MS });
  let stop = false;
  const writes = writeUntil(kv, WRITERS, () => stop);
  const started = performance.now();
  try {
    for (let r = 0; r < restarts; r++) {
      const server = cluster.servers[r % SERVERS];
      await server.stop("SIGTERM");
      await server.restart();
      await sleep(PAUSE_AFTER_LISTEN_MS);
    }
  } finally {
    stop = true;
  }
  const counts = await writes;
  await kv.close();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${restarts} restarts in ${seconds.toFixed(1)} s, ${WRITERS} writers: ` +
      `${counts.acknowledged} writes acknowledged, ${counts.warned} of them warned, ` +
      `${counts.failed} failed`,
  );
}

const restarts = Number(Deno.args[0] ?? DEFAULT_RESTARTS);
if (!Number.isSafeInteger(restarts) || restarts < 1) {
  console.error(`restarts must be a whole number ≥ 1, not ${Deno.args[0]}`);
  Deno.exit(2);
}
console.log(`load: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
await measureReconnects();
await measureRollingRestart(restarts);
console.log(`load: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
