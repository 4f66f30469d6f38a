import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROFILES_DIR } from '../../gateway/paths.js';

/**
 * The QĐ 130/4750 table definitions (profiles/qd4750/4750/XMLn.yaml) and the QĐ 3176 variant
 * (profiles/qd4750/3176/): shape, the official field counts and order, types, formats, code lists,
 * and every FHIRPath expression — compiled, evaluated to one boolean, and checked on valid and
 * invalid rows. The expectations restate the specification; nothing here reads it.
 */

type Row = Record<string, string | number>;

interface Field {
  name: string;
  type: string;
  length?: number;
  format?: string;
  decimals?: number;
  required?: boolean;
  requiredWhen?: string;
  multiple?: boolean;
  pattern?: string;
  codes?: string;
  values?: (string | number)[];
  meaning?: string;
  note?: string;
}

interface Rule {
  key: string;
  severity: string;
  expression: string;
  message: { vi: string; en: string };
}

interface Table {
  table: string;
  title: { vi: string; en: string };
  root: string;
  list: string | null;
  item: string | null;
  repeats: boolean;
  inEnvelope: boolean;
  includeWhen: string | null;
  derive?: string;
  fields: Field[];
  rules: Rule[];
}

const DIR = join(PROFILES_DIR, 'qd4750');
const TABLE_NAMES = Array.from({ length: 16 }, (_, i) => `XML${i}`);

function loadLayer(layer: string): Map<string, Table> {
  const tables = new Map<string, Table>();
  for (const file of readdirSync(join(DIR, layer)).filter((f) => f.endsWith('.yaml'))) {
    const table = parse(readFileSync(join(DIR, layer, file), 'utf8')) as Table;
    expect(file, `${layer}/${file} holds ${table.table}`).toBe(`${table.table}.yaml`);
    tables.set(table.table, table);
  }
  return tables;
}

const v4750 = loadLayer('4750');
const v3176 = loadLayer('3176');
/** Every definition file: the 4750 set, then the 3176 replacements. */
const allFiles: [string, Table][] = [
  ...[...v4750.values()].map((t): [string, Table] => [`4750/${t.table}`, t]),
  ...[...v3176.values()].map((t): [string, Table] => [`3176/${t.table}`, t]),
];
/** The tables in effect under 3176: the 4750 set with the 3176 files replacing theirs. */
const effective3176 = new Map([...v4750, ...v3176]);

