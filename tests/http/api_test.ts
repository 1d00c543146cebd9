import assert from "node:assert/strict";
import fc from "fast-check";
import { BROKER_TIMEOUT_MS, KvCluster } from "../helpers/kv_processes.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { connectClient } from "../helpers/client.ts";
import { serverAddress } from "../../lib/broker/server_list.ts";
import { int } from "../../lib/record/value.ts";
import { at } from "../helpers/versions.ts";
import { HttpApi } from "../../lib/http/api.ts";
import { coreOf } from "../../lib/client/kv.ts";

async function call(
  http: HttpProcess,
  method: string,
  path: string,
  body?: string,
  type = "application/json",
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${http.url}${path}`, {
    method,
    body,
    headers: body === undefined ? {} : { "Content-Type": type },
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

Deno.test("kv http: records, queries, keys and servers over real sockets", async () => {
  await using served = await HttpProcess.onCluster(3, ["-k", "2"]);
  const { http } = served;
  const put = await call(http, "PUT", "v1/records/person1", `{"name":"Mary","h":2.0,"a":{"b":1}}`);
  assert.equal(put.status, 200, put.text);
  const { version } = JSON.parse(put.text);
  assert.equal(put.text, `{"key":"person1","version":"${version}"}`);
  assert.match(version, /^[0-9a-f]{24}$/);
  const get = await call(http, "GET", "v1/records/person1");
  assert.equal(get.status, 200);
  assert.equal(
    get.text,
    `{"key":"person1","value":{"name":"Mary","h":2.0,"a":{"b":1}},"version":"${version}"}`,
  );
  const query = await call(http, "GET", "v1/records/person1/a/b");
  assert.deepEqual([query.status, JSON.parse(query.text)], [200, {
    key: "person1",
    value: 1,
    version,
    path: ["person1", "a", "b"],
  }]);
  const again = await call(http, "PUT", "v1/records/person1", `{"name":"Ann","a":{"b":2}}`);
  const newer = JSON.parse(again.text).version;
  assert.ok(newer > version, `${newer} after ${version}`);
  assert.equal(JSON.parse((await call(http, "GET", "v1/records/person1")).text).version, newer);
  assert.equal(JSON.parse((await call(http, "GET", "v1/records/person1/a/b")).text).version, newer);
  const line = await call(http, "PUT", "v1/records/p%202", `"p 2": { "x" : 1.5 }`, "text/plain");
  assert.equal(line.status, 200, line.text);
  assert.equal(
    (await call(http, "GET", "v1/records/p%202")).text,
    `{"key":"p 2","value":{"x":1.5},"version":"${JSON.parse(line.text).version}"}`,
  );
  const missing = await call(http, "GET", "v1/records/nobody");
  assert.deepEqual([missing.status, missing.text], [
    404,
    `{"key":"nobody","value":null,"version":null}`,
  ]);
  // A 404 is kept by HTTP caches unless told otherwise: a PUT a moment later would not show.
  for (const answer of [get, missing, query]) {
    assert.equal(answer.headers.get("Cache-Control"), "no-store");
  }
  assert.equal((await call(http, "GET", "v1/records/person1/zzz")).status, 404);
  // A query's 404 says which: no record, a field missing (with the nearest), a leaf in the way.
  const misses: [string, string][] = [
    ["v1/records/nobody/a", `"missing":{"reason":"no-record"}`],
    [
      "v1/records/person1/nmae",
      `"missing":{"reason":"no-field","path":["person1","nmae"],"closest":"name"}`,
    ],
    [
      "v1/records/person1/a/b/c",
      `"missing":{"reason":"not-object","path":["person1","a","b"],"value":2}`,
    ],
  ];
  for (const [path, missed] of misses) {
    const answer = await call(http, "GET", path);
    const segments = path.split("/").slice(2);
    assert.deepEqual([answer.status, answer.text], [
      404,
      `{"key":"${segments[0]}","value":null,"version":null,"path":${JSON.stringify(segments)},` +
      `${missed}}`,
    ]);
  }
  const keys = await call(http, "GET", "v1/keys?prefix=p&limit=1");
  assert.deepEqual(JSON.parse(keys.text), { keys: ["p 2"], more: true });
  const next = await call(
    http,
    "GET",
    `v1/keys?prefix=p&limit=1&after=${encodeURIComponent("p 2")}`,
  );
  assert.deepEqual(JSON.parse(next.text), { keys: ["person1"], more: false });
  // '+' is a space in a query, as forms and URLSearchParams read it.
  const spaced = await call(http, "GET", "v1/keys?prefix=p+");
  assert.deepEqual(JSON.parse(spaced.text), { keys: ["p 2"], more: false });
  const servers = JSON.parse((await call(http, "GET", "v1/servers")).text);
  assert.deepEqual(servers.servers.map((s: { up: boolean }) => s.up), [true, true, true]);
  // A new, empty cluster is in order from the start, and nothing was hinted.
  for (const server of servers.servers) {
    assert.deepEqual([server.repaired, server.hints], [true, 0]);
  }
  const health = await call(http, "GET", "healthz");
  assert.deepEqual([health.status, JSON.parse(health.text)], [200, {
    healthy: true,
    up: 3,
    unrepaired: 0,
    servers: 3,
    replicas: 2,
  }]);
  const deleted = await call(http, "DELETE", "v1/records/person1");
  const tombstone = JSON.parse(deleted.text).version;
  assert.ok(tombstone > newer, `the delete's version ${tombstone} after ${newer}`);
  assert.deepEqual([deleted.status, JSON.parse(deleted.text)], [200, {
    key: "person1",
    deleted: true,
    version: tombstone,
  }]);
  assert.equal((await call(http, "DELETE", "v1/records/person1")).status, 404);
  const openapi = JSON.parse((await call(http, "GET", "v1/openapi.json")).text);
  assert.equal(openapi.openapi, "3.0.3");
  assert.ok("/v1/records/{key}" in openapi.paths);
  const { Entry, PutResult } = openapi.components.schemas;
  assert.match(version, new RegExp(Entry.properties.version.pattern));
  assert.deepEqual([Entry.properties.version.nullable, PutResult.required], [true, [
    "key",
    "version",
  ]]);
  // Every operation the document lists answers a URL over --max-path-bytes with a 414 it lists.
  for (const [template, operations] of Object.entries(openapi.paths)) {
    const path = template.slice(1).replace("{key}", "person2").replace("{fields}", "street");
    for (const [method, operation] of Object.entries(operations as object)) {
      if (method === "parameters") continue;
      const long = `${path}?pad=${"x".repeat(17_000)}`;
      const status = method === "trace"
        ? await rawStatus(http, "TRACE", `/${long}`)
        : (await call(http, method.toUpperCase(), long)).status;
      assert.equal(status, 414, `${method} ${path}`);
      assert.ok("414" in operation.responses, `${method} ${template} lists 414`);
    }
  }
  // A ?replicas=true answer holds what the document's Replicas schema says, and no more.
  const { Replicas } = openapi.components.schemas;
  const replicas = JSON.parse((await call(http, "GET", "v1/records/p%202?replicas=true")).text);
  assert.deepEqual(Object.keys(replicas).sort(), [...Replicas.required].sort());
  const item = Replicas.properties.replicas.items;
  for (const copy of replicas.replicas) {
    assert.ok(item.required.every((name: string) => name in copy), JSON.stringify(copy));
    assert.ok(Object.keys(copy).every((name) => name in item.properties), JSON.stringify(copy));
    assert.ok(item.properties.state.enum.includes(copy.state), copy.state);
  }
  const get200 = openapi.paths["/v1/records/{key}"].get.responses["200"];
  assert.deepEqual(get200.content["application/json"].schema.oneOf, [
    { $ref: "#/components/schemas/Entry" },
    { $ref: "#/components/schemas/Replicas" },
  ]);
  const page = await call(http, "GET", "");
  assert.match(page.headers.get("Content-Type") ?? "", /^text\/html/);
  assert.match(page.text, /<title>kv console<\/title>/);
  assert.equal(await http.stop(), 0);
});

