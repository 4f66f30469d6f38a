import type { MeasureReport, MeasureReportGroup, MeasureReportGroupStratifier } from '@medplum/fhirtypes';
import { countOf, type Evaluation, type FacilityInfo, type ReportEngine, type ReportRequest } from './evaluate.js';
import { codeOf } from './measures.js';

/**
 * The rollout report as people read it — the CSV form, the dashboard and the CLI's files — made
 * from the MeasureReports of the four report Measures, evaluated together. Nothing is counted here:
 * figures are read from the MeasureReports' populations and strata.
 */
export const CARE_TYPES: { code: string; vi: string; en: string }[] = [
  { code: 'kham-benh', vi: 'Khám bệnh', en: 'Outpatient examination' },
  { code: 'ngoai-tru', vi: 'Điều trị ngoại trú', en: 'Outpatient treatment' },
  { code: 'noi-tru', vi: 'Điều trị nội trú', en: 'Inpatient' },
  { code: 'noi-tru-ban-ngay', vi: 'Điều trị nội trú ban ngày', en: 'Day inpatient' },
  { code: 'nhan-thuoc-hen', vi: 'Nhận thuốc theo hẹn', en: 'Drug refill by appointment' },
  { code: 'tu-xa', vi: 'Khám chữa bệnh từ xa', en: 'Telemedicine' },
  { code: 'khac', vi: 'Khác', en: 'Other' },
];

/** The figures of the claim-file measure, by population code. */
export const FIGURES = ['initial-population', 'da-tao', 'khong-hop-le', 'da-ky', 'da-gui', 'da-tiep-nhan', 'bi-tu-choi', 'dang-cho', 'chua-tao'] as const;
export type Figure = (typeof FIGURES)[number];
export type Figures = Record<Figure, number>;

export interface FormRow {
  facility: FacilityInfo;
  careType: string;
  bhyt: Figures;
  nonBhyt: Figures;
}

export interface FacilitySummary {
  facility: FacilityInfo;
  figures: Figures;
  /** Accepted / (accepted + rejected): of the files the portal answered, the share it took. */
  acceptanceRate?: number;
  due: number;
  onTime: number;
  missed: number;
  compliance?: number;
  medianHours?: number;
  p95Hours?: number;
  identification: Record<string, number>;
}

export interface RolloutReport {
  request: ReportRequest;
  generatedAt: string;
  reports: MeasureReport[];
  facilities: FacilityInfo[];
  totals: Figures;
  form: FormRow[];
  perFacility: FacilitySummary[];
  rejectionReasons: { reason: string; count: number }[];
  identification: { cccd: number; theBhyt: number; khac: number; total: number };
  timing: { due: number; onTime: number; missed: number; compliance?: number; medianHours?: number; p95Hours?: number };
  sentPerDay: { day: string; count: number }[];
  facilitiesWithoutData: FacilityInfo[];
}

export async function rolloutReport(engine: ReportEngine, request: ReportRequest): Promise<RolloutReport> {
  const now = request.now ?? new Date();
  const evaluation = await engine.evaluate(engine.measures, { ...request, now });
  return assemble({ ...request, now }, evaluation);
}

const measureReport = (e: Evaluation, id: string) => {
  const r = e.reports.find((m) => m.measure.endsWith(`/Measure/${id}`));
  if (!r) throw new Error(`the report Measure ${id} is missing from mappings/reports`);
  return r;
};
const stratifier = (g: MeasureReportGroup, code: string): MeasureReportGroupStratifier | undefined => g.stratifier?.find((s) => codeOf(s.code?.[0]) === code);
const figuresOf = (g: { population?: MeasureReportGroup['population'] } | undefined): Figures =>
  Object.fromEntries(FIGURES.map((f) => [f, g ? countOf(g, f) : 0])) as Figures;
const score = (g: { measureScore?: { value?: number } } | undefined) => g?.measureScore?.value;

