import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { splitPem } from '../../gateway/signing/keys.js';
import { validateFaults, type Faults } from './faults.js';
import { startPortalSimulator, type PortalAccount } from './simulator.js';

/**
 * `npm run portal-sim`: the simulated BHXH portal as a server.
 *
 *   PORTAL_SIM_PORT      port (default 8099)
 *   PORTAL_SIM_HOST      address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
 *   PORTAL_SIM_ACCOUNTS  JSON array of { username, password, facility } (default: development accounts —
 *                        any <MA_CSKCB>_BV with the password "portal-sim", as a development gateway uses)
 *   PORTAL_SIM_TRUST     a PEM file, or a folder of .pem/.crt/.cer files: the registered certificates
 *                        (default: the development certificates a gateway made in ./data/dev-credentials)
 *   PORTAL_SIM_TOKEN_LIFETIME  seconds (default 3600)
 *   PORTAL_SIM_FAULTS    JSON faults to start with (see README); POST /sim/faults changes them
 */
/** What a gateway in development mode logs in with: `<MA_CSKCB>_BV` and this password. */
const DEV_PASSWORD = 'portal-sim';
const DEV_CERTIFICATES = join(process.cwd(), 'data', 'dev-credentials');

function fail(message: string): never {
  console.error(`portal-sim: ${message}`);
  process.exit(2);
}

function accounts(): PortalAccount[] {
  const raw = process.env.PORTAL_SIM_ACCOUNTS;
  if (!raw) {
    console.log(`portal-sim: no PORTAL_SIM_ACCOUNTS; development accounts: any <MA_CSKCB>_BV with the password "${DEV_PASSWORD}"`);
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    fail(`PORTAL_SIM_ACCOUNTS is not JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const a of list) {
    if (!a || typeof a.username !== 'string' || typeof a.password !== 'string' || typeof a.facility !== 'string') {
      fail('PORTAL_SIM_ACCOUNTS must be a JSON array of { "username", "password", "facility" } strings');
    }
  }
  console.log(`portal-sim: ${list.length} account(s): ${list.map((a: PortalAccount) => `${a.username} → ${a.facility}`).join(', ')}`);
  return list as PortalAccount[];
}

/** The development certificates of a gateway started from this folder, read again for every file (it makes them as it needs them). */
function developmentCertificates(): X509Certificate[] {
  if (!existsSync(DEV_CERTIFICATES)) return [];
  return readdirSync(DEV_CERTIFICATES)
    .map((facility) => join(DEV_CERTIFICATES, facility, 'cert.pem'))
    .filter((f) => existsSync(f))
    .flatMap((f) => splitPem(readFileSync(f, 'utf8')).map((pem) => new X509Certificate(pem)));
}

function trustAnchors(): X509Certificate[] | (() => X509Certificate[]) {
  const path = process.env.PORTAL_SIM_TRUST;
  if (!path) {
    console.log(`portal-sim: no PORTAL_SIM_TRUST — trusting the development certificates in ${DEV_CERTIFICATES}`);
    return developmentCertificates;
  }
  if (!existsSync(path)) fail(`PORTAL_SIM_TRUST ${path} does not exist`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /\.(pem|crt|cer)$/i.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const certificates: X509Certificate[] = [];
  for (const file of files) {
    const pems = splitPem(readFileSync(file, 'utf8'));
    if (pems.length === 0) console.warn(`portal-sim: ${file} holds no PEM certificate; skipped`);
    for (const pem of pems) {
      try {
        certificates.push(new X509Certificate(pem));
      } catch (e) {
        fail(`${file}: a certificate cannot be read: ${(e as Error).message}`);
      }
    }
  }
  for (const c of certificates) console.log(`portal-sim: trusting "${c.subject.replace(/\n/g, ', ')}" (valid to ${new Date(c.validTo).toISOString().slice(0, 10)})`);
  if (certificates.length === 0) console.log('portal-sim: PORTAL_SIM_TRUST holds no certificate — every signed file is refused (210)');
  return certificates;
}

function faults(): Faults | undefined {
  const raw = process.env.PORTAL_SIM_FAULTS;
  if (!raw) return undefined;
  try {
    return validateFaults(JSON.parse(raw));
  } catch (e) {
    fail(`PORTAL_SIM_FAULTS: ${(e as Error).message}`);
  }
}

const port = Number(process.env.PORTAL_SIM_PORT ?? 8099);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORTAL_SIM_PORT ${process.env.PORTAL_SIM_PORT} is not a port`);
const lifetime = process.env.PORTAL_SIM_TOKEN_LIFETIME ? Number(process.env.PORTAL_SIM_TOKEN_LIFETIME) : undefined;
if (lifetime !== undefined && !(lifetime > 0)) fail('PORTAL_SIM_TOKEN_LIFETIME must be a number of seconds > 0');

const simulator = await startPortalSimulator({
  port,
  host: process.env.PORTAL_SIM_HOST ?? '127.0.0.1',
  accounts: accounts(),
  ...(process.env.PORTAL_SIM_ACCOUNTS ? {} : { developmentPassword: DEV_PASSWORD }),
  trustAnchors: trustAnchors(),
  tokenLifetimeSeconds: lifetime,
  faults: faults(),
  log: (line) => console.log(line),
});
console.log(`portal-sim: listening on ${simulator.url} (POST /api/token/take, /api/qd130/…; GET /sim/submissions, POST /sim/faults)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