Deno.test("kv http: mistakes are 400, 404, 405, 413 and 414 with a reason, a query parameter given twice among them", async () => {
  await using served = await HttpProcess.onCluster(1, [
    "--max-body-bytes",
    "100",
    "--max-path-bytes",
    "200",
  ]);
  const { http } = served;
  const cases: [string, string, string | undefined, string, number, RegExp][] = [
    ["GET", "v1/records/a.b", undefined, "", 400, /key 'a\.b' contains '\.'/],
    ["PUT", "v1/records/a", "{bad", "application/json", 400, /not JSON/],
    ["PUT", "v1/records/a", "[1]", "application/json", 400, /value is an array/],
    // In JSON's words: no Float, the library's class, which an HTTP client never meets.
    [
      "PUT",
      "v1/records/a",
      `{"x":null}`,
      "application/json",
      400,
      /^value\.x is null; kv stores strings, numbers and objects \(no null, true, false or arrays\): leave the field out for none$/,
    ],
    // An int, by the JSON rule (no '.' or exponent), that kv cannot hold exactly: refused as
    // the record line refuses it, not stored as a float with other digits.
    ["PUT", "v1/records/a", "12345678901234567890", "application/json", 400, /integer out of/],
    ["PUT", "v1/records/a", `{"n":-9007199254740992}`, "application/json", 400, /2\^53 - 1/],
    // A float past the largest double: JSON.parse makes it Infinity, which no value holds.
    [
      "PUT",
      "v1/records/a",
      `{"f":1.5e400}`,
      "application/json",
      400,
      /^number out of range: 1\.5e400 \(a float is at most 1\.7976931348623157e\+308 in size\)$/,
    ],
    ["PUT", "v1/records/a", "b: 1", "text/plain", 400, /key 'b' is not the URL's 'a'/],
    // JSON.parse keeps the last of two; a record line refuses them, and so does a JSON body.
    ["PUT", "v1/records/a", `{"a":1,"a":2}`, "application/json", 400, /names field "a" twice/],
    ["PUT", "v1/records/a", `{"x":{"ab":1,"a\\u0062":2}}`, "application/json", 400, /"ab" twice/],
    ["PUT", "v1/records/a", "a: {", "text/plain", 400, /record line, column 5/],
    ["PUT", "v1/records/a", "x".repeat(101), "text/plain", 413, /over 100/],
    ["GET", `v1/records/${"x".repeat(300)}`, undefined, "", 414, /over 200/],
    ["GET", "v1/keys?limit=0", undefined, "", 400, /limit must be/],
    // A parameter's value or name not taken is refused, not a plain GET.
    [
      "GET",
      "v1/records/a?replicas=yes",
      undefined,
      "",
      400,
      /^replicas takes true or false, got 'yes'$/,
    ],
    [
      "GET",
      "v1/records/a?replicas=1",
      undefined,
      "",
      400,
      /^replicas takes true or false, got '1'$/,
    ],
    [
      "GET",
      "v1/records/a?replica=true",
      undefined,
      "",
      400,
      /^unknown query parameter 'replica': GET \/v1\/records\/\{key\} takes only replicas$/,
    ],
    [
      "DELETE",
      "v1/records/a?replicas=true",
      undefined,
      "",
      400,
      /'replicas': DELETE \/v1\/records\/\{key\} takes none$/,
    ],
    [
      "GET",
      "v1/keys?limt=3",
      undefined,
      "",
      400,
      /'limt': GET \/v1\/keys takes only prefix, limit, after$/,
    ],
    ["GET", "healthz?verbose=1", undefined, "", 400, /'verbose': GET \/healthz takes none$/],
    // Given twice, a parameter's first value was taken and the second ignored: a replicas view
    // for ?replicas=true&replicas=false, a page of 2 for ?limit=2&limit=5.
    [
      "GET",
      "v1/records/a?replicas=true&replicas=false",
      undefined,
      "",
      400,
      /^query parameter 'replicas' given 2 times: GET \/v1\/records\/\{key\} takes it once$/,
    ],
    ["GET", "v1/keys?limit=2&limit=5", undefined, "", 400, /^query parameter 'limit' given 2/],
    ["GET", "v1/records/%E0", undefined, "", 400, /bad percent-encoding/],
    // A query value is decoded as strictly as the path: URLSearchParams took %FF as U+FFFD.
    ["GET", "v1/keys?prefix=%FF", undefined, "", 400, /^bad percent-encoding in '%FF'$/],
    ["GET", "v1/keys?after=%E0%A4", undefined, "", 400, /^bad percent-encoding in '%E0%A4'$/],
    // The client said which charset it sent: that one is refused, not its bytes as bad UTF-8.
    [
      "PUT",
      "v1/records/a",
      "a: 1",
      "text/plain; charset=iso-8859-1",
      400,
      /^charset=iso-8859-1 is not supported; send UTF-8$/,
    ],
    ["GET", "v2/nothing", undefined, "", 404, /no route/],
    ["POST", "v1/keys", "x", "text/plain", 405, /use GET/],
  ];
  for (const [method, path, body, type, status, message] of cases) {
    const answer = await call(http, method, path, body, type);
    assert.equal(answer.status, status, `${method} ${path}: ${answer.text}`);
    assert.match(JSON.parse(answer.text).error, message);
  }
});

Deno.test("kv http: HEAD answers as GET does, without the body; a wrong method's Allow lists HEAD", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  assert.equal((await call(http, "PUT", "v1/records/person1", `{"age":22}`)).status, 200);
  const heads: [string, number, string][] = [
    ["healthz", 200, "application/json"],
    ["v1/records/person1", 200, "application/json"],
    ["v1/records/person1/age", 200, "application/json"],
    ["v1/records/nobody", 404, "application/json"],
    ["v1/keys", 200, "application/json"],
    ["metrics", 200, "text/plain; version=0.0.4; charset=utf-8"],
    ["", 200, "text/html; charset=utf-8"],
  ];
  for (const [path, status, type] of heads) {
    const head = await call(http, "HEAD", path);
    assert.deepEqual([head.status, head.headers.get("Content-Type"), head.text], [
      status,
      type,
      "",
    ]);
  }
  const patch = await call(http, "PATCH", "v1/records/person1", "{}");
  assert.deepEqual([patch.status, patch.headers.get("Allow")], [405, "GET, HEAD, PUT, DELETE"]);
  const post = await call(http, "POST", "healthz", "{}");
  assert.deepEqual([post.status, post.headers.get("Allow")], [405, "GET, HEAD"]);
});

