import type { Resource } from '@medplum/fhirtypes';
import { localIso } from '../../fhir/dates.js';
import { compilePathFast, type CompiledPath } from '../../fhir/fhirpath.js';
import type { Issue, Text } from '../../fhir/outcome.js';
import { parseReference } from '../../fhir/references.js';
import { episodeOrganization, type Episode } from '../../mapping/episode.js';
import { RESOLVE_INDEX, tableMappings, type TableMapping } from '../../mapping/mappings.js';
import type { Row } from '../../mapping/view.js';
import { claimRules } from './claim-rules.js';
import { claimEnvelope, SIGNATURE_SLOT } from './envelope.js';
import { formatField } from './format.js';
import { completeLineAmounts } from './money.js';
import { rowCheck, typedRow, type TypedRow } from './row-rules.js';
import { tableDocument } from './serialize.js';
import { tableDefinitions, type TableDefinition, type XmlStandard } from './table-definition.js';

/**
 * Episode → claim file. Each table's mapping turns the episode's resources into rows; the table
 * definition formats and checks them; the national rules complete line amounts and check the
 * whole; the tables that apply are serialised and wrapped in the GIAMDINHHS envelope (unsigned:
 * the signer fills CHUKYDONVI). Pure: the same episode and clock give the same bytes.
 */
export interface ClaimOptions {
  standard?: XmlStandard;
  /** Creation time (NGAYLAP); injected so that outputs are reproducible. */
  now?: Date;
  /** How an issue names the FHIR element that fed a field (a stored resource, or a Bundle entry). */
  sourceExpression?: (resource: Resource, path: string) => string;
  /** 'fhirpath': run the mappings on fhirpath.js only (parity tests); default: the fast path where they compile. */
  engine?: 'auto' | 'fhirpath';
}

export interface BuiltTable {
  definition: TableDefinition;
  /** Element texts of each row, in field order. */
  rows: string[][];
  typed: TypedRow[];
  /** The table document (UTF-8 text with declaration). */
  document: string;
  /** In the claim envelope (XML1 always; others by their inclusion rule). */
  included: boolean;
}

export interface ClaimFile {
  maLk: string;
  facility: string;
  tables: BuiltTable[];
  /** The unsigned GIAMDINHHS envelope. */
  envelope: string;
  /** The check-in file (XML0), unsigned, when its mapping gives a row. */
  checkin?: string;
  issues: Issue[];
}

export function buildClaimFile(episode: Episode, options: ClaimOptions = {}): ClaimFile {
  const standard = options.standard ?? '3176';
  const now = options.now ?? new Date();
  const definitions = new Map(tableDefinitions(standard).map((d) => [d.table, d]));
  const describeSource = options.sourceExpression ?? defaultSource;
  const variables = episodeVariables(episode, now);
  const issues: Issue[] = [];
  const built = new Map<string, BuiltTable>();

  for (const mapping of tableMappings(standard, undefined, options.engine)) {
    const definition = definitions.get(mapping.table);
    if (!definition) throw new Error(`mappings/${mapping.table}.json has no table definition in profiles/qd4750`);
    const table = buildTable(definition, mapping, episode, variables, describeSource, issues);
    built.set(definition.table, table);
    variables[definition.table] = table.typed;
  }

  const xml1 = built.get('XML1')?.typed[0] ?? {};
  for (const table of built.values()) table.included = table.rows.length > 0 && isIncluded(table.definition, xml1);
  const tables = [...built.values()].sort((a, b) => Number(a.definition.table.slice(3)) - Number(b.definition.table.slice(3)));
  issues.push(...claimRules(variables));

  const facility = String(xml1.MA_CSKCB ?? '');
  const envelope = claimEnvelope(
    facility,
    localDate(now),
    tables.filter((t) => t.included && t.definition.inEnvelope).map((t) => ({ table: t.definition.table, document: t.document })),
  );
  const xml0 = built.get('XML0');
  return {
    maLk: String(xml1.MA_LK ?? ''),
    facility,
    tables,
    envelope,
    ...(xml0 && xml0.rows.length > 0 ? { checkin: xml0.document } : {}),
    issues,
  };
}

/**
 * The variables every mapping of an episode reads (mappings/README.md): the episode context, and
 * %XML0 … %XML15 as no rows until buildClaimFile() binds each table's typed rows once it is built.
 */
export function episodeVariables(episode: Episode, now: Date): Record<string, unknown> {
  const variables: Record<string, unknown> = {
    encounter: episode.encounter,
    patient: episode.patient ?? [],
    coverages: episode.coverages,
    organization: episodeOrganization(episode) ?? [],
    resources: episode.resources,
    today: localDate(now),
    [RESOLVE_INDEX]: episode.byReference,
  };
  // A table not built yet (or without a mapping) reads as no rows.
  for (let i = 0; i <= 15; i++) variables[`XML${i}`] = [];
  return variables;
}

