import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import { XML_STANDARDS, type XmlStandard } from './outputs/xml/table-definition.js';
import { readTrustAnchors } from './signing/verify-operation.js';
import { verifySignedDocument } from './signing/verify.js';
import { describeIssue, exportClaimFiles } from './tools/xml130/export.js';
import { reportCommand } from './outputs/reports/command.js';
import { auditCommand, clientCommand, SECURITY_USAGE } from './security/cli.js';
import { GENERATE_USAGE, generateCommand } from './tools/generate/command.js';

/**
 * The gateway's command line (`npm run cli -- <command> …`). Commands work offline on files; the
 * server is `npm start`.
 */
const USAGE = `usage:
  npm run cli -- xml130 <bundle.json> [--out <folder>] [--standard 3176|4750] [--encounter <id>] [--lang vi|en]
      the claim files of the Bundle's episodes, one folder per MA_LK; exit code 1 when a claim has errors
  npm run cli -- verify <signed.xml> --trust <certificate.pem or folder> [--lang vi|en]
      checks a signed claim or check-in file: signature, digest, certificate dates, chain to the trust anchors
  npm run cli -- report [--period 2025-03|2025-H1] [--out <folder>]
      the rollout report of a month or half-year from the gateway's database (DATABASE_URL or ./data): the six-monthly
      form as CSV, the MeasureReports and the dashboard, province-wide and per facility
${GENERATE_USAGE}
${SECURITY_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'xml130') return xml130(rest);
  if (command === 'verify') return verify(rest);
  if (command === 'report') return reportCommand(rest, USAGE);
  if (command === 'client') return clientCommand(rest, USAGE);
  if (command === 'audit') return auditCommand(rest, USAGE);
  if (command === 'generate') return generateCommand(rest, USAGE);
  console.error(command ? `unknown command "${command}"\n${USAGE}` : USAGE);
  return 2;
}

async function xml130(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string', default: 'xml130-out' }, standard: { type: 'string', default: '3176' }, encounter: { type: 'string' }, lang: { type: 'string', default: 'vi' } },
  });
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  if (!XML_STANDARDS.includes(values.standard as XmlStandard)) {
    console.error(`--standard must be one of ${XML_STANDARDS.join(', ')}`);
    return 2;
  }
  const bundle = JSON.parse(readFileSync(positionals[0], 'utf8')) as Bundle;
  if (bundle.resourceType !== 'Bundle') {
    console.error(`${positionals[0]} is not a FHIR Bundle`);
    return 2;
  }
  const episodes = await exportClaimFiles(bundle, { outDir: values.out!, standard: values.standard as XmlStandard, encounter: values.encounter });
  let failed = false;
  for (const e of episodes) {
    const errors = e.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    failed ||= errors > 0;
    console.log(`${e.maLk || '(no MA_LK)'}: ${e.files.length} files in ${e.folder}, ${errors} errors, ${e.issues.length - errors} warnings`);
    for (const issue of e.issues) console.log(`  ${describeIssue(issue, values.lang === 'en' ? 'en' : 'vi')}`);
  }
  return failed ? 1 : 0;
}

function verify(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { trust: { type: 'string' }, lang: { type: 'string', default: 'vi' } } });
  if (positionals.length !== 1 || !values.trust) {
    console.error(USAGE);
    return 2;
  }
  const result = verifySignedDocument(readFileSync(positionals[0], 'utf8'), readTrustAnchors(values.trust));
  const lang = values.lang === 'en' ? 'en' : 'vi';
  if (result.valid) console.log(`${positionals[0]}: ${lang === 'en' ? 'valid signature' : 'chữ ký hợp lệ'} (${result.certificate?.subject.replace(/\n/g, ', ')})`);
  for (const issue of result.issues) console.log(`${positionals[0]}: ${describeIssue(issue, lang)}`);
  return result.valid ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
