// User mistakes through the real program: each is one line on stderr — what, where, what to
// do — with exit code 2, never Deno's own text or advice about its permission flags.
import assert from "node:assert/strict";
import { KvCluster } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { closedPorts, withTempDir } from "../helpers/fixtures.ts";
import { startServerProcess, stopWithin, TEST_KV } from "../helpers/server_process.ts";
import { outputWithin } from "../helpers/wait.ts";

/** kv's modules, lib/: what Deno must let kv read to load a command. */
const LIB_DIR = new URL("../../lib", import.meta.url).pathname;

async function oneLine(args: string[], expected: RegExp): Promise<void> {
  const { code, stdout, stderr } = await runKv(args);
  assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
  assert.equal(stdout, "");
  assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  assert.match(stderr.trimEnd(), expected);
  assert.doesNotMatch(stderr, /os error|--allow|stack| {4}at /);
}

Deno.test("an unreadable server file is one line without the OS's wording", async () => {
  await withTempDir(async (dir) => {
    await oneLine(
      ["broker", "-s", `${dir}/missing.txt`],
      /^kv broker: \S+missing\.txt: cannot read the server file: No such file or directory$/,
    );
    await oneLine(
      ["broker", "-s", dir],
      /^kv broker: \S+: cannot read the server file: it is a directory$/,
    );
  });
});

Deno.test("a server file or key file that is not UTF-8 (UTF-16, a stray byte) is one line at the character's line and column, its controls escaped", async () => {
  await withTempDir(async (dir) => {
    const latin1 = new TextEncoder().encode("# é\n127.0.0.1:76_1\n");
    latin1[latin1.indexOf(0x5f)] = 0xff;
    await Deno.writeFile(`${dir}/servers.txt`, latin1);
    await oneLine(
      ["get", "x", "-s", `${dir}/servers.txt`],
      /^kv get: \S+servers\.txt:2:13: not UTF-8 text \(byte 0xff\); save the server file as UTF-8$/,
    );
    await Deno.writeFile(`${dir}/utf16.txt`, Uint8Array.of(0xff, 0xfe, 0x31, 0x00, 0x0a, 0x00));
    await oneLine(
      ["keys", "-s", `${dir}/utf16.txt`],
      /^kv keys: \S+utf16\.txt:1:1: not UTF-8 text \(byte 0xff\); save the server file as UTF-8$/,
    );
    // A NUL or an escape in a line is quoted escaped: it reached the terminal as it was.
    await Deno.writeTextFile(`${dir}/nul.txt`, "127.0.0.1:7611\0\x1b[2J\n");
    await oneLine(
      ["get", "x", "-s", `${dir}/nul.txt`],
      /^kv get: \S+nul\.txt:1:1: expected 'HOST PORT' or 'HOST:PORT', found '127\.0\.0\.1:7611\\u0000\\u001b\[2J'$/,
    );
    const keys = new TextEncoder().encode("name string\nage _int\n");
    keys[keys.indexOf(0x5f)] = 0xff;
    await Deno.writeFile(`${dir}/keys.txt`, keys);
    await oneLine(
      ["gen", "-k", `${dir}/keys.txt`, "-n", "1", "-o", "-"],
      /^kv gen: \S+keys\.txt:2:5: not UTF-8 text \(byte 0xff\); save the key file as UTF-8$/,
    );
  });
});

Deno.test("a flag's value holding a newline or an escape sequence is quoted escaped: still one line, nothing sent to the terminal", async () => {
  await oneLine(
    ["server", "-p", "80\n80"],
    /^kv server: -p must be a whole number from 0 to 65535, got '80\\u000a80'$/,
  );
  await oneLine(
    ["bench", "-s", "servers.txt", "--workload", "\x1b[2JA"],
    /^kv bench: --workload must be one of A to F, got '\\u001b\[2JA'$/,
  );
});

