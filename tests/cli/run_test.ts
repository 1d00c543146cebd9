import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { TEST_KV } from "../helpers/server_process.ts";
import { outputWithin } from "../helpers/wait.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { loadSubcommand } from "../../lib/cli/run.ts";
import { UserError } from "../../lib/cli/user_error.ts";

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

// Exactly the message of the UserError the command's `run` throws, which
// tests/cli/help_test.ts reads in process.
Deno.test("an unknown flag of a subcommand is one line on stderr and exit 2", async () => {
  for (const name of ["gen", "server", "broker"]) {
    const run = await runKv([name, "--no-such-flag"]);
    assert.equal(run.code, 2, `kv ${name} exits 2`);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, `kv ${name}: ${run.stderr}`);
    assert.match(run.stderr, /unknown option '--no-such-flag'/);
    assert.doesNotMatch(run.stderr, /\bat \S+:\d+:\d+/, "no stack trace");
    const thrown = await (await loadSubcommand(name))?.run(["--no-such-flag"]).catch((e) => e);
    assert(thrown instanceof UserError, `kv ${name} throws a UserError`);
    assert.equal(run.stderr, `${thrown.message}\n`);
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
