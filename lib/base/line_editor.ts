/**
 * A line editor for a terminal, in the spirit of linenoise (what redis-cli
 * uses): the terminal in raw mode, one prompt line that scrolls sideways when
 * the text is wider than the screen, history with the arrows and Ctrl-R
 * reverse search, Tab completion, a dim hint after the text, and messages
 * printed above the prompt without losing what is being typed.
 *
 * Input is handled a chunk at a time: a run of printable characters (a paste)
 * is inserted at once and the line drawn once, so a pasted line of any length
 * costs time in proportion to its length. (A line editor that redraws, or
 * measures the whole line, on every character is quadratic in a paste.)
 *
 * Keys: Enter; Backspace, Delete, Ctrl-D (delete, or end of input on an empty
 * line); Left, Right, Ctrl-B, Ctrl-F; Home, End, Ctrl-A, Ctrl-E; Alt-B, Alt-F,
 * Ctrl-Left, Ctrl-Right (by word); Ctrl-K, Ctrl-U, Ctrl-W (cut); Up, Down,
 * Ctrl-P, Ctrl-N (history); Ctrl-R (reverse search; Ctrl-R again for older,
 * Enter runs, Ctrl-G or Ctrl-C gives up, any other key edits the match); Tab
 * (complete; a Tab inside a pasted chunk is a space); Ctrl-L (clear screen);
 * Ctrl-C (clear the line, or {@link EditResult} `interrupt` on an empty one).
 * Columns are counted as a terminal draws them (lib/base/columns.ts): a wide character
 * (CJK, emoji) takes two, a combining mark none.
 *
 * Input is UTF-8. A byte that is not part of a valid UTF-8 character (a terminal set to
 * Latin-1) is read as the lone surrogate U+DC00 + byte, as Python's `surrogateescape`
 * reads it, and drawn as U+FFFD (�): no valid UTF-8 decodes to a lone surrogate, so a
 * line holding one is known to hold such bytes (`text.isWellFormed()` is false), rather
 * than having them silently become U+FFFD. Such a line is not kept in history.
 *
 * A line is kept up to {@link LineEditorOptions.maxLineLength} UTF-16 code units: keys
 * typed or pasted past it are dropped, and Enter then answers `overLong` rather than the
 * cut line, so a paste too long to keep is never run cut short.
 *
 * An entry may go on over several lines, as node's REPL and psql read a statement left
 * open: when {@link LineEditorOptions.continues} says the line entered leaves it open,
 * Enter starts a new line under {@link LineEditorOptions.continuationPrompt}, and the
 * entry is the lines joined by one space ({@link joinEntry}), kept in history as that one
 * line. Ctrl-C on any of its lines drops the whole entry; Ctrl-D on an empty one gives it
 * up ({@link EditResult} `unfinished`). Its lines together are bounded as one line is, and
 * their number by {@link LineEditorOptions.maxEntryLines}; an entry past either is read to
 * its end all the same, its lines dropped, and then refused, so that the rest of a paste too
 * long is not run line by line as commands. A line past the longest kept on its own has lost
 * its end, and with it whether it closes its entry: a first line is refused at its Enter, and
 * a later one's entry is refused once the lines after it, skipped, close its record, reach a
 * blank line or number {@link MAX_SKIPPED_LINES} ({@link OverLongEntry}).
 *
 * @example
 * ```ts ignore
 * import { LineEditor } from "./line_editor.ts";
 * const editor = new LineEditor({ prompt: "> " });
 * for (;;) {
 *   const result = await editor.readLine();
 *   if (result.kind !== "line") break;
 *   console.log(`you typed ${result.text}`);
 * }
 * editor.close();
 * ```
 * @module
 */
import { invariant } from "./invariant.ts";
import { charColumns, textColumns } from "./columns.ts";
import { isHighSurrogate, isLowSurrogate } from "./utf8.ts";
import { terminalColumns } from "./terminal.ts";
import { MAX_LINE_BYTES } from "../limits.ts";

/** Lines of history kept unless {@link LineEditorOptions.historySize} says otherwise. */
export const DEFAULT_HISTORY_SIZE = 1_000;

/** Bytes read from the terminal at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Most lines of one entry (its first and those that go on with it) unless
 * {@link LineEditorOptions.maxEntryLines} says otherwise: a record pretty-printed one
 * field a line (`jq .`) fits; an entry of more is taken for a paste gone wrong (a data file
 * pasted after `PUT key: {`), refused rather than answered as one.
 */
export const DEFAULT_MAX_ENTRY_LINES = 1_000;

/**
 * Most lines skipped after a line past the longest kept inside an entry that goes on, while
 * they wait for its record to close ({@link OverLongEntry}): as many as an entry may have by
 * default. That line lost its end, and with it whether it closed the record; the lines after
 * it are taken for the rest of the record (the usual case: a long string value), and a wrong
 * guess — the lost end closed it — skips no more commands than this, or up to a blank line.
 */
export const MAX_SKIPPED_LINES: number = DEFAULT_MAX_ENTRY_LINES;

/** The prompt shown while searching history with Ctrl-R. */
const SEARCH_PROMPT = "reverse-i-search)";

const ESC = "\x1b";
const CTRL = {
  A: "\x01",
  B: "\x02",
  C: "\x03",
  D: "\x04",
  E: "\x05",
  F: "\x06",
  G: "\x07",
  H: "\x08",
  TAB: "\x09",
  LF: "\x0a",
  K: "\x0b",
  L: "\x0c",
  CR: "\x0d",
  N: "\x0e",
  P: "\x10",
  R: "\x12",
  U: "\x15",
  W: "\x17",
  BACKSPACE: "\x7f",
} as const;

