/**
 * Keeps the layout true: every import in lib/ follows the layer order in the README's
 * Architecture section, that section names every module of lib/, tests/ mirrors lib/
 * folder by folder, and every function of lib/ is short enough to be seen whole.
 *
 *     base ← record ← {trie, protocol} ← {server, broker} ← client ← http ← cli ← main.ts
 *     gen sits beside them on base and record; lib/limits.ts is shared by all.
 */
import assert from "node:assert/strict";

const LIB = new URL("../lib/", import.meta.url);
const TESTS = new URL("./", import.meta.url);
const README = new URL("../README.md", import.meta.url);

/** The folders each lib/ folder may import from (itself always included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  base: [],
  record: ["base"],
  trie: ["base", "record"],
  protocol: ["base", "record"],
  server: ["base", "record", "trie", "protocol"],
  broker: ["base", "record", "trie", "protocol"],
  client: ["base", "record", "protocol", "broker"],
  http: ["base", "record", "protocol", "broker", "client"],
  gen: ["base", "record"],
  bench: ["base", "record", "protocol", "broker", "client", "gen"],
  cli: ["base", "record", "trie", "protocol", "server", "broker", "client", "http", "gen", "bench"],
};

/** Test folders that have no lib/ folder of their own, and why. */
const TEST_ONLY_FOLDERS = new Set(["helpers", "fixtures", "measure", "suite"]);

const IMPORT_PATTERN = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g;

function* walk(directory: URL): Generator<URL> {
  for (const entry of Deno.readDirSync(directory)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), directory);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

/** The lib/ folder a file lies in: "limits" for lib/limits.ts, else its first folder. */
function layerOf(file: URL): string {
  const relative = file.pathname.slice(LIB.pathname.length);
  const slash = relative.indexOf("/");
  return slash === -1 ? relative.replace(/\.ts$/, "") : relative.slice(0, slash);
}

/** Every relative import of a lib/ file, outside comments, with the file it names. */
function importsOf(file: URL): URL[] {
  const code = Deno.readTextFileSync(file)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  return [...code.matchAll(IMPORT_PATTERN)].map((match) => new URL(match[1], file));
}

