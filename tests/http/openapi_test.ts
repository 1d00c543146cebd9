/**
 * `kv http`'s answers against its own OpenAPI document: each answer's status is listed for
 * its operation, and its body matches the schema listed for it, read as OpenAPI 3.0.3 reads
 * a schema (`nullable` admits null only beside a `type`), with no property the schema does
 * not name. Real processes: a cluster, `kv http`, and a server stopped for the 503s.
 */
import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";

/** An OpenAPI 3.0 Schema Object, as far as kv's document uses one. */
interface Schema {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  oneOf?: Schema[];
  allOf?: Schema[];
}

/** An OpenAPI document, as far as this test reads one. */
interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, Response_> }>>;
  components: { schemas: Record<string, Schema> };
}

/** An OpenAPI Response Object. */
interface Response_ {
  content?: Record<string, { schema: Schema }>;
}

function resolved(document: OpenApi, schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  return resolved(document, document.components.schemas[schema.$ref.split("/").at(-1)!]);
}

/** The property names `schema` names, its allOf parts' included. */
function namedProperties(document: OpenApi, schema: Schema): string[] {
  const own = Object.keys(schema.properties ?? {});
  const parts = (schema.allOf ?? []).map((part) => resolved(document, part));
  return [...own, ...parts.flatMap((part) => namedProperties(document, part))];
}

/** Whether a value is of each OpenAPI type. */
const TYPE_HOLDS: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number",
  integer: (value) => Number.isInteger(value),
  boolean: (value) => typeof value === "boolean",
  array: (value) => Array.isArray(value),
  object: (value) => typeof value === "object" && value !== null && !Array.isArray(value),
};

/**
 * Why `value` does not match `schema` (none: it does), as OpenAPI 3.0.3 reads the schema;
 * `part` for an allOf part, whose properties the whole names.
 */
