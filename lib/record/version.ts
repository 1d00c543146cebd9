/**
 * Versions: the stamp a broker puts on every write (PUT, DELETE, each record it
 * indexes), so that every replica keeps the newest write of each key whatever
 * order writes reach it in — last write wins.
 *
 * A version is 12 bytes, big-endian, compared as unsigned bytes:
 *
 * | bytes | field                                                                |
 * |-------|----------------------------------------------------------------------|
 * | 0–5   | `ms`: wall-clock milliseconds since 1970 of the broker's hybrid clock |
 * | 6–7   | `counter`: orders writes stamped in the same millisecond             |
 * | 8–11  | `broker`: the stamping broker's random id, breaking ties             |
 *
 * Bytes 0–7 are the hybrid logical clock as one u64, `ms << 16 | counter`
 * (lib/broker/clock.ts makes them). {@link BASE_VERSION}, all zero, is the
 * version of records written before versions existed: older than any write.
 * Its text form ({@link formatVersion}) is the 24 hex digits of the bytes, so
 * texts sort in version order like Deno KV's versionstamps.
 *
 * @example
 * ```ts
 * import { compareVersions, formatVersion, type Version } from "./version.ts";
 * const a: Version = { ms: 1_700_000_000_000, counter: 0, broker: 7 };
 * const b: Version = { ms: 1_700_000_000_000, counter: 1, broker: 3 };
 * compareVersions(a, b); // < 0: a is older
 * formatVersion(a); // "018bcfe56800000000000007"
 * ```
 * @module
 */
import { DecodeError, readU32, writeU32 } from "../base/bytes.ts";

/** Bytes of a version on the wire, in logs and in snapshots. */
export const VERSION_BYTES = 12;

/** Characters of a version's text form: two hex digits a byte. */
export const VERSION_TEXT_LENGTH = 2 * VERSION_BYTES;

/** Largest `ms`: it is a u48 (the year 10889). */
export const MAX_VERSION_MS = 2 ** 48 - 1;

/** Largest `counter`: it is a u16. */
export const MAX_VERSION_COUNTER = 0xffff;

/** Largest `broker` id: it is a u32. */
export const MAX_VERSION_BROKER = 0xffff_ffff;

/** A write's version; see the module documentation. Fields are non-negative integers. */
export interface Version {
  /** Milliseconds since 1970 of the stamping broker's hybrid clock, 0..{@link MAX_VERSION_MS}. */
  readonly ms: number;
  /** Order within one millisecond, 0..{@link MAX_VERSION_COUNTER}. */
  readonly counter: number;
  /** The stamping broker's id, 0..{@link MAX_VERSION_BROKER}. */
  readonly broker: number;
}

/**
 * The version of records written before versions existed (an upgraded data dir):
 * older than any version a broker makes.
 *
 * @example
 * ```ts
 * compareVersions(BASE_VERSION, { ms: 1, counter: 0, broker: 0 }); // < 0
 * ```
 */
export const BASE_VERSION: Version = Object.freeze({ ms: 0, counter: 0, broker: 0 });

/**
 * Whether `version` has integer fields in range.
 *
 * @example
 * ```ts
 * isValidVersion({ ms: 1, counter: 0x10000, broker: 0 }); // false
 * ```
 */
export function isValidVersion(version: Version): boolean {
  return Number.isInteger(version.ms) && version.ms >= 0 && version.ms <= MAX_VERSION_MS &&
    Number.isInteger(version.counter) && version.counter >= 0 &&
    version.counter <= MAX_VERSION_COUNTER && Number.isInteger(version.broker) &&
    version.broker >= 0 && version.broker <= MAX_VERSION_BROKER;
}

/**
 * Negative when `a` is older than `b`, 0 when equal, positive when newer: the
 * order of their 12 bytes compared as unsigned big-endian.
 *
 * @example
 * ```ts
 * compareVersions({ ms: 2, counter: 0, broker: 0 }, { ms: 1, counter: 9, broker: 9 }); // > 0
 * ```
 */
export function compareVersions(a: Version, b: Version): number {
  return (a.ms - b.ms) || (a.counter - b.counter) || (a.broker - b.broker);
}

/**
 * The newer of two versions (`a` when equal).
 *
 * @example
 * ```ts
 * newerVersion(BASE_VERSION, { ms: 5, counter: 0, broker: 1 }); // the second
 * ```
 */
