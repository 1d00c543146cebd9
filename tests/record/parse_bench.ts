/**
 * Parser throughput on records shaped like `kv gen -d 3 -l 8 -m 6` output:
 * each bench parses 1 MiB of lines, so MB/s = 1.048576 / (avg time in s).
 *
 * ```sh
 * deno bench tests/record_line_bench.ts
 * ```
 */
import { ByteWriter } from "../../lib/base/bytes.ts";
import { seededRandom } from "../trie/fixture.ts";
import { parseAsciiRecordInto } from "../../lib/record/parse_ascii.ts";
import { parseRecordLine, parseRecordLineInto } from "../../lib/record/parse.ts";
import { type Dialect, formatRecordLine } from "../../lib/record/format.ts";
import { type Field, float, int, object, str, type Value } from "../../lib/record/value.ts";

const BATCH_BYTES = 1024 * 1024;
const MAX_DEPTH = 3;
const MAX_STRING_LENGTH = 8;
const MAX_KEYS_PER_VALUE = 6;
const FIELD_TYPES: Readonly<Record<string, "string" | "int" | "float">> = {
  name: "string",
  age: "int",
  height: "float",
  weight: "float",
  street: "string",
  level: "int",
  hair_color: "string",
  family_members: "int",
  profession: "string",
  city: "string",
  postalcode: "int",
  phone: "string",
};
const FIELD_NAMES = Object.keys(FIELD_TYPES);
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function generateValue(random: () => number, depth: number): Value {
  const fieldCount = Math.floor(random() * (MAX_KEYS_PER_VALUE + 1));
  const names = [...FIELD_NAMES].sort(() => random() - 0.5).slice(0, fieldCount);
  const fields: Field[] = names.map((name) => {
    if (depth < MAX_DEPTH && random() < 0.5) return [name, generateValue(random, depth + 1)];
    switch (FIELD_TYPES[name]) {
      case "int":
        return [name, int(1 + Math.floor(random() * 100))];
      case "float":
        return [name, float(Math.round((1.5 + random() * 0.6) * 100) / 100)];
      default: {
        const length = 1 + Math.floor(random() * MAX_STRING_LENGTH);
        let text = "";
        for (let index = 0; index < length; index++) {
          text += ALPHANUMERIC[Math.floor(random() * ALPHANUMERIC.length)];
        }
        return [name, str(text)];
      }
    }
  });
  return object(fields);
}

/** About BATCH_BYTES of record lines in `dialect`. */
function generateLines(dialect: Dialect): string[] {
  const random = seededRandom(42);
  const lines: string[] = [];
  let byteCount = 0;
  while (byteCount < BATCH_BYTES) {
    const line = formatRecordLine(`person${lines.length}`, generateValue(random, 1), dialect);
    lines.push(line);
    byteCount += line.length + 1;
  }
  return lines;
}

for (const dialect of ["assignment", "python", "bare"] as const) {
  const lines = generateLines(dialect);
  Deno.bench({
    name: `parseRecordLine: 1 MiB of ${dialect}-dialect gen -d 3 -l 8 -m 6 lines`,
    group: "parse",
    baseline: dialect === "assignment",
    fn() {
      for (let index = 0; index < lines.length; index++) parseRecordLine(lines[index], index + 1);
    },
  });
}

// The indexer's two paths to the wire encoding, on the same assignment-dialect lines.
{
  const lines = generateLines("assignment");
  const encoder = new TextEncoder();
  const lineBytes = lines.map((line) => encoder.encode(line));
  const writer = new ByteWriter();
  Deno.bench({
    name: "parseRecordLineInto: 1 MiB of assignment-dialect lines to wire bytes",
    group: "encode",
    baseline: true,
    fn() {
      for (let index = 0; index < lines.length; index++) {
        writer.reset();
        parseRecordLineInto(lines[index], index + 1, writer);
      }
    },
  });
  Deno.bench({
    name: "parseAsciiRecordInto: the same 1 MiB, from bytes",
    group: "encode",
    fn() {
      for (const bytes of lineBytes) {
        writer.reset();
        parseAsciiRecordInto(bytes, writer);
      }
    },
  });
}
