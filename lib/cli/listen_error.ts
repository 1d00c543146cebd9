/**
 * Why a command could not listen, as one line a person can act on: the reason in plain
 * words, not the OS's (`Cannot assign requested address (os error 99)`), and the flag to
 * change; and whether the address asked for keeps other machines out (a host name resolved
 * first). `kv server` and `kv http` share it, so a port in use or a host name that does not
 * exist reads the same from both.
 *
 * @example
 * ```ts
 * import { listenFailure } from "./listen_error.ts";
 * const flags = { port: "--listen port", address: "--listen" };
 * const error = listenFailure("kv http", "127.0.0.1:8080", flags, new Deno.errors.AddrInUse());
 * error.message; // "kv http: cannot listen on 127.0.0.1:8080: address already in use; pick another --listen port"
 * ```
 * @module
 */
import { describeError } from "../base/describe_error.ts";
import { isLoopback } from "../base/host_port.ts";
import { UserError } from "./user_error.ts";

/** The flags that name where a command listens: its port's and its address's. */
export interface ListenFlags {
  /** What names the port, to pick another when it is taken: `-p`, `--listen port`. */
  readonly port: string;
  /** What names the address, to check when this machine has none such: `-a`, `--listen`. */
  readonly address: string;
}

/**
 * The {@link UserError} for a listen on `where` that failed with `error`: a port in use,
 * an address this machine does not have, a host name no resolver knows, a port the user
 * may not bind, or else the error's own one-line description.
 *
 * @example
 * ```ts
 * const flags = { port: "-p", address: "-a" };
 * listenFailure("kv server", "10.0.0.5:8000", flags, new Deno.errors.AddrNotAvailable()).message;
 * // "kv server: cannot listen on 10.0.0.5:8000: address not available on this machine; check -a"
 * ```
 */
export function listenFailure(
  command: string,
  where: string,
  flags: ListenFlags,
  error: unknown,
): UserError {
  return new UserError(`${command}: cannot listen on ${where}: ${reason(flags, error)}`);
}

function reason(flags: ListenFlags, error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) {
    return `address already in use; pick another ${flags.port}`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `address not available on this machine; check ${flags.address}`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied; use a port above 1023";
  }
  // Deno's own refusal (run without --allow-net), not the system's: no port would do.
  if (error instanceof Deno.errors.NotCapable) {
    return "Deno does not let kv listen (no --allow-net for it); run kv with --allow-net, " +
      "as 'deno install' of kv does";
  }
  const message = describeError(error);
  // Deno gives a host name no resolver knows as a plain Error with getaddrinfo's words.
  if (message.startsWith("failed to lookup address information")) {
    return `no such host; check ${flags.address}`;
  }
  return message;
}

/**
 * Whether listening on `hostname` keeps other machines out: a loopback address, or a host
 * name this machine resolves to one. A name no resolver knows (or an IPv4 address with a
 * number over 255, which resolvers take for a name), or an address this machine does not
 * have, is a UserError saying so (`kv http: --listen example.invalid: no such host; …`),
 * for `command` and its `flag`: checked first, so that a mistyped address is not taken for
 * one that lets other machines in (which asks for credentials or --insecure, and then
 * failed all the same).
 *
 * @example
 * ```ts
 * await listensOnLoopback("kv http", "--listen", "127.0.0.1"); // true
 * await listensOnLoopback("kv server", "-a", "0.0.0.0"); // false
 * ```
 */
export async function listensOnLoopback(
  command: string,
  flag: string,
  hostname: string,
): Promise<boolean> {
  if (isLoopback(hostname)) return true;
  if (!IP_LITERAL.test(hostname)) {
    try {
      // Imported only for a name: importing node:dns at start cost every server ~8 ms of CPU.
      const { lookup } = await import("node:dns/promises");
      if (isLoopback((await lookup(hostname)).address)) return true;
    } catch {
      throw new UserError(
        `${command}: ${flag} ${hostname}: no such host; give an IP address or a host name ` +
          "this machine resolves",
      );
    }
  }
  checkOwnAddress(command, flag, hostname);
  return false;
}

/**
 * Refuses an address this machine does not have (`-a 192.0.2.1`, a neighbour's): a listen
 * on any free port of it (closed at once) fails so. Any other failure (Deno's leave to
 * listen narrowed to one port) is left to the command's own listen to report.
 */
function checkOwnAddress(command: string, flag: string, hostname: string): void {
  try {
    Deno.listen({ hostname, port: 0 }).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrNotAvailable)) return;
    throw new UserError(
      `${command}: ${flag} ${hostname}: this machine has no such address; give one of its ` +
        "own (ip address or ifconfig lists them)",
    );
  }
}

/** An IPv4 address (each number 0 to 255) or an IPv6 one as written: nothing to look up. */
const IP_LITERAL =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%A-Za-z]*)$/;
