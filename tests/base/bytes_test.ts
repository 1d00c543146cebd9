import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import {
  ByteReader,
  ByteWriter,
  checkCountFits,
  copyBytes,
  DecodeError,
  MAX_VARINT_BYTES,
  readVarint,
  UTF8_CACHE_MAX_BYTES,
  UTF8_CACHE_SLOTS,
  Utf8Cache,
  varintLength,
  writeF64,
  writeVarint,
} from "../../lib/base/bytes.ts";

Deno.test("ByteWriter and ByteReader round-trip every number type and strings", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.maxSafeInteger(),
      fc.double(),
      fc.string({ unit: "grapheme" }),
      fc.uint8Array({ maxLength: 64 }),
      (u8, u16, u32, i64, f64, text, raw) => {
        const writer = new ByteWriter(1);
        writer.u8(u8);
        writer.u16(u16);
        writer.u32(u32);
        writer.i64(i64);
        writer.f64(f64);
        writer.string(text);
        writer.raw(raw);
        const reader = new ByteReader(writer.bytes());
        assert.equal(reader.u8(), u8);
        assert.equal(reader.u16(), u16);
        assert.equal(reader.u32(), u32);
        assert.equal(reader.i64(), i64);
        assert.ok(Object.is(reader.f64(), f64));
        assert.equal(reader.string(), text);
        assert.deepEqual(reader.raw(raw.length), raw);
        assert.equal(reader.remaining, 0);
      },
    ),
  );
});

Deno.test("ByteWriter grows past its capacity and reset keeps nothing", () => {
  const writer = new ByteWriter(16);
  for (let index = 0; index < 1000; index++) writer.u32(index);
  assert.equal(writer.length, 4000);
  const reader = new ByteReader(writer.bytes());
  for (let index = 0; index < 1000; index++) assert.equal(reader.u32(), index);
  writer.reset();
  assert.equal(writer.length, 0);
  assert.equal(writer.bytes().length, 0);
});

Deno.test("ByteWriter.patchU32 overwrites in place and refuses past the end", () => {
  const writer = new ByteWriter();
  writer.u32(0);
  writer.u8(7);
  writer.patchU32(0, 0xdeadbeef);
  assert.deepEqual([...writer.bytes()], [0xde, 0xad, 0xbe, 0xef, 7]);
  assert.throws(() => writer.patchU32(2, 1), RangeError);
});

Deno.test("ByteWriter.patchU8 overwrites one byte in place and refuses past the end", () => {
  const writer = new ByteWriter();
  writer.u8(0);
  writer.u8(7);
  writer.patchU8(0, 0x81);
  assert.deepEqual([...writer.bytes()], [0x81, 7]);
  assert.throws(() => writer.patchU8(2, 1), RangeError);
});

Deno.test("ByteWriter.room grows the buffer for bytes written by hand, advance counts them and refuses past the room", () => {
  const writer = new ByteWriter(16);
  writer.u8(9);
  const buffer = writer.room(100);
  assert.ok(buffer.length >= 101);
  for (let i = 0; i < 100; i++) buffer[writer.length + i] = i;
  writer.advance(100);
  assert.deepEqual([...writer.bytes()], [9, ...Array.from({ length: 100 }, (_, i) => i)]);
  assert.throws(() => writer.advance(writer.room(0).length), RangeError);
  assert.throws(() => writer.advance(-1), RangeError);
  assert.equal(writer.length, 101);
});

Deno.test("copyBytes copies short runs and long ones alike and returns the offset past the copy", () => {
  const source = Uint8Array.from({ length: 200 }, (_, i) => i);
  for (const [start, end] of [[0, 0], [3, 7], [10, 42], [10, 43], [5, 200]]) {
    const target = new Uint8Array(210).fill(0xee);
    assert.equal(copyBytes(target, 4, source, start, end), 4 + end - start);
    assert.deepEqual(target.subarray(4, 4 + end - start), source.subarray(start, end));
    assert.equal(target[3], 0xee);
    assert.equal(target[4 + end - start], 0xee);
  }
});

Deno.test("writeF64 writes the 8 bytes ByteWriter.f64 writes, at its offset, and returns the offset past them", () => {
  fc.assert(
    fc.property(fc.double(), fc.integer({ min: 0, max: 8 }), (value, offset) => {
      const writer = new ByteWriter();
      writer.f64(value);
      const target = new Uint8Array(16);
      assert.equal(writeF64(target, offset, value), offset + 8);
      assert.deepEqual(target.subarray(offset, offset + 8), writer.bytes());
    }),
  );
});

