/**
 * Any text, as `fc.string({ unit: "binary" })` generates it, without its cost: fast-check
 * draws a "binary" character as an index among every code point but the surrogates and
 * maps it to that code point, which is cheap, but the first time it must tell whether a
 * string could have come from it (for its bias towards special strings) it builds a
 * map of all 1 112 064 code points — about 2.7 s of CPU in every test file that used
 * it. {@link codePointUnit} draws the same index from the same `fc.nat` and maps it the
 * same way, so it generates the same characters with the same bias, and answers that
 * question by arithmetic.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(anyText({ maxLength: 100 }), (text) => roundTrips(text)));
 * ```
 * @module
 */
import fc from "fast-check";

/** The first surrogate code point: D800..DFFF are not characters of their own. */
const FIRST_SURROGATE = 0xd800;
/** How many code points are surrogates. */
const SURROGATES = 0x800;
/** Every code point but the surrogates, as fast-check's "binary" unit counts them. */
const CODE_POINTS = 0x110000 - SURROGATES;

/** One code point but a surrogate, drawn as fast-check's "binary" unit draws one. */
export const codePointUnit: fc.Arbitrary<string> = fc.nat({ max: CODE_POINTS - 1 }).map(
  (index) => String.fromCodePoint(index < FIRST_SURROGATE ? index : index + SURROGATES),
  (text) => {
    const codePoint = typeof text === "string" ? text.codePointAt(0) : undefined;
    const single = codePoint !== undefined && String.fromCodePoint(codePoint) === text;
    if (!single || (codePoint >= FIRST_SURROGATE && codePoint < FIRST_SURROGATE + SURROGATES)) {
      throw new Error("not one code point of the unit");
    }
    return codePoint < FIRST_SURROGATE ? codePoint : codePoint - SURROGATES;
  },
);

/** `fc.string({ unit: "binary", ...constraints })`, at a fraction of its cost. */
export function anyText(
  constraints: { minLength?: number; maxLength?: number } = {},
): fc.Arbitrary<string> {
  return fc.string({ unit: codePointUnit, ...constraints });
}
