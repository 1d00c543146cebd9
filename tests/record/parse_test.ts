import assert from "node:assert/strict";
import fc from "fast-check";
import { anyText } from "../helpers/text_arbitrary.ts";
import { MAX_KEY_BYTES, MAX_LINE_BYTES, MAX_NESTING_DEPTH } from "../../lib/limits.ts";
import {
  endsInsideRecord,
  isBlankLine,
  isBlankLineBytes,
  looksLikeNumber,
  parseRecordLine,
  parseRecordLineInto,
  type ParseRecordLineOptions,
  RecordParseError,
} from "../../lib/record/parse.ts";
import { ByteWriter } from "../../lib/base/bytes.ts";
import { type Dialect, formatRecordLine } from "../../lib/record/format.ts";
import {
  float,
  getField,
  int,
  object,
  str,
  type Value,
  valueEquals,
} from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { compatLines } from "../helpers/fixtures.ts";

/** Follows `path` (field names) down from `value`; fails the test when a field is missing. */
function at(value: Value, ...path: string[]): Value {
  let current = value;
  for (const name of path) {
    const next = getField(current, name);
    assert.ok(next !== undefined, `no field '${name}' on the way to ${path.join(".")}`);
    current = next;
  }
  return current;
}

function parseValue(valueText: string): Value {
  return parseRecordLine(`k : ${valueText}`).value;
}

