/**
 * Pipelined execution of a command stream: reads ahead a bounded window of
 * commands, runs them concurrently, and emits their results strictly in input
 * order, as if they had run one at a time.
 *
 * "As if one at a time" is kept by ordering only commands that can see each
 * other ({@link Access}):
 *
 * - a read of key k (GET, QUERY) waits for the last earlier unfinished write
 *   of k, so `PUT k …` then `GET k` answers the PUT's value;
 * - a write of k (PUT, DELETE) waits for every earlier unfinished read and
 *   write of k, so `GET k` then `PUT k …` answers the old value and two writes
 *   land in input order;
 * - a read of every key (KEYS, SERVERS' record counts) waits for every earlier
 *   unfinished write, and every later write waits for it;
 * - a barrier (a meta command such as `\demo kill 1`, which changes the cluster
 *   itself) waits for everything before it, and everything after it waits for
 *   it;
 * - everything else (HELP, EXIT, a line that does not parse) waits for nothing.
 *
 * Reads of one key never wait for each other. What is not kept: when servers
 * fail in the middle of a script, which command first notices a server down
 * can differ from a one-at-a-time run, so a warning may land on a neighbouring
 * answer; every answer is still one the cluster could have given.
 *
 * @example
 * ```ts
 * import { runPipelined } from "./pipeline.ts";
 * const store = new Map<string, string>();
 * const script = [["put", "a", "1"], ["get", "a"]];
 * await runPipelined(
 *   [script],
 *   ([op, key, value]) => ({
 *     access: { kind: op === "put" ? "write" : "read", key },
 *     run: async () => (op === "put" ? (store.set(key, value), "ok") : store.get(key) ?? "none"),
 *   }),
 *   (answer) => (console.log(answer), true),
 * ); // prints ok, then 1
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import type { Command } from "./commands.ts";

/**
 * Commands read ahead and in flight at most, by default. Past about 64 the piped
 * GET throughput stops growing; at 1024 (2048 requests for k=2) a loaded machine
 * kept requests queued in the servers past the request timeout, counting them down.
 */
export const PIPELINE_WINDOW = 128;

/** What a command touches, which decides what it waits for. */
export type Access =
  | { readonly kind: "read"; readonly key: string }
  | { readonly kind: "write"; readonly key: string }
  | { readonly kind: "read-all" }
  | { readonly kind: "barrier" }
  | { readonly kind: "none" };

/** One command ready to run: what it touches, how to run it, whether reading stops after it. */
export interface Step<R> {
  /** What the command touches. */
  readonly access: Access;
  /** Runs the command; called once every command it waits for has finished. */
  readonly run: () => Promise<R>;
  /** True for EXIT: nothing after it is read. Default false. */
  readonly last?: boolean;
}

/** Options for {@link runPipelined}. */
export interface PipelineOptions {
  /** Most commands read ahead and not yet emitted; default {@link PIPELINE_WINDOW}; 1 runs one at a time. */
  window?: number;
  /** Called when the next result is not ready, before waiting for it (to flush buffered output); default: nothing. */
  idle?: () => void;
}

/**
 * What a broker command touches (see the module documentation for the rules).
 *
 * @example
 * ```ts
 * commandAccess({ op: "QUERY", path: ["person1", "age"] }); // { kind: "read", key: "person1" }
 * ```
 */
export function commandAccess(command: Command): Access {
  switch (command.op) {
    case "GET":
      return { kind: "read", key: command.key };
    case "QUERY":
      return { kind: "read", key: command.path[0] };
    case "PUT":
    case "DELETE":
      return { kind: "write", key: command.key };
    case "KEYS":
    case "SERVERS":
      return { kind: "read-all" };
    case "HELP":
    case "EXIT":
      return { kind: "none" };
  }
}

/**
 * Unfinished commands counted together, and a promise for whoever waits until all of
 * them have finished. Reads join one instead of each being kept as a promise in a set:
 * reads are nearly every piped command, and what waits for them (a write of their key,
 * a barrier) waits for all of them at once.
 */
class Group {
  #pending = 0;
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;

  /** Members not yet finished. */
  get pending(): number {
    return this.#pending;
  }

  join(): void {
    this.#pending++;
  }

