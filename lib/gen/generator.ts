/**
 * Generates random test records in the assignment dialect, as the original
 * createData.py did, but fast: the text is written byte by byte into one
 * reused buffer and handed out in large chunks, so no per-record strings,
 * objects or system calls are made.
 *
 * Line i (0-based) holds record `person<i>` (another prefix than `person` with the option
 * `keyPrefix`: `kv bench` loads its own). Its value has 0..maxKeysPerValue
 * keys (uniform count) drawn without repetition from the key file; each key
 * holds, with probability ½ while fewer than `maxNesting` levels lie above it,
 * another such value, otherwise a scalar of the key's type: a string of
 * 1..maxStringLength characters from [A-Za-z0-9], an int 1..100 or a float
 * 1.5..2.1 with at most two decimals, printed in shortest form (`1.5`, `2.0`).
 * String characters are drawn three to a 32-bit random word by multiply-shift,
 * which leaves each within 10⁻⁴ of uniform: plenty for test data, and a third
 * of the draws. A key's pick and its nest-or-not coin share one exact draw.
 *
 * ```text
 * "person0" : { "name" : "Mary" ; "age" : 22 ; "address" : { "street" : "Main" } }
 * ```
 *
 * No line exceeds `MAX_LINE_BYTES`: each record has a budget of fields
 * ({@link recordFieldBudget}); once it is spent, the record's remaining values
 * get fewer keys. Only very deep and wide settings (say `-d 20 -m 12`) reach it.
 *
 * @example
 * ```ts
 * import { generateChunks } from "./generator.ts";
 * const options = {
 *   keys: [{ name: "age", type: "int" }] as const,
 *   recordCount: 3, maxNesting: 1, maxStringLength: 8, maxKeysPerValue: 1, seed: 42,
 * };
 * for (const chunk of generateChunks(options)) await Deno.stdout.write(chunk.bytes);
 * ```
 * @module
 */
import {
  CLOSE_BRACE,
  DIGIT_ZERO,
  DOUBLE_QUOTE,
  LINE_FEED,
  OPEN_BRACE,
  SPACE,
} from "../record/grammar.ts";
import assert from "node:assert/strict";
import type { KeySpec } from "./keyfile.ts";
import { MAX_KEY_FILE_KEYS } from "./keyfile.ts";
import { MAX_KEY_BYTES, MAX_LINE_BYTES, MAX_NESTING_DEPTH } from "../limits.ts";
import { MAX_SEED, Sfc32 } from "./prng.ts";
import { utf8Length } from "../base/utf8.ts";

/** Most records one run generates (`-n`). */
export const MAX_RECORD_COUNT = 1_000_000_000;

/**
 * Most object levels below a record's value (`-d`): the record's value is
 * itself one level of `MAX_NESTING_DEPTH`.
 */
export const MAX_GENERATED_NESTING = MAX_NESTING_DEPTH - 1;

/** Longest generated string (`-l`), in characters. */
export const MAX_STRING_LENGTH = 10_000;

/** Most keys in one generated value (`-m`); also bounded by the key file's size. */
export const MAX_KEYS_PER_VALUE: number = MAX_KEY_FILE_KEYS;

/** Bytes gathered before a chunk is handed out (1 MiB) unless `chunkBytes` says otherwise. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** Smallest and largest `chunkBytes`. */
export const MIN_CHUNK_BYTES = 1;
/** Largest `chunkBytes` (64 MiB): more only costs memory. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

/** Generated ints lie in INT_MIN..INT_MAX, as in createData.py. */
export const INT_MIN = 1;
/** See {@link INT_MIN}. */
export const INT_MAX = 100;
/** Generated floats are FLOAT_MIN_HUNDREDTHS/100..FLOAT_MAX_HUNDREDTHS/100 (1.5..2.1). */
export const FLOAT_MIN_HUNDREDTHS = 150;
/** See {@link FLOAT_MIN_HUNDREDTHS}. */
export const FLOAT_MAX_HUNDREDTHS = 210;

