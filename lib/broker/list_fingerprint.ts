/**
 * The fingerprint of a server list as placement sees it: what MARK_REPAIRED records on a
 * server and a broker compares with its own list's before taking that server's NOT FOUND
 * as proof (docs/protocol.md, README "The cluster's k").
 *
 * A server marked repaired holds every write placed on it — by one placement. Placement
 * (placement.ts) ranks servers by their identities (the `ip:port` each name resolved to)
 * alone, never by the file's order or spelling, and a key's replicas are the first k of
 * its ranking. So the fingerprint covers exactly the set of identities and k: equal sets
 * and k place every key alike; anything else may place a key on a server that never held
 * it. Canonical form: the identities sorted (UTF-16 code unit order, as `Array#sort`),
 * one per line after a versioned header and k, hashed with SHA-256 and cut to
 * {@link LIST_FINGERPRINT_BYTES}. Consequences, all on the safe side (a mismatch costs
 * warnings and reads walking past the server until a repair under the new list, never a
 * NOT FOUND trusted wrongly):
 *
 * - reordering the server file, or naming a server by another host name that resolves
 *   to the same address, keeps the fingerprint (placement is the same);
 * - a host name that resolves to another address for another broker, adding, removing
 *   or replacing a server, or another k, changes it.
 *
 * @example
 * ```ts
 * import { listFingerprint } from "./list_fingerprint.ts";
 * listFingerprint(["127.0.0.1:8001", "127.0.0.1:8000"], 2); // 16 bytes
 * // equal to listFingerprint(["127.0.0.1:8000", "127.0.0.1:8001"], 2)
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { sha256 } from "../base/sha256.ts";
import { LIST_FINGERPRINT_BYTES } from "../protocol/mod.ts";

/**
 * Starts the hashed text: names what is hashed and the placement scheme, so a future
 * placement that ranks servers otherwise changes every fingerprint with its version.
 */
const CANONICAL_HEADER = "kv server list, rendezvous placement 1";

/**
 * The canonical text {@link listFingerprint} hashes: the header, `k=K`, then each
 * identity sorted, one per line.
 *
 * @example
 * ```ts
 * canonicalList(["127.0.0.1:8001", "127.0.0.1:8000"], 1);
 * // "kv server list, rendezvous placement 1\nk=1\n127.0.0.1:8000\n127.0.0.1:8001\n"
 * ```
 */
export function canonicalList(identities: readonly string[], k: number): string {
  invariant(Number.isInteger(k) && k >= 1, `bad k ${k}`);
  const sorted = [...identities].sort();
  for (let i = 1; i < sorted.length; i++) {
    invariant(sorted[i] !== sorted[i - 1], "placement needs distinct server identities");
  }
  invariant(sorted.every((identity) => !identity.includes("\n")), "an identity is one line");
  return [CANONICAL_HEADER, `k=${k}`, ...sorted].map((line) => `${line}\n`).join("");
}

/**
 * The fingerprint of the placement of k replicas over servers `identities` (each
 * server's `ServerAddress.identity`, in any order): {@link LIST_FINGERPRINT_BYTES} bytes,
 * equal for two lists exactly when their {@link canonicalList}s are (but for SHA-256
 * collisions), and never all zeros (`NO_LIST`) but with negligible odds, which
 * MARK_REPAIRED would refuse.
 *
 * @example
 * ```ts
 * import { serverAddress } from "./server_list.ts";
 * const servers = [serverAddress("127.0.0.1", 8000), serverAddress("127.0.0.1", 8001)];
 * listFingerprint(servers.map((server) => server.identity), 2);
 * ```
 */
export function listFingerprint(identities: readonly string[], k: number): Uint8Array {
  const digest = sha256(new TextEncoder().encode(canonicalList(identities, k)));
  return digest.slice(0, LIST_FINGERPRINT_BYTES);
}

/**
 * Whether two fingerprints are the same bytes.
 *
 * @example
 * ```ts
 * sameList(listFingerprint(["a:1"], 1), listFingerprint(["a:1"], 1)); // true
 * ```
 */
export function sameList(a: Uint8Array, b: Uint8Array): boolean {
  // A loop, not `every`: every request a pool sends asks this (ServerPool.trusts), and
  // `every` with its callback cost about 0.2 µs a GET, 15 times the loop.
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
