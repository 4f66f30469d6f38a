import type { Organization, Reference } from '@medplum/fhirtypes';
import { badRequest, notSupported } from '../../fhir/outcome.js';
import { SID } from '../../fhir/vn.js';
import type { Repository } from '../../store/repository.js';
import type { ReportPeriod } from './evaluate.js';
import type { Scope } from './report-rows.js';

/**
 * The period and the subject of a report, from `$evaluate-measure`'s parameters or the dashboard's
 * query. A mistake is a 400 naming the parameter (`expression`), said in Vietnamese and English.
 *
 * - `periodStart`, `periodEnd`: local calendar days `YYYY-MM-DD` (a month `YYYY-MM` means its first,
 *   resp. last day); at most a year, since the six-monthly report is the longest the plans ask.
 * - `subject`: none for every facility of the gateway (the province); `Organization/{id}` for one
 *   facility; `district/{code or name}` or `province/{code or name}` for the facilities whose address
 *   is there.
 */
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH = /^(\d{4})-(\d{2})$/;

export function parsePeriod(start: string | undefined, end: string | undefined): ReportPeriod {
  const s = day(start, 'periodStart', 'first');
  const e = day(end, 'periodEnd', 'last');
  if (e < s) throw badRequest({ vi: `periodEnd (${e}) trước periodStart (${s})`, en: `periodEnd (${e}) is before periodStart (${s})` }, 'periodEnd');
  if ((Date.parse(e) - Date.parse(s)) / 86_400_000 > 366) {
    throw badRequest({ vi: 'Kỳ báo cáo dài tối đa một năm', en: 'A report period is at most one year long' }, 'periodEnd');
  }
  return { start: s, end: e };
}

function day(value: string | undefined, name: string, which: 'first' | 'last'): string {
  if (value === undefined || value === '') throw badRequest({ vi: `Thiếu tham số ${name} (YYYY-MM-DD)`, en: `The parameter ${name} (YYYY-MM-DD) is missing` }, name);
  const month = MONTH.exec(value);
  if (month) {
    const [y, m] = [Number(month[1]), Number(month[2])];
    if (m >= 1 && m <= 12) return which === 'first' ? `${value}-01` : new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
  }
  const d = DAY.exec(value);
  if (d && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value) return value;
  throw badRequest({ vi: `${name} "${value}" không phải một ngày YYYY-MM-DD`, en: `${name} "${value}" is not a date YYYY-MM-DD` }, name);
}

/** `2025-03` (a month) or `2025-H1` / `2025-H2` (a half-year, the six-monthly report). */
export function periodOfLabel(label: string, name = 'period'): ReportPeriod {
  const half = /^(\d{4})-H([12])$/.exec(label);
  if (half) return half[2] === '1' ? { start: `${half[1]}-01-01`, end: `${half[1]}-06-30` } : { start: `${half[1]}-07-01`, end: `${half[1]}-12-31` };
  if (MONTH.test(label)) {
    try {
      return parsePeriod(label, label);
    } catch {
      // said below, under this parameter's name
    }
  }
  throw badRequest({ vi: `${name} "${label}" phải là một tháng (2025-03) hoặc nửa năm (2025-H1)`, en: `${name} "${label}" must be a month (2025-03) or a half-year (2025-H1)` }, name);
}

export interface ReportSubject {
  scope: Scope;
  subject?: Reference;
  label: { vi: string; en: string };
}

export async function parseSubject(value: string | undefined, repo: Repository): Promise<ReportSubject> {
  if (value === undefined || value === '') return { scope: { kind: 'province' }, label: { vi: 'Toàn tỉnh', en: 'Whole province' } };
  const org = /^Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
  if (org) {
    const stored = await repo.read('Organization', org[1]);
    if (!stored || stored.deleted) throw badRequest({ vi: `Không có cơ sở ${value}`, en: `There is no facility ${value}` }, 'subject');
    const o = stored.resource as Organization;
    const code = o.identifier?.find((i) => i.system === SID.maCskcb)?.value;
    const name = `${o.name ?? value}${code ? ` (${code})` : ''}`;
    return { scope: { kind: 'facility', facility: value }, subject: { reference: value, display: name }, label: { vi: name, en: name } };
  }
  const unit = /^(district|province)\/(.{1,100})$/.exec(value);
  if (unit && unit[2].trim()) {
    const v = unit[2].trim();
    return unit[1] === 'district'
      ? { scope: { kind: 'district', value: v }, subject: { display: v }, label: { vi: v, en: v } }
      : { scope: { kind: 'province-unit', value: v }, subject: { display: v }, label: { vi: v, en: v } };
  }
  throw badRequest({
    vi: `subject "${value}" không hợp lệ: dùng Organization/{id}, district/{mã hoặc tên huyện} hoặc province/{mã hoặc tên tỉnh}`,
    en: `subject "${value}" is not valid: use Organization/{id}, district/{code or name} or province/{code or name}`,
  }, 'subject');
}

/** `reportType`: a summary (counts) is what these Measures report; patient lists are not offered. */
export function checkReportType(value: string | undefined): void {
  if (value === undefined || value === '' || value === 'summary') return;
  throw notSupported({ vi: `reportType "${value}" không được hỗ trợ; chỉ có summary`, en: `reportType "${value}" is not supported; only summary` }, 'reportType');
}
