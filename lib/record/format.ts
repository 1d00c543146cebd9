/**
 * Prints values and record lines in the three dialects that
 * {@link parseRecordLine} reads, so that for every dialect
 * `parseRecordLine(formatRecordLine(key, value, dialect))` gives back
 * `{ key, value }` with every type intact:
 *
 * - `"assignment"` — what `kv gen` writes, byte for byte:
 *   `"person0" : { "name" : "Mary" ; "age" : 22 ; "address" : { "street" : "Main" } }`
 * - `"python"` — the original Python implementation's layout, with numbers
 *   bare so they keep their type: `'person0':{'weight': 2.05, 'level': {}}`
 * - `"bare"` — words unquoted where they read back unchanged:
 *   `person1: { key0: { height : 45.8; profession : kshd }; key1: {} }`
 *   (fields of the record's value use `: `, deeper ones ` : `, as the tool that
 *   wrote testdata/compat/bare-dialect.txt does).
 *
 * Strings are escaped with `\\`, the quote, `\n`, `\r`, `\t`, `\0` and `\xHH` for
 * other control characters, and `\uXXXX` for the bidi embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069, which reverse what a terminal shows after them), so a
 * printed line is always one line of valid UTF-8 that shows as it reads back. Other
 * invisible characters (U+2028, U+200B, a no-break space) are data and print as stored,
 * since programs read this output line by line at `\n` and compare values: keys, which a
 * user must type back to reach a record, are shown with those escaped too (key.ts). A
 * string holding half of a surrogate pair alone is refused (a RangeError): no record
 * line can hold one, as UTF-8 cannot (parse.ts refuses its escape too).
 *
 * @example
 * ```ts
 * import { formatRecordLine } from "./format.ts";
 * import { int, object } from "./value.ts";
 * formatRecordLine("person0", object([["age", int(22)]])); // '"person0" : { "age" : 22 }'
 * ```
 * @module
 */
import { MAX_NESTING_DEPTH } from "../limits.ts";
import {
  BACKSLASH,
  CARRIAGE_RETURN,
  DELETE,
  DOUBLE_QUOTE,
  LINE_FEED,
  OPEN_BRACKET,
  SINGLE_QUOTE,
  SPACE,
  TAB,
} from "./grammar.ts";
import { checkKey } from "./key.ts";
import { looksLikeNumber } from "./parse.ts";
import type { Value } from "./value.ts";

/** The layouts kv prints record lines in; each reads back with `parseRecordLine`. */
export type Dialect = "assignment" | "python" | "bare";

/**
 * Prints `value` in `dialect` (default `"assignment"`). Throws a RangeError for
 * a value no record line can hold: nesting deeper than MAX_NESTING_DEPTH, a
 * field name that is empty or contains `.`, or a lone surrogate in a string.
 *
 * @example
 * ```ts
 * import { float, object, str } from "./value.ts";
 * formatValue(object([["height", float(2)]])); // '{ "height" : 2.0 }'
 * formatValue(str("2.05"), "bare"); // '"2.05"'
 * ```
 */
export function formatValue(value: Value, dialect: Dialect = "assignment"): string {
  return formatAtDepth(value, DIALECT_LAYOUTS[dialect], 1);
}

/**
 * Prints one record line, without a trailing newline, in `dialect` (default
 * `"assignment"`). Throws a RangeError when the key is empty or contains `.`,
 * or for a value {@link formatValue} refuses.
 *
 * @example
 * ```ts
 * import { object, str } from "./value.ts";
 * formatRecordLine("person0", object([["weight", str("2.05")]]), "python");
 * // "'person0':{'weight': '2.05'}"
 * ```
 */
export function formatRecordLine(
  key: string,
  value: Value,
  dialect: Dialect = "assignment",
): string {
  const layout = DIALECT_LAYOUTS[dialect];
  checkKey(key, "record key");
  return layout.key(key) + layout.recordColon + formatAtDepth(value, layout, 1);
}

/**
 * Prints a finite float as the shortest text that reads back as the same
 * number, always with a `.` or an exponent so that it reads back as a float:
 * `-0` prints as `-0.0`. Throws a RangeError for NaN and infinities.
 *
 * @example
 * ```ts
 * formatFloat(2); // "2.0"
 * formatFloat(1.75); // "1.75"
 * formatFloat(1e21); // "1e+21"
 * ```
 */
export function formatFloat(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  if (Object.is(value, -0)) return "-0.0";
  const text = String(value);
  return text.indexOf(".") !== -1 || text.indexOf("e") !== -1 ? text : `${text}.0`;
}

/**
 * A record key or field name as the bare dialect writes it: bare when it reads back as
 * itself, else in double quotes with the grammar's escapes — what a command line or a
 * record line reads back as that name.
 *
 * @example
 * ```ts
 * formatName("person1"); // "person1"
 * formatName("q:1"); // "\"q:1\""
 * formatName("person 1"); // "\"person 1\""
 * ```
 */
export function formatName(name: string): string {
  return isBareWord(name) ? name : quote(name, DOUBLE_QUOTE);
}

