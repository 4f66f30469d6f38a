import type { Queryable } from '../../store/database.js';
import type { EpisodeLine } from './document.js';
import type { BookPart } from './projection.js';

/** The health_book tables: one row per part, with what it was built from; a version per patient. */
export class BookParts {
  constructor(private readonly db: Queryable) {}

  /** A patient's parts, the patient's own first, then episodes oldest first. */
  async ofPatient(patientId: string): Promise<BookPart[]> {
    const { rows } = await this.db.query<{ content: BookPart }>('SELECT content FROM health_book WHERE patient_id = $1 ORDER BY sort_key, part', [patientId]);
    return rows.map((r) => r.content);
  }

  async get(keys: string[]): Promise<Map<string, BookPart>> {
    if (keys.length === 0) return new Map();
    const { rows } = await this.db.query<{ content: BookPart }>('SELECT content FROM health_book WHERE part = ANY($1::text[])', [keys]);
    return new Map(rows.map((r) => [r.content.key, r.content]));
  }

  /** The lines of a patient's listed episodes, oldest first. */
  async lines(patientId: string): Promise<EpisodeLine[]> {
    const { rows } = await this.db.query<{ line: EpisodeLine }>('SELECT line FROM health_book WHERE patient_id = $1 AND line IS NOT NULL ORDER BY sort_key, part', [patientId]);
    return rows.map((r) => r.line);
  }

  /** Parts built from any of these resources (`Type/id`). */
  async dependingOn(references: string[]): Promise<string[]> {
    if (references.length === 0) return [];
    const { rows } = await this.db.query<{ part: string }>('SELECT part FROM health_book WHERE depends_on && $1::text[]', [references]);
    return rows.map((r) => r.part);
  }

  async save(part: BookPart, line: EpisodeLine | undefined): Promise<void> {
    await this.db.query(
      `INSERT INTO health_book (part, patient_id, sort_key, content, line, depends_on) VALUES ($1, $2, $3, $4::json, $5::json, $6::text[])
       ON CONFLICT (part) DO UPDATE SET patient_id = excluded.patient_id, sort_key = excluded.sort_key, content = excluded.content,
         line = excluded.line, depends_on = excluded.depends_on, updated_at = now()`,
      [part.key, part.patientId, part.sortKey, JSON.stringify(part), line ? JSON.stringify(line) : null, part.dependsOn],
    );
  }

  async remove(key: string): Promise<void> {
    await this.db.query('DELETE FROM health_book WHERE part = $1', [key]);
  }

  /** Marks these patients' books changed (in the writing transaction). */
  async bump(patientIds: string[]): Promise<void> {
    if (patientIds.length === 0) return;
    await this.db.query(
      `INSERT INTO health_book_versions (patient_id, version) SELECT p, 1 FROM unnest($1::text[]) p
       ON CONFLICT (patient_id) DO UPDATE SET version = health_book_versions.version + 1`,
      [[...patientIds].sort()],
    );
  }

  /** The version of a patient's book; undefined when it was never projected. */
  async version(patientId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ version: string }>('SELECT version::text AS version FROM health_book_versions WHERE patient_id = $1', [patientId]);
    return rows[0]?.version;
  }
}
