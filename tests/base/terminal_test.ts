import assert from "node:assert/strict";
import { outputWithin } from "../helpers/wait.ts";

const TERMINAL_MODULE = new URL("../../lib/base/terminal.ts", import.meta.url).href;

/**
 * isDumbTerminal() in a process of its own, run with `permissions` (not `deno eval`, which
 * grants them all): the test's environment stays as it is.
 */
async function dumbIn(term: string, permissions: string[]): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, "-"],
    env: { TERM: term },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const script =
    `import { isDumbTerminal } from "${TERMINAL_MODULE}"; console.log(isDumbTerminal());`;
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const output = await outputWithin(child, { what: "isDumbTerminal's process to exit" });
  assert(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("isDumbTerminal is true for TERM=dumb only, and false where Deno does not let kv read TERM", async () => {
  const readTerm = ["--allow-env=TERM", "--allow-read"];
  assert.equal(await dumbIn("dumb", readTerm), "true");
  assert.equal(await dumbIn("xterm-256color", readTerm), "false");
  // As the compiled kv, which may read KV_SERVERS and KV_AUTH_FILE only.
  assert.equal(
    await dumbIn("dumb", ["--allow-env=KV_SERVERS", "--allow-read"]),
    "false",
  );
});
