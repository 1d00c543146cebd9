/**
 * What a write's check of the k its servers record costs the server (README, The cluster's
 * k): a broker asks each server of a write `SET_K` of the k it last told, where it sent a
 * `PING` before, so the server's CPU per `SET_K` against per `PING`, one request at a time
 * on one connection. The server is a `kv server` process of its own, its CPU (user + sys)
 * read from /proc over the counted requests, the two kinds in turn for several rounds, so
 * that each sees the same machine: CPU, not wall, which a loaded machine stretches. A
 * measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/k_check_cpu.ts [requests] [rounds]   # default 20000 3
 * ```
 * @module
 */
import { ServerClient } from "../../lib/protocol/client.ts";
import { startServerProcess } from "../helpers/server_process.ts";

const requests = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 3);
/** Clock ticks a second of /proc's CPU counters (USER_HZ). */
const TICKS_PER_SECOND = 100;

/** The CPU (user + sys) process `pid` used so far, in µs. */
function cpuMicros(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1_000_000 / TICKS_PER_SECOND;
}

const server = await startServerProcess();
try {
  const pid = server.pid!;
  const client = await ServerClient.connect(server.address, {
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
  });
  await client.setK(2);
  const kinds = { PING: () => client.ping(), SET_K: () => client.setK(2) };
  const seen: Record<string, number[]> = { PING: [], SET_K: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [kind, request] of Object.entries(kinds)) {
      const before = cpuMicros(pid);
      for (let i = 0; i < requests; i++) await request();
      seen[kind].push((cpuMicros(pid) - before) / requests);
    }
  }
  await client.close();
  for (const [kind, costs] of Object.entries(seen)) {
    const sorted = costs.toSorted((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${kind.padEnd(5)}  server CPU ${median.toFixed(1)} µs a request (range ` +
        `${sorted[0].toFixed(1)}–${
          sorted.at(-1)!.toFixed(1)
        }) over ${rounds} rounds of ${requests}`,
    );
  }
} finally {
  await server.stop();
}
