import { randomUUID } from 'node:crypto';
import type { AuditEvent, Bundle, Coverage, CoverageEligibilityResponse } from '@medplum/fhirtypes';
import type { WriteRequest } from '../bundle/transaction.js';
import type { FacilityCredentials } from '../facilities/credentials.js';
import type { FacilityRegistry } from '../facilities/registry.js';
import { FhirError, type Issue } from '../fhir/outcome.js';
import { canonical } from '../fhir/vn.js';
import type { Logger } from '../log.js';
import type { PortalAccount, PortalClient } from '../outbox/portal-client.js';
import type { Operation } from '../rest/operations.js';
import { versionHeaders, type FhirRequest } from '../rest/request.js';
import type { FhirRouter } from '../rest/router.js';
import type { Repository } from '../store/repository.js';
import { parseSearch } from '../store/search/query.js';
import { cardCoverage, cardFacts, isCard, type CardFacts } from './card-coverage.js';
import { readEligibilityInput, type EligibilityInput } from './eligibility-request.js';
import { eligibilityResponse, stripUndefined } from './eligibility-response.js';
import { lookupAuditEvent, replacementProvenance, type AuditInput } from './lookup-audit.js';
import { LookupCache } from './lookup-cache.js';
import { lookupCard, PortalUnavailable, type CardAnswer, type Officer } from './portal-lookup.js';
import { cacheable, CARD_ANSWERS, resultCode, type ResultCode } from './result-codes.js';

/**
 * `POST [base]/CoverageEligibilityRequest/$submit`: the reception desk's card check (step 8 of the
 * pilot process). The request names the patient and the facility; the gateway looks the card up on
 * the BHXH portal with the facility's own account and registered lookup officer, and answers a
 * CoverageEligibilityResponse (see eligibility-response.ts). In one FHIR transaction — through the
 * router, so validation and every write hook (outbox, health book) apply as to any client's write —
 * it stores that response, the patient's Coverage as BHXH described the card (and the new card,
 * linked by a Provenance), and the AuditEvent of the lookup. A portal that does not answer in time is a 504, one
 * that answers nonsense or refuses the account a 502 — after RECEPTION_TIMEOUT_MS at most.
 */
export interface ReceptionServices {
  /** The router writes go through (a function: the router is built with this operation in its list). */
  router: () => FhirRouter;
  credentials: FacilityCredentials;
  registry: FacilityRegistry;
  portal: PortalClient;
  timeoutMs: number;
  cacheSeconds: number;
  log?: Logger;
  now?: () => Date;
  /**
   * The chained audit log, when it is on: takes the lookup's AuditEvent (with the officer) and
   * answers true. Without it the AuditEvent is stored as a resource with the lookup's other writes.
   */
  audit?: (event: AuditEvent, patients: string[]) => boolean;
}

export function eligibilityOperation(s: ReceptionServices): Operation {
  const cache = new LookupCache(s.cacheSeconds * 1000);
  const now = s.now ?? (() => new Date());
  return {
    name: 'submit',
    definition: canonical('OperationDefinition', 'coverage-eligibility-submit'),
    documentation:
      'Checks a BHYT card (or CCCD) with the BHXH portal for a patient at a facility: the CoverageEligibilityRequest (or a Parameters with resource) names the patient (Patient/{id} or contained) and the facility (provider); answers a CoverageEligibilityResponse (validity, MA_DKBD, benefit level, five-year date, new card, result code, recent visits) and updates the patient’s Coverage',
    resourceTypes: ['CoverageEligibilityRequest'],
    system: false,
    instance: false,
    affectsState: true,
    async handle(req, _target, repo) {
      const input = await readEligibilityInput(req.body, repo);
      const { account, officer } = await facilityAccess(s, input);
      const key = LookupCache.key(input.facility, input.query);
      const cached = cache.get(key);
      let answer: CardAnswer;
      try {
        answer = cached ?? (await lookupCard(s.portal, account, officer, input.query, s.timeoutMs));
      } catch (e) {
        if (!(e instanceof PortalUnavailable)) throw e;
        s.log?.warn({ facility: input.facility, reason: e.kind }, 'card lookup: the BHXH portal did not answer');
        await audit(s, req, { input, officer, account, now: now(), result: { unavailable: e.detail } });
        throw unavailable(e, s.timeoutMs);
      }
      const meaning = resultCode(answer.maKetQua);
      if (!CARD_ANSWERS.has(meaning.family)) {
        s.log?.warn({ facility: input.facility, maKetQua: meaning.code }, 'card lookup: the BHXH portal could not answer about the card');
        await audit(s, req, { input, officer, account, now: now(), result: { meaning, fromCache: false } });
        throw portalError(meaning, answer);
      }
      if (!cached && cacheable(meaning.family)) cache.set(key, answer);

      // A concurrent update of the same Coverage (another desk, the HIS) makes If-Match fail: read and merge again.
      for (let attempt = 1; ; attempt++) {
        try {
          return await record(s, req, repo, input, answer, meaning, { officer, account, fromCache: !!cached, at: now() });
        } catch (e) {
          if (!(e instanceof FhirError && e.status === 412) || attempt >= 3) throw e;
        }
      }
    },
  };
}

