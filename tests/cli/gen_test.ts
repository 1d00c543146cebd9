import assert from "node:assert/strict";
import { genCommand } from "../../lib/cli/gen.ts";
import { BLOCK_RECORDS, generateText } from "../../lib/gen/generator.ts";
import { MIN_PARALLEL_RECORDS } from "../../lib/gen/parallel.ts";
import { parseKeyFile } from "../../lib/gen/keyfile.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import type { Value } from "../../lib/record/value.ts";
import { COMPAT_KEY_FILE, withTempDir } from "../helpers/fixtures.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { outputWithin, waitFor } from "../helpers/wait.ts";
import { kvArgs, Terminal, terminalTest } from "../helpers/tmux.ts";
import { type KvRun, MAIN_PATH, runKv } from "../helpers/run_kv.ts";

const KEY_FILES = new URL("../../testdata/keyfiles/", import.meta.url).pathname;

/** The permissions `deno task gen` grants: kv gen needs no others. */
const GEN_PERMISSIONS = ["--allow-read", "--allow-write"];

/** Runs `kv gen` as a real process in `cwd`, with the permissions `deno task gen` grants. */
function runGen(args: string[], cwd: string): Promise<KvRun> {
  return runKv(["gen", ...args], { cwd, permissions: GEN_PERMISSIONS });
}

async function entriesOf(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("kv gen runs the README's command: 15 records in dataToIndex.txt, silent", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(COMPAT_KEY_FILE, `${dir}/keyFile.txt`);
    const run = await runGen(
      ["-k", "keyFile.txt", "-n", "15", "-d", "2", "-l", "15", "-m", "8"],
      dir,
    );
    assert.deepEqual(run, { code: 0, stdout: "", stderr: "" });
    const lines = (await Deno.readTextFile(`${dir}/dataToIndex.txt`)).split("\n");
    assert.equal(lines.pop(), "", "the file ends with a newline");
    assert.deepEqual(lines.map((line) => line.slice(0, line.indexOf(" :"))), [
      ...Array.from({ length: 15 }, (_, index) => `"person${index}"`),
    ]);
    assert.deepEqual(await entriesOf(dir), ["dataToIndex.txt", "keyFile.txt"]);
  });
});

Deno.test("kv gen --seed gives identical files, equal to the in-process generator", async () => {
  await withTempDir(async (dir) => {
    const flags = ["-k", COMPAT_KEY_FILE, "-n", "500", "-d", "3", "-l", "8", "-m", "6"];
    const runs = await Promise.all([
      runGen([...flags, "--seed", "42", "-o", "a.txt"], dir),
      runGen([...flags, "--seed", "42", "-o", "b.txt"], dir),
      runGen([...flags, "--seed", "43", "-o", "c.txt"], dir),
      runGen([...flags, "-o", "d.txt"], dir),
    ]);
    for (const run of runs) assert.deepEqual(run, { code: 0, stdout: "", stderr: "" });
    const [a, b, c, d] = await Promise.all(
      ["a", "b", "c", "d"].map((name) => Deno.readTextFile(`${dir}/${name}.txt`)),
    );
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.notEqual(a, d, "without --seed each run picks a fresh seed");
    const keys = parseKeyFile(await Deno.readTextFile(COMPAT_KEY_FILE), "keyFile.txt");
    const expected = generateText({
      keys,
      recordCount: 500,
      maxNesting: 3,
      maxStringLength: 8,
      maxKeysPerValue: 6,
      seed: 42,
    });
    assert.equal(a, expected);
  });
});

Deno.test("kv gen writes many blocks, and a worker's, byte for byte as the in-process generator", async () => {
  await withTempDir(async (dir) => {
    // Past MIN_PARALLEL_RECORDS, so a worker joins on a machine with two cores or more.
    for (const recordCount of [3 * BLOCK_RECORDS + 5, MIN_PARALLEL_RECORDS + 7]) {
      const flags = ["-k", COMPAT_KEY_FILE, "-n", String(recordCount), "-d", "1", "-l", "4"];
      const run = await runGen([...flags, "-m", "3", "--seed", "5", "-o", "many.txt"], dir);
      assert.deepEqual(run, { code: 0, stdout: "", stderr: "" });
      const keys = parseKeyFile(await Deno.readTextFile(COMPAT_KEY_FILE), "keyFile.txt");
      const expected = generateText({
        keys,
        recordCount,
        maxNesting: 1,
        maxStringLength: 4,
        maxKeysPerValue: 3,
        seed: 5,
      });
      assert.ok(await Deno.readTextFile(`${dir}/many.txt`) === expected, `${recordCount} records`);
    }
  });
});