/** How one dialect lays out keys, strings and objects. */
interface DialectLayout {
  /** Prints a record key or field name. */
  key(name: string): string;
  /** Prints a string value. */
  string(text: string): string;
  /** Between the record key and its value. */
  recordColon: string;
  /** Between a field name and its value, by depth of the object holding it (1 = record value). */
  fieldColon(depth: number): string;
  /** Between two fields. */
  separator: string;
  /** After `{` and before `}` of a non-empty object. */
  open: string;
  close: string;
}

const DIALECT_LAYOUTS: Readonly<Record<Dialect, DialectLayout>> = {
  assignment: {
    key: (name) => quote(name, DOUBLE_QUOTE),
    string: (text) => quote(text, DOUBLE_QUOTE),
    recordColon: " : ",
    fieldColon: () => " : ",
    separator: " ; ",
    open: "{ ",
    close: " }",
  },
  python: {
    key: (name) => quote(name, SINGLE_QUOTE),
    string: (text) => quote(text, SINGLE_QUOTE),
    recordColon: ":",
    fieldColon: () => ": ",
    separator: ", ",
    open: "{",
    close: "}",
  },
  bare: {
    key: formatName,
    string: (text) => isBareWord(text) && !looksLikeNumber(text) ? text : quote(text, DOUBLE_QUOTE),
    recordColon: ": ",
    fieldColon: (depth) => depth === 1 ? ": " : " : ",
    separator: "; ",
    open: "{ ",
    close: " }",
  },
};

function formatAtDepth(value: Value, layout: DialectLayout, depth: number): string {
  switch (value.kind) {
    case "string":
      return layout.string(value.value);
    case "int":
      return String(value.value);
    case "float":
      return formatFloat(value.value);
    case "object": {
      if (depth > MAX_NESTING_DEPTH) {
        throw new RangeError(`value nests deeper than ${MAX_NESTING_DEPTH} (MAX_NESTING_DEPTH)`);
      }
      if (value.fields.length === 0) return "{}";
      const colon = layout.fieldColon(depth);
      let text = layout.open;
      for (let index = 0; index < value.fields.length; index++) {
        const [name, fieldValue] = value.fields[index];
        checkKey(name, "field name");
        if (index > 0) text += layout.separator;
        text += layout.key(name) + colon + formatAtDepth(fieldValue, layout, depth + 1);
      }
      return text + layout.close;
    }
  }
}

/**
 * Whether `text` may be written without quotes: printable ASCII or non-ASCII
 * letters only, not starting with '[', none of the characters that end a bare token, no whitespace
 * (bare tokens are trimmed, and inner spaces read badly) and no backslash.
 */
function isBareWord(text: string): boolean {
  // A bare value starting with '[' reads as a list, which is an error.
  if (text.length === 0 || text.charCodeAt(0) === OPEN_BRACKET) return false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) {
      if (code <= SPACE || code === DELETE || BARE_FORBIDDEN_ASCII.has(code)) return false;
    } else if (code <= 0x9f || (code >= 0xd800 && code <= 0xdfff) || isBidiControl(code)) {
      // C1 controls and bidi controls would print raw; surrogates are checked by the
      // quoting path.
      return false;
    }
  }
  return true;
}

const BARE_FORBIDDEN_ASCII: ReadonlySet<number> = new Set(
  [...`"'{}:;,\\`].map((character) => character.charCodeAt(0)),
);

/** Whether the code unit at `index` must be escaped inside a quoted string. */
function needsEscape(text: string, index: number, quoteCode: number): boolean {
  const code = text.charCodeAt(index);
  return code < SPACE || (code >= DELETE && code <= 0x9f) || code === quoteCode ||
    code === BACKSLASH || isBidiControl(code);
}

/**
 * Whether `code` is a bidi embedding, override or isolate (U+202A–U+202E, U+2066–U+2069):
 * printed raw, it reverses what a terminal shows after it, so a value or key shown by `kv get`
 * would not read as what it holds.
 */
function isBidiControl(code: number): boolean {
  return (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [BACKSLASH, "\\\\"],
  [DOUBLE_QUOTE, '\\"'],
  [SINGLE_QUOTE, "\\'"],
  [LINE_FEED, "\\n"],
  [CARRIAGE_RETURN, "\\r"],
  [TAB, "\\t"],
  [0x00, "\\0"],
]);

function escapeCodeUnit(code: number): string {
  const short = SHORT_ESCAPES.get(code);
  if (short !== undefined) return short;
  // Only controls get here: C0, DEL and C1 below 0x100, as the record grammar's `\xHH`; the
  // bidi controls as its `\uXXXX`.
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Quotes `text` with `quoteCode` (`"` or `'`), escaping what would not read back. */
function quote(text: string, quoteCode: number): string {
  if (!text.isWellFormed()) {
    throw new RangeError(`a lone surrogate in ${JSON.stringify(text)}: no record line can hold it`);
  }
  const quoteText = String.fromCharCode(quoteCode);
  let result = quoteText;
  let runStart = 0;
  for (let index = 0; index < text.length; index++) {
    if (!needsEscape(text, index, quoteCode)) continue;
    result += text.slice(runStart, index) + escapeCodeUnit(text.charCodeAt(index));
    runStart = index + 1;
  }
  return result + text.slice(runStart) + quoteText;
}
