/**
 * What answers at an address given for a kv server when no kv server does, told by the first
 * bytes it sent on the connection (docs/protocol.md, "Writing a client").
 *
 * Why it is safe: a kv server's first bytes on a connection are the header of its answer to
 * HELLO (the welcome, the challenge or an ERROR), a frame of at most 4102 bytes, so their first
 * byte, the high byte of the body length, is always 0. A first byte other than 0 is no kv
 * server's, whatever follows, and a kv client given such an address was given a wrong one:
 * reconnecting cannot mend it. A server that sent nothing (slow, hung, SIGSTOPped, or a
 * stranger waiting for a request it understands) or whose first byte is 0 is never judged
 * here: it may be a kv server, and stays "down".
 *
 * The common strangers are named by how they start: an HTTP response (`kv http`'s port, say),
 * an SSH banner, a Redis error, an SMTP or FTP greeting, and a TLS alert (a TLS server, kv's
 * own among them, answering a plain HELLO); any other is "no kv answer", its first bytes shown.
 *
 * @example
 * ```ts
 * import { strangerOf } from "./stranger.ts";
 * strangerOf(new TextEncoder().encode("SSH-2.0-OpenSSH_9.6\r\n"));
 * // { kind: "ssh", reason: 'it answered like an SSH server: "SSH-2.0-OpenSSH_9.6"' }
 * strangerOf(Uint8Array.of(0, 0, 0, 37, 0x80)); // undefined: a kv answer may start so
 * ```
 * @module
 */
import { oneLine } from "../record/key.ts";
import { TLS_ALERT_ANSWER } from "./credentials.ts";

/**
 * Bytes of a connection's start a client keeps to judge it by: a banner's first line, or as
 * much of it as {@link strangerOf} quotes.
 */
export const OPENING_BYTES = 64;

/** Characters of a stranger's first line quoted at most, escapes included; a longer one is cut with "…". */
const QUOTED_CHARACTERS = 41;

/**
 * Printable characters an opening must start with to be quoted as text rather than shown in
 * hex: a binary length's byte may happen to be a letter (MySQL's greeting starts "J\0\0\0").
 */
const MIN_QUOTED_CHARACTERS = 3;

/** Bytes shown, in hex, of an opening that is no text. */
const HEX_BYTES = 8;

/**
 * What answered instead of a kv server: `kind`, and `reason`, a clause saying so for a line
 * that ends "is no kv server (REASON)".
 *
 * @example
 * ```ts
 * const http: Stranger = { kind: "http", reason: "it answered in HTTP; kv http's port?" };
 * ```
 */
export interface Stranger {
  /**
   * `"http"`: an HTTP server (`kv http`, say). `"ssh"`: an SSH server's banner.
   * `"redis"`: a Redis error (`-ERR`, `-NOAUTH`, `-DENIED`). `"greeting"`: a numbered greeting
   * line as SMTP and FTP servers send (`220 …`). `"tls"`: a TLS alert record, a TLS server's
   * answer to plain bytes. `"unknown"`: any other first byte than 0.
   */
  readonly kind: "http" | "ssh" | "redis" | "greeting" | "tls" | "unknown";
  /** What seems to answer there, in a clause: `it answered like a Redis server: "-ERR …"`. */
  readonly reason: string;
}

/** The strangers named by their first line, in the order tried; the rest are "unknown". */
const NAMED: readonly { kind: Stranger["kind"]; starts: RegExp; what: string }[] = [
  { kind: "ssh", starts: /^SSH-\d/, what: "an SSH server" },
  // RESP's error: "-", a word in capitals, then its message.
  { kind: "redis", starts: /^-[A-Z]{2,}[ \r]/, what: "a Redis server" },
  // RFC 5321's and RFC 959's reply: three digits, then a space or (more lines follow) "-".
  { kind: "greeting", starts: /^[1-5]\d\d[ -]/, what: "an SMTP or FTP server" },
];

