import { createHash, randomUUID } from 'node:crypto';
import type { Encounter, Resource } from '@medplum/fhirtypes';
import { UnitMemo, type WriteHook } from '../bundle/transaction.js';
import type { Issue } from '../fhir/outcome.js';
import { parseReference } from '../fhir/references.js';
import { SID } from '../fhir/vn.js';
import type { Episode } from '../mapping/episode.js';
import { unitEpisode } from '../mapping/sources.js';
import { buildClaimFile, type ClaimFile } from '../outputs/xml/claim-file.js';
import type { XmlStandard } from '../outputs/xml/table-definition.js';
import type { Repository } from '../store/repository.js';
import { DossierTable, type Dossier, type DossierKind, type DossierStatus } from './dossiers.js';
import { dossierTask, putOwned } from './task.js';

/**
 * Queues files for the portal in the same transaction as the clinical write that calls for them
 * (the outbox): a crash after the write is acknowledged cannot lose them, and a write that rolls
 * back leaves none behind.
 *
 * - An Encounter written `finished` (or `$submit`) queues its claim file: built, checked and stored
 *   unsigned (the worker signs it with the facility's current certificate just before sending). A
 *   new version is made only when the tables differ from the last version's — so finishing an
 *   Encounter again after a correction makes version n+1, and a repeated write makes nothing.
 * - The first cost line (ChargeItem) of an episode queues its check-in file (XML0), once. Not for
 *   emergencies (MA_DOITUONG_KCB 2), which QĐ 4750 Art. 2 exempts.
 *
 * A claim with errors is kept as `invalid` (its Task lists them) and not sent; the errors also come
 * back to the hospital system as warnings on the write that finished the episode.
 */
export interface QueueOptions {
  standard: XmlStandard;
  clock?: () => Date;
}

export interface Queued {
  dossier?: Dossier;
  /** What the hospital system should hear (claim problems, what was queued). */
  issues: Issue[];
}

export function submissionHook(options: QueueOptions): WriteHook {
  return {
    wants: (req) => {
      const type = req.resource?.resourceType ?? req.url.split(/[/?]/)[0];
      return type === 'Encounter' || type === 'ChargeItem' || type === 'Organization';
    },
    async afterWrite(written, repo, unit) {
      const out = new Map<string, Issue[]>();
      const live = written.filter((w) => !w.deleted).map((w) => w.resource as Resource);
      for (const encounter of live.filter((r): r is Encounter & { id: string } => r.resourceType === 'Encounter' && r.status === 'finished')) {
        const { issues } = await queueClaim(repo, encounter.id, options, unit);
        if (issues.length > 0) out.set(`Encounter/${encounter.id}`, issues);
      }
      const costed = new Set<string>();
      for (const r of live) {
        const ref = r.resourceType === 'ChargeItem' && r.context?.reference ? parseReference(r.context.reference) : undefined;
        if (ref?.type === 'Encounter') costed.add(ref.id);
      }
      for (const encounterId of costed) await queueCheckin(repo, encounterId, options, unit);
      // A facility that received its code: what it kept while it had none can go now.
      for (const org of live.filter((r) => r.resourceType === 'Organization' && r.identifier?.some((i) => i.system === SID.maCskcb && i.value))) {
        await releaseProvisional(repo, org.id!, options, unit);
      }
      return out;
    },
  };
}

/** The claim file of that episode, built once per write unit (its XML0 is the check-in file). */
const unitClaim = (episode: Episode, options: QueueOptions, now: Date, unit: UnitMemo): Promise<ClaimFile> =>
  unit.get(`claim:${episode.encounter.id}:${options.standard}`, async () => buildClaimFile(episode, { standard: options.standard, now }));

/** The episode's claim file, queued as a new version if its content changed. */
export async function queueClaim(repo: Repository, encounterId: string, options: QueueOptions, unit = new UnitMemo()): Promise<Queued> {
  const now = (options.clock ?? (() => new Date()))();
  const episode = await unitEpisode(repo, encounterId, unit);
  if (!episode) return { issues: [] };
  const claim = await unitClaim(episode, options, now, unit);
  const contentHash = hashTables(claim, (t) => t.included && t.definition.inEnvelope);
  const errors = claim.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  // Without a facility code (MA_CSKCB missing is then an error too) the file waits for the code.
  const status: DossierStatus = !claim.facility ? 'held' : errors.length > 0 ? 'invalid' : 'queued';
  const dossier = await store(repo, episode, claim, 'claim', claim.envelope, contentHash, status, now, options.standard);
  // The write that finished the episode went through: its claim's errors come back as warnings.
  const said: Issue[] = claim.issues.map((i) => (i.severity === 'error' || i.severity === 'fatal' ? { ...i, severity: 'warning' } : i));
  if (dossier && status === 'held') said.push(heldForCode());
  return { dossier, issues: said };
}

