import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { ARTIFACTS, openPages, type PageSession } from '../support/browser.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * `/book/{patientId}` in headless Chromium on a phone-sized screen: the person, the history, and the
 * episode with its diagnoses, results, drugs and papers, readable without sideways scrolling.
 */

describe.each(STORES)('the health-book page on $name', (store) => {
  let gw: TestGateway;
  let pages: PageSession;
  let browser: Browser;
  let base: string;
  let patientId: string;

  beforeAll(async () => {
    gw = await startGateway(store);
    const bundle = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', 'inpatient-stay.json'), 'utf8')) as Bundle;
    const r = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle));
    expect(r.status).toBe(200);
    const patientIndex = bundle.entry!.findIndex((e) => e.resource?.resourceType === 'Patient');
    patientId = (r.body as Bundle).entry![patientIndex].response!.location!.split('/')[1];
    pages = await openPages(gw.app);
    ({ base, browser } = pages);
  }, 60_000);
  afterAll(async () => {
    await pages?.close();
    await gw?.close();
  });

  it('shows the person, the history and the episode on a phone screen', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
    const response = await page.goto(`${base}/book/${patientId}`);
    expect(response?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Sổ sức khỏe điện tử');
    expect(await page.locator('header p').textContent()).toBe('Nguyễn Văn Bình — 1 đợt khám bệnh, chữa bệnh');
    const person = page.locator('section[data-section="hanh-chinh"]');
    expect(await person.locator('dd[data-field="NGAY_SINH"]').textContent()).toBe('03/02/1957');
    expect(await person.locator('dd[data-field="SO_DINH_DANH"]').textContent()).toBe('036057001839');
    expect(await page.locator('section[data-section="the-bhyt"] td[data-field="MA_THE_BHYT"]').textContent()).toBe('HT3101004417290');
    expect(await page.locator('section[data-section="di-ung"]').textContent()).toContain('Chưa ghi nhận dị ứng');

    const episode = page.locator('article[data-episode]');
    expect(await episode.count()).toBe(1);
    expect(await episode.locator('h2').textContent()).toBe('Bệnh viện Đa khoa tỉnh Lào Cai – 02/04/2025 19:35');
    expect(await episode.locator('dd[data-field="CHAN_DOAN"]').textContent()).toMatch(/^Viêm ruột thừa cấp \(K35\.8\); /);
    expect(await episode.locator('dd[data-field="NHOM_MAU"]').textContent()).toBe('O+');
    expect(await episode.locator('td[data-field="TEN_THUOC"]').allTextContents()).toEqual(['Cefuroxim 750mg', 'Natri clorid 0,9% 500ml']);
    expect(await episode.locator('td[data-field="TEN"]').allTextContents()).toEqual(['Phẫu thuật cắt ruột thừa nội soi']);

    // Papers open on a tap.
    const referral = episode.locator('details[data-paper="giay-chuyen-tuyen"]');
    expect(await referral.locator('dd[data-field="NOI_DUNG"]').isVisible()).toBe(false);
    await referral.locator('summary').click();
    expect(await referral.locator('dd[data-field="NOI_DUNG"]').isVisible()).toBe(true);
    expect(await episode.locator('details[data-paper] summary').allTextContents()).toEqual(['Giấy chuyển tuyến', 'Giấy hẹn khám lại', 'Giấy ra viện', 'Tóm tắt hồ sơ bệnh án']);

    // Nothing wider than the screen: wide tables scroll inside their box.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, `book-${store.name}.png`), fullPage: true });
    await page.close();
  });

  it('answers a page, not a stack trace, for a patient it does not know', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${base}/book/no-such-patient`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('main').textContent()).toContain('Không có sổ sức khỏe nào với mã này.');
    await page.close();
  });
});
