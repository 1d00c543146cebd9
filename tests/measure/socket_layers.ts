/**
 * Which of Deno's public socket APIs costs the least CPU per round trip (issue 13's GET
 * rows, below the library): bare echo servers and clients built on each, GET-sized
 * (a 30-byte request, a 370-byte answer, about a `kv gen` record's), with no kv code:
 *
 * - `conn`: `Deno.Conn`'s `read` and `write`, awaited (what kv's server and client use);
 * - `node`: `node:net`'s `Socket` and `Server`, driven by `data` events and `write`;
 * - `onread`: `node:net`'s client socket reading through its `onread` option (into one
 *   buffer, a callback per read: no stream, event or `Buffer` per read; clients only);
 * - `streams`: `conn.readable` read through a BYOB reader into one buffer, and
 *   `conn.writable`'s writer.
 *
 * Each API is measured on one side at a time, the other side kept on `conn`: every
 * server API against a `conn` client, and every client API against a `conn` server. The
 * server and each client run in processes of their own; after its warm-up the client
 * reports its own CPU over its counted round trips (`process.cpuUsage`, every thread),
 * and the server's is read from /proc over the same round trips. Three shapes: one
 * request at a time on one connection, 32 in flight on one connection (32 requests
 * written at once, the 32 answers read before the next 32, as `redis-benchmark -P 32`
 * does), and 50 connections with one request at a time each. The pairs run in turn for
 * several rounds, so that each sees the same machine; the table gives each pair's median
 * and range. `placement` pins the processes to CPUs (see placement.ts). A
 * measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/socket_layers.ts [round trips] [rounds] [placement]
 * # default 30000 3 free; placement free, split or same
 * ```
 * @module
 */
import net from "node:net";
import process from "node:process";
import { freePort } from "./redis.ts";
import { writeAll } from "../../lib/base/bytes.ts";
import { cpuMicros, type ListeningProcess, startListening } from "./workload.ts";
import { pinnedCommand, placementOf } from "./placement.ts";

/** Bytes of a request: about a GET frame for a `kv gen` key. */
const REQUEST_BYTES = 30;

/** Bytes of an answer: about a `kv gen` record's OK frame. */
const ANSWER_BYTES = 370;

/** The most requests a connection has in flight (the 32-in-flight shape's depth). */
const MAX_IN_FLIGHT = 32;

/** Round trips before each counted run, so that both sides' code is compiled. */
const WARMUP_ROUND_TRIPS = 20_000;

/** How long a client may take to finish. */
const CLIENT_DEADLINE_MS = 300_000;

/** Bytes a server reads into at once. */
const READ_BUFFER_BYTES = 64 * 1024;

/** The servers' APIs. */
const SERVER_APIS = ["conn", "node", "streams"] as const;
type ServerApi = typeof SERVER_APIS[number];

/** The clients': the same, and `node:net`'s `onread` (a client socket's only). */
const CLIENT_APIS = [...SERVER_APIS, "onread"] as const;
type ClientApi = typeof CLIENT_APIS[number];

/**
 * A run's shape: requests in flight per connection, connections, and how many times the
 * given round trips it runs (pipelined round trips cost a few hundredths as much, and
 * /proc counts CPU in 10 ms ticks).
 */
interface Shape {
  readonly name: string;
  readonly depth: number;
  readonly connections: number;
  readonly scale: number;
}

const SHAPES: readonly Shape[] = [
  { name: "one at a time", depth: 1, connections: 1, scale: 1 },
  { name: "32 in flight", depth: MAX_IN_FLIGHT, connections: 1, scale: 16 },
  { name: "50 connections", depth: 1, connections: 50, scale: 1 },
];

/** The answers to up to a full read buffer's requests, filled with a fixed byte. */
const ANSWERS = new Uint8Array(Math.ceil(READ_BUFFER_BYTES / REQUEST_BYTES) * ANSWER_BYTES)
  .fill(7);

/** The requests of one batch at the deepest shape. */
const REQUESTS = new Uint8Array(MAX_IN_FLIGHT * REQUEST_BYTES).fill(3);

