/**
 * Words and flags written for a user to paste into a shell, quoted when a shell would not
 * read them back as they are: the one quoting of the CLI's advice (lib/cli/shell_command.ts)
 * and of the library's repair advice (lib/client/kv.ts), which names the program's server
 * file in `kv repair -s FILE`.
 *
 * @example
 * ```ts
 * import { shellFlag, shellWord } from "./shell_word.ts";
 * shellWord("my list"); // "'my list'"
 * shellFlag("-s", "--servers", "my list"); // "-s 'my list'"
 * ```
 * @module
 */

/**
 * `text` as one shell word: bare when it holds only characters no shell treats specially.
 *
 * @example
 * ```ts
 * shellWord("servers.txt"); // "servers.txt"
 * shellWord("it's"); // "'it'\\''s'"
 * ```
 */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * A flag with its value as a shell reads them back: `written value` (`-s servers.txt`), or
 * `long=value` when the value starts with `-`, which after a space would read as a flag of
 * its own.
 *
 * @example
 * ```ts
 * shellFlag("-s", "--servers", "servers.txt"); // "-s servers.txt"
 * shellFlag("--tls-ca", "--tls-ca", "-ca.pem"); // "--tls-ca=-ca.pem"
 * ```
 */
export function shellFlag(written: string, long: string, value: string): string {
  return value.startsWith("-") ? `${long}=${shellWord(value)}` : `${written} ${shellWord(value)}`;
}