function assertValue(actual: Value, expected: Value): void {
  assert.ok(
    valueEquals(actual, expected),
    `got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
  );
}

/** Asserts that parsing `text` fails with exactly `message` ("line:col: reason"). */
function assertParseError(
  text: string,
  message: string,
  lineNumber = 1,
  options: ParseRecordLineOptions = {},
): RecordParseError {
  let caught: unknown;
  try {
    parseRecordLine(text, lineNumber, options);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof RecordParseError,
    `expected a RecordParseError for ${text.slice(0, 80)}`,
  );
  assert.equal(caught.message, message);
  return caught;
}

Deno.test("parseRecordLine reads every line of the assignment-dialect sample", () => {
  const lines = compatLines("assignment-dialect.txt");
  assert.equal(lines.length, 1000);
  const records = lines.map((line, index) => parseRecordLine(line, index + 1));
  assert.deepEqual(records.slice(0, 3).map((record) => record.key), ["key1", "key2", "key3"]);
  const first = records[0].value;
  assertValue(at(first, "key1_d_2_m_0", "height"), float(3.8546));
  assertValue(at(first, "key1_d_2_m_0", "level"), int(3));
  assertValue(at(first, "key1_d_1_m_1", "street"), str("y"));
  assertValue(records[1].value, object([]));
});

Deno.test("parseRecordLine reads every line of the Python seed sample, quoted numbers as strings", () => {
  const lines = compatLines("seed-dialect.txt");
  assert.equal(lines.length, 15);
  const records = lines.map((line, index) => parseRecordLine(line, index + 1));
  assert.equal(records[0].key, "person0");
  assertValue(at(records[0].value, "weight"), str("2.05"));
  assertValue(at(records[0].value, "level"), str("18"));
  assertValue(at(records[0].value, "hair_color", "hair_color", "name"), str("hU"));
  assertValue(at(records[0].value, "hair_color", "family_members"), object([]));
  assertValue(records[2].value, object([]));
});

Deno.test("parseRecordLine reads every line of the bare-word sample, typing bare numbers", () => {
  const lines = compatLines("bare-dialect.txt");
  assert.equal(lines.length, 20);
  // Lines 15 and 20 repeat a field name, so this sample needs the lenient policy.
  const options: ParseRecordLineOptions = { duplicateKeys: "last-wins" };
  const records = lines.map((line, index) => parseRecordLine(line, index + 1, options));
  assert.equal(records[0].key, "person1");
  assertValue(at(records[0].value, "key0", "height"), float(45.8));
  assertValue(at(records[0].value, "key0", "profession"), str("kshd"));
  assertValue(at(records[0].value, "key1", "number"), int(1523));
  assertValue(at(records[2].value, "key0"), int(7663));
  assertValue(at(records[2].value, "key1", "address", "profession"), str("sbfl"));
  assertValue(at(records[8].value, "key1"), object([]));
});

Deno.test("duplicate field names in the bare sample are errors unless last-wins is asked for", () => {
  const line = compatLines("bare-dialect.txt")[14];
  // The first repeat in reading order is reported: the outer `address`, not the `level` in it.
  const error = assertParseError(line, "15:89: duplicate key 'address' in one object", 15);
  assert.equal(error.line, 15);
  // Callers tell this error from the others: a flag of theirs may accept the line.
  assert.equal(error.duplicateKey, "address");
  const record = parseRecordLine(line, 15, { duplicateKeys: "last-wins" });
  // Python's dict semantics: the last value, at the position of the first; here both the
  // repeated `address` and the repeated `level` inside it collapse.
  assertValue(at(record.value, "key1"), object([["address", object([["level", int(6326)]])]]));
  assertValue(at(record.value, "key0"), object([["address", str("hfik")]]));
});

Deno.test("last-wins keeps the first position and the last value", () => {
  const record = parseRecordLine("k: { a: 1; b: 2; a: 3 }", 1, { duplicateKeys: "last-wins" });
  assertValue(record.value, object([["a", int(3)], ["b", int(2)]]));
});

Deno.test("duplicate names are found in objects too big for the linear scan", () => {
  const fields = Array.from({ length: 40 }, (_, index) => `f${index} : ${index}`);
  const line = `k : { ${fields.join(" ; ")} ; f27 : "again" }`;
  const column = line.indexOf('f27 : "again"') + 1;
  assertParseError(line, `1:${column}: duplicate key 'f27' in one object`);
  const record = parseRecordLine(line, 1, { duplicateKeys: "last-wins" });
  assert.ok(record.value.kind === "object");
  assert.equal(record.value.fields.length, 40);
  assertValue(at(record.value, "f27"), str("again"));
  assertValue(at(record.value, "f39"), int(39));
});

Deno.test("parseRecordLine reads the assignment's own example exactly", () => {
  const line =
    `"person0" : { "name" : "Mary" ; "age" : 22 ; "height" : 1.75 ; "address" : { "street" : "Main" } }`;
  const record = parseRecordLine(line);
  assert.equal(record.key, "person0");
  assertValue(
    record.value,
    object([
      ["name", str("Mary")],
      ["age", int(22)],
      ["height", float(1.75)],
      ["address", object([["street", str("Main")]])],
    ]),
  );
});

Deno.test("whitespace is free around every token, and ';' and ',' both separate", () => {
  const expected = object([["a", int(1)], ["b", object([["c", str("x")]])], ["d", float(2.5)]]);
  for (
    const line of [
      `k:{a:1;b:{c:x},d:2.5}`,
      ` \t k \t : \t { \t a : 1 , b:{ c : x } ; d: 2.5 \t } \t `,
      `"k":{'a':1,'b':{"c":'x'},"d":2.5}`,
    ]
  ) {
    const record = parseRecordLine(line);
    assert.equal(record.key, "k");
    assertValue(record.value, expected);
  }
});

Deno.test("one trailing separator before '}' is accepted; empty members are not", () => {
  assertValue(parseValue("{ a : 1 ; }"), object([["a", int(1)]]));
  assertValue(parseValue("{ a : 1, }"), object([["a", int(1)]]));
  assertParseError(`k : { ; }`, "1:7: expected a key or '}', found ';'");
  assertParseError(
    `k : { a : 1 ;; }`,
    "1:14: expected a key or '}' after the separator, found ';'",
  );
});

Deno.test("bare numbers are ints or floats; other bare tokens and all quoted values are strings", () => {
  const cases: [string, Value][] = [
    ["22", int(22)],
    ["-7", int(-7)],
    ["007", int(7)],
    ["9007199254740991", int(Number.MAX_SAFE_INTEGER)],
    ["-9007199254740991", int(-Number.MAX_SAFE_INTEGER)],
    ["1.75", float(1.75)],
    ["2.0", float(2)],
    ["-0.5", float(-0.5)],
    ["1e21", float(1e21)],
    ["1E5", float(1e5)],
    ["1.5e-7", float(1.5e-7)],
    ["2.5E+3", float(2500)],
    ["1e-999", float(0)],
    ["kshd", str("kshd")],
    ["1.2.3", str("1.2.3")],
    ["-", str("-")],
    ["+5", str("+5")],
    [".5", str(".5")],
    ["5.", str("5.")],
    ["1e", str("1e")],
    ["1e+", str("1e+")],
    ["0x10", str("0x10")],
    ["Infinity", str("Infinity")],
    ["NaN", str("NaN")],
    ["12abc", str("12abc")],
    ["New York", str("New York")],
    ["Zürich ☕", str("Zürich ☕")],
    [`'2.05'`, str("2.05")],
    [`"22"`, str("22")],
    [`""`, str("")],
    [`"  padded  "`, str("  padded  ")],
  ];
  for (const [text, expected] of cases) assertValue(parseValue(text), expected);
});

Deno.test("-0 as an int reads as 0 and -0.0 as a float keeps its sign", () => {
  const zeroInt = parseValue("-0");
  assert.equal(zeroInt.kind, "int");
  assert.ok(Object.is(zeroInt.value, 0));
  const zeroFloat = parseValue("-0.0");
  assert.equal(zeroFloat.kind, "float");
  assert.ok(Object.is(zeroFloat.value, -0));
});

Deno.test("numbers out of range are errors that point at the number", () => {
  assertParseError(`"a" : 1e999`, "1:7: float out of range: 1e999");
  assertParseError(`"a" : { "b" : -1e400 }`, "1:15: float out of range: -1e400");
  assertParseError(
    `a: 9007199254740992`,
    "1:4: integer out of range: 9007199254740992 (ints are at most 2^53 - 1 in size)",
  );
  assertParseError(
    `a: -99999999999999999999`,
    "1:4: integer out of range: -99999999999999999999 (ints are at most 2^53 - 1 in size)",
  );
});

Deno.test("quoted strings support every documented escape and keep spaces", () => {
  const escaped = String.raw`"a\\b\"c\'d\ne\rf\tg\0h\x41\u00e9\ud83d\ude00 i"`;
  assertValue(parseValue(escaped), str("a\\b\"c'd\ne\rf\tg\0hAé😀 i"));
  assertValue(parseValue(String.raw`'it\'s "quoted"'`), str(`it's "quoted"`));
  assertValue(parseValue(`"it's"`), str("it's"));
  assertValue(parseValue(`"a;b,c}{d:e"`), str("a;b,c}{d:e"));
  assertValue(parseValue(`"tab\there"`), str("tab\there"));
  assert.equal(parseRecordLine(String.raw`"a\x20b" : 1`).key, "a b");
});