const names = (t: Table) => t.fields.map((f) => f.name);
const field = (t: Table, name: string) => {
  const f = t.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${t.table} has no field ${name}`);
  return f;
};
const get = (tables: Map<string, Table>, name: string): Table => {
  const t = tables.get(name);
  if (!t) throw new Error(`no definition of ${name}`);
  return t;
};

// --- FHIRPath ----------------------------------------------------------------------------------

type Vars = Record<string, unknown>;
/** As the gateway evaluates them (compiled with the R4 model), and without a model. */
function evaluateBoth(expression: string, row: object, vars: Vars = {}): unknown[][] {
  const withModel = fhirpath.compile(expression, r4Model)(row, vars as never) as unknown[];
  const plain = fhirpath.compile(expression)(row, vars as never) as unknown[];
  return [withModel, plain];
}
/** The single boolean an expression yields (the same with and without the model), or a failure. */
function truth(expression: string, row: object, vars: Vars = {}): boolean {
  const [withModel, plain] = evaluateBoth(expression, row, vars);
  expect(plain, `${expression} gives the same result with and without the R4 model`).toEqual(withModel);
  expect(withModel.length === 1 && typeof withModel[0] === 'boolean', `${expression} gives one boolean, got ${JSON.stringify(withModel)}`).toBe(true);
  return withModel[0] as boolean;
}
const rule = (t: Table, key: string) => {
  const r = t.rules.find((x) => x.key === key);
  if (!r) throw new Error(`${t.table} has no rule ${key}`);
  return r.expression;
};
const requiredWhen = (t: Table, name: string) => {
  const e = field(t, name).requiredWhen;
  if (!e) throw new Error(`${t.table}.${name} has no requiredWhen`);
  return e;
};
const included = (t: Table, xml1: Row) => truth(t.includeWhen!, {}, { XML1: [xml1] });

// --- sample rows -------------------------------------------------------------------------------

function codeSystemCodes(id: string): string[] {
  const file = join(PROFILES_DIR, 'fhir', `CodeSystem-${id}.json`);
  const cs = JSON.parse(readFileSync(file, 'utf8')) as { concept?: { code: string; concept?: unknown[] }[] };
  const out: string[] = [];
  const walk = (cs: { code: string; concept?: unknown[] }[] | undefined) => {
    for (const c of cs ?? []) {
      out.push(c.code);
      walk(c.concept as { code: string; concept?: unknown[] }[] | undefined);
    }
  };
  walk(cs.concept);
  return out;
}

/** One value matching each pattern used by the definitions. */
const PATTERN_EXAMPLES: Record<string, string> = {
  '^(\\d{9}|\\d{12}|[A-Z]\\d{7})$': '012345678901',
  '^(?!0{10}$)\\d{10}$': '0123456789',
  '^\\d{2}[0-9A-Z]{3}$': '01013',
  '^[A-Z]{2}\\d{13}$': 'DN4010123456789',
  '^[HTCK]\\d{3}$': 'H001',
  '^G[1-9]\\d{0,2}$': 'G1',
  '^(C|K|M|HC)\\.\\d{2}[0-9A-Z]{3}$': 'C.01013',
  '^\\d{8}(\\d{4})?$': '20240301',
  '^TE1\\d{12}$': 'TE1010123456789',
};

/** A row with every field filled by a value its definition allows. */
function sampleRow(t: Table): Row {
  const row: Row = {};
  for (const f of t.fields) {
    let v: string | number;
    if (f.values) v = f.values[0]!;
    else if (f.codes) v = codeSystemCodes(f.codes)[0]!;
    else if (f.format === 'yyyyMMddHHmm') v = '202403011000';
    else if (f.format === 'yyyyMMdd' || f.format === 'yyyyMMdd|yyyyMMddHHmm') v = '20240301';
    else if (f.pattern) v = PATTERN_EXAMPLES[f.pattern] ?? '';
    else if (f.decimals) v = f.type === 'number' ? 10.5 : '10.50';
    else v = f.type === 'number' ? 1 : 'x';
    row[f.name] = f.type === 'number' ? Number(v) : String(v);
  }
  return row;
}

/** Sample rows adjusted so that every rule of the table holds: valid data. */
const VALID_PATCHES: Record<string, Row> = {
  XML0: { GT_THE_TU: '20240101', GT_THE_DEN: '20241231' },
  XML1: {
    MA_LOAI_KCB: '03', NGAY_VAO: '202403011000', NGAY_VAO_NOI_TRU: '202403011030', NGAY_RA: '202403051000', SO_NGAY_DTRI: 5,
    MA_LOAI_RV: 1, NGAY_TAI_KHAM: '20240310', CAN_NANG: '65.50', THANG_QT: 3, GT_THE_TU: '20240101', GT_THE_DEN: '20241231',
  },
  XML2: { MA_NHOM: 4 },
  XML6: { NGAY_BAT_DAU_XU_TRI: '20240301', NGAY_KET_THUC_XU_TRI: '20240331', SO_NGAY_CAP_THUOC_ARV: 30 },
  XML10: { TU_NGAY: '20240301', DEN_NGAY: '20240302', SO_NGAY: 1 },
  XML13: { MA_LOAI_RV: 2 },
};
const VALID_REMOVALS: Record<string, string[]> = { XML0: ['MA_THUOC', 'TEN_THUOC', 'MA_VAT_TU', 'TEN_VAT_TU'] };

function validRow(t: Table): Row {
  const row: Row = { ...sampleRow(t), ...(VALID_PATCHES[t.table] ?? {}) };
  for (const name of VALID_REMOVALS[t.table] ?? []) delete row[name];
  return row;
}
const without = (row: Row, ...fields: string[]): Row => Object.fromEntries(Object.entries(row).filter(([k]) => !fields.includes(k)));

// --- expectations from the specification -------------------------------------------------------

const FIELD_COUNTS: Record<string, number> = {
  XML0: 26, XML1: 66, XML2: 39, XML3: 47, XML4: 12, XML5: 9, XML6: 47, XML7: 26,
  XML8: 22, XML9: 35, XML10: 13, XML11: 23, XML12: 35, XML13: 39, XML14: 22, XML15: 20,
};

const ELEMENTS: Record<string, [string, string | null, string | null]> = {
  XML0: ['CHI_TIEU_TRANG_THAI_KCB', 'DSACH_TRANG_THAI_KCB', 'TRANG_THAI_KCB'],
  XML1: ['TONG_HOP', null, null],
  XML2: ['CHITIEU_CHITIET_THUOC', 'DSACH_CHI_TIET_THUOC', 'CHI_TIET_THUOC'],
  XML3: ['CHITIEU_CHITIET_DVKT_VTYT', 'DSACH_CHI_TIET_DVKT', 'CHI_TIET_DVKT'],
  XML4: ['CHITIEU_CHITIET_DICHVUCANLAMSANG', 'DSACH_CHI_TIET_CLS', 'CHI_TIET_CLS'],
  XML5: ['CHITIEU_CHITIET_DIENBIENLAMSANG', 'DSACH_CHI_TIET_DIEN_BIEN_BENH', 'CHI_TIET_DIEN_BIEN_BENH'],
  XML6: [
    'CHI_TIEU_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS',
    'DSACH_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS',
    'HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS',
  ],
  XML7: ['CHI_TIEU_DU_LIEU_GIAY_RA_VIEN', null, null],
  XML8: ['CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN', null, null],
  XML9: ['CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH', 'DSACH_GIAYCHUNGSINH', 'DU_LIEU_GIAY_CHUNG_SINH'],
  XML10: ['CHI_TIEU_DU_LIEU_GIAY_NGHI_DUONG_THAI', null, null],
  XML11: ['CHI_TIEU_DU_LIEU_GIAY_CHUNG_NHAN_NGHI_VIEC_HUONG_BAO_HIEM_XA_HOI', null, null],
  XML12: ['CHI_TIEU_GIAM_DINH_YKHOA', 'DSACH_GIAM_DINH_YKHOA', 'GIAM_DINH_YKHOA'],
  XML13: ['CHI_TIEU_GIAYCHUYENTUYEN', null, null],
  XML14: ['CHI_TIEU_GIAYHEN_KHAMLAI', null, null],
  XML15: ['CHI_TIEU_DIEUTRI_BENHLAO', 'DSACH_CHITIET_DIEUTRI_BENHLAO', 'CHITIET_DIEUTRI_BENHLAO'],
};

/** First and last fields of each table, in the official order. */
const ENDS: Record<string, [string[], string[]]> = {
  XML0: [['MA_LK', 'STT', 'MA_BN', 'HO_TEN', 'SO_CCCD', 'NGAY_SINH'], ['NGAY_YL', 'DU_PHONG']],
  XML1: [['MA_LK', 'STT', 'MA_BN', 'HO_TEN'], ['MA_HSBA', 'MA_TTDV', 'DU_PHONG']],
  XML2: [['MA_LK', 'STT', 'MA_THUOC', 'MA_PP_CHEBIEN'], ['NGUON_CTRA', 'VET_THUONG_TP', 'DU_PHONG']],
  XML3: [['MA_LK', 'STT', 'MA_DICH_VU', 'MA_PTTT_QT', 'MA_VAT_TU'], ['MA_HIEU_SP', 'TAI_SU_DUNG', 'DU_PHONG']],
  XML4: [['MA_LK', 'STT', 'MA_DICH_VU', 'MA_CHI_SO', 'TEN_CHI_SO'], ['NGAY_KQ', 'MA_BS_DOC_KQ', 'DU_PHONG']],
  XML5: [['MA_LK', 'STT', 'DIEN_BIEN_LS'], ['THOI_DIEM_DBLS', 'NGUOI_THUC_HIEN', 'DU_PHONG']],
  XML6: [['MA_LK', 'MA_THE_BHYT', 'SO_CCCD', 'NGAY_SINH'], ['LY_DO_CHUYEN_PHAC_DO', 'MA_CSKCB', 'DU_PHONG']],
  XML7: [['MA_LK', 'SO_LUU_TRU', 'MA_YTE', 'MA_KHOA_RV'], ['NGOAITRU_TUNGAY', 'NGOAITRU_DENNGAY', 'DU_PHONG']],
  XML8: [['MA_LK', 'MA_LOAI_KCB', 'HO_TEN_CHA'], ['NGAY_CT', 'MA_THE_TAM', 'DU_PHONG']],
  XML9: [['MA_LK', 'MA_BHXH_NND', 'MA_THE_NND'], ['QUYEN_SO', 'MA_TTDV', 'DU_PHONG']],
  XML10: [['MA_LK', 'SO_SERI', 'SO_CT', 'SO_NGAY'], ['MA_BS', 'NGAY_CT', 'DU_PHONG']],
  XML11: [['MA_LK', 'SO_CT', 'SO_SERI', 'SO_KCB'], ['MA_THE_TAM', 'MAU_SO', 'DU_PHONG']],
  XML12: [['NGUOI_CHU_TRI', 'CHUC_VU', 'NGAY_HOP'], ['DE_NGHI', 'DUOC_XACDINH', 'DU_PHONG']],
  XML13: [['MA_LK', 'SO_HOSO', 'SO_CHUYENTUYEN', 'GIAY_CHUYEN_TUYEN'], ['MA_BAC_SI', 'MA_TTDV', 'DU_PHONG']],
  XML14: [['MA_LK', 'SO_GIAYHEN_KL', 'MA_CSKCB'], ['MA_BAC_SI', 'MA_TTDV', 'NGAY_CT', 'DU_PHONG']],
  XML15: [['MA_LK', 'STT', 'MA_BN'], ['BDDT_ARV', 'NGAY_BAT_DAU_DT_CTX', 'DU_PHONG']],
};

/** Runs of consecutive fields the official order fixes (and other sources get wrong). */
const RUNS: [string, string[]][] = [
  ['XML1', ['GIOI_TINH', 'NHOM_MAU', 'MA_QUOCTICH']],
  ['XML1', ['T_TONGCHI_BH', 'T_BNTT', 'T_BNCCT', 'T_BHTT', 'T_NGUONKHAC', 'T_BHTT_GDV', 'NAM_QT', 'THANG_QT', 'MA_LOAI_KCB']],
  ['XML1', ['NGAY_VAO', 'NGAY_VAO_NOI_TRU', 'NGAY_RA']],
  ['XML2', ['T_NGUONKHAC', 'MUC_HUONG', 'T_BNTT', 'T_BNCCT', 'T_BHTT', 'MA_KHOA']],
  ['XML2', ['NGAY_YL', 'NGAY_TH_YL', 'MA_PTTT']],
  ['XML3', ['MUC_HUONG', 'T_NGUONKHAC_NSNN', 'T_NGUONKHAC_VTNN', 'T_NGUONKHAC_VTTN', 'T_NGUONKHAC_CL', 'T_NGUONKHAC', 'T_BNTT', 'T_BNCCT', 'T_BHTT', 'MA_KHOA']],
  ['XML3', ['NGAY_YL', 'NGAY_TH_YL', 'NGAY_KQ', 'MA_PTTT']],
  ['XML13', ['MA_CSKCB', 'MA_NOI_DI', 'MA_NOI_DEN', 'HO_TEN']],
  ['XML13', ['MA_BENH_YHCT', 'TEN_DICH_VU', 'TEN_THUOC', 'PP_DIEU_TRI', 'MA_LOAI_RV', 'MA_LYDO_CT']],
  ['XML14', ['NGAY_RA', 'NGAY_HEN_KL', 'CHAN_DOAN_RV']],
];

/** QĐ 3176 XML13, all 37 elements (spec §2.17). */
const XML13_3176 = [
  'MA_LK', 'SO_HOSO', 'SO_CHUYENTUYEN', 'GIAY_CHUYEN_TUYEN', 'MA_CSKCB', 'MA_CSKCB_DI', 'MA_CSKCB_DEN', 'HO_TEN', 'NGAY_SINH',
  'GIOI_TINH', 'MA_QUOCTICH', 'MA_DANTOC', 'MA_NGHE_NGHIEP', 'DIA_CHI', 'MA_THE_BHYT', 'GT_THE_DEN', 'NGAY_VAO', 'NGAY_VAO_NOI_TRU',
  'NGAY_RA', 'DAU_HIEU_LS', 'CHAN_DOAN_RV', 'QT_BENHLY', 'TOMTAT_KQ', 'PP_DIEUTRI', 'MA_BENH_CHINH', 'MA_BENH_KT', 'MA_BENH_YHCT',
  'TINH_TRANG_CT', 'MA_LOAI_RV', 'MA_LYDO_CT', 'HUONG_DIEU_TRI', 'PHUONGTIEN_VC', 'HOTEN_NGUOI_HT', 'CHUCDANH_NGUOI_HT', 'MA_BAC_SI',
  'MA_TTDV', 'DU_PHONG',
];

/** Fields bound to a project CodeSystem, wherever they occur. */
const CODES: Record<string, string> = {
  GIOI_TINH: 'gioi-tinh', GIOI_TINH_CON: 'gioi-tinh', MA_LOAI_KCB: 'loai-kcb', MA_DOITUONG_KCB: 'doi-tuong-kcb',
  KET_QUA_DTRI: 'ket-qua-dieu-tri', MA_LOAI_RV: 'loai-ra-vien', MA_NHOM: 'nhom-chi-phi', MA_TAI_NAN: 'tai-nan', PHAM_VI: 'pham-vi',
  MA_DANTOC: 'dan-toc', MA_DANTOC_NND: 'dan-toc', MA_PTTT: 'phuong-thuc-thanh-toan', NGUON_CTRA: 'nguon-chi-tra',
  PP_VO_CAM: 'phuong-phap-vo-cam', MA_KHUVUC: 'khu-vuc', MA_LYDO_CT: 'ly-do-chuyen-tuyen',
};

/** Codes that QĐ 4750 made strings (and SO_CCCD, sent as a string even where XML15's appendix says number). */
const STRING_FIELDS = ['MA_LOAI_KCB', 'MA_DOITUONG_KCB', 'MA_QUOCTICH', 'MA_DANTOC', 'MA_NGHE_NGHIEP', 'SO_CCCD', 'MA_TTDV', 'DIEN_THOAI', 'MA_XU_TRI', 'DANG_HUONG_CHE_DO', 'MA_BHXH', 'MA_BHXH_NND'];

const TABLE_KEYS = ['table', 'title', 'root', 'list', 'item', 'repeats', 'inEnvelope', 'includeWhen', 'derive', 'fields', 'rules'];
const FIELD_KEYS = ['name', 'type', 'length', 'format', 'decimals', 'required', 'requiredWhen', 'multiple', 'pattern', 'codes', 'values', 'meaning', 'note'];
const FORMAT_LENGTH: Record<string, number> = { yyyyMMddHHmm: 12, yyyyMMdd: 8, 'yyyyMMdd|yyyyMMddHHmm': 12 };

// --- tests -------------------------------------------------------------------------------------

describe('QĐ 4750 table definitions: files and shape', () => {
  it('has one file per table, XML0 … XML15, and a 3176 file only for XML13', () => {
    expect([...v4750.keys()].sort()).toEqual([...TABLE_NAMES].sort());
    expect([...v3176.keys()]).toEqual(['XML13']);
  });

  it.each(allFiles)('%s has the documented top-level shape', (_, t) => {
    for (const key of Object.keys(t)) expect(TABLE_KEYS, `unknown key ${key}`).toContain(key);
    for (const key of TABLE_KEYS.filter((k) => k !== 'derive')) expect(t, `missing ${key}`).toHaveProperty(key);
    expect(t.title.vi.length).toBeGreaterThan(0);
    expect(t.title.en.length).toBeGreaterThan(0);
    expect(Array.isArray(t.fields) && Array.isArray(t.rules)).toBe(true);
    if (t.derive !== undefined) expect(t.derive).toBe('line-amounts');
  });

  it.each(TABLE_NAMES)('%s has the official root, list and item elements', (name) => {
    const t = get(v4750, name);
    expect([t.root, t.list, t.item]).toEqual(ELEMENTS[name]);
    expect(t.repeats).toBe(ELEMENTS[name]![1] !== null);
    expect(t.inEnvelope).toBe(name !== 'XML0' && name !== 'XML12');
  });

  it('3176 XML13 keeps the 4750 elements and flags', () => {
    const a = get(v4750, 'XML13');
    const b = get(v3176, 'XML13');
    expect([b.root, b.list, b.item, b.repeats, b.inEnvelope, b.includeWhen]).toEqual([a.root, a.list, a.item, a.repeats, a.inEnvelope, a.includeWhen]);
  });

  it('only XML2 and XML3 are completed by the line-amount rules', () => {
    expect([...v4750.values()].filter((t) => t.derive).map((t) => t.table)).toEqual(['XML2', 'XML3']);
  });
});

describe('QĐ 4750 table definitions: fields in the official order', () => {
  it.each(TABLE_NAMES)('%s has the field count the specification states', (name) => {
    expect(get(v4750, name).fields).toHaveLength(FIELD_COUNTS[name]!);
  });

  it('3176 XML13 has its 37 fields in the order of §2.17', () => {
    expect(names(get(v3176, 'XML13'))).toEqual(XML13_3176);
  });

  it.each(TABLE_NAMES)('%s starts and ends with the official fields', (name) => {
    const [first, last] = ENDS[name]!;
    const n = names(get(v4750, name));
    expect(n.slice(0, first.length)).toEqual(first);
    expect(n.slice(-last.length)).toEqual(last);
  });

  it.each(RUNS)('%s keeps %j together in that order', (name, run) => {
    const n = names(get(v4750, name));
    const at = n.indexOf(run[0]!);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(n.slice(at, at + run.length)).toEqual(run);
  });

  it('XML13 (4750) has both PP_DIEUTRI (#24) and PP_DIEU_TRI (#30); XML14 skips no field for the missing STT 14', () => {
    const n13 = names(get(v4750, 'XML13'));
    expect(n13.indexOf('PP_DIEUTRI')).toBe(23);
    expect(n13.indexOf('PP_DIEU_TRI')).toBe(29);
    const n14 = names(get(v4750, 'XML14'));
    expect(n14.indexOf('NGAY_HEN_KL')).toBe(12);
    expect(n14.indexOf('CHAN_DOAN_RV')).toBe(13);
  });

  it.each(allFiles)('%s: MA_LK first (XML12 has none), DU_PHONG last, names unique', (_, t) => {
    const n = names(t);
    if (t.table === 'XML12') expect(n).not.toContain('MA_LK');
    else expect(n[0]).toBe('MA_LK');
    expect(n.at(-1)).toBe('DU_PHONG');
    expect(new Set(n).size).toBe(n.length);
    for (const name of n) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });
});

describe('QĐ 4750 table definitions: field properties', () => {
  const everyField = allFiles.flatMap(([file, t]) => t.fields.map((f): [string, Field] => [`${file}.${f.name}`, f]));

  it.each(everyField)('%s is well formed', (_, f) => {
    for (const key of Object.keys(f)) expect(FIELD_KEYS, `unknown key ${key}`).toContain(key);
    expect(['string', 'number']).toContain(f.type);
    if (f.length !== undefined) expect(Number.isInteger(f.length) && f.length > 0, `length ${f.length}`).toBe(true);
    if (f.required !== undefined) expect(f.required, 'optional fields omit required').toBe(true);
    expect(f.required && f.requiredWhen, 'required and requiredWhen together').toBeFalsy();
    if (f.multiple !== undefined) expect(f.multiple).toBe(true);
    expect(typeof f.meaning === 'string' && f.meaning.length > 0 && f.meaning.length <= 140 && !f.meaning.includes('\n'), `meaning "${f.meaning}"`).toBe(true);
    if (f.note !== undefined) expect(typeof f.note).toBe('string');
    if (f.format !== undefined) {
      expect(f.type).toBe('string');
      expect(Object.keys(FORMAT_LENGTH)).toContain(f.format);
      const digits = FORMAT_LENGTH[f.format]!;
      // A single date fills its field exactly; a ';'-list of dates holds several.
      if (f.multiple) expect(f.length === undefined || f.length >= digits).toBe(true);
      else expect(f.length).toBe(digits);
    }
    if (f.decimals !== undefined) {
      expect([2, 3]).toContain(f.decimals);
      if (f.type !== 'number') expect(f.name, 'decimals on a string only for the weight written as text').toBe('CAN_NANG');
    }
    if (f.pattern !== undefined) {
      const re = new RegExp(f.pattern, 'u');
      const example = PATTERN_EXAMPLES[f.pattern];
      expect(example, `an example for ${f.pattern}`).toBeDefined();
      expect(re.test(example!)).toBe(true);
    }
    expect(f.codes !== undefined && f.values !== undefined, 'both codes and values').toBe(false);
    if (f.codes !== undefined) {
      expect(existsSync(join(PROFILES_DIR, 'fhir', `CodeSystem-${f.codes}.json`)), `CodeSystem-${f.codes}.json`).toBe(true);
      if (f.type === 'number') for (const c of codeSystemCodes(f.codes)) expect(c).toMatch(/^\d+$/);
    }
    if (f.values !== undefined) {
      expect(f.values.length).toBeGreaterThan(0);
      expect(new Set(f.values).size).toBe(f.values.length);
      for (const v of f.values) expect(typeof v).toBe(f.type === 'number' ? 'number' : 'string');
    }
  });

  it.each(allFiles)('%s: every 8- or 12-character string is a date with its format (except NGAY_MIEN_CCT)', (_, t) => {
    for (const f of t.fields) {
      if (f.type !== 'string' || (f.length !== 8 && f.length !== 12) || f.multiple) continue;
      if (f.name === 'NGAY_MIEN_CCT') {
        expect(f.format).toBe('yyyyMMdd|yyyyMMddHHmm');
        expect(new RegExp(f.pattern!, 'u').test('20240301') && new RegExp(f.pattern!, 'u').test('202403011000')).toBe(true);
      } else expect(f.format, `${t.table}.${f.name}`).toBe(f.length === 12 ? 'yyyyMMddHHmm' : 'yyyyMMdd');
    }
  });

  it.each(allFiles)('%s: amounts have 2 decimals, quantities and unit prices 3, other numbers none', (_, t) => {
    for (const f of t.fields.filter((x) => x.type === 'number')) {
      const expected = /^(T_|THANH_TIEN_)/.test(f.name) ? 2 : ['SO_LUONG', 'DON_GIA', 'DON_GIA_BV', 'DON_GIA_BH'].includes(f.name) ? 3 : undefined;
      expect(f.decimals, `${t.table}.${f.name}`).toBe(expected);
    }
  });

  it.each(allFiles)('%s: codes and types as QĐ 4750 set them', (_, t) => {
    for (const f of t.fields) {
      if (CODES[f.name]) expect(f.codes, `${t.table}.${f.name}`).toBe(CODES[f.name]);
      if (STRING_FIELDS.includes(f.name)) expect(f.type, `${t.table}.${f.name}`).toBe('string');
      if (f.format) expect(f.type).toBe('string');
    }
  });

  it('a few fields the specification pins down', () => {
    const x1 = get(v4750, 'XML1');
    expect(field(x1, 'MA_LOAI_KCB')).toMatchObject({ type: 'string', length: 2, required: true, codes: 'loai-kcb' });
    expect(field(x1, 'MA_DOITUONG_KCB')).toMatchObject({ type: 'string', length: 4 });
    expect(field(x1, 'NHOM_MAU')).toMatchObject({ type: 'string', length: 5 });
    expect(field(x1, 'NGAY_SINH')).toMatchObject({ length: 12, format: 'yyyyMMddHHmm', required: true });
    expect(field(x1, 'T_THUOC')).toMatchObject({ type: 'number', length: 15, decimals: 2, required: true });
    expect(field(x1, 'MA_KHOA').multiple).toBe(true);
    expect(field(x1, 'MA_THE_BHYT')).toMatchObject({ multiple: true });
    expect(field(x1, 'MA_THE_BHYT').length).toBeUndefined();
    expect(field(x1, 'GT_THE_TU')).toMatchObject({ multiple: true, format: 'yyyyMMdd' });
    expect(field(x1, 'MA_TTDV').pattern).toBe('^(?!0{10}$)\\d{10}$');
    expect(field(get(v4750, 'XML2'), 'SO_LUONG')).toMatchObject({ type: 'number', decimals: 3 });
    expect(field(get(v4750, 'XML2'), 'VET_THUONG_TP').values).toEqual([1]);
    expect(field(get(v4750, 'XML3'), 'TAI_SU_DUNG').values).toEqual([1]);
    expect(field(get(v4750, 'XML3'), 'MA_GIUONG')).toMatchObject({ multiple: true, pattern: '^[HTCK]\\d{3}$' });
    expect(field(get(v4750, 'XML3'), 'GOI_VTYT').pattern).toBe('^G[1-9]\\d{0,2}$');
    expect(field(get(v4750, 'XML6'), 'LOAI_DTRI_LAO').values).toEqual([0, 1, 2, 3]);
    expect(field(get(v4750, 'XML6'), 'MA_XU_TRI')).toMatchObject({ type: 'string', length: 10, multiple: true });
    expect(field(get(v4750, 'XML7'), 'MA_DINH_CHI_THAI').values).toEqual([0, 1]);
    expect(field(get(v4750, 'XML11'), 'MAU_SO').values).toEqual(['CT07']);
    expect(field(get(v4750, 'XML12'), 'CHUC_VU').values).toEqual([1, 2]);
    expect(field(get(v4750, 'XML12'), 'NGAY_SINH')).toMatchObject({ length: 8, format: 'yyyyMMdd' });
    expect(field(get(v4750, 'XML15'), 'SO_CCCD').type).toBe('string');
    expect(field(get(v4750, 'XML15'), 'PHACDO_DTRI_LAO').values).toHaveLength(25);
    // XML14.NGAY_HEN_KL: 12 characters under 4750 and, with no 3176 file, under 3176 too.
    expect(field(get(effective3176, 'XML14'), 'NGAY_HEN_KL')).toMatchObject({ length: 12, format: 'yyyyMMddHHmm', required: true });
    // 3176 XML13: renamed, removed and new fields.
    const b = get(v3176, 'XML13');
    expect(field(b, 'MA_CSKCB_DI')).toMatchObject({ type: 'string', length: 100, multiple: true });
    expect(field(b, 'MA_CSKCB_DEN')).toMatchObject({ type: 'string', length: 5 });
    expect(field(b, 'TINH_TRANG_CT')).toMatchObject({ type: 'string', required: true });
    expect(field(b, 'TINH_TRANG_CT').length).toBeUndefined();
    expect(field(b, 'TOMTAT_KQ').required).toBe(true);
    expect(field(get(v4750, 'XML13'), 'TOMTAT_KQ').required).toBeUndefined();
  });
});

describe('QĐ 4750 table definitions: FHIRPath', () => {
  const expressions = allFiles.flatMap(([file, t]) => [
    ...t.fields.filter((f) => f.requiredWhen).map((f): [string, Table, string] => [`${file}.${f.name}.requiredWhen`, t, f.requiredWhen!]),
    ...t.rules.map((r): [string, Table, string] => [`${file} ${r.key}`, t, r.expression]),
  ]);

  it.each(expressions)('%s compiles and gives one boolean on an empty and on a sample row', (_, t, expression) => {
    truth(expression, {});
    truth(expression, sampleRow(t));
    truth(expression, validRow(t));
  });

  it.each(allFiles.filter(([, t]) => t.includeWhen))('%s includeWhen gives one boolean over %XML1', (_, t) => {
    truth(t.includeWhen!, {}, { XML1: [{}] });
    truth(t.includeWhen!, {}, { XML1: [validRow(get(v4750, 'XML1'))] });
  });

  it('only XML8 and XML13 have an inclusion condition', () => {
    expect(allFiles.filter(([, t]) => t.includeWhen).map(([file]) => file)).toEqual(['4750/XML13', '4750/XML8', '3176/XML13']);
  });

  it.each(allFiles)('%s: rule keys are stable, unique and prefixed with the table', (_, t) => {
    const keys = t.rules.map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const r of t.rules) {
      expect(r.key).toMatch(new RegExp(`^${t.table.toLowerCase()}-[a-z0-9]+(-[a-z0-9]+)*$`));
      expect(['error', 'warning']).toContain(r.severity);
      expect(r.message.vi.length > 0 && r.message.en.length > 0).toBe(true);
    }
  });

  it('rule keys are unique across the tables of each standard', () => {
    for (const tables of [v4750, effective3176]) {
      const keys = [...tables.values()].flatMap((t) => t.rules.map((r) => r.key));
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it.each(allFiles)('%s: every rule holds on a valid row, and nothing it requires is missing', (_, t) => {
    const row = validRow(t);
    for (const r of t.rules) expect(truth(r.expression, row), r.key).toBe(true);
    for (const f of t.fields.filter((x) => x.requiredWhen)) {
      if (truth(f.requiredWhen!, row)) expect(row[f.name], `${f.name} required by ${f.requiredWhen}`).toBeDefined();
    }
  });
});

describe('QĐ 4750 table definitions: rules catch what they should', () => {
  const x = (name: string) => get(v4750, name);

  it('XML0: exactly one first cost, with its name; LY_DO_VNT with NGAY_VAO_NOI_TRU', () => {
    const t = x('XML0');
    const row = validRow(t);
    expect(truth(rule(t, 'xml0-chi-phi-dau-tien'), { ...row, MA_THUOC: '40.17' })).toBe(false);
    expect(truth(rule(t, 'xml0-chi-phi-dau-tien'), without(row, 'MA_DICH_VU'))).toBe(false);
    expect(truth(rule(t, 'xml0-chi-phi-dau-tien'), { ...without(row, 'MA_DICH_VU'), MA_VAT_TU: 'N03.01' })).toBe(true);
    expect(truth(rule(t, 'xml0-ten-chi-phi'), { ...row, TEN_THUOC: 'Oxy' })).toBe(false);
    expect(truth(requiredWhen(t, 'MA_THUOC'), without(row, 'MA_DICH_VU'))).toBe(true);
    expect(truth(requiredWhen(t, 'MA_THUOC'), row)).toBe(false);
    expect(truth(requiredWhen(t, 'LY_DO_VNT'), row)).toBe(true);
    expect(truth(requiredWhen(t, 'LY_DO_VNT'), without(row, 'NGAY_VAO_NOI_TRU'))).toBe(false);
    expect(truth(rule(t, 'xml0-ngay-vao-noi-tru'), { ...row, NGAY_VAO_NOI_TRU: '202402291000' })).toBe(false);
  });

  it('XML1: dates, treatment days, cards, weight, settlement month', () => {
    const t = x('XML1');
    const row = validRow(t);
    expect(truth(rule(t, 'xml1-ngay-ra'), { ...row, NGAY_RA: '202402291000' })).toBe(false);
    expect(truth(rule(t, 'xml1-ngay-vao-noi-tru'), { ...row, NGAY_VAO_NOI_TRU: '202403010959' })).toBe(false);
    // 03: date out − date in + 1, across a month end too.
    expect(truth(rule(t, 'xml1-so-ngay-dtri'), { ...row, SO_NGAY_DTRI: 4 })).toBe(false);
    expect(truth(rule(t, 'xml1-so-ngay-dtri'), { ...row, NGAY_VAO: '202401311000', NGAY_VAO_NOI_TRU: '202401311000', NGAY_RA: '202402010900', SO_NGAY_DTRI: 2 })).toBe(true);
    expect(truth(rule(t, 'xml1-so-ngay-dtri'), { ...row, MA_LOAI_KCB: '05', SO_NGAY_DTRI: 30 })).toBe(true);
    // 01, 07, 09: zero days.
    expect(truth(rule(t, 'xml1-so-ngay-dtri-0'), { ...row, MA_LOAI_KCB: '09' })).toBe(false);
    expect(truth(rule(t, 'xml1-so-ngay-dtri-0'), { ...row, MA_LOAI_KCB: '09', SO_NGAY_DTRI: 0 })).toBe(true);
    expect(truth(rule(t, 'xml1-kham-dai-ngay'), { ...row, MA_LOAI_KCB: '01', SO_NGAY_DTRI: 0 })).toBe(false);
    expect(truth(rule(t, 'xml1-ma-benh-kt'), { ...row, MA_BENH_KT: Array.from({ length: 13 }, (_, i) => `J${10 + i}`).join(';') })).toBe(false);
    expect(truth(rule(t, 'xml1-the-so-luong'), { ...row, MA_THE_BHYT: 'DN4010123456789;DN4010123456789' })).toBe(false);
    expect(
      truth(rule(t, 'xml1-the-so-luong'), {
        ...row, MA_THE_BHYT: 'DN4010123456789;DN4010123456789', MA_DKBD: '01013;01013', GT_THE_TU: '20240101;20240201', GT_THE_DEN: '20240131;',
      }),
    ).toBe(true);
    expect(truth(rule(t, 'xml1-the-han'), { ...row, GT_THE_TU: '20240101;20240201', GT_THE_DEN: '20231231;' })).toBe(false);
    expect(truth(rule(t, 'xml1-the-han'), { ...row, GT_THE_TU: '20240101;20240201', GT_THE_DEN: '20240131;' })).toBe(true);
    expect(truth(rule(t, 'xml1-can-nang'), { ...row, CAN_NANG: '250.00' })).toBe(false);
    expect(truth(rule(t, 'xml1-can-nang'), { ...row, CAN_NANG: 'sáu mươi' })).toBe(false);
    expect(truth(rule(t, 'xml1-thang-qt'), { ...row, THANG_QT: 13 })).toBe(false);
    expect(truth(rule(t, 'xml1-ngay-tai-kham'), { ...row, NGAY_TAI_KHAM: '20240310;20240305' })).toBe(false);
  });

  it('XML2: TT_THAU except blood, order execution after the order', () => {
    const t = x('XML2');
    const row = validRow(t);
    expect(truth(requiredWhen(t, 'TT_THAU'), row)).toBe(true);
    expect(truth(requiredWhen(t, 'TT_THAU'), { ...row, MA_NHOM: 7 })).toBe(false);
    expect(truth(requiredWhen(t, 'TT_THAU'), { ...row, MA_NHOM: 17 })).toBe(false);
    expect(truth(rule(t, 'xml2-ngay-th-yl'), { ...row, NGAY_TH_YL: '202403010959' })).toBe(false);
  });

  it('XML3: code columns, group conditions, sent-out tests, dates', () => {
    const t = x('XML3');
    const row = validRow(t);
    expect(truth(rule(t, 'xml3-ma-dich-vu-vat-tu'), without(row, 'MA_DICH_VU', 'MA_VAT_TU'))).toBe(false);
    expect(truth(rule(t, 'xml3-ma-dich-vu-vat-tu'), without(row, 'MA_DICH_VU'))).toBe(true);
    expect(truth(requiredWhen(t, 'MA_XANG_DAU'), { ...row, MA_NHOM: 12 })).toBe(true);
    expect(truth(requiredWhen(t, 'MA_XANG_DAU'), { ...row, MA_NHOM: 13 })).toBe(false);
    expect(truth(requiredWhen(t, 'TT_THAU'), { ...row, MA_NHOM: 10 })).toBe(true);
    expect(truth(requiredWhen(t, 'TT_THAU'), { ...row, MA_NHOM: 11 })).toBe(false);
    for (const g of [1, 2, 3, 8, 18]) {
      expect(truth(requiredWhen(t, 'NGUOI_THUC_HIEN'), { ...row, MA_NHOM: g })).toBe(true);
      expect(truth(requiredWhen(t, 'NGAY_TH_YL'), { ...row, MA_NHOM: g })).toBe(true);
    }
    expect(truth(requiredWhen(t, 'NGUOI_THUC_HIEN'), { ...row, MA_NHOM: 13 })).toBe(false);
    expect(truth(requiredWhen(t, 'NGUOI_THUC_HIEN'), { ...row, MA_NHOM: 1, MA_DICH_VU: '22.0001.1234.K.79024' })).toBe(false);
    expect(truth(rule(t, 'xml3-ngay-kq'), { ...row, NGAY_KQ: '202403010959' })).toBe(false);
    expect(truth(rule(t, 'xml3-ma-giuong'), without({ ...row, MA_NHOM: 15 }, 'MA_GIUONG'))).toBe(false);
  });

  it('XML4, XML6: conditional presence and ARV days', () => {
    const t4 = x('XML4');
    expect(truth(requiredWhen(t4, 'NGAY_KQ'), { GIA_TRI: '5.2' })).toBe(true);
    expect(truth(requiredWhen(t4, 'NGAY_KQ'), {})).toBe(false);
    const t6 = x('XML6');
    const row = validRow(t6);
    expect(truth(requiredWhen(t6, 'LAN_XN_PCR'), { ...row, MA_TINH_TRANG_DK: '4;1' })).toBe(true);
    expect(truth(requiredWhen(t6, 'LAN_XN_PCR'), { ...row, MA_TINH_TRANG_DK: '4;10' })).toBe(false);
    expect(truth(requiredWhen(t6, 'NGAY_BAT_DAU_XU_TRI'), { ...row, MA_XU_TRI: '4' })).toBe(false);
    expect(truth(requiredWhen(t6, 'PHACDO_DTRI_LAO'), { ...row, LOAI_DTRI_LAO: 0 })).toBe(false);
    expect(truth(requiredWhen(t6, 'PHACDO_DTRI_LAO'), { ...row, LOAI_DTRI_LAO: 2 })).toBe(true);
    expect(truth(requiredWhen(t6, 'MA_BAC_PHAC_DO'), { ...row, MA_PHAC_DO_DIEU_TRI: 'KHAC' })).toBe(true);
    expect(truth(rule(t6, 'xml6-so-ngay-arv'), { ...row, SO_NGAY_CAP_THUOC_ARV: 31 })).toBe(false);
  });

  it('XML7, XML10, XML11: discharge-paper date, rest fields all or none, gestational age, leave days', () => {
    const t7 = x('XML7');
    const row7 = validRow(t7);
    expect(truth(rule(t7, 'xml7-ngay-ct'), { ...row7, NGAY_CT: '20240302' })).toBe(false);
    expect(truth(rule(t7, 'xml7-nghi-ngoai-tru'), without(row7, 'NGOAITRU_DENNGAY'))).toBe(false);
    expect(truth(rule(t7, 'xml7-nghi-ngoai-tru'), without(row7, 'SO_NGAY_NGHI', 'NGOAITRU_TUNGAY', 'NGOAITRU_DENNGAY'))).toBe(true);
    expect(truth(rule(t7, 'xml7-tuoi-thai'), { ...row7, TUOI_THAI: 43 })).toBe(false);
    expect(truth(requiredWhen(t7, 'TUOI_THAI'), { ...row7, MA_DINH_CHI_THAI: 1 })).toBe(true);
    expect(truth(requiredWhen(t7, 'TUOI_THAI'), { ...row7, MA_DINH_CHI_THAI: 0 })).toBe(false);
    const t10 = x('XML10');
    expect(truth(rule(t10, 'xml10-so-ngay'), { ...validRow(t10), SO_NGAY: 2 })).toBe(false);
    const t11 = x('XML11');
    expect(truth(rule(t11, 'xml11-den-ngay'), { ...validRow(t11), DEN_NGAY: '20240229' })).toBe(false);
    expect(truth(rule(t11, 'xml11-so-ngay-nghi'), { ...validRow(t11), SO_NGAY_NGHI: 31 })).toBe(false);
  });

  it('XML8 and XML13 are included by the form of care and the discharge type', () => {
    const xml1 = validRow(x('XML1'));
    const t8 = x('XML8');
    for (const kcb of ['03', '04', '06']) expect(included(t8, { ...xml1, MA_LOAI_KCB: kcb })).toBe(true);
    for (const kcb of ['01', '02', '09']) expect(included(t8, { ...xml1, MA_LOAI_KCB: kcb })).toBe(false);
    expect(included(t8, without(xml1, 'MA_LOAI_KCB'))).toBe(false);
    for (const t of [x('XML13'), get(v3176, 'XML13')]) {
      expect(included(t, { ...xml1, MA_LOAI_RV: 2 })).toBe(true);
      expect(included(t, { ...xml1, MA_LOAI_RV: 5 })).toBe(true);
      expect(included(t, { ...xml1, MA_LOAI_RV: 1 })).toBe(false);
    }
  });

  it('XML14: appointment after discharge, letter not before admission', () => {
    const t = x('XML14');
    const row = validRow(t);
    expect(truth(rule(t, 'xml14-ngay-hen-kl'), { ...row, NGAY_HEN_KL: '202403010959' })).toBe(false);
    expect(truth(rule(t, 'xml14-ngay-ct'), { ...row, NGAY_CT: '20240229' })).toBe(false);
  });

  it('patterns reject malformed identifiers', () => {
    const p = (table: string, name: string) => new RegExp(field(x(table), name).pattern!, 'u');
    expect(p('XML3', 'MA_GIUONG').test('X001')).toBe(false);
    expect(p('XML3', 'MA_GIUONG').test('H01')).toBe(false);
    expect(p('XML3', 'GOI_VTYT').test('G1000')).toBe(false);
    expect(p('XML3', 'GOI_VTYT').test('G999')).toBe(true);
    expect(p('XML3', 'GOI_VTYT').test('G0')).toBe(false);
    expect(p('XML1', 'SO_CCCD').test('0123456789')).toBe(false);
    expect(p('XML1', 'SO_CCCD').test('B1234567')).toBe(true);
    expect(p('XML1', 'MA_TTDV').test('0000000000')).toBe(false);
    expect(p('XML9', 'MA_BHXH_NND').test('012345678')).toBe(false);
    expect(p('XML1', 'MA_CSKCB').test('0101')).toBe(false);
    expect(p('XML1', 'MA_THE_BHYT').test('DN401012345678')).toBe(false);
  });
});
