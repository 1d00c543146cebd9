/**
 * The OpenAPI 3 description of `kv http`'s JSON API, served at
 * `/v1/openapi.json`.
 *
 * @example
 * ```ts
 * import { openApiDocument } from "./openapi.ts";
 * JSON.stringify(openApiDocument("0.1.0", { bodyTimeoutMs: 10_000 })).length > 0;
 * ```
 * @module
 */

import { invariant } from "../base/invariant.ts";
import {
  allowedMethods,
  PUBLIC_PATHS,
  QUERY_PARAMETERS,
  type RouteMethod,
  ROUTES,
} from "./routes.ts";
import { CONSOLE_PATHS } from "./assets.ts";
import { LIST_PAGE_SIZE, MAX_KEYS_PAGE } from "../client/core.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import { VERSION_BYTES, VERSION_TEXT_LENGTH } from "../record/version.ts";

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const answer = (description: string, schema: string) => ({
  description,
  headers: { Warning: { $ref: "#/components/headers/Warning" } },
  content: json(ref(schema)),
});
const failure = (description: string) => ({ description, content: json(ref("Error")) });
const text = (description: string, type: string) => ({
  description,
  content: { [type]: { schema: { type: "string" } } },
});
type Responses = Record<string, unknown>;
type Operation = { responses: Responses } & Record<string, unknown>;

/** The methods an OpenAPI path item can describe, in the server's terms. */
const OPENAPI_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"];

/** What a request for a record's key or fields may be refused as before its method is looked at. */
const BAD_PERCENT_ENCODING = failure("A path segment's percent-encoding is bad.");
const BAD_REQUEST = failure(
  "A bad key, path, value or parameter (or one the operation does not take); the message " +
    "says what.",
);
const UNKNOWN_PARAMETER = failure(
  "A query parameter the operation does not take (a typo would otherwise be ignored), " +
    "or one given twice.",
);
const UNAVAILABLE = failure(
  "The cluster could not answer (replicas unreachable), or the server is busy " +
    "(--max-concurrent-requests, --max-answer-bytes); with Retry-After either way.",
);

/** A read whose servers vouch that there is no record (a `schema` with a null value). */
const absent = (description: string, schema: string) => ({
  description: `${description} The servers that answered vouch for it: never with a warning.`,
  content: json(ref(schema)),
});

/**
 * A read that found nothing and cannot vouch for the record's absence (a `schema` with a
 * null value and its warning), or the server busy.
 */
const unvouched = (schema: string) => ({
  description: "Nothing found, but too few of the key's servers answered to vouch that " +
    "the record is absent, so it may exist: value is null and the warning says which " +
    "servers were missing; or the server is busy (an Error); with Retry-After either way.",
  headers: { Warning: { $ref: "#/components/headers/Warning" } },
  content: json({ oneOf: [ref(schema), ref("Error")] }),
});

/**
 * What any request to `path` may answer, whatever it asks: a URL past the limit, a name
 * other than loopback's, the server busy, an internal error, and, but for the public paths,
 * a missing token.
 */
function requestFailures(path: string): Responses {
  const token = PUBLIC_PATHS.has(path) ? {} : {
    "401": failure(
      "With --tokens-file: no 'Authorization: Bearer' of a listed token; WWW-Authenticate " +
        `has error="invalid_token" when a bearer token was sent that is not listed.`,
    ),
  };
  return {
    ...token,
    "403": failure(
      "On loopback without --tokens-file: a Host other than localhost, 127.0.0.0/8 or [::1].",
    ),
    "414": failure("The URL's path and query are over --max-path-bytes."),
    "500": failure("An internal error (a bug): the server's log has the details."),
    "503": failure(
      "The server is busy (--max-concurrent-requests; --max-answer-bytes, for a long " +
        "answer), or not yet connected to the cluster as it starts; with Retry-After.",
    ),
  };
}