Deno.test("a port out of range points at the port and says the range", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers.txt`, "# cluster\n  127.0.0.1 99999\n");
    await oneLine(
      ["broker", "-s", `${dir}/servers.txt`],
      /^kv broker: \S+servers\.txt:2:13: port 99999 is out of range; a port is 1 to 65535$/,
    );
  });
});

Deno.test("a negative number for a flag meets the flag's range, not a note about dashes", async () => {
  await oneLine(
    ["gen", "-k", "keyFile.txt", "-n", "-5"],
    /^kv gen: -n must be a whole number from 0 to 1000000000, got '-5'$/,
  );
  await oneLine(
    ["gen", "-k", "keyFile.txt", "--max-nesting", "-1"],
    /^kv gen: -d must be a whole number from 0 to \d+, got '-1'$/,
  );
});

Deno.test("a data dir kv may not use is one line without Deno's permission advice", async () => {
  await oneLine(
    ["server", "-p", "0", "--data-dir", "/proc/nope"],
    /^kv server: cannot open --data-dir \/proc\/nope: /,
  );
});

Deno.test("a server listed twice under two addresses is one line", async () => {
  await using cluster = await KvCluster.start(1);
  const { port } = cluster.servers[0];
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers.txt`, `127.0.0.1 ${port}\nlocalhost:${port}\n`);
    await oneLine(
      ["broker", "-s", `${dir}/servers.txt`],
      /servers\.txt:2:1: localhost:\d+ is the same server as 127\.0\.0\.1:\d+ .*list each server once$/,
    );
  });
});

Deno.test("kv broker -i whose read fails half-way (EIO) is one line naming the file, not an internal error with a stack", async () => {
  await using cluster = await KvCluster.start(1);
  // Reading a process's own memory at offset 0 fails with EIO, as a failing disk's file does;
  // Deno opens /proc only with --allow-all.
  const args = [
    ...["broker", "-s", cluster.serverFile, "-k", "1"],
    ...["-i", "/proc/self/mem", "--index-only"],
  ];
  const { code, stdout, stderr } = await runKv(args, { permissions: ["--allow-all"] });
  assert.deepEqual([code, stdout], [2, ""], stderr);
  assert.equal(
    stderr,
    "kv broker: cannot read /proc/self/mem: Input/output error; the records before the " +
      "failed read may be stored\n",
  );
});

Deno.test("kv http on a port in use or an address this machine lacks: one line naming --listen, and no k recorded on a new cluster", async () => {
  await using cluster = await KvCluster.start(1);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = ["http", "-s", cluster.serverFile, "--listen"];
  await oneLine(
    [...serving, `127.0.0.1:${taken.addr.port}`],
    /^kv http: cannot listen on 127\.0\.0\.1:\d+: address already in use; pick another --listen port$/,
  );
  // A refused run decides no k: it once connected, fixing k=1, before it tried to listen.
  const servers = await runKv(["servers", "-s", cluster.serverFile, "--json"]);
  assert.equal(servers.code, 0, servers.stderr);
  assert.deepEqual(JSON.parse(servers.stdout).servers.map((server: { k: number }) => server.k), [
    0,
  ]);
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no machine has an address in it.
  await oneLine(
    [...serving, "192.0.2.1:0", "--insecure"],
    /^kv http: --listen 192\.0\.2\.1: this machine has no such address; give one of its own \(ip address or ifconfig lists them\)$/,
  );
});

Deno.test("kv http with a tokens file that cannot be read is one line without the OS's wording", async () => {
  await withTempDir(async (dir) => {
    await oneLine(
      ["http", "--tokens-file", `${dir}/missing.txt`],
      /^kv http: \S+missing\.txt: cannot read the tokens file: No such file or directory$/,
    );
  });
});

