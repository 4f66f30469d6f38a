import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { PROFILES_DIR } from '../../gateway/paths.js';

const outpatient = readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8');

/**
 * The outpatient example for patient number `n`: every identifier of the person and the episode
 * made unique (CCCD, BHXH number in the card, MA_BN, MA_LK, MA_HSBA, appointment number), and the
 * facility code replaced when another facility is wanted.
 */
export function outpatientEpisode(n: number, facility = '10085'): Bundle {
  const six = String(n % 1_000_000).padStart(6, '0');
  const ten = String(2_000_000_000 + n);
  const text = outpatient
    .replaceAll('010167004521', `010167${six}`)
    .replaceAll('1002845163', ten)
    .replaceAll('BN25000473', `BN${ten}`)
    .replaceAll('10085-20250310-000473', `10085-20250310-${ten}`)
    .replaceAll('KB25.003812', `KB${ten}`)
    .replaceAll('GH25.000912', `GH${ten}`)
    // The facility code appears only as itself (MA_CSKCB, MA_DKBD, MA_LK's prefix, the machine code).
    .replaceAll('10085', facility);
  return JSON.parse(text) as Bundle;
}

export const outpatientText = (n: number, facility?: string) => JSON.stringify(outpatientEpisode(n, facility));
