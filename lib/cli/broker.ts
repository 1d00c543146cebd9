/**
 * `kv broker`: connects to the servers of a server file, optionally indexes a
 * data file into them with replication factor k, then answers GET, QUERY,
 * DELETE, PUT, KEYS and SERVERS commands from standard input (a REPL on a
 * terminal). See {@link brokerCommand}'s help text for every flag.
 *
 * @example
 * ```sh
 * kv broker -s serverFile.txt -i dataToIndex.txt -k 2
 * ```
 * @module
 */
import { Broker } from "../broker/broker.ts";
import { formatIndexSummary, indexFile, indexLines } from "../broker/indexer.ts";
import { readLines } from "../base/line_reader.ts";
import type { Dialect } from "../record/format.ts";
import { runInteractive, runSession } from "../broker/repl.ts";
import { MAX_SERVERS, readServerList, ServerFileError } from "../broker/server_list.ts";
import { DEFAULT_TIMEOUT_MS } from "../broker/server_pool.ts";
import { intFlag, parseFlags } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { UserError } from "./user_error.ts";

/** Longest `--timeout-ms` accepted: ten minutes. */
export const MAX_TIMEOUT_MS = 600_000;

/** Exit code of `--index-only` when some records could not be stored on all k replicas. */
export const INDEX_FAILED_EXIT_CODE = 1;

const DIALECTS: readonly Dialect[] = ["assignment", "python", "bare"];

/** The `-i` value that means standard input. */
const STDIN_PATH = "-";

const HELP = `Usage: kv broker -s serverFile [-i dataFile] [-k replicas] [flags]

Connects to the servers listed in serverFile, indexes dataFile into them (each
record on k servers), then answers commands from standard input: a REPL with
history and tab completion on a terminal, one answer per line otherwise.

Flags:
  -s, --servers FILE     servers, one per line: 'IP PORT' or 'HOST:PORT' ([::1]:8000);
                         blank lines and # comments are ignored (required)
  -i, --index FILE       record lines to index first (any dialect), from a file or a
                         pipe such as <(kv gen -o - ...), or '-' for standard input
                         (then no commands are read: it exits as --index-only does);
                         bad lines are reported on stderr and skipped; without -i the
                         broker serves what the servers already hold
  -k, --replicas N       replication factor, 1 to the number of servers (default 1)
      --timeout-ms MS    connect and request timeout per server; past it the server
                         counts as down and is reconnected in the background
                         (default ${DEFAULT_TIMEOUT_MS})
      --duplicate-keys MODE
                         a field name repeated in one object: 'error' skips the line
                         (default), 'last-wins' keeps the last value like Python dicts
      --json             answer each command with one JSON object on one line
      --dialect NAME     print records as assignment, python or bare (default: the
                         dialect of the indexed file's first record, else assignment)
      --index-only       index dataFile and exit without reading commands; exit code 0
                         when every record was stored, ${INDEX_FAILED_EXIT_CODE} when some were not, 2 when
                         lines were skipped
  -h, --help             show this help

Commands: GET key | QUERY key.field.field | DELETE key | PUT <record line> |
          KEYS [prefix [limit]] | SERVERS | HELP | EXIT   (case-insensitive)

Each record lives on the k servers that rendezvous hashing of its key picks
from the server list. With up to k-1 servers down (crashed or hung) every
GET and QUERY answers as with all servers up; beyond that the broker keeps
serving and marks answers it cannot guarantee with a warning. DELETE and PUT
refuse, changing nothing, unless all k replicas of the key are reachable.
Changing the server list moves where keys are looked for, but moves no data:
index the data again with -i after changing it.

Exit codes: 0 success, 1 internal error (or --index-only with failed records),
2 usage or input error, including fewer than k servers reachable with -i.`;

/** The `kv broker` subcommand. */
export const brokerCommand: Subcommand = {
  name: "broker",
  help: HELP,
  run: runBroker,
};

function log(message: string): void {
  console.error(`kv broker: ${message}`);
}

