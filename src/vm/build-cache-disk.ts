import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { acquireLock } from '../common/lock.js';
import { buildCacheDiskDir } from '../box/paths.js';
import { exists } from '../box/store.js';
import type { Arch } from '../common/arch.js';
import { isAlive, processIdentity } from '../common/process-identity.js';
import { readdirOrEmpty } from '../common/read-dir.js';
import { shellQuote } from '../common/shell-quote.js';

/**
 * The disk a build in a box keeps its cache on (bootstrap layers, downloaded packages) and
 * builds on: a sparse qcow2 per box and arch that the box formats on first use and mounts
 * at the runtime's cache directory. Every VM gets its own overlay over it, so any number of
 * builds run at once on the same cache and no lock is held during a build. When a VM is
 * done, its overlay is committed into the base if nothing else happened to the base
 * meanwhile (same generation) and no other VM is reading it; otherwise it is dropped and
 * the cache simply does not learn from that build.
 *
 *   <cache>/.disks/<name>.<arch>/base.qcow2            the cache as the last saved build left it
 *   <cache>/.disks/<name>.<arch>/generation            bumped by every commit into the base
 *   <cache>/.disks/<name>.<arch>/lock                  held for moments: create, grow, commit
 *   <cache>/.disks/<name>.<arch>/users/<owner>.<id>    one mark per VM reading the base
 *   <cache>/.disks/<name>.<arch>/overlays/<owner>.<id>.qcow2   that VM's writes
 *
 * <owner> is the processIdentity() of the kiwi process: marks and overlays of dead
 * processes are removed by the next build.
 */
export interface BuildCacheDisk {
  /** The qcow2 the VM writes to (an overlay over the base). */
  file: string;
  /**
   * Ends this VM's use. `save`: commit its writes into the base when that is safe; says
   * whether they were saved.
   */
  release(save: boolean): Promise<boolean>;
}

/** In the box: where the in-box runtime keeps its build cache (its default as root). */
export const BOX_BUILD_CACHE_DIR = '/var/cache/kiwi';

export async function acquireBuildCacheDisk(options: { cacheRoot: string; name: string; arch: Arch; sizeBytes: number; signal?: AbortSignal }): Promise<BuildCacheDisk> {
  const dir = buildCacheDiskDir(options.cacheRoot, options.name, options.arch);
  const paths = {
    base: path.join(dir, 'base.qcow2'),
    generation: path.join(dir, 'generation'),
    lock: path.join(dir, 'lock'),
    users: path.join(dir, 'users'),
    overlays: path.join(dir, 'overlays'),
  };
  const id = `${processIdentity() ?? process.pid}.${randomBytes(4).toString('hex')}`;
  const mark = path.join(paths.users, id);
  const overlay = path.join(paths.overlays, `${id}.qcow2`);
  await fs.mkdir(paths.users, { recursive: true });
  await fs.mkdir(paths.overlays, { recursive: true });

  let generation: number;
  const lock = await acquireLock(paths.lock, options.signal ? { signal: options.signal } : {});
  try {
    await removeDeadUsers(paths.users, paths.overlays);
    const otherUsers = (await readdirOrEmpty(paths.users)).length > 0;
    if (!(await exists(paths.base))) await createQcow2(paths.base, options.sizeBytes);
    // Resizing a backing file under a running VM would change what it reads: only when idle.
    else if (!otherUsers) await growQcow2(paths.base, options.sizeBytes);
    generation = await readGeneration(paths.generation);
    await fs.writeFile(mark, '');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', paths.base, overlay], { stdin: 'ignore' });
  } catch (error) {
    await fs.rm(mark, { force: true });
    await fs.rm(overlay, { force: true });
    throw error;
  } finally {
    await lock.release();
  }

  let released: Promise<boolean> | undefined;
  const release = async (save: boolean): Promise<boolean> => {
    let saved = false;
    if (save) {
      const held = await acquireLock(paths.lock);
      try {
        await fs.rm(mark, { force: true });
        await removeDeadUsers(paths.users, paths.overlays);
        const othersReading = (await readdirOrEmpty(paths.users)).length > 0;
        if (!othersReading && (await readGeneration(paths.generation)) === generation) {
          await execa('qemu-img', ['commit', '-q', '-d', overlay], { stdin: 'ignore' });
          await fs.writeFile(paths.generation, `${generation + 1}\n`);
          saved = true;
        }
      } finally {
        await held.release();
      }
    }
    await fs.rm(mark, { force: true });
    await fs.rm(overlay, { force: true });
    return saved;
  };
  return { file: overlay, release: (save) => (released ??= release(save)) };
}

/**
 * Shell for the box: format the disk if it is blank (first use), grow the file system if
 * the disk grew, and mount it at the runtime's cache directory.
 */
export function mountBuildCacheScript(device: string, mountpoint = BOX_BUILD_CACHE_DIR): string {
  const dev = shellQuote([device]);
  return [
    `{ blkid -o value -s TYPE ${dev} >/dev/null || mkfs.ext4 -q -L kiwi-cache -E lazy_itable_init=1,lazy_journal_init=1 ${dev}; }`,
    `mkdir -p ${shellQuote([mountpoint])}`,
    `mount -o noatime ${dev} ${shellQuote([mountpoint])}`,
    `{ resize2fs ${dev} >/dev/null 2>&1 || true; }`,
  ].join(' && ');
}

/**
 * Shell for the box before it powers off: freed blocks given back (the finished build's
 * tree), then the file system cleanly unmounted, so a commit of the disk is consistent.
 */
export function unmountBuildCacheScript(mountpoint = BOX_BUILD_CACHE_DIR): string {
  const dir = shellQuote([mountpoint]);
  return `{ fstrim ${dir} || true; } && umount ${dir}`;
}

async function createQcow2(file: string, sizeBytes: number): Promise<void> {
  const temp = `${file}.tmp`;
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', temp, String(sizeBytes)], { stdin: 'ignore' });
  await fs.rename(temp, file);
}

/** A larger --box-disk-size grows the base; it never shrinks. */
async function growQcow2(file: string, sizeBytes: number): Promise<void> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', file], { stdin: 'ignore' });
  const virtualSize = (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
  if (virtualSize < sizeBytes) await execa('qemu-img', ['resize', '-q', file, String(sizeBytes)], { stdin: 'ignore' });
}

async function readGeneration(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8').catch(() => '0');
  return Number.parseInt(text, 10) || 0;
}

/** Marks and overlays of kiwi processes that are gone (killed before they cleaned up). */
async function removeDeadUsers(users: string, overlays: string): Promise<void> {
  for (const name of await readdirOrEmpty(users)) {
    if (!isAlive(name.split('.')[0] ?? '')) await fs.rm(path.join(users, name), { force: true });
  }
  for (const name of await readdirOrEmpty(overlays)) {
    if (!isAlive(name.split('.')[0] ?? '')) await fs.rm(path.join(overlays, name), { force: true });
  }
}
