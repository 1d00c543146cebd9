/**
 * Keeps the layout true: every import in lib/ follows the layer order in the README's
 * Architecture section, that section names every module of lib/, and tests/ mirrors lib/
 * folder by folder.
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
