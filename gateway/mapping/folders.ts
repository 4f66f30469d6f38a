import { MAPPINGS_DIR, PROFILES_DIR } from '../paths.js';

/**
 * The folders the mapping engine reads its data from: `mappings/` (the ViewDefinitions, the health
 * book) and `profiles/` (the table definitions, code lists). The repository's by default; a gateway
 * may be pointed at others (GATEWAY_MAPPINGS_DIR / GATEWAY_PROFILES_DIR), so that an author or a
 * test edits a copy without touching the repository's.
 *
 * One pair per process: the compiled caches are keyed by folder, and the code that builds claim
 * files and health books asks here for the folder rather than being handed one through every call.
 */
export interface MappingFolders {
  mappings: string;
  profiles: string;
}

let current: MappingFolders = { mappings: MAPPINGS_DIR, profiles: PROFILES_DIR };

export function mappingFolders(): MappingFolders {
  return current;
}

export const mappingsDir = (): string => current.mappings;
export const profilesDir = (): string => current.profiles;

/** Points the engine at these folders (the repository's for what is left out). */
export function useMappingFolders(folders: Partial<MappingFolders> = {}): void {
  current = { mappings: folders.mappings ?? MAPPINGS_DIR, profiles: folders.profiles ?? PROFILES_DIR };
}