Deno.test("kv http: a client that goes away in the middle of its body is counted client_closed, not bad_request nor an internal error with a stack in the log", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const { hostname, port } = new URL(http.url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  await connection.write(new TextEncoder().encode(
    "PUT /v1/records/person1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
      'Content-Length: 1000\r\n\r\n{"age":',
  ));
  connection.close();
  const outcomes = async () =>
    (await call(http, "GET", "metrics")).text.split("\n")
      .filter((line) => line.startsWith(`kv_http_requests_total{operation="put"`));
  await waitFor(async () => (await outcomes()).length > 0, { what: "the PUT to be counted" });
  assert.deepEqual(await outcomes(), [
    `kv_http_requests_total{operation="put",outcome="client_closed"} 1`,
  ]);
  assert.deepEqual(http.stderr.filter((line) => /internal error|^\s+at /.test(line)), []);
  assert.equal((await call(http, "GET", "v1/records/person1")).status, 404);
});

Deno.test("kv http: a JSON body nested past what the stack can parse is a 400 naming the depth limit, not a 500", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const depth = 200_000;
  for (const body of ['{"a":'.repeat(depth) + "1" + "}".repeat(depth), "[".repeat(depth)]) {
    const put = await call(http, "PUT", "v1/records/deep", body);
    assert.deepEqual([put.status, JSON.parse(put.text).error], [
      400,
      "the body nests deeper than 64 levels (MAX_NESTING_DEPTH)",
    ]);
  }
  // Brackets and escaped quotes inside strings are no nesting.
  const text = `[{"\\`.repeat(100) + `\\` + "{".repeat(100);
  const strings = await call(http, "PUT", "v1/records/deep", JSON.stringify({ a: text, b: {} }));
  assert.equal(strings.status, 200, strings.text);
  assert.equal(JSON.parse((await call(http, "GET", "v1/records/deep/a")).text).value, text);
  assert.deepEqual(http.stderr.filter((line) => /internal error/.test(line)), []);
});

