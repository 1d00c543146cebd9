import assert from "node:assert/strict";
import { hostPort } from "../../lib/base/host_port.ts";

Deno.test("hostPort brackets an IPv6 host and leaves a name or an IPv4 address as it is", () => {
  assert.equal(hostPort("127.0.0.1", 8000), "127.0.0.1:8000");
  assert.equal(hostPort("localhost", 1), "localhost:1");
  assert.equal(hostPort("::1", 8000), "[::1]:8000");
  assert.equal(hostPort("fe80::1%eth0", 65535), "[fe80::1%eth0]:65535");
});
