/**
 * Runs a program in a real pseudo-terminal through tmux, types into it and
 * reads its screen, for tests of the REPL as a person uses it. Each session
 * has its own tmux server (a private socket), so tests never share state.
 * Every wait has a deadline; on timeout the error shows the screen. A wait reads
 * the screen (one `tmux capture-pane` process) only when the program has written
 * something since the last read: tmux copies the pane's output to a file
 * (`pipe-pane`), and the wait polls that file's size in process.
 *
 * @example
 * ```ts ignore
 * terminalTest("the REPL answers", async () => {
 *   await using term = await Terminal.start(["deno", "run", "main.ts", "broker", "-s", file]);
 *   await term.waitFor(/kv> $/m);
 *   await term.type("GET person1");
 *   await term.press("Enter");
 *   await term.waitFor(/NOT FOUND: person1/);
 * });
 * ```
 * @module
 */
import { MAIN_PATH } from "./run_kv.ts";
import { DEFAULT_DEADLINE_MS, outputWithin, waitFor } from "./wait.ts";

/** Whether tmux can be run here. */
export const HAVE_TMUX: boolean = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/**
 * A test that needs a terminal: ignored, with the reason in its name, where
 * tmux is not installed.
 */
export function terminalTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: HAVE_TMUX ? name : `${name} (ignored: tmux is not installed)`,
    ignore: !HAVE_TMUX,
    fn,
  });
}

/** The command line that runs this checkout's `kv` with the deno tasks' permissions. */
export function kvArgs(...args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-env",
    "--allow-sys=osUptime",
    MAIN_PATH,
    ...args,
  ];
}

/** Options for {@link Terminal.start}. */
export interface TerminalOptions {
  /** Environment for the program, on top of `NO_COLOR=1`; default none. */
  env?: Record<string, string>;
  /** Screen width; default 120. */
  columns?: number;
  /** Screen height; default 40. */
  rows?: number;
  /** A shell pipeline suffix, e.g. `| cat > out.txt`; default none. */
  pipeTo?: string;
}

function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A program running in a tmux pseudo-terminal. */
export class Terminal {
  readonly #socket: string;
  /** Where tmux copies everything the program writes to the terminal (see {@link waitFor}). */
  readonly #outputCopy: string;
  /** Where the shell writes the program's process id (see {@link signal}). */
  readonly #pidFile: string;

  private constructor(socket: string, outputCopy: string, pidFile: string) {
    this.#socket = socket;
    this.#outputCopy = outputCopy;
    this.#pidFile = pidFile;
  }

