/**
 * Vietnamese identifier systems and code systems, in one place so that they can be swapped when
 * the Ministry publishes official URIs (../shared/spec/qd1332-healthbook.md §3.3).
 *
 * Identifier systems reuse the community VN Core IG (`http://fhir.hl7.org.vn/core/sid/…`) where it
 * defines one; the gateway's own artifacts live under its own canonical base.
 */
export const CANONICAL = 'https://healthbook-gateway.vn/fhir';

export const SID = {
  /** CCCD card number = the 12-digit personal identification number (số định danh cá nhân). */
  cccd: 'http://fhir.hl7.org.vn/core/sid/cccd',
  /** BHYT card number: 15 characters (or the 10-digit BHXH number). */
  bhyt: 'http://fhir.hl7.org.vn/core/sid/bhyt',
  /** Facility code MA_CSKCB (5 characters). */
  maCskcb: 'http://fhir.hl7.org.vn/core/sid/ma-cskcb',
  /** Episode link key MA_LK (at most 100 characters). */
  maLk: 'http://fhir.hl7.org.vn/core/sid/ma-lk',
  passport: 'http://fhir.hl7.org.vn/core/sid/passport',
  /** Old 9-digit identity card (kept for legacy data). */
  cmnd: 'http://fhir.hl7.org.vn/core/sid/cmnd',
  /** The gateway's own systems, for what VN Core names no URI for. */
  maBn: `${CANONICAL}/sid/ma-bn`,
  maHsba: `${CANONICAL}/sid/ma-hsba`,
  /** 10-digit social-insurance (BHXH) number of a person: staff codes MA_TTDV, MA_BS; parents MA_CHA/MA_ME. */
  bhxh: `${CANONICAL}/sid/ma-bhxh`,
  /** Practice certificate (CCHN / GPHN) of a health worker: MA_BAC_SI, NGUOI_THUC_HIEN. */
  cchn: `${CANONICAL}/sid/cchn`,
  /** Temporary BHYT card of a newborn or organ donor (MA_THE_TAM). */
  bhytTam: `${CANONICAL}/sid/bhyt-the-tam`,
  /** Department code MA_KHOA. */
  maKhoa: `${CANONICAL}/sid/ma-khoa`,
} as const;

export const CODE_SYSTEM = {
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd9cm: 'http://hl7.org/fhir/sid/icd-9-cm',
  loinc: 'http://loinc.org',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
} as const;

/** Canonical URL of one of the gateway's own artifacts: `…/StructureDefinition/hb-patient`. */
export const canonical = (type: string, id: string) => `${CANONICAL}/${type}/${id}`;

/**
 * Province codes that open a CCCD number (TT 07/2016/TT-BCA, the 63 provinces of the numbering in
 * force when the cards were issued).
 */
export const CCCD_PROVINCES: readonly string[] = [
  '001', '002', '004', '006', '008', '010', '011', '012', '014', '015', '017', '019', '020', '022', '024', '025',
  '026', '027', '030', '031', '033', '034', '035', '036', '037', '038', '040', '042', '044', '045', '046', '048',
  '049', '051', '052', '054', '056', '058', '060', '062', '064', '066', '067', '068', '070', '072', '074', '075',
  '077', '079', '080', '082', '083', '084', '086', '087', '089', '091', '092', '093', '094', '095', '096',
];

/** Beneficiary-group codes that open a 15-character BHYT card (the VNeID input rule, QĐ 2733 guides). */
export const BHYT_GROUPS: readonly string[] = [
  'DN', 'HX', 'CH', 'NN', 'TK', 'HC', 'XK', 'HT', 'TB', 'NO', 'CT', 'XB', 'TN', 'CS', 'QN', 'CA', 'CY', 'XN', 'MS',
  'CC', 'CK', 'CB', 'KC', 'HD', 'TE', 'BT', 'HN', 'DT', 'DK', 'XD', 'TS', 'TC', 'TQ', 'TA', 'TY', 'HG', 'LS', 'PV',
  'CN', 'HS', 'SV', 'GB', 'GD',
];

/** A 15-character BHYT card: group (2 letters), benefit level 1–5, province (2 digits), BHXH number (10 digits). */
export const BHYT_CARD = new RegExp(`^(${BHYT_GROUPS.join('|')})[1-5][0-9]{2}([0-9]{10})$`);
export const BHXH_NUMBER = /^[0-9]{10}$/;
export const CCCD_NUMBER = /^[0-9]{12}$/;

/** How identifiers are compared when searched: spaces dropped, letters upper-cased. */
export function normalizeIdentifier(value: string): string {
  return value.replace(/\s+/g, '').toUpperCase();
}

/**
 * The 10-digit BHXH number a BHYT card value carries: the card's last 10 digits, or the value itself
 * when it is already a BHXH number. A person keeps it when the card's group or level changes.
 */
export function bhxhNumberOf(value: string): string | undefined {
  const v = normalizeIdentifier(value);
  if (BHXH_NUMBER.test(v)) return v;
  return BHYT_CARD.exec(v)?.[2];
}

/**
 * The forms under which an identifier is found: its normalised value, and for a BHYT card (or a
 * value that looks like one, when no system says otherwise) also the BHXH number it carries — so that
 * a receptionist's 15-character card finds the patient whose record holds the 10-digit number, an
 * older card of another group, or the card itself.
 */
export function identifierForms(system: string | undefined, value: string): { system?: string; value: string }[] {
  const normalized = normalizeIdentifier(value);
  const forms: { system?: string; value: string }[] = [{ ...(system ? { system } : {}), value: normalized }];
  if (!system || system === SID.bhyt) {
    const bhxh = bhxhNumberOf(normalized);
    if (bhxh && bhxh !== normalized) forms.push({ ...(system ? { system } : {}), value: bhxh });
  }
  return forms;
}

/** Identifier systems that name one person: a second Patient holding the same value is a conflict, never merged silently. */
export const PERSON_IDENTIFIER_SYSTEMS: readonly string[] = [SID.cccd, SID.passport, SID.bhyt];
