/**
 * An open Kv holds the program only while a call awaits its answers: scripts that never
 * close their client end, as with Deno KV's handle (README, Library: `close()`). Each
 * test runs a real script against real server processes; a script that does not end is
 * killed at its deadline, which fails the test.
 */
import assert from "node:assert/strict";
import { KvCluster } from "../helpers/kv_processes.ts";
import { runScript, type ScriptOutcome } from "../helpers/script.ts";

/** How long a script that should end by itself may take. */
const SCRIPT_DEADLINE_MS = 20_000;

/** The request timeout of the script that waits on a stopped server. */
const STOPPED_TIMEOUT_MS = 1000;

const IMPORT = `import { connect } from ${
  JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
};`;

/** Runs a script of `body` (`connect` imported) with `args`; its exit and output. */
function runKvScript(body: string, args: string[]): Promise<ScriptOutcome> {
  return runScript(`${IMPORT}\n${body}`, args, {
    what: "a script that never closes its Kv to end",
    timeoutMs: SCRIPT_DEADLINE_MS,
  });
}

/** A script that writes and reads a key and ends without closing its Kv. */
const PUT_GET_NO_CLOSE = `
const kv = await connect({ servers: Deno.args[0], replicas: 1 });
await kv.put("left-open", { n: 1 });
console.log(JSON.stringify((await kv.get("left-open"))?.value));
`;

Deno.test("a script that never closes its Kv ends once its last call is answered", async () => {
  await using cluster = await KvCluster.start(1);
  const { ok, output } = await runKvScript(PUT_GET_NO_CLOSE, [cluster.serverFile]);
  assert.ok(ok, output);
  assert.match(output, /^\{"n":1\}$/m);
});

Deno.test("a script that never closes its Kv ends while one of its servers is down and retried", async () => {
  await using cluster = await KvCluster.start(2);
  await cluster.servers[1].kill();
  const { ok, output } = await runKvScript(PUT_GET_NO_CLOSE, [cluster.serverFile]);
  assert.ok(ok, output);
  assert.match(output, /^\{"n":1\}$/m);
});

Deno.test("a call in flight keeps a script alive until its timeout error, with nothing awaiting it", async () => {
  await using cluster = await KvCluster.start(1);
  const server = cluster.servers[0];
  // The read is not awaited at the top level (which alone keeps Deno running): once the
  // module has run, only the call in flight can hold the process for the stopped server.
  const body = `
const kv = await connect({ servers: Deno.args[0], replicas: 1, timeoutMs: ${STOPPED_TIMEOUT_MS} });
await kv.put("left-open", { n: 1 });
Deno.kill(Number(Deno.args[1]), "SIGSTOP");
kv.get("left-open").then(
  () => console.log("answered"),
  (error) => console.log("failed: " + error.message),
);
`;
  try {
    const { ok, output } = await runKvScript(body, [cluster.serverFile, String(server.pid)]);
    assert.ok(ok, output);
    assert.match(output, new RegExp(`^failed: .*no answer within ${STOPPED_TIMEOUT_MS} ms`, "m"));
  } finally {
    server.signal("SIGCONT");
  }
});