Deno.test("kv http -k beyond the servers listed names the flag and the file, as kv broker does, not the library's option", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers.txt`, "127.0.0.1 1\n");
    await oneLine(
      ["http", "-s", `${dir}/servers.txt`, "-k", "2", "--listen", "127.0.0.1:0"],
      /^kv http: -k 2 needs at least 2 servers, but \S+servers\.txt lists 1$/,
    );
  });
});

Deno.test("kv server -a with a port says the port is -p's; an IPv6 address may come in brackets", async () => {
  await oneLine(
    ["server", "-a", "127.0.0.1:8000"],
    /^kv server: -a 127\.0\.0\.1:8000 holds a port; give the address alone and the port with -p \(-a 127\.0\.0\.1 -p 8000\)$/,
  );
  await oneLine(
    ["server", "-a", "[::1]:8000"],
    /^kv server: -a \[::1\]:8000 holds a port; .* \(-a ::1 -p 8000\)$/,
  );
  await using server = await startServerProcess(["-a", "[::1]"]);
  assert.match(server.stderrLines.join("\n"), /kv server: listening on \[::1\]:\d+ /);
  assert.equal((await stopWithin(server)).code, 0);
});

Deno.test("kv server -a and kv http --listen with a host name no resolver knows are one line naming the flag, --insecure or not", async () => {
  // .invalid never resolves (RFC 2606).
  for (const insecure of [["--insecure"], []]) {
    await oneLine(
      ["server", "-p", "0", "-a", "example.invalid", ...insecure],
      /^kv server: -a example\.invalid: no such host; give an IP address or a host name this machine resolves$/,
    );
    // Not "lets other machines connect … give --tokens-file", which --insecure then belied.
    await oneLine(
      ["http", "-s", "/nonexistent/servers.txt", "--listen", "example.invalid:80", ...insecure],
      /^kv http: --listen example\.invalid: no such host; give an IP address or a host name this machine resolves$/,
    );
  }
});

Deno.test("kv server -a and kv http --listen with no IP address (999.1.1.1) or one this machine does not have say so, not that it lets other machines in (S35 F4)", async () => {
  // Both asked for --auth-file (--tokens-file) or --insecure first; given --insecure, the
  // listen then failed: "no such host", "address not available". 192.0.2.1 is TEST-NET-1
  // (RFC 5737), which no machine has.
  for (const insecure of [["--insecure"], []]) {
    await oneLine(
      ["server", "-p", "0", "-a", "999.1.1.1", ...insecure],
      /^kv server: -a 999\.1\.1\.1: no such host; give an IP address or a host name this machine resolves$/,
    );
    await oneLine(
      ["server", "-p", "0", "-a", "192.0.2.1", ...insecure],
      /^kv server: -a 192\.0\.2\.1: this machine has no such address; give one of its own \(ip address or ifconfig lists them\)$/,
    );
    await oneLine(
      ["http", "-s", "/nonexistent/servers.txt", "--listen", "999.1.1.1:80", ...insecure],
      /^kv http: --listen 999\.1\.1\.1: no such host; give an IP address or a host name this machine resolves$/,
    );
    await oneLine(
      ["http", "-s", "/nonexistent/servers.txt", "--listen", "192.0.2.1:80", ...insecure],
      /^kv http: --listen 192\.0\.2\.1: this machine has no such address; give one of its own \(ip address or ifconfig lists them\)$/,
    );
  }
});

Deno.test("a TLS file that cannot be read is one line saying which kind of file it is", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers.txt`, `127.0.0.1 ${closedPorts(1)[0]}\n`);
    await oneLine(
      ["get", "x", "-s", `${dir}/servers.txt`, "--tls-ca", `${dir}/ca.pem`],
      /^kv get: \S+ca\.pem: cannot read the certificate file: No such file or directory$/,
    );
    await oneLine(
      ["server", "-p", "0", "--tls-cert", `${dir}/cert.pem`, "--tls-key", `${dir}/key.pem`],
      /^kv server: \S+cert\.pem: cannot read the certificate file: No such file or directory$/,
    );
  });
});

Deno.test("a flag missing its value, or a switch given one, is one line in kv's words, not Node's", async () => {
  await oneLine(["gen", "-k"], /^kv gen: -k, --key-file needs a value \(see 'kv gen --help'\)$/);
  await oneLine(
    ["gen", "-k", "keyFile.txt", "--seed"],
    /^kv gen: --seed needs a value \(see 'kv gen --help'\)$/,
  );
  await oneLine(
    ["get", "x", "--json=1"],
    /^kv get: --json takes no value \(see 'kv get --help'\)$/,
  );
  // An empty value (an unset shell variable) names nothing: refused before any file is read.
  await oneLine(
    ["broker", "-s", ""],
    /^kv broker: -s, --servers needs a value, got an empty one \(see 'kv broker --help'\)$/,
  );
  await oneLine(
    ["gen", "-k", "keyFile.txt", "--output="],
    /^kv gen: -o, --output needs a value, got an empty one \(see 'kv gen --help'\)$/,
  );
});

