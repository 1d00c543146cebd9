// A server file line giving an HTTP server's address (kv http's port, say) is the user's
// mistake, as credentials every server refuses are: with no server usable, one line naming
// the line, exit 2 — not a server to start and retry (exit 3); among servers that answer,
// the line is named as no kv server, not as down.
import assert from "node:assert/strict";
import { withBrokerTimeout } from "../helpers/kv_processes.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { CLIENT_COMMANDS, runKv } from "../helpers/run_kv.ts";
import { withTempDir } from "../helpers/fixtures.ts";

Deno.test("a server file naming kv http's port is one line naming its file:line:col, exit 2, for kv get, put, keys, servers, broker, repair, bench and http", async () => {
  await using served = await HttpProcess.onCluster(1, ["-k", "1"]);
  const web = new URL(served.http.url).host;
  await withTempDir(async (dir) => {
    const file = `${dir}/web.txt`;
    await Deno.writeTextFile(file, `# kv http's port by mistake\n${web}\n`);
    for (const [command, ...args] of CLIENT_COMMANDS) {
      const run = await runKv(withBrokerTimeout([command, "-s", file, ...args]), { stdin: "" });
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      assert.equal(
        run.stderr,
        `kv ${command}: ${file}:2:1: ${web} is no kv server (it answered in HTTP; kv http's ` +
          "port?); list the kv servers' own addresses in the server file\n",
      );
      assert.equal(run.stdout, "");
    }
  });
});

Deno.test("a server file naming kv http's port among kv servers that answer names that line as no kv server, not as down, and kv servers exits 0", async () => {
  await using served = await HttpProcess.onCluster(1, ["-k", "1"]);
  const web = new URL(served.http.url).host;
  const kvServer = served.cluster.servers[0].address;
  await withTempDir(async (dir) => {
    const file = `${dir}/mixed.txt`;
    await Deno.writeTextFile(file, `${kvServer.hostname} ${kvServer.port}\n${web}\n`);
    const run = await runKv(withBrokerTimeout(["servers", "-s", file]), { stdin: "" });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.match(lines[0], /^127\.0\.0\.1:\d+ +up /);
    assert.equal(
      lines[1],
      `${web}  REFUSED  is no kv server (it answered in HTTP; kv http's port?); list the kv ` +
        "servers' own addresses in the server file",
    );
  });
});
