/**
 * The REPL's history file, kept between sessions as redis-cli keeps
 * `~/.rediscli_history`: `$XDG_STATE_HOME/kv/history`, or
 * `~/.local/state/kv/history` when XDG_STATE_HOME is unset. One line per
 * command, the newest last, at most {@link MAX_HISTORY_LINES} read back; the
 * file is created private to the user (mode 0600), since lines may hold
 * values. `KV_HISTORY=off` keeps history for the session only and writes
 * nothing.
 *
 * @example
 * ```ts ignore
 * import { openHistory } from "./history.ts";
 * const history = await openHistory((message) => console.error(message));
 * history?.add("GET person1");
 * ```
 * @module
 */
import { FileTooLargeError, readTextFileBounded } from "../base/read_bounded.ts";
import type { HistoryStore } from "../broker/repl.ts";
import { describeFsError } from "../base/fs_error.ts";
import { dirname } from "node:path";

/** Lines of history kept: read back at start, and the most the file holds after a rewrite. */
export const MAX_HISTORY_LINES = 1_000;

/** Longer lines (a pasted record) stay in the session's history but are not saved. */
export const MAX_SAVED_LINE_BYTES = 16 * 1024;

/** A larger file is not read (it was not written by kv); history starts afresh. */
export const MAX_HISTORY_FILE_BYTES = 2 * MAX_HISTORY_LINES * MAX_SAVED_LINE_BYTES;

/** The environment variable that turns the history file off when set to `off`. */
export const HISTORY_ENV = "KV_HISTORY";

/**
 * Where the history file lives, or undefined when it is turned off
 * (`KV_HISTORY=off`), when neither XDG_STATE_HOME nor HOME is set, or when
 * kv may not read the environment.
 *
 * @example
 * ```ts ignore
 * historyPath(); // "/home/ann/.local/state/kv/history"
 * ```
 */
function historyPath(): string | undefined {
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return undefined;
  if (Deno.env.get(HISTORY_ENV) === "off") return undefined;
  const state = Deno.env.get("XDG_STATE_HOME");
  if (state) return `${state}/kv/history`;
  const home = Deno.env.get("HOME");
  return home ? `${home}/.local/state/kv/history` : undefined;
}

/**
 * Opens the history file (see the module doc), or resolves undefined when
 * there is none to keep. A file that cannot be read or written is reported
 * once through `log`, and history then lasts for the session only.
 *
 * @example
 * ```ts ignore
 * const history = await openHistory((message) => console.error(`kv broker: ${message}`));
 * history?.lines; // the last sessions' commands, oldest first, at most MAX_HISTORY_LINES
 * history?.add("GET person1"); // appended to ~/.local/state/kv/history
 * ```
 */
export async function openHistory(
  log: (message: string) => void,
): Promise<HistoryStore | undefined> {
  const path = historyPath();
  if (path === undefined) return undefined;
  let lines: string[] = [];
  try {
    const text = await readTextFileBounded(path, MAX_HISTORY_FILE_BYTES);
    lines = text.split("\n").filter((line) => line !== "").slice(-MAX_HISTORY_LINES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      log(`history file ${path} is larger than ${MAX_HISTORY_FILE_BYTES} bytes; starting afresh`);
    } else if (!(error instanceof Deno.errors.NotFound)) {
      log(`cannot read the history file ${path} (${describeFsError(error)}); history is not kept`);
      return undefined;
    }
  }
  return new HistoryFile(path, lines, log);
}

/** Appends each line; rewrites the file with the last lines once it holds twice the bound. */
class HistoryFile implements HistoryStore {
  readonly #path: string;
  readonly #log: (message: string) => void;
  readonly #saved: string[];
  readonly lines: readonly string[];
  #broken = false;

  constructor(path: string, lines: string[], log: (message: string) => void) {
    this.#path = path;
    this.#log = log;
    this.lines = lines;
    this.#saved = [...lines];
  }

  add(line: string): void {
    if (this.#broken || new TextEncoder().encode(line).length > MAX_SAVED_LINE_BYTES) return;
    this.#saved.push(line);
    try {
      Deno.mkdirSync(dirname(this.#path), { recursive: true });
      if (this.#saved.length > 2 * MAX_HISTORY_LINES) {
        this.#saved.splice(0, this.#saved.length - MAX_HISTORY_LINES);
        const temporary = `${this.#path}.tmp`;
        Deno.writeTextFileSync(temporary, this.#saved.join("\n") + "\n", { mode: 0o600 });
        Deno.renameSync(temporary, this.#path);
      } else {
        Deno.writeTextFileSync(this.#path, line + "\n", { append: true, mode: 0o600 });
      }
    } catch (error) {
      this.#broken = true;
      this.#log(
        `cannot write the history file ${this.#path} (${describeFsError(error)}); not saving`,
      );
    }
  }
}
