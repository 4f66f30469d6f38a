type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Copies of a value with one element (up to `depth` names deep) removed — the inputs on which a
 * fast path and its reference implementation must still agree. `resourceType` always stays; with
 * `keepId`, so does the root's `id` (a resource the caller finds by id).
 */
export function mutants<T>(value: T, depth: number, { keepId = false } = {}): T[] {
  const out: T[] = [];
  const visit = (node: unknown, path: (string | number)[]) => {
    if (path.filter((p) => typeof p === 'string').length >= depth) return;
    if (Array.isArray(node)) node.forEach((x, i) => visit(x, [...path, i]));
    else if (isObj(node)) {
      for (const key of Object.keys(node)) {
        if (key === 'resourceType' || (keepId && key === 'id' && path.length === 0)) continue;
        const copy = structuredClone(value);
        let parent: unknown = copy;
        for (const p of path) parent = (parent as Record<string | number, unknown>)[p];
        delete (parent as Obj)[key];
        out.push(copy);
        visit(node[key], [...path, key]);
      }
    }
  };
  visit(value, []);
  return out;
}
