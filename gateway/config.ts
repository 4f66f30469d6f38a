import { resolve } from 'node:path';
import { XML_STANDARDS, type XmlStandard } from './outputs/xml/table-definition.js';
import { securitySettings, type SecuritySettings } from './security/settings.js';

/** Everything the gateway reads from its environment, in one place. */
export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server; undefined means embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  dbPoolSize: number;
  /** Public base URL of the FHIR endpoint (`https://gw.example.vn/fhir`); derived from each request when unset. */
  publicBaseUrl?: string;
  bodyLimitBytes: number;
  maxBundleEntries: number;
  logLevel: string;
  /** Minutes east of UTC assumed for FHIR dateTimes without a zone (Vietnam: +420). */
  localOffsetMinutes: number;
  /** The claim-file standard produced by default: QĐ 3176 (in force since 2025) or QĐ 4750. */
  xmlStandard: XmlStandard;
  /**
   * `development` signs with self-signed test certificates where a facility has none and sends to
   * the portal simulator by default; `production` refuses to start without real credentials.
   */
  mode: 'development' | 'production';
  /** One folder per facility (MA_CSKCB) with its signing credentials and portal account. */
  credentialsDir?: string;
  /** Base64 of 32 bytes: seals the credentials stored through `$credentials` (or a file holding it). */
  masterKey?: string;
  masterKeyFile?: string;
  /** The BHXH portal (or the simulator in development: http://127.0.0.1:8099). */
  portalUrl?: string;
  /** Whether this process sends queued files (any number of processes may). */
  submissionWorker: boolean;
  /** Files sent per second by this process, at most. */
  portalRatePerSecond: number;
  /** How long one call to the portal may take. */
  portalTimeoutMs: number;
  /** The first retry delay after a failed send (doubling up to 30 minutes, with jitter). */
  portalRetryBaseMs: number;
  /** How long a file a worker took stays its own: after a crash, another worker resends it then. */
  portalLeaseMs: number;
  /** PEM certificates (a file or a folder) that signed files must chain to, for $verify-xml130. */
  trustAnchors?: string;
  /** A claim file not accepted this many hours after its episode ended is at risk of missing the 24-hour rule. */
  atRiskHours: number;
  /** How long a card lookup at the reception desk may take (login included) before the client gets a 504. */
  receptionTimeoutMs: number;
  /** Seconds a card lookup's answer is reused for the same card, name and birth date (0: never); a cache only. */
  receptionCacheSeconds: number;
  /** Tools for mapping authors (`npm run dev`): the mapping folders are watched and reloaded, and /studio is served. Never in production. */
  devTools: boolean;
  /** The folders the mapping engine reads (the repository's `mappings/` and `profiles/` by default). */
  mappingsDir?: string;
  profilesDir?: string;
  /** Authentication, authorization, audit and rate limits (gateway/security/settings.ts). */
  security: SecuritySettings;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env.PORT, 8080, 'PORT'),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: resolve(env.GATEWAY_DATA_DIR || './data'),
    dbPoolSize: int(env.DB_POOL_SIZE, 10, 'DB_POOL_SIZE'),
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, '') || undefined,
    bodyLimitBytes: size(env.BODY_LIMIT, 20 * 1024 * 1024),
    maxBundleEntries: int(env.MAX_BUNDLE_ENTRIES, 10_000, 'MAX_BUNDLE_ENTRIES'),
    logLevel: env.LOG_LEVEL || 'info',
    localOffsetMinutes: int(env.LOCAL_UTC_OFFSET_MINUTES, 420, 'LOCAL_UTC_OFFSET_MINUTES'),
    xmlStandard: standard(env.XML_STANDARD),
    mode: env.GATEWAY_MODE === 'production' ? 'production' : 'development',
    credentialsDir: env.CREDENTIALS_DIR ? resolve(env.CREDENTIALS_DIR) : undefined,
    masterKey: env.GATEWAY_MASTER_KEY || undefined,
    masterKeyFile: env.GATEWAY_MASTER_KEY_FILE ? resolve(env.GATEWAY_MASTER_KEY_FILE) : undefined,
    portalUrl: env.BHXH_PORTAL_URL || (env.GATEWAY_MODE === 'production' ? undefined : 'http://127.0.0.1:8099'),
    submissionWorker: env.SUBMISSION_WORKER !== 'off',
    portalRatePerSecond: int(env.PORTAL_RATE_LIMIT, 10, 'PORTAL_RATE_LIMIT'),
    portalTimeoutMs: int(env.PORTAL_TIMEOUT_MS, 30_000, 'PORTAL_TIMEOUT_MS'),
    portalRetryBaseMs: int(env.PORTAL_RETRY_BASE_MS, 5_000, 'PORTAL_RETRY_BASE_MS'),
    portalLeaseMs: int(env.PORTAL_LEASE_MS, 120_000, 'PORTAL_LEASE_MS'),
    trustAnchors: env.TRUST_ANCHORS ? resolve(env.TRUST_ANCHORS) : undefined,
    atRiskHours: int(env.AT_RISK_HOURS, 20, 'AT_RISK_HOURS'),
    receptionTimeoutMs: int(env.RECEPTION_TIMEOUT_MS, 10_000, 'RECEPTION_TIMEOUT_MS'),
    receptionCacheSeconds: int(env.RECEPTION_CACHE_SECONDS, 120, 'RECEPTION_CACHE_SECONDS'),
    devTools: devTools(env),
    mappingsDir: env.GATEWAY_MAPPINGS_DIR ? resolve(env.GATEWAY_MAPPINGS_DIR) : undefined,
    profilesDir: env.GATEWAY_PROFILES_DIR ? resolve(env.GATEWAY_PROFILES_DIR) : undefined,
    security: securitySettings(env, env.HOST || '127.0.0.1'),
  };
}

/** GATEWAY_DEV_TOOLS=on (`npm run dev`); refused with GATEWAY_MODE=production rather than silently ignored. */
function devTools(env: NodeJS.ProcessEnv): boolean {
  const on = env.GATEWAY_DEV_TOOLS === 'on';
  if (on && env.GATEWAY_MODE === 'production') throw new Error('GATEWAY_DEV_TOOLS=on is for development only; production never watches files or serves the studio');
  return on;
}

function standard(value: string | undefined): XmlStandard {
  if (!value) return '3176';
  if (!XML_STANDARDS.includes(value as XmlStandard)) throw new Error(`XML_STANDARD must be one of ${XML_STANDARDS.join(', ')}, not "${value}"`);
  return value as XmlStandard;
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, not "${value}"`);
  return n;
}

/** `20mb`, `512kb` or a number of bytes. */
function size(value: string | undefined, fallback: number): number {
  if (!value) return fallback;
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(value.trim());
  if (!m) throw new Error(`BODY_LIMIT must look like 20mb, 512kb or a byte count, not "${value}"`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Number(m[1]) * unit;
}
