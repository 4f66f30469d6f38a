/**
 * The few things every page of the gateway shares: escaping, and one document shell that reads well
 * on a phone (no script, no external resource: the pages are served with a CSP that forbids both).
 */
export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Template literal that escapes every interpolated value unless it is already `Html`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return escapeHtml(v);
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6775; --line: #d8dee6; --ok: #1f7a3d; --warn: #a15c00; --bad: #b3261e; --wait: #6b7280; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); background: #f5f7fa; }
header { background: var(--accent); color: #fff; padding: 14px 16px; }
header h1 { margin: 0; font-size: 1.25rem; }
header p { margin: 4px 0 0; opacity: .9; font-size: .9rem; }
main { max-width: 960px; margin: 0 auto; padding: 12px; }
section, article { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; margin: 12px 0; }
h2 { font-size: 1.1rem; margin: 0 0 8px; }
h3 { font-size: 1rem; margin: 12px 0 6px; }
dl { display: grid; grid-template-columns: minmax(8rem, 40%) 1fr; gap: 4px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 4px; text-align: left; vertical-align: top; }
.ok { color: var(--ok); } .warning { color: var(--warn); } .failed { color: var(--bad); } .pending { color: var(--wait); }
.badge { display: inline-block; border-radius: 999px; padding: 1px 8px; font-size: .8rem; border: 1px solid currentColor; }
.muted { color: var(--muted); font-size: .9rem; }
.scroll { overflow-x: auto; }
@media (max-width: 560px) { dl { grid-template-columns: 1fr; } dt { margin-top: 6px; } }
`;

export function page(title: string, subtitle: string | Html, body: Html, lang = 'vi'): string {
  return `<!doctype html>${html`<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><style>${new Html(STYLE)}</style></head><body><header><h1>${title}</h1><p>${subtitle}</p></header><main>${body}</main></body></html>`}`;
}