const VERSION = {
  type: "string",
  pattern: `^[0-9a-f]{${VERSION_TEXT_LENGTH}}$`,
  description: `The record's version: ${VERSION_TEXT_LENGTH} hex digits of its ${VERSION_BYTES} ` +
    "bytes, so versions sort as text in version order (like Deno KV's versionstamp); a later " +
    "write of a key has a greater one.",
  example: "0193813bcc0000000000002a",
};
/**
 * Null and nothing else, as OpenAPI 3.0 writes it: `nullable` admits null only beside a
 * `type` (3.0.3, Schema Object), so the `nullable` beside `allOf` that `Entry.value` had
 * admitted nothing more, and a 404's `"value":null` failed its own document's schema.
 */
const NULL_ONLY = { type: "string", nullable: true, enum: [null] };
const KEY_PARAMETER = {
  name: "key",
  in: "path",
  required: true,
  description: `The record key: 1 to ${MAX_KEY_BYTES} UTF-8 bytes, without '.', percent-encoded.`,
  schema: { type: "string" },
};

/** What the document says of the server it describes, beyond its version. */
export interface OpenApiOptions {
  /** The server's wait for a request's body, in ms (HttpApiOptions.bodyTimeoutMs). */
  bodyTimeoutMs: number;
}

/**
 * The OpenAPI 3.0 document for this version of kv, as a server with `options` serves it.
 *
 * @example
 * ```ts
 * openApiDocument("0.1.0", { bodyTimeoutMs: 10_000 }).openapi; // "3.0.3"
 * ```
 */
export function openApiDocument(
  version: string,
  options: OpenApiOptions,
): Record<string, unknown> & { openapi: string } {
  return {
    openapi: "3.0.3",
    info: {
      title: "kv",
      version,
      description: "A distributed, fault-tolerant key-value store. Values are JSON: strings, " +
        "numbers and objects; a number written with '.' or an exponent (2.0) is a float, " +
        "any other an int. A warning (an answer the cluster cannot guarantee) is in the " +
        "body's `warning` and in a `Warning` header. Answers but the console's files are " +
        "sent with `Cache-Control: no-store`: each is the cluster's state at that moment.",
    },
    paths: apiPaths(options),
    security: [{}, { bearer: [] }],
    components: apiComponents(),
  };
}

/**
 * The document's paths: every route of routes.ts with each method it takes, HEAD where it
 * takes GET, and every other method as the 405 the server answers; every operation with
 * the failures any request may get.
 */
function apiPaths(options: OpenApiOptions): Record<string, unknown> {
  const operations: Record<string, Partial<Record<RouteMethod, Operation>>> = {
    ...recordOperations(options),
    ...clusterOperations(),
    ...documentOperations(),
  };
  return Object.fromEntries(
    Object.entries(ROUTES).map(([path, methods]) => {
      const item: Record<string, unknown> = {};
      const parameters = pathParameters(path);
      if (parameters.length > 0) item.parameters = parameters;
      for (const method of OPENAPI_METHODS) {
        item[method.toLowerCase()] = methodOperation(path, methods, method, operations[path]);
      }
      return [path, item];
    }),
  );
}

/** The operation `method` is on `path`: the route's own, GET's as HEAD, or a 405. */
function methodOperation(
  path: string,
  methods: readonly RouteMethod[],
  method: string,
  operations: Partial<Record<RouteMethod, Operation>> = {},
): Operation {
  const allowed = allowedMethods(methods);
  // A route's own answers win over the common ones (a 503 of its own says more).
  const common = requestFailures(path);
  if (!allowed.includes(method)) {
    const refused = path.startsWith("/v1/records/") ? { "400": BAD_PERCENT_ENCODING } : {};
    const list = allowed.join(", ");
    return {
      summary: `Not allowed: the server answers 405 with Allow: ${list}`,
      responses: { ...common, ...refused, "405": failure(`Not allowed; Allow lists ${list}.`) },
    };
  }
  const own = operations[method === "HEAD" ? "GET" : method as RouteMethod];
  invariant(own !== undefined, `routes.ts serves ${method} ${path}; document it`);
  const queried = ((own.parameters ?? []) as { name: string; in: string }[])
    .filter((parameter) => parameter.in === "query").map((parameter) => parameter.name);
  const taken = method === "GET" || method === "HEAD" ? QUERY_PARAMETERS[path] ?? [] : [];
  invariant(queried.join() === taken.join(), `${method} ${path} documents the parameters it takes`);
  // Any other parameter is refused, but on the console's files; a route's own 400 says more.
  const unknown = CONSOLE_PATHS.has(path) ? {} : { "400": UNKNOWN_PARAMETER };
  const responses = { ...common, ...unknown, ...own.responses };
  if (method !== "HEAD") return { ...own, responses };
  // HEAD is GET without the body (RFC 9110 9.3.2): GET's statuses, no content.
  const bodiless = Object.fromEntries(
    Object.entries(responses).map(([status, response]) => [status, {
      description: (response as { description: string }).description,
    }]),
  );
  return {
    ...own,
    summary: `${own.summary}, without the body`,
    operationId: `${own.operationId}Head`,
    responses: bodiless,
  };
}

