// lib/cli/args.ts parses flags as `node:util`'s `parseArgs` does in strict mode, without
// loading it (a `node:` import costs every kv process about 0.03 CPU-s): the same values and
// positionals for any arguments, or the same refusal in kv's words. `parseArgs` is the
// oracle here, its errors put in kv's words as lib/cli/args.ts did until it had its own parser.
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { type FlagSpecs, parseFlags } from "../../lib/cli/args.ts";
import { UserError } from "../../lib/cli/user_error.ts";

const FLAGS = {
  key: { type: "string", short: "k" },
  json: { type: "boolean", short: "j" },
  limit: { type: "string" },
  quiet: { type: "boolean" },
  x: { type: "boolean" },
  n: { type: "string", short: "n" },
} as const satisfies FlagSpecs;

/**
 * `parseArgs`'s answer, or its error in kv's words. Two fixes over the words lib/cli/args.ts
 * used before: a value with a quote in it is quoted whole (the old message cut it at the
 * quote), and an ambiguous value after a long flag is attached with '=' (--key=VALUE).
 */
function oracle(args: string[], allowPositionals: boolean) {
  try {
    const { values, positionals } = parseArgs({
      args: attachNegativeNumbers(args),
      options: FLAGS,
      strict: true,
      allowPositionals,
    });
    // And kv's own rule: an empty value names nothing (none of these flags is --after).
    for (const [name, value] of Object.entries(values)) {
      if (value !== "") continue;
      const short = (FLAGS as FlagSpecs)[name].short;
      return `${short === undefined ? "" : `-${short}, `}--${name} needs a value, got an empty one`;
    }
    return { values: { ...values }, positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      return `unknown option '${/^Unknown option '(.*?)'(\. To specify|$)/s.exec(message)![1]}'`;
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const value = /^Unexpected argument '(.*)'\. This command/s.exec(message)![1];
      return `unexpected argument '${value}'`;
    }
    const named = /^Option '(.*?)( <value>)?' argument/s.exec(message)?.[1] ??
      /^Option '(.*?)' does not take/s.exec(message)![1];
    if (message.includes("ambiguous")) {
      const attached = named.startsWith("--") ? `${named}=VALUE` : `${named}VALUE`;
      return `the value after ${named} starts with '-'; attach it, as in ${attached}`;
    }
    if (message.endsWith("argument missing")) return `${named} needs a value`;
    return `${named} takes no value`;
  }
}

/** lib/cli/args.ts's step before parsing: `-n -5` is the flag and its negative value. */
function attachNegativeNumbers(args: string[]): string[] {
  const takesValue = new Set(["--key", "-k", "--limit", "--n", "-n"]);
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    if (args[index] === "--") return [...joined, ...args.slice(index)];
    const next = args[index + 1];
    if (takesValue.has(args[index]) && next !== undefined && /^-\d/.test(next)) {
      joined.push(
        args[index].startsWith("--") ? `${args[index]}=${next}` : `${args[index]}${next}`,
      );
      index++;
    } else {
      joined.push(args[index]);
    }
  }
  return joined;
}

function parsed(args: string[], allowPositionals: boolean) {
  try {
    const { values, positionals } = parseFlags("t", args, FLAGS, allowPositionals);
    return { values: { ...values }, positionals };
  } catch (error) {
    assert(error instanceof UserError);
    const message = /^kv t: (.*) \(see 'kv t --help'\)$/s.exec(error.message);
    assert(message !== null, error.message);
    return message[1];
  }
}

/** Arguments made of the pieces flags are written with: dashes, letters, '=', digits. */
const argument = fc.oneof(
  fc.constantFrom(
    "-k",
    "-j",
    "-n",
    "-x",
    "-y",
    "-jx",
    "-jk",
    "-kj",
    "-xk",
    "-j1",
    "--key",
    "--json",
    "--limit",
    "--quiet",
    "--x",
    "--bogus",
    "--key=",
    "--json=1",
    "--limit=-3",
    "--",
    "-",
    "---",
    "--=x",
    "-5",
    "-1x",
    "value",
    "it's",
    "",
  ),
  fc.stringMatching(/^-{0,2}[jknxy15=' a]{0,4}$/),
);

Deno.test("parseFlags reads any arguments as node:util's parseArgs does, or refuses them in kv's words", () => {
  fc.assert(
    fc.property(fc.array(argument, { maxLength: 6 }), fc.boolean(), (args, allowPositionals) => {
      assert.deepEqual(parsed(args, allowPositionals), oracle(args, allowPositionals));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("parseFlags: a negative number after a flag that takes a value is that value", () => {
  assert.deepEqual(parseFlags("t", ["-n", "-5", "--limit", "-1"], FLAGS).values, {
    n: "-5",
    limit: "-1",
  });
  assert.deepEqual(parseFlags("t", ["--", "-5"], FLAGS, true).positionals, ["-5"]);
});
