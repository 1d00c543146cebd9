/**
 * The web console's files (lib/http/console/): plain HTML, CSS and JavaScript
 * kept in the repository and served by `kv http` itself, so the console works
 * offline and from the compiled binary (`deno task compile` includes the
 * folder). They are read once, at the first request for them.
 *
 * @example
 * ```ts
 * import { consoleAsset } from "./assets.ts";
 * const asset = await consoleAsset("/"); // index.html, text/html
 * ```
 * @module
 */

/** One file of the console. */
export interface Asset {
  /** Its bytes. */
  readonly body: Uint8Array;
  /** Its `Content-Type`. */
  readonly type: string;
}

/** URL paths of the console, and the files and types behind them. */
const FILES: Readonly<Record<string, readonly [file: string, type: string]>> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/console.js": ["console.js", "text/javascript; charset=utf-8"],
  "/console.css": ["console.css", "text/css; charset=utf-8"],
};

/** The console's URL paths: files, which take any query parameter (a link may carry its own). */
export const CONSOLE_PATHS: ReadonlySet<string> = new Set(Object.keys(FILES));

const loaded = new Map<string, Promise<Asset>>();

/**
 * The console file served at `path`, or undefined when `path` is not one.
 *
 * @example
 * ```ts
 * (await consoleAsset("/console.js"))?.type; // "text/javascript; charset=utf-8"
 * ```
 */
export function consoleAsset(path: string): Promise<Asset> | undefined {
  const entry = FILES[path];
  if (entry === undefined) return undefined;
  let asset = loaded.get(path);
  if (asset === undefined) {
    const [file, type] = entry;
    asset = Deno.readFile(new URL(`./console/${file}`, import.meta.url)).then((body) => ({
      body,
      type,
    }));
    loaded.set(path, asset);
  }
  return asset;
}
