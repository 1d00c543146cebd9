/**
 * Opening a broker for a command of the CLI (`kv broker`, the one-shot commands): the
 * optional `-k` flag, and the cluster's recorded k (lib/broker/cluster_k.ts) refusing a
 * different one with the command's one-line user error (exit 2).
 *
 * @example
 * ```ts
 * import { serverAddress } from "../broker/server_list.ts";
 * import { openBroker, replicasFlag } from "./open_broker.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const values = { replicas: "2", "auth-file": "kv.auth" }; // as parseFlags gives them
 * const k = replicasFlag("get", values.replicas, servers.length, "servers.txt");
 * const broker = await openBroker("get", "servers.txt", servers, { k }, values);
 * ```
 * @module
 */
import { Broker, type BrokerOptions } from "../broker/broker.ts";
import {
  BARE_REPAIR,
  ClusterKError,
  ClusterKUnknownError,
  namedServers,
  type UnreachableServer,
} from "../broker/cluster_k.ts";
import {
  MAX_SERVERS,
  readServerList,
  type ServerAddress,
  ServerFileError,
  ServerLookupError,
} from "../broker/server_list.ts";
import { listedTwice, type ServerPool } from "../broker/server_pool.ts";
import { isTimeoutReason } from "../protocol/client.ts";
import { intFlag } from "./args.ts";
import { credentialsRefusedError } from "./security_flags.ts";
import { UnavailableError, UserError } from "./user_error.ts";
import { invariant } from "../base/invariant.ts";

/**
 * The CLI's error for a server file that `readServerList` refused with `error`, saying
 * `message` (the command's line): a UserError (exit 2) for the file's own mistakes, an
 * UnavailableError (exit 3) for a host name the resolver could not look up now
 * (ServerLookupError, EAI_AGAIN), which the same command may get past once DNS answers.
 *
 * @example
 * ```ts
 * import { ServerFileError } from "../broker/server_list.ts";
 * const error = new ServerFileError("s.txt:1:1: cannot resolve host nohost (ENOTFOUND); …");
 * serverFileFailure(error, `kv get: ${error.message}`); // a UserError: exit 2
 * ```
 */
export function serverFileFailure(
  error: ServerFileError,
  message: string,
): UserError | UnavailableError {
  return error instanceof ServerLookupError
    ? new UnavailableError(message)
    : new UserError(message);
}

/**
 * The `-k` flag of `kv <command>`: undefined when absent (the broker takes the
 * cluster's k), else a whole number from 1 to the `serverCount` servers `serverFile`
 * lists; anything else is a UserError.
 *
 * @example
 * ```ts
 * replicasFlag("broker", "2", 4, "servers.txt"); // 2
 * replicasFlag("broker", undefined, 4, "servers.txt"); // undefined
 * ```
 */
export function replicasFlag(
  command: string,
  text: string | undefined,
  serverCount: number,
  serverFile: string,
): number | undefined {
  if (text === undefined) return undefined;
  const k = intFlag(command, "-k", text, { min: 1, max: MAX_SERVERS });
  if (k > serverCount) {
    throw new UserError(
      `kv ${command}: -k ${k} needs at least ${k} servers, but ${serverFile} lists ${serverCount}`,
    );
  }
  return k;
}

/**
 * The `-k` flag of `kv <command>` for a command that hands the server file to the library
 * (kv bench, kv http), checked against that file as kv broker checks it (`-k 9 needs at
 * least 9 servers, but servers.txt lists 3`) before anything connects: the library's own
 * check names its option, `replicas`, and `servers`, rather than the flag and the file.
 * Undefined when not given. `source` adds to a problem with the file where its path came
 * from (withServerFileSource: `(named by $KV_SERVERS)`); default nothing.
 *
 * @example
 * ```ts
 * await checkedReplicas("http", "serverFile.txt", "2"); // 2, when the file lists 2 or more
 * ```
 */
