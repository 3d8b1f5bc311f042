import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ImageModel } from '../description/model.js';
import { containerSourcesList } from './apt-sources.js';
import { withFileLock } from './file-lock.js';

/**
 * apt's index files kept between builds of the same sources, so that a warm build's
 * `apt-get update` only revalidates them (If-Modified-Since on each InRelease) instead of
 * downloading and unpacking every Packages file again, which costs seconds under emulation.
 * The build container gets a copy of its own (of the saved files, else of the bootstrap
 * layer's), bound at /var/lib/apt/lists so that it never becomes part of the image; a
 * successful build puts its updated copy back by rename, under a lock.
 */
export interface AptListsCache {
  /** <cache>/apt/lists/<key>: the last saved lists for these sources. */
  saved: string;
  lock: string;
}

/** The cache entry for a model's sources: keyed by the container's sources.list, the local repositories' host paths and the arch. */
export function aptListsCache(listsRoot: string, model: ImageModel): AptListsCache {
  const sources = [containerSourcesList(model.repositories), ...model.repositories.map((repo) => repo.localPath ?? ''), model.debianArch].join('\n');
  const key = createHash('sha256').update(sources).digest('hex').slice(0, 32);
  return { saved: path.join(listsRoot, key), lock: path.join(listsRoot, `${key}.lock`) };
}

/**
 * Fills `buildLists` (made here) with the saved index files, else with those the bootstrap
 * layer was made with (`seed`); their times are kept, for If-Modified-Since.
 */
export async function restoreAptLists(cache: AptListsCache, buildLists: string, seed: string, signal?: AbortSignal): Promise<number> {
  fs.mkdirSync(path.join(buildLists, 'partial'), { recursive: true });
  if (!fs.existsSync(cache.saved)) return copyIndexFiles(seed, buildLists);
  return withFileLock(cache.lock, async () => copyIndexFiles(cache.saved, buildLists), signal ? { signal } : {});
}

function copyIndexFiles(from: string, to: string): number {
  if (!fs.existsSync(from)) return 0;
  let copied = 0;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    // Only the index files: apt makes partial/ and auxfiles/ with the owners it wants.
    if (!entry.isFile() || entry.name === 'lock') continue;
    const source = path.join(from, entry.name);
    const copy = path.join(to, entry.name);
    fs.copyFileSync(source, copy);
    const { atime, mtime } = fs.statSync(source);
    fs.utimesSync(copy, atime, mtime);
    copied += 1;
  }
  return copied;
}

/** Replaces the saved index files with a finished build's (moved, not copied: the build dir is removed next). */
export async function saveAptLists(cache: AptListsCache, buildLists: string, signal?: AbortSignal): Promise<void> {
  fs.mkdirSync(path.dirname(cache.saved), { recursive: true });
  await withFileLock(
    cache.lock,
    async () => {
      const name = path.basename(cache.saved);
      // Old copies a killed build left between its two renames, then this one's.
      for (const stale of fs.readdirSync(path.dirname(cache.saved))) if (stale.startsWith(`${name}.old-`)) fs.rmSync(path.join(path.dirname(cache.saved), stale), { recursive: true, force: true });
      const old = `${cache.saved}.old-${randomBytes(4).toString('hex')}`;
      if (fs.existsSync(cache.saved)) fs.renameSync(cache.saved, old);
      fs.renameSync(buildLists, cache.saved);
      fs.rmSync(old, { recursive: true, force: true });
    },
    signal ? { signal } : {},
  );
}
