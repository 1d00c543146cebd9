/**
 * Keeps the documentation whole, in the style of Deno's standard library:
 *
 * - every symbol a lib/ module exports has JSDoc, and every exported function and class
 *   has an `@example` in it (a class's own JSDoc, not only its constructor's), as has
 *   every public method of an exported class (getters need JSDoc only); exported
 *   constants, interfaces, type aliases and enums need JSDoc but no example. A
 *   re-export (`export { x } from "./y.ts"`) is checked where `x` is declared.
 * - `deno doc --lint mod.ts`, the library's public surface, reports nothing.
 * - the README's Limits table gives each limit the value of the constant that sets it.
 * - every link in README.md and docs/protocol.md leads somewhere: an anchor to a heading (or
 *   `<a id>`) of the same file, a relative path to a file that exists; and every lib/, tests/,
 *   docs/ or testdata/ path they name exists (a module renamed leaves no stale name behind).
 *
 * One `deno doc --json` process reads every .ts file under lib/ at once; a failure
 * names each symbol at fault with its file and line.
 */
import assert from "node:assert/strict";
import { outputWithin } from "./helpers/wait.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_KEY_BYTES,
  MAX_KEYS_LIMIT,
  MAX_LINE_BYTES,
  MAX_NESTING_DEPTH,
  MAX_PATH_BYTES,
  MAX_PATH_SEGMENTS,
} from "../lib/limits.ts";
import {
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS as SERVER_MAX_CONNECTIONS,
  MAX_STRANGER_FRAME_BYTES,
} from "../lib/server/server.ts";
import { LIST_PARTITIONS_BUDGET_BYTES, MAX_LIST_PARTITIONS_LIMIT } from "../lib/protocol/mod.ts";
import { MAX_AUTH_FILE_BYTES, MAX_SECRETS } from "../lib/protocol/auth.ts";
import { MAX_IN_FLIGHT_PER_SERVER, RECONNECT_WAIT_MS } from "../lib/broker/server_pool.ts";
import { MAX_RECORDS_IN_FLIGHT } from "../lib/broker/indexer.ts";
import { MAX_SERVER_FILE_BYTES, MAX_SERVERS } from "../lib/broker/server_list.ts";
import { MAX_KEY_FILE_BYTES, MAX_KEY_FILE_KEYS } from "../lib/gen/keyfile.ts";
import { MAX_TOKENS, MAX_TOKENS_FILE_BYTES } from "../lib/http/tokens.ts";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_MAX_PATH_BYTES,
} from "../lib/http/api.ts";
import { COUNTED_ANSWER_CHARS, DEFAULT_MAX_ANSWER_BYTES } from "../lib/http/answer_budget.ts";
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS as HTTP_MAX_CONNECTIONS,
} from "../lib/http/connection_guard.ts";

const ROOT = new URL("../", import.meta.url);
const LIB = new URL("lib/", ROOT);

/** The JSDoc of one declaration, as `deno doc --json` gives it. */
interface JsDoc {
  readonly doc?: string;
  readonly tags?: readonly { readonly kind: string }[];
}

/** Where `deno doc --json` found a declaration; `line` counts from 0. */
interface Location {
  readonly filename: string;
  readonly line: number;
}

/** One method (or getter, setter) of a class (`deno doc --json`, format version 2). */
interface Method {
  readonly name: string;
  /** "method", "getter" or "setter". */
  readonly kind: string;
  readonly accessibility?: string;
  readonly location: Location;
  readonly jsDoc?: JsDoc;
}

