/**
 * Runs `main.ts` as a real child process, the way a user runs `kv`, and
 * collects its exit code and output; a run that outlasts its deadline is
 * killed and fails the test (see ./wait.ts).
 *
 * @example
 * ```ts
 * const { code, stdout } = await runKv(["--version"]);
 * ```
 * @module
 */
import { secretCommand } from "../../lib/cli/secret.ts";
import { withDeadline } from "./wait.ts";

/** Absolute path of the repository's `main.ts`. */
export const MAIN_PATH = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The permissions {@link runKv} runs kv with by default: network, files, child processes, and
 * of the environment only the variables kv takes settings from (KV_SERVERS, KV_AUTH_FILE).
 */
export const KV_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env=KV_SERVERS,KV_AUTH_FILE",
];

/**
 * Every kv command that connects to servers as a client, each with what it needs to run once
 * (the server file, `-s FILE`, goes after): for the tests of what they must all say alike, so
 * that a command added here is checked by each.
 */
export const CLIENT_COMMANDS: readonly (readonly string[])[] = [
  ["get", "a"],
  ["put", "a: 1"],
  ["keys"],
  ["servers"],
  ["broker"],
  ["repair"],
  ["bench", "-n", "1", "--ops", "1"],
  ["http", "--listen", "127.0.0.1:0"],
];

/** What a finished `kv` process left behind. */
export interface KvRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link runKv}. */
export interface RunKvOptions {
  /** Text fed to standard input; default none (stdin is closed). */
  stdin?: string;
  /** Working directory; default the test's. */
  cwd?: string;
  /** Extra environment variables; default none. */
  env?: Record<string, string>;
  /** How long it may run, in ms; default `DEFAULT_DEADLINE_MS` of ./wait.ts. */
  timeoutMs?: number;
  /** Deno's permission flags for it; default {@link KV_PERMISSIONS}. */
  permissions?: readonly string[];
}

/**
 * Runs `kv <args>` with {@link KV_PERMISSIONS} (or `options.permissions`) and waits for it
 * to exit; kills it (SIGKILL) and throws when it outlasts `options.timeoutMs`.
 *
 * @example
 * ```ts
 * const run = await runKv(["gen", "--bogus"]);
 * // run.code === 2
 * ```
 */
export async function runKv(
  args: readonly string[],
  options: RunKvOptions = {},
): Promise<KvRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...options.permissions ?? KV_PERMISSIONS, MAIN_PATH, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const run = async () => {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    return await child.output();
  };
  const { code, stdout, stderr } = await withDeadline(run(), {
    what: `kv ${args.join(" ")} to exit`,
    timeoutMs: options.timeoutMs,
    onTimeout: () => child.kill("SIGKILL"),
  });
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Makes the auth file `dir/name` as `kv secret -o dir/name` does, with its code run in this
 * process (a test that needs an auth file is not a test of kv secret, whose own test runs the
 * real process), and returns its path.
 *
 * @example
 * ```ts
 * const authFile = await newAuthFile(dir, "kv.auth");
 * ```
 */
export async function newAuthFile(dir: string, name: string): Promise<string> {
  const path = `${dir}/${name}`;
  const code = await secretCommand.run(["-o", path]);
  if (code !== 0) throw new Error(`kv secret -o ${path} exited ${code}`);
  return path;
}
