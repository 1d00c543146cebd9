/**
 * The worker side of {@link ./parallel.ts}: generates the blocks it is given
 * and posts their chunks, stopping after {@link WORKER_CHUNKS_IN_FLIGHT} chunks that
 * the main thread has not yet taken, so a block far ahead of the writer cannot fill
 * memory.
 *
 * Messages in: `start` (the generator options, once), `block` (a block to generate;
 * they queue), `credit` (chunks taken). Out: `ready`, `chunk` (its bytes transferred),
 * `done` (a block's last chunk was posted).
 *
 * @example
 * ```ts ignore
 * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ type: "start", options });
 * ```
 * @module
 */
/// <reference lib="deno.worker" />
import { type GeneratorOptions, RecordGenerator } from "./generator.ts";

/** Chunks a worker posts before it waits for the main thread to take some. */
export const WORKER_CHUNKS_IN_FLIGHT = 8;

/** What the main thread sends. */
export type ToWorker =
  | { readonly type: "start"; readonly options: GeneratorOptions }
  | { readonly type: "block"; readonly block: number }
  | { readonly type: "credit"; readonly count: number };

/** What a worker sends. */
export type FromWorker =
  | { readonly type: "ready" }
  | {
    readonly type: "chunk";
    readonly block: number;
    readonly bytes: Uint8Array;
    readonly recordsDone: number;
  }
  | { readonly type: "done"; readonly block: number };

let records: RecordGenerator | undefined;
const queue: number[] = [];
let running = false;
let credits = WORKER_CHUNKS_IN_FLIGHT;
let onCredit: (() => void) | undefined;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

async function generateQueued(generator: RecordGenerator): Promise<void> {
  running = true;
  while (queue.length > 0) {
    const block = queue.shift()!;
    for (const chunk of generator.block(block)) {
      // A copy of its own: the generator reuses its buffers, and this one is transferred.
      const bytes = chunk.bytes.slice();
      post({ type: "chunk", block, bytes, recordsDone: chunk.recordsDone }, [bytes.buffer]);
      credits--;
      while (credits === 0) await new Promise<void>((resolve) => onCredit = resolve);
    }
    post({ type: "done", block });
  }
  running = false;
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "start":
      records = new RecordGenerator(message.options);
      // Warm the JIT with one throwaway chunk while the main thread generates the
      // first blocks: a cold worker's first block takes twice as long.
      records.block(0).next();
      post({ type: "ready" });
      return;
    case "block":
      if (records === undefined) throw new Error("invariant broken: a block before start");
      queue.push(message.block);
      if (!running) generateQueued(records);
      return;
    case "credit":
      credits += message.count;
      onCredit?.();
      onCredit = undefined;
      return;
  }
};
