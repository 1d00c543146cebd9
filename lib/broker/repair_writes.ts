/**
 * The writes of a repair: copies of a key's newest version to the servers that lack it
 * (records in PUT_MANY batches, tombstones as DELETEs, each flagged _repair_ and
 * keeping its version, so a server holding something newer keeps it), and purges
 * (DELETE purge, which removes what a server holds unless it is newer than the version
 * given). Every write is idempotent and none can undo a newer write, so a repair can be
 * interrupted, repeated, or run beside brokers writing the same keys.
 *
 * @example
 * ```ts
 * import { encodeValue } from "../record/value_codec.ts";
 * import { str } from "../record/value.ts";
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * import { writeCopies } from "./repair_writes.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * const encoded = encodeValue(str("Mary"));
 * const outcomes = await writeCopies(pool, [{ server: 1, key: "person1", version, tombstone: false, encoded }]);
 * outcomes[0].ok; // true once server 1 holds person1 at `version` or newer
 * ```
 * @module
 */
import type { CallOutcome, ServerConnection } from "./server_pool.ts";
import type { DeleteResult, PutManyRefusal } from "../protocol/mod.ts";
import { PUT_MANY_ITEM_OVERHEAD_BYTES, PutManyItems } from "../protocol/put_many.ts";
import { utf8Length } from "../base/utf8.ts";
import type { Version } from "../record/version.ts";
import { invariant } from "../base/invariant.ts";
import { sameList } from "./list_fingerprint.ts";

/**
 * Bytes of copies sent in one PUT_MANY: large enough that a refill moves records in few
 * requests, small enough to stay far below any server's frame limit (at least 64 KiB
 * is accepted; a larger value goes alone).
 */
export const REPAIR_PUT_MANY_BYTES = 1024 * 1024;

/**
 * What the repair engine asks of one server's connection: digests, listings, PUT_MANY,
 * DELETE (repair and purge), MARK_REPAIRED, and the server process's id from HELLO.
 */
export type RepairConnection = Pick<
  ServerConnection,
  | "serverId"
  | "state"
  | "partitionDigests"
  | "listPartitions"
  | "putMany"
  | "delete"
  | "markRepaired"
>;

/**
 * The connections a repair runs over: a `ServerPool` provides them.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool: RepairPool = new ServerPool(servers);
 * await pool.call(0, (connection) => connection.partitionDigests());
 * ```
 */
export interface RepairPool {
  /**
   * The servers, in server-file order; indexes into this list name them everywhere. Their
   * identities are what the list servers are marked repaired under is made of.
   */
  readonly servers: readonly { readonly id: string; readonly identity: string }[];
  /** Runs `request` on server `index`: its answer, or why there is none. */
  call<T>(
    index: number,
    request: (connection: RepairConnection) => Promise<T>,
  ): Promise<CallOutcome<T>>;
}

/** A copy of a key's newest version to write to one server. */
export interface CopyWrite {
  /** The server to write to. */
  readonly server: number;
  /** The key. */
  readonly key: string;
  /** The version the copy keeps. */
  readonly version: Version;
  /** Whether the newest version is a delete. */
  readonly tombstone: boolean;
  /** The record's encoded value; undefined for a tombstone. */
  readonly encoded: Uint8Array | undefined;
}

/** A purge of a key from one server, of what it holds up to `version`. */
export interface Purge {
  /** The server to purge on. */
  readonly server: number;
  /** The key. */
  readonly key: string;
  /** What the server holds is removed unless it is newer than this. */
  readonly version: Version;
  /**
   * An aged purge: the server removes only a tombstone its own clock says is old enough
   * (`TOMBSTONE_PURGE_AGE_MS`), and answers anything else STALE, unchanged. Default false.
   */
  readonly aged?: boolean;
}

/** Options of {@link writeCopies}. */
export interface CopyOptions {
  /**
   * Asked as each write is about to be sent: why it must not be (the reads it relies on
   * are too old: `MAX_REPAIR_READ_AGE_MS`), and it fails with that; undefined to send it.
   * Default: always sent.
   */
  readonly tooOld?: () => string | undefined;
}

/**
 * How one write ended: done (`changed` when the server removed something; for copies
 * always true), or failed and why. A purge meeting a newer write (another broker's,
 * since the listing) is done without change: the newer write is the next repair's.
 */
export type WriteOutcome =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly error: string };

/**
 * Writes every copy, all servers at once, and resolves with each one's outcome.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const version = { ms: Date.now(), counter: 0, broker: 1 };
 * const [outcome] = await writeCopies(pool, [{ server: 0, key: "a", version, tombstone: true, encoded: undefined }]);
 * ```
 */
