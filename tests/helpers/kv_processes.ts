/**
 * Real `kv server` and `kv broker` processes for end-to-end broker tests:
 * servers on free ports below the kernel's ephemeral range that can be killed
 * (SIGKILL), hung (SIGSTOP), resumed (SIGCONT) and restarted on the same port
 * ({@link TEST_PORTS}); and a broker whose stdin
 * and stdout the test drives one command at a time. Every wait on a process
 * has a deadline (./wait.ts): a broker that stops answering is killed and the
 * test fails with its stderr instead of hanging.
 *
 * @example
 * ```ts
 * await using cluster = await KvCluster.start(3);
 * await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
 * await broker.ask("GET person1"); // { op: "GET", key: "person1", found: false }
 * await broker.finish();
 * ```
 * @module
 */
import { invariant } from "../../lib/base/invariant.ts";
import { readLines } from "../../lib/base/line_reader.ts";
import {
  ServerProcess,
  type ServerProcessOptions,
  ServerStartError,
} from "../../lib/cli/server_process.ts";
import { TEST_KV } from "./server_process.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { connect, type ConnectOptions, type Kv } from "../../mod.ts";
import { DeadlineError, DEFAULT_DEADLINE_MS, waitFor, withDeadline } from "./wait.ts";

function kvCommand(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(TEST_KV.command, {
    args: [...TEST_KV.args, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * The request timeout of test brokers, in ms. A live `kv server` on a loaded 2-core machine
 * can stall past the broker's default (1 s), and a broker that takes it for hung answers
 * wrongly; a hung one (SIGSTOP) costs one of these per detection.
 */
export const BROKER_TIMEOUT_MS = 3_000;

/**
 * `args` of a kv command that talks to servers (broker, http, repair, get, …) with
 * `--timeout-ms` {@link BROKER_TIMEOUT_MS} added, unless they set a timeout themselves.
 *
 * @example
 * ```ts
 * withBrokerTimeout(["repair", "-s", "servers.txt"]); // [...those, "--timeout-ms", "3000"]
 * ```
 */
export function withBrokerTimeout(args: readonly string[]): string[] {
  if (args.includes("--timeout-ms")) return [...args];
  return [...args, "--timeout-ms", `${BROKER_TIMEOUT_MS}`];
}

/** What {@link KvCluster.start} needs. */
export interface KvClusterOptions {
  /** Each server keeps its data in a temporary directory; default false (memory only). */
  durable?: boolean;
  /**
   * How server `index` runs and where it listens: its `kv` invocation, address and extra
   * flags; default this checkout's main.ts ({@link TEST_KV}) on 127.0.0.1, no flags.
   */
  server?: (index: number) => Pick<ServerProcessOptions, "kv" | "hostname" | "args">;
}

/**
 * The ports cluster servers listen on: below Linux's ephemeral range (32768–60999 by
 * default, `/proc/sys/net/ipv4/ip_local_port_range`). A server restarted on its port must
 * find it free, and a port from that range may be taken meanwhile by another test's `-p 0`
 * server or by any client's outgoing connection, which the parts running at once make by
 * the thousand (seen once: a restart in tests/broker/fault_test.ts found its port in use).
 */
export const TEST_PORTS = { first: 20_000, count: 12_000 } as const;

/**
 * Ports each suite part (tests/suite/part_N.ts, the test run's main module) hands out: part N
 * takes the Nth slice of {@link TEST_PORTS}, so no part can take a port another part's test
 * restarts a server on (seen once: a port a test had killed its server on answered as another
 * part's server). A test file run on its own takes the whole range.
 */
const PORTS_PER_PART = 1000;

/** The slice of {@link TEST_PORTS} this test process hands out ports from. */
function portsOfThisProcess(): { first: number; count: number } {
  const part = /\/part_(\d+)\.ts$/.exec(Deno.mainModule)?.[1];
  if (part === undefined) return TEST_PORTS;
  const first = TEST_PORTS.first + (Number(part) - 1) * PORTS_PER_PART;
  invariant(
    first + PORTS_PER_PART <= TEST_PORTS.first + TEST_PORTS.count,
    `part ${part} has no slice of TEST_PORTS left: widen it or shrink PORTS_PER_PART`,
  );
  return { first, count: PORTS_PER_PART };
}

const OWN_PORTS = portsOfThisProcess();

/** Ports a cluster server tries before its start fails: another program may hold some. */
const MAX_PORT_TRIES = 20;

/** Ports this test process handed out, never handed out again (a port may be restarted on). */
const portsHandedOut = new Set<number>();

/** Starts a server on a free port of {@link OWN_PORTS}, trying another while one is taken. */
async function startOnTestPort(options: ServerProcessOptions): Promise<ServerProcess> {
  for (let attempt = 1;; attempt++) {
    invariant(
      portsHandedOut.size < OWN_PORTS.count,
      `all ${OWN_PORTS.count} test ports from ${OWN_PORTS.first} are handed out`,
    );
    let port: number;
    do port = OWN_PORTS.first + Math.floor(Math.random() * OWN_PORTS.count); while (
      portsHandedOut.has(port)
    );
    portsHandedOut.add(port);
    try {
      return await ServerProcess.start({ ...options, port });
    } catch (error) {
      const taken = error instanceof ServerStartError &&
        error.message.includes("address already in use");
      if (!taken || attempt === MAX_PORT_TRIES) throw error;
    }
  }
}

/** Keys {@link KvCluster.keyOnFirstTwo} tries: with n servers, about one in n(n-1)/2 fits. */
const MAX_KEY_SEARCH = 10_000;

/** A set of servers and a server file listing them. */
export class KvCluster {
  private constructor(
    readonly servers: ServerProcess[],
    readonly serverFile: string,
    readonly dataRoot: string | undefined,
  ) {}

  /**
   * Starts `count` servers, durable in a temporary directory when `durable`;
   * when one fails to start, none is left running.
   */
  static async start(count: number, options: KvClusterOptions = {}): Promise<KvCluster> {
    const dataRoot = options.durable ? await Deno.makeTempDir({ prefix: "kv-broker-" }) : undefined;
    const started = await Promise.allSettled(
      Array.from(
        { length: count },
        (_, i) =>
          startOnTestPort({
            kv: TEST_KV,
            ...options.server?.(i),
            dataDir: dataRoot && `${dataRoot}/server${i}`,
            startTimeoutMs: DEFAULT_DEADLINE_MS,
          }),
      ),
    );
    const failed = started.find((outcome) => outcome.status === "rejected");
    const servers = started.flatMap((outcome) =>
      outcome.status === "fulfilled" ? outcome.value : []
    );
    if (failed !== undefined) {
      // One did not come up: the others must not outlive the test that wanted them.
      await Promise.all(servers.map((server) => server.kill()));
      if (dataRoot) await Deno.remove(dataRoot, { recursive: true });
      throw failed.reason;
    }
    const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
    await Deno.writeTextFile(
      serverFile,
      servers.map((s) => `${s.address.hostname} ${s.port}\n`).join(""),
    );
    return new KvCluster(servers, serverFile, dataRoot);
  }

  /**
   * The client library connected to these servers, with {@link BROKER_TIMEOUT_MS} for its
   * requests unless `options` say otherwise.
   */
  connect(options: Omit<ConnectOptions, "servers"> = {}): Promise<Kv> {
    return connect({ servers: this.serverFile, timeoutMs: BROKER_TIMEOUT_MS, ...options });
  }

  /**
   * The first of `p0`, `p1`, … whose two replicas (k = 2) are servers 0 and 1: a key a test
   * can take both replicas of away from, with the other servers standing by.
   */
  keyOnFirstTwo(): string {
    const placement = new Placement(this.servers.map((server) => server.id));
    for (let i = 0; i < MAX_KEY_SEARCH; i++) {
      if (placement.replicas(`p${i}`, 2).sort().join() === "0,1") return `p${i}`;
    }
    throw new Error(`no key of p0 to p${MAX_KEY_SEARCH - 1} has servers 0 and 1 as its replicas`);
  }

  /** The server with id `id`. */
  byId(id: string): ServerProcess {
    const server = this.servers.find((candidate) => candidate.id === id);
    if (server === undefined) throw new Error(`no server ${id}`);
    return server;
  }

  /**
   * Runs `body` with a server file listing the servers of `clusters`, one cluster after
   * another (a server list that joins them), and removes the file afterwards.
   */
  static async withJoinedServerFile<T>(
    clusters: readonly KvCluster[],
    body: (serverFile: string) => Promise<T>,
  ): Promise<T> {
    const joined = await Deno.makeTempFile({ suffix: ".txt" });
    try {
      const lists = await Promise.all(clusters.map((each) => Deno.readTextFile(each.serverFile)));
      await Deno.writeTextFile(joined, lists.join(""));
      return await body(joined);
    } finally {
      await Deno.remove(joined);
    }
  }

  /** Kills every server and removes the temporary files. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.servers.map((server) => server.kill()));
    await Deno.remove(this.serverFile);
    if (this.dataRoot) await Deno.remove(this.dataRoot, { recursive: true });
  }
}

/**
 * A `kv broker` child process driven through its stdin and stdout. Start it
 * with `await using`: leaving the scope kills it unless it has exited, so no
 * failing test leaves a broker behind.
 */
export class BrokerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<{ text?: string; error?: string }>;
  readonly #stderrDone: Promise<string>;
  /** Stderr so far, as it arrives. */
  #stderr = "";
  #finished: Promise<{ code: number; stdout: string; stderr: string }> | undefined;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout)[Symbol.asyncIterator]();
    this.#stderrDone = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += text;
      }
      return this.#stderr;
    })();
  }

  /** Stderr so far (the broker's log lines). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits until stderr so far matches `pattern` (a line the broker logs), and returns it. */
  async stderrMatching(pattern: RegExp): Promise<string> {
    await this.#within(
      waitFor(() => pattern.test(this.#stderr), { what: `stderr to match ${pattern}` }),
      `stderr matching ${pattern}`,
    );
    return this.#stderr;
  }

  /**
   * Starts `kv broker <args>`, with `--timeout-ms` {@link BROKER_TIMEOUT_MS}
   * unless `args` set it, and `env` added to its environment (default none: a clock
   * moved by libfaketime, ./faketime.ts, say).
   */
  static start(args: string[], env: Record<string, string> = {}): BrokerProcess {
    return new BrokerProcess(kvCommand(withBrokerTimeout(["broker", ...args]), env));
  }

  /** Sends one line. */
  async send(line: string): Promise<void> {
    await this.#within(
      this.#writer.write(new TextEncoder().encode(line + "\n")),
      `to send ${line}`,
    );
  }

  /** Sends `bytes` as they are, no newline added (input cut anywhere, or not UTF-8). */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    await this.#within(this.#writer.write(bytes), `to send ${bytes.length} bytes`);
  }

  /**
   * Reads the next line of stdout, waiting at most `timeoutMs` (default
   * {@link DEFAULT_DEADLINE_MS}).
   */
  async readLine(timeoutMs = DEFAULT_DEADLINE_MS): Promise<string> {
    const { done, value } = await this.#within(this.#lines.next(), "a line on stdout", timeoutMs);
    if (done) throw new Error(`broker stdout ended; stderr:\n${await this.#stderrDone}`);
    return value.text ?? "";
  }

  /**
   * Sends a command and parses its one-line JSON answer (the broker must run with --json),
   * waiting at most `timeoutMs` for it (default {@link DEFAULT_DEADLINE_MS}).
   */
  async ask(line: string, timeoutMs = DEFAULT_DEADLINE_MS): Promise<Record<string, unknown>> {
    await this.send(line);
    return JSON.parse(await this.readLine(timeoutMs));
  }

  /**
   * Closes stdin and waits for the exit; resolves to the exit code, the rest
   * of stdout, and stderr. Calling it again gives the same answer.
   */
  finish(): Promise<{ code: number; stdout: string; stderr: string }> {
    this.#finished ??= this.#within(this.#finish(), "its exit after stdin closed");
    return this.#finished;
  }

  /** Kills the broker (SIGKILL) unless it has exited, then waits for its exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch (error) {
      // Deno refuses to signal a child that has exited: nothing to end then.
      if (!(error instanceof TypeError)) throw error;
    }
    await this.finish().catch(() => {
      // Only the clean-up matters here: the test has passed or failed already.
    });
  }

  /** Sends `signal` (SIGSTOP to stall the broker, SIGCONT to resume it) and returns. */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /**
   * Sends `signal` with stdin left open, so only the signal can end the broker, and
   * waits for its exit as {@link BrokerProcess.finish} does.
   */
  stop(signal: Deno.Signal): Promise<{ code: number; stdout: string; stderr: string }> {
    this.#child.kill(signal);
    this.#finished ??= this.#within(this.#finish(false), `its exit after ${signal}`);
    return this.#finished;
  }

  async #finish(closeStdin = true): Promise<{ code: number; stdout: string; stderr: string }> {
    // A broker that has exited (or was killed) no longer reads stdin; its exit code tells why.
    if (closeStdin) await this.#writer.close().catch(() => {});
    const rest: string[] = [];
    for (let next = await this.#lines.next(); !next.done; next = await this.#lines.next()) {
      rest.push(next.value.text ?? "");
    }
    const { code } = await this.#child.status;
    return { code, stdout: rest.join("\n"), stderr: await this.#stderrDone };
  }

  /**
   * `promise`, or, past the deadline, the broker killed and an error that
   * carries its stderr.
   */
  async #within<T>(
    promise: Promise<T>,
    what: string,
    timeoutMs = DEFAULT_DEADLINE_MS,
  ): Promise<T> {
    try {
      return await withDeadline(promise, {
        what: `kv broker: ${what}`,
        timeoutMs,
        onTimeout: () => this.#child.kill("SIGKILL"),
      });
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      const stderr = await withDeadline(this.#stderrDone, { what: "its stderr after SIGKILL" })
        .catch(() => "(unreadable)");
      throw new Error(`${error.message}; its stderr:\n${stderr}`, { cause: error });
    }
  }
}