Deno.test("kv gen -o - writes the records to stdout and creates no file", async () => {
  await withTempDir(async (dir) => {
    const run = await runGen(["-k", COMPAT_KEY_FILE, "-n", "3", "--seed", "7", "-o", "-"], dir);
    assert.equal(run.code, 0);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, /^"person0" : .*\n"person1" : .*\n"person2" : .*\n$/);
    assert.deepEqual(await entriesOf(dir), []);
  });
});

Deno.test("kv gen defaults: -n 15, -d 2 and -m lowered to the key file's size", async () => {
  await withTempDir(async (dir) => {
    const run = await runGen(["-k", `${KEY_FILES}two-keys.txt`, "--seed", "3", "-o", "-"], dir);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 15);
    let widest = 0;
    let deepest = 0;
    const visit = (value: Value, level: number) => {
      if (value.kind !== "object") return;
      widest = Math.max(widest, value.fields.length);
      deepest = Math.max(deepest, level);
      for (const [, field] of value.fields) visit(field, level + 1);
    };
    for (const [index, line] of lines.entries()) visit(parseRecordLine(line, index + 1).value, 0);
    assert.equal(widest, 2, "values have up to the key file's 2 keys, not the default 8");
    assert.equal(deepest, 2, "values nest two levels below the record's value");
  });
});

Deno.test("kv gen replaces an existing file whole, keeping its permissions", async () => {
  await withTempDir(async (dir) => {
    const target = `${dir}/out.txt`;
    await Deno.writeTextFile(target, "old contents\n");
    // Group and others may write: a mode the usual umask (022) would trim on creation.
    await Deno.chmod(target, 0o666);
    const run = await runGen(["-k", COMPAT_KEY_FILE, "-n", "4", "-o", target], dir);
    assert.deepEqual(run, { code: 0, stdout: "", stderr: "" });
    const text = await Deno.readTextFile(target);
    assert.equal(text.split("\n").length, 5);
    assert.ok(text.startsWith('"person0" : '));
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o666);
    assert.deepEqual(await entriesOf(dir), ["out.txt"], "no temporary file left behind");
  });
});

Deno.test("kv gen writes straight into a non-regular file such as /dev/null", async () => {
  await withTempDir(async (dir) => {
    const run = await runGen(["-k", COMPAT_KEY_FILE, "-n", "50", "-o", "/dev/null"], dir);
    assert.deepEqual(run, { code: 0, stdout: "", stderr: "" });
    assert.ok((await Deno.stat("/dev/null")).isCharDevice, "/dev/null is still a device");
  });
});

