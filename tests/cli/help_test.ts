// Every numeric flag's help states the range its check enforces: the range is read from the
// error the real program gives for a value out of range, then looked for in --help.
import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";

/** Each flag with the arguments that get its check to run. */
const RANGED_FLAGS: readonly (readonly [string, string, readonly string[]])[] = [
  ["server", "--max-connections", []],
  ["server", "--max-frame-bytes", []],
  ["server", "--idle-timeout-ms", []],
  ["broker", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["repair", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["get", "--timeout-ms", ["person1"]],
  ["keys", "--limit", []],
  ["http", "--timeout-ms", []],
  ["http", "--max-body-bytes", []],
  ["http", "--max-path-bytes", []],
  ["http", "--max-concurrent-requests", []],
  ["bench", "--ops", ["-s", "serverFile.txt"]],
  ["bench", "--duration", ["-s", "serverFile.txt"]],
  ["bench", "--clients", ["-s", "serverFile.txt"]],
  ["bench", "--pipeline", ["-s", "serverFile.txt"]],
  ["bench", "--rate", ["-s", "serverFile.txt"]],
  ["bench", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["demo", "--timeout-ms", []],
];

/**
 * `kv <command> --help`, run once per command however many of its flags ask: each run is a
 * process start, the bulk of this file's CPU time.
 */
const helps = new Map<string, Promise<string>>();
function helpOf(command: string): Promise<string> {
  let help = helps.get(command);
  if (help === undefined) {
    help = runKv([command, "--help"]).then((run) => run.stdout);
    helps.set(command, help);
  }
  return help;
}

Deno.test("help shows the range of every numeric flag the README promises one for", async () => {
  for (const [command, flag, needed] of RANGED_FLAGS) {
    const refused = await runKv([command, ...needed, flag, "0x"]);
    const range = /must be a whole number from (\d+) to (\d+)/.exec(refused.stderr);
    assert(range, `${command} ${flag}: ${refused.stderr}`);
    const help = await helpOf(command);
    // The flag's own row (not the usage line, which may name it too), up to the next flag.
    const row = help.search(new RegExp(`\\n\\s+(-\\w, )?${flag}\\b`));
    assert(row >= 0, `${command} --help has a row for ${flag}`);
    const line = help.slice(row + 1).split(/\n\s*-/)[0];
    assert(line.includes(`${range[1]}..${range[2]}`), `${command} ${flag} help: ${line}`);
  }
});

Deno.test("kv broker --help names HELP <command>, QUIT, Ctrl-C and the history file", async () => {
  const help = await helpOf("broker");
  for (const text of ["HELP [command]", "EXIT (or QUIT)", "Ctrl-C cancels", "KV_HISTORY=off"]) {
    assert(help.includes(text), text);
  }
});
