import type { Logger } from '../log.js';
import type { FacilityCredentials } from '../facilities/credentials.js';
import type { Database } from '../store/database.js';
import { Repository } from '../store/repository.js';
import { SigningError, signDocument } from '../signing/xmldsig.js';
import { DossierTable, type Dossier, type DossierStatus, type PortalReceipt } from './dossiers.js';
import type { PortalClient } from './portal-client.js';
import { dossierTask, putOwned, signedBinary } from './task.js';

/**
 * Sends queued files to the portal. Any number of workers, in any number of processes, share the
 * queue: each claims a batch with FOR UPDATE SKIP LOCKED and a lease; a worker that dies leaves its
 * lease to run out and another takes the file over, sending the very bytes signed before (so the
 * portal sees the same file again, not a new one).
 *
 * - accepted (maKetQua 200): done, never sent again; the receipt is kept.
 * - rejected (another maKetQua): kept with the portal's message, not retried — a corrected episode
 *   makes a new version.
 * - network error, timeout, 5xx, expired token: retried with exponential backoff and jitter.
 * - no usable certificate, no account, login refused: held for that facility alone, looked at again later.
 */
export interface WorkerOptions {
  db: Database;
  credentials: FacilityCredentials;
  portal: PortalClient;
  log: Logger;
  clock?: () => Date;
  /** Files claimed at once (and sent concurrently). */
  batchSize?: number;
  /** How long a claimed file is this worker's before another may take it over. */
  leaseMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** When a held facility is looked at again. */
  heldRetryMs?: number;
  /** Files sent per second by this worker, at most. */
  ratePerSecond?: number;
  random?: () => number;
}

export class SubmissionWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private nextSlot = 0;
  private readonly o: Required<Omit<WorkerOptions, 'credentials' | 'portal' | 'log' | 'db'>> & Pick<WorkerOptions, 'credentials' | 'portal' | 'log' | 'db'>;

  constructor(options: WorkerOptions) {
    this.o = {
      clock: () => new Date(),
      batchSize: 10,
      leaseMs: 120_000,
      retryBaseMs: 5_000,
      retryMaxMs: 30 * 60_000,
      heldRetryMs: 60 * 60_000,
      ratePerSecond: 10,
      random: Math.random,
      ...options,
    };
  }

  /** Claims and processes one batch; the number of files it handled. */
  async runOnce(): Promise<number> {
    const due = await new DossierTable(this.o.db).claimDue(this.o.batchSize, this.o.leaseMs, this.o.clock());
    await Promise.all(due.map((d) => this.process(d)));
    return due.length;
  }

  /** Polls every `pollMs` (and at once again while there is work). */
  start(pollMs = 1_000): void {
    const tick = async () => {
      try {
        while ((await (this.running = this.runOnce())) > 0 && this.timer) {
          // more is due: keep going
        }
      } catch (e) {
        this.o.log.error({ err: { name: (e as Error).name, message: (e as Error).message } }, 'submission worker: batch failed');
      }
      if (this.timer) this.timer = setTimeout(tick, pollMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async process(d: Dossier): Promise<void> {
    const now = this.o.clock();
    if (!d.facility) return this.settle(d, { status: 'held', lastError: 'the facility has no MA_CSKCB yet', nextAttemptAt: new Date(now.getTime() + 24 * 3_600_000) });
    const signing = await this.o.credentials.signer(d.facility);
    if ('problem' in signing) return this.hold(d, `cannot sign: ${signing.problem}`);
    const account = await this.o.credentials.account(d.facility);
    if (!account) return this.hold(d, 'no portal account is configured for the facility');

    let signed = d.signed;
    if (!signed) {
      try {
        signed = await signDocument(d.document, signing.signer);
      } catch (e) {
        return this.hold(d, e instanceof SigningError ? e.message : `signing failed: ${(e as Error).message}`);
      }
      signed = await this.o.db.transaction(async (tx) => {
        const kept = await new DossierTable(tx).setSigned(d.id, signed!, signing.signer.certificate.fingerprint256);
        const withFile = { ...d, signed: kept };
        await putOwned(new Repository(tx), [signedBinary(withFile), dossierTask(withFile, this.o.clock())], this.o.clock());
        return kept;
      });
    }

    await this.throttle();
    const sentAt = this.o.clock();
    const answer = await this.o.portal.submit(account, d.kind, d.facility, signed);
    switch (answer.outcome) {
      case 'accepted':
        this.o.log.info({ dossier: d.id, kind: d.kind, version: d.version, attempts: d.attempts }, 'portal accepted a file');
        return this.settle(d, { status: 'accepted', receipt: answer.receipt, sentAt, acceptedAt: this.o.clock() });
      case 'rejected':
        this.o.log.warn({ dossier: d.id, kind: d.kind, version: d.version, maKetQua: answer.receipt.maKetQua }, 'portal rejected a file');
        return this.settle(d, { status: 'rejected', receipt: answer.receipt, sentAt });
      case 'login-refused':
        return this.hold(d, answer.detail);
      case 'unauthorized':
        return this.settle(d, { status: 'queued', lastError: `portal: ${answer.detail}`, nextAttemptAt: new Date(this.o.clock().getTime() + 1_000), sentAt });
      case 'transient':
        this.o.log.info({ dossier: d.id, attempts: d.attempts, reason: answer.detail }, 'portal unreachable; will retry');
        return this.settle(d, { status: 'queued', lastError: `portal: ${answer.detail}`, nextAttemptAt: new Date(this.o.clock().getTime() + this.backoff(d.attempts)), sentAt });
    }
  }

  private hold(d: Dossier, reason: string): Promise<void> {
    this.o.log.warn({ dossier: d.id, facility: d.facility, reason }, 'file held for its facility');
    return this.settle(d, { status: 'held', lastError: reason, nextAttemptAt: new Date(this.o.clock().getTime() + this.o.heldRetryMs) });
  }

  /** The attempt's end and the Task, in one transaction. */
  private async settle(d: Dossier, change: { status: DossierStatus; receipt?: PortalReceipt; lastError?: string; nextAttemptAt?: Date; sentAt?: Date; acceptedAt?: Date }): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      const updated = await new DossierTable(tx).finish(d.id, change);
      if (updated) await putOwned(new Repository(tx), [dossierTask(updated, this.o.clock())], this.o.clock());
    });
  }

  /** Exponential, capped, with jitter so that many workers do not retry in step. */
  private backoff(attempts: number): number {
    const base = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.5 + this.o.random() / 2));
  }

  /** At most `ratePerSecond` sends from this worker. */
  private async throttle(): Promise<void> {
    const interval = 1_000 / this.o.ratePerSecond;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + interval;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  }
}
