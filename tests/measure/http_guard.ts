/**
 * What kv http's connection guard (lib/http/connection_guard.ts) costs: CPU of the
 * `kv http` process per GET with the guard (`--header-timeout-ms 10000`) and without it
 * (`--header-timeout-ms 0`, `Deno.serve` alone), each serving the same GETs of random
 * records (1000 of the `-d 3 -l 8 -m 6` shape, one `kv server`) from 50 keep-alive
 * connections of this process, alternating, after a warm-up. CPU time (user + sys, from
 * `/proc`), not throughput, so that it means something on a machine shared with other work.
 * With `tls`, both serve HTTPS (HTTP/1.1) with a test certificate: the guard ends TLS
 * itself, `Deno.serve` alone ends it in its own way. With `fresh`, each GET comes on a
 * connection of its own (no keep-alive), which the guard gives a `Deno.serve` of its own.
 * A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/http_guard.ts [gets per round] [rounds] [plain|tls] [fresh]   # 20000 3
 * ```
 * @module
 */
import { HttpProcess } from "../helpers/http_process.ts";
import { makeTestCerts } from "../helpers/tls_certs.ts";
import { cpuMicros, makeWorkload, startLoadedServer } from "./workload.ts";

const RECORDS = 1000;
const CONNECTIONS = 50;
const WARMUP_GETS = 5000;

const gets = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 3);
const tls = Deno.args[2] === "tls";
/** No connection carries more than one GET. */
const fresh = Deno.args[3] === "fresh";

/** `count` GETs of random `keys` through `http`, from {@link CONNECTIONS} connections. */
async function getMany(http: HttpProcess, keys: string[], count: number): Promise<void> {
  let left = count;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const poolMaxIdlePerHost = fresh ? 0 : 1;
    using client = Deno.createHttpClient({ poolMaxIdlePerHost, caCerts, http2: false });
    while (left-- > 0) {
      const key = keys[Math.floor(Math.random() * keys.length)];
      const response = await fetch(`${http.url}v1/records/${encodeURIComponent(key)}`, { client });
      if (response.status !== 200) throw new Error(`GET ${key}: ${response.status}`);
      await response.arrayBuffer();
    }
  }));
}

const certDir = await Deno.makeTempDir({ prefix: "kv-measure-certs-" });
const certs = tls ? await makeTestCerts(certDir) : undefined;
const caCerts = certs === undefined ? [] : [await Deno.readTextFile(certs.caPem)];
const workload = await makeWorkload(RECORDS);
const loaded = await startLoadedServer(workload);
const base = [
  ...["-s", loaded.serverFile, "-k", "1", "--timeout-ms", "10000"],
  ...(certs === undefined ? [] : ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey]),
];
const sides: [string, HttpProcess][] = [
  ["guard", await HttpProcess.start([...base, "--header-timeout-ms", "10000"])],
  ["none", await HttpProcess.start([...base, "--header-timeout-ms", "0"])],
];
try {
  using client = Deno.createHttpClient({ caCerts });
  const keysUrl = `${sides[0][1].url}v1/keys?limit=${RECORDS}`;
  const { keys } = await (await fetch(keysUrl, { client })).json();
  for (const [, http] of sides) await getMany(http, keys, WARMUP_GETS);
  console.log(`load average ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
  for (let round = 1; round <= rounds; round++) {
    const line: string[] = [];
    for (const [name, http] of sides) {
      const before = (await cpuMicros(http.pid))!;
      await getMany(http, keys, gets);
      const after = (await cpuMicros(http.pid))!;
      line.push(`${name} ${((after - before) / gets).toFixed(1)} µs`);
    }
    console.log(`round ${round}: kv http CPU per GET: ${line.join(", ")}`);
  }
  console.log(`load average ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
} finally {
  for (const [, http] of sides) await http.stop();
  await loaded.stop();
  await workload.remove();
  await Deno.remove(certDir, { recursive: true });
}
