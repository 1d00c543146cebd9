import assert from "node:assert/strict";
import fc from "fast-check";
import { isTlsAlert, OPENING_BYTES, strangerOf } from "../../lib/protocol/stranger.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import {
  ErrorCode,
  MAX_ERROR_MESSAGE_BYTES,
  NO_LIST,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";

const text = (line: string) => new TextEncoder().encode(line);

Deno.test("what a kv server sends first — its welcome, its challenge, its largest ERROR, to request 1 or 0 — is never a stranger's, whole or cut anywhere", () => {
  const frames = new FrameWriter();
  frames.okHello(1, {
    version: PROTOCOL_VERSION,
    maxFrameBytes: 1 << 30,
    idleTimeoutMs: 30_000,
    serverId: "9f3a0c5e12b47d68",
    state: { unrepaired: true, k: 0, repairedUnder: NO_LIST },
  });
  frames.okHelloChallenge(1, { version: PROTOCOL_VERSION, challenge: new Uint8Array(32) });
  frames.error(0, ErrorCode.BUSY, "x".repeat(MAX_ERROR_MESSAGE_BYTES));
  frames.error(1, ErrorCode.UNSUPPORTED_VERSION, "é".repeat(MAX_ERROR_MESSAGE_BYTES / 2));
  const all = frames.bytes();
  // Each frame's start, the first byte a connection could bring.
  for (let at = 0; at < all.length;) {
    const length = new DataView(all.buffer, all.byteOffset + at).getUint32(0);
    for (let end = at; end <= Math.min(at + OPENING_BYTES, all.length); end++) {
      assert.equal(strangerOf(all.subarray(at, end)), undefined, `frame at ${at}, cut at ${end}`);
    }
    at += 9 + length;
  }
});

Deno.test("an opening is a stranger's exactly when it has a first byte and that byte is not 0", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: OPENING_BYTES }), (opening) => {
    const judged = strangerOf(opening) !== undefined;
    assert.equal(judged, opening.length > 0 && opening[0] !== 0);
  }));
});

Deno.test("the common strangers are named by their first line, quoted with what a terminal would not show escaped, cut with '…'", () => {
  const cases: [Uint8Array, string, string][] = [
    [text("HTTP/1.1 400 Bad Request\r\n\r\n"), "http", "it answered in HTTP; kv http's port?"],
    [
      text("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
      "ssh",
      'it answered like an SSH server: "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"',
    ],
    [
      text("-DENIED Redis is running in protected mode because protected mode is enabled\r\n"),
      "redis",
      'it answered like a Redis server: "-DENIED Redis is running in protected mo…"',
    ],
    [
      text("220-mail.example.com ESMTP\r\n220 ready\r\n"),
      "greeting",
      'it answered like an SMTP or FTP server: "220-mail.example.com ESMTP"',
    ],
    [
      Uint8Array.of(0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28),
      "tls",
      "it answered a plain HELLO with a TLS alert",
    ],
    [
      text("* OK IMAP4rev1 ready\r\n"),
      "unknown",
      'it answered "* OK IMAP4rev1 ready", which no kv server sends first',
    ],
    // An escape sequence, a bidi override, is never written to the user's terminal: shown as
    // text (as a kv server's ERROR message is), the line cut with "…" where it is long.
    [
      text("okay\u001b[31m\u202e"),
      "unknown",
      'it answered "okay\\u001b[31m\\u202e", which no kv server sends first',
    ],
    [
      text(`-ERR unknown command '\0\0\0\x07\x01'\r\n`),
      "redis",
      'it answered like a Redis server: "-ERR unknown command \'\\u0000\\u0000\\u0000…"',
    ],
    [
      Uint8Array.of(0xff, 0xfe, 0x1b, 0x5b),
      "unknown",
      "it answered the bytes ff fe 1b 5b, which no kv server sends first",
    ],
  ];
  for (const [opening, kind, reason] of cases) {
    assert.deepEqual(strangerOf(opening), { kind, reason });
  }
});

Deno.test("a TLS alert record is told by its type, major version and two-byte length", () => {
  assert.equal(isTlsAlert(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32)), true);
  assert.equal(isTlsAlert(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x03)), false);
  assert.equal(isTlsAlert(Uint8Array.of(0x16, 0x03, 0x03, 0x00, 0x02)), false);
  assert.equal(isTlsAlert(Uint8Array.of(0x15, 0x03, 0x03, 0x00)), false);
});
