import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { serverTlsFlags, tlsTest } from "../helpers/tls_certs.ts";
import { closedPorts, withTempDir } from "../helpers/fixtures.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { TEST_KV } from "../helpers/server_process.ts";

const TOKEN = "0123456789abcdef0123456789abcdef";

Deno.test("kv http --tokens-file: the API needs a listed bearer token; the console and /healthz do not", async () => {
  await using cluster = await KvCluster.start(1);
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, `# kv http tokens\n${TOKEN}\n`);
  try {
    await using http = await HttpProcess.start(["-s", cluster.serverFile, "--tokens-file", tokens]);
    const ask = async (path: string, authorization?: string) => {
      const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
      const response = await fetch(`${http.url}${path}`, { headers });
      await response.body?.cancel();
      return response;
    };
    const refused = await ask("v1/servers");
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("WWW-Authenticate"), `Bearer realm="kv"`);
    assert.equal((await ask("v1/records/a", `Bearer ${TOKEN}x`)).status, 401);
    assert.equal((await ask("metrics", `Basic ${TOKEN}`)).status, 401);
    assert.equal((await ask("v1/servers", `Bearer ${TOKEN}`)).status, 200);
    assert.equal((await ask("v1/records/a", `bearer ${TOKEN}`)).status, 404);
    assert.equal((await ask("")).status, 200);
    assert.equal((await ask("console.js")).status, 200);
    assert.equal((await ask("healthz")).status, 200);
  } finally {
    await Deno.remove(tokens);
  }
});

Deno.test("kv http --tokens-file: a wrong bearer token is told it is wrong (RFC 6750 invalid_token), not to send the header it sent; no header, or another scheme, is told what to send; none quotes the header back", async () => {
  await using cluster = await KvCluster.start(1);
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, `${TOKEN}\n`);
  try {
    await using http = await HttpProcess.start(["-s", cluster.serverFile, "--tokens-file", tokens]);
    const refusal = async (authorization?: string) => {
      const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
      const response = await fetch(`${http.url}v1/records/a`, { headers });
      const { error } = await response.json();
      assert.equal(response.status, 401, authorization);
      return { error, challenge: response.headers.get("WWW-Authenticate") };
    };
    const needs = "this server needs 'Authorization: Bearer <token>'";
    assert.deepEqual(await refusal(), { error: needs, challenge: `Bearer realm="kv"` });
    assert.deepEqual(await refusal("Bearer"), { error: needs, challenge: `Bearer realm="kv"` });
    // RFC 6750 3.1: no error code for a request without bearer credentials.
    assert.deepEqual(await refusal(`Basic ${TOKEN}`), {
      error: `${needs}; the request's Authorization is of another scheme`,
      challenge: `Bearer realm="kv"`,
    });
    const invalid = {
      error: "the bearer token is not one of this server's (kv http --tokens-file); check it, " +
        "or ask for a current one",
      challenge: `Bearer realm="kv", error="invalid_token", ` +
        `error_description="the token is not one of this server's"`,
    };
    // Any token not listed, whether close to one listed or not, gets the same answer.
    for (const wrong of [`${TOKEN}x`, TOKEN.slice(1), "wrongtokenwrongtoken", "a b"]) {
      assert.deepEqual(await refusal(`Bearer ${wrong}`), invalid, wrong);
    }
    // A token sent without its scheme is not echoed back.
    assert.doesNotMatch((await refusal(TOKEN)).error, new RegExp(TOKEN));
  } finally {
    await Deno.remove(tokens);
  }
});

/** The answer to a GET of `path` sent with `Host: host` (fetch cannot set Host): its code and body. */
async function getWithHost(
  url: string,
  path: string,
  host: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const text = await withDeadline(new Response(conn.readable).text(), {
      what: `the answer to GET ${path} with Host ${host}`,
      onTimeout: () => conn.close(),
    });
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body };
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** The status line's code of a GET of `path` sent with `Host: host`. */
async function statusWithHost(url: string, path: string, host: string): Promise<number> {
  return (await getWithHost(url, path, host)).status;
}

