import { generateChunks, type GeneratorOptions } from "../../lib/gen/generator.ts";
import { COMPAT_KEYS } from "../helpers/fixtures.ts";

/** Generates every chunk and throws the bytes away: the in-process hot path of `kv gen`. */
function drain(options: GeneratorOptions): number {
  let bytes = 0;
  for (const chunk of generateChunks(options)) bytes += chunk.bytes.length;
  return bytes;
}

Deno.bench("generate 100k records, -d 3 -l 8 -m 6 (the speed target's workload)", {
  baseline: true,
}, () => {
  drain({
    keys: COMPAT_KEYS,
    recordCount: 100_000,
    maxNesting: 3,
    maxStringLength: 8,
    maxKeysPerValue: 6,
    seed: 1,
  });
});

Deno.bench("generate 100k flat records, -d 0 -l 15 -m 12", () => {
  drain({
    keys: COMPAT_KEYS,
    recordCount: 100_000,
    maxNesting: 0,
    maxStringLength: 15,
    maxKeysPerValue: 12,
    seed: 1,
  });
});

Deno.bench("generate 20k records at the README's settings, -d 2 -l 15 -m 8", () => {
  drain({
    keys: COMPAT_KEYS,
    recordCount: 20_000,
    maxNesting: 2,
    maxStringLength: 15,
    maxKeysPerValue: 8,
    seed: 1,
  });
});
