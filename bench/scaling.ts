import { EpisodeGenerator } from '../gateway/tools/generate/episodes.js';
import { post } from './ingest.js';

/**
 * Time per entry as a transaction grows: inpatient stays of 10, 100 and 1,000 entries posted one at
 * a time to the gateway (the median of `rounds` bundles of each size). Reference resolution, conditional
 * creates and index upkeep must stay linear, so the time per entry must stay flat.
 */
export interface ScalingPoint {
  entries: number;
  msPerBundle: number;
  msPerEntry: number;
}

export async function scalingBench(base: string, rounds: Record<number, number> = { 10: 40, 100: 10, 1000: 4 }): Promise<ScalingPoint[]> {
  const generator = new EpisodeGenerator({ seed: 1000, facilities: 3 });
  let index = 0;
  // Warm-up at each size, so that the first bundle's facility, staff and JIT do not count.
  for (const entries of Object.keys(rounds).map(Number)) await post(base, JSON.stringify(generator.episode({ kind: 'inpatient', index: index++, entries })));
  const out: ScalingPoint[] = [];
  for (const [size, count] of Object.entries(rounds)) {
    const entries = Number(size);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const text = JSON.stringify(generator.episode({ kind: 'inpatient', index: index++, entries }));
      const start = performance.now();
      await post(base, text);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    out.push({ entries, msPerBundle: median, msPerEntry: median / entries });
  }
  return out;
}
