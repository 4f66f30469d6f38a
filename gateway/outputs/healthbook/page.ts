import type { Page } from '../../http/app.js';
import type { Database } from '../../store/database.js';
import { Repository } from '../../store/repository.js';
import { html, page, type Html } from '../html.js';
import { healthBook, type CompiledBook, type SectionDefinition } from './definition.js';
import { instanceTitle } from './document.js';
import { fullRecompute } from './maintain.js';
import { BookParts } from './parts.js';
import type { BookPart, BookRow } from './projection.js';

/**
 * `GET /book/{patientId}`: the health book as a person reads it, in Vietnamese, on a phone — the
 * personal data, the history, then a timeline of episodes (newest first), each with its diagnoses,
 * indices, results, drugs, procedures and papers. Drawn from the same parts as `$summary`.
 */
export function bookPage(db: Database, given?: CompiledBook): Page {
  return {
    path: '/book/:patientId',
    async render(params) {
      const book = given ?? healthBook();
      const repo = new Repository(db);
      const patient = await repo.read('Patient', params.patientId);
      if (!patient || patient.deleted) {
        return { status: 404, html: page('Sổ sức khỏe điện tử', 'Không tìm thấy', html`<section><p>Không có sổ sức khỏe nào với mã này.</p></section>`) };
      }
      let parts = await new BookParts(db).ofPatient(params.patientId);
      if (parts.length === 0) parts = await fullRecompute(repo, book, params.patientId);
      return { status: 200, html: renderBook(book, parts) };
    },
  };
}

export function renderBook(book: CompiledBook, parts: BookPart[]): string {
  const shown = parts.filter((p) => !p.withheld);
  const own = shown.find((p) => p.key.startsWith('patient/'));
  const episodes = shown.filter((p) => p.key.startsWith('episode/')).reverse();
  const name = own?.sections['hanh-chinh']?.[0]?.HO_TEN ?? '';
  const patientSections = book.sections.filter((s) => s.scope !== 'episode');
  const episodeSection = book.sections.find((s) => s.layout === 'episodes');
  const perEpisode = book.sections.filter((s) => s.scope !== 'patient' && s.layout !== 'episodes');
  const body = html`${patientSections.map((s) => {
    // Block A and B: the patient's own records; a diagnosis made during an episode is shown with it.
    const rows = own?.sections[s.key] ?? [];
    if (rows.length === 0 && s.block === 'A' && s.layout !== 'fields') return '';
    return html`<section data-section="${s.key}"><h2>${s.title}</h2>${rows.length === 0 ? html`<p class="muted">${s.empty ?? 'Không có thông tin'}</p>` : s.layout === 'fields' ? fields(s, rows[0]) : table(s, rows)}</section>`;
  })}
<section data-section="${episodeSection?.key ?? ''}"><h2>${episodeSection?.title ?? ''}</h2>${episodes.length === 0 ? html`<p class="muted">${episodeSection?.empty ?? ''}</p>` : ''}</section>
${episodes.map((part) => {
    const row = episodeSection ? part.sections[episodeSection.key]?.[0] : undefined;
    return html`<article data-episode="${part.key.slice('episode/'.length)}"><h2>${row && episodeSection ? instanceTitle(episodeSection, row) : ''}</h2>${row && episodeSection ? fields(episodeSection, row) : ''}${perEpisode.map((s) => {
      const rows = part.sections[s.key] ?? [];
      if (rows.length === 0) return '';
      return html`<h3>${s.title}</h3>${s.layout === 'papers' ? rows.map((r) => html`<details data-paper="${r[s.instanceCode?.codeColumn ?? ''] ?? ''}"><summary>${instanceTitle(s, r)}</summary>${fields(s, r)}</details>`) : table(s, rows)}`;
    })}</article>`;
  })}`;
  return page('Sổ sức khỏe điện tử', name ? `${name} — ${episodes.length} đợt khám bệnh, chữa bệnh` : `${episodes.length} đợt khám bệnh, chữa bệnh`, body);
}

function fields(s: SectionDefinition, row: BookRow): Html {
  return html`<dl>${s.columns.filter((c) => row[c.name]).map((c) => html`<dt>${c.label}</dt><dd data-field="${c.name}">${lines(row[c.name])}</dd>`)}</dl>`;
}

function table(s: SectionDefinition, rows: BookRow[]): Html {
  return html`<div class="scroll"><table><thead><tr>${s.columns.map((c) => html`<th>${c.label}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${s.columns.map((c) => html`<td data-field="${c.name}">${lines(r[c.name] ?? '')}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

function lines(text: string): Html[] {
  return text.split(/\r\n|\r|\n/).map((line, i) => html`${i > 0 ? html`<br>` : ''}${line}`);
}
