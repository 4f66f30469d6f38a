import { textIn, type Language } from '../fhir/outcome.js';
import type { Page } from '../http/app.js';
import { html, page } from '../outputs/html.js';
import type { Database } from '../store/database.js';
import type { FacilityCredentials } from './credentials.js';
import { allReadiness, STEPS, type Readiness, type StepStatus } from './readiness.js';
import type { FacilityRegistry } from './registry.js';

/**
 * `GET /readiness`: every facility's onboarding checklist on one page, for a Department of Health
 * officer — one card per facility, one line per step, a mark and a word for its state (colour is
 * never the only signal), what is missing said in plain Vietnamese.
 */
const MARK: Record<StepStatus, { mark: string; vi: string; en: string }> = {
  done: { mark: '✓', vi: 'Đạt', en: 'Done' },
  warning: { mark: '!', vi: 'Cần chú ý', en: 'Attention' },
  failed: { mark: '✗', vi: 'Không đạt', en: 'Failed' },
  pending: { mark: '…', vi: 'Chưa có', en: 'Not yet' },
};

export function readinessPage(db: Database, registry: FacilityRegistry, credentials: FacilityCredentials): Page {
  return {
    path: '/readiness',
    async render(_params, _query, lang) {
      const list = await allReadiness(db, registry, credentials, new Date());
      return { status: 200, html: render(list, lang) };
    },
  };
}

export function render(list: Readiness[], lang: Language): string {
  const ready = list.filter((r) => r.ready).length;
  const title = lang === 'en' ? 'Facility onboarding — electronic health book' : 'Sẵn sàng liên thông Sổ sức khỏe điện tử';
  const subtitle = lang === 'en' ? `${ready} of ${list.length} facilities ready` : `${ready}/${list.length} cơ sở đã sẵn sàng`;
  const body = html`${list.length === 0 ? html`<section><p>${lang === 'en' ? 'No facility yet.' : 'Chưa có cơ sở nào.'}</p></section>` : ''}${list.map(
    (r) => html`<article data-facility="${r.facility ?? ''}" data-organization="${r.organizationId}" data-ready="${r.ready}">
<h2>${r.name} <span class="badge ${r.ready ? 'ok' : 'pending'}">${r.facility ?? (lang === 'en' ? 'no code yet' : 'chưa có mã')}</span></h2>
<table><tbody>${r.steps.map((s) => {
      const m = MARK[s.status];
      return html`<tr data-step="${s.code}" data-status="${s.status}"><td class="${s.status === 'done' ? 'ok' : s.status}" style="width:7.5rem"><b>${m.mark}</b> ${lang === 'en' ? m.en : m.vi}</td><td>${textIn(s.title, lang)}${s.detail ? html`<div class="muted">${textIn(s.detail, lang)}</div>` : ''}</td></tr>`;
    })}</tbody></table>
</article>`,
  )}<p class="muted">${STEPS.length} ${lang === 'en' ? 'steps of the pilot process (QĐ 2733/QĐ-BYT); the internal regulation is attested by an administrator, every other step is checked by the gateway.' : 'bước của quy trình thí điểm (QĐ 2733/QĐ-BYT); quy chế nội bộ do quản trị viên xác nhận, các bước khác do cổng tự kiểm tra.'}</p>`;
  return page(title, subtitle, body, lang);
}
