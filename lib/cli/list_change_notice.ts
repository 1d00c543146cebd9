/**
 * The line `kv repair` prints before it changes the server list the servers are repaired
 * under: a run over another file than the one they were last repaired with re-marks every
 * server and moves every key to that file's homes, and an old file run by mistake (a cron
 * job, a script not updated) undid a rollout silently, exit 0 (S33 N4). The servers keep
 * only a fingerprint of that list (lib/broker/list_fingerprint.ts), not its servers, so
 * the line says what can be told from it: which servers were marked under another list or
 * k, which are new, and — when every server of the file is marked under one other list —
 * that this list leaves out servers of that one; kv repair --json carries the same as data
 * ({@link ListChange}).
 *
 * @example
 * ```ts
 * import { listChangeNotice } from "./list_change_notice.ts";
 * import { ServerPool } from "../broker/server_pool.ts";
 * import { readServerList } from "../broker/server_list.ts";
 * const pool = new ServerPool(await readServerList("old.txt"));
 * await pool.start();
 * const change = listChangeNotice(pool, 2, "old.txt", { dryRun: false });
 * if (change !== undefined) console.error(`kv repair: ${change.message}`);
 * ```
 * @module
 */
import { listFingerprint, sameList } from "../broker/list_fingerprint.ts";
import type { ServerPool } from "../broker/server_pool.ts";
import { counted, listed, wasOrWere } from "../base/plural.ts";

/** What {@link listChangeNotice} needs to know of the run. */
export interface ListChangeNoticeOptions {
  /** The run changes nothing: the line says what a run would do. */
  readonly dryRun: boolean;
}

/**
 * A change of the server list or k the servers are repaired under, as kv repair says it on
 * stderr (`message`) and carries it in its --json report (`listChange`). The servers keep a
 * fingerprint of the list they were marked under, not its servers, so the old list's
 * servers are not told: only which of the file's were marked under another, which are
 * new, and whether the old list held servers the file leaves out.
 */
export interface ListChange {
  /**
   * `"list"`: servers were last repaired under another server list than the file's (and
   * the run moves every key to its homes among the file's servers); `"k"`: under the file's
   * list alone, with another k than the run's (the servers record the run's k already: a
   * `kv repair -k` stopped after its `SET_K`).
   */
  readonly kind: "list" | "k";
  /** The servers of the file last repaired under another list (or, kind "k", k), in its order. */
  readonly servers: readonly string[];
  /** Kind "k": the ks they were last repaired under, ascending; `[]` for kind "list". */
  readonly fromK: readonly number[];
  /** Kind "list": the servers of the file that record no k (new to the cluster); else `[]`. */
  readonly added: readonly string[];
  /**
   * Kind "list": every server of the file answered and is marked under one other list, which
   * so lists servers the file does not (which, or how many, no mark tells): the run takes
   * them out of the cluster. Else false.
   */
  readonly leavesOut: boolean;
  /** The line said on stderr, without its `kv repair: `. */
  readonly message: string;
}

/**
 * The change (see {@link ListChange}) this run makes to the server list or k the servers of
 * `pool` are repaired under, placing keys by `path`'s servers and `k`, else undefined: no
 * server that answered is marked under another list or k, or only under this list with
 * other k while some server records another k than `k` (a `-k` change, which kv repair's
 * k-change line names). Servers unrepaired or marked `ff…ff` (a change under way or
 * stopped half way) are trusted by no client already and change nothing here.
 *
 * @example
 * ```ts
 * import { ServerPool } from "../broker/server_pool.ts";
 * import { readServerList } from "../broker/server_list.ts";
 * const pool = new ServerPool(await readServerList("old.txt"));
 * await pool.start();
 * const change = listChangeNotice(pool, 2, "old.txt", { dryRun: true });
 * change?.kind; // "list"
 * change?.message; // "old.txt changes the server list: every server of old.txt was last …"
 * ```
 */
