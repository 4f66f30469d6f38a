import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { compileFast, isFallBack } from './fast-fhirpath.js';

/** A compiled FHIRPath expression: call it with a node (and optional %variables). */
export type CompiledPath = (node: unknown, variables?: Record<string, unknown>) => unknown[];

const cache = new Map<string, CompiledPath>();

/** `trace()` in an expression must never print: it would put health data on stdout. */
const silent = () => {};

/**
 * Compiles once per distinct expression, always with the R4 model (without it choice types and
 * `extension()` silently yield nothing). `base` is the path of the node the expression is evaluated
 * on (`Patient.contact`), so that the model knows its type; omit it for a whole resource.
 * Throws on a syntax error, which callers report with context.
 */
export function compilePath(expression: string, base?: string): CompiledPath {
  const key = base ? `${base}\u0000${expression}` : expression;
  let compiled = cache.get(key);
  if (!compiled) {
    const fn = fhirpath.compile(base ? { base, expression } : expression, r4Model, { traceFn: silent });
    compiled = (node, variables) => fn(node as object, variables as never) as unknown[];
    cache.set(key, compiled);
  }
  return compiled;
}

const fastCache = new Map<string, CompiledPath>();

/**
 * compilePath() for expressions over plain data (the rows of the XML tables, the claim rules over
 * them): the fast path (fast-fhirpath.ts: closures over the JSON, ~0.5 µs where fhirpath.js takes
 * ~10–30 µs per evaluation) when the expression compiles there, fhirpath.js otherwise — and for any
 * input the fast path hands back. Results are plain values either way. Not for paths whose typing
 * matters beyond what the fast path knows from the data itself: use compilePath() with a `base`.
 */
export function compilePathFast(expression: string): CompiledPath {
  let compiled = fastCache.get(expression);
  if (!compiled) {
    const slow = compilePath(expression);
    // Rows are untyped: a date-like string is text, as fhirpath.js sees it without a model type.
    const { path } = compileFast(expression, { untyped: true });
    compiled = path
      ? (node, variables) => {
          try {
            return path.values(node, variables);
          } catch (e) {
            if (isFallBack(e)) return slow(node, variables);
            throw e;
          }
        }
      : slow;
    fastCache.set(expression, compiled);
  }
  return compiled;
}