/** What {@link LineEditor.readLine} returns. */
export type EditResult =
  /**
   * Enter on a line, or on the last line of an entry that went on over several: `text`
   * is then those `lines` joined ({@link joinEntry}); `lines` is set only then.
   */
  | { readonly kind: "line"; readonly text: string; readonly lines?: readonly string[] }
  /** Ctrl-D on an empty line, or the terminal closed. */
  | { readonly kind: "eof" }
  /** Ctrl-C on an empty line. */
  | { readonly kind: "interrupt" }
  /**
   * Enter on a line typed past `limit` ({@link LineEditorOptions.maxLineLength}), or on the
   * last line of an entry whose lines went past it together (read to its end, its lines
   * dropped): not kept whole. `entry` is set when the entry went on over several lines.
   */
  | { readonly kind: "overLong"; readonly limit: number; readonly entry?: OverLongEntry }
  /**
   * Enter on the last line of an entry of more than `limit` lines
   * ({@link LineEditorOptions.maxEntryLines}), read to its end, its lines dropped from the
   * `limit`-th: not run, not kept in history.
   */
  | { readonly kind: "tooManyLines"; readonly limit: number }
  /**
   * Ctrl-D on an empty line that goes on with an entry: `text`, the entry so far, is given
   * up rather than run, and kept in history to be recalled and finished.
   */
  | { readonly kind: "unfinished"; readonly text: string };

/**
 * An entry over several lines refused for the longest line ({@link EditResult} `overLong`):
 * its lines went past it together, or one of them alone (`overLine`). That line lost its
 * end, and with it whether it closed the entry's record: the lines after it are skipped as
 * the rest of the record, read to its end as {@link LineEditorOptions.continues} counts it
 * (that line taken for one that closes nothing it did not open), to a blank line, or
 * {@link MAX_SKIPPED_LINES} of them, whichever comes first (`skippedTo`), so that the rest of
 * a record pasted is not run line by line as commands.
 */
export interface OverLongEntry {
  /** Lines of the entry read, and dropped: its first, … and the last skipped. */
  readonly lines: number;
  /** The line (from 1) over the limit alone, when one was. */
  readonly overLine?: number;
  /**
   * With `overLine`: what ended the lines skipped after it — the line that closed the record
   * (`close`), a blank line (`blank`), {@link MAX_SKIPPED_LINES} (`limit`), or Ctrl-D on an
   * empty line (`ctrl-d`).
   */
  readonly skippedTo?: "close" | "blank" | "limit" | "ctrl-d";
}

/** Why an entry is refused: past the longest line or the most lines. */
type Refusal = { readonly kind: "overLong"; readonly limit: number } | {
  readonly kind: "tooManyLines";
  readonly limit: number;
};

/** Completions for the text before the cursor: replace `text.slice(start)` with one of `candidates`. */
export interface Completion {
  /** Where the completed word starts in the text before the cursor. */
  readonly start: number;
  /** Whole replacements for that word; one is inserted, several are listed. */
  readonly candidates: readonly string[];
  /**
   * Whether more replacements exist than `candidates`, the first of them: they are then
   * listed, followed by {@link MORE_CANDIDATES}, and none is inserted, not even their
   * common start, which the others may not share. Default false.
   */
  readonly more?: boolean;
}

/** The line after a list of completions that are not all there are ({@link Completion.more}). */
export const MORE_CANDIDATES = "… (more match: type more to narrow them)";

/** The terminal the editor reads keys from. */
export interface TerminalInput {
  /** Reads what was typed into `buffer`; the count of bytes, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Turns raw mode (keys unbuffered and unechoed, Ctrl-C a key) on or off. */
  setRaw(mode: boolean): void;
}

/** Where the editor draws. */
export interface TerminalOutput {
  /** Writes some of `bytes`; the count written. */
  writeSync(bytes: Uint8Array): number;
}

/** Options for {@link LineEditor}. */
export interface LineEditorOptions {
  /** The prompt. */
  prompt: string;
  /** Keys come from here; default `Deno.stdin`. */
  input?: TerminalInput;
  /** The prompt and line are drawn here; default `Deno.stdout`. */
  output?: TerminalOutput;
  /** History to start with, oldest first; default none. */
  history?: readonly string[];
  /** Most history lines kept; default {@link DEFAULT_HISTORY_SIZE}. */
  historySize?: number;
  /** Called with each line entered that is not blank nor a repeat of the last; default none. */
  onHistoryAdd?: (line: string) => void;
  /** Completes the text before the cursor on Tab; default: no completion. */
  complete?: (before: string) => Promise<Completion>;
  /** A hint drawn dim after the text while the cursor is at its end; default none. */
  hint?: (text: string) => string | undefined;
  /** The terminal's width; default {@link terminalColumns}. */
  columns?: () => number;
  /**
   * Longest line kept, in UTF-16 code units; default MAX_LINE_BYTES (1 MiB), the longest
   * record line: no character takes more UTF-16 code units than UTF-8 bytes, so a line
   * past it is past that many bytes too.
   */
  maxLineLength?: number;
  /**
   * Whether Enter on `line` leaves its entry open: a new line goes on with it rather than
   * the entry being answered. `index` is the line's in its entry, 0 for the first. Called at
   * each Enter, in order, so it may follow an entry line by line; it should take time in
   * proportion to `line`, not to the entry, which a paste of many lines would make
   * quadratic. Default: never, each line is an entry.
   */
  continues?: (line: string, index: number) => boolean;
  /** The prompt of the lines that go on with an entry; default `prompt`. */
  continuationPrompt?: string;
  /** Most lines of one entry; default {@link DEFAULT_MAX_ENTRY_LINES}. */
  maxEntryLines?: number;
}