Deno.test("ByteReader reads only between start and end", () => {
  const reader = new ByteReader(new Uint8Array([1, 2, 3, 4]), 1, 3);
  assert.equal(reader.offset, 1);
  assert.equal(reader.remaining, 2);
  assert.equal(reader.u8(), 2);
  assert.equal(reader.u8(), 3);
  assert.throws(() => reader.u8(), DecodeError);
});

Deno.test("ByteReader.count takes a count whose items fit in the bytes left, and refuses one more", () => {
  const fits = new ByteReader(new Uint8Array([0, 0, 0, 2, 1, 2, 3, 4, 5, 6]));
  assert.equal(fits.count("entry count", 3), 2);
  assert.equal(fits.remaining, 6);
  const over = new ByteReader(new Uint8Array([0, 0, 0, 3, 1, 2, 3, 4, 5, 6]));
  assert.throws(
    () => over.count("entry count", 3),
    /^DecodeError: entry count 3 exceeds the bytes$/,
  );
  assert.doesNotThrow(() => checkCountFits(0, 5, 0, "key count"));
  assert.throws(() => checkCountFits(1, 5, 4, "key count"), /^DecodeError: key count 1 exceeds/);
});

Deno.test("ByteReader throws DecodeError for every truncated read", () => {
  const empty = () => new ByteReader(new Uint8Array(3));
  assert.throws(() => new ByteReader(new Uint8Array(0)).u8("tag"), /truncated tag at byte 0/);
  assert.throws(() => new ByteReader(new Uint8Array(1)).u16(), DecodeError);
  assert.throws(() => empty().u32(), DecodeError);
  assert.throws(() => empty().i64(), DecodeError);
  assert.throws(() => empty().f64(), DecodeError);
  assert.throws(() => empty().raw(4), DecodeError);
  assert.throws(() => new ByteReader(new Uint8Array([0, 0, 0, 5, 65])).string(), DecodeError);
});

Deno.test("ByteReader refuses an i64 outside the safe integer range", () => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, 2n ** 53n);
  assert.throws(() => new ByteReader(bytes).i64("count"), /outside the safe integer range/);
  new DataView(bytes.buffer).setBigInt64(0, -(2n ** 53n));
  assert.throws(() => new ByteReader(bytes).i64(), DecodeError);
});

Deno.test("ByteReader refuses a string over maxBytes before reading it", () => {
  const writer = new ByteWriter();
  writer.string("abcdef");
  assert.throws(() => new ByteReader(writer.bytes()).string("name", 5), /over the limit of 5/);
  assert.equal(new ByteReader(writer.bytes()).string("name", 6), "abcdef");
});

Deno.test("ByteReader refuses invalid UTF-8 in short and long strings", () => {
  for (const length of [2, 40]) {
    const bytes = new Uint8Array(4 + length).fill(0x41);
    new DataView(bytes.buffer).setUint32(0, length);
    bytes[4 + length - 1] = 0xff;
    assert.throws(() => new ByteReader(bytes).string("s"), /s is not valid UTF-8/);
  }
});

Deno.test("ByteReader on random bytes throws only DecodeError", () => {
  const operations = ["u8", "u16", "u32", "i64", "f64", "string", "raw"] as const;
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(fc.constantFrom(...operations), { maxLength: 20 }),
      (bytes, plan) => {
        const reader = new ByteReader(bytes);
        try {
          for (const operation of plan) {
            if (operation === "raw") reader.raw(3);
            else reader[operation]();
          }
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
      },
    ),
  );
});

Deno.test("ByteWriter.i64 writes exactly the big-endian two's complement of the wire format", () => {
  fc.assert(
    fc.property(fc.maxSafeInteger(), (value) => {
      const writer = new ByteWriter();
      writer.i64(value);
      const expected = new Uint8Array(8);
      new DataView(expected.buffer).setBigInt64(0, BigInt(value));
      assert.deepEqual(writer.bytes(), expected);
    }),
  );
});

Deno.test("ByteWriter.string writes the same bytes as TextEncoder for any text", () => {
  fc.assert(
    fc.property(anyText({ maxLength: 100 }), (text) => {
      const writer = new ByteWriter();
      writer.string(text);
      const utf8 = new TextEncoder().encode(text);
      assert.equal(new DataView(writer.bytes().buffer).getUint32(0), utf8.length);
      assert.deepEqual(writer.bytes().subarray(4), utf8);
    }),
  );
});

