import assert from "node:assert/strict";
import { sparseFile, withTempDir } from "../helpers/fixtures.ts";
import { CLIENT_COMMANDS, newAuthFile, runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { tlsTest } from "../helpers/tls_certs.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { waitFor } from "../helpers/wait.ts";
import { refusalOf } from "../helpers/refusals.ts";

Deno.test("kv secret -o FILE writes one 32-byte hex secret, readable by its owner only; never over a file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.auth`;
    const written = await runKv(["secret", "-o", path]);
    assert.deepEqual(written, { code: 0, stdout: "", stderr: "" });
    const secret = await Deno.readTextFile(path);
    assert.match(secret, /^[0-9a-f]{64}\n$/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const again = await runKv(["secret", "-o", path]);
    assert.equal(again.code, 2);
    assert.match(
      again.stderr,
      /^kv secret: .* exists; add a secret with 'kv secret >> .*' or remove it first\n$/,
    );
    assert.equal(await Deno.readTextFile(path), secret);
    // A directory is no file to append to: the advice names a file in it instead.
    const directory = await runKv(["secret", "-o", dir]);
    assert.deepEqual([directory.code, directory.stderr], [
      2,
      `kv secret: ${dir} is a directory; name a new file, e.g. kv secret -o ${dir}/kv.auth\n`,
    ]);
    // A directory that does not exist: it said only "No such file or directory" (S35 F20).
    const nowhere = await runKv(["secret", "-o", `${dir}/keys/kv.auth`]);
    assert.deepEqual([nowhere.code, nowhere.stderr], [
      2,
      `kv secret: cannot write ${dir}/keys/kv.auth: No such file or directory; make its ` +
      `directory first (mkdir -p ${dir}/keys) or name a file in one that exists\n`,
    ]);
    const printed = await runKv(["secret"]);
    assert.match(printed.stdout, /^[0-9a-f]{64}\n$/);
    assert.notEqual(printed.stdout, secret);
    // '-o -' is standard output, as for kv gen: no file named '-' is made.
    const dashed = await runKv(["secret", "-o", "-"], { cwd: dir });
    assert.match(dashed.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal(dashed.code, 0, dashed.stderr);
    assert.equal(await Deno.stat(`${dir}/-`).then(() => true, () => false), false);
  });
});

tmpfsTest({
  name: "kv secret -o on a full disk is one line, exit 2, and leaves no empty auth file behind",
  short: "kv secret -o on a full disk",
  megabytes: 1,
}, async (mount) => {
  await Deno.writeFile(`${mount}/ballast`, new Uint8Array(1024 * 1024)).catch(() => {});
  const run = await runKv(["secret", "-o", `${mount}/kv.auth`]);
  assert.deepEqual([run.code, run.stderr], [
    2,
    `kv secret: cannot write ${mount}/kv.auth: No space left on device\n`,
  ]);
  await assert.rejects(Deno.stat(`${mount}/kv.auth`), Deno.errors.NotFound);
});

