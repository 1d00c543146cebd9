/**
 * The broker's query loop. From a pipe or a file ({@link runSession}) it reads
 * lines until EOF or EXIT and prints one answer per command, in input order,
 * with no prompt. On a terminal ({@link runInteractive}) it is a REPL with a
 * prompt, line editing, history (up and down arrows, for the session) and tab
 * completion of command words and keys.
 *
 * @example
 * ```ts
 * import { runSession } from "./repl.ts";
 * import { readLines } from "../base/line_reader.ts";
 * await runSession(broker, readLines(Deno.stdin.readable), { json: true });
 * ```
 * @module
 */
import process from "node:process";
import * as readline from "node:readline";
import type { Broker } from "./broker.ts";
import {
  type Answer,
  type Command,
  COMMAND_WORDS,
  CommandError,
  endsSession,
  errorAnswer,
  formatAnswer,
  type FormatOptions,
  parseCommand,
  runCommand,
} from "./commands.ts";
import type { ReadLine } from "../base/line_reader.ts";
import { commandAccess, type PipelineOptions, runPipelined, type Step } from "./pipeline.ts";
import { LineBuffer, StdoutError, writeLine } from "../base/stdout.ts";

/** The REPL's prompt. */
export const PROMPT = "kv> ";

/** Lines of history the REPL keeps. */
export const HISTORY_SIZE = 1_000;

/** Most keys offered by one tab completion. */
export const COMPLETION_KEYS_LIMIT = 50;

/** How long tab completion waits for KEYS before offering nothing, in ms. */
export const COMPLETION_TIMEOUT_MS = 300;

/** The prefix of a line meant for {@link SessionOptions.metaCommand}, as in `\demo stop 2`. */
export const META_COMMAND_PREFIX = "\\";

/** Options for {@link runSession} and {@link runInteractive}. */
export interface SessionOptions extends FormatOptions {
  /** Writes one printed answer (without its newline); default: stdout. */
  write?: (text: string) => void;
  /**
   * Answers lines that start with {@link META_COMMAND_PREFIX} (commands about
   * the session rather than the data, such as `kv demo`'s `\demo stop 2`) with
   * the text to print; default: such lines get an unknown-command error.
   */
  metaCommand?: (line: string) => Promise<string>;
}

/**
 * Answers one input line: parses and runs it. Returns undefined for a blank
 * line or comment.
 *
 * @example
 * ```ts
 * const answer = await answerLine(broker, "GET person1");
 * ```
 */
export async function answerLine(broker: Broker, line: string): Promise<Answer | undefined> {
  let command: Command | undefined;
  try {
    command = parseCommand(line);
  } catch (error) {
    if (error instanceof CommandError) return errorAnswer(error);
    throw error;
  }
  return command === undefined ? undefined : await runCommand(broker, command);
}

/**
 * Answers every line of `lines` until EXIT or the end of input, printing the
 * answers in input order. Commands are pipelined (`lib/broker/pipeline.ts`):
 * up to `window` lines are read ahead and run at once, and a command waits
 * only for earlier unfinished commands it could see (`PUT k` then `GET k`
 * answers the PUT's value). An unreadable line (too long, invalid UTF-8) gets
 * an `INVALID` error answer.
 *
 * @example
 * ```ts
 * await runSession(broker, readLines(Deno.stdin.readable), { json: true });
 * ```
 */
export async function runSession(
  broker: Broker,
  lines: AsyncIterable<ReadLine>,
  options: SessionOptions & PipelineOptions = {},
): Promise<void> {
  // Stdout gathers answers and writes them whenever the next one is not ready yet.
  const output = options.write === undefined ? new LineBuffer() : undefined;
  const write = options.write ?? ((text: string) => output?.writeLine(text));
  try {
    await runPipelined(
      lines,
      (line) => planLine(broker, line, options),
      (reply) => (reply.text === "" || writeAnswer(write, reply.text)) && !reply.exit,
      { ...options, idle: () => output?.flushSoon() },
    );
    output?.flush();
  } catch (error) {
    if (!(error instanceof StdoutError && error.readerGone)) throw error;
  }
}

/** What one input line runs: a meta command, a broker command, an error, or nothing. */
function planLine(
  broker: Broker,
  line: ReadLine,
  options: SessionOptions,
): Step<Reply> | undefined {
  if (line.error !== undefined) {
    const answer = { op: "INVALID", error: `input line ${line.lineNumber}: ${line.error}` };
    return { access: { kind: "none" }, run: () => Promise.resolve(replyTo(answer, options)) };
  }
  const trimmed = line.text.trim();
  const metaCommand = options.metaCommand;
  if (metaCommand !== undefined && trimmed.startsWith(META_COMMAND_PREFIX)) {
    return {
      access: { kind: "barrier" },
      run: async () => ({ text: await metaCommand(trimmed), exit: false }),
    };
  }
  let command: Command | undefined;
  try {
    command = parseCommand(line.text);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const reply = replyTo(errorAnswer(error), options);
    return { access: { kind: "none" }, run: () => Promise.resolve(reply) };
  }
  if (command === undefined) return undefined;
  const parsed = command;
  return {
    access: commandAccess(parsed),
    run: async () => replyTo(await runCommand(broker, parsed), options),
    last: parsed.op === "EXIT",
  };
}

