// Every numeric flag's help states the range its check enforces: the range is read from the
// error the command gives for a value out of range, then looked for in --help. And --help and
// the README's flag tables name the same flags, command by command, with the same short flags,
// ranges and defaults.
//
// In process: each command's `help` and the UserError its `run` throws are what `kv` prints
// for --help and for the mistake (lib/cli/run.ts's loadSubcommand, the module runCli dispatches
// to), and tests/cli/run_test.ts checks that a real process prints exactly them. A process a
// flag was 27 process starts, about 7 CPU-s, for a check of text.
import assert from "node:assert/strict";
import { topLevelHelp } from "../../lib/cli/run.ts";
import { refusalOf, subcommandNamed } from "../helpers/refusals.ts";
import { HELP_COLUMNS } from "../../lib/base/wrap_words.ts";

/** Each flag with the arguments that get its check to run. */
const RANGED_FLAGS: readonly (readonly [string, string, readonly string[]])[] = [
  ["server", "--max-connections", []],
  ["server", "--max-frame-bytes", []],
  ["server", "--idle-timeout-ms", []],
  ["server", "--compact-log-mib", ["--data-dir", "unused"]],
  ["broker", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["repair", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["get", "--timeout-ms", ["person1"]],
  ["keys", "--limit", []],
  ["http", "--timeout-ms", []],
  ["http", "--max-body-bytes", []],
  ["http", "--max-path-bytes", []],
  ["http", "--max-concurrent-requests", []],
  ["http", "--header-timeout-ms", []],
  ["http", "--max-connections", []],
  ["bench", "--ops", ["-s", "serverFile.txt"]],
  ["bench", "--duration", ["-s", "serverFile.txt"]],
  ["bench", "--warmup", ["-s", "serverFile.txt"]],
  ["bench", "--clients", ["-s", "serverFile.txt"]],
  ["bench", "--pipeline", ["-s", "serverFile.txt"]],
  ["bench", "--rate", ["-s", "serverFile.txt"]],
  ["bench", "--timeout-ms", ["-s", "serverFile.txt"]],
  ["demo", "--timeout-ms", []],
];

/** The text of `kv <command> --help`. */
async function helpOf(command: string): Promise<string> {
  return (await subcommandNamed(command)).help;
}

Deno.test("help shows the range of every numeric flag the README promises one for", async () => {
  for (const [command, flag, needed] of RANGED_FLAGS) {
    const refused = await refusalOf([command, ...needed, flag, "0x"]);
    const range = /must be a whole number from (\d+) to (\d+)/.exec(refused);
    assert(range, `${command} ${flag}: ${refused}`);
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

/** Each README section with a flag table, and the commands whose `--help` it documents. */
const README_FLAG_TABLES: readonly (readonly [string, readonly string[]])[] = [
  ["### `kv gen`", ["gen"]],
  ["### `kv server`", ["server"]],
  ["### `kv broker`", ["broker"]],
  ["### One-shot commands", ["get", "query", "put", "delete", "keys", "servers"]],
  ["### `kv repair`", ["repair"]],
  ["### `kv http`", ["http"]],
  ["### `kv bench`", ["bench"]],
  ["### `kv secret`", ["secret"]],
  ["### `kv demo`", ["demo"]],
];

/** One row of a README flag table: its flags' cell, meaning and default, backticks kept. */
interface ReadmeFlagRow {
  readonly flags: string;
  readonly meaning: string;
  readonly default: string;
}

/** The rows of the flag table of `heading`'s section. */
function readmeFlagRows(readme: string, heading: string): ReadmeFlagRow[] {
  const start = readme.indexOf(`\n${heading}`);
  assert(start >= 0, `README has a section '${heading}'`);
  const rest = readme.slice(start + 1);
  const end = rest.search(/\n##? |\n### /);
  return rest.slice(0, end).split("\n").filter((line) => line.startsWith("| `-")).map((row) => {
    const cells = row.split("|").slice(1, -1).map((cell) => cell.trim());
    return { flags: cells[0], meaning: cells[1], default: cells[cells.length - 1] };
  });
}

/** The long flags named in the first cell of the flag table rows of `heading`'s section. */
function readmeFlags(readme: string, heading: string): Set<string> {
  const rows = readmeFlagRows(readme, heading);
  const named = rows.flatMap((row) => row.flags.match(/--[a-z][a-z-]*/g) ?? []);
  const twice = named.filter((flag, index) => named.indexOf(flag) !== index);
  assert.deepEqual(twice, [], `'${heading}' documents each flag in one row`);
  return new Set(named);
}

/**
 * The text of `flag`'s row in `help`, its lines joined by one space: from the row that
 * names it to the next flag's row or a blank line.
 */
function helpRow(help: string, flag: string): string | undefined {
  const lines = help.split("\n");
  const first = lines.findIndex((line) => new RegExp(`^\\s+(-\\w, )?${flag}\\b`).test(line));
  if (first < 0) return undefined;
  const row = [lines[first]];
  for (const line of lines.slice(first + 1)) {
    if (line.trim() === "" || /^\s{1,8}-/.test(line)) break;
    row.push(line);
  }
  return row.map((line) => line.trim()).join(" ");
}

const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/** A bound as the README writes it (`65536`, `10⁹`, `2³⁰`, `2³²−1`) as a number. */
function readmeBound(text: string): number {
  const power = /^(\d+)([⁰¹²³⁴⁵⁶⁷⁸⁹]+)(−1)?$/.exec(text);
  if (power === null) return Number(text);
  const exponent = Number([...power[2]].map((digit) => SUPERSCRIPTS.indexOf(digit)).join(""));
  return Number(power[1]) ** exponent - (power[3] === undefined ? 0 : 1);
}

/** Default cells that say what happens rather than give a value: nothing to compare. */
const DEFAULTS_IN_WORDS: ReadonlySet<string> = new Set([
  "required",
  "none",
  "off",
  "random",
  "the",
  "load",
  "they",
  "table",
  "print",
  "closed",
  "kv",
  "plain",
]);

Deno.test("each README flag table row states the short flag, range and default its --help does", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const problems: string[] = [];
  for (const [heading, commands] of README_FLAG_TABLES) {
    const helps = await Promise.all(commands.map(helpOf));
    for (const row of readmeFlagRows(readme, heading)) {
      const where = `${heading} ${row.flags}`;
      if (row.default === "") problems.push(`${where}: no default`);
      const named = [...row.flags.matchAll(/`(?:(-\w), )?(--[a-z][a-z-]*)/g)];
      for (const [, short, long] of named) {
        const text = helps.map((help) => helpRow(help, long)).find((found) => found);
        if (text === undefined) continue; // the flag-name test above names it
        const helpShort = /^(-\w), /.exec(text)?.[1];
        if (helpShort !== short) {
          problems.push(`${where}: --help has ${helpShort ?? "no short flag"}`);
        }
        const range = /(\d+[⁰¹²³⁴⁵⁶⁷⁸⁹]*(?:−1)?)\.\.(\d+[⁰¹²³⁴⁵⁶⁷⁸⁹]*(?:−1)?)/.exec(row.meaning);
        if (range !== null) {
          const wanted = `${readmeBound(range[1])}..${readmeBound(range[2])}`;
          if (!text.includes(wanted)) problems.push(`${where}: --help lacks its range ${wanted}`);
        }
        // A default the README gives as a value (a number, an address, a word such as
        // `interval`) is the one --help gives; one in words (none, off, random) is not compared.
        const value = /^`?([\w.]+(?::\d+)?)`?(?:$|[ ,(:])/.exec(row.default)?.[1];
        if (named.length === 1 && value !== undefined && !DEFAULTS_IN_WORDS.has(value)) {
          const shown = new RegExp(
            `default:? ${value.replaceAll(".", "\\.")}\\b|'${value}'[^']*\\(default\\)`,
          );
          if (!shown.test(text)) problems.push(`${where}: --help does not give default ${value}`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], `README flag tables and --help disagree:\n${problems.join("\n")}`);
});

/** The long flags `help` lists at the start of a row, `--help` aside. */
function helpFlags(help: string): Set<string> {
  const rows = help.match(/^\s+(-\w, )?--[a-z][a-z-]*/gm) ?? [];
  return new Set(rows.map((row) => row.trim().replace(/^-\w, /, "")).filter((f) => f !== "--help"));
}

Deno.test("every flag a command's --help lists is in its README table, and every one there in --help", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const [heading, commands] of README_FLAG_TABLES) {
    const documented = readmeFlags(readme, heading);
    const helped = new Set<string>();
    for (const command of commands) {
      for (const flag of helpFlags(await helpOf(command))) helped.add(flag);
    }
    assert.deepEqual(
      [...helped].filter((flag) => !documented.has(flag)).sort(),
      [],
      `${heading}: in --help, not in the README's table`,
    );
    assert.deepEqual(
      [...documented].filter((flag) => !helped.has(flag)).sort(),
      [],
      `${heading}: in the README's table, not in --help`,
    );
  }
});

/**
 * Each flag a usage line names, and whether it is in brackets (optional): `kv repair
 * [-s serverFile] [-k N]` gives `["-s", true], ["-k", true]`.
 */
function usageFlags(usage: string): [string, boolean][] {
  const flags: [string, boolean][] = [];
  let depth = 0;
  for (const token of usage.matchAll(/[\[\]]|(?<=^|[\s\[|])--?[a-z][a-z-]*/gim)) {
    if (token[0] === "[") depth++;
    else if (token[0] === "]") depth--;
    else flags.push([token[0], depth > 0]);
  }
  return flags;
}

Deno.test("a usage line, in --help and in the README, brackets a flag exactly when --help does not call it required", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const problems: string[] = [];
  for (const [heading, commands] of README_FLAG_TABLES) {
    const start = readme.indexOf(`\n${heading}`);
    const section = readme.slice(start + 1, start + 1 + readme.slice(start + 1).search(/\n### /));
    for (const command of commands) {
      const help = await helpOf(command);
      const usages = [
        ["--help", help.slice(0, help.indexOf("\n\n"))],
        // The README's usage block: its lines name kv's own `[flags]` or a bracketed flag.
        ...section.split("\n").filter((line) =>
          line.startsWith(`kv ${command} `) && /\[(flags\]|-)/.test(line)
        ).map((line) => ["README", line]),
      ];
      for (const [where, usage] of usages) {
        for (const [flag, optional] of usageFlags(usage)) {
          const required = /\(required/.test(helpRow(help, flag) ?? "");
          if (optional === required) {
            problems.push(
              `kv ${command} (${where}): ${flag} is ${optional ? "" : "not "}in ` +
                `brackets, but --help says it is ${required ? "" : "not "}required`,
            );
          }
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("every command's --help lists -h, --help among its flags", async () => {
  for (const [, commands] of README_FLAG_TABLES) {
    for (const command of commands) {
      assert.match(await helpOf(command), /^ {2}-h, --help +show this help$/m, command);
    }
  }
});

/** The lines of `help` wider than {@link HELP_COLUMNS} (in characters: no help text holds wide ones). */
function overWide(help: string): string[] {
  return help.split("\n").filter((line) => [...line].length > HELP_COLUMNS);
}

Deno.test("kv --help and every command's --help fit in 80 columns", async () => {
  const top = topLevelHelp();
  assert.deepEqual(overWide(top), [], "kv --help");
  // Every command kv --help lists: a row `  name  summary` under `Commands:`.
  const listing = top.slice(
    top.indexOf("Commands:\n"),
    top.indexOf("\n\n", top.indexOf("Commands:")),
  );
  const names = [...listing.matchAll(/^ {2}([a-z]+) {2}/gm)].map((match) => match[1]);
  assert(names.includes("bench") && names.includes("get"), listing);
  for (const name of names) assert.deepEqual(overWide(await helpOf(name)), [], `kv ${name} --help`);
});