Deno.test("kv server on an address other than loopback without --auth-file refuses to start, unless --insecure", async () => {
  const run = await runKv(["server", "-a", "0.0.0.0", "-p", "0"]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(
    run.stderr,
    /^kv server: -a 0\.0\.0\.0 lets other machines connect, and without --auth-file anyone could read and delete every record; give --auth-file \(see 'kv secret'\), or --insecure to accept that\n$/,
  );
  await using server = await startServerProcess(["-a", "0.0.0.0", "--insecure"]);
  assert.equal((await stopWithin(server)).code, 0);
});

Deno.test("with --auth-file, a client without the secret cannot read or write; a wrong secret is refused and logged", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const wrongFile = await newAuthFile(dir, "wrong.auth");
    await using server = await startServerProcess(["--auth-file", authFile]);
    assert.match(server.stderrLines.at(-1)!, /, plain TCP, auth required\)$/);
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${server.port}\n`);
    const servers = ["-s", `${dir}/servers`, "--timeout-ms", "20000"];

    // The wrong secret first: failures are logged once a second per peer address.
    const wrong = await runKv(["get", ...servers, "--auth-file", wrongFile, "person1"]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /AUTH_FAILED/);
    await waitFor(
      () =>
        server.stderrLines.some((line) =>
          /refused 127\.0\.0\.1:\d+: authentication failed/.test(line)
        ),
      { what: "the failed attempt in the server's log" },
    );
    const stranger = await runKv(["put", ...servers, "person1: {a: 1}"]);
    assert.equal(stranger.code, 2);
    assert.match(stranger.stderr, /requires authentication and no auth file was given/);

    // KV_AUTH_FILE stands in for --auth-file: a client given it writes and reads (one piped
    // session, a process where a kv put and a kv get would start two).
    const env = { KV_AUTH_FILE: authFile };
    const session = await runKv(["broker", ...servers], {
      env,
      stdin: "PUT person1: {a: 1}\nGET person1\n",
    });
    assert.deepEqual([session.code, session.stdout], [
      0,
      'STORED: person1\nperson1 : { "a" : 1 }\n',
    ], session.stderr);
    assert.equal((await stopWithin(server)).code, 0);
  });
});

Deno.test("every client command whose servers all refuse its credentials says so in one line naming --auth-file, exit 2", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const wrongFile = await newAuthFile(dir, "wrong.auth");
    await using server = await startServerProcess(["--auth-file", authFile]);
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${server.port}\n`);
    const s = ["-s", `${dir}/servers`, "--timeout-ms", "20000"];
    const required = (name: string) =>
      new RegExp(
        `^kv ${name}: 127\\.0\\.0\\.1:${server.port} requires authentication and no auth file ` +
          "was given; give --auth-file FILE holding one of the servers' " +
          "secrets \\(or set \\$KV_AUTH_FILE\\)\n$",
      );
    const wrongPath = RegExp.escape(wrongFile);
    const wrong = (name: string, source: string) =>
      new RegExp(
        `^kv ${name}: 127\\.0\\.0\\.1:${server.port} refused the secret in ${wrongPath}${source} ` +
          "\\(AUTH_FAILED: [^\\n]*\\); give --auth-file a file holding one of the servers' secrets\n$",
      );
    for (const [name, ...args] of CLIENT_COMMANDS) {
      const none = await runKv([name, ...args, ...s]);
      assert.deepEqual([none.code, none.stdout], [2, ""], `kv ${name}: ${none.stderr}`);
      assert.match(none.stderr, required(name));
      const refused = await runKv([name, ...args, ...s, "--auth-file", wrongFile]);
      assert.deepEqual([refused.code, refused.stdout], [2, ""], `kv ${name}: ${refused.stderr}`);
      assert.match(refused.stderr, wrong(name, ""));
    }
    const env = { KV_AUTH_FILE: wrongFile };
    const named = await runKv(["get", "a", ...s], { env });
    assert.equal(named.code, 2, named.stderr);
    assert.match(named.stderr, wrong("get", " \\(named by \\$KV_AUTH_FILE\\)"));
    assert.equal((await stopWithin(server)).code, 0);
  });
});

Deno.test("a server refusing the secret the others accept is reported as REFUSED, with what is needed, not as down", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const otherFile = await newAuthFile(dir, "other.auth");
    await using accepting = await startServerProcess(["--auth-file", authFile]);
    await using refusing = await startServerProcess(["--auth-file", otherFile]);
    await Deno.writeTextFile(
      `${dir}/servers`,
      `127.0.0.1 ${accepting.port}\n127.0.0.1 ${refusing.port}\n`,
    );
    const s = ["-s", `${dir}/servers`, "--timeout-ms", "20000", "--auth-file", authFile];
    const refusal = `127.0.0.1:${refusing.port} refused this client's credentials ` +
      "(AUTH_FAILED: authentication failed: the client's secret is not in this server's auth " +
      "file); the server is running: the client's secret (its auth file's first line) must " +
      "be in the server's auth file";
    const put = await runKv(["put", ...s, "-k", "2", "--writes", "strict", "a: 1"]);
    assert.deepEqual([put.code, put.stderr], [
      3,
      `ERROR: cannot put 'a': only 1 of the 2 replicas it needs reachable (${refusal}); nothing was changed\n`,
    ]);
    const servers = await runKv(["servers", ...s]);
    assert.equal(servers.code, 0, servers.stderr);
    assert.equal(
      servers.stdout.split("\n")[1],
      `127.0.0.1:${refusing.port}  REFUSED  ${refusal.slice(refusal.indexOf(" ") + 1)}`,
    );
    assert.equal((await stopWithin(accepting)).code, 0);
    assert.equal((await stopWithin(refusing)).code, 0);
  });
});

