import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { describe, expect, it } from 'vitest';
import { loadR4Definitions } from '../../gateway/fhir/definitions.js';
import { compileFast, compileFastCheck, FALL_BACK, fallBackReason, isFallBack, type FastFunctionEntry } from '../../gateway/fhir/fast-fhirpath.js';
import { compilePath } from '../../gateway/fhir/fhirpath.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { ProfileRegistry } from '../../gateway/validation/registry.js';
import { mutants } from '../support/mutants.js';

/**
 * The fast path must be FHIRPath as fhirpath.js evaluates it: for every invariant of every profile the
 * gateway uses, on every node of the example bundles and of thousands of mutants of them (each with
 * one element removed), the closures and fhirpath.js must give the same collection — unless the
 * closure falls back (then the caller asks fhirpath.js anyway). Where fhirpath.js raises an error,
 * the closure must fall back rather than answer.
 */

type Obj = Record<string, unknown>;
/** fhirpath.js, synchronously (no async functions are used here). */
const evaluate = (node: unknown, expression: string | { base: string; expression: string }, vars?: Obj): unknown[] =>
  fhirpath.evaluate(node as object, expression, vars as never, r4Model) as unknown[];
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const EXAMPLES = ['outpatient-visit.json', 'inpatient-stay.json', 'no-bhyt-patient.json', 'newborn-twins.json'];
const resources: Resource[] = EXAMPLES.flatMap((f) =>
  ((JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', f), 'utf8')) as Bundle).entry ?? []).map((e) => e.resource!),
);

/** Extension objects anywhere in a resource. */
function extensions(node: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(node)) for (const x of node) extensions(x, out);
  else if (isObj(node)) {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'extension' || key === 'modifierExtension') && Array.isArray(value)) out.push(...value.filter(isObj));
      extensions(value, out);
    }
  }
  return out;
}

const registry = new ProfileRegistry();
const corpus = resources.flatMap((r) => [r, ...mutants(r, 3)]);

type Placed = { node: unknown; resource: Resource };

/**
 * Values of a type in the corpus: resources and their mutants; datatypes and extensions (by URL)
 * found in the examples, and their mutants.
 */
const rootsByType = new Map<string, Placed[]>();
function rootsOf(sd: StructureDefinition): Placed[] {
  const key = sd.type === 'Extension' && sd.derivation === 'constraint' ? sd.url : sd.type!;
  let roots = rootsByType.get(key);
  if (roots) return roots;
  roots = [];
  if (sd.kind === 'resource') {
    for (const resource of corpus) if (resource.resourceType === sd.type) roots.push({ node: resource, resource });
  } else {
    for (const resource of resources) {
      const found: unknown[] =
        sd.type === 'Extension'
          ? extensions(resource).filter((e) => key === 'Extension' || e.url === key)
          : evaluate(resource, `descendants().ofType(${sd.type})`);
      for (const node of found) for (const variant of [node, ...mutants(node, 2)]) roots.push({ node: variant, resource });
    }
  }
  rootsByType.set(key, roots);
  return roots;
}

/** Identities of resources, for telling placements apart when an expression reads %resource. */
const resourceIds = new Map<object, number>();
const resourceId = (r: object) => {
  let id = resourceIds.get(r);
  if (id === undefined) resourceIds.set(r, (id = resourceIds.size));
  return id;
};

/**
 * The distinct nodes a constraint on `path` of `sd` applies to, each with a resource it is in: equal
 * nodes give equal answers unless the expression reads %resource, so they are compared once.
 */
function nodesFor(sd: StructureDefinition, path: string, readsResource: boolean): Placed[] {
  const rest = path.split('.').slice(1).join('.').replace(/\[x\]/g, '');
  const placed = rest
    ? rootsOf(sd).flatMap(({ node, resource }) => evaluate(node, rest).map((n) => ({ node: n, resource })))
    : rootsOf(sd);
  const distinct = new Map<string, Placed>();
  for (const p of placed) distinct.set(JSON.stringify(p.node) + (readsResource ? `@${resourceId(p.resource)}` : ''), p);
  return [...distinct.values()];
}