/** What to generate. */
export interface GeneratorOptions {
  /** The keys to draw field names and scalar types from (non-empty). */
  readonly keys: readonly KeySpec[];
  /** Number of records (lines), 0..{@link MAX_RECORD_COUNT}. */
  readonly recordCount: number;
  /** Most object levels below a record's value, 0..{@link MAX_GENERATED_NESTING}. */
  readonly maxNesting: number;
  /** Longest string value, 1..{@link MAX_STRING_LENGTH}. */
  readonly maxStringLength: number;
  /** Most keys in one value, 0..min(keys.length, {@link MAX_KEYS_PER_VALUE}). */
  readonly maxKeysPerValue: number;
  /** PRNG seed, 0..MAX_SEED: equal options give byte-identical output. */
  readonly seed: number;
  /**
   * Bytes gathered before a chunk is handed out, {@link MIN_CHUNK_BYTES}..
   * {@link MAX_CHUNK_BYTES}. Default {@link DEFAULT_CHUNK_BYTES}. Does not
   * change the output, only how it is split.
   */
  readonly chunkBytes?: number;
  /**
   * What each record's key starts with: record i's key is this followed by i. Default
   * {@link DEFAULT_KEY_PREFIX}; at most {@link MAX_KEY_PREFIX_BYTES} bytes of printable
   * ASCII without `.`, `"` or `\`, so that every key is valid and prints unescaped.
   */
  readonly keyPrefix?: string;
}

/** The keys `kv gen` writes, `person0`, `person1`…: its README, quick start and demo use them. */
export const DEFAULT_KEY_PREFIX = "person";

/** Longest {@link GeneratorOptions.keyPrefix}: room left for the index within a key's 1024 bytes. */
export const MAX_KEY_PREFIX_BYTES = 64;

/** A key prefix's characters: printable ASCII but `.` (no key holds one), `"` and `\` (escaped). */
const KEY_PREFIX_PATTERN = /^[\x20-\x21\x23-\x2d\x2f-\x5b\x5d-\x7e]*$/;

/** A piece of the output, always ending with a whole record's `\n`. */
export interface GeneratedChunk {
  /**
   * UTF-8 text: a view of one of two buffers used in turn, so it stays valid
   * while the next chunk is generated (letting a write of this chunk overlap
   * that work) and is overwritten when the chunk after that is generated.
   */
  readonly bytes: Uint8Array;
  /** Records generated so far, including those in this chunk. */
  readonly recordsDone: number;
}

const TYPE_INT = 0;
const TYPE_FLOAT = 1;
const TYPE_STRING = 2;
const TYPE_CODES = { int: TYPE_INT, float: TYPE_FLOAT, string: TYPE_STRING } as const;

const ALPHABET = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
);
const ALPHABET_SIZE = 62;
/**
 * Each multiply-shift step leaves 62 times fewer distinct fractions: after three steps
 * about 2^14.1 remain, so a third character is within 62 / 2^20 ≈ 10⁻⁴ of uniform; a
 * fourth would be 0.4% off.
 */
const CHARACTERS_PER_DRAW = 3;
const TWO_POW_32 = 2 ** 32;
const KEY_SEPARATOR = new TextEncoder().encode('" : ');

/** A record line's opening quote and its key's prefix, as bytes. */
function recordNameOf(options: GeneratorOptions): Uint8Array {
  return new TextEncoder().encode(`"${options.keyPrefix ?? DEFAULT_KEY_PREFIX}`);
}

/** Bytes of a record line outside its fields: name, ` : `, `{ `, ` }` and `\n`. */
function recordOverheadBytes(options: GeneratorOptions): number {
  const largestIndexDigits = String(Math.max(0, options.recordCount - 1)).length;
  return recordNameOf(options).length + largestIndexDigits + KEY_SEPARATOR.length + 4 + 1;
}

