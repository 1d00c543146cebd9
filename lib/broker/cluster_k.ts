/**
 * The cluster's replication factor, which the servers remember (SET_K, kept in each
 * server's data dir): every client that opens a broker agrees with it before serving.
 * A broker asked for a k the servers do not record is refused — a broker writing with
 * another k than the data was written with would miss records and leave copies behind
 * (changing k is `kv repair -k N`, which re-places the data).
 *
 * Recording a k is either _restoring_ it — giving the k that reachable servers record to
 * a server that records none (a memory-only server restarted, an emptied data dir): a
 * fact, which any client does — or _fixing_ it — recording a k that no reachable server
 * records: a choice, which only a client that may write makes ({@link KAgreement}), and
 * only when nothing can contradict it:
 *
 * - reachable servers record one k: it is used (another requested k is refused) and
 *   restored to the reachable servers recording none;
 * - they record different ks: refused, `kv repair -k N` settles one (a status check,
 *   `kv servers`, still shows them: `Broker.open`'s `statusOnly`);
 * - none records one and every listed server is reachable (a new cluster): the requested
 *   k, else {@link DEFAULT_K}, is fixed on all of them. A cluster whose every server lost
 *   its data (memory-only servers restarted) looks the same, so the default, which may
 *   replace a forgotten k, is said ({@link defaultKNotice}; `Broker.notice`);
 * - none records one and some listed servers are unreachable: they may record a k, so
 *   {@link DEFAULT_K} would be a guess that outlives the outage (a wiped server given
 *   k = 1 while its k = 2 peers were down leaves the servers recording different ks once
 *   those are back, and every client refused). A writing client is refused
 *   ({@link ClusterKUnknownError}, naming the unreachable servers) unless it was given a k;
 *   a requested k is the caller's statement of the cluster's k and is fixed on the
 *   reachable servers: if an unreachable one records another, every client says so once
 *   it is back (a conflict `kv repair -k N` settles), rather than silently writing with a
 *   wrong k.
 *
 * A client that only reads (`kv get`, `query`, `keys`, `servers`) never fixes a k: where a
 * writing client would fix one, it reads with the requested k, else {@link DEFAULT_K},
 * for its own session and records nothing, so a status check cannot decide the k of a new
 * cluster or of a half-down one. Reading with a wrong k costs at most that session's
 * answers: servers that record no k are new, emptied or restarted memory-only — unrepaired,
 * so their answers carry warnings — or a data dir from before k was recorded. A status
 * check (`kv servers`, {@link KAgreement}'s `statusOnly`) records nothing at all, not even
 * a k to restore: over a list naming a new server beside a cluster it would give the new
 * server the cluster's k, and the check run before adding it would then see a cluster's
 * server.
 *
 * Nor does a writing client whose server list reaches one server twice (two addresses,
 * which only the servers' HELLO tells apart): every caller refuses such a list once the
 * broker is open, and a refused run must leave the cluster's k to the first run over a
 * corrected list.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { agreeOnK } from "./cluster_k.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const k = await agreeOnK(pool, undefined); // the k the servers record, or 1
 * ```
 * @module
 */
import { withoutOsDetail } from "../base/fs_error.ts";
import type { ServerPool } from "./server_pool.ts";
import { counted } from "../base/plural.ts";

/** The replication factor of a new cluster whose first broker asked for none. */
export const DEFAULT_K = 1;

/**
 * What a client that fixed {@link DEFAULT_K} says, once, over `servers` servers: the servers
 * of a new cluster and those of one whose every server lost its data (memory-only servers
 * restarted) look alike — empty, recording no k — so the default may replace a k they
 * forgot, and that must not go unsaid.
 *
 * @example
 * ```ts
 * defaultKNotice(3, []); // "no server records a k, so k=1 (the default) is now the cluster's, …"
 * defaultKNotice(1, ["127.0.0.1:8000"]); // "… but 127.0.0.1:8000 could not record it …"
 * ```
 *
 * @param unrecorded the servers whose SET_K of it failed (a full disk: the server answers
 *   an error and logs why): the notice must not say it is recorded there.
 * @param repair the client's `kv repair` command, which the notice names.
 */
export function defaultKNotice(
  servers: number,
  unrecorded: readonly string[],
  repair = BARE_REPAIR,
): string {
  const fixed = `no server records a k, so k=${DEFAULT_K} (the default) is now the cluster's`;
  if (unrecorded.length > 0) {
    const which = someNamed(unrecorded);
    const logs = unrecorded.length === 1 ? "its log says" : "their logs say";
    return `${fixed}, but ${which} could not record it (${logs} why: a full disk, say); ` +
      `once that is fixed, record it with ${repair} -k ${DEFAULT_K}`;
  }
  const where = servers === 1 ? "its one server" : `all ${servers} servers`;
  return `${fixed}, recorded on ${where}; if they lost a cluster's data (memory-only ` +
    `servers restarted), its k was lost with it: set it with ${repair} -k N`;
}

