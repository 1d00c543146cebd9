import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { outputWithin } from "../helpers/wait.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { loadSubcommand, topLevelHelp } from "../../lib/cli/run.ts";
import { refusalOf } from "../helpers/refusals.ts";

Deno.test("kv --version prints the version from deno.json and exits 0", async () => {
  const run = await runKv(["--version"]);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, `kv ${denoConfig.version}\n`);
  assert.equal(run.stderr, "");
});

Deno.test("kv --help lists every subcommand and exits 0", async () => {
  const run = await runKv(["--help"]);
  assert.equal(run.code, 0);
  for (const name of ["gen", "server", "broker", "demo"]) {
    assert.match(run.stdout, new RegExp(`^  ${name} `, "m"), `help lists ${name}`);
  }
});

Deno.test("kv without a command prints help on stdout and exits 2", async () => {
  const run = await runKv([]);
  assert.equal(run.code, 2);
  assert.match(run.stdout, /^Usage: kv <command>/m);
});

// Exactly the command's `help`, which tests/cli/help_test.ts reads in process.
Deno.test("kv <sub> --help prints that subcommand's usage and exits 0", async () => {
  for (const name of ["gen", "server", "broker", "demo"]) {
    const run = await runKv([name, "--help"]);
    assert.equal(run.code, 0, `kv ${name} --help exits 0`);
    assert.match(run.stdout, new RegExp(`kv ${name}`), `kv ${name} --help names itself`);
    assert.equal(run.stdout, `${(await loadSubcommand(name))?.help}\n`);
  }
});

Deno.test("an -h or --help after '--' is an operand, not a request for help: kv get -- -h reads the key -h", async () => {
  // A fresh server that answers, not yet repaired: the read is tried and answers NOT FOUND
  // naming the key, unsure (exit 3). With none reachable every get is one ERROR naming no key.
  const started = await startServer();
  const servers = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(servers, `${started.address.hostname} ${started.address.port}\n`);
    for (const key of ["-h", "--help"]) {
      const run = await runKv(["get", "-s", servers, "--", key]);
      assert.deepEqual([run.code, run.stdout], [3, ""], run.stderr);
      assert.match(run.stderr, new RegExp(`^NOT FOUND: ${key}\n`));
    }
  } finally {
    await Deno.remove(servers);
    await started.stop();
  }
});

Deno.test("an unknown subcommand is one line of at most 80 columns on stderr and exit 2", async () => {
  const run = await runKv(["frobnicate"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr.trimEnd().split("\n").length, 1);
  assert.match(run.stderr, /^kv: unknown command 'frobnicate'/);
  assert.ok(run.stderr.trimEnd().length <= 80, run.stderr);
});

Deno.test("a command or top-level flag a typo or the case away is named: kv gett, kv GET, kv --verison, kv -v", async () => {
  const cases: [string, string][] = [
    ["gett", "kv: unknown command 'gett'; did you mean kv get? (kv --help lists all)"],
    ["GET", "kv: unknown command 'GET'; did you mean kv get? (kv --help lists all)"],
    ["repiar", "kv: unknown command 'repiar'; did you mean kv repair? (kv --help lists all)"],
    ["--verison", "kv: unknown flag '--verison'; did you mean kv --version?"],
    ["-v", "kv: unknown flag '-v'; did you mean kv --version?"],
    // One edit from -h, as every other letter is: no flag is meant by it.
    ["-x", "kv: unknown flag '-x'; kv --help lists the flags"],
  ];
  for (const [typed, message] of cases) {
    const run = await runKv([typed]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `${message}\n`], typed);
    assert.ok(message.length <= 80, message);
  }
});

