/**
 * Reads a key file: the list of key names and scalar types `kv gen` draws
 * record fields from, one `name type` per line, as in the original
 * createData.py's `keyFile.txt`:
 *
 * ```text
 * # name   type
 * name     string
 * age      int
 * height   float
 * ```
 *
 * Blank lines are skipped and `#` starts a comment that runs to the end of the
 * line. A name is made of letters, digits, `_` and `-` (so it never needs
 * quoting and never contains the `.` that separates query path parts); a type
 * is `int`, `float` or `string`.
 *
 * @example
 * ```ts
 * import { parseKeyFile } from "./keyfile.ts";
 * const keys = parseKeyFile("name string\nage int\n", "keyFile.txt");
 * // [{ name: "name", type: "string" }, { name: "age", type: "int" }]
 * ```
 * @module
 */
import { MAX_KEY_BYTES } from "../limits.ts";
import { describeCharacter, oneLine } from "../record/key.ts";

/** Most keys one key file may define. */
export const MAX_KEY_FILE_KEYS = 1000;

/** Largest key file accepted, in bytes (1 MiB); larger is surely not a key file. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;

/** The scalar types a key can have. */
export const KEY_TYPES = ["int", "float", "string"] as const;

/** The scalar type of a key: the type of the values generated for it. */
export type KeyType = typeof KEY_TYPES[number];

/** One key of a key file. */
export interface KeySpec {
  /** The field name: non-empty, letters, digits, `_` and `-` only. */
  readonly name: string;
  /** The type of the scalar values generated for this key. */
  readonly type: KeyType;
}

/**
 * The keys of the original project's key file (the repository's keyFile.txt): what
 * `kv demo` and `kv bench` draw their records from, without a file to read.
 *
 * @example
 * ```ts
 * SAMPLE_KEYS[1]; // { name: "age", type: "int" }
 * ```
 */
export const SAMPLE_KEYS: readonly KeySpec[] = [
  { name: "name", type: "string" },
  { name: "age", type: "int" },
  { name: "height", type: "float" },
  { name: "weight", type: "float" },
  { name: "street", type: "string" },
  { name: "level", type: "int" },
  { name: "hair_color", type: "string" },
  { name: "family_members", type: "int" },
  { name: "married", type: "string" },
  { name: "profession", type: "string" },
  { name: "location", type: "string" },
  { name: "gender", type: "string" },
];

/**
 * A malformed key file. Its message is one line in the compiler style
 * `file:line:column: reason` (or `file: reason` when no line is to blame).
 *
 * @example
 * ```ts
 * try {
 *   parseKeyFile("name string\nalive bool\n", "keyFile.txt");
 * } catch (error) {
 *   (error as KeyFileError).message; // "keyFile.txt:2:7: unknown type 'bool'; expected int, float or string"
 *   (error as KeyFileError).line; // 2
 * }
 * ```
 */
export class KeyFileError extends Error {
  /** The key file's name, as given to {@link parseKeyFile}. */
  readonly fileName: string;
  /** The 1-based line at fault, or undefined for faults of the whole file. */
  readonly line: number | undefined;
  /** The 1-based column (in characters) at fault, or undefined. */
  readonly column: number | undefined;
  /** What is wrong and what is expected, without the location. */
  readonly reason: string;

  /**
   * The error for a key file's fault, at `line`:`column` when it has one.
   *
   * @param fileName the key file's name.
   * @param line the 1-based line, or undefined for a fault of the whole file.
   * @param column the 1-based column, or undefined.
   * @param reason what is wrong and what is expected.
   */
  constructor(
    fileName: string,
    line: number | undefined,
    column: number | undefined,
    reason: string,
  ) {
    const location = [fileName, line, column].filter((part) => part !== undefined).join(":");
    // The reason quotes the file's words, whose NUL or escape sequence would reach the terminal.
    super(`${location}: ${oneLine(reason)}`);
    this.name = "KeyFileError";
    this.fileName = fileName;
    this.line = line;
    this.column = column;
    this.reason = oneLine(reason);
  }
}

