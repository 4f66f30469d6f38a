import type { Coverage, CoverageEligibilityResponse, CoverageEligibilityResponseInsurance, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { canonical, CANONICAL } from '../fhir/vn.js';
import { BENEFIT_LEVELS, benefitLevelOf, cardCoverage, describeCard, type CardFacts } from './card-coverage.js';
import type { EligibilityInput } from './eligibility-request.js';
import type { CardAnswer } from './portal-lookup.js';
import { eligibilityOutcome, RESULT_CODE_SYSTEM, type ResultCode } from './result-codes.js';
import { visitEncounters } from './visit-history.js';

/**
 * The CoverageEligibilityResponse of one lookup. It stands on its own: the cards as BHXH described
 * them are contained Coverages (validity, MA_DKBD, area, five-year date, group and benefit level —
 * the stored Coverage may change later, this is what BHXH said then), each an `insurance` with
 * `inforce`, `benefitPeriod` and the benefit level as a percentage; the portal's result code (when
 * not 000) is the coded `error`, its own words the error's text; `disposition` says what it means
 * for the receptionist and what to do — in Vietnamese unless the client's Accept-Language prefers
 * English (the resource's `language` says which); the recent visits are
 * contained Encounters listed by hb-ext-recent-encounter.
 */
export const LOOKUP_ID_SYSTEM = `${CANONICAL}/sid/tra-cuu-the`;

export interface ResponseInput {
  input: EligibilityInput;
  answer: CardAnswer;
  meaning: ResultCode;
  facts: { card?: CardFacts; replacement?: CardFacts };
  lookupId: string;
  now: Date;
  /** Vietnamese unless the client prefers English (Accept-Language), like every message of the gateway. */
  lang: 'vi' | 'en';
}

export function eligibilityResponse(r: ResponseInput): CoverageEligibilityResponse {
  const { input, answer, meaning, facts } = r;
  const today = r.now.toISOString().slice(0, 10);
  const patientRef: Reference<Patient> = input.storedPatient ? { reference: `Patient/${input.storedPatient.id}` } : { reference: '#patient' };
  const contained: Resource[] = [];
  if (!input.storedPatient) contained.push({ ...(input.patient as Patient), id: 'patient', meta: undefined } as Patient);

  const insurance: CoverageEligibilityResponseInsurance[] = [];
  const cards: { facts: CardFacts; id: string; inforce?: boolean }[] = [];
  // What BHXH says about the card itself, for the answers that describe one.
  const family = meaning.family;
  if (facts.card && family !== 'card-unknown' && family !== 'identity' && family !== 'officer' && family !== 'child-without-card') {
    const inforce = family === 'valid' ? true : family === 'other-agency' ? undefined : family === 'new-card' ? meaning.code === '004' : false;
    cards.push({ facts: facts.card, id: 'card', inforce });
  }
  if (facts.replacement && family === 'new-card') {
    const f = facts.replacement;
    cards.push({ facts: f, id: 'new-card', inforce: !!f.start && f.start <= today && (!f.end || today <= f.end) });
  }
  for (const c of cards) {
    const status = family === 'revoked' || family === 'reduced' ? 'cancelled' : 'active';
    contained.push({ ...stripUndefined(cardCoverage(c.facts, patientRef, undefined, status)), id: c.id } as Coverage);
    const level = benefitLevelOf(c.facts.maThe);
    insurance.push({
      coverage: { reference: `#${c.id}`, display: `Thẻ BHYT ${c.facts.maThe}` },
      ...(c.inforce === undefined ? {} : { inforce: c.inforce }),
      ...(c.facts.start || c.facts.end ? { benefitPeriod: { ...(c.facts.start ? { start: c.facts.start } : {}), ...(c.facts.end ? { end: c.facts.end } : {}) } } : {}),
      ...(level
        ? {
            item: [{
              category: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/ex-benefitcategory', code: '30', display: 'Health Benefit Plan Coverage' }] },
              description: BENEFIT_LEVELS[level].vi,
              benefit: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/benefit-type', code: 'benefit', display: 'Benefit' }], text: `Mức hưởng BHYT ${level} (tỷ lệ quỹ chi trả, %)` }, allowedUnsignedInt: BENEFIT_LEVELS[level].percent }],
            }],
          }
        : {}),
    });
  }

  const visits = family === 'valid' || family === 'new-card' ? visitEncounters(answer.visits, patientRef) : [];
  contained.push(...visits);

  const describe = (lang: 'vi' | 'en') => {
    const lines = [`${meaning.label[lang]}.`];
    if (cards[0]) lines.push(`${lang === 'vi' ? 'Thẻ' : 'Card'}: ${describeCard(cards[0].facts, lang)}.`);
    if (cards[1]) lines.push(`${lang === 'vi' ? 'Thẻ mới' : 'New card'}: ${describeCard(cards[1].facts, lang)}.`);
    lines.push(meaning.advice[lang]);
    if (visits.length) lines.push(lang === 'vi' ? `${visits.length} lượt khám chữa bệnh gần đây.` : `${visits.length} recent visit(s).`);
    return lines.join(' ');
  };

  const response: CoverageEligibilityResponse = {
    resourceType: 'CoverageEligibilityResponse',
    language: r.lang,
    ...(contained.length ? { contained } : {}),
    ...(visits.length ? { extension: visits.map((v) => ({ url: canonical('StructureDefinition', 'hb-ext-recent-encounter'), valueReference: { reference: `#${v.id}` } })) } : {}),
    identifier: [{ system: LOOKUP_ID_SYSTEM, value: r.lookupId }],
    status: 'active',
    purpose: input.request.purpose?.length ? input.request.purpose : ['validation', 'benefits'],
    patient: patientRef,
    ...(input.request.servicedDate ? { servicedDate: input.request.servicedDate } : {}),
    created: r.now.toISOString(),
    requestor: input.organization ? { reference: `Organization/${input.organization.id}` } : { identifier: { system: 'http://fhir.hl7.org.vn/core/sid/ma-cskcb', value: input.facility } },
    // The request itself is not stored: it is named by the client's identifier, or by this lookup's.
    request: { identifier: input.request.identifier?.[0] ?? { system: LOOKUP_ID_SYSTEM, value: r.lookupId } },
    outcome: eligibilityOutcome(family),
    disposition: describe(r.lang),
    insurer: { display: answer.cqBHXH ?? 'Bảo hiểm xã hội Việt Nam' },
    ...(insurance.length ? { insurance } : {}),
    ...(meaning.code !== '000'
      ? { error: [{ code: { coding: [{ system: RESULT_CODE_SYSTEM, code: meaning.code, display: meaning.label.vi }], text: answer.ghiChu ?? meaning.label.vi } }] }
      : {}),
  } as CoverageEligibilityResponse;
  return response;
}

/** JSON has no undefined: drop the keys a spread left undefined before the resource is validated. */
export function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
