/**
 * The OpenAPI 3 description of `kv http`'s JSON API, served at
 * `/v1/openapi.json`.
 *
 * @example
 * ```ts
 * import { openApiDocument } from "./openapi.ts";
 * JSON.stringify(openApiDocument("0.1.0")).length > 0;
 * ```
 * @module
 */

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const answer = (description: string, schema: string) => ({
  description,
  headers: { Warning: { $ref: "#/components/headers/Warning" } },
  content: json(ref(schema)),
});
const failure = (description: string) => ({ description, content: json(ref("Error")) });
/**
 * What any route may answer, whatever it does: a URL past the limit, a missing token, a
 * name other than loopback's.
 */
const REQUEST_FAILURES = {
  "401": failure("With --tokens-file: no 'Authorization: Bearer' of a listed token."),
  "403": failure(
    "On loopback without --tokens-file: a Host other than localhost, 127.0.0.0/8 or [::1].",
  ),
  "414": failure("The URL's path and query are over --max-path-bytes."),
};
const FAILURES = {
  "400": failure("A bad key, path, value or parameter; the message says what."),
  ...REQUEST_FAILURES,
  "503": failure("The cluster could not answer (replicas unreachable), or the server is busy."),
};
const VERSION = {
  type: "string",
  pattern: "^[0-9a-f]{24}$",
  description: "The record's version: 24 hex digits of its 12 bytes, so versions sort as text " +
    "in version order (like Deno KV's versionstamp); a later write of a key has a greater one.",
  example: "0193813bcc0000000000002a",
};
const KEY_PARAMETER = {
  name: "key",
  in: "path",
  required: true,
  description: "The record key: 1 to 1024 UTF-8 bytes, without '.', percent-encoded.",
  schema: { type: "string" },
};

/**
 * The OpenAPI 3.0 document for this version of kv.
 *
 * @example
 * ```ts
 * openApiDocument("0.1.0").openapi; // "3.0.3"
 * ```
 */
export function openApiDocument(version: string): Record<string, unknown> & { openapi: string } {
  return {
    openapi: "3.0.3",
    info: {
      title: "kv",
      version,
      description: "A distributed, fault-tolerant key-value store. Values are JSON: strings, " +
        "numbers and objects; a number written with '.' or an exponent (2.0) is a float, " +
        "any other an int. A warning (an answer the cluster cannot guarantee) is in the " +
        "body's `warning` and in a `Warning` header.",
    },
    paths: apiPaths(),
    security: [{}, { bearer: [] }],
    components: apiComponents(),
  };
}

/** The document's paths: every operation of the API, with its answers. */
function apiPaths(): Record<string, unknown> {
  return { ...recordPaths(), ...clusterPaths() };
}

/** The paths of one record: read, write and delete it, or read some of its fields. */
function recordPaths(): Record<string, unknown> {
  return {
    "/v1/records/{key}": recordOperations(),
    "/v1/records/{key}/{fields}": {
      parameters: [KEY_PARAMETER, {
        name: "fields",
        in: "path",
        required: true,
        description: "Field names separated by '/', each percent-encoded (QUERY key.f1.f2).",
        schema: { type: "string" },
      }],
      get: {
        summary: "Read a value inside a record",
        operationId: "query",
        responses: {
          "200": answer("The value at the path.", "QueryEntry"),
          "404": answer("No such record or field.", "QueryEntry"),
          ...FAILURES,
        },
      },
    },
  };
}

/** The operations on one record by its key: GET, PUT and DELETE. */
function recordOperations(): Record<string, unknown> {
  return {
    parameters: [KEY_PARAMETER],
    get: {
      summary: "Read a record (or, with replicas=true, each replica's copy)",
      operationId: "get",
      parameters: [{
        name: "replicas",
        in: "query",
        description: "true: read each of the key's replicas on its own and say whether " +
          "they agree: {key, agree, replicas: [{server, state, version?, value?, error?}]} " +
          "(state found, deleted, missing or unreachable; agree: equal versions)",
        schema: { type: "boolean", default: false },
      }],
      responses: {
        "200": {
          description: "The record, or with replicas=true each replica's copy.",
          headers: { Warning: { $ref: "#/components/headers/Warning" } },
          content: json({ oneOf: [ref("Entry"), ref("Replicas")] }),
        },
        "404": answer("No such record (value is null).", "Entry"),
        ...FAILURES,
      },
    },
    put: {
      summary: "Store a record on all its replicas, replacing it",
      operationId: "put",
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: ref("Value") },
          "text/plain": {
            schema: { type: "string" },
            example: `person1: { "name" : "Mary" ; "age" : 22 }`,
          },
        },
        description: "The value as JSON, or a record line (any dialect) whose key is {key}.",
      },
      responses: {
        "200": answer("Stored on every replica.", "PutResult"),
        "413": failure("The body is over the limit."),
        ...FAILURES,
      },
    },
    delete: {
      summary: "Delete a record from all its replicas",
      operationId: "delete",
      responses: {
        "200": answer("Deleted.", "DeleteResult"),
        "404": answer("There was no such record.", "DeleteResult"),
        ...FAILURES,
      },
    },
  };
}