/** The facility's portal account and lookup officer, or a 422 saying which is missing. */
async function facilityAccess(s: ReceptionServices, input: EligibilityInput): Promise<{ account: PortalAccount; officer: Officer }> {
  const account = await s.credentials.account(input.facility);
  const where = [`${input.at}.provider`];
  if (!account) {
    throw new FhirError(422, [{
      severity: 'error', code: 'processing', expression: where,
      message: { vi: `Cơ sở KCB ${input.facility} chưa có tài khoản cổng BHXH: quản trị hệ thống đặt portalUsername và portalPassword bằng $credentials`, en: `Facility ${input.facility} has no BHXH portal account: an administrator sets portalUsername and portalPassword with $credentials` },
    }]);
  }
  // The officer may be stored in the registry while the account comes from CREDENTIALS_DIR.
  let officer = account.lookupOfficer;
  if (!officer) {
    const org = input.organization ?? (await s.registry.organizationOf(input.facility));
    officer = org ? (await s.registry.record(org.id!))?.secrets.lookupOfficer : undefined;
  }
  if (!officer) {
    throw new FhirError(422, [{
      severity: 'error', code: 'processing', expression: where,
      message: { vi: `Cơ sở KCB ${input.facility} chưa có cán bộ tra cứu đăng ký với BHXH: quản trị hệ thống đặt lookupOfficerName và lookupOfficerCccd bằng $credentials`, en: `Facility ${input.facility} has no lookup officer registered with BHXH: an administrator sets lookupOfficerName and lookupOfficerCccd with $credentials` },
    }]);
  }
  return { account, officer };
}

function unavailable(e: PortalUnavailable, timeoutMs: number): FhirError {
  const issue = (status: number, code: Issue['code'], vi: string, en: string) => new FhirError(status, [{ severity: 'error', code, message: { vi, en } }]);
  switch (e.kind) {
    case 'timeout':
      return issue(504, 'timeout', `Cổng BHXH không trả lời trong ${timeoutMs / 1000} giây: chưa tra cứu được thẻ. Thử lại sau ít phút; nếu người bệnh cần khám ngay, tiếp đón và tra cứu lại sau.`, `The BHXH portal did not answer within ${timeoutMs / 1000} s: the card could not be checked. Try again in a few minutes; if the patient needs care now, receive them and check the card later.`);
    case 'login-refused':
      return issue(502, 'login', `Cổng BHXH từ chối tài khoản cổng của cơ sở (${e.detail}): báo quản trị hệ thống kiểm tra tài khoản cổng.`, `The BHXH portal refused the facility’s account (${e.detail}): tell the administrator to check the portal account.`);
    case 'unreachable':
      return issue(502, 'transient', `Không kết nối được cổng BHXH (${e.detail}): chưa tra cứu được thẻ. Thử lại sau ít phút.`, `The BHXH portal cannot be reached (${e.detail}): the card could not be checked. Try again in a few minutes.`);
    default:
      return issue(502, 'transient', `Cổng BHXH trả lời không hợp lệ (${e.detail}): chưa tra cứu được thẻ. Thử lại sau ít phút.`, `The BHXH portal gave an unusable answer (${e.detail}): the card could not be checked. Try again in a few minutes.`);
  }
}

/** 100, 101, 205, 401 or an unknown code: nothing was learnt about the card. */
function portalError(meaning: ResultCode, answer: CardAnswer): FhirError {
  const said = answer.ghiChu ? ` — "${answer.ghiChu}"` : '';
  return new FhirError(502, [{
    severity: 'error', code: meaning.code === '401' ? 'login' : 'transient',
    message: { vi: `Cổng BHXH trả mã ${meaning.code} (${meaning.label.vi})${said}. ${meaning.advice.vi}`, en: `The BHXH portal answered ${meaning.code} (${meaning.label.en})${said}. ${meaning.advice.en}` },
  }]);
}

/** The AuditEvent of a lookup that produced nothing else; its failure must not hide the portal's. */
async function audit(s: ReceptionServices, req: FhirRequest, a: AuditInput): Promise<void> {
  const event = lookupAuditEvent(a);
  if (s.audit?.(event, a.input.storedPatient ? [a.input.storedPatient.id] : [])) return;
  try {
    await transaction(s, req, [{ method: 'POST', url: 'AuditEvent', resource: event, at: '' }]);
  } catch (e) {
    s.log?.error({ err: (e as Error).name }, 'card lookup: the AuditEvent could not be stored');
  }
}

interface LookupContext {
  officer: Officer;
  account: PortalAccount;
  fromCache: boolean;
  at: Date;
}

