import { createHash, type X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { tableDefinitions, type TableDefinition, type XmlStandard } from '../../gateway/outputs/xml/table-definition.js';
import { verifySignedDocument } from '../../gateway/signing/verify.js';
import { MESSAGES, RESULT } from './codes.js';

/**
 * What the simulated portal checks in a submitted file, in the order it checks it: the bytes
 * (base64, UTF-8, no DTD, well-formed), the facility's signature (xml-crypto, chained to the
 * registered certificates), then the structure against the table definitions of the endpoint's
 * standard. Values are not checked (types, lengths, code lists, totals): the real portal reports
 * those asynchronously, after it has received the file (§5.3).
 */
export type FileKind = 'claim' | 'checkin';

export interface Rejection {
  ok: false;
  maKetQua: string;
  thongDiep: string;
}

export interface Decoded {
  ok: true;
  bytes: Buffer;
  sha256: string;
  text: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DTD = /<!DOCTYPE|<!ENTITY/i;

const reject = (maKetQua: string, thongDiep: string): Rejection => ({ ok: false, maKetQua, thongDiep });

/** Strict base64 (standard alphabet, padding, no whitespace — §1.3), then strict UTF-8. */
export function decodeBase64Xml(base64: string): Decoded | Rejection {
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) return reject(RESULT.UNREADABLE_FILE, MESSAGES.notBase64);
  const bytes = Buffer.from(base64, 'base64');
  let text: string;
  try {
    // Strips a UTF-8 BOM; fails on any invalid sequence.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return reject(RESULT.UNREADABLE_FILE, MESSAGES.notUtf8);
  }
  return { ok: true, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), text };
}

/** A DOM of text with no DTD; the first parser error otherwise. */
export function parseXml(text: string): { ok: true; doc: Document } | Rejection {
  if (DTD.test(text)) return reject(RESULT.DTD_REFUSED, MESSAGES.dtd);
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: (m) => errors.push(String(m)), fatalError: (m) => errors.push(String(m)) },
  }).parseFromString(text, 'application/xml') as unknown as Document;
  if (errors.length > 0 || !doc?.documentElement) return reject(RESULT.UNREADABLE_FILE, MESSAGES.notXml(firstLine(errors[0] ?? 'không có phần tử gốc')));
  return { ok: true, doc };
}

/** The signature and its certificate, with the gateway's hardened xml-crypto verifier. */
export function checkSignature(text: string, trustAnchors: readonly X509Certificate[], now: Date): Rejection | undefined {
  const result = verifySignedDocument(text, trustAnchors, now);
  if (result.valid) return undefined;
  const detail = result.issues.map((i) => (typeof i.message === 'string' ? i.message : i.message.vi)).join('; ');
  // verifySignedDocument returns the certificate only once the signature itself holds: what is
  // left is about the certificate (not registered, expired, not allowed to sign).
  return result.certificate ? reject(RESULT.UNTRUSTED_CERTIFICATE, MESSAGES.untrusted(detail)) : reject(RESULT.BAD_SIGNATURE, MESSAGES.badSignature(detail));
}

export interface Structure {
  ok: true;
  /** MA_LK of each HOSO (claim) or of each check-in record, distinct, in file order. */
  maLks: string[];
}

