import fs from 'node:fs/promises';
import path from 'node:path';
import { isAlive, processIdentity } from './process-identity.js';
import { readdirOrEmpty } from './read-dir.js';

/** Where a directory's in-use marks live: one empty file per use, "<process identity>.<use>". */
export const IN_USE_DIR = '.in-use';

/** Uses of marked directories by this process so far: two at once (two VMs of a box, two builds) each have their own mark. */
let usesSoFar = 0;

/**
 * Marks a cached directory (a box version used by a running VM, a build's packages layer)
 * as used by this process until released, so that updates, removals and pruning leave it
 * alone. A marker whose process died is ignored and cleared, here too: a killed kiwi
 * cannot release its own, and a box used day after day would collect them.
 */
export async function markInUse(dir: string): Promise<{ release(): Promise<void> }> {
  const identity = processIdentity();
  if (!identity) throw new Error('cannot read /proc/self/stat');
  const marker = path.join(dir, IN_USE_DIR, `${identity}.${(usesSoFar += 1)}`);
  await fs.mkdir(path.dirname(marker), { recursive: true });
  await fs.writeFile(marker, '');
  await liveUsers(dir);
  return { release: () => fs.rm(marker, { force: true }) };
}

/** Identities of the live processes using a marked directory, once each; dead markers are removed on the way. */
export async function liveUsers(dir: string): Promise<string[]> {
  const marks = path.join(dir, IN_USE_DIR);
  const live = new Set<string>();
  for (const marker of await readdirOrEmpty(marks)) {
    // An older kiwi's mark is the bare identity.
    const identity = marker.split('.')[0]!;
    if (isAlive(identity)) live.add(identity);
    else await fs.rm(path.join(marks, marker), { force: true });
  }
  return [...live];
}
