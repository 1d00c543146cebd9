/**
 * Write versions for tests that talk to a server or build frames directly, as a broker
 * would stamp them: every call is newer than the one before, across the whole process.
 *
 * @example
 * ```ts
 * import { at } from "./versions.ts";
 * await client.put("person1", str("Mary"), at());
 * await client.put("person1", str("Ann"), at({ overwrite: false })); // { kind: "exists" }
 * ```
 * @module
 */
import { HybridClock } from "../../lib/broker/clock.ts";
import type { WriteOptions } from "../../lib/protocol/mod.ts";
import type { Version } from "../../lib/record/version.ts";

/** The clock of every test write: broker id 1. */
const clock = new HybridClock({ broker: 1 });

/** A version newer than every version this function returned before. */
export function nextVersion(): Version {
  return clock.next();
}

/** Write options at a fresh version, with `options` added (overwrite, repair). */
export function at(options: Omit<WriteOptions, "version"> = {}): WriteOptions {
  return { ...options, version: nextVersion() };
}

/** An answer without its version, to compare with what a test expects whatever the clock said. */
export function withoutVersion<T extends object>(answer: T): Omit<T, "version"> {
  const { version: _, ...rest } = answer as T & { version?: unknown };
  return rest;
}
