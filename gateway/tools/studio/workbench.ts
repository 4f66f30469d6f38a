import type { Bundle, Resource } from '@medplum/fhirtypes';
import { joinPath, type Issue } from '../../fhir/outcome.js';
import { gatherEpisode, type Episode, type ResourceSource } from '../../mapping/episode.js';
import { tableMappings } from '../../mapping/mappings.js';
import { bundleSource } from '../../mapping/sources.js';
import type { Row } from '../../mapping/view.js';
import { healthBook, type CompiledBook } from '../../outputs/healthbook/definition.js';
import { projectEpisode, projectPatient, type BookPart } from '../../outputs/healthbook/projection.js';
import { buildClaimFile, episodeVariables, type ClaimFile } from '../../outputs/xml/claim-file.js';
import type { XmlStandard } from '../../outputs/xml/table-definition.js';
import type { ResourceValidator } from '../../validation/validator.js';

/**
 * What the studio shows for a Bundle: for the table picked, the rows its mapping gives (before
 * formatting), the table document, and every issue — the claim's (table, row and XML field, and the
 * FHIR element that fed it) and the profiles' (the FHIR element) — with the health book the same
 * Bundle makes. Computed from the current mapping files each time: nothing is stored.
 */
export interface Workbench {
  table: string;
  /** The mapping's columns and raw rows (FHIRPath results, before the table definition formats them). */
  columns: string[];
  rows: Row[];
  /** The table document, or undefined when the mapping gives no row. */
  xml?: string;
  claim: ClaimFile;
  issues: StudioIssue[];
  book: { book: CompiledBook; parts: BookPart[] };
}

export interface StudioIssue {
  severity: Issue['severity'];
  message: Issue['message'];
  /** The FHIR element (`Bundle.entry[3].resource.select(…)`). */
  expression?: string;
  /** The XML field (`TONG_HOP/MA_LK`), for the claim's issues. */
  location?: string;
  source: 'claim' | 'profile';
}

export class StudioInputError extends Error {}

export async function workbench(bundleText: string, table: string, standard: XmlStandard, validator?: ResourceValidator): Promise<Workbench> {
  const bundle = parseBundle(bundleText);
  const { source, resources, entryOf } = bundleSource(bundle);
  const encounters = resources.filter((r) => r.resourceType === 'Encounter');
  if (encounters.length === 0) throw new StudioInputError('The Bundle has no Encounter: a claim file is made of one episode');
  // The first Encounter's episode: a Bundle of several (a mother and her twins) shows the first one's.
  const episode = (await gatherEpisode(source, encounters[0].id!))!;
  const place = (resource: Resource) => `Bundle.entry[${entryOf.get(resource) ?? '?'}].resource`;
  const now = new Date();
  const claim = buildClaimFile(episode, { standard, now, sourceExpression: (r, path) => (path ? `${place(r)}.select(${path})` : place(r)) });

  const mapping = tableMappings(standard).find((m) => m.table === table);
  const built = claim.tables.find((t) => t.definition.table === table);
  let rows: Row[] = [];
  if (mapping) {
    const variables = episodeVariables(episode, now);
    for (const t of claim.tables) if (t.definition.table !== table) variables[t.definition.table] = t.typed;
    rows = mapping.view.run(episode.resources, variables);
  }

  const issues: StudioIssue[] = claim.issues.map((i) => ({ severity: i.severity, message: i.message, expression: i.expression?.[0], location: i.location?.[0], source: 'claim' }));
  if (validator) {
    for (const r of bundle.entry ?? []) {
      if (!r.resource) continue;
      const at = `Bundle.entry[${(bundle.entry ?? []).indexOf(r)}].resource`;
      for (const i of validator.validate(r.resource)) issues.push({ severity: i.severity, message: i.message, expression: joinPath(at, i.expression?.[0] ?? ''), source: 'profile' });
    }
  }
  return {
    table,
    columns: mapping?.view.columns.map((c) => c.name) ?? [],
    rows,
    xml: built && built.rows.length > 0 ? built.document : undefined,
    claim,
    issues,
    book: { book: healthBook(), parts: await bookParts(episode, source) },
  };
}

/**
 * The book's parts a Bundle makes, as the gateway would keep them once it is stored: the patient's
 * own (found as the store finds them, by the book's search parameters), then the episode's.
 */
export async function bookParts(episode: Episode, source: ResourceSource, book = healthBook()): Promise<BookPart[]> {
  const parts: BookPart[] = [];
  const patient = episode.patient;
  if (patient) {
    const own = await source.referring(book.patientResources.map((p) => ({ ...p, target: `Patient/${patient.id}` })));
    parts.push(projectPatient(book, patient.id!, [patient, ...own.flat()]));
  }
  const part = projectEpisode(book, episode);
  if (part) parts.push(part);
  return parts;
}

function parseBundle(text: string): Bundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new StudioInputError(`The Bundle is not JSON: ${(e as Error).message}`);
  }
  if ((value as { resourceType?: unknown })?.resourceType !== 'Bundle') throw new StudioInputError('Paste or upload a FHIR Bundle (resourceType "Bundle")');
  return value as Bundle;
}
