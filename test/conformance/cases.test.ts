import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCase, buildCaseBook, CASES_DIR, compareCase, compareCaseBook, loadCases } from '../../conformance/cases.js';

/**
 * Mapping tests are data: each folder of conformance/cases is a case (no code to add one), with its
 * expected tables and, in expected/healthbook.json, the health book its patient must see. A case
 * that fails says what differs, `-want +got`, per table, row and field.
 */
describe('golden cases as data', () => {
  it('every case has an expected health book, and the engine gives it', async () => {
    const cases = loadCases();
    expect(cases.length).toBeGreaterThan(5);
    for (const c of cases) {
      expect(c.expectedBook, c.name).toBeDefined();
      expect(compareCaseBook(c, await buildCaseBook(c)), c.name).toEqual([]);
    }
  });

  it('an HIV episode stays out of the book: the expectation says so', () => {
    const hiv = loadCases().find((c) => c.name === 'hiv-tb')!;
    expect(hiv.expectedBook!.sections['dot-kham']).toEqual([]);
    expect(hiv.expectedBook!.sections['hanh-chinh']).toHaveLength(1);
  });

  it('a case added as a folder runs, and a wrong expectation prints -want +got per table, row and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cases-'));
    try {
      cpSync(join(CASES_DIR, 'outpatient-visit'), join(dir, 'changed'), { recursive: true });
      const expected = join(dir, 'changed', 'expected');
      const xml2 = readFileSync(join(expected, 'XML2.xml'), 'utf8');
      writeFileSync(join(expected, 'XML2.xml'), xml2.replace(/<DON_VI_TINH>([^<]*)<\/DON_VI_TINH>/, '<DON_VI_TINH>Hộp</DON_VI_TINH>'));
      const unit = /<DON_VI_TINH>([^<]*)<\/DON_VI_TINH>/.exec(xml2)![1];
      const book = JSON.parse(readFileSync(join(expected, 'healthbook.json'), 'utf8'));
      const drug = book.sections.thuoc[0].TEN_THUOC as string;
      book.sections.thuoc[0].TEN_THUOC = 'Thuốc khác';
      writeFileSync(join(expected, 'healthbook.json'), JSON.stringify(book));

      const [c] = loadCases(dir);
      expect(c.name).toBe('changed');
      expect(compareCase(c, await buildCase(c))).toEqual([`XML2 row 1 DON_VI_TINH: -"Hộp" +${JSON.stringify(unit)}`, 'envelope: NOIDUNGFILE of XML2 is not the expected document']);
      expect(compareCaseBook(c, await buildCaseBook(c))).toEqual([`book thuoc row 1 TEN_THUOC: -"Thuốc khác" +${JSON.stringify(drug)}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
