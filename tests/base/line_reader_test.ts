import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import {
  decodeRawLine,
  type RawLine,
  type ReadLine,
  readLines,
  type ReadLinesOptions,
  readRawLineBatches,
} from "../../lib/base/line_reader.ts";
import { MAX_LINE_BYTES } from "../../lib/limits.ts";
import { withDeadline } from "../helpers/wait.ts";

const encoder = new TextEncoder();

function streamOf(chunks: readonly (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(
    chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk),
  );
}

async function collect(
  chunks: readonly (string | Uint8Array)[],
  options?: ReadLinesOptions,
): Promise<ReadLine[]> {
  return await Array.fromAsync(readLines(streamOf(chunks), options));
}

/** The lines as [text, byteLength] pairs, failing on any bad line. */
function texts(lines: readonly ReadLine[]): [string, number][] {
  return lines.map((line, index) => {
    assert.equal(line.lineNumber, index + 1);
    assert.equal(line.error, undefined, `line ${line.lineNumber}: ${line.error}`);
    return [line.text!, line.byteLength];
  });
}

Deno.test("readLines splits on \\n, drops one \\r before it and keeps empty lines", async () => {
  const lines = await collect(["a\r\nbb\n\nc\r\r\n \n"]);
  assert.deepEqual(texts(lines), [["a", 1], ["bb", 2], ["", 0], ["c\r", 2], [" ", 1]]);
});

Deno.test("an empty stream has no lines; a lone newline is one empty line", async () => {
  assert.deepEqual(await collect([]), []);
  assert.deepEqual(await collect([new Uint8Array(0), ""]), []);
  assert.deepEqual(texts(await collect(["\n"])), [["", 0]]);
  assert.deepEqual(texts(await collect(["\r\n"])), [["", 0]]);
});

Deno.test("a last line without \\n is still a line, with or without \\r", async () => {
  assert.deepEqual(texts(await collect(["a\nlast"])), [["a", 1], ["last", 4]]);
  assert.deepEqual(texts(await collect(["a\nlast\r"])), [["a", 1], ["last", 4]]);
  assert.deepEqual(texts(await collect(["a\n", "la", "st"])), [["a", 1], ["last", 4]]);
});

Deno.test("lines, CRLF endings and characters split across chunks are joined", async () => {
  const bytes = encoder.encode("héllo 😀\r\nwörld\n");
  const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
  assert.deepEqual(texts(await collect(chunks)), [["héllo 😀", 11], ["wörld", 6]]);
});

Deno.test("a UTF-8 byte order mark is skipped at the start of the stream only", async () => {
  const lines = await collect([Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf), "a\n\ufeffb\n"]);
  assert.deepEqual(lines.map((line) => line.text), ["a", "\ufeffb"]);
});

