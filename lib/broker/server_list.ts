/**
 * The broker's server file: one server per line, either `IP PORT` (the
 * original kvBroker.py's form) or `HOST:PORT` (`[::1]:8000` for IPv6). Blank
 * lines and `#` comments are ignored. Each server's identity is the address its
 * host name resolves to when the file is read (`127.0.0.1:8000` for both
 * `localhost:8000` and `127.0.0.1 8000`), which is what replica placement
 * hashes — so two brokers given the same servers (in any order, under any
 * spelling) place every key identically.
 *
 * @example
 * ```ts
 * import { parseServerList } from "./server_list.ts";
 * const servers = parseServerList("127.0.0.1 8000\n[::1]:8001\n", "servers.txt");
 * servers[1].id; // "[::1]:8001"
 * ```
 * @module
 */
import { describeFsError } from "../base/fs_error.ts";
import { FileTooLargeError, NotUtf8Error, readTextFileBounded } from "../base/read_bounded.ts";
import { hostPort } from "../base/host_port.ts";
import { oneLine } from "../record/key.ts";

/**
 * A server file that cannot be read or parsed; its message is one line saying what
 * and where (`servers.txt:3:1: ...`). The CLI prefixes the command and exits 2.
 *
 * @example
 * ```ts
 * try {
 *   parseServerList("127.0.0.1 8000\n127.0.0.1:8000\n", "servers.txt");
 * } catch (error) {
 *   (error as ServerFileError).message;
 *   // "servers.txt:2:1: duplicate server 127.0.0.1:8000 (first listed on line 1); list each
 *   // server once"
 * }
 * ```
 */
export class ServerFileError extends Error {
  /**
   * An error saying what in the server file is wrong, and where.
   *
   * @param message one line: what was wrong and where.
   */
  constructor(message: string) {
    super(message);
    this.name = "ServerFileError";
  }
}

/**
 * A server's host name the resolver could not look up now (getaddrinfo's `EAI_AGAIN`: the
 * DNS server unreachable or failing), which a retry may get past: not a mistake in the
 * file, as a name that does not exist (`ENOTFOUND`) is. A {@link ServerFileError} still
 * (what the file names cannot be used), so that every reader of a server file reports it;
 * those that tell the two apart make it the cluster's unavailability (the library's
 * KvUnavailableError, the CLI's exit 3).
 *
 * @example
 * ```ts
 * try {
 *   await resolveServers([serverAddress("kv1.example.com", 8000)], () => "servers.txt:1:1");
 * } catch (error) {
 *   if (error instanceof ServerLookupError) console.log("retry later:", error.message);
 *   // "servers.txt:1:1: cannot look up host kv1.example.com now (EAI_AGAIN: …); …"
 * }
 * ```
 */
export class ServerLookupError extends ServerFileError {
  /**
   * An error saying which host could not be looked up now.
   *
   * @param message one line: which host, where, and that a retry may succeed.
   */
  constructor(message: string) {
    super(message);
    this.name = "ServerLookupError";
  }
}

/**
 * The resolver's code for a lookup that failed for now (getaddrinfo's EAI_AGAIN, as
 * node:dns names it): no DNS server answered, or one answered SERVFAIL.
 */
const LOOKUP_UNAVAILABLE = "EAI_AGAIN";

/** Most servers one server file may list; placement costs O(servers) per key. */
export const MAX_SERVERS = 1024;

/** Largest server file read, in bytes (a line per server leaves plenty of room). */
export const MAX_SERVER_FILE_BYTES = 1024 * 1024;

/** One server a broker talks to. */
export interface ServerAddress {
  /** Host name or IP address, without IPv6 brackets. */
  readonly hostname: string;
  /** TCP port, 1–65535. */
  readonly port: number;
  /** The server as written, `host:port` (`[v6]:port` for IPv6): what messages name it by. */
  readonly id: string;
  /**
   * What placement hashes: `ip:port` of the address `hostname` resolved to (see
   * {@link resolveServers}); equal to `id` for an address not resolved.
   */
  readonly identity: string;
  /**
   * Where the server file lists it (`servers.txt:3:1`), for messages that blame the line;
   * undefined for a server not read from a file (see {@link readServerList}).
   */
  readonly where?: string;
}

/**
 * Makes a {@link ServerAddress}. `resolved` is the IP address `hostname` resolved to;
 * without it the identity is the address as written.
 *
 * @example
 * ```ts
 * serverAddress("::1", 8000).id; // "[::1]:8000"
 * serverAddress("localhost", 8000, "127.0.0.1").identity; // "127.0.0.1:8000"
 * ```
 */
