import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, PROFILES_DIR } from '../../gateway/paths.js';
import { selfSignedCredentials } from '../../gateway/signing/keys.js';
import { keySigner } from '../../gateway/signing/signer.js';
import { signDocument } from '../../gateway/signing/xmldsig.js';

/** The command line, run as a user runs it (a process, its exit code, its files). */
const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'gateway/cli.ts'), ...args], { encoding: 'utf8', cwd: PROJECT_ROOT });

describe('npm run cli', () => {
  it('xml130 writes one folder per episode with the claim file and each table, exit 0 when clean', () => {
    const r = cli('xml130', join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), '--out', join(dir, 'out'), '--lang', 'en');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const folder = join(dir, 'out', '10085-20250310-000473');
    expect(readdirSync(folder).sort()).toEqual(['GIAMDINHHS.xml', 'XML0.xml', 'XML1.xml', 'XML14.xml', 'XML2.xml', 'XML3.xml', 'XML4.xml', 'issues.json']);
    expect(readFileSync(join(folder, 'GIAMDINHHS.xml'), 'utf8')).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?>\n<GIAMDINHHS><THONGTINDONVI><MACSKCB>10085<\/MACSKCB>/);
    expect(r.stdout).toContain('10085-20250310-000473: 7 files');
  });

  it('xml130 exits 1 and lists the problems when a claim has errors', () => {
    const bundle = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8'));
    const encounter = bundle.entry.find((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Encounter').resource;
    encounter.identifier = encounter.identifier.filter((i: { system: string }) => !i.system.endsWith('/ma-hsba'));
    writeFileSync(join(dir, 'broken.json'), JSON.stringify(bundle));
    const r = cli('xml130', join(dir, 'broken.json'), '--out', join(dir, 'broken'), '--lang', 'en');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('TONG_HOP/MA_HSBA  XML1 MA_HSBA: MA_HSBA is required');
    expect(existsSync(join(dir, 'broken', '10085-20250310-000473', 'issues.json'))).toBe(true);
  });

  it('verify accepts a signed file and refuses it once changed', async () => {
    const { credentials, certificatePem } = selfSignedCredentials('CLI facility');
    const document = readFileSync(join(dir, 'out', '10085-20250310-000473', 'GIAMDINHHS.xml'), 'utf8');
    writeFileSync(join(dir, 'signed.xml'), await signDocument(document, keySigner(credentials.key, credentials.certificate)));
    writeFileSync(join(dir, 'cert.pem'), certificatePem);
    expect(cli('verify', join(dir, 'signed.xml'), '--trust', join(dir, 'cert.pem')).status).toBe(0);
    writeFileSync(join(dir, 'changed.xml'), readFileSync(join(dir, 'signed.xml'), 'utf8').replace('<SOLUONGHOSO>1', '<SOLUONGHOSO>2'));
    const r = cli('verify', join(dir, 'changed.xml'), '--trust', join(dir, 'cert.pem'), '--lang', 'en');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('the file was changed after signing');
  });
});
