/**
 * `kv repair`'s cost against indexing (issue 9's bars), in one run: N records of the
 * `kv gen -d 3 -l 8 -m 6` shape indexed with `kv broker -k 2 --index-only` into 4 local
 * memory-only `kv server`s; then `kv repair` of that cluster, in order (the bar: at most
 * 20 % of the indexing time); then one server restarted empty and `kv repair` refilling
 * it (the bar: at most the indexing time). All three are whole-process wall times. A
 * measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/repair.ts [records]   # default 1000000
 * ```
 * @module
 */
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { makeWorkload, runKvChecked, timeMs } from "./workload.ts";

const DEFAULT_RECORDS = 1_000_000;
const KV_SERVERS = 4;
const REPLICAS = 2;
/** Connect and request timeout of every kv process: a loaded machine must not fail the run. */
const TIMEOUT_MS = "30000";

/** Runs `kv repair -s serverFile --json` and returns its report; throws unless it exits 0. */
async function repair(serverFile: string): Promise<Record<string, unknown>> {
  const output = await new Deno.Command(TEST_KV.command, {
    args: [...TEST_KV.args, "repair", "-s", serverFile, "--json", "--timeout-ms", TIMEOUT_MS],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) throw new Error(`kv repair failed: ${decoder.decode(output.stderr)}`);
  return JSON.parse(decoder.decode(output.stdout));
}

const recordCount = Number(Deno.args[0] ?? DEFAULT_RECORDS);
const workload = await makeWorkload(recordCount);
const servers = await Promise.all(
  Array.from({ length: KV_SERVERS }, () => ServerProcess.start({ kv: TEST_KV })),
);
const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
try {
  await Deno.writeTextFile(serverFile, servers.map((server) => `${server.id}\n`).join(""));
  const indexMs = await timeMs(() =>
    runKvChecked([
      "broker",
      ...["-s", serverFile, "-i", workload.dataPath, "-k", String(REPLICAS), "--index-only"],
      ...["--timeout-ms", TIMEOUT_MS],
    ])
  );
  let inOrder: Record<string, unknown> = {};
  const inOrderMs = await timeMs(async () => inOrder = await repair(serverFile));
  await servers[0].restart();
  let refill: Record<string, unknown> = {};
  const refillMs = await timeMs(async () => refill = await repair(serverFile));

  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const percent = (ms: number) => `${((ms / indexMs) * 100).toFixed(0)} %`;
  console.log(`records:          ${recordCount}, k=${REPLICAS}, ${KV_SERVERS} memory-only servers`);
  console.log(`indexing:         ${seconds(indexMs)}  (kv broker -k ${REPLICAS} --index-only)`);
  console.log(
    `repair, in order: ${seconds(inOrderMs)}  (${percent(inOrderMs)} of indexing; bar 20 %; ` +
      `${inOrder.keysChecked} keys checked, ${inOrder.copiesWritten} copies written)`,
  );
  console.log(
    `repair, refill:   ${seconds(refillMs)}  (${percent(refillMs)} of indexing; bar 100 %; ` +
      `${refill.copiesWritten} copies written, ${refill.bytesMoved} bytes moved)`,
  );
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  await Deno.remove(serverFile);
  await workload.remove();
}
