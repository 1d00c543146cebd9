/**
 * An AbortSignal that counts its listeners, for tests that a call's listener is removed as
 * it settles: EventTarget has no way to ask how many it holds.
 *
 * @example
 * ```ts
 * import { countedSignal } from "./abort_signals.ts";
 * const { signal, live } = countedSignal(new AbortController());
 * signal.addEventListener("abort", () => {});
 * live(); // 1
 * ```
 * @module
 */

/**
 * `controller`'s signal, its add/removeEventListener wrapped to count the listeners added and
 * not yet removed (nor, for a `once` listener, run); `live()` is that count.
 *
 * @example
 * ```ts
 * const { signal, live } = countedSignal(new AbortController());
 * const listener = () => {};
 * signal.addEventListener("abort", listener, { once: true });
 * signal.removeEventListener("abort", listener);
 * live(); // 0
 * ```
 */
export function countedSignal(
  controller: AbortController,
): { signal: AbortSignal; live: () => number } {
  const { signal } = controller;
  const listeners = new Set<unknown>();
  /** Each `once` listener's wrapper, which the signal holds in its place. */
  const wrapped = new Map<unknown, EventListener>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (type: string, listener: EventListener, options?: unknown) => {
    const once = (options as AddEventListenerOptions | undefined)?.once === true;
    // A `once` listener is gone once it ran: count it out then.
    const counted: EventListener = once
      ? (event) => (listeners.delete(listener), listener(event))
      : listener;
    listeners.add(listener);
    add(type, counted, options as AddEventListenerOptions);
    if (once) wrapped.set(listener, counted);
  };
  signal.removeEventListener = (type: string, listener: EventListener, options?: unknown) => {
    listeners.delete(listener);
    remove(type, wrapped.get(listener) ?? listener, options as EventListenerOptions);
    wrapped.delete(listener);
  };
  return { signal, live: () => listeners.size };
}
