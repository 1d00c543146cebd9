import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

Deno.test("deno doc --lint mod.ts finds nothing missing in the public surface", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, output);
});