Deno.test("bad escapes and unterminated strings are errors", () => {
  assertParseError(
    String.raw`"a" : "x\q"`,
    String.raw`1:9: expected an escape (\\ \" \' \n \r \t \0 \xHH or \uXXXX) after '\', found 'q'`,
  );
  assertParseError(
    String.raw`"a" : "\x4g"`,
    String.raw`1:11: expected 2 hex digits after '\x', found 'g'`,
  );
  assertParseError(
    String.raw`"a" : "\u12"`,
    String.raw`1:12: expected 4 hex digits after '\u', found '"'`,
  );
  assertParseError(
    `"a" : "abc`,
    `1:7: unterminated string: expected a closing '"', found end of line`,
  );
  assertParseError(`'a : 1`, `1:1: unterminated string: expected a closing "'", found end of line`);
  assertParseError(
    String.raw`"a" : "abc\"`,
    `1:7: unterminated string: expected a closing '"', found end of line`,
  );
});

/** What a lone surrogate escape is told, `escape` as typed. */
function loneSurrogate(escape: string): string {
  return `${escape} is half of a surrogate pair; a character above U+FFFF is a pair such as ` +
    String.raw`\uD83D\uDE00`;
}

Deno.test("a lone surrogate escape is refused where it is, in keys, names and values alike", () => {
  const low = String.raw`\uDC00`;
  assertParseError(String.raw`"k\uD800": 1`, `1:3: ${loneSurrogate(String.raw`\uD800`)}`);
  assertParseError(String.raw`"k\uDC00": 1`, `1:3: ${loneSurrogate(low)}`);
  assertParseError(String.raw`k: { "a\ud800b": 1 }`, `1:8: ${loneSurrogate(String.raw`\ud800`)}`);
  assertParseError(String.raw`k: "\uD800"`, `1:5: ${loneSurrogate(String.raw`\uD800`)}`);
  // A high surrogate followed by anything but a low one is as alone: an escape of another
  // character, a second high one, a raw character, the end of the string.
  for (const after of [String.raw`\u0041`, String.raw`\uD800`, "x", String.raw`\x41`]) {
    assertParseError(`k: "\\uDBFF${after}"`, `1:5: ${loneSurrogate(String.raw`\uDBFF`)}`);
  }
  assertParseError(String.raw`k: 'a\uD83D'`, `1:6: ${loneSurrogate(String.raw`\uD83D`)}`);
  // A low surrogate after a whole pair is alone too.
  assertParseError(
    String.raw`k: "\uD83D\uDE00\uDE00"`,
    `1:17: ${loneSurrogate(String.raw`\uDE00`)}`,
  );
});

