/**
 * Keeps the documentation whole, in the style of Deno's standard library:
 *
 * - every symbol a lib/ module exports has JSDoc, and every exported function and class
 *   has an `@example` in it (a class's own JSDoc, not only its constructor's); exported
 *   constants, interfaces, type aliases and enums need JSDoc but no example. A
 *   re-export (`export { x } from "./y.ts"`) is checked where `x` is declared.
 * - `deno doc --lint mod.ts`, the library's public surface, reports nothing.
 * - every link in README.md and docs/protocol.md leads somewhere: an anchor to a heading (or
 *   `<a id>`) of the same file, a relative path to a file that exists; and every lib/, tests/,
 *   docs/ or testdata/ path they name exists (a module renamed leaves no stale name behind).
 *
 * One `deno doc --json` process reads every .ts file under lib/ at once; a failure
 * names each symbol at fault with its file and line.
 */
import assert from "node:assert/strict";
import { outputWithin } from "./helpers/wait.ts";

const ROOT = new URL("../", import.meta.url);
const LIB = new URL("lib/", ROOT);

/** The JSDoc of one declaration, as `deno doc --json` gives it. */
interface JsDoc {
  readonly doc?: string;
  readonly tags?: readonly { readonly kind: string }[];
}

/** One declaration of an exported symbol (`deno doc --json`, format version 2). */
interface Declaration {
  readonly kind: string;
  /** `line` counts from 0. */
  readonly location: { readonly filename: string; readonly line: number };
  readonly jsDoc?: JsDoc;
}

/** The output of `deno doc --json` for several files. */
interface DocOutput {
  readonly version: number;
  readonly nodes: Record<
    string,
    { readonly symbols: readonly { readonly name: string; readonly declarations: Declaration[] }[] }
  >;
}

/** Declaration kinds that must carry an `@example`. */
const NEEDS_EXAMPLE = new Set(["function", "class"]);

function* walk(directory: URL): Generator<string> {
  for (const entry of Deno.readDirSync(directory)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), directory);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.name.endsWith(".ts")) yield url.pathname.slice(ROOT.pathname.length);
  }
}

/** Runs `deno` with `args` in the repository; its stdout, or a failure showing its output. */
async function deno(args: string[], what: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const run = await outputWithin(child, { what });
  const stdout = new TextDecoder().decode(run.stdout);
  const stderr = new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, `${what} failed:\n${stdout}${stderr}`);
  return stdout;
}

/** `deno doc --json` of `files` (paths relative to the repository). */
async function docJson(files: readonly string[]): Promise<DocOutput> {
  const output = await deno(["doc", "--json", ...files], "deno doc --json");
  const doc = JSON.parse(output) as DocOutput;
  assert.equal(doc.version, 2, "deno doc --json changed its format: update this test");
  return doc;
}

/**
 * Each exported symbol of `doc` that lacks JSDoc, or an `@example` when it is a function
 * or class: `lib/x.ts:12 name: what is missing`.
 */
function undocumented(doc: DocOutput): string[] {
  const problems: string[] = [];
  for (const node of Object.values(doc.nodes)) {
    for (const symbol of node.symbols) {
      for (const declaration of symbol.declarations) {
        if (declaration.kind === "reference") continue;
        const { filename, line } = declaration.location;
        const path = filename.startsWith(ROOT.href) ? filename.slice(ROOT.href.length) : filename;
        const where = `${path}:${line + 1} ${symbol.name}`;
        const jsDoc = declaration.jsDoc;
        if ((jsDoc?.doc ?? "").trim() === "") {
          problems.push(`${where}: exported ${declaration.kind} without JSDoc`);
        }
        const hasExample = jsDoc?.tags?.some((tag) => tag.kind === "example") ?? false;
        if (NEEDS_EXAMPLE.has(declaration.kind) && !hasExample) {
          problems.push(`${where}: exported ${declaration.kind} without an @example`);
        }
      }
    }
  }
  return problems.sort();
}

Deno.test("every export of lib/ has JSDoc, and every function and class an @example", async () => {
  const files = [...walk(LIB)];
  const doc = await docJson(files);
  assert.equal(Object.keys(doc.nodes).length, files.length, "deno doc read every lib/ file");
  const problems = undocumented(doc);
  assert.deepEqual(problems, [], `undocumented exports:\n${problems.join("\n")}`);
});

