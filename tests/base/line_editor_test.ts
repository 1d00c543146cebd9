import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type EditResult,
  entryPosition,
  joinEntry,
  LineEditor,
  type LineEditorOptions,
  MAX_SKIPPED_LINES,
  MORE_CANDIDATES,
  type OverLongEntry,
} from "../../lib/base/line_editor.ts";
import { nextTurn, waitFor } from "../helpers/wait.ts";
import { textColumns } from "../../lib/base/columns.ts";

/** An ANSI escape sequence (the ESC is built from its code, since lint forbids it in a regex). */
const ESCAPE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*[A-Za-z]`, "g");

/** A terminal that delivers `chunks` one read at a time, then ends; what is drawn is kept. */
function fakeTerminal(chunks: readonly (string | Uint8Array)[]) {
  const encoder = new TextEncoder();
  const queue = chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk);
  const drawn: string[] = [];
  const rawModes: boolean[] = [];
  const input = {
    read(buffer: Uint8Array): Promise<number | null> {
      const chunk = queue.shift();
      if (chunk === undefined) return Promise.resolve(null);
      assert(chunk.length <= buffer.length);
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
    setRaw(mode: boolean) {
      rawModes.push(mode);
    },
  };
  const output = {
    writeSync(bytes: Uint8Array): number {
      drawn.push(new TextDecoder().decode(bytes));
      return bytes.length;
    },
  };
  return { input, output, drawn, rawModes };
}

/** A LineEditor on `terminal` (see fakeTerminal), 40 columns wide, with `options` over that. */
function editorOn(
  terminal: ReturnType<typeof fakeTerminal>,
  options: Partial<LineEditorOptions> = {},
): LineEditor {
  return new LineEditor({
    prompt: "> ",
    input: terminal.input,
    output: terminal.output,
    columns: () => 40,
    ...options,
  });
}

/**
 * Options for an editor whose entries go on, under `... `, while they leave more `{` open
 * than closed: the tests' stand-in for the REPL's check (lib/broker/repl.ts RecordLines).
 * Each makes its own count.
 */
function continuing(): Partial<LineEditorOptions> {
  let open = 0;
  const continues = (line: string, index: number) => {
    if (index === 0) open = 0;
    open += line.split("{").length - line.split("}").length;
    return open > 0;
  };
  return { continues, continuationPrompt: "... " };
}

async function readAll(
  chunks: readonly (string | Uint8Array)[],
  options: Partial<LineEditorOptions> = {},
): Promise<EditResult[]> {
  const terminal = fakeTerminal(chunks);
  const editor = editorOn(terminal, options);
  const results: EditResult[] = [];
  for (;;) {
    const result = await editor.readLine();
    results.push(result);
    if (result.kind === "eof" || result.kind === "interrupt") break;
  }
  editor.close();
  assert.deepEqual(terminal.rawModes, [true, false]);
  return results;
}

Deno.test("LineEditor reads the same lines however the input is split into chunks", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ unit: "grapheme-ascii", maxLength: 30 }), { maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      async (lines, cuts) => {
        const printable = lines.map((line) => line.replace(/[\t\x7f]/g, "x"));
        const text = printable.map((line) => `${line}\r`).join("");
        const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) =>
          a - b
        );
        const chunks = [0, ...points].map((start, i) =>
          text.slice(start, [...points, text.length][i])
        )
          .filter((chunk) => chunk !== "");
        const results = await readAll(chunks);
        assert.deepEqual(results, [
          ...printable.map((line) => ({ kind: "line", text: line })),
          { kind: "eof" },
        ]);
      },
    ),
  );
});

Deno.test("LineEditor edits: arrows, Home/End, word and line cuts, Delete", async () => {
  const results = await readAll([
    "hello world",
    "\x1b[D",
    "\x1b[D",
    "\x7f",
    "X",
    "\r", // hello woXld
    "abc def",
    "\x17",
    "\r", // abc
    "abc",
    "\x01",
    "\x1b[3~",
    "\x05",
    "!",
    "\r", // bc!
    "one two",
    "\x1b[H",
    "\x0b",
    "\r", // (empty)
    "keep",
    "\x1bb",
    "\x15",
    "\x1b[F",
    "s",
    "\r", // keeps
  ]);
  assert.deepEqual(results.map((result) => result.kind === "line" ? result.text : result.kind), [
    "hello woXld",
    "abc ",
    "bc!",
    "",
    "keeps",
    "eof",
  ]);
});

Deno.test("LineEditor: Ctrl-C clears a line or interrupts an empty one; Ctrl-D ends an empty one", async () => {
  assert.deepEqual(await readAll(["typed", "\x03", "\x03"]), [{ kind: "interrupt" }]);
  assert.deepEqual(await readAll(["ab", "\x01", "\x04", "\r", "\x04"]), [
    { kind: "line", text: "b" },
    { kind: "eof" },
  ]);
});

Deno.test("LineEditor: Ctrl-C that arrives in the same chunk as the Enter before it interrupts the command", async () => {
  const terminal = fakeTerminal(["GET a\r\x03"]);
  const editor = editorOn(terminal);
  assert.deepEqual(await editor.readLine(), { kind: "line", text: "GET a" });
  const interrupt = editor.interrupted();
  let interrupted = false;
  await Promise.race([
    interrupt.promise.then(() => interrupted = true),
    nextTurn(),
  ]);
  interrupt.cancel();
  assert.equal(interrupted, true, "the Ctrl-C typed behind Enter was not seen as an interrupt");
  // It was the command's: the next line does not start interrupted.
  assert.deepEqual(await editor.readLine(), { kind: "eof" });
  editor.close();
});

Deno.test("LineEditor history: Up and Down browse, Ctrl-R searches, lines are bounded and saved", async () => {
  const added: string[] = [];
  const results = await readAll(
    [
      "new",
      "\x1b[A",
      "\x1b[A",
      "\x1b[B",
      "\r",
      "\x12",
      "old",
      "\r",
      "\x1b[A",
      "\x1b[B",
      "\x1b[B",
      "\r",
    ],
    {
      history: ["old one", "older", "oldest"],
      historySize: 3,
      onHistoryAdd: (line) => added.push(line),
    },
  );
  assert.deepEqual(results.map((result) => result.kind === "line" ? result.text : result.kind), [
    "oldest",
    "oldest",
    "",
    "eof",
  ]);
  assert.deepEqual(added, []);
  const saved: string[] = [];
  await readAll(["a\r", "a\r", " \r", "b\r"], { onHistoryAdd: (line) => saved.push(line) });
  assert.deepEqual(saved, ["a", "b"], "blank lines and repeats are not kept");
});

Deno.test("LineEditor completes one candidate, a common prefix, or lists several", async () => {
  const complete = (before: string) => {
    const start = before.lastIndexOf(" ") + 1;
    const words = ["person1", "person2", "pet"].filter((w) => w.startsWith(before.slice(start)));
    return Promise.resolve({ start, candidates: words });
  };
  const terminal = fakeTerminal(["GET pe", "\t", "r", "\t", "\t", "1", "\r", "GET pet\tx\r"]);
  const editor = editorOn(terminal, { complete });
  assert.deepEqual(await editor.readLine(), { kind: "line", text: "GET person1" });
  // A Tab inside a chunk of several keys is a paste, not a completion.
  assert.deepEqual(await editor.readLine(), { kind: "line", text: "GET pet x" });
  editor.close();
  assert(terminal.drawn.join("").includes("person1  person2"), "the candidates are listed");
});

Deno.test("LineEditor lists completions that are not all there are and inserts none, not even their common start", async () => {
  // The first candidates share user_10; others (user_2000) may not.
  const complete = () =>
    Promise.resolve({ start: 4, candidates: ["user_1000", "user_1001"], more: true });
  const terminal = fakeTerminal(["GET user_", "\t", "\r"]);
  const editor = editorOn(terminal, { complete });
  assert.deepEqual(await editor.readLine(), { kind: "line", text: "GET user_" });
  editor.close();
  assert(
    terminal.drawn.join("").includes(`user_1000  user_1001\r\n${MORE_CANDIDATES}\r\n`),
    "the candidates are listed, then the line saying there are more",
  );
});

Deno.test("LineEditor draws a long line scrolled to the cursor, never wider than the screen", async () => {
  const terminal = fakeTerminal(["x".repeat(100) + "END"]);
  const editor = editorOn(terminal);
  await editor.readLine();
  editor.close();
  const last = terminal.drawn.at(-2)!;
  const visible = last.replaceAll(ESCAPE, "").replace(/\r/g, "");
  assert(visible.endsWith("END"), visible);
  assert(visible.length < 40, `${visible.length} columns`);
});

/** The move right that ends a draw, the cursor's column its number. */
const CURSOR_RIGHT = new RegExp(`${String.fromCharCode(0x1b)}\\[(\\d+)C$`);

Deno.test("LineEditor counts a wide character (CJK, emoji) as two columns: the cursor lands after it, a long line never wraps", async () => {
  const draw = async (keys: string) => {
    const terminal = fakeTerminal([keys]);
    const editor = editorOn(terminal);
    await editor.readLine();
    editor.close();
    // Each draw ends by moving the cursor right from the line's start: to its column.
    const line = terminal.drawn.findLast((drawn) => CURSOR_RIGHT.test(drawn))!;
    const column = Number(CURSOR_RIGHT.exec(line)![1]);
    return { column, visible: line.replaceAll(ESCAPE, "").replace(/\r/g, "") };
  };
  // Typed, Left twice, x: "> GET 你好x世界" with the cursor after x, 2 + 4 + 4 + 1 columns in.
  assert.equal((await draw("GET 你好世界\x1b[D\x1b[Dx")).column, 11);
  // 100 columns of wide characters on a 40-column screen: the end shown, within the screen.
  const long = await draw("世界😀".repeat(16) + "END");
  assert(long.visible.endsWith("世界😀END"), long.visible);
  assert(textColumns(long.visible) < 40, `${textColumns(long.visible)} columns: ${long.visible}`);
  assert.equal(long.column, textColumns(long.visible));
});

Deno.test("LineEditor drops keys past maxLineLength and answers overLong at Enter, never the cut line", async () => {
  const history: string[] = [];
  const results = await readAll([
    "0123456789",
    "ab\r",
    // Ctrl-C clears an over-long line: the next one is kept.
    "0123456789xyz\x03",
    "short\r",
    "0123456789\r",
  ], { maxLineLength: 10, onHistoryAdd: (line) => history.push(line) });
  assert.deepEqual(results, [
    { kind: "overLong", limit: 10 },
    { kind: "line", text: "short" },
    { kind: "line", text: "0123456789" },
    { kind: "eof" },
  ]);
  assert.deepEqual(history, ["short", "0123456789"]);
});

Deno.test("LineEditor reads bytes that are not UTF-8 as lone surrogates, never as U+FFFD, and keeps such lines out of history", async () => {
  const bytes = (...values: number[]) => new Uint8Array(values);
  const history: string[] = [];
  const results = await readAll([
    // Latin-1 'é' (0xe9) and a stray continuation byte, then Enter.
    "PUT a: caf",
    bytes(0xe9, 0x20, 0x80, 0x0d),
    // UTF-8 'é' cut across two reads, and a 4-byte character cut in three.
    bytes(0x63, 0xc3),
    bytes(0xa9, 0xf0, 0x9f),
    bytes(0x98),
    bytes(0x80, 0x0d),
    // Backspace after an escaped byte removes it alone.
    bytes(0x78, 0xff, 0x7f, 0x0d),
    // An overlong '/' (0xc0 0xaf) and a surrogate encoded in UTF-8 (0xed 0xa0 0x80).
    bytes(0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x0d),
  ], { onHistoryAdd: (line) => history.push(line) });
  const texts = results.map((result) => result.kind === "line" ? result.text : result.kind);
  assert.deepEqual(texts, [
    "PUT a: caf\udce9 \udc80",
    "c\u00e9\u{1f600}",
    "x",
    "\udcc0\udcaf\udced\udca0\udc80",
    "eof",
  ]);
  assert.deepEqual(texts.map((text) => text.isWellFormed()), [
    false,
    true,
    true,
    false,
    true,
  ]);
  assert.deepEqual(history, ["c\u00e9\u{1f600}", "x"]);
});

Deno.test("property: UTF-8 text cut anywhere between reads, even inside a character, reads back whole", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (line, cuts) => {
        // Control characters are keys, not text: only printable characters are typed.
        // deno-lint-ignore no-control-regex
        const typed = line.replace(/[\u0000-\u001f\u007f]/g, "x");
        const bytes = new TextEncoder().encode(`${typed}\r`);
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) =>
          a - b
        );
        const chunks = [0, ...points, bytes.length].slice(0, -1)
          .map((start, i) => bytes.subarray(start, [...points, bytes.length][i]))
          .filter((chunk) => chunk.length > 0);
        assert.deepEqual(await readAll(chunks), [{ kind: "line", text: typed }, { kind: "eof" }]);
      },
    ),
  );
});

Deno.test("LineEditor takes a terminal that is gone (EIO, its window closed under nohup) as the end of input", async () => {
  const eio = () => Object.assign(new Error("Input/output error (os error 5)"), { code: "EIO" });
  let reads = 0;
  const editor = new LineEditor({
    prompt: "> ",
    input: {
      read: () => reads++ === 0 ? Promise.reject(eio()) : Promise.resolve(null),
      setRaw(mode) {
        // Deno's setRaw says it in its message only.
        if (!mode) throw new Error("EIO: I/O error");
      },
    },
    output: {
      writeSync() {
        throw eio();
      },
    },
    columns: () => 40,
  });
  assert.deepEqual(await editor.readLine(), { kind: "eof" });
  editor.close();
  // Any other failure to read is still an error.
  const broken = new LineEditor({
    prompt: "> ",
    input: { read: () => Promise.reject(new Error("boom")), setRaw() {} },
    output: { writeSync: (bytes) => bytes.length },
    columns: () => 40,
  });
  await assert.rejects(() => broken.readLine(), /boom/);
  broken.close();
});

Deno.test("LineEditor closed while a line is read leaves the line as typed, hint erased, ends it, and the read answers eof", async () => {
  const drawn: string[] = [];
  const rawModes: boolean[] = [];
  let typed = false;
  const editor = new LineEditor({
    prompt: "> ",
    input: {
      // "GET" arrives, then the terminal stays silent: only close() can end this read.
      read(buffer: Uint8Array): Promise<number | null> {
        if (typed) return new Promise(() => {});
        typed = true;
        buffer.set(new TextEncoder().encode("GET"));
        return Promise.resolve(3);
      },
      setRaw: (mode: boolean) => rawModes.push(mode),
    },
    output: {
      writeSync(bytes: Uint8Array): number {
        drawn.push(new TextDecoder().decode(bytes));
        return bytes.length;
      },
    },
    columns: () => 40,
    hint: () => " key",
  });
  const reading = editor.readLine();
  await waitFor(() => drawn.join("").includes("GET"), { what: "GET to be drawn" });
  assert.match(drawn.join("").replace(ESCAPE, ""), / key/, "the hint is drawn while typing");
  drawn.length = 0;
  editor.close();
  assert.deepEqual(await reading, { kind: "eof" });
  // Drawn once more without the hint, then a new line.
  assert.equal(drawn.join("").replace(ESCAPE, ""), "\r> GET\r\r\n");
  assert.deepEqual(rawModes, [true, false]);
});

Deno.test("LineEditor reads an entry that goes on over several lines, typed or pasted, as one line kept in history as one", async () => {
  const history: string[] = [];
  const typed = ["a {\r", '  "b": 1,\r', "\r", "\t c: 2 \r", "}\r", "next\r"];
  const pasted = [typed.join("")];
  for (const chunks of [typed, pasted]) {
    history.length = 0;
    const results = await readAll(chunks, {
      ...continuing(),
      onHistoryAdd: (line) => history.push(line),
    });
    // Joined by one space, the blanks around each break dropped, the blank line adding none;
    // the lines as typed come too (a Tab in a chunk of several keys is a space, as ever).
    assert.deepEqual(results, [
      {
        kind: "line",
        text: 'a { "b": 1, c: 2 }',
        lines: ["a {", '  "b": 1,', "", "  c: 2 ", "}"],
      },
      { kind: "line", text: "next" },
      { kind: "eof" },
    ]);
    assert.deepEqual(history, ['a { "b": 1, c: 2 }', "next"]);
  }
  // Each line after the first is drawn after the continuation prompt, with no command hint.
  const terminal = fakeTerminal(["a {\r", "b"]);
  const editor = editorOn(terminal, { ...continuing(), hint: () => " HINT" });
  assert.deepEqual(await editor.readLine(), { kind: "eof" });
  editor.close();
  assert.equal(terminal.drawn.at(-2)!.replaceAll(ESCAPE, ""), "\r... b\r");
  assert.match(terminal.drawn.join(""), /\r> a \{/, "the first line under the prompt");
  // Without `continues`, each line is an entry, as before.
  assert.deepEqual(await readAll(["a {\r}\r"]), [
    { kind: "line", text: "a {" },
    { kind: "line", text: "}" },
    { kind: "eof" },
  ]);
});

Deno.test("LineEditor: Ctrl-C on any line of an entry drops it whole; Ctrl-D on an empty one gives it up, kept in history to finish", async () => {
  const history: string[] = [];
  const results = await readAll([
    "a {\r",
    "b\x03", // the entry dropped, not an interrupt
    "c {\r",
    "\x03", // on an empty line that goes on: dropped too, not an interrupt
    "d\r",
    "e {\r",
    "xy",
    "\x01\x04", // Ctrl-D on a line with text deletes, as ever
    "\r",
    "\x04", // on an empty line that goes on: the entry given up
    "\x1b[A", // recalled as one line
    " }\r",
    "\x03",
  ], { ...continuing(), onHistoryAdd: (line) => history.push(line) });
  assert.deepEqual(results, [
    { kind: "line", text: "d" },
    { kind: "unfinished", text: "e { y" },
    { kind: "line", text: "e { y }" },
    { kind: "interrupt" },
  ]);
  assert.deepEqual(history, ["d", "e { y", "e { y }"]);
});

Deno.test("LineEditor refuses an entry of too many lines, or too long, lines joined, once it ends: its rest is not run", async () => {
  const history: string[] = [];
  const results = await readAll(
    [
      ...["a {", "b", "c", "x", "}"].map((line) => `${line}\r`),
      "d\r",
      // 1 + a joining space + 9 is past 10, though 9 alone is not.
      "{\r",
      "012345678\r",
      "}\r",
      "ok\r",
      "{\r",
      "0123456}\r",
      // A line past 10 alone has lost its end: the lines after it are skipped to the record's.
      "{\r",
      "0123456789x\r",
      "}\r",
    ],
    { ...continuing(), maxEntryLines: 3, maxLineLength: 10, onHistoryAdd: (l) => history.push(l) },
  );
  assert.deepEqual(results, [
    // Its third line went on: past 3 lines. The lines after it to its end are dropped.
    { kind: "tooManyLines", limit: 3 },
    { kind: "line", text: "d" },
    { kind: "overLong", limit: 10, entry: { lines: 3 } },
    { kind: "line", text: "ok" },
    { kind: "line", text: "{ 0123456}", lines: ["{", "0123456}"] },
    { kind: "overLong", limit: 10, entry: { lines: 3, overLine: 2, skippedTo: "close" } },
    { kind: "eof" },
  ]);
  assert.deepEqual(history, ["d", "ok", "{ 0123456}"], "entries not run are not kept");
  // Ctrl-D at an empty line of a refused entry answers the refusal; Ctrl-C drops it.
  assert.deepEqual(
    await readAll(["a {\r", "b\r", "c\r", "\x04", "a {\r", "b\r", "c\r", "\x03", "e\r"], {
      ...continuing(),
      maxEntryLines: 3,
    }),
    [{ kind: "tooManyLines", limit: 3 }, { kind: "line", text: "e" }, { kind: "eof" }],
  );
});

Deno.test("LineEditor skips the lines after a line over the limit inside an entry as the rest of its record: to the line that closes it, a blank line, MAX_SKIPPED_LINES or Ctrl-D, never running them; a first line over it is answered at once", async () => {
  const overLong = (lines: number, skippedTo: OverLongEntry["skippedTo"]) => ({
    kind: "overLong",
    limit: 20,
    entry: { lines, overLine: 2, skippedTo },
  });
  const long = `"bio": "${"x".repeat(30)}",`;
  const skipped = Array.from({ length: MAX_SKIPPED_LINES + 1 }, (_, i) => `"f${i}": ${i},\r`);
  const history: string[] = [];
  const results = await readAll(
    [
      // The reviewer's case (S32 review N1): `"z": 1,` and `}` were answered as commands.
      ...["PUT a: {", long, '"z": 1,', "}", "GET a"].map((line) => `${line}\r`),
      // An object opened and closed after the long line, then the record's own `}`.
      ...["PUT b: {", long, '"c": {', '"d": 1 },', "}"].map((line) => `${line}\r`),
      // A wrong guess (the lost end closed the record): a blank line ends the skipping.
      ...["PUT c: {", `"bio": "${"x".repeat(30)}" }`, "GET c", "", "GET d"].map((l) => `${l}\r`),
      // Another line over the limit while skipping closes nothing it did not open.
      ...["PUT e: {", long, long, "}"].map((line) => `${line}\r`),
      // Skipping ends after MAX_SKIPPED_LINES lines, and the next line is a command again.
      ...["PUT f: {", long].map((line) => `${line}\r`),
      ...skipped,
      // Ctrl-D on an empty line of one skipping answers the refusal.
      ...["PUT g: {", long, "h: 1,"].map((line) => `${line}\r`),
      "\x04",
      // A first line over the limit is answered at its Enter, as ever.
      `PUT i: { ${long}\r`,
      "}\r",
    ],
    { ...continuing(), maxLineLength: 20, onHistoryAdd: (line) => history.push(line) },
  );
  const last = skipped.at(-1)!.slice(0, -1);
  assert.deepEqual(results, [
    overLong(4, "close"),
    { kind: "line", text: "GET a" },
    overLong(5, "close"),
    overLong(4, "blank"),
    { kind: "line", text: "GET d" },
    overLong(4, "close"),
    overLong(2 + MAX_SKIPPED_LINES, "limit"),
    { kind: "line", text: last },
    overLong(3, "ctrl-d"),
    { kind: "overLong", limit: 20 },
    { kind: "line", text: "}" },
    { kind: "eof" },
  ]);
  assert.deepEqual(history, ["GET a", "GET d", last, "}"], "entries refused are not kept");
});

Deno.test("entryPosition finds where a column of an entry's joined line was typed", () => {
  const lines = ["PUT p: {  ", "", '    "age" 22,', "\tnom: é }"];
  const joined = joinEntry(lines);
  assert.equal(joined, 'PUT p: { "age" 22, nom: é }');
  // Each character of the joined line is where it was typed.
  for (let column = 1; column <= [...joined].length; column++) {
    const at = entryPosition(lines, column);
    const typed = [...lines[at.line - 1]][at.column - 1] ?? " ";
    assert.equal(typed, [...joined][column - 1], `column ${column}: ${JSON.stringify(at)}`);
  }
  // The space that joins two lines is just past the first's text; the end, past the last's.
  assert.deepEqual(entryPosition(lines, 9), { line: 1, column: 9 });
  assert.deepEqual(entryPosition(lines, [...joined].length + 1), { line: 4, column: 10 });
});

Deno.test("joinEntry joins an entry's lines by one space, dropping only spaces and tabs around each", () => {
  assert.equal(joinEntry(["PUT p: {  ", '    "age": 22', "\t}\t"]), 'PUT p: { "age": 22 }');
  assert.equal(joinEntry(["PUT p: {", "  ", "", "}"]), "PUT p: { }", "blank lines add nothing");
  // A no-break space is not a record line's blank: it stays part of a bare value.
  assert.equal(joinEntry(["a: { b: x\u00a0", "}"]), "a: { b: x\u00a0 }");
});
