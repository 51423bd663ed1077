/**
 * Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core, with a
 * fresh profile directory per launch. `chromiumPath()` is undefined when it is not installed, and the
 * tests skip saying so.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.RAYTS_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumPath(): string | undefined {
  return existsSync(CHROMIUM) ? CHROMIUM : undefined;
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser context on a fresh profile; `close()` ends the browser and removes the profile. */
export async function launchBrowser(opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'rayts-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1440, height: 900 },
    ignoreHTTPSErrors: opts.ignoreHTTPSErrors,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
