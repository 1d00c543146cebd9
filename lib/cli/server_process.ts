/**
 * Runs `kv server` as a child process and supervises it: starts it, waits for
 * its listening line, and stops, kills, hangs (SIGSTOP), resumes or restarts
 * it on the same port and data directory. `kv demo` runs its servers with it
 * (stopping with it even when it is killed: {@link ServerProcessOptions.stopsWithSupervisor}),
 * and the end-to-end tests use it to crash and hang real servers.
 *
 * The listening line is the one `kv server` prints on stderr once it accepts
 * connections (see lib/cli/server.ts):
 *
 * ```text
 * kv server: listening on 127.0.0.1:40123 (memory only, 0 records, recovered in 0 ms, plain TCP, no auth)
 * ```
 *
 * @example
 * ```ts ignore
 * import { ServerProcess } from "./server_process.ts";
 * const server = await ServerProcess.start({ dataDir: "/tmp/kv-a" });
 * console.log(server.id); // 127.0.0.1:40123
 * await server.kill(); // crash it
 * await server.restart(); // same port, same data
 * await server.stop(); // SIGTERM: a clean shutdown, exit code 0
 * ```
 * @module
 */
import { readLines } from "../base/line_reader.ts";

/**
 * Matches the listening line, after the time `--log-timestamps` puts first: group 1 or 2
 * is the host (bracketed for IPv6), 3 the port.
 */
export const LISTENING_LINE =
  /^(?:\d{4}-\d\d-\d\dT[\d:.]+Z )?kv server: listening on (?:\[(.+)\]|([^\s:]+)):(\d+) \(/;

/** How long {@link ServerProcess.start} waits for the listening line by default, in ms. */
export const DEFAULT_START_TIMEOUT_MS = 15_000;

/** Most stderr lines kept per process; older ones are dropped so a long run stays bounded. */
export const MAX_KEPT_STDERR_LINES = 1_000;

/** How to run `kv` itself: a program and the arguments that come before the subcommand. */
export interface KvInvocation {
  /** The executable: the compiled `kv`, or `deno`. */
  readonly command: string;
  /** Arguments before the subcommand: none for the compiled `kv`, `run …flags main.ts` for deno. */
  readonly args: readonly string[];
}

/**
 * The `deno run` permissions `kv server` needs: to listen, to keep its data directory, and
 * to read the uptime, which tells a restart of the machine and counts a suspend of it
 * (lib/server/run_record.ts).
 */
export const SERVER_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-sys=osUptime",
];

/**
 * How this very process was started, so that it can start more of itself:
 * the compiled binary runs as is (with the permissions it was compiled with); under
 * `deno run` the main module is run again with `permissions` (default
 * {@link SERVER_PERMISSIONS}, what a server needs).
 *
 * @example
 * ```ts
 * const kv = selfInvocation();
 * new Deno.Command(kv.command, { args: [...kv.args, "--version"] });
 * ```
 */
export function selfInvocation(
  permissions: readonly string[] = SERVER_PERMISSIONS,
): KvInvocation {
  if (Deno.build.standalone) return { command: Deno.execPath(), args: [] };
  return { command: Deno.execPath(), args: denoRunArgs(Deno.mainModule, permissions) };
}

/**
 * The `deno run` arguments that run `mainModule` (a path or file URL) with
 * `permissions`, by default exactly those `kv server` needs.
 *
 * @example
 * ```ts
 * denoRunArgs("/repo/main.ts"); // ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-sys=osUptime", "/repo/main.ts"]
 * ```
 */
export function denoRunArgs(
  mainModule: string,
  permissions: readonly string[] = SERVER_PERMISSIONS,
): string[] {
  return ["run", ...permissions, mainModule];
}

/** What {@link ServerProcess.start} needs. */
export interface ServerProcessOptions {
  /** How to run kv; default {@link selfInvocation}. */
  kv?: KvInvocation;
  /** Address to listen on; default `127.0.0.1`. */
  hostname?: string;
  /** Port; default 0, any free one (the first start picks it, restarts keep it). */
  port?: number;
  /** `--data-dir`; default none (memory only). */
  dataDir?: string;
  /** More `kv server` flags, e.g. `["--fsync", "always"]`; default none. */
  args?: readonly string[];
  /** How long to wait for the listening line, in ms; default {@link DEFAULT_START_TIMEOUT_MS}. */
  startTimeoutMs?: number;
  /**
   * Run it in a session of its own, so signals for the terminal's process group
   * (Ctrl-C) do not reach it and only its supervisor stops it; default false.
   */
  detached?: boolean;
  /**
   * Stop it when this process ends, however it ends (SIGKILL too): it is started with
   * `--stop-on-stdin-close` and a pipe on stdin whose other end only this process holds,
   * which the kernel closes when it dies; default false (stdin is /dev/null). The `kv`
   * run must know that flag.
   */
  stopsWithSupervisor?: boolean;
}

