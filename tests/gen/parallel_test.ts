import assert from "node:assert/strict";
import { BLOCK_RECORDS, generateChunks, type GeneratorOptions } from "../../lib/gen/generator.ts";
import {
  generateChunksInParallel,
  generatorWorkerCount,
  MIN_PARALLEL_RECORDS,
} from "../../lib/gen/parallel.ts";
import { COMPAT_KEYS } from "../helpers/fixtures.ts";

function joined(chunks: Uint8Array[]): string {
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk)).join("");
}

async function parallelText(options: GeneratorOptions, workers: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let recordsDone = 0;
  let byWorkers = 0;
  const parallel = {
    workers,
    waitForWorkers: true,
    onBlock: (_: number, by: "main" | "worker") => byWorkers += by === "worker" ? 1 : 0,
  };
  for await (const chunk of generateChunksInParallel(options, parallel)) {
    assert.ok(chunk.recordsDone > recordsDone, "records done only grows");
    recordsDone = chunk.recordsDone;
    chunks.push(chunk.bytes.slice());
  }
  assert.equal(recordsDone, options.recordCount);
  if (workers > 0) assert.ok(byWorkers > 0, "workers generated some blocks");
  return joined(chunks);
}

function sequentialText(options: GeneratorOptions): string {
  const chunks: Uint8Array[] = [];
  // Copied as they come: each chunk is a view of a buffer the generator reuses.
  for (const chunk of generateChunks(options)) chunks.push(chunk.bytes.slice());
  return joined(chunks);
}

Deno.test("worker threads produce exactly the bytes of the sequential generator", async () => {
  const options: GeneratorOptions = {
    keys: COMPAT_KEYS,
    recordCount: 5 * BLOCK_RECORDS + 123,
    maxNesting: 2,
    maxStringLength: 6,
    maxKeysPerValue: 4,
    seed: 7,
  };
  const expected = sequentialText(options);
  for (const workers of [0, 1, 2, 3]) {
    assert.equal(await parallelText(options, workers), expected, `${workers} workers`);
  }
});

Deno.test("tiny chunks make workers wait for the writer, and the bytes stay the same", async () => {
  // 4 KiB chunks: a block is hundreds of chunks, far past what a worker may post unread.
  const options: GeneratorOptions = {
    keys: COMPAT_KEYS,
    recordCount: 3 * BLOCK_RECORDS,
    maxNesting: 1,
    maxStringLength: 4,
    maxKeysPerValue: 3,
    seed: 11,
    chunkBytes: 4096,
  };
  assert.equal(await parallelText(options, 2), sequentialText(options));
});

Deno.test("small runs use no worker; large ones one per core besides the main thread", () => {
  assert.equal(generatorWorkerCount(MIN_PARALLEL_RECORDS - 1, 8), 0);
  assert.equal(generatorWorkerCount(MIN_PARALLEL_RECORDS, 2), 1);
  assert.equal(generatorWorkerCount(MIN_PARALLEL_RECORDS, 1), 0);
  assert.equal(generatorWorkerCount(10 * MIN_PARALLEL_RECORDS, 4), 3);
});
