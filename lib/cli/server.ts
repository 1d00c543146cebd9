/**
 * `kv server`: runs one kv server, holding records in memory (durable with
 * `--data-dir`) and answering brokers over the binary protocol of
 * docs/protocol.md until SIGINT or SIGTERM.
 *
 * On start it prints one line to stderr, stable for scripts to parse:
 *
 * ```text
 * kv server: listening on 127.0.0.1:40123 (data: /tmp/x, 0 records, recovered in 3 ms, plain TCP, no auth)
 * kv server: listening on 127.0.0.1:8000 (memory only, 0 records, recovered in 0 ms, plain TCP, no auth)
 * ```
 *
 * @example
 * ```ts
 * import { serverCommand } from "./server.ts";
 * await serverCommand.run(["-p", "0", "--data-dir", "/tmp/kv"]);
 * ```
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from "../limits.ts";
import { describeError } from "../base/describe_error.ts";
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, Logger, parseLogLevel } from "../base/logger.ts";
import { AuthFileError, AuthKeys, MAX_SECRET_BYTES, MIN_SECRET_BYTES } from "../protocol/auth.ts";
import type { TlsServerContext } from "../protocol/tls_server.ts";
import { TlsUnsupportedError } from "../protocol/tls_errors.ts";
import { certificateWarnings, CredentialsError, readCertAndKey } from "../protocol/credentials.ts";
import {
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_PORT,
  KvServer,
} from "../server/server.ts";
import { SnapshotFormatError } from "../server/snapshot.ts";
import { LockFileError } from "../server/dir_lock.ts";
import { LogFormatError, MAX_LOG_VALUE_BYTES } from "../server/storage_log.ts";
import {
  dataDirInUse,
  DEFAULT_COMPACTION_MIN_LOG_BYTES,
  DEFAULT_TOMBSTONE_GRACE_MS,
  describeWritable,
  type FsyncPolicy,
  MAX_TOMBSTONE_GRACE_MS,
  type RecoveryInfo,
  StaleDataDirError,
  Store,
  StoreCorruptError,
  StoreLockedError,
} from "../server/store.ts";
import { fileOrNumberFlag, intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { UserError } from "./user_error.ts";
import { describeFsError, exposedSecretDirectory, isFsError } from "../base/fs_error.ts";
import { listenFailure, listensOnLoopback } from "./listen_error.ts";
import { hostPort } from "../base/host_port.ts";
import { checkStdinEndsWithSupervisor, untilStdinCloses } from "./stdin.ts";
import { untilSignal } from "./stop_signals.ts";
import { counted } from "../base/plural.ts";

/** Most connections `--max-connections` accepts (each holds a 64 KiB read buffer). */
export const MAX_CONNECTIONS_LIMIT = 100_000;

/** Smallest `--max-frame-bytes`: room for any valid key, path or KEYS request. */
export const MIN_FRAME_BYTES = 64 * 1024;

/** Smallest `--max-buffered-bytes`: one connection's read buffer and a little more. */
export const MIN_BUFFERED_BYTES = 1024 * 1024;

/** Shortest `--idle-timeout-ms`. */
export const MIN_IDLE_TIMEOUT_MS = 10;
/** Longest `--idle-timeout-ms`: one day. */
export const MAX_IDLE_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Bytes in the unit of `--compact-log-mib`. */
const MIB = 1024 * 1024;
/** Largest `--compact-log-mib`: 1 TiB, a log no disk of a kv server should hold. */
export const MAX_COMPACT_LOG_MIB = 1024 * 1024;

const FSYNC_POLICIES: readonly FsyncPolicy[] = ["always", "interval", "never"];

