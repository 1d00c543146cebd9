/**
 * The short, plain reason of a file-system error, for a one-line message to a
 * person: "No such file or directory" rather than Deno's
 * "No such file or directory (os error 2): open 'x'", and no advice about
 * Deno's permission flags, which a kv user does not choose.
 *
 * @example
 * ```ts
 * import { describeFsError } from "./fs_error.ts";
 * try {
 *   await Deno.readTextFile("missing.txt");
 * } catch (error) {
 *   console.error(`cannot read missing.txt: ${describeFsError(error)}`); // No such file or directory
 * }
 * ```
 * @module
 */
import { describeError } from "./describe_error.ts";

/**
 * The reason `error` (thrown by a `Deno` file-system call) gives, in a few words.
 *
 * @example
 * ```ts
 * describeFsError(new Deno.errors.NotFound("x (os error 2): open 'y'")); // "No such file or directory"
 * ```
 */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "No such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "Permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  if (error instanceof Deno.errors.NotCapable) {
    // kv run by `deno run` without --allow-read or --allow-write: the user's to give.
    const flag = /^Requires (read|write) access/.exec(error.message)?.[1];
    if (flag !== undefined) {
      return `Deno does not let kv ${flag} it (no --allow-${flag} for it); run kv with ` +
        `--allow-${flag}, as 'deno install' of kv does`;
    }
    // Deno refuses some paths (devices such as /dev/stdin, /proc, /sys) whatever the
    // permission flags, advising --allow-all, which is no advice for kv: "not allowed" alone
    // read as the file's mode.
    return "Deno does not let kv open a device, /proc or /sys";
  }
  const message = describeError(error);
  return withoutOsDetail(message.split("\n")[0]);
}

/**
 * `message` without Deno's ` (os error N)` and what follows it (`: open 'x'`),
 * which repeat what a one-line message already says.
 *
 * @example
 * ```ts
 * withoutOsDetail("Connection refused (os error 111)"); // "Connection refused"
 * ```
 */
export function withoutOsDetail(message: string): string {
  return message.replace(/ \(os error \d+\)[^;)]*/g, "");
}

/**
 * Whether `error` is a file-system failure, as a person can act on it: one of Deno's error
 * kinds (`NotFound`, `PermissionDenied`, …), or an OS error Deno has no kind for, which it
 * throws as a plain `Error` with the errno's name in `code` — `ENOSPC` (disk full),
 * `EROFS`, `EIO`, `EDQUOT`.
 *
 * @example
 * ```ts
 * isFsError(new Deno.errors.NotFound("x")); // true
 * isFsError(Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" })); // true
 * isFsError(new TypeError("x is not a function")); // false: a bug, not the disk
 * ```
 */
export function isFsError(error: unknown): boolean {
  if (Object.values(Deno.errors).some((kind) => error instanceof kind)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** Permission bits that must be clear on a file of secrets: any access by group or others. */
const GROUP_OTHER_BITS = 0o077;

/** Of {@link GROUP_OTHER_BITS}, those that let group or others read. */
const GROUP_OTHER_READ_BITS = 0o044;

/**
 * What is wrong with a directory of secrets (a data dir) whose `info` lets group or others
 * in, with what to do; undefined when only its owner can enter it (or the file system keeps
 * no modes).
 *
 * @example
 * ```ts
 * exposedSecretDirectory("data", await Deno.stat("data"));
 * // "accessible by group or others (mode 755); run 'chmod 700 data'"
 * ```
 */
export function exposedSecretDirectory(path: string, info: Deno.FileInfo): string | undefined {
  if (!info.isDirectory || info.mode === null || (info.mode & GROUP_OTHER_BITS) === 0) {
    return undefined;
  }
  const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
  return `accessible by group or others (mode ${mode}); run 'chmod 700 ${path}'`;
}

/**
 * What is wrong with a file of secrets (an auth file, a tokens file) whose `info` lets group
 * or others in, with what to do; undefined when only its owner can read it (or the file
 * system keeps no modes). The chmod is advised for a file of the user's own only: another
 * user's (`/etc/shadow`, 640 root:shadow) may be as it should be for its owner, and whose it
 * is cannot be told without --allow-sys (Deno.uid), which kv is not given.
 *
 * @example
 * ```ts
 * exposedSecretFile("kv.auth", await Deno.stat("kv.auth"));
 * // "readable by group or others (mode 644); give a file readable by its owner only
 * // ('chmod 600 kv.auth' if it is yours)"
 * ```
 */
export function exposedSecretFile(path: string, info: Deno.FileInfo): string | undefined {
  if (!info.isFile || info.mode === null || (info.mode & GROUP_OTHER_BITS) === 0) return undefined;
  const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
  if ((info.mode & GROUP_OTHER_READ_BITS) === 0) {
    // Not readable by them, but anyone may put a secret of their own in it.
    return `writable by group or others (mode ${mode}); give a file only its owner can read ` +
      `and write ('chmod 600 ${path}' if it is yours)`;
  }
  return `readable by group or others (mode ${mode}); give a file readable by its owner only ` +
    `('chmod 600 ${path}' if it is yours)`;
}
