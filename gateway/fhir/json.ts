import { badRequest } from './outcome.js';

/** Keys that could reach an object's prototype when code later merges or copies the value. */
const HOSTILE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request body. Malformed JSON, nesting deeper than any FHIR resource needs, and keys that
 * could pollute prototypes are refused with a 400 naming where the problem is.
 */
export function parseJsonBody(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest({ vi: `JSON sai cú pháp: ${(e as Error).message}`, en: `Malformed JSON: ${(e as Error).message}` });
  }
  // Iterative, so that a hostile nesting cannot overflow the stack.
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= maxDepth) throw badRequest({ vi: `JSON lồng sâu quá ${maxDepth} cấp`, en: `JSON nested deeper than ${maxDepth} levels` }, locate(value, (_, d, v) => d >= maxDepth && typeof v === 'object' && v !== null));
    if (Array.isArray(node)) {
      for (const item of node) if (typeof item === 'object' && item !== null) stack.push([item, depth + 1]);
      continue;
    }
    for (const key of Object.keys(node)) {
      if (HOSTILE_KEYS.has(key)) throw badRequest({ vi: `Không cho phép thuộc tính "${key}" trong JSON FHIR`, en: `Property "${key}" is not allowed in FHIR JSON` }, locate(value, (k) => typeof k === 'string' && HOSTILE_KEYS.has(k)));
      const child = (node as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return value;
}

/**
 * The path (FHIRPath style) of the first property or array item matching `test` (given its key or
 * index, depth and value); only run once a problem is known.
 */
function locate(root: unknown, test: (key: string | number, depth: number, value: unknown) => boolean): string | undefined {
  const start = typeof root === 'object' && root !== null && 'resourceType' in root ? String((root as { resourceType: unknown }).resourceType) : 'body';
  const stack: [unknown, string, number][] = [[root, start, 0]];
  while (stack.length > 0) {
    const [node, path, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    // Array items are tested too: arrays nested in arrays (`[[[…]]]`) have no key that could name the spot.
    const children: [string | number, string, unknown][] = Array.isArray(node)
      ? node.map((item, i) => [i, `${path}[${i}]`, item])
      : Object.keys(node).map((key) => [key, `${path}.${key}`, (node as Record<string, unknown>)[key]]);
    for (const [key, childPath, child] of children) {
      if (test(key, depth + 1, child)) return childPath;
      stack.push([child, childPath, depth + 1]);
    }
  }
  return undefined;
}
