import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Coverage, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { BHYT_CARD, CCCD_PROVINCES, SID } from '../../gateway/fhir/vn.js';
import { gatherEpisode } from '../../gateway/mapping/episode.js';
import { bundleSource } from '../../gateway/mapping/sources.js';
import { buildClaimFile } from '../../gateway/outputs/xml/claim-file.js';
import { PROJECT_ROOT } from '../../gateway/paths.js';
import { EpisodeGenerator } from '../../gateway/tools/generate/episodes.js';
import { ProfileRegistry } from '../../gateway/validation/registry.js';
import { structureValidator } from '../../gateway/validation/structure.js';
import { ProfileValidator } from '../../gateway/validation/validate.js';
import { allOf } from '../../gateway/validation/validator.js';
import { FHIR_JSON, startGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

const validator = allOf(structureValidator, new ProfileValidator(new ProfileRegistry()));
const resources = (b: Bundle) => (b.entry ?? []).map((e) => e.resource as Resource);
const ofType = <T extends Resource>(b: Bundle, type: T['resourceType']) => resources(b).filter((r): r is T => r.resourceType === type);
const idOf = (r: { identifier?: { system?: string; value?: string }[] }, system: string) => r.identifier?.find((i) => i.system === system)?.value;

async function claimOf(bundle: Bundle) {
  const { source, resources: all } = bundleSource(bundle);
  const encounter = all.find((r) => r.resourceType === 'Encounter')!;
  return buildClaimFile((await gatherEpisode(source, encounter.id!))!);
}

describe('the episode generator', () => {
  const cases = [
    { kind: 'outpatient', entries: undefined },
    { kind: 'inpatient', entries: undefined },
    { kind: 'inpatient', entries: 10 },
    { kind: 'inpatient', entries: 100 },
    { kind: 'inpatient', entries: 1000 },
  ] as const;

  it.each(cases)('$kind bundles ($entries entries) validate against the VN profiles and build clean claim files', async ({ kind, entries }) => {
    for (const seed of [1, 77]) {
      const generator = new EpisodeGenerator({ seed });
      for (const index of [0, 31, 4_242]) {
        const bundle = generator.episode({ kind, index, entries });
        const issues = resources(bundle).flatMap((r) => validator.validate(r).map((i) => `${r.resourceType} ${i.expression?.[0]}: ${JSON.stringify(i.message)}`));
        expect(issues, `seed ${seed} episode ${index}`).toEqual([]);
        const claim = await claimOf(bundle);
        expect(claim.issues.map((i) => `${i.severity} ${i.expression?.[0]}`), `seed ${seed} episode ${index}`).toEqual([]);
        const lines = claim.tables.filter((t) => t.definition.table === 'XML2' || t.definition.table === 'XML3').flatMap((t) => t.rows);
        expect(lines.length).toBeGreaterThan(kind === 'outpatient' ? 2 : 0);
        if (entries) expect(bundle.entry).toHaveLength(entries);
        else if (kind === 'outpatient') expect(bundle.entry!.length).toBeGreaterThanOrEqual(20), expect(bundle.entry!.length).toBeLessThanOrEqual(32);
        else expect(bundle.entry).toHaveLength(150);
      }
    }
  });

  it('is deterministic: episode n is the same bundle alone or after others, and a seed changes it', () => {
    const a = new EpisodeGenerator({ seed: 5 });
    for (let i = 0; i < 10; i++) a.episode({ kind: 'outpatient', index: i });
    const again = new EpisodeGenerator({ seed: 5 }).episode({ kind: 'outpatient', index: 9 });
    expect(JSON.stringify(a.episode({ kind: 'outpatient', index: 9 }))).toBe(JSON.stringify(again));
    const other = new EpisodeGenerator({ seed: 6 }).episode({ kind: 'outpatient', index: 9 });
    expect(idOf(ofType<Patient>(other, 'Patient')[0], SID.cccd)).not.toBe(idOf(ofType<Patient>(again, 'Patient')[0], SID.cccd));
  });

  it('makes people with well-formed, distinct CCCD numbers and BHYT cards, and Vietnamese names', () => {
    const generator = new EpisodeGenerator({ seed: 3 });
    const cccds = new Set<string>();
    const cards = new Set<string>();
    for (let index = 0; index < 3_000; index++) {
      const bundle = generator.episode({ kind: 'outpatient', index });
      const [patient] = ofType<Patient>(bundle, 'Patient');
      const cccd = idOf(patient, SID.cccd)!;
      const card = idOf(ofType<Coverage>(bundle, 'Coverage')[0], SID.bhyt)!;
      expect(CCCD_PROVINCES).toContain(cccd.slice(0, 3));
      // The fourth digit says century and sex; the next two, the year of birth.
      const year = Number(patient.birthDate!.slice(0, 4));
      expect(Number(cccd[3])).toBe((year >= 2000 ? 2 : 0) + (patient.gender === 'female' ? 1 : 0));
      expect(cccd.slice(4, 6)).toBe(patient.birthDate!.slice(2, 4));
      expect(card).toMatch(BHYT_CARD);
      expect(idOf(patient, SID.bhyt)).toBe(card);
      cccds.add(cccd);
      cards.add(card);
    }
    expect(cccds.size).toBe(3_000);
    expect(cards.size).toBe(3_000);
    const names = Array.from({ length: 50 }, (_, i) => ofType<Patient>(generator.episode({ kind: 'outpatient', index: i }), 'Patient')[0].name![0].text!);
    expect(names.filter((n) => /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùýĐ]/i.test(n)).length).toBeGreaterThan(40);
  });

  it('puts many episodes on one person when asked, under the same identifiers', () => {
    const generator = new EpisodeGenerator({ seed: 8 });
    const patients = [0, 1, 2].map((index) => ofType<Patient>(generator.episode({ kind: 'outpatient', index, patient: 42 }), 'Patient')[0]);
    expect(new Set(patients.map((p) => JSON.stringify(p))).size).toBe(1);
    const keys = [0, 1, 2].map((index) => generator.episode({ kind: 'outpatient', index, patient: 42 }).entry!.find((e) => e.resource!.resourceType === 'Encounter')!.resource);
    expect(new Set(keys.map((e) => idOf(e as Patient, SID.maLk))).size).toBe(3);
  });
});