Deno.test("kv http: an unavailable cluster is 503 with Retry-After; a warning is in the body and header", async () => {
  await using served = await HttpProcess.onCluster(2, [
    "-k",
    "2",
    "--timeout-ms",
    `${BROKER_TIMEOUT_MS}`,
  ]);
  const { cluster, http } = served;
  assert.equal((await call(http, "PUT", "v1/records/é", "1")).status, 200);
  await cluster.servers[0].kill();
  const refused = await call(http, "PUT", "v1/records/b", "1");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("Retry-After"), "1");
  assert.match(JSON.parse(refused.text).error, /nothing was changed/);
  await cluster.servers[1].kill();
  // The pool learns of a killed server when its connection closes, a moment later.
  await waitFor(async () => (await call(http, "GET", "healthz")).status === 503, {
    what: "/healthz to answer 503 with both servers down",
  });
  // No server of the key answered: nothing is known of it, so not a 404 that says absent.
  const unsure = await call(http, "GET", "v1/records/%C3%A9x");
  assert.equal(unsure.status, 503);
  assert.equal(unsure.headers.get("Retry-After"), "1");
  const { value, warning } = JSON.parse(unsure.text);
  assert.equal(value, null);
  assert.match(warning, /no replica of 'éx' answered.*may exist/);
  assert.equal((await call(http, "GET", "v1/records/%C3%A9/name")).status, 503);
  // Nor is an empty key page none of them vouched for a 200 that says there are no keys.
  const keys = await call(http, "GET", "v1/keys?prefix=%C3%A9");
  assert.equal(keys.status, 503);
  assert.match(JSON.parse(keys.text).error, /^cannot list keys: 2 of 2 servers did not answer/);
  assert.equal(
    unsure.headers.get("Warning"),
    `199 kv ${JSON.stringify(warning).replace("é", "\\u00e9")}`,
  );
});

Deno.test("kv http: a warning naming a key with DEL (0x7f) escapes it in the Warning header, where its byte made Deno panic and end kv http", async () => {
  await using served = await HttpProcess.onCluster(1, [
    "-k",
    "1",
    "--timeout-ms",
    `${BROKER_TIMEOUT_MS}`,
  ]);
  const { cluster, http } = served;
  await cluster.servers[0].kill();
  await waitFor(async () => (await call(http, "GET", "healthz")).status === 503, {
    what: "/healthz to answer 503 with the server down",
  });
  // A simple GET, which any web page can make the machine's browser send to a loopback kv http.
  const unsure = await call(http, "GET", "v1/records/a%7F");
  assert.equal(unsure.status, 503);
  const { warning } = JSON.parse(unsure.text);
  assert.match(warning, /no replica of 'a\x7f' answered/);
  assert.equal(
    unsure.headers.get("Warning"),
    `199 kv ${JSON.stringify(warning).replace("\x7f", "\\u007f")}`,
  );
  assert.equal((await call(http, "GET", "healthz")).status, 503, "kv http still answers");
});

