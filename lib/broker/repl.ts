/**
 * The broker's query loop. From a pipe or a file ({@link runSession}) it reads
 * lines until EOF or EXIT and prints one answer per command, in input order,
 * with no prompt. On a terminal ({@link runInteractive}) it is a REPL on
 * {@link LineEditor}: a prompt, line editing, history and Ctrl-R search, Tab
 * completion of command words, keys, field names and meta commands, argument
 * hints, Ctrl-C to cancel the command running, and a `PUT` whose record is left open
 * read on over the lines that close it (a pretty-printed record typed or pasted).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { runSession } from "./repl.ts";
 * import { readLineBatches } from "../base/line_reader.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * await runSession(broker, readLineBatches(Deno.stdin.readable), { json: true });
 * ```
 * @module
 */
import type { Broker } from "./broker.ts";
import {
  type Answer,
  type Command,
  COMMAND_WORDS,
  CommandError,
  endsSession,
  errorAnswer,
  formatAnswer,
  formatAnswerJson,
  type FormatOptions,
  keyArgument,
  parseCommand,
  parseGetLine,
  putEndsInsideRecord,
  runCommand,
} from "./commands.ts";
import { decodeRawLine, type ReadLine, type ReadRawLine } from "../base/line_reader.ts";
import { commandAccess, type PipelineOptions, runPipelined, type Step } from "./pipeline.ts";
import {
  type Completion,
  type EditResult,
  entryPosition,
  LineEditor,
  MAX_SKIPPED_LINES,
  type OverLongEntry,
  type TerminalInput,
  type TerminalOutput,
} from "../base/line_editor.ts";
import { getField, type Value } from "../record/value.ts";
import { parseKeyPath, RecordParseError } from "../record/parse.ts";
import {
  indexOfBlank,
  isBlank,
  openObjects,
  trimBlanks,
  trimBlanksStart,
} from "../record/grammar.ts";
import { LineBuffer, StdoutError, writeLine } from "../base/stdout.ts";
import { MAX_LINE_BYTES } from "../limits.ts";
import { utf8Length } from "../base/utf8.ts";
import { counted, wasOrWere } from "../base/plural.ts";
import { invariant } from "../base/invariant.ts";
import { type LogFunction, Logger } from "../base/logger.ts";

/** The REPL's prompt. */
export const PROMPT = "kv> ";

/**
 * The prompt of a line that goes on with a `PUT` whose record is still open (node's REPL
 * prompts `... ` too): as wide as {@link PROMPT}, so a pasted record's lines stay aligned.
 */
export const CONTINUATION_PROMPT = "... ";

/** Most keys offered by one tab completion. */
export const COMPLETION_KEYS_LIMIT = 50;

/**
 * How long tab completion waits for KEYS (or, for field names, a GET) before it offers the
 * answer an earlier Tab got late, or nothing (see {@link CompletionAnswers}), in ms.
 */
export const COMPLETION_TIMEOUT_MS = 300;

/**
 * How many late completion answers (the keys of one prefix, the field names of one path)
 * {@link CompletionAnswers} keeps for the next Tab: the last ones asked about.
 */
export const COMPLETION_ANSWERS_KEPT = 32;

/** The hint after a line whose Tab found its keys still being listed. */
export const COMPLETION_LATE_HINT = "  (still listing: Tab again)";

/** The prefix of a line meant for {@link SessionOptions.metaCommand}, as in `\demo stop 2`. */
export const META_COMMAND_PREFIX = "\\";

/** Options for {@link runSession} and {@link runInteractive}. */
export interface SessionOptions extends FormatOptions {
  /**
   * Answers lines that start with {@link META_COMMAND_PREFIX} (commands about
   * the session rather than the data, such as `kv demo`'s `\demo stop 2`) with
   * the text to print, or rejects with a {@link CommandError} for a line it cannot
   * run (printed as an `ERROR:` answer, a mistake); default: such lines get an
   * unknown-command error.
   */
  metaCommand?: (line: string) => Promise<string>;
}

/** Options for {@link runSession}. */
export interface PipedSessionOptions extends SessionOptions, PipelineOptions {
  /**
   * Where answers go, gathered into few large writes: written whenever the next answer
   * is not ready yet, and at the end; default: a {@link LineBuffer} over stdout.
   */
  output?: LineBuffer;
}

/**
 * Answers one input line: parses and runs it. Returns undefined for a blank
 * line or comment.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const answer = await answerLine(broker, "GET person1");
 * ```
 */
export async function answerLine(broker: Broker, line: string): Promise<Answer | undefined> {
  return await answerCommand(broker, line, errorAnswer);
}

/** Parses and runs `line`; a line that is no valid command is answered by `mistake`. */
async function answerCommand(
  broker: Broker,
  line: string,
  mistake: (error: CommandError) => Answer,
): Promise<Answer | undefined> {
  let command: Command | undefined;
  try {
    command = parseCommand(line);
  } catch (error) {
    if (error instanceof CommandError) return mistake(error);
    throw error;
  }
  return command === undefined ? undefined : await runCommand(broker, command);
}

/**
 * Answers a command typed over several lines, `lines` (a PUT whose record went on), joined
 * as `text`: as `text` is answered, but a mistake is told at the line and column it was
 * typed at (`ERROR: line 3: column 5: …`), not at a column of the joined line, which was
 * never on the screen.
 */
