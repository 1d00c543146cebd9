/**
 * Redis as a yardstick: start a throwaway redis-server on loopback, read its
 * memory figures, and load records into it with `redis-cli --pipe`. Used only
 * by the measurement scripts beside this file; kv never depends on Redis.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * await pipeIntoRedis(redis.port, "/tmp/commands.resp");
 * console.log(await redisInfo(redis.port, "used_memory"));
 * await redis.stop();
 * ```
 * @module
 */
import { readLines } from "../../lib/base/line_reader.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import { toJsonText } from "../../lib/record/value.ts";
import { type LoadedServer, makeWorkload, startLoadedServer, type Workload } from "./workload.ts";

/** How long to wait for redis-server to answer PING after starting. */
const REDIS_START_TIMEOUT_MS = 5_000;

/** A running redis-server child process. */
export interface RedisProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Picks a free loopback port by binding port 0 and releasing it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function redisCli(port: number, args: string[]): Promise<string> {
  const output = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout);
}

/**
 * Starts redis-server with persistence off, waits until it answers PING.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * ```
 */
export async function startRedis(): Promise<RedisProcess> {
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
  while ((await redisCli(port, ["PING"])).trim() !== "PONG") {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * Reads one numeric field of `INFO memory` (e.g. `used_memory`).
 *
 * @example
 * ```ts
 * await redisInfo(6379, "used_memory");
 * ```
 */
export async function redisInfo(port: number, field: string): Promise<number> {
  const info = await redisCli(port, ["INFO", "memory"]);
  const match = new RegExp(`^${field}:(\\d+)`, "m").exec(info);
  if (match === null) throw new Error(`INFO memory has no ${field}`);
  return Number(match[1]);
}

/**
 * Feeds a RESP file to `redis-cli --pipe` and resolves when Redis has answered all of it.
 *
 * @example
 * ```ts
 * await pipeIntoRedis(6379, "/tmp/commands.resp");
 * ```
 */
export async function pipeIntoRedis(port: number, respFile: string): Promise<void> {
  const file = await Deno.open(respFile);
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(port), "--pipe"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await file.readable.pipeTo(child.stdin);
  const output = await child.output();
  const report = new TextDecoder().decode(output.stdout);
  if (!output.success || !/errors: 0,/.test(report)) {
    throw new Error(`redis-cli --pipe failed: ${report}`);
  }
}

/** redis-benchmark's `-r` writes `__rand_int__` as 12 zero-padded digits: Redis's keys are padded. */
const PADDED_DIGITS = 12;

/**
 * Writes the records of `dataPath` (a `kv gen` file) to `respPath` as RESP SETs with
 * padded keys (person000000000042), which redis-benchmark's `GET person__rand_int__`
 * with `-r` reads.
 *
 * @example
 * ```ts
 * await paddedResp("/tmp/data.txt", "/tmp/data.padded.resp");
 * ```
 */
export async function paddedResp(dataPath: string, respPath: string): Promise<void> {
  const encoder = new TextEncoder();
  const parts: string[] = [];
  for await (const line of readLines((await Deno.open(dataPath)).readable)) {
    if (line.text === undefined) throw new Error(`line ${line.lineNumber}: ${line.error}`);
    const { key, value } = parseRecordLine(line.text);
    const [, prefix, digits] = /^(.*?)([0-9]+)$/.exec(key)!;
    const padded = `${prefix}${digits.padStart(PADDED_DIGITS, "0")}`;
    const json = toJsonText(value);
    parts.push(
      `*3\r\n$3\r\nSET\r\n$${padded.length}\r\n${padded}\r\n` +
        `$${encoder.encode(json).length}\r\n${json}\r\n`,
    );
  }
  await Deno.writeTextFile(respPath, parts.join(""));
}

/** One `kv server` and one redis-server holding the same records, side by side. */
export interface KvBesideRedis {
  readonly workload: Workload;
  readonly loaded: LoadedServer;
  readonly redis: RedisProcess;
  /** Stops both servers and removes the workload's files. */
  stop(): Promise<void>;
}

/**
 * Makes `records` records ({@link makeWorkload}, keys under `keyPrefix`), loads them into
 * one `kv server` ({@link startLoadedServer}) and into a redis-server with padded keys
 * ({@link paddedResp}), as `redis-benchmark -r` reads them.
 *
 * @example
 * ```ts
 * const { loaded, redis, stop } = await startKvBesideRedis(1000);
 * await stop();
 * ```
 */
export async function startKvBesideRedis(
  records: number,
  keyPrefix?: string,
): Promise<KvBesideRedis> {
  const workload = await makeWorkload(records, keyPrefix);
  const respPath = `${workload.dataPath}.padded.resp`;
  await paddedResp(workload.dataPath, respPath);
  const redis = await startRedis();
  const loaded = await startLoadedServer(workload);
  const stop = async () => {
    await loaded.stop();
    await redis.stop();
    await workload.remove();
  };
  try {
    await pipeIntoRedis(redis.port, respPath);
  } catch (error) {
    await stop();
    throw error;
  }
  return { workload, loaded, redis, stop };
}