const HELP = `Usage: kv server [-a ADDRESS] [-p PORT] [--data-dir DIR] [flags]

Runs one kv server: keeps records in memory, durable on disk with --data-dir,
and answers brokers over TCP until SIGINT or SIGTERM, then shuts down cleanly.

Flags:
  -a, --address ADDRESS     address or host name to listen on, without the port;
                            IPv6 bare or in brackets: ::1, [::1]
                            (default ${DEFAULT_HOSTNAME})
  -p, --port PORT           TCP port, 0 for any free one (default ${DEFAULT_PORT})
      --data-dir DIR        keep records durable in DIR, created if missing,
                            its owner's only (0700, files 0600; a warning
                            when group or others can enter an existing one)
                            (default: none, memory only — records die with
                            the process)
      --fsync POLICY        with --data-dir, when to fsync the log: always
                            (every acknowledged write survives power loss),
                            interval (once a second) or never (default interval)
      --mark-unrepaired     with --data-dir, start unrepaired whatever the dir
                            says: give it when DIR is a rolled-back volume,
                            file-system or VM snapshot, or when another
                            process served this address since DIR was last
                            used; brokers do not count this server's answers
                            until kv repair refills it and marks it repaired
                            (it stays unrepaired across restarts until then).
                            Without it a start is unrepaired when DIR's last
                            run did not stop cleanly under --fsync interval
                            or never and the machine restarted since (told
                            by the uptime: --allow-sys=osUptime, which the
                            tasks and the compiled kv grant), or when DIR's
                            files were copied or put back (cp, rsync, tar)
      --keep-stale-data     with --data-dir, start even when DIR was last alive
                            longer ago than --tombstone-grace (less a minute)
                            allows, which is refused otherwise (exit 2): its
                            records deleted since, whose tombstones the other
                            replicas purged, come back. Only when no other
                            replica holds its keys (k = 1, or every replica
                            lost); else empty DIR and let kv repair refill it.
                            A DIR that records k = 1 starts with a warning.
                            With no run record in its LOCK, DIR is judged by
                            when its logs were last written (cp -a keeps it).
                            A running server out as long (stopped, frozen,
                            its machine suspended, or refusing writes) stops,
                            exit 2, unless kept so
      --compact-log-mib N   with --data-dir, write a snapshot and drop the old
                            logs once the log passes N MiB and twice the last
                            snapshot, 1..${MAX_COMPACT_LOG_MIB} (default ${
  DEFAULT_COMPACTION_MIN_LOG_BYTES / MIB
})
      --max-connections N   most simultaneous clients, 1..${MAX_CONNECTIONS_LIMIT}; more get
                            BUSY (default ${DEFAULT_MAX_CONNECTIONS})
      --max-frame-bytes N   largest request body in bytes, ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES_LIMIT}
                            (default ${DEFAULT_MAX_FRAME_BYTES}); with --data-dir a value is also
                            at most ${MAX_LOG_VALUE_BYTES} bytes, the log's entry limit
      --idle-timeout-ms N   close a client silent or stalled mid-request this
                            long, ${MIN_IDLE_TIMEOUT_MS}..${MAX_IDLE_TIMEOUT_MS} (default ${DEFAULT_IDLE_TIMEOUT_MS}); before
                            its HELLO succeeds a client has a fixed ${
  DEFAULT_HELLO_TIMEOUT_MS / 1000
} s
      --max-buffered-bytes N  memory all clients together may hold in partial
                            requests and pending answers, at least ${MIN_BUFFERED_BYTES}; a
                            client past it is closed with BUSY
                            (default ${DEFAULT_MAX_BUFFERED_BYTES})
      --auth-file FILE      require every client to prove in HELLO that it knows
                            one of the secrets in FILE (one per line, each
                            ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes in hex or base64;
                            'kv secret -o FILE' writes one; mode 600)
      --insecure            allow listening on an address other than loopback
                            without --auth-file (anyone who can connect can read
                            and delete)
      --tls-cert FILE       serve TLS with this certificate chain (PEM); needs
                            --tls-key
      --tls-key FILE        the certificate's private key (PEM)
      --tombstone-grace T   keep a deleted key's tombstone this long, then purge
                            it: seconds, or a number with s, m, h or d,
                            1s..${
  MAX_TOMBSTONE_GRACE_MS / 86_400_000
}d (default 24h); a data dir out of the
                            cluster longer is refused (see --keep-stale-data)
      --log-level LEVEL     ${LOG_LEVELS.join(", ")} (default ${DEFAULT_LOG_LEVEL})
      --log-timestamps      start every log line with the time, ISO 8601 in UTC
                            (default off: supervisors such as journald add it)
      --stop-on-stdin-close
                            also stop cleanly, as on SIGTERM, once stdin ends:
                            a supervisor that starts it with a pipe on stdin
                            and holds the other end stops it by exiting, even
                            when killed (kv demo does; default off); stdin
                            must be a pipe: /dev/null, a file or a terminal
                            is refused
  -h, --help                show this help

Before its HELLO succeeds a client may only send HELLO and PING; it is closed
after ${
  DEFAULT_HELLO_TIMEOUT_MS / 1000
} s without one, and such clients take at most half of --max-connections.

Prints 'kv server: listening on HOST:PORT (...)' on stderr once ready.
Exit codes: 0 after a clean shutdown, 2 for bad flags, a port in use, a locked
data dir, or one out of the cluster longer than the tombstone grace.`;

