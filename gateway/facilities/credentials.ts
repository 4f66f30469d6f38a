import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { PortalAccount } from '../outbox/portal-client.js';
import { CredentialError, loadPem, loadPkcs12, selfSignedCredentials, unusableBecause, type Credentials } from '../signing/keys.js';
import { keySigner, type Signer } from '../signing/signer.js';

/**
 * Each facility signs with its own certificate and sends with its own portal account: nothing is
 * shared between facilities, so one facility's expired certificate or wrong password stops only it.
 */
export interface FacilityCredentials {
  /** The facility's signer, or why it cannot sign now (no certificate, expired, wrong password…). */
  signer(facility: string): Promise<{ signer: Signer } | { problem: string }>;
  account(facility: string): Promise<PortalAccount | undefined>;
}

export interface FileCredentialOptions {
  /** One folder per MA_CSKCB: signing.p12 + signing.password, or key.pem + cert.pem; portal.json. */
  dir?: string;
  portalUrl: string;
  standard: '4750' | '3176';
  /** Development only: where a self-signed certificate is made for a facility that has none. */
  devDir?: string;
  log?: Logger;
  now?: () => Date;
}

/**
 * Credentials from files. A facility's folder holds its signing credentials, as the certificate
 * authority delivers them (`signing.p12` with the password in `signing.password`) or as PEM
 * (`key.pem`, `cert.pem`), and its portal account (`portal.json`: `username`, `password`,
 * optionally `standard`, `baseUrl` and `lookupOfficer` `{ name, cccd }`). Files are read again when they change.
 */
export function fileCredentials(options: FileCredentialOptions): FacilityCredentials {
  const cache = new Map<string, { stamp: string; credentials: Credentials }>();
  const warned = new Set<string>();
  const now = options.now ?? (() => new Date());

  const load = (facility: string): Credentials | { problem: string } => {
    if (!/^[0-9A-Z]{5}$/.test(facility)) return { problem: `"${facility}" is not a facility code` };
    const folder = options.dir ? join(options.dir, facility) : undefined;
    const p12 = folder && join(folder, 'signing.p12');
    const pem = folder && join(folder, 'key.pem');
    try {
      if (p12 && existsSync(p12)) return cached(facility, [p12, join(folder, 'signing.password')], () => loadPkcs12(readFileSync(p12), readFileSync(join(folder, 'signing.password'), 'utf8').trim()));
      if (pem && existsSync(pem)) return cached(facility, [pem, join(folder, 'cert.pem')], () => loadPem(readFileSync(pem, 'utf8'), readFileSync(join(folder, 'cert.pem'), 'utf8')));
    } catch (e) {
      return { problem: e instanceof CredentialError ? e.message : `its signing credentials cannot be read: ${(e as Error).message}` };
    }
    if (!options.devDir) return { problem: 'no signing certificate is configured for it' };
    return devCredentials(facility);
  };

  const cached = (facility: string, files: string[], read: () => Credentials): Credentials => {
    const stamp = files.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)).join('/');
    const hit = cache.get(facility);
    if (hit?.stamp === stamp) return hit.credentials;
    const credentials = read();
    cache.set(facility, { stamp, credentials });
    return credentials;
  };

  const devCredentials = (facility: string): Credentials => {
    const folder = join(options.devDir!, facility);
    const keyFile = join(folder, 'key.pem');
    if (!existsSync(keyFile)) {
      mkdirSync(folder, { recursive: true });
      const made = selfSignedCredentials(`Chứng thư THỬ NGHIỆM ${facility} — không dùng thật`, { days: 3650 });
      writeFileSync(keyFile, made.keyPem, { mode: 0o600 });
      writeFileSync(join(folder, 'cert.pem'), made.certificatePem);
    }
    if (!warned.has(facility)) {
      warned.add(facility);
      options.log?.warn({ facility, folder }, 'DEVELOPMENT MODE: signing with a self-signed test certificate; the BHXH portal will refuse these files');
    }
    return cached(facility, [keyFile, join(folder, 'cert.pem')], () => loadPem(readFileSync(keyFile, 'utf8'), readFileSync(join(folder, 'cert.pem'), 'utf8')));
  };

  return {
    async signer(facility) {
      const loaded = load(facility);
      if ('problem' in loaded) return loaded;
      const unusable = unusableBecause(loaded.certificate, now());
      if (unusable) return { problem: unusable };
      return { signer: keySigner(loaded.key, loaded.certificate) };
    },
    async account(facility) {
      const file = options.dir ? join(options.dir, facility, 'portal.json') : undefined;
      if (file && existsSync(file)) {
        const a = JSON.parse(readFileSync(file, 'utf8')) as Partial<PortalAccount>;
        if (!a.username || !a.password) return undefined;
        const officer = a.lookupOfficer?.name && a.lookupOfficer.cccd ? { lookupOfficer: { name: a.lookupOfficer.name, cccd: a.lookupOfficer.cccd } } : {};
        return { baseUrl: a.baseUrl ?? options.portalUrl, username: a.username, password: a.password, standard: a.standard ?? options.standard, ...officer };
      }
      // Development: the portal simulator's development account and lookup officer (npm run portal-sim).
      return options.devDir
        ? { baseUrl: options.portalUrl, username: `${facility}_BV`, password: 'portal-sim', standard: options.standard, lookupOfficer: { name: 'Cán Bộ Tra Cứu Thử Nghiệm', cccd: '010090000001' } }
        : undefined;
    },
  };
}
