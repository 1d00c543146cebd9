/**
 * A {@link LineBuffer} that records the lines it writes instead of sending them to
 * stdout, for tests of what a session prints.
 *
 * @example
 * ```ts
 * const { output, lines } = recordedOutput();
 * await runSession(broker, readLines(input), { json: true, output });
 * lines; // one string per line printed, without its newline
 * ```
 * @module
 */
import { LineBuffer } from "../../lib/base/stdout.ts";

/** A LineBuffer and the lines it has written so far (each without its newline). */
export function recordedOutput(): { output: LineBuffer; lines: string[] } {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  const output = new LineBuffer((bytes) => {
    // A write holds whole lines, each ending in a newline.
    lines.push(...decoder.decode(bytes).split("\n").slice(0, -1));
  });
  return { output, lines };
}