/** The path parameters of a path template. */
function pathParameters(path: string): unknown[] {
  if (!path.startsWith("/v1/records/")) return [];
  if (!path.endsWith("{fields}")) return [KEY_PARAMETER];
  return [KEY_PARAMETER, {
    name: "fields",
    in: "path",
    required: true,
    description: "Field names separated by '/', each percent-encoded (QUERY key.f1.f2).",
    schema: { type: "string" },
  }];
}

/** The operations on one record: read, write and delete it, or read some of its fields. */
function recordOperations(
  options: OpenApiOptions,
): Record<string, Partial<Record<RouteMethod, Operation>>> {
  return {
    "/v1/records/{key}": {
      GET: getOperation(),
      PUT: putOperation(options),
      DELETE: deleteOperation(),
    },
    "/v1/records/{key}/{fields}": {
      GET: {
        summary: "Read a value inside a record",
        operationId: "query",
        responses: {
          "200": answer("The value at the path.", "QueryEntry"),
          "400": BAD_REQUEST,
          "404": absent("No such record or field; `missing` says which.", "QueryEntry"),
          "503": unvouched("QueryEntry"),
        },
      },
    },
  };
}

/** GET of one record by its key, or of each replica's copy. */
function getOperation(): Operation {
  return {
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
      "400": BAD_REQUEST,
      "404": absent("No such record (value is null).", "Entry"),
      "503": unvouched("Entry"),
    },
  };
}

/** PUT of one record, as JSON or a record line. */
function putOperation({ bodyTimeoutMs }: OpenApiOptions): Operation {
  return {
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
      description: "The value as JSON (application/json, any +json type, or no Content-Type), " +
        "or a record line (any dialect) whose key is {key} as text/plain.",
    },
    responses: {
      "200": answer("Stored on every replica.", "PutResult"),
      "400": failure(
        "A bad key, value or record line, or no body; or a precondition (If-Match, " +
          "If-None-Match, If-Unmodified-Since, If-Modified-Since): kv has no conditional " +
          "writes. The message says what.",
      ),
      "413": failure("The body is over --max-body-bytes."),
      "415": failure(
        "A Content-Type other than JSON or text/plain (Accept names those), or a " +
          "Content-Encoding other than identity.",
      ),
      "408": failure(
        `The body did not all arrive within ${bodyTimeoutMs} ms (the connection is closed).`,
      ),
      "503": UNAVAILABLE,
    },
  };
}

/** DELETE of one record. */
function deleteOperation(): Operation {
  return {
    summary: "Delete a record from all its replicas",
    operationId: "delete",
    responses: {
      "200": answer("Deleted.", "DeleteResult"),
      "400": failure(
        "A bad key, or a precondition (If-Match and the like): kv has no conditional " +
          "writes. The message says what.",
      ),
      "404": absent(
        "There was no such record: none, or deleted already (the key's newest version on " +
          "the servers that answered is a tombstone, as a GET would say); deleted is false.",
        "DeleteResult",
      ),
      "503": {
        description: "Deleted all the same, but nothing was found and too few of the " +
          "key's servers answered to vouch that there was no record, so it may have existed: " +
          "deleted is false, and the warning names the servers that did not answer and, " +
          "when the deletion was stored beyond them, that reads may still find the record " +
          "until the deletion is moved home, which kv http does once they can store it " +
          "(nothing to repeat). Or an Error: the cluster could not take the deletion (fewer " +
          "than k servers reachable; nothing was changed: repeat it once they are back), or " +
          "the server is busy.",
        headers: { Warning: { $ref: "#/components/headers/Warning" } },
        content: json({ oneOf: [ref("DeleteResult"), ref("Error")] }),
      },
    },
  };
}