Deno.test("a client given an auth file names a server that asked for no secret (started without --auth-file), and still uses it", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    await using guarded = await startServerProcess(["--auth-file", authFile]);
    await using open = await startServerProcess([]);
    await Deno.writeTextFile(
      `${dir}/servers`,
      `127.0.0.1 ${guarded.port}\n127.0.0.1 ${open.port}\n`,
    );
    const s = ["-s", `${dir}/servers`, "--timeout-ms", "20000", "--auth-file", authFile];
    const line = `server 127.0.0.1:${open.port} asked for no secret though this client has an ` +
      "auth file: it runs without --auth-file and serves anyone who reaches it; restart it " +
      "with --auth-file and the other servers' secrets";
    const put = await runKv(["put", ...s, "-k", "2", "a: 1"]);
    assert.deepEqual([put.code, put.stdout, put.stderr], [0, "STORED: a\n", `kv put: ${line}\n`]);
    const broker = await runKv(["broker", ...s, "-k", "2"], { stdin: "GET a\n" });
    assert.equal(broker.code, 0, broker.stderr);
    assert.equal(broker.stdout, "a : 1\n");
    assert.deepEqual(broker.stderr.split("\n").filter((l) => l.includes("secret")), [
      `kv broker warn: ${line}`,
    ]);
    // kv repair --dry-run is the check a monitor runs: it says so too, its verdict unchanged.
    const check = await runKv(["repair", ...s, "--dry-run"]);
    assert.deepEqual([check.code, check.stderr], [0, `kv repair: ${line}\n`]);
    const bench = await runKv(["bench", ...s, "-k", "2", "-n", "1", "--ops", "1", "--json"]);
    assert.equal(bench.code, 0, bench.stderr);
    assert.deepEqual(bench.stderr.split("\n").filter((l) => l.includes("secret")), [
      `kv bench: ${line}`,
    ]);
    // Without an auth file the client asked for nothing, so there is nothing to say.
    const plain = await runKv(["servers", "-s", `${dir}/servers`, "--timeout-ms", "20000"]);
    assert.doesNotMatch(plain.stderr, /asked for no secret/);
    assert.equal((await stopWithin(guarded)).code, 0);
    assert.equal((await stopWithin(open)).code, 0);
  });
});

tlsTest(
  "a client's --tls-ca is trusted in addition to Deno's default roots, not instead of them: a certificate a CA of that store signed is taken (the limit of --tls-ca README's Security section states)",
  async (certs, dir) => {
    const tls = ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey];
    await using server = await startServerProcess(tls);
    await Deno.writeTextFile(`${dir}/servers`, `localhost ${server.port}\n`);
    const args = ["servers", "-s", `${dir}/servers`, "--timeout-ms", "20000"];
    // The CA in other-ca.pem signed no server's certificate (refused: the test below); with
    // the servers' CA in Deno's default store (DENO_CERT here, any public CA for real) the
    // server is reached all the same. When this fails, the limit is gone: say so in README.
    const run = await runKv([...args, "--tls-ca", certs.otherCaPem], {
      env: { DENO_CERT: certs.caPem },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`localhost:${server.port} +up`));
    assert.equal((await stopWithin(server)).code, 0);
  },
);

tlsTest(
  "every client command given a --tls-ca that signed no server's certificate says so in one line naming --tls-ca, exit 2",
  async (certs, dir) => {
    const tls = ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey];
    await using server = await startServerProcess(tls);
    await Deno.writeTextFile(`${dir}/servers`, `localhost ${server.port}\n`);
    // A generous timeout: a TLS handshake on a loaded machine can take more than 1 s.
    const s = ["-s", `${dir}/servers`, "--timeout-ms", "20000", "--tls-ca", certs.otherCaPem];
    for (const [name, ...args] of CLIENT_COMMANDS) {
      const run = await runKv([name, ...args, ...s]);
      assert.deepEqual([run.code, run.stdout, run.stderr], [
        2,
        "",
        `kv ${name}: localhost:${server.port} has a TLS certificate the CA in ` +
        `${certs.otherCaPem} did not sign (invalid peer certificate: UnknownIssuer); give ` +
        "--tls-ca the CA certificate that signed the servers' certificates\n",
      ]);
    }
    assert.equal((await stopWithin(server)).code, 0);
  },
);

