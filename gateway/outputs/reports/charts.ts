import { html, type Html } from '../html.js';

/**
 * Charts as inline SVG made on the server: the pages run no script and load nothing (their CSP
 * forbids both), and an officer's phone or an old office browser draws SVG as it is. Each chart
 * carries its title and a description for screen readers, and prints its numbers beside the bars:
 * a colour is never the only way to read it.
 */
export interface Bar {
  label: string;
  value: number;
  /** What is printed at the end of the bar (the value by default). */
  text?: string;
  tone?: 'ok' | 'warn' | 'bad' | 'accent';
}

const TONE = { ok: '#1f7a3d', warn: '#a15c00', bad: '#b3261e', accent: '#0b5cad' };

/** Vertical bars over time (one per day): episodes sent per day. */
export function columnChart(id: string, title: string, bars: Bar[], options: { height?: number; yLabel?: string } = {}): Html {
  const width = 720;
  const height = options.height ?? 220;
  const pad = { top: 16, right: 8, bottom: 34, left: 44 };
  const max = Math.max(1, ...bars.map((b) => b.value));
  const top = niceCeiling(max);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const step = plotW / Math.max(1, bars.length);
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  const ticks = [0, top / 2, top];
  const every = Math.max(1, Math.ceil(bars.length / 16));
  return html`<svg id="${id}" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">
<title id="${id}-title">${title}</title><desc id="${id}-desc">${bars.map((b) => `${b.label}: ${b.text ?? b.value}`).join('; ')}</desc>
${ticks.map((t) => html`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(t)}" y2="${y(t)}" stroke="#d8dee6"/><text x="${pad.left - 6}" y="${y(t) + 4}" text-anchor="end" fill="#5b6775">${fmt(t)}</text>`)}
${bars.map((b, i) => {
    const h = Math.max(0, y(0) - y(b.value));
    const x = pad.left + i * step + step * 0.15;
    return html`<rect data-label="${b.label}" data-value="${b.value}" x="${x.toFixed(1)}" y="${y(b.value).toFixed(1)}" width="${(step * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${TONE[b.tone ?? 'accent']}"><title>${b.label}: ${b.text ?? b.value}</title></rect>${i % every === 0 ? html`<text x="${(x + step * 0.35).toFixed(1)}" y="${height - pad.bottom + 14}" text-anchor="middle" fill="#5b6775">${b.label}</text>` : ''}`;
  })}
${options.yLabel ? html`<text x="${pad.left}" y="${height - 4}" fill="#5b6775">${options.yLabel}</text>` : ''}
</svg>`;
}

/** Horizontal bars of shares (0–1), one per facility: acceptance rate, 24-hour compliance. */
export function shareChart(id: string, title: string, bars: (Bar & { value: number })[]): Html {
  const width = 720;
  const row = 26;
  const labelW = 250;
  const textW = 120;
  const height = bars.length * row + 24;
  const plotW = width - labelW - textW;
  return html`<svg id="${id}" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">
<title id="${id}-title">${title}</title><desc id="${id}-desc">${bars.map((b) => `${b.label}: ${b.text ?? pct(b.value)}`).join('; ')}</desc>
${[0, 0.5, 1].map((t) => html`<line x1="${labelW + t * plotW}" x2="${labelW + t * plotW}" y1="4" y2="${height - 18}" stroke="#d8dee6"/><text x="${labelW + t * plotW}" y="${height - 4}" text-anchor="middle" fill="#5b6775">${pct(t)}</text>`)}
${bars.map((b, i) => {
    const yTop = 6 + i * row;
    const w = Math.max(0, Math.min(1, b.value)) * plotW;
    return html`<text x="${labelW - 8}" y="${yTop + 15}" text-anchor="end" fill="#1d2733">${truncate(b.label, 30)}</text><rect data-label="${b.label}" data-value="${b.value.toFixed(4)}" x="${labelW}" y="${yTop + 3}" width="${w.toFixed(1)}" height="${row - 10}" fill="${TONE[b.tone ?? tone(b.value) ?? 'accent']}"><title>${b.label}: ${b.text ?? pct(b.value)}</title></rect><text x="${(labelW + w + 6).toFixed(1)}" y="${yTop + 15}" fill="#1d2733">${b.text ?? pct(b.value)}</text>`;
  })}
</svg>`;
}

export const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1).replace('.', ',')} %`);

const tone = (v: number): Bar['tone'] => (v >= 0.95 ? 'ok' : v >= 0.8 ? 'warn' : 'bad');

function niceCeiling(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = (v: number) => (Number.isInteger(v) ? v.toLocaleString('vi-VN') : v.toFixed(1));
const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
