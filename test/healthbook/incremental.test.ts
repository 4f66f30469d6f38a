import type { Composition, Condition, Encounter, Observation, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthBook } from '../../gateway/outputs/healthbook/definition.js';
import { bookComposition, episodeComposition, episodeLine } from '../../gateway/outputs/healthbook/document.js';
import { fullRecompute } from '../../gateway/outputs/healthbook/maintain.js';
import { BookParts } from '../../gateway/outputs/healthbook/parts.js';
import { Repository } from '../../gateway/store/repository.js';
import { outpatientEpisode } from '../support/episodes.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { seededRandom } from '../../gateway/tools/seeded-random.js';

/**
 * The health book is kept incrementally, write by write. Here random sequences of writes, updates
 * and deletes (new episodes, changed results, removed drugs, a diagnosis moved between episodes, a
 * renamed patient or facility, an allergy, a sensitive label, an episode handed to another patient…)
 * run through the REST API, and after every step each patient's stored parts and book Composition
 * must equal what a full recompute from the store gives.
 */
const STEPS = 45;
const SEEDS = [1, 7];

const byId = (a: Composition, b: Composition) => (a.id! < b.id! ? -1 : 1);


describe.each(STORES)('incremental health book on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw?.close());

  for (const seed of SEEDS) {
    it(`equals a full recompute after every step of random sequence ${seed}`, async () => {
      const rnd = seededRandom(seed);
      const pick = <T>(list: T[]): T | undefined => (list.length ? list[Math.floor(rnd() * list.length)] : undefined);
      const live = async <T extends Resource>(type: string): Promise<T[]> =>
        (await gw.db.query<{ content: T }>('SELECT content FROM resources WHERE resource_type = $1 AND NOT deleted ORDER BY id', [type])).rows.map((r) => r.content);
      const put = async (r: Resource) => gw.http.put(`/fhir/${r.resourceType}/${r.id}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(r));
      let episodes = 0;
      const postEpisode = async (person: number) => {
        const text = JSON.stringify(outpatientEpisode(seed * 100 + person)).replace(/10085-20250310-\d+/g, `10085-20250310-${seed}${person}${++episodes}`);
        return gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(text);
      };

      const actions: Record<string, () => Promise<unknown>> = {
        'new episode': async () => postEpisode(Math.floor(rnd() * 3)),
        'change a result': async () => {
          const o = pick(await live<Observation>('Observation'));
          if (o?.valueQuantity) return put({ ...o, valueQuantity: { ...o.valueQuantity, value: Math.round(rnd() * 1000) / 10 } });
        },
        'delete a drug': async () => {
          const m = pick(await live<Resource>('MedicationRequest'));
          if (m) return gw.http.delete(`/fhir/MedicationRequest/${m.id}`);
        },
        'move a diagnosis to another episode': async () => {
          const c = pick(await live<Condition>('Condition'));
          const e = pick((await live<Encounter>('Encounter')).filter((x) => x.subject?.reference === c?.subject?.reference));
          if (c && e) return put({ ...c, encounter: { reference: `Encounter/${e.id}` } });
        },
        'rename a patient': async () => {
          const p = pick(await live<Patient>('Patient'));
          if (p) return put({ ...p, name: [{ use: 'official', text: `Người bệnh ${Math.floor(rnd() * 1000)}`, family: 'Nguyễn', given: ['Thử'] }] });
        },
        'rename the facility': async () => {
          const o = pick(await live<Organization>('Organization'));
          if (o) return put({ ...o, name: `Trung tâm Y tế ${Math.floor(rnd() * 1000)}` });
        },
        'record an allergy': async () => {
          const p = pick(await live<Patient>('Patient'));
          if (p) {
            return gw.http.post('/fhir/AllergyIntolerance').set('Content-Type', FHIR_JSON).send(
              JSON.stringify({
                resourceType: 'AllergyIntolerance', patient: { reference: `Patient/${p.id}` }, code: { text: `Penicillin ${Math.floor(rnd() * 100)}` },
                clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
                criticality: 'high', recordedDate: '2025-03-10',
              }),
            );
          }
        },
        'delete an allergy': async () => {
          const a = pick(await live<Resource>('AllergyIntolerance'));
          if (a) return gw.http.delete(`/fhir/AllergyIntolerance/${a.id}`);
        },
        'label a diagnosis sensitive': async () => {
          const c = pick(await live<Condition>('Condition'));
          if (c) return put({ ...c, meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }] } });
        },
        'hand an episode to another patient': async () => {
          const e = pick(await live<Encounter>('Encounter'));
          const p = pick(await live<Patient>('Patient'));
          if (e && p) return put({ ...e, subject: { reference: `Patient/${p.id}` } });
        },
        'delete an episode': async () => {
          const e = pick(await live<Encounter>('Encounter'));
          if (e) return gw.http.delete(`/fhir/Encounter/${e.id}`);
        },
      };

      for (let i = 0; i < 3; i++) expect((await postEpisode(i)).status).toBe(200);
      const book = healthBook();
      const names = Object.keys(actions);
      const done: string[] = [];
      for (let step = 0; step < STEPS; step++) {
        const name = pick(names)!;
        const r = (await actions[name]()) as { status?: number; text?: string } | undefined;
        // A write the gateway refuses changes nothing, which the comparison below checks as well.
        done.push(`${step}: ${name} → ${r?.status ?? 'nothing to do'}`);
        expect(r?.status ?? 200, `${done.at(-1)} ${r?.text?.slice(0, 300)}`).toBeLessThan(500);

        const repo = new Repository(gw.db);
        const parts = new BookParts(gw.db);
        const patients = new Set([...(await live<Patient>('Patient')).map((p) => p.id!), ...(await gw.db.query<{ patient_id: string }>('SELECT DISTINCT patient_id FROM health_book')).rows.map((r) => r.patient_id)]);
        for (const patientId of patients) {
          const after = `after\n${done.join('\n')}`;
          const full = await fullRecompute(repo, book, patientId);
          expect(await parts.ofPatient(patientId), `parts of ${patientId} ${after}`).toEqual(full);
          // The Compositions stored for the patient are exactly the ones the full recompute gives.
          const own = full.find((p) => p.key.startsWith('patient/'));
          const listed = full.filter((p) => p.key.startsWith('episode/') && episodeLine(book, p));
          const want = !own && listed.length === 0 ? [] : [bookComposition(book, patientId, own, listed.map((p) => episodeLine(book, p)!)), ...listed.map((p) => episodeComposition(book, p))];
          const stored = await live<Composition>('Composition');
          const got = stored.filter((c) => c.id!.startsWith('book-') && c.subject?.reference === `Patient/${patientId}`);
          const strip = (c: Composition) => ({ ...c, meta: { profile: c.meta?.profile } });
          expect(got.map(strip).sort(byId), `books of ${patientId} ${after}`).toEqual(want.map(strip).sort(byId));
        }
      }
      // The sequence did exercise the book: episodes were written and some were shown.
      expect(done.filter((d) => / → 2\d\d$/.test(d)).length).toBeGreaterThan(STEPS / 3);
    }, 240_000);
  }
});
