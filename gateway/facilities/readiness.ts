import type { Organization } from '@medplum/fhirtypes';
import type { Text } from '../fhir/outcome.js';
import { SID } from '../fhir/vn.js';
import type { PortalClient } from '../outbox/portal-client.js';
import { daysLeft } from '../signing/keys.js';
import type { Queryable } from '../store/database.js';
import { Repository } from '../store/repository.js';
import { keys } from '../store/search/index-keys.js';
import { parseSearch } from '../store/search/query.js';
import type { FacilityCredentials } from './credentials.js';
import type { FacilityRegistry } from './registry.js';

/**
 * The onboarding checklist of the pilot process (QĐ 2733 PL01) for one facility, every step
 * checked from what the gateway knows — the Organization, its sealed credentials, the outbox, the
 * episodes received — except the internal regulation, which an administrator attests.
 *
 * The portal has no test endpoint: a certificate counts as accepted by the portal once a file it
 * signed was accepted (in practice the episode's check-in, the first file sent).
 */
export type StepStatus = 'done' | 'warning' | 'failed' | 'pending';

export interface ReadinessStep {
  code: string;
  title: Text;
  status: StepStatus;
  detail?: Text;
  /** When it was checked, attested or happened. */
  when?: string;
}

export interface Readiness {
  organizationId: string;
  name: string;
  facility?: string;
  ready: boolean;
  steps: ReadinessStep[];
}

export const STEPS: { code: string; title: Text }[] = [
  { code: 'ma-cskcb', title: { vi: 'Có mã cơ sở KCB (MA_CSKCB)', en: 'Facility code (MA_CSKCB) assigned' } },
  { code: 'lien-thong', title: { vi: 'Mã liên thông đã đăng ký với BHXH', en: 'Data-sharing code registered with BHXH' } },
  { code: 'tai-khoan', title: { vi: 'Đăng nhập được Cổng tiếp nhận BHXH', en: 'Portal login succeeds' } },
  { code: 'chung-thu', title: { vi: 'Chứng thư số của cơ sở còn hạn trên 30 ngày', en: 'Facility certificate valid for 30+ days' } },
  { code: 'chung-thu-cong', title: { vi: 'Cổng đã tiếp nhận tệp ký bằng chứng thư này', en: 'Portal accepted a file signed with it' } },
  { code: 'his', title: { vi: 'Đã nhận dữ liệu từ phần mềm HIS', en: 'First data received from the HIS' } },
  { code: 'quy-che', title: { vi: 'Quy chế nội bộ đã được phê duyệt', en: 'Internal regulation approved' } },
  { code: 'ho-so-dau-tien', title: { vi: 'Hồ sơ XML đầu tiên được Cổng tiếp nhận', en: 'First claim file accepted' } },
  { code: 'trong-24-gio', title: { vi: 'Hồ sơ gần nhất được tiếp nhận trong 24 giờ', en: 'Latest claim accepted within 24 hours' } },
];

/** Steps attested by an administrator rather than checked. */
export const ATTESTED_STEPS = new Set(['quy-che']);

interface CheckRow {
  step: string;
  ok: boolean;
  detail: string | null;
  attested_by: string | null;
  attested_on: string | null;
  checked_at: Date | string;
}

export async function readiness(db: Queryable, registry: FacilityRegistry, credentials: FacilityCredentials, org: Organization, now: Date): Promise<Readiness> {
  const facility = org.identifier?.find((i) => i.system === SID.maCskcb && /^[0-9A-Z]{5}$/.test(i.value ?? ''))?.value;
  const record = await registry.record(org.id!);
  const { rows: checks } = await db.query<CheckRow>('SELECT step, ok, detail, attested_by, attested_on::text AS attested_on, checked_at FROM facility_checks WHERE organization_id = $1', [org.id]);
  const check = (step: string) => checks.find((c) => c.step === step);
  const steps = new Map<string, Omit<ReadinessStep, 'code' | 'title'>>();

  steps.set('ma-cskcb', facility ? { status: 'done', detail: facility } : { status: 'pending', detail: { vi: 'Chờ Sở Y tế cấp mã; hồ sơ được lưu, chưa gửi', en: 'Waiting for the Department of Health; files are kept, not sent' } });
  const lienThong = record?.secrets.portal?.lienThongCode;
  steps.set('lien-thong', lienThong ? { status: 'done', detail: lienThong } : { status: 'pending' });

  const login = check('tai-khoan');
  const account = facility ? await credentials.account(facility) : undefined;
  steps.set(
    'tai-khoan',
    login ? { status: login.ok ? 'done' : 'failed', detail: login.detail ?? account?.username, when: iso(login.checked_at) }
      : { status: 'pending', detail: account ? { vi: `Tài khoản ${account.username}: chưa kiểm tra`, en: `Account ${account.username}: not checked yet` } : undefined },
  );

  const signing = facility ? await credentials.signer(facility) : undefined;
  let fingerprint: string | undefined;
  if (!signing) steps.set('chung-thu', { status: 'pending' });
  else if ('problem' in signing) steps.set('chung-thu', { status: 'failed', detail: signing.problem });
  else {
    const cert = signing.signer.certificate;
    fingerprint = cert.fingerprint256;
    const days = daysLeft(cert, now);
    const detail = { vi: `${cert.subject.replace(/\n/g, ', ')} — còn ${days} ngày`, en: `${cert.subject.replace(/\n/g, ', ')} — ${days} days left` };
    steps.set('chung-thu', { status: days >= 30 ? 'done' : 'warning', detail });
  }

  const dossiers = facility ? await dossierFacts(db, facility, fingerprint) : undefined;
  steps.set('chung-thu-cong', dossiers?.acceptedWithCertificate ? { status: 'done', when: dossiers.acceptedWithCertificate } : { status: 'pending' });

  const firstEpisode = await firstEncounter(db, org.id!);
  steps.set('his', firstEpisode ? { status: 'done', when: firstEpisode } : { status: 'pending' });

  const regulation = check('quy-che');
  steps.set('quy-che', regulation?.attested_by
    ? { status: 'done', detail: { vi: `Phê duyệt ngày ${day(regulation.attested_on)} bởi ${regulation.attested_by}`, en: `Approved on ${day(regulation.attested_on)} by ${regulation.attested_by}` }, when: iso(regulation.checked_at) }
    : { status: 'pending' });

  steps.set('ho-so-dau-tien', dossiers?.firstAccepted ? { status: 'done', when: dossiers.firstAccepted } : { status: 'pending' });
  const last = dossiers?.last;
  if (!last) steps.set('trong-24-gio', { status: 'pending' });
  else {
    const hours = Math.round((Date.parse(last.accepted) - Date.parse(last.ended)) / 36e5);
    steps.set('trong-24-gio', {
      status: hours <= 24 ? 'done' : 'failed',
      detail: { vi: `Tiếp nhận ${hours} giờ sau khi kết thúc điều trị`, en: `Accepted ${hours} hours after the episode ended` },
      when: last.accepted,
    });
  }

  const list = STEPS.map((s) => ({ ...s, ...steps.get(s.code)! }));
  return { organizationId: org.id!, name: org.name ?? org.id!, ...(facility ? { facility } : {}), ready: list.every((s) => s.status === 'done'), steps: list };
}

