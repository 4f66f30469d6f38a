import { describe, expect, it } from 'vitest';
import { buildCase, compareCase, loadCases } from '../../conformance/cases.js';

/**
 * The golden cases of conformance/cases, as `npm run conformance` runs them: each claim file must be
 * free of errors and produce exactly the expected documents (a failure lists table, row and field,
 * want vs got).
 */
const cases = loadCases();

describe('golden claim files', () => {
  it('there are golden cases to check', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.description}`, async () => {
      expect(compareCase(c, await buildCase(c))).toEqual([]);
    });
  }
});