Deno.test("kv http: /healthz is 503 once k servers are down or unrepaired, when reads can no longer be exact", async () => {
  await using served = await HttpProcess.onCluster(3, ["-k", "2"]);
  const { cluster, http } = served;
  // A key whose two replicas are the two servers about to fail.
  const key = cluster.keyOnFirstTwo();
  assert.equal((await call(http, "PUT", `v1/records/${key}`, "1")).status, 200);
  const [down, restarted] = cluster.servers;
  await down.kill();
  // A memory-only server restarted comes back empty and unrepaired, and stays so while
  // a server is down (a repair marks it only once every server answered).
  await restarted.restart();
  const states = async () => {
    const { servers } = JSON.parse((await call(http, "GET", "v1/servers")).text);
    return servers.map((server: { up: boolean; repaired?: boolean }) => [
      server.up,
      server.repaired,
    ]);
  };
  await waitFor(
    async () =>
      JSON.stringify(await states()) === JSON.stringify([[false, null], [true, false], [
        true,
        true,
      ]]),
    { what: "one server down, one up and unrepaired, one in order" },
  );
  const health = await call(http, "GET", "healthz");
  assert.deepEqual([health.status, JSON.parse(health.text)], [503, {
    healthy: false,
    up: 2,
    unrepaired: 1,
    servers: 3,
    replicas: 2,
  }]);
  // What the 503 is about: the key's write is on neither replica that can answer. The
  // record exists, so a 404 would be false: the read cannot vouch for absence, a 503.
  for (const path of [key, `${key}/x`]) {
    const read = await call(http, "GET", `v1/records/${path}`);
    assert.equal(read.status, 503, path);
    const { value, warning } = JSON.parse(read.text);
    assert.equal(value, null);
    assert.match(warning, new RegExp(`no replica of '${key}' answered that can be trusted.*`));
    assert.match(warning, /is down .* not yet repaired\); the record may exist$/);
    assert.equal(read.headers.get("Cache-Control"), "no-store");
  }
});

Deno.test("kv http: /metrics counts requests by operation and outcome, with latency", async () => {
  await using served = await HttpProcess.onCluster(2);
  const { http } = served;
  await call(http, "PUT", "v1/records/a", "1");
  await call(http, "GET", "v1/records/a");
  await call(http, "GET", "v1/records/b");
  await call(http, "GET", "v1/records/b");
  await call(http, "POST", "v1/records/a", "1");
  const metrics = await call(http, "GET", "metrics");
  assert.match(metrics.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
  const lines = metrics.text.split("\n");
  for (
    const expected of [
      `kv_http_requests_total{operation="get",outcome="not_found"} 2`,
      `kv_http_requests_total{operation="get",outcome="ok"} 1`,
      `kv_http_requests_total{operation="put",outcome="ok"} 1`,
      `kv_http_requests_total{operation="other",outcome="bad_request"} 1`,
      `kv_http_request_duration_seconds_count{operation="get"} 3`,
      `kv_http_request_duration_seconds_bucket{operation="get",le="+Inf"} 3`,
      `kv_http_requests_in_flight 0`,
      `kv_servers{state="up"} 2`,
      `kv_servers{state="down"} 0`,
    ]
  ) {
    assert.ok(lines.includes(expected), `${expected} in\n${metrics.text}`);
  }
});

Deno.test("kv http: past --max-concurrent-requests the rest get 503 with Retry-After", async () => {
  await using served = await HttpProcess.onCluster(1, [
    "--max-concurrent-requests",
    "1",
    "--timeout-ms",
    "5000",
  ]);
  const { cluster, http } = served;
  // A hung server holds the first request in flight until its timeout.
  cluster.servers[0].signal("SIGSTOP");
  try {
    const first = fetch(`${http.url}v1/records/a`);
    let busy: Response | undefined;
    await waitFor(async () => {
      const response = await fetch(`${http.url}healthz`);
      if (response.status === 503 && response.headers.get("Retry-After") === "1") busy = response;
      else await response.body?.cancel();
      return busy !== undefined;
    }, { what: "a request refused as busy while another is in flight" });
    assert.match((await busy!.json()).error, /^busy: 1 request in flight$/);
    cluster.servers[0].signal("SIGCONT");
    const answer = await first;
    assert.equal(answer.status, 404);
    await answer.body?.cancel();
  } finally {
    cluster.servers[0].signal("SIGCONT");
  }
});

Deno.test("kv http: ?replicas=true reads each replica on its own and says whether they agree", async () => {
  await using served = await HttpProcess.onCluster(3, ["-k", "2"]);
  const { cluster, http } = served;
  assert.equal((await call(http, "PUT", "v1/records/person1", `{"a":1.5}`)).status, 200);
  const agreed = JSON.parse((await call(http, "GET", "v1/records/person1?replicas=true")).text);
  assert.equal(agreed.agree, true);
  assert.deepEqual(agreed.replicas.map((copy: { state: string }) => copy.state), [
    "found",
    "found",
  ]);
  assert.deepEqual(agreed.replicas[0].value, { a: 1.5 });
  const written = agreed.replicas[0].version;
  assert.equal(agreed.replicas[1].version, written);
  // Change one replica behind the cluster's back, as a lost write would leave it.
  const { hostname, port } = cluster.byId(agreed.replicas[1].server).address;
  const client = await connectClient(serverAddress(hostname, port));
  try {
    await client.put("person1", int(2), at());
  } finally {
    await client.close();
  }
  const split = await call(http, "GET", "v1/records/person1?replicas=true");
  const behind = JSON.parse(split.text).replicas[1].version;
  assert.ok(behind > written, `the write behind the cluster's back ${behind} after ${written}`);
  assert.equal(
    split.text,
    `{"key":"person1","agree":false,"replicas":[` +
      `{"server":"${agreed.replicas[0].server}","state":"found","version":"${written}",` +
      `"value":{"a":1.5}},` +
      `{"server":"${agreed.replicas[1].server}","state":"found","version":"${behind}",` +
      `"value":2}]}`,
  );
});

/** Paths a client might try: every documented shape, and near misses the server must 404. */
const PROBED_PATHS = [
  "/v1/records/person1",
  "/v1/records/person1/age",
  "/v1/records/person1/a/b",
  "/v1/records/",
  "/v1/records/%E0",
  "/v1/records",
  "/v1/keys",
  "/v1/keys/",
  "/v1/servers",
  "/v1/openapi.json",
  "/v1/openapi",
  "/v1",
  "/v2/keys",
  "/healthz",
  "/healthz/",
  "/metrics",
  "/",
  "/index.html",
  "/console.js",
  "/console.css",
  "/favicon.ico",
];

/** The document's path template that `path` is an instance of, if any. */
function templateOf(paths: Record<string, unknown>, path: string): string | undefined {
  if (path in paths) return path;
  const record = /^\/v1\/records\/([^/]*)(\/.+)?$/.exec(path);
  if (record === null) return undefined;
  return record[2] === undefined ? "/v1/records/{key}" : "/v1/records/{key}/{fields}";
}

/**
 * `method path` answered over a socket of its own: fetch refuses to send TRACE, which a
 * client may still send and the server must answer as the document says.
 */
async function rawStatus(http: HttpProcess, method: string, path: string): Promise<number> {
  return (await rawAnswer(http, method, path)).status;
}

/**
 * `method path` answered over a socket of its own, `path` as given (fetch resolves '.'), with
 * `Host: host` (default kv http's address; null: no Host, which fetch always sends).
 */
async function rawAnswer(
  http: HttpProcess,
  method: string,
  path: string,
  host: string | null = new URL(http.url).host,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(http.url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  const request = `${method} ${path} HTTP/1.1\r\n${host === null ? "" : `Host: ${host}\r\n`}` +
    "Connection: close\r\n\r\n";
  await connection.write(new TextEncoder().encode(request));
  const answer = await withDeadline(new Response(connection.readable).text(), {
    what: `the answer to ${method} ${path}`,
  });
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]);
  return { status, body: answer.slice(answer.indexOf("\r\n\r\n") + 4) };
}