Deno.test("any text split into any chunks gives the same lines as splitting it whole", async () => {
  const character = fc.oneof(
    fc.constantFrom("\n", "\r", "a", " ", "é", "😀", "\u2028"),
    anyText({ minLength: 1, maxLength: 1 }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: character, maxLength: 60 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      async (text, cutSeeds) => {
        const bytes = encoder.encode(text);
        const cuts = [...new Set(cutSeeds.map((seed) => seed % (bytes.length + 1)))].sort((a, b) =>
          a - b
        );
        const chunks: Uint8Array[] = [];
        let start = 0;
        for (const cut of [...cuts, bytes.length]) {
          chunks.push(bytes.slice(start, cut));
          start = cut;
        }
        const expected = text.split("\n");
        if (expected[expected.length - 1] === "") expected.pop();
        const expectedLines = expected.map((line, index) => {
          const withoutCr = line.endsWith("\r") ? line.slice(0, -1) : line;
          const byteLength = encoder.encode(withoutCr).length;
          const shown = index === 0 && withoutCr.startsWith("\ufeff")
            ? withoutCr.slice(1)
            : withoutCr;
          return [shown, byteLength];
        });
        assert.deepEqual(texts(await collect(chunks)), expectedLines);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("an over-long line is reported and skipped, and the lines after it are read", async () => {
  const options = { maxLineBytes: 10 };
  const lines = await collect(
    ["ok\n0123456", "789abc", "def\r\n", "exactly10!\r\nafter\n"],
    options,
  );
  assert.deepEqual(lines, [
    { lineNumber: 1, byteLength: 2, text: "ok" },
    { lineNumber: 2, byteLength: 16, error: "line is 16 bytes; the limit is 10 bytes" },
    { lineNumber: 3, byteLength: 10, text: "exactly10!" },
    { lineNumber: 4, byteLength: 5, text: "after" },
  ]);
  const withinOneChunk = await collect(["0123456789A\nb"], options);
  assert.equal(withinOneChunk[0].error, "line is 11 bytes; the limit is 10 bytes");
  assert.equal(withinOneChunk[1].text, "b");
  const lastLine = await collect(["a\n0123456789AB"], options);
  assert.equal(lastLine[1].error, "line is 12 bytes; the limit is 10 bytes");
});

Deno.test("the default limit is MAX_LINE_BYTES and a huge line streams through", async () => {
  const chunkBytes = 64 * 1024;
  const chunkCount = Math.ceil((MAX_LINE_BYTES * 4) / chunkBytes);
  const filler = new Uint8Array(chunkBytes).fill(0x78);
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let index = 0; index < chunkCount; index++) controller.enqueue(filler);
      controller.enqueue(encoder.encode("\n" + "y".repeat(MAX_LINE_BYTES) + "\nz"));
      controller.close();
    },
  });
  const lines = await Array.fromAsync(readLines(source));
  assert.equal(lines.length, 3);
  assert.equal(
    lines[0].error,
    `line is ${chunkBytes * chunkCount} bytes; the limit is ${MAX_LINE_BYTES} bytes`,
  );
  assert.equal(lines[1].text?.length, MAX_LINE_BYTES);
  assert.equal(lines[2].text, "z");
});

Deno.test("invalid UTF-8 is reported for its line only, with the byte and the column of the character that is not", async () => {
  const lines = await collect([
    "good\n",
    Uint8Array.of(0x61, 0x62, 0xff, 0x63, 0x0a),
    // A lead byte whose character is broken is named, not the byte that broke it.
    Uint8Array.of(0x61, 0xc3, 0x41, 0x0a),
    Uint8Array.of(0x61, 0xe2, 0x82, 0x0a),
    // Columns count code points: 'é' is one column of two bytes.
    Uint8Array.of(0xc3, 0xa9, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0x0a),
    "still good",
  ]);
  assert.deepEqual(lines, [
    { lineNumber: 1, byteLength: 4, text: "good" },
    { lineNumber: 2, byteLength: 4, error: "byte 0xff is not UTF-8", column: 3 },
    { lineNumber: 3, byteLength: 3, error: "byte 0xc3 is not UTF-8", column: 2 },
    { lineNumber: 4, byteLength: 3, error: "byte 0xe2 is not UTF-8", column: 2 },
    { lineNumber: 5, byteLength: 7, error: "byte 0xed is not UTF-8", column: 3 },
    { lineNumber: 6, byteLength: 10, text: "still good" },
  ]);
});

Deno.test("breaking out of the loop cancels the source", async () => {
  let cancelled: (reason: unknown) => void = () => {};
  const cancelReason = new Promise((resolve) => cancelled = resolve);
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(encoder.encode("line\n"));
    },
    cancel(reason) {
      cancelled(reason);
    },
  });
  for await (const line of readLines(source)) {
    assert.equal(line.text, "line");
    break;
  }
  await withDeadline(cancelReason, { what: "the source to be cancelled" });
  assert.equal(source.locked, false);
});

Deno.test("an error of the source stream itself is thrown", async () => {
  const failure = new Error("disk on fire");
  let pullCount = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      // First hand out some bytes, then fail, as a disk would part-way through a file.
      if (pullCount++ === 0) controller.enqueue(encoder.encode("a\nb"));
      else controller.error(failure);
    },
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const line of readLines(source)) seen.push(line.text!);
  }, failure);
  assert.deepEqual(seen, ["a"]);
});

Deno.test("maxLineBytes must be a whole number", async () => {
  for (const maxLineBytes of [-1, 1.5, NaN]) {
    await assert.rejects(() => collect(["a"], { maxLineBytes }), RangeError);
  }
});

Deno.test("bad lines among many in one chunk are reported alone", async () => {
  const lines = await collect(
    [
      Uint8Array.of(
        ...encoder.encode("first\n0123456789AB\nb\r\n\n"),
        ...encoder.encode("éééééé\nééééé\n"),
        ...[0x61, 0xff, 0x0a],
        ...encoder.encode("ok\nrest"),
      ),
    ],
    { maxLineBytes: 10 },
  );
  assert.deepEqual(lines, [
    { lineNumber: 1, byteLength: 5, text: "first" },
    { lineNumber: 2, byteLength: 12, error: "line is 12 bytes; the limit is 10 bytes" },
    { lineNumber: 3, byteLength: 1, text: "b" },
    { lineNumber: 4, byteLength: 0, text: "" },
    { lineNumber: 5, byteLength: 12, error: "line is 12 bytes; the limit is 10 bytes" },
    { lineNumber: 6, byteLength: 10, text: "ééééé" },
    { lineNumber: 7, byteLength: 2, error: "byte 0xff is not UTF-8", column: 2 },
    { lineNumber: 8, byteLength: 2, text: "ok" },
    { lineNumber: 9, byteLength: 4, text: "rest" },
  ]);
});