export async function writeCopies(
  pool: RepairPool,
  copies: readonly CopyWrite[],
  options: CopyOptions = {},
): Promise<WriteOutcome[]> {
  const tooOld = options.tooOld ?? (() => undefined);
  const outcomes: WriteOutcome[] = new Array(copies.length);
  const sends: Promise<void>[] = [];
  for (const [server, indexes] of byServer(copies)) {
    let batch: number[] = [];
    // A fresh item list per batch: the pool may send a batch again after a reconnect.
    let items = new PutManyItems();
    const flush = () => {
      if (batch.length === 0) return;
      sends.push(sendBatch(pool, server, items, batch, outcomes, tooOld));
      batch = [];
      items = new PutManyItems();
    };
    for (const index of indexes) {
      const copy = copies[index];
      if (copy.tombstone) {
        sends.push(
          settle(
            pool.call<DeleteResult | string>(server, (connection) => {
              const stale = tooOld();
              if (stale !== undefined) return Promise.resolve(stale);
              return connection.delete(copy.key, { version: copy.version, repair: true });
            }),
            outcomes,
            index,
            () => true,
          ),
        );
        continue;
      }
      invariant(copy.encoded !== undefined, "a record copy carries its value");
      const itemBytes = PUT_MANY_ITEM_OVERHEAD_BYTES + utf8Length(copy.key) + copy.encoded.length;
      // A batch never grows past the budget, except by a single item larger than it.
      if (batch.length > 0 && items.byteLength + itemBytes > REPAIR_PUT_MANY_BYTES) flush();
      items.add(copy.key, copy.encoded, copy.version, { repair: true });
      batch.push(index);
    }
    flush();
  }
  await Promise.all(sends);
  return outcomes;
}

/**
 * Why a purge was not sent ({@link purgeCopies}): the server's mark is no longer the one the
 * repair read before its data.
 */
const REMARKED_PURGE_ERROR =
  "not removed: its mark changed while this repair ran (another repair re-marked it: a kv " +
  "repair changing the server list or k, or refilling it; or it restarted unrepaired), so " +
  "the placement this one removes copies by may no longer be where reads look; a later " +
  "repair does it";

/**
 * Purges every key from its server, all servers at once, and resolves with each one's
 * outcome (`changed` when the server held something and removed it). With `marks`, a
 * purge goes to server i only while its connection tells the mark `marks[i]` (the one the
 * repair read before the server's data), else fails with {@link REMARKED_PURGE_ERROR}: a
 * repair re-marked it since (`kv repair -k` or `-s` first marks every server ff…ff, which
 * closes the other connections, so a purge sent after that learns it), and the copy this
 * repair would remove may be one the new placement counts on — its removal left an
 * acknowledged write on fewer than k of its homes (tests/broker/repair_test.ts).
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * import { ServerPool } from "./server_pool.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * const pool = new ServerPool(servers);
 * await pool.start();
 * const version = { ms: Date.now() - 60_000, counter: 0, broker: 1 };
 * const [outcome] = await purgeCopies(pool, [{ server: 3, key: "a", version }]);
 * ```
 */
export async function purgeCopies(
  pool: RepairPool,
  purges: readonly Purge[],
  marks?: readonly (Uint8Array | undefined)[],
): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = new Array(purges.length);
  await Promise.all(purges.map((purge, index) =>
    settle(
      pool.call<DeleteResult | string>(purge.server, (connection) => {
        const expected = marks?.[purge.server];
        if (expected !== undefined && !sameList(connection.state.repairedUnder, expected)) {
          return Promise.resolve(REMARKED_PURGE_ERROR);
        }
        return connection.delete(purge.key, {
          version: purge.version,
          purge: true,
          aged: purge.aged,
        });
      }),
      outcomes,
      index,
      (result) => result.kind === "deleted" && result.existed,
    )
  ));
  return outcomes;
}

/** The indexes of `writes`, grouped by server. */
function byServer(writes: readonly { readonly server: number }[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  writes.forEach((write, index) => {
    const group = groups.get(write.server);
    if (group === undefined) groups.set(write.server, [index]);
    else group.push(index);
  });
  return groups;
}

/**
 * Sends one PUT_MANY of copies (`items`, for `indexes`), unless `tooOld` says why not when
 * it would be sent, and records each one's outcome.
 */
async function sendBatch(
  pool: RepairPool,
  server: number,
  items: PutManyItems,
  indexes: readonly number[],
  outcomes: WriteOutcome[],
  tooOld: () => string | undefined,
): Promise<void> {
  const outcome = await pool.call<PutManyRefusal[] | string>(server, (connection) => {
    const stale = tooOld();
    return stale !== undefined ? Promise.resolve(stale) : connection.putMany(items);
  });
  if (!outcome.ok || typeof outcome.value === "string") {
    const error = outcome.ok ? outcome.value as string : outcome.error;
    for (const index of indexes) outcomes[index] = { ok: false, error };
    return;
  }
  const refused = new Map(outcome.value.map((refusal) => [refusal.index, refusal]));
  indexes.forEach((index, position) => {
    const refusal = refused.get(position);
    outcomes[index] = refusal === undefined
      ? { ok: true, changed: true }
      : { ok: false, error: `${pool.servers[server].id}: ${refusal.message}` };
  });
}

/**
 * Records the outcome of one DELETE as `outcomes[index]`, `changed` as `changedBy` says; a
 * string instead of an answer is why it was not sent.
 */
async function settle(
  call: Promise<CallOutcome<DeleteResult | string>>,
  outcomes: WriteOutcome[],
  index: number,
  changedBy: (result: DeleteResult) => boolean,
): Promise<void> {
  const outcome = await call;
  outcomes[index] = !outcome.ok
    ? { ok: false, error: outcome.error }
    : typeof outcome.value === "string"
    ? { ok: false, error: outcome.value }
    : { ok: true, changed: changedBy(outcome.value) };
}