export function assemble(request: ReportRequest, e: Evaluation): RolloutReport {
  const claims = measureReport(e, 'lien-thong-ho-so').group![0];
  const identity = measureReport(e, 'dinh-danh-tiep-nhan').group![0];
  const deadline = measureReport(e, 'tuan-thu-24-gio').group![0];
  const [median, p95] = measureReport(e, 'thoi-gian-tiep-nhan').group!;
  const byKey = new Map(e.facilities.map((f) => [f.facility, f]));
  const facilityOf = (key: string | undefined): FacilityInfo => (key && byKey.get(key)) || { facility: key ?? '', name: key ? undefined : '(không rõ cơ sở)' };
  const stratumOf = (s: MeasureReportGroupStratifier | undefined, value: string) => s?.stratum?.find((st) => st.value?.text === value);

  // The form: every facility of the scope × every form of care, zeros included (the six-monthly form has every row).
  const cells = new Map<string, { bhyt?: Figures; nonBhyt?: Figures }>();
  for (const st of stratifier(claims, 'co-so-hinh-thuc-doi-tuong')?.stratum ?? []) {
    const [facility, care, payer] = (st.component ?? []).map((c) => c.value.text);
    const key = `${facility}\u0000${care}`;
    const cell = cells.get(key) ?? {};
    cell[payer === 'khong-bhyt' ? 'nonBhyt' : 'bhyt'] = figuresOf(st);
    cells.set(key, cell);
  }
  const keysSeen = new Set([...cells.keys()].map((k) => k.split('\u0000')[0]));
  const facilityKeys = [...e.facilities.map((f) => f.facility), ...[...keysSeen].filter((k) => !byKey.has(k))];
  const form: FormRow[] = [];
  for (const key of facilityKeys) {
    for (const care of CARE_TYPES) {
      const cell = cells.get(`${key}\u0000${care.code}`);
      if (care.code === 'khac' && !cell) continue;
      form.push({ facility: facilityOf(key), careType: care.code, bhyt: cell?.bhyt ?? figuresOf(undefined), nonBhyt: cell?.nonBhyt ?? figuresOf(undefined) });
    }
  }

  const perFacility = facilityKeys.map((key): FacilitySummary => {
    const figures = figuresOf(stratumOf(stratifier(claims, 'co-so'), key));
    const d = stratumOf(stratifier(deadline, 'co-so'), key);
    const answered = figures['da-tiep-nhan'] + figures['bi-tu-choi'];
    const identification: Record<string, number> = {};
    for (const st of stratifier(identity, 'co-so-dinh-danh')?.stratum ?? []) {
      const [facility, how] = (st.component ?? []).map((c) => c.value.text ?? '');
      if (facility === key) identification[how] = countOf(st, 'initial-population');
    }
    return {
      facility: facilityOf(key),
      figures,
      acceptanceRate: answered > 0 ? figures['da-tiep-nhan'] / answered : undefined,
      due: d ? countOf(d, 'denominator') : 0,
      onTime: d ? countOf(d, 'numerator') : 0,
      missed: d ? countOf(d, 'tre-han') : 0,
      compliance: score(d),
      medianHours: score(stratumOf(stratifier(median, 'co-so'), key)),
      p95Hours: score(stratumOf(stratifier(p95, 'co-so'), key)),
      identification,
    };
  });

  const reasons = (stratifier(claims, 'ly-do-tu-choi')?.stratum ?? [])
    .filter((st) => st.value?.text)
    .map((st) => ({ reason: st.value!.text!, count: countOf(st, 'bi-tu-choi') }))
    .filter((r) => r.count > 0)
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));

  const how = (code: string) => countOf(stratumOf(stratifier(identity, 'cach-dinh-danh'), code) ?? {}, 'initial-population');
  const sentByDay = new Map((stratifier(claims, 'ngay-gui')?.stratum ?? []).filter((st) => st.value?.text).map((st) => [st.value!.text!, countOf(st, 'da-gui')]));
  const sentPerDay: { day: string; count: number }[] = [];
  for (let t = Date.parse(`${request.period.start}T00:00:00Z`); t <= Date.parse(`${request.period.end}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    sentPerDay.push({ day, count: sentByDay.get(day) ?? 0 });
  }

  return {
    request,
    generatedAt: (request.now ?? new Date()).toISOString(),
    reports: e.reports,
    facilities: e.facilities,
    totals: figuresOf(claims),
    form,
    perFacility,
    rejectionReasons: reasons,
    identification: { cccd: how('cccd'), theBhyt: how('the-bhyt'), khac: how('khac'), total: countOf(identity, 'initial-population') },
    timing: { due: countOf(deadline, 'denominator'), onTime: countOf(deadline, 'numerator'), missed: countOf(deadline, 'tre-han'), compliance: score(deadline), medianHours: score(median), p95Hours: score(p95) },
    sentPerDay,
    facilitiesWithoutData: perFacility.filter((f) => f.figures['initial-population'] === 0 && byKey.has(f.facility.facility)).map((f) => f.facility),
  };
}
