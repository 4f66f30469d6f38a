import type { Simulation, SimulatedEpisode } from '../../gateway/tools/month-simulation.js';

/**
 * What the reports must say about a simulation, counted here from the simulation's plain facts —
 * with this file's own reading of the rules (QĐ 824 forms of care, the 24-hour rule), not the
 * report code's — so that a mistake in a view, a Measure or the SQL shows as a difference.
 */
export const CARE_OF: Record<string, string> = {
  '01': 'kham-benh', '02': 'ngoai-tru', '05': 'ngoai-tru', '08': 'ngoai-tru',
  '03': 'noi-tru', '06': 'noi-tru', '09': 'noi-tru', '04': 'noi-tru-ban-ngay', '07': 'nhan-thuoc-hen', '10': 'khac',
};

export interface Counts {
  received: number;
  built: number;
  invalid: number;
  signed: number;
  sent: number;
  accepted: number;
  rejected: number;
  pending: number;
  notBuilt: number;
}

const zero = (): Counts => ({ received: 0, built: 0, invalid: 0, signed: 0, sent: 0, accepted: 0, rejected: 0, pending: 0, notBuilt: 0 });

export const careType = (e: SimulatedEpisode) => (e.virtual ? 'tu-xa' : CARE_OF[e.careCode]);
export const payer = (e: SimulatedEpisode) => (e.objectCode === '9' ? 'khong-bhyt' : 'bhyt');

/** In the month (Vietnam time) by its end, or its start when not ended. */
export function inMonth(e: SimulatedEpisode, month: string): boolean {
  const [y, m] = month.split('-').map(Number);
  const from = Date.UTC(y, m - 1, 1, -7);
  const to = Date.UTC(y, m, 1, -7);
  const t = Date.parse(e.end ?? e.start);
  return t >= from && t < to;
}

export function count(episodes: SimulatedEpisode[]): Counts {
  const c = zero();
  for (const e of episodes) {
    c.received++;
    const latest = e.dossiers[e.dossiers.length - 1];
    if (!latest) {
      c.notBuilt++;
      continue;
    }
    c.built++;
    if (e.dossiers.some((d) => d.signed)) c.signed++;
    if (e.dossiers.some((d) => d.sentAt)) c.sent++;
    if (latest.status === 'invalid') c.invalid++;
    if (latest.status === 'accepted') c.accepted++;
    if (latest.status === 'rejected') c.rejected++;
    if (['queued', 'sending', 'held'].includes(latest.status)) c.pending++;
  }
  return c;
}

export function firstAcceptance(e: SimulatedEpisode): number | undefined {
  const times = e.dossiers.filter((d) => d.acceptedAt).map((d) => Date.parse(d.acceptedAt!));
  return times.length ? Math.min(...times) : undefined;
}

export function deadline(episodes: SimulatedEpisode[], now: Date): { due: number; onTime: number; missed: number } {
  let due = 0;
  let onTime = 0;
  let missed = 0;
  for (const e of episodes) {
    if (!e.end) continue;
    const limit = Date.parse(e.end) + 24 * 3_600_000;
    const accepted = firstAcceptance(e);
    if (accepted === undefined && limit > now.getTime()) continue;
    due++;
    if (accepted !== undefined && accepted <= limit) onTime++;
    else missed++;
  }
  return { due, onTime, missed };
}

/** Hours from the end to the first acceptance; percentile with linear interpolation (as a statistician computes it). */
export function hoursPercentile(episodes: SimulatedEpisode[], p: number): number | undefined {
  const hours = episodes.filter((e) => e.end && firstAcceptance(e) !== undefined).map((e) => (firstAcceptance(e)! - Date.parse(e.end!)) / 3_600_000).sort((a, b) => a - b);
  if (hours.length === 0) return undefined;
  const rank = p * (hours.length - 1);
  const lo = Math.floor(rank);
  return hours[lo] + (hours[Math.min(lo + 1, hours.length - 1)] - hours[lo]) * (rank - lo);
}

export function month(sim: Simulation, filter: (e: SimulatedEpisode) => boolean = () => true): SimulatedEpisode[] {
  return sim.episodes.filter((e) => inMonth(e, sim.month) && filter(e));
}

export function rejectionReasons(episodes: SimulatedEpisode[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of episodes) {
    const latest = e.dossiers[e.dossiers.length - 1];
    if (latest?.status !== 'rejected') continue;
    const reason = `${latest.receipt!.maKetQua}: ${latest.receipt!.thongDiep}`;
    out.set(reason, (out.get(reason) ?? 0) + 1);
  }
  return out;
}

/** Local (UTC+7) calendar day of an instant. */
export const localDay = (iso: string) => new Date(Date.parse(iso) + 7 * 3_600_000).toISOString().slice(0, 10);
