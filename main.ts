/**
 * The `kv` program: dispatches to the subcommands in `lib/cli/`.
 *
 * @example
 * ```sh
 * deno run --allow-read --allow-write main.ts gen -k keyFile.txt -n 15 -d 2 -l 15 -m 8
 * ```
 * @module
 */
import { runCli } from "./lib/cli/run.ts";

if (import.meta.main) Deno.exit(await runCli(Deno.args));
