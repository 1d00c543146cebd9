/**
 * The library's two kinds of failure, as two classes a caller can tell apart
 * with `instanceof`: {@link KvInputError} is the caller's mistake (a bad key,
 * a value kv cannot store, a bad option) and repeating the call cannot help;
 * {@link KvUnavailableError} is the cluster failing to answer (too few
 * replicas reachable for a write, none for a read) and the same call may succeed once
 * servers are back; its
 * {@link KvNoServerReachableError} is `connect` finding no server at all. A third,
 * {@link KvAbortedError}, is neither's: a call the caller's own `signal` aborted.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * import { KvInputError, KvUnavailableError } from "./errors.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * try {
 *   await kv.put("person1", { age: 22 });
 * } catch (error) {
 *   if (error instanceof KvUnavailableError) console.log("retry later:", error.message);
 *   else if (error instanceof KvInputError) console.log("fix the call:", error.message);
 *   else throw error;
 * }
 * ```
 * @module
 */

/**
 * What every error kv's library throws on purpose extends.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * try {
 *   await kv.get("a.b");
 * } catch (error) {
 *   if (error instanceof KvError) console.log(error.message);
 * }
 * ```
 */
export class KvError extends Error {
  /**
   * Makes the error.
   *
   * @param message one line: what went wrong and what to do.
   * @param options `cause`: the lower layer's error it stands for, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KvError";
  }
}

/**
 * The caller's mistake: a key that is empty, too long or holds `.`; a value
 * that is not a string, number, `Float` or plain object; an unreadable server
 * file; an option out of range, of the wrong type or unknown; credentials every
 * server refuses (an auth file, or a TLS CA that signed none of their certificates), or
 * TLS that cannot succeed (an expired certificate, a server without TLS); a server list
 * whose servers are all unusable and one of them no kv server (it answered in HTTP, kv
 * http's port say, or as SSH, Redis or any server whose first bytes no kv server sends), or
 * a kv server of another protocol version (an older or newer kv: upgrade the older side).
 * Repeating the same call fails the same way.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * try {
 *   await kv.get("person.1");
 * } catch (error) {
 *   // "key 'person.1' contains '.' (it separates query paths)"
 *   if (error instanceof KvInputError) console.log(error.message);
 * }
 * ```
 */
export class KvInputError extends KvError {
  /**
   * Makes the error.
   *
   * @param message what was wrong and what to pass instead.
   * @param options `cause`: the lower layer's error it stands for, if any (a
   * CredentialsRefusedError of lib/broker/server_pool.ts, say).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KvInputError";
  }
}

/**
 * `message`, a lower layer's, in words for the program using the library: what Deno does
 * not let kv do, and the advice to run kv with a Deno permission flag (lib/base/fs_error.ts,
 * lib/broker/server_list.ts: `Deno does not let kv read it (…); run kv with --allow-read, as
 * 'deno install' of kv does`), name the program instead, which is the one Deno runs with
 * the flags.
 *
 * @example
 * ```ts
 * inProgramWords(
 *   "s.txt: Deno does not let kv read it (…); run kv with --allow-read, as 'deno install' of kv does",
 * );
 * // "s.txt: Deno does not let this program read it (…); run your program with --allow-read"
 * ```
 */
export function inProgramWords(message: string): string {
  return message.replace(KV_PERMISSION_ADVICE, "run your program with $1")
    .replace(KV_NOT_LET, "Deno does not let this program ");
}

/** The CLI's advice to give kv a Deno permission flag; the flag is its group. */
const KV_PERMISSION_ADVICE = /run kv with (--allow-[a-z]+), as 'deno install' of kv does/g;

/** The CLI's words for what Deno refused kv, which in a program is the program's doing. */
const KV_NOT_LET = /Deno does not let kv /g;

/**
 * The cluster could not answer: a write found a replica of the key
 * unreachable (nothing was changed, or the message says how far it got), or
 * a read learned nothing of its key (none of the key's replicas answered, or none that
 * can be trusted, and no other server held a copy; or every one refused it). The same
 * call may succeed once the servers are back.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * try {
 *   await kv.put("person1", { age: 22 });
 * } catch (error) {
 *   if (error instanceof KvUnavailableError) console.log("retry in a second:", error.message);
 * }
 * ```
 */
export class KvUnavailableError extends KvError {
  /**
   * Makes the error.
   *
   * @param message which servers did not answer, and what was (not) done.
   */
  constructor(message: string) {
    super(message);
    this.name = "KvUnavailableError";
  }
}

/**
 * `connect` reached none of the servers and was given no `replicas`, so it cannot learn
 * the cluster's k (only the servers record it): a {@link KvUnavailableError}, since the
 * same call succeeds once a server is back. Its message names each server and why it is
 * down; `unreachable` lists them. Giving `replicas` (the cluster's k) connects at once,
 * and reaches the servers in the background as they start.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * try {
 *   await connect({ servers: "serverFile.txt" });
 * } catch (error) {
 *   if (error instanceof KvNoServerReachableError) {
 *     for (const { server, error: why } of error.unreachable) console.log(server, why);
 *   }
 * }
 * ```
 */
export class KvNoServerReachableError extends KvUnavailableError {
  /**
   * Each server, in the server list's order, and why it could not be reached; `busy` when
   * it is running but turned this client away for want of room (its connection limit or
   * memory budget): to be retried later, not started.
   */
  readonly unreachable: readonly {
    readonly server: string;
    readonly error: string;
    readonly busy?: boolean;
  }[];

