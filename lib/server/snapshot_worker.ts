/**
 * The worker side of {@link SnapshotWriter} (./snapshot.ts): it writes a snapshot file off
 * the server's event loop. In Deno a write to a file runs on the calling thread, and the
 * kernel may hold it for 100 ms or more while it flushes dirty pages (measured here: a
 * 256 KiB write took 128 ms); in this worker such a stall delays only the snapshot,
 * never a request. The worker also keeps the checksum, so the main thread only encodes.
 *
 * Messages in, one at a time (each answered before the next is sent): `open` (the final
 * path; the worker writes `path + ".tmp"`), `write` (bytes, transferred), `finish`
 * (trailer, fsync, close, rename, fsync of the directory), `abort` (close, remove the
 * temporary file). Out: `{ ok: true, byteLength }` (bytes written so far) or
 * `{ ok: false, message }`.
 *
 * @example
 * ```ts ignore
 * const worker = new Worker(new URL("./snapshot_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ type: "open", path: "/tmp/kv/snapshot-0000000002.kvsnap" });
 * ```
 * @module
 */
/// <reference lib="deno.worker" />
import { ByteWriter, writeAll } from "../base/bytes.ts";
import { crc32c } from "../base/crc32.ts";
import { SNAPSHOT_TRAILER_BYTES } from "./snapshot.ts";
import { AtomicFile } from "./storage_log.ts";

/** What the main thread sends. */
export type ToSnapshotWorker =
  | { readonly type: "open"; readonly path: string }
  | { readonly type: "write"; readonly bytes: Uint8Array }
  | { readonly type: "finish" }
  | { readonly type: "abort" };

/** What the worker answers each message with. */
export type FromSnapshotWorker =
  | { readonly ok: true; readonly byteLength: number }
  | { readonly ok: false; readonly message: string; readonly code?: string };

let file: AtomicFile | undefined;
let crc = 0;
let byteLength = 0;

async function handle(message: ToSnapshotWorker): Promise<void> {
  switch (message.type) {
    case "open":
      file = await AtomicFile.open(message.path);
      return;
    case "write":
      crc = crc32c(message.bytes, crc);
      await writeAll(file!.file, message.bytes);
      byteLength += message.bytes.length;
      return;
    case "finish": {
      const trailer = new ByteWriter(SNAPSHOT_TRAILER_BYTES);
      trailer.u32(crc);
      await writeAll(file!.file, trailer.bytes());
      byteLength += SNAPSHOT_TRAILER_BYTES;
      // Kept until committed: an abort after a failed commit still removes the temporary file.
      await file!.commit();
      file = undefined;
      return;
    }
    case "abort":
      await file?.abandon();
      file = undefined;
      return;
  }
}

self.onmessage = async (event: MessageEvent<ToSnapshotWorker>) => {
  let answer: FromSnapshotWorker;
  try {
    await handle(event.data);
    answer = { ok: true, byteLength };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The errno's name (ENOSPC, EROFS, EIO), by which the store tells a disk's failure.
    const code = (error as { code?: unknown } | null)?.code;
    answer = typeof code === "string" ? { ok: false, message, code } : { ok: false, message };
  }
  self.postMessage(answer);
};
