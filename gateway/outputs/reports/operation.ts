import { badRequest, notFound } from '../../fhir/outcome.js';
import type { Operation } from '../../rest/operations.js';
import { queryValues } from '../../rest/request.js';
import { formCsv, measureReportCsv } from './csv.js';
import type { ReportEngine } from './evaluate.js';
import { checkReportType, parsePeriod, parseSubject } from './parameters.js';
import { assemble } from './rollout.js';

/**
 * `GET|POST /fhir/Measure/{id}/$evaluate-measure?periodStart=…&periodEnd=…[&subject=…]`: a summary
 * MeasureReport of one report Measure (not stored: it is computed from the data each time). With
 * `_format=csv` or `Accept: text/csv` the same as CSV — for `lien-thong-ho-so`, laid out as the
 * six-monthly form.
 */
const PARAMETERS = new Set(['periodStart', 'periodEnd', 'subject', 'reportType', '_format', '_pretty']);

export function evaluateMeasureOperation(engine: ReportEngine): Operation {
  return {
    name: 'evaluate-measure',
    definition: 'http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure',
    documentation: 'Rollout reports: a summary MeasureReport of a report Measure for a period (periodStart, periodEnd) and a subject (none: the province; Organization/{id}; district/{code}; province/{code}); CSV with _format=csv',
    resourceTypes: ['Measure'],
    system: false,
    instance: true,
    affectsState: false,
    async handle(req, target, repo) {
      if (req.method === 'POST' && req.body !== undefined) {
        throw badRequest({ vi: 'Truyền tham số của $evaluate-measure trên URL', en: 'Give the parameters of $evaluate-measure in the URL' });
      }
      const measure = engine.measure(target.id!);
      if (!measure) {
        throw notFound({
          vi: `Measure/${target.id} không phải một báo cáo của cổng (${engine.measures.map((m) => m.id).join(', ')})`,
          en: `Measure/${target.id} is not one of the gateway's reports (${engine.measures.map((m) => m.id).join(', ')})`,
        }, 'id');
      }
      const one = (name: string) => {
        const values = queryValues(req.query, name);
        if (values.length > 1) throw badRequest({ vi: `Tham số ${name} chỉ được cho một lần`, en: `The parameter ${name} may be given once` }, name);
        return values[0];
      };
      const unknown = req.query.find(([k]) => !PARAMETERS.has(k));
      if (unknown && req.prefer.handling === 'strict') throw badRequest({ vi: `Tham số không được hỗ trợ: ${unknown[0]}`, en: `Unsupported parameter: ${unknown[0]}` }, unknown[0]);
      checkReportType(one('reportType'));
      const period = parsePeriod(one('periodStart'), one('periodEnd'));
      const { scope, subject } = await parseSubject(one('subject'), repo);
      const now = new Date();
      const csv = one('_format') === 'csv' || one('_format') === 'text/csv' || req.accept === 'csv';

      if (csv && measure.id === 'lien-thong-ho-so') {
        // The form needs the claim-file measure's strata only, but its facility names come with every evaluation.
        const evaluation = await engine.evaluate(engine.measures, { period, scope, subject, now });
        return { status: 200, document: { contentType: 'text/csv; charset=utf-8', text: formCsv(assemble({ period, scope, subject, now }, evaluation)), filename: `bao-cao-${period.start}-${period.end}.csv` } };
      }
      const { reports } = await engine.evaluate([measure], { period, scope, subject, now });
      if (csv) return { status: 200, document: { contentType: 'text/csv; charset=utf-8', text: measureReportCsv(reports[0]), filename: `${measure.id}-${period.start}-${period.end}.csv` } };
      return { status: 200, body: reports[0] };
    },
  };
}
