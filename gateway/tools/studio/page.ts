import { textIn, type Language } from '../../fhir/outcome.js';
import type { Page } from '../../http/app.js';
import { html, page, type Html } from '../../outputs/html.js';
import type { BookPart } from '../../outputs/healthbook/projection.js';
import { tableDefinitions, XML_STANDARDS, type XmlStandard } from '../../outputs/xml/table-definition.js';
import type { ResourceValidator } from '../../validation/validator.js';
import type { MappingWatcher } from '../dev/watch.js';
import { formatFinding, lintFolders, type LintFinding } from '../lint/lint.js';
import { StudioInputError, workbench, type Workbench } from './workbench.js';

/**
 * `/studio` (development mode only): the mapping studio. A mapping author pastes or uploads a
 * Bundle, picks a table, and sees side by side the rows the mapping gives, the table's XML, the
 * health book, and every issue with both the FHIR element and the XML field — from the mapping files
 * as they are on disk now (the watcher reloads them on save).
 *
 * It is plain HTML: a form posting back to the page, no script, so the gateway's page policy holds
 * except for `form-action 'self'` (pages elsewhere post nothing). The Bundle is never stored or
 * logged; it only comes back in the form.
 */
export const STUDIO_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface StudioOptions {
  watcher?: MappingWatcher;
  validator?: ResourceValidator;
  defaultStandard: XmlStandard;
}

export function studioPage(options: StudioOptions): Page {
  return {
    path: '/studio',
    policy: STUDIO_POLICY,
    async render(_params, query, lang) {
      const standard = standardOf(query.get('standard'), options.defaultStandard);
      return { status: 200, html: render({ bundle: '', table: query.get('table') ?? 'XML1', standard }, undefined, options, lang) };
    },
    async submit(_params, form, lang) {
      const fields = await new Response(new Uint8Array(form.body), { headers: { 'Content-Type': form.contentType } }).formData();
      const file = fields.get('file');
      const uploaded = typeof file === 'object' && file !== null && file.size > 0 ? await file.text() : undefined;
      const state = {
        bundle: uploaded ?? String(fields.get('bundle') ?? ''),
        table: String(fields.get('table') ?? 'XML1'),
        standard: standardOf(String(fields.get('standard') ?? ''), options.defaultStandard),
      };
      let result: Workbench | string;
      try {
        result = await workbench(state.bundle, state.table, state.standard, options.validator);
      } catch (e) {
        // What was pasted, or a mapping failing on it (two values for one row): said to the author, as it is.
        if (!(e instanceof Error)) throw e;
        result = e instanceof StudioInputError ? e.message : `${e.name}: ${e.message}`;
      }
      return { status: typeof result === 'string' ? 422 : 200, html: render(state, result, options, lang) };
    },
  };
}

const standardOf = (value: string | null, fallback: XmlStandard): XmlStandard => (XML_STANDARDS.includes(value as XmlStandard) ? (value as XmlStandard) : fallback);

interface FormState {
  bundle: string;
  table: string;
  standard: XmlStandard;
}

const STYLE = html`<style>
main { max-width: none; }
.studio { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
textarea { width: 100%; min-height: 14rem; font: 12px/1.4 ui-monospace, monospace; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.4 ui-monospace, monospace; margin: 0; }
td, th { font-size: .85rem; }
.error { color: var(--bad); } .warning { color: var(--warn); } .information { color: var(--muted); }
form p { margin: 6px 0; }
</style>`;

function render(state: FormState, result: Workbench | string | undefined, options: StudioOptions, lang: Language): string {
  const tables = tableDefinitions(state.standard).map((d) => d.table);
  const status = options.watcher?.status();
  const lint = options.watcher?.lint() ?? lintFolders();
  const body = html`${STYLE}
<section data-panel="mappings">
<h2>Mapping files</h2>
${status ? html`<p>Reloaded <b data-generation="${status.generation}">${status.generation}</b> times, last at ${status.loadedAt}.</p>` : html`<p class="muted">Not watched: start the gateway with <code>npm run dev</code> to reload files on save.</p>`}
${status?.error ? html`<p class="error" data-reload-error>The last change does not compile; the previous version is still running: ${status.error.message}</p>` : ''}
${lintList(lint.filter((f) => f.severity === 'error'))}
</section>
<form method="post" action="/studio" enctype="multipart/form-data">
<section>
<h2>Bundle</h2>
<p><label>Paste a FHIR Bundle<br><textarea name="bundle" spellcheck="false">${state.bundle}</textarea></label></p>
<p><label>or upload one <input type="file" name="file" accept=".json,application/json,application/fhir+json"></label></p>
<p><label>Table <select name="table">${tables.map((t) => html`<option value="${t}"${t === state.table ? html` selected` : ''}>${t}</option>`)}</select></label>
<label>Standard <select name="standard">${XML_STANDARDS.map((s) => html`<option value="${s}"${s === state.standard ? html` selected` : ''}>QĐ ${s}</option>`)}</select></label>
<button type="submit">Run</button></p>
</section>
</form>
${typeof result === 'string' ? html`<section data-panel="error"><p class="error">${result}</p></section>` : result ? output(result, lang) : ''}`;
  return page('Mapping studio', 'FHIR → QĐ 130/4750/3176 XML and the health book, from the mapping files on disk', body, 'en');
}