/**
 * Most bytes one field can take: `"key" : ` + the longest value form + ` ; `.
 * A nested object's own `{ ` and ` }` are counted here too, as its fields are
 * counted on their own.
 */
function fieldBytesBound(keyBytes: number, maxStringLength: number): number {
  const longestScalar = Math.max(maxStringLength + 2, String(INT_MAX).length, "1.75".length);
  return 2 + keyBytes + 3 + Math.max(longestScalar, 4) + 3;
}

/**
 * The number of fields (at all levels) one record may hold so that its line
 * stays within `MAX_LINE_BYTES`, counting `\n`.
 *
 * @example
 * ```ts
 * recordFieldBudget({ keys: [{ name: "a", type: "int" }], recordCount: 1, maxNesting: 0,
 *   maxStringLength: 1, maxKeysPerValue: 1, seed: 0 }) > 1000; // true
 * ```
 */
export function recordFieldBudget(options: GeneratorOptions): number {
  const keyBytes = Math.max(...options.keys.map((key) => utf8Length(key.name)));
  const budget = Math.floor(
    (MAX_LINE_BYTES - recordOverheadBytes(options)) /
      fieldBytesBound(keyBytes, options.maxStringLength),
  );
  assert(budget >= 1, "limits leave room for at least one field per record");
  return budget;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * Throws a RangeError naming the first option outside its documented range.
 *
 * @example
 * ```ts
 * checkGeneratorOptions({ keys: [{ name: "a", type: "int" }], recordCount: 1, maxNesting: 0,
 *   maxStringLength: 1, maxKeysPerValue: 2, seed: 0 }); // throws: maxKeysPerValue too large
 * ```
 */
export function checkGeneratorOptions(options: GeneratorOptions): void {
  checkInteger("keys.length", options.keys.length, 1, MAX_KEY_FILE_KEYS);
  for (const key of options.keys) {
    checkInteger("key name bytes", utf8Length(key.name), 1, MAX_KEY_BYTES);
  }
  checkInteger("recordCount", options.recordCount, 0, MAX_RECORD_COUNT);
  checkInteger("maxNesting", options.maxNesting, 0, MAX_GENERATED_NESTING);
  checkInteger("maxStringLength", options.maxStringLength, 1, MAX_STRING_LENGTH);
  checkInteger(
    "maxKeysPerValue",
    options.maxKeysPerValue,
    0,
    Math.min(options.keys.length, MAX_KEYS_PER_VALUE),
  );
  checkInteger("seed", options.seed, 0, MAX_SEED);
  checkInteger(
    "chunkBytes",
    options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    MAX_CHUNK_BYTES,
  );
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!KEY_PREFIX_PATTERN.test(keyPrefix) || keyPrefix.length > MAX_KEY_PREFIX_BYTES) {
    throw new RangeError(
      `keyPrefix must be at most ${MAX_KEY_PREFIX_BYTES} printable ASCII characters ` +
        `without '.', '"' or '\\', got ${JSON.stringify(keyPrefix)}`,
    );
  }
}

/**
 * Bytes a buffer needs past the end of its last record: text is copied four bytes
 * at a time, and the last copy of a run may write up to three bytes beyond it
 * (overwritten by whatever comes next).
 */
const WORD_SLACK_BYTES = 4;

/**
 * Short texts packed into little-endian 32-bit words, so that writing one costs a
 * few word stores instead of a store per byte. Text `i` is `lengths[i]` bytes long
 * and fills words `starts[i]` up to `starts[i + 1]`, zero-padded.
 */
interface PackedTexts {
  readonly words: Int32Array;
  readonly starts: Int32Array;
  readonly lengths: Int32Array;
}

