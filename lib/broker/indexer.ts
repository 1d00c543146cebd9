/**
 * Indexing: streams a data file of record lines into the broker's servers,
 * each record to k servers chosen by the broker's write rule (the first k
 * reachable of its preference list, or with `strict` its own k). The file is read
 * line by line (never whole); a bad line is reported and skipped and the rest are
 * indexed. Writes are batched and pipelined: the records of a chunk of lines go to
 * each server as one PUT_MANY (lib/protocol/put_many.ts), and at most
 * {@link MAX_RECORDS_IN_FLIGHT} records wait for answers before reading pauses
 * (backpressure). A record counts as indexed only when k servers acknowledged it, each
 * still on the connection it stored the record on when the last one answered, and each
 * repaired when its batch was sent on that connection (else it is written again, as a
 * PUT: a server that may have lost writes cannot vouch that no newer one exists, and
 * the PUT reads on as the broker's PUT does);
 * when fewer than k are up the record is not written at all, so a skipped record is
 * usually on no server. A record a server refuses as STALE (another broker wrote the
 * key since with a newer or equal version) is written again as a PUT with a newer
 * version, as the broker's own PUT does: a load that starts after a write was
 * acknowledged wins over it. So is, under the sloppy rule, a record whose batch was
 * lost with its server's connection: the PUT walks on down the preference list. Each
 * is written again first at its own version (Broker.putEncodedAgain), so that a copy
 * already stored is not stamped anew. And so, under the sloppy rule, is a record a server
 * would not take — its batch refused whole (READ_ONLY: its disk is full), the item
 * refused, or the record over its frame limit — as a PUT's own write would be: the PUT
 * puts the next server of the list in that one's place. Only a record no server could
 * read (BAD_REQUEST) fails at once, alone.
 *
 * The last line of a key wins, whatever is retried: a line whose key has an earlier
 * line still in flight waits for it (as the piped path's writes of one key do,
 * lib/broker/pipeline.ts) and is then written as the broker's PUT, stamped after
 * everything the earlier line was stamped with. A later line of the key that comes
 * while one waits takes its place, so a key repeated line after line costs one PUT per
 * round trip, not one per line; the lines replaced count as stored, or failed, with it.
 * Without the wait a retry stamped afresh past another broker's newer version could be
 * newer than the later line, and win. The waiting lines are few (a key repeated within
 * {@link MAX_RECORDS_IN_FLIGHT} lines) and are kept by key rather than scheduled as the
 * pipeline's commands: a record of the bulk path costs no promise or closure of its
 * own, only its key's entry in a set while it is in flight, in a
 * {@link HashedStringSet} (a Map cost twice its CPU per record there). The key is hashed
 * once ({@link hashKey}): the hash files it in the set, names its partition, and goes
 * with the record until the set lets go of it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { indexFile } from "./indexer.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const summary = await indexFile(broker, "data.txt");
 * console.error(formatIndexSummary(summary));
 * ```
 * @module
 */
import type { Broker, Change } from "./broker.ts";
import {
  decodeRawLine,
  type RawLine,
  type ReadRawLine,
  readRawLineBatches,
} from "../base/line_reader.ts";
import { AsciiRecordParser } from "../record/parse_ascii.ts";
import { ProgressBar } from "../base/progress.ts";
import { ByteWriter } from "../base/bytes.ts";
import {
  endsInsideRecord,
  isBlankLineBytes,
  parseRecordLine,
  parseRecordLineInto,
  RecordParseError,
} from "../record/parse.ts";
import type { Dialect } from "../record/format.ts";
import {
  beingRemarked,
  kChangeRepairMarks,
  type ServerConnection,
  type ServerPool,
} from "./server_pool.ts";
import { describeError } from "../base/describe_error.ts";
import { ErrorCode, errorCodeName, type PutManyRefusal } from "../protocol/mod.ts";
import { ServerError } from "../protocol/client.ts";
import {
  MAX_PUT_MANY_ITEMS,
  PUT_MANY_ITEM_OVERHEAD_BYTES,
  type PutManyBounds,
  PutManyItems,
  readPutManyItems,
} from "../protocol/put_many.ts";
import { invariant } from "../base/invariant.ts";
import { CLOSE_BRACE, openObjects, SPACE, TAB } from "../record/grammar.ts";
import { utf8Length } from "../base/utf8.ts";
import { encodeValue } from "../record/value_codec.ts";
import { readVersion, type Version } from "../record/version.ts";
import { hashKey } from "../record/partition.ts";
import { HashedStringSet } from "../base/hashed_string_set.ts";
import { counted, wasOrWere } from "../base/plural.ts";

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
  /** Stopped by the signal before the end of the input. */
  readonly interrupted: boolean;
  /**
   * Records still unanswered by some replica when an interrupted run gave up waiting:
   * neither counted stored nor failed (they may be stored). 0 unless interrupted.
   */
  readonly unconfirmedCount: number;
  /**
   * Records stored on servers marked repaired under another server list or k than the
   * broker's: clients on that list may not see them until a repair, as a PUT's warning says.
   * Told in one warning line per cause at the end of the run; 0 when none.
   */
  readonly unseenElsewhereCount: number;
}

/**
 * Most bytes of one line the indexer reads through before it stops: a record line is at
 * most 1 MiB, so a line with no end within 64 MiB (`-i /dev/zero`) means the input is not
 * record lines, and indexing stops with an EndlessLineError in bounded time.
 */
export const MAX_SKIPPED_LINE_BYTES = 16 * 1024 * 1024;

/** After an interruption, how long the writes in flight are waited for. */
export const INTERRUPT_GRACE_MS = 2_000;

/**
 * Bytes of the first record line decoded to tell its dialect by its first character: past
 * any indent a line has, without decoding a line of megabytes.
 */
