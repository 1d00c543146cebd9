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
 * them have finished. What waits for reads (a write of their key, a barrier) waits for
 * all of them at once, so they are counted rather than each kept as a promise.
 */
class Group {
  #pending = 0;
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;

  /** Counts `count` more members (default one). */
  join(count = 1): void {
    this.#pending += count;
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

/**
 * An unfinished read of `key`, linked between the reads scheduled just before and just
 * after it that are still unfinished, and the groups of the later writes of its key
 * that wait for it (see {@link AccessScheduler}).
 */
class PendingRead {
  readonly key: string;
  previous: PendingRead | undefined;
  next: PendingRead | undefined = undefined;
  /** Groups of writes of `key` scheduled after this read, each counting it; undefined: none. */
  groups: Group[] | undefined = undefined;

  constructor(key: string, previous: PendingRead | undefined) {
    this.key = key;
    this.previous = previous;
  }
}

/** Told how a command given to {@link AccessScheduler.schedule} ended. */
export interface Outcome<R> {
  /** The command's run resolved to `value`. */
  fulfilled(value: R): void;
  /** The command's run threw or rejected with `error`. */
  rejected(error: unknown): void;
}

/**
 * Starts each command as soon as the earlier commands it must follow have
 * finished (the rules of the module documentation). Keeps only unfinished
 * commands, so its memory is bounded by the commands in flight.
 *
 * Reads, nearly every piped command, are kept in one list of the unfinished ones,
 * with no map by key to update: a read costs a small object linked in and out, and
 * only a write of a key (rare among piped GETs) looks for that key's reads, walking
 * the list. The write waits for all of them (a group counting them down); those
 * since the key's last write are the rule, and the ones before it the earlier write
 * waits for anyway, so it starts no later than the rule says. A read after the write
 * waits for the write, so it cannot finish before the group it is not counted in has
 * drained.
 *
 * @example
 * ```ts
 * const store = async (key: string) => console.log("stored", key);
 * const load = async (key: string) => `the value of ${key}`;
 * const scheduler = new AccessScheduler();
 * const put = scheduler.schedule({ kind: "write", key: "a" }, () => store("a"));
 * const get = scheduler.schedule({ kind: "read", key: "a" }, () => load("a")); // after put
 * ```
 */
export class AccessScheduler {
  /** The oldest and the newest unfinished read (see PendingRead). */
  #oldestRead: PendingRead | undefined;
  #newestRead: PendingRead | undefined;
  /** The last write of each key, until it has finished. */
  readonly #lastWrites = new Map<string, Promise<void>>();
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
   * conflicts with have finished (whether they succeeded or failed), and returns
   * its result. `outcome`, when given, is told how it ended once the command is
   * forgotten, before anything that waits for it starts: for a caller that needs
   * no promise of its own (a pipeline keeps one object per command instead).
   *
   * @example
   * ```ts
   * const scheduler = new AccessScheduler();
   * scheduler.schedule({ kind: "write", key: "a" }, () => Promise.resolve(1));
   * await scheduler.schedule({ kind: "read", key: "a" }, () => Promise.resolve(2)); // 2, after it
   * ```
   */
  schedule<R>(access: Access, run: () => Promise<R>, outcome?: Outcome<R>): Promise<R> {
    const sinceBarrier = access.kind === "barrier" ? new Group() : this.#sinceBarrier;
    if (access.kind === "read") {
      const { key } = access;
      const write = this.#lastWrites.size === 0 ? undefined : this.#lastWrites.get(key);
      const barrier = this.#barrier;
      const result = write === undefined && barrier === undefined
        ? invoke(run)
        : Promise.all(compact(barrier, write)).then(run);
      const read = this.#addRead(key);
      this.#joined(sinceBarrier);
      result.then(
        (value) => (this.#leaveRead(read, sinceBarrier), outcome?.fulfilled(value)),
        (error) => (this.#leaveRead(read, sinceBarrier), outcome?.rejected(error)),
      );
      return result;
    }
    const waits = this.#waitsFor(access);
    const result = waits.length === 0 ? invoke(run) : Promise.all(waits).then(run);
    this.#joined(sinceBarrier);
    // Resolves once the command has finished and been forgotten, never rejects.
    const done: Promise<void> = result.then(
      (value) => (this.#leave(access, done, sinceBarrier), outcome?.fulfilled(value)),
      (error) => (this.#leave(access, done, sinceBarrier), outcome?.rejected(error)),
    );
    this.#record(access, done);
    return result;
  }

  #joined(sinceBarrier: Group): void {
    this.#sinceBarrier = sinceBarrier;
    sinceBarrier.join();
    this.#pending++;
  }

  /** What a command other than a read waits for. */
  #waitsFor(access: Access): Promise<void>[] {
    const waits: Promise<void>[] = [];
    if (this.#barrier !== undefined) waits.push(this.#barrier);
    switch (access.kind) {
      case "write": {
        const write = this.#lastWrites.get(access.key);
        if (write !== undefined) waits.push(write);
        const reads = this.#readGroup(access.key)?.drained();
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
      case "read":
      case "none":
        break;
    }
    return waits;
  }

  /**
   * A group counting down the unfinished reads of `key`; undefined when there are none.
   * Walks every unfinished read: a write is rare among piped commands, and the reads in
   * flight are bounded by the pipeline's window.
   */
  #readGroup(key: string): Group | undefined {
    let group: Group | undefined;
    for (let read = this.#oldestRead; read !== undefined; read = read.next) {
      if (read.key !== key) continue;
      group ??= new Group();
      group.join();
      if (read.groups === undefined) read.groups = [group];
      else read.groups.push(group);
    }
    return group;
  }

  /** Links a new unfinished read of `key` in as the newest. */
  #addRead(key: string): PendingRead {
    const read = new PendingRead(key, this.#newestRead);
    if (this.#newestRead === undefined) this.#oldestRead = read;
    else this.#newestRead.next = read;
    this.#newestRead = read;
    return read;
  }

  /** Keeps what commands after this one (not a read) wait for. */
  #record(access: Access, done: Promise<void>): void {
    switch (access.kind) {
      case "write":
        this.#lastWrites.set(access.key, done);
        this.#writes.add(done);
        break;
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

  /** Forgets a finished read: unlinks it, and counts it down in the groups of the writes waiting. */
  #leaveRead(read: PendingRead, sinceBarrier: Group): void {
    this.#pending--;
    sinceBarrier.leave();
    const { previous, next } = read;
    invariant(
      previous === undefined ? this.#oldestRead === read : previous.next === read,
      "a finished read is still linked",
    );
    if (previous === undefined) this.#oldestRead = next;
    else previous.next = next;
    if (next === undefined) this.#newestRead = previous;
    else next.previous = previous;
    if (read.groups !== undefined) { for (const group of read.groups) group.leave(); }
  }

  /** Forgets a finished command other than a read. */
  #leave(access: Access, done: Promise<void>, sinceBarrier: Group): void {
    this.#pending--;
    sinceBarrier.leave();
    if (access.kind === "write" && this.#lastWrites.get(access.key) === done) {
      this.#lastWrites.delete(access.key);
    }
    this.#writes.delete(done);
    this.#readAlls.delete(done);
    if (this.#barrier === done) this.#barrier = undefined;
  }
}

/** The promises given, without the undefined ones. */
function compact(...promises: (Promise<void> | undefined)[]): Promise<void>[] {
  return promises.filter((promise) => promise !== undefined);
}

function ignore(): void {}

function invoke<R>(run: () => Promise<R>): Promise<R> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

/** A started command, in input order, and how it ended once it has. */
class Slot<R> implements Outcome<R> {
  state: typeof PENDING | typeof FULFILLED | typeof REJECTED = PENDING;
  value: R | undefined;
  error: unknown;
  readonly #onSettled: (slot: Slot<R>) => void;

  /** @param onSettled told when the command has ended. */
  constructor(onSettled: (slot: Slot<R>) => void) {
    this.#onSettled = onSettled;
  }

  fulfilled(value: R): void {
    this.state = FULFILLED;
    this.value = value;
    this.#onSettled(this);
  }

  rejected(error: unknown): void {
    this.state = REJECTED;
    this.error = error;
    this.#onSettled(this);
  }
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
 * const lines = [["GET a", "GET b"], ["GET a"]]; // batches, as chunks of input complete them
 * await runPipelined(
 *   lines,
 *   (line) => ({ access: { kind: "read", key: line.slice(4) }, run: async () => `${line}: 1` }),
 *   (reply) => {
 *     console.log(reply); // in input order
 *     return true; // go on
 *   },
 *   { window: 64 },
 * );
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
  const run = new PipelinedRun(window, plan, emit, options.idle);
  const reader = run.read(source);
  // Awaited below once it has finished; until then a failure must not count as unhandled.
  reader.catch(ignore);
  try {
    await run.emitInOrder();
  } finally {
    run.stop();
  }
  // The reader has stopped or is blocked reading input nobody will answer; an error it hit is
  // still reported, once what came before it was emitted.
  if (run.readerDone) await reader;
}

/**
 * One {@link runPipelined} call: its reader side plans items into slots, at most `window`
 * ahead of the emitter side, which empties the slots in input order. Each side sleeps on a
 * promise the other resolves; nothing is allocated per command but its {@link Slot} (and
 * the scheduler's bookkeeping), as before this was a class.
 */
class PipelinedRun<T, R> {
  readonly #window: number;
  readonly #plan: (item: T) => Step<R> | undefined;
  readonly #emit: (result: R) => boolean;
  readonly #idle: (() => void) | undefined;
  readonly #scheduler = new AccessScheduler();
  readonly #slots: Slot<R>[] = [];
  /** Index in `#slots` of the first command not yet emitted. */
  #head = 0;
  #readerDone = false;
  #stopped = false;
  // Each resolves the promise its side waits on, and is dropped once called.
  #wakeEmitter: (() => void) | undefined;
  #wakeReader: (() => void) | undefined;
  /** Told as each command ends; the emitter waits only for the first unemitted one. */
  readonly #onSettled = (slot: Slot<R>): void => {
    if (this.#slots[this.#head] === slot) this.#signalEmitter();
  };

  constructor(
    window: number,
    plan: (item: T) => Step<R> | undefined,
    emit: (result: R) => boolean,
    idle: (() => void) | undefined,
  ) {
    this.#window = window;
    this.#plan = plan;
    this.#emit = emit;
    this.#idle = idle;
  }

  /** Whether the reader has ended: `source` is done, a `last` step came, or it was stopped. */
  get readerDone(): boolean {
    return this.#readerDone;
  }

  /** Plans and starts the items of `source` in order, waiting while the window is full. */
  async read(source: AsyncIterable<readonly T[]> | Iterable<readonly T[]>): Promise<void> {
    try {
      for await (const batch of source) {
        for (const item of batch) {
          // Leaving the loop (return) stops `source` too.
          if (this.#stopped) return;
          const step = this.#plan(item);
          if (step === undefined) continue;
          const slot = new Slot<R>(this.#onSettled);
          this.#slots.push(slot);
          this.#scheduler.schedule(step.access, step.run, slot);
          if (step.last) return;
          while (this.#slots.length - this.#head >= this.#window && !this.#stopped) {
            await new Promise<void>((resolve) => (this.#wakeReader = resolve));
          }
        }
      }
    } finally {
      this.#readerDone = true;
      this.#signalEmitter();
    }
  }

  /**
   * Emits each result in input order as soon as it and all before it are in; resolves
   * when the reader has ended and all is emitted, or `emit` returned false; rejects with
   * the error of a step that threw, in its turn.
   */
  async emitInOrder(): Promise<void> {
    while (true) {
      const slot = this.#slots[this.#head];
      if (slot !== undefined && slot.state !== PENDING) {
        // Results already in are emitted here and now, without an await each.
        if (slot.state === REJECTED) throw slot.error;
        this.#advance();
        if (!this.#emit(slot.value as R)) return;
      } else if (slot === undefined && this.#readerDone) {
        return;
      } else {
        this.#idle?.();
        // Woken when this slot settles (when there is none yet: the next one the reader
        // adds), or when the reader ends.
        await new Promise<void>((resolve) => (this.#wakeEmitter = resolve));
      }
    }
  }

  /** Stops the reader before its next item (and wakes it if the window held it). */
  stop(): void {
    this.#stopped = true;
    this.#signalReader();
  }

  /** Moves past the head slot, dropping emitted slots once a window of them piled up. */
  #advance(): void {
    this.#head++;
    if (this.#head >= this.#window) {
      this.#slots.splice(0, this.#head);
      this.#head = 0;
    }
    this.#signalReader();
  }

  #signalEmitter(): void {
    const wake = this.#wakeEmitter;
    this.#wakeEmitter = undefined;
    wake?.();
  }

  #signalReader(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = undefined;
    wake?.();
  }
}
