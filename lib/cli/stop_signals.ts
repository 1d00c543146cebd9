/**
 * How a command stops cleanly on a signal instead of dying: the first of the signals it
 * watches is noted (and aborts a signal the command's work listens to), the exit code is
 * then the signal's (lib/cli/user_error.ts, SIGNAL_EXIT_CODES). kv broker and kv demo end
 * their REPL or load this way, kv gen its output. kv server and kv http shut down on the
 * first SIGINT or SIGTERM ({@link untilSignal}); kv bench shares its grace for a repeat.
 * Here, not in server.ts, so that kv http and kv bench need not load the server's modules
 * (about 20 of them) to stop.
 *
 * @example
 * ```ts
 * import { watchStopSignals } from "./stop_signals.ts";
 * const stop = watchStopSignals(["SIGINT", "SIGTERM"]);
 * stop.dispose();
 * ```
 * @module
 */
import type { Logger } from "../base/logger.ts";
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
 * import { serverAddress } from "../broker/server_list.ts";
 * import { Broker } from "../broker/broker.ts";
 * import { runInteractive } from "../broker/repl.ts";
 * import { SIGNAL_EXIT_CODES } from "./user_error.ts";
 * const broker = await Broker.open([serverAddress("127.0.0.1", 8000)], { k: 1 });
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

/**
 * A repeat of the stop signal within this long of the first is the same stop: `deno task`
 * and the shell's process group both pass one Ctrl-C on, so the server gets it twice.
 */
export const REPEATED_SIGNAL_GRACE_MS = 1_000;

/**
 * Resolves on the first SIGINT or SIGTERM; one more, after the grace period, exits at
 * once, for a stuck shutdown. `kv http` stops the same way. Once a signal has come,
 * `dispose` leaves the listeners in place: the process is about to exit, and a repeat
 * arriving between a finished shutdown and the exit would otherwise take the default
 * action and end it with 130 instead of 0.
 *
 * @example
 * ```ts ignore
 * const logger = new Logger({ name: "kv server" });
 * const stop = untilSignal(logger);
 * try {
 *   const signal = await stop.signalled; // "SIGINT" after Ctrl-C, "SIGTERM" after kill
 *   logger.info(`${signal}: shutting down`);
 * } finally {
 *   stop.dispose();
 * }
 * ```
 */
export function untilSignal(logger: Logger): { signalled: Promise<string>; dispose(): void } {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  let receivedAt: number | undefined;
  let resolveSignal!: (signal: string) => void;
  const signalled = new Promise<string>((resolve) => resolveSignal = resolve);
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (receivedAt !== undefined) {
        if (performance.now() - receivedAt < REPEATED_SIGNAL_GRACE_MS) return;
        logger.warn(`${signal} again during shutdown; exiting without waiting`);
        Deno.exit(1);
      }
      receivedAt = performance.now();
      resolveSignal(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return {
    signalled,
    dispose: () => {
      if (receivedAt !== undefined) return;
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    },
  };
}
