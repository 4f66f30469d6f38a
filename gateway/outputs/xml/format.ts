import { dateRange, localIso } from '../../fhir/dates.js';
import type { Text } from '../../fhir/outcome.js';
import { formatDecimal, toDecimal } from './decimal.js';
import type { FieldDefinition } from './table-definition.js';

/**
 * A mapped value as the text of its XML element, by the conventions of QĐ 4750 §1.4: times
 * `yyyyMMddHHmm` and dates `yyyyMMdd` in Vietnam time (unknown parts as zeros), numbers with `.` and
 * the field's decimals, several values joined by `;`. What cannot be formatted is reported, never
 * guessed; characters XML 1.0 cannot carry are removed and reported as a warning.
 */
export interface FormattedField {
  /** The element's text; '' for an empty element. */
  text: string;
  problems: FormatProblem[];
}

export interface FormatProblem {
  severity: 'error' | 'warning';
  message: Text;
}

/** Most fields of a claim are empty or hold one value: those take no intermediate arrays. */
const EMPTY: FormattedField = Object.freeze({ text: '', problems: Object.freeze([]) as unknown as FormatProblem[] });

export function formatField(value: unknown, field: FieldDefinition): FormattedField {
  if (value === null || value === undefined || value === '') return EMPTY;
  const problems: FormatProblem[] = [];
  if (!Array.isArray(value)) return { text: formatOne(value, field, problems), problems };
  const values = value.filter((v) => v !== null && v !== undefined && v !== '');
  if (values.length > 1 && !field.multiple) {
    problems.push({
      severity: 'error',
      message: { vi: `${field.name} chỉ nhận một giá trị, nhận được ${values.length}`, en: `${field.name} takes one value, got ${values.length}` },
    });
  }
  const parts = values.map((v) => formatOne(v, field, problems)).filter((t) => t !== '');
  return { text: parts.join(';'), problems };
}

function formatOne(value: unknown, field: FieldDefinition, problems: FormatProblem[]): string {
  if (field.format) return formatDate(value, field, problems);
  // CAN_NANG is a string of the standard with 2 decimals: decimals make a field numeric text.
  if (field.type === 'number' || field.decimals !== undefined) return formatNumber(value, field, problems);
  if (typeof value === 'string') return cleanText(value, field, problems);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  problems.push({
    severity: 'error',
    message: { vi: `${field.name}: giá trị không phải chuỗi (${describe(value)})`, en: `${field.name}: the value is not text (${describe(value)})` },
  });
  return '';
}

function formatNumber(value: unknown, field: FieldDefinition, problems: FormatProblem[]): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  const d = toDecimal(value);
  const places = field.decimals ?? 0;
  if (d === undefined) {
    problems.push({
      severity: 'error',
      message: { vi: `${field.name}: "${describe(value)}" không phải là số`, en: `${field.name}: "${describe(value)}" is not a number` },
    });
    return '';
  }
  if (places === 0 && d % 10n ** 6n !== 0n) {
    problems.push({
      severity: 'error',
      message: { vi: `${field.name}: ${describe(value)} phải là số nguyên`, en: `${field.name}: ${describe(value)} must be a whole number` },
    });
  }
  return formatDecimal(d, places);
}

const DIGITS = { yyyyMMddHHmm: 12, yyyyMMdd: 8 } as const;

/** `yyyyMMdd|yyyyMMddHHmm` keeps the value's precision: a date (or 8 digits) → 8, anything else → 12. */
function precise(format: NonNullable<FieldDefinition['format']>, value: unknown): keyof typeof DIGITS {
  if (format !== 'yyyyMMdd|yyyyMMddHHmm') return format;
  return typeof value === 'string' && (PARTIAL_DATE.test(value) || /^\d{8}$/.test(value)) ? 'yyyyMMdd' : 'yyyyMMddHHmm';
}
const PARTIAL_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/**
 * A FHIR date or dateTime in the field's format. A dateTime is converted to Vietnam time (a visit
 * at 01:30Z is 08:30 the same day in Hanoi); a date keeps its calendar day; unknown parts are zeros
 * (a year of birth alone is `yyyy00000000`). Text already in the format passes unchanged.
 */
function formatDate(value: unknown, field: FieldDefinition, problems: FormatProblem[]): string {
  const format = precise(field.format!, value);
  const digits = DIGITS[format];
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text === 'string') {
    if (/^\d+$/.test(text) && (text.length === 12 || text.length === 8)) {
      if (text.length === digits) return text;
      return text.length > digits ? text.slice(0, digits) : text.padEnd(digits, '0');
    }
    const partial = PARTIAL_DATE.exec(text);
    if (partial && dateRange(text)) {
      const [, y, m = '00', d = '00'] = partial;
      return `${y}${m}${d}`.padEnd(digits, '0');
    }
    const range = dateRange(text);
    if (range) {
      const local = localIso(range[0]);
      const date = `${local.slice(0, 4)}${local.slice(5, 7)}${local.slice(8, 10)}`;
      return format === 'yyyyMMdd' ? date : `${date}${local.slice(11, 13)}${local.slice(14, 16)}`;
    }
  }
  problems.push({
    severity: 'error',
    message: { vi: `${field.name}: "${describe(value)}" không phải là ngày giờ`, en: `${field.name}: "${describe(value)}" is not a date or time` },
  });
  return '';
}

/** Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/FFFF). */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function cleanText(value: string, field: FieldDefinition, problems: FormatProblem[]): string {
  const cleaned = value.replace(NOT_XML, '');
  if (cleaned.length !== value.length) {
    problems.push({
      severity: 'warning',
      message: {
        vi: `${field.name}: đã bỏ ${value.length - cleaned.length} ký tự điều khiển mà XML không chứa được`,
        en: `${field.name}: removed ${value.length - cleaned.length} control character(s) that XML cannot carry`,
      },
    });
  }
  return cleaned;
}

function describe(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
