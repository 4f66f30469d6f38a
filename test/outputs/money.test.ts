import { describe, expect, it } from 'vitest';
import { formatDecimal, toDecimal } from '../../gateway/outputs/xml/decimal.js';
import { completeLineAmounts, lineAmounts } from '../../gateway/outputs/xml/money.js';

/** Amounts worked out by hand from QĐ 4750 §3.8, in VND. */
const d = (v: number | string) => toDecimal(v)!;
const text = (amounts: Record<string, bigint>) => Object.fromEntries(Object.entries(amounts).map(([k, v]) => [k, formatDecimal(v, 2)]));

describe('decimal arithmetic', () => {
  it('rounds half up where binary floating point rounds down', () => {
    expect(1.005.toFixed(2)).toBe('1.00'); // the trap
    expect(formatDecimal(d(1.005), 2)).toBe('1.01');
    expect(formatDecimal(d('2.675'), 2)).toBe('2.68');
    expect(formatDecimal(d(0.1 + 0.2), 2)).toBe('0.30');
    expect(formatDecimal(d(38700), 3)).toBe('38700.000');
    expect(formatDecimal(d('-1.005'), 2)).toBe('-1.01');
  });

  it('reads only decimal numbers', () => {
    expect(toDecimal('12,5')).toBeUndefined();
    expect(toDecimal('1e3')).toBeUndefined();
    expect(toDecimal(Number.NaN)).toBeUndefined();
    expect(formatDecimal(d(1e21), 0)).toBe('1000000000000000000000');
  });
});

describe('line amounts (§3.8)', () => {
  const base = { quantity: d(2), hospitalPrice: d(38700), insurancePrice: d(38700), serviceRatio: 100, insuranceRatio: 100, benefitLevel: 80, otherSources: 0n };

  it('splits a line between the fund and the patient by the benefit level', () => {
    // 2 × 38,700 = 77,400; the fund pays 80 % = 61,920; the patient co-pays 15,480.
    expect(text(lineAmounts(base) as unknown as Record<string, bigint>)).toEqual({
      THANH_TIEN_BV: '77400.00', THANH_TIEN_BH: '77400.00', T_BNTT: '0.00', T_BNCCT: '15480.00', T_BHTT: '61920.00',
    });
  });

  it('applies a service ratio to both amounts and an insurance ratio to the insured amount', () => {
    // Second exam at 30 %: 38,700 × 30 % = 11,610; a 50 % ratio item of it: 5,805 insured, fund 95 % = 5,514.75.
    const a = lineAmounts({ ...base, quantity: d(1), serviceRatio: 30, insuranceRatio: 50, benefitLevel: 95 });
    expect(text(a as unknown as Record<string, bigint>)).toEqual({
      THANH_TIEN_BV: '11610.00', THANH_TIEN_BH: '5805.00', T_BNTT: '5805.00', T_BNCCT: '290.25', T_BHTT: '5514.75',
    });
  });

  it('deducts other-source money from self-pay, then co-pay, then the fund, and the line still adds up', () => {
    // Cost 10,000,000; a 50 % ratio drug: insured 5,000,000; fund 80 % = 4,000,000, co-pay 1,000,000, self-pay 5,000,000.
    const line = { ...base, quantity: d(1), hospitalPrice: d(10_000_000), insurancePrice: d(10_000_000), insuranceRatio: 50 };
    const cases: [number, string, string, string][] = [
      [3_000_000, '2000000.00', '1000000.00', '4000000.00'], // within the self-pay
      [5_500_000, '0.00', '500000.00', '4000000.00'], // beyond it, into the co-pay
      [7_000_000, '0.00', '0.00', '3000000.00'], // beyond both, into the fund's share
    ];
    for (const [other, bntt, bncct, bhtt] of cases) {
      const a = lineAmounts({ ...line, otherSources: d(other) });
      expect([formatDecimal(a.T_BNTT, 2), formatDecimal(a.T_BNCCT, 2), formatDecimal(a.T_BHTT, 2)]).toEqual([bntt, bncct, bhtt]);
      expect(a.T_BNTT + a.T_BNCCT + a.T_BHTT + d(other)).toBe(a.THANH_TIEN_BV);
    }
  });
});

describe('completing and checking an XML row', () => {
  const xml3 = { SO_LUONG: 1, DON_GIA_BV: 50600, DON_GIA_BH: 50600, TYLE_TT_DV: 100, TYLE_TT_BH: 100, MUC_HUONG: 95 };

  it('fills what the hospital system left out', () => {
    const { row, problems } = completeLineAmounts(xml3);
    expect(problems).toEqual([]);
    expect(row).toMatchObject({ THANH_TIEN_BV: '50600.00', THANH_TIEN_BH: '50600.00', T_BNTT: '0.00', T_BNCCT: '2530.00', T_BHTT: '48070.00', T_NGUONKHAC: '0.00', T_NGUONKHAC_CL: '0' });
  });

  it('defaults DON_GIA_BH to DON_GIA_BV and TYLE_TT_DV to 100 on XML3', () => {
    const { row } = completeLineAmounts({ SO_LUONG: 3, DON_GIA_BV: 1000, TYLE_TT_BH: 100, MUC_HUONG: 80 });
    expect(row).toMatchObject({ DON_GIA_BH: '1000.000', TYLE_TT_DV: '100', THANH_TIEN_BV: '3000.00', T_BHTT: '2400.00' });
  });

  it('names an amount that does not follow the formula, with the right value', () => {
    const { problems } = completeLineAmounts({ ...xml3, THANH_TIEN_BV: 50600, THANH_TIEN_BH: 50600, T_BNTT: 0, T_BNCCT: 2500, T_BHTT: 48100 });
    expect(problems.map((p) => p.field)).toEqual(['T_BNCCT', 'T_BHTT']);
    expect(problems[0].message).toMatchObject({ en: expect.stringContaining('it is 2530.00') });
  });

  it('with other-source money, holds sent amounts only to the identity (the split depends on whom it was given to)', () => {
    // Rule (b) of §3.8: a donation to the facility is deducted before the insured amount.
    const b = { SO_LUONG: 1, DON_GIA: 10_000_000, TYLE_TT_BH: 50, MUC_HUONG: 80, T_NGUONKHAC_CL: 3_000_000, THANH_TIEN_BV: 10_000_000, THANH_TIEN_BH: 3_500_000, T_BHTT: 2_800_000, T_BNCCT: 700_000, T_BNTT: 3_500_000 };
    expect(completeLineAmounts(b).problems).toEqual([]);
    const broken = completeLineAmounts({ ...b, T_BNTT: 3_400_000 });
    expect(broken.problems.map((p) => p.field)).toEqual(['THANH_TIEN_BV']);
    expect(broken.problems[0].message).toMatchObject({ en: expect.stringContaining('must equal THANH_TIEN_BV') });
  });

  it('leaves a row without a quantity or a price to row validation', () => {
    expect(completeLineAmounts({ DON_GIA: 5 })).toEqual({ row: { DON_GIA: 5 }, problems: [] });
  });
});
