/**
 * The HTTP layer's cost, side by side in one run: GETs of random records
 * through `kv http` with 50 concurrent connections (wrk, from Debian's
 * packages), and the same GETs through the client library with 50 in flight,
 * over one cluster of 4 `kv server` processes (k=2) holding 1000 records of
 * the `kv gen -d 3 -l 8 -m 6` shape. Both runs last the same time and ask for
 * keys uniform over the records; they alternate for a few rounds, so a burst
 * of load from elsewhere on the machine falls on both, and the median of the
 * rounds' ratios is the figure. One `kv http` serves every round, and both sides
 * first run 2 s uncounted, so the rounds compare steady states. A measurement
 * script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/http_speed.ts [seconds per run] [servers] [rounds]   # default 5 4 3
 * ```
 * @module
 */
import { connect } from "../../mod.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { makeWorkload, runKvChecked } from "./workload.ts";

const RECORDS = 1_000;
const CONNECTIONS = 50;
const SECONDS = Number(Deno.args[0] ?? 5);

/** Seconds each side runs before the rounds, not counted. */
const WARM_UP_SECONDS = 2;
const SERVERS = Number(Deno.args[1] ?? 4);
const ROUNDS = Number(Deno.args[2] ?? 3);
const K = Math.min(2, SERVERS);
/** Generous: a loaded machine must not turn a slow answer into a failed run. */
const TIMEOUT_MS = 10_000;
await using cluster = await KvCluster.start(SERVERS);
const workload = await makeWorkload(RECORDS);
await runKvChecked([
  "broker",
  "-s",
  cluster.serverFile,
  "-k",
  String(K),
  "-i",
  workload.dataPath,
  "--index-only",
  "--timeout-ms",
  String(TIMEOUT_MS),
]);
await workload.remove();

/** GETs through the library: 50 loops, each one GET in flight at a time, for `seconds`. */
async function libraryGetsPerSecond(seconds: number): Promise<number> {
  await using kv = await connect({
    servers: cluster.serverFile,
    replicas: K,
    timeoutMs: TIMEOUT_MS,
  });
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const { value } = await kv.get(`person${Math.floor(Math.random() * RECORDS)}`);
      if (value === null) throw new Error("a record is missing");
      count++;
    }
  }));
  return count / seconds;
}

/** GETs through kv http with wrk: 50 connections, one thread, random keys, for `seconds`. */
async function httpGetsPerSecond(
  url: string,
  seconds: number,
): Promise<{ rate: number; command: string }> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    script,
    `request = function() return wrk.format("GET", "/v1/records/person" .. math.random(0, ${
      RECORDS - 1
    })) end\n` +
      `done = function(summary, latency, requests)\n` +
      `  io.write(string.format("non2xx %d\\n", summary.errors.status))\n` +
      `end\n`,
  );
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "-s", script, url];
  const output = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "inherit" })
    .output();
  await Deno.remove(script);
  const text = new TextDecoder().decode(output.stdout);
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const non2xx = Number(/non2xx (\d+)/.exec(text)?.[1]);
  if (!(rate > 0) || non2xx !== 0) throw new Error(`wrk failed:\n${text}`);
  return { rate, command: `wrk ${args.join(" ")}` };
}

await using http = await HttpProcess.start([
  "-s",
  cluster.serverFile,
  "-k",
  String(K),
  "--timeout-ms",
  String(TIMEOUT_MS),
  // Without the connection guard, as every run in README was (on loopback it was off by
  // default then): its relay's own cost is measured by tests/measure/http_guard.ts.
  "--header-timeout-ms",
  "0",
]);
// Both sides run their code compiled before anything is counted: the rounds compare
// steady states, not two warm-ups.
await libraryGetsPerSecond(WARM_UP_SECONDS);
await httpGetsPerSecond(http.url, WARM_UP_SECONDS);
const ratios: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const library = await libraryGetsPerSecond(SECONDS);
  const measured = await httpGetsPerSecond(http.url, SECONDS);
  ratios.push(measured.rate / library);
  console.log(
    `round ${round}: library ${Math.round(library)} GETs/s (${CONNECTIONS} in flight), ` +
      `http ${Math.round(measured.rate)} GETs/s (${measured.command}), ratio ${
        (measured.rate / library).toFixed(2)
      }`,
  );
}
ratios.sort((a, b) => a - b);
console.log(`median http / library: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}`);
