import { STATUS_CODES } from 'node:http';
import type { Bundle, BundleEntry, BundleEntryResponse, Resource } from '@medplum/fhirtypes';
import { parseJsonBody } from '../fhir/json.js';
import { parseQueryString } from '../fhir/url.js';
import { badRequest, FhirError, operationOutcome } from '../fhir/outcome.js';
import type { FhirRequest, FhirResponse } from '../rest/request.js';
import { retryingTransaction, type Database, type Queryable } from '../store/database.js';
import { Repository } from '../store/repository.js';
import type { ResourceValidator } from '../validation/validator.js';
import { processWrites, runWrites, type WriteHook, type WriteOutcome, type WriteRequest } from './transaction.js';
import { writeResponse } from './write-response.js';

export interface BundleServices {
  db: Database;
  validator: ResourceValidator;
  hooks?: readonly WriteHook[];
  maxEntries: number;
  /** Answers a read entry (GET) through the router, against the given repository. */
  read(req: FhirRequest, repo: Repository): Promise<FhirResponse>;
}

type EntryWork = { kind: 'write'; write: WriteRequest } | { kind: 'read'; read: FhirRequest };

/** `POST [base]` with a transaction or batch Bundle. */
export async function processBundle(body: unknown, req: FhirRequest, services: BundleServices): Promise<FhirResponse> {
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') {
    throw badRequest({ vi: 'POST tới URL gốc nhận một Bundle loại transaction hoặc batch', en: 'POST to the base URL takes a Bundle of type transaction or batch' }, 'resourceType');
  }
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw badRequest({
      vi: `POST tới URL gốc nhận Bundle transaction hoặc batch, không phải "${String(bundle.type)}"; để lưu một Bundle (ví dụ tài liệu), hãy POST tới ${req.baseUrl}/Bundle`,
      en: `POST to the base URL takes a transaction or batch Bundle, not "${String(bundle.type)}"; to store a Bundle as a document, POST it to ${req.baseUrl}/Bundle`,
    }, 'Bundle.type');
  }
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest({ vi: 'Bundle.entry phải là một mảng', en: 'Bundle.entry must be an array' }, 'Bundle.entry');
  if (entries.length > services.maxEntries) {
    throw new FhirError(413, [{ severity: 'error', code: 'too-costly', message: {
        vi: `Bundle có ${entries.length} mục; máy chủ nhận tối đa ${services.maxEntries} mục mỗi bundle`,
        en: `The bundle has ${entries.length} entries; this server accepts at most ${services.maxEntries} per bundle`,
      }, expression: ['Bundle.entry'] }]);
  }
  return bundle.type === 'transaction' ? transaction(entries, req, services) : batch(entries, req, services);
}

/** All or nothing: one database transaction; the first failure rolls back everything and names its entry. */
async function transaction(entries: BundleEntry[], req: FhirRequest, services: BundleServices): Promise<FhirResponse> {
  const work = entries.map((e, i) => entryWork(e, i, req));
  const writes = work.flatMap((w) => (w.kind === 'write' ? [w.write] : []));
  if (writes.length === work.length) {
    const outcomes = await runWrites(services.db, writes, { validator: services.validator, hooks: services.hooks, baseUrl: req.baseUrl });
    return { status: 200, body: responseBundle('transaction-response', outcomes.map((o) => responseEntry(writeResponse(o, req.prefer, req.lang), req.baseUrl))) };
  }
  const responses = await retryingTransaction(services.db, async (tx: Queryable) => {
    const repo = new Repository(tx);
    const outcomes = await processWrites(writes, { repo, validator: services.validator, hooks: services.hooks, baseUrl: req.baseUrl });
    const byWrite = new Map<WriteRequest, WriteOutcome>(writes.map((w, i) => [w, outcomes[i]]));
    const out: FhirResponse[] = [];
    // Reads come last, so that they see this transaction's writes.
    for (const w of work) {
      if (w.kind === 'write') out.push(writeResponse(byWrite.get(w.write)!, req.prefer, req.lang));
      else out.push(await readEntry(w.read, repo, services));
    }
    return out;
  });
  return { status: 200, body: responseBundle('transaction-response', responses.map((r) => responseEntry(r, req.baseUrl))) };
}

/** Each entry on its own: its own transaction, its own outcome; entries may not refer to each other. */
async function batch(entries: BundleEntry[], req: FhirRequest, services: BundleServices): Promise<FhirResponse> {
  const out: BundleEntry[] = [];
  for (let i = 0; i < entries.length; i++) {
    try {
      const w = entryWork(entries[i], i, req);
      const response =
        w.kind === 'write'
          ? writeResponse((await runWrites(services.db, [w.write], { validator: services.validator, hooks: services.hooks, baseUrl: req.baseUrl }))[0], req.prefer, req.lang)
          : await readEntry(w.read, new Repository(services.db), services);
      out.push(responseEntry(response, req.baseUrl));
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      out.push({ response: { status: statusLine(e.status), outcome: operationOutcome(e.issues, req.lang) } });
    }
  }
  return { status: 200, body: responseBundle('batch-response', out) };
}