Deno.test("kv http: a PUT or DELETE with a precondition (If-Match, If-None-Match, …) is a 400 and changes nothing: kv has no conditional writes, and made them whatever the version", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const put = await call(http, "PUT", "v1/records/p", `{"v":1}`);
  const { version } = JSON.parse(put.text);
  const conditions: [string, Record<string, string>, string][] = [
    ["PUT", { "If-Match": `"${version}"` }, "If-Match"],
    ["PUT", { "If-None-Match": "*" }, "If-None-Match"],
    ["DELETE", { "If-Match": `"000000000000000000000000"` }, "If-Match"],
    ["DELETE", { "If-Unmodified-Since": new Date(0).toUTCString() }, "If-Unmodified-Since"],
  ];
  for (const [method, headers, name] of conditions) {
    const response = await fetch(`${http.url}v1/records/p`, {
      method,
      body: method === "PUT" ? `{"v":2}` : undefined,
      headers: { "Content-Type": "application/json", ...headers },
    });
    assert.deepEqual([response.status, (await response.json()).error], [
      400,
      `${method} does not take ${name}: kv has no conditional writes (no compare-and-set); ` +
      `a ${method} applies whatever the record's version; send it without ${name}`,
    ]);
  }
  const read = JSON.parse((await call(http, "GET", "v1/records/p")).text);
  assert.deepEqual([read.value, read.version], [{ v: 1 }, version]);
});

Deno.test("kv http: a request without Host is a 400 that says so, not one quoting the connection guard's socket path as a bad Host", async () => {
  await using served = await HttpProcess.onCluster(1);
  const answer = await rawAnswer(served.http, "GET", "/v1/keys", null);
  assert.deepEqual([answer.status, JSON.parse(answer.body)], [400, {
    error: "the request has no Host header; send one (HTTP/1.1 requires it)",
  }]);
});

