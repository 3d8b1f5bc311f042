import path from 'node:path';
import { execa } from 'execa';
import { shellQuote } from '../../common/shell-quote.js';
import { formatBytes } from '../../common/units.js';
import type { BuildLog } from '../build-log.js';

/**
 * The downloaded packages every build shares (<cache>/apt/archives) would otherwise grow
 * with each repository update for good. A build marks the .deb files it installed from as
 * used (their mtime), and after a build, files no build used for UNUSED_DOWNLOAD_DAYS go.
 * A build's containers hold LOCK shared from start to end (flock, as apt's downloads and
 * installs run in them), so the pruning, which needs it exclusively and does not wait,
 * never removes a file between a build's download and its install; it simply happens
 * after a later build when builds keep overlapping.
 */
export const UNUSED_DOWNLOAD_DAYS = 30;

const LOCK = '.kiwi-in-use';
/** flock's exit code when the lock is taken (-E): the pruning is skipped. */
const LOCK_TAKEN = 75;

/** Shell for a build container's script: the shared lock on the downloads in `dir`, held by fd 9 until the container ends. */
export function holdDownloadsShared(dir: string): string[] {
  return [`exec 9<>${shellQuote([path.posix.join(dir, LOCK)])}`, 'flock -s 9'];
}

/**
 * Shell for the container after an install: every installed package's .deb in the
 * download cache `dir` (apt names it NAME_VERSION_ARCH.deb, the epoch's colon as %3a) is
 * marked as used now.
 */
export function markUsedDownloads(dir: string): string {
  return `dpkg-query -W -f '\${Package}_\${Version}_\${Architecture}.deb\\n' | sed 's/:/%3a/g' | (cd ${shellQuote([dir])} && xargs -r touch -c --)`;
}

/**
 * Removes the .deb files in `archivesDir` that no build used for UNUSED_DOWNLOAD_DAYS, if no
 * build is running in it; logs what it freed. Never fails the build: a cache that could not
 * be pruned is pruned after the next one.
 */
export async function pruneUnusedDownloads(archivesDir: string, log: BuildLog): Promise<void> {
  const minutes = UNUSED_DOWNLOAD_DAYS * 24 * 60;
  const find = ['find', archivesDir, '-maxdepth', '1', '-type', 'f', '-name', '*.deb', '-mmin', `+${minutes}`, '-printf', '%s\\n', '-delete'];
  const done = await execa('flock', ['-n', '-x', '-E', String(LOCK_TAKEN), path.join(archivesDir, LOCK), ...find], { reject: false, stdin: 'ignore' });
  const note = (message: string) => log.emit({ type: 'log', level: 'debug', message, step: 'clean' });
  if (done.exitCode === LOCK_TAKEN) return note('downloaded packages not pruned: another build is using them');
  if (done.exitCode !== 0) return note(`pruning downloaded packages failed: ${String(done.stderr).trim() || `exit ${done.exitCode}`}`);
  const sizes = String(done.stdout).split('\n').filter(Boolean).map(Number);
  if (sizes.length === 0) return;
  const freed = sizes.reduce((sum, size) => sum + size, 0);
  log.emit({ type: 'log', level: 'info', message: `removed ${sizes.length} downloaded packages no build used for ${UNUSED_DOWNLOAD_DAYS} days (${formatBytes(freed)})`, step: 'clean' });
}
