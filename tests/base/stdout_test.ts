import assert from "node:assert/strict";
import { LINE_BUFFER_BYTES, LineBuffer, StdoutError } from "../../lib/base/stdout.ts";

/** A LineBuffer over a recorder of every write it makes (copied: the buffer is reused). */
function recorded(): { output: LineBuffer; writes: Uint8Array[]; text(): string } {
  const writes: Uint8Array[] = [];
  const output = new LineBuffer((bytes) => writes.push(bytes.slice()));
  const text = () => writes.map((bytes) => new TextDecoder().decode(bytes)).join("");
  return { output, writes, text };
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
  output.writeLine("after");
  output.flush();
  assert.equal(text(), `before\n${huge}\nafter\n`);
});

Deno.test("LineBuffer.flushSoon writes on a later turn; its failure is thrown by the next call", async () => {
  let fail = false;
  const writes: string[] = [];
  const output = new LineBuffer((bytes) => {
    if (fail) throw new StdoutError(new Deno.errors.BrokenPipe("reader gone"));
    writes.push(new TextDecoder().decode(bytes));
  });
  output.writeLine("one");
  const flushed = Promise.withResolvers<void>();
  output.flushSoon();
  setTimeout(flushed.resolve, 0); // queued after flushSoon's own timer, so it runs after it
  await flushed.promise;
  assert.deepEqual(writes, ["one\n"]);
  fail = true;
  output.writeLine("two");
  output.flushSoon();
  const failed = Promise.withResolvers<void>();
  setTimeout(failed.resolve, 0);
  await failed.promise;
  assert.throws(() => output.writeLine("three"), (error) => error instanceof StdoutError);
});