Deno.test("kv http: a path is read as sent: %2E is the key '.', refused as any key with '.', never resolved to another key; the console takes any parameter", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const cases: [string, RegExp][] = [
    ["/v1/records/%2E", /^key '\.' contains '\.'/],
    ["/v1/records/%2E%2E", /^key '\.\.' contains '\.'/],
    // Resolved, this was the key 'b'.
    ["/v1/records/a/%2e%2e/b", /^field name '\.\.' contains '\.'/],
  ];
  for (const [path, message] of cases) {
    const answer = await rawAnswer(http, "GET", path);
    assert.equal(answer.status, 400, `${path}: ${answer.body}`);
    assert.match(JSON.parse(answer.body).error, message);
  }
  const linked = await call(http, "GET", "?utm_source=mail");
  assert.equal(linked.status, 200);
  assert.match(linked.text, /^<!doctype html>/i);
});

Deno.test("kv http: the OpenAPI document matches the server both ways: every path and method it lists answers as listed, and every path the server serves is listed", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  assert.equal((await call(http, "PUT", "v1/records/person1", `{"age":22}`)).status, 200);
  const document = JSON.parse((await call(http, "GET", "v1/openapi.json")).text);
  const paths: Record<string, Record<string, { responses: Record<string, unknown> }>> =
    document.paths;
  const methods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"];
  for (const path of PROBED_PATHS) {
    const template = templateOf(paths, path);
    for (const method of methods) {
      const status = method === "TRACE"
        ? await rawStatus(http, method, path)
        : (await call(http, method, path.slice(1), method === "PUT" ? `{"age":23}` : undefined))
          .status;
      const what = `${method} ${path}: ${status}`;
      if (template === undefined) {
        // Served by nothing: the document must not list it, and the server says so.
        assert.equal(status, 404, what);
        continue;
      }
      const operation = paths[template][method.toLowerCase()];
      assert.ok(operation !== undefined, `${what}: the document lists no ${method} ${template}`);
      assert.ok(String(status) in operation.responses, `${what} is not among those listed`);
      // A method the document lists as taken is never refused as one not allowed, and one
      // it lists as refused is (unless the path's percent-encoding is refused first).
      const refused = "405" in operation.responses;
      if (!refused) assert.notEqual(status, 405, what);
      if (refused && !path.includes("%E0")) assert.equal(status, 405, what);
    }
  }
  // Every template the document lists is one of those probed: none is listed unserved.
  const probed = new Set(PROBED_PATHS.map((path) => templateOf(paths, path)));
  assert.deepEqual(Object.keys(paths).filter((template) => !probed.has(template)), []);
  assert.equal(await http.stop(), 0);
});

Deno.test("kv http: a body that does not all arrive in time is a 408, and frees its request slot; an empty one is a 400 that says a body is needed", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ floats: "tagged" });
  // One slot: the stalled PUT holds it until its body times out.
  const api = new HttpApi(kv, { bodyTimeoutMs: 200, maxConcurrentRequests: 1 });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => api.handle(request),
  );
  const { port } = server.addr;
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(
    new TextEncoder().encode(
      `PUT /v1/records/a HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
        'Content-Length: 10\r\n\r\n{"a"',
    ),
  );
  const reader = connection.readable.getReader();
  const first = await withDeadline(reader.read(), { what: "the answer to a stalled PUT" });
  assert.match(new TextDecoder().decode(first.value), /^HTTP\/1\.1 408 /);
  reader.releaseLock();
  connection.close();
  const after = await fetch(`http://127.0.0.1:${port}/v1/records/a`, {
    method: "PUT",
    body: "1",
    headers: { "Content-Type": "application/json" },
  });
  assert.deepEqual([after.status, (await after.json()).key], [200, "a"]);
  for (const type of ["application/json", "text/plain"]) {
    const empty = await fetch(`http://127.0.0.1:${port}/v1/records/a`, {
      method: "PUT",
      body: "",
      headers: { "Content-Type": type },
    });
    assert.deepEqual([empty.status, await empty.json()], [400, {
      error: "PUT needs a body: a JSON value or a record line",
    }]);
  }
});

