import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAPPINGS_DIR, PROFILES_DIR } from '../../gateway/paths.js';
import { ARTIFACTS, openPages, type PageSession } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The mapping studio in headless Chromium, on a gateway in development mode pointed at a copy of
 * mappings/: a pasted Bundle gives XML1's rows, XML and book; an edit to XML1.json shows in the XML
 * without a restart; a broken edit keeps the last good version running and shows the error with
 * its file:line:column.
 */
const bundle = readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8');
const HO_TEN = `"%patient.name.first().select(iif(text.exists(), text, family.combine(given).join(' ')))"`;

describe.each(STORES)('the mapping studio on $name', (store) => {
  let gw: TestGateway;
  let pages: PageSession;
  let browser: Browser;
  let base: string;
  let dir: string;
  let xml1: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'studio-'));
    cpSync(MAPPINGS_DIR, join(dir, 'mappings'), { recursive: true });
    xml1 = join(dir, 'mappings', 'XML1.json');
    gw = await startGateway(store, {}, { GATEWAY_DEV_TOOLS: 'on', GATEWAY_MAPPINGS_DIR: join(dir, 'mappings') });
    pages = await openPages(gw.app);
    ({ base, browser } = pages);
  }, 60_000);
  afterAll(async () => {
    await pages?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits, in a tab of its own, until the studio says the watcher reloaded (`data-generation`) or failed to. */
  async function reloaded(until: (generation: number, error: boolean) => boolean): Promise<void> {
    const page = await browser.newPage();
    try {
      for (let i = 0; i < 50; i++) {
        await page.goto(`${base}/studio`);
        const generation = Number(await page.locator('[data-generation]').getAttribute('data-generation'));
        if (until(generation, (await page.locator('[data-reload-error]').count()) > 0)) return;
        await page.waitForTimeout(100);
      }
      throw new Error('the mapping folders were not reloaded');
    } finally {
      await page.close();
    }
  }

  /** Runs XML1: the first time with the Bundle uploaded, then with the Bundle the page gave back in its text area. */
  async function run(page: Page, upload = false): Promise<void> {
    if (upload) await page.locator('input[name="file"]').setInputFiles({ name: 'outpatient-visit.json', mimeType: 'application/fhir+json', buffer: Buffer.from(bundle) });
    await page.locator('select[name="table"]').selectOption('XML1');
    await page.locator('button[type="submit"]').click();
    await page.waitForLoadState();
  }

  it('shows rows, XML, issues and the book, and follows an edited mapping without a restart', { timeout: 120_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const response = await page.goto(`${base}/studio`);
    expect(response?.headers()['content-security-policy']).toMatch(/form-action 'self'/);
    expect(response?.headers()['content-security-policy']).not.toMatch(/script-src/);
    expect(await page.locator('[data-lint="clean"]').count()).toBe(1);

    await run(page, true);
    expect(JSON.parse(await page.locator('textarea[name="bundle"]').inputValue())).toEqual(JSON.parse(bundle));
    expect(await page.locator('[data-panel="xml"] pre').textContent()).toContain('<HO_TEN>Hoàng Thị Lan</HO_TEN>');
    expect(await page.locator('[data-panel="rows"] td[data-column="HO_TEN"]').textContent()).toBe('Hoàng Thị Lan');
    expect(await page.locator('[data-panel="book"] td[data-field="HO_TEN"]').first().textContent()).toBe('Hoàng Thị Lan');
    expect(await page.locator('[data-panel="issues"]').count()).toBe(1);

    // The author changes HO_TEN's FHIRPath: the next run shows it, the gateway still running.
    writeFileSync(xml1, readFileSync(xml1, 'utf8').replace(HO_TEN, `"%patient.name.first().text.upper()"`));
    await reloaded((generation) => generation >= 1);
    await run(page);
    expect(await page.locator('[data-panel="xml"] pre').textContent()).toContain('<HO_TEN>HOÀNG THỊ LAN</HO_TEN>');
    await page.screenshot({ path: join(ARTIFACTS, `studio-${store.name}.png`), fullPage: true });

    // A broken edit: the error is shown with its place, and the last good mapping keeps running.
    writeFileSync(xml1, readFileSync(xml1, 'utf8').replace(`"%patient.name.first().text.upper()"`, `"%patient.name.first(.text"`));
    await reloaded((_g, error) => error);
    await run(page);
    expect(await page.locator('[data-reload-error]').textContent()).toMatch(/XML1\.json/);
    expect(await page.locator('[data-lint="errors"]').textContent()).toMatch(/XML1\.json:31:\d+: error: FHIRPath syntax error/);
    expect(await page.locator('[data-panel="xml"] pre').textContent()).toContain('<HO_TEN>HOÀNG THỊ LAN</HO_TEN>');
    expect(gw.logs.some((l) => l.msg === 'a mapping file does not compile; the last good version keeps running')).toBe(true);
    await page.close();
  });

  it('says what is wrong with what was pasted', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/studio`);
    await page.locator('textarea[name="bundle"]').fill('{"resourceType": "Patient"}');
    await page.locator('button[type="submit"]').click();
    await page.waitForLoadState();
    expect(await page.locator('[data-panel="error"]').textContent()).toContain('Paste or upload a FHIR Bundle');
    await page.close();
  });
});
