/**
 * `kv http`: the HTTP API, metrics and web console (lib/http/) on
 * `Deno.serve`, over the client library. See {@link httpCommand}'s help for
 * every flag.
 *
 * @example
 * ```sh
 * kv http -s serverFile.txt -k 2 --listen 127.0.0.1:8080
 * ```
 * @module
 */
import { shellWord } from "../base/shell_word.ts";
import { brokerOf, connectWithRepairCommand, type Kv } from "../client/kv.ts";
import { WRITE_RULES, type WriteRule } from "../broker/broker.ts";
import { KvInputError, KvNoServerReachableError, KvUnavailableError } from "../client/errors.ts";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from "../broker/server_pool.ts";
import { type LogFunction, Logger } from "../base/logger.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_MAX_PATH_BYTES,
  HttpApi,
  startingResponse,
} from "../http/api.ts";
import { COUNTED_ANSWER_CHARS, DEFAULT_MAX_ANSWER_BYTES } from "../http/answer_budget.ts";
import { choiceFlag, intFlag, parseFlags } from "./args.ts";
import { certificateWarnings, CredentialsError, readCertAndKey } from "../protocol/credentials.ts";
import { BearerTokens, TokensFileError } from "../http/tokens.ts";
import {
  authFileFromEnv,
  clientCredentials,
  credentialsRefusedError,
  SECURITY_FLAGS,
  SECURITY_HELP,
  withAuthFileSource,
} from "./security_flags.ts";
import { serverFile, SERVERS_FLAG_HELP, withServerFileSource } from "./oneshot.ts";
import { repairCommandLine } from "./shell_command.ts";
import { ClusterKError } from "../broker/cluster_k.ts";
import { VERSION } from "./run.ts";
import { untilSignal } from "./stop_signals.ts";
import { hostPort } from "../base/host_port.ts";
import { describeError } from "../base/describe_error.ts";
import type { Subcommand } from "./subcommand.ts";
import { UnavailableError, UserError } from "./user_error.ts";
import { listenFailure, listensOnLoopback } from "./listen_error.ts";
import { checkedReplicas, noServerReachable } from "./open_broker.ts";
import {
  ConnectionGuard,
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type GuardClosure,
  type GuardRequestInfo,
} from "../http/connection_guard.ts";

/** Where `kv http` listens unless told otherwise. */
export const DEFAULT_LISTEN = "127.0.0.1:8080";
/** Largest `--max-body-bytes`: the servers' largest frame. */
export const MAX_BODY_BYTES_LIMIT = 1 << 30;
/** Largest `--max-concurrent-requests`. */
export const MAX_CONCURRENT_REQUESTS_LIMIT = 1 << 20;
/**
 * Smallest `--max-path-bytes`: every route's own text (`/v1/records/?replicas=true`, 26
 * bytes, the longest) fits, with room for a short key.
 */
export const MIN_PATH_BYTES = 64;
/** Largest `--max-answer-bytes`: 1 TiB, no bound in practice. */
export const MAX_ANSWER_BYTES_LIMIT = 2 ** 40;
/** Largest `--max-path-bytes`. */
export const MAX_PATH_BYTES_LIMIT = 1 << 20;
/** Largest `--header-timeout-ms`: ten minutes, as `--timeout-ms`. */
export const MAX_HEADER_TIMEOUT_MS = 600_000;
/** Largest `--max-connections`: each costs three file descriptors. */
export const MAX_CONNECTIONS_LIMIT = 1 << 20;

