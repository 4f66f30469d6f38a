import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Text } from '../../fhir/outcome.js';
import { profilesDir } from '../../mapping/folders.js';
import { reloadableCache } from '../../mapping/reload.js';

/**
 * The XML tables of QĐ 130/4750 (and the QĐ 3176 variant) as data: profiles/qd4750/<standard>/XMLn.yaml.
 * They drive serialisation (element names and order, formats), row validation and the mapping guide.
 */
export interface TableDefinition {
  table: string;
  title: Text;
  root: string;
  list: string | null;
  item: string | null;
  repeats: boolean;
  /** false for XML0 (the check-in file) and XML12: files of their own, not in the claim envelope. */
  inEnvelope: boolean;
  /** FHIRPath over %XML1 saying when a table is included; null: whenever it has rows. */
  includeWhen: string | null;
  /** A national rule set that completes rows after mapping (`line-amounts` for XML2/XML3). */
  derive?: string;
  fields: FieldDefinition[];
  rules: RowRule[];
}

export interface FieldDefinition {
  name: string;
  type: 'string' | 'number';
  /** Maximum length; absent for unbounded text. */
  length?: number;
  /** Fixed decimals of a number. */
  decimals?: number;
  /** `yyyyMMdd|yyyyMMddHHmm`: as precise as the value (a date → 8 digits, a time → 12; NGAY_MIEN_CCT). */
  format?: 'yyyyMMddHHmm' | 'yyyyMMdd' | 'yyyyMMdd|yyyyMMddHHmm';
  required?: boolean;
  /** FHIRPath over the row: when true the field is required. */
  requiredWhen?: string;
  /** Several values joined by `;`. */
  multiple?: boolean;
  /** Regex every value must match. */
  pattern?: string;
  /** A code list: id of a project CodeSystem. */
  codes?: string;
  /** A code list given inline. */
  values?: (string | number)[];
  meaning?: string;
  note?: string;
}

export interface RowRule {
  key: string;
  severity: 'error' | 'warning';
  expression: string;
  message: Text;
}

/** The standards the gateway can produce; a 3176 table replaces the 4750 table of the same name. */
export type XmlStandard = '4750' | '3176';
export const XML_STANDARDS: readonly XmlStandard[] = ['4750', '3176'];

const TABLE_ORDER = (name: string) => Number(name.replace(/^XML/, ''));

const cache = reloadableCache<string, TableDefinition[]>();

/** Every table of a standard, in table order (XML0 … XML15). */
export function tableDefinitions(standard: XmlStandard = '3176', dir = join(profilesDir(), 'qd4750')): TableDefinition[] {
  const key = `${dir}\u0000${standard}`;
  let tables = cache.get(key);
  if (!tables) {
    const byName = new Map<string, TableDefinition>();
    for (const layer of standard === '4750' ? ['4750'] : ['4750', standard]) {
      const folder = join(dir, layer);
      if (!existsSync(folder)) continue;
      for (const file of readdirSync(folder).filter((f) => /^XML\d+\.yaml$/.test(f))) {
        let def: TableDefinition;
        try {
          def = parse(readFileSync(join(folder, file), 'utf8')) as TableDefinition;
        } catch (e) {
          throw new Error(`${join(folder, file)}: ${(e as Error).message}`);
        }
        byName.set(def.table, { ...def, rules: def.rules ?? [], fields: def.fields ?? [] });
      }
    }
    tables = [...byName.values()].sort((a, b) => TABLE_ORDER(a.table) - TABLE_ORDER(b.table));
    cache.set(key, tables);
  }
  return tables;
}

export function tableDefinition(table: string, standard: XmlStandard = '3176'): TableDefinition | undefined {
  return tableDefinitions(standard).find((t) => t.table === table);
}