/** One declaration of an exported symbol (`deno doc --json`, format version 2). */
interface Declaration {
  readonly kind: string;
  readonly location: Location;
  readonly jsDoc?: JsDoc;
  /** A class's members. */
  readonly def?: { readonly methods?: readonly Method[] };
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

/** A path relative to the repository, for `filename` under it. */
function relative(filename: string): string {
  return filename.startsWith(ROOT.href) ? filename.slice(ROOT.href.length) : filename;
}

/**
 * The public methods (not getters or setters) of class `name` declared as `declaration`
 * that have no `@example`, as "path Class.method".
 */
function methodsWithoutExamples(name: string, declaration: Declaration): string[] {
  const missing: string[] = [];
  for (const method of declaration.def?.methods ?? []) {
    if (method.kind !== "method" || method.accessibility === "private") continue;
    if (method.jsDoc?.tags?.some((tag) => tag.kind === "example")) continue;
    missing.push(`${relative(method.location.filename)} ${name}.${method.name}`);
  }
  return missing;
}

/**
 * Each exported symbol of `doc` that lacks JSDoc, or an `@example` when it is a function,
 * a class or a public method of one: `lib/x.ts:12 name: what is missing`.
 */
function undocumented(doc: DocOutput): string[] {
  const problems: string[] = [];
  for (const node of Object.values(doc.nodes)) {
    for (const symbol of node.symbols) {
      for (const declaration of symbol.declarations) {
        if (declaration.kind === "reference") continue;
        const where = `${relative(declaration.location.filename)}:${
          declaration.location.line + 1
        } ${symbol.name}`;
        const jsDoc = declaration.jsDoc;
        if ((jsDoc?.doc ?? "").trim() === "") {
          problems.push(`${where}: exported ${declaration.kind} without JSDoc`);
        }
        const hasExample = jsDoc?.tags?.some((tag) => tag.kind === "example") ?? false;
        if (NEEDS_EXAMPLE.has(declaration.kind) && !hasExample) {
          problems.push(`${where}: exported ${declaration.kind} without an @example`);
        }
        if (declaration.kind !== "class") continue;
        for (const method of methodsWithoutExamples(symbol.name, declaration)) {
          problems.push(`${method}: public method without an @example`);
        }
      }
    }
  }
  return problems.sort();
}

Deno.test("every export of lib/ has JSDoc, and every function, class and public method an @example", async () => {
  const files = [...walk(LIB)];
  const doc = await docJson(files);
  assert.equal(Object.keys(doc.nodes).length, files.length, "deno doc read every lib/ file");
  const problems = undocumented(doc);
  assert.deepEqual(problems, [], `undocumented exports:\n${problems.join("\n")}`);
});

Deno.test("the docs check names an export without JSDoc, and a function, class or public method without an example", async () => {
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
        "  /** Opens it: a method, so it needs an example. */",
        "  open(): void {}",
        "  /** Its size: a getter needs none. */",
        "  get size(): number {",
        "    return 1;",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const problems = undocumented(await docJson([file])).map((problem) =>
      problem.slice(problem.lastIndexOf("/") + 1)
    );
    assert.deepEqual(problems, [
      "sample.ts Box.open: public method without an @example",
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

Deno.test("deno doc --lint finds nothing missing in any lib/ module: every export typed and documented, constructors included", async () => {
  await deno(["doc", "--lint", ...walk(LIB)], "deno doc --lint lib/");
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

/** `bytes` as the README writes a size: `16 MiB`, `64 KiB`, else `4103 bytes`. */
function size(bytes: number): string {
  for (const [unit, scale] of [["MiB", 1024 * 1024], ["KiB", 1024]] as const) {
    if (bytes % scale === 0) return `${bytes / scale} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** `ms` as the README writes a limit's time: `30 s`. */
function seconds(ms: number): string {
  assert.equal(ms % 1000, 0, `${ms} ms is a whole number of seconds`);
  return `${ms / 1000} s`;
}

/**
 * Each row of the README's Limits table, by its first cell, with the value its constants
 * give: a constant changed without the README, or a row added without a constant here, fails.
 */
const LIMITS: readonly (readonly [string, string])[] = [
  ["frame body", size(DEFAULT_MAX_FRAME_BYTES)],
  ["frame body before HELLO succeeds (the largest HELLO)", size(MAX_STRANGER_FRAME_BYTES)],
  ["key or field name", `${MAX_KEY_BYTES} UTF-8 bytes`],
  ["query path", `${MAX_PATH_SEGMENTS} segments, ${MAX_PATH_BYTES} bytes`],
  ["nesting", `${MAX_NESTING_DEPTH} levels`],
  ["record line", size(MAX_LINE_BYTES)],
  ["connections per server", `${SERVER_MAX_CONNECTIONS}`],
  ["idle or stalled client", seconds(DEFAULT_IDLE_TIMEOUT_MS)],
  ["requests in flight per broker connection", `${MAX_IN_FLIGHT_PER_SERVER}`],
  ["records in flight while indexing", `${MAX_RECORDS_IN_FLIGHT}`],
  ["`KEYS` answer", `${MAX_KEYS_LIMIT} keys`],
  [
    "`LIST_PARTITIONS` answer",
    `${MAX_LIST_PARTITIONS_LIMIT} entries, ${size(LIST_PARTITIONS_BUDGET_BYTES)}`,
  ],
  ["buffers of all connections of a server", size(DEFAULT_MAX_BUFFERED_BYTES)],
  ["time to complete HELLO", seconds(DEFAULT_HELLO_TIMEOUT_MS)],
  [
    "a write's wait for lost connections' reconnects (fewer than k reachable)",
    seconds(RECONNECT_WAIT_MS),
  ],
  ["connections without a completed HELLO", "half the connections"],
  [
    "auth file, key file, server file, tokens file",
    [MAX_AUTH_FILE_BYTES, MAX_KEY_FILE_BYTES, MAX_SERVER_FILE_BYTES, MAX_TOKENS_FILE_BYTES]
      .map(size).join(", "),
  ],
  [
    "secrets in an auth file, keys in a key file, tokens in a tokens file",
    `${MAX_SECRETS}, ${MAX_KEY_FILE_KEYS}, ${MAX_TOKENS}`,
  ],
  ["servers in a server file", `${MAX_SERVERS}`],
  ["HTTP request body", size(DEFAULT_MAX_BODY_BYTES)],
  ["HTTP URL path and query", size(DEFAULT_MAX_PATH_BYTES)],
  ["HTTP requests answered at once", `${DEFAULT_MAX_CONCURRENT_REQUESTS}`],
  [
    `HTTP answers (over ${
      COUNTED_ANSWER_CHARS / 1024
    } Ki characters) held at once; one alone always sent`,
    size(DEFAULT_MAX_ANSWER_BYTES),
  ],
  ["HTTP request headers", seconds(DEFAULT_HEADER_TIMEOUT_MS)],
  ["HTTP connections open", `${HTTP_MAX_CONNECTIONS}`],
  ["HTTP `PUT` body after its headers", seconds(DEFAULT_BODY_TIMEOUT_MS)],
];

Deno.test("the README's Limits table gives each limit its constant's value", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.slice(
    readme.indexOf("\n## Limits\n"),
    readme.indexOf("\n## Architecture\n"),
  );
  const rows = section.split("\n").filter((line) => line.startsWith("| ")).slice(2);
  const table = rows.map((row) => row.split("|").slice(1, 3).map((cell) => cell.trim()));
  assert.deepEqual(table, LIMITS.map(([limit, value]) => [limit, value]));
});

/**
 * Log lines in a form kv no longer prints (lib/base/logger.ts): an info line without the
 * colon after the program's name, a load's warning with the `WARNING: ` prefix its level
 * replaced, or a load's skipped line without its level (`kv broker warn: data.txt:2:1: …`).
 * The README's one sentence telling the old form (`Until stop 27 …`) is not a quote.
 */
function oldLogLines(text: string): string[] {
  const old = new RegExp(
    [
      "kv (?:server|http|broker|demo) (?:listening on|SIGTERM|stopped|stdin closed)",
      "WARNING: \\d+ records? of",
      "kv (?:broker|demo): (?:file:line:col|[^`\\n]*; line skipped)",
    ].join("|"),
    "g",
  );
  return [...text.matchAll(old)]
    .filter((match) =>
      !text.slice(Math.max(0, match.index - 80), match.index).includes("Until stop")
    )
    .map((match) => match[0]);
}

Deno.test("README.md and docs/ quote kv's log lines as kv prints them now: a colon or a level after the name", async () => {
  for (const path of LINKED_DOCS) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    assert.deepEqual(oldLogLines(text), [], path);
  }
  assert.deepEqual(
    oldLogLines(
      "`kv server listening on …` `WARNING: 3 records of a.txt` `kv http warn: x` " +
        "`kv broker: file:line:col: …` `kv broker: d.txt:2:1: bad; line skipped` " +
        "`kv broker warn: d.txt:2:1: bad; line skipped`",
    ),
    [
      "kv server listening on",
      "WARNING: 3 records of",
      "kv broker: file:line:col",
      "kv broker: d.txt:2:1: bad; line skipped",
    ],
  );
});
