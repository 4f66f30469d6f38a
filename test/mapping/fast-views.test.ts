import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Bundle, Coverage, Encounter, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { gatherEpisode, type Episode } from '../../gateway/mapping/episode.js';
import { compileMapping, tableMappings } from '../../gateway/mapping/mappings.js';
import { bundleSource } from '../../gateway/mapping/sources.js';
import { buildClaimFile, episodeVariables } from '../../gateway/outputs/xml/claim-file.js';
import { XML_STANDARDS } from '../../gateway/outputs/xml/table-definition.js';
import { CASES_DIR } from '../../conformance/cases.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { mutants } from '../support/mutants.js';

/**
 * The mapping files on the fast path (fast-fhirpath.ts) give exactly the rows fhirpath.js gives: every
 * view of every standard, on every episode of the examples (and of the golden cases' inputs), with the
 * variables the claim file binds (%XMLn being the typed rows of the tables built before it); then on
 * thousands of mutants of those episodes, each with one element of one resource removed. And every
 * mapping does compile to the fast path, so that a new one silently running ~20× slower is noticed here.
 */

const NOW = new Date('2025-06-01T03:00:00Z');


/** The example bundles, and the golden cases' inputs (read only; one being written and not yet JSON is skipped). */
function bundles(): { name: string; bundle: Bundle }[] {
  const out: { name: string; bundle: Bundle }[] = [];
  for (const file of readdirSync(join(PROFILES_DIR, 'examples')).filter((f) => f.endsWith('.json')).sort()) {
    out.push({ name: file, bundle: JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', file), 'utf8')) as Bundle });
  }
  for (const dir of readdirSync(CASES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    try {
      out.push({ name: `case ${dir.name}`, bundle: JSON.parse(readFileSync(join(CASES_DIR, dir.name, 'input.json'), 'utf8')) as Bundle });
    } catch {
      // not there, or being edited
    }
  }
  return out;
}

/** The episode with `original` replaced by `mutant` everywhere it is held. */
function withMutant(episode: Episode, original: Resource, mutant: Resource): Episode {
  const swap = <T>(r: T): T => ((r as unknown) === original ? (mutant as T) : r);
  const byReference = new Map(episode.byReference);
  byReference.set(`${mutant.resourceType}/${mutant.id}`, mutant);
  return {
    encounter: swap(episode.encounter) as Encounter,
    patient: episode.patient && (swap(episode.patient) as Patient),
    coverages: episode.coverages.map(swap) as Coverage[],
    resources: episode.resources.map(swap),
    byReference,
  };
}

async function exampleEpisodes(): Promise<{ name: string; episode: Episode }[]> {
  const out: { name: string; episode: Episode }[] = [];
  for (const { name: file, bundle } of bundles()) {
    const { source, resources } = bundleSource(bundle);
    for (const encounter of resources.filter((r) => r.resourceType === 'Encounter')) {
      const episode = await gatherEpisode(source, encounter.id!);
      if (episode) out.push({ name: `${file} Encounter/${encounter.id}`, episode });
    }
  }
  return out;
}

/** Rows, or the error's message: a view failing must fail the same way on both engines. */
function outcome(run: () => unknown): unknown {
  try {
    return run();
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

describe('mapping views on the fast path', () => {
  it('every mapping file compiles to the fast path', () => {
    const slow: string[] = [];
    for (const standard of XML_STANDARDS) {
      for (const mapping of tableMappings(standard)) {
        for (const p of mapping.view.slowPaths) slow.push(`${standard} ${mapping.table} ${p.location}: ${p.reason} in ${p.path}`);
      }
    }
    expect(slow).toEqual([]);
  });

  it('gives the rows fhirpath.js gives, for every view of every standard on every example episode', async () => {
    const episodes = await exampleEpisodes();
    expect(episodes.length).toBeGreaterThanOrEqual(4);
    let rows = 0;
    let evaluated = 0;
    const fellBack: string[] = [];
    const differences: string[] = [];
    for (const standard of XML_STANDARDS) {
      const mappings = tableMappings(standard).map((mapping) => ({
        ...mapping,
        fast: compileMapping(mapping.definition, { onFallBack: (r, why) => fellBack.push(`${mapping.table} ${JSON.stringify(r).slice(0, 60)}: ${why}`) }),
        slow: compileMapping(mapping.definition, { engine: 'fhirpath' }),
      }));
      for (const { name, episode } of episodes) {
        const claim = buildClaimFile(episode, { standard, now: NOW });
        const variables = episodeVariables(episode, NOW);
        for (const { fast, slow, ...mapping } of mappings) {
          expect(fast.fast).toBe(true);
          expect(slow.fast).toBe(false);
          const a = outcome(() => fast.runWithSource(episode.resources, variables));
          const b = outcome(() => slow.runWithSource(episode.resources, variables));
          evaluated += episode.resources.filter((r) => r.resourceType === mapping.definition.resource).length;
          if (Array.isArray(a)) rows += a.length;
          // Same rows, same values, from the same resources, in the same order.
          if (!isDeepStrictEqual(a, b)) differences.push(`${standard} ${name} ${mapping.table}:\n  fast ${JSON.stringify(a).slice(0, 600)}\n  slow ${JSON.stringify(b).slice(0, 600)}`);
          // The next tables read this one's rows as the claim file binds them.
          variables[mapping.table] = claim.tables.find((t) => t.definition.table === mapping.table)?.typed ?? [];
        }
        // And the claim file as a whole: tables, issues, envelope.
        const slowClaim = buildClaimFile(episode, { standard, now: NOW, engine: 'fhirpath' });
        if (!isDeepStrictEqual(claim, slowClaim)) differences.push(`${standard} ${name}: the claim files differ`);
      }
    }
    expect(differences).toEqual([]);
    expect(rows).toBeGreaterThan(100);
    expect(evaluated).toBeGreaterThan(200);
    // Falling back to fhirpath.js is for inputs the fast path cannot judge; the examples have few.
    expect(fellBack.length, fellBack.join('\n')).toBeLessThan(evaluated / 50);
  });

  it('gives the rows fhirpath.js gives on mutants of the episodes (one element of one resource removed)', async () => {
    const episodes = await exampleEpisodes();
    const standard = '3176';
    const mappings = tableMappings(standard);
    const views = mappings.map((m) => ({
      table: m.table,
      resource: m.definition.resource,
      text: JSON.stringify(m.definition),
      fast: compileMapping(m.definition, { onFallBack: () => fellBack++ }),
      slow: compileMapping(m.definition, { engine: 'fhirpath' }),
    }));
    let fellBack = 0;
    let compared = 0;
    let rows = 0;
    const differences: string[] = [];
    for (const { name, episode } of episodes) {
      const claim = buildClaimFile(episode, { standard, now: NOW });
      for (const original of episode.resources) {
        // A resource feeds the views of its type, and as the episode's context (%encounter, %patient,
        // %coverages) the views that read it.
        const variable =
          original === episode.encounter ? '%encounter' : original === episode.patient ? '%patient' : episode.coverages.includes(original as Coverage) ? '%coverages' : undefined;
        // Every third mutant: fhirpath.js takes ~30 s over all of them, for little more evidence.
        for (const mutant of mutants(original, 2, { keepId: true }).filter((_, i) => i % 3 === 0)) {
          const mutated = withMutant(episode, original, mutant);
          const variables = episodeVariables(mutated, NOW);
          for (const t of claim.tables) variables[t.definition.table] = t.typed;
          for (const view of views) {
            if (view.resource !== mutant.resourceType && !(variable && view.text.includes(variable))) continue;
            const a = outcome(() => view.fast.run(mutated.resources, variables));
            const b = outcome(() => view.slow.run(mutated.resources, variables));
            compared++;
            if (Array.isArray(a)) rows += a.length;
            if (!isDeepStrictEqual(a, b) && differences.length < 10) {
              differences.push(`${name} ${view.table}, ${mutant.resourceType}/${mutant.id} mutated:\n  fast ${JSON.stringify(a).slice(0, 500)}\n  slow ${JSON.stringify(b).slice(0, 500)}`);
            }
          }
        }
      }
    }
    expect(differences).toEqual([]);
    expect(compared).toBeGreaterThan(5_000);
    expect(rows).toBeGreaterThan(5_000);
    expect(fellBack).toBeLessThan(compared / 50);
  }, 120_000);
});
