import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError, UsageError } from '../../common/errors.js';

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