/** The operations about the cluster and its keys: listings, servers, health and metrics. */
function clusterOperations(): Record<string, Partial<Record<RouteMethod, Operation>>> {
  return {
    "/v1/keys": { GET: keysOperation() },
    "/v1/servers": {
      GET: {
        summary: "Each server: up with records and latency, or down and why",
        operationId: "servers",
        responses: {
          "200": {
            description: "The servers.",
            content: json({
              type: "object",
              required: ["servers"],
              properties: {
                servers: { type: "array", items: ref("Server") },
                advice: {
                  type: "string",
                  description: "What to do, when kv servers would advise it: the kv repair " +
                    "command that repairs the servers named (not yet repaired); for servers " +
                    "repaired under another server list or k, that command if kv http's list " +
                    "is the new one being rolled out, else to give it the cluster's server " +
                    "file; or the servers' k problem and the commands that settle it.",
                },
              },
            }),
          },
        },
      },
    },
    "/healthz": {
      GET: {
        summary: "Whether every key can be read exactly (fewer than k servers down)",
        operationId: "healthz",
        responses: {
          "200": { description: "Healthy.", content: json(ref("Health")) },
          "503": {
            description: "k or more servers are down or unrepaired: reads may not be exact " +
              "(or the server is busy: an Error with Retry-After).",
            content: json({ oneOf: [ref("Health"), ref("Error")] }),
          },
        },
      },
    },
    "/metrics": {
      GET: {
        summary: "Counters in Prometheus' text format",
        operationId: "metrics",
        responses: { "200": text("Metrics.", "text/plain") },
      },
    },
  };
}

/** GET of one page of keys. */
function keysOperation(): Operation {
  return {
    summary: "List keys in byte order, a page at a time",
    operationId: "keys",
    parameters: [
      { name: "prefix", in: "query", schema: { type: "string", default: "" } },
      {
        name: "limit",
        in: "query",
        schema: { type: "integer", minimum: 1, maximum: MAX_KEYS_PAGE, default: LIST_PAGE_SIZE },
      },
      {
        name: "after",
        in: "query",
        description: "List keys after this one: the previous page's last key.",
        schema: { type: "string" },
      },
    ],
    responses: {
      "200": answer("One page of keys.", "KeysPage"),
      "400": BAD_REQUEST,
      "503": UNAVAILABLE,
    },
  };
}

/** The operations that serve documents: this description and the web console's files. */
function documentOperations(): Record<string, Partial<Record<RouteMethod, Operation>>> {
  const file = (operationId: string, summary: string, type: string) => ({
    GET: { summary, operationId, responses: { "200": text(summary, type) } },
  });
  return {
    "/v1/openapi.json": {
      GET: {
        summary: "This document",
        operationId: "openapi",
        responses: { "200": { description: "The OpenAPI 3 document.", content: json({}) } },
      },
    },
    "/": file("console", "The web console's page", "text/html"),
    "/console.js": file("consoleScript", "The web console's script", "text/javascript"),
    "/console.css": file("consoleStyle", "The web console's style sheet", "text/css"),
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
  return { ...recordSchemas(), ...writeSchemas(), ...clusterSchemas() };
}

/** The schemas of a record and its parts, as reads answer them. */
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
        value: {
          oneOf: [ref("Value"), NULL_ONLY],
          description: "The record's value, or the value at the path; null when there is none.",
        },
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
        properties: {
          path: { type: "array", items: { type: "string" } },
          missing: {
            type: "object",
            required: ["reason"],
            description: "When value is null: why, as the replica of the newest version " +
              "answered. no-record: the key holds none. no-field: the object at path " +
              "without its last name has no field of that name; closest is its field " +
              "nearest the name, when one is a typo or a letter case away. not-object: " +
              "path holds value, a string or number, where the query went on.",
            properties: {
              reason: { type: "string", enum: ["no-record", "no-field", "not-object"] },
              path: { type: "array", items: { type: "string" } },
              closest: { type: "string" },
              value: { oneOf: [{ type: "string" }, { type: "number" }] },
            },
          },
        },
      }],
    },
    Replicas: {
      type: "object",
      required: ["key", "agree", "replicas"],
      properties: {
        key: { type: "string" },
        agree: {
          type: "boolean",
          description: "Every replica that answered holds one version; false when none answered.",
        },
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
  };
}