Deno.test("a surrogate pair of escapes is one character, as JSON reads it", () => {
  assertValue(parseValue(String.raw`"\uD83D\uDE00"`), str("😀"));
  assertValue(parseValue(String.raw`"a\udbff\udfffb"`), str("a\u{10ffff}b"));
  assert.equal(parseRecordLine(String.raw`"\uD83D\uDE00" : 1`).key, "😀");
  // Two keys told apart only by their surrogates stay two keys.
  assert.notEqual(
    parseRecordLine(String.raw`"k\uD83D\uDE00": 1`).key,
    parseRecordLine(String.raw`"k\uD83D\uDE01": 1`).key,
  );
});

Deno.test("a lone surrogate in the text itself is refused: a record line is Unicode text", () => {
  assertParseError(`k: "a\ud800"`, "1:6: lone surrogate U+D800: a record line is Unicode text");
  assertParseError(`k\udc00: 1`, "1:2: lone surrogate U+DC00: a record line is Unicode text");
  assertValue(parseRecordLine(`k: "\ud83d\ude00"`).value, str("😀"));
});

Deno.test("a top-level value may be a scalar", () => {
  assertValue(parseRecordLine(`"a" : 5`).value, int(5));
  assertValue(parseRecordLine(`a: hello world`).value, str("hello world"));
  assertValue(parseRecordLine(`'a':'2.05'`).value, str("2.05"));
});

