import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ViewDefinition } from '../../mapping/view.js';
import { MAPPINGS_DIR } from '../../paths.js';
import { keys } from '../../store/search/index-keys.js';
import type { SqlType } from './sql-fhirpath.js';
import { compileSqlView, quoteIdent, type SqlView } from './sql-view.js';

/**
 * The rows every report measure counts: one per episode of the period in the scope, made of
 *
 * - the episode view (`mappings/reports/view-episodes.json`, over Encounter),
 * - the patient view (`view-patients.json`: how the patient is identified),
 * - the facility view (`view-facilities.json`: code, name, district, province),
 * - the episode's claim file as the outbox knows it (the `dossiers` table, the truth the Tasks show):
 *   `dossier_status` of the latest version, `dossier_versions`, `signed` and `sent_at` (any version;
 *   the first send), `accepted_at` (the first acceptance of any version: what the 24-hour rule
 *   looks at), `rejection` (the portal's code and message when the latest version was rejected).
 *
 * Which figure counts which rows is not here: the Measures say it (measures.ts). This only joins.
 */
export const REPORTS_DIR = join(MAPPINGS_DIR, 'reports');

export interface ReportViews {
  episodes: SqlView;
  patients: SqlView;
  facilities: SqlView;
}

export type Scope =
  | { kind: 'province' }
  | { kind: 'facility'; facility: string }
  | { kind: 'district'; value: string }
  | { kind: 'province-unit'; value: string };

/** The claim-file columns, from the outbox; their SQL is in rowsSql() below. */
const CLAIM_COLUMNS: Record<string, SqlType> = {
  dossier_status: 'text',
  dossier_versions: 'numeric',
  signed: 'boolean',
  sent_at: 'timestamptz',
  accepted_at: 'timestamptz',
  rejection: 'text',
};

export function loadReportViews(localOffsetMinutes: number, dir = REPORTS_DIR): ReportViews {
  const load = (file: string) => compileSqlView(JSON.parse(readFileSync(join(dir, file), 'utf8')) as ViewDefinition, { localOffsetMinutes, file });
  const views = { episodes: load('view-episodes.json'), patients: load('view-patients.json'), facilities: load('view-facilities.json') };
  for (const [view, needed] of [[views.episodes, ['episode', 'facility', 'patient', 'attributed']], [views.patients, ['patient']], [views.facilities, ['facility']]] as const) {
    for (const name of needed) if (!view.columns.some((c) => c.name === name)) throw new Error(`report view ${view.name} needs a column ${name}`);
  }
  return views;
}

/** Every column of the report rows and its type: what a Measure's criteria may name. */
export function rowColumns(views: ReportViews): Map<string, SqlType> {
  const columns = new Map<string, SqlType>();
  for (const c of views.episodes.columns) columns.set(c.name, c.type);
  for (const c of views.patients.columns) if (c.name !== 'patient') columns.set(c.name, c.type);
  for (const c of views.facilities.columns) if (c.name !== 'facility') columns.set(c.name, c.type);
  for (const [name, type] of Object.entries(CLAIM_COLUMNS)) columns.set(name, type);
  // When the report is made (%now too): every statement binds it, whether its Measures read it or not.
  columns.set('report_time', 'timestamptz');
  return columns;
}

/**
 * The report rows as one statement (`WITH report_facilities … SELECT …`).
 * Parameters: $1 period start, $2 period end (exclusive), $3 the time of the report, then the scope's
 * value at `scopeParam`.
 *
 * Episodes are first narrowed by the Encounter `date` search index (the period [start, end] of each
 * episode as a range): the time that places an episode (its end, else its start) lies within that
 * range, so every episode of the period is among those whose range meets the period, and a year of
 * data costs no more than its month. Patients and claim files are looked up per episode (by primary
 * key, and by the outbox's (encounter_id, kind, version) key): only the month's are read, and the
 * cost grows with the episodes whatever the planner estimates — it cannot estimate rows made by JSON
 * functions, and joined as sets it may choose to run a whole aggregate again for every episode.
 */
export function rowsSql(views: ReportViews, scope: Scope, scopeParam: string): string {
  return `WITH report_facilities AS MATERIALIZED (${views.facilities.select()})\n${rowsSelect(views, scope, scopeParam)}`;
}

