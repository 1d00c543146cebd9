/**
 * The cluster's replication factor, which the servers remember (SET_K, kept in each
 * server's data dir): every client that opens a broker agrees with it before serving.
 * A broker asked for a k the servers do not record is refused — a broker writing with
 * another k than the data was written with would miss records and leave copies behind
 * (changing k is `kv repair -k N`, which re-places the data). Without a requested k the
 * broker takes the recorded one; when no reachable server records one, it takes
 * {@link DEFAULT_K}. Either way, the k chosen is recorded on every reachable server
 * that records none, so the first broker of a new cluster fixes its k.
 *
 * @example
 * ```ts
 * import { agreeOnK } from "./cluster_k.ts";
 * const k = await agreeOnK(pool, undefined); // the k the servers record, or 1
 * ```
 * @module
 */
import type { ServerPool } from "./server_pool.ts";

/** The replication factor of a cluster whose servers record none and no k was asked for. */
export const DEFAULT_K = 1;

/**
 * Why a broker cannot open with the replication factor asked for (or the one recorded):
 * the caller's mistake to fix (`kv broker` reports it in one line and exits 2), not a
 * failure of the servers.
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
  constructor(message: string) {
    super(message);
    this.name = "ClusterKError";
  }
}

/**
 * The k a broker over `pool` (started) uses: `requested` when given and no reachable
 * server records another, else the recorded k, else {@link DEFAULT_K}; recorded on the
 * reachable servers that record none. Throws a ClusterKError when `requested` differs
 * from the recorded k, when servers record different ks, when k exceeds the servers,
 * or when a server records another k meanwhile (another broker won the race).
 *
 * @example
 * ```ts
 * await agreeOnK(pool, 2); // 2, now recorded on every reachable server
 * ```
 */
export async function agreeOnK(pool: ServerPool, requested: number | undefined): Promise<number> {
  const recorded = recordedKs(pool);
  if (recorded.size > 1) {
    throw new ClusterKError(
      `the servers record different replication factors (${describe(recorded)}); ` +
        `settle one with kv repair -k N`,
    );
  }
  const [only] = recorded.keys();
  if (requested !== undefined && only !== undefined && requested !== only) {
    throw new ClusterKError(
      `asked for k=${requested}, but the cluster records k=${only} (${describe(recorded)}); ` +
        `leave k out to use it, or change it with kv repair -k ${requested}`,
    );
  }
  const k = requested ?? only ?? DEFAULT_K;
  if (k > pool.servers.length) {
    throw new ClusterKError(
      `k=${k} needs at least ${k} servers, but the server list has ${pool.servers.length}`,
    );
  }
  const kept = await recordK(pool, k);
  if (kept.length > 0) {
    throw new ClusterKError(
      `another broker recorded a different k meanwhile (${kept.join(", ")}); start again`,
    );
  }
  return k;
}

/**
 * Records `k` on every reachable server of `pool` that records none; returns
 * `server records k=M` for each that kept another k. Servers that fail are left for the
 * next call (a broker calls it again when a server comes back).
 *
 * @example
 * ```ts
 * await recordK(pool, 2); // [] when every reachable server now records 2
 * ```
 */
export async function recordK(pool: ServerPool, k: number): Promise<string[]> {
  const kept: string[] = [];
  await Promise.all(pool.servers.map(async (server, index) => {
    const state = pool.state(index);
    if (state === undefined || state.k === k) return;
    if (state.k !== 0) {
      kept.push(`${server.id} records k=${state.k}`);
      return;
    }
    const outcome = await pool.call(index, (connection) => connection.setK(k));
    if (outcome.ok && outcome.value !== k) kept.push(`${server.id} records k=${outcome.value}`);
  }));
  return kept;
}

/** Each recorded k and the servers that record it, by k. */
function recordedKs(pool: ServerPool): Map<number, string[]> {
  const recorded = new Map<number, string[]>();
  pool.servers.forEach((server, index) => {
    const k = pool.state(index)?.k ?? 0;
    if (k === 0) return;
    recorded.set(k, [...recorded.get(k) ?? [], server.id]);
  });
  return recorded;
}

/** `k=2: a, b; k=3: c`. */
function describe(recorded: Map<number, string[]>): string {
  return [...recorded].map(([k, servers]) => `k=${k}: ${servers.join(", ")}`).join("; ");
}
