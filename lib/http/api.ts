/**
 * The HTTP API over the client library: routes, limits, JSON answers,
 * warnings, metrics, and the web console's files. {@link HttpApi.handle} is a
 * `Deno.serve` handler; lib/cli/http.ts serves it.
 *
 * | route                                  | answer                                           |
 * | -------------------------------------- | ------------------------------------------------ |
 * | `GET /v1/records/{key}`                | 200 `{key, value, version}`, 404, or 503         |
 * | `GET /v1/records/{key}/{field}/…`      | 200 `{key, value, version, path}` (QUERY), 404 or 503 with `missing` |
 * | `GET /v1/records/{key}?replicas=true`  | 200 `{key, agree, replicas: [{server, state, version}]}` |
 * | `PUT /v1/records/{key}`                | JSON value or `text/plain` record line: 200, 400, 415 |
 * | `DELETE /v1/records/{key}`             | 200 `{key, deleted: true, version}`, 404, 503    |
 * | `GET /v1/keys?prefix=&limit=&after=`   | 200 `{keys, more}`                               |
 * | `GET /v1/servers`                      | 200 `{servers: […], advice?}`                    |
 * | `GET /healthz`                         | 200, or 503 when k or more are down or unrepaired |
 * | `GET /metrics`                         | Prometheus text                                  |
 * | `GET /v1/openapi.json`                 | the OpenAPI 3 document                           |
 * | `GET /`, `/console.js`, `/console.css` | the web console                                  |
 *
 * Values are JSON with kv's kinds kept: a float is written with a `.` or an
 * exponent (`2.0`), an int without, and a JSON body is read the same way.
 * Failures are `{error}`: 400 for the caller's mistake, 503 when the cluster
 * cannot answer (or the server is busy), 413 and 414 past the size limits. A read
 * that found nothing is a 404 only when the servers that answered vouch for the
 * record's absence, else a 503 with the entry and its warning (the record may exist);
 * so is a DELETE that found nothing (its tombstone is written either way).
 *
 * @example
 * ```ts
 * import { connect } from "../client/kv.ts";
 * import { HttpApi } from "./api.ts";
 * const kv = await connect({ servers: "serverFile.txt" });
 * const api = new HttpApi(kv, { version: "0.1.0" });
 * Deno.serve({ port: 8080 }, (request, info) => api.handle(request, info));
 * ```
 * @module
 */
import { coreOf, type Kv } from "../client/kv.ts";
import {
  type JsonEntry,
  type KvCore,
  MAX_KEYS_PAGE,
  type QueryMissing,
  replicasAgree,
} from "../client/core.ts";
import { KvInputError, KvUnavailableError } from "../client/errors.ts";
import { Float, toValue } from "../client/values.ts";
import { parseRecordLine, type RecordLine, RecordParseError } from "../record/parse.ts";
import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  DOUBLE_QUOTE,
  OPEN_BRACE,
  OPEN_BRACKET,
} from "../record/grammar.ts";
import { toJsonText, type Value } from "../record/value.ts";
import { oneLine } from "../record/key.ts";
import { MAX_LINE_BYTES, MAX_NESTING_DEPTH } from "../limits.ts";
import { describeError } from "../base/describe_error.ts";
import { concatBytes } from "../base/bytes.ts";
import { hostPort, isLoopback } from "../base/host_port.ts";
import { consoleAsset } from "./assets.ts";
import { AnswerBudget, AnswerBudgetError, DEFAULT_MAX_ANSWER_BYTES } from "./answer_budget.ts";
import { Metrics, type Outcome } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import type { BearerTokens, TokenCheck } from "./tokens.ts";
import type { GuardClosure } from "./connection_guard.ts";
import {
  allowedMethods,
  PUBLIC_PATHS,
  QUERY_PARAMETERS,
  type RouteMethod,
  ROUTES,
} from "./routes.ts";
import { DEFAULT_REPAIR_COMMAND, missingJson, serversAdvice } from "../broker/commands.ts";

/** Largest request body accepted by default: one record line (1 MiB) plus room for JSON's quoting. */
export const DEFAULT_MAX_BODY_BYTES = 2 * MAX_LINE_BYTES;
/** Longest URL path and query accepted by default: a 4 KiB query path percent-encoded, and more. */
export const DEFAULT_MAX_PATH_BYTES = 16 * 1024;
/**
 * Longest wait for a request's body by default, in ms: a client that declares more than
 * it sends (or sends it a byte at a time) would otherwise hold one of the
 * {@link DEFAULT_MAX_CONCURRENT_REQUESTS} slots for good, and enough of them every slot.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/**
 * Seconds a 503 tells a client to wait before it asks again (`Retry-After`): about one
 * reconnect attempt of a down server, or one request's turn when kv http is busy.
 */
const RETRY_AFTER_SECONDS = "1";

