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

export const TAB = 0x09;
export const LINE_FEED = 0x0a;
export const CARRIAGE_RETURN = 0x0d;
export const SPACE = 0x20;
export const DOUBLE_QUOTE = 0x22;
export const SINGLE_QUOTE = 0x27;
export const PLUS = 0x2b;
export const COMMA = 0x2c;
export const MINUS = 0x2d;
export const DOT = 0x2e;
export const DIGIT_ZERO = 0x30;
export const DIGIT_NINE = 0x39;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const UPPER_E = 0x45;
/** `[`: a bare value may not start with it (kv has no lists; quote it to store the text). */
export const OPEN_BRACKET = 0x5b;
export const BACKSLASH = 0x5c;
export const LOWER_E = 0x65;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
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
