/**
 * Breaks text at spaces into lines of at most a given number of characters, so that help
 * text a terminal would wrap mid-word goes on under itself instead.
 *
 * @example
 * ```ts
 * import { wrapWords } from "./wrap_words.ts";
 * wrapWords("fewer than k servers could delete it", 20); // ["fewer than k servers", "could delete it"]
 * ```
 * @module
 */

/**
 * Columns every help text fits in (`kv --help`, each command's, the REPL's HELP): a
 * terminal's default width, so that none wraps mid-word.
 */
export const HELP_COLUMNS = 80;

/**
 * `text` broken at single spaces into lines of at most `columns` characters (UTF-16 code
 * units, as the help texts it serves are ASCII); a word longer than that is a line of its own,
 * never cut.
 *
 * @example
 * ```ts
 * wrapWords("a b c", 3); // ["a b", "c"]
 * wrapWords("unbreakable", 4); // ["unbreakable"]
 * ```
 */
export function wrapWords(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}