Deno.test("an auth file that cannot be read, named by $KV_AUTH_FILE, is one line that says so; kv http says it before taking its port", async () => {
  // kv http is given a port in use: the auth file's line, not the port's, shows it read first.
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    const env = { KV_AUTH_FILE: `${dir}/gone.auth` };
    for (
      const args of [
        ["get", "-s", `${dir}/servers`, "x"],
        ["http", "-s", `${dir}/servers`, "--listen", `127.0.0.1:${taken.addr.port}`],
        ["bench", "-s", `${dir}/servers`, "--ops", "1"],
      ]
    ) {
      const run = await runKv(args, { env });
      assert.deepEqual([run.code, run.stderr], [
        2,
        `kv ${args[0]}: ${dir}/gone.auth: cannot read the auth file: No such file or directory ` +
        "(named by $KV_AUTH_FILE)\n",
      ]);
    }
    // Typed, the path needs no note.
    const typed = await runKv(["get", "-s", `${dir}/servers`, "--auth-file", `${dir}/x`, "x"]);
    assert.match(typed.stderr, /: No such file or directory\n$/);
  });
});

/** What kv prints to stderr as it refuses `kv <name> <args>`, run in process: its refusal's line. */
async function refusalLineOf(args: readonly string[]): Promise<string> {
  return `${await refusalOf(args)}\n`;
}

Deno.test("kv server warns at start about a data dir group or others can enter, naming chmod 700; a new one is 0700", async () => {
  await withTempDir(async (parent) => {
    const dir = `${parent}/data`;
    await Deno.mkdir(dir, { mode: 0o755 });
    await Deno.chmod(dir, 0o755);
    await using exposed = await startServerProcess(["--data-dir", dir]);
    assert.match(
      exposed.stderrLines.join("\n"),
      new RegExp(
        `^kv server warn: data dir ${dir} is accessible by group or others \\(mode 755\\); ` +
          `run 'chmod 700 ${dir}': any local user can read every record in it$`,
        "m",
      ),
    );
    await stopWithin(exposed);
    await using fresh = await startServerProcess(["--data-dir", `${parent}/fresh`]);
    assert.equal((await Deno.stat(`${parent}/fresh`)).mode! & 0o777, 0o700);
    assert.doesNotMatch(fresh.stderrLines.join("\n"), /warn/);
  });
});

// In process but the first case: each is read and refused before any connection or
// listener, and five process starts more would check only text.
Deno.test("an auth file readable by others, or of 1 TiB, is one line and exit 2", async () => {
  await withTempDir(async (dir) => {
    const authFile = await newAuthFile(dir, "kv.auth");
    const huge = await sparseFile(`${dir}/huge`, 2 ** 40);
    await Deno.chmod(authFile, 0o644);
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    const first = await runKv(["server", "-p", "0", "--auth-file", authFile]);
    assert.deepEqual(
      [first.code, first.stderr],
      [2, await refusalLineOf(["server", "-p", "0", "--auth-file", authFile])],
    );
    for (const args of [["server", "-p", "0"], ["get", "-s", `${dir}/servers`, "x"]]) {
      assert.match(
        await refusalLineOf([...args, "--auth-file", authFile]),
        /readable by group or others \(mode 644\); give a file readable by its owner only \('chmod 600 .*' if it is yours\)\n$/,
      );
      assert.equal(
        await refusalLineOf([...args, "--auth-file", huge]),
        `kv ${args[0]}: ${huge}: larger than 65536 bytes; an auth file holds secrets only\n`,
      );
    }
    assert.equal(
      await refusalLineOf(["get", "-s", `${dir}/servers`, "--tls-ca", huge, "x"]),
      `kv get: ${huge}: larger than 1048576 bytes; not a PEM file\n`,
    );
  });
});