const HELP = `Usage: kv http [-s serverFile] [-k replicas] [--listen HOST:PORT] [flags]

Serves kv over HTTP: a JSON API (/v1/records/KEY, /v1/keys, /v1/servers),
/healthz, Prometheus /metrics, an OpenAPI 3 document at /v1/openapi.json, and
the web console at /.

Flags:
${SERVERS_FLAG_HELP}
  -k, --replicas N       the cluster's replication factor; refused when the
                         servers record another (default: the k they record; on
                         a new cluster 1)
      --listen HOST:PORT address to listen on; port 0 picks a free one
                         (default ${DEFAULT_LISTEN})
      --timeout-ms MS    connect and request timeout per server, 1..${MAX_TIMEOUT_MS}
                         (default ${DEFAULT_TIMEOUT_MS})
      --writes RULE      'sloppy' (default): writes go to the first k reachable
                         servers of the key's preference list; 'strict': to the
                         key's own k servers only, refused when one is down
      --max-body-bytes N largest request body, 1..${MAX_BODY_BYTES_LIMIT}; more is 413
                         (default ${DEFAULT_MAX_BODY_BYTES})
      --max-path-bytes N longest URL path and query, ${MIN_PATH_BYTES}..${MAX_PATH_BYTES_LIMIT};
                         more is 414 (default ${DEFAULT_MAX_PATH_BYTES})
      --max-concurrent-requests N
                         requests answered at once, 1..${MAX_CONCURRENT_REQUESTS_LIMIT}; more get 503
                         with Retry-After (default ${DEFAULT_MAX_CONCURRENT_REQUESTS})
      --max-answer-bytes N
                         bytes of answers over ${COUNTED_ANSWER_CHARS} characters held at
                         once, from when each is made until its client has
                         taken it, 1..${MAX_ANSWER_BYTES_LIMIT}; more get 503 with
                         Retry-After; one alone is always sent
                         (default ${DEFAULT_MAX_ANSWER_BYTES})
      --header-timeout-ms MS
                         close a connection that has not sent a request's whole
                         headers within MS of opening or of its previous answer
                         (slow clients, idle ones), 0..${MAX_HEADER_TIMEOUT_MS}; 0: no such
                         guard, and no bound on connections: any program that
                         can connect can end kv http by taking every file
                         descriptor (default ${DEFAULT_HEADER_TIMEOUT_MS})
      --max-connections N
                         connections open at once, 1..${MAX_CONNECTIONS_LIMIT}; a new one
                         closes the one waiting longest for a request (or
                         stalled longest on an answer), or itself when every
                         one has a request in the handler (default
                         ${DEFAULT_MAX_CONNECTIONS}; not with --header-timeout-ms 0)
      --tokens-file FILE require 'Authorization: Bearer <token>' with a token
                         listed in FILE (one a line, at least 16 visible ASCII
                         characters; mode 600) on every request but the
                         console's files and /healthz; default none
      --insecure         allow listening on an address other than loopback
                         without --tokens-file (anyone who can connect can read
                         and delete; requests addressed to a host name, not an
                         IP address or localhost, are refused: a web page
                         could send them)
      --tls-cert FILE    serve HTTPS with this certificate chain (PEM); needs
                         --tls-key
      --tls-key FILE     the certificate's private key (PEM)
      --log-timestamps   start every log line with the time, ISO 8601 in UTC
                         (default off: supervisors such as journald add it)
  -h, --help             show this help

To reach the servers:
${SECURITY_HELP}

Prints 'kv http: listening on http://HOST:PORT/ (k=N)' on stderr once ready;
SIGINT or SIGTERM finishes the requests in flight and exits 0.

Exit codes: 0 stopped by SIGINT or SIGTERM; 1 stopped listening, one line:
with --header-timeout-ms 0, no file descriptor was left; 2 a mistake, one line
on stderr: bad flags or files, a port in use, credentials every server refuses;
3 no server reachable and no -k given, one line naming each (with -k it serves,
and reconnects as they start).`;

/** The `kv http` subcommand. */
export const httpCommand: Subcommand = { name: "http", help: HELP, run: runHttp };

function parseListen(text: string): { hostname: string; port: number } {
  const match = /^\[([0-9A-Fa-f:.%]+)\]:(\d+)$/.exec(text) ?? /^([^\s:\[\]]+):(\d+)$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    const meant = meantListenText(text);
    throw new UserError(
      `kv http: --listen takes HOST:PORT (port 0 to 65535), e.g. ${DEFAULT_LISTEN}; got '${text}'` +
        (meant === undefined ? "" : `; did you mean --listen ${meant}?`),
    );
  }
  return { hostname: match[1], port };
}

/**
 * The HOST:PORT a malformed --listen likely means: a URL's (`http://127.0.0.1:8080/`), an
 * IPv6 address's in brackets (`::1:8080`), loopback's for a port alone (`8080`); else
 * undefined.
 */
function meantListenText(text: string): string | undefined {
  const url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]+)/.exec(text)?.[1];
  const bareIpv6 = /^([0-9A-Fa-f:.%]*:[0-9A-Fa-f:.%]*):(\d+)$/.exec(text);
  const meant = /^\d+$/.test(text)
    ? `127.0.0.1:${text}`
    : url ?? (bareIpv6 === null ? undefined : `[${bareIpv6[1]}]:${bareIpv6[2]}`);
  // Only a HOST:PORT that --listen takes: no port, or one out of range, is no help.
  const port = Number(/:(\d+)$/.exec(meant ?? "")?.[1]);
  return port >= 0 && port <= 65535 ? meant : undefined;
}

