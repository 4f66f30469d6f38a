import { X509Certificate } from 'node:crypto';
import type { Organization } from '@medplum/fhirtypes';
import { SID } from '../fhir/vn.js';
import type { PortalAccount } from '../outbox/portal-client.js';
import { loadPem, loadPkcs12, unusableBecause, type Credentials } from '../signing/keys.js';
import { keySigner, remoteSigner, type Signer } from '../signing/signer.js';
import type { Queryable } from '../store/database.js';
import { Repository } from '../store/repository.js';
import { parseSearch } from '../store/search/query.js';
import type { FacilityCredentials } from './credentials.js';
import type { Vault } from './vault.js';

/**
 * The facilities of one gateway: Organizations (with their MA_CSKCB, or none yet) and, sealed in
 * `facility_credentials`, each one's signing credentials and portal account. An administrator sets
 * them through `$credentials`; nothing here ever returns a secret.
 */
export interface SigningSecret {
  pkcs12?: string; // base64
  password?: string;
  keyPem?: string;
  certificatePem?: string;
  /** A remote signer (HSM, token bridge, signing service) that receives only digests. */
  remoteUrl?: string;
  remoteHeaders?: Record<string, string>;
}

export interface PortalSecret {
  username: string;
  password: string;
  /** The data-sharing (liên thông) code registered with BHXH. */
  lienThongCode?: string;
  standard?: '4750' | '3176';
  baseUrl?: string;
}

export interface FacilitySecrets {
  signing?: SigningSecret;
  portal?: PortalSecret;
  /** The officer registered with BHXH for card lookups (name + CCCD, CV 1923): personal data, sealed like a secret. */
  lookupOfficer?: { name: string; cccd: string };
}

export interface FacilityRecord {
  organizationId: string;
  secrets: FacilitySecrets;
  certificate?: X509Certificate;
  revokedAt?: string;
  updatedAt: string;
}

export class FacilityRegistry {
  /** Parsed credentials per Organization and version: a PKCS#12 costs ~70 ms to open. */
  private readonly loaded = new Map<string, { updatedAt: string; credentials: Credentials | { remote: SigningSecret; certificate: X509Certificate } }>();

  constructor(
    private readonly db: Queryable,
    private readonly vault: Vault | undefined,
  ) {}

  /** The Organization that holds a facility code. */
  async organizationOf(facility: string): Promise<Organization | undefined> {
    const [org] = await new Repository(this.db).search(parseSearch('Organization', [['identifier', `${SID.maCskcb}|${facility}`]], { strict: true }), 2);
    return org as Organization | undefined;
  }

