import { episodeRules } from '../../mapping/episode.js';
import { tableMappings } from '../../mapping/mappings.js';
import { reloadMappingData } from '../../mapping/reload.js';
import { healthBook } from '../../outputs/healthbook/definition.js';
import { compiledClaimRules } from '../../outputs/xml/claim-rules.js';
import { rowCheck } from '../../outputs/xml/row-rules.js';
import { tableDefinitions, XML_STANDARDS } from '../../outputs/xml/table-definition.js';

/**
 * Compiles everything the gateway reads from the mapping folders — the table definitions and their
 * checks, the claim rules, every standard's table mappings, the episode rules and the health book —
 * and swaps it in only when all of it compiles. Throws the first error (with its file) otherwise,
 * leaving the previous version running.
 */
export function reloadMappings(): void {
  reloadMappingData(() => {
    for (const standard of XML_STANDARDS) {
      const definitions = tableDefinitions(standard);
      for (const d of definitions) rowCheck(d);
      for (const m of tableMappings(standard)) {
        const definition = definitions.find((d) => d.table === m.table);
        if (!definition) throw new Error(`mapping ${m.table} has no table definition in profiles/qd4750 (standard ${standard})`);
        // buildClaimFile() refuses such a mapping on every episode: refuse it here, once.
        const stray = [...m.sources.keys()].find((c) => !definition.fields.some((f) => f.name === c));
        if (stray) throw new Error(`mappings/${m.table}.json: column ${stray} is not a field of ${m.table}`);
      }
    }
    compiledClaimRules();
    episodeRules();
    healthBook();
  });
}