  leave(): void {
    invariant(this.#pending > 0, "only a member leaves a group");
    this.#pending--;
    if (this.#pending === 0) this.#resolveDrained?.();
  }

  /** Resolves once every member has finished; undefined when none is pending. */
  drained(): Promise<void> | undefined {
    if (this.#pending === 0) return undefined;
    this.#drained ??= new Promise((resolve) => (this.#resolveDrained = resolve));
    return this.#drained;
  }
}

/** The unfinished commands that touch one key. */
interface KeyState {
  /** The last write of the key, until it has finished. */
  write: Promise<void> | undefined;
  /** The reads since that write (or since the first read), until they have finished. */
  reads: Group | undefined;
}

/**
 * Starts each command as soon as the earlier commands it must follow have
 * finished (the rules of the module documentation). Keeps only unfinished
 * commands, so its memory is bounded by the commands in flight.
 *
 * @example
 * ```ts
 * const scheduler = new AccessScheduler();
 * const put = scheduler.schedule({ kind: "write", key: "a" }, () => store("a"));
 * const get = scheduler.schedule({ kind: "read", key: "a" }, () => load("a")); // after put
 * ```
 */
export class AccessScheduler {
  readonly #keys = new Map<string, KeyState>();
  /** Unfinished writes, which a read of every key waits for. */
  readonly #writes = new Set<Promise<void>>();
  /** Unfinished reads of every key, which a write waits for. */
  readonly #readAlls = new Set<Promise<void>>();
  /** Every unfinished command since the last barrier (and it), which the next one waits for. */
  #sinceBarrier = new Group();
  #barrier: Promise<void> | undefined;
  #pending = 0;

  /** Commands scheduled and not yet finished. */
  get pendingCount(): number {
    return this.#pending;
  }

  /**
   * Runs `run` once the unfinished commands scheduled before that `access`
   * conflicts with have finished (whether they succeeded or failed).
   */
  schedule<R>(access: Access, run: () => Promise<R>): Promise<R> {
    const waits = this.#waitsFor(access);
    const result = waits.length === 0 ? invoke(run) : Promise.all(waits).then(run);
    if (access.kind === "barrier") this.#sinceBarrier = new Group();
    const sinceBarrier = this.#sinceBarrier;
    sinceBarrier.join();
    this.#pending++;
    if (access.kind === "read") {
      // Nothing waits for one read: it is only counted among its key's reads.
      const reads = this.#keyState(access.key).reads ??= new Group();
      reads.join();
      const leave = () => this.#leaveRead(access.key, reads, sinceBarrier);
      result.then(leave, leave);
    } else {
      const leave = (): void => this.#leave(access, done, sinceBarrier);
      // Resolves once the command has finished and been forgotten, never rejects.
      const done: Promise<void> = result.then(leave, leave);
      this.#record(access, done);
    }
    return result;
  }

  #waitsFor(access: Access): Promise<void>[] {
    const waits: Promise<void>[] = [];
    if (this.#barrier !== undefined) waits.push(this.#barrier);
    switch (access.kind) {
      case "read": {
        const write = this.#keys.get(access.key)?.write;
        if (write !== undefined) waits.push(write);
        break;
      }
      case "write": {
        const state = this.#keys.get(access.key);
        if (state?.write !== undefined) waits.push(state.write);
        const reads = state?.reads?.drained();
        if (reads !== undefined) waits.push(reads);
        waits.push(...this.#readAlls);
        break;
      }
      case "read-all":
        waits.push(...this.#writes);
        break;
      case "barrier": {
        const all = this.#sinceBarrier.drained();
        if (all !== undefined) waits.push(all);
        break;
      }
      case "none":
        break;
    }
    return waits;
  }

  /** Keeps what commands after this one (not a read) wait for. */
  #record(access: Access, done: Promise<void>): void {
    switch (access.kind) {
      case "write": {
        const state = this.#keyState(access.key);
        state.write = done;
        // The earlier reads are now behind this write: later writes wait for this one.
        state.reads = undefined;
        this.#writes.add(done);
        break;
      }
      case "read-all":
        this.#readAlls.add(done);
        break;
      case "barrier":
        this.#barrier = done;
        break;
      case "read":
      case "none":
        break;
    }
  }

  #keyState(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { write: undefined, reads: undefined };
      this.#keys.set(key, state);
    }
    return state;
  }

  /** Forgets a finished read. */
  #leaveRead(key: string, reads: Group, sinceBarrier: Group): void {
    this.#pending--;
    sinceBarrier.leave();
    reads.leave();
    const state = this.#keys.get(key);
    invariant(state !== undefined, "a key with an unfinished read has a state");
    if (state.reads === reads && reads.pending === 0) state.reads = undefined;
    this.#forgetIdleKey(key, state);
  }

  /** Forgets a finished command other than a read. */
  #leave(access: Access, done: Promise<void>, sinceBarrier: Group): void {
    this.#pending--;
    sinceBarrier.leave();
    if (access.kind === "write") {
      const state = this.#keys.get(access.key);
      invariant(state !== undefined, "a key with an unfinished write has a state");
      if (state.write === done) state.write = undefined;
      this.#forgetIdleKey(access.key, state);
    }
    this.#writes.delete(done);
    this.#readAlls.delete(done);
    if (this.#barrier === done) this.#barrier = undefined;
  }

  /** Drops the state of a key no unfinished command touches. */
  #forgetIdleKey(key: string, state: KeyState): void {
    if (state.write === undefined && state.reads === undefined) this.#keys.delete(key);
  }
}

