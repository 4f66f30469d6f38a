import type { Bundle, Task } from '@medplum/fhirtypes';
import { notFound } from '../fhir/outcome.js';
import type { Operation } from '../rest/operations.js';
import { retryingTransaction, type Database } from '../store/database.js';
import { Repository } from '../store/repository.js';
import { DossierTable } from './dossiers.js';
import { queueClaim, type QueueOptions } from './queue.js';

/**
 * `POST Encounter/{id}/$submit`: builds the episode's claim file now and queues it (a new version
 * when its content changed since the last one). Answers the Task of the file.
 */
export function submitOperation(db: Database, options: QueueOptions): Operation {
  return {
    name: 'submit',
    definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/submit',
    documentation: 'Builds the claim file of a finished episode and queues it for the BHXH portal; answers its Task',
    resourceTypes: ['Encounter'],
    system: false,
    instance: true,
    affectsState: true,
    async handle(req, target) {
      const task = await retryingTransaction(db, async (tx) => {
        const repo = new Repository(tx);
        const encounter = await repo.read('Encounter', target.id!);
        if (!encounter || encounter.deleted) throw notFound({ vi: `Không có Encounter/${target.id}`, en: `Encounter/${target.id} is not known` }, 'id');
        const queued = await queueClaim(repo, target.id!, options);
        const latest = queued.dossier ?? (await new DossierTable(tx).latest(target.id!, 'claim'));
        return latest ? ((await repo.read('Task', latest.id))?.resource as Task | undefined) : undefined;
      });
      if (!task) throw notFound({ vi: 'Đợt điều trị chưa có hồ sơ', en: 'The episode has no claim file' });
      return { status: 200, body: task };
    },
  };
}

/**
 * `GET Task/$at-risk`: the claim files not accepted by the portal although their episode ended more
 * than `hours` ago (the health book must show an episode within 24 hours of its end), oldest first.
 */
export function atRiskOperation(db: Database, hours: number): Operation {
  return {
    name: 'at-risk',
    definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/at-risk',
    documentation: `Claim files at risk of missing the 24-hour rule: not accepted ${hours} hours or more after the episode ended`,
    resourceTypes: ['Task'],
    system: false,
    instance: false,
    affectsState: false,
    async handle(req) {
      const dossiers = await new DossierTable(db).atRisk(hours, new Date());
      const repo = new Repository(db);
      const tasks = await repo.fetch(dossiers.map((d) => ({ type: 'Task', id: d.id })));
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: tasks.length,
        entry: tasks.map((t) => ({ fullUrl: `${req.baseUrl}/Task/${t.id}`, resource: t, search: { mode: 'match' } })),
      };
      return { status: 200, body: bundle };
    },
  };
}