/**
 * Writes one answer; false when stdout was closed by its reader (`kv broker | head -1`):
 * nobody is listening any more, so the session ends quietly. Any other failure to write
 * is a StdoutError for the command line to report.
 */
function writeAnswer(write: (text: string) => void, text: string): boolean {
  try {
    write(text);
    return true;
  } catch (error) {
    if (error instanceof StdoutError && error.readerGone) return false;
    throw error;
  }
}

/** What one input line printed, and whether it ended the session. */
interface Reply {
  readonly text: string;
  readonly exit: boolean;
}

function replyTo(answer: Answer, options: SessionOptions): Reply {
  return { text: formatAnswer(answer, options), exit: endsSession(answer) };
}

/** Answers one line: a meta command, a broker command, or nothing for a blank line. */
async function respond(
  broker: Broker,
  line: string,
  options: SessionOptions,
): Promise<Reply | undefined> {
  const trimmed = line.trim();
  if (options.metaCommand !== undefined && trimmed.startsWith(META_COMMAND_PREFIX)) {
    return { text: await options.metaCommand(trimmed), exit: false };
  }
  const answer = await answerLine(broker, line);
  return answer === undefined ? undefined : replyTo(answer, options);
}

/**
 * Completes the line typed so far, in readline's form `[candidates, replaced]`:
 * the command word first, then (after GET, QUERY, DELETE or PUT) keys starting
 * with what was typed, from KEYS with a short timeout.
 *
 * @example
 * ```ts
 * await completeLine(broker, "ge"); // [["get "], "ge"]
 * await completeLine(broker, "GET per"); // [["person1", "person2"], "per"]
 * ```
 */
export async function completeLine(broker: Broker, line: string): Promise<[string[], string]> {
  const typed = line.trimStart();
  const space = typed.search(/\s/);
  if (space === -1) {
    const upper = typed.toUpperCase();
    const lowerCase = typed !== "" && typed === typed.toLowerCase();
    const words = COMMAND_WORDS.filter((word) => word.startsWith(upper))
      .map((word) => (lowerCase ? word.toLowerCase() : word) + " ");
    return [words, typed];
  }
  const word = typed.slice(0, space).toUpperCase();
  const prefix = typed.slice(space).trimStart();
  if (!["GET", "QUERY", "DELETE", "PUT"].includes(word) || /[\s.:]/.test(prefix)) {
    return [[], prefix];
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), COMPLETION_TIMEOUT_MS);
  });
  try {
    const answer = await Promise.race([broker.keys(prefix, COMPLETION_KEYS_LIMIT), timeout]);
    return [answer?.keys ?? [], prefix];
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The interactive REPL on the terminal: prompt, history, completion; ends at
 * EXIT, Ctrl-D or Ctrl-C.
 *
 * @example
 * ```ts
 * if (Deno.stdin.isTerminal()) await runInteractive(broker, { color: !Deno.noColor });
 * ```
 */
export async function runInteractive(broker: Broker, options: SessionOptions = {}): Promise<void> {
  const write = options.write ?? writeLine;
  // With --json, stdout carries answers only: the prompt, the echo and the greeting go
  // to stderr, which is the terminal too.
  const terminal = options.json ? process.stderr : process.stdout;
  const session = readline.createInterface({
    input: process.stdin,
    output: terminal,
    prompt: PROMPT,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    terminal: true,
    completer: (line: string, callback: (error: null, result: [string[], string]) => void) => {
      completeLine(broker, line).then(
        (result) => callback(null, result),
        () => callback(null, [[], line]),
      );
    },
  });
  session.on("SIGINT", () => session.close());
  const greeting = `kv broker: ${broker.pool.servers.length} servers, k=${broker.k}; ` +
    "type HELP for commands";
  if (options.json) console.error(greeting);
  else write(greeting);
  session.prompt();
  try {
    for await (const line of session) {
      const reply = await respond(broker, line, options);
      if (reply !== undefined) {
        if (reply.text !== "" && !writeAnswer(write, reply.text)) break;
        if (reply.exit) break;
      }
      session.prompt();
    }
  } finally {
    session.close();
  }
}
