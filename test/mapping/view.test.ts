import fhirpath from 'fhirpath';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileView, ViewError, type UserFunction, type ViewDefinition } from '../../gateway/mapping/view.js';

/**
 * What the mapping files need of the view engine beyond the SQL-on-FHIR suite
 * (sql-on-fhir.test.ts): compiling once, run-time variables, extra functions, precise errors.
 */

const patient = (id: string, families: string[], extra: object = {}) => ({
  resourceType: 'Patient',
  id,
  name: families.map((family) => ({ family, given: [`${family}-given`] })),
  ...extra,
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('compiling', () => {
  it('compiles each distinct expression once, however many resources the view runs on', () => {
    const compile = vi.spyOn(fhirpath, 'compile');
    const parse = vi.spyOn(fhirpath, 'parse');
    const view = compileView({
      resource: 'Patient',
      where: [{ path: 'name.exists()' }],
      select: [
        { column: [{ name: 'id', path: 'id' }, { name: 'key', path: 'id' }] },
        { forEach: 'name', column: [{ name: 'family', path: 'family' }, { name: 'again', path: 'id' }] },
      ],
    });
    // name.exists(), id, name (kept as nodes for the columns under it), family.
    expect(compile).toHaveBeenCalledTimes(4);
    expect(parse).toHaveBeenCalledTimes(4);

    expect(view.run([patient('p1', ['A'])])).toEqual([{ id: 'p1', key: 'p1', family: 'A', again: null }]);
    const many = Array.from({ length: 200 }, (_, i) => patient(`p${i}`, ['A', 'B']));
    expect(view.run(many)).toHaveLength(400);
    expect(compile).toHaveBeenCalledTimes(4);
    expect(parse).toHaveBeenCalledTimes(4);
  });

  it('describes each column with the iterations above it', () => {
    const view = compileView({
      resource: 'Patient',
      select: [
        { column: [{ name: 'id', path: 'getResourceKey()', type: 'string' }] },
        {
          forEach: 'contact',
          column: [{ name: 'contact_family', path: 'name.family' }],
          select: [{ forEachOrNull: 'telecom', column: [{ name: 'systems', path: 'system', collection: true }] }],
        },
        { repeat: ['link', 'link.other'], column: [{ name: 'linked', path: 'other.reference' }] },
      ],
    });
    expect(view.resource).toBe('Patient');
    expect(view.columns).toEqual([
      { name: 'id', path: 'getResourceKey()', type: 'string', collection: false, context: [] },
      { name: 'contact_family', path: 'name.family', collection: false, context: ['contact'] },
      { name: 'systems', path: 'system', collection: true, context: ['contact', 'telecom'] },
      { name: 'linked', path: 'other.reference', collection: false, context: ['repeat(link, link.other)'] },
    ]);
  });
});

describe('variables', () => {
  const conditions: ViewDefinition = {
    resource: 'Condition',
    where: [{ path: "encounter.reference = 'Encounter/' + %encounter.id" }],
    select: [{ column: [{ name: 'id', path: 'id' }, { name: 'admitted', path: '%encounter.period.start' }] }],
  };
  const encounter = { resourceType: 'Encounter', id: 'e1', period: { start: '2024-05-01T08:00:00+07:00' } };
  const condition = (id: string, enc: string) => ({ resourceType: 'Condition', id, subject: { reference: 'Patient/p1' }, encounter: { reference: `Encounter/${enc}` } });

  it('binds the variables given to run() as %name in every expression', () => {
    const view = compileView(conditions, { variables: ['encounter'] });
    const rows = view.run([condition('c1', 'e1'), condition('c2', 'e2'), condition('c3', 'e1')], { encounter });
    expect(rows).toEqual([
      { id: 'c1', admitted: '2024-05-01T08:00:00+07:00' },
      { id: 'c3', admitted: '2024-05-01T08:00:00+07:00' },
    ]);
  });

  it('refuses, when compiling, a %name that is neither a constant nor declared', () => {
    expect(() => compileView(conditions)).toThrow(ViewError);
    expect(() => compileView(conditions)).toThrow(/^where\[0\]: .*reads %encounter, which is neither a constant/);
    expect(() => compileView(conditions, { variables: ['patient'] })).toThrow(/%encounter/);
  });

  it('requires every declared variable when running', () => {
    const view = compileView(conditions, { variables: ['encounter'] });
    expect(() => view.run([condition('c1', 'e1')])).toThrow(/%encounter was declared to compileView\(\) but not given to run\(\)/);
  });

  it('refuses a declared variable that a constant already names', () => {
    const view = { ...conditions, constant: [{ name: 'encounter', valueString: 'x' }] };
    expect(() => compileView(view, { variables: ['encounter'] })).toThrow(/^variables: %encounter is already a constant/);
  });

  it('binds %resource and %rowIndex', () => {
    const view = compileView({
      resource: 'Patient',
      select: [{ forEach: 'name', column: [{ name: 'n', path: "%resource.id + '#' + %rowIndex.toString()" }] }],
    });
    expect(view.run([patient('p1', ['A', 'B'])])).toEqual([{ n: 'p1#0' }, { n: 'p1#1' }]);
  });
});

describe('functions', () => {
  it('calls the functions given in options, with their parameters', () => {
    const initials: UserFunction = {
      fn: (names: unknown[], separator: string) => [names.map((n) => String(n).charAt(0)).join(separator)],
      arity: { 1: ['String'] },
    };
    const view = compileView(
      { resource: 'Patient', select: [{ column: [{ name: 'initials', path: "name.family.initials('.')" }] }] },
      { functions: { initials } },
    );
    expect(view.run([patient('p1', ['Nguyen', 'Tran'])])).toEqual([{ initials: 'N.T' }]);
  });

  it("lets a function read run()'s variables through its context, as resolve() over an episode does", () => {
    const resolve: UserFunction = {
      internalStructures: true,
      fn(this: { vars: Record<string, unknown> }, references: { data: { reference?: string } }[]) {
        const index = this.vars.index as Map<string, unknown>;
        return references.map((r) => index.get(r.data.reference ?? '')).filter((r) => r !== undefined);
      },
    };
    const view = compileView(
      { resource: 'Observation', select: [{ column: [{ name: 'born', path: 'subject.resolve().birthDate' }] }] },
      { functions: { resolve } },
    );
    const index = new Map([['Patient/p1', patient('p1', [], { birthDate: '1990-02-03' })]]);
    const observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: {}, subject: { reference: 'Patient/p1' } };
    expect(view.run([observation], { index })).toEqual([{ born: '1990-02-03' }]);
  });

  it('gives resource and reference keys as Type/id, the type given as a name or a string', () => {
    const view = compileView({
      resource: 'Observation',
      select: [
        {
          column: [
            { name: 'key', path: 'getResourceKey()' },
            { name: 'patient', path: 'subject.getReferenceKey(Patient)' },
            { name: 'quoted', path: "subject.getReferenceKey('Patient')" },
            { name: 'group', path: 'subject.getReferenceKey(Group)' },
          ],
        },
      ],
    });
    const observation = (id: string, reference: string) => ({ resourceType: 'Observation', id, subject: { reference } });
    expect(view.run([observation('o1', 'Patient/p1'), observation('o2', 'urn:uuid:0b7c3c1e-1111-4c4c-9d9d-222222222222')])).toEqual([
      { key: 'Observation/o1', patient: 'Patient/p1', quoted: 'Patient/p1', group: null },
      { key: 'Observation/o2', patient: null, quoted: null, group: null },
    ]);
  });

  it('never lets trace() print: its values are health data', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const view = compileView({ resource: 'Patient', select: [{ column: [{ name: 'f', path: "name.trace('names').family.first()" }] }] });
    expect(view.run([patient('p1', ['A'])])).toEqual([{ f: 'A' }]);
    expect(log).not.toHaveBeenCalled();
  });
});

