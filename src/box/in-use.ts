import fs from 'node:fs/promises';
import path from 'node:path';
import { readdirOrEmpty } from '../common/read-dir.js';
import { isAlive, processIdentity } from '../common/process-identity.js';
import { IN_USE_DIR } from './paths.js';

/**
 * Marks a cached box version as used by this process (a running VM) until released, so
 * that updates, `box rm` and `box prune` leave it alone. A marker whose process died is
 * ignored and cleared.
 */
export async function markInUse(versionDir: string): Promise<{ release(): Promise<void> }> {
  const identity = processIdentity();
  if (!identity) throw new Error('cannot read /proc/self/stat');
  const marker = path.join(versionDir, IN_USE_DIR, identity);
  await fs.mkdir(path.dirname(marker), { recursive: true });
  await fs.writeFile(marker, '');
  return { release: () => fs.rm(marker, { force: true }) };
}

/** Identities of the live processes using a version; dead markers are removed on the way. */
export async function liveUsers(versionDir: string): Promise<string[]> {
  const dir = path.join(versionDir, IN_USE_DIR);
  const markers = await readdirOrEmpty(dir);
  const live: string[] = [];
  for (const marker of markers) {
    if (isAlive(marker)) live.push(marker);
    else await fs.rm(path.join(dir, marker), { force: true });
  }
  return live;
}
