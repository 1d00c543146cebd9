/**
 * A TypeScript program of a test's own, run as a real process (`deno run`): for what only
 * a whole program shows, such as whether it ends by itself.
 * @module
 */
import { withTempDir } from "./fixtures.ts";
import { outputWithin } from "./wait.ts";

/** What a script did: whether it exited with 0, and its standard output then its error. */
export interface ScriptOutcome {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * Runs `source` as a script file with `args` (all permissions, no type check, and V8's
 * `v8Flags`, none by default: `--expose-gc` lets a script collect garbage and see what a
 * WeakRef still reaches), killing it when it has not ended within `timeoutMs`, which rejects
 * with a DeadlineError naming `what`.
 * Modules of the repository are imported by absolute URL (`new URL(…, import.meta.url)`).
 *
 * @example
 * ```ts
 * const { ok, output } = await runScript(`console.log(Deno.args[0]);`, ["hi"], {
 *   what: "an echo script to end",
 *   timeoutMs: 10_000,
 * });
 * ```
 */
export async function runScript(
  source: string,
  args: readonly string[],
  options: { what: string; timeoutMs: number; v8Flags?: readonly string[] },
): Promise<ScriptOutcome> {
  const v8Flags = options.v8Flags === undefined ? [] : [`--v8-flags=${options.v8Flags.join(",")}`];
  let outcome: ScriptOutcome = { ok: false, output: "" };
  await withTempDir(async (dir) => {
    const script = `${dir}/script.ts`;
    await Deno.writeTextFile(script, source);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-check", ...v8Flags, "-A", script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, options);
    const decoder = new TextDecoder();
    outcome = {
      ok: output.success,
      output: decoder.decode(output.stdout) + decoder.decode(output.stderr),
    };
  });
  return outcome;
}