/** The state of a Ctrl-R search. */
interface Search {
  query: string;
  /** Index in history of the match shown, or -1 before the first. */
  match: number;
  /** Whether the query as typed matches nothing (the last match stays shown). */
  failing: boolean;
  /** The line before the search, restored when it is given up. */
  readonly original: string;
}

/**
 * Reads lines from a terminal with editing, history, search and completion.
 * The terminal stays in raw mode from construction until {@link close}; keys
 * typed while no line is being read (a command running) wait in order, except
 * Ctrl-C, which drops them and fires {@link interrupted}.
 *
 * @example
 * ```ts
 * // A scripted terminal: one chunk of keys (a line and Enter), then the end of input.
 * const keys = [new TextEncoder().encode("GET person1\r")];
 * const editor = new LineEditor({
 *   prompt: "> ",
 *   input: {
 *     read(buffer) {
 *       const chunk = keys.shift();
 *       if (chunk === undefined) return Promise.resolve(null);
 *       buffer.set(chunk);
 *       return Promise.resolve(chunk.length);
 *     },
 *     setRaw() {},
 *   },
 *   output: { writeSync: (bytes) => bytes.length },
 * });
 * await editor.readLine(); // { kind: "line", text: "GET person1" }
 * await editor.readLine(); // { kind: "eof" }
 * editor.history; // ["GET person1"]
 * editor.close();
 * ```
 */
export class LineEditor {
  readonly #prompt: string;
  readonly #input: TerminalInput;
  readonly #output: TerminalOutput;
  readonly #history: string[];
  readonly #historySize: number;
  readonly #onHistoryAdd: ((line: string) => void) | undefined;
  readonly #complete: ((before: string) => Promise<Completion>) | undefined;
  readonly #hint: ((text: string) => string | undefined) | undefined;
  readonly #columns: () => number;
  readonly #maxLineLength: number;
  readonly #continues: ((line: string, index: number) => boolean) | undefined;
  readonly #continuationPrompt: string;
  readonly #maxEntryLines: number;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new EscapingUtf8Decoder();
  /** Keys received and not handled yet. */
  #pending = "";
  #inputClosed = false;
  /** Why reading the terminal failed, if it did (not because it is gone: that ends input). */
  #readError: unknown;
  /** Set once drawing failed because the terminal is gone. */
  #outputGone = false;
  /** Wakes {@link readLine} when keys arrive or input ends. */
  #wake: (() => void) | undefined;
  /** Set while no line is being read: Ctrl-C then fires these. */
  #interruptListeners = new Set<() => void>();
  #editing = false;
  #closed = false;
  #text = "";
  /**
   * The lines entered before this one of an entry that goes on, as typed; none on its first,
   * nor once the entry is refused ({@link #refusal}).
   */
  #entry: string[] = [];
  /** How many lines were entered before this one of its entry. */
  #entryLines = 0;
  /**
   * Why the entry being read is refused: past the longest line or the most lines. It is
   * still read to its end, its lines dropped, so that the rest of a paste too long is not
   * run as commands of its own, and then this is the answer.
   */
  #refusal: Refusal | undefined;
  /**
   * How long the lines of {@link #entry} are, as typed, with the space that joins each to
   * the next: what the longest line kept bounds (their indentation counts, so that a paste
   * of blank lines cannot take more memory than a line).
   */
  #entryLength = 0;
  /** Keys typed past the longest line kept were dropped from this line. */
  #overLong = false;
  /**
   * The line of the entry (from 1) that went past the longest line kept on its own, once one
   * did in an entry that goes on: the lines after it are being skipped ({@link OverLongEntry}).
   */
  #overLine: number | undefined;
  #cursor = 0;
  /** First column of the text shown (the line scrolls sideways). */
  #scroll = 0;
  /** Position in history while browsing with Up and Down; history.length is the draft. */
  #historyIndex = 0;
  #draft = "";
  #search: Search | undefined;

