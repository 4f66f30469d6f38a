import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Composition, Coverage, Patient } from '@medplum/fhirtypes';
import { badRequest, multipleMatches, notFound } from '../../fhir/outcome.js';
import { parseReference } from '../../fhir/references.js';
import { SID } from '../../fhir/vn.js';
import type { Operation } from '../../rest/operations.js';
import { queryValues, type FhirRequest } from '../../rest/request.js';
import { parseSearch } from '../../store/search/query.js';
import type { Repository } from '../../store/repository.js';
import { healthBook } from './definition.js';
import { bookComposition, bookCompositionId, episodeComposition, episodeLine } from './document.js';
import { fullRecompute } from './maintain.js';
import { BookParts } from './parts.js';

/**
 * `$summary` (the IPS operation's name): the patient's health book as a FHIR `document` Bundle —
 * the book's Composition first, then each listed episode's Composition (newest first), then every
 * resource they cite as the book shows it (subsetted). Read from the projection the writes keep,
 * never recomputed. Deterministic: the same data gives the same bytes, identifier included (a hash
 * of the content) and timestamp (the latest change of the book's sources).
 *
 * A 200-episode book is megabytes; it is rendered once per version of the book and kept in a
 * small in-process cache, checked against the book's version (one indexed row) on every request,
 * so that replicas never serve a stale book.
 *
 * `GET Patient/{id}/$summary`, or `GET Patient/$summary?identifier=[system|]value` with a CCCD,
 * personal identification number or BHYT card.
 */
export function summaryOperation(cache = new SummaryCache()): Operation {
  return {
    name: 'summary',
    definition: 'http://hl7.org/fhir/uv/ips/OperationDefinition/summary',
    documentation: "The patient's QĐ 1332 health book as a FHIR document Bundle; by id, or ?identifier= a CCCD, personal ID or BHYT card",
    resourceTypes: ['Patient'],
    system: false,
    instance: true,
    affectsState: false,
    async handle(req, target, repo) {
      const patientId = target.id ?? (await patientByIdentifier(req, repo));
      const book = await summaryDocument(repo, patientId, req.baseUrl, cache);
      return { status: 200, document: { contentType: 'application/fhir+json; charset=utf-8', text: book.text, gzip: () => book.gzip() } };
    },
  };
}

/** A rendered book: its text, and the same gzip-compressed, made on first demand and kept with it. */
export class RenderedBook {
  private compressed?: Buffer;
  constructor(readonly text: string) {}
  gzip(): Buffer {
    // Level 1: a 4 MB book compresses ~10× in a few milliseconds; higher levels cost far more for little.
    this.compressed ??= gzipSync(this.text, { level: 1 });
    return this.compressed;
  }
}

export async function summaryDocument(repo: Repository, patientId: string, baseUrl: string, cache?: SummaryCache): Promise<RenderedBook> {
  const { rows } = await repo.queryable.query<{ live: boolean | null; version: string | null }>(
    `SELECT (SELECT NOT deleted FROM resources WHERE resource_type = 'Patient' AND id = $1) AS live,
            (SELECT version::text FROM health_book_versions WHERE patient_id = $1) AS version`,
    [patientId],
  );
  if (!rows[0]?.live) throw notFound({ vi: `Không có người bệnh Patient/${patientId}`, en: `There is no Patient/${patientId}` });
  const version = rows[0].version;
  const cacheKey = `${patientId}\u0000${baseUrl}`;
  const cached = version ? cache?.get(cacheKey, version) : undefined;
  if (cached) return cached;

  const book = healthBook();
  let parts = await new BookParts(repo.queryable).ofPatient(patientId);
  let compositions: Composition[];
  if (parts.length > 0) {
    const lines = parts.map((p) => (p.key.startsWith('episode/') ? episodeLine(book, p) : undefined)).filter((l) => l !== undefined);
    const ids = [bookCompositionId(patientId), ...lines.reverse().map((l) => l.compositionId)];
    const stored = await repo.current(ids.map((id) => ({ type: 'Composition', id })));
    compositions = ids.map((id) => stored.get(`Composition/${id}`)).filter((v) => v && !v.deleted).map((v) => v!.resource as Composition);
  } else {
    // Stored before the book existed: projected now, not stored (a read changes nothing).
    parts = await fullRecompute(repo, book, patientId);
    const own = parts.find((p) => p.key.startsWith('patient/'));
    const shown = parts.filter((p) => p.key.startsWith('episode/') && episodeLine(book, p));
    compositions = [bookComposition(book, patientId, own, shown.map((p) => episodeLine(book, p)!)), ...shown.reverse().map((p) => episodeComposition(book, p))];
  }
  // The patient's own resources first, then each episode's, newest first; each resource once.
  const ordered = [...parts.filter((p) => !p.key.startsWith('episode/')), ...parts.filter((p) => p.key.startsWith('episode/')).reverse()];
  const seen = new Set<string>();
  const entries = [...compositions, ...ordered.flatMap((p) => p.entries)].filter((r) => !seen.has(`${r.resourceType}/${r.id}`) && seen.add(`${r.resourceType}/${r.id}`));
  const entryText = entries.map((r) => `{"fullUrl":${JSON.stringify(`${baseUrl}/${r.resourceType}/${r.id}`)},"resource":${JSON.stringify(r)}}`).join(',');
  const uuid = uuidFrom(entryText);
  const timestamp = parts.reduce((max, p) => (p.updated > max ? p.updated : max), '') || compositions[0]?.date;
  const rendered = new RenderedBook(`{"resourceType":"Bundle","id":"${uuid}","identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:${uuid}"},"type":"document","timestamp":${JSON.stringify(timestamp)},"entry":[${entryText}]}`);
  if (version) cache?.set(cacheKey, version, rendered);
  return rendered;
}

