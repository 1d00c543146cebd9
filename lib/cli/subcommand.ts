/**
 * The shape every `kv` subcommand module exports, so that `lib/cli/run.ts` can
 * list, document and dispatch them from one table.
 *
 * @example
 * ```ts
 * export const pingCommand: Subcommand = {
 *   name: "ping",
 *   summary: "print pong",
 *   help: "Usage: kv ping",
 *   run: () => { console.log("pong"); return Promise.resolve(0); },
 * };
 * ```
 * @module
 */

/** One subcommand of `kv`. */
export interface Subcommand {
  /** The word after `kv` that selects it. */
  readonly name: string;
  /** One line for `kv --help`. */
  readonly summary: string;
  /** The full text of `kv <name> --help`. */
  readonly help: string;
  /**
   * Runs the subcommand with the arguments after its name and resolves to the
   * process exit code. User mistakes are thrown as `UserError`.
   */
  run(args: string[]): Promise<number>;
}