export async function checkedReplicas(
  command: string,
  serverFile: string,
  text: string | undefined,
  source: (message: string) => string = (message) => message,
): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const servers = await readServerList(serverFile).catch((error) => {
    throw error instanceof ServerFileError
      ? serverFileFailure(error, `kv ${command}: ${source(error.message)}`)
      : error;
  });
  return replicasFlag(command, text, servers.length, serverFile);
}

/**
 * What to do about servers that cannot be reached: a server refusing this client's
 * credentials is as unreachable as one not started, and starting it again would not help.
 */
export const START_SERVERS_ADVICE = "start them (or check --auth-file and --tls-ca) and retry";

/** {@link START_SERVERS_ADVICE} for a server file of one server. */
const START_SERVER_ADVICE = "start it (or check --auth-file and --tls-ca) and retry";

/** What to do when every server unreachable is running but has no room for the client. */
const BUSY_ADVICE = "retry once there is room";

/**
 * What to do when some servers unreachable are running without room (BUSY) and the others
 * are not: one server reached is enough, so either remedy will do. "Start them" told the
 * operator to start the running ones too.
 */
const SOME_BUSY_ADVICE =
  "start those not running (or check --auth-file and --tls-ca), or retry once those BUSY have room";

/** What to do when every server unreachable ran out of the client's time (isTimeoutReason). */
const TIMEOUT_ADVICE = "raise --timeout-ms if they are busy, or restart them if hung, and retry";

/** {@link TIMEOUT_ADVICE} for a server file of one server. */
const TIMEOUT_ADVICE_ONE = "raise --timeout-ms if it is busy, or restart it if hung, and retry";

/**
 * Each server of `pool` that is not up, and why, in server-file order.
 *
 * @example
 * ```ts
 * import { serverAddress } from "../broker/server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const values = { replicas: "2", "auth-file": "kv.auth" }; // as parseFlags gives them
 * const broker = await openBroker("get", "servers.txt", servers, { k: 2 }, values);
 * unreachableServers(broker.pool); // [{ server: "127.0.0.1:8001", error: "cannot connect …" }]
 * ```
 */
export function unreachableServers(pool: ServerPool): UnreachableServer[] {
  return pool.servers.flatMap((server, index) => {
    const error = pool.downReason(index);
    return error === undefined ? [] : [{ server: server.id, error, busy: pool.isBusy(index) }];
  });
}

/**
 * No server of a server file could be reached: not a mistake, the same command succeeds
 * once one is back. An {@link UnavailableError} (one line, exit 3) where it ends a command
 * that cannot start without a server (`kv broker`, `kv http`, `kv bench`); a one-shot
 * command answers it instead as the cluster's `ERROR:` (exit 3 too).
 *
 * @example
 * ```ts
 * const error = new NoServerReachableError("get", "none of the 2 servers in s.txt is reachable (…)");
 * error.message; // "kv get: none of the 2 servers in s.txt is reachable (…)"
 * error.reason; // "none of the 2 servers in s.txt is reachable (…)": the one-shot's ERROR text
 * ```
 */
export class NoServerReachableError extends UnavailableError {
  /** What happened and what to do, without the command: the one-shot's `ERROR:` text. */
  readonly reason: string;

  /**
   * The error for `kv <command>` finding no server reachable.
   *
   * @param command the kv command, for the message's `kv <command>:` prefix.
   * @param reason see {@link NoServerReachableError.reason}.
   */
  constructor(command: string, reason: string) {
    super(`kv ${command}: ${reason}`);
    this.name = "NoServerReachableError";
    this.reason = reason;
  }
}

/**
 * `kv <command>: none of the N servers in FILE is reachable (a: why; b: why); start them …`:
 * the one line of every command that cannot go on without a server, naming each server
 * `down` and why (`namedServers`: the first few, then how many more), and `orElse`,
 * what else the command can do, after the advice to start them — or, when every one is
 * running but has no room (BUSY), to retry later (when some are, either), and when every
 * one only ran out of the client's time, to raise --timeout-ms (or restart a hung one).
 *
 * @example
 * ```ts
 * const down = [{ server: "127.0.0.1:8000", error: "refused" }];
 * noServerReachable("broker", "servers.txt", down);
 * noServerReachable("http", "servers.txt", down, "or give -k to serve now");
 * ```
 */
