import type { Bundle, BundleEntry, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CS, entry, episodeTransaction, EXT, SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * Each rule of the Vietnamese profiles, broken once in an otherwise valid episode transaction
 * (test/support/fixtures.ts episodeTransaction): the write fails with 422 and exactly one error,
 * with the expected code and FHIRPath expression in the client's terms; $validate on the same
 * resource says the same thing (relative to the resource).
 */

/** Entry positions in episodeTransaction: [Patient, Coverage, Encounter, Condition, Condition, Organization]. */
const PATIENT = 0;
const COVERAGE = 1;
const ENCOUNTER = 2;
const CONDITION = 3;
const ORGANIZATION = 5;

type Obj = Record<string, unknown>;
/** The resource of entry `i`, for mutation in place. */
const res = (b: Bundle, i: number) => b.entry![i].resource as unknown as Obj & { [k: string]: any };

// Person identifiers must be unique across patients of a gateway (a second holder is a 409):
// every valid case gets numbers of its own.
let serial = 0;
const cccd = () => `079${String(100_000_000 + ++serial).slice(-9)}`;
const bhxh = () => `79${String(10_000_000 + ++serial).slice(-8)}`;
const episode = () => episodeTransaction({ cccd: cccd(), maLk: `LK-RULES-${++serial}` });

interface Rule {
  name: string;
  /** Breaks one thing; returns the entry that now carries the fault. */
  breakIt(b: Bundle): number;
  /** Relative to the entry's resource: `identifier[0].value`, or '' for the resource itself. */
  at: string;
  code: OperationOutcomeIssue['code'];
  /** Something the English message must contain: the constraint key, the element. */
  says: string;
}

const RULES: Rule[] = [
  {
    name: 'CCCD not 12 digits (hb-cccd-1)',
    breakIt: (b) => ((res(b, PATIENT).identifier[0].value = '07908500123'), PATIENT),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-cccd-1)',
  },
  {
    name: 'CCCD with a letter (hb-cccd-1)',
    breakIt: (b) => ((res(b, PATIENT).identifier[0].value = '07908500123X'), PATIENT),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-cccd-1)',
  },
  {
    name: 'CCCD with a province prefix that does not exist (hb-cccd-2)',
    breakIt: (b) => ((res(b, PATIENT).identifier[0].value = '099085001234'), PATIENT),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-cccd-2)',
  },
  {
    name: 'BHYT card on the Patient with an unlisted beneficiary group (hb-bhyt-1)',
    breakIt: (b) => (res(b, PATIENT).identifier.push({ system: SID.bhyt, value: 'XX4797912345678' }), PATIENT),
    at: 'identifier[1].value', code: 'invariant', says: '(hb-bhyt-1)',
  },
  {
    name: 'BHYT card on the Patient with benefit level 6 (hb-bhyt-1)',
    breakIt: (b) => (res(b, PATIENT).identifier.push({ system: SID.bhyt, value: 'DN6797912345678' }), PATIENT),
    at: 'identifier[1].value', code: 'invariant', says: '(hb-bhyt-1)',
  },
  {
    name: 'BHYT card on the Coverage of 14 characters (hb-bhyt-1)',
    breakIt: (b) => ((res(b, COVERAGE).identifier[0].value = 'DN479791234567'), COVERAGE),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-bhyt-1)',
  },
  {
    name: 'BHYT card on the Coverage in lower case (hb-bhyt-1)',
    breakIt: (b) => ((res(b, COVERAGE).identifier[0].value = 'dn4797912345678'), COVERAGE),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-bhyt-1)',
  },
  {
    name: 'MA_CSKCB of 4 characters (hb-cskcb-1)',
    breakIt: (b) => ((res(b, ORGANIZATION).identifier[0].value = '7902'), ORGANIZATION),
    at: 'identifier[0].value', code: 'invariant', says: '(hb-cskcb-1)',
  },
  {
    name: 'MA_LK longer than 100 characters (maxLength)',
    breakIt: (b) => ((res(b, ENCOUNTER).identifier[0].value = `LK-${'9'.repeat(98)}`), ENCOUNTER),
    at: 'identifier[0].value', code: 'value', says: 'is 101 characters long; at most 100',
  },
  {
    name: 'Encounter.period.start without a time (hb-time-1)',
    breakIt: (b) => ((res(b, ENCOUNTER).period.start = '2024-05-01'), ENCOUNTER),
    at: 'period.start', code: 'invariant', says: '(hb-time-1)',
  },
  {
    name: 'Encounter.period.end without a time (hb-time-1)',
    breakIt: (b) => ((res(b, ENCOUNTER).period.end = '2024-05-01'), ENCOUNTER),
    at: 'period.end', code: 'invariant', says: '(hb-time-1)',
  },
  {
    name: 'finished Encounter without its end (hb-enc-1)',
    breakIt: (b) => (delete res(b, ENCOUNTER).period.end, ENCOUNTER),
    at: '', code: 'invariant', says: '(hb-enc-1)',
  },
  {
    name: 'finished Encounter without a main diagnosis (hb-enc-2)',
    breakIt: (b) => (res(b, ENCOUNTER).diagnosis.forEach((d: Obj, i: number) => (d.rank = i + 2)), ENCOUNTER),
    at: '', code: 'invariant', says: '(hb-enc-2)',
  },
  {
    name: 'finished Encounter without a discharge type (hb-enc-3)',
    breakIt: (b) => (delete res(b, ENCOUNTER).hospitalization, ENCOUNTER),
    at: '', code: 'invariant', says: '(hb-enc-3)',
  },
  {
    name: 'finished Encounter without a treatment result (hb-enc-4)',
    breakIt: (b) => (delete res(b, ENCOUNTER).extension, ENCOUNTER),
    at: '', code: 'invariant', says: '(hb-enc-4)',
  },
  {
    name: 'referral out without its destination (hb-enc-5)',
    breakIt: (b) => ((res(b, ENCOUNTER).hospitalization.dischargeDisposition.coding[0].code = '2'), ENCOUNTER),
    at: '', code: 'invariant', says: '(hb-enc-5)',
  },
  {
    name: 'Encounter ending before it starts (per-1, a rule of the Period datatype)',
    breakIt: (b) => ((res(b, ENCOUNTER).period.end = '2024-05-01T07:00:00+07:00'), ENCOUNTER),
    at: 'period', code: 'invariant', says: '(per-1)',
  },
  {
    name: 'Patient without gender (required element)',
    breakIt: (b) => (delete res(b, PATIENT).gender, PATIENT),
    at: 'gender', code: 'required', says: 'Patient.gender is required',
  },
  {
    name: 'Encounter without its MA_LK identifier (required slice)',
    breakIt: (b) => ((res(b, ENCOUNTER).identifier[0].system = SID.maHsba), ENCOUNTER),
    at: 'identifier', code: 'required', says: '"maLk"',
  },
  {
    name: 'birthDate as a JSON number (wrong type)',
    breakIt: (b) => ((res(b, PATIENT).birthDate = 19850302), PATIENT),
    at: 'birthDate', code: 'structure', says: 'must be a date (JSON string)',
  },
  {
    name: 'birthDate 30 February (malformed date)',
    breakIt: (b) => ((res(b, PATIENT).birthDate = '1985-02-30'), PATIENT),
    at: 'birthDate', code: 'value', says: 'is not a valid date',
  },
  {
    name: 'a dateTime with hours but no time zone',
    breakIt: (b) => ((res(b, CONDITION).recordedDate = '2024-05-01T09:00:00'), CONDITION),
    at: 'recordedDate', code: 'value', says: 'is not a valid dateTime',
  },
  {
    name: 'an element the Patient does not have',
    breakIt: (b) => ((res(b, PATIENT).nickname = 'An'), PATIENT),
    at: 'nickname', code: 'structure', says: 'Unknown element "nickname"',
  },
  {
    name: 'Patient.gender "nam" (required binding)',
    breakIt: (b) => ((res(b, PATIENT).gender = 'nam'), PATIENT),
    at: 'gender', code: 'code-invalid', says: 'Code nam is not in the value set http://hl7.org/fhir/ValueSet/administrative-gender',
  },
  {
    name: 'MA_LOAI_KCB 99 in the Encounter.type slice (required binding)',
    breakIt: (b) => ((res(b, ENCOUNTER).type[0].coding[0].code = '99'), ENCOUNTER),
    at: 'type[0].coding[0].code', code: 'code-invalid', says: 'loai-kcb|99',
  },
  {
    name: 'two CCCD identifiers on one Patient (slice cardinality)',
    breakIt: (b) => (res(b, PATIENT).identifier.push({ system: SID.cccd, value: '079085009999' }), PATIENT),
    at: 'identifier', code: 'structure', says: 'allows at most 1 "cccd" values, found 2',
  },
  {
    name: 'an ICD-10 code without its dot (hb-icd-1)',
    breakIt: (b) => ((res(b, CONDITION).code.coding[0].code = 'J069'), CONDITION),
    at: 'code.coding[0]', code: 'invariant', says: '(hb-icd-1)',
  },
  {
    name: 'an unknown profile in meta.profile',
    breakIt: (b) => ((res(b, PATIENT).meta = { profile: ['http://example.org/fhir/StructureDefinition/not-here'] }), PATIENT),
    at: 'meta.profile[0]', code: 'not-supported', says: 'Profile http://example.org/fhir/StructureDefinition/not-here is not known to this server',
  },
  {
    name: 'a patient identified by MA_BN only, without an exemption (hb-pat-1)',
    breakIt: (b) => ((res(b, PATIENT).identifier = [{ system: SID.maBn, value: 'BN-0001' }]), PATIENT),
    at: '', code: 'invariant', says: '(hb-pat-1)',
  },
  {
    name: 'an extension of another resource type (hb-ext-treatment-result on the Patient)',
    breakIt: (b) => ((res(b, PATIENT).extension = [res(b, ENCOUNTER).extension[0]]), PATIENT),
    at: 'extension[0].url', code: 'structure', says: 'is not allowed on Patient; only on: Encounter',
  },
  {
    name: 'an extension value of a type its definition does not allow',
    breakIt: (b) => ((res(b, ENCOUNTER).extension[0] = { url: EXT('hb-ext-treatment-result'), valueString: 'khỏi' }), ENCOUNTER),
    at: 'extension[0].value.ofType(string)', code: 'structure', says: 'may not be a string here; allowed: Coding',
  },
];