/** Every facility's checklist: the Organizations of the gateway, by name. */
export async function allReadiness(db: Queryable, registry: FacilityRegistry, credentials: FacilityCredentials, now: Date): Promise<Readiness[]> {
  const orgs = (await new Repository(db).search(parseSearch('Organization', [['_count', '1000']], { strict: true }), 1000)) as Organization[];
  const out: Readiness[] = [];
  for (const org of orgs.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '', 'vi'))) out.push(await readiness(db, registry, credentials, org, now));
  return out;
}

/** Logs in to the portal with the facility's account and records the result (the `tai-khoan` step). */
export async function checkPortalLogin(db: Queryable, credentials: FacilityCredentials, portal: PortalClient, org: Organization): Promise<void> {
  const facility = org.identifier?.find((i) => i.system === SID.maCskcb)?.value;
  const account = facility ? await credentials.account(facility) : undefined;
  let ok = false;
  let detail = 'no portal account';
  if (account) {
    try {
      await portal.token(account, true);
      ok = true;
      detail = account.username;
    } catch (e) {
      detail = (e as Error).message;
    }
  }
  await recordCheck(db, org.id!, 'tai-khoan', ok, detail);
}

export async function recordCheck(db: Queryable, organizationId: string, step: string, ok: boolean, detail: string, attested?: { by: string; on: string }): Promise<void> {
  await db.query(
    `INSERT INTO facility_checks (organization_id, step, ok, detail, attested_by, attested_on, checked_at) VALUES ($1, $2, $3, $4, $5, $6::date, now())
     ON CONFLICT (organization_id, step) DO UPDATE SET ok = EXCLUDED.ok, detail = EXCLUDED.detail, attested_by = EXCLUDED.attested_by,
       attested_on = EXCLUDED.attested_on, checked_at = now()`,
    [organizationId, step, ok, detail, attested?.by ?? null, attested?.on ?? null],
  );
}

async function dossierFacts(db: Queryable, facility: string, fingerprint: string | undefined) {
  const { rows } = await db.query<{ first_accepted: Date | null; with_certificate: Date | null; last_accepted: Date | null; last_ended: Date | null }>(
    `SELECT (SELECT min(accepted_at) FROM dossiers WHERE facility = $1 AND kind = 'claim' AND status = 'accepted') AS first_accepted,
            (SELECT min(accepted_at) FROM dossiers WHERE facility = $1 AND status = 'accepted' AND signer_fingerprint = $2) AS with_certificate,
            l.accepted_at AS last_accepted, l.episode_ended_at AS last_ended
       FROM (SELECT 1) one
       LEFT JOIN LATERAL (SELECT accepted_at, episode_ended_at FROM dossiers WHERE facility = $1 AND kind = 'claim' AND status = 'accepted' AND episode_ended_at IS NOT NULL
                          ORDER BY accepted_at DESC LIMIT 1) l ON true`,
    [facility, fingerprint ?? null],
  );
  const r = rows[0];
  return {
    firstAccepted: iso(r.first_accepted),
    acceptedWithCertificate: iso(r.with_certificate),
    last: r.last_accepted && r.last_ended ? { accepted: iso(r.last_accepted)!, ended: iso(r.last_ended)! } : undefined,
  };
}

async function firstEncounter(db: Queryable, organizationId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ first: Date | null }>(
    `SELECT min(last_updated) AS first FROM resources WHERE resource_type = 'Encounter' AND tokens @> ARRAY[$1]::text[]`,
    [keys.reference('service-provider', `Organization/${organizationId}`)],
  );
  return iso(rows[0].first);
}

const iso = (v: Date | string | null | undefined) => (v ? new Date(v).toISOString() : undefined);
const day = (v: Date | string | null) => (v ? String(v).slice(0, 10) : '?');