/** GIAMDINHHS: envelope (§1.2) and every table it carries (§1.3, §2). */
export function checkClaim(doc: Document, facility: string, standard: XmlStandard): Structure | Rejection {
  const root = doc.documentElement;
  const envelope = (detail: string) => reject(RESULT.ENVELOPE_STRUCTURE, MESSAGES.envelope(detail));
  if (root.nodeName !== 'GIAMDINHHS' || root.namespaceURI) return envelope(`phần tử gốc phải là GIAMDINHHS (không có namespace), nhận được ${root.nodeName}`);
  const top = children(root);
  if (!top.ok) return envelope(top.detail);
  const order = names(top.elements);
  if (order !== 'THONGTINDONVI,THONGTINHOSO,CHUKYDONVI') return envelope(`GIAMDINHHS phải gồm THONGTINDONVI, THONGTINHOSO, CHUKYDONVI theo thứ tự; nhận được ${order || '(rỗng)'}`);
  const [donvi, hoso] = top.elements;

  const donviChildren = children(donvi);
  if (!donviChildren.ok || names(donviChildren.elements) !== 'MACSKCB') return envelope('THONGTINDONVI phải chứa đúng một phần tử MACSKCB');
  const macskcb = textOf(donviChildren.elements[0]);
  if (macskcb === undefined) return envelope('MACSKCB phải là văn bản');
  if (macskcb !== facility) return envelope(`MACSKCB trong hồ sơ (${macskcb}) không khớp với maCSKCB gửi kèm (${facility})`);

  const info = children(hoso);
  if (!info.ok || names(info.elements) !== 'NGAYLAP,SOLUONGHOSO,DANHSACHHOSO') return envelope('THONGTINHOSO phải gồm NGAYLAP, SOLUONGHOSO, DANHSACHHOSO theo thứ tự');
  const [ngaylap, soluong, danhsach] = info.elements;
  if (!/^\d{8}$/.test(textOf(ngaylap) ?? '')) return envelope('NGAYLAP phải có dạng yyyyMMdd');
  const list = children(danhsach);
  if (!list.ok || list.elements.length === 0 || list.elements.some((e) => e.nodeName !== 'HOSO')) return envelope('DANHSACHHOSO phải chứa ít nhất một HOSO và chỉ HOSO');
  const declared = textOf(soluong) ?? '';
  if (!/^\d+$/.test(declared) || Number(declared) !== list.elements.length) {
    return envelope(`SOLUONGHOSO (${declared}) không bằng số HOSO trong DANHSACHHOSO (${list.elements.length})`);
  }

  const definitions = new Map(tableDefinitions(standard).filter((d) => d.inEnvelope).map((d) => [d.table, d]));
  const maLks: string[] = [];
  for (const [index, hosoElement] of list.elements.entries()) {
    const where = list.elements.length > 1 ? ` (HOSO thứ ${index + 1})` : '';
    const files = children(hosoElement);
    if (!files.ok || files.elements.length === 0 || files.elements.some((e) => e.nodeName !== 'FILEHOSO')) return envelope(`HOSO${where} phải chứa ít nhất một FILEHOSO và chỉ FILEHOSO`);
    let maLk: string | undefined;
    let previous = -1;
    let xml1Count = 0;
    for (const file of files.elements) {
      const parts = children(file);
      if (!parts.ok || names(parts.elements) !== 'LOAIHOSO,NOIDUNGFILE') return envelope(`FILEHOSO${where} phải gồm LOAIHOSO, NOIDUNGFILE theo thứ tự`);
      const table = textOf(parts.elements[0]) ?? '';
      const definition = definitions.get(table);
      if (!definition) return reject(RESULT.TABLE_STRUCTURE, MESSAGES.table(table || '(rỗng)', `LOAIHOSO "${table}" không phải bảng của hồ sơ theo QĐ ${standard} (XML1…XML11, XML13…XML15)`));
      const number = Number(table.slice(3));
      if (number < previous) return envelope(`FILEHOSO${where} phải theo thứ tự số bảng (${table} đứng sau XML${previous})`);
      previous = number;
      if (table === 'XML1' && ++xml1Count > 1) return reject(RESULT.TABLE_STRUCTURE, MESSAGES.table('XML1', `mỗi HOSO chỉ có một XML1${where}`));
      const decoded = decodeBase64Xml(textOf(parts.elements[1]) ?? '');
      if (!decoded.ok) return reject(RESULT.TABLE_STRUCTURE, MESSAGES.table(table, `NOIDUNGFILE: ${decoded.thongDiep}`));
      const parsed = parseXml(decoded.text);
      if (!parsed.ok) return parsed.maKetQua === RESULT.DTD_REFUSED ? parsed : reject(RESULT.TABLE_STRUCTURE, MESSAGES.table(table, `NOIDUNGFILE: ${parsed.thongDiep}`));
      const records = checkTable(parsed.doc.documentElement, definition);
      if (!records.ok) return records;
      for (const record of records.records) {
        const value = record.get('MA_LK') ?? '';
        if (value === '') return reject(RESULT.MA_LK, MESSAGES.maLkMissing(table));
        if (maLk === undefined) maLk = value;
        else if (value !== maLk) return reject(RESULT.MA_LK, MESSAGES.maLkMismatch(table));
      }
      if (table === 'XML1') {
        const cskcb = records.records[0]?.get('MA_CSKCB') ?? '';
        if (cskcb !== facility) return envelope(`MA_CSKCB của XML1 (${cskcb || 'rỗng'}) không khớp với MACSKCB (${facility})`);
      }
    }
    if (xml1Count === 0) return reject(RESULT.TABLE_STRUCTURE, MESSAGES.table('XML1', `hồ sơ${where} không có bảng XML1 (bắt buộc)`));
    if (maLk !== undefined && !maLks.includes(maLk)) maLks.push(maLk);
  }
  return { ok: true, maLks };
}

