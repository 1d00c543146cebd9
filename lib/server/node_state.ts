/**
 * A server's node state — whether it may be missing writes it once acknowledged
 * ("unrepaired"), the cluster's replication factor k recorded on it, and the fingerprint
 * of the server list it was last marked repaired under — told to every broker in HELLO
 * and changed by SET_K and MARK_REPAIRED (docs/protocol.md). A broker trusts a server's
 * NOT_FOUND only when it is repaired under the broker's own list: a server repaired for
 * one cluster holds nothing another cluster placed on it.
 *
 * ## Where it is kept
 *
 * With a data dir, in {@link NODE_STATE_FILE}: JSON
 * `{"format":2,"k":K,"unrepaired":B,"repairedUnder":"32 hex digits"}` (all zeros while
 * unrepaired),
 * replaced atomically (temporary file, fsync, rename, fsync of the directory) before a
 * change is acknowledged, so a crash leaves the old state or the new, never a mix. A
 * start makes it say unrepaired before recovery changes the data dir (and leaves it alone
 * when recovery changes nothing), and trusted again only once recovery found nothing
 * lost ({@link NodeStateKeeper.beginRecovery}). A
 * memory-only server keeps it in memory, and starts unrepaired: it lost everything.
 *
 * ## When a server is unrepaired
 *
 * - memory only: always, at every start, until MARK_REPAIRED;
 * - a data dir that held no log and no snapshot at start (new, or emptied), whatever
 *   the state file says: until MARK_REPAIRED;
 * - recovery dropped or skipped damaged log bytes, or found a log missing: it may have
 *   lost acknowledged writes, so it is set and persisted, whatever it was;
 * - the last run's record (run_record.ts) says the dir may lack acknowledged writes: the
 *   last run did not stop cleanly under `--fsync interval` or `never` and the machine
 *   restarted since (a power loss takes the page cache), or the files are not the ones
 *   the server left (a copy, a restore); set and persisted, whatever it was;
 * - the operator says so at start (`kv server --mark-unrepaired`): the dir is a restored
 *   backup or snapshot, older than what the server acknowledged, and its state file, as
 *   old, says repaired; set and persisted, whatever it was;
 * - a data dir of a kv from before node states (logs or a snapshot, no state file), or
 *   with a state file of format 1 (from before server-list fingerprints, k kept): it held
 *   the writes it acknowledged, but nothing says under which server list, so it is
 *   **unrepaired** — trusted by no broker's list, whatever a format-1 file said — until
 *   a repair under a list marks it (a running broker's background repair does so on its
 *   own). Trusting it under any list would be the gap fingerprints close: a server
 *   repaired for one cluster answering another's reads NOT_FOUND without a warning. The
 *   file is rewritten in format 2;
 * - a state file that cannot be read as above: unrepaired, k unrecorded, with a
 *   warning, and rewritten — the safe reading of a state nobody can vouch for.
 *
 * @example
 * ```ts
 * import { NO_LIST } from "../protocol/mod.ts";
 * import { NodeStateKeeper } from "./node_state.ts";
 * const keeper = NodeStateKeeper.memory();
 * keeper.state; // { unrepaired: true, k: 0, repairedUnder: NO_LIST }
 * await keeper.setK(2, false); // 2
 * await keeper.markRepaired(new Uint8Array(16).fill(7), NO_LIST); // a broker's listFingerprint
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { FileTooLargeError, readFileBounded } from "../base/read_bounded.ts";
import { bytesToHex, hexToBytes, writeAll } from "../base/bytes.ts";
import {
  isNoList,
  LIST_CHANGE_UNDER_WAY,
  LIST_FINGERPRINT_BYTES,
  MAX_RECORDED_K,
  NO_LIST,
  type NodeState,
} from "../protocol/mod.ts";
import { AtomicFile } from "./storage_log.ts";

/** Name of the state file in a data dir. */
export const NODE_STATE_FILE = "node-state.json";

