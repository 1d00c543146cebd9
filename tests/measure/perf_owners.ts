/**
 * Reads a `perf record -g` profile of a Deno process run with
 * `--v8-flags=--perf-basic-prof` and names what perf cannot: V8's builtins, which run
 * from the `deno` binary's embedded blob (stripped, so perf shows bare addresses there),
 * are named from the `Builtin:` entries V8 writes to /tmp/perf-PID.map for its copy of
 * that blob, once this script has found where the blob lies in the binary (it matches a
 * builtin's bytes, read from its own process, against the binary). Each sample is then
 * charged to its first JavaScript frame — the function whose work it was, builtins, V8's
 * runtime (C++), libc and the kernel below it included — or, with none on the stack, to
 * what it is (the kernel, Deno's event loop). With a function name, it lists the stacks
 * from that function's samples down to where they were taken instead: how one learns
 * that a line of JavaScript calls into V8's runtime (a `CEntry` builtin, then C++), as
 * storing an array's length does even when it does not change.
 *
 * A measurement tool, not a test (tests/measure/get_costs.ts makes such profiles):
 *
 * ```sh
 * deno run -A --v8-flags=--perf-basic-prof tests/measure/perf_owners.ts perf.data /tmp/perf-PID.map TID [FUNCTION]
 * ```
 *
 * It must itself run with `--perf-basic-prof`, to find the blob from its own map.
 * @module
 */

/** Rows printed. */
const TOP_ROWS = 40;

/** Bytes of a builtin compared against the binary to find the blob. */
const PROBE_BYTES = 64;

/** Which builtin of the map is the probe: one far enough in to be distinctive. */
const PROBE_INDEX = 500;

/** How long to wait for V8 to write this process's own map, and how often to look. */
const MAP_DEADLINE_MS = 5000;
const MAP_POLL_MS = 50;

/** A builtin's offset from the blob's start, its size and its name. */
type Builtin = [offset: number, size: number, name: string];

/** The `Builtin:` entries of a perf map, as offsets from the first (the blob's start). */
async function builtinsOf(mapPath: string): Promise<{ builtins: Builtin[]; base: number }> {
  const builtins: Builtin[] = [];
  let base = -1;
  for (const line of (await Deno.readTextFile(mapPath)).split("\n")) {
    if (!line.includes(" Builtin:")) continue;
    const [address, size, ...name] = line.split(" ");
    const at = parseInt(address, 16);
    if (base < 0) base = at;
    builtins.push([at - base, parseInt(size, 16), name.join(" ")]);
  }
  if (builtins.length === 0) throw new Error(`${mapPath} names no builtins: --perf-basic-prof?`);
  builtins.sort((a, b) => a[0] - b[0]);
  return { builtins, base };
}

/**
 * Where the embedded blob starts in the `deno` binary (a file offset, as perf reports
 * addresses in it): a builtin's bytes, read from this process's copy of the blob, are
 * looked for in the binary.
 */
async function blobOffset(): Promise<number> {
  const mapPath = `/tmp/perf-${Deno.pid}.map`;
  const deadline = performance.now() + MAP_DEADLINE_MS;
  while (!(await Deno.stat(mapPath).catch(() => undefined))) {
    if (performance.now() > deadline) throw new Error("run this script with --perf-basic-prof");
    await new Promise((resolve) => setTimeout(resolve, MAP_POLL_MS));
  }
  const { builtins, base } = await builtinsOf(mapPath);
  const [offset] = builtins[PROBE_INDEX];
  const probe = new Uint8Array(PROBE_BYTES);
  using memory = await Deno.open(`/proc/${Deno.pid}/mem`);
  await memory.seek(BigInt(base + offset), Deno.SeekMode.Start);
  if ((await memory.read(probe)) !== PROBE_BYTES) throw new Error("could not read the blob");
  const binary = await Deno.readFile(Deno.execPath());
  // Builtins are page-aligned as a blob: of several matches (similar builtins), the
  // one putting the blob's start on a page is it.
  for (let at = 0; at <= binary.length - PROBE_BYTES; at++) {
    let same = 0;
    while (same < PROBE_BYTES && binary[at + same] === probe[same]) same++;
    if (same === PROBE_BYTES && (at - offset) % 4096 === 0) return at - offset;
  }
  throw new Error("the blob was not found in the deno binary");
}

/** The name of builtin at `offset` from the blob's start, if one is there. */
function builtinAt(builtins: Builtin[], offset: number): string | undefined {
  let low = 0;
  let high = builtins.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (builtins[middle][0] <= offset) low = middle + 1;
    else high = middle - 1;
  }
  const found = builtins[high];
  return found !== undefined && offset < found[0] + found[1] ? found[2] : undefined;
}

const [dataPath, mapPath, tid, wanted] = Deno.args;
if (tid === undefined) {
  throw new Error("usage: perf_owners.ts perf.data /tmp/perf-PID.map TID [FUNCTION]");
}
const blob = await blobOffset();
const { builtins } = await builtinsOf(mapPath);
const script = await new Deno.Command("perf", {
  args: ["script", "-i", dataPath, "-F", "tid,ip,sym,dso"],
  stdout: "piped",
  stderr: "null",
}).output();
/** Each sample of thread `tid`: its frames' names, innermost first. */
const samples = new TextDecoder().decode(script.stdout).split("\n\n").flatMap((block) => {
  const lines = block.split("\n").filter((line) => line.trim() !== "");
  if (lines.length < 2 || lines[0].trim() !== tid) return [];
  return [
    lines.slice(1).flatMap((line) => {
      const match = /^\s*([0-9a-f]+) (.*) \((.*)\)$/.exec(line);
      if (!match) return [];
      const [, address, symbol, object] = match;
      if (object.endsWith("/deno")) {
        return [builtinAt(builtins, parseInt(address, 16) - blob) ?? "C++"];
      }
      // Line numbers dropped: V8's are those of the JavaScript Deno made of the TypeScript.
      if (object.includes("/perf-")) {
        return [symbol.replace(/ file:\/\/\S*?\/(lib|tests)\//, " $1/").replace(/:\d+:\d+$/, "")];
      }
      if (object.includes("kernel")) return [`[k] ${symbol}`];
      return [symbol];
    }),
  ];
});
const counts = new Map<string, number>();
for (const frames of samples) {
  const js = frames.findIndex((frame) => frame.startsWith("JS:"));
  let key: string;
  if (wanted !== undefined) {
    if (js < 0 || !frames[js].includes(wanted)) continue;
    key = frames.slice(0, js + 1).filter((frame, i, all) => frame !== all[i - 1]).join(" < ");
  } else if (js >= 0) key = frames[js];
  else {key = frames[0].startsWith("[k]")
      ? "(kernel, no JavaScript)"
      : "(Deno's runtime, no JavaScript)";}
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
console.log(`${samples.length} samples of thread ${tid}`);
for (const [key, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP_ROWS)) {
  console.log(`${(100 * count / samples.length).toFixed(1).padStart(5)}%  ${key}`);
}
