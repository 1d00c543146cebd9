import assert from "node:assert/strict";
import { withTempDir } from "../helpers/fixtures.ts";
import { outputWithin } from "../helpers/wait.ts";

const HISTORY = new URL("../../lib/cli/history.ts", import.meta.url).href;

/**
 * What `openHistory` logs, opening and adding one line, in a child whose XDG_STATE_HOME is
 * `stateHome` (a child, so that this test leaves its own environment alone).
 */
async function historyMessages(stateHome: string): Promise<string> {
  const code = `import { openHistory } from ${JSON.stringify(HISTORY)};
const history = await openHistory((message) => console.log(message));
history?.add("GET person1");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { XDG_STATE_HOME: stateHome, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await outputWithin(child, { what: "openHistory in a child" });
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

Deno.test("a history file that cannot be read or written is one line in plain words", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.equal(
      await historyMessages(`${dir}/file`),
      `cannot read the history file ${dir}/file/kv/history (a part of the path is not a ` +
        "directory); history is not kept\n",
    );
    await Deno.mkdir(`${dir}/state/kv/history`, { recursive: true });
    assert.equal(
      await historyMessages(`${dir}/state`),
      `cannot read the history file ${dir}/state/kv/history (it is a directory); history is ` +
        "not kept\n",
    );
  });
});
