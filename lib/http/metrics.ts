/**
 * The HTTP server's counters, printed in Prometheus' text exposition format
 * (version 0.0.4) for `GET /metrics`:
 *
 * - `kv_http_requests_total{operation, outcome}`: requests answered, by
 *   operation (`get`, `query`, `put`, `delete`, `keys`, `servers`, …) and
 *   outcome (`ok`, `not_found`, `bad_request`, `unauthorized`, `unavailable`, `busy`,
 *   `client_closed`, `error`); `client_closed` is a read whose client hung up before its
 *   answer, or a PUT whose body never all came: neither the server's failure nor the cluster's;
 * - `kv_http_request_duration_seconds{operation}`: a latency histogram;
 * - `kv_http_requests_in_flight`: requests being answered now;
 * - `kv_servers{state}`: servers up and down, as the connection pool sees them,
 *   and of those up, how many are not yet repaired (they may lack acknowledged writes) and
 *   how many refuse writes (`read_only`: a full or failing disk, as the broker last heard
 *   from a write or its STATS each second; nothing is asked at scrape time);
 * - `kv_read_repairs_total`: read repairs started (replicas found disagreeing);
 * - `kv_hints_waiting`: (home server, partition) hints whose copies wait to move home;
 * - `kv_http_connections_closed_total{reason}`: connections the connection guard closed
 *   (`header_timeout`, `over_limit`; lib/http/connection_guard.ts).
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.observe("get", "ok", 0.0004);
 * metrics.text({ up: 3, down: 1, unrepaired: 0, readOnly: 0, readRepairs: 0,
 * hintsWaiting: 0 });
 * ```
 * @module
 */

import type { GuardClosure } from "./connection_guard.ts";

/** Every reason the guard closes a connection for, each printed even while 0. */
const GUARD_CLOSURES: readonly GuardClosure[] = ["header_timeout", "over_limit"];

/** Upper bounds of the latency histogram's buckets, in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** What one request did, as the `outcome` label says. */
export type Outcome =
  | "ok"
  | "not_found"
  | "bad_request"
  | "unauthorized"
  | "unavailable"
  | "busy"
  | "client_closed"
  | "error";

/** The cluster's state at scrape time, as the broker sees it. */
export interface ClusterCounts {
  /** Servers connected and answering. */
  up: number;
  /** Servers not reachable now. */
  down: number;
  /**
   * Servers up not trusted: they said at HELLO they may lack acknowledged writes, or were
   * repaired under another server list or k, until repaired under this one.
   */
  unrepaired: number;
  /**
   * Servers up that refuse writes (READ_ONLY: a full or failing disk; they serve reads), as
   * the last write or STATS answered on their connection said (`ServerPool.refusesWrites`).
   */
  readOnly: number;
  /** Read repairs started since the broker opened. */
  readRepairs: number;
  /** (home server, partition) hints waiting for their server. */
  hintsWaiting: number;
}

interface Histogram {
  /** Per bucket, not cumulative; the last slot counts what is above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Request counters and latency histograms.
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * metrics.observe("put", "unavailable", 0.002);
 * ```
 */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #closures = new Map<GuardClosure, number>(GUARD_CLOSURES.map((why) => [why, 0]));
  #inFlight = 0;

  /**
   * Counts a connection the connection guard closed, and why.
   *
   * @example
   * ```ts
   * const metrics = new Metrics();
   * metrics.connectionClosed("header_timeout");
   * ```
   */
  connectionClosed(why: GuardClosure): void {
    this.#closures.set(why, this.#closures.get(why)! + 1);
  }

  /**
   * Counts a request that started; pair with {@link Metrics.observe}.
   *
   * @example
   * ```ts
   * const metrics = new Metrics();
   * metrics.started(); // a request comes in
   * metrics.observe("get", "ok", 0.0004); // and is answered in 0.4 ms
   * ```
   */
  started(): void {
    this.#inFlight++;
  }