function packTexts(texts: readonly Uint8Array[]): PackedTexts {
  const starts = new Int32Array(texts.length + 1);
  texts.forEach((text, index) => starts[index + 1] = starts[index] + Math.ceil(text.length / 4));
  const padded = new Uint8Array(starts[texts.length] * 4);
  texts.forEach((text, index) => padded.set(text, starts[index] * 4));
  const view = new DataView(padded.buffer);
  const words = Int32Array.from(
    { length: starts[texts.length] },
    (_, i) => view.getInt32(i * 4, true),
  );
  return { words, starts, lengths: Int32Array.from(texts, (text) => text.length) };
}

const textEncoder = new TextEncoder();

/** Every int a record may hold, INT_MIN..INT_MAX, as text. */
const INT_TEXTS = packTexts(
  Array.from({ length: INT_MAX - INT_MIN + 1 }, (_, i) => textEncoder.encode(String(INT_MIN + i))),
);

/**
 * Every float a record may hold, as its shortest round-trip text with a decimal
 * point: hundredths/100 for FLOAT_MIN_HUNDREDTHS..FLOAT_MAX_HUNDREDTHS (`1.5`, `1.75`, `2.0`).
 */
const FLOAT_TEXTS = packTexts(
  Array.from({ length: FLOAT_MAX_HUNDREDTHS - FLOAT_MIN_HUNDREDTHS + 1 }, (_, i) => {
    const hundredths = FLOAT_MIN_HUNDREDTHS + i;
    return textEncoder.encode((hundredths / 100).toFixed(hundredths % 10 === 0 ? 1 : 2));
  }),
);

/** ` ; ` between fields, as one word (its fourth byte is overwritten by the next field). */
const FIELD_SEPARATOR_WORD = packTexts([textEncoder.encode(" ; ")]).words[0];
const FIELD_SEPARATOR_BYTES = 3;

/** Everything {@link RecordWriter} needs, prepared once per run. */
interface RecordWriterParts {
  readonly buffer: Uint8Array;
  /** `"` and the key's prefix. */
  readonly recordName: Uint8Array;
  readonly random: Sfc32;
  /** Each key's `"name" : `. */
  readonly keyHeads: PackedTexts;
  readonly keyTypes: Uint8Array;
  readonly keyOrderByLevel: readonly Int32Array[];
  readonly maxNesting: number;
  readonly maxStringLength: number;
  readonly maxKeysPerValue: number;
  readonly fieldBudget: number;
}

/**
 * Writes one record line at a time into the buffer. The write position is
 * passed in and returned rather than stored, so that it lives in a register
 * on the hot path; that and the byte-at-a-time writes are what make `kv gen`
 * fast.
 */
class RecordWriter {
  #buffer: Uint8Array;
  readonly #recordName: Uint8Array;
  #random: Sfc32;
  #view: DataView;
  #keyHeads: PackedTexts;
  #keyTypes: Uint8Array;
  #keyOrderByLevel: readonly Int32Array[];
  /** Per level, whether each drawn key's value nests (0) or is a scalar (1). */
  #nestCoinsByLevel: readonly Uint8Array[];
  #keyCount: number;
  #maxNesting: number;
  #maxStringLength: number;
  #maxKeysPerValue: number;
  #fieldBudget: number;
  #fieldsLeft = 0;

  constructor(parts: RecordWriterParts) {
    this.#buffer = parts.buffer;
    this.#recordName = parts.recordName;
    this.#random = parts.random;
    this.#view = new DataView(parts.buffer.buffer);
    this.#keyHeads = parts.keyHeads;
    this.#keyTypes = parts.keyTypes;
    this.#keyOrderByLevel = parts.keyOrderByLevel;
    this.#nestCoinsByLevel = parts.keyOrderByLevel.map((order) => new Uint8Array(order.length));
    this.#keyCount = parts.keyTypes.length;
    this.#maxNesting = parts.maxNesting;
    this.#maxStringLength = parts.maxStringLength;
    this.#maxKeysPerValue = parts.maxKeysPerValue;
    this.#fieldBudget = parts.fieldBudget;
  }

