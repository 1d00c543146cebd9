/**
 * `kv secret`: prints a new shared secret, one auth-file line of random bytes in hex, for
 * `kv server --auth-file` and every client's `--auth-file`. Redirected to a file
 * (`kv secret > kv.auth`, or `>>` to add one for rotation), it also makes that file
 * readable by its owner only, as servers and clients require.
 *
 * @example
 * ```ts
 * import { secretCommand } from "./secret.ts";
 * await secretCommand.run([]);
 * ```
 * @module
 */
import { writeLine } from "../base/stdout.ts";
import { NEW_SECRET_BYTES, newSecretLine } from "../protocol/auth.ts";
import { parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";

/** Where standard output leads on Linux, to find the file it was redirected to. */
const STDOUT_LINK = "/proc/self/fd/1";

/** Mode of an auth file: read and write by its owner only. */
const AUTH_FILE_MODE = 0o600;

const HELP = `Usage: kv secret

Prints a new shared secret (${NEW_SECRET_BYTES} random bytes in hex) on one line, for
--auth-file. 'kv secret > kv.auth' writes a new auth file; 'kv secret >> kv.auth'
adds a secret to one (servers accept every secret in their file, clients use the
first: add the new one to the servers' files, restart them, then give clients a
file with the new one first, then remove the old one). When standard output is a
file, kv secret makes it readable by its owner only (mode 600).

Exit codes: 0 on success, 2 for bad flags.`;

function restrictStdoutFile(): void {
  try {
    if (!Deno.statSync(STDOUT_LINK).isFile) return;
    Deno.chmodSync(STDOUT_LINK, AUTH_FILE_MODE);
  } catch (error) {
    // Not Linux, or not our file to change: say what the server will ask for.
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    console.error(`kv secret: could not make the output file private (${reason}); chmod 600 it`);
  }
}

async function runSecret(args: string[]): Promise<number> {
  parseFlags("secret", args, {});
  restrictStdoutFile();
  writeLine(newSecretLine());
  return await Promise.resolve(0);
}

/** The `kv secret` subcommand. */
export const secretCommand: Subcommand = {
  name: "secret",
  help: HELP,
  run: runSecret,
};
