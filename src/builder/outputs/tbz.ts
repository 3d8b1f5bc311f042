import fs from 'node:fs';
import type { BuildLog } from '../build-log.js';
import { runLogged } from '../steps/run-logged.js';
import { archiveArgv, ROOT_EXCLUDES, rootTarArgv, type ArchiveCompression } from './root-tar.js';
import { tempNameFor } from './write-atomic.js';

/** The tbz result: the root tree as NAME.ARCH-VERSION.tar.xz, compressed on all cores (or .tar, compression deferred). */
export async function writeRootArchive(rootDir: string, file: string, compression: ArchiveCompression, log: BuildLog, signal?: AbortSignal): Promise<void> {
  const temp = tempNameFor(file);
  try {
    await runLogged(archiveArgv(rootTarArgv(rootDir, ROOT_EXCLUDES), temp, compression), { log, step: 'archive', ...(signal ? { signal } : {}) });
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
