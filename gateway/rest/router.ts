import type { Resource } from '@medplum/fhirtypes';
import { processBundle } from '../bundle/bundle.js';
import { runWrites, type WriteHook, type WriteRequest } from '../bundle/transaction.js';
import { writeResponse } from '../bundle/write-response.js';
import { badRequest, methodNotAllowed, notFound, unsupportedMediaType } from '../fhir/outcome.js';
import { isAcceptedType } from '../fhir/resource-types.js';
import { parseQueryString } from '../fhir/url.js';
import type { Database } from '../store/database.js';
import { Repository } from '../store/repository.js';
import type { RouterGuard } from '../security/guard.js';
import type { ResourceValidator } from '../validation/validator.js';
import { capabilityStatement } from './capability.js';
import type { Operation } from './operations.js';
import { history, read, search, vread } from './read.js';
import type { FhirRequest, FhirResponse } from './request.js';

export interface RouterOptions {
  db: Database;
  validator: ResourceValidator;
  /** Work atomic with writes (the submission outbox). */
  hooks?: readonly WriteHook[];
  operations: Operation[];
  /** The project's profiles by resource type, for the CapabilityStatement. */
  profiles: Record<string, string[]>;
  version: string;
  startedAt: string;
  maxBundleEntries: number;
  /** Authorization and audit around every interaction, bundle entries included (gateway/security). */
  guard?: RouterGuard;
}

/**
 * The FHIR REST semantics, independent of HTTP: a FhirRequest in, a FhirResponse out. The express
 * layer and every bundle entry come through here. Reads run on the given repository (the pool, or
 * the transaction of a bundle); each write runs in a transaction of its own.
 */
export class FhirRouter {
  constructor(private readonly options: RouterOptions) {}

  handle(req: FhirRequest, repo = new Repository(this.options.db)): Promise<FhirResponse> {
    const guard = this.options.guard;
    return guard ? guard.around(req, repo, () => this.dispatch(req, repo)) : this.dispatch(req, repo);
  }

  private async dispatch(req: FhirRequest, repo: Repository): Promise<FhirResponse> {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const [first, second, third, fourth, ...rest] = req.path;
    if (rest.length > 0) throw notFound({ vi: `Không có điểm cuối FHIR tại /${req.path.join('/')}`, en: `No FHIR endpoint at /${req.path.join('/')}` });

    if (first === undefined) {
      if (method === 'POST') return this.bundle(req);
      throw methodNotAllowed({
        vi: `Không hỗ trợ ${method} trên URL gốc; hãy POST một Bundle transaction hoặc batch, hoặc tìm kiếm theo loại tài nguyên`,
        en: `${method} on the base URL is not supported; POST a transaction or batch Bundle, or search a resource type`,
      });
    }
    if (first === 'metadata' && second === undefined) {
      if (method !== 'GET') throw methodNotAllowed({ vi: 'CapabilityStatement được đọc bằng GET', en: 'The CapabilityStatement is read with GET' });
      return Promise.resolve({ status: 200, body: this.capabilityStatement(req.baseUrl) });
    }
    if (first === '_history' && second === undefined) return this.only('GET', method, () => history(repo, req));
    if (first.startsWith('$')) return this.operation(req, first.slice(1), {}, repo);

    const type = first;
    // A type the store does not keep may still have operations (ViewDefinition/$run): those only.
    if (!isAcceptedType(type) && this.options.operations.some((o) => o.resourceTypes.includes(type))) {
      if (second?.startsWith('$') && third === undefined) return this.operation(req, second.slice(1), { type }, repo);
      if (second !== undefined && third?.startsWith('$') && fourth === undefined) return this.operation(req, third.slice(1), { type, id: second }, repo);
    }
    if (!isAcceptedType(type)) throw notFound({ vi: `Máy chủ không hỗ trợ loại tài nguyên "${type}"`, en: `Resource type "${type}" is not supported by this server` });
    if (second === undefined) {
      switch (method) {
        case 'GET':
          return search(repo, type, req);
        case 'POST':
          if (type === 'Bundle') this.refuseBundleTransaction(req);
          return this.write(req, { method: 'POST', url: type, resource: this.resourceBody(req), ifNoneExist: req.ifNoneExist, at: '' });
        case 'PUT':
        case 'PATCH':
        case 'DELETE':
          if (req.query.length === 0) throw badRequest({ vi: `${method} có điều kiện cần tiêu chí tìm kiếm: ${type}?identifier=…`, en: `A conditional ${method} needs search criteria: ${type}?identifier=…` });
          return this.write(req, this.instanceWrite(req, method, `${type}?${new URLSearchParams(req.query)}`));
      }
    }
    if (second === '_search' && third === undefined) {
      return this.only('POST', method, () => search(repo, type, { ...req, query: [...req.query, ...formParams(req.body)] }));
    }
    if (second === '_history' && third === undefined) return this.only('GET', method, () => history(repo, req, type));
    if (second!.startsWith('$') && third === undefined) return this.operation(req, second!.slice(1), { type }, repo);

    const id = second!;
    if (third === undefined) {
      switch (method) {
        case 'GET':
          return read(repo, type, id, req);
        case 'PUT':
        case 'PATCH':
        case 'DELETE':
          return this.write(req, this.instanceWrite(req, method, `${type}/${id}`));
        default:
          throw methodNotAllowed({ vi: `Không cho phép ${method} trên ${type}/${id}`, en: `${method} is not allowed on ${type}/${id}` });
      }
    }
    if (third === '_history') {
      if (fourth === undefined) return this.only('GET', method, () => history(repo, req, type, id));
      return this.only('GET', method, () => vread(repo, type, id, fourth, req));
    }
    if (third.startsWith('$') && fourth === undefined) return this.operation(req, third.slice(1), { type, id }, repo);
    throw notFound({ vi: `Không có điểm cuối FHIR tại /${req.path.join('/')}`, en: `No FHIR endpoint at /${req.path.join('/')}` });
  }

