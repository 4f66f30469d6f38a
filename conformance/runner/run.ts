import { writeFileSync } from 'node:fs';
import { caseChecks } from './case-checks.js';
import { CheckFailure, type Check, type RunContext } from './check.js';
import { FhirClient } from './client.js';
import { metadataCheck } from './requirements.js';
import { restChecks } from './rest-checks.js';
import { sqlOnFhirChecks } from './sql-on-fhir-checks.js';

/**
 * The conformance runner: every check against one deployment, in order, each printed as one line as
 * it finishes (`ok` or `FAIL`, its group and name, why it failed), then `N passed, M failed`. The
 * JSON report holds the same with timings. Resources it created are deleted at the end.
 *
 * It writes test patients and the golden cases' episodes to the deployment (and a finished episode
 * queues its claim file for the portal): run it against a test deployment, never production.
 */
export interface RunOptions {
  baseUrl: string;
  headers?: Record<string, string>;
  /** Only the checks whose group or name contains this text. */
  only?: string;
  /** Where each line goes (stdout by default). */
  print?: (line: string) => void;
  /** Where the JSON report is written, if anywhere. */
  reportFile?: string;
}

export interface CheckResult {
  group: Check['group'];
  name: string;
  ok: boolean;
  detail?: string;
  ms: number;
}

export interface Report {
  baseUrl: string;
  startedAt: string;
  finishedAt: string;
  passed: number;
  failed: number;
  /** SQL-on-FHIR tests tagged experimental, not run. */
  skipped: number;
  checks: CheckResult[];
  cleanup: { deleted: number; failed: string[] };
  /** Every request the runner made: method and path (no bodies). */
  requests: { method: string; path: string }[];
}

export function allChecks(): { checks: Check[]; skipped: number } {
  const suite = sqlOnFhirChecks();
  return { checks: [metadataCheck, ...restChecks(), ...caseChecks(), ...suite.checks], skipped: suite.experimental };
}

export async function runConformance(options: RunOptions): Promise<Report> {
  const print = options.print ?? ((line: string) => console.log(line));
  const client = new FhirClient(options.baseUrl.replace(/\/+$/, ''), options.headers);
  const ctx: RunContext = { client, runId: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), created: [] };
  const { checks, skipped } = allChecks();
  const chosen = options.only ? checks.filter((c) => `${c.group} › ${c.name}`.includes(options.only!)) : checks;
  const startedAt = new Date().toISOString();
  const results: CheckResult[] = [];
  for (const check of chosen) {
    const started = performance.now();
    let detail: string | undefined;
    try {
      await check.run(ctx);
    } catch (e) {
      detail = e instanceof CheckFailure ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
    }
    const result: CheckResult = { group: check.group, name: check.name, ok: detail === undefined, ...(detail ? { detail } : {}), ms: Math.round(performance.now() - started) };
    results.push(result);
    print(`${result.ok ? 'ok  ' : 'FAIL'} ${check.group} › ${check.name}${detail ? `: ${detail}` : ''}`);
  }
  const cleanup = await removeCreated(ctx);
  const passed = results.filter((r) => r.ok).length;
  const report: Report = {
    baseUrl: options.baseUrl,
    startedAt,
    finishedAt: new Date().toISOString(),
    passed,
    failed: results.length - passed,
    skipped: options.only ? 0 : skipped,
    checks: results,
    cleanup,
    requests: client.requests,
  };
  if (options.reportFile) writeFileSync(options.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  print(`${report.passed} passed, ${report.failed} failed`);
  return report;
}

/** Deletes what the run created, newest first; what cannot be deleted is listed in the report. */
async function removeCreated(ctx: RunContext): Promise<Report['cleanup']> {
  const failed: string[] = [];
  let deleted = 0;
  for (const ref of [...new Set(ctx.created)].reverse()) {
    const r = await ctx.client.delete(ref).catch(() => undefined);
    if (r && (r.status === 200 || r.status === 204)) deleted++;
    else failed.push(ref);
  }
  return { deleted, failed };
}
