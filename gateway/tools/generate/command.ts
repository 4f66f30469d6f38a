import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { EpisodeGenerator, type EpisodeKind } from './episodes.js';

export const GENERATE_USAGE = `  npm run cli -- generate [--kind outpatient|inpatient] [--count 100] [--entries 150] [--patients N] [--seed 1]
                        [--facilities 20] [--format ndjson|bundles] [--out generated]
      realistic test episodes as FHIR transaction bundles (deterministic for a seed): one bundle per line in
      <out>.ndjson, or one file per bundle in the folder <out>; --patients spreads the episodes over N people`;

/** `npm run cli -- generate`: writes the bundles with a progress bar on the terminal. */
export async function generateCommand(args: string[], usage: string): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        kind: { type: 'string', default: 'outpatient' },
        count: { type: 'string', default: '100' },
        entries: { type: 'string' },
        patients: { type: 'string' },
        seed: { type: 'string', default: '1' },
        facilities: { type: 'string', default: '20' },
        format: { type: 'string', default: 'ndjson' },
        out: { type: 'string', default: 'generated' },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const count = wholeNumber(values.count, 1);
  const seed = wholeNumber(values.seed, 0);
  const facilities = wholeNumber(values.facilities, 1);
  const entries = values.entries === undefined ? undefined : wholeNumber(values.entries, 10);
  const patients = values.patients === undefined ? undefined : wholeNumber(values.patients, 1);
  const problems = [
    values.kind !== 'outpatient' && values.kind !== 'inpatient' && '--kind must be outpatient or inpatient',
    values.format !== 'ndjson' && values.format !== 'bundles' && '--format must be ndjson or bundles',
    count === undefined && '--count must be a whole number of at least 1',
    seed === undefined && '--seed must be a whole number',
    facilities === undefined && '--facilities must be a whole number of at least 1',
    values.entries !== undefined && entries === undefined && '--entries must be a whole number of at least 10',
    entries !== undefined && values.kind !== 'inpatient' && '--entries applies to --kind inpatient',
    values.patients !== undefined && patients === undefined && '--patients must be a whole number of at least 1',
  ].filter(Boolean);
  if (problems.length) {
    console.error(`${problems.join('\n')}\n${usage}`);
    return 2;
  }
  const generator = new EpisodeGenerator({ seed: seed!, facilities });
  const kind = values.kind as EpisodeKind;
  const bar = progressBar(count!);
  let written: string;
  if (values.format === 'ndjson') {
    written = `${values.out}.ndjson`;
    const out = createWriteStream(written);
    for (let index = 0; index < count!; index++) {
      const line = `${JSON.stringify(generator.episode({ kind, index, entries, patient: patients ? index % patients : undefined }))}\n`;
      if (!out.write(line)) await once(out, 'drain');
      bar(index + 1);
    }
    out.end();
    await once(out, 'finish');
  } else {
    written = values.out!;
    mkdirSync(written, { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    const width = String(count! - 1).length;
    for (let index = 0; index < count!; index++) {
      const bundle = generator.episode({ kind, index, entries, patient: patients ? index % patients : undefined });
      await writeFile(join(written, `${kind}-${String(index).padStart(width, '0')}.json`), `${JSON.stringify(bundle, null, 2)}\n`);
      bar(index + 1);
    }
  }
  console.log(`${count} ${kind} bundles (seed ${seed}) in ${written}`);
  return 0;
}

function wholeNumber(text: string | undefined, min: number): number | undefined {
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min ? n : undefined;
}

/** A one-line bar on stderr when it is a terminal (redrawn at most every 100 ms), silent otherwise. */
export function progressBar(total: number, stream: NodeJS.WriteStream = process.stderr): (done: number) => void {
  if (!stream.isTTY) return () => {};
  let last = 0;
  return (done) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const filled = Math.round((done / total) * width);
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
  };
}