describe('rows', () => {
  const view = compileView({
    resource: 'Patient',
    select: [{ column: [{ name: 'id', path: 'id' }] }, { forEach: 'name', column: [{ name: 'family', path: 'family' }] }],
  });

  it('pairs each row with the resource it came from', () => {
    const p1 = patient('p1', ['A', 'B']);
    const p2 = patient('p2', ['C']);
    const rows = view.runWithSource([p1, { resourceType: 'Observation', id: 'o1' }, p2]);
    expect(rows.map((r) => r.row)).toEqual([
      { id: 'p1', family: 'A' },
      { id: 'p1', family: 'B' },
      { id: 'p2', family: 'C' },
    ]);
    expect(rows.map((r) => r.resource)).toEqual([p1, p1, p2]);
    expect(rows[0].resource).toBe(p1);
    expect(rows[2].resource).toBe(p2);
  });

  it('holds plain copies of complex values, not parts of the input', () => {
    const p1 = patient('p1', ['A']);
    const [row] = compileView({ resource: 'Patient', select: [{ column: [{ name: 'names', path: 'name', collection: true }] }] }).run([p1]);
    expect(row.names).toEqual(p1.name);
    expect((row.names as unknown[])[0]).not.toBe(p1.name[0]);
    expect(JSON.stringify(row.names)).toBe(JSON.stringify(p1.name));
  });
});

