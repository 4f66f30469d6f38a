import { badRequest } from './outcome.js';

/**
 * A query string as ordered name/value pairs. URLSearchParams would turn a malformed escape
 * (`name=%E0%A4%A`) into U+FFFD, so a search or a condition would quietly look for something the
 * client never sent: refused instead, naming where it came from.
 */
export function parseQueryString(query: string, where?: string): [string, string][] {
  for (const part of query.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw badRequest({ vi: `Mã hoá phần trăm sai trong truy vấn: "${part}"`, en: `Malformed percent-encoding in the query: "${part}"` }, where);
    }
  }
  return [...new URLSearchParams(query)];
}
