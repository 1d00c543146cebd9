import assert from "node:assert/strict";
import { outputWithin } from "../helpers/wait.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("deno doc --lint mod.ts finds nothing missing in the public surface", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const run = await outputWithin(child, { what: "deno doc --lint mod.ts" });
  const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, output);
});
