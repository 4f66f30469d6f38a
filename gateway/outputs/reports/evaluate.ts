import type { CodeableConcept, MeasureReport, MeasureReportGroup, MeasureReportGroupStratifierStratum, Quantity, Reference } from '@medplum/fhirtypes';
import type { Database } from '../../store/database.js';
import { codeOf, loadMeasures, type CompiledGroup, type CompiledMeasure } from './measures.js';
import { facilitiesSql, loadReportViews, rowColumns, rowsSelect, scopeValue, type ReportViews, type Scope } from './report-rows.js';

/**
 * Evaluates report Measures in one SQL statement: the report rows (report-rows.ts) are made once,
 * then grouped with `GROUP BY GROUPING SETS` — the totals and every stratifier's strata — with one
 * `count(*) FILTER (WHERE criterion)` per population of every group, and `percentile_cont` for an
 * observation. What comes back is a few hundred small rows, whatever the number of episodes; they
 * become MeasureReports here.
 */
type Subject = NonNullable<MeasureReport['subject']>;

export interface ReportPeriod {
  /** First day, `YYYY-MM-DD` (local calendar). */
  start: string;
  /** Last day, included. */
  end: string;
}

export interface ReportRequest {
  period: ReportPeriod;
  scope: Scope;
  /** MeasureReport.subject for the scope (the facility, or a display of the district). */
  subject?: Reference | Subject;
  /** When the report is made: decides which episodes are past their 24-hour deadline. */
  now?: Date;
}

export interface FacilityInfo {
  facility: string;
  code?: string;
  name?: string;
  district?: string;
  province?: string;
}

export interface Evaluation {
  reports: MeasureReport[];
  /** The facilities of the scope (with data or not), by code. */
  facilities: FacilityInfo[];
}

const DATA_ABSENT: CodeableConcept = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' }] };

export class ReportEngine {
  readonly views: ReportViews;
  readonly measures: CompiledMeasure[];

  constructor(
    private readonly db: Database,
    private readonly options: { localOffsetMinutes: number },
  ) {
    this.views = loadReportViews(options.localOffsetMinutes);
    this.measures = loadMeasures(rowColumns(this.views), options);
  }

  measure(id: string): CompiledMeasure | undefined {
    return this.measures.find((m) => m.id === id);
  }

