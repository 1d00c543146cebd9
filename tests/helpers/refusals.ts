// A kv command's refusal of a user's mistake, checked in process: the message of the UserError
// its run rejects with is the one line kv prints before it exits 2 (lib/cli/run.ts;
// tests/cli/run_test.ts shows a real process does), so a table of mistakes costs no process
// start a case.
import assert from "node:assert/strict";
import { loadSubcommand } from "../../lib/cli/run.ts";
import type { Subcommand } from "../../lib/cli/subcommand.ts";
import { UserError } from "../../lib/cli/user_error.ts";

/** The subcommand `kv <name>` runs, loaded in this process. */
export async function subcommandNamed(name: string): Promise<Subcommand> {
  const command = await loadSubcommand(name);
  assert(command !== undefined, `kv has a command ${name}`);
  return command;
}

/**
 * The line `kv <name> <args>` stops with, run in process (without its newline): its
 * UserError's message. Anything else it throws is thrown on; running instead of refusing
 * fails the test.
 */
export async function refusalOf([name, ...args]: readonly string[]): Promise<string> {
  try {
    await (await subcommandNamed(name)).run(args);
  } catch (error) {
    if (error instanceof UserError) return error.message;
    throw error;
  }
  assert.fail(`kv ${name} ${args.join(" ")} ran instead of refusing`);
}

/** Each case's `kv <name> <args>`, with the pattern its one line of refusal must match. */
export type RefusalCase = readonly [args: readonly string[], pattern: RegExp];

/** Checks that each case's command refuses, in process, with one line matching its pattern. */
export async function assertRefusedInOneLine(cases: readonly RefusalCase[]): Promise<void> {
  for (const [args, pattern] of cases) {
    const refusal = await refusalOf(args);
    assert.match(refusal, pattern);
    // kv adds the newline: one in the message would print a second line, if only a blank one.
    assert(!refusal.includes("\n"), `one line: ${JSON.stringify(refusal)}`);
  }
}