async function answerLines(
  broker: Broker,
  text: string,
  lines: readonly string[],
): Promise<Answer | undefined> {
  return await answerCommand(broker, text, (error) => {
    if (error.column === undefined) return errorAnswer(error);
    const typed = entryPosition(lines, error.column);
    return { ...errorAnswer(error.at(typed.column)), line: typed.line };
  });
}

/**
 * How a piped session went, counted over the answers printed: what {@link runSession}
 * resolves to, so that a script's exit code can say whether every command succeeded.
 */
export interface SessionSummary {
  /** Answers printed (a blank line or a comment has none). */
  readonly commands: number;
  /**
   * Answers to a line the user got wrong, which the same line would get again: it is
   * unreadable (too long, not UTF-8), no command, or malformed (a record that does not
   * parse, a key that is not one), or a PUT every server refused as over its frame limit.
   */
  readonly mistakes: number;
  /**
   * Answers the cluster could not give for sure: an `ERROR` (too few servers reachable) or
   * one carrying a `WARNING`. `NOT FOUND` is an answer, not a failure.
   */
  readonly failures: number;
}

/**
 * Answers every line of `lines` (in batches, as `readLineBatches` yields them, or still
 * bytes, as `readRawLineBatches` does: a plain `GET key` is then read without decoding
 * the line) until EXIT or the end of input, printing the answers in input order. Commands
 * are pipelined (`lib/broker/pipeline.ts`): up to `window` lines are read ahead
 * and run at once, and a command waits only for earlier unfinished commands it
 * could see (`PUT k` then `GET k` answers the PUT's value). An unreadable line
 * (too long, invalid UTF-8) gets an `INVALID` error answer. Resolves to how many answers
 * were printed, and how many of them were mistakes or failures ({@link SessionSummary}).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * import { readRawLineBatches } from "../base/line_reader.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const summary = await runSession(broker, readRawLineBatches(Deno.stdin.readable));
 * if (summary.mistakes + summary.failures > 0) console.error("some commands failed");
 * ```
 */
export async function runSession(
  broker: Broker,
  lines: AsyncIterable<readonly (ReadLine | ReadRawLine)[]>,
  options: PipedSessionOptions = {},
): Promise<SessionSummary> {
  const output = options.output ?? new LineBuffer();
  const tally = { commands: 0, mistakes: 0, failures: 0 };
  // The input line of each step planned and not yet printed: steps are printed in the order
  // they were planned, so the first number here is the line of the next outcome printed.
  const lineNumbers = new LineNumberQueue();
  const print = (outcome: Outcome) => {
    const numbered = atLine(outcome, lineNumbers.take());
    printOutcome(output, numbered, options);
    countOutcome(tally, numbered);
  };
  const plan = (line: ReadLine | ReadRawLine) => {
    const step = planLine(broker, line, options);
    if (step !== undefined) lineNumbers.add(line.lineNumber);
    return step;
  };
  try {
    await runPipelined(
      lines,
      plan,
      (outcome) => printed(print, outcome) && !endsWith(outcome),
      { ...options, idle: () => output.flushSoon() },
    );
    output.flush();
  } catch (error) {
    if (!(error instanceof StdoutError && error.readerGone)) throw error;
  }
  return tally;
}

/**
 * The line numbers of the steps planned and not yet printed, first in first out; taken ones
 * are dropped in bulk, so a session of millions of lines keeps only the few in flight.
 */
class LineNumberQueue {
  #numbers: number[] = [];
  #next = 0;

  add(lineNumber: number): void {
    this.#numbers.push(lineNumber);
  }