/**
 * Whether `listen` is on loopback. Off it, other machines can connect: refused unless
 * --tokens-file guards every record from them, or --insecure accepts that nothing does.
 */
async function checkListenGuarded(
  listen: { hostname: string; port: number },
  values: ReturnType<typeof parseHttpFlags>["values"],
): Promise<boolean> {
  const loopback = await listensOnLoopback("kv http", "--listen", listen.hostname);
  if (!loopback && values["tokens-file"] === undefined && !values.insecure) {
    throw new UserError(
      `kv http: --listen ${hostPort(listen.hostname, listen.port)} lets other machines ` +
        "connect, and without --tokens-file anyone could read and delete every record; " +
        "give --tokens-file, or --insecure to accept that",
    );
  }
  return loopback;
}

async function runHttp(args: string[]): Promise<number> {
  const { values } = parseHttpFlags(args);
  const listen = parseListen(values.listen ?? DEFAULT_LISTEN);
  const loopback = await checkListenGuarded(listen, values);
  const k = await checkedReplicas(
    "http",
    serverFile(values.servers),
    values.replicas,
    (message) => withServerFileSource(message, values.servers),
  );
  const timeoutMs = intFlag("http", "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  const limits = httpLimits(values);
  const connections = connectionLimits(values);
  const tokens = await readTokens(values["tokens-file"]);
  const tls = await tlsFiles(values["tls-cert"], values["tls-key"]);
  const writes = choiceFlag("http", "--writes", values.writes, WRITE_RULES, "sloppy");
  const logger = new Logger({ name: "kv http", timestamps: values["log-timestamps"] ?? false });
  const certPath = values["tls-cert"];
  if (tls !== undefined && certPath !== undefined) {
    for (const warning of await certificateWarnings(certPath, tls.cert)) logger.warn(warning);
  }
  // The auth file and CA are checked before the port is taken, as every flag is: a bad one
  // is its own line whatever holds the port (connecting reads them again).
  await clientCredentials("http", values);
  // Listens before connecting: connecting may fix the cluster's k (a new cluster's default,
  // 1), which a run then refused for its port in use must not have done.
  let api: HttpApi | undefined;
  const server = await serve(
    (request, info) => api === undefined ? startingResponse() : api.handle(request, info),
    { ...listen, ...tls },
    { ...connections, onClosed: (why) => api?.connectionClosed(why) },
  );
  const kv = await openKv(serverFile(values.servers), {
    replicas: k,
    writes,
    timeoutMs,
    authFile: values["auth-file"] ?? authFileFromEnv(),
    tlsCa: values["tls-ca"],
    // As kv broker's: a k that kv repair -k changed (followed or refused), a default k
    // fixed on a new cluster, servers down and back, the background repair.
    log: logger.print,
  }, values).catch(async (error) => {
    await server.shutdown();
    throw error;
  });
  try {
    api = new HttpApi(kv, {
      version: VERSION,
      ...limits,
      tokens,
      // Without tokens, a browser page could rebind a name of its own to it: on loopback,
      // this machine's browser; elsewhere (--insecure), any browser that reaches it.
      loopbackHostsOnly: tokens === undefined && loopback,
      addressHostsOnly: tokens === undefined && !loopback,
      repairCommand: repairCommandLine(serverFile(values.servers), values),
      log: (line) => logger.error(line),
      warn: (line) => logger.warn(line),
    });
    const scheme = tls === undefined ? "http" : "https";
    return await untilStopped(server, logger, `${scheme}://`, `/ (k=${brokerOf(kv).k})`);
  } finally {
    kv.close();
  }
}

function parseHttpFlags(args: string[]) {
  return parseFlags("http", args, {
    servers: { type: "string", short: "s" },
    replicas: { type: "string", short: "k" },
    listen: { type: "string" },
    "timeout-ms": { type: "string" },
    writes: { type: "string" },
    "max-body-bytes": { type: "string" },
    "max-path-bytes": { type: "string" },
    "max-concurrent-requests": { type: "string" },
    "max-answer-bytes": { type: "string" },
    "header-timeout-ms": { type: "string" },
    "max-connections": { type: "string" },
    "tokens-file": { type: "string" },
    insecure: { type: "boolean" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "log-timestamps": { type: "boolean" },
    ...SECURITY_FLAGS,
  }, { meantFlag: meantListen, synonyms: LISTEN_SYNONYMS });
}

/** kv server's -a and -p, and other programs' names for them: kv http has --listen. */
const LISTEN_SYNONYMS: Readonly<Record<string, string>> = {
  "-p": "--listen 127.0.0.1:PORT",
  "--port": "--listen 127.0.0.1:PORT",
  "-a": "--listen HOST:PORT",
  "--address": "--listen HOST:PORT",
  "--host": "--listen HOST:PORT",
  "--bind": "--listen HOST:PORT",
};

/** `kv http 8080`, `kv http 0.0.0.0:8080`: the --listen flag left out. */
function meantListen(argument: string): string | undefined {
  if (/^\d+$/.test(argument)) return `--listen 127.0.0.1:${argument}`;
  return /:\d+$/.test(argument) ? `--listen ${shellWord(argument)}` : undefined;
}

/** The request limits the flags set, each checked against its range. */
function httpLimits(values: ReturnType<typeof parseHttpFlags>["values"]) {
  return {
    maxBodyBytes: intFlag("http", "--max-body-bytes", values["max-body-bytes"], {
      min: 1,
      max: MAX_BODY_BYTES_LIMIT,
      fallback: DEFAULT_MAX_BODY_BYTES,
    }),
    maxPathBytes: intFlag("http", "--max-path-bytes", values["max-path-bytes"], {
      min: MIN_PATH_BYTES,
      max: MAX_PATH_BYTES_LIMIT,
      fallback: DEFAULT_MAX_PATH_BYTES,
    }),
    maxConcurrentRequests: intFlag(
      "http",
      "--max-concurrent-requests",
      values["max-concurrent-requests"],
      { min: 1, max: MAX_CONCURRENT_REQUESTS_LIMIT, fallback: DEFAULT_MAX_CONCURRENT_REQUESTS },
    ),
    maxAnswerBytes: intFlag("http", "--max-answer-bytes", values["max-answer-bytes"], {
      min: 1,
      max: MAX_ANSWER_BYTES_LIMIT,
      fallback: DEFAULT_MAX_ANSWER_BYTES,
    }),
  };
}

/**
 * The connection deadline and bound the flags set: `headerTimeoutMs` 0 serves with
 * `Deno.serve` alone, which has neither (and then `--max-connections` cannot apply). The
 * guard is on by default on loopback too, though it relays every byte, which costs about as
 * much CPU as `Deno.serve` itself (README): without it, any program of the machine ended
 * `kv http` by opening connections until no file descriptor was left (`Deno.serve`'s accept
 * then fails, and its listener with it, for good).
 */
function connectionLimits(
  values: ReturnType<typeof parseHttpFlags>["values"],
): { headerTimeoutMs: number; maxConnections: number } {
  const headerTimeoutMs = intFlag("http", "--header-timeout-ms", values["header-timeout-ms"], {
    min: 0,
    max: MAX_HEADER_TIMEOUT_MS,
    fallback: DEFAULT_HEADER_TIMEOUT_MS,
  });
  if (headerTimeoutMs === 0 && values["max-connections"] !== undefined) {
    throw new UserError(
      "kv http: --max-connections needs the connection guard, which --header-timeout-ms 0 " +
        "turns off; give one or the other",
    );
  }
  const maxConnections = intFlag("http", "--max-connections", values["max-connections"], {
    min: 1,
    max: MAX_CONNECTIONS_LIMIT,
    fallback: DEFAULT_MAX_CONNECTIONS,
  });
  return { headerTimeoutMs, maxConnections };
}

/** The bearer tokens of `--tokens-file`, if given; a mistake in the file is the user's. */
async function readTokens(path: string | undefined): Promise<BearerTokens | undefined> {
  if (path === undefined) return undefined;
  return await BearerTokens.read(path).catch((error) => {
    throw error instanceof TokensFileError ? new UserError(`kv http: ${error.message}`) : error;
  });
}

/**
 * Logs where `server` listens, its address between `before` and `after`, and serves
 * until SIGINT or SIGTERM, then shuts it down; the exit code, 0.
 */
async function untilStopped(
  server: Served,
  logger: Logger,
  before: string,
  after: string,
): Promise<number> {
  const addr = server.addr as Deno.NetAddr;
  const stop = untilSignal(logger);
  try {
    logger.info(`listening on ${before}${hostPort(addr.hostname, addr.port)}${after}`);
    const lost = server.lost?.then((error) => ({ error })) ?? new Promise<never>(() => {});
    const ended = await Promise.race([stop.signalled, lost]);
    if (typeof ended !== "string") {
      logger.error(
        `stopped listening: ${describeError(ended.error)}; without the connection guard ` +
          "(--header-timeout-ms 0) its accept fails for good once no file descriptor is left",
      );
      return 1;
    }
    logger.info(`${ended}: shutting down`);
    await server.shutdown();
    // As kv server's last line: a supervisor's log shows the stop finished, not only began.
    logger.info("stopped");
    return 0;
  } finally {
    stop.dispose();
  }
}

async function tlsFiles(
  certPath: string | undefined,
  keyPath: string | undefined,
): Promise<{ cert: string; key: string } | undefined> {
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new UserError("kv http: --tls-cert and --tls-key go together; give both or neither");
  }
  if (certPath === undefined || keyPath === undefined) return undefined;
  try {
    return await readCertAndKey(certPath, keyPath);
  } catch (error) {
    if (error instanceof CredentialsError) throw new UserError(`kv http: ${error.message}`);
    throw error;
  }
}

/**
 * Connects to the cluster; a bad server or security file is a UserError, which says where
 * the auth file's path came from (`flags`: the flags as typed); no server reachable (and
 * no `-k`), an UnavailableError naming each (exit 3).
 */
async function openKv(
  path: string,
  options: {
    replicas: number | undefined;
    writes: WriteRule;
    timeoutMs: number;
    authFile?: string;
    tlsCa?: string;
    log: LogFunction;
  },
  flags: { servers?: string; "auth-file"?: string; "tls-ca"?: string },
): Promise<Kv> {
  const repair = repairCommandLine(path, flags);
  try {
    // Its refusals and log lines name the repair command over this server file.
    return await connectWithRepairCommand({ servers: path, ...options, floats: "tagged" }, repair);
  } catch (error) {
    if (error instanceof KvNoServerReachableError) {
      const orElse = "or give -k (the cluster's k) to serve now, reconnecting in the background";
      throw noServerReachable("http", path, error.unreachable, orElse);
    }
    // A server's host name the resolver could not look up now (EAI_AGAIN): exit 3.
    if (error instanceof KvUnavailableError) {
      throw new UnavailableError(`kv http: ${withServerFileSource(error.message, flags.servers)}`);
    }
    if (!(error instanceof KvInputError)) throw error;
    // A k refusal names the exact repair command: this server file, these credentials.
    if (error.cause instanceof ClusterKError) {
      throw new UserError(`kv http: ${error.cause.withRepair(repair)}`);
    }
    throw credentialsRefusedError("http", error, flags) ??
      new UserError(
        `kv http: ${withServerFileSource(withAuthFileSource(error.message, flags), flags.servers)}`,
      );
  }
}

/** What serves `kv http`: the connection guard, or `Deno.serve` alone. */
interface Served {
  readonly addr: Deno.Addr;
  /**
   * With `Deno.serve` alone, resolved with the error that stopped it listening for good: its
   * accept failed, as when no file descriptor is left (the guard outlives that).
   */
  readonly lost?: Promise<unknown>;
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` on `listen`, behind a {@link ConnectionGuard} unless `headerTimeoutMs` is 0
 * (`Deno.serve` has no deadline on a request's headers of its own).
 */
async function serve(
  handler: (request: Request, info: GuardRequestInfo) => Promise<Response> | Response,
  listen: { hostname: string; port: number; cert?: string; key?: string },
  limits: {
    headerTimeoutMs: number;
    maxConnections: number;
    onClosed: (why: GuardClosure) => void;
  },
): Promise<Served> {
  const where = hostPort(listen.hostname, listen.port);
  try {
    if (limits.headerTimeoutMs !== 0) {
      return await ConnectionGuard.serve({ ...listen, ...limits }, handler);
    }
    const server = Deno.serve({ ...listen, onListen: () => {} }, handler);
    // Handled from the start (kv http may still be connecting to the servers): left
    // unhandled, it ended the process with an uncaught error and a stack.
    const lost = new Promise<unknown>((resolve) => server.finished.catch(resolve));
    return { addr: server.addr, lost, shutdown: () => server.shutdown() };
  } catch (error) {
    throw listenFailure("kv http", where, { port: "--listen port", address: "--listen" }, error);
  }
}
