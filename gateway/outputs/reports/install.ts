import type { Resource } from '@medplum/fhirtypes';
import { putOwned } from '../../outbox/task.js';
import { retryingTransaction, type Database } from '../../store/database.js';
import { Repository } from '../../store/repository.js';
import type { CompiledMeasure } from './measures.js';

/**
 * The report Measures are data in `mappings/reports/`; at start they are written to the store (as
 * resources the gateway owns, like Tasks) so that `GET /fhir/Measure/{id}` reads the definition that
 * is evaluated. A new version only when a file changed; several gateway processes starting together
 * settle it in one transaction each (a lost race is retried and then finds nothing to do).
 */
export async function installMeasures(db: Database, measures: CompiledMeasure[], now = new Date()): Promise<string[]> {
  return retryingTransaction(db, async (tx) => {
    const repo = new Repository(tx);
    const current = await repo.current(measures.map((m) => ({ type: 'Measure', id: m.id })), true);
    const changed = measures.filter((m) => {
      const stored = current.get(`Measure/${m.id}`);
      return !stored || stored.deleted || !sameContent(stored.resource, m.resource);
    });
    if (changed.length) await putOwned(repo, changed.map((m) => m.resource as Resource), now);
    return changed.map((m) => m.id);
  });
}

function sameContent(a: Resource, b: Resource): boolean {
  const strip = ({ meta: _, ...rest }: Resource) => JSON.stringify(rest);
  return strip(a) === strip(b);
}
