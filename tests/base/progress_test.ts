import assert from "node:assert/strict";
import { ProgressBar, type ProgressOutput } from "../../lib/base/progress.ts";
import { textColumns } from "../../lib/base/columns.ts";

/** A fake terminal that records what is drawn, writing at most `chunk` bytes per call. */
class FakeOutput implements ProgressOutput {
  text = "";
  #terminal: boolean;
  #chunk: number;
  #columns: number;

  constructor(terminal: boolean, chunk = Infinity, columns = 80) {
    this.#terminal = terminal;
    this.#chunk = chunk;
    this.#columns = columns;
  }

  isTerminal(): boolean {
    return this.#terminal;
  }

  columns(): number {
    return this.#columns;
  }

  writeSync(bytes: Uint8Array): number {
    const written = Math.min(bytes.length, this.#chunk);
    this.text += new TextDecoder().decode(bytes.subarray(0, written));
    return written;
  }
}

const CLEAR = "\r\x1b[2K";

Deno.test("ProgressBar draws label, bar, percent and count, redrawing with \\r", () => {
  const output = new FakeOutput(true);
  let nowMs = 0;
  const bar = new ProgressBar({ label: "kv gen", total: 200, output, now: () => nowMs });
  bar.update(50);
  nowMs = 1000;
  bar.update(200);
  bar.finish();
  const filled = "#".repeat(8) + " ".repeat(22);
  assert.equal(
    output.text,
    `${CLEAR}kv gen [${filled}]  25% 50/200` +
      `${CLEAR}kv gen [${"#".repeat(30)}] 100% 200/200${CLEAR}`,
  );
});

Deno.test("ProgressBar redraws at most once per interval", () => {
  const output = new FakeOutput(true);
  let nowMs = 0;
  const bar = new ProgressBar({ label: "x", total: 10, output, now: () => nowMs });
  for (let done = 1; done <= 10; done++) {
    nowMs += 30; // 30, 60, ..., 300 ms: a redraw at 30, 150 (≥ 130) and 270 (≥ 250).
    bar.update(done);
  }
  assert.equal(output.text.split(CLEAR).length - 1, 3);
  assert.ok(output.text.endsWith(`x [${"#".repeat(27)}   ]  90% 9/10`), output.text);
});

Deno.test("ProgressBar without a total shows the count only", () => {
  const output = new FakeOutput(true);
  const bar = new ProgressBar({ label: "indexing", output, now: () => 0 });
  bar.update(1234);
  assert.equal(output.text, `${CLEAR}indexing 1234`);
});

Deno.test("ProgressBar is silent when the output is not a terminal", () => {
  const output = new FakeOutput(false);
  const bar = new ProgressBar({ label: "x", total: 5, output, now: () => 0 });
  bar.update(3);
  bar.finish();
  assert.equal(output.text, "");
});

Deno.test("ProgressBar.finish erases only a drawn bar, and short writes are completed", () => {
  const quiet = new FakeOutput(true);
  new ProgressBar({ label: "x", output: quiet }).finish();
  assert.equal(quiet.text, "", "nothing drawn, nothing to erase");

  const slow = new FakeOutput(true, 3);
  const bar = new ProgressBar({ label: "label", total: 2, output: slow, now: () => 0 });
  bar.update(1);
  bar.finish();
  bar.finish();
  assert.equal(slow.text, `${CLEAR}label [${"#".repeat(15)}${" ".repeat(15)}]  50% 1/2${CLEAR}`);
});

Deno.test("ProgressBar fits a narrow terminal: the bar shrinks, then goes, then the label is cut; the counts stay (S35 F1)", () => {
  /** What one bar at 500 (of `total`) draws in a terminal `columns` wide. */
  const drawn = (label: string, columns: number, total: number | undefined) => {
    const output = new FakeOutput(true, Infinity, columns);
    new ProgressBar({ label, total, output, now: () => 0 }).update(500);
    assert.ok(output.text.startsWith(CLEAR));
    const line = output.text.slice(CLEAR.length);
    assert.ok(textColumns(line) < columns, `${textColumns(line)} columns of ${columns}: ${line}`);
    return line;
  };
  assert.equal(
    drawn("kv gen", 40, 1000),
    `kv gen [${"#".repeat(8)}${" ".repeat(8)}]  50% 500/1000`,
  );
  assert.equal(drawn("kv gen", 30, 1000), "kv gen  50% 500/1000");
  assert.equal(drawn("indexing /data/records.txt", 30, 1000), "indexing /data/  50% 500/1000");
  assert.equal(drawn("kv gen", 10, 1000), "  50% 500");
  assert.equal(drawn("indexing 世界", 13, undefined), "indexing 500");
  assert.equal(drawn("indexing 世界", 16, undefined), "indexing 世 500");
});
