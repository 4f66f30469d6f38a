import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { badRequest, notSupported } from '../fhir/outcome.js';
import { queryValues, type FhirRequest } from '../rest/request.js';
import { runFormatOf, type RunFormat } from './run-output.js';

/**
 * The inputs of `$viewdefinition-run` (http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run),
 * read from the Parameters body and the query string. Every refusal names the parameter at fault
 * (`Parameters.parameter[2].valueInteger`) so that a client can fix it.
 */
export interface RunInput {
  /** An inline ViewDefinition and where it sits in the request. */
  viewResource?: { view: unknown; at: string };
  /** A mapping file's name (`XML1`, `healthbook/cards`) from viewReference or the instance id. */
  viewName?: { name: string; at: string };
  /** The resources to run over, as one Bundle (Bundles given are flattened, fullUrls kept). */
  resources: Bundle;
  format: RunFormat;
  header: boolean;
  limit?: number;
  /** The Encounter whose episode a mapping reads (`%encounter`), when the resources hold several. */
  encounter?: string;
  standard?: string;
}

/** Parameters this server does not serve: it runs views over the resources given, never over its store. */
const UNSUPPORTED = ['patient', 'group', '_since', 'source'];

export function readRunInput(req: FhirRequest, instanceId: string | undefined): RunInput {
  const body = req.body as Parameters | undefined;
  if (body !== undefined && body?.resourceType !== 'Parameters') {
    throw badRequest({ vi: `Thân yêu cầu phải là Parameters, không phải ${String((body as { resourceType?: unknown })?.resourceType ?? 'JSON không có resourceType')}`, en: `The body must be a Parameters resource, not ${String((body as { resourceType?: unknown })?.resourceType ?? 'JSON without a resourceType')}` }, 'resourceType');
  }
  const params = (body?.parameter ?? []).map((p, i) => ({ p, at: `Parameters.parameter[${i}]` }));
  const named = (name: string) => params.filter(({ p }) => p.name === name);
  const one = (name: string) => {
    const found = named(name);
    if (found.length > 1) throw badRequest({ vi: `Tham số ${name} chỉ được có một lần`, en: `Parameter ${name} may be given once` }, found[1].at);
    return found[0];
  };

  for (const { p, at } of params) {
    if (UNSUPPORTED.includes(p.name ?? '')) {
      throw notSupported({ vi: `Máy chủ không hỗ trợ tham số ${p.name}: nó chạy view trên các tài nguyên gửi kèm (resource), không trên dữ liệu đã lưu`, en: `Parameter ${p.name} is not supported: this server runs views over the resources sent (resource), never over its store` }, at);
    }
  }
  for (const name of UNSUPPORTED) {
    if (queryValues(req.query, name).length > 0) throw notSupported({ vi: `Máy chủ không hỗ trợ tham số ${name}`, en: `Parameter ${name} is not supported` }, name);
  }

  const viewResource = one('viewResource');
  const viewReference = one('viewReference');
  const viewGiven = [viewResource, viewReference, instanceId].filter((v) => v !== undefined).length;
  if (viewGiven > 1) {
    throw badRequest({ vi: 'Chỉ một trong viewResource, viewReference hoặc id của ViewDefinition trên URL', en: 'Give only one of viewResource, viewReference or the ViewDefinition id in the URL' }, (viewReference ?? viewResource)?.at);
  }
  if (viewGiven === 0) throw badRequest({ vi: 'Thiếu view: tham số viewResource (ViewDefinition) hoặc viewReference (tên tệp ánh xạ, ví dụ ViewDefinition/XML1)', en: 'No view: give viewResource (a ViewDefinition) or viewReference (a mapping file, e.g. ViewDefinition/XML1)' }, 'Parameters.parameter');

  const input: RunInput = {
    resources: { resourceType: 'Bundle', type: 'collection', entry: [] },
    format: 'ndjson',
    header: true,
  };
  if (viewResource) {
    if (!viewResource.p.resource) throw badRequest({ vi: 'viewResource phải chứa một ViewDefinition trong resource', en: 'viewResource must carry a ViewDefinition in resource' }, viewResource.at);
    input.viewResource = { view: viewResource.p.resource, at: `${viewResource.at}.resource` };
  }
  if (viewReference) input.viewName = { name: referencedName(viewReference.p, viewReference.at), at: viewReference.at };
  if (instanceId) input.viewName = { name: instanceId.replace(/\./g, '/'), at: 'id' };

  for (const { p, at } of named('resource')) {
    const r = p.resource as Resource | undefined;
    if (!r?.resourceType) throw badRequest({ vi: 'Tham số resource phải chứa một tài nguyên FHIR', en: 'Parameter resource must carry a FHIR resource' }, at);
    if (r.resourceType === 'Bundle') input.resources.entry!.push(...((r as Bundle).entry ?? []).filter((e) => e.resource));
    else input.resources.entry!.push({ ...(r.id ? { fullUrl: `${r.resourceType}/${r.id}` } : {}), resource: r } as BundleEntry);
  }
  if (input.resources.entry!.length === 0) {
    throw badRequest({ vi: 'Không có tài nguyên nào để chạy: gửi các tham số resource (tài nguyên hoặc một Bundle). Máy chủ không chạy view trên dữ liệu đã lưu', en: 'No resources to run over: send resource parameters (resources or a Bundle). This server does not run views over its store' }, 'Parameters.parameter');
  }

  const format = one('_format');
  const formatText = format ? (format.p.valueCode ?? format.p.valueString) : queryValues(req.query, '_format')[0];
  if (formatText !== undefined) {
    const f = runFormatOf(formatText);
    if (!f) throw badRequest({ vi: `_format "${formatText}" không được hỗ trợ; dùng json, ndjson hoặc csv`, en: `_format "${formatText}" is not supported; use json, ndjson or csv` }, format ? `${format.at}.valueCode` : '_format');
    input.format = f;
  } else if (req.accept === 'csv') input.format = 'csv';
  // Otherwise NDJSON, the operation's default: an Accept naming JSON cannot tell json from x-ndjson here.

  const header = one('header');
  if (header) {
    if (typeof header.p.valueBoolean !== 'boolean') throw badRequest({ vi: 'header là valueBoolean', en: 'header is a valueBoolean' }, header.at);
    input.header = header.p.valueBoolean;
  } else if (queryValues(req.query, 'header')[0] !== undefined) {
    input.header = queryValues(req.query, 'header')[0] !== 'false';
  }

  const limit = one('_limit');
  const limitValue = limit ? limit.p.valueInteger : queryValues(req.query, '_limit')[0];
  if (limitValue !== undefined) {
    const n = Number(limitValue);
    if (!Number.isInteger(n) || n < 1) throw badRequest({ vi: `_limit phải là số nguyên dương, không phải ${JSON.stringify(limitValue)}`, en: `_limit must be a positive integer, not ${JSON.stringify(limitValue)}` }, limit ? `${limit.at}.valueInteger` : '_limit');
    input.limit = n;
  }
  input.encounter = stringParam(one('encounter')) ?? queryValues(req.query, 'encounter')[0];
  input.standard = stringParam(one('standard')) ?? queryValues(req.query, 'standard')[0];
  return input;
}

const stringParam = (found: { p: ParametersParameter } | undefined) => found?.p.valueString ?? found?.p.valueCode ?? found?.p.valueId;

/** `ViewDefinition/XML1`, `XML1`, `ViewDefinition/healthbook.cards` or a canonical ending in one → the mapping's name. */
function referencedName(p: ParametersParameter, at: string): string {
  const text = p.valueReference?.reference ?? p.valueString ?? p.valueCanonical ?? p.valueUri;
  if (!text) throw badRequest({ vi: 'viewReference là valueReference (ViewDefinition/<tên>) hoặc valueString', en: 'viewReference is a valueReference (ViewDefinition/<name>) or a valueString' }, at);
  const name = text.replace(/^.*?ViewDefinition\//, '');
  return name.replace(/\./g, '/');
}
