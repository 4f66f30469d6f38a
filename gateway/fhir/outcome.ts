import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** The subset of IssueType codes the gateway emits; stable so that clients can branch on them. */
export type IssueCode =
  | 'invalid' | 'structure' | 'required' | 'value' | 'invariant' | 'security' | 'login' | 'forbidden'
  | 'processing' | 'not-supported' | 'duplicate' | 'multiple-matches' | 'not-found' | 'deleted'
  | 'too-long' | 'code-invalid' | 'conflict' | 'exception' | 'timeout' | 'throttled' | 'informational'
  | 'too-costly' | 'business-rule' | 'incomplete' | 'transient' | 'extension';

export type Severity = 'fatal' | 'error' | 'warning' | 'information';

/** A message in Vietnamese and English; the OperationOutcome carries the one the client asked for. */
export type Text = string | { vi: string; en: string };
export type Language = 'vi' | 'en';

export function textIn(text: Text, lang: Language): string {
  return typeof text === 'string' ? text : text[lang];
}

/** Vietnamese unless the client's Accept-Language prefers English. */
export function languageOf(acceptLanguage: string | undefined): Language {
  const first = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag, q] = part.trim().split(';q=');
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q) };
    })
    .filter((l) => l.tag && l.q > 0)
    .sort((a, b) => b.q - a.q)
    .find((l) => l.tag.startsWith('vi') || l.tag.startsWith('en'));
  return first?.tag.startsWith('en') ? 'en' : 'vi';
}

export interface Issue {
  severity: Severity;
  code: IssueCode;
  message: Text;
  /** FHIRPath location in the client's terms, e.g. `Bundle.entry[3].resource.subject`. */
  expression?: string[];
  /** For problems in an output document: the XPath of the element, e.g. `CHITIEU_CHITIET_THUOC/DSACH_CHI_TIET_THUOC/CHI_TIET_THUOC[3]/DON_GIA`. */
  location?: string[];
}

export function operationOutcome(issues: Issue[], lang: Language = 'vi'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues.map((i) => toFhirIssue(i, lang)) };
}

function toFhirIssue(issue: Issue, lang: Language): OperationOutcomeIssue {
  const message = textIn(issue.message, lang);
  return {
    severity: issue.severity,
    code: issue.code,
    diagnostics: message,
    details: { text: message },
    ...(issue.location?.length ? { location: issue.location } : {}),
    ...(issue.expression?.length ? { expression: issue.expression } : {}),
  };
}

export function allOk(message: Text = { vi: 'Thành công', en: 'All OK' }, lang: Language = 'vi'): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', message }], lang);
}

/**
 * A failure that maps to an HTTP status and an OperationOutcome. Everything the gateway refuses
 * is thrown as one of these; anything else that escapes is an unexpected error (500).
 */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly issues: Issue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(issues.map((i) => textIn(i.message, 'en')).join('; '));
    this.name = 'FhirError';
  }

  /** The same failure, located under a prefix (e.g. a bundle entry) for the client. */
  within(prefix: string): FhirError {
    return new FhirError(
      this.status,
      this.issues.map((i) => ({
        ...i,
        expression: i.expression?.length ? i.expression.map((e) => joinPath(prefix, e)) : [prefix],
      })),
      this.headers,
    );
  }
}

/** `Bundle.entry[2].resource` + `Patient.name[0]` → `Bundle.entry[2].resource.name[0]`. */
export function joinPath(prefix: string, expression: string): string {
  if (expression.startsWith(prefix)) return expression;
  const dot = expression.indexOf('.');
  const head = dot < 0 ? expression : expression.slice(0, dot);
  // A path that starts with a resource type name (capitalised) is relative to the resource itself.
  const rest = /^[A-Z]/.test(head) ? (dot < 0 ? '' : expression.slice(dot)) : `.${expression}`;
  return prefix + rest;
}

const fail = (status: number, code: IssueCode) => (message: Text, expression?: string) =>
  new FhirError(status, [{ severity: 'error', code, message, ...(expression ? { expression: [expression] } : {}) }]);

export const badRequest = fail(400, 'invalid');
export const notSupported = fail(400, 'not-supported');
export const notFound = fail(404, 'not-found');
export const gone = fail(410, 'deleted');
export const conflict = fail(409, 'conflict');
export const preconditionFailed = fail(412, 'conflict');
export const multipleMatches = fail(412, 'multiple-matches');
export const unprocessable = fail(422, 'processing');
export const methodNotAllowed = fail(405, 'not-supported');
export const notAcceptable = fail(406, 'not-supported');
export const unsupportedMediaType = fail(415, 'not-supported');
export const payloadTooLarge = fail(413, 'too-long');
