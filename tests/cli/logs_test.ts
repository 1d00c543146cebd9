// The log lines of kv http and kv broker (README "Logs"): each event with its level, so that
// `grep ' warn: '` finds a server down, and the time first with --log-timestamps, as kv
// server's (whose own lines tests/cli/server_test.ts checks).
import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { waitFor } from "../helpers/wait.ts";

/** What `--log-timestamps` puts first: ISO 8601 in UTC, with milliseconds. */
const TIME = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;

Deno.test("kv http --log-timestamps logs a server down as a warn line and back up as an info line, each led by the time", async () => {
  await using cluster = await KvCluster.start(2);
  await using http = await HttpProcess.start([
    "-s",
    cluster.serverFile,
    "-k",
    "2",
    "--log-timestamps",
  ]);
  const victim = cluster.servers[1];
  await victim.kill();
  const down = new RegExp(`^${TIME} kv http warn: server ${RegExp.escape(victim.id)} is down: `);
  await waitFor(() => http.stderr.some((line) => down.test(line)), {
    what: "kv http to log the server down at warn",
  });
  await victim.restart();
  const back = `kv http: server ${victim.id} is back up`;
  await waitFor(() => http.stderr.some((line) => line.endsWith(` ${back}`)), {
    what: "kv http to log the server back up",
  });
  assert.equal(await http.stop(), 0);
  const lines = http.stderr.filter((line) => line !== "");
  assert.match(lines[0], new RegExp(`^${TIME} kv http: listening on http://127\\.0\\.0\\.1:`));
  assert.match(lines.at(-1)!, new RegExp(`^${TIME} kv http: stopped$`));
  for (const line of lines) assert.match(line, new RegExp(`^${TIME} kv http( warn)?: `));
});

Deno.test("kv broker --log-timestamps logs a server unreachable at start and a piped session's failed commands at warn, each led by the time", async () => {
  await using cluster = await KvCluster.start(2);
  const victim = cluster.servers[1];
  await victim.kill();
  const run = await runKv(
    withBrokerTimeout(["broker", "-s", cluster.serverFile, "-k", "1", "--log-timestamps"]),
    { stdin: "GET a\nFOO\n" },
  );
  assert.equal(run.code, 2, run.stderr);
  const lines = run.stderr.trimEnd().split("\n");
  assert.match(
    lines[0],
    new RegExp(`^${TIME} kv broker warn: server ${RegExp.escape(victim.id)} is unreachable: `),
  );
  assert.match(
    lines.at(-1)!,
    new RegExp(`^${TIME} kv broker warn: of 2 commands, 1 was a mistake`),
  );
  for (const line of lines) assert.match(line, new RegExp(`^${TIME} kv broker( warn)?: `));
});