Deno.test("kv http logs a request refused for a bearer token not listed, naming the client's address, with and without the guard; one with no token (the console's first) is not logged", async () => {
  await using cluster = await KvCluster.start(1);
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, `${TOKEN}\n`);
  try {
    for (const guard of [[], ["--header-timeout-ms", "0"]]) {
      const flags = ["-s", cluster.serverFile, "--tokens-file", tokens, ...guard];
      await using http = await HttpProcess.start(flags);
      for (const authorization of [undefined, `Basic ${TOKEN}`, "Bearer guessedguessedguessed"]) {
        const headers: Record<string, string> = authorization
          ? { Authorization: authorization }
          : {};
        const response = await fetch(`${http.url}v1/keys`, { headers });
        assert.equal(response.status, 401);
        await response.body?.cancel();
      }
      // Guessing was seen only in /metrics: a refused token, the one sign of it, is logged
      // as kv server logs a refused secret (once a second per address at most).
      await waitFor(() => http.stderr.some((line) => line.includes("refused")), {
        what: "kv http to log the refused token",
      });
      // In order: the two requests without a bearer token before it wrote nothing.
      const refusals = http.stderr.filter((line) => line.includes("refused"));
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^kv http warn: refused 127\.0\.0\.1:\d+: a bearer token not in --tokens-file$/,
      );
      assert.doesNotMatch(http.stderr.join("\n"), /guessed|0123456789abcdef/);
    }
  } finally {
    await Deno.remove(tokens);
  }
});

Deno.test("kv http on loopback without --tokens-file serves only requests addressed to loopback: a page rebinding its own name to 127.0.0.1 is refused", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { cluster } = served;
  // Behind the guard (the default) and without it alike: behind it the URL's host was
  // opaque (http+unix:), kept as sent, so LOCALHOST and 127.1 were refused there alone.
  await using unguarded = await HttpProcess.start([
    "-s",
    cluster.serverFile,
    "--header-timeout-ms",
    "0",
  ]);
  for (const http of [served.http, unguarded]) {
    const port = new URL(http.url).port;
    const loopback = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      "LOCALHOST",
      "127.1",
      `[::1]:${port}`,
    ];
    for (const host of loopback) {
      assert.equal(await statusWithHost(http.url, "/v1/records/a", host), 404, host);
    }
    for (const host of [`attacker.example:${port}`, `localhost.attacker.example`, "10.0.0.5"]) {
      assert.equal(await statusWithHost(http.url, "/v1/records/a", host), 403, host);
      assert.equal(await statusWithHost(http.url, "/", host), 403, host);
    }
  }
  // With tokens, a token is the proof a page cannot forge: any name is served.
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, `${TOKEN}\n`);
  try {
    await using guarded = await HttpProcess.start([
      "-s",
      cluster.serverFile,
      "--tokens-file",
      tokens,
    ]);
    assert.equal(await statusWithHost(guarded.url, "/healthz", "attacker.example"), 200);
  } finally {
    await Deno.remove(tokens);
  }
});

Deno.test("kv http answers a malformed Host header 400 naming it, counted as a client error, with nothing in its log; with --tokens-file too, before the token", async () => {
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, `${TOKEN}\n`);
  try {
    await using served = await HttpProcess.onCluster(1, ["--tokens-file", tokens]);
    const { http } = served;
    const port = new URL(http.url).port;
    const bad = [`127.0.0.1:${port}, evil.com`, "a b", "x:y:z", "127.0.0.1:99999", "[::1", "%", ""];
    for (const host of [...bad, "localhost:abc", "a/b"]) {
      const { status, body } = await getWithHost(http.url, "/v1/keys", host);
      assert.deepEqual([status, JSON.parse(body)], [400, { error: `bad Host header '${host}'` }]);
    }
    const long = "a ".repeat(200);
    const { body } = await getWithHost(http.url, "/healthz", long);
    assert.equal(JSON.parse(body).error, `bad Host header '${long.slice(0, 100)}…'`);
    // A well-formed name is served as before: here, a token is what it lacks.
    assert.equal(await statusWithHost(http.url, "/v1/keys", `localhost:${port}`), 401);
    const metrics = await fetch(`${http.url}metrics`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    assert.match(
      await metrics.text(),
      /^kv_http_requests_total\{operation="other",outcome="bad_request"\} 10$/m,
    );
    assert.deepEqual(http.stderr.filter((line) => /error| {4}at /.test(line)), []);
  } finally {
    await Deno.remove(tokens);
  }
});

