/**
 * Text shown as one line that sends a terminal nothing: the characters a terminal would not
 * show as themselves escaped `\uXXXX`, and, given a bound, cut to it with "…". The one
 * implementation for a key a message quotes, a server's ERROR message, a stranger's first
 * line: anything another process sent, or a user typed, before it reaches a terminal or a
 * log line.
 *
 * @example
 * ```ts
 * import { oneLine } from "./one_line.ts";
 * oneLine("evil\x1b[31m\nkv get: forged"); // "evil\\u001b[31m\\u000akv get: forged"
 * oneLine("a".repeat(100), { maxCharacters: 10 }); // "aaaaaaaaa…"
 * ```
 * @module
 */
import { invariant } from "./invariant.ts";

/**
 * The characters a terminal or a page would not show as themselves, as the body of a
 * RegExp character class (flag `u`): controls (`\p{Cc}`: C0, DEL, C1 — a newline splits a
 * line, an escape sequence reaches the terminal, a tab or CR hides), format characters
 * (`\p{Cf}`: the zero-width space U+200B and the soft hyphen show as nothing, a bidi
 * override such as U+202E or isolate such as U+2066 reverses what follows), the line and
 * paragraph separators U+2028 and U+2029, which some terminals break lines at, the rest of
 * Unicode's default ignorable characters (`\p{DI}`: a combining grapheme joiner U+034F, a
 * variation selector U+FE0F, a Hangul filler U+3164, drawn as nothing or a blank), and the
 * spaces other than U+0020 (`\p{Zs}` but it: a no-break space U+00A0 is drawn as a space).
 * Keys differing only by them looked identical (`victim` and `victim` followed by U+200B, or
 * U+034F). The web console's `HIDDEN_IN_TEXT` (lib/http/console/console.js) quotes keys
 * holding the same characters.
 */
export const HIDDEN_CHARACTERS =
  "\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{DI}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000";

/** The characters {@link oneLine} escapes, all of them. */
const ESCAPED = new RegExp(`[${HIDDEN_CHARACTERS}]`, "gu");
/** Whether one character is among them. */
const ESCAPED_ONE = new RegExp(`^[${HIDDEN_CHARACTERS}]$`, "u");

/** What ends a cut line: one character, so a bound of 1 still has room for it. */
const ELLIPSIS = "…";

/** Options of {@link oneLine}. */
export interface OneLineOptions {
  /**
   * The most characters (UTF-16 code units) the line may have, the escapes and the "…"
   * of a cut included; at least 1. A longer line is cut between characters, never inside
   * an escape or a surrogate pair, and ends with "…". Default: no bound.
   */
  readonly maxCharacters?: number;
}

/**
 * `text` with the characters a terminal would not show as themselves
 * ({@link HIDDEN_CHARACTERS}) escaped `\uXXXX`, so that it stays one line, sends the
 * terminal nothing, and shows each key apart from any other; cut with "…" to
 * `options.maxCharacters`. A line it gave back is given back unchanged: it holds no such
 * character, and fits the same bound.
 *
 * @example
 * ```ts
 * oneLine("a\nb"); // "a\\u000ab"
 * oneLine("victim\u200b"); // "victim\\u200b"
 * oneLine("\u202eevil", { maxCharacters: 8 }); // "\\u202ee…"
 * ```
 */
export function oneLine(text: string, options: OneLineOptions = {}): string {
  const { maxCharacters = Infinity } = options;
  invariant(maxCharacters >= ELLIPSIS.length, `maxCharacters ${maxCharacters} is under 1`);
  const escaped = text.replace(ESCAPED, unicodeEscape);
  return escaped.length <= maxCharacters ? escaped : cut(text, maxCharacters);
}

/** `text` escaped as {@link oneLine} does, up to `maxCharacters` with the "…" that ends it. */
function cut(text: string, maxCharacters: number): string {
  const room = maxCharacters - ELLIPSIS.length;
  let shown = "";
  // Character by character: no escape and no surrogate pair is cut in two.
  for (const character of text) {
    const piece = ESCAPED_ONE.test(character) ? unicodeEscape(character) : character;
    if (shown.length + piece.length > room) break;
    shown += piece;
  }
  return shown + ELLIPSIS;
}

/**
 * A character as `\uXXXX`, or as its surrogate pair's two when past U+FFFF.
 *
 * @example
 * ```ts
 * unicodeEscape("\x1b"); // "\\u001b"
 * ```
 */
export function unicodeEscape(character: string): string {
  let escaped = "";
  for (let i = 0; i < character.length; i++) {
    escaped += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
  }
  return escaped;
}
