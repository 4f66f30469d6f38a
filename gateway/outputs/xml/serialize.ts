import type { TableDefinition } from './table-definition.js';

/**
 * XML text written directly, in the form inclusive C14N would give it: no whitespace between
 * elements, empty elements as start and end tags, text escaped as C14N escapes it. The claim file is
 * then already canonical, which lets the signer hash its bytes instead of re-parsing them (and
 * keeps every output byte-for-byte reproducible for the golden cases).
 */
export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';

export function escapeText(text: string): string {
  return text.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#xD;'));
}

export function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

/** One row's fields, in the table's official order, empty elements included. */
function record(def: TableDefinition, texts: readonly string[]): string {
  let out = '';
  for (let i = 0; i < def.fields.length; i++) out += element(def.fields[i].name, escapeText(texts[i] ?? ''));
  return out;
}

/**
 * A table as its own UTF-8 document: the root holds the fields of a single-record table (XML1,
 * XML7, …), or a list of items for a repeating one (XML2 → DSACH_CHI_TIET_THUOC → CHI_TIET_THUOC*).
 * `rows` hold each row's element texts in field order.
 */
export function tableDocument(def: TableDefinition, rows: readonly (readonly string[])[], trailer = ''): string {
  let body: string;
  if (def.repeats && def.list && def.item) {
    body = element(def.list, rows.map((r) => element(def.item!, record(def, r))).join(''));
  } else {
    body = record(def, rows[0] ?? []);
  }
  return `${XML_DECLARATION}${element(def.root, body + trailer)}`;
}