/** Other programs' names for -a, and kv http's --listen: kv server has -a and -p. */
const ADDRESS_SYNONYMS: Readonly<Record<string, string>> = {
  "--host": "-a",
  "--bind": "-a",
  "--listen": "-a ADDRESS -p PORT",
};

const FLAGS = {
  address: { type: "string", short: "a" },
  port: { type: "string", short: "p" },
  "data-dir": { type: "string" },
  fsync: { type: "string" },
  "compact-log-mib": { type: "string" },
  "mark-unrepaired": { type: "boolean" },
  "keep-stale-data": { type: "boolean" },
  "max-connections": { type: "string" },
  "max-frame-bytes": { type: "string" },
  "idle-timeout-ms": { type: "string" },
  "tombstone-grace": { type: "string" },
  "log-level": { type: "string" },
  "log-timestamps": { type: "boolean" },
  "max-buffered-bytes": { type: "string" },
  "auth-file": { type: "string" },
  insecure: { type: "boolean" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "stop-on-stdin-close": { type: "boolean" },
} as const;

/**
 * Shortest `--tombstone-grace`: one second. None would purge a delete at once, before a
 * replica that missed it could be told, so an older copy would come back at once; a
 * store checks for tombstones to purge as often as the grace, which 0 made every ms.
 */
export const MIN_TOMBSTONE_GRACE_MS = 1000;

/** Milliseconds in each unit `--tombstone-grace` takes. */
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--tombstone-grace` in milliseconds: seconds, or a whole number with a unit
 * (`90m`, `24h`, `7d`), at most MAX_TOMBSTONE_GRACE_MS.
 */
function parseGrace(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TOMBSTONE_GRACE_MS;
  const match = /^(\d{1,12})([smhd]?)$/.exec(text);
  const ms = match === null ? NaN : Number(match[1]) * DURATION_UNITS[match[2] || "s"];
  if (!(ms >= MIN_TOMBSTONE_GRACE_MS && ms <= MAX_TOMBSTONE_GRACE_MS)) {
    throw new UserError(
      `kv server: --tombstone-grace must be a whole number of seconds, or one with s, m, h ` +
        `or d (24h), at least ${MIN_TOMBSTONE_GRACE_MS / 1000} s and at most ` +
        `${MAX_TOMBSTONE_GRACE_MS / 86_400_000} days, got '${text}'`,
    );
  }
  return ms;
}

/** Everything `kv server` was asked to do, flags parsed and checked. */
interface ServerSettings {
  hostname: string;
  port: number;
  dataDir: string | undefined;
  fsync: FsyncPolicy;
  compactionMinLogBytes: number;
  markUnrepaired: boolean;
  keepStaleData: boolean;
  maxConnections: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxBufferedBytes: number;
  authFile: string | undefined;
  insecure: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tombstoneGraceMs: number;
  stopOnStdinClose: boolean;
  logger: Logger;
}

function parseSettings(args: string[]): ServerSettings {
  const { values } = parseFlags("server", args, FLAGS, {
    meantFlag: fileOrNumberFlag(undefined, "-p"),
    synonyms: ADDRESS_SYNONYMS,
  });
  const logLevelText = values["log-level"] ?? DEFAULT_LOG_LEVEL;
  const logLevel = parseLogLevel(logLevelText);
  if (logLevel === undefined) {
    throw new UserError(
      `kv server: --log-level must be one of ${LOG_LEVELS.join(", ")}, got '${logLevelText}'`,
    );
  }
  const storage = storageSettings(values);
  const hostname = parseAddress(values.address ?? DEFAULT_HOSTNAME);
  const authFile = values["auth-file"];
  const tlsCert = values["tls-cert"];
  const tlsKey = values["tls-key"];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UserError("kv server: --tls-cert and --tls-key go together; give both or neither");
  }
  const stopOnStdinClose = values["stop-on-stdin-close"] ?? false;
  return {
    hostname,
    port: intFlag("server", "-p", values.port, { min: 0, max: 65535, fallback: DEFAULT_PORT }),
    ...storage,
    ...limitSettings(values),
    authFile,
    insecure: values.insecure ?? false,
    tlsCert,
    tlsKey,
    tombstoneGraceMs: parseGrace(values["tombstone-grace"]),
    stopOnStdinClose,
    logger: new Logger({
      name: "kv server",
      level: logLevel,
      timestamps: values["log-timestamps"] ?? false,
    }),
  };
}

/** The flags `kv server` was given, as {@link parseFlags} reads them. */
type ServerFlagValues = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

/**
 * Where and how the records are kept: `--data-dir`, `--fsync`, `--compact-log-mib`,
 * `--mark-unrepaired`, `--keep-stale-data`.
 */
function storageSettings(
  values: ServerFlagValues,
): Pick<
  ServerSettings,
  "dataDir" | "fsync" | "compactionMinLogBytes" | "markUnrepaired" | "keepStaleData"
> {
  const fsyncText = values.fsync;
  if (fsyncText !== undefined && !(FSYNC_POLICIES as readonly string[]).includes(fsyncText)) {
    throw new UserError(
      `kv server: --fsync must be one of ${FSYNC_POLICIES.join(", ")}, got '${fsyncText}'`,
    );
  }
  const dataDir = values["data-dir"];
  if (dataDir === "") throw new UserError("kv server: --data-dir must not be empty");
  if (fsyncText !== undefined && dataDir === undefined) {
    throw new UserError("kv server: --fsync needs --data-dir (without it nothing is written)");
  }
  const markUnrepaired = values["mark-unrepaired"] ?? false;
  if (markUnrepaired && dataDir === undefined) {
    throw new UserError(
      "kv server: --mark-unrepaired needs --data-dir (a memory-only server always starts " +
        "unrepaired)",
    );
  }
  const keepStaleData = values["keep-stale-data"] ?? false;
  if (keepStaleData && dataDir === undefined) {
    throw new UserError(
      "kv server: --keep-stale-data needs --data-dir (a memory-only server keeps no data)",
    );
  }
  if (values["compact-log-mib"] !== undefined && dataDir === undefined) {
    throw new UserError(
      "kv server: --compact-log-mib needs --data-dir (without it there is no log)",
    );
  }
  return {
    dataDir,
    fsync: (fsyncText ?? "interval") as FsyncPolicy,
    markUnrepaired,
    keepStaleData,
    compactionMinLogBytes: MIB * intFlag("server", "--compact-log-mib", values["compact-log-mib"], {
      min: 1,
      max: MAX_COMPACT_LOG_MIB,
      fallback: DEFAULT_COMPACTION_MIN_LOG_BYTES / MIB,
    }),
  };
}

/** The limits on clients: connections, frame size, idle time, buffered bytes. */
function limitSettings(
  values: ServerFlagValues,
): Pick<ServerSettings, "maxConnections" | "maxFrameBytes" | "idleTimeoutMs" | "maxBufferedBytes"> {
  return {
    maxConnections: intFlag("server", "--max-connections", values["max-connections"], {
      min: 1,
      max: MAX_CONNECTIONS_LIMIT,
      fallback: DEFAULT_MAX_CONNECTIONS,
    }),
    maxFrameBytes: intFlag("server", "--max-frame-bytes", values["max-frame-bytes"], {
      min: MIN_FRAME_BYTES,
      max: MAX_FRAME_BYTES_LIMIT,
      fallback: DEFAULT_MAX_FRAME_BYTES,
    }),
    idleTimeoutMs: intFlag("server", "--idle-timeout-ms", values["idle-timeout-ms"], {
      min: MIN_IDLE_TIMEOUT_MS,
      max: MAX_IDLE_TIMEOUT_MS,
      fallback: DEFAULT_IDLE_TIMEOUT_MS,
    }),
    maxBufferedBytes: intFlag("server", "--max-buffered-bytes", values["max-buffered-bytes"], {
      min: MIN_BUFFERED_BYTES,
      max: Number.MAX_SAFE_INTEGER,
      fallback: DEFAULT_MAX_BUFFERED_BYTES,
    }),
  };
}

/**
 * The host `-a` names: an IPv6 address may come in brackets, as in a server file
 * (`[::1]`); an address with a port (`127.0.0.1:8000`, `[::1]:8000`) is refused, since
 * the port is `-p`'s, rather than taken for a host name that could not be found.
 */
function parseAddress(text: string): string {
  if (text === "") throw new UserError("kv server: -a must not be empty");
  const withPort = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(text);
  if (withPort !== null) {
    const host = withPort[1] ?? withPort[2];
    throw new UserError(
      `kv server: -a ${text} holds a port; give the address alone and the port with -p ` +
        `(-a ${host} -p ${withPort[3]})`,
    );
  }
  const bracketed = /^\[(.+)\]$/.exec(text);
  const host = bracketed === null ? text : bracketed[1];
  if (!HOST_CHARACTERS.test(host)) {
    throw new UserError(
      `kv server: -a '${text}' is not an address or a host name; give an IP address ` +
        "(127.0.0.1, ::1, [::1]) or a host name",
    );
  }
  return host;
}

/** The characters of a host name or an IP address (an IPv6 one with a zone, `%eth0`). */
const HOST_CHARACTERS = /^[A-Za-z0-9.\-_:%]+$/;

/**
 * Resolves `-a` (a host name no resolver knows is one line saying so) and refuses, unless
 * `--auth-file` or `--insecure`, an address other machines can reach: checked in this
 * order, so a name that does not exist is not taken for one that lets them in.
 */
async function checkAddress(settings: ServerSettings): Promise<void> {
  const { hostname } = settings;
  if (await listensOnLoopback("kv server", "-a", hostname)) return;
  if (settings.authFile === undefined && !settings.insecure) {
    throw new UserError(
      `kv server: -a ${hostname} lets other machines connect, and without --auth-file ` +
        "anyone could read and delete every record; give --auth-file (see 'kv secret'), " +
        "or --insecure to accept that",
    );
  }
}

/** The auth keys and TLS certificate the flags name, read and checked. */
async function readSecurity(
  settings: ServerSettings,
): Promise<{ auth?: AuthKeys; tls?: { cert: string; key: string } }> {
  try {
    const auth = settings.authFile === undefined
      ? undefined
      : await AuthKeys.read(settings.authFile);
    if (settings.tlsCert === undefined || settings.tlsKey === undefined) return { auth };
    return { auth, tls: await readCertAndKey(settings.tlsCert, settings.tlsKey) };
  } catch (error) {
    if (error instanceof AuthFileError || error instanceof CredentialsError) {
      throw new UserError(`kv server: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Warns when the data dir lets group or others in: one made by an older kv, or by hand (a
 * new one is made 0700); every record is in its files. A warning rather than a refusal:
 * the dir may be shared on purpose, and the server has started on it before.
 */
async function warnIfDataDirExposed(dataDir: string | undefined, logger: Logger): Promise<void> {
  if (dataDir === undefined) return;
  const exposed = exposedSecretDirectory(dataDir, await Deno.stat(dataDir));
  if (exposed === undefined) return;
  logger.warn(`data dir ${dataDir} is ${exposed}: any local user can read every record in it`);
}

/**
 * Opens the store; `address` is where the server will listen (judged with -p), if told;
 * `onStale` is told when the running store finds its dir out of the cluster too long.
 */
async function openStore(
  settings: ServerSettings,
  address: string | undefined,
  onStale: (error: StaleDataDirError) => void,
): Promise<Store> {
  try {
    return await Store.open({
      dataDir: settings.dataDir,
      fsync: settings.fsync,
      compactionMinLogBytes: settings.compactionMinLogBytes,
      tombstoneGraceMs: settings.tombstoneGraceMs,
      markUnrepaired: settings.markUnrepaired,
      keepStaleData: settings.keepStaleData,
      port: settings.port,
      address,
      onWarning: (message) => settings.logger.warn(message),
      onWritableChange: (failure) => {
        if (failure === undefined) settings.logger.info(describeWritable(undefined));
        else settings.logger.error(describeWritable(failure));
      },
      onStale,
    });
  } catch (error) {
    if (
      error instanceof StoreLockedError || error instanceof StoreCorruptError ||
      error instanceof LogFormatError || error instanceof SnapshotFormatError ||
      error instanceof LockFileError || error instanceof StaleDataDirError
    ) {
      throw new UserError(`kv server: ${error.message}`);
    }
    if (error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory) {
      // Under a file (`--data-dir notes.txt/data`) the dir itself does not exist: name the file.
      const file = settings.dataDir === undefined ? undefined : fileAbove(settings.dataDir);
      throw new UserError(
        file === undefined
          ? `kv server: --data-dir ${settings.dataDir} exists but is not a directory; name a directory`
          : `kv server: --data-dir ${settings.dataDir}: ${file} is a file, not a directory; ` +
            "name a directory",
      );
    }
    // Any other file-system error: permission denied, disk full, …
    if (isFsError(error)) {
      throw new UserError(
        `kv server: cannot open --data-dir ${settings.dataDir}: ${describeFsError(error)}` +
          dataDirAdvice(error),
      );
    }
    throw error;
  }
}

/** The file one of `path`'s parent directories is, if one is (`a.txt` of `a.txt/data`). */
function fileAbove(path: string): string | undefined {
  const parts = path.split("/");
  for (let end = 1; end < parts.length; end++) {
    const above = parts.slice(0, end).join("/");
    if (above === "") continue;
    try {
      if (!Deno.statSync(above).isDirectory) return above;
    } catch {
      return undefined; // gone or unreadable: no file to name
    }
  }
  return undefined;
}

/**
 * What to do about a file-system error met opening the data dir, as `; …` to end the
 * message with, or "" where the reason says it all.
 */
function dataDirAdvice(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    // An intact data dir starts without writing: only a recovery that must change it writes.
    return "; free space on its disk and start again (a start writes to the data dir only " +
      "to repair it: a torn log tail, a new or emptied dir, an older format)";
  }
  if (code === "EROFS") {
    return "; remount its file system read-write, or give --data-dir a directory on a " +
      "writable one";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "; give the user running kv server write access to it, or name another --data-dir";
  }
  return "";
}