function output(w: Workbench, lang: Language): Html {
  return html`<div class="studio">
<section data-panel="rows"><h2>Rows of ${w.table} (${w.rows.length})</h2>${w.rows.length === 0 ? html`<p class="muted">The mapping gives no row for this Bundle.</p>` : rowsTable(w.columns, w.rows)}</section>
<section data-panel="xml"><h2>${w.table} XML</h2>${w.xml ? html`<pre>${prettyXml(w.xml)}</pre>` : html`<p class="muted">No document: the table has no row.</p>`}</section>
<section data-panel="issues"><h2>Issues (${w.issues.length})</h2>${w.issues.length === 0 ? html`<p class="muted">No issue.</p>` : html`<div class="scroll"><table><thead><tr><th>severity</th><th>message</th><th>XML field</th><th>FHIR element</th></tr></thead><tbody>${w.issues.map(
    (i) => html`<tr data-source="${i.source}"><td class="${i.severity}">${i.severity}</td><td>${textIn(i.message, lang)}</td><td data-location>${i.location ?? ''}</td><td data-expression>${i.expression ?? ''}</td></tr>`,
  )}</tbody></table></div>`}</section>
<section data-panel="book"><h2>Health book</h2>${book(w.book.book.sections, w.book.parts)}</section>
</div>`;
}

function rowsTable(columns: string[], rows: Record<string, unknown>[]): Html {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return html`<div class="scroll"><table><thead><tr><th>#</th>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>${rows.map(
    (r, i) => html`<tr><td>${i + 1}</td>${columns.map((c) => html`<td data-column="${c}">${cell(r[c])}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

function book(sections: Workbench['book']['book']['sections'], parts: BookPart[]): Html {
  if (parts.some((p) => p.withheld)) return html`<p class="muted" data-withheld>The episode is withheld from the book (HIV care or a sensitive label).</p>`;
  return html`${sections.map((s) => {
    const rows = parts.flatMap((p) => p.sections[s.key] ?? []);
    if (rows.length === 0) return '';
    return html`<h3 data-section="${s.key}">${s.title}</h3><div class="scroll"><table><thead><tr>${s.columns.map((c) => html`<th>${c.label}</th>`)}</tr></thead><tbody>${rows.map(
      (r) => html`<tr>${s.columns.map((c) => html`<td data-field="${c.name}">${r[c.name] ?? ''}</td>`)}</tr>`,
    )}</tbody></table></div>`;
  })}`;
}

function lintList(findings: LintFinding[]): Html {
  if (findings.length === 0) return html`<p class="ok" data-lint="clean">Lint: no error in mappings/ and profiles/.</p>`;
  return html`<ul data-lint="errors">${findings.map((f) => html`<li class="error">${formatFinding(f)}</li>`)}</ul>`;
}

/** The canonical one-line XML, indented for reading: a leaf element on one line. */
export function prettyXml(xml: string): string {
  const out: string[] = [];
  let depth = 0;
  const tokens = xml.match(/<[^>]+>|[^<]+/g) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.startsWith('<?')) out.push(t);
    else if (t.startsWith('</')) out.push(`${'  '.repeat(--depth)}${t}`);
    else if (t.startsWith('<') && t.endsWith('/>')) out.push(`${'  '.repeat(depth)}${t}`);
    else if (t.startsWith('<')) {
      // <X>text</X> or <X></X>: one line.
      const text = tokens[i + 1] && !tokens[i + 1].startsWith('<') ? tokens[i + 1] : '';
      const close = tokens[i + (text ? 2 : 1)];
      if (close?.startsWith('</')) {
        out.push(`${'  '.repeat(depth)}${t}${text}${close}`);
        i += text ? 2 : 1;
      } else out.push(`${'  '.repeat(depth++)}${t}`);
    }
  }
  return out.join('\n');
}