/**
 * Counts whole requests in a stream's reads: a read may end inside a request, whose
 * rest the next read brings.
 */
class RequestCounter {
  #partial = 0;

  /** How many requests `bytes` more bytes complete. */
  add(bytes: number): number {
    const total = this.#partial + bytes;
    this.#partial = total % REQUEST_BYTES;
    return (total - this.#partial) / REQUEST_BYTES;
  }
}

/** A `conn` server's connection: each read answered with one write of its requests' answers. */
async function serveConn(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  const counter = new RequestCounter();
  for (let read; (read = await conn.read(buffer)) !== null;) {
    const count = counter.add(read);
    if (count > 0) await writeAll(conn, ANSWERS.subarray(0, count * ANSWER_BYTES));
  }
}

/** A `streams` server's connection: a BYOB reader into one buffer, the stream's writer. */
async function serveStreams(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const reader = conn.readable.getReader({ mode: "byob" });
  const writer = conn.writable.getWriter();
  const counter = new RequestCounter();
  let buffer = new Uint8Array(READ_BUFFER_BYTES);
  for (;;) {
    const { value, done } = await reader.read(buffer);
    if (done || value === undefined) break;
    // The read hands the buffer back in `value`, over the same (transferred) memory.
    buffer = new Uint8Array(value.buffer);
    const count = counter.add(value.length);
    if (count > 0) await writer.write(ANSWERS.subarray(0, count * ANSWER_BYTES));
  }
}

/** Listens on `port` with `api` and answers every connection; prints "listening". */
async function serve(api: ServerApi, port: number): Promise<void> {
  if (api === "node") {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const counter = new RequestCounter();
      socket.on("data", (chunk: Uint8Array) => {
        const count = counter.add(chunk.length);
        if (count > 0) socket.write(ANSWERS.subarray(0, count * ANSWER_BYTES));
      });
      socket.on("error", () => socket.destroy());
    });
    server.listen(port, "127.0.0.1", () => console.log("listening"));
    return;
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log("listening");
  for await (const conn of listener) {
    const served = api === "conn" ? serveConn(conn) : serveStreams(conn);
    served.catch((error) => console.error(`${api} server: ${error}`)).finally(() => {
      try {
        conn.close();
      } catch {
        // Closed already: a stream closes its connection when it ends.
      }
    });
  }
}

/** Requests sent and answers awaited by one connection of a client. */
interface Batches {
  /** The bytes of one batch's requests. */
  readonly requests: Uint8Array;
  /** Bytes of one batch's answers. */
  readonly answerBytes: number;
  /** Batches to run. */
  readonly count: number;
}

/** One `conn` connection running its batches: requests written, answers read, in turn. */
async function clientConn(port: number, batches: Batches): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const buffer = new Uint8Array(batches.answerBytes);
  try {
    for (let batch = 0; batch < batches.count; batch++) {
      await writeAll(conn, batches.requests);
      for (let got = 0; got < buffer.length;) {
        const read = await conn.read(buffer.subarray(got));
        if (read === null) throw new Error("the server closed the connection");
        got += read;
      }
    }
  } finally {
    conn.close();
  }
}

/** One `streams` connection: a BYOB reader into one buffer, the stream's writer. */
async function clientStreams(port: number, batches: Batches): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const reader = conn.readable.getReader({ mode: "byob" });
  const writer = conn.writable.getWriter();
  let buffer = new Uint8Array(batches.answerBytes);
  for (let batch = 0; batch < batches.count; batch++) {
    // The writer neither copies nor detaches what it is given (checked on Deno 2.9.6).
    await writer.write(batches.requests);
    for (let got = 0; got < batches.answerBytes;) {
      const { value, done } = await reader.read(buffer.subarray(got));
      if (done || value === undefined) throw new Error("the server closed the connection");
      buffer = new Uint8Array(value.buffer);
      got += value.length;
    }
  }
  await writer.close();
}