/** Requests answered at once by default; more get 503 with `Retry-After`. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 1024;

/** Options for {@link HttpApi}. */
export interface HttpApiOptions {
  /** kv's version, for the OpenAPI document; default "0.0.0". */
  version?: string;
  /** Largest request body in bytes; default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Longest wait for a request's whole body in ms, else 408; default {@link DEFAULT_BODY_TIMEOUT_MS}. */
  bodyTimeoutMs?: number;
  /** Longest URL path plus query in bytes; default {@link DEFAULT_MAX_PATH_BYTES}. */
  maxPathBytes?: number;
  /** Requests answered at once; default {@link DEFAULT_MAX_CONCURRENT_REQUESTS}. */
  maxConcurrentRequests?: number;
  /**
   * Bytes of large answers held at once, from when each is made until its client has taken
   * it; past it 503 with `Retry-After` (answer_budget.ts); default {@link DEFAULT_MAX_ANSWER_BYTES}.
   */
  maxAnswerBytes?: number;
  /**
   * Receives a line for each internal error, without a program's name: kv http's logger puts
   * `kv http error: ` before it; default `console.error`.
   */
  log?: (message: string) => void;
  /**
   * Receives a line for each request refused for a bearer token that is not listed (at most
   * once a second per client address, with a count of the others), without a program's name:
   * the sign of a token being guessed. Default `console.warn`.
   */
  warn?: (message: string) => void;
  /**
   * Bearer tokens every request must carry but those for the console's files and
   * `/healthz`; default none (no authentication).
   */
  tokens?: BearerTokens;
  /**
   * Serve only requests addressed to this machine's loopback by name (`Host` localhost,
   * 127.0.0.0/8 or [::1]), refusing others with 403: what a `kv http` on loopback without
   * tokens needs, since any web page this machine's browser opens can point a host name
   * of its own at 127.0.0.1 and then read and write through it as its own origin (DNS
   * rebinding). Default false.
   */
  loopbackHostsOnly?: boolean;
  /**
   * Serve only requests addressed to an IP address or localhost (`Host` an address, not a
   * name), refusing others with 403: what a `kv http` on another address without tokens
   * (`--insecure`) needs, since a web page any browser that reaches it opens can point a
   * name of its own at it (DNS rebinding); a page cannot send an address as its `Host`
   * without being of kv http's own origin. Default false.
   */
  addressHostsOnly?: boolean;
  /**
   * The `kv repair` command over the cluster's server file (and credentials) that
   * `/v1/servers`' `advice` names, e.g. `kv repair -s servers.txt`; default
   * `DEFAULT_REPAIR_COMMAND` (`kv repair -s FILE`).
   */
  repairCommand?: string;
}

/** An HTTP failure with its status; thrown inside a route, answered as `{error}`. */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: HeadersInit = {}) {
    super(message);
  }
}

/** One route: its name in metrics, the methods it takes, and what answers it. */
interface Route {
  readonly operation: string;
  /** The methods of its path (routes.ts). */
  readonly methods: readonly RouteMethod[];
  /** The route's path template (routes.ts), for the query parameters it takes; none: unchecked. */
  readonly template?: string;
  run(): Promise<Response>;
}

const JSON_TYPE = "application/json";
const RECORDS_PREFIX = "/v1/records/";

/**
 * The operations that write: made whatever their client does once their body has come.
 * A write's library call given up would not unsend it (the protocol has no cancel): it may
 * be applied on some or all of its replicas, or none, as a client cut off mid-answer
 * already has to assume; made to its end it is at least counted in `/metrics` by what it
 * did. Every other route is given up when its client hangs up.
 */
const WRITES: ReadonlySet<string> = new Set(["put", "delete"]);

/**
 * The status of the answer to a request whose client hung up (nginx's "client closed
 * request"): nobody receives it; it names no outcome of the server's.
 */
const CLIENT_CLOSED = 499;

/** A request whose client hung up before its answer; `answer`: its read still under way, if any. */
class HungUp extends Error {
  constructor(readonly answer?: Promise<Response>) {
    super("the client closed the connection before its answer");
  }
}

/**
 * `run()`'s answer, or a {@link HungUp} once `signal` (the request's, which `Deno.serve`
 * aborts when its client closes the connection) aborts: nothing is run for a request
 * already given up. The listener is removed as the answer comes.
 */
function untilHungUp(run: () => Promise<Response>, signal: AbortSignal): Promise<Response> {
  if (signal.aborted) return Promise.reject(new HungUp());
  const answer = run();
  return new Promise((resolve, reject) => {
    const hungUp = () => reject(new HungUp(answer));
    signal.addEventListener("abort", hungUp, { once: true });
    answer.then(resolve, reject).finally(() => signal.removeEventListener("abort", hungUp));
  });
}

/**
 * The routes of `kv http` over one {@link Kv}, which must be opened with
 * `floats: "tagged"` so that floats keep their kind in JSON.
 *
 * @example
 * ```ts
 * import { connect } from "../client/kv.ts";
 * const api = new HttpApi(await connect({ servers: "serverFile.txt", floats: "tagged" }));
 * const response = await api.handle(new Request("http://localhost/v1/records/person1"));
 * ```
 */
export class HttpApi {
  readonly #kv: KvCore;
  readonly #version: string;
  readonly #maxBodyBytes: number;
  readonly #bodyTimeoutMs: number;
  readonly #maxPathBytes: number;
  readonly #maxConcurrent: number;
  readonly #log: (message: string) => void;
  readonly #warn: (message: string) => void;
  /** Per client address, when a refused token was last logged and how many since were not. */
  readonly #refusalsLogged = new Map<string, { at: number; unlogged: number }>();
  readonly #tokens: BearerTokens | undefined;
  readonly #loopbackHostsOnly: boolean;
  readonly #addressHostsOnly: boolean;
  readonly #repairCommand: string;
  readonly #metrics = new Metrics();
  readonly #answers: AnswerBudget;
  #inFlight = 0;

  /**
   * Serves `kv`.
   *
   * @param kv the cluster, opened with `floats: "tagged"`.
   * @param options limits and version; see {@link HttpApiOptions}.
   */
  constructor(kv: Kv, options: HttpApiOptions = {}) {
    this.#kv = coreOf(kv);
    this.#version = options.version ?? "0.0.0";
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    this.#maxPathBytes = options.maxPathBytes ?? DEFAULT_MAX_PATH_BYTES;
    this.#maxConcurrent = options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS;
    this.#answers = new AnswerBudget(options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES);
    this.#log = options.log ?? console.error;
    this.#warn = options.warn ?? console.warn;
    this.#tokens = options.tokens;
    this.#loopbackHostsOnly = options.loopbackHostsOnly ?? false;
    this.#addressHostsOnly = options.addressHostsOnly ?? false;
    this.#repairCommand = options.repairCommand ?? DEFAULT_REPAIR_COMMAND;
    // /metrics' read_only gauge reads what the broker last heard; it never asks.
    this.#kv.broker.watchWrites();
  }

