import type { MeasureReport } from '@medplum/fhirtypes';
import { codeOf } from './measures.js';
import { CARE_TYPES, FIGURES, type Figures, type RolloutReport } from './rollout.js';

/**
 * CSV for people's spreadsheets: the six-monthly form of QĐ 2733 PL01 Đ8 (per facility and form of
 * care: episodes and episodes sent, BHYT and non-BHYT), with the gateway's monitoring columns after
 * it. UTF-8 with a byte-order mark and CRLF, so that Excel opens the Vietnamese as it is; every
 * facility of the scope has its rows, zeros included, as the form asks.
 */
export const FORM_COLUMNS = [
  'STT', 'Mã CSKCB', 'Tên cơ sở KCB', 'Hình thức KCB',
  'BHYT - Số lượt KCB', 'BHYT - Số lượt đã gửi', 'Không BHYT - Số lượt KCB', 'Không BHYT - Số lượt đã gửi',
  'Tổng - Số lượt KCB', 'Tổng - Số lượt đã gửi',
  'Đã tạo hồ sơ', 'Hồ sơ không hợp lệ', 'Đã ký số', 'Cổng đã tiếp nhận', 'Cổng từ chối', 'Đang chờ gửi', 'Chưa có hồ sơ',
] as const;

const BOM = '\uFEFF';

export function formCsv(report: RolloutReport): string {
  const lines: unknown[][] = [[...FORM_COLUMNS]];
  const add = (a: Figures, b: Figures): Figures => Object.fromEntries(FIGURES.map((f) => [f, a[f] + b[f]])) as Figures;
  const monitoring = (t: Figures) => [t['da-tao'], t['khong-hop-le'], t['da-ky'], t['da-tiep-nhan'], t['bi-tu-choi'], t['dang-cho'], t['chua-tao']];
  const line = (n: number | string, code: string, name: string, care: string, bhyt: Figures, non: Figures) => {
    const total = add(bhyt, non);
    return [n, code, name, care, bhyt['initial-population'], bhyt['da-gui'], non['initial-population'], non['da-gui'], total['initial-population'], total['da-gui'], ...monitoring(total)];
  };
  const zero = Object.fromEntries(FIGURES.map((f) => [f, 0])) as Figures;
  const byCare = new Map<string, { bhyt: Figures; non: Figures }>();
  let n = 0;
  let facility: string | undefined;
  let subtotal = { bhyt: zero, non: zero };
  const closeFacility = () => {
    if (facility === undefined) return;
    const f = report.form.find((r) => r.facility.facility === facility)!.facility;
    lines.push(line('', f.code ?? '', f.name ?? '', 'Cộng', subtotal.bhyt, subtotal.non));
  };
  for (const row of report.form) {
    if (row.facility.facility !== facility) {
      closeFacility();
      facility = row.facility.facility;
      subtotal = { bhyt: zero, non: zero };
    }
    const care = CARE_TYPES.find((c) => c.code === row.careType)!;
    lines.push(line(++n, row.facility.code ?? '', row.facility.name ?? '', care.vi, row.bhyt, row.nonBhyt));
    subtotal = { bhyt: add(subtotal.bhyt, row.bhyt), non: add(subtotal.non, row.nonBhyt) };
    const c = byCare.get(row.careType) ?? { bhyt: zero, non: zero };
    byCare.set(row.careType, { bhyt: add(c.bhyt, row.bhyt), non: add(c.non, row.nonBhyt) });
  }
  closeFacility();
  for (const care of CARE_TYPES) {
    const c = byCare.get(care.code);
    if (c) lines.push(line('', '', 'Toàn địa bàn', care.vi, c.bhyt, c.non));
  }
  const all = [...byCare.values()].reduce((t, c) => ({ bhyt: add(t.bhyt, c.bhyt), non: add(t.non, c.non) }), { bhyt: zero, non: zero });
  lines.push(line('', '', 'Toàn địa bàn', 'Tổng cộng', all.bhyt, all.non));
  return csv(lines);
}

/** Any MeasureReport flattened: one line per group total and per stratum, one column per population. */
export function measureReportCsv(report: MeasureReport): string {
  const codes = [...new Set((report.group ?? []).flatMap((g) => (g.population ?? []).map((p) => codeOf(p.code))))];
  const lines: unknown[][] = [['Nhóm', 'Phân tầng', 'Giá trị', ...codes, 'Điểm']];
  for (const g of report.group ?? []) {
    const counts = (pops: typeof g.population) => codes.map((c) => pops?.find((p) => codeOf(p.code) === c)?.count ?? '');
    lines.push([g.id ?? codeOf(g.code), '', '', ...counts(g.population), g.measureScore?.value ?? '']);
    for (const s of g.stratifier ?? []) {
      for (const st of s.stratum ?? []) {
        const value = st.value ? (st.value.text ?? '') : (st.component ?? []).map((c) => c.value.text ?? '').join(' | ');
        lines.push([g.id ?? codeOf(g.code), codeOf(s.code?.[0]), value, ...counts(st.population), st.measureScore?.value ?? '']);
      }
    }
  }
  return csv(lines);
}

function csv(lines: unknown[][]): string {
  return BOM + lines.map((l) => l.map(cell).join(',')).join('\r\n') + '\r\n';
}

function cell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  // A leading = + - @ would be read by a spreadsheet as a formula (CSV injection): quoted and prefixed.
  const safe = /^[=+\-@]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}