/** The paths about the cluster and its keys: listings, servers, health and metrics. */
function clusterPaths(): Record<string, unknown> {
  return {
    "/v1/keys": {
      get: {
        summary: "List keys in byte order, a page at a time",
        operationId: "keys",
        parameters: [
          { name: "prefix", in: "query", schema: { type: "string", default: "" } },
          {
            name: "limit",
            in: "query",
            schema: { type: "integer", minimum: 1, maximum: 10000, default: 100 },
          },
          {
            name: "after",
            in: "query",
            description: "List keys after this one: the previous page's last key.",
            schema: { type: "string" },
          },
        ],
        responses: { "200": answer("One page of keys.", "KeysPage"), ...FAILURES },
      },
    },
    "/v1/servers": {
      get: {
        summary: "Each server: up with records and latency, or down and why",
        operationId: "servers",
        responses: {
          "200": {
            description: "The servers.",
            content: json({
              type: "object",
              properties: { servers: { type: "array", items: ref("Server") } },
            }),
          },
          ...REQUEST_FAILURES,
        },
      },
    },
    "/healthz": {
      get: {
        summary: "Whether every key can be read exactly (fewer than k servers down)",
        operationId: "healthz",
        responses: {
          "200": { description: "Healthy.", content: json(ref("Health")) },
          "503": {
            description: "k or more servers are down or unrepaired: reads may not be exact.",
            content: json(ref("Health")),
          },
          "403": REQUEST_FAILURES["403"],
          "414": REQUEST_FAILURES["414"],
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Counters in Prometheus' text format",
        operationId: "metrics",
        responses: {
          "200": {
            description: "Metrics.",
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...REQUEST_FAILURES,
        },
      },
    },
  };
}

/** The document's components: the schemas, headers and security schemes the paths name. */
function apiComponents(): Record<string, unknown> {
  return {
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        description: "Needed when kv http runs with --tokens-file (not for /healthz).",
      },
    },
    headers: {
      Warning: {
        description: `Present when the answer is not guaranteed: 199 kv "<warning>".`,
        schema: { type: "string" },
      },
    },
    schemas: apiSchemas(),
  };
}

/** The schemas of the bodies the paths take and answer. */
function apiSchemas(): Record<string, unknown> {
  return { ...recordSchemas(), ...clusterSchemas() };
}

/** The schemas of a record, its parts, and what writing one answers. */
function recordSchemas(): Record<string, unknown> {
  return {
    Value: {
      description: "A string, a number, or an object of values.",
      oneOf: [
        { type: "string" },
        { type: "number" },
        { type: "object", additionalProperties: ref("Value") },
      ],
    },
    Entry: {
      type: "object",
      required: ["key", "value", "version"],
      properties: {
        key: { type: "string" },
        value: { allOf: [ref("Value")], nullable: true },
        version: {
          ...VERSION,
          nullable: true,
          description: "The version of the record read, the newest among its replicas; " +
            "null when there is no such record or field.",
        },
        warning: { type: "string" },
      },
    },
    QueryEntry: {
      allOf: [ref("Entry"), {
        type: "object",
        properties: { path: { type: "array", items: { type: "string" } } },
      }],
    },
    PutResult: {
      type: "object",
      required: ["key", "version"],
      properties: {
        key: { type: "string" },
        version: { ...VERSION, description: "The version written on every replica." },
      },
    },
    Replicas: {
      type: "object",
      required: ["key", "agree", "replicas"],
      properties: {
        key: { type: "string" },
        agree: { type: "boolean", description: "Every replica that answered holds one version." },
        replicas: {
          type: "array",
          items: {
            type: "object",
            required: ["server", "state"],
            properties: {
              server: { type: "string" },
              state: { type: "string", enum: ["found", "deleted", "missing", "unreachable"] },
              version: { ...VERSION, description: "found and deleted: the copy's version." },
              value: { allOf: [ref("Value")], description: "found: the copy's value." },
              error: { type: "string", description: "unreachable: why." },
            },
          },
        },
      },
    },
    DeleteResult: {
      type: "object",
      required: ["key", "deleted", "version"],
      properties: {
        key: { type: "string" },
        deleted: { type: "boolean" },
        version: { ...VERSION, description: "The tombstone's version, on every replica." },
      },
    },
  };
}

/** The schemas of listings, servers, health and errors. */
function clusterSchemas(): Record<string, unknown> {
  return {
    KeysPage: {
      type: "object",
      properties: {
        keys: { type: "array", items: { type: "string" } },
        more: { type: "boolean" },
        warning: { type: "string" },
      },
    },
    Server: {
      type: "object",
      properties: {
        server: { type: "string" },
        up: { type: "boolean" },
        records: { type: "integer" },
        latencyMs: { type: "number" },
        repaired: {
          type: "boolean",
          description: "False while the server may lack writes it acknowledged (up only).",
        },
        hints: { type: "integer", description: "Partitions whose copies wait to move here." },
        error: { type: "string" },
      },
    },
    Health: {
      type: "object",
      properties: {
        healthy: { type: "boolean" },
        up: { type: "integer" },
        unrepaired: {
          type: "integer",
          description: "Servers up that may lack writes they acknowledged (not yet repaired).",
        },
        servers: { type: "integer" },
        replicas: { type: "integer" },
      },
    },
    Error: {
      type: "object",
      required: ["error"],
      properties: { error: { type: "string" } },
    },
  };
}
