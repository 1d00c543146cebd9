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
