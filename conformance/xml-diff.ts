import { DOMParser } from '@xmldom/xmldom';

/**
 * Differences between two table documents, said the way a mapping author reads them: one line per
 * table, row and field, `-want +got` — not a text diff of one long line of XML. A table document is
 * a root whose children are either the fields of its one record, or a list whose items are records.
 */
export const wantGot = (want: string, got: string) => `-${want} +${got}`;

export function diffTableDocuments(table: string, want: string, got: string): string[] {
  const expected = parse(want);
  const actual = parse(got);
  if (typeof expected === 'string') return [`${table}: the expected document does not parse: ${expected}`];
  if (typeof actual === 'string') return [`${table}: the document does not parse: ${actual}`];
  const out: string[] = [];
  if (expected.root !== actual.root) out.push(`${table} root element: ${wantGot(expected.root, actual.root)}`);
  if (expected.list !== actual.list) out.push(`${table} list element: ${wantGot(expected.list ?? '(none)', actual.list ?? '(none)')}`);
  if (expected.records.length !== actual.records.length) out.push(`${table} rows: ${wantGot(String(expected.records.length), String(actual.records.length))}`);
  const rows = Math.min(expected.records.length, actual.records.length);
  for (let r = 0; r < rows; r++) {
    const where = expected.records.length > 1 || expected.list ? `${table} row ${r + 1}` : table;
    out.push(...diffRecord(where, expected.records[r], actual.records[r]));
  }
  if (expected.trailer !== actual.trailer) out.push(`${table} after the records: ${wantGot(expected.trailer || '(nothing)', actual.trailer || '(nothing)')}`);
  if (out.length === 0 && want !== got) out.push(`${table} bytes (same content; declaration, whitespace or escaping differ): ${wantGot(`${JSON.stringify(want.slice(0, 80))}…`, `${JSON.stringify(got.slice(0, 80))}…`)}`);
  return out;
}

type Field = [name: string, text: string];

function diffRecord(where: string, want: Field[], got: Field[]): string[] {
  const out: string[] = [];
  const wantNames = want.map(([n]) => n).join(',');
  const gotNames = got.map(([n]) => n).join(',');
  if (wantNames !== gotNames) {
    const missing = want.map(([n]) => n).filter((n) => !got.some(([g]) => g === n));
    const extra = got.map(([n]) => n).filter((n) => !want.some(([w]) => w === n));
    for (const name of missing) out.push(`${where} ${name}: ${wantGot('present', 'missing')}`);
    for (const name of extra) out.push(`${where} ${name}: ${wantGot('absent', 'present')}`);
    if (!missing.length && !extra.length) out.push(`${where} element order: ${wantGot(wantNames, gotNames)}`);
  }
  const gotByName = new Map(got);
  for (const [name, text] of want) {
    const actual = gotByName.get(name);
    if (actual !== undefined && actual !== text) out.push(`${where} ${name}: ${wantGot(JSON.stringify(text), JSON.stringify(actual))}`);
  }
  return out;
}

interface TableShape {
  root: string;
  list?: string;
  records: Field[][];
  /** Elements after the list (XML0's CHUKYDONVI), as names. */
  trailer: string;
}

function parse(text: string): TableShape | string {
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: (m) => errors.push(m), fatalError: (m) => errors.push(m) } }).parseFromString(text, 'application/xml');
  const root = doc.documentElement;
  if (errors.length > 0 || !root) return errors[0] ?? 'no root element';
  const children = elements(root);
  const list = children.find((c) => c.tagName.startsWith('DSACH'));
  if (list) {
    const trailer = children.slice(children.indexOf(list) + 1).map((c) => c.tagName).join(',');
    return { root: root.tagName, list: list.tagName, records: elements(list).map(fields), trailer };
  }
  return { root: root.tagName, records: [fields(root)], trailer: '' };
}

const fields = (record: Element): Field[] => elements(record).map((e) => [e.tagName, e.textContent ?? '']);

function elements(parent: Element): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
  return out;
}