  /**
   * Starts `command` in a fresh terminal. When it ends, the screen shows
   * `[exit N]` (see {@link exitCode}) and the pane stays open.
   */
  static async start(command: string[], options: TerminalOptions = {}): Promise<Terminal> {
    const socket = `kv-test-${crypto.randomUUID()}`;
    const env = Object.entries({ NO_COLOR: "1", ...options.env })
      .map(([name, value]) => `${name}=${quote(value)}`).join(" ");
    const terminal = new Terminal(
      socket,
      await Deno.makeTempFile({ prefix: "kv-pane-" }),
      await Deno.makeTempFile({ prefix: "kv-pid-" }),
    );
    // The subshell writes its own id, then becomes the program (exec, and env execs too).
    const program = `exec env ${env} ${command.map(quote).join(" ")}`;
    const run = `(echo $BASHPID > ${quote(terminal.#pidFile)}; ${program}) ${options.pipeTo ?? ""}`;
    const script = `${run}; echo "[exit \${PIPESTATUS[0]}]"; exec sleep 3600`;
    await terminal.#tmux(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      String(options.columns ?? 120),
      "-y",
      String(options.rows ?? 40),
      "bash",
      "-c",
      script,
    );
    // Output written before the pipe opens is missed, but the first read of a wait is
    // unconditional, so it shows on the screen all the same.
    await terminal.#tmux("pipe-pane", `cat >> ${quote(terminal.#outputCopy)}`);
    return terminal;
  }

  async #tmux(...args: string[]): Promise<string> {
    const child = new Deno.Command("tmux", {
      args: ["-L", this.#socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, { what: `tmux ${args[0]}` });
    if (!output.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    return new TextDecoder().decode(output.stdout);
  }

  /** Types `text` literally, as one write to the terminal (as a fast typist or a paste). */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-l", "--", text);
  }

  /** Types `bytes` as they are, valid UTF-8 or not (a terminal set to Latin-1 sends 0xe9 for é). */
  async typeBytes(bytes: Uint8Array): Promise<void> {
    const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0"));
    await this.#tmux("send-keys", "-H", ...hex);
  }

  /**
   * Types `text` and waits for the screen to match `shown`, so that a key pressed next
   * reaches the program alone: keys that arrive in one read are a paste to the REPL,
   * where a Tab is a space, and on a loaded machine separate writes can arrive together.
   */
  async typeShown(text: string, shown: RegExp): Promise<void> {
    await this.type(text);
    await this.waitFor(shown);
  }

  /** Presses keys by tmux name, one write each: `Enter`, `Tab`, `C-c`, `C-d`, `C-r`, `Up`. */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) await this.#tmux("send-keys", key);
  }

  /** Pastes `text` as a terminal paste does: all its bytes written at once. */
  async paste(text: string): Promise<void> {
    const file = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(file, text);
      await this.#tmux("load-buffer", file);
      await this.#tmux("paste-buffer", "-d");
    } finally {
      await Deno.remove(file);
    }
  }

  /**
   * The screen's text (with what scrolled off it), wrapped lines joined,
   * spaces at line ends and blank lines at the end dropped.
   */
  async screen(): Promise<string> {
    const text = await this.#tmux("capture-pane", "-p", "-J", "-S", "-1000");
    return text.split("\n").map((line) => line.trimEnd()).join("\n").trimEnd();
  }

  /**
   * Waits until the screen matches `pattern` and returns the match; throws
   * with the screen once `timeoutMs` pass. The screen is read first, then again
   * each time the program has written more to the terminal: tmux updates the
   * screen before it copies the same bytes out, so a screen that could match
   * was read after the write that made it.
   */
  async waitFor(pattern: RegExp, timeoutMs = DEFAULT_DEADLINE_MS): Promise<RegExpExecArray> {
    let screen = "";
    let match: RegExpExecArray | null = null;
    let copied = -1;
    try {
      await waitFor(async () => {
        const size = (await Deno.stat(this.#outputCopy)).size;
        if (size === copied) return false;
        copied = size;
        screen = await this.screen();
        match = pattern.exec(screen);
        return match !== null;
      }, { what: `the screen to show ${pattern}`, timeoutMs });
    } catch (error) {
      throw new Error(`${(error as Error).message}; the screen:\n${screen}`, { cause: error });
    }
    return match!;
  }

  /** Sends `signal` to the program (not to the shell around it), as `kill` from elsewhere. */
  async signal(signal: Deno.Signal): Promise<void> {
    // The file is empty until the shell has written it.
    let pid = 0;
    await waitFor(async () => (pid = Number(await Deno.readTextFile(this.#pidFile))) > 0, {
      what: "the program's process id",
    });
    Deno.kill(pid, signal);
  }

  /** The cursor's column, 0 at the left: after Enter a REPL leaves it at 0 while a command runs. */
  async cursorColumn(): Promise<number> {
    return Number(await this.#tmux("display-message", "-p", "#{cursor_x}"));
  }

  /** Whether the terminal is in raw mode (no line editing, `-icanon`), as `stty` reads it. */
  async isRaw(): Promise<boolean> {
    const tty = (await this.#tmux("display-message", "-p", "#{pane_tty}")).trim();
    const child = new Deno.Command("stty", {
      args: ["-F", tty, "-a"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, { what: "stty -a" });
    if (!output.success) throw new Error(`stty failed: ${new TextDecoder().decode(output.stderr)}`);
    return /(^|\s)-icanon(\s|$)/.test(new TextDecoder().decode(output.stdout));
  }

  /** Waits for the program to end and returns its exit code. */
  async exitCode(timeoutMs = DEFAULT_DEADLINE_MS): Promise<number> {
    const match = await this.waitFor(/^\[exit (\d+)\]$/m, timeoutMs);
    return Number(match[1]);
  }

  /** Ends the terminal and everything running in it. */
  async [Symbol.asyncDispose](): Promise<void> {
    // kill-server fails only when the server has already gone, which is the aim.
    await this.#tmux("kill-server").catch(() => {});
    await Deno.remove(this.#outputCopy);
    await Deno.remove(this.#pidFile);
  }
}