  capabilityStatement(baseUrl: string) {
    const { version, startedAt, operations, profiles } = this.options;
    return capabilityStatement({ baseUrl, version, startedAt, operations, profiles });
  }

  private only(expected: string, method: string, run: () => Promise<FhirResponse>): Promise<FhirResponse> {
    if (method !== expected) throw methodNotAllowed({ vi: `Ở đây chỉ cho phép ${expected}, không phải ${method}`, en: `Only ${expected} is allowed here, not ${method}` });
    return run();
  }

  private bundle(req: FhirRequest): Promise<FhirResponse> {
    return processBundle(req.body, req, {
      db: this.options.db,
      validator: this.options.validator,
      hooks: this.options.hooks,
      maxEntries: this.options.maxBundleEntries,
      read: (r, repo) => this.handle(r, repo),
    });
  }

  /** Transactions and batches go to the base URL; posting them to /Bundle would store them instead. */
  private refuseBundleTransaction(req: FhirRequest): void {
    const type = (req.body as Resource | undefined)?.resourceType === 'Bundle' ? (req.body as { type?: string }).type : undefined;
    if (type === 'transaction' || type === 'batch') {
      throw badRequest({
        vi: `Bundle ${type} được xử lý khi POST tới URL gốc (POST ${req.baseUrl}), không phải ${req.baseUrl}/Bundle — nơi đó sẽ lưu nó như một tài nguyên`,
        en: `A ${type} Bundle is processed when posted to the base URL (POST ${req.baseUrl}), not to ${req.baseUrl}/Bundle, which would store it as a resource`,
      }, 'Bundle.type');
    }
  }

  private instanceWrite(req: FhirRequest, method: 'PUT' | 'PATCH' | 'DELETE', url: string): WriteRequest {
    const write: WriteRequest = { method, url, ifMatch: req.ifMatch, at: '' };
    if (method === 'PUT') write.resource = this.resourceBody(req);
    if (method === 'PATCH') {
      if (req.contentType !== 'application/json-patch+json') {
        throw unsupportedMediaType({ vi: 'PATCH nhận tài liệu JSON Patch với Content-Type application/json-patch+json', en: 'PATCH takes a JSON Patch document with Content-Type application/json-patch+json' });
      }
      write.patch = req.body;
    }
    return write;
  }

  private resourceBody(req: FhirRequest): Resource {
    const body = req.body;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw badRequest({ vi: 'Thân yêu cầu phải là một tài nguyên FHIR dạng JSON', en: 'The request body must be a FHIR resource in JSON' });
    }
    if (typeof (body as Resource).resourceType !== 'string') throw badRequest({ vi: 'Tài nguyên không có resourceType', en: 'The resource has no resourceType' }, 'resourceType');
    return body as Resource;
  }

  private async write(req: FhirRequest, write: WriteRequest): Promise<FhirResponse> {
    const [outcome] = await runWrites(this.options.db, [write], { validator: this.options.validator, hooks: this.options.hooks, baseUrl: req.baseUrl });
    return writeResponse(outcome, req.prefer, req.lang);
  }

  private operation(req: FhirRequest, name: string, target: { type?: string; id?: string }, repo: Repository): Promise<FhirResponse> {
    const level = target.id ? 'instance' : target.type ? 'type' : 'system';
    const op = this.options.operations.find(
      (o) => o.name === name && (level === 'system' ? o.system : o.resourceTypes.includes(target.type!) && (level === 'type' || o.instance)),
    );
    if (!op) {
      const on = target.type ? ` ${target.type}` : '';
      throw notFound({ vi: `Không hỗ trợ thao tác $${name} ở mức ${level}${on}`, en: `Operation $${name} is not supported at ${level} level${on}` });
    }
    if (req.method !== 'POST' && (req.method !== 'GET' || op.affectsState)) {
      throw methodNotAllowed({ vi: `$${name} được gọi bằng POST${op.affectsState ? '' : ' hoặc GET'}`, en: `$${name} is invoked with POST${op.affectsState ? '' : ' or GET'}` });
    }
    return op.handle(req, target, repo);
  }
}

/** The body of `POST [type]/_search` (application/x-www-form-urlencoded), as parameters. */
function formParams(body: unknown): [string, string][] {
  if (typeof body === 'string') return parseQueryString(body, 'body');
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    return Object.entries(body as Record<string, unknown>).flatMap(([k, v]) => [v].flat().map((x) => [k, String(x)] as [string, string]));
  }
  return [];
}