  /**
   * Answers one request; never throws. `info` (what `Deno.serve` and the connection guard
   * give a handler) names the client in the line logged for a token refused.
   *
   * @example
   * ```ts
   * import { connect } from "../client/kv.ts";
   * const api = new HttpApi(await connect({ servers: "serverFile.txt" }));
   * Deno.serve((request, info) => api.handle(request, info));
   * ```
   */
  async handle(request: Request, info?: { readonly remoteAddr: Deno.Addr }): Promise<Response> {
    const started = performance.now();
    this.#metrics.started();
    let operation = "other";
    let response: Response;
    // A refusal for the answers held is counted as one for the requests in flight is.
    let busy = false;
    if (this.#inFlight >= this.#maxConcurrent) {
      const requests = this.#maxConcurrent === 1 ? "request" : "requests";
      response = errorResponse(
        new HttpError(503, `busy: ${this.#maxConcurrent} ${requests} in flight`, {
          "Retry-After": RETRY_AFTER_SECONDS,
        }),
      );
      this.#metrics.observe(operation, "busy", (performance.now() - started) / 1000);
      return withCommonHeaders(response);
    }
    this.#inFlight++;
    // A read given up when its client hung up, still running: its place is freed once it ends.
    let abandoned: Promise<Response> | undefined;
    let hungUp = false;
    try {
      const url = requestUrl(request);
      const pathBytes = url.pathname.length + url.search.length;
      if (pathBytes > this.#maxPathBytes) {
        throw new HttpError(414, `the URL path is ${pathBytes} bytes, over ${this.#maxPathBytes}`);
      }
      this.#checkHost(url);
      // As sent: the URL's own path has '.' and '..' segments resolved, %2E too, so that
      // /v1/records/%2E named the key '' and /v1/records/a/%2E%2E/b the key 'b'.
      const path = rawPath(request.url);
      if (this.#tokens !== undefined && !PUBLIC_PATHS.has(path)) {
        await this.#checkToken(this.#tokens, request, info?.remoteAddr);
      }
      const route = this.#route(request, url, path);
      // A method the route does not take is no operation of it: counted as "other".
      allow(readMethod(request.method), route.methods);
      if (route.template !== undefined) checkParameters(url.searchParams, request, route.template);
      operation = route.operation;
      response = WRITES.has(operation)
        ? await route.run()
        : await untilHungUp(() => route.run(), request.signal);
    } catch (error) {
      busy = error instanceof AnswerBudgetError;
      // Gone before its answer: a read given up, or a PUT whose body never all came.
      hungUp = error instanceof HungUp;
      if (error instanceof HungUp) abandoned = error.answer;
      response = this.#failure(error);
    } finally {
      if (abandoned === undefined) this.#inFlight--;
      else this.#release(abandoned);
    }
    this.#metrics.observe(
      operation,
      busy ? "busy" : hungUp ? "client_closed" : outcomeOf(response.status),
      (performance.now() - started) / 1000,
    );
    return withCommonHeaders(response);
  }

  /**
   * Refuses, 401, a request without a listed bearer token; one whose token is not listed is
   * logged too (at most once a second per client address): a request without one is what the
   * console sends first, but a token not listed may be a guess, which only /metrics counted.
   */
  async #checkToken(
    tokens: BearerTokens,
    request: Request,
    peer: Deno.Addr | undefined,
  ): Promise<void> {
    const check = await tokens.check(request.headers.get("Authorization"));
    if (check === "invalid") this.#logRefusedToken(peer);
    checkToken(check);
  }

  /** Logs a refused token from `peer`, unless one from its address was logged this second. */
  #logRefusedToken(peer: Deno.Addr | undefined): void {
    const address = peer !== undefined && "hostname" in peer ? peer.hostname : "";
    const now = performance.now();
    const last = this.#refusalsLogged.get(address);
    if (last !== undefined && now - last.at < REFUSAL_LOG_INTERVAL_MS) {
      last.unlogged++;
      return;
    }
    if (this.#refusalsLogged.size >= MAX_TRACKED_REFUSED_PEERS) this.#refusalsLogged.clear();
    this.#refusalsLogged.set(address, { at: now, unlogged: 0 });
    const who = peer !== undefined && "hostname" in peer
      ? hostPort(peer.hostname, peer.port)
      : "a client";
    const others = last?.unlogged ? ` (and ${last.unlogged} more since the last report)` : "";
    this.#warn(`refused ${who}: a bearer token not in --tokens-file${others}`);
  }

  /**
   * Refuses, 403, a request addressed to a host this kv http does not serve without tokens
   * (`loopbackHostsOnly`, `addressHostsOnly`): `url`'s host is the request's Host header
   * (HTTP/2's :authority), which a web page rebinding a name of its own cannot choose.
   */
  #checkHost(url: URL): void {
    if (this.#loopbackHostsOnly && !isLoopback(url.hostname)) {
      throw new HttpError(
        403,
        `this kv http serves requests addressed to localhost, 127.0.0.1 or [::1] only, not ` +
          `'${url.host}': a web page can point another name at this machine; give kv http ` +
          "--tokens-file to serve other names",
      );
    }
    if (this.#addressHostsOnly && !isLoopback(url.hostname) && !isAddress(url.hostname)) {
      throw new HttpError(
        403,
        `this kv http serves requests addressed to an IP address or localhost only, not ` +
          `'${url.host}': a web page can point another name at this machine; give kv http ` +
          "--tokens-file to serve other names",
      );
    }
  }

  /**
   * Counts a connection the connection guard closed, for `/metrics`: its `onClosed`.
   *
   * @example
   * ```ts
   * import { connect } from "../client/kv.ts";
   * import { ConnectionGuard } from "./connection_guard.ts";
   * const api = new HttpApi(await connect({ servers: "serverFile.txt" }));
   * await ConnectionGuard.serve(
   *   { hostname: "127.0.0.1", port: 8080, onClosed: api.connectionClosed },
   *   (request, info) => api.handle(request, info),
   * );
   * ```
   */
  readonly connectionClosed = (why: GuardClosure): void => this.#metrics.connectionClosed(why);

  /**
   * Frees the place among the requests in flight of a read whose client hung up once the
   * read ends, and its answer, which nobody takes: an answer held by the {@link AnswerBudget}
   * until its body is taken or cancelled would otherwise stay counted for good. The place
   * stays taken until then because the read's server requests are under way until then,
   * and `--max-concurrent-requests` bounds them: clients hanging up at once would otherwise
   * start reads without bound on a server that does not answer.
   */
  #release(answer: Promise<Response>): void {
    answer
      .then((response) => response, (error) => this.#failure(error))
      .then((response) => response.body?.cancel())
      .finally(() => this.#inFlight--);
  }

  #route(request: Request, url: URL, path: string): Route {
    if (path.startsWith(RECORDS_PREFIX)) {
      const segments = path.slice(RECORDS_PREFIX.length).split("/").map(decodeSegment);
      if (segments.length > 1) {
        const template = "/v1/records/{key}/{fields}";
        const methods = ROUTES[template];
        return { operation: "query", methods, template, run: () => this.#query(segments) };
      }
      const [key] = segments;
      const template = "/v1/records/{key}";
      const methods = ROUTES[template];
      if (request.method === "PUT") {
        return {
          operation: "put",
          methods,
          template,
          run: () => {
            refuseConditions(request);
            return this.#put(key, request);
          },
        };
      }
      if (request.method === "DELETE") {
        return {
          operation: "delete",
          methods,
          template,
          run: () => {
            refuseConditions(request);
            return this.#delete(key);
          },
        };
      }
      const replicas = url.searchParams.get("replicas");
      return {
        operation: replicas === "true" ? "replicas" : "get",
        methods,
        template,
        run: () => {
          checkChoice("replicas", replicas, ["true", "false"]);
          return replicas === "true" ? this.#replicas(key) : this.#get(key);
        },
      };
    }
    const asset = consoleAsset(path);
    if (asset !== undefined) {
      return { operation: "console", methods: ROUTES[path], run: () => assetResponse(asset) };
    }
    const routes: Record<string, [string, () => Promise<Response>]> = {
      "/v1/keys": ["keys", () => this.#keys(url)],
      "/v1/servers": ["servers", () => this.#servers()],
      "/healthz": ["healthz", () => Promise.resolve(this.#health())],
      "/metrics": ["metrics", () => Promise.resolve(this.#metricsResponse())],
      "/v1/openapi.json": [
        "openapi",
        () =>
          Promise.resolve(
            json(
              this.#answers,
              200,
              openApiDocument(this.#version, { bodyTimeoutMs: this.#bodyTimeoutMs }),
            ),
          ),
      ],
    };
    const entry = routes[path];
    if (entry === undefined) throw new HttpError(404, `no route ${path}; see /v1/openapi.json`);
    return { operation: entry[0], methods: ROUTES[path], template: path, run: entry[1] };
  }

  async #get(key: string): Promise<Response> {
    const entry = await this.#kv.getJson(key);
    return entryResponse(this.#answers, answerStatus(entry.json !== null, entry.warning), entry);
  }

  async #replicas(key: string): Promise<Response> {
    const copies = await this.#kv.replicas(key);
    const members = copies.map((copy) => {
      const value = copy.state === "found" ? `,"value":${toJsonText(copy.value)}` : "";
      const version = "version" in copy ? `,"version":"${copy.version}"` : "";
      const error = copy.state === "unreachable" ? `,"error":${JSON.stringify(copy.error)}` : "";
      return `{"server":${JSON.stringify(copy.server)},"state":"${copy.state}"` +
        `${version}${value}${error}}`;
    });
    const text = `{"key":${JSON.stringify(key)},"agree":${replicasAgree(copies)},` +
      `"replicas":[${members.join(",")}]}`;
    return this.#answers.response(text, { headers: { "Content-Type": JSON_TYPE } });
  }

  async #query(path: string[]): Promise<Response> {
    const entry = await this.#kv.queryJson(path);
    return entryResponse(this.#answers, answerStatus(entry.json !== null, entry.warning), entry);
  }

  async #put(key: string, request: Request): Promise<Response> {
    const format = bodyFormat(request);
    checkCharset(request);
    const text = await readBody(request, this.#maxBodyBytes, this.#bodyTimeoutMs);
    if (text === "") throw new HttpError(400, "PUT needs a body: a JSON value or a record line");
    const value = format === "record line" ? recordLineValue(text, key) : jsonValue(text);
    const stored = await this.#kv.put(key, value);
    return json(this.#answers, 200, stored, stored.warning);
  }

  async #delete(key: string): Promise<Response> {
    const result = await this.#kv.delete(key);
    return json(
      this.#answers,
      answerStatus(result.deleted, result.warning),
      result,
      result.warning,
    );
  }

  async #keys(url: URL): Promise<Response> {
    const limitText = url.searchParams.get("limit");
    const limit = limitText === null
      ? undefined
      : /^\d+$/.test(limitText)
      ? Number(limitText)
      : NaN;
    if (limit !== undefined && !(limit >= 1 && limit <= MAX_KEYS_PAGE)) {
      throw new KvInputError(
        `limit must be a whole number from 1 to ${MAX_KEYS_PAGE}, got '${limitText}'`,
      );
    }
    const page = await this.#kv.keys({
      prefix: queryValue(url.search, "prefix") ?? "",
      after: queryValue(url.search, "after") ?? "",
      limit,
    });
    return json(this.#answers, 200, page, page.warning);
  }

  async #servers(): Promise<Response> {
    const servers = await this.#kv.servers();
    // What kv servers' text advises (a repair to run, the servers' k problem), if anything.
    const advice = serversAdvice(servers, this.#repairCommand);
    return json(this.#answers, 200, advice === undefined ? { servers } : { servers, advice });
  }

  /**
   * Healthy while fewer than k servers are down or unrepaired: the bound within which
   * every read is exact (lib/broker/quorum.ts). An unrepaired server answers, but may
   * lack acknowledged writes, so it counts against the bound as a down one does. A server
   * refusing writes (READ_ONLY) does not count: it serves every read exactly, and the probe
   * asks no server anything; `/v1/servers`' `readOnly` and `/metrics`'
   * `kv_servers{state="read_only"}` tell it (README, Decisions).
   */
  #health(): Response {
    const broker = this.#kv.broker;
    const servers = broker.pool.servers.length;
    const up = broker.pool.upCount;
    const unrepaired = this.#unrepairedCount();
    const healthy = servers - up + unrepaired < broker.k;
    return json(this.#answers, healthy ? 200 : 503, {
      healthy,
      up,
      unrepaired,
      servers,
      replicas: broker.k,
    });
  }

  /**
   * Servers up not trusted: their HELLO said unrepaired (they may lack writes they
   * acknowledged), or repaired under another server list than this one.
   */
  #unrepairedCount(): number {
    const pool = this.#kv.broker.pool;
    let unrepaired = 0;
    for (let index = 0; index < pool.servers.length; index++) {
      if (pool.trusted(index) === false) unrepaired++;
    }
    return unrepaired;
  }

  #metricsResponse(): Response {
    const broker = this.#kv.broker;
    const pool = broker.pool;
    const unrepaired = this.#unrepairedCount();
    const text = this.#metrics.text({
      up: pool.upCount,
      down: pool.servers.length - pool.upCount,
      unrepaired,
      readOnly: pool.refusingWritesCount,
      readRepairs: broker.readRepairsStarted,
      hintsWaiting: broker.hintCount,
    });
    return this.#answers.response(text, {
      // Prometheus' text format, whose exposition format names its charset too.
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }

  #failure(error: unknown): Response {
    if (error instanceof HttpError) return errorResponse(error);
    if (error instanceof HungUp) return errorResponse(new HttpError(CLIENT_CLOSED, error.message));
    if (error instanceof AnswerBudgetError) {
      return errorResponse(
        new HttpError(503, error.message, { "Retry-After": RETRY_AFTER_SECONDS }),
      );
    }
    if (error instanceof KvInputError) return errorResponse(new HttpError(400, error.message));
    if (error instanceof KvUnavailableError) {
      return errorResponse(
        new HttpError(503, error.message, { "Retry-After": RETRY_AFTER_SECONDS }),
      );
    }
    this.#log(
      `internal error (please report it): ${error instanceof Error ? error.stack : error}`,
    );
    return errorResponse(new HttpError(500, "internal error; the server's log has the details"));
  }
}