export function newerVersion(a: Version, b: Version): Version {
  return compareVersions(a, b) >= 0 ? a : b;
}

/**
 * Writes `version`'s 12 bytes at `target[offset]` and returns the offset after them.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(VERSION_BYTES);
 * writeVersion(bytes, 0, { ms: 1, counter: 2, broker: 3 }); // 12
 * ```
 */
export function writeVersion(target: Uint8Array, offset: number, version: Version): number {
  if (!isValidVersion(version)) throw new RangeError(`invalid version ${JSON.stringify(version)}`);
  const high = Math.floor(version.ms / 2 ** 32);
  const low = version.ms % 2 ** 32;
  target[offset] = high >>> 8;
  target[offset + 1] = high & 0xff;
  writeU32(target, offset + 2, low);
  target[offset + 6] = version.counter >>> 8;
  target[offset + 7] = version.counter & 0xff;
  writeU32(target, offset + 8, version.broker);
  return offset + VERSION_BYTES;
}

/**
 * The version whose 12 bytes are at `source[offset]`; a DecodeError when fewer remain.
 *
 * @example
 * ```ts
 * readVersion(new Uint8Array(12), 0); // BASE_VERSION's fields
 * ```
 */
export function readVersion(source: Uint8Array, offset: number): Version {
  if (!(offset >= 0 && offset + VERSION_BYTES <= source.length)) {
    throw new DecodeError(`truncated version at byte ${offset}`);
  }
  return {
    ms: readVersionMs(source, offset),
    counter: (source[offset + 6] << 8) | source[offset + 7],
    broker: readU32(source, offset + 8),
  };
}

/**
 * The `ms` of the version whose bytes are at `source[offset]` (the caller checked that 12
 * remain), without building the version: for a server looking at every item of a batch.
 *
 * @example
 * ```ts
 * readVersionMs(new Uint8Array(12), 0); // 0
 * ```
 */
export function readVersionMs(source: Uint8Array, offset: number): number {
  const high = (source[offset] << 8) | source[offset + 1];
  return high * 2 ** 32 + readU32(source, offset + 2);
}

/**
 * The text form of `version`: its 12 bytes as 24 lowercase hex digits, so that
 * texts compare as the versions do (what `--json` answers carry as `"version"`).
 *
 * @example
 * ```ts
 * formatVersion(BASE_VERSION); // "000000000000000000000000"
 * ```
 */
export function formatVersion(version: Version): string {
  if (!isValidVersion(version)) throw new RangeError(`invalid version ${JSON.stringify(version)}`);
  // The bytes' hex, field by field: 6 bytes of ms, 2 of counter, 4 of broker (writeVersion).
  // Every `--json` answer prints one: character codes made into one flat string cost a
  // quarter of toString(16) and padStart, and half of joining hex pairs (a rope of 12).
  const high = Math.floor(version.ms / 2 ** 32);
  putHex(0, high, 4);
  putHex(4, version.ms - high * 2 ** 32, 8);
  putHex(12, version.counter, 4);
  putHex(16, version.broker, 8);
  return String.fromCharCode.apply(null, versionCodes);
}

/** The character codes of the text {@link formatVersion} is making. */
const versionCodes: number[] = new Array(VERSION_TEXT_LENGTH).fill(0);

const HEX_CODES: readonly number[] = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** Puts the `digits` last hex digits of the u32 `value` at `versionCodes[at]`. */
function putHex(at: number, value: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    versionCodes[i] = HEX_CODES[value & 0xf];
    value >>>= 4;
  }
}

/**
 * The version whose text form is `text`; a DecodeError unless it is exactly 24 hex digits.
 *
 * @example
 * ```ts
 * parseVersion("0000000000000001000000ff"); // { ms: 0, counter: 1, broker: 255 }
 * ```
 */
export function parseVersion(text: string): Version {
  if (!/^[0-9a-fA-F]{24}$/.test(text)) {
    throw new DecodeError(
      `a version is ${VERSION_TEXT_LENGTH} hex digits: ${JSON.stringify(text)}`,
    );
  }
  const bytes = new Uint8Array(VERSION_BYTES);
  for (let i = 0; i < VERSION_BYTES; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return readVersion(bytes, 0);
}
