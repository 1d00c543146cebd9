/**
 * kv's client library: connect to a kv cluster and read, write, delete and list records, with
 * the replication and fault tolerance of `kv broker`. The README's "Library" section has the
 * whole story; in short:
 *
 * - Answers are shaped like Deno KV's: `{ key, value, version }`, `value: null` when not found;
 *   `version` is a text that sorts in version order, like Deno KV's versionstamp.
 * - Values are plain JavaScript: strings, numbers, plain objects, and {@link Float} for a
 *   whole-valued float (the int/float rule). No booleans, `null` or arrays: a refusal says
 *   what to store instead.
 * - In TypeScript, `put` takes a {@link KvValue} or a value of the program's own type, an
 *   `interface` too, whose every part kv can store ({@link KvStorable}); `get<T>`, `query<T>`
 *   and `list<T>` answer the type asked for, unchecked, as Deno KV's do. A field holding
 *   `undefined` is left out, as `JSON.stringify` leaves it out (`nick?: string` is taken).
 * - Failures are a {@link KvInputError} (the caller's mistake: repeating cannot help) or a
 *   {@link KvUnavailableError} (the cluster could not answer: retry once servers are back);
 *   `connect` without `replicas` that reaches no server throws its subclass
 *   {@link KvNoServerReachableError}, naming each server and why. A call given a `signal`
 *   ({@link KvCallOptions}) that aborts it rejects with a {@link KvAbortedError}.
 * - Calls past {@link MAX_CALLS_IN_FLIGHT} wait their turn in the library, so
 *   `Promise.all` over a whole import works.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * await using kv = await connect({ servers: "serverFile.txt", replicas: 2 });
 * await kv.put("person1", { name: "Mary", age: 22, height: 1.75 });
 * // `warning` when the answer is not guaranteed (k or more servers down or unrepaired);
 * // no replica of the key answering is a KvUnavailableError.
 * const { value, warning } = await kv.get("person1");
 * interface Person { name: string; age?: number; height?: number }
 * const { value: mary } = await kv.get<Person>("person1"); // Person | null, unchecked
 * const age = await kv.query("person1.age");
 * // { key: "person1", value: 22, version: "0193813bcc0000000000002a", path: ["person1", "age"] }
 * const typo = await kv.query("person1.aeg");
 * // value null, missing: { reason: "no-field", path: ["person1", "aeg"], closest: "age" }
 * for await (const entry of kv.list({ prefix: "person" })) console.log(entry.key, entry.value);
 * // A deadline for one call: a KvAbortedError naming it and its key once 500 ms have passed.
 * await kv.get("person1", { signal: AbortSignal.timeout(500) });
 * await kv.delete("person1");
 * ```
 * @module
 */
export {
  connect,
  type ConnectOptions,
  Kv,
  type KvBytesEntry,
  type KvCallOptions,
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
export type { LogFunction } from "./lib/base/logger.ts";
export {
  KvAbortedError,
  KvError,
  KvInputError,
  KvNoServerReachableError,
  KvUnavailableError,
} from "./lib/client/errors.ts";
