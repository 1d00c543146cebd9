/**
 * UTF-8 helpers shared by the parser, the codecs and the trie (which stores every
 * key, field name and string as UTF-8 bytes and orders record keys by those
 * bytes). They write into caller-owned buffers so that hot paths allocate nothing.
 *
 * @example
 * ```ts
 * import { utf8Length, writeUtf8 } from "./utf8.ts";
 * const bytes = new Uint8Array(utf8Length("héllo"));
 * writeUtf8("héllo", bytes, 0); // 6
 * ```
 * @module
 */

/** Strings longer than this (in UTF-16 units) are encoded and decoded by the platform codecs. */
const MANUAL_CODEC_MAX_UNITS = 32;

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in a string: it is data, not a byte order mark.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The number of bytes `text` takes in UTF-8, as TextEncoder writes it: a lone
 * surrogate counts as the 3 bytes of the U+FFFD that replaces it.
 *
 * @example
 * ```ts
 * utf8Length("a€😀"); // 1 + 3 + 4 = 8
 * ```
 */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      // A surrogate pair: one 4-byte sequence.
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/**
 * Whether UTF-16 unit `unit` is a high (leading) surrogate, U+D800 to U+DBFF: the first
 * half of a character above U+FFFF.
 *
 * @example
 * ```ts
 * isHighSurrogate("😀".charCodeAt(0)); // true
 * ```
 */
export function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/**
 * Whether UTF-16 unit `unit` is a low (trailing) surrogate, U+DC00 to U+DFFF: the second
 * half of a character above U+FFFF.
 *
 * @example
 * ```ts
 * isLowSurrogate("😀".charCodeAt(1)); // true
 * ```
 */
export function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Writes the UTF-8 bytes of a well-formed string into `target` at `offset`, which must
 * have room for {@link utf8Length} bytes. Returns the offset just past the last byte.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(4);
 * writeUtf8("ab", bytes, 1); // 3; bytes = [0, 97, 98, 0]
 * ```
 */
export function writeUtf8(text: string, target: Uint8Array, offset: number): number {
  if (text.length > MANUAL_CODEC_MAX_UNITS) {
    const { written } = encoder.encodeInto(text, target.subarray(offset));
    return offset + written;
  }
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    let point = text.charCodeAt(i);
    if (point < 0x80) {
      target[at++] = point;
    } else if (point < 0x800) {
      target[at++] = 0xc0 | (point >> 6);
      target[at++] = 0x80 | (point & 0x3f);
    } else if (point >= 0xd800 && point <= 0xdbff) {
      point = 0x10000 + ((point - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      target[at++] = 0xf0 | (point >> 18);
      target[at++] = 0x80 | ((point >> 12) & 0x3f);
      target[at++] = 0x80 | ((point >> 6) & 0x3f);
      target[at++] = 0x80 | (point & 0x3f);
    } else {
      target[at++] = 0xe0 | (point >> 12);
      target[at++] = 0x80 | ((point >> 6) & 0x3f);
      target[at++] = 0x80 | (point & 0x3f);
    }
  }
  return at;
}

/**
 * Decodes `length` UTF-8 bytes of `source` starting at `offset`. Short ASCII runs, the
 * common case for keys and generated values, skip the platform decoder's call overhead.
 *
 * @example
 * ```ts
 * readUtf8(new Uint8Array([104, 105]), 0, 2); // "hi"
 * ```
 */
export function readUtf8(source: Uint8Array, offset: number, length: number): string {
  if (length <= MANUAL_CODEC_MAX_UNITS) {
    let text = "";
    for (let i = offset; i < offset + length; i++) {
      const byte = source[i];
      if (byte >= 0x80) return decoder.decode(source.subarray(offset, offset + length));
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return decoder.decode(source.subarray(offset, offset + length));
}

/**
 * Whether `source[start, end)` is well-formed UTF-8, exactly as a fatal TextDecoder
 * judges it: no stray continuation bytes, no overlong forms, no surrogates (U+D800..
 * U+DFFF), nothing above U+10FFFF, no sequence cut short by `end`.
 *
 * @example
 * ```ts
 * isWellFormedUtf8(new Uint8Array([0xc3, 0xa9]), 0, 2); // true: "é"
 * isWellFormedUtf8(new Uint8Array([0xc3]), 0, 1); // false: cut short
 * ```
 */
export function isWellFormedUtf8(source: Uint8Array, start: number, end: number): boolean {
  return firstInvalidUtf8(source, start, end) < 0;
}

/**
 * The index of the first byte of `source[start, end)` that starts no well-formed UTF-8
 * character ({@link isWellFormedUtf8}'s rules: a stray or overlong byte, a surrogate, a
 * sequence broken or cut short by `end`), or -1 when all of it is well formed: where a
 * message tells a person their file or line stops being UTF-8.
 *
 * @example
 * ```ts
 * firstInvalidUtf8(new Uint8Array([0x61, 0xc3, 0x41]), 0, 3); // 1: 0xc3 needs a continuation
 * ```
 */
export function firstInvalidUtf8(source: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const lead = source[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    // The allowed range of the byte after the lead (Unicode Table 3-7), then how many
    // continuation bytes (0x80..0xBF) follow that one.
    let low = 0x80;
    let high = 0xbf;
    let rest: number;
    if (lead >= 0xc2 && lead <= 0xdf) rest = 0;
    else if (lead >= 0xe0 && lead <= 0xef) rest = 1;
    else if (lead >= 0xf0 && lead <= 0xf4) rest = 2;
    else return i;
    if (lead === 0xe0) low = 0xa0; // overlong below U+0800
    else if (lead === 0xed) high = 0x9f; // surrogates
    else if (lead === 0xf0) low = 0x90; // overlong below U+10000
    else if (lead === 0xf4) high = 0x8f; // above U+10FFFF
    if (i + 2 + rest > end) return i;
    const second = source[i + 1];
    if (second < low || second > high) return i;
    for (let k = 0; k < rest; k++) {
      const byte = source[i + 2 + k];
      if (byte < 0x80 || byte > 0xbf) return i;
    }
    i += 2 + rest;
  }
  return -1;
}

/**
 * Orders strings by their UTF-8 bytes, which is Unicode code point order: the order in
 * which the trie lists keys, and the order the broker merges KEYS answers in. Returns a
 * negative number, zero or a positive number, like `Array.prototype.sort` expects.
 *
 * @example
 * ```ts
 * ["b", "😀", "a", "\uffff"].sort(compareKeys); // ["a", "b", "\uffff", "😀"]
 * ```
 */
export function compareKeys(a: string, b: string): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (unitA !== unitB) return codePointRank(unitA) - codePointRank(unitB);
  }
  return a.length - b.length;
}

/**
 * Maps a UTF-16 unit so that comparing ranks of the first differing units compares code
 * points: surrogates (which encode points above U+FFFF) must sort after U+E000..U+FFFF.
 */
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