  take(): number {
    invariant(this.#next < this.#numbers.length, "every outcome printed was planned");
    const lineNumber = this.#numbers[this.#next++];
    if (this.#next >= LINE_NUMBERS_KEPT) {
      this.#numbers = this.#numbers.slice(this.#next);
      this.#next = 0;
    }
    return lineNumber;
  }
}

/** How many taken line numbers {@link LineNumberQueue} keeps before it drops them. */
const LINE_NUMBERS_KEPT = 1024;

/**
 * `outcome` with its input line, `lineNumber`, when it is an error (a mistake or the
 * cluster's): the line a script's author looks for.
 */
function atLine(outcome: Outcome, lineNumber: number): Outcome {
  if ("mistake" in outcome) return { mistake: { ...outcome.mistake, line: lineNumber } as Answer };
  if ("error" in outcome) return { ...outcome, line: lineNumber };
  return outcome;
}

/** Counts `outcome`, printed, in `tally` (see {@link SessionSummary}). */
function countOutcome(
  tally: { commands: number; mistakes: number; failures: number },
  outcome: Outcome,
): void {
  tally.commands++;
  if ("mistake" in outcome || "refused" in outcome) tally.mistakes++;
  else if ("error" in outcome || ("warning" in outcome && outcome.warning !== undefined)) {
    tally.failures++;
  }
}

/** What one input line runs: a meta command, a broker command, an error, or nothing. */
function planLine(
  broker: Broker,
  input: ReadLine | ReadRawLine,
  options: SessionOptions,
): Step<Outcome> | undefined {
  let line: ReadLine;
  if ("bytes" in input) {
    const key = parseGetLine(input.bytes);
    if (key !== undefined) return commandStep(broker, { op: "GET", key });
    line = decodeRawLine(input);
  } else {
    line = input;
  }
  if (line.error !== undefined) {
    // A line is unreadable for one of two reasons: over the limit the CLI reads lines
    // with (MAX_LINE_BYTES), or not UTF-8.
    const where = line.column === undefined ? "" : `column ${line.column}: `;
    const error = `${where}${line.error}; nothing was run` +
      (line.byteLength > MAX_LINE_BYTES ? LONG_LINE_ADVICE : NOT_UTF8_ADVICE);
    const mistake = { mistake: { op: "INVALID", error } };
    return { access: { kind: "none" }, run: () => Promise.resolve(mistake) };
  }
  const trimmed = trimBlanks(line.text);
  const metaCommand = options.metaCommand;
  if (metaCommand !== undefined && trimmed.startsWith(META_COMMAND_PREFIX)) {
    return {
      access: { kind: "barrier" },
      run: () => metaCommand(trimmed).then((text) => ({ text }), metaMistake),
    };
  }
  let command: Command | undefined;
  try {
    command = parseCommand(line.text);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const mistake = { mistake: errorAnswer(error) };
    return { access: { kind: "none" }, run: () => Promise.resolve(mistake) };
  }
  return command === undefined ? undefined : commandStep(broker, command);
}

/** The answer to a meta command that refused its line with a {@link CommandError}. */
function metaMistake(error: unknown): Mistake {
  if (!(error instanceof CommandError)) throw error;
  return { mistake: errorAnswer(error) };
}

/** What to do about a line over {@link MAX_LINE_BYTES}, piped or typed. */
const LONG_LINE_ADVICE = " (a record this large is stored through the library, mod.ts)";

/** What to do about a piped line that is not UTF-8. */
const NOT_UTF8_ADVICE = ": send UTF-8 (iconv -t UTF-8 converts other encodings)";

/** The step that runs `command`. */
function commandStep(broker: Broker, command: Command): Step<Outcome> {
  return {
    access: commandAccess(command),
    run: () => runCommand(broker, command),
    last: command.op === "EXIT",
  };
}

/**
 * Runs `print(item)`; false when stdout was closed by its reader (`kv broker | head -1`):
 * nobody is listening any more, so the session ends quietly. Any other failure to write
 * is a StdoutError for the command line to report.
 */
function printed<T>(print: (item: T) => void, item: T): boolean {
  try {
    print(item);
    return true;
  } catch (error) {
    if (error instanceof StdoutError && error.readerGone) return false;
    throw error;
  }
}

/**
 * What one input line gave: a command's answer, the error answer to a line that is no
 * command, or the text a meta command printed.
 */
type Outcome = Answer | Mistake | MetaOutput;

/** The error answer to a line that is unreadable or no valid command (see {@link SessionSummary}). */
interface Mistake {
  readonly mistake: Answer;
}

/** What a meta command printed (an {@link Answer} has no `text`). */
interface MetaOutput {
  readonly text: string;
}

/** The text `outcome` prints; "" for none (a blank line, EXIT in human text). */
function outcomeText(outcome: Outcome | undefined, options: FormatOptions): string {
  if (outcome === undefined) return "";
  if ("text" in outcome) return outcome.text;
  return formatAnswer("mistake" in outcome ? outcome.mistake : outcome, options);
}

/** Whether `outcome` ends the session (see {@link endsSession}). */
function endsWith(outcome: Outcome): boolean {
  return !("text" in outcome) && !("mistake" in outcome) && endsSession(outcome);
}

/** Adds `outcome`'s lines to `output`; a JSON answer as bytes, never made a string. */
function printOutcome(output: LineBuffer, outcome: Outcome, options: FormatOptions): void {
  if (options.json && !("text" in outcome)) {
    output.writeLineBytes(
      formatAnswerJson("mistake" in outcome ? outcome.mistake : outcome, options),
    );
    return;
  }
  const text = outcomeText(outcome, options);
  if (text !== "") output.writeLine(text);
}

/**
 * Answers one line: a meta command, a broker command, or nothing for a blank line; `lines`
 * are those it was typed as, when several (see {@link answerLines}).
 */
async function respond(
  broker: Broker,
  line: string,
  options: SessionOptions,
  lines?: readonly string[],
): Promise<Outcome | undefined> {
  const trimmed = trimBlanks(line);
  if (options.metaCommand !== undefined && trimmed.startsWith(META_COMMAND_PREFIX)) {
    return await options.metaCommand(trimmed).then((text) => ({ text }), metaMistake);
  }
  return lines === undefined
    ? await answerLine(broker, line)
    : await answerLines(broker, line, lines);
}

/** Options for {@link runInteractive}. */
export interface InteractiveOptions extends SessionOptions {
  /** Writes one printed answer (without its newline); default: stdout. */
  write?: (text: string) => void;
  /** Where the prompt and the line being typed are drawn; default `Deno.stdout`. */
  terminal?: TerminalOutput;
  /** Where the keys come from; default `Deno.stdin`. */
  input?: TerminalInput;
  /** History from earlier sessions, and where new lines go; default: this session only. */
  history?: HistoryStore;
  /** Background log lines; while the REPL runs they print above the prompt. Default: none. */
  logSink?: LogSink;
  /**
   * Where the REPL's own log lines go (a command cancelled with Ctrl-C that failed later, at
   * warn): the program's logger, which puts its name, level and time on them. Default: lines
   * `kv broker warn: …` to `logSink`, else stderr.
   */
  log?: LogFunction;
  /** Meta command lines Tab completes, e.g. `\demo kill `; default none. */
  metaCompletions?: readonly string[];
  /**
   * Ends the REPL at once (kv broker aborts it on SIGTERM, or a SIGINT sent by kill): the
   * line being typed stays on the screen as typed, the cursor goes to the next line, the
   * terminal leaves raw mode, and a command running is abandoned unanswered. Default none.
   */
  signal?: AbortSignal;
}

/** Where the REPL's history lives between sessions. */
export interface HistoryStore {
  /** Lines from earlier sessions, oldest first. */
  readonly lines: readonly string[];
  /** Keeps one more line. */
  add(line: string): void;
}

/**
 * A switchable destination for background log lines (a server going down),
 * so that the REPL can print them above its prompt instead of over it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const sink = new LogSink();
 * const broker = await Broker.open(servers, { k: 2, log: (m) => sink.print(`kv broker: ${m}`) });
 * await runInteractive(broker, { logSink: sink });
 * ```
 */
export class LogSink {
  #print: (line: string) => void = (line) => console.error(line);

