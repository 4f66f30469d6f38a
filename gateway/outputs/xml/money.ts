import type { Text } from '../../fhir/outcome.js';
import { formatDecimal, fromInteger, max, multiply, percent, round, toDecimal, type Decimal } from './decimal.js';

/**
 * The money rules of a claim line (QĐ 4750 §3.8), exactly: amounts rounded half up to 2 decimals,
 * other-source money deducted from the patient's self-pay, then the co-payment, then the fund's share
 * (rule (a), money given to the patient). Used to fill the amounts a hospital system left out and to
 * check the ones it sent.
 */
export interface LineInput {
  quantity: Decimal;
  /** DON_GIA (XML2) or DON_GIA_BV (XML3). */
  hospitalPrice: Decimal;
  /** DON_GIA_BH (XML3); XML2 has one price. */
  insurancePrice: Decimal;
  /** TYLE_TT_DV, XML3 only (100 elsewhere). */
  serviceRatio: number;
  /** TYLE_TT_BH. */
  insuranceRatio: number;
  /** MUC_HUONG. */
  benefitLevel: number;
  /** T_NGUONKHAC: the four other sources together. */
  otherSources: Decimal;
}

export interface LineAmounts {
  THANH_TIEN_BV: Decimal;
  THANH_TIEN_BH: Decimal;
  T_BNTT: Decimal;
  T_BNCCT: Decimal;
  T_BHTT: Decimal;
}

export function lineAmounts(l: LineInput): LineAmounts {
  const bv = round(percent(multiply(l.quantity, l.hospitalPrice), l.serviceRatio), 2);
  const bh = round(percent(percent(multiply(l.quantity, l.insurancePrice), l.serviceRatio), l.insuranceRatio), 2);
  const bntt0 = bv - bh;
  const bhtt0 = round(percent(bh, l.benefitLevel), 2);
  const bncct0 = bh - bhtt0;
  const other = l.otherSources;
  return {
    THANH_TIEN_BV: bv,
    THANH_TIEN_BH: bh,
    T_BNTT: max(0n, bntt0 - other),
    T_BNCCT: other <= bntt0 ? bncct0 : max(0n, bncct0 - (other - bntt0)),
    T_BHTT: other < bncct0 + bntt0 ? bhtt0 : bhtt0 - (other - bncct0 - bntt0),
  };
}

export type Row = Record<string, unknown>;

export interface MoneyProblem {
  field: string;
  severity: 'error' | 'warning';
  message: Text;
}

const OTHER_SOURCES = ['T_NGUONKHAC_NSNN', 'T_NGUONKHAC_VTNN', 'T_NGUONKHAC_VTTN', 'T_NGUONKHAC_CL'];
const AMOUNTS = ['THANH_TIEN_BV', 'THANH_TIEN_BH', 'T_BNTT', 'T_BNCCT', 'T_BHTT'] as const;
/** Amounts that depend on whom other-source money was given to. */
const DEPENDS_ON_OTHER_SOURCES = new Set<string>(['THANH_TIEN_BH', 'T_BNTT', 'T_BNCCT', 'T_BHTT']);

/**
 * An XML2 or XML3 row with its amounts: what was sent is checked against §3.8, what is missing is
 * computed (as text with the standard's decimals). The other sources default to 0, T_NGUONKHAC to
 * their sum, DON_GIA_BH to DON_GIA_BV and TYLE_TT_DV to 100. Rows lacking a quantity, a price or a
 * ratio are returned as they are: row validation reports the missing field.
 */
