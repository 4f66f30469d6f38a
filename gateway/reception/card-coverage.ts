import type { Coverage, CoverageClass, Extension, Patient, Reference } from '@medplum/fhirtypes';
import { canonical, CODE_SYSTEM, normalizeIdentifier, SID } from '../fhir/vn.js';
import { portalDate, type CardAnswer } from './portal-lookup.js';

/**
 * A BHYT card as BHXH described it, and the Coverage that carries it (profile hb-coverage: card
 * number, validity, MA_DKBD, area, five-year date), so that the claim file later carries the card
 * data BHXH knows rather than what was typed at the desk.
 */
export interface CardFacts {
  maThe: string;
  /** FHIR dates. */
  start?: string;
  end?: string;
  maDKBD?: string;
  maKV?: string;
  fiveYears?: string;
  agency?: string;
}

/** The card the answer is about and, for 003/004, the card that replaces it. */
export function cardFacts(answer: CardAnswer): { card?: CardFacts; replacement?: CardFacts } {
  const card = answer.maThe
    ? { maThe: normalizeIdentifier(answer.maThe), start: portalDate(answer.gtTheTu), end: portalDate(answer.gtTheDen), maDKBD: answer.maDKBD, maKV: answer.maKV, fiveYears: portalDate(answer.ngayDu5Nam), agency: answer.cqBHXH }
    : undefined;
  const replacement = answer.maTheMoi
    ? { maThe: normalizeIdentifier(answer.maTheMoi), start: portalDate(answer.gtTheTuMoi), end: portalDate(answer.gtTheDenMoi), maDKBD: answer.maDKBDMoi, fiveYears: card?.fiveYears, agency: answer.cqBHXH }
    : undefined;
  return { card, replacement };
}

/**
 * The benefit level, character 3 of a 15-character card (QĐ 1351/QĐ-BHXH; Luật BHYT art. 22):
 * the share of covered costs the fund pays.
 */
export const BENEFIT_LEVELS: Record<string, { percent: number; vi: string; en: string }> = {
  '1': { percent: 100, vi: 'Mức 1: 100% chi phí, không giới hạn tỷ lệ thanh toán thuốc, vật tư, dịch vụ kỹ thuật; cả chi phí vận chuyển', en: 'Level 1: 100%, no payment-ratio limits on drugs, supplies and services; transport included' },
  '2': { percent: 100, vi: 'Mức 2: 100% chi phí (có giới hạn tỷ lệ thanh toán một số thuốc, vật tư, dịch vụ kỹ thuật)', en: 'Level 2: 100% (payment-ratio limits on some drugs, supplies and services)' },
  '3': { percent: 95, vi: 'Mức 3: 95% chi phí', en: 'Level 3: 95%' },
  '4': { percent: 80, vi: 'Mức 4: 80% chi phí', en: 'Level 4: 80%' },
  '5': { percent: 100, vi: 'Mức 5: 100% chi phí, kể cả ngoài phạm vi được hưởng BHYT', en: 'Level 5: 100%, including costs outside the BHYT scope' },
};

export const benefitLevelOf = (maThe: string): string | undefined => (/^[A-Z]{2}[1-5]/.test(maThe) ? maThe[2] : undefined);

const EXT = {
  registration: canonical('StructureDefinition', 'hb-ext-registration-facility'),
  area: canonical('StructureDefinition', 'hb-ext-area'),
  fiveYears: canonical('StructureDefinition', 'hb-ext-five-years'),
};
const MANAGED_EXTENSIONS = new Set(Object.values(EXT));
const COVERAGE_CLASS = 'http://terminology.hl7.org/CodeSystem/coverage-class';

/**
 * The Coverage of a card: what BHXH said replaces what the gateway held about it (dates, MA_DKBD,
 * area, five-year date, group and level, status); everything else of an existing Coverage (other
 * identifiers, relationship, payor, the HIS's own extensions) is kept.
 */