  /** Draws from `random` from now on, with every level's key order reset to the identity. */
  restart(random: Sfc32): void {
    this.#random = random;
    for (const keyOrder of this.#keyOrderByLevel) {
      for (let key = 0; key < keyOrder.length; key++) keyOrder[key] = key;
    }
  }

  /** Makes later records go to `buffer`, which must be as large as the first. */
  useBuffer(buffer: Uint8Array): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer);
  }

  /** Writes packed text `index` at `at`; returns the end. */
  #writePacked(texts: PackedTexts, index: number, at: number): number {
    const view = this.#view;
    const words = texts.words;
    for (
      let word = texts.starts[index], end = texts.starts[index + 1], to = at;
      word < end;
      word++
    ) {
      view.setInt32(to, words[word], true);
      to += 4;
    }
    return at + texts.lengths[index];
  }

  /** Writes record `<keyPrefix><recordIndex>` and its `\n` at `at`; returns the end. */
  writeRecord(recordIndex: number, at: number): number {
    const buffer = this.#buffer;
    const recordName = this.#recordName;
    let position = at;
    for (let i = 0; i < recordName.length; i++) buffer[position++] = recordName[i];
    position = this.#writeDecimal(recordIndex, position);
    for (let i = 0; i < KEY_SEPARATOR.length; i++) buffer[position++] = KEY_SEPARATOR[i];
    this.#fieldsLeft = this.#fieldBudget;
    position = this.#writeObject(0, position);
    buffer[position++] = LINE_FEED;
    return position;
  }

  #writeDecimal(value: number, at: number): number {
    const buffer = this.#buffer;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    const end = at + digits;
    let position = end;
    let rest = value;
    do {
      buffer[--position] = DIGIT_ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
    return end;
  }

  #writeObject(level: number, at: number): number {
    const buffer = this.#buffer;
    const random = this.#random;
    const count = Math.min(random.nextBelow(this.#maxKeysPerValue + 1), this.#fieldsLeft);
    this.#fieldsLeft -= count;
    let position = at;
    if (count === 0) {
      buffer[position++] = OPEN_BRACE;
      buffer[position++] = CLOSE_BRACE;
      return position;
    }
    const keyOrder = this.#keyOrderByLevel[level];
    const nestCoins = this.#nestCoinsByLevel[level];
    const keyCount = this.#keyCount;
    for (let i = 0; i < count; i++) {
      // One draw gives the key and, in its low bit, whether its value nests.
      const draw = random.nextBelow(2 * (keyCount - i));
      nestCoins[i] = draw & 1;
      const pick = i + (draw >>> 1);
      const key = keyOrder[pick];
      keyOrder[pick] = keyOrder[i];
      keyOrder[i] = key;
    }
    const keyHeads = this.#keyHeads;
    const keyTypes = this.#keyTypes;
    const view = this.#view;
    const mayNest = level < this.#maxNesting;
    buffer[position++] = OPEN_BRACE;
    buffer[position++] = SPACE;
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        view.setInt32(position, FIELD_SEPARATOR_WORD, true);
        position += FIELD_SEPARATOR_BYTES;
      }
      const key = keyOrder[i];
      position = this.#writePacked(keyHeads, key, position);
      if (mayNest && nestCoins[i] === 0) {
        position = this.#writeObject(level + 1, position);
      } else {
        const type = keyTypes[key];
        if (type === TYPE_STRING) position = this.#writeString(position);
        else if (type === TYPE_INT) {
          position = this.#writePacked(
            INT_TEXTS,
            random.nextBelow(INT_MAX - INT_MIN + 1),
            position,
          );
        } else {
          position = this.#writePacked(
            FLOAT_TEXTS,
            random.nextBelow(FLOAT_MAX_HUNDREDTHS - FLOAT_MIN_HUNDREDTHS + 1),
            position,
          );
        }
      }
    }
    buffer[position++] = SPACE;
    buffer[position++] = CLOSE_BRACE;
    return position;
  }

  #writeString(at: number): number {
    const buffer = this.#buffer;
    const random = this.#random;
    const length = 1 + random.nextBelow(this.#maxStringLength);
    let position = at;
    buffer[position++] = DOUBLE_QUOTE;
    // Multiply-shift: each step's integer part is a character, the fraction left
    // feeds the next.
    for (let left = length; left > 0; left -= CHARACTERS_PER_DRAW) {
      let fraction = random.nextUint32();
      const count = left < CHARACTERS_PER_DRAW ? left : CHARACTERS_PER_DRAW;
      for (let i = 0; i < count; i++) {
        fraction *= ALPHABET_SIZE;
        const character = Math.floor(fraction / TWO_POW_32);
        fraction -= character * TWO_POW_32;
        buffer[position++] = ALPHABET[character];
      }
    }
    buffer[position++] = DOUBLE_QUOTE;
    return position;
  }
}

