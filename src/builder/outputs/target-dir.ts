import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError, UsageError } from '../../common/errors.js';
import { liveLockHolder, tryAcquireLock, type HeldLock } from '../../common/lock.js';

function notADirectory(dir: string): UsageError {
  return new UsageError(`--target-dir ${dir} is not a directory (it or a parent is a file)`, { hint: 'pass a directory; it is created if missing' });
}

/** Checks, creating nothing, that the target dir is a directory or can become one (before a box boots). */
export function checkTargetDir(dir: string): void {
  for (let at = dir; ; at = path.dirname(at)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(at, { throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') throw notADirectory(dir);
      throw new EnvironmentError(`cannot read the target directory's path ${at}: ${(error as Error).message}`, { hint: 'pass a directory you can write to' });
    }
    if (stat) {
      if (!stat.isDirectory()) throw notADirectory(dir);
      return;
    }
    if (at === path.dirname(at)) return;
  }
}

/** Creates the target dir (and its parents) if missing; a path that cannot be one is the user's to fix. */
export function createTargetDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notADirectory(dir);
    throw new EnvironmentError(`cannot create the target directory ${dir}: ${(error as Error).message}`, { hint: 'pass a directory you can write to' });
  }
}

/**
 * Held by the kiwi process on the build's host while a build writes into a target dir: a
 * second build into the same dir would remove the first one's half-written results as
 * leftovers of a killed build, and write the same log. (A build in a box does not take it:
 * the host process that runs the box does.)
 */
function lockFile(targetDir: string): string {
  return path.join(targetDir, 'build', '.kiwi-build.lock');
}

function busy(targetDir: string, holder: string): EnvironmentError {
  return new EnvironmentError(`another kiwi build (pid ${holder.split('-')[0]}) is writing into ${targetDir}`, {
    hint: 'wait for it to end, or give this build another --target-dir',
  });
}

/** Refuses, before anything starts, a target dir a live build holds (lockTargetDir decides). */
export function checkTargetDirFree(targetDir: string): void {
  const holder = liveLockHolder(lockFile(targetDir));
  if (holder) throw busy(targetDir, holder);
}

/** Creates the target dir if missing and takes it for this build; a lock left by a killed build is taken over. */
export async function lockTargetDir(targetDir: string): Promise<HeldLock> {
  createTargetDir(targetDir);
  let holder = '';
  const held = await tryAcquireLock(lockFile(targetDir), (current) => {
    holder = current;
  });
  if (!held) throw busy(targetDir, holder);
  return held;
}
