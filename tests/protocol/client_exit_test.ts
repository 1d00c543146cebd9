/**
 * A ServerClient's connection holds the process exactly while requests await answers
 * (lib/protocol/client.ts: `#enqueue` refs it, the last answer unrefs it): real scripts
 * against a real server process, killed at their deadline if they do not end.
 */
import assert from "node:assert/strict";
import { startServerProcess } from "../helpers/server_process.ts";
import { runScript } from "../helpers/script.ts";

/** How long a script that should end by itself may take. */
const SCRIPT_DEADLINE_MS = 20_000;

/** The request timeout of the script whose request a stopped server never answers. */
const REQUEST_TIMEOUT_MS = 1000;

const IMPORT = `import { ServerClient } from ${
  JSON.stringify(new URL("../../lib/protocol/client.ts", import.meta.url).href)
};`;

Deno.test("an idle ServerClient left open does not keep its program running", async () => {
  const server = await startServerProcess();
  try {
    const source = `${IMPORT}
const client = await ServerClient.connect({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
await client.ping();
console.log("pinged");
`;
    const { ok, output } = await runScript(source, [String(server.port)], {
      what: "a script with an idle ServerClient to end",
      timeoutMs: SCRIPT_DEADLINE_MS,
    });
    assert.ok(ok, output);
    assert.match(output, /^pinged$/m);
  } finally {
    await server.kill();
  }
});

Deno.test("a request in flight keeps its program running until its timeout, with nothing awaiting it", async () => {
  const server = await startServerProcess();
  try {
    // The GET is not awaited at the top level (which alone keeps Deno running): once the
    // module has run, only the connection can hold the process for the stopped server.
    const source = `${IMPORT}
const client = await ServerClient.connect(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]) },
  { requestTimeoutMs: ${REQUEST_TIMEOUT_MS} },
);
await client.ping();
Deno.kill(Number(Deno.args[1]), "SIGSTOP");
client.get("key").then(
  () => console.log("answered"),
  (error) => console.log("failed: " + error.message),
);
`;
    const { ok, output } = await runScript(source, [String(server.port), String(server.pid)], {
      what: "a script whose request a stopped server never answers to end",
      timeoutMs: SCRIPT_DEADLINE_MS,
    });
    assert.ok(ok, output);
    assert.match(output, new RegExp(`^failed: .*no answer within ${REQUEST_TIMEOUT_MS} ms`, "m"));
  } finally {
    server.signal("SIGCONT");
    await server.kill();
  }
});
