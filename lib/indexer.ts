/**
 * Indexing: streams a data file of record lines into the broker's servers,
 * each record to all k of its replicas. The file is read line by line (never
 * whole); a bad line is reported and skipped and the rest are indexed. Writes
 * are pipelined: every PUT of a chunk of lines goes out in one write per
 * server, and at most {@link MAX_RECORDS_IN_FLIGHT} records wait for answers
 * before reading pauses (backpressure). A record counts as indexed only when
 * all k replicas acknowledged it; when a replica is already known to be down
 * the record is not written at all, so a skipped record is usually on no server.
 *
 * @example
 * ```ts
 * import { indexFile } from "./indexer.ts";
 * const summary = await indexFile(broker, "data.txt");
 * console.error(formatIndexSummary(summary));
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { Broker } from "./broker.ts";
import { decodeRawLine, type RawLine, readRawLineBatches } from "./line_reader.ts";
import { parseAsciiRecordInto } from "./record_bytes.ts";
import { ProgressBar } from "./progress.ts";
import { ByteWriter } from "./bytes.ts";
import { parseRecordLine, parseRecordLineInto, RecordParseError } from "./record_line.ts";
import type { Dialect } from "./record_text.ts";
import { describeError } from "./server_pool.ts";
import { encodeValue } from "./value_codec.ts";

/** Records written but not yet acknowledged by all replicas before reading pauses. */
export const MAX_RECORDS_IN_FLIGHT = 4_096;

/** Bad lines and failed records reported one by one; the rest are only counted. */
export const MAX_REPORTED_PROBLEMS = 20;

/** What one indexing run did. */
export interface IndexSummary {
  /** Records acknowledged by all k replicas. */
  readonly indexedCount: number;
  /** Records parsed but not stored on all k replicas. */
  readonly failedCount: number;
  /** Lines that could not be parsed (or read), skipped. */
  readonly skippedCount: number;
  /** Bytes of the file read. */
  readonly byteCount: number;
  /** Wall time, in seconds. */
  readonly seconds: number;
  /** The dialect of the first record line, or undefined when there was none. */
  readonly dialect: Dialect | undefined;
}

/** Options for {@link indexLines} and {@link indexFile}. */
export interface IndexOptions {
  /** Name used in messages, e.g. `data.txt`; default `"input"` ({@link indexFile} uses the path). */
  fileName?: string;
  /** Receives each problem report line (bad line, failed record); default: stderr. */
  report?: (message: string) => void;
  /** Total bytes, for the progress bar; default: no total. */
  totalBytes?: number;
  /**
   * What a field name repeated inside one object does: `"error"` skips the
   * line, `"last-wins"` keeps the last value (as the original Python's dicts
   * did). Default `"error"`.
   */
  duplicateKeys?: "error" | "last-wins";
  /** Draws progress on a terminal; default: a {@link ProgressBar} on stderr. */
  progress?: { update(done: number): void; finish(): void };
}

/**
 * Guesses the dialect a record line is written in from its first character:
 * `'` is the original Python form, `"` the assignment form, anything else bare.
 *
 * @example
 * ```ts
 * detectDialect(`'person0':{}`); // "python"
 * detectDialect(`person1: { a: 1 }`); // "bare"
 * ```
 */
export function detectDialect(line: string): Dialect {
  const first = line.trimStart()[0];
  if (first === "'") return "python";
  if (first === '"') return "assignment";
  return "bare";
}

/**
 * Indexes the lines of `source` (UTF-8 record lines) through `broker`.
 *
 * @example
 * ```ts
 * const source = ReadableStream.from([new TextEncoder().encode('"a" : 1\n')]);
 * const summary = await indexLines(broker, source, { fileName: "inline" });
 * ```
 */
