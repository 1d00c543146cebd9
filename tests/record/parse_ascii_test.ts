import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { generateText } from "../../lib/gen/generator.ts";
import { MAX_KEY_BYTES } from "../../lib/limits.ts";
import {
  AsciiRecordParser,
  MAX_FAST_OBJECT_FIELDS,
  parseAsciiRecordInto,
} from "../../lib/record/parse_ascii.ts";
import { parseRecordLineInto, RecordParseError } from "../../lib/record/parse.ts";
import { type Dialect, formatRecordLine } from "../../lib/record/format.ts";
import { type Field, float, int, str, type Value } from "../../lib/record/value.ts";
import { decodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { COMPAT_KEYS } from "../helpers/fixtures.ts";

const encoder = new TextEncoder();

/** What the general parser makes of `text`: key and bytes, or undefined for a bad line. */
function general(text: string): { key: string; bytes: Uint8Array } | undefined {
  const writer = new ByteWriter();
  try {
    const key = parseRecordLineInto(text, 1, writer);
    return { key, bytes: writer.bytes().slice() };
  } catch (error) {
    if (error instanceof RecordParseError) return undefined;
    throw error;
  }
}

function fast(text: string): { key: string; bytes: Uint8Array } | undefined {
  const writer = new ByteWriter();
  const key = parseAsciiRecordInto(encoder.encode(text), writer);
  return key === undefined ? undefined : { key, bytes: writer.bytes().slice() };
}

/** The fast path may decline any line, but what it accepts it reads exactly as the general parser. */
function assertAgrees(text: string): boolean {
  const quick = fast(text);
  if (quick !== undefined) assert.deepEqual(quick, general(text), JSON.stringify(text));
  return quick !== undefined;
}

Deno.test("the fast path reads every line of kv gen's output, exactly as the general parser", () => {
  for (const [maxNesting, maxKeysPerValue] of [[0, 12], [3, 6], [5, 3]]) {
    const text = generateText({
      keys: COMPAT_KEYS,
      recordCount: 300,
      maxNesting,
      maxStringLength: 12,
      maxKeysPerValue,
      seed: 9,
    });
    for (const line of text.split("\n").filter((line) => line !== "")) {
      assert.ok(assertAgrees(line), `declined: ${line}`);
    }
  }
});

const dialects: Dialect[] = ["assignment", "python", "bare"];

/** A record of any key and value, written in any dialect. */
const recordLine = fc.tuple(keyArbitrary(), valueArbitrary(), fc.constantFrom(...dialects)).map((
  [key, value, dialect],
) => formatRecordLine(key, value, dialect));

Deno.test("the fast path agrees with the general parser on records of every dialect", () => {
  fc.assert(
    fc.property(recordLine, (line) => void assertAgrees(line)),
    { numRuns: 1000 },
  );
});

/** Printable ASCII without backslashes: the text the fast path is for. */
const plainText = (minLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).filter((code) => code !== 0x5c).map((code) =>
      String.fromCharCode(code)
    ),
    minLength,
    maxLength: 12,
  });

const plainValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    plainText(0).map(str),
    fc.maxSafeInteger().map(int),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(float),
    fc.uniqueArray(
      fc.tuple(plainText(1).filter((name) => !name.includes(".")), tie("value")),
      { maxLength: 6, selector: ([name]) => name },
    ).map((fields): Value => ({ kind: "object", fields: fields as Field[] })),
  ),
})).value;

Deno.test("the fast path takes plain ASCII records of every dialect, as the general parser reads them", () => {
  let accepted = 0;
  fc.assert(
    fc.property(
      plainText(1).filter((key) => !key.includes(".")),
      plainValue,
      fc.constantFrom(...dialects),
      (key, value, dialect) => {
        if (assertAgrees(formatRecordLine(key, value, dialect))) accepted++;
      },
    ),
    { numRuns: 2000 },
  );
  assert.ok(accepted > 1000, `the fast path took only ${accepted} of 2000 plain lines`);
});

/** The number the fast path stores for the scalar line `k : <text>`. */
function fastNumber(text: string): number {
  const value = decodeValue(fast(`k : ${text}`)!.bytes);
  assert.ok(value.kind === "float" || value.kind === "int", text);
  return value.value;
}

