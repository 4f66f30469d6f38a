import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { compilePathFast, type CompiledPath } from '../../fhir/fhirpath.js';
import type { Issue } from '../../fhir/outcome.js';
import { profilesDir } from '../../mapping/folders.js';
import { reloadableCache } from '../../mapping/reload.js';
import type { RowRule } from './table-definition.js';

/** Rules across the tables of a claim file (profiles/qd4750/claim-rules.yaml): data, like the table definitions. */
interface CompiledRule extends RowRule {
  check: CompiledPath;
}

const compiledRules = reloadableCache<string, CompiledRule[]>();

/** The claim rules of the profiles folder, compiled once (exported so that a reload compiles them eagerly). */
export function compiledClaimRules(dir = profilesDir()): CompiledRule[] {
  let compiled = compiledRules.get(dir);
  if (!compiled) {
    const file = join(dir, 'qd4750', 'claim-rules.yaml');
    const { rules: list = [] } = parse(readFileSync(file, 'utf8')) as { rules?: RowRule[] };
    compiled = list.map((r): CompiledRule => {
      try {
        // Over the typed rows: the fast path where the rule compiles there, fhirpath.js otherwise.
        return { ...r, check: compilePathFast(r.expression) };
      } catch (e) {
        throw new Error(`${file} ${r.key}: ${(e as Error).message}`);
      }
    });
    compiledRules.set(dir, compiled);
  }
  return compiled;
}

/** The issues of a claim whose tables are bound as %XML0 … %XML15 in `variables`. */
export function claimRules(variables: Record<string, unknown>): Issue[] {
  const bound: Record<string, unknown> = { ...variables };
  for (let i = 0; i <= 15; i++) bound[`XML${i}`] ??= [];
  const issues: Issue[] = [];
  for (const rule of compiledClaimRules()) {
    const result = rule.check({}, bound);
    if (result.length === 1 && result[0] === false) {
      const m = rule.message;
      issues.push({
        severity: rule.severity,
        code: 'business-rule',
        message: typeof m === 'string' ? `${m} (${rule.key})` : { vi: `${m.vi} (${rule.key})`, en: `${m.en} (${rule.key})` },
      });
    }
  }
  return issues;
}