describe.each(STORES)('Vietnamese profile rules on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());

  const post = (bundle: Bundle) => gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle));
  const validate = (resource: Resource) => gw.http.post(`/fhir/${resource.resourceType}/$validate`).set('Content-Type', FHIR_JSON).send(JSON.stringify(resource));
  const errors = (oo: OperationOutcome) => oo.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  // The finished Encounter also hears about its claim file (issues located in the XML, `location`):
  // that is the outbox's business (test/outbox), not the profiles'.
  const validationIssues = (oo: OperationOutcome | undefined) => (oo?.issue ?? []).filter((i) => !i.location);
  const countAll = async () => (await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0].n;

  it('accepts the unbroken episode', async () => {
    const r = await post(episode());
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((r.body as Bundle).entry!.every((e) => validationIssues(e.response?.outcome as OperationOutcome | undefined).length === 0)).toBe(true);
  });

  describe.each(RULES)('$name', (rule) => {
    let bundle: Bundle;
    let index: number;
    beforeAll(() => {
      bundle = episode();
      index = rule.breakIt(bundle);
    });

    it('fails the write with 422 and exactly one error, located in the bundle', async () => {
      const before = await countAll();
      const r = await post(bundle);
      expect(r.status).toBe(422);
      const oo = r.body as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      const expression = `Bundle.entry[${index}].resource${rule.at ? `.${rule.at}` : ''}`;
      expect(errors(oo).map((i) => ({ severity: i.severity, code: i.code, expression: i.expression }))).toEqual([
        { severity: 'error', code: rule.code, expression: [expression] },
      ]);
      expect(errors(oo)[0].diagnostics).toContain(rule.says);
      expect(errors(oo)[0].details?.text).toBe(errors(oo)[0].diagnostics);
      expect(await countAll()).toBe(before);
    });

    it('gets the same answer from $validate, relative to the resource', async () => {
      const written = (await post(bundle)).body as OperationOutcome;
      const resource = bundle.entry![index].resource!;
      const r = await validate(resource);
      expect(r.status).toBe(200);
      const prefix = `Bundle.entry[${index}].resource`;
      const relocated = written.issue.map((i) => ({ ...i, expression: i.expression?.map((e) => resource.resourceType + e.slice(prefix.length)) }));
      expect((r.body as OperationOutcome).issue).toEqual(relocated);
    });
  });

  describe('identifiers that are valid', () => {
    it('accepts the 10-digit BHXH number instead of a card, on the Patient and on the Coverage', async () => {
      const b = episode();
      const number = bhxh();
      res(b, PATIENT).identifier.push({ system: SID.bhyt, value: number });
      res(b, COVERAGE).identifier[0].value = number;
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it('accepts a 15-character card of every benefit level 1–5', async () => {
      for (const level of [1, 2, 3, 4, 5]) {
        const b = episode();
        res(b, COVERAGE).identifier[0].value = `HT${level}79${bhxh()}`;
        const r = await post(b);
        expect(r.status, `level ${level}: ${JSON.stringify(r.body)}`).toBe(200);
      }
    });

    it('accepts an MA_LK of exactly 100 characters', async () => {
      const b = episode();
      res(b, ENCOUNTER).identifier[0].value = `LK-${String(++serial).padStart(97, '0')}`;
      expect(res(b, ENCOUNTER).identifier[0].value).toHaveLength(100);
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it('accepts a patient identified by passport only (hb-pat-1)', async () => {
      const b = episode();
      res(b, PATIENT).identifier = [{ system: SID.passport, value: `C${++serial}`.padEnd(8, '0') }, { system: SID.maBn, value: 'BN-0002' }];
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect((r.body as Bundle).entry![PATIENT].response?.outcome).toBeUndefined();
    });

    it('accepts a patient without any identity paper when the exemption says why (hb-ext-identity-exemption)', async () => {
      const b = episode();
      res(b, PATIENT).identifier = [{ system: SID.maBn, value: 'BN-0003' }];
      res(b, PATIENT).extension = [{ url: EXT('hb-ext-identity-exemption'), valueCoding: { system: CS('mien-dinh-danh'), code: 'so-sinh' } }];
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it('refuses an exemption with a reason that is not in its value set', async () => {
      const b = episode();
      res(b, PATIENT).identifier = [{ system: SID.maBn, value: 'BN-0004' }];
      res(b, PATIENT).extension = [{ url: EXT('hb-ext-identity-exemption'), valueCoding: { system: CS('mien-dinh-danh'), code: 'quen' } }];
      const r = await post(b);
      expect(r.status).toBe(422);
      expect(errors(r.body).map((i) => [i.code, i.expression![0]])).toEqual([
        ['code-invalid', 'Bundle.entry[0].resource.extension[0].value.ofType(Coding).code'],
      ]);
    });
  });

  describe('patterns', () => {
    /** A discharge paper (hb-discharge-paper) of the episode's patient and encounter. */
    const paper = (b: Bundle, code: string, sections: string[]): BundleEntry => {
      const doc = (type: string, value: string) => ({ url: EXT('hb-ext-document-number'), valueIdentifier: { type: { coding: [{ system: CS('so-giay-to'), code: type }] }, value } });
      return entry({
        resourceType: 'Composition', status: 'final',
        type: { coding: [{ system: CS('loai-giay-to'), code }] },
        subject: { reference: b.entry![PATIENT].fullUrl }, encounter: { reference: b.entry![ENCOUNTER].fullUrl },
        date: '2024-05-01T10:30:00+07:00', author: [{ reference: b.entry![ORGANIZATION].fullUrl }], title: 'Giấy tờ',
        extension: [doc('so-luu-tru', 'LT-1'), { url: EXT('hb-ext-department'), valueIdentifier: { system: SID.maKhoa, value: 'K01' } }],
        section: sections.map((s) => ({
          code: { coding: [{ system: CS('muc-giay-to'), code: s }] },
          text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Nội dung</div>' },
        })),
      } as Resource);
    };
    const bothPapers = ['chan-doan-vao', 'chan-doan-ra-vien', 'qua-trinh-benh-ly', 'tom-tat-ket-qua', 'phuong-phap-dieu-tri'];

    it('accepts a discharge paper, and a record summary that would also do as one', async () => {
      const b = episode();
      b.entry!.push(paper(b, 'giay-ra-vien', ['chan-doan-ra-vien', 'phuong-phap-dieu-tri']), paper(b, 'tom-tat-ho-so-benh-an', bothPapers));
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it('refuses a paper that declares the discharge-paper profile but is typed as another paper (Composition.type pattern)', async () => {
      const b = episode();
      const p = paper(b, 'tom-tat-ho-so-benh-an', bothPapers);
      (p.resource as Composition).meta = { profile: [EXT('hb-discharge-paper')] };
      b.entry!.push(p);
      const r = await post(b);
      expect(r.status).toBe(422);
      const errs = errors(r.body);
      expect(errs.map((i) => [i.code, i.expression![0]])).toEqual([['value', 'Bundle.entry[6].resource.type']]);
      // The message names the code the pattern asks for.
      expect(errs[0].diagnostics).toContain('giay-ra-vien');
    });

    it('validates a resource declaring the core profile against the gateway profile too', async () => {
      const b = episode();
      res(b, PATIENT).meta = { profile: ['http://hl7.org/fhir/StructureDefinition/Patient'] };
      res(b, PATIENT).identifier[0].value = '07908500123';
      const r = await post(b);
      expect(r.status).toBe(422);
      expect(errors(r.body).map((i) => [i.code, i.expression![0]])).toEqual([['invariant', 'Bundle.entry[0].resource.identifier[0].value']]);
    });
  });

  describe('warnings', () => {
    it('stores an Organization without MA_CSKCB and carries the hb-org-1 warning in the entry response', async () => {
      const b = episode();
      delete res(b, ORGANIZATION).identifier;
      const r = await post(b);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const entries = (r.body as Bundle).entry!;
      expect(entries[ORGANIZATION].response?.status).toBe('201 Created');
      const outcome = entries[ORGANIZATION].response?.outcome as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue.map((i) => ({ severity: i.severity, code: i.code, expression: i.expression }))).toEqual([
        { severity: 'warning', code: 'invariant', expression: [`Bundle.entry[${ORGANIZATION}].resource`] },
      ]);
      expect(outcome.issue[0].diagnostics).toContain('(hb-org-1)');
      // Besides the Organization, only the Encounter speaks: its dossier is held until the facility has a code.
      const speaking = entries.flatMap((e, i) => validationIssues(e.response?.outcome as OperationOutcome | undefined).map((issue) => [i, issue.code]));
      expect(speaking).toEqual([[ENCOUNTER, 'business-rule'], [ORGANIZATION, 'invariant']]);
    });

    it('answers the same warning to a single create of the Organization', async () => {
      const r = await gw.http.post('/fhir/Organization').set('Content-Type', FHIR_JSON).set('Prefer', 'return=OperationOutcome')
        .send(JSON.stringify({ resourceType: 'Organization', name: 'Trạm y tế xã chưa có mã' }));
      expect(r.status).toBe(201);
      const issues = (r.body as OperationOutcome).issue;
      expect(issues.filter((i) => i.severity === 'warning').map((i) => [i.code, i.expression])).toEqual([['invariant', ['Organization']]]);
    });

    it('keeps a warning alongside the error of the same resource when the write fails', async () => {
      const b = episode();
      delete res(b, ORGANIZATION).identifier;
      res(b, ORGANIZATION).active = 'yes';
      const r = await post(b);
      expect(r.status).toBe(422);
      const issues = (r.body as OperationOutcome).issue.map((i) => [i.severity, i.code, i.expression![0]]);
      expect(issues).toHaveLength(2);
      expect(issues).toEqual(expect.arrayContaining([
        ['warning', 'invariant', `Bundle.entry[${ORGANIZATION}].resource`],
        ['error', 'structure', `Bundle.entry[${ORGANIZATION}].resource.active`],
      ]));
    });

    // A failing write reports every issue of every entry, warnings of the other entries included.
    it('keeps the warnings of other entries alongside the errors when the write fails', async () => {
      const b = episode();
      delete res(b, ORGANIZATION).identifier;
      res(b, PATIENT).identifier[0].value = '099085001234';
      const r = await post(b);
      expect(r.status).toBe(422);
      const issues = (r.body as OperationOutcome).issue.map((i) => [i.severity, i.code, i.expression![0]]);
      expect(issues).toHaveLength(2);
      expect(issues).toEqual(expect.arrayContaining([
        ['error', 'invariant', 'Bundle.entry[0].resource.identifier[0].value'],
        ['warning', 'invariant', `Bundle.entry[${ORGANIZATION}].resource`],
      ]));
    });
  });

  describe('one issue per fault, every fault reported', () => {
    it('reports each of several faults in several entries once', async () => {
      const b = episode();
      res(b, PATIENT).gender = 'nam';
      res(b, COVERAGE).identifier[0].value = 'DN479791234567';
      res(b, CONDITION).code.coding[0].code = 'J069';
      const r = await post(b);
      expect(r.status).toBe(422);
      expect(errors(r.body).map((i) => [i.code, i.expression![0]]).sort()).toEqual([
        ['code-invalid', 'Bundle.entry[0].resource.gender'],
        ['invariant', 'Bundle.entry[1].resource.identifier[0].value'],
        ['invariant', 'Bundle.entry[3].resource.code.coding[0]'],
      ].sort());
    });

    // A meta that is not an object is refused where it is, on the write as by $validate.
    it('refuses a meta that is not an object on the write as $validate does', async () => {
      for (const meta of ['x', 5]) {
        const b = episode();
        res(b, PATIENT).meta = meta;
        const write = await post(b);
        const check = await validate(b.entry![PATIENT].resource!);
        expect(errors(check.body).map((i) => [i.code, i.expression![0]])).toEqual([['structure', 'Patient.meta']]);
        expect(write.status).toBe(422);
        expect(errors(write.body).map((i) => [i.code, i.expression![0]])).toEqual([['structure', 'Bundle.entry[0].resource.meta']]);
      }
    });

    it('says once that an id is malformed, though both the structural checks and the profile look at it', async () => {
      const patient = res(episode(), PATIENT);
      const r = await validate({ ...patient, id: 'not_an_id' } as unknown as Resource);
      expect(r.status).toBe(200);
      expect((r.body as OperationOutcome).issue.map((i) => [i.severity, i.code, i.expression![0]])).toEqual([['error', 'value', 'Patient.id']]);
    });
  });

  describe('language', () => {
    const broken = () => {
      const b = episode();
      delete res(b, PATIENT).gender;
      return b;
    };

    it('answers in English to Accept-Language: en, on the write and on $validate', async () => {
      const b = broken();
      const write = await post(b);
      expect(write.status).toBe(422);
      expect(errors(write.body)[0].diagnostics).toBe('Patient.gender is required');
      const check = await gw.http.post('/fhir/Patient/$validate').set('Accept-Language', 'en').set('Content-Type', FHIR_JSON).send(JSON.stringify(b.entry![PATIENT].resource));
      expect(errors(check.body)[0].diagnostics).toBe('Patient.gender is required');
    });

    it('answers in Vietnamese without Accept-Language, on the write and on $validate', async () => {
      const b = broken();
      const plain = supertest(gw.app); // without the test agent's default Accept-Language: en
      const write = await plain.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(b));
      expect(write.status).toBe(422);
      expect(errors(write.body)[0].diagnostics).toBe('Thiếu phần tử bắt buộc Patient.gender');
      const check = await plain.post('/fhir/Patient/$validate').set('Content-Type', FHIR_JSON).send(JSON.stringify(b.entry![PATIENT].resource));
      expect(errors(check.body)[0].diagnostics).toBe('Thiếu phần tử bắt buộc Patient.gender');
    });

    it('answers in Vietnamese to Accept-Language: vi, the constraint in its Vietnamese wording', async () => {
      const b = episode();
      res(b, PATIENT).identifier[0].value = '099085001234';
      const r = await gw.http.post('/fhir').set('Accept-Language', 'vi-VN, en;q=0.5').set('Content-Type', FHIR_JSON).send(JSON.stringify(b));
      expect(r.status).toBe(422);
      expect(errors(r.body)[0].diagnostics).toBe('Ba chữ số đầu của số CCCD phải là mã tỉnh nơi đăng ký khai sinh (001–096) (hb-cccd-2)');
    });
  });
});

type Composition = Extract<Resource, { resourceType: 'Composition' }>;
