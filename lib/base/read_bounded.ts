/**
 * Reading a whole file with a bound on the bytes actually read, never on what `stat`
 * reports: a file growing under us reports a size that says nothing, so the bound is
 * checked as the bytes arrive. Reading stops one byte past the bound, so memory and time
 * stay bounded. Only a regular file is read: a FIFO that no one writes blocks the open for
 * ever, and a device (`/dev/zero`, a terminal) may never end or wait on a person, so any of
 * them is refused before it is opened — but for an anonymous pipe (the shell's `<(…)`, or
 * `/dev/stdin` fed by a pipe), which opens at once.
 *
 * @example
 * ```ts
 * import { readFileBounded } from "./read_bounded.ts";
 * const bytes = await readFileBounded("keyFile.txt", 1024 * 1024);
 * ```
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { invariant } from "./invariant.ts";
import { firstInvalidUtf8 } from "./utf8.ts";

/** Bytes asked of the file per read. */
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * The file holds more than the bound allows; nothing past the bound was read.
 *
 * @example
 * ```ts
 * try {
 *   await readFileBounded("/dev/zero", 4096);
 * } catch (error) {
 *   (error as FileTooLargeError).message; // "/dev/zero is larger than 4096 bytes"
 *   (error as FileTooLargeError).maxBytes; // 4096
 * }
 * ```
 */
export class FileTooLargeError extends Error {
  /** The bound that was exceeded, in bytes. */
  readonly maxBytes: number;

  /** The error for `path`, larger than `maxBytes`. */
  constructor(path: string, maxBytes: number) {
    super(`${path} is larger than ${maxBytes} bytes`);
    this.name = "FileTooLargeError";
    this.maxBytes = maxBytes;
  }
}

/**
 * The path names neither a regular file nor a directory — a FIFO, a device, a socket —
 * and was not opened: opening a FIFO no one writes would block for ever.
 *
 * @example
 * ```ts
 * try {
 *   await readFileBounded("/dev/zero", 4096);
 * } catch (error) {
 *   (error as NotRegularFileError).message; // "it is a character device, not a regular file"
 * }
 * ```
 */
export class NotRegularFileError extends Error {
  /** The error for a path that is `kind` ("a FIFO", "a socket"), which was not opened. */
  constructor(kind: string) {
    // Worded as Deno's IsADirectory is by describeFsError, which callers put after the path.
    super(`it is ${kind}, not a regular file`);
    this.name = "NotRegularFileError";
  }
}

/**
 * All bytes of the file at `path`, reading at most `maxBytes + 1` of them: more throws a
 * {@link FileTooLargeError}. A FIFO, a device or a socket throws a
 * {@link NotRegularFileError} before it is opened, but for an anonymous pipe named through the
 * process's descriptors (the shell's `<(…)`), which opens without waiting; a directory or an
 * unreadable path throws Deno's error.
 *
 * @example
 * ```ts
 * try {
 *   await readFileBounded("/dev/zero", 4096);
 * } catch (error) {
 *   console.log(error instanceof FileTooLargeError); // true
 * }
 * ```
 */