/**
 * The answer to a request that comes while `kv http` listens but has not yet connected to
 * the servers (it listens first, lib/cli/http.ts): a 503 with `Retry-After`, and the headers
 * every other answer carries, set in the one place that sets them.
 *
 * @example
 * ```ts
 * const response = startingResponse();
 * response.status; // 503
 * response.headers.get("X-Frame-Options"); // "DENY"
 * ```
 */
export function startingResponse(): Response {
  return withCommonHeaders(
    errorResponse(
      new HttpError(503, "starting: not yet connected to the servers", {
        "Retry-After": RETRY_AFTER_SECONDS,
      }),
    ),
  );
}

/**
 * HEAD is GET without the body (RFC 9110 9.3.2, which every general-purpose server must
 * take): routed and answered as GET, and `Deno.serve` sends no body in answer to HEAD.
 */
function readMethod(method: string): string {
  return method === "HEAD" ? "GET" : method;
}

function allow(method: string, methods: readonly RouteMethod[]): void {
  if (!(methods as readonly string[]).includes(method)) {
    const allowed = allowedMethods(methods).join(", ");
    throw new HttpError(405, `${method} is not allowed here; use ${allowed}`, { Allow: allowed });
  }
}

/** The preconditions of RFC 9110 (13.1) a write may carry, none of which kv can keep. */
const PRECONDITIONS = ["If-Match", "If-None-Match", "If-Unmodified-Since", "If-Modified-Since"];