const NAME_CHARACTER = /^[\p{L}\p{N}_-]$/u;
const TOKEN = /[^ \t]+/g;
const EXPECTED_TYPES = "expected int, float or string";

/** 1-based column of the UTF-16 `index` in `line`, counting code points. */
function columnOf(line: string, index: number): number {
  return [...line.slice(0, index)].length + 1;
}

/** Most characters of a word of the key file an error quotes (a key name is up to 1024 bytes). */
const MAX_QUOTED_WORD_CHARACTERS = 40;

/** A word of the key file as an error quotes it: escaped, and cut short with "…". */
function quoted(word: string): string {
  return oneLine(word, { maxCharacters: MAX_QUOTED_WORD_CHARACTERS });
}

/**
 * Parses the text of a key file. Pure: it reads no files, so `fileName` serves
 * only the error messages.
 *
 * Throws a {@link KeyFileError} naming file, line and column for: a line that
 * is not `name type`, an unknown type, a name with a character other than a
 * letter, digit, `_` or `-`, a name longer than `MAX_KEY_BYTES` UTF-8 bytes, a
 * duplicate name, more than {@link MAX_KEY_FILE_KEYS} keys, and a file with no
 * keys at all.
 *
 * @param text the key file's contents (a leading byte order mark is ignored).
 * @param fileName the name to show in error messages.
 * @returns the keys in file order.
 * @example
 * ```ts
 * parseKeyFile("# people\nname string\n\nage int # years\n", "keys.txt");
 * // [{ name: "name", type: "string" }, { name: "age", type: "int" }]
 * ```
 */
export function parseKeyFile(text: string, fileName: string): KeySpec[] {
  const keys: KeySpec[] = [];
  const firstLineOfName = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const line = lines[index].replace(/\r$/, "");
    const fail = (at: number, reason: string): never => {
      throw new KeyFileError(fileName, lineNumber, columnOf(line, at), reason);
    };
    const commentStart = line.indexOf("#");
    const content = commentStart === -1 ? line : line.slice(0, commentStart);
    const tokens = [...content.matchAll(TOKEN)];
    if (tokens.length === 0) continue;
    const [nameToken, typeToken, extraToken] = tokens;
    const name = nameToken[0];
    for (const match of name.matchAll(/./gsu)) {
      if (!NAME_CHARACTER.test(match[0])) {
        fail(
          nameToken.index + match.index,
          `key name '${quoted(name)}' contains ${describeCharacter(match[0])}; ` +
            "names use only letters, digits, '_' and '-'",
        );
      }
    }
    const nameBytes = new TextEncoder().encode(name).length;
    if (nameBytes > MAX_KEY_BYTES) {
      fail(nameToken.index, `key name is ${nameBytes} bytes long; the limit is ${MAX_KEY_BYTES}`);
    }
    if (typeToken === undefined) {
      fail(
        nameToken.index + name.length,
        `missing type after '${quoted(name)}'; ${EXPECTED_TYPES}`,
      );
    }
    const type = typeToken[0];
    if (!(KEY_TYPES as readonly string[]).includes(type)) {
      fail(typeToken.index, `unknown type '${quoted(type)}'; ${EXPECTED_TYPES}`);
    }
    if (extraToken !== undefined) {
      fail(
        extraToken.index,
        `unexpected '${quoted(extraToken[0])}' after the type; expected one 'name type' per line`,
      );
    }
    const firstLine = firstLineOfName.get(name);
    if (firstLine !== undefined) {
      fail(nameToken.index, `duplicate key '${quoted(name)}' (first defined on line ${firstLine})`);
    }
    if (keys.length === MAX_KEY_FILE_KEYS) {
      fail(nameToken.index, `more than ${MAX_KEY_FILE_KEYS} keys`);
    }
    firstLineOfName.set(name, lineNumber);
    keys.push({ name, type: type as KeyType });
  }
  if (keys.length === 0) {
    throw new KeyFileError(
      fileName,
      undefined,
      undefined,
      "no keys; add lines of the form 'name type' with type int, float or string",
    );
  }
  return keys;
}
