/**
 * Runs the README's library example, as a user would copy it, against real
 * servers, and checks it prints what the README says it prints.
 */
import assert from "node:assert/strict";
import { KvCluster } from "../helpers/kv_processes.ts";
import { outputWithin } from "../helpers/wait.ts";
import { withTempDir } from "../helpers/fixtures.ts";

const README = new URL("../../README.md", import.meta.url);
const MOD = new URL("../../mod.ts", import.meta.url);
const MARKER = "<!-- library-example:";

/** A version's text form in JSON output: 24 hex digits (lib/record/version.ts). */
const VERSION = /"version":"([0-9a-f]{24})"/g;

/**
 * `text` with each distinct version replaced by its rank among them (`"version":"#1"` the
 * oldest): runs make different versions, but their order and which answers share one must
 * be what the README shows.
 */
function rankVersions(text: string): string {
  const versions = [...new Set([...text.matchAll(VERSION)].map((match) => match[1]))].sort();
  return text.replace(VERSION, (_, version) => `"version":"#${versions.indexOf(version) + 1}"`);
}

/** The first ```ts block after the marker, and the ```text block after it. */
function exampleAndOutput(readme: string): { code: string; output: string } {
  const start = readme.indexOf(MARKER);
  assert.ok(start !== -1, "README has the library example marker");
  const blocks = [...readme.slice(start).matchAll(/```(ts|text)\n([\s\S]*?)```/g)];
  assert.equal(blocks[0][1], "ts");
  assert.equal(blocks[1][1], "text");
  return { code: blocks[0][2], output: blocks[1][2] };
}

Deno.test("the README's library example prints what the README says", async () => {
  const { code, output } = exampleAndOutput(await Deno.readTextFile(README));
  await using cluster = await KvCluster.start(3);
  await withTempDir(async (directory) => {
    await Deno.copyFile(cluster.serverFile, `${directory}/serverFile.txt`);
    const script = code.replace(`"./mod.ts"`, JSON.stringify(MOD.href));
    assert.notEqual(script, code, "the example imports ./mod.ts");
    await Deno.writeTextFile(`${directory}/example.ts`, script);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", "example.ts"],
      cwd: directory,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const run = await outputWithin(child, { what: "the README's example to exit" });
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, stderr);
    const printed = new TextDecoder().decode(run.stdout);
    assert.equal(rankVersions(printed), rankVersions(output), printed);
  });
});