  async record(organizationId: string): Promise<FacilityRecord | undefined> {
    const { rows } = await this.db.query<{ sealed: string; certificate: string | null; revoked_at: Date | string | null; updated_at: Date | string }>(
      'SELECT sealed, certificate, revoked_at, updated_at FROM facility_credentials WHERE organization_id = $1',
      [organizationId],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (!this.vault) throw new Error('facility credentials are stored but no master key is configured (GATEWAY_MASTER_KEY)');
    return {
      organizationId,
      secrets: JSON.parse(this.vault.open(row.sealed, organizationId)) as FacilitySecrets,
      certificate: row.certificate ? new X509Certificate(row.certificate) : undefined,
      revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : undefined,
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  /**
   * Sets a facility's signing credentials and/or portal account (what is given replaces what was
   * there; the rest is kept). Signing credentials are opened and checked first: a wrong password or
   * a certificate that cannot sign is refused here, not discovered at the first submission.
   */
  async save(organizationId: string, update: FacilitySecrets & { revoke?: boolean }): Promise<FacilityRecord> {
    if (!this.vault) throw new Error('no master key is configured (GATEWAY_MASTER_KEY or GATEWAY_MASTER_KEY_FILE): credentials cannot be stored');
    const current = await this.record(organizationId);
    const secrets: FacilitySecrets = { ...current?.secrets, ...(update.signing ? { signing: update.signing } : {}), ...(update.portal ? { portal: update.portal } : {}), ...(update.lookupOfficer ? { lookupOfficer: update.lookupOfficer } : {}) };
    const certificate = update.signing ? certificateOf(update.signing) : current?.certificate;
    // Revoking stops the facility at once; new signing credentials replace a revoked certificate.
    const revocation = update.revoke === true ? 'revoke' : update.signing ? 'clear' : 'keep';
    await this.db.query(
      `INSERT INTO facility_credentials (organization_id, sealed, certificate, portal_username, revoked_at, updated_at)
       VALUES ($1, $2, $3, $4, CASE WHEN $5 = 'revoke' THEN now() END, now())
       ON CONFLICT (organization_id) DO UPDATE SET sealed = EXCLUDED.sealed, certificate = EXCLUDED.certificate,
         portal_username = EXCLUDED.portal_username, updated_at = now(),
         revoked_at = CASE WHEN $5 = 'revoke' THEN now() WHEN $5 = 'clear' THEN NULL ELSE facility_credentials.revoked_at END`,
      [organizationId, this.vault.seal(JSON.stringify(secrets), organizationId), certificate?.toString() ?? null, secrets.portal?.username ?? null, revocation],
    );
    return (await this.record(organizationId))!;
  }

  /** Credentials as the worker needs them, or why there are none; undefined when the facility has none stored. */
  async credentials(facility: string, now: Date): Promise<{ signer: Signer } | { problem: string } | undefined> {
    const org = await this.organizationOf(facility);
    const record = org ? await this.record(org.id!) : undefined;
    if (!record?.secrets.signing) return undefined;
    if (record.revokedAt) return { problem: `the certificate was revoked on ${record.revokedAt}` };
    let hit = this.loaded.get(record.organizationId);
    if (hit?.updatedAt !== record.updatedAt) {
      const signing = record.secrets.signing;
      hit = { updatedAt: record.updatedAt, credentials: signing.remoteUrl ? { remote: signing, certificate: certificateOf(signing)! } : openSigning(signing) };
      this.loaded.set(record.organizationId, hit);
    }
    const c = hit.credentials;
    const unusable = unusableBecause(c.certificate, now);
    if (unusable) return { problem: unusable };
    return { signer: 'remote' in c ? remoteSigner(c.remote.remoteUrl!, c.certificate, c.remote.remoteHeaders) : keySigner(c.key, c.certificate) };
  }

  async account(facility: string, defaults: { baseUrl: string; standard: '4750' | '3176' }): Promise<PortalAccount | undefined> {
    const org = await this.organizationOf(facility);
    const secrets = org ? (await this.record(org.id!))?.secrets : undefined;
    const portal = secrets?.portal;
    return portal ? { baseUrl: portal.baseUrl ?? defaults.baseUrl, username: portal.username, password: portal.password, standard: portal.standard ?? defaults.standard, ...(secrets.lookupOfficer ? { lookupOfficer: secrets.lookupOfficer } : {}) } : undefined;
  }
}

function openSigning(s: SigningSecret): Credentials {
  if (s.pkcs12) return loadPkcs12(Buffer.from(s.pkcs12, 'base64'), s.password ?? '');
  if (s.keyPem && s.certificatePem) return loadPem(s.keyPem, s.certificatePem);
  throw new Error('the signing credentials hold neither a PKCS#12 file nor a PEM key and certificate');
}

/** The certificate of signing credentials (opening a PKCS#12 checks its password too). */
function certificateOf(s: SigningSecret): X509Certificate | undefined {
  if (s.remoteUrl) return s.certificatePem ? new X509Certificate(s.certificatePem) : undefined;
  return openSigning(s).certificate;
}

/**
 * The worker's view: a facility's stored credentials first, then the files of CREDENTIALS_DIR (or
 * development certificates), so that a deployment can move facilities into the registry one by one.
 */
export function registryCredentials(registry: FacilityRegistry, fallback: FacilityCredentials, defaults: { baseUrl: string; standard: '4750' | '3176' }, now = () => new Date()): FacilityCredentials {
  return {
    async signer(facility) {
      return (await registry.credentials(facility, now())) ?? fallback.signer(facility);
    },
    async account(facility) {
      return (await registry.account(facility, defaults)) ?? fallback.account(facility);
    },
  };
}
