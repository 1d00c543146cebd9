/**
 * A real `kv http` fed random requests: methods kv takes and others, paths of every route
 * with odd percent-encoding, query strings of any shape, bodies of random bytes, JSON cut
 * or mangled, over the body limit, under any Content-Type. Each must get an answer below
 * 500 (a client's mistake is never the server's failure) whose body, on an error, is a JSON
 * object with a one-line `error`; nothing is logged as an internal error; the process
 * keeps serving; and the records stored before are as they were.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { HttpProcess } from "../helpers/http_process.ts";
import { oneLine } from "../../lib/record/key.ts";
import { withDeadline } from "../helpers/wait.ts";

/** The body limit given to kv http here: small, so bodies over it are cheap to send. */
const MAX_BODY_BYTES = 2048;
/** Records stored before the fuzz, which no request of it may change. */
const KEPT_RECORDS = 5;
const RUNS = 250;

const METHODS = ["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS", "FOO"];

/** Pieces a path segment or query part is made of: plain, escaped, badly escaped. */
const pieceArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "a",
    "person1",
    ".",
    "..",
    "%",
    "%2",
    "%G1",
    "%00",
    "%2E",
    "%2F",
    "%2f",
    "%25",
    "%E0",
    "%E0%A4",
    "%C0%80",
    "%ED%A0%80",
    "%F4%90%80%80",
    "%FF",
    "%EF%BB%BF",
    "%0A",
    "%0D%0A",
    "%7F",
    "%E2%80%AE",
    "é",
    "💥",
    "+",
    "~",
    "=",
    "&",
    ";",
    "*",
    "'",
  ),
  fc.string({ unit: "grapheme-ascii", maxLength: 6 }).map(encodeURIComponent),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((bytes) =>
    [...bytes].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("")
  ),
);

const segmentArbitrary = fc.array(pieceArbitrary, { maxLength: 4 }).map((parts) =>
  `f${parts.join("")}`
);

const queryArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.constant("?"),
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("replicas", "prefix", "limit", "after", "x", "", "limit%00", "pre%66ix"),
        fc.array(pieceArbitrary, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("")),
      ),
      fc.option(fc.oneof(
        fc.constantFrom("true", "false", "0", "1", "-1", "10001", "1e3", "0x10", " 5", "3.5"),
        fc.array(pieceArbitrary, { maxLength: 3 }).map((parts) => parts.join("")),
      )),
    ),
    { minLength: 1, maxLength: 3 },
  ).map((pairs) =>
    "?" + pairs.map(([name, value]) => value === null ? name : `${name}=${value}`).join("&")
  ),
);

const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  segmentArbitrary.map((key) => `v1/records/${key}`),
  fc.tuple(
    segmentArbitrary,
    fc.array(fc.oneof(segmentArbitrary, fc.constant("")), {
      minLength: 1,
      maxLength: 3,
    }),
  ).map(([key, fields]) => `v1/records/${key}/${fields.join("/")}`),
  fc.constantFrom(
    "v1/records",
    "v1/records/",
    "v1/records//x",
    "v1/keys",
    "v1/keys/",
    "v1/servers",
    "healthz",
    "metrics",
    "v1/openapi.json",
    "",
    "console.js",
    "console.css",
    "v2/records/a",
    "V1/keys",
  ),
  fc.array(segmentArbitrary, { maxLength: 3 }).map((parts) => parts.join("/")),
);

const JSON_SNIPPETS = [
  `{"name":"Mary","age":22}`,
  `{"a":{"b":{"c":1}}}`,
  `"text"`,
  `12`,
  `-0`,
  `1e999`,
  `{"a":1,"a":2}`,
  `{"":1}`,
  `{"a.b":1}`,
  `{"x":[1]}`,
  `{"x":true}`,
  `{"x":"\\ud800"}`,
  `\ufeff{"x":1}`,
  `{"x":1}\n{"y":2}`,
  `null`,
  `{}`,
];