const definitionsInUse = (): StructureDefinition[] => {
  const types = new Set(resources.map((r) => r.resourceType));
  const core = [...loadR4Definitions().values()].filter((sd) => sd.kind !== 'logical' && (sd.kind !== 'resource' || types.has(sd.type as never)));
  return [...core, ...registry.ownDefinitions()];
};

/** fhirpath.js's answer as plain JSON, or 'error'. */
function slowAnswer(expression: string, base: string | undefined, node: unknown, vars: Obj): unknown {
  try {
    return JSON.parse(JSON.stringify(base ? compilePath(expression, base)(node, vars) : evaluate(node, expression, vars)));
  } catch {
    return 'error';
  }
}

/** The fast path's answer as plain JSON, or FALL_BACK. */
function fastAnswer(expression: string, node: unknown, vars: Obj, functions?: Record<string, FastFunctionEntry>): unknown {
  const { path } = compileFast(expression, { functions });
  try {
    return JSON.parse(JSON.stringify(path!.values(node, vars)));
  } catch (e) {
    if (isFallBack(e)) return FALL_BACK;
    throw e;
  }
}

describe('the fast FHIRPath compiler', () => {
  it('agrees with fhirpath.js on every invariant, on the examples and their mutants', () => {
    let compared = 0;
    let fellBack = 0;
    const reasons = new Map<string, number>();
    const compiledKeys = new Set<string>();
    const totalKeys = new Set<string>();
    const declined = new Map<string, string>();
    const disagreements: string[] = [];
    for (const sd of definitionsInUse()) {
      for (const el of sd.snapshot?.element ?? []) {
        for (const c of el.constraint ?? []) {
          if (!c.expression || c.key === 'ele-1') continue;
          totalKeys.add(c.expression);
          const compiled = compileFast(c.expression);
          if (!compiled.path) {
            declined.set(c.expression, compiled.declined);
            continue;
          }
          compiledKeys.add(c.expression);
          const check = compileFastCheck(c.expression)!;
          for (const { node, resource } of nodesFor(sd, el.path!, compiled.path.readsResource)) {
            const vars = { resource, rootResource: resource };
            const expected = slowAnswer(c.expression, el.path!, node, vars);
            const actual = fastAnswer(c.expression, node, vars);
            if (actual === FALL_BACK) {
              fellBack++;
              try { compileFast(c.expression).path!.values(node, vars); } catch (e) { reasons.set(`${c.key}: ${fallBackReason(e)}`, (reasons.get(`${c.key}: ${fallBackReason(e)}`) ?? 0) + 1); }
              expect(check(node, vars)).toBe(FALL_BACK);
              continue;
            }
            compared++;
            if (!isDeepStrictEqual(actual, expected) && disagreements.length < 20) {
              disagreements.push(`${sd.url} ${c.key} on ${JSON.stringify(node).slice(0, 160)}: fast ${JSON.stringify(actual)}, fhirpath ${JSON.stringify(expected)}`);
            }
            // The boolean wrapper the validator uses says the same.
            const b = check(node, vars);
            const want = Array.isArray(expected) && expected.length === 1 && typeof expected[0] === 'boolean' ? expected[0] : Array.isArray(expected) && expected.length === 0 ? undefined : FALL_BACK;
            if (b !== want && disagreements.length < 20) disagreements.push(`${c.key} check: ${String(b)} vs ${String(want)}`);
          }
        }
      }
    }
    console.log('STATS', [...reasons], { compared, fellBack, compiled: compiledKeys.size, total: totalKeys.size }, [...declined].map(([e, r]) => `${r} :: ${e}`).join('\n'));
    expect(disagreements).toEqual([]);
    // The comparison must actually have exercised the fast path, or it proves nothing.
    expect(compared).toBeGreaterThan(20_000);
    expect(fellBack).toBeLessThan(compared / 20);
    expect(compiledKeys.size / totalKeys.size).toBeGreaterThan(0.85);
  });
});

/** Both engines on a node (as an Extension by default, so that `valueCode` is `value`): the same collection. */
function same(expression: string, node: unknown, base = 'Extension', vars: Obj = {}): unknown[] {
  const { path, declined } = compileFast(expression);
  expect(declined, expression).toBeUndefined();
  const fast = path!.values(node, vars);
  const slow = evaluate(node, { base, expression }, vars);
  expect(JSON.parse(JSON.stringify(fast)), `${expression} on ${JSON.stringify(node)}`).toEqual(JSON.parse(JSON.stringify(slow)));
  return fast;
}