  /**
   * Counts a finished request of `operation` that took `seconds`; pair with
   * {@link Metrics.started}.
   *
   * @example
   * ```ts
   * const metrics = new Metrics();
   * metrics.started();
   * metrics.observe("put", "ok", 0.003); // kv_http_requests_total{operation="put",outcome="ok"} 1
   * ```
   */
  observe(operation: string, outcome: Outcome, seconds: number): void {
    this.#inFlight--;
    const key = `${operation}\u0000${outcome}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let histogram = this.#latency.get(operation);
    if (histogram === undefined) {
      histogram = {
        counts: new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#latency.set(operation, histogram);
    }
    let bucket = LATENCY_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
    if (bucket === -1) bucket = LATENCY_BUCKETS_SECONDS.length;
    histogram.counts[bucket]++;
    histogram.sum += seconds;
    histogram.count++;
  }

  /**
   * Everything in Prometheus' text format, with the cluster's state.
   *
   * @example
   * ```ts
   * const metrics = new Metrics();
   * metrics.started();
   * metrics.observe("get", "ok", 0.0004);
   * metrics.started(); // the scrape itself: GET /metrics
   * const text = metrics.text({
   *   up: 3,
   *   down: 1,
   *   unrepaired: 0,
   *   readOnly: 0,
   *   readRepairs: 0,
   *   hintsWaiting: 0,
   * });
   * text.includes('kv_http_requests_total{operation="get",outcome="ok"} 1'); // true
   * text.includes("kv_http_requests_in_flight 0\n"); // true: the scrape does not count itself
   * ```
   */
  text(cluster: ClusterCounts): string {
    const lines = [
      "# HELP kv_http_requests_total HTTP requests answered, by operation and outcome.",
      "# TYPE kv_http_requests_total counter",
    ];
    for (const [key, count] of [...this.#requests].sort()) {
      const [operation, outcome] = key.split("\u0000");
      lines.push(`kv_http_requests_total{operation="${operation}",outcome="${outcome}"} ${count}`);
    }
    lines.push(
      "# HELP kv_http_request_duration_seconds Time to answer an HTTP request.",
      "# TYPE kv_http_request_duration_seconds histogram",
    );
    for (const [operation, histogram] of [...this.#latency].sort()) {
      let cumulative = 0;
      LATENCY_BUCKETS_SECONDS.forEach((bound, index) => {
        cumulative += histogram.counts[index];
        lines.push(
          `kv_http_request_duration_seconds_bucket{operation="${operation}",le="${bound}"} ${cumulative}`,
        );
      });
      lines.push(
        `kv_http_request_duration_seconds_bucket{operation="${operation}",le="+Inf"} ${histogram.count}`,
        `kv_http_request_duration_seconds_sum{operation="${operation}"} ${histogram.sum}`,
        `kv_http_request_duration_seconds_count{operation="${operation}"} ${histogram.count}`,
      );
    }
    lines.push(
      "# HELP kv_http_requests_in_flight HTTP requests being answered.",
      "# TYPE kv_http_requests_in_flight gauge",
      // This scrape is itself in flight and not counted.
      `kv_http_requests_in_flight ${this.#inFlight - 1}`,
      "# HELP kv_servers Servers in the server list, by state.",
      "# TYPE kv_servers gauge",
      `kv_servers{state="up"} ${cluster.up}`,
      `kv_servers{state="down"} ${cluster.down}`,
      `kv_servers{state="unrepaired"} ${cluster.unrepaired}`,
      `kv_servers{state="read_only"} ${cluster.readOnly}`,
      "# HELP kv_read_repairs_total Read repairs started: replicas found disagreeing on a read.",
      "# TYPE kv_read_repairs_total counter",
      `kv_read_repairs_total ${cluster.readRepairs}`,
      "# HELP kv_hints_waiting Hinted partitions waiting for their home server.",
      "# TYPE kv_hints_waiting gauge",
      `kv_hints_waiting ${cluster.hintsWaiting}`,
      "# HELP kv_http_connections_closed_total Connections the connection guard closed, by reason.",
      "# TYPE kv_http_connections_closed_total counter",
      ...GUARD_CLOSURES.map((why) =>
        `kv_http_connections_closed_total{reason="${why}"} ${this.#closures.get(why)}`
      ),
    );
    return lines.join("\n") + "\n";
  }
}