const bodyArbitrary: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...JSON_SNIPPETS).map((text) => new TextEncoder().encode(text)),
  fc.tuple(fc.constantFrom(...JSON_SNIPPETS), fc.nat(), fc.integer({ min: 0, max: 255 })).map(
    ([text, at, byte]) => {
      const bytes = new TextEncoder().encode(text);
      bytes[at % bytes.length] = byte;
      return bytes;
    },
  ),
  fc.tuple(fc.constantFrom(...JSON_SNIPPETS), fc.nat()).map(([text, cut]) =>
    new TextEncoder().encode(text.slice(0, cut % (text.length + 1)))
  ),
  fc.constantFrom("a: 1", "f: {x: 1}", "f: 1\r\n", "f: 1\nf: 2", "\0", "f: \u0000")
    .map((text) => new TextEncoder().encode(text)),
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: MAX_BODY_BYTES - 2, max: MAX_BODY_BYTES + 2 }).map((length) =>
    new Uint8Array(length).fill(0x31)
  ),
  fc.integer({ min: 100, max: 3000 }).map((depth) =>
    new TextEncoder().encode(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`)
  ),
);

const contentTypeArbitrary: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined,
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=UTF-16",
  "application/json;;",
  "application/json; charset",
  "application/vnd.x+json",
  "text/plain",
  "text/plain; charset=utf-8; charset=latin1",
  "text/html",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "",
  ";",
  "/",
  "application/",
);

/** The status and body of `method path` with `body` and `type`, from `http`. */
async function request(
  http: HttpProcess,
  method: string,
  path: string,
  body?: Uint8Array,
  type?: string,
): Promise<{ status: number; text: string }> {
  const headers = new Headers();
  if (type !== undefined) headers.set("Content-Type", type);
  const canHaveBody = method !== "GET" && method !== "HEAD";
  const response = await fetch(`${http.url}${path}`, {
    method,
    headers,
    body: canHaveBody && body !== undefined ? body.slice() : undefined,
  });
  return { status: response.status, text: await response.text() };
}

Deno.test("kv http: random methods, paths, queries, bodies and content types get a 4xx or better with a one-line reason, never a 500, and change no record stored before", async () => {
  await using served = await HttpProcess.onCluster(1, ["--max-body-bytes", `${MAX_BODY_BYTES}`]);
  const { http } = served;
  for (let index = 0; index < KEPT_RECORDS; index++) {
    const put = await request(http, "PUT", `v1/records/kept${index}`, encoded(`{"n":${index}}`));
    assert.equal(put.status, 200, put.text);
  }
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...METHODS),
      pathArbitrary,
      queryArbitrary,
      bodyArbitrary,
      contentTypeArbitrary,
      async (method, path, query, body, type) => {
        const answer = await request(http, method, `${path}${query}`, body, type);
        const shown = `${method} /${path}${query} (${type}): ${answer.status} ${answer.text}`;
        assert.ok(answer.status < 500, shown);
        if (answer.status >= 400 && method !== "HEAD") {
          const json = JSON.parse(answer.text);
          // A record not found (GET, QUERY, DELETE) is a 404 in the answer's own shape.
          if (answer.status === 404 && typeof json.key === "string" && !("error" in json)) return;
          const error = json.error;
          assert.equal(typeof error, "string", shown);
          // One line that quotes what the client sent with its hidden characters escaped.
          assert.ok(error.length > 0, shown);
          assert.equal(error, oneLine(error), shown);
        }
      },
    ),
    { numRuns: RUNS },
  );
  assert.deepEqual(http.stderr.filter((line) => /error/i.test(line)), []);
  for (let index = 0; index < KEPT_RECORDS; index++) {
    const get = await request(http, "GET", `v1/records/kept${index}`);
    assert.equal(get.status, 200, get.text);
    assert.deepEqual(JSON.parse(get.text).value, { n: index });
  }
});

function encoded(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

Deno.test("kv http: an error quoting what the client sent escapes its newlines and controls, one line", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const cases: [string, string, string | undefined, string | undefined, string][] = [
    ["GET", "v1/keys?a%0Ab=1", undefined, undefined, `unknown query parameter 'a\\u000ab'`],
    ["GET", "v1/keys?limit=%0A", undefined, undefined, `got '\\u000a'`],
    ["GET", "v1/records/a?replicas=%1B%5B2J", undefined, undefined, `got '\\u001b[2J'`],
    // V8's SyntaxError quotes the body's first characters, newline and all.
    ["PUT", "v1/records/a", `a: 1\nb: 2`, "application/json", `"a: 1\\u000ab: 2"`],
    ["PUT", "v1/records/a%0D", `a: 1`, "text/plain", `is not the URL's 'a\\u000d'`],
  ];
  for (const [method, path, body, type, quoted] of cases) {
    const answer = await request(
      http,
      method,
      path,
      body === undefined ? body : encoded(body),
      type,
    );
    assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
    const { error } = JSON.parse(answer.text);
    assert.ok(error.includes(quoted), `${method} ${path}: ${error}`);
    assert.equal(error, oneLine(error));
  }
});

/** What `http` answers `bytes` sent as they are on a connection of their own, until it closes. */
async function rawAnswer(http: HttpProcess, bytes: string): Promise<string> {
  const { hostname, port } = new URL(http.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(bytes));
    return await withDeadline(new Response(conn.readable).text(), {
      what: "kv http to answer and close",
      onTimeout: () => conn.close(),
    });
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("kv http: request lines fetch cannot send (CONNECT's host:port, OPTIONS *, a bare path, HTTP/1.0) get a 4xx, never a 500", async () => {
  await using served = await HttpProcess.onCluster(1);
  const { http } = served;
  const host = "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
  const cases: [string, RegExp][] = [
    // Its target is an authority with no path: rawPath's invariant made it a 500 and a stack.
    [`CONNECT 127.0.0.1:1 HTTP/1.1\r\n${host}`, /^HTTP\/1\.1 400 .*kv http is no proxy/s],
    [`OPTIONS * HTTP/1.1\r\n${host}`, /^HTTP\/1\.1 404 /],
    [`GET v1/keys HTTP/1.1\r\n${host}`, /^HTTP\/1\.1 400 /],
    [`GET /v1/keys HTTP/1.0\r\n\r\n`, /^HTTP\/1\.0 400 .*no Host header/s],
    [`TRACE / HTTP/1.1\r\n${host}`, /^HTTP\/1\.1 405 /],
  ];
  for (const [bytes, expected] of cases) {
    assert.match(await rawAnswer(http, bytes), expected, bytes);
  }
  assert.deepEqual(http.stderr.filter((line) => /error/i.test(line)), []);
});
