// `deno task compile` end to end: the binary it builds runs. The build happens inside the
// test, never when the module loads: loading only probes whether denort can be had.
import assert from "node:assert/strict";
import denoConfig from "../../deno.json" with { type: "json" };
import { outputWithin } from "../helpers/wait.ts";
import { topLevelHelp } from "../../lib/cli/run.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const COMPILED_PATH = `${REPO_ROOT}dist/kv`;
/** Every command `kv --help` lists. */
const COMMANDS = [...topLevelHelp().matchAll(/^ {2}([a-z]+) {2}/gm)].map(([, name]) => name);

/** Compiling downloads denort and builds a ~100 MB binary: longer than other waits. */
const COMPILE_TIMEOUT_MS = 120_000;

/** How long the probe for the denort download may take, in ms. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Why `deno compile` cannot work here, or undefined when it may. It needs the
 * `denort` runtime: from DENORT_BIN, or downloaded from dl.deno.land; where
 * neither is possible (this project's sandbox has no route to the download
 * host) the test is reported as ignored, with the reason in its name. Deciding
 * costs a HEAD request, not a build.
 */
async function compileUnavailable(): Promise<string | undefined> {
  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin !== undefined) return undefined;
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  try {
    const response = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (response.ok) return undefined;
    return `denort answers HTTP ${response.status} and DENORT_BIN is not set`;
  } catch (error) {
    return `denort cannot be downloaded here (${error}) and DENORT_BIN is not set`;
  }
}

const unavailable = await compileUnavailable();

Deno.test({
  name: unavailable === undefined
    ? "deno task compile builds dist/kv, which runs --version and loads every command's module"
    : `deno task compile (ignored: ${unavailable})`,
  ignore: unavailable !== undefined,
  fn: async () => {
    const build = new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const built = await outputWithin(build, {
      what: "deno task compile",
      timeoutMs: COMPILE_TIMEOUT_MS,
    });
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    const run = new Deno.Command(COMPILED_PATH, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const result = await outputWithin(run, { what: "dist/kv --version" });
    assert.equal(result.code, 0);
    assert.equal(new TextDecoder().decode(result.stdout), `kv ${denoConfig.version}\n`);
    // lib/cli/run.ts imports each command's module late, by a specifier deno compile cannot
    // see: the task must --include each, or that command fails in the binary.
    for (const command of COMMANDS) {
      const help = new Deno.Command(COMPILED_PATH, {
        args: [command, "--help"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const shown = await outputWithin(help, { what: `dist/kv ${command} --help` });
      assert.equal(shown.code, 0, `${command}: ${new TextDecoder().decode(shown.stderr)}`);
    }
  },
});
