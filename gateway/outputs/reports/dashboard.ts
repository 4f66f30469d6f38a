import { FhirError, textIn, type Language } from '../../fhir/outcome.js';
import type { Page } from '../../http/app.js';
import { Repository } from '../../store/repository.js';
import type { Database } from '../../store/database.js';
import { html, page, type Html } from '../html.js';
import { columnChart, pct, shareChart } from './charts.js';
import type { ReportEngine } from './evaluate.js';
import { parseSubject, periodOfLabel } from './parameters.js';
import { CARE_TYPES, rolloutReport, type FacilitySummary, type RolloutReport } from './rollout.js';

/**
 * `GET /reports?period=2025-03&subject=…`: the rollout dashboard for the Department of Health —
 * what it evaluates before the 3rd of every month — in Vietnamese (English with Accept-Language: en):
 * the key figures, episodes sent per day, acceptance rate and 24-hour compliance per facility, the
 * form's table, the top rejection reasons, how patients were identified, and the facilities that sent
 * nothing. `period` is a month or a half-year (`2025-H1`); by default the month before this one.
 */
export function reportsPage(engine: ReportEngine, db: Database): Page {
  return {
    path: '/reports',
    async render(_params, query, lang) {
      try {
        const label = query.get('period') || previousMonth(new Date());
        const period = periodOfLabel(label);
        const subject = await parseSubject(query.get('subject') ?? undefined, new Repository(db));
        const report = await rolloutReport(engine, { period, scope: subject.scope, subject: subject.subject });
        return { status: 200, html: render(report, label, textIn(subject.label, lang), lang) };
      } catch (e) {
        if (!(e instanceof FhirError) || e.status !== 400) throw e;
        const title = lang === 'en' ? 'Rollout report' : 'Báo cáo triển khai Sổ sức khỏe điện tử';
        return { status: 400, html: page(title, lang === 'en' ? 'The request cannot be answered' : 'Không lập được báo cáo', html`<section><p class="failed">${e.issues.map((i) => textIn(i.message, lang)).join('; ')}</p></section>`, lang) };
      }
    },
  };
}

