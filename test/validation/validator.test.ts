import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { loadR4Definitions } from '../../gateway/fhir/definitions.js';
import { textIn, type Issue } from '../../gateway/fhir/outcome.js';
import { generateSnapshot } from '../../gateway/tools/profiles/snapshot.js';
import { ProfileRegistry } from '../../gateway/validation/registry.js';
import { structureValidator } from '../../gateway/validation/structure.js';
import { ProfileValidator } from '../../gateway/validation/validate.js';
import { allOf } from '../../gateway/validation/validator.js';
import { CS, EXT, SID } from '../support/fixtures.js';

/**
 * ProfileValidator without HTTP, mostly on the R4 base definitions (validateAgainst the core
 * StructureDefinition, so that no Vietnamese rule gets in the way). Each case asserts the exact
 * issues: severity, code and FHIRPath expression.
 */
const validator = new ProfileValidator(new ProfileRegistry());
const CORE = 'http://hl7.org/fhir/StructureDefinition/';

type Obj = Record<string, unknown>;
/** [severity, code, expression] of each issue. */
const brief = (issues: Issue[]) => issues.map((i) => [i.severity, i.code, i.expression?.[0]]);
const base = (resource: Obj) => validator.validateAgainst(resource as unknown as Resource, `${CORE}${resource.resourceType as string}`);
const check = (resource: Obj) => brief(base(resource));

const patient = (extra: Obj = {}): Obj => ({ resourceType: 'Patient', ...extra });
const observation = (extra: Obj = {}): Obj => ({ resourceType: 'Observation', status: 'final', code: { text: 'Mạch' }, ...extra });