Deno.test("the one varint: writeVarint, varintLength and readVarint agree on every safe integer", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.nat({ max: 4 }), (value, offset) => {
      const bytes = new Uint8Array(offset + MAX_VARINT_BYTES);
      const end = writeVarint(bytes, offset, value);
      assert.equal(end - offset, varintLength(value));
      assert.equal(readVarint(bytes, offset, end, "n"), value);
      const reader = new ByteReader(bytes, offset, end);
      assert.equal(reader.varint(), value);
      assert.equal(reader.remaining, 0);
      // Cut short anywhere, it is truncated.
      if (end - offset > 1) {
        assert.throws(() => readVarint(bytes, offset, end - 1, "n"), DecodeError);
      }
    }),
  );
  assert.equal(varintLength(127), 1);
  assert.equal(varintLength(128), 2);
  assert.equal(varintLength(Number.MAX_SAFE_INTEGER), MAX_VARINT_BYTES);
});

Deno.test("readVarint refuses a long form, too many bytes and values past 2^53 - 1", () => {
  const read = (...bytes: number[]) => readVarint(Uint8Array.from(bytes), 0, bytes.length, "n");
  assert.equal(read(0xac, 0x02), 300);
  assert.throws(() => read(0x80, 0x00), /not in its shortest form/);
  assert.throws(() => read(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /longer than 8/);
  assert.throws(() => read(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10), /safe integer/);
  assert.throws(() => read(0x80), /truncated n/);
  assert.throws(() => read(), /truncated n/);
});

/**
 * Any bytes, and bytes mostly ASCII from a few letters: random bytes are almost never
 * ASCII past two or three. The low two bits of an FNV-1a hash depend only on those of the
 * bytes, so in 4 slots "a", "e" and "i" (0x61, 0x65, 0x69) always share one.
 */
const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.constantFrom(0x61, 0x65, 0x69), { maxLength: 12 })
    .map((bytes) => Uint8Array.from(bytes)),
  fc.array(fc.constantFrom(0x61, 0x62, 0x80, 0xc3, 0xa9), { maxLength: 40 })
    .map((bytes) => Uint8Array.from(bytes)),
);

Deno.test("ByteReader.cachedUtf8 reads exactly what utf8 reads, or throws its error, for any bytes", () => {
  const cache = new Utf8Cache(4); // few slots: collisions replace strings all the time
  fc.assert(
    fc.property(fc.array(anyBytes, { maxLength: 20 }), (pieces) => {
      for (const bytes of pieces) {
        const read = (take: (reader: ByteReader) => string) => {
          try {
            return take(new ByteReader(bytes));
          } catch (error) {
            assert.ok(error instanceof DecodeError);
            return `DecodeError: ${error.message}`;
          }
        };
        assert.equal(
          read((reader) => reader.cachedUtf8(cache, bytes.length, "name")),
          read((reader) => reader.utf8(bytes.length, "name")),
        );
      }
    }),
  );
});

Deno.test("Utf8Cache gives back the same string for the same short ASCII bytes, and nothing for others", () => {
  const cache = new Utf8Cache();
  const encode = (text: string) => new TextEncoder().encode(text);
  const age = cache.decode(encode("age"), 0, 3);
  assert.equal(age, "age");
  assert.equal(cache.decode(encode("xage"), 1, 4), age);
  assert.equal(cache.decode(encode("é"), 0, 2), undefined);
  const long = encode("x".repeat(UTF8_CACHE_MAX_BYTES + 1));
  assert.equal(cache.decode(long, 0, long.length), undefined);
  const one = new Utf8Cache(1); // one slot: each new string takes it over
  assert.equal(one.decode(encode("a"), 0, 1), "a");
  assert.equal(one.decode(encode("b"), 0, 1), "b");
  assert.equal(one.decode(encode("a"), 0, 1), "a");
  assert.throws(() => new Utf8Cache(3), RangeError);
});

Deno.test("Utf8Cache at its default size never gives a string for other bytes that share its slot", () => {
  const cache = new Utf8Cache();
  // Four names a slot on average, many of the same length: slots are shared all the time.
  const names = Array.from({ length: 4 * UTF8_CACHE_SLOTS }, (_, i) => `n${i}`);
  const encoded = names.map((name) => new TextEncoder().encode(name));
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < names.length; i++) {
      assert.equal(cache.decode(encoded[i], 0, encoded[i].length), names[i]);
    }
  }
});
