/**
 * Debian's headless Chromium driven by puppeteer-core (which uses the browser
 * installed rather than downloading one), for the web console's tests and its
 * screenshot. `.ci/run` installs chromium when it is missing; where it cannot,
 * {@link CHROMIUM_PATH} is undefined and the tests that need it are ignored.
 *
 * @example
 * ```ts
 * await using browser = await launchChromium();
 * const page = await browser.page();
 * await page.goto("http://127.0.0.1:8080/");
 * ```
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian puts chromium; `$CHROMIUM_PATH` overrides it. */
const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** Longest wait for chromium to start, in ms: generous for a loaded 2-core machine. */
const LAUNCH_TIMEOUT_MS = 60_000;

function findChromium(): string | undefined {
  const path = Deno.env.get("CHROMIUM_PATH") ?? DEFAULT_CHROMIUM;
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The chromium binary, or undefined when none is installed. */
export const CHROMIUM_PATH: string | undefined = findChromium();

/**
 * Declares the test `name`, run where chromium is installed; ignored, saying why, where it
 * is not.
 *
 * @example
 * ```ts
 * chromiumTest("the web console shows the servers", async () => {
 *   await using browser = await launchChromium();
 * });
 * ```
 */
export function chromiumTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: CHROMIUM_PATH === undefined ? `${name} (ignored: chromium is not installed)` : name,
    ignore: CHROMIUM_PATH === undefined,
    fn,
  });
}

/** A headless chromium with a fresh profile, removed on dispose. */
export class HeadlessChromium {
  private constructor(readonly browser: Browser, readonly profile: string) {}

  /** Starts chromium with the flags this sandbox needs (no network, no sandbox as root). */
  static async launch(): Promise<HeadlessChromium> {
    if (CHROMIUM_PATH === undefined) throw new Error("chromium is not installed");
    const profile = await Deno.makeTempDir({ prefix: "kv-chromium-" });
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH,
      timeout: LAUNCH_TIMEOUT_MS,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
      ],
    });
    return new HeadlessChromium(browser, profile);
  }

  /** A new page of `width`×`height` CSS pixels. */
  async page(width = 1400, height = 800): Promise<Page> {
    const page = await this.browser.newPage();
    await page.setViewport({ width, height });
    return page;
  }

  /** Closes chromium and removes its profile. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.browser.close();
    await Deno.remove(this.profile, { recursive: true });
  }
}

/**
 * Starts chromium; see {@link HeadlessChromium}.
 *
 * @example
 * ```ts
 * await using browser = await launchChromium();
 * ```
 */
export function launchChromium(): Promise<HeadlessChromium> {
  return HeadlessChromium.launch();
}