describe('ProfileValidator on the R4 base rules', () => {
  describe('primitive formats', () => {
    it.each([
      ['2024', true], ['2024-05', true], ['2024-05-01', true],
      ['2024-5-1', false], ['2024-02-30', false], ['2023-02-29', false], ['2024-13', false], ['0000', false],
      ['2024-05-01T08:00:00+07:00', false], [' 2024-05-01', false],
    ])('date %j valid: %s', (value, ok) => {
      expect(check(patient({ birthDate: value }))).toEqual(ok ? [] : [['error', 'value', 'Patient.birthDate']]);
    });

    it.each([
      ['2024-05-01', true], ['2024-05-01T08:00:00Z', true], ['2024-05-01T08:00:00+07:00', true], ['2024-05-01T08:00:00.125-03:30', true],
      // A dateTime with a time must carry its zone, and its seconds.
      ['2024-05-01T08:00:00', false], ['2024-05-01T08:00Z', false], ['2024-05-01T24:00:00Z', false], ['2024-05-01 08:00:00Z', false],
    ])('dateTime %j valid: %s', (value, ok) => {
      expect(check(patient({ deceasedDateTime: value }))).toEqual(ok ? [] : [['error', 'value', 'Patient.deceased.ofType(dateTime)']]);
    });

    it.each([
      ['2024-05-01T08:00:00Z', true], ['2024-05-01T08:00:00.1+07:00', true],
      ['2024-05-01T08:00:00', false], ['2024-05-01', false], ['2024-05', false],
    ])('instant %j valid: %s', (value, ok) => {
      expect(check(observation({ issued: value }))).toEqual(ok ? [] : [['error', 'value', 'Observation.issued']]);
    });

    it('id: the resource id, a contained resource id, and id-typed elements (Meta.versionId)', () => {
      expect(check(patient({ id: 'a-b.C9' }))).toEqual([]);
      expect(check(patient({ id: 'a_b' }))).toEqual([['error', 'value', 'Patient.id']]);
      expect(check(patient({ id: 'x'.repeat(65) }))).toEqual([['error', 'value', 'Patient.id']]);
      expect(check(patient({ meta: { versionId: 'a b' } }))).toEqual([['error', 'value', 'Patient.meta.versionId']]);
      // Resource.id is typed `string` in the R4 snapshots: a contained resource's id needs the same explicit check.
      expect(check(patient({ contained: [{ resourceType: 'Organization', id: 'o_1', name: 'Khoa' }], managingOrganization: { reference: '#o_1' } })))
        .toEqual([['error', 'value', 'Patient.contained[0].id']]);
    });

    it('code: no leading, trailing or double spaces', () => {
      expect(check(patient({ gender: 'male ' }))).toEqual([['error', 'value', 'Patient.gender']]);
      expect(check(patient({ gender: ' male' }))).toEqual([['error', 'value', 'Patient.gender']]);
      expect(check(patient({ text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }, language: 'vi  VN' })))
        .toEqual([['error', 'value', 'Patient.language']]);
    });

    it('decimal: a JSON number, finite', () => {
      expect(check(observation({ valueQuantity: { value: 1.5 } }))).toEqual([]);
      expect(check(observation({ valueQuantity: { value: '1.5' } }))).toEqual([['error', 'structure', 'Observation.value.ofType(Quantity).value']]);
      const infinite = base(observation({ valueQuantity: { value: Infinity } }));
      expect(brief(infinite)).toEqual([['error', 'value', 'Observation.value.ofType(Quantity).value']]);
      expect(textIn(infinite[0].message, 'en')).toBe('Value Infinity is not a valid decimal');
    });

    it('positiveInt and integer: whole numbers in range, as JSON numbers', () => {
      const rank = (r: unknown) => check({ resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' }, diagnosis: [{ condition: { reference: 'Condition/1' }, rank: r }] });
      expect(rank(1)).toEqual([]);
      expect(rank(0)).toEqual([['error', 'value', 'Encounter.diagnosis[0].rank']]);
      expect(rank(1.5)).toEqual([['error', 'value', 'Encounter.diagnosis[0].rank']]);
      expect(rank(2 ** 31)).toEqual([['error', 'value', 'Encounter.diagnosis[0].rank']]);
      expect(rank('1')).toEqual([['error', 'structure', 'Encounter.diagnosis[0].rank']]);
      expect(check(observation({ valueInteger: -3 }))).toEqual([]);
      expect(check(observation({ valueInteger: '5' }))).toEqual([['error', 'structure', 'Observation.value.ofType(integer)']]);
    });

    it('base64Binary, uri, boolean, time, string', () => {
      const photo = (data: string) => check(patient({ photo: [{ contentType: 'image/png', data }] }));
      expect(photo('YWJj')).toEqual([]);
      expect(photo('abc')).toEqual([['error', 'value', 'Patient.photo[0].data']]);
      expect(photo('YW*j')).toEqual([['error', 'value', 'Patient.photo[0].data']]);
      // att-1, an invariant of the Attachment datatype: data needs its contentType.
      expect(check(patient({ photo: [{ data: 'YWJj' }] }))).toEqual([['error', 'invariant', 'Patient.photo[0]']]);
      expect(check(patient({ identifier: [{ system: 'http://example.org/a b', value: '1' }] }))).toEqual([['error', 'value', 'Patient.identifier[0].system']]);
      expect(check(patient({ active: 'true' }))).toEqual([['error', 'structure', 'Patient.active']]);
      expect(check(observation({ valueTime: '25:00:00' }))).toEqual([['error', 'value', 'Observation.value.ofType(time)']]);
      expect(check(patient({ name: [{ family: '   ' }] }))).toEqual([['error', 'value', 'Patient.name[0].family']]);
      expect(check(patient({ name: [{ family: 'Nguyễn\u0007' }] }))).toEqual([['error', 'value', 'Patient.name[0].family']]);
    });

    it('xhtml: a div and nothing active', () => {
      const text = (div: string) => check(patient({ text: { status: 'generated', div } }));
      expect(text('<div xmlns="http://www.w3.org/1999/xhtml"><p>Nguyễn Văn An</p></div>')).toEqual([]);
      expect(text('<p>x</p>')).toEqual([['error', 'value', 'Patient.text.div']]);
      expect(text('<div><script>alert(1)</script></div>')).toEqual([['error', 'value', 'Patient.text.div']]);
      expect(text('<div><a href="javascript:x()">x</a></div>')).toEqual([['error', 'value', 'Patient.text.div']]);
    });
  });

  describe('empty values', () => {
    it.each([
      ['null', { gender: null }, 'Patient.gender'],
      ['an empty string', { gender: '' }, 'Patient.gender'],
      ['an empty object', { maritalStatus: {} }, 'Patient.maritalStatus'],
      ['an empty array', { name: [] }, 'Patient.name'],
      ['null in an array', { name: [null] }, 'Patient.name[0]'],
      ['an empty object in an array', { name: [{}] }, 'Patient.name[0]'],
      ['an empty string in an array', { name: [{ given: [''] }] }, 'Patient.name[0].given[0]'],
      ['an empty object deep down', { maritalStatus: { coding: [{}] } }, 'Patient.maritalStatus.coding[0]'],
    ])('%s is one structure error', (_what, extra, expression) => {
      expect(check(patient(extra))).toEqual([['error', 'structure', expression]]);
    });

    it('a property set to undefined in memory is absent, as it would be in JSON', () => {
      expect(check(patient({ gender: 'female', birthDate: undefined }))).toEqual([]);
    });
  });

  describe('arrays and single values', () => {
    it('a repeating element given as one value, and a single one given as an array', () => {
      expect(check(patient({ name: { family: 'Nguyễn' } }))).toEqual([['error', 'structure', 'Patient.name']]);
      expect(check(patient({ gender: ['male'] }))).toEqual([['error', 'structure', 'Patient.gender']]);
      expect(check(patient({ name: [{ family: ['Nguyễn'] }] }))).toEqual([['error', 'structure', 'Patient.name[0].family']]);
    });

    it('a complex value given as a primitive', () => {
      expect(check(patient({ maritalStatus: 'M' }))).toEqual([['error', 'structure', 'Patient.maritalStatus']]);
      expect(check(patient({ name: ['Nguyễn Văn An'] }))).toEqual([['error', 'structure', 'Patient.name[0]']]);
    });

    it('cardinality of the base: at most one value', () => {
      expect(check(observation({ valueQuantity: { value: 1 }, valueString: 'một' }))).toEqual([['error', 'structure', 'Observation.value']]);
    });

    it('a required element of the base that is missing', () => {
      expect(check({ resourceType: 'Observation', code: { text: 'x' } })).toEqual([['error', 'required', 'Observation.status']]);
    });

    it('an unknown element, also resourceType inside a datatype', () => {
      expect(check(patient({ nickname: 'An' }))).toEqual([['error', 'structure', 'Patient.nickname']]);
      expect(check(patient({ name: [{ resourceType: 'HumanName', family: 'x' }] }))).toEqual([['error', 'structure', 'Patient.name[0].resourceType']]);
    });
  });

  describe('choice types', () => {
    it('names the choice as value.ofType(Type)', () => {
      expect(check(observation({ valueQuantity: { value: 1, unit: 5 } }))).toEqual([['error', 'structure', 'Observation.value.ofType(Quantity).unit']]);
      expect(check(observation({ valueQuantity: 'x' }))).toEqual([['error', 'structure', 'Observation.value.ofType(Quantity)']]);
      expect(check(observation({ valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '' }] } })))
        .toEqual([['error', 'structure', 'Observation.value.ofType(CodeableConcept).coding[0].code']]);
    });

    it('a type the element does not have is unknown', () => {
      expect(check(observation({ valueFoo: 'x' }))).toEqual([['error', 'structure', 'Observation.valueFoo']]);
      // valueDecimal exists on Extension, not on Observation.value[x].
      expect(check(observation({ valueDecimal: 1 }))).toEqual([['error', 'structure', 'Observation.valueDecimal']]);
    });

    it('invariants of the datatype itself apply wherever it is used (qty-3, sqty-1, per-1)', () => {
      expect(check(observation({ valueQuantity: { value: 1, code: 'mg' } }))).toEqual([['error', 'invariant', 'Observation.value.ofType(Quantity)']]);
      expect(check(observation({ valueQuantity: { value: 1, code: 'mg', system: 'http://unitsofmeasure.org' } }))).toEqual([]);
      // referenceRange.low is a SimpleQuantity: no comparator.
      expect(check(observation({ referenceRange: [{ low: { value: 1, comparator: '<' } }] }))).toEqual([['error', 'invariant', 'Observation.referenceRange[0].low']]);
      const encounter = (start: string, end: string) => check({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start, end } });
      expect(encounter('2024-05-02T08:00:00+07:00', '2024-05-01T08:00:00+07:00')).toEqual([['error', 'invariant', 'Encounter.period']]);
      expect(encounter('2024-05-01', '2024-05-01T08:00:00+07:00')).toEqual([]);
    });
  });

  describe('primitive extensions', () => {
    const birthTime = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';

    it('_birthDate carries an id and extensions, validated as an Element', () => {
      expect(check(patient({ birthDate: '2024-05-01', _birthDate: { extension: [{ url: birthTime, valueDateTime: '2024-05-01T03:10:00+07:00' }] } }))).toEqual([]);
      expect(check(patient({ _birthDate: { extension: [{ url: birthTime, valueDateTime: '2024-05-01T03:10' }] } })))
        .toEqual([['error', 'value', 'Patient.birthDate.extension[0].value.ofType(dateTime)']]);
      expect(check(patient({ _birthDate: { foo: 1 } }))).toEqual([['error', 'structure', 'Patient.birthDate.foo']]);
    });

    it('a required primitive given only by its extension is present', () => {
      expect(check({ resourceType: 'Observation', code: { text: 'x' }, _status: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } })).toEqual([]);
    });

    it('_given lines up with given: an array, null where a value has no extension', () => {
      expect(check(patient({ name: [{ given: ['Văn', 'An'], _given: [null, { id: 'g2' }] }] }))).toEqual([]);
      expect(check(patient({ name: [{ given: ['An'], _given: { id: 'g1' } }] }))).toEqual([['error', 'structure', 'Patient.name[0].given']]);
      expect(check(patient({ gender: 'male', _gender: [{ id: 'g' }] }))).toEqual([['error', 'structure', 'Patient.gender']]);
    });

    it('a complex element has no _ form', () => {
      expect(check(patient({ _name: { id: 'x' } }))).toEqual([['error', 'structure', 'Patient.name']]);
    });
  });

  describe('contained resources', () => {
    const org = { resourceType: 'Organization', id: 'o1', name: 'Phòng khám' };

    it('a contained resource nobody refers to is an error (dom-3)', () => {
      const issues = base(patient({ contained: [org] }));
      expect(brief(issues)).toEqual([['error', 'invariant', 'Patient']]);
      expect(textIn(issues[0].message, 'en')).toContain('(dom-3)');
    });

    it('a contained resource referred to, or referring to its container, is fine', () => {
      expect(check(patient({ contained: [org], managingOrganization: { reference: '#o1' } }))).toEqual([]);
      expect(check(patient({ contained: [{ ...org, partOf: { reference: '#' } }] }))).toEqual([]);
      // Referred to only from another contained resource.
      expect(check(patient({ contained: [org, { ...org, id: 'o2', partOf: { reference: '#o1' } }], managingOrganization: { reference: '#o2' } }))).toEqual([]);
    });

    it('a local reference needs its contained resource (ref-1)', () => {
      const issues = base(patient({ managingOrganization: { reference: '#o2' } }));
      expect(brief(issues)).toEqual([['error', 'invariant', 'Patient.managingOrganization']]);
      expect(textIn(issues[0].message, 'en')).toContain('(ref-1)');
      // `#` alone is for a contained resource pointing at its container, not for the container itself.
      expect(check(patient({ managingOrganization: { reference: '#' } }))).toEqual([['error', 'invariant', 'Patient.managingOrganization']]);
    });

    it('a contained resource is validated by its own definition, located under contained', () => {
      expect(check(patient({ contained: [{ ...org, foo: 1 }], managingOrganization: { reference: '#o1' } })))
        .toEqual([['error', 'structure', 'Patient.contained[0].foo']]);
      expect(check(patient({ contained: [{ resourceType: 'Nothing', id: 'o1' }], managingOrganization: { reference: '#o1' } })))
        .toEqual([['error', 'structure', 'Patient.contained[0].resourceType']]);
      expect(check(patient({ contained: [{ ...org, contained: [org] }], managingOrganization: { reference: '#o1' } })).map((i) => i[1])).toContain('invariant'); // dom-2
    });
  });

  describe('references', () => {
    it('allows only the target types of the element', () => {
      expect(check(patient({ managingOrganization: { reference: 'Organization/1' } }))).toEqual([]);
      expect(check(patient({ managingOrganization: { reference: 'Patient/1' } }))).toEqual([['error', 'structure', 'Patient.managingOrganization.reference']]);
      expect(check(patient({ managingOrganization: { reference: 'http://other.example/fhir/Patient/1' } }))).toEqual([['error', 'structure', 'Patient.managingOrganization.reference']]);
      expect(check(patient({ generalPractitioner: [{ reference: 'Practitioner/1' }, { reference: 'Patient/2' }] }))).toEqual([['error', 'structure', 'Patient.generalPractitioner[1].reference']]);
    });

    it('says nothing of references it cannot type (urn:uuid, logical, display only)', () => {
      expect(check(patient({ managingOrganization: { reference: 'urn:uuid:0b2f0b0e-6f4e-4f3a-9a8c-8a1b6f3b2c11' } }))).toEqual([]);
      expect(check(patient({ managingOrganization: { identifier: { system: SID.maCskcb, value: '79024' } } }))).toEqual([]);
      expect(check(patient({ managingOrganization: { display: 'Bệnh viện' } }))).toEqual([]);
    });

    it('an element that allows any resource takes any type', () => {
      expect(check(observation({ focus: [{ reference: 'Coverage/1' }] }))).toEqual([]);
    });
  });

  describe('required bindings', () => {
    it('in nested datatypes: Identifier.use, HumanName.use, ContactPoint.system, Narrative.status', () => {
      expect(check(patient({ identifier: [{ use: 'official', value: '1' }] }))).toEqual([]);
      expect(check(patient({ identifier: [{ use: 'primary', value: '1' }] }))).toEqual([['error', 'code-invalid', 'Patient.identifier[0].use']]);
      expect(check(patient({ name: [{ use: 'nickname', family: 'x' }, { use: 'alias', family: 'y' }] }))).toEqual([['error', 'code-invalid', 'Patient.name[1].use']]);
      expect(check(patient({ telecom: [{ system: 'zalo', value: '0901' }] }))).toEqual([['error', 'code-invalid', 'Patient.telecom[0].system']]);
      expect(check(patient({ text: { status: 'nice', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' } }))).toEqual([['error', 'code-invalid', 'Patient.text.status']]);
    });

    it('a value set it cannot expand (LOINC, languages) is not checked rather than wrongly failed', () => {
      expect(check(patient({ communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'vi' }] } }] }))).toEqual([]);
    });
  });

  describe('extensions of the gateway', () => {
    const claimLine = (parts: Obj[]): Obj => ({
      resourceType: 'ChargeItem', status: 'billable',
      code: { coding: [{ system: CS('dmdc-dich-vu'), code: '01.0001', display: 'Khám bệnh' }] },
      subject: { reference: 'Patient/1' }, context: { reference: 'Encounter/1' },
      occurrenceDateTime: '2024-05-01T08:00:00+07:00', quantity: { value: 1, unit: 'lần' }, costCenter: { reference: 'Organization/1' },
      extension: [{ url: EXT('hb-ext-claim-line'), extension: parts }],
    });
    const parts: Obj[] = [
      { url: 'costGroup', valueCoding: { system: CS('nhom-chi-phi'), code: '1' } },
      { url: 'scope', valueCoding: { system: CS('pham-vi'), code: '1' } },
      { url: 'unitPrice', valueDecimal: 38700 },
      { url: 'insuranceRatio', valueInteger: 100 },
      { url: 'benefitLevel', valueInteger: 80 },
    ];
    const withPart = (url: string, part: Obj | undefined) => parts.flatMap((p) => (p.url === url ? (part ? [part] : []) : [p]));
    const vn = (resource: Obj) => brief(validator.validate(resource as unknown as Resource));

    it('a claim line with its parts is valid', () => {
      expect(vn(claimLine(parts))).toEqual([]);
    });

    it('a part with a value type its definition does not allow: one issue, not also "value is required"', () => {
      expect(vn(claimLine(withPart('unitPrice', { url: 'unitPrice', valueString: '38700' }))))
        .toEqual([['error', 'structure', 'ChargeItem.extension[0].extension[2].value.ofType(string)']]);
    });

    it('a part whose value has the wrong JSON type', () => {
      expect(vn(claimLine(withPart('unitPrice', { url: 'unitPrice', valueDecimal: '38700' }))))
        .toEqual([['error', 'structure', 'ChargeItem.extension[0].extension[2].value.ofType(decimal)']]);
    });

    it('a required part that is missing, and a part code outside its value set', () => {
      expect(vn(claimLine(withPart('scope', undefined)))).toEqual([['error', 'required', 'ChargeItem.extension[0].extension']]);
      expect(vn(claimLine(withPart('scope', { url: 'scope', valueCoding: { system: CS('pham-vi'), code: '9' } }))))
        .toEqual([['error', 'code-invalid', 'ChargeItem.extension[0].extension[1].value.ofType(Coding).code']]);
    });

    it('a simple extension with both a value and parts (ext-1)', () => {
      const eth = { url: EXT('hb-ext-ethnicity'), valueCoding: { system: CS('dan-toc'), code: '01' }, extension: [{ url: 'x', valueString: 'y' }] };
      expect(vn({ resourceType: 'Patient', identifier: [{ system: SID.cccd, value: '079085001234' }], name: [{ family: 'x' }], gender: 'male', birthDate: '1985-03-02', extension: [eth] }))
        .toEqual(expect.arrayContaining([['error', 'invariant', 'Patient.extension[0]']]));
    });

    it('an extension used outside its context', () => {
      const result = { url: EXT('hb-ext-treatment-result'), valueCoding: { system: CS('ket-qua-dieu-tri'), code: '2' } };
      expect(check(patient({ extension: [result] }))).toEqual([['error', 'structure', 'Patient.extension[0].url']]);
      // hb-ext-admin-unit is for an Address, wherever the Address is.
      const unit = { url: EXT('hb-ext-admin-unit'), extension: [{ url: 'province', valueCode: '79' }, { url: 'commune', valueCode: '26734' }] };
      expect(check(patient({ address: [{ text: 'Q.1', extension: [unit] }] }))).toEqual([]);
      expect(check(patient({ extension: [unit] }))).toEqual([['error', 'structure', 'Patient.extension[0].url']]);
    });

    it('an extension nobody defines is accepted (open world), and said so', () => {
      expect(check(patient({ extension: [{ url: 'http://example.org/fhir/ext/x', valueString: 'y' }] })))
        .toEqual([['information', 'extension', 'Patient.extension[0].url']]);
    });

    it('a misspelt extension of the gateway is an error, not silently dropped from the XML', () => {
      expect(check(patient({ extension: [{ url: EXT('hb-ext-ethnicty'), valueString: 'y' }] })))
        .toEqual([['error', 'extension', 'Patient.extension[0].url']]);
    });

    it('a modifier extension nobody defines is refused, wherever it is', () => {
      const unknown = { url: 'http://example.org/fhir/ext/not-really', valueBoolean: true };
      expect(check(patient({ modifierExtension: [unknown] }))).toEqual([['error', 'extension', 'Patient.modifierExtension[0].url']]);
      expect(check(patient({ contact: [{ name: { family: 'x' }, modifierExtension: [unknown] }] })))
        .toEqual([['error', 'extension', 'Patient.contact[0].modifierExtension[0].url']]);
    });
  });

  describe('slicing of Composition sections (hb-discharge-paper)', () => {
    const section = (code: string) => ({
      code: { coding: [{ system: CS('muc-giay-to'), code }] },
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Nội dung</div>' },
    });
    const paper = (codes: string[]) => validator.validate({
      resourceType: 'Composition', status: 'final',
      type: { coding: [{ system: CS('loai-giay-to'), code: 'giay-ra-vien' }] },
      subject: { reference: 'Patient/1' }, encounter: { reference: 'Encounter/1' }, date: '2024-05-01', author: [{ reference: 'Practitioner/1' }], title: 'Giấy ra viện',
      extension: [
        { url: EXT('hb-ext-document-number'), valueIdentifier: { type: { coding: [{ system: CS('so-giay-to'), code: 'so-luu-tru' }] }, value: 'LT-1' } },
        { url: EXT('hb-ext-department'), valueIdentifier: { system: SID.maKhoa, value: 'K01' } },
      ],
      section: codes.map(section),
    } as unknown as Resource);

    it('accepts the required sections, in any order and with others beside them', () => {
      expect(brief(paper(['chan-doan-ra-vien', 'phuong-phap-dieu-tri']))).toEqual([]);
      expect(brief(paper(['qua-trinh-benh-ly', 'phuong-phap-dieu-tri', 'chan-doan-ra-vien']))).toEqual([]);
    });

    it('reports a missing section and a section given twice, at Composition.section', () => {
      const missing = paper(['chan-doan-ra-vien', 'qua-trinh-benh-ly']);
      expect(brief(missing)).toEqual([['error', 'required', 'Composition.section']]);
      expect(textIn(missing[0].message, 'en')).toContain('"phuongPhapDieuTri"');
      const twice = paper(['chan-doan-ra-vien', 'chan-doan-ra-vien', 'phuong-phap-dieu-tri']);
      expect(brief(twice)).toEqual([['error', 'structure', 'Composition.section']]);
      expect(textIn(twice[0].message, 'en')).toContain('"chanDoanRaVien"');
    });

    it('checks the binding of a section that belongs to no slice', () => {
      expect(brief(paper(['chan-doan-ra-vien', 'phuong-phap-dieu-tri', 'khong-co']))).toEqual([['error', 'code-invalid', 'Composition.section[2].code.coding[0].code']]);
    });
  });

  describe('Bundle entries', () => {
    const bundle = (...resources: Obj[]) => ({ resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) });

    it('each entry is validated by the base definition of its own type, located under entry[i].resource', () => {
      expect(check(bundle(patient({ gender: 'nam' }), observation({ foo: 1 })))).toEqual([
        ['error', 'code-invalid', 'Bundle.entry[0].resource.gender'],
        ['error', 'structure', 'Bundle.entry[1].resource.foo'],
      ]);
      expect(check(bundle({ resourceType: 'Nothing' }))).toEqual([['error', 'structure', 'Bundle.entry[0].resource.resourceType']]);
      expect(check(bundle(patient({ id: 'a_b' })))).toEqual([['error', 'value', 'Bundle.entry[0].resource.id']]);
    });

    it('not by the Vietnamese profiles: a document may hold a patient without a CCCD', () => {
      expect(check(bundle(patient({ gender: 'female' })))).toEqual([]);
    });

    it('%resource in an entry is the entry, not the Bundle (obs-7, ref-1)', () => {
      const code = { coding: [{ system: 'http://loinc.org', code: '8867-4' }] };
      expect(check(bundle(observation({ code, valueString: 'x', component: [{ code, valueString: 'x' }] }))))
        .toEqual([['error', 'invariant', 'Bundle.entry[0].resource']]); // obs-7
      expect(check(bundle(
        patient({ managingOrganization: { reference: '#o1' } }),
        patient({ contained: [{ resourceType: 'Organization', id: 'o1', name: 'x' }], managingOrganization: { reference: '#o1' } }),
      ))).toEqual([['error', 'invariant', 'Bundle.entry[0].resource.managingOrganization']]); // ref-1
    });

    it('rules of the Bundle itself (bdl-3: no request in a collection)', () => {
      expect(check({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient({ gender: 'male' }), request: { method: 'POST', url: 'Patient' } }] }))
        .toEqual([['error', 'invariant', 'Bundle']]);
    });
  });

  describe('profiles declared in meta.profile', () => {
    it('an unknown profile is an error at meta.profile[i]', () => {
      expect(brief(validator.validate({ resourceType: 'Observation', meta: { profile: [`${CORE}Observation`, 'http://example.org/p'] }, status: 'final', code: { text: 'x' } } as Resource)))
        .toEqual(expect.arrayContaining([['error', 'not-supported', 'Observation.meta.profile[1]']]));
      expect(brief(validator.validateAgainst(patient() as unknown as Resource, 'http://example.org/p'))).toEqual([['error', 'not-supported', 'Patient']]);
    });

    it('a profile of another type is an error at meta.profile[i]', () => {
      const issues = validator.validate({ ...patient({ gender: 'male' }), meta: { profile: [EXT('hb-encounter')] } } as unknown as Resource);
      expect(brief(issues)).toContainEqual(['error', 'invalid', 'Patient.meta.profile[0]']);
    });

    it('declaring the core profile does not escape the gateway profile', () => {
      const issues = validator.validate({ ...patient({ gender: 'male', name: [{ family: 'x' }], birthDate: '1985-03-02', identifier: [{ system: SID.cccd, value: '07908500123' }] }), meta: { profile: [`${CORE}Patient`] } } as unknown as Resource);
      expect(brief(issues)).toEqual([['error', 'invariant', 'Patient.identifier[0].value']]);
    });
  });

  describe('structural checks and profiles together', () => {
    it('each fault once, though both validators look at the id and meta', () => {
      const both = allOf(structureValidator, validator);
      const valid = patient({ identifier: [{ system: SID.cccd, value: '079085001234' }], name: [{ family: 'Nguyễn' }], gender: 'male', birthDate: '1985-03-02' });
      const run = (extra: Obj) => brief(both.validate({ ...valid, ...extra } as unknown as Resource));
      expect(run({})).toEqual([]);
      expect(run({ id: 'a b' })).toEqual([['error', 'value', 'Patient.id']]);
      expect(run({ meta: 'x' })).toEqual([['error', 'structure', 'Patient.meta']]);
      expect(run({ meta: null })).toEqual([['error', 'structure', 'Patient.meta']]);
    });
  });
});

