import assert from "node:assert/strict";
import fc from "fast-check";
import { LINE_BUFFER_BYTES, LineBuffer, StdoutError } from "../../lib/base/stdout.ts";
import { nextTurn } from "../helpers/wait.ts";

/** A LineBuffer over a recorder of every write it makes (copied: the buffer is reused). */
function recorded(): { output: LineBuffer; writes: Uint8Array[]; text(): string } {
  const writes: Uint8Array[] = [];
  const output = new LineBuffer((bytes) => writes.push(bytes.slice()));
  const text = () => writes.map((bytes) => new TextDecoder().decode(bytes)).join("");
  return { output, writes, text };
}

/**
 * A LineBuffer whose writes fail with a closed pipe while `failing.on` is set, and the
 * text of the writes that succeeded.
 */
function failable(): { output: LineBuffer; writes: string[]; failing: { on: boolean } } {
  const failing = { on: false };
  const writes: string[] = [];
  const output = new LineBuffer((bytes) => {
    if (failing.on) throw new StdoutError(new Deno.errors.BrokenPipe("reader gone"));
    writes.push(new TextDecoder().decode(bytes));
  });
  return { output, writes, failing };
}

Deno.test("LineBuffer writes nothing until flushed, then every line in order with its newline, once", () => {
  const { output, writes, text } = recorded();
  output.writeLine("GET person1");
  output.writeLine("é 😀 \u0000");
  output.writeLine("");
  assert.equal(writes.length, 0);
  output.flush();
  assert.equal(writes.length, 1);
  assert.equal(text(), "GET person1\né 😀 \u0000\n\n");
  output.flush();
  assert.equal(writes.length, 1);
});

Deno.test("LineBuffer writes on its own once LINE_BUFFER_BYTES are held, losing and reordering nothing", () => {
  const { output, writes, text } = recorded();
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${"é".repeat(i % 50)}`);
  for (const line of lines) output.writeLine(line);
  assert.ok(writes.length >= 2, `${writes.length} writes`);
  for (const bytes of writes) assert.ok(bytes.length <= LINE_BUFFER_BYTES + 1024);
  output.flush();
  assert.equal(text(), lines.map((line) => `${line}\n`).join(""));
});

Deno.test("LineBuffer takes a line larger than its buffer whole, after what it held", () => {
  const { output, text } = recorded();
  const huge = "x".repeat(LINE_BUFFER_BYTES * 3);
  output.writeLine("before");
  output.writeLine(huge);
  output.writeLineBytes(new TextEncoder().encode(huge));
  output.writeLine("after");
  output.flush();
  assert.equal(text(), `before\n${huge}\n${huge}\nafter\n`);
});

Deno.test("LineBuffer.flushSoon writes on a later turn; its failure is thrown by the next call", async () => {
  const { output, writes, failing } = failable();
  output.writeLine("one");
  output.flushSoon();
  await nextTurn();
  assert.deepEqual(writes, ["one\n"]);
  failing.on = true;
  output.writeLine("two");
  output.flushSoon();
  await nextTurn();
  assert.throws(() => output.writeLine("three"), (error) => error instanceof StdoutError);
});

/** The bytes of `writes` end to end. */
function joined(writes: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(writes.reduce((total, bytes) => total + bytes.length, 0));
  let at = 0;
  for (const bytes of writes) {
    all.set(bytes, at);
    at += bytes.length;
  }
  return all;
}

Deno.test("LineBuffer keeps a character of 2, 3 or 4 bytes whole where it meets the buffer's end", () => {
  // A lone surrogate is written as the 3 bytes of U+FFFD, as TextEncoder writes it.
  for (const char of ["é", "€", "😀", "\ud800"]) {
    for (let free = 0; free <= 8; free++) {
      const { output, writes } = recorded();
      const lines = ["x".repeat(LINE_BUFFER_BYTES - 1 - free), char.repeat(3), "y"];
      for (const line of lines) output.writeLine(line);
      output.flush();
      for (const bytes of writes) assert.ok(bytes.length <= LINE_BUFFER_BYTES, `${bytes.length}`);
      const expected = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(""));
      assert.deepEqual(joined(writes), expected, `${JSON.stringify(char)} with ${free} free`);
    }
  }
});

Deno.test("LineBuffer fills its buffer with long lines that fit: no write and no growth per line", () => {
  for (const line of ["x".repeat(30_000), "é".repeat(15_000)]) {
    const { output, writes } = recorded();
    for (let i = 0; i < 10; i++) output.writeLine(line); // 30,001 bytes each
    output.flush();
    // Two lines a write: 60,002 bytes, which a third would take past LINE_BUFFER_BYTES.
    assert.deepEqual(writes.map((bytes) => bytes.length), Array(5).fill(60_002));
  }
});

Deno.test("LineBuffer writes exactly the lines' UTF-8, in order, whatever mix of lines (text or bytes), flushes and turns", async () => {
  const unit = fc.constantFrom("a", "é", "€", "😀", "\ud800", "\udc00", "\n");
  const line = fc.oneof(
    fc.string({ unit, maxLength: 20 }),
    fc.tuple(unit, fc.integer({ min: 0, max: LINE_BUFFER_BYTES })).map(([u, n]) => u.repeat(n)),
  );
  const step = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(line, fc.boolean()).map(([text, asBytes]) => ({ text, asBytes })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("flush", "flushSoon", "turn").map((call) => ({ call })),
    },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
      const { output, writes } = recorded();
      const lines: string[] = [];
      for (const step of steps) {
        if ("text" in step) {
          if (step.asBytes) output.writeLineBytes(new TextEncoder().encode(step.text));
          else output.writeLine(step.text);
          lines.push(`${step.text}\n`);
        } else if (step.call === "flush") output.flush();
        else if (step.call === "flushSoon") output.flushSoon();
        else await nextTurn();
      }
      output.flush();
      assert.deepEqual(joined(writes), new TextEncoder().encode(lines.join("")));
    }),
    { numRuns: 100 },
  );
});

Deno.test("LineBuffer after a failed write loses only what that write held; flushSoon then flush writes once", async () => {
  const { output, writes, failing } = failable();
  failing.on = true;
  output.writeLine("lost");
  assert.throws(() => output.flush(), StdoutError);
  failing.on = false;
  output.writeLine("kept");
  output.flushSoon();
  output.flush();
  await nextTurn(); // after flushSoon's timer, had flush not cleared it
  assert.deepEqual(writes, ["kept\n"]);
});
