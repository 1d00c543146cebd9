/**
 * Flag parsing for every subcommand, on top of `node:util`'s `parseArgs`: its
 * errors become one-line {@link UserError}s that name the subcommand and point
 * at `--help`, and numeric flags are range-checked.
 *
 * @example
 * ```ts
 * const { values } = parseFlags("gen", ["-n", "15"], { n: { type: "string", short: "n" } });
 * const lines = intFlag("gen", "-n", values.n, { min: 0, max: 1e9, fallback: 15 });
 * ```
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { UserError } from "./user_error.ts";
import { describeError } from "../base/describe_error.ts";
import { closestWord } from "../base/edit_distance.ts";
import { shellWord } from "../base/shell_word.ts";

/**
 * What {@link parseFlags} returns: node:util's `parseArgs` result for `options`, parsed
 * strictly, positionals allowed or not.
 */
export type ParsedFlags<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>
>;

/** Options for {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Whether arguments that are no flag's are allowed (`kv get KEY`); default false. */
  allowPositionals?: boolean;
  /**
   * For a command that takes no argument: the flag and value a stray one likely lacks
   * (`kv server 8000`: `-p 8000`), given it and all the arguments; default none.
   */
  meantFlag?: (argument: string, args: readonly string[]) => string | undefined;
  /**
   * Flags this command lacks that another command or other programs have, each with what
   * to give instead (`kv http -p`: `--listen 127.0.0.1:PORT`); default none.
   */
  synonyms?: Readonly<Record<string, string>>;
}

/**
 * Parses `args` strictly against `options`: unknown flags, missing or empty values
 * and (unless `allowPositionals`) stray positional arguments throw a UserError, which
 * names what a stray one likely lacks when `meantFlag` can tell.
 * After `--` every argument is positional, so `kv get -- -odd-key` works.
 *
 * @example
 * ```ts
 * parseFlags("server", ["-p", "8000"], { port: { type: "string", short: "p" } });
 * ```
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
  parsing: ParseFlagsOptions = {},
): ParsedFlags<T> {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachNegativeNumbers(args, options),
      options,
      strict: true,
      allowPositionals: parsing.allowPositionals ?? false,
    });
  } catch (error) {
    const described = describeParseError(error, options, {
      meantFlag: (stray) => parsing.meantFlag?.(stray, args),
      synonyms: parsing.synonyms ?? {},
      // `kv get -xyz`, `kv put '-n: 1'`: an operand, most likely, where the command takes one
      // (`--bogus` and `-l`, a flag's shape, most likely a flag).
      operand: (flag) => {
        if (!(parsing.allowPositionals ?? false) || flag.startsWith("--")) return undefined;
        const typed = args.find((arg) => arg.startsWith(flag)) ?? flag;
        if (typed.length <= 2) return undefined;
        return `an argument that starts with '-' goes after '--': kv ${command} -- ${
          shellWord(typed)
        }`;
      },
    });
    throw new UserError(`kv ${command}: ${described} (see 'kv ${command} --help')`);
  }
  // An empty value (`-s ""`, an unset shell variable) names no file, number or choice.
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value !== "" || EMPTY_VALUE_FLAGS.has(name)) continue;
    const short = options[name]?.short;
    const flag = short === undefined ? `--${name}` : `-${short}, --${name}`;
    throw new UserError(
      `kv ${command}: ${flag} needs a value, got an empty one (see 'kv ${command} --help')`,
    );
  }
  return parsed;
}

/**
 * Flags whose empty value means something: `kv keys --after ''` lists from the first key,
 * so a script can page with `--after "$next"` from an empty start.
 */
const EMPTY_VALUE_FLAGS: ReadonlySet<string> = new Set(["after"]);

/**
 * `-n -5` as `-n=-5`-like single arguments: parseArgs refuses a value that
 * starts with '-' (it could be a flag), but a negative number after a flag
 * that takes a value is that value, and then meets the flag's own range check.
 */
function attachNegativeNumbers(args: string[], options: ParseArgsOptionsConfig): string[] {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (option.short !== undefined) takesValue.add(`-${option.short}`);
  }
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    if (args[index] === "--") return [...joined, ...args.slice(index)];
    const next = args[index + 1];
    if (takesValue.has(args[index]) && next !== undefined && /^-\d/.test(next)) {
      joined.push(
        args[index].startsWith("--") ? `${args[index]}=${next}` : `${args[index]}${next}`,
      );
      index++;
    } else {
      joined.push(args[index]);
    }
  }
  return joined;
}

function describeParseError(
  error: unknown,
  options: ParseArgsOptionsConfig,
  hints: {
    meantFlag: (stray: string) => string | undefined;
    synonyms: Readonly<Record<string, string>>;
    operand: (flag: string) => string | undefined;
  },
): string {
  const message = describeError(error);
  const quoted = /'([^']*)'/.exec(message)?.[1];
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted) {
    const meant = Object.hasOwn(hints.synonyms, quoted)
      ? hints.synonyms[quoted]
      : meantOption(quoted, options);
    if (meant !== undefined) return `unknown option '${quoted}'; did you mean ${meant}?`;
    const operand = hints.operand(quoted);
    return `unknown option '${quoted}'${operand === undefined ? "" : `; ${operand}`}`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && quoted) {
    const meant = hints.meantFlag(quoted);
    return `unexpected argument '${quoted}'${
      meant === undefined ? "" : `; did you mean ${meant}?`
    }`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted) {
    // parseArgs refuses a value that starts with '-' (it could be a flag); say how to pass one.
    if (message.includes("ambiguous")) {
      return `the value after ${quoted} starts with '-'; attach it, as in ${quoted}VALUE`;
    }
    // Node's words name the option as "'-k, --key-file <value>' argument missing".
    if (message.endsWith("argument missing")) {
      return `${quoted.replace(/ <value>$/, "")} needs a value`;
    }
    if (message.endsWith("does not take an argument")) return `${quoted} takes no value`;
  }
  return message.split("\n")[0].replace(/\.$/, "");
}

