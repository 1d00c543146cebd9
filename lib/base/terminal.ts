/**
 * What kind of terminal kv writes to: one that draws escape codes, or a dumb one
 * (`TERM=dumb`: Emacs' `M-x shell`, some CI logs), where they show as text (`^[[K`).
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