Deno.test("kv broker with a directory for standard input says so in one line, commands or -i -", async () => {
  await using cluster = await KvCluster.start(1);
  const kv = [...TEST_KV.args].map((arg) => `'${arg}'`).join(" ");
  for (const extra of ["", "-i -"]) {
    const broker = `'${TEST_KV.command}' ${kv} broker -s '${cluster.serverFile}' ${extra}`;
    const child = new Deno.Command("bash", {
      args: ["-c", `${broker} < /`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await outputWithin(child, { what: `kv broker ${extra} < / to exit` });
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, stderr);
    assert.match(stderr, /^kv broker: cannot read standard input: it is a directory$/m);
    assert.doesNotMatch(stderr, /internal error|os error| {4}at /);
  }
});

Deno.test("kv run without --allow-net, --allow-read or --allow-write says so in one line, exit 2: not a server down, not Deno's advice, nor another permission than the one missing, nor how to give another server file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers.txt`, "127.0.0.1 1\n");
    // The default server file (the runs are in `dir`), which a problem of its own follows
    // with how to give another: no help where Deno refused kv a permission.
    await Deno.writeTextFile(`${dir}/serverFile.txt`, "127.0.0.1 1\n");
    const advice = (flag: string) => `run kv with --allow-${flag}, as 'deno install' of kv does\n`;
    // The connection guard (on with --header-timeout-ms) makes a directory for its sockets.
    const guardedHttp = [
      ...["http", "-s", `${dir}/servers.txt`, "--listen", "127.0.0.1:0"],
      ...["--header-timeout-ms", "1000"],
    ];
    const cases = [
      [
        ["--allow-read"],
        ["get", "a", "-s", `${dir}/servers.txt`],
        `kv get: ${dir}/servers.txt:1:1: Deno does not let kv connect to 127.0.0.1:1 (no ` +
        `--allow-net for it); ${advice("net")}`,
      ],
      [
        ["--allow-read"],
        ["get", "a"],
        "kv get: serverFile.txt:1:1: Deno does not let kv connect to 127.0.0.1:1 (no " +
        `--allow-net for it); ${advice("net")}`,
      ],
      [
        ["--allow-read"],
        ["repair"],
        "kv repair: serverFile.txt:1:1: Deno does not let kv connect to 127.0.0.1:1 (no " +
        `--allow-net for it); ${advice("net")}`,
      ],
      [
        ["--allow-net", `--allow-read=${LIB_DIR}`],
        ["get", "a"],
        "kv get: serverFile.txt: cannot read the server file: Deno does not let kv read it " +
        `(no --allow-read for it); ${advice("read")}`,
      ],
      [
        ["--allow-read"],
        ["server", "-p", "0"],
        "kv server: cannot listen on 127.0.0.1:0: Deno does not let kv listen (no --allow-net " +
        `for it); ${advice("net")}`,
      ],
      [
        // kv's own modules readable, the server file not.
        ["--allow-net", `--allow-read=${LIB_DIR}`],
        ["get", "a", "-s", `${dir}/servers.txt`],
        `kv get: ${dir}/servers.txt: cannot read the server file: Deno does not let kv read it ` +
        `(no --allow-read for it); ${advice("read")}`,
      ],
      [
        // lib/cli/run.ts imports the command's module late, which Deno lets only a reader do.
        ["--allow-net"],
        ["get", "a", "-s", `${dir}/servers.txt`],
        `kv get: Deno does not let kv read its modules (no --allow-read for it); ${advice("read")}`,
      ],
      [
        ["--allow-net", "--allow-read"],
        ["server", "-p", "0", "--data-dir", `${dir}/data`],
        `kv server: cannot open --data-dir ${dir}/data: Deno does not let kv write it (no ` +
        `--allow-write for it); ${advice("write")}`,
      ],
      [
        ["--allow-net", "--allow-read"],
        guardedHttp,
        "kv http: cannot listen on 127.0.0.1:0: the connection guard cannot make a directory " +
        "for its sockets in the temporary directory ($TMPDIR, else /tmp): Deno does not let kv " +
        `write it (no --allow-write for it); ${advice("write")}`,
      ],
    ] as const;
    const run = async (permissions: readonly string[], args: readonly string[]) => {
      const { code, stdout, stderr } = await runKv(args, { permissions, cwd: dir });
      return [code, stdout, stderr] as const;
    };
    for (const [permissions, args, expected] of cases) {
      assert.deepEqual(await run(permissions, args), [2, "", expected]);
    }
    // An --allow-net naming hosts leaves out the guard's Unix sockets (in a directory of its
    // own making): the flag is the fix, not another TMPDIR.
    const [code, stdout, stderr] = await run(
      ["--allow-read", "--allow-write", "--allow-net=127.0.0.1"],
      guardedHttp,
    );
    assert.deepEqual([code, stdout], [2, ""], stderr);
    assert.match(
      stderr,
      new RegExp(
        "^kv http: cannot listen on 127\\.0\\.0\\.1:0: the connection guard cannot make a Unix " +
          "socket in \\S+: Deno does not let kv listen on it \\(no --allow-net for Unix " +
          `sockets\\); ${advice("net")}$`,
      ),
    );
  });
});

