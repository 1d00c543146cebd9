/**
 * What kv http's answer budget (lib/http/answer_budget.ts) bounds: the peak memory (VmHWM)
 * of a `kv http` that `clients` connections each ask for a 15 MiB record of control
 * characters (about 94 MB of JSON, each `\u0001` six bytes) and then stop reading, with
 * the default `--max-answer-bytes` and with one of 2^40 (no bound in practice, as before
 * it), each a fresh `kv http` on one `kv server`; and how many of the clients got the
 * record (200) and how many a 503. With `guard`, both run the connection guard, else
 * `--header-timeout-ms 0`. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/http_answer_memory.ts [clients] [guard|none]   # 6 guard
 * ```
 * @module
 */
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";

const clients = Number(Deno.args[0] ?? 6);
const guard = (Deno.args[1] ?? "guard") === "guard";
/** The record: 15 MiB of U+0001, under the servers' 16 MiB frame. */
const CONTROL_CHARACTERS = 15 * 1024 * 1024;

/** A field of `/proc/PID/status`, in kB. */
async function statusKb(pid: number, field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text)?.[1]);
}

/** A connection that asks for the record and reads only its answer's status line. */
async function stalledGet(url: string): Promise<{ conn: Deno.Conn; status: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode("GET /v1/records/ctl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
  );
  const buffer = new Uint8Array(256);
  const count = await conn.read(buffer);
  const status = new TextDecoder().decode(buffer.subarray(0, count ?? 0)).split("\r\n")[0];
  return { conn, status };
}

await using cluster = await KvCluster.start(1);
const value = JSON.stringify("\u0001".repeat(CONTROL_CHARACTERS));
for (const budget of [undefined, String(2 ** 40)]) {
  const http = await HttpProcess.start([
    ...["-s", cluster.serverFile, "--max-body-bytes", String(2 * value.length)],
    ...(budget === undefined ? [] : ["--max-answer-bytes", budget]),
    ...(guard ? [] : ["--header-timeout-ms", "0"]),
  ]);
  try {
    const put = await fetch(`${http.url}v1/records/ctl`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: value,
    });
    if (put.status !== 200) throw new Error(`PUT: ${put.status} ${await put.text()}`);
    await put.body?.cancel();
    const before = await statusKb(http.pid, "VmRSS");
    const putPeak = await statusKb(http.pid, "VmHWM");
    const gets = [];
    for (let index = 0; index < clients; index++) gets.push(await stalledGet(http.url));
    const statuses = gets.map((get) => get.status.split(" ")[1]);
    const peak = await statusKb(http.pid, "VmHWM");
    for (const { conn } of gets) conn.close();
    console.log(
      `--max-answer-bytes ${budget ?? "default"}, ${guard ? "guard" : "no guard"}: ` +
        `${clients} stalled GETs: ${statuses.filter((s) => s === "200").length} × 200, ` +
        `${statuses.filter((s) => s === "503").length} × 503; before them VmRSS ${before} kB ` +
        `(VmHWM ${putPeak} kB, the PUT's); after, VmHWM ${peak} kB`,
    );
  } finally {
    await http.stop();
  }
}