describe('errors name the place in the view', () => {
  const column = (path: string) => ({ column: [{ name: 'c', path }] });
  const bad: [string, unknown, RegExp][] = [
    ['no resource', { select: [column('id')] }, /^resource: is required/],
    ['an unknown resource type', { resource: 'Patinet', select: [column('id')] }, /^resource: Patinet is not an R4 resource type/],
    ['no select', { resource: 'Patient' }, /^select: is required/],
    ['a misspelt property', { resource: 'Patient', select: [{ colum: [] }] }, /^select\[0\]: has an unknown property "colum"/],
    ['a nested syntax error', { resource: 'Patient', select: [column('id'), { select: [{ column: [{ name: 'x', path: 'name.where(' }] }] }] }, /^select\[1\]\.select\[0\]\.column\[0\] \(name: x\): "name\.where\(" is not valid FHIRPath/],
    ['a path that is not a string', { resource: 'Patient', select: [{ forEach: 1 }] }, /^select\[0\]\.forEach: needs a FHIRPath expression/],
    ['two iterations in one select', { resource: 'Patient', select: [{ forEach: 'name', repeat: ['link'], ...column('id') }] }, /^select\[0\]: has both forEach and repeat/],
    ['a bad column name', { resource: 'Patient', select: [{ column: [{ name: 'MA LK', path: 'id' }] }] }, /^select\[0\]\.column\[0\] \(name: MA LK\): needs a name of letters/],
    ['a column defined twice', { resource: 'Patient', select: [{ column: [{ name: 'MA_LK', path: 'id' }] }, { column: [{ name: 'MA_LK', path: 'id' }] }] }, /^select\[1\]\.column\[0\] \(name: MA_LK\): column MA_LK is already defined/],
    ['union branches that differ', { resource: 'Patient', select: [{ unionAll: [column('id'), { column: [{ name: 'd', path: 'id' }] }] }] }, /^select\[0\]\.unionAll\[1\]: has columns \(d\) but unionAll\[0\] has \(c\)/],
    ['a where of a type other than boolean', { resource: 'Patient', where: [{ path: 'name.family' }], select: [column('id')] }, /^where\[0\]: must be true or false, but name\.family is a string/],
    ['a constant without a value', { resource: 'Patient', constant: [{ name: 'k' }], select: [column('%k')] }, /^constant\[0\] \(name: k\): has no value\[x\]/],
    ['a constant of a complex type', { resource: 'Patient', constant: [{ name: 'k', valueCoding: {} }], select: [column('%k')] }, /^constant\[0\] \(name: k\): valueCoding is not a type a constant may have/],
    ['a constant whose value does not fit its type', { resource: 'Patient', constant: [{ name: 'k', valueInteger: '1' }], select: [column('%k')] }, /^constant\[0\] \(name: k\): valueInteger needs a JSON integer, got "1"/],
  ];
  it.each(bad)('compiling: %s', (_, view, message) => {
    expect(() => compileView(view as ViewDefinition)).toThrow(ViewError);
    expect(() => compileView(view as ViewDefinition)).toThrow(message);
  });

  it('running: a column with more values than one, naming the column and the resource', () => {
    const view = compileView({ resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }] }, { column: [{ name: 'HO_TEN', path: 'name.family' }] }] });
    expect(view.run([patient('p1', ['A'])])).toEqual([{ id: 'p1', HO_TEN: 'A' }]);
    expect(() => view.run([patient('p2', ['A', 'B'])])).toThrow(/^select\[1\]\.column\[0\] \(name: HO_TEN\): gave 2 values for one row; .* \(in Patient\/p2\)$/);
  });

  it('running: a where that gives something other than true or false, without the value', () => {
    const view = compileView({ resource: 'Patient', where: [{ path: 'deceased' }], select: [{ column: [{ name: 'id', path: 'id' }] }] });
    expect(view.run([patient('p1', [], { deceasedBoolean: true }), patient('p2', [])])).toEqual([{ id: 'p1' }]);
    const error = (() => {
      try {
        view.run([patient('p3', [], { deceasedDateTime: '2020-01-01' })]);
      } catch (e) {
        return e as ViewError;
      }
    })();
    expect(error).toBeInstanceOf(ViewError);
    expect(error?.location).toBe('where[0]');
    expect(error?.message).toBe('where[0]: must be true or false, but gave a string (in Patient/p3)');
  });

  it("running: fhirpath.js's own errors, with the column and the resource", () => {
    const view = compileView({ resource: 'Patient', select: [{ column: [{ name: 'x', path: 'name.nosuchfunction()' }] }] });
    expect(() => view.run([patient('p1', ['A'])])).toThrow(/^select\[0\]\.column\[0\] \(name: x\): Not implemented: nosuchfunction \(in Patient\/p1\)$/);
  });
});