Deno.test("a long line of a wrong file is quoted cut short: kv get -s dataToIndex.txt, a key file's long word (S35 F7)", async () => {
  await withTempDir(async (dir) => {
    // The records file given for the server file: its first line, 3000 characters, was
    // quoted whole ("found '\"person0\" : { …'"), a screenful for one mistake.
    const record = `"person0" : { "name" : "${"x".repeat(3000)}" }`;
    await Deno.writeTextFile(`${dir}/dataToIndex.txt`, `${record}\n`);
    await oneLine(
      ["get", "x", "-s", `${dir}/dataToIndex.txt`],
      /^kv get: \S+dataToIndex\.txt:1:1: expected 'HOST PORT' or 'HOST:PORT', found '"person0" : \{ "name" : "x+…'$/,
    );
    const serverRun = await runKv(["get", "x", "-s", `${dir}/dataToIndex.txt`]);
    assert.ok(serverRun.stderr.length < 200, `${serverRun.stderr.length} characters`);
    // A key file whose type, name or extra word is a long run of characters.
    const words: [string, RegExp][] = [
      [`name ${"t".repeat(3000)}`, /^kv gen: \S+keys\.txt:1:6: unknown type 't+…'; /],
      [`${"n".repeat(3000)}! string`, /^kv gen: \S+keys\.txt:1:3001: key name 'n+…' contains /],
      [`name string ${"e".repeat(3000)}`, /^kv gen: \S+keys\.txt:1:13: unexpected 'e+…' after /],
    ];
    for (const [line, expected] of words) {
      await Deno.writeTextFile(`${dir}/keys.txt`, `${line}\n`);
      await oneLine(["gen", "-k", `${dir}/keys.txt`, "-o", `${dir}/out.txt`], expected);
      const genRun = await runKv(["gen", "-k", `${dir}/keys.txt`, "-o", `${dir}/out.txt`]);
      assert.ok(
        genRun.stderr.length < 250,
        `${genRun.stderr.length} characters: ${line.slice(0, 20)}`,
      );
    }
  });
});

Deno.test("kv http --listen given a URL, an IPv6 address without brackets or a port alone names the HOST:PORT meant (S35 F17)", async () => {
  const cases: [string, string | undefined][] = [
    ["http://127.0.0.1:9393/", "127.0.0.1:9393"],
    ["::1:9393", "[::1]:9393"],
    ["9393", "127.0.0.1:9393"],
    ["localhost", undefined],
  ];
  for (const [listen, meant] of cases) {
    const hint = meant === undefined
      ? ""
      : `; did you mean --listen ${meant.replace(/[.[\]]/g, "\\$&")}\\?`;
    await oneLine(
      ["http", "-s", "/nonexistent/servers.txt", "--listen", listen],
      new RegExp(
        `^kv http: --listen takes HOST:PORT \\(port 0 to 65535\\), e\\.g\\. 127\\.0\\.0\\.1:8080; got '[^']+'${hint}$`,
      ),
    );
  }
});