Deno.test("the docs check names an export without JSDoc, and a function or class without an example", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv-docs-test-" });
  try {
    const file = `${dir}/sample.ts`;
    await Deno.writeTextFile(
      file,
      [
        "export const LIMIT = 1;",
        "/** Adds one. */",
        "export function next(n: number): number {",
        "  return n + 1;",
        "}",
        "/**",
        " * Says hello.",
        " *",
        " * @example",
        " * ```ts",
        ' * hello(); // "hello"',
        " * ```",
        " */",
        "export function hello(): string {",
        '  return "hello";',
        "}",
        "export { hello as greet };",
        "/** A box; only its constructor shows an example, which is not enough. */",
        "export class Box {",
        "  /**",
        "   * Makes one.",
        "   *",
        "   * @example",
        "   * ```ts",
        "   * new Box();",
        "   * ```",
        "   */",
        "  constructor() {}",
        "}",
        "",
      ].join("\n"),
    );
    const problems = undocumented(await docJson([file])).map((problem) =>
      problem.slice(problem.lastIndexOf("/") + 1)
    );
    assert.deepEqual(problems, [
      "sample.ts:1 LIMIT: exported variable without JSDoc",
      "sample.ts:19 Box: exported class without an @example",
      "sample.ts:3 next: exported function without an @example",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno doc --lint mod.ts finds nothing missing in the public surface", async () => {
  await deno(["doc", "--lint", "mod.ts"], "deno doc --lint mod.ts");
});

/** Whether a file or directory is at `url`. */
function existsAt(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The markdown files whose links and paths the tests below check, relative to the repository. */
const LINKED_DOCS = ["README.md", "docs/protocol.md"];

/**
 * The anchor GitHub gives a heading's text: lower case, every character but a letter, mark,
 * digit, `_`, `-` or space dropped (backticks and `—` among them), spaces made `-`.
 */
function headingAnchor(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, "").replaceAll(" ", "-");
}

/**
 * Each link of `markdown` (outside code) to an anchor no heading or `<a id>` of it has, or
 * to a file that `exists` denies: `file:line (#anchor)`. A heading repeated takes `-1`,
 * `-2`… as on GitHub.
 */
function brokenLinks(file: string, markdown: string, exists: (path: string) => boolean): string[] {
  const lines = markdown.split("\n");
  const anchors = new Set<string>();
  const prose: string[] = [];
  let fenced = false;
  for (const line of lines) {
    if (line.startsWith("```")) fenced = !fenced;
    const text = fenced || line.startsWith("```") ? "" : line.replace(/`[^`]*`/g, "");
    prose.push(text);
    // An anchor of its own (`<a id="x"></a>`) keeps a link short and whole when the
    // heading's words change (docs/protocol.md's request headings carry their versions).
    for (const [, id] of text.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(id);
    const heading = /^#{1,6} (.*)$/.exec(fenced ? "" : line);
    if (heading === null) continue;
    const anchor = headingAnchor(heading[1].trim());
    let unique = anchor;
    for (let n = 1; anchors.has(unique); n++) unique = `${anchor}-${n}`;
    anchors.add(unique);
  }
  const broken: string[] = [];
  prose.forEach((text, index) => {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:: not this check's to follow
      const ok = target.startsWith("#") ? anchors.has(target.slice(1)) : exists(target);
      if (!ok) broken.push(`${file}:${index + 1} (${target})`);
    }
  });
  return broken;
}

Deno.test("every link in README.md and docs/ names a heading of its file, or a file that exists", async () => {
  const problems: string[] = [];
  for (const file of LINKED_DOCS) {
    const markdown = await Deno.readTextFile(new URL(file, ROOT));
    const base = new URL(file, ROOT);
    problems.push(...brokenLinks(file, markdown, (path) => existsAt(new URL(path, base))));
  }
  assert.deepEqual(problems, [], `links to nothing:\n${problems.join("\n")}`);
});

/**
 * Each path under lib/, tests/, docs/ or testdata/ that `markdown` names (code included: a
 * command to run names its script) and `exists` denies, as `file:line path`.
 */
function missingPaths(file: string, markdown: string, exists: (path: string) => boolean): string[] {
  const missing: string[] = [];
  markdown.split("\n").forEach((line, index) => {
    for (const [named] of line.matchAll(/\b(?:lib|tests|docs|testdata)\/[\w./-]*/g)) {
      const path = named.replace(/[.]+$/, ""); // a sentence's full stop is not the path's
      if (!exists(path)) missing.push(`${file}:${index + 1} ${path}`);
    }
  });
  return missing;
}

Deno.test("every lib/, tests/, docs/ and testdata/ path README.md and docs/ name exists", async () => {
  const problems: string[] = [];
  for (const file of LINKED_DOCS) {
    const markdown = await Deno.readTextFile(new URL(file, ROOT));
    problems.push(...missingPaths(file, markdown, (path) => existsAt(new URL(path, ROOT))));
  }
  assert.deepEqual(problems, [], `paths to nothing:\n${problems.join("\n")}`);
});

Deno.test("the path check names a path that does not exist, and takes a sentence's full stop off", () => {
  const markdown = [
    "See lib/limits.ts. And `deno run -A tests/measure/gone.ts`, lib/ and tests/cli/.",
    "Not stdlib/x.ts, nor lib/renamed/",
  ].join("\n");
  const present = new Set(["lib/limits.ts", "lib/", "tests/cli/"]);
  assert.deepEqual(missingPaths("x.md", markdown, (path) => present.has(path)), [
    "x.md:1 tests/measure/gone.ts",
    "x.md:2 lib/renamed/",
  ]);
});

Deno.test("the link check reads headings as GitHub does and names each link to nothing", () => {
  const markdown = [
    "## `kv broker` — the REPL",
    "### SET_K (`0a`, version 4)",
    "## Notes",
    "## Notes",
    '<a id="short"></a>',
    "See [it](#kv-broker--the-repl), [k](#set_k-0a-version-4), [n](#notes-1), [s](#short), [pic](a.png).",
    "Not [these](#set_k-0a) nor [this](#notes-2) nor [that](missing.md).",
    "```md",
    "[in code](#nowhere)",
    "```",
    "Nor `[inline](#nowhere)` code, nor [a site](https://example.com/#x).",
  ].join("\n");
  assert.deepEqual(brokenLinks("x.md", markdown, (path) => path === "a.png"), [
    "x.md:7 (#set_k-0a)",
    "x.md:7 (#notes-2)",
    "x.md:7 (missing.md)",
  ]);
});