  /**
   * Runs the statement with settings for a report (SET LOCAL: they end with its transaction, the
   * pool's connections keep theirs): the strata are grouped in memory rather than sorted on disk;
   * and on a PostgreSQL server, parallel workers are allowed whatever the planner thinks — it cannot
   * estimate how many rows JSON functions make (it guesses a few dozen where a month has 100,000)
   * and would otherwise read the month's episodes on one core — while compiling the statement to
   * machine code (JIT) would cost more than it saves on one pass.
   */
  private aggregate(sql: string, params: unknown[]) {
    return this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL work_mem = '64MB'`);
      if (this.db.kind === 'postgres') {
        await tx.query('SET LOCAL parallel_setup_cost = 0');
        await tx.query('SET LOCAL parallel_tuple_cost = 0');
        await tx.query('SET LOCAL jit = off');
      }
      return tx.query<ResultRow>(sql, params);
    });
  }

  /** Start (inclusive) and end (exclusive) instants of a period of local calendar days. */
  bounds(period: ReportPeriod): [string, string] {
    const at = (day: string, plusDays: number) => new Date(Date.parse(`${day}T00:00:00Z`) + plusDays * 86_400_000 - this.options.localOffsetMinutes * 60_000).toISOString();
    return [at(period.start, 0), at(period.end, 1)];
  }

  async evaluate(measures: CompiledMeasure[], request: ReportRequest): Promise<Evaluation> {
    const now = request.now ?? new Date();
    const [start, end] = this.bounds(request.period);
    const value = scopeValue(request.scope);
    const params: unknown[] = [start, end, now.toISOString(), ...(value !== undefined ? [value] : [])];
    const scopeParam = value !== undefined ? '$4' : 'NULL';

    const groups = measures.flatMap((m) => m.groups);
    const counts = statementPlan(groups, 'counts');
    const observed = groups.filter((g) => g.observation);
    const observations = observed.length ? statementPlan(observed, 'observations') : undefined;
    const part = (n: number, plan: StatementPlan) =>
      `SELECT ${n} AS part, ${plan.grouping} AS gs, ${plan.values} AS v, jsonb_build_array(${plan.figures.join(', ')}) AS f FROM report_rows r GROUP BY GROUPING SETS (${plan.sets.join(', ')})`;
    // Counts are grouped by hashing, in one pass for every stratum; percentiles need their values
    // sorted, so they have their own pass, over their own (few) strata.
    const sql = `WITH report_facilities AS MATERIALIZED (${this.views.facilities.select()}),
report_rows AS MATERIALIZED (${rowsSelect(this.views, request.scope, scopeParam)})
${part(0, counts)}${observations ? `\nUNION ALL\n${part(1, observations)}` : ''}`;
    const [{ rows }, facilityRows] = await Promise.all([
      this.aggregate(sql, params),
      this.db.query<Record<string, string | null>>(facilitiesSql(this.views, request.scope, value !== undefined ? '$1' : 'NULL'), value !== undefined ? [value] : []),
    ]);
    const results = { counts: { plan: counts, rows: rows.filter((r) => r.part === 0) }, observations: observations && { plan: observations, rows: rows.filter((r) => r.part === 1) } };
    const facilities: FacilityInfo[] = facilityRows.rows
      .map((r) => ({ facility: r.facility!, code: r.facility_code ?? undefined, name: r.facility_name ?? undefined, district: r.district ?? undefined, province: r.province ?? undefined }))
      .sort((a, b) => (a.code ?? '~').localeCompare(b.code ?? '~') || (a.name ?? '').localeCompare(b.name ?? '', 'vi'));

    const reports = measures.map((m): MeasureReport => ({
      resourceType: 'MeasureReport',
      status: 'complete',
      type: 'summary',
      measure: m.url,
      ...(request.subject ? { subject: request.subject as Subject } : {}),
      date: now.toISOString(),
      period: { start: request.period.start, end: request.period.end },
      ...(m.resource.improvementNotation ? { improvementNotation: m.resource.improvementNotation } : {}),
      group: m.groups.map((g) => groupReport(m, g, results, facilities)),
    }));
    return { reports, facilities };
  }
}

/**
 * The shape of one aggregation over the report rows, for the groups given: the distinct stratifier
 * expressions (GROUPING() over them tells which grouping set a result row belongs to: a bit set per
 * expression left out), the grouping sets (the totals, and one per distinct set of expressions), and
 * the figures — every group's populations (or its observation), side by side at the group's offset.
 */
interface StatementPlan {
  expressions: string[];
  sets: string[];
  figures: string[];
  offsets: Map<CompiledGroup, number>;
  grouping: string;
  values: string;
}

interface ResultRow {
  part: number;
  gs: number;
  v: unknown[];
  f: (number | null)[];
}

type Results = { counts: { plan: StatementPlan; rows: ResultRow[] }; observations?: { plan: StatementPlan; rows: ResultRow[] } };

function statementPlan(groups: CompiledGroup[], kind: 'counts' | 'observations'): StatementPlan {
  const expressions: string[] = [];
  for (const g of groups) for (const s of g.stratifiers) for (const c of s.components) if (!expressions.includes(c.sql)) expressions.push(c.sql);
  if (expressions.length > 31) throw new Error('report Measures stratify by more than 31 distinct expressions');
  const sets = new Set<string>(['()']);
  for (const g of groups) for (const s of g.stratifiers) sets.add(`(${[...new Set(s.components.map((c) => c.sql))].join(', ')})`);
  const figures: string[] = [];
  const offsets = new Map<CompiledGroup, number>();
  for (const g of groups) {
    offsets.set(g, figures.length);
    if (kind === 'counts') for (const p of g.populations) figures.push(`count(*) FILTER (WHERE ${p.sql})`);
    else {
      const population = g.populations.find((p) => p.key === g.observation!.population)!;
      figures.push(`percentile_cont(${g.observation!.percentile}) WITHIN GROUP (ORDER BY ${g.observation!.sql}) FILTER (WHERE ${population.sql})`);
    }
  }
  return {
    expressions,
    sets: [...sets],
    figures,
    offsets,
    grouping: expressions.length ? `GROUPING(${expressions.join(', ')})` : '0',
    values: expressions.length ? `jsonb_build_array(${expressions.join(', ')})` : `'[]'::jsonb`,
  };
}

const maskOf = (plan: StatementPlan, sqls: string[]) => sqls.reduce((m, sql) => m & ~(1 << (plan.expressions.length - 1 - plan.expressions.indexOf(sql))), (1 << plan.expressions.length) - 1);

/** The result row of a grouping set with these values of its expressions. */
function find(part: { plan: StatementPlan; rows: ResultRow[] } | undefined, sqls: string[], values: unknown[]): ResultRow | undefined {
  if (!part) return undefined;
  const mask = maskOf(part.plan, sqls);
  const key = JSON.stringify(values);
  return part.rows.find((r) => r.gs === mask && JSON.stringify(sqls.map((sql) => r.v[part.plan.expressions.indexOf(sql)])) === key);
}

function groupReport(m: CompiledMeasure, g: CompiledGroup, results: Results, facilities: FacilityInfo[]): MeasureReportGroup {
  const { counts, observations } = results;
  /** This group's populations, then its observation, of one stratum (or of the totals). */
  const own = (sqls: string[], values: unknown[], countRow?: ResultRow): (number | null)[] | undefined => {
    const c = countRow ?? find(counts, sqls, values);
    if (!c) return undefined;
    const offset = counts.plan.offsets.get(g)!;
    const out = c.f.slice(offset, offset + g.populations.length);
    if (g.observation) out.push(find(observations, sqls, values)?.f[observations!.plan.offsets.get(g)!] ?? null);
    return out;
  };
  const figures = (f: (number | null)[] | undefined) => ({
    population: g.populations.map((p, i) => ({ code: p.code, count: Number(f?.[i] ?? 0) })),
    ...score(m, g, f),
  });

  return {
    ...(g.id ? { id: g.id } : {}),
    ...(g.code ? { code: g.code } : {}),
    ...figures(own([], [])),
    stratifier: g.stratifiers.map((s) => {
      const sqls = s.components.map((c) => c.sql);
      const mask = maskOf(counts.plan, sqls);
      const strata: MeasureReportGroupStratifierStratum[] = counts.rows
        .filter((r) => r.gs === mask)
        .map((r) => {
          const values = sqls.map((sql) => r.v[counts.plan.expressions.indexOf(sql)]);
          const f = figures(own(sqls, values, r));
          return s.components.length === 1
            ? { value: stratumValue(values[0]), ...f }
            : { component: s.components.map((c, ci) => ({ code: c.code!, value: stratumValue(values[ci]) })), ...f };
        });
      // A stratifier by facility lists every facility of the scope: one without data is a finding.
      if (s.components.length === 1 && s.components[0].expression.trim() === 'facility') {
        const seen = new Set(strata.map((st) => st.value?.text));
        for (const f of facilities) if (!seen.has(f.facility)) strata.push({ value: { text: f.facility }, ...figures(undefined) });
      }
      strata.sort((a, b) => stratumKey(a).localeCompare(stratumKey(b)));
      return { code: [s.code], stratum: strata };
    }),
  };
}

function score(m: CompiledMeasure, g: CompiledGroup, f: (number | null)[] | undefined): { measureScore?: Quantity } {
  if (m.scoring === 'proportion') {
    const at = (key: string) => Number(f?.[g.populations.findIndex((p) => p.key === key)] ?? 0);
    const denominator = at('denominator') - (g.populations.some((p) => p.key === 'denominator-exclusion') ? at('denominator-exclusion') : 0);
    return denominator > 0 ? { measureScore: { value: round(at('numerator') / denominator, 4) } } : {};
  }
  if (g.observation) {
    const v = f?.[g.populations.length];
    return v === null || v === undefined ? {} : { measureScore: { value: round(Number(v), 1), unit: 'h', system: 'http://unitsofmeasure.org', code: 'h' } };
  }
  return {};
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

function stratumValue(v: unknown): CodeableConcept {
  return v === null || v === undefined ? DATA_ABSENT : { text: String(v) };
}

function stratumKey(s: MeasureReportGroupStratifierStratum): string {
  return s.value ? (s.value.text ?? '') : (s.component ?? []).map((c) => c.value.text ?? '').join('\u0000');
}

/** The count of a population (by code) in a group or stratum of a MeasureReport. */
export function countOf(g: { population?: { code?: CodeableConcept; count?: number }[] }, code: string): number {
  return g.population?.find((p) => codeOf(p.code) === code)?.count ?? 0;
}
