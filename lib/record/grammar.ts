/**
 * The characters of the record-line grammar (see lib/record/parse.ts), by code, and the
 * class of every ASCII character in a bare token — shared by the string parser and the
 * byte parser (lib/record/parse_ascii.ts), so the two cannot drift apart.
 *
 * @example
 * ```ts
 * import { CharClass, charClass, COLON } from "./grammar.ts";
 * charClass(COLON) === CharClass.delimiter; // true
 * ```
 * @module
 */

/** `\t`: whitespace, as a space is. */
export const TAB = 0x09;
/** `\n`: ends a line; written `\n` inside a quoted string. */
export const LINE_FEED = 0x0a;
/** `\r`: dropped before a line's end (CRLF files); written `\r` inside a quoted string. */
export const CARRIAGE_RETURN = 0x0d;
/** ` `: whitespace between tokens, trimmed at a bare token's ends. */
export const SPACE = 0x20;
/** `"`: opens and closes a quoted string (the assignment dialect's quote). */
export const DOUBLE_QUOTE = 0x22;
/** `'`: opens and closes a quoted string (the Python dialect's quote). */
export const SINGLE_QUOTE = 0x27;
/** `+`: the sign of a number's exponent (`1e+5`). */
export const PLUS = 0x2b;
/** `,`: separates an object's fields, as `;` does. */
export const COMMA = 0x2c;
/** `-`: the sign of a number or of its exponent. */
export const MINUS = 0x2d;
/** `.`: a number's decimal point; separates the names of a query path, so never in a key. */
export const DOT = 0x2e;
/** `0`: the first digit. */
export const DIGIT_ZERO = 0x30;
/** `9`: the last digit. */
export const DIGIT_NINE = 0x39;
/** `:`: between a key or field name and its value. */
export const COLON = 0x3a;
/** `;`: separates an object's fields, as `,` does. */
export const SEMICOLON = 0x3b;
/** `E`: starts a number's exponent, as `e` does. */
export const UPPER_E = 0x45;
/** `[`: a bare value may not start with it (kv has no lists; quote it to store the text). */
export const OPEN_BRACKET = 0x5b;
/** `]`: closes a JSON array (kv has none; HTTP bodies are JSON and may hold them). */
export const CLOSE_BRACKET = 0x5d;
/** `\\`: starts an escape inside a quoted string. */
export const BACKSLASH = 0x5c;
/** `e`: starts a number's exponent, as `E` does. */
export const LOWER_E = 0x65;
/** `{`: opens an object. */
export const OPEN_BRACE = 0x7b;
/** `}`: closes an object. */
export const CLOSE_BRACE = 0x7d;
/** DEL: a control character, which ends a bare token as those below 0x20 do. */
export const DELETE = 0x7f;

/** What a character does in a bare token. */
export const CharClass = {
  /** Part of the token. */
  plain: 0,
  /** Part of the token inside it, trimmed at its ends: space and tab. */
  whitespace: 1,
  /** Ends the token: quotes, braces, `:`, `;`, `,`, control characters. */
  delimiter: 2,
} as const;

/**
 * What a bare token is by the number grammar: `-?digits` an int;
 * `-?digits.digits([eE][+-]?digits)?` or `-?digits[eE][+-]?digits` a float; else a string.
 * The string parser and the byte parser each classify with a copy of the same scan, over
 * `charCodeAt` and over bytes: one scan through a per-character accessor would cost both
 * parsers a call per character.
 */
export const NumberClass = {
  /** Not a number: the token is a string. */
  notANumber: 0,
  /** An int. */
  int: 1,
  /** A float. */
  float: 2,
} as const;

/** One of {@link NumberClass}'s values. */
export type NumberClass = (typeof NumberClass)[keyof typeof NumberClass];

/**
 * Whether character `code` is a digit, `0` to `9`.
 *
 * @example
 * ```ts
 * isDigit(0x37); // true: "7"
 * isDigit(DOT); // false
 * ```
 */
export function isDigit(code: number): boolean {
  return code >= DIGIT_ZERO && code <= DIGIT_NINE;
}