export function listChangeNotice(
  pool: ServerPool,
  k: number,
  path: string,
  options: ListChangeNoticeOptions,
): ListChange | undefined {
  const identities = pool.servers.map((server) => server.identity);
  const own = listFingerprint(identities, k);
  const others = pool.servers.flatMap((_, index) => {
    const state = pool.state(index);
    if (state === undefined || state.unrepaired || pool.markedChanging(index)) return [];
    return sameList(state.repairedUnder, own) ? [] : [{ index, mark: state.repairedUnder }];
  });
  if (others.length === 0) return undefined;
  // This list's fingerprint under each k, hashed once: a mark that is one of them is a k change.
  const byK = identities.map((_, i) => listFingerprint(identities, i + 1));
  const kOf = (mark: Uint8Array) => {
    const at = byK.findIndex((list) => sameList(mark, list));
    return at === -1 ? undefined : at + 1;
  };
  const moved = others.filter(({ mark }) => kOf(mark) === undefined);
  if (moved.length > 0) return serverListChange(pool, moved, k, path, options.dryRun);
  // Only k changes: a -k that changes what the servers record has its own line.
  const recordsAnother = pool.servers.some((_, index) => {
    const recorded = pool.state(index)?.k ?? 0;
    return recorded !== 0 && recorded !== k;
  });
  if (recordsAnother) return undefined;
  const fromK = [...new Set(others.flatMap(({ mark }) => kOf(mark) ?? []))].sort((a, b) => a - b);
  const { does, run } = runWords(options.dryRun);
  const message = `${names(pool, others, path)} last repaired under k ${fromK.join(" and ")}, ` +
    `not ${k}: ${run} ${does("place")} every key on ${counted(k, "server")} and ` +
    `${does("mark")} them under k ${k}`;
  return { kind: "k", servers: ids(pool, others), fromK, added: [], leavesOut: false, message };
}

/**
 * The change of server list: the servers `moved` (marked under another list than this one
 * under any k) named, those new to the cluster, and what a run over `path`'s servers does.
 */
function serverListChange(
  pool: ServerPool,
  moved: readonly { index: number; mark: Uint8Array }[],
  k: number,
  path: string,
  dryRun: boolean,
): ListChange {
  const { does } = runWords(dryRun);
  const added = pool.servers.filter((_, index) => pool.state(index)?.k === 0).map((s) => s.id);
  const news = added.length === 0
    ? ""
    : `; ${listed(added)} ${added.length === 1 ? "is" : "are"} new (no k recorded)`;
  const leavesOut = holdsOthers(pool, moved);
  const message = `${path} changes the server list: ${names(pool, moved, path)} last ` +
    `repaired under another server list than ${path}'s ${counted(pool.servers.length, "server")} ` +
    `(k ${k})` + (leavesOut ? leftOut(path, k, dryRun) : "") + news +
    `. ${dryRun ? "A run" : "This run"} ${does("move")} every key to its ` +
    `homes among ${path}'s servers, and clients given another server file ` +
    `${dryRun ? "would stop" : "stop"} trusting these (they warn and read past them). If ` +
    `${path} is not the cluster's server list now (an old file by mistake: a cron job, a ` +
    "script not updated), run kv repair -s with the cluster's file after this: it moves the " +
    "keys back";
  return { kind: "list", servers: ids(pool, moved), fromK: [], added, leavesOut, message };
}

/** A run's words: its verbs ("moves", a dry run's "would move") and itself ("this run"). */
function runWords(dryRun: boolean): { does: (verb: string) => string; run: string } {
  return {
    does: (verb) => dryRun ? `would ${verb}` : `${verb}s`,
    // A dry run tells what a run would do, not what it does itself.
    run: dryRun ? "a run" : "this run",
  };
}

/** The ids of the servers of `pool` at `marked`'s indexes. */
function ids(pool: ServerPool, marked: readonly { index: number }[]): string[] {
  return marked.map(({ index }) => pool.servers[index].id);
}

/** The servers `marked`, as the subject of "… last repaired under …". */
function names(pool: ServerPool, marked: readonly { index: number }[], path: string): string {
  if (marked.length === pool.servers.length) {
    return `every server of ${path} was`;
  }
  const named = ids(pool, marked);
  return `${listed(named)} ${wasOrWere(named.length)}`;
}

/**
 * Whether every server of the file answered and is marked under one other list (`moved`
 * are all of them): that list holds every server of the file (a server is marked only under
 * a list that places keys on it) and is not this one under any k, so it holds servers the
 * file leaves out.
 */
function holdsOthers(pool: ServerPool, moved: readonly { mark: Uint8Array }[]): boolean {
  return moved.length === pool.servers.length &&
    moved.every(({ mark }) => sameList(mark, moved[0].mark));
}

/** What the list-change line adds when the old list holds servers `path` leaves out. */
function leftOut(path: string, k: number, dryRun: boolean): string {
  const [run, take, read, find] = dryRun
    ? ["a run", "would take", "would read", "would find"]
    : ["this run", "takes", "reads", "find"];
  // With k = 1 there is no other replica: what only they hold is out of the file's reach.
  const source = k === 1
    ? `with k = 1 they hold the only copy of each of their keys, which ${path}'s clients ` +
      `${find} nowhere`
    : "their keys' other replicas are the source";
  return `, which also lists servers ${path} does not: ${run} ${take} them out of the ` +
    `cluster and ${read} nothing from them (${source})`;
}