/** How a server process ended. */
export interface ServerExit {
  /** Exit code (128 + n after signal n). */
  readonly code: number;
  /** The signal that ended it, or null. */
  readonly signal: Deno.Signal | null;
  /** Everything it printed on stderr (at most {@link MAX_KEPT_STDERR_LINES} last lines). */
  readonly stderr: string;
}

/**
 * The error when a server does not come up; its message carries the server's stderr.
 *
 * @example
 * ```ts ignore
 * try {
 *   await ServerProcess.start({ port: 8000 }); // a port another process listens on
 * } catch (error) {
 *   if (!(error instanceof ServerStartError)) throw error;
 *   // error.message: "kv server did not start: it exited with code 2; its stderr:
 *   // kv server: cannot listen on 127.0.0.1:8000: address already in use; pick another -p"
 * }
 * ```
 */
export class ServerStartError extends Error {
  /** The error for a server that did not come up, its message carrying the server's stderr. */
  constructor(message: string) {
    super(message);
    this.name = "ServerStartError";
  }
}

/**
 * One running (or stopped) `kv server` child process, made by {@link ServerProcess.start}.
 *
 * @example
 * ```ts ignore
 * await using server = await ServerProcess.start({ dataDir: "/tmp/kv-a" });
 * server.id; // "127.0.0.1:40123": the port it picked, kept across restarts
 * server.signal("SIGSTOP"); // hang it: connections stay open, nothing is answered
 * server.signal("SIGCONT"); // resume it
 * await server.kill(); // crash it: { code: 137, signal: "SIGKILL", stderr: "…" }
 * await server.restart(); // same port, same data directory
 * await server.stop(); // SIGTERM, a clean shutdown: { code: 0, signal: null, stderr: "…" }
 * ```
 */
export class ServerProcess {
  readonly #kv: KvInvocation;
  readonly #hostname: string;
  readonly #dataDir: string | undefined;
  readonly #extraArgs: readonly string[];
  readonly #startTimeoutMs: number;
  readonly #detached: boolean;
  readonly #stopsWithSupervisor: boolean;
  #port: number;
  #child: Deno.ChildProcess | undefined;
  #exited: Promise<ServerExit> = Promise.resolve({ code: 0, signal: null, stderr: "" });
  #running = false;
  #stderrLines: string[] = [];

  private constructor(options: ServerProcessOptions) {
    this.#kv = options.kv ?? selfInvocation();
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#port = options.port ?? 0;
    this.#dataDir = options.dataDir;
    this.#extraArgs = options.args ?? [];
    this.#startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.#detached = options.detached ?? false;
    this.#stopsWithSupervisor = options.stopsWithSupervisor ?? false;
  }

