import assert from "node:assert/strict";
import fc from "fast-check";
import { LATENCY_BUCKETS_SECONDS, Metrics } from "../../lib/http/metrics.ts";

/** The value of the line that starts with `name` in Prometheus text. */
function sample(text: string, name: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} in\n${text}`);
  return Number(line.slice(name.length + 1));
}

Deno.test("histogram buckets are cumulative and end at the count, for any latencies", () => {
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 10, noNaN: true })), (latencies) => {
    const metrics = new Metrics();
    for (const seconds of latencies) {
      metrics.started();
      metrics.observe("get", "ok", seconds);
    }
    metrics.started(); // the scrape itself
    const text = metrics.text({
      up: 1,
      down: 0,
      unrepaired: 0,
      readOnly: 0,
      readRepairs: 0,
      hintsWaiting: 0,
    });
    if (latencies.length === 0) return;
    let previous = 0;
    for (const bound of LATENCY_BUCKETS_SECONDS) {
      const cumulative = sample(
        text,
        `kv_http_request_duration_seconds_bucket{operation="get",le="${bound}"}`,
      );
      assert.equal(cumulative, latencies.filter((seconds) => seconds <= bound).length);
      assert.ok(cumulative >= previous);
      previous = cumulative;
    }
    const name = `kv_http_request_duration_seconds_bucket{operation="get",le="+Inf"}`;
    assert.equal(sample(text, name), latencies.length);
    assert.equal(
      sample(text, `kv_http_request_duration_seconds_count{operation="get"}`),
      latencies.length,
    );
    assert.equal(
      sample(text, `kv_http_requests_total{operation="get",outcome="ok"}`),
      latencies.length,
    );
    assert.equal(sample(text, "kv_http_requests_in_flight"), 0);
  }));
});

Deno.test("the cluster's state: servers up, down, unrepaired and read-only, read repairs, hints", () => {
  const metrics = new Metrics();
  metrics.started();
  const text = metrics.text({
    up: 3,
    down: 1,
    unrepaired: 2,
    readOnly: 1,
    readRepairs: 7,
    hintsWaiting: 5,
  });
  assert.equal(sample(text, `kv_servers{state="up"}`), 3);
  assert.equal(sample(text, `kv_servers{state="down"}`), 1);
  assert.equal(sample(text, `kv_servers{state="unrepaired"}`), 2);
  assert.equal(sample(text, `kv_servers{state="read_only"}`), 1);
  assert.equal(sample(text, "kv_read_repairs_total"), 7);
  assert.equal(sample(text, "kv_hints_waiting"), 5);
});

Deno.test("connections the guard closed are counted by reason, each reason shown from 0", () => {
  const metrics = new Metrics();
  metrics.started();
  const counts = { up: 1, down: 0, unrepaired: 0, readOnly: 0, readRepairs: 0, hintsWaiting: 0 };
  const before = metrics.text(counts);
  assert.equal(sample(before, `kv_http_connections_closed_total{reason="header_timeout"}`), 0);
  assert.equal(sample(before, `kv_http_connections_closed_total{reason="over_limit"}`), 0);
  metrics.connectionClosed("header_timeout");
  metrics.connectionClosed("header_timeout");
  metrics.connectionClosed("over_limit");
  const after = metrics.text(counts);
  assert.equal(sample(after, `kv_http_connections_closed_total{reason="header_timeout"}`), 2);
  assert.equal(sample(after, `kv_http_connections_closed_total{reason="over_limit"}`), 1);
});
