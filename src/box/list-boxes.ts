import { ARCHES, type Arch } from '../common/arch.js';
import type { Catalog } from './catalog.js';
import { readCurrent } from './store.js';

/** One row of `kiwi box list`. */
export interface BoxListing {
  name: string;
  arch: Arch;
  description: string;
  /** Manifest URL from the catalog; null when none is published. */
  manifest: string | null;
  /** Version id in the cache (`<version>-<digest>`), null when not cached. */
  cachedVersion: string | null;
  /** Bytes on disk of the cached version. */
  diskBytes: number;
  verified: boolean;
}

export async function listBoxes(root: string, catalog: Catalog): Promise<BoxListing[]> {
  const rows: BoxListing[] = [];
  for (const box of catalog.values()) {
    for (const arch of ARCHES) {
      const entry = box.arches[arch];
      if (!entry) continue;
      const cached = await readCurrent(root, box.name, arch);
      rows.push({
        name: box.name,
        arch,
        description: box.description,
        manifest: entry.manifest ?? null,
        cachedVersion: cached?.id ?? null,
        diskBytes: cached?.diskBytes ?? 0,
        verified: cached?.verified ?? false,
      });
    }
  }
  return rows;
}
