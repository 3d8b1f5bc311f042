import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { tryAcquireLock } from '../box/lock.js';
import type { Arch } from '../common/arch.js';
import { readdirOrEmpty } from '../common/read-dir.js';
import { isAlive, processIdentity } from '../common/process-identity.js';
import { shellQuote } from '../common/shell-quote.js';

/**
 * The disk a build in a box keeps its cache on (bootstrap layers, downloaded packages) and
 * builds on: a sparse qcow2 that the box formats on first use and mounts at the runtime's
 * cache directory. One per box and arch persists across builds, under a lock; a build that
 * finds it taken (another build of the same box is running) gets a scratch disk of its own,
 * deleted when its VM stops, so no lock is held waiting on another build.
 *
 *   <cache>/.disks/<name>.<arch>.build-cache.qcow2   the persistent one
 *   <cache>/.disks/<name>.<arch>.build-cache.lock    held while a VM uses it
 *   <cache>/.disks/scratch/<owner>.<random>.qcow2    scratch disks, named by the kiwi process that uses them
 */
export interface BuildCacheDisk {
  file: string;
  persistent: boolean;
  release(): Promise<void>;
}

/** In the box: where the in-box runtime keeps its build cache (its default as root). */
export const BOX_BUILD_CACHE_DIR = '/var/cache/kiwi';

export async function acquireBuildCacheDisk(options: { cacheRoot: string; name: string; arch: Arch; sizeBytes: number }): Promise<BuildCacheDisk> {
  const disks = path.join(options.cacheRoot, '.disks');
  const base = path.join(disks, `${options.name}.${options.arch}.build-cache`);
  await fs.mkdir(path.join(disks, 'scratch'), { recursive: true });
  await removeStaleScratchDisks(path.join(disks, 'scratch'));
  const lock = await tryAcquireLock(`${base}.lock`);
  if (lock) {
    const file = `${base}.qcow2`;
    try {
      if (!(await exists(file))) await createQcow2(file, options.sizeBytes);
      else await growQcow2(file, options.sizeBytes);
    } catch (error) {
      await lock.release();
      throw error;
    }
    return { file, persistent: true, release: () => lock.release() };
  }
  const file = path.join(disks, 'scratch', `${processIdentity() ?? process.pid}.${randomBytes(4).toString('hex')}.qcow2`);
  await createQcow2(file, options.sizeBytes);
  return { file, persistent: false, release: () => fs.rm(file, { force: true }) };
}

/**
 * Shell for the box: format the disk if it is blank (first use, or a scratch disk), grow the
 * file system if the disk grew, and mount it at the runtime's cache directory.
 */
export function mountBuildCacheScript(device: string, mountpoint = BOX_BUILD_CACHE_DIR): string {
  const dev = shellQuote([device]);
  return [
    `blkid -o value -s TYPE ${dev} >/dev/null || mkfs.ext4 -q -L kiwi-cache -E lazy_itable_init=1,lazy_journal_init=1 ${dev}`,
    `mkdir -p ${shellQuote([mountpoint])}`,
    `mount -o noatime ${dev} ${shellQuote([mountpoint])}`,
    `resize2fs ${dev} >/dev/null 2>&1 || true`,
  ].join(' && ');
}

async function createQcow2(file: string, sizeBytes: number): Promise<void> {
  const temp = `${file}.tmp`;
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', temp, String(sizeBytes)], { stdin: 'ignore' });
  await fs.rename(temp, file);
}

/** A larger --box-disk-size grows the persistent disk; it never shrinks. */
async function growQcow2(file: string, sizeBytes: number): Promise<void> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', file], { stdin: 'ignore' });
  const virtualSize = (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
  if (virtualSize < sizeBytes) await execa('qemu-img', ['resize', '-q', file, String(sizeBytes)], { stdin: 'ignore' });
}

/** Scratch disks of kiwi processes that are gone (killed before they removed them). */
async function removeStaleScratchDisks(dir: string): Promise<void> {
  for (const name of await readdirOrEmpty(dir)) {
    if (!isAlive(name.split('.')[0] ?? '')) await fs.rm(path.join(dir, name), { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}
