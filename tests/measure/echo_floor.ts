/**
 * Deno's floor under one GET at a time (issue 13's one-at-a-time row): a raw client (a
 * GET frame written on a Deno socket, its answer read, no library) against a `kv server`
 * holding 1000 records of the `kv gen -d 3 -l 8 -m 6` shape, and against a bare Deno
 * server that answers every read with one fixed OK frame of a record's size, in
 * alternating rounds. Per round it prints round trips a second, the client's CPU per GET
 * (`process.cpuUsage`) and the server's (from /proc): what kv's server costs beyond the
 * least a Deno server can do. A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/echo_floor.ts [gets] [rounds]   # default 30000 3
 * ```
 * @module
 */
import process from "node:process";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { MessageType } from "../../lib/protocol/mod.ts";
import { freePort } from "./redis.ts";
import {
  cpuMicros,
  type ListeningProcess,
  makeWorkload,
  startListening,
  startLoadedServer,
} from "./workload.ts";

const RECORDS = 1000;

/** Bytes of the bare server's answer body: about a `kv gen` record's answer. */
const ANSWER_BODY_BYTES = 370;

/** Round trips before each counted round, so that both sides' code is compiled. */
const WARMUP_GETS = 20_000;

/** Distinct GET frames sent in turn. */
const PREPARED_GETS = 64;

/** The bare server: `echo_floor.ts serve PORT` answers every read with one OK frame. */
async function serve(port: number): Promise<void> {
  const answer = new FrameWriter();
  answer.frame(MessageType.OK, 1, new Uint8Array(ANSWER_BODY_BYTES));
  const bytes = answer.bytes().slice();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log("listening");
  for await (const conn of listener) {
    (async () => {
      conn.setNoDelay(true);
      const buffer = new Uint8Array(64 * 1024);
      while ((await conn.read(buffer)) !== null) await conn.write(bytes);
    })();
  }
}

/** One raw connection sending one frame at a time and waiting for one answer. */
async function roundTrips(port: number, frames: readonly Uint8Array[], count: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const reader = new FrameReader();
  const once = async (frame: Uint8Array) => {
    await conn.write(frame);
    for (;;) {
      const read = await conn.read(reader.space());
      if (read === null) throw new Error("the server closed the connection");
      reader.filled(read);
      const answer = reader.next();
      if (answer) {
        if (answer.type !== MessageType.OK) throw new Error(`answer type ${answer.type}`);
        return;
      }
    }
  };
  try {
    const hello = new FrameWriter();
    hello.hello(0);
    await once(hello.bytes());
    for (let i = 0; i < WARMUP_GETS; i++) await once(frames[i % frames.length]);
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    for (let i = 0; i < count; i++) await once(frames[i % frames.length]);
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { rate: count / seconds, clientMicros: (cpu.user + cpu.system) / count };
  } finally {
    conn.close();
  }
}

/** Starts the bare server in a process of its own; resolves once it listens. */
async function startBare(): Promise<ListeningProcess & { port: number }> {
  const port = freePort();
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "serve", String(port)],
    stdout: "piped",
    stderr: "inherit",
  });
  return { port, ...await startListening(command, "the bare server") };
}

if (Deno.args[0] === "serve") {
  await serve(Number(Deno.args[1]));
} else {
  const gets = Number(Deno.args[0] ?? 30_000);
  const rounds = Number(Deno.args[1] ?? 3);
  const frames = Array.from({ length: PREPARED_GETS }, (_, index) => {
    const frame = new FrameWriter();
    frame.get(1, `person${(index * 7) % RECORDS}`);
    return frame.bytes().slice();
  });
  const workload = await makeWorkload(RECORDS);
  const loaded = await startLoadedServer(workload);
  const bare = await startBare();
  try {
    console.log("| server | round trips/s | client CPU µs/GET | server CPU µs/GET | load |");
    console.log("| ------ | ------------- | ----------------- | ----------------- | ---- |");
    for (let round = 0; round < rounds; round++) {
      const sides = [["kv server", loaded.server.port, loaded.server.pid!], [
        "bare Deno server",
        bare.port,
        bare.pid,
      ]] as const;
      for (const [name, port, pid] of sides) {
        const before = (await cpuMicros(pid))!;
        const { rate, clientMicros } = await roundTrips(port, frames, gets);
        // The server's CPU over the warm-up and the counted round trips together.
        const serverMicros = ((await cpuMicros(pid))! - before) / (gets + WARMUP_GETS + 1);
        const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
        console.log(
          `| ${name} | ${Math.round(rate)} | ${clientMicros.toFixed(1)} | ` +
            `${serverMicros.toFixed(1)} | ${load} |`,
        );
      }
    }
  } finally {
    await bare.stop();
    await loaded.stop();
    await workload.remove();
  }
}