/** The state file's format number, written as its `format` field. */
export const NODE_STATE_FORMAT = 2;

/**
 * The format before server-list fingerprints: `{"format":1,"k":K,"unrepaired":B}`. Read
 * as unrepaired with its k (see the module docs), and rewritten in {@link NODE_STATE_FORMAT}.
 */
const NODE_STATE_FORMAT_UNLISTED = 1;

/** Largest state file read: a few dozen bytes are expected, more is not ours. */
const MAX_NODE_STATE_FILE_BYTES = 4096;

/**
 * MARK_REPAIRED refused by its compare-and-set ({@link NodeStateKeeper.markRepaired}): the
 * server's mark is no longer the one the sender read. The server answers it ERROR
 * `MARK_CHANGED`, its message the mark held, in hex.
 *
 * @example
 * ```ts
 * new MarkChangedError(new Uint8Array(16).fill(0xff)).message; // "ffff…ff"
 * ```
 */
export class MarkChangedError extends Error {
  /**
   * The error for a mark changed since it was read, `held` being the one the server has now.
   *
   * @param held the mark the server holds ({@link NO_LIST}: unrepaired).
   */
  constructor(held: Uint8Array) {
    super(bytesToHex(held));
    this.name = "MarkChangedError";
  }
}

/** What recovery found about a data dir, which decides whether it starts unrepaired. */
export interface NodeStateOrigin {
  /** The data dir held no log and no snapshot when the server started: nothing survived. */
  readonly emptyAtStart: boolean;
  /** Recovery dropped or skipped damaged log bytes, or found a log missing. */
  readonly lostData: boolean;
  /**
   * The operator says the data dir may lack writes this server acknowledged, which nothing
   * in the dir can show: a restored backup, a rolled-back volume or VM snapshot (the state
   * file, restored with it, says repaired). `kv server --mark-unrepaired`; default false.
   */
  readonly markedUnrepaired?: boolean;
  /**
   * The last run's record says the data dir may lack writes the server acknowledged: a
   * power loss under `--fsync interval` or `never`, a copy or a restore
   * (run_record.ts); default false.
   */
  readonly lostSinceLastRun?: boolean;
}

/**
 * A node state opened around a store's recovery ({@link NodeStateKeeper.beginRecovery}).
 *
 * @example
 * ```ts
 * const recovery = await NodeStateKeeper.beginRecovery("data");
 * const keeper = await recovery.finish({ emptyAtStart: false, lostData: false });
 * ```
 */
export interface NodeStateRecovery {
  /**
   * Makes the state say unrepaired, durably, unless it already does: called before
   * recovery changes the data dir in a way that may erase the signs of a loss.
   */
  beforeChange(): Promise<void>;
  /** The keeper of the state that `origin` (what recovery found) gives, written if changed. */
  finish(origin: NodeStateOrigin): Promise<NodeStateKeeper>;
  /** The k the state file records, read before recovery (0: none, or no file). */
  readonly k: number;
}

/**
 * Keeps a server's {@link NodeState}, durably with a data dir. Changes are serialised:
 * each resolves once the state it set is on disk, in the order asked.
 *
 * @example
 * ```ts
 * const keeper = await NodeStateKeeper.open("data", { emptyAtStart: false, lostData: false });
 * keeper.state.unrepaired; // false for a data dir that held data
 * ```
 */
export class NodeStateKeeper {
  readonly #path: string | undefined;
  #state: NodeState;
  /** Persisting changes run one after another on this chain; it never rejects. */
  #tail: Promise<void> = Promise.resolve();
  /** Changes queued on {@link NodeStateKeeper#tail} not yet made the state. */
  #pending = 0;
  /** Throws, before the file is written, when it must not be (see beginRecovery). */
  readonly #beforeWrite: () => void;

