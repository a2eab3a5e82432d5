// Debian's chromium driven by playwright-core, for the tests of the pages nerveseg serves: a fresh
// headless profile, console errors and failed requests collected, and waiting on page expressions.
import fs from "node:fs";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { tempDir } from "./sample.js";

export const CHROMIUM = "/usr/bin/chromium";

/** The skip message where chromium is absent (false where the browser tests can run). */
export const needsChromium: string | false = fs.existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: the browser tests need Debian's chromium (apt-get install chromium, as scripts/install.sh does)`;

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and warnings, page errors and failed requests, in order. */
  problems: string[];
  /** A page expression's value. */
  js<T>(expr: string): Promise<T>;
  /**
   * Waits until a page expression is truthy. Not page.waitForFunction: it evaluates a string predicate
   * from the page's own timers, which a CSP without 'unsafe-eval' refuses; page.evaluate runs it through
   * the DevTools protocol, which the CSP does not govern.
   */
  until(expr: string, timeoutMs?: number): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const context = await chromium.launchPersistentContext(tempDir("nerveseg-chromium-"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const js = <T>(expr: string): Promise<T> => page.evaluate(expr) as Promise<T>;
  const until = async (expr: string, timeoutMs = 10_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      let last: unknown = "false";
      try {
        if (await js<boolean>(expr)) return;
      } catch (e) {
        last = e; // e.g. a context torn down by a navigation: try again
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${expr} (last: ${String(last)})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { context, page, problems, js, until };
}
