import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, CodeSystem, Composition, CompositionSection, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { DOMParser } from '@xmldom/xmldom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCases, type GoldenCase } from '../../conformance/cases.js';
import { plainText } from '../../gateway/mapping/mappings.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The health book of each golden case, read through `$summary`: it must show every value of the
 * case's expected XML tables that QĐ 2733 takes into the book (the oracle is the expected XML, which
 * was written independently of the book's mappings), withhold HIV care, and be a valid, deterministic,
 * self-contained FHIR document.
 */
const cases = loadCases();

/** XML fields the book shows (qd1332-healthbook.md §1.3–1.4), and how the book writes their value. */
type Shown = 'text' | 'date' | 'datetime' | 'number' | 'codes' | { codeSystem: string };
const BOOK_FIELDS: Record<string, Record<string, Shown>> = {
  XML1: {
    HO_TEN: 'text', NGAY_SINH: 'date', SO_CCCD: 'text', DIEN_THOAI: 'text', DIA_CHI: 'text', MA_THE_BHYT: 'codes', MA_DKBD: 'codes',
    GT_THE_TU: 'date', GT_THE_DEN: 'date', MA_CSKCB: 'text', NGAY_VAO: 'datetime', NGAY_RA: 'datetime', LY_DO_VV: 'text',
    MA_BENH_CHINH: 'text', MA_BENH_KT: 'codes', MA_PTTT_QT: 'codes', NHOM_MAU: 'text', CAN_NANG: 'number', GHI_CHU: 'text', PP_DIEU_TRI: 'text',
    NGAY_TAI_KHAM: 'date', MA_DANTOC: { codeSystem: 'dan-toc' }, KET_QUA_DTRI: { codeSystem: 'ket-qua-dieu-tri' },
    MA_LOAI_KCB: { codeSystem: 'loai-kcb' }, MA_LOAI_RV: { codeSystem: 'loai-ra-vien' },
  },
  XML2: { TEN_THUOC: 'text', LIEU_DUNG: 'text' },
  XML4: { TEN_CHI_SO: 'text', GIA_TRI: 'text', KET_LUAN: 'text' },
  XML7: { SO_LUU_TRU: 'text' },
  XML8: { QT_BENHLY: 'text', TOMTAT_KQ: 'text' },
  XML11: { SO_CT: 'text', SO_SERI: 'text' },
  XML13: { SO_HOSO: 'text' },
  XML14: { SO_GIAYHEN_KL: 'text' },
};

/** Each row of a table document as field → text: the elements whose children are all leaves. */
function rows(xml: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const visit = (el: Element) => {
    const children = Array.from(el.childNodes).filter((n): n is Element => n.nodeType === 1);
    if (children.length > 0 && children.every((c) => !Array.from(c.childNodes).some((n) => n.nodeType === 1))) {
      out.push(Object.fromEntries(children.map((c) => [c.tagName, c.textContent ?? ''])));
    } else children.forEach(visit);
  };
  visit(new DOMParser().parseFromString(xml, 'text/xml').documentElement as unknown as Element);
  return out;
}

const displays = (id: string) => new Map(((JSON.parse(readFileSync(join(PROFILES_DIR, 'fhir', `CodeSystem-${id}.json`), 'utf8')) as CodeSystem).concept ?? []).map((c) => [c.code, c.display!]));

/** What the book must contain for one XML value. */
function expectedTexts(value: string, shown: Shown): string[] {
  if (!value) return [];
  if (shown === 'codes') return value.split(';').filter(Boolean);
  if (shown === 'number') return [String(Number(value))];
  if (shown === 'date' || shown === 'datetime') {
    // Unknown parts are 00 (a birth date known only by its year): the book shows what is known.
    return value.split(';').map((v) => {
      const [y, m, d] = [v.slice(0, 4), v.slice(4, 6), v.slice(6, 8)];
      if (m === '00') return y;
      if (d === '00') return `${m}/${y}`;
      return `${d}/${m}/${y}${shown === 'datetime' && v.length >= 12 ? ` ${v.slice(8, 10)}:${v.slice(10, 12)}` : ''}`;
    });
  }
  if (typeof shown === 'object') return [displays(shown.codeSystem).get(value) ?? `(no display for ${value})`];
  return [value];
}

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The book's Compositions: its own first, then its episodes'. */
const compositions = (bundle: Bundle) => bundle.entry!.map((e) => e.resource!).filter((r): r is Composition => r.resourceType === 'Composition' && r.id!.startsWith('book-'));

function narrative(sections: CompositionSection[] | undefined): string {
  return (sections ?? []).map((s) => `${s.title ?? ''}\n${plainText(s.text?.div ?? '')}\n${narrative(s.section)}`).join('\n');
}