Deno.test("kv gen writes through symlinks and never replaces one with a file", async () => {
  await withTempDir(async (dir) => {
    // A link to the process's stdout, a pipe: it has no path to resolve, like /dev/stdout.
    await Deno.symlink("/proc/self/fd/1", `${dir}/to-stdout`);
    const gen = [Deno.execPath(), "run", ...GEN_PERMISSIONS, MAIN_PATH, "gen"];
    const pipeline = new Deno.Command("sh", {
      args: ["-c", '"$@" | cat', "sh", ...gen, "-k", COMPAT_KEY_FILE, "-n", "3", "-o", "to-stdout"],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const piped = await outputWithin(pipeline, { what: "kv gen -o to-stdout | cat to exit" });
    assert.equal(piped.code, 0, new TextDecoder().decode(piped.stderr));
    const stdout = new TextDecoder().decode(piped.stdout);
    assert.match(stdout, /^"person0" : .*\n"person1" : .*\n"person2" : .*\n$/);
    assert.ok((await Deno.lstat(`${dir}/to-stdout`)).isSymlink, "the link is still a link");
    // A link to a regular file: the file is replaced whole, the link stays.
    await Deno.writeTextFile(`${dir}/target.txt`, "old\n");
    await Deno.symlink("target.txt", `${dir}/link`);
    const linked = await runGen(["-k", COMPAT_KEY_FILE, "-n", "2", "-o", "link"], dir);
    assert.equal(linked.code, 0, linked.stderr);
    assert.ok((await Deno.lstat(`${dir}/link`)).isSymlink);
    assert.equal((await Deno.readTextFile(`${dir}/target.txt`)).split("\n").length, 3);
  });
});

tmpfsTest({
  name: "kv gen on a disk that fills up: one line, exit 2, the old file kept and no temporary left",
  short: "kv gen on a full disk",
  megabytes: 1,
}, async (mount) => {
  const output = `${mount}/data.txt`;
  await Deno.writeTextFile(output, "old\n");
  const run = await runGen(["-k", COMPAT_KEY_FILE, "-n", "100000", "-o", output], mount);
  assert.deepEqual([run.code, run.stderr], [
    2,
    `kv gen: cannot write '${output}': No space left on device\n`,
  ]);
  assert.equal(await Deno.readTextFile(output), "old\n");
  assert.deepEqual(await entriesOf(mount), ["data.txt"]);
});

for (
  const [signal, code, said] of [
    ["SIGINT", 130, "interrupted"],
    ["SIGTERM", 143, "terminated \\(SIGTERM\\)"],
  ] as const
) {
  Deno.test(`kv gen -o FILE stopped by ${signal} leaves FILE as it was, no temporary file, and exits ${code}`, async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/data.txt`, "before\n");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", ...GEN_PERMISSIONS, MAIN_PATH, "gen", "-k", COMPAT_KEY_FILE],
          ...["-n", "1000000000", "-o", "data.txt"],
        ],
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // A run that only a signal ends in time: a billion records.
      const output = outputWithin(child, { what: `kv gen to exit after ${signal}` });
      await waitFor(async () => (await entriesOf(dir)).some((name) => name.endsWith(".tmp")), {
        what: "the temporary file",
      });
      child.kill(signal);
      const { code: exit, stderr } = await output;
      const text = new TextDecoder().decode(stderr);
      assert.equal(exit, code, text);
      assert.match(text, new RegExp(`^kv gen: ${said}; 'data\\.txt' left as it was\\n$`));
      assert.equal(await Deno.readTextFile(`${dir}/data.txt`), "before\n");
      assert.deepEqual(await entriesOf(dir), ["data.txt"]);
    });
  });
}

Deno.test("kv gen mistakes exit 2 with exactly one line on stderr and no stack trace", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/adir`);
    await Deno.writeTextFile(`${dir}/keep.txt`, "keep me\n");
    await Deno.copyFile(COMPAT_KEY_FILE, `${dir}/keys.txt`);
    await Deno.symlink("keys.txt", `${dir}/keys-link.txt`);
    const k = ["-k", COMPAT_KEY_FILE];
    const cases: [args: string[], message: string][] = [
      [[...k, "--bogus"], "kv gen: unknown option '--bogus' (see 'kv gen --help')"],
      [["-n", "5"], "kv gen: -k KEYFILE is required (see 'kv gen --help')"],
      [
        [...k, "-m", "13"],
        `kv gen: -m 13 is more than the 12 keys in '${COMPAT_KEY_FILE}'; use -m 0..12`,
      ],
      [
        ["-k", `${KEY_FILES}one-key.txt`, "-m", "2"],
        `kv gen: -m 2 is more than the 1 key in '${KEY_FILES}one-key.txt'; use -m 0..1`,
      ],
      [[...k, "-n", "abc"], "kv gen: -n must be a whole number from 0 to 1000000000, got 'abc'"],
      [[...k, "--lines=-1"], "kv gen: -n must be a whole number from 0 to 1000000000, got '-1'"],
      [[...k, "-d", "64"], "kv gen: -d must be a whole number from 0 to 63, got '64'"],
      [[...k, "-l", "0"], "kv gen: -l must be a whole number from 1 to 10000, got '0'"],
      [[...k, "-m", "1001"], "kv gen: -m must be a whole number from 0 to 1000, got '1001'"],
      [
        [...k, "--seed", "4294967296"],
        "kv gen: --seed must be a whole number from 0 to 4294967295, got '4294967296'",
      ],
      [
        ["-k", "missing.txt"],
        "kv gen: cannot read key file 'missing.txt': No such file or directory",
      ],
      [["-k", "adir"], "kv gen: cannot read key file 'adir': it is a directory"],
      [
        ["-k", `${KEY_FILES}unknown-type.txt`],
        `kv gen: ${KEY_FILES}unknown-type.txt:3:6: unknown type 'bool'; expected int, float or string`,
      ],
      [
        ["-k", `${KEY_FILES}duplicate-key.txt`],
        `kv gen: ${KEY_FILES}duplicate-key.txt:3:1: duplicate key 'name' (first defined on line 1)`,
      ],
      [
        ["-k", `${KEY_FILES}no-keys.txt`],
        `kv gen: ${KEY_FILES}no-keys.txt: no keys; add lines of the form 'name type' with type ` +
        "int, float or string",
      ],
      [
        ["-k", `${KEY_FILES}dotted-name.txt`],
        `kv gen: ${KEY_FILES}dotted-name.txt:2:5: key name 'hair.color' contains '.'; ` +
        "names use only letters, digits, '_' and '-'",
      ],
      [
        [...k, "-o", "nodir/out.txt"],
        "kv gen: cannot write 'nodir/out.txt': directory 'nodir' does not exist",
      ],
      [[...k, "-o", "adir"], "kv gen: cannot write 'adir': it is a directory"],
      // The key file itself, by its name or through a link: it would be replaced by records.
      [
        ["-k", "keys.txt", "-o", "keys.txt"],
        "kv gen: -o 'keys.txt' is the key file (-k 'keys.txt'), which the records would " +
        "replace; write them to another file",
      ],
      [
        ["-k", "keys.txt", "-o", "keys-link.txt"],
        "kv gen: -o 'keys-link.txt' is the key file (-k 'keys.txt'), which the records would " +
        "replace; write them to another file",
      ],
      [
        [...k, "-o", "/dev/full"],
        "kv gen: cannot write '/dev/full': Deno does not let kv open a device, /proc or /sys; " +
        "write to standard output and redirect it instead: -o - > FILE",
      ],
      [
        [...k, "-m", "13", "-o", "keep.txt"],
        "kv gen: -m 13 is more than the 12 keys in " +
        `'${COMPAT_KEY_FILE}'; use -m 0..12`,
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => runGen(args, dir)));
    runs.forEach((run, index) => {
      const [args, message] = cases[index];
      assert.deepEqual(run, { code: 2, stdout: "", stderr: `${message}\n` }, args.join(" "));
    });
    assert.deepEqual(
      await entriesOf(dir),
      ["adir", "keep.txt", "keys-link.txt", "keys.txt"],
      "failed runs write nothing",
    );
    assert.equal(await Deno.readTextFile(`${dir}/keep.txt`), "keep me\n");
    assert.equal(
      await Deno.readTextFile(`${dir}/keys.txt`),
      await Deno.readTextFile(COMPAT_KEY_FILE),
    );
  });
});