/**
 * The TLS the server ends itself over each connection; `node:tls` (lib/protocol/tls_server.ts)
 * imported only then: about 20 ms of every start's CPU otherwise. The files were checked
 * already (readCertAndKey): what OpenSSL still refuses is one line too.
 */
async function tlsContext(
  settings: ServerSettings,
  tls: { cert: string; key: string } | undefined,
): Promise<TlsServerContext | undefined> {
  if (tls === undefined) return undefined;
  const { TlsServerContext } = await import("../protocol/tls_server.ts");
  try {
    return new TlsServerContext(tls.cert, tls.key);
  } catch (error) {
    // Not the files' fault: this Deno lacks what kv's TLS runs over.
    if (error instanceof TlsUnsupportedError) {
      throw new UserError(`kv server: cannot serve TLS: ${error.message}`);
    }
    throw new UserError(
      `kv server: cannot serve TLS with --tls-cert ${settings.tlsCert} and --tls-key ` +
        `${settings.tlsKey}: ${describeError(error)}; give a certificate and key OpenSSL accepts`,
    );
  }
}

/**
 * Takes and frees the port before the data dir is opened, so that a start refused its port
 * (in use, or an address not on this machine) leaves the dir as it was: opening it judges
 * the last run by its port, and a start on another port than the dir's own is unrepaired
 * until a repair, for a port it never served on. Another process may take the port in
 * between; listen then refuses it as before. A port refused while another server holds the
 * data dir is refused for the dir: a second server started with the same flags, told "pick
 * another -p", would only then be told the dir is in use, where the dir's line names the
 * server (its pid) to stop. Resolves with the address the port was taken on (`-a` as the
 * listen resolved it), which the run record keeps beside the port; undefined for `-p 0`.
 */