export async function indexLines(
  broker: Broker,
  source: ReadableStream<Uint8Array>,
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const fileName = options.fileName ?? "input";
  const report = options.report ?? ((message: string) => console.error(message));
  const progress = options.progress ??
    new ProgressBar({ label: `indexing ${fileName}`, total: options.totalBytes });
  const duplicateKeys = options.duplicateKeys ?? "error";
  const scratch = new ByteWriter();
  /**
   * The line's key and encoded value. A plain ASCII line goes through the byte parser
   * (lib/record_bytes.ts); any other, or one it declines, is decoded and parsed by
   * lib/record_line.ts, which throws a RecordParseError for a bad line, or UnreadableLineError
   * for one that is not UTF-8. Without last-wins no Value is made on the way. The encoded
   * bytes are a view of the scratch buffer, valid until the next call.
   */
  const encodeLine = (line: RawLine): [string, Uint8Array] => {
    if (duplicateKeys === "error") {
      scratch.reset();
      const key = parseAsciiRecordInto(line.bytes, scratch);
      // No copy: putEncodedThen copies the bytes itself if its PUT has to wait.
      if (key !== undefined) return [key, scratch.bytes()];
    }
    const decoded = decodeRawLine(line);
    if (decoded.error !== undefined) throw new UnreadableLineError(decoded.error);
    if (duplicateKeys === "last-wins") {
      const record = parseRecordLine(decoded.text, line.lineNumber, { duplicateKeys });
      return [record.key, encodeValue(record.value)];
    }
    scratch.reset();
    const key = parseRecordLineInto(decoded.text, line.lineNumber, scratch);
    return [key, scratch.bytes()];
  };
  const startMs = performance.now();
  let reportedCount = 0;
  const reportProblem = (message: string) => {
    reportedCount++;
    if (reportedCount <= MAX_REPORTED_PROBLEMS) report(message);
    else if (reportedCount === MAX_REPORTED_PROBLEMS + 1) {
      report(`${fileName}: more problems; only counting them from now on`);
    }
  };
  let indexedCount = 0;
  let failedCount = 0;
  let skippedCount = 0;
  let byteCount = 0;
  let dialect: Dialect | undefined;
  let inFlight = 0;
  let waiter: { limit: number; resolve: () => void } | undefined;
  const waitForInFlight = (limit: number) =>
    inFlight <= limit
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiter = { limit, resolve });
  const onRecordDone = (lineNumber: number, key: string, failure: string | undefined) => {
    inFlight--;
    if (failure === undefined) indexedCount++;
    else {
      failedCount++;
      reportProblem(`${fileName}:${lineNumber}: record '${key}' not indexed: ${failure}`);
    }
    if (waiter !== undefined && inFlight <= waiter.limit) {
      const { resolve } = waiter;
      waiter = undefined;
      resolve();
    }
  };
  try {
    // A batch is handled without awaiting, so the PUTs it starts leave in one
    // write per server rather than one per record.
    for await (const batch of readRawLineBatches(source)) {
      for (const line of batch) {
        byteCount += line.byteLength;
        if (line.error !== undefined) {
          skippedCount++;
          reportProblem(`${fileName}:${line.lineNumber}: ${line.error}; line skipped`);
          continue;
        }
        if (isBlankBytes(line.bytes)) continue;
        let key: string;
        let encoded: Uint8Array;
        try {
          [key, encoded] = encodeLine(line);
        } catch (error) {
          if (error instanceof UnreadableLineError) {
            skippedCount++;
            reportProblem(`${fileName}:${line.lineNumber}: ${error.message}; line skipped`);
            continue;
          }
          if (!(error instanceof RecordParseError)) throw error;
          skippedCount++;
          reportProblem(`${fileName}:${error.message}; line skipped`);
          continue;
        }
        dialect ??= detectDialect(new TextDecoder().decode(line.bytes.subarray(0, 64)));
        inFlight++;
        const lineNumber = line.lineNumber;
        replicate(broker, key, encoded, (failure) => onRecordDone(lineNumber, key, failure));
      }
      if (inFlight >= MAX_RECORDS_IN_FLIGHT) {
        progress.update(byteCount);
        // Resume at half the window so reading and writing overlap.
        await waitForInFlight(MAX_RECORDS_IN_FLIGHT / 2);
      }
    }
    await waitForInFlight(0);
  } finally {
    progress.finish();
  }
  assert.equal(inFlight, 0);
  const seconds = (performance.now() - startMs) / 1000;
  return { indexedCount, failedCount, skippedCount, byteCount, seconds, dialect };
}

