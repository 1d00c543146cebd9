/**
 * A kv server's RSS under the two memory attacks of the security issue, read from /proc:
 *
 * 1. 300 connections each send HELLO, then one ~1 MiB bad request, then idle;
 * 2. 40 connections each send HELLO, then announce a 16 MiB frame, send all of it but
 *    the last byte, and stall.
 *
 * For each: RSS before, at the peak (once every attacker has sent all it will), and after
 * the attackers close (given a few seconds to settle), with how many attackers the server
 * closed itself. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/connection_attacks.ts [path/to/main.ts] [server flags...]
 * ```
 *
 * With another checkout's main.ts it measures that version (the "before" figures).
 * @module
 */
import { denoRunArgs, ServerProcess } from "../../lib/cli/server_process.ts";
import { MAIN_PATH } from "../helpers/run_kv.ts";
import { badRequest, openAttackers, rssBytes, stalledFrame } from "../helpers/attacks.ts";

/** How long the server is given to settle (GC, freed pages) before a reading. */
const SETTLE_MS = 3_000;

const MIB = 1024 * 1024;
const mainPath = Deno.args[0] ?? MAIN_PATH;
const serverFlags = Deno.args.slice(1);

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(0)} MiB`;
}

function settle(ms = SETTLE_MS): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function attack(
  server: ServerProcess,
  name: string,
  count: number,
  payload: Uint8Array,
): Promise<void> {
  const pid = server.pid!;
  const before = await rssBytes(pid);
  let peak = before;
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await rssBytes(pid).catch(() => 0));
  }, 50);
  const attackers = await openAttackers(server.address, count, payload);
  await settle();
  peak = Math.max(peak, await rssBytes(pid));
  clearInterval(sampler);
  const closed = attackers.closedByServer();
  attackers.close();
  await settle();
  const after = await rssBytes(pid);
  console.log(
    `${name}: RSS ${mib(before)} before, ${mib(peak)} at the peak, ${mib(after)} after ` +
      `(${after - before >= 0 ? "+" : ""}${mib(after - before)}); ` +
      `${closed} of ${count} connections closed by the server`,
  );
}

const server = await ServerProcess.start({
  kv: { command: Deno.execPath(), args: denoRunArgs(mainPath) },
  args: serverFlags,
});
try {
  await settle(1_000);
  await attack(server, "300 x 1 MiB bad request, then idle", 300, badRequest(MIB));
  await attack(server, "40 x 16 MiB frame stalled 1 byte short", 40, stalledFrame(16 * MIB));
} finally {
  await server.stop();
}