/**
 * Refuses `request`, a PUT or DELETE, when it carries a precondition: kv has no
 * compare-and-set, so a write replaces the record whatever its version, and a client that
 * sent `If-Match: <version>` for optimistic concurrency had its write made unconditionally,
 * silently overwriting the change it meant to guard against.
 */
function refuseConditions(request: Request): void {
  const header = PRECONDITIONS.find((name) => request.headers.has(name));
  if (header !== undefined) {
    throw new HttpError(
      400,
      `${request.method} does not take ${header}: kv has no conditional writes (no ` +
        `compare-and-set); a ${request.method} applies whatever the record's version; send it ` +
        `without ${header}`,
    );
  }
}

/** What a request without a token is told to send. */
const NEEDS_TOKEN = "this server needs 'Authorization: Bearer <token>'";

/**
 * Refuses a request whose `Authorization` header `check` did not allow, with a 401 that says
 * which fault it is. A bearer token not listed gets RFC 6750's `error="invalid_token"`, so
 * that a client whose token was rotated away is not told to send a header it sends; no
 * header, or one of another scheme, gets none (RFC 6750 3.1: no error code when the
 * request carries no bearer credentials). Nothing of the header is quoted back: a token
 * sent without its scheme would be a secret echoed.
 */
function checkToken(check: TokenCheck): void {
  if (check === "allowed") return;
  if (check === "invalid") {
    throw new HttpError(
      401,
      "the bearer token is not one of this server's (kv http --tokens-file); check it, or " +
        "ask for a current one",
      {
        "WWW-Authenticate": `Bearer realm="kv", error="invalid_token", ` +
          `error_description="the token is not one of this server's"`,
      },
    );
  }
  const reason = check === "other-scheme"
    ? `${NEEDS_TOKEN}; the request's Authorization is of another scheme`
    : NEEDS_TOKEN;
  throw new HttpError(401, reason, { "WWW-Authenticate": `Bearer realm="kv"` });
}

/** A refused token is logged at most once per client address per this long. */
const REFUSAL_LOG_INTERVAL_MS = 1_000;

/** Client addresses whose last logged refusal is remembered; past it, all are forgotten. */
const MAX_TRACKED_REFUSED_PEERS = 4096;

/** Most characters of a client's header that an error quotes: a header may be long. */
const MAX_QUOTED_CHARS = 100;

/** `text`, a client's, cut to {@link MAX_QUOTED_CHARS} for an error to quote. */
function clipped(text: string): string {
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text;
}

/**
 * RFC 9110's Host: RFC 3986's host — an IP literal in brackets, or a name of unreserved
 * characters, %-escapes and sub-delimiters (an IPv4 address is one) — and an optional
 * `:port`. The URL parser then refuses what the grammar lets by (a port over 65535). A `%`
 * must start an escape here: behind the connection guard the URL is `http+unix:`, whose
 * parser takes a bare `%` in a host, which `http:`'s refuses.
 */
