import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../../log.js';
import type { MappingFolders } from '../../mapping/folders.js';
import { lintFolders, type LintFinding } from '../lint/lint.js';
import { reloadMappings } from './reload.js';

/**
 * Development mode: watches the mapping folders and reloads what changed without a restart. A
 * change is reloaded after a short quiet time (an editor writes a file in several steps); a file
 * that does not compile leaves the last good version running, and the error is logged and kept
 * for the studio to show until a later change compiles.
 *
 * Never started in production (see server.ts): there the files are read once, at start.
 */
export interface MappingStatus {
  /** Incremented on every successful reload (0: as loaded at start). */
  generation: number;
  loadedAt: string;
  /** The files changed since the last successful load, relative to their folder. */
  pending: string[];
  /** The last reload's error, until a reload succeeds. */
  error?: { message: string; at: string };
}

export interface MappingWatcher {
  status(): MappingStatus;
  /** The linter's findings for the folders as they are now (computed once per change: linting takes a second). */
  lint(): LintFinding[];
  /** Reloads now (what a file change triggers after the quiet time); answers the status after it. */
  reload(): MappingStatus;
  close(): void;
}

const QUIET_MS = 120;

export function watchMappingFolders(folders: MappingFolders, log: Logger): MappingWatcher {
  const status: MappingStatus = { generation: 0, loadedAt: new Date().toISOString(), pending: [] };
  let timer: NodeJS.Timeout | undefined;
  let findings: LintFinding[] | undefined;

  const reload = (): MappingStatus => {
    clearTimeout(timer);
    findings = undefined;
    try {
      reloadMappings();
      status.generation++;
      status.loadedAt = new Date().toISOString();
      // File names only: they are the project's, never data.
      log.info({ generation: status.generation, files: status.pending }, 'mapping folders reloaded');
      status.pending = [];
      delete status.error;
    } catch (e) {
      status.error = { message: (e as Error).message, at: new Date().toISOString() };
      log.warn({ files: status.pending, error: status.error.message }, 'a mapping file does not compile; the last good version keeps running');
    }
    return { ...status };
  };

  const watchers: FSWatcher[] = [folders.mappings, folders.profiles].map((dir) =>
    watch(dir, { recursive: true }, (_event, file) => {
      if (file && !status.pending.includes(String(file))) status.pending.push(String(file));
      clearTimeout(timer);
      timer = setTimeout(reload, QUIET_MS);
    }),
  );
  log.warn({ mappings: folders.mappings, profiles: folders.profiles }, 'DEVELOPMENT TOOLS: mapping folders are watched and reloaded on change; the studio is at /studio');

  return {
    status: () => ({ ...status, pending: [...status.pending] }),
    lint: () => (findings ??= lintFolders(folders)),
    reload,
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
