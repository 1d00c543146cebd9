/**
 * `kv gen`: writes test records (placeholder until the generator lands).
 * @module
 */
import type { Subcommand } from "./subcommand.ts";

/** The `kv gen` subcommand. */
export const genCommand: Subcommand = {
  name: "gen",
  summary: "generate test records",
  help: "Usage: kv gen -k keyFile -n lines -d maxNesting -l maxStringLength -m maxKeysPerValue",
  run: () => Promise.resolve(0),
};
