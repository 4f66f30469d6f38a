import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeableConcept, Measure } from '@medplum/fhirtypes';
import { REPORTS_DIR } from './report-rows.js';
import { compileSql, SqlFhirPathError, type SqlExpression, type SqlType } from './sql-fhirpath.js';

/**
 * The report Measures (`mappings/reports/Measure-*.json`) compiled once: every population's
 * criterion, every stratifier's components and the observation of a continuous-variable group
 * become SQL over the report rows. A criterion that names no column, or uses FHIRPath outside the
 * subset, fails here, at start, with the Measure, the group and the population.
 */
export const AGGREGATE_METHOD = 'http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-aggregateMethod';
export const AGGREGATE_PERCENTILE = 'https://healthbook-gateway.vn/fhir/StructureDefinition/hb-ext-aggregate-percentile';

export interface CompiledPopulation {
  code: CodeableConcept;
  key: string;
  sql: string;
}

export interface CompiledStratifier {
  code: CodeableConcept;
  key: string;
  components: { code?: CodeableConcept; key: string; expression: string; sql: string; type: SqlType }[];
}

export interface CompiledGroup {
  id?: string;
  code?: CodeableConcept;
  populations: CompiledPopulation[];
  /** A continuous-variable group: the value of each row and the fraction (0.5 = median) reported. */
  observation?: { sql: string; percentile: number; population: string };
  stratifiers: CompiledStratifier[];
}

export interface CompiledMeasure {
  id: string;
  url: string;
  resource: Measure;
  scoring: string;
  groups: CompiledGroup[];
}

export const codeOf = (c: CodeableConcept | undefined): string => c?.coding?.[0]?.code ?? c?.text ?? '';

export function loadMeasures(columns: Map<string, SqlType>, options: { localOffsetMinutes: number }, dir = REPORTS_DIR): CompiledMeasure[] {
  const files = readdirSync(dir).filter((f) => /^Measure-.+\.json$/.test(f)).sort();
  return files.map((file) => compileMeasure(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Measure, columns, options, file));
}

export function compileMeasure(measure: Measure, columns: Map<string, SqlType>, options: { localOffsetMinutes: number }, file = measure.id ?? '?'): CompiledMeasure {
  if (measure.resourceType !== 'Measure' || !measure.id || !measure.url) throw new Error(`${file}: a report definition is a Measure with an id and a url`);
  const scoring = measure.scoring?.coding?.[0]?.code ?? 'cohort';
  const target = {
    kind: 'row' as const,
    column: (name: string): SqlExpression | undefined => {
      const type = columns.get(name);
      return type && { sql: `r.${name === name.toLowerCase() && /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name}"`}`, type };
    },
  };
  const variables = { now: { sql: '$3::timestamptz', type: 'timestamptz' as const } };
  const compile = (expression: string | undefined, at: string): SqlExpression => {
    if (!expression) throw new Error(`${file} ${at}: needs criteria.expression (text/fhirpath)`);
    try {
      return compileSql(expression, target, { variables, localOffsetMinutes: options.localOffsetMinutes });
    } catch (e) {
      if (e instanceof SqlFhirPathError) throw new Error(`${file} ${at}: ${e.message}`);
      throw e;
    }
  };
  const groups = (measure.group ?? []).map((g, gi): CompiledGroup => {
    const populations: CompiledPopulation[] = [];
    let observation: CompiledGroup['observation'];
    for (const [pi, p] of (g.population ?? []).entries()) {
      const at = `group[${gi}].population[${pi}]`;
      if (p.criteria?.language !== 'text/fhirpath') throw new Error(`${file} ${at}: criteria are text/fhirpath over the report rows`);
      const key = codeOf(p.code);
      const c = compile(p.criteria.expression, at);
      if (key === 'measure-observation') {
        if (c.type !== 'numeric') throw new Error(`${file} ${at}: an observation is a number`);
        observation = { sql: c.sql, percentile: percentileOf(g.extension, `${file} group[${gi}]`), population: 'measure-population' };
      } else {
        populations.push({ code: p.code!, key, sql: c.type === 'boolean' ? c.sql : `(${c.sql} IS NOT NULL)` });
      }
    }
    if (scoring === 'continuous-variable' && (!observation || !populations.some((p) => p.key === 'measure-population'))) {
      throw new Error(`${file} group[${gi}]: a continuous-variable group has a measure-population and a measure-observation`);
    }
    if (scoring === 'proportion' && !(['numerator', 'denominator'] as const).every((k) => populations.some((p) => p.key === k))) {
      throw new Error(`${file} group[${gi}]: a proportion group has a numerator and a denominator`);
    }
    const stratifiers = (g.stratifier ?? []).map((s, si): CompiledStratifier => {
      const at = `group[${gi}].stratifier[${si}]`;
      const parts = s.component?.length ? s.component.map((c, ci) => ({ code: c.code, expression: c.criteria?.expression, at: `${at}.component[${ci}]` })) : [{ code: s.code, expression: s.criteria?.expression, at }];
      return {
        code: s.code!,
        key: codeOf(s.code),
        components: parts.map((p) => {
          const c = compile(p.expression, p.at);
          return { code: p.code, key: codeOf(p.code), expression: p.expression!, sql: c.sql, type: c.type };
        }),
      };
    });
    return { id: g.id, code: g.code, populations, observation, stratifiers };
  });
  return { id: measure.id, url: measure.url, resource: measure, scoring, groups };
}

function percentileOf(extension: Measure['extension'], at: string): number {
  const method = extension?.find((e) => e.url === AGGREGATE_METHOD)?.valueCode;
  const percentile = extension?.find((e) => e.url === AGGREGATE_PERCENTILE)?.valueDecimal;
  if (method === 'median') return 0.5;
  if (percentile !== undefined && percentile > 0 && percentile < 100) return percentile / 100;
  throw new Error(`${at}: a continuous-variable group says how to aggregate: ${AGGREGATE_METHOD} median, or ${AGGREGATE_PERCENTILE} (0–100)`);
}