async function runBroker(args: string[]): Promise<number> {
  const { values } = parseFlags("broker", args, {
    servers: { type: "string", short: "s" },
    index: { type: "string", short: "i" },
    replicas: { type: "string", short: "k" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
    dialect: { type: "string" },
    "index-only": { type: "boolean" },
    "duplicate-keys": { type: "string" },
  });
  if (values.servers === undefined) {
    throw new UserError("kv broker: -s serverFile is required (see 'kv broker --help')");
  }
  const servers = await readServerList(values.servers).catch((error) => {
    throw error instanceof ServerFileError ? new UserError(`kv broker: ${error.message}`) : error;
  });
  const k = intFlag("broker", "-k", values.replicas, { min: 1, max: MAX_SERVERS, fallback: 1 });
  if (k > servers.length) {
    throw new UserError(
      `kv broker: -k ${k} needs at least ${k} servers, but ${values.servers} lists ${servers.length}`,
    );
  }
  const timeoutMs = intFlag("broker", "--timeout-ms", values["timeout-ms"], {
    min: 1,
    max: MAX_TIMEOUT_MS,
    fallback: DEFAULT_TIMEOUT_MS,
  });
  const dialectFlag = values.dialect;
  if (dialectFlag !== undefined && !DIALECTS.includes(dialectFlag as Dialect)) {
    throw new UserError(
      `kv broker: --dialect must be one of ${DIALECTS.join(", ")}, got '${dialectFlag}'`,
    );
  }
  const duplicateKeys = values["duplicate-keys"] ?? "error";
  if (duplicateKeys !== "error" && duplicateKeys !== "last-wins") {
    throw new UserError(
      `kv broker: --duplicate-keys must be 'error' or 'last-wins', got '${duplicateKeys}'`,
    );
  }
  const dataPath = values.index;
  if (values["index-only"] && dataPath === undefined) {
    throw new UserError("kv broker: --index-only needs -i dataFile");
  }
  // `-i -`: the records come on stdin, which then has no commands to give.
  const fromStdin = dataPath === STDIN_PATH;
  if (dataPath !== undefined && !fromStdin) await checkReadable(dataPath);

  const broker = await Broker.open(servers, { k, timeoutMs, log });
  try {
    const twins = broker.pool.twins();
    if (twins.length > 0) {
      throw new UserError(
        `kv broker: ${values.servers} lists one server twice (${twins.join("; ")}); ` +
          `keep one line per server`,
      );
    }
    const down = broker.pool.status().filter((state) => !state.up);
    for (const state of down) log(`server ${state.server.id} is unreachable: ${state.error}`);
    const upCount = servers.length - down.length;
    let dialect = dialectFlag as Dialect | undefined;
    let exitCode = 0;
    if (dataPath !== undefined) {
      if (upCount < k) {
        throw new UserError(
          `kv broker: only ${upCount} of ${servers.length} servers are reachable, fewer than ` +
            `k=${k}; nothing from ${dataPath} was indexed (start the servers and retry)`,
        );
      }
      const summary = fromStdin
        ? await indexLines(broker, Deno.stdin.readable, { fileName: "stdin", duplicateKeys })
        : await indexFile(broker, dataPath, { duplicateKeys });
      log(formatIndexSummary(summary));
      dialect ??= summary.dialect;
      if (summary.failedCount > 0) exitCode = INDEX_FAILED_EXIT_CODE;
      else if (summary.skippedCount > 0) exitCode = 2;
    } else if (upCount < k) {
      log(
        `only ${upCount} of ${servers.length} servers are reachable (k=${k}); some answers will carry warnings`,
      );
    }
    if (values["index-only"] || fromStdin) return exitCode;
    const options = { json: values.json ?? false, dialect: dialect ?? "assignment" };
    if (Deno.stdin.isTerminal()) {
      await runInteractive(broker, {
        ...options,
        color: Deno.stdout.isTerminal() && !Deno.noColor,
      });
    } else {
      await runSession(broker, readLines(Deno.stdin.readable), {
        ...options,
        color: !options.json && Deno.stdout.isTerminal() && !Deno.noColor,
      });
    }
    return 0;
  } finally {
    broker.close();
  }
}

async function checkReadable(path: string): Promise<void> {
  try {
    // A regular file, or a pipe or device to stream from (`-i <(kv gen -o - …)`).
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      throw new UserError(`kv broker: ${path} is a directory; -i takes a file of record lines`);
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserError(`kv broker: cannot read ${path}: ${reason}`);
  }
}