/**
 * The episode's files that were kept because its facility had no code, built again now that it has
 * one (a new version: MACSKCB and MA_CSKCB are in them).
 */
async function releaseProvisional(repo: Repository, organizationId: string, options: QueueOptions, unit: UnitMemo): Promise<void> {
  const { rows } = await repo.queryable.query<{ encounter_id: string; kind: DossierKind }>(
    `SELECT DISTINCT d.encounter_id, d.kind FROM dossiers d
      WHERE d.organization_id = $1 AND d.facility = '' AND d.status = 'held'
        AND NOT EXISTS (SELECT 1 FROM dossiers n WHERE n.encounter_id = d.encounter_id AND n.kind = d.kind AND n.version > d.version)`,
    [organizationId],
  );
  for (const r of rows) await (r.kind === 'claim' ? queueClaim(repo, r.encounter_id, options, unit) : queueCheckin(repo, r.encounter_id, options, unit));
}

/** The episode's check-in file, once, when it has a first cost (again only if it was kept for want of a facility code). */
export async function queueCheckin(repo: Repository, encounterId: string, options: QueueOptions, unit = new UnitMemo()): Promise<Queued> {
  const now = (options.clock ?? (() => new Date()))();
  const earlier = await new DossierTable(repo.queryable).latest(encounterId, 'checkin');
  if (earlier && earlier.facility !== '') return { issues: [] };
  const episode = await unitEpisode(repo, encounterId, unit);
  if (!episode || isEmergency(episode)) return { issues: [] };
  const claim = await unitClaim(episode, options, now, unit);
  if (!claim.checkin) return { issues: [] };
  const xml0 = claim.tables.find((t) => t.definition.table === 'XML0')!;
  const own = claim.issues.filter((i) => i.location?.[0]?.startsWith(xml0.definition.root));
  const status: DossierStatus = !claim.facility ? 'held' : own.some((i) => i.severity === 'error') ? 'invalid' : 'queued';
  const dossier = await store(repo, episode, { ...claim, issues: own }, 'checkin', claim.checkin, hashTables(claim, (t) => t === xml0), status, now, options.standard, earlier ?? null);
  return { dossier, issues: own };
}

async function store(
  repo: Repository, episode: Episode, claim: ClaimFile, kind: DossierKind, document: string, contentHash: string, status: DossierStatus, now: Date, standard: string,
  /** The latest version when the caller has just read it (null: there is none). */
  known?: Dossier | null,
): Promise<Dossier | undefined> {
  const table = new DossierTable(repo.queryable);
  const latest = known === undefined ? await table.latest(episode.encounter.id!, kind) : (known ?? undefined);
  if (latest && latest.contentHash === contentHash && latest.status !== 'superseded') return undefined;
  const dossier = await table.insert({
    id: randomUUID(),
    kind,
    facility: claim.facility,
    maLk: claim.maLk || episode.encounter.id!,
    version: (latest?.version ?? 0) + 1,
    encounterId: episode.encounter.id!,
    patientId: episode.patient?.id,
    organizationId: organizationId(episode),
    standard,
    document,
    contentHash,
    status,
    issues: claim.issues,
    episodeEndedAt: episode.encounter.period?.end ? new Date(episode.encounter.period.end).toISOString() : undefined,
    createdAt: now.toISOString(),
  });
  // The first version of a file has nothing to supersede.
  const superseded = latest ? await table.supersedeBefore(dossier.encounterId, kind, dossier.version) : [];
  const tasks = [dossier, ...(await Promise.all(superseded.map((id) => table.get(id))))].filter((d): d is Dossier => d !== undefined);
  await putOwned(repo, tasks.map((d) => dossierTask(d, now)), now);
  return dossier;
}

/** SHA-256 of the table documents that make the file: the envelope's date of creation does not count. */
function hashTables(claim: ClaimFile, take: (t: ClaimFile['tables'][number]) => boolean): string {
  const hash = createHash('sha256');
  for (const t of claim.tables.filter(take)) hash.update(`${t.definition.table}\n${t.document}\n`);
  return hash.digest('hex');
}

function isEmergency(episode: Episode): boolean {
  return (episode.encounter.type ?? []).some((t) => t.coding?.some((c) => c.system?.endsWith('/doi-tuong-kcb') && c.code === '2'));
}

function organizationId(episode: Episode): string | undefined {
  const ref = episode.encounter.serviceProvider?.reference ? parseReference(episode.encounter.serviceProvider.reference) : undefined;
  return ref?.type === 'Organization' ? ref.id : undefined;
}

const heldForCode = (): Issue => ({
  severity: 'warning',
  code: 'business-rule',
  message: {
    vi: 'Cơ sở chưa có mã cơ sở KCB (MA_CSKCB): hồ sơ được lưu và sẽ gửi khi Sở Y tế cấp mã',
    en: 'The facility has no MA_CSKCB yet: the file is kept and will be sent once the Department of Health assigns one',
  },
});
