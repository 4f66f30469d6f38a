import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { textIn, type Issue, type Language } from '../../fhir/outcome.js';
import { gatherEpisode } from '../../mapping/episode.js';
import { bundleSource } from '../../mapping/sources.js';
import { buildClaimFile } from '../../outputs/xml/claim-file.js';
import type { XmlStandard } from '../../outputs/xml/table-definition.js';

/**
 * Offline claim files: every Encounter of a Bundle (or the one named) → a folder per episode
 * (named by MA_LK) holding GIAMDINHHS.xml, each table's document and the check-in file, plus
 * issues.json. Nothing is stored, nothing is sent.
 */
export interface ExportOptions {
  outDir: string;
  standard: XmlStandard;
  encounter?: string;
  now?: Date;
}

export interface ExportedEpisode {
  maLk: string;
  folder: string;
  files: string[];
  issues: Issue[];
}

export async function exportClaimFiles(bundle: Bundle, options: ExportOptions): Promise<ExportedEpisode[]> {
  const { source, resources, entryOf } = bundleSource(bundle);
  const encounters = resources.filter((r) => r.resourceType === 'Encounter' && (!options.encounter || r.id === options.encounter));
  if (encounters.length === 0) throw new Error(options.encounter ? `the bundle has no Encounter ${options.encounter}` : 'the bundle has no Encounter');
  const sourceExpression = (resource: Resource, path: string) => {
    const base = `Bundle.entry[${entryOf.get(resource) ?? '?'}].resource`;
    return path ? `${base}.select(${path})` : base;
  };
  const out: ExportedEpisode[] = [];
  for (const encounter of encounters) {
    const episode = (await gatherEpisode(source, encounter.id!))!;
    const claim = buildClaimFile(episode, { standard: options.standard, now: options.now, sourceExpression });
    const folder = join(options.outDir, (claim.maLk || encounter.id!).replace(/[^A-Za-z0-9._-]/g, '_'));
    mkdirSync(folder, { recursive: true });
    const files: [string, string][] = [['GIAMDINHHS.xml', claim.envelope]];
    for (const t of claim.tables) if (t.rows.length > 0) files.push([`${t.definition.table}.xml`, t.document]);
    for (const [name, text] of files) writeFileSync(join(folder, name), text);
    writeFileSync(join(folder, 'issues.json'), `${JSON.stringify(claim.issues, null, 2)}\n`);
    out.push({ maLk: claim.maLk, folder, files: files.map(([n]) => n), issues: claim.issues });
  }
  return out;
}

/** One line per issue, for a terminal. */
export function describeIssue(issue: Issue, lang: Language = 'vi'): string {
  return `${issue.severity.padEnd(7)} ${issue.location?.[0] ?? ''}  ${textIn(issue.message, lang)}`;
}
