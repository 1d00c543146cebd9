/**
 * A tiny leveled logger that writes one line per message to stderr. Levels,
 * from most to least severe: error, warn, info, debug; a logger prints its own
 * level and everything more severe.
 *
 * Lines read `kv server: listening on …` at info and `kv server warn: …` at the
 * other levels (README "Logs"): the info lines users and scripts look for stay plain, read
 * as every kv command's own lines (`kv repair: …`), and `grep ' warn: '` finds every
 * warning. It is the one place kv's long-running commands (kv server, kv http, kv broker)
 * put the name, level and time on a line.
 *
 * @example
 * ```ts
 * import { Logger } from "./logger.ts";
 * const log = new Logger({ name: "kv server", level: "info" });
 * log.info("listening on 127.0.0.1:8000");
 * log.debug("not printed at level info");
 * ```
 * @module
 */

/** The log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Where a library layer (the broker, its server pool, the background repair) sends what it
 * has to tell: the message and its level, `info` for news (a server back up, trusted again)
 * and `warn` for trouble (down, not trusted, writes refused); the program's name, level
 * word and time are the receiver's to add ({@link Logger.print}).
 */
export type LogFunction = (message: string, level: "info" | "warn") => void;

/** The level a logger prints when not told otherwise. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/**
 * `text` as a log level, or `undefined` when it is not one.
 *
 * @example
 * ```ts
 * parseLogLevel("debug"); // "debug"
 * parseLogLevel("loud"); // undefined
 * ```
 */
export function parseLogLevel(text: string): LogLevel | undefined {
  return (LOG_LEVELS as readonly string[]).includes(text) ? text as LogLevel : undefined;
}

/** Options of a {@link Logger}. */
export interface LoggerOptions {
  /** The least severe level printed; default {@link DEFAULT_LOG_LEVEL}. */
  level?: LogLevel;
  /** Starts every line, e.g. `kv server`; default `kv`. */
  name?: string;
  /** Receives each finished line (without newline); default: `console.error`. */
  write?: (line: string) => void;
  /**
   * Starts every line with the time, ISO 8601 in UTC (`2026-12-03T13:05:00.123Z kv server: …`),
   * for logs redirected to a file with nothing else to time them; default false (journald and
   * most supervisors add their own).
   */
  timestamps?: boolean;
}

/**
 * Writes leveled lines to stderr (or to `write`).
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const log = new Logger({ name: "kv server", level: "warn", write: (line) => lines.push(line) });
 * log.warn("recovery dropped 12 bytes"); // lines: ["kv server warn: recovery dropped 12 bytes"]
 * ```
 */
export class Logger {
  readonly #rank: number;
  readonly #name: string;
  readonly #write: (line: string) => void;
  readonly #timestamps: boolean;

  /**
   * A logger printing messages at `options.level` and above, each led by its name.
   *
   * @param options see {@link LoggerOptions}.
   */
  constructor(options: LoggerOptions = {}) {
    this.#rank = LOG_LEVELS.indexOf(options.level ?? DEFAULT_LOG_LEVEL);
    this.#name = options.name ?? "kv";
    this.#write = options.write ?? ((line) => console.error(line));
    this.#timestamps = options.timestamps ?? false;
  }

  /**
   * Whether messages at `level` are printed (to skip building costly messages).
   *
   * @example
   * ```ts
   * const log = new Logger({ level: "info" });
   * log.enabled("debug"); // false: skip building the message
   * log.enabled("warn"); // true
   * ```
   */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.#rank;
  }

  #log(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    const line = level === "info"
      ? `${this.#name}: ${message}`
      : `${this.#name} ${level}: ${message}`;
    this.#write(this.#timestamps ? `${new Date().toISOString()} ${line}` : line);
  }

  /**
   * Logs `message` at `level`: the {@link LogFunction} to hand a library layer (bound, so it
   * can be passed as it is).
   *
   * @example
   * ```ts
   * const log = new Logger({ name: "kv http" });
   * const tell: LogFunction = log.print;
   * tell("server 127.0.0.1:8001 is down: connection refused", "warn");
   * // "kv http warn: server 127.0.0.1:8001 is down: connection refused"
   * ```
   */
  readonly print = (message: string, level: LogLevel): void => this.#log(level, message);

  /**
   * Logs a failure that needs attention.
   *
   * @example
   * ```ts
   * new Logger({ name: "kv server" }).error("cannot write the log"); // "kv server error: cannot write the log"
   * ```
   */
  error(message: string): void {
    this.#log("error", message);
  }

  /**
   * Logs something suspicious that kv recovered from.
   *
   * @example
   * ```ts
   * new Logger({ name: "kv server" }).warn("dropped a torn log tail"); // "kv server warn: dropped a torn log tail"
   * ```
   */
  warn(message: string): void {
    this.#log("warn", message);
  }

  /**
   * Logs a milestone (listening, shutting down).
   *
   * @example
   * ```ts
   * new Logger({ name: "kv server" }).info("listening on 127.0.0.1:8000"); // "kv server: listening on 127.0.0.1:8000"
   * ```
   */
  info(message: string): void {
    this.#log("info", message);
  }

  /**
   * Logs detail for debugging (connections opened and closed).
   *
   * @example
   * ```ts
   * const log = new Logger({ name: "kv server", level: "debug" });
   * log.debug("connection from 127.0.0.1:51234"); // "kv server debug: connection from 127.0.0.1:51234"
   * ```
   */
  debug(message: string): void {
    this.#log("debug", message);
  }
}

/** A logger that prints nothing, for tests and embedding. */
export const SILENT_LOGGER: Logger = new Logger({ level: "error", write: () => {} });
