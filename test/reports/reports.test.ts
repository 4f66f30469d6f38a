import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Measure, MeasureReport, MeasureReportGroup, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportEngine } from '../../gateway/outputs/reports/evaluate.js';
import { exportReport } from '../../gateway/outputs/reports/export.js';
import { simulateMonth, writeSimulation, type Simulation, type SimulatedEpisode } from '../../gateway/tools/month-simulation.js';
import { ARTIFACTS, openPages } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { careType, count, deadline, hoursPercentile, localDay, month, payer, rejectionReasons, type Counts } from './expected.js';

/**
 * The rollout reports over a simulated month of six facilities (one of them silent in the month):
 * every figure compared with counts made independently from the simulation's plain facts
 * (expected.ts), through the FHIR operation, the CSV, the dashboard in Chromium and the CLI's files.
 */
const dir = mkdtempSync(join(tmpdir(), 'gw-reports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POP: Record<keyof Counts, string> = {
  received: 'initial-population', built: 'da-tao', invalid: 'khong-hop-le', signed: 'da-ky', sent: 'da-gui',
  accepted: 'da-tiep-nhan', rejected: 'bi-tu-choi', pending: 'dang-cho', notBuilt: 'chua-tao',
};
const code = (c: { coding?: { code?: string }[]; text?: string } | undefined) => c?.coding?.[0]?.code ?? c?.text;
const countsOf = (g: { population?: MeasureReportGroup['population'] }): Counts =>
  Object.fromEntries(Object.entries(POP).map(([k, p]) => [k, g.population?.find((x) => code(x.code) === p)?.count ?? -1])) as unknown as Counts;
const pop = (g: { population?: MeasureReportGroup['population'] } | undefined, c: string) => g?.population?.find((x) => code(x.code) === c)?.count;
const stratifier = (g: MeasureReportGroup, c: string) => g.stratifier!.find((s) => code(s.code![0]) === c)!;

describe.each(STORES)('rollout reports on $name', (store) => {
  let gw: TestGateway;
  let sim: Simulation;
  let inPeriod: SimulatedEpisode[];
  const orgOf = (code: string) => `Organization/${sim.facilities.find((f) => f.code === code)!.organizationId}`;
  const evaluate = async (measure: string, query: string) => {
    const r = await gw.http.get(`/fhir/Measure/${measure}/$evaluate-measure?periodStart=2025-03-01&periodEnd=2025-03-31${query}`);
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    return r.body as MeasureReport;
  };

  beforeAll(async () => {
    gw = await startGateway(store);
    sim = simulateMonth({ seed: 11, month: '2025-03', episodes: 1500, now: new Date('2025-04-02T01:00:00Z') });
    await writeSimulation(gw.db, sim);
    inPeriod = month(sim);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('counts what the simulation holds: episodes and claim files, per facility × form of care × BHYT', async () => {
    // The simulation must exercise every case, or the comparison proves little.
    const all = count(inPeriod);
    expect(all.received).toBe(1500);
    for (const k of ['invalid', 'pending', 'rejected', 'notBuilt'] as const) expect(all[k]).toBeGreaterThan(10);
    expect(sim.episodes.length).toBeGreaterThan(1500);

    const report = await evaluate('lien-thong-ho-so', '');
    const group = report.group![0];
    expect(countsOf(group)).toEqual(all);

    const cells = stratifier(group, 'co-so-hinh-thuc-doi-tuong').stratum!;
    const expectedCells = new Map<string, SimulatedEpisode[]>();
    for (const e of inPeriod) {
      const key = [orgOf(e.facility), careType(e), payer(e)].join('|');
      expectedCells.set(key, [...(expectedCells.get(key) ?? []), e]);
    }
    expect(cells).toHaveLength(expectedCells.size);
    for (const cell of cells) {
      const key = cell.component!.map((c) => c.value.text).join('|');
      expect(countsOf(cell), key).toEqual(count(expectedCells.get(key) ?? []));
    }
    const careTypes = new Set(stratifier(group, 'hinh-thuc-kcb').stratum!.map((s) => s.value!.text));
    expect([...careTypes].sort()).toEqual(['kham-benh', 'khac', 'ngoai-tru', 'nhan-thuoc-hen', 'noi-tru', 'noi-tru-ban-ngay', 'tu-xa'].sort());
    for (const s of stratifier(group, 'doi-tuong').stratum!) expect(countsOf(s)).toEqual(count(inPeriod.filter((e) => payer(e) === s.value!.text)));
  });

  it('names the rejection reasons and the facilities without data, and counts files sent per day', async () => {
    const group = (await evaluate('lien-thong-ho-so', '')).group![0];
    const reasons = new Map(stratifier(group, 'ly-do-tu-choi').stratum!.filter((s) => s.value?.text).map((s) => [s.value!.text!, pop(s, 'bi-tu-choi')!]));
    for (const [k, v] of [...reasons]) if (v === 0) reasons.delete(k);
    expect(reasons).toEqual(rejectionReasons(inPeriod));

    const facilities = stratifier(group, 'co-so').stratum!;
    expect(facilities.map((s) => s.value!.text).sort()).toEqual(sim.facilities.map((f) => `Organization/${f.organizationId}`).sort());
    const quiet = sim.facilities.find((f) => f.quiet)!;
    expect(pop(facilities.find((s) => s.value!.text === `Organization/${quiet.organizationId}`), 'initial-population')).toBe(0);
    expect(sim.episodes.some((e) => e.facility === quiet.code)).toBe(true);

    const perDay = new Map<string, number>();
    for (const e of inPeriod) {
      const sent = e.dossiers.map((d) => d.sentAt).filter((s): s is string => !!s).sort()[0];
      if (sent) perDay.set(localDay(sent), (perDay.get(localDay(sent)) ?? 0) + 1);
    }
    const reported = new Map(stratifier(group, 'ngay-gui').stratum!.filter((s) => s.value?.text).map((s) => [s.value!.text!, pop(s, 'da-gui')!]));
    expect(reported).toEqual(perDay);
  });

  it('reports identification, the 24-hour rule and the time to acceptance', async () => {
    const identity = (await evaluate('dinh-danh-tiep-nhan', '')).group![0];
    for (const how of ['cccd', 'the-bhyt', 'khac']) {
      expect(pop(stratifier(identity, 'cach-dinh-danh').stratum!.find((s) => s.value!.text === how), 'initial-population'), how).toBe(inPeriod.filter((e) => e.identification === how).length);
    }

    const rule = (await evaluate('tuan-thu-24-gio', '')).group![0];
    const expected = deadline(inPeriod, sim.now);
    expect([pop(rule, 'denominator'), pop(rule, 'numerator'), pop(rule, 'tre-han')]).toEqual([expected.due, expected.onTime, expected.missed]);
    expect(expected.missed).toBeGreaterThan(0);
    expect(rule.measureScore!.value).toBeCloseTo(expected.onTime / expected.due, 4);
    for (const f of sim.facilities.filter((x) => !x.quiet)) {
      const s = stratifier(rule, 'co-so').stratum!.find((x) => x.value!.text === `Organization/${f.organizationId}`)!;
      const d = deadline(inPeriod.filter((e) => e.facility === f.code), sim.now);
      expect([pop(s, 'numerator'), pop(s, 'tre-han')], f.code).toEqual([d.onTime, d.missed]);
    }

    const timing = await evaluate('thoi-gian-tiep-nhan', '');
    const [median, p95] = timing.group!;
    expect(median.measureScore!.value).toBeCloseTo(hoursPercentile(inPeriod, 0.5)!, 1);
    expect(p95.measureScore!.value).toBeCloseTo(hoursPercentile(inPeriod, 0.95)!, 1);
    expect(median.measureScore!.unit).toBe('h');
  });

  it('evaluates one facility, a district and a province, by code or by name', async () => {
    const cases: [string, (e: SimulatedEpisode) => boolean][] = [
      [`&subject=${orgOf('10085')}`, (e) => e.facility === '10085'],
      ['&subject=district/085', (e) => ['10085', '10086'].includes(e.facility)],
      [`&subject=${encodeURIComponent('district/Huyện Bắc Hà')}`, (e) => ['10085', '10086'].includes(e.facility)],
      ['&subject=province/10', () => true],
      ['&subject=district/999', () => false],
    ];
    for (const [query, filter] of cases) {
      const r = await evaluate('lien-thong-ho-so', query);
      expect(countsOf(r.group![0]), query).toEqual(count(inPeriod.filter(filter)));
    }
    const one = await evaluate('lien-thong-ho-so', `&subject=${orgOf('10085')}`);
    expect(one.subject).toEqual({ reference: orgOf('10085'), display: 'Trung tâm Y tế huyện Bắc Hà (10085)' });
  });

  it('answers MeasureReports of the R4 shape, and the Measures are readable', async () => {
    const r = await evaluate('tuan-thu-24-gio', '');
    expect(r).toMatchObject({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://healthbook-gateway.vn/fhir/Measure/tuan-thu-24-gio', period: { start: '2025-03-01', end: '2025-03-31' } });
    expect(Date.parse(r.date!)).toBeGreaterThan(0);
    expect(r.group![0].population!.map((p) => code(p.code))).toEqual(['initial-population', 'denominator', 'numerator', 'tre-han']);
    expect(r.group![0].stratifier![0].code![0].coding![0].code).toBe('co-so');
    for (const s of r.group![0].stratifier![0].stratum!) expect(s.population!.every((p) => Number.isInteger(p.count))).toBe(true);

    for (const id of ['lien-thong-ho-so', 'dinh-danh-tiep-nhan', 'tuan-thu-24-gio', 'thoi-gian-tiep-nhan']) {
      const m = await gw.http.get(`/fhir/Measure/${id}`);
      expect(m.status).toBe(200);
      expect((m.body as Measure).url).toBe(`https://healthbook-gateway.vn/fhir/Measure/${id}`);
      expect((m.body as Measure).group!.length).toBeGreaterThan(0);
    }
    const capability = await gw.http.get('/fhir/metadata');
    expect(JSON.stringify(capability.body)).toContain('evaluate-measure');
  });

  it('answers the six-monthly form as CSV, with _format=csv or Accept: text/csv', async () => {
    const url = '/fhir/Measure/lien-thong-ho-so/$evaluate-measure?periodStart=2025-03-01&periodEnd=2025-03-31';
    const [a, b] = [await gw.http.get(`${url}&_format=csv`).buffer(true), await gw.http.get(url).set('Accept', 'text/csv').buffer(true)];
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/csv/);
    }
    const text = a.text;
    expect(b.text.split('\r\n').slice(1)).toEqual(text.split('\r\n').slice(1));
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const lines = text.slice(1).trimEnd().split('\r\n').map((l) => l.split(','));
    expect(lines[0]).toEqual([
      'STT', 'Mã CSKCB', 'Tên cơ sở KCB', 'Hình thức KCB',
      'BHYT - Số lượt KCB', 'BHYT - Số lượt đã gửi', 'Không BHYT - Số lượt KCB', 'Không BHYT - Số lượt đã gửi',
      'Tổng - Số lượt KCB', 'Tổng - Số lượt đã gửi',
      'Đã tạo hồ sơ', 'Hồ sơ không hợp lệ', 'Đã ký số', 'Cổng đã tiếp nhận', 'Cổng từ chối', 'Đang chờ gửi', 'Chưa có hồ sơ',
    ]);
    // Every facility has its six forms of care, zeros included (the silent one too).
    for (const f of sim.facilities) {
      const rows = lines.filter((l) => l[1] === f.code && l[3] !== 'Cộng');
      expect(rows.length, f.code).toBeGreaterThanOrEqual(6);
    }
    const row = lines.find((l) => l[1] === '10085' && l[3] === 'Điều trị nội trú')!;
    const mine = inPeriod.filter((e) => e.facility === '10085' && careType(e) === 'noi-tru');
    const bhyt = count(mine.filter((e) => payer(e) === 'bhyt'));
    const non = count(mine.filter((e) => payer(e) === 'khong-bhyt'));
    expect(row.slice(4, 10).map(Number)).toEqual([bhyt.received, bhyt.sent, non.received, non.sent, bhyt.received + non.received, bhyt.sent + non.sent]);
    const total = lines.find((l) => l[2] === 'Toàn địa bàn' && l[3] === 'Tổng cộng')!;
    expect(Number(total[8])).toBe(inPeriod.length);
    expect(Number(total[13])).toBe(count(inPeriod).accepted);
  });

  it('refuses bad parameters with a 400 OperationOutcome that names the parameter', async () => {
    const cases: [string, string][] = [
      ['periodEnd=2025-03-31', 'periodStart'],
      ['periodStart=2025-02-30&periodEnd=2025-03-31', 'periodStart'],
      ['periodStart=2025-03-01&periodEnd=tomorrow', 'periodEnd'],
      ['periodStart=2025-03-31&periodEnd=2025-03-01', 'periodEnd'],
      ['periodStart=2024-01-01&periodEnd=2025-06-30', 'periodEnd'],
      ['periodStart=2025-03-01&periodEnd=2025-03-31&subject=Patient/123', 'subject'],
      ['periodStart=2025-03-01&periodEnd=2025-03-31&subject=Organization/no-such-facility', 'subject'],
      ['periodStart=2025-03-01&periodEnd=2025-03-31&reportType=subject-list', 'reportType'],
      ['periodStart=2025-03-01&periodStart=2025-03-02&periodEnd=2025-03-31', 'periodStart'],
    ];
    for (const [query, expression] of cases) {
      const r = await gw.http.get(`/fhir/Measure/lien-thong-ho-so/$evaluate-measure?${query}`);
      expect(r.status, query).toBe(400);
      const outcome = r.body as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue[0].expression, query).toEqual([expression]);
      expect(outcome.issue[0].diagnostics).toBeTruthy();
    }
    expect((await gw.http.get('/fhir/Measure/unknown/$evaluate-measure?periodStart=2025-03-01&periodEnd=2025-03-31')).status).toBe(404);
    const csvError = await gw.http.get('/fhir/Measure/lien-thong-ho-so/$evaluate-measure?_format=csv&periodEnd=2025-03-31');
    expect(csvError.status).toBe(400);
    expect((csvError.body as OperationOutcome).issue[0].expression).toEqual(['periodStart']);
  });

  it('shows the dashboard in Vietnamese with its charts, in headless Chromium', async () => {
    const { base, browser, close } = await openPages(gw.app);
    try {
      const view = await browser.newPage({ viewport: { width: 1024, height: 900 }, locale: 'vi-VN' });
      const problems: string[] = [];
      view.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      view.on('pageerror', (e) => problems.push(e.message));
      const response = await view.goto(`${base}/reports?period=2025-03`);
      expect(response!.status()).toBe(200);
      expect(response!.headers()['content-security-policy']).toContain("default-src 'none'");
      expect(await view.locator('h1').textContent()).toBe('Báo cáo triển khai Sổ sức khỏe điện tử');
      expect(await view.locator('header p').textContent()).toContain('Tháng 03/2025');
      const all = count(inPeriod);
      expect(await view.locator('[data-figure="da-gui"]').textContent()).toBe(all.sent.toLocaleString('vi-VN'));
      expect(await view.locator('[data-figure="da-tiep-nhan"]').textContent()).toBe(all.accepted.toLocaleString('vi-VN'));
      expect(await view.locator('[data-figure="tre-han"]').textContent()).toBe(deadline(inPeriod, sim.now).missed.toLocaleString('vi-VN'));
      // Charts: drawn (non-empty boxes), one bar per day of March, one per facility with data.
      for (const id of ['gui-theo-ngay', 'tiep-nhan-theo-co-so', 'tuan-thu-24-gio']) {
        const box = await view.locator(`svg#${id}`).boundingBox();
        expect(box!.width, id).toBeGreaterThan(300);
        expect(box!.height, id).toBeGreaterThan(100);
      }
      expect(await view.locator('svg#gui-theo-ngay rect').count()).toBe(31);
      expect(await view.locator('svg#tiep-nhan-theo-co-so rect').count()).toBe(5);
      const quiet = sim.facilities.find((f) => f.quiet)!;
      expect(await view.locator(`#khong-du-lieu li[data-facility="${quiet.code}"]`).textContent()).toContain(quiet.name);
      await view.screenshot({ path: join(ARTIFACTS, `reports-${store.name}.png`), fullPage: true });
      // No script error, no blocked resource: the page lives within its CSP.
      expect(problems).toEqual([]);

      const bad = await view.goto(`${base}/reports?period=2025-13`);
      expect(bad!.status()).toBe(400);
      expect(await view.locator('main').textContent()).toContain('2025-13');
    } finally {
      await close();
    }
  });

  it('writes the month’s files from the CLI’s export, with a progress bar over the facilities on a terminal', async () => {
    const engine = new ReportEngine(gw.db, { localOffsetMinutes: 420 });
    const drawn: string[] = [];
    const tty = { isTTY: true, write: (s: string) => drawn.push(s) } as unknown as NodeJS.WriteStream;
    const { folder, report } = await exportReport(engine, { period: '2025-03', outDir: dir, now: sim.now, progress: tty });
    expect(readdirSync(folder).sort()).toEqual([
      'MeasureReport-dinh-danh-tiep-nhan.json', 'MeasureReport-lien-thong-ho-so.json', 'MeasureReport-thoi-gian-tiep-nhan.json', 'MeasureReport-tuan-thu-24-gio.json',
      'bang-dieu-khien.html', 'bieu-mau.csv', ...sim.facilities.map((f) => `co-so-${f.code}`).sort(),
    ].sort());
    expect(report.facilitiesWithoutData.map((f) => f.code)).toEqual([sim.facilities.find((f) => f.quiet)!.code]);
    const facilityReport = JSON.parse(readFileSync(join(folder, 'co-so-10099', 'MeasureReport-lien-thong-ho-so.json'), 'utf8')) as MeasureReport;
    expect(countsOf(facilityReport.group![0])).toEqual(count(inPeriod.filter((e) => e.facility === '10099')));
    expect(drawn.join('')).toContain(`${sim.facilities.length}/${sim.facilities.length} cơ sở`);

    // Not a terminal (a log file, a pipe): no progress bar at all.
    const piped: string[] = [];
    await exportReport(engine, { period: '2025-03', outDir: join(dir, 'piped'), now: sim.now, progress: { isTTY: false, write: (s: string) => piped.push(s) } as unknown as NodeJS.WriteStream });
    expect(piped).toEqual([]);
  });

  it('keeps health data and identifiers out of the log', () => {
    const log = JSON.stringify(gw.logs);
    const someone = sim.episodes[0];
    for (const secret of [someone.encounterId, someone.patientId, 'Tiếp nhận thành công']) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/periodStart=/);
  });
});