/**
 * The servers of `pool` reachable now that do not record `k` (ids, in list order): those
 * whose SET_K of it failed, after {@link agreeOnK} fixed it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * unrecordedOn(pool, 1); // [] once every reachable server records k=1
 * ```
 */
export function unrecordedOn(pool: ServerPool, k: number): string[] {
  return pool.servers.flatMap((server, index) => {
    const state = pool.state(index);
    return state === undefined || state.k === k ? [] : [server.id];
  });
}

/** Unreachable servers a refusal names before summing up the rest ("and 7 more"). */
export const MAX_NAMED_SERVERS = 3;

/** What the CLI calls the k a client is given (`-k`), which a ClusterKError names by default. */
const K_OPTION = "k";

/**
 * Why a broker cannot open with the replication factor asked for (or the one recorded):
 * the caller's to fix (`kv broker` reports it in one line and exits 2), not a failure of
 * the servers.
 *
 * @example
 * ```ts ignore
 * // pool: a started ServerPool whose servers record k=2
 * try {
 *   await agreeOnK(pool, 3);
 * } catch (error) {
 *   error instanceof ClusterKError; // true
 *   // message: "asked for k=3, but the cluster records k=2 (k=2: 127.0.0.1:8000, ...);
 *   // leave k out to use it, or change it with kv repair -k 3"
 * }
 * ```
 */
export class ClusterKError extends Error {
  readonly #phrase: ((repair: string, option: string) => string) | undefined;

  /**
   * An error whose message the client may reword to name its own repair command and k option.
   *
   * @param message the whole line, naming `kv repair` where it advises a repair.
   * @param phrase the same line naming a given repair command instead (the client's own,
   *   `kv repair -s servers.txt`), and the client's own name for its k option, when the
   *   line advises one or names it.
   */
  constructor(message: string, phrase?: (repair: string, option: string) => string) {
    super(message);
    this.name = "ClusterKError";
    this.#phrase = phrase;
  }

  /**
   * The message with `repair`, the client's `kv repair` command (its server file and
   * credentials), in place of a bare `kv repair`: the exact command to run; and `option`,
   * what the client calls the k it was given (default `k`, the CLI's `-k`; the library's
   * `replicas`).
   *
   * @example
   * ```ts ignore
   * error.withRepair("kv repair -s servers.txt");
   * // "asked for k=3, but …; leave k out to use it, or change it with kv repair -s servers.txt -k 3"
   * error.withRepair("kv repair -s servers.txt", "replicas");
   * // "asked for replicas=3, but …; leave replicas out to use it, or change it with kv repair -s servers.txt -k 3"
   * ```
   */
  withRepair(repair: string, option = K_OPTION): string {
    return this.#phrase?.(repair, option) ?? this.message;
  }
}

/**
 * The servers record different ks (a `-k` change cut off half way, a wrong `-k` given while
 * servers were down), or came to while a client recorded its own: no client can read or
 * write until `kv repair -k N` settles one, but a status check (`kv servers`) still shows
 * them ({@link Broker.open}'s `statusOnly`).
 *
 * @example
 * ```ts ignore
 * // pool: 127.0.0.1:8000 records k=1, :8001 and :8002 record k=2
 * await agreeOnK(pool, undefined); // throws: "the servers record different replication
 * // factors (k=1: 127.0.0.1:8000; k=2: 127.0.0.1:8001, 127.0.0.1:8002); settle one with
 * // kv repair -k 2 or kv repair -k 1" (withRepair: the client's own command, -s and all)
 * ```
 */
export class ClusterKConflictError extends ClusterKError {
  /**
   * The error for servers recording different k, `phrase` rewording it to name the client's
   * own repair command.
   */
  constructor(message: string, phrase?: (repair: string) => string) {
    super(message, phrase);
    this.name = "ClusterKConflictError";
  }
}

/** A server that could not be reached, and why (its last failure). */
export interface UnreachableServer {
  /** The server's id (`host:port`). */
  readonly server: string;
  /** Why it could not be reached: its last failure. */
  readonly error: string;
  /**
   * Running, but it turned the client away with BUSY (`ServerPool.isBusy`): to be retried
   * once it has room, not started.
   */
  readonly busy?: boolean;
}

