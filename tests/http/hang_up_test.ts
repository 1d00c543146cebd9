/**
 * `kv http` and clients that hang up: a read is given up, a write is made, and neither counts
 * as a failure of the server's (a PUT cut off in its body: api_test.ts). Real processes: the cluster's server is SIGSTOPped, so only
 * the hang-up can end a read before `--timeout-ms` (ten minutes here).
 */
import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { freeze } from "../helpers/server_process.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

const encoder = new TextEncoder();

/** kv http's `/metrics` lines. */
async function metrics(http: HttpProcess): Promise<string[]> {
  return (await (await fetch(`${http.url}metrics`)).text()).split("\n");
}

/** Whether kv http's `/metrics` has the line `line`. */
async function hasMetric(http: HttpProcess, line: string): Promise<boolean> {
  return (await metrics(http)).includes(line);
}

/**
 * Sends `head` and `body` on a connection of its own, waits until kv http is answering it
 * (one request in flight but the scrape), and closes the connection without reading.
 */
async function hangUp(http: HttpProcess, head: string, body = ""): Promise<void> {
  const url = new URL(http.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    await conn.write(encoder.encode(`${head}\r\nHost: ${url.host}\r\n\r\n${body}`));
    await waitFor(() => hasMetric(http, "kv_http_requests_in_flight 1"), {
      what: `kv http to be answering '${head}'`,
    });
  } finally {
    conn.close();
  }
}

Deno.test("kv http: a read whose client hangs up is given up at once, counted client_closed, not logged", async () => {
  // A value of more than COUNTED_ANSWER_CHARS, and a budget that holds one such answer: an
  // abandoned answer never cancelled would keep a later one of it refused as busy.
  const value = JSON.stringify({ text: "a".repeat(70_000) });
  await using served = await HttpProcess.onCluster(1, [
    "--timeout-ms",
    "600000",
    "--max-answer-bytes",
    "100000",
  ]);
  const { cluster, http } = served;
  const put = await fetch(`${http.url}v1/records/big`, {
    method: "PUT",
    body: value,
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(put.status, 200, await put.text());
  const server = cluster.servers[0];
  server.signal("SIGSTOP");
  try {
    for (
      const [operation, path] of [["get", "v1/records/big"], ["keys", "v1/keys?prefix=b"]]
    ) {
      await hangUp(http, `GET /${path} HTTP/1.1`);
      // The server still stopped: only the hang-up can have ended it.
      await waitFor(
        async () => {
          const lines = await metrics(http);
          return lines.includes("kv_http_requests_in_flight 0") &&
            lines.includes(
              `kv_http_requests_total{operation="${operation}",outcome="client_closed"} 1`,
            );
        },
        { what: `the ${operation} given up as its client hung up` },
      );
    }
  } finally {
    server.signal("SIGCONT");
  }
  // The abandoned reads end now; the answer of the get, never sent, leaves the budget.
  await waitFor(async () => {
    const response = await fetch(`${http.url}v1/records/big`);
    await response.body?.cancel();
    return response.status === 200;
  }, { what: "a read of the large value answered once the abandoned one's answer is let go" });
  const lines = await metrics(http);
  for (const operation of ["get", "keys"]) {
    for (const failure of ["unavailable", "error"]) {
      assert.ok(
        !lines.some((line) =>
          line.startsWith(`kv_http_requests_total{operation="${operation}",outcome="${failure}"}`)
        ),
        `no ${operation} counted ${failure}:\n${lines.join("\n")}`,
      );
    }
  }
  assert.equal(await http.stop(), 0);
  assert.deepEqual(
    // No error logged, nor Deno.serve's warning for a handler that watches request.signal.
    http.stderr.filter((line) => /error|Deno\.serve|request\.signal/i.test(line)),
    [],
  );
});

Deno.test("kv http: a write whose client hangs up once it has sent it is made, and counted by what it did", async () => {
  await using served = await HttpProcess.onCluster(1, ["--timeout-ms", "600000"]);
  const { cluster, http } = served;
  const body = `{"n":1}`;
  const server = cluster.servers[0];
  server.signal("SIGSTOP");
  try {
    await hangUp(
      http,
      `PUT /v1/records/w HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`,
      body,
    );
  } finally {
    server.signal("SIGCONT");
  }
  await waitFor(() => hasMetric(http, `kv_http_requests_total{operation="put",outcome="ok"} 1`), {
    what: "the PUT made after its client hung up",
  });
  const read = await fetch(`${http.url}v1/records/w`);
  assert.deepEqual((await read.json()).value, { n: 1 });
});

Deno.test("kv http: a read given up keeps its place among --max-concurrent-requests until its servers answer", async () => {
  await using served = await HttpProcess.onCluster(1, [
    "--timeout-ms",
    "600000",
    "--max-concurrent-requests",
    "2",
  ]);
  const { cluster, http } = served;
  const server = cluster.servers[0];
  const url = new URL(http.url);
  let waiting: Deno.TcpConn | undefined;
  server.signal("SIGSTOP");
  try {
    await hangUp(http, "GET /v1/records/a HTTP/1.1");
    await waitFor(
      () => hasMetric(http, `kv_http_requests_total{operation="get",outcome="client_closed"} 1`),
      { what: "the get given up" },
    );
    // A second read, whose client waits, takes the other place: none is left while the
    // first one's server requests are under way.
    waiting = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    await waiting.write(encoder.encode(`GET /v1/records/b HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
    await waitFor(async () => {
      const health = await fetch(`${http.url}healthz`);
      const text = await health.text();
      return health.status === 503 && text.includes("busy: 2 requests in flight");
    }, { what: "kv http busy with the read given up and the one waiting" });
  } finally {
    server.signal("SIGCONT");
  }
  await waitFor(async () => {
    const health = await fetch(`${http.url}healthz`);
    await health.body?.cancel();
    return health.status === 200;
  }, { what: "both places freed once the server answers" });
  waiting.close();
});

Deno.test("kv http: /metrics answers while a server is hung (SIGSTOPped), its read_only gauge included: a scrape asks no server", async () => {
  await using served = await HttpProcess.onCluster(2, ["--timeout-ms", "600000"]);
  const { cluster, http } = served;
  const server = cluster.servers[0];
  await freeze(server);
  try {
    // A scrape that asked the hung server (its STATS) would wait out --timeout-ms, ten
    // minutes: the deadline, far shorter, fails it first.
    const lines = await withDeadline(metrics(http), { what: "/metrics with a server hung" });
    assert.ok(lines.includes(`kv_servers{state="read_only"} 0`), lines.join("\n"));
  } finally {
    server.signal("SIGCONT");
  }
});
