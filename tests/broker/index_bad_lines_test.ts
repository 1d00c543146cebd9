/**
 * A record file with odd bytes, indexed: record lines of every dialect mutated with NUL, CR,
 * escape sequences, byte order marks, bytes that are not UTF-8, lines cut short, indented
 * continuations and nesting past the limit. Indexing must never throw; each skipped line is
 * reported on one line of its own at `file:line:col`, hidden characters escaped; and a
 * record stored before, under a key no line names, is untouched.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { indexLines } from "../../lib/broker/indexer.ts";
import { oneLine } from "../../lib/record/key.ts";
import { str } from "../../lib/record/value.ts";
import { withFakeBroker } from "../helpers/fake_cluster.ts";

const SILENT_PROGRESS = { update() {}, finish() {} };
const RUNS = 150;

const LINES = [
  `f1: {"name": "Mary", "age": 22}`,
  `"f2" : { "a" : { "b" : 1.5 } }`,
  `'f3': {'x': 'y'}`,
  `f4 = {"n": -7}`,
  `f5: "text"`,
  `f6: {`,
  `  "inner": 1`,
  `}`,
  `f7: {"a": 1, "a": 2}`,
  `f8: {"\u001b": 1, "\u001b": 2}`,
  `f9: {"a.b": 1}`,
  `f10: ${"{a: ".repeat(70)}1${"}".repeat(70)}`,
  `f11: 99999999999999999999`,
  `f12: 1e999`,
  `"f\u0000": 1`,
  `f13: "\u2028"`,
  `"f\u001b[2J": {"\u200b": 1}`,
  ``,
  `# not a comment in kv's dialects`,
];

/** A line's bytes with one of the odd things a file may hold put at `at`. */
const oddLineArbitrary: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.constantFrom(...LINES),
  fc.nat(),
  fc.constantFrom<number[]>(
    [],
    [0x00],
    [0x0d],
    [0x1b, 0x5b, 0x32, 0x4a],
    [0xef, 0xbb, 0xbf],
    [0xff],
    [0xc3],
    [0xed, 0xa0, 0x80],
    [0x09],
    [0x20, 0x20],
    [0x7b],
    [0x22],
  ),
  fc.boolean(),
).map(([line, at, odd, cut]) => {
  const bytes = new TextEncoder().encode(line);
  const where = bytes.length === 0 ? 0 : at % (bytes.length + 1);
  const mutated = Uint8Array.of(...bytes.subarray(0, where), ...odd, ...bytes.subarray(where));
  return cut ? mutated.subarray(0, Math.max(0, mutated.length - (at % 5))) : mutated;
});

Deno.test("a record file with odd bytes indexes without throwing, each skipped line one line at file:line:col, a record stored before untouched", async () => {
  await withFakeBroker(2, 2, async ({ broker }) => {
    await broker.put("kept", str("as it was"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(oddLineArbitrary, { minLength: 1, maxLength: 12 }),
        fc.constantFrom("\n", "\r\n"),
        async (lines, newline) => {
          const end = new TextEncoder().encode(newline);
          const file = Uint8Array.of(...lines.flatMap((line) => [...line, ...end]));
          const reports: string[] = [];
          const summary = await indexLines(broker, ReadableStream.from([file]), {
            fileName: "data.txt",
            report: (line) => reports.push(line),
            progress: SILENT_PROGRESS,
          });
          assert.ok(summary.indexedCount + summary.skippedCount <= lines.length);
          // A record over several lines is one report for all of them.
          assert.ok(reports.length <= summary.skippedCount);
          for (const report of reports) {
            const position = /^data\.txt:(\d+):(\d+): .*; line skipped/.exec(report);
            assert.ok(position, `no file:line:col: ${report}`);
            assert.ok(Number(position[1]) <= lines.length, report);
            assert.equal(
              report,
              oneLine(report),
              "a report is one line, hidden characters escaped",
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
    const kept = await broker.get("kept");
    assert.ok(kept.kind === "found", kept.kind);
    assert.deepEqual(kept.value, str("as it was"));
  });
});