Deno.test("kv http: a JSON body is refused for naming a field twice in one object, and only then", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ floats: "tagged" });
  const api = new HttpApi(kv);
  const put = async (body: string) => {
    const response = await api.handle(
      new Request("http://localhost/v1/records/p", {
        method: "PUT",
        body,
        headers: { "Content-Type": "application/json" },
      }),
    );
    return { status: response.status, text: await response.text() };
  };
  // Objects whose names repeat only across objects (and in strings) are stored as they are.
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
      const record = { a: value, b: { a: value, s: `"a":` } };
      const answer = await put(JSON.stringify(record));
      assert.doesNotMatch(answer.text, /twice/, answer.text);
    }),
    { numRuns: 50 },
  );
  // A name repeated in any one object is refused, however deep and however escaped.
  await fc.assert(
    fc.asyncProperty(
      fc.string({ minLength: 1 }),
      fc.integer({ min: 0, max: 5 }),
      async (name, depth) => {
        const quoted = JSON.stringify(name).replace(
          /[a-z]/,
          (c) => `\\u00${c.charCodeAt(0).toString(16)}`,
        );
        let body = `{${JSON.stringify(name)}:1,${quoted}:2}`;
        for (let level = 0; level < depth; level++) body = `{"x":[1,${body}]}`;
        const answer = await put(body);
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.text, /twice in one object/);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("kv http: a PUT's Content-Type says how its body is read: JSON for application/json, a +json type or none, a record line for text/plain, a 415 naming those for any other; JSON sent as text (fetch's default for a string) says which type to send", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const put = async (key: string, body: BodyInit, headers: Record<string, string> = {}) => {
    const response = await fetch(`${http.url}v1/records/${key}`, { method: "PUT", body, headers });
    const text = await response.text();
    return { status: response.status, error: response.ok ? "" : JSON.parse(text).error, response };
  };
  const stored = async (key: string) => (await call(http, "GET", `v1/records/${key}`)).text;

  // fetch sends a string as text/plain;charset=UTF-8: read as a record line, JSON fails, and
  // the answer says what to send.
  const toJson = "; a text/plain body is a record line (KEY: VALUE), and this one is JSON: " +
    "send it with Content-Type: application/json";
  const object = await put("f1", JSON.stringify({ a: 1 }));
  assert.equal(object.status, 400);
  assert.equal(object.error, `record line, column 1: expected a record key, found '{'${toJson}`);
  const string = await put("f1", JSON.stringify("hello"));
  assert.equal(string.status, 400);
  assert.ok(string.error.endsWith(toJson), string.error);
  // A record line that is no JSON gets no such advice.
  assert.equal(
    (await put("f1", "f1: {", { "Content-Type": "text/plain" })).error.includes("JSON"),
    false,
  );
  // And JSON's failure on a record line says to send it as text/plain.
  const line = await put("f1", "f1: 1", { "Content-Type": "application/json" });
  assert.equal(line.status, 400);
  assert.match(
    line.error,
    /^the body is not JSON: .*; this body is a record line: send it with Content-Type: text\/plain$/,
  );

  // JSON: application/json (with a charset), any +json type, and no Content-Type at all.
  for (
    const [key, headers] of [
      ["j1", { "Content-Type": "application/json; charset=utf-8" }],
      ["j2", { "Content-Type": "application/vnd.api+json" }],
      ["j3", {}],
    ] as const
  ) {
    // A Uint8Array body carries no Content-Type of its own.
    const answer = await put(key, new TextEncoder().encode(`{"a": 2.0}`), headers);
    assert.equal(answer.status, 200, `${key}: ${answer.error}`);
    assert.match(await stored(key), /"value":\{"a":2\.0\}/);
  }

  // Any other type is refused, not taken as JSON: curl -d's form type gets its own hint.
  const form = await put("x1", `{"a": 1}`, { "Content-Type": "application/x-www-form-urlencoded" });
  assert.equal(form.status, 415);
  assert.equal(
    form.error,
    "Content-Type application/x-www-form-urlencoded is not taken: PUT takes application/json " +
      "(or a +json type) for a JSON value, or text/plain for a record line (curl -d sends " +
      "application/x-www-form-urlencoded: add -H 'Content-Type: application/json')",
  );
  assert.equal(form.response.headers.get("Accept"), "application/json, text/plain");
  const xml = await put("x1", "1", { "Content-Type": "application/xml" });
  assert.equal(xml.status, 415);
  assert.match(
    xml.error,
    /^Content-Type application\/xml is not taken: PUT takes application\/json/,
  );
  // A compressed body was read as text ("not valid UTF-8"): Deno.serve does not decompress it.
  const gzip = await put("x1", `{"a": 1}`, {
    "Content-Type": "application/json",
    "Content-Encoding": "gzip",
  });
  assert.equal(gzip.status, 415);
  assert.equal(gzip.error, "Content-Encoding gzip is not taken; send the body uncompressed");
  assert.equal(gzip.response.headers.get("Accept-Encoding"), "identity");
  assert.equal((await call(http, "GET", "v1/records/x1")).status, 404, "nothing refused is stored");
});

Deno.test("kv http on SIGTERM says it is shutting down, then that it stopped, and exits 0", async () => {
  await using pair = await HttpProcess.onCluster(1);
  assert.equal(await pair.http.stop(), 0);
  assert.deepEqual(pair.http.stderr.slice(-2), [
    "kv http: SIGTERM: shutting down",
    "kv http: stopped",
  ]);
});

Deno.test("kv http: an internal error is a 500 and one line to log, which the receiver names: it does not say 'kv http: ' itself, which kv http's logger already puts before 'error: '", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ floats: "tagged" });
  const lines: string[] = [];
  // A fault of kv's own (a proxy would hide the Kv from HttpApi): the read under it throws.
  coreOf(kv).getJson = () => Promise.reject(new Error("boom"));
  const api = new HttpApi(kv, { log: (line) => lines.push(line) });
  const response = await api.handle(new Request("http://localhost/v1/records/a"));
  assert.deepEqual([response.status, await response.json()], [500, {
    error: "internal error; the server's log has the details",
  }]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^internal error \(please report it\): Error: boom\n/);
});