export function completeLineAmounts(row: Row): { row: Row; problems: MoneyProblem[] } {
  const problems: MoneyProblem[] = [];
  const out: Row = { ...row };
  const xml3 = 'DON_GIA_BV' in row;
  const hospitalPrice = toDecimal(xml3 ? row.DON_GIA_BV : row.DON_GIA);
  const quantity = toDecimal(row.SO_LUONG);
  const insuranceRatio = toDecimal(row.TYLE_TT_BH);
  const benefitLevel = toDecimal(row.MUC_HUONG);
  if (quantity === undefined || hospitalPrice === undefined || insuranceRatio === undefined || benefitLevel === undefined) return { row, problems };

  let others = 0n;
  for (const f of OTHER_SOURCES) {
    const v = toDecimal(row[f]);
    if (v === undefined) out[f] = '0';
    else others += v;
  }
  const sentOther = toDecimal(row.T_NGUONKHAC);
  if (sentOther === undefined) out.T_NGUONKHAC = formatDecimal(others, 2);
  else if (round(sentOther, 2) !== round(others, 2)) problems.push(mismatch('T_NGUONKHAC', sentOther, others, 'T_NGUONKHAC_NSNN + _VTNN + _VTTN + _CL'));

  const insurancePrice = xml3 ? (toDecimal(row.DON_GIA_BH) ?? hospitalPrice) : hospitalPrice;
  if (xml3 && toDecimal(row.DON_GIA_BH) === undefined) out.DON_GIA_BH = formatDecimal(hospitalPrice, 3);
  const serviceRatio = xml3 ? (toDecimal(row.TYLE_TT_DV) ?? fromInteger(100)) : fromInteger(100);
  if (xml3 && toDecimal(row.TYLE_TT_DV) === undefined) out.TYLE_TT_DV = '100';

  const expected = lineAmounts({
    quantity,
    hospitalPrice,
    insurancePrice,
    serviceRatio: wholePercent(serviceRatio),
    insuranceRatio: wholePercent(insuranceRatio),
    benefitLevel: wholePercent(benefitLevel),
    otherSources: sentOther ?? others,
  });
  // With other-source money the amounts depend on whom it was given to (§3.8 (a) the patient, (b) the
  // facility — deducted before THANH_TIEN_BH —, (c) MoH special cases), which the data does not say:
  // sent amounts are then only held to the identity below; missing ones are computed by (a).
  const splitIsOpen = (sentOther ?? others) > 0n;
  for (const field of AMOUNTS) {
    const sent = toDecimal(row[field]);
    if (sent === undefined) out[field] = formatDecimal(expected[field], 2);
    else if (round(sent, 2) !== expected[field] && !(splitIsOpen && DEPENDS_ON_OTHER_SOURCES.has(field))) problems.push(mismatch(field, sent, expected[field], FORMULA[field]));
  }
  // Whatever was sent, the line must add up: the portal checks this identity (§3.8).
  const total = ['T_BNTT', 'T_BNCCT', 'T_BHTT', 'T_NGUONKHAC'].reduce((sum, f) => sum + (toDecimal(out[f]) ?? 0n), 0n);
  const bv = toDecimal(out.THANH_TIEN_BV);
  if (bv !== undefined && round(total, 2) !== round(bv, 2)) {
    problems.push({
      field: 'THANH_TIEN_BV',
      severity: 'error',
      message: {
        vi: `T_BNTT + T_BNCCT + T_BHTT + T_NGUONKHAC = ${formatDecimal(total, 2)} phải bằng THANH_TIEN_BV = ${formatDecimal(bv, 2)}`,
        en: `T_BNTT + T_BNCCT + T_BHTT + T_NGUONKHAC = ${formatDecimal(total, 2)} must equal THANH_TIEN_BV = ${formatDecimal(bv, 2)}`,
      },
    });
  }
  return { row: out, problems };
}

const FORMULA: Record<(typeof AMOUNTS)[number], string> = {
  THANH_TIEN_BV: 'SO_LUONG × DON_GIA(_BV) × TYLE_TT_DV / 100',
  THANH_TIEN_BH: 'SO_LUONG × DON_GIA(_BH) × TYLE_TT_DV / 100 × TYLE_TT_BH / 100',
  T_BNTT: 'THANH_TIEN_BV − THANH_TIEN_BH − T_NGUONKHAC (≥ 0)',
  T_BNCCT: 'THANH_TIEN_BH − T_BHTT, less other sources beyond the self-pay',
  T_BHTT: 'THANH_TIEN_BH × MUC_HUONG / 100, less other sources beyond the patient’s share',
};

/** A ratio as whole percent (TYLE_TT_DV 33, MUC_HUONG 32); ratios are integers in the standard. */
const wholePercent = (d: Decimal) => Number(round(d, 0) / 10n ** 6n);

function mismatch(field: string, sent: Decimal, expected: Decimal, formula: string): MoneyProblem {
  return {
    field,
    severity: 'error',
    message: {
      vi: `${field} gửi ${formatDecimal(sent, 2)} nhưng theo QĐ 4750 (${formula}) phải là ${formatDecimal(expected, 2)}`,
      en: `${field} was sent as ${formatDecimal(sent, 2)} but by QĐ 4750 (${formula}) it is ${formatDecimal(expected, 2)}`,
    },
  };
}
