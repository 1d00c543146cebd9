/**
 * In-memory stand-ins for `kv server`s, for broker tests that need no
 * processes: each {@link FakeServer} holds records in a Map and can be made
 * to crash (refuse connections, fail requests with a ConnectionError) or hang
 * (requests fail with a RequestTimeoutError, as a real client reports a
 * silent server). {@link fakeConnector} plugs them into a `ServerPool`.
 *
 * @example
 * ```ts
 * const cluster = new FakeCluster(3);
 * const broker = await Broker.open(cluster.addresses, { k: 2, connect: cluster.connect });
 * cluster.servers[0].state = "crashed";
 * ```
 * @module
 */
import { ConnectionError, RequestTimeoutError, ServerError } from "../../lib/protocol/client.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../lib/limits.ts";
import {
  ErrorCode,
  type KeysOptions,
  type PutManyRefusal,
  type ServerStats,
} from "../../lib/protocol/mod.ts";
import { readItemKey } from "../../lib/protocol/messages.ts";
import { type PutManyItems, readPutManyItems } from "../../lib/protocol/put_many.ts";
import { type ServerAddress, serverAddress } from "../../lib/broker/server_list.ts";
import type { Connector, ServerConnection } from "../../lib/broker/server_pool.ts";
import { compareKeys } from "../../lib/base/utf8.ts";
import { getField, type Value } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";

/** How a fake server behaves. */
export type FakeState = "up" | "crashed" | "hung";

/** One fake server: its records and its state. */
export class FakeServer {
  readonly records = new Map<string, Value>();
  state: FakeState = "up";
  /** Requests received, by kind, for tests that check who was asked. */
  readonly requests: string[] = [];
  /** When set, PUT, PUT_MANY and DELETE answer ERROR INTERNAL with this message. */
  failWrites: string | undefined;
  /** PUT_MANY items whose key this holds for are refused (BAD_REQUEST), the rest stored. */
  refuseKey: ((key: string) => boolean) | undefined;
  /** When set, the server crashes on receiving a PUT_MANY, which then fails. */
  crashOnPutMany = false;
  /** The frame limit its HELLO would announce. */
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;

  constructor(readonly address: ServerAddress) {}
}

class FakeConnection implements ServerConnection {
  #closed = false;
  #closeReason: Error | undefined;

  constructor(readonly server: FakeServer) {}

  get isOpen(): boolean {
    return !this.#closed && this.server.state !== "crashed";
  }

  get closeReason(): Error | undefined {
    if (this.#closeReason !== undefined) return this.#closeReason;
    return this.server.state === "crashed"
      ? new ConnectionError(`${this.server.address.id}: connection reset`)
      : undefined;
  }

  get serverId(): string {
    return this.server.address.id;
  }

  get maxFrameBytes(): number {
    return this.server.maxFrameBytes;
  }

  #check(kind: string): Promise<void> {
    this.server.requests.push(kind);
    if (this.#closed || this.server.state === "crashed") {
      return Promise.reject(new ConnectionError(`${this.server.address.id}: connection reset`));
    }
    if (this.server.state === "hung") {
      this.#closed = true;
      this.#closeReason = new RequestTimeoutError(`${this.server.address.id}: no answer`);
      return Promise.reject(this.#closeReason);
    }
    return Promise.resolve();
  }

  async put(key: string, value: Value, options: { overwrite?: boolean } = {}) {
    await this.#check("PUT");
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    if (options.overwrite === false && this.server.records.has(key)) return "exists" as const;
    this.server.records.set(key, value);
    return "ok" as const;
  }

  putEncoded(key: string, encodedValue: Uint8Array, options: { overwrite?: boolean } = {}) {
    return this.put(key, decodeValue(encodedValue), options);
  }

  /** Stores each item as `putEncoded` would; a refused item is listed, as a real server does. */
  async putMany(items: PutManyItems) {
    const body = items.bytes().slice();
    const bounds = readPutManyItems(body, 0, items.itemCount);
    if (4 + body.length > this.server.maxFrameBytes) {
      throw new Error(`fake: a frame of ${4 + body.length} bytes was sent past the limit`);
    }
    if (this.server.crashOnPutMany) this.server.state = "crashed";
    await this.#check("PUT_MANY");
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    const refusals: PutManyRefusal[] = [];
    for (let index = 0; index < bounds.itemCount; index++) {
      const key = readItemKey(body, bounds.keyStart(index), bounds.keyEnd(index));
      const value = decodeValue(body.subarray(bounds.valueStart(index), bounds.valueEnd(index)));
      if (this.server.refuseKey?.(key)) {
        refusals.push({ index, code: ErrorCode.BAD_REQUEST, message: `fake refuses '${key}'` });
      } else if (bounds.ifAbsent(index) && this.server.records.has(key)) {
        refusals.push({ index, code: ErrorCode.EXISTS, message: `key '${key}' exists` });
      } else {
        this.server.records.set(key, value);
      }
    }
    return refusals;
  }

  async getEncoded(key: string) {
    await this.#check("GET");
    const value = this.server.records.get(key);
    return value === undefined ? undefined : encodeValue(value);
  }

  async queryEncoded(path: readonly string[]) {
    await this.#check("QUERY");
    let value = this.server.records.get(path[0]);
    for (const name of path.slice(1)) value = value && getField(value, name);
    return value === undefined ? undefined : encodeValue(value);
  }

  async delete(key: string) {
    await this.#check("DELETE");
    if (this.server.failWrites) throw new ServerError(ErrorCode.INTERNAL, this.server.failWrites);
    return this.server.records.delete(key);
  }

  async keys(options: KeysOptions) {
    await this.#check("KEYS");
    const prefix = options.prefix ?? "";
    const after = options.after ?? "";
    return [...this.server.records.keys()]
      .filter((key) => key.startsWith(prefix) && compareKeys(key, after) > 0)
      .sort(compareKeys)
      .slice(0, options.limit);
  }

  async stats(): Promise<ServerStats> {
    await this.#check("STATS");
    return {
      recordCount: this.server.records.size,
      memoryBytes: 0,
      uptimeMs: 0,
      connectionCount: 1,
    };
  }

  async ping() {
    await this.#check("PING");
    return 0.1;
  }

  close() {
    this.#closed = true;
    this.#closeReason ??= new ConnectionError("closed by the client");
  }
}

/** A set of fake servers on made-up ports. */
export class FakeCluster {
  readonly servers: FakeServer[];

  constructor(serverCount: number) {
    this.servers = Array.from(
      { length: serverCount },
      (_, i) => new FakeServer(serverAddress("127.0.0.1", 9000 + i)),
    );
  }

  /** The servers' addresses, for `Broker.open`. */
  get addresses(): ServerAddress[] {
    return this.servers.map((server) => server.address);
  }

  /** Connects to the fake server with the same id; fails while it is crashed or hung. */
  readonly connect: Connector = (address) => {
    const server = this.servers.find((candidate) => candidate.address.id === address.id);
    if (server === undefined || server.state !== "up") {
      return Promise.reject(new ConnectionError(`cannot connect to ${address.id}`));
    }
    return Promise.resolve(new FakeConnection(server));
  };

  /** The fake servers that hold `key`. */
  holders(key: string): string[] {
    return this.servers.filter((server) => server.records.has(key)).map((s) => s.address.id);
  }
}