Deno.test("malformed lines give the line, column and what was expected", () => {
  const cases: [string, string][] = [
    [`"a" { }`, "1:5: expected ':' after the key, found '{'"],
    [`person0 { }`, "1:9: expected ':' after the key, found '{'"],
    [`"a" : { "b" : 1`, "1:16: expected ';', ',' or '}' after the value, found end of line"],
    [`"a" : { "b" : 1 "c" : 2 }`, `1:17: expected ';', ',' or '}' after the value, found '"'`],
    [`"a" : {`, "1:8: expected a key or '}', found end of line"],
    [`"a" :`, "1:6: expected a value, found end of line"],
    [`"a" : { "b" : ; }`, "1:15: expected a value, found ';'"],
    [`"a" : {} x`, "1:10: expected end of line after the value, found 'x'"],
    [`"a" : "s" x`, "1:11: expected end of line after the value, found 'x'"],
    [`"a" : 1 }`, "1:9: expected end of line after the value, found '}'"],
    [`a: b:c`, "1:5: expected end of line after the value, found ':'"],
    [`a: x{`, "1:5: expected end of line after the value, found '{'"],
    [`"a.b" : 1`, "1:1: key 'a.b' contains '.' (it separates query paths)"],
    [`k : { a.b : 1 }`, "1:7: key 'a.b' contains '.' (it separates query paths)"],
    [`"" : 1`, "1:1: empty key"],
    [`k : { '' : 1 }`, "1:7: empty key"],
    [`: 1`, "1:1: expected a record key, found ':'"],
    [``, "1:1: expected a record key, found end of line"],
    [`   `, "1:4: expected a record key, found end of line"],
    [`k : { "a" : 1 ; "a" : 2 }`, "1:17: duplicate key 'a' in one object"],
    [`k : 1\0`, "1:6: expected end of line after the value, found control character U+0000"],
    [`k\0 : 1`, "1:2: expected ':' after the key, found control character U+0000"],
    [`k : {\0}`, "1:6: expected a key or '}', found control character U+0000"],
    [`k : 1\r2`, "1:6: expected end of line after the value, found control character U+000D"],
    [`k : \x7f`, "1:5: expected a value, found control character U+007F"],
    // Characters drawn as nothing or breaking a line are named, not shown (they were quoted
    // raw: a U+2028 split the message on some terminals).
    [`"k"\u2028 : 1`, "1:4: expected ':' after the key, found invisible character U+2028"],
    [`"k"\u00a0: 1`, "1:4: expected ':' after the key, found invisible character U+00A0"],
    // A field name is quoted escaped: an escape sequence reached the terminal.
    [`k : { "\x1b[2J" : 1, "\x1b[2J" : 2 }`, "1:19: duplicate key '\\u001b[2J' in one object"],
  ];
  for (const [text, message] of cases) assertParseError(text, message);
});

Deno.test("RecordParseError carries the line number given and a 1-based code point column", () => {
  const error = assertParseError(
    `"é😀" : "😀" x`,
    "42:12: expected end of line after the value, found 'x'",
    42,
  );
  assert.equal(error.name, "RecordParseError");
  assert.equal(error.line, 42);
  assert.equal(error.column, 12);
  assert.equal(error.reason, "expected end of line after the value, found 'x'");
  assert.equal(error.duplicateKey, undefined);
});

Deno.test("NUL and other control characters are allowed only inside quoted strings", () => {
  assertValue(parseValue(`"a\0b\x01"`), str("a\0b\x01"));
  assertParseError(
    `k : a\x01b`,
    "1:6: expected end of line after the value, found control character U+0001",
  );
});

Deno.test("a trailing CR is ignored", () => {
  const record = parseRecordLine(`"a" : { "b" : 1 }\r`);
  assertValue(record.value, object([["b", int(1)]]));
  assertValue(parseRecordLine("a: word\r").value, str("word"));
  assertValue(parseRecordLine("a: 12\r").value, int(12));
});

Deno.test("objects may nest exactly MAX_NESTING_DEPTH levels", () => {
  const depth = MAX_NESTING_DEPTH;
  const line = `k : ${"{ a : ".repeat(depth - 1)}{}${" }".repeat(depth - 1)}`;
  let value = parseRecordLine(line).value;
  for (let level = 1; level < depth; level++) value = at(value, "a");
  assertValue(value, object([]));
});

