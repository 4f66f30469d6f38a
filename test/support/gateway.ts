import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import supertest from 'supertest';
import { loadConfig } from '../../gateway/config.js';
import { createGateway, type Gateway, type GatewayParts } from '../../gateway/server.js';
import type { StoreFactory } from './stores.js';

export interface TestGateway extends Gateway {
  http: ReturnType<typeof supertest.agent>;
  /** Every log line the gateway wrote, parsed. */
  logs: Record<string, unknown>[];
}

/** A gateway on a fresh database of the given store, with an HTTP client and captured logs. */
export async function startGateway(store: StoreFactory, parts: Omit<GatewayParts, 'db'> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const logs: Record<string, unknown>[] = [];
  // Every line also goes to the suite's log check (test/support/log-check.ts), when it runs.
  const shared = process.env.GATEWAY_TEST_LOGS ? join(process.env.GATEWAY_TEST_LOGS, `${process.pid}.ndjson`) : undefined;
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      if (shared) appendFileSync(shared, String(chunk));
      done();
    },
  });
  const log = pino({ level: env.LOG_LEVEL ?? 'debug' }, sink);
  const config = loadConfig({ PUBLIC_BASE_URL: 'http://gw.test/fhir', ...env });
  // No submission worker unless a test brings its own: it would post to a portal that is not there.
  const gateway = await createGateway(config, log, { worker: null, ...parts, db: await store.open() });
  // Tests read messages in English unless they ask otherwise (the gateway's default is Vietnamese).
  return { ...gateway, http: supertest.agent(gateway.app).set('Accept-Language', 'en'), logs };
}

export const FHIR_JSON = 'application/fhir+json';