Deno.test("every import in lib/ follows the layer order", () => {
  const wrong: string[] = [];
  for (const file of walk(LIB)) {
    const from = layerOf(file);
    for (const target of importsOf(file)) {
      if (!target.pathname.startsWith(LIB.pathname)) {
        if (!target.pathname.endsWith("/deno.json")) wrong.push(`${file.pathname} → ${target}`);
        continue;
      }
      const to = layerOf(target);
      if (to === from || to === "limits") continue;
      if (from === "limits" || !(MAY_IMPORT[from] ?? []).includes(to)) {
        wrong.push(`lib/${from} may not import lib/${to}: ${file.pathname} → ${target.pathname}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("lib/ has exactly the layer folders and limits.ts", () => {
  const entries = [...Deno.readDirSync(LIB)].map((entry) => entry.name).sort();
  assert.deepEqual(entries, [...Object.keys(MAY_IMPORT), "limits.ts"].sort());
});

Deno.test("tests/ mirrors lib/: each test folder is a lib/ folder or a named helper folder", () => {
  const folders = [...Deno.readDirSync(TESTS)].filter((entry) => entry.isDirectory);
  for (const folder of folders) {
    if (TEST_ONLY_FOLDERS.has(folder.name)) continue;
    assert.ok(folder.name in MAY_IMPORT, `tests/${folder.name}/ has no lib/${folder.name}/`);
  }
  for (const layer of Object.keys(MAY_IMPORT)) {
    assert.ok(
      folders.some((entry) => entry.name === layer),
      `lib/${layer}/ has no tests/${layer}/`,
    );
  }
});

/**
 * The README's Architecture block (the `text` fence after `## Architecture`): each lib/
 * folder's entry, from its `lib/x/` at the start of a line to the next one, by folder.
 */
function architectureEntries(readme: string): Map<string, string> {
  const section = readme.slice(readme.indexOf("\n## Architecture\n"));
  const block = section.slice(section.indexOf("```text\n"), section.indexOf("\n```\n"));
  const entries = new Map<string, string>();
  let folder = "";
  for (const line of block.split("\n")) {
    const start = /^lib\/(\w+)\/\s/.exec(line);
    if (start !== null) folder = start[1];
    if (folder !== "") entries.set(folder, `${entries.get(folder) ?? ""} ${line}`);
  }
  return entries;
}

Deno.test("the README's Architecture section names every module of lib/ in its folder's entry", () => {
  const entries = architectureEntries(Deno.readTextFileSync(README));
  const unnamed: string[] = [];
  for (const file of walk(LIB)) {
    const layer = layerOf(file);
    if (layer === "limits") continue;
    const module = file.pathname.slice(LIB.pathname.length + layer.length + 1, -".ts".length);
    const named = new RegExp(`(?<![\\w/])${module}(?![\\w])`).test(entries.get(layer) ?? "");
    if (!named) unnamed.push(`lib/${layer}/${module}.ts`);
  }
  assert.deepEqual(unnamed, []);
});

Deno.test("the import checker sees a wrong-way import", () => {
  const file = new URL("protocol/example.ts", LIB);
  const [target] = [...`import { x } from "../trie/mod.ts";`.matchAll(IMPORT_PATTERN)].map((
    match,
  ) => new URL(match[1], file));
  assert.equal(layerOf(target), "trie");
  assert.ok(!MAY_IMPORT[layerOf(file)].includes(layerOf(target)));
});

/**
 * Longest a function or method of lib/ may be, in lines from its first line to its closing
 * brace (JSDoc not counted): short enough to be seen whole on one screen.
 */
const MAX_FUNCTION_LINES = 70;

/**
 * The functions of lib/ allowed past {@link MAX_FUNCTION_LINES}, as "path name", each with
 * why it stays whole. Keep this short: split a long function where that makes it clearer.
 */
const LONG_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  [
    "http/openapi.ts recordSchemas",
    "data: the OpenAPI schemas of records, one literal the document embeds",
  ],
  [
    "http/openapi.ts clusterSchemas",
    "data: the OpenAPI schemas of the cluster's answers, one literal the document embeds",
  ],
]);

/** A function or method declaration's first line, deno fmt's layout: its indent and name. */
const FUNCTION_HEADER = new RegExp(
  String.raw`^(\s*)(?:export\s+)?(?:default\s+)?` +
    String.raw`(?:(?:static|async|get|set|public|private|protected|override)\s+)*` +
    String.raw`(?:function\s*\*?\s*([\w$]+)|\*?([#\w$]+)\s*(?:<.*>)?\s*\(|` +
    String.raw`(?:(?:const|let|readonly)\s+)?([#\w$]+)\s*(?::[^=]+)?=\s*` +
    String.raw`(?:async\s+)?(?:\([^)]*\)|[\w$]+)?)`,
);

/** Words a header-shaped line can start with that begin a statement, not a function. */
const STATEMENT_WORDS = new Set([
  "if",
  "for",
  "while",
  "switch",
  "catch",
  "with",
  "return",
  "await",
  "new",
  "typeof",
  "super",
  "throw",
  "yield",
  "do",
  "try",
]);

/** Whether each line of `lines` begins inside a template literal (odd backticks before it). */
function insideTemplate(lines: readonly string[]): boolean[] {
  let inside = false;
  return lines.map((line) => {
    const started = inside;
    const ticks = line.replace(/\\`/g, "").split("`").length - 1;
    if (ticks % 2 === 1) inside = !inside;
    return started;
  });
}

/**
 * The functions, methods and arrow functions bound to a name or a field in `source`
 * longer than `maxLines`, with their first line and length. Relies on deno fmt's layout: a
 * body closes with `}` (`};` for an arrow function) at its first line's indent, and a
 * signature split over lines ends with `) ... {` at that indent. Nested functions are
 * measured too.
 */
function longFunctionsIn(
  source: string,
  maxLines: number,
): { name: string; line: number; lines: number }[] {
  const lines = source.split("\n");
  const templated = insideTemplate(lines);
  const found: { name: string; line: number; lines: number }[] = [];
  for (let first = 0; first < lines.length; first++) {
    const match = templated[first] ? null : FUNCTION_HEADER.exec(lines[first]);
    const name = match?.[2] ?? match?.[3] ?? match?.[4];
    if (match === null || name === undefined || STATEMENT_WORDS.has(name)) continue;
    const indent = match[1];
    const arrow = match[4] !== undefined;
    let open = first;
    if (lines[first].endsWith("(")) {
      do open++; while (open < lines.length && !lines[open].startsWith(`${indent})`));
    }
    if (open >= lines.length || !lines[open].endsWith("{")) continue;
    if (arrow && !/=>\s*\{$/.test(lines[open])) continue;
    const close = indent + (arrow ? "};" : "}");
    let last = open + 1;
    // Any other line at the header's indent ends the search: this was no declaration.
    while (
      last < lines.length && lines[last] !== close &&
      (templated[last] || !new RegExp(`^${indent}\\S`).test(lines[last]))
    ) last++;
    if (last >= lines.length || lines[last] !== close) continue;
    const length = last - first + 1;
    if (length > maxLines) found.push({ name, line: first + 1, lines: length });
  }
  return found;
}

Deno.test(`no function of lib/ is longer than ${MAX_FUNCTION_LINES} lines but those allowed by name`, () => {
  const long: string[] = [];
  const allowedSeen = new Set<string>();
  for (const file of walk(LIB)) {
    const path = file.pathname.slice(LIB.pathname.length);
    for (const found of longFunctionsIn(Deno.readTextFileSync(file), MAX_FUNCTION_LINES)) {
      const entry = `${path} ${found.name}`;
      if (LONG_FUNCTIONS.has(entry)) allowedSeen.add(entry);
      else long.push(`lib/${path}:${found.line} ${found.name} is ${found.lines} lines`);
    }
  }
  assert.deepEqual(long, [], "split them where that makes them clearer");
  const stale = [...LONG_FUNCTIONS.keys()].filter((entry) => !allowedSeen.has(entry));
  assert.deepEqual(stale, [], "allowed as long, but no longer long: drop them from LONG_FUNCTIONS");
});

Deno.test("the function-length checker measures functions, methods, split signatures and arrow functions (bound or fields), not calls or templates", () => {
  const body = (indent: string, count: number) => `${indent}  step();\n`.repeat(count);
  const source = [
    `export async function plain(a: number): Promise<void> {\n${body("", 3)}}`,
    `class C {\n  static #method<T>(x: T): T {\n${body("  ", 4)}  }\n}`,
    `function split(\n  a: number,\n): void {\n${body("", 2)}}`,
    `export const arrow = async (a: number) => {\n${body("", 3)}};`,
    `function call(): void {\n  run(() => {\n${body("  ", 9)}  });\n}`,
    "const text = `\n}\n`;",
    `if (x) {\n${body("", 9)}}`,
    `class D {\n  readonly #field = (a: number): void => {\n${body("  ", 3)}  };\n}`,
  ].join("\n");
  assert.deepEqual(longFunctionsIn(source, 4), [
    { name: "plain", line: 1, lines: 5 },
    { name: "#method", line: 7, lines: 6 },
    { name: "split", line: 14, lines: 6 },
    { name: "arrow", line: 20, lines: 5 },
    { name: "call", line: 25, lines: 13 },
    { name: "#field", line: 53, lines: 5 },
  ]);
});
