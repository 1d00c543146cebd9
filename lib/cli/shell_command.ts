/**
 * Commands written for a user to paste into a shell: the flags a client command was given
 * that choose and reach the cluster (`-s FILE`, `--auth-file F` …), each word quoted when a
 * shell would not read it back as it is. What `kv keys`' next page and every repair advice
 * name (`kv repair -s servers.txt`), kept apart from lib/cli/oneshot.ts so that `kv bench`
 * and `kv http` need not load the one-shot commands to name a repair.
 *
 * @example
 * ```ts
 * import { repairCommandLine } from "./shell_command.ts";
 * repairCommandLine("my list", { "auth-file": "kv.auth" }); // "kv repair -s 'my list' --auth-file kv.auth"
 * ```
 * @module
 */
import { shellFlag, shellWord } from "../base/shell_word.ts";

export { shellWord };

/** The flags given that choose and reach the cluster, which the next page needs as well. */
export interface ClusterFlags {
  /** `-s`: the server file. */
  readonly servers?: string;
  /** `-k`: the replication factor. */
  readonly replicas?: string;
  /** `--timeout-ms`: how long a server may take to answer. */
  readonly "timeout-ms"?: string;
  /** `--auth-file`: the cluster's secret. */
  readonly "auth-file"?: string;
  /** `--tls-ca`: the CA the servers' certificates are checked against. */
  readonly "tls-ca"?: string;
}

/** Each of {@link ClusterFlags} as the next page's command writes it. */
export const CLUSTER_FLAGS = [
  ["servers", "-s"],
  ["replicas", "-k"],
  ["timeout-ms", "--timeout-ms"],
  ["auth-file", "--auth-file"],
  ["tls-ca", "--tls-ca"],
] as const;

/**
 * Each of `flags` that `given` holds, as a shell reads it back: `-s FILE`, `--auth-file F`.
 *
 * @example
 * ```ts
 * shellFlags({ servers: "s.txt", "tls-ca": "-ca.pem" }, CLUSTER_FLAGS); // ["-s s.txt", "--tls-ca=-ca.pem"]
 * ```
 */
export function shellFlags(
  given: ClusterFlags,
  flags: readonly (typeof CLUSTER_FLAGS)[number][],
): string[] {
  return flags.flatMap(([flag, written]) => {
    const value = given[flag];
    return value === undefined ? [] : [shellFlag(written, `--${flag}`, value)];
  });
}

/** The flags a `kv repair` of the cluster needs: its server file and credentials. */
const REPAIR_FLAGS = CLUSTER_FLAGS.filter(([flag]) =>
  flag === "servers" || flag === "auth-file" || flag === "tls-ca"
);

/**
 * The `kv repair` command over the server file `path`, with the `--auth-file` and `--tls-ca`
 * given, ready to paste into a shell: what SERVERS' advice names (formatAnswer's
 * `repairCommand`), so that it says the command that helps, not `kv repair -s FILE`.
 *
 * @example
 * ```ts
 * repairCommandLine("servers.txt", {}); // "kv repair -s servers.txt"
 * repairCommandLine("my list", { "auth-file": "kv.auth" }); // "kv repair -s 'my list' --auth-file kv.auth"
 * ```
 */
export function repairCommandLine(
  path: string,
  given: { readonly "auth-file"?: string; readonly "tls-ca"?: string },
): string {
  return ["kv repair", ...shellFlags({ ...given, servers: path }, REPAIR_FLAGS)].join(" ");
}