async function checkPortFree(settings: ServerSettings): Promise<string | undefined> {
  if (settings.port === 0) return undefined;
  try {
    const listener = Deno.listen({
      hostname: settings.hostname,
      port: settings.port,
      transport: "tcp",
    });
    listener.close();
    return listener.addr.hostname;
  } catch (error) {
    const inUse = settings.dataDir === undefined ? undefined : await dataDirInUse(settings.dataDir);
    if (inUse !== undefined) throw new UserError(`kv server: ${inUse.message}`);
    const where = hostPort(settings.hostname, settings.port);
    throw listenFailure("kv server", where, { port: "-p", address: "-a" }, error);
  }
}

function listen(server: KvServer, settings: ServerSettings): Deno.NetAddr {
  try {
    return server.listen();
  } catch (error) {
    const where = hostPort(settings.hostname, settings.port);
    throw listenFailure("kv server", where, { port: "-p", address: "-a" }, error);
  }
}

/**
 * What a server says once it listens: recovery's warnings, a data dir others may read, a
 * start unrepaired, then one line of where it listens, on what data, and how it is secured.
 */
async function logStarted(
  settings: ServerSettings,
  recovery: RecoveryInfo,
  security: { auth?: AuthKeys; tls?: { cert: string; key: string } },
  addr: Deno.NetAddr,
): Promise<void> {
  const { logger } = settings;
  for (const warning of recovery.warnings) logger.warn(`recovery: ${warning}`);
  await warnIfDataDirExposed(settings.dataDir, logger);
  if (recovery.suspectedLoss !== undefined) {
    logger.warn(`started unrepaired: ${recovery.suspectedLoss}; ${UNTIL_REPAIRED}`);
  }
  if (settings.markUnrepaired) logger.warn(MARKED_UNREPAIRED);
  const data = settings.dataDir === undefined ? "memory only" : `data: ${settings.dataDir}`;
  const secured = `${security.tls ? "TLS" : "plain TCP"}, ` +
    `${security.auth ? "auth required" : "no auth"}`;
  const records = counted(recovery.recordCount, "record");
  logger.info(
    `listening on ${hostPort(addr.hostname, addr.port)} (${data}, ${records}, ` +
      `recovered in ${Math.round(recovery.recoveryMs)} ms, ${secured})`,
  );
}