Deno.test("kv gen --help documents every flag, its range and default, and examples", async () => {
  await withTempDir(async (dir) => {
    const run = await runGen(["--help"], dir);
    assert.equal(run.code, 0);
    assert.equal(run.stdout.trimEnd(), genCommand.help);
  });
  const help = genCommand.help;
  for (
    const flag of [
      "-k, --key-file",
      "-n, --lines",
      "-d, --max-nesting",
      "-l, --max-string-length",
      "-m, --max-keys",
      "-o, --output",
      "--seed",
    ]
  ) {
    assert.ok(help.includes(flag), `help lacks ${flag}`);
  }
  for (
    const text of [
      "0..1000000000 (default 15)",
      "0..63",
      "1..10000 (default 15)",
      "(default dataToIndex.txt)",
      "0..4294967295",
      "kv gen -k keyFile.txt -n 15 -d 2 -l 15 -m 8",
    ]
  ) {
    assert.ok(help.includes(text), `help lacks '${text}'`);
  }
});

terminalTest(
  "kv gen -o - on a terminal prints the records, then a summary naming standard output",
  async () => {
    const gen = kvArgs("gen", "-k", COMPAT_KEY_FILE, "-n", "3", "-o", "-", "--seed", "1");
    await using term = await Terminal.start(gen);
    assert.equal(await term.exitCode(), 0);
    const screen = await term.screen();
    assert.equal(screen.split("\n").filter((line) => line.startsWith('"person')).length, 3, screen);
    assert.match(screen, /^kv gen: wrote 3 records \(0\.0 MB\) to standard output in /m);
  },
);

terminalTest(
  "kv gen's progress bar in a terminal narrower than the bar leaves no line behind (S35 F1)",
  async () => {
    await withTempDir(async (dir) => {
      // 40 columns: the 30-character bar with its label and counts took 56, wrapped onto
      // a second line, and each redraw's "erase the line" erased only that second one.
      const out = `${dir}/out.txt`;
      const gen = kvArgs("gen", "-k", COMPAT_KEY_FILE, "-n", "20000", "-o", out, "--seed", "1");
      await using term = await Terminal.start(gen, { columns: 40 });
      assert.equal(await term.exitCode(), 0);
      const lines = (await term.screen()).split("\n");
      assert.deepEqual(lines.filter((line) => !/^kv gen: wrote |^\[exit 0\]$/.test(line)), []);
    });
  },
);

Deno.test("kv gen -o /dev/stdout whose reader stops early ends quietly with exit 0, as -o - does (S35 F5)", async () => {
  const gen = [Deno.execPath(), "run", ...GEN_PERMISSIONS, MAIN_PATH, "gen"].map((arg) =>
    `'${arg}'`
  );
  for (const output of ["-", "/dev/stdout"]) {
    // head -n 1 exits after the first line: kv gen then writes into a pipe nobody reads.
    const flags = `-k '${COMPAT_KEY_FILE}' -n 100000 -o ${output}`;
    const child = new Deno.Command("bash", {
      args: ["-c", `${gen.join(" ")} ${flags} | head -n 1 >/dev/null; exit \${PIPESTATUS[0]}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const piped = await outputWithin(child, { what: `kv gen -o ${output} | head -n 1 to exit` });
    const stderr = new TextDecoder().decode(piped.stderr);
    // It said "kv gen: cannot write '/dev/stdout': Broken pipe", exit 2.
    assert.deepEqual([piped.code, stderr], [0, ""], `-o ${output}`);
  }
});