describe.each(STORES)('health book of the golden cases on $name', (store) => {
  let gw: TestGateway;
  const books = new Map<string, { bundle: Bundle; text: string; patientId: string }>();
  const patients = new Map<string, string>();

  beforeAll(async () => {
    gw = await startGateway(store);
    for (const c of cases) {
      const r = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(c.bundle));
      expect(r.status, `${c.name}: ${JSON.stringify(r.body).slice(0, 500)}`).toBe(200);
      patients.set(c.name, patientOf(c, r.body as Bundle));
    }
    // Read once everything is in: two cases are episodes of the same patient.
    for (const [name, patientId] of patients) {
      const s = await gw.http.get(`/fhir/Patient/${patientId}/$summary`);
      expect(s.status, s.text.slice(0, 500)).toBe(200);
      books.set(name, { bundle: JSON.parse(s.text) as Bundle, text: s.text, patientId });
    }
  }, 120_000);
  afterAll(() => gw?.close());

  for (const c of cases) {
    describe(c.name, () => {
      it('shows every value of the expected XML that the book takes', () => {
        const { bundle } = books.get(c.name)!;
        const shownText = squash(compositions(bundle).map((c) => narrative(c.section)).join('\n'));
        const withheld = c.expected.has('XML6');
        const missing: string[] = [];
        for (const [table, fields] of Object.entries(BOOK_FIELDS)) {
          const xml = c.expected.get(table);
          if (!xml) continue;
          for (const [i, row] of rows(xml).entries()) {
            for (const [field, shown] of Object.entries(fields)) {
              // An HIV-care episode is withheld whole: only the patient's own block stays.
              if (withheld && !['HO_TEN', 'NGAY_SINH', 'SO_CCCD', 'DIEN_THOAI', 'DIA_CHI', 'MA_THE_BHYT', 'MA_DKBD', 'GT_THE_TU', 'GT_THE_DEN', 'MA_DANTOC'].includes(field)) continue;
              for (const want of expectedTexts(row[field] ?? '', shown)) if (!shownText.includes(squash(want))) missing.push(`${table}[${i + 1}] ${field}: ${want}`);
            }
          }
        }
        expect(missing).toEqual([]);
      });

      it('is a document Bundle whose references resolve inside it, with the Composition first', () => {
        const { bundle } = books.get(c.name)!;
        expect(bundle.type).toBe('document');
        expect(bundle.identifier?.system).toBe('urn:ietf:rfc:3986');
        expect(bundle.identifier?.value).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
        expect(bundle.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T/);
        expect(bundle.entry![0].resource!.resourceType).toBe('Composition');
        const urls = new Set(bundle.entry!.map((e) => e.fullUrl));
        expect(urls.size).toBe(bundle.entry!.length);
        // Every reference anywhere in the document resolves inside it (directly or indirectly cited).
        const cited = JSON.stringify(bundle.entry!.map((e) => e.resource)).match(/"reference":"[A-Za-z]+\/[^"]+"/g) ?? [];
        expect(cited.length).toBeGreaterThan(0);
        for (const ref of cited) expect(urls, ref).toContain(`http://gw.test/fhir/${ref.slice(13, -1)}`);
        // …and nothing is in it that the book does not cite.
        const reachable = new Set([bundle.entry![0].fullUrl]);
        for (const e of bundle.entry!) for (const ref of JSON.stringify(e.resource).match(/"reference":"[A-Za-z]+\/[^"]+"/g) ?? []) reachable.add(`http://gw.test/fhir/${ref.slice(13, -1)}`);
        expect([...urls].filter((u) => !reachable.has(u))).toEqual([]);
      });

      it('validates against the health-book profiles', async () => {
        const { bundle } = books.get(c.name)!;
        const [root, ...episodes] = compositions(bundle);
        expect(root.meta?.profile).toEqual(['https://healthbook-gateway.vn/fhir/StructureDefinition/hb-health-book']);
        for (const e of episodes) expect(e.meta?.profile).toEqual(['https://healthbook-gateway.vn/fhir/StructureDefinition/hb-health-book-episode']);
        for (const composition of [root, ...episodes]) {
          const r = await gw.http.post('/fhir/Composition/$validate').set('Content-Type', FHIR_JSON).send(JSON.stringify(composition));
          const issues = (r.body as OperationOutcome).issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
          expect(issues, composition.id).toEqual([]);
        }
        const doc = await gw.http.post('/fhir/Bundle/$validate').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle));
        expect((doc.body as OperationOutcome).issue.filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
      });

      it('answers the same bytes twice, by id and by the patient identifier', async () => {
        const { text, patientId, bundle } = books.get(c.name)!;
        expect((await gw.http.get(`/fhir/Patient/${patientId}/$summary`)).text).toBe(text);
        const patient = bundle.entry!.find((e) => e.resource?.resourceType === 'Patient' && e.resource.id === patientId)!.resource as { identifier?: { system?: string; value?: string }[] };
        for (const id of patient.identifier ?? []) {
          const r = await gw.http.get('/fhir/Patient/$summary').query({ identifier: `${id.system}|${id.value}` });
          expect(r.status, `${id.system}|${id.value}: ${r.text.slice(0, 300)}`).toBe(200);
          expect(r.text).toBe(text);
        }
      });
    });
  }

  it('the profile refuses a book without its episodes section', async () => {
    const composition = books.get('outpatient-visit')!.bundle.entry![0].resource as Composition;
    const broken = { ...composition, section: composition.section!.filter((s) => s.code?.coding?.[0].code !== '46240-8') };
    const r = await gw.http.post('/fhir/Composition/$validate').set('Content-Type', FHIR_JSON).send(JSON.stringify(broken));
    const errors = (r.body as OperationOutcome).issue.filter((i) => i.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((i) => i.expression?.[0] ?? '').join(' ')).toContain('Composition.section');
  });

  it('withholds the HIV-care episode: no HIV diagnosis, no antiretroviral, nothing of XML6', () => {
    const hiv = books.get('hiv-tb')!;
    expect(hiv.text).not.toMatch(/B20|Tenofovir|Dolutegravir|Questionnaire\/xml6|HIV/);
    const [composition, ...episodes] = compositions(hiv.bundle);
    expect(episodes).toEqual([]);
    expect(composition.section!.find((s) => s.code?.coding?.[0].code === '46240-8')!.entry).toBeUndefined();
    // The patient's own block is still there.
    expect(narrative(composition.section)).toContain(rows(cases.find((c) => c.name === 'hiv-tb')!.expected.get('XML1')!)[0].HO_TEN);
  });

  it('finds a patient by a BHYT card kept only on the Coverage, and refuses what names no one or is not given', async () => {
    const { bundle, text } = books.get('outpatient-visit')!;
    const card = (bundle.entry!.find((e) => e.resource?.resourceType === 'Coverage')!.resource as { identifier: { system: string; value: string }[] }).identifier[0];
    const byCard = await gw.http.get('/fhir/Patient/$summary').query({ identifier: card.value });
    expect(byCard.status).toBe(200);
    expect(byCard.text).toBe(text);
    const unknown = await gw.http.get('/fhir/Patient/$summary').query({ identifier: 'http://fhir.hl7.org.vn/core/sid/cccd|000000000000' });
    expect(unknown.status).toBe(404);
    expect((unknown.body as OperationOutcome).issue[0].expression).toEqual(['identifier']);
    const none = await gw.http.get('/fhir/Patient/$summary');
    expect(none.status).toBe(400);
    expect((none.body as OperationOutcome).issue[0].expression).toEqual(['identifier']);
    expect((await gw.http.get('/fhir/Patient/no-such-patient/$summary')).status).toBe(404);
  });

  it('keeps the book Composition readable and searchable by subject and type', async () => {
    const { bundle, patientId } = books.get('inpatient-stay')!;
    const composition = bundle.entry![0].resource as Composition;
    const read = await gw.http.get(`/fhir/Composition/${composition.id}`);
    expect(read.status).toBe(200);
    expect((read.body as Composition).section).toEqual(composition.section);
    const found = await gw.http.get('/fhir/Composition').query({ subject: `Patient/${patientId}`, type: 'http://loinc.org|60591-5' });
    expect((found.body as Bundle).entry?.map((e) => (e.resource as Resource).id)).toEqual([composition.id]);
    // This patient has two episodes (inpatient-stay and inpatient-stay-qd4750): each its own Composition.
    const episodes = await gw.http.get('/fhir/Composition').query({ subject: `Patient/${patientId}`, type: 'http://loinc.org|34133-9' });
    expect((episodes.body as Bundle).entry?.map((e) => (e.resource as Resource).id).sort()).toEqual(compositions(bundle).slice(1).map((c) => c.id).sort());
    expect(compositions(bundle)).toHaveLength(3);
  });
});

/** The stored id of the case's patient (the subject of its Encounter), from the transaction response. */
function patientOf(c: GoldenCase, response: Bundle): string {
  const index = c.bundle.entry!.findIndex((e) => e.resource?.resourceType === 'Encounter' && (!c.encounter || e.fullUrl === c.encounter));
  const encounter = c.bundle.entry![index].resource as { subject: { reference: string } };
  const patientIndex = c.bundle.entry!.findIndex((e) => e.fullUrl === encounter.subject.reference);
  return response.entry![patientIndex].response!.location!.split('/')[1];
}