  private constructor(
    path: string | undefined,
    state: NodeState,
    beforeWrite: () => void = () => {},
  ) {
    this.#path = path;
    this.#state = state;
    this.#beforeWrite = beforeWrite;
  }

  /**
   * The state of a memory-only server: unrepaired (it starts empty), no k recorded.
   *
   * @example
   * ```ts
   * NodeStateKeeper.memory().state; // { unrepaired: true, k: 0, repairedUnder: NO_LIST }
   * ```
   */
  static memory(): NodeStateKeeper {
    return new NodeStateKeeper(undefined, { unrepaired: true, k: 0, repairedUnder: NO_LIST });
  }

  /**
   * Reads the state kept in `dir` and applies what recovery found (see the module docs),
   * writing the result back when it changed. `onWarning` hears of an unreadable file.
   * A store that recovers a data dir opens it in two steps around its recovery instead
   * ({@link NodeStateKeeper.beginRecovery}).
   *
   * @example
   * ```ts
   * const keeper = await NodeStateKeeper.open("data", { emptyAtStart: true, lostData: false });
   * keeper.state.unrepaired; // true
   * ```
   */
  static async open(
    dir: string,
    origin: NodeStateOrigin,
    onWarning: (message: string) => void = () => {},
  ): Promise<NodeStateKeeper> {
    const recovery = await NodeStateKeeper.beginRecovery(dir, onWarning);
    return await recovery.finish(origin);
  }

  /**
   * Opens the state kept in `dir` in two steps around a store's recovery. Recovery may
   * change the data dir — cut a torn log tail, create the first log of an emptied dir or
   * a missing one, rewrite an old format — and so erase what made the server unrepaired:
   * a start that died after that and before the state was written would come back
   * trusted, having lost writes. So recovery calls {@link NodeStateRecovery.beforeChange}
   * before any such change, which makes the state say unrepaired, durably (k kept), and
   * only {@link NodeStateRecovery.finish}, given what recovery found, makes it trusted
   * again when nothing was lost; a crash in between leaves it unrepaired, for a repair to
   * settle. A start whose recovery changes nothing leaves the file alone, so a trusted
   * server still starts on a full disk. The keeper calls `beforeWrite` before each later
   * write of the file, which it throws to refuse: a store whose data dir was moved away
   * must not write the file at the dir's name (another dir may have it).
   *
   * @example
   * ```ts
   * const recovery = await NodeStateKeeper.beginRecovery("data");
   * await recovery.beforeChange(); // ... then cut a torn tail of the data dir's log ...
   * const keeper = await recovery.finish({ emptyAtStart: false, lostData: true });
   * keeper.state.unrepaired; // true
   * ```
   */
  static async beginRecovery(
    dir: string,
    onWarning: (message: string) => void = () => {},
    beforeWrite: () => void = () => {},
  ): Promise<NodeStateRecovery> {
    const path = `${dir}/${NODE_STATE_FILE}`;
    await Deno.remove(`${path}.tmp`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    const kept = await readStateFile(path, onWarning);
    // No file, an unreadable one, or one of format 1: repaired under no list we know of.
    const stored = kept?.state ?? { unrepaired: true, k: 0, repairedUnder: NO_LIST };
    /** What the file says now; undefined while it is missing, unreadable or of format 1. */
    let onDisk: NodeState | undefined = kept?.current ? kept.state : undefined;
    const beforeChange = async () => {
      if (onDisk?.unrepaired) return;
      onDisk = { unrepaired: true, k: stored.k, repairedUnder: NO_LIST };
      await writeStateFile(path, onDisk);
    };
    const finish = async (origin: NodeStateOrigin) => {
      const unrepaired = stored.unrepaired || origin.emptyAtStart || origin.lostData ||
        (origin.markedUnrepaired ?? false) || (origin.lostSinceLastRun ?? false);
      const repairedUnder = unrepaired ? NO_LIST : stored.repairedUnder;
      const keeper = new NodeStateKeeper(
        path,
        { unrepaired, k: stored.k, repairedUnder },
        beforeWrite,
      );
      if (onDisk?.unrepaired !== unrepaired) await writeStateFile(path, keeper.#state);
      return keeper;
    };
    return { beforeChange, finish, k: stored.k };
  }

  /** The state now: what HELLO tells. */
  get state(): NodeState {
    return this.#state;
  }

  /**
   * Records `k` when none is recorded, it is the same, or `replace` is set, and resolves
   * with the k recorded afterwards (the one kept when another was recorded and `replace`
   * is not set), once it is durable.
   *
   * @example
   * ```ts
   * const keeper = NodeStateKeeper.memory();
   * await keeper.setK(2, false); // 2
   * await keeper.setK(3, false); // 2: a different k is kept
   * await keeper.setK(3, true); // 3
   * ```
   */
  setK(k: number, replace: boolean): Promise<number> {
    invariant(Number.isInteger(k) && k >= 1 && k <= MAX_RECORDED_K, "k is checked when decoded");
    return this.#change((state) => {
      if (state.k !== 0 && state.k !== k && !replace) return state;
      return { ...state, k };
    }).then((state) => state.k);
  }