/**
 * The rows' SELECT alone, for a statement that puts `report_facilities` in its WITH: the facilities
 * are few and made once (as a subquery PostgreSQL may make them again for every episode).
 */
export function rowsSelect(views: ReportViews, scope: Scope, scopeParam: string): string {
  const episodeCols = views.episodes.columns.map((c) => `e.${quoteIdent(c.name)}`);
  const patientCols = views.patients.columns.filter((c) => c.name !== 'patient').map((c) => `p.${quoteIdent(c.name)}`);
  const facilityCols = views.facilities.columns.filter((c) => c.name !== 'facility').map((c) => `s.${quoteIdent(c.name)}`);
  const claimCols = Object.keys(CLAIM_COLUMNS).map((c) => `c.${c}`);
  const candidates = `SELECT d.id FROM resource_dates d WHERE d.resource_type = 'Encounter' AND d.param = 'date' AND d.high >= $1::timestamptz AND d.low < $2::timestamptz`;
  const narrowing = [`r.id IN (${candidates})`];
  // One facility's report reads that facility's episodes only (its service-provider search key), not the province's.
  if (scope.kind === 'facility') narrowing.push(`r.tokens @> ARRAY['${keys.reference('service-provider', '')}' || ${scopeParam}]::text[]`);
  return `SELECT ${[...episodeCols, ...patientCols, ...facilityCols, ...claimCols].join(', ')}, $3::timestamptz AS report_time
    FROM (${views.episodes.select(narrowing)}) e
    LEFT JOIN report_facilities s ON s.facility = e.facility
    LEFT JOIN LATERAL (${views.patients.select([`r.id = substr(e.patient, ${'Patient/'.length + 1})`])} OFFSET 0) p ON true
    LEFT JOIN LATERAL (
      SELECT (array_agg(status ORDER BY version DESC))[1] AS dossier_status,
             count(*)::numeric AS dossier_versions,
             bool_or(signed IS NOT NULL) AS signed,
             min(sent_at) AS sent_at,
             min(accepted_at) AS accepted_at,
             (array_agg(CASE WHEN status = 'rejected' THEN concat_ws(': ', receipt->>'maKetQua', receipt->>'thongDiep') END ORDER BY version DESC))[1] AS rejection
        FROM dossiers
       WHERE encounter_id = substr(e.episode, ${'Encounter/'.length + 1}) AND kind = 'claim'
    ) c ON true
   WHERE e.attributed >= $1::timestamptz AND e.attributed < $2::timestamptz AND ${scopeCondition(scope, scopeParam)}`;
}

/** Which facilities a scope takes: one (by its Organization), a district or a province (by code or name), or all. */
export function scopeCondition(scope: Scope, param: string): string {
  switch (scope.kind) {
    case 'province':
      return 'true';
    case 'facility':
      return `s.facility = ${param}`;
    case 'district':
      return `(s.district_code = ${param} OR lower(s.district) = lower(${param}))`;
    case 'province-unit':
      return `(s.province_code = ${param} OR lower(s.province) = lower(${param}))`;
  }
}

export function scopeValue(scope: Scope): string | undefined {
  return scope.kind === 'province' ? undefined : scope.kind === 'facility' ? scope.facility : scope.value;
}

/**
 * The facilities a report lists, with or without data: the scope's Organizations that have sent an
 * episode at some time or hold credentials — so that a referral's origin, stored as an Organization
 * from another province, is not taken for a silent facility of this one.
 */
export function facilitiesSql(views: ReportViews, scope: Scope, scopeParam: string): string {
  return `WITH facilities AS MATERIALIZED (${views.facilities.select()})
SELECT s.* FROM facilities s
 WHERE ${scopeCondition(scope, scopeParam)}
   AND (EXISTS (SELECT 1 FROM resources e WHERE e.resource_type = 'Encounter' AND e.tokens @> ARRAY['${keys.reference('service-provider', '')}' || s.facility]::text[])
        OR EXISTS (SELECT 1 FROM facility_credentials fc WHERE fc.organization_id = substr(s.facility, ${'Organization/'.length + 1})))`;
}
