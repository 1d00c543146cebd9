/**
 * Debian's headless Chromium driven by puppeteer-core (which uses the browser
 * installed rather than downloading one), for the web console's tests and its
 * screenshot. `.ci/run` installs chromium when it is missing; where it cannot,
 * {@link CHROMIUM_PATH} is undefined and the tests that need it are ignored.
 *
 * The console's tests share one chromium ({@link chromiumTests}): a start of chromium
 * costs about 0.7 CPU-s more than a browser context in a running one, and the tests
 * ran eleven.
 *
 * @example
 * ```ts
 * await using browser = await launchChromium();
 * const page = await browser.page();
 * await page.goto("http://127.0.0.1:8080/");
 * ```
 * @module
 */
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";

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

/** A test of {@link chromiumTests}: given the chromium its pages open in. */
export type ChromiumTestFn = (chromium: HeadlessChromium) => Promise<void>;

/**
 * Declares one test `name` whose steps share one chromium, started before the first
 * and closed after the last; returns the function that adds a step (call it while the
 * module loads). Each step stays independent of the others: it opens its pages in a
 * browser context of its own ({@link HeadlessChromium.context}: its own cookies,
 * storage and cache, closed with it), starts its own servers, and runs whether or not
 * the steps before it passed. Where chromium is not installed the test is ignored,
 * saying why.
 *
 * @example
 * ```ts
 * const test = chromiumTests("the web console");
 * test("the web console shows the servers", async (chromium) => {
 *   await using browser = await chromium.context();
 *   const page = await browser.page();
 * });
 * ```
 */
export function chromiumTests(name: string): (step: string, fn: ChromiumTestFn) => void {
  const steps: { name: string; fn: ChromiumTestFn }[] = [];
  Deno.test({
    name: CHROMIUM_PATH === undefined ? `${name} (ignored: chromium is not installed)` : name,
    ignore: CHROMIUM_PATH === undefined,
    fn: async (t) => {
      await using chromium = await launchChromium();
      for (const step of steps) await t.step(step.name, () => step.fn(chromium));
    },
  });
  return (step, fn) => void steps.push({ name: step, fn });
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

  /**
   * A browser context of its own (an incognito window: no cookies, storage or cache
   * shared with another), whose pages {@link ChromiumContext.page} opens; closed on
   * dispose.
   */
  async context(): Promise<ChromiumContext> {
    return new ChromiumContext(await this.browser.createBrowserContext());
  }

  /** Closes chromium and removes its profile. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.browser.close();
    await Deno.remove(this.profile, { recursive: true });
  }
}

/** A browser context of a running chromium, from {@link HeadlessChromium.context}. */
export class ChromiumContext {
  constructor(readonly context: BrowserContext) {}

  /** A new page of `width`×`height` CSS pixels. */
  async page(width = 1400, height = 800): Promise<Page> {
    const page = await this.context.newPage();
    await page.setViewport({ width, height });
    return page;
  }

  /** Closes the context and its pages. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.context.close();
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