const HOST_PATTERN =
  /^(?:\[[0-9A-Za-z:.%~_-]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/;

/**
 * `request`'s URL, which Deno.serve builds from its Host header (HTTP/2's :authority) as
 * sent; a Host that is not `host[:port]` (`a b`, `x:y:z`, `[::1`, `%`, two hosts joined by
 * `, `) is the client's mistake: a 400, as RFC 9110 (7.2) asks, rather than the parser's
 * TypeError answered as an internal error.
 */
function requestUrl(request: Request): URL {
  const sent = request.headers.get("Host");
  const authority = authorityOf(request.url);
  // Behind the connection guard, a request without Host (HTTP/2's :authority) has for its
  // authority the inner server's socket path, which its 400 quoted back ('%2Ftmp%2Fkv…'):
  // the client's mistake named as one it did not make, and a path of this machine's shown.
  if (sent === null && request.url.startsWith(UNIX_SCHEME) && authority.startsWith("%2F")) {
    throw new HttpError(400, "the request has no Host header; send one (HTTP/1.1 requires it)");
  }
  const host = sent ?? authority;
  if (HOST_PATTERN.test(host)) {
    try {
      // Behind the connection guard the URL is `http+unix:`, whose host is opaque: kept as
      // sent, so `LOCALHOST` and `127.1` were no loopback names there. As `http:` it is
      // normalised as without the guard (lower case, `127.0.0.1`).
      const url = request.url.startsWith(UNIX_SCHEME)
        ? `http:${request.url.slice(UNIX_SCHEME.length)}`
        : request.url;
      return new URL(url);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }
  throw new HttpError(400, `bad Host header '${clipped(host)}'`);
}

/**
 * Whether `hostname`, a URL's (normalised: `127.1` is `127.0.0.1`), is an IP address: dotted
 * IPv4, or IPv6 in brackets.
 */
function isAddress(hostname: string): boolean {
  return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname.startsWith("[");
}

/** The scheme of the URLs of `Deno.serve` on a Unix socket: the connection guard's inner servers. */
const UNIX_SCHEME = "http+unix:";

/** The authority of a request's URL as sent: from the scheme to the path (see rawPath). */
function authorityOf(url: string): string {
  const start = url.indexOf("://") + 3;
  return url.slice(start, url.indexOf("/", start));
}

/**
 * The path of `url` as the client sent it: no dot segment resolved, still percent-encoded.
 * A URL without one came from a CONNECT's `host:port` target, the only request line that
 * names no path: the client's mistake (kv http is no proxy), a 400, not an internal error.
 */
function rawPath(url: string): string {
  // The host cannot hold a '/': the path is from the first one after the scheme.
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) {
    throw new HttpError(400, "the request names no path, as CONNECT does: kv http is no proxy");
  }
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

/**
 * Refuses a query parameter that the route of `template` does not take with `request`'s
 * method (GET's are in routes.ts, other methods take none): a typo would be ignored. One
 * given twice is refused too: its first value was taken and the other ignored.
 */
function checkParameters(parameters: URLSearchParams, request: Request, template: string): void {
  const method = readMethod(request.method);
  const taken = method === "GET" ? QUERY_PARAMETERS[template] ?? [] : [];
  for (const name of parameters.keys()) {
    if (!taken.includes(name)) {
      const takes = taken.length === 0 ? "takes none" : `takes only ${taken.join(", ")}`;
      throw new HttpError(400, `unknown query parameter '${name}': ${method} ${template} ${takes}`);
    }
    const times = parameters.getAll(name).length;
    if (times > 1) {
      throw new HttpError(
        400,
        `query parameter '${name}' given ${times} times: ${method} ${template} takes it once`,
      );
    }
  }
}

/** Refuses a value of parameter `name` other than `allowed` (absent, null, is allowed). */
function checkChoice(name: string, value: string | null, allowed: readonly string[]): void {
  if (value !== null && !allowed.includes(value)) {
    throw new HttpError(400, `${name} takes ${allowed.join(" or ")}, got '${value}'`);
  }
}

/**
 * The value of query parameter `name` in `search` (a URL's `?…`, as sent), percent-decoded
 * as a path segment is, bad encoding a 400; null when absent. URLSearchParams takes a bad
 * `%FF` as U+FFFD, which would name a key (a prefix, an `after`) nobody sent.
 */
function queryValue(search: string, name: string): string | null {
  for (const pair of search.slice(1).split("&")) {
    const split = pair.indexOf("=");
    const [rawName, rawValue] = split < 0
      ? [pair, ""]
      : [pair.slice(0, split), pair.slice(split + 1)];
    // In a query, '+' is a space (application/x-www-form-urlencoded), as URLSearchParams reads.
    if (decodeSegment(rawName.replaceAll("+", " ")) === name) {
      return decodeSegment(rawValue.replaceAll("+", " "));
    }
  }
  return null;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `bad percent-encoding in '${segment}'`);
  }
}

/**
 * The Content-Security-Policy of every answer but the console's page: it loads nothing, and
 * no page may frame it.
 */
const ANSWER_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The console page's Content-Security-Policy: its own script, style and API only (no inline
 * script, so an injected one would not run), its `data:` icon, no form sent anywhere (its
 * forms are the script's), and no page may frame it: a page framing it could lead a user's
 * click onto its PUT and DELETE forms, which act as the console's own origin (clickjacking).
 */
const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

/**
 * `response` with the headers every answer carries: no caching where it has not said (every
 * answer but the console's files is the cluster's state at that moment: HTTP caches keep a
 * 404 or a 200 heuristically, and a write a moment later would not show), no MIME sniffing
 * (a JSON value is never taken for HTML), and no framing, for browsers that know only
 * `X-Frame-Options`.
 */
function withCommonHeaders(response: Response): Response {
  const headers = response.headers;
  if (!headers.has("Cache-Control")) headers.set("Cache-Control", "no-store");
  if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", ANSWER_CSP);
  headers.set("X-Content-Type-Options", "nosniff");
  headers.set("X-Frame-Options", "DENY");
  return response;
}

function outcomeOf(status: number): Outcome {
  if (status < 300) return "ok";
  if (status === 404) return "not_found";
  if (status === 503) return "unavailable";
  if (status === 401) return "unauthorized";
  if (status < 500) return "bad_request";
  return "error";
}

async function assetResponse(
  asset: Promise<{ body: Uint8Array; type: string }>,
): Promise<Response> {
  const { body, type } = await asset;
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: {
      "Content-Type": type,
      "Cache-Control": "no-cache",
      "Content-Security-Policy": CONSOLE_CSP,
    },
  });
}