export function noServerReachable(
  command: string,
  serverFile: string,
  down: readonly UnreachableServer[],
  orElse?: string,
): NoServerReachableError {
  invariant(down.length > 0, "an unreachable cluster has a server down");
  // "the one server … is not reachable", "none of the 2 servers … is reachable".
  const which = down.length === 1
    ? `the one server in ${serverFile} is not reachable`
    : `none of the ${down.length} servers in ${serverFile} is reachable`;
  // Servers at their connection limit are running: starting them is not the answer; nor
  // for servers that only took longer than --timeout-ms.
  const one = down.length === 1;
  const advice = down.every((each) => each.busy === true)
    ? BUSY_ADVICE
    : down.some((each) => each.busy === true)
    ? SOME_BUSY_ADVICE
    : down.every((each) => isTimeoutReason(each.error))
    ? (one ? TIMEOUT_ADVICE_ONE : TIMEOUT_ADVICE)
    : one
    ? START_SERVER_ADVICE
    : START_SERVERS_ADVICE;
  const named = namedServers(down);
  const also = orElse === undefined ? "" : `, ${orElse}`;
  return new NoServerReachableError(command, `${which} (${named}); ${advice}${also}`);
}

/**
 * `kv <command>: FILE lists one server twice (b is the same server as a); keep one line per
 * server`, for a server file whose lines reach one server under two addresses (the server
 * answers HELLO with the same id: `ServerPool.twins`), which the file alone cannot show.
 *
 * @example
 * ```ts
 * import { serverAddress } from "../broker/server_list.ts";
 * import { ServerPool } from "../broker/server_pool.ts";
 * const pool = new ServerPool([serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8000)]);
 * const twins = pool.twins();
 * if (twins.length > 0) throw serverListedTwice("get", "servers.txt", twins);
 * ```
 */
export function serverListedTwice(
  command: string,
  serverFile: string,
  twins: readonly string[],
): UserError {
  return new UserError(`kv ${command}: ${listedTwice(serverFile, twins)}`);
}

/**
 * {@link Broker.open} for `kv <command>` over the servers of `serverFile`: a k the servers
 * do not record is a UserError (`kv broker: asked for k=3, but the cluster records k=2 (…);
 * leave k out to use it, or change it with kv repair -s servers.txt -k 3`, the repair
 * command `options.repairCommand`), and so is no k given while the cluster's cannot be
 * told — an UnavailableError, {@link noServerReachable}, when no server is reachable at
 * all — and credentials refused by every server
 * (`credentialsRefusedError`, which `flags`, the security flags as typed, let name the auth
 * file's source).
 *
 * @example
 * ```ts
 * import { serverAddress } from "../broker/server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const values = { replicas: "2", "auth-file": "kv.auth" }; // as parseFlags gives them
 * const broker = await openBroker("broker", "servers.txt", servers, { k: 2 }, values);
 * ```
 */
export async function openBroker(
  command: string,
  serverFile: string,
  servers: readonly ServerAddress[],
  options: BrokerOptions,
  flags: { "auth-file"?: string; "tls-ca"?: string },
): Promise<Broker> {
  try {
    return await Broker.open(servers, options);
  } catch (error) {
    if (error instanceof ClusterKUnknownError && error.unreachable.length === error.servers) {
      throw noServerReachable(command, serverFile, error.unreachable);
    }
    if (error instanceof ClusterKError) {
      // The exact command that settles it: the client's server file and credentials.
      throw new UserError(
        `kv ${command}: ${error.withRepair(options.repairCommand ?? BARE_REPAIR)}`,
      );
    }
    throw credentialsRefusedError(command, error, flags) ?? error;
  }
}
