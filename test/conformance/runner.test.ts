import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingFromCapability, REQUIREMENTS } from '../../conformance/runner/requirements.js';
import { runConformance, type Report } from '../../conformance/runner/run.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The conformance kit against an in-process gateway over real HTTP on a random port: every check
 * passes, the output is one line per check and a closing count, the JSON report says the same, and
 * the runner uses no operation or search parameter that the CapabilityStatement (through
 * REQUIREMENTS) does not declare.
 */
describe.each(STORES)('the conformance runner against a gateway on $name', (store) => {
  let gw: TestGateway;
  let server: Server;
  let base: string;
  let report: Report;
  const lines: string[] = [];
  const reportFile = join(mkdtempSync(join(tmpdir(), 'conformance-')), 'report.json');

  beforeAll(async () => {
    gw = await startGateway(store, {}, { LOG_LEVEL: 'warn' });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir`;
    report = await runConformance({ baseUrl: base, print: (l) => lines.push(l), reportFile });
  }, 240_000);
  afterAll(async () => {
    server?.close();
    await gw?.close();
  });

  it('passes every check, one line each, and closes with the counts', () => {
    const failures = lines.filter((l) => l.startsWith('FAIL'));
    expect(failures).toEqual([]);
    expect(report.checks.length).toBeGreaterThan(100);
    expect(lines.slice(0, -1).every((l) => /^(ok  |FAIL) (metadata|rest|validation|cases|sql-on-fhir) › /.test(l))).toBe(true);
    expect(lines.at(-1)).toBe(`${report.checks.length} passed, 0 failed`);
    for (const group of ['metadata', 'rest', 'validation', 'cases', 'sql-on-fhir']) expect(report.checks.some((c) => c.group === group), group).toBe(true);
  });

  it('writes the JSON report and leaves no test resource behind', () => {
    const written = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect([written.passed, written.failed]).toEqual([report.passed, 0]);
    expect(written.cleanup.failed).toEqual([]);
    expect(written.cleanup.deleted).toBeGreaterThan(5);
  });

  it('uses only the operations and search parameters it requires, and the CapabilityStatement declares them all', async () => {
    const operations = new Set<string>();
    const params = new Set<string>();
    for (const { path } of report.requests) {
      const [route, query = ''] = path.split('?');
      const op = /\$([a-z0-9-]+)$/.exec(route)?.[1];
      if (op) operations.add(op);
      const type = /^([A-Z][A-Za-z]+)$/.exec(route)?.[1];
      if (type) for (const [k] of new URLSearchParams(query)) params.add(`${type}:${k}`);
    }
    const required = new Set(REQUIREMENTS.operations.map((o) => o.name as string));
    expect([...operations].filter((o) => !required.has(o))).toEqual([]);
    const requiredParams = new Set(REQUIREMENTS.searchParams.map((p) => `${p.type ?? '*'}:${p.name}`));
    expect([...params].filter((p) => !requiredParams.has(p) && !requiredParams.has(`*:${p.split(':')[1]}`))).toEqual([]);
    const cs = (await gw.http.get('/fhir/metadata')).body as CapabilityStatement;
    expect(missingFromCapability(cs)).toEqual([]);
  });

  it('fails a check, with -want +got, when the deployment misbehaves', async () => {
    // The same runner against the base URL of nothing: every check fails, the closing line says so.
    const out: string[] = [];
    const broken = await runConformance({ baseUrl: `${base}/nothing-here`, only: 'rest › read', print: (l) => out.push(l) });
    expect(broken.failed).toBe(1);
    expect(out.at(-1)).toBe('0 passed, 1 failed');
    expect(out[0]).toMatch(/^FAIL rest › read: .*status: -200 \+\d+/);
  });
});