/** The charsets a body may declare: UTF-8, and ASCII, whose bytes UTF-8 reads alike. */
const UTF8_CHARSETS: readonly string[] = ["utf-8", "utf8", "us-ascii"];

/**
 * Refuses a body whose Content-Type declares a charset other than UTF-8 (or ASCII): the client
 * said what it sent, so "not valid UTF-8" would blame the bytes rather than the charset.
 */
function checkCharset(request: Request): void {
  const type = request.headers.get("Content-Type") ?? "";
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(type)?.[1];
  if (charset !== undefined && !UTF8_CHARSETS.includes(charset.toLowerCase())) {
    throw new HttpError(400, `charset=${charset} is not supported; send UTF-8`);
  }
}

/** How a PUT's body is read. */
type BodyFormat = "json" | "record line";

/** The media types a PUT takes, as its 415's `Accept` names them (RFC 9110 15.5.16). */
const PUT_MEDIA_TYPES = "application/json, text/plain";

/** What `curl -d` sends unless told otherwise: its mistake gets its own hint. */
const FORM_TYPE = "application/x-www-form-urlencoded";

/**
 * How `request`'s body is read, from its Content-Type: JSON for `application/json` and any
 * `+json` type (RFC 6839), and for none at all (a client that names no type); a record line
 * for `text/plain`. Any other type is a 415 naming those, not read as JSON: `curl -d`'s form
 * type, taken silently, hid the missing header until a body that was not JSON, and a body
 * in `application/xml` is none of kv's. A compressed body (Content-Encoding) is a 415 too:
 * `Deno.serve` hands it on compressed, so its bytes were called "not valid UTF-8".
 */
function bodyFormat(request: Request): BodyFormat {
  const encoding = request.headers.get("Content-Encoding")?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
    throw new HttpError(
      415,
      `Content-Encoding ${clipped(encoding)} is not taken; send the body uncompressed`,
      { "Accept-Encoding": "identity" },
    );
  }
  const type = (request.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "" || type === JSON_TYPE || /^[^/\s]+\/[^/\s]+\+json$/.test(type)) return "json";
  if (type === "text/plain") return "record line";
  const hint = type === FORM_TYPE
    ? ` (curl -d sends ${FORM_TYPE}: add -H 'Content-Type: application/json')`
    : "";
  throw new HttpError(
    415,
    `Content-Type ${clipped(type)} is not taken: PUT takes application/json (or a +json type) ` +
      `for a JSON value, or text/plain for a record line${hint}`,
    { Accept: PUT_MEDIA_TYPES },
  );
}

/**
 * The body as text, refusing more than `limit` bytes before reading them all, and a body
 * not all there within `timeoutMs` (408).
 */
async function readBody(request: Request, limit: number, timeoutMs: number): Promise<string> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) throw new HttpError(413, `the body is ${declared} bytes, over ${limit}`);
  if (request.body === null) {
    throw new HttpError(400, "PUT needs a body: a JSON value or a record line");
  }
  const reader = request.body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Ends the read under way: the loop below then sees the body done, or failed.
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      total += read.value.length;
      if (total > limit) throw new HttpError(413, `the body is over ${limit} bytes`);
      chunks.push(read.value);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    if (!timedOut) {
      // Deno.serve closed the request: its client closed the connection before the whole
      // body (or framed it so wrongly that Deno.serve closed it): no answer can reach it.
      if (error instanceof Deno.errors.BadResource) throw new HungUp();
      // Else the body's stream fails only for the client's part: it framed the body wrongly.
      // Its failure, not an internal error.
      throw new HttpError(400, `the body could not be read: ${describeError(error)}`);
    }
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    throw new HttpError(408, `the body did not all arrive within ${timeoutMs} ms`, {
      Connection: "close",
    });
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(concatBytes(chunks));
  } catch {
    throw new HttpError(400, "the body is not valid UTF-8");
  }
}

/** A record line's value; its key must be the URL's. */
function recordLineValue(text: string, key: string): Value {
  try {
    const record = bodyRecordLine(text);
    if (record.key !== key) {
      throw new KvInputError(`the record line's key '${record.key}' is not the URL's '${key}'`);
    }
    return record.value;
  } catch (error) {
    if (error instanceof RecordParseError) {
      // fetch sends a string body as text/plain: JSON sent so is the likeliest such mistake.
      const hint = isJson(text)
        ? "; a text/plain body is a record line (KEY: VALUE), and this one is JSON: send it " +
          "with Content-Type: application/json"
        : "";
      throw new KvInputError(`record line, column ${error.column}: ${error.reason}${hint}`);
    }
    throw error;
  }
}

/** Whether `text` is well-formed JSON, whatever kv would make of its value. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A body's record line: one line, whose newline, if any, ends it. */
function bodyRecordLine(text: string): RecordLine {
  return parseRecordLine(text.replace(/\r?\n$/, ""));
}

