/**
 * What each layer of the client costs one GET at a time (issue 13's one-at-a-time
 * row, bisected): one `kv server` holding 1000 records of the `kv gen -d 3 -l 8 -m 6`
 * shape, read one awaited GET after another through each layer in turn, in one
 * process:
 *
 * - `raw`: GET frames written on a Deno TCP connection and the answer read back, no
 *   library (the floor: Deno's own socket round trip);
 * - `client`: `ServerClient.getEncoded` (lib/protocol/client.ts, one connection);
 * - `getBytes`: `Kv.getBytes` (the library, replicas: 1: placement, the read walk, the
 *   entry and the value's copy);
 * - `get`: `Kv.get` (the same, with the value made into objects);
 * - `bench`: `kv bench --workload C --distribution uniform --values bytes`'s engine
 *   (`runBench`, lib/bench/runner.ts, with its own connection), as the query-path
 *   table's one-at-a-time row runs it.
 *
 * The layers run in turn for several rounds, so that each sees the same machine; per
 * layer the table gives the median of the rounds and their range: GETs a second, this
 * process's CPU per GET (user and system, `process.cpuUsage`, every thread) and the
 * server's (from /proc). One at a time the two processes mostly take turns, so a GET's
 * wall time is about both CPU figures added, and the slower the client, the dearer each
 * of the server's wake-ups. To compare two versions, run it from each checkout in turn,
 * alternating. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/client_layers.ts [gets] [rounds] [layer ...]   # default 20000 5, every layer
 * ```
 * @module
 */
import process from "node:process";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MessageType } from "../../lib/protocol/mod.ts";
import { ServerClient } from "../../lib/protocol/client.ts";
import { connect, type Kv } from "../../lib/client/kv.ts";
import { runBench } from "../../lib/bench/runner.ts";
import { cpuMicros, makeWorkload, startLoadedServer } from "./workload.ts";
import { BENCH_KEY_PREFIX, recordKey } from "../../lib/bench/workload.ts";

const RECORDS = 1000;
const DEFAULT_GETS = 20_000;
const DEFAULT_ROUNDS = 5;

/** GETs sent before each measured run and not counted, so that the code is compiled. */
const WARM_UP_GETS = 2000;

/** A request id never used by a GET: HELLO's. */
const HELLO_REQUEST_ID = 0;

/** The keys read, in turn: spread over the records. */
const KEYS = Array.from({ length: RECORDS }, (_, index) => recordKey((index * 7) % RECORDS));

/**
 * One layer: `run(gets)` reads that many GETs one at a time, and resolves with its own
 * timing when it has one (kv bench's report, which leaves out its connecting); `close`
 * lets it go.
 */
interface Layer {
  run(gets: number): Promise<OwnTiming | void>;
  close(): void;
}

/** A run's wall seconds and this process's CPU µs, as the layer itself measured them. */
interface OwnTiming {
  readonly seconds: number;
  readonly cpuMicros: number;
}

/** GET frames written on a bare Deno connection, each answer read before the next. */
async function rawLayer(port: number): Promise<Layer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const reader = new FrameReader();
  const frames = KEYS.map((key, index) => {
    const writer = new FrameWriter();
    writer.get(index + 1, key);
    return writer.bytes().slice();
  });
  const round = async (bytes: Uint8Array): Promise<void> => {
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
    for (;;) {
      const read = await conn.read(reader.space());
      if (read === null) throw new Error("the server closed the connection");
      reader.filled(read);
      const frame = reader.next();
      if (frame === undefined) continue;
      if (frame.type !== MessageType.OK) throw new Error(`answer type ${frame.type}, not OK`);
      return;
    }
  };
  const hello = new FrameWriter();
  hello.hello(HELLO_REQUEST_ID);
  await round(hello.bytes());
  return {
    async run(gets) {
      for (let i = 0; i < gets; i++) await round(frames[i % RECORDS]);
    },
    close: () => conn.close(),
  };
}

/** `ServerClient.getEncoded`, one connection. */
async function clientLayer(port: number): Promise<Layer> {
  const client = await ServerClient.connect({ hostname: "127.0.0.1", port });
  return {
    async run(gets) {
      for (let i = 0; i < gets; i++) {
        if ((await client.getEncoded(KEYS[i % RECORDS])).encoded === undefined) notFound();
      }
    },
    close: () => client.close(),
  };
}