/** One `node:net` connection: the next batch written from the `data` event that ends one. */
function clientNode(port: number, batches: Batches): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    let got = 0;
    let left = batches.count;
    socket.on("connect", () => socket.write(batches.requests));
    socket.on("data", (chunk: Uint8Array) => {
      got += chunk.length;
      if (got < batches.answerBytes) return;
      got -= batches.answerBytes;
      if (--left > 0) return void socket.write(batches.requests);
      socket.end();
      resolve();
    });
    socket.on("error", reject);
  });
}

/**
 * One `node:net` connection reading through `onread` (Node's documented option for a
 * client socket): each read lands in one buffer given once and is handed to a callback,
 * with no stream, `Buffer` or event per read.
 */
function clientOnread(port: number, batches: Batches): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    let left = batches.count;
    const onread = {
      buffer: new Uint8Array(batches.answerBytes),
      callback(read: number): boolean {
        got += read;
        if (got < batches.answerBytes) return true;
        got -= batches.answerBytes;
        if (--left > 0) socket.write(batches.requests);
        else {
          socket.end();
          resolve();
        }
        return true;
      },
    };
    // onread is in Node's types for net.connect but not in Deno's node:net declarations.
    const options = { port, host: "127.0.0.1", noDelay: true, onread } as net.NetConnectOpts;
    const socket = net.connect(options);
    socket.on("connect", () => socket.write(batches.requests));
    socket.on("error", reject);
  });
}

const CLIENTS = {
  conn: clientConn,
  node: clientNode,
  onread: clientOnread,
  streams: clientStreams,
};

/** Runs `trips` round trips in `shape` on `api`'s connections; resolves when all end. */
async function runClient(api: ClientApi, port: number, shape: Shape, trips: number): Promise<void> {
  const batches: Batches = {
    requests: REQUESTS.subarray(0, shape.depth * REQUEST_BYTES),
    answerBytes: shape.depth * ANSWER_BYTES,
    count: Math.ceil(trips / shape.depth / shape.connections),
  };
  const connections = Array.from({ length: shape.connections }, () => CLIENTS[api](port, batches));
  await Promise.all(connections);
}

/**
 * The client process: warms up, then runs the counted round trips and prints one JSON
 * line with their seconds and this process's CPU µs.
 */
async function client(api: ClientApi, port: number, shape: Shape, trips: number): Promise<void> {
  await runClient(api, port, shape, WARMUP_ROUND_TRIPS * shape.scale);
  // Tell the parent, which reads the server's CPU, and wait for its go.
  console.log("warm");
  await Deno.stdin.read(new Uint8Array(1));
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await runClient(api, port, shape, trips);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ seconds, cpuMicros: cpu.user + cpu.system }));
}

/** A server process of one API. */
interface ServerProcess extends ListeningProcess {
  readonly api: ServerApi;
  readonly port: number;
}

/** A command running this script with `args`, pinned to `cpu` if given. */
function self(args: string[], cpu: string | undefined, stdin: "piped" | "null") {
  const script = ["run", "-A", new URL(import.meta.url).pathname, ...args];
  const [program, programArgs] = pinnedCommand(Deno.execPath(), script, cpu);
  return new Deno.Command(program, {
    args: programArgs,
    stdin,
    stdout: "piped",
    stderr: "inherit",
  });
}

/** Starts `api`'s server in a process of its own; resolves once it listens. */
async function startServer(api: ServerApi, cpu: string | undefined): Promise<ServerProcess> {
  const port = freePort();
  const command = self(["serve", api, String(port)], cpu, "null");
  return { api, port, ...await startListening(command, `the ${api} server`) };
}

/** One measured run: round trips a second and each side's CPU µs per round trip. */
interface Run {
  readonly rate: number;
  readonly clientMicros: number;
  readonly serverMicros: number;
}