Deno.test("the fast path reads decimal numbers exactly as Number does, short and long alike", () => {
  const digits = (maxLength: number) =>
    fc.string({ unit: fc.constantFrom(..."0123456789".split("")), minLength: 1, maxLength });
  fc.assert(
    fc.property(fc.boolean(), digits(12), digits(12), (negative, whole, fraction) => {
      const text = `${negative ? "-" : ""}${whole}.${fraction}`;
      assert.ok(assertAgrees(`k : ${text}`), text);
      assert.ok(Object.is(fastNumber(text), Number(text)), text);
    }),
    { numRuns: 5000 },
  );
  for (const text of ["-0.0", "0.1", "9007199254740.993", "123456789012345.6", "1.5e3", "2E-2"]) {
    assert.ok(Object.is(fastNumber(text), Number(text)), text);
  }
});

Deno.test("an AsciiRecordParser reused across lines reads each as the general parser does", () => {
  const parser = new AsciiRecordParser();
  const lines = [
    `"big" : { "text" : "${"x".repeat(10_000)}" ; "n" : 1 }`,
    // Around each width of the length varint: the length byte is widened after the copy.
    ...[127, 128, 16_383, 16_384].map((length) =>
      `k : { "${"n".repeat(length % 1000 + 1)}" : '${"s".repeat(length)}' }`
    ),
    `k : { a : { b : 1.25 } }`,
    `"bad" : { "a" : `,
    `small : 7`,
  ];
  for (const text of lines) {
    const key = parser.parse(encoder.encode(text));
    const expected = general(text);
    assert.equal(key, expected?.key);
    if (key !== undefined) assert.deepEqual(parser.encoded, expected!.bytes);
  }
});

Deno.test("a value's encoding is less than twice its line, which MAX_BATCH_BYTES relies on", () => {
  // The worst growth: bare floats with one-letter names, 9 bytes of float for `1e9`.
  const fields = Array.from(
    { length: 5000 },
    (_, i) => `${String.fromCharCode(97 + (i % 26))}${i}:1e9`,
  );
  const worst = `k : { ${fields.join(";")} }`;
  const worstBytes = general(worst)!.bytes.length;
  assert.ok(worstBytes < 2 * worst.length, `${worstBytes} bytes for a ${worst.length}-byte line`);
  fc.assert(
    fc.property(
      recordLine,
      (line) => {
        const encoded = general(line);
        if (encoded !== undefined) {
          assert.ok(encoded.bytes.length < 2 * encoder.encode(line).length, line);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

/** Characters that exercise every branch of the grammar. */
const awkward = fc.constantFrom(
  ..." \t{}:;,'\"\\.-+eE0123456789abcxyz\r\u0000\u007fé".split(""),
);

Deno.test("the fast path accepts no line the general parser refuses, whatever the bytes", () => {
  const line = fc.oneof(
    fc.string({ unit: awkward, maxLength: 50 }),
    fc.tuple(
      fc.constantFrom("k : ", `"k":{`, "k: { a : ", `'k':{'a': {`, "k: { a: 1; b: { c: 2"),
      fc.string({ unit: awkward, maxLength: 40 }),
    ).map(([start, rest]) => start + rest),
  );
  fc.assert(fc.property(line, (text) => void assertAgrees(text)), { numRuns: 20_000 });
});

Deno.test("the fast path declines what it leaves to the general parser", () => {
  const declined = [
    `"k" : "caf\u00e9"`, // not ASCII
    `"k" : "a\\"b"`, // an escape
    `"k" : { "a" : 1 ; "a" : 2 }`, // a repeated name: an error the general parser words
    `k : 99999999999999999999`, // an int out of range
    `"k" : { "a.b" : 1 }`, // a dotted field name: an error the general parser words
    `"k" : { "${"n".repeat(MAX_KEY_BYTES + 1)}" : 1 }`, // a field name over the limit
    `"k" : { "" : 1 }`, // an empty field name
    `"k" : { ` + Array.from({ length: MAX_FAST_OBJECT_FIELDS + 1 }, (_, i) => `f${i}: 1`)
      .join("; ") +
    " }", // a wide object
    "", // blank
  ];
  for (const text of declined) assert.equal(fast(text), undefined, text);
  assert.ok(
    fast(
      `"k" : { ` + Array.from({ length: MAX_FAST_OBJECT_FIELDS }, (_, i) => `f${i}: 1`).join("; ") +
        " }",
    ),
  );
});
