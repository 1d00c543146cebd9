import assert from "node:assert/strict";
import denoConfig from "../../deno.json" with { type: "json" };

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const COMPILED_PATH = `${REPO_ROOT}dist/kv`;

/**
 * `deno compile` needs the `denort` runtime: from DENORT_BIN, or downloaded.
 * Where neither works (this project's sandbox has no route to the download
 * host) the test is reported as ignored, with the reason in its name.
 */
async function compileKv(): Promise<{ ok: boolean; reason: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (result.success) return { ok: true, reason: "" };
  const denortBin = Deno.env.get("DENORT_BIN");
  return {
    ok: false,
    reason: denortBin === undefined
      ? "denort cannot be downloaded here and DENORT_BIN is not set"
      : `deno compile failed with DENORT_BIN=${denortBin}`,
  };
}

const compiled = await compileKv();

Deno.test({
  name: compiled.ok
    ? "deno task compile builds dist/kv, which runs --version"
    : `deno task compile (ignored: ${compiled.reason})`,
  ignore: !compiled.ok,
  fn: async () => {
    const result = await new Deno.Command(COMPILED_PATH, {
      args: ["--version"],
      stdout: "piped",
    }).output();
    assert.equal(result.code, 0);
    assert.equal(new TextDecoder().decode(result.stdout), `kv ${denoConfig.version}\n`);
  },
});
