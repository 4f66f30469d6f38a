import { element, escapeText, XML_DECLARATION } from './serialize.js';

/** The element the facility's signature goes into (QĐ 4750 §1.2, §1.5). */
export const SIGNATURE_SLOT = '<CHUKYDONVI></CHUKYDONVI>';

export interface EnvelopeFile {
  /** `XML1` … `XML15` (LOAIHOSO). */
  table: string;
  /** The table document, UTF-8 text with its declaration. */
  document: string;
}

/**
 * The claim file: GIAMDINHHS / THONGTINDONVI / MACSKCB, THONGTINHOSO (NGAYLAP, SOLUONGHOSO,
 * DANHSACHHOSO / HOSO / FILEHOSO: LOAIHOSO and the base64 of each table document), and an empty
 * CHUKYDONVI for the signature. One episode, one HOSO, as every implementation sends (§1.2).
 */
export function claimEnvelope(facility: string, createdOn: string, files: readonly EnvelopeFile[]): string {
  const hoso = files
    .map((f) => element('FILEHOSO', element('LOAIHOSO', f.table) + element('NOIDUNGFILE', Buffer.from(f.document, 'utf8').toString('base64'))))
    .join('');
  const info = element('NGAYLAP', createdOn) + element('SOLUONGHOSO', '1') + element('DANHSACHHOSO', element('HOSO', hoso));
  return `${XML_DECLARATION}${element('GIAMDINHHS', element('THONGTINDONVI', element('MACSKCB', escapeText(facility))) + element('THONGTINHOSO', info) + SIGNATURE_SLOT)}`;
}
