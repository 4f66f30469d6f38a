/**
 * Walks a resource (or a patch document) and replaces reference strings, copy-on-write: objects on
 * the path to a changed value are copied, everything else is shared, and the input is never mutated
 * — so a transaction that is retried after a conflict can start again from the same input.
 */
export type ReferenceVisitor = (value: string, key: 'reference' | 'url', path: PathSegment[]) => string | undefined;
export type PathSegment = string | number;

/** Keys whose string values are links that a transaction rewrites (Reference.reference, Attachment.url). */
const LINK_KEYS = new Set(['reference', 'url']);

export function mapReferences<T>(node: T, visit: ReferenceVisitor): T {
  return walk(node, visit, []) as T;
}

function walk(node: unknown, visit: ReferenceVisitor, path: PathSegment[]): unknown {
  if (Array.isArray(node)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < node.length; i++) {
      const item = node[i];
      if (typeof item !== 'object' || item === null) continue;
      path.push(i);
      const next = walk(item, visit, path);
      path.pop();
      if (next !== item) (copy ??= node.slice())[i] = next;
    }
    return copy ?? node;
  }
  if (typeof node !== 'object' || node === null) return node;
  let copy: Record<string, unknown> | undefined;
  const obj = node as Record<string, unknown>;
  for (const key in obj) {
    const value = obj[key];
    let next: unknown = value;
    if (typeof value === 'string') {
      if (LINK_KEYS.has(key)) {
        path.push(key);
        next = visit(value, key as 'reference' | 'url', path) ?? value;
        path.pop();
      }
    } else if (typeof value === 'object' && value !== null) {
      path.push(key);
      next = walk(value, visit, path);
      path.pop();
    }
    if (next !== value) (copy ??= { ...obj })[key] = next;
  }
  return copy ?? node;
}

/** `['subject', 'reference']` under `Bundle.entry[2].resource` → `Bundle.entry[2].resource.subject.reference`. */
export function pathExpression(prefix: string, path: PathSegment[]): string {
  let out = prefix;
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
  return out;
}
