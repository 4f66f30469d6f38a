import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatFinding, lintFolders } from '../../gateway/tools/lint/lint.js';
import { MAPPINGS_DIR, PROFILES_DIR, PROJECT_ROOT } from '../../gateway/paths.js';

/**
 * The mapping linter over the repository (no error: it runs in `npm test`), and over copies of
 * mappings/ and profiles/ broken one way at a time: each problem is reported at its file, line and
 * column, where an editor jumps.
 */
describe('the mapping linter on the repository', () => {
  it('finds no error in mappings/ and profiles/', () => {
    expect(lintFolders().filter((f) => f.severity === 'error').map(formatFinding)).toEqual([]);
  });

  it('warns about optional fields no column fills, and not about the ones the engine fills', () => {
    const warnings = lintFolders().filter((f) => f.severity === 'warning');
    expect(warnings.map((w) => w.message)).toContain('field VI_TRI_TH_DVKT of XML3 is optional and no column fills it (profiles/qd4750/4750/XML3.yaml)');
    expect(warnings.some((w) => /field (STT|THANH_TIEN_BV|T_BHTT|DU_PHONG) /.test(w.message))).toBe(false);
  });
});

describe('the mapping linter on broken files', () => {
  let dir: string;
  let folders: { mappings: string; profiles: string };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lint-'));
    folders = { mappings: join(dir, 'mappings'), profiles: join(dir, 'profiles') };
    cpSync(MAPPINGS_DIR, folders.mappings, { recursive: true });
    cpSync(join(PROFILES_DIR, 'qd4750'), join(folders.profiles, 'qd4750'), { recursive: true });
    cpSync(join(PROFILES_DIR, 'fhir'), join(folders.profiles, 'fhir'), { recursive: true });
    cpSync(join(PROFILES_DIR, 'catalogues'), join(folders.profiles, 'catalogues'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Replaces `from` in a file; answers the 1-based line and column where `to` starts. */
  function edit(file: string, from: string, to: string): { line: number; column: number } {
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf(from);
    expect(at, `${from} in ${file}`).toBeGreaterThanOrEqual(0);
    writeFileSync(file, text.slice(0, at) + to + text.slice(at + from.length));
    const before = text.slice(0, at).split('\n');
    return { line: before.length, column: before.at(-1)!.length + 1 };
  }
  const errors = () => lintFolders(folders).filter((f) => f.severity === 'error');
  const at = (file: string, p: { line: number; column: number }, offset = 0) => `${file}:${p.line}:${p.column + offset}`;
  const xml1 = () => join(folders.mappings, 'XML1.json');
  const shown = (file: string) => file;

  it('a FHIRPath syntax error, at its character', () => {
    const p = edit(xml1(), `"%patient.name.first().select(iif(text.exists(), text, family.combine(given).join(' ')))"`, `"%patient.name.first(.text"`);
    const [finding] = errors();
    // The parser stops at character 20 of the expression, after the opening quote.
    expect(formatFinding(finding)).toMatch(new RegExp(`^${at(shown(xml1()), p, 1 + 20)}: error: FHIRPath syntax error: extraneous input`));
    expect(p.line).toBe(31);
  });

  it('a column that is not a field of the table, and the required field it leaves empty', () => {
    const p = edit(xml1(), '"name": "HO_TEN"', '"name": "HO_TEN_X"');
    const found = errors().map(formatFinding);
    expect(found).toContain(`${at(xml1(), p, 8)}: error: column HO_TEN_X is not a field of XML1 (${join(folders.profiles, 'qd4750', '4750', 'XML1.yaml')})`);
    expect(found.some((f) => f.startsWith(`${xml1()}:26:3: error: field HO_TEN of XML1 is required and no column fills it`))).toBe(true);
  });

  it('a value whose type the field cannot hold', () => {
    const p = edit(xml1(), `"reasonCode.select(iif(text.exists(), text, coding.display.first())).join('; ')"`, '"reasonCode"');
    expect(errors().map(formatFinding)).toEqual([`${at(xml1(), p)}: error: column LY_DO_VV: a CodeableConcept cannot be written in LY_DO_VV (string); select one of its elements (${join(folders.profiles, 'qd4750', '4750', 'XML1.yaml')})`]);
  });

  it('an unknown code system, in a mapping and in a table definition', () => {
    const p = edit(xml1(), `"type.coding.where(system = %cs + 'loai-kcb').code.first()"`, `"type.coding.where(system = %cs + 'loai-kcbx').code.first()"`);
    const yaml = join(folders.profiles, 'qd4750', '4750', 'XML1.yaml');
    const q = edit(yaml, 'codes: loai-kcb', 'codes: khong-co');
    expect(errors().map(formatFinding)).toEqual([
      `${at(xml1(), p, 1 + 'type.coding.where(system = '.length)}: error: unknown code system https://healthbook-gateway.vn/fhir/CodeSystem/loai-kcbx (%cs + 'loai-kcbx')`,
      `${at(yaml, q, 'codes: '.length)}: error: field MA_LOAI_KCB: unknown code system khong-co (no profiles/fhir/CodeSystem-khong-co.json)`,
    ].sort());
  });

  it('JSON and YAML syntax errors', () => {
    const xml2 = join(folders.mappings, 'XML2.json');
    const p = edit(xml2, '"resource": "ChargeItem",', '"resource": "ChargeItem",,');
    const yaml = join(folders.profiles, 'qd4750', '4750', 'XML4.yaml');
    edit(yaml, 'table: XML4', 'table: [XML4');
    const found = errors().map(formatFinding);
    expect(found).toContain(`${at(xml2, p, '"resource": "ChargeItem",'.length)}: error: JSON: ValueExpected`);
    expect(found.some((f) => f.startsWith(`${yaml}:`) && /error: YAML: /.test(f))).toBe(true);
  });

  it('a book section showing a column none of its views has', () => {
    const book = join(folders.mappings, 'healthbook', 'book.json');
    const text = readFileSync(book, 'utf8');
    const name = '"name": "MA_THE_BHYT"';
    const p = edit(book, name, '"name": "MA_THE"');
    expect(text.split(name).length).toBe(2);
    expect(errors().map(formatFinding)).toEqual([`${at(book, p, 8)}: error: section the-bhyt shows column MA_THE, which none of its views (cards) has`]);
  });

  it('the command prints file:line:column lines and fails on an error', () => {
    edit(xml1(), '"name": "HO_TEN"', '"name": "HO_TEN_X"');
    const r = spawnSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['gateway/tools/lint/main.ts', '--mappings', folders.mappings, '--profiles', folders.profiles, '--errors'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => /^\/.+\.(json|yaml):\d+:\d+: error: /.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^2 errors, \d+ warnings$/);
  }, 60_000);
});