/** Whether `text` is a record line, of any key. */
function isRecordLine(text: string): boolean {
  try {
    bodyRecordLine(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON body's value; a number written with `.` or an exponent is a float, any other an
 * int — refused past 2^53 − 1, as a record line's is, rather than stored as a float that
 * holds other digits.
 */
function jsonValue(text: string): Value {
  checkJsonText(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, floatReviver);
  } catch (error) {
    if (error instanceof SyntaxError) {
      const hint = isRecordLine(text)
        ? "; this body is a record line: send it with Content-Type: text/plain"
        : "";
      throw new KvInputError(`the body is not JSON: ${error.message}${hint}`);
    }
    throw error;
  }
  return toValue(parsed, JSON_KINDS);
}

/** What kv stores, in JSON's words: a JSON body's error names no JavaScript class. */
const JSON_KINDS = "strings, numbers and objects (no null, true, false or arrays)";

/**
 * Refuses, before parsing, JSON nested deeper than a value may be and JSON naming one
 * field twice in an object. Depth: `JSON.parse`'s reviver walks the parsed tree
 * recursively, so a body of a few hundred thousand `[` overflowed the stack (a 500) before
 * {@link toValue} could say the value is too deep. Twice: `JSON.parse` keeps the last
 * silently, where a record line naming a field twice is refused; JSON text that is not
 * well formed is left to `JSON.parse` to describe.
 */
function checkJsonText(text: string): void {
  // One entry per open object or array: the names an object has had, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === DOUBLE_QUOTE) {
      const end = stringEnd(text, index);
      const names = open.at(-1);
      if (expectName && names) addFieldName(names, text.slice(index, end + 1));
      index = end;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      // A value's objects nest MAX_NESTING_DEPTH deep below the record: one more level is
      // already refused by toValue, with the path; past it the parse is not worth its stack.
      if (open.push(code === OPEN_BRACE ? new Set() : null) > MAX_NESTING_DEPTH + 1) {
        throw new KvInputError(
          `the body nests deeper than ${MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)`,
        );
      }
      expectName = code === OPEN_BRACE;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      open.pop();
    } else if (code === COMMA) {
      expectName = open.at(-1) instanceof Set;
    } else if (code === COLON) {
      expectName = false;
    }
  }
}

/** The index of the quote that ends the JSON string opening at `start` (or the text's end). */
function stringEnd(text: string, start: number): number {
  for (let index = start + 1; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === BACKSLASH) index++;
    else if (code === DOUBLE_QUOTE) return index;
  }
  return text.length;
}

/** Adds the field name `quoted` (a JSON string) to `names`, refusing one already there. */
function addFieldName(names: Set<string>, quoted: string): void {
  let name: string;
  try {
    name = JSON.parse(quoted);
  } catch {
    return; // Not a JSON string: JSON.parse of the whole body says what is wrong.
  }
  if (names.has(name)) {
    throw new KvInputError(
      `the body names field ${JSON.stringify(name)} twice in one object; name each field once`,
    );
  }
  names.add(name);
}

function floatReviver(
  this: unknown,
  _name: string,
  value: unknown,
  context?: { source?: string },
): unknown {
  if (typeof value !== "number") return value;
  const source = context?.source ?? "";
  if (/[.eE]/.test(source)) {
    // Past the largest double JSON.parse gives Infinity, which the library's error names as
    // "a Float must be a finite number": a class an HTTP client never meets.
    if (!Number.isFinite(value)) {
      throw new KvInputError(
        `number out of range: ${source} (a float is at most ${Number.MAX_VALUE} in size)`,
      );
    }
    return new Float(value);
  }
  if (!Number.isSafeInteger(value)) {
    throw new KvInputError(
      `integer out of range: ${source} (ints are at most 2^53 - 1 in size; write it with ` +
        `'.' or an exponent to store a float)`,
    );
  }
  return value;
}

/** A `Warning` header value: ASCII only, as header values must be. */
function warningHeader(warning: string): string {
  // JSON.stringify escapes the control characters below 0x20; DEL and what is past ASCII are
  // escaped here: a DEL in a header value made Deno 2.9.6 panic, which ended the process.
  const ascii = JSON.stringify(warning).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `199 kv ${ascii}`;
}

/** `body` as JSON, counted by `answers` when it is large. */
function json(answers: AnswerBudget, status: number, body: unknown, warning?: string): Response {
  const headers: Record<string, string> = { "Content-Type": JSON_TYPE };
  if (warning !== undefined) headers.Warning = warningHeader(warning);
  if (status === 503) headers["Retry-After"] = RETRY_AFTER_SECONDS;
  return answers.response(JSON.stringify(body), { status, headers });
}

/**
 * A read's or DELETE's status: 200 when it `found` the record (a read with any warning
 * that a newer version may exist), 404 when the servers that answered vouch for the
 * record's absence, and 503 when they cannot (its `warning` says which servers were
 * missing): a 404 says the record is absent (was, for a DELETE), which a client may act on
 * (create it) and a cache may keep, while the record may exist on the servers that did not
 * answer; the warning alone is in a header most clients ignore.
 */
function answerStatus(found: boolean, warning: string | undefined): number {
  if (found) return 200;
  return warning === undefined ? 404 : 503;
}

/**
 * An entry as JSON, its value written with kinds kept (`2.0` for a float), counted by
 * `answers` when it is large.
 */
function entryResponse(
  answers: AnswerBudget,
  status: number,
  entry: JsonEntry & { path?: string[]; missing?: QueryMissing },
): Response {
  const value = entry.json ?? "null";
  let text = `{"key":${JSON.stringify(entry.key)},"value":${value},"version":` +
    JSON.stringify(entry.version);
  if (entry.path !== undefined) text += `,"path":${JSON.stringify(entry.path)}`;
  if (entry.missing !== undefined) text += `,"missing":${missingJson(entry.missing)}`;
  if (entry.warning !== undefined) text += `,"warning":${JSON.stringify(entry.warning)}`;
  const headers: Record<string, string> = { "Content-Type": JSON_TYPE };
  if (entry.warning !== undefined) headers.Warning = warningHeader(entry.warning);
  if (status === 503) headers["Retry-After"] = RETRY_AFTER_SECONDS;
  return answers.response(`${text}}`, { status, headers });
}

/**
 * The answer to `error`: its message as one line, since messages quote what the client sent
 * (a query parameter's name, a key, V8's excerpt of a body that is not JSON), whose
 * newlines and escape sequences would otherwise reach a page or a terminal showing it.
 */
function errorResponse(error: HttpError): Response {
  return new Response(JSON.stringify({ error: oneLine(error.message) }), {
    status: error.status,
    headers: { "Content-Type": JSON_TYPE, ...error.headers },
  });
}