Deno.test("kv help COMMAND prints that command's --help; no such command is one line and exit 2", async () => {
  const put = await runKv(["help", "put"]);
  assert.deepEqual([put.code, put.stderr], [0, ""]);
  assert.equal(put.stdout, `${(await loadSubcommand("put"))?.help}\n`);
  const typo = await runKv(["help", "sever"]);
  assert.deepEqual(
    [typo.code, typo.stdout, typo.stderr],
    [2, "", "kv help: unknown command 'sever'; did you mean kv server? (kv --help lists all)\n"],
  );
  for (const again of ["help", "--help", "-h"]) {
    const top = await runKv(["help", again]);
    assert.deepEqual([top.code, top.stdout, top.stderr], [0, `${topLevelHelp()}\n`, ""], again);
  }
  const two = await runKv(["help", "get", "put"]);
  assert.deepEqual(
    [two.code, two.stdout, two.stderr],
    [2, "", "kv help: expected one command, got 2: usage kv help COMMAND\n"],
  );
});

Deno.test("an unknown flag a typo away, the start of one, or a short one given two dashes, is named", async () => {
  const cases: [string[], string][] = [
    [
      ["get", "a", "--timout-ms", "5"],
      "kv get: unknown option '--timout-ms'; did you mean --timeout-ms?",
    ],
    [
      ["get", "a", "--timeout", "5"],
      "kv get: unknown option '--timeout'; did you mean --timeout-ms?",
    ],
    [["get", "a", "--s", "x"], "kv get: unknown option '--s'; did you mean -s?"],
    [["get", "a", "-K", "2"], "kv get: unknown option '-K'; did you mean -k?"],
    [["repair", "--dryrun"], "kv repair: unknown option '--dryrun'; did you mean --dry-run?"],
    [["gen", "--sed", "1"], "kv gen: unknown option '--sed'; did you mean --seed?"],
    [["get", "a", "--bogus"], "kv get: unknown option '--bogus'"],
    [["keys", "-l", "5"], "kv keys: unknown option '-l'"],
  ];
  for (const [args, message] of cases) {
    const run = await runKv(args);
    const command = args[0];
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [2, "", `${message} (see 'kv ${command} --help')\n`],
      args.join(" "),
    );
  }
});

// Exactly the message of the UserError the command's `run` throws, which
// tests/cli/help_test.ts reads in process.
Deno.test("an unknown flag of a subcommand is one line on stderr and exit 2", async () => {
  for (const name of ["gen", "server", "broker"]) {
    const run = await runKv([name, "--no-such-flag"]);
    assert.equal(run.code, 2, `kv ${name} exits 2`);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, `kv ${name}: ${run.stderr}`);
    assert.match(run.stderr, /unknown option '--no-such-flag'/);
    assert.doesNotMatch(run.stderr, /\bat \S+:\d+:\d+/, "no stack trace");
    assert.equal(run.stderr, `${await refusalOf([name, "--no-such-flag"])}\n`);
  }
});

