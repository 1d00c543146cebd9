/**
 * A one-line progress bar for long runs (`kv gen`, the broker's indexing). It draws on a
 * terminal only: when its output is not a TTY (a pipe, a file, CI), or is stderr on a dumb
 * terminal (TERM=dumb), every call is a no-op, so logs stay clean. Redraws are throttled to
 * {@link REDRAW_INTERVAL_MS}, so calling `update` often is cheap. The line fits the
 * terminal's width: a line that wrapped left its first part on the screen at every redraw,
 * as "erase the line" erases only the line the cursor is on.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const bar = new ProgressBar({ label: "indexing", total: 1000 });
 * for (let done = 1; done <= 1000; done++) bar.update(done);
 * bar.finish();
 * ```
 * @module
 */
import { isDumbTerminal, terminalColumns } from "./terminal.ts";
import { fitColumns, textColumns } from "./columns.ts";

/** Least time between two redraws, in milliseconds (at most ten per second). */
export const REDRAW_INTERVAL_MS = 100;

/** Width of the bar itself, in characters, where the terminal has room for it. */
export const BAR_WIDTH = 30;

/** The narrowest bar worth drawing: in less room the line shows the label and counts only. */
export const MIN_BAR_WIDTH = 10;

/** Where the bar is drawn: `Deno.stderr` or anything shaped like it. */
export interface ProgressOutput {
  /** Writes some of `bytes`, returning how many were written. */
  writeSync(bytes: Uint8Array): number;
  /** Whether the output is a terminal; the bar draws nothing otherwise. */
  isTerminal(): boolean;
  /** The terminal's width in columns; when absent, the line is never cut. */
  columns?(): number;
}

/** Standard error, with the terminal's width. */
const STDERR: ProgressOutput = {
  writeSync: (bytes) => Deno.stderr.writeSync(bytes),
  isTerminal: () => Deno.stderr.isTerminal(),
  columns: terminalColumns,
};

/** Options for {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Text before the bar, e.g. `"kv gen"`. */
  readonly label: string;
  /** Work to do, in the caller's units; when omitted only the count is shown. */
  readonly total?: number;
  /** Where to draw. Default `Deno.stderr`, as wide as {@link terminalColumns} says. */
  readonly output?: ProgressOutput;
  /** Clock in milliseconds. Default `performance.now`. */
  readonly now?: () => number;
}

const encoder = new TextEncoder();
/**
 * Carriage return, then "erase the whole line": the next draw starts clean. Whoever prints
 * a line while a progress bar may be drawn (`kv demo`'s log lines) starts it with this.
 *
 * @example
 * ```ts
 * if (Deno.stderr.isTerminal()) console.error(`${CLEAR_LINE}kv demo: loaded 1000 records`);
 * ```
 */
export const CLEAR_LINE = "\r\x1b[2K";

/**
 * A throttled, `\r`-redrawn progress line; a no-op when its output is not a terminal.
 *
 * @example
 * ```ts
 * let screen = "";
 * const bar = new ProgressBar({
 *   label: "kv gen",
 *   total: 4,
 *   output: {
 *     writeSync: (bytes) => (screen += new TextDecoder().decode(bytes), bytes.length),
 *     isTerminal: () => true,
 *   },
 * });
 * bar.update(1); // screen ends "kv gen [########                      ]  25% 1/4"
 * bar.finish(); // screen ends "\r\x1b[2K": the line is erased
 * ```
 */
export class ProgressBar {
  #label: string;
  #total: number | undefined;
  #output: ProgressOutput;
  #enabled: boolean;
  #now: () => number;
  #lastDrawMs = -Infinity;
  #drawn = false;

  /**
   * A bar drawn only on a terminal (on stderr, not a dumb one): elsewhere it draws nothing.
   *
   * @param options label, total and where to draw; see {@link ProgressBarOptions}.
   */
  constructor(options: ProgressBarOptions) {
    this.#label = options.label;
    this.#total = options.total;
    this.#output = options.output ?? STDERR;
    // A dumb terminal (TERM=dumb) would show the bar's redraws as text, a line of them.
    this.#enabled = this.#output.isTerminal() &&
      (options.output !== undefined || !isDumbTerminal());
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Reports that `done` units are finished; redraws unless the last redraw
   * was less than the redraw interval ago.
   *
   * @example
   * ```ts
   * const bar = new ProgressBar({ label: "copying", total: 10 });
   * bar.update(5); // "copying [###############               ]  50% 5/10"
   * ```
   */
  update(done: number): void {
    if (!this.#enabled) return;
    const nowMs = this.#now();
    if (nowMs - this.#lastDrawMs < REDRAW_INTERVAL_MS) return;
    this.#lastDrawMs = nowMs;
    this.#write(CLEAR_LINE + this.#render(done));
    this.#drawn = true;
  }

  /**
   * Erases the bar, leaving the cursor at the start of an empty line for
   * whatever is printed next.
   *
   * @example
   * ```ts
   * const bar = new ProgressBar({ label: "copying" });
   * bar.update(3);
   * bar.finish();
   * ```
   */
  finish(): void {
    if (!this.#enabled || !this.#drawn) return;
    this.#write(CLEAR_LINE);
    this.#drawn = false;
  }

  /**
   * The line for `done`, in one column less than the terminal's width (a line filling the
   * last column wraps on some terminals): the bar shrinks, then goes, then the label is
   * cut from its end; the counts, which say how far it is, stay.
   */
  #render(done: number): string {
    const room = (this.#output.columns?.() ?? Infinity) - 1;
    const total = this.#total;
    if (total === undefined || total <= 0) return this.#fit(` ${done}`, room);
    const fraction = Math.min(1, Math.max(0, done / total));
    const percent = String(Math.floor(fraction * 100)).padStart(3);
    const counts = ` ${percent}% ${done}/${total}`;
    // The label, " [", the bar, "]" and the counts.
    const barWidth = Math.min(BAR_WIDTH, room - textColumns(this.#label) - 3 - counts.length);
    if (barWidth < MIN_BAR_WIDTH) return this.#fit(counts, room);
    const filled = Math.round(fraction * barWidth);
    const bar = "#".repeat(filled) + " ".repeat(barWidth - filled);
    return `${this.#label} [${bar}]${counts}`;
  }

  /** The label, cut to leave room for `counts`, then `counts`: at most `room` columns. */
  #fit(counts: string, room: number): string {
    return fitColumns(fitColumns(this.#label, room - counts.length) + counts, room);
  }

  #write(text: string): void {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(this.#output.writeSync(bytes));
  }
}