  /**
   * Prints one log line wherever lines go now (stderr by default).
   *
   * @example
   * ```ts
   * new LogSink().print("kv broker: 127.0.0.1:8001 is down"); // on stderr
   * ```
   */
  print(line: string): void {
    this.#print(line);
  }

  /**
   * Sends lines to `print` until the returned function is called.
   *
   * @example
   * ```ts
   * const sink = new LogSink();
   * const held: string[] = [];
   * const restore = sink.redirect((line) => held.push(line)); // e.g. while a progress bar draws
   * sink.print("kv broker: 127.0.0.1:8001 is down"); // held, not printed
   * restore(); // lines go to stderr again
   * ```
   */
  redirect(print: (line: string) => void): () => void {
    const previous = this.#print;
    this.#print = print;
    return () => this.#print = previous;
  }
}

/**
 * Follows a `PUT` typed or pasted over several lines (`jq .`'s output after `PUT key: `), for
 * the line editor's `continues` option: its first line goes on when the record
 * grammar reads it well up to its end with an object still open ({@link putEndsInsideRecord}),
 * and each line after it while the objects it opened are not all closed, counted as
 * `kv broker -i` counts the lines of a record pretty-printed in a file: `{` less `}` outside
 * quoted strings ({@link openObjects}), unless it leaves a quoted string open (no string
 * spans lines: it is answered at once, as a first line's is). Each line is counted once, so a record of many lines
 * costs time in proportion to its length; the grammar checked at every line would read the
 * whole record again each time (a 1 MB record of 1000 lines: 23 s, in process, that way).
 * A mistake inside the record is answered when it closes, by the PUT the lines make.
 *
 * @example
 * ```ts
 * const lines = new RecordLines();
 * lines.continues("PUT person1: {", 0); // true
 * lines.continues(`  "age": 22`, 1); // true
 * lines.continues("}", 2); // false: the PUT runs
 * ```
 */
export class RecordLines {
  /** Objects the entry's lines so far leave open. */
  #open = 0;

