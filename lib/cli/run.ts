/**
 * The `kv` command line: picks the subcommand, prints help and version, and
 * turns every user mistake into one line on stderr with exit code 2.
 *
 * @example
 * ```ts
 * import { runCli } from "./run.ts";
 * Deno.exit(await runCli(["gen", "--help"]));
 * ```
 * @module
 */
import denoConfig from "../../deno.json" with { type: "json" };
import { brokerCommand } from "./broker.ts";
import { demoCommand } from "./demo.ts";
import { genCommand } from "./gen.ts";
import { serverCommand } from "./server.ts";
import type { Subcommand } from "./subcommand.ts";
import { USAGE_EXIT_CODE, UserError } from "./user_error.ts";

/** kv's version, from deno.json. */
export const VERSION: string = denoConfig.version;

const SUBCOMMANDS: readonly Subcommand[] = [
  genCommand,
  serverCommand,
  brokerCommand,
  demoCommand,
];

function topLevelHelp(): string {
  const width = Math.max(...SUBCOMMANDS.map((command) => command.name.length));
  const lines = SUBCOMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    "kv — a distributed, fault-tolerant key-value store",
    "",
    "Usage: kv <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Flags:",
    "  -h, --help     show this help (kv <command> --help for a command's flags)",
    "  -V, --version  print the version",
    "",
    "Exit codes: 0 success, 1 internal error, 2 usage or input error.",
  ].join("\n");
}

/**
 * Runs `kv` with `args` (without the program name) and resolves to the exit
 * code. Never throws: user mistakes print one line, other failures print the
 * error with a note that it is a bug.
 *
 * @example
 * ```ts
 * const code = await runCli(["--version"]); // prints "kv 0.1.0", resolves to 0
 * ```
 */
export async function runCli(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    console.log(topLevelHelp());
    return first === undefined ? USAGE_EXIT_CODE : 0;
  }
  if (first === "-V" || first === "--version") {
    console.log(`kv ${VERSION}`);
    return 0;
  }
  const command = SUBCOMMANDS.find((candidate) => candidate.name === first);
  if (command === undefined) {
    const names = SUBCOMMANDS.map((candidate) => candidate.name).join(", ");
    console.error(`kv: unknown command '${first}'; the commands are ${names} (see 'kv --help')`);
    return USAGE_EXIT_CODE;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UserError) {
      console.error(error.message);
      return USAGE_EXIT_CODE;
    }
    console.error(`kv ${command.name}: internal error (please report it):`, error);
    return 1;
  }
}