const ASCII_CLASSES: Uint8Array = (() => {
  const classes = new Uint8Array(128);
  for (let code = 0; code < 0x20; code++) classes[code] = CharClass.delimiter;
  classes[DELETE] = CharClass.delimiter;
  classes[TAB] = CharClass.whitespace;
  classes[SPACE] = CharClass.whitespace;
  for (const code of [DOUBLE_QUOTE, SINGLE_QUOTE, OPEN_BRACE, CLOSE_BRACE, COLON, SEMICOLON]) {
    classes[code] = CharClass.delimiter;
  }
  classes[COMMA] = CharClass.delimiter;
  return classes;
})();

/**
 * `text` without the grammar's whitespace (spaces and tabs) at either end. Unlike
 * `String.prototype.trim`, it keeps every other space character — a no-break space, a line
 * separator, a byte order mark — since those are plain characters of a bare key, and a
 * command that dropped them would name another key than the one typed.
 *
 * @example
 * ```ts
 * trimBlanks(" \tperson1 "); // "person1"
 * trimBlanks("\u00a0person1"); // "\u00a0person1": a key of its own
 * ```
 */
export function trimBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * `text` without the grammar's whitespace (spaces and tabs) at its start; see
 * {@link trimBlanks}.
 *
 * @example
 * ```ts
 * trimBlanksStart("\t person1 "); // "person1 "
 * ```
 */
export function trimBlanksStart(text: string): string {
  let start = 0;
  while (start < text.length && isBlank(text.charCodeAt(start))) start++;
  return start === 0 ? text : text.slice(start);
}

/**
 * `text` without the grammar's whitespace (spaces and tabs) at its end; see {@link trimBlanks}.
 *
 * @example
 * ```ts
 * trimBlanksEnd(" person1\t"); // " person1"
 * ```
 */
export function trimBlanksEnd(text: string): string {
  let end = text.length;
  while (end > 0 && isBlank(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * Where the first space or tab of `text` is from `from` on, or -1.
 *
 * @example
 * ```ts
 * indexOfBlank("GET person1"); // 3
 * ```
 */
export function indexOfBlank(text: string, from = 0): number {
  for (let at = from; at < text.length; at++) {
    if (isBlank(text.charCodeAt(at))) return at;
  }
  return -1;
}

/**
 * Whether UTF-16 code unit `code` is the grammar's whitespace: a space or a tab.
 *
 * @example
 * ```ts
 * isBlank(SPACE); // true
 * isBlank(0xa0); // false: a no-break space is a plain character
 * ```
 */
export function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/**
 * The class of ASCII character `code` (below 0x80) in a bare token; characters beyond
 * ASCII are plain.
 *
 * @example
 * ```ts
 * charClass(0x61) === CharClass.plain; // "a"
 * ```
 */
export function charClass(code: number): number {
  return code < 0x80 ? ASCII_CLASSES[code] : CharClass.plain;
}

/**
 * How many more objects a record line's `bytes` open than close: its `{` less its `}`
 * outside quoted strings (either quote, a backslash escaping the next byte). Above 0 for a
 * line that ends inside a record: the first line of one pretty-printed over several. When
 * `end` is given, `end.quote` is set to the quote byte the line ends inside, 0 for none: no
 * string spans lines, so such a line is a mistake.
 *
 * @example
 * ```ts
 * openObjects(new TextEncoder().encode(`"person1": {`)); // 1
 * openObjects(new TextEncoder().encode(`a: { b: "}" }`)); // 0
 * const end = { quote: 0 };
 * openObjects(new TextEncoder().encode(`a: { b: "x`), end); // 1; end.quote is 0x22, '"'
 * ```
 */
export function openObjects(bytes: Uint8Array, end?: { quote: number }): number {
  let depth = 0;
  let quote = 0;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (quote !== 0) {
      if (byte === BACKSLASH) index++;
      else if (byte === quote) quote = 0;
    } else if (byte === DOUBLE_QUOTE || byte === SINGLE_QUOTE) quote = byte;
    else if (byte === OPEN_BRACE) depth++;
    else if (byte === CLOSE_BRACE) depth--;
  }
  if (end !== undefined) end.quote = quote;
  return depth;
}
