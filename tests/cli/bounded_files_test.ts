import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin, TEST_KV } from "../helpers/server_process.ts";
import { outputWithin } from "../helpers/wait.ts";
import { fifo, sparseFile, withTempDir } from "../helpers/fixtures.ts";

// Every file kv reads whole is read with a bound on the bytes read, so a file of any size
// is one clear line and exit 2, in bounded time and memory, never a runaway read; and only a
// regular file is read: a FIFO no one writes, or a device, is refused before it is opened.

/** Bytes of a sparse file past every bound kv reads whole with (1 TiB: reading it would not end). */
const HUGE_FILE_BYTES = 2 ** 40;

Deno.test("kv gen -k with a key file of 1 TiB is one line and exit 2", async () => {
  await withTempDir(async (dir) => {
    const huge = await sparseFile(`${dir}/huge`, HUGE_FILE_BYTES);
    const run = await runKv(["gen", "-k", huge, "-o", "-"]);
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: `kv gen: cannot read key file '${huge}': it holds more than 1048576 bytes, ` +
        "the most a key file may hold\n",
    });
  });
});

Deno.test("kv broker -s with a server file of 1 TiB is one line and exit 2", async () => {
  await withTempDir(async (dir) => {
    const huge = await sparseFile(`${dir}/huge`, HUGE_FILE_BYTES);
    const run = await runKv(["broker", "-s", huge, "--index-only", "-i", "/dev/null"]);
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: `kv broker: ${huge}: server file larger than 1048576 bytes; a server file ` +
        "lists servers only, one a line\n",
    });
  });
});

Deno.test("kv http --tokens-file of 1 TiB is one line that says what a tokens file holds, exit 2", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    const huge = await sparseFile(`${dir}/huge`, HUGE_FILE_BYTES);
    const run = await runKv(["http", "-s", `${dir}/servers`, "--tokens-file", huge]);
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: `kv http: ${huge}: tokens file larger than 1048576 bytes; a tokens file holds ` +
        "tokens only, one a line\n",
    });
  });
});

Deno.test("a FIFO no one writes, or /dev/zero, as auth file, tokens file, server file or certificate is one line and exit 2, not a hang", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    const pipe = await fifo(`${dir}/fifo`);
    const servers = `${dir}/servers`;
    const cases: [string[], string][] = [
      [["server", "-p", "0", "--auth-file", pipe], `kv server: ${pipe}: cannot read the auth file`],
      [
        ["get", "x", "-s", servers, "--auth-file", pipe],
        `kv get: ${pipe}: cannot read the auth file`,
      ],
      [["get", "x", "-s", pipe], `kv get: ${pipe}: cannot read the server file`],
      [
        ["http", "-s", servers, "--tokens-file", pipe],
        `kv http: ${pipe}: cannot read the tokens file`,
      ],
      [
        ["server", "-p", "0", "--tls-cert", pipe, "--tls-key", pipe],
        `kv server: ${pipe}: cannot read the certificate file`,
      ],
      [
        ["get", "x", "-s", servers, "--tls-ca", pipe],
        `kv get: ${pipe}: cannot read the certificate file`,
      ],
    ];
    for (const [args, refusal] of cases) {
      // Before kv refused them, each of these waited for a writer for ever.
      const run = await runKv(args, { timeoutMs: 10_000 });
      assert.deepEqual(run, {
        code: 2,
        stdout: "",
        stderr: `${refusal}: it is a FIFO (named pipe), not a regular file\n`,
      });
    }
    const zero = await runKv(["server", "-p", "0", "--auth-file", "/dev/zero"]);
    assert.deepEqual(zero, {
      code: 2,
      stdout: "",
      stderr: "kv server: /dev/zero: cannot read the auth file: it is a character device, not a " +
        "regular file\n",
    });
  });
});

Deno.test("a server file and an auth file given as the shell's <(…), anonymous pipes, are read as files are: the client holding the secret is served", async () => {
  await withTempDir(async (dir) => {
    const secret = `${dir}/kv.auth`;
    assert.equal((await runKv(["secret", "-o", secret])).code, 0);
    await using server = await startServerProcess(["--auth-file", secret]);
    // bash hands kv /dev/fd/63 and /dev/fd/62, each the read end of a pipe.
    const kv = [TEST_KV.command, ...TEST_KV.args].map((word) => `'${word}'`).join(" ");
    const script = `${kv} put 'k: 1' -s <(echo 127.0.0.1:${server.port}) --auth-file <(cat ` +
      `'${secret}') -k 1 && ${kv} get k -s <(echo 127.0.0.1:${server.port}) --auth-file ` +
      `<(cat '${secret}')`;
    const child = new Deno.Command("bash", {
      args: ["-c", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { code, stdout, stderr } = await outputWithin(child, { what: "bash to run kv twice" });
    const decoder = new TextDecoder();
    assert.equal(code, 0, decoder.decode(stderr));
    assert.equal(decoder.decode(stdout), "STORED: k\nk : 1\n");
  });
});

Deno.test("kv broker -i /dev/zero stops with one line and exit 2: no line ends in sight", async () => {
  await withTempDir(async (dir) => {
    await using server = await startServerProcess();
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${server.port}\n`);
    // -k: a broker fixing the default k on a new server says so first (README, The cluster's k).
    const run = await runKv(
      ["broker", "-s", `${dir}/servers`, "-k", "1", "-i", "/dev/zero", "--index-only"],
    );
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: "kv broker: /dev/zero: line 1 has no end within 16777216 bytes; " +
        "this is not a file of text lines\n",
    });
    assert.equal((await stopWithin(server)).code, 0);
  });
});
