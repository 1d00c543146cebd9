/**
 * The shape every `kv` subcommand module exports, so that `lib/cli/run.ts` can
 * dispatch to it and print its help. (Its one-line summary lives in run.ts's table,
 * which lists the commands without loading their modules.)
 *
 * @example
 * ```ts
 * export const pingCommand: Subcommand = {
 *   name: "ping",
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
  /** The full text of `kv <name> --help`. */
  readonly help: string;
  /**
   * Runs the subcommand with the arguments after its name and resolves to the
   * process exit code. User mistakes are thrown as `UserError`.
   */
  run(args: string[]): Promise<number>;
}
