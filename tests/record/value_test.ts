import assert from "node:assert/strict";
import fc from "fast-check";
import { floatJsonText } from "../../lib/record/value.ts";

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
