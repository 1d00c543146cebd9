import { Placement } from "../../lib/broker/placement.ts";

const KEY_COUNT = 10_000;
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `person${i}`);

for (const serverCount of [4, 16, 64]) {
  const placement = new Placement(
    Array.from({ length: serverCount }, (_, i) => `127.0.0.1:${8000 + i}`),
  );
  Deno.bench(`placement: ${KEY_COUNT} keys, k=2 of ${serverCount} servers`, () => {
    for (const key of keys) placement.replicas(key, 2);
  });
}