export function cardCoverage(facts: CardFacts, beneficiary: Reference<Patient>, existing?: Coverage, status: Coverage['status'] = 'active'): Coverage {
  const extension: Extension[] = [
    ...(existing?.extension ?? []).filter((e) => !MANAGED_EXTENSIONS.has(e.url)),
    ...(facts.maDKBD ? [{ url: EXT.registration, valueIdentifier: { system: SID.maCskcb, value: facts.maDKBD } }] : []),
    ...(facts.maKV && /^K[123]$/.test(facts.maKV) ? [{ url: EXT.area, valueCoding: { system: canonical('CodeSystem', 'khu-vuc'), code: facts.maKV } }] : []),
    ...(facts.fiveYears && /^\d{4}-\d{2}-\d{2}$/.test(facts.fiveYears) ? [{ url: EXT.fiveYears, valueDate: facts.fiveYears }] : []),
  ];
  const level = benefitLevelOf(facts.maThe);
  const classes: CoverageClass[] = [
    ...(existing?.class ?? []).filter((c) => !c.type.coding?.some((x) => x.system === COVERAGE_CLASS && (x.code === 'group' || x.code === 'plan'))),
    ...(facts.maThe.length === 15 ? [{ type: { coding: [{ system: COVERAGE_CLASS, code: 'group', display: 'Group' }] }, value: facts.maThe.slice(0, 2), name: 'Mã đối tượng tham gia BHYT' }] : []),
    ...(level ? [{ type: { coding: [{ system: COVERAGE_CLASS, code: 'plan', display: 'Plan' }] }, value: level, name: BENEFIT_LEVELS[level].vi }] : []),
  ];
  const identifier = [
    { system: SID.bhyt, value: facts.maThe },
    ...(existing?.identifier ?? []).filter((i) => i.system !== SID.bhyt),
  ];
  return {
    ...existing,
    resourceType: 'Coverage',
    ...(extension.length ? { extension } : { extension: undefined }),
    identifier,
    status,
    type: existing?.type ?? { coding: [{ system: CODE_SYSTEM.actCode, code: 'PUBLICPOL', display: 'public healthcare' }], text: 'Bảo hiểm y tế' },
    beneficiary,
    relationship: existing?.relationship ?? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self', display: 'Self' }] },
    ...(facts.start || facts.end ? { period: { ...(facts.start ? { start: facts.start } : {}), ...(facts.end ? { end: facts.end } : {}) } } : existing?.period ? { period: existing.period } : {}),
    payor: existing?.payor?.length ? existing.payor : [{ display: facts.agency ?? 'Bảo hiểm xã hội Việt Nam' }],
    ...(classes.length ? { class: classes } : { class: undefined }),
    meta: undefined,
  };
}

/** Whether a stored Coverage is this card: the same number, or the number the desk looked up (a 10-digit BHXH number held by the HIS). */
export function isCard(coverage: Coverage, numbers: string[]): boolean {
  return (coverage.identifier ?? []).some((i) => i.system === SID.bhyt && i.value && numbers.includes(normalizeIdentifier(i.value)));
}

/** A one-line description of a card, for a receptionist. */
export function describeCard(facts: CardFacts, lang: 'vi' | 'en' = 'vi'): string {
  const day = (d?: string) => (d && /^\d{4}-\d{2}-\d{2}$/.test(d) ? `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(0, 4)}` : d ?? '?');
  const level = benefitLevelOf(facts.maThe);
  const vi = lang === 'vi';
  return [
    facts.maThe,
    `${vi ? 'hạn' : 'valid'} ${day(facts.start)}–${day(facts.end)}`,
    facts.maDKBD ? `${vi ? 'nơi ĐKBĐ' : 'registered at'} ${facts.maDKBD}` : undefined,
    level ? `${vi ? 'mức hưởng' : 'benefit level'} ${level} (${BENEFIT_LEVELS[level].percent}%)` : undefined,
    facts.fiveYears ? `${vi ? 'đủ 5 năm liên tục từ' : 'five continuous years from'} ${day(facts.fiveYears)}` : undefined,
  ].filter(Boolean).join(', ');
}
