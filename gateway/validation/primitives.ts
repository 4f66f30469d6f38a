import { dateRange } from '../fhir/dates.js';

/**
 * The FHIR R4 primitive types: what JSON type each takes and what its text must look like
 * (the regular expressions of the specification's datatypes page).
 */
type Check = (value: unknown) => boolean;

const text = (re: RegExp): Check => (v) => typeof v === 'string' && re.test(v);
/** FHIR strings may not be empty or padded, and carry no control characters but tab, CR and LF. */
const fhirString: Check = (v) => typeof v === 'string' && v.trim().length > 0 && !/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(v);
const integer = (min: number, max = 2_147_483_647): Check => (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const temporal = (re: RegExp): Check => (v) => typeof v === 'string' && re.test(v) && dateRange(v.replace(/T.*$/, '')) !== undefined && (!v.includes('T') || dateRange(v) !== undefined);

const PRIMITIVES: Record<string, Check> = {
  boolean: (v) => typeof v === 'boolean',
  integer: integer(-2_147_483_648),
  unsignedInt: integer(0),
  positiveInt: integer(1),
  decimal: (v) => typeof v === 'number' && Number.isFinite(v),
  string: fhirString,
  markdown: fhirString,
  code: text(/^[^\s]+( [^\s]+)*$/),
  id: text(/^[A-Za-z0-9\-.]{1,64}$/),
  uri: text(/^\S+$/),
  url: text(/^\S+$/),
  canonical: text(/^\S+$/),
  oid: text(/^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/),
  uuid: text(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  base64Binary: text(/^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/),
  date: temporal(/^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$/),
  dateTime: temporal(
    /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/,
  ),
  instant: temporal(
    /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/,
  ),
  time: text(/^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$/),
  xhtml: (v) => typeof v === 'string' && isSafeXhtml(v),
};

export function isPrimitiveType(code: string): boolean {
  return code in PRIMITIVES;
}

export function checkPrimitive(code: string, value: unknown): boolean {
  return PRIMITIVES[code](value);
}

/** The JSON type a primitive takes, for messages. */
export function jsonTypeOf(code: string): 'boolean' | 'number' | 'string' {
  if (code === 'boolean') return 'boolean';
  if (code === 'integer' || code === 'unsignedInt' || code === 'positiveInt' || code === 'decimal') return 'number';
  return 'string';
}

/**
 * Narrative XHTML as txt-1/txt-2 require (the core `htmlChecks()`, which the FHIRPath engine does
 * not implement): a `div`, and nothing active — no scripts, no event handlers, no javascript: URLs.
 */
function isSafeXhtml(v: string): boolean {
  return /^\s*<div[\s>]/.test(v) && !/<\s*(script|iframe|object|embed|form|style)\b/i.test(v) && !/\son[a-z]+\s*=/i.test(v) && !/javascript:/i.test(v);
}
