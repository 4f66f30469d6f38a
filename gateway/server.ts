import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type express from 'express';
import type { Config } from './config.js';
import { loadR4Definitions } from './fhir/definitions.js';
import { matchOperation } from './identity/match-operation.js';
import { fileCredentials, type FacilityCredentials } from './facilities/credentials.js';
import { facilityOperations } from './facilities/operations.js';
import { readinessPage } from './facilities/page.js';
import { FacilityRegistry, registryCredentials } from './facilities/registry.js';
import { Vault } from './facilities/vault.js';
import { atRiskOperation, submitOperation } from './outbox/operations.js';
import { PortalClient } from './outbox/portal-client.js';
import { submissionHook } from './outbox/queue.js';
import { SubmissionWorker } from './outbox/worker.js';
import { healthBookHook } from './outputs/healthbook/maintain.js';
import { bookPage } from './outputs/healthbook/page.js';
import { summaryOperation } from './outputs/healthbook/summary.js';
import { reportsPage } from './outputs/reports/dashboard.js';
import { ReportEngine } from './outputs/reports/evaluate.js';
import { installMeasures } from './outputs/reports/install.js';
import { evaluateMeasureOperation } from './outputs/reports/operation.js';
import { xml130CheckinOperation, xml130Operation } from './outputs/xml/operation.js';
import { readTrustAnchors, verifyOperation } from './signing/verify-operation.js';
import { eligibilityOperation } from './reception/operation.js';
import { setLocalOffsetMinutes } from './fhir/dates.js';
import { createApp } from './http/app.js';
import { useMappingFolders } from './mapping/folders.js';
import { viewRunOperations } from './mapping/run-operation.js';
import { developmentTools, type DevelopmentTools } from './tools/dev/index.js';
import { createSecurity, type Security } from './security/index.js';
import { checkExposure } from './security/settings.js';
import type { Logger } from './log.js';
import { FhirRouter } from './rest/router.js';
import type { Database } from './store/database.js';
import { migrate } from './store/migrations.js';
import { VERSION } from './paths.js';
import { openPglite } from './store/pglite.js';
import { openPostgres } from './store/postgres.js';
import { ProfileRegistry } from './validation/registry.js';
import { structureValidator } from './validation/structure.js';
import { ProfileValidator } from './validation/validate.js';
import { validateOperation } from './validation/validate-operation.js';
import { allOf, type ResourceValidator } from './validation/validator.js';

export interface Gateway {
  app: express.Express;
  db: Database;
  router: FhirRouter;
  worker?: SubmissionWorker;
  facilities: Facilities;
  security: Security;
  close(): Promise<void>;
}

/** Opens the store named by the configuration (PostgreSQL, or PGlite in the data folder). */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolSize'>): Promise<Database> {
  return config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, poolSize: config.dbPoolSize })
    : openPglite(join(config.dataDir, 'pglite'));
}

/** Parts a test or an embedding program may supply instead of the defaults. */
export interface GatewayParts {
  db?: Database;
  validator?: ResourceValidator;
  /** The submission worker to run; null for none (tests that drive one themselves). */
  worker?: SubmissionWorker | null;
}

/** The facilities' credentials (sealed in the database, or in CREDENTIALS_DIR) and the portal client they share. */
export interface Facilities {
  registry: FacilityRegistry;
  credentials: FacilityCredentials;
  portal: PortalClient;
}

/**
 * In production a gateway that could never send what it accepts does not start: it needs the
 * portal's URL, and a master key (credentials set through `$credentials`) or a credentials folder.
 * In development a facility without credentials signs with a self-signed test certificate.
 */
export function facilities(config: Config, db: Database, log: Logger): Facilities {
  const vault = Vault.fromEnvironment({
    key: config.masterKey,
    file: config.masterKeyFile,
    developmentFile: config.mode === 'development' ? join(config.dataDir, 'master.key') : undefined,
  });
  if (config.mode === 'production') {
    if (!config.portalUrl) throw new Error('production mode needs BHXH_PORTAL_URL');
    if (!vault && !(config.credentialsDir && existsSync(config.credentialsDir))) {
      throw new Error('production mode needs GATEWAY_MASTER_KEY (or GATEWAY_MASTER_KEY_FILE) to keep facility credentials, or a CREDENTIALS_DIR');
    }
  } else {
    log.warn({ portal: config.portalUrl }, 'DEVELOPMENT MODE: facilities without credentials sign with self-signed test certificates');
  }
  const registry = new FacilityRegistry(db, vault);
  const files = fileCredentials({
    dir: config.credentialsDir,
    portalUrl: config.portalUrl!,
    standard: config.xmlStandard,
    devDir: config.mode === 'development' ? join(config.dataDir, 'dev-credentials') : undefined,
    log,
  });
  const credentials = registryCredentials(registry, files, { baseUrl: config.portalUrl!, standard: config.xmlStandard });
  return { registry, credentials, portal: new PortalClient(config.portalTimeoutMs) };
}

