/**
 * Replica placement by rendezvous (highest-random-weight) hashing: every server
 * gets a score for a key, `score = mix(hash(key) ⊕ hash(server id))`, and the
 * key's k replicas are the k servers with the highest scores. The scores depend
 * only on the key and the server's identity (the `ip:port` its name resolved
 * to, see server_list.ts), never on the order or spelling of the server file, so any broker recomputes the same replicas from the
 * server list alone. Adding or removing a server moves only the keys whose
 * top-k set includes that server.
 *
 * The key hash is lib/record/partition.ts's `hashKey`; the server's identity
 * is hashed the same way once, up front. Equal scores (one chance in 2^32 per pair) are broken by
 * comparing server ids, again independent of the file order.
 *
 * @example
 * ```ts
 * import { Placement } from "./placement.ts";
 * const placement = new Placement(["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"]);
 * placement.replicas("person1", 2); // e.g. [2, 0]: indexes into the id list, best first
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { hashKey, mix32 } from "../record/partition.ts";

/** Makes server hashes differ from key hashes of the same text. */
const SERVER_SALT = 0x9e37_79b9;

/**
 * The rendezvous score of server `serverHash` for key `keyHash`: two rounds of
 * mixing so that the scores of one key on different servers are independent.
 */
function score(keyHash: number, serverHash: number): number {
  return mix32(mix32(keyHash ^ serverHash) + serverHash);
}

/** Rendezvous placement over a fixed list of distinct server ids. */
export class Placement {
  readonly #ids: readonly string[];
  readonly #serverHashes: Uint32Array;
  /** Scratch scores, reused by every call: placement runs once per record. */
  readonly #scores: Float64Array;

  /**
   * @param serverIds distinct server identities (resolved `ip:port`); results are
   * indexes into this list.
   */
  constructor(serverIds: readonly string[]) {
    assert(serverIds.length > 0, "placement needs at least one server");
    assert(new Set(serverIds).size === serverIds.length, "server ids must be distinct");
    this.#ids = [...serverIds];
    this.#serverHashes = new Uint32Array(serverIds.length);
    for (let i = 0; i < serverIds.length; i++) {
      this.#serverHashes[i] = hashKey(serverIds[i]) ^ SERVER_SALT;
    }
    this.#scores = new Float64Array(serverIds.length);
  }

  /** Number of servers. */
  get serverCount(): number {
    return this.#ids.length;
  }

  /**
   * The `k` distinct servers that hold `key`, best first (the order reads try
   * them in). `1 ≤ k ≤ serverCount`.
   *
   * @example
   * ```ts
   * new Placement(["a:1", "b:2"]).replicas("person1", 2).length; // 2
   * ```
   */
  replicas(key: string, k: number): number[] {
    const chosen = new Uint32Array(k);
    this.replicasInto(key, chosen);
    return Array.from(chosen);
  }

  /**
   * Like {@link Placement.replicas}, writing the `out.length` servers into `out`: for
   * the indexer, which places every record and need not allocate an array for each.
   *
   * @example
   * ```ts
   * const out = new Uint32Array(2);
   * new Placement(["a:1", "b:2", "c:3"]).replicasInto("person1", out); // out holds 2 indexes
   * ```
   */
  replicasInto(key: string, out: Uint32Array): void {
    const k = out.length;
    // A plain check rather than node:assert, whose message is built on every call: this
    // runs once per record.
    if (!(k >= 1 && k <= this.#ids.length)) throw new RangeError(`bad replication factor ${k}`);
    const keyHash = hashKey(key);
    const scores = this.#scores;
    for (let i = 0; i < scores.length; i++) scores[i] = score(keyHash, this.#serverHashes[i]);
    // Selection of the top k: k is small (≤ servers, usually 2–3), so k linear
    // passes beat sorting every server for every record.
    for (let round = 0; round < k; round++) {
      let best = -1;
      for (let i = 0; i < scores.length; i++) {
        if (scores[i] < 0) continue;
        if (best === -1 || this.#outranks(i, best)) best = i;
      }
      out[round] = best;
      scores[best] = -1;
    }
  }

  #outranks(candidate: number, incumbent: number): boolean {
    const difference = this.#scores[candidate] - this.#scores[incumbent];
    if (difference !== 0) return difference > 0;
    return this.#ids[candidate] < this.#ids[incumbent];
  }
}
