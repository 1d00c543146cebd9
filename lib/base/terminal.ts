/**
 * What kind of terminal kv writes to: one that draws escape codes, or a dumb one
 * (`TERM=dumb`: Emacs' `M-x shell`, some CI logs), where they show as text (`^[[K`); and
 * how wide it is.
 *
 * @example
 * ```ts
 * import { isDumbTerminal } from "./terminal.ts";
 * if (isDumbTerminal()) console.error("plain lines only");
 * ```
 * @module
 */

/**
 * Whether the terminal cannot draw escape codes (`TERM=dumb`), as linenoise, which
 * redis-cli uses, asks. Unknown without Deno's leave to read TERM (a kv run with
 * `--allow-env` narrowed to other variables): then not dumb.
 *
 * @example
 * ```ts
 * isDumbTerminal(); // true under TERM=dumb
 * ```
 */
export function isDumbTerminal(): boolean {
  const readable = Deno.permissions.querySync({ name: "env", variable: "TERM" }).state;
  return readable === "granted" && Deno.env.get("TERM") === "dumb";
}

/** Columns assumed when the terminal's width cannot be read. */
export const FALLBACK_COLUMNS = 80;

/**
 * The terminal's width in columns, as `Deno.consoleSize` reads it (from stdout, stdin or
 * stderr, whichever is a terminal); {@link FALLBACK_COLUMNS} when none is.
 *
 * @example
 * ```ts
 * terminalColumns(); // 80 in a pipe, the window's width in a terminal
 * ```
 */
export function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || FALLBACK_COLUMNS;
  } catch {
    return FALLBACK_COLUMNS; // not a terminal after all: any width will do
  }
}
