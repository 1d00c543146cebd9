/**
 * Reading a whole file with a bound on the bytes actually read, never on what `stat`
 * reports: a pipe, a device (`/dev/zero`) or a file growing under us reports a size that
 * says nothing, so the bound is checked as the bytes arrive. Reading stops one byte past
 * the bound, so memory and time stay bounded whatever the path names.
 *
 * @example
 * ```ts
 * import { readFileBounded } from "./read_bounded.ts";
 * const bytes = await readFileBounded("keyFile.txt", 1024 * 1024);
 * ```
 * @module
 */

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

  constructor(path: string, maxBytes: number) {
    super(`${path} is larger than ${maxBytes} bytes`);
    this.name = "FileTooLargeError";
    this.maxBytes = maxBytes;
  }
}

/**
 * All bytes of the file at `path`, reading at most `maxBytes + 1` of them: more throws a
 * {@link FileTooLargeError}. A directory or an unreadable path throws Deno's error.
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
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * The file at `path` as UTF-8 text, read as {@link readFileBounded} reads; bytes that are
 * not UTF-8 throw a TypeError.
 *
 * @example
 * ```ts
 * const text = await readTextFileBounded("serverFile.txt", 1024 * 1024);
 * ```
 */
export async function readTextFileBounded(path: string, maxBytes: number): Promise<string> {
  const bytes = await readFileBounded(path, maxBytes);
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