  /** Puts the terminal in raw mode and starts reading keys. */
  constructor(options: LineEditorOptions) {
    this.#prompt = options.prompt;
    this.#input = options.input ?? Deno.stdin;
    this.#output = options.output ?? Deno.stdout;
    this.#historySize = options.historySize ?? DEFAULT_HISTORY_SIZE;
    invariant(this.#historySize >= 0, "history size is not negative");
    this.#history = (options.history ?? []).slice(-this.#historySize);
    this.#onHistoryAdd = options.onHistoryAdd;
    this.#complete = options.complete;
    this.#hint = options.hint;
    this.#columns = options.columns ?? terminalColumns;
    this.#maxLineLength = options.maxLineLength ?? MAX_LINE_BYTES;
    invariant(this.#maxLineLength >= 0, "the longest line is not negative");
    this.#continues = options.continues;
    this.#continuationPrompt = options.continuationPrompt ?? this.#prompt;
    this.#maxEntryLines = options.maxEntryLines ?? DEFAULT_MAX_ENTRY_LINES;
    invariant(this.#maxEntryLines >= 1, "an entry has a line");
    this.#input.setRaw(true);
    this.#readKeys().catch((error) => {
      // A terminal that is gone (its window closed) is the end of input; any other failure
      // is reported by the readLine that is waiting, or the next one.
      if (!isTerminalGone(error)) this.#readError = error;
      this.#inputClosed = true;
      this.#wake?.();
    });
  }

  /** The history, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Shows the prompt and edits a line until Enter (`line`, or `overLong` past the longest
   * line kept), Ctrl-D on an empty
   * line or the end of input (`eof`), or Ctrl-C on an empty line (`interrupt`). An entry
   * that goes on over several lines ({@link LineEditorOptions.continues}) is read whole:
   * `line` is its lines joined, `tooManyLines` one with too many, `unfinished` one given up
   * by Ctrl-D; the end of input in its middle is `eof`, and it is not run.
   *
   * @example
   * ```ts
   * // A scripted terminal: the end of input at once.
   * const editor = new LineEditor({
   *   prompt: "> ",
   *   input: { read: () => Promise.resolve(null), setRaw() {} },
   *   output: { writeSync: (bytes) => bytes.length },
   * });
   * await editor.readLine(); // { kind: "eof" }
   * editor.close();
   * ```
   */
  async readLine(): Promise<EditResult> {
    invariant(!this.#closed && !this.#editing, "one readLine at a time, before close");
    this.#editing = true;
    this.#text = "";
    this.#dropEntry();
    this.#overLong = false;
    this.#cursor = 0;
    this.#scroll = 0;
    this.#historyIndex = this.#history.length;
    this.#search = undefined;
    this.#render();
    try {
      for (;;) {
        while (this.#pending === "" && !this.#inputClosed && !this.#closed) {
          await new Promise<void>((resolve) => this.#wake = resolve);
          this.#wake = undefined;
        }
        // Closed while reading: close() has ended the line on the screen already.
        if (this.#closed) return { kind: "eof" };
        if (this.#readError !== undefined) throw this.#readError;
        if (this.#pending === "") return this.#finish({ kind: "eof" });
        const result = await this.#handlePending();
        if (result !== undefined) return result;
      }
    } finally {
      this.#editing = false;
    }
  }

  /**
   * Resolves when Ctrl-C is pressed while no line is being read (a command is
   * running); keys typed ahead of it are dropped. `cancel` stops listening.
   *
   * @example
   * ```ts ignore
   * const editor = new LineEditor({ prompt: "> " });
   * const { promise, cancel } = editor.interrupted();
   * const stopped = await Promise.race([promise.then(() => true), runCommand().then(() => false)]);
   * cancel(); // stopped: Ctrl-C came before the command finished
   * ```
   */
  interrupted(): { promise: Promise<void>; cancel: () => void } {
    let listener!: () => void;
    const promise = new Promise<void>((resolve) => listener = resolve);
    // Ctrl-C pressed right behind Enter can arrive in the chunk that ended the line,
    // and then waits among the keys typed ahead: it is meant for the command.
    if (!this.#editing && this.#pending.includes(CTRL.C)) {
      this.#pending = "";
      listener();
      return { promise, cancel: () => {} };
    }
    this.#interruptListeners.add(listener);
    return { promise, cancel: () => this.#interruptListeners.delete(listener) };
  }

  /**
   * Prints `text` (one or more lines) above the prompt: the prompt and the
   * line being typed are drawn again below it. `write` does the printing
   * (default: to this editor's output), so a log line can still go to stderr.
   *
   * @example
   * ```ts ignore
   * const editor = new LineEditor({ prompt: "> " });
   * // A log line while the user types: printed above, the prompt and text redrawn below.
   * editor.printAbove("kv broker: 127.0.0.1:8001 is down", (line) => console.error(line));
   * ```
   */
  printAbove(text: string, write: (text: string) => void = (t) => this.#write(`${t}\n`)): void {
    if (this.#editing) this.#write("\r\x1b[K");
    write(text);
    if (this.#editing) this.#render();
  }

  /**
   * Leaves raw mode (unless the terminal is gone). Keys still arriving are ignored. Called
   * while a line is being read (the program told to stop, SIGTERM), it leaves that line on
   * the screen as typed, hint erased, with the cursor at the start of the next, and the
   * readLine answers `eof`: a shell prompt then starts on a line of its own.
   *
   * @example
   * ```ts
   * // A scripted terminal: the end of input at once.
   * const editor = new LineEditor({
   *   prompt: "> ",
   *   input: { read: () => Promise.resolve(null), setRaw() {} },
   *   output: { writeSync: (bytes) => bytes.length },
   * });
   * editor.close(); // the terminal leaves raw mode
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#editing) {
      this.#cursor = this.#text.length;
      this.#render({ hint: false });
      this.#write("\r\n");
      this.#wake?.();
    }
    try {
      this.#input.setRaw(false);
    } catch (error) {
      if (!isTerminalGone(error)) throw error;
    }
  }

  async #readKeys(): Promise<void> {
    const buffer = new Uint8Array(READ_CHUNK_BYTES);
    for (;;) {
      const count = await this.#input.read(buffer);
      if (this.#closed) return;
      if (count === null) break;
      const keys = this.#decoder.decode(buffer.subarray(0, count));
      if (!this.#editing && keys.includes(CTRL.C) && this.#interruptListeners.size > 0) {
        this.#pending = "";
        for (const listener of this.#interruptListeners) listener();
        this.#interruptListeners.clear();
        continue;
      }
      this.#pending += keys;
      this.#wake?.();
    }
    this.#inputClosed = true;
    this.#wake?.();
  }

  /** Handles every whole key pending; returns a result when one ends the line. */
  async #handlePending(): Promise<EditResult | undefined> {
    // A chunk of several keys is a paste (or keys typed ahead): a Tab in it is text.
    const pasted = this.#pending.length > 1;
    while (this.#pending !== "") {
      const printableEnd = printableRun(this.#pending);
      if (printableEnd > 0) {
        this.#type(this.#pending.slice(0, printableEnd));
        this.#pending = this.#pending.slice(printableEnd);
        continue;
      }
      const key = nextKey(this.#pending);
      if (key === undefined) break; // an escape sequence cut in two: wait for the rest
      this.#pending = this.#pending.slice(key.length);
      const result = key === CTRL.TAB && pasted
        ? (this.#type(" "), undefined)
        : await this.#key(key);
      if (result !== undefined) return result;
    }
    this.#render();
    return undefined;
  }

  #type(text: string): void {
    if (this.#search !== undefined) {
      this.#search.query += text;
      this.#searchFrom(this.#search.match === -1 ? this.#history.length - 1 : this.#search.match);
      return;
    }
    if (this.#overLong) return;
    const length = this.#text.length + text.length;
    // An entry that goes on past the longest line is refused, and read on to its end.
    if (this.#refusal === undefined && this.#entryLength + length > this.#maxLineLength) {
      if (this.#entryLines > 0 && length <= this.#maxLineLength) {
        this.#refuse({ kind: "overLong", limit: this.#maxLineLength });
      }
    }
    if ((this.#refusal === undefined ? this.#entryLength : 0) + length > this.#maxLineLength) {
      this.#overLong = true;
      return;
    }
    this.#text = this.#text.slice(0, this.#cursor) + text + this.#text.slice(this.#cursor);
    this.#cursor += text.length;
  }

  async #key(key: string): Promise<EditResult | undefined> {
    if (this.#search !== undefined) {
      const handled = this.#searchKey(key);
      if (handled !== "edit") return handled === "enter" ? this.#enter() : undefined;
    }
    switch (key) {
      case CTRL.CR:
      case CTRL.LF:
        return this.#enter();
      case CTRL.C:
        if (this.#text === "" && !this.#overLong && this.#entryLines === 0) {
          return this.#finish({ kind: "interrupt" });
        }
        // The line is dropped, and with it the whole entry it goes on with.
        this.#write(`\r\x1b[K${this.#linePrompt()}${this.#text}^C\r\n`);
        this.#startLine();
        this.#dropEntry();
        return undefined;
      case CTRL.D:
        if (this.#text === "" && !this.#overLong) {
          if (this.#entryLines === 0) return this.#finish({ kind: "eof" });
          if (this.#refusal !== undefined) {
            return this.#finish(this.#refused(this.#entryLines, "ctrl-d"));
          }
          const entry = joinEntry(this.#entry);
          this.#remember(entry);
          return this.#finish({ kind: "unfinished", text: entry });
        }
        this.#deleteRight();
        return undefined;
      case CTRL.TAB:
        // What completes a command's words would be wrong on the lines that go on with it.
        if (this.#entryLines === 0) await this.#completeWord();
        return undefined;
      case CTRL.R:
        this.#search = { query: "", match: -1, failing: false, original: this.#text };
        return undefined;
      case CTRL.L:
        this.#write("\x1b[H\x1b[2J");
        return undefined;
      default:
        this.#edit(key);
        return undefined;
    }
  }

  /** Keys that move the cursor or change the text. */
  #edit(key: string): void {
    switch (key) {
      case CTRL.BACKSPACE:
      case CTRL.H:
        if (this.#cursor > 0) {
          const start = this.#cursor - charLengthBefore(this.#text, this.#cursor);
          this.#text = this.#text.slice(0, start) + this.#text.slice(this.#cursor);
          this.#cursor = start;
        }
        break;
      case `${ESC}[3~`:
        this.#deleteRight();
        break;
      case `${ESC}[D`:
      case CTRL.B:
        this.#cursor -= charLengthBefore(this.#text, this.#cursor);
        break;
      case `${ESC}[C`:
      case CTRL.F:
        this.#cursor += charLengthAt(this.#text, this.#cursor);
        break;
      case `${ESC}[H`:
      case `${ESC}OH`:
      case `${ESC}[1~`:
      case CTRL.A:
        this.#cursor = 0;
        break;
      case `${ESC}[F`:
      case `${ESC}OF`:
      case `${ESC}[4~`:
      case CTRL.E:
        this.#cursor = this.#text.length;
        break;
      case `${ESC}b`:
      case `${ESC}[1;5D`:
        this.#cursor = wordStart(this.#text, this.#cursor);
        break;
      case `${ESC}f`:
      case `${ESC}[1;5C`:
        this.#cursor = wordEnd(this.#text, this.#cursor);
        break;
      case CTRL.K:
        this.#text = this.#text.slice(0, this.#cursor);
        break;
      case CTRL.U:
        this.#text = this.#text.slice(this.#cursor);
        this.#cursor = 0;
        break;
      case CTRL.W: {
        const start = wordStart(this.#text, this.#cursor);
        this.#text = this.#text.slice(0, start) + this.#text.slice(this.#cursor);
        this.#cursor = start;
        break;
      }
      case `${ESC}[A`:
      case CTRL.P:
        this.#browse(-1);
        break;
      case `${ESC}[B`:
      case CTRL.N:
        this.#browse(1);
        break;
        // Any other key (function keys, Escape) does nothing.
    }
  }

  #deleteRight(): void {
    const end = this.#cursor + charLengthAt(this.#text, this.#cursor);
    this.#text = this.#text.slice(0, this.#cursor) + this.#text.slice(end);
  }

  #browse(step: -1 | 1): void {
    const index = this.#historyIndex + step;
    if (index < 0 || index > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#text;
    this.#historyIndex = index;
    this.#text = index === this.#history.length ? this.#draft : this.#history[index];
    this.#cursor = this.#text.length;
  }

  /** A key during Ctrl-R search: handled there, or `edit` to end the search and edit. */
  #searchKey(key: string): "handled" | "enter" | "edit" {
    const search = this.#search!;
    switch (key) {
      case CTRL.R:
        if (search.match > 0) this.#searchFrom(search.match - 1);
        return "handled";
      case CTRL.BACKSPACE:
      case CTRL.H:
        search.query = search.query.slice(0, -1);
        this.#searchFrom(this.#history.length - 1);
        return "handled";
      case CTRL.G:
      case CTRL.C:
        this.#text = search.original;
        this.#cursor = this.#text.length;
        this.#search = undefined;
        return "handled";
      case CTRL.CR:
      case CTRL.LF:
        this.#search = undefined;
        return "enter";
      case ESC:
        this.#search = undefined;
        return "handled";
      default:
        this.#search = undefined;
        return "edit";
    }
  }

  /** Shows the newest history line at or before `from` that holds the query. */
  #searchFrom(from: number): void {
    const search = this.#search!;
    for (let index = from; index >= 0; index--) {
      const at = this.#history[index].indexOf(search.query);
      if (at !== -1) {
        search.match = index;
        search.failing = false;
        this.#text = this.#history[index];
        this.#cursor = at;
        return;
      }
    }
    search.failing = true;
  }

  async #completeWord(): Promise<void> {
    if (this.#complete === undefined) return;
    const before = this.#text.slice(0, this.#cursor);
    const { start, candidates, more = false } = await this.#complete(before);
    if (candidates.length === 0) return;
    const common = commonPrefix(candidates);
    const typed = before.slice(start);
    if (!more && (candidates.length === 1 || common.length > typed.length)) {
      const insert = candidates.length === 1 ? candidates[0] : common;
      this.#text = this.#text.slice(0, start) + insert + this.#text.slice(this.#cursor);
      this.#cursor = start + insert.length;
      return;
    }
    const list = listColumns(candidates, this.#columns()) + (more ? `\r\n${MORE_CANDIDATES}` : "");
    this.#write(`\r\x1b[K${this.#prompt}${this.#text}\r\n${list}\r\n`);
  }

  /** Enter: the entry's result, or undefined when it goes on, on a new line. */
  #enter(): EditResult | undefined {
    // A line itself past the longest kept has lost its end: whether it goes on is unknown.
    // A first line is answered at once; a later one's entry is skipped to its record's end.
    if (this.#overLong && (this.#entryLines === 0 || this.#continues === undefined)) {
      return this.#finish(this.#refusal ?? { kind: "overLong", limit: this.#maxLineLength });
    }
    const line = this.#text;
    this.#cursor = line.length;
    this.#render({ hint: false });
    this.#write("\r\n");
    if (this.#overLong || this.#overLine !== undefined) return this.#skip(line);
    if (this.#continues?.(line, this.#entryLines)) {
      if (this.#refusal === undefined && this.#entryLines + 1 >= this.#maxEntryLines) {
        this.#refuse({ kind: "tooManyLines", limit: this.#maxEntryLines });
      }
      this.#addToEntry(line);
      this.#startLine();
      return undefined;
    }
    if (this.#refusal !== undefined) return this.#refused(this.#entryLines + 1);
    if (this.#entryLines === 0) {
      this.#remember(line);
      return { kind: "line", text: line };
    }
    const lines = [...this.#entry, line];
    const entry = joinEntry(lines);
    this.#remember(entry);
    return { kind: "line", text: entry, lines };
  }

  /**
   * Enter on a line over the longest kept inside an entry that goes on, or on one of the
   * lines skipped after it ({@link OverLongEntry}): the refusal once they end, else
   * undefined, on a new line.
   */
  #skip(line: string): EditResult | undefined {
    if (this.#overLine === undefined) {
      this.#overLine = this.#entryLines + 1;
      if (this.#refusal === undefined) {
        this.#refuse({ kind: "overLong", limit: this.#maxLineLength });
      }
      this.#addToEntry(line);
      this.#startLine();
      return undefined;
    }
    // Another line past the limit closes nothing it did not open, as the first was taken to.
    const end = this.#overLong
      ? undefined
      : line.trim() === ""
      ? "blank"
      : this.#continues?.(line, this.#entryLines) !== true
      ? "close"
      : undefined;
    const skipped = this.#entryLines + 1 - this.#overLine;
    const to = end ?? (skipped >= MAX_SKIPPED_LINES ? "limit" : undefined);
    if (to !== undefined) return this.#refused(this.#entryLines + 1, to);
    this.#addToEntry(line);
    this.#startLine();
    return undefined;
  }

  /**
   * The answer to the entry refused ({@link #refusal}), read to its end after `lines` lines:
   * for one over the longest line that went on over several, what it skipped.
   */
  #refused(lines: number, skippedTo?: OverLongEntry["skippedTo"]): EditResult {
    const refusal = this.#refusal;
    invariant(refusal !== undefined, "an entry refused");
    if (refusal.kind !== "overLong" || lines < 2) return refusal;
    const overLine = this.#overLine;
    return {
      ...refusal,
      entry: overLine === undefined ? { lines } : { lines, overLine, skippedTo },
    };
  }

  /** Keeps `line`, entered, as one of the lines of an entry that goes on. */
  #addToEntry(line: string): void {
    this.#entryLines++;
    if (this.#refusal !== undefined) return;
    this.#entryLength += line.length + ENTRY_JOINER.length;
    this.#entry.push(line);
  }

  /** Refuses the entry being read (see {@link #refusal}): its lines are no longer kept. */
  #refuse(refusal: Refusal): void {
    invariant(this.#refusal === undefined, "an entry is refused once");
    this.#refusal = refusal;
    this.#entry = [];
    this.#entryLength = 0;
  }

  /** Forgets the lines of an entry, for a new one. */
  #dropEntry(): void {
    this.#entry = [];
    this.#entryLength = 0;
    this.#entryLines = 0;
    this.#refusal = undefined;
    this.#overLine = undefined;
  }

  /** Empties the line being typed, for a new one. */
  #startLine(): void {
    this.#text = "";
    this.#overLong = false;
    this.#cursor = 0;
    this.#scroll = 0;
    this.#historyIndex = this.#history.length;
  }

  /** Adds `text`, entered, to history, unless it is blank, the last line again, or not UTF-8. */
  #remember(text: string): void {
    if (text.trim() === "" || text === this.#history.at(-1) || !text.isWellFormed()) return;
    this.#history.push(text);
    if (this.#history.length > this.#historySize) this.#history.shift();
    this.#onHistoryAdd?.(text);
  }

  /** The prompt of the line being typed: the first of an entry's, or one that goes on. */
  #linePrompt(): string {
    return this.#entryLines === 0 ? this.#prompt : this.#continuationPrompt;
  }

  #finish(result: EditResult): EditResult {
    this.#write("\r\n");
    return result;
  }

  /** Draws the prompt and the visible part of the line, then puts the cursor in place. */
  #render(options: { hint?: boolean } = {}): void {
    const search = this.#search;
    const prompt = search === undefined
      ? this.#linePrompt()
      : `${search.failing ? "(failing " : "("}${SEARCH_PROMPT}'${search.query}': `;
    const promptColumns = textColumns(prompt);
    const room = Math.max(1, this.#columns() - promptColumns - 1);
    const text = this.#text;
    // In columns, not code units: a wide character (CJK, emoji) takes two.
    if (this.#cursor < this.#scroll) this.#scroll = this.#cursor;
    if (fitAfter(text, this.#scroll, room) < this.#cursor) {
      this.#scroll = fitBefore(text, this.#cursor, room);
    }
    // A view with room to spare shows as much as fits of the text before it.
    if (fitAfter(text, this.#scroll, room) === text.length) {
      this.#scroll = Math.min(this.#scroll, fitBefore(text, text.length, room));
    }
    const shown = text.slice(this.#scroll, fitAfter(text, this.#scroll, room));
    let hint = "";
    // A command's hint would be wrong on the lines that go on with it.
    if (
      options.hint !== false && search === undefined && this.#cursor === text.length &&
      this.#entryLines === 0
    ) {
      const left = room - textColumns(shown);
      const hinted = this.#hint?.(text)?.slice(0, left);
      if (hinted) hint = `\x1b[2m${hinted}\x1b[0m`;
    }
    const column = promptColumns + textColumns(text.slice(this.#scroll, this.#cursor));
    this.#write(`\r${prompt}${shown}${hint}\x1b[K\r${column > 0 ? `\x1b[${column}C` : ""}`);
  }

  #write(text: string): void {
    if (this.#outputGone) return;
    const bytes = this.#encoder.encode(text);
    let written = 0;
    try {
      while (written < bytes.length) written += this.#output.writeSync(bytes.subarray(written));
    } catch (error) {
      // Nobody sees the prompt any more: the end of input follows, as the read fails too.
      if (!isTerminalGone(error)) throw error;
      this.#outputGone = true;
    }
  }
}

/** What joins the lines of an entry (see {@link joinEntry}). */
const ENTRY_JOINER = " ";

/**
 * The lines of an entry as one line: each without the spaces and tabs around it (a
 * pretty-printed record's indentation), blank ones left out, joined by one space. In a
 * record line blanks between tokens are all alike, and a newline is not one (a control
 * character), so the entry reads as its lines did.
 *
 * @example
 * ```ts
 * joinEntry(["PUT person1: {", `  "age": 22`, "}"]); // `PUT person1: { "age": 22 }`
 * ```
 */
export function joinEntry(lines: readonly string[]): string {
  return lines.map(withoutBlanksAround).filter((line) => line !== "").join(ENTRY_JOINER);
}

/**
 * Where the character at `column` of {@link joinEntry}`(lines)` was typed: its line and the
 * column there, both from 1; columns count code points, as the record grammar's do. A
 * column just past a line's text (where the space joining it to the next stands, or the
 * end) is just past that text as typed.
 *
 * @example
 * ```ts
 * // `PUT p: { "age" 22 }`: the mistake at column 16 was typed on line 2, column 9.
 * entryPosition(["PUT p: {", `  "age" 22`, "}"], 16); // { line: 2, column: 9 }
 * ```
 */
export function entryPosition(
  lines: readonly string[],
  column: number,
): { line: number; column: number } {
  invariant(column >= 1, "columns count from 1");
  let start = 1;
  let last = { line: 1, column };
  for (let index = 0; index < lines.length; index++) {
    const text = withoutBlanksAround(lines[index]);
    if (text === "") continue;
    const indent = lines[index].search(/[^ \t]/);
    const length = [...text].length;
    last = { line: index + 1, column: indent + 1 + length };
    if (column <= start + length) return { line: index + 1, column: indent + 1 + column - start };
    start += length + ENTRY_JOINER.length;
  }
  return last;
}

/**
 * `line` without the spaces and tabs around it: a record line's blanks, not `trim()`'s
 * wider set, which would take a no-break space from the end of a bare value.
 */
function withoutBlanksAround(line: string): string {
  return line.replace(BLANKS_AROUND, "");
}

const BLANKS_AROUND = /^[ \t]+|[ \t]+$/g;

/**
 * Whether `error` says the terminal is gone (its window closed while the process ignores
 * SIGHUP, as under nohup): the system call fails with EIO.
 */
function isTerminalGone(error: unknown): boolean {
  if ((error as { code?: unknown } | undefined)?.code === "EIO") return true;
  // Deno's setRaw reports it with no code, only the text `EIO: I/O error`.
  return error instanceof Error && error.message.startsWith("EIO:");
}

/**
 * The first whole key in `keys`: one character, or an escape sequence; undefined
 * when `keys` ends inside an escape sequence.
 */
function nextKey(keys: string): string | undefined {
  if (keys[0] !== ESC) return String.fromCodePoint(keys.codePointAt(0)!);
  if (keys.length === 1) return undefined;
  if (keys[1] === "[") {
    // CSI: parameters and intermediates, then one final byte from @ to ~.
    const match = /^\[[\x20-\x3f]*[\x40-\x7e]/.exec(keys.slice(1));
    if (match !== null) return ESC + match[0];
    return /^\[[\x20-\x3f]*$/.test(keys.slice(1)) ? undefined : keys.slice(0, 2);
  }
  if (keys[1] === "O") return keys.length < 3 ? undefined : keys.slice(0, 3);
  return keys.slice(0, 2);
}

/** How many characters at the start of `keys` are text rather than control keys. */
function printableRun(keys: string): number {
  let end = 0;
  while (end < keys.length) {
    const code = keys.charCodeAt(end);
    if (code < 0x20 || code === 0x7f) break;
    end++;
  }
  return end;
}

/** Where the whole characters of `text` from `from` that fit in `room` columns end. */
function fitAfter(text: string, from: number, room: number): number {
  let at = from;
  let used = 0;
  while (at < text.length) {
    const columns = charColumns(text.codePointAt(at)!);
    if (used + columns > room) break;
    used += columns;
    at += charLengthAt(text, at);
  }
  return at;
}

/** Where the whole characters of `text` before `end` that fit in `room` columns start. */
function fitBefore(text: string, end: number, room: number): number {
  let at = end;
  let used = 0;
  while (at > 0) {
    const length = charLengthBefore(text, at);
    const columns = charColumns(text.codePointAt(at - length)!);
    if (used + columns > room) break;
    used += columns;
    at -= length;
  }
  return at;
}

/** UTF-16 units of the character before `index` (2 for a surrogate pair, 1 for a lone one). */
function charLengthBefore(text: string, index: number): number {
  if (index === 0) return 0;
  const low = text.charCodeAt(index - 1);
  const high = index >= 2 ? text.charCodeAt(index - 2) : 0;
  return isLowSurrogate(low) && isHighSurrogate(high) ? 2 : 1;
}

/**
 * UTF-8 decoding for terminal input, fed chunk by chunk: each byte that does not belong
 * to a valid character becomes the lone surrogate U+DC00 + byte (see the module doc).
 * A character cut across chunks waits for its next chunk (at the end of input, a line
 * not ended by Enter is dropped, and the bytes with it).
 */
class EscapingUtf8Decoder {
  readonly #valid = new TextDecoder("utf-8", { ignoreBOM: true });
  /** The start of a character the last chunk ended inside. */
  #carry = new Uint8Array(0);

  /** The text of `chunk`, after what the last chunk left unfinished. */
  decode(chunk: Uint8Array): string {
    let bytes = chunk;
    if (this.#carry.length > 0) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
    }
    let text = "";
    let runStart = 0;
    let at = 0;
    while (at < bytes.length) {
      if (bytes[at] < 0x80) {
        at++;
        continue;
      }
      const length = utf8SequenceLength(bytes, at);
      if (length === INCOMPLETE) break;
      if (length > 0) {
        at += length;
        continue;
      }
      text += this.#valid.decode(bytes.subarray(runStart, at)) +
        String.fromCharCode(SURROGATE_ESCAPE_BASE + bytes[at]);
      at++;
      runStart = at;
    }
    this.#carry = bytes.slice(at);
    return text + this.#valid.decode(bytes.subarray(runStart, at));
  }
}

/** A byte that is not UTF-8 becomes this plus the byte: U+DC80 to U+DCFF. */
const SURROGATE_ESCAPE_BASE = 0xdc00;

/** What {@link utf8SequenceLength} answers for a valid character cut short by the end. */
const INCOMPLETE = -1;

/**
 * The length of the valid UTF-8 character starting at `bytes[at]` (not ASCII); 0 when
 * it is not one, {@link INCOMPLETE} when `bytes` end inside what could still be one.
 * The ranges are Unicode's table 3-7 (no overlong forms, surrogates or code points past
 * U+10FFFF).
 */
function utf8SequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at];
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  for (let index = 1; index < length; index++) {
    if (at + index >= bytes.length) return INCOMPLETE;
    const byte = bytes[at + index];
    if (byte < low || byte > high) return 0;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}

/** UTF-16 units of the character at `index`. */
function charLengthAt(text: string, index: number): number {
  if (index >= text.length) return 0;
  return (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
}

function wordStart(text: string, cursor: number): number {
  let index = cursor;
  while (index > 0 && text[index - 1] === " ") index--;
  while (index > 0 && text[index - 1] !== " ") index--;
  return index;
}

function wordEnd(text: string, cursor: number): number {
  let index = cursor;
  while (index < text.length && text[index] === " ") index++;
  while (index < text.length && text[index] !== " ") index++;
  return index;
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0];
  for (const word of words) {
    while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/** Candidates in columns as wide as the longest, as many as fit the screen. */
function listColumns(words: readonly string[], columns: number): string {
  const widths = words.map(textColumns);
  const width = Math.max(...widths) + 2;
  const perRow = Math.max(1, Math.floor(columns / width));
  const padded = words.map((word, index) => word + " ".repeat(width - widths[index]));
  const rows: string[] = [];
  for (let index = 0; index < words.length; index += perRow) {
    rows.push(padded.slice(index, index + perRow).join("").trimEnd());
  }
  return rows.join("\r\n");
}
