import type { JsonPath } from './positions.js';

/**
 * The parts of a ViewDefinition the linter looks at, each with its JSON path in the file: every
 * FHIRPath expression, and every column with the iteration it sits in.
 */
export interface ExpressionAt {
  path: JsonPath;
  expression: string;
}

export interface ColumnAt {
  path: JsonPath;
  name: string;
  expression: string;
  type?: string;
  collection: boolean;
  /** Inside a forEach / forEachOrNull / repeat: its path is relative to an iterated node, not the resource. */
  iterated: boolean;
  /** In a unionAll branch other than the first (the same names again). */
  laterBranch: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function viewExpressions(view: unknown): ExpressionAt[] {
  const out: ExpressionAt[] = [];
  if (!isObject(view)) return out;
  if (Array.isArray(view.where)) view.where.forEach((w, i) => isObject(w) && typeof w.path === 'string' && out.push({ path: ['where', i, 'path'], expression: w.path }));
  walkSelects(view.select, ['select'], false, false, (select, at) => {
    for (const k of ['forEach', 'forEachOrNull'] as const) if (typeof select[k] === 'string') out.push({ path: [...at, k], expression: select[k] as string });
    if (Array.isArray(select.repeat)) select.repeat.forEach((r, i) => typeof r === 'string' && out.push({ path: [...at, 'repeat', i], expression: r }));
    if (Array.isArray(select.column)) select.column.forEach((c, i) => isObject(c) && typeof c.path === 'string' && out.push({ path: [...at, 'column', i, 'path'], expression: c.path }));
  });
  return out;
}

export function viewColumns(view: unknown): ColumnAt[] {
  const out: ColumnAt[] = [];
  if (!isObject(view)) return out;
  walkSelects(view.select, ['select'], false, false, (select, at, iterated, laterBranch) => {
    if (!Array.isArray(select.column)) return;
    select.column.forEach((c, i) => {
      if (!isObject(c) || typeof c.name !== 'string') return;
      out.push({
        path: [...at, 'column', i],
        name: c.name,
        expression: typeof c.path === 'string' ? c.path : '',
        ...(typeof c.type === 'string' ? { type: c.type } : {}),
        collection: c.collection === true,
        iterated,
        laterBranch,
      });
    });
  });
  return out;
}

function walkSelects(raw: unknown, at: JsonPath, iterated: boolean, laterBranch: boolean, visit: (select: Json, at: JsonPath, iterated: boolean, laterBranch: boolean) => void): void {
  if (!Array.isArray(raw)) return;
  raw.forEach((s, i) => walkSelect(s, [...at, i], iterated, laterBranch, visit));
}

function walkSelect(s: unknown, at: JsonPath, iterated: boolean, laterBranch: boolean, visit: (select: Json, at: JsonPath, iterated: boolean, laterBranch: boolean) => void): void {
  if (!isObject(s)) return;
  const inner = iterated || s.forEach !== undefined || s.forEachOrNull !== undefined || s.repeat !== undefined;
  visit(s, at, inner, laterBranch);
  walkSelects(s.select, [...at, 'select'], inner, laterBranch, visit);
  if (Array.isArray(s.unionAll)) s.unionAll.forEach((b, j) => walkSelect(b, [...at, 'unionAll', j], inner, laterBranch || j > 0, visit));
}
