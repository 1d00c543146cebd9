/**
 * `kv gen`: writes random test records, like the original createData.py
 * (`-k keyFile -n lines -d maxNesting -l maxStringLength -m maxKeysPerValue`),
 * plus `-o FILE` and `--seed N` for reproducible output. The help text below
 * documents every flag.
 *
 * @example
 * ```ts
 * import { genCommand } from "./gen.ts";
 * await genCommand.run(["-k", "keyFile.txt", "-n", "15", "-d", "2", "-l", "15", "-m", "8"]);
 * ```
 * @module
 */
import { basename, dirname, join } from "node:path";
import {
  type GeneratorOptions,
  MAX_GENERATED_NESTING,
  MAX_KEYS_PER_VALUE,
  MAX_RECORD_COUNT,
  MAX_STRING_LENGTH,
} from "../gen/generator.ts";
import { generateChunksInParallel, generatorWorkerCount } from "../gen/parallel.ts";
import { KeyFileError, type KeySpec, MAX_KEY_FILE_BYTES, parseKeyFile } from "../gen/keyfile.ts";
import { MAX_SEED, randomSeed } from "../gen/prng.ts";
import { ProgressBar } from "../base/progress.ts";
import {
  decodeUtf8Text,
  FileTooLargeError,
  NotUtf8Error,
  readFileBounded,
} from "../base/read_bounded.ts";
import { fileOrNumberFlag, intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { SIGNAL_EXIT_CODES, STOPPED_WORDS, type StopSignal, UserError } from "./user_error.ts";
import { describeFsError } from "../base/fs_error.ts";
import { type StopWatch, watchStopSignals } from "./stop_signals.ts";
import { counted } from "../base/plural.ts";
import { writeAll } from "../base/bytes.ts";

/** Records written when `-n` is absent (the README's example). */
export const DEFAULT_RECORD_COUNT = 15;
/** Nesting when `-d` is absent (the README's example). */
export const DEFAULT_MAX_NESTING = 2;
/** Longest string when `-l` is absent (the README's example). */
export const DEFAULT_MAX_STRING_LENGTH = 15;
/** Keys per value when `-m` is absent, lowered to the key file's size when that is smaller. */
export const DEFAULT_MAX_KEYS_PER_VALUE = 8;
/** Output file when `-o` is absent, as in the original. */
export const DEFAULT_OUTPUT = "dataToIndex.txt";

const COMMAND = "gen";

const FLAGS = {
  "key-file": { type: "string", short: "k" },
  lines: { type: "string", short: "n" },
  "max-nesting": { type: "string", short: "d" },
  "max-string-length": { type: "string", short: "l" },
  "max-keys": { type: "string", short: "m" },
  output: { type: "string", short: "o" },
  seed: { type: "string" },
} as const;

const HELP = `Usage: kv gen -k KEYFILE [-n LINES] [-d DEPTH] [-l LENGTH] [-m KEYS] [-o FILE]
              [--seed N]

Writes LINES random records for testing kv, one per line, in the assignment
dialect that 'kv broker -i' reads:

  "person0" : { "name" : "Mary" ; "age" : 22 ; "address" : { "city" : "Oslo" } }

Line i holds record person<i>. Its value has 0..KEYS keys (each count equally
likely), drawn without repetition from KEYFILE. Each key holds, with probability
1/2 while fewer than DEPTH levels lie above it, another such value; otherwise a
scalar of the key's type: a string of 1..LENGTH characters from [A-Za-z0-9], an
int 1..100, or a float 1.5..2.1 with at most two decimals (printed 1.5, 1.75,
2.0).

Flags:
  -k, --key-file KEYFILE   key names and types (required; format below)
  -n, --lines LINES        records to write, 0..${MAX_RECORD_COUNT} (default ${DEFAULT_RECORD_COUNT})
  -d, --max-nesting DEPTH  most object levels below a record's value,
                           0..${MAX_GENERATED_NESTING}; 0 gives flat records (default ${DEFAULT_MAX_NESTING})
  -l, --max-string-length LENGTH
                           longest string value, 1..${MAX_STRING_LENGTH} (default ${DEFAULT_MAX_STRING_LENGTH})
  -m, --max-keys KEYS      most keys in one value, 0..the number of keys in
                           KEYFILE (at most ${MAX_KEYS_PER_VALUE}); more is an error
                           (default ${DEFAULT_MAX_KEYS_PER_VALUE}, or the number of keys if fewer)
  -o, --output FILE        where to write; '-' for standard output
                           (default ${DEFAULT_OUTPUT})
      --seed N             PRNG seed, 0..${MAX_SEED}: the same seed and flags
                           give byte-identical output on every run and machine
                           (default: a fresh random seed each run)
  -h, --help               show this help

Key file: one 'name type' per line, type int, float or string; blank lines are
skipped and '#' starts a comment. Names use letters, digits, '_' and '-' only,
each name once, at least one key. Mistakes are reported as file:line:column.

  # name   type
  name     string
  age      int
  height   float

Output: FILE is written to a temporary file beside it and renamed over FILE only
when complete, so a failed or interrupted (Ctrl-C, SIGTERM) run leaves FILE as
it was; an existing FILE keeps its permissions. A FILE that is not a regular
file (/dev/null, a pipe) is written directly. No line exceeds 1 MiB (the longest
line kv reads): in the rare record that would (only very deep, wide settings
such as -d 20 -m 12), values written after the record's byte budget is spent get
fewer keys.

Messages: on success nothing is printed, like other Unix tools, unless stderr is
a terminal: then a progress bar is shown while writing and one summary line
(records, bytes, time and the seed, to repeat the run with --seed) at the end.
Errors are one line on stderr. Standard output is used only by '-o -'.

Exit codes: 0 success, 1 internal error, 2 usage or input error, 130 interrupted
(Ctrl-C), 143 or 129 stopped by SIGTERM or SIGHUP.

Examples:
  kv gen -k keyFile.txt -n 15 -d 2 -l 15 -m 8
  kv gen -k keyFile.txt -n 100000 -d 3 -l 8 -m 6 -o data.txt --seed 42
  kv gen -k keyFile.txt -n 5 -o - | head -n 2`;

/** The `kv gen` subcommand. */
export const genCommand: Subcommand = {
  name: COMMAND,
  help: HELP,
  run,
};

async function run(args: string[]): Promise<number> {
  const { options, outputPath } = await readSettings(args);
  const startMs = performance.now();
  // Watched from before the temporary file exists until it is renamed or removed: a signal
  // in between would leave it behind.
  const interruption = watchStopSignals(["SIGINT", "SIGTERM", "SIGHUP"]);
  try {
    return await generate(options, outputPath, interruption, startMs);
  } finally {
    interruption.dispose();
  }
}

/** Writes the records to `outputPath` until done or a signal; resolves to the exit code. */
async function generate(
  options: GeneratorOptions,
  outputPath: string,
  interruption: StopWatch,
  startMs: number,
): Promise<number> {
  const output = await openOutput(outputPath);
  const written = await writeRecords(options, output, outputPath, interruption);
  if (written === undefined) return 0;
  if (written.stoppedBy !== undefined) {
    await output.abandon();
    // Standard output has what was written so far; a file is left as it was.
    const left = isStdout(outputPath) ? "" : `; '${outputPath}' left as it was`;
    console.error(`kv ${COMMAND}: ${STOPPED_WORDS[written.stoppedBy]}${left}`);
    return SIGNAL_EXIT_CODES[written.stoppedBy];
  }
  try {
    await output.commit();
  } catch (error) {
    await output.abandon();
    throw new UserError(`kv ${COMMAND}: cannot write '${outputPath}': ${describeFsError(error)}`);
  }
  if (Deno.stderr.isTerminal()) {
    const seconds = ((performance.now() - startMs) / 1000).toFixed(2);
    const megabytes = (written.bytesWritten / 1e6).toFixed(1);
    console.error(
      `kv ${COMMAND}: wrote ${options.recordCount} records (${megabytes} MB) to ` +
        `${isStdout(outputPath) ? "standard output" : `'${outputPath}'`} ` +
        `in ${seconds} s; seed ${options.seed}`,
    );
  }
  return 0;
}

/** The generator's options from the flags and the key file, and where to write. */
async function readSettings(
  args: string[],
): Promise<{ options: GeneratorOptions; outputPath: string }> {
  const { values } = parseFlags(COMMAND, args, FLAGS, { meantFlag: fileOrNumberFlag("-k", "-n") });
  const keyFilePath = values["key-file"];
  if (keyFilePath === undefined) {
    throw new UserError(`kv ${COMMAND}: -k KEYFILE is required (see 'kv ${COMMAND} --help')`);
  }
  const recordCount = intFlag(COMMAND, "-n", values.lines, {
    min: 0,
    max: MAX_RECORD_COUNT,
    fallback: DEFAULT_RECORD_COUNT,
  });
  const maxNesting = intFlag(COMMAND, "-d", values["max-nesting"], {
    min: 0,
    max: MAX_GENERATED_NESTING,
    fallback: DEFAULT_MAX_NESTING,
  });
  const maxStringLength = intFlag(COMMAND, "-l", values["max-string-length"], {
    min: 1,
    max: MAX_STRING_LENGTH,
    fallback: DEFAULT_MAX_STRING_LENGTH,
  });
  const requestedMaxKeys = values["max-keys"] === undefined
    ? undefined
    : intFlag(COMMAND, "-m", values["max-keys"], { min: 0, max: MAX_KEYS_PER_VALUE });
  const seed = values.seed === undefined
    ? randomSeed()
    : intFlag(COMMAND, "--seed", values.seed, { min: 0, max: MAX_SEED });
  const outputPath = values.output ?? DEFAULT_OUTPUT;

  const keys = await readKeyFile(keyFilePath);
  if (!isStdout(outputPath) && await sameFile(keyFilePath, outputPath)) {
    throw new UserError(
      `kv ${COMMAND}: -o '${outputPath}' is the key file (-k '${keyFilePath}'), which the ` +
        "records would replace; write them to another file",
    );
  }
  if (requestedMaxKeys !== undefined && requestedMaxKeys > keys.length) {
    throw new UserError(
      `kv ${COMMAND}: -m ${requestedMaxKeys} is more than the ${counted(keys.length, "key")} ` +
        `in '${keyFilePath}'; use -m 0..${keys.length}`,
    );
  }
  const maxKeysPerValue = requestedMaxKeys ?? Math.min(DEFAULT_MAX_KEYS_PER_VALUE, keys.length);
  const options = { keys, recordCount, maxNesting, maxStringLength, maxKeysPerValue, seed };
  return { options, outputPath };
}

/**
 * Generates the records into `output`, with a progress bar, until done or a signal (Ctrl-C,
 * SIGTERM, SIGHUP).
 * Returns undefined when standard output was closed (a reader like `head` is done:
 * success); a failed write is a UserError, with the output abandoned.
 */
async function writeRecords(
  options: GeneratorOptions,
  output: Output,
  outputPath: string,
  interruption: StopWatch,
): Promise<{ bytesWritten: number; stoppedBy: StopSignal | undefined } | undefined> {
  // Records scrolling on the terminal would cut through the bar drawn on it: none then.
  const onScreen = isStdout(outputPath) && Deno.stdout.isTerminal();
  const progress = new ProgressBar({
    label: `kv ${COMMAND}`,
    total: options.recordCount,
    ...(onScreen ? { output: NO_TERMINAL } : {}),
  });
  let bytesWritten = 0;
  // The previous chunk's write runs while the next chunk is generated; the
  // generator keeps a chunk valid until it has produced one more.
  let pendingWrite: Promise<void> = Promise.resolve();
  try {
    const workers = generatorWorkerCount(options.recordCount, navigator.hardwareConcurrency);
    for await (const chunk of generateChunksInParallel(options, { workers })) {
      await pendingWrite;
      if (interruption.stoppedBy() !== undefined) break;
      pendingWrite = output.write(chunk.bytes);
      bytesWritten += chunk.bytes.length;
      progress.update(chunk.recordsDone);
    }
    await pendingWrite;
  } catch (error) {
    progress.finish();
    await pendingWrite.catch(() => {
      // Already failed (and reported below) or never started: nothing to wait for.
    });
    await output.abandon();
    // Standard output's reader gone (| head), whether named - or /dev/stdout: nobody wants more.
    if (error instanceof Deno.errors.BrokenPipe && isStdout(outputPath)) return undefined;
    const where = isStdout(outputPath) ? "to standard output" : `'${outputPath}'`;
    throw new UserError(`kv ${COMMAND}: cannot write ${where}: ${describeFsError(error)}`);
  }
  progress.finish();
  return { bytesWritten, stoppedBy: interruption.stoppedBy() };
}

/** Reads and parses the key file, turning every failure into one UserError line. */
async function readKeyFile(path: string): Promise<KeySpec[]> {
  const cannotRead = (reason: string) =>
    new UserError(`kv ${COMMAND}: cannot read key file '${path}': ${reason}`);
  let bytes: Uint8Array;
  try {
    bytes = await readFileBounded(path, MAX_KEY_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) throw cannotRead(tooLarge());
    throw cannotRead(describeFsError(error));
  }
  let text: string;
  try {
    text = decodeUtf8Text(bytes);
  } catch (error) {
    if (!(error instanceof NotUtf8Error)) throw error;
    throw new UserError(`kv ${COMMAND}: ${path}:${error.message}; save the key file as UTF-8`);
  }
  try {
    return parseKeyFile(text, path);
  } catch (error) {
    if (error instanceof KeyFileError) throw new UserError(`kv ${COMMAND}: ${error.message}`);
    throw error;
  }
}

function tooLarge(): string {
  return `it holds more than ${MAX_KEY_FILE_BYTES} bytes, the most a key file may hold`;
}

/** Where the records go; `commit` makes them visible, `abandon` discards them. */
interface Output {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abandon(): Promise<void>;
}

/**
 * Opens the output. A regular (or not yet existing) file is written through a
 * temporary file in the same directory, renamed over the target at the end:
 * rename within a directory is atomic, so readers see the old file or the
 * whole new one. A symlink's target is resolved first so the link survives; a
 * device, a pipe, or a link to one or to nothing yet is written directly.
 */
async function openOutput(path: string): Promise<Output> {
  if (isStdout(path)) {
    return {
      write: (bytes) => writeAll(Deno.stdout, bytes),
      commit: () => Promise.resolve(),
      abandon: () => Promise.resolve(),
    };
  }
  const cannotWrite = (reason: string) =>
    new UserError(`kv ${COMMAND}: cannot write '${path}': ${reason}`);
  const resolved = await resolveOutput(path, cannotWrite);
  // A link whose target has no path (/dev/stdout to a pipe) or does not exist yet:
  // write through the link, which must never be replaced by a file.
  if (resolved === undefined) return await openThroughLink(path, cannotWrite);
  const { target, existing } = resolved;
  if (existing?.isDirectory) throw cannotWrite("it is a directory");
  if (existing !== undefined && !existing.isFile) return await openDirect(target, cannotWrite);
  return await openReplacing(path, target, existing, cannotWrite);
}

/**
 * The file `path` names (a symlink's target, resolved) and its info, undefined when
 * it does not exist yet; undefined instead when `path` is a symlink whose target has
 * no path or does not exist.
 */
async function resolveOutput(
  path: string,
  cannotWrite: (reason: string) => UserError,
): Promise<{ target: string; existing: Deno.FileInfo | undefined } | undefined> {
  let target = path;
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
    if (existing.isSymlink) {
      target = await Deno.realPath(path);
      existing = await Deno.stat(target);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw cannotWrite(outputProblem(error));
    if (existing?.isSymlink) return undefined;
    existing = undefined;
  }
  return { target, existing };
}

/**
 * Writes a regular file `target` (named `path` by the user) through a temporary file
 * beside it, renamed over it on commit; an `existing` file's permissions are kept.
 */
async function openReplacing(
  path: string,
  target: string,
  existing: Deno.FileInfo | undefined,
  cannotWrite: (reason: string) => UserError,
): Promise<Output> {
  const suffix = randomSeed().toString(16).padStart(8, "0");
  const temporaryPath = join(dirname(target), `.${basename(target)}.${suffix}.tmp`);
  let file: Deno.FsFile;
  const mode = existing?.mode === null || existing === undefined
    ? undefined
    : existing.mode & 0o777;
  try {
    file = await Deno.open(temporaryPath, { write: true, createNew: true, mode });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const directoryExists = await Deno.stat(dirname(target)).then(() => true, () => false);
      throw cannotWrite(
        directoryExists
          ? `files cannot be created in '${dirname(target)}'`
          : `directory '${dirname(path)}' does not exist`,
      );
    }
    throw cannotWrite(outputProblem(error));
  }
  const close = closeOnce(file);
  if (mode !== undefined) {
    // The umask trims a creation mode: give the old file's permissions outright.
    try {
      await Deno.chmod(temporaryPath, mode);
    } catch (error) {
      close();
      await Deno.remove(temporaryPath).catch(() => {/* gone already */});
      throw cannotWrite(outputProblem(error));
    }
  }
  return {
    write: (bytes) => writeAll(file, bytes),
    commit: async () => {
      close();
      await Deno.rename(temporaryPath, target);
    },
    abandon: async () => {
      close();
      await Deno.remove(temporaryPath).catch(() => {
        // Already gone (or never renamed): nothing left to clean up.
      });
    },
  };
}

