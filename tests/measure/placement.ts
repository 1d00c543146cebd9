/**
 * Where a measurement's processes run. One at a time, a wake-up across cores (an
 * interrupt to the other CPU: `pvm_irq_enable` on this virtual machine) costs several
 * times one on the same core, and the kernel's placement moves from run to run, so a
 * comparison of two programs one round trip at a time measures mostly where the kernel put
 * them. Pinning both programs' processes alike takes that noise out of the ratio.
 *
 * @example
 * ```ts
 * import { pinnedCommand, placementOf } from "./placement.ts";
 * const pinned = placementOf("same");
 * const [program, args] = pinnedCommand("redis-benchmark", ["-c", "1"], pinned.client);
 * ```
 * @module
 */

/** `free`: where the kernel puts them; `split`: server on CPU 0, client on CPU 1; `same`: both on CPU 0. */
export const PLACEMENTS = ["free", "split", "same"] as const;
/** One of {@link PLACEMENTS}. */
export type Placement = typeof PLACEMENTS[number];

/** The CPU each side is pinned to (none when free). */
export interface Pinned {
  readonly server?: string;
  readonly client?: string;
}

const PINNED: Record<Placement, Pinned> = {
  free: {},
  split: { server: "0", client: "1" },
  same: { server: "0", client: "0" },
};

/**
 * The CPUs of a placement named on the command line; throws naming the choices otherwise.
 *
 * @example
 * ```ts
 * import { placementOf } from "./placement.ts";
 * placementOf("split").server; // "0"
 * ```
 */
export function placementOf(name: string): Pinned & { readonly name: Placement } {
  const placement = PLACEMENTS.find((known) => known === name);
  if (placement === undefined) {
    throw new Error(`placement ${name}: one of ${PLACEMENTS.join(", ")}`);
  }
  return { name: placement, ...PINNED[placement] };
}

/**
 * `program args`, run under `taskset -c cpu` when a CPU is given.
 *
 * @example
 * ```ts
 * import { pinnedCommand } from "./placement.ts";
 * pinnedCommand("redis-benchmark", ["-q"], "0"); // ["taskset", ["-c", "0", "redis-benchmark", "-q"]]
 * ```
 */
export function pinnedCommand(
  program: string,
  args: string[],
  cpu: string | undefined,
): [string, string[]] {
  return cpu === undefined ? [program, args] : ["taskset", ["-c", cpu, program, ...args]];
}

/**
 * Pins a running process, every thread of it, to `cpu` (no-op when undefined).
 *
 * @example
 * ```ts
 * import { pinProcess } from "./placement.ts";
 * await pinProcess(Deno.pid, undefined);
 * ```
 */
export async function pinProcess(pid: number, cpu: string | undefined): Promise<void> {
  if (cpu === undefined) return;
  const result = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpu, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`taskset ${pid}: ${new TextDecoder().decode(result.stderr)}`);
  }
}