const DIALECT_SAMPLE_BYTES = 64;

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
  /**
   * Stops indexing: no more input is read, the writes in flight are waited for at most
   * {@link INTERRUPT_GRACE_MS}, and the summary says so. Default: none.
   */
  signal?: AbortSignal;
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
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const source = ReadableStream.from([new TextEncoder().encode('"a" : 1\n')]);
 * const summary = await indexLines(broker, source, { fileName: "inline" });
 * ```
 */
export async function indexLines(
  broker: Broker,
  source: ReadableStream<Uint8Array>,
  options: IndexOptions = {},
): Promise<IndexSummary> {
  return await new IndexRun(broker, options).run(source);
}

/**
 * One indexing run: its counters, its window of records in flight, and the loop over
 * chunks of lines. A class rather than closures in {@link indexLines}: the per-record
 * steps are methods, so a record costs no closure or context of its own.
 */
class IndexRun {
  readonly #fileName: string;
  readonly #report: (message: string) => void;
  readonly #progress: { update(done: number): void; finish(): void };
  readonly #duplicateKeys: "error" | "last-wins";
  readonly #signal: AbortSignal | undefined;
  readonly #scratch = new ByteWriter();
  readonly #asciiParser = new AsciiRecordParser();
  /** The encoded value of the line {@link IndexRun.#encodeLine} read last: a view of a scratch buffer. */
  #encoded: Uint8Array = new Uint8Array(0);
  #reportedCount = 0;
  #indexedCount = 0;
  #failedCount = 0;
  #skippedCount = 0;
  #byteCount = 0;
  #dialect: Dialect | undefined;
  /**
   * The objects left open by a line that ended inside a record, while the indented lines
   * after it go on with it (a pretty-printed record); undefined otherwise.
   */
  #openDepth: number | undefined;
  /** How far the line that left {@link IndexRun.#openDepth} open is indented (bytes). */
  #openIndent = 0;
  #inFlight = 0;
  #waiter: { limit: number; resolve: () => void } | undefined;
  /** Each key with a line in flight (written, or being written again). */
  readonly #keysInFlight = new HashedStringSet(2 * MAX_RECORDS_IN_FLIGHT);
  /** The last line of each key in flight that came after it, waiting: keys repeated. */
  readonly #waiting = new Map<string, WaitingLine>();
  /** {@link IndexRun.#recordDone}, bound once per run: groups and batches call it per record. */
  readonly #onRecordDone: RecordDone = (lineNumber, key, hash, failure) =>
    this.#recordDone(lineNumber, key, hash, failure);
  readonly #batches: ReplicaBatches;
  readonly #broker: Broker;
  /** The records stored on servers marked under another list or k, told at the end. */
  readonly #unseen = new UnseenWrites();
  /** {@link IndexRun.#retry}, bound once per run. */
  readonly #onRetry: RecordRetry = (lineNumber, key, hash, encoded, version) =>
    this.#retry(lineNumber, key, hash, encoded, version);

  constructor(broker: Broker, options: IndexOptions) {
    this.#fileName = options.fileName ?? "input";
    this.#report = options.report ?? ((message: string) => console.error(message));
    this.#progress = options.progress ??
      new ProgressBar({ label: `indexing ${this.#fileName}`, total: options.totalBytes });
    this.#duplicateKeys = options.duplicateKeys ?? "error";
    this.#signal = options.signal;
    this.#batches = new ReplicaBatches(broker, this.#onRecordDone, this.#onRetry);
    this.#broker = broker;
  }

  /** Reads `source` to its end (or the signal), indexing each chunk of lines as it comes. */
  async run(source: ReadableStream<Uint8Array>): Promise<IndexSummary> {
    const startMs = performance.now();
    const aborted = abortedPromise(this.#signal);
    const lineBatches = readRawLineBatches(source, { maxSkippedLineBytes: MAX_SKIPPED_LINE_BYTES });
    let interrupted = false;
    try {
      while (true) {
        const next = await Promise.race([lineBatches.next(), aborted]);
        if (next === ABORTED) {
          interrupted = true;
          // Not awaited: a read of a quiet pipe may never end; the process exits after.
          lineBatches.return(undefined).catch(() => {});
          break;
        }
        if (next.done) break;
        this.#indexChunk(next.value);
        if (this.#inFlight >= MAX_RECORDS_IN_FLIGHT) {
          this.#progress.update(this.#byteCount);
          // Resume at half the window so reading and writing overlap.
          const room = await Promise.race([
            this.#waitForInFlight(MAX_RECORDS_IN_FLIGHT / 2),
            aborted,
          ]);
          if (room === ABORTED) {
            interrupted = true;
            lineBatches.return(undefined).catch(() => {});
            break;
          }
        }
      }
      if (interrupted) await Promise.race([this.#waitForInFlight(0), delay(INTERRUPT_GRACE_MS)]);
      else await this.#waitForInFlight(0);
    } finally {
      this.#progress.finish();
      // Ends the source too when a failure left the loop early; harmless once it ended.
      lineBatches.return(undefined).catch(() => {});
    }
    if (!interrupted) invariant(this.#inFlight === 0, "no record in flight at the end");
    for (const line of this.#unseen.warnings(this.#fileName)) this.#report(line);
    return {
      indexedCount: this.#indexedCount,
      failedCount: this.#failedCount,
      skippedCount: this.#skippedCount,
      byteCount: this.#byteCount,
      seconds: (performance.now() - startMs) / 1000,
      dialect: this.#dialect,
      interrupted,
      unconfirmedCount: this.#inFlight,
      unseenElsewhereCount: this.#unseen.count,
    };
  }

  /**
   * Handles a chunk of lines without awaiting, so its records leave in one PUT_MANY
   * per server rather than one request per record.
   */
  #indexChunk(lines: ReadRawLine[]): void {
    const group = new RecordGroup(
      this.#onRecordDone,
      this.#onRetry,
      lines.length,
      this.#broker.k,
    );
    // Indexed loops, no destructuring: iterators were garbage per line.
    for (let lineIndex = 0; lineIndex < lines.length; lineIndex++) {
      this.#indexLine(group, lines[lineIndex]);
    }
    this.#batches.sendAll(group);
  }

  /** Adds the line's record to the replicas' batches, or reports why the line is skipped. */
  #indexLine(group: RecordGroup, line: ReadRawLine): void {
    this.#byteCount += line.byteLength;
    if (line.error !== undefined) {
      this.#skip(`${line.lineNumber}: ${line.error}`);
      return;
    }
    if (isBlankLineBytes(line.bytes)) return;
    if (this.#openDepth !== undefined && this.#continuesRecord(line.bytes)) return;
    let key: string;
    try {
      key = this.#encodeLine(line);
    } catch (error) {
      if (error instanceof UnreadableLineError) {
        this.#skip(`${line.lineNumber}:${error.column}: ${error.message}`);
        return;
      }
      if (!(error instanceof RecordParseError)) throw error;
      this.#skip(error.message, this.#parseErrorHint(error, line));
      return;
    }
    this.#dialect ??= detectDialect(
      new TextDecoder().decode(line.bytes.subarray(0, DIALECT_SAMPLE_BYTES)),
    );
    this.#inFlight++;
    const hash = hashKey(key);
    if (this.#keysInFlight.has(key, hash)) {
      // An earlier line of the key is in flight: this one waits its turn (a copy: the
      // encoding is a view of a scratch buffer the next line reuses), and stands for any
      // line of the key that was waiting, which would only be written over.
      const waiting = this.#waiting.get(key);
      this.#waiting.set(key, {
        lineNumber: line.lineNumber,
        encoded: this.#encoded.slice(),
        replaced: waiting === undefined ? 0 : waiting.replaced + 1,
      });
      return;
    }
    this.#keysInFlight.add(key, hash);
    this.#batches.add(group, line.lineNumber, key, hash, this.#encoded);
  }

  /**
   * Returns the line's key and leaves its value's encoding in `#encoded` (not a tuple:
   * one per line was garbage per line). A plain ASCII line goes through the byte parser
   * (lib/record/parse_ascii.ts); any other, or one it declines, is decoded and parsed by
   * lib/record/parse.ts, which throws a RecordParseError for a bad line, or
   * UnreadableLineError for one that is not UTF-8. Without last-wins no Value is made.
   */
  #encodeLine(line: RawLine): string {
    if (this.#duplicateKeys === "error") {
      const key = this.#asciiParser.parse(line.bytes);
      // No copy: the record's items are copied into each replica's batch at once.
      if (key !== undefined) {
        this.#encoded = this.#asciiParser.encoded;
        return key;
      }
    }
    const decoded = decodeRawLine(line);
    if (decoded.error !== undefined) {
      throw new UnreadableLineError(decoded.error, decoded.column ?? 1);
    }
    if (this.#duplicateKeys === "last-wins") {
      const record = parseRecordLine(decoded.text, line.lineNumber, {
        duplicateKeys: this.#duplicateKeys,
      });
      this.#encoded = encodeValue(record.value);
      return record.key;
    }
    this.#scratch.reset();
    const key = parseRecordLineInto(decoded.text, line.lineNumber, this.#scratch);
    this.#encoded = this.#scratch.bytes();
    return key;
  }

  /**
   * What the report of a line that does not parse adds: for a repeated field name, the
   * mode that reads it, which the user may not know exists; for a line ending inside an
   * object — a record pretty-printed over several lines — that the indented lines after it
   * are skipped with it (see {@link IndexRun.#continuesRecord}).
   */
  #parseErrorHint(error: RecordParseError, line: RawLine): string {
    if (error.duplicateKey !== undefined) {
      return " (--duplicate-keys last-wins keeps the last value)";
    }
    if (!endsInsideRecord(new TextDecoder().decode(line.bytes), error)) return "";
    this.#openDepth = openObjects(line.bytes);
    this.#openIndent = indentOf(line.bytes);
    return ", and the indented lines that go on with it: kv reads one record a line " +
      "(join each record's lines, e.g. jq -c)";
  }

  /**
   * Whether `bytes`, a line after one that ended inside a record, goes on with that record —
   * it is indented deeper than that line or closes an object, as a pretty-printer writes the
   * lines of a record — and so is skipped with it, counted: read on its own, its last field's
   * line (`  "age": 22`) was stored as a record of that name, over any record so named. The
   * first line that does not, or that closes the record, ends it: in a file whose record
   * lines are all indented alike, those after a line cut short are records, to be read.
   */
  #continuesRecord(bytes: Uint8Array): boolean {
    invariant(this.#openDepth !== undefined, "a record is open");
    const indent = indentOf(bytes);
    if (indent <= this.#openIndent && bytes[indent] !== CLOSE_BRACE) {
      this.#openDepth = undefined;
      return false;
    }
    this.#skippedCount++;
    this.#openDepth += openObjects(bytes);
    if (this.#openDepth <= 0) this.#openDepth = undefined;
    return true;
  }

  /**
   * Counts a skipped line and reports it; `where` is `line: why` after the file name,
   * `hint` what would have read it (default none).
   */
  #skip(where: string, hint = ""): void {
    this.#skippedCount++;
    this.#reportProblem(`${this.#fileName}:${where}; line skipped${hint}`);
  }

  /** Reports the first {@link MAX_REPORTED_PROBLEMS} problems, then only counts them. */
  #reportProblem(message: string): void {
    this.#reportedCount++;
    if (this.#reportedCount <= MAX_REPORTED_PROBLEMS) this.#report(message);
    else if (this.#reportedCount === MAX_REPORTED_PROBLEMS + 1) {
      this.#report(`${this.#fileName}: more problems; only counting them from now on`);
    }
  }

  /** Resolves once at most `limit` records are in flight. */
  #waitForInFlight(limit: number): Promise<void> {
    return this.#inFlight <= limit
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.#waiter = { limit, resolve });
  }

  /**
   * Writes a record (stamped `version`) again through the broker's PUT, on k servers:
   * first at its own version, so that a later line of the key already stored supersedes
   * it; at a fresh version past a newer one of another broker, as a PUT is.
   */
  #retry(
    lineNumber: number,
    key: string,
    hash: number,
    encoded: Uint8Array,
    version: Version,
  ): void {
    this.#broker.putEncodedAgain(key, encoded, version).then(
      (change) =>
        this.#recordDone(
          lineNumber,
          key,
          hash,
          this.#unseen.note(change, this.#broker.pool),
        ),
      (error) => this.#recordDone(lineNumber, key, hash, describeError(error)),
    );
  }

  /**
   * A line of `key` has finished: the next line of the key waiting starts, written as the
   * broker's PUT (stamped now, after all the finished line was stamped with), or the key
   * has no line in flight any more. `hash` is the key's.
   */
  #nextOfKey(key: string, hash: number): void {
    const next = this.#waiting.size === 0 ? undefined : this.#waiting.get(key);
    if (next === undefined) {
      this.#keysInFlight.delete(key, hash);
      return;
    }
    this.#waiting.delete(key);
    const { lineNumber, encoded, replaced } = next;
    this.#broker.putEncoded(key, encoded).then(
      (change) =>
        this.#recordDone(
          lineNumber,
          key,
          hash,
          this.#unseen.note(change, this.#broker.pool, 1 + replaced),
          replaced,
        ),
      (error) => this.#recordDone(lineNumber, key, hash, describeError(error), replaced),
    );
  }

  /**
   * Counts a finished record (`hash`: its key's), starts its key's next line, and wakes
   * the reader when the window has room.
   */
  #recordDone(
    lineNumber: number,
    key: string,
    hash: number,
    failure: string | undefined,
    replaced = 0,
  ): void {
    this.#nextOfKey(key, hash);
    // The lines this one replaced while it waited end as it does.
    const lines = 1 + replaced;
    this.#inFlight -= lines;
    if (failure === undefined) this.#indexedCount += lines;
    else {
      this.#failedCount += lines;
      const also = replaced === 0
        ? ""
        : ` (nor the ${counted(replaced, "earlier line")} of the key it replaced)`;
      this.#reportProblem(
        `${this.#fileName}:${lineNumber}: record '${key}' not indexed: ${failure}${also}`,
      );
    }
    if (this.#waiter !== undefined && this.#inFlight <= this.#waiter.limit) {
      const { resolve } = this.#waiter;
      this.#waiter = undefined;
      resolve();
    }
  }
}

