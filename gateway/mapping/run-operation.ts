import type { Resource } from '@medplum/fhirtypes';
import { FhirError, notFound, type Issue } from '../fhir/outcome.js';
import { healthBook } from '../outputs/healthbook/definition.js';
import { buildClaimFile, episodeVariables } from '../outputs/xml/claim-file.js';
import { XML_STANDARDS, type XmlStandard } from '../outputs/xml/table-definition.js';
import type { Operation } from '../rest/operations.js';
import type { FhirRequest, FhirResponse } from '../rest/request.js';
import { episodeOrganization, gatherEpisode, type Episode } from './episode.js';
import { CONTEXT_VARIABLES, compileMapping, RESOLVE_INDEX, tableMappings } from './mappings.js';
import { readRunInput, type RunInput } from './run-input.js';
import { formatRows, RUN_FORMATS } from './run-output.js';
import { bundleSource } from './sources.js';
import { ViewError, type CompiledView, type Row } from './view.js';

/**
 * `$viewdefinition-run` (SQL-on-FHIR v2): a view over the resources sent, as rows — for mapping
 * authors, who try a ViewDefinition or a mapping file on a Bundle and see what it gives. Nothing is
 * stored and the store is never read: the view runs over the `resource` parameters only.
 *
 * Invoked as `POST /$viewdefinition-run` — the spec's R4 form, at system level, and the one the
 * CapabilityStatement lists (an R4 CapabilityStatement can only list R4 resource types, which
 * ViewDefinition is not) — or as `POST /ViewDefinition/$run` and `POST|GET /ViewDefinition/{name}/$run`
 * with a mapping file's name as the id (`XML1`, `healthbook.cards`), the R6 forms, served alike.
 *
 * A mapping file runs as the gateway runs it: a claim table with the episode context (`%encounter`,
 * `%patient`, … and `%XMLn`, the tables built before it), a health-book view with the book's
 * (`%subject`, …). An inline view gets the same context for the variables it reads, so a copy of a
 * mapping being edited behaves like the file. A view that does not compile is a 400 whose
 * `expression` is the place in the view (`Parameters.parameter[0].resource.select[1].column[0]`);
 * one that fails on the data (two values for one row) a 422, placed the same way.
 */
const DEFINITION = 'http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run';
const DOCUMENTATION = 'Also as ViewDefinition/$run and ViewDefinition/{name}/$run. Runs a ViewDefinition (viewResource, or viewReference / the id naming a mapping file: XML1, healthbook.cards) over the resources sent (resource: resources or a Bundle) and answers the rows as json, ndjson or csv (_format, header, _limit; standard, encounter for mapping files). Stores and reads nothing';

export function viewRunOperations(defaultStandard: XmlStandard): Operation[] {
  const handle = (req: FhirRequest, target: { id?: string }) => runView(req, target.id, defaultStandard);
  return [
    { name: 'run', definition: DEFINITION, documentation: DOCUMENTATION, resourceTypes: ['ViewDefinition'], system: false, instance: true, affectsState: false, handle },
    { name: 'viewdefinition-run', definition: DEFINITION, documentation: DOCUMENTATION, resourceTypes: ['ViewDefinition'], system: true, instance: true, affectsState: false, handle },
  ];
}

async function runView(req: FhirRequest, instanceId: string | undefined, defaultStandard: XmlStandard): Promise<FhirResponse> {
  const input = readRunInput(req, instanceId);
  const standard = XML_STANDARDS.includes(input.standard as XmlStandard) ? (input.standard as XmlStandard) : defaultStandard;
  const { source, resources } = bundleSource(input.resources);
  const episode = await episodeOf(input, source, resources);
  const chosen = chooseView(input, standard);
  let rows: Row[];
  try {
    rows = chosen.view.run(resources, await variablesFor(chosen.kind, chosen.table, episode, resources, standard));
  } catch (e) {
    if (e instanceof ViewError) throw viewProblem(422, e, chosen.at, chosen.file);
    throw e;
  }
  if (input.limit !== undefined) rows = rows.slice(0, input.limit);
  const text = formatRows(rows, chosen.view.columns.map((c) => c.name), input.format, input.header);
  return { status: 200, document: { contentType: `${RUN_FORMATS[input.format]}; charset=utf-8`, text } };
}

type Kind = 'claim' | 'book' | 'inline';

interface ChosenView {
  view: CompiledView;
  kind: Kind;
  table?: string;
  /** Where the view is, for messages: the inline resource's place in the request, or `ViewDefinition`. */
  at: string;
  file?: string;
}

