import { describe, expect, it } from 'vitest';
import { formatField } from '../../gateway/outputs/xml/format.js';
import { escapeText, tableDocument } from '../../gateway/outputs/xml/serialize.js';
import type { FieldDefinition, TableDefinition } from '../../gateway/outputs/xml/table-definition.js';

const field = (f: Partial<FieldDefinition>): FieldDefinition => ({ name: 'F', type: 'string', ...f });
const text = (value: unknown, f: Partial<FieldDefinition>) => formatField(value, field(f)).text;
const problems = (value: unknown, f: Partial<FieldDefinition>) => formatField(value, field(f)).problems.map((p) => `${p.severity}: ${typeof p.message === 'string' ? p.message : p.message.en}`);

describe('formatting a field (QĐ 4750 §1.4)', () => {
  const time = { format: 'yyyyMMddHHmm' as const, length: 12 };
  const date = { format: 'yyyyMMdd' as const, length: 8 };

  it('writes times in Vietnam time, to the minute', () => {
    expect(text('2025-03-10T07:42:00+07:00', time)).toBe('202503100742');
    expect(text('2025-03-10T00:42:00Z', time)).toBe('202503100742');
    expect(text('2025-03-09T20:15:30-05:00', time)).toBe('202503100815');
    // A time without a zone is read as local (FHIR requires a zone; the gateway assumes Vietnam's).
    expect(text('2025-03-10T07:42', time)).toBe('202503100742');
  });

  it('writes dates as the local calendar day, also from a time near midnight', () => {
    expect(text('2025-03-10', date)).toBe('20250310');
    expect(text('2025-03-10T18:30:00Z', date)).toBe('20250311');
    expect(text('2025-03-10T16:59:00Z', date)).toBe('20250310');
  });

  it('keeps the precision of the value where the field takes either (NGAY_MIEN_CCT)', () => {
    const either = { format: 'yyyyMMdd|yyyyMMddHHmm' as const, length: 12 };
    expect(text('2024-01-05', either)).toBe('20240105');
    expect(text('2024-01-05T09:30:00+07:00', either)).toBe('202401050930');
  });

  it('pads unknown parts of a date with zeros (a year of birth alone)', () => {
    expect(text('1957', time)).toBe('195700000000');
    expect(text('1957-02', time)).toBe('195702000000');
    expect(text('1957-02-03', time)).toBe('195702030000');
  });

  it('reports what is not a date', () => {
    expect(text('10/03/2025', time)).toBe('');
    expect(problems('10/03/2025', time)).toEqual(['error: F: "10/03/2025" is not a date or time']);
    expect(problems('2025-02-30', date)).toEqual(['error: F: "2025-02-30" is not a date or time']);
  });

  it('writes numbers with the field’s decimals and a dot, whole numbers without', () => {
    expect(text(21, { type: 'number', decimals: 3 })).toBe('21.000');
    expect(text(24150, { type: 'number', decimals: 2 })).toBe('24150.00');
    expect(text('1.005', { type: 'number', decimals: 2 })).toBe('1.01');
    expect(text(52.5, { type: 'string', decimals: 2, length: 6 })).toBe('52.50');
    expect(text('13', { type: 'number' })).toBe('13');
    expect(text(true, { type: 'number' })).toBe('1');
    expect(problems(1.5, { type: 'number' })).toEqual(['error: F: 1.5 must be a whole number']);
    expect(problems('12,5', { type: 'number', decimals: 2 })).toEqual(['error: F: "12,5" is not a number']);
  });

  it('joins several values with ";" only where the field allows several', () => {
    expect(text(['I10', 'E11.9'], { multiple: true })).toBe('I10;E11.9');
    expect(text(['2025-01-01', '2025-07-01'], { ...date, multiple: true })).toBe('20250101;20250701');
    expect(problems(['a', 'b'], {})).toEqual(['error: F takes one value, got 2']);
    expect(text([], { multiple: true })).toBe('');
  });

  it('removes characters XML 1.0 cannot carry, with a warning, and keeps Vietnamese text as it is', () => {
    expect(text('Nguyễn\u0007 Văn\u0000 An', {})).toBe('Nguyễn Văn An');
    expect(problems('a\u0001b', {})).toEqual(['warning: F: removed 1 control character(s) that XML cannot carry']);
    expect(text('Đau bụng & sốt < 39°C', {})).toBe('Đau bụng & sốt < 39°C');
  });

  it('refuses a complex value where text is expected', () => {
    expect(problems({ code: 'x' }, {})).toEqual(['error: F: the value is not text ({"code":"x"})']);
  });
});

describe('serialising a table', () => {
  const one: TableDefinition = {
    table: 'XMLT', title: 'test', root: 'ROOT', list: null, item: null, repeats: false, inEnvelope: true, includeWhen: null,
    fields: [field({ name: 'A' }), field({ name: 'B' }), field({ name: 'C' })], rules: [],
  };
  const many: TableDefinition = { ...one, root: 'R', list: 'DS', item: 'IT', repeats: true };

  it('escapes text the way canonical XML does', () => {
    expect(escapeText('a & b < c > d\r\n"e\'')).toBe('a &amp; b &lt; c &gt; d&#xD;\n"e\'');
  });

  it('writes every field in order, empty ones as start and end tags', () => {
    expect(tableDocument(one, [['1', '', 'x&y']])).toBe('<?xml version="1.0" encoding="utf-8"?>\n<ROOT><A>1</A><B></B><C>x&amp;y</C></ROOT>');
  });

  it('wraps the records of a repeating table in its list', () => {
    expect(tableDocument(many, [['1', '2', '3'], ['4', '5', '6']])).toBe(
      '<?xml version="1.0" encoding="utf-8"?>\n<R><DS><IT><A>1</A><B>2</B><C>3</C></IT><IT><A>4</A><B>5</B><C>6</C></IT></DS></R>',
    );
    expect(tableDocument(many, [], '<CHUKYDONVI></CHUKYDONVI>')).toBe('<?xml version="1.0" encoding="utf-8"?>\n<R><DS></DS><CHUKYDONVI></CHUKYDONVI></R>');
  });
});