/**
 * A line waiting for an earlier line of its key to finish: its number, its value's
 * encoding, and how many lines of the key it replaced while waiting (they are not written:
 * it would be written over them).
 */
interface WaitingLine {
  readonly lineNumber: number;
  readonly encoded: Uint8Array;
  readonly replaced: number;
}

/** What {@link abortedPromise} resolves to. */
const ABORTED = Symbol("aborted");

/** Resolves to {@link ABORTED} once `signal` aborts; never without a signal. */
function abortedPromise(signal: AbortSignal | undefined): Promise<typeof ABORTED> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) return resolve(ABORTED);
    signal.addEventListener("abort", () => resolve(ABORTED), { once: true });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Deno.unrefTimer(timer);
  });
}

/**
 * Told once per record: its line, its key and the key's hash, and undefined when all
 * replicas stored it.
 */
type RecordDone = (
  lineNumber: number,
  key: string,
  hash: number,
  failure: string | undefined,
) => void;

/**
 * Told, instead of {@link RecordDone}, of a record to write again (`encoded`, stamped
 * `version`): a server held a newer version, or a copy may be lost.
 */
type RecordRetry = (
  lineNumber: number,
  key: string,
  hash: number,
  encoded: Uint8Array,
  version: Version,
) => void;

/**
 * The records of one chunk of lines, while their replicas answer: in parallel arrays
 * sized for the chunk, so that a record costs no object or array growth of its own.
 */