Deno.test("any bytes read in any chunks give the same lines as read a byte at a time", async () => {
  const byte = fc.oneof(
    fc.constantFrom(0x0a, 0x0d, 0x61, 0xc3, 0xa9, 0xff, 0xef, 0xbb, 0xbf, 0xf0, 0x9f),
    fc.integer({ min: 0, max: 255 }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(byte, { maxLength: 80 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.integer({ min: 0, max: 12 }),
      async (byteList, cutSeeds, maxLineBytes) => {
        const bytes = Uint8Array.from(byteList);
        const cuts = [...new Set(cutSeeds.map((seed) => seed % (bytes.length + 1)))].sort((a, b) =>
          a - b
        );
        const chunks: Uint8Array[] = [];
        let start = 0;
        for (const cut of [...cuts, bytes.length]) {
          chunks.push(bytes.slice(start, cut));
          start = cut;
        }
        const byteAtATime = Array.from(bytes, (value) => Uint8Array.of(value));
        const expected = await collect(byteAtATime, { maxLineBytes });
        assert.deepEqual(await collect(chunks, { maxLineBytes }), expected);
        // Raw lines, decoded afterwards, are the same lines.
        const raw: ReadLine[] = [];
        for await (const batch of readRawLineBatches(streamOf(chunks), { maxLineBytes })) {
          for (const line of batch) raw.push(line.error === undefined ? decodeRawLine(line) : line);
        }
        assert.deepEqual(raw, expected);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("maxBatchLines splits a chunk's lines into batches of at most that many, none empty, the same lines in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.stringMatching(/^[a-z\n]{0,12}$/), { maxLength: 6 }),
      fc.integer({ min: 1, max: 4 }),
      async (chunks, maxBatchLines) => {
        const whole: ReadLine[] = [];
        const split: ReadLine[] = [];
        for await (const batch of readRawLineBatches(streamOf(chunks))) {
          for (const line of batch) whole.push(decodeRawLine(line as RawLine));
        }
        for await (const batch of readRawLineBatches(streamOf(chunks), { maxBatchLines })) {
          assert.ok(batch.length >= 1 && batch.length <= maxBatchLines, `${batch.length} lines`);
          for (const line of batch) split.push(decodeRawLine(line as RawLine));
        }
        assert.deepEqual(split, whole);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("maxBatchLines: any bytes in any chunks (CRLF, over-long lines, bad UTF-8, a batch ending at a chunk's end) give the lines read without it", async () => {
  const byte = fc.oneof(
    fc.constantFrom(0x0a, 0x0a, 0x0d, 0x61, 0xc3, 0xa9, 0xff),
    fc.integer({ min: 0, max: 255 }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(byte, { maxLength: 16 }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 6 }),
      async (chunkBytes, maxBatchLines, maxLineBytes) => {
        const chunks = chunkBytes.map((bytes) => Uint8Array.from(bytes));
        const lines = async (options: ReadLinesOptions) => {
          const batches: ReadLine[][] = [];
          for await (const batch of readRawLineBatches(streamOf(chunks), options)) {
            batches.push(
              batch.map((line) => line.error === undefined ? decodeRawLine(line) : line),
            );
          }
          return batches;
        };
        const whole = await lines({ maxLineBytes });
        const split = await lines({ maxLineBytes, maxBatchLines });
        for (const batch of split) {
          assert.ok(batch.length >= 1 && batch.length <= maxBatchLines, `${batch.length} lines`);
        }
        assert.deepEqual(split.flat(), whole.flat());
        // Batches are split within a chunk's batch, never joined across chunks.
        assert.equal(
          split.length,
          whole.reduce((sum, batch) => sum + Math.ceil(batch.length / maxBatchLines), 0),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("maxBatchLines below 1 or not whole is a RangeError", async () => {
  for (const maxBatchLines of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(
      () => Array.fromAsync(readRawLineBatches(streamOf(["a\n"]), { maxBatchLines })),
      RangeError,
    );
  }
});