  /**
   * Whether Enter on `line`, the `index`-th of its entry (0 for the first), leaves it open.
   *
   * @example
   * ```ts
   * new RecordLines().continues("PUT person1: {", 0); // true: the object is open
   * ```
   */
  continues(line: string, index: number): boolean {
    this.#end.quote = 0;
    if (index === 0) this.#open = putEndsInsideRecord(line) ? this.#objectsOpened(line) : 0;
    else this.#open += this.#objectsOpened(line);
    // A later line that leaves a quoted string open ends the entry, to be answered at once
    // as a first line is: joined on, the string would take in the next lines, and a newline
    // typed in it would be stored as a space.
    if (this.#end.quote !== 0) this.#open = 0;
    return this.#open > 0;
  }

  #objectsOpened(line: string): number {
    return openObjects(this.#encoder.encode(line), this.#end);
  }

  readonly #encoder = new TextEncoder();
  /** The quote the line last counted ends inside, 0 for none. */
  readonly #end = { quote: 0 };
}

/** Arguments of each command, for the hint shown while typing. */
const ARGUMENT_HINTS: Readonly<Record<string, readonly string[]>> = {
  GET: ["key"],
  QUERY: ["key.field.field"],
  DELETE: ["key"],
  PUT: ["key: { field: value; … }"],
  KEYS: ["[prefix]", "[limit]", "[after]"],
  HELP: ["[command]"],
};

/**
 * The hint drawn after the line being typed: the arguments still to come, as
 * redis-cli shows them (`GET ` → `key`, `KEYS per ` → `[limit]`).
 *
 * @example
 * ```ts
 * argumentHint("get "); // "key"
 * argumentHint("KEYS person"); // " [limit] [after]"
 * ```
 */
export function argumentHint(text: string): string | undefined {
  // Words split as commands split them: on spaces and tabs, the record grammar's blanks.
  const words = trimBlanksStart(text).split(/[ \t]+/);
  const endsBlank = text.length > 0 && isBlank(text.charCodeAt(text.length - 1));
  const args = ARGUMENT_HINTS[words[0].toUpperCase()];
  if (args === undefined || words.length < 2 && !endsBlank) {
    return words.length === 1 && args !== undefined ? ` ${args.join(" ")}` : undefined;
  }
  const typed = words.slice(1).filter((word) => word !== "").length;
  if (words[0].toUpperCase() === "PUT" && typed > 0) return undefined;
  const rest = args.slice(typed);
  if (rest.length === 0) return undefined;
  return (endsBlank ? "" : " ") + rest.join(" ");
}

/** Options for {@link completeLine}. */
export interface CompleteLineOptions {
  /** Meta command lines Tab completes, e.g. `\\demo kill `; default none. */
  metaCompletions?: readonly string[];
  /**
   * Where answers from the cluster come from and late ones are kept for the next Tab;
   * default: a new {@link CompletionAnswers}, which keeps nothing past this call.
   */
  answers?: CompletionAnswers;
}

/** Options for {@link CompletionAnswers}. */
export interface CompletionAnswersOptions {
  /**
   * Waits for `work` as long as Tab may: its result, or undefined once that time is up;
   * default: at most {@link COMPLETION_TIMEOUT_MS}.
   */
  within?: (work: Promise<readonly string[]>) => Promise<readonly string[] | undefined>;
}

/**
 * What Tab completion asks the cluster (the keys of a prefix, the field names of a path),
 * each waited for at most {@link COMPLETION_TIMEOUT_MS} so that Tab never hangs. An answer
 * that comes later is kept (for the last {@link COMPLETION_ANSWERS_KEPT} questions) and
 * offered at the next Tab if that Tab's own answer is late too — a busy machine or a
 * large cluster then completes at the second Tab instead of never; a question still on
 * its way is not asked again. While it is, {@link hint} says so after the line.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * const answers = new CompletionAnswers();
 * await completeLine(broker, "GET per", { answers }); // late: { start: 4, candidates: [] }
 * answers.hint("GET per"); // "  (still listing: Tab again)"
 * await completeLine(broker, "GET per", { answers }); // the keys the first Tab asked for
 * ```
 */
export class CompletionAnswers {
  readonly #within: NonNullable<CompletionAnswersOptions["within"]>;
  /** Questions asked and not yet answered. */
  readonly #asking = new Map<string, Promise<readonly string[]>>();
  /** The last answer to each question, the least recently asked first. */
  readonly #kept = new Map<string, readonly string[]>();
  /** The text before the cursor of the last Tab that came up empty for want of time. */
  #lateLine: string | undefined;
  /** The question that Tab is waiting on. */
  #lateQuestion: string | undefined;

  /**
   * Answers with no question asked yet; a Tab waits for one as long as `options.within` allows.
   *
   * @param options how long a Tab waits (see {@link CompletionAnswersOptions}).
   */
  constructor(options: CompletionAnswersOptions = {}) {
    this.#within = options.within ?? withinTimeout;
  }