export function serverAddress(
  hostname: string,
  port: number,
  resolved: string = hostname,
): ServerAddress {
  return { hostname, port, id: hostPort(hostname, port), identity: hostPort(resolved, port) };
}

/**
 * An IPv4 address in dotted-decimal form, each of its four numbers 0–255 without leading
 * zeros: the spelling the resolver answers with. (Other forms, as `127.1` or `010.0.0.1`,
 * are parsed by the resolver's own rules: they are looked up.)
 */
const CANONICAL_IPV4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The address `hostname` names, in one canonical spelling: the first address the
 * system resolver (getaddrinfo, which reads /etc/hosts, as `Deno.connect` does) gives,
 * so the identity is the address a connection reaches. IPv6 literals are not
 * resolved but normalised (`::0001` is `::1`).
 */
async function resolveHost(hostname: string): Promise<string> {
  // The resolver gives a canonical IPv4 literal back as it is; asking it anyway cost a
  // broker's start-up about 20 ms (the first lookup starts the resolver's thread pool).
  if (CANONICAL_IPV4.test(hostname)) return hostname;
  // Imported at the first name to resolve: importing node:dns at start cost every kv
  // process about 8 ms of CPU (README, Tests), and most name their servers by address.
  const { lookup } = await import("node:dns/promises");
  const { address, family } = await lookup(hostname);
  return family === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/**
 * Resolves every server's host name once (`where(i)` names server `i` in messages, as
 * `servers.txt:3:1`) and returns the servers with their {@link ServerAddress.identity}.
 * Throws a {@link ServerFileError} for a name that does not resolve, or for two
 * servers that resolve to one address: placing two replicas of a key on one server
 * would leave it one crash from loss; its {@link ServerLookupError} for a name the
 * resolver could not look up now.
 *
 * @example
 * ```ts
 * const [server] = await resolveServers([serverAddress("localhost", 8000)], () => "servers.txt:1:1");
 * server.identity; // "127.0.0.1:8000"
 * ```
 */
export async function resolveServers(
  servers: readonly ServerAddress[],
  where: (index: number) => string,
): Promise<ServerAddress[]> {
  // At most MAX_SERVERS lookups, all at once: most are literals or /etc/hosts names.
  const resolved = await Promise.all(servers.map(async (server, index) => {
    try {
      return serverAddress(server.hostname, server.port, await resolveHost(server.hostname));
    } catch (error) {
      const reason = (error as { code?: string }).code ?? String(error);
      if (reason === LOOKUP_UNAVAILABLE) {
        throw new ServerLookupError(
          `${where(index)}: cannot look up host ${server.hostname} now (${reason}: the DNS ` +
            "resolver did not answer); retry once it does, or give an IP address",
        );
      }
      throw new ServerFileError(
        `${where(index)}: cannot resolve host ${server.hostname} (${reason}); ` +
          `fix the name or give an IP address`,
      );
    }
  }));
  resolved.forEach((server, index) => checkNetPermission(server, where(index)));
  const firstOfIdentity = new Map<string, number>();
  resolved.forEach((server, index) => {
    const first = firstOfIdentity.get(server.identity);
    if (first !== undefined) {
      throw new ServerFileError(
        `${where(index)}: ${server.id} is the same server as ${resolved[first].id} ` +
          `(${where(first)}): both are ${server.identity}; list each server once`,
      );
    }
    firstOfIdentity.set(server.identity, index);
  });
  return resolved;
}

/**
 * Throws a {@link ServerFileError} when Deno may not connect to `server` (kv run without
 * `--allow-net`, or with one that leaves it out): asked now, as a connection would ask
 * (prompting on a terminal), its refusal is the user's to fix, where at connect time it
 * read as the server being down.
 */
function checkNetPermission(server: ServerAddress, where: string): void {
  const { state } = Deno.permissions.requestSync({ name: "net", host: server.id });
  if (state === "granted") return;
  throw new ServerFileError(
    `${where}: Deno does not let kv connect to ${server.id} (no --allow-net for it); run kv ` +
      "with --allow-net, as 'deno install' of kv does",
  );
}

/**
 * Most characters of a malformed line an error quotes: a records file given for the server
 * file quoted its first line whole, thousands of characters for one mistake.
 */
const MAX_QUOTED_LINE_CHARACTERS = 60;

const HOST_PORT_SPACED = /^(\S+)[ \t]+(\d+)$/;
const HOST_PORT_COLON = /^([^\s:\[\]]+):(\d+)$/;
const IPV6_PORT = /^\[([0-9A-Fa-f:.%]+)\]:(\d+)$/;
const VALID_HOST = /^[A-Za-z0-9.\-_:%]+$/;

/** The ports a server may listen on. */
const MIN_PORT = 1;
const MAX_PORT = 65535;

/** A server, or what is wrong with the line and at which of its characters (0-based). */
type ParsedLine = ServerAddress | { readonly problem: string; readonly at: number };

function parseLine(line: string): ParsedLine {
  const match = HOST_PORT_SPACED.exec(line) ?? HOST_PORT_COLON.exec(line) ?? IPV6_PORT.exec(line);
  const found = oneLine(line, { maxCharacters: MAX_QUOTED_LINE_CHARACTERS });
  const expected = `expected 'HOST PORT' or 'HOST:PORT', found '${found}'`;
  if (match === null) return { problem: expected, at: 0 };
  const hostname = match[1].startsWith("[") && match[1].endsWith("]")
    ? match[1].slice(1, -1)
    : match[1];
  if (!VALID_HOST.test(hostname)) return { problem: expected, at: 0 };
  const port = Number(match[2]);
  if (!(port >= MIN_PORT && port <= MAX_PORT)) {
    return {
      problem: `port ${match[2]} is out of range; a port is ${MIN_PORT} to ${MAX_PORT}`,
      at: line.length - match[2].length,
    };
  }
  return serverAddress(hostname, port);
}

/**
 * Parses the text of a server file. `fileName` prefixes error positions.
 * Throws a {@link ServerFileError} for a malformed line (`servers.txt:3:1: expected
 * 'HOST PORT' or 'HOST:PORT', found '...'`), a duplicate server, more than
 * {@link MAX_SERVERS} servers, or a file listing none.
 *
 * @example
 * ```ts
 * parseServerList("# local\n127.0.0.1 8000\n", "servers.txt").length; // 1
 * ```
 */
export function parseServerList(text: string, fileName: string): ServerAddress[] {
  return parseServerLines(text, fileName).map((line) => line.server);
}

/** A server of a server file and where it is written (`servers.txt:3:1`). */
interface ServerLine {
  readonly server: ServerAddress;
  readonly where: string;
}

function parseServerLines(text: string, fileName: string): ServerLine[] {
  const servers: ServerLine[] = [];
  const lineOfId = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const withoutComment = lines[index].replace(/#.*$/, "");
    const trimmed = withoutComment.trim();
    if (trimmed === "") continue;
    const column = withoutComment.length - withoutComment.trimStart().length + 1;
    const server = parseLine(trimmed);
    if ("problem" in server) {
      throw new ServerFileError(
        `${fileName}:${lineNumber}:${column + server.at}: ${server.problem}`,
      );
    }
    const firstLine = lineOfId.get(server.id);
    if (firstLine !== undefined) {
      throw new ServerFileError(
        `${fileName}:${lineNumber}:${column}: duplicate server ${server.id} (first listed on line ${firstLine}); ` +
          "list each server once",
      );
    }
    if (servers.length === MAX_SERVERS) {
      throw new ServerFileError(
        `${fileName}:${lineNumber}:${column}: more than ${MAX_SERVERS} servers`,
      );
    }
    lineOfId.set(server.id, lineNumber);
    servers.push({ server, where: `${fileName}:${lineNumber}:${column}` });
  }
  if (servers.length === 0) {
    throw new ServerFileError(
      `${fileName}: lists no servers; expected lines of 'HOST PORT' or 'HOST:PORT'`,
    );
  }
  return servers;
}

/**
 * Reads and parses a server file and resolves its host names
 * ({@link resolveServers}); an unreadable or oversized file, a name that does not
 * resolve and two lines naming one server are each a {@link ServerFileError}. Each server
 * carries its line's {@link ServerAddress.where}.
 *
 * @example
 * ```ts
 * const servers = await readServerList("testdata/compat/serverFile.txt");
 * servers[0].where; // "testdata/compat/serverFile.txt:1:1"
 * ```
 */
export async function readServerList(path: string): Promise<ServerAddress[]> {
  let text: string;
  try {
    text = await readTextFileBounded(path, MAX_SERVER_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new ServerFileError(
        `${path}: server file larger than ${MAX_SERVER_FILE_BYTES} bytes; a server file lists ` +
          "servers only, one a line",
      );
    }
    if (error instanceof NotUtf8Error) {
      throw new ServerFileError(`${path}:${error.message}; save the server file as UTF-8`);
    }
    throw new ServerFileError(`${path}: cannot read the server file: ${describeFsError(error)}`);
  }
  const lines = parseServerLines(text, path);
  const where = (index: number) => lines[index].where;
  const servers = await resolveServers(lines.map((line) => line.server), where);
  return servers.map((server, index) => ({ ...server, where: where(index) }));
}