export async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a whole number of bytes, got ${maxBytes}`);
  }
  // Checked by name before the open, which is what blocks on a FIFO; a FIFO put there in
  // between is the doing of whoever may write the directory, who could change the file anyway.
  const kind = notRegularKind(await Deno.stat(path));
  if (kind !== undefined && !await isAnonymousPipe(path)) throw new NotRegularFileError(kind);
  using file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    // One byte past the bound is enough to know the file is too large.
    const room = Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total);
    const chunk = new Uint8Array(room);
    const count = await file.read(chunk);
    if (count === null) break;
    total += count;
    if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    chunks.push(chunk.subarray(0, count));
  }
  return concatBytes(chunks);
}

/**
 * Links followed looking for an anonymous pipe: `/dev/stdin` is two away from `pipe:[…]`
 * (through `/proc/self/fd/0`); the bound ends a loop of links, which the open would refuse.
 */
const MAX_PIPE_LINKS = 8;

/**
 * Whether `path` names an anonymous pipe through the process's descriptors (`/dev/fd/63`, as
 * the shell's `<(…)` gives; `/dev/stdin`, when a pipe or a here-string feeds it): Linux opens
 * one at once, writer or not, where a named FIFO waits for its writer; so it is read as a file
 * is, to its end. The links are followed one at a time, since the last one's target,
 * `pipe:[…]`, names no file.
 */
async function isAnonymousPipe(path: string): Promise<boolean> {
  let link = path;
  for (let hops = 0; hops < MAX_PIPE_LINKS; hops++) {
    let target: string;
    try {
      target = await Deno.readLink(link);
    } catch {
      // Not a link: a named FIFO, a device or a socket, never a descriptor's pipe.
      return false;
    }
    if (target.startsWith("pipe:[")) return true;
    link = target.startsWith("/") ? target : `${link.slice(0, link.lastIndexOf("/") + 1)}${target}`;
  }
  return false;
}

/** What `info` names when it is neither a regular file nor a directory (which open reports). */
function notRegularKind(info: Deno.FileInfo): string | undefined {
  if (info.isFile || info.isDirectory) return undefined;
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "a file of an unknown kind";
}

/**
 * Bytes that are not UTF-8 text, and where the first character that is not starts: its
 * 1-based line and column (in code points, as kv's other file positions count), so that a
 * caller names it `file:line:col`.
 *
 * @example
 * ```ts
 * try {
 *   decodeUtf8Text(Uint8Array.of(0x61, 0x0a, 0x62, 0xff));
 * } catch (error) {
 *   (error as NotUtf8Error).message; // "2:2: not UTF-8 text (byte 0xff)"
 * }
 * ```
 */
export class NotUtf8Error extends Error {
  /** 1-based line of the first character that is not UTF-8. */
  readonly line: number;
  /** 1-based column of it, in code points. */
  readonly column: number;

  /** The error for the character at `line`:`column`, starting with `byte`. */
  constructor(line: number, column: number, byte: number) {
    super(`${line}:${column}: not UTF-8 text (byte 0x${byte.toString(16).padStart(2, "0")})`);
    this.name = "NotUtf8Error";
    this.line = line;
    this.column = column;
  }
}

/**
 * `bytes` decoded as UTF-8 (a leading byte order mark dropped); bytes that are not UTF-8
 * throw a {@link NotUtf8Error} naming where.
 *
 * @example
 * ```ts
 * decodeUtf8Text(new TextEncoder().encode("127.0.0.1 8000\n")); // "127.0.0.1 8000\n"
 * ```
 */
export function decodeUtf8Text(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw notUtf8At(bytes);
  }
}

/** The {@link NotUtf8Error} for `bytes`, which do not decode. */
function notUtf8At(bytes: Uint8Array): NotUtf8Error {
  const at = firstInvalidUtf8(bytes, 0, bytes.length);
  invariant(at >= 0, "bytes a fatal TextDecoder refused are not well-formed UTF-8");
  // A byte order mark starts no column: the readers drop it.
  const before = new TextDecoder("utf-8").decode(bytes.subarray(0, at));
  const lines = before.split("\n");
  const column = [...lines[lines.length - 1]].length + 1;
  return new NotUtf8Error(lines.length, column, bytes[at]);
}

/**
 * The file at `path` as UTF-8 text, read as {@link readFileBounded} reads; bytes that are
 * not UTF-8 throw a {@link NotUtf8Error}.
 *
 * @example
 * ```ts
 * const text = await readTextFileBounded("serverFile.txt", 1024 * 1024);
 * ```
 */
export async function readTextFileBounded(path: string, maxBytes: number): Promise<string> {
  return decodeUtf8Text(await readFileBounded(path, maxBytes));
}
