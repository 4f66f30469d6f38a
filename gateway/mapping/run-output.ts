import type { Row } from './view.js';

/**
 * The rows of `$viewdefinition-run` in the formats of the SQL-on-FHIR output format codes: `json`
 * (an array of row objects), `ndjson` (one object per line) and `csv` (RFC 4180, a header line
 * unless told otherwise; a complex or collection value as its JSON text).
 */
export type RunFormat = 'json' | 'ndjson' | 'csv';

export const RUN_FORMATS: Record<RunFormat, string> = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
};

/** `_format` values and Accept media types → a format; undefined for one not served. */
export function runFormatOf(value: string): RunFormat | undefined {
  const v = value.trim().toLowerCase().split(';')[0];
  if (v === 'json' || v === 'application/json' || v === 'application/fhir+json') return 'json';
  if (v === 'ndjson' || v === 'application/x-ndjson' || v === 'application/ndjson' || v === 'application/fhir+ndjson') return 'ndjson';
  if (v === 'csv' || v === 'text/csv') return 'csv';
  return undefined;
}

export function formatRows(rows: Row[], columns: string[], format: RunFormat, header = true): string {
  if (format === 'json') return JSON.stringify(rows);
  if (format === 'ndjson') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const lines = rows.map((r) => columns.map((c) => csvCell(r[c])).join(','));
  if (header) lines.unshift(columns.map(csvCell).join(','));
  return lines.map((l) => `${l}\r\n`).join('');
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
