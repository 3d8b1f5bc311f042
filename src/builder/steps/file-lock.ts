import fs from 'node:fs';
import { isErrno } from '../../common/errors.js';
import { isAlive, processIdentity } from '../../common/process-identity.js';

/**
 * An exclusive lock as a file made with O_EXCL, holding its owner's process identity. A
 * lock whose owner is gone (killed with SIGKILL) is stale and taken over. Waits with a
 * poll, calling `onWait` once, until the lock is free or the signal aborts.
 */
export async function withFileLock<T>(lockFile: string, work: () => Promise<T>, options: { signal?: AbortSignal; onWait?: (owner: string) => void } = {}): Promise<T> {
  const me = processIdentity() ?? String(process.pid);
  let told = false;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    const owner = tryTake(lockFile, me);
    if (owner === undefined) break;
    if (!told && owner !== '') {
      options.onWait?.(owner);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return holding(lockFile, me, work);
}

/** Runs `work` under the lock when it is free now; undefined, without running it, when another process holds it. */
export async function ifFileLockFree<T>(lockFile: string, work: () => Promise<T>): Promise<T | undefined> {
  const me = processIdentity() ?? String(process.pid);
  return tryTake(lockFile, me) === undefined ? holding(lockFile, me, work) : undefined;
}

/** Takes the lock (undefined) or names its live owner ('' for a lock being written). */
function tryTake(lockFile: string, me: string): string | undefined {
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx');
      fs.writeSync(fd, me);
      fs.closeSync(fd);
      return undefined;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    const owner = readOwner(lockFile);
    // An empty file is a lock being written; only one left empty for long is stale.
    const stale = owner === '' ? olderThan(lockFile, 10_000) : owner !== undefined && !isAlive(owner);
    if (!stale) return owner ?? '';
    // Stale: its owner died. Remove it only if it is still that owner's lock.
    if (readOwner(lockFile) === owner) fs.rmSync(lockFile, { force: true });
  }
}

async function holding<T>(lockFile: string, me: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    if (readOwner(lockFile) === me) fs.rmSync(lockFile, { force: true });
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > ms;
  } catch {
    // Gone already: nothing stale to remove.
    return false;
  }
}

function readOwner(lockFile: string): string | undefined {
  try {
    return fs.readFileSync(lockFile, 'utf8').trim();
  } catch {
    // Gone between the attempt and the read: the next attempt takes it.
    return undefined;
  }
}