  /**
   * The answer to `question` (`ask` asks it, unless it is on its way already): within the
   * time a Tab waits, else the last one kept, else undefined. `line` is the text before the
   * cursor, for {@link hint}.
   *
   * @example
   * ```ts
   * await new CompletionAnswers().answer("GET per", "keys per", async () => ["person1"]); // ["person1"]
   * ```
   */
  async answer(
    line: string,
    question: string,
    ask: () => Promise<readonly string[]>,
  ): Promise<readonly string[] | undefined> {
    let asking = this.#asking.get(question);
    if (asking === undefined) {
      asking = ask();
      this.#asking.set(question, asking);
      asking.then((answer) => this.#keep(question, answer), () => {})
        .finally(() => this.#asking.delete(question));
    }
    const answer = await this.#within(asking) ?? this.#kept.get(question);
    [this.#lateLine, this.#lateQuestion] = answer === undefined ? [line, question] : [];
    return answer;
  }

  /**
   * {@link COMPLETION_LATE_HINT} while `text` is the line of a Tab that came up empty and
   * its question is still on its way; else undefined.
   *
   * @example
   * ```ts
   * new CompletionAnswers().hint("GET per"); // undefined: no Tab was late
   * ```
   */
  hint(text: string): string | undefined {
    const waiting = this.#lateQuestion !== undefined && this.#asking.has(this.#lateQuestion);
    return waiting && text === this.#lateLine ? COMPLETION_LATE_HINT : undefined;
  }

  #keep(question: string, answer: readonly string[]): void {
    this.#kept.delete(question);
    this.#kept.set(question, answer);
    if (this.#kept.size > COMPLETION_ANSWERS_KEPT) {
      this.#kept.delete(this.#kept.keys().next().value!);
    }
    invariant(this.#kept.size <= COMPLETION_ANSWERS_KEPT, "late answers are bounded");
  }
}

/** Commands whose first argument is a key, which Tab completes. */
const KEY_COMMANDS: readonly string[] = ["GET", "QUERY", "DELETE", "PUT", "KEYS"];

/**
 * Completes the text before the cursor: the command word, then a key (after
 * GET, QUERY, DELETE, PUT and KEYS, from KEYS with a short timeout), field
 * names after `QUERY key.`, the word after HELP, and meta commands.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * await completeLine(broker, "ge"); // { start: 0, candidates: ["get "] }
 * await completeLine(broker, "GET per"); // { start: 4, candidates: ["person1", "person2"] }
 * await completeLine(broker, "QUERY person1.a"); // { start: 14, candidates: ["age"] }
 * // Over COMPLETION_KEYS_LIMIT keys: the first ones, and more: true (Tab lists, inserts nothing).
 * await completeLine(broker, "GET user_"); // { start: 4, candidates: ["user_1000", …], more: true }
 * ```
 */
export async function completeLine(
  broker: Broker,
  before: string,
  options: CompleteLineOptions = {},
): Promise<Completion> {
  // Blanks as commands read them (spaces and tabs): another space character is part of a key,
  // so a completion after it names a key starting with it.
  const start = before.length - trimBlanksStart(before).length;
  const typed = before.slice(start);
  if (typed.startsWith(META_COMMAND_PREFIX)) {
    const candidates = (options.metaCompletions ?? []).filter((line) => line.startsWith(typed));
    return { start, candidates };
  }
  const space = indexOfBlank(typed);
  if (space === -1) {
    const lowerCase = typed !== "" && typed === typed.toLowerCase();
    const candidates = COMMAND_WORDS.filter((word) => word.startsWith(typed.toUpperCase()))
      .map((word) => (lowerCase ? word.toLowerCase() : word) + " ");
    return { start, candidates };
  }
  const word = typed.slice(0, space).toUpperCase();
  const argument = trimBlanksStart(typed.slice(space));
  const argumentStart = before.length - argument.length;
  if (word === "HELP" && indexOfBlank(argument) === -1) {
    const candidates = COMMAND_WORDS.filter((name) => name.startsWith(argument.toUpperCase()));
    return { start: argumentStart, candidates };
  }
  const none = { start: before.length, candidates: [] };
  if (!KEY_COMMANDS.includes(word)) return none;
  const answers = options.answers ?? new CompletionAnswers();
  const dot = argument.lastIndexOf(".");
  if (dot !== -1) {
    const path = word === "QUERY" ? keyPathOf(argument.slice(0, dot)) : undefined;
    const prefix = partialKey(argument.slice(dot + 1));
    if (path === undefined || prefix === undefined) return none;
    const fields = await answers.answer(
      before,
      `fields ${JSON.stringify(path)}`,
      () => fieldNames(broker, path),
    );
    return {
      start: argumentStart + dot + 1,
      candidates: (fields ?? []).filter((name) => name.startsWith(prefix)).map(keyArgument),
    };
  }
  const prefix = partialKey(argument);
  if (prefix === undefined) return none;
  // One key past those offered tells whether there are more: their common start may then
  // not be all the keys' (user_10… of user_1000 to user_1060 and user_2000), so Tab lists
  // them and inserts nothing.
  const keys = await answers.answer(
    before,
    `keys ${prefix}`,
    async () => (await broker.keys(prefix, COMPLETION_KEYS_LIMIT + 1)).keys,
  ) ?? [];
  // Quoted where a bare key would not read back (`"a:b"`, `"person 1"`): Tab never makes
  // a command that fails.
  const candidates = keys.slice(0, COMPLETION_KEYS_LIMIT).map(keyArgument);
  return keys.length > COMPLETION_KEYS_LIMIT
    ? { start: argumentStart, candidates, more: true }
    : { start: argumentStart, candidates };
}

/**
 * The start of a key being typed: bare (up to a space or `:`, where a bare key ends), or
 * quoted and not yet closed (`"a:` is `a:`); undefined when it cannot start a key.
 */
function partialKey(text: string): string | undefined {
  const quote = text[0];
  if (quote !== '"' && quote !== "'") return /[ \t:"']/.test(text) ? undefined : text;
  // Closed, the text reads as one quoted key, escapes and all.
  const path = keyPathOf(text + quote);
  return path?.length === 1 ? path[0] : undefined;
}

/** `text` read as a key path (`"a:b".c`), or undefined when it is not one. */
function keyPathOf(text: string): string[] | undefined {
  try {
    return parseKeyPath(text);
  } catch (error) {
    if (error instanceof RecordParseError) return undefined;
    throw error;
  }
}

/** The field names of the object at `path` (a key, then fields), or none. */
async function fieldNames(broker: Broker, path: readonly string[]): Promise<string[]> {
  const lookup = await broker.get(path[0]);
  if (lookup.kind !== "found") return [];
  let value: Value | undefined = lookup.value;
  for (const name of path.slice(1)) value = value && getField(value, name);
  return value?.kind === "object" ? value.fields.map(([name]) => name) : [];
}

/** `work`'s result, or undefined once {@link COMPLETION_TIMEOUT_MS} pass: Tab never hangs. */
async function withinTimeout<T>(work: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), COMPLETION_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a Ctrl-C at an empty prompt prints: the REPL leaves at a second one in a row. At the
 * first it left, so Ctrl-C pressed twice to cancel a slow command, or once just as its answer
 * came, ended the session — in `kv demo`, stopping its servers and removing their data.
 */
export const LEAVE_HINT = "(press Ctrl-C again to leave, or Ctrl-D, or type EXIT)";

/** What a command cancelled with Ctrl-C answers. */
function cancelledAnswer(line: string): Answer {
  const op = commandWord(line);
  const mayApply = op === "PUT" || op === "DELETE"
    ? `; the ${op} may still reach some replicas: check with GET`
    : "";
  return { op, error: `cancelled (Ctrl-C)${mayApply}` };
}

/**
 * The REPL's line editor on `options.terminal`, its lines kept in `options.history`: a
 * record's lines continue until it is whole, Tab completes keys and fields from the cluster,
 * and the hint says a Tab is still listing, or else the arguments the command takes next.
 */
function replEditor(broker: Broker, options: InteractiveOptions): LineEditor {
  const answers = new CompletionAnswers();
  const recordLines = new RecordLines();
  return new LineEditor({
    prompt: PROMPT,
    continuationPrompt: CONTINUATION_PROMPT,
    continues: (line, index) => recordLines.continues(line, index),
    input: options.input,
    output: options.terminal ?? Deno.stdout,
    history: options.history?.lines,
    onHistoryAdd: (line) => options.history?.add(line),
    complete: (before) => completeLine(broker, before, { ...options, answers }),
    hint: (text) => answers.hint(text) ?? argumentHint(text),
  });
}

/**
 * The interactive REPL on the terminal (see {@link LineEditor}); ends at EXIT,
 * at Ctrl-D, at a second Ctrl-C in a row on an empty line (the first prints
 * {@link LEAVE_HINT}), or when `options.signal` aborts. Ctrl-C while a command runs stops
 * waiting for it and returns to the prompt.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { Broker } from "./broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const broker = await Broker.open(servers, { k: 2 });
 * if (Deno.stdin.isTerminal()) await runInteractive(broker, { color: !Deno.noColor });
 * ```
 */
export async function runInteractive(
  broker: Broker,
  options: InteractiveOptions = {},
): Promise<void> {
  const write = options.write ?? writeLine;
  const editor = replEditor(broker, options);
  const restoreLog = options.logSink?.redirect((line) =>
    editor.printAbove(line, (text) => console.error(text))
  );
  editor.printAbove(
    `kv broker: ${counted(broker.pool.servers.length, "server")}, k=${broker.k}; ` +
      "type HELP for commands, Ctrl-C cancels, Ctrl-D leaves",
  );
  // Closing the editor ends a line being read (as eof); a command running is raced with it.
  const stopped = new Promise<"stopped">((resolve) => {
    options.signal?.addEventListener("abort", () => {
      editor.close();
      resolve("stopped");
    }, { once: true });
  });
  // Set by a Ctrl-C at an empty prompt, which leaves only when the next line is another.
  let leaving = false;
  try {
    for (;;) {
      // Checked before each line and after it: a line ended while the REPL was told to stop
      // (a Tab completion was on its way) is not run.
      if (options.signal?.aborted) break;
      const input = await editor.readLine();
      if (options.signal?.aborted || input.kind === "eof") break;
      if (input.kind === "interrupt") {
        if (leaving) break;
        leaving = true;
        // Where the prompt is drawn: with --json stdout carries answers only.
        editor.printAbove(LEAVE_HINT);
        continue;
      }
      leaving = false;
      if (input.kind !== "line") {
        if (!printed(write, outcomeText(unrunAnswer(input), options))) break;
        continue;
      }
      const outcome = typedLineRefusal(input.text, input.lines) ??
        await untilInterrupted(
          editor,
          respond(broker, input.text, options, input.lines),
          options,
          stopped,
        );
      if (outcome === "stopped") break;
      const text = outcome === "interrupted"
        ? formatAnswer(cancelledAnswer(input.text), options)
        : outcomeText(outcome, options);
      if (text !== "" && !printed(write, text)) break;
      if (outcome !== "interrupted" && outcome !== undefined && endsWith(outcome)) break;
    }
  } finally {
    restoreLog?.();
    editor.close();
  }
}

/**
 * The answer to an entry the line editor ended without a line to run: over the longest
 * line kept, over the most lines, or given up with Ctrl-D.
 */
function unrunAnswer(input: Exclude<EditResult, { kind: "line" | "eof" | "interrupt" }>): Answer {
  switch (input.kind) {
    case "overLong":
      return input.entry === undefined
        ? overLongAnswer(`over ${input.limit}`)
        : overLongEntryAnswer(input.entry, input.limit);
    case "tooManyLines":
      return {
        op: "INVALID",
        error: `the command goes on past ${input.limit} lines, the most one takes; nothing was ` +
          "run (jq -c writes a record on one line; kv broker -i indexes a file of them)",
      };
    case "unfinished":
      return {
        op: commandWord(input.text),
        error: "not run: Ctrl-D ended it with its record still open (a '{' not closed); " +
          "Up recalls it",
      };
  }
}

/** The command word of `line`, upper-cased, as an answer's `op`. */
function commandWord(line: string): string {
  const trimmed = trimBlanks(line);
  const end = indexOfBlank(trimmed);
  return (end === -1 ? trimmed : trimmed.slice(0, end)).toUpperCase();
}

/**
 * The answer refusing a line typed in the terminal that piped input would refuse too: over
 * MAX_LINE_BYTES, or not UTF-8; undefined for a line to run. `lines` are those it was typed
 * as, when several.
 */
function typedLineRefusal(text: string, lines?: readonly string[]): Answer | undefined {
  if (!text.isWellFormed()) return notUtf8Answer(text, lines);
  const byteLength = utf8Length(text);
  return byteLength > MAX_LINE_BYTES ? overLongAnswer(`${byteLength}`) : undefined;
}

/**
 * The answer to a line over MAX_LINE_BYTES typed or pasted in the terminal (`size` says
 * how many bytes, or "over N" when the line editor dropped what was past N), as piped
 * input's `INVALID` answer says.
 */
function overLongAnswer(size: string): Answer {
  return {
    op: "INVALID",
    error: `the line is ${size} bytes; the limit is ${MAX_LINE_BYTES} bytes; nothing was run` +
      LONG_LINE_ADVICE,
  };
}

/**
 * The answer to a command over several lines refused for the line limit (`limit`): its
 * lines together, or one alone, past which the lines skipped as the rest of its record are
 * counted, and what ended them (lib/base/line_editor.ts, `OverLongEntry`).
 */
function overLongEntryAnswer(entry: OverLongEntry, limit: number): Answer {
  const { lines, overLine, skippedTo } = entry;
  if (overLine === undefined) {
    return {
      op: "INVALID",
      error: `the ${lines} lines of this command are over ${limit} bytes together, the limit ` +
        `of one line; nothing was run${LONG_LINE_ADVICE}`,
    };
  }
  // Its end was lost, and with it whether it closed the record: the lines after it were
  // taken for the rest of the record, and are said once here rather than run one by one.
  const after = lines - overLine;
  const skipped = `${counted(after, "line")} after it ${wasOrWere(after)} skipped`;
  const how = skippedTo === "close"
    ? `; the ${skipped} as the rest of its record, to the line that closes it`
    : skippedTo === "blank"
    ? `; the ${skipped} as the rest of its record, to a blank line`
    : skippedTo === "limit"
    ? `; the ${skipped} as the rest of its record, the most skipped (${MAX_SKIPPED_LINES}): ` +
      "the lines after them are read as commands"
    : after === 0
    ? "; Ctrl-D ended it"
    : `; the ${skipped}, to Ctrl-D`;
  return {
    op: "INVALID",
    error: `line ${overLine} of this command over several lines is over ${limit} bytes, the ` +
      `limit of one line; nothing was run${how}${LONG_LINE_ADVICE}`,
  };
}

/**
 * The answer to a line holding bytes that are not UTF-8, which the line editor reads as
 * lone surrogates U+DC80–U+DCFF (see lib/base/line_editor.ts): the line is not run, since
 * a PUT would store U+FFFD where the user typed something else, as piped input's
 * `INVALID` answer says. The byte is told at its column, and its line of `lines` when the
 * line was typed as several (see {@link answerLines}).
 */
function notUtf8Answer(text: string, lines?: readonly string[]): Answer {
  let column = 1;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if (code >= ESCAPED_BYTE_FIRST && code <= ESCAPED_BYTE_LAST) {
      const byte = (code - ESCAPED_BYTE_FIRST + 0x80).toString(16);
      const typed = lines === undefined ? { column } : entryPosition(lines, column);
      const answer = {
        op: "INVALID",
        error: `byte 0x${byte} at column ${typed.column} is not UTF-8 (drawn as �); nothing ` +
          "was run: set the terminal's character encoding to UTF-8",
      };
      return "line" in typed ? { ...answer, line: typed.line } : answer;
    }
    column++;
  }
  return { op: "INVALID", error: "the line is not UTF-8; nothing was run" };
}

/** The lone surrogates the line editor reads bytes 0x80–0xff that are not UTF-8 as. */
const ESCAPED_BYTE_FIRST = 0xdc80;
const ESCAPED_BYTE_LAST = 0xdcff;

/**
 * `work`'s reply, "interrupted" as soon as Ctrl-C is pressed, or "stopped" once `stopped`
 * resolves (the REPL told to end); abandoned work is left to end.
 */
async function untilInterrupted(
  editor: LineEditor,
  work: Promise<Outcome | undefined>,
  options: InteractiveOptions,
  stopped: Promise<"stopped">,
): Promise<Outcome | undefined | "interrupted" | "stopped"> {
  const interrupt = editor.interrupted();
  try {
    const outcome = await Promise.race([
      work,
      interrupt.promise.then(() => "interrupted" as const),
      stopped,
    ]);
    if (outcome === "interrupted") {
      const log = options.log ?? new Logger({
        name: "kv broker",
        write: (line) =>
          options.logSink === undefined ? console.error(line) : options.logSink.print(line),
      }).print;
      work.catch((error) => log(`a cancelled command failed: ${error}`, "warn"));
    }
    // Stopped, the process is on its way out, quietly: the abandoned command's end is moot.
    if (outcome === "stopped") work.catch(() => {});
    return outcome;
  } finally {
    interrupt.cancel();
  }
}