/** The schemas of what writing a record (PUT, DELETE) answers. */
function writeSchemas(): Record<string, unknown> {
  return {
    PutResult: {
      type: "object",
      required: ["key", "version"],
      properties: {
        key: { type: "string" },
        version: { ...VERSION, description: "The version written on every replica." },
        warning: {
          type: "string",
          description: "Set when servers that stored it are marked repaired under another " +
            "server list or k: clients on that list may not see it until kv repair; when " +
            "it was stored beyond the first 2k-1 servers of its key's list: reads may miss " +
            "it until it is moved home; or when too few servers answered to vouch for every " +
            "earlier write: one they hold may carry a later version and win over it.",
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
        warning: { type: "string" },
      },
    },
  };
}

/** The schemas of listings, servers, health and errors. */
function clusterSchemas(): Record<string, unknown> {
  return {
    KeysPage: {
      type: "object",
      required: ["keys", "more"],
      properties: {
        keys: { type: "array", items: { type: "string" } },
        more: { type: "boolean" },
        warning: { type: "string" },
      },
    },
    Server: {
      type: "object",
      required: ["server", "up", "hints"],
      properties: {
        server: { type: "string" },
        up: { type: "boolean" },
        records: { type: "integer" },
        latencyMs: { type: "number" },
        repaired: {
          type: "boolean",
          description: "False while the server may lack writes it acknowledged, was " +
            "repaired under another server list, or is being re-marked by a kv repair (up only).",
        },
        repairedUnderOtherList: {
          type: "boolean",
          description: "Up only: marked repaired under another server list (or k) than " +
            "kv http's, so not trusted until kv repair -s FILE over this list marks it.",
        },
        beingRemarked: {
          type: "boolean",
          description: "Up only: a kv repair that changes the server list or k, or refills " +
            "this server, has marked it as being re-marked and has not yet marked it under its " +
            "list (under way, or stopped before its end: then run kv repair -s FILE with the " +
            "cluster's server list).",
        },
        readOnly: {
          type: "boolean",
          description: "Up only: the server refuses every write (READ_ONLY: its data dir " +
            "cannot be written, a full or failing disk) and serves reads; its log says why.",
        },
        hints: { type: "integer", description: "Partitions whose copies wait to move here." },
        k: { type: "integer", description: "The cluster's k as the server records it; 0: none." },
        error: { type: "string" },
        refused: {
          type: "boolean",
          description: "Down only: running, but it refused kv http's credentials (--auth-file) " +
            "or its certificate was refused (--tls-ca), or it is a kv server of another protocol " +
            "version (upgrade the older kv), or it is no kv server (it answered in HTTP, or as " +
            "SSH, Redis or another server): fix those, or the server file, not the server.",
        },
        busy: {
          type: "boolean",
          description: "Down only: running, but it turned kv http away with BUSY, at its " +
            "--max-connections (or memory budget): it needs room, not restarting.",
        },
      },
    },
    Health: {
      type: "object",
      required: ["healthy", "up", "unrepaired", "servers", "replicas"],
      properties: {
        healthy: { type: "boolean" },
        up: { type: "integer" },
        unrepaired: {
          type: "integer",
          description: "Servers up not trusted: they may lack writes they acknowledged (not " +
            "yet repaired), or were repaired under another server list or k.",
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