function buildTable(
  definition: TableDefinition,
  mapping: TableMapping,
  episode: Episode,
  variables: Record<string, unknown>,
  describeSource: (resource: Resource, path: string) => string,
  issues: Issue[],
): BuiltTable {
  const { check, numbered } = tablePlan(definition, mapping);
  const rows: string[][] = [];
  const typed: TypedRow[] = [];
  const sourced = mapping.view.runWithSource(episode.resources, variables);
  sourced.forEach(({ row, resource }, index) => {
    const report = (field: string | undefined, severity: Issue['severity'], code: Issue['code'], message: Text) => {
      const path = field ? mapping.sources.get(field) : undefined;
      const where = rowLocation(definition, index, sourced.length);
      issues.push({
        severity,
        code,
        message: prefixed(`${definition.table}${definition.repeats ? ` [${index + 1}]` : ''}${field ? ` ${field}` : ''}`, message),
        location: [field ? `${where}/${field}` : where],
        expression: [describeSource(resource as Resource, path ?? '')],
      });
    };
    let values: Row = row;
    if (definition.derive === 'line-amounts') {
      const completed = completeLineAmounts(values);
      values = completed.row;
      for (const p of completed.problems) report(p.field, p.severity, 'value', p.message);
    }
    if (numbered && (values.STT === null || values.STT === undefined)) values = { ...values, STT: index + 1 };
    const fields = definition.fields;
    const texts = new Array<string>(fields.length);
    for (let i = 0; i < fields.length; i++) {
      const formatted = formatField(values[fields[i].name], fields[i]);
      for (const p of formatted.problems) report(fields[i].name, p.severity, 'value', p.message);
      texts[i] = formatted.text;
    }
    const typedValues = typedRow(definition, texts);
    for (const p of check(texts, typedValues)) report(p.field, p.severity, p.code, p.message);
    rows.push(texts);
    typed.push(typedValues);
  });
  if (!definition.repeats && rows.length > 1) {
    issues.push({
      severity: 'error',
      code: 'business-rule',
      message: {
        vi: `${definition.table} chỉ có một bản ghi cho một đợt điều trị; ánh xạ cho ${rows.length}`,
        en: `${definition.table} has one record per episode; the mapping gave ${rows.length}`,
      },
      location: [definition.root],
    });
  }
  const trailer = definition.inEnvelope ? '' : SIGNATURE_SLOT;
  return { definition, rows, typed, document: tableDocument(definition, rows, trailer), included: false };
}

/** What a table needs besides its rows, worked out once per mapping and definition (not per claim). */
interface TablePlan {
  check: ReturnType<typeof rowCheck>;
  /** The table has an STT field: rows the mapping leaves unnumbered are numbered in order. */
  numbered: boolean;
}

const plans = new WeakMap<TableMapping, { definition: TableDefinition; plan: TablePlan }>();

function tablePlan(definition: TableDefinition, mapping: TableMapping): TablePlan {
  const known = plans.get(mapping);
  if (known?.definition === definition) return known.plan;
  const names = new Set(definition.fields.map((f) => f.name));
  for (const name of mapping.sources.keys()) {
    if (!names.has(name)) throw new Error(`mappings/${mapping.table}.json: column ${name} is not a field of ${definition.table}`);
  }
  const plan = { check: rowCheck(definition), numbered: names.has('STT') };
  plans.set(mapping, { definition, plan });
  return plan;
}

const includeRules = new Map<string, CompiledPath>();

function isIncluded(definition: TableDefinition, xml1: TypedRow): boolean {
  if (!definition.includeWhen) return true;
  let fn = includeRules.get(definition.includeWhen);
  if (!fn) {
    fn = compilePathFast(definition.includeWhen);
    includeRules.set(definition.includeWhen, fn);
  }
  const result = fn({}, { XML1: [xml1] });
  return result.length === 1 && result[0] === true;
}

/** XPath of a row in the table document: `TONG_HOP`, `CHITIEU_CHITIET_THUOC/DSACH_CHI_TIET_THUOC/CHI_TIET_THUOC[3]`. */
function rowLocation(def: TableDefinition, index: number, count: number): string {
  if (!def.repeats || !def.list || !def.item) return def.root;
  return `${def.root}/${def.list}/${def.item}${count > 1 ? `[${index + 1}]` : ''}`;
}

function defaultSource(resource: Resource, path: string): string {
  const base = resource?.resourceType ? `${resource.resourceType}.where(id = '${resource.id}')` : 'Resource';
  return path ? `${base}.select(${path})` : base;
}

function prefixed(prefix: string, message: Text): Text {
  return typeof message === 'string' ? `${prefix}: ${message}` : { vi: `${prefix}: ${message.vi}`, en: `${prefix}: ${message.en}` };
}

/** `yyyyMMdd` of an instant in the deployment's zone (NGAYLAP, %today). */
function localDate(now: Date): string {
  return localIso(now.getTime()).slice(0, 10).replace(/-/g, '');
}
