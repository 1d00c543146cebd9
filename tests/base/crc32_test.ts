import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c, CRC32C_POLYNOMIAL } from "../../lib/base/crc32.ts";

/** The textbook bit-at-a-time CRC, independent of the sliced tables under test. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CRC32C_POLYNOMIAL : crc >>> 1;
  }
  return ~crc >>> 0;
}

Deno.test("crc32c matches the standard check value and the RFC 3720 vectors", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, index) => index)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, index) => 31 - index)), 0x113fdb5c);
});

Deno.test("crc32c of nothing is zero", () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c agrees with a bit-at-a-time reference on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.equal(crc32c(bytes), bitwiseCrc32c(bytes));
    }),
  );
});

Deno.test("crc32c continued across a split equals the crc of the whole", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
      const whole = new Uint8Array(a.length + b.length);
      whole.set(a);
      whole.set(b, a.length);
      assert.equal(crc32c(b, crc32c(a)), crc32c(whole));
    }),
  );
});

Deno.test("crc32c detects every single-bit flip", () => {
  const bytes = new TextEncoder().encode("a storage log entry of moderate length");
  const original = crc32c(bytes);
  for (let index = 0; index < bytes.length; index++) {
    for (let bit = 0; bit < 8; bit++) {
      bytes[index] ^= 1 << bit;
      assert.notEqual(crc32c(bytes), original, `flip of bit ${bit} in byte ${index}`);
      bytes[index] ^= 1 << bit;
    }
  }
});