  /**
   * The k a {@link NodeStateKeeper.setK} of `k` would resolve with, when it would change
   * nothing and no earlier change is still on its way to disk; else undefined, and setK
   * must run. Answering at once is then the same answer setK would give after waiting:
   * the state is what is durable (a change is made the state only once written), and
   * every earlier change is in it. A SET_K that changes nothing — a broker's check before
   * each write — costs the server no wait, as a PING.
   *
   * @example
   * ```ts
   * const keeper = NodeStateKeeper.memory();
   * await keeper.setK(2, false);
   * keeper.kAtOnce(2, false); // 2
   * keeper.kAtOnce(3, false); // 2: a different k is kept
   * keeper.kAtOnce(3, true); // undefined: it would change the k
   * ```
   */
  kAtOnce(k: number, replace: boolean): number | undefined {
    invariant(this.#pending >= 0, "every queued change is counted once");
    if (this.#pending > 0) return undefined;
    const { k: recorded } = this.#state;
    const unchanged = recorded === k || (recorded !== 0 && !replace);
    return unchanged ? recorded : undefined;
  }

  /**
   * Clears the unrepaired flag and records `list`, the fingerprint of the server list the
   * repair was made under (replacing any other), resolving once that is durable to whether
   * it replaced another list's mark: a repaired server's mark that clients of that list
   * may be trusting on connections they opened before.
   *
   * A compare-and-set: applied only when the mark (after every earlier change) is
   * `expected`, the one the sender read before its repair read any data ({@link NO_LIST}:
   * unrepaired), or is `list` already (nothing changes); otherwise it rejects with a
   * {@link MarkChangedError} and changes nothing. So a repair that read this server before
   * another repair re-marked it — a list change's {@link LIST_CHANGE_UNDER_WAY}, which is
   * applied whatever the mark since it only takes trust away — cannot vouch for it
   * afterwards under its older view (README, "Adding, removing and replacing a server").
   *
   * @example
   * ```ts
   * import { NO_LIST } from "../protocol/mod.ts";
   * const keeper = NodeStateKeeper.memory();
   * await keeper.markRepaired(new Uint8Array(16).fill(7), NO_LIST); // false: it was unrepaired
   * keeper.state.unrepaired; // false
   * ```
   */
  async markRepaired(list: Uint8Array, expected: Uint8Array): Promise<boolean> {
    invariant(
      list.length === LIST_FINGERPRINT_BYTES && !isNoList(list) &&
        expected.length === LIST_FINGERPRINT_BYTES,
      "MARK_REPAIRED's fingerprints are checked when decoded",
    );
    const repairedUnder = list.slice();
    const unconditional = bytesToHex(list) === bytesToHex(LIST_CHANGE_UNDER_WAY);
    let replaced = false;
    await this.#change((state) => {
      const held = bytesToHex(state.repairedUnder);
      if (held === bytesToHex(list)) return state;
      if (!unconditional && held !== bytesToHex(expected)) {
        throw new MarkChangedError(state.repairedUnder);
      }
      replaced = !state.unrepaired;
      return { unrepaired: false, k: state.k, repairedUnder };
    });
    return replaced;
  }