/**
 * Whether paths `a` and `b` name one file (links followed): the same device and inode.
 * False when either cannot be looked at (an output not yet made).
 */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [first, second] = await Promise.all(
    [a, b].map((path) => Deno.stat(path).catch(() => undefined)),
  );
  return first !== undefined && second !== undefined && first.ino !== null &&
    first.dev === second.dev && first.ino === second.ino;
}

/** Whether `path` (`-o`) means standard output: `-`, or a link to it. */
function isStdout(path: string): boolean {
  return path === "-" || STDOUT_LINK_TARGETS.includes(path);
}

/** Where a progress bar that must not be drawn draws: nowhere. */
const NO_TERMINAL = { writeSync: (bytes: Uint8Array) => bytes.length, isTerminal: () => false };

/** A link to this process's own stdout: /dev/stdout and /proc/self/fd/1, as Linux has them. */
const STDOUT_LINK_TARGETS = ["/proc/self/fd/1", "/dev/fd/1", "/dev/stdout"];

/**
 * Writes through a link whose target could not be resolved. A link to the process's
 * stdout (a pipe has no path) is written as stdout: Deno refuses to open such a link
 * under the read and write permissions kv runs with.
 */
async function openThroughLink(
  path: string,
  cannotWrite: (reason: string) => UserError,
): Promise<Output> {
  const linkTarget = await Deno.readLink(path).catch(() => "");
  if (STDOUT_LINK_TARGETS.includes(linkTarget)) return openOutput("-");
  return await openDirect(path, cannotWrite);
}

/** Writes straight into `path` (a device, a pipe, a link to one), with no temporary file. */
async function openDirect(
  path: string,
  cannotWrite: (reason: string) => UserError,
): Promise<Output> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, create: true });
  } catch (error) {
    throw cannotWrite(outputProblem(error));
  }
  const close = closeOnce(file);
  return {
    write: (bytes) => writeAll(file, bytes),
    commit: () => Promise.resolve(close()),
    abandon: () => Promise.resolve(close()),
  };
}

/**
 * Why `error` stops kv gen opening its output, with what to do when Deno refuses the path
 * itself: it opens files under /dev and /proc (but /dev/null and the links to stdout)
 * only with --allow-all, which kv does not ask for.
 */
function outputProblem(error: unknown): string {
  const reason = describeFsError(error);
  if (!(error instanceof Deno.errors.NotCapable)) return reason;
  return `${reason}; write to standard output and redirect it instead: -o - > FILE`;
}

/** A `close` for `file` that is safe to call again after a failure. */
function closeOnce(file: Deno.FsFile): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    file.close();
  };
}
