/**
 * How a command stops cleanly on a signal instead of dying: the first of the signals it
 * watches is noted (and aborts a signal the command's work listens to), the exit code is
 * then the signal's (lib/cli/user_error.ts, SIGNAL_EXIT_CODES). kv broker and kv demo end
 * their REPL or load this way, kv gen its output.
 *
 * @example
 * ```ts
 * import { watchStopSignals } from "./stop_signals.ts";
 * const stop = watchStopSignals(["SIGINT", "SIGTERM"]);
 * stop.dispose();
 * ```
 * @module
 */
import type { StopSignal } from "./user_error.ts";

/** What {@link watchStopSignals} watches with. */
export interface StopWatch {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** The first signal that came, if any. */
  stoppedBy(): StopSignal | undefined;
  /** Stops watching: a signal after this acts as it would without a listener. */
  dispose(): void;
}

/**
 * Watches for `signals` until `dispose`: the first aborts `signal` (which ends a load, or
 * the REPL through runInteractive's `signal`), `stoppedBy` names it, and `onStop` hears it
 * at once; later ones are ignored. A signal this system lacks (Windows has no SIGTERM) is
 * not watched: it ends the process as it would have.
 *
 * @example
 * ```ts
 * const stop = watchStopSignals(["SIGINT", "SIGTERM"]);
 * try {
 *   await runInteractive(broker, { signal: stop.signal });
 * } finally {
 *   stop.dispose();
 * }
 * const stoppedBy = stop.stoppedBy(); // "SIGTERM" after `kill PID`
 * const code = stoppedBy === undefined ? 0 : SIGNAL_EXIT_CODES[stoppedBy]; // 143
 * ```
 */
export function watchStopSignals(
  signals: readonly StopSignal[],
  onStop?: (signal: StopSignal) => void,
): StopWatch {
  const stop = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const listening: [StopSignal, () => void][] = [];
  for (const signal of signals) {
    const handler = () => {
      if (stoppedBy !== undefined) return;
      stoppedBy = signal;
      stop.abort();
      onStop?.(signal);
    };
    try {
      Deno.addSignalListener(signal, handler);
      listening.push([signal, handler]);
    } catch {
      // Not a signal here: it ends the process as it would without a listener.
    }
  }
  return {
    signal: stop.signal,
    stoppedBy: () => stoppedBy,
    dispose: () => {
      for (const [signal, handler] of listening) Deno.removeSignalListener(signal, handler);
    },
  };
}
