/**
 * A real `kv http` child process on an ephemeral port, for end-to-end tests
 * of the HTTP API and the web console.
 *
 * @example
 * ```ts
 * await using served = await HttpProcess.onCluster(3, ["-k", "2"]);
 * await fetch(`${served.http.url}v1/servers`);
 * ```
 * @module
 */
import { readLines } from "../../lib/base/line_reader.ts";
import { KvCluster, withBrokerTimeout } from "./kv_processes.ts";
import { TEST_KV } from "./server_process.ts";
import { withDeadline } from "./wait.ts";

/** Its listening line, after the time `--log-timestamps` puts first; group 1 the URL. */
const LISTENING = /^(?:\d{4}-\d\d-\d\dT[\d:.]+Z )?kv http: listening on (https?:\/\/\S+\/)/;

/** A cluster and a `kv http` on it, from {@link HttpProcess.onCluster}; disposed together. */
export interface HttpOnCluster extends AsyncDisposable {
  readonly cluster: KvCluster;
  readonly http: HttpProcess;
}

/** A running `kv http`. */
export class HttpProcess {
  readonly #child: Deno.ChildProcess;
  readonly #stderr: string[];
  /** Settles once stderr ends: every line the process wrote is in #stderr. */
  readonly #drained: Promise<void>;
  /** Base URL, ending in `/`. */
  readonly url: string;

  private constructor(
    child: Deno.ChildProcess,
    url: string,
    stderr: string[],
    drained: Promise<void>,
  ) {
    this.#child = child;
    this.url = url;
    this.#stderr = stderr;
    this.#drained = drained;
  }

  /**
   * Starts `kv http --listen 127.0.0.1:0 <args>`, with the tests' `--timeout-ms`
   * ({@link withBrokerTimeout}) unless `args` set it (a live server stalled past the 1 s
   * default on a loaded machine is not what these tests are about), with `env` added to its
   * environment; resolves once it listens.
   */
  static async start(args: string[], env: Record<string, string> = {}): Promise<HttpProcess> {
    // As a kv server of the tests is run: the guard's inner servers' sockets need --allow-write.
    const child = new Deno.Command(TEST_KV.command, {
      args: [
        ...TEST_KV.args,
        ...withBrokerTimeout(["http", "--listen", "127.0.0.1:0", ...args]),
      ],
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr: string[] = [];
    const lines = readLines(child.stderr)[Symbol.asyncIterator]();
    const listening = async () => {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const line = next.value.text ?? "";
        stderr.push(line);
        const match = LISTENING.exec(line);
        if (match) return match[1];
      }
      throw new Error(`kv http exited before listening:\n${stderr.join("\n")}`);
    };
    const url = await withDeadline(listening(), {
      what: "kv http to print that it listens",
      onTimeout: () => child.kill("SIGKILL"),
    });
    // Keep draining stderr so the child never blocks on a full pipe.
    const drained = (async () => {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        stderr.push(next.value.text ?? "");
      }
    })();
    return new HttpProcess(child, url, stderr, drained);
  }

  /**
   * Starts a cluster of `servers` `kv server`s and `kv http -s <its server file> <args>` on it
   * ({@link HttpProcess.start}); disposing the pair stops `kv http`, then the cluster.
   */
  static async onCluster(servers: number, args: string[] = []): Promise<HttpOnCluster> {
    const cluster = await KvCluster.start(servers);
    let http: HttpProcess;
    try {
      http = await HttpProcess.start(["-s", cluster.serverFile, ...args]);
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
    return {
      cluster,
      http,
      async [Symbol.asyncDispose]() {
        await http.stop();
        await cluster[Symbol.asyncDispose]();
      },
    };
  }

  /** Its process id, for measurements that read its CPU counters. */
  get pid(): number {
    return this.#child.pid;
  }

  /** What it printed on stderr so far. */
  get stderr(): readonly string[] {
    return this.#stderr;
  }

  /**
   * SIGTERM, then the exit code once it exited and its stderr is all read; SIGKILL and an
   * error past the tests' deadline.
   */
  async stop(): Promise<number> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const status = await withDeadline(this.#child.status, {
      what: "kv http to exit after SIGTERM",
      onTimeout: () => this.#child.kill("SIGKILL"),
    });
    await withDeadline(this.#drained, { what: "kv http's stderr to end after it exited" });
    return status.code;
  }

  /** Stops it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