async function runServer(args: string[]): Promise<number> {
  const settings = parseSettings(args);
  if (settings.stopOnStdinClose) {
    await checkStdinEndsWithSupervisor("server", "--stop-on-stdin-close");
  }
  await checkAddress(settings);
  const { logger } = settings;
  const security = await readSecurity(settings);
  if (security.tls !== undefined && settings.tlsCert !== undefined) {
    const warnings = await certificateWarnings(settings.tlsCert, security.tls.cert);
    for (const warning of warnings) logger.warn(warning);
  }
  const tls = await tlsContext(settings, security.tls);
  const address = await checkPortFree(settings);
  // Found out of the cluster too long while running: it stops, and exits as a start would.
  const stale: { error?: StaleDataDirError; found: PromiseWithResolvers<string> } = {
    found: Promise.withResolvers<string>(),
  };
  const store = await openStore(settings, address, (error) => {
    stale.error = error;
    stale.found.resolve("data dir out of the cluster too long");
  });
  const server = new KvServer({
    auth: security.auth,
    tls,
    maxBufferedBytes: settings.maxBufferedBytes,
    store,
    hostname: settings.hostname,
    port: settings.port,
    maxConnections: settings.maxConnections,
    maxFrameBytes: settings.maxFrameBytes,
    idleTimeoutMs: settings.idleTimeoutMs,
    logger,
  });
  let addr: Deno.NetAddr;
  try {
    addr = listen(server, settings);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Its run records keep the port it serves, which a start on another port is judged by;
  // not a port 0 picked: the next start's -p 0 picks another, and tells no mix-up.
  if (settings.port !== 0) {
    // Not written: the record keeps the last port, and a start on this one after a crash is
    // unrepaired (the safe side); the server serves on.
    await store.servesOn(addr.port, addr.hostname).catch((error) =>
      logger.warn(`could not record port ${addr.port} in the data dir's LOCK: ${error}`)
    );
  }
  const stop = untilSignal(logger);
  try {
    await logStarted(settings, store.recovery, security, addr);
    const stopped = settings.stopOnStdinClose
      ? Promise.race([stop.signalled, untilStdinCloses(), stale.found.promise])
      : Promise.race([stop.signalled, stale.found.promise]);
    logger.info(`${await stopped}: shutting down`);
    await server.close();
    // Found at the close too (a freeze, then SIGTERM): the store recorded no clean stop.
    if (stale.error !== undefined) throw new UserError(`kv server: ${stale.error.message}`);
    logger.info(`stopped (${counted(store.recordCount, "record")})`);
    return 0;
  } finally {
    stop.dispose();
  }
}

/** What an unrepaired start means, and what ends it. */
const UNTIL_REPAIRED = "brokers do not count this server's answers until kv repair (or a " +
  "running broker's background repair) refills it and marks it repaired";

/**
 * Logged at a start with `--mark-unrepaired`: what the flag did, and what ends it.
 */
const MARKED_UNREPAIRED = `started unrepaired, as --mark-unrepaired asks: ${UNTIL_REPAIRED}`;

/** The `kv server` subcommand. */
export const serverCommand: Subcommand = {
  name: "server",
  help: HELP,
  run: runServer,
};