  /**
   * Starts `kv server` and resolves once it prints its listening line. Rejects
   * with a {@link ServerStartError} carrying its stderr (after killing it) when
   * it exits first or stays silent past the start timeout.
   *
   * @example
   * ```ts
   * const server = await ServerProcess.start({ args: ["--fsync", "always"] });
   * server.id; // "127.0.0.1:40123": the free port it picked
   * await server.stop();
   * ```
   */
  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const server = new ServerProcess(options);
    await server.#spawn();
    return server;
  }

  /** Where it listens. */
  get address(): { hostname: string; port: number } {
    return { hostname: this.#hostname, port: this.#port };
  }

  /** The port it listens on, kept across restarts. */
  get port(): number {
    return this.#port;
  }

  /** `host:port`, the name the broker and placement use for it. */
  get id(): string {
    return this.#hostname.includes(":")
      ? `[${this.#hostname}]:${this.#port}`
      : `${this.#hostname}:${this.#port}`;
  }

  /** Its data directory, when it has one. */
  get dataDir(): string | undefined {
    return this.#dataDir;
  }

  /** Whether the process is alive (it may be hung with SIGSTOP). */
  get running(): boolean {
    return this.#running;
  }

  /** The process id of the current process. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** What it printed on stderr so far, listening line included (the last lines only). */
  get stderrLines(): readonly string[] {
    return this.#stderrLines;
  }

  /** Resolves when the current process has exited (at once when none runs). */
  get exited(): Promise<ServerExit> {
    return this.#exited;
  }

  /**
   * Sends `signal` (SIGSTOP to hang it, SIGCONT to resume it) while the process runs.
   *
   * @example
   * ```ts
   * const server = await ServerProcess.start();
   * server.signal("SIGSTOP"); // hung: its connections stay open, nothing is answered
   * server.signal("SIGCONT"); // answering again
   * await server.stop();
   * ```
   */
  signal(signal: Deno.Signal): void {
    if (this.#running) this.#child!.kill(signal);
  }

  /**
   * Sends `signal` (default SIGTERM, a clean shutdown) and resolves once the process exited.
   *
   * @example
   * ```ts
   * const server = await ServerProcess.start();
   * await server.stop(); // { code: 0, signal: null, stderr: "kv server: listening on …" }
   * ```
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<ServerExit> {
    if (this.#running) {
      // A hung process would hold the signal until resumed; resume it first.
      if (signal !== "SIGKILL") this.#child!.kill("SIGCONT");
      this.#child!.kill(signal);
    }
    return await this.#exited;
  }

  /**
   * kill -9: the process dies at once, as in a crash.
   *
   * @example
   * ```ts
   * const server = await ServerProcess.start({ dataDir: "/tmp/kv-a" });
   * await server.kill(); // { code: 137, signal: "SIGKILL", stderr: "…" }
   * ```
   */
  kill(): Promise<ServerExit> {
    return this.stop("SIGKILL");
  }

  /**
   * Kills the process if it still runs (`await using server = …` cannot leave one behind).
   *
   * @example
   * ```ts
   * {
   *   await using server = await ServerProcess.start();
   *   server.running; // true
   * } // killed here, however the block is left
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  /**
   * Starts the server again on the same port and data directory, killing it first if needed.
   *
   * @example
   * ```ts
   * const server = await ServerProcess.start({ dataDir: "/tmp/kv-a" });
   * const before = server.port;
   * await server.restart(); // it recovers what /tmp/kv-a holds
   * server.port === before; // true
   * await server.stop();
   * ```
   */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  #keep(line: string): void {
    this.#stderrLines.push(line);
    if (this.#stderrLines.length > MAX_KEPT_STDERR_LINES) this.#stderrLines.shift();
  }

  async #spawn(): Promise<void> {
    const args = [...this.#kv.args, "server", "-a", this.#hostname, "-p", String(this.#port)];
    if (this.#dataDir !== undefined) args.push("--data-dir", this.#dataDir);
    if (this.#stopsWithSupervisor) args.push("--stop-on-stdin-close");
    args.push(...this.#extraArgs);
    const child = new Deno.Command(this.#kv.command, {
      args,
      env: { NO_COLOR: "1" },
      // Nothing is written to the pipe: its end, when this process ends, is the message.
      stdin: this.#stopsWithSupervisor ? "piped" : "null",
      stdout: "null",
      stderr: "piped",
      detached: this.#detached,
    }).spawn();
    this.#child = child;
    this.#running = true;
    this.#stderrLines = [];
    let resolveListening!: (port: number) => void;
    const listening = new Promise<number>((resolve) => resolveListening = resolve);
    // Stderr is read to the end, so the child never blocks on a full pipe.
    const drained = (async () => {
      for await (const line of readLines(child.stderr)) {
        const text = line.text ?? `(unreadable line: ${line.error})`;
        this.#keep(text);
        const match = LISTENING_LINE.exec(text);
        if (match) resolveListening(Number(match[3]));
      }
    })();
    this.#exited = (async (): Promise<ServerExit> => {
      const status = await child.status;
      await drained;
      if (this.#stopsWithSupervisor) await child.stdin.close();
      this.#running = false;
      return { code: status.code, signal: status.signal, stderr: this.#stderrLines.join("\n") };
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#startTimeoutMs);
    });
    const outcome = await Promise.race([listening, this.#exited, timedOut]);
    clearTimeout(timer);
    if (typeof outcome === "number") {
      this.#port = outcome;
      return;
    }
    const { stderr } = await this.kill();
    const why = outcome === "timeout"
      ? `no listening line within ${this.#startTimeoutMs} ms`
      : `it exited with code ${outcome.code}`;
    throw new ServerStartError(`kv server did not start: ${why}; its stderr:\n${stderr}`);
  }
}