/**
 * A writing client asked for no k while no reachable server records one and some listed
 * servers are unreachable: they may record a k, so none can be chosen. Start them, or give
 * the cluster's k.
 *
 * @example
 * ```ts ignore
 * // pool: 127.0.0.1:8001 and :8002 down, :8000 up with its data dir wiped
 * await agreeOnK(pool, undefined); // throws: "cannot tell the cluster's k: the reachable
 * // servers record none, and 2 of its 3 servers are unreachable (127.0.0.1:8001: …;
 * // 127.0.0.1:8002: …); give its k (-k, replicas) if you know it, or start them"
 * ```
 */
export class ClusterKUnknownError extends ClusterKError {
  /**
   * The error for a k that cannot be known while `unreachable` are down.
   *
   * @param message the whole line, as in the example.
   * @param unreachable each unreachable server and why (and whether it is BUSY), in
   *   server-list order.
   * @param servers how many servers the list has.
   */
  constructor(
    message: string,
    readonly unreachable: readonly UnreachableServer[],
    readonly servers: number,
  ) {
    super(message);
    this.name = "ClusterKUnknownError";
  }
}

/** Options for {@link agreeOnK}. */
export interface KAgreement {
  /**
   * The client only reads records (`kv get`, `query`, `keys`): it never fixes the
   * cluster's k, only restores the recorded one (see the module doc); default false, a
   * client that may write and so fixes the k of a new cluster.
   */
  readonly readOnly?: boolean;
  /**
   * The client only shows the servers' state (`kv servers`): it records nothing, not even
   * a k the others record (that would make a new server checked beside a cluster look
   * like one of its own), and is refused neither for servers recording different ks nor
   * for a recorded k above the servers listed — SERVERS says both ({@link kProblem});
   * default false.
   */
  readonly statusOnly?: boolean;
}

/**
 * The k a broker over `pool` (started) uses, following the rules of the module doc; the
 * k recorded on reachable servers is restored to those recording none. Throws a
 * ClusterKError when `requested` differs from the recorded k, when servers record
 * different ks, when k exceeds the servers, or when a server records another k meanwhile
 * (another broker won the race); a ClusterKUnknownError when a writing client gave no k
 * and unreachable servers may record one.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * await agreeOnK(pool, 2); // 2, now recorded on every reachable server
 * await agreeOnK(pool, undefined, { readOnly: true }); // the recorded k; fixes none
 * ```
 */
export async function agreeOnK(
  pool: ServerPool,
  requested: number | undefined,
  options: KAgreement = {},
): Promise<number> {
  const recorded = recordedKs(pool);
  const only = recorded.size === 1 ? [...recorded.keys()][0] : undefined;
  if (requested !== undefined && only !== undefined && requested !== only) {
    const mismatch = (repair: string, option: string) =>
      `asked for ${option}=${requested}, but the cluster records k=${only} ` +
      `(${describe(recorded)}); leave ${option} out to use it, or change it with ` +
      `${repair} -k ${requested}`;
    throw new ClusterKError(mismatch(BARE_REPAIR, K_OPTION), mismatch);
  }
  // A status check shows what the servers record, and never changes it.
  if (options.statusOnly) return Math.min(only ?? requested ?? DEFAULT_K, pool.servers.length);
  if (recorded.size > 1) {
    throw new ClusterKConflictError(
      differentKs(recorded),
      (repair) => differentKs(recorded, repair),
    );
  }
  // A list that reaches one server twice is refused by every caller once open
  // (ServerPool.twins): a refused run must not fix the k of the cluster it was refused.
  const fixes = !(options.readOnly ?? false) && pool.twins().length === 0;
  if (only === undefined && requested === undefined && fixes) refuseUnlessAllReachable(pool);
  const k = requested ?? only ?? DEFAULT_K;
  if (only !== undefined && only > pool.servers.length) {
    throw new ClusterKError(tooFewListed(only, pool.servers.length));
  }
  if (k > pool.servers.length) {
    throw new ClusterKError(
      `k=${k} needs at least ${k} servers, but the server list has ${pool.servers.length}`,
    );
  }
  // A reader records only a k some reachable server records already (restoring it).
  if (only === undefined && !fixes) return k;
  const kept = await recordK(pool, k);
  if (kept.length > 0) {
    throw new ClusterKConflictError(
      `another broker recorded a different k meanwhile (${kept.join(", ")}); start again`,
    );
  }
  return k;
}