describe.each(STORES)('generated bundles posted to the gateway on $name', (store) => {
  it('are stored whole, and a facility and its staff seen again are found, not duplicated', async () => {
    const gw = await startGateway(store);
    try {
      const generator = new EpisodeGenerator({ seed: 11, facilities: 1 });
      for (const [index, kind] of [[0, 'outpatient'], [1, 'outpatient'], [2, 'inpatient']] as const) {
        const bundle = generator.episode({ kind, index });
        const res = await gw.http.post('/fhir').set('content-type', FHIR_JSON).send(bundle);
        expect(res.status, JSON.stringify(res.body.issue ?? '')).toBe(200);
        expect(res.body.entry).toHaveLength(bundle.entry!.length);
      }
      const orgs = await gw.http.get('/fhir/Organization?_total=accurate');
      expect(orgs.body.total).toBe(1);
      const encounters = await gw.http.get('/fhir/Encounter?_total=accurate');
      expect(encounters.body.total).toBe(3);
    } finally {
      await gw.close();
    }
  });
});

describe('npm run cli -- generate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-generate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'gateway/cli.ts'), 'generate', ...args], { encoding: 'utf8', cwd: PROJECT_ROOT });

  it('writes NDJSON, one transaction bundle per line, the same for the same seed', () => {
    expect(cli('--count', '5', '--seed', '9', '--out', join(dir, 'a')).status).toBe(0);
    expect(cli('--count', '5', '--seed', '9', '--out', join(dir, 'b')).status).toBe(0);
    const text = readFileSync(join(dir, 'a.ndjson'), 'utf8');
    expect(text).toBe(readFileSync(join(dir, 'b.ndjson'), 'utf8'));
    const bundles = text.trim().split('\n').map((l) => JSON.parse(l) as Bundle);
    expect(bundles).toHaveLength(5);
    expect(bundles.every((b) => b.resourceType === 'Bundle' && b.type === 'transaction')).toBe(true);
  });

  it('writes one file per bundle, of the asked size, and refuses a bad option with the usage', () => {
    const r = cli('--kind', 'inpatient', '--entries', '100', '--count', '2', '--format', 'bundles', '--out', join(dir, 'files'));
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(join(dir, 'files')).sort();
    expect(files).toEqual(['inpatient-0.json', 'inpatient-1.json']);
    expect((JSON.parse(readFileSync(join(dir, 'files', files[0]), 'utf8')) as Bundle).entry).toHaveLength(100);
    const bad = cli('--kind', 'dental');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--kind must be outpatient or inpatient');
  });
});
