import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compileFast, isFallBack } from '../../gateway/fhir/fast-fhirpath.js';
import { compilePath } from '../../gateway/fhir/fhirpath.js';
import { gatherEpisode } from '../../gateway/mapping/episode.js';
import { bundleSource } from '../../gateway/mapping/sources.js';
import { buildClaimFile } from '../../gateway/outputs/xml/claim-file.js';
import { tableDefinitions, XML_STANDARDS } from '../../gateway/outputs/xml/table-definition.js';
import { PROFILES_DIR } from '../../gateway/paths.js';

/**
 * The table rules (row rules, requiredWhen, includeWhen) and the claim rules run on the fast path
 * (compilePathFast): on the typed rows of every example's claim file, and on variants of those rows
 * (each field removed, each field given other values), the fast path and fhirpath.js agree.
 */

type Row = Record<string, string | number>;

async function exampleClaims() {
  const out = [];
  for (const file of readdirSync(join(PROFILES_DIR, 'examples')).filter((f) => f.endsWith('.json'))) {
    const { source, resources } = bundleSource(JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', file), 'utf8')) as Bundle);
    for (const encounter of resources.filter((r) => r.resourceType === 'Encounter')) {
      const episode = await gatherEpisode(source, encounter.id!);
      for (const standard of XML_STANDARDS) out.push(buildClaimFile(episode!, { standard, now: new Date('2025-06-01T03:00:00Z') }));
    }
  }
  return out;
}

/** Other values a field may have: empty, text of other shapes, numbers, date-like text. */
const ALTERNATIVES: (string | number)[] = ['', '01', 0, 2, 201, 1.5, '202501010000', '2025', '1;2', 'x.K.ABCDE'];

function variants(row: Row): Row[] {
  const out: Row[] = [row];
  for (const key of Object.keys(row)) {
    const { [key]: _, ...without } = row;
    out.push(without);
    for (const v of ALTERNATIVES) out.push({ ...row, [key]: v });
  }
  return out;
}

/** fhirpath.js's answer, or 'error'. */
function slow(expression: string, node: unknown, vars: Record<string, unknown>): unknown {
  try {
    return compilePath(expression)(node, vars);
  } catch {
    return 'error';
  }
}

describe('the table and claim rules on the fast path', () => {
  it('all compile to it', () => {
    const declined: string[] = [];
    for (const standard of XML_STANDARDS) {
      for (const def of tableDefinitions(standard)) {
        const expressions = [def.includeWhen, ...def.fields.map((f) => f.requiredWhen), ...def.rules.map((r) => r.expression)];
        for (const e of expressions) if (e && compileFast(e).declined) declined.push(`${def.table}: ${e}`);
      }
    }
    const { rules } = parse(readFileSync(join(PROFILES_DIR, 'qd4750', 'claim-rules.yaml'), 'utf8')) as { rules: { expression: string }[] };
    for (const r of rules) if (compileFast(r.expression).declined) declined.push(`claim: ${r.expression}`);
    expect(declined).toEqual([]);
  });

  it('agree with fhirpath.js on the examples’ rows and variants of them', async () => {
    const claims = await exampleClaims();
    let compared = 0;
    let fellBack = 0;
    const differences: string[] = [];
    const check = (expression: string, node: unknown, vars: Record<string, unknown>) => {
      const { path } = compileFast(expression);
      const expected = slow(expression, node, vars);
      let actual: unknown;
      try {
        actual = path!.values(node, vars);
      } catch (e) {
        if (!isFallBack(e)) throw e;
        fellBack++;
        return;
      }
      compared++;
      if (!isDeepStrictEqual(actual, expected) && differences.length < 10) differences.push(`${expression} on ${JSON.stringify(node)}: fast ${JSON.stringify(actual)}, fhirpath ${JSON.stringify(expected)}`);
    };
    // Each table's distinct rows once (the standards and examples share many).
    const seen = new Set<string>();
    const fresh = (key: string) => !seen.has(key) && !!seen.add(key);
    for (const claim of claims) {
      const xml1 = claim.tables.find((t) => t.definition.table === 'XML1')?.typed[0] ?? {};
      for (const table of claim.tables) {
        const def = table.definition;
        const rules = [...def.fields.flatMap((f) => (f.requiredWhen ? [f.requiredWhen] : [])), ...def.rules.map((r) => r.expression)];
        for (const row of table.typed) {
          if (!fresh(`${def.table} ${JSON.stringify(row)}`)) continue;
          for (const variant of variants(row)) for (const e of rules) check(e, variant, {});
        }
        if (def.includeWhen && fresh(`${def.includeWhen} ${JSON.stringify(xml1)}`)) for (const variant of variants(xml1)) check(def.includeWhen, {}, { XML1: [variant] });
      }
      // The claim rules over the tables, XML1 varied.
      const { rules } = parse(readFileSync(join(PROFILES_DIR, 'qd4750', 'claim-rules.yaml'), 'utf8')) as { rules: { expression: string }[] };
      const tables: Record<string, unknown> = {};
      for (let i = 0; i <= 15; i++) tables[`XML${i}`] = claim.tables.find((t) => t.definition.table === `XML${i}`)?.typed ?? [];
      if (fresh(`claim ${JSON.stringify(tables)}`)) for (const variant of variants(xml1 as Row)) for (const r of rules) check(r.expression, {}, { ...tables, XML1: [variant] });
    }
    expect(differences).toEqual([]);
    expect(compared).toBeGreaterThan(30_000);
    expect(fellBack).toBeLessThan(compared / 20);
  });
});

describe('date arithmetic of the table rules', () => {
  it('adds whole days to full dates and compares them as fhirpath.js does', () => {
    const dates = ['2024-02-28', '2024-02-29', '2023-02-28', '2024-12-31', '2025-01-01', '2025-03-30', '2025-10-26', '1999-12-31', '2025-05-12'];
    const days = [-400, -31, -1, 0, 1, 2, 29, 30, 365, 366];
    let compared = 0;
    for (const a of dates) {
      for (const n of days) {
        for (const b of dates) {
          for (const op of ['=', '!=', '<=', '>']) {
            const expression = `(%a).toDate() + (%n.toString() + ' days').toQuantity() ${op} (%b).toDate()`;
            const vars = { a, n, b };
            expect(compileFast(expression).path!.values({}, vars), `${a} + ${n} ${op} ${b}`).toEqual(compilePath(expression)({}, vars));
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(dates.length * days.length * dates.length * 4);
  });

  it('leaves other dates and quantities to fhirpath.js', () => {
    for (const [expression, vars] of [
      ["(%a).toDate() + '1 days'.toQuantity() = (%a).toDate()", { a: '2024-02' }],
      ["(%a).toDate() + '1 days'.toQuantity() = (%a).toDate()", { a: '2024-02-30' }],
      ["(%a).toDate() + '1.5 days'.toQuantity() = (%a).toDate()", { a: '2024-02-01' }],
      ["(%a).toDate() + '1 month'.toQuantity() = (%a).toDate()", { a: '2024-02-01' }],
      ['(%a).toDate()', { a: '2024-02-01' }],
    ] as const) {
      const { path } = compileFast(expression);
      expect(() => path!.values({}, vars), expression).toThrow();
    }
  });
});
