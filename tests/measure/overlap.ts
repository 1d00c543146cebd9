/**
 * Would a pipelining client gain from working while the server works (issue 13's
 * 32-in-flight row)? `kv bench --pipeline 32` runs in lock step: 32 requests out, 32
 * answers back in one write, then the client works through them and makes the next 32
 * while the server idles, so every GET costs the client's CPU and the server's one after
 * the other. This script drives one `kv server` (1000 records of the
 * `kv gen -d 3 -l 8 -m 6` shape) from a raw connection with no library, which spends
 * `work` µs of CPU on each answer — standing in for the library's and its caller's
 * work — in two shapes, each with 32 GETs in flight:
 *
 * - lock step: one write of 32 GET frames, then all 32 answers before the next write;
 * - halves: two batches of 16 alternate: after every 16 answers worked through, 16 new
 *   GETs are written, so the server answers one half while the client works through
 *   the other. Each process then makes twice the system calls per GET, and is woken
 *   twice as often.
 *
 * Rounds alternate the shapes; each prints GETs/s and both processes' CPU per GET (user
 * and system, from /proc). Halves pay only where the second core is free and a wake-up
 * costs less than the work it lets run at once. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/overlap.ts [gets] [work-µs] [rounds]   # default 100000 3.5 3
 * ```
 * @module
 */
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MessageType } from "../../lib/protocol/mod.ts";
import { cpuMicros, makeWorkload, startLoadedServer } from "./workload.ts";

const RECORDS = 1000;
const DEFAULT_GETS = 100_000;
const DEFAULT_WORK_MICROS = 3.5;
const DEFAULT_ROUNDS = 3;

/** GETs in flight in both shapes, as `kv bench --pipeline 32` and `redis-benchmark -P 32`. */
const IN_FLIGHT = 32;

/** GETs a half: the halves shape writes this many at a time. */
const HALF = IN_FLIGHT / 2;

/** GETs answered first in lock step, uncounted, so that the server's read path is compiled. */
const WARM_UP_GETS = 30_000;

/** Distinct batches prepared (keys spread over the records), sent in turn. */
const PREPARED_BATCHES = 64;

/** A request id never used by a GET: HELLO's. */
const HELLO_REQUEST_ID = 0;

/** Spends `micros` µs of this process's time, as a client working through an answer would. */
function work(micros: number): void {
  const end = performance.now() + micros / 1000;
  while (performance.now() < end) {
    // Busy on purpose: the client's CPU per answer.
  }
}

/** PREPARED_BATCHES batches of `size` GET frames for keys spread over the records. */
function prepareBatches(size: number): Uint8Array[] {
  return Array.from({ length: PREPARED_BATCHES }, (_, index) => {
    const frames = new FrameWriter();
    for (let i = 0; i < size; i++) frames.get(i + 1, `person${(index * size + i * 7) % RECORDS}`);
    return frames.bytes().slice();
  });
}

/** One raw connection that writes GET frames and works through their answers. */
class RawClient {
  readonly #conn: Deno.TcpConn;
  readonly #reader = new FrameReader();
  readonly #workMicros: number;

  private constructor(conn: Deno.TcpConn, workMicros: number) {
    this.#conn = conn;
    this.#workMicros = workMicros;
  }

  /** Connects to `port` and completes HELLO. */
  static async open(port: number, workMicros: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const client = new RawClient(conn, workMicros);
    const hello = new FrameWriter();
    hello.hello(HELLO_REQUEST_ID);
    await client.#write(hello.bytes());
    await client.#answers(1, () => {});
    return client;
  }

  /** Lock step: `gets` GETs, IN_FLIGHT to a write, every answer read before the next write. */
  async lockStep(gets: number): Promise<void> {
    const batches = prepareBatches(IN_FLIGHT);
    for (let sent = 0; sent < gets; sent += IN_FLIGHT) {
      await this.#write(batches[(sent / IN_FLIGHT) % PREPARED_BATCHES]);
      await this.#answers(IN_FLIGHT, () => work(this.#workMicros));
    }
  }

  /** Halves: `gets` GETs, HALF more written after every HALF answers worked through. */
  async halves(gets: number): Promise<void> {
    const batches = prepareBatches(HALF);
    let sent = 0;
    const sendHalf = () => {
      const batch = batches[(sent / HALF) % PREPARED_BATCHES];
      sent += HALF;
      return this.#write(batch);
    };
    await sendHalf();
    await sendHalf();
    let answered = 0;
    while (answered < sent) {
      await this.#answers(HALF, () => work(this.#workMicros));
      answered += HALF;
      if (sent < gets) await sendHalf();
    }
  }

  /** Reads `count` answers, calling `each` per answer; every answer must be OK. */
  async #answers(count: number, each: () => void): Promise<void> {
    for (let answered = 0; answered < count;) {
      // Frames already read come first: a read may have brought the next half's too.
      for (let frame = this.#reader.next(); frame; frame = this.#reader.next()) {
        if (frame.type !== MessageType.OK) throw new Error(`answer type ${frame.type}, not OK`);
        each();
        if (++answered === count) return;
      }
      const read = await this.#conn.read(this.#reader.space());
      if (read === null) throw new Error("the server closed the connection");
      this.#reader.filled(read);
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  close(): void {
    this.#conn.close();
  }
}

const gets = Number(Deno.args[0] ?? DEFAULT_GETS);
const workMicros = Number(Deno.args[1] ?? DEFAULT_WORK_MICROS);
const rounds = Number(Deno.args[2] ?? DEFAULT_ROUNDS);
if (!(gets >= IN_FLIGHT && workMicros >= 0 && rounds >= 1)) {
  throw new Error(`gets at least ${IN_FLIGHT}, work-µs at least 0, rounds at least 1`);
}
const workload = await makeWorkload(RECORDS);
const loaded = await startLoadedServer(workload);
const { server } = loaded;
const client = await RawClient.open(server.port, workMicros);
try {
  await client.lockStep(WARM_UP_GETS);
  console.log(`${IN_FLIGHT} GETs in flight, ${workMicros} µs of client work per answer`);
  console.log("| shape | GETs/s | server CPU µs/GET | client CPU µs/GET | load (1 min) |");
  console.log("| ----- | ------ | ----------------- | ----------------- | ------------ |");
  const shapes = [
    { name: "lock step", run: (n: number) => client.lockStep(n) },
    { name: "halves", run: (n: number) => client.halves(n) },
  ];
  for (let round = 0; round < rounds; round++) {
    for (const shape of shapes) {
      const serverBefore = (await cpuMicros(server.pid!))!;
      const clientBefore = (await cpuMicros(Deno.pid))!;
      const startedAt = performance.now();
      await shape.run(gets);
      const seconds = (performance.now() - startedAt) / 1000;
      const serverCpu = (await cpuMicros(server.pid!))! - serverBefore;
      const clientCpu = (await cpuMicros(Deno.pid))! - clientBefore;
      const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
      console.log(
        `| ${shape.name} | ${Math.round(gets / seconds)} | ${(serverCpu / gets).toFixed(2)} | ` +
          `${(clientCpu / gets).toFixed(2)} | ${load} |`,
      );
    }
  }
} finally {
  client.close();
  await loaded.stop();
  await workload.remove();
}
