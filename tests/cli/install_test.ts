// The README's one line that gives a `kv` command, run as written (into a temporary root),
// and `deno task kv`: both must work offline from this checkout and run every subcommand.
import assert from "node:assert/strict";
import { outputWithin } from "../helpers/wait.ts";
import { withTempDir } from "../helpers/fixtures.ts";

const REPO = new URL("../..", import.meta.url).pathname;

/** The install line of the README's Install section, as words. */
async function readmeInstallLine(): Promise<string[]> {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const line = readme.split("\n").find((text) => text.startsWith("deno install -g "));
  assert(line, "the README has a 'deno install -g' line");
  return line.split(/\s+/);
}

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(command, {
    args,
    cwd: REPO,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await outputWithin(child, { what: `${command} ${args.join(" ")}` });
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("the README's deno install line gives a kv that runs gen, without a warning", async () => {
  await withTempDir(async (root) => {
    const [deno, ...args] = await readmeInstallLine();
    assert.equal(deno, "deno");
    const installed = await run(Deno.execPath(), [
      ...args.slice(0, -1),
      "--root",
      root,
      args.at(-1)!,
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    // Deno warns when it leaves a config file it found out of the installed command.
    assert.doesNotMatch(installed.stderr, /warning/i);
    const kv = `${root}/bin/kv`;
    const version = await run(kv, ["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^kv \d+\.\d+\.\d+\n$/);
    const gen = await run(kv, ["gen", "-k", "keyFile.txt", "-n", "2", "--seed", "1", "-o", "-"]);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /^"person0" : .*\n"person1" : .*\n$/);
  });
});

Deno.test("deno task kv runs any subcommand, gen included", async () => {
  const gen = await run(Deno.execPath(), [
    "task",
    "-q",
    "kv",
    "gen",
    "-k",
    "keyFile.txt",
    "-n",
    "1",
    "-o",
    "-",
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.match(gen.stdout, /^"person0" : /);
});
