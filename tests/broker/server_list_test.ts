import assert from "node:assert/strict";
import fc from "fast-check";
import { lookup } from "node:dns/promises";
import {
  MAX_SERVERS,
  parseServerList,
  readServerList,
  resolveServers,
  serverAddress,
  ServerFileError,
} from "../../lib/broker/server_list.ts";

Deno.test("parseServerList reads the original 'IP PORT' form", async () => {
  const servers = await readServerList("testdata/compat/serverFile.txt");
  assert.deepEqual(servers.map((server) => server.id), [
    "127.0.0.1:8000",
    "127.0.0.1:8001",
    "127.0.0.1:8002",
    "127.0.0.1:8003",
  ]);
  assert.equal(servers[0].hostname, "127.0.0.1");
  assert.equal(servers[0].port, 8000);
});

Deno.test("parseServerList accepts HOST:PORT, IPv6, comments and blank lines", () => {
  const text = "# cluster\n\nlocalhost:9000\n  [::1]:9001   # v6\n::1 9002\r\n\t10.0.0.1\t9003\n";
  const servers = parseServerList(text, "s.txt");
  assert.deepEqual(servers.map((server) => server.id), [
    "localhost:9000",
    "[::1]:9001",
    "[::1]:9002",
    "10.0.0.1:9003",
  ]);
  assert.equal(servers[1].hostname, "::1");
  assert.equal(servers[1].port, 9001);
});

Deno.test("parseServerList reports a bad line with file, line and column", () => {
  assert.throws(
    () => parseServerList("127.0.0.1 8000\n\n  nonsense here\n", "servers.txt"),
    (error: unknown) => {
      assert(error instanceof ServerFileError);
      assert.equal(
        error.message,
        "servers.txt:3:3: expected 'HOST PORT' or 'HOST:PORT', found 'nonsense here'",
      );
      return true;
    },
  );
});

Deno.test("parseServerList refuses ports out of range", () => {
  for (const line of ["h 0", "h 65536", "h:99999", "h -1", "[::1]:0"]) {
    assert.throws(() => parseServerList(line, "s.txt"), ServerFileError, line);
  }
});

Deno.test("parseServerList refuses duplicates, naming both lines", () => {
  assert.throws(
    () => parseServerList("127.0.0.1 8000\n127.0.0.1:8000\n", "s.txt"),
    (error: unknown) =>
      error instanceof ServerFileError &&
      error.message ===
        "s.txt:2:1: duplicate server 127.0.0.1:8000 (first listed on line 1); list each server once",
  );
});

Deno.test("parseServerList refuses an empty list", () => {
  assert.throws(() => parseServerList("# nothing\n\n", "s.txt"), /s\.txt: lists no servers/);
});

Deno.test("parseServerList refuses more than MAX_SERVERS servers", () => {
  const lines = Array.from({ length: MAX_SERVERS + 1 }, (_, i) => `h${i} 8000`).join("\n");
  assert.throws(() => parseServerList(lines, "s.txt"), /more than 1024 servers/);
});

Deno.test("readServerList turns a missing file into a ServerFileError", async () => {
  await assert.rejects(() => readServerList("/nonexistent/servers.txt"), ServerFileError);
});

Deno.test("readServerList gives every spelling of one address one identity", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "localhost:8000\n127.1 8001\n[::0001]:8002\n");
    const servers = await readServerList(path);
    assert.deepEqual(servers.map((server) => server.identity), [
      "127.0.0.1:8000",
      "127.0.0.1:8001",
      "[::1]:8002",
    ]);
    assert.deepEqual(servers.map((server) => server.id), [
      "localhost:8000",
      "127.1:8001",
      "[::0001]:8002",
    ]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("readServerList refuses two lines that resolve to one server, naming both", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "127.0.0.1 8000\n# alias\n  localhost:8000\n");
    await assert.rejects(
      () => readServerList(path),
      (error: Error) => {
        assert(error instanceof ServerFileError);
        assert.equal(
          error.message,
          `${path}:3:3: localhost:8000 is the same server as 127.0.0.1:8000 (${path}:1:1): ` +
            "both are 127.0.0.1:8000; list each server once",
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(path);
  }
});

/**
 * Whether this machine's resolver answers that a name does not exist (ENOTFOUND): with none
 * answering, every lookup fails EAI_AGAIN, which kv calls the DNS unavailable, not a bad name.
 */
const RESOLVER_ANSWERS = await lookup("no-such-host.invalid").then(
  () => false,
  (error) => error?.code === "ENOTFOUND",
);

Deno.test({
  name: RESOLVER_ANSWERS
    ? "resolveServers names a host that does not resolve"
    : "a host that does not resolve (ignored: no DNS resolver answers here)",
  ignore: !RESOLVER_ANSWERS,
  fn: async () => {
    await assert.rejects(
      () => resolveServers([serverAddress("no-such-host.invalid", 8000)], () => "here:1:1"),
      (error) => {
        assert.ok(error instanceof ServerFileError);
        assert.ok(
          error.message.startsWith("here:1:1: cannot resolve host no-such-host.invalid ("),
          error.message,
        );
        return true;
      },
    );
  },
});

Deno.test("resolveServers gives every IPv4 spelling the address (or the refusal) the system resolver gives", async () => {
  // Canonical dotted quads skip the resolver; every other spelling asks it. Either way the
  // identity must be what getaddrinfo answers, or brokers could place keys differently.
  const octet = fc.integer({ min: 0, max: 255 });
  const spelling = fc.oneof(
    fc.ipV4(),
    fc.tuple(octet, octet, octet, octet).map((parts) => parts.join(".")),
    fc.tuple(octet, octet).map(([a, b]) => `${a}.${b}`),
    fc.tuple(octet, octet, octet, octet).map((parts) =>
      // Octal with a leading zero, as inet_aton reads it: 010 is 8.
      parts.map((part) => `0${part.toString(8)}`).join(".")
    ),
  );
  await fc.assert(
    fc.asyncProperty(spelling, async (hostname) => {
      const expected = await lookup(hostname).then((found) => found.address, () => undefined);
      const servers = [serverAddress(hostname, 8000)];
      if (expected === undefined) {
        await assert.rejects(resolveServers(servers, () => "s.txt:1:1"), ServerFileError);
        return;
      }
      const [server] = await resolveServers(servers, () => "s.txt:1:1");
      assert.equal(server.identity, `${expected}:8000`);
    }),
    { numRuns: 200 },
  );
});
