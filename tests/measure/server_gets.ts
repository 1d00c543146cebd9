/**
 * A kv server's own CPU per GET, with no client library and no broker in the way
 * (issue 13's "server's GET path"): one `kv server` holding 1000 records of the
 * `kv gen -d 3 -l 8 -m 6` shape, and raw connections that send GET frames in
 * batches (one write of `batch` frames, then every answer read before the next),
 * for each batch size given; `BATCHxCONNECTIONS` (say `1x50`) runs that many
 * connections at once, each its own closed loop. Per batch size it prints the
 * server's CPU time (user and system, from /proc) per GET and per batch, and the
 * GETs a second. The client only counts answer frames, so nearly all the time is
 * the server's and the kernel's: the per-batch part is the system calls and
 * wake-ups, the per-GET part the server's JavaScript. To compare two versions, run
 * it from each checkout in turn, alternating. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/server_gets.ts [gets] [batch[xconnections] ...]   # default 100000 1 32 256 1x50
 * ```
 * @module
 */
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { cpuMicros, makeWorkload, sendRound, startLoadedServer } from "./workload.ts";

const RECORDS = 1000;
const DEFAULT_GETS = 100_000;
const DEFAULT_BATCHES = ["1", "32", "256", "1x50"];

/** Batches sent first and not counted, so that the server's code is compiled. */
const WARM_UP_BATCHES = 200;

/** Distinct batches prepared (keys spread over the records), sent in turn. */
const PREPARED_BATCHES = 64;

/** A request id never used by a GET: HELLO's. */
const HELLO_REQUEST_ID = 0;

/** One connection that writes whole batches of GET frames and counts the answers. */
class RawGets {
  readonly #conn: Deno.TcpConn;
  readonly #reader = new FrameReader();

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to `port` and completes HELLO. */
  static async open(port: number): Promise<RawGets> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const gets = new RawGets(conn);
    const hello = new FrameWriter();
    hello.hello(HELLO_REQUEST_ID);
    await gets.#round(hello.bytes(), 1);
    return gets;
  }

  /** Sends `frames` (holding `count` requests) in one write and reads their `count` answers. */
  #round(frames: Uint8Array, count: number): Promise<void> {
    return sendRound(this.#conn, this.#reader, frames, count);
  }

  /** Sends `rounds` batches, taking them in turn from `batches` (each of `batch` GETs). */
  async run(batches: readonly Uint8Array[], batch: number, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      await this.#round(batches[round % batches.length], batch);
    }
  }

  close(): void {
    this.#conn.close();
  }
}

/** PREPARED_BATCHES batches of `batch` GET frames for keys spread over the records. */
function prepareBatches(batch: number): Uint8Array[] {
  return Array.from({ length: PREPARED_BATCHES }, (_, index) => {
    const frames = new FrameWriter();
    for (let i = 0; i < batch; i++) {
      frames.get(i + 1, `person${(index * batch + i * 7) % RECORDS}`);
    }
    return frames.bytes().slice();
  });
}

/** `BATCH` or `BATCHxCONNECTIONS`: GETs a batch, and connections each sending batches. */
function parseLoad(text: string): { batch: number; connections: number } {
  const [batch, connections = 1] = text.split("x").map(Number);
  if (!(Number.isSafeInteger(batch) && batch >= 1 && Number.isSafeInteger(connections))) {
    throw new Error(`${text}: a load is BATCH or BATCHxCONNECTIONS, whole numbers from 1`);
  }
  return { batch, connections: Math.max(1, connections) };
}

const gets = Number(Deno.args[0] ?? DEFAULT_GETS);
const loads = (Deno.args.length > 1 ? Deno.args.slice(1) : DEFAULT_BATCHES).map(parseLoad);
const workload = await makeWorkload(RECORDS);
const loaded = await startLoadedServer(workload);
const { server } = loaded;
try {
  console.log(
    "| GETs a batch | connections | server CPU µs/GET | server CPU µs/batch | GETs/s | load (1 min) |",
  );
  console.log(
    "| ------------ | ----------- | ----------------- | ------------------- | ------ | ------------ |",
  );
  for (const { batch, connections } of loads) {
    const batches = prepareBatches(batch);
    const clients = await Promise.all(
      Array.from({ length: connections }, () => RawGets.open(server.port)),
    );
    const runAll = (rounds: number) =>
      Promise.all(clients.map((client) => client.run(batches, batch, rounds)));
    try {
      await runAll(WARM_UP_BATCHES);
      const rounds = Math.ceil(gets / batch / connections);
      const cpuBefore = (await cpuMicros(server.pid!))!;
      const startedAt = performance.now();
      await runAll(rounds);
      const seconds = (performance.now() - startedAt) / 1000;
      const cpu = (await cpuMicros(server.pid!))! - cpuBefore;
      const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
      const batchCount = rounds * connections;
      console.log(
        `| ${batch} | ${connections} | ${(cpu / (batchCount * batch)).toFixed(2)} | ` +
          `${(cpu / batchCount).toFixed(0)} | ${Math.round(batchCount * batch / seconds)} | ` +
          `${load} |`,
      );
    } finally {
      for (const client of clients) client.close();
    }
  }
} finally {
  await loaded.stop();
  await workload.remove();
}
