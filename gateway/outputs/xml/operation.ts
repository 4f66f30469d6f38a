import type { Bundle, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, notFound, operationOutcome, type Issue } from '../../fhir/outcome.js';
import { gatherEpisode, type Episode } from '../../mapping/episode.js';
import { bundleSource, storeSource } from '../../mapping/sources.js';
import type { Operation } from '../../rest/operations.js';
import { queryValues, type FhirRequest, type FhirResponse } from '../../rest/request.js';
import type { Repository } from '../../store/repository.js';
import { buildClaimFile, type ClaimFile } from './claim-file.js';
import { XML_STANDARDS, type XmlStandard } from './table-definition.js';

const XML = 'application/xml; charset=utf-8';

/**
 * `$xml130`: an episode's claim file (GIAMDINHHS, unsigned), or one table of it with `?table=XML1`.
 * `GET Encounter/{id}/$xml130` builds it from the store; `POST /$xml130` with a Bundle builds it
 * from the Bundle alone and stores nothing. XML by default; errors (the claim would be rejected)
 * answer 422 with every issue. With `Accept: application/fhir+json` the answer is a Parameters
 * holding the files (base64) and the OperationOutcome, errors and warnings alike.
 */
export function xml130Operation(defaultStandard: XmlStandard): Operation {
  return {
    name: 'xml130',
    definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/xml130',
    documentation:
      'The QĐ 130/4750/3176 claim file of an episode (GIAMDINHHS, unsigned), or one table with table=XMLn; standard=4750|3176. POST a Bundle to build it without storing anything',
    resourceTypes: ['Encounter'],
    system: true,
    instance: true,
    affectsState: false,
    async handle(req, target, repo) {
      const { claim, episode } = await claimFor(req, target, repo, standardOf(req, defaultStandard));
      const table = queryValues(req.query, 'table')[0];
      if (table !== undefined) {
        const built = claim.tables.find((t) => t.definition.table === table);
        if (!built) throw badRequest({ vi: `Không có bảng ${table}; dùng XML0 … XML15`, en: `There is no table ${table}; use XML0 … XML15` }, 'table');
        return answer(req, claim, episode, { name: table, text: built.document });
      }
      return answer(req, claim, episode, { name: 'GIAMDINHHS', text: claim.envelope });
    },
  };
}

/** `$xml130-checkin`: the episode's check-in file (XML0, CHI_TIEU_TRANG_THAI_KCB, unsigned). */
export function xml130CheckinOperation(defaultStandard: XmlStandard): Operation {
  return {
    name: 'xml130-checkin',
    definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/xml130-checkin',
    documentation: 'The check-in file (XML0) of an episode, unsigned; POST a Bundle to build it without storing anything',
    resourceTypes: ['Encounter'],
    system: true,
    instance: true,
    affectsState: false,
    async handle(req, target, repo) {
      const { claim, episode } = await claimFor(req, target, repo, standardOf(req, defaultStandard));
      if (!claim.checkin) {
        throw new FhirError(422, [{ severity: 'error', code: 'processing', message: { vi: 'Đợt điều trị chưa có chi phí nào để báo check-in', en: 'The episode has no cost yet to check in' } }]);
      }
      const xml0 = claim.tables.find((t) => t.definition.table === 'XML0')!;
      // Only XML0's own problems stop a check-in: the rest of the claim may still be incomplete.
      return answer(req, { ...claim, issues: claim.issues.filter((i) => i.location?.[0]?.startsWith(xml0.definition.root)) }, episode, { name: 'XML0', text: claim.checkin });
    },
  };
}

function standardOf(req: FhirRequest, fallback: XmlStandard): XmlStandard {
  const asked = queryValues(req.query, 'standard')[0];
  if (asked === undefined) return fallback;
  if (!XML_STANDARDS.includes(asked as XmlStandard)) throw badRequest({ vi: `standard là 4750 hoặc 3176, không phải "${asked}"`, en: `standard is 4750 or 3176, not "${asked}"` }, 'standard');
  return asked as XmlStandard;
}