describe('ProfileValidator on fixed values and patterns (a profile made for the test)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hb-profiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const url = 'http://example.org/fhir/StructureDefinition/test-patient';
  const core = loadR4Definitions();
  const sd = generateSnapshot({
    resourceType: 'StructureDefinition', url, name: 'TestPatient', status: 'draft', kind: 'resource', abstract: false, type: 'Patient',
    baseDefinition: `${CORE}Patient`, derivation: 'constraint',
    differential: {
      element: [
        { id: 'Patient.gender', path: 'Patient.gender', fixedCode: 'female' },
        { id: 'Patient.maritalStatus', path: 'Patient.maritalStatus', fixedCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] } },
        { id: 'Patient.contact.relationship', path: 'Patient.contact.relationship', patternCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] } },
      ],
    },
  } as StructureDefinition, (u) => core.get(u.split('|')[0]));
  writeFileSync(join(dir, 'StructureDefinition-test-patient.json'), JSON.stringify(sd));
  const v = new ProfileValidator(new ProfileRegistry(dir));
  const run = (extra: Obj) => brief(v.validate({ resourceType: 'Patient', meta: { profile: [url] }, ...extra } as unknown as Resource));
  const married = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] };

  it('a fixed primitive must be exactly that value', () => {
    expect(run({ gender: 'female' })).toEqual([]);
    expect(run({ gender: 'male' })).toEqual([['error', 'value', 'Patient.gender']]);
  });

  it('a fixed complex value must be exactly that value: nothing more, nothing less', () => {
    expect(run({ maritalStatus: married })).toEqual([]);
    expect(run({ maritalStatus: { coding: [{ ...married.coding[0], code: 'S' }] } })).toEqual([['error', 'value', 'Patient.maritalStatus']]);
    expect(run({ maritalStatus: { ...married, text: 'Đã kết hôn' } })).toEqual([['error', 'value', 'Patient.maritalStatus']]);
  });

  it('a pattern must be contained in the value, which may say more', () => {
    const next = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] };
    expect(run({ contact: [{ relationship: [{ ...next, text: 'Người thân' }], name: { family: 'x' } }] })).toEqual([]);
    expect(run({ contact: [{ relationship: [{ coding: [{ ...next.coding[0], code: 'E' }] }], name: { family: 'x' } }] }))
      .toEqual([['error', 'value', 'Patient.contact[0].relationship[0]']]);
  });

  it('the message names the expected code', () => {
    const issues = v.validate({ resourceType: 'Patient', meta: { profile: [url] }, maritalStatus: { coding: [{ system: 'x', code: 'S' }] } } as unknown as Resource);
    expect(textIn(issues[0].message, 'en')).toBe('Patient.maritalStatus must be http://terminology.hl7.org/CodeSystem/v3-MaritalStatus|M');
  });
});