tlsTest(
  "a --tls-key readable by group or others is one line naming chmod 600 and exit 2, from kv server and kv http alike, as an auth file",
  async (certs, dir) => {
    await Deno.chmod(certs.serverKey, 0o640);
    const tls = ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey];
    const expected = `kv server: ${certs.serverKey}: the TLS private key is readable by group ` +
      `or others (mode 640); give a file readable by its owner only ('chmod 600 ` +
      `${certs.serverKey}' if it is yours)\n`;
    const server = await runKv(["server", "-p", "0", ...tls]);
    assert.deepEqual([server.code, server.stderr], [2, expected]);
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    assert.equal(
      await refusalLineOf(["http", "-s", `${dir}/servers`, "--listen", "127.0.0.1:0", ...tls]),
      expected.replace("kv server", "kv http"),
    );
  },
);

tlsTest(
  "kv server warns at start of a certificate without subjectAltName, which every client refuses whatever its CN names",
  async (certs, dir) => {
    await using nameless = await startServerProcess([
      "--tls-cert",
      certs.namelessPem,
      "--tls-key",
      certs.serverKey,
    ]);
    assert.ok(
      nameless.stderrLines.includes(
        `kv server warn: --tls-cert ${certs.namelessPem}: its certificate has no ` +
          "subjectAltName, so it names no host (clients ignore its CN, CN=localhost); clients " +
          "refuse it: sign one with subjectAltName=DNS:HOST or IP:ADDRESS, as README's " +
          "Security section shows",
      ),
      nameless.stderrLines.join("\n"),
    );
    // The warning is true: a client trusting the CA, naming the CN's host, is refused.
    await Deno.writeTextFile(`${dir}/servers`, `localhost ${nameless.port}\n`);
    const s = ["-s", `${dir}/servers`, "--timeout-ms", "20000", "--tls-ca", certs.caPem];
    const refused = await runKv(["get", ...s, "a"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /has a TLS certificate this client cannot accept/);
    assert.equal((await stopWithin(nameless)).code, 0);
  },
);

tlsTest(
  "TLS: a client with the right CA is served; an expired certificate, a plain server, or a TLS server to a plain-TCP client is one line saying what to do, exit 2",
  async (certs, dir) => {
    await using server = await startServerProcess([
      "--tls-cert",
      certs.serverPem,
      "--tls-key",
      certs.serverKey,
    ]);
    assert.match(server.stderrLines.at(-1)!, /, TLS, no auth\)$/);
    await using expired = await startServerProcess([
      "--tls-cert",
      certs.expiredPem,
      "--tls-key",
      certs.serverKey,
    ]);
    // Served, as a certificate may expire while its server runs, but said at start.
    assert.match(
      expired.stderrLines.join("\n"),
      new RegExp(
        `^kv server warn: --tls-cert ${certs.expiredPem}: its certificate expired on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; ` +
          "clients refuse it: give a valid one$",
        "m",
      ),
    );
    assert.doesNotMatch(server.stderrLines.join("\n"), /warn/);
    await using plain = await startServerProcess([]);
    await Deno.writeTextFile(`${dir}/servers`, `localhost ${server.port}\n`);
    await Deno.writeTextFile(`${dir}/expired`, `localhost ${expired.port}\n`);
    await Deno.writeTextFile(`${dir}/plain`, `localhost ${plain.port}\n`);
    // A generous timeout: a TLS handshake on a loaded machine can take more than 1 s.
    const servers = ["-s", `${dir}/servers`, "--timeout-ms", "20000"];
    const ca = ["--timeout-ms", "20000", "--tls-ca", certs.caPem];

    // Written and read back in one piped session: a kv put and a kv get would start two.
    const good = await runKv(["broker", ...servers, "--tls-ca", certs.caPem], {
      stdin: "PUT p: {a: 1}\nGET p\n",
    });
    assert.deepEqual([good.code, good.stdout], [0, 'STORED: p\np : { "a" : 1 }\n'], good.stderr);

    // Reconnecting mends neither: each is the user's to fix, and says how.
    const refusals: [string, string][] = [
      [
        "expired",
        `localhost:${expired.port} has a TLS certificate this client cannot accept (invalid ` +
        "peer certificate: Expired); the server is running: give it a valid certificate " +
        "for the name the server file gives it (kv server --tls-cert)",
      ],
      [
        "plain",
        `localhost:${plain.port} does not speak TLS (received corrupt message of type ` +
        "InvalidContentType); the server is running: leave out --tls-ca to reach it over " +
        "plain TCP, or give the server --tls-cert",
      ],
    ];
    for (const [file, refusal] of refusals) {
      for (const [name, ...args] of [["get", "p"], ["http", "--listen", "127.0.0.1:0"]]) {
        const run = await runKv([name, ...args, "-s", `${dir}/${file}`, ...ca]);
        assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `kv ${name}: ${refusal}\n`]);
      }
    }
    const both = `${dir}/both`;
    await Deno.writeTextFile(both, `localhost ${server.port}\nlocalhost ${expired.port}\n`);
    const listed = await runKv(["servers", "-s", both, ...ca]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(
      listed.stdout.split("\n")[1],
      `localhost:${expired.port}  REFUSED  ${
        refusals[0][1].slice(refusals[0][1].indexOf(" ") + 1)
      }`,
    );

    // The server answers a plain HELLO with a TLS alert: it surely speaks TLS, though the
    // alert does not say whether it is a kv server (tests/cli/not_kv_server_test.ts).
    const tcp = await runKv(["get", ...servers, "p"]);
    assert.deepEqual([tcp.code, tcp.stdout, tcp.stderr], [
      2,
      "",
      `kv get: ${dir}/servers:1:1: localhost:${server.port} speaks TLS (it answered a plain ` +
      "HELLO with a TLS alert); if it is a kv server with TLS (kv server --tls-cert), give " +
      "--tls-ca the CA certificate that signed the servers' certificates; if not, list the kv " +
      "servers' own addresses in the server file\n",
    ]);
    assert.equal((await stopWithin(server)).code, 0);
    assert.equal((await stopWithin(expired)).code, 0);
    assert.equal((await stopWithin(plain)).code, 0);
  },
);