/** Shortest start of a long flag that names it, when it is the only one so starting. */
const MIN_FLAG_START = 3;

/** Long flags at least this long are meant despite two typos (`--timout-ms`), shorter one. */
const TWO_TYPO_FLAG_LENGTH = 5;

/**
 * The flag of `options` an unknown `typed` likely means: a long one a typo or two away
 * (`--timout-ms`), or the only one it is the start of (`--timeout` for --timeout-ms); a short
 * one given two dashes (`--s`) or differing in case only (`-K` for -k: any other is one edit
 * from each); else undefined.
 */
function meantOption(typed: string, options: ParseArgsOptionsConfig): string | undefined {
  const shorts = Object.values(options).flatMap(({ short }) => short ? [`-${short}`] : []);
  if (!typed.startsWith("--")) return closestWord(typed, shorts, 0);
  const name = typed.slice(2);
  // `--s` for -s: a short flag given two dashes.
  if (shorts.includes(`-${name}`)) return `-${name}`;
  const names = Object.keys(options);
  const starting = names.filter((long) => long.startsWith(name));
  if (name.length >= MIN_FLAG_START && starting.length === 1) return `--${starting[0]}`;
  const meant = closestWord(name, names, name.length >= TWO_TYPO_FLAG_LENGTH ? 2 : 1);
  return meant === undefined ? undefined : `--${meant}`;
}

/** Bounds and default for {@link intFlag}. */
export interface IntFlagOptions {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value. */
  max: number;
  /** Value when the flag is absent; when omitted the flag is required. */
  fallback?: number;
}

/**
 * Reads a whole-number flag: absent gives `fallback` (or an error when there is
 * none); anything but a decimal integer within [min, max] is a UserError.
 *
 * @example
 * ```ts
 * intFlag("gen", "-d", "3", { min: 0, max: 64 }); // 3
 * ```
 */
export function intFlag(
  command: string,
  flag: string,
  text: string | undefined,
  options: IntFlagOptions,
): number {
  if (text === undefined) {
    if (options.fallback !== undefined) return options.fallback;
    throw new UserError(`kv ${command}: ${flag} is required (see 'kv ${command} --help')`);
  }
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < options.min || value > options.max) {
    throw new UserError(
      `kv ${command}: ${flag} must be a whole number from ${options.min} to ${options.max}, got '${text}'`,
    );
  }
  return value;
}

/** Seconds in each unit {@link secondsFlag} takes; a number without one is seconds. */
const SECOND_UNITS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3600 };

/**
 * Reads a flag that takes a time in whole seconds, or a whole number with a unit
 * (`90s`, `5m`, `1h`, as wrk's `-d 10s`): absent gives `fallback` (or undefined); anything
 * else, or a time out of [min, max] seconds, is a UserError that says the unit.
 *
 * @example
 * ```ts
 * secondsFlag("bench", "--duration", "2m", { min: 1, max: 86400 }); // 120
 * ```
 */
export function secondsFlag(
  command: string,
  flag: string,
  text: string | undefined,
  options: IntFlagOptions,
): number | undefined {
  if (text === undefined) return options.fallback;
  const match = /^(\d{1,12})([smh]?)$/.exec(text);
  const seconds = match === null ? NaN : Number(match[1]) * SECOND_UNITS[match[2]];
  if (!(seconds >= options.min && seconds <= options.max)) {
    throw new UserError(
      `kv ${command}: ${flag} must be a whole number from ${options.min} to ${options.max} ` +
        `(seconds), or one with s, m or h (90s, 5m, 1h), got '${text}'`,
    );
  }
  return seconds;
}

/**
 * Reads a flag that takes one of a few words: absent gives `fallback`; any other word is
 * a UserError naming the choices.
 *
 * @example
 * ```ts
 * choiceFlag("broker", "--writes", "strict", ["sloppy", "strict"], "sloppy"); // "strict"
 * ```
 */
export function choiceFlag<T extends string>(
  command: string,
  flag: string,
  text: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (text === undefined) return fallback;
  if ((choices as readonly string[]).includes(text)) return text as T;
  const listed = choices.map((choice) => `'${choice}'`).join(" or ");
  throw new UserError(`kv ${command}: ${flag} must be ${listed}, got '${text}'`);
}

/**
 * A {@link ParseFlagsOptions.meantFlag} for a command whose stray argument is a file
 * its `flag` names, or a whole number its `numberFlag` does (`kv gen 100`: `-n 100`).
 *
 * @example
 * ```ts
 * const meant = fileOrNumberFlag("-k", "-n");
 * meant("keyFile.txt"); // "-k keyFile.txt"
 * meant("100"); // "-n 100"
 * ```
 */
export function fileOrNumberFlag(
  flag: string | undefined,
  numberFlag?: string,
): (argument: string) => string | undefined {
  return (argument) => {
    const meant = /^\d+$/.test(argument) ? numberFlag : flag;
    return meant === undefined ? undefined : `${meant} ${shellWord(argument)}`;
  };
}