function previousMonth(now: Date): string {
  const local = new Date(now.getTime() + 7 * 3_600_000);
  const d = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

const T = {
  vi: {
    title: 'Báo cáo triển khai Sổ sức khỏe điện tử',
    received: 'Số lượt KCB', sent: 'Đã gửi Cổng', accepted: 'Cổng đã tiếp nhận', rejected: 'Cổng từ chối', pending: 'Đang chờ gửi', invalid: 'Hồ sơ không hợp lệ',
    acceptance: 'Tỷ lệ tiếp nhận', compliance: 'Tiếp nhận trong 24 giờ', missed: 'Quá 24 giờ', median: 'Thời gian đến khi tiếp nhận (trung vị / P95)', hours: 'giờ',
    perDay: 'Số hồ sơ gửi Cổng theo ngày', perFacility: 'Tỷ lệ Cổng tiếp nhận theo cơ sở', deadline: 'Tuân thủ quy định 24 giờ theo cơ sở',
    form: 'Số lượt KCB và số lượt đã gửi theo hình thức KCB', facility: 'Cơ sở', care: 'Hình thức KCB', bhyt: 'BHYT', nonBhyt: 'Không BHYT', episodes: 'Lượt KCB', episodesSent: 'Đã gửi',
    reasons: 'Lý do Cổng từ chối nhiều nhất', none: 'Không có', identity: 'Tiếp nhận người bệnh', cccd: 'CCCD / số định danh cá nhân', card: 'Chỉ thẻ BHYT', other: 'Giấy tờ khác',
    silent: 'Cơ sở chưa có dữ liệu trong kỳ', allHave: 'Mọi cơ sở đều có dữ liệu trong kỳ.', generated: 'lập lúc', noCode: 'chưa có mã',
    note: 'Số liệu tính từ dữ liệu cổng đã nhận: đợt điều trị thuộc kỳ theo thời điểm ra viện (hoặc vào viện nếu chưa kết thúc); trạng thái là của phiên bản hồ sơ mới nhất; 24 giờ tính từ khi kết thúc đến lần đầu Cổng tiếp nhận.',
    ofAnswered: 'của số hồ sơ Cổng đã trả lời', day: 'ngày',
  },
  en: {
    title: 'Health-book rollout report',
    received: 'Episodes', sent: 'Sent to the portal', accepted: 'Accepted', rejected: 'Rejected', pending: 'Waiting to be sent', invalid: 'Invalid files',
    acceptance: 'Acceptance rate', compliance: 'Accepted within 24 hours', missed: 'Missed 24 hours', median: 'Time to acceptance (median / P95)', hours: 'h',
    perDay: 'Files sent to the portal per day', perFacility: 'Acceptance rate per facility', deadline: '24-hour compliance per facility',
    form: 'Episodes and episodes sent by form of care', facility: 'Facility', care: 'Form of care', bhyt: 'BHYT', nonBhyt: 'Non-BHYT', episodes: 'Episodes', episodesSent: 'Sent',
    reasons: 'Top rejection reasons', none: 'None', identity: 'How patients were identified', cccd: 'CCCD / personal ID', card: 'BHYT card only', other: 'Other document',
    silent: 'Facilities without data in the period', allHave: 'Every facility has data in the period.', generated: 'made', noCode: 'no code yet',
    note: 'Computed from what the gateway received: an episode belongs to the period of its end (or start, if not ended); states are the latest file version; 24 hours run from the end to the first acceptance.',
    ofAnswered: 'of the files the portal answered', day: 'day',
  },
};

const n = (v: number) => v.toLocaleString('vi-VN');
const hours = (v: number | undefined, unit: string) => (v === undefined ? '—' : `${v.toFixed(1).replace('.', ',')} ${unit}`);
const facilityName = (f: FacilitySummary['facility'], t: (typeof T)['vi']) => `${f.name ?? f.facility}${f.code ? ` (${f.code})` : f.name ? ` (${t.noCode})` : ''}`;
/** A chart's label: the code first, so that a long name cut short still says which facility. */
const chartLabel = (f: FacilitySummary['facility']) => (f.code ? `${f.code} · ${f.name ?? ''}` : (f.name ?? f.facility));

export function render(r: RolloutReport, label: string, subject: string, lang: Language): string {
  const t = T[lang];
  const tot = r.totals;
  const answered = tot['da-tiep-nhan'] + tot['bi-tu-choi'];
  const share = (v: number) => (r.identification.total ? v / r.identification.total : undefined);
  const withData = r.perFacility.filter((f) => f.figures['initial-population'] > 0);

  const figures = html`<section><h2>${t.received}: ${n(tot['initial-population'])}</h2><dl>
<dt>${t.sent}</dt><dd data-figure="da-gui">${n(tot['da-gui'])}</dd>
<dt>${t.accepted}</dt><dd data-figure="da-tiep-nhan">${n(tot['da-tiep-nhan'])}</dd>
<dt>${t.rejected}</dt><dd data-figure="bi-tu-choi">${n(tot['bi-tu-choi'])}</dd>
<dt>${t.pending}</dt><dd data-figure="dang-cho">${n(tot['dang-cho'])}</dd>
<dt>${t.invalid}</dt><dd data-figure="khong-hop-le">${n(tot['khong-hop-le'])}</dd>
<dt>${t.acceptance}</dt><dd data-figure="ty-le-tiep-nhan">${pct(answered ? tot['da-tiep-nhan'] / answered : undefined)} <span class="muted">${t.ofAnswered}</span></dd>
<dt>${t.compliance}</dt><dd data-figure="tuan-thu-24-gio">${pct(r.timing.compliance)} <span class="muted">(${n(r.timing.onTime)}/${n(r.timing.due)})</span></dd>
<dt>${t.missed}</dt><dd data-figure="tre-han" class="${r.timing.missed ? 'failed' : 'ok'}">${n(r.timing.missed)}</dd>
<dt>${t.median}</dt><dd data-figure="thoi-gian">${hours(r.timing.medianHours, t.hours)} / ${hours(r.timing.p95Hours, t.hours)}</dd>
</dl></section>`;

  const perDay = columnChart('gui-theo-ngay', t.perDay, r.sentPerDay.map((d) => ({ label: d.day.slice(8, 10) + '/' + d.day.slice(5, 7), value: d.count })), { yLabel: t.day });
  const acceptance = shareChart('tiep-nhan-theo-co-so', t.perFacility, withData.map((f) => ({
    label: chartLabel(f.facility), value: f.acceptanceRate ?? 0,
    text: `${pct(f.acceptanceRate)} (${n(f.figures['da-tiep-nhan'])}/${n(f.figures['da-tiep-nhan'] + f.figures['bi-tu-choi'])})`,
  })));
  const deadline = shareChart('tuan-thu-24-gio', t.deadline, withData.map((f) => ({
    label: chartLabel(f.facility), value: f.compliance ?? 0,
    text: `${pct(f.compliance)} · ${t.missed.toLowerCase()} ${n(f.missed)}`,
  })));

  const form = html`<section><h2>${t.form}</h2><div class="scroll"><table id="bang-bieu-mau"><thead>
<tr><th rowspan="2">${t.facility}</th><th rowspan="2">${t.care}</th><th colspan="2">${t.bhyt}</th><th colspan="2">${t.nonBhyt}</th></tr>
<tr><th>${t.episodes}</th><th>${t.episodesSent}</th><th>${t.episodes}</th><th>${t.episodesSent}</th></tr></thead><tbody>
${r.form.filter((row) => row.bhyt['initial-population'] + row.nonBhyt['initial-population'] > 0).map((row) => {
    const care = CARE_TYPES.find((c) => c.code === row.careType)!;
    return html`<tr data-facility="${row.facility.code ?? row.facility.facility}" data-care="${row.careType}"><td>${facilityName(row.facility, t)}</td><td>${lang === 'en' ? care.en : care.vi}</td><td>${n(row.bhyt['initial-population'])}</td><td>${n(row.bhyt['da-gui'])}</td><td>${n(row.nonBhyt['initial-population'])}</td><td>${n(row.nonBhyt['da-gui'])}</td></tr>`;
  })}</tbody></table></div></section>`;

  const reasons = html`<section><h2>${t.reasons}</h2>${r.rejectionReasons.length === 0 ? html`<p>${t.none}</p>` : html`<table id="ly-do-tu-choi"><tbody>${r.rejectionReasons.slice(0, 5).map((x) => html`<tr><td>${x.reason}</td><td style="text-align:right">${n(x.count)}</td></tr>`)}</tbody></table>`}</section>`;
  const identity = html`<section><h2>${t.identity}</h2><dl id="dinh-danh">
<dt>${t.cccd}</dt><dd data-figure="cccd">${pct(share(r.identification.cccd))} (${n(r.identification.cccd)})</dd>
<dt>${t.card}</dt><dd data-figure="the-bhyt">${pct(share(r.identification.theBhyt))} (${n(r.identification.theBhyt)})</dd>
<dt>${t.other}</dt><dd data-figure="khac">${pct(share(r.identification.khac))} (${n(r.identification.khac)})</dd></dl></section>`;
  const silent = html`<section id="khong-du-lieu"><h2>${t.silent}</h2>${r.facilitiesWithoutData.length === 0 ? html`<p class="ok">${t.allHave}</p>` : html`<ul>${r.facilitiesWithoutData.map((f) => html`<li class="failed" data-facility="${f.code ?? f.facility}">${facilityName(f, t)}</li>`)}</ul>`}</section>`;

  const chart = (title: string, c: Html) => html`<section><figure style="margin:0"><figcaption><h2>${title}</h2></figcaption>${c}</figure></section>`;
  const body = html`${figures}${chart(t.perDay, perDay)}${chart(t.perFacility, acceptance)}${chart(t.deadline, deadline)}${form}${reasons}${identity}${silent}<p class="muted">${t.note}</p>`;
  const when = new Date(Date.parse(r.generatedAt) + 7 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
  return page(t.title, `${periodLabel(label, lang)} · ${subject} · ${t.generated} ${when}`, body, lang);
}

function periodLabel(label: string, lang: Language): string {
  const half = /^(\d{4})-H([12])$/.exec(label);
  if (half) return lang === 'en' ? `${half[2] === '1' ? 'First' : 'Second'} half of ${half[1]}` : `6 tháng ${half[2] === '1' ? 'đầu' : 'cuối'} năm ${half[1]}`;
  const [y, m] = label.split('-');
  return lang === 'en' ? `${label}` : `Tháng ${m}/${y}`;
}