  /**
   * Applies `next` to the state after every earlier change, persists the result when it
   * differs, and only then makes it the state HELLO tells.
   */
  #change(next: (state: NodeState) => NodeState): Promise<NodeState> {
    this.#pending++;
    const result = this.#tail.then(async () => {
      try {
        const state = next(this.#state);
        const same = state.unrepaired === this.#state.unrepaired && state.k === this.#state.k &&
          bytesToHex(state.repairedUnder) === bytesToHex(this.#state.repairedUnder);
        if (!same && this.#path !== undefined) {
          this.#beforeWrite();
          await writeStateFile(this.#path, state);
        }
        this.#state = state;
        return state;
      } finally {
        this.#pending--;
      }
    });
    this.#tail = result.then(() => {}, () => {});
    return result;
  }
}

/**
 * The state kept in `path`, and whether the file is of the current format; undefined
 * when there is no file or it cannot be read (after a warning).
 */
async function readStateFile(
  path: string,
  onWarning: (message: string) => void,
): Promise<{ state: NodeState; current: boolean } | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFileBounded(path, MAX_NODE_STATE_FILE_BYTES);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    // Too large to be one this kv wrote: read no further, and treat it as unreadable.
    if (!(error instanceof FileTooLargeError)) throw error;
  }
  const state = bytes === undefined ? undefined : parseState(bytes);
  if (state !== undefined) return state;
  onWarning(
    `${path} is not a node state file this kv reads; starting unrepaired with no k ` +
      "recorded, and rewriting it",
  );
  return undefined;
}

/**
 * The state in a state file's bytes (format 1: unrepaired, its k kept), or undefined when
 * they are not one.
 */
function parseState(bytes: Uint8Array): { state: NodeState; current: boolean } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    // Invalid UTF-8 or JSON: not a state file this kv wrote.
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { format, k, unrepaired, repairedUnder } = parsed as Record<string, unknown>;
  if (typeof unrepaired !== "boolean") return undefined;
  if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > MAX_RECORDED_K) {
    return undefined;
  }
  if (format === NODE_STATE_FORMAT_UNLISTED && repairedUnder === undefined) {
    return { state: { unrepaired: true, k, repairedUnder: NO_LIST }, current: false };
  }
  if (format !== NODE_STATE_FORMAT) return undefined;
  const list = parseFingerprint(repairedUnder);
  if (list === undefined || unrepaired !== isNoList(list)) return undefined;
  return { state: { unrepaired, k, repairedUnder: list }, current: true };
}

/** The fingerprint written as `text` (32 lowercase hex digits), or undefined. */
function parseFingerprint(text: unknown): Uint8Array | undefined {
  if (typeof text !== "string" || !/^[0-9a-f]*$/.test(text)) return undefined;
  return text.length === LIST_FINGERPRINT_BYTES * 2 ? hexToBytes(text) : undefined;
}

/** Replaces `path` by `state` atomically: temporary file, fsync, rename, fsync dir. */
async function writeStateFile(path: string, state: NodeState): Promise<void> {
  const text = JSON.stringify({
    format: NODE_STATE_FORMAT,
    k: state.k,
    unrepaired: state.unrepaired,
    repairedUnder: bytesToHex(state.repairedUnder),
  });
  const file = await AtomicFile.open(path);
  try {
    await writeAll(file.file, new TextEncoder().encode(`${text}\n`));
    await file.commit();
  } catch (error) {
    await file.abandon();
    throw error;
  }
}