/** CHI_TIEU_TRANG_THAI_KCB / DSACH_TRANG_THAI_KCB / TRANG_THAI_KCB*, then CHUKYDONVI (§1.1, §2.1). */
export function checkCheckin(doc: Document, facility: string, standard: XmlStandard): Structure | Rejection {
  const definition = tableDefinitions(standard).find((d) => d.table === 'XML0');
  if (!definition?.list || !definition.item) throw new Error(`no XML0 definition for QĐ ${standard}`);
  const root = doc.documentElement;
  const envelope = (detail: string) => reject(RESULT.ENVELOPE_STRUCTURE, MESSAGES.envelope(detail));
  if (root.nodeName !== definition.root || root.namespaceURI) return envelope(`phần tử gốc phải là ${definition.root} (không có namespace), nhận được ${root.nodeName}`);
  const top = children(root);
  if (!top.ok) return envelope(top.detail);
  if (names(top.elements) !== `${definition.list},CHUKYDONVI`) {
    return envelope(`${definition.root} phải gồm ${definition.list} rồi CHUKYDONVI (phần tử cuối); nhận được ${names(top.elements) || '(rỗng)'}`);
  }
  const records = checkTable(root, definition, true);
  if (!records.ok) return records;
  const maLks: string[] = [];
  for (const [index, record] of records.records.entries()) {
    const maLk = record.get('MA_LK') ?? '';
    if (maLk === '') return reject(RESULT.MA_LK, MESSAGES.maLkMissing('XML0'));
    if (!maLks.includes(maLk)) maLks.push(maLk);
    const cskcb = record.get('MA_CSKCB') ?? '';
    if (cskcb !== facility) return envelope(`MA_CSKCB của bản ghi check-in thứ ${index + 1} (${cskcb || 'rỗng'}) không khớp với maCSKCB gửi kèm (${facility})`);
  }
  return { ok: true, maLks };
}

type Records = { ok: true; records: Map<string, string>[] } | Rejection;

/**
 * A table document against its definition: root, list and item names, and in each record exactly
 * the definition's field elements in its order (empty ones included, §1.3), each holding text only.
 * `trailer`: the root may end with CHUKYDONVI (the check-in file, whose signature is checked apart).
 */
function checkTable(root: Element, definition: TableDefinition, trailer = false): Records {
  const fail = (detail: string): Rejection => reject(RESULT.TABLE_STRUCTURE, MESSAGES.table(definition.table, detail));
  if (root.nodeName !== definition.root || root.namespaceURI) return fail(`phần tử gốc phải là ${definition.root}, nhận được ${root.nodeName}`);
  const top = children(root);
  if (!top.ok) return fail(top.detail);
  let recordElements: Element[];
  if (definition.repeats && definition.list && definition.item) {
    const own = trailer ? top.elements.slice(0, -1) : top.elements;
    if (names(own) !== definition.list) return fail(`${definition.root} phải chứa đúng một ${definition.list}; nhận được ${names(own) || '(rỗng)'}`);
    const items = children(own[0]);
    if (!items.ok) return fail(items.detail);
    if (items.elements.length === 0) return fail(`${definition.list} không có bản ghi ${definition.item} nào`);
    const stray = items.elements.find((e) => e.nodeName !== definition.item);
    if (stray) return fail(`${definition.list} chỉ chứa ${definition.item}; gặp ${stray.nodeName}`);
    recordElements = items.elements;
  } else {
    recordElements = [root];
  }
  const expected = definition.fields.map((f) => f.name);
  const records: Map<string, string>[] = [];
  for (const [index, element] of recordElements.entries()) {
    const where = definition.repeats ? `${definition.item}[${index + 1}]` : definition.root;
    const fields = children(element);
    if (!fields.ok) return fail(`${where}: ${fields.detail}`);
    const got = fields.elements.map((e) => e.nodeName);
    for (let i = 0; i < Math.max(got.length, expected.length); i++) {
      if (got[i] === expected[i]) continue;
      if (got[i] === undefined) return fail(`${where}: thiếu phần tử ${expected[i]} (và các phần tử sau nó)`);
      if (expected[i] === undefined) return fail(`${where}: phần tử thừa ${got[i]} sau ${expected[expected.length - 1]}`);
      if (!expected.includes(got[i])) return fail(`${where}: phần tử ${got[i]} không thuộc bảng ${definition.table}`);
      return fail(`${where}: sai thứ tự phần tử — vị trí ${i + 1} phải là ${expected[i]}, nhận được ${got[i]}`);
    }
    const record = new Map<string, string>();
    for (const field of fields.elements) {
      const text = textOf(field);
      if (text === undefined || field.namespaceURI) return fail(`${where}/${field.nodeName}: phần tử dữ liệu chỉ chứa văn bản`);
      record.set(field.nodeName, text);
    }
    records.push(record);
  }
  return { ok: true, records };
}

/** Element children; whitespace and comments between them are tolerated, other text is not. */
function children(parent: Element): { ok: true; elements: Element[] } | { ok: false; detail: string } {
  const elements: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) elements.push(n as Element);
    else if ((n.nodeType === 3 || n.nodeType === 4) && (n.nodeValue ?? '').trim() !== '') return { ok: false, detail: `${parent.nodeName} chứa văn bản lẫn phần tử con` };
  }
  return { ok: true, elements };
}

/** Text and CDATA of an element without element children; undefined when it has some. */
function textOf(element: Element): string | undefined {
  let text = '';
  for (let n = element.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) return undefined;
    if (n.nodeType === 3 || n.nodeType === 4) text += n.nodeValue ?? '';
  }
  return text;
}

function names(elements: readonly Element[]): string {
  return elements.map((e) => e.nodeName).join(',');
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/^\[xmldom [^\]]*\]\s*/, '').slice(0, 200);
}
