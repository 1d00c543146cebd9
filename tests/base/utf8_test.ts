import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import {
  firstInvalidUtf8,
  isWellFormedUtf8,
  readUtf8,
  utf8Length,
  writeUtf8,
} from "../../lib/base/utf8.ts";

const encoder = new TextEncoder();

Deno.test("utf8Length, writeUtf8 and readUtf8 agree with the platform codec", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (text) => {
      const expected = encoder.encode(text);
      assert.equal(utf8Length(text), expected.length);
      const buffer = new Uint8Array(expected.length + 2);
      assert.equal(writeUtf8(text, buffer, 1), expected.length + 1);
      assert.deepEqual(buffer.subarray(1, expected.length + 1), expected);
      assert.equal(readUtf8(buffer, 1, expected.length), text);
    }),
    { numRuns: 500 },
  );
});

Deno.test("isWellFormedUtf8 judges every byte string as a fatal TextDecoder does, and firstInvalidUtf8 finds where it stops decoding", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const decodes = (bytes: Uint8Array) => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  // Mostly bytes around the multi-byte lead and continuation ranges, where the rules are.
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0x80, max: 0xbf }),
    fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
  );
  fc.assert(
    fc.property(
      fc.array(byte, { maxLength: 12 }).map((bytes) => new Uint8Array(bytes)),
      (bytes) => {
        assert.equal(isWellFormedUtf8(bytes, 0, bytes.length), decodes(bytes));
        // Where it is not: the bytes before decode, and no longer prefix ending there does.
        const at = firstInvalidUtf8(bytes, 0, bytes.length);
        assert.equal(at < 0, decodes(bytes));
        if (at >= 0) {
          assert.ok(decodes(bytes.subarray(0, at)));
          for (let end = at + 1; end <= Math.min(at + 4, bytes.length); end++) {
            assert.ok(!decodes(bytes.subarray(0, end)), `${bytes} ${at} ${end}`);
          }
        }
      },
    ),
    { numRuns: 20_000 },
  );
  fc.assert(
    fc.property(anyText(), (text) => {
      const bytes = new TextEncoder().encode(text);
      assert.equal(isWellFormedUtf8(bytes, 0, bytes.length), true);
    }),
  );
});

Deno.test("utf8Length matches TextEncoder, counting lone surrogates as U+FFFD", () => {
  fc.assert(
    fc.property(anyText({ maxLength: 40 }), (text) => {
      assert.equal(utf8Length(text), new TextEncoder().encode(text).length);
    }),
  );
  assert.equal(utf8Length("\ud800"), 3);
  assert.equal(utf8Length("a\udc00\ud800"), 7);
  assert.equal(utf8Length("\ud800x\udc00"), 7);
});