class RecordGroup {
  readonly #onDone: RecordDone;
  readonly #onRetry: RecordRetry;
  readonly #lineNumbers: Float64Array;
  readonly #keys: string[];
  /** Each key's hash, handed back with it when the record is done. */
  readonly #hashes: Int32Array;
  /** Replicas yet to answer, per record. */
  readonly #waitingFor: Int32Array;
  /** Replicas a record goes to: k. */
  readonly #k: number;
  /** The connection each replica stored each record on, k slots a record. */
  readonly #storedOn: (ServerConnection | undefined)[];
  /** 1 for a record some replica stored while unrepaired (judged when its batch was sent). */
  readonly #doubted: Uint8Array;
  /** Why a record failed, for the few that do. */
  readonly #failures = new Map<number, string>();
  /** The encoded value and version of each record a server refused as STALE, to write again. */
  readonly #retries = new Map<number, { encoded: Uint8Array; version: Version }>();
  #count = 0;

  /**
   * @param capacity most records the group will hold: the lines of its chunk.
   * @param k the replicas each record goes to.
   */
  constructor(onDone: RecordDone, onRetry: RecordRetry, capacity: number, k: number) {
    this.#onDone = onDone;
    this.#onRetry = onRetry;
    this.#lineNumbers = new Float64Array(capacity);
    this.#keys = new Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#waitingFor = new Int32Array(capacity);
    this.#k = k;
    this.#storedOn = new Array(capacity * k);
    this.#doubted = new Uint8Array(capacity);
  }