/** A line that is not UTF-8: reported and skipped like a line that does not parse. */
class UnreadableLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnreadableLineError";
  }
}

/** Whether a line holds only spaces, tabs and carriage returns (see isBlankLine). */
function isBlankBytes(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/**
 * Writes one encoded record to all its replicas without waiting, then calls
 * `done` once with undefined (all acknowledged) or the reason it failed. When a
 * replica is known to be down nothing is written.
 */
function replicate(
  broker: Broker,
  key: string,
  encoded: Uint8Array,
  done: (failure: string | undefined) => void,
): void {
  const pool = broker.pool;
  const replicas = broker.replicasOf(key);
  for (const index of replicas) {
    if (!pool.isUp(index)) {
      queueMicrotask(() => done(`replica ${pool.servers[index].id} is down`));
      return;
    }
  }
  let pending = replicas.length;
  let failure: string | undefined;
  for (const index of replicas) {
    const connection = pool.connection(index);
    // A plain check rather than node:assert: this runs per replica of every record.
    if (connection === undefined) {
      throw new Error("invariant broken: an up server has no connection");
    }
    connection.putEncodedThen(key, encoded, { overwrite: true }, (outcome) => {
      if (outcome instanceof Error) {
        pool.fail(index, connection, outcome);
        failure ??= `${pool.servers[index].id}: ${describeError(outcome)}`;
      }
      if (--pending === 0) done(failure);
    });
  }
}

/**
 * Indexes the file at `path`; an unreadable file is thrown as the Deno error.
 *
 * @example
 * ```ts
 * const summary = await indexFile(broker, "testdata/compat/assignment-dialect.txt");
 * ```
 */
export async function indexFile(
  broker: Broker,
  path: string,
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const file = await Deno.open(path, { read: true });
  const info = await file.stat();
  // A pipe has no size to show progress against.
  const totalBytes = info.isFile ? info.size : undefined;
  // Reaching the end of the stream (or cancelling it) closes the file.
  return await indexLines(broker, readInChunks(file, READ_CHUNK_BYTES), {
    fileName: path,
    totalBytes,
    ...options,
  });
}

/**
 * Bytes read from the data file at a time. Each chunk's records leave in one write per
 * server, so larger chunks mean fewer, larger writes (the file stream's own 64 KiB chunks
 * made thousands of small ones). Past 256 KiB the gain stops and the pipeline stalls more.
 */
export const READ_CHUNK_BYTES = 256 * 1024;

/** The file's bytes as a stream of chunks of up to `chunkBytes`; closes the file at the end. */
function readInChunks(file: Deno.FsFile, chunkBytes: number): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const chunk = new Uint8Array(chunkBytes);
      let filled = 0;
      while (filled < chunkBytes) {
        const count = await file.read(chunk.subarray(filled));
        if (count === null) break;
        filled += count;
      }
      if (filled > 0) controller.enqueue(chunk.subarray(0, filled));
      if (filled < chunkBytes) {
        file.close();
        controller.close();
      }
    },
    cancel() {
      file.close();
    },
  });
}

/**
 * The one summary line printed after indexing.
 *
 * @example
 * ```ts
 * formatIndexSummary(summary);
 * // "indexed 100000 records (0 failed), skipped 0 lines, 8.1 MB in 1.92 s (52083 records/s)"
 * ```
 */
export function formatIndexSummary(summary: IndexSummary): string {
  const rate = summary.seconds > 0 ? Math.round(summary.indexedCount / summary.seconds) : 0;
  const megabytes = (summary.byteCount / 1e6).toFixed(1);
  return `indexed ${plural(summary.indexedCount, "record")} (${summary.failedCount} failed), ` +
    `skipped ${plural(summary.skippedCount, "line")}, ${megabytes} MB in ` +
    `${summary.seconds.toFixed(2)} s (${rate} records/s)`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