/** Response, Coverages, Provenance and AuditEvent, written together: all or nothing. */
async function record(s: ReceptionServices, req: FhirRequest, repo: Repository, input: EligibilityInput, answer: CardAnswer, meaning: ResultCode, c: LookupContext) {
  const facts = cardFacts(answer);
  const plan = input.storedPatient ? await coverageWrites(repo, input.storedPatient.id, facts, meaning, input.query.maThe, c.at, answer.cqBHXH) : { writes: [], refs: [] };
  const responseUrl = `urn:uuid:${randomUUID()}`;
  const response = eligibilityResponse({ input, answer, meaning, facts, lookupId: randomUUID(), now: c.at, lang: req.lang });
  const event = lookupAuditEvent({ input, officer: c.officer, account: c.account, now: c.at, result: { meaning, fromCache: c.fromCache }, produced: { response: responseUrl, coverages: plan.refs } });
  const chained = s.audit?.(event, input.storedPatient ? [input.storedPatient.id] : []) ?? false;
  const writes: WriteRequest[] = [
    { method: 'POST', url: 'CoverageEligibilityResponse', fullUrl: responseUrl, resource: stripUndefined(response), at: '' },
    ...plan.writes,
    ...(chained ? [] : [{ method: 'POST' as const, url: 'AuditEvent', at: '', resource: event }]),
  ];
  const [stored] = (await transaction(s, req, writes)) as [CoverageEligibilityResponse];
  return { status: 200, body: stored, ...versionHeaders(stored) };
}

/** Writes as one transaction Bundle through the router; the resources as stored, in order. */
async function transaction(s: ReceptionServices, req: FhirRequest, writes: WriteRequest[]): Promise<unknown[]> {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: writes.map((w) => ({
      ...(w.fullUrl ? { fullUrl: w.fullUrl } : {}),
      resource: w.resource,
      request: { method: w.method, url: w.url, ...(w.ifMatch ? { ifMatch: w.ifMatch } : {}) },
    })),
  };
  const res = await s.router().handle({ method: 'POST', path: [], query: [], body: bundle, prefer: { return: 'representation' }, baseUrl: req.baseUrl, at: '', lang: req.lang });
  return ((res.body as Bundle).entry ?? []).map((e) => e.resource);
}

/**
 * The patient's Coverages as BHXH described the cards: the card looked up updated (or created) for
 * 000 / 010 / 003 / 004, the new card of 003 / 004 too — linked by a Provenance when it is created —
 * and a revoked or reduced card's Coverage cancelled. Each update is conditional on the version read
 * (If-Match), so a concurrent change is never overwritten; the same content again makes no version.
 */
async function coverageWrites(repo: Repository, patientId: string, facts: { card?: CardFacts; replacement?: CardFacts }, meaning: ResultCode, queried: string, now: Date, agency?: string): Promise<{ writes: WriteRequest[]; refs: string[] }> {
  const family = meaning.family;
  const card = facts.card;
  if (!card || !['valid', 'expired', 'new-card', 'revoked', 'reduced'].includes(family)) return { writes: [], refs: [] };
  const held = (await repo.search(parseSearch('Coverage', [['beneficiary', `Patient/${patientId}`]], { strict: true }), 500)) as (Coverage & { id: string })[];
  const beneficiary = { reference: `Patient/${patientId}` };
  const writes: WriteRequest[] = [];
  const refs: string[] = [];
  const write = (resource: Coverage, existing?: Coverage & { id: string }): string => {
    if (existing) {
      writes.push({ method: 'PUT', url: `Coverage/${existing.id}`, resource: stripUndefined({ ...resource, id: existing.id }), ifMatch: `W/"${existing.meta?.versionId}"`, at: '' });
      refs.push(`Coverage/${existing.id}`);
      return `Coverage/${existing.id}`;
    }
    const fullUrl = `urn:uuid:${randomUUID()}`;
    writes.push({ method: 'POST', url: 'Coverage', fullUrl, resource: stripUndefined(resource), at: '' });
    refs.push(fullUrl);
    return fullUrl;
  };
  const current = held.find((cov) => isCard(cov, [card.maThe, queried]));
  if (family === 'revoked' || family === 'reduced') {
    // BHXH says what the card was, not its dates: the Coverage is cancelled, the rest kept as it was.
    if (current && current.status !== 'cancelled') write({ ...current, status: 'cancelled', meta: undefined }, current);
    return { writes, refs };
  }
  const old = write(cardCoverage(card, beneficiary, current), current);
  if (family === 'new-card' && facts.replacement) {
    const existing = held.find((cov) => isCard(cov, [facts.replacement!.maThe]));
    const replacement = write(cardCoverage(facts.replacement, beneficiary, existing), existing);
    if (!existing) writes.push({ method: 'POST', url: 'Provenance', resource: replacementProvenance(replacement, old, meaning, agency, now), at: '' });
  }
  return { writes, refs };
}
