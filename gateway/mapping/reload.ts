/**
 * The compiled forms of mappings/ and profiles/ live in module caches (one per kind, keyed by
 * folder). In development they must follow the files without a restart, and a broken file must not
 * take down what worked: reloadMappingData() empties every registered cache, compiles everything
 * again, and on any error puts the previous contents back. Compiling is synchronous (files are read
 * with readFileSync), so no request ever sees a half-reloaded state.
 */
const caches: Map<unknown, unknown>[] = [];

/** A Map that reloadMappingData() empties and refills; modules keep their compiled data in one. */
export function reloadableCache<K, V>(): Map<K, V> {
  const cache = new Map<K, V>();
  caches.push(cache as Map<unknown, unknown>);
  return cache;
}

/** Compiles what `warm` asks for from empty caches; on failure the previous caches are restored and the error thrown. */
export function reloadMappingData(warm: () => void): void {
  const saved = caches.map((c) => new Map(c));
  for (const c of caches) c.clear();
  try {
    warm();
  } catch (e) {
    caches.forEach((c, i) => {
      c.clear();
      for (const [k, v] of saved[i]) c.set(k, v);
    });
    throw e;
  }
}