Deno.test("kv http on an address other than loopback without --tokens-file refuses to start, unless --insecure; then it serves requests addressed to an IP address or localhost only, refusing a page rebinding its own name", async () => {
  await using cluster = await KvCluster.start(1);
  const run = await runKv(["http", "-s", cluster.serverFile, "--listen", "0.0.0.0:0"]);
  assert.equal(run.code, 2);
  assert.equal(
    run.stderr,
    "kv http: --listen 0.0.0.0:0 lets other machines connect, and without --tokens-file anyone " +
      "could read and delete every record; give --tokens-file, or --insecure to accept that\n",
  );
  await using http = await HttpProcess.start([
    "-s",
    cluster.serverFile,
    "--listen",
    "0.0.0.0:0",
    "--insecure",
  ]);
  const response = await fetch(`${http.url}healthz`);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  // --insecure lets other machines in, not every web page their browsers open: a page that
  // points a name of its own at this machine (DNS rebinding) read and deleted every record.
  // A page can send no Host but its own name; one with an address or localhost is this one's.
  const port = new URL(http.url).port;
  for (const host of [`10.0.0.5:${port}`, "127.0.0.1", `[::1]:${port}`, "localhost"]) {
    assert.equal(await statusWithHost(http.url, "/v1/records/a", host), 404, host);
  }
  for (const host of [`attacker.example:${port}`, "kvbox"]) {
    const { status, body } = await getWithHost(http.url, "/v1/records/a", host);
    assert.equal(status, 403, host);
    assert.equal(
      JSON.parse(body).error,
      `this kv http serves requests addressed to an IP address or localhost only, not '${host}': ` +
        "a web page can point another name at this machine; give kv http --tokens-file to " +
        "serve other names",
    );
  }
});

Deno.test("kv http refuses a tokens file with a short token, in one line", async () => {
  const tokens = await Deno.makeTempFile();
  await Deno.writeTextFile(tokens, "\nshort\n");
  try {
    const run = await runKv(["http", "--tokens-file", tokens, "-s", tokens]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^kv http: .*:2:1: a token is at least 16 characters/);
    assert.equal(run.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(tokens);
  }
});

tlsTest(
  "kv http --tls-cert/--tls-key serves HTTPS that a client trusting the CA can use",
  async (certs) => {
    await using served = await HttpProcess.onCluster(1, serverTlsFlags(certs));
    const { http } = served;
    assert.match(http.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certs.caPem)] });
    const response = await fetch(`${http.url}healthz`, { client });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).healthy, true);
    assert.doesNotMatch(http.stderr.join("\n"), /warn/);
    // An expired certificate is served (one may expire while kv http runs), but said.
    await using expired = await HttpProcess.onCluster(1, [
      "--tls-cert",
      certs.expiredPem,
      "--tls-key",
      certs.serverKey,
    ]);
    assert.match(
      expired.http.stderr.join("\n"),
      new RegExp(
        `^kv http warn: --tls-cert ${certs.expiredPem}: its certificate expired on ` +
          "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; clients refuse it: give a valid one$",
        "m",
      ),
    );
  },
);

Deno.test("kv http's answers forbid framing and MIME sniffing: the console page (whose forms PUT and DELETE) may be framed by no site and loads only its own files", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  for (const path of ["", "console.js", "v1/records/a", "v1/servers", "nope"]) {
    const response = await fetch(`${http.url}${path}`);
    await response.body?.cancel();
    assertNoFramingNoSniffing(
      response.headers,
      path === "" || path === "console.js" ? /^default-src 'self'/ : /^default-src 'none'/,
      path,
    );
  }
});

/** That `headers` forbid framing and MIME sniffing, with a policy matching `policy`. */
function assertNoFramingNoSniffing(headers: Headers, policy: RegExp, what: string): void {
  assert.equal(headers.get("X-Frame-Options"), "DENY", what);
  assert.equal(headers.get("X-Content-Type-Options"), "nosniff", what);
  const sent = headers.get("Content-Security-Policy") ?? "";
  assert.match(sent, /(^|; )frame-ancestors 'none'(;|$)/, what);
  assert.match(sent, policy, what);
}

Deno.test("kv http's 503 while it connects to the servers (it listens first) carries the headers every other answer does", async () => {
  // A server that takes the connection and never answers HELLO holds kv http, given no -k,
  // connecting for its --timeout-ms: long enough to be asked.
  using hung = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [port] = closedPorts(1);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${hung.addr.port}\n`);
    const child = new Deno.Command(TEST_KV.command, {
      args: [
        ...TEST_KV.args,
        ...["http", "-s", `${dir}/servers`, "--listen", `127.0.0.1:${port}`],
        ...["--timeout-ms", "60000"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let starting: Response | undefined;
      await waitFor(async () => {
        try {
          starting = await fetch(`http://127.0.0.1:${port}/v1/records/a`);
          return true;
        } catch (error) {
          if (error instanceof TypeError) return false; // not listening yet: refused
          throw error;
        }
      }, { what: "kv http to listen" });
      assert.ok(starting !== undefined);
      assert.equal(starting.status, 503);
      assert.deepEqual(await starting.json(), {
        error: "starting: not yet connected to the servers",
      });
      assert.equal(starting.headers.get("Retry-After"), "1");
      assert.equal(starting.headers.get("Cache-Control"), "no-store");
      assertNoFramingNoSniffing(starting.headers, /^default-src 'none'/, "starting");
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  });
});