/** Runs a client process of `api` against `server` in `shape` and measures both sides. */
async function measure(
  server: ServerProcess,
  client: { api: ClientApi; cpu: string | undefined },
  shape: Shape,
  trips: number,
): Promise<Run> {
  const { api, cpu } = client;
  const args = ["client", api, String(server.port), String(SHAPES.indexOf(shape)), String(trips)];
  const child = self(args, cpu, "piped").spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), CLIENT_DEADLINE_MS);
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const warm = await lines.read();
    if (!warm.value?.startsWith("warm")) throw new Error(`the ${api} client did not warm up`);
    const before = (await cpuMicros(server.pid))!;
    const stdin = child.stdin.getWriter();
    await stdin.write(new Uint8Array([1]));
    await stdin.close();
    const result = await lines.read();
    const serverCpu = (await cpuMicros(server.pid))! - before;
    if (!(await child.status).success) throw new Error(`the ${api} client failed`);
    const { seconds, cpuMicros: clientCpu } = JSON.parse(result.value!);
    return {
      rate: trips / seconds,
      clientMicros: clientCpu / trips,
      serverMicros: serverCpu / trips,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The median of `values` and their range, as table text with `digits` decimals. */
function summary(values: number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const range = `${sorted[0].toFixed(digits)}–${sorted.at(-1)!.toFixed(digits)}`;
  return `${median.toFixed(digits)} (${range})`;
}

/**
 * The pairs measured: every server API against a `conn` client, and every client API
 * against a `conn` server.
 */
const PAIRS: readonly (readonly [server: ServerApi, client: ClientApi])[] = [
  ["conn", "conn"],
  ...SERVER_APIS.filter((api) => api !== "conn").map((api) => [api, "conn"] as const),
  ...CLIENT_APIS.filter((api) => api !== "conn").map((api) => ["conn", api] as const),
];

/** Runs every pair in every shape for `rounds` rounds, in turn, and prints the table. */
async function compare(
  trips: number,
  rounds: number,
  pinned: ReturnType<typeof placementOf>,
): Promise<void> {
  const servers = new Map<ServerApi, ServerProcess>();
  try {
    for (const api of SERVER_APIS) servers.set(api, await startServer(api, pinned.server));
    const runs = new Map<string, Run[]>();
    const loads: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const shape of SHAPES) {
        for (const [serverApi, clientApi] of PAIRS) {
          const client = { api: clientApi, cpu: pinned.client };
          const run = await measure(servers.get(serverApi)!, client, shape, trips * shape.scale);
          const key = `${shape.name} | ${serverApi} | ${clientApi}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
      loads.push((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
      console.error(`round ${round + 1} of ${rounds} done, load ${loads.at(-1)}`);
    }
    console.log(
      `${trips} round trips a run (32 in flight: ${trips * SHAPES[1].scale}), ${rounds} rounds, ` +
        `${pinned.name}, load ${loads.join(", ")}; medians (range)`,
    );
    console.log(
      "| shape | server | client | round trips/s | client CPU µs/trip | server CPU µs/trip |",
    );
    console.log(
      "| ----- | ------ | ------ | ------------- | ------------------ | ------------------ |",
    );
    for (const [key, list] of runs) {
      console.log(
        `| ${key} | ${summary(list.map((run) => run.rate), 0)} | ` +
          `${summary(list.map((run) => run.clientMicros), 1)} | ` +
          `${summary(list.map((run) => run.serverMicros), 1)} |`,
      );
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

/** `text` checked to be one of `names`. */
function oneOf<Name extends string>(names: readonly Name[], text: string, what: string): Name {
  const name = names.find((known) => known === text);
  if (name === undefined) throw new Error(`${what} is one of ${names.join(", ")}, not ${text}`);
  return name;
}

if (Deno.args[0] === "serve") {
  await serve(oneOf(SERVER_APIS, Deno.args[1], "a server's API"), Number(Deno.args[2]));
} else if (Deno.args[0] === "client") {
  const [, api, port, shape, trips] = Deno.args;
  await client(
    oneOf(CLIENT_APIS, api, "a client's API"),
    Number(port),
    SHAPES[Number(shape)],
    Number(trips),
  );
} else {
  const pinned = placementOf(Deno.args[2] ?? "free");
  await compare(Number(Deno.args[0] ?? 30_000), Number(Deno.args[1] ?? 3), pinned);
}
