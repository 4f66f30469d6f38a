import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The example bundles of profiles/examples are what the integration guide (profiles/README.md)
 * tells hospital systems to copy: every resource in them must be valid against its default profile
 * with no error and no warning, and every bundle must go through as a transaction as it stands.
 * The guide must name every example and every profile, extension and code system the gateway
 * publishes, so that it cannot fall behind them silently.
 */

const EXAMPLES = ['outpatient-visit.json', 'inpatient-stay.json', 'no-bhyt-patient.json', 'newborn-twins.json'];

const example = (file: string): Bundle => JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', file), 'utf8'));
const readme = () => readFileSync(join(PROFILES_DIR, 'README.md'), 'utf8');
const index = (): { files: string[] } => JSON.parse(readFileSync(join(PROFILES_DIR, 'fhir', 'index.json'), 'utf8'));

/** Issues that are more than information, for a readable failure message. */
const problems = (oo: OperationOutcome) =>
  (oo.issue ?? []).filter((i) => i.severity !== 'information').map((i) => `${i.severity} ${i.code} ${i.expression?.join(',')}: ${i.diagnostics}`);

describe('the integration guide', () => {
  it('links every example bundle', () => {
    const text = readme();
    for (const file of EXAMPLES) expect(text, file).toContain(`examples/${file}`);
  });

  it('names every profile, extension and code system the gateway publishes', () => {
    const text = readme();
    const ids = index().files
      .filter((f) => f.startsWith('StructureDefinition-') || f.startsWith('CodeSystem-'))
      .map((f) => f.replace(/^(StructureDefinition|CodeSystem)-/, '').replace(/\.json$/, ''));
    expect(ids.length).toBeGreaterThan(40);
    const missing = ids.filter((id) => !new RegExp(`\\b${id.replace(/-/g, '\\-')}\\b`).test(text));
    expect(missing).toEqual([]);
  });
});

describe.each(STORES)('example bundles on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());

  describe.each(EXAMPLES)('%s', (file) => {
    const bundle = example(file);

    it('is a transaction whose entries are all POSTs with urn:uuid fullUrls', () => {
      expect(bundle.resourceType).toBe('Bundle');
      expect(bundle.type).toBe('transaction');
      expect(bundle.entry!.length).toBeGreaterThan(5);
      for (const e of bundle.entry!) {
        expect(e.fullUrl).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(e.request).toMatchObject({ method: 'POST', url: e.resource!.resourceType });
      }
      // Every reference points inside the bundle (or is a logical reference by identifier).
      const fullUrls = new Set(bundle.entry!.map((e) => e.fullUrl));
      const refs = JSON.stringify(bundle).match(/"reference":\s*"[^"]*"/g) ?? [];
      for (const r of refs) expect(fullUrls, r).toContain(JSON.parse(`{${r}}`).reference);
    });

    it('has every resource valid against its default profile ($validate: no error, no warning)', async () => {
      for (const [i, e] of bundle.entry!.entries()) {
        const type = e.resource!.resourceType;
        const res = await gw.http.post(`/fhir/${type}/$validate`).set('Content-Type', FHIR_JSON).set('Accept-Language', 'en').send(JSON.stringify(e.resource));
        expect(res.status, `entry ${i} ${type}`).toBe(200);
        const oo = res.body as OperationOutcome;
        expect(oo.resourceType).toBe('OperationOutcome');
        expect(problems(oo), `entry ${i} ${type}`).toEqual([]);
      }
    });

    it('goes through as a transaction: 200, every entry 201 Created, no warnings', async () => {
      const res = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).set('Accept-Language', 'en').send(JSON.stringify(bundle));
      expect(res.status, JSON.stringify(res.body).slice(0, 2000)).toBe(200);
      const out = res.body as Bundle;
      expect(out.type).toBe('transaction-response');
      expect(out.entry).toHaveLength(bundle.entry!.length);
      out.entry!.forEach((e, i) => {
        expect(e.response?.status, `entry ${i}`).toBe('201 Created');
        expect(e.response?.outcome, `entry ${i}: ${JSON.stringify(e.response?.outcome)}`).toBeUndefined();
      });
      // Nothing of the bundle's urn:uuid references survives in what was stored.
      const { rows } = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resources WHERE content::text LIKE '%urn:uuid:%'`);
      expect(rows[0].n).toBe(0);
    });
  });
});