/** The worker sending this process's share of the outbox. */
export function submissionWorker(config: Config, db: Database, log: Logger, f: Facilities): SubmissionWorker | undefined {
  if (!config.submissionWorker) return undefined;
  return new SubmissionWorker({
    db,
    credentials: f.credentials,
    portal: f.portal,
    log,
    ratePerSecond: config.portalRatePerSecond,
    retryBaseMs: config.portalRetryBaseMs,
    leaseMs: config.portalLeaseMs,
  });
}

/** Everything but the listening socket: store (migrated), router and HTTP app. */
export async function createGateway(config: Config, log: Logger, parts: GatewayParts = {}): Promise<Gateway> {
  // Without authentication, loopback only (or an explicit opt-out): refused here, before anything opens.
  const exposure = checkExposure(config.host, config.security);
  if (exposure) log.warn(exposure);
  setLocalOffsetMinutes(config.localOffsetMinutes);
  // The mapping engine reads these folders (the repository's unless configured): see mapping/folders.ts.
  useMappingFolders({ mappings: config.mappingsDir, profiles: config.profilesDir });
  loadR4Definitions();
  const database = parts.db ?? (await openDatabase(config));
  const applied = await migrate(database);
  if (applied.length) log.info({ applied }, 'schema migrations applied');
  const registry = new ProfileRegistry();
  const profiles = new ProfileValidator(registry);
  const validator = parts.validator ?? allOf(structureValidator, profiles);
  const queue = { standard: config.xmlStandard };
  const trustAnchors = readTrustAnchors(config.trustAnchors);
  const f = facilities(config, database, log);
  // Rollout reports: the Measures of mappings/reports, compiled once and readable as Measure resources.
  const reports = new ReportEngine(database, { localOffsetMinutes: config.localOffsetMinutes });
  const installed = await installMeasures(database, reports.measures);
  if (installed.length) log.info({ measures: installed }, 'report measures installed');
  // Authentication, the access policy and the audit log (first among the hooks: a refused write does no other work).
  const security = await createSecurity(config, database, log);
  const router = new FhirRouter({
    db: database,
    validator,
    hooks: [security.hook, submissionHook(queue), healthBookHook()],
    guard: security.guard,
    operations: [
      validateOperation(validator, profiles),
      matchOperation(),
      xml130Operation(config.xmlStandard),
      xml130CheckinOperation(config.xmlStandard),
      submitOperation(database, queue),
      atRiskOperation(database, config.atRiskHours),
      verifyOperation(() => trustAnchors),
      summaryOperation(),
      ...viewRunOperations(config.xmlStandard),
      ...facilityOperations({ db: database, ...f }),
      evaluateMeasureOperation(reports),
      eligibilityOperation({ router: (): FhirRouter => router, ...f, timeoutMs: config.receptionTimeoutMs, cacheSeconds: config.receptionCacheSeconds, log, audit: (event, patients) => security.recordEvent(event, patients) }),
    ],
    profiles: registry.supportedProfiles(),
    version: VERSION,
    startedAt: new Date().toISOString(),
    maxBundleEntries: config.maxBundleEntries,
  });
  // npm run dev: the mapping folders reloaded on change and the studio; never in production (config.ts refuses it).
  const devTools: DevelopmentTools | undefined = config.devTools ? developmentTools(config, log, validator) : undefined;
  const app = createApp({ router, db: database, config, log, security: security.edge, pages: [readinessPage(database, f.registry, f.credentials), bookPage(database), reportsPage(reports, database), ...(devTools?.pages ?? [])] });
  const worker = parts.worker === null ? undefined : (parts.worker ?? submissionWorker(config, database, log, f));
  worker?.start();
  return {
    app,
    db: database,
    router,
    worker,
    facilities: f,
    security,
    async close() {
      devTools?.close();
      await worker?.stop();
      await database.close();
    },
  };
}
