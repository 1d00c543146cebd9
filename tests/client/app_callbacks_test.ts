/**
 * The application's own code the library calls: connect's `log`. A log that throws is the
 * application's bug, reported as an uncaught error is (globalThis's "error" event, as a web
 * event listener's throw is), and never unwinds through the connection's own state.
 */
import assert from "node:assert/strict";
import { KvCluster } from "../helpers/kv_processes.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("a connect log that throws is reported as an uncaught error, and the connection still sees its servers down and back", async () => {
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    reported.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener("error", onError);
  try {
    await using cluster = await KvCluster.start(2);
    const lines: string[] = [];
    await using kv = await cluster.connect({
      replicas: 1,
      log: (line) => {
        lines.push(line);
        throw new Error(`the application's log failed on: ${line}`);
      },
    });
    const [, second] = cluster.servers;
    await second.kill();
    await waitFor(async () => (await kv.servers())[1].up === false, { what: "server 2 seen down" });
    await second.restart();
    await waitFor(async () => (await kv.servers())[1].up, { what: "server 2 seen back up" });
    await waitFor(() => lines.some((line) => line.endsWith(" is back up")), {
      what: "the log told server 2 back up",
    });
    assert.ok(lines.some((line) => line.includes(`server ${second.id} is down`)), lines.join("\n"));
    assert.deepEqual(
      reported.map((error) => (error as Error).message),
      lines.map((line) => `the application's log failed on: ${line}`),
    );
    await kv.put("a", 1);
    assert.equal((await kv.get("a")).value, 1);
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("connect's log tells each server not reached at the start, as kv broker logs it, so that the server's later 'back up' follows a word of it down", async () => {
  await using cluster = await KvCluster.start(2);
  const [, second] = cluster.servers;
  await second.kill();
  const lines: string[] = [];
  await using kv = await cluster.connect({ replicas: 2, log: (line) => lines.push(line) });
  const [unreachable, fewer, ...rest] = lines;
  assert.match(unreachable, new RegExp(`^server ${second.id} is unreachable: cannot connect to `));
  assert.equal(fewer, "only 1 of 2 servers are reachable (k=2); some answers will carry warnings");
  assert.deepEqual(rest, []);
  await second.restart();
  await waitFor(() => lines.includes(`server ${second.id} is back up`), {
    what: "the log told server 2 back up",
  });
  await kv.put("a", 1);
});
