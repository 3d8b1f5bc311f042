import fs from 'node:fs/promises';
import path from 'node:path';
import { ARCHES, type Arch } from '../common/arch.js';
import { EnvironmentError, UsageError } from '../common/errors.js';
import { tryAcquireLock } from '../common/lock.js';
import { isAlive } from '../common/process-identity.js';
import { readdirOrEmpty } from '../common/read-dir.js';
import { checkBoxName } from './catalog.js';
import * as paths from './paths.js';
import { diskUsage, exists, removeVersion, versionEntries } from './store.js';

/** `kiwi box rm`: every cached version of NAME (one arch or all). Refuses while a VM uses one. */
export async function removeBox(root: string, name: string, arch?: Arch): Promise<{ freed: number }> {
  checkBoxName(name);
  const arches = arch ? [arch] : ARCHES;
  const cached = await Promise.all(arches.flatMap((each) => [paths.boxDir(root, name, each), paths.buildCacheDiskDir(root, name, each)].map((dir) => exists(dir))));
  if (!cached.includes(true)) {
    throw new UsageError(`box "${name}"${arch ? ` (${arch})` : ''} is not in the cache`, { hint: 'kiwi box list shows the cached boxes' });
  }
  let freed = 0;
  for (const each of arches) {
    const lock = await tryAcquireLock(paths.lockFile(root, name, each));
    if (!lock) {
      throw new EnvironmentError(`box "${name}" (${each}) is being fetched by another kiwi process`, {
        hint: 'run kiwi box rm again when it is done',
      });
    }
    try {
      await refuseBuildCacheInUse(root, name, each);
      for (const entry of await versionEntries(root, name, each)) {
        const result = await removeVersion(path.join(paths.versionsDir(root, name, each), entry));
        if ('usedBy' in result) {
          const pids = result.usedBy.map((identity) => identity.split('-')[0]).join(', ');
          throw new EnvironmentError(`box "${name}" (${each}) version ${entry} is in use by a running VM (pid ${pids})`, {
            hint: 'stop that VM first',
          });
        }
        freed += result.freed;
      }
      const dir = paths.boxDir(root, name, each);
      freed += await diskUsage(dir);
      await fs.rm(dir, { recursive: true, force: true });
      const disks = paths.buildCacheDiskDir(root, name, each);
      freed += await diskUsage(disks);
      await fs.rm(disks, { recursive: true, force: true });
    } finally {
      await lock.release();
    }
  }
  await fs.rmdir(path.join(root, name)).catch(() => {});
  return { freed };
}

/** The box's build cache disk goes with it: not while a build is using it. */
async function refuseBuildCacheInUse(root: string, name: string, arch: Arch): Promise<void> {
  const users = (await readdirOrEmpty(path.join(paths.buildCacheDiskDir(root, name, arch), 'users'))).filter((mark) => isAlive(mark.split('.')[0] ?? ''));
  if (users.length > 0) {
    throw new EnvironmentError(`the build cache of box "${name}" (${arch}) is in use by a running build (pid ${users.map((mark) => mark.split('-')[0]).join(', ')})`, {
      hint: 'run kiwi box rm again when the build is done',
    });
  }
}