function ignore(): void {}

function invoke<R>(run: () => Promise<R>): Promise<R> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A started command, in input order. */
interface Slot<R> {
  settled: boolean;
  readonly result: Promise<R>;
}

/**
 * Plans each item of `source` into a {@link Step} (undefined: nothing to run,
 * as for a blank line), runs the steps concurrently through an
 * {@link AccessScheduler} with at most `window` read ahead, and passes each
 * result to `emit` in input order. Stops after a step marked `last`, at the
 * end of `source`, or when `emit` returns false. A step that throws (a bug)
 * rejects the returned promise once its turn to be emitted comes.
 *
 * `source` yields the items in batches, such as the lines one chunk of input
 * completes (`readLineBatches`): the items of a batch are planned one after
 * another without waiting for `source` (an `await` per item was a third of
 * the cost of reading a piped line), as long as the window has room.
 *
 * @example
 * ```ts
 * await runPipelined(batches, (line) => planLine(line), (reply) => write(reply), { window: 64 });
 * ```
 */
export async function runPipelined<T, R>(
  source: AsyncIterable<readonly T[]> | Iterable<readonly T[]>,
  plan: (item: T) => Step<R> | undefined,
  emit: (result: R) => boolean,
  options: PipelineOptions = {},
): Promise<void> {
  const window = options.window ?? PIPELINE_WINDOW;
  invariant(Number.isInteger(window) && window >= 1, "the pipeline window is a positive integer");
  const scheduler = new AccessScheduler();
  const slots: Slot<R>[] = [];
  let head = 0;
  let readerDone = false;
  let stopped = false;
  let wakeEmitter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const signal = (wake: (() => void) | undefined) => wake?.();

  const reader = (async () => {
    try {
      for await (const batch of source) {
        for (const item of batch) {
          // Leaving the loop (return) stops `source` too.
          if (stopped) return;
          const step = plan(item);
          if (step === undefined) continue;
          const result = scheduler.schedule(step.access, step.run);
          const slot: Slot<R> = { settled: false, result };
          const settled = () => (slot.settled = true);
          // Marks the rejection handled now; the emitter still awaits it in turn and throws.
          result.then(settled, settled);
          slots.push(slot);
          signal(wakeEmitter);
          if (step.last) return;
          while (slots.length - head >= window && !stopped) {
            await new Promise<void>((resolve) => (wakeReader = resolve));
          }
        }
      }
    } finally {
      readerDone = true;
      signal(wakeEmitter);
    }
  })();
  // Awaited below once it has finished; until then a failure must not count as unhandled.
  reader.catch(ignore);

  try {
    while (true) {
      if (head < slots.length) {
        const slot = slots[head];
        if (!slot.settled) options.idle?.();
        const result = await slot.result;
        head++;
        if (head >= window) {
          slots.splice(0, head);
          head = 0;
        }
        signal(wakeReader);
        if (!emit(result)) break;
      } else if (readerDone) {
        break;
      } else {
        options.idle?.();
        await new Promise<void>((resolve) => (wakeEmitter = resolve));
      }
    }
  } finally {
    stopped = true;
    signal(wakeReader);
  }
  // The reader has stopped or is blocked reading input nobody will answer; an error it hit is
  // still reported, once what came before it was emitted.
  if (readerDone) await reader;
}