function chooseView(input: RunInput, standard: XmlStandard): ChosenView {
  if (input.viewResource) {
    const { view, at } = input.viewResource;
    const constants = new Set(((view as { constant?: { name?: unknown }[] }).constant ?? []).map((c) => c?.name));
    // Every context variable the view does not define itself is declared (and bound when run).
    const variables = [...new Set([...CONTEXT_VARIABLES, ...BOOK_ONLY, ...TABLES])].filter((v) => !constants.has(v));
    try {
      return { view: compileMapping(view as never, { variables }), kind: 'inline', at };
    } catch (e) {
      if (e instanceof ViewError) throw viewProblem(400, e, at);
      throw e;
    }
  }
  const { name, at } = input.viewName!;
  const tableName = /^(?:\d+\/)?(XML\d+)$/.exec(name)?.[1];
  if (tableName) {
    const mapping = tableMappings(standard).find((m) => m.table === tableName);
    if (mapping) return { view: mapping.view, kind: 'claim', table: tableName, at: 'ViewDefinition', file: `mappings/${name}.json` };
  }
  const bookView = /^healthbook\/([A-Za-z0-9_-]+)$/.exec(name)?.[1];
  if (bookView) {
    const view = healthBook().views.get(bookView);
    if (view) return { view, kind: 'book', at: 'ViewDefinition', file: `mappings/${name}.json` };
  }
  throw notFound({ vi: `Không có tệp ánh xạ "${name}" (ví dụ XML1, healthbook/cards)`, en: `There is no mapping file "${name}" (e.g. XML1, healthbook/cards)` }, at);
}

const BOOK_ONLY = ['subject'];
const TABLES = Array.from({ length: 16 }, (_, i) => `XML${i}`);

/** The episode the resources make up: the Encounter named, or the only one; none without an Encounter. */
async function episodeOf(input: RunInput, source: ReturnType<typeof bundleSource>['source'], resources: Resource[]): Promise<Episode | undefined> {
  const encounters = resources.filter((r) => r.resourceType === 'Encounter');
  let encounter: Resource | undefined;
  if (input.encounter !== undefined) {
    const index = (input.resources.entry ?? []).findIndex((e) => e.fullUrl === input.encounter);
    encounter = (index >= 0 ? resources[index] : undefined) ?? encounters.find((e) => e.id === input.encounter);
    if (encounter?.resourceType !== 'Encounter') throw notFound({ vi: `Không có Encounter "${input.encounter}" trong các tài nguyên gửi kèm`, en: `No Encounter "${input.encounter}" among the resources sent` }, 'encounter');
  } else if (encounters.length === 1) {
    encounter = encounters[0];
  }
  return encounter ? gatherEpisode(source, encounter.id!) : undefined;
}

/**
 * The variables a view reads, as the gateway binds them: a claim table's episode context and the
 * tables built before it; a book view's subject and episode; both (and no tables) for an inline one.
 * Without an episode the context is empty, and views run over the resources as plain SQL-on-FHIR.
 */
async function variablesFor(kind: Kind, table: string | undefined, episode: Episode | undefined, resources: Resource[], standard: XmlStandard): Promise<Record<string, unknown>> {
  const now = new Date();
  const index = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const base: Record<string, unknown> = episode
    ? episodeVariables(episode, now)
    : { encounter: [], patient: [], coverages: [], organization: [], resources, today: now.toISOString().slice(0, 10).replace(/-/g, ''), [RESOLVE_INDEX]: index };
  for (const t of TABLES) base[t] ??= [];
  const patient = episode?.patient ?? resources.find((r) => r.resourceType === 'Patient');
  base.subject = patient ? `Patient/${patient.id}` : [];
  if (episode) base.organization = episodeOrganization(episode) ?? [];
  if (kind === 'book' && !episode) base.encounter = [];
  if (episode && kind !== 'book') {
    // %XMLn: the typed rows of the tables the gateway builds before this one (XML1 reads XML2's totals).
    try {
      const claim = buildClaimFile(episode, { standard, now });
      for (const t of claim.tables) if (t.definition.table !== table) base[t.definition.table] = t.typed;
    } catch {
      // A claim that cannot be built leaves the tables empty; the view itself still runs.
    }
  }
  return base;
}

/** A ViewError as an OperationOutcome placed in the request: `select[1].column[0] (name: X)` → `<at>.select[1].column[0]`. */
function viewProblem(status: number, e: ViewError, at: string, file?: string): FhirError {
  const path = e.location.replace(/ \(name: [^)]*\)/g, '');
  const issue: Issue = {
    severity: 'error',
    code: status === 400 ? 'invalid' : 'processing',
    message: file ? `${file}: ${e.message}` : e.message,
    expression: [path === 'view' ? at : `${at}.${path}`],
  };
  return new FhirError(status, [issue]);
}
