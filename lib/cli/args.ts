/**
 * Flag parsing for every subcommand: strict, in kv's words — unknown flags, missing values
 * and stray positional arguments are one-line {@link UserError}s that name the subcommand and
 * point at `--help` — and numeric flags are range-checked.
 *
 * The parser follows `node:util`'s `parseArgs` in strict mode, argument for argument
 * (`tests/cli/args_test.ts` checks it against `parseArgs` on any arguments), but is kv's own:
 * importing any `node:` module starts Deno's Node compatibility layer, about 0.03 CPU-s, a
 * tenth of a `kv server`'s start, paid by every `kv` process.
 *
 * @example
 * ```ts
 * const { values } = parseFlags("gen", ["-n", "15"], { n: { type: "string", short: "n" } });
 * const lines = intFlag("gen", "-n", values.n, { min: 0, max: 1e9, fallback: 15 });
 * ```
 * @module
 */
import { UserError } from "./user_error.ts";

/** A flag: `string` takes a value, `boolean` none; `short` is its one-letter alias. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

/** A command's flags by long name (without the dashes). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** The flags given: a value for each `string` flag, `true` for each `boolean` one. */
export type FlagValues<T extends FlagSpecs> = {
  -readonly [Name in keyof T]?: T[Name]["type"] extends "boolean" ? boolean : string;
};

/**
 * Parses `args` strictly against `options`: unknown flags, missing or empty values
 * and (unless `allowPositionals`) stray positional arguments throw a UserError.
 * After `--` every argument is positional, so `kv get -- -odd-key` works.
 *
 * @example
 * ```ts
 * parseFlags("server", ["-p", "8000"], { port: { type: "string", short: "p" } });
 * ```
 */
export function parseFlags<T extends FlagSpecs>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
): { values: FlagValues<T>; positionals: string[] } {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokenize(attachNegativeNumbers(args, options), options)) {
    const problem = token.kind === "positional"
      ? (allowPositionals ? undefined : `unexpected argument '${token.value}'`)
      : optionProblem(token, options);
    if (problem !== undefined) {
      throw new UserError(`kv ${command}: ${problem} (see 'kv ${command} --help')`);
    }
    if (token.kind === "positional") positionals.push(token.value);
    else values[token.name] = token.value ?? true;
  }
  // An empty value (`-s ""`, an unset shell variable) names no file, number or choice.
  for (const [name, value] of Object.entries(values)) {
    if (value !== "" || EMPTY_VALUE_FLAGS.has(name)) continue;
    const short = options[name]?.short;
    const flag = short === undefined ? `--${name}` : `-${short}, --${name}`;
    throw new UserError(
      `kv ${command}: ${flag} needs a value, got an empty one (see 'kv ${command} --help')`,
    );
  }
  return { values: values as FlagValues<T>, positionals };
}

/**
 * Flags whose empty value means something: `kv keys --after ''` lists from the first key,
 * so a script can page with `--after "$next"` from an empty start.
 */
const EMPTY_VALUE_FLAGS: ReadonlySet<string> = new Set(["after"]);

/** One argument as `parseArgs` reads it: an option (with its value, if any) or a positional. */
type Token =
  | { kind: "positional"; value: string }
  | {
    kind: "option";
    /** The long name, or the letter of an unknown short flag. */
    name: string;
    /** The flag as written: `-k`, `--key`. */
    rawName: string;
    value: string | undefined;
    /** Whether the value was attached (`--key=v`, `-kv`), not the next argument. */
    inlineValue: boolean;
  };

/** The long name of the flag whose short form is `letter`, or `letter` itself. */
function longName(letter: string, options: FlagSpecs): string {
  for (const [name, option] of Object.entries(options)) if (option.short === letter) return name;
  return letter;
}

function typeOf(name: string, options: FlagSpecs): FlagSpec["type"] | undefined {
  return Object.hasOwn(options, name) ? options[name].type : undefined;
}

/** Splits `args` into tokens as `node:util`'s `parseArgs` does, short groups expanded. */
function tokenize(args: readonly string[], options: FlagSpecs): Token[] {
  const tokens: Token[] = [];
  const remaining = [...args];
  while (remaining.length > 0) {
    const arg = remaining.shift()!;
    if (arg === "--") {
      for (const value of remaining) tokens.push({ kind: "positional", value });
      break;
    }
    const isShort = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (isShort) {
      const name = longName(arg[1], options);
      const takesValue = typeOf(name, options) === "string";
      if (arg.length === 2) {
        const value = takesValue && remaining.length > 0 ? remaining.shift() : undefined;
        tokens.push({ kind: "option", name, rawName: arg, value, inlineValue: false });
      } else if (takesValue) {
        tokens.push({
          kind: "option",
          name,
          rawName: arg.slice(0, 2),
          value: arg.slice(2),
          inlineValue: true,
        });
      } else {
        // -abc is -a -b -c; a letter that takes a value takes the rest: -abfFILE is -a -b -fFILE.
        const expanded: string[] = [];
        for (let index = 1; index < arg.length; index++) {
          const rest = typeOf(longName(arg[index], options), options) === "string";
          if (rest && index < arg.length - 1) {
            expanded.push(`-${arg.slice(index)}`);
            break;
          }
          expanded.push(`-${arg[index]}`);
        }
        remaining.unshift(...expanded);
      }
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      // As parseArgs: an '=' from the fourth character on makes --name=value, split at the
      // first '=' (so --== names the empty flag).
      if (!arg.includes("=", 3)) {
        const name = arg.slice(2);
        const takesValue = typeOf(name, options) === "string";
        const value = takesValue && remaining.length > 0 ? remaining.shift() : undefined;
        tokens.push({ kind: "option", name, rawName: arg, value, inlineValue: false });
      } else {
        const equals = arg.indexOf("=");
        const name = arg.slice(2, equals);
        tokens.push({
          kind: "option",
          name,
          rawName: `--${name}`,
          value: arg.slice(equals + 1),
          inlineValue: true,
        });
      }
      continue;
    }
    tokens.push({ kind: "positional", value: arg });
  }
  return tokens;
}

/** What is wrong with an option token, in kv's words, or undefined. */
function optionProblem(token: Extract<Token, { kind: "option" }>, options: FlagSpecs) {
  const type = typeOf(token.name, options);
  if (type === undefined) return `unknown option '${token.rawName}'`;
  const short = options[token.name].short;
  const named = `${short === undefined ? "" : `-${short}, `}--${token.name}`;
  if (type === "string" && token.value === undefined) return `${named} needs a value`;
  if (type === "boolean" && token.value !== undefined) return `${named} takes no value`;
  // parseArgs refuses a value that starts with '-' (it could be a flag); say how to pass one.
  if (
    !token.inlineValue && token.value !== undefined && token.value.length > 1 &&
    token.value[0] === "-"
  ) {
    const attached = token.rawName.startsWith("--")
      ? `${token.rawName}=VALUE`
      : `${token.rawName}VALUE`;
    return `the value after ${token.rawName} starts with '-'; attach it, as in ${attached}`;
  }
  return undefined;
}

/**
 * `-n -5` as `-n=-5`-like single arguments: parseArgs refuses a value that
 * starts with '-' (it could be a flag), but a negative number after a flag
 * that takes a value is that value, and then meets the flag's own range check.
 */
function attachNegativeNumbers(args: string[], options: FlagSpecs): string[] {
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
