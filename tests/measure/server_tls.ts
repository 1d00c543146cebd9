/**
 * What TLS costs a `kv server`: its CPU per GET over TLS (`--tls-cert`) and over plain TCP,
 * this checkout's against each other checkout's `main.ts` given (say one before a change to
 * how the server ends TLS). Each server holds the same {@link RECORDS} small records and
 * serves the same GETs, from {@link CONNECTIONS} connections of this process, each sending
 * one GET at a time (`one`) or {@link BATCH} in one write (`batch`, ten times as many GETs);
 * the servers take turns,
 * round after round, after a warm-up. CPU time (user + sys, from `/proc`), not throughput,
 * so that it means something on a machine shared with other work. First, the memory of a
 * connection: each server's RSS growth with {@link IDLE_CONNECTIONS} more that said HELLO
 * and idle. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/server_tls.ts [gets per round] [rounds] [other main.ts ...]   # 20000 3
 * ```
 * @module
 */
import { denoRunArgs, ServerProcess } from "../../lib/cli/server_process.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { str } from "../../lib/record/value.ts";
import { MAIN_PATH } from "../helpers/run_kv.ts";
import { makeTestCerts, serverTlsFlags } from "../helpers/tls_certs.ts";
import { cpuMicros, sendRound } from "./workload.ts";

const RECORDS = 1000;
const CONNECTIONS = 50;
const BATCH = 32;
const WARM_UP_GETS = 10_000;
const IDLE_CONNECTIONS = 500;

const gets = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 3);
const others = Deno.args.slice(2);

/** One connection that sends GETs and counts their answers. */
class Gets {
  readonly #conn: Deno.Conn;
  readonly #reader = new FrameReader();
  #requestId = 1;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to `port` (over TLS when given the CA) and completes HELLO. */
  static async open(port: number, caPem: string | undefined): Promise<Gets> {
    const address = { hostname: "localhost", port };
    const conn = caPem === undefined
      ? await Deno.connect(address)
      : await Deno.connectTls({ ...address, caCerts: [caPem] });
    const gets = new Gets(conn);
    const hello = new FrameWriter();
    hello.hello(0);
    await gets.round(hello, 1);
    return gets;
  }

  /** Sends `frames` (holding `count` requests) in one write and reads their answers. */
  round(frames: FrameWriter, count: number): Promise<void> {
    return sendRound(this.#conn, this.#reader, frames.bytes(), count);
  }

  /** `count` GETs of random records, `batch` a write. */
  async run(count: number, batch: number): Promise<void> {
    for (let left = count; left > 0; left -= batch) {
      const frames = new FrameWriter();
      const size = Math.min(batch, left);
      for (let i = 0; i < size; i++) {
        frames.get(this.#requestId++, `key${Math.floor(Math.random() * RECORDS)}`);
      }
      await this.round(frames, size);
    }
  }

  close(): void {
    this.#conn.close();
  }
}

/** A server to measure: how it is run, and its connections. */
interface Side {
  name: string;
  server: ServerProcess;
  /** The CA to connect with over TLS; none: plain TCP. */
  caPem: string | undefined;
  clients: Gets[];
}

async function startSide(
  name: string,
  main: string,
  tlsFlags: string[],
  caPem?: string,
): Promise<Side> {
  const kv = { command: Deno.execPath(), args: denoRunArgs(main) };
  const server = await ServerProcess.start({ kv, args: tlsFlags });
  const loader = await Gets.open(server.port, caPem);
  const frames = new FrameWriter();
  const version = { ms: Date.now(), counter: 0, broker: 1 };
  for (let i = 0; i < RECORDS; i++) frames.put(i + 1, `key${i}`, str(`value ${i}`), { version });
  await loader.round(frames, RECORDS);
  loader.close();
  return { name, server, caPem, clients: [] };
}

/**
 * Opens `side`'s {@link CONNECTIONS} connections, once the memory is measured: the servers'
 * idle timeout (30 s) would close them while it is.
 */
async function openClients(side: Side): Promise<void> {
  side.clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => Gets.open(side.server.port, side.caPem)),
  );
}

/** A process's resident set size in kB, from /proc. */
async function rssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
}

/** How many kB of RSS each of {@link IDLE_CONNECTIONS} more connections, greeted, takes. */
async function kbPerConnection(side: Side): Promise<number> {
  const before = await rssKb(side.server.pid!);
  const idle: Gets[] = [];
  for (let i = 0; i < IDLE_CONNECTIONS; i++) {
    idle.push(await Gets.open(side.server.port, side.caPem));
  }
  const after = await rssKb(side.server.pid!);
  for (const client of idle) client.close();
  return (after - before) / IDLE_CONNECTIONS;
}

/** The server's CPU µs per GET for `count` GETs over all its connections, `batch` a write. */
async function cpuPerGet(side: Side, count: number, batch: number): Promise<number> {
  const before = (await cpuMicros(side.server.pid!))!;
  const share = Math.ceil(count / side.clients.length);
  await Promise.all(side.clients.map((client) => client.run(share, batch)));
  const after = (await cpuMicros(side.server.pid!))!;
  return (after - before) / (share * side.clients.length);
}

const certDir = await Deno.makeTempDir({ prefix: "kv-measure-certs-" });
const certs = await makeTestCerts(certDir);
const caPem = await Deno.readTextFile(certs.caPem);
const tls = serverTlsFlags(certs);
const sides: Side[] = [
  await startSide("plain, this checkout", MAIN_PATH, []),
  await startSide("TLS, this checkout", MAIN_PATH, tls, caPem),
];
for (const main of others) sides.push(await startSide(`TLS, ${main}`, main, tls, caPem));
try {
  console.log(`load average ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
  // First, while the servers hold little garbage whose collection would hide the growth.
  const memory: string[] = [];
  for (const side of sides) {
    memory.push(`${side.name} ${(await kbPerConnection(side)).toFixed(0)} kB`);
  }
  console.log(`RSS a connection (${IDLE_CONNECTIONS} more, idle): ${memory.join(", ")}`);
  for (const side of sides) await openClients(side);
  for (const side of sides) await cpuPerGet(side, WARM_UP_GETS, 1);
  for (let round = 1; round <= rounds; round++) {
    for (const [mode, batch] of [["one", 1], ["batch", BATCH]] as const) {
      const line: string[] = [];
      // Batched GETs cost a tenth as much: ten times as many keep the count of /proc's
      // 10 ms ticks up.
      const count = batch === 1 ? gets : gets * 10;
      for (const side of sides) {
        line.push(`${side.name} ${(await cpuPerGet(side, count, batch)).toFixed(2)} µs`);
      }
      console.log(`round ${round} (${mode}): server CPU per GET: ${line.join(", ")}`);
    }
  }
  console.log(`load average ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
} finally {
  for (const side of sides) {
    for (const client of side.clients) client.close();
    await side.server.stop();
  }
  await Deno.remove(certDir, { recursive: true });
}
