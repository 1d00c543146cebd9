import assert from "node:assert/strict";
import {
  KeyFileError,
  MAX_KEY_FILE_KEYS,
  parseKeyFile,
  SAMPLE_KEYS,
} from "../../lib/gen/keyfile.ts";
import { MAX_KEY_BYTES } from "../../lib/limits.ts";

const FIXTURES = new URL("../../testdata/keyfiles/", import.meta.url);

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

/** Parses `text`, expecting a KeyFileError, and returns its message. */
function errorOf(text: string, fileName = "keyFile.txt"): string {
  try {
    parseKeyFile(text, fileName);
  } catch (error) {
    assert.ok(error instanceof KeyFileError, `expected a KeyFileError, got ${error}`);
    return error.message;
  }
  assert.fail("expected parseKeyFile to throw");
}

Deno.test("parseKeyFile reads the original project's keyFile.txt: 12 keys in order", () => {
  const text = Deno.readTextFileSync(new URL("../../testdata/compat/keyFile.txt", import.meta.url));
  const keys = parseKeyFile(text, "keyFile.txt");
  assert.equal(keys.length, 12);
  assert.deepEqual(keys.slice(0, 3), [
    { name: "name", type: "string" },
    { name: "age", type: "int" },
    { name: "height", type: "float" },
  ]);
  assert.deepEqual(keys.at(-1), { name: "gender", type: "string" });
});

Deno.test("parseKeyFile skips comments and blank lines and accepts tabs, CRLF and '-'", () => {
  assert.deepEqual(parseKeyFile(fixture("valid.txt"), "valid.txt"), [
    { name: "name", type: "string" },
    { name: "age", type: "int" },
    { name: "height", type: "float" },
    { name: "family-members", type: "int" },
  ]);
});

Deno.test("parseKeyFile ignores a byte order mark and accepts Unicode letters in names", () => {
  assert.deepEqual(parseKeyFile("\uFEFFnäme string\n名前 int", "k.txt"), [
    { name: "näme", type: "string" },
    { name: "名前", type: "int" },
  ]);
});

Deno.test("parseKeyFile names file, line and column of an unknown type", () => {
  assert.equal(
    errorOf("name string\nage int\nflag bool\n"),
    "keyFile.txt:3:6: unknown type 'bool'; expected int, float or string",
  );
  assert.equal(
    errorOf("  age   Int"),
    "keyFile.txt:1:9: unknown type 'Int'; expected int, float or string",
  );
});

Deno.test("parseKeyFile rejects a line without a type, pointing after the name", () => {
  assert.equal(
    errorOf("name string\nage\n"),
    "keyFile.txt:2:4: missing type after 'age'; expected int, float or string",
  );
});

Deno.test("parseKeyFile rejects extra text after the type", () => {
  assert.equal(
    errorOf("name string extra"),
    "keyFile.txt:1:13: unexpected 'extra' after the type; expected one 'name type' per line",
  );
});

Deno.test("parseKeyFile rejects '.', quotes and invisible characters in names", () => {
  const rule = "names use only letters, digits, '_' and '-'";
  assert.equal(
    errorOf("name string\nhair.color string"),
    `keyFile.txt:2:5: key name 'hair.color' contains '.'; ${rule}`,
  );
  assert.equal(
    errorOf('"name" string'),
    `keyFile.txt:1:1: key name '"name"' contains '"'; ${rule}`,
  );
  assert.equal(errorOf("it's int"), `keyFile.txt:1:3: key name 'it's' contains '''; ${rule}`);
  // The name is quoted with its invisible characters escaped: a NUL, CR or escape sequence
  // reached the terminal as it was.
  assert.equal(
    errorOf("a\u00a0b int"),
    `keyFile.txt:1:2: key name 'a\\u00a0b' contains the invisible character U+00A0; ${rule}`,
  );
  assert.equal(
    errorOf("ab\rc int"),
    `keyFile.txt:1:3: key name 'ab\\u000dc' contains the invisible character U+000D; ${rule}`,
  );
  assert.equal(
    errorOf("a\x1b[2Jb int"),
    `keyFile.txt:1:2: key name 'a\\u001b[2Jb' contains the invisible character U+001B; ${rule}`,
  );
  assert.equal(
    errorOf("name str\0"),
    `keyFile.txt:1:6: unknown type 'str\\u0000'; expected int, float or string`,
  );
});

Deno.test("parseKeyFile counts columns in characters, not UTF-16 units", () => {
  assert.equal(
    errorOf("😀😀 bool"),
    "keyFile.txt:1:1: key name '😀😀' contains '😀'; names use only letters, digits, '_' and '-'",
  );
  assert.equal(
    errorOf("ää bool"),
    "keyFile.txt:1:4: unknown type 'bool'; expected int, float or string",
  );
});

Deno.test("parseKeyFile rejects a duplicate name, naming the first definition", () => {
  assert.equal(
    errorOf("name string\nage int\n  name float\n"),
    "keyFile.txt:3:3: duplicate key 'name' (first defined on line 1)",
  );
});

Deno.test("parseKeyFile rejects a file without keys, naming only the file", () => {
  const reason = "no keys; add lines of the form 'name type' with type int, float or string";
  assert.equal(errorOf("", "empty.txt"), `empty.txt: ${reason}`);
  assert.equal(errorOf("# comment\n\n   \n", "k.txt"), `k.txt: ${reason}`);
});

Deno.test("parseKeyFile enforces the name length and key count limits", () => {
  const longName = "a".repeat(MAX_KEY_BYTES + 1);
  assert.equal(
    errorOf(`${longName} int`),
    `keyFile.txt:1:1: key name is ${MAX_KEY_BYTES + 1} bytes long; the limit is ${MAX_KEY_BYTES}`,
  );
  assert.equal(parseKeyFile(`${"a".repeat(MAX_KEY_BYTES)} int`, "k").length, 1);

  const lines = Array.from({ length: MAX_KEY_FILE_KEYS + 1 }, (_, index) => `k${index} int`);
  assert.equal(parseKeyFile(lines.slice(0, -1).join("\n"), "k").length, MAX_KEY_FILE_KEYS);
  assert.equal(
    errorOf(lines.join("\n")),
    `keyFile.txt:${MAX_KEY_FILE_KEYS + 1}:1: more than ${MAX_KEY_FILE_KEYS} keys`,
  );
});

Deno.test("KeyFileError exposes the location and reason separately", () => {
  try {
    parseKeyFile("x float\ny bool", "keys.txt");
    assert.fail("expected a KeyFileError");
  } catch (error) {
    assert.ok(error instanceof KeyFileError);
    assert.equal(error.fileName, "keys.txt");
    assert.equal(error.line, 2);
    assert.equal(error.column, 3);
    assert.equal(error.reason, "unknown type 'bool'; expected int, float or string");
  }
});

Deno.test("SAMPLE_KEYS are the keys of the repository's keyFile.txt and of the original project's", () => {
  for (const file of ["../../keyFile.txt", "../../testdata/compat/keyFile.txt"]) {
    const text = Deno.readTextFileSync(new URL(file, import.meta.url));
    assert.deepEqual(parseKeyFile(text, file), SAMPLE_KEYS, file);
  }
});
