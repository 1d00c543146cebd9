/**
 * kv's client library: connect to a kv cluster and read, write, delete and
 * list records, with the replication and fault tolerance of `kv broker`.
 * Answers are shaped like Deno KV's (`{ key, value, version }`, `value: null`
 * when not found; `version` a text that sorts in version order like Deno KV's
 * versionstamp, so a later write of a key reads back with a greater one); values are plain JavaScript, with {@link Float} to store a
 * whole-valued float (see the README's "Library" section for the int/float
 * rule). In TypeScript, `put` takes a {@link KvValue} or a value of the program's own type,
 * an `interface` too, whose parts kv can store ({@link KvStorable}: a boolean or array field is
 * refused at compile time; a field holding `undefined` is left out, as `JSON.stringify` leaves
 * it out, so `nick?: string` and `nick: string | undefined` are taken), and `get<T>`, `query<T>` and `list<T>` answer the type asked
 * for, unchecked, as Deno KV's do (`KvValue` by default). Failures are a {@link KvInputError} (the caller's mistake) or a
 * {@link KvUnavailableError} (the cluster could not answer: a write with a replica
 * unreachable, a read none of the key's replicas answered); `connect` without
 * `replicas` that reaches no server throws the latter's {@link KvNoServerReachableError},
 * which names each server and why it is down (its `unreachable`): start one and retry,
 * or pass `replicas`, the cluster's k, to connect at once and reach them as they start.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * await using kv = await connect({ servers: "serverFile.txt", replicas: 2 });
 * await kv.put("person1", { name: "Mary", age: 22, height: 1.75 });
 * const { value, warning } = await kv.get("person1"); // warning: not guaranteed (k or more servers down or unrepaired); no replica up: a KvUnavailableError
 * interface Person { name: string; age?: number; height?: number }
 * const { value: mary } = await kv.get<Person>("person1"); // Person | null, unchecked
 * const age = await kv.query("person1.age"); // { key: "person1", value: 22, version: "0193813bcc0000000000002a", path: ["person1", "age"] }
 * const typo = await kv.query("person1.aeg"); // value null, missing: { reason: "no-field", path: ["person1", "aeg"], closest: "age" }
 * for await (const entry of kv.list({ prefix: "person" })) console.log(entry.key, entry.value);
 * await kv.delete("person1");
 * ```
 * @module
 */
export {
  connect,
  type ConnectOptions,
  Kv,
  type KvBytesEntry,
  type KvDeleteResult,
  type KvEntry,
  type KvKeysPage,
  type KvListEntry,
  type KvListOptions,
  type KvPutResult,
  type KvQueryEntry,
  type KvQueryMissing,
  type KvServerStatus,
  LIST_PAGE_SIZE,
  MAX_CALLS_IN_FLIGHT,
  MAX_KEYS_PAGE,
  MAX_TIMEOUT_MS,
  type ServerEndpoint,
} from "./lib/client/kv.ts";
export {
  Float,
  type FloatReading,
  type KvObject,
  type KvStorable,
  type KvValue,
} from "./lib/client/values.ts";
export {
  KvError,
  KvInputError,
  KvNoServerReachableError,
  KvUnavailableError,
} from "./lib/client/errors.ts";
