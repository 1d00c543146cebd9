import assert from "node:assert/strict";
import fc from "fast-check";
import { shellFlag, shellWord } from "../../lib/base/shell_word.ts";
import { outputWithin } from "../helpers/wait.ts";

/** What `sh` reads each of `words` back as: one argument each, printed one a line. */
async function readBack(words: readonly string[]): Promise<string[]> {
  const script = `printf '%s\\n' ${words.join(" ")}`;
  const output = await outputWithin(
    new Deno.Command("sh", { args: ["-c", script], stdout: "piped", stderr: "piped" }).spawn(),
    { what: "sh reading the words back" },
  );
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\n").slice(0, -1);
}

Deno.test("a shell reads every shellWord back as the one word it quotes: spaces, quotes, $, globs, a leading -", async () => {
  const fixed = ["servers.txt", "my servers.txt", "it's", '"$HOME"', "*.txt", "a;b", "-s", ""];
  const drawn = fc.sample(fc.string({ unit: "grapheme-ascii" }).filter((s) => !s.includes("\n")), {
    numRuns: 60,
    seed: 1,
  });
  const texts = [...fixed, ...drawn];
  assert.deepEqual(await readBack(texts.map(shellWord)), texts);
  assert.equal(shellWord("servers.txt"), "servers.txt");
});

Deno.test("shellFlag writes a value starting with - as --long=value, which no shell or parser reads as a flag", () => {
  assert.equal(shellFlag("-s", "--servers", "my servers.txt"), "-s 'my servers.txt'");
  assert.equal(shellFlag("-s", "--servers", "-odd.txt"), "--servers=-odd.txt");
});
