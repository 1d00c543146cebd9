/**
 * Every wait in the tests has a deadline. A regression that would make a test
 * wait forever (a process that never prints, a server that never answers, a
 * condition that never holds) fails it instead, with an error naming what it
 * waited for, rather than hanging the suite until CI gives up.
 *
 * - {@link waitFor} polls a condition until it holds (in place of sleeping).
 * - {@link withDeadline} bounds one promise (a read, a process's exit).
 * - {@link outputWithin} collects a child process's output, killing it when
 *   it does not exit in time.
 * - {@link nextTurn} lets one turn of the event loop pass: no wait for a condition, but
 *   for what is already queued (timers due, I/O ready) to run.
 *
 * The deadlines are generous ({@link DEFAULT_DEADLINE_MS}): they are there to
 * turn a hang into a failure on a loaded machine, never to check timings.
 *
 * @example
 * ```ts
 * import { outputWithin, waitFor, withDeadline } from "./wait.ts";
 * let ready = false;
 * setTimeout(() => ready = true, 10);
 * await waitFor(() => ready, { what: "ready to be set" });
 * const text = await withDeadline(Promise.resolve("line"), { what: "a line" });
 * const child = new Deno.Command("true", { stdout: "piped", stderr: "piped" }).spawn();
 * const { code } = await outputWithin(child, { what: "true to exit" });
 * ```
 * @module
 */

/**
 * How long a test waits for anything by default, in ms: far longer than any
 * wait takes on a loaded 2-core machine, far shorter than CI's time limit.
 */
export const DEFAULT_DEADLINE_MS = 30_000;

/** How often {@link waitFor} checks its condition by default, in ms. */
export const DEFAULT_POLL_INTERVAL_MS = 10;

/**
 * The error when a deadline passes; its message names what was awaited, and
 * its cause is the error of the `onTimeout` clean-up, if that failed.
 */
export class DeadlineError extends Error {
  constructor(what: string, timeoutMs: number, cause?: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause });
    this.name = "DeadlineError";
  }
}

/** What {@link withDeadline} needs. */
export interface DeadlineOptions {
  /** What is awaited, for the error: "the broker's answer to GET person1". */
  what: string;
  /** The deadline, in ms from the call; default {@link DEFAULT_DEADLINE_MS}. */
  timeoutMs?: number;
  /**
   * Called once when the deadline passes, before the error is thrown: close
   * or kill what `promise` waits on so nothing is left running. Default none.
   */
  onTimeout?: () => void;
}

/**
 * Resolves as `promise` does, or rejects with a {@link DeadlineError} when it
 * has not settled within the deadline. The timer is cleared either way.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./wait.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * const buffer = new Uint8Array(16);
 * await withDeadline(conn.read(buffer), { what: "the server's reply", onTimeout: () => conn.close() });
 * ```
 */
export async function withDeadline<T>(promise: Promise<T>, options: DeadlineOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DEADLINE_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      let cleanupError: unknown;
      try {
        options.onTimeout?.();
      } catch (error) {
        cleanupError = error;
      }
      reject(new DeadlineError(options.what, timeoutMs, cleanupError));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What {@link waitFor} needs. */
export interface WaitOptions {
  /** The condition in words, for the error: "server 2 to be up". */
  what: string;
  /** The deadline, in ms from the call; default {@link DEFAULT_DEADLINE_MS}. */
  timeoutMs?: number;
  /** Pause between checks, in ms; default {@link DEFAULT_POLL_INTERVAL_MS}. */
  intervalMs?: number;
}

/**
 * Checks `condition` (which may be async, e.g. ask a server) until it is true;
 * throws a {@link DeadlineError} when it is still false at the deadline. Each
 * check is itself bounded by what is left of the deadline.
 *
 * @example
 * ```ts
 * import { waitFor } from "./wait.ts";
 * const started = performance.now();
 * await waitFor(() => performance.now() - started > 20, { what: "20 ms to pass" });
 * ```
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DEADLINE_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const left = deadline - performance.now();
    if (left <= 0) throw new DeadlineError(options.what, timeoutMs);
    const check = Promise.resolve().then(condition);
    if (await withDeadline(check, { what: options.what, timeoutMs: left })) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves on a later turn of the event loop, after the timers already due and a poll for
 * I/O (a timer's turn does; a run of `setImmediate` callbacks may not).
 *
 * @example
 * ```ts
 * import { nextTurn } from "./wait.ts";
 * let ran = false;
 * setTimeout(() => ran = true, 0);
 * await nextTurn(); // ran is true
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The output of a spawned child (its stdout and stderr must be piped or
 * null), or a {@link DeadlineError} after killing it (SIGKILL) when it has not
 * exited within the deadline.
 *
 * @example
 * ```ts
 * import { outputWithin } from "./wait.ts";
 * const child = new Deno.Command("echo", { args: ["hi"], stdout: "piped" }).spawn();
 * const { stdout } = await outputWithin(child, { what: "echo to exit" });
 * ```
 */
export function outputWithin(
  child: Deno.ChildProcess,
  options: Omit<DeadlineOptions, "onTimeout">,
): Promise<Deno.CommandOutput> {
  return withDeadline(child.output(), {
    ...options,
    onTimeout: () => child.kill("SIGKILL"),
  });
}