/**
 * Records `k` on every reachable server of `pool` that records none — on the first such
 * server before the others, and on none of the others when that one keeps another k (a
 * client racing to fix it) — and returns `server records k=M` for each that kept another
 * k. Servers that fail are left for the next call (a broker calls it again when a server
 * comes back). It records nothing while a reachable server records another k; with
 * `restoreOnly`, nothing unless the reachable servers that record a k all record `k`.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * await recordK(pool, 2); // [] when every reachable server now records 2
 * await recordK(pool, 2, { restoreOnly: true }); // the same, or nothing unless those recording one record 2
 * ```
 */
export async function recordK(
  pool: ServerPool,
  k: number,
  options: { readonly restoreOnly?: boolean } = {},
): Promise<string[]> {
  // Restoring is giving a fact: with servers recording different ks it would take a side,
  // and with them all recording another k (kv repair -k changed it) it would make one.
  const recorded = recordedKs(pool);
  if (options.restoreOnly && !(recorded.size === 1 && recorded.has(k))) return [];
  if ([...recorded.keys()].some((other) => other !== k)) return keptOtherK(pool, k);
  const kept: string[] = [];
  const record = async (index: number) => {
    const id = pool.servers[index].id;
    const state = pool.state(index);
    if (state === undefined || state.k === k) return;
    if (state.k !== 0) {
      kept.push(`${id} records k=${state.k}`);
      return;
    }
    const outcome = await pool.call(index, (connection) => connection.setK(k));
    if (outcome.ok && outcome.value !== k) kept.push(`${id} records k=${outcome.value}`);
  };
  // Two clients fixing different ks at once both ask the first server recording none
  // before any other: the one it refuses stops there, where recording on all at once
  // left each k on the servers its SET_K reached first (every client refused after).
  const first = pool.servers.findIndex((_, index) => pool.state(index)?.k === 0);
  if (first !== -1) await record(first);
  if (kept.length > 0) return kept;
  await Promise.all(pool.servers.map((_, index) => index === first ? undefined : record(index)));
  return kept;
}

/** `server records k=M` for each reachable server of `pool` recording another k than `k`. */
function keptOtherK(pool: ServerPool, k: number): string[] {
  return pool.servers.flatMap((server, index) => {
    const recorded = pool.state(index)?.k ?? 0;
    return recorded === 0 || recorded === k ? [] : [`${server.id} records k=${recorded}`];
  });
}

/**
 * `a: why; b: why`: each server of `down` and why it is down (without the OS's own
 * wording), the first {@link MAX_NAMED_SERVERS}, then how many more.
 *
 * @example
 * ```ts
 * namedServers([{ server: "127.0.0.1:8000", error: "cannot connect …" }]); // "127.0.0.1:8000: cannot connect …"
 * ```
 */
export function namedServers(
  down: readonly { readonly server: string; readonly error: string }[],
): string {
  return someNamed(down.map(({ server, error }) => `${server}: ${withoutOsDetail(error)}`), "; ");
}

/**
 * The first {@link MAX_NAMED_SERVERS} of `names` joined by `separator`, then how many more
 * there are: ids read `a, b, c and 2 more`; clauses joined by `; ` keep it before the rest,
 * `a: why; b: why; c: why; and 2 more`.
 *
 * @example
 * ```ts
 * someNamed(["a", "b", "c", "d", "e"]); // "a, b, c and 2 more"
 * someNamed(["a: down", "b: down"], "; "); // "a: down; b: down"
 * ```
 */
export function someNamed(names: readonly string[], separator: ", " | "; " = ", "): string {
  const named = names.slice(0, MAX_NAMED_SERVERS).join(separator);
  const more = names.length - MAX_NAMED_SERVERS;
  if (more <= 0) return named;
  return `${named}${separator === "; " ? ";" : ""} and ${more} more`;
}

/**
 * Throws a ClusterKUnknownError naming the unreachable servers of `pool`, if any: called
 * when no reachable server records a k, so an unreachable one may record any.
 */
function refuseUnlessAllReachable(pool: ServerPool): void {
  // A server listed twice is not unreachable under its second address: it is the first.
  const down = pool.servers.flatMap((server, index) =>
    pool.isUp(index) || pool.twinOf(index) !== undefined
      ? []
      : [{ server: server.id, error: pool.downReason(index) ?? "down", busy: pool.isBusy(index) }]
  );
  if (down.length === 0) return;
  const named = namedServers(down);
  const total = pool.servers.length;
  const what = down.length === total
    ? `none of its ${total} servers is reachable (${named})`
    : `the reachable servers record none, and ${down.length} of its ${total} servers ` +
      `${down.length === 1 ? "is" : "are"} unreachable (${named})`;
  throw new ClusterKUnknownError(
    `cannot tell the cluster's k: ${what}; give its k (-k, replicas) if you know it, ` +
      "or start them",
    down,
    total,
  );
}