  /**
   * Makes the error.
   *
   * @param message the servers and why each is down, and what to do.
   * @param unreachable see {@link KvNoServerReachableError.unreachable}.
   */
  constructor(message: string, unreachable: KvNoServerReachableError["unreachable"]) {
    super(message);
    this.name = "KvNoServerReachableError";
    this.unreachable = unreachable;
  }
}

/**
 * The call's `signal` (an `AbortSignal`) aborted it: the caller gave up, which is neither its mistake nor the cluster's. Its message
 * names the call and its key, and says whether it timed out (`AbortSignal.timeout(ms)`'s
 * TimeoutError) or was aborted (and the reason's message); `cause` is the signal's `reason`
 * itself, as `fetch` would reject with, and `underWay` whether it had been sent.
 *
 * A call aborted before it was sent (an already aborted signal, or one aborted while the call
 * waited its turn behind `MAX_CALLS_IN_FLIGHT` others) changed nothing. A
 * write aborted under way may still be applied on some or all of its replicas, or none, as a
 * write that timed out may: a later read tells. Its answers, when they come, are dropped.
 *
 * @example
 * ```ts
 * import { connect } from "./kv.ts";
 * await using kv = await connect({ servers: "serverFile.txt" });
 * try {
 *   await kv.get("person1", { signal: AbortSignal.timeout(100) });
 * } catch (error) {
 *   // "get of 'person1' timed out (its signal's deadline passed) while under way; …"
 *   if (error instanceof KvAbortedError) console.log(error.message);
 * }
 * ```
 */
export class KvAbortedError extends KvError {
  /**
   * Whether the call had been sent when its signal aborted it: a write then may have been
   * applied on some or all of its replicas; one never sent changed nothing.
   */
  readonly underWay: boolean;

  /**
   * Makes the error.
   *
   * @param message the call, its key, and what its abort means for it.
   * @param options `cause`: the signal's reason; `underWay`: see {@link KvAbortedError.underWay}.
   */
  constructor(message: string, options: { cause: unknown; underWay: boolean }) {
    super(message, { cause: options.cause });
    this.name = "KvAbortedError";
    this.underWay = options.underWay;
  }
}

/**
 * The {@link KvAbortedError} for `call` (`get of 'person1'`), a `write` or not, aborted by a
 * signal whose reason is `reason`, before it was sent or `underWay`.
 *
 * @example
 * ```ts
 * const reason = new DOMException("Signal timed out.", "TimeoutError");
 * abortedError("put of 'person1'", reason, { underWay: true, write: true }).message;
 * // "put of 'person1' timed out (its signal's deadline passed) while under way: it may still
 * // be applied on some or all of its replicas, or none; a later read tells"
 * ```
 */
export function abortedError(
  call: string,
  reason: unknown,
  { underWay, write }: { underWay: boolean; write: boolean },
): KvAbortedError {
  const what = reason instanceof DOMException && reason.name === "TimeoutError"
    ? "timed out (its signal's deadline passed)"
    : `was aborted (${abortReason(reason)})`;
  const outcome = !underWay
    ? "before it was sent: nothing was sent"
    : write
    ? "while under way: it may still be applied on some or all of its replicas, or none; " +
      "a later read tells"
    : "while under way: its answer is dropped";
  return new KvAbortedError(`${call} ${what} ${outcome}`, { cause: reason, underWay });
}

/**
 * A signal's reason in a few words: an Error's message (`abort()`'s own says so), else it.
 * Never throws: it runs in the signal's abort listener, where a throw (String() of an object
 * without a prototype) was reported uncaught and left the call's promise never settled.
 */
function abortReason(reason: unknown): string {
  let text: string;
  try {
    text = reason instanceof Error ? String(reason.message) : String(reason);
  } catch {
    return UNSHOWN_REASON;
  }
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}

/** An aborted call's words for a reason String() cannot make text; its `cause` holds it. */
const UNSHOWN_REASON = "a reason that cannot be shown as text";

/** Most characters of a reason an aborted call's message quotes: it is one line. */
const MAX_REASON_CHARS = 200;