  /**
   * Adds a record (its key's hash: `hash`) awaiting `replicaCount` answers; returns its
   * number in the group.
   */
  add(lineNumber: number, key: string, hash: number, replicaCount: number): number {
    const record = this.#count++;
    invariant(record < this.#lineNumbers.length, "a group holds at most its chunk's lines");
    invariant(replicaCount === this.#k, "a record goes to k replicas");
    this.#lineNumbers[record] = lineNumber;
    this.#keys[record] = key;
    this.#hashes[record] = hash;
    this.#waitingFor[record] = replicaCount;
    return record;
  }

  /** Notes that `record` did not reach a replica; the first reason is the one reported. */
  fail(record: number, reason: string): void {
    if (!this.#failures.has(record)) this.#failures.set(record, reason);
  }

  /**
   * Notes that a server holds a newer or equal version of `record`'s key: unless it
   * failed elsewhere, the record is written again (`encoded`, copied) once settled.
   */
  retry(record: number, encoded: Uint8Array, version: Version): void {
    if (!this.#retries.has(record)) {
      this.#retries.set(record, { encoded: encoded.slice(), version });
    }
  }

  /**
   * Counts one replica's answer for `record` (`storedOn`: the connection of a replica
   * that stored it; `repaired`: whether that connection said repaired when the batch was
   * sent on it); the last one finishes (or retries) the record. Returns false, with
   * nothing done, when every replica stored it but one's connection has closed since, or
   * one was unrepaired: the caller writes it again ({@link RecordGroup.rewrite}), as
   * a PUT. The broker's PUT drops such a closed copy (lib/broker/broker.ts,
   * dropLostCopies: the process may have died with it before the other copies landed,
   * and a repair of its successor would miss it), and reads on past an unrepaired one
   * (it may have lost a newer write, which the record must then be stamped after).
   */
  settle(record: number, storedOn?: ServerConnection, repaired = true): boolean {
    invariant(this.#waitingFor[record] > 0, "a record is settled once per replica");
    const waiting = --this.#waitingFor[record];
    this.#storedOn[record * this.#k + waiting] = storedOn;
    if (!repaired) this.#doubted[record] = 1;
    if (waiting > 0) return true;
    const failure = this.#failures.get(record);
    const retry = this.#retries.get(record);
    if (
      failure === undefined && retry === undefined &&
      (this.#doubted[record] === 1 || this.#lost(record))
    ) return false;
    const lineNumber = this.#lineNumbers[record];
    const key = this.#keys[record];
    if (failure === undefined && retry !== undefined) {
      this.#onRetry(lineNumber, key, this.#hashes[record], retry.encoded, retry.version);
    } else this.#onDone(lineNumber, key, this.#hashes[record], failure);
    return true;
  }

  /**
   * Writes `record` again (`encoded`, its value, stamped `version`), for a
   * {@link RecordGroup.settle} that said so.
   */
  rewrite(record: number, encoded: Uint8Array, version: Version): void {
    invariant(this.#waitingFor[record] === 0, "a record is written again once settled");
    this.#onRetry(
      this.#lineNumbers[record],
      this.#keys[record],
      this.#hashes[record],
      encoded.slice(),
      version,
    );
  }

  /** Whether a connection that stored `record` has closed since. */
  #lost(record: number): boolean {
    for (let slot = record * this.#k; slot < (record + 1) * this.#k; slot++) {
      if (this.#storedOn[slot]?.isOpen === false) return true;
    }
    return false;
  }
}

/**
 * Bytes of PUT_MANY items gathered for one server before they are sent, unless the
 * server's frame limit is lower. Any record line's item fits: a value's encoding is
 * less than twice its line (the most it grows is a bare float like `1e9`, 9 bytes for
 * 3; a test holds the parser to the bound), so an item is under 2 × MAX_LINE_BYTES
 * plus its overhead.
 *
 * @example
 * ```ts
 * import { MAX_LINE_BYTES } from "../limits.ts";
 * import { PUT_MANY_ITEM_OVERHEAD_BYTES } from "../protocol/put_many.ts";
 * MAX_BATCH_BYTES > 2 * MAX_LINE_BYTES + PUT_MANY_ITEM_OVERHEAD_BYTES; // true
 * ```
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** A PUT_MANY batch on its way to one server, and what its answer is judged by. */
interface SentBatch {
  /** The server's index in the pool. */
  readonly index: number;
  /** The server's id, for messages. */
  readonly where: string;
  readonly connection: ServerConnection;
  /** Whether the server was trusted (repaired) when the batch was sent. */
  readonly repaired: boolean;
  /** The batch's records, by item. */
  readonly records: Int32Array;
  readonly items: PutManyItems;
}

/**
 * The PUT_MANY being gathered for each server: every record goes into the batch of
 * each of its k servers, and each batch leaves as one request.
 */
class ReplicaBatches {
  readonly #broker: Broker;
  readonly #onDone: RecordDone;
  readonly #onRetry: RecordRetry;
  readonly #items: PutManyItems[];
  /**
   * Answered batches, emptied, for the next ones. A batch stays with its request until
   * the answer (a STALE refusal is written again from it), then waits here. Every one is
   * kept: they are never more than were out at once, which the window of records in
   * flight bounds, and a batch made anew grows to its chunk's share by doubling, copying
   * as it goes. Keeping 2 a server made 452 new batches for 732 sent in a load of 100 000
   * records, and their growth and garbage a tenth of the broker's CPU.
   */
  readonly #spare: PutManyItems[] = [];
  /** Per server, the group record number of each item in its batch, and their count. */
  readonly #records: Int32Array[];
  readonly #recordCounts: Int32Array;
  /** Where the broker writes the k servers a record goes to (its k now: it may change). */
  #replicas: Uint32Array;

  constructor(broker: Broker, onDone: RecordDone, onRetry: RecordRetry) {
    this.#broker = broker;
    this.#onDone = onDone;
    this.#onRetry = onRetry;
    const serverCount = broker.pool.servers.length;
    this.#items = Array.from({ length: serverCount }, () => new PutManyItems());
    this.#records = Array.from({ length: serverCount }, () => new Int32Array(1024));
    this.#recordCounts = new Int32Array(serverCount);
    this.#replicas = new Uint32Array(broker.k);
  }

  /**
   * Adds the record to the batch of each of the k servers the broker's write rule
   * picks (by `hash`, the key's). When fewer than k are up nothing is written and the
   * record fails at once. A record over one of those servers' frame limit is written as
   * the broker's PUT instead, which puts the next server of its list in that one's place
   * (under `--writes strict` there is none: it fails at once).
   */
  add(
    group: RecordGroup,
    lineNumber: number,
    key: string,
    hash: number,
    encoded: Uint8Array,
  ): void {
    const pool = this.#broker.pool;
    // A broker that follows the cluster's k changes it under the load (kv repair -k): the
    // records from then on are placed under the new one.
    if (this.#replicas.length !== this.#broker.k) {
      this.#replicas = new Uint32Array(this.#broker.k);
    }
    const replicas = this.#replicas;
    if (!this.#broker.writeTargetsInto(key, replicas, hash)) {
      // A server reconnecting after a quiet close (a restart, a repair's change of its
      // mark) or a lost connection (this process stalled past its timeout) has no
      // connection to batch on: the PUT waits for it (boundedly, ServerPool.awaitReconnects).
      // With k of the servers where reads look down, the PUT stores the record further
      // down its list, and warns.
      if (this.#reconnecting() || this.#putMayStore()) {
        this.#putSoon(lineNumber, key, hash, encoded);
      } else this.#failSoon(lineNumber, key, hash, this.#tooFewUp());
      return;
    }
    const itemBytes = PUT_MANY_ITEM_OVERHEAD_BYTES + utf8Length(key) + encoded.length;
    for (let replica = 0; replica < replicas.length; replica++) {
      const index = replicas[replica];
      if (itemBytes > batchLimit(pool.connection(index)!)) {
        if (this.#broker.writes === "sloppy") this.#putSoon(lineNumber, key, hash, encoded);
        else {
          this.#failSoon(
            lineNumber,
            key,
            hash,
            `record of ${itemBytes} bytes is over the frame limit of ${pool.servers[index].id}`,
          );
        }
        return;
      }
    }
    const record = group.add(lineNumber, key, hash, replicas.length);
    // One version for the record on every replica: later lines of one key get newer ones.
    const version = this.#broker.clock.next();
    for (let replica = 0; replica < replicas.length; replica++) {
      const index = replicas[replica];
      const items = this.#items[index];
      const full = items.itemCount === MAX_PUT_MANY_ITEMS ||
        items.byteLength + itemBytes > batchLimit(pool.connection(index)!);
      // Sending hands the batch to its request: the record goes into the next one.
      if (full) this.#send(index, group);
      this.#items[index].add(key, encoded, version);
      this.#noteRecord(index, record);
    }
  }

  /**
   * Why a record has no servers: the broker refuses writes under the k the servers record
   * now (kv repair -k changed it), or too few are up, named.
   */
  #tooFewUp(): string {
    const refusal = this.#broker.kRefusal;
    if (refusal !== undefined) return refusal;
    const pool = this.#broker.pool;
    const down = pool.servers.filter((_, index) => pool.connection(index) === undefined);
    const names = down.map((server) => server.id).join(", ");
    return this.#broker.writes === "strict"
      ? `one of its k=${this.#broker.k} own servers is down (--writes strict; down: ${names})`
      : `fewer than k=${this.#broker.k} servers are up (down: ${names})`;
  }

  /**
   * Whether, with writes not refused, a server that is not up may be back for a PUT: its
   * connection was lost a moment ago and its first reconnect is due or under way
   * (ServerPool.isReconnecting). A PUT reconnects at once to one that closed quietly, and
   * waits for the others when it finds too few servers (ServerPool.awaitReconnects).
   */
  #reconnecting(): boolean {
    const pool = this.#broker.pool;
    if (this.#broker.kRefusal !== undefined) return false;
    return pool.servers.some((_, index) => pool.isReconnecting(index));
  }

  /**
   * Whether, under the sloppy rule and with writes not refused, k servers are up: a record
   * with fewer up among the first min(n, 2k − 1) of its list (Broker.writeTargetsInto) is
   * stored beyond them by a PUT, which warns (rare: k servers down).
   */
  #putMayStore(): boolean {
    const pool = this.#broker.pool;
    if (this.#broker.writes !== "sloppy" || this.#broker.kRefusal !== undefined) return false;
    return pool.servers.filter((_, index) => pool.isUp(index)).length >= this.#broker.k;
  }

  /** Appends `record` to the list of server `index`'s batch. */
  #noteRecord(index: number, record: number): void {
    const count = this.#recordCounts[index];
    if (count === this.#records[index].length) {
      const grown = new Int32Array(count * 2);
      grown.set(this.#records[index]);
      this.#records[index] = grown;
    }
    this.#records[index][count] = record;
    this.#recordCounts[index] = count + 1;
  }

  /**
   * Reports a record that was not written, after the current chunk as an answer would
   * be. A method of its own: a closure in {@link ReplicaBatches.add} would make V8
   * allocate a context for its captured variables on every call, failure or not.
   */
  #failSoon(lineNumber: number, key: string, hash: number, why: string): void {
    queueMicrotask(() => this.#onDone(lineNumber, key, hash, why));
  }

  /**
   * Writes a record (`encoded`, copied: it is a view of a scratch buffer) as the broker's
   * PUT, stamped now, after the current chunk as {@link ReplicaBatches.#failSoon} reports.
   */
  #putSoon(lineNumber: number, key: string, hash: number, encoded: Uint8Array): void {
    const copy = encoded.slice();
    const version = this.#broker.clock.next();
    queueMicrotask(() => this.#onRetry(lineNumber, key, hash, copy, version));
  }

  /**
   * Whether a record a server refused with `code` (one item, or its whole batch) is
   * written again as the broker's PUT, which puts the next server of the record's list in
   * that server's place (Broker#writeK): as a PUT's own write would be, under the sloppy
   * rule, unless the record itself is at fault (BAD_REQUEST: no server would take it). So
   * a server whose disk is full (READ_ONLY) holds up none of its records.
   */
  #passesOn(code: number): boolean {
    return this.#broker.writes === "sloppy" && code !== ErrorCode.BAD_REQUEST;
  }

  /** Sends every non-empty batch. */
  sendAll(group: RecordGroup): void {
    for (let index = 0; index < this.#items.length; index++) {
      if (this.#items[index].itemCount > 0) this.#send(index, group);
    }
  }

  #send(index: number, group: RecordGroup): void {
    const pool = this.#broker.pool;
    const connection = pool.connection(index);
    // add() saw this server up moments ago, in the same synchronous run over a chunk.
    invariant(connection !== undefined, "a server stays up while its batch is gathered");
    // A copy: the answer comes after this list has been reused for the next batch.
    const records = this.#records[index].slice(0, this.#recordCounts[index]);
    this.#recordCounts[index] = 0;
    // The batch goes with its request (a STALE refusal is written again from it); the
    // server's next batch gathers in a spare one.
    const items = this.#items[index];
    this.#items[index] = this.#spare.pop() ?? new PutManyItems();
    const batch: SentBatch = {
      index,
      where: pool.servers[index].id,
      connection,
      // Judged when sent, as the broker's requests are (ServerPool.call): a server marked
      // repaired while the answer is on the way may have stored these before its refill.
      repaired: pool.trusts(connection.state),
      records,
      items,
    };
    connection.putMany(items).then(
      (refusals) => this.#answered(batch, refusals, group),
      (error) => this.#batchFailed(batch, error, group),
    ).finally(() => this.#release(items));
  }

  /**
   * Settles the records of a batch the server answered: each it refused is written again
   * (STALE, or a refusal a PUT would pass on) or fails; each it stored is settled, or
   * written again when its server is not trusted with it.
   */
  #answered(batch: SentBatch, refusals: readonly PutManyRefusal[], group: RecordGroup): void {
    const { records, items, where, connection, repaired } = batch;
    let bounds: PutManyBounds | undefined;
    for (const refusal of refusals) {
      const record = records[refusal.index];
      invariant(record !== undefined, "a refusal names an item of the batch");
      // Another broker wrote the key since this record was stamped (STALE): write it
      // again after that version. Or the server would not take it: write it again
      // where a PUT would.
      if (refusal.version !== undefined || this.#passesOn(refusal.code)) {
        if (refusal.version !== undefined) this.#broker.clock.observe(refusal.version);
        bounds ??= readPutManyItems(items.bytes(), 0, items.itemCount);
        group.retry(
          record,
          itemValue(items, bounds, refusal.index),
          itemVersion(items, bounds, refusal.index),
        );
      } else {
        group.fail(record, `${where}: ${errorCodeName(refusal.code)}: ${refusal.message}`);
      }
    }
    for (let item = 0; item < records.length; item++) {
      if (group.settle(records[item], connection, repaired)) continue;
      bounds ??= readPutManyItems(items.bytes(), 0, items.itemCount);
      group.rewrite(
        records[item],
        itemValue(items, bounds, item),
        itemVersion(items, bounds, item),
      );
    }
  }

  /** Settles the records of a batch that got no answer, or was refused whole. */
  #batchFailed(batch: SentBatch, error: unknown, group: RecordGroup): void {
    const { index, records, items, where, connection } = batch;
    const unreachable = this.#broker.pool.fail(index, connection, error);
    const reason = `${where}: ${describeError(error)}`;
    // Under the sloppy rule a record whose server went away, or refused the batch
    // whole (READ_ONLY), is written again, by the broker's PUT, to the first k
    // servers of its list that are reachable now and take it.
    const refused = error instanceof ServerError && this.#passesOn(error.code);
    const again = refused || (unreachable && this.#broker.writes === "sloppy");
    const bounds = again ? readPutManyItems(items.bytes(), 0, items.itemCount) : undefined;
    for (let item = 0; item < records.length; item++) {
      if (bounds === undefined) group.fail(records[item], reason);
      else {
        group.retry(
          records[item],
          itemValue(items, bounds, item),
          itemVersion(items, bounds, item),
        );
      }
      group.settle(records[item]);
    }
  }

  /** Empties an answered batch and keeps it for reuse. */
  #release(items: PutManyItems): void {
    items.reset();
    this.#spare.push(items);
  }
}

/**
 * The records a load stored on servers marked repaired under another server list or k than
 * the broker's, and those servers, by cause: the load's counterpart of a PUT's warning
 * (Broker#unseenElsewhere), told once at the end of the run rather than once a record, as a
 * load stores thousands. Only records written as PUTs meet such servers: a batch stored on
 * one that the broker does not trust is written again as a PUT (RecordGroup.settle), whose
 * answer names them with their causes (`unseenOn`), judged with that warning on the marks the
 * pool held then: a server the repair's mark disconnected may be reconnecting by the time the
 * load counts the answer, its mark unknown.
 */
class UnseenWrites {
  /** Records counted under any cause. */
  #count = 0;
  /** Records stored on servers marked under another list, and those servers' ids. */
  readonly #byList = { records: 0, servers: new Set<string>() };
  /** Records stored on servers marked under this list with an old k, those servers' ids and ks. */
  readonly #byK = { records: 0, servers: new Set<string>(), oldKs: new Set<number>(), k: 0 };
  /** Records stored on servers a kv repair changing the list or k is re-marking, and their ids. */
  readonly #changing = { records: 0, servers: new Set<string>() };
  /**
   * Records whose PUT warned of something else (stored beyond the first 2k − 1 servers of
   * their list, Broker#beyondFront), and the first such warning.
   */
  readonly #otherwise = { records: 0, first: "" };

  /** Records counted under any cause. */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts `lines` lines a PUT stored (answered `change`, over `pool`) when it names servers
   * marked under another list or k; returns the PUT's failure, if it failed.
   */
  note(change: Change, pool: ServerPool, lines = 1): string | undefined {
    if (change.kind === "error") return change.error;
    if (change.unseenOn === undefined) {
      if (change.warning === undefined) return undefined;
      this.#count += lines;
      if (this.#otherwise.records === 0) this.#otherwise.first = change.warning;
      this.#otherwise.records += lines;
      return undefined;
    }
    this.#count += lines;
    // Each cause counts the record once, whatever number of its servers it covers.
    const causes = new Set<{ records: number; servers: Set<string> }>();
    for (const server of change.unseenOn) {
      const cause = server.cause === "changing"
        ? this.#changing
        : server.cause === "list"
        ? this.#byList
        : this.#byK;
      cause.servers.add(pool.servers[server.index].id);
      causes.add(cause);
      if (server.cause === "k") {
        this.#byK.oldKs.add(server.oldK);
        this.#byK.k = pool.k ?? 0;
      }
    }
    for (const cause of causes) cause.records += lines;
    return undefined;
  }

  /**
   * One line per cause counted, each saying what to do (a warning: the report's receiver
   * says so, `kv broker warn: …`); none when nothing was.
   */
  warnings(fileName: string): string[] {
    const lines: string[] = [];
    const { records, servers } = this.#byList;
    if (records > 0) {
      lines.push(
        `${storedOn(records, fileName, servers)} repaired under another server list or k than ` +
          "this broker's: clients on that list may not see them until kv repair -s FILE runs " +
          "with the cluster's server list (give this broker that file)",
      );
    }
    const changing = this.#changing;
    if (changing.records > 0) {
      lines.push(
        `${storedOn(changing.records, fileName, changing.servers)} ` +
          beingRemarked(changing.servers.size),
      );
    }
    const byK = this.#byK;
    if (byK.records > 0) {
      const them = byK.servers.size === 1 ? "it" : "them";
      lines.push(
        `${storedOn(byK.records, fileName, byK.servers)} marked repaired under ` +
          `k=${[...byK.oldKs].join(", k=")}, not k=${byK.k}, the k the servers record now ` +
          `(kv repair -k changed it): the records are placed under k=${byK.k}, but until a ` +
          `repair marks ${them} under it, reads through ${them} carry warnings; ` +
          kChangeRepairMarks(byK.servers.size),
      );
    }
    const { records: warned, first } = this.#otherwise;
    if (warned > 0) {
      lines.push(
        `${counted(warned, "record")} of ${fileName} ${wasOrWere(warned)} ` +
          `stored with a warning; the first: ${first}`,
      );
    }
    return lines;
  }
}

/** `3 records of data.txt were stored on A, B, which were`. */
function storedOn(records: number, fileName: string, servers: ReadonlySet<string>): string {
  return `${counted(records, "record")} of ${fileName} ` +
    `${wasOrWere(records)} stored on ${[...servers].join(", ")}, which ${wasOrWere(servers.size)}`;
}

/** The encoded value of item `index` of `items`, laid out by `bounds` (a view: copy it to keep it). */
function itemValue(items: PutManyItems, bounds: PutManyBounds, index: number): Uint8Array {
  return items.bytes().subarray(bounds.valueStart(index), bounds.valueEnd(index));
}

/** The version item `index` of `items` is stamped with, laid out by `bounds`. */
function itemVersion(items: PutManyItems, bounds: PutManyBounds, index: number): Version {
  return readVersion(items.bytes(), bounds.versionStart(index));
}

/** Item bytes a batch for `connection` may hold: its frame limit less the item count. */
function batchLimit(connection: ServerConnection): number {
  return Math.min(MAX_BATCH_BYTES, connection.maxFrameBytes - 4);
}

/** A line that is not UTF-8: reported and skipped like a line that does not parse. */
class UnreadableLineError extends Error {
  /** 1-based column of the character that is not UTF-8. */
  readonly column: number;

  constructor(message: string, column: number) {
    super(message);
    this.name = "UnreadableLineError";
    this.column = column;
  }
}

/** How many spaces and tabs a line starts with. */
function indentOf(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length && (bytes[index] === SPACE || bytes[index] === TAB)) index++;
  return index;
}

/**
 * Indexes the file at `path`; an unreadable file is thrown as the Deno error.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
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

/** What one read from a Linux pipe returns at most: its default capacity. */
const PIPE_CAPACITY_BYTES = 64 * 1024;

/**
 * Buffers the file's stream of chunks cycles through, each refilled rather than a fresh
 * 256 KiB one per chunk (64 page faults each, about 40 ms of the broker's CPU in a load
 * of 100 000 records). The stream fills one only when its queue (of one) is empty: when
 * the line reader has taken the chunk before, by when the indexer is done with the lines
 * of the one before that (it copies what it keeps, the line reader a line that spans
 * chunks). So two would do; the third is a margin for a reader that takes one chunk
 * ahead. With one, lines are read while being overwritten (tests/broker/indexer_test.ts).
 */
const READ_BUFFERS = 3;

/** The file's bytes as a stream of chunks of up to `chunkBytes`; closes the file at the end. */
function readInChunks(file: Deno.FsFile, chunkBytes: number): ReadableStream<Uint8Array> {
  const buffers: Uint8Array[] = [];
  let chunkCount = 0;
  return new ReadableStream({
    async pull(controller) {
      const slot = chunkCount++ % READ_BUFFERS;
      const chunk = buffers[slot] ??= new Uint8Array(chunkBytes);
      let filled = 0;
      let ended = false;
      // A file fills the chunk. A pipe's read returns at most its capacity: a full one
      // means more is coming, a shorter one is all a slow writer has written so far,
      // and that goes out at once rather than waiting for the chunk to fill.
      while (filled < chunkBytes) {
        const wanted = chunkBytes - filled;
        const count = await file.read(chunk.subarray(filled));
        if (count === null) {
          ended = true;
          break;
        }
        filled += count;
        if (count < Math.min(wanted, PIPE_CAPACITY_BYTES)) break;
      }
      if (filled > 0) controller.enqueue(chunk.subarray(0, filled));
      if (ended) {
        file.close();
        controller.close();
      }
    },
    cancel() {
      file.close();
    },
  }, { highWaterMark: 1 });
}

/**
 * The one summary line printed after indexing.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const summary = await indexFile(broker, "data.txt");
 * formatIndexSummary(summary);
 * // "indexed 100000 records (0 failed), skipped 0 lines, 8.1 MB in 1.92 s (52083 records/s)"
 * ```
 */
export function formatIndexSummary(summary: IndexSummary): string {
  const rate = summary.seconds > 0 ? Math.round(summary.indexedCount / summary.seconds) : 0;
  const megabytes = (summary.byteCount / 1e6).toFixed(1);
  const interrupted = summary.interrupted
    ? `; interrupted: the rest of the input was not read, ` +
      `${counted(summary.unconfirmedCount, "record")} unconfirmed (may be stored)`
    : "";
  // The warnings before it say where and what to do.
  const unseen = summary.unseenElsewhereCount === 0
    ? ""
    : `; ${summary.unseenElsewhereCount} stored with a warning (above)`;
  return `indexed ${counted(summary.indexedCount, "record")} (${summary.failedCount} failed), ` +
    `skipped ${counted(summary.skippedCount, "line")}, ${megabytes} MB in ` +
    `${summary.seconds.toFixed(2)} s (${rate} records/s)${unseen}${interrupted}`;
}
