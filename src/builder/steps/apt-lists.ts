import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { withLock } from '../../common/lock.js';
import type { ImageModel } from '../description/model.js';
import { containerSourcesList } from './apt-sources.js';
import { pruneLeastRecentlyUsed } from './cache-prune.js';

/** Saved index files kept for other sources than the ones a build just saved. */
export const UNUSED_APT_LISTS = 8;

/**
 * apt's index files kept between builds of the same sources, so that a warm build's
 * `apt-get update` only revalidates them (If-Modified-Since on each InRelease) instead of
 * downloading and unpacking every Packages file again, which costs seconds under emulation.
 * A build gets the saved files as hard links in its own directory, bound into the
 * container, where the sources step copies them into /var/lib/apt/lists before the update
 * and its updated files back out after it (the image's own lists are removed as ever, and
 * scripts may do what they like with them). A successful build's files then replace the
 * saved ones by rename, under a lock; nothing ever writes into a saved file. Each set of
 * sources keeps its own (tens of MB for Debian's); when a build saves a new set, the least
 * recently saved beyond UNUSED_APT_LISTS others go.
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

/** Fills `buildLists` (made here) with hard links to the saved index files, if any. */
export async function restoreAptLists(cache: AptListsCache, buildLists: string, signal?: AbortSignal): Promise<number> {
  fs.mkdirSync(buildLists, { recursive: true });
  if (!fs.existsSync(cache.saved)) return 0;
  return withLock(
    cache.lock,
    async () => {
      const names = fs.readdirSync(cache.saved);
      for (const name of names) fs.linkSync(path.join(cache.saved, name), path.join(buildLists, name));
      return names.length;
    },
    signal ? { signal } : {},
  );
}

/** Replaces the saved index files with a finished build's (moved, not copied: the build dir is removed next). */
export async function saveAptLists(cache: AptListsCache, buildLists: string, signal?: AbortSignal): Promise<void> {
  fs.mkdirSync(path.dirname(cache.saved), { recursive: true });
  const added = await withLock(
    cache.lock,
    async () => {
      // Old copies that a build killed between its two renames left, then this one's.
      const listsRoot = path.dirname(cache.saved);
      for (const name of fs.readdirSync(listsRoot)) {
        if (name.startsWith(`${path.basename(cache.saved)}.old-`)) fs.rmSync(path.join(listsRoot, name), { recursive: true, force: true });
      }
      const old = `${cache.saved}.old-${randomBytes(4).toString('hex')}`;
      const replaced = fs.existsSync(cache.saved);
      if (replaced) fs.renameSync(cache.saved, old);
      fs.renameSync(buildLists, cache.saved);
      fs.rmSync(old, { recursive: true, force: true });
      return !replaced;
    },
    signal ? { signal } : {},
  );
  // Only a new set of sources grows the cache. Builds hold hard links to what they restored,
  // so removing a saved set never touches a running build.
  if (added) await pruneLeastRecentlyUsed(path.dirname(cache.saved), { keep: path.basename(cache.saved), maxUnused: UNUSED_APT_LISTS });
}