tlsTest(
  "a PEM file cut short is one line naming it, exit 2: as a client's --tls-ca (not a server down), and as a server's --tls-cert",
  async (certs, dir) => {
    const truncated = `${dir}/truncated.pem`;
    await Deno.writeTextFile(truncated, (await Deno.readTextFile(certs.serverPem)).slice(0, 500));
    await Deno.writeTextFile(`${dir}/servers`, "localhost 1\n");
    const line = `${truncated}:1: -----BEGIN CERTIFICATE----- has no -----END CERTIFICATE----- ` +
      "after it (the file is cut short?); give the whole PEM file\n";
    const get = await runKv(["get", "a", "-s", `${dir}/servers`, "--tls-ca", truncated]);
    assert.deepEqual([get.code, get.stdout, get.stderr], [2, "", `kv get: ${line}`]);
    for (const command of [["put", "a: 2"], ["http", "--listen", "127.0.0.1:0"]]) {
      assert.equal(
        await refusalLineOf([...command, "-s", `${dir}/servers`, "--tls-ca", truncated]),
        `kv ${command[0]}: ${line}`,
      );
    }
    assert.equal(
      await refusalLineOf([
        "server",
        "-p",
        "0",
        "--tls-cert",
        truncated,
        "--tls-key",
        certs.serverKey,
      ]),
      `kv server: ${line}`,
    );
  },
);

Deno.test("kv server -a: a text that is no host name says so, not that it lets other machines in", async () => {
  // A name no resolver knows: tests/cli/errors_test.ts.
  for (const address of ["[::1", "a b"]) {
    assert.equal(
      await refusalLineOf(["server", "-p", "0", "-a", address]),
      `kv server: -a '${address}' is not an address or a host name; give an IP address ` +
        "(127.0.0.1, ::1, [::1]) or a host name\n",
    );
  }
  assert.match(
    await refusalLineOf(["server", "-p", "0", "-a", "0.0.0.0"]),
    /^kv server: -a 0\.0\.0\.0 lets other machines connect/,
  );
});