Deno.test("nesting past MAX_NESTING_DEPTH is a clean error, even 10 000 levels deep", () => {
  const prefix = "k : ";
  for (const depth of [MAX_NESTING_DEPTH + 1, 10_000]) {
    const line = `${prefix}${`{ "a" : `.repeat(depth)}1${" }".repeat(depth)}`;
    const column = prefix.length + `{ "a" : `.length * MAX_NESTING_DEPTH + 1;
    assertParseError(
      line,
      `1:${column}: objects nest deeper than ${MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)`,
    );
  }
  assertParseError(`k : ${"{".repeat(10_000)}`, "1:6: expected a key or '}', found '{'");
});

Deno.test("keys may be MAX_KEY_BYTES UTF-8 bytes long and no longer", () => {
  const longest = "k".repeat(MAX_KEY_BYTES);
  assert.equal(parseRecordLine(`${longest} : 1`).key, longest);
  assert.equal(parseRecordLine(`k : { "${longest}" : 1 }`).value.kind, "object");
  assertParseError(
    `${longest}x : 1`,
    `1:1: key is ${MAX_KEY_BYTES + 1} bytes, over the limit of ${MAX_KEY_BYTES}`,
  );
  // 342 × 'é' is only 342 UTF-16 units but 684 bytes; 513 of them is 1026 bytes.
  assert.equal(parseRecordLine(`${"é".repeat(512)} : 1`).key.length, 512);
  assertParseError(
    `k : { ${"é".repeat(513)} : 1 }`,
    `1:7: key is 1026 bytes, over the limit of ${MAX_KEY_BYTES}`,
  );
});

Deno.test("lines longer than MAX_LINE_BYTES are refused", () => {
  const filler = "x".repeat(MAX_LINE_BYTES - `k : ""`.length);
  assert.equal(parseRecordLine(`k : "${filler}"`).value.kind, "string");
  assertParseError(
    `k : "${filler}x"`,
    `1:1: line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES)`,
  );
  const multiByteFiller = "é".repeat(MAX_LINE_BYTES / 2);
  assertParseError(
    `k : "${multiByteFiller}"`,
    `1:1: line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES)`,
  );
});

Deno.test("isBlankLine and isBlankLineBytes accept only spaces, tabs and carriage returns", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  for (const blank of ["", " ", "\t \t", "\r", "  \r"]) {
    assert.equal(isBlankLine(blank), true);
    assert.equal(isBlankLineBytes(bytes(blank)), true);
  }
  for (const notBlank of ["a", " a ", "\0", "\u00a0", "{}", "\n"]) {
    assert.equal(isBlankLine(notBlank), false);
    assert.equal(isBlankLineBytes(bytes(notBlank)), false);
  }
});

Deno.test("looksLikeNumber follows the number grammar exactly", () => {
  for (
    const text of ["0", "-12", "1.5", "1e9", "1E-9", "-2.5e+10", "1e999", "99999999999999999999"]
  ) {
    assert.equal(looksLikeNumber(text), true, text);
  }
  for (
    const text of ["", "-", "+1", "1.", ".1", "1.2.3", "1e", "e1", " 1", "1 ", "Infinity", "0x1"]
  ) {
    assert.equal(looksLikeNumber(text), false, text);
  }
});

/** Characters that exercise every branch of the grammar, plus arbitrary ones. */
const awkwardCharacter = fc.oneof(
  fc.constantFrom(
    "{",
    "}",
    ":",
    ";",
    ",",
    '"',
    "'",
    "\\",
    " ",
    "\t",
    "\r",
    "\0",
    ".",
    "-",
    "e",
    "1",
    "9",
    "x",
    "u",
    // Surrogate escapes, alone, in pairs and halves of pairs, and raw halves (a library caller's).
    String.raw`\uD800`,
    String.raw`\udc00`,
    String.raw`\uD83D\uDE00`,
    String.raw`\uDBFF`,
    String.raw`\uDFFF`,
    "\ud800",
    "\udc00",
  ),
  anyText({ minLength: 1, maxLength: 1 }),
);

Deno.test("parseRecordLine throws nothing but RecordParseError on arbitrary input", () => {
  const line = fc.oneof(
    fc.string({ unit: awkwardCharacter, maxLength: 60 }),
    fc.tuple(
      fc.constantFrom(`k : `, `"k":{`, `k: { a : `, `'k':{'a': {`),
      fc.string({ unit: awkwardCharacter, maxLength: 40 }),
    )
      .map(([start, rest]) => start + rest),
  );
  fc.assert(
    fc.property(line, (text) => {
      const writer = new ByteWriter();
      try {
        const record = parseRecordLine(text);
        assert.ok(record.key.length > 0 && !record.key.includes("."));
        // The encoding parser reads the same lines the same way.
        assert.equal(parseRecordLineInto(text, 1, writer), record.key);
        assert.deepEqual(writer.bytes(), encodeValue(record.value));
      } catch (error) {
        if (!(error instanceof RecordParseError)) throw error;
        assert.match(error.message, /^1:\d+: /);
        assert.ok(error.column >= 1 && error.column <= [...text].length + 1);
        assert.throws(() => parseRecordLineInto(text, 1, writer), { message: error.message });
      }
    }),
    { numRuns: 3000 },
  );
});