async function claimFor(req: FhirRequest, target: { type?: string; id?: string }, repo: Repository, standard: XmlStandard): Promise<{ claim: ClaimFile; episode: Episode }> {
  if (target.id) {
    const episode = await gatherEpisode(storeSource(repo), target.id);
    if (!episode) throw notFound({ vi: `Không có Encounter/${target.id}`, en: `Encounter/${target.id} is not known` }, 'id');
    return { claim: buildClaimFile(episode, { standard }), episode };
  }
  if (req.method !== 'POST') throw badRequest({ vi: 'Gọi trên một Encounter, hoặc POST một Bundle', en: 'Invoke it on an Encounter, or POST a Bundle' });
  const bundle = req.body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') throw badRequest({ vi: 'Thân yêu cầu phải là một Bundle', en: 'The body must be a Bundle' }, 'resourceType');
  const { source, resources, entryOf } = bundleSource(bundle);
  const encounter = pickEncounter(resources, queryValues(req.query, 'encounter')[0], bundle);
  const episode = (await gatherEpisode(source, encounter.id!))!;
  const sourceExpression = (resource: Resource, path: string) => {
    const base = `Bundle.entry[${entryOf.get(resource) ?? '?'}].resource`;
    return path ? `${base}.select(${path})` : base;
  };
  return { claim: buildClaimFile(episode, { standard, sourceExpression }), episode };
}

/** The Encounter the caller names (`encounter=` an id or fullUrl), or the Bundle's only one. */
function pickEncounter(resources: Resource[], wanted: string | undefined, bundle: Bundle): Resource {
  const encounters = resources.filter((r) => r.resourceType === 'Encounter');
  if (wanted !== undefined) {
    const byFullUrl = bundle.entry?.find((e) => e.fullUrl === wanted && e.resource?.resourceType === 'Encounter');
    const id = byFullUrl ? resources[bundle.entry!.filter((e) => e.resource?.resourceType).indexOf(byFullUrl)]?.id : wanted;
    const found = encounters.find((e) => e.id === id);
    if (!found) throw badRequest({ vi: `Bundle không có Encounter "${wanted}"`, en: `The Bundle has no Encounter "${wanted}"` }, 'encounter');
    return found;
  }
  if (encounters.length !== 1) {
    throw badRequest(
      { vi: `Bundle có ${encounters.length} Encounter; chọn một bằng encounter=<id hoặc fullUrl>`, en: `The Bundle has ${encounters.length} Encounters; choose one with encounter=<id or fullUrl>` },
      'encounter',
    );
  }
  return encounters[0];
}

function answer(req: FhirRequest, claim: ClaimFile, episode: Episode, file: { name: string; text: string }): FhirResponse {
  if (wantsJson(req)) {
    const parameter: ParametersParameter[] = [
      { name: 'maLk', valueString: claim.maLk },
      { name: 'file', part: [{ name: 'name', valueString: file.name }, { name: 'content', valueBase64Binary: Buffer.from(file.text, 'utf8').toString('base64') }] },
      { name: 'outcome', resource: operationOutcome(withStatus(claim.issues, episode), req.lang) },
    ];
    return { status: 200, body: { resourceType: 'Parameters', parameter } as Parameters };
  }
  const errors = claim.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) throw new FhirError(422, withStatus(claim.issues, episode));
  return { status: 200, document: { contentType: XML, text: file.text, filename: `${file.name}_${safeName(claim.maLk)}.xml` } };
}

/** An episode not finished yet can be previewed, not sent: say so. */
function withStatus(issues: Issue[], episode: Episode): Issue[] {
  if (episode.encounter.status === 'finished') return issues;
  return [
    {
      severity: 'warning',
      code: 'business-rule',
      message: {
        vi: `Encounter đang ở trạng thái "${episode.encounter.status}": hồ sơ chỉ để xem trước, chỉ gửi khi đợt điều trị kết thúc (finished)`,
        en: `The Encounter is "${episode.encounter.status}": this claim is a preview; it is sent when the episode is finished`,
      },
      expression: ['Encounter.status'],
    },
    ...issues,
  ];
}

function wantsJson(req: FhirRequest): boolean {
  return queryValues(req.query, '_format').some((f) => /json/i.test(f)) || req.accept === 'json';
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_') || 'episode';
