/**
 * Real `kv server` and `kv broker` processes for end-to-end broker tests:
 * servers on ephemeral ports that can be killed (SIGKILL), hung (SIGSTOP),
 * resumed (SIGCONT) and restarted on the same port; and a broker whose stdin
 * and stdout the test drives one command at a time.
 *
 * @example
 * ```ts
 * await using cluster = await KvCluster.start(3);
 * const broker = await BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
 * await broker.ask("GET person1"); // { op: "GET", key: "person1", found: false }
 * await broker.finish();
 * ```
 * @module
 */
import { readLines } from "../../lib/base/line_reader.ts";
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { TEST_KV } from "./server_process.ts";

function kvCommand(args: string[]): Deno.ChildProcess {
  return new Deno.Command(TEST_KV.command, {
    args: [...TEST_KV.args, ...args],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A set of servers and a server file listing them. */
export class KvCluster {
  private constructor(
    readonly servers: ServerProcess[],
    readonly serverFile: string,
    readonly dataRoot: string | undefined,
  ) {}

  /** Starts `count` servers, durable in a temporary directory when `durable`. */
  static async start(count: number, options: { durable?: boolean } = {}): Promise<KvCluster> {
    const dataRoot = options.durable ? await Deno.makeTempDir({ prefix: "kv-broker-" }) : undefined;
    const servers = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          ServerProcess.start({ kv: TEST_KV, dataDir: dataRoot && `${dataRoot}/server${i}` }),
      ),
    );
    const serverFile = await Deno.makeTempFile({ suffix: ".txt" });
    await Deno.writeTextFile(serverFile, servers.map((s) => `127.0.0.1 ${s.port}\n`).join(""));
    return new KvCluster(servers, serverFile, dataRoot);
  }

  /** The server with id `id`. */
  byId(id: string): ServerProcess {
    const server = this.servers.find((candidate) => candidate.id === id);
    if (server === undefined) throw new Error(`no server ${id}`);
    return server;
  }

  /** Kills every server and removes the temporary files. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.servers.map((server) => server.kill()));
    await Deno.remove(this.serverFile);
    if (this.dataRoot) await Deno.remove(this.dataRoot, { recursive: true });
  }
}

/** A `kv broker` child process driven through its stdin and stdout. */
export class BrokerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<{ text?: string; error?: string }>;
  readonly #stderrDone: Promise<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout)[Symbol.asyncIterator]();
    this.#stderrDone = new Response(child.stderr).text();
  }

  /** Starts `kv broker <args>`. */
  static start(args: string[]): BrokerProcess {
    return new BrokerProcess(kvCommand(["broker", ...args]));
  }

  /** Sends one line. */
  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Reads the next line of stdout. */
  async readLine(): Promise<string> {
    const { done, value } = await this.#lines.next();
    if (done) throw new Error(`broker stdout ended; stderr:\n${await this.#stderrDone}`);
    return value.text ?? "";
  }

  /** Sends a command and parses its one-line JSON answer (the broker must run with --json). */
  async ask(line: string): Promise<Record<string, unknown>> {
    await this.send(line);
    return JSON.parse(await this.readLine());
  }

  /** Closes stdin and waits for the exit; resolves to the exit code, the rest of stdout, and stderr. */
  async finish(): Promise<{ code: number; stdout: string; stderr: string }> {
    await this.#writer.close();
    const rest: string[] = [];
    for (let next = await this.#lines.next(); !next.done; next = await this.#lines.next()) {
      rest.push(next.value.text ?? "");
    }
    const { code } = await this.#child.status;
    return { code, stdout: rest.join("\n"), stderr: await this.#stderrDone };
  }
}
