import type { Bundle, Encounter, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { healthBook } from '../../gateway/outputs/healthbook/definition.js';
import { diffBookSections, sectionsOfDocument } from '../book-sections.js';
import { loadCases, type GoldenCase } from '../cases.js';
import { diffTableDocuments, wantGot } from '../xml-diff.js';
import { CheckFailure, type Check, type RunContext } from './check.js';

/**
 * The golden cases of conformance/cases through a deployment's API: every expected table through
 * `$xml130` (the Bundle posted, nothing stored) and the expected health book through `$summary` (the
 * Bundle stored by a transaction, its patient's book read, the resources it created deleted at the
 * end). Failures are `-want +got` per table, row and field, as `npm run conformance` prints them.
 */
export function caseChecks(cases: GoldenCase[] = loadCases()): Check[] {
  return cases.flatMap((c): Check[] => [
    { group: 'cases', name: `${c.name}: $xml130 builds the expected tables`, run: (ctx) => xmlCheck(ctx, c) },
    ...(c.expectedBook ? [{ group: 'cases' as const, name: `${c.name}: $summary shows the expected health book`, run: (ctx: RunContext) => bookCheck(ctx, c) }] : []),
  ]);
}

function failIf(failures: string[]): void {
  if (failures.length) throw new CheckFailure(`(-want +got)\n${failures.map((f) => `    ${f}`).join('\n')}`);
}

async function claimDocument(ctx: RunContext, c: GoldenCase, operation: string, table?: string): Promise<{ status: number; document?: string; errors: string[] }> {
  const query = new URLSearchParams({ standard: c.standard, ...(c.encounter ? { encounter: c.encounter } : {}), ...(table ? { table } : {}) });
  const r = await ctx.client.post(`$${operation}?${query}`, c.bundle);
  if (r.status !== 200) return { status: r.status, errors: ((r.json as OperationOutcome | undefined)?.issue ?? []).map((i) => `${i.diagnostics}`) };
  const params = (r.json as Parameters).parameter ?? [];
  const content = params.find((p) => p.name === 'file')?.part?.find((p) => p.name === 'content')?.valueBase64Binary;
  const outcome = params.find((p) => p.name === 'outcome')?.resource as OperationOutcome | undefined;
  const errors = (outcome?.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => `error: ${i.location?.[0] ?? ''} ${i.diagnostics}`);
  return { status: r.status, document: content === undefined ? undefined : Buffer.from(content, 'base64').toString('utf8'), errors };
}

async function xmlCheck(ctx: RunContext, c: GoldenCase): Promise<void> {
  const failures: string[] = [];
  const envelope = await claimDocument(ctx, c, 'xml130');
  if (envelope.status !== 200 || envelope.document === undefined) throw new CheckFailure(`$xml130 answered ${envelope.status}: ${envelope.errors.join('; ')}`);
  failures.push(...envelope.errors);
  for (const [table, want] of c.expected) {
    const got = table === 'XML0' ? await claimDocument(ctx, c, 'xml130-checkin') : await claimDocument(ctx, c, 'xml130', table);
    if (got.document === undefined) failures.push(`${table}: ${wantGot('produced', `not produced (${got.status})`)}`);
    else failures.push(...diffTableDocuments(table, want, got.document));
  }
  if (!c.expected.has('XML0')) {
    const checkin = await claimDocument(ctx, c, 'xml130-checkin');
    if (checkin.document !== undefined) failures.push(`XML0: ${wantGot('not produced', 'produced')}`);
  }
  const inEnvelope = [...envelope.document.matchAll(/<LOAIHOSO>(XML\d+)<\/LOAIHOSO>/g)].map((m) => m[1]);
  const expected = [...c.expected.keys()].filter((t) => t !== 'XML0' && t !== 'XML12').sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  if (inEnvelope.join(',') !== expected.join(',')) failures.push(`envelope LOAIHOSO: ${wantGot(expected.join(','), inEnvelope.join(','))}`);
  failIf(failures);
}

/** Stores the case, reads its patient's book, and removes what it stored before the next case (cases share patients). */
async function bookCheck(ctx: RunContext, c: GoldenCase): Promise<void> {
  const own: RunContext = { ...ctx, created: [] };
  try {
    await storedBook(own, c);
  } finally {
    for (const ref of own.created.reverse()) {
      const r = await ctx.client.delete(ref).catch(() => undefined);
      if (!r || (r.status !== 200 && r.status !== 204)) ctx.created.push(ref);
    }
  }
}

async function storedBook(ctx: RunContext, c: GoldenCase): Promise<void> {
  const r = await ctx.client.post('', c.bundle);
  if (r.status !== 200) throw new CheckFailure(`the case's transaction answered ${r.status}: ${((r.json as OperationOutcome | undefined)?.issue ?? []).map((i) => `${i.expression?.[0]} ${i.diagnostics}`).join('; ')}`);
  const entries = (r.json as Bundle).entry ?? [];
  // Only what this transaction created is removed at the end (a conditional create may have found a resource already there).
  for (const e of entries) if (e.response?.status?.startsWith('201') && e.response.location) ctx.created.push(e.response.location.split('/_history')[0]);
  const inputs = c.bundle.entry ?? [];
  const index = c.encounter ? inputs.findIndex((e) => e.fullUrl === c.encounter) : inputs.findIndex((e) => e.resource?.resourceType === 'Encounter');
  const encounter = entries[index]?.response?.location?.split('/_history')[0];
  if (!encounter?.startsWith('Encounter/')) throw new CheckFailure(`no stored Encounter for entry ${index}`);
  const stored = (await ctx.client.get(encounter)).json as Encounter;
  const patient = stored.subject?.reference;
  if (!patient?.startsWith('Patient/')) throw new CheckFailure(`${encounter} has no Patient subject`);
  const summary = await ctx.client.get(`${patient}/$summary`);
  if (summary.status !== 200) throw new CheckFailure(`$summary answered ${summary.status}`);
  failIf(diffBookSections(c.expectedBook!, sectionsOfDocument(healthBook(), summary.json as Bundle, encounter)));
}
