/**
 * What the broker's core adds to one GET, in process: `Broker.getEncoded` and
 * `Broker.get` over four servers with k = 2, against connections that answer
 * every GET at once with the same record (no sockets, no server), 32 reads in
 * flight as `kv bench --pipeline 32` keeps them. What is left is the read
 * path's own work: placement, the preference walk, the promises and objects of
 * one read of k replicas, choosing the newest answer and, for `get`, decoding it.
 *
 * ```sh
 * deno bench -A tests/broker/read_path_bench.ts
 * ```
 * @module
 */
import { listFingerprint } from "../../lib/broker/list_fingerprint.ts";
import { Broker } from "../../lib/broker/broker.ts";
import { type ServerConnection, ServerPool } from "../../lib/broker/server_pool.ts";
import { serverAddress } from "../../lib/broker/server_list.ts";
import type { EncodedRead, NodeState } from "../../lib/protocol/mod.ts";
import { int, object, str } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { nextVersion } from "../helpers/versions.ts";

const SERVERS = 4;
const K = 2;
const IN_FLIGHT = 32;
const KEYS = 1000;

const answer: EncodedRead = {
  encoded: encodeValue(object([["name", str("Mary Smith")], ["age", int(22)]])),
  version: nextVersion(),
};
const servers = Array.from({ length: SERVERS }, (_, i) => serverAddress("127.0.0.1", 9000 + i));
const trusted: NodeState = {
  unrepaired: false,
  k: K,
  repairedUnder: listFingerprint(servers.map((server) => server.identity), K),
};

/** A connection whose every GET is answered at once with `answer`; nothing else is used. */
function instantConnection(id: string): ServerConnection {
  const unused = () => Promise.reject(new Error("not used by this bench"));
  return {
    isOpen: true,
    closeReason: undefined,
    serverId: id,
    maxFrameBytes: 1 << 20,
    challenged: false,
    state: trusted,
    refusesWrites: undefined,
    getEncoded: () => Promise.resolve(answer),
    queryEncoded: () => Promise.resolve(answer),
    // Settled a microtask later, as an answer read from a socket never comes inside the call.
    getEncodedTo: (_key, settle) => queueMicrotask(() => settle.resolve(answer)),
    queryEncodedTo: (_path, settle) => queueMicrotask(() => settle.resolve(answer)),
    setK: unused,
    markRepaired: unused,
    partitionDigests: unused,
    listPartitions: unused,
    put: unused,
    putEncoded: unused,
    putMany: unused,
    delete: unused,
    keys: unused,
    stats: unused,
    ping: () => Promise.resolve(0),
    close: () => {},
  };
}

const pool = new ServerPool(servers, {
  connect: (server) => Promise.resolve(instantConnection(server.id)),
});
await pool.start();
const broker = new Broker(pool, { k: K });
const keys = Array.from({ length: KEYS }, (_, i) => `person${i}`);
let turn = 0;

Deno.bench(`getEncoded, ${IN_FLIGHT} in flight (per batch of ${IN_FLIGHT})`, async () => {
  const reads = [];
  for (let i = 0; i < IN_FLIGHT; i++) reads.push(broker.getEncoded(keys[turn++ % KEYS]));
  await Promise.all(reads);
});

Deno.bench(`get, ${IN_FLIGHT} in flight (per batch of ${IN_FLIGHT})`, async () => {
  const reads = [];
  for (let i = 0; i < IN_FLIGHT; i++) reads.push(broker.get(keys[turn++ % KEYS]));
  await Promise.all(reads);
});

globalThis.addEventListener("unload", () => broker.close());
