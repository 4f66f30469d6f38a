import type { Config } from '../../config.js';
import type { Page } from '../../http/app.js';
import type { Logger } from '../../log.js';
import { mappingFolders } from '../../mapping/folders.js';
import type { ResourceValidator } from '../../validation/validator.js';
import { studioPage } from '../studio/page.js';
import { watchMappingFolders, type MappingWatcher } from './watch.js';

/** What `npm run dev` adds to a gateway: the mapping folders watched and reloaded, and the studio page. */
export interface DevelopmentTools {
  pages: Page[];
  watcher: MappingWatcher;
  close(): void;
}

export function developmentTools(config: Config, log: Logger, validator: ResourceValidator): DevelopmentTools {
  const watcher = watchMappingFolders(mappingFolders(), log);
  return {
    pages: [studioPage({ watcher, validator, defaultStandard: config.xmlStandard })],
    watcher,
    close: () => watcher.close(),
  };
}
