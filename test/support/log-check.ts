import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { CASES_DIR } from '../../conformance/cases.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { patient } from './fixtures.js';

/**
 * The whole suite's log check (vitest globalSetup): every gateway a test starts writes its log lines
 * (debug level, see gateway.ts) to a shared folder; when the suite is done, the lines are searched for
 * the identifiers and names of every patient the tests send — the example bundles, the golden cases,
 * the fixtures and the numbered variants of the outpatient example. One hit fails the run.
 */
let dir: string;

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'gw-test-logs-'));
  process.env.GATEWAY_TEST_LOGS = dir;
}

export function teardown(): void {
  try {
    const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'));
    const values = personalData();
    // The outpatient example's numbered variants (test/support/episodes.ts): CCCD 010167nnnnnn, BHXH number 2000nnnnnn.
    const patterns = [...values.map((v) => new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))), /010167\d{6}/, /DK2\d{2}2\d{9}/];
    const hits = new Set<string>();
    for (const line of lines) for (const p of patterns) if (p.test(line)) hits.add(p.source.slice(0, 3) + '…');
    if (lines.length < 1000) throw new Error(`log check: only ${lines.length} log lines were collected; is test/support/gateway.ts writing them?`);
    if (hits.size > 0) throw new Error(`log check: patient data found in the gateway's logs (values starting ${[...hits].join(', ')}); search the gateway logs of the failing run`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function personalData(): string[] {
  const bundles: Bundle[] = [
    ...readdirSync(join(PROFILES_DIR, 'examples')).map((f) => JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', f), 'utf8')) as Bundle),
    ...readdirSync(CASES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => JSON.parse(readFileSync(join(CASES_DIR, d.name, 'input.json'), 'utf8')) as Bundle),
    { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient() }] },
  ];
  const out = new Set<string>();
  for (const b of bundles) {
    for (const e of b.entry ?? []) {
      const r = e.resource as Resource;
      if (r?.resourceType === 'Patient') {
        const p = r as Patient;
        for (const id of p.identifier ?? []) if (id.value) out.add(id.value);
        for (const n of p.name ?? []) if (n.text) out.add(n.text);
        for (const t of p.telecom ?? []) if (t.value) out.add(t.value);
      }
      if (r?.resourceType === 'Coverage') for (const id of (r as { identifier?: { value?: string }[] }).identifier ?? []) if (id.value) out.add(id.value);
    }
  }
  // Short values (a 4-digit year, a 2-letter code) would match anything.
  return [...out].filter((v) => v.length >= 8);
}
