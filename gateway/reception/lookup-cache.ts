import { createHash } from 'node:crypto';
import type { CardAnswer, CardQuery } from './portal-lookup.js';

/**
 * A short per-process memory of card lookups, so that a patient checked at the desk and again a
 * minute later by the clinic does not cost a second call to a slow portal. It is a cache only:
 * every replica has its own, a miss just asks the portal, and nothing stored depends on it (the
 * Coverage written from a cached answer is the same content, so it makes no new version).
 *
 * The key is a SHA-256 of facility, card, name and birth date — an answer about "Hoàng Thị Lan"
 * is never reused for "Hoàng Thị Lam" — and holds no readable identifier.
 */
export class LookupCache {
  private readonly entries = new Map<string, { answer: CardAnswer; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  static key(facility: string, query: CardQuery): string {
    const name = query.hoTen.normalize('NFC').trim().replace(/\s+/g, ' ').toLocaleUpperCase('vi');
    return createHash('sha256').update(JSON.stringify([facility, query.maThe.toUpperCase(), name, query.ngaySinh])).digest('hex');
  }

  get(key: string): CardAnswer | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.clock()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.answer;
  }

  set(key: string, answer: CardAnswer): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    // Oldest first in a Map: drop from the front when full.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { answer, expiresAt: this.clock() + this.ttlMs });
  }
}