/**
 * What a quoted string holds: mostly characters and escapes that read, now and then half a
 * surrogate pair, escaped or raw, which must make the line an error.
 */
const quotedContent = fc.string({
  unit: fc.oneof(
    {
      weight: 6,
      arbitrary: anyText({ minLength: 1, maxLength: 1 }).filter((text) => !/["\\]/.test(text)),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        ..." '{}:;,.\t",
        ...[String.raw`\n`, String.raw`\t`, String.raw`\\`, String.raw`\"`, String.raw`\x41`],
        ...[String.raw`\u00e9`, String.raw`\uD83D\uDE00`, String.raw`\udbff\udfff`],
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(String.raw`\uD800`, String.raw`\uDC00`, "\ud800", "\udc00"),
    },
  ),
  maxLength: 12,
});

Deno.test("any line that parses prints in every dialect as a line that parses to the same record", () => {
  const line = fc.oneof(
    fc.tuple(quotedContent, quotedContent).map(([key, value]) => `"${key}" : "${value}"`),
    fc.tuple(quotedContent, quotedContent).map(([key, name]) => `k${key}: { "${name}": 1 }`),
    fc.string({ unit: awkwardCharacter, maxLength: 60 }),
  );
  let parsed = 0;
  fc.assert(
    fc.property(line, fc.constantFrom<Dialect>("assignment", "python", "bare"), (text, dialect) => {
      let record;
      try {
        record = parseRecordLine(text);
      } catch (error) {
        if (error instanceof RecordParseError) return;
        throw error;
      }
      parsed++;
      assert.ok(record.key.isWellFormed(), text);
      const printed = formatRecordLine(record.key, record.value, dialect);
      const again = parseRecordLine(printed);
      assert.equal(again.key, record.key, printed);
      assert.ok(valueEquals(again.value, record.value), `${text} printed as ${printed}`);
    }),
    { numRuns: 3000 },
  );
  // Most arbitrary lines are refused; the property must still have held for a good number.
  assert.ok(parsed >= 300, `only ${parsed} of 3000 lines parsed`);
});

Deno.test("parseRecordLineInto writes exactly encodeValue's bytes for records in every dialect", () => {
  const dialects: Dialect[] = ["assignment", "python", "bare"];
  fc.assert(
    fc.property(
      keyArbitrary(),
      valueArbitrary(),
      fc.constantFrom(...dialects),
      (key, value, dialect) => {
        const line = formatRecordLine(key, value, dialect);
        const writer = new ByteWriter();
        assert.equal(parseRecordLineInto(line, 1, writer), key);
        assert.deepEqual(writer.bytes(), encodeValue(parseRecordLine(line).value));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("endsInsideRecord: an error at the line's end with an object open, the first line of a record written over several", () => {
  const at = (text: string) => {
    try {
      parseRecordLine(text);
    } catch (error) {
      if (error instanceof RecordParseError) return endsInsideRecord(text, error);
      throw error;
    }
    throw new Error(`${text} parsed`);
  };
  assert.equal(at(`"person1": {`), true);
  assert.equal(at(`"person1": {  `), true, "trailing blanks are the end too");
  assert.equal(at(`ключ: { "a": { "b": 1 }`), true, "columns count code points");
  assert.equal(at(`x: { "a" 1 }`), false, "an error before the end");
  assert.equal(at(`x:`), false, "no object open");
  assert.equal(at(`x: "{`), false, "a brace in a string opens nothing");
});