async function readEntry(read: FhirRequest, repo: Repository, services: BundleServices): Promise<FhirResponse> {
  try {
    return await services.read(read, repo);
  } catch (e) {
    if (e instanceof FhirError) {
      throw new FhirError(e.status, e.issues.map((i) => ({ ...i, expression: [`${read.at}.request.url`] })));
    }
    throw e;
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

function entryWork(entry: BundleEntry, i: number, req: FhirRequest): EntryWork {
  const at = `Bundle.entry[${i}]`;
  const request = entry?.request;
  if (!request || typeof request !== 'object') throw badRequest({ vi: `${at} thiếu request (method và url)`, en: `${at} has no request (method and url)` }, `${at}.request`);
  const method = request.method;
  if (!METHODS.has(method)) {
    throw badRequest({
      vi: `${at}.request.method "${String(method)}" không phải GET, HEAD, POST, PUT, PATCH hoặc DELETE`,
      en: `${at}.request.method "${String(method)}" is not GET, HEAD, POST, PUT, PATCH or DELETE`,
    }, `${at}.request.method`);
  }
  if (typeof request.url !== 'string' || !request.url) throw badRequest({ vi: `${at} thiếu request.url`, en: `${at} has no request.url` }, `${at}.request.url`);
  let url = request.url;
  if (url.startsWith(req.baseUrl)) url = url.slice(req.baseUrl.length);
  url = url.replace(/^\/+/, '');

  if (method === 'GET' || method === 'HEAD') {
    const q = url.indexOf('?');
    const path = (q < 0 ? url : url.slice(0, q)).split('/').filter(Boolean);
    const query = q < 0 ? [] : parseQueryString(url.slice(q + 1), `${at}.request.url`);
    return {
      kind: 'read',
      read: { ...req, method: 'GET', path, query, body: undefined, at, ifNoneMatch: request.ifNoneMatch, ifModifiedSince: request.ifModifiedSince, ifMatch: undefined, ifNoneExist: undefined },
    };
  }
  const write: WriteRequest = {
    method: method as WriteRequest['method'],
    url,
    fullUrl: entry.fullUrl,
    ifMatch: request.ifMatch,
    ifNoneExist: request.ifNoneExist,
    at,
  };
  if (method === 'PATCH') write.patch = patchDocument(entry.resource, at);
  else if (method !== 'DELETE') write.resource = entry.resource;
  return { kind: 'write', write };
}

/** In a bundle, a JSON Patch travels as a Binary (FHIR R4 §3.1.0.11.2). */
function patchDocument(resource: Resource | undefined, at: string): unknown {
  if (resource?.resourceType === 'Binary' && resource.contentType?.startsWith('application/json-patch+json') && resource.data) {
    try {
      return parseJsonBody(Buffer.from(resource.data, 'base64').toString('utf8'));
    } catch (e) {
      // The problem is inside the decoded patch; the client knows it as this entry's Binary data.
      throw e instanceof FhirError ? new FhirError(e.status, e.issues.map((i) => ({ ...i, expression: [`${at}.resource.data`] }))) : e;
    }
  }
  if (resource?.resourceType === 'Parameters') {
    throw badRequest({ vi: 'Không hỗ trợ FHIRPath Patch; hãy gửi JSON Patch trong một Binary (application/json-patch+json)', en: 'FHIRPath Patch is not supported; send a JSON Patch as a Binary (application/json-patch+json)' }, `${at}.resource`);
  }
  throw badRequest({ vi: 'Mục PATCH cần một Binary chứa JSON Patch (contentType application/json-patch+json)', en: 'A PATCH entry needs a Binary resource holding a JSON Patch (contentType application/json-patch+json)' }, `${at}.resource`);
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

function responseEntry(r: FhirResponse, baseUrl: string): BundleEntry {
  const response: BundleEntryResponse = { status: statusLine(r.status) };
  if (r.location) response.location = r.location;
  if (r.etag) response.etag = r.etag;
  if (r.lastModified) response.lastModified = r.lastModified;
  if (r.outcome) response.outcome = r.outcome;
  if (r.body?.resourceType === 'OperationOutcome' && r.status >= 300) return { response: { ...response, outcome: r.body } };
  return {
    ...(r.body && r.body.id && r.body.resourceType !== 'Bundle' ? { fullUrl: `${baseUrl}/${r.body.resourceType}/${r.body.id}` } : {}),
    ...(r.body ? { resource: r.body } : {}),
    response,
  };
}

function responseBundle(type: 'transaction-response' | 'batch-response', entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type, entry };
}
