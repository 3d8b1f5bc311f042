import fs from 'node:fs';
import type { BuildLog } from '../build-log.js';
import { runLogged } from '../steps/run-logged.js';
import { ROOT_EXCLUDES, rootTarArgv, xzPipeArgv } from './root-tar.js';
import { tempNameFor } from './write-atomic.js';

/** The tbz result: the root tree as NAME.ARCH-VERSION.tar.xz, compressed on all cores. */
export async function writeRootArchive(rootDir: string, file: string, log: BuildLog, signal?: AbortSignal): Promise<void> {
  const temp = tempNameFor(file);
  try {
    await runLogged(xzPipeArgv(rootTarArgv(rootDir, ROOT_EXCLUDES), temp), { log, step: 'archive', ...(signal ? { signal } : {}) });
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
