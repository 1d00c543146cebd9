/**
 * A {@link ServerClient} for tests whose subject is not a timeout: its connect
 * and request timeouts are {@link TEST_CLIENT_TIMEOUT_MS}, not the client's
 * 1 s defaults, which a loaded 2-core machine can exceed (1000 pipelined PUTs
 * to an in-process server, a `kv server` process descheduled for a second).
 * Tests of the timeouts themselves connect with `ServerClient.connect` and
 * their own short values.
 *
 * @example
 * ```ts
 * import { connectClient } from "./client.ts";
 * const client = await connectClient({ hostname: "127.0.0.1", port: 8000 });
 * await client.ping();
 * await client.close();
 * ```
 * @module
 */
import { type ClientOptions, type ServerAddress, ServerClient } from "../../lib/protocol/client.ts";

/** Connect and request timeout of test clients, in ms: a hang still fails, a slow machine not. */
export const TEST_CLIENT_TIMEOUT_MS = 10_000;

/**
 * Connects to `address` with {@link TEST_CLIENT_TIMEOUT_MS} for connect and
 * requests unless `options` say otherwise.
 *
 * @example
 * ```ts
 * import { connectClient } from "./client.ts";
 * const client = await connectClient({ hostname: "127.0.0.1", port: 8000 }, { maxInFlight: 4 });
 * await client.close();
 * ```
 */
export function connectClient(
  address: ServerAddress,
  options: ClientOptions = {},
): Promise<ServerClient> {
  return ServerClient.connect(address, {
    connectTimeoutMs: TEST_CLIENT_TIMEOUT_MS,
    requestTimeoutMs: TEST_CLIENT_TIMEOUT_MS,
    ...options,
  });
}

/**
 * The k each of `servers` records (0: none), each asked over a connection of its own.
 *
 * @example
 * ```ts
 * await recordedKs(cluster.servers); // [2, 2, 2]
 * ```
 */
export async function recordedKs(
  servers: readonly { readonly address: ServerAddress }[],
): Promise<number[]> {
  return await Promise.all(
    servers.map((server) => withClient(server.address, (client) => client.state.k)),
  );
}

/**
 * What `act` makes of a client of `address` ({@link connectClient}), closed once it is done,
 * whether it succeeded or threw.
 *
 * @example
 * ```ts
 * await withClient({ hostname: "127.0.0.1", port: 8000 }, (client) => client.ping());
 * ```
 */
export async function withClient<T>(
  address: ServerAddress,
  act: (client: ServerClient) => T | Promise<T>,
): Promise<T> {
  const client = await connectClient(address);
  try {
    return await act(client);
  } finally {
    await client.close();
  }
}
