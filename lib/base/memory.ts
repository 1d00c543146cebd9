/**
 * Giving memory back after a burst. V8 collects garbage when JavaScript allocates, so a
 * server that goes quiet after a burst of large buffers (an attack, a bulk load that
 * ended) keeps their pages in its RSS indefinitely. {@link collectGarbageSoon} asks for
 * one full collection shortly after, at most once per {@link MIN_COLLECTION_INTERVAL_MS}.
 *
 * V8 exposes `gc` only with `--expose-gc`; the flag is set at run time through
 * `node:v8`, so no command line needs it. `node:v8` and `node:vm` are loaded on the first
 * collection, not with this module: loading them costs every `kv server` start about 23 ms
 * of CPU and 1.8 MB of touched pages (0.15 s against 0.13 s of CPU for a process that loads
 * the server's other `node:` modules), and most servers never collect.
 *
 * @example
 * ```ts
 * import { collectGarbageSoon } from "./memory.ts";
 * const connection = await Deno.connect({ port: 7000 });
 * connection.close();
 * collectGarbageSoon(); // its buffers' pages go back to the system within a second
 * ```
 * @module
 */
/** Fewest milliseconds between two collections asked for: a full GC costs milliseconds. */
export const MIN_COLLECTION_INTERVAL_MS = 1_000;

let collect: (() => void) | undefined;
let scheduled: ReturnType<typeof setTimeout> | undefined;
let lastCollectionAt = -Infinity;

async function collector(): Promise<() => void> {
  if (collect === undefined) {
    const [{ default: v8 }, { default: vm }] = await Promise.all([
      import("node:v8"),
      import("node:vm"),
    ]);
    v8.setFlagsFromString("--expose-gc");
    collect = vm.runInNewContext("gc") as () => void;
  }
  return collect;
}

/**
 * Schedules one full garbage collection within {@link MIN_COLLECTION_INTERVAL_MS}, unless
 * one is scheduled already. The timer never keeps the process alive.
 *
 * @example
 * ```ts
 * collectGarbageSoon();
 * collectGarbageSoon(); // the same collection
 * ```
 */
export function collectGarbageSoon(): void {
  if (scheduled !== undefined) return;
  const delay = Math.max(0, lastCollectionAt + MIN_COLLECTION_INTERVAL_MS - performance.now());
  scheduled = setTimeout(async () => {
    scheduled = undefined;
    lastCollectionAt = performance.now();
    (await collector())();
  }, delay);
  Deno.unrefTimer(scheduled);
}
