import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadReportViews } from '../../gateway/outputs/reports/report-rows.js';
import { compileSql, SqlFhirPathError } from '../../gateway/outputs/reports/sql-fhirpath.js';
import type { SqlView } from '../../gateway/outputs/reports/sql-view.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import type { Database } from '../../gateway/store/database.js';
import { Repository } from '../../gateway/store/repository.js';
import { simulateMonth, writeSimulation } from '../../gateway/tools/month-simulation.js';
import { STORES } from '../support/stores.js';

/**
 * The report views run by the database (compiled to SQL) give the rows the view engine gives on the
 * same resources: the simulation's, and the example bundles' (with their odd corners: an episode of
 * the no-BHYT patient, newborns, an inpatient stay), plus hand-made edge cases.
 */
const examples = ['outpatient-visit.json', 'inpatient-stay.json', 'no-bhyt-patient.json', 'newborn-twins.json'].flatMap((file, i) => {
  const bundle = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', file), 'utf8')) as Bundle;
  // Stored resources refer to each other by Type/id: the transaction rewrites urn:uuid references so.
  const ids = new Map(bundle.entry!.map((e, j) => [e.fullUrl!, `${e.resource!.resourceType}/ex${i}-${j}`]));
  let text = JSON.stringify(bundle.entry!.map((e) => e.resource));
  for (const [urn, ref] of ids) text = text.replaceAll(urn, ref);
  return (JSON.parse(text) as Resource[]).map((r, j) => ({ ...r, id: `ex${i}-${j}` }) as Resource);
});

const edgeCases: Resource[] = [
  // Telemedicine by class; an absolute, versioned reference; a dateTime without a zone; a stay under 4 hours.
  { resourceType: 'Encounter', id: 'edge-1', status: 'finished', class: { code: 'VR' }, type: [{ coding: [{ system: 'https://healthbook-gateway.vn/fhir/CodeSystem/loai-kcb', code: '01' }] }],
    serviceProvider: { reference: 'https://gw.example.vn/fhir/Organization/o-1/_history/3' }, subject: { reference: 'Patient/p-1' }, period: { start: '2025-03-02T08:00:00+07:00', end: '2025-03-02T09:00:00' } } as Resource,
  { resourceType: 'Encounter', id: 'edge-2', status: 'in-progress', class: { code: 'IMP' }, type: [{ coding: [{ system: 'https://healthbook-gateway.vn/fhir/CodeSystem/loai-kcb', code: '09' }] }, { coding: [{ system: 'https://healthbook-gateway.vn/fhir/CodeSystem/doi-tuong-kcb', code: '9' }] }],
    subject: { reference: 'urn:uuid:not-stored' }, period: { start: '2025-03-02' } } as Resource,
  { resourceType: 'Encounter', id: 'edge-3', status: 'planned' } as Resource,
  { resourceType: 'Patient', id: 'edge-4', identifier: [{ system: 'http://fhir.hl7.org.vn/core/sid/passport', value: 'C1234567' }] } as Resource,
  { resourceType: 'Organization', id: 'edge-5', name: 'Phòng khám chưa có mã' } as Resource,
];

describe.each(STORES)('report views in SQL on $name', (store) => {
  let db: Database;
  let resources: Resource[];
  const views = loadReportViews(420);

  beforeAll(async () => {
    db = await store.open();
    const sim = simulateMonth({ seed: 3, month: '2025-03', episodes: 150 });
    await writeSimulation(db, sim);
    const extra = [...examples, ...edgeCases];
    const now = new Date().toISOString();
    await new Repository(db).write(extra.map((r) => ({ resource: { ...r, id: r.id!, meta: { versionId: '1', lastUpdated: now } }, versionId: 1, lastUpdated: now, deleted: false })));
    const { rows } = await db.query<{ content: Resource }>(`SELECT content FROM resources WHERE resource_type IN ('Encounter', 'Patient', 'Organization') AND NOT deleted`);
    resources = rows.map((r) => r.content);
  });
  afterAll(async () => {
    await db.close();
  });

  const normalise = (view: SqlView, row: Record<string, unknown>) =>
    Object.fromEntries(view.columns.map((c) => {
      const v = row[c.name];
      if (v === null || v === undefined) return [c.name, null];
      // The engine gives a dateTime as written; SQL, as an instant (a dateTime without a zone is Vietnam time).
      if (c.type === 'timestamptz') {
        if (typeof v !== 'string') return [c.name, (v as Date).getTime()];
        return [c.name, v.length < 16 ? null : Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}+07:00`)];
      }
      return [c.name, v];
    }));

  for (const name of ['episodes', 'patients', 'facilities'] as const) {
    it(`${name}: the SQL rows are the view engine's rows`, async () => {
      const view = views[name];
      const expected = view.engine.run(resources).map((r) => normalise(view, r));
      const { rows } = await db.query<Record<string, unknown>>(view.select());
      const actual = rows.map((r) => normalise(view, r));
      const key = (r: Record<string, unknown>) => JSON.stringify(r);
      expect(actual.map(key).sort()).toEqual(expected.map(key).sort());
      expect(actual.length).toBeGreaterThan(5);
    });
  }

  it('reads telemedicine, absolute references and zone-less times as the engine does', async () => {
    const { rows } = await db.query<Record<string, unknown>>(`SELECT * FROM (${views.episodes.select()}) v WHERE episode LIKE 'Encounter/edge-%' ORDER BY episode`);
    expect(rows.map((r) => [r.episode, r.care_type, r.payer, r.facility])).toEqual([
      ['Encounter/edge-1', 'tu-xa', 'bhyt', 'Organization/o-1'],
      ['Encounter/edge-2', 'noi-tru', 'khong-bhyt', null],
      ['Encounter/edge-3', 'khac', 'bhyt', null],
    ]);
    expect((rows[0].ended as Date).toISOString()).toBe('2025-03-02T02:00:00.000Z');
    expect(rows[1].attributed).toBeNull();
  });
});

describe('FHIRPath to SQL', () => {
  const row = { kind: 'row' as const, column: (name: string) => (name === 'n' ? { sql: 'r.n', type: 'numeric' as const } : undefined) };
  it('refuses what it cannot compile, saying what and where, when the definitions load', () => {
    expect(() => compileSql('descendants().exists()', row, { localOffsetMinutes: 420 })).toThrow(SqlFhirPathError);
    expect(() => compileSql('missing = 1', row, { localOffsetMinutes: 420 })).toThrow(/"missing = 1": missing is not a column/);
    expect(() => compileSql('n = %unknown', row, { localOffsetMinutes: 420 })).toThrow(/%unknown is not defined/);
    expect(() => compileSql('n.where(', row, { localOffsetMinutes: 420 })).toThrow(/not valid FHIRPath/);
  });
});

describe('month simulation', () => {
  it('is the same month for the same seed, another for another seed', () => {
    const a = simulateMonth({ seed: 42, month: '2025-03', episodes: 300 });
    const b = simulateMonth({ seed: 42, month: '2025-03', episodes: 300 });
    const c = simulateMonth({ seed: 43, month: '2025-03', episodes: 300 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(c.episodes.map((e) => [e.careCode, e.end]))).not.toBe(JSON.stringify(a.episodes.map((e) => [e.careCode, e.end])));
  });
});
