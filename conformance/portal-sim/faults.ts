import { seededRandom } from '../../gateway/tools/seeded-random.js';

/**
 * Faults the simulated portal injects into submission requests, drawn from a seeded PRNG so that a
 * test sees the same sequence of outcomes every run. Every submission request draws the same
 * number of values in the same order, whatever happens to it, so the n-th request's fate depends
 * only on the seed and n (send requests one after the other to rely on that).
 */
export interface Faults {
  /** Answer HTTP 500, 502 or 503 before looking at the request (nothing is recorded). */
  failRate?: number;
  /** Read the request, never answer (the client must time out); nothing is recorded. */
  timeoutRate?: number;
  /** Delay every submission answer by this many milliseconds. */
  slowMs?: number;
  /** Destroy the socket as soon as the request arrives, before its body is read. */
  dropRate?: number;
  /** A final business rejection (see codes.ts BUSINESS_REJECTIONS) of a file that passed every check. */
  rejectRate?: number;
  /** Accept and record the file, then destroy the socket instead of answering: the client must resend. */
  dropAfterAcceptRate?: number;
  /** Accept and record the file, then never answer: the client times out, and must resend. */
  timeoutAfterAcceptRate?: number;
  /** Seed of the PRNG; setting faults restarts the sequence from it (default 4750). */
  seed?: number;
}

export const DEFAULT_SEED = 4750;

const RATES = ['failRate', 'timeoutRate', 'dropRate', 'rejectRate', 'dropAfterAcceptRate', 'timeoutAfterAcceptRate'] as const;

/** What one submission request is in for. */
export interface FaultDraw {
  /** Before reading the body. */
  drop: boolean;
  /** After reading the body, before checking it. */
  fail?: 500 | 502 | 503;
  timeout: boolean;
  /** For a new file that passed every check: index into BUSINESS_REJECTIONS. */
  reject?: number;
  /** After a "200" verdict was recorded. */
  dropAfterAccept: boolean;
  timeoutAfterAccept: boolean;
  slowMs: number;
}


export class FaultSchedule {
  private faults: Faults = {};
  private random = seededRandom(DEFAULT_SEED);

  constructor(faults: Faults = {}) {
    this.set(faults);
  }

  set(faults: Faults): void {
    this.faults = validateFaults(faults);
    this.random = seededRandom(this.faults.seed ?? DEFAULT_SEED);
  }

  get(): Faults {
    return { ...this.faults };
  }

  /** Eight values per request, always, in this order. */
  draw(rejections: number): FaultDraw {
    const f = this.faults;
    const [fail, timeout, drop, reject, dropAfter, timeoutAfter, status, which] = Array.from({ length: 8 }, () => this.random());
    const pre = drop < (f.dropRate ?? 0) ? 'drop' : fail < (f.failRate ?? 0) ? 'fail' : timeout < (f.timeoutRate ?? 0) ? 'timeout' : undefined;
    const post = dropAfter < (f.dropAfterAcceptRate ?? 0) ? 'drop' : timeoutAfter < (f.timeoutAfterAcceptRate ?? 0) ? 'timeout' : undefined;
    return {
      drop: pre === 'drop',
      ...(pre === 'fail' ? { fail: ([500, 502, 503] as const)[Math.floor(status * 3)] } : {}),
      timeout: pre === 'timeout',
      ...(reject < (f.rejectRate ?? 0) ? { reject: Math.floor(which * rejections) } : {}),
      dropAfterAccept: post === 'drop',
      timeoutAfterAccept: post === 'timeout',
      slowMs: f.slowMs ?? 0,
    };
  }
}

export class FaultsError extends Error {
  override readonly name = 'FaultsError';
}

/** Rates in [0, 1], slowMs ≥ 0, an integer seed; unknown keys refused (a typo must not pass silently). */
export function validateFaults(input: unknown): Faults {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new FaultsError('faults must be a JSON object');
  const out: Faults = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === undefined) continue;
    if ((RATES as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new FaultsError(`${key} must be a number from 0 to 1`);
      out[key as (typeof RATES)[number]] = value;
    } else if (key === 'slowMs') {
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new FaultsError('slowMs must be a number ≥ 0');
      out.slowMs = value;
    } else if (key === 'seed') {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new FaultsError('seed must be an integer');
      out.seed = value;
    } else {
      throw new FaultsError(`unknown fault "${key}" (known: ${[...RATES, 'slowMs', 'seed'].join(', ')})`);
    }
  }
  return out;
}
