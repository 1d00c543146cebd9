import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BLOCK_RECORDS,
  checkGeneratorOptions,
  generateChunks,
  generateText,
  type GeneratorOptions,
  MAX_GENERATED_NESTING,
  MAX_KEY_PREFIX_BYTES,
  recordFieldBudget,
} from "../../lib/gen/generator.ts";
import type { KeySpec, KeyType } from "../../lib/gen/keyfile.ts";
import { MAX_LINE_BYTES } from "../../lib/limits.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import { formatRecordLine } from "../../lib/record/format.ts";
import { COMPAT_KEYS } from "../helpers/fixtures.ts";

function optionsWith(overrides: Partial<GeneratorOptions>): GeneratorOptions {
  return {
    keys: COMPAT_KEYS,
    recordCount: 20,
    maxNesting: 2,
    maxStringLength: 15,
    maxKeysPerValue: 8,
    seed: 1,
    ...overrides,
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

function linesOf(text: string): string[] {
  assert.ok(text === "" || text.endsWith("\n"), "output ends with a newline");
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

// A deliberately small, independent reader of the generator's exact output
// format, so the limits below are checked without trusting any other module.
type Checked =
  | { kind: "object"; fields: [string, Checked][] }
  | { kind: "string" | "int" | "float"; text: string };

class StrictReader {
  #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  readLine(): { key: string; value: Checked } {
    const key = this.#quoted();
    this.#expect(" : ");
    const value = this.#value();
    assert.equal(this.#at, this.#text.length, `trailing text at ${this.#at}`);
    return { key, value };
  }

  #expect(literal: string): void {
    assert.equal(this.#text.slice(this.#at, this.#at + literal.length), literal, `at ${this.#at}`);
    this.#at += literal.length;
  }

  #quoted(): string {
    this.#expect('"');
    const end = this.#text.indexOf('"', this.#at);
    assert.ok(end >= 0, "unterminated string");
    const text = this.#text.slice(this.#at, end);
    this.#at = end + 1;
    return text;
  }

  #value(): Checked {
    const next = this.#text[this.#at];
    if (next === '"') return { kind: "string", text: this.#quoted() };
    if (next === "{") return this.#object();
    const match = /^[0-9.]+/.exec(this.#text.slice(this.#at));
    assert.ok(match, `expected a value at ${this.#at}`);
    this.#at += match[0].length;
    return { kind: match[0].includes(".") ? "float" : "int", text: match[0] };
  }

  #object(): Checked {
    const fields: [string, Checked][] = [];
    if (this.#text.startsWith("{}", this.#at)) {
      this.#at += 2;
      return { kind: "object", fields };
    }
    this.#expect("{ ");
    for (;;) {
      const name = this.#quoted();
      this.#expect(" : ");
      fields.push([name, this.#value()]);
      if (this.#text.startsWith(" }", this.#at)) break;
      this.#expect(" ; ");
    }
    this.#at += 2;
    return { kind: "object", fields };
  }
}

/** Asserts every documented limit of one object at `level` (0 = the record's value). */
function checkObject(
  value: Checked,
  level: number,
  options: GeneratorOptions,
  typeOf: Map<string, KeyType>,
): void {
  assert.equal(value.kind, "object", "every record value and nested value is an object");
  if (value.kind !== "object") return;
  assert.ok(value.fields.length <= options.maxKeysPerValue, "at most m keys per value");
  const names = value.fields.map(([name]) => name);
  assert.equal(new Set(names).size, names.length, `duplicate keys in ${names}`);
  for (const [name, field] of value.fields) {
    const type = typeOf.get(name);
    assert.ok(type !== undefined, `key '${name}' is not in the key file`);
    if (field.kind === "object") {
      assert.ok(level < options.maxNesting, `nested deeper than d=${options.maxNesting}`);
      checkObject(field, level + 1, options, typeOf);
      continue;
    }
    assert.equal(field.kind, type, `key '${name}' holds a ${field.kind}`);
    if (type === "string") {
      assert.match(field.text, /^[A-Za-z0-9]+$/);
      assert.ok(field.text.length <= options.maxStringLength, `string '${field.text}' too long`);
    } else if (type === "int") {
      assert.match(field.text, /^[1-9][0-9]*$/);
      assert.ok(Number(field.text) >= 1 && Number(field.text) <= 100, `int ${field.text}`);
    } else {
      assert.match(field.text, /^[12]\.[0-9]{1,2}$/);
      const number = Number(field.text);
      assert.ok(number >= 1.5 && number <= 2.1, `float ${field.text}`);
      const shortest = String(number).includes(".") ? String(number) : `${number}.0`;
      assert.equal(field.text, shortest, "floats print in shortest form with a '.'");
    }
  }
}

function checkOutput(text: string, options: GeneratorOptions): void {
  const typeOf = new Map(options.keys.map((key) => [key.name, key.type]));
  const lines = linesOf(text);
  assert.equal(lines.length, options.recordCount);
  lines.forEach((line, index) => {
    const record = new StrictReader(line).readLine();
    assert.equal(record.key, `person${index}`);
    checkObject(record.value, 0, options, typeOf);
  });
}

const keyFileArbitrary: fc.Arbitrary<KeySpec[]> = fc.uniqueArray(
  fc.record({
    name: fc.stringMatching(/^[a-z_-][a-z0-9_-]{0,7}$/),
    type: fc.constantFrom<KeyType>("int", "float", "string"),
  }),
  { minLength: 1, maxLength: 10, selector: (key) => key.name },
);

const optionsArbitrary: fc.Arbitrary<GeneratorOptions> = keyFileArbitrary.chain((keys) =>
  fc.record({
    keys: fc.constant(keys),
    recordCount: fc.integer({ min: 0, max: 25 }),
    maxNesting: fc.integer({ min: 0, max: 4 }),
    maxStringLength: fc.integer({ min: 1, max: 20 }),
    maxKeysPerValue: fc.integer({ min: 0, max: Math.min(keys.length, 4) }),
    seed: fc.integer({ min: 0, max: 0xffff_ffff }),
  })
);

Deno.test("generated records keep every limit for many seeds, key files and flags", () => {
  fc.assert(
    fc.property(optionsArbitrary, (options) => checkOutput(generateText(options), options)),
    { numRuns: 300 },
  );
});

Deno.test("generated records keep every limit with the original key file and README flags", () => {
  for (let seed = 0; seed < 20; seed++) {
    const options = optionsWith({ seed, recordCount: 15, maxNesting: 2, maxKeysPerValue: 8 });
    checkOutput(generateText(options), options);
  }
});

Deno.test("output matches the documented format byte for byte", () => {
  const keys: KeySpec[] = [{ name: "age", type: "int" }];
  const text = generateText(
    optionsWith({ keys, recordCount: 200, maxNesting: 0, maxKeysPerValue: 1 }),
  );
  const lines = linesOf(text);
  for (const [index, line] of lines.entries()) {
    assert.match(line, new RegExp(`^"person${index}" : (\\{\\}|\\{ "age" : [1-9][0-9]* \\})$`));
  }
  assert.ok(lines.some((line) => line.endsWith(": {}")), "some records are empty");
  assert.ok(lines.some((line) => line.endsWith(" }")), "some records have the key");
});

Deno.test("keyPrefix replaces person in every key and nothing else: the same values, byte for byte", () => {
  const options = optionsWith({ recordCount: 300 });
  const people = linesOf(generateText(options));
  const benched = linesOf(generateText({ ...options, keyPrefix: "bench-person" }));
  assert.equal(benched.length, people.length);
  for (const [index, line] of benched.entries()) {
    assert.equal(line, people[index].replace(`"person${index}"`, `"bench-person${index}"`));
    assert.equal(parseRecordLine(line).key, `bench-person${index}`);
  }
});

Deno.test("floats cover 1.5..2.1 in shortest form, including 1.5, 2.0 and 2.1", () => {
  const keys: KeySpec[] = [{ name: "f", type: "float" }];
  const text = generateText(
    optionsWith({ keys, recordCount: 3000, maxNesting: 0, maxKeysPerValue: 1 }),
  );
  const floats = new Set([...text.matchAll(/"f" : ([0-9.]+)/g)].map((match) => match[1]));
  assert.equal(floats.size, 61, "all 61 values from 1.50 to 2.10 appear");
  for (const expected of ["1.5", "1.51", "1.99", "2.0", "2.05", "2.1"]) {
    assert.ok(floats.has(expected), `missing ${expected}`);
  }
  for (const absent of ["1.50", "2.00", "2", "2.10"]) assert.ok(!floats.has(absent), absent);
});

Deno.test("key counts are uniform over 0..m and values nest about half the time", () => {
  const options = optionsWith({ recordCount: 5000, maxNesting: 1, maxKeysPerValue: 4 });
  const counts = [0, 0, 0, 0, 0];
  let nested = 0;
  let fields = 0;
  for (const line of linesOf(generateText(options))) {
    const { value } = new StrictReader(line).readLine();
    assert.equal(value.kind, "object");
    if (value.kind !== "object") continue;
    counts[value.fields.length]++;
    for (const [, field] of value.fields) {
      fields++;
      if (field.kind === "object") nested++;
    }
  }
  for (const count of counts) assert.ok(Math.abs(count - 1000) < 150, `counts ${counts}`);
  assert.ok(Math.abs(nested / fields - 0.5) < 0.03, `nested fraction ${nested / fields}`);
});

Deno.test("string lengths and characters are uniform: 1..l, all 62 of [A-Za-z0-9]", () => {
  const keys: KeySpec[] = [{ name: "s", type: "string" }];
  const options = optionsWith({ keys, recordCount: 20_000, maxNesting: 0, maxKeysPerValue: 1 });
  const lengths = new Map<number, number>();
  const characters = new Map<string, number>();
  let characterCount = 0;
  for (const line of linesOf(generateText(options))) {
    const match = /"s" : "([^"]*)"/.exec(line);
    if (match === null) continue;
    lengths.set(match[1].length, (lengths.get(match[1].length) ?? 0) + 1);
    for (const character of match[1]) {
      characters.set(character, (characters.get(character) ?? 0) + 1);
      characterCount++;
    }
  }
  const stringCount = [...lengths.values()].reduce((sum, count) => sum + count, 0);
  assert.deepEqual([...lengths.keys()].sort((a, b) => a - b), range(1, 15));
  for (const count of lengths.values()) {
    assert.ok(Math.abs(count / stringCount - 1 / 15) < 0.01, `length share ${count}`);
  }
  assert.equal(characters.size, 62);
  for (const [character, count] of characters) {
    assert.ok(/[A-Za-z0-9]/.test(character));
    assert.ok(Math.abs(count / characterCount - 1 / 62) < 0.002, `${character}: ${count}`);
  }
});

Deno.test("the same seed gives identical bytes; another seed gives different ones", () => {
  fc.assert(
    fc.property(optionsArbitrary, (options) => {
      assert.equal(generateText(options), generateText({ ...options }));
    }),
    { numRuns: 50 },
  );
  const options = optionsWith({ recordCount: 50 });
  assert.notEqual(generateText(options), generateText({ ...options, seed: options.seed + 1 }));
});

Deno.test("chunk size changes only how the output is split, and chunks hold whole records", () => {
  const options = optionsWith({ recordCount: 300 });
  const whole = generateText(options);
  const decoder = new TextDecoder();
  let joined = "";
  let lastDone = 0;
  for (const chunk of generateChunks({ ...options, chunkBytes: 1000 })) {
    const text = decoder.decode(chunk.bytes);
    assert.ok(text.endsWith("\n"), "a chunk ends at a record boundary");
    assert.equal(linesOf(text).length, chunk.recordsDone - lastDone);
    lastDone = chunk.recordsDone;
    joined += text;
  }
  assert.equal(lastDone, 300);
  assert.equal(joined, whole);
});

Deno.test("a chunk stays intact while the next one is generated, across blocks too", () => {
  // Several blocks of a few chunks each, an odd number for one of the two sizes: a block's
  // first chunk must not reuse the buffer of the previous block's last one.
  for (const chunkBytes of [50_000, 65_000]) {
    checkChunksStayIntact(optionsWith({
      recordCount: 3 * BLOCK_RECORDS + 17,
      maxNesting: 0,
      maxKeysPerValue: 1,
      chunkBytes,
    }));
  }
  checkChunksStayIntact(optionsWith({ recordCount: 400, chunkBytes: 2000 }));
});

function checkChunksStayIntact(options: GeneratorOptions): void {
  const decoder = new TextDecoder();
  const iterator = generateChunks(options);
  let previous = iterator.next();
  let previousCopy = previous.done ? "" : decoder.decode(previous.value.bytes);
  let chunkCount = 0;
  for (let current = iterator.next(); !current.done; current = iterator.next()) {
    assert.ok(!previous.done);
    assert.equal(decoder.decode(previous.value.bytes), previousCopy, "previous chunk unchanged");
    previous = current;
    previousCopy = decoder.decode(current.value.bytes);
    chunkCount++;
  }
  assert.ok(chunkCount > 3, "the test spans several chunks");
  assert.equal(text(generateChunks(options)), generateText(options), "the bytes of one run");
}

/** The chunks' text, each copied as it comes. */
function text(chunks: Iterable<{ bytes: Uint8Array }>): string {
  const decoder = new TextDecoder();
  let all = "";
  for (const chunk of chunks) all += decoder.decode(chunk.bytes);
  return all;
}

Deno.test("no record exceeds MAX_LINE_BYTES even with very deep and wide settings", () => {
  const options = optionsWith({ recordCount: 10, maxNesting: 20, maxKeysPerValue: 12 });
  const lines = linesOf(generateText(options));
  const encoder = new TextEncoder();
  let longest = 0;
  for (const line of lines) {
    const bytes = encoder.encode(line).length + 1;
    assert.ok(bytes <= MAX_LINE_BYTES, `line of ${bytes} bytes`);
    longest = Math.max(longest, bytes);
    parseRecordLine(line, 1);
  }
  // Branching about 3 over 20 levels would make gigabytes; the budget stops records near
  // the limit (a record whose first draws give it few keys stays small).
  assert.ok(longest > MAX_LINE_BYTES / 4, `the longest line, ${longest} bytes, is far below`);
  checkOutput(lines.join("\n") + "\n", options);
  assert.ok(recordFieldBudget(options) > 1000);
});

Deno.test("output round-trips through parseRecordLine and formatRecordLine byte for byte", () => {
  const settings: Partial<GeneratorOptions>[] = [
    { recordCount: 200, maxNesting: 3, maxStringLength: 8, maxKeysPerValue: 6 },
    { recordCount: 50, maxNesting: 0, maxStringLength: 40, maxKeysPerValue: 12 },
    { recordCount: 20, maxNesting: MAX_GENERATED_NESTING, maxStringLength: 3, maxKeysPerValue: 2 },
  ];
  for (const [index, overrides] of settings.entries()) {
    const options = optionsWith({ ...overrides, seed: 100 + index });
    const typeOf = new Map(options.keys.map((key) => [key.name, key.type]));
    for (const [lineIndex, line] of linesOf(generateText(options)).entries()) {
      const record = parseRecordLine(line, lineIndex + 1);
      assert.equal(record.key, `person${lineIndex}`);
      assert.equal(formatRecordLine(record.key, record.value, "assignment"), line);
      // Types survive the round trip: a float such as 2.0 stays a float.
      const stack = [record.value];
      while (stack.length > 0) {
        const value = stack.pop()!;
        if (value.kind !== "object") continue;
        for (const [name, field] of value.fields) {
          if (field.kind === "object") stack.push(field);
          else assert.equal(field.kind, typeOf.get(name));
        }
      }
    }
  }
});

Deno.test("generateChunks and checkGeneratorOptions refuse options outside their ranges", () => {
  const bad: Partial<GeneratorOptions>[] = [
    { keys: [] },
    { recordCount: -1 },
    { recordCount: 1.5 },
    { maxNesting: MAX_GENERATED_NESTING + 1 },
    { maxStringLength: 0 },
    { maxKeysPerValue: COMPAT_KEYS.length + 1 },
    { seed: -1 },
    { chunkBytes: 0 },
    { keyPrefix: "a.b" },
    { keyPrefix: 'a"b' },
    { keyPrefix: "a\\b" },
    { keyPrefix: "a\nb" },
    { keyPrefix: "x".repeat(MAX_KEY_PREFIX_BYTES + 1) },
  ];
  for (const overrides of bad) {
    const options = optionsWith(overrides);
    assert.throws(() => checkGeneratorOptions(options), RangeError, JSON.stringify(overrides));
    assert.throws(() => generateChunks(options).next(), RangeError, JSON.stringify(overrides));
  }
  assert.equal(generateText(optionsWith({ recordCount: 0 })), "");
});