/**
 * Rendered books by patient and base URL, each valid for one version of the book; the least recently
 * used go first when they hold more than `maxChars` (64 MB of text by default). Only a cache: a hit
 * is served only for the version the database holds now.
 */
export class SummaryCache {
  private readonly entries = new Map<string, { version: string; book: RenderedBook; size: number }>();
  private size = 0;

  constructor(private readonly maxChars = 64 * 1024 * 1024) {}

  get(key: string, version: string): RenderedBook | undefined {
    const hit = this.entries.get(key);
    if (!hit || hit.version !== version) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.book;
  }

  set(key: string, version: string, book: RenderedBook): void {
    this.drop(key);
    // Counted at twice the text: room for its compressed copy.
    const size = book.text.length * 2;
    if (size > this.maxChars) return;
    this.entries.set(key, { version, book, size });
    this.size += size;
    for (const k of this.entries.keys()) {
      if (this.size <= this.maxChars) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.size -= old.size;
  }
}

/** A name-based UUID (RFC 4122 §4.3 layout, SHA-256 truncated): the same book version, the same id. */
function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The patient an identifier names: on the Patient, or (a BHYT card) on one of its Coverages. */
async function patientByIdentifier(req: FhirRequest, repo: Repository): Promise<string> {
  const values = queryValues(req.query, 'identifier');
  if (values.length !== 1 || !values[0].replace(/^[^|]*\|/, '')) {
    throw badRequest({ vi: 'Cần đúng một tham số identifier (CCCD, số định danh cá nhân hoặc mã thẻ BHYT), hoặc gọi Patient/{id}/$summary', en: 'Give exactly one identifier parameter (CCCD, personal ID or BHYT card number), or call Patient/{id}/$summary' }, 'identifier');
  }
  const search = (type: string) => repo.search(parseSearch(type, [['identifier', values[0]]], { strict: true }), 3);
  const ids = new Set((await search('Patient')).map((p) => (p as Patient).id!));
  const system = values[0].includes('|') ? values[0].slice(0, values[0].indexOf('|')) : undefined;
  if (ids.size === 0 && (system === undefined || system === SID.bhyt)) {
    for (const c of (await search('Coverage')) as Coverage[]) {
      const ref = c.beneficiary?.reference ? parseReference(c.beneficiary.reference) : undefined;
      if (ref?.type === 'Patient') ids.add(ref.id);
    }
  }
  if (ids.size === 0) throw notFound({ vi: 'Không có người bệnh nào mang định danh này', en: 'No patient has this identifier' }, 'identifier');
  if (ids.size > 1) throw multipleMatches({ vi: 'Định danh này khớp nhiều người bệnh; hãy ghi rõ hệ định danh (system|value)', en: 'This identifier matches several patients; name its system (system|value)' }, 'identifier');
  return [...ids][0];
}