describe('FHIRPath semantics the corpora exercise little', () => {
  it('propagates empty collections through operators and functions', () => {
    expect(same('a + b', { a: 1 })).toEqual([]);
    expect(same("a + 'x'", {})).toEqual([]);
    expect(same("'x' + a", {})).toEqual([]);
    expect(same('a = b', { a: 1 })).toEqual([]);
    expect(same('a != b', { b: 1 })).toEqual([]);
    expect(same('a < 2', {})).toEqual([]);
    expect(same('a - 1', {})).toEqual([]);
    expect(same('a.not()', {})).toEqual([]);
    expect(same('a.first()', {})).toEqual([]);
    expect(same("a.substring(1)", {})).toEqual([]);
    expect(same("a.matches('x')", {})).toEqual([]);
    expect(same('a in b', { b: [1] })).toEqual([]);
    expect(same('a in b', { a: 1 })).toEqual([false]);
    expect(same('b contains a', { a: 1 })).toEqual([false]);
  });

  it('concatenates strings with +, and & treats empty as empty text', () => {
    expect(same("a + '-' + b", { a: 'x', b: 'y' })).toEqual(['x-y']);
    expect(same("a + '-' + b", { a: 'x' })).toEqual([]);
    expect(same("a & '-' & b", { a: 'x' })).toEqual(['x-']);
    expect(same('a + b', { a: 1.5, b: 2 })).toEqual([3.5]);
  });

  it('keeps three-valued logic, evaluating both operands', () => {
    const cases: [string, unknown][] = [
      ['a.exists() and b.exists()', { a: 1 }],
      ['a = 1 and b = 2', { a: 1 }],
      ['a = 1 and b = 2', { a: 2 }],
      ['a = 1 or b = 2', { b: 3 }],
      ['a = 1 or b = 2', { a: 2 }],
      ['a = 1 or b = 2', { a: 1 }],
      ['a = 1 implies b.exists()', {}],
      ['a = 1 implies b.exists()', { a: 1 }],
      ['a = 1 implies b = 1', { a: 2 }],
      ['a = 1 xor b = 1', { a: 1 }],
      ['a = 1 xor b = 1', { a: 1, b: 2 }],
      ['(a = 1).not()', {}],
      // A lone non-boolean is true to the logical operators (singleton evaluation).
      ["a and b = 'x'", { a: 'text', b: 'x' }],
      ['a.not()', { a: 'text' }],
      ["a.where(b = 'x').count() <= 1", { a: [{ b: 'x' }, { b: 'x' }] }],
      ["value.exists() implies value.matches('^[0-9]{12}$')", { valueString: '001099012345' }],
      ["extension('u').value = 'a'", { extension: [{ url: 'u', valueString: 'a' }] }],
      ["extension('u').exists() != value.exists()", { extension: [{ url: 'u' }], valueCode: 'x' }],
    ];
    for (const [expression, node] of cases) same(expression, node);
    expect(same('a = 1 and b = 2', { a: 2 })).toEqual([false]);
    expect(same('a = 1 or b = 2', { a: 2 })).toEqual([]);
    expect(same('a = 1 implies b = 1', { a: 2 })).toEqual([true]);
  });

  it('distinguishes union (distinct) from combine (all)', () => {
    expect(same('a | b', { a: [1, 2], b: [2, 3] })).toEqual([1, 2, 3]);
    expect(same('a.combine(b)', { a: [1, 2], b: [2, 3] })).toEqual([1, 2, 2, 3]);
    expect(same("('x' | 'x' | 'y')", {})).toEqual(['x', 'y']);
    expect(same("a.combine(b).distinct()", { a: ['x', 'y'], b: ['x'] })).toEqual(['x', 'y']);
    expect(same("a in ('01' | '07')", { a: '07' })).toEqual([true]);
    expect(same('a.union(b)', { a: [1], b: [1.0, 2] })).toEqual([1, 2]);
  });

  it('aggregates: the initial value for no input, nothing without one', () => {
    expect(same('a.aggregate($total + $this, 0)', {})).toEqual([0]);
    expect(same('a.aggregate($total + $this)', {})).toEqual([]);
    expect(same('a.aggregate($total + $this, 0)', { a: [1.1, 2.2, 3.3] })).toEqual([1.1 + 2.2 + 3.3]);
    expect(same('a.aggregate($total + $this, 0).round(2)', { a: [1.005, 2] })).toEqual([3.01]);
    expect(same('a.aggregate(iif($total.empty(), $this, iif($this > $total, $this, $total)))', { a: [3, 9, 4] })).toEqual([9]);
  });

  it('compares numbers to 8 decimals, strings as text, and leaves dates to fhirpath.js', () => {
    expect(same('a.aggregate($total + $this, 0) = 0.6', { a: [0.1, 0.2, 0.3] })).toEqual([true]);
    expect(same("a >= b", { a: '202401011200', b: '202401011159' })).toEqual([true]);
    const { path } = compileFast('start <= end');
    expect(() => path!.values({ start: '2024-01-01', end: '2024-01-02T10:00:00+07:00' })).toThrow();
    expect(fallBackReason(catchIt(() => path!.values({ start: '2024-01-01', end: '2024-01-02' })))).toMatch(/dates/);
  });

  it('reads choice elements, their types, and primitives with extensions', () => {
    same('value.ofType(Quantity).value', { valueQuantity: { value: 5, unit: 'mg' } });
    same('value.ofType(string)', { valueCode: 'x' });
    same('value.ofType(Quantity)', { valueAge: { value: 5 } });
    same("value.select(iif($this is Coding, code, $this))", { valueCoding: { code: 'c' } });
    same("value.select(iif($this is Coding, code, $this))", { valueString: 's' });
    same('effective.ofType(Period).start', { resourceType: 'Observation', effectivePeriod: { start: '2024-01-01' } }, 'Observation');
    const patient = { resourceType: 'Patient', birthDate: '2024-01-01', _birthDate: { extension: [{ url: 'bt', valueDateTime: '2024-01-01T10:00:00+07:00' }] } };
    expect(same("birthDate.extension('bt').value", patient, 'Patient')).toEqual(['2024-01-01T10:00:00+07:00']);
    expect(same('birthDate', patient, 'Patient')).toEqual(['2024-01-01']);
    same("name.given.extension('x').value", { resourceType: 'Patient', name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'x', valueString: 'b' }] }] }] }, 'Patient');
  });

  it('scopes $this, $index and defineVariable as fhirpath.js does', () => {
    same('a.select($this.b + $index)', { a: [{ b: 10 }, { b: 20 }] });
    same("a.split(';').all($this = %context.b.split(';')[$index])", { a: 'x;y', b: 'x;y' });
    same("defineVariable('v', a).select(%v.count())", { a: [1, 2] });
    same('a.where(b > 1).select(c)', { a: [{ b: 1, c: 'x' }, { b: 2, c: 'y' }] });
    same('a.sort(b).c', { a: [{ b: 'z', c: 1 }, { c: 2 }, { b: 'a', c: 3 }] });
    same('a.sort(b desc).c', { a: [{ b: 2, c: 1 }, { b: 5, c: 2 }, { b: 3, c: 3 }] });
  });

  it('calls the functions callers add, with their arguments evaluated', () => {
    const functions: Record<string, FastFunctionEntry> = {
      twice: { fast: (inputs, [times]) => inputs.flatMap((x) => Array(Number(times[0] ?? 2)).fill(x)), arity: { 0: [], 1: ['Integer'] } },
      noFast: {},
    };
    expect(compileFast('a.twice(3)', { functions }).path!.values({ a: 'x' })).toEqual(['x', 'x', 'x']);
    expect(compileFast('a.noFast()', { functions }).declined).toMatch(/no fast implementation/);
  });

  it('declines what it does not know rather than guess', () => {
    for (const expression of ['today()', 'a.descendants()', "a.as(System.String)", 'a = @2024-01-01', "a + 1 'mg'", 'htmlChecks()', '1.0 + a', 'a.resolve()', '$index']) {
      expect(compileFast(expression).declined, expression).toBeDefined();
    }
    const coding = compileFastCheck('a = b')!;
    expect(coding({ a: { code: 'x' }, b: { code: 'x' } })).toBe(FALL_BACK);
  });
});

function catchIt(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}