/** `Kv.getBytes` or `Kv.get` with replicas: 1. */
async function kvLayer(port: number, read: "getBytes" | "get"): Promise<Layer> {
  const kv: Kv = await connect({ servers: [{ hostname: "127.0.0.1", port }], replicas: 1 });
  return {
    async run(gets) {
      for (let i = 0; i < gets; i++) {
        if ((await kv[read](KEYS[i % RECORDS])).value === null) notFound();
      }
    },
    close: () => kv.close(),
  };
}

/** `kv bench --workload C --distribution uniform --values bytes --no-load`'s engine. */
function benchLayer(port: number): Layer {
  return {
    async run(gets) {
      const report = await runBench({
        servers: [{ hostname: "127.0.0.1", port }],
        replicas: 1,
        workload: "C",
        distribution: "uniform",
        records: RECORDS,
        operations: gets,
        values: "bytes",
        noLoad: true,
      });
      if (report.errors !== 0 || report.notFound !== 0) throw new Error("kv bench failed GETs");
      return { seconds: report.seconds, cpuMicros: report.cpuSeconds * 1e6 };
    },
    close: () => {},
  };
}

function notFound(): never {
  throw new Error("a record the server holds was not found");
}

const LAYERS = ["raw", "client", "getBytes", "get", "bench"] as const;
type LayerName = typeof LAYERS[number];

function openLayer(name: LayerName, port: number): Promise<Layer> | Layer {
  switch (name) {
    case "raw":
      return rawLayer(port);
    case "client":
      return clientLayer(port);
    case "getBytes":
    case "get":
      return kvLayer(port, name);
    case "bench":
      return benchLayer(port);
  }
}

/** One measured run of a layer. */
interface Sample {
  readonly getsPerSecond: number;
  readonly clientMicros: number;
  readonly serverMicros: number;
}

async function measure(layer: Layer, gets: number, serverPid: number): Promise<Sample> {
  await layer.run(WARM_UP_GETS);
  const serverBefore = (await cpuMicros(serverPid))!;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const own = await layer.run(gets);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const server = (await cpuMicros(serverPid))! - serverBefore;
  return {
    getsPerSecond: gets / (own?.seconds ?? seconds),
    clientMicros: (own?.cpuMicros ?? cpu.user + cpu.system) / gets,
    serverMicros: server / gets,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `median (min–max)` of `values`, with `digits` decimals. */
function spread(values: number[], digits: number): string {
  const text = (value: number) => value.toFixed(digits);
  return `${text(median(values))} (${text(Math.min(...values))}–${text(Math.max(...values))})`;
}

function parseLayers(names: string[]): LayerName[] {
  if (names.length === 0) return [...LAYERS];
  return names.map((name) => {
    if (!(LAYERS as readonly string[]).includes(name)) {
      throw new Error(`${name}: a layer is one of ${LAYERS.join(", ")}`);
    }
    return name as LayerName;
  });
}

const gets = Number(Deno.args[0] ?? DEFAULT_GETS);
const rounds = Number(Deno.args[1] ?? DEFAULT_ROUNDS);
if (!(Number.isSafeInteger(gets) && gets >= 1 && Number.isSafeInteger(rounds) && rounds >= 1)) {
  throw new Error("gets and rounds are whole numbers from 1");
}
const layers = parseLayers(Deno.args.slice(2));
const workload = await makeWorkload(RECORDS, BENCH_KEY_PREFIX);
const loaded = await startLoadedServer(workload);
const { server } = loaded;
try {
  const samples = new Map<LayerName, Sample[]>(layers.map((name) => [name, []]));
  const loads: string[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const name of layers) {
      const layer = await openLayer(name, server.port);
      try {
        samples.get(name)!.push(await measure(layer, gets, server.pid!));
      } finally {
        layer.close();
      }
    }
    loads.push((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  }
  console.log(`${gets} GETs one at a time per layer and round, ${rounds} rounds, median (range)`);
  console.log("| layer | GETs/s | client CPU µs/GET | server CPU µs/GET |");
  console.log("| ----- | ------ | ----------------- | ----------------- |");
  for (const [name, runs] of samples) {
    console.log(
      `| ${name} | ${spread(runs.map((run) => run.getsPerSecond), 0)} | ` +
        `${spread(runs.map((run) => run.clientMicros), 1)} | ` +
        `${spread(runs.map((run) => run.serverMicros), 1)} |`,
    );
  }
  console.log(`load (1 min) after each round: ${loads.join(", ")}`);
} finally {
  await loaded.stop();
  await workload.remove();
}
