/**
 * The workload the speed and memory bars are stated for: records of the
 * `kv gen -d 3 -l 8 -m 6` shape, written by a real `kv gen` process, and the
 * same records as `SET key <json>` commands for Redis. Shared by the
 * measurement scripts beside this file; not a test.
 *
 * @example
 * ```ts
 * const workload = await makeWorkload(100_000);
 * console.log(workload.dataPath, workload.respPath);
 * await workload.remove();
 * ```
 * @module
 */
import { readLines } from "../../lib/base/line_reader.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import { toJsonText } from "../../lib/record/value.ts";
import { type KvInvocation, ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import type { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { MessageType } from "../../lib/protocol/mod.ts";

/** The seed every measurement uses, so runs compare the same records. */
export const WORKLOAD_SEED = 1;

/** Files holding one workload. */
export interface Workload {
  /** The records as `kv gen` wrote them. */
  readonly dataPath: string;
  /** The same records as RESP `SET` commands, for `redis-cli --pipe`. */
  readonly respPath: string;
  /** Size of the data file in bytes. */
  readonly dataBytes: number;
  /** Deletes the files. */
  remove(): Promise<void>;
}

/** Runs `kv <args>` (this checkout's, or `kv`'s) and throws unless it succeeds. */
export async function runKvChecked(args: string[], kv: KvInvocation = TEST_KV): Promise<void> {
  const output = await new Deno.Command(kv.command, {
    args: [...kv.args, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`kv ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/**
 * Generates `recordCount` records with `kv gen -d 3 -l 8 -m 6 --seed 1` and
 * writes their RESP twin. `keyPrefix` replaces kv gen's `person` in every key: a script
 * that reads them with `kv bench --no-load` asks for BENCH_KEY_PREFIX (the bench reads
 * nothing else).
 */
export async function makeWorkload(
  recordCount: number,
  keyPrefix = "person",
): Promise<Workload> {
  const directory = await Deno.makeTempDir({ prefix: "kv-measure-" });
  const dataPath = `${directory}/data.txt`;
  const respPath = `${directory}/data.resp`;
  const keyFile = new URL("../../keyFile.txt", import.meta.url).pathname;
  await runKvChecked([
    "gen",
    ...["-k", keyFile, "-n", String(recordCount), "-d", "3", "-l", "8", "-m", "6"],
    ...["--seed", String(WORKLOAD_SEED), "-o", dataPath],
  ]);
  if (keyPrefix !== "person") {
    // Every line starts with its quoted key, `"person<i>"`.
    const text = await Deno.readTextFile(dataPath);
    await Deno.writeTextFile(dataPath, text.replaceAll(/^"person/gm, `"${keyPrefix}`));
  }
  const encoder = new TextEncoder();
  // readLines and the writer each close their file when done.
  const data = await Deno.open(dataPath);
  const resp = await Deno.open(respPath, { write: true, create: true, truncate: true });
  const writer = resp.writable.getWriter();
  for await (const line of readLines(data.readable)) {
    if (line.text === undefined) throw new Error(`line ${line.lineNumber}: ${line.error}`);
    const { key, value } = parseRecordLine(line.text);
    const json = toJsonText(value);
    await writer.write(encoder.encode(
      `*3\r\n$3\r\nSET\r\n$${encoder.encode(key).length}\r\n${key}\r\n` +
        `$${encoder.encode(json).length}\r\n${json}\r\n`,
    ));
  }
  await writer.close();
  return {
    dataPath,
    respPath,
    dataBytes: (await Deno.stat(dataPath)).size,
    remove: () => Deno.remove(directory, { recursive: true }),
  };
}

/** One `kv server` holding a workload's records, and a server file listing it. */
export interface LoadedServer {
  readonly server: ServerProcess;
  readonly serverFile: string;
  /** Stops the server and removes the server file. */
  stop(): Promise<void>;
}

/**
 * Starts one `kv server` (run as `kv` says; default this checkout's) and loads
 * `workload`'s records into it through a real `kv broker -k 1 --index-only`.
 */
export async function startLoadedServer(
  workload: Workload,
  kv: KvInvocation = TEST_KV,
): Promise<LoadedServer> {
  const server = await ServerProcess.start({ kv });
  const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
  const stop = async () => {
    await server.stop();
    await Deno.remove(serverFile);
  };
  try {
    await Deno.writeTextFile(serverFile, `${server.id}\n`);
    await runKvChecked([
      ...["broker", "-s", serverFile, "-k", "1", "-i", workload.dataPath, "--index-only"],
      // Generous: on a loaded machine a fresh server can be slow enough to be counted down.
      ...["--timeout-ms", "10000"],
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { server, serverFile, stop };
}

/** How long a measurement's helper server may take to say it listens. */
const LISTEN_DEADLINE_MS = 10_000;

/** A measurement's helper server in a process of its own ({@link startListening}). */
export interface ListeningProcess {
  readonly pid: number;
  /** Ends the process (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Spawns `command`, a server that says on stdout that it is listening, and resolves once it
 * has; one that has not within {@link LISTEN_DEADLINE_MS}, or ends first, is killed, and
 * the error names it by `what` ("the bare server"). Its `stop` is bounded by the same deadline.
 */
export async function startListening(
  command: Deno.Command,
  what: string,
): Promise<ListeningProcess> {
  const child = command.spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => killIfRunning(child), LISTEN_DEADLINE_MS);
  // The line may come in several chunks, or after others: read until it is whole or done.
  let seen = "";
  try {
    while (!seen.includes("listening")) {
      const { value, done } = await output.read();
      if (done) throw new Error(`${what} did not start: ${seen.trim() || "no output"}`);
      seen += value;
    }
  } catch (error) {
    killIfRunning(child);
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      const killer = setTimeout(() => killIfRunning(child), LISTEN_DEADLINE_MS);
      try {
        await output.cancel();
        await child.status;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** SIGKILLs `child` unless it has ended (Deno throws for a child that has). */
function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already ended: nothing to kill.
  }
}

/** Milliseconds `work` takes, wall clock. */
export async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** The kernel's USER_HZ: /proc counts CPU time in hundredths of a second on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user and system) of process `pid` so far, in µs, from /proc (Linux); undefined
 * once the process is gone.
 */
export async function cpuMicros(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // utime and stime, fields 14 and 15 of stat, are 12 and 13 after the command name.
  const fields = stat.split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / CLOCK_TICKS_PER_SECOND);
}

/**
 * Writes `frames` (holding `count` requests) on `conn` whole, then reads until `count` OK
 * answers came through `reader`: one round of a measurement's raw client.
 */
export async function sendRound(
  conn: Pick<Deno.Conn, "read" | "write">,
  reader: FrameReader,
  frames: Uint8Array,
  count: number,
): Promise<void> {
  for (let written = 0; written < frames.length;) {
    written += await conn.write(frames.subarray(written));
  }
  for (let answered = 0; answered < count;) {
    const read = await conn.read(reader.space());
    if (read === null) throw new Error("the server closed the connection");
    reader.filled(read);
    for (let frame = reader.next(); frame; frame = reader.next()) {
      if (frame.type !== MessageType.OK) throw new Error(`answer type ${frame.type}, not OK`);
      answered++;
    }
  }
}