/** A TLS record's type for an alert, and its version's major byte (3 for TLS 1.0 to 1.3). */
const TLS_ALERT_RECORD = 0x15;
const TLS_MAJOR_VERSION = 0x03;
/** A TLS record header's bytes (type, version, length) and an alert's body (level, code). */
const TLS_RECORD_HEADER_BYTES = 5;
const TLS_ALERT_BODY_BYTES = 2;

/**
 * What answered, judged by `opening`, the first bytes a server sent on a connection (up to
 * {@link OPENING_BYTES}), when no kv server can have sent them; undefined when one may have
 * (nothing sent, or a first byte of 0). See the module's documentation for why.
 *
 * @example
 * ```ts
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * strangerOf(bytes("HTTP/1.1 400 Bad Request\r\n"))?.kind; // "http"
 * strangerOf(bytes("-NOAUTH Authentication required.\r\n"))?.reason;
 * // 'it answered like a Redis server: "-NOAUTH Authentication required."'
 * strangerOf(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32))?.kind; // "tls"
 * strangerOf(new Uint8Array(0)); // undefined: nothing sent, a slow kv server perhaps
 * ```
 */
export function strangerOf(opening: Uint8Array): Stranger | undefined {
  if (opening.length === 0 || opening[0] === 0) return undefined;
  if (isTlsAlert(opening)) {
    return { kind: "tls", reason: TLS_ALERT_ANSWER };
  }
  // Each byte as the character of its code: the patterns are ASCII.
  const text = String.fromCharCode(...opening);
  if (text.startsWith("HTTP/")) {
    return { kind: "http", reason: "it answered in HTTP; kv http's port?" };
  }
  const line = firstLine(opening);
  for (const { kind, starts, what } of NAMED) {
    if (starts.test(text)) return { kind, reason: `it answered like ${what}: ${line}` };
  }
  return { kind: "unknown", reason: `it answered ${line}, which no kv server sends first` };
}

/**
 * Whether `bytes` start with a TLS alert record: a TLS server's answer to bytes that are no
 * TLS, such as a plain HELLO (kv's own TLS server sends `15 03 03 00 02 02 32`,
 * lib/protocol/tls_server.ts). Its first byte, 0x15, starts no kv answer.
 *
 * @example
 * ```ts
 * isTlsAlert(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32)); // true
 * ```
 */
export function isTlsAlert(bytes: Uint8Array): boolean {
  return bytes.length >= TLS_RECORD_HEADER_BYTES && bytes[0] === TLS_ALERT_RECORD &&
    bytes[1] === TLS_MAJOR_VERSION && ((bytes[3] << 8) | bytes[4]) === TLS_ALERT_BODY_BYTES;
}

/**
 * `opening`'s first line in quotes, as UTF-8, shown by {@link oneLine} as every text another
 * process sent is (what a terminal would not show as itself escaped, cut with "…" past
 * QUOTED_CHARACTERS); when it starts with fewer than MIN_QUOTED_CHARACTERS printable ASCII
 * characters, its first HEX_BYTES bytes in hex: nothing a stranger sent reaches the user's
 * terminal raw.
 */
function firstLine(opening: Uint8Array): string {
  let printable = 0;
  while (printable < MIN_QUOTED_CHARACTERS && isPrintable(opening[printable])) printable++;
  if (printable < MIN_QUOTED_CHARACTERS) {
    const hex = [...opening.subarray(0, HEX_BYTES)].map((byte) =>
      byte.toString(16).padStart(2, "0")
    );
    return `the bytes ${hex.join(" ")}${opening.length > HEX_BYTES ? " …" : ""}`;
  }
  const [line] = new TextDecoder().decode(opening).split(LINE_END, 1);
  return `"${oneLine(line, { maxCharacters: QUOTED_CHARACTERS })}"`;
}

/** What ends a line: CR, LF or both. */
const LINE_END = /[\r\n]/;

/** Whether `byte` (undefined past the end) is a printable ASCII character, the space included. */
function isPrintable(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x20 && byte < 0x7f;
}