Deno.test("output that cannot be written is one line on stderr and exit 2", async () => {
  const kv = [...TEST_KV.args].map((arg) => `'${arg}'`).join(" ");
  // Each with the prefix of its message: kv's own output, then a command's.
  const cases = [
    ["--help", "kv"],
    ["--version", "kv"],
    ["gen --help", "kv gen"],
    ["secret", "kv secret"],
    ["gen -k keyFile.txt -n 1 -o -", "kv gen"],
  ];
  for (const [args, command] of cases) {
    const child = new Deno.Command("sh", {
      args: ["-c", `'${TEST_KV.command}' ${kv} ${args} > /dev/full`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, { what: `kv ${args} > /dev/full to exit` });
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, `kv ${args}: ${stderr}`);
    assert.equal(stderr, `${command}: cannot write to standard output: No space left on device\n`);
  }
});

Deno.test("a command whose reader stops early (| head -n 0) ends quietly with exit 0", async () => {
  const kv = [...TEST_KV.args].map((arg) => `'${arg}'`).join(" ");
  // head -n 0 exits at once: kv, still starting, then writes into a pipe nobody reads.
  for (const args of ["secret", "get --help"]) {
    const child = new Deno.Command("bash", {
      args: ["-c", `'${TEST_KV.command}' ${kv} ${args} | head -n 0; exit \${PIPESTATUS[0]}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, { what: `kv ${args} | head -n 0 to exit` });
    const stderr = new TextDecoder().decode(output.stderr);
    assert.deepEqual([output.code, stderr], [0, ""], `kv ${args}`);
  }
});

Deno.test("a command's flag put before the command is shown where it goes: kv -s f get x (S35 F2)", async () => {
  const cases: [string[], string][] = [
    [["-s", "serverFile.txt", "get", "x"], "kv get -s serverFile.txt x"],
    [["--json", "keys"], "kv keys --json"],
    [["-k", "2", "broker", "-s", "my servers.txt"], "kv broker -k 2 -s 'my servers.txt'"],
  ];
  for (const [args, meant] of cases) {
    const run = await runKv(args);
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [2, "", `kv: flags go after the command: ${meant}\n`],
      args.join(" "),
    );
  }
  // No command word follows: the flag is kv's own, mistyped or not.
  const alone = await runKv(["--json", "x"]);
  assert.equal(alone.stderr, "kv: unknown flag '--json'; kv --help lists the flags\n");
});

Deno.test("an unknown command or flag holding hidden characters is one line, them escaped (S35 F3)", async () => {
  const cases: [string[], string][] = [
    [["ge\x1b[2Jt"], "kv: unknown command 'ge\\u001b[2Jt'; kv --help lists the commands"],
    [["-\x1b[2J"], "kv: unknown flag '-\\u001b[2J'; kv --help lists the flags"],
    [["help", "a\nb"], "kv help: unknown command 'a\\u000ab'; kv --help lists the commands"],
  ];
  for (const [args, message] of cases) {
    const run = await runKv(args);
    assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `${message}\n`], args.join(" "));
  }
});

Deno.test("an argument given without its flag names the flag it likely lacks: kv server 8000, kv broker serverFile.txt (S35 F6)", async () => {
  const cases: [string[], string | undefined][] = [
    [["server", "8000"], "-p 8000"],
    [["http", "8080"], "--listen 127.0.0.1:8080"],
    [["http", "0.0.0.0:8080"], "--listen 0.0.0.0:8080"],
    [["broker", "serverFile.txt"], "-s serverFile.txt"],
    [["broker", "-s", "serverFile.txt", "my data.txt"], "-i 'my data.txt'"],
    [["gen", "keyFile.txt"], "-k keyFile.txt"],
    [["gen", "-k", "keyFile.txt", "100"], "-n 100"],
    [["repair", "servers.txt"], "-s servers.txt"],
    [["bench", "servers.txt"], "-s servers.txt"],
    [["secret", "kv.auth"], "-o kv.auth"],
    [["demo", "100"], "-n 100"],
    // Nothing it could mean: the plain line.
    [["server", "fast"], undefined],
  ];
  for (const [args, meant] of cases) {
    const run = await runKv(args);
    const command = args[0];
    const stray = args.at(-1)!;
    const hint = meant === undefined ? "" : `; did you mean ${meant}?`;
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [
        2,
        "",
        `kv ${command}: unexpected argument '${stray}'${hint} (see 'kv ${command} --help')\n`,
      ],
      args.join(" "),
    );
  }
});

Deno.test("kv http's and kv server's listening flags named as the other command or other programs name them point to theirs (S35 F8)", async () => {
  const cases: [string[], string][] = [
    [["http", "-p", "8080"], "kv http: unknown option '-p'; did you mean --listen 127.0.0.1:PORT?"],
    [
      ["http", "--port", "8080"],
      "kv http: unknown option '--port'; did you mean --listen 127.0.0.1:PORT?",
    ],
    [
      ["http", "--host", "0.0.0.0"],
      "kv http: unknown option '--host'; did you mean --listen HOST:PORT?",
    ],
    [["http", "-a", "0.0.0.0"], "kv http: unknown option '-a'; did you mean --listen HOST:PORT?"],
    [["server", "--host", "0.0.0.0"], "kv server: unknown option '--host'; did you mean -a?"],
    [["server", "--bind", "0.0.0.0"], "kv server: unknown option '--bind'; did you mean -a?"],
    [
      ["server", "--listen", "127.0.0.1:8000"],
      "kv server: unknown option '--listen'; did you mean -a ADDRESS -p PORT?",
    ],
  ];
  for (const [args, message] of cases) {
    const run = await runKv(args);
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [2, "", `${message} (see 'kv ${args[0]} --help')\n`],
      args.join(" "),
    );
  }
});
