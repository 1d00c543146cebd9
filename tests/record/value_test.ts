import assert from "node:assert/strict";
import fc from "fast-check";
import { floatJsonText, MAX_NUMBER_JSON_BYTES, writeNumberJson } from "../../lib/record/value.ts";

Deno.test("floatJsonText reads back as the same float and always shows it is one (a . or an exponent)", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
      const text = floatJsonText(value);
      assert.ok(Object.is(JSON.parse(text), value), `${value} → ${text}`);
      assert.match(text, /[.e]/);
    }),
    { numRuns: 5000 },
  );
  for (
    const [value, text] of [[2, "2.0"], [-0, "-0.0"], [1e20, "100000000000000000000.0"], [
      1e21,
      "1e+21",
    ]] as const
  ) {
    assert.equal(floatJsonText(value), text);
  }
});

Deno.test("floatJsonText is JavaScript's own text for a float, with .0 added exactly when it has no . and no exponent", () => {
  const definition = (value: number) => {
    const text = Object.is(value, -0) ? "-0" : String(value);
    return /[.e]/.test(text) ? text : `${text}.0`;
  };
  const edges = [1e21, -1e21, 999_999_999_999_999_900_000, 5e-324, -5e-324, Number.MAX_VALUE];
  const scaled = fc.tuple(fc.integer(), fc.integer({ min: -30, max: 30 })).map(([m, e]) =>
    m * 10 ** e
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        scaled,
        fc.constantFrom(...edges),
      ),
      (value) => assert.equal(floatJsonText(value), definition(value)),
    ),
    { numRuns: 5000 },
  );
});

Deno.test("writeNumberJson writes exactly String(int) and floatJsonText(float), or nothing", () => {
  const out = new Uint8Array(MAX_NUMBER_JSON_BYTES + 2);
  const decoder = new TextDecoder();
  const written = (value: number, isFloat: boolean) => {
    out.fill(0);
    const end = writeNumberJson(value, isFloat, out, 1);
    assert.ok(end === -1 || end - 1 <= MAX_NUMBER_JSON_BYTES, `${value}: ${end - 1} bytes`);
    assert.ok(end !== -1 || out.every((byte) => byte === 0), `${value}: wrote before giving up`);
    return end === -1 ? undefined : decoder.decode(out.subarray(1, end));
  };
  // Decimals of up to 8 digits after the point, around the 6 decimals and 1e9 the fast way takes.
  const decimal = fc.tuple(fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }), fc.nat(8))
    .map(([digits, decimals]) => digits / 10 ** decimals);
  const short = fc.tuple(fc.integer({ min: -1e7, max: 1e7 }), fc.nat(6))
    .map(([digits, decimals]) => digits / 10 ** decimals);
  const edges = [0, -0, 1e-6, -1e-6, 1e-7, 1e9 - 1e-6, 1e9, 0.1 + 0.2, 2 ** 53 - 1, 2 ** 53, 1e21];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        decimal,
        short,
        fc.constantFrom(...edges),
      ),
      (value) => {
        const float = written(value, true);
        if (float !== undefined) assert.equal(float, floatJsonText(value));
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
          assert.equal(written(value, false), String(value));
        }
      },
    ),
    { numRuns: 20000 },
  );
  // The floats records hold (two decimals) take the fast way.
  for (const value of [1.65, -2.05, 0.5, 1.0, 123456.789]) {
    assert.notEqual(written(value, true), undefined);
  }
});