/**
 * Each k the reachable servers of `pool` record, with the servers (ids) that record it.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * recordedKs(pool); // Map { 2 => ["127.0.0.1:8000", "127.0.0.1:8001"] }
 * ```
 */
export function recordedKs(pool: ServerPool): Map<number, string[]> {
  return byK(
    pool.servers.map((server, index) => ({ server: server.id, k: pool.state(index)?.k ?? 0 })),
  );
}

/**
 * What is wrong with the ks `servers` (each with the k it records, 0 for none) record,
 * over a server list of `listed` servers, else undefined: they record different ks, or
 * one k above the servers listed (a line left out of the file). The line a refused client
 * prints, and SERVERS shows: given `repair`, the client's `kv repair` command (`kv repair
 * -s servers.txt`), the different ks' line names each command that settles one, the k of
 * the most servers first.
 *
 * @example
 * ```ts
 * kProblem([{ server: "a:1", k: 1 }, { server: "b:1", k: 2 }, { server: "c:1", k: 0 }], 3);
 * // "the servers record different replication factors (k=1: a:1; k=2: b:1); settle one
 * // with kv repair -k 1 or kv repair -k 2"
 * kProblem([{ server: "a:1", k: 1 }, { server: "b:1", k: 2 }], 2, "kv repair -s s.txt");
 * // "… settle one with kv repair -s s.txt -k 1 or kv repair -s s.txt -k 2"
 * kProblem([{ server: "a:1", k: 2 }], 1);
 * // "the servers record k=2, but the server list has 1 server: list every server of the
 * // cluster, or lower k over the full list with kv repair -k N"
 * ```
 */
export function kProblem(
  servers: Iterable<{ readonly server: string; readonly k: number }>,
  listed: number,
  repair?: string,
): string | undefined {
  const recorded = byK(servers);
  if (recorded.size > 1) return differentKs(recorded, repair);
  const [only] = recorded.keys();
  return only !== undefined && only > listed ? tooFewListed(only, listed) : undefined;
}

/** Why a recorded k of `k` cannot be used over a list of `listed` servers, and what to do. */
function tooFewListed(k: number, listed: number): string {
  return `the servers record k=${k}, but the server list has ${counted(listed, "server")}: ` +
    "list every server of the cluster, or lower k over " +
    "the full list with kv repair -k N";
}

/** Each k (0, none, left out) with the servers that record it. */
function byK(
  servers: Iterable<{ readonly server: string; readonly k: number }>,
): Map<number, string[]> {
  const recorded = new Map<number, string[]>();
  for (const { server, k } of servers) {
    if (k !== 0) recorded.set(k, [...recorded.get(k) ?? [], server]);
  }
  return recorded;
}

/**
 * The conflict line for `recorded`, which holds two ks or more: settled with `repair -k`
 * and each k (the client's repair command, else a bare `kv repair`).
 */
function differentKs(recorded: Map<number, string[]>, repair = BARE_REPAIR): string {
  return `the servers record different replication factors (${describe(recorded)}); ` +
    `settle one with ${settleCommands(ksByCount(recorded), repair)}`;
}

/**
 * The repair command a client names when not told its own (`kv repair -s FILE`, with
 * credentials): the server file and flags are the caller's to add.
 */
export const BARE_REPAIR = "kv repair";

/**
 * The commands that settle the cluster on each of `ks`, in that order: `repair -k 2 or
 * repair -k 1`.
 *
 * @example
 * ```ts
 * settleCommands([2, 1], "kv repair -s s.txt"); // "kv repair -s s.txt -k 2 or kv repair -s s.txt -k 1"
 * ```
 */
export function settleCommands(ks: readonly number[], repair: string): string {
  return ks.map((k) => `${repair} -k ${k}`).join(" or ");
}

/**
 * The ks of `recorded` (each with the servers recording it, as {@link recordedKs} gives
 * them), the k of the most servers first — the likelier one to keep when they disagree; a
 * tie keeps `recorded`'s order.
 *
 * @example
 * ```ts
 * ksByCount(new Map([[1, ["a:1"]], [2, ["b:1", "c:1"]]])); // [2, 1]
 * ```
 */
export function ksByCount(recorded: ReadonlyMap<number, readonly string[]>): number[] {
  return [...recorded].sort(([, some], [, others]) => others.length - some.length)
    .map(([k]) => k);
}

/** `k=2: a, b; k=3: c`. */
function describe(recorded: Map<number, string[]>): string {
  return [...recorded].map(([k, servers]) => `k=${k}: ${servers.join(", ")}`).join("; ");
}