function mismatches(document: OpenApi, given: Schema, value: unknown, at: string, part = false) {
  const schema = resolved(document, given);
  const errors: string[] = [];
  for (const piece of schema.allOf ?? []) {
    errors.push(...mismatches(document, piece, value, at, true));
  }
  if (schema.oneOf !== undefined) {
    const matching = schema.oneOf.filter((one) =>
      mismatches(document, one, value, at).length === 0
    );
    if (matching.length !== 1) errors.push(`${at} matches ${matching.length} of its oneOf`);
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) errors.push(`${at} not in enum`);
  // Stricter than OpenAPI, to catch a field the document does not tell of: the whole of an
  // allOf names its parts' properties.
  const named = namedProperties(document, schema);
  if (!part && TYPE_HOLDS.object(value) && !schema.additionalProperties && named.length > 0) {
    const unnamed = Object.keys(value as object).filter((name) => !named.includes(name));
    errors.push(...unnamed.map((name) => `${at}.${name} is not in the document`));
  }
  if (schema.type === undefined) return errors;
  if (value === null) return schema.nullable ? errors : [...errors, `${at} is null`];
  if (!TYPE_HOLDS[schema.type](value)) return [...errors, `${at} is not of type ${schema.type}`];
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value as string)) {
    errors.push(`${at} does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) =>
      errors.push(...mismatches(document, schema.items!, item, `${at}[${index}]`))
    );
  }
  if (schema.type !== "object") return errors;
  const object = value as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (!(name in object)) errors.push(`${at} lacks ${name}`);
  }
  for (const [name, field] of Object.entries(object)) {
    const property = schema.properties?.[name] ?? schema.additionalProperties;
    if (property !== undefined) {
      errors.push(...mismatches(document, property, field, `${at}.${name}`));
    }
  }
  return errors;
}

/** The document's path template that `path` is an instance of. */
function templateOf(path: string): string {
  if (!path.startsWith("/v1/records/")) return path.split("?")[0];
  return path.slice("/v1/records/".length).split("?")[0].includes("/")
    ? "/v1/records/{key}/{fields}"
    : "/v1/records/{key}";
}

/** The answer to `method path`'s status, and why it does not match the document ("": it does). */
async function checked(
  base: string,
  document: OpenApi,
  [method, path, init]: Probe,
): Promise<{ status: number; problem: string }> {
  const response = await fetch(`${base}${path.slice(1)}`, { method, ...init });
  const text = await response.text();
  const status = response.status;
  const what = `${method} ${path} (${status})`;
  const operation = document.paths[templateOf(path)]?.[method.toLowerCase()];
  const listed = operation?.responses[String(status)];
  if (listed === undefined) return { status, problem: `${what}: status not listed` };
  const type = (response.headers.get("Content-Type") ?? "").split(";")[0];
  const media = listed.content?.[type];
  if (media === undefined) return { status, problem: `${what}: ${type} not listed` };
  if (type !== "application/json") return { status, problem: "" };
  const errors = mismatches(document, media.schema, JSON.parse(text), "body");
  const problem = errors.length === 0 ? "" : `${what}: ${errors.join("; ")}: ${text.slice(0, 200)}`;
  return { status, problem };
}

/** A request: its method, path (from the root) and the rest of it. */
type Probe = [method: string, path: string, init?: RequestInit];

/** A PUT of `body` as `type`. */
function put(body: string, type = "application/json"): RequestInit {
  return { method: "PUT", body, headers: { "Content-Type": type } };
}

Deno.test("kv http: every answer matches its OpenAPI document: a listed status, and a body of the listed schema (404s' null value, 503s' entries and errors) with no property the document does not name", async () => {
  await using served = await HttpProcess.onCluster(2, ["-k", "2", "--max-body-bytes", "100"]);
  const { http, cluster } = served;
  const base = http.url;
  const document: OpenApi = await (await fetch(`${base}v1/openapi.json`)).json();
  const up: Probe[] = [
    ["PUT", "/v1/records/p1", put(`{"a":{"b":2.0},"s":"x"}`)],
    ["PUT", "/v1/records/p2", put(`p2: { "x" : 1 }`, "text/plain")],
    ["GET", "/v1/records/p1"],
    ["GET", "/v1/records/p1?replicas=true"],
    ["GET", "/v1/records/p1/a/b"],
    ["GET", "/v1/records/p1/a/none"],
    ["GET", "/v1/records/p1/a/bb"],
    ["GET", "/v1/records/p1/s/x"],
    ["GET", "/v1/records/none/x"],
    ["GET", "/v1/records/none"],
    ["GET", "/v1/records/a.b"],
    ["GET", "/v1/records/p1?replicas=maybe"],
    ["PUT", "/v1/records/p3", put("{bad")],
    ["PUT", "/v1/records/p3", put("<a/>", "application/xml")],
    ["PUT", "/v1/records/p3", put(`{"s":"${"x".repeat(200)}"}`)],
    ["DELETE", "/v1/records/p2"],
    ["DELETE", "/v1/records/none"],
    ["POST", "/v1/records/p1"],
    ["GET", "/v1/keys?limit=1"],
    ["GET", "/v1/keys?limit=0"],
    ["GET", "/v1/servers"],
    ["GET", "/healthz"],
    ["GET", "/metrics"],
    ["GET", "/v1/openapi.json"],
  ];
  // Both down: reads that cannot vouch for an absence, writes refused, health lost.
  const down: Probe[] = [
    ["GET", "/v1/records/none"],
    ["GET", "/v1/records/none/a"],
    ["GET", "/v1/records/p1?replicas=true"],
    ["GET", "/v1/keys"],
    ["PUT", "/v1/records/p4", put("1")],
    ["DELETE", "/v1/records/p4"],
    ["GET", "/v1/servers"],
    ["GET", "/healthz"],
  ];
  const problems: string[] = [];
  const statuses = new Set<number>();
  const answered = new Map<string, number>();
  for (const probes of [up, down]) {
    if (probes === down) await Promise.all(cluster.servers.map((server) => server.kill()));
    for (const probe of probes) {
      const { status, problem } = await checked(base, document, probe);
      statuses.add(status);
      answered.set(`${probes === down ? "down" : "up"} ${probe[0]} ${probe[1]}`, status);
      if (problem !== "") problems.push(problem);
    }
  }
  assert.deepEqual(problems, []);
  // Each kind of answer was met: found, refused, absent, not allowed, too large, not taken,
  // and what the cluster could not answer, a read's entry as well as a write's error.
  assert.deepEqual([...statuses].sort(), [200, 400, 404, 405, 413, 415, 503]);
  assert.equal(answered.get("down GET /v1/records/none"), 503);
  assert.equal(answered.get("down PUT /v1/records/p4"), 503);
});
