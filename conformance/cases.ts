import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { textIn } from '../gateway/fhir/outcome.js';
import { gatherEpisode } from '../gateway/mapping/episode.js';
import { bundleSource } from '../gateway/mapping/sources.js';
import { buildClaimFile, type ClaimFile } from '../gateway/outputs/xml/claim-file.js';
import type { XmlStandard } from '../gateway/outputs/xml/table-definition.js';
import { healthBook } from '../gateway/outputs/healthbook/definition.js';
import { bookParts } from '../gateway/tools/studio/workbench.js';
import { diffBookSections, sectionsOfParts, type BookExpectation, type BookSections } from './book-sections.js';
import { diffTableDocuments, wantGot } from './xml-diff.js';

/**
 * The golden cases (cases/<name>/): an input Bundle, `case.json` (standard, clock, which Encounter)
 * and the documents the gateway must produce for it in `expected/` — one per table of the claim
 * file, XML0.xml for the check-in file, and optionally healthbook.json, the health-book sections the
 * case's patient must see (section key → rows of column → shown text; see book-sections.ts). A case
 * passes when the claim has no error, every expected document is produced byte for byte, no other
 * table is, the envelope carries exactly those tables in order, and the book shows exactly the
 * expected rows of the sections named. Adding a case is adding a folder: no code.
 */
export const CASES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'cases');

export interface GoldenCase {
  name: string;
  dir: string;
  description: string;
  standard: XmlStandard;
  now: Date;
  /** The Encounter's fullUrl (or id) when the Bundle has several. */
  encounter?: string;
  bundle: Bundle;
  /** Table → expected document. */
  expected: Map<string, string>;
  /** The health-book sections expected, when the case has expected/healthbook.json. */
  expectedBook?: BookExpectation;
}

export function loadCases(dir = CASES_DIR): GoldenCase[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const caseDir = join(dir, name);
      const meta = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8')) as { description: string; standard?: XmlStandard; now: string; encounter?: string };
      const expectedDir = join(caseDir, 'expected');
      const expected = new Map(
        readdirSync(expectedDir)
          .filter((f) => /^XML\d+\.xml$/.test(f))
          .map((f) => [f.replace(/\.xml$/, ''), readFileSync(join(expectedDir, f), 'utf8')]),
      );
      const bookFile = join(expectedDir, 'healthbook.json');
      return {
        name,
        dir: caseDir,
        ...(existsSync(bookFile) ? { expectedBook: JSON.parse(readFileSync(bookFile, 'utf8')) as BookExpectation } : {}),
        description: meta.description,
        standard: meta.standard ?? '3176',
        now: new Date(meta.now),
        encounter: meta.encounter,
        bundle: JSON.parse(readFileSync(join(caseDir, 'input.json'), 'utf8')) as Bundle,
        expected,
      };
    });
}

/** The claim file the engine builds for a case. */
export async function buildCase(c: GoldenCase): Promise<ClaimFile> {
  const { source, resources } = bundleSource(c.bundle);
  const encounter = pickEncounter(c, resources);
  const episode = await gatherEpisode(source, encounter.id!);
  return buildClaimFile(episode!, { standard: c.standard, now: c.now });
}

/** The health-book sections the case's Bundle gives its patient (the patient's part and the case's episode). */
export async function buildCaseBook(c: GoldenCase): Promise<BookSections> {
  const { source, resources } = bundleSource(c.bundle);
  const episode = await gatherEpisode(source, pickEncounter(c, resources).id!);
  const book = healthBook();
  return sectionsOfParts(book, await bookParts(episode!, source, book));
}

/** Every way a case's book differs from its expected/healthbook.json (none without one). */
export function compareCaseBook(c: GoldenCase, got: BookSections): string[] {
  return c.expectedBook ? diffBookSections(c.expectedBook, got) : [];
}

function pickEncounter(c: GoldenCase, resources: Resource[]): Resource {
  const encounters = resources.filter((r) => r.resourceType === 'Encounter');
  if (c.encounter) {
    const index = (c.bundle.entry ?? []).filter((e) => e.resource?.resourceType).findIndex((e) => e.fullUrl === c.encounter);
    const found = index >= 0 ? resources[index] : encounters.find((e) => e.id === c.encounter);
    if (!found || found.resourceType !== 'Encounter') throw new Error(`${c.name}: no Encounter ${c.encounter} in input.json`);
    return found;
  }
  if (encounters.length !== 1) throw new Error(`${c.name}: input.json has ${encounters.length} Encounters; name one in case.json`);
  return encounters[0];
}

/** Every way the claim differs from the case's expectations; empty when it passes. */
export function compareCase(c: GoldenCase, claim: ClaimFile): string[] {
  const failures: string[] = [];
  for (const issue of claim.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')) {
    failures.push(`error: ${issue.location?.[0] ?? ''} ${textIn(issue.message, 'en')}`);
  }
  const produced = new Map<string, string>();
  for (const t of claim.tables) if (t.rows.length > 0 && (t.included || t.definition.table === 'XML0')) produced.set(t.definition.table, t.document);
  for (const [table, want] of c.expected) {
    const got = produced.get(table);
    if (got === undefined) failures.push(`${table}: ${wantGot('produced', 'not produced')}`);
    else failures.push(...diffTableDocuments(table, want, got));
  }
  for (const table of produced.keys()) if (!c.expected.has(table)) failures.push(`${table}: ${wantGot('not produced', 'produced')}`);

  const inEnvelope = claim.tables.filter((t) => t.included && t.definition.inEnvelope).map((t) => t.definition.table);
  const expectedInEnvelope = [...c.expected.keys()].filter((t) => t !== 'XML0' && t !== 'XML12').sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  const loaihoso = [...claim.envelope.matchAll(/<LOAIHOSO>(XML\d+)<\/LOAIHOSO><NOIDUNGFILE>([^<]*)<\/NOIDUNGFILE>/g)];
  if (loaihoso.map((m) => m[1]).join(',') !== expectedInEnvelope.join(',')) {
    failures.push(`envelope LOAIHOSO: ${wantGot(expectedInEnvelope.join(','), loaihoso.map((m) => m[1]).join(','))}`);
  }
  for (const [, table, content] of loaihoso) {
    const want = c.expected.get(table);
    if (want !== undefined && Buffer.from(content, 'base64').toString('utf8') !== want) failures.push(`envelope: NOIDUNGFILE of ${table} is not the expected document`);
  }
  if (!inEnvelope.every((t) => loaihoso.some((m) => m[1] === t))) failures.push('envelope: a table of the claim is missing from it');
  return failures;
}

/** Runs every case, prints failures and a summary line; true when all pass. */
export async function reportCases(dir = CASES_DIR): Promise<boolean> {
  let passed = 0;
  let failed = 0;
  for (const c of loadCases(dir)) {
    let failures: string[];
    try {
      failures = [...compareCase(c, await buildCase(c)), ...compareCaseBook(c, await buildCaseBook(c))];
    } catch (e) {
      failures = [`${(e as Error).message}`];
    }
    if (failures.length === 0) passed++;
    else {
      failed++;
      console.log(`FAIL ${c.name} (-want +got):\n${failures.map((f) => `  ${f}`).join('\n')}`);
    }
  }
  console.log(`golden cases: ${passed} passed, ${failed} failed`);
  return failed === 0;
}
