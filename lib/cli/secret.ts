/**
 * `kv secret`: prints a new shared secret, one auth-file line of random bytes in hex, for
 * `kv server --auth-file` and every client's `--auth-file`; `-o FILE` writes a new auth
 * file readable by its owner only, as servers and clients require.
 *
 * @example
 * ```ts
 * import { secretCommand } from "./secret.ts";
 * await secretCommand.run([]);
 * ```
 * @module
 */
import { describeFsError } from "../base/fs_error.ts";
import { shellWord } from "../base/shell_word.ts";
import { writeLine } from "../base/stdout.ts";
import { NEW_SECRET_BYTES, newSecretLine } from "../protocol/auth.ts";
import { writeAll } from "../base/bytes.ts";
import { fileOrNumberFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { UserError } from "./user_error.ts";

/** The -o FILE that means standard output, as it does for kv gen. */
const STDOUT_PATH = "-";

/** Mode of an auth file: read and write by its owner only. */
const AUTH_FILE_MODE = 0o600;

const HELP = `Usage: kv secret [-o FILE]

Prints a new shared secret (${NEW_SECRET_BYTES} random bytes in hex) on one line, for
--auth-file. 'kv secret -o kv.auth' writes a new auth file readable by its owner
only (mode 600), as servers and clients require; 'kv secret >> kv.auth' adds a
secret to one. Servers accept every secret in their file and clients use the
first: to rotate, add the new one to the servers' files and restart them, give
clients a file with the new one first, then remove the old one.

Flags:
  -o, --output FILE   write a new auth file FILE (mode 600) instead of printing;
                      an existing FILE is left alone; '-o -' prints it, as
                      kv gen -o - does
  -h, --help          show this help

Exit codes: 0 on success, 2 for bad flags or a FILE that exists or cannot be
written.`;

/**
 * Writes a new auth file at `path`, never over an existing one. A write that fails (a full
 * disk) removes the file it created: an empty auth file left behind would be refused as
 * existing by the next `kv secret -o` and as holding no secret by every server.
 */
async function writeNewAuthFile(path: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: AUTH_FILE_MODE });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      const isDirectory = await Deno.stat(path).then((stat) => stat.isDirectory, () => false);
      if (isDirectory) {
        throw new UserError(
          `kv secret: ${path} is a directory; name a new file, e.g. kv secret -o ` +
            `${path.replace(/\/+$/, "")}/kv.auth`,
        );
      }
      throw new UserError(
        `kv secret: ${path} exists; add a secret with 'kv secret >> ${path}' or remove it first`,
      );
    }
    // No such directory: say to make it, which is what the user has to do.
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    const mkdir = `mkdir -p ${shellWord(parent)}`;
    const advice = error instanceof Deno.errors.NotFound && parent !== ""
      ? `; make its directory first (${mkdir}) or name a file in one that exists`
      : "";
    throw new UserError(`kv secret: cannot write ${path}: ${describeFsError(error)}${advice}`);
  }
  try {
    await writeAll(file, new TextEncoder().encode(newSecretLine() + "\n"));
  } catch (error) {
    const reason = describeFsError(error);
    file.close();
    const removed = await Deno.remove(path).then(() => true, () => false);
    throw new UserError(
      `kv secret: cannot write ${path}: ${reason}` +
        (removed ? "" : `; remove the incomplete ${path}`),
    );
  }
  file.close();
}

async function runSecret(args: string[]): Promise<number> {
  const { values } = parseFlags(
    "secret",
    args,
    { output: { type: "string", short: "o" } },
    { meantFlag: fileOrNumberFlag("-o") },
  );
  // '-' is standard output, as for kv gen -o -: a file named '-' is made with -o ./-.
  if (values.output === undefined || values.output === STDOUT_PATH) writeLine(newSecretLine());
  else await writeNewAuthFile(values.output);
  return 0;
}

/** The `kv secret` subcommand. */
export const secretCommand: Subcommand = {
  name: "secret",
  help: HELP,
  run: runSecret,
};
