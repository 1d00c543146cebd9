/**
 * How many terminal columns text takes, as wcwidth counts them: 2 for the East Asian wide
 * and fullwidth characters (CJK, Hangul, fullwidth forms) and emoji, 0 for combining marks
 * and other characters drawn over or between their neighbours, 1 for the rest. The line
 * editor places its cursor and scrolls its line by these, not by UTF-16 code units: a line
 * of CJK text took twice the columns it was counted for, wrapped, and left the cursor in
 * the middle of the text.
 *
 * @example
 * ```ts
 * import { charColumns, textColumns } from "./columns.ts";
 * textColumns("GET 你好"); // 8
 * charColumns("😀".codePointAt(0)!); // 2
 * ```
 * @module
 */

/**
 * The code points two columns wide, as pairs of first and last, in order: Unicode's East
 * Asian Width W and F (EastAsianWidth.txt), emoji presented as pictures included.
 */
const WIDE_RANGES: readonly number[] = [
  0x1100,
  0x115f,
  0x231a,
  0x231b,
  0x2329,
  0x232a,
  0x23e9,
  0x23ec,
  0x23f0,
  0x23f0,
  0x23f3,
  0x23f3,
  0x25fd,
  0x25fe,
  0x2614,
  0x2615,
  0x2648,
  0x2653,
  0x267f,
  0x267f,
  0x2693,
  0x2693,
  0x26a1,
  0x26a1,
  0x26aa,
  0x26ab,
  0x26bd,
  0x26be,
  0x26c4,
  0x26c5,
  0x26ce,
  0x26ce,
  0x26d4,
  0x26d4,
  0x26ea,
  0x26ea,
  0x26f2,
  0x26f3,
  0x26f5,
  0x26f5,
  0x26fa,
  0x26fa,
  0x26fd,
  0x26fd,
  0x2705,
  0x2705,
  0x270a,
  0x270b,
  0x2728,
  0x2728,
  0x274c,
  0x274c,
  0x274e,
  0x274e,
  0x2753,
  0x2755,
  0x2757,
  0x2757,
  0x2795,
  0x2797,
  0x27b0,
  0x27b0,
  0x27bf,
  0x27bf,
  0x2b1b,
  0x2b1c,
  0x2b50,
  0x2b50,
  0x2b55,
  0x2b55,
  0x2e80,
  0x303e,
  0x3041,
  0x33ff,
  0x3400,
  0x4dbf,
  0x4e00,
  0x9fff,
  0xa000,
  0xa4cf,
  0xa960,
  0xa97f,
  0xac00,
  0xd7a3,
  0xf900,
  0xfaff,
  0xfe10,
  0xfe19,
  0xfe30,
  0xfe6f,
  0xff00,
  0xff60,
  0xffe0,
  0xffe6,
  0x16fe0,
  0x16fe4,
  0x17000,
  0x18aff,
  0x1b000,
  0x1b2ff,
  0x1f004,
  0x1f004,
  0x1f0cf,
  0x1f0cf,
  0x1f18e,
  0x1f18e,
  0x1f191,
  0x1f19a,
  0x1f200,
  0x1f202,
  0x1f210,
  0x1f23b,
  0x1f240,
  0x1f248,
  0x1f250,
  0x1f251,
  0x1f260,
  0x1f265,
  0x1f300,
  0x1f64f,
  0x1f680,
  0x1f6ff,
  0x1f7e0,
  0x1f7eb,
  0x1f90c,
  0x1f9ff,
  0x1fa70,
  0x1faff,
  0x20000,
  0x2fffd,
  0x30000,
  0x3fffd,
];

/** Characters drawn over or between their neighbours: marks, format characters (ZWJ). */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

/** Below this every code point is one column (ASCII, Latin-1, no marks): no lookup needed. */
const FIRST_NOT_NARROW = 0x300;

/**
 * The columns one code point takes: 0, 1 or 2 (see the module's doc).
 *
 * @example
 * ```ts
 * charColumns(0x41); // 1: A
 * charColumns(0x4f60); // 2: 你
 * charColumns(0x301); // 0: a combining acute accent
 * ```
 */
export function charColumns(codePoint: number): number {
  if (codePoint < FIRST_NOT_NARROW) return 1;
  let low = 0;
  let high = WIDE_RANGES.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codePoint < WIDE_RANGES[2 * middle]) high = middle - 1;
    else if (codePoint > WIDE_RANGES[2 * middle + 1]) low = middle + 1;
    else return 2;
  }
  return ZERO_WIDTH.test(String.fromCodePoint(codePoint)) ? 0 : 1;
}

/**
 * The columns `text` takes: its code points' {@link charColumns}, summed.
 *
 * @example
 * ```ts
 * textColumns("kv> "); // 4
 * textColumns("世界"); // 4
 * ```
 */
export function textColumns(text: string): number {
  let columns = 0;
  for (const character of text) columns += charColumns(character.codePointAt(0)!);
  return columns;
}

/**
 * The longest start of `text` that takes at most `room` columns ({@link charColumns}): a
 * line cut to fit a terminal's width, so that it does not wrap. Empty when `room` < 1.
 *
 * @example
 * ```ts
 * fitColumns("indexing data.txt", 8); // "indexing"
 * fitColumns("世界", 3); // "世": the second character would take columns 3 and 4
 * ```
 */
export function fitColumns(text: string, room: number): string {
  let used = 0;
  let end = 0;
  for (const character of text) {
    used += charColumns(character.codePointAt(0)!);
    if (used > room) break;
    end += character.length;
  }
  return text.slice(0, end);
}