/**
 * Records per block. Each block draws from its own PRNG stream, seeded from the run's
 * seed and the block's number, so blocks can be generated in any order — by several
 * workers at once — and still join into the same bytes.
 */
export const BLOCK_RECORDS = 8192;

/** The number of blocks `recordCount` records make: 13 for 100 000. */
function blockCount(recordCount: number): number {
  return Math.ceil(recordCount / BLOCK_RECORDS);
}

/**
 * The PRNG seed of block `block` of a run seeded with `seed`: splitmix32's finaliser
 * over both, so neighbouring blocks and seeds get unrelated streams.
 */
function blockSeed(seed: number, block: number): number {
  let z = (seed ^ Math.imul(block + 1, 0x9e37_79b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Generates the records of a run block by block (see {@link BLOCK_RECORDS}) as chunks
 * of UTF-8 text. Each chunk holds whole lines and is a view of one of two reused
 * buffers, valid until the generator has been resumed twice: write it out (or copy
 * it) before then. Writing chunk k while chunk k + 1 is generated is safe, and is how
 * `kv gen` overlaps generation with disk writes.
 *
 * @example
 * ```ts
 * const records = new RecordGenerator({ keys: [{ name: "age", type: "int" }],
 *   recordCount: 10, maxNesting: 0, maxStringLength: 5, maxKeysPerValue: 1, seed: 1 });
 * for (const chunk of records.block(0)) console.log(chunk.recordsDone);
 * ```
 */
export class RecordGenerator {
  readonly #options: GeneratorOptions;
  readonly #chunkBytes: number;
  readonly #maxRecordBytes: number;
  readonly #buffers: [Uint8Array, Uint8Array];
  /** Which buffer the next chunk goes to: they alternate, whatever the block. */
  #nextBuffer = 0;
  readonly #writer: RecordWriter;

  /** Throws a RangeError for options outside their ranges. */
  constructor(options: GeneratorOptions) {
    checkGeneratorOptions(options);
    this.#options = options;
    const { keys, maxNesting, maxStringLength, maxKeysPerValue } = options;
    this.#chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const encodedKeys = keys.map((key) => textEncoder.encode(`"${key.name}" : `));
    const fieldBudget = recordFieldBudget(options);
    this.#maxRecordBytes = recordOverheadBytes(options) +
      fieldBudget *
        fieldBytesBound(Math.max(...encodedKeys.map((bytes) => bytes.length)), maxStringLength);
    const bufferBytes = this.#chunkBytes + this.#maxRecordBytes + WORD_SLACK_BYTES;
    this.#buffers = [new Uint8Array(bufferBytes), new Uint8Array(bufferBytes)];
    this.#writer = new RecordWriter({
      buffer: this.#buffers[0],
      recordName: recordNameOf(options),
      random: new Sfc32(options.seed),
      keyHeads: packTexts(encodedKeys),
      keyTypes: Uint8Array.from(keys, (key) => TYPE_CODES[key.type]),
      // One permutation of the key indexes per level: a partial Fisher–Yates
      // shuffle of its first `count` entries draws `count` distinct keys, and a
      // nested value (one level down) must not disturb its parent's draw.
      keyOrderByLevel: Array.from(
        { length: maxNesting + 1 },
        () => Int32Array.from({ length: keys.length }, (_, key) => key),
      ),
      maxNesting,
      maxStringLength,
      maxKeysPerValue,
      fieldBudget,
    });
  }

  /** The number of blocks in the run. */
  get blockCount(): number {
    return blockCount(this.#options.recordCount);
  }

  /**
   * The chunks of block `block` (0 ≤ block < blockCount); `recordsDone` counts records
   * of the whole run up to the end of each chunk.
   *
   * @example
   * ```ts
   * const records = new RecordGenerator({ keys: [{ name: "age", type: "int" }],
   *   recordCount: 3, maxNesting: 0, maxStringLength: 5, maxKeysPerValue: 1, seed: 1 });
   * const [chunk] = records.block(0); // a small run: one chunk of 3 lines
   * new TextDecoder().decode(chunk.bytes); // '"person0" : { "age" : 73 }\n"person1" : {}\n…'
   * ```
   */
  *block(block: number): Generator<GeneratedChunk> {
    if (!(Number.isInteger(block) && block >= 0 && block < this.blockCount)) {
      throw new RangeError(`block must be an integer from 0 to ${this.blockCount - 1}`);
    }
    const writer = this.#writer;
    // Key orders start from the identity in every block, so a block's text depends on
    // nothing but the seed and its number.
    writer.restart(new Sfc32(blockSeed(this.#options.seed, block)));
    const first = block * BLOCK_RECORDS;
    const end = Math.min(this.#options.recordCount, first + BLOCK_RECORDS);
    // The buffers alternate across blocks too: the chunk before this block's first
    // may still be in use (being written) while this one is generated.
    let buffer = this.#buffers[this.#nextBuffer];
    writer.useBuffer(buffer);
    let position = 0;
    for (let recordIndex = first; recordIndex < end; recordIndex++) {
      const recordStart = position;
      position = writer.writeRecord(recordIndex, position);
      if (position - recordStart > this.#maxRecordBytes) {
        throw new Error("bug: record over its byte bound");
      }
      if (position >= this.#chunkBytes || recordIndex === end - 1) {
        yield { bytes: buffer.subarray(0, position), recordsDone: recordIndex + 1 };
        this.#nextBuffer = 1 - this.#nextBuffer;
        buffer = this.#buffers[this.#nextBuffer];
        writer.useBuffer(buffer);
        position = 0;
      }
    }
  }
}

/**
 * Generates all records, block after block, as chunks of UTF-8 text (see
 * {@link RecordGenerator} for how long a chunk stays valid). Throws a RangeError for
 * options outside their ranges.
 *
 * @example
 * ```ts
 * const options = { keys: [{ name: "age", type: "int" }] as const, recordCount: 2,
 *   maxNesting: 0, maxStringLength: 5, maxKeysPerValue: 1, seed: 1 };
 * for (const chunk of generateChunks(options)) console.log(chunk.recordsDone);
 * ```
 */
export function* generateChunks(options: GeneratorOptions): Generator<GeneratedChunk> {
  const records = new RecordGenerator(options);
  for (let block = 0; block < records.blockCount; block++) yield* records.block(block);
}

/**
 * Generates all records as one string; for tests and small runs.
 *
 * @example
 * ```ts
 * generateText({ keys: [{ name: "age", type: "int" }], recordCount: 1, maxNesting: 0,
 *   maxStringLength: 5, maxKeysPerValue: 1, seed: 1 });
 * // one line such as '"person0" : { "age" : 57 }\n'; which one depends on the seed
 * ```
 */
export function generateText(options: GeneratorOptions): string {
  const decoder = new TextDecoder();
  let text = "";
  for (const chunk of generateChunks(options)) {
    text += decoder.decode(chunk.bytes, { stream: true });
  }
  return text + decoder.decode();
}
