/**
 * The line `kv repair` prints before it changes the server list the servers are repaired
 * under: a run over another file than the one they were last repaired with re-marks every
 * server and moves every key to that file's homes, and an old file run by mistake (a cron
 * job, a script not updated) undid a rollout silently, exit 0 (S33 N4). The servers keep
 * only a fingerprint of that list (lib/broker/list_fingerprint.ts), not its servers, so
 * the line says what can be told from it: which servers were marked under another list or
 * k, which are new, and — when every server of the file is marked under one other list —
 * that this list leaves out servers of that one.
 *
 * @example
 * ```ts
 * import { listChangeNotice } from "./list_change_notice.ts";
 * import { ServerPool } from "../broker/server_pool.ts";
 * import { readServerList } from "../broker/server_list.ts";
 * const pool = new ServerPool(await readServerList("old.txt"));
 * await pool.start();
 * const line = listChangeNotice(pool, 2, "old.txt", { dryRun: false });
 * if (line !== undefined) console.error(`kv repair: ${line}`);
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
 * The line (without `kv repair: `) saying that this run changes the server list or k the
 * servers of `pool` are repaired under, placing keys by `path`'s servers and `k`, else
 * undefined: no server that answered is marked under another list or k, or only under
 * this list with other k while some server records another k than `k` (a `-k` change,
 * which kv repair's k-change line names). Servers unrepaired or marked `ff…ff` (a change
 * under way or stopped half way) are trusted by no client already and change nothing here.
 *
 * @example
 * ```ts
 * import { ServerPool } from "../broker/server_pool.ts";
 * import { readServerList } from "../broker/server_list.ts";
 * const pool = new ServerPool(await readServerList("old.txt"));
 * await pool.start();
 * listChangeNotice(pool, 2, "old.txt", { dryRun: true });
 * // "old.txt changes the server list: every server of old.txt was last repaired under …"
 * ```
 */
export function listChangeNotice(
  pool: ServerPool,
  k: number,
  path: string,
  options: ListChangeNoticeOptions,
): string | undefined {
  const identities = pool.servers.map((server) => server.identity);
  const own = listFingerprint(identities, k);
  const others = pool.servers.flatMap((_, index) => {
    const state = pool.state(index);
    if (state === undefined || state.unrepaired || pool.markedChanging(index)) return [];
    return sameList(state.repairedUnder, own) ? [] : [{ index, mark: state.repairedUnder }];
  });
  if (others.length === 0) return undefined;
  // The run's verbs: "moves", or a dry run's "would move".
  const does = (verb: string) => options.dryRun ? `would ${verb}` : `${verb}s`;
  const stop = options.dryRun ? "would stop" : "stop";
  // A dry run tells what a run would do, not what it does itself.
  const run = options.dryRun ? "a run" : "this run";
  // This list's fingerprint under each k, hashed once: a mark that is one of them is a k change.
  const byK = identities.map((_, i) => listFingerprint(identities, i + 1));
  const kOf = (mark: Uint8Array) => {
    const at = byK.findIndex((list) => sameList(mark, list));
    return at === -1 ? undefined : at + 1;
  };
  const moved = others.filter(({ mark }) => kOf(mark) === undefined);
  if (moved.length === 0) {
    // Only k changes: a -k that changes what the servers record has its own line.
    const recordsAnother = pool.servers.some((_, index) => {
      const recorded = pool.state(index)?.k ?? 0;
      return recorded !== 0 && recorded !== k;
    });
    if (recordsAnother) return undefined;
    const olds = [...new Set(others.map(({ mark }) => kOf(mark)))].join(" and ");
    return `${names(pool, others, path)} last repaired under k ${olds}, not ${k}: ${run} ` +
      `${does("place")} every key on ${counted(k, "server")} and ${does("mark")} them under ` +
      `k ${k}`;
  }
  const news = pool.servers.filter((_, index) => pool.state(index)?.k === 0).map((s) => s.id);
  const added = news.length === 0
    ? ""
    : `; ${listed(news)} ${news.length === 1 ? "is" : "are"} new (no k recorded)`;
  return `${path} changes the server list: ${names(pool, moved, path)} last repaired under ` +
    `another server list than ${path}'s ${counted(pool.servers.length, "server")} (k ${k})` +
    leftOut(pool, moved, path, k, options.dryRun) + added +
    `. ${options.dryRun ? "A run" : "This run"} ${does("move")} every key to its ` +
    `homes among ${path}'s servers, and clients given another server file ${stop} ` +
    `trusting these (they warn and read past them). If ${path} is not the cluster's server ` +
    "list now (an old file by mistake: a cron job, a script not updated), run kv repair -s " +
    "with the cluster's file after this: it moves the keys back";
}

/** The servers `marked`, as the subject of "… last repaired under …". */
function names(pool: ServerPool, marked: readonly { index: number }[], path: string): string {
  if (marked.length === pool.servers.length) {
    return `every server of ${path} was`;
  }
  const ids = marked.map(({ index }) => pool.servers[index].id);
  return `${listed(ids)} ${wasOrWere(ids.length)}`;
}

/**
 * When every server of the file answered and is marked under one other list (`moved` are
 * all of them): that list holds every server of the file (a server is marked only under a
 * list that places keys on it) and is not this one under any k, so it holds servers the
 * file leaves out — this run takes them out of the cluster. Else "".
 */
function leftOut(
  pool: ServerPool,
  moved: readonly { mark: Uint8Array }[],
  path: string,
  k: number,
  dryRun: boolean,
): string {
  if (moved.length < pool.servers.length) return "";
  if (!moved.every(({ mark }) => sameList(mark, moved[0].mark))) return "";
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
