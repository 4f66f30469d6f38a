import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type express from 'express';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../gateway/paths.js';

/** Where page tests leave their screenshots (ignored by git). */
export const ARTIFACTS = join(PROJECT_ROOT, 'test', '.artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export interface PageSession {
  /** `http://127.0.0.1:<port>`: the app on a real socket. */
  base: string;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * The gateway's app on a random loopback port and a headless Chromium to look at it: Debian's
 * chromium (CHROMIUM_PATH to use another), driven by playwright-core, never a downloaded browser.
 */
export async function openPages(app: express.Express): Promise<PageSession> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
